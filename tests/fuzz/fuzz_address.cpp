// Address matching: envelope and header addresses, domain entries, client addresses
// against internal_hosts, and the classification of a message built from them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "core/config.hpp"
#include "core/net.hpp"
#include "core/policy.hpp"
#include "fuzz_common.hpp"

namespace {

// The input as up to four fields separated by NUL or newline.
std::vector<std::string_view> fields(std::string_view in) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (out.size() < 4) {
        const size_t end = in.find_first_of(std::string_view("\0\n", 2), pos);
        out.push_back(in.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    while (out.size() < 4) out.emplace_back();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const rm::Config config = rm::parse_config(kFuzzConfig, "fuzz.toml");
    const auto f = fields(as_view(data, size));

    for (const auto& s : f) {
        if (const auto a = rm::parse_address(s)) {
            FUZZ_CHECK(!a->domain.empty());
            FUZZ_CHECK(!a->local.empty());
            FUZZ_CHECK(a->local.find('"') == std::string::npos || s.find('"') != std::string_view::npos);
            // Matching is on the normalised form: where it reads back as an address
            // (a local part that needs quoting does not), it matches the same lines.
            if (rm::parse_address(a->text()))
                FUZZ_CHECK(rm::lines_of_address(config, s) == rm::lines_of_address(config, a->text()));
        }
        if (const auto d = rm::normalise_domain_entry(s)) {
            FUZZ_CHECK(!d->empty());
            FUZZ_CHECK(*d == rm::normalise_domain_entry(*d));
            const std::string bare = d->front() == '.' ? d->substr(1) : *d;
            if (!bare.empty()) FUZZ_CHECK(rm::domain_matches(*d, bare));
        }
        (void)rm::domain_matches(f[0], s);
        if (const auto cidr = rm::parse_cidr(s)) {
            FUZZ_CHECK(cidr->prefix >= 0 && cidr->prefix <= (cidr->v6 ? 128 : 32));
        }
        for (const auto& block : config.milter.internal_hosts) (void)rm::cidr_contains(block, s);
        std::string why;
        if (const auto spec = rm::parse_socket_spec(s, &why)) {
            if (spec->kind == rm::SocketSpec::Kind::Unix) FUZZ_CHECK(!spec->path.empty());
            else FUZZ_CHECK(spec->port > 0 && spec->port < 65536);
        }
    }

    rm::MessageFacts facts;
    facts.envelope_sender = std::string(f[0]);
    facts.recipients = {std::string(f[1]), std::string(f[2])};
    facts.header_from = std::string(f[3]);
    facts.trusted = rm::is_trusted_client(config.milter, "", std::string(f[3]), "smtpd");
    facts.passed_at = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000);
    const rm::Decision d = rm::decide(config, facts);
    if (d.helpline()) {
        FUZZ_CHECK(!d.policy.empty());
        FUZZ_CHECK(d.retain_until > d.passed_on);
        if (d.direction != rm::Direction::Outbound) FUZZ_CHECK(d.stamp);
    }
    // Mail from an outsider is never outbound or internal.
    if (!facts.trusted) FUZZ_CHECK(d.direction == rm::Direction::Inbound || !d.helpline());
    return 0;
}
