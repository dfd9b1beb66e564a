// Dovecot's admin interface as the Dovecot store uses it: the handful of doveadm commands
// the sweep needs, whichever way doveadm is reached. Two clients implement it: the local
// doveadm program (local_doveadm.hpp), and doveadm's HTTP API (http_doveadm.hpp). The
// store (dovecot_store.hpp) speaks only to this interface.
//
// Values are bytes as doveadm's JSON output gives them (the HTTP API's and the program's
// "-f json" formatter are the same): a NUL in a header comes back as a NUL, but invalid
// UTF-8 comes back replaced by U+FFFD (message_id_key.hpp keys Message-IDs over that form).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "sweeper/dovecot/acl.hpp"

namespace rm::sweep::dovecot {

// Why a doveadm call failed. The store turns each into a reported skip or a config error
// naming the [[sweep.mailbox]] entry, never a user's address.
class DoveadmError : public std::runtime_error {
public:
    enum class Kind {
        Unreachable,    // doveadm could not be run, or the API not connected (Dovecot down)
        Refused,        // wrong API key, or a command the server does not allow
        NoSuchUser,     // doveadm's exit code 67
        NoSuchMailbox,  // exit code 68 (EX_NOUSER is 67; doveadm uses 68 for a missing mailbox)
        TempFail,       // exit code 75: try again later
        BadAnswer,      // an answer cut off in the middle, or not the JSON expected
        Failed,         // any other failure
    };
    DoveadmError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

// One message's fields, by doveadm's field names ("uid", "guid", "hdr", "flags",
// "date.received.unixtime", ...).
using Fields = std::map<std::string, std::string>;

// One mailbox (folder) of a user, as "mailbox status" reports it. `name` is as Dovecot
// names it, with its own hierarchy separator and namespace prefix.
struct MailboxStatus {
    std::string name;
    std::string guid;
    std::string uidvalidity;
    long messages = 0;
};

class Doveadm {
public:
    virtual ~Doveadm() = default;

    // The users a mask ("*@respect.example") matches, through the userdb's iteration
    // (doveadm user -u MASK / the API's "user" command). Throws DoveadmError when the
    // userdb cannot iterate: never an empty list for "cannot tell".
    virtual std::vector<std::string> users(const std::string& mask) = 0;
    // Whether `user` exists (a userdb lookup).
    virtual bool user_exists(const std::string& user) = 0;
    // Every mailbox of `user` ("mailbox status -u USER 'guid uidvalidity messages' '*'"),
    // and the hierarchy separator of its namespace ("mailbox list" / "namespace").
    virtual std::vector<MailboxStatus> mailboxes(const std::string& user) = 0;
    virtual char separator(const std::string& user) = 0;
    // "fetch -u USER FIELDS QUERY": one Fields per message the search query matches, e.g.
    // query {"mailbox-guid", G, "uid", "1:*"}.
    virtual std::vector<Fields> fetch(const std::string& user, const std::vector<std::string>& fields,
                                      const std::vector<std::string>& query) = 0;
    // fetch(), for the check of what is left after an expunge, where no row means destroyed:
    // the local program also fails when doveadm reported an error yet exited 0, as it does
    // when it cannot list a user's mailboxes at all (it then answers nothing).
    virtual std::vector<Fields> fetch_left(const std::string& user, const std::vector<std::string>& fields,
                                           const std::vector<std::string>& query) {
        return fetch(user, fields, query);
    }
    // "expunge -u USER QUERY".
    virtual void expunge(const std::string& user, const std::vector<std::string>& query) = 0;

    // Several users at once, in one doveadm run where the client can ("-F FILE": the local
    // program; each run costs a process and a reading of Dovecot's config, which is most of
    // a sweep's time). In such a run doveadm skips a user that does not exist and still
    // succeeds, and stops at one whose look-up fails: so these answer nothing rather than
    // an error (as they do when doveadm reported any error), and the caller then asks each
    // user alone, where a failure is that user's.
    //
    // fetch() of `query` for each of `users`, each row naming its user in "username";
    // nothing when this client cannot or the run failed.
    virtual std::optional<std::vector<Fields>> fetch_for_users(const std::vector<std::string>& users,
                                                               const std::vector<std::string>& fields,
                                                               const std::vector<std::string>& query) {
        (void)users, (void)fields, (void)query;
        return std::nullopt;
    }
    // expunge() of `query` for each of `users`; false when this client cannot or the run
    // failed (some of them may have been expunged: an expunge again takes nothing more).
    virtual bool expunge_for_users(const std::vector<std::string>& users, const std::vector<std::string>& query) {
        (void)users, (void)query;
        return false;
    }
    // mailbox_path() of `mailbox` for each of `users`: user -> path, a user missing from
    // it to be asked alone; nothing when this client cannot or the run failed.
    virtual std::optional<std::map<std::string, std::string>> mailbox_paths(const std::vector<std::string>& users,
                                                                            const std::string& mailbox) {
        (void)users, (void)mailbox;
        return std::nullopt;
    }
    // purge_cache() of the same `mailboxes` for each of `users`; false when this client
    // cannot or the run failed.
    virtual bool purge_cache_for_users(const std::vector<std::string>& users, const std::vector<std::string>& mailboxes) {
        (void)users, (void)mailboxes;
        return false;
    }
    // Whether each of `users` exists, asked in one look-up: false when one does not, or
    // this client cannot tell them all at once.
    virtual bool all_exist(const std::vector<std::string>& users) {
        (void)users;
        return false;
    }
    // "mailbox create -u USER NAME"; an existing mailbox is not an error.
    virtual void create_mailbox(const std::string& user, const std::string& name) = 0;
    // Puts `message` (the whole message, bytes as they are) into `mailbox` of `user` with
    // the IMAP `flags` and received date. Returns false when this client could not keep the
    // received date (then the store reports what it kept). The local client writes a
    // staging Maildir and imports it ("doveadm import"); the API saves, then sets flags.
    virtual bool save(const std::string& user, const std::string& mailbox, const std::string& message,
                      const std::string& flags, std::optional<std::chrono::system_clock::time_point> received) = 0;
    // "purge -u USER": frees the space of expunged mail in mdbox storage.
    virtual void purge(const std::string& user) = 0;
    // purge() of each of `users`, every one tried: returns those that failed, each with
    // its error's text. The local client purges them all in one doveadm run ("purge -F
    // FILE"): each run costs a process and a reading of Dovecot's config.
    virtual std::map<std::string, std::string> purge_each(const std::vector<std::string>& users) {
        std::map<std::string, std::string> failed;
        for (const auto& user : users) {
            try {
                purge(user);
            } catch (const DoveadmError& e) {
                failed.emplace(user, e.what());
            }
        }
        return failed;
    }
    // "mailbox cache purge -u USER MAILBOX...": rewrites each mailbox's dovecot.index.cache
    // without the records of expunged messages (their header fields and snippets).
    virtual void purge_cache(const std::string& user, const std::vector<std::string>& mailboxes) = 0;
    // "force-resync -u USER MASK".
    virtual void force_resync(const std::string& user, const std::string& mailbox_mask) = 0;
    // The file-system path of `mailbox` of `user` ("mailbox path"), where this client runs
    // on the store's host; nothing over the API (then nothing can be overwritten in place).
    virtual std::optional<std::string> mailbox_path(const std::string& user, const std::string& mailbox) = 0;
    // One field of the one message `query` matches, its bytes exactly as stored: "text"
    // (the whole message) or "hdr" ("fetch -f pager FIELD QUERY": the pager formatter
    // passes bytes on as they are, where JSON replaces invalid UTF-8). Nothing when this
    // client cannot (the HTTP API answers in JSON only) or the query matches no message.
    virtual std::optional<std::string> fetch_raw(const std::string& user, const std::string& field,
                                                 const std::vector<std::string>& query) = 0;
    // A Dovecot setting as doveconf gives it ("doveadm config [-f protocol=P] -h KEY"),
    // for what the sweeper must report but cannot clear (full-text search indexes,
    // mail_attachment_dir). Nothing when this client cannot ask (the HTTP API cannot).
    virtual std::optional<std::string> setting(const std::string& key, const std::string& protocol) = 0;
    // The ACL of `mailbox` of `user` ("acl get -u USER MAILBOX"): fails (Failed or
    // Refused) where Dovecot's acl plugin is not loaded.
    virtual std::vector<AclEntry> acl(const std::string& user, const std::string& mailbox) = 0;
    // What `user` itself may do in its `mailbox` ("acl rights -u USER MAILBOX"), as Dovecot
    // resolves its ACL: "lookup", "read", "insert", ...
    virtual std::vector<std::string> acl_rights(const std::string& user, const std::string& mailbox) = 0;
    // A name for the summary and the logs: the endpoint's name, never a user.
    virtual std::string describe() const = 0;
};

// The client for one [[sweep.dovecot]] endpoint: the HTTP API when it has a url, else the
// local program. Throws std::runtime_error when the API key cannot be read.
std::unique_ptr<Doveadm> make_doveadm(const SweepDovecot& endpoint);

}  // namespace rm::sweep::dovecot
