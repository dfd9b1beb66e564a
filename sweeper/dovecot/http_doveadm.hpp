// The Doveadm interface over doveadm's HTTP API (POST [[command, {params}, tag]] to
// .../doveadm/v1, "Authorization: X-Dovecot-API <base64 of doveadm_api_key>"), with
// libcurl. An https url is always verified (peer and host name), against ca_file when
// the endpoint names one.
//
// The commands it sends, for the server's doveadm_allowed_commands (list these and no
// more on a store host that serves the sweeper only):
//   doveadm_allowed_commands = user,mailbox list,mailbox status,mailbox create,fetch,expunge,save,flags add,purge,mailbox cache purge,force-resync
//
// The API key reads every mailbox: its file must be readable by the sweeper's user only.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweeper/dovecot/doveadm.hpp"

namespace rm::sweep::dovecot {

// The API key in `path`: its first line, white space at its ends removed. Throws
// std::runtime_error when the file cannot be read, is empty, or is readable or
// writable by others than its owner and group (mode & 0007).
std::string read_api_key(const std::string& path);

class HttpDoveadm : public Doveadm {
public:
    explicit HttpDoveadm(SweepDovecot endpoint);
    ~HttpDoveadm() override;

    std::vector<std::string> users(const std::string& mask) override;
    bool user_exists(const std::string& user) override;
    std::vector<MailboxStatus> mailboxes(const std::string& user) override;
    char separator(const std::string& user) override;
    std::vector<Fields> fetch(const std::string& user, const std::vector<std::string>& fields,
                              const std::vector<std::string>& query) override;
    void expunge(const std::string& user, const std::vector<std::string>& query) override;
    void create_mailbox(const std::string& user, const std::string& name) override;
    // `save`, then the flags set on the saved message ("flags add"): the received date
    // becomes the time of saving (returns false).
    bool save(const std::string& user, const std::string& mailbox, const std::string& message,
              const std::string& flags, std::optional<std::chrono::system_clock::time_point> received) override;
    void purge(const std::string& user) override;
    void purge_cache(const std::string& user, const std::vector<std::string>& mailboxes) override;
    void force_resync(const std::string& user, const std::string& mailbox_mask) override;
    // Nothing: the store is on another host (or at least not reached through files).
    std::optional<std::string> mailbox_path(const std::string& user, const std::string& mailbox) override;
    std::optional<std::string> fetch_raw(const std::string& user, const std::string& field,
                                         const std::vector<std::string>& query) override;
    std::optional<std::string> setting(const std::string& key, const std::string& protocol) override;
    std::vector<AclEntry> acl(const std::string& user, const std::string& mailbox) override;
    std::vector<std::string> acl_rights(const std::string& user, const std::string& mailbox) override;
    std::string describe() const override;

private:
    // One command; its answer (the doveadmResponse's value). `body` overrides the request
    // body (save: a message's bytes as they are).
    nlohmann::json call(const std::string& command, const nlohmann::json& params, const std::string& body = "");
    std::vector<Fields> rows(const std::string& command, const nlohmann::json& params);
    std::vector<std::string> mailbox_names(const std::string& user, const std::string& pattern);

    SweepDovecot endpoint_;
    std::string authorization_;
    void* curl_ = nullptr;  // CURL*, reused: one connection for the whole sweep
};

}  // namespace rm::sweep::dovecot
