# test/bench/lib.sh -- shared helpers for the benchmarks in test/bench/
#
# Every benchmark runs on a throwaway cluster of its own, with the same
# settings for edp and for the plain PostgreSQL/PostGIS peer it is compared
# with, and prints the machine facts next to its figures.
#   BENCH_DIR   where the cluster lives (default /tmp/edp-bench)
#   BENCH_PORT  its port (default 55499); unix socket in BENCH_DIR only
#   BENCH_SHARED_BUFFERS  shared_buffers for both sides (default 4GB); e.g.
#               128MB, PostgreSQL's default, when indexes should not fit
#   BENCH_MAX_WAL_SIZE    max_wal_size (default 20GB: no checkpoint inside a
#               10M load); smaller where the disk must hold 100M rows twice

set -euo pipefail

PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir)}
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench}
BENCH_PORT=${BENCH_PORT:-55499}
BENCH_DB=bench

bench_as_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# bench_start_cluster [extra postgresql.conf lines...]
bench_start_cluster() {
    bench_stop_cluster
    rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$BENCH_DIR"
    bench_as_user "$PG_BINDIR/initdb" -D "$BENCH_DIR/data" -A trust -U postgres >/dev/null
    {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$BENCH_DIR'"
        echo "port = $BENCH_PORT"
        echo "shared_preload_libraries = 'edp'"
        echo "shared_buffers = '${BENCH_SHARED_BUFFERS:-4GB}'"
        echo "work_mem = '256MB'"
        echo "maintenance_work_mem = '1GB'"
        echo "max_wal_size = '${BENCH_MAX_WAL_SIZE:-20GB}'"
        echo "checkpoint_timeout = '30min'"
        echo "synchronous_commit = off"
        for line in "$@"; do echo "$line"; done
    } | bench_as_user tee -a "$BENCH_DIR/data/postgresql.conf" >/dev/null
    bench_as_user "$PG_BINDIR/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null
    bench_as_user "$PG_BINDIR/createdb" -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres "$BENCH_DB"
    bench_psql -c "CREATE EXTENSION edp CASCADE" >/dev/null
}

bench_stop_cluster() {
    if [ -f "$BENCH_DIR/data/postmaster.pid" ]; then
        bench_as_user "$PG_BINDIR/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null || true
    fi
}

# bench_psql ARGS... : psql on the bench database, quiet, stop on error
bench_psql() {
    bench_as_user "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -d "$BENCH_DB" "$@"
}

# bench_time CMD... : run a command, print its wall-clock seconds (3 decimals)
bench_time() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 $t0" | awk '{ printf "%.3f", $1 - $2 }'
}

# bench_machine : one markdown line of machine facts
bench_machine() {
    local cpu mem
    cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
    mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "Machine: $(nproc) cores ($cpu), $mem RAM, $(. /etc/os-release; echo "$PRETTY_NAME"), PostgreSQL $("$PG_BINDIR/postgres" -V | awk '{print $3}'); $(date -u +%Y-%m-%d)."
}

# bench_loadavg : the 1-minute load average now (other work on a shared
# machine skews timings; scripts print it next to their figures)
bench_loadavg() {
    cut -d ' ' -f 1 /proc/loadavg
}

# bench_best_of SQL : best of BENCH_REPEAT (default 3) runs of one statement in
# one session, in seconds, as psql's \timing measures it (no connection start-up)
bench_best_of() {
    local i
    {
        echo '\timing on'
        for i in $(seq "${BENCH_REPEAT:-3}"); do echo "$1;"; done
    } | bench_psql -At -o /dev/null 2>&1 | awk '/^Time: / { t = $2 / 1000; if (best == "" || t < best) best = t }
                                                  END { printf "%.4f", best }'
}

# bench_ms SECONDS : milliseconds, one decimal
bench_ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }

# bench_peak_mb SQL : run SQL in one session, print the backend's peak private
# memory in MB (VmHWM - RssShmem: shared buffers excluded)
bench_peak_mb() {
    bench_psql -At -c "$1" -c "SELECT ((regexp_match(s, 'VmHWM:\s+(\d+)'))[1]::bigint
                                      - (regexp_match(s, 'RssShmem:\s+(\d+)'))[1]::bigint) / 1024
                                 FROM pg_read_file('/proc/self/status') s" | tail -n 1
}
