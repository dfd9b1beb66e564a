#include "sweeper/stores.hpp"

#include "sweeper/dovecot/dovecot_store.hpp"
#include "sweeper/maildir_store.hpp"

namespace rm::sweep {

Stores::Stores(const Config& config, const DigestKey& key, std::chrono::seconds settle,
               std::vector<std::unique_ptr<dovecot::Doveadm>> clients)
    : config_(config), clients_(std::move(clients)) {
    stores_.push_back(std::make_unique<MaildirStore>(config, key, settle));
    const auto& endpoints = config.sweep.dovecots;
    for (size_t i = 0; i < endpoints.size(); ++i) {
        if (clients_.size() <= i) clients_.push_back(dovecot::make_doveadm(endpoints[i]));
        stores_.push_back(std::make_unique<dovecot::DovecotStore>(config, endpoints[i], *clients_[i], key));
    }
}

Stores::~Stores() = default;

size_t Stores::store_of(const Plan& plan, size_t root) const {
    const Root& r = plan.roots.at(root);
    if (r.is_files || r.entry < 0) return 0;
    const SweepMailbox& box = config_.sweep.mailboxes.at(static_cast<size_t>(r.entry));
    if (box.store != StoreKind::Dovecot) return 0;
    for (size_t i = 0; i < config_.sweep.dovecots.size(); ++i)
        if (config_.sweep.dovecots[i].name == box.dovecot) return i + 1;
    return 0;  // the config reader lets no entry name a missing endpoint
}

void Stores::add_roots(Plan& plan, ScanSink& sink) {
    for (auto& s : stores_) s->add_roots(plan, sink);
}

void Stores::scan(Plan& plan, size_t r, ScanSink& sink) { stores_[store_of(plan, r)]->scan(plan, r, sink); }

void Stores::scan_holds(Plan& plan, size_t r, ScanSink& sink) { stores_[store_of(plan, r)]->scan_holds(plan, r, sink); }

std::string Stores::sent_folder(const Plan& plan, size_t r) { return stores_[store_of(plan, r)]->sent_folder(plan, r); }

std::vector<DestroyOutcome> Stores::destroy(const Plan& plan, const std::vector<std::vector<FileRef>>& batch) {
    std::vector<std::vector<size_t>> mine(stores_.size());
    for (size_t i = 0; i < batch.size(); ++i)
        mine[batch[i].empty() ? 0 : store_of(plan, batch[i].front().root)].push_back(i);
    std::vector<DestroyOutcome> out(batch.size());
    for (size_t s = 0; s < stores_.size(); ++s) {
        if (mine[s].empty()) continue;
        std::vector<std::vector<FileRef>> part;
        for (const size_t i : mine[s]) part.push_back(batch[i]);
        auto done = stores_[s]->destroy(plan, part);
        for (size_t k = 0; k < mine[s].size(); ++k) out[mine[s][k]] = std::move(done[k]);
    }
    return out;
}

// A copy moves within one store: a Maildir copy into a Maildir, a Dovecot copy into a
// mailbox of the same Dovecot.
std::vector<MoveOutcome> Stores::move(const Plan& plan, const std::vector<MoveItem>& batch) {
    std::vector<std::vector<size_t>> mine(stores_.size());
    std::vector<MoveOutcome> out(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        const size_t s = store_of(plan, batch[i].source.root);
        if (s == store_of(plan, batch[i].dest_root)) mine[s].push_back(i);
        else out[i].skip = Skip::MoveAcrossStores;
    }
    for (size_t s = 0; s < stores_.size(); ++s) {
        if (mine[s].empty()) continue;
        std::vector<MoveItem> part;
        for (const size_t i : mine[s]) part.push_back(batch[i]);
        auto done = stores_[s]->move(plan, part);
        for (size_t k = 0; k < mine[s].size(); ++k) out[mine[s][k]] = std::move(done[k]);
    }
    return out;
}

int Stores::ensure_folder(const Plan& plan, size_t r, const std::string& folder, bool& created) {
    return stores_[store_of(plan, r)]->ensure_folder(plan, r, folder, created);
}

void Stores::report_residues(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                             Summary& summary) {
    std::vector<std::set<std::pair<size_t, std::string>>> mine(stores_.size());
    for (const auto& c : changed) mine[store_of(plan, c.first)].insert(c);
    for (size_t s = 0; s < stores_.size(); ++s) stores_[s]->report_residues(plan, mine[s], summary);
}

void Stores::end_phase2() {
    for (auto& s : stores_) s->end_phase2();
}

}  // namespace rm::sweep
