#!/usr/bin/env bash
# test/bench/scale.sh N -- events and trips at scale (issue 14), edp vs plain
#
# N generated rows of each data set, side by side on one throwaway cluster
# (lib.sh), the events first, then the trips, their files removed in between:
#   events  edp.generate_events(N, seed 42, one year 2024, 10,000 customers,
#           a hot one with 10%, no duplicates) written to a CSV file and
#           loaded with \copy into
#           - edp: flattening (metrics path {metrics} -> metric_one,
#             metric_two, metric_n) + rollup (customer_id, event_ts) +
#             dedupe on (customer_id, event_type, transaction_id, event_ts);
#             BENCH_EVENTS_LAYOUT=partitioned partitions it by day first
#             (edp.enable_partitioning), default plain (see doc/scale.md)
#           - plain: the same columns with the metrics as jsonb, UNIQUE on the
#             dedupe key and a btree (customer_id, event_ts): what answers the
#             same questions without edp
#           queries: hourly buckets of the hot and of a typical customer over
#           a day, a week, a month and the year (edp.bucket_counts, fill =>
#           false, vs date_trunc('hour') GROUP BY)
#   trips   edp.generate_trips(N, seed 1) written in the trips.csv format
#           (WKT points) and loaded with \copy into
#           - edp: edp.create_trips_table (GiST indexes, weekly rollups and
#             point blocks kept by triggers)
#           - plain: a PostGIS table with a primary key, GiST on origin and on
#             destination and a btree on datetime
#           queries: weekly trip averages (both ends inside, zero weeks
#           counted) of a ~1 km box, a ~5 km box, the Prague region box and
#           the region name (as test/bench/trips.sh); trip groups (origin
#           and destination 100 m, 15 min, 5 trips) of Prague over one week
#           and of every trip, edp.trip_groups vs ST_ClusterDBSCAN(origin)
#           (origin only; at most BENCH_DBSCAN_MAX trips, default 1,000,000)
# Measured per data set and side: load seconds, rows/s, the loading
# backend's peak private memory (VmHWM - RssShmem, MB), WAL bytes of the
# load (pg_current_wal_lsn before and after); bytes on disk per row of the
# table, its indexes and edp's side tables (rollups, point blocks), after
# VACUUM ANALYZE, whose seconds are measured too; each query's median of
# BENCH_REPEAT runs (default 5) in one session, and the peak memory of the
# trip groups queries (BENCH_GROUPS_REPEAT runs, default 3; the peak read
# after them in the same session). lib.sh sets
# maintenance_work_mem = 1GB, so edp.trip_groups clusters up to ~6.7M trips
# in memory and larger N in bounded memory (edp.trip_cluster_mem).
#
# Results: a markdown report on stdout and one line per figure appended to
# BENCH_RESULTS (default bench-results/scale.tsv):
#   n  dataset  measure  method  value  unit  date  commit
# (dataset: events, events_partitioned or trips)
# test/bench/scale_report.py draws doc/scale.svg from that file and fills
# the tables of doc/scale.md.
#
# Environment: PG_BINDIR, BENCH_DIR (default /tmp/edp-bench-scale),
# BENCH_PORT (default 55451), BENCH_SHARED_BUFFERS (lib.sh), BENCH_REPEAT,
# BENCH_GROUPS_REPEAT, BENCH_PARTS (default "events trips"),
# BENCH_EVENTS_LAYOUT (plain or partitioned), BENCH_DBSCAN_MAX,
# BENCH_RESULTS.
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench-scale}
BENCH_PORT=${BENCH_PORT:-55451}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

N=${1:?usage: scale.sh N}
REPEAT=${BENCH_REPEAT:-5}
GROUPS_REPEAT=${BENCH_GROUPS_REPEAT:-3}
PARTS=${BENCH_PARTS:-events trips}
LAYOUT=${BENCH_EVENTS_LAYOUT:-plain}
DBSCAN_MAX=${BENCH_DBSCAN_MAX:-1000000}
RESULTS=${BENCH_RESULTS:-$here/../../bench-results/scale.tsv}
case $LAYOUT in plain|partitioned) ;; *) echo "BENCH_EVENTS_LAYOUT must be plain or partitioned" >&2; exit 2 ;; esac
part() { [[ " $PARTS " == *" $1 "* ]]; }
export PGOPTIONS="-c client_min_messages=warning"
mkdir -p "$(dirname "$RESULTS")"
[ -s "$RESULTS" ] || printf 'n\tdataset\tmeasure\tmethod\tvalue\tunit\tdate\tcommit\n' > "$RESULTS"
COMMIT=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
TODAY=$(date -u +%Y-%m-%d)

# record DATASET MEASURE METHOD VALUE UNIT: one line of the results file
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$1" "$2" "$3" "$4" "$5" "$TODAY" "$COMMIT" >> "$RESULTS"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'; }

# median_ms SQL : median of REPEAT runs of one statement in one session, in ms
median_ms() {
    local i
    {
        echo '\timing on'
        for i in $(seq "$REPEAT"); do echo "$1;"; done
    } | bench_psql -At -o /dev/null 2>&1 | awk '/^Time: / { t[++n] = $2 }
        END { if (n == 0) { print "-"; exit }
              for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
              printf "%.2f", (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2 }'
}

# median_peak SQL : "median_ms peak_mb" of REPEAT runs in one session, the
# peak private memory (VmHWM - RssShmem) read after the last run (a
# separate run would cost another long query at 100M)
median_peak() {
    local i
    {
        echo '\timing on'
        echo '\o /dev/null'
        for i in $(seq "$REPEAT"); do echo "$1;"; done
        echo '\o'
        echo '\timing off'
        echo "SELECT 'peak ' || ((regexp_match(s, 'VmHWM:\s+(\d+)'))[1]::bigint
                       - (regexp_match(s, 'RssShmem:\s+(\d+)'))[1]::bigint) / 1024
                FROM pg_read_file('/proc/self/status') s;"
    } | bench_psql -At 2>&1 | awk '/^Time: / { t[++n] = $2 } /^peak / { peak = $2 }
        END { if (n == 0) { print "- -"; exit }
              for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
              printf "%.2f %s\n", (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2, peak }'
}

# load TABLE COLUMNS FILE : \copy FILE into TABLE; prints "seconds peak_mb wal_bytes"
# (nothing when the load failed: the caller stops, see loaded)
load() {
    local lsn0 t0 t1 peak
    bench_psql -c "CHECKPOINT"
    lsn0=$(bench_psql -At -c "SELECT pg_current_wal_lsn()")
    t0=$(date +%s.%N)
    # (quiet: the generated events carry a few unknown metrics, one WARNING each)
    peak=$(PGOPTIONS="-c client_min_messages=error" bench_psql -At -c "\\copy $1 ($2) FROM '$3' (FORMAT csv, HEADER)" \
                          -c "SELECT ((regexp_match(s, 'VmHWM:\s+(\d+)'))[1]::bigint
                                      - (regexp_match(s, 'RssShmem:\s+(\d+)'))[1]::bigint) / 1024
                                FROM pg_read_file('/proc/self/status') s" | tail -n 1) || return 1
    t1=$(date +%s.%N)
    echo "$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }') $peak $(bench_psql -At -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')::bigint")"
}

# loaded TABLE SECONDS : stop the benchmark when TABLE's load failed
loaded() {
    if [ -z "$2" ]; then echo "scale benchmark: the load of $1 failed (see above)" >&2; exit 1; fi
}

# sizes TABLE [SIDE-TABLES...] : prints "table_bytes index_bytes side_bytes"
# (a partitioned table: the sums over its partitions; side tables with
# their indexes and TOAST; pg_partition_tree lists nothing for a table that
# is not partitioned)
sizes() {
    local t=$1; shift
    local side="ARRAY[]::regclass[]"
    [ $# -gt 0 ] && side="ARRAY[$(printf "'%s'::regclass," "$@" | sed 's/,$//')]"
    bench_psql -At -F ' ' -c "
        CREATE TEMP VIEW leaves AS
        SELECT s.r AS root, l.relid
          FROM unnest(ARRAY['$t'::regclass] || $side) s(r),
               LATERAL (SELECT p.relid FROM pg_partition_tree(s.r) p WHERE p.isleaf
                        UNION ALL
                        SELECT s.r WHERE NOT EXISTS (SELECT FROM pg_partition_tree(s.r))) l;
        SELECT sum(pg_table_size(relid)) FILTER (WHERE root = '$t'::regclass),
               sum(pg_indexes_size(relid)) FILTER (WHERE root = '$t'::regclass),
               coalesce(sum(pg_total_relation_size(relid)) FILTER (WHERE root <> '$t'::regclass), 0)
          FROM leaves" | tail -n 1
}

# vacuum_s TABLE... : seconds of VACUUM ANALYZE of the tables
vacuum_s() { bench_time bench_psql -c "VACUUM ANALYZE $(echo "$@" | sed 's/ /, /g')"; }

echo "scale benchmark: N=$N, parts '$PARTS', events layout $LAYOUT, cluster in $BENCH_DIR" >&2
bench_start_cluster "max_parallel_workers_per_gather = 2"
trap bench_stop_cluster EXIT
load_before=$(bench_loadavg)
report=""
add() { report+="$*"$'\n'; }

# ---- events -------------------------------------------------------------------
if part events; then
# the partitioned layout's figures are a data set of their own in the results
DS=events; [ "$LAYOUT" = partitioned ] && DS=events_partitioned
CSV=$BENCH_DIR/events.csv
ECOLS="id, customer_id, event_type, transaction_id, event_ts, event_metrics"
echo "events: generating $N rows" >&2
# (\copy takes one line)
bench_psql -c "\\copy (SELECT id, customer_id, event_type, transaction_id, ts_text, event_metrics FROM edp.generate_events($N, seed => 42, start_at => '2024-01-01 00:00+00', end_at => '2025-01-01 00:00+00', customers => 10000, hot_share => 0.1, duplicate_share => 0)) TO '$CSV' (FORMAT csv, HEADER)"
bench_psql -c "DROP TABLE IF EXISTS events, events_plain"
if [ "$LAYOUT" = partitioned ]; then
    bench_psql -c "CREATE TABLE events (id bigint, customer_id bigint, event_type text, transaction_id uuid,
                                        event_ts timestamptz, metric_one int, metric_two int, metric_n int,
                                        event_metrics jsonb) PARTITION BY RANGE (event_ts)" \
               -c "SELECT edp.enable_partitioning('events', ts => 'event_ts', period => 'day')" >/dev/null
else
    bench_psql -c "CREATE TABLE events (id bigint, customer_id bigint, event_type text, transaction_id uuid,
                                        event_ts timestamptz, metric_one int, metric_two int, metric_n int,
                                        event_metrics jsonb)"
fi
bench_psql -c "SELECT edp.enable_flattening('events', source => 'event_metrics', path => '{metrics}')" \
           -c "SELECT edp.enable_rollup('events', key => 'customer_id', ts => 'event_ts')" \
           -c "SELECT edp.enable_dedupe('events', columns => '{customer_id,event_type,transaction_id,event_ts}')" >/dev/null
bench_psql -c "CREATE TABLE events_plain (id bigint, customer_id bigint, event_type text, transaction_id uuid,
                                          event_ts timestamptz, event_metrics jsonb,
                                          UNIQUE (customer_id, event_type, transaction_id, event_ts))" \
           -c "CREATE INDEX ON events_plain (customer_id, event_ts)"
echo "events: loading" >&2
read -r e_t e_mem e_wal <<< "$(load events "$ECOLS" "$CSV")"; loaded events "$e_t"
read -r p_t p_mem p_wal <<< "$(load events_plain "$ECOLS" "$CSV")"; loaded events_plain "$p_t"
rm -f "$CSV"
ROLLUP=$(bench_psql -At -c "SELECT rollup_relid FROM edp.event_tables WHERE relid = 'events'::regclass")
e_vac=$(vacuum_s events "$ROLLUP")
p_vac=$(vacuum_s events_plain)
read -r e_tab e_idx e_side <<< "$(sizes events "$ROLLUP")"
read -r p_tab p_idx p_side <<< "$(sizes events_plain)"
rows=$(bench_psql -At -c "SELECT count(*) FROM events")
same=$(bench_psql -At -c "SELECT (SELECT count(*) FROM events_plain) = $rows AND (SELECT count(*) FROM edp.verify_rollup('events')) = 0")
for m in edp plain; do
    [ $m = edp ] && set -- "$e_t" "$e_mem" "$e_wal" "$e_tab" "$e_idx" "$e_side" "$e_vac" || set -- "$p_t" "$p_mem" "$p_wal" "$p_tab" "$p_idx" "$p_side" "$p_vac"
    record "$DS" load_s $m "$1" s
    record "$DS" load_rows_per_s $m "$(awk -v n="$rows" -v t="$1" 'BEGIN { printf "%.0f", n / t }')" rows/s
    record "$DS" load_peak_rss $m "$2" MB
    record "$DS" load_wal $m "$3" bytes
    record "$DS" table_bytes_per_row $m "$(div "$4" "$rows")" bytes
    record "$DS" index_bytes_per_row $m "$(div "$5" "$rows")" bytes
    record "$DS" side_bytes_per_row $m "$(div "$6" "$rows")" bytes
    record "$DS" total_bytes_per_row $m "$(div "$(( $4 + $5 + $6 ))" "$rows")" bytes
    record "$DS" vacuum_analyze_s $m "$7" s
done
add "### Events, N = $N ($LAYOUT layout)"
add ""
add "Rows stored: $rows; counts equal and rollup exact: $same."
add ""
add "| measure | edp (flattening + rollup + dedupe) | plain (jsonb, UNIQUE + btree) | edp / plain |"
add "|---|---:|---:|---:|"
add "| load rows/s | $(awk -v n="$rows" -v t="$e_t" 'BEGIN { printf "%.0f", n / t }') | $(awk -v n="$rows" -v t="$p_t" 'BEGIN { printf "%.0f", n / t }') | $(ratio "$p_t" "$e_t") |"
add "| load peak backend RSS, MB | $e_mem | $p_mem | $(ratio "$e_mem" "$p_mem") |"
add "| load WAL, bytes per row | $(div "$e_wal" "$rows") | $(div "$p_wal" "$rows") | $(ratio "$e_wal" "$p_wal") |"
add "| table, bytes per row | $(div "$e_tab" "$rows") | $(div "$p_tab" "$rows") | $(ratio "$e_tab" "$p_tab") |"
add "| indexes, bytes per row | $(div "$e_idx" "$rows") | $(div "$p_idx" "$rows") | $(ratio "$e_idx" "$p_idx") |"
add "| rollup, bytes per row | $(div "$e_side" "$rows") | - | |"
add "| total on disk, bytes per row | $(div "$(( e_tab + e_idx + e_side ))" "$rows") | $(div "$(( p_tab + p_idx + p_side ))" "$rows") | $(ratio "$(( e_tab + e_idx + e_side ))" "$(( p_tab + p_idx + p_side ))") |"
add "| VACUUM ANALYZE, s | $e_vac | $p_vac | $(ratio "$e_vac" "$p_vac") |"
add ""
hot=$(bench_psql -At -c "SELECT customer_id FROM events GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
typical=$(bench_psql -At -c "SELECT customer_id FROM (SELECT customer_id, count(*) AS n FROM events GROUP BY 1) x
                             ORDER BY n, customer_id OFFSET (SELECT count(DISTINCT customer_id) / 2 FROM events) LIMIT 1")
declare -A from=([day]='2024-03-04' [week]='2024-03-04' [month]='2024-03-01' [year]='2024-01-01')
declare -A to=([day]='2024-03-05' [week]='2024-03-11' [month]='2024-04-01' [year]='2025-01-01')
add "Hourly buckets (median of $REPEAT runs, ms; hot customer $hot, typical $typical):"
add ""
add "| query | plain ms | edp ms | plain / edp |"
add "|---|---:|---:|---:|"
echo "events: queries" >&2
for who in hot typical; do
    k=$typical; [ $who = hot ] && k=$hot
    for r in day week month year; do
        f="${from[$r]} 00:00+00"; t="${to[$r]} 00:00+00"
        pe=$(median_ms "SELECT date_trunc('hour', event_ts) AS b, count(*) FROM events_plain WHERE customer_id = $k AND event_ts >= '$f' AND event_ts < '$t' GROUP BY 1 ORDER BY 1")
        ee=$(median_ms "SELECT * FROM edp.bucket_counts('events', $k::bigint, '$f', '$t', fill => false)")
        record "$DS" "buckets_${who}_$r" plain "$pe" ms
        record "$DS" "buckets_${who}_$r" edp "$ee" ms
        add "| $who customer, $r | $pe | $ee | $(ratio "$pe" "$ee") |"
    done
done
add ""
bench_psql -c "DROP TABLE events, events_plain" -c "CHECKPOINT"
fi

# ---- trips ----------------------------------------------------------------------
if part trips; then
WKT=$BENCH_DIR/trips_wkt.csv
TCOLS="region, origin, destination, datetime, datasource"
echo "trips: generating $N rows" >&2
bench_psql -c "\\copy (SELECT region, ST_AsText(origin), ST_AsText(destination), datetime, datasource FROM edp.generate_trips($N, 1)) TO '$WKT' (FORMAT csv, HEADER)"
bench_psql -c "DROP TABLE IF EXISTS trips, trips_plain" \
           -c "SELECT edp.create_trips_table('trips')" >/dev/null
bench_psql -c "CREATE TABLE trips_plain (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, region text,
                                         origin geometry(Point, 4326), destination geometry(Point, 4326),
                                         datetime timestamp, datasource text)" \
           -c "CREATE INDEX ON trips_plain USING gist (origin)" \
           -c "CREATE INDEX ON trips_plain USING gist (destination)" \
           -c "CREATE INDEX ON trips_plain (datetime)"
echo "trips: loading" >&2
read -r e_t e_mem e_wal <<< "$(load trips "$TCOLS" "$WKT")"; loaded trips "$e_t"
read -r p_t p_mem p_wal <<< "$(load trips_plain "$TCOLS" "$WKT")"; loaded trips_plain "$p_t"
rm -f "$WKT"
e_vac=$(vacuum_s trips trips_cell_weeks trips_region_weeks trips_point_blocks)
p_vac=$(vacuum_s trips_plain)
read -r e_tab e_idx e_side <<< "$(sizes trips trips_cell_weeks trips_region_weeks trips_point_blocks)"
read -r p_tab p_idx p_side <<< "$(sizes trips_plain)"
read -r s_roll <<< "$(bench_psql -At -c "SELECT pg_total_relation_size('trips_cell_weeks') + pg_total_relation_size('trips_region_weeks')")"
s_blocks=$(( e_side - s_roll ))
rows=$(bench_psql -At -c "SELECT count(*) FROM trips")
for m in edp plain; do
    [ $m = edp ] && set -- "$e_t" "$e_mem" "$e_wal" "$e_tab" "$e_idx" "$e_side" "$e_vac" || set -- "$p_t" "$p_mem" "$p_wal" "$p_tab" "$p_idx" "$p_side" "$p_vac"
    record trips load_s $m "$1" s
    record trips load_rows_per_s $m "$(awk -v n="$rows" -v t="$1" 'BEGIN { printf "%.0f", n / t }')" rows/s
    record trips load_peak_rss $m "$2" MB
    record trips load_wal $m "$3" bytes
    record trips table_bytes_per_row $m "$(div "$4" "$rows")" bytes
    record trips index_bytes_per_row $m "$(div "$5" "$rows")" bytes
    record trips side_bytes_per_row $m "$(div "$6" "$rows")" bytes
    record trips total_bytes_per_row $m "$(div "$(( $4 + $5 + $6 ))" "$rows")" bytes
    record trips vacuum_analyze_s $m "$7" s
done
add "### Trips, N = $N"
add ""
add "Rows stored: $rows (plain: $(bench_psql -At -c "SELECT count(*) FROM trips_plain"))."
add ""
add "| measure | edp (create_trips_table) | plain (PostGIS, 2 GiST + btree + primary key) | edp / plain |"
add "|---|---:|---:|---:|"
add "| load rows/s | $(awk -v n="$rows" -v t="$e_t" 'BEGIN { printf "%.0f", n / t }') | $(awk -v n="$rows" -v t="$p_t" 'BEGIN { printf "%.0f", n / t }') | $(ratio "$p_t" "$e_t") |"
add "| load peak backend RSS, MB | $e_mem | $p_mem | $(ratio "$e_mem" "$p_mem") |"
add "| load WAL, bytes per row | $(div "$e_wal" "$rows") | $(div "$p_wal" "$rows") | $(ratio "$e_wal" "$p_wal") |"
add "| table, bytes per row | $(div "$e_tab" "$rows") | $(div "$p_tab" "$rows") | $(ratio "$e_tab" "$p_tab") |"
add "| indexes, bytes per row | $(div "$e_idx" "$rows") | $(div "$p_idx" "$rows") | $(ratio "$e_idx" "$p_idx") |"
add "| rollups, bytes per row | $(div "$s_roll" "$rows") | - | |"
add "| point blocks, bytes per row | $(div "$s_blocks" "$rows") | - | |"
add "| total on disk, bytes per row | $(div "$(( e_tab + e_idx + e_side ))" "$rows") | $(div "$(( p_tab + p_idx + p_side ))" "$rows") | $(ratio "$(( e_tab + e_idx + e_side ))" "$(( p_tab + p_idx + p_side ))") |"
add "| VACUUM ANALYZE, s | $e_vac | $p_vac | $(ratio "$e_vac" "$p_vac") |"
add ""
# weekly averages, as test/bench/trips.sh
peer_avg() {
    echo "WITH span AS (SELECT date_trunc('week', min(datetime)) AS lo, max(datetime) AS hi FROM trips_plain),
          c AS (SELECT date_trunc('week', datetime) AS w, count(*) AS n FROM trips_plain WHERE $1 GROUP BY 1)
     SELECT avg(coalesce(c.n, 0)) FROM span, generate_series(span.lo, span.hi, '7 days') g LEFT JOIN c ON c.w = g"
}
env_where() {
    local e="ST_MakeEnvelope($1, $2, $3, $4, 4326)"
    echo "origin && $e AND destination && $e AND ST_Intersects(origin, $e) AND ST_Intersects(destination, $e)"
}
add "Weekly averages and trip groups (median of $REPEAT runs, ms):"
add ""
add "| query | plain ms | edp ms | plain / edp | answers (plain, edp) |"
add "|---|---:|---:|---:|---|"
echo "trips: queries" >&2
for a in "box_1km|14.4200 50.0800 14.4340 50.0890" "box_5km|14.4000 50.0600 14.4700 50.1050" "region_box|14.22 49.94 14.71 50.18"; do
    name=${a%%|*}; set -- ${a#*|}
    q_e="SELECT edp.weekly_trip_average('trips', $1, $2, $3, $4)"
    q_p=$(peer_avg "$(env_where "$1" "$2" "$3" "$4")")
    ans="$(bench_psql -At -c "SELECT round(($q_p)::numeric, 3)"), $(bench_psql -At -c "SELECT round(($q_e)::numeric, 3)")"
    pe=$(median_ms "$q_p"); ee=$(median_ms "$q_e")
    record trips "weekly_$name" plain "$pe" ms
    record trips "weekly_$name" edp "$ee" ms
    add "| weekly average, $name | $pe | $ee | $(ratio "$pe" "$ee") | $ans |"
done
q_e="SELECT edp.region_weekly_trip_average('trips', 'Prague')"
q_p=$(peer_avg "region = 'Prague'")
ans="$(bench_psql -At -c "SELECT round(($q_p)::numeric, 3)"), $(bench_psql -At -c "SELECT round(($q_e)::numeric, 3)")"
pe=$(median_ms "$q_p"); ee=$(median_ms "$q_e")
record trips weekly_region_name plain "$pe" ms
record trips weekly_region_name edp "$ee" ms
add "| weekly average, region name | $pe | $ee | $(ratio "$pe" "$ee") | $ans |"
# trip groups: Prague over one week (a view edp.trip_groups reads), and everything
bench_psql -c "CREATE VIEW trips_prague_week AS SELECT * FROM trips
                WHERE region = 'Prague' AND datetime >= '2018-03-05' AND datetime < '2018-03-12'" \
           -c "CREATE VIEW trips_plain_prague_week AS SELECT * FROM trips_plain
                WHERE region = 'Prague' AND datetime >= '2018-03-05' AND datetime < '2018-03-12'"
for g in prague_week all; do
    src=trips; psrc=trips_plain
    [ $g = prague_week ] && { src=trips_prague_week; psrc=trips_plain_prague_week; }
    n_g=$(bench_psql -At -c "SELECT count(*) FROM $psrc")
    q_e="SELECT count(*) FROM edp.trip_groups('$src', 100, 100, 15, 5)"
    read -r ee em <<< "$(REPEAT=$GROUPS_REPEAT median_peak "$q_e")"
    if [ "$n_g" -le "$DBSCAN_MAX" ]; then
        q_p="SELECT count(DISTINCT c) FROM (SELECT ST_ClusterDBSCAN(origin, 0.001, 5) OVER () AS c FROM $psrc) s"
        pe=$(bench_time bench_psql -c "$q_p"); pe=$(bench_ms "$pe")
        pm=$(bench_peak_mb "$q_p")
    else
        pe=- pm=-
    fi
    record trips "groups_$g" plain "$pe" ms
    record trips "groups_$g" edp "$ee" ms
    record trips "groups_${g}_peak_rss" plain "$pm" MB
    record trips "groups_${g}_peak_rss" edp "$em" MB
    add "| trip groups, $g ($n_g trips; plain: ST_ClusterDBSCAN on the origin, one run) | $pe | $ee | $(ratio "$pe" "$ee") | peak MB $pm, $em |"
done
add ""
bench_psql -c "DROP VIEW trips_prague_week, trips_plain_prague_week" -c "DROP TABLE trips, trips_plain" -c "CHECKPOINT"
fi

echo
echo "## Scale, N = $N"
echo
bench_machine
echo "Load average (1 min): $load_before before, $(bench_loadavg) after. Results appended to $RESULTS."
echo
printf "%s" "$report"
