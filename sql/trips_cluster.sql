-- trips_cluster: DBSCAN of trips by origin, destination and circular time of day
SET extra_float_digits = 0;
SELECT edp.create_trips_table('ct');

-- trips placed by metres north/east of a base point in Prague (the
-- metre-to-degree factors are only for placing; distances are measured)
CREATE FUNCTION mk(id bigint, o_n float8, o_e float8, d_n float8, d_e float8, t time,
                   region text DEFAULT 'Prague') RETURNS int LANGUAGE sql AS $$
    INSERT INTO ct (id, region, origin, destination, datetime, datasource)
    VALUES (id, region,
            ST_SetSRID(ST_MakePoint(14.42 + o_e / 71400.0, 50.08 + o_n / 111250.0), 4326),
            ST_SetSRID(ST_MakePoint(14.45 + d_e / 71400.0, 50.05 + d_n / 111250.0), 4326),
            '2018-05-07'::date + t, 'test')
    RETURNING 1
$$;

-- the distance used is within 1e-6 (relative) of PostGIS's spheroid distance
WITH p AS (
    SELECT i, ('x' || substr(md5(i || 'a'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u1,
              ('x' || substr(md5(i || 'b'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u2,
              ('x' || substr(md5(i || 'c'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u3
      FROM generate_series(1, 2000) i),
q AS (
    SELECT -170 + 340 * u1 AS lon1, -70 + 140 * u2 AS lat1, u3 * 10000 AS dist, u1 * 6.2 AS az FROM p),
r AS (
    SELECT lon1, lat1, ST_X(e::geometry) AS lon2, ST_Y(e::geometry) AS lat2
      FROM (SELECT lon1, lat1, ST_Project(ST_MakePoint(lon1, lat1)::geography, dist, az) AS e FROM q) s)
SELECT max(abs(edp.trip_distance_m(lon1, lat1, lon2, lat2)
               / nullif(ST_Distance(ST_MakePoint(lon1, lat1)::geography, ST_MakePoint(lon2, lat2)::geography), 0) - 1))
       < 1e-6 AS within_1e6_up_to_10km
  FROM r;

-- 1. a pair straddling a grid row (rows are floor(lat_rad * 6335439.327 / eps),
--    eps = 100 m) and a time slot boundary (10-minute slots: 08:00), 4 m apart
SELECT floor(radians(50.08) * 6335439.327 / 100) AS grid_row,
       degrees((floor(radians(50.08) * 6335439.327 / 100) + 1) * 100 / 6335439.327) AS row_line_lat;
INSERT INTO ct (id, region, origin, destination, datetime, datasource)
SELECT id, 'Prague', ST_SetSRID(ST_MakePoint(14.42, lat), 4326),
       ST_SetSRID(ST_MakePoint(14.45, 50.05), 4326), '2018-05-07 07:59:50'::timestamp + off, 'test'
  FROM (SELECT degrees((floor(radians(50.08) * 6335439.327 / 100) + 1) * 100 / 6335439.327) AS line) l,
       LATERAL (VALUES (1, line - 2 / 111250.0, interval '0'), (2, line + 2 / 111250.0, interval '20 s')) v(id, lat, off);
-- ... and 20 pairs 4 m apart whose midpoints sweep 140 m east (columns are
-- about 100 m wide here, so some pairs straddle a column line), an hour apart
SELECT sum(mk(100 + 2 * k, 0, 7 * k - 2, 0, 0, make_time(k, 30, 0))
         + mk(101 + 2 * k, 0, 7 * k + 2, 0, 0, make_time(k, 30, 30))) AS inserted
  FROM generate_series(1, 20) k;
SELECT count(*) AS groups, min(n) AS min_size, max(n) AS max_size
  FROM (SELECT group_id, count(*) AS n FROM edp.trip_assignments('ct', 100, 100, 10, 2)
         GROUP BY group_id) s;
SELECT trip_id, group_id, core FROM edp.trip_assignments('ct', 100, 100, 10, 2) WHERE trip_id < 3 ORDER BY 1;
TRUNCATE ct;

-- an empty table has no assignments and no groups
SELECT (SELECT count(*) FROM edp.trip_assignments('ct', 100, 100, 10, 2)) AS assignments,
       (SELECT count(*) FROM edp.trip_groups('ct', 100, 100, 10, 2)) AS groups;

-- 2. midnight wrap: 23:55 and 00:04 are 9 minutes apart
SELECT mk(1, 0, 0, 0, 0, '23:55') + mk(2, 5, 0, 0, 0, '23:57')
     + mk(3, 0, 5, 0, 0, '00:02') + mk(4, 5, 5, 0, 0, '00:04') AS inserted;
SELECT trip_id, group_id, core FROM edp.trip_assignments('ct', 100, 100, 10, 4) ORDER BY 1;
-- with a 4-minute window the two sides of midnight part
SELECT trip_id, group_id, core FROM edp.trip_assignments('ct', 100, 100, 4, 2) ORDER BY 1;
TRUNCATE ct;

-- 3. chains: 90 m steps connect (ends are border trips), 110 m steps do not
SELECT sum(mk(k, 90 * k, 0, 0, 0, '08:00') + mk(10 + k, 110 * k, 2000, 0, 0, '08:00')) AS inserted
  FROM generate_series(1, 6) k;
SELECT trip_id, group_id, core FROM edp.trip_assignments('ct', 100, 100, 10, 3) ORDER BY 1;
TRUNCATE ct;

-- 4. thresholds: each dimension just inside (group) and just outside (noise)
SELECT mk(1, 0, 0, 0, 0, '08:00') + mk(2, 97, 0, 0, 0, '08:00')             -- origin 97 m
     + mk(3, 0, 1000, 0, 0, '08:00') + mk(4, 103, 1000, 0, 0, '08:00')       -- origin 103 m
     + mk(5, 0, 3000, 0, 0, '08:00') + mk(6, 0, 3000, 0, 97, '08:00')        -- destination 97 m
     + mk(7, 0, 5000, 0, 0, '08:00') + mk(8, 0, 5000, 0, 103, '08:00')       -- destination 103 m
     + mk(9, 0, 7000, 0, 0, '08:00') + mk(10, 0, 7000, 0, 0, '08:09:50')     -- 9 min 50 s
     + mk(11, 0, 9000, 0, 0, '08:00') + mk(12, 0, 9000, 0, 0, '08:10:10')    -- 10 min 10 s
       AS inserted;
SELECT trip_id, group_id FROM edp.trip_assignments('ct', 100, 100, 10, 2) ORDER BY 1;
-- min_trips counts the trip itself: a pair is a group for 2, noise for 3
SELECT count(group_id) AS grouped FROM edp.trip_assignments('ct', 100, 100, 10, 3);
TRUNCATE ct;

-- 5. the border rule: trip 20 reaches cores of two groups (ids 30 and 31)
--    and joins the smaller id, 30
SELECT mk(31, -60, 0, 0, 0, '08:00') + mk(32, -110, 0, 0, 0, '08:00') + mk(33, -110, 5, 0, 0, '08:00')
     + mk(30, 60, 0, 0, 0, '08:00') + mk(34, 110, 0, 0, 0, '08:00') + mk(35, 110, 5, 0, 0, '08:00')
     + mk(20, 0, 0, 0, 0, '08:00') AS inserted;
SELECT trip_id, group_id, core FROM edp.trip_assignments('ct', 100, 100, 10, 4) ORDER BY 1;
TRUNCATE ct;

-- 6. equality with a brute-force O(n^2) DBSCAN (spheroid distances from
--    PostGIS) on 300 trips around a few centres, times around 08:00,
--    17:30 and 23:55, for several parameter sets
INSERT INTO ct (id, region, origin, destination, datetime, datasource)
SELECT i, CASE WHEN i % 7 = 0 THEN 'Prague-East' ELSE 'Prague' END,
       ST_SetSRID(ST_MakePoint(14.42 + (i % 3) * 0.004 + (u1 - 0.5) * 0.004,
                               50.08 + (u2 - 0.5) * 0.0025), 4326),
       ST_SetSRID(ST_MakePoint(14.45 + (i % 2) * 0.003 + (u3 - 0.5) * 0.004,
                               50.05 + (u4 - 0.5) * 0.0025), 4326),
       '2018-05-07'::date + (ARRAY[time '08:00', '17:30', '23:55'])[1 + i % 5 % 3]
                          + (u5 - 0.5) * interval '50 minutes', 'test'
  FROM (SELECT i, ('x' || substr(md5(i || 'o1'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u1,
                  ('x' || substr(md5(i || 'o2'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u2,
                  ('x' || substr(md5(i || 'd1'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u3,
                  ('x' || substr(md5(i || 'd2'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u4,
                  ('x' || substr(md5(i || 't'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u5
          FROM generate_series(1, 300) i) s;

-- (the && boxes, eps / 60000 degrees around each end, only let GiST skip
-- pairs beyond eps: up to 55 degrees north or south, 1/60000 degree of
-- longitude is over 1 m)
CREATE FUNCTION brute_dbscan(eo float8, ed float8, et float8, minpts int)
RETURNS TABLE (trip_id bigint, group_id bigint) LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE bn AS
        SELECT a.id AS a, b.id AS b
          FROM ct a, ct b
         WHERE a.origin && ST_Expand(b.origin, eo / 60000) AND a.destination && ST_Expand(b.destination, ed / 60000)
           AND ST_Distance(a.origin::geography, b.origin::geography) <= eo
           AND ST_Distance(a.destination::geography, b.destination::geography) <= ed
           AND least(abs(extract(epoch FROM a.datetime::time) - extract(epoch FROM b.datetime::time)),
                     86400 - abs(extract(epoch FROM a.datetime::time) - extract(epoch FROM b.datetime::time)))
               <= et * 60;
    -- core trips, labelled by the smallest core id they reach through cores
    CREATE TEMP TABLE bl AS SELECT a AS id, a AS label FROM bn GROUP BY a HAVING count(*) >= minpts;
    LOOP
        UPDATE bl SET label = m.l
          FROM (SELECT n.a, min(l2.label) AS l FROM bn n JOIN bl l2 ON l2.id = n.b GROUP BY n.a) m
         WHERE m.a = bl.id AND m.l < bl.label;
        EXIT WHEN NOT FOUND;
    END LOOP;
    RETURN QUERY
        SELECT t.id, coalesce(bl.label, (SELECT min(l.label) FROM bn n JOIN bl l ON l.id = n.b WHERE n.a = t.id))
          FROM ct t LEFT JOIN bl ON bl.id = t.id;
    DROP TABLE bn, bl;
END $$;

CREATE TEMP TABLE params (eo float8, ed float8, et float8, minpts int);
INSERT INTO params VALUES (100, 120, 10, 4), (150, 150, 20, 3), (80, 80, 5, 2), (200, 200, 30, 6), (60, 300, 45, 3);
SELECT p.*, c.groups, c.grouped_trips, c.assignment = b.assignment AS equals_brute_force
  FROM params p,
       LATERAL (SELECT count(DISTINCT group_id) AS groups, count(group_id) AS grouped_trips,
                       array_agg(row(trip_id, group_id) ORDER BY trip_id) AS assignment
                  FROM edp.trip_assignments('ct', eo, ed, et, minpts)) c,
       LATERAL (SELECT array_agg(row(trip_id, group_id) ORDER BY trip_id) AS assignment
                  FROM brute_dbscan(eo, ed, et, minpts)) b
 ORDER BY 1, 2, 3, 4;

-- determinism: the same rows in another physical order give the same groups
CREATE TABLE ct2 (LIKE ct INCLUDING ALL);
INSERT INTO ct2 SELECT * FROM ct ORDER BY id DESC;
SELECT p.*,
       (SELECT array_agg(row(trip_id, group_id, core) ORDER BY trip_id) FROM edp.trip_assignments('ct', eo, ed, et, minpts))
     = (SELECT array_agg(row(trip_id, group_id, core) ORDER BY trip_id) FROM edp.trip_assignments('ct2', eo, ed, et, minpts))
       AS same
  FROM params p ORDER BY 1, 2, 3, 4;
DROP TABLE ct2;

-- 7. equality with the brute force where one (time slot, origin cell) holds
--    hundreds of destination cells (the neighbour search gallops through
--    long runs of cells) and where grid rows and columns change sign:
--    origins within 30 m of (0, 0), destinations within 600 m of (0, 0),
--    times within 10 minutes of 08:00
CREATE TABLE ct_dense (LIKE ct INCLUDING ALL);
INSERT INTO ct_dense (id, region, origin, destination, datetime, datasource)
SELECT i, 'Null Island', ST_SetSRID(ST_MakePoint((u1 - 0.5) * 0.0005, (u2 - 0.5) * 0.0005), 4326),
       ST_SetSRID(ST_MakePoint((u3 - 0.5) * 0.011, (u4 - 0.5) * 0.011), 4326),
       '2018-05-07 08:00'::timestamp + (u5 - 0.5) * interval '20 minutes', 'test'
  FROM (SELECT i, ('x' || substr(md5(i || 'o1'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u1,
                  ('x' || substr(md5(i || 'o2'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u2,
                  ('x' || substr(md5(i || 'd1'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u3,
                  ('x' || substr(md5(i || 'd2'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u4,
                  ('x' || substr(md5(i || 't'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u5
          FROM generate_series(1, 400) i) s;
ALTER TABLE ct RENAME TO ct_spread;
ALTER TABLE ct_dense RENAME TO ct;
CREATE TEMP TABLE params_dense (eo float8, ed float8, et float8, minpts int);
INSERT INTO params_dense VALUES (60, 60, 45, 2), (40, 80, 30, 3), (100, 45, 20, 3);
SELECT p.*, c.groups, c.grouped_trips, c.assignment = b.assignment AS equals_brute_force
  FROM params_dense p,
       LATERAL (SELECT count(DISTINCT group_id) AS groups, count(group_id) AS grouped_trips,
                       array_agg(row(trip_id, group_id) ORDER BY trip_id) AS assignment
                  FROM edp.trip_assignments('ct', eo, ed, et, minpts)) c,
       LATERAL (SELECT array_agg(row(trip_id, group_id) ORDER BY trip_id) AS assignment
                  FROM brute_dbscan(eo, ed, et, minpts)) b
 ORDER BY 1, 2, 3, 4;
DROP TABLE ct;
ALTER TABLE ct_spread RENAME TO ct;

-- groups: size, centroids, circular mean and spread of the time of day, regions
SELECT group_id, trips, core_trips, ST_AsText(origin_centroid, 4) AS origin,
       ST_AsText(destination_centroid, 4) AS destination,
       mean_time_of_day, round(time_spread_minutes::numeric, 1) AS spread, regions
  FROM edp.trip_groups('ct', 100, 120, 10, 4) ORDER BY group_id;
-- the group around 23:55 has its mean near midnight, not at noon
SELECT bool_and(mean_time_of_day > '23:00' OR mean_time_of_day < '01:00') AS near_midnight
  FROM edp.trip_groups('ct', 100, 120, 10, 4) g
 WHERE EXISTS (SELECT 1 FROM edp.trip_assignments('ct', 100, 120, 10, 4) a
                 JOIN ct t ON t.id = a.trip_id
                WHERE a.group_id = g.group_id AND t.datetime::time > '23:00');

-- the time zone moves the time of day (and so the slots) but not the groups here
SELECT (SELECT array_agg(row(trip_id, group_id) ORDER BY trip_id) FROM edp.trip_assignments('ct', 100, 120, 10, 4))
     = (SELECT array_agg(row(trip_id, group_id) ORDER BY trip_id) FROM edp.trip_assignments('ct', 100, 120, 10, 4, 'Asia/Kolkata'))
       AS same_groups_shifted_clock;

-- 8. bounded memory (edp.trip_cluster_mem): 1500 trips around four origin
--    and two destination centres, 250 m apart (groups reach across any
--    split), at 08:00, 17:30 and around midnight, clustered with a 64 kB
--    bound (409 trips) in chunks, equal trip by trip to the in-memory run
--    and to the brute force
CREATE TABLE ct_bounded (LIKE ct INCLUDING ALL);
INSERT INTO ct_bounded (id, region, origin, destination, datetime, datasource)
SELECT i, 'Prague',
       ST_SetSRID(ST_MakePoint(14.42 + (i % 4) * 0.0035 + (u1 - 0.5) * 0.005,
                               50.08 + (i % 3) * 0.001 + (u2 - 0.5) * 0.004), 4326),
       ST_SetSRID(ST_MakePoint(14.45 + (i % 2) * 0.0035 + (u3 - 0.5) * 0.005,
                               50.05 + (u4 - 0.5) * 0.004), 4326),
       '2018-05-07'::date + (ARRAY[time '08:00', '17:30', '23:58'])[1 + i % 5 % 3]
                          + (u5 - 0.5) * interval '40 minutes', 'test'
  FROM (SELECT i, ('x' || substr(md5(i || 'o1'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u1,
                  ('x' || substr(md5(i || 'o2'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u2,
                  ('x' || substr(md5(i || 'd1'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u3,
                  ('x' || substr(md5(i || 'd2'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u4,
                  ('x' || substr(md5(i || 't'), 1, 8))::bit(32)::bigint / 4294967296.0 AS u5
          FROM generate_series(1, 1500) i) s;
ALTER TABLE ct RENAME TO ct_spread;
ALTER TABLE ct_bounded RENAME TO ct;
ANALYZE ct;
CREATE TEMP TABLE params_bounded (eo float8, ed float8, et float8, minpts int);
INSERT INTO params_bounded VALUES (60, 60, 5, 3), (100, 100, 10, 5), (150, 80, 20, 8);
CREATE TEMP TABLE in_memory AS
SELECT p.*, a.trip_id, a.group_id, a.core
  FROM params_bounded p, LATERAL edp.trip_assignments('ct', eo, ed, et, minpts) a;
CREATE TEMP TABLE groups_in_memory AS SELECT * FROM edp.trip_groups('ct', 100, 100, 10, 5);
SET edp.trip_cluster_mem = '64kB';
-- it spilled: the DEBUG1 summary counts the chunks and the groups across them
-- (no JIT: its DEBUG1 lines would come too)
SET jit = off;
SET client_min_messages = debug1;
SELECT count(*) FROM edp.trip_assignments('ct', 100, 100, 10, 5);
RESET client_min_messages;
RESET jit;
SELECT p.*, c.groups, c.grouped_trips,
       c.assignment = m.assignment AS equals_in_memory,
       c.groups_only = b.assignment AS equals_brute_force
  FROM params_bounded p,
       LATERAL (SELECT count(DISTINCT group_id) AS groups, count(group_id) AS grouped_trips,
                       array_agg(row(trip_id, group_id, core) ORDER BY trip_id) AS assignment,
                       array_agg(row(trip_id, group_id) ORDER BY trip_id) AS groups_only
                  FROM edp.trip_assignments('ct', eo, ed, et, minpts)) c,
       LATERAL (SELECT array_agg(row(i.trip_id, i.group_id, i.core) ORDER BY i.trip_id) AS assignment
                  FROM in_memory i WHERE (i.eo, i.ed, i.et, i.minpts) = (p.eo, p.ed, p.et, p.minpts)) m,
       LATERAL (SELECT array_agg(row(o.trip_id, o.group_id) ORDER BY o.trip_id) AS assignment
                  FROM brute_dbscan(eo, ed, et, minpts) o) b
 ORDER BY 1, 2, 3, 4;
-- edp.trip_groups goes through the same path (its averages, over the
-- members in another order, may differ in the last bits)
CREATE FUNCTION group_digest(g groups_in_memory) RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws(' ', g.group_id, g.trips, g.core_trips, ST_AsText(g.origin_centroid, 9),
                     ST_AsText(g.destination_centroid, 9), g.mean_time_of_day,
                     round(g.time_spread_minutes::numeric, 6), g.regions)
$$;
SELECT (SELECT array_agg(group_digest(row(g.*)::groups_in_memory) ORDER BY g.group_id)
          FROM edp.trip_groups('ct', 100, 100, 10, 5) g)
     = (SELECT array_agg(group_digest(g) ORDER BY g.group_id) FROM groups_in_memory g) AS same_groups,
       (SELECT count(*) FROM groups_in_memory) AS groups;
DROP FUNCTION group_digest;
-- a cell denser than the bound cannot be split: its chunk is clustered whole
-- (counted "over the bound"), with the same result: 600 trips within 5 m
-- and 30 s of each other among 900 spread along 3 km and an hour
CREATE TABLE ct_cell (LIKE ct INCLUDING ALL);
INSERT INTO ct_cell (id, region, origin, destination, datetime, datasource)
SELECT i, 'Prague', ST_SetSRID(ST_MakePoint(14.42 + (i % 7) * 0.00001, 50.08), 4326),
       ST_SetSRID(ST_MakePoint(14.45, 50.05 + (i % 5) * 0.00001), 4326),
       '2018-05-07 08:00'::timestamp + (i % 30) * interval '1 s', 'test'
  FROM generate_series(1, 600) i
UNION ALL
SELECT 1000 + i, 'Prague', ST_SetSRID(ST_MakePoint(14.42 + i * 0.00005, 50.08), 4326),
       ST_SetSRID(ST_MakePoint(14.45, 50.05), 4326),
       '2018-05-07 07:30'::timestamp + i * interval '4 s', 'test'
  FROM generate_series(1, 900) i;
RESET edp.trip_cluster_mem;
CREATE TEMP TABLE cell_in_memory AS SELECT * FROM edp.trip_assignments('ct_cell', 100, 100, 10, 5);
SET edp.trip_cluster_mem = '64kB';
SET jit = off;
SET client_min_messages = debug1;
CREATE TEMP TABLE cell_bounded AS SELECT * FROM edp.trip_assignments('ct_cell', 100, 100, 10, 5);
RESET client_min_messages;
RESET jit;
SELECT count(*) AS trips, count(b.group_id) AS grouped,
       count(*) FILTER (WHERE m.group_id IS DISTINCT FROM b.group_id OR m.core IS DISTINCT FROM b.core) AS differing
  FROM cell_in_memory m FULL JOIN cell_bounded b USING (trip_id);
DROP TABLE cell_in_memory, cell_bounded, ct_cell;
-- and 20000 generated trips (three cities, peaks), bounded against in memory
CREATE TABLE ct_generated (LIKE ct INCLUDING ALL);
INSERT INTO ct_generated (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(20000, 7);
CREATE TEMP TABLE params_generated (eo float8, ed float8, et float8, minpts int);
INSERT INTO params_generated VALUES (300, 300, 30, 3), (150, 150, 20, 5);
CREATE TEMP TABLE bounded AS
SELECT p.*, a.trip_id, a.group_id, a.core
  FROM params_generated p, LATERAL edp.trip_assignments('ct_generated', eo, ed, et, minpts) a;
RESET edp.trip_cluster_mem;
SELECT p.*, count(a.group_id) AS grouped_trips,
       array_agg(row(a.trip_id, a.group_id, a.core) ORDER BY a.trip_id)
     = (SELECT array_agg(row(b.trip_id, b.group_id, b.core) ORDER BY b.trip_id)
          FROM bounded b WHERE (b.eo, b.ed, b.et, b.minpts) = (p.eo, p.ed, p.et, p.minpts)) AS equals_in_memory
  FROM params_generated p, LATERAL edp.trip_assignments('ct_generated', eo, ed, et, minpts) a
 GROUP BY 1, 2, 3, 4 ORDER BY 1;
DROP TABLE bounded;
DROP TABLE ct_generated;
DROP TABLE in_memory, groups_in_memory;
DROP TABLE ct;
ALTER TABLE ct_spread RENAME TO ct;

-- errors
SELECT * FROM edp.trip_assignments('ct', 0, 100, 10, 4);  -- ERROR
SELECT * FROM edp.trip_assignments('ct', 100, 100, 'NaN', 4);  -- ERROR
SELECT * FROM edp.trip_assignments('ct', 100, 100, 10, 0);  -- ERROR
SELECT * FROM edp.trip_assignments('pg_class', 100, 100, 10, 4);  -- ERROR

DROP FUNCTION brute_dbscan;
DROP FUNCTION mk;
DROP TABLE ct;
