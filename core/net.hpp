// Network specs from the config: CIDR blocks for internal_hosts and milter socket specs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rm {

struct Cidr {
    bool v6 = false;
    std::array<std::uint8_t, 16> addr{};
    int prefix = 0;
    std::string text;
};

// "127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"; a bare address means a single host.
std::optional<Cidr> parse_cidr(std::string_view text);

// Whether the textual IP address `ip` (as an MTA reports it) lies inside `block`.
// IPv4-mapped IPv6 addresses (::ffff:1.2.3.4) are compared as IPv4.
bool cidr_contains(const Cidr& block, std::string_view ip);

struct SocketSpec {
    enum class Kind { Inet, Inet6, Unix };
    Kind kind = Kind::Inet;
    int port = 0;
    std::string host;  // inet/inet6; empty means every address
    std::string path;  // unix/local
    std::string text;  // as written, for libmilter's smfi_setconn
};

// libmilter's syntax: "inet:PORT@HOST", "inet:PORT", "inet6:PORT@HOST", "unix:/path",
// "local:/path". Gives nothing for anything else; `why` says what is wrong.
std::optional<SocketSpec> parse_socket_spec(std::string_view text, std::string* why = nullptr);

}  // namespace rm
