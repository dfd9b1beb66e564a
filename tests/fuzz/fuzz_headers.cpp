// Header fields and Message-IDs as the milter and the sweeper parse them: the input is a
// header block ("Name: value" lines) given to the tracker one field at a time, then the
// whole plan for a message carrying it (forged copies of our headers, From, Message-ID).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/address.hpp"
#include "core/config.hpp"
#include "core/headers.hpp"
#include "core/message_edits.hpp"
#include "core/policy.hpp"
#include "fuzz_common.hpp"

namespace {

bool has_space(const std::string& s) { return s.find_first_of(" \t\r\n") != std::string::npos; }

void check_message_id(std::string_view value) {
    // Read up to a NUL, as libmilter hands a value over and as the index keys it.
    const auto id = rm::usable_message_id(value);
    const std::string key = rm::message_id_key(value);
    FUZZ_CHECK(key.find('\0') == std::string::npos);
    if (id) {
        FUZZ_CHECK(!id->empty());
        FUZZ_CHECK(!has_space(*id));
        FUZZ_CHECK(id->find_first_of("<>") == std::string::npos);
        FUZZ_CHECK(key == *id);
        // What the index recorded is found again from itself, bracketed or not (staff
        // paste either into retentionctl show).
        FUZZ_CHECK(rm::normalise_message_id(*id) == id);
        FUZZ_CHECK(rm::normalise_message_id("<" + *id + ">") == id);
    }
    FUZZ_CHECK(!has_space(key));
    FUZZ_CHECK(rm::message_id_key(key) == key);
}

void check_address(std::string_view value) {
    for (const auto& a : {rm::parse_address(value), rm::parse_from_header(value)}) {
        if (!a) continue;
        FUZZ_CHECK(!a->local.empty() || !a->domain.empty());
        FUZZ_CHECK(!a->domain.empty());
        FUZZ_CHECK(a->domain.back() != '.');
        // A normalised address reads back as itself.
        const auto again = rm::parse_address(a->text());
        if (again) FUZZ_CHECK(again->domain == a->domain);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const rm::Config config = rm::parse_config(kFuzzConfig, "fuzz.toml");
    const std::string_view in = as_view(data, size);

    check_message_id(in);
    check_address(in);

    rm::HeaderTracker tracker;
    size_t pos = 0;
    while (pos < in.size()) {
        size_t eol = in.find('\n', pos);
        if (eol == std::string_view::npos) eol = in.size();
        const std::string_view line = in.substr(pos, eol - pos);
        pos = eol + 1;
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        tracker.add(line.substr(0, colon), line.substr(colon + 1));
        check_message_id(line.substr(colon + 1));
    }

    for (int variant = 0; variant < 3; ++variant) {
        rm::MessageFacts facts;
        facts.envelope_sender = variant == 0 ? "<caller@example.net>" : "<info@respectphoneline.org.uk>";
        facts.recipients = {variant == 2 ? "<someone@example.net>" : "<info@mensadviceline.org.uk>"};
        facts.header_from = tracker.from();
        facts.trusted = variant != 0;
        facts.passed_at = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000);
        const rm::MessagePlan plan = rm::plan_message(config, facts, tracker, "mx.example.org", [] { return 0.25; });
        // A refusal for good edits and records nothing; it comes only for a flood.
        FUZZ_CHECK(plan.refuse_forged == tracker.too_many_forged());
        if (plan.refuse_forged || plan.refuse_message_ids) {
            FUZZ_CHECK(tracker.too_many_forged() || tracker.too_many_message_ids());
            FUZZ_CHECK(plan.edits.empty() && plan.review_recipients.empty() && plan.message_id.empty());
            continue;
        }
        if (plan.decision.helpline()) FUZZ_CHECK(!plan.message_id.empty());
        // Every incoming copy of our headers is deleted, helpline mail or not, and only
        // those (and, in helpline mail, every Message-ID but the one kept: a bounded number).
        int deletes = 0;
        for (const auto& e : plan.edits) {
            if (e.kind != rm::HeaderEdit::Kind::Delete) continue;
            if (rm::our_header_slot(e.name) || rm::is_record_header(e.name)) ++deletes;
            else FUZZ_CHECK(e.name == "Message-ID" && plan.decision.helpline());
        }
        int id_deletes = 0;
        for (const auto& e : plan.edits) id_deletes += e.kind == rm::HeaderEdit::Kind::Delete && e.name == "Message-ID";
        FUZZ_CHECK(id_deletes <= rm::kMaxForgedCopies);
        int forged = tracker.record_count();
        for (size_t s = 0; s < rm::kOurHeaders.size(); ++s) forged += tracker.count(s);
        FUZZ_CHECK(deletes == forged);
    }
    return 0;
}
