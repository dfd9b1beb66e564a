// The receipt chain: each real run appends the digests of the messages it destroyed, with
// its counts. A run killed before its receipt leaves its record (kMetaInProgress) so that
// the next run adds what the killed one destroyed.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "db/index.hpp"
#include "sweeper/own_files.hpp"
#include "sweeper/summary.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

class Receipts {
public:
    // A digest whose rows this run marked destroyed (each joins the receipt once).
    void add(const Digest& d);
    size_t size() const { return digests_.size(); }

    // Digests recovered from an interrupted run that did destroy them; returns when the
    // earliest run whose digests are still to be receipted started.
    std::chrono::system_clock::time_point recover_interrupted(const Index& index,
                                                              std::chrono::system_clock::time_point now);
    // The digests this run is about to destroy, so that a run killed before its receipt
    // still gets them into the receipt chain: the next run adds those that were destroyed.
    // Digests recovered from an earlier killed run are carried on, with its start time.
    void write_in_progress(Index& index, const Plan& plan, std::chrono::system_clock::time_point started,
                           const OwnFiles& own) const;
    // Appends this run's receipt.
    void append(Index& index, std::chrono::system_clock::time_point run_at, Date today, const Summary& summary,
                int exit_code) const;

private:
    std::vector<Digest> digests_;
    std::set<Digest> seen_;
};

}  // namespace rm::sweep
