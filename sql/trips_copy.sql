-- trips_copy: COPY into a trips table converts WKT points on a fast path
-- that gives exactly what PostGIS's geometry_in gives
SELECT edp.create_trips_table('trips_c');
-- the same layout, not a trips table: PostgreSQL's own COPY and geometry_in
CREATE TABLE trips_ref (LIKE trips_c INCLUDING ALL);

-- a corpus of point texts (spacing, case, exponents, signs, long digits, SRID),
-- loaded as text, into the trips table and into the plain table
CREATE TABLE trips_txt (id bigint, region text, o text, d text, datetime text, datasource text);
COPY trips_txt FROM stdin CSV;
101,r,POINT (14.4973794438195 50.00136875782316),POINT (14.43109483523328 50.04052930943246),2024-01-01,s
102,r,POINT(14.4973794438195 50.00136875782316),POINT(-0 -1.5),2024-01-01,s
103,r,point ( 1 2 ),Point	(	3	4	),2024-01-01,s
104,r,POINT(1e2 -2.5E-3),POINT(.5 5.),2024-01-01,s
105,r,POINT(0.12345678901234567890123456789 -89.999999999999999999),POINT(-1.7976931348623157e2 4.9e-324),2024-01-01,s
106,r,SRID=4326;POINT(1 2),SRID=0;POINT(3 4),2024-01-01,s
107,r,srid=4326;point(5 6), POINT(7 8) ,2024-01-01,s
108,r,POINT(180 -90),SRID=4326;POINT(-180 90),2024-01-01,s
109,r,POINT(-122.4194155 37.7749295),POINT(00012.500 -000.25e+01),2024-01-01,s
110,r,SRID=4326 ; POINT ( 1 2 ),SRID=004326;POINT(9 9),2024-01-01,s
111,r,"POINT
(1 2)",POINT(1e-5 -1E+1),2024-01-01,s
\.
COPY trips_c (id, region, origin, destination, datetime, datasource) FROM stdin CSV;
101,r,POINT (14.4973794438195 50.00136875782316),POINT (14.43109483523328 50.04052930943246),2024-01-01,s
102,r,POINT(14.4973794438195 50.00136875782316),POINT(-0 -1.5),2024-01-01,s
103,r,point ( 1 2 ),Point	(	3	4	),2024-01-01,s
104,r,POINT(1e2 -2.5E-3),POINT(.5 5.),2024-01-01,s
105,r,POINT(0.12345678901234567890123456789 -89.999999999999999999),POINT(-1.7976931348623157e2 4.9e-324),2024-01-01,s
106,r,SRID=4326;POINT(1 2),SRID=0;POINT(3 4),2024-01-01,s
107,r,srid=4326;point(5 6), POINT(7 8) ,2024-01-01,s
108,r,POINT(180 -90),SRID=4326;POINT(-180 90),2024-01-01,s
109,r,POINT(-122.4194155 37.7749295),POINT(00012.500 -000.25e+01),2024-01-01,s
110,r,SRID=4326 ; POINT ( 1 2 ),SRID=004326;POINT(9 9),2024-01-01,s
111,r,"POINT
(1 2)",POINT(1e-5 -1E+1),2024-01-01,s
\.
COPY trips_ref (id, region, origin, destination, datetime, datasource) FROM stdin CSV;
101,r,POINT (14.4973794438195 50.00136875782316),POINT (14.43109483523328 50.04052930943246),2024-01-01,s
102,r,POINT(14.4973794438195 50.00136875782316),POINT(-0 -1.5),2024-01-01,s
103,r,point ( 1 2 ),Point	(	3	4	),2024-01-01,s
104,r,POINT(1e2 -2.5E-3),POINT(.5 5.),2024-01-01,s
105,r,POINT(0.12345678901234567890123456789 -89.999999999999999999),POINT(-1.7976931348623157e2 4.9e-324),2024-01-01,s
106,r,SRID=4326;POINT(1 2),SRID=0;POINT(3 4),2024-01-01,s
107,r,srid=4326;point(5 6), POINT(7 8) ,2024-01-01,s
108,r,POINT(180 -90),SRID=4326;POINT(-180 90),2024-01-01,s
109,r,POINT(-122.4194155 37.7749295),POINT(00012.500 -000.25e+01),2024-01-01,s
110,r,SRID=4326 ; POINT ( 1 2 ),SRID=004326;POINT(9 9),2024-01-01,s
111,r,"POINT
(1 2)",POINT(1e-5 -1E+1),2024-01-01,s
\.
-- identical to geometry_in's values, in EWKB and SRID
SELECT t.id, ST_AsEWKB(c.origin) = ST_AsEWKB(t.o::geometry(Point, 4326)) AS origin_same,
       ST_AsEWKB(c.destination) = ST_AsEWKB(t.d::geometry(Point, 4326)) AS dest_same,
       c.origin::text = r.origin::text AND c.destination::text = r.destination::text AS same_as_plain_copy,
       ST_SRID(c.origin) AS srid, ST_AsEWKT(c.origin) AS origin, ST_AsEWKT(c.destination) AS destination
  FROM trips_txt t JOIN trips_c c USING (id) JOIN trips_ref r USING (id) ORDER BY t.id;

-- random point texts (0 to 19 decimals, 17-digit exponent forms, spacing), through a server file
\getenv abs_builddir PG_ABS_BUILDDIR
\set f :abs_builddir '/results/trips_copy_points.csv'
SELECT setseed(0.4);
CREATE TABLE trips_rnd AS
  SELECT i AS id, format('POINT(%s %s)', round((random() * 360 - 180)::numeric, (random() * 19)::int),
                         to_char(random() * 90, '0.9999999999999999EEEE')) AS o,
                  format('point (  %s %s )', (random() * 180 - 90)::float8, round((random() * -90)::numeric, 14)) AS d
    FROM generate_series(1, 5000) i;
COPY (SELECT id + 1000, 'rnd', o, d, '2024-01-01', 's' FROM trips_rnd ORDER BY id) TO :'f' CSV;
COPY trips_c (id, region, origin, destination, datetime, datasource) FROM :'f' CSV;
SELECT count(*) AS points,
       count(*) FILTER (WHERE ST_AsEWKB(c.origin) = ST_AsEWKB(r.o::geometry(Point, 4326))
                          AND ST_AsEWKB(c.destination) = ST_AsEWKB(r.d::geometry(Point, 4326))) AS identical
  FROM trips_rnd r JOIN trips_c c ON c.id = r.id + 1000;
DELETE FROM trips_c WHERE region = 'rnd';

-- malformed texts: the same error and line context as PostgreSQL's own COPY
\set VERBOSITY default
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),POINT(3 4),2024-01-01,s
r,POINT (14.3 50.,POINT(3 4),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),POINT(3 4),2024-01-01,s
r,POINT (14.3 50.,POINT(3 4),2024-01-01,s
\.
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1.e5 2),POINT(3 4),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1.e5 2),POINT(3 4),2024-01-01,s
\.
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),SRID=3857;POINT(3 4),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),SRID=3857;POINT(3 4),2024-01-01,s
\.
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT Z (1 2 3),POINT(3 4),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT Z (1 2 3),POINT(3 4),2024-01-01,s
\.
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),POINT(3 4 5),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),POINT(3 4 5),2024-01-01,s
\.
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),SRID = 4326;POINT(3 4),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),SRID = 4326;POINT(3 4),2024-01-01,s
\.
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,"LINESTRING(0 0,1 1)",POINT(3 4),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,"LINESTRING(0 0,1 1)",POINT(3 4),2024-01-01,s
\.
-- POINT EMPTY goes to geometry_in as before; the trips table's CHECK
-- (edp_internal.trip_point_check) refuses it with an error naming the column
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT EMPTY,POINT(3 4),2024-01-01,s
\.
COPY trips_ref (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT EMPTY,POINT(3 4),2024-01-01,s
\.
-- so do NaN, infinite and out-of-range coordinates (1e308 is a number PostGIS reads)
INSERT INTO trips_c (region, origin, destination, datetime, datasource)
VALUES ('r', 'SRID=4326;POINT(1 2)', 'SRID=4326;POINT(NaN 2)', '2024-01-01', 's');  -- ERROR
INSERT INTO trips_c (region, origin, destination, datetime, datasource)
VALUES ('r', 'SRID=4326;POINT(1e308 2)', 'SRID=4326;POINT(1 2)', '2024-01-01', 's');  -- ERROR
INSERT INTO trips_c (region, origin, destination, datetime, datasource)
VALUES ('r', 'SRID=4326;POINT(1 2)', 'SRID=4326;POINT(3 -90.5)', '2024-01-01', 's');  -- ERROR
SELECT count(*) AS no_empty_point FROM trips_ref WHERE ST_IsEmpty(origin);
\set VERBOSITY terse
SELECT count(*) AS still_11 FROM trips_c;

-- the rollup stays exact (statement triggers run as for PostgreSQL's COPY)
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin;
Prague	POINT (14.42 50.08)	POINT (14.43 50.09)	2024-01-02 07:00	a
Prague	point(14.42 50.08)	SRID=4326;POINT(14.43 50.09)	2024-01-09 07:00	a
Turin	POINT(7.68 45.07)	POINT(7.69 45.06)	2024-01-09 18:00	b
\.
SELECT (SELECT sum(trips) FROM trips_c_region_weeks) = (SELECT count(*) FROM trips_c) AS region_rollup_total,
       (SELECT sum(trips) FROM trips_c_cell_weeks) = (SELECT count(*) FROM trips_c) AS cell_rollup_total;
SELECT region, week, trips FROM trips_c_region_weeks ORDER BY 1, 2;

-- fallbacks to PostgreSQL's own COPY still load: COPY ... WHERE
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV WHERE region = 'keep';
keep,POINT(1 1),POINT(2 2),2024-01-03,s
drop,POINT(1 1),POINT(2 2),2024-01-03,s
\.
SELECT region, ST_AsEWKT(origin) FROM trips_c WHERE region IN ('keep', 'drop');
-- a column list without the geometry columns
ALTER TABLE trips_c ALTER COLUMN origin SET DEFAULT 'SRID=4326;POINT(0 0)', ALTER COLUMN destination SET DEFAULT 'POINT(0 0)';
COPY trips_c (region, datetime, datasource) FROM stdin CSV;
nogeom,2024-01-03,s
\.
SELECT region, ST_AsEWKT(origin), ST_AsEWKT(destination) FROM trips_c WHERE region = 'nogeom';

-- a plain role needs the privileges it needs for PostgreSQL's COPY
CREATE ROLE trips_copy_user;
SET ROLE trips_copy_user;
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),POINT(3 4),2024-01-01,s
\.
RESET ROLE;
GRANT INSERT (region, origin, destination, datetime) ON trips_c TO trips_copy_user;
SET ROLE trips_copy_user;
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),POINT(3 4),2024-01-01,s
\.
RESET ROLE;
GRANT INSERT ON trips_c TO trips_copy_user;
GRANT SELECT, INSERT, UPDATE ON trips_c_cell_weeks, trips_c_region_weeks TO trips_copy_user;
GRANT SELECT, INSERT, DELETE ON trips_c_point_blocks TO trips_copy_user;
GRANT USAGE ON SEQUENCE trips_c_id_seq TO trips_copy_user;
SET ROLE trips_copy_user;
COPY trips_c (region, origin, destination, datetime, datasource) FROM '/nonexistent.csv' CSV;  -- ERROR
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;
user,POINT(1 2),POINT(3 4),2024-01-01,s
\.
RESET ROLE;
SELECT region, ST_AsEWKT(origin) FROM trips_c WHERE region = 'user';
BEGIN READ ONLY;
COPY trips_c (region, origin, destination, datetime, datasource) FROM stdin CSV;  -- ERROR
r,POINT(1 2),POINT(3 4),2024-01-01,s
\.
ROLLBACK;

DROP TABLE trips_c, trips_ref, trips_txt, trips_rnd;
DROP ROLE trips_copy_user;
