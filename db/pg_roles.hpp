// The roles the programs log in with on a PostgreSQL index. Each program does only its own
// work there, so the three get different rights:
//   retention_milter   reads the schema version and the key's fingerprint, inserts rows;
//   retention_sweeper  reads the index, marks, claims and erases rows, trims its scan cache
//                      and files_seen, writes receipts and its own state (meta);
//   retention_ctl      reads the index, places and releases holds.
// None may change the schema: only its owner (the admin running `retentionctl
// upgrade-index`) does. The three are NOLOGIN group roles; the admin makes each host's
// login roles members of them (CREATE ROLE mx1 LOGIN ... IN ROLE retention_milter).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace rm {

inline constexpr const char* kPgMilterRole = "retention_milter";
inline constexpr const char* kPgSweeperRole = "retention_sweeper";
inline constexpr const char* kPgCtlRole = "retention_ctl";

// Makes the group roles when missing (when the admin may), grants each exactly its
// program's rights on the index in the database of `conninfo` (revoking any others it had
// there), and keeps the server from logging the statements and their parameters in the
// index's database (digests travel as parameters). Returns what the admin must still do by hand, each with
// the SQL to run as a superuser; empty when all is done. Throws IndexError when the
// database cannot be reached.
std::vector<std::string> grant_program_roles(const std::string& conninfo);

// The settings that keep the server from logging statements with their parameters.
const std::vector<std::pair<std::string, std::string>>& pg_quiet_log_settings();

}  // namespace rm
