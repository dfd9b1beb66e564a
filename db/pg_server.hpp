// What a PostgreSQL server keeps beyond the index's own tables, for `retentionctl check`:
// WAL archives and replicas hold erased digests for as long as they are kept, a server
// that logs the programs' statements logs their parameters (digests), and a failover to
// an asynchronous replica can lose rows the milter was told were committed.
#pragma once

#include <string>
#include <vector>

namespace rm {

struct PgServerFacts {
    std::string database;
    // archive_mode and whether an archive_command or archive_library is set; empty when
    // this user may not read them.
    std::string archive_mode;
    bool archives = false;
    int replicas = 0;                   // standbys streaming from this server now
    std::string synchronous_standby_names;
    std::string synchronous_commit;
    bool in_recovery = false;           // this server is itself a standby
    // "role: setting = value" for each setting that lets the server log a program's
    // statements with their parameters, for the group roles and their members.
    std::vector<std::string> loud_logging;
    std::vector<std::string> missing_roles;  // of the three group roles
};

// Reads the facts through the index's connection settings. Throws IndexError.
PgServerFacts read_server_facts(const std::string& conninfo);

}  // namespace rm
