// The secret that keys every digest in the index, and the digests made with it.
#pragma once

#include <string>
#include <string_view>

namespace rm {

// A digest is 32 raw bytes of HMAC-SHA-256.
using Digest = std::string;

// The secret that keys the Message-ID digests. It is made once, together with a new
// index; with an existing index a missing or others-readable key is an error, because
// a silently new key would orphan every row.
class DigestKey {
public:
    // Loads `key_file`. When `index_path` does not exist yet and the key file does not
    // either, a new 32-byte key is made (mode 0640, the group of the index's folder).
    // Throws IndexError with a message an admin can act on.
    static DigestKey load_or_create(const std::string& key_file, const std::string& index_path,
                                    bool may_create);
    // Makes a new key file for a new shared index, which has no file beside the key (mode
    // 0640, the group of the key's folder); an existing key file is loaded instead.
    static DigestKey create(const std::string& key_file);
    static DigestKey from_bytes(std::string bytes);  // tests

    // HMAC-SHA-256 of a Message-ID already normalised by normalise_message_id().
    Digest digest(std::string_view normalised_message_id) const;

    // The keyed digest of a record token (kHdrRecord), which the index row keeps instead
    // of the token: the index alone cannot link a copy to its row without the key.
    Digest record_digest(std::string_view token) const;

    // A keyed hash of a file's identity for the sweeper's scan cache (the sweeper puts
    // the inode before 8 bytes of it). A label prefix keeps it apart from every Message-ID
    // digest.
    Digest file_hash(std::string_view identity) const;

    // Names the key without revealing it (hex HMAC of a fixed label), so an index can
    // record which key its digests were made with.
    std::string fingerprint() const;

private:
    explicit DigestKey(std::string bytes) : key_(std::move(bytes)) {}
    std::string key_;
};

}  // namespace rm
