#!/usr/bin/env bash
# test/citus_check.sh [N] -- edp next to Citus: a coordinator and two workers
#
# Issue 15.  A documented check, not part of `make installcheck`: Citus is
# not a Debian package, so the check runs against a PostgreSQL 15 where
# Citus (13.2) and edp are both installed (doc/scale-out.md says how).
#
# It starts three throwaway clusters on one machine (unix sockets only):
# a coordinator on CITUS_CHECK_PORT and workers on the next two ports, all
# with shared_preload_libraries = 'citus,edp'; creates citus and edp on the
# coordinator (Citus creates edp and PostGIS on the workers) and adds the
# workers.  It loads N generated events (default 200,000) into a table
# distributed by customer_id and, the same rows, into a local table on the
# coordinator (the brute force), then compares, printing each comparison:
#   1. Citus itself, with edp preloaded: queries that move intermediate
#      results (a CTE with LIMIT, IN (subquery), a join with a local table,
#      a scalar subquery), COPY through the coordinator and \copy, INSERT ...
#      SELECT, UPDATE, DELETE on a distributed table that is not edp's --
#      each equal on the distributed table and the local one;
#   2. edp's aggregates split by Citus: EXPLAIN VERBOSE of
#      edp.bucket_counts_agg and edp.weekly_counts shows worker_partial_agg
#      and coord_combine_agg; answers equal the local table's (total, per
#      customer, and grouped by a column that is not the distribution key);
#   3. edp tables on Citus: enable_rollup and enable_partitioning on a
#      distributed table, COPY and edp.ingest_data into one are refused with
#      clear errors (instead of rows written to the coordinator's shell);
#      an event table with a rollup distributed with
#      citus.enable_unsafe_triggers answers edp.bucket_counts through Citus,
#      equal to brute force, after INSERT ... SELECT and after
#      truncate_local_data_after_distributing_table;
#   3b. a trips table distributed by id: weekly_trip_average and
#      weekly_trip_counts for a box equal one node's answers (before and
#      after rows arrive through Citus) and a brute-force count per week;
#   4. latency of edp.bucket_counts_agg and edp.weekly_counts on the three
#      nodes against the local table on the coordinator (same rows, same
#      run; median of 5), and \copy rows/s into a distributed and a local
#      table.
# Prints "citus check: ok" or fails at the first difference.
#
# Environment: PG_BINDIR (default: pg_config --bindir; its pkglibdir must hold
# citus.so and edp.so), CITUS_CHECK_DIR (default /tmp/edp-citus-check),
# CITUS_CHECK_PORT (default 55480; the workers use the next two).
set -euo pipefail

N=${1:-200000}
PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir)}
DIR=${CITUS_CHECK_DIR:-/tmp/edp-citus-check}
PORT=${CITUS_CHECK_PORT:-55480}
PKGLIBDIR=$("$PG_BINDIR/pg_config" --pkglibdir)
export PGOPTIONS="-c client_min_messages=warning"

fail() { echo "citus check: FAILED: $*" >&2; exit 1; }
[ -f "$PKGLIBDIR/citus.so" ] || fail "no citus.so in $PKGLIBDIR (install Citus 13.2 there first)"
[ -f "$PKGLIBDIR/edp.so" ] || fail "no edp.so in $PKGLIBDIR"

as_user() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop_all() {
    for i in 0 1 2; do
        if [ -f "$DIR/n$i/postmaster.pid" ]; then
            as_user "$PG_BINDIR/pg_ctl" -D "$DIR/n$i" -m fast -w stop >/dev/null || true
        fi
    done
}
trap stop_all EXIT

# q NODE ARGS... : psql on node NODE (0 coordinator, 1 and 2 workers), quiet, tuples only
q() {
    local node=$1; shift
    as_user "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p $((PORT + node)) -U postgres -d postgres "$@"
}
# try SQL [STDIN] : run on the coordinator (STDIN as COPY data), print the
# error message (empty when it succeeded)
try() {
    printf '%s' "${2:-}" \
      | as_user "$PG_BINDIR/psql" -X -q -At -h "$DIR" -p "$PORT" -U postgres -d postgres -c "$1" 2>&1 >/dev/null \
      | sed -n 's/^ERROR:  //p' | head -1 || true
}
# same LABEL SQL_DISTRIBUTED SQL_LOCAL : the two answers must be equal
same() {
    local a b
    a=$(q 0 -c "$2"); b=$(q 0 -c "$3")
    [ "$a" = "$b" ] || fail "$1: distributed [$a] != local [$b]"
    [ -n "$a" ] || fail "$1: no answer"
    printf '  %-58s equal (%s)\n' "$1" "$(echo "$a" | head -c 60 | tr '\n' ' ')"
}
# refused LABEL SQL PATTERN [STDIN] : the statement must fail with an error matching PATTERN
refused() {
    local e
    e=$(try "$2" "${4:-}")
    echo "$e" | grep -q -- "$3" || fail "$1: expected an error matching '$3', got '${e:-success}'"
    printf '  %-58s refused: %s\n' "$1" "$e"
}

stop_all
rm -rf "$DIR"; mkdir -p "$DIR"
[ "$(id -u)" -ne 0 ] || chown postgres: "$DIR"
for i in 0 1 2; do
    as_user "$PG_BINDIR/initdb" -D "$DIR/n$i" -A trust -U postgres >/dev/null
    {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$DIR'"
        echo "port = $((PORT + i))"
        echo "shared_preload_libraries = 'citus,edp'"
        echo "max_connections = 60"
        echo "shared_buffers = 128MB"
        echo "max_worker_processes = 16"
    } | as_user tee -a "$DIR/n$i/postgresql.conf" >/dev/null
    as_user "$PG_BINDIR/pg_ctl" -D "$DIR/n$i" -l "$DIR/n$i.log" -w start >/dev/null
    q "$i" -c "CREATE EXTENSION citus" >/dev/null
done
q 0 -c "SELECT citus_set_coordinator_host('$DIR', $PORT)" >/dev/null
q 0 -c "SELECT citus_add_node('$DIR', $((PORT + 1)))" >/dev/null
q 0 -c "SELECT citus_add_node('$DIR', $((PORT + 2)))" >/dev/null
q 0 -c "SET client_min_messages = warning; CREATE EXTENSION edp CASCADE" >/dev/null
for i in 1 2; do
    [ "$(q "$i" -c "SELECT extversion FROM pg_extension WHERE extname = 'edp'")" = \
      "$(q 0 -c "SELECT extversion FROM pg_extension WHERE extname = 'edp'")" ] || fail "edp not created on worker $i"
done
echo "citus check: coordinator :$PORT, workers :$((PORT + 1)) :$((PORT + 2)), $N events;" \
     "citus $(q 0 -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'")," \
     "edp $(q 0 -c "SELECT extversion FROM pg_extension WHERE extname = 'edp'")"

# the rows: customer_id (distribution key), event_type, ts; the local table is the brute force
q 0 <<SQL
CREATE TABLE events_local (customer_id int, event_type text, ts timestamptz);
INSERT INTO events_local
SELECT g % 500, (ARRAY['view','click','buy'])[1 + g % 3],
       '2024-01-01 00:00+00'::timestamptz + (g::bigint * 7919 % 5184000) * interval '1 second'
  FROM generate_series(1, $N) g;
CREATE TABLE events_dist (LIKE events_local);
SELECT create_distributed_table('events_dist', 'customer_id');
CREATE TABLE customers (customer_id int PRIMARY KEY, tier text);
INSERT INTO customers SELECT g, CASE WHEN g % 7 = 0 THEN 'gold' ELSE 'basic' END FROM generate_series(0, 499) g;
SQL
as_user "$PG_BINDIR/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres \
    -c "COPY (SELECT * FROM events_local WHERE customer_id < 250) TO STDOUT" \
  | as_user "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d postgres \
    -c "\\copy events_dist FROM STDIN"
q 0 -c "INSERT INTO events_dist SELECT * FROM events_local WHERE customer_id >= 250"

echo "1. Citus with edp preloaded (distributed table that is not edp's vs local table):"
same "rows after \\copy and INSERT ... SELECT" \
    "SELECT count(*), sum(customer_id) FROM events_dist" "SELECT count(*), sum(customer_id) FROM events_local"
same "CTE with LIMIT (intermediate result, format result)" \
    "WITH top AS (SELECT customer_id, count(*) n FROM events_dist GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) SELECT string_agg(customer_id || ':' || n, ',' ORDER BY customer_id) FROM top" \
    "WITH top AS (SELECT customer_id, count(*) n FROM events_local GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) SELECT string_agg(customer_id || ':' || n, ',' ORDER BY customer_id) FROM top"
same "IN (subquery)" \
    "SELECT count(*) FROM events_dist WHERE customer_id IN (SELECT customer_id FROM customers WHERE tier = 'gold')" \
    "SELECT count(*) FROM events_local WHERE customer_id IN (SELECT customer_id FROM customers WHERE tier = 'gold')"
same "join with a local table" \
    "SELECT c.tier, count(*) FROM events_dist e JOIN customers c USING (customer_id) GROUP BY 1 ORDER BY 1" \
    "SELECT c.tier, count(*) FROM events_local e JOIN customers c USING (customer_id) GROUP BY 1 ORDER BY 1"
same "scalar subquery" \
    "SELECT (SELECT max(n) FROM (SELECT customer_id, count(*) n FROM events_dist GROUP BY 1) x)" \
    "SELECT (SELECT max(n) FROM (SELECT customer_id, count(*) n FROM events_local GROUP BY 1) x)"
q 0 -c "UPDATE events_dist SET event_type = 'seen' WHERE event_type = 'view' AND customer_id % 5 = 0" >/dev/null
q 0 -c "UPDATE events_local SET event_type = 'seen' WHERE event_type = 'view' AND customer_id % 5 = 0" >/dev/null
q 0 -c "DELETE FROM events_dist WHERE customer_id % 11 = 0" >/dev/null
q 0 -c "DELETE FROM events_local WHERE customer_id % 11 = 0" >/dev/null
same "after UPDATE and DELETE" \
    "SELECT event_type, count(*) FROM events_dist GROUP BY 1 ORDER BY 1" \
    "SELECT event_type, count(*) FROM events_local GROUP BY 1 ORDER BY 1"

echo "2. edp's aggregates split by Citus:"
plan=$(q 0 -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT edp.bucket_counts_agg(ts, '2024-01-10', '2024-01-12') FROM events_dist")
echo "$plan" | grep -q worker_partial_agg || fail "bucket_counts_agg: no worker_partial_agg in the plan"
echo "$plan" | grep -q coord_combine_agg || fail "bucket_counts_agg: no coord_combine_agg in the plan"
printf '  %-58s %s\n' "EXPLAIN bucket_counts_agg" "worker_partial_agg + coord_combine_agg"
echo "$plan" | sed 's/^/      /'
plan=$(q 0 -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT event_type, edp.weekly_counts(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-03-01', 'Europe/Prague') FROM events_dist GROUP BY 1")
echo "$plan" | grep -q worker_partial_agg || fail "weekly_counts: no worker_partial_agg in the plan"
printf '  %-58s %s\n' "EXPLAIN weekly_counts GROUP BY event_type" "worker_partial_agg + coord_combine_agg"
same "bucket_counts_agg, whole table" \
    "SELECT edp.bucket_counts_agg(ts, '2024-01-10', '2024-01-12') FROM events_dist" \
    "SELECT edp.bucket_counts_agg(ts, '2024-01-10', '2024-01-12') FROM events_local"
same "bucket_counts_agg = brute force (GROUP BY hour)" \
    "SELECT edp.bucket_counts_agg(ts, '2024-01-10', '2024-01-12') FROM events_dist" \
    "SELECT array_agg(coalesce(n, 0) ORDER BY s) FROM edp.bucket_series('2024-01-10', '2024-01-12') s LEFT JOIN (SELECT date_trunc('hour', ts) b, count(*) n FROM events_local GROUP BY 1) x ON x.b = s"
same "bucket_counts_agg per customer (15 min, Asia/Kolkata)" \
    "SELECT md5(string_agg(customer_id || ':' || c::text, ',' ORDER BY customer_id)) FROM (SELECT customer_id, edp.bucket_counts_agg(ts, '2024-01-10', '2024-01-12', '15 minutes', 'Asia/Kolkata') c FROM events_dist GROUP BY 1) x" \
    "SELECT md5(string_agg(customer_id || ':' || c::text, ',' ORDER BY customer_id)) FROM (SELECT customer_id, edp.bucket_counts_agg(ts, '2024-01-10', '2024-01-12', '15 minutes', 'Asia/Kolkata') c FROM events_local GROUP BY 1) x"
same "weekly_counts per event_type (not the key)" \
    "SELECT event_type, edp.weekly_counts(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-03-01', 'Europe/Prague') FROM events_dist GROUP BY 1 ORDER BY 1" \
    "SELECT event_type, edp.weekly_counts(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-03-01', 'Europe/Prague') FROM events_local GROUP BY 1 ORDER BY 1"
same "weekly_average, whole table" \
    "SELECT round(edp.weekly_average(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-03-01', 'UTC')::numeric, 6) FROM events_dist" \
    "SELECT round(edp.weekly_average(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-03-01', 'UTC')::numeric, 6) FROM events_local"

echo "3. what edp refuses on Citus tables:"
refused "enable_rollup on a distributed table" \
    "SELECT edp.enable_rollup('events_dist', key => 'customer_id', ts => 'ts')" "because it is a Citus table"
refused "enable_partitioning on a distributed table" \
    "SELECT edp.enable_partitioning('events_dist', ts => 'ts')" "because it is a Citus table"
refused "edp.ingest_data into a distributed table" \
    "SELECT edp.ingest_data('events_dist', '1,view,2024-01-01 00:00+00'::text, format => 'csv', header => false)" \
    "because it is a Citus table"
q 0 -c "CREATE TABLE kept (LIKE events_local); SELECT edp.enable_rollup('kept', key => 'customer_id', ts => 'ts')" >/dev/null
q 0 -c "INSERT INTO kept SELECT * FROM events_local WHERE customer_id < 20" >/dev/null
refused "create_distributed_table on a table with a rollup" \
    "SELECT create_distributed_table('kept', 'customer_id')" "trigger"
q 0 -c "SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('kept', 'customer_id', colocate_with => 'none')" >/dev/null
refused "COPY into it once distributed (unsafe triggers on)" \
    "COPY kept FROM STDIN WITH (format csv)" "because it is a Citus table" $'1,view,2024-01-01 00:00+00\n'
refused "edp.ingest_data into it" \
    "SELECT edp.ingest_data('kept', '1,view,2024-01-01 00:00+00'::text, format => 'csv', header => false)" \
    "because it is a Citus table"

same "bucket_counts on it (through Citus) = brute force" \
    "SELECT string_agg(bucket_start || '=' || events, ',' ORDER BY bucket_start) FROM edp.bucket_counts('kept', 7, '2024-01-10', '2024-01-12')" \
    "SELECT string_agg(s || '=' || coalesce(n, 0), ',' ORDER BY s) FROM edp.bucket_series('2024-01-10', '2024-01-12') s LEFT JOIN (SELECT date_trunc('hour', ts) b, count(*) n FROM events_local WHERE customer_id = 7 GROUP BY 1) x ON x.b = s"
q 0 -c "INSERT INTO kept SELECT * FROM events_local WHERE customer_id = 7 AND ts < '2024-01-11'" >/dev/null
q 0 -c "SELECT truncate_local_data_after_distributing_table('kept')" >/dev/null
same "bucket_counts after INSERT ... SELECT and truncating the shell" \
    "SELECT string_agg(bucket_start || '=' || events, ',' ORDER BY bucket_start) FROM edp.bucket_counts('kept', 7, '2024-01-10', '2024-01-12')" \
    "SELECT string_agg(s || '=' || coalesce(n, 0), ',' ORDER BY s) FROM edp.bucket_series('2024-01-10', '2024-01-12') s LEFT JOIN (SELECT date_trunc('hour', ts) b, 2 * count(*) FILTER (WHERE ts < '2024-01-11') + count(*) FILTER (WHERE ts >= '2024-01-11') n FROM events_local WHERE customer_id = 7 GROUP BY 1) x ON x.b = s"

echo "3b. a trips table distributed by id (unsafe triggers on): weekly averages read its rows through Citus:"
q 0 -c "SELECT edp.create_trips_table('trips')" >/dev/null 2>&1
q 0 -c "INSERT INTO trips (region, origin, destination, datetime, datasource) SELECT region, origin, destination, datetime, datasource FROM edp.generate_trips(3000, 5)" >/dev/null
# a box of 0.2 degrees around the first trip's origin
box="SELECT ST_X(origin) - 0.1, ST_Y(origin) - 0.1, ST_X(origin) + 0.1, ST_Y(origin) + 0.1 FROM trips ORDER BY id LIMIT 1"
IFS='|' read -r bx0 by0 bx1 by1 < <(q 0 -c "$box")
avg_sql="SELECT round(edp.weekly_trip_average('trips', $bx0, $by0, $bx1, $by1, 'origin')::numeric, 6)"
cnt_sql="SELECT string_agg(week_start || '=' || trips, ',' ORDER BY week_start) FROM edp.weekly_trip_counts('trips', ST_MakeEnvelope($bx0, $by0, $bx1, $by1, 4326), 'both')"
one_avg=$(q 0 -c "$avg_sql"); one_cnt=$(q 0 -c "$cnt_sql")
q 0 -c "CREATE TABLE trips_local AS SELECT * FROM trips" >/dev/null
q 0 -c "SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('trips', 'id')" >/dev/null 2>&1
q 0 -c "SELECT truncate_local_data_after_distributing_table('trips')" >/dev/null
same "weekly_trip_average (box, origin): distributed = one node" "$avg_sql" "SELECT '$one_avg'"
same "weekly_trip_counts (box, both): distributed = one node" "$cnt_sql" "SELECT '$one_cnt'"
same "brute force: origins in the box" \
    "SELECT count(*) FROM trips WHERE ST_Intersects(origin, ST_MakeEnvelope($bx0, $by0, $bx1, $by1, 4326))" \
    "SELECT count(*) FROM trips_local WHERE ST_Intersects(origin, ST_MakeEnvelope($bx0, $by0, $bx1, $by1, 4326))"
[ "$(q 0 -c "SELECT count(*) > 0 FROM trips_local WHERE ST_Intersects(origin, ST_MakeEnvelope($bx0, $by0, $bx1, $by1, 4326))")" = t ] \
    || fail "the box holds no trip origin"
more="SELECT region, origin, destination, datetime, datasource FROM edp.generate_trips(400, 6)"
q 0 -c "INSERT INTO trips (region, origin, destination, datetime, datasource) $more" >/dev/null
q 0 -c "INSERT INTO trips_local (region, origin, destination, datetime, datasource) $more" >/dev/null
same "after INSERT ... SELECT through Citus: = the local rows" \
    "$avg_sql" "SELECT round(edp.weekly_trip_average('trips_local', $bx0, $by0, $bx1, $by1, 'origin')::numeric, 6)"
same "and = brute force (origins in the box per week)" \
    "$avg_sql" \
    "SELECT round(avg(coalesce(n, 0)), 6) FROM generate_series(date_trunc('week', (SELECT min(datetime) FROM trips_local)), (SELECT max(datetime) FROM trips_local), interval '7 days') w LEFT JOIN (SELECT date_trunc('week', datetime) wk, count(*) n FROM trips_local WHERE ST_Intersects(origin, ST_MakeEnvelope($bx0, $by0, $bx1, $by1, 4326)) GROUP BY 1) x ON x.wk = w"

echo "4. latency, 3 nodes (distributed) vs the coordinator alone (local table), median of 5 runs:"
# med_ms SQL : median wall time in ms of 5 runs of SQL on the coordinator (after one warm-up)
med_ms() {
    q 0 <<SQL
DO \$\$
DECLARE t timestamptz; d float8[] := '{}';
BEGIN
    EXECUTE \$q\$$1\$q\$;
    FOR i IN 1 .. 5 LOOP
        t := clock_timestamp();
        EXECUTE \$q\$$1\$q\$;
        d := d || extract(epoch FROM clock_timestamp() - t) * 1000;
    END LOOP;
    RAISE WARNING '%', round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(d) x)::numeric, 1);
END
\$\$;
SQL
}
for agg in "edp.bucket_counts_agg(ts, '2024-01-10', '2024-01-12')" \
           "edp.weekly_counts(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-03-01', 'Europe/Prague')"; do
    d=$(med_ms "SELECT $agg FROM events_dist" 2>&1 | sed -n 's/.*WARNING:  //p')
    l=$(med_ms "SELECT $agg FROM events_local" 2>&1 | sed -n 's/.*WARNING:  //p')
    printf '  %-58s distributed %s ms, local %s ms\n' "${agg%%(*}" "$d" "$l"
done
# bucket_counts of one customer: the distributed edp table (raw rows, through
# Citus) against a local edp table with a rollup holding the same rows
q 0 -c "CREATE TABLE kept_local (LIKE events_local); SELECT edp.enable_rollup('kept_local', key => 'customer_id', ts => 'ts'); INSERT INTO kept_local SELECT * FROM kept" >/dev/null
same "bucket_counts: distributed (raw, through Citus) = local rollup" \
    "SELECT string_agg(bucket_start || '=' || events, ',' ORDER BY bucket_start) FROM edp.bucket_counts('kept', 7, '2024-01-01', '2024-03-01')" \
    "SELECT string_agg(bucket_start || '=' || events, ',' ORDER BY bucket_start) FROM edp.bucket_counts('kept_local', 7, '2024-01-01', '2024-03-01')"
d=$(med_ms "SELECT count(*) FROM edp.bucket_counts('kept', 7, '2024-01-01', '2024-03-01')" 2>&1 | sed -n 's/.*WARNING:  //p')
l=$(med_ms "SELECT count(*) FROM edp.bucket_counts('kept_local', 7, '2024-01-01', '2024-03-01')" 2>&1 | sed -n 's/.*WARNING:  //p')
printf '  %-58s distributed %s ms, local %s ms\n' "edp.bucket_counts, one customer, 60 days hourly" "$d" "$l"
# weekly_trip_average of the box: the distributed trips table (direct, split
# aggregate) against a local edp trips table with the same rows (rollups)
q 0 -c "SELECT edp.create_trips_table('trips_one'); INSERT INTO trips_one (region, origin, destination, datetime, datasource) SELECT region, origin, destination, datetime, datasource FROM trips_local" >/dev/null 2>&1
same "weekly_trip_average: distributed = local trips table" \
    "$avg_sql" "SELECT round(edp.weekly_trip_average('trips_one', $bx0, $by0, $bx1, $by1, 'origin')::numeric, 6)"
d=$(med_ms "SELECT edp.weekly_trip_average('trips', $bx0, $by0, $bx1, $by1, 'origin')" 2>&1 | sed -n 's/.*WARNING:  //p')
l=$(med_ms "SELECT edp.weekly_trip_average('trips_one', $bx0, $by0, $bx1, $by1, 'origin')" 2>&1 | sed -n 's/.*WARNING:  //p')
printf '  %-58s distributed %s ms, local %s ms\n' "edp.weekly_trip_average, a 0.2-degree box" "$d" "$l"
# load rate: the same N rows through COPY on the coordinator, into a fresh
# distributed table (Citus sends them to the shards) and a fresh local table
as_user "$PG_BINDIR/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres \
    -c "COPY events_local TO STDOUT" > "$DIR/events.tsv"
q 0 -c "CREATE TABLE load_dist (LIKE events_local); SELECT create_distributed_table('load_dist', 'customer_id'); CREATE TABLE load_local (LIKE events_local)" >/dev/null
for t in load_dist load_local; do
    t0=$(date +%s.%N)
    as_user "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d postgres \
        -c "\\copy $t FROM '$DIR/events.tsv'"
    t1=$(date +%s.%N)
    rows=$(q 0 -c "SELECT count(*) FROM $t")
    printf '  %-58s %s rows in %.2f s: %.0f rows/s\n' "\\copy into $t" "$rows" "$(echo "$t1 - $t0" | bc)" \
        "$(echo "$rows / ($t1 - $t0)" | bc -l)"
done
echo "citus check: ok"
