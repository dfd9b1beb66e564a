// What Dovecot keeps of messages outside their mailboxes, where expunging and overwriting
// the mailbox files cannot reach: a full-text search index, and attachments stored apart
// (mail_attachment_dir). The sweep reports them as residues; `retentionctl check` warns.
#pragma once

#include <string>

#include "sweeper/dovecot/doveadm.hpp"

namespace rm::sweep::dovecot {

struct KeptElsewhere {
    std::string fts;           // the full-text search backend in use ("" when none)
    bool attachments = false;  // mail_attachment_dir is set (used by sdbox and mdbox)
    bool remote = false;       // cannot be asked over doveadm's HTTP API
};

// Asks doveconf through `doveadm` (a handful of "doveadm config" runs). An FTS index
// counts when the fts plugin is loaded for any protocol that indexes mail (delivery, IMAP,
// doveadm) and a backend is named. Throws DoveadmError when doveconf fails.
KeptElsewhere kept_elsewhere(Doveadm& doveadm);

}  // namespace rm::sweep::dovecot
