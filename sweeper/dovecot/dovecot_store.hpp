// The Dovecot store: [[sweep.mailbox]] entries that name Dovecot users (one user for a
// shared mailbox, a mask for personal ones) at one [[sweep.dovecot]] endpoint, read and
// changed through doveadm only, whatever the mailbox format behind it.
//
// A message is named by its mailbox's GUID and its UID (FileRef: folder = the mailbox's
// name, name = the UID); a UID is never given to another message of the mailbox while its
// UIDVALIDITY stays, so phase 2 acts on the message the scan read or on nothing.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/fs.hpp"
#include "sweeper/dovecot/doveadm.hpp"
#include "sweeper/dovecot/kept_elsewhere.hpp"
#include "sweeper/store.hpp"

namespace rm::sweep::dovecot {

// How a mailbox stores its messages, as far as the sweep can tell from its path: what
// can be overwritten in place (Maildir files, sdbox files) and what Dovecot rewrites
// (mbox files, mdbox storage after a purge).
enum class MailFormat { Unknown, Maildir, Sdbox, Mdbox, Mbox };
MailFormat format_of_mailbox_path(const std::string& path);

// The Dovecot names a folder written "Sent/2024" may have: with the user's separator, and
// with the namespace prefix "INBOX<sep>" some servers use.
std::vector<std::string> dovecot_names(const std::string& folder, char separator);

// Where a Maildir folder `name` may be, told from the path of another folder `known` of
// the same namespace: beside it in Maildir++ (".Sent") or in LAYOUT=fs ("Sent"), INBOX at
// the root. Candidates only: each is to be checked (the folder's dovecot-uidlist).
std::vector<std::string> paths_beside(const std::string& path, const std::string& known, const std::string& name,
                                      char separator);

// "1:3,7,9:10" for the UIDs given (sorted or not).
std::string uid_set(std::vector<unsigned long> uids);

// A search query matching what any of `queries` matches: "( Q1 ) OR ( Q2 ) ...".
std::vector<std::string> any_of(const std::vector<std::vector<std::string>>& queries);

class DovecotStore : public Store {
public:
    DovecotStore(const Config& config, const SweepDovecot& endpoint, Doveadm& doveadm, const DigestKey& key);

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

    // Whether this store serves the [[sweep.mailbox]] entry `e`.
    bool serves(size_t e) const;

private:
    struct Mailbox {
        MailboxStatus status;
        FolderRole role = FolderRole::Shared;
        bool lazy_expunge = false;
        std::optional<MailFormat> format;  // looked up in phase 2
        std::optional<std::string> path;   // with the format, where doveadm runs on the store's host
    };
    struct RootState {
        std::string user;
        char separator = '/';
        std::map<std::string, Mailbox> mailboxes;  // by Dovecot name
        bool purge = false;  // mdbox (or a format unknown over the API) changed: purge after
        bool purge_failed = false;  // that purge failed: the destroyed messages are still in its storage
        std::optional<std::string> path_asked;  // a folder whose path doveadm gave
    };
    struct Walk;
    struct KeptElsewhereOrUnknown {
        KeptElsewhere kept;
        bool unknown = false;  // doveconf failed
    };
    std::optional<KeptElsewhereOrUnknown> kept_elsewhere_;
    std::optional<bool> single_namespace_;

    const Config& config_;
    const SweepDovecot& endpoint_;
    Doveadm& doveadm_;
    const DigestKey& key_;
    std::map<size_t, RootState> roots_;
    std::set<std::pair<size_t, std::string>> created_;

    const SweepMailbox& entry_of(const Root& root) const;
    void add_user_root(Plan& plan, size_t e, const std::string& user);
    void expand_mask(Plan& plan, size_t e, ScanSink& sink);
    std::optional<std::string> existing_name(const RootState& rs, const std::string& folder) const;
    std::string new_folder_name(const RootState& rs, const std::string& folder) const;
    std::string create_mailbox(RootState& rs, const std::string& folder);
    std::optional<FolderRole> role_of(const Root& root, const RootState& rs, const std::string& name) const;
    void scan_folders(Walk& w, const std::vector<std::string>& names);
    std::optional<std::set<std::string>> vanished_folders(Walk& w, const std::vector<std::string>& names,
                                                          const std::map<std::string, std::vector<Fields>>& listed);
    void unlisted(Walk& w, const std::string& name, const DoveadmError& e);
    void scan_mailbox(Walk& w, const std::string& name, const Mailbox& box);
    void scan_hold_folders(Walk& w, const SweepMailbox& box);
    void scan_release_folder(Walk& w, const SweepMailbox& box);
    std::optional<std::string> release_unguarded(const std::string& user, const std::string& folder,
                                                 const SweepMailbox& box);
    // A folder's messages the scan cache does not know, and every listed one's received date.
    struct Listing {
        std::vector<unsigned long> unknown;
        std::map<unsigned long, std::optional<Date>> received;
    };
    bool take_listing(Walk& w, const std::string& name, const Mailbox& box, const std::vector<Fields>& listed,
                      Listing& listing);
    void read_folder_headers(Walk& w, const std::string& name, const Mailbox& box, const Listing& listing);
    void read_all_headers(Walk& w, const std::map<std::string, Listing>& listings);
    void read_headers_across(Walk& w, const std::map<std::string, Listing>& part);
    void take_header(Walk& w, const std::string& name, const Mailbox& box, unsigned long uid, const std::string& hdr,
                     const std::optional<Date>& received);
    void read_headers(Walk& w, const std::string& name, const Mailbox& box, const std::vector<unsigned long>& uids,
                      const std::map<unsigned long, std::optional<Date>>& received);
    std::string identity(const std::string& user, const MailboxStatus& box, unsigned long uid) const;
    bool add_legacy_key(const std::string& user, const Mailbox& box, unsigned long uid, const HeaderFacts& facts,
                        Index::FileKeys& keys);
    MailFormat format(size_t r, const std::string& name);
    std::optional<MailFormat> format_beside(RootState& rs, const std::string& name);
    bool single_namespace();
    struct UserDestroy;
    UserDestroy user_part(size_t r, const std::map<std::string, std::vector<size_t>>& by_mailbox,
                          const std::vector<std::vector<FileRef>>& batch);
    void ask_formats_together(const std::vector<UserDestroy>& users);
    void prepare_expunge(UserDestroy& u);
    void destroy_alone(UserDestroy& u);
    void check_left_alone(UserDestroy& u);
    bool destroy_together(std::vector<UserDestroy>& users);
    std::optional<std::vector<Fields>> fetch_for_users(const std::map<std::string, UserDestroy*>& by_name,
                                                       const std::vector<std::string>& names,
                                                       const std::vector<std::string>& fields,
                                                       const std::vector<std::string>& query);
    void check_left_together(const std::map<std::string, UserDestroy*>& by_name, const std::vector<std::string>& acting,
                             const std::vector<std::string>& query);
    void account_user(UserDestroy& u, const std::vector<std::vector<FileRef>>& batch, std::vector<DestroyOutcome>& out);
    void account_destroyed(size_t r, const std::string& name, const std::vector<size_t>& items,
                           const std::vector<std::vector<FileRef>>& batch,
                           const std::set<std::pair<std::string, unsigned long>>& before,
                           const std::set<std::pair<std::string, unsigned long>>& left,
                           std::map<unsigned long, UniqueFd>& files, std::vector<DestroyOutcome>& out);
    std::map<unsigned long, UniqueFd> open_in_place(size_t r, const std::string& name, const std::vector<Fields>& present);
    void purge_caches(const std::set<std::pair<size_t, std::string>>& changed, Summary& summary);
    const KeptElsewhereOrUnknown& kept_elsewhere_once();
    void report_kept_elsewhere(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                               Summary& summary);
    void expunge_lazy_copies(size_t r, const std::set<std::string>& guids);
    MoveOutcome move_one(const Plan& plan, const MoveItem& item);
    std::optional<std::string> exact_text(const std::string& user, const std::vector<std::string>& query,
                                          const std::string& json_text);
};

}  // namespace rm::sweep::dovecot
