-- scale_out: tables edp cannot keep are refused at enable_* with a clear
-- error (foreign partitions here; Citus tables in test/citus_check.sh), and
-- disable_rollup/disable_dedupe remove the triggers enable_* added
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION postgres_fdw;
CREATE SERVER regress_edp_remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'regress_edp_nowhere');
CREATE TABLE fp (customer_id text, ts timestamptz, event_type text, metric_one int, event_metrics jsonb)
    PARTITION BY RANGE (ts);
CREATE TABLE fp_jan PARTITION OF fp FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE fp_feb PARTITION OF fp FOR VALUES FROM ('2024-02-01') TO ('2024-03-01') PARTITION BY LIST (event_type);
CREATE TABLE fp_feb_a PARTITION OF fp_feb FOR VALUES IN ('a');
CREATE FOREIGN TABLE fp_feb_b PARTITION OF fp_feb FOR VALUES IN ('b') SERVER regress_edp_remote;
SELECT edp.enable_rollup('fp', key => 'customer_id', ts => 'ts');   -- ERROR
SELECT edp.enable_dedupe('fp', columns => '{customer_id,ts}');   -- ERROR
SELECT edp.enable_flattening('fp', exclude => '{customer_id,event_type}');   -- ERROR
\set VERBOSITY sqlstate
SELECT edp.enable_rollup('fp_feb', key => 'customer_id', ts => 'ts');   -- ERROR
\set VERBOSITY default
-- a partitioned table whose partitions are all local is accepted
SELECT edp.enable_rollup('fp_jan', key => 'customer_id', ts => 'ts') IS NOT NULL AS local_partition_accepted;
SELECT edp.disable_rollup('fp_jan');
-- the refused calls left nothing behind, and disable_rollup took its triggers
SELECT count(*) AS catalog_rows_of_refused FROM edp.event_tables WHERE relid IN ('fp'::regclass, 'fp_feb'::regclass);
SELECT count(*) AS triggers FROM pg_trigger
 WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('fp')) AND NOT tgisinternal;
-- a foreign partition attached after enable_* is refused the same way, both ways
CREATE TABLE lp (customer_id text, ts timestamptz) PARTITION BY RANGE (ts);
CREATE TABLE lp_jan PARTITION OF lp FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
SELECT edp.enable_rollup('lp', key => 'customer_id', ts => 'ts') IS NOT NULL AS rollup_on;
CREATE FOREIGN TABLE lp_feb PARTITION OF lp FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')
    SERVER regress_edp_remote;   -- ERROR
CREATE FOREIGN TABLE lp_mar (customer_id text, ts timestamptz) SERVER regress_edp_remote;
ALTER TABLE lp ATTACH PARTITION lp_mar FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');   -- ERROR
\set VERBOSITY sqlstate
ALTER TABLE lp ATTACH PARTITION lp_mar FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');   -- ERROR
\set VERBOSITY default
-- a local partition attaches as before, and writes keep the rollup
CREATE TABLE lp_apr (customer_id text, ts timestamptz);
ALTER TABLE lp ATTACH PARTITION lp_apr FOR VALUES FROM ('2024-04-01') TO ('2024-05-01');
INSERT INTO lp VALUES ('a', '2024-01-05 10:00+00'), ('a', '2024-04-05 10:00+00');
SELECT count(*) AS partitions, count(*) FILTER (WHERE c.relkind = 'f') AS foreign_ones
  FROM pg_partition_tree('lp') t JOIN pg_class c ON c.oid = t.relid WHERE t.level > 0;
SELECT count(*) AS verify_rollup_differences FROM edp.verify_rollup('lp');
DROP TABLE lp;
DROP FOREIGN TABLE lp_mar;
DROP TABLE fp;
DROP SERVER regress_edp_remote;
DROP EXTENSION postgres_fdw;

-- disable_* removes the statement triggers once neither rollup nor dedupe is on
CREATE TABLE kept (customer_id text, ts timestamptz, event_type text, transaction_id int);
INSERT INTO kept SELECT 'c' || (g % 3), '2024-01-01'::timestamptz + g * interval '17 minutes', 't', g
  FROM generate_series(1, 200) g;
SELECT edp.enable_rollup('kept', key => 'customer_id', ts => 'ts') IS NOT NULL AS rollup_on;
SELECT edp.enable_dedupe('kept', columns => '{customer_id,ts,event_type,transaction_id}');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'kept'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT edp.disable_rollup('kept');
SELECT count(*) AS triggers_while_dedupe_on FROM pg_trigger WHERE tgrelid = 'kept'::regclass AND NOT tgisinternal;
SELECT relname AS index_while_dedupe_on FROM pg_class
 WHERE oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'kept'::regclass) ORDER BY 1;
SELECT edp.disable_dedupe('kept');
SELECT count(*) AS triggers_after_disable FROM pg_trigger WHERE tgrelid = 'kept'::regclass AND NOT tgisinternal;
-- and the indexes enable_* made: none left (an index of the user's stays)
SELECT count(*) AS indexes_after_disable FROM pg_index WHERE indrelid = 'kept'::regclass;
CREATE INDEX kept_edp_dedupe ON kept (transaction_id);
SELECT edp.enable_dedupe('kept', columns => '{transaction_id}');
SELECT edp.disable_dedupe('kept');
SELECT relname AS user_index_kept FROM pg_class WHERE oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'kept'::regclass);
DROP INDEX kept_edp_dedupe;
INSERT INTO kept VALUES ('c1', '2024-01-03 10:00+00', 't', 1000);
-- enabled again, the rollup is exact and kept at ingest
SELECT edp.enable_rollup('kept', key => 'customer_id', ts => 'ts') IS NOT NULL AS rollup_on_again;
INSERT INTO kept VALUES ('c1', '2024-01-03 10:30+00', 't', 1001);
SELECT count(*) AS triggers_again FROM pg_trigger WHERE tgrelid = 'kept'::regclass AND NOT tgisinternal;
SELECT (SELECT sum(events) FROM edp.bucket_counts('kept', 'c1'::text, '2024-01-01', '2024-01-05'))
     = (SELECT count(*) FROM kept WHERE customer_id = 'c1') AS rollup_equals_count;
SELECT count(*) AS verify_rollup_differences FROM edp.verify_rollup('kept');
DROP TABLE kept;
