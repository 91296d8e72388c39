-- comments: every object edp creates at run time for a user's table (rollup
-- and side tables, partitions, triggers, indexes, views) carries a COMMENT
-- saying what it is and which edp call made it, quoted and mixed-case names
-- and schemas included
SET client_min_messages = warning;
CREATE SCHEMA "Regress Cm";
SET search_path = "Regress Cm", public;
SET TimeZone = 'UTC';

-- partitioned by day and type, with rollup and dedupe
CREATE TABLE "Ev ""Q"" T" (customer_id bigint, event_type text, transaction_id uuid, "Event TS" timestamptz)
    PARTITION BY RANGE ("Event TS");
SELECT edp.enable_partitioning('"Ev ""Q"" T"', ts => 'Event TS', period => 'day', type_column => 'event_type');
SELECT edp.enable_rollup('"Ev ""Q"" T"', key => 'customer_id', ts => 'Event TS');
SELECT edp.enable_dedupe('"Ev ""Q"" T"', columns => '{customer_id,"Event TS",event_type,transaction_id}');
SELECT edp.create_bucket_views('"Ev ""Q"" T"');
-- rows of days without a partition wait in the DEFAULT one and are routed at
-- commit (through a staging table), which makes the day and type partitions
INSERT INTO "Ev ""Q"" T"
SELECT g % 3, CASE WHEN g % 2 = 0 THEN 'O''pen' END, md5(g::text)::uuid,
       '2024-01-01 00:00+00'::timestamptz + g * interval '11 hours'
  FROM generate_series(1, 6) g;
SELECT count(*) AS rows, count(DISTINCT tableoid) AS leaf_partitions FROM "Ev ""Q"" T";
-- a plain table: a BRIN raw index, a hashed dedupe index, flattening
CREATE TABLE "Plain Ev" (k int, v int, ts timestamptz, "Doc" jsonb, metric_one int);
SELECT edp.enable_rollup('"Plain Ev"', key => 'k', ts => 'ts', raw_index => 'brin');
SELECT edp.enable_dedupe('"Plain Ev"', columns => '{k,v}');
SELECT edp.enable_flattening('"Plain Ev"', source => 'Doc');
-- a trips table with its side tables, and a groups view
SELECT edp.create_trips_table('"Regress Cm"."Trips X"');
SELECT edp.create_trip_groups_view('"Trips X"', '"Regress Cm"."Groups V"', 100, 100, 10, 2);
RESET client_min_messages;

-- what has no comment: only the user's own tables (PostgreSQL's own
-- children of a partitioned index, and identity sequences, are not edp's)
SELECT c.relname, c.relkind FROM pg_class c
 WHERE c.relnamespace = '"Regress Cm"'::regnamespace AND obj_description(c.oid, 'pg_class') IS NULL
   AND NOT (c.relkind IN ('i', 'I') AND c.relispartition)
   AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                          AND d.objid = c.oid AND d.deptype = 'i'))
 ORDER BY 1;
SELECT t.tgrelid::regclass AS "table", t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = '"Regress Cm"'::regnamespace AND NOT t.tgisinternal
   AND obj_description(t.oid, 'pg_trigger') IS NULL
 ORDER BY 1, 2;
-- how many of each kind carry one (all kinds are made above)
SELECT c.relkind, count(*) AS commented FROM pg_class c
 WHERE c.relnamespace = '"Regress Cm"'::regnamespace AND obj_description(c.oid, 'pg_class') IS NOT NULL
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS commented_triggers FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = '"Regress Cm"'::regnamespace AND NOT t.tgisinternal
   AND obj_description(t.oid, 'pg_trigger') IS NOT NULL;

-- the text names the user's table as SQL would (quoted, schema-qualified)
SELECT obj_description('"Ev ""Q"" T_edp_rollup_pkey"'::regclass, 'pg_class') AS rollup_key;
SELECT obj_description('"Ev ""Q"" T_p20240101_o_pen"'::regclass, 'pg_class') AS type_partition;
SELECT obj_description(t.oid, 'pg_trigger') AS default_routing
  FROM pg_trigger t WHERE t.tgrelid = '"Ev ""Q"" T_default"'::regclass AND t.tgname = 'edp_route_default';
SELECT obj_description('"Plain Ev_edp_dedupe"'::regclass, 'pg_class') AS dedupe_index;
SELECT obj_description(t.oid, 'pg_trigger') AS flattening
  FROM pg_trigger t WHERE t.tgrelid = '"Plain Ev"'::regclass AND t.tgname = 'edp_flatten';
SELECT obj_description(x.indexrelid, 'pg_class') AS point_blocks_index
  FROM pg_index x WHERE x.indrelid = '"Trips X_point_blocks"'::regclass;

SET client_min_messages = warning;
DROP SCHEMA "Regress Cm" CASCADE;
RESET client_min_messages;
RESET search_path;
RESET TimeZone;
