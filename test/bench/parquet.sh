#!/usr/bin/env bash
# test/bench/parquet.sh [N] -- COPY ... TO (FORMAT parquet) against COPY ... TO (FORMAT csv)
#
# Issue 16 asks, side by side in one run at 10M events, for the rows/s of
# COPY ... TO (FORMAT parquet) against COPY ... TO (FORMAT csv) of the same
# table (target: at least 0.7x CSV's rows/s), and the file size against CSV
# and CSV+gzip.  On a throwaway cluster, a table of N rows of
# edp.generate_events (all eleven columns: bigint, text, uuid, integer,
# timestamp, timestamptz, JSON metrics as text) is written to server files:
#   csv               COPY t TO 'f.csv' (FORMAT csv)
#   parquet zstd      COPY t TO 'f.parquet' (FORMAT parquet)  (the default, level 3)
#   parquet none      COPY t TO 'f.parquet' (FORMAT parquet, COMPRESSION none)
# each BENCH_REPEAT times (default 3), the best time counts; then gzip -6 of
# the CSV file (size, and its time for information).  When DuckDB for node
# is installed (test/parquet/node_modules), it counts the Parquet file's rows
# as a check that the file is whole.
#
# Environment: PG_BINDIR (PostgreSQL with edp installed), BENCH_DIR (default
# /tmp/edp-bench-parquet), BENCH_PORT (default 55447), BENCH_REPEAT,
# BENCH_SHARED_BUFFERS (see lib.sh).
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench-parquet}
BENCH_PORT=${BENCH_PORT:-55447}
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
OUT=$BENCH_DIR/out
READER=$(cd "$(dirname "$0")/.." && pwd)/parquet/read.mjs

echo "parquet benchmark: N=$N, cluster in $BENCH_DIR" >&2
bench_start_cluster
trap bench_stop_cluster EXIT
mkdir -p "$OUT"
[ "$(id -u)" -ne 0 ] || chown postgres: "$OUT"

bench_psql -c "CREATE TABLE events AS SELECT * FROM edp.generate_events($N)" -c "VACUUM ANALYZE events"
# warm up: the table in shared buffers, the library loaded
bench_psql -c "COPY events TO '/dev/null'" -c "COPY (SELECT * FROM events LIMIT 1000) TO '$OUT/warm.parquet' (FORMAT parquet)"

LOAD_BEFORE=$(bench_loadavg)
S_CSV=$(bench_best_of "COPY events TO '$OUT/events.csv' (FORMAT csv)")
S_PQ=$(bench_best_of "COPY events TO '$OUT/events.parquet' (FORMAT parquet)")
S_PQ_NONE=$(bench_best_of "COPY events TO '$OUT/events_none.parquet' (FORMAT parquet, COMPRESSION none)")
LOAD_AFTER=$(bench_loadavg)
T0=$(date +%s.%N)
gzip -6 -c "$OUT/events.csv" > "$OUT/events.csv.gz"
S_GZIP=$(echo "$(date +%s.%N) $T0" | awk '{ printf "%.3f", $1 - $2 }')

B_CSV=$(stat -c %s "$OUT/events.csv")
B_GZ=$(stat -c %s "$OUT/events.csv.gz")
B_PQ=$(stat -c %s "$OUT/events.parquet")
B_PQ_NONE=$(stat -c %s "$OUT/events_none.parquet")

CHECK="not checked (no DuckDB for node in test/parquet)"
if [ -d "$(dirname "$READER")/node_modules/@duckdb/node-api" ]; then
    rows=$(node "$READER" "SELECT count(*) FROM '$OUT/events.parquet'" | tr -dc '0-9')
    if [ "$rows" = "$N" ]; then CHECK="DuckDB reads $rows rows: ok"; else CHECK="FAIL: DuckDB reads $rows rows"; fi
fi

echo
echo "### COPY TO (FORMAT parquet) vs (FORMAT csv), N = $N events, best of ${BENCH_REPEAT:-3}"
echo
bench_machine
echo "Load average (1 min): $LOAD_BEFORE before the timed runs, $LOAD_AFTER after (2 cores). Parquet file check: $CHECK."
echo
echo "| COPY events TO server file | seconds | rows/s | rows/s vs csv | file size | size vs csv |"
echo "|---|---:|---:|---:|---:|---:|"
row() {
    awk -v l="$1" -v n="$N" -v s="$2" -v sc="$S_CSV" -v b="$3" -v bc="$B_CSV" 'BEGIN {
        printf "| %s | %.2f | %.0f | %.2fx | %.1f MB | %.3f |\n", l, s, n / s, sc / s, b / 1e6, b / bc }'
}
row "(FORMAT csv)" "$S_CSV" "$B_CSV"
row "(FORMAT parquet) -- zstd level 3, the default" "$S_PQ" "$B_PQ"
row "(FORMAT parquet, COMPRESSION none)" "$S_PQ_NONE" "$B_PQ_NONE"
awk -v b="$B_GZ" -v bc="$B_CSV" -v s="$S_GZIP" -v bp="$B_PQ" 'BEGIN {
    printf "| csv, then gzip -6 (gzip alone: %.2f s) | | | | %.1f MB | %.3f |\n", s, b / 1e6, b / bc
    printf "\nParquet (zstd) is %.2fx the size of CSV+gzip.\n", bp / b }'
awk -v sc="$S_CSV" -v sp="$S_PQ" 'BEGIN {
    r = sc / sp; printf "Target: parquet rows/s >= 0.7x csv rows/s: %.2fx, %s\n", r, (r >= 0.7 ? "met" : "NOT met") }'
rm -f "$OUT"/events*
