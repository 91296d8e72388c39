-- bucket_views: BI views with stable column names
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE TABLE bv (customer_id int, event_type text, ts timestamptz);
INSERT INTO bv SELECT g % 3, CASE WHEN g % 2 = 0 THEN 'click' ELSE 'view' END,
                      '2024-05-01 00:00+00'::timestamptz + g * interval '17 minutes'
  FROM generate_series(1, 40) g;
SELECT edp.enable_rollup('bv', key => 'customer_id', ts => 'ts', width => '15 minutes');
SELECT * FROM edp.create_bucket_views('bv') ORDER BY 1;
SELECT attrelid::regclass AS view, attname, atttypid::regtype
  FROM pg_attribute WHERE attrelid IN ('bv_hourly_counts'::regclass, 'bv_hourly_type_counts'::regclass) AND attnum > 0
 ORDER BY 1, attnum;
SELECT * FROM bv_hourly_counts WHERE key = 1 ORDER BY bucket_start LIMIT 5;
SELECT * FROM bv_hourly_type_counts WHERE key = 1 ORDER BY bucket_start, event_type LIMIT 5;
-- the view equals the raw count, also while the rollup is stale
CREATE TEMP VIEW raw_hourly AS
SELECT customer_id AS key, date_trunc('hour', ts) AS bucket_start, count(*) AS events FROM bv GROUP BY 1, 2;
SELECT NOT EXISTS ((TABLE bv_hourly_counts EXCEPT TABLE raw_hourly)
                   UNION ALL (TABLE raw_hourly EXCEPT TABLE bv_hourly_counts)) AS equals_raw;
UPDATE bv_edp_rollup SET packed = edp_internal.rollup_merge(packed, packed);   -- doubles every count
SELECT count(*) > 0 AS damaged FROM edp.verify_rollup('bv');
SELECT NOT EXISTS ((TABLE bv_hourly_counts EXCEPT TABLE raw_hourly)
                   UNION ALL (TABLE raw_hourly EXCEPT TABLE bv_hourly_counts)) AS equals_raw_while_stale;
SELECT edp.refresh_rollup('bv') > 0 AS refreshed;
SELECT sum(events) AS events_after_refresh FROM bv_hourly_counts;
-- rebuilding the rollup keeps the views
SELECT edp.enable_rollup('bv', key => 'customer_id', ts => 'ts');
SELECT count(*) AS views FROM pg_views WHERE viewname IN ('bv_hourly_counts', 'bv_hourly_type_counts');
\set VERBOSITY sqlstate
SELECT edp.create_bucket_views('bv', type_column => 'nope');   -- ERROR
CREATE TABLE no_rollup (ts timestamptz);
SELECT edp.create_bucket_views('no_rollup');   -- ERROR
\set VERBOSITY default
DROP VIEW raw_hourly;
DROP TABLE bv CASCADE;
DROP TABLE no_rollup;
SELECT count(*) AS catalog_rows_left FROM edp.event_tables;
