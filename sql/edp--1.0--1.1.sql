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

-- partition routing runs restricted: no temporary staging table
CREATE OR REPLACE FUNCTION edp._route_default_rows(dflt pg_catalog.regclass)
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
