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

CREATE FUNCTION edp_internal.xact_is_current(pg_catalog.xid)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'edp_xact_is_current'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.xact_is_current(pg_catalog.xid) IS
    'true when a row version with this xmin was written by the current transaction (used by dedupe)';

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

CREATE FUNCTION edp_internal.buckets_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_buckets_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.buckets_trigger() IS
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

CREATE FUNCTION edp_internal.invalidate_settings(tbl pg_catalog.regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'edp_invalidate_settings'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.invalidate_settings(pg_catalog.regclass) IS
    'internal: tells all backends that the bucket settings of tbl changed (relcache invalidation)';

-- admin helpers: the caller must own the table; they run with the caller's
-- rights (edp.event_tables lets owners write their tables' rows)
CREATE FUNCTION edp_internal.check_owner(tbl pg_catalog.regclass)
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
COMMENT ON FUNCTION edp_internal.check_owner(pg_catalog.regclass) IS
    'internal: raises 42809 unless tbl is a table and 42501 unless the session user owns it';

CREATE FUNCTION edp_internal.check_column(tbl pg_catalog.regclass, col pg_catalog.name, want pg_catalog.regtype DEFAULT NULL)
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
COMMENT ON FUNCTION edp_internal.check_column(pg_catalog.regclass, pg_catalog.name, pg_catalog.regtype) IS
    'internal: type of column col of tbl; raises 42703 if missing, 42804 if not of type want';

CREATE FUNCTION edp_internal.ensure_bucket_triggers(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION edp_internal.ensure_bucket_triggers(pg_catalog.regclass) IS
    'internal: creates the statement triggers (edp_buckets_*) that maintain rollup and dedupe';

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

CREATE FUNCTION edp_internal.rollup_pack(slots pg_catalog.int4[], counts pg_catalog.int8[])
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_rollup_pack'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.rollup_pack(pg_catalog.int4[], pg_catalog.int8[]) IS
    'internal: packs (slot, count) pairs of one rollup row, sorted by slot, summing repeats, dropping zeros';

CREATE FUNCTION edp_internal.rollup_merge(pg_catalog.int8[], pg_catalog.int8[])
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_rollup_merge'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.rollup_merge(pg_catalog.int8[], pg_catalog.int8[]) IS
    'internal: per-slot sum of two packed rollup arrays, dropping zeros';

CREATE FUNCTION edp_internal.rollup_count(pg_catalog.int8[], pg_catalog.int4)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_rollup_count'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.rollup_count(pg_catalog.int8[], pg_catalog.int4) IS
    'internal: the count of one slot of a packed rollup array (0 when absent)';

CREATE FUNCTION edp.rollup_buckets(chunk_start pg_catalog.timestamptz, width pg_catalog.interval, packed pg_catalog.int8[])
RETURNS TABLE (bucket_start pg_catalog.timestamptz, events pg_catalog.int8)
AS 'MODULE_PATHNAME', 'edp_rollup_buckets'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.rollup_buckets(pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int8[]) IS
    'the non-empty buckets of one rollup row, in order';

CREATE FUNCTION edp_internal.rollup_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4)
RETURNS internal
AS 'MODULE_PATHNAME', 'edp_rollup_agg_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.rollup_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) IS
    'internal: transition function of edp_internal.rollup_agg';

CREATE FUNCTION edp_internal.rollup_agg_final(internal)
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'edp_rollup_agg_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.rollup_agg_final(internal) IS
    'internal: final function of edp_internal.rollup_agg (sorts and sums the pairs)';

CREATE AGGREGATE edp_internal.rollup_agg(pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) (
    SFUNC = edp_internal.rollup_agg_trans,
    STYPE = internal,
    FINALFUNC = edp_internal.rollup_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE edp_internal.rollup_agg(pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) IS
    'internal: one packed rollup row from the event times of one (key, chunk), each counted with the given sign';

CREATE FUNCTION edp_internal.rollup_chunk_start(ts pg_catalog.timestamptz, width pg_catalog.interval)
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'edp_rollup_chunk_start'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp_internal.rollup_chunk_start(pg_catalog.timestamptz, pg_catalog.interval) IS
    'internal: start of the rollup row (768 buckets of width from 2000-01-01 UTC, the first one from 4714-11-24 BC) holding ts; NULL for +-infinity, which is in no bucket';

CREATE FUNCTION edp_internal.rollup_query(tbl pg_catalog.regclass, key pg_catalog.name, ts pg_catalog.name, width pg_catalog.interval)
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format(
        'SELECT %I, edp_internal.rollup_chunk_start(%I, %L::interval), '
        '       edp_internal.rollup_agg(%I, %L::interval, 1) '
        '  FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL AND isfinite(%I) GROUP BY 1, 2',
        key, ts, width, ts, width, tbl, key, ts, ts)
$$;
COMMENT ON FUNCTION edp_internal.rollup_query(pg_catalog.regclass, pg_catalog.name, pg_catalog.name, pg_catalog.interval) IS
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
$$;
COMMENT ON FUNCTION edp.enable_rollup(pg_catalog.regclass, pg_catalog.name, pg_catalog.name, pg_catalog.interval, pg_catalog.text) IS
    'keeps per (key, bucket) event counts of tbl in a rollup table, maintained by statement triggers at ingest; returns the rollup table';

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

CREATE FUNCTION edp.disable_rollup(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION edp.disable_rollup(pg_catalog.regclass) IS
    'drops the rollup of tbl (and the BI views of edp.create_bucket_views) and its raw index; bucket queries then read raw rows';

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
$$;
COMMENT ON FUNCTION edp.enable_dedupe(pg_catalog.regclass, pg_catalog.name[], pg_catalog.text, pg_catalog.name, pg_catalog.bool) IS
    'drops duplicate events at ingest: keep first (rows equal on columns) or keep latest (same event id, largest order_by wins)';

CREATE FUNCTION edp.disable_dedupe(tbl pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION edp.disable_dedupe(pg_catalog.regclass) IS
    'stops removing duplicate events of tbl at ingest and drops its probe index';

CREATE FUNCTION edp_internal.buckets_on_drop()
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
        PERFORM edp_internal.drop_rollup_of(r.objid);
        -- a rollup went: bucket queries read raw rows
        PERFORM edp_internal.invalidate_settings(relid) FROM edp.event_tables WHERE rollup_relid::oid = r.objid;
        UPDATE edp.event_tables SET rollup_relid = NULL, rollup_width = NULL, rollup_stale = false
         WHERE rollup_relid::oid = r.objid;
    END LOOP;
END
$$;
COMMENT ON FUNCTION edp_internal.buckets_on_drop() IS
    'event trigger: dropping an event table drops its rollup and its edp.event_tables row';

CREATE FUNCTION edp_internal.drop_rollup_of(tbl pg_catalog.oid)
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
COMMENT ON FUNCTION edp_internal.drop_rollup_of(pg_catalog.oid) IS
    'internal: forgets a dropped event table and drops its rollup';

CREATE EVENT TRIGGER edp_buckets_drop ON sql_drop EXECUTE FUNCTION edp_internal.buckets_on_drop();
COMMENT ON EVENT TRIGGER edp_buckets_drop IS
    'dropping an event table drops its rollup';

-- buckets: parallel aggregate ----------------------------------------------

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

-- buckets: partitions by event date and type, created on demand -----------

CREATE FUNCTION edp_internal.route_default_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'edp_route_default_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.route_default_trigger() IS
    'deferred row trigger of DEFAULT partitions: at commit, creates missing partitions and moves the rows there';

CREATE FUNCTION edp_internal.route_default(dflt pg_catalog.regclass)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'edp_route_default'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION edp_internal.route_default(pg_catalog.regclass) IS
    'internal: moves the rows of a DEFAULT partition into partitions created for them, without counting them twice';

CREATE FUNCTION edp_internal.partition_name(base pg_catalog.text, suffix pg_catalog.text, nsp pg_catalog.name)
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
COMMENT ON FUNCTION edp_internal.partition_name(pg_catalog.text, pg_catalog.text, pg_catalog.name) IS
    'internal: a free relation name base_suffix in schema nsp';

-- triggers every leaf partition carries, so DML and TRUNCATE addressed to a
-- partition directly keep the rollup exact too
CREATE FUNCTION edp_internal.add_leaf_triggers(leaf pg_catalog.regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION edp_internal.add_leaf_triggers(pg_catalog.regclass) IS
    'internal: statement triggers of a leaf partition (direct DML and TRUNCATE keep the rollup exact)';

CREATE FUNCTION edp_internal.add_default_partition(parent pg_catalog.regclass)
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
$$;
COMMENT ON FUNCTION edp_internal.add_default_partition(pg_catalog.regclass) IS
    'internal: the DEFAULT partition of parent (created with its routing trigger when missing)';

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

-- move the rows of a DEFAULT partition into partitions created for them
CREATE FUNCTION edp_internal.route_default_rows(dflt pg_catalog.regclass)
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
$$;
COMMENT ON FUNCTION edp_internal.route_default_rows(pg_catalog.regclass) IS
    'internal: creates the partitions missing for the rows of a DEFAULT partition and moves them there; warns about rows that cannot move';

CREATE FUNCTION edp_internal.add_type_partition(parent pg_catalog.regclass, v pg_catalog.text, vnull pg_catalog.bool, col pg_catalog.name)
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
$$;
COMMENT ON FUNCTION edp_internal.add_type_partition(pg_catalog.regclass, pg_catalog.text, pg_catalog.bool, pg_catalog.name) IS
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
$$;
COMMENT ON FUNCTION edp.create_bucket_views(pg_catalog.regclass, pg_catalog.name) IS
    'creates the BI views <table>_hourly_counts (key, bucket_start, events) and <table>_hourly_type_counts (key, event_type, bucket_start, events)';

-- internals no user path calls directly: aggregate support functions (checked
-- against the aggregate's owner), event-trigger and planner-support functions
REVOKE EXECUTE ON FUNCTION edp_internal.buckets_on_drop() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.rollup_agg_trans(internal, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.int4) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edp_internal.rollup_agg_final(internal) FROM PUBLIC;
