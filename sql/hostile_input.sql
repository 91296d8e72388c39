-- hostile input (issue 13): quoted and mixed-case names through every edp
-- function, timestamps at both ends of the range, +-infinity, the lines COPY
-- would stop at; the corpus of generated cases is test/t/070_hostile_input.pl
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- an event table with quoted names: rollup, dedupe, partitions, ingest, views
CREATE SCHEMA "Hostile Schema";
CREATE TABLE "Hostile Schema"."Events" ("Customer" text, "Event Type" text, "TS" timestamptz, tx uuid)
    PARTITION BY RANGE ("TS");
SELECT edp.enable_partitioning('"Hostile Schema"."Events"', ts => 'TS', period => 'day', type_column => 'Event Type');
SELECT edp.enable_rollup('"Hostile Schema"."Events"', key => 'Customer', ts => 'TS');
SELECT edp.enable_dedupe('"Hostile Schema"."Events"', columns => '{Customer,TS,Event Type}');
INSERT INTO "Hostile Schema"."Events" VALUES ('c', 'open', '2024-01-01 10:00+00', NULL), ('c', 'open', '2024-01-01 10:00+00', NULL);
COPY "Hostile Schema"."Events" FROM stdin CSV;
c,close,2024-01-02 11:00:00+00,
\.
SELECT status, rows_in, loaded, duplicates
  FROM edp.ingest_data('"Hostile Schema"."Events"', E'Customer,Event Type,TS\nd,open,2024-01-03 00:00:00+00\nc,close,2024-01-02 11:00:00+00\n');
SELECT * FROM edp.bucket_counts('"Hostile Schema"."Events"', 'c'::text, '2024-01-01', '2024-01-03') WHERE events > 0;
SELECT * FROM edp.bucket_counts_by('"Hostile Schema"."Events"', 'Event Type', '2024-01-01', '2024-01-04');
SELECT count(*) AS differences FROM edp.verify_rollup('"Hostile Schema"."Events"');
SELECT edp.refresh_rollup('"Hostile Schema"."Events"');
SELECT * FROM edp.create_bucket_views('"Hostile Schema"."Events"', 'Event Type');
SELECT * FROM "Hostile Schema"."Events_hourly_type_counts" ORDER BY 1, 2, 3;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = '"Hostile Schema"."Events"'::regclass;
SELECT edp.disable_rollup('"Hostile Schema"."Events"');

-- flattening with a quoted table and a mixed-case metric column
CREATE TABLE "Hostile Schema"."Metrics" (id bigint, "Metric One" int, event_metrics jsonb);
SELECT edp.enable_flattening('"Hostile Schema"."Metrics"', source => 'event_metrics', path => '{metrics}', exclude => '{id}');
INSERT INTO "Hostile Schema"."Metrics" (id, event_metrics) VALUES (1, '{"metrics": {"Metric One": 5}}');
SELECT * FROM "Hostile Schema"."Metrics";
SELECT edp.reflatten('"Hostile Schema"."Metrics"');
SELECT edp.original_metrics(m) FROM "Hostile Schema"."Metrics" m;

-- a trips table with a quoted, mixed-case name, and every trips function on it
SELECT edp.create_trips_table('"Hostile Schema"."Trips"');
SELECT edp.create_trips_table('"Trips"');
INSERT INTO "Hostile Schema"."Trips" (region, origin, destination, datetime, datasource)
SELECT 'R', ST_SetSRID(ST_MakePoint(14.4 + i * 0.0001, 50.08), 4326), ST_SetSRID(ST_MakePoint(14.5, 50.1), 4326),
       '2024-01-01 08:00'::timestamp + i * interval '1 minute', 's'
  FROM generate_series(1, 30) i;
SELECT status, loaded, rejected FROM edp.ingest_data('"Trips"',
    E'region,origin,destination,datetime,datasource\nR,POINT(14.4 50.08),POINT(14.5 50.1),2024-01-02 08:00,s\nR,POINT EMPTY,POINT(1 2),2024-01-02 08:00,s\n');
SELECT r.line, r.sqlstate, r.message FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id
 WHERE j.target = '"Trips"'::regclass ORDER BY r.line;
SELECT edp.weekly_trip_average('"Hostile Schema"."Trips"', 14.3, 50.0, 14.6, 50.2);
SELECT * FROM edp.weekly_trip_counts('"Hostile Schema"."Trips"', 14.3, 50.0, 14.6, 50.2);
SELECT edp.region_weekly_trip_average('"Hostile Schema"."Trips"', 'R');
SELECT count(*) AS assigned FROM edp.trip_assignments('"Hostile Schema"."Trips"', 150, 150, 20, 2);
SELECT count(*) AS groups FROM edp.trip_groups('"Hostile Schema"."Trips"', 150, 150, 20, 2);
SELECT edp.create_trip_groups_view('"Hostile Schema"."Trips"', '"Hostile Schema"."Trip Groups"', 150, 150, 20, 2);
SELECT count(*) AS groups_in_view FROM "Hostile Schema"."Trip Groups";
SELECT length(edp.trips_svg('"Hostile Schema"."Trips"', ST_MakeEnvelope(14.3, 50.0, 14.6, 50.2, 4326))) > 0 AS svg;
SELECT * FROM "Hostile Schema"."Trips_weekly_regions";
SELECT * FROM "Trips_cell_weeks";

-- timestamps at both ends of the range, and +-infinity
CREATE TABLE edges (customer_id text, ts timestamptz);
SELECT edp.enable_rollup('edges', key => 'customer_id', ts => 'ts');
INSERT INTO edges VALUES ('c', '4714-11-24 00:00:00+00 BC'), ('c', '4714-11-24 00:59:59+00 BC'),
    ('c', '294276-12-31 23:59:59.999999+00'), ('c', 'infinity'), ('c', '-infinity'), ('c', NULL);
SELECT status, rows_in, loaded FROM edp.ingest_data('edges', E'customer_id,ts\nd,4714-11-24 00:00:00+00 BC\nd,infinity\nd,294276-12-31 23:00:00+00\n');
-- the first rollup row starts at the earliest timestamptz, never before it
SELECT key, chunk_start, packed FROM edges_edp_rollup ORDER BY 1, 2;
SELECT count(*) AS differences FROM edp.verify_rollup('edges');
SELECT edp.refresh_rollup('edges');
SELECT key, chunk_start, packed FROM edges_edp_rollup ORDER BY 1, 2;
SELECT count(*) AS differences FROM edp.verify_rollup('edges');
SELECT rollup_stale FROM edp.event_tables WHERE relid = 'edges'::regclass;
SELECT * FROM edp.bucket_counts('edges', 'c'::text, '4714-11-24 00:00:00+00 BC', '4714-11-24 02:00:00+00 BC');
SELECT * FROM edp.bucket_counts('edges', 'c'::text, '294276-12-31 22:00:00+00', '294276-12-31 23:59:59.999999+00');
SELECT edp.bucket_start('4714-11-24 00:10:00+00 BC', '1 hour', '+05:30') AS east_of_utc,
       edp.bucket_start('4714-11-24 00:10:00+00 BC', '1 day', 'Asia/Tokyo') AS tokyo_day,
       edp.bucket_start('294276-12-31 23:59:59+00', '1 hour', '-05:30') AS last_hour;
SELECT edp.bucket_start('infinity', '1 hour');  -- ERROR
DELETE FROM edges WHERE ts IN ('infinity', '-infinity', '4714-11-24 00:00:00+00 BC');
SELECT count(*) AS differences FROM edp.verify_rollup('edges');
SELECT key, chunk_start, packed FROM edges_edp_rollup ORDER BY 1, 2;

-- a table partitioned by day takes the whole range (the last day's partition
-- ends at 'infinity'); rows at +-infinity stay in the DEFAULT partition
CREATE TABLE pedges (customer_id text, ts timestamptz) PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('pedges', ts => 'ts', period => 'day');
SELECT edp.enable_rollup('pedges', key => 'customer_id', ts => 'ts');
INSERT INTO pedges VALUES ('c', '4714-11-24 00:00:00+00 BC'), ('c', '294276-12-31 23:00:00+00');
SELECT status, rows_in, loaded, rejected
  FROM edp.ingest_data('pedges', E'customer_id,ts\nd,4714-11-24 00:00:00+00 BC\nd,294276-12-31 23:00:00+00\nd,infinity\nd,-infinity\n');
COPY pedges FROM stdin CSV;
e,294276-12-31 23:59:59.999999+00
e,infinity
\.
SELECT tableoid::regclass AS partition, count(*) FROM pedges GROUP BY 1 ORDER BY 1;
SELECT pg_get_expr(relpartbound, oid) AS last_bound FROM pg_class WHERE oid = 'pedges_p2942761231'::regclass;
SELECT count(*) AS differences FROM edp.verify_rollup('pedges');
DROP TABLE pedges;

-- the lines COPY would stop at are records of validated ingest
CREATE TABLE lines (id int, name text);
SELECT status, rows_in, loaded, rejected FROM edp.ingest_data('lines', E'id,name\n1,a\n\\.\n3,c\n4,d');
SELECT status, rows_in, loaded, rejected FROM edp.ingest_data('lines', '\x7b226964223a357d0a5c2e0a7b226964223a00367d0a1e7b226964223a377d1e0a7b226964223a387d'::bytea, format => 'jsonl');
SELECT status, rows_in, loaded FROM edp.ingest_data('lines', '\xefbbbf7b226964223a397d'::bytea);
SELECT status, rows_in, loaded FROM edp.ingest_data('lines', '', format => 'jsonl');
SELECT r.line, r.sqlstate, r.message, r.raw_line FROM edp.rejects r JOIN edp.jobs j ON j.id = r.job_id
 WHERE j.target = 'lines'::regclass ORDER BY j.id, r.line;
SELECT * FROM lines ORDER BY id;

DROP TABLE lines, edges, "Trips";
DROP SCHEMA "Hostile Schema" CASCADE;
