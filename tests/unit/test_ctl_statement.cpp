// The public retention statement: generated from the config, every line and period in
// it, in words; never an address, domain, host or path.
#include <gtest/gtest.h>

#include <regex>

#include "core/config.hpp"
#include "ctl/statement.hpp"
#include "ctl_test_util.hpp"

using namespace rm;
using namespace rm::ctl;
using namespace ctltest;

namespace {

// The statement's text with its line breaks and runs of spaces made single spaces: the
// text and Markdown formats wrap lines, and a phrase may straddle a break.
std::string flat(const std::string& s) {
    std::string out;
    for (char c : s) {
        const char x = c == '\n' ? ' ' : c;
        if (x == ' ' && !out.empty() && out.back() == ' ') continue;
        out += x;
    }
    return out;
}

Config example() { return load_config(std::string(RM_SOURCE_DIR) + "/conf/retention.toml"); }

Config example_with(const std::string& from, const std::string& to) {
    const std::string text = replace_all(example_config_text(), from, to);
    return parse_config(text, "retention.toml");
}

// Everything in the config that must never reach the public: addresses, domains, paths.
std::vector<std::string> secrets(const Config& c) {
    std::vector<std::string> out;
    for (const auto& l : c.lines) {
        for (const auto& a : l.addresses) out.push_back(a);
        for (const auto& d : l.domains) out.push_back(d);
        if (l.review_mailbox) out.push_back(*l.review_mailbox);
    }
    for (const auto& m : c.sweep.mailboxes) out.push_back(m.path);
    for (const auto& f : c.sweep.files) out.push_back(f.path);
    out.push_back(c.index.path);
    out.push_back(c.index.key_file);
    out.push_back("respect.org.uk");
    out.push_back("/var/");
    out.push_back("/srv/");
    out.push_back("/etc/");
    out.push_back("@");
    return out;
}

// Every one of `phrases` is in the statement `s`; a failure names the missing phrase.
void expect_says(const std::string& s, std::initializer_list<std::string_view> phrases) {
    for (const auto phrase : phrases) EXPECT_NE(s.find(phrase), std::string::npos) << phrase << " is not in:\n" << s;
}

}  // namespace

TEST(CtlStatement, NamesEveryLineAndPeriodOfTheExampleConfig) {
    const Config c = example();
    for (auto format : {StatementFormat::Markdown, StatementFormat::Text, StatementFormat::Html}) {
        const std::string s = flat(render_statement(c, format));
        for (const auto& l : c.lines) {
            const std::string name = format == StatementFormat::Html ? "Men&#39;s Advice Line" : l.name;
            EXPECT_NE(s.find(l.name == "Men's Advice Line" ? name : l.name), std::string::npos) << l.name;
        }
        expect_says(s, {"six months", "two months", "destroyed securely", "Sent and Deleted folders",
                        "whether a person has made contact", "child or an adult at risk"});
        EXPECT_EQ(s.find("6 months"), std::string::npos);
    }
}

TEST(CtlStatement, ContainsNoAddressDomainHostOrPath) {
    Config c = example();
    c.lines[0].review_mailbox = "quality-review@respectphoneline.org.uk";
    for (auto format : {StatementFormat::Markdown, StatementFormat::Text, StatementFormat::Html}) {
        const std::string s = render_statement(c, format);
        for (const auto& secret : secrets(c)) EXPECT_EQ(s.find(secret), std::string::npos) << secret;
        EXPECT_EQ(s.find(".org"), std::string::npos);
        EXPECT_EQ(s.find("http"), std::string::npos);
        if (format != StatementFormat::Html) {
            EXPECT_EQ(s.find('/'), std::string::npos) << s;
        }
    }
}

TEST(CtlStatement, ChangesWhenAPeriodChanges) {
    const std::string before = flat(render_statement(example(), StatementFormat::Text));
    const std::string after =
        flat(render_statement(example_with("retain = \"6 months\"", "retain = \"180 days\""), StatementFormat::Text));
    EXPECT_NE(before, after);
    EXPECT_NE(after.find("180 days"), std::string::npos);
    EXPECT_EQ(after.find("six months"), std::string::npos);
    const std::string letters =
        flat(render_statement(example_with("retain = \"2 months\"", "retain = \"3 months\""), StatementFormat::Text));
    EXPECT_NE(letters.find("three months"), std::string::npos);
    EXPECT_EQ(letters.find("two months"), std::string::npos);
}

TEST(CtlStatement, EachLineGetsItsOwnPolicy) {
    Config c = example();
    c.policies["short"] = PolicyDef{"short", {Period::Unit::Days, 90}};
    c.lines[1].policy = "short";
    const std::string s = flat(render_statement(c, StatementFormat::Markdown));
    const auto first = s.find("## Respect Phoneline"), second = s.find("## Men's Advice Line");
    ASSERT_NE(first, std::string::npos);
    ASSERT_NE(second, std::string::npos);
    EXPECT_NE(s.substr(first, second - first).find("six months"), std::string::npos);
    EXPECT_NE(s.substr(second).find("90 days"), std::string::npos);
}

TEST(CtlStatement, WithoutLetterFoldersSaysNothingAboutLetters) {
    Config c = example();
    c.sweep.files.clear();
    EXPECT_EQ(flat(render_statement(c, StatementFormat::Text)).find("letters are kept"), std::string::npos);
}

TEST(CtlStatement, HtmlIsACompleteEscapedDocument) {
    Config c = example();
    c.lines[0].name = "<script>alert(1)</script> & Co";
    const std::string s = render_statement(c, StatementFormat::Html);
    EXPECT_EQ(s.rfind("<!DOCTYPE html>", 0), 0u);
    expect_says(s, {"<html lang=\"en\">", "<meta charset=\"utf-8\">", "</html>",
                    "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"});
    EXPECT_EQ(s.find("<script>"), std::string::npos);
}

TEST(CtlStatement, MarkdownEscapesNamesAndTextWraps) {
    Config c = example();
    c.lines[0].name = "Line *one* [beta]";
    const std::string md = render_statement(c, StatementFormat::Markdown);
    EXPECT_NE(md.find("## Line \\*one\\* \\[beta\\]"), std::string::npos) << md;
    for (auto format : {StatementFormat::Markdown, StatementFormat::Text}) {
        std::istringstream in(render_statement(c, format));
        for (std::string line; std::getline(in, line);) EXPECT_LE(line.size(), 78u) << line;
    }
}

TEST(CtlStatement, OnlyMarkdownHtmlAndTextAreFormats) {
    EXPECT_EQ(parse_statement_format("markdown"), StatementFormat::Markdown);
    EXPECT_EQ(parse_statement_format("html"), StatementFormat::Html);
    EXPECT_EQ(parse_statement_format("text"), StatementFormat::Text);
    EXPECT_FALSE(parse_statement_format("pdf"));
}
