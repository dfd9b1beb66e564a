// Maildir++ as Postfix's delivery agents and Dovecot write it, seen without ever following
// a symbolic link: folder listing, Maildir file names, the header block of a message.
//
// Everything here works on directory file descriptors (openat, fstatat, ...) so that a
// walk that starts at a configured root can never be led outside it by a link.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/fs.hpp"

namespace rm {

// Every entry of the directory `dirfd` except "." and "..", in readdir order, streamed
// to `fn`. Returns 0, or the errno of the failure to read the directory.
int for_each_entry(int dirfd, const std::function<void(const std::string& name)>& fn);
// The same, with the entry's type as the directory reports it (DT_REG, DT_DIR, DT_LNK, ...;
// DT_UNKNOWN where the file system does not say): a DT_REG entry needs no stat to be
// opened safely, which saves one system call per message in a scan.
int for_each_entry(int dirfd, const std::function<void(const std::string& name, unsigned char type)>& fn);

// --- Maildir file names ------------------------------------------------------------

// "1717171717.M12P34.host,S=1234,W=1260:2,S": the unique part before ':' names the
// message for its whole life; the info part after it (":2,FLAGS") changes with its flags
// as Dovecot renames the file and moves it from new/ to cur/.
struct MaildirName {
    std::string unique;
    std::string info;                       // ":2,S" with its colon, or empty
    std::optional<std::int64_t> delivered;  // the leading seconds since the epoch
};

// The part of a Maildir name that never changes: up to the first ',' or ':'. Dovecot
// appends ",S=size,W=vsize" fields after it and renames the ":2,FLAGS" part.
std::string_view maildir_base(std::string_view name);

// Parses a name as Maildir delivery agents make it: starts with the delivery time in
// seconds, a '.', then more; no '/', no control characters, no leading '.'. Anything
// else is not a Maildir message name.
std::optional<MaildirName> parse_maildir_name(std::string_view name);

// Where a message of a Maildir folder (open as `folderfd`) is now, found by the base of
// its name (maildir_base): Dovecot renames a file when its flags change and moves it
// from new/ to cur/.
struct MaildirLocation {
    std::string sub;   // "cur" or "new"
    std::string name;  // the full current name
};
std::optional<MaildirLocation> find_maildir_unique(int folderfd, const std::string& unique);

// The bases (maildir_base) of every message in new/ and cur/ of a folder, from one listing,
// for a caller that would otherwise call find_maildir_unique for many names. Kept as 64-bit
// hashes, 8 bytes a message where the names would take about 100: `may_hold` can say yes
// of a base that is not there (then find_maildir_unique says where, or that it is not),
// never no of one that is.
class MaildirBases {
public:
    // Nothing when new/ or cur/ cannot be opened or read through: a partial listing would
    // say no of a message that is there.
    static std::optional<MaildirBases> list(int folderfd);
    bool may_hold(std::string_view base) const;
    void add(std::string_view base);  // a message the caller has put there since
    size_t size() const { return sorted_.size() + added_.size(); }

private:
    static std::uint64_t hash(std::string_view base);
    std::vector<std::uint64_t> sorted_;
    std::unordered_set<std::uint64_t> added_;
};

// --- the header block ----------------------------------------------------------------

// The header block is read up to this many bytes; Postfix limits headers to 100 KB.
inline constexpr size_t kHeaderBlockCap = 256 * 1024;

struct HeaderField {
    std::string name;   // as written, surrounding space removed
    std::string value;  // raw: folding kept, leading space and line end removed
};

struct HeaderBlock {
    enum class Status {
        Ok,         // header fields, ended by an empty line or by the end of the file
        Empty,      // a file of no bytes
        NoHeaders,  // the first line is not a header field (garbage, binary, a body only)
        TooLarge,   // no end of the header block within the cap
        Foreign,    // compressed or encrypted: see `foreign`
    };
    Status status = Status::NoHeaders;
    std::string raw;          // the bytes of the header block, without the empty line
    std::uint64_t body_offset = 0;  // where the body starts in the file (after the empty line)
    bool crlf = false;        // lines end in CRLF
    std::vector<HeaderField> fields;
    std::string foreign;      // "gzip", "bzip2", "xz", "zstd", "Dovecot mail_crypt"
};

// What a file's first bytes say about it when they are not mail but a compressed or
// encrypted container (Dovecot's zlib and mail_crypt plugins write such Maildirs).
std::optional<std::string> foreign_format(std::string_view first_bytes);

// Reads the header block of the open file `fd` from its start, never more than `cap`
// bytes. Returns Status::Ok with the fields in order; stops parsing at the first line
// that is neither a header field nor its continuation, as an MTA would.
HeaderBlock read_header_block(int fd, size_t cap = kHeaderBlockCap);

// The same on bytes already in memory (the whole file, or its first `cap` bytes with
// `at_eof` saying whether the file ends there).
HeaderBlock parse_header_block(std::string_view bytes, bool at_eof, size_t cap = kHeaderBlockCap);

// Only some fields of a message's header, read as a stream: a header block of any size
// (MTAs limit each field, not the block) is read through, and what is kept is bounded.
// The instances of each wanted name (any case) are kept in file order, except that a field
// longer than kWantedFieldCap is dropped, and so is every instance of a name once those
// kept of it reach kWantedFieldsCap bytes: neither can stop the scan.
inline constexpr size_t kWantedFieldCap = 128 * 1024;   // one field; Postfix's header_size_limit is 100 KB
inline constexpr size_t kWantedFieldsCap = 512 * 1024;  // the instances kept of one name

struct HeaderFields {
    // Ok: the header was read to its end (fields may still hold no wanted one).
    HeaderBlock::Status status = HeaderBlock::Status::NoHeaders;
    std::vector<HeaderField> fields;  // the wanted ones, as HeaderBlock::fields has them
    std::string foreign;              // as HeaderBlock::foreign
};

HeaderFields read_header_fields(int fd, const std::vector<std::string_view>& wanted,
                                size_t field_cap = kWantedFieldCap, size_t total_cap = kWantedFieldsCap);
// The same on bytes in memory (a whole file).
HeaderFields parse_header_fields(std::string_view bytes, const std::vector<std::string_view>& wanted,
                                 size_t field_cap = kWantedFieldCap, size_t total_cap = kWantedFieldsCap);

// The value of the first field named `name` (any case), if any.
const std::string* first_field(const std::vector<HeaderField>& fields, std::string_view name);
// Every value of the fields named `name` (any case), in order.
std::vector<std::string_view> field_values(const std::vector<HeaderField>& fields, std::string_view name);

// --- Maildir++ folders -------------------------------------------------------------

// One folder of a Maildir++ mailbox: the root (INBOX) or a ".Name" directory at the top.
struct MaildirFolder {
    std::string dir;   // "" for the root (INBOX), else ".Sent Items", ".Parent.Child"
    std::string name;  // "INBOX", "Sent Items", "Parent.Child" (still in modified UTF-7)
};

// What the top of a mailbox directory holds.
struct MaildirLayout {
    bool root_has_maildir = false;            // cur/ or new/ at the top
    std::vector<MaildirFolder> folders;       // the root (when it has cur/new) and every .Folder
    std::vector<std::string> linked_folders;  // ".Name" entries that are symlinks: never followed
    std::vector<std::string> lazy_expunge;    // folders that look like lazy_expunge's (".EXPUNGED")
    // ".Name" entries that could not be looked at or opened (a permission change, a folder
    // restored as another user): a folder whose messages nobody has seen, never "no folder".
    std::vector<std::string> unreadable;
    std::string not_maildirpp;                // why this is not Maildir++ (dbox, LAYOUT=fs), or empty
    size_t entries = 0;                       // entries at the top (0: an empty directory)
};

// Lists the folders of the mailbox whose root is open as `rootfd`. A ".Folder" counts
// when it is a real directory with cur/ or new/ in it. Returns errno through `err` when
// the root cannot be read.
MaildirLayout inspect_maildir(int rootfd, int* err);

// The directory that holds the folder a mail client calls `display` ("Sent Items" ->
// ".Sent Items", "Archive/2024" -> ".Archive.2024", "INBOX" -> ""), with non-ASCII names
// in IMAP's modified UTF-7 as Dovecot writes them ("Envoyés" -> ".Envoy&AOk-s").
std::string folder_dir_for(std::string_view display);

// IMAP modified UTF-7 (RFC 3501 5.1.3) of a UTF-8 string; invalid UTF-8 bytes become U+FFFD.
std::string to_modified_utf7(std::string_view utf8);

// True when `dir` (".Sent Items.2024") is the folder `wanted_dir` (".Sent Items") or one
// of the folders nested in it.
bool folder_is_or_below(std::string_view dir, std::string_view wanted_dir);

// True for names a lazy_expunge setup gives its folders (".EXPUNGED", "Expunged", ...).
bool looks_like_lazy_expunge(std::string_view folder_name);

}  // namespace rm
