#!/usr/bin/env bash
# test/bench/trips.sh [N] -- trips: ingest, weekly averages, clustering
#
# Issue 4, "Performance": N generated trips (edp.generate_trips, seed 1,
# 3 cities x 200 hotspots, 26 weeks), side by side on one throwaway cluster:
#   ingest   client-side \copy of the trips.csv format (WKT points) vs \copy
#            of the same rows with EWKB hex points (target >= 0.8): into a
#            plain table with geometry(Point, 4326) columns and no indexes
#            (PostGIS's geometry_in parses the WKT), and into a bare edp
#            trips table (its indexes, primary key and rollup triggers
#            dropped or disabled: edp's COPY parses the points, see
#            src/trips/copy.c); then both files into an edp trips table
#            (GiST indexes + rollup triggers) and the WKT file into the peer
#            table (GiST indexes only)
#   weekly   average trips per ISO week, origin and destination inside the
#            area, zero weeks counted: edp.weekly_trip_average /
#            edp.region_weekly_trip_average vs plain PostGIS (&& /
#            ST_Intersects on GiST, date_trunc('week') GROUP BY,
#            generate_series join for zero weeks), for a ~1 km bbox, a ~5 km
#            bbox, the whole Prague region bbox and the region name
#   cluster  edp.trip_assignments (origin 100 m, destination 100 m, 15 min,
#            5 trips) vs GROUP BY ST_SnapToGrid(origin), ST_SnapToGrid(dest),
#            hour and ST_ClusterDBSCAN(origin, 0.001, 5) on the origin alone
#            (the DBSCAN peer runs on at most BENCH_DBSCAN_MAX trips, default
#            1,000,000: it needs O(n) memory per window and minutes beyond)
# Every query runs BENCH_REPEAT times (default 3), the best time is kept.
# Peak memory of a backend: VmHWM minus RssShmem (shared buffers it touched)
# from /proc/PID/status, read right after the query.
#
# Environment: PG_BINDIR (PostgreSQL with edp installed), BENCH_DIR,
# BENCH_PORT (see lib.sh), BENCH_REPEAT, BENCH_DBSCAN_MAX, BENCH_PARTS
# (default "ingest weekly cluster"; "ingest" alone runs the loads only),
# BENCH_INGEST_FULL (default 1; 0 with BENCH_PARTS=ingest skips the three
# loads into indexed tables, which take minutes at 10M, and keeps the four
# WKT/EWKB hex loads into tables without indexes).
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench-trips}
BENCH_PORT=${BENCH_PORT:-55421}
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
REPEAT=${BENCH_REPEAT:-3}
DBSCAN_MAX=${BENCH_DBSCAN_MAX:-1000000}
PARTS=${BENCH_PARTS:-ingest weekly cluster}
INGEST_FULL=${BENCH_INGEST_FULL:-1}
[ "$INGEST_FULL" = 1 ] || [ "$PARTS" = ingest ] || { echo "BENCH_INGEST_FULL=0 needs BENCH_PARTS=ingest" >&2; exit 2; }
part() { [[ " $PARTS " == *" $1 "* ]]; }
export PGOPTIONS="-c client_min_messages=warning"
WKT=$BENCH_DIR/trips_wkt.csv
EWKB=$BENCH_DIR/trips_ewkb.csv

echo "trips benchmark: N=$N, cluster in $BENCH_DIR" >&2
bench_start_cluster "max_parallel_workers_per_gather = 2"
trap bench_stop_cluster EXIT


ratio2() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'; }
rows_per_s() { awk -v n="$N" -v t="$1" 'BEGIN { if (t > 0) printf "%.0f", n / t; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }


echo "generating $N trips and the two CSV files" >&2
bench_psql -c "CREATE UNLOGGED TABLE gen AS SELECT * FROM edp.generate_trips($N, 1)"
bench_psql -c "\\copy (SELECT region, ST_AsText(origin), ST_AsText(destination), datetime, datasource FROM gen) TO '$WKT' CSV HEADER"
bench_psql -c "\\copy (SELECT region, origin, destination, datetime, datasource FROM gen) TO '$EWKB' CSV HEADER"
head -n 2 "$WKT" | tail -n 1 | sed 's/^/  WKT line:  /' >&2
head -n 2 "$EWKB" | tail -n 1 | sed 's/^/  EWKB line: /' >&2
bench_psql -c "DROP TABLE gen"

PLAIN="region text, origin geometry(Point, 4326), destination geometry(Point, 4326), datetime timestamp, datasource text"
COLS="region, origin, destination, datetime, datasource"

# --- ingest ------------------------------------------------------------------
copy_best() {  # copy_best FILE TABLE-DDL: best time of \copy into a fresh table
    local best="" t i
    for i in $(seq "$REPEAT"); do
        bench_psql -c "DROP TABLE IF EXISTS c" -c "$2" -c "CHECKPOINT" >/dev/null
        t=$(bench_time bench_psql -c "\\copy c ($COLS) FROM '$1' CSV HEADER")
        if [ -z "$best" ] || awk "BEGIN { exit !($t < $best) }"; then best=$t; fi
    done
    echo "$best"
}
echo "ingest" >&2
t_wkt=$(copy_best "$WKT" "CREATE TABLE c ($PLAIN)")
t_ewkb=$(copy_best "$EWKB" "CREATE TABLE c ($PLAIN)")
# (every index: their names follow edp.create_trips_table's index set)
BARE="SELECT edp.create_trips_table('c'); ALTER TABLE c DROP CONSTRAINT c_pkey, DISABLE TRIGGER USER;
      DO \$\$ DECLARE i regclass; BEGIN
          FOR i IN SELECT indexrelid FROM pg_index WHERE indrelid = 'c'::regclass LOOP EXECUTE 'DROP INDEX ' || i; END LOOP;
      END \$\$"
t_bare_wkt=$(copy_best "$WKT" "$BARE")
t_bare_ewkb=$(copy_best "$EWKB" "$BARE")
bench_psql -c "DROP TABLE c" -c "CHECKPOINT"
t_edp_load_ewkb=- t_edp_load=- t_peer_load=-
if [ "$INGEST_FULL" = 1 ]; then
t_edp_load_ewkb=$(bench_time bench_psql -c "SELECT edp.create_trips_table('trips')" -c "\\copy trips ($COLS) FROM '$EWKB' CSV HEADER")
bench_psql -c "DROP TABLE trips" -c "CHECKPOINT"
t_edp_load=$(bench_time bench_psql -c "SELECT edp.create_trips_table('trips')" -c "\\copy trips ($COLS) FROM '$WKT' CSV HEADER")
bench_psql -c "CHECKPOINT"
t_peer_load=$(bench_time bench_psql -c "CREATE TABLE peer (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, $PLAIN); CREATE INDEX ON peer USING gist (origin); CREATE INDEX ON peer USING gist (destination); CREATE INDEX ON peer (datetime)" -c "\\copy peer ($COLS) FROM '$WKT' CSV HEADER")
bench_psql -c "VACUUM ANALYZE trips" -c "VACUUM ANALYZE peer" -c "CHECKPOINT"
fi

if part weekly; then
# --- weekly averages ---------------------------------------------------------
# peer: zero weeks from generate_series over the data's span
peer_avg() {  # peer_avg WHERE
    echo "WITH span AS (SELECT date_trunc('week', min(datetime)) AS lo, max(datetime) AS hi FROM peer),
          c AS (SELECT date_trunc('week', datetime) AS w, count(*) AS n FROM peer WHERE $1 GROUP BY 1)
     SELECT avg(coalesce(c.n, 0)) FROM span, generate_series(span.lo, span.hi, '7 days') g LEFT JOIN c ON c.w = g"
}
env_where() {  # env_where X0 Y0 X1 Y1
    local e="ST_MakeEnvelope($1, $2, $3, $4, 4326)"
    echo "origin && $e AND destination && $e AND ST_Intersects(origin, $e) AND ST_Intersects(destination, $e)"
}
AREAS=(
    "~1 km bbox|14.4200 50.0800 14.4340 50.0890"
    "~5 km bbox|14.4000 50.0600 14.4700 50.1050"
    "Prague region bbox|14.22 49.94 14.71 50.18"
)
rows_weekly=""
echo "weekly averages" >&2
for a in "${AREAS[@]}"; do
    name=${a%%|*}; set -- ${a#*|}
    e=$(bench_psql -At -c "SELECT round(edp.weekly_trip_average('trips', $1, $2, $3, $4)::numeric, 3)")
    p=$(bench_psql -At -c "SELECT round(($(peer_avg "$(env_where "$1" "$2" "$3" "$4")"))::numeric, 3)")
    te=$(bench_best_of "SELECT edp.weekly_trip_average('trips', $1, $2, $3, $4)")
    tp=$(bench_best_of "$(peer_avg "$(env_where "$1" "$2" "$3" "$4")")")
    rows_weekly+="| $name | $e | $p | $(bench_ms "$tp") | $(bench_ms "$te") | $(ratio "$tp" "$te") |"$'\n'
done
e=$(bench_psql -At -c "SELECT round(edp.region_weekly_trip_average('trips', 'Prague')::numeric, 3)")
p=$(bench_psql -At -c "SELECT round(($(peer_avg "region = 'Prague'"))::numeric, 3)")
te=$(bench_best_of "SELECT edp.region_weekly_trip_average('trips', 'Prague')")
tp=$(bench_best_of "$(peer_avg "region = 'Prague'")")
rows_weekly+="| region name 'Prague' | $e | $p | $(bench_ms "$tp") | $(bench_ms "$te") | $(ratio "$tp" "$te") |"$'\n'

fi

if part cluster; then
# --- clustering ----------------------------------------------------------------
echo "clustering" >&2
CLUSTER="SELECT count(*), count(group_id), count(DISTINCT group_id) FROM edp.trip_assignments('trips', 100, 100, 15, 5)"
c_result=$(bench_psql -At -c "$CLUSTER")
t_cluster=$(bench_best_of "$CLUSTER")
m_cluster=$(bench_peak_mb "$CLUSTER")
SNAP="SELECT count(*) FROM (SELECT count(*) FROM peer GROUP BY ST_SnapToGrid(origin, 0.001), ST_SnapToGrid(destination, 0.001), extract(hour FROM datetime)) s"
t_snap=$(bench_best_of "$SNAP")
m_snap=$(bench_peak_mb "$SNAP")
NDB=$(( N < DBSCAN_MAX ? N : DBSCAN_MAX ))
DBSCAN="SELECT count(DISTINCT c) FROM (SELECT ST_ClusterDBSCAN(origin, 0.001, 5) OVER () AS c FROM (SELECT origin FROM peer ORDER BY id LIMIT $NDB) s) s"
t_dbscan=$(bench_time bench_psql -c "$DBSCAN")
m_dbscan=$(bench_peak_mb "$DBSCAN")
if [ "$NDB" -ne "$N" ]; then
    CLUSTER_NDB="SELECT count(*) FROM edp.trip_assignments('trips_ndb', 100, 100, 15, 5)"
    bench_psql -c "CREATE VIEW trips_ndb AS SELECT * FROM trips ORDER BY id LIMIT $NDB"
    t_cluster_ndb=$(bench_best_of "$CLUSTER_NDB")
else
    t_cluster_ndb=$t_cluster
fi

fi

# --- report --------------------------------------------------------------------
echo
echo "### Trips, N = $N, best of $REPEAT"
echo
bench_machine
echo "Load average (1 min) at the end: $(cut -d ' ' -f 1 /proc/loadavg) (2 cores shared with other engineers)."
echo
echo "Ingest (client-side \\copy, $N rows):"
echo
echo "| load | seconds | rows/s |"
echo "|---|---:|---:|"
echo "| trips.csv format (WKT points) into a plain geometry table | $t_wkt | $(rows_per_s "$t_wkt") |"
echo "| same rows, EWKB hex points, into a plain geometry table | $t_ewkb | $(rows_per_s "$t_ewkb") |"
echo "| WKT into a bare edp trips table (no indexes, no triggers; edp's point parser) | $t_bare_wkt | $(rows_per_s "$t_bare_wkt") |"
echo "| same rows, EWKB hex points, into a bare edp trips table | $t_bare_ewkb | $(rows_per_s "$t_bare_ewkb") |"
echo "| EWKB hex into the edp trips table (2 GiST, btree, rollup triggers) | $t_edp_load_ewkb | $(rows_per_s "$t_edp_load_ewkb") |"
echo "| WKT into the edp trips table (2 GiST, btree, rollup triggers) | $t_edp_load | $(rows_per_s "$t_edp_load") |"
echo "| WKT into the peer table (2 GiST, btree on datetime, primary key) | $t_peer_load | $(rows_per_s "$t_peer_load") |"
echo
echo "- WKT rows/s / EWKB rows/s: plain table (PostGIS's WKT parser) $(ratio2 "$t_ewkb" "$t_wkt"), bare edp trips table $(ratio2 "$t_bare_ewkb" "$t_bare_wkt"), edp trips table $(ratio2 "$t_edp_load_ewkb" "$t_edp_load") (target >= 0.8)"
if part weekly; then
echo
echo "Weekly average (origin and destination inside, every week of the data's span, zero weeks as 0):"
echo
echo "| area | edp average | peer average | peer ms | edp ms | peer / edp |"
echo "|---|---:|---:|---:|---:|---:|"
printf "%s" "$rows_weekly"
fi
if part cluster; then
echo
echo "Clustering (edp: origin 100 m, destination 100 m, 15 min, min 5 trips -> trips, grouped, groups = $c_result):"
echo
echo "| method | trips | seconds | peak MB |"
echo "|---|---:|---:|---:|"
echo "| edp.trip_assignments (origin + destination + circular time) | $N | $t_cluster | $m_cluster |"
echo "| GROUP BY ST_SnapToGrid(origin), ST_SnapToGrid(destination), hour | $N | $t_snap | $m_snap |"
echo "| ST_ClusterDBSCAN(origin, 0.001, 5) OVER () (origin only) | $NDB | $t_dbscan | $m_dbscan |"
echo "| edp.trip_assignments on the same $NDB trips | $NDB | $t_cluster_ndb | |"
fi
