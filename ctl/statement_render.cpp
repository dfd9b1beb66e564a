// The three formats of the public statement. Display names come from the config, so
// every format escapes them for its own syntax.
#include <sstream>

#include "ctl/statement.hpp"

namespace rm::ctl {

namespace {

constexpr size_t kWidth = 78;

// Greedy word wrap; `first` and `rest` prefix the first and following lines.
std::string wrap(const std::string& text, const std::string& first, const std::string& rest) {
    std::ostringstream out;
    std::istringstream words(text);
    std::string word, line = first;
    bool empty = true;
    while (words >> word) {
        if (!empty && line.size() + 1 + word.size() > kWidth) {
            out << line << "\n";
            line = rest;
            empty = true;
        }
        line += (empty ? "" : " ") + word;
        empty = false;
    }
    out << line << "\n";
    return out.str();
}

std::string escape_markdown(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\`*_[]<>#|").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

std::string markdown(const Statement& s) {
    std::ostringstream out;
    out << "# " << escape_markdown(s.title) << "\n";
    for (const auto& b : s.blocks) {
        out << "\n";
        switch (b.kind) {
            case StatementBlock::Kind::Heading: out << "## " << escape_markdown(b.text) << "\n"; break;
            case StatementBlock::Kind::Paragraph: out << wrap(escape_markdown(b.text), "", ""); break;
            case StatementBlock::Kind::Bullets:
                for (const auto& item : b.items) out << wrap(escape_markdown(item), "- ", "  ");
                break;
        }
    }
    return out.str();
}

std::string text(const Statement& s) {
    std::ostringstream out;
    out << s.title << "\n" << std::string(s.title.size(), '=') << "\n";
    for (const auto& b : s.blocks) {
        out << "\n";
        switch (b.kind) {
            case StatementBlock::Kind::Heading: out << b.text << "\n" << std::string(b.text.size(), '-') << "\n"; break;
            case StatementBlock::Kind::Paragraph: out << wrap(b.text, "", ""); break;
            case StatementBlock::Kind::Bullets:
                for (const auto& item : b.items) out << wrap(item, "  * ", "    ");
                break;
        }
    }
    return out.str();
}

std::string html(const Statement& s) {
    std::ostringstream out;
    out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        << "<title>" << escape_html(s.title) << "</title>\n</head>\n<body>\n"
        << "<h1>" << escape_html(s.title) << "</h1>\n";
    for (const auto& b : s.blocks) {
        switch (b.kind) {
            case StatementBlock::Kind::Heading: out << "<h2>" << escape_html(b.text) << "</h2>\n"; break;
            case StatementBlock::Kind::Paragraph: out << "<p>" << escape_html(b.text) << "</p>\n"; break;
            case StatementBlock::Kind::Bullets:
                out << "<ul>\n";
                for (const auto& item : b.items) out << "<li>" << escape_html(item) << "</li>\n";
                out << "</ul>\n";
                break;
        }
    }
    out << "</body>\n</html>\n";
    return out.str();
}

}  // namespace

std::string escape_html(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string render_statement(const Statement& s, StatementFormat format) {
    switch (format) {
        case StatementFormat::Html: return html(s);
        case StatementFormat::Text: return text(s);
        case StatementFormat::Markdown: break;
    }
    return markdown(s);
}

}  // namespace rm::ctl
