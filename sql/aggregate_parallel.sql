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

-- errors
\set VERBOSITY sqlstate
SELECT edp.bucket_counts_agg(ts, NULL, '2024-01-02') FROM agg_events;   -- ERROR
SELECT edp.bucket_counts_agg(ts, '2024-01-02', '2024-01-01') FROM agg_events;   -- ERROR
SELECT edp.bucket_counts_agg(ts, '2000-01-01', '2024-01-01', '1 minute', 'UTC') FROM agg_events;   -- ERROR
\set VERBOSITY default
DROP TABLE agg_events;
