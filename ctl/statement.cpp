#include "ctl/statement.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "core/strings.hpp"
#include "ctl/words.hpp"

namespace rm::ctl {

std::optional<StatementFormat> parse_statement_format(std::string_view name) {
    if (name == "markdown" || name == "md") return StatementFormat::Markdown;
    if (name == "html") return StatementFormat::Html;
    if (name == "text" || name == "txt") return StatementFormat::Text;
    return std::nullopt;
}

namespace {

using Kind = StatementBlock::Kind;

// "A", "A and B", "A, B and C".
std::string and_list(const std::vector<std::string>& items) {
    if (items.empty()) return {};
    if (items.size() == 1) return items[0];
    std::vector<std::string> head(items.begin(), items.end() - 1);
    return join(head, ", ") + " and " + items.back();
}

std::vector<std::string> line_names(const Config& c) {
    std::vector<std::string> names;
    for (const auto& l : c.lines) names.push_back(l.name);
    return names;
}

StatementBlock heading(std::string text) { return {Kind::Heading, std::move(text), {}}; }
StatementBlock paragraph(std::string text) { return {Kind::Paragraph, std::move(text), {}}; }
StatementBlock bullets(std::vector<std::string> items) { return {Kind::Bullets, {}, std::move(items)}; }

// The longest of the letter-response periods: what the public may rely on.
std::optional<Period> letter_period(const Config& c) {
    std::optional<Period> longest;
    for (const auto& f : c.sweep.files) {
        const auto it = c.policies.find(f.policy);
        if (it == c.policies.end()) continue;
        if (!longest || shortest_days(it->second.retain) > shortest_days(*longest)) longest = it->second.retain;
    }
    return longest;
}

// The heading names the line, so the sentences need not: a display name does not
// always read well after "the".
std::vector<std::string> line_items(const Config& c, const Line& line) {
    std::vector<std::string> items = {
        "Emails sent to this helpline, and our replies to them, are kept for " +
        period_in_words(c.policy_of(line).retain) +
        " from the day they pass through our mail server. Then every copy is destroyed."};
    if (const auto letters = letter_period(c))
        items.push_back("Electronic copies of our responses to letters are kept for " +
                        std::string(c.sweep.files.size() > 1 ? "at most " : "") + period_in_words(*letters) +
                        ", then destroyed.");
    return items;
}

// Slugs such as "police-request" from [holds] reasons, in words for the public.
std::string reason_in_words(const std::string& reason) {
    static const std::map<std::string, std::string> kKnown = {
        {"safeguarding", "when our advisors are concerned for the safety of a child or an adult at risk"},
        {"legal", "when the law requires us to keep it"},
        {"police-request", "when the police ask us to keep it"},
        {"consent", "when the person who wrote to us asks us to keep it, or agrees to it"}};
    if (const auto it = kKnown.find(reason); it != kKnown.end()) return it->second;
    std::string words = reason;
    std::replace(words.begin(), words.end(), '-', ' ');
    std::replace(words.begin(), words.end(), '_', ' ');
    return "for this reason: " + words;
}

void add_where_kept(Statement& s, const Config& c) {
    s.blocks.push_back(heading("Where copies are kept"));
    s.blocks.push_back(paragraph(
        "Copies of emails and of our replies are kept in each helpline's shared mailboxes, including their "
        "Sent and Deleted folders. When an advisor replies from a shared mailbox and their own mailbox keeps "
        "a copy in its Sent folder, that copy is moved to the helpline's mailbox and destroyed on the same "
        "day as every other copy."));
    if (!c.sweep.files.empty())
        s.blocks.push_back(paragraph(
            "Electronic copies of our responses to letters are kept in protected folders that only helpline "
            "staff can open."));
}

void add_destruction(Statement& s, const Config& c) {
    s.blocks.push_back(heading("How copies are destroyed"));
    // Only an overwrite earns the word "securely"; the statement never claims more.
    const std::string how = c.sweep.secure_delete == SecureDelete::Overwrite
                                ? "destroyed securely: the contents of each copy are overwritten before it is deleted"
                                : "destroyed: each copy is deleted permanently";
    s.blocks.push_back(paragraph(
        "Our systems check every day for mail and files that have reached the end of their period. These are " + how +
        ". Each message records the date on which it is due to be destroyed, so "
        "nothing is kept longer by accident."));
}

void add_holds(Statement& s, const Config& c) {
    s.blocks.push_back(heading("When a message is kept longer"));
    s.blocks.push_back(paragraph(
        "A message may be kept beyond its period only while there is a specific reason to keep it, and it is "
        "destroyed once that reason has ended:"));
    std::vector<std::string> items;
    for (const auto& r : c.holds.reasons) items.push_back(reason_in_words(r) + ".");
    if (items.empty()) items.push_back("no such reason is allowed at present: every message is destroyed on time.");
    s.blocks.push_back(bullets(items));
    s.blocks.push_back(paragraph(
        "If our advisors are concerned about the safety of a child or an adult at risk, they may share "
        "information with another agency to make them safer. Where it is possible and safe to do so, we "
        "tell the person who contacted us first."));
}

void add_confidentiality(Statement& s, const Config& c) {
    s.blocks.push_back(heading("Nobody can learn from our systems whether you contacted us"));
    s.blocks.push_back(paragraph(
        "The records our systems keep to destroy mail on time contain no names, email addresses, subjects or "
        "message contents, and we do not use technology to identify the people who contact us. Nobody, "
        "including a partner or former partner, can learn from the helplines' systems whether a person has "
        "made contact. Within " + period_in_words(c.index.digest_grace) +
        " of a message being destroyed, even the record that it existed is erased."));
}

}  // namespace

Statement build_statement(const Config& c) {
    Statement s;
    s.title = "How long we keep emails and letters";
    s.blocks.push_back(paragraph(
        "This statement explains how long " + and_list(line_names(c)) +
        " keep the emails and letters you send us and our replies, where copies are kept, and how they are "
        "destroyed. It is produced from the settings our systems use, so it always describes what they do."));
    for (const auto& line : c.lines) {
        s.blocks.push_back(heading(line.name));
        s.blocks.push_back(bullets(line_items(c, line)));
    }
    add_where_kept(s, c);
    add_destruction(s, c);
    add_holds(s, c);
    add_confidentiality(s, c);
    return s;
}

std::string render_statement(const Config& config, StatementFormat format) {
    return render_statement(build_statement(config), format);
}

}  // namespace rm::ctl
