// Shared bits of the libFuzzer harnesses (tests/fuzz/README.md says how to run them).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

// A property the code under test must keep, whatever the input: abort (a crash that
// libFuzzer records, with the input that caused it) when it does not hold.
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

inline std::string_view as_view(const unsigned char* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// A configuration with both test helplines, for the harnesses that need one.
inline constexpr std::string_view kFuzzConfig = R"(
[milter]
socket = "inet:8891@127.0.0.1"
internal_hosts = ["127.0.0.1/32", "::1/128", "10.0.0.0/8", "fd00::/8"]
originating_daemons = ["ORIGINATING"]
[index]
path = "/nonexistent/index.sqlite3"
key_file = "/nonexistent/index.key"
[policy.email]
retain = "6 months"
[policy.short]
retain = "180 days"
[[line]]
tag = "respect-phoneline"
name = "Respect Phoneline"
addresses = ["info@respectphoneline.org.uk"]
domains = ["respectphoneline.org.uk"]
policy = "email"
review_mailbox = "quality-review@respectphoneline.org.uk"
review_sample = 0.5
[[line]]
tag = "mens-advice-line"
name = "Men's Advice Line"
addresses = ["info@mensadviceline.org.uk", "Help+Line@Example.ORG"]
domains = [".mensadviceline.org.uk"]
policy = "short"
)";
