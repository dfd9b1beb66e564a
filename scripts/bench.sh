#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, in one command. Needs root (a private Postfix,
# the milter dropping to nobody). Never part of the test command; prints figures, asserts
# no time. What it does:
#   0. the machine: nproc, CPU, kernel, the disk of the work folder and its fsync time
#   1. the milter alone: bench/milter-load at 1, 8 and 64 connections against the real
#      retention-milter on a unix socket (msgs/s, p50/p99 end-of-message latency with the
#      durable commit), rows counted against messages after each run
#   2. a real Postfix on loopback: smtp-source, 20 sessions of ~4 KB messages to a helpline
#      address; no milter / milter on a unix socket / milter on TCP, alternating, ROUNDS
#      rounds; throughput until every message is delivered (queue empty, files counted)
#   3. the sweeper over generated stores (bench/gen-store) beside `find -mtime +180 -delete`
#      of the same expired files in an identical tree (the floor), with /usr/bin/time
#   4. the sweeper through Dovecot (store = "dovecot", the local doveadm, as root) over the
#      same generated store imported into a private Dovecot (`doveadm import`) in each
#      format, beside Dovecot doing the same work by itself (bench/dovecot_alone.py:
#      `doveadm fetch` of every Message-ID, `doveadm expunge` of the expired ones' UIDs,
#      `doveadm purge` for mdbox; once fetching `hdr.message-id`, once the whole header
#      `hdr`, which a sweep must read: hdr.message-id loses bytes) and beside `doveadm expunge -A mailbox '*' before 180d`
#      (Dovecot's own age-based expiry, for scale; `before`, the received date, because
#      imported mail's save date, which `savedbefore` reads, is the day of the import).
#      Each of the three starts from the same copy of the store and index, synced and read
#      once (warm cache)
# Parts 1 to 3 run on each index backend of BENCH_INDEXES: the embedded SQLite file, and a
# private PostgreSQL cluster (tests/e2e/lib/pg.sh, restarted with fsync on: durable commits
# as SQLite's synchronous=FULL) reached over TCP on 127.0.0.1, as a database host would be.
# Part 1 runs once more on PostgreSQL with netem adding BENCH_NETEM_MS to every packet on
# loopback (`tc qdisc ... netem delay`; a round trip then costs twice that), when tc may.
#
# Environment:
#   BENCH_QUICK=1        a small run (about 2 minutes): fewer messages, 1 round, 10k store only
#   BENCH_ONLY="milter postfix sweep dovecot"   the parts to run (default all four)
#   BENCH_SIZES="10000 100000"          sweeper store sizes (add 1000000 for the 1M store:
#                        about 4 GB of disk and several more minutes)
#   BENCH_FORMATS="maildir mbox sdbox mdbox"   Dovecot's mailbox formats for part 4
#   BENCH_ROUNDS=3, BENCH_MESSAGES=5000  Postfix rounds and messages per run
#   BENCH_VARIANTS="none null stamp unix tcp"  Postfix variants: no milter, bench/null-milter
#                                        (same steps, does nothing), null-milter --stamp (adds
#                                        the four headers), retention-milter on unix and TCP;
#                                        also "unixmem": on unix with its index on tmpfs
#                                        (/dev/shm: no sync costs; a diagnosis, not a setup)
#   BENCH_LOAD_MESSAGES=20000            milter-load messages per run (1 connection: a fifth)
#   BENCH_INDEXES="sqlite postgresql"   index backends for parts 1 to 3 (variant "pg" of part 2
#                                        is retention-milter on unix with a PostgreSQL index)
#   BENCH_NETEM_MS=0.5                   netem delay per packet on loopback for part 1's extra
#                                        PostgreSQL run (0: no such run); where the kernel has
#                                        no netem, bench/delay_proxy.py adds it each way instead
#   BENCH_DOVEADM=/usr/bin/doveadm     the doveadm the sweep of part 4 runs (a wrapper that logs
#                                        each run and its time profiles it)
#   BENCH_BUILD_DIR=build-bench, BENCH_DIR=/var/tmp/rm-bench (wiped first), KEEP=1 keeps it
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: run as root (a private Postfix, daemons dropping privileges)" >&2; exit 2; }

QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-milter postfix sweep dovecot}
FORMATS=${BENCH_FORMATS:-maildir mbox sdbox mdbox}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-1}; MESSAGES=${BENCH_MESSAGES:-1000}; LOAD=${BENCH_LOAD_MESSAGES:-4000}
  SIZES=${BENCH_SIZES:-10000}
else
  ROUNDS=${BENCH_ROUNDS:-3}; MESSAGES=${BENCH_MESSAGES:-5000}; LOAD=${BENCH_LOAD_MESSAGES:-20000}
  SIZES=${BENCH_SIZES:-10000 100000}
fi
INDEXES=${BENCH_INDEXES:-sqlite postgresql}
NETEM_MS=${BENCH_NETEM_MS:-0.5}
BUILD=${BENCH_BUILD_DIR:-build-bench}
WORK=${BENCH_DIR:-/var/tmp/rm-bench}

scripts/install-deps.sh --bench
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRM_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target retention-milter retention-sweep retentionctl milter-load gen-store fsync-probe null-milter >/dev/null
MILTER_BIN=$ROOT/$BUILD/milter/retention-milter
NULL_BIN=$ROOT/$BUILD/bench/null-milter
VARIANTS=${BENCH_VARIANTS:-none null stamp unix tcp}
[[ " $INDEXES " == *" postgresql "* ]] && [[ " $VARIANTS " != *" pg "* ]] && [ -z "${BENCH_VARIANTS:-}" ] && VARIANTS+=" pg"
CTL_BIN=$ROOT/$BUILD/ctl/retentionctl
SWEEP_BIN=$ROOT/$BUILD/sweeper/retention-sweep
LOAD_BIN=$ROOT/$BUILD/bench/milter-load
GEN_BIN=$ROOT/$BUILD/bench/gen-store

# shellcheck source=../tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh
# shellcheck source=../tests/e2e/lib/milter.sh
source tests/e2e/lib/milter.sh
# shellcheck source=../tests/e2e/lib/postfix.sh
source tests/e2e/lib/postfix.sh
# shellcheck source=../tests/e2e/lib/pg.sh
source tests/e2e/lib/pg.sh

rm -rf "$WORK"
mkdir -p "$WORK"
chmod 0755 "$WORK"
MILTER_PIDS=()
cleanup() {
  set +e
  local p
  for p in "${MILTER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "${PF_DIR:-}" ] && pf_stop "$PF_DIR"
  [ "${NETEM_ON:-0}" = 1 ] && tc qdisc del dev lo root 2>/dev/null
  pg_stop
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK" /dev/shm/rm-bench-mem
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }
now() { date +%s.%N; }

# --- 0. the machine ------------------------------------------------------------------
say "== machine"
say "date: $(date -u +%FT%TZ)"
say "nproc: $(nproc)"
say "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
say "kernel: $(uname -sr)"
say "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
src=$(df --output=source "$WORK" | tail -1)
say "disk of $WORK: $src ($(df --output=fstype "$WORK" | tail -1)), $(lsblk -ndo ROTA,MODEL "$src" 2>/dev/null | awk '{print ($1==1?"rotational":"non-rotational") " " $2}')"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "fsync probe ($WORK):"
"$ROOT/$BUILD/bench/fsync-probe" "$WORK" 300 | sed 's/^/  /'
python3 - "$WORK" <<'PY' | sed 's/^/  /'
import os, sqlite3, statistics, sys, time
p = sys.argv[1] + "/probe.sqlite3"
c = sqlite3.connect(p, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("create table t(x blob)")
t = []
for i in range(300):
    t0 = time.perf_counter(); c.execute("begin"); c.execute("insert into t values(randomblob(100))"); c.execute("commit")
    t.append((time.perf_counter() - t0) * 1000)
c.close()
for s in ("", "-wal", "-shm"):
    if os.path.exists(p + s): os.unlink(p + s)
t.sort()
print("sqlite WAL synchronous=FULL one-row commit: commits=%d p50_ms=%.3f mean_ms=%.3f p99_ms=%.3f"
      % (len(t), t[len(t) // 2], statistics.mean(t), t[len(t) * 99 // 100]))
PY

# The private PostgreSQL server, started on first use: pg.sh's test cluster, restarted with
# fsync and full_page_writes on (a commit is on disk before it is answered, as SQLite's is).
BENCH_PG_UP=0
bench_pg_start() {
  [ "$BENCH_PG_UP" = 1 ] && return 0
  pg_start "$WORK"
  pg_as_server "$PG_BIN/pg_ctl" restart -w -t 60 -m fast -D "$PG_DATA" -l "$PG_LOG" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c logging_collector=off -c max_connections=200" \
    >>"$PG_DIR/pg_ctl.log" 2>&1
  say "postgresql: $("$PG_BIN/postgres" --version), fsync=$(pg_psql postgres 'SHOW fsync'), synchronous_commit=$(pg_psql postgres 'SHOW synchronous_commit'), over TCP on 127.0.0.1"
  BENCH_PG_UP=1
}
# A new database NAME on the private server; sets BM_CONNINFO (TCP, with the password).
bench_pg_database() {
  bench_pg_start
  pg_createdb "$1"
  BM_CONNINFO=$(pg_tcp_conninfo "$1")
}

# A retention-milter of our own: DIR/milter/retention.toml with SOCKET; index in DIR/milter/state,
# or with BACKEND "postgresql" a database of its own on the private server, made by
# `retentionctl upgrade-index` as an admin would. Prints nothing; sets BM_INDEX (a file, or
# pg:DATABASE) and appends its pid to MILTER_PIDS.
bench_milter_start() {
  local dir=$1 socket=$2 backend=${3:-sqlite} md=$1/milter conninfo="" db
  mkdir -p "$md/state"
  if [ "$backend" = postgresql ]; then
    db=bench_$(basename "$dir" | tr -c 'a-z0-9\n' _)
    bench_pg_database "$db"
    conninfo=$BM_CONNINFO
    # Through the delaying proxy, when a run asks for one.
    [ -n "${BENCH_PG_VIA_PORT:-}" ] && conninfo=${conninfo/port=$PG_PORT /port=$BENCH_PG_VIA_PORT }
  fi
  chown nobody "$md/state"
  chmod 0755 "$dir" "$md"
  {
    echo "[milter]"
    echo "socket = \"$socket\""
    echo 'socket_mode = "0660"'
    getent group postfix >/dev/null && echo 'socket_group = "postfix"'
    echo 'user = "nobody"'
    echo 'internal_hosts = ["127.0.0.1/32", "::1/128"]'
    echo
    echo "[index]"
    if [ -n "$conninfo" ]; then
      echo 'backend = "postgresql"'
      echo "conninfo = \"$conninfo\""
    fi
    echo "path = \"$md/state/index.sqlite3\""
    echo "key_file = \"$md/state/index.key\""
    echo
    echo "[log]"
    echo "sink = \"file:$md/milter.log\""
    echo 'level = "warn"'
    echo
    rm_line_toml
  } >"$md/retention.toml"
  touch "$md/milter.log"
  chown nobody "$md/milter.log"
  BM_INDEX=$md/state/index.sqlite3
  if [ -n "$conninfo" ]; then
    "$CTL_BIN" -c "$md/retention.toml" upgrade-index >>"$md/milter.stderr" 2>&1 ||
      { cat "$md/milter.stderr" >&2; return 1; }
    chown nobody "$md/state/index.key"
    BM_INDEX=pg:$db
  fi
  "$MILTER_BIN" -f -c "$md/retention.toml" 2>>"$md/milter.stderr" &
  MILTER_PIDS+=($!)
  local i
  for i in $(seq 100); do
    if [ -e "$BM_INDEX" ] || [[ $BM_INDEX == pg:* ]]; then
      case $socket in
        unix:*) [ -S "${socket#unix:}" ] && return 0 ;;
        inet:*)
          local port=${socket#inet:}
          port=${port%@*}
          ss -ltnH | awk '{print $4}' | grep -q ":$port\$" && return 0
          ;;
      esac
    fi
    sleep 0.1
  done
  echo "bench.sh: the milter ($socket) did not start:" >&2
  cat "$md/milter.log" "$md/milter.stderr" >&2
  return 1
}
# null-milter (bench/null_milter.cpp) on DIR/null.sock; extra arguments go to it (--stamp).
null_milter_start() {
  local dir=$1 i
  shift
  mkdir -p "$dir"
  chmod 0755 "$dir"
  "$NULL_BIN" "unix:$dir/null.sock" "$@" 2>>"$dir/null.stderr" &
  MILTER_PIDS+=($!)
  for i in $(seq 100); do
    if [ -S "$dir/null.sock" ]; then
      chmod 0666 "$dir/null.sock"
      return 0
    fi
    sleep 0.1
  done
  say "null-milter did not start: $(cat "$dir/null.stderr")"
  return 1
}
rows() {  # INDEX: an SQLite file, or pg:DATABASE
  case $1 in
    pg:*) pg_psql "${1#pg:}" "select count(*) from messages" ;;
    *) sqlite3 -readonly "$1" "select count(*) from messages" ;;
  esac
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The median time of `select 1` on the private server through PORT, in ms (psql's \timing).
pg_round_trip_ms() {
  local i
  for i in $(seq 21); do printf 'select 1;\n'; done |
    "$PG_BIN/psql" -X -q -At -d "host=127.0.0.1 port=$1 user=postgres password=$PG_PASSWORD dbname=postgres" \
      -c '\timing on' -f - 2>/dev/null | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | sed -n 11p
}

# Part 1 again on PostgreSQL with a network between the milter and the server: netem on
# loopback where the kernel has it, else bench/delay_proxy.py in front of the server.
bench_delayed_load() {
  local d=$WORK/load-pg-delayed how direct pid proxy_pid=""
  direct=$(pg_round_trip_ms "$PG_PORT")
  if tc qdisc add dev lo root netem delay "${NETEM_MS}ms" 2>/dev/null; then
    NETEM_ON=1
    how="netem delay ${NETEM_MS} ms per packet on loopback"
  else
    BENCH_PG_VIA_PORT=$(free_port)
    python3 bench/delay_proxy.py "$BENCH_PG_VIA_PORT" 127.0.0.1 "$PG_PORT" "$NETEM_MS" &
    proxy_pid=$!
    MILTER_PIDS+=("$proxy_pid")
    wait_until 10 'ss -ltnH | awk "{print \$4}" | grep -q ":$BENCH_PG_VIA_PORT\$"'
    how="bench/delay_proxy.py holding each chunk ${NETEM_MS} ms each way (netem: not in this kernel)"
  fi
  mkdir -p "$d"
  bench_milter_start "$d" "unix:$d/milter/milter.sock" postgresql
  pid=${MILTER_PIDS[-1]}
  say "index: postgresql through $how; select 1 takes $(pg_round_trip_ms "${BENCH_PG_VIA_PORT:-$PG_PORT}") ms (direct: $direct ms)"
  load_run "$d" 1 8 64
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  if [ "${NETEM_ON:-0}" = 1 ]; then
    tc qdisc del dev lo root
    NETEM_ON=0
  fi
  if [ -n "$proxy_pid" ]; then
    kill -TERM "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true
  fi
  BENCH_PG_VIA_PORT=""
}

# --- 1. the milter alone -------------------------------------------------------------
if [[ " $ONLY " == *" milter "* ]]; then
  say
  say "== milter alone (bench/milter-load, unix socket, ~4 KB of headers, 50 messages per connection)"
  load_run() {  # DIR CONNECTIONS...
    local d=$1 c n before after out
    shift
    for c in "$@"; do
      n=$LOAD
      [ "$c" = 1 ] && n=$((LOAD / 5))
      before=$(rows "$BM_INDEX")
      out=$("$LOAD_BIN" -s "unix:$d/milter/milter.sock" -c "$c" -m "$n" -p 50 -l 4096) || true
      after=$(rows "$BM_INDEX")
      say "  $out rows_added=$((after - before)) rows_match=$([ $((after - before)) -eq "$n" ] && echo yes || echo NO)"
    done
  }
  for backend in $INDEXES; do
    say "index: $backend"
    d=$WORK/load-$backend
    mkdir -p "$d"
    bench_milter_start "$d" "unix:$d/milter/milter.sock" "$backend"
    load_pid=${MILTER_PIDS[-1]}
    load_run "$d" 1 8 64
    kill -TERM "$load_pid"; wait "$load_pid" 2>/dev/null || true
    [ "$backend" = postgresql ] && [ "$NETEM_MS" != 0 ] && bench_delayed_load
  done
fi

# --- 2. through a real Postfix -------------------------------------------------------
if [[ " $ONLY " == *" postfix "* ]]; then
  say
  say "== through Postfix $(postconf -dh mail_version) on loopback: smtp-source -s 20 -l 4096 -m $MESSAGES, one message per SMTP session"
  pf_start "$WORK/pf" "" >/dev/null
  bench_milter_start "$WORK/mu" "unix:$WORK/mu/milter/milter.sock"
  unix_index=$BM_INDEX
  tcp_port=$(free_port)
  bench_milter_start "$WORK/mt" "inet:$tcp_port@127.0.0.1"
  tcp_index=$BM_INDEX
  if [[ " $VARIANTS " == *" pg "* ]]; then
    bench_milter_start "$WORK/mp" "unix:$WORK/mp/milter/milter.sock" postgresql
    pg_index=$BM_INDEX
  fi
  inbox=$PF_MAIL_DIR/mensadviceline.test/info
  delivered() { find "$inbox/new" "$inbox/cur" -type f 2>/dev/null | wc -l; }
  declare -A total_rate=()
  run_variant() {  # NAME MILTER_SPEC INDEX
    local name=$1 spec=$2 index=$3 before_rows=0 t0 t1 n
    pf_set_milter "$spec" >/dev/null
    find "$inbox/new" "$inbox/cur" -type f -delete 2>/dev/null || true
    [ -n "$index" ] && before_rows=$(rows "$index")
    t0=$(now)
    smtp-source -s 20 -m "$MESSAGES" -l 4096 -f caller@example.net -t info@mensadviceline.test \
      "127.0.0.1:$PF_PORT" >/dev/null 2>&1
    until pf_queue_empty && [ "$(delivered)" -ge "$MESSAGES" ]; do
      sleep 0.05
      if [ "$(echo "$(now) - $t0 > 600" | bc)" = 1 ]; then
        say "  $name: timed out: $(delivered) delivered, $(pf_queue_count) queued"
        return 0
      fi
    done
    t1=$(now)
    n=$(delivered)
    local secs rate extra=""
    secs=$(echo "$t1 - $t0" | bc -l)
    rate=$(echo "$n / $secs" | bc -l)
    if [ -n "$index" ]; then
      local added=$(($(rows "$index") - before_rows))
      extra=" rows_added=$added rows_match=$([ "$added" -eq "$n" ] && echo yes || echo NO)"
    fi
    printf '  round %s %-9s delivered=%d seconds=%.2f msgs_per_sec=%.1f%s\n' "$round" "$name" "$n" "$secs" "$rate" "$extra"
    total_rate[$name]=$(echo "${total_rate[$name]:-0} + $rate" | bc -l)
  }
  null_milter_start "$WORK/mn"
  null_milter_start "$WORK/ms" --stamp
  if [[ " $VARIANTS " == *" unixmem "* ]]; then
    rm -rf /dev/shm/rm-bench-mem
    bench_milter_start /dev/shm/rm-bench-mem "unix:/dev/shm/rm-bench-mem/milter/milter.sock"
    mem_index=$BM_INDEX
  fi
  read -r -a order <<<"$VARIANTS"
  for round in $(seq "$ROUNDS"); do
    # Each round starts one variant further on: Postfix's rate drifts within a run (its
    # queue and the page cache warm and fill), and no variant should always go first.
    for ((k = 0; k < ${#order[@]}; k++)); do
      v=${order[$(((k + round - 1) % ${#order[@]}))]}
      case $v in
        none) run_variant none "" "" ;;
        null) run_variant null "unix:$WORK/mn/null.sock" "" ;;
        stamp) run_variant stamp "unix:$WORK/ms/null.sock" "" ;;
        unix) run_variant unix "unix:$WORK/mu/milter/milter.sock" "$unix_index" ;;
        tcp) run_variant tcp "inet:127.0.0.1:$tcp_port" "$tcp_index" ;;
        pg) run_variant pg "unix:$WORK/mp/milter/milter.sock" "$pg_index" ;;
        unixmem) run_variant unixmem "unix:/dev/shm/rm-bench-mem/milter/milter.sock" "$mem_index" ;;
      esac
    done
  done
  none=$(echo "${total_rate[none]:-0} / $ROUNDS" | bc -l)
  for v in $VARIANTS; do
    avg=$(echo "${total_rate[$v]} / $ROUNDS" | bc -l)
    printf '  mean over %d rounds: %-5s %.1f msgs/s  ratio to no milter %.2f\n' "$ROUNDS" "$v" "$avg" "$(echo "$avg / $none" | bc -l)"
  done
  { grep -c "milter" "$PF_LOG" || true; } | xargs printf '  Postfix log lines naming a milter (errors, timeouts): %s\n'
  pf_set_milter "" >/dev/null
  pf_stop "$WORK/pf"
  PF_DIR=""
fi

# --- 3. the sweeper ------------------------------------------------------------------
# The nightly case: the store was swept the night before, when nothing in it was due yet
# (for that run its rows' dates are moved 25 days on, then back), so the scan cache knows
# every file it had; the run now reads only what is new since (the copies last night moved
# into the shared Sent folders). The first run above read every message.
bench_nightly_sweep() {
  local n=$1 fsec=$2 s=$WORK/night-$n db tv nsec nmem summary left bsec moved
  "$GEN_BIN" -d "$s" -n "$n" >/dev/null
  db=$s/state/index.sqlite3
  sleep 2.5 # the sweeper remembers only files unchanged for 2 s (ScanCache::settle)
  sqlite3 "$db" "UPDATE messages SET retain_until = date(retain_until, '+25 days')"
  # Nothing is due that night, but every personal Sent copy is moved to its shared mailbox:
  # a first run over a backlog of them (the move's own cost, timed for the record).
  bsec=$( { /usr/bin/time -f '%e' "$SWEEP_BIN" -c "$s/retention.toml" --json >"$s/night-before.json"; } 2>&1 | tail -1) || true
  moved=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(sum(v.get("moved",0) for v in j["lines"].values()))' "$s/night-before.json" 2>/dev/null || echo "?")
  sqlite3 "$db" "UPDATE messages SET retain_until = date(retain_until, '-25 days')"
  # As on a real night, last night's writes are on disk: a directory sync would otherwise
  # wait for them (ext4 data=ordered), and be counted as this run's time.
  sync
  find "$s/mail" -type f >/dev/null # warm, as for the floor
  tv=$( { /usr/bin/time -f '%e %M' "$SWEEP_BIN" -c "$s/retention.toml" --json >"$s/summary.json"; } 2>&1 | tail -1) || true
  read -r nsec nmem <<<"$tv"
  summary=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j.get("messages_scanned"), j.get("messages_known"), sum(v.get("destroyed",0) for v in j["lines"].values()))' "$s/summary.json" 2>/dev/null || echo "? ? ?")
  left=$(sqlite3 -readonly "$db" "select count(*) from messages where state = 'present' and retain_until <= date('now')" 2>/dev/null || echo "?")
  read -r scanned known destroyed <<<"$summary"
  printf '  store=%d night_before_seconds=%.2f moved_that_night=%s nightly_sweep_seconds=%.2f peak_rss_kb=%d ratio_to_find=%.2f scanned=%s known_from_cache=%s destroyed=%s rows_past_date_left=%s\n' \
    "$n" "$bsec" "$moved" "$nsec" "$nmem" "$(echo "$nsec / ($fsec + 0.001)" | bc -l)" "$scanned" "$known" "$destroyed" "$left"
  rm -rf "$s"
}

# A second sweep straight after the first: nothing is due, and every file is known from the
# scan cache (the first run remembered them), so its time is the index's look-ups and the
# walk: what most nights cost.
bench_second_sweep() {
  local index=$1 n=$2 s=$3 tv sec mem known
  tv=$( { /usr/bin/time -f '%e %M' "$SWEEP_BIN" -c "$s/retention.toml" --json >"$s/second.json"; } 2>&1 | tail -1) || true
  read -r sec mem <<<"$tv"
  known=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j.get("messages_scanned"), j.get("messages_known"))' "$s/second.json" 2>/dev/null || echo "? ?")
  printf '  index=%s store=%d second_sweep_seconds=%.2f peak_rss_kb=%d scanned_and_known_from_cache=%s\n' \
    "$index" "$n" "$sec" "$mem" "${known/ //}"
}

# The first sweep again with the index on the private PostgreSQL server: the store's SQLite
# index copied there by `retentionctl migrate-index --to postgresql`, as an admin moving an
# install would, then the config switched to it.
bench_pg_sweep() {
  local n=$1 fsec=$2 s=$WORK/pg-store-$n db=bench_sweep_$1 conninfo tv ssec smem left gone migrate
  "$GEN_BIN" -d "$s" -n "$n" >/dev/null
  bench_pg_database "$db"
  conninfo=$BM_CONNINFO
  sed -i "s|^\[index\]\$|[index]\nconninfo = \"$conninfo\"|" "$s/retention.toml"
  migrate=$( { /usr/bin/time -f '%e' "$CTL_BIN" -c "$s/retention.toml" migrate-index --to postgresql >"$s/migrate.out"; } 2>&1 | tail -1) || true
  sed -i 's|^\[index\]$|[index]\nbackend = "postgresql"|' "$s/retention.toml"
  sleep 2.5 # files settled: the first run remembers them all (ScanCache::settle)
  sync
  find "$s/mail" -type f >/dev/null
  tv=$( { /usr/bin/time -f '%e %M' "$SWEEP_BIN" -c "$s/retention.toml" --json >"$s/summary.json"; } 2>&1 | tail -1) || true
  read -r ssec smem <<<"$tv"
  left=$(pg_psql "$db" "select count(*) from messages where state = 'present' and retain_until <= to_char(current_date, 'YYYY-MM-DD')" 2>/dev/null || echo "?")
  gone=$(while read -r f; do if [ -e "$f" ]; then echo "$f"; fi; done <"$s/expired.list" | wc -l)
  printf '  index=postgresql store=%d migrate_index_seconds=%s first_sweep_seconds=%.2f sweep_peak_rss_kb=%d ratio_to_find=%.2f expired_files_left=%d rows_past_date_left=%s\n' \
    "$n" "$migrate" "$ssec" "$smem" "$(echo "$ssec / ($fsec + 0.001)" | bc -l)" "$gone" "$left"
  bench_second_sweep postgresql "$n" "$s"
  pg_psql postgres "DROP DATABASE $db" >/dev/null
  rm -rf "$s"
}

if [[ " $ONLY " == *" sweep "* ]]; then
  say
  say "== sweeper (secure_delete = \"unlink\") beside find -delete of the same expired files (warm cache)"
  for n in $SIZES; do
    s=$WORK/store-$n
    "$GEN_BIN" -d "$s" -n "$n" >/dev/null
    expired=$(wc -l <"$s/expired.list")
    # The floor: the same tree made again, written to disk (`sync`: a real store's expired
    # mail is months old; unlinking files whose blocks were never allocated yet is far
    # cheaper, and made an earlier floor here 5x too low), cache warmed, and `find` walking
    # it and deleting only the expired files (gen-store dates them 200 days back, the rest
    # 10). Below it, for reference, `xargs rm` of the list of expired files (walks nothing).
    "$GEN_BIN" -d "$s.floor" -n "$n" >/dev/null
    sync
    find "$s.floor/mail" -type f >/dev/null
    floor=$( { /usr/bin/time -f '%e %M' find "$s.floor/mail" -type f -mtime +180 -delete; } 2>&1 | tail -1)
    left_floor=$(grep -c . <(while read -r f; do if [ -e "$f" ]; then echo "$f"; fi; done <"$s.floor/expired.list") || true)
    rm -rf "$s.floor"
    "$GEN_BIN" -d "$s.floor" -n "$n" >/dev/null
    sync
    find "$s.floor/mail" -type f >/dev/null
    rmfloor=$( { /usr/bin/time -f '%e' xargs -d '\n' rm -f <"$s.floor/expired.list"; } 2>&1 | tail -1)
    # What any index-driven sweep must do besides: read every message once (its Message-ID
    # is the only link to its row), here `find -exec cat` over the same warm tree.
    readfloor=$( { /usr/bin/time -f '%e' find "$s/mail" -type f -exec cat {} + >/dev/null; } 2>&1 | tail -1)
    rm -rf "$s.floor"
    sync  # gen-store's writes on disk first, for the floor too (below)
    find "$s/mail" -type f >/dev/null  # warm the cache for the sweeper too
    tv=$( { /usr/bin/time -f '%e %M' "$SWEEP_BIN" -c "$s/retention.toml" --json >"$s/summary.json"; } 2>&1 | tail -1) || true
    left=$(sqlite3 -readonly "$s/state/index.sqlite3" "select count(*) from messages where state = 'present' and retain_until <= date('now')" 2>/dev/null || echo "?")
    destroyed=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(sum(v.get("destroyed",0) for v in j.get("lines",{}).values()) if isinstance(j.get("lines"),dict) else "?")' "$s/summary.json" 2>/dev/null || echo "?")
    gone=$(while read -r f; do if [ -e "$f" ]; then echo "$f"; fi; done <"$s/expired.list" | wc -l)
    read -r ssec smem <<<"$tv"
    read -r fsec fmem <<<"$floor"
    printf '  store=%d expired=%d first_sweep_seconds=%.2f sweep_peak_rss_kb=%d find_floor_seconds=%.2f ratio=%.2f (find left %s expired) xargs_rm_seconds=%.2f read_all_seconds=%.2f destroyed=%s expired_files_left=%d rows_past_date_left=%s\n' \
      "$n" "$expired" "$ssec" "$smem" "$fsec" "$(echo "$ssec / ($fsec + 0.001)" | bc -l)" "$left_floor" "$rmfloor" "$readfloor" "$destroyed" "$gone" "$left"
    bench_second_sweep sqlite "$n" "$s"
    rm -rf "$s"
    bench_nightly_sweep "$n" "$fsec"
    [[ " $INDEXES " == *" postgresql "* ]] && bench_pg_sweep "$n" "$fsec"
  done
fi
# --- 4. the sweeper through Dovecot ------------------------------------------------------
# Sets DV_SECONDS (wall time) and DV_RSS (peak KB) of CMD...; its stdout goes to DV_OUT.
dv_time() {
  local tv
  tv=$( { /usr/bin/time -f '%e %M' "$@" >"$DV_OUT"; } 2>&1 | tail -1) || true
  read -r DV_SECONDS DV_RSS <<<"$tv"
}

# FORMAT N GEN_DIR: gen-store's store in GEN_DIR imported into a private Dovecot in FORMAT,
# then the three ways of doing the night's work, each on a fresh copy.
bench_dovecot() {
  local fmt=$1 n=$2 g=$3
  local d=$WORK/dovecot-$fmt-$n users u t0 import_sec expired want
  users=$(cd "$g/mail" && for u in */*; do echo "${u#*/}@${u%/*}"; done)
  expired=$(wc -l <"$g/expired.ids")
  want=$((n - expired))
  PF_MAIL_FORMAT=$fmt PF_MAILBOXES=${users//$'\n'/ } pf_start "$d" "" >/dev/null
  chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$g/mail"
  t0=$(now)
  for u in $users; do pf_doveadm import -u "$u" -s "maildir:$g/mail/${u#*@}/${u%@*}" "" all; done
  import_sec=$(echo "$(now) - $t0" | bc -l)
  cp -a "$PF_MAIL_DIR" "$d/mail.snap"
  cp -a "$g/state" "$d/state.snap"
  restore() {
    rm -rf "$PF_MAIL_DIR" "$g/state"
    cp -a "$d/mail.snap" "$PF_MAIL_DIR"
    cp -a "$d/state.snap" "$g/state"
    sync
    find "$PF_MAIL_DIR" -type f -exec cat {} + >/dev/null
  }
  left() { python3 bench/dovecot_alone.py count "$PF_DOVECOT_CONF" info@respectphoneline.test info@mensadviceline.test '*@respect.test'; }
  local purge=() alone_sec alone_out alone_left alone_hdr_sec alone_hdr_left sweep_sec sweep_rss sweep_left summary before_sec before_left
  [ "$fmt" != mdbox ] || purge=(--purge)

  DV_OUT=$d/alone.out
  dv_time python3 bench/dovecot_alone.py sweep "$PF_DOVECOT_CONF" "$g/expired.ids" "${purge[@]}" \
    info@respectphoneline.test info@mensadviceline.test '*@respect.test'
  alone_sec=$DV_SECONDS
  alone_out=$(cat "$DV_OUT")
  alone_left=$(left)

  restore
  DV_OUT=$d/alone-hdr.out
  dv_time python3 bench/dovecot_alone.py sweep "$PF_DOVECOT_CONF" "$g/expired.ids" "${purge[@]}" --hdr \
    info@respectphoneline.test info@mensadviceline.test '*@respect.test'
  alone_hdr_sec=$DV_SECONDS
  alone_hdr_left=$(left)

  restore
  sed '/^\[\[sweep\.mailbox\]\]/,$d' "$g/retention.toml" >"$d/retention.toml"
  cat >>"$d/retention.toml" <<EOF
[[sweep.dovecot]]
name = "local"
doveadm = "${BENCH_DOVEADM:-$(command -v doveadm)}"
config_file = "$PF_DOVECOT_CONF"

[[sweep.mailbox]]
store = "dovecot"
user = "info@respectphoneline.test"
kind = "shared"
line = "respect-phoneline"

[[sweep.mailbox]]
store = "dovecot"
user = "info@mensadviceline.test"
kind = "shared"
line = "mens-advice-line"

[[sweep.mailbox]]
store = "dovecot"
user = "*@respect.test"
kind = "personal"
EOF
  DV_OUT=$d/sweep.json
  dv_time "$SWEEP_BIN" -c "$d/retention.toml" --json
  sweep_sec=$DV_SECONDS
  sweep_rss=$DV_RSS
  summary=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j.get("exit_code"), sum(v.get("destroyed",0) for v in j.get("lines",{}).values()), len(j.get("mailboxes_not_read",[])))' "$d/sweep.json" 2>/dev/null || echo "? ? ?")
  sweep_left=$(left)

  restore
  DV_OUT=$d/before.out
  if [ "$fmt" = mdbox ]; then
    # shellcheck disable=SC2016  # $1 is the inner shell's
    dv_time sh -c 'doveadm -c "$1" expunge -A mailbox "*" before 180d && doveadm -c "$1" purge -A' _ "$PF_DOVECOT_CONF"
  else
    dv_time doveadm -c "$PF_DOVECOT_CONF" expunge -A mailbox '*' before 180d
  fi
  before_sec=$DV_SECONDS
  before_left=$(left)

  local exit destroyed not_read
  read -r exit destroyed not_read <<<"$summary"
  printf '  format=%s store=%d expired=%d import_seconds=%.2f dovecot_alone_seconds=%.2f (%s) dovecot_alone_whole_header_seconds=%.2f sweep_seconds=%.2f sweep_peak_rss_kb=%s ratio_to_alone=%.2f ratio_to_alone_whole_header=%.2f sweep_exit=%s destroyed=%s mailboxes_not_read=%s expunge_before_seconds=%.2f ratio_to_expunge_before=%.2f left_alone=%s left_alone_whole_header=%s left_sweep=%s left_before=%s left_expected=%d\n' \
    "$fmt" "$n" "$expired" "$import_sec" "$alone_sec" "$alone_out" "$alone_hdr_sec" "$sweep_sec" "$sweep_rss" \
    "$(echo "$sweep_sec / ($alone_sec + 0.001)" | bc -l)" "$(echo "$sweep_sec / ($alone_hdr_sec + 0.001)" | bc -l)" \
    "$exit" "$destroyed" "$not_read" "$before_sec" \
    "$(echo "$sweep_sec / ($before_sec + 0.001)" | bc -l)" "$alone_left" "$alone_hdr_left" "$sweep_left" "$before_left" "$want"
  pf_stop "$d"
  PF_DIR=""
  rm -rf "$d"
}

if [[ " $ONLY " == *" dovecot "* ]]; then
  say
  say "== sweeper through Dovecot $(dovecot --version | cut -d' ' -f1) (store = \"dovecot\", local doveadm, secure_delete = \"unlink\") beside Dovecot alone (fetch + expunge [+ purge]) and expunge before 180d (warm cache)"
  for n in $SIZES; do
    g=$WORK/dovecot-gen-$n
    "$GEN_BIN" -d "$g" -n "$n" >/dev/null
    python3 bench/dovecot_alone.py ids "$g/expired.list" >"$g/expired.ids"
    for fmt in $FORMATS; do bench_dovecot "$fmt" "$n" "$g"; done
    rm -rf "$g"
  done
fi

say
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
