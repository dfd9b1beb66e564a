#include "core/review.hpp"

#include "core/random.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace rm {

double secure_uniform() {
    std::uint64_t r = 0;
    const std::string bytes = random_bytes(sizeof r, "review sampling");
    std::memcpy(&r, bytes.data(), sizeof r);
    return static_cast<double>(r >> 11) / static_cast<double>(std::uint64_t{1} << 53);
}

std::vector<std::string> review_recipients(const Decision& decision, const UniformRandom& uniform) {
    std::vector<std::string> out;
    if (decision.direction != Direction::Outbound) return out;
    for (const Line* l : decision.lines) {
        if (!l->review_mailbox || l->review_sample <= 0.0) continue;
        if (uniform() >= l->review_sample) continue;
        const std::string rcpt = "<" + *l->review_mailbox + ">";
        if (std::find(out.begin(), out.end(), rcpt) == out.end()) out.push_back(rcpt);
    }
    return out;
}

bool samples_reviews(const Config& config) {
    return std::any_of(config.lines.begin(), config.lines.end(),
                       [](const Line& l) { return l.review_mailbox && l.review_sample > 0; });
}

}  // namespace rm
