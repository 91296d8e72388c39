-- validated ingest: quarantine on \copy, a background job, its notifications, its quarantined rows
\pset footer off
SET client_min_messages = warning;
DROP TABLE IF EXISTS demo_readings;
RESET client_min_messages;
CREATE TABLE demo_readings (
    sensor   text NOT NULL,
    reading  integer CHECK (reading >= 0),
    taken_at timestamptz NOT NULL
);
-- a malformed client file (every 40th event lacks its timestamp, every 97th has a bad
-- uuid): plain \copy would stop at the first bad line and load nothing; with ON_ERROR
-- 'quarantine' the good rows load and the bad ones wait in edp.rejects
SET client_min_messages = warning;
DROP TABLE IF EXISTS demo_malformed;
RESET client_min_messages;
CREATE TABLE demo_malformed (customer_id text, event_type text, transaction_id uuid, ts timestamptz NOT NULL);
\copy (SELECT md5((g % 50)::text), 'INGEST', CASE WHEN g % 97 = 0 THEN 'not-a-uuid' ELSE md5(g::text) END, CASE WHEN g % 40 = 0 THEN NULL ELSE timestamptz '2021-03-01 00:00+00' + g * interval '17 seconds' END FROM generate_series(1, 2000) g) to 'customer-events-malformed.csv' with (format csv)
-- the COPY's NOTICE summary is the job row shown next
SET client_min_messages = warning;
\copy demo_malformed from 'customer-events-malformed.csv' with (format csv, on_error 'quarantine', reject_limit 1000)
RESET client_min_messages;
SELECT id, status, rows_in, loaded, rejected FROM edp.jobs
 WHERE id = (SELECT max(id) FROM edp.jobs WHERE target = 'demo_malformed'::regclass);
SELECT line, sqlstate, column_name, message FROM edp.rejects
 WHERE job_id = (SELECT max(id) FROM edp.jobs WHERE target = 'demo_malformed'::regclass) ORDER BY line LIMIT 3;

-- a semicolon-separated file with a mixed-case header, quoted numbers, empty lines and
-- a bad row every 1000 lines (written by the server, as a producer would drop it)
\set file :demo_dir '/readings.csv'
COPY (SELECT 's' || g % 7 AS "Sensor", CASE WHEN g % 1000 = 500 THEN 'n/a' ELSE (g % 90)::text END AS "Reading",
             timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' AS "Taken-At"
        FROM generate_series(1, 10000) g)
  TO :'file' (FORMAT csv, HEADER, DELIMITER ';', FORCE_QUOTE ("Reading"));

LISTEN edp_ingest;
SELECT edp.ingest_async('demo_readings', :'file', batch_size => 2500) AS job \gset
-- the worker commits and notifies after every batch; wait for the end
DO $$
BEGIN
    WHILE (SELECT status FROM edp.jobs WHERE id = (SELECT max(id) FROM edp.jobs)) IN ('queued', 'running') LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT id, status, format, rows_in, loaded, rejected, duplicates, skipped_empty,
       finished_at - started_at AS took
  FROM edp.jobs WHERE id = :job;
SELECT event, payload FROM edp.job_events_since(0) WHERE job_id = :job ORDER BY id;
SELECT line, sqlstate, column_name, message, raw_line FROM edp.rejects WHERE job_id = :job ORDER BY line LIMIT 3;
-- the same file again is recognised (SHA-256 and size) and skipped
SELECT status, error FROM edp.ingest('demo_readings', :'file');
UNLISTEN edp_ingest;
