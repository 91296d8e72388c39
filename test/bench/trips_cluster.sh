#!/usr/bin/env bash
# test/bench/trips_cluster.sh [N] -- trips: clustering speed alone
#
# The clustering part of trips.sh without its ingest (which writes and loads
# two CSV files of N rows several times): N generated trips (edp.generate_trips,
# seed 1, the same rows as trips.sh) inserted into one edp trips table (its
# rollup triggers disabled and GiST indexes dropped: they do not matter
# here), then side by side on
# that table:
#   edp.trip_assignments(origin 100 m, destination 100 m, 15 min, 5 trips)
#   GROUP BY ST_SnapToGrid(origin, 0.001), ST_SnapToGrid(destination, 0.001), hour
#   ST_ClusterDBSCAN(origin, 0.001, 5) OVER () on the origin alone, on the
#     first min(N, BENCH_DBSCAN_MAX) trips (default 1,000,000), and
#     edp.trip_assignments on those same trips
# Best of BENCH_REPEAT runs (default 3; the DBSCAN peer runs once), peak
# private memory of the backend (VmHWM - RssShmem) from a separate run, and
# the 1-minute load average before and after (2 cores shared).
#
# BENCH_CLUSTER_MEM (e.g. "64MB 16MB"; default none) adds a row per memory
# bound: edp.trip_assignments with edp.trip_cluster_mem set to it (the
# bounded path when the trips need more; the same result, checked).
#
# Environment: PG_BINDIR, BENCH_DIR (default /tmp/edp-bench-cluster),
# BENCH_PORT (default 55422), BENCH_REPEAT, BENCH_DBSCAN_MAX (0 skips the
# DBSCAN peer), BENCH_CLUSTER_MEM.
BENCH_DIR=${BENCH_DIR:-/tmp/edp-bench-cluster}
BENCH_PORT=${BENCH_PORT:-55422}
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
REPEAT=${BENCH_REPEAT:-3}
DBSCAN_MAX=${BENCH_DBSCAN_MAX:-1000000}
export PGOPTIONS="-c client_min_messages=warning"

echo "trips clustering benchmark: N=$N, cluster in $BENCH_DIR" >&2
bench_start_cluster "max_parallel_workers_per_gather = 2"
trap bench_stop_cluster EXIT



echo "generating $N trips" >&2
# no GiST or datetime index: nothing here uses them and they slow the load
bench_psql -c "SELECT edp.create_trips_table('trips')" -c "ALTER TABLE trips DISABLE TRIGGER USER" \
           -c "DO \$\$ DECLARE i regclass; BEGIN
                   FOR i IN SELECT indexrelid FROM pg_index WHERE indrelid = 'trips'::regclass AND NOT indisprimary
                   LOOP EXECUTE 'DROP INDEX ' || i; END LOOP; END \$\$" \
           -c "INSERT INTO trips (region, origin, destination, datetime, datasource) SELECT * FROM edp.generate_trips($N, 1)" \
           -c "VACUUM ANALYZE trips" -c "CHECKPOINT" >/dev/null
load_before=$(bench_loadavg)

echo "clustering" >&2
CLUSTER="SELECT count(*), count(group_id), count(DISTINCT group_id) FROM edp.trip_assignments('trips', 100, 100, 15, 5)"
c_result=$(bench_psql -At -c "$CLUSTER")
t_cluster=$(bench_best_of "$CLUSTER")
m_cluster=$(bench_peak_mb "$CLUSTER")
rows_bounded=""
for mem in ${BENCH_CLUSTER_MEM:-}; do
    export PGOPTIONS="-c client_min_messages=warning -c edp.trip_cluster_mem=$mem"
    r=$(bench_psql -At -c "$CLUSTER")
    [ "$r" = "$c_result" ] || { echo "FAIL: edp.trip_cluster_mem = $mem gives $r, in memory $c_result" >&2; exit 1; }
    rows_bounded+="| edp.trip_assignments, edp.trip_cluster_mem = $mem | $N | $(bench_best_of "$CLUSTER") | $(bench_peak_mb "$CLUSTER") |"$'\n'
done
export PGOPTIONS="-c client_min_messages=warning"
SNAP="SELECT count(*) FROM (SELECT count(*) FROM trips GROUP BY ST_SnapToGrid(origin, 0.001), ST_SnapToGrid(destination, 0.001), extract(hour FROM datetime)) s"
t_snap=$(bench_best_of "$SNAP")
m_snap=$(bench_peak_mb "$SNAP")
NDB=$(( N < DBSCAN_MAX ? N : DBSCAN_MAX ))
if [ "$NDB" -gt 0 ]; then
    DBSCAN="SELECT count(DISTINCT c) FROM (SELECT ST_ClusterDBSCAN(origin, 0.001, 5) OVER () AS c FROM (SELECT origin FROM trips ORDER BY id LIMIT $NDB) s) s"
    t_dbscan=$(bench_time bench_psql -c "$DBSCAN")
    m_dbscan=$(bench_peak_mb "$DBSCAN")
    if [ "$NDB" -ne "$N" ]; then
        bench_psql -c "CREATE TABLE trips_ndb AS SELECT id, origin, destination, datetime FROM trips ORDER BY id LIMIT $NDB" -c "VACUUM ANALYZE trips_ndb"
        t_cluster_ndb=$(bench_best_of "SELECT count(*) FROM edp.trip_assignments('trips_ndb', 100, 100, 15, 5)")
    else
        t_cluster_ndb=$t_cluster
    fi
fi

echo
echo "### Trips clustering, N = $N, best of $REPEAT"
echo
bench_machine
echo "Load average (1 min): $load_before before, $(bench_loadavg) after (2 cores shared with other engineers)."
echo
echo "edp: origin 100 m, destination 100 m, 15 min, min 5 trips -> trips, grouped, groups = $c_result"
echo
echo "| method | trips | seconds | peak MB |"
echo "|---|---:|---:|---:|"
echo "| edp.trip_assignments (origin + destination + circular time) | $N | $t_cluster | $m_cluster |"
printf "%s" "$rows_bounded"
echo "| GROUP BY ST_SnapToGrid(origin), ST_SnapToGrid(destination), hour | $N | $t_snap | $m_snap |"
if [ "$NDB" -gt 0 ]; then
    echo "| ST_ClusterDBSCAN(origin, 0.001, 5) OVER () (origin only) | $NDB | $t_dbscan | $m_dbscan |"
    echo "| edp.trip_assignments on the same $NDB trips | $NDB | $t_cluster_ndb | |"
fi
