-- validated ingest ----------------------------------------------------------

CREATE TABLE edp.jobs (
    id              pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner           pg_catalog.regrole NOT NULL,       -- the role that submitted the job (by OID)
    source          pg_catalog.text NOT NULL,          -- server path, or 'client' for data sent by the client
    target          pg_catalog.regclass NOT NULL,
    format          pg_catalog.text CHECK (format IN ('csv', 'jsonl')),     -- NULL until detected
    options         pg_catalog.jsonb NOT NULL DEFAULT '{}',
    status          pg_catalog.text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    rows_in         pg_catalog.int8 NOT NULL DEFAULT 0,
    loaded          pg_catalog.int8 NOT NULL DEFAULT 0,
    rejected        pg_catalog.int8 NOT NULL DEFAULT 0,
    duplicates      pg_catalog.int8 NOT NULL DEFAULT 0,
    skipped_empty   pg_catalog.int8 NOT NULL DEFAULT 0,
    lines_done      pg_catalog.int8 NOT NULL DEFAULT 0, -- input lines covered by committed batches
    checksum        pg_catalog.text,                    -- SHA-256 of the input, hex
    size            pg_catalog.int8,                    -- bytes of the input
    error           pg_catalog.text,
    worker_pid      pg_catalog.int4,                    -- background worker running the job
    cancel_requested pg_catalog.bool NOT NULL DEFAULT false,
    queued_at       pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at      pg_catalog.timestamptz,
    finished_at     pg_catalog.timestamptz,
    CHECK (status IN ('queued', 'running') OR rows_in = loaded + rejected + duplicates + skipped_empty),
    run_as          pg_catalog.regrole NOT NULL        -- the role whose rights the rows are inserted with
);
CREATE INDEX jobs_checksum_idx ON edp.jobs (target, checksum);
COMMENT ON INDEX edp.jobs_checksum_idx IS 'finds an earlier load of the same input into the same table (re-ingest detection)';
CREATE INDEX jobs_queued_idx ON edp.jobs (id) WHERE status = 'queued';
COMMENT ON INDEX edp.jobs_queued_idx IS 'the job queue: workers take the oldest queued job first';
COMMENT ON TABLE edp.jobs IS
    'edp ingest job ledger: one row per load, its status, counts, times, error and the input''s checksum and size';
SELECT pg_catalog.pg_extension_config_dump('edp.jobs', '');
COMMENT ON SEQUENCE edp.jobs_id_seq IS 'edp ingest job ids';
ALTER TABLE edp.jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_owner ON edp.jobs FOR SELECT USING (EXISTS (
    SELECT FROM pg_catalog.pg_roles r
     WHERE r.oid OPERATOR(pg_catalog.=) ANY (ARRAY[owner::pg_catalog.oid, run_as::pg_catalog.oid])
       AND pg_catalog.pg_has_role(r.oid, 'USAGE')));
COMMENT ON POLICY jobs_owner ON edp.jobs IS
    'a job is visible to roles with the privileges of its owner or run_as role, by OID; superusers (who bypass row-level security) see all';
GRANT SELECT ON edp.jobs TO PUBLIC;

CREATE TABLE edp.rejects (
    job_id          pg_catalog.int8 NOT NULL REFERENCES edp.jobs (id) ON DELETE CASCADE,
    line            pg_catalog.int8 NOT NULL,
    raw_line        pg_catalog.text,
    column_name     pg_catalog.text,
    sqlstate        pg_catalog.text NOT NULL,
    message         pg_catalog.text NOT NULL,
    PRIMARY KEY (job_id, line)
);
COMMENT ON TABLE edp.rejects IS
    'edp ingest quarantine: input rows that did not load, with line number, raw line, column, SQLSTATE and message';
SELECT pg_catalog.pg_extension_config_dump('edp.rejects', '');
ALTER TABLE edp.rejects ENABLE ROW LEVEL SECURITY;
CREATE POLICY rejects_owner ON edp.rejects FOR SELECT
    USING (EXISTS (SELECT 1 FROM edp.jobs j WHERE j.id OPERATOR(pg_catalog.=) job_id));
COMMENT ON POLICY rejects_owner ON edp.rejects IS
    'a reject is visible to whoever can see its job';
GRANT SELECT ON edp.rejects TO PUBLIC;

CREATE SEQUENCE edp.job_events_id_seq;
COMMENT ON SEQUENCE edp.job_events_id_seq IS 'edp ingest event ids (payload field "event_id")';
SELECT pg_catalog.pg_extension_config_dump('edp.job_events_id_seq', '');
CREATE TABLE edp.job_events (
    id              pg_catalog.int8 PRIMARY KEY DEFAULT pg_catalog.nextval('edp.job_events_id_seq'),
    job_id          pg_catalog.int8 NOT NULL REFERENCES edp.jobs (id) ON DELETE CASCADE,
    event           pg_catalog.text NOT NULL,           -- queued, started, progress, succeeded, failed, cancelled, skipped
    payload         pg_catalog.jsonb NOT NULL,          -- exactly what was sent on channel edp_ingest
    at              pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
ALTER SEQUENCE edp.job_events_id_seq OWNED BY edp.job_events.id;
CREATE INDEX job_events_job_idx ON edp.job_events (job_id);
COMMENT ON INDEX edp.job_events_job_idx IS 'a job''s events, for listeners that catch up';
COMMENT ON TABLE edp.job_events IS
    'edp ingest events: every notification sent on channel edp_ingest, kept so that listeners can catch up';
SELECT pg_catalog.pg_extension_config_dump('edp.job_events', '');
ALTER TABLE edp.job_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_events_owner ON edp.job_events FOR SELECT
    USING (EXISTS (SELECT 1 FROM edp.jobs j WHERE j.id OPERATOR(pg_catalog.=) job_id));
COMMENT ON POLICY job_events_owner ON edp.job_events IS
    'an event is visible to whoever can see its job';
GRANT SELECT ON edp.job_events TO PUBLIC;

CREATE VIEW edp.job_progress WITH (security_invoker = true) AS
SELECT j.id, j.status, j.target, j.rows_in, j.loaded, j.rejected, j.duplicates,
       CASE WHEN j.status OPERATOR(pg_catalog.=) 'succeeded' THEN j.size ELSE p.bytes_done END AS bytes_done,
       j.size AS bytes_total,
       CASE WHEN j.status OPERATOR(pg_catalog.=) 'succeeded' THEN 100.0
            WHEN j.size OPERATOR(pg_catalog.>) 0 AND p.bytes_done IS NOT NULL
            THEN pg_catalog.round(100.0 OPERATOR(pg_catalog.*) p.bytes_done OPERATOR(pg_catalog./) j.size, 1)
       END AS percent_done,
       CASE WHEN j.started_at IS NOT NULL
            THEN pg_catalog.round((j.rows_in OPERATOR(pg_catalog./) GREATEST(
                     pg_catalog.date_part('epoch', COALESCE(j.finished_at, pg_catalog.clock_timestamp())
                                          OPERATOR(pg_catalog.-) j.started_at), 0.001::pg_catalog.float8))::pg_catalog.numeric)
       END AS rows_per_second,
       j.started_at, p.at AS progress_at, j.finished_at
  FROM edp.jobs j
  LEFT JOIN LATERAL (SELECT (e.payload OPERATOR(pg_catalog.->>) 'bytes_done')::pg_catalog.int8 AS bytes_done, e.at
                       FROM edp.job_events e
                      WHERE e.job_id OPERATOR(pg_catalog.=) j.id AND e.event OPERATOR(pg_catalog.=) 'progress'
                      ORDER BY e.id DESC LIMIT 1) p ON true;
COMMENT ON VIEW edp.job_progress IS
    'edp jobs with percent done (bytes read of the input''s size, from the last progress event of a background job) and rows per second; a running synchronous load shows in pg_stat_progress_copy';
GRANT SELECT ON edp.job_progress TO PUBLIC;

CREATE TABLE edp.inboxes (
    directory       pg_catalog.text PRIMARY KEY,
    target          pg_catalog.regclass NOT NULL,
    format          pg_catalog.text CHECK (format IN ('csv', 'jsonl')),
    options         pg_catalog.jsonb NOT NULL DEFAULT '{}',
    mapped_by       pg_catalog.regrole NOT NULL,       -- the superuser who mapped it: reads the files
    created_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    run_as          pg_catalog.regrole,                -- whom loads run as; NULL: the target's owner
    state           pg_catalog.text NOT NULL DEFAULT 'new'  -- set by the launcher
                    CHECK (state IN ('new', 'watching', 'error')),
    error           pg_catalog.text,                   -- why the launcher cannot watch it (state error)
    state_since     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE edp.inboxes IS
    'edp watched inboxes: a server directory whose new files are ingested into a target table (superusers only)';
SELECT pg_catalog.pg_extension_config_dump('edp.inboxes', '');
REVOKE ALL ON edp.inboxes FROM PUBLIC;

CREATE FUNCTION edp.ingest(target pg_catalog.regclass, path pg_catalog.text,
                           format pg_catalog.text DEFAULT NULL,
                           delimiter pg_catalog.text DEFAULT NULL,
                           header pg_catalog.bool DEFAULT true,
                           reject_limit pg_catalog.int8 DEFAULT NULL,
                           reject_percent pg_catalog.float8 DEFAULT NULL,
                           force pg_catalog.bool DEFAULT false,
                           batch_size pg_catalog.int4 DEFAULT NULL)
RETURNS edp.jobs
AS 'MODULE_PATHNAME', 'edp_ingest_file'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.ingest(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text,
                               pg_catalog.bool, pg_catalog.int8, pg_catalog.float8, pg_catalog.bool, pg_catalog.int4) IS
    'load a server file (CSV or JSON lines) into a table, quarantining bad rows in edp.rejects; returns the job';

CREATE FUNCTION edp.ingest_data(target pg_catalog.regclass, data pg_catalog.bytea,
                                format pg_catalog.text DEFAULT NULL,
                                delimiter pg_catalog.text DEFAULT NULL,
                                header pg_catalog.bool DEFAULT true,
                                reject_limit pg_catalog.int8 DEFAULT NULL,
                                reject_percent pg_catalog.float8 DEFAULT NULL,
                                force pg_catalog.bool DEFAULT false,
                                batch_size pg_catalog.int4 DEFAULT NULL)
RETURNS edp.jobs
AS 'MODULE_PATHNAME', 'edp_ingest_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.ingest_data(pg_catalog.regclass, pg_catalog.bytea, pg_catalog.text, pg_catalog.text,
                                    pg_catalog.bool, pg_catalog.int8, pg_catalog.float8, pg_catalog.bool, pg_catalog.int4) IS
    'load data sent by the client (CSV or JSON lines, up to 1 GB) into a table, quarantining bad rows; returns the job';

CREATE FUNCTION edp.ingest_data(target pg_catalog.regclass, data pg_catalog.text,
                                format pg_catalog.text DEFAULT NULL,
                                delimiter pg_catalog.text DEFAULT NULL,
                                header pg_catalog.bool DEFAULT true,
                                reject_limit pg_catalog.int8 DEFAULT NULL,
                                reject_percent pg_catalog.float8 DEFAULT NULL,
                                force pg_catalog.bool DEFAULT false,
                                batch_size pg_catalog.int4 DEFAULT NULL)
RETURNS edp.jobs
AS 'MODULE_PATHNAME', 'edp_ingest_data'      -- text is read as its bytes, like bytea
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.ingest_data(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text,
                                    pg_catalog.bool, pg_catalog.int8, pg_catalog.float8, pg_catalog.bool, pg_catalog.int4) IS
    'load text sent by the client (for psql: \set d `cat file` then SELECT edp.ingest_data(tbl, :''d''))';

CREATE FUNCTION edp.ingest_async(target pg_catalog.regclass, path pg_catalog.text,
                                 format pg_catalog.text DEFAULT NULL,
                                 delimiter pg_catalog.text DEFAULT NULL,
                                 header pg_catalog.bool DEFAULT true,
                                 reject_limit pg_catalog.int8 DEFAULT NULL,
                                 reject_percent pg_catalog.float8 DEFAULT NULL,
                                 force pg_catalog.bool DEFAULT false,
                                 batch_size pg_catalog.int4 DEFAULT NULL,
                                 run_as pg_catalog.regrole DEFAULT NULL)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_ingest_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.ingest_async(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text,
                                     pg_catalog.bool, pg_catalog.int8, pg_catalog.float8, pg_catalog.bool, pg_catalog.int4,
                                     pg_catalog.regrole) IS
    'queue a server file for loading by a background worker once this transaction commits, as run_as (default: the table''s owner when the caller may act as it, else the caller); returns the job id';

CREATE FUNCTION edp.resume_job(job_id pg_catalog.int8)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_resume_job'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.resume_job(pg_catalog.int8) IS
    'run a failed or cancelled server-file job again in a background worker, after the lines its committed batches covered';

CREATE FUNCTION edp.cancel_job(job_id pg_catalog.int8)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'edp_cancel_job'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.cancel_job(pg_catalog.int8) IS
    'cancel a queued or running job of one''s own (committed batches stay); true if it was queued or running';

CREATE FUNCTION edp.job_events_since(after_event pg_catalog.int8 DEFAULT 0)
RETURNS SETOF edp.job_events
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM edp.job_events WHERE id OPERATOR(pg_catalog.>) $1 ORDER BY id $$;
COMMENT ON FUNCTION edp.job_events_since(pg_catalog.int8) IS
    'the edp_ingest notifications sent after event id after_event (payload field "event_id"), for listeners that reconnect';

CREATE FUNCTION edp_internal.check_inbox_directory(directory pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'edp_check_inbox_directory'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.check_inbox_directory(pg_catalog.text) IS
    'edp.watch_inbox''s check: the directory exists and the server may read and write it; warns when no launcher will watch it';
REVOKE ALL ON FUNCTION edp_internal.check_inbox_directory(pg_catalog.text) FROM PUBLIC;

CREATE FUNCTION edp.watch_inbox(directory pg_catalog.text, target pg_catalog.regclass,
                                format pg_catalog.text DEFAULT NULL,
                                options pg_catalog.jsonb DEFAULT '{}',
                                run_as pg_catalog.regrole DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me pg_catalog.oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER);
    loader pg_catalog.oid;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) me) THEN
        RAISE EXCEPTION 'must be superuser to map an inbox directory' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF directory OPERATOR(pg_catalog.!~) '^/' THEN
        RAISE EXCEPTION 'inbox directory must be an absolute path' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- loads run the table's triggers and defaults as this role, never as the mapping superuser
    loader := COALESCE(run_as::pg_catalog.oid,
                       (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) target::pg_catalog.oid));
    -- the directory exists and the server can list it and move files out of it
    PERFORM edp_internal.check_inbox_directory(pg_catalog.rtrim(directory, '/'));
    IF NOT pg_catalog.has_table_privilege(loader, target, 'INSERT') THEN
        RAISE EXCEPTION 'role "%" may not insert into %', loader::pg_catalog.regrole, target
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Inbox loads run the table''s triggers and defaults as their run_as role, which needs INSERT on the table.',
                  HINT = 'Name another role with run_as, or GRANT INSERT to this one.';
    END IF;
    INSERT INTO edp.inboxes (directory, target, format, options, mapped_by, run_as)
    VALUES (pg_catalog.rtrim(directory, '/'), target, format, options, me::pg_catalog.regrole, run_as)
    ON CONFLICT ON CONSTRAINT inboxes_pkey DO UPDATE
        SET target = EXCLUDED.target, format = EXCLUDED.format, options = EXCLUDED.options,
            mapped_by = EXCLUDED.mapped_by, run_as = EXCLUDED.run_as,
            state = 'new', error = NULL, state_since = pg_catalog.now();
END
$$;
COMMENT ON FUNCTION edp.watch_inbox(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.jsonb, pg_catalog.regrole) IS
    'superuser only: map a server directory to a target table; the edp launcher ingests files renamed into it, as run_as (default: the table''s owner)';

CREATE FUNCTION edp.unwatch_inbox(directory pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'must be superuser to unmap an inbox directory' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM edp.inboxes i WHERE i.directory OPERATOR(pg_catalog.=) pg_catalog.rtrim(unwatch_inbox.directory, '/');
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION edp.unwatch_inbox(pg_catalog.text) IS
    'superuser only: stop watching a server directory';

CREATE VIEW edp.inbox_status AS
SELECT i.directory, i.target, i.format, i.run_as,
       CASE WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
                              WHERE a.backend_type OPERATOR(pg_catalog.=) 'edp launcher'
                                AND a.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
            THEN 'not watched' ELSE i.state END AS state,
       i.error AS last_error, i.state_since,
       (SELECT pg_catalog.count(*) FROM edp.jobs j
         WHERE j.options OPERATOR(pg_catalog.->>) 'inbox' OPERATOR(pg_catalog.=) i.directory
           AND j.status OPERATOR(pg_catalog.=) 'queued') AS files_queued,
       (SELECT pg_catalog.count(*) FROM edp.jobs j
         WHERE j.options OPERATOR(pg_catalog.->>) 'inbox' OPERATOR(pg_catalog.=) i.directory
           AND j.status OPERATOR(pg_catalog.=) 'running') AS files_running,
       f.id AS last_failed_job, f.error AS last_failed_error
  FROM edp.inboxes i
  LEFT JOIN LATERAL (SELECT j.id, j.error FROM edp.jobs j
                      WHERE j.options OPERATOR(pg_catalog.->>) 'inbox' OPERATOR(pg_catalog.=) i.directory
                        AND j.status OPERATOR(pg_catalog.=) 'failed'
                      ORDER BY j.id DESC LIMIT 1) f ON true;
COMMENT ON VIEW edp.inbox_status IS
    'superuser only: each watched inbox, its state (new, watching, error, or not watched when no edp launcher runs in this database), the launcher''s last error for it, its queued and running files and its last failed file''s job and error';
REVOKE ALL ON edp.inbox_status FROM PUBLIC;
