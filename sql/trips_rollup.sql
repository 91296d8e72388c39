-- trips_rollup: weekly cell and region rollups kept by statement triggers,
-- answers from interior cells + exact edge cells equal brute force
\getenv abs_srcdir PG_ABS_SRCDIR
SET extra_float_digits = 0;
SELECT edp.create_trips_table('rt', 0.01);
SELECT relid, cell_size, time_zone, cell_weeks, region_weeks FROM edp.trip_tables ORDER BY 1;

-- ingest by INSERT ... SELECT, COPY, and hand-placed trips on cell lines
INSERT INTO rt (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(6000, 3, '2018-04-02', 8);
\set f :abs_srcdir '/test/data/trips_small.csv'
COPY rt (region, origin, destination, datetime, datasource) FROM :'f' CSV HEADER;
INSERT INTO rt (region, origin, destination, datetime, datasource) VALUES
    ('Prague', 'SRID=4326;POINT(14.42 50.08)', 'SRID=4326;POINT(14.45 50.05)', '2018-04-10 10:00', 'edge'),
    ('Prague', 'SRID=4326;POINT(14.40 50.06)', 'SRID=4326;POINT(14.43 50.09)', '2018-04-11 10:00', 'edge'),
    ('Prague', 'SRID=4326;POINT(14.435 50.075)', 'SRID=4326;POINT(14.40 50.10)', '2018-04-12 10:00', 'edge');

ANALYZE rt;

-- the rollups hold every trip
CREATE FUNCTION rollup_ok() RETURNS boolean LANGUAGE sql AS $$
    SELECT (SELECT sum(trips) FROM rt_cell_weeks) = (SELECT count(*) FROM rt)
       AND (SELECT sum(trips) FROM rt_region_weeks) = (SELECT count(*) FROM rt)
       AND (SELECT count(*) FROM rt) > 0
$$;
SELECT rollup_ok();

-- areas: inside one cell, across cells, on cell lines, a region, a triangle
CREATE TABLE areas (name text, geom geometry);
INSERT INTO areas VALUES
    ('small',    ST_MakeEnvelope(14.421, 50.081, 14.428, 50.087, 4326)),
    ('5km',      ST_MakeEnvelope(14.39, 50.05, 14.46, 50.095, 4326)),
    ('aligned',  ST_MakeEnvelope(14.40, 50.05, 14.45, 50.10, 4326)),
    ('city',     ST_MakeEnvelope(14.22, 49.94, 14.71, 50.18, 4326)),
    ('triangle', ST_GeomFromText('POLYGON((14.35 50.02, 14.52 50.05, 14.40 50.14, 14.35 50.02))', 4326)),
    ('hamburg',  (SELECT geom FROM edp.regions WHERE name = 'Hamburg'));

-- brute force: per-trip point-in-polygon flags, grouped by week with zero weeks
CREATE TABLE flags (name text, datetime timestamp, o boolean, d boolean);
CREATE FUNCTION refresh_flags() RETURNS void LANGUAGE sql AS $$
    TRUNCATE flags;
    INSERT INTO flags SELECT a.name, t.datetime, ST_Covers(a.geom, t.origin), ST_Covers(a.geom, t.destination)
      FROM areas a, rt t;
$$;
CREATE FUNCTION brute(area text, m text, tz text) RETURNS bigint[] LANGUAGE sql AS $$
    WITH c AS MATERIALIZED (
        SELECT date_trunc('week', (f.datetime AT TIME ZONE 'UTC') AT TIME ZONE tz) AS w, count(*) AS n
          FROM flags f
         WHERE f.name = area
           AND CASE m WHEN 'both' THEN o AND d WHEN 'origin' THEN o ELSE o OR d END
         GROUP BY 1)
    SELECT array_agg(coalesce(c.n, 0) ORDER BY g)
      FROM (SELECT min(datetime) AS lo, max(datetime) AS hi FROM rt) s
     CROSS JOIN generate_series(date_trunc('week', (lo AT TIME ZONE 'UTC') AT TIME ZONE tz),
                                (hi AT TIME ZONE 'UTC') AT TIME ZONE tz, '7 days') g
      LEFT JOIN c ON c.w = g
$$;
-- (use_rollup: NULL chooses, true forces the rollup where the zone matches, false never)
CREATE FUNCTION compare() RETURNS TABLE (name text, m text, tz text, total bigint, rollup_eq_brute boolean,
                                         direct_eq_brute boolean, auto_eq_brute boolean)
LANGUAGE sql AS $$
    SELECT a.name, m, tz, r.total, r.counts = b.counts, d.counts = b.counts, x.counts = b.counts
      FROM areas a, unnest(ARRAY['both', 'origin', 'either']) m, unnest(ARRAY['UTC', 'Europe/Prague']) tz,
           LATERAL (SELECT brute(a.name, m, tz) AS counts) b,
           LATERAL (SELECT sum(trips) AS total, array_agg(trips ORDER BY week_start) AS counts
                      FROM edp.weekly_trip_counts('rt', a.geom, m, tz, use_rollup => true)) r,
           LATERAL (SELECT array_agg(trips ORDER BY week_start) AS counts
                      FROM edp.weekly_trip_counts('rt', a.geom, m, tz)) x,
           LATERAL (SELECT array_agg(trips ORDER BY week_start) AS counts
                      FROM edp.weekly_trip_counts('rt', a.geom, m, tz, use_rollup => false)) d
     ORDER BY 1, 2, 3
$$;
SELECT refresh_flags();
SELECT * FROM compare();

-- the direct path through the two-column GiST index (origin, destination)
-- equals brute force, with trips whose ends lie exactly on the edges and
-- corners of the boxes (the index keeps float4 boxes; rounding must not
-- drop a point on the area's boundary)
INSERT INTO rt (region, origin, destination, datetime, datasource) VALUES
    ('Prague', 'SRID=4326;POINT(14.421 50.081)', 'SRID=4326;POINT(14.428 50.087)', '2018-04-16 08:00', 'line'),
    ('Prague', 'SRID=4326;POINT(14.4245 50.087)', 'SRID=4326;POINT(14.421 50.084)', '2018-04-17 08:00', 'line'),
    ('Prague', 'SRID=4326;POINT(14.428 50.0815)', 'SRID=4326;POINT(14.4280001 50.0815)', '2018-04-18 08:00', 'line'),
    ('Prague', 'SRID=4326;POINT(14.39 50.095)', 'SRID=4326;POINT(14.46 50.05)', '2018-04-19 08:00', 'line'),
    ('Prague', 'SRID=4326;POINT(14.45 50.10)', 'SRID=4326;POINT(14.40 50.05)', '2018-04-20 08:00', 'line');
SELECT refresh_flags();
CREATE FUNCTION uses_index(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF l ~ 'Index Scan using rt_origin_destination_idx' THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END $$;
CREATE TABLE expect AS
SELECT a.name, m, tz, brute(a.name, m, tz) AS counts
  FROM areas a, unnest(ARRAY['both', 'origin', 'either']) m, unnest(ARRAY['UTC', 'Europe/Prague']) tz
 WHERE a.name IN ('small', '5km', 'aligned', 'triangle');
BEGIN;
DROP INDEX rt_destination_idx;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT uses_index($$SELECT count(*) FROM rt t, areas a WHERE a.name = 'small'
                     AND ST_Intersects(t.origin, a.geom) AND ST_Intersects(t.destination, a.geom)$$) AS both_uses_index;
SELECT e.name, e.m, e.tz, d.total, d.counts = e.counts AS direct_eq_brute
  FROM expect e JOIN areas a USING (name),
       LATERAL (SELECT sum(trips) AS total, array_agg(trips ORDER BY week_start) AS counts
                  FROM edp.weekly_trip_counts('rt', a.geom, e.m, e.tz, use_rollup => false)) d
 ORDER BY 1, 2, 3;
ROLLBACK;
DROP TABLE expect;
DROP FUNCTION uses_index;

-- by region value: the rollup equals counting the table
CREATE FUNCTION compare_regions() RETURNS TABLE (region text, tz text, equal boolean) LANGUAGE sql AS $$
    SELECT r, tz,
           (SELECT array_agg(trips ORDER BY week_start) FROM edp.region_weekly_trip_counts('rt', r, tz))
         = (SELECT array_agg(trips ORDER BY week_start) FROM edp.region_weekly_trip_counts('rt', r, tz, use_rollup => false))
      FROM unnest(ARRAY['Prague', 'Turin', 'Hamburg', 'Nowhere']) r, unnest(ARRAY['UTC', 'Europe/Prague']) tz
     ORDER BY 1, 2
$$;
SELECT * FROM compare_regions();

-- DELETE, UPDATE (moving trips across cells and weeks) and a rolled-back
-- INSERT keep the rollups exact
DELETE FROM rt WHERE id % 5 = 0;
UPDATE rt SET origin = ST_Translate(origin, 0.013, -0.007), datetime = datetime + interval '3 days'
 WHERE id % 7 = 0;
UPDATE rt SET region = 'Turin' WHERE id % 11 = 0;
BEGIN;
INSERT INTO rt (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(1000, 9, '2018-04-02', 8);
ROLLBACK;
SELECT rollup_ok();
SELECT refresh_flags();
SELECT name, m, tz FROM compare() WHERE NOT (rollup_eq_brute AND direct_eq_brute AND auto_eq_brute);
SELECT count(*) AS regions_equal FROM compare_regions() WHERE equal;

-- TRUNCATE empties the rollups
TRUNCATE rt;
SELECT (SELECT count(*) FROM rt_cell_weeks) AS cells, (SELECT count(*) FROM rt_region_weeks) AS regions;

-- dropping the trips table drops its rollups and catalog row
DROP TABLE rt;
SELECT count(*) AS catalog_rows FROM edp.trip_tables;
SELECT to_regclass('rt_cell_weeks') IS NULL AS cells_dropped, to_regclass('rt_region_weeks') IS NULL AS regions_dropped;

-- errors
SELECT edp.create_trips_table('rt', 0);  -- ERROR
SELECT edp.create_trips_table('rt', 0.01, 'Nowhere/Town');  -- ERROR

DROP FUNCTION compare_regions;
DROP FUNCTION compare;
DROP FUNCTION brute;
DROP FUNCTION refresh_flags;
DROP TABLE flags;
DROP FUNCTION rollup_ok;
DROP TABLE areas;
