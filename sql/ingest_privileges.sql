-- ingest_privileges: server files need pg_read_server_files (as COPY FROM 'file'); owners see own jobs
\getenv abs_srcdir PG_ABS_SRCDIR
\set plain :abs_srcdir '/test/data/plain.csv'

CREATE ROLE regress_edp_plain;
CREATE ROLE regress_edp_files IN ROLE pg_read_server_files;
CREATE ROLE regress_edp_other;
CREATE TABLE ing_priv (id integer, name text, score integer CHECK (score < 100));
GRANT INSERT, SELECT ON ing_priv TO regress_edp_plain, regress_edp_files;

-- a job of the superuser's, which nobody else sees
SELECT status, loaded FROM edp.ingest_data('ing_priv', E'id,name,score\n1,su,1\n');

SET ROLE regress_edp_plain;
SELECT status FROM edp.ingest('ing_priv', :'plain'); -- ERROR
-- data sent by the client is fine, and its rejects are the owner's to see
SELECT status, loaded, rejected FROM edp.ingest_data('ing_priv', E'id,name,score\n2,plain,2\n3,plain,300\n');
SELECT owner, status, source, loaded, rejected FROM edp.jobs ORDER BY id;
SELECT line, sqlstate, raw_line FROM edp.rejects ORDER BY line;
SELECT event FROM edp.job_events_since(0) ORDER BY id;
-- the ledger and the inboxes are written by edp only
INSERT INTO edp.jobs (source, target, format) VALUES ('x', 'ing_priv', 'csv'); -- ERROR
UPDATE edp.jobs SET loaded = 1000; -- ERROR
SELECT edp.watch_inbox('/tmp', 'ing_priv'); -- ERROR
SELECT * FROM edp.inboxes; -- ERROR
RESET ROLE;

SET ROLE regress_edp_files;
SELECT status, loaded FROM edp.ingest('ing_priv', :'plain');
SELECT owner, status, loaded FROM edp.jobs ORDER BY id;
-- only queued or running jobs can be cancelled, only failed or cancelled ones resumed
SELECT edp.cancel_job(id) FROM edp.jobs ORDER BY id;
\set VERBOSITY sqlstate
SELECT edp.resume_job(id) FROM edp.jobs ORDER BY id; -- ERROR
\set VERBOSITY default
RESET ROLE;

-- INSERT on the target is required, as for COPY
SET ROLE regress_edp_other;
SELECT status FROM edp.ingest_data('ing_priv', E'id\n1\n'); -- ERROR
SELECT count(*) AS jobs_visible FROM edp.jobs;
RESET ROLE;

-- superusers see everything
SELECT owner, status, loaded, rejected FROM edp.jobs ORDER BY id;
SELECT * FROM ing_priv ORDER BY id, name;

DELETE FROM edp.jobs;
DROP TABLE ing_priv;
DROP ROLE regress_edp_plain, regress_edp_files, regress_edp_other;
