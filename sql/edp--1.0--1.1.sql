/* sql/edp--1.0--1.1.sql -- edp 1.0 to 1.1: no way to become superuser through edp */

\echo Use "ALTER EXTENSION edp UPDATE TO '1.1'" to load this file. \quit

-- jobs belong to role OIDs, not names; run_as is whom the rows are inserted as

DROP POLICY jobs_owner ON edp.jobs;
ALTER TABLE edp.jobs ALTER COLUMN owner DROP DEFAULT;
-- a job of a role dropped since becomes nobody's (OID 0): only superusers see it
ALTER TABLE edp.jobs ALTER COLUMN owner TYPE pg_catalog.regrole
    USING COALESCE(pg_catalog.to_regrole(pg_catalog.quote_ident(owner)), 0::pg_catalog.oid::pg_catalog.regrole);
ALTER TABLE edp.jobs ADD COLUMN run_as pg_catalog.regrole;
UPDATE edp.jobs SET run_as = owner;
ALTER TABLE edp.jobs ALTER COLUMN run_as SET NOT NULL;
CREATE POLICY jobs_owner ON edp.jobs FOR SELECT USING (EXISTS (
    SELECT FROM pg_catalog.pg_roles r
     WHERE r.oid OPERATOR(pg_catalog.=) ANY (ARRAY[owner::pg_catalog.oid, run_as::pg_catalog.oid])
       AND pg_catalog.pg_has_role(r.oid, 'USAGE')));
COMMENT ON POLICY jobs_owner ON edp.jobs IS
    'a job is visible to roles with the privileges of its owner or run_as role, by OID; superusers (who bypass row-level security) see all';

-- inboxes: the mapping superuser reads the files; loads run as run_as (NULL: the table's owner)

ALTER TABLE edp.inboxes ALTER COLUMN run_as DROP DEFAULT;
ALTER TABLE edp.inboxes RENAME COLUMN run_as TO mapped_by;
ALTER TABLE edp.inboxes ALTER COLUMN mapped_by TYPE pg_catalog.regrole
    USING COALESCE(pg_catalog.to_regrole(pg_catalog.quote_ident(mapped_by)), 0::pg_catalog.oid::pg_catalog.regrole);
ALTER TABLE edp.inboxes ADD COLUMN run_as pg_catalog.regrole;

DROP FUNCTION edp.watch_inbox(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.jsonb);
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

DROP FUNCTION edp.ingest_async(pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text,
                              pg_catalog.bool, pg_catalog.int8, pg_catalog.float8, pg_catalog.bool, pg_catalog.int4);
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

-- every SQL and plpgsql function pins its search_path

ALTER FUNCTION edp.job_events_since(pg_catalog.int8) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION edp._rollup_query(pg_catalog.regclass, pg_catalog.name, pg_catalog.name, pg_catalog.interval)
    SET search_path = pg_catalog, pg_temp;

-- ingest_data(text) in C like ingest_data(bytea): a SQL wrapper would have to pin
-- search_path, and the table's triggers would then run under the pinned path
CREATE OR REPLACE FUNCTION edp.ingest_data(target pg_catalog.regclass, data pg_catalog.text,
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

-- the catalogs: a dropped table's row may be removed by whoever dropped it;
-- trips tables may be created by their owners, not only by superusers
DROP POLICY event_tables_owner ON edp.event_tables;
CREATE POLICY event_tables_owner ON edp.event_tables FOR ALL
    USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                   WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE')
           OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid))
    WITH CHECK (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                        WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));
ALTER TABLE edp.trip_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY trip_tables_read ON edp.trip_tables FOR SELECT USING (true);
CREATE POLICY trip_tables_owner ON edp.trip_tables FOR ALL
    USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                   WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE')
           OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid))
    WITH CHECK (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                        WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON edp.trip_tables TO PUBLIC;

-- internals move to schema edp_internal (\df edp.* lists what users call) --

CREATE SCHEMA edp_internal;
COMMENT ON SCHEMA edp_internal IS
    'edp internals: trigger, aggregate-support and helper functions that edp''s own objects call; not an API';
GRANT USAGE ON SCHEMA edp_internal TO PUBLIC;

ALTER FUNCTION edp._add_default_partition(parent regclass) RENAME TO add_default_partition;
ALTER FUNCTION edp.add_default_partition(parent regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp._add_leaf_triggers(leaf regclass) RENAME TO add_leaf_triggers;
ALTER FUNCTION edp.add_leaf_triggers(leaf regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp._add_type_partition(parent regclass, v text, vnull boolean, col name) RENAME TO add_type_partition;
ALTER FUNCTION edp.add_type_partition(parent regclass, v text, vnull boolean, col name) SET SCHEMA edp_internal;
ALTER FUNCTION edp._check_column(tbl regclass, col name, want regtype) RENAME TO check_column;
ALTER FUNCTION edp.check_column(tbl regclass, col name, want regtype) SET SCHEMA edp_internal;
ALTER FUNCTION edp._check_owner(tbl regclass) RENAME TO check_owner;
ALTER FUNCTION edp.check_owner(tbl regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp._drop_rollup_of(tbl oid) RENAME TO drop_rollup_of;
ALTER FUNCTION edp.drop_rollup_of(tbl oid) SET SCHEMA edp_internal;
ALTER FUNCTION edp._ensure_bucket_triggers(tbl regclass) RENAME TO ensure_bucket_triggers;
ALTER FUNCTION edp.ensure_bucket_triggers(tbl regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp._invalidate_settings(tbl regclass) RENAME TO invalidate_settings;
ALTER FUNCTION edp.invalidate_settings(tbl regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp._partition_name(base text, suffix text, nsp name) RENAME TO partition_name;
ALTER FUNCTION edp.partition_name(base text, suffix text, nsp name) SET SCHEMA edp_internal;
ALTER AGGREGATE edp._rollup_agg(timestamp with time zone, interval, integer) RENAME TO rollup_agg;
ALTER AGGREGATE edp.rollup_agg(timestamp with time zone, interval, integer) SET SCHEMA edp_internal;
ALTER FUNCTION edp._rollup_agg_final(internal) RENAME TO rollup_agg_final;
ALTER FUNCTION edp.rollup_agg_final(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp._rollup_agg_trans(internal, timestamp with time zone, interval, integer) RENAME TO rollup_agg_trans;
ALTER FUNCTION edp.rollup_agg_trans(internal, timestamp with time zone, interval, integer) SET SCHEMA edp_internal;
ALTER FUNCTION edp._rollup_count(bigint[], integer) RENAME TO rollup_count;
ALTER FUNCTION edp.rollup_count(bigint[], integer) SET SCHEMA edp_internal;
ALTER FUNCTION edp._rollup_merge(bigint[], bigint[]) RENAME TO rollup_merge;
ALTER FUNCTION edp.rollup_merge(bigint[], bigint[]) SET SCHEMA edp_internal;
ALTER FUNCTION edp._rollup_pack(slots integer[], counts bigint[]) RENAME TO rollup_pack;
ALTER FUNCTION edp.rollup_pack(slots integer[], counts bigint[]) SET SCHEMA edp_internal;
ALTER FUNCTION edp._rollup_query(tbl regclass, key name, ts name, width interval) RENAME TO rollup_query;
ALTER FUNCTION edp.rollup_query(tbl regclass, key name, ts name, width interval) SET SCHEMA edp_internal;
ALTER FUNCTION edp._route_default(dflt regclass) RENAME TO route_default;
ALTER FUNCTION edp.route_default(dflt regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp._route_default_rows(dflt regclass) RENAME TO route_default_rows;
ALTER FUNCTION edp.route_default_rows(dflt regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp.bucket_counts_agg_combine(internal, internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.bucket_counts_agg_deserialize(bytea, internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.bucket_counts_agg_final(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.bucket_counts_agg_serialize(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.bucket_counts_agg_trans(internal, timestamp with time zone, timestamp with time zone, timestamp with time zone, interval, text) SET SCHEMA edp_internal;
ALTER FUNCTION edp.bucket_counts_agg_trans(internal, timestamp with time zone, timestamp with time zone, timestamp with time zone) SET SCHEMA edp_internal;
ALTER FUNCTION edp.buckets_on_drop() SET SCHEMA edp_internal;
ALTER FUNCTION edp.buckets_trigger() SET SCHEMA edp_internal;
ALTER FUNCTION edp.drop_flattening_triggers(tbl regclass) SET SCHEMA edp_internal;
ALTER FUNCTION edp.flatten_report_trigger() SET SCHEMA edp_internal;
ALTER FUNCTION edp.flatten_trigger() SET SCHEMA edp_internal;
ALTER FUNCTION edp.forget_dropped_tables() SET SCHEMA edp_internal;
ALTER FUNCTION edp.generate_events_support(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.generate_trips_wkb(n bigint, seed bigint, first_day date, weeks integer) SET SCHEMA edp_internal;
ALTER FUNCTION edp.route_default_trigger() SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_area_box(wkb bytea) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_area_week_counts(trip_table regclass, area geometry, part text, time_zone text, first_monday date, last_monday date, utc_from timestamp without time zone, utc_to timestamp without time zone, use_rollup boolean) SET SCHEMA edp_internal;
ALTER AGGREGATE edp.trip_block_counts(points bytea, c1 bigint, c2 bigint, kind integer, xmin double precision, ymin double precision, xmax double precision, ymax double precision, cell_size double precision, first_monday date, last_monday date) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_block_counts_add(internal, points bytea, c1 bigint, c2 bigint, kind integer, xmin double precision, ymin double precision, xmax double precision, ymax double precision, cell_size double precision, first_monday date, last_monday date) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_block_counts_final(internal) SET SCHEMA edp_internal;
ALTER AGGREGATE edp.trip_block_pack(kind integer, x double precision, y double precision, x2 double precision, y2 double precision, week date, points bytea) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_block_pack_add(internal, kind integer, x double precision, y double precision, x2 double precision, y2 double precision, week date, points bytea) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_block_pack_final(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_block_points(kind integer, points bytea, OUT x double precision, OUT y double precision, OUT x2 double precision, OUT y2 double precision, OUT week date) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_cell_id(x double precision, y double precision, size double precision) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_cell_ids(xmin double precision, ymin double precision, xmax double precision, ymax double precision, size double precision) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trip_weeks(trip_table regclass, time_zone text, first_week date, last_week date, OUT first_monday date, OUT last_monday date, OUT utc_from timestamp without time zone, OUT utc_to timestamp without time zone) SET SCHEMA edp_internal;
ALTER FUNCTION edp.trips_drop_event() SET SCHEMA edp_internal;
ALTER FUNCTION edp.trips_rollup_trigger() SET SCHEMA edp_internal;
ALTER FUNCTION edp.weekly_trips_add(internal, timestamp without time zone, date, date, text) SET SCHEMA edp_internal;
ALTER FUNCTION edp.weekly_trips_average(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.weekly_trips_combine(internal, internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.weekly_trips_counts(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.weekly_trips_deserialize(bytea, internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.weekly_trips_serialize(internal) SET SCHEMA edp_internal;
ALTER FUNCTION edp.xact_is_current(xid) SET SCHEMA edp_internal;

-- definitions that name the moved functions, and the other 1.1 changes to bodies

CREATE OR REPLACE FUNCTION edp.create_bucket_views(tbl regclass, type_column name DEFAULT 'event_type'::name)
 RETURNS SETOF regclass
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    e edp.event_tables;
    nsp name;
    rel name;
    owner regrole;
    v1 text;
    v2 text;
    stale text;
BEGIN
    PERFORM edp_internal.check_owner(tbl);
    SELECT * INTO e FROM edp.event_tables WHERE relid = tbl;
    IF e.rollup_relid IS NULL THEN
        RAISE EXCEPTION 'table % has no rollup', tbl USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call edp.enable_rollup() first.';
    END IF;
    IF type_column IS NOT NULL THEN
        PERFORM edp_internal.check_column(tbl, type_column);
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
                   '  FROM %s WHERE %s AND %I IS NOT NULL AND %I IS NOT NULL AND isfinite(%I) GROUP BY 1, 2',
                   v1, e.rollup_relid, e.rollup_width, stale, e.key_column, e.ts_column, tbl, stale, e.key_column, e.ts_column, e.ts_column);
    EXECUTE format('ALTER VIEW %s OWNER TO %I', v1, owner);
    EXECUTE format('COMMENT ON VIEW %s IS %L', v1,
                   format('edp: events of %s per (key, hour in UTC); columns key, bucket_start, events', tbl));
    RETURN NEXT v1::regclass;
    IF type_column IS NOT NULL THEN
        EXECUTE format('CREATE OR REPLACE VIEW %s (key, event_type, bucket_start, events) AS '
                       'SELECT %I, %I, date_bin(''1 hour'', %I, ''2000-01-01 00:00:00+00''::timestamptz), count(*) '
                       '  FROM %s WHERE %I IS NOT NULL AND isfinite(%I) GROUP BY 1, 2, 3',
                       v2, e.key_column, type_column, e.ts_column, tbl, e.ts_column, e.ts_column);
        EXECUTE format('ALTER VIEW %s OWNER TO %I', v2, owner);
        EXECUTE format('COMMENT ON VIEW %s IS %L', v2,
                       format('edp: events of %s per (key, event type, hour in UTC); columns key, event_type, bucket_start, events', tbl));
        RETURN NEXT v2::regclass;
    END IF;
END
$function$;

CREATE FUNCTION edp_internal.trip_point_check(x float8, y float8, column_name text, cell_size float8)
RETURNS boolean
AS 'MODULE_PATHNAME', 'edp_trip_point_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.trip_point_check(float8, float8, text, float8) IS
    'internal: CHECK of a trips table''s origin and destination (ST_X, ST_Y): not empty, finite, within WGS 84 degrees and the rollup grid; true or an error naming the column and the rule';

CREATE OR REPLACE FUNCTION edp.create_trips_table(name text, cell_size float8 DEFAULT 0.05,
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

-- trips tables made by 1.0 keep the point rule of create_trips_table from
-- now on (NOT VALID: rows already there are not checked)
DO $$
DECLARE
    t record;
    gis name := (SELECT n.nspname FROM pg_catalog.pg_extension e
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                  WHERE e.extname OPERATOR(pg_catalog.=) 'postgis');
    col text;
BEGIN
    FOR t IN SELECT relid, cell_size FROM edp.trip_tables LOOP
        FOREACH col IN ARRAY ARRAY['origin', 'destination'] LOOP
            EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (edp_internal.trip_point_check(%I.ST_X(%I), %I.ST_Y(%I), %L, %s)) NOT VALID',
                                      t.relid, 'edp_' || col || '_point', gis, col, gis, col, col, t.cell_size);
        END LOOP;
    END LOOP;
END
$$;


CREATE OR REPLACE FUNCTION edp.disable_dedupe(tbl regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    PERFORM edp_internal.check_owner(tbl);
    UPDATE edp.event_tables SET dedupe_mode = 'none', dedupe_columns = NULL, dedupe_order_column = NULL
     WHERE relid = tbl;
    PERFORM edp_internal.drop_bucket_triggers(tbl);
    -- the probe index enable_dedupe made, and a raw btree disable_rollup
    -- left for dedupe's probes
    PERFORM edp_internal.drop_edp_index(tbl, 47, '_edp_dedupe');
    IF NOT EXISTS (SELECT FROM edp.event_tables e
                    WHERE e.relid OPERATOR(pg_catalog.=) tbl AND e.rollup_relid IS NOT NULL) THEN
        PERFORM edp_internal.drop_edp_index(tbl, 48, '_edp_key_ts');
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION edp.disable_flattening(tbl regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM edp_internal.drop_flattening_triggers(tbl);
    UPDATE edp.event_tables SET source_column = NULL WHERE relid = tbl;
END
$function$;

CREATE OR REPLACE FUNCTION edp.disable_rollup(tbl regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    r regclass;
BEGIN
    PERFORM edp_internal.check_owner(tbl);
    SELECT rollup_relid INTO r FROM edp.event_tables WHERE relid = tbl;
    UPDATE edp.event_tables SET rollup_relid = NULL, rollup_width = NULL, rollup_stale = false WHERE relid = tbl;
    PERFORM edp_internal.invalidate_settings(tbl);
    PERFORM edp_internal.drop_bucket_triggers(tbl);
    IF r IS NOT NULL THEN
        EXECUTE format('DROP TABLE %s CASCADE', r);   -- with the BI views reading it
    END IF;
    -- the raw index enable_rollup made; its btree stays while dedupe probes
    -- through it (a dedupe key holding key and ts has no index of its own)
    PERFORM edp_internal.drop_edp_index(tbl, 48, '_edp_ts_brin');
    IF NOT EXISTS (SELECT FROM edp.event_tables e
                    WHERE e.relid OPERATOR(pg_catalog.=) tbl AND e.dedupe_mode OPERATOR(pg_catalog.<>) 'none')
       OR edp_internal.named_index(tbl, 47, '_edp_dedupe') IS NOT NULL THEN
        PERFORM edp_internal.drop_edp_index(tbl, 48, '_edp_key_ts');
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION edp.enable_dedupe(tbl regclass, columns name[], keep text DEFAULT 'first'::text, order_by name DEFAULT NULL::name, create_index boolean DEFAULT true)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    c name;
    e edp.event_tables;
    rel name;
    nsp name;
BEGIN
    PERFORM edp_internal.check_owner(tbl);
    PERFORM edp_internal.check_kept_table(tbl);
    IF columns IS NULL OR cardinality(columns) = 0 THEN
        RAISE EXCEPTION 'dedupe needs at least one column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH c IN ARRAY columns LOOP
        PERFORM edp_internal.check_column(tbl, c);
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
        PERFORM edp_internal.check_column(tbl, order_by);
    ELSIF order_by IS NOT NULL THEN
        RAISE EXCEPTION 'order_by applies only to keep => ''latest''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT cl.relname, ns.nspname INTO rel, nsp FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE cl.oid = tbl;
    -- the dedupe probe reads rows by key; (key, ts) index serves keys starting
    -- with those; a key of several columns is indexed by one int8 hash of it
    -- (edp_internal.dedupe_hash: a fraction of a wide btree's insert cost; the
    -- probe compares the columns themselves)
    -- (any btree leading with (key, ts), such as enable_rollup's raw index,
    -- serves a key that holds both columns)
    IF create_index AND NOT (e.key_column IS NOT NULL AND e.key_column = ANY (columns) AND e.ts_column = ANY (columns)
                             AND edp_internal.has_key_ts_btree(tbl, e.key_column, e.ts_column)) THEN
        -- (an index of that name that edp did not make stays as it is: edp
        -- neither comments nor drops it)
        IF edp_internal.named_index(tbl, 47, '_edp_dedupe') IS NULL THEN
            IF edp_internal.dedupe_hashable(tbl, columns) THEN
                EXECUTE format('CREATE INDEX %I ON %s (edp_internal.dedupe_hash(%s))', left(rel, 47) || '_edp_dedupe', tbl,
                               (SELECT string_agg(quote_ident(x), ', ') FROM unnest(columns) x));
            ELSE
                EXECUTE format('CREATE INDEX %I ON %s (%s)', left(rel, 47) || '_edp_dedupe', tbl,
                               (SELECT string_agg(quote_ident(x), ', ') FROM unnest(columns) x));
            END IF;
            EXECUTE format('COMMENT ON INDEX %I.%I IS %L', nsp, left(rel, 47) || '_edp_dedupe',
                           format('edp: dedupe probe index of %s on (%s) (edp.enable_dedupe)', tbl,
                                  (SELECT string_agg(quote_ident(x), ', ') FROM unnest(columns) x)));
        END IF;
    END IF;
    INSERT INTO edp.event_tables (relid, dedupe_mode, dedupe_columns, dedupe_order_column)
    VALUES (tbl, keep, columns, order_by)
    ON CONFLICT (relid) DO UPDATE
       SET dedupe_mode = excluded.dedupe_mode, dedupe_columns = excluded.dedupe_columns,
           dedupe_order_column = excluded.dedupe_order_column;
    PERFORM edp_internal.ensure_bucket_triggers(tbl);
END
$function$;

CREATE OR REPLACE FUNCTION edp.enable_flattening(tbl regclass, source name DEFAULT 'event_metrics'::name, path text[] DEFAULT '{}'::text[], exclude name[] DEFAULT '{}'::name[])
 RETURNS name[]
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION edp.enable_partitioning(tbl regclass, ts name, period text DEFAULT 'day'::text, type_column name DEFAULT NULL::name)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    k "char";
    strat "char";
    keycols int2vector;
    d regclass;
BEGIN
    PERFORM edp_internal.check_owner(tbl);
    PERFORM edp_internal.check_kept_table(tbl);
    PERFORM edp_internal.check_column(tbl, ts, 'timestamptz');
    IF type_column IS NOT NULL THEN
        PERFORM edp_internal.check_column(tbl, type_column);
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
    PERFORM edp_internal.invalidate_settings(tbl);
    d := edp_internal.add_default_partition(tbl);
    PERFORM edp_internal.route_default(d);
END
$function$;

CREATE OR REPLACE FUNCTION edp.enable_rollup(tbl regclass, key name, ts name, width interval DEFAULT '01:00:00'::interval, raw_index text DEFAULT 'btree'::text)
 RETURNS regclass
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    keytype regtype;
    nsp name;
    rel name;
    owner regrole;
    rname text;
    r regclass;
    had_views boolean;
BEGIN
    PERFORM edp_internal.check_owner(tbl);
    PERFORM edp_internal.check_kept_table(tbl);
    keytype := edp_internal.check_column(tbl, key);
    PERFORM edp_internal.check_column(tbl, ts, 'timestamptz');
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
    EXECUTE format('COMMENT ON INDEX %s IS %L',
                   (SELECT k.conindid::regclass FROM pg_constraint k WHERE k.conrelid = r AND k.contype = 'p'),
                   format('edp: primary key (key, chunk_start) of the rollup of %s (edp.enable_rollup)', tbl));
    -- raw rows are read for what the rollup cannot answer (ranges off bucket
    -- boundaries, narrower widths, grouped counts, a stale rollup) and by
    -- dedupe: btree (key, ts) reads one key's rows directly; brin (ts) costs
    -- almost nothing at ingest and reads a time window of all keys (good
    -- when rows arrive in time order)
    -- (an index of that name that edp did not make keeps its comment: edp
    -- never drops it)
    IF raw_index = 'btree' AND edp_internal.named_index(tbl, 48, '_edp_key_ts') IS NULL THEN
        EXECUTE format('CREATE INDEX %I ON %s (%I, %I)', left(rel, 48) || '_edp_key_ts', tbl, key, ts);
        EXECUTE format('COMMENT ON INDEX %I.%I IS %L', nsp, left(rel, 48) || '_edp_key_ts',
                       format('edp: raw index (%I, %I) of %s, read for what its rollup cannot answer (edp.enable_rollup, raw_index btree)', key, ts, tbl));
    END IF;
    IF raw_index = 'btree' THEN
        -- a dedupe key holding key and ts is probed through this index: the
        -- index enable_dedupe made for it alone would only cost ingest time
        IF (SELECT d.dedupe_columns @> ARRAY[key, ts] FROM edp.event_tables d WHERE d.relid = tbl) THEN
            EXECUTE format('DROP INDEX IF EXISTS %I.%I', nsp, left(rel, 47) || '_edp_dedupe');
        END IF;
    ELSIF raw_index = 'brin' AND edp_internal.named_index(tbl, 48, '_edp_ts_brin') IS NULL THEN
        EXECUTE format('CREATE INDEX %I ON %s USING brin (%I)', left(rel, 48) || '_edp_ts_brin', tbl, ts);
        EXECUTE format('COMMENT ON INDEX %I.%I IS %L', nsp, left(rel, 48) || '_edp_ts_brin',
                       format('edp: raw index (%I) of %s, read for what its rollup cannot answer (edp.enable_rollup, raw_index brin)', ts, tbl));
    END IF;

    INSERT INTO edp.event_tables AS e (relid, key_column, ts_column, rollup_relid, rollup_width, rollup_stale)
    VALUES (tbl, key, ts, r, width, true)
    ON CONFLICT (relid) DO UPDATE
       SET key_column = excluded.key_column, ts_column = excluded.ts_column,
           rollup_relid = excluded.rollup_relid, rollup_width = excluded.rollup_width,
           rollup_stale = true;
    PERFORM edp_internal.invalidate_settings(tbl);
    PERFORM edp_internal.ensure_bucket_triggers(tbl);
    PERFORM edp.refresh_rollup(tbl);
    IF had_views THEN
        PERFORM edp.create_bucket_views(tbl);
    END IF;
    RETURN r;
END
$function$;

CREATE OR REPLACE FUNCTION edp.refresh_rollup(tbl regclass)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    e edp.event_tables;
    n bigint;
BEGIN
    PERFORM edp_internal.check_owner(tbl);
    SELECT * INTO e FROM edp.event_tables WHERE relid = tbl;
    IF e.rollup_relid IS NULL THEN
        RAISE EXCEPTION 'table % has no rollup', tbl USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call edp.enable_rollup() first.';
    END IF;
    -- writers wait while the rollup is rebuilt; readers go on
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', tbl);
    EXECUTE format('TRUNCATE %s', e.rollup_relid);
    EXECUTE format('INSERT INTO %s (key, chunk_start, packed) %s',
                   e.rollup_relid, edp_internal.rollup_query(tbl, e.key_column, e.ts_column, e.rollup_width));
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE edp.event_tables SET rollup_stale = false WHERE relid = tbl;
    PERFORM edp_internal.invalidate_settings(tbl);
    RETURN n;
END
$function$;

CREATE OR REPLACE FUNCTION edp.region_weekly_trip_counts(trip_table regclass, region text, time_zone text DEFAULT 'UTC'::text, first_week date DEFAULT NULL::date, last_week date DEFAULT NULL::date, use_rollup boolean DEFAULT true)
 RETURNS TABLE(week_start date, trips bigint)
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION edp.unwatch_inbox(directory text)
 RETURNS boolean
 LANGUAGE plpgsql
 STRICT
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'must be superuser to unmap an inbox directory' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM edp.inboxes i WHERE i.directory OPERATOR(pg_catalog.=) pg_catalog.rtrim(unwatch_inbox.directory, '/');
    RETURN FOUND;
END
$function$;

CREATE OR REPLACE FUNCTION edp.verify_rollup(tbl regclass)
 RETURNS TABLE(key text, bucket_start timestamp with time zone, rollup_events bigint, raw_events bigint)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    e edp.event_tables;
    bad bigint;
BEGIN
    PERFORM edp_internal.check_owner(tbl);
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
        '               FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL AND isfinite(%I) GROUP BY 1, 2) b '
        '    ON r.key = b.key AND r.bucket_start = b.bucket_start '
        ' WHERE coalesce(r.events, 0) <> coalesce(b.n, 0) ORDER BY 1, 2',
        e.rollup_relid, e.rollup_width, e.key_column, e.rollup_width, e.ts_column, tbl, e.key_column, e.ts_column, e.ts_column);
    GET DIAGNOSTICS bad = ROW_COUNT;
    IF bad > 0 THEN
        UPDATE edp.event_tables SET rollup_stale = true WHERE relid = tbl;
        PERFORM edp_internal.invalidate_settings(tbl);
        RAISE WARNING 'rollup of % differs from its rows in % buckets; marked stale', tbl, bad
            USING HINT = 'Bucket queries read raw rows until edp.refresh_rollup() is run.';
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION edp.weekly_trip_counts(trip_table regclass, area geometry, match text DEFAULT 'both'::text, time_zone text DEFAULT 'UTC'::text, first_week date DEFAULT NULL::date, last_week date DEFAULT NULL::date, use_rollup boolean DEFAULT NULL::boolean)
 RETURNS TABLE(week_start date, trips bigint)
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION edp_internal.add_default_partition(parent regclass)
 RETURNS regclass
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, edp_internal.partition_name(rel, 'default', nsp), parent);
    SELECT i.inhrelid INTO d FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    EXECUTE format('CREATE CONSTRAINT TRIGGER edp_route_default AFTER INSERT ON %s '
                   'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION edp_internal.route_default_trigger()', d);
    EXECUTE format('COMMENT ON TABLE %s IS %L', d,
                   format('edp: DEFAULT partition of %s, where rows wait until edp routes them into partitions made for them (edp.enable_partitioning)', parent));
    EXECUTE format('COMMENT ON TRIGGER edp_route_default ON %s IS %L', d,
                   format('edp: at commit, moves the rows inserted into %s into partitions made for them (edp.enable_partitioning)', d));
    PERFORM edp_internal.add_leaf_triggers(d);
    RETURN d;
END
$function$;

CREATE OR REPLACE FUNCTION edp_internal.add_leaf_triggers(leaf regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    trg name;
BEGIN
    EXECUTE format('CREATE TRIGGER edp_buckets_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS edp_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', leaf);
    EXECUTE format('CREATE TRIGGER edp_buckets_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS edp_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', leaf);
    EXECUTE format('CREATE TRIGGER edp_buckets_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS edp_old NEW TABLE AS edp_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', leaf);
    EXECUTE format('CREATE TRIGGER edp_buckets_truncate BEFORE TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', leaf);
    FOREACH trg IN ARRAY ARRAY['edp_buckets_insert', 'edp_buckets_delete', 'edp_buckets_update', 'edp_buckets_truncate'] LOOP
        EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', trg, leaf,
                       format('edp: keeps the rollup and dedupe of %s exact for statements addressed to its partition %s (edp.enable_partitioning)',
                              pg_partition_root(leaf), leaf));
    END LOOP;
END
$function$;

CREATE OR REPLACE FUNCTION edp_internal.add_type_partition(parent regclass, v text, vnull boolean, col name)
 RETURNS regclass
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    nsp name;
    base name;
    pname name;
    coltype regtype;
BEGIN
    SELECT s.nspname, c.relname INTO nsp, base FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE c.oid = parent;
    SELECT atttypid INTO coltype FROM pg_attribute WHERE attrelid = parent AND attname = col;
    pname := edp_internal.partition_name(base, CASE WHEN vnull THEN 'null'
                                  ELSE left(coalesce(nullif(trim(both '_' from regexp_replace(lower(v), '[^a-z0-9]+', '_', 'g')), ''), 'x'), 24) END, nsp);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES IN (%s)', nsp, pname, parent,
                   CASE WHEN vnull THEN 'NULL' ELSE format('%L::%s', v, coltype) END);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', nsp, pname,
                   format('edp: partition of %s for %I %s, made for the rows of that type (edp.enable_partitioning)', parent, col,
                          CASE WHEN vnull THEN 'NULL' ELSE quote_literal(v) END));
    PERFORM edp_internal.add_leaf_triggers(format('%I.%I', nsp, pname)::regclass);
    RETURN format('%I.%I', nsp, pname)::regclass;
END
$function$;

CREATE OR REPLACE FUNCTION edp_internal.buckets_on_drop()
 RETURNS event_trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT d.objid FROM pg_event_trigger_dropped_objects() d
              WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 LOOP
        -- an event table went: its rollup goes with it
        PERFORM edp_internal.drop_rollup_of(r.objid);
        -- a rollup went: bucket queries read raw rows
        PERFORM edp_internal.invalidate_settings(relid) FROM edp.event_tables WHERE rollup_relid::oid = r.objid;
        UPDATE edp.event_tables SET rollup_relid = NULL, rollup_width = NULL, rollup_stale = false
         WHERE rollup_relid::oid = r.objid;
    END LOOP;
END
$function$;

CREATE OR REPLACE FUNCTION edp_internal.ensure_bucket_triggers(tbl regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    trg name;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'edp_buckets_insert') THEN
        EXECUTE format('CREATE TRIGGER edp_buckets_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS edp_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', tbl);
        EXECUTE format('CREATE TRIGGER edp_buckets_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS edp_old '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', tbl);
        EXECUTE format('CREATE TRIGGER edp_buckets_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS edp_old NEW TABLE AS edp_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', tbl);
        EXECUTE format('CREATE TRIGGER edp_buckets_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', tbl);
        FOREACH trg IN ARRAY ARRAY['edp_buckets_insert', 'edp_buckets_delete', 'edp_buckets_update', 'edp_buckets_truncate'] LOOP
            EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', trg, tbl,
                           format('edp: keeps the rollup and dedupe of %s exact at each statement (edp.enable_rollup, edp.enable_dedupe)', tbl));
        END LOOP;
    END IF;
END
$function$;

CREATE FUNCTION edp_internal.rollup_chunk_start(ts pg_catalog.timestamptz, width pg_catalog.interval)
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'edp_rollup_chunk_start'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.rollup_chunk_start(pg_catalog.timestamptz, pg_catalog.interval) IS
    'internal: start of the rollup row (768 buckets of width from 2000-01-01 UTC, the first one from 4714-11-24 BC) holding ts; NULL for +-infinity, which is in no bucket';

CREATE OR REPLACE FUNCTION edp_internal.rollup_query(tbl regclass, key name, ts name, width interval)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT pg_catalog.format(
        'SELECT %I, edp_internal.rollup_chunk_start(%I, %L::interval), '
        '       edp_internal.rollup_agg(%I, %L::interval, 1) '
        '  FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL AND isfinite(%I) GROUP BY 1, 2',
        key, ts, width, ts, width, tbl, key, ts, ts)
$function$;

CREATE OR REPLACE FUNCTION edp_internal.trip_area_week_counts(trip_table regclass, area geometry, part text, time_zone text, first_monday date, last_monday date, utc_from timestamp without time zone, utc_to timestamp without time zone, use_rollup boolean)
 RETURNS TABLE(week date, trips bigint)
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
 SET jit TO 'off'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION edp_internal.trips_rollup_trigger()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

-- the partition of one day (or month) of an edp-partitioned table, with its
-- type level (list partitions of the given types, and a DEFAULT) when the
-- table is partitioned by type too
CREATE FUNCTION edp_internal.add_period_partition(root pg_catalog.regclass, p pg_catalog.timestamptz,
                                                  types pg_catalog.text[], typenulls pg_catalog.bool[])
RETURNS pg_catalog.regclass
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e edp.event_tables;
    nsp name;
    base name;
    step interval;
    pname name;
    part regclass;
    v text;
    vnull boolean;
    hi timestamptz;
    trg name;
BEGIN
    SELECT * INTO e FROM edp.event_tables WHERE relid = root;
    SELECT s.nspname, c.relname INTO nsp, base FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE c.oid = root;
    step := CASE e.partition_period WHEN 'day' THEN interval '1 day' ELSE interval '1 month' END;
    IF NOT isfinite(p) THEN
        RAISE EXCEPTION 'no partition of % holds %', root, p USING ERRCODE = 'datetime_field_overflow',
            DETAIL = 'Rows whose time is infinite stay in the DEFAULT partition, as rows without a time do.';
    END IF;
    p := date_trunc(e.partition_period, p AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    -- the last day (month) of the timestamptz range ends at 'infinity'
    hi := CASE WHEN p > '294276-12-31 23:59:59.999999+00'::timestamptz - step THEN 'infinity' ELSE p + step END;
    pname := edp_internal.partition_name(base, to_char(p AT TIME ZONE 'UTC',
                                 CASE e.partition_period WHEN 'day' THEN '"p"YYYYMMDD' ELSE '"p"YYYYMM' END), nsp);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)%s', nsp, pname, root,
                   p, hi,
                   CASE WHEN e.partition_type_column IS NOT NULL
                        THEN format(' PARTITION BY LIST (%I)', e.partition_type_column) ELSE '' END);
    part := format('%I.%I', nsp, pname)::regclass;
    EXECUTE format('COMMENT ON TABLE %s IS %L', part,
                   format('edp: partition of %s for the %s from %s UTC, made for the rows of that %s (edp.enable_partitioning)',
                          root, e.partition_period, to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD'), e.partition_period));
    IF e.partition_type_column IS NOT NULL THEN
        -- the day level is partitioned too: DML addressed to it fires its
        -- own statement triggers, not its leaves' (TRUNCATE fires the
        -- leaves', so the day level has none for it)
        EXECUTE format('CREATE TRIGGER edp_buckets_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS edp_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', part);
        EXECUTE format('CREATE TRIGGER edp_buckets_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS edp_old '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', part);
        EXECUTE format('CREATE TRIGGER edp_buckets_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS edp_old NEW TABLE AS edp_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', part);
        FOREACH trg IN ARRAY ARRAY['edp_buckets_insert', 'edp_buckets_delete', 'edp_buckets_update'] LOOP
            EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', trg, part,
                           format('edp: keeps the rollup and dedupe of %s exact for statements addressed to its partition %s (edp.enable_partitioning)',
                                  root, part));
        END LOOP;
        PERFORM edp_internal.add_default_partition(part);
        FOR v, vnull IN SELECT DISTINCT t.v, coalesce(t.vnull, t.v IS NULL)
                          FROM unnest(types, typenulls) AS t(v, vnull) LOOP
            PERFORM edp_internal.add_type_partition(part, v, vnull, e.partition_type_column);
        END LOOP;
    ELSE
        PERFORM edp_internal.add_leaf_triggers(part);
    END IF;
    RETURN part;
END
$$;
COMMENT ON FUNCTION edp_internal.add_period_partition(pg_catalog.regclass, pg_catalog.timestamptz, pg_catalog.text[], pg_catalog.bool[]) IS
    'internal: creates the partition of root for the day or month of p (with list partitions of types when root is partitioned by type too)';

-- the partitions a batch of rows needs, before it is written (validated
-- ingest): rows of days without a partition (ts, type), and rows of days
-- that have one but not for their type (parents, ptypes)
CREATE FUNCTION edp_internal.add_partitions(root pg_catalog.regclass,
                                            ts pg_catalog.timestamptz[], types pg_catalog.text[], typenulls pg_catalog.bool[],
                                            parents pg_catalog.oid[], ptypes pg_catalog.text[], ptypenulls pg_catalog.bool[])
RETURNS pg_catalog.int4
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e edp.event_tables;
    p timestamptz;
    parent oid;
    v text;
    vnull boolean;
    pt text[];
    ptn boolean[];
    n int := 0;
BEGIN
    SELECT * INTO e FROM edp.event_tables WHERE relid = root;
    IF e.partition_period IS NULL THEN
        RETURN 0;
    END IF;
    FOR p, pt, ptn IN
        SELECT d.p, array_agg(d.v), array_agg(d.vnull)
          FROM (SELECT DISTINCT date_trunc(e.partition_period, u.t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS p,
                       u.v, coalesce(u.vnull, u.v IS NULL) AS vnull
                  FROM unnest(ts, types, typenulls) u(t, v, vnull)
                 WHERE u.t IS NOT NULL AND isfinite(u.t)) d
         GROUP BY d.p ORDER BY d.p LOOP
        PERFORM edp_internal.add_period_partition(root, p, pt, ptn);
        n := n + 1;
    END LOOP;
    IF e.partition_type_column IS NOT NULL THEN
        FOR parent, v, vnull IN SELECT DISTINCT u.parent, u.v, u.vnull FROM unnest(parents, ptypes, ptypenulls) u(parent, v, vnull) LOOP
            PERFORM edp_internal.add_type_partition(parent::regclass, v, vnull, e.partition_type_column);
            n := n + 1;
        END LOOP;
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION edp_internal.add_partitions(pg_catalog.regclass, pg_catalog.timestamptz[], pg_catalog.text[], pg_catalog.bool[], pg_catalog.oid[], pg_catalog.text[], pg_catalog.bool[]) IS
    'internal: creates the day (or month) and type partitions that rows about to be written need; returns how many';

-- rows an earlier statement of this transaction left in a DEFAULT partition
-- (routed at commit) move before partitions are added: a new partition's
-- bound must not cover rows of its parent's DEFAULT partition
CREATE FUNCTION edp_internal.route_defaults(root pg_catalog.regclass, parents pg_catalog.oid[])
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d regclass;
    top boolean;
    ts name;
    busy boolean;
    moved boolean := false;
BEGIN
    SELECT ts_column INTO ts FROM edp.event_tables WHERE relid = root;
    FOR d, top IN SELECT i.inhrelid::regclass, i.inhparent = root FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE (i.inhparent = root OR i.inhparent = ANY (parents))
                AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' LOOP
        -- (rows without a time stay in the root's DEFAULT partition: not a reason)
        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE %s)', d,
                       CASE WHEN top THEN format('%I IS NOT NULL', ts) ELSE 'true' END) INTO busy;
        IF busy THEN
            PERFORM edp_internal.route_default(d);
            moved := true;
        END IF;
    END LOOP;
    RETURN moved;
END
$$;
COMMENT ON FUNCTION edp_internal.route_defaults(pg_catalog.regclass, pg_catalog.oid[]) IS
    'internal: routes the rows of the DEFAULT partitions of root and of parents now (creating their partitions); true when any moved';

-- the dedupe index of a key of several columns: one int8 hash of the key
CREATE FUNCTION edp_internal.dedupe_hash(VARIADIC "any")
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_dedupe_hash'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.dedupe_hash(VARIADIC "any") IS
    'one 64-bit hash of a dedupe key (each column by its type''s extended hash): the key of the dedupe index of a key of several columns';

CREATE FUNCTION edp_internal.dedupe_hashable(pg_catalog.regclass, pg_catalog.name[])
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'edp_dedupe_hashable_sql'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.dedupe_hashable(pg_catalog.regclass, pg_catalog.name[]) IS
    'true when the dedupe key (columns) of a table is indexed by edp_internal.dedupe_hash(): two or more columns, each hashable, no nondeterministic collation';

CREATE FUNCTION edp_internal.dedupe_arrival(pg_catalog.record)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_dedupe_arrival'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.dedupe_arrival(pg_catalog.record) IS
    'internal: during dedupe of a load, the arrival (position or input line) in the load of a stored row whose key repeats in it, else NULL';

CREATE FUNCTION edp_internal.has_key_ts_btree(tbl pg_catalog.regclass, key pg_catalog.name, ts pg_catalog.name)
RETURNS pg_catalog.bool
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT EXISTS (
        SELECT FROM pg_catalog.pg_index i
          JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
          JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam
          JOIN pg_catalog.pg_attribute ka ON ka.attrelid OPERATOR(pg_catalog.=) i.indrelid AND ka.attnum OPERATOR(pg_catalog.=) i.indkey[0]
          JOIN pg_catalog.pg_attribute ta ON ta.attrelid OPERATOR(pg_catalog.=) i.indrelid AND ta.attnum OPERATOR(pg_catalog.=) i.indkey[1]
         WHERE i.indrelid OPERATOR(pg_catalog.=) tbl AND am.amname OPERATOR(pg_catalog.=) 'btree'
           AND i.indpred IS NULL AND ka.attname OPERATOR(pg_catalog.=) key AND ta.attname OPERATOR(pg_catalog.=) ts);
END;
COMMENT ON FUNCTION edp_internal.has_key_ts_btree(pg_catalog.regclass, pg_catalog.name, pg_catalog.name) IS
    'true when tbl has a btree index leading with (key, ts), which serves dedupe probes of a key holding both';


-- comments that name the moved functions
COMMENT ON FUNCTION edp_internal.rollup_agg_final(internal) IS
    'internal: final function of edp_internal.rollup_agg (sorts and sums the pairs)';
COMMENT ON FUNCTION edp_internal.rollup_agg_trans(internal,timestamp with time zone,interval,integer) IS
    'internal: transition function of edp_internal.rollup_agg';
COMMENT ON FUNCTION edp_internal.trip_block_counts_add(internal,bytea,bigint,bigint,integer,double precision,double precision,double precision,double precision,double precision,date,date) IS
    'transition function of edp_internal.trip_block_counts';
COMMENT ON FUNCTION edp_internal.trip_block_counts_final(internal) IS
    'final function of edp_internal.trip_block_counts';
COMMENT ON FUNCTION edp_internal.trip_block_pack_add(internal,integer,double precision,double precision,double precision,double precision,date,bytea) IS
    'transition function of edp_internal.trip_block_pack';
COMMENT ON FUNCTION edp_internal.trip_block_pack_final(internal) IS
    'final function of edp_internal.trip_block_pack';
COMMENT ON FUNCTION edp_internal.trip_cell_ids(double precision,double precision,double precision,double precision,double precision) IS
    'ids (edp_internal.trip_cell_id) of every cell a point of the box can lie in; NULL above 100000 cells';

-- internals no user path calls directly: aggregate support functions (checked
-- against the aggregate's owner), event-trigger and planner-support functions
REVOKE EXECUTE ON FUNCTION edp_internal.forget_dropped_tables() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.generate_events_support(pg_catalog.internal) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.buckets_on_drop() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.rollup_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.rollup_agg_final(internal) FROM PUBLIC;
-- edp.bucket_counts_agg with a bytea state (Citus splits it; issue 15):
-- the aggregates and their internal-state support functions are replaced
DROP AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz);
DROP AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text);
DROP FUNCTION edp_internal.bucket_counts_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz);
DROP FUNCTION edp_internal.bucket_counts_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text);
DROP FUNCTION edp_internal.bucket_counts_agg_combine(internal, internal);
DROP FUNCTION edp_internal.bucket_counts_agg_serialize(internal);
DROP FUNCTION edp_internal.bucket_counts_agg_deserialize(pg_catalog.bytea, internal);
DROP FUNCTION edp_internal.bucket_counts_agg_final(internal);

-- The state is a bytea, not internal, so that Citus splits the aggregate
-- into worker_partial_agg and coord_combine_agg (it refuses internal
-- states) and parallel query needs no serialization.  The support
-- functions check any state they did not make, and keep EXECUTE for
-- PUBLIC: Citus checks it for the calling role.
CREATE FUNCTION edp_internal.bucket_counts_agg_trans(pg_catalog.bytea, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz)
RETURNS pg_catalog.bytea
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.bucket_counts_agg_trans(pg_catalog.bytea, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
    'transition function of edp.bucket_counts_agg (hourly, UTC)';

CREATE FUNCTION edp_internal.bucket_counts_agg_trans(pg_catalog.bytea, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                            pg_catalog.interval, pg_catalog.text)
RETURNS pg_catalog.bytea
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.bucket_counts_agg_trans(pg_catalog.bytea, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text) IS
    'transition function of edp.bucket_counts_agg (any width and zone)';

CREATE FUNCTION edp_internal.bucket_counts_agg_combine(pg_catalog.bytea, pg_catalog.bytea)
RETURNS pg_catalog.bytea
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.bucket_counts_agg_combine(pg_catalog.bytea, pg_catalog.bytea) IS
    'combine function of edp.bucket_counts_agg: adds per-bucket counters of two states of the same range';

CREATE FUNCTION edp_internal.bucket_counts_agg_final(pg_catalog.bytea)
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_bucket_counts_agg_result'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.bucket_counts_agg_final(pg_catalog.bytea) IS
    'final function of edp.bucket_counts_agg: the per-bucket counters as bigint[]';

CREATE AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz) (
    SFUNC = edp_internal.bucket_counts_agg_trans,
    STYPE = pg_catalog.bytea,
    FINALFUNC = edp_internal.bucket_counts_agg_final,
    COMBINEFUNC = edp_internal.bucket_counts_agg_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
    'events per hourly UTC bucket of [from, to) as bigint[] (element i = bucket i of edp.bucket_series), zero-filled';

CREATE AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                       pg_catalog.interval, pg_catalog.text) (
    SFUNC = edp_internal.bucket_counts_agg_trans,
    STYPE = pg_catalog.bytea,
    FINALFUNC = edp_internal.bucket_counts_agg_final,
    COMBINEFUNC = edp_internal.bucket_counts_agg_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp.bucket_counts_agg(pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text) IS
    'events per bucket (width, zone) of [from, to) as bigint[] (element i = bucket i of edp.bucket_series), zero-filled';

REVOKE EXECUTE ON FUNCTION edp_internal.trips_drop_event() FROM PUBLIC;
-- edp.weekly_average and edp.weekly_counts with a bytea state (Citus splits
-- them; issue 15): the aggregates and their internal-state support
-- functions are replaced
DROP AGGREGATE edp.weekly_average(timestamp, date, date, text);
DROP AGGREGATE edp.weekly_counts(timestamp, date, date, text);
DROP FUNCTION edp_internal.weekly_trips_add(internal, timestamp, date, date, text);
DROP FUNCTION edp_internal.weekly_trips_combine(internal, internal);
DROP FUNCTION edp_internal.weekly_trips_serialize(internal);
DROP FUNCTION edp_internal.weekly_trips_deserialize(bytea, internal);
DROP FUNCTION edp_internal.weekly_trips_average(internal);
DROP FUNCTION edp_internal.weekly_trips_counts(internal);
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
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_pack_add(internal, integer, float8, float8, float8, float8, date, bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_pack_final(internal) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_counts_add(internal, bytea, bigint, bigint, integer, float8, float8, float8, float8, float8, date, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.trip_block_counts_final(internal) FROM PUBLIC;

-- issue 12: "not an edp trips table", trip_groups checks its arguments before its query
CREATE OR REPLACE FUNCTION edp_internal.trip_weeks(trip_table pg_catalog.regclass, time_zone text,
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

CREATE OR REPLACE FUNCTION edp.trip_groups(trip_table pg_catalog.regclass, eps_origin_m float8,
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

COMMENT ON FUNCTION edp.region_weekly_trip_counts(pg_catalog.regclass, text, text, date, date, boolean) IS
    'trips per ISO week whose region column equals region (case-insensitively), every week of the period, empty weeks as 0';

-- re-created trips functions: pin search_path to PostGIS's schema again
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

-- the day level of tables partitioned by day and type gets the statement
-- triggers of its own DML (its leaves' do not fire for it)
CREATE OR REPLACE FUNCTION edp_internal.route_default_rows(dflt regclass)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
    types text[];
    typenulls boolean[];
    moved bigint := 0;
    n bigint;
    left_over bigint;
    moving text;
    hi timestamptz;
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
    EXECUTE format('COMMENT ON TABLE %s IS %L', moving,
                   format('edp: rows of %s moving into their partitions (edp_internal.route_default_rows drops it when done)', dflt));

    IF parent = root THEN
        -- period level: every row with a time leaves the DEFAULT partition in
        -- one pass (a pass per day would read it once per day), and each
        -- day's rows go into the partition made for them, read back through
        -- an index on the staging table.  (Into that partition, not the
        -- root: the root's statement triggers, a user's among them, must not
        -- fire for rows that are only moving.)
        EXECUTE format('WITH m AS (DELETE FROM %s WHERE %I IS NOT NULL AND isfinite(%I) RETURNING *) INSERT INTO %s SELECT * FROM m',
                       dflt, e.ts_column, e.ts_column, moving);
        EXECUTE format('CREATE INDEX %I ON %s (%I)', 'edp_moving_' || pg_backend_pid() || '_ts', moving, e.ts_column);
        EXECUTE format('COMMENT ON INDEX %I.%I IS %L', nsp, 'edp_moving_' || pg_backend_pid() || '_ts',
                       'edp: reads the moving rows back by day (edp_internal.route_default_rows)');
        FOR p IN EXECUTE format('SELECT DISTINCT date_trunc(%L, %I AT TIME ZONE ''UTC'') AT TIME ZONE ''UTC'' '
                                'FROM %s ORDER BY 1', e.partition_period, e.ts_column, moving) LOOP
            hi := CASE WHEN p > '294276-12-31 23:59:59.999999+00'::timestamptz - step THEN 'infinity' ELSE p + step END;
            IF e.partition_type_column IS NOT NULL THEN
                EXECUTE format('SELECT array_agg(v), array_agg(vnull) FROM (SELECT DISTINCT %I::text AS v, %I IS NULL AS vnull FROM %s '
                               'WHERE %I >= $1 AND %I < $2) d', e.partition_type_column, e.partition_type_column, moving,
                               e.ts_column, e.ts_column) USING p, hi INTO types, typenulls;
            END IF;
            part := edp_internal.add_period_partition(root, p, types, typenulls);
            EXECUTE format('INSERT INTO %s SELECT * FROM %s WHERE %I >= $1 AND %I < $2', part, moving,
                           e.ts_column, e.ts_column) USING p, hi;
            GET DIAGNOSTICS n = ROW_COUNT;
            moved := moved + n;
        END LOOP;
    ELSE
        -- type level: one partition per event type present
        FOR v, vnull IN EXECUTE format('SELECT DISTINCT %I::text, %I IS NULL FROM %s', e.partition_type_column, e.partition_type_column, dflt) LOOP
            EXECUTE format('WITH m AS (DELETE FROM %s WHERE %I::text IS NOT DISTINCT FROM $1 RETURNING *) INSERT INTO %s SELECT * FROM m',
                           dflt, e.partition_type_column, moving) USING v;
            part := edp_internal.add_type_partition(parent, v, vnull, e.partition_type_column);
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
            USING DETAIL = format('They have no finite %s to route by.',
                                  CASE WHEN parent = root THEN quote_ident(e.ts_column) ELSE quote_ident(e.partition_type_column) END),
                  HINT = 'Rows without an event time, or at +-infinity, cannot be placed in a date partition; give the column a NOT NULL constraint.';
    END IF;
    RETURN moved;
END
$function$;

DO $$
DECLARE
    lvl pg_catalog.regclass;
BEGIN
    FOR lvl IN SELECT c.oid FROM edp.event_tables e
                 JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) e.relid::pg_catalog.oid
                 JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
                WHERE e.partition_type_column IS NOT NULL AND c.relkind OPERATOR(pg_catalog.=) 'p'
                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                                   WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid
                                     AND t.tgname OPERATOR(pg_catalog.=) 'edp_buckets_insert')
    LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER edp_buckets_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS edp_new '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', lvl);
        EXECUTE pg_catalog.format('CREATE TRIGGER edp_buckets_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS edp_old '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', lvl);
        EXECUTE pg_catalog.format('CREATE TRIGGER edp_buckets_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS edp_old NEW TABLE AS edp_new '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION edp_internal.buckets_trigger()', lvl);
    END LOOP;
END
$$;

-- comments on the policies, event triggers and indexes of the extension
COMMENT ON POLICY event_tables_read ON edp.event_tables IS
    'everyone may read edp''s catalog: edp''s COPY path and triggers run as the loading user';
COMMENT ON POLICY event_tables_owner ON edp.event_tables IS
    'a table''s row may be written by roles with the privileges of the table''s owner, and removed by anyone once the table is gone';
COMMENT ON POLICY trip_tables_read ON edp.trip_tables IS
    'everyone may read the trips catalog: the trips COPY path and rollup triggers run as the loading user';
COMMENT ON POLICY trip_tables_owner ON edp.trip_tables IS
    'a trips table''s row may be written by roles with the privileges of the table''s owner, and removed by anyone once the table is gone';
COMMENT ON EVENT TRIGGER edp_forget_dropped_tables IS
    'removes dropped tables from edp.event_tables';
COMMENT ON EVENT TRIGGER edp_trips_drop IS
    'dropping a trips table drops its rollups, point blocks and catalog row';
COMMENT ON EVENT TRIGGER edp_buckets_drop IS
    'dropping an event table drops its rollup';
COMMENT ON INDEX edp.regions_geom_idx IS 'GiST index of the region outlines (region lookups by point)';
COMMENT ON INDEX edp.jobs_checksum_idx IS 'finds an earlier load of the same input into the same table (re-ingest detection)';
COMMENT ON INDEX edp.job_events_job_idx IS 'a job''s events, for listeners that catch up';

-- export to Parquet -----------------------------------------------------------

-- edp.export() runs are jobs of the ingest ledger: same rows, events and
-- channel; kind tells them apart and their format is 'parquet'
ALTER TABLE edp.jobs ADD COLUMN kind pg_catalog.text NOT NULL DEFAULT 'ingest'
    CHECK (kind IN ('ingest', 'export'));
COMMENT ON COLUMN edp.jobs.kind IS
    'ingest: a load into target (source: the input); export: edp.export() of target into the server directory source (rows_in = loaded = rows written, size = bytes written)';
ALTER TABLE edp.jobs DROP CONSTRAINT jobs_format_check;
ALTER TABLE edp.jobs ADD CONSTRAINT jobs_format_check CHECK (format IN ('csv', 'jsonl', 'parquet'));

CREATE FUNCTION edp.export(tbl pg_catalog.regclass, directory pg_catalog.text,
                           partition_by pg_catalog.text[] DEFAULT '{}',
                           format pg_catalog.text DEFAULT 'parquet',
                           compression pg_catalog.text DEFAULT 'zstd',
                           row_group_size pg_catalog.int4 DEFAULT NULL,
                           time_column pg_catalog.name DEFAULT NULL)
RETURNS edp.jobs
AS 'MODULE_PATHNAME', 'edp_export'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION edp.export(pg_catalog.regclass, pg_catalog.text, pg_catalog.text[], pg_catalog.text,
                               pg_catalog.text, pg_catalog.int4, pg_catalog.name) IS
    'write a table as Parquet files under an empty server directory, in Hive-style directories by partition_by (columns, or event_date/year/month/day of the time column); atomic per run; returns the job (kind export)';

-- the job queue and inbox states ----------------------------------------------

-- workers take the oldest queued job first; jobs beyond the free worker
-- slots wait in the queue
CREATE INDEX jobs_queued_idx ON edp.jobs (id) WHERE status = 'queued';
COMMENT ON INDEX edp.jobs_queued_idx IS 'the job queue: workers take the oldest queued job first';

-- each inbox's state, set by the launcher
ALTER TABLE edp.inboxes ADD COLUMN state pg_catalog.text NOT NULL DEFAULT 'new'
    CHECK (state IN ('new', 'watching', 'error'));
ALTER TABLE edp.inboxes ADD COLUMN error pg_catalog.text;
ALTER TABLE edp.inboxes ADD COLUMN state_since pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now();

CREATE FUNCTION edp_internal.check_inbox_directory(directory pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'edp_check_inbox_directory'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.check_inbox_directory(pg_catalog.text) IS
    'edp.watch_inbox''s check: the directory exists and the server may read and write it; warns when no launcher will watch it';
REVOKE ALL ON FUNCTION edp_internal.check_inbox_directory(pg_catalog.text) FROM PUBLIC;

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

-- progress of jobs: percent done and rows per second (COPY ... ON_ERROR)
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

-- bucket_counts: an untyped literal key (read as the key column's type)
CREATE FUNCTION edp.bucket_counts(tbl pg_catalog.regclass, key pg_catalog.text,
                                  from_ts pg_catalog.timestamptz, to_ts pg_catalog.timestamptz,
                                  width pg_catalog.interval DEFAULT '1 hour',
                                  tz pg_catalog.text DEFAULT 'UTC',
                                  fill pg_catalog.bool DEFAULT true)
RETURNS TABLE (bucket_start pg_catalog.timestamptz, events pg_catalog.int8)
AS 'MODULE_PATHNAME', 'edp_bucket_counts'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp.bucket_counts(pg_catalog.regclass, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.text, pg_catalog.bool) IS
    'bucket_counts for a key given as text or an untyped literal, read as the key column''s type';

-- issue 15: tables edp cannot keep are refused at enable_*; disable_* drops
-- the statement triggers enable_rollup and enable_dedupe added
-- Citus (issue 15): is tbl a table of Citus's metadata (distributed,
-- reference or Citus local)?  Its rows live in shards that edp's rollups do
-- not follow; false without Citus.
CREATE FUNCTION edp_internal.is_citus_table(tbl pg_catalog.regclass)
RETURNS pg_catalog.bool
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found boolean := false;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid OPERATOR(pg_catalog.=) $1)'
           INTO found USING tbl;
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION edp_internal.is_citus_table(pg_catalog.regclass) IS
    'internal: true when tbl is a Citus table (distributed, reference or Citus local), whose rows live in shards';

-- Tables edp cannot keep (issue 15): Citus tables, whose rows live in shards
-- that edp's triggers and loaders do not reach, and partitioned tables with
-- foreign partitions, from which PostgreSQL collects no transition tables
-- (every write would fail).  enable_* refuses them with a clear error.
CREATE FUNCTION edp_internal.check_kept_table(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    foreign_part regclass;
BEGIN
    IF edp_internal.is_citus_table(tbl) THEN
        RAISE EXCEPTION 'edp cannot keep its features on "%" because it is a Citus table', tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Its rows live in Citus''s shards, which edp''s triggers and loaders do not maintain.',
                  HINT = 'Keep the table local to use edp''s features on it; bucket_counts_agg, weekly_average and weekly_counts work on distributed tables.';
    END IF;
    SELECT t.relid INTO foreign_part
      FROM pg_catalog.pg_partition_tree(tbl) t JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid
     WHERE c.relkind OPERATOR(pg_catalog.=) 'f'
     ORDER BY t.level, t.relid::pg_catalog.text LIMIT 1;
    IF foreign_part IS NOT NULL THEN
        RAISE EXCEPTION 'edp cannot keep its features on "%" because its partition "%" is a foreign table', tbl, foreign_part
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'edp''s statement triggers need transition tables, which PostgreSQL cannot collect from foreign partitions.',
                  HINT = 'Enable edp''s features on a table whose partitions are all local tables.';
    END IF;
END
$$;
COMMENT ON FUNCTION edp_internal.check_kept_table(pg_catalog.regclass) IS
    'internal: raises 0A000 when edp cannot keep its features on tbl (a Citus table, or a partitioned table with foreign partitions)';

CREATE FUNCTION edp_internal.drop_bucket_triggers(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t name;
BEGIN
    IF EXISTS (SELECT FROM edp.event_tables
                WHERE relid OPERATOR(pg_catalog.=) tbl
                  AND (rollup_relid IS NOT NULL OR dedupe_mode OPERATOR(pg_catalog.<>) 'none')) THEN
        RETURN;
    END IF;
    FOR t IN SELECT tgname FROM pg_catalog.pg_trigger
              WHERE tgrelid OPERATOR(pg_catalog.=) tbl AND NOT tgisinternal AND tgparentid OPERATOR(pg_catalog.=) 0
                AND tgname IN ('edp_buckets_insert', 'edp_buckets_delete', 'edp_buckets_update', 'edp_buckets_truncate')
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', t, tbl);
    END LOOP;
END
$$;
COMMENT ON FUNCTION edp_internal.drop_bucket_triggers(pg_catalog.regclass) IS
    'internal: removes the statement triggers of edp.enable_rollup and edp.enable_dedupe from tbl once neither is on';

-- disable_* drop the indexes enable_* made; foreign partitions attached
-- after enable_* are refused (issue 15)
-- the index of tbl named left(tbl, name_len) || suffix, or NULL: where
-- enable_rollup and enable_dedupe put theirs
CREATE FUNCTION edp_internal.named_index(tbl pg_catalog.regclass, name_len pg_catalog.int4, suffix pg_catalog.text)
RETURNS pg_catalog.regclass
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT i.indexrelid::pg_catalog.regclass
      FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
           JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) i.indrelid
     WHERE i.indrelid OPERATOR(pg_catalog.=) tbl
       AND c.relname OPERATOR(pg_catalog.=) (pg_catalog.left(t.relname::pg_catalog.text, name_len) OPERATOR(pg_catalog.||) suffix)
$$;
COMMENT ON FUNCTION edp_internal.named_index(pg_catalog.regclass, pg_catalog.int4, pg_catalog.text) IS
    'internal: the index of tbl named left(tbl, name_len) || suffix, or NULL';

-- drops that index when edp made it (its comment begins with 'edp: '); an
-- index of the user's of that name stays
CREATE FUNCTION edp_internal.drop_edp_index(tbl pg_catalog.regclass, name_len pg_catalog.int4, suffix pg_catalog.text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    idx regclass := edp_internal.named_index(tbl, name_len, suffix);
BEGIN
    IF idx IS NOT NULL AND pg_catalog.obj_description(idx, 'pg_class') OPERATOR(pg_catalog.~~) 'edp: %' THEN
        EXECUTE pg_catalog.format('DROP INDEX %s', idx);
    END IF;
END
$$;
COMMENT ON FUNCTION edp_internal.drop_edp_index(pg_catalog.regclass, pg_catalog.int4, pg_catalog.text) IS
    'internal: drops the index left(tbl, name_len) || suffix of tbl when edp made it (its comment says so)';

-- A foreign table attached later as a partition of an edp table (ALTER TABLE
-- ... ATTACH PARTITION, CREATE FOREIGN TABLE ... PARTITION OF) would break
-- every later write of the table, as at enable_* time: refused the same way.
CREATE FUNCTION edp_internal.refuse_foreign_partitions()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    root regclass;
BEGIN
    FOR r IN SELECT DISTINCT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
              WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND c.objsubid OPERATOR(pg_catalog.=) 0
    LOOP
        root := pg_catalog.pg_partition_root(r.objid::pg_catalog.regclass);
        IF root IS NOT NULL AND EXISTS (SELECT FROM edp.event_tables t WHERE t.relid OPERATOR(pg_catalog.=) root) THEN
            PERFORM edp_internal.check_kept_table(root);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION edp_internal.refuse_foreign_partitions() IS
    'event trigger function: refuses a foreign partition attached to an edp table (0A000, as enable_* does)';
CREATE EVENT TRIGGER edp_refuse_foreign_partitions ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE FOREIGN TABLE')
    EXECUTE FUNCTION edp_internal.refuse_foreign_partitions();
COMMENT ON EVENT TRIGGER edp_refuse_foreign_partitions IS
    'refuses foreign partitions attached to edp tables after enable_* (their writes would fail)';
COMMENT ON FUNCTION edp.disable_rollup(pg_catalog.regclass) IS
    'drops the rollup of tbl (and the BI views of edp.create_bucket_views) and its raw index; bucket queries then read raw rows';
COMMENT ON FUNCTION edp.disable_dedupe(pg_catalog.regclass) IS
    'stops removing duplicate events of tbl at ingest and drops its probe index';
