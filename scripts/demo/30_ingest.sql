-- validated ingest: a background job, its notifications, its quarantined rows
\pset footer off
SET client_min_messages = warning;
DROP TABLE IF EXISTS demo_readings;
RESET client_min_messages;
CREATE TABLE demo_readings (
    sensor   text NOT NULL,
    reading  integer CHECK (reading >= 0),
    taken_at timestamptz NOT NULL
);
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
