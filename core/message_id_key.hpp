// The key the index uses for a message: which Message-ID header value counts, read as
// libmilter reads it. The milter, the sweeper's scan and retentionctl all key a message
// here, so that they agree.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rm {

// `bytes` with every byte that does not begin a well-formed UTF-8 sequence (RFC 3629: no
// overlong form, no surrogate, nothing above U+10FFFF, nothing cut off) replaced by U+FFFD,
// one U+FFFD per such byte: what Dovecot's JSON output (doveadm -f json and its HTTP API)
// makes of a header. Keys are computed over this form so that a Message-ID read from the
// message file (the milter, the Maildir scan) and one read through doveadm key the same;
// valid UTF-8, and so every ASCII id, is unchanged. (doveadm converts a header in blocks of
// 8 KiB: a character cut by a block's end becomes U+FFFD too, which no form of the bytes
// alone can foresee. Only ids after 8 KiB of header with 8-bit bytes are concerned.)
std::string dovecot_json_utf8(std::string_view bytes);

// A header value as libmilter hands it over: up to its first NUL byte. The sweeper reads
// the file's bytes and cuts them the same way, so both key the same text.
std::string_view up_to_nul(std::string_view value);

// The id in a Message-ID header value (read up to a NUL, then in the dovecot_json_utf8
// form), or nothing when the value holds no usable id: empty, "<>", a lone "<", white
// space inside a bare id...
std::optional<std::string> usable_message_id(std::string_view value);

// The key the index uses for a Message-ID header value: usable_message_id() when it
// finds an id, else the value with its white space removed (how a malformed id was keyed
// before the milter replaced such ids; a pasted id is keyed the same way). Empty for an
// empty value. In the dovecot_json_utf8 form.
std::string message_id_key(std::string_view value);
// The key as it was before keys took the dovecot_json_utf8 form: rows the milter wrote
// then for an id with invalid UTF-8 carry it. Equal to message_id_key() for valid UTF-8.
std::string raw_message_id_key(std::string_view value);

// The Message-ID a header block is indexed by, given every Message-ID value in order: the
// first usable one. The milter deletes the unusable ones before it, so it is also the one
// mail clients show. With none usable, message_id_key() of the first; empty with none.
std::string indexed_message_id(const std::vector<std::string_view>& values);
// The same as keys were made before they took the dovecot_json_utf8 form (the bytes as
// they are); equal to indexed_message_id() for valid UTF-8.
std::string legacy_indexed_message_id(const std::vector<std::string_view>& values);
// How many leading Message-ID headers are unusable (all of them when none is usable).
size_t unusable_message_ids_first(const std::vector<std::string_view>& values);

}  // namespace rm
