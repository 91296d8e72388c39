-- hourly buckets per customer: rollup kept at ingest, dedupe, zero fill, time zones, partitions
\pset footer off
SET timezone = 'UTC';
SET client_min_messages = warning;
DROP TABLE IF EXISTS demo_customer_events CASCADE;
RESET client_min_messages;
CREATE TABLE demo_customer_events (customer_id bigint, event_type text, transaction_id uuid, event_ts timestamptz)
    PARTITION BY RANGE (event_ts);
SELECT edp.enable_partitioning('demo_customer_events', ts => 'event_ts', period => 'month');
SELECT edp.enable_rollup('demo_customer_events', key => 'customer_id', ts => 'event_ts') AS rollup_table;
SELECT edp.enable_dedupe('demo_customer_events', columns => '{customer_id,event_ts,event_type,transaction_id}');

\echo '-- 200k events of 1000 customers over 2024 (customer 1 is hot), loaded twice: counts do not double'
CREATE TEMP TABLE demo_src AS
SELECT CASE WHEN g % 10 = 0 THEN 1 ELSE 2 + abs(hashint8(g)) % 999 END AS customer_id,
       'type' || abs(hashint8(g * 3)) % 4 AS event_type,
       md5(g::text)::uuid AS transaction_id,
       '2024-01-01 00:00+00'::timestamptz + (abs(hashint8(g * 7)) % 31622400) * interval '1 second' AS event_ts
  FROM generate_series(1, 200000) g;
INSERT INTO demo_customer_events SELECT * FROM demo_src;
INSERT INTO demo_customer_events SELECT * FROM demo_src;
SELECT count(*) AS events, count(DISTINCT tableoid) AS month_partitions FROM demo_customer_events;
SELECT count(*) AS rollup_buckets_differing_from_brute_force FROM edp.verify_rollup('demo_customer_events');

\echo '-- customer 1, hourly buckets in [2024-03-10 00:00, 06:00) UTC, zero-filled'
SELECT * FROM edp.bucket_counts('demo_customer_events', 1::bigint, '2024-03-10 00:00+00', '2024-03-10 06:00+00');
\echo '-- the same customer, daily buckets starting at midnight in India (+05:30)'
SELECT * FROM edp.bucket_counts('demo_customer_events', 1::bigint, '2024-03-09 18:30+00', '2024-03-12 18:30+00', '1 day', '+05:30');
\echo '-- per event type per hour'
SELECT * FROM edp.bucket_counts_by('demo_customer_events', 'event_type', '2024-03-10 00:00+00', '2024-03-10 02:00+00')
 ORDER BY 1, 2;
\echo '-- the aggregate with GROUP BY: first 6 hours of 2024 for three customers'
SELECT customer_id, edp.bucket_counts_agg(event_ts, '2024-01-01 00:00+00', '2024-01-01 06:00+00') AS hourly
  FROM demo_customer_events WHERE customer_id IN (1, 2, 3) GROUP BY 1 ORDER BY 1;
DROP TABLE demo_src;
