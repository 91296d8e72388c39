#!/usr/bin/env bash
# test/bench/trips_areas.sh [N] -- trips: weekly averages for small areas
#
# Issue 4, "Performance", the ~1 km and ~5 km bounding boxes (areas with
# more edge than interior rollup cells, answered from the point blocks).
# N generated trips (edp.generate_trips, seed 1) are inserted into an edp
# trips table (indexes, rollup and point block triggers in place; the load
# time is reported); the peer table is a copy with plain PostGIS indexes
# (GiST on origin, GiST on destination, btree on datetime), built after the
# copy.  Then, side by side, best of BENCH_REPEAT runs (psql \timing):
#   edp      edp.weekly_trip_average('trips', box, match)
#   peer     plain PostGIS (&& / ST_Intersects, date_trunc('week') GROUP BY,
#            generate_series join for zero weeks), as in trips.sh
# for match both, origin and either.  BENCH_LOAD_ONLY=1 stops after the
# load (ingest cost only).
# Environment: PG_BINDIR, BENCH_DIR, BENCH_PORT (see lib.sh), BENCH_REPEAT.
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench-trips-areas}
BENCH_PORT=${BENCH_PORT:-55422}
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
REPEAT=${BENCH_REPEAT:-3}
export PGOPTIONS="-c client_min_messages=warning"

echo "trips areas benchmark: N=$N, cluster in $BENCH_DIR" >&2
bench_start_cluster "max_parallel_workers_per_gather = 2"
trap bench_stop_cluster EXIT

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }

echo "loading $N trips" >&2
t_load=$(bench_time bench_psql -c "SELECT edp.create_trips_table('trips')" \
    -c "INSERT INTO trips (region, origin, destination, datetime, datasource) SELECT * FROM edp.generate_trips($N, 1)")
sizes=$(bench_psql -At -c "SELECT pg_size_pretty(pg_total_relation_size('trips')) || ' table and indexes, ' ||
    pg_size_pretty(pg_total_relation_size('trips_point_blocks')) || ' point blocks (' ||
    (SELECT count(*) FROM trips_point_blocks) || ' blocks)'")
echo "load: $t_load s; $sizes" >&2
[ -n "${BENCH_LOAD_ONLY:-}" ] && exit 0
bench_psql -c "CREATE TABLE peer AS SELECT * FROM trips" \
    -c "CREATE INDEX ON peer USING gist (origin)" -c "CREATE INDEX ON peer USING gist (destination)" \
    -c "CREATE INDEX ON peer (datetime)" \
    -c "VACUUM ANALYZE trips" -c "VACUUM ANALYZE peer" -c "CHECKPOINT"

peer_avg() {  # peer_avg WHERE
    echo "WITH span AS (SELECT date_trunc('week', min(datetime)) AS lo, max(datetime) AS hi FROM peer),
          c AS (SELECT date_trunc('week', datetime) AS w, count(*) AS n FROM peer WHERE $1 GROUP BY 1)
     SELECT avg(coalesce(c.n, 0)) FROM span, generate_series(span.lo, span.hi, '7 days') g LEFT JOIN c ON c.w = g"
}
peer_where() {  # peer_where MATCH X0 Y0 X1 Y1
    local e="ST_MakeEnvelope($2, $3, $4, $5, 4326)"
    local o="(origin && $e AND ST_Intersects(origin, $e))" d="(destination && $e AND ST_Intersects(destination, $e))"
    case $1 in both) echo "$o AND $d" ;; origin) echo "$o" ;; either) echo "($o OR $d)" ;; esac
}
AREAS=(
    "~1 km bbox|14.4200 50.0800 14.4340 50.0890"
    "~5 km bbox|14.4000 50.0600 14.4700 50.1050"
)
edp=""
peer=""
for a in "${AREAS[@]}"; do
    name=${a%%|*}; set -- ${a#*|}
    for match in both origin either; do
        e=$(bench_psql -At -c "SELECT round(edp.weekly_trip_average('trips', $1, $2, $3, $4, '$match')::numeric, 3)")
        te=$(bench_best_of "SELECT edp.weekly_trip_average('trips', $1, $2, $3, $4, '$match')")
        edp+="$name|$match|$e|$te"$'\n'
        p=$(bench_psql -At -c "SELECT round(($(peer_avg "$(peer_where $match "$@")"))::numeric, 3)")
        tp=$(bench_best_of "$(peer_avg "$(peer_where $match "$@")")")
        peer+="$name|$match|$p|$tp"$'\n'
        echo "$name $match: edp $(bench_ms "$te") ms, peer $(bench_ms "$tp") ms" >&2
    done
done

echo
echo "### Trips, small areas, N = $N, best of $REPEAT"
echo
bench_machine
echo "Load average (1 min) at the end: $(bench_loadavg) (2 cores shared with other engineers)."
echo "Load of the edp table (INSERT ... SELECT edp.generate_trips, indexes, rollup and point block triggers in place): $t_load s."
echo
echo "Sizes: $sizes."
echo
echo "| area | match | edp average | peer average | peer ms | edp ms | peer / edp |"
echo "|---|---|---:|---:|---:|---:|---:|"
paste -d '|' <(echo -n "$edp") <(echo -n "$peer") | while IFS='|' read -r n m e te _ _ p tp; do
    echo "| $n | $m | $e | $p | $(bench_ms "$tp") | $(bench_ms "$te") | $(ratio "$tp" "$te") |"
done
