// The daemon's manners: socket preparation, pid file, privilege drop, signals.
#pragma once

#include <string>
#include <sys/types.h>

#include "core/config.hpp"

namespace rm {

// Removes a unix socket left by a dead milter. Refuses (throws) when something still
// answers on it: two milters must not share one socket.
void remove_stale_socket(const SocketSpec& spec);

// After libmilter has opened the socket: unix socket mode and group; TCP_NODELAY on the
// TCP listener (accepted connections inherit it), since libmilter answers in several
// small writes that Nagle's algorithm would hold back for a delayed ACK.
void finish_socket(const MilterSection& m);
// Removes our unix socket at a clean stop (its folder is the milter's own), so the MTA
// finds no socket rather than one nobody answers. A folder that is not ours is logged,
// not fatal: the next start clears a stale socket anyway.
void remove_own_socket(const SocketSpec& spec);

// Detaches from the terminal (fork, setsid). The parent exits 0.
void daemonise();

void write_pid_file(const std::string& path);
void remove_pid_file(const std::string& path);

// Drops root to `user` (its primary group and supplementary groups). Refuses to run as
// root without one. A non-root start keeps its own identity.
void drop_privileges(const std::string& user);

// Blocks the signals that libmilter's own thread waits for (HUP, TERM, INT) and the one
// we reload on (USR1), in this thread and so in every thread started after it.
void block_signals();

// Starts a thread that reloads the config on each SIGUSR1.
void start_reload_thread(const std::string& config_path);

}  // namespace rm
