// null-milter: a libmilter milter that asks the MTA for the same steps, actions and
// macros as retention-milter and then does nothing (or, with --stamp, only adds four
// headers at end-of-message). scripts/bench.sh runs Postfix with it beside the real
// milter, to tell the cost of the milter protocol and of Postfix's header edits from the
// cost of retention-milter's own work (policy, digest, the durable index commit).
#include <libmilter/mfapi.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

bool g_stamp = false;

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    *pf0 = (SMFIF_ADDHDRS | SMFIF_CHGHDRS) | (f0 & SMFIF_SETSYMLIST);
    *pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH | SMFIP_NR_CONN |
                 SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR);
    *pf2 = 0;
    *pf3 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("j {daemon_name}"));
        smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("i {auth_authen}"));
        smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i {auth_authen} {daemon_name}"));
    }
    return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX*, char*, _SOCK_ADDR*) { return SMFIS_NOREPLY; }
sfsistat on_envfrom(SMFICTX*, char**) { return SMFIS_NOREPLY; }
sfsistat on_envrcpt(SMFICTX*, char**) { return SMFIS_NOREPLY; }
sfsistat on_header(SMFICTX*, char*, char*) { return SMFIS_NOREPLY; }

sfsistat on_eom(SMFICTX* ctx) {
    if (g_stamp) {
        smfi_insheader(ctx, 0, const_cast<char*>("X-Helpline-Line"), const_cast<char*>("mens-advice-line"));
        smfi_insheader(ctx, 1, const_cast<char*>("X-Helpline-Direction"), const_cast<char*>("inbound"));
        smfi_insheader(ctx, 2, const_cast<char*>("X-Retain-Until"), const_cast<char*>("2027-05-29"));
        smfi_insheader(ctx, 3, const_cast<char*>("X-Retention-Policy"), const_cast<char*>("email"));
    }
    return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && std::strcmp(argv[2], "--stamp") != 0)) {
        std::fprintf(stderr, "usage: null-milter unix:/path|inet:port@host [--stamp]\n");
        return 2;
    }
    g_stamp = argc == 3;
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("null-milter");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST;
    d.xxfi_connect = on_connect;
    d.xxfi_envfrom = on_envfrom;
    d.xxfi_envrcpt = on_envrcpt;
    d.xxfi_header = on_header;
    d.xxfi_eom = on_eom;
    d.xxfi_negotiate = on_negotiate;
    const std::string conn = argv[1];
    if (conn.rfind("unix:", 0) == 0) std::remove(conn.c_str() + 5);
    if (smfi_setconn(const_cast<char*>(conn.c_str())) != MI_SUCCESS || smfi_register(d) != MI_SUCCESS) {
        std::fprintf(stderr, "null-milter: cannot set up %s\n", conn.c_str());
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
