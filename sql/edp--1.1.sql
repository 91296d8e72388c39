/* sql/edp--1.1.sql -- edp 1.1: event data platform */

\echo Use "CREATE EXTENSION edp" to load this file. \quit

-- catalog -------------------------------------------------------------------

GRANT USAGE ON SCHEMA edp TO PUBLIC;

CREATE TABLE edp.event_tables (
    relid           pg_catalog.regclass PRIMARY KEY,
    source_column   pg_catalog.name,                   -- flattening: jsonb input + overflow column (NULL: off)
    metrics_path    pg_catalog.text[] NOT NULL DEFAULT '{}',
    exclude_columns pg_catalog.name[] NOT NULL DEFAULT '{}',
    created_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- buckets (issue 3): key and time columns, rollup, dedupe, partitioning
    key_column      pg_catalog.name,                   -- bucket key (customer); NULL: buckets off
    ts_column       pg_catalog.name,                   -- event instant (timestamptz)
    rollup_relid    pg_catalog.regclass,               -- (key, bucket_start, events) table; NULL: no rollup
    rollup_width    pg_catalog.interval,               -- rollup bucket width (UTC grid)
    rollup_stale    pg_catalog.bool NOT NULL DEFAULT false, -- true: queries read raw rows
    dedupe_mode     pg_catalog.text NOT NULL DEFAULT 'none'
                    CHECK (dedupe_mode IN ('none', 'first', 'latest')),
    dedupe_columns  pg_catalog.name[],                 -- dedupe key (first) / event id (latest)
    dedupe_order_column pg_catalog.name,               -- latest: the version that wins has the largest value
    partition_period pg_catalog.text CHECK (partition_period IN ('day', 'month')),
    partition_type_column pg_catalog.name              -- second level: one partition per value
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

GRANT SELECT ON edp.event_tables TO PUBLIC;

-- trips ---------------------------------------------------------------------
-- Trips (issue 4): a trips table layout with GiST indexes, regions, a
-- deterministic generator, weekly averages for an area and clustering.
-- PostGIS functions are called from plpgsql bodies; those functions get
-- search_path = pg_catalog, <postgis schema>, pg_temp at the end of this
-- section, so they never depend on the caller's search_path.

CREATE TABLE edp.trip_tables (
    relid         pg_catalog.regclass PRIMARY KEY,
    cell_size     float8 NOT NULL,                  -- rollup cell side in degrees
    time_zone     text NOT NULL,                    -- zone of the rollup's ISO weeks
    cell_weeks    pg_catalog.regclass NOT NULL,     -- (ox, oy, dx, dy, week) -> trips
    region_weeks  pg_catalog.regclass NOT NULL,     -- (region, week) -> trips
    point_blocks  pg_catalog.regclass NOT NULL,     -- (kind, c1, c2) -> packed points
    block_cell    float8 NOT NULL,                  -- cell side of origin and destination blocks
    pair_cell     float8 NOT NULL,                  -- cell side of (origin, destination) blocks
    created_at    pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE edp.trip_tables IS
    'edp catalog: trips tables made by edp.create_trips_table()';
SELECT pg_catalog.pg_extension_config_dump('edp.trip_tables', '');
GRANT SELECT ON edp.trip_tables TO PUBLIC;

-- Statement-level AFTER triggers keep the rollups of a trips table exact
-- under INSERT and COPY (transition tables), UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION edp.trips_rollup_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
DECLARE
    cfg edp.trip_tables;
    delta text := $q$
        INSERT INTO %1$s AS c (ox, oy, dx, dy, week, trips)
        SELECT pg_catalog.floor(ST_X(r.origin) / $1)::int, pg_catalog.floor(ST_Y(r.origin) / $1)::int,
               pg_catalog.floor(ST_X(r.destination) / $1)::int, pg_catalog.floor(ST_Y(r.destination) / $1)::int,
               pg_catalog.date_trunc('week', (r.datetime AT TIME ZONE 'UTC') AT TIME ZONE $2)::date,
               %3$s pg_catalog.count(*)
          FROM %2$s r GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (ox, oy, dx, dy, week) DO UPDATE SET trips = c.trips + EXCLUDED.trips$q$;
    rdelta text := $q$
        INSERT INTO %1$s AS c (region, week, trips)
        SELECT r.region, pg_catalog.date_trunc('week', (r.datetime AT TIME ZONE 'UTC') AT TIME ZONE $1)::date,
               %3$s pg_catalog.count(*)
          FROM %2$s r GROUP BY 1, 2
        ON CONFLICT (region, week) DO UPDATE SET trips = c.trips + EXCLUDED.trips$q$;
    -- point blocks, one kind per statement ($1): the rows' points of that
    -- kind with their cell keys and Monday (in the rollup's time zone)
    points text := $q$
        SELECT CASE $1 WHEN 1 THEN edp.trip_cell_id(ST_X(r.origin), ST_Y(r.origin), $2)
                       WHEN 2 THEN edp.trip_cell_id(ST_X(r.destination), ST_Y(r.destination), $2)
                       ELSE edp.trip_cell_id(ST_X(r.origin), ST_Y(r.origin), $3) END AS c1,
               CASE $1 WHEN 3 THEN edp.trip_cell_id(ST_X(r.destination), ST_Y(r.destination), $3)
                       ELSE 0 END AS c2,
               CASE $1 WHEN 2 THEN ST_X(r.destination) ELSE ST_X(r.origin) END AS x,
               CASE $1 WHEN 2 THEN ST_Y(r.destination) ELSE ST_Y(r.origin) END AS y,
               CASE $1 WHEN 3 THEN ST_X(r.destination) ELSE 0 END AS x2,
               CASE $1 WHEN 3 THEN ST_Y(r.destination) ELSE 0 END AS y2,
               pg_catalog.date_trunc('week', (r.datetime AT TIME ZONE 'UTC') AT TIME ZONE $4)::date AS week
          FROM %2$s r$q$;
    -- added rows: the keys' partly filled blocks are packed again with the
    -- new points (their records copied as they are), so a key keeps at
    -- most one partial block
    blocks_add text := $q$
        WITH np AS NOT MATERIALIZED (%3$s),
        old AS (
            DELETE FROM %1$s b USING (SELECT DISTINCT c1, c2 FROM np) k
             WHERE b.kind = $1 AND b.c1 = k.c1 AND b.c2 = k.c2
               AND b.n < CASE $1 WHEN 3 THEN 110 ELSE 200 END
            RETURNING b.c1, b.c2, b.points),
        pts AS (
            SELECT np.*, NULL::bytea AS points FROM np
            UNION ALL
            SELECT old.c1, old.c2, NULL, NULL, NULL, NULL, NULL, old.points FROM old)
        INSERT INTO %1$s (kind, c1, c2, n, points)
        SELECT $1, s.c1, s.c2, pg_catalog.length(s.blk) / CASE $1 WHEN 3 THEN 36 ELSE 20 END, s.blk
          FROM (SELECT c1, c2, pg_catalog.unnest(edp.trip_block_pack($1, x, y, x2, y2, week, points)) AS blk
                  FROM pts GROUP BY c1, c2) s$q$;
    -- removed rows: each removes one equal point from its key's blocks
    -- (a multiset difference), and the rest are packed again
    blocks_remove text := $q$
        WITH op AS NOT MATERIALIZED (%3$s),
        gone AS (
            SELECT c1, c2, x, y, x2, y2, week, pg_catalog.count(*) AS k
              FROM op GROUP BY 1, 2, 3, 4, 5, 6, 7),
        old AS (
            DELETE FROM %1$s b USING (SELECT DISTINCT c1, c2 FROM op) k
             WHERE b.kind = $1 AND b.c1 = k.c1 AND b.c2 = k.c2
            RETURNING b.c1, b.c2, b.points),
        pts AS (
            SELECT old.c1, old.c2, p.*,
                   pg_catalog.row_number() OVER (PARTITION BY old.c1, old.c2, p.x, p.y, p.x2, p.y2, p.week) AS rn
              FROM old, LATERAL edp.trip_block_points($1, old.points) p)
        INSERT INTO %1$s (kind, c1, c2, n, points)
        SELECT $1, s.c1, s.c2, pg_catalog.length(s.blk) / CASE $1 WHEN 3 THEN 36 ELSE 20 END, s.blk
          FROM (SELECT p.c1, p.c2, pg_catalog.unnest(edp.trip_block_pack($1, p.x, p.y, p.x2, p.y2, p.week, NULL)) AS blk
                  FROM pts p
                  LEFT JOIN gone g ON g.c1 = p.c1 AND g.c2 = p.c2 AND g.x = p.x AND g.y = p.y
                                  AND g.x2 = p.x2 AND g.y2 = p.y2 AND g.week = p.week
                 WHERE p.rn > coalesce(g.k, 0)
                 GROUP BY p.c1, p.c2) s$q$;
    kind int;
BEGIN
    SELECT * INTO cfg FROM edp.trip_tables WHERE relid = TG_RELID;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not an edp trips table', TG_RELID::regclass
            USING ERRCODE = 'triggered_action_exception';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        EXECUTE pg_catalog.format('TRUNCATE %s, %s, %s', cfg.cell_weeks, cfg.region_weeks, cfg.point_blocks);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE pg_catalog.format(delta, cfg.cell_weeks, 'old_rows', '-') USING cfg.cell_size, cfg.time_zone;
        EXECUTE pg_catalog.format(rdelta, cfg.region_weeks, 'old_rows', '-') USING cfg.time_zone;
        -- a removal rewrites whole cells: writers that started before it
        -- must have committed (and later ones wait) so that no rewrite
        -- misses a block another transaction added or replaced
        EXECUTE pg_catalog.format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', cfg.point_blocks);
        FOREACH kind IN ARRAY ARRAY[1, 2, 3] LOOP
            EXECUTE pg_catalog.format(blocks_remove, cfg.point_blocks, NULL, pg_catalog.format(points, NULL, 'old_rows'))
              USING kind, cfg.block_cell, cfg.pair_cell, cfg.time_zone;
        END LOOP;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE pg_catalog.format(delta, cfg.cell_weeks, 'new_rows', '') USING cfg.cell_size, cfg.time_zone;
        EXECUTE pg_catalog.format(rdelta, cfg.region_weeks, 'new_rows', '') USING cfg.time_zone;
        FOREACH kind IN ARRAY ARRAY[1, 2, 3] LOOP
            EXECUTE pg_catalog.format(blocks_add, cfg.point_blocks, NULL, pg_catalog.format(points, NULL, 'new_rows'))
              USING kind, cfg.block_cell, cfg.pair_cell, cfg.time_zone;
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION edp.trips_rollup_trigger() IS
    'statement trigger of trips tables: keeps the weekly cell and region rollups and the point blocks exact';

CREATE FUNCTION edp.create_trips_table(name text, cell_size float8 DEFAULT 0.05,
                                       time_zone text DEFAULT 'UTC')
RETURNS pg_catalog.regclass
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $$
DECLARE
    parts text[] := pg_catalog.parse_ident(name);
    qname text;
    rel pg_catalog.regclass;
    cells pg_catalog.regclass;
    regs pg_catalog.regclass;
    blocks pg_catalog.regclass;
    gis name := (SELECT n.nspname FROM pg_catalog.pg_extension e
                   JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                  WHERE e.extname = 'postgis');
BEGIN
    -- runs with the caller's search_path (an unqualified name lands where
    -- CREATE TABLE would put it); PostGIS objects are qualified explicitly
    IF pg_catalog.array_length(parts, 1) > 2 THEN
        RAISE EXCEPTION 'invalid trips table name "%"', name
            USING ERRCODE = 'invalid_name', HINT = 'Use "table" or "schema.table".';
    END IF;
    IF NOT (cell_size > 0 AND cell_size <= 10) THEN
        RAISE EXCEPTION 'cell size must be between 0 and 10 degrees'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.now() AT TIME ZONE time_zone;     -- rejects unknown zones (22023)
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(p), '.') INTO qname
      FROM pg_catalog.unnest(parts) p;
    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE %1$s (
            id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            region      text NOT NULL,
            origin      %2$I.geometry(Point, 4326) NOT NULL,
            destination %2$I.geometry(Point, 4326) NOT NULL,
            datetime    timestamp NOT NULL,
            datasource  text NOT NULL
        )$ddl$, qname, gis);
    rel := qname::pg_catalog.regclass;
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', rel,
        'edp trips table (edp.create_trips_table): WGS 84 points, weekly rollups kept by triggers');
    -- origin and destination in one GiST index: "both ends inside" descends
    -- only into pages whose origins and destinations both meet the area (the
    -- rows fetched are the rows counted), and origin-only searches use its
    -- first column as a plain origin index would
    EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gist (origin %I.gist_geometry_ops_2d, destination %I.gist_geometry_ops_2d)',
                              rel, gis, gis);
    EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gist (destination %I.gist_geometry_ops_2d)', rel, gis);
    EXECUTE pg_catalog.format('CREATE INDEX ON %s (datetime)', rel);

    -- rollups: trips per (origin cell, destination cell, week) and per (region, week)
    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE %s (
            ox int, oy int, dx int, dy int, week date, trips bigint NOT NULL,
            PRIMARY KEY (ox, oy, dx, dy, week))$ddl$, qname || '_cell_weeks');
    cells := (qname || '_cell_weeks')::pg_catalog.regclass;
    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE %s (region text, week date, trips bigint NOT NULL,
                         PRIMARY KEY (region, week))$ddl$, qname || '_region_weeks');
    regs := (qname || '_region_weeks')::pg_catalog.regclass;
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', cells,
        'edp rollup of ' || rel::text || ': trips per origin cell, destination cell and week');
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', regs,
        'edp rollup of ' || rel::text || ': trips per region and week');
    -- point blocks (edp.trip_block_pack): the points packed per 0.002-degree
    -- cell for origins and destinations, per pair of 0.01-degree cells for
    -- both ends; inline storage (blocks stay under a page), no TOAST
    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE %s (kind smallint NOT NULL, c1 bigint NOT NULL, c2 bigint NOT NULL,
                         n integer NOT NULL, points bytea NOT NULL)$ddl$, qname || '_point_blocks');
    blocks := (qname || '_point_blocks')::pg_catalog.regclass;
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN points SET STORAGE PLAIN', blocks);
    EXECUTE pg_catalog.format('CREATE INDEX ON %s (kind, c1, c2)', blocks);
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', blocks,
        'edp point blocks of ' || rel::text || ': exact points packed per cell (kind 1 origin, 2 destination, 3 both ends)');
    INSERT INTO edp.trip_tables (relid, cell_size, time_zone, cell_weeks, region_weeks, point_blocks, block_cell, pair_cell)
    VALUES (rel, cell_size, time_zone, cells, regs, blocks, 0.002, 0.01);

    -- BI view: trips per region and week over the data's span, zero weeks included
    EXECUTE pg_catalog.format($ddl$
        CREATE VIEW %s AS
        SELECT r.region, g.w::date AS week_start, coalesce(c.trips, 0)::bigint AS trips
          FROM (SELECT DISTINCT region FROM %2$s WHERE trips > 0) r
         CROSS JOIN (SELECT min(week) AS lo, max(week) AS hi FROM %2$s WHERE trips > 0) s
         CROSS JOIN LATERAL pg_catalog.generate_series(s.lo::timestamp, s.hi::timestamp, interval '7 days') g(w)
          LEFT JOIN %2$s c ON c.region = r.region AND c.week = g.w::date$ddl$,
        qname || '_weekly_regions', regs);
    EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', qname || '_weekly_regions',
        'edp BI view of ' || rel::text || ': trips per region and ISO week (' || time_zone || '), zero weeks included');

    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                              'FOR EACH STATEMENT EXECUTE FUNCTION edp.trips_rollup_trigger()', rel);
    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows '
                              'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edp.trips_rollup_trigger()', rel);
    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                              'FOR EACH STATEMENT EXECUTE FUNCTION edp.trips_rollup_trigger()', rel);
    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_truncate AFTER TRUNCATE ON %s '
                              'FOR EACH STATEMENT EXECUTE FUNCTION edp.trips_rollup_trigger()', rel);
    RETURN rel;
END
$$;
COMMENT ON FUNCTION edp.create_trips_table(text, float8, text) IS
    'create a trips table (id, region, origin, destination, datetime, datasource) with GiST indexes, weekly rollups and point blocks kept by triggers';

-- dropping a trips table drops its rollups and its catalog row
CREATE FUNCTION edp.trips_drop_event()
RETURNS event_trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tt.relid::oid AS relid, tt.cell_weeks::oid AS cells, tt.region_weeks::oid AS regs,
                    tt.point_blocks::oid AS blocks,
                    d.schema_name, d.object_name
               FROM edp.trip_tables tt
               JOIN pg_catalog.pg_event_trigger_dropped_objects() d
                 ON d.objid = tt.relid::oid AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.objsubid = 0
    LOOP
        DELETE FROM edp.trip_tables WHERE relid::oid = t.relid;
        EXECUTE pg_catalog.format('DROP VIEW IF EXISTS %I.%I', t.schema_name, t.object_name || '_weekly_regions');
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = t.cells) THEN
            EXECUTE pg_catalog.format('DROP TABLE %s', t.cells::pg_catalog.regclass);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = t.regs) THEN
            EXECUTE pg_catalog.format('DROP TABLE %s', t.regs::pg_catalog.regclass);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = t.blocks) THEN
            EXECUTE pg_catalog.format('DROP TABLE %s', t.blocks::pg_catalog.regclass);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION edp.trips_drop_event() IS
    'event trigger: dropping a trips table drops its rollup and point block tables and its edp.trip_tables row';
CREATE EVENT TRIGGER edp_trips_drop ON sql_drop EXECUTE FUNCTION edp.trips_drop_event();

CREATE TABLE edp.regions (
    name     text PRIMARY KEY,
    geom     geometry(MultiPolygon, 4326) NOT NULL,
    builtin  boolean NOT NULL DEFAULT false
);
CREATE INDEX regions_geom_idx ON edp.regions USING gist (geom);
COMMENT ON TABLE edp.regions IS
    'named polygons for edp.region_weekly_trip_counts() and friends; builtin rows cover the generator''s cities';
SELECT pg_catalog.pg_extension_config_dump('edp.regions', 'WHERE NOT builtin');
GRANT SELECT ON edp.regions TO PUBLIC;
INSERT INTO edp.regions (name, geom, builtin) VALUES
    ('Prague',  ST_Multi(ST_MakeEnvelope(14.22, 49.94, 14.71, 50.18, 4326)), true),
    ('Turin',   ST_Multi(ST_MakeEnvelope(7.57, 44.99, 7.78, 45.14, 4326)), true),
    ('Hamburg', ST_Multi(ST_MakeEnvelope(9.73, 53.39, 10.33, 53.74, 4326)), true);

CREATE FUNCTION edp.generate_trips_wkb(n bigint, seed bigint, first_day date, weeks integer)
RETURNS TABLE (region text, origin bytea, destination bytea, datetime timestamp, datasource text)
AS 'MODULE_PATHNAME', 'edp_generate_trips_wkb'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION edp.generate_trips_wkb(bigint, bigint, date, integer) IS
    'generated trips with EWKB points (the C side of edp.generate_trips)';

CREATE FUNCTION edp.generate_trips(n bigint, seed bigint DEFAULT 1,
                                   first_day date DEFAULT '2018-01-01', weeks integer DEFAULT 26)
RETURNS TABLE (region text, origin geometry(Point, 4326), destination geometry(Point, 4326),
               datetime timestamp, datasource text)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 1000
BEGIN ATOMIC
    SELECT g.region, g.origin::geometry, g.destination::geometry, g.datetime, g.datasource
      FROM edp.generate_trips_wkb(n, seed, first_day, weeks) g;
END;
COMMENT ON FUNCTION edp.generate_trips(bigint, bigint, date, integer) IS
    'n deterministic trips in Prague, Turin and Hamburg (200 hotspots each, morning and evening peaks, some nearly empty weeks)';

CREATE FUNCTION edp.trip_distance_m(lon1 float8, lat1 float8, lon2 float8, lat2 float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'edp_trip_distance_m'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_distance_m(float8, float8, float8, float8) IS
    'distance in metres on WGS 84 between two nearby points, as used by edp.trip_assignments()';

-- The weeks of a period: Mondays (as dates in time_zone) from the week of
-- first_week to the week of last_week; a NULL bound is taken from the data
-- (trips.datetime holds UTC wall-clock times).  Returns the Mondays and the
-- UTC timestamps that bound the period, for index-friendly filters.
CREATE FUNCTION edp.trip_weeks(trip_table pg_catalog.regclass, time_zone text,
                               first_week date, last_week date,
                               OUT first_monday date, OUT last_monday date,
                               OUT utc_from timestamp, OUT utc_to timestamp)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    tmin timestamp;
    tmax timestamp;
BEGIN
    IF time_zone IS NULL THEN
        RAISE EXCEPTION 'time zone must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.now() AT TIME ZONE time_zone;     -- rejects unknown zones (22023)
    IF first_week IS NULL OR last_week IS NULL THEN
        EXECUTE pg_catalog.format('SELECT min(datetime), max(datetime) FROM %s', trip_table)
           INTO tmin, tmax;
    END IF;
    first_monday := pg_catalog.date_trunc('week', coalesce(first_week::timestamp,
                        (tmin AT TIME ZONE 'UTC') AT TIME ZONE time_zone))::date;
    last_monday := pg_catalog.date_trunc('week', coalesce(last_week::timestamp,
                        (tmax AT TIME ZONE 'UTC') AT TIME ZONE time_zone))::date;
    IF first_monday > last_monday THEN
        RAISE EXCEPTION 'first week % is after last week %', first_week, last_week
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    utc_from := (first_monday::timestamp AT TIME ZONE time_zone) AT TIME ZONE 'UTC';
    utc_to := ((last_monday + 7)::timestamp AT TIME ZONE time_zone) AT TIME ZONE 'UTC';
END
$$;
COMMENT ON FUNCTION edp.trip_weeks(pg_catalog.regclass, text, date, date) IS
    'the ISO weeks (Mondays in time_zone) of a period, defaulting to the span of the trips table';

-- Trips per week (only weeks with trips) whose origin, destination or both
-- ends lie in area.  With a rollup in the same time zone, cells wholly
-- inside the area come from the rollup and only trips with an end in a
-- cell on the area's edge are counted from the table (GiST per edge cell);
-- otherwise the table is queried directly through the GiST indexes.
-- Boxes that the rollup's cells do not pay for (more edge than interior
-- cells) are counted from the point blocks of the cells they touch: the
-- exact coordinates packed per fine cell, a few pages instead of one heap
-- page per trip; 'both' reads blocks keyed by (origin cell, destination
-- cell), so only trips with both ends near the box are tested.
-- jit = off: at 10M trips the direct query's estimated cost passes
-- jit_optimize_above_cost and compiling it took ~0.4 s of a ~1.5 s answer
-- (5 km box), while the work per row is a few function calls.
CREATE FUNCTION edp.trip_area_week_counts(trip_table pg_catalog.regclass, area geometry, part text,
                                          time_zone text, first_monday date, last_monday date,
                                          utc_from timestamp, utc_to timestamp, use_rollup boolean)
RETURNS TABLE (week date, trips bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET jit = off
AS $$
DECLARE
    cfg edp.trip_tables;
    s float8;
    x0 int; x1 int; y0 int; y1 int;
    direct boolean;
    wk text := $w$pg_catalog.date_trunc('week', (t.datetime AT TIME ZONE 'UTC') AT TIME ZONE $2)::date$w$;
    inside_o text := 'ST_Intersects(t.origin, $1)';
    inside_d text := 'ST_Intersects(t.destination, $1)';
    bx float8[];
    kind int;
    ids bigint[];
BEGIN
    -- use_rollup: NULL = when it pays, true = whenever one exists, false = never
    IF use_rollup IS DISTINCT FROM false THEN
        SELECT * INTO cfg FROM edp.trip_tables WHERE relid = trip_table AND trip_tables.time_zone = trip_area_week_counts.time_zone;
    END IF;
    IF cfg.relid IS NOT NULL THEN
        s := cfg.cell_size;
        x0 := pg_catalog.floor(ST_XMin(area) / s); x1 := pg_catalog.floor(ST_XMax(area) / s);
        y0 := pg_catalog.floor(ST_YMin(area) / s); y1 := pg_catalog.floor(ST_YMax(area) / s);
        IF use_rollup IS NULL THEN
            bx := edp.trip_area_box(ST_AsBinary(area));
        END IF;
        IF (x1 - x0 + 1)::float8 * (y1 - y0 + 1) > 50000 THEN
            cfg.relid := NULL;      -- too many cells for this area: direct path
        ELSIF bx IS NOT NULL THEN
            -- a box: its cells wholly inside are counted, not tested (the
            -- rule below, in arithmetic); the rollup pays when they are at
            -- least half of the cells it touches, else the point blocks do
            IF 2 * (GREATEST(0, pg_catalog.floor(bx[3] / s) - pg_catalog.ceil(bx[1] / s))
                    * GREATEST(0, pg_catalog.floor(bx[4] / s) - pg_catalog.ceil(bx[2] / s)))
               < (x1 - x0 + 1)::float8 * (y1 - y0 + 1) THEN
                kind := CASE part WHEN 'origin' THEN 1 WHEN 'destination' THEN 2 ELSE 3 END;
                ids := edp.trip_cell_ids(bx[1], bx[2], bx[3], bx[4],
                                         CASE kind WHEN 3 THEN cfg.pair_cell ELSE cfg.block_cell END);
            END IF;
            IF ids IS NOT NULL THEN
                -- one index probe per cell (per pair of cells for 'both');
                -- OFFSET 0 keeps the probes a nested loop
                RETURN QUERY EXECUTE pg_catalog.format($q$
                    SELECT ($7 + 7 * (u.o - 1)::int)::date, u.c
                      FROM pg_catalog.unnest((
                               SELECT edp.trip_block_counts(b.points, b.c1, b.c2, $1, $2, $3, $4, $5, $9, $7, $8)
                                 FROM pg_catalog.unnest($6) o(id), %s,
                                      LATERAL (SELECT b.c1, b.c2, b.points FROM %s b
                                                WHERE b.kind = $1 AND b.c1 = o.id AND b.c2 = d.id OFFSET 0) b))
                           WITH ORDINALITY AS u(c, o)
                     WHERE u.c > 0$q$,
                    CASE kind WHEN 3 THEN 'pg_catalog.unnest($6) d(id)' ELSE '(VALUES (0::bigint)) d(id)' END,
                    cfg.point_blocks)
                USING kind, bx[1], bx[2], bx[3], bx[4], ids, first_monday, last_monday,
                      CASE kind WHEN 3 THEN cfg.pair_cell ELSE cfg.block_cell END;
                RETURN;
            END IF;
        ELSIF use_rollup IS NULL THEN
            -- the rollup pays when the area holds more interior than edge
            -- cells; small areas are cheaper straight from the GiST indexes
            SELECT pg_catalog.count(*) FILTER (WHERE ST_Covers(area, ST_Expand(b, 1e-9)))
                   < pg_catalog.count(*) FILTER (WHERE NOT ST_Covers(area, ST_Expand(b, 1e-9)))
              INTO direct
              FROM pg_catalog.generate_series(x0, x1) x, pg_catalog.generate_series(y0, y1) y,
                   LATERAL ST_MakeEnvelope(x * s, y * s, (x + 1) * s, (y + 1) * s, 4326) b
             WHERE ST_Intersects(area, ST_Expand(b, 1e-9));
            IF direct THEN
                cfg.relid := NULL;
            END IF;
        END IF;
    END IF;

    IF cfg.relid IS NULL THEN
        -- one pass through the C aggregate (weeks by binary search, parallel)
        RETURN QUERY EXECUTE pg_catalog.format($q$
            SELECT ($5 + 7 * (u.o - 1)::int)::date, u.c
              FROM pg_catalog.unnest((SELECT edp.weekly_counts(t.datetime, $5, $6, $2)
                                        FROM %s t
                                       WHERE %s AND t.datetime >= $3 AND t.datetime < $4))
                   WITH ORDINALITY AS u(c, o)
             WHERE u.c > 0$q$, trip_table,
             CASE part WHEN 'origin' THEN inside_o WHEN 'destination' THEN inside_d
                       ELSE inside_o || ' AND ' || inside_d END)
        USING area, time_zone, utc_from, utc_to, first_monday, last_monday;
        RETURN;
    END IF;

    -- cells of the area's bounding box: interior (wholly covered, with a
    -- margin for rounding) or edge (touching the area).  A trip's cell is
    -- floor(coordinate / size); that point may lie a rounding error outside
    -- the cell's computed box, so boxes are widened by 1e-9 degrees and the
    -- cell is then matched exactly by number.
    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH cls AS MATERIALIZED (
            SELECT x, y, ST_Expand(b.box, 1e-9) AS box, ST_Covers($1, ST_Expand(b.box, 1e-9)) AS interior
              FROM pg_catalog.generate_series($5, $6) x, pg_catalog.generate_series($7, $8) y,
                   LATERAL (SELECT ST_MakeEnvelope(x * $9, y * $9, (x + 1) * $9, (y + 1) * $9, 4326) AS box) b
             WHERE ST_Intersects($1, ST_Expand(b.box, 1e-9))),
        inner_cells AS MATERIALIZED (SELECT x, y FROM cls WHERE interior),
        edge_cells AS MATERIALIZED (SELECT x, y, box FROM cls WHERE NOT interior),
        rolled AS (
            SELECT c.week AS w, pg_catalog.sum(c.trips)::bigint AS n
              FROM %2$s c
             WHERE c.week BETWEEN $10 AND $11
               AND (%3$s OR (c.ox BETWEEN $5 AND $6 AND c.oy BETWEEN $7 AND $8))
               AND (%4$s OR (c.dx BETWEEN $5 AND $6 AND c.dy BETWEEN $7 AND $8))
               AND (%3$s OR (c.ox, c.oy) IN (SELECT x, y FROM inner_cells))
               AND (%4$s OR (c.dx, c.dy) IN (SELECT x, y FROM inner_cells))
             GROUP BY 1),
        edge_o AS (         -- origin in an edge cell (and inside the area)
            SELECT %5$s AS w, pg_catalog.count(*) AS n
              FROM edge_cells e JOIN %1$s t ON t.origin && e.box
             WHERE pg_catalog.floor(ST_X(t.origin) / $9)::int = e.x
               AND pg_catalog.floor(ST_Y(t.origin) / $9)::int = e.y
               AND ST_Intersects(t.origin, $1) AND %6$s
               AND t.datetime >= $3 AND t.datetime < $4
             GROUP BY 1),
        edge_d AS (         -- destination in an edge cell, origin not in one
            SELECT %5$s AS w, pg_catalog.count(*) AS n
              FROM edge_cells e JOIN %1$s t ON t.destination && e.box
             WHERE pg_catalog.floor(ST_X(t.destination) / $9)::int = e.x
               AND pg_catalog.floor(ST_Y(t.destination) / $9)::int = e.y
               AND ST_Intersects(t.destination, $1) AND %7$s
               AND t.datetime >= $3 AND t.datetime < $4
             GROUP BY 1)
        SELECT u.w, pg_catalog.sum(u.n)::bigint
          FROM (SELECT * FROM rolled UNION ALL SELECT * FROM edge_o UNION ALL SELECT * FROM edge_d) u
         GROUP BY 1$q$,
        trip_table, cfg.cell_weeks,
        (part = 'destination')::text,                   -- origin unconstrained
        (part = 'origin')::text,                        -- destination unconstrained
        wk,
        CASE part WHEN 'origin' THEN 'true' WHEN 'destination' THEN 'false' ELSE inside_d END,
        CASE part WHEN 'origin' THEN 'false' WHEN 'destination' THEN 'true'
             -- (false OR ...) keeps this a hashed subplan rather than a join
             ELSE $c$(false OR (pg_catalog.floor(ST_X(t.origin) / $9)::int, pg_catalog.floor(ST_Y(t.origin) / $9)::int)
                      IN (SELECT x, y FROM inner_cells))$c$ END,
        NULL, NULL, NULL, NULL,
        (SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'postgis'))
    USING area, time_zone, utc_from, utc_to, x0, x1, y0, y1, s, first_monday, last_monday;
END
$$;
COMMENT ON FUNCTION edp.trip_area_week_counts(pg_catalog.regclass, geometry, text, text, date, date, timestamp, timestamp, boolean) IS
    'trips per week with origin, destination or both in an area (rollup cells plus exact edge cells, or direct)';

CREATE FUNCTION edp.weekly_trip_counts(trip_table pg_catalog.regclass, area geometry,
                                       match text DEFAULT 'both', time_zone text DEFAULT 'UTC',
                                       first_week date DEFAULT NULL, last_week date DEFAULT NULL,
                                       use_rollup boolean DEFAULT NULL)
RETURNS TABLE (week_start date, trips bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    w record;
BEGIN
    IF area IS NULL OR match IS NULL THEN
        RAISE EXCEPTION 'area and match must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF match NOT IN ('both', 'origin', 'either') THEN
        RAISE EXCEPTION 'invalid match "%"', match
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use both, origin or either.';
    END IF;
    IF ST_SRID(area) = 0 THEN
        area := ST_SetSRID(area, 4326);
    ELSIF ST_SRID(area) <> 4326 THEN
        RAISE EXCEPTION 'area has SRID %, expected 4326', ST_SRID(area)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ST_Transform(area, 4326).';
    END IF;
    w := edp.trip_weeks(trip_table, time_zone, first_week, last_week);
    IF w.first_monday IS NULL THEN
        RETURN;                 -- no period given and no data
    END IF;
    -- either = origin inside + destination inside - both inside
    RETURN QUERY
        WITH c AS MATERIALIZED (
                SELECT p.sign, x.week, x.trips
                  FROM (VALUES ('origin', 1, match IN ('origin', 'either')),
                               ('destination', 1, match = 'either'),
                               ('both', -1, match = 'either'),
                               ('both', 1, match = 'both')) p(part, sign, wanted),
                       LATERAL edp.trip_area_week_counts(trip_table, area, p.part, time_zone,
                                                         w.first_monday, w.last_monday,
                                                         w.utc_from, w.utc_to, use_rollup) x
                 WHERE p.wanted)
        SELECT g.w::date, coalesce(pg_catalog.sum(c.trips * c.sign), 0)::bigint
          FROM pg_catalog.generate_series(w.first_monday::timestamp, w.last_monday::timestamp, interval '7 days') g(w)
          LEFT JOIN c ON c.week = g.w::date
         GROUP BY g.w
         ORDER BY g.w;
END
$$;
COMMENT ON FUNCTION edp.weekly_trip_counts(pg_catalog.regclass, geometry, text, text, date, date, boolean) IS
    'trips per ISO week (Monday in time_zone) inside an area, every week of the period, empty weeks as 0';

CREATE FUNCTION edp.weekly_trip_counts(trip_table pg_catalog.regclass,
                                       xmin float8, ymin float8, xmax float8, ymax float8,
                                       match text DEFAULT 'both', time_zone text DEFAULT 'UTC',
                                       first_week date DEFAULT NULL, last_week date DEFAULT NULL)
RETURNS TABLE (week_start date, trips bigint)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT c.week_start, c.trips
      FROM edp.weekly_trip_counts(trip_table, ST_MakeEnvelope(xmin, ymin, xmax, ymax, 4326),
                                  match, time_zone, first_week, last_week) c;
END;
COMMENT ON FUNCTION edp.weekly_trip_counts(pg_catalog.regclass, float8, float8, float8, float8, text, text, date, date) IS
    'trips per ISO week inside the bounding box (xmin, ymin, xmax, ymax) in degrees of WGS 84';

CREATE FUNCTION edp.region_weekly_trip_counts(trip_table pg_catalog.regclass, region text,
                                              time_zone text DEFAULT 'UTC',
                                              first_week date DEFAULT NULL, last_week date DEFAULT NULL,
                                              use_rollup boolean DEFAULT true)
RETURNS TABLE (week_start date, trips bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    w record;
    rollup pg_catalog.regclass;
BEGIN
    IF region IS NULL OR use_rollup IS NULL THEN
        RAISE EXCEPTION 'region and use_rollup must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    w := edp.trip_weeks(trip_table, time_zone, first_week, last_week);
    IF w.first_monday IS NULL THEN
        RETURN;
    END IF;
    IF use_rollup THEN
        SELECT t.region_weeks INTO rollup FROM edp.trip_tables t
         WHERE t.relid = trip_table AND t.time_zone = region_weekly_trip_counts.time_zone;
    END IF;
    IF rollup IS NOT NULL THEN
        RETURN QUERY EXECUTE pg_catalog.format($q$
            SELECT g.w::date, coalesce(pg_catalog.sum(c.trips), 0)::bigint
              FROM pg_catalog.generate_series($3::timestamp, $4::timestamp, interval '7 days') g(w)
              LEFT JOIN %s c ON c.region = $1 AND c.week = g.w::date
             GROUP BY g.w ORDER BY g.w$q$, rollup)
        USING region, time_zone, w.first_monday, w.last_monday;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH c AS MATERIALIZED (
            SELECT pg_catalog.date_trunc('week', (t.datetime AT TIME ZONE 'UTC') AT TIME ZONE $2)::date AS w,
                   pg_catalog.count(*) AS n
              FROM %s t
             WHERE t.region = $1 AND t.datetime >= $5 AND t.datetime < $6
             GROUP BY 1)
        SELECT g.w::date, coalesce(c.n, 0)::bigint
          FROM pg_catalog.generate_series($3::timestamp, $4::timestamp, interval '7 days') g(w)
          LEFT JOIN c ON c.w = g.w::date
         ORDER BY 1$q$, trip_table)
    USING region, time_zone, w.first_monday, w.last_monday, w.utc_from, w.utc_to;
END
$$;
COMMENT ON FUNCTION edp.region_weekly_trip_counts(pg_catalog.regclass, text, text, date, date, boolean) IS
    'trips per ISO week whose region column equals region, every week of the period, empty weeks as 0';

CREATE FUNCTION edp.weekly_trip_average(trip_table pg_catalog.regclass, area geometry,
                                        match text DEFAULT 'both', time_zone text DEFAULT 'UTC',
                                        first_week date DEFAULT NULL, last_week date DEFAULT NULL)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.avg(c.trips)::float8
      FROM edp.weekly_trip_counts(trip_table, area, match, time_zone, first_week, last_week) c;
END;
COMMENT ON FUNCTION edp.weekly_trip_average(pg_catalog.regclass, geometry, text, text, date, date) IS
    'average trips per ISO week inside an area over every week of the period (empty weeks count as 0)';

CREATE FUNCTION edp.weekly_trip_average(trip_table pg_catalog.regclass,
                                        xmin float8, ymin float8, xmax float8, ymax float8,
                                        match text DEFAULT 'both', time_zone text DEFAULT 'UTC',
                                        first_week date DEFAULT NULL, last_week date DEFAULT NULL)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.avg(c.trips)::float8
      FROM edp.weekly_trip_counts(trip_table, ST_MakeEnvelope(xmin, ymin, xmax, ymax, 4326),
                                  match, time_zone, first_week, last_week) c;
END;
COMMENT ON FUNCTION edp.weekly_trip_average(pg_catalog.regclass, float8, float8, float8, float8, text, text, date, date) IS
    'average trips per ISO week inside the bounding box over every week of the period (empty weeks count as 0)';

CREATE FUNCTION edp.region_weekly_trip_average(trip_table pg_catalog.regclass, region text,
                                               time_zone text DEFAULT 'UTC',
                                               first_week date DEFAULT NULL, last_week date DEFAULT NULL)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.avg(c.trips)::float8
      FROM edp.region_weekly_trip_counts(trip_table, region, time_zone, first_week, last_week) c;
END;
COMMENT ON FUNCTION edp.region_weekly_trip_average(pg_catalog.regclass, text, text, date, date) IS
    'average trips per ISO week of one region value over every week of the period (empty weeks count as 0)';

-- clustering: DBSCAN over origin, destination and circular time of day
CREATE FUNCTION edp.trip_assignments(trip_table pg_catalog.regclass, eps_origin_m float8,
                                     eps_destination_m float8, eps_minutes float8,
                                     min_trips integer, time_zone text DEFAULT 'UTC')
RETURNS TABLE (trip_id bigint, group_id bigint, core boolean)
AS 'MODULE_PATHNAME', 'edp_trip_assignments'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION edp.trip_assignments(pg_catalog.regclass, float8, float8, float8, integer, text) IS
    'DBSCAN of trips by origin and destination distance (metres, WGS 84) and circular time of day: each trip''s group (NULL: noise)';

CREATE FUNCTION edp.trip_groups(trip_table pg_catalog.regclass, eps_origin_m float8,
                                eps_destination_m float8, eps_minutes float8,
                                min_trips integer, time_zone text DEFAULT 'UTC')
RETURNS TABLE (group_id bigint, trips bigint, core_trips bigint,
               origin_centroid geometry(Point, 4326), destination_centroid geometry(Point, 4326),
               mean_time_of_day time, time_spread_minutes float8, regions text[])
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
AS $$
BEGIN
    RETURN QUERY EXECUTE pg_catalog.format($q$
        SELECT a.group_id, count(*), count(*) FILTER (WHERE a.core),
               ST_SetSRID(ST_MakePoint(avg(ST_X(a.origin)), avg(ST_Y(a.origin))), 4326),
               ST_SetSRID(ST_MakePoint(avg(ST_X(a.destination)), avg(ST_Y(a.destination))), 4326),
               pg_catalog.make_interval(secs => round(pg_catalog.mod(
                   (degrees(atan2(avg(sin(a.angle)), avg(cos(a.angle)))) * 4 + 1440)::numeric, 1440) * 60))::time,
               sqrt(-2 * ln(least(1, greatest(1e-300, sqrt(avg(sin(a.angle)) ^ 2 + avg(cos(a.angle)) ^ 2)))))
                 * 1440 / (2 * pi()),
               array_agg(DISTINCT a.region ORDER BY a.region)
          FROM (SELECT x.group_id, x.core, t.origin, t.destination, t.region,
                       2 * pi() * extract(epoch FROM ((t.datetime AT TIME ZONE 'UTC') AT TIME ZONE $6)::time)
                         / 86400 AS angle
                  FROM edp.trip_assignments($1, $2, $3, $4, $5, $6) x
                  JOIN %s t ON t.id = x.trip_id
                 WHERE x.group_id IS NOT NULL) a
         GROUP BY a.group_id
         ORDER BY a.group_id$q$, trip_table)
    USING trip_table, eps_origin_m, eps_destination_m, eps_minutes, min_trips, time_zone;
END
$$;
COMMENT ON FUNCTION edp.trip_groups(pg_catalog.regclass, float8, float8, float8, integer, text) IS
    'groups of edp.trip_assignments(): size, origin and destination centroids, circular mean and spread of time of day, regions';

-- BI: groups as a materialized view, and an SVG map
CREATE FUNCTION edp.create_trip_groups_view(trip_table pg_catalog.regclass, view_name text,
                                            eps_origin_m float8, eps_destination_m float8,
                                            eps_minutes float8, min_trips integer,
                                            time_zone text DEFAULT 'UTC')
RETURNS pg_catalog.regclass
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $$
DECLARE
    qname text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(p), '.') INTO qname
      FROM pg_catalog.unnest(pg_catalog.parse_ident(view_name)) p;
    EXECUTE pg_catalog.format(
        'CREATE MATERIALIZED VIEW %s AS SELECT * FROM edp.trip_groups(%L::pg_catalog.regclass, %s, %s, %s, %s, %L)',
        qname, trip_table, eps_origin_m, eps_destination_m, eps_minutes, min_trips, time_zone);
    EXECUTE pg_catalog.format('COMMENT ON MATERIALIZED VIEW %s IS %L', qname,
        pg_catalog.format('edp BI view: trip groups of %s (origin %s m, destination %s m, %s min, at least %s trips); REFRESH MATERIALIZED VIEW to update',
                          trip_table, eps_origin_m, eps_destination_m, eps_minutes, min_trips));
    RETURN qname::pg_catalog.regclass;
END
$$;
COMMENT ON FUNCTION edp.create_trip_groups_view(pg_catalog.regclass, text, float8, float8, float8, integer, text) IS
    'create a materialized view of edp.trip_groups() for BI tools';

CREATE FUNCTION edp.trips_svg(trip_table pg_catalog.regclass, area geometry,
                              eps_origin_m float8 DEFAULT 200, eps_destination_m float8 DEFAULT 200,
                              eps_minutes float8 DEFAULT 30, min_trips integer DEFAULT 10,
                              max_trips integer DEFAULT 2000, width integer DEFAULT 800)
RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
AS $$
DECLARE
    b box2d;
    dx float8;
    dy float8;
    height integer;
    sx float8;
    sy float8;
    trips text;
    groups text;
BEGIN
    IF ST_SRID(area) NOT IN (0, 4326) THEN
        RAISE EXCEPTION 'area has SRID %, expected 4326', ST_SRID(area)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF width < 16 OR width > 10000 OR max_trips < 0 THEN
        RAISE EXCEPTION 'width must be between 16 and 10000 pixels and max_trips not negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    area := ST_SetSRID(area, 4326);
    b := area::box2d;
    dx := greatest(ST_XMax(b) - ST_XMin(b), 1e-9);
    dy := greatest(ST_YMax(b) - ST_YMin(b), 1e-9);
    -- degrees of longitude shrink with cos(latitude)
    height := greatest(16, round(width * dy / (dx * cos(radians((ST_YMin(b) + ST_YMax(b)) / 2)))));
    -- pixel coordinates: x right from the west edge, y down from the north
    -- edge (ST_AsSVG negates y), so strokes and dots are in pixels
    sx := width / dx;
    sy := height / dy;

    EXECUTE pg_catalog.format($q$
        SELECT coalesce(pg_catalog.string_agg(pg_catalog.format('<path d="%%s"/>',
                        ST_AsSVG(ST_Affine(ST_MakeLine(t.origin, t.destination), $3, 0, 0, $4, $5, $6), 0, 1)),
                        '' ORDER BY t.id), '')
          FROM (SELECT * FROM %s t WHERE ST_Intersects(t.origin, $1) ORDER BY t.id LIMIT $2) t$q$, trip_table)
      INTO trips USING area, max_trips, sx, sy, -ST_XMin(b) * sx, -ST_YMax(b) * sy;
    SELECT coalesce(pg_catalog.string_agg(pg_catalog.format(
               '<g class="group" id="group-%s">%s'
               '<path class="route" d="%s" stroke-width="%s"/><path class="origin" d="%s"/></g>',
               g.group_id,
               xmlelement(name title, pg_catalog.format('group %s: %s trips, %s ± %s min, %s',
                          g.group_id, g.trips, g.mean_time_of_day, round(g.time_spread_minutes::numeric, 1),
                          pg_catalog.array_to_string(g.regions, ', ')))::text,
               ST_AsSVG(ST_Affine(ST_MakeLine(g.origin_centroid, g.destination_centroid),
                                  sx, 0, 0, sy, -ST_XMin(b) * sx, -ST_YMax(b) * sy), 0, 1),
               round(1 + ln(g.trips)::numeric, 1),
               ST_AsSVG(ST_Affine(ST_MakeLine(g.origin_centroid, g.origin_centroid),
                                  sx, 0, 0, sy, -ST_XMin(b) * sx, -ST_YMax(b) * sy), 0, 1)),
               '' ORDER BY g.group_id), '')
      INTO groups
      FROM edp.trip_groups(trip_table, eps_origin_m, eps_destination_m, eps_minutes, min_trips) g
     WHERE ST_Intersects(g.origin_centroid, area);

    RETURN pg_catalog.format(
        '<?xml version="1.0" encoding="UTF-8"?>' || E'\n' ||
        '<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">'
        '%s'
        '<style>path{fill:none}'
        '.area{fill:#f5f3ee;stroke:#888;stroke-width:1}'
        '.trips path{stroke:#3778bf;stroke-opacity:0.25;stroke-width:0.5}'
        '.route{stroke:#d1495b;stroke-opacity:0.8;stroke-linecap:round}'
        '.origin{stroke:#d1495b;stroke-width:7;stroke-linecap:round}</style>'
        '<path class="area" d="%s"/><g class="trips">%s</g><g class="groups">%s</g></svg>',
        width, height, width, height,
        xmlelement(name title, 'trips of ' || trip_table::text)::text,
        ST_AsSVG(ST_Affine(area, sx, 0, 0, sy, -ST_XMin(b) * sx, -ST_YMax(b) * sy), 0, 1), trips, groups);
END
$$;
COMMENT ON FUNCTION edp.trips_svg(pg_catalog.regclass, geometry, float8, float8, float8, integer, integer, integer) IS
    'an SVG map of an area: its outline, up to max_trips trips starting there, and the trip groups starting there';

-- weekly aggregates: trips per ISO week of a fixed period, zero weeks included
CREATE FUNCTION edp.weekly_trips_add(internal, timestamp, date, date, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_weekly_trips_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.weekly_trips_add(internal, timestamp, date, date, text) IS
    'transition function of edp.weekly_average and edp.weekly_counts';
CREATE FUNCTION edp.weekly_trips_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_weekly_trips_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.weekly_trips_combine(internal, internal) IS
    'combine function of edp.weekly_average and edp.weekly_counts';
CREATE FUNCTION edp.weekly_trips_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'edp_weekly_trips_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.weekly_trips_serialize(internal) IS
    'serialize function of edp.weekly_average and edp.weekly_counts';
CREATE FUNCTION edp.weekly_trips_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_weekly_trips_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.weekly_trips_deserialize(bytea, internal) IS
    'deserialize function of edp.weekly_average and edp.weekly_counts';
CREATE FUNCTION edp.weekly_trips_average(internal)
RETURNS float8
AS 'MODULE_PATHNAME', 'edp_weekly_trips_average'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.weekly_trips_average(internal) IS
    'final function of edp.weekly_average';
CREATE FUNCTION edp.weekly_trips_counts(internal)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'edp_weekly_trips_counts'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.weekly_trips_counts(internal) IS
    'final function of edp.weekly_counts';

CREATE AGGREGATE edp.weekly_average(datetime timestamp, first_week date, last_week date, time_zone text) (
    SFUNC = edp.weekly_trips_add,
    STYPE = internal,
    COMBINEFUNC = edp.weekly_trips_combine,
    SERIALFUNC = edp.weekly_trips_serialize,
    DESERIALFUNC = edp.weekly_trips_deserialize,
    FINALFUNC = edp.weekly_trips_average,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.weekly_average(timestamp, date, date, text) IS
    'average rows per ISO week (Monday in time_zone) from first_week to last_week, empty weeks counting as 0';
CREATE AGGREGATE edp.weekly_counts(datetime timestamp, first_week date, last_week date, time_zone text) (
    SFUNC = edp.weekly_trips_add,
    STYPE = internal,
    COMBINEFUNC = edp.weekly_trips_combine,
    SERIALFUNC = edp.weekly_trips_serialize,
    DESERIALFUNC = edp.weekly_trips_deserialize,
    FINALFUNC = edp.weekly_trips_counts,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.weekly_counts(timestamp, date, date, text) IS
    'rows per ISO week (Monday in time_zone) from first_week to last_week, as an array in week order';

-- trips: pin search_path of the plpgsql functions above to PostGIS's schema,
-- which is known only at install time (scripts/check_security.pl reads this list)
DO $$
DECLARE
    f pg_catalog.regprocedure;
    postgis_schema name := (SELECT n.nspname FROM pg_catalog.pg_extension e
                              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                             WHERE e.extname OPERATOR(pg_catalog.=) 'postgis');
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'edp.trips_rollup_trigger()',
        'edp.trips_drop_event()',
        'edp.trip_weeks(pg_catalog.regclass, text, date, date)',
        'edp.trip_area_week_counts(pg_catalog.regclass, geometry, text, text, date, date, timestamp, timestamp, boolean)',
        'edp.weekly_trip_counts(pg_catalog.regclass, geometry, text, text, date, date, boolean)',
        'edp.region_weekly_trip_counts(pg_catalog.regclass, text, text, date, date, boolean)',
        'edp.trip_groups(pg_catalog.regclass, float8, float8, float8, integer, text)',
        'edp.trips_svg(pg_catalog.regclass, geometry, float8, float8, float8, integer, integer, integer)'
    ]::pg_catalog.regprocedure[]
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                                  f, postgis_schema);
    END LOOP;
END
$$;
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
    mapped_by       pg_catalog.regrole NOT NULL,       -- the superuser who mapped it: reads the files
    created_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    run_as          pg_catalog.regrole                 -- whom loads run as; NULL: the target's owner
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
            mapped_by = EXCLUDED.mapped_by, run_as = EXCLUDED.run_as;
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

-- buckets: fixed time buckets, rollup, dedupe (issue 3) --------------------

CREATE FUNCTION edp.bucket_start(ts pg_catalog.timestamptz, width pg_catalog.interval,
                                 tz pg_catalog.text DEFAULT 'UTC')
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'edp_bucket_start_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_start(pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text) IS
    'start of the bucket of the given width holding ts; boundaries on the local clock of tz (offsets east of UTC, e.g. +05:30, or a zone name)';

CREATE FUNCTION edp.bucket_series(from_ts pg_catalog.timestamptz, to_ts pg_catalog.timestamptz,
                                  width pg_catalog.interval DEFAULT '1 hour',
                                  tz pg_catalog.text DEFAULT 'UTC')
RETURNS SETOF pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'edp_bucket_series'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_series(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text) IS
    'start of every bucket overlapping [from_ts, to_ts), in order';

CREATE FUNCTION edp.parse_timestamp(pg_catalog.text)
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'edp_parse_timestamp'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.parse_timestamp(pg_catalog.text) IS
    'timestamptz from text with any UTC offset; text without an offset is read in edp.naive_timezone (UTC by default)';

CREATE FUNCTION edp.xact_is_current(pg_catalog.xid)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'edp_xact_is_current'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.xact_is_current(pg_catalog.xid) IS
    'true when a row version with this xmin was written by the current transaction (used by dedupe)';

CREATE FUNCTION edp.buckets_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_buckets_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.buckets_trigger() IS
    'statement trigger of event tables: keeps the rollup exact and removes duplicate events';

CREATE FUNCTION edp.bucket_counts(tbl pg_catalog.regclass, key anyelement,
                                  from_ts pg_catalog.timestamptz, to_ts pg_catalog.timestamptz,
                                  width pg_catalog.interval DEFAULT '1 hour',
                                  tz pg_catalog.text DEFAULT 'UTC',
                                  fill pg_catalog.bool DEFAULT true)
RETURNS TABLE (bucket_start pg_catalog.timestamptz, events pg_catalog.int8)
AS 'MODULE_PATHNAME', 'edp_bucket_counts'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts(pg_catalog.regclass, anyelement, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text, pg_catalog.bool) IS
    'events of one key per bucket in [from_ts, to_ts), in bucket order, empty buckets as 0 when fill; served from the rollup where it can';

CREATE FUNCTION edp.bucket_counts_by(tbl pg_catalog.regclass, group_by pg_catalog.text,
                                     from_ts pg_catalog.timestamptz, to_ts pg_catalog.timestamptz,
                                     width pg_catalog.interval DEFAULT '1 hour',
                                     tz pg_catalog.text DEFAULT 'UTC',
                                     fill pg_catalog.bool DEFAULT false,
                                     key pg_catalog.text DEFAULT NULL)
RETURNS TABLE (group_value pg_catalog.text, bucket_start pg_catalog.timestamptz, events pg_catalog.int8)
AS 'MODULE_PATHNAME', 'edp_bucket_counts_by'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts_by(pg_catalog.regclass, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text, pg_catalog.bool, pg_catalog.text) IS
    'events per value of any column per bucket in [from_ts, to_ts), optionally for one key';

CREATE FUNCTION edp._invalidate_settings(tbl pg_catalog.regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'edp_invalidate_settings'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp._invalidate_settings(pg_catalog.regclass) IS
    'internal: tells all backends that the bucket settings of tbl changed (relcache invalidation)';

-- admin helpers: the caller must own the table; they run with the caller's
-- rights (edp.event_tables lets owners write their tables' rows)
CREATE FUNCTION edp._check_owner(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k "char";
BEGIN
    SELECT relkind INTO k FROM pg_class WHERE oid = tbl;
    IF k IS NULL OR k NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'relation "%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;
COMMENT ON FUNCTION edp._check_owner(pg_catalog.regclass) IS
    'internal: raises 42809 unless tbl is a table and 42501 unless the session user owns it';

CREATE FUNCTION edp._check_column(tbl pg_catalog.regclass, col pg_catalog.name, want pg_catalog.regtype DEFAULT NULL)
RETURNS pg_catalog.regtype
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regtype;
BEGIN
    SELECT atttypid INTO t FROM pg_attribute
     WHERE attrelid = tbl AND attname = col AND attnum > 0 AND NOT attisdropped;
    IF t IS NULL THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF want IS NOT NULL AND t <> want THEN
        RAISE EXCEPTION 'column "%" of table % has type %, not %', col, tbl, t, want
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION edp._check_column(pg_catalog.regclass, pg_catalog.name, pg_catalog.regtype) IS
    'internal: type of column col of tbl; raises 42703 if missing, 42804 if not of type want';

CREATE FUNCTION edp._ensure_bucket_triggers(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'edp_buckets_insert') THEN
        EXECUTE format('CREATE TRIGGER edp_buckets_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS edp_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', tbl);
        EXECUTE format('CREATE TRIGGER edp_buckets_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS edp_old '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', tbl);
        EXECUTE format('CREATE TRIGGER edp_buckets_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS edp_old NEW TABLE AS edp_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', tbl);
        EXECUTE format('CREATE TRIGGER edp_buckets_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', tbl);
    END IF;
END
$$;
COMMENT ON FUNCTION edp._ensure_bucket_triggers(pg_catalog.regclass) IS
    'internal: creates the statement triggers (edp_buckets_*) that maintain rollup and dedupe';

CREATE FUNCTION edp._rollup_pack(slots pg_catalog.int4[], counts pg_catalog.int8[])
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_rollup_pack'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp._rollup_pack(pg_catalog.int4[], pg_catalog.int8[]) IS
    'internal: packs (slot, count) pairs of one rollup row, sorted by slot, summing repeats, dropping zeros';

CREATE FUNCTION edp._rollup_merge(pg_catalog.int8[], pg_catalog.int8[])
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_rollup_merge'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp._rollup_merge(pg_catalog.int8[], pg_catalog.int8[]) IS
    'internal: per-slot sum of two packed rollup arrays, dropping zeros';

CREATE FUNCTION edp._rollup_count(pg_catalog.int8[], pg_catalog.int4)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_rollup_count'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp._rollup_count(pg_catalog.int8[], pg_catalog.int4) IS
    'internal: the count of one slot of a packed rollup array (0 when absent)';

CREATE FUNCTION edp.rollup_buckets(chunk_start pg_catalog.timestamptz, width pg_catalog.interval, packed pg_catalog.int8[])
RETURNS TABLE (bucket_start pg_catalog.timestamptz, events pg_catalog.int8)
AS 'MODULE_PATHNAME', 'edp_rollup_buckets'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.rollup_buckets(pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int8[]) IS
    'the non-empty buckets of one rollup row, in order';

CREATE FUNCTION edp._rollup_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_rollup_agg_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp._rollup_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) IS
    'internal: transition function of edp._rollup_agg';

CREATE FUNCTION edp._rollup_agg_final(internal)
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_rollup_agg_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp._rollup_agg_final(internal) IS
    'internal: final function of edp._rollup_agg (sorts and sums the pairs)';

CREATE AGGREGATE edp._rollup_agg(pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) (
    SFUNC = edp._rollup_agg_trans,
    STYPE = internal,
    FINALFUNC = edp._rollup_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp._rollup_agg(pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) IS
    'internal: one packed rollup row from the event times of one (key, chunk), each counted with the given sign';

CREATE FUNCTION edp._rollup_query(tbl pg_catalog.regclass, key pg_catalog.name, ts pg_catalog.name, width pg_catalog.interval)
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format(
        'SELECT %I, date_bin(%L::interval * 768, %I, ''2000-01-01 00:00:00+00''::timestamptz), '
        '       edp._rollup_agg(%I, %L::interval, 1) '
        '  FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL GROUP BY 1, 2',
        key, width, ts, ts, width, tbl, key, ts)
$$;
COMMENT ON FUNCTION edp._rollup_query(pg_catalog.regclass, pg_catalog.name, pg_catalog.name, pg_catalog.interval) IS
    'internal: the query computing the packed rollup rows (key, chunk_start, packed) of a table';

CREATE FUNCTION edp.refresh_rollup(tbl pg_catalog.regclass)
RETURNS pg_catalog.int8
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e edp.event_tables;
    n bigint;
BEGIN
    PERFORM edp._check_owner(tbl);
    SELECT * INTO e FROM edp.event_tables WHERE relid = tbl;
    IF e.rollup_relid IS NULL THEN
        RAISE EXCEPTION 'table % has no rollup', tbl USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call edp.enable_rollup() first.';
    END IF;
    -- writers wait while the rollup is rebuilt; readers go on
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', tbl);
    EXECUTE format('TRUNCATE %s', e.rollup_relid);
    EXECUTE format('INSERT INTO %s (key, chunk_start, packed) %s',
                   e.rollup_relid, edp._rollup_query(tbl, e.key_column, e.ts_column, e.rollup_width));
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE edp.event_tables SET rollup_stale = false WHERE relid = tbl;
    PERFORM edp._invalidate_settings(tbl);
    RETURN n;
END
$$;
COMMENT ON FUNCTION edp.refresh_rollup(pg_catalog.regclass) IS
    'rebuilds the rollup of tbl from its rows and clears the stale mark; returns the number of rollup rows';

CREATE FUNCTION edp.enable_rollup(tbl pg_catalog.regclass, key pg_catalog.name, ts pg_catalog.name,
                                  width pg_catalog.interval DEFAULT '1 hour',
                                  raw_index pg_catalog.text DEFAULT 'btree')
RETURNS pg_catalog.regclass
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    keytype regtype;
    nsp name;
    rel name;
    owner regrole;
    rname text;
    r regclass;
    had_views boolean;
BEGIN
    PERFORM edp._check_owner(tbl);
    keytype := edp._check_column(tbl, key);
    PERFORM edp._check_column(tbl, ts, 'timestamptz');
    IF width IS NULL THEN
        RAISE EXCEPTION 'rollup width must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF raw_index IS NULL OR raw_index NOT IN ('btree', 'brin', 'none') THEN
        RAISE EXCEPTION 'unknown raw_index "%"', raw_index USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use btree (key, ts), brin (ts) or none.';
    END IF;
    PERFORM edp.bucket_start('2000-01-01 00:00+00', width);   -- 22023 for unsupported widths
    IF width > interval '1 hour' THEN
        RAISE EXCEPTION 'rollup width % is wider than 1 hour', width USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'Hourly queries must be answerable from the rollup.';
    END IF;
    SELECT n.nspname, c.relname, c.relowner::regrole INTO nsp, rel, owner
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;

    SELECT rollup_relid INTO r FROM edp.event_tables WHERE relid = tbl;
    had_views := to_regclass(format('%I.%I', nsp, left(rel, 48) || '_hourly_counts')) IS NOT NULL;
    IF r IS NOT NULL THEN
        EXECUTE format('DROP TABLE %s CASCADE', r);
    END IF;
    rname := left(rel, 52) || '_edp_rollup';
    EXECUTE format('CREATE TABLE %I.%I (key %s NOT NULL, chunk_start timestamptz NOT NULL, '
                   'packed bigint[] NOT NULL, PRIMARY KEY (key, chunk_start))', nsp, rname, keytype);
    r := format('%I.%I', nsp, rname)::regclass;
    -- lz4 compresses and decompresses the packed arrays several times faster
    -- than pglz (every ingest rewrites the rows it touches; every query
    -- reads them); a server built without lz4 keeps its default
    BEGIN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN packed SET COMPRESSION lz4', r);
    EXCEPTION WHEN feature_not_supported THEN
        NULL;
    END;
    EXECUTE format('ALTER TABLE %s OWNER TO %I', r, owner);
    EXECUTE format('COMMENT ON TABLE %s IS %L', r,
                   format('edp rollup of %s: events per (%s, %s bucket) packed per 768 buckets (edp.rollup_buckets() unpacks), kept by triggers edp_buckets_*', tbl, key, width));
    -- raw rows are read for what the rollup cannot answer (ranges off bucket
    -- boundaries, narrower widths, grouped counts, a stale rollup) and by
    -- dedupe: btree (key, ts) reads one key's rows directly; brin (ts) costs
    -- almost nothing at ingest and reads a time window of all keys (good
    -- when rows arrive in time order)
    IF raw_index = 'btree' THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (%I, %I)', left(rel, 48) || '_edp_key_ts', tbl, key, ts);
    ELSIF raw_index = 'brin' THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING brin (%I)', left(rel, 48) || '_edp_ts_brin', tbl, ts);
    END IF;

    INSERT INTO edp.event_tables AS e (relid, key_column, ts_column, rollup_relid, rollup_width, rollup_stale)
    VALUES (tbl, key, ts, r, width, true)
    ON CONFLICT (relid) DO UPDATE
       SET key_column = excluded.key_column, ts_column = excluded.ts_column,
           rollup_relid = excluded.rollup_relid, rollup_width = excluded.rollup_width,
           rollup_stale = true;
    PERFORM edp._invalidate_settings(tbl);
    PERFORM edp._ensure_bucket_triggers(tbl);
    PERFORM edp.refresh_rollup(tbl);
    IF had_views THEN
        PERFORM edp.create_bucket_views(tbl);
    END IF;
    RETURN r;
END
$$;
COMMENT ON FUNCTION edp.enable_rollup(pg_catalog.regclass, pg_catalog.name, pg_catalog.name, pg_catalog.interval, pg_catalog.text) IS
    'keeps per (key, bucket) event counts of tbl in a rollup table, maintained by statement triggers at ingest; returns the rollup table';

CREATE FUNCTION edp.disable_rollup(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r regclass;
BEGIN
    PERFORM edp._check_owner(tbl);
    SELECT rollup_relid INTO r FROM edp.event_tables WHERE relid = tbl;
    UPDATE edp.event_tables SET rollup_relid = NULL, rollup_width = NULL, rollup_stale = false WHERE relid = tbl;
    PERFORM edp._invalidate_settings(tbl);
    IF r IS NOT NULL THEN
        EXECUTE format('DROP TABLE %s CASCADE', r);   -- with the BI views reading it
    END IF;
END
$$;
COMMENT ON FUNCTION edp.disable_rollup(pg_catalog.regclass) IS
    'drops the rollup of tbl (and the BI views of edp.create_bucket_views); bucket queries then read raw rows';

CREATE FUNCTION edp.verify_rollup(tbl pg_catalog.regclass)
RETURNS TABLE (key pg_catalog.text, bucket_start pg_catalog.timestamptz,
               rollup_events pg_catalog.int8, raw_events pg_catalog.int8)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e edp.event_tables;
    bad bigint;
BEGIN
    PERFORM edp._check_owner(tbl);
    SELECT * INTO e FROM edp.event_tables WHERE relid = tbl;
    IF e.rollup_relid IS NULL THEN
        RAISE EXCEPTION 'table % has no rollup', tbl USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call edp.enable_rollup() first.';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(r.key, b.key)::text, coalesce(r.bucket_start, b.bucket_start), '
        '       coalesce(r.events, 0)::bigint, coalesce(b.n, 0)::bigint '
        '  FROM (SELECT r.key, u.bucket_start, u.events FROM %s r '
        '          CROSS JOIN LATERAL edp.rollup_buckets(r.chunk_start, %L::interval, r.packed) u) r '
        '  FULL JOIN (SELECT %I AS key, date_bin(%L::interval, %I, ''2000-01-01 00:00:00+00''::timestamptz) AS bucket_start, count(*) AS n '
        '               FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL GROUP BY 1, 2) b '
        '    ON r.key = b.key AND r.bucket_start = b.bucket_start '
        ' WHERE coalesce(r.events, 0) <> coalesce(b.n, 0) ORDER BY 1, 2',
        e.rollup_relid, e.rollup_width, e.key_column, e.rollup_width, e.ts_column, tbl, e.key_column, e.ts_column);
    GET DIAGNOSTICS bad = ROW_COUNT;
    IF bad > 0 THEN
        UPDATE edp.event_tables SET rollup_stale = true WHERE relid = tbl;
        PERFORM edp._invalidate_settings(tbl);
        RAISE WARNING 'rollup of % differs from its rows in % buckets; marked stale', tbl, bad
            USING HINT = 'Bucket queries read raw rows until edp.refresh_rollup() is run.';
    END IF;
END
$$;
COMMENT ON FUNCTION edp.verify_rollup(pg_catalog.regclass) IS
    'compares the rollup of tbl with a brute-force count; returns the differing buckets (none when exact) and marks a differing rollup stale';

CREATE FUNCTION edp.enable_dedupe(tbl pg_catalog.regclass, columns pg_catalog.name[],
                                  keep pg_catalog.text DEFAULT 'first',
                                  order_by pg_catalog.name DEFAULT NULL,
                                  create_index pg_catalog.bool DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c name;
    e edp.event_tables;
    rel name;
BEGIN
    PERFORM edp._check_owner(tbl);
    IF columns IS NULL OR cardinality(columns) = 0 THEN
        RAISE EXCEPTION 'dedupe needs at least one column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH c IN ARRAY columns LOOP
        PERFORM edp._check_column(tbl, c);
    END LOOP;
    IF keep IS NULL OR keep NOT IN ('first', 'latest') THEN
        RAISE EXCEPTION 'unknown dedupe mode "%"', keep USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use keep => ''first'' (drop later copies) or keep => ''latest'' (latest order_by wins).';
    END IF;
    SELECT * INTO e FROM edp.event_tables WHERE relid = tbl;
    IF keep = 'latest' THEN
        order_by := coalesce(order_by, e.ts_column);
        IF order_by IS NULL THEN
            RAISE EXCEPTION 'keep => ''latest'' needs order_by' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Name the column whose largest value wins, e.g. order_by => ''ts''.';
        END IF;
        PERFORM edp._check_column(tbl, order_by);
    ELSIF order_by IS NOT NULL THEN
        RAISE EXCEPTION 'order_by applies only to keep => ''latest''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT relname INTO rel FROM pg_class WHERE oid = tbl;
    -- the dedupe probe reads rows by key; (key, ts) index serves keys starting with those
    IF create_index AND NOT (e.key_column IS NOT NULL AND columns[1] = e.key_column AND columns[2] = e.ts_column) THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (%s)', left(rel, 47) || '_edp_dedupe', tbl,
                       (SELECT string_agg(quote_ident(x), ', ') FROM unnest(columns) x));
    END IF;
    INSERT INTO edp.event_tables (relid, dedupe_mode, dedupe_columns, dedupe_order_column)
    VALUES (tbl, keep, columns, order_by)
    ON CONFLICT (relid) DO UPDATE
       SET dedupe_mode = excluded.dedupe_mode, dedupe_columns = excluded.dedupe_columns,
           dedupe_order_column = excluded.dedupe_order_column;
    PERFORM edp._ensure_bucket_triggers(tbl);
END
$$;
COMMENT ON FUNCTION edp.enable_dedupe(pg_catalog.regclass, pg_catalog.name[], pg_catalog.text, pg_catalog.name, pg_catalog.bool) IS
    'drops duplicate events at ingest: keep first (rows equal on columns) or keep latest (same event id, largest order_by wins)';

CREATE FUNCTION edp.disable_dedupe(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM edp._check_owner(tbl);
    UPDATE edp.event_tables SET dedupe_mode = 'none', dedupe_columns = NULL, dedupe_order_column = NULL
     WHERE relid = tbl;
END
$$;
COMMENT ON FUNCTION edp.disable_dedupe(pg_catalog.regclass) IS
    'stops removing duplicate events of tbl at ingest';

CREATE FUNCTION edp.buckets_on_drop()
RETURNS event_trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT d.objid FROM pg_event_trigger_dropped_objects() d
              WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 LOOP
        -- an event table went: its rollup goes with it
        PERFORM edp._drop_rollup_of(r.objid);
        -- a rollup went: bucket queries read raw rows
        PERFORM edp._invalidate_settings(relid) FROM edp.event_tables WHERE rollup_relid::oid = r.objid;
        UPDATE edp.event_tables SET rollup_relid = NULL, rollup_width = NULL, rollup_stale = false
         WHERE rollup_relid::oid = r.objid;
    END LOOP;
END
$$;
COMMENT ON FUNCTION edp.buckets_on_drop() IS
    'event trigger: dropping an event table drops its rollup and its edp.event_tables row';

CREATE FUNCTION edp._drop_rollup_of(tbl pg_catalog.oid)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r oid;
BEGIN
    SELECT rollup_relid INTO r FROM edp.event_tables WHERE relid::oid = tbl;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    DELETE FROM edp.event_tables WHERE relid::oid = tbl;
    IF r IS NOT NULL AND EXISTS (SELECT FROM pg_class WHERE oid = r) THEN
        EXECUTE format('DROP TABLE %s', r::regclass);
    END IF;
END
$$;
COMMENT ON FUNCTION edp._drop_rollup_of(pg_catalog.oid) IS
    'internal: forgets a dropped event table and drops its rollup';

CREATE EVENT TRIGGER edp_buckets_drop ON sql_drop EXECUTE FUNCTION edp.buckets_on_drop();

-- buckets: parallel aggregate ----------------------------------------------

CREATE FUNCTION edp.bucket_counts_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
    'transition function of edp.bucket_counts_agg (hourly, UTC)';

CREATE FUNCTION edp.bucket_counts_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                            pg_catalog.interval, pg_catalog.text)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text) IS
    'transition function of edp.bucket_counts_agg (any width and zone)';

CREATE FUNCTION edp.bucket_counts_agg_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts_agg_combine(internal, internal) IS
    'combine function of edp.bucket_counts_agg: adds per-bucket counters';

CREATE FUNCTION edp.bucket_counts_agg_serialize(internal)
RETURNS pg_catalog.bytea
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts_agg_serialize(internal) IS
    'serialize function of edp.bucket_counts_agg';

CREATE FUNCTION edp.bucket_counts_agg_deserialize(pg_catalog.bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts_agg_deserialize(pg_catalog.bytea, internal) IS
    'deserialize function of edp.bucket_counts_agg';

CREATE FUNCTION edp.bucket_counts_agg_final(internal)
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts_agg_final(internal) IS
    'final function of edp.bucket_counts_agg: the per-bucket counters as bigint[]';

CREATE AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz) (
    SFUNC = edp.bucket_counts_agg_trans,
    STYPE = internal,
    FINALFUNC = edp.bucket_counts_agg_final,
    COMBINEFUNC = edp.bucket_counts_agg_combine,
    SERIALFUNC = edp.bucket_counts_agg_serialize,
    DESERIALFUNC = edp.bucket_counts_agg_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
    'events per hourly UTC bucket of [from, to) as bigint[] (element i = bucket i of edp.bucket_series), zero-filled';

CREATE AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                       pg_catalog.interval, pg_catalog.text) (
    SFUNC = edp.bucket_counts_agg_trans,
    STYPE = internal,
    FINALFUNC = edp.bucket_counts_agg_final,
    COMBINEFUNC = edp.bucket_counts_agg_combine,
    SERIALFUNC = edp.bucket_counts_agg_serialize,
    DESERIALFUNC = edp.bucket_counts_agg_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text) IS
    'events per bucket (width, zone) of [from, to) as bigint[] (element i = bucket i of edp.bucket_series), zero-filled';

-- buckets: partitions by event date and type, created on demand -----------

CREATE FUNCTION edp.route_default_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_route_default_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp.route_default_trigger() IS
    'deferred row trigger of DEFAULT partitions: at commit, creates missing partitions and moves the rows there';

CREATE FUNCTION edp._route_default(dflt pg_catalog.regclass)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_route_default'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp._route_default(pg_catalog.regclass) IS
    'internal: moves the rows of a DEFAULT partition into partitions created for them, without counting them twice';

CREATE FUNCTION edp._partition_name(base pg_catalog.text, suffix pg_catalog.text, nsp pg_catalog.name)
RETURNS pg_catalog.name
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    candidate text := left(base, 62 - length(suffix)) || '_' || suffix;
    n int := 1;
BEGIN
    WHILE EXISTS (SELECT FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                   WHERE s.nspname = nsp AND c.relname = candidate) LOOP
        n := n + 1;
        candidate := left(base, 60 - length(suffix) - length(n::text)) || '_' || suffix || '_' || n;
    END LOOP;
    RETURN candidate;
END
$$;
COMMENT ON FUNCTION edp._partition_name(pg_catalog.text, pg_catalog.text, pg_catalog.name) IS
    'internal: a free relation name base_suffix in schema nsp';

-- triggers every leaf partition carries, so DML and TRUNCATE addressed to a
-- partition directly keep the rollup exact too
CREATE FUNCTION edp._add_leaf_triggers(leaf pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER edp_buckets_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS edp_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', leaf);
    EXECUTE format('CREATE TRIGGER edp_buckets_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS edp_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', leaf);
    EXECUTE format('CREATE TRIGGER edp_buckets_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS edp_old NEW TABLE AS edp_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', leaf);
    EXECUTE format('CREATE TRIGGER edp_buckets_truncate BEFORE TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp.buckets_trigger()', leaf);
END
$$;
COMMENT ON FUNCTION edp._add_leaf_triggers(pg_catalog.regclass) IS
    'internal: statement triggers of a leaf partition (direct DML and TRUNCATE keep the rollup exact)';

CREATE FUNCTION edp._add_default_partition(parent pg_catalog.regclass)
RETURNS pg_catalog.regclass
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    nsp name;
    rel name;
    d regclass;
BEGIN
    SELECT i.inhrelid INTO d FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    IF d IS NOT NULL THEN
        RETURN d;
    END IF;
    SELECT s.nspname, c.relname INTO nsp, rel FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE c.oid = parent;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, edp._partition_name(rel, 'default', nsp), parent);
    SELECT i.inhrelid INTO d FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    EXECUTE format('CREATE CONSTRAINT TRIGGER edp_route_default AFTER INSERT ON %s '
                   'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION edp.route_default_trigger()', d);
    PERFORM edp._add_leaf_triggers(d);
    RETURN d;
END
$$;
COMMENT ON FUNCTION edp._add_default_partition(pg_catalog.regclass) IS
    'internal: the DEFAULT partition of parent (created with its routing trigger when missing)';

-- move the rows of a DEFAULT partition into partitions created for them
CREATE FUNCTION edp._route_default_rows(dflt pg_catalog.regclass)
RETURNS pg_catalog.int8
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent regclass;
    root regclass;
    e edp.event_tables;
    nsp name;
    base name;
    step interval;
    p timestamptz;
    v text;
    vnull boolean;
    part regclass;
    pname name;
    moved bigint := 0;
    n bigint;
    left_over bigint;
    moving text;
BEGIN
    SELECT inhparent INTO parent FROM pg_inherits WHERE inhrelid = dflt;
    root := pg_partition_root(dflt);
    SELECT * INTO e FROM edp.event_tables WHERE relid = root;
    IF e.partition_period IS NULL THEN
        RETURN 0;
    END IF;
    SELECT s.nspname, c.relname INTO nsp, base FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE c.oid = parent;
    step := CASE e.partition_period WHEN 'day' THEN interval '1 day' ELSE interval '1 month' END;
    -- The rows wait in a staging table while their partition is created (a
    -- DEFAULT partition holding them would make the new bound invalid).  It
    -- is an ordinary unlogged table beside the partitions, not a temporary
    -- one: routing runs as the table's owner in a security-restricted
    -- operation, where temporary tables are refused so that the owner's
    -- code cannot leave objects in the session of whoever loaded the rows.
    moving := format('%I.%I', nsp, 'edp_moving_' || pg_backend_pid());
    EXECUTE format('CREATE UNLOGGED TABLE %s (LIKE %s)', moving, root);

    IF parent = root THEN
        -- period level: one partition per UTC day or month present
        FOR p IN EXECUTE format('SELECT DISTINCT date_trunc(%L, %I AT TIME ZONE ''UTC'') AT TIME ZONE ''UTC'' '
                                'FROM %s WHERE %I IS NOT NULL ORDER BY 1', e.partition_period, e.ts_column, dflt, e.ts_column) LOOP
            EXECUTE format('WITH m AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %s SELECT * FROM m',
                           dflt, e.ts_column, e.ts_column, moving) USING p, p + step;
            pname := edp._partition_name(base, to_char(p AT TIME ZONE 'UTC',
                                         CASE e.partition_period WHEN 'day' THEN '"p"YYYYMMDD' ELSE '"p"YYYYMM' END), nsp);
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)%s', nsp, pname, root,
                           p, p + step,
                           CASE WHEN e.partition_type_column IS NOT NULL
                                THEN format(' PARTITION BY LIST (%I)', e.partition_type_column) ELSE '' END);
            part := format('%I.%I', nsp, pname)::regclass;
            IF e.partition_type_column IS NOT NULL THEN
                PERFORM edp._add_default_partition(part);
                FOR v, vnull IN EXECUTE format('SELECT DISTINCT %I::text, %I IS NULL FROM %s', e.partition_type_column, e.partition_type_column, moving) LOOP
                    PERFORM edp._add_type_partition(part, v, vnull, e.partition_type_column);
                END LOOP;
            ELSE
                PERFORM edp._add_leaf_triggers(part);
            END IF;
            EXECUTE format('INSERT INTO %s SELECT * FROM %s', part, moving);
            GET DIAGNOSTICS n = ROW_COUNT;
            moved := moved + n;
            EXECUTE format('TRUNCATE %s', moving);
        END LOOP;
    ELSE
        -- type level: one partition per event type present
        FOR v, vnull IN EXECUTE format('SELECT DISTINCT %I::text, %I IS NULL FROM %s', e.partition_type_column, e.partition_type_column, dflt) LOOP
            EXECUTE format('WITH m AS (DELETE FROM %s WHERE %I::text IS NOT DISTINCT FROM $1 RETURNING *) INSERT INTO %s SELECT * FROM m',
                           dflt, e.partition_type_column, moving) USING v;
            part := edp._add_type_partition(parent, v, vnull, e.partition_type_column);
            EXECUTE format('INSERT INTO %s SELECT * FROM %s', part, moving);
            GET DIAGNOSTICS n = ROW_COUNT;
            moved := moved + n;
            EXECUTE format('TRUNCATE %s', moving);
        END LOOP;
    END IF;
    EXECUTE format('DROP TABLE %s', moving);

    EXECUTE format('SELECT count(*) FROM %s', dflt) INTO left_over;
    IF left_over > 0 THEN
        RAISE WARNING '% rows of % stay in its DEFAULT partition %', left_over, root, dflt
            USING DETAIL = format('They have no %s to route by.',
                                  CASE WHEN parent = root THEN quote_ident(e.ts_column) ELSE quote_ident(e.partition_type_column) END),
                  HINT = 'Rows without an event time cannot be placed in a date partition; give the column a NOT NULL constraint.';
    END IF;
    RETURN moved;
END
$$;
COMMENT ON FUNCTION edp._route_default_rows(pg_catalog.regclass) IS
    'internal: creates the partitions missing for the rows of a DEFAULT partition and moves them there; warns about rows that cannot move';

CREATE FUNCTION edp._add_type_partition(parent pg_catalog.regclass, v pg_catalog.text, vnull pg_catalog.bool, col pg_catalog.name)
RETURNS pg_catalog.regclass
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    nsp name;
    base name;
    pname name;
    coltype regtype;
BEGIN
    SELECT s.nspname, c.relname INTO nsp, base FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE c.oid = parent;
    SELECT atttypid INTO coltype FROM pg_attribute WHERE attrelid = parent AND attname = col;
    pname := edp._partition_name(base, CASE WHEN vnull THEN 'null'
                                  ELSE left(coalesce(nullif(trim(both '_' from regexp_replace(lower(v), '[^a-z0-9]+', '_', 'g')), ''), 'x'), 24) END, nsp);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES IN (%s)', nsp, pname, parent,
                   CASE WHEN vnull THEN 'NULL' ELSE format('%L::%s', v, coltype) END);
    PERFORM edp._add_leaf_triggers(format('%I.%I', nsp, pname)::regclass);
    RETURN format('%I.%I', nsp, pname)::regclass;
END
$$;
COMMENT ON FUNCTION edp._add_type_partition(pg_catalog.regclass, pg_catalog.text, pg_catalog.bool, pg_catalog.name) IS
    'internal: creates the list partition of parent for one event type value';

CREATE FUNCTION edp.enable_partitioning(tbl pg_catalog.regclass, ts pg_catalog.name,
                                        period pg_catalog.text DEFAULT 'day',
                                        type_column pg_catalog.name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k "char";
    strat "char";
    keycols int2vector;
    d regclass;
BEGIN
    PERFORM edp._check_owner(tbl);
    PERFORM edp._check_column(tbl, ts, 'timestamptz');
    IF type_column IS NOT NULL THEN
        PERFORM edp._check_column(tbl, type_column);
    END IF;
    IF period IS NULL OR period NOT IN ('day', 'month') THEN
        RAISE EXCEPTION 'unsupported partition period "%"', period USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use period => ''day'' or period => ''month''.';
    END IF;
    SELECT c.relkind, p.partstrat, p.partattrs INTO k, strat, keycols
      FROM pg_class c LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid WHERE c.oid = tbl;
    IF k <> 'p' OR strat <> 'r' OR array_length(keycols::int2[], 1) <> 1
       OR keycols[0] <> (SELECT attnum FROM pg_attribute WHERE attrelid = tbl AND attname = ts) THEN
        RAISE EXCEPTION 'table % is not partitioned by range of %', tbl, ts
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Create it with CREATE TABLE ... PARTITION BY RANGE (%I); edp adds the partitions.', ts);
    END IF;
    INSERT INTO edp.event_tables AS e (relid, ts_column, partition_period, partition_type_column)
    VALUES (tbl, ts, period, type_column)
    ON CONFLICT (relid) DO UPDATE
       SET ts_column = coalesce(e.ts_column, excluded.ts_column),
           partition_period = excluded.partition_period,
           partition_type_column = excluded.partition_type_column;
    PERFORM edp._invalidate_settings(tbl);
    d := edp._add_default_partition(tbl);
    PERFORM edp._route_default(d);
END
$$;
COMMENT ON FUNCTION edp.enable_partitioning(pg_catalog.regclass, pg_catalog.name, pg_catalog.text, pg_catalog.name) IS
    'partitions tbl (declared PARTITION BY RANGE (ts)) by UTC day or month and optionally by event type, creating partitions on demand at commit of each load';

-- buckets: BI views --------------------------------------------------------

CREATE FUNCTION edp.create_bucket_views(tbl pg_catalog.regclass, type_column pg_catalog.name DEFAULT 'event_type')
RETURNS SETOF pg_catalog.regclass
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e edp.event_tables;
    nsp name;
    rel name;
    owner regrole;
    v1 text;
    v2 text;
    stale text;
BEGIN
    PERFORM edp._check_owner(tbl);
    SELECT * INTO e FROM edp.event_tables WHERE relid = tbl;
    IF e.rollup_relid IS NULL THEN
        RAISE EXCEPTION 'table % has no rollup', tbl USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call edp.enable_rollup() first.';
    END IF;
    IF type_column IS NOT NULL THEN
        PERFORM edp._check_column(tbl, type_column);
    END IF;
    SELECT n.nspname, c.relname, c.relowner::regrole INTO nsp, rel, owner
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    v1 := format('%I.%I', nsp, left(rel, 48) || '_hourly_counts');
    v2 := format('%I.%I', nsp, left(rel, 48) || '_hourly_type_counts');
    stale := format('(SELECT rollup_stale FROM edp.event_tables WHERE relid = %L::regclass)', tbl::oid::regclass::text);
    -- hourly counts per key: from the rollup, or from raw rows while it is stale
    EXECUTE format('CREATE OR REPLACE VIEW %s (key, bucket_start, events) AS '
                   'SELECT r.key, date_bin(''1 hour'', u.bucket_start, ''2000-01-01 00:00:00+00''::timestamptz), sum(u.events)::bigint '
                   '  FROM %s r CROSS JOIN LATERAL edp.rollup_buckets(r.chunk_start, %L::interval, r.packed) u '
                   ' WHERE NOT %s GROUP BY 1, 2 '
                   'UNION ALL '
                   'SELECT %I, date_bin(''1 hour'', %I, ''2000-01-01 00:00:00+00''::timestamptz), count(*) '
                   '  FROM %s WHERE %s AND %I IS NOT NULL AND %I IS NOT NULL GROUP BY 1, 2',
                   v1, e.rollup_relid, e.rollup_width, stale, e.key_column, e.ts_column, tbl, stale, e.key_column, e.ts_column);
    EXECUTE format('ALTER VIEW %s OWNER TO %I', v1, owner);
    EXECUTE format('COMMENT ON VIEW %s IS %L', v1,
                   format('edp: events of %s per (key, hour in UTC); columns key, bucket_start, events', tbl));
    RETURN NEXT v1::regclass;
    IF type_column IS NOT NULL THEN
        EXECUTE format('CREATE OR REPLACE VIEW %s (key, event_type, bucket_start, events) AS '
                       'SELECT %I, %I, date_bin(''1 hour'', %I, ''2000-01-01 00:00:00+00''::timestamptz), count(*) '
                       '  FROM %s WHERE %I IS NOT NULL GROUP BY 1, 2, 3',
                       v2, e.key_column, type_column, e.ts_column, tbl, e.ts_column);
        EXECUTE format('ALTER VIEW %s OWNER TO %I', v2, owner);
        EXECUTE format('COMMENT ON VIEW %s IS %L', v2,
                       format('edp: events of %s per (key, event type, hour in UTC); columns key, event_type, bucket_start, events', tbl));
        RETURN NEXT v2::regclass;
    END IF;
END
$$;
COMMENT ON FUNCTION edp.create_bucket_views(pg_catalog.regclass, pg_catalog.name) IS
    'creates the BI views <table>_hourly_counts (key, bucket_start, events) and <table>_hourly_type_counts (key, event_type, bucket_start, events)';

-- trip point blocks -----------------------------------------------------------
-- Point blocks of trips tables (issue 4, small areas): the trips' exact
-- coordinates packed per fine cell in <table>_point_blocks, kept by the
-- statement triggers (edp.trips_rollup_trigger) and read by
-- edp.trip_area_week_counts for boxes too small for the rollup cells.
CREATE FUNCTION edp.trip_cell_id(x float8, y float8, size float8)
RETURNS bigint
AS 'MODULE_PATHNAME', 'edp_trip_cell_id'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_cell_id(float8, float8, float8) IS
    'id of the cell of side size degrees holding (x, y): floor(x / size) in the high 32 bits, floor(y / size) in the low';

CREATE FUNCTION edp.trip_cell_ids(xmin float8, ymin float8, xmax float8, ymax float8, size float8)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'edp_trip_cell_ids'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_cell_ids(float8, float8, float8, float8, float8) IS
    'ids (edp.trip_cell_id) of every cell a point of the box can lie in; NULL above 100000 cells';

CREATE FUNCTION edp.trip_area_box(wkb bytea)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'edp_trip_area_box'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_area_box(bytea) IS
    '{xmin, ymin, xmax, ymax} of a WKB polygon that is an axis-aligned box (as ST_MakeEnvelope makes), else NULL';

CREATE FUNCTION edp.trip_block_pack_add(internal, kind integer, x float8, y float8, x2 float8, y2 float8, week date,
                                        points bytea)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_trip_block_pack_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_block_pack_add(internal, integer, float8, float8, float8, float8, date, bytea) IS
    'transition function of edp.trip_block_pack';
CREATE FUNCTION edp.trip_block_pack_final(internal)
RETURNS bytea[]
AS 'MODULE_PATHNAME', 'edp_trip_block_pack_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_block_pack_final(internal) IS
    'final function of edp.trip_block_pack';
CREATE AGGREGATE edp.trip_block_pack(kind integer, x float8, y float8, x2 float8, y2 float8, week date,
                                     points bytea) (
    SFUNC = edp.trip_block_pack_add,
    STYPE = internal,
    FINALFUNC = edp.trip_block_pack_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.trip_block_pack(integer, float8, float8, float8, float8, date, bytea) IS
    'point blocks (bytea[], at most 200 points each, 110 for kind 3) of points of one kind (1 origin, 2 destination, 3 both ends), given one by one or, where points is not null, as whole blocks';

CREATE FUNCTION edp.trip_block_points(kind integer, points bytea,
                                      OUT x float8, OUT y float8, OUT x2 float8, OUT y2 float8, OUT week date)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'edp_trip_block_points'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_block_points(integer, bytea) IS
    'the points of a point block as rows (x2, y2 are 0 unless kind is 3)';

CREATE FUNCTION edp.trip_block_counts_add(internal, points bytea, c1 bigint, c2 bigint, kind integer,
                                          xmin float8, ymin float8, xmax float8, ymax float8,
                                          cell_size float8, first_monday date, last_monday date)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_trip_block_counts_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_block_counts_add(internal, bytea, bigint, bigint, integer, float8, float8, float8, float8, float8, date, date) IS
    'transition function of edp.trip_block_counts';
CREATE FUNCTION edp.trip_block_counts_final(internal)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'edp_trip_block_counts_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.trip_block_counts_final(internal) IS
    'final function of edp.trip_block_counts';
CREATE AGGREGATE edp.trip_block_counts(points bytea, c1 bigint, c2 bigint, kind integer,
                                       xmin float8, ymin float8, xmax float8, ymax float8,
                                       cell_size float8, first_monday date, last_monday date) (
    SFUNC = edp.trip_block_counts_add,
    STYPE = internal,
    FINALFUNC = edp.trip_block_counts_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.trip_block_counts(bytea, bigint, bigint, integer, float8, float8, float8, float8, float8, date, date) IS
    'points of point blocks (cells c1, c2 of side cell_size) inside the box (boundary included; kind 3: both ends) per week from first_monday to last_monday';
