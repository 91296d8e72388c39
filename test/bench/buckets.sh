#!/usr/bin/env bash
# test/bench/buckets.sh [N] -- hourly bucket counts (issue 3): edp vs plain PostgreSQL
#
# One run, side by side on one throwaway cluster (lib.sh):
#   ingest   client-side COPY of N generated events (10k customers over one
#            year, one hot customer with ~10% of the events) into
#            - the peer: btree (customer_id, event_ts) + UNIQUE on the dedupe key
#            - edp: rollup (edp.enable_rollup, raw_index => brin) + dedupe
#              (edp.enable_dedupe), and once more with the default btree
#   queries  pgbench, 1 client, prepared, BENCH_SECONDS each: hourly counts of a
#            typical and of the hot customer over a day, week, month, year;
#            the peer in its date_trunc and date_bin forms, edp.bucket_counts()
# Prints a markdown report (also written to bench-results/buckets-N.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

N=${1:-1000000}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
out_dir="$here/../../bench-results"
mkdir -p "$out_dir"
report="$out_dir/buckets-$N.md"
PGBENCH="$PG_BINDIR/pgbench"

bench_start_cluster
csv="$BENCH_DIR/events.csv"

# ---- data: edp.generate_events when present, else an SQL stand-in ---------
if bench_psql -tA -c "CREATE TABLE src AS
        SELECT customer_id::bigint AS customer_id, event_type::text AS event_type,
               transaction_id, event_ts
          FROM edp.generate_events(n => $N, seed => 42,
                                   start_at => '2024-01-01 00:00+00', end_at => '2025-01-01 00:00+00',
                                   customers => 10000, hot_share => 0.1)" >/dev/null 2>&1; then
    source_note="edp.generate_events(n => $N, seed => 42, customers => 10000, hot_share => 0.1), one year"
else
    source_note="SQL stand-in for edp.generate_events (setseed(0.42), random()): 10000 customers, customer 1 holds 10%, uniform over 2024"
    bench_psql -c "SELECT setseed(0.42)" -c "CREATE TABLE src AS
        SELECT (CASE WHEN random() < 0.1 THEN 1 ELSE 2 + floor(random() * 9999) END)::bigint AS customer_id,
               'type' || floor(random() * 8)::int AS event_type,
               gen_random_uuid() AS transaction_id,
               '2024-01-01 00:00+00'::timestamptz + random() * interval '366 days' AS event_ts
          FROM generate_series(1, $N)"
fi
# the same duplicate-free file for both sides (the peer's UNIQUE constraint
# would reject a file with duplicates; edp's dedupe still checks every row),
# in time order as event files come (BENCH_ORDER=customer sorts it by
# customer instead, which turns the peer's btree inserts into appends)
order=${BENCH_ORDER:-time}
case $order in
    time) order_by="event_ts, customer_id" ;;
    customer) order_by="customer_id, event_ts" ;;
    *) echo "BENCH_ORDER must be time or customer" >&2; exit 2 ;;
esac
bench_psql -c "COPY (SELECT * FROM (SELECT DISTINCT ON (customer_id, event_ts, event_type, transaction_id)
                                          customer_id, event_type, transaction_id, event_ts
                                     FROM src WHERE customer_id IS NOT NULL AND event_ts IS NOT NULL) d
                      ORDER BY $order_by)
                TO '$csv' (FORMAT csv)"
rows=$(wc -l < "$csv")
hot=$(bench_psql -tA -c "SELECT customer_id FROM src WHERE customer_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
typical=$(bench_psql -tA -c "SELECT customer_id FROM (SELECT customer_id, count(*) AS n FROM src WHERE customer_id IS NOT NULL GROUP BY 1) x
                             ORDER BY n, customer_id OFFSET (SELECT count(DISTINCT customer_id) / 2 FROM src) LIMIT 1")
hot_n=$(bench_psql -tA -c "SELECT count(*) FROM src WHERE customer_id = $hot")
typ_n=$(bench_psql -tA -c "SELECT count(*) FROM src WHERE customer_id = $typical")
bench_psql -c "DROP TABLE src"

# ---- ingest -----------------------------------------------------------------
bench_psql -c "CREATE TABLE peer_events (customer_id bigint, event_type text, transaction_id uuid, event_ts timestamptz);
               CREATE INDEX ON peer_events (customer_id, event_ts);
               ALTER TABLE peer_events ADD UNIQUE (customer_id, event_ts, event_type, transaction_id);
               CREATE TABLE edp_events (customer_id bigint, event_type text, transaction_id uuid, event_ts timestamptz);
               SELECT edp.enable_rollup('edp_events', key => 'customer_id', ts => 'event_ts', raw_index => 'brin');
               SELECT edp.enable_dedupe('edp_events', columns => '{customer_id,event_ts,event_type,transaction_id}');
               CREATE TABLE edp_btree (customer_id bigint, event_type text, transaction_id uuid, event_ts timestamptz);
               SELECT edp.enable_rollup('edp_btree', key => 'customer_id', ts => 'event_ts');
               SELECT edp.enable_dedupe('edp_btree', columns => '{customer_id,event_ts,event_type,transaction_id}');" >/dev/null
bench_psql -c "CHECKPOINT"
t_peer=$(bench_time bench_psql -c "\\copy peer_events FROM '$csv' (FORMAT csv)")
bench_psql -c "CHECKPOINT"
t_edp=$(bench_time bench_psql -c "\\copy edp_events FROM '$csv' (FORMAT csv)")
bench_psql -c "CHECKPOINT"
t_edp_btree=$(bench_time bench_psql -c "\\copy edp_btree FROM '$csv' (FORMAT csv)")
same_btree=$(bench_psql -tA -c "SELECT (SELECT count(*) FROM edp_btree) = (SELECT count(*) FROM peer_events)
                                 AND (SELECT count(*) FROM edp.verify_rollup('edp_btree')) = 0")
bench_psql -c "DROP TABLE edp_btree" -c "CHECKPOINT"
# loading the same file again: edp keeps every count, the peer's COPY fails
t_edp_again=$(bench_time bench_psql -c "\\copy edp_events FROM '$csv' (FORMAT csv)")
same=$(bench_psql -tA -c "SELECT (SELECT count(*) FROM edp_events) = (SELECT count(*) FROM peer_events)
                           AND (SELECT count(*) FROM edp.verify_rollup('edp_events')) = 0")
bench_psql -c "VACUUM ANALYZE peer_events" -c "VACUUM ANALYZE edp_events" -c "VACUUM ANALYZE edp_events_edp_rollup" -c "CHECKPOINT"
rollup_rows=$(bench_psql -tA -c "SELECT count(*) FROM edp_events_edp_rollup")

# ---- queries ------------------------------------------------------------------
# run_pgbench NAME SQL : prints "qps median_ms"
run_pgbench() {
    local name=$1 sql=$2 f="$BENCH_DIR/$1.sql"
    echo "$sql" | bench_as_user tee "$f" >/dev/null
    rm -f "$BENCH_DIR"/pgb_"$name"*
    local tps
    tps=$(cd "$BENCH_DIR" && bench_as_user "$PGBENCH" -n -c 1 -M prepared -T "$SECONDS_PER_RUN" \
            -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -l --log-prefix="pgb_$name" -f "$f" "$BENCH_DB" 2>/dev/null \
          | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    local med
    med=$(cat "$BENCH_DIR"/pgb_"$name"* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}')
    echo "$tps $med"
}

declare -A from to
from[day]='2024-03-04 00:00+00';   to[day]='2024-03-05 00:00+00'
from[week]='2024-03-04 00:00+00';  to[week]='2024-03-11 00:00+00'
from[month]='2024-03-01 00:00+00'; to[month]='2024-04-01 00:00+00'
from[year]='2024-01-01 00:00+00';  to[year]='2025-01-01 00:00+00'

read -r one_qps one_med <<< "$(run_pgbench select1 'SELECT 1;')"
{
echo "## Hourly buckets (issue 3)"
echo
bench_machine
echo "Run: \`test/bench/buckets.sh $N\` (BENCH_SECONDS=$SECONDS_PER_RUN per pgbench run)."
echo "Data: $source_note; $rows distinct events loaded, file in $order order; hot customer $hot ($hot_n events), typical customer $typical ($typ_n events)."
echo
echo "### Ingest (client-side \\copy of the same file)"
echo
echo "| table | seconds | rows/s | ratio |"
echo "|---|---:|---:|---:|"
awk -v r="$rows" -v p="$t_peer" -v e="$t_edp" -v b="$t_edp_btree" -v a="$t_edp_again" 'BEGIN {
  printf "| peer: btree (customer_id, event_ts) + UNIQUE (customer_id, event_ts, event_type, transaction_id) | %.1f | %.0f | 1.00 |\n", p, r/p;
  printf "| edp: rollup + dedupe, raw_index => brin (first load) | %.1f | %.0f | %.2f |\n", e, r/e, p/e;
  printf "| edp: rollup + dedupe, raw_index => btree, the default (first load) | %.1f | %.0f | %.2f |\n", b, r/b, p/b;
  printf "| edp: the same file again (all rows are duplicates, nothing doubles) | %.1f | %.0f | %.2f |\n", a, r/a, p/a }'
echo
echo "Counts equal and rollup exact after both loads: $same (btree table: $same_btree). Rollup rows: $rollup_rows."
echo
echo "### Queries (pgbench, 1 client, prepared; SELECT 1: $one_qps qps, median $one_med ms)"
echo
echo "edp runs edp.bucket_counts(tbl, key, from, to, fill => false) (the output of the peer: non-empty buckets only);"
echo "the last two columns run the default zero-filled form (every bucket of the range, empty ones as 0)."
echo
echo "| customer | range | peer date_trunc qps | peer date_bin qps | edp qps | edp / faster peer | edp median ms | edp filled qps | filled median ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$report"
for who in typical hot; do
    k=$typical; [ "$who" = hot ] && k=$hot
    for r in day week month year; do
        f=${from[$r]}; t=${to[$r]}
        read -r q1 m1 <<< "$(run_pgbench "trunc_${who}_$r" "SELECT date_trunc('hour', event_ts) AS b, count(*) FROM peer_events WHERE customer_id = $k AND event_ts >= '$f' AND event_ts < '$t' GROUP BY 1 ORDER BY 1;")"
        read -r q2 m2 <<< "$(run_pgbench "bin_${who}_$r" "SELECT date_bin('1 hour', event_ts, '2000-01-01 00:00+00') AS b, count(*) FROM peer_events WHERE customer_id = $k AND event_ts >= '$f' AND event_ts < '$t' GROUP BY 1 ORDER BY 1;")"
        read -r q3 m3 <<< "$(run_pgbench "edp_${who}_$r" "SELECT * FROM edp.bucket_counts('edp_events', $k::bigint, '$f', '$t', fill => false);")"
        read -r q4 m4 <<< "$(run_pgbench "fill_${who}_$r" "SELECT * FROM edp.bucket_counts('edp_events', $k::bigint, '$f', '$t');")"
        awk -v w="$who" -v r="$r" -v a="$q1" -v b="$q2" -v c="$q3" -v m="$m3" -v d="$q4" -v n="$m4" 'BEGIN {
            best = (a > b) ? a : b;
            printf "| %s | %s | %.0f | %.0f | %.0f | %.1fx | %.3f | %.0f | %.3f |\n", w, r, a, b, c, c / best, m, d, n }' | tee -a "$report"
    done
done
echo | tee -a "$report"
bench_stop_cluster
