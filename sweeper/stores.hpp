// The stores one sweep reads: the Maildir store for path entries and [[sweep.files]]
// folders, and a Dovecot store per [[sweep.dovecot]] endpoint, behind one Store that
// hands each call to the store of the root it is about.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "core/config.hpp"
#include "sweeper/dovecot/doveadm.hpp"
#include "sweeper/store.hpp"

namespace rm::sweep {

class Stores : public Store {
public:
    // The clients are made from the config (make_doveadm); `clients` replaces them, one per
    // [[sweep.dovecot]] in config order (tests).
    Stores(const Config& config, const DigestKey& key, std::chrono::seconds settle,
           std::vector<std::unique_ptr<dovecot::Doveadm>> clients = {});
    ~Stores() override;

    void add_roots(Plan& plan, ScanSink& sink) override;
    void scan(Plan& plan, size_t r, ScanSink& sink) override;
    void scan_holds(Plan& plan, size_t r, ScanSink& sink) override;
    std::string sent_folder(const Plan& plan, size_t r) override;
    std::vector<DestroyOutcome> destroy(const Plan& plan, const std::vector<std::vector<FileRef>>& batch) override;
    std::vector<MoveOutcome> move(const Plan& plan, const std::vector<MoveItem>& batch) override;
    int ensure_folder(const Plan& plan, size_t r, const std::string& folder, bool& created) override;
    void report_residues(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                         Summary& summary) override;
    void end_phase2() override;

private:
    const Config& config_;
    std::vector<std::unique_ptr<dovecot::Doveadm>> clients_;
    std::vector<std::unique_ptr<Store>> stores_;  // [0]: Maildir; then one per endpoint

    size_t store_of(const Plan& plan, size_t root) const;
};

}  // namespace rm::sweep
