-- partitions: by UTC event date (day/month) and event type, created on demand at ingest
SET timezone = 'UTC';
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set events_csv :abs_srcdir '/test/data/customer-events.csv'

-- by day
CREATE TABLE pd (customer_id text, event_type text, transaction_id uuid, ts timestamptz)
    PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('pd', ts => 'ts', period => 'day');
SELECT edp.enable_rollup('pd', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('pd', columns => '{customer_id,ts,event_type,transaction_id}');
COPY pd FROM :'events_csv' (FORMAT csv);
SELECT tableoid::regclass AS partition, count(*) FROM pd GROUP BY 1 ORDER BY 1;
-- the same file again: no new rows, no new partitions
COPY pd FROM :'events_csv' (FORMAT csv);
SELECT count(*) AS rows, count(DISTINCT tableoid) AS partitions FROM pd;
SELECT * FROM edp.bucket_counts('pd', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text, '2021-03-01 00:00+00', '2021-03-01 04:00+00');
-- a backfill years back, inside a transaction that goes on after the COPY
BEGIN;
INSERT INTO pd VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'INGEST', NULL, '2017-06-15 12:00+00'),
                      ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'INGEST', NULL, '2017-06-15 23:59:59.999999+00'),
                      ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'INGEST', NULL, '2017-06-16 00:00+00');
SELECT count(*) AS visible_before_commit FROM pd WHERE ts < '2018-01-01';
COMMIT;
SELECT tableoid::regclass AS partition, count(*) FROM pd WHERE ts < '2018-01-01' GROUP BY 1 ORDER BY 1;
SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_class c WHERE c.oid = 'pd_p20170615'::regclass;
SELECT count(*) AS rows_in_default FROM pd_default;
-- a row without event time cannot be placed: it stays in DEFAULT, with a WARNING
INSERT INTO pd VALUES ('cccccccccccccccccccccccccccccccc', 'INGEST', NULL, NULL);
SELECT count(*) AS rows_in_default FROM pd_default;
-- DML and TRUNCATE addressed to a partition keep the rollup exact
DELETE FROM pd_p20170615 WHERE ts = '2017-06-15 12:00+00';
UPDATE pd_p20210301 SET customer_id = 'dddddddddddddddddddddddddddddddd' WHERE event_type = 'EXPORT';
TRUNCATE pd_p20170616;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('pd');
SELECT * FROM edp.bucket_counts('pd', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text, '2017-06-15 00:00+00', '2017-06-18 00:00+00', '1 day');
TRUNCATE pd;
SELECT count(*) AS rollup_buckets FROM pd_edp_rollup, edp.rollup_buckets(chunk_start, '1 hour', packed);

-- by month and event type (two levels), with keep-latest dedupe across partitions
CREATE TABLE acct (event_id int, ts timestamptz, event_type text, note text) PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('acct', ts => 'ts', period => 'month', type_column => 'event_type');
SELECT edp.enable_dedupe('acct', columns => '{event_id}', keep => 'latest', order_by => 'ts');
COPY acct FROM STDIN (FORMAT csv);
1,2024-10-10 10:10:00+00,payment-from,v1
2,2024-10-31 23:59:00+00,account-close,v1
2,2024-11-01 00:01:00+00,account-close,v2 (next month wins)
3,2024-10-12 08:00:00+00,Status Change!,v1
4,2024-10-13 08:00:00+00,,no type
\.
SELECT tableoid::regclass AS partition, event_id, ts, note FROM acct ORDER BY event_id, ts;
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_partition_tree('acct') t JOIN pg_class c ON c.oid = t.relid WHERE t.level > 0 ORDER BY 1;
-- an older version arriving later loses, whatever partition it lands in
INSERT INTO acct VALUES (2, '2024-09-01 00:00+00', 'account-close', 'v0 (older)');
SELECT tableoid::regclass AS partition, event_id, ts, note FROM acct WHERE event_id = 2;
SELECT count(*) AS september_partitions FROM pg_class WHERE relname LIKE 'acct_p202409%';

-- errors
\set VERBOSITY sqlstate
CREATE TABLE plain_t (ts timestamptz, kind text);
SELECT edp.enable_partitioning('plain_t', ts => 'ts');   -- ERROR
CREATE TABLE by_list (ts timestamptz, kind text) PARTITION BY LIST (kind);
SELECT edp.enable_partitioning('by_list', ts => 'ts');   -- ERROR
SELECT edp.enable_partitioning('pd', ts => 'ts', period => 'week');   -- ERROR
SELECT edp.enable_partitioning('pd', ts => 'event_type');   -- ERROR
SELECT edp_internal.add_period_partition('pd', 'infinity', NULL, NULL);   -- ERROR 22008: no partition holds it
\set VERBOSITY default
SELECT edp.enable_partitioning('plain_t', ts => 'ts');   -- ERROR
DROP TABLE pd, acct, plain_t, by_list;
SELECT count(*) AS catalog_rows_left FROM edp.event_tables;
