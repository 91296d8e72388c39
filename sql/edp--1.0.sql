/* sql/edp--1.0.sql -- edp 1.0: event data platform */

\echo Use "CREATE EXTENSION edp" to load this file. \quit

-- catalog -------------------------------------------------------------------

GRANT USAGE ON SCHEMA edp TO PUBLIC;

CREATE TABLE edp.event_tables (
    relid           pg_catalog.regclass PRIMARY KEY,
    source_column   pg_catalog.name,                   -- flattening: jsonb input + overflow column (NULL: off)
    metrics_path    pg_catalog.text[] NOT NULL DEFAULT '{}',
    exclude_columns pg_catalog.name[] NOT NULL DEFAULT '{}',
    created_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE edp.event_tables IS
    'edp catalog: one row per event table, with the settings of each edp capability enabled on it';
SELECT pg_catalog.pg_extension_config_dump('edp.event_tables', '');

-- Everyone may read the catalog (edp's COPY path and triggers run as the
-- loading user); a table's row may be written by the table's owners only.
ALTER TABLE edp.event_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY event_tables_read ON edp.event_tables FOR SELECT USING (true);
CREATE POLICY event_tables_owner ON edp.event_tables FOR ALL
    USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                   WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                        WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON edp.event_tables TO PUBLIC;

-- A dropped table leaves the catalog with it.
CREATE FUNCTION edp.forget_dropped_tables()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM edp.event_tables t
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objid = t.relid::pg_catalog.oid;
END
$$;
COMMENT ON FUNCTION edp.forget_dropped_tables() IS
    'event trigger function: removes dropped tables from edp.event_tables';
CREATE EVENT TRIGGER edp_forget_dropped_tables ON sql_drop
    EXECUTE FUNCTION edp.forget_dropped_tables();

-- flattening ----------------------------------------------------------------

CREATE FUNCTION edp.flatten_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_flatten_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.flatten_trigger() IS
    'BEFORE INSERT OR UPDATE row trigger of event tables: moves known metrics from the jsonb document into their integer columns';

CREATE FUNCTION edp.flatten_report_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_flatten_report_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.flatten_report_trigger() IS
    'AFTER statement trigger of event tables: one WARNING per unknown or unfitting metric per statement';

CREATE FUNCTION edp.metric_columns(tbl pg_catalog.regclass)
RETURNS pg_catalog.name[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(a.attname ORDER BY a.attnum), '{}')
      FROM pg_attribute a
      JOIN edp.event_tables t ON t.relid = a.attrelid
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attgenerated = ''
       AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
       AND a.attname <> t.source_column
       AND a.attname <> ALL (t.exclude_columns)
$$;
COMMENT ON FUNCTION edp.metric_columns(pg_catalog.regclass) IS
    'the integer columns of an event table that flattening fills from its metrics document';

CREATE FUNCTION edp.drop_flattening_triggers(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t name;
BEGIN
    FOR t IN SELECT tgname FROM pg_trigger
              WHERE tgrelid = tbl AND NOT tgisinternal AND tgparentid = 0
                AND tgname IN ('edp_flatten', 'edp_flatten_report')
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, tbl);
    END LOOP;
END
$$;
COMMENT ON FUNCTION edp.drop_flattening_triggers(pg_catalog.regclass) IS
    'internal: removes the flattening triggers of a table';

CREATE FUNCTION edp.enable_flattening(
    tbl     pg_catalog.regclass,
    source  pg_catalog.name   DEFAULT 'event_metrics',
    path    pg_catalog.text[] DEFAULT '{}',
    exclude pg_catalog.name[] DEFAULT '{}')
RETURNS pg_catalog.name[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    source_type regtype;
    missing     name;
BEGIN
    IF tbl IS NULL OR source IS NULL OR path IS NULL OR exclude IS NULL THEN
        RAISE EXCEPTION 'edp.enable_flattening arguments must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = tbl) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF array_position(path, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'metrics path must not contain NULL elements'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT atttypid INTO source_type FROM pg_attribute
     WHERE attrelid = tbl AND attname = source AND attnum > 0 AND NOT attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation "%" does not exist', source, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF source_type <> 'jsonb'::regtype THEN
        RAISE EXCEPTION 'metrics column "%" must be of type jsonb, not %', source, source_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = format('ALTER TABLE %s ALTER COLUMN %I TYPE jsonb USING %I::jsonb', tbl, source, source);
    END IF;
    SELECT e INTO missing FROM unnest(exclude) e
     WHERE NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = tbl AND attname = e
                                                  AND attnum > 0 AND NOT attisdropped);
    IF FOUND THEN
        RAISE EXCEPTION 'column "%" of relation "%" does not exist', missing, tbl
            USING ERRCODE = 'undefined_column';
    END IF;

    INSERT INTO edp.event_tables AS t (relid, source_column, metrics_path, exclude_columns)
    VALUES (tbl, source, path, exclude)
    ON CONFLICT (relid) DO UPDATE
       SET source_column = excluded.source_column,
           metrics_path = excluded.metrics_path,
           exclude_columns = excluded.exclude_columns;

    PERFORM edp.drop_flattening_triggers(tbl);
    EXECUTE format('CREATE TRIGGER edp_flatten BEFORE INSERT OR UPDATE OF %I ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION edp.flatten_trigger()', source, tbl);
    EXECUTE format('CREATE TRIGGER edp_flatten_report AFTER INSERT OR UPDATE ON %s'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION edp.flatten_report_trigger()', tbl);

    RETURN edp.metric_columns(tbl);
END
$$;
COMMENT ON FUNCTION edp.enable_flattening(pg_catalog.regclass, pg_catalog.name, pg_catalog.text[], pg_catalog.name[]) IS
    'makes a table an event table whose jsonb column "source" is split into its integer metric columns on COPY, INSERT and UPDATE; returns the metric columns';

CREATE FUNCTION edp.disable_flattening(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM edp.drop_flattening_triggers(tbl);
    UPDATE edp.event_tables SET source_column = NULL WHERE relid = tbl;
END
$$;
COMMENT ON FUNCTION edp.disable_flattening(pg_catalog.regclass) IS
    'stops flattening on a table; columns and documents stay as they are';

CREATE FUNCTION edp.reflatten(tbl pg_catalog.regclass)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_reflatten'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.reflatten(pg_catalog.regclass) IS
    'moves metrics kept in the overflow into metric columns added since they were loaded; returns the number of rows updated';

CREATE FUNCTION edp.original_metrics(event_row anyelement)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'edp_original_metrics'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.original_metrics(anyelement) IS
    'the metrics document of an event row as it was loaded, rebuilt from its metric columns and overflow';

-- generator -----------------------------------------------------------------

CREATE FUNCTION edp.generate_events_support(pg_catalog.internal)
    RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'edp_generate_events_support'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.generate_events_support(pg_catalog.internal) IS
    'planner support for edp.generate_events: estimates n rows';

-- IMMUTABLE: the rows depend on the arguments only (no tables, no GUCs such
-- as TimeZone: ts_text is written in the offsets given), which is exactly
-- PostgreSQL's definition; the planner never pre-evaluates a set-returning
-- function, so the label does not fold calls into plans.  PARALLEL SAFE: no
-- shared state, no writes.  Not STRICT: a NULL ts_offsets means the default.
CREATE FUNCTION edp.generate_events(
    n                 pg_catalog.int8,
    seed              pg_catalog.int8        DEFAULT 42,
    start_at          pg_catalog.timestamptz DEFAULT '2023-01-01 00:00:00+00',
    end_at            pg_catalog.timestamptz DEFAULT '2024-01-01 00:00:00+00',
    customers         pg_catalog.int4        DEFAULT 10000,
    event_types       pg_catalog.int4        DEFAULT 5,
    hot_share         pg_catalog.float8      DEFAULT 0.10,
    unknown_key_share pg_catalog.float8      DEFAULT 0.01,
    missing_key_share pg_catalog.float8      DEFAULT 0.05,
    duplicate_share   pg_catalog.float8      DEFAULT 0.001,
    ts_offsets        pg_catalog.text[]      DEFAULT NULL
) RETURNS TABLE (
    id                  pg_catalog.int8,
    customer_id         pg_catalog.int8,
    event_type          pg_catalog.text,
    transaction_id      pg_catalog.uuid,
    first_dimension_id  pg_catalog.int4,
    second_dimension_id pg_catalog.int4,
    recorded_date       pg_catalog.timestamp,
    created_date        pg_catalog.timestamp,
    event_ts            pg_catalog.timestamptz,
    ts_text             pg_catalog.text,
    event_metrics       pg_catalog.text
)
    AS 'MODULE_PATHNAME', 'edp_generate_events'
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    ROWS 1000 SUPPORT edp.generate_events_support;
COMMENT ON FUNCTION edp.generate_events(pg_catalog.int8, pg_catalog.int8,
    pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4, pg_catalog.int4,
    pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
    pg_catalog.text[]) IS
    'deterministic generator of n event rows (skewed customers and types, UUIDs, '
    'timestamps with mixed UTC offsets, metrics JSON with missing and unknown keys, '
    'exact duplicates): the same arguments always give the same rows';

-- validated ingest ----------------------------------------------------------

CREATE TABLE edp.jobs (
    id              pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner           pg_catalog.name NOT NULL DEFAULT CURRENT_USER,
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
    CHECK (status IN ('queued', 'running') OR rows_in = loaded + rejected + duplicates + skipped_empty)
);
CREATE INDEX jobs_checksum_idx ON edp.jobs (target, checksum);
COMMENT ON TABLE edp.jobs IS
    'edp ingest job ledger: one row per load, its status, counts, times, error and the input''s checksum and size';
SELECT pg_catalog.pg_extension_config_dump('edp.jobs', '');
COMMENT ON SEQUENCE edp.jobs_id_seq IS 'edp ingest job ids';
ALTER TABLE edp.jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_owner ON edp.jobs FOR SELECT USING (owner OPERATOR(pg_catalog.=) CURRENT_USER);
COMMENT ON POLICY jobs_owner ON edp.jobs IS
    'owners see their own jobs; superusers (who bypass row-level security) see all';
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
COMMENT ON TABLE edp.job_events IS
    'edp ingest events: every notification sent on channel edp_ingest, kept so that listeners can catch up';
SELECT pg_catalog.pg_extension_config_dump('edp.job_events', '');
ALTER TABLE edp.job_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_events_owner ON edp.job_events FOR SELECT
    USING (EXISTS (SELECT 1 FROM edp.jobs j WHERE j.id OPERATOR(pg_catalog.=) job_id));
COMMENT ON POLICY job_events_owner ON edp.job_events IS
    'an event is visible to whoever can see its job';
GRANT SELECT ON edp.job_events TO PUBLIC;

CREATE TABLE edp.inboxes (
    directory       pg_catalog.text PRIMARY KEY,
    target          pg_catalog.regclass NOT NULL,
    format          pg_catalog.text CHECK (format IN ('csv', 'jsonl')),
    options         pg_catalog.jsonb NOT NULL DEFAULT '{}',
    run_as          pg_catalog.name NOT NULL DEFAULT CURRENT_USER,
    created_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
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
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT edp.ingest_data($1, pg_catalog.textsend($2), $3, $4, $5, $6, $7, $8, $9) $$;
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
                                 batch_size pg_catalog.int4 DEFAULT NULL)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_ingest_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.ingest_async(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text,
                                     pg_catalog.bool, pg_catalog.int8, pg_catalog.float8, pg_catalog.bool, pg_catalog.int4) IS
    'queue a server file for loading by a background worker once this transaction commits; returns the job id';

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
AS $$ SELECT * FROM edp.job_events WHERE id OPERATOR(pg_catalog.>) $1 ORDER BY id $$;
COMMENT ON FUNCTION edp.job_events_since(pg_catalog.int8) IS
    'the edp_ingest notifications sent after event id after_event (payload field "event_id"), for listeners that reconnect';

CREATE FUNCTION edp.watch_inbox(directory pg_catalog.text, target pg_catalog.regclass,
                                format pg_catalog.text DEFAULT NULL,
                                options pg_catalog.jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'must be superuser to map an inbox directory' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF directory !~ '^/' THEN
        RAISE EXCEPTION 'inbox directory must be an absolute path' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO edp.inboxes (directory, target, format, options)
    VALUES (rtrim(directory, '/'), target, format, options)
    ON CONFLICT ON CONSTRAINT inboxes_pkey DO UPDATE
        SET target = EXCLUDED.target, format = EXCLUDED.format, options = EXCLUDED.options, run_as = EXCLUDED.run_as;
END
$$;
COMMENT ON FUNCTION edp.watch_inbox(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.jsonb) IS
    'superuser only: map a server directory to a target table; the edp launcher ingests files renamed into it';

CREATE FUNCTION edp.unwatch_inbox(directory pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'must be superuser to unmap an inbox directory' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM edp.inboxes i WHERE i.directory OPERATOR(pg_catalog.=) rtrim(unwatch_inbox.directory, '/');
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION edp.unwatch_inbox(pg_catalog.text) IS
    'superuser only: stop watching a server directory';
