#include "sweeper/dovecot/kept_elsewhere.hpp"

#include <sstream>

namespace rm::sweep::dovecot {

namespace {

bool has_word(const std::string& list, const std::string& word) {
    std::istringstream in(list);
    std::string w;
    while (in >> w)
        if (w == word) return true;
    return false;
}

}  // namespace

KeptElsewhere kept_elsewhere(Doveadm& doveadm) {
    KeptElsewhere k;
    const auto backend = doveadm.setting("plugin/fts", "");
    const auto attachments = doveadm.setting("mail_attachment_dir", "");
    if (!backend || !attachments) {
        k.remote = true;
        return k;
    }
    k.attachments = !attachments->empty();
    bool loaded = false;
    for (const char* protocol : {"", "imap", "lmtp", "lda", "doveadm"})
        if (auto plugins = doveadm.setting("mail_plugins", protocol)) loaded = loaded || has_word(*plugins, "fts");
    if (loaded) k.fts = *backend;
    return k;
}

}  // namespace rm::sweep::dovecot
