-- dedupe: the same file twice, duplicates inside one batch, keep-latest by event id
SET timezone = 'UTC';
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set events_csv :abs_srcdir '/test/data/customer-events.csv'
\set malformed_csv :abs_srcdir '/test/data/customer-events-malformed.csv'
\set accounts :abs_srcdir '/test/data/account-events.jsonl'
\set accounts_update :abs_srcdir '/test/data/account-events-update.jsonl'

CREATE TABLE ce (customer_id text, event_type text, transaction_id uuid, ts timestamptz);
SELECT edp.enable_rollup('ce', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('ce', columns => '{customer_id,ts,event_type,transaction_id}');
SELECT dedupe_mode, dedupe_columns FROM edp.event_tables WHERE relid = 'ce'::regclass;

-- first load: three lines are one instant (+00, +01:30, Z) of one event
COPY ce FROM :'events_csv' (FORMAT csv);
SELECT count(*) AS rows_after_first_load FROM ce;
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text, '2021-03-01 00:00+00', '2021-03-01 04:00+00');
-- the same file again: nothing doubles
COPY ce FROM :'events_csv' (FORMAT csv);
SELECT count(*) AS rows_after_second_load FROM ce;
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text, '2021-03-01 00:00+00', '2021-03-01 04:00+00');
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ce');
-- twice inside one transaction, and once in a rolled-back subtransaction
BEGIN;
COPY ce FROM :'events_csv' (FORMAT csv);
SAVEPOINT s;
COPY ce FROM :'events_csv' (FORMAT csv);
ROLLBACK TO s;
COPY ce FROM :'events_csv' (FORMAT csv);
COMMIT;
SELECT count(*) AS rows_after_transaction FROM ce;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ce');
-- INSERT ... SELECT of the table into itself adds nothing
INSERT INTO ce SELECT * FROM ce;
SELECT count(*) AS rows_after_self_insert FROM ce;
SELECT count(*) AS duplicate_groups
  FROM (SELECT FROM ce GROUP BY customer_id, ts, event_type, transaction_id HAVING count(*) > 1) d;

-- the malformed format: no header, empty quoted customer and timestamp,
-- naive timestamps, trailing empty lines; staged as lines, parsed in SQL
CREATE TEMP TABLE stage (line text);
COPY stage FROM :'malformed_csv';
SELECT count(*) AS lines, count(*) FILTER (WHERE line = '') AS empty_lines FROM stage;
CREATE TEMP VIEW parsed AS
SELECT nullif(trim(both '"' from split_part(line, ',', 1)), '') AS customer_id,
       split_part(line, ',', 2) AS event_type,
       split_part(line, ',', 3)::uuid AS transaction_id,
       edp.parse_timestamp(nullif(trim(both '"' from split_part(line, ',', 4)), '')) AS ts
  FROM stage WHERE line <> '';
INSERT INTO ce SELECT * FROM parsed;
INSERT INTO ce SELECT * FROM parsed;
SELECT * FROM edp.bucket_counts('ce', 'b4f9279a0196e40632e947dd1a88e857'::text, '2021-03-01 00:00+00', '2021-03-01 04:00+00');
SELECT count(*) AS rows_without_customer_or_time FROM ce WHERE customer_id IS NULL OR ts IS NULL;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ce');

-- keep-latest: events with the same event_id collapse to the latest timestamp
CREATE TABLE account_events (event_id uuid, ts timestamptz, domain text, event_type text, data jsonb);
SELECT edp.enable_dedupe('account_events', columns => '{event_id}', keep => 'latest', order_by => 'ts');
CREATE TEMP TABLE jstage (line text);
CREATE TEMP VIEW jparsed AS
SELECT (j->>'event_id')::uuid AS event_id, edp.parse_timestamp(j->>'timestamp') AS ts,
       j->>'domain' AS domain, j->>'event_type' AS event_type, j->'data' AS data
  FROM (SELECT line::jsonb AS j FROM jstage WHERE line <> '') x;
COPY jstage FROM :'accounts';
INSERT INTO account_events SELECT * FROM jparsed;
SELECT event_id, ts, event_type, data->>'reason' AS reason FROM account_events ORDER BY event_id;
-- a later file: an older version loses, a newer one replaces
TRUNCATE jstage;
COPY jstage FROM :'accounts_update';
INSERT INTO account_events SELECT * FROM jparsed;
SELECT event_id, ts, event_type, data->>'reason' AS reason FROM account_events ORDER BY event_id;
-- the whole history again changes nothing
TRUNCATE jstage;
COPY jstage FROM :'accounts';
INSERT INTO account_events SELECT * FROM jparsed;
SELECT count(*) AS events, count(DISTINCT event_id) AS event_ids FROM account_events;

-- keep-latest with a rollup: counts follow the surviving version
CREATE TABLE versions (event_id int, customer_id int, ts timestamptz);
SELECT edp.enable_rollup('versions', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('versions', columns => '{event_id}', keep => 'latest');
INSERT INTO versions VALUES (1, 7, '2024-01-01 10:15+00'), (1, 7, '2024-01-01 12:15+00'), (2, 7, '2024-01-01 10:30+00');
INSERT INTO versions VALUES (2, 7, '2024-01-01 11:30+00'), (1, 7, '2024-01-01 09:00+00');
SELECT * FROM edp.bucket_counts('versions', 7, '2024-01-01 09:00+00', '2024-01-01 13:00+00');
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('versions');

-- statements of many rows: every row read once in C (fingerprints, rollup
-- delta); a BRIN index on ts instead of the (key, ts) btree.  Every 20th
-- row repeats the event before it; some rows lack a customer or a time and
-- are never duplicates.  The second load overlaps the first by 10k rows.
CREATE TEMP VIEW gen AS
SELECT g, CASE WHEN e % 997 = 0 THEN NULL ELSE e % 500 END::bigint AS customer_id,
       'type' || e % 7 AS event_type, md5(e::text)::uuid AS transaction_id,
       CASE WHEN e % 1009 = 0 THEN NULL ELSE '2024-01-01 00:00+00'::timestamptz + e * interval '37 seconds' END AS ts
  FROM (SELECT g, CASE WHEN g % 20 = 0 THEN g - 1 ELSE g END AS e FROM generate_series(1, 50000) g) x;
CREATE TABLE many (customer_id bigint, event_type text, transaction_id uuid, ts timestamptz);
SELECT edp.enable_rollup('many', key => 'customer_id', ts => 'ts', raw_index => 'brin');
SELECT edp.enable_dedupe('many', columns => '{customer_id,ts,event_type,transaction_id}');
SELECT indexdef FROM pg_indexes WHERE tablename = 'many';
INSERT INTO many SELECT customer_id, event_type, transaction_id, ts FROM gen WHERE g <= 40000;
INSERT INTO many SELECT customer_id, event_type, transaction_id, ts FROM gen WHERE g > 30000;
SELECT (SELECT count(*) FROM many) =
       (SELECT count(*) FROM (SELECT DISTINCT customer_id, event_type, transaction_id, ts FROM gen
                               WHERE customer_id IS NOT NULL AND ts IS NOT NULL) d)
     + (SELECT count(*) FROM gen WHERE g <= 40000 AND (customer_id IS NULL OR ts IS NULL))
     + (SELECT count(*) FROM gen WHERE g > 30000 AND (customer_id IS NULL OR ts IS NULL)) AS rows_as_brute_force;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('many');
-- the same loads with fingerprints that outgrow their memory: the SQL form
-- does the work and the table ends up the same
CREATE TABLE many_sql (LIKE many);
SELECT edp.enable_rollup('many_sql', key => 'customer_id', ts => 'ts', raw_index => 'none');
SELECT edp.enable_dedupe('many_sql', columns => '{customer_id,ts,event_type,transaction_id}');
SET maintenance_work_mem = '1MB';
SET work_mem = '64kB';
INSERT INTO many_sql SELECT customer_id, event_type, transaction_id, ts FROM gen WHERE g <= 40000;
INSERT INTO many_sql SELECT customer_id, event_type, transaction_id, ts FROM gen WHERE g > 30000;
RESET maintenance_work_mem;
RESET work_mem;
SELECT count(*) AS rows_differing
  FROM ((TABLE many EXCEPT ALL TABLE many_sql) UNION ALL (TABLE many_sql EXCEPT ALL TABLE many)) d;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('many_sql');
-- UPDATE and DELETE of many rows keep the rollup exact (C delta, both signs)
UPDATE many SET ts = ts + interval '90 minutes' WHERE customer_id % 3 = 0;
DELETE FROM many WHERE customer_id % 5 = 0;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('many');
\set VERBOSITY sqlstate
SELECT edp.enable_rollup('many', key => 'customer_id', ts => 'ts', raw_index => 'hash');   -- ERROR
\set VERBOSITY default
DROP TABLE many, many_sql;

-- errors
\set VERBOSITY sqlstate
SELECT edp.enable_dedupe('ce', columns => '{}');   -- ERROR
SELECT edp.enable_dedupe('ce', columns => '{nope}');   -- ERROR
SELECT edp.enable_dedupe('ce', columns => '{customer_id}', keep => 'oldest');   -- ERROR
SELECT edp.enable_dedupe('ce', columns => '{customer_id}', order_by => 'ts');   -- ERROR
\set VERBOSITY default
SELECT edp.enable_dedupe('ce', columns => '{customer_id}', keep => 'oldest');   -- ERROR

SELECT edp.disable_dedupe('ce');
COPY ce FROM :'events_csv' (FORMAT csv);
SELECT count(*) AS rows_without_dedupe FROM ce;
DROP TABLE ce, account_events, versions;
SELECT count(*) AS catalog_rows_left FROM edp.event_tables;
