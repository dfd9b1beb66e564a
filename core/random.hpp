// Random bytes from the system's generator (OpenSSL RAND_bytes), for everything the
// programs make unguessable: record tokens, Message-IDs, review draws, key files,
// journal line tokens, temporary names.
#pragma once

#include <cstddef>
#include <string>

namespace rm {

// `n` random bytes. Throws std::runtime_error naming `what` when the generator fails:
// nothing may go on with a guessable value.
std::string random_bytes(std::size_t n, const char* what);

}  // namespace rm
