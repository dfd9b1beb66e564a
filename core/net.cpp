#include "core/net.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstring>

#include "core/strings.hpp"

namespace rm {

namespace {

bool parse_ip(std::string_view text, bool& v6, std::array<std::uint8_t, 16>& out) {
    const std::string s(text);
    out.fill(0);
    if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) {
        v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) {
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(out.data(), mapped, 12) == 0) {
            std::memmove(out.data(), out.data() + 12, 4);
            std::memset(out.data() + 4, 0, 12);
            v6 = false;
        } else {
            v6 = true;
        }
        return true;
    }
    return false;
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
    text = trim(text);
    Cidr c;
    c.text = std::string(text);
    const auto slash = text.find('/');
    const std::string_view ip = text.substr(0, slash);
    if (ip.find(':') == std::string_view::npos && ip.find('.') == std::string_view::npos) return std::nullopt;
    if (!parse_ip(ip, c.v6, c.addr)) return std::nullopt;
    // "::ffff:10.0.0.0/104" is written for IPv6 but compared as IPv4 after mapping.
    const bool mapped = !c.v6 && ip.find(':') != std::string_view::npos;
    const int max = c.v6 ? 128 : 32;
    if (slash == std::string_view::npos) {
        c.prefix = max;
    } else {
        const std::string_view p = text.substr(slash + 1);
        int n = -1;
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
        if (p.empty() || ec != std::errc{} || end != p.data() + p.size()) return std::nullopt;
        if (mapped) n -= 96;
        if (n < 0 || n > max) return std::nullopt;
        c.prefix = n;
    }
    // Host bits set ("10.0.0.1/8") is almost always a typo for a different block.
    for (int bit = c.prefix; bit < max; ++bit) {
        if (c.addr[static_cast<size_t>(bit / 8)] & (0x80 >> (bit % 8))) return std::nullopt;
    }
    return c;
}

bool cidr_contains(const Cidr& block, std::string_view ip) {
    std::string_view s = trim(ip);
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    if (s.substr(0, 5) == "IPv6:" || s.substr(0, 5) == "ipv6:") s = s.substr(5);
    bool v6 = false;
    std::array<std::uint8_t, 16> a{};
    if (!parse_ip(s, v6, a) || v6 != block.v6) return false;
    for (int bit = 0; bit < block.prefix; ++bit) {
        const auto byte = static_cast<size_t>(bit / 8);
        const int mask = 0x80 >> (bit % 8);
        if ((a[byte] & mask) != (block.addr[byte] & mask)) return false;
    }
    return true;
}

std::optional<SocketSpec> parse_socket_spec(std::string_view text, std::string* why) {
    auto fail = [&](const char* msg) -> std::optional<SocketSpec> {
        if (why) *why = msg;
        return std::nullopt;
    };
    SocketSpec s;
    s.text = std::string(trim(text));
    const std::string_view t = s.text;
    const auto colon = t.find(':');
    if (colon == std::string_view::npos)
        return fail("expected inet:PORT@HOST, inet6:PORT@HOST, unix:/path or local:/path");
    const std::string proto = to_lower(t.substr(0, colon));
    const std::string_view rest = t.substr(colon + 1);
    if (proto == "unix" || proto == "local") {
        s.kind = SocketSpec::Kind::Unix;
        s.path = std::string(rest);
        if (s.path.empty() || s.path.front() != '/') return fail("a unix socket needs an absolute path");
        if (s.path.size() > 100) return fail("a unix socket path must be shorter than 100 bytes");
        return s;
    }
    if (proto != "inet" && proto != "inet6")
        return fail("the protocol must be inet, inet6, unix or local");
    s.kind = proto == "inet" ? SocketSpec::Kind::Inet : SocketSpec::Kind::Inet6;
    const auto at = rest.find('@');
    const std::string_view port = rest.substr(0, at);
    int n = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || n < 1 || n > 65535)
        return fail("the port must be a number from 1 to 65535 (libmilter writes inet:PORT@HOST)");
    s.port = n;
    if (at != std::string_view::npos) {
        s.host = std::string(rest.substr(at + 1));
        if (s.host.empty()) return fail("nothing after '@': name the address to listen on");
        if (s.host.size() >= 2 && s.host.front() == '[' && s.host.back() == ']')
            s.host = s.host.substr(1, s.host.size() - 2);
        bool v6 = false;
        std::array<std::uint8_t, 16> a{};
        const bool is_ip = parse_ip(s.host, v6, a);
        if (is_ip && v6 != (s.kind == SocketSpec::Kind::Inet6))
            return fail(s.kind == SocketSpec::Kind::Inet ? "an IPv6 address needs inet6:"
                                                         : "an IPv4 address needs inet:");
        if (!is_ip) {
            for (char c : s.host) {
                if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-')
                    return fail("the host must be an IP address or a host name");
            }
        }
    }
    return s;
}

}  // namespace rm
