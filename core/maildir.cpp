#include "core/maildir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>
#include <system_error>

#include "core/strings.hpp"

namespace rm {

int for_each_entry(int dirfd, const std::function<void(const std::string& name)>& fn) {
    return for_each_entry(dirfd, [&](const std::string& name, unsigned char) { fn(name); });
}

int for_each_entry(int dirfd, const std::function<void(const std::string& name, unsigned char type)>& fn) {
    // fdopendir takes the descriptor over, so it gets a duplicate of ours.
    const int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return errno;
    // Closed however we leave, `fn` may throw (a store found not to be Maildir++).
    const std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup), ::closedir);
    if (!dir) {
        const int err = errno;
        ::close(dup);
        return err;
    }
    ::rewinddir(dir.get());
    while (true) {
        errno = 0;
        const dirent* e = ::readdir(dir.get());
        if (!e) return errno;
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        fn(name, e->d_type);
    }
}

// --- Maildir file names ------------------------------------------------------------

std::string_view maildir_base(std::string_view name) { return name.substr(0, name.find_first_of(",:")); }

std::optional<MaildirName> parse_maildir_name(std::string_view name) {
    if (name.empty() || name.front() == '.') return std::nullopt;
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || u < 0x20 || u == 0x7f) return std::nullopt;
    }
    const auto dot = name.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 >= name.size()) return std::nullopt;
    const std::string_view seconds = name.substr(0, dot);
    if (!std::all_of(seconds.begin(), seconds.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    MaildirName out;
    const auto colon = name.find(':');
    out.unique = std::string(name.substr(0, colon));
    if (colon != std::string_view::npos) out.info = std::string(name.substr(colon));
    if (out.unique.size() <= dot + 1) return std::nullopt;
    std::int64_t t = 0;
    const auto [end, ec] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), t);
    if (ec == std::errc{} && end == seconds.data() + seconds.size()) out.delivered = t;
    return out;
}

// new/ before cur/: Dovecot moves a message from new/ to cur/, never back, so a message
// moved between the two listings is still seen in the second.
std::optional<MaildirLocation> find_maildir_unique(int folderfd, const std::string& unique) {
    const std::string_view base = maildir_base(unique);
    for (const char* sub : {"new", "cur"}) {
        const UniqueFd sfd = open_dir_at(folderfd, sub);
        if (!sfd) continue;
        std::optional<MaildirLocation> found;
        for_each_entry(sfd.get(), [&](const std::string& name) {
            if (!found && name.front() != '.' && maildir_base(name) == base) found = MaildirLocation{sub, name};
        });
        if (found) return found;
    }
    return std::nullopt;
}

std::uint64_t MaildirBases::hash(std::string_view base) { return std::hash<std::string_view>{}(base); }

std::optional<MaildirBases> MaildirBases::list(int folderfd) {
    MaildirBases out;
    for (const char* sub : {"new", "cur"}) {  // the order of find_maildir_unique, and why
        const UniqueFd sfd = open_dir_at(folderfd, sub);
        if (!sfd) return std::nullopt;
        const int err = for_each_entry(sfd.get(), [&](const std::string& name) {
            if (name.front() != '.') out.sorted_.push_back(hash(maildir_base(name)));
        });
        if (err != 0) return std::nullopt;
    }
    std::sort(out.sorted_.begin(), out.sorted_.end());
    return out;
}

bool MaildirBases::may_hold(std::string_view base) const {
    const std::uint64_t h = hash(base);
    return std::binary_search(sorted_.begin(), sorted_.end(), h) || added_.contains(h);
}

void MaildirBases::add(std::string_view base) { added_.insert(hash(base)); }

// --- the header block ----------------------------------------------------------------

std::optional<std::string> foreign_format(std::string_view b) {
    auto starts = [&](std::string_view magic) { return b.substr(0, magic.size()) == magic; };
    if (starts(std::string_view("\x1f\x8b", 2))) return "gzip";
    if (starts("BZh")) return "bzip2";
    if (starts(std::string_view("\xfd" "7zXZ\0", 6))) return "xz";
    if (starts(std::string_view("\x28\xb5\x2f\xfd", 4))) return "zstd";
    if (starts("CRYPTED")) return "Dovecot mail_crypt";
    return std::nullopt;
}

namespace {

bool is_field_name(std::string_view name) {
    if (name.empty()) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 33 && u <= 126 && c != ':';
    });
}

std::string_view without_cr(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

// Splits `raw` into fields, stopping at the first line that is neither a field nor a
// continuation (an MTA would take the rest for the body).
std::vector<HeaderField> split_fields(std::string_view raw) {
    std::vector<HeaderField> fields;
    size_t pos = 0;
    while (pos < raw.size()) {
        auto nl = raw.find('\n', pos);
        if (nl == std::string_view::npos) nl = raw.size();
        const std::string_view line = without_cr(raw.substr(pos, nl - pos));
        pos = nl + 1;
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            if (fields.empty()) break;
            fields.back().value += '\n';
            fields.back().value += line;
            continue;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) break;
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (!is_field_name(name)) break;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        fields.push_back({std::string(name), std::string(value)});
    }
    return fields;
}

// Where the header block ends: the offset of the empty line that ends it, and of the
// body after it. Nothing when the bytes hold no end yet.
struct BlockEnd {
    size_t raw_end;
    size_t body;
};
std::optional<BlockEnd> find_block_end(std::string_view b) {
    if (b.substr(0, 1) == "\n") return BlockEnd{0, 1};
    if (b.substr(0, 2) == "\r\n") return BlockEnd{0, 2};
    size_t pos = 0;
    while ((pos = b.find('\n', pos)) != std::string_view::npos) {
        if (b.substr(pos + 1, 1) == "\n") return BlockEnd{pos + 1, pos + 2};
        if (b.substr(pos + 1, 2) == "\r\n") return BlockEnd{pos + 1, pos + 3};
        ++pos;
    }
    return std::nullopt;
}

}  // namespace

HeaderBlock parse_header_block(std::string_view bytes, bool at_eof, size_t cap) {
    HeaderBlock h;
    if (bytes.empty() && at_eof) {
        h.status = HeaderBlock::Status::Empty;
        return h;
    }
    if (auto f = foreign_format(bytes)) {
        h.status = HeaderBlock::Status::Foreign;
        h.foreign = *f;
        return h;
    }
    if (auto end = find_block_end(bytes.substr(0, cap + 3)); end && end->raw_end <= cap) {
        h.raw = std::string(bytes.substr(0, end->raw_end));
        h.body_offset = end->body;
    } else if (at_eof && bytes.size() <= cap) {
        // Headers that run to the end of the file: a message without a body.
        h.raw = std::string(bytes);
        h.body_offset = bytes.size();
    } else {
        h.status = HeaderBlock::Status::TooLarge;
        return h;
    }
    const auto first_nl = h.raw.find('\n');
    h.crlf = first_nl != std::string::npos && first_nl > 0 && h.raw[first_nl - 1] == '\r';
    h.fields = split_fields(h.raw);
    h.status = h.fields.empty() ? HeaderBlock::Status::NoHeaders : HeaderBlock::Status::Ok;
    return h;
}

HeaderBlock read_header_block(int fd, size_t cap) {
    std::string buf;
    bool eof = false;
    char chunk[16384];
    off_t offset = 0;
    // Read until the block's end is in the buffer, the file ends, or the cap is passed
    // (a few bytes past it, so that an empty line right at the cap is still seen).
    while (buf.size() <= cap + 2) {
        const ssize_t n = ::pread(fd, chunk, sizeof chunk, offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "read");
        }
        if (n == 0) {
            eof = true;
            break;
        }
        buf.append(chunk, static_cast<size_t>(n));
        offset += n;
        if (foreign_format(buf) || find_block_end(buf)) break;
    }
    return parse_header_block(buf, eof, cap);
}

namespace {

// Splits the header into lines as split_fields does, fed in chunks of any size, keeping of
// each line only as much as a wanted field may hold.
class FieldScanner {
public:
    FieldScanner(const std::vector<std::string_view>& wanted, size_t field_cap, size_t total_cap)
        : wanted_(wanted), field_cap_(field_cap), total_cap_(total_cap) {}

    // False once the header has ended (or the scan gave up): no more bytes are needed.
    bool feed(std::string_view bytes) {
        while (!done_ && !bytes.empty()) {
            const auto nl = bytes.find('\n');
            const std::string_view part = bytes.substr(0, nl);
            keep(part);
            if (nl == std::string_view::npos) break;
            end_line();
            bytes.remove_prefix(nl + 1);
        }
        return !done_;
    }

    HeaderFields finish(bool empty_file) {
        if (!done_ && (!line_.empty() || overflow_)) end_line();  // a last line without its newline
        if (empty_file) out_.status = HeaderBlock::Status::Empty;
        else out_.status = any_field_ ? HeaderBlock::Status::Ok : HeaderBlock::Status::NoHeaders;
        return std::move(out_);
    }

private:
    const std::vector<std::string_view>& wanted_;
    size_t field_cap_, total_cap_;
    std::vector<size_t> kept_ = std::vector<size_t>(wanted_.size(), 0);  // bytes kept, per wanted name
    size_t name_ = 0;  // which wanted name the field being kept has
    std::string line_;
    bool overflow_ = false;  // line_ holds only the start of the line
    bool any_field_ = false;
    bool in_wanted_ = false;  // continuation lines belong to a kept field
    bool done_ = false;
    HeaderFields out_;

    void keep(std::string_view part) {
        const size_t room = field_cap_ + 2 > line_.size() ? field_cap_ + 2 - line_.size() : 0;
        if (part.size() > room) overflow_ = true;
        line_.append(part.substr(0, room));
    }

    // A field longer than any MTA passes cannot be what a milter read, and instances of a
    // name past its share are more than any honest message has: either is dropped, and the
    // scan goes on, so that a sender who pads a header cannot hide the fields after it.
    void add_to_kept(std::string_view text) {
        HeaderField& f = out_.fields.back();
        kept_[name_] += text.size();
        if (overflow_ || f.value.size() + text.size() > field_cap_ || kept_[name_] > total_cap_) {
            out_.fields.pop_back();
            in_wanted_ = false;
            return;
        }
        f.value += text;
    }

    std::optional<size_t> wanted_index(std::string_view name) const {
        for (size_t i = 0; i < wanted_.size(); ++i)
            if (iequals(wanted_[i], name)) return i;
        return std::nullopt;
    }

    void end_line() {
        std::string_view line = line_;
        if (!overflow_) line = without_cr(line);
        take_line(line);
        line_.clear();
        overflow_ = false;
    }

    void take_line(std::string_view line) {
        if (line.empty() && !overflow_) {
            done_ = true;  // the empty line that ends the header
            return;
        }
        if (line.front() == ' ' || line.front() == '\t') {
            if (!any_field_) done_ = true;
            else if (in_wanted_) add_to_kept(std::string("\n") + std::string(line));
            return;
        }
        const auto colon = line.find(':');
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (colon == std::string_view::npos || !is_field_name(name)) {
            done_ = true;  // not a field: the body starts here, as an MTA would read it
            return;
        }
        any_field_ = true;
        const auto index = wanted_index(name);
        in_wanted_ = index && kept_[*index] <= total_cap_;
        if (!in_wanted_) return;
        name_ = *index;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        out_.fields.push_back({std::string(name), {}});
        add_to_kept(value);
    }
};

}  // namespace

HeaderFields parse_header_fields(std::string_view bytes, const std::vector<std::string_view>& wanted,
                                 size_t field_cap, size_t total_cap) {
    if (auto f = foreign_format(bytes)) {
        HeaderFields h;
        h.status = HeaderBlock::Status::Foreign;
        h.foreign = *f;
        return h;
    }
    FieldScanner scan(wanted, field_cap, total_cap);
    scan.feed(bytes);
    return scan.finish(bytes.empty());
}

HeaderFields read_header_fields(int fd, const std::vector<std::string_view>& wanted, size_t field_cap,
                                size_t total_cap) {
    std::string buf;
    off_t offset = 0;
    bool eof = false;
    const auto read_more = [&] {
        char chunk[65536];
        while (true) {
            const ssize_t n = ::pread(fd, chunk, sizeof chunk, offset);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw std::system_error(errno, std::generic_category(), "read");
            eof = n == 0;
            buf.append(chunk, static_cast<size_t>(n));
            offset += n;
            return;
        }
    };
    // Enough of the start to tell a compressed or encrypted file, then the rest as a stream.
    while (buf.size() < 8 && !eof) read_more();
    if (foreign_format(buf) || buf.empty()) return parse_header_fields(buf, wanted, field_cap, total_cap);
    FieldScanner scan(wanted, field_cap, total_cap);
    while (scan.feed(buf) && !eof) {
        buf.clear();
        read_more();
    }
    return scan.finish(false);
}

const std::string* first_field(const std::vector<HeaderField>& fields, std::string_view name) {
    for (const auto& f : fields) {
        if (iequals(f.name, name)) return &f.value;
    }
    return nullptr;
}

std::vector<std::string_view> field_values(const std::vector<HeaderField>& fields, std::string_view name) {
    std::vector<std::string_view> out;
    for (const auto& f : fields) {
        if (iequals(f.name, name)) out.emplace_back(f.value);
    }
    return out;
}

// --- Maildir++ folders -------------------------------------------------------------

namespace {

bool is_dir_at(int dirfd, const char* name) {
    struct stat st {};
    return ::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

bool holds_maildir(int parentfd, const std::string& name) {
    const UniqueFd fd = open_dir_at(parentfd, name);
    return fd && (is_dir_at(fd.get(), "cur") || is_dir_at(fd.get(), "new"));
}

// A ".Name" directory that cannot be opened, or whose cur/ or new/ cannot be looked at.
bool folder_unreadable(int parentfd, const std::string& name) {
    const UniqueFd fd = open_dir_at(parentfd, name);
    if (!fd) return errno != ENOENT;
    for (const char* sub : {"cur", "new"}) {
        struct stat st {};
        if (::fstatat(fd.get(), sub, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT) return true;
    }
    return false;
}

// Directories that say the mailbox is Dovecot's sdbox or mdbox, not Maildir.
bool is_dbox_marker(const std::string& name) {
    return name == "dbox-Mails" || name == "storage" || name == "mailboxes";
}

void inspect_entry(int rootfd, const std::string& name, MaildirLayout& out) {
    ++out.entries;
    struct stat st {};
    if (::fstatat(rootfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT && name.front() == '.') out.unreadable.push_back(name);
        return;
    }
    if (name == "cur" || name == "new") {
        if (S_ISDIR(st.st_mode)) out.root_has_maildir = true;
        return;
    }
    if (name == "tmp") return;
    if (name.front() == '.') {
        if (S_ISLNK(st.st_mode)) {
            out.linked_folders.push_back(name);
            return;
        }
        if (!S_ISDIR(st.st_mode)) return;
        if (looks_like_lazy_expunge(name)) out.lazy_expunge.push_back(name);
        if (holds_maildir(rootfd, name)) out.folders.push_back({name, name.substr(1)});
        else if (folder_unreadable(rootfd, name)) out.unreadable.push_back(name);
        return;
    }
    if (!S_ISDIR(st.st_mode) || !out.not_maildirpp.empty()) return;
    if (is_dbox_marker(name)) {
        out.not_maildirpp = "a Dovecot dbox mailbox (it has a " + name + "/ folder), not Maildir++";
    } else if (holds_maildir(rootfd, name)) {
        // Maildir++ keeps every folder at the top as ".Name"; a plain sub-folder with
        // its own cur/ or new/ is Dovecot's LAYOUT=fs, whose folders we would not see.
        out.not_maildirpp = "a Maildir with LAYOUT=fs (a sub-folder without a leading dot holds cur/ or new/), not Maildir++";
    }
}

}  // namespace

MaildirLayout inspect_maildir(int rootfd, int* err) {
    MaildirLayout out;
    const int e = for_each_entry(rootfd, [&](const std::string& name) { inspect_entry(rootfd, name, out); });
    if (err) *err = e;
    std::sort(out.folders.begin(), out.folders.end(),
              [](const MaildirFolder& a, const MaildirFolder& b) { return a.dir < b.dir; });
    std::sort(out.linked_folders.begin(), out.linked_folders.end());
    std::sort(out.lazy_expunge.begin(), out.lazy_expunge.end());
    std::sort(out.unreadable.begin(), out.unreadable.end());
    if (out.root_has_maildir) out.folders.insert(out.folders.begin(), MaildirFolder{"", "INBOX"});
    return out;
}

namespace {

// Decodes one UTF-8 code point at `i`, advancing it; U+FFFD for an invalid sequence.
char32_t next_code_point(std::string_view s, size_t& i) {
    const auto b0 = static_cast<unsigned char>(s[i++]);
    if (b0 < 0x80) return b0;
    int extra = 0;
    char32_t cp = 0;
    if ((b0 & 0xe0) == 0xc0) {
        extra = 1;
        cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
        extra = 2;
        cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
        extra = 3;
        cp = b0 & 0x07;
    } else {
        return 0xfffd;
    }
    for (int k = 0; k < extra; ++k) {
        if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) return 0xfffd;
        cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3f);
    }
    // Overlong forms ("\xc0\xaf" is a '/'), surrogates and values past U+10FFFF are not
    // UTF-8: each is one invalid character, never the ASCII it would spell.
    static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0xfffd;
    return cp;
}

std::string modified_base64(const std::vector<std::uint16_t>& units) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    std::string bytes;
    for (const auto u : units) {
        bytes += static_cast<char>(u >> 8);
        bytes += static_cast<char>(u & 0xff);
    }
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : bytes) {
        acc = (acc << 8) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

}  // namespace

std::string to_modified_utf7(std::string_view utf8) {
    std::string out;
    std::vector<std::uint16_t> pending;
    auto flush = [&] {
        if (pending.empty()) return;
        out += '&';
        out += modified_base64(pending);
        out += '-';
        pending.clear();
    };
    size_t i = 0;
    while (i < utf8.size()) {
        const char32_t cp = next_code_point(utf8, i);
        if (cp >= 0x20 && cp <= 0x7e) {
            flush();
            out += cp == '&' ? std::string("&-") : std::string(1, static_cast<char>(cp));
        } else if (cp >= 0x10000) {
            const char32_t v = cp - 0x10000;
            pending.push_back(static_cast<std::uint16_t>(0xd800 + (v >> 10)));
            pending.push_back(static_cast<std::uint16_t>(0xdc00 + (v & 0x3ff)));
        } else {
            pending.push_back(static_cast<std::uint16_t>(cp));
        }
    }
    flush();
    return out;
}

std::string folder_dir_for(std::string_view display) {
    std::string name(trim(display));
    if (iequals(name, "INBOX")) return "";
    if (name.size() > 6 && iequals(name.substr(0, 5), "INBOX") && (name[5] == '.' || name[5] == '/'))
        name = name.substr(6);
    std::replace(name.begin(), name.end(), '/', '.');
    return "." + to_modified_utf7(name);
}

bool folder_is_or_below(std::string_view dir, std::string_view wanted_dir) {
    if (wanted_dir.empty() || dir.size() < wanted_dir.size()) return false;
    if (dir.substr(0, wanted_dir.size()) != wanted_dir) return false;
    return dir.size() == wanted_dir.size() || dir[wanted_dir.size()] == '.';
}

bool looks_like_lazy_expunge(std::string_view folder_name) {
    return to_lower(folder_name).find("expunged") != std::string::npos;
}

}  // namespace rm
