#include "core/random.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace rm {

std::string random_bytes(std::size_t n, const char* what) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error(std::string("no randomness for ") + what + " (OpenSSL RAND_bytes failed)");
    return out;
}

}  // namespace rm
