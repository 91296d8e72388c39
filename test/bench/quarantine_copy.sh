#!/usr/bin/env bash
# test/bench/quarantine_copy.sh [N] -- quarantine on COPY from a client
#
# Issue 12: psql's \copy with ON_ERROR 'quarantine' (edp's validated ingest
# engine behind plain COPY, the input streamed through the COPY protocol)
# side by side with plain \copy, on one throwaway cluster, into
#   t (customer_id text, event_type text, transaction_id uuid, ts timestamptz)
# without indexes or edp features. Inputs: N generated events (default
# 10,000,000; md5 customer ids, ts text with mixed UTC offsets) as a clean CSV
# file, and the same file with 1% bad rows spread through it (every 100th row's
# ts is 'not a time'). Runs:
#   1 \copy t FROM clean (FORMAT csv)                         -- the reference
#   2 \copy t FROM clean WITH (FORMAT csv, ON_ERROR 'quarantine')
#   3 \copy t FROM dirty WITH (FORMAT csv, ON_ERROR 'quarantine')
# (plain \copy of the dirty file fails at its first bad row: no figure).
# Each run gets a fresh table and a CHECKPOINT; it is timed from psql's start
# to its end, in one session that then reads its backend's peak private
# memory (VmHWM - RssShmem, lib.sh). Ratios: rows/s (input rows per second)
# of each run over the reference's; targets 2 >= 0.8, 3 >= 0.5. Checks: runs 1
# and 2 store N rows, run 3 stores N - N/100 and quarantines N/100 (FAIL
# lines otherwise).
# BENCH_REPEAT=R (default 1) keeps the best of R.
#
# Environment: PG_BINDIR (PostgreSQL with edp installed), BENCH_DIR,
# BENCH_PORT, BENCH_SHARED_BUFFERS (lib.sh; this script has its own dir and
# port), BENCH_REPEAT.
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench-quarantine-copy}
BENCH_PORT=${BENCH_PORT:-55451}
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
REPEAT=${BENCH_REPEAT:-1}
export PGOPTIONS="-c client_min_messages=warning"
CLEAN=$BENCH_DIR/clean.csv
DIRTY=$BENCH_DIR/dirty.csv
COLS="customer_id text, event_type text, transaction_id uuid, ts timestamptz"
BAD=$(( N / 100 ))

echo "quarantine COPY benchmark: N=$N, best of $REPEAT, cluster in $BENCH_DIR" >&2
bench_start_cluster
trap bench_stop_cluster EXIT
load_before=$(bench_loadavg)

echo "generating $CLEAN and $DIRTY" >&2
bench_psql -c "COPY (SELECT md5(customer_id::text), event_type, transaction_id, ts_text
                       FROM edp.generate_events($N)) TO '$CLEAN' (FORMAT csv)"
bench_psql -c "CREATE TABLE input_text (customer_id text, event_type text, transaction_id text, ts text)" \
           -c "COPY input_text FROM '$CLEAN' (FORMAT csv)" \
           -c "COPY (SELECT customer_id, event_type, transaction_id,
                            CASE WHEN n % 100 = 0 THEN 'not a time' ELSE ts END
                       FROM (SELECT *, row_number() OVER () AS n FROM input_text) s) TO '$DIRTY' (FORMAT csv)" \
           -c "DROP TABLE input_text"
CSV_MB=$(du -m "$CLEAN" | cut -f 1)

fresh() {
    bench_psql -c "DROP TABLE IF EXISTS t" -c "CREATE TABLE t ($COLS)" -c "CHECKPOINT"
}

PEAK_SQL="SELECT ((regexp_match(s, 'VmHWM:\s+(\d+)'))[1]::bigint
                  - (regexp_match(s, 'RssShmem:\s+(\d+)'))[1]::bigint) / 1024
             FROM pg_read_file('/proc/self/status') s"

declare -A LABEL=(
    [plain]="1 \`\\copy t FROM clean (FORMAT csv)\` (the reference)"
    [quarantine_clean]="2 \`\\copy t FROM clean WITH (FORMAT csv, ON_ERROR 'quarantine')\`"
    [quarantine_dirty]="3 \`\\copy t FROM dirty WITH (FORMAT csv, ON_ERROR 'quarantine')\`, 1% bad rows"
)
declare -A CMD=(
    [plain]="\\copy t FROM '$CLEAN' (FORMAT csv)"
    [quarantine_clean]="\\copy t FROM '$CLEAN' WITH (FORMAT csv, ON_ERROR 'quarantine')"
    [quarantine_dirty]="\\copy t FROM '$DIRTY' WITH (FORMAT csv, ON_ERROR 'quarantine')"
)
declare -A WANT=([plain]=$N [quarantine_clean]=$N [quarantine_dirty]=$(( N - BAD )))
declare -A WANT_REJECTED=([quarantine_clean]=0 [quarantine_dirty]=$BAD)

FAILS=()
fail() { echo "FAIL: $*" >&2; FAILS+=("FAIL: $*"); }

declare -A SECS PEAK
for run in plain quarantine_clean quarantine_dirty; do
    best=""
    for i in $(seq "$REPEAT"); do
        fresh
        t0=$(date +%s.%N)
        peak=$(bench_psql -At -c "${CMD[$run]}" -c "$PEAK_SQL" | tail -n 1)
        t1=$(date +%s.%N)
        t=$(echo "$t1 $t0" | awk '{ printf "%.3f", $1 - $2 }')
        rows=$(bench_psql -At -c "SELECT count(*) FROM t")
        echo "  $run run $i: $t s, $rows rows stored, backend peak $peak MB" >&2
        [ "$rows" = "${WANT[$run]}" ] || fail "$run run $i: $rows rows stored, expected ${WANT[$run]}"
        if [ "$run" != plain ]; then
            read -r job_id status rejected < <(bench_psql -At -F ' ' -c "SELECT id, status, rejected FROM edp.jobs ORDER BY id DESC LIMIT 1")
            [ "$status" = succeeded ] || fail "$run run $i: job $job_id ended $status"
            [ "$rejected" = "${WANT_REJECTED[$run]}" ] || fail "$run run $i: job $job_id rejected $rejected rows, expected ${WANT_REJECTED[$run]}"
        fi
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; PEAK[$run]=$peak; fi
    done
    SECS[$run]=$best
done
bench_psql -c "DROP TABLE IF EXISTS t"
load_after=$(bench_loadavg)

rate() { awk -v n="$N" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }
ratio() { awk -v r="$1" -v t="$2" 'BEGIN { printf "%.2f", r / t }'; }

echo
echo "### Quarantine on COPY from a client, N = $N, best of $REPEAT"
echo
bench_machine
echo "edp $(bench_psql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'edp'"); shared_buffers ${BENCH_SHARED_BUFFERS:-4GB}; 1-min load average $load_before before, $load_after after."
echo
echo "Input: N = $N generated events, $CSV_MB MB CSV; the dirty copy has $BAD bad rows (every 100th). Table without indexes."
echo
echo "| run | seconds | rows/s (input) | vs plain \\copy | target | backend peak MB |"
echo "|---|---:|---:|---:|---:|---:|"
ref=${SECS[plain]}
for run in plain quarantine_clean quarantine_dirty; do
    case $run in plain) target="—";; quarantine_clean) target=">= 0.80";; quarantine_dirty) target=">= 0.50";; esac
    echo "| ${LABEL[$run]} | ${SECS[$run]} | $(rate "${SECS[$run]}") | $(ratio "$ref" "${SECS[$run]}") | $target | ${PEAK[$run]} |"
done
echo
for f in "${FAILS[@]}"; do echo "$f"; done
[ "${#FAILS[@]}" -eq 0 ]
