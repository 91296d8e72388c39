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
-- as edp.event_tables: readable by all, written by the table's owners
ALTER TABLE edp.trip_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY trip_tables_read ON edp.trip_tables FOR SELECT USING (true);
CREATE POLICY trip_tables_owner ON edp.trip_tables FOR ALL
    USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                   WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE')
           OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid))
    WITH CHECK (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                        WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON edp.trip_tables TO PUBLIC;
COMMENT ON POLICY trip_tables_read ON edp.trip_tables IS
    'everyone may read the trips catalog: the trips COPY path and rollup triggers run as the loading user';
COMMENT ON POLICY trip_tables_owner ON edp.trip_tables IS
    'a trips table''s row may be written by roles with the privileges of the table''s owner, and removed by anyone once the table is gone';

-- Statement-level AFTER triggers keep the rollups of a trips table exact
-- under INSERT and COPY (transition tables), UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION edp_internal.trips_rollup_trigger()
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
        SELECT CASE $1 WHEN 1 THEN edp_internal.trip_cell_id(ST_X(r.origin), ST_Y(r.origin), $2)
                       WHEN 2 THEN edp_internal.trip_cell_id(ST_X(r.destination), ST_Y(r.destination), $2)
                       ELSE edp_internal.trip_cell_id(ST_X(r.origin), ST_Y(r.origin), $3) END AS c1,
               CASE $1 WHEN 3 THEN edp_internal.trip_cell_id(ST_X(r.destination), ST_Y(r.destination), $3)
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
          FROM (SELECT c1, c2, pg_catalog.unnest(edp_internal.trip_block_pack($1, x, y, x2, y2, week, points)) AS blk
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
              FROM old, LATERAL edp_internal.trip_block_points($1, old.points) p)
        INSERT INTO %1$s (kind, c1, c2, n, points)
        SELECT $1, s.c1, s.c2, pg_catalog.length(s.blk) / CASE $1 WHEN 3 THEN 36 ELSE 20 END, s.blk
          FROM (SELECT p.c1, p.c2, pg_catalog.unnest(edp_internal.trip_block_pack($1, p.x, p.y, p.x2, p.y2, p.week, NULL)) AS blk
                  FROM pts p
                  LEFT JOIN gone g ON g.c1 = p.c1 AND g.c2 = p.c2 AND g.x = p.x AND g.y = p.y
                                  AND g.x2 = p.x2 AND g.y2 = p.y2 AND g.week = p.week
                 WHERE p.rn > coalesce(g.k, 0)
                 GROUP BY p.c1, p.c2) s$q$;
    kind int;
BEGIN
    SELECT * INTO cfg FROM edp.trip_tables WHERE relid = TG_RELID;
    IF NOT FOUND THEN
        -- Citus copies this trigger to each shard of a distributed trips
        -- table as <trigger>_<shard id> (edp's own names have no such
        -- suffix): a shard's rows are counted through Citus, since
        -- weekly_trip_average reads a Citus table's rows, not its rollups
        IF TG_NAME OPERATOR(pg_catalog.~) '_[0-9]+$' THEN
            RETURN NULL;
        END IF;
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
COMMENT ON FUNCTION edp_internal.trips_rollup_trigger() IS
    'statement trigger of trips tables: keeps the weekly cell and region rollups and the point blocks exact';

CREATE FUNCTION edp_internal.trip_point_check(x float8, y float8, column_name text, cell_size float8)
RETURNS boolean
AS 'MODULE_PATHNAME', 'edp_trip_point_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_point_check(float8, float8, text, float8) IS
    'internal: CHECK of a trips table''s origin and destination (ST_X, ST_Y): not empty, finite, within WGS 84 degrees and the rollup grid; true or an error naming the column and the rule';

CREATE FUNCTION edp.create_trips_table(name text, cell_size float8 DEFAULT 0.05,
                                       time_zone text DEFAULT 'UTC')
RETURNS pg_catalog.regclass
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $$
DECLARE
    parts text[] := pg_catalog.parse_ident(name);
    qname text;
    prefix text;
    base text := parts[pg_catalog.array_length(parts, 1)];
    rel pg_catalog.regclass;
    cells pg_catalog.regclass;
    regs pg_catalog.regclass;
    blocks pg_catalog.regclass;
    idx record;
    trg name;
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
    -- the tables beside it: "schema".
    prefix := CASE WHEN pg_catalog.array_length(parts, 1) = 2
                   THEN pg_catalog.quote_ident(parts[1]) || '.' ELSE '' END;
    -- origin and destination keep edp_internal.trip_point_check's rule: a
    -- clear error at load (a reject in validated ingest), never a rollup error
    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE %1$s (
            id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            region      text NOT NULL,
            origin      %2$I.geometry(Point, 4326) NOT NULL
                        CONSTRAINT edp_origin_point CHECK (edp_internal.trip_point_check(%2$I.ST_X(origin), %2$I.ST_Y(origin), 'origin', %3$s)),
            destination %2$I.geometry(Point, 4326) NOT NULL
                        CONSTRAINT edp_destination_point CHECK (edp_internal.trip_point_check(%2$I.ST_X(destination), %2$I.ST_Y(destination), 'destination', %3$s)),
            datetime    timestamp NOT NULL,
            datasource  text NOT NULL
        )$ddl$, qname, gis, cell_size);
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
            PRIMARY KEY (ox, oy, dx, dy, week))$ddl$, prefix || pg_catalog.quote_ident(base || '_cell_weeks'));
    cells := (prefix || pg_catalog.quote_ident(base || '_cell_weeks'))::pg_catalog.regclass;
    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE %s (region text, week date, trips bigint NOT NULL,
                         PRIMARY KEY (region, week))$ddl$, prefix || pg_catalog.quote_ident(base || '_region_weeks'));
    regs := (prefix || pg_catalog.quote_ident(base || '_region_weeks'))::pg_catalog.regclass;
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', cells,
        'edp rollup of ' || rel::text || ': trips per origin cell, destination cell and week');
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', regs,
        'edp rollup of ' || rel::text || ': trips per region and week');
    -- point blocks (edp_internal.trip_block_pack): the points packed per 0.002-degree
    -- cell for origins and destinations, per pair of 0.01-degree cells for
    -- both ends; inline storage (blocks stay under a page), no TOAST
    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE %s (kind smallint NOT NULL, c1 bigint NOT NULL, c2 bigint NOT NULL,
                         n integer NOT NULL, points bytea NOT NULL)$ddl$, prefix || pg_catalog.quote_ident(base || '_point_blocks'));
    blocks := (prefix || pg_catalog.quote_ident(base || '_point_blocks'))::pg_catalog.regclass;
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
        prefix || pg_catalog.quote_ident(base || '_weekly_regions'), regs);
    EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', prefix || pg_catalog.quote_ident(base || '_weekly_regions'),
        'edp BI view of ' || rel::text || ': trips per region and ISO week (' || time_zone || '), zero weeks included');

    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                              'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.trips_rollup_trigger()', rel);
    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows '
                              'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.trips_rollup_trigger()', rel);
    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                              'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.trips_rollup_trigger()', rel);
    EXECUTE pg_catalog.format('CREATE TRIGGER edp_rollup_truncate AFTER TRUNCATE ON %s '
                              'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.trips_rollup_trigger()', rel);
    FOREACH trg IN ARRAY ARRAY['edp_rollup_insert', 'edp_rollup_update', 'edp_rollup_delete', 'edp_rollup_truncate'] LOOP
        EXECUTE pg_catalog.format('COMMENT ON TRIGGER %I ON %s IS %L', trg, rel,
            pg_catalog.format('edp: keeps the weekly rollups and point blocks of trips table %s exact at each statement (edp.create_trips_table)', rel));
    END LOOP;
    -- the four tables are new: every index on them is one this function made
    FOR idx IN SELECT x.indexrelid::pg_catalog.regclass AS i, x.indrelid::pg_catalog.regclass AS tbl,
                      pg_catalog.regexp_replace(pg_catalog.pg_get_indexdef(x.indexrelid), '^.* USING ', '') AS def
                 FROM pg_catalog.pg_index x
                WHERE x.indrelid OPERATOR(pg_catalog.=) ANY (ARRAY[rel::pg_catalog.oid, cells::pg_catalog.oid,
                                                                  regs::pg_catalog.oid, blocks::pg_catalog.oid]) LOOP
        EXECUTE pg_catalog.format('COMMENT ON INDEX %s IS %L', idx.i,
            pg_catalog.format('edp: index %s of %s (edp.create_trips_table of %s)', idx.def, idx.tbl, rel));
    END LOOP;
    RETURN rel;
END
$$;
COMMENT ON FUNCTION edp.create_trips_table(text, float8, text) IS
    'create a trips table (id, region, origin, destination, datetime, datasource) with GiST indexes, weekly rollups and point blocks kept by triggers';

-- dropping a trips table drops its rollups and its catalog row
CREATE FUNCTION edp_internal.trips_drop_event()
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
COMMENT ON FUNCTION edp_internal.trips_drop_event() IS
    'event trigger: dropping a trips table drops its rollup and point block tables and its edp.trip_tables row';
CREATE EVENT TRIGGER edp_trips_drop ON sql_drop EXECUTE FUNCTION edp_internal.trips_drop_event();
COMMENT ON EVENT TRIGGER edp_trips_drop IS
    'dropping a trips table drops its rollups, point blocks and catalog row';

CREATE TABLE edp.regions (
    name     text PRIMARY KEY,
    geom     geometry(MultiPolygon, 4326) NOT NULL,
    builtin  boolean NOT NULL DEFAULT false
);
CREATE INDEX regions_geom_idx ON edp.regions USING gist (geom);
COMMENT ON INDEX edp.regions_geom_idx IS 'GiST index of the region outlines (region lookups by point)';
COMMENT ON TABLE edp.regions IS
    'named polygons for edp.region_weekly_trip_counts() and friends; builtin rows cover the generator''s cities';
SELECT pg_catalog.pg_extension_config_dump('edp.regions', 'WHERE NOT builtin');
GRANT SELECT ON edp.regions TO PUBLIC;
INSERT INTO edp.regions (name, geom, builtin) VALUES
    ('Prague',  ST_Multi(ST_MakeEnvelope(14.22, 49.94, 14.71, 50.18, 4326)), true),
    ('Turin',   ST_Multi(ST_MakeEnvelope(7.57, 44.99, 7.78, 45.14, 4326)), true),
    ('Hamburg', ST_Multi(ST_MakeEnvelope(9.73, 53.39, 10.33, 53.74, 4326)), true);

CREATE FUNCTION edp_internal.generate_trips_wkb(n bigint, seed bigint, first_day date, weeks integer)
RETURNS TABLE (region text, origin bytea, destination bytea, datetime timestamp, datasource text)
AS 'MODULE_PATHNAME', 'edp_generate_trips_wkb'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION edp_internal.generate_trips_wkb(bigint, bigint, date, integer) IS
    'generated trips with EWKB points (the C side of edp.generate_trips)';

CREATE FUNCTION edp.generate_trips(n bigint, seed bigint DEFAULT 1,
                                   first_day date DEFAULT '2018-01-01', weeks integer DEFAULT 26)
RETURNS TABLE (region text, origin geometry(Point, 4326), destination geometry(Point, 4326),
               datetime timestamp, datasource text)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 1000
BEGIN ATOMIC
    SELECT g.region, g.origin::geometry, g.destination::geometry, g.datetime, g.datasource
      FROM edp_internal.generate_trips_wkb(n, seed, first_day, weeks) g;
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
CREATE FUNCTION edp_internal.trip_weeks(trip_table pg_catalog.regclass, time_zone text,
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
    -- a table without the trips columns is named as such, not by a missing column
    IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid OPERATOR(pg_catalog.=) trip_table AND NOT a.attisdropped
           AND a.attname OPERATOR(pg_catalog.=) ANY ('{region,origin,destination,datetime}'::pg_catalog.name[]))
       OPERATOR(pg_catalog.<) 4 THEN
        RAISE EXCEPTION '"%" is not an edp trips table', trip_table
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'A trips table has the columns region, origin, destination and datetime.',
                  HINT = 'Create one with edp.create_trips_table(name).';
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
COMMENT ON FUNCTION edp_internal.trip_weeks(pg_catalog.regclass, text, date, date) IS
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
CREATE FUNCTION edp_internal.trip_area_week_counts(trip_table pg_catalog.regclass, area geometry, part text,
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
    -- a Citus table's rows are in its shards: counted directly, through Citus
    IF use_rollup IS DISTINCT FROM false AND NOT edp_internal.is_citus_table(trip_table) THEN
        SELECT * INTO cfg FROM edp.trip_tables WHERE relid = trip_table AND trip_tables.time_zone = trip_area_week_counts.time_zone;
    END IF;
    IF cfg.relid IS NOT NULL THEN
        s := cfg.cell_size;
        x0 := pg_catalog.floor(ST_XMin(area) / s); x1 := pg_catalog.floor(ST_XMax(area) / s);
        y0 := pg_catalog.floor(ST_YMin(area) / s); y1 := pg_catalog.floor(ST_YMax(area) / s);
        IF use_rollup IS NULL THEN
            bx := edp_internal.trip_area_box(ST_AsBinary(area));
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
                ids := edp_internal.trip_cell_ids(bx[1], bx[2], bx[3], bx[4],
                                         CASE kind WHEN 3 THEN cfg.pair_cell ELSE cfg.block_cell END);
            END IF;
            IF ids IS NOT NULL THEN
                -- one index probe per cell (per pair of cells for 'both');
                -- OFFSET 0 keeps the probes a nested loop
                RETURN QUERY EXECUTE pg_catalog.format($q$
                    SELECT ($7 + 7 * (u.o - 1)::int)::date, u.c
                      FROM pg_catalog.unnest((
                               SELECT edp_internal.trip_block_counts(b.points, b.c1, b.c2, $1, $2, $3, $4, $5, $9, $7, $8)
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
COMMENT ON FUNCTION edp_internal.trip_area_week_counts(pg_catalog.regclass, geometry, text, text, date, date, timestamp, timestamp, boolean) IS
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
    w := edp_internal.trip_weeks(trip_table, time_zone, first_week, last_week);
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
                       LATERAL edp_internal.trip_area_week_counts(trip_table, area, p.part, time_zone,
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
    w := edp_internal.trip_weeks(trip_table, time_zone, first_week, last_week);
    IF w.first_monday IS NULL THEN
        RETURN;
    END IF;
    IF use_rollup AND NOT edp_internal.is_citus_table(trip_table) THEN
        SELECT t.region_weeks INTO rollup FROM edp.trip_tables t
         WHERE t.relid = trip_table AND t.time_zone = region_weekly_trip_counts.time_zone;
    END IF;
    IF rollup IS NOT NULL THEN
        RETURN QUERY EXECUTE pg_catalog.format($q$
            SELECT g.w::date, coalesce(pg_catalog.sum(c.trips), 0)::bigint
              FROM pg_catalog.generate_series($3::timestamp, $4::timestamp, interval '7 days') g(w)
              LEFT JOIN %s c ON pg_catalog.lower(c.region) = pg_catalog.lower($1) AND c.week = g.w::date
             GROUP BY g.w ORDER BY g.w$q$, rollup)
        USING region, time_zone, w.first_monday, w.last_monday;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH c AS MATERIALIZED (
            SELECT pg_catalog.date_trunc('week', (t.datetime AT TIME ZONE 'UTC') AT TIME ZONE $2)::date AS w,
                   pg_catalog.count(*) AS n
              FROM %s t
             WHERE pg_catalog.lower(t.region) = pg_catalog.lower($1) AND t.datetime >= $5 AND t.datetime < $6
             GROUP BY 1)
        SELECT g.w::date, coalesce(c.n, 0)::bigint
          FROM pg_catalog.generate_series($3::timestamp, $4::timestamp, interval '7 days') g(w)
          LEFT JOIN c ON c.w = g.w::date
         ORDER BY 1$q$, trip_table)
    USING region, time_zone, w.first_monday, w.last_monday, w.utc_from, w.utc_to;
END
$$;
COMMENT ON FUNCTION edp.region_weekly_trip_counts(pg_catalog.regclass, text, text, date, date, boolean) IS
    'trips per ISO week whose region column equals region (case-insensitively), every week of the period, empty weeks as 0';

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
    -- edp.trip_assignments' own checks, made here so that the error shows no internal query
    IF NOT (eps_origin_m > 0 AND eps_origin_m < 'infinity') THEN
        RAISE EXCEPTION 'origin distance must be a positive number' USING ERRCODE = 'invalid_parameter_value';
    ELSIF NOT (eps_destination_m > 0 AND eps_destination_m < 'infinity') THEN
        RAISE EXCEPTION 'destination distance must be a positive number' USING ERRCODE = 'invalid_parameter_value';
    ELSIF NOT (eps_minutes > 0 AND eps_minutes < 'infinity') THEN
        RAISE EXCEPTION 'time window must be a positive number' USING ERRCODE = 'invalid_parameter_value';
    ELSIF min_trips < 1 THEN
        RAISE EXCEPTION 'minimum trips per group must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
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
-- The state is a bytea, not internal, so that Citus splits these aggregates
-- (worker_partial_agg, coord_combine_agg) and parallel query needs no
-- serialization; the support functions check any state they did not make
-- and keep EXECUTE for PUBLIC (Citus checks it for the calling role).
CREATE FUNCTION edp_internal.weekly_trips_add(bytea, timestamp, date, date, text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'edp_weekly_trips_step'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.weekly_trips_add(bytea, timestamp, date, date, text) IS
    'transition function of edp.weekly_average and edp.weekly_counts';
CREATE FUNCTION edp_internal.weekly_trips_combine(bytea, bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'edp_weekly_trips_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.weekly_trips_combine(bytea, bytea) IS
    'combine function of edp.weekly_average and edp.weekly_counts: adds the weekly counters of two states of the same period';
CREATE FUNCTION edp_internal.weekly_trips_average(bytea)
RETURNS float8
AS 'MODULE_PATHNAME', 'edp_weekly_trips_mean'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.weekly_trips_average(bytea) IS
    'final function of edp.weekly_average';
CREATE FUNCTION edp_internal.weekly_trips_counts(bytea)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'edp_weekly_trips_array'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.weekly_trips_counts(bytea) IS
    'final function of edp.weekly_counts';

CREATE AGGREGATE edp.weekly_average(datetime timestamp, first_week date, last_week date, time_zone text) (
    SFUNC = edp_internal.weekly_trips_add,
    STYPE = bytea,
    COMBINEFUNC = edp_internal.weekly_trips_combine,
    FINALFUNC = edp_internal.weekly_trips_average,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.weekly_average(timestamp, date, date, text) IS
    'average rows per ISO week (Monday in time_zone) from first_week to last_week, empty weeks counting as 0';
CREATE AGGREGATE edp.weekly_counts(datetime timestamp, first_week date, last_week date, time_zone text) (
    SFUNC = edp_internal.weekly_trips_add,
    STYPE = bytea,
    COMBINEFUNC = edp_internal.weekly_trips_combine,
    FINALFUNC = edp_internal.weekly_trips_counts,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.weekly_counts(timestamp, date, date, text) IS
    'rows per ISO week (Monday in time_zone) from first_week to last_week, as an array in week order';

-- trip point blocks -----------------------------------------------------------
-- Point blocks of trips tables (issue 4, small areas): the trips' exact
-- coordinates packed per fine cell in <table>_point_blocks, kept by the
-- statement triggers (edp_internal.trips_rollup_trigger) and read by
-- edp_internal.trip_area_week_counts for boxes too small for the rollup cells.
CREATE FUNCTION edp_internal.trip_cell_id(x float8, y float8, size float8)
RETURNS bigint
AS 'MODULE_PATHNAME', 'edp_trip_cell_id'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_cell_id(float8, float8, float8) IS
    'id of the cell of side size degrees holding (x, y): floor(x / size) in the high 32 bits, floor(y / size) in the low';

CREATE FUNCTION edp_internal.trip_cell_ids(xmin float8, ymin float8, xmax float8, ymax float8, size float8)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'edp_trip_cell_ids'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_cell_ids(float8, float8, float8, float8, float8) IS
    'ids (edp_internal.trip_cell_id) of every cell a point of the box can lie in; NULL above 100000 cells';

CREATE FUNCTION edp_internal.trip_area_box(wkb bytea)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'edp_trip_area_box'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_area_box(bytea) IS
    '{xmin, ymin, xmax, ymax} of a WKB polygon that is an axis-aligned box (as ST_MakeEnvelope makes), else NULL';

CREATE FUNCTION edp_internal.trip_block_pack_add(internal, kind integer, x float8, y float8, x2 float8, y2 float8, week date,
                                        points bytea)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_trip_block_pack_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_block_pack_add(internal, integer, float8, float8, float8, float8, date, bytea) IS
    'transition function of edp_internal.trip_block_pack';
CREATE FUNCTION edp_internal.trip_block_pack_final(internal)
RETURNS bytea[]
AS 'MODULE_PATHNAME', 'edp_trip_block_pack_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_block_pack_final(internal) IS
    'final function of edp_internal.trip_block_pack';
CREATE AGGREGATE edp_internal.trip_block_pack(kind integer, x float8, y float8, x2 float8, y2 float8, week date,
                                     points bytea) (
    SFUNC = edp_internal.trip_block_pack_add,
    STYPE = internal,
    FINALFUNC = edp_internal.trip_block_pack_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp_internal.trip_block_pack(integer, float8, float8, float8, float8, date, bytea) IS
    'point blocks (bytea[], at most 200 points each, 110 for kind 3) of points of one kind (1 origin, 2 destination, 3 both ends), given one by one or, where points is not null, as whole blocks';

CREATE FUNCTION edp_internal.trip_block_points(kind integer, points bytea,
                                      OUT x float8, OUT y float8, OUT x2 float8, OUT y2 float8, OUT week date)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'edp_trip_block_points'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_block_points(integer, bytea) IS
    'the points of a point block as rows (x2, y2 are 0 unless kind is 3)';

CREATE FUNCTION edp_internal.trip_block_counts_add(internal, points bytea, c1 bigint, c2 bigint, kind integer,
                                          xmin float8, ymin float8, xmax float8, ymax float8,
                                          cell_size float8, first_monday date, last_monday date)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_trip_block_counts_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_block_counts_add(internal, bytea, bigint, bigint, integer, float8, float8, float8, float8, float8, date, date) IS
    'transition function of edp_internal.trip_block_counts';
CREATE FUNCTION edp_internal.trip_block_counts_final(internal)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'edp_trip_block_counts_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_block_counts_final(internal) IS
    'final function of edp_internal.trip_block_counts';
CREATE AGGREGATE edp_internal.trip_block_counts(points bytea, c1 bigint, c2 bigint, kind integer,
                                       xmin float8, ymin float8, xmax float8, ymax float8,
                                       cell_size float8, first_monday date, last_monday date) (
    SFUNC = edp_internal.trip_block_counts_add,
    STYPE = internal,
    FINALFUNC = edp_internal.trip_block_counts_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp_internal.trip_block_counts(bytea, bigint, bigint, integer, float8, float8, float8, float8, float8, date, date) IS
    'points of point blocks (cells c1, c2 of side cell_size) inside the box (boundary included; kind 3: both ends) per week from first_monday to last_monday';


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
        'edp_internal.trips_rollup_trigger()',
        'edp_internal.trips_drop_event()',
        'edp_internal.trip_weeks(pg_catalog.regclass, text, date, date)',
        'edp_internal.trip_area_week_counts(pg_catalog.regclass, geometry, text, text, date, date, timestamp, timestamp, boolean)',
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

-- internals no user path calls directly: aggregate support functions (checked
-- against the aggregate's owner), event-trigger and planner-support functions
REVOKE EXECUTE ON FUNCTION edp_internal.trips_drop_event() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_pack_add(internal, integer, float8, float8, float8, float8, date, bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_pack_final(internal) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_counts_add(internal, bytea, bigint, bigint, integer, float8, float8, float8, float8, float8, date, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_counts_final(internal) FROM PUBLIC;
