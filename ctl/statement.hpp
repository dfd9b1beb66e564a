// `retentionctl statement`: the public retention statement, generated from the config
// the milter and the sweeper enforce, so the published words cannot drift from the
// system. Plain English; no address, host name or path ever appears in it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace rm::ctl {

enum class StatementFormat { Markdown, Html, Text };
std::optional<StatementFormat> parse_statement_format(std::string_view name);

// The statement as structured text, before it is given a format.
struct StatementBlock {
    enum class Kind { Heading, Paragraph, Bullets };
    Kind kind = Kind::Paragraph;
    std::string text;                // Heading, Paragraph
    std::vector<std::string> items;  // Bullets
};

struct Statement {
    std::string title;
    std::vector<StatementBlock> blocks;
};

Statement build_statement(const Config& config);
std::string render_statement(const Statement& s, StatementFormat format);
std::string render_statement(const Config& config, StatementFormat format);

// Text made safe for HTML element content and quoted attribute values.
std::string escape_html(const std::string& s);

}  // namespace rm::ctl
