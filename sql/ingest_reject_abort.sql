-- ingest_reject_abort: a synchronous load that passes its reject limit rolls
-- back, but its job and rejects are kept as a new failed job (committed by a
-- background worker before the error is raised)

CREATE TABLE rk (id integer PRIMARY KEY, name text NOT NULL);
CREATE ROLE regress_edp_rk LOGIN;
GRANT INSERT, SELECT ON rk TO regress_edp_rk;

-- the newest kept job of a table, and its error with its own id as Y
CREATE FUNCTION rk_kept(t regclass) RETURNS bigint LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT max(id) FROM edp.jobs WHERE target OPERATOR(pg_catalog.=) t AND options ? 'rolled_back' $$;
CREATE FUNCTION rk_y(s text, id bigint) RETURNS text LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT replace(s, id::text, 'Y') $$;
-- the input's lines by number (header = line 1), for the oracle
CREATE FUNCTION rk_lines(d text) RETURNS TABLE (line bigint, raw text) LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT n, l FROM regexp_split_to_table(rtrim(d, E'\n'), E'\n') WITH ORDINALITY AS s(l, n) $$;
GRANT EXECUTE ON FUNCTION rk_kept(regclass), rk_y(text, bigint), rk_lines(text) TO regress_edp_rk;

-- reject_limit: the error names the kept job (message, detail and hint with its id as Y)
SET client_min_messages = warning;
DO $$
DECLARE m text; d text; h text; s text;
BEGIN
  PERFORM edp.ingest_data('rk', E'id,name\n1,a\nx,b\n3,c\n4,\ny,e\n6,f\n', reject_limit => 1);
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RAISE WARNING '% | % | % | %', s, rk_y(m, rk_kept('rk')), rk_y(d, rk_kept('rk')), rk_y(h, rk_kept('rk'));
END $$;
RESET client_min_messages;
-- the load itself rolled back: no row, no job of its own
SELECT count(*) AS rows_left FROM rk;
SELECT count(*) AS other_jobs FROM edp.jobs WHERE target = 'rk'::regclass AND NOT options ? 'rolled_back';
-- the kept job: failed, the load's counts (rows_in = loaded + rejected + ...), nothing committed
SELECT status, source, format, rows_in, loaded, rejected, duplicates, skipped_empty, lines_done,
       rows_in = loaded + rejected + duplicates + skipped_empty AS rows_in_adds_up,
       owner = current_user::regrole AS mine, run_as = current_user::regrole AS run_as_me,
       options, size, started_at IS NOT NULL AND finished_at IS NOT NULL AS timed,
       worker_pid IS NULL AS no_worker, rk_y(error, id) AS error
  FROM edp.jobs WHERE id = rk_kept('rk');
-- its rejects are exactly the bad lines of the input (oracle: the input's own lines)
SELECT r.line, r.raw_line = i.raw AS raw_is_input_line, r.column_name, r.sqlstate
  FROM edp.rejects r LEFT JOIN rk_lines(E'id,name\n1,a\nx,b\n3,c\n4,\ny,e\n6,f\n') i ON i.line = r.line
 WHERE r.job_id = rk_kept('rk') ORDER BY r.line;
SELECT (SELECT count(*) FROM edp.rejects WHERE job_id = rk_kept('rk')) =
       (SELECT rejected FROM edp.jobs WHERE id = rk_kept('rk')) AS all_rejects_kept;
-- its events: started, then failed with the SQLSTATE (the worker's commit notified them)
SELECT event, payload ->> 'status' AS status, payload ->> 'sqlstate' AS sqlstate,
       (payload ->> 'job_id')::bigint = rk_kept('rk') AS its_id
  FROM edp.job_events WHERE job_id = rk_kept('rk') ORDER BY id;
DELETE FROM edp.jobs WHERE target = 'rk'::regclass;

-- edp.ingest of a server file: kept too, with its path; it committed nothing,
-- so edp.resume_job() refuses it (it would continue after lines never loaded)
\getenv abs_srcdir PG_ABS_SRCDIR
\set events :abs_srcdir '/test/data/customer_events.csv'
CREATE TABLE rk_ev (event_id integer PRIMARY KEY, customer_id text NOT NULL CHECK (customer_id <> ''),
                    event_type text NOT NULL, amount integer CHECK (amount >= 0),
                    recorded_at timestamptz NOT NULL);
\set VERBOSITY sqlstate
SELECT status FROM edp.ingest('rk_ev', :'events', reject_limit => 0); -- ERROR
\set VERBOSITY default
SELECT status, source = :'events' AS its_path, format, rows_in, loaded, rejected, lines_done,
       rejected = (SELECT count(*) FROM edp.rejects r WHERE r.job_id = j.id) AS all_kept
  FROM edp.jobs j WHERE id = rk_kept('rk_ev');
SELECT count(*) AS rows_left FROM rk_ev;
\set VERBOSITY sqlstate
SELECT edp.resume_job(rk_kept('rk_ev')); -- ERROR
\set VERBOSITY default
DELETE FROM edp.jobs WHERE target = 'rk_ev'::regclass;
DROP TABLE rk_ev;

-- reject_percent, in small batches: the load stops after the batch that passed it
\set VERBOSITY sqlstate
SELECT status FROM edp.ingest_data('rk', E'id,name\n1,a\n2,b\n3,c\nx,d\ny,e\n6,f\nz,g\n8,h\n',
                                   reject_percent => 25, batch_size => 2); -- ERROR
\set VERBOSITY default
SELECT status, rows_in, loaded, rejected, lines_done, rk_y(error, id) AS error
  FROM edp.jobs WHERE id = rk_kept('rk');
SELECT r.line, r.raw_line = i.raw AS raw_is_input_line, r.sqlstate
  FROM edp.rejects r LEFT JOIN rk_lines(E'id,name\n1,a\n2,b\n3,c\nx,d\ny,e\n6,f\nz,g\n8,h\n') i ON i.line = r.line
 WHERE r.job_id = rk_kept('rk') ORDER BY r.line;
DELETE FROM edp.jobs WHERE target = 'rk'::regclass;

-- inside an EXCEPTION block: the caller catches the error; the kept job stays,
-- nothing else of the block (its insert, the load's rows and job) does
DO $$
BEGIN
  INSERT INTO rk VALUES (100, 'before');
  PERFORM edp.ingest_data('rk', E'id,name\n1,a\nx,b\ny,c\n', reject_limit => 1);
EXCEPTION WHEN data_exception THEN
  RAISE NOTICE 'caught %', SQLSTATE;
END $$;
SELECT count(*) AS rows_left FROM rk;
SELECT status, rows_in, loaded, rejected FROM edp.jobs WHERE target = 'rk'::regclass ORDER BY id;
SELECT line, raw_line FROM edp.rejects WHERE job_id = rk_kept('rk') ORDER BY line;
DELETE FROM edp.jobs WHERE target = 'rk'::regclass;

-- a user's ROLLBACK and other errors stay transactional: nothing is kept
BEGIN;
SELECT status, rejected FROM edp.ingest_data('rk', E'id,name\n1,a\nx,b\n', reject_limit => 5);
ROLLBACK;
SELECT edp.ingest_data('rk', E'id,nosuchcolumn\n1,a\n', reject_limit => 0) IS NULL; -- ERROR
SELECT count(*) AS jobs FROM edp.jobs WHERE target = 'rk'::regclass;

-- quarantine COPY with REJECT_LIMIT, through psql's \copy, as a non-superuser
SET ROLE regress_edp_rk;
\set VERBOSITY sqlstate
\copy rk from stdin with (format csv, header, on_error 'quarantine', reject_limit 1)
id,name
1,a
bad,b
3,c
4,
\.
\set VERBOSITY default
SELECT status, source, rows_in, loaded, rejected, owner = current_user::regrole AS mine, rk_y(error, id) AS error
  FROM edp.jobs WHERE id = rk_kept('rk');
SELECT r.line, r.raw_line = i.raw AS raw_is_input_line, r.column_name, r.sqlstate
  FROM edp.rejects r LEFT JOIN rk_lines(E'id,name\n1,a\nbad,b\n3,c\n4,\n') i ON i.line = r.line
 WHERE r.job_id = rk_kept('rk') ORDER BY r.line;
SELECT count(*) AS rows_left FROM rk;
RESET ROLE;
DELETE FROM edp.jobs WHERE target = 'rk'::regclass;

-- ON_ERROR 'ignore' keeps no rejects: the kept job has the counts only
\set VERBOSITY sqlstate
COPY rk FROM STDIN WITH (FORMAT csv, ON_ERROR 'ignore', REJECT_LIMIT 1);
1,a
x,b
y,c
\.
\set VERBOSITY default
SELECT status, rows_in, loaded, rejected,
       (SELECT count(*) FROM edp.rejects r WHERE r.job_id = j.id) AS kept_rejects
  FROM edp.jobs j WHERE id = rk_kept('rk');
DELETE FROM edp.jobs WHERE target = 'rk'::regclass;

-- a hostile role cannot make the worker write anything else: its search_path
-- (set for its sessions, which the worker's is) shadows what the ledger calls,
-- its rejected lines are SQL, a trigger on its table logs; the worker runs none
-- of it and writes the one job, with the role as owner
CREATE ROLE regress_edp_rk_evil LOGIN;
CREATE SCHEMA rk_evil AUTHORIZATION regress_edp_rk_evil;
SET ROLE regress_edp_rk_evil;
CREATE TABLE rk_evil.log (what text);
CREATE TABLE rk_evil.t (id integer, name text);
CREATE FUNCTION rk_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO rk_evil.log VALUES ('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION rk_evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO rk_evil.log VALUES ('clock_timestamp'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION rk_evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO rk_evil.log VALUES ('nextval'); RETURN 1; END $$;
CREATE FUNCTION rk_evil.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO rk_evil.log VALUES ('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR rk_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = rk_evil.eq);
CREATE FUNCTION rk_evil.trg() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO rk_evil.log VALUES ('trigger'); RETURN NEW; END $$;
CREATE TRIGGER t_log BEFORE INSERT ON rk_evil.t FOR EACH ROW EXECUTE FUNCTION rk_evil.trg();
ALTER ROLE regress_edp_rk_evil SET search_path = rk_evil, pg_catalog;
ALTER ROLE regress_edp_rk_evil SET default_transaction_read_only = on;
SET search_path = rk_evil, pg_catalog;
SELECT count(*) AS jobs_before FROM edp.jobs \gset
\set VERBOSITY sqlstate
SELECT edp.ingest_data('rk_evil.t', E'id,name\n1,a\nx'');DELETE FROM edp.jobs;--,b\n'' OR 1=1,c\n', reject_limit => 1); -- ERROR
\set VERBOSITY default
RESET search_path;
SELECT count(*) - :jobs_before AS new_jobs FROM edp.jobs;
SELECT status, rows_in, rejected, owner = 'regress_edp_rk_evil'::regrole AS evil_owns_it,
       target = 'rk_evil.t'::regclass AS its_table
  FROM edp.jobs WHERE id = rk_kept('rk_evil.t');
SELECT line, raw_line FROM edp.rejects WHERE job_id = rk_kept('rk_evil.t') ORDER BY line;
SELECT what, count(*) FROM rk_evil.log GROUP BY what ORDER BY what;
SELECT count(*) AS rows_left FROM rk_evil.t;
RESET ROLE;
DELETE FROM edp.jobs WHERE target = 'rk_evil.t'::regclass;
ALTER ROLE regress_edp_rk_evil RESET ALL;
DROP SCHEMA rk_evil CASCADE;
DROP ROLE regress_edp_rk_evil;

DROP TABLE rk;
DROP FUNCTION rk_kept(regclass), rk_y(text, bigint), rk_lines(text);
DROP ROLE regress_edp_rk;
