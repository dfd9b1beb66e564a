// `retentionctl show`: what the index knows of one message, which is its line,
// direction, policy, dates, state and holds, and nothing that identifies anyone.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "db/index.hpp"

namespace rm::ctl {

struct MessageView {
    std::vector<MessageRow> rows;  // one per time the message passed the milter
    std::vector<Hold> holds;       // history, oldest first; at most one without release
};

MessageView lookup_message(const Index& index, const Digest& digest);

// `today` decides the words for a present row ("destroyed on or after ...").
std::string render_show_text(const Config& config, const MessageView& view, Date today);
nlohmann::json show_json(const Config& config, const MessageView& view, Date today);

// "mens-advice-line (Men's Advice Line)", or "a, b" for a message of two lines.
std::string describe_lines(const Config& config, const std::string& tags);

// A row's state in words: "kept until 2026-08-01", "destroyed 2026-08-02 03:10 UTC (2 copies)".
std::string describe_state(const MessageRow& row, Date today, bool held);

}  // namespace rm::ctl
