#include "milter/callbacks.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

#include "core/message_edits.hpp"
#include "milter/runtime.hpp"

namespace rm {

namespace {

// A message's facts, from MAIL FROM to end-of-message.
struct Message {
    std::string sender;
    std::string auth_authen;
    std::vector<std::string> recipients;
    HeaderTracker headers;
    bool failed = false;  // an error in a step that cannot answer (no-reply steps)
};

// Recipients beyond this are counted but not kept: the MTA's own limit is far lower.
constexpr size_t kMaxRecipients = 100000;

// A connection's state. It outlives its messages: an SMTP session may carry many.
struct Connection {
    std::shared_ptr<const Config> config;
    unsigned long steps = 0;  // protocol steps negotiated with the MTA
    std::string client_addr;
    std::string daemon_name;
    std::string host;  // the MTA's name (macro j), for Message-IDs we add
    std::optional<Message> msg;

    void end_message() {
        if (msg) {
            msg.reset();
            --runtime().in_flight;
        }
    }
    void begin_message() {
        end_message();
        msg.emplace();
        ++runtime().in_flight;
    }
};

Connection* conn_of(SMFICTX* ctx) { return static_cast<Connection*>(smfi_getpriv(ctx)); }

std::string macro(SMFICTX* ctx, const char* name) {
    const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
    return v ? std::string(v) : std::string();
}

// The connection, made on first use: libmilter may skip negotiate or connect (a
// libmilter built without IPv6 skips connect for IPv6 clients), so never assume them.
Connection& ensure_conn(SMFICTX* ctx) {
    if (Connection* c = conn_of(ctx)) return *c;
    auto* c = new Connection;
    c->config = runtime().config();
    if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
        delete c;
        throw std::runtime_error("smfi_setpriv failed");
    }
    return *c;
}

// Whatever went wrong, the sender's MTA keeps the message and retries.
sfsistat fail_action() { return SMFIS_TEMPFAIL; }

// Steps negotiated as "no reply" must answer SMFIS_NOREPLY; a failure there is
// remembered and answered at end-of-message instead.
sfsistat continue_or_noreply(const Connection& c, unsigned long nr_flag) {
    return (c.steps & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

// No C++ exception may cross into libmilter's C code.
template <typename F>
sfsistat guarded(SMFICTX* ctx, const char* step, unsigned long nr_flag, F&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        spdlog::error("internal error in {}: {}", step, e.what());
    } catch (...) {
        spdlog::error("internal error in {}", step);
    }
    try {
        Connection* c = conn_of(ctx);
        if (c && nr_flag && (c->steps & nr_flag)) {
            if (c->msg) c->msg->failed = true;
            return SMFIS_NOREPLY;
        }
        return fail_action();
    } catch (...) {
        return SMFIS_TEMPFAIL;
    }
}

std::string address_text(const sockaddr* sa) {
    if (!sa) return {};
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, sa, sizeof in);
        inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    } else if (sa->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, sa, sizeof in6);
        inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    }
    return buf;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    return guarded(ctx, "negotiate", 0, [&] {
        Connection& c = ensure_conn(ctx);
        // Recipients are added only for review copies, so that action is asked for only
        // when some line has a review mailbox.
        const bool review = samples_reviews(*c.config);
        const unsigned long needed = SMFIF_ADDHDRS | SMFIF_CHGHDRS | (review ? SMFIF_ADDRCPT : 0ul);
        if ((f0 & needed) != needed) {
            spdlog::error("the MTA does not allow adding and changing headers{}; check milter_protocol",
                          review ? " and recipients" : "");
            return SMFIS_REJECT;
        }
        *pf0 = needed | (f0 & SMFIF_SETSYMLIST);
        // Steps we never need, and steps we need but never answer: fewer round trips.
        // On TCP the DATA step is answered although it carries nothing we use: Postfix
        // buffers the unanswered envelope steps and sends them in one write when it hands
        // the connection to cleanup, and cleanup's next write then waits (Nagle, on the
        // MTA's side) for our delayed ACK of that burst, up to 40 ms a message. Our reply
        // to DATA carries the ACK at once. A unix socket has no Nagle: DATA is skipped.
        const bool tcp = c.config->milter.socket.kind != SocketSpec::Kind::Unix;
        const unsigned long wanted = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN | (tcp ? 0ul : SMFIP_NODATA) |
                                     SMFIP_NOEOH | SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR;
        c.steps = f1 & wanted;
        *pf1 = c.steps;
        *pf2 = 0;
        *pf3 = 0;
        if (f0 & SMFIF_SETSYMLIST) {
            // Only the macros we use; Postfix and Sendmail then send nothing else.
            smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("j {daemon_name}"));
            // `i` at MAIL too: Sendmail (8.14 to 8.17 at least) chooses a filter's own EOM
            // list by its EOH flag, so it ignores this EOM list and sends its global one
            // (default `{msg_id}` only). Sendmail knows the queue id from MAIL on; at
            // end-of-message libmilter finds the EOM value first where there is one
            // (Postfix, which assigns the id late).
            smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("i {auth_authen}"));
            smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i {auth_authen} {daemon_name}"));
        }
        return SMFIS_CONTINUE;
    });
}

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR* hostaddr) {
    return guarded(ctx, "connect", SMFIP_NR_CONN, [&] {
        Connection& c = ensure_conn(ctx);
        c.client_addr = address_text(hostaddr);
        c.daemon_name = macro(ctx, "{daemon_name}");
        c.host = macro(ctx, "j");
        return continue_or_noreply(c, SMFIP_NR_CONN);
    });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    return guarded(ctx, "envfrom", SMFIP_NR_MAIL, [&] {
        Connection& c = ensure_conn(ctx);
        c.begin_message();
        c.msg->sender = argv && argv[0] ? argv[0] : "";
        c.msg->auth_authen = macro(ctx, "{auth_authen}");
        return continue_or_noreply(c, SMFIP_NR_MAIL);
    });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    return guarded(ctx, "envrcpt", SMFIP_NR_RCPT, [&] {
        Connection& c = ensure_conn(ctx);
        if (!c.msg) c.begin_message();
        if (argv && argv[0] && c.msg->recipients.size() < kMaxRecipients) c.msg->recipients.emplace_back(argv[0]);
        return continue_or_noreply(c, SMFIP_NR_RCPT);
    });
}

// Asked for on TCP only (see on_negotiate): an answer, to carry the ACK.
sfsistat on_data(SMFICTX* ctx) {
    return guarded(ctx, "data", 0, [&] { return SMFIS_CONTINUE; });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    return guarded(ctx, "header", SMFIP_NR_HDR, [&] {
        Connection& c = ensure_conn(ctx);
        if (!c.msg) c.begin_message();
        c.msg->headers.add(name ? name : "", value ? value : "");
        return continue_or_noreply(c, SMFIP_NR_HDR);
    });
}

bool apply_edits(SMFICTX* ctx, const MessagePlan& plan) {
    // A blind copy: the recipient is added to the envelope only, nothing in the message
    // tells the outside recipient that this reply was sampled.
    for (const std::string& rcpt : plan.review_recipients) {
        if (smfi_addrcpt(ctx, const_cast<char*>(rcpt.c_str())) != MI_SUCCESS) return false;
    }
    for (const HeaderEdit& e : plan.edits) {
        auto* name = const_cast<char*>(e.name.c_str());
        const int rc = e.kind == HeaderEdit::Kind::Delete
                           ? smfi_chgheader(ctx, name, e.index, nullptr)
                           : smfi_addheader(ctx, name, const_cast<char*>(e.value.c_str()));
        if (rc != MI_SUCCESS) return false;
    }
    return true;
}

MessageRow row_for(const MessagePlan& plan, const std::string& queue_id) {
    MessageRow row;
    row.digest = runtime().key().digest(plan.message_id);
    if (!plan.record_token.empty()) row.record = runtime().key().record_digest(plan.record_token);
    row.queue_id = queue_id;
    row.lines = plan.decision.line_tags();
    row.direction = to_string(plan.decision.direction);
    row.policy = plan.decision.policy;
    row.passed_on = plan.decision.passed_on;
    row.retain_until = plan.decision.retain_until;
    return row;
}

void log_decision(const std::string& qid, const MessagePlan& plan) {
    const Decision& d = plan.decision;
    if (d.spoof_attempt) {
        spdlog::warn("{}: spoof attempt: an untrusted client used a helpline sender; recorded as inbound", qid);
    }
    spdlog::info("{}: line={} direction={} policy={} retain_until={} stamped={}{}", qid, d.line_tags(),
                 to_string(d.direction), d.policy, format_date(d.retain_until), d.stamp ? "yes" : "no",
                 plan.added_message_id ? " message-id=added" : "");
}

// A permanent refusal: the same message would be refused at every retry.
sfsistat refuse_forged(SMFICTX* ctx, Connection& c, const std::string& qid) {
    spdlog::warn("{}: refused: {} copies of the retention headers (more than {}); forged", qid,
                 c.msg->headers.ours_total(), kMaxForgedCopies);
    static const std::string text = [] {
        std::string names;
        for (const std::string_view n : kOurHeaders) names += (names.empty() ? "" : ", ") + std::string(n);
        names += ", " + std::string(kHdrRecord);
        return "Message refused: it carries more than " + std::to_string(kMaxForgedCopies) +
               " copies of headers this server sets itself (" + names + "); remove them and send it again";
    }();
    smfi_setreply(ctx, const_cast<char*>("550"), const_cast<char*>("5.7.1"), const_cast<char*>(text.c_str()));
    c.end_message();
    return SMFIS_REJECT;
}

sfsistat refuse_message_ids(SMFICTX* ctx, Connection& c, const std::string& qid) {
    spdlog::warn("{}: refused: {} Message-ID headers (more than {})", qid, c.msg->headers.message_id_count(),
                 kMaxForgedCopies);
    static const std::string text = "Message refused: it carries more than " + std::to_string(kMaxForgedCopies) +
                                    " Message-ID headers (a message has one); send it again with one";
    smfi_setreply(ctx, const_cast<char*>("550"), const_cast<char*>("5.7.1"), const_cast<char*>(text.c_str()));
    c.end_message();
    return SMFIS_REJECT;
}

sfsistat on_eom(SMFICTX* ctx) {
    return guarded(ctx, "eom", 0, [&] {
        Connection& c = ensure_conn(ctx);
        if (!c.msg) c.begin_message();
        // Postfix assigns the queue id late, so it is read here and not at MAIL FROM.
        std::string qid = macro(ctx, "i");
        if (qid.empty()) qid = "NOQUEUE";
        if (c.msg->failed) {
            spdlog::error("{}: an earlier step failed; asking the sender to retry", qid);
            c.end_message();
            return fail_action();
        }
        MessageFacts facts;
        facts.envelope_sender = c.msg->sender;
        facts.recipients = c.msg->recipients;
        const std::string auth = macro(ctx, "{auth_authen}");
        const std::string daemon = macro(ctx, "{daemon_name}");
        facts.trusted = is_trusted_client(c.config->milter, auth.empty() ? c.msg->auth_authen : auth,
                                          c.client_addr, daemon.empty() ? c.daemon_name : daemon);
        facts.passed_at = std::chrono::system_clock::now();
        const MessagePlan plan = plan_message(*c.config, facts, c.msg->headers, c.host);
        if (plan.refuse_forged) return refuse_forged(ctx, c, qid);
        if (plan.refuse_message_ids) return refuse_message_ids(ctx, c, qid);

        if (plan.decision.helpline()) {
            // The row is durable before the message is accepted, or the message waits.
            if (!runtime().record(row_for(plan, qid), c.config->milter.on_index_error, qid)) {
                smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                              const_cast<char*>("Temporary local problem, please try again later"));
                c.end_message();
                return SMFIS_TEMPFAIL;
            }
            log_decision(qid, plan);
        }
        if (!apply_edits(ctx, plan)) {
            spdlog::error("{}: the MTA refused a header change; asking the sender to retry", qid);
            c.end_message();
            return fail_action();
        }
        c.end_message();
        return SMFIS_CONTINUE;
    });
}

sfsistat on_abort(SMFICTX* ctx) {
    return guarded(ctx, "abort", 0, [&] {
        if (Connection* c = conn_of(ctx)) c->end_message();
        return SMFIS_CONTINUE;
    });
}

sfsistat on_close(SMFICTX* ctx) {
    return guarded(ctx, "close", 0, [&] {
        // priv may be NULL here: close runs even when the connection never got going.
        if (Connection* c = conn_of(ctx)) {
            c->end_message();
            smfi_setpriv(ctx, nullptr);
            delete c;
        }
        return SMFIS_CONTINUE;
    });
}

}  // namespace

smfiDesc milter_description() {
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("retention-milter");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_SETSYMLIST;
    d.xxfi_connect = on_connect;
    d.xxfi_envfrom = on_envfrom;
    d.xxfi_envrcpt = on_envrcpt;
    d.xxfi_data = on_data;
    d.xxfi_header = on_header;
    d.xxfi_eom = on_eom;
    d.xxfi_abort = on_abort;
    d.xxfi_close = on_close;
    d.xxfi_negotiate = on_negotiate;
    return d;
}

}  // namespace rm
