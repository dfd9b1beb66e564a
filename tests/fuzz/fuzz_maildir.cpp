// What the sweeper reads from a mail store that anyone may have written into: Maildir file
// names, folder names, and a message's header block (parsed in memory, and read from a
// file descriptor: both must agree).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "core/strings.hpp"
#include "fuzz_common.hpp"

namespace {

void check_name(std::string_view name) {
    const std::string_view base = rm::maildir_base(name);
    FUZZ_CHECK(name.substr(0, base.size()) == base);
    if (const auto n = rm::parse_maildir_name(name)) {
        FUZZ_CHECK(!n->unique.empty());
        FUZZ_CHECK(n->unique.find('/') == std::string::npos);
        FUZZ_CHECK(n->unique != "." && n->unique != "..");
        FUZZ_CHECK(n->unique.front() != '.');
        FUZZ_CHECK(n->unique + n->info == name);
    }
}

void check_folder(std::string_view display) {
    // A folder name from the config becomes one directory below the mailbox root: never
    // a path, and never "." or ".." for a name the config accepts (the first finding of
    // this harness: sent_folders = ["."] named the directory above the mailbox).
    const std::string dir = rm::folder_dir_for(display);
    FUZZ_CHECK(dir.find('/') == std::string::npos);
    const bool config_accepts =
        !rm::trim(display).empty() && rm::is_clean_utf8(display) && !rm::folder_name_problem(display);
    if (config_accepts) {
        FUZZ_CHECK(dir.find('\0') == std::string::npos);
        FUZZ_CHECK(dir != "." && dir != "..");
    }
    FUZZ_CHECK(dir.empty() || dir.front() == '.');
    if (!dir.empty()) FUZZ_CHECK(rm::folder_is_or_below(dir, dir));
    for (const char c : rm::to_modified_utf7(display)) {
        const auto u = static_cast<unsigned char>(c);
        FUZZ_CHECK(u >= 0x20 && u < 0x7f);
    }
    (void)rm::looks_like_lazy_expunge(display);
}

void same_fields(const std::vector<rm::HeaderField>& a, const std::vector<rm::HeaderField>& b) {
    FUZZ_CHECK(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        FUZZ_CHECK(a[i].name == b[i].name);
        FUZZ_CHECK(a[i].value == b[i].value);
    }
}

void same(const rm::HeaderBlock& a, const rm::HeaderBlock& b) {
    FUZZ_CHECK(a.status == b.status);
    FUZZ_CHECK(a.raw == b.raw);
    FUZZ_CHECK(a.body_offset == b.body_offset);
    FUZZ_CHECK(a.crlf == b.crlf);
    FUZZ_CHECK(a.foreign == b.foreign);
    same_fields(a.fields, b.fields);
}

// The streamed reader keeps of the fields the block parser finds exactly the wanted ones,
// every instance in order, from a file as from memory.
void check_fields(std::string_view bytes, int fd) {
    const std::vector<std::string_view> wanted = {"Message-ID", "X-Retention-Record"};
    const rm::HeaderFields streamed = rm::read_header_fields(fd, wanted);
    const rm::HeaderFields in_memory = rm::parse_header_fields(bytes, wanted);
    FUZZ_CHECK(streamed.status == in_memory.status);
    FUZZ_CHECK(streamed.foreign == in_memory.foreign);
    same_fields(streamed.fields, in_memory.fields);
    if (bytes.size() >= rm::kWantedFieldCap) return;
    const rm::HeaderBlock whole = rm::parse_header_block(bytes, true, bytes.size() + 3);
    FUZZ_CHECK(whole.status == streamed.status);
    std::vector<rm::HeaderField> kept;
    for (const auto& f : whole.fields) {
        if (rm::first_field({f}, "Message-ID") || rm::first_field({f}, "X-Retention-Record")) kept.push_back(f);
    }
    same_fields(kept, streamed.fields);
}

void check_block(std::string_view bytes, size_t cap) {
    const rm::HeaderBlock h = rm::parse_header_block(bytes, true, cap);
    if (h.status == rm::HeaderBlock::Status::Ok || h.status == rm::HeaderBlock::Status::NoHeaders) {
        FUZZ_CHECK(h.raw.size() <= cap);
        FUZZ_CHECK(bytes.substr(0, h.raw.size()) == h.raw);
        FUZZ_CHECK(h.body_offset >= h.raw.size() && h.body_offset <= bytes.size());
    }
    if (h.status == rm::HeaderBlock::Status::Ok) FUZZ_CHECK(!h.fields.empty());
    for (const auto& f : h.fields) {
        FUZZ_CHECK(!f.name.empty());
        FUZZ_CHECK(f.name.find(':') == std::string::npos);
        if (!f.value.empty()) FUZZ_CHECK(f.value.front() != ' ' && f.value.front() != '\t');
        FUZZ_CHECK(rm::first_field(h.fields, f.name) != nullptr);
    }

    // The same bytes in a file: read_header_block must see what parse_header_block sees.
    const int fd = ::memfd_create("fuzz", 0);
    FUZZ_CHECK(fd >= 0);
    size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
        FUZZ_CHECK(n > 0);
        off += static_cast<size_t>(n);
    }
    same(h, rm::read_header_block(fd, cap));
    check_fields(bytes, fd);
    ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks the cap: small caps reach the "too large" paths quickly.
    const size_t cap = data[0] < 128 ? data[0] : rm::kHeaderBlockCap;
    const std::string_view in = as_view(data + 1, size - 1);

    const std::string_view first_line = in.substr(0, in.find('\n'));
    check_name(first_line);
    check_folder(first_line);
    check_block(in, cap);
    (void)rm::foreign_format(in);
    return 0;
}
