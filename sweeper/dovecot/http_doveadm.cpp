#include "sweeper/dovecot/http_doveadm.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>

#include "core/message_id_key.hpp"
#include "sweeper/dovecot/local_doveadm.hpp"

namespace rm::sweep::dovecot {

using json = nlohmann::json;
using Kind = DoveadmError::Kind;

namespace {

std::string base64(const std::string& in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

size_t append_body(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

// A JSON string of `bytes` as they are: Dovecot's parser takes 8-bit bytes raw, so a
// message with invalid UTF-8 is saved byte for byte (a JSON library would re-encode it).
std::string json_string_of_bytes(const std::string& bytes) {
    std::string out = "\"";
    for (unsigned char c : bytes) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out + "\"";
}

std::string text_of(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return v.dump();
}

bool has_wildcard(const std::string& s) { return s.find_first_of("*?") != std::string::npos; }

std::vector<std::string> words(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find(' ', start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// A header block as Dovecot's JSON gives it back: LF line ends, invalid UTF-8 replaced.
std::string header_as_fetched(const std::string& message) {
    std::string header = message.substr(0, message.find("\r\n\r\n") != std::string::npos ? message.find("\r\n\r\n") + 4
                                                                                           : message.find("\n\n") + 2);
    header.erase(std::remove(header.begin(), header.end(), '\r'), header.end());
    return dovecot_json_utf8(header);
}

}  // namespace

std::string read_api_key(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("the API key file " + path + " cannot be read");
    if ((st.st_mode & 0007) != 0) {
        throw std::runtime_error("the API key file " + path +
                                 " is open to every user of the host (it reads every mailbox): chmod o-rwx it");
    }
    std::ifstream in(path);
    std::string key;
    if (!in || !std::getline(in, key)) throw std::runtime_error("the API key file " + path + " cannot be read");
    const auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
    key.erase(key.begin(), std::find_if_not(key.begin(), key.end(), blank));
    key.erase(std::find_if_not(key.rbegin(), key.rend(), blank).base(), key.end());
    if (key.empty()) throw std::runtime_error("the API key file " + path + " is empty");
    return key;
}

HttpDoveadm::HttpDoveadm(SweepDovecot endpoint) : endpoint_(std::move(endpoint)) {
    authorization_ = "Authorization: X-Dovecot-API " + base64(read_api_key(endpoint_.api_key_file));
    static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    curl_ = initialised ? curl_easy_init() : nullptr;
    if (curl_ == nullptr) throw std::runtime_error("libcurl could not be initialised");
}

HttpDoveadm::~HttpDoveadm() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::vector<AclEntry> HttpDoveadm::acl(const std::string& user, const std::string& mailbox) {
    std::vector<AclEntry> out;
    for (const auto& row : rows("aclGet", {{"user", user}, {"mailbox", mailbox}})) out.push_back(acl_entry_of(row));
    return out;
}

std::vector<std::string> HttpDoveadm::acl_rights(const std::string& user, const std::string& mailbox) {
    const auto got = rows("aclRights", {{"user", user}, {"mailbox", mailbox}});
    if (got.size() != 1) throw DoveadmError(Kind::BadAnswer, describe() + ": aclRights gave no rights");
    return acl_rights_of(got.front().count("rights") ? got.front().at("rights") : "");
}

std::string HttpDoveadm::describe() const { return "dovecot endpoint \"" + endpoint_.name + "\" (" + endpoint_.url + ")"; }

json HttpDoveadm::call(const std::string& command, const json& params, const std::string& body_override) {
    const std::string what = describe() + ": " + command;
    std::string body = body_override;
    if (body.empty()) {
        try {
            body = json::array({json::array({command, params, "rm"})}).dump();
        } catch (const json::exception&) {
            throw DoveadmError(Kind::Failed, what + ": a value is not UTF-8 and cannot be sent");
        }
    }
    CURL* c = static_cast<CURL*>(curl_);
    curl_easy_reset(c);
    std::string answer;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, authorization_.c_str());
    curl_easy_setopt(c, CURLOPT_URL, endpoint_.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(endpoint_.timeout_seconds));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!endpoint_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, endpoint_.ca_file.c_str());
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    switch (rc) {
    case CURLE_OK: break;
    case CURLE_PARTIAL_FILE:
        throw DoveadmError(Kind::BadAnswer, what + ": the answer was cut off");
    case CURLE_OPERATION_TIMEDOUT:
        throw DoveadmError(Kind::TempFail, what + ": no whole answer within " + std::to_string(endpoint_.timeout_seconds) + " s");
    default:
        throw DoveadmError(Kind::Unreachable, what + ": " + curl_easy_strerror(rc));
    }
    if (status == 401 || status == 403) throw DoveadmError(Kind::Refused, what + ": the API key was refused (HTTP " + std::to_string(status) + ")");
    if (status != 200) throw DoveadmError(Kind::Failed, what + ": HTTP status " + std::to_string(status));

    json reply;
    try {
        reply = json::parse(answer);
    } catch (const json::exception&) {
        throw DoveadmError(Kind::BadAnswer, what + ": the answer is not whole JSON");
    }
    if (!reply.is_array() || reply.size() != 1 || !reply[0].is_array() || reply[0].size() != 3 || !reply[0][0].is_string()) {
        throw DoveadmError(Kind::BadAnswer, what + ": the answer is not doveadm's");
    }
    const json& result = reply[0];
    if (result[0] == "doveadmResponse") return result[1];
    if (result[0] != "error" || !result[1].is_object()) throw DoveadmError(Kind::BadAnswer, what + ": the answer is not doveadm's");
    const std::string type = result[1].value("type", "");
    if (type == "exitCode") throw doveadm_error(result[1].value("exitCode", -1), what);
    if (type == "unAuthorized") throw DoveadmError(Kind::Refused, what + ": the server does not allow this command (doveadm_allowed_commands)");
    throw DoveadmError(Kind::Failed, what + ": " + (type.empty() ? "an error" : type));
}

std::vector<Fields> HttpDoveadm::rows(const std::string& command, const json& params) {
    json answer = call(command, params);
    if (!answer.is_array()) throw DoveadmError(Kind::BadAnswer, describe() + ": " + command + " gave no list");
    std::vector<Fields> out;
    out.reserve(answer.size());
    for (const auto& item : answer) {
        if (!item.is_object()) throw DoveadmError(Kind::BadAnswer, describe() + ": " + command + " gave a row that is not an object");
        Fields f;
        for (const auto& [k, v] : item.items()) f.emplace(k, text_of(v));
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<std::string> HttpDoveadm::users(const std::string& mask) {
    if (!has_wildcard(mask)) return user_exists(mask) ? std::vector<std::string>{mask} : std::vector<std::string>{};
    // The API's "user" prints a mask's listing nowhere: a mail command run for every user
    // the mask matches (through the same userdb iteration) names them.
    std::set<std::string> names;
    for (auto& row : rows("mailboxList", {{"user", mask}, {"mailboxMask", {"INBOX"}}})) names.insert(row["username"]);
    return {names.begin(), names.end()};
}

bool HttpDoveadm::user_exists(const std::string& user) {
    try {
        call("user", {{"userMask", {user}}});
        return true;
    } catch (const DoveadmError& e) {
        if (e.kind() == Kind::NoSuchUser) return false;
        throw;
    }
}

std::vector<MailboxStatus> HttpDoveadm::mailboxes(const std::string& user) {
    std::vector<MailboxStatus> out;
    for (auto& row : rows("mailboxStatus", {{"user", user}, {"field", {"guid", "uidvalidity", "messages"}}, {"mailboxMask", {"*"}}})) {
        MailboxStatus m;
        m.name = row["mailbox"];
        m.guid = row["guid"];
        m.uidvalidity = row["uidvalidity"];
        try {
            m.messages = std::stol(row["messages"]);
        } catch (const std::exception&) {
            throw DoveadmError(Kind::BadAnswer, describe() + ": mailboxStatus gave no message count");
        }
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<std::string> HttpDoveadm::mailbox_names(const std::string& user, const std::string& pattern) {
    std::vector<std::string> names;
    for (auto& row : rows("mailboxList", {{"user", user}, {"mailboxMask", {pattern}}})) names.push_back(row["mailbox"]);
    return names;
}

char HttpDoveadm::separator(const std::string& user) {
    const auto all = mailbox_names(user, "*");
    if (nothing_nested(all)) return '/';
    char sep = separator_from_listing(all, mailbox_names(user, "%"));
    return sep != 0 ? sep : '/';
}

std::vector<Fields> HttpDoveadm::fetch(const std::string& user, const std::vector<std::string>& fields,
                                       const std::vector<std::string>& query) {
    return rows("fetch", {{"user", user}, {"field", fields}, {"query", query}});
}

void HttpDoveadm::expunge(const std::string& user, const std::vector<std::string>& query) {
    call("expunge", {{"user", user}, {"query", query}});
}

void HttpDoveadm::create_mailbox(const std::string& user, const std::string& name) {
    try {
        call("mailboxCreate", {{"user", user}, {"mailbox", {name}}});
    } catch (const DoveadmError& e) {
        // An existing mailbox fails the create (65): it is what we wanted.
        if (e.kind() != Kind::Failed) throw;
        call("mailboxStatus", {{"user", user}, {"field", {"guid"}}, {"mailboxMask", {name}}});
    }
}

bool HttpDoveadm::save(const std::string& user, const std::string& mailbox, const std::string& message,
                       const std::string& flags, std::optional<std::chrono::system_clock::time_point>) {
    if (message.find('\0') != std::string::npos) {
        throw DoveadmError(Kind::Failed, describe() + ": a message with a NUL byte cannot be saved over the API");
    }
    auto status = rows("mailboxStatus", {{"user", user}, {"field", {"uidnext"}}, {"mailboxMask", {mailbox}}});
    if (status.size() != 1) throw DoveadmError(Kind::NoSuchMailbox, describe() + ": save: no such mailbox");
    const std::string first_new = status[0]["uidnext"];

    std::string body;
    try {
        body = json::array({json::array({"save", {{"user", user}, {"mailbox", mailbox}, {"file", "@RM-MESSAGE@"}}, "rm"})}).dump();
    } catch (const json::exception&) {
        throw DoveadmError(Kind::Failed, describe() + ": save: a value is not UTF-8 and cannot be sent");
    }
    body.replace(body.find("\"@RM-MESSAGE@\""), 14, json_string_of_bytes(message));
    call("save", {}, body);

    const auto flag_list = words(flags);
    if (flag_list.empty()) return false;
    // The saved message: the new one whose header is ours (another may arrive meanwhile).
    const std::string header = header_as_fetched(message);
    for (auto& row : rows("fetch", {{"user", user}, {"field", {"uid", "hdr"}}, {"query", {"mailbox", mailbox, "uid", first_new + ":*"}}})) {
        if (row["hdr"] == header) {
            call("flagsAdd", {{"user", user}, {"flag", flag_list}, {"query", {"mailbox", mailbox, "uid", row["uid"]}}});
            return false;
        }
    }
    throw DoveadmError(Kind::Failed, describe() + ": save: the saved message was not found to set its flags");
}

void HttpDoveadm::purge(const std::string& user) { call("purge", {{"user", user}}); }

void HttpDoveadm::purge_cache(const std::string& user, const std::vector<std::string>& mailboxes) {
    call("mailboxCachePurge", {{"user", user}, {"mailbox", mailboxes}});
}

void HttpDoveadm::force_resync(const std::string& user, const std::string& mailbox_mask) {
    call("forceResync", {{"user", user}, {"mailboxMask", mailbox_mask}});
}

std::optional<std::string> HttpDoveadm::mailbox_path(const std::string&, const std::string&) { return std::nullopt; }

std::optional<std::string> HttpDoveadm::fetch_raw(const std::string&, const std::string&, const std::vector<std::string>&) {
    return std::nullopt;
}

std::optional<std::string> HttpDoveadm::setting(const std::string&, const std::string&) { return std::nullopt; }

}  // namespace rm::sweep::dovecot
