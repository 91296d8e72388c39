-- copy_quarantine: COPY ... FROM ... WITH (ON_ERROR 'quarantine' | 'ignore' | 'stop',
-- REJECT_LIMIT, LOG_VERBOSITY, FORMAT jsonl) through the validated-ingest engine
\getenv abs_srcdir PG_ABS_SRCDIR
\set events :abs_srcdir '/test/data/customer_events.csv'
\set VERBOSITY terse

CREATE TABLE cq (id integer PRIMARY KEY, name text NOT NULL, ts timestamptz, note text DEFAULT 'd');

-- csv with a header: bad values, a NOT NULL, a duplicate key are quarantined, the rest loads
COPY cq (id, name, ts) FROM STDIN WITH (FORMAT csv, HEADER, ON_ERROR 'quarantine', REJECT_LIMIT 1000);
id,name,ts
1,a,2024-01-01 00:00:00+00
2,b,notadate
x,c,2024-01-02 00:00:00+00
4,,2024-01-03 00:00:00+00
5,e,2024-01-04 00:00:00+00
1,again,2024-01-05 00:00:00+00
\.
SELECT id, name, ts AT TIME ZONE 'UTC' AS ts_utc, note FROM cq ORDER BY id;
SELECT j.status, j.source, j.format, j.rows_in, j.loaded, j.rejected, j.duplicates, j.error,
       j.size, length(j.checksum) AS checksum_hex_digits
  FROM edp.jobs j WHERE j.target = 'cq'::regclass ORDER BY j.id DESC LIMIT 1;
SELECT r.line, r.column_name, r.sqlstate, r.message, r.raw_line
  FROM edp.rejects r WHERE r.job_id = (SELECT max(id) FROM edp.jobs WHERE target = 'cq'::regclass)
 ORDER BY r.line;

-- COPY's default format (text: tabs, \N) and a column list
COPY cq (id, name) FROM STDIN WITH (ON_ERROR quarantine);
10	ten
11	\N
twelve	x
\.
SELECT id, name, note FROM cq WHERE id >= 10 ORDER BY id;

-- HEADER skips the first line whatever it says; HEADER MATCH matches it by normalised name
COPY cq FROM STDIN WITH (FORMAT csv, HEADER true, ON_ERROR quarantine);
whatever,it,says,here
20,twenty,,n
\.
COPY cq FROM STDIN WITH (FORMAT csv, HEADER match, ON_ERROR quarantine);
 Name ,ID
twenty-one,21
\.
SELECT id, name, note FROM cq WHERE id BETWEEN 20 AND 29 ORDER BY id;
-- a header that looks like data: the error's hint says so
\set VERBOSITY default
COPY cq FROM STDIN WITH (FORMAT csv, HEADER match, ON_ERROR quarantine);
30,thirty,,n
\.
SELECT edp.ingest_data('cq', E'31,x,,n\n');
\set VERBOSITY terse

-- JSON lines: keys name the columns; a bad value, bad JSON, an unknown key are rejected
COPY cq FROM STDIN WITH (FORMAT jsonl, ON_ERROR quarantine);
{"id": 40, "name": "forty", "ts": "2024-02-01 00:00:00+00"}
{"id": "no", "name": "x"}
not json
{"id": 42, "name": "y", "colour": "red"}
\.
SELECT id, name, note FROM cq WHERE id >= 40 ORDER BY id;
SELECT r.line, r.column_name, r.sqlstate FROM edp.rejects r
 WHERE r.job_id = (SELECT max(id) FROM edp.jobs WHERE target = 'cq'::regclass) ORDER BY r.line;

-- ON_ERROR ignore counts the rejects but keeps none; LOG_VERBOSITY verbose names each one
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR ignore, LOG_VERBOSITY verbose);
50,fifty,,n
bad,x,,n
\.
SELECT j.loaded, j.rejected, (SELECT count(*) FROM edp.rejects r WHERE r.job_id = j.id) AS kept
  FROM edp.jobs j WHERE j.target = 'cq'::regclass ORDER BY j.id DESC LIMIT 1;
-- LOG_VERBOSITY silent: no NOTICE
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine, LOG_VERBOSITY silent);
51,fifty-one,,n
\.

-- a load that loaded nothing while it rejected: a WARNING, and its job says so
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine);
1,duplicate key,,n
nope,x,,n
\.
SELECT status, loaded, rejected, error FROM edp.jobs WHERE target = 'cq'::regclass ORDER BY id DESC LIMIT 1;

-- REJECT_LIMIT: more rejects than the limit fail the statement; nothing of it stays
\set VERBOSITY sqlstate
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine, REJECT_LIMIT 1);
60,sixty,,n
a,x,,n
b,x,,n
\.
\set VERBOSITY terse
SELECT count(*) AS rows_60 FROM cq WHERE id = 60;

-- ON_ERROR stop is PostgreSQL's COPY: the first bad row fails it, with COPY's own error
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR stop);
70,seventy,,n
bad,x,,n
\.
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR 'stop', LOG_VERBOSITY 'default');
71,seventy-one,,n
\.
SELECT id FROM cq WHERE id >= 70 ORDER BY id;

-- dedupe through COPY: copies are counted as duplicates, not loaded
CREATE TABLE cq_events (customer_id text, event_type text, transaction_id uuid, ts timestamptz);
SELECT edp.enable_dedupe('cq_events', columns => '{customer_id,ts,event_type,transaction_id}');
COPY cq_events FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine);
c1,login,00000000-0000-0000-0000-000000000001,2024-01-01 10:00:00+00
c1,login,00000000-0000-0000-0000-000000000001,2024-01-01 10:00:00+00
c1,logout,not-a-uuid,2024-01-01 11:00:00+00
c2,login,00000000-0000-0000-0000-000000000002,2024-01-01 12:00:00+00
\.
SELECT count(*) FROM cq_events;
SELECT loaded, rejected, duplicates FROM edp.jobs WHERE target = 'cq_events'::regclass ORDER BY id DESC LIMIT 1;

-- a server file, under COPY's rule (superusers, pg_read_server_files)
CREATE TABLE cq_file (event_id integer PRIMARY KEY, customer_id text NOT NULL CHECK (customer_id <> ''),
                      event_type text NOT NULL, amount integer CHECK (amount >= 0),
                      recorded_at timestamptz NOT NULL, note text DEFAULT 'from file');
COPY cq_file FROM :'events' WITH (FORMAT csv, HEADER match, ON_ERROR quarantine);
SELECT j.source = :'events' AS source_is_path, j.rows_in, j.loaded, j.rejected, j.skipped_empty,
       j.rows_in = j.loaded + j.rejected + j.duplicates + j.skipped_empty AS counts_add_up
  FROM edp.jobs j WHERE j.target = 'cq_file'::regclass;
-- the same counts as edp.ingest of the same file
TRUNCATE cq_file;
SELECT rows_in, loaded, rejected, skipped_empty FROM edp.ingest('cq_file', :'events', force => true);

-- privileges: INSERT on the table is enough for STDIN; a server file needs COPY's right
CREATE ROLE regress_edp_copier;
GRANT INSERT ON cq TO regress_edp_copier;
SET ROLE regress_edp_copier;
COPY cq (id, name) FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine);
80,eighty
\.
COPY cq (id, name) FROM :'events' WITH (FORMAT csv, ON_ERROR quarantine);
COPY cq_file FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine);
\.
RESET ROLE;
SELECT id, name FROM cq WHERE id = 80;
SELECT owner::text, loaded FROM edp.jobs WHERE target = 'cq'::regclass ORDER BY id DESC LIMIT 1;

-- option errors (psql skips the data of a COPY that fails before it starts, up to \.)
COPY cq FROM STDIN WITH (ON_ERROR 'skip');
\.
COPY cq FROM STDIN WITH (ON_ERROR quarantine, LOG_VERBOSITY 'loud');
\.
COPY cq FROM STDIN WITH (ON_ERROR quarantine, REJECT_LIMIT 0);
\.
COPY cq FROM STDIN WITH (REJECT_LIMIT 5);
\.
COPY cq FROM STDIN WITH (ON_ERROR quarantine, ON_ERROR ignore);
\.
COPY cq FROM STDIN WITH (FORMAT binary, ON_ERROR quarantine);
\.
COPY cq FROM STDIN WITH (FORMAT jsonl, HEADER);
\.
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine, FREEZE);
\.
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine) WHERE id > 1;
\.
COPY cq FROM PROGRAM 'cat' WITH (FORMAT csv, ON_ERROR quarantine);
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine, DELIMITER ';;');
\.
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine, QUOTE 'xx');
\.
COPY cq FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine, ENCODING 'no-such');
\.
-- a COPY without edp's options is PostgreSQL's, untouched
COPY cq FROM STDIN WITH (FORMAT csv, BOGUS 1);
\.
COPY cq FROM STDIN WITH (FORMAT csv, HEADER 'maybe');
\.
COPY cq (id, name) FROM STDIN WITH (FORMAT csv);
90,ninety
\.
SELECT id, name, note FROM cq WHERE id = 90;

DROP TABLE cq, cq_events, cq_file;
DROP ROLE regress_edp_copier;
DELETE FROM edp.jobs;
