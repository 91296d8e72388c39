-- trips_blocks: point blocks kept by the statement triggers; small boxes
-- answered from them equal brute force after every kind of change
\getenv abs_srcdir PG_ABS_SRCDIR
SET extra_float_digits = 0;
SELECT edp.create_trips_table('bt', 0.05, 'Europe/Prague');
SELECT relid, point_blocks, block_cell, pair_cell FROM edp.trip_tables WHERE relid = 'bt'::regclass;
SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'bt_point_blocks'::regclass AND attnum > 0 ORDER BY attnum;

-- cell ids and the pack / unpack round trip
SELECT edp_internal.trip_cell_id(14.421, 50.081, 0.002) = ((7210::bigint << 32) | 25040) AS id_ok,
       edp_internal.trip_cell_id(-0.001, -0.001, 0.002) = ((-1::bigint << 32) | 4294967295) AS negative_ok,
       edp_internal.trip_cell_id('NaN', 1, 0.002) AS nan_cell,
       cardinality(edp_internal.trip_cell_ids(14.42, 50.08, 14.4299, 50.0899, 0.002)) AS cells,
       edp_internal.trip_cell_ids(0, 0, 10, 10, 0.002) AS too_many;
SELECT edp_internal.trip_cell_id(1, 1, 0);  -- ERROR
WITH p AS (SELECT i, 14 + i / 1000.0 AS x, 50 - i / 1000.0 AS y FROM generate_series(1, 450) i),
     b AS (SELECT unnest(edp_internal.trip_block_pack(3, x, y, y, x, date '2018-04-02' + 7 * (i % 3), NULL ORDER BY i)) AS blk FROM p)
SELECT count(*) AS blocks, sum(length(blk)) / 36 AS points,
       (SELECT count(*) FROM b, edp_internal.trip_block_points(3, b.blk) u
                         JOIN p ON u.x = p.x AND u.y = p.y AND u.x2 = p.y AND u.y2 = p.x) AS matched
  FROM b;
-- which areas are boxes (their corners, exactly), in either byte order
SELECT name, edp_internal.trip_area_box(ST_AsBinary(g)) AS ndr, edp_internal.trip_area_box(ST_AsBinary(g, 'XDR')) AS xdr
  FROM (VALUES ('envelope', ST_MakeEnvelope(14.42, 50.08, 14.434, 50.089, 4326)),
               ('clockwise from a corner', 'POLYGON((3 4, 3 2, 1 2, 1 4, 3 4))'::geometry),
               ('bow tie', 'POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))'),
               ('diamond', 'POLYGON((1 0, 2 1, 1 2, 0 1, 1 0))'),
               ('flat', 'POLYGON((0 0, 1 0, 1 0, 0 0, 0 0))'),
               ('back and forth', 'POLYGON((0 0, 1 0, 1 1, 1 0, 0 0))'),
               ('with a hole', 'POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 2, 1 1))'),
               ('triangle', 'POLYGON((0 0, 1 0, 0 1, 0 0))'),
               ('multipolygon', 'MULTIPOLYGON(((0 0, 1 0, 1 1, 0 1, 0 0)))'),
               ('point', 'POINT(1 2)')) v(name, g);
SELECT * FROM edp_internal.trip_block_points(1, '\x0102'::bytea);  -- ERROR
SELECT * FROM edp_internal.trip_block_points(4, ''::bytea);  -- ERROR

-- the blocks hold exactly the table's points (as a multiset), every block
-- within its capacity and at most one partly filled block per key
CREATE FUNCTION blocks_ok() RETURNS boolean LANGUAGE sql AS $$
    WITH b AS (
        SELECT k.kind, k.c1, k.c2, u.x, u.y, u.x2, u.y2, u.week
          FROM bt_point_blocks k, edp_internal.trip_block_points(k.kind, k.points) u),
    t AS (
        SELECT 1 AS kind, edp_internal.trip_cell_id(ST_X(origin), ST_Y(origin), 0.002) AS c1, 0::bigint AS c2,
               ST_X(origin) AS x, ST_Y(origin) AS y, 0::float8 AS x2, 0::float8 AS y2, w AS week
          FROM (SELECT *, date_trunc('week', (datetime AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Prague')::date AS w FROM bt) r
        UNION ALL
        SELECT 2, edp_internal.trip_cell_id(ST_X(destination), ST_Y(destination), 0.002), 0,
               ST_X(destination), ST_Y(destination), 0, 0, w
          FROM (SELECT *, date_trunc('week', (datetime AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Prague')::date AS w FROM bt) r
        UNION ALL
        SELECT 3, edp_internal.trip_cell_id(ST_X(origin), ST_Y(origin), 0.01), edp_internal.trip_cell_id(ST_X(destination), ST_Y(destination), 0.01),
               ST_X(origin), ST_Y(origin), ST_X(destination), ST_Y(destination), w
          FROM (SELECT *, date_trunc('week', (datetime AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Prague')::date AS w FROM bt) r)
    SELECT NOT EXISTS (SELECT * FROM b EXCEPT ALL SELECT * FROM t)
       AND NOT EXISTS (SELECT * FROM t EXCEPT ALL SELECT * FROM b)
       AND NOT EXISTS (SELECT 1 FROM bt_point_blocks
                        WHERE n <> length(points) / CASE kind WHEN 3 THEN 36 ELSE 20 END
                           OR n < 1 OR n > CASE kind WHEN 3 THEN 110 ELSE 200 END)
       AND NOT EXISTS (SELECT 1 FROM bt_point_blocks WHERE n < CASE kind WHEN 3 THEN 110 ELSE 200 END
                        GROUP BY kind, c1, c2 HAVING count(*) > 1)
$$;

-- trips: generated, from the CSV fixture, and hand-placed ones with ends
-- exactly on cell lines (0.002 and 0.01 degrees) and on the edges and
-- corners of the aligned boxes below, a duplicate pair among them
INSERT INTO bt (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(4000, 11, '2018-04-02', 8);
\set f :abs_srcdir '/test/data/trips_small.csv'
COPY bt (region, origin, destination, datetime, datasource) FROM :'f' CSV HEADER;
INSERT INTO bt (region, origin, destination, datetime, datasource) VALUES
    ('Prague', 'SRID=4326;POINT(14.42 50.08)', 'SRID=4326;POINT(14.43 50.09)', '2018-04-08 22:30', 'edge'),
    ('Prague', 'SRID=4326;POINT(14.42 50.085)', 'SRID=4326;POINT(14.425 50.09)', '2018-04-10 10:00', 'edge'),
    ('Prague', 'SRID=4326;POINT(14.42 50.085)', 'SRID=4326;POINT(14.425 50.09)', '2018-04-10 10:00', 'edge'),
    ('Prague', 'SRID=4326;POINT(14.4199999999 50.085)', 'SRID=4326;POINT(14.425 50.09)', '2018-04-11 10:00', 'edge'),
    ('Prague', 'SRID=4326;POINT(14.43 50.0900000001)', 'SRID=4326;POINT(14.422 50.082)', '2018-04-12 10:00', 'edge'),
    ('Prague', 'SRID=4326;POINT(14.426 50.086)', 'SRID=4326;POINT(14.43 50.08)', '2018-04-15 23:30', 'edge');
-- single-row statements fill the keys' partial blocks
DO $$
BEGIN
    FOR i IN 1..40 LOOP
        INSERT INTO bt (region, origin, destination, datetime, datasource)
        VALUES ('Prague', ST_SetSRID(ST_MakePoint(14.421 + i * 0.0001, 50.081 + (i % 7) * 0.0002), 4326),
                ST_SetSRID(ST_MakePoint(14.428 - i * 0.0001, 50.088), 4326),
                timestamp '2018-04-20 08:00' + i * interval '1 day', 'single');
    END LOOP;
END
$$;
ANALYZE bt;
SELECT count(*) AS trips, blocks_ok() FROM bt;

-- boxes: aligned on cell lines, random around trips, and random ones with
-- a trip's end exactly on an edge or a corner; one large box (rollup path),
-- a box drawn clockwise and a triangle (direct path)
CREATE TABLE boxes (id int, geom geometry);
INSERT INTO boxes VALUES
    (1, ST_MakeEnvelope(14.42, 50.08, 14.43, 50.09, 4326)),
    (2, ST_MakeEnvelope(14.42, 50.08, 14.422, 50.082, 4326)),
    (3, ST_MakeEnvelope(14.40, 50.06, 14.47, 50.105, 4326)),
    (4, ST_MakeEnvelope(14.4200 , 50.0800, 14.4340, 50.0890, 4326)),
    (5, ST_MakeEnvelope(0, 0, 0.01, 0.01, 4326)),
    (6, ST_MakeEnvelope(14.0, 49.8, 14.9, 50.4, 4326)),
    (7, ST_GeomFromText('POLYGON((14.43 50.09, 14.43 50.08, 14.42 50.08, 14.42 50.09, 14.43 50.09))', 4326)),
    (8, ST_GeomFromText('POLYGON((14.42 50.08, 14.44 50.08, 14.42 50.09, 14.42 50.08))', 4326));
SELECT setseed(0.25);
INSERT INTO boxes
SELECT 100 + r.i, ST_MakeEnvelope(ST_X(t.origin) - r.a, ST_Y(t.origin) - r.b, ST_X(t.origin) + r.c, ST_Y(t.origin) + r.d, 4326)
  FROM (SELECT i, 1 + floor(random() * 4000)::int AS pick, random() * 0.02 AS a, random() * 0.02 AS b,
               random() * 0.02 AS c, random() * 0.02 AS d FROM generate_series(1, 24) i) r
  JOIN bt t ON t.id = r.pick;
INSERT INTO boxes
SELECT 200 + r.i, CASE r.i % 3
           WHEN 0 THEN ST_MakeEnvelope(ST_X(t.origin), ST_Y(t.origin) - r.a, ST_X(t.origin) + r.b, ST_Y(t.origin) + r.a, 4326)
           WHEN 1 THEN ST_MakeEnvelope(ST_X(t.origin) - r.a, ST_Y(t.origin) - r.b, ST_X(t.destination), ST_Y(t.origin), 4326)
           ELSE ST_MakeEnvelope(least(ST_X(t.origin), ST_X(t.destination)), least(ST_Y(t.origin), ST_Y(t.destination)),
                                greatest(ST_X(t.origin), ST_X(t.destination)), greatest(ST_Y(t.origin), ST_Y(t.destination)), 4326) END
  FROM (SELECT i, 1 + floor(random() * 4000)::int AS pick, 0.0005 + random() * 0.01 AS a, 0.0005 + random() * 0.01 AS b
          FROM generate_series(1, 24) i) r
  JOIN bt t ON t.id = r.pick
 WHERE ST_X(t.origin) <> ST_X(t.destination) AND ST_Y(t.origin) <> ST_Y(t.destination);

-- every box, match and zone: edp equals brute force (ST_Intersects of
-- every trip and box, no index; weeks of the data's span, zero weeks
-- included).  The rollup's zone takes the point blocks for small boxes,
-- UTC the direct path.
CREATE TABLE flags (id int, datetime timestamp, o boolean, d boolean);
CREATE FUNCTION compare() RETURNS TABLE (checks bigint, equal bigint, trips numeric) LANGUAGE sql AS $$
    TRUNCATE flags;
    INSERT INTO flags SELECT b.id, t.datetime, ST_Intersects(t.origin, b.geom), ST_Intersects(t.destination, b.geom)
      FROM boxes b, bt t;
    WITH ms AS (SELECT unnest(ARRAY['both', 'origin', 'either']) AS m),
    tzs AS (SELECT unnest(ARRAY['Europe/Prague', 'UTC']) AS tz),
    weeks AS (
        SELECT tzs.tz, g.w
          FROM tzs, (SELECT min(datetime) AS lo, max(datetime) AS hi FROM bt) s,
               generate_series(date_trunc('week', (s.lo AT TIME ZONE 'UTC') AT TIME ZONE tzs.tz),
                               (s.hi AT TIME ZONE 'UTC') AT TIME ZONE tzs.tz, '7 days') g(w)),
    c AS (
        SELECT f.id, ms.m, tzs.tz, date_trunc('week', (f.datetime AT TIME ZONE 'UTC') AT TIME ZONE tzs.tz) AS w,
               count(*) AS n
          FROM flags f, ms, tzs
         WHERE CASE ms.m WHEN 'both' THEN f.o AND f.d WHEN 'origin' THEN f.o ELSE f.o OR f.d END
         GROUP BY 1, 2, 3, 4),
    brute AS (
        SELECT b.id, ms.m, weeks.tz, array_agg(coalesce(c.n, 0) ORDER BY weeks.w) AS counts
          FROM boxes b CROSS JOIN ms CROSS JOIN weeks
          LEFT JOIN c ON c.id = b.id AND c.m = ms.m AND c.tz = weeks.tz AND c.w = weeks.w
         GROUP BY 1, 2, 3)
    SELECT count(*), count(*) FILTER (WHERE e.counts = br.counts), sum(e.total)
      FROM brute br JOIN boxes b ON b.id = br.id,
           LATERAL (SELECT array_agg(trips ORDER BY week_start) AS counts, sum(trips) AS total
                      FROM edp.weekly_trip_counts('bt', b.geom, br.m, br.tz)) e
$$;
SELECT * FROM compare();
-- the aligned box, per week (rollup zone)
SELECT m, array_agg(trips ORDER BY week_start) AS counts
  FROM unnest(ARRAY['both', 'origin', 'either']) m,
       edp.weekly_trip_counts('bt', ST_MakeEnvelope(14.42, 50.08, 14.43, 50.09, 4326), m, 'Europe/Prague') c
 GROUP BY m ORDER BY m;

-- UPDATE (ends and weeks move), DELETE (one of two equal trips goes)
UPDATE bt SET origin = ST_Translate(origin, 0.0013, -0.0007), datetime = datetime + interval '3 days 5 hours'
 WHERE id % 7 = 0;
UPDATE bt SET destination = origin WHERE id % 11 = 0;
SELECT blocks_ok() AS after_update;
DELETE FROM bt WHERE id % 5 = 0;
DELETE FROM bt WHERE id = (SELECT max(id) FROM bt WHERE datetime = '2018-04-10 10:00' AND datasource = 'edge');
SELECT count(*) FILTER (WHERE datasource = 'edge') AS edge_left, blocks_ok() AS after_delete FROM bt;
SELECT * FROM compare();

-- a rolled back transaction leaves the blocks as they were
BEGIN;
DELETE FROM bt WHERE id % 3 = 0;
INSERT INTO bt (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(500, 12, '2018-04-02', 8);
SELECT blocks_ok() AS inside_transaction;
ROLLBACK;
SELECT blocks_ok() AS after_rollback;
SELECT * FROM compare();

-- the small boxes come from the blocks: emptied behind the triggers' back,
-- they answer 0 where the direct path still counts
BEGIN;
TRUNCATE bt_point_blocks;
SELECT (SELECT sum(trips) FROM edp.weekly_trip_counts('bt', 14.42, 50.08, 14.43, 50.09, 'origin', 'Europe/Prague')) AS from_blocks,
       (SELECT sum(trips) FROM edp.weekly_trip_counts('bt', 14.42, 50.08, 14.43, 50.09, 'origin', 'UTC')) > 0 AS direct_counts;
ROLLBACK;

-- TRUNCATE empties them; a new load fills them again
TRUNCATE bt;
SELECT count(*) AS blocks_after_truncate FROM bt_point_blocks;
INSERT INTO bt (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(1500, 13, '2018-04-02', 8);
SELECT blocks_ok() AS after_reload;
SELECT * FROM compare();

DROP TABLE bt;
SELECT to_regclass('bt_point_blocks') AS blocks_dropped;
DROP FUNCTION compare;
DROP TABLE flags;
DROP FUNCTION blocks_ok;
DROP TABLE boxes;
