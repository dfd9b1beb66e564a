// Placing and lifting holds: the checks that keep free text (and so names) out of the
// index, and the clear refusals an admin needs when a hold cannot be placed or lifted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "db/index.hpp"

namespace rm::ctl {

// REASON must be one of [holds] reasons; throws CtlError (exit 2) naming the allowed ones.
void validate_reason(const Config& config, std::string_view reason);

// REF must match ^[A-Za-z0-9-]{1,32}$: a case reference, never a name. Empty means
// "no reference" and is allowed. Throws CtlError (exit 2).
void validate_ref(std::string_view ref);

// The person to record: the Unix user running the program, or, when root runs it
// through sudo, the user who ran sudo (SUDO_USER), as long as that names a real
// account. `sudo_user` may be null.
std::string invoking_user(uid_t uid, const char* sudo_user);
std::string invoking_user();  // from getuid() and the environment

struct HoldRequest {
    std::string reason;
    std::string ref;
    std::string user;
    std::chrono::system_clock::time_point now;
};

// Places a hold on every copy of the message. Throws CtlError (exit 1) when the index
// has no row for it, when it is already held, or when every copy is already destroyed.
std::int64_t place_hold(Index& index, const Digest& digest, const HoldRequest& request, bool well_formed);

// Lifts the hold in force (only of `kind` when given). Throws CtlError: exit 1 for an
// unknown message or one without such a hold; exit 2 when an admin hold and a folder hold
// are both in force and no kind was given. Returns the holds lifted.
std::vector<Hold> release_hold(Index& index, const Digest& digest, const std::string& user,
                               std::chrono::system_clock::time_point now, bool well_formed,
                               std::optional<HoldKind> kind = std::nullopt);

// "admin" | "folder" | "" (any), as `release --kind` takes it. Throws CtlError (exit 2).
std::optional<HoldKind> parse_hold_kind(std::string_view text);

// The "not in the index" message: why that can be, and what to check.
std::string not_found_message(bool well_formed);

}  // namespace rm::ctl
