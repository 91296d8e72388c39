-- write_paths: features combined under every write path; the named
-- regressions of the write-pipeline issue, each checked against plain SQL
SET timezone = 'UTC';
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set accounts :abs_srcdir '/test/data/account-events.jsonl'

-- every row sits in the leaf whose bounds contain it: rows whose leaf's
-- partition constraint they break, per table (0 everywhere is right)
CREATE FUNCTION misplaced(tbl regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    leaf regclass;
    n bigint := 0;
    m bigint;
BEGIN
    FOR leaf IN SELECT relid FROM pg_partition_tree(tbl) WHERE isleaf LOOP
        EXECUTE format('SELECT count(*) FROM ONLY %s WHERE NOT (%s)', leaf,
                       coalesce(pg_get_partition_constraintdef(leaf), 'true')) INTO m;
        n := n + m;
    END LOOP;
    RETURN n;
END $$;

-- 1. a row in the wrong partition: partitions by day and type, keep-latest
--    dedupe, JSON lines through validated ingest; then an older version of
--    a stored event (loses) and a newer version of another on a day with
--    no partition yet (replaces it there)
CREATE TABLE account_events (event_id uuid, "timestamp" timestamptz, domain text, event_type text,
                             data_id int, data_to int, data_from int, data_amount numeric,
                             data_old_status text, data_new_status text, data_reason text)
    PARTITION BY RANGE ("timestamp");
SELECT edp.enable_partitioning('account_events', ts => 'timestamp', period => 'day', type_column => 'event_type');
SELECT edp.enable_dedupe('account_events', columns => '{event_id}', keep => 'latest', order_by => 'timestamp');
SELECT status, rows_in, loaded, rejected, duplicates FROM edp.ingest('account_events', :'accounts');
SELECT status, rows_in, loaded, rejected, duplicates
  FROM edp.ingest_data('account_events', E'{"event_id": "0b7c54a2-5d0e-4d1b-9a53-000000000003", "timestamp": "2024-10-10T09:00:00", "domain": "account", "event_type": "account-open"}\n{"event_id": "0b7c54a2-5d0e-4d1b-9a53-000000000001", "timestamp": "2024-10-12T08:00:00", "domain": "transaction", "event_type": "payment-to"}\n');
SELECT tableoid::regclass AS partition, event_id, "timestamp", event_type FROM account_events ORDER BY event_id;
SELECT misplaced('account_events') AS misplaced_rows;
SELECT count(*) AS found_by_type FROM account_events WHERE event_type = 'payment-to';
SELECT count(*) AS found_by_day FROM account_events WHERE "timestamp" >= '2024-10-12';
SELECT count(*) AS found_by_id FROM account_events WHERE event_id = '0b7c54a2-5d0e-4d1b-9a53-000000000001';
-- the same two kinds of rows as CSV, through COPY and through validated ingest
COPY account_events (event_id, "timestamp", domain, event_type) FROM stdin (FORMAT csv);
0b7c54a2-5d0e-4d1b-9a53-000000000002,2024-10-09T09:00:00,account,account-close
0b7c54a2-5d0e-4d1b-9a53-000000000004,2024-10-13T08:00:00,account,payment-to
\.
SELECT status, rows_in, loaded, rejected, duplicates
  FROM edp.ingest_data('account_events', E'event_id,timestamp,domain,event_type\n0b7c54a2-5d0e-4d1b-9a53-000000000003,2024-10-01T00:00:00,account,account-open\n0b7c54a2-5d0e-4d1b-9a53-000000000002,2024-10-14T08:00:00,account,payment-to\n');
SELECT tableoid::regclass AS partition, event_id, "timestamp", event_type FROM account_events ORDER BY event_id;
SELECT misplaced('account_events') AS misplaced_rows, count(*) AS events, count(DISTINCT event_id) AS event_ids
  FROM account_events;

-- 2. duplicates kept by validated ingest: rollup + dedupe on all four
--    columns, exact duplicates in one batch and across batches (batches of
--    700 rows: most duplicates straddle a boundary)
CREATE TABLE cust (customer_id text, event_type text, transaction_id uuid, ts timestamptz);
SELECT edp.enable_rollup('cust', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('cust', columns => '{customer_id,event_type,transaction_id,ts}');
CREATE TEMP TABLE gen AS
SELECT md5(customer_id::text) AS customer_id, event_type, transaction_id, ts_text
  FROM edp.generate_events(20000, seed => 11);
SELECT count(*) AS generated, count(*) - (SELECT count(*) FROM (SELECT DISTINCT customer_id, event_type, transaction_id, ts_text::timestamptz FROM gen) d) AS exact_duplicates
  FROM gen;
SELECT status, rows_in, loaded + duplicates = rows_in AS counts_add_up,
       loaded = (SELECT count(*) FROM (SELECT DISTINCT customer_id, event_type, transaction_id, ts_text::timestamptz FROM gen) d) AS loaded_is_distinct
  FROM edp.ingest_data('cust', (SELECT string_agg(format('%s,%s,%s,%s', customer_id, event_type, transaction_id, ts_text), E'\n') FROM gen),
                       header => false, batch_size => 700);
SELECT count(*) = (SELECT count(*) FROM (SELECT DISTINCT customer_id, event_type, transaction_id, ts_text::timestamptz FROM gen) d) AS table_is_distinct,
       (SELECT count(*) FROM (SELECT FROM cust GROUP BY customer_id, event_type, transaction_id, ts HAVING count(*) > 1) g) AS duplicate_groups
  FROM cust;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('cust');

-- 3. input read twice: a second input of the same byte size as an earlier
--    succeeded job's, different content: read once, header not a row
CREATE TABLE same_size (a int, b text);
SELECT status, rows_in, loaded, rejected FROM edp.ingest_data('same_size', E'a,b\n1,x\n2,y\n');
SELECT status, rows_in, loaded, rejected FROM edp.ingest_data('same_size', E'a,b\n3,z\n4,w\n');
SELECT a, b FROM same_size ORDER BY a;
SELECT count(*) AS rejects FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id WHERE j.target = 'same_size'::regclass;

-- the ledger: a load whose newer version replaces an older stored one
-- loads it (the replaced row was the earlier load's)
CREATE TABLE versions (event_id int, v int, ts timestamptz);
SELECT edp.enable_dedupe('versions', columns => '{event_id}', keep => 'latest', order_by => 'ts');
SELECT status, loaded, duplicates FROM edp.ingest_data('versions', E'event_id,v,ts\n1,1,2024-01-01\n2,1,2024-01-01\n');
SELECT status, loaded, duplicates FROM edp.ingest_data('versions', E'event_id,v,ts\n1,2,2024-01-02\n2,0,2023-12-31\n');
SELECT event_id, v FROM versions ORDER BY event_id;

-- DML addressed to the day level of a table partitioned by day and type
-- keeps the rollup exact (the day level has statement triggers of its own)
CREATE TABLE dt (cust text, etype text, ts timestamptz) PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('dt', ts => 'ts', type_column => 'etype');
SELECT edp.enable_rollup('dt', key => 'cust', ts => 'ts');
INSERT INTO dt VALUES ('c1', 'buy', '2024-03-03 13:18+00'), ('c1', 'sell', '2024-03-03 14:18+00');
DELETE FROM dt_p20240303 WHERE etype = 'buy';
UPDATE dt_p20240303 SET cust = 'c2';
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('dt');
TRUNCATE dt_p20240303;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('dt');

-- a malformed geometry (PostGIS reports it as XX000) is one bad row, not a
-- failed load
SELECT edp.create_trips_table('wp_trips');
SELECT status, rows_in, loaded, rejected
  FROM edp.ingest_data('wp_trips', E'region,origin,destination,datetime,datasource\nPrague,POINT (14.42 50.08),POINT (14.43 50.09),2018-04-03 10:00,s\nPrague,POINT (14.3 50.,POINT (14.43 50.09),2018-04-03 11:00,s\n');
SELECT line, sqlstate FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id WHERE j.target = 'wp_trips'::regclass;

-- validated ingest keeps the table's upkeep for the whole load: duplicates
-- in different batches are found as within one (batch_size 2 here), and
-- the rollup counts each stored row once
CREATE TABLE across (cust text, etype text, ts timestamptz);
SELECT edp.enable_rollup('across', key => 'cust', ts => 'ts');
SELECT edp.enable_dedupe('across', columns => '{cust,etype,ts}');
SELECT status, rows_in, loaded, duplicates
  FROM edp.ingest_data('across', E'cust,etype,ts\nc1,a,2024-01-01 10:00+00\nc2,a,2024-01-01 10:00+00\nc1,a,2024-01-01 10:00+00\nc3,b,2024-01-01 11:00+00\nc2,a,2024-01-01 10:00+00\nc1,a,2024-01-01 10:00+00\n',
                       batch_size => 2);
SELECT cust, etype, count(*) FROM across GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('across');
-- a key of several columns is indexed by one hash of it; a key holding the
-- rollup's key and time columns uses the rollup's (key, ts) index
SELECT indexdef FROM pg_indexes WHERE tablename = 'across' ORDER BY 1;
CREATE TABLE hashed (cust text, etype text, ts timestamptz);
SELECT edp.enable_dedupe('hashed', columns => '{cust,etype}');
SELECT indexdef FROM pg_indexes WHERE tablename = 'hashed' ORDER BY 1;
INSERT INTO hashed VALUES ('c1', 'a', now()), ('c1', 'a', now()), ('c1', 'b', now()), (NULL, 'a', now()), (NULL, 'a', now());
SELECT cust, etype, count(*) FROM hashed GROUP BY 1, 2 ORDER BY 1, 2;

-- validated ingest creates the partitions a batch needs before writing it:
-- no row passes through the DEFAULT partition
CREATE TABLE pre (cust text, etype text, ts timestamptz) PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('pre', ts => 'ts', type_column => 'etype');
SELECT edp.enable_rollup('pre', key => 'cust', ts => 'ts');
BEGIN;
SELECT status, rows_in, loaded
  FROM edp.ingest_data('pre', E'cust,etype,ts\nc1,buy,2024-05-01 10:00+00\nc2,sell,2024-05-02 10:00+00\nc3,buy,2024-05-02 11:00+00\nc4,,2024-05-02 12:00+00\n');
SELECT c.relname, count(*) FROM pre p JOIN pg_class c ON c.oid = p.tableoid GROUP BY 1 ORDER BY 1;
COMMIT;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('pre');

-- COPY into a table edp partitions: rows of days and types without a
-- partition are written into partitions created for them at the end of
-- the statement, not through the DEFAULT partition; statement triggers
-- fire once; a row without a time stays in the DEFAULT partition
CREATE TABLE cp (cust text, etype text, ts timestamptz) PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('cp', ts => 'ts', type_column => 'etype');
SELECT edp.enable_rollup('cp', key => 'cust', ts => 'ts');
SELECT edp.enable_dedupe('cp', columns => '{cust,etype,ts}');
CREATE TABLE cp_fired (n bigint);
CREATE FUNCTION cp_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO cp_fired VALUES (1); RETURN NULL; END $$;
CREATE TRIGGER cp_count AFTER INSERT ON cp FOR EACH STATEMENT EXECUTE FUNCTION cp_count();
BEGIN;
COPY cp FROM STDIN (FORMAT csv);
c1,buy,2024-06-01 10:00+00
c2,sell,2024-06-02 10:00+00
c1,buy,2024-06-01 10:00+00
c3,buy,2024-06-02 11:00+00
c4,buy,
\.
SELECT c.relname, count(*) FROM cp p JOIN pg_class c ON c.oid = p.tableoid GROUP BY 1 ORDER BY 1;
COMMIT;
SELECT count(*) AS statement_trigger_fired FROM cp_fired;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('cp');
-- a second COPY: one row of a day that now exists, one of a new type of it
COPY cp FROM STDIN (FORMAT csv);
c5,buy,2024-06-01 12:00+00
c6,refund,2024-06-01 13:00+00
\.
SELECT c.relname, count(*) FROM cp p JOIN pg_class c ON c.oid = p.tableoid GROUP BY 1 ORDER BY 1;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('cp');

-- a COPY whose days have no partition yet creates them in rounds as it
-- goes (each time 1,000 rows wait for one), not once at its end: 6,000
-- rows over 40 days in time order, so that rounds follow one another;
-- duplicates two lines apart (both waiting in one round) and copies of
-- earlier keys after line 4,000 (their partition made rounds before).
-- Keep first keeps each key's first line, no row is misplaced or left in
-- the DEFAULT partition, statement triggers fire once, the rollup is exact.
\getenv abs_builddir PG_ABS_BUILDDIR
\set rounds_csv :abs_builddir '/results/copy_rounds.csv'
CREATE TABLE cr (cust text, etype text, ts timestamptz, line int) PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('cr', ts => 'ts', type_column => 'etype');
SELECT edp.enable_rollup('cr', key => 'cust', ts => 'ts');
SELECT edp.enable_dedupe('cr', columns => '{cust,etype,ts}');
CREATE TRIGGER cr_count AFTER INSERT ON cr FOR EACH STATEMENT EXECUTE FUNCTION cp_count();
CREATE TABLE cr_input (cust text, etype text, ts timestamptz, line int);
INSERT INTO cr_input
  SELECT 'c' || (k % 50), CASE WHEN k % 3 = 0 THEN 'sell' ELSE 'buy' END,
         '2024-03-01'::timestamptz + (k / 100) * interval '1 day' + (k % 100) * interval '1 minute', i
    FROM (SELECT i, CASE WHEN i > 4000 THEN (i * 7919) % 4000 + 1
                         WHEN i % 10 = 0 THEN i - 2 ELSE i END AS k
            FROM generate_series(1, 6000) i) s;
COPY (SELECT * FROM cr_input ORDER BY line) TO :'rounds_csv' (FORMAT csv);
TRUNCATE cp_fired;
COPY cr FROM :'rounds_csv' (FORMAT csv);
SELECT count(*) AS stored,
       (SELECT count(*) FROM ((SELECT cust, etype, ts, min(line) FROM cr_input GROUP BY 1, 2, 3
                               EXCEPT SELECT cust, etype, ts, line FROM cr)
                              UNION ALL (SELECT cust, etype, ts, line FROM cr
                               EXCEPT SELECT cust, etype, ts, min(line) FROM cr_input GROUP BY 1, 2, 3)) d) AS differing_rows,
       misplaced('cr') AS misplaced_rows,
       count(*) FILTER (WHERE tableoid = 'cr_default'::regclass) AS in_default,
       (SELECT count(*) FROM cp_fired) AS statement_trigger_fired,
       (SELECT count(*) FROM edp.verify_rollup('cr')) AS differing_buckets
  FROM cr;
DROP TABLE cr, cr_input;

-- MERGE fires the INSERT, UPDATE and DELETE statement triggers with their
-- transition tables: dedupe and the rollup stay right
CREATE TABLE mg (cust text, etype text, ts timestamptz, v int);
SELECT edp.enable_rollup('mg', key => 'cust', ts => 'ts');
SELECT edp.enable_dedupe('mg', columns => '{cust,etype,ts}');
INSERT INTO mg VALUES ('a', 'x', '2024-01-01 10:00+00', 1), ('b', 'x', '2024-01-01 11:00+00', 1), ('c', 'x', '2024-01-01 12:00+00', 1);
CREATE TABLE mg_src (cust text, etype text, ts timestamptz, v int);
INSERT INTO mg_src VALUES ('a', 'x', '2024-01-01 10:00+00', 2), ('d', 'x', '2024-01-02 10:00+00', 1),
                          ('d', 'x', '2024-01-02 10:00+00', 1), ('b', 'x', '2024-01-01 11:00+00', 9);
MERGE INTO mg t USING mg_src s ON t.cust = s.cust AND t.v = 1 AND s.v = 9
 WHEN MATCHED THEN DELETE
 WHEN NOT MATCHED THEN INSERT VALUES (s.cust, s.etype, s.ts, s.v);
MERGE INTO mg t USING mg_src s ON t.cust = s.cust AND s.cust = 'a'
 WHEN MATCHED THEN UPDATE SET ts = t.ts + interval '5 hours';
SELECT cust, etype, ts, v FROM mg ORDER BY 1, 4;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('mg');

-- many candidates against a much larger table are probed one by one
-- through the index (not a hash join that reads the whole table): keep
-- first and keep latest give the same rows as a plain-SQL answer
CREATE TABLE big (cust text, etype text, ts timestamptz);
SELECT edp.enable_rollup('big', key => 'cust', ts => 'ts');
SELECT edp.enable_dedupe('big', columns => '{cust,etype,ts}');
INSERT INTO big SELECT 'c' || (g % 1000), 'e' || (g % 3), '2024-01-01'::timestamptz + g * interval '1 second'
  FROM generate_series(1, 400000) g;
ANALYZE big;
INSERT INTO big SELECT 'c' || (g % 1000), 'e' || (g % 3), '2024-01-01'::timestamptz + g * interval '1 second'
  FROM generate_series(390001, 405000) g ORDER BY g % 7, g;
SELECT count(*) AS stored, count(DISTINCT (cust, etype, ts)) AS distinct_rows FROM big;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('big');
CREATE TABLE big_latest (event_id int, v int, ts timestamptz);
SELECT edp.enable_dedupe('big_latest', columns => '{event_id}', keep => 'latest', order_by => 'ts');
INSERT INTO big_latest SELECT g, 1, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 400000) g;
ANALYZE big_latest;
-- 15000 versions: the even ones newer (they win), the odd ones older (they lose)
INSERT INTO big_latest SELECT g, 2, '2024-01-01'::timestamptz + g * interval '1 second'
                                     + CASE WHEN g % 2 = 0 THEN interval '1 day' ELSE interval '-1 day' END
  FROM generate_series(385001, 400000) g ORDER BY g % 5, g;
SELECT count(*) AS stored, count(DISTINCT event_id) AS ids,
       count(*) FILTER (WHERE v = 2) AS newer_kept,
       count(*) FILTER (WHERE v = 2 AND event_id % 2 = 1) AS older_kept
  FROM big_latest;
DROP TABLE big, big_latest;

-- 4. copies of one event inside one statement that land in different
--    partitions (oracle seed 100: a copy without a time in the DEFAULT
--    partition; here also copies of another day and of another type, whose
--    partitions are older than the first copy's): the copy the rule picks
--    by arrival survives, not the one of the oldest partition.  Every write
--    path, keep first (on the event id; and on the id and time with a
--    rollup, whose candidates are found in C), keep latest (ties: the
--    earlier copy), each against the plain-SQL answer over the input in
--    file order
\set arrivals :abs_srcdir '/test/data/dedupe-arrival.csv'
CREATE TABLE arrival_input (line serial, eid int, etype text, ts timestamptz, note text);
COPY arrival_input (eid, etype, ts, note) FROM :'arrivals' (FORMAT csv, HEADER);
CREATE FUNCTION arrival_table(tbl text, keep text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (eid int, etype text, ts timestamptz, note text) PARTITION BY RANGE (ts)', tbl);
    PERFORM edp.enable_partitioning(tbl::regclass, ts => 'ts', period => 'day', type_column => 'etype');
    IF keep = 'first' THEN
        PERFORM edp.enable_dedupe(tbl::regclass, columns => '{eid}');
    ELSIF keep = 'rollup' THEN
        PERFORM edp.enable_rollup(tbl::regclass, key => 'eid', ts => 'ts');
        PERFORM edp.enable_dedupe(tbl::regclass, columns => '{eid,ts}');
    ELSE
        PERFORM edp.enable_dedupe(tbl::regclass, columns => '{eid}', keep => 'latest', order_by => 'ts');
    END IF;
    -- the (day, type) partition of most later copies exists before the load
    EXECUTE format('INSERT INTO %I VALUES (0, %L, %L, %L)', tbl, 'buy', '2024-03-02 00:00+00', 'older');
END $$;
-- and, made after it, one of a first copy
CREATE FUNCTION arrival_seed(tbl text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I VALUES (-1, %L, %L, %L)', tbl, 'sell', '2024-03-02 00:00+00', 'older');
END $$;
-- the input as one multi-row INSERT ... VALUES, rows in file order
CREATE FUNCTION arrival_values(tbl text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I (eid, etype, ts, note) VALUES %s', tbl,
                   (SELECT string_agg(format('(%s, %L, %L::timestamptz, %L)', eid, etype, ts, note), ', ' ORDER BY line)
                      FROM arrival_input));
END $$;
-- the stored rows that differ from the rule's answer (plain SQL), both ways
CREATE FUNCTION arrival_wrong(tbl text, keep text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format($q$
        WITH want AS ((SELECT DISTINCT ON (eid, CASE WHEN %1$L = 'rollup' THEN ts END) eid, etype, ts, note
                         FROM arrival_input
                        ORDER BY eid, CASE WHEN %1$L = 'rollup' THEN ts END,
                                 CASE WHEN %1$L = 'latest' THEN ts END DESC NULLS LAST, line)
                      UNION ALL VALUES (0, 'buy', '2024-03-02 00:00+00'::timestamptz, 'older'),
                                       (-1, 'sell', '2024-03-02 00:00+00', 'older')),
             got AS (SELECT eid, etype, ts, note FROM %2$I)
        SELECT count(*) FROM ((TABLE want EXCEPT ALL TABLE got) UNION ALL (TABLE got EXCEPT ALL TABLE want)) d$q$, keep, tbl)
      INTO n;
    RETURN n;
END $$;
SELECT count(arrival_table(format('arr_%s_%s', p, k), k)) AS tables
  FROM unnest('{values,select,copy,copy_client,copy_pg,ingest,ingest_data,ingest_batches}'::text[]) p,
       unnest('{first,latest,rollup}'::text[]) k;
SELECT count(arrival_seed(c.relname::text)) AS tables FROM pg_class c
 WHERE c.relname ~ '^arr_[a-z_]+_(first|latest|rollup)$' AND c.relkind = 'p';
SELECT arrival_values('arr_values_first'), arrival_values('arr_values_latest'), arrival_values('arr_values_rollup');
INSERT INTO arr_select_first (eid, etype, ts, note) SELECT eid, etype, ts, note FROM arrival_input ORDER BY line;
INSERT INTO arr_select_latest (eid, etype, ts, note) SELECT eid, etype, ts, note FROM arrival_input ORDER BY line;
INSERT INTO arr_select_rollup (eid, etype, ts, note) SELECT eid, etype, ts, note FROM arrival_input ORDER BY line;
COPY arr_copy_first FROM :'arrivals' (FORMAT csv, HEADER);
COPY arr_copy_latest FROM :'arrivals' (FORMAT csv, HEADER);
COPY arr_copy_rollup FROM :'arrivals' (FORMAT csv, HEADER);
\copy arr_copy_client_first from program 'cat "$PG_ABS_SRCDIR/test/data/dedupe-arrival.csv"' with (format csv, header)
\copy arr_copy_client_latest from program 'cat "$PG_ABS_SRCDIR/test/data/dedupe-arrival.csv"' with (format csv, header)
\copy arr_copy_client_rollup from program 'cat "$PG_ABS_SRCDIR/test/data/dedupe-arrival.csv"' with (format csv, header)
-- COPY ... WHERE is PostgreSQL's own COPY path (the statement trigger's transition table)
COPY arr_copy_pg_first FROM :'arrivals' (FORMAT csv, HEADER) WHERE true;
COPY arr_copy_pg_latest FROM :'arrivals' (FORMAT csv, HEADER) WHERE true;
COPY arr_copy_pg_rollup FROM :'arrivals' (FORMAT csv, HEADER) WHERE true;
SELECT k AS keep, i.status, i.loaded, i.duplicates
  FROM unnest('{first,latest,rollup}'::text[]) k, edp.ingest(format('arr_ingest_%s', k)::regclass, :'arrivals', force => true) i;
SELECT k AS keep, i.status, i.loaded, i.duplicates
  FROM unnest('{first,latest,rollup}'::text[]) k,
       edp.ingest_data(format('arr_ingest_data_%s', k)::regclass, pg_read_file(:'arrivals'), force => true) i;
-- batches of two rows: copies in different batches (statements) of one load
SELECT k AS keep, i.status, i.loaded, i.duplicates
  FROM unnest('{first,latest,rollup}'::text[]) k,
       edp.ingest_data(format('arr_ingest_batches_%s', k)::regclass, pg_read_file(:'arrivals'), force => true, batch_size => 2) i;
SELECT p AS path, arrival_wrong(format('arr_%s_first', p), 'first') AS wrong_keep_first,
       arrival_wrong(format('arr_%s_latest', p), 'latest') AS wrong_keep_latest,
       arrival_wrong(format('arr_%s_rollup', p), 'rollup') AS wrong_keep_first_rollup,
       (SELECT count(*) FROM edp.verify_rollup(format('arr_%s_rollup', p)::regclass)) AS differing_buckets
  FROM unnest('{values,select,copy,copy_client,copy_pg,ingest,ingest_data,ingest_batches}'::text[]) WITH ORDINALITY u(p, o)
 ORDER BY o;
-- the rows kept by one of them, and where they are
SELECT tableoid::regclass AS partition, eid, etype, ts, note FROM arr_copy_first ORDER BY eid;

-- Fingerprints past their memory limit are sorted on disk (buckets/fingerprints.c): with
-- work_mem 64kB and maintenance_work_mem 1MB about 65,000 fit, and 88,000 rows hold
-- 8,000 copies of earlier rows. Keep first keeps each key's first arrival, as in memory,
-- through the trigger (INSERT ... SELECT) and through the loader (ingest_data).
CREATE TABLE fp_input AS
SELECT row_number() OVER (ORDER BY o, n) AS arrival, customer_id, event_type, transaction_id, ts,
       CASE WHEN o = 1 THEN 'first' ELSE 'again' END AS note
  FROM (SELECT row_number() OVER () AS n, customer_id, event_type, transaction_id, event_ts AS ts
          FROM edp.generate_events(80000, seed => 7)) g,
       LATERAL (SELECT 1 AS o UNION ALL SELECT 2 WHERE g.n % 10 = 0) c;
CREATE TABLE fp_want AS
SELECT DISTINCT ON (customer_id, event_type, transaction_id, ts) customer_id, event_type, transaction_id, ts, note
  FROM fp_input ORDER BY customer_id, event_type, transaction_id, ts, arrival;
SELECT count(*) AS input_rows, (SELECT count(*) FROM fp_want) AS distinct_keys FROM fp_input;
CREATE TABLE fp_trigger (customer_id bigint, event_type text, transaction_id uuid, ts timestamptz, note text);
CREATE TABLE fp_loader (LIKE fp_trigger);
SELECT t, edp.enable_rollup(t, key => 'customer_id', ts => 'ts') IS NOT NULL AS rollup,
       edp.enable_dedupe(t, columns => '{customer_id,event_type,transaction_id,ts}') IS NOT NULL AS dedupe
  FROM unnest('{fp_trigger,fp_loader}'::regclass[]) t;
SET work_mem = '64kB';
SET maintenance_work_mem = '1MB';
INSERT INTO fp_trigger SELECT customer_id, event_type, transaction_id, ts, note FROM fp_input ORDER BY arrival;
SELECT status, loaded, duplicates
  FROM edp.ingest_data('fp_loader',
                       (SELECT string_agg(concat_ws(',', customer_id, event_type, transaction_id, ts, note), E'\n' ORDER BY arrival)
                          FROM fp_input), header => false, format => 'csv');
RESET work_mem;
RESET maintenance_work_mem;
SELECT t AS tbl,
       (SELECT count(*) FROM ((SELECT * FROM fp_want EXCEPT ALL SELECT * FROM fp_trigger)
                              UNION ALL (SELECT * FROM fp_trigger EXCEPT ALL SELECT * FROM fp_want)) d) AS wrong_trigger,
       (SELECT count(*) FROM ((SELECT * FROM fp_want EXCEPT ALL SELECT * FROM fp_loader)
                              UNION ALL (SELECT * FROM fp_loader EXCEPT ALL SELECT * FROM fp_want)) d) AS wrong_loader,
       (SELECT count(*) FROM edp.verify_rollup(t)) AS differing_buckets
  FROM unnest('{fp_trigger}'::regclass[]) t;
SELECT (SELECT count(*) FROM edp.verify_rollup('fp_loader')) AS loader_differing_buckets;
