-- ingest: validated ingest of CSV and JSON lines with row-level quarantine
\getenv abs_srcdir PG_ABS_SRCDIR
\set students :abs_srcdir '/test/data/students.csv'
\set events :abs_srcdir '/test/data/customer_events.csv'
\set pipe :abs_srcdir '/test/data/pipe.txt'
\set tab :abs_srcdir '/test/data/tab.txt'
\set plain :abs_srcdir '/test/data/plain.csv'
\set unknown :abs_srcdir '/test/data/unknown_column.csv'
\set missing :abs_srcdir '/test/data/missing_required.csv'
\set accounts :abs_srcdir '/test/data/account_events.jsonl'

-- semicolons, mixed-case header, quoted numbers, trailing empty lines: zero rejects
CREATE TABLE ing_students (school varchar(10), sex varchar(1), age integer, pstatus varchar(10),
                           medu integer, mjob varchar(50), g1 integer, g2 integer, g3 integer);
SELECT status, format, rows_in, loaded, rejected, duplicates, skipped_empty,
       rows_in = loaded + rejected + duplicates + skipped_empty AS counts_add_up,
       length(checksum) AS checksum_hex_digits, size, error
  FROM edp.ingest('ing_students', :'students');
SELECT * FROM ing_students ORDER BY g3, age;

-- the same file again is detected and skipped, unless forced
SELECT status, rows_in, loaded, error FROM edp.ingest('ing_students', :'students');
SELECT status, rows_in, loaded FROM edp.ingest('ing_students', :'students', force => true);
SELECT count(*) FROM ing_students;

-- every kind of bad row is quarantined with its SQLSTATE and line; the rest load
CREATE TABLE ing_events (
    event_id    integer PRIMARY KEY,
    customer_id text NOT NULL CHECK (customer_id <> ''),
    event_type  text NOT NULL,
    amount      integer CHECK (amount >= 0),
    recorded_at timestamptz NOT NULL,
    note        text DEFAULT 'from file'
);
SELECT status, rows_in, loaded, rejected, duplicates, skipped_empty,
       rows_in = loaded + rejected + duplicates + skipped_empty AS counts_add_up
  FROM edp.ingest('ing_events', :'events') \gset job_
SELECT :job_rows_in AS rows_in, :job_loaded AS loaded, :job_rejected AS rejected,
       :job_skipped_empty AS skipped_empty, :'job_counts_add_up' AS counts_add_up;
SELECT event_id, customer_id, amount, recorded_at AT TIME ZONE 'UTC' AS recorded_utc, note
  FROM ing_events ORDER BY event_id;
SELECT r.line, r.sqlstate, r.column_name, r.message, r.raw_line
  FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id
 WHERE j.target = 'ing_events'::regclass ORDER BY r.line;

-- delimiter detection: pipe and tab; quoted fields keep their delimiters
CREATE TABLE ing_small (id integer, name text, score integer);
SELECT status, loaded, rejected FROM edp.ingest('ing_small', :'pipe');
SELECT status, loaded, rejected FROM edp.ingest('ing_small', :'tab');
SELECT status, loaded, rejected FROM edp.ingest('ing_small', :'plain', delimiter => ',');
SELECT * FROM ing_small ORDER BY id, name;

-- without a header, fields map to the table's columns in order
SELECT status, loaded FROM edp.ingest_data('ing_small', E'7,g,70\n8,h,80\n', header => false);
SELECT * FROM ing_small WHERE id > 6 ORDER BY id;
-- a UTF-8 byte order mark before the header (spreadsheet exports) is ignored
SELECT status, loaded FROM edp.ingest_data('ing_small', '\xefbbbf49642c53636f72650a392c39300a'::bytea);
SELECT * FROM ing_small WHERE id = 9;

-- header and NOT NULL problems are errors before any row loads
CREATE TABLE ing_required (id integer NOT NULL, name text);
SELECT status FROM edp.ingest('ing_small', :'unknown'); -- ERROR
SELECT status FROM edp.ingest('ing_required', :'missing'); -- ERROR
SELECT status FROM edp.ingest_data('ing_small', E'id,ID\n1,2\n'); -- ERROR
SELECT count(*) FROM ing_required;
-- a quoted field left open swallows the rest of the input: one reject, the
-- record from its start to the end of the input, at the input's last line
BEGIN;
SELECT status, rows_in, loaded, rejected FROM edp.ingest_data('ing_small', E'id,name,score\n1,a,1\n2,"unterminated,2\n3,c,3');
SELECT r.line, r.sqlstate, r.message, r.raw_line FROM edp.rejects r
 WHERE r.job_id = (SELECT max(id) FROM edp.jobs);
ROLLBACK;
-- LF and CRLF lines may mix, and a bare carriage return outside quotes (where
-- PostgreSQL's COPY stops) is data of its field
BEGIN;
SELECT status, rows_in, loaded, rejected FROM edp.ingest_data('ing_small', E'id,name,score\r\n101,a,1\n102,b\rb,2\r\n103,,\r\n104,"",4\r\n');
SELECT id, replace(name, E'\r', '<CR>') AS name, name IS NULL AS name_null, score FROM ing_small WHERE id > 100 ORDER BY id;
ROLLBACK;

-- bad options
SELECT status FROM edp.ingest('ing_small', :'plain', format => 'xml'); -- ERROR
SELECT status FROM edp.ingest('ing_small', :'plain', delimiter => ';;'); -- ERROR
SELECT status FROM edp.ingest('ing_small', :'plain', reject_percent => 150); -- ERROR
SELECT status FROM edp.ingest('ing_small', '/nonexistent/file.csv'); -- ERROR
SELECT status FROM edp.ingest('edp.job_events_id_seq', :'plain'); -- ERROR

-- reject limits abort a job whose input is garbage (nothing of it stays in
-- the table; its job and rejects are kept as a failed job, see ingest_reject_abort)
\set VERBOSITY sqlstate
SELECT status FROM edp.ingest('ing_events', :'events', reject_limit => 3, force => true); -- ERROR
SELECT status FROM edp.ingest_data('ing_small', E'id,name,score\nx,a,1\n9,b,2\n', reject_percent => 40); -- ERROR
\set VERBOSITY default
SELECT j.target, j.status, j.rows_in, j.loaded, j.rejected,
       (SELECT count(*) FROM edp.rejects r WHERE r.job_id = j.id) AS kept_rejects
  FROM edp.jobs j WHERE j.options ? 'rolled_back' ORDER BY j.id;
DELETE FROM edp.jobs WHERE options ? 'rolled_back';
SELECT status, loaded, rejected
  FROM edp.ingest_data('ing_small', E'id,name,score\nx,a,1\n9,b,2\n', reject_limit => 1);

-- small batches: a failing batch is narrowed down to its bad rows
CREATE TABLE ing_batches (id integer PRIMARY KEY, v integer CHECK (v <> 13));
SELECT status, rows_in, loaded, rejected
  FROM edp.ingest_data('ing_batches',
         (SELECT 'id,v' || E'\n' || string_agg(g || ',' || CASE WHEN g % 10 = 7 THEN 'bad' WHEN g = 20 THEN '13' ELSE g::text END
                                        || E'\n', '' ORDER BY g)
            FROM generate_series(1, 50) g),
         batch_size => 8);
SELECT count(*), sum(id) FROM ing_batches;
SELECT line, sqlstate, column_name FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id
 WHERE j.target = 'ing_batches'::regclass ORDER BY line;

-- JSON lines: nested objects flattened, "from" is just a key, arrays stay JSON
CREATE TABLE ing_accounts (
    event_id uuid NOT NULL, "timestamp" timestamp NOT NULL, domain text, event_type text,
    data_id bigint, data_to bigint, data_from bigint, data_amount numeric,
    data_old_status text, data_new_status text, data_reason text, tags jsonb
);
SELECT status, format, rows_in, loaded, rejected, skipped_empty FROM edp.ingest('ing_accounts', :'accounts');
SELECT event_id, "timestamp", event_type, data_id, data_from, data_amount, data_new_status, data_reason, tags
  FROM ing_accounts ORDER BY "timestamp";
SELECT r.line, r.sqlstate, r.column_name, r.message FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id
 WHERE j.target = 'ing_accounts'::regclass ORDER BY r.line;

-- edp's features stay in force: a flattening event table, and partition routing
CREATE TABLE ing_flat (id int, metric_one int, metric_two int, event_metrics jsonb);
SELECT edp.enable_flattening('ing_flat', source => 'event_metrics', path => '{metrics}', exclude => '{id}');
SELECT status, loaded, rejected
  FROM edp.ingest_data('ing_flat', E'id\tevent_metrics\n1\t"{""metrics"": {""metric_one"": 5, ""other"": 1}}"\n2\t\n3\tnot json\n');
SELECT * FROM ing_flat ORDER BY id;
CREATE TABLE ing_part (day date NOT NULL, v int) PARTITION BY RANGE (day);
CREATE TABLE ing_part_jan PARTITION OF ing_part FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE ing_part_feb PARTITION OF ing_part FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
SELECT status, loaded, rejected FROM edp.ingest_data('ing_part', E'day,v\n2024-01-05,1\n2024-02-05,2\n2024-03-05,3\n2024-01-06,4\n');
SELECT tableoid::regclass AS partition, * FROM ing_part ORDER BY day;
SELECT r.line, r.sqlstate, r.message FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id
 WHERE j.target IN ('ing_flat'::regclass, 'ing_part'::regclass) ORDER BY j.id, r.line;

-- rows a BEFORE trigger drops (as edp's dedupe does) count as duplicates, not rejects
CREATE TABLE ing_dedupe (id int, v text);
CREATE FUNCTION ing_dedupe_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ing_dedupe WHERE id = NEW.id) THEN RETURN NULL; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ing_dedupe_drop BEFORE INSERT ON ing_dedupe FOR EACH ROW EXECUTE FUNCTION ing_dedupe_drop();
SELECT status, rows_in, loaded, rejected, duplicates, skipped_empty,
       rows_in = loaded + rejected + duplicates + skipped_empty AS counts_add_up
  FROM edp.ingest_data('ing_dedupe', E'id,v\n1,a\n2,b\n1,a again\n\nx,bad\n2,b again\n3,c\n');
SELECT * FROM ing_dedupe ORDER BY id;

-- the ledger: one event per status change, payloads carry ids, status and counts only
SELECT e.event, e.payload - 'event_id' - 'job_id' AS payload
  FROM edp.job_events e JOIN edp.jobs j ON j.id = e.job_id
 WHERE j.target = 'ing_events'::regclass ORDER BY e.id;
SELECT count(*) > 0 AS catch_up_works FROM edp.job_events_since(0);

DROP TABLE ing_students, ing_events, ing_small, ing_required, ing_batches, ing_accounts, ing_flat, ing_part, ing_dedupe;
DROP FUNCTION ing_dedupe_drop();
DELETE FROM edp.jobs;
