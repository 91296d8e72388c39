/*
 * edp install script, part 1 of 5: catalog.
 *
 * The Makefile concatenates sql/install/{catalog,events,buckets,trips,ingest}.sql,
 * in that order, into sql/edp--<version>.sql (built, not committed).
 */

\echo Use "CREATE EXTENSION edp" to load this file. \quit

-- catalog -------------------------------------------------------------------

GRANT USAGE ON SCHEMA edp TO PUBLIC;

-- What users call lives in edp; what edp's own objects call (trigger,
-- event-trigger and aggregate-support functions, helpers of the admin
-- functions) lives in edp_internal, so that \df edp.* is the reference.
-- Internals that run on a user's behalf (helpers of SECURITY INVOKER admin
-- functions, trigger functions named in CREATE TRIGGER) keep EXECUTE for
-- PUBLIC; the others are revoked where they are defined.
CREATE SCHEMA edp_internal;
COMMENT ON SCHEMA edp_internal IS
    'edp internals: trigger, aggregate-support and helper functions that edp''s own objects call; not an API';
GRANT USAGE ON SCHEMA edp_internal TO PUBLIC;

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
-- loading user); a table's row may be written by the table's owners only,
-- and removed by anyone once the table is gone (the event trigger that
-- forgets a dropped table runs as whoever dropped it, and the row of a
-- table that no longer exists must not outlive it to meet a reused OID).
ALTER TABLE edp.event_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY event_tables_read ON edp.event_tables FOR SELECT USING (true);
CREATE POLICY event_tables_owner ON edp.event_tables FOR ALL
    USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                   WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE')
           OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid))
    WITH CHECK (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                        WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON edp.event_tables TO PUBLIC;
COMMENT ON POLICY event_tables_read ON edp.event_tables IS
    'everyone may read edp''s catalog: edp''s COPY path and triggers run as the loading user';
COMMENT ON POLICY event_tables_owner ON edp.event_tables IS
    'a table''s row may be written by roles with the privileges of the table''s owner, and removed by anyone once the table is gone';

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

-- A dropped table leaves the catalog with it.
CREATE FUNCTION edp_internal.forget_dropped_tables()
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
COMMENT ON FUNCTION edp_internal.forget_dropped_tables() IS
    'event trigger function: removes dropped tables from edp.event_tables';
CREATE EVENT TRIGGER edp_forget_dropped_tables ON sql_drop
    EXECUTE FUNCTION edp_internal.forget_dropped_tables();
COMMENT ON EVENT TRIGGER edp_forget_dropped_tables IS
    'removes dropped tables from edp.event_tables';

