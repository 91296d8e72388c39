-- rollup: per (key, bucket) counts kept exact by COPY, INSERT, DELETE, UPDATE, TRUNCATE
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE TABLE re (id bigint, customer_id bigint, event_type text, event_ts timestamptz);
INSERT INTO re
SELECT g, g % 7, 'type' || (g % 3), '2024-01-01 00:00+00'::timestamptz + g * interval '13 minutes'
  FROM generate_series(1, 3000) g;
SELECT edp.enable_rollup('re', key => 'customer_id', ts => 'event_ts') AS rollup_table;
SELECT key_column, ts_column, rollup_relid, rollup_width, rollup_stale
  FROM edp.event_tables WHERE relid = 're'::regclass;
SELECT tgname FROM pg_trigger WHERE tgrelid = 're'::regclass ORDER BY 1;

-- brute force vs. edp, for every key and several ranges (rollup + raw edges);
-- a bigint key reads the rollup through its index directly, an integer key
-- through a plan that casts it: both must agree with brute force
CREATE FUNCTION pg_temp.all_keys_match(f timestamptz, t timestamptz, w interval) RETURNS boolean
LANGUAGE sql AS $$
  SELECT bool_and(ok) FROM (
    SELECT k, (SELECT array_agg(events ORDER BY bucket_start) FROM edp.bucket_counts('re', k, f, t, w))
            = (SELECT array_agg(events ORDER BY bucket_start) FROM edp.bucket_counts('re', k::bigint, f, t, w))
          AND (SELECT array_agg(events ORDER BY bucket_start) FROM edp.bucket_counts('re', k::bigint, f, t, w))
            = (SELECT array_agg(coalesce(n, 0) ORDER BY s)
                 FROM edp.bucket_series(f, t, w) s
                 LEFT JOIN (SELECT edp.bucket_start(event_ts, w) b, count(*) n FROM re
                             WHERE customer_id = k AND event_ts >= f AND event_ts < t GROUP BY 1) x ON x.b = s) AS ok
      FROM generate_series(0, 6) k) y
$$;
SELECT pg_temp.all_keys_match('2024-01-01 00:00+00', '2024-01-31 00:00+00', '1 hour') AS aligned,
       pg_temp.all_keys_match('2024-01-01 03:17+00', '2024-01-20 11:42:07+00', '1 hour') AS edges,
       pg_temp.all_keys_match('2024-01-01 00:00+00', '2024-02-01 00:00+00', '1 day') AS daily,
       pg_temp.all_keys_match('2024-01-02 00:00+00', '2024-01-03 00:00+00', '15 minutes') AS finer_than_rollup;

-- INSERT, INSERT ... SELECT, COPY FROM STDIN
INSERT INTO re VALUES (9001, 1, 'type0', '2024-01-01 00:05+00'), (9002, 1, 'type1', '2024-01-01 00:06+00');
INSERT INTO re SELECT id + 10000, customer_id, event_type, event_ts + interval '1 day' FROM re WHERE id <= 500;
COPY re FROM STDIN (FORMAT csv);
9101,3,type2,2024-01-05 10:00:00+00
9102,3,type2,2024-01-05 10:59:59.999999+00
9103,42,type0,2023-12-31 23:59:59+00
9104,,type0,2024-01-05 10:00:00+00
9105,3,type0,
\.
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('re');
SELECT * FROM edp.bucket_counts('re', 3, '2024-01-05 09:00+00', '2024-01-05 12:00+00');
-- DELETE
DELETE FROM re WHERE id % 5 = 0;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('re');
-- UPDATE moving events across keys and buckets
UPDATE re SET customer_id = customer_id + 1, event_ts = event_ts + interval '37 minutes' WHERE id % 3 = 0;
UPDATE re SET event_ts = NULL WHERE id = 9101;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('re');
SELECT pg_temp.all_keys_match('2024-01-01 03:17+00', '2024-01-20 11:42:07+00', '1 hour') AS edges_after_dml;
-- a rolled-back statement leaves the rollup as it was
BEGIN;
DELETE FROM re WHERE customer_id = 2;
ROLLBACK;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('re');
-- subtransactions
BEGIN;
SAVEPOINT s1;
INSERT INTO re SELECT g, 5, 'x', '2024-03-01 00:00+00' FROM generate_series(1, 10) g;
ROLLBACK TO s1;
INSERT INTO re SELECT g, 5, 'x', '2024-03-01 00:00+00' FROM generate_series(1, 3) g;
COMMIT;
SELECT * FROM edp.bucket_counts('re', 5, '2024-03-01 00:00+00', '2024-03-01 02:00+00');
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('re');
-- TRUNCATE empties it
TRUNCATE re;
SELECT count(*) AS rollup_buckets FROM re_edp_rollup, edp.rollup_buckets(chunk_start, '1 hour', packed);
INSERT INTO re VALUES (1, 1, 'a', '2024-01-01 00:00+00');
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('re');

-- a 15-minute rollup serves +05:30 hours from the rollup too
SELECT edp.enable_rollup('re', key => 'customer_id', ts => 'event_ts', width => '15 minutes') AS rollup_table;
INSERT INTO re SELECT g, g % 7, 'type0', '2024-01-01 00:00+00'::timestamptz + g * interval '7 minutes'
  FROM generate_series(2, 2000) g;
SELECT rollup_width, (SELECT count(*) > 0 FROM re_edp_rollup) AS filled FROM edp.event_tables WHERE relid = 're'::regclass;
SELECT * FROM edp.bucket_counts('re', 1, '2024-01-01 00:00+00', '2024-01-01 04:00+00', '1 hour', '+05:30');
SELECT edp.bucket_start(event_ts, '1 hour', '+05:30') AS brute_force_bucket, count(*)
  FROM re WHERE customer_id = 1 AND event_ts >= '2024-01-01 00:00+00' AND event_ts < '2024-01-01 04:00+00'
 GROUP BY 1 ORDER BY 1;

-- errors
\set VERBOSITY sqlstate
SELECT edp.enable_rollup('re', key => 'nope', ts => 'event_ts');   -- ERROR
SELECT edp.enable_rollup('re', key => 'customer_id', ts => 'event_type');   -- ERROR
SELECT edp.enable_rollup('re', key => 'customer_id', ts => 'event_ts', width => '2 hours');   -- ERROR
SELECT edp.enable_rollup('re', key => 'customer_id', ts => 'event_ts', width => '7 minutes');   -- ERROR
SELECT edp.enable_rollup('pg_class', key => 'relname', ts => 'relname');   -- ERROR
SELECT edp.refresh_rollup('pg_class');   -- ERROR
CREATE ROLE regress_edp_buckets_other;
SET ROLE regress_edp_buckets_other;
SELECT edp.enable_rollup('re', key => 'customer_id', ts => 'event_ts');   -- ERROR
RESET ROLE;
\set VERBOSITY default
SELECT edp.enable_rollup('re', key => 'customer_id', ts => 'event_type');   -- ERROR
-- a writer without rights on the rollup table still keeps it exact (triggers act as owner)
GRANT INSERT, SELECT ON re TO regress_edp_buckets_other;
SET ROLE regress_edp_buckets_other;
INSERT INTO re VALUES (77, 1, 'z', '2024-01-01 00:01+00');
RESET ROLE;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('re');
REVOKE ALL ON re FROM regress_edp_buckets_other;
DROP ROLE regress_edp_buckets_other;

SELECT edp.disable_rollup('re');
SELECT rollup_relid IS NULL AS no_rollup FROM edp.event_tables WHERE relid = 're'::regclass;
SELECT * FROM edp.bucket_counts('re', 1, '2024-01-01 00:00+00', '2024-01-01 01:00+00');
DROP TABLE re;
SELECT count(*) AS catalog_rows_left FROM edp.event_tables;
