#!/usr/bin/env bash
# test/bench/generator.sh [N] -- speed of edp.generate_events
#
# Issue 2, Part 3 asks for at least 1M rows/s.  Measures, on a throwaway
# cluster, N generated rows (default 1,000,000):
#   count(*) over the function (generation + the function scan's tuplestore)
#   COPY of all eleven columns to /dev/null (adds PostgreSQL's output functions)
#   COPY of the six columns of the issue's TSV file format to /dev/null
# and, as the peer, the same two COPYs from a table already holding the rows
# (PostgreSQL's own COPY TO cost, which bounds any COPY of generated rows).
#
# Environment: PG_BINDIR (PostgreSQL with edp installed), BENCH_DIR,
# BENCH_PORT (see lib.sh).
source "$(dirname "$0")/lib.sh"

N=${1:-1000000}
TSV_COLUMNS="id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics"
TSV_FORMAT="WITH (FORMAT csv, DELIMITER E'\\t', HEADER)"

echo "generator benchmark: N=$N, cluster in $BENCH_DIR" >&2
bench_start_cluster
trap bench_stop_cluster EXIT

# warm up (loads the library, touches the temp files' directory)
bench_psql -c "SELECT count(*) FROM edp.generate_events(100000)" >/dev/null

declare -A SECONDS_OF
SECONDS_OF[count]=$(bench_time bench_psql -c "SELECT count(*) FROM edp.generate_events($N)")
SECONDS_OF[copy_all]=$(bench_time bench_psql -c "COPY (SELECT * FROM edp.generate_events($N)) TO '/dev/null'")
SECONDS_OF[copy_tsv]=$(bench_time bench_psql -c "COPY (SELECT $TSV_COLUMNS FROM edp.generate_events($N)) TO '/dev/null' $TSV_FORMAT")

bench_psql -c "CREATE TABLE generated AS SELECT * FROM edp.generate_events($N)" -c "VACUUM ANALYZE generated"
SECONDS_OF[table_all]=$(bench_time bench_psql -c "COPY generated TO '/dev/null'")
SECONDS_OF[table_tsv]=$(bench_time bench_psql -c "COPY (SELECT $TSV_COLUMNS FROM generated) TO '/dev/null' $TSV_FORMAT")

echo
echo "### edp.generate_events, N = $N"
echo
bench_machine
echo
echo "| query | seconds | rows/s |"
echo "|---|---:|---:|"
row() {
    awk -v l="$1" -v n="$N" -v s="$2" 'BEGIN { printf "| %s | %.2f | %.0f |\n", l, s, n / s }'
}
row "SELECT count(*) FROM edp.generate_events(N)" "${SECONDS_OF[count]}"
row "COPY (SELECT * FROM edp.generate_events(N)) TO '/dev/null'" "${SECONDS_OF[copy_all]}"
row "COPY (SELECT <6 TSV columns> FROM edp.generate_events(N)) TO '/dev/null' (csv, tab, header)" "${SECONDS_OF[copy_tsv]}"
row "peer: COPY table_of_the_same_rows TO '/dev/null'" "${SECONDS_OF[table_all]}"
row "peer: COPY (SELECT <6 TSV columns> FROM table) TO '/dev/null' (csv, tab, header)" "${SECONDS_OF[table_tsv]}"
