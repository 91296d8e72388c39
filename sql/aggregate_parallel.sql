-- aggregate_parallel: edp.bucket_counts_agg split by parallel query
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE TABLE agg_events (customer_id int, ts timestamptz);
INSERT INTO agg_events
SELECT g % 50, '2024-01-01 00:00+00'::timestamptz + (g * 7919 % 2678400) * interval '1 second'
  FROM generate_series(1, 200000) g;
ANALYZE agg_events;

-- small example
SELECT customer_id, edp.bucket_counts_agg(ts, '2024-01-01 00:00+00', '2024-01-01 06:00+00') AS hourly
  FROM agg_events WHERE customer_id < 3 GROUP BY customer_id ORDER BY customer_id;
-- element i belongs to bucket i of edp.bucket_series
SELECT * FROM unnest(ARRAY(SELECT edp.bucket_series('2024-01-01 00:00+00', '2024-01-02 00:00+00', '1 day', '+05:30')),
                     (SELECT edp.bucket_counts_agg(ts, '2024-01-01 00:00+00', '2024-01-02 00:00+00', '1 day', '+05:30')
                        FROM agg_events WHERE customer_id = 1)) AS x(bucket_start, events)
 ORDER BY 1;

SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_total AS
SELECT edp.bucket_counts_agg(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00') AS c FROM agg_events;
CREATE TEMP TABLE serial_grouped AS
SELECT customer_id, edp.bucket_counts_agg(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00', '15 minutes', 'Asia/Kolkata') AS c
  FROM agg_events GROUP BY customer_id;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT edp.bucket_counts_agg(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00') FROM agg_events;
EXPLAIN (COSTS OFF)
SELECT customer_id, edp.bucket_counts_agg(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00', '15 minutes', 'Asia/Kolkata')
  FROM agg_events GROUP BY customer_id;
SELECT (SELECT c FROM serial_total) = edp.bucket_counts_agg(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00')
       AS parallel_equals_serial
  FROM agg_events;
SELECT count(*) = 50 AND bool_and(p.c = s.c) AS grouped_parallel_equals_serial
  FROM (SELECT customer_id, edp.bucket_counts_agg(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00', '15 minutes', 'Asia/Kolkata') AS c
          FROM agg_events GROUP BY customer_id) p
  JOIN serial_grouped s USING (customer_id);
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- equal to a brute-force count
SELECT (SELECT c FROM serial_total)
     = (SELECT array_agg(coalesce(n, 0) ORDER BY s)
          FROM edp.bucket_series('2024-01-03 00:00+00', '2024-01-20 00:00+00') s
          LEFT JOIN (SELECT date_trunc('hour', ts) AS b, count(*) AS n FROM agg_events
                      WHERE ts >= '2024-01-03 00:00+00' AND ts < '2024-01-20 00:00+00' GROUP BY 1) x ON x.b = s)
       AS equals_brute_force;

-- the split Citus makes: worker_partial_agg runs the transition function on
-- each shard and sends the state as text, coord_combine_agg reads it back
-- and runs the combine function, then the final function.  Here the "shards"
-- are customer_id % 4; every step is the aggregate's own support function.
CREATE AGGREGATE regress_bucket_partial(timestamptz, timestamptz, timestamptz, interval, text) (
    SFUNC = edp_internal.bucket_counts_agg_trans, STYPE = bytea);
CREATE AGGREGATE regress_bucket_combine(bytea) (
    SFUNC = edp_internal.bucket_counts_agg_combine, STYPE = bytea,
    FINALFUNC = edp_internal.bucket_counts_agg_final);
CREATE AGGREGATE regress_weekly_partial(timestamp, date, date, text) (
    SFUNC = edp_internal.weekly_trips_add, STYPE = bytea);
CREATE AGGREGATE regress_weekly_combine(bytea) (
    SFUNC = edp_internal.weekly_trips_combine, STYPE = bytea,
    FINALFUNC = edp_internal.weekly_trips_counts);
CREATE TEMP TABLE shard_states AS
SELECT customer_id % 4 AS shard, customer_id,
       regress_bucket_partial(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00', '15 minutes', 'Asia/Kolkata')::text AS buckets,
       regress_weekly_partial(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-02-05', 'Europe/Prague')::text AS weeks
  FROM agg_events GROUP BY 1, 2;
SELECT count(*) = 50 AND bool_and(c.c = s.c) AS split_per_group_equals_serial
  FROM (SELECT customer_id, regress_bucket_combine(buckets::bytea) AS c FROM shard_states GROUP BY 1) c
  JOIN serial_grouped s USING (customer_id);
SELECT regress_bucket_combine(t.state::bytea) = (SELECT array_agg(c ORDER BY i) FROM (
           SELECT i, sum(c[i])::bigint AS c FROM serial_grouped, generate_subscripts(c, 1) i GROUP BY i) x)
       AS split_total_equals_serial
  FROM (SELECT customer_id % 4 AS shard, regress_bucket_partial(ts, '2024-01-03 00:00+00', '2024-01-20 00:00+00', '15 minutes', 'Asia/Kolkata')::text AS state
          FROM agg_events GROUP BY 1) t;
SELECT regress_weekly_combine(weeks::bytea)
       = (SELECT edp.weekly_counts(ts AT TIME ZONE 'UTC', '2024-01-01', '2024-02-05', 'Europe/Prague') FROM agg_events)
       AS weekly_split_equals_serial
  FROM shard_states;
-- the combine function called directly (outside an aggregate) gives a new state
SELECT (SELECT array_agg(x + y ORDER BY i) FROM unnest(edp_internal.bucket_counts_agg_final(a.buckets::bytea),
                                                       edp_internal.bucket_counts_agg_final(b.buckets::bytea))
                                                WITH ORDINALITY u(x, y, i))
       = edp_internal.bucket_counts_agg_final(edp_internal.bucket_counts_agg_combine(a.buckets::bytea, b.buckets::bytea))
       AS direct_combine_adds,
       edp_internal.weekly_trips_counts(edp_internal.weekly_trips_combine(NULL, b.weeks::bytea))
       = edp_internal.weekly_trips_counts(b.weeks::bytea) AS weekly_combine_null_left
  FROM shard_states a, shard_states b WHERE a.customer_id = 1 AND b.customer_id = 2;
-- states that do not fit or were not made by the aggregate are refused
\set VERBOSITY sqlstate
SELECT edp_internal.bucket_counts_agg_combine(a.buckets::bytea, b.weeks::bytea)
  FROM shard_states a, shard_states b WHERE a.customer_id = 1 AND b.customer_id = 2;   -- ERROR
SELECT edp_internal.bucket_counts_agg_final('\x0102'::bytea);   -- ERROR
SELECT edp_internal.weekly_trips_counts(substr(weeks::bytea, 1, 40)) FROM shard_states WHERE customer_id = 1;   -- ERROR
SELECT edp_internal.bucket_counts_agg_combine(a.buckets::bytea, b.buckets::bytea)
  FROM (SELECT regress_bucket_partial(ts, '2024-01-03 00:00+00', '2024-01-04 00:00+00', '1 hour', 'UTC')::text AS buckets FROM agg_events) a,
       shard_states b WHERE b.customer_id = 2;   -- ERROR
\set VERBOSITY default
DROP AGGREGATE regress_bucket_partial(timestamptz, timestamptz, timestamptz, interval, text);
DROP AGGREGATE regress_bucket_combine(bytea);
DROP AGGREGATE regress_weekly_partial(timestamp, date, date, text);
DROP AGGREGATE regress_weekly_combine(bytea);

-- errors
\set VERBOSITY sqlstate
SELECT edp.bucket_counts_agg(ts, NULL, '2024-01-02') FROM agg_events;   -- ERROR
SELECT edp.bucket_counts_agg(ts, '2024-01-02', '2024-01-01') FROM agg_events;   -- ERROR
SELECT edp.bucket_counts_agg(ts, '2000-01-01', '2024-01-01', '1 minute', 'UTC') FROM agg_events;   -- ERROR
\set VERBOSITY default
DROP TABLE agg_events;
