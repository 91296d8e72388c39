-- flattening ----------------------------------------------------------------

CREATE FUNCTION edp_internal.flatten_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_flatten_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.flatten_trigger() IS
    'BEFORE INSERT OR UPDATE row trigger of event tables: moves known metrics from the jsonb document into their integer columns';

CREATE FUNCTION edp_internal.flatten_report_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_flatten_report_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.flatten_report_trigger() IS
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

CREATE FUNCTION edp_internal.drop_flattening_triggers(tbl pg_catalog.regclass)
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
COMMENT ON FUNCTION edp_internal.drop_flattening_triggers(pg_catalog.regclass) IS
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
    PERFORM edp_internal.check_kept_table(tbl);
    INSERT INTO edp.event_tables AS t (relid, source_column, metrics_path, exclude_columns)
    VALUES (tbl, source, path, exclude)
    ON CONFLICT (relid) DO UPDATE
       SET source_column = excluded.source_column,
           metrics_path = excluded.metrics_path,
           exclude_columns = excluded.exclude_columns;

    PERFORM edp_internal.drop_flattening_triggers(tbl);
    EXECUTE format('CREATE TRIGGER edp_flatten BEFORE INSERT OR UPDATE OF %I ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION edp_internal.flatten_trigger()', source, tbl);
    EXECUTE format('CREATE TRIGGER edp_flatten_report AFTER INSERT OR UPDATE ON %s'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.flatten_report_trigger()', tbl);
    EXECUTE format('COMMENT ON TRIGGER edp_flatten ON %s IS %L', tbl,
                   format('edp: splits %I of each row of %s into its metric columns (edp.enable_flattening)', source, tbl));
    EXECUTE format('COMMENT ON TRIGGER edp_flatten_report ON %s IS %L', tbl,
                   format('edp: warns once per statement about unknown metrics in rows of %s (edp.enable_flattening)', tbl));

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
    PERFORM edp_internal.drop_flattening_triggers(tbl);
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

CREATE FUNCTION edp_internal.generate_events_support(pg_catalog.internal)
    RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'edp_generate_events_support'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.generate_events_support(pg_catalog.internal) IS
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
    ROWS 1000 SUPPORT edp_internal.generate_events_support;
COMMENT ON FUNCTION edp.generate_events(pg_catalog.int8, pg_catalog.int8,
    pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4, pg_catalog.int4,
    pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
    pg_catalog.text[]) IS
    'deterministic generator of n event rows (skewed customers and types, UUIDs, '
    'timestamps with mixed UTC offsets, metrics JSON with missing and unknown keys, '
    'exact duplicates): the same arguments always give the same rows';

GRANT SELECT ON edp.event_tables TO PUBLIC;

-- internals no user path calls directly: aggregate support functions (checked
-- against the aggregate's owner), event-trigger and planner-support functions
REVOKE EXECUTE ON FUNCTION edp_internal.forget_dropped_tables() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.generate_events_support(pg_catalog.internal) FROM PUBLIC;
