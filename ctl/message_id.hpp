// Message-IDs as staff paste them into retentionctl, turned into the key the milter
// used for the index. The two must agree byte for byte, or a hold would miss its message.
#pragma once

#include <string>
#include <string_view>

namespace rm::ctl {

struct PastedId {
    std::string key;           // what the milter digested: message_id_key() of the same text
    bool well_formed = false;  // it looked like <local@domain>; used only to word a "not found"
};

// Accepts "<id@host>", "id@host", either with surrounding spaces, and a whole header
// line ("Message-ID: <id@host>"). Throws CtlError (exit 2) when nothing usable is
// there: empty, control characters, or longer than a header line may be. The error
// never repeats the value: a Message-ID can name the sender's host.
PastedId parse_pasted_message_id(std::string_view pasted);

}  // namespace rm::ctl
