-- a watched inbox: a file renamed into a directory is loaded by the launcher, with its notifications
\pset footer off
-- psql runs in the demo directory (see demo.sh): the inbox is demo_dir/inbox, made by
-- the OS user that runs both psql and the server
\set inbox :demo_dir '/inbox'
\echo '$ mkdir inbox'
\! mkdir inbox
SELECT edp.watch_inbox(:'inbox', 'demo_readings', options => '{"header": true}');

-- the demo waits for a file's job on a condition (never a fixed sleep): the job of NAME
-- in INBOX has ended and the file is in done/ (its worker moves it after the job's
-- commit), or its reason is in failed/ (written before the failed job commits)
CREATE FUNCTION pg_temp.wait_for_inbox_file(inbox text, name text, timeout interval)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + timeout;
    st text;
BEGIN
    LOOP
        SELECT j.status INTO st FROM edp.jobs j
         WHERE j.options ->> 'inbox' = inbox AND j.source LIKE '%/processing/%/' || name
         ORDER BY j.id DESC LIMIT 1;
        IF st NOT IN ('queued', 'running') AND
           (EXISTS (SELECT FROM pg_ls_dir(inbox || '/done', true, false) f WHERE f = name) OR
            EXISTS (SELECT FROM pg_ls_dir(inbox || '/failed', true, false) f WHERE f = name || '.reason')) THEN
            RETURN st;
        END IF;
        IF clock_timestamp() > deadline THEN
            RAISE EXCEPTION 'inbox file "%" was not loaded within %', name, timeout
                USING HINT = 'See edp.inbox_status and the server log.';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;

LISTEN edp_ingest;
\echo 'a producer writes 500 readings (one negative, which the table''s CHECK rejects) under a temporary name ...'
\copy (SELECT 's' || g % 3 AS sensor, CASE WHEN g = 250 THEN -1 ELSE g % 90 END AS reading, timestamptz '2024-02-01 00:00+00' + g * interval '1 minute' AS taken_at FROM generate_series(1, 500) g) to 'inbox/readings-0201.csv.tmp' with (format csv, header)
\echo '... and renames it into the inbox (the launcher ignores *.tmp, *.part and dot files, and takes a file once it stopped changing):'
\echo '$ mv inbox/readings-0201.csv.tmp inbox/readings-0201.csv'
\! mv inbox/readings-0201.csv.tmp inbox/readings-0201.csv
\echo 'waiting for its job; the notifications it sent on edp_ingest follow the result:'
SELECT pg_temp.wait_for_inbox_file(:'inbox', 'readings-0201.csv', '60 s') AS status;
SELECT id AS job, status, source, rows_in, loaded, rejected
  FROM edp.jobs WHERE options ->> 'inbox' = :'inbox' ORDER BY id;
SELECT max(id) AS job FROM edp.jobs WHERE options ->> 'inbox' = :'inbox' \gset
\echo 'a listener that was away catches up on the same events from the last event id it saw:'
SELECT id AS event_id, job_id, event, payload ->> 'loaded' AS loaded
  FROM edp.job_events_since((SELECT min(id) - 1 FROM edp.job_events WHERE job_id = :job)) ORDER BY id;
SELECT line, sqlstate, message FROM edp.rejects WHERE job_id = :job ORDER BY line;
\echo 'the file left the inbox: it was claimed into processing/<job id>/ and, loaded, moved to done/'
SELECT f AS "inbox/", (SELECT string_agg(d, ', ' ORDER BY d) FROM pg_ls_dir(:'inbox' || '/' || f, true, false) d) AS contents
  FROM pg_ls_dir(:'inbox') f ORDER BY f;

\echo 'a file whose header does not match the table is not loaded: it goes to failed/, its reason beside it'
\copy (SELECT 's1' AS sensor, 7 AS value, timestamptz '2024-02-02 00:00+00' AS taken_at) to 'inbox/readings-0202.csv.part' with (format csv, header)
\echo '$ mv inbox/readings-0202.csv.part inbox/readings-0202.csv'
\! mv inbox/readings-0202.csv.part inbox/readings-0202.csv
SELECT pg_temp.wait_for_inbox_file(:'inbox', 'readings-0202.csv', '60 s') AS status;
SELECT rtrim(pg_read_file(:'inbox' || '/failed/readings-0202.csv.reason'), E'\n') AS "failed/readings-0202.csv.reason";
\echo 'the inbox as the launcher sees it:'
\x on
SELECT * FROM edp.inbox_status;
\x off
UNLISTEN edp_ingest;
\echo 'the inbox stays watched: drop more files into' :inbox '(edp.unwatch_inbox stops it)'
