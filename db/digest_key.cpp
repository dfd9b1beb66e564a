// The digest key and the digests made with it.
#include "db/digest_key.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "core/strings.hpp"
#include "core/random.hpp"
#include "db/detail.hpp"
#include "db/index.hpp"

namespace rm {

namespace {


constexpr std::size_t kKeySize = 32;

bool exists(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    throw IndexError("cannot check whether " + path + " exists: " + errno_text(errno));
}

// Reads the key, refusing one that others may read or write, or of the wrong size.
std::string read_key(const std::string& key_file) {
    UniqueFd fd(::open(key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (fd.get() < 0) {
        throw IndexError("cannot read the key file " + key_file + ": " + errno_text(errno) +
                         "; the program's user must be able to read it (owner or the index's group)");
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw IndexError("cannot stat the key file " + key_file + ": " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) throw IndexError("the key file " + key_file + " is not a regular file");
    if ((st.st_mode & 007) != 0) {
        throw IndexError("the key file " + key_file + " can be read or written by others (mode " +
                         mode_text(st.st_mode) + "); run chmod 0640 " + key_file +
                         " and consider whether someone may have copied it");
    }
    if (static_cast<std::size_t>(st.st_size) != kKeySize) {
        throw IndexError("the key file " + key_file + " is " + std::to_string(st.st_size) + " bytes long, a key is " +
                         std::to_string(kKeySize) + "; restore the key from backup");
    }
    std::string key(kKeySize, '\0');
    std::size_t got = 0;
    while (got < kKeySize) {
        const ssize_t n = ::read(fd.get(), key.data() + got, kKeySize - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw IndexError("cannot read the key file " + key_file + ": " + (n < 0 ? errno_text(errno) : "short read"));
        got += static_cast<std::size_t>(n);
    }
    return key;
}

void write_all(int fd, const std::string& bytes, const std::string& what) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw IndexError("cannot write " + what + ": " + errno_text(errno));
        done += static_cast<std::size_t>(n);
    }
}

// Writes a fresh key to a temporary name, syncs it, then link()s it into place: the key
// file appears whole or not at all, and when two programs race to make it, one wins
// and the other uses the winner's key.
void create_key(const std::string& key_file, const std::string& index_path) {
    const std::string tmp = key_file + ".new." + to_hex(random_bytes(6, "a temporary name"));
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
        if (fd.get() < 0) throw IndexError("cannot create the key file " + key_file + ": " + errno_text(errno));
        try {
            if (::fchmod(fd.get(), 0640) != 0) throw IndexError("cannot chmod " + tmp + ": " + errno_text(errno));
            dbdetail::give_folder_group(fd.get(), index_path);
            write_all(fd.get(), random_bytes(kKeySize, "the digest key"), "the key file " + key_file);
            if (::fsync(fd.get()) != 0) throw IndexError("cannot sync the key file " + key_file + ": " + errno_text(errno));
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
    }
    const int rc = ::link(tmp.c_str(), key_file.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0 && err != EEXIST) throw IndexError("cannot create the key file " + key_file + ": " + errno_text(err));
    dbdetail::sync_dir_or_throw(parent_dir(key_file));
}

}  // namespace

DigestKey DigestKey::load_or_create(const std::string& key_file, const std::string& index_path, bool may_create) {
    if (exists(key_file)) return DigestKey(read_key(key_file));
    if (exists(index_path)) {
        throw IndexError("the index " + index_path + " exists but its key file " + key_file +
                         " is missing; restore the key from backup \xe2\x80\x94 a new key would orphan every row");
    }
    if (!may_create) {
        throw IndexError("there is no key file " + key_file + " (and no index " + index_path +
                         "); the key is made together with a new index when retention-milter first starts");
    }
    create_key(key_file, index_path);
    return DigestKey(read_key(key_file));
}

DigestKey DigestKey::create(const std::string& key_file) {
    if (!exists(key_file)) create_key(key_file, key_file);
    return DigestKey(read_key(key_file));
}

DigestKey DigestKey::from_bytes(std::string bytes) {
    if (bytes.empty()) throw IndexError("an empty digest key");
    return DigestKey(std::move(bytes));
}

std::string DigestKey::fingerprint() const {
    // A label no Message-ID can equal (it has no '@' and a space), so the fingerprint
    // is never the digest of a real message.
    return to_hex(digest("retention-milter key fingerprint v1"));
}

Digest DigestKey::record_digest(std::string_view token) const {
    // A NUL in the label: a normalised Message-ID never has one.
    std::string material("retention-milter record token v1", 32);
    material.push_back('\0');
    material.append(token);
    return digest(material);
}

Digest DigestKey::file_hash(std::string_view identity) const {
    // A NUL in the label: a normalised Message-ID never has one.
    std::string material("retention-sweep scan cache v1", 29);
    material.push_back('\0');
    material.append(identity);
    return digest(material);
}

Digest DigestKey::digest(std::string_view normalised_message_id) const {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int len = 0;
    const unsigned char* ok =
        HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
             reinterpret_cast<const unsigned char*>(normalised_message_id.data()), normalised_message_id.size(),
             out.data(), &len);
    if (ok == nullptr || len != 32) throw IndexError("HMAC-SHA-256 failed (OpenSSL)");
    return Digest(reinterpret_cast<const char*>(out.data()), len);
}

}  // namespace rm
