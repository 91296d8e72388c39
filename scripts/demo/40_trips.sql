-- trips: 200,000 generated trips, weekly averages for an area and a region, groups, an SVG map
\pset footer off
SET client_min_messages = warning;
DROP TABLE IF EXISTS demo_trips;
RESET client_min_messages;
SELECT edp.create_trips_table('demo_trips') AS trips_table;
-- 200,000 generated trips written as a trips.csv file (WKT points), loaded with \copy
\copy (SELECT region, ST_AsText(origin) AS origin_coord, ST_AsText(destination) AS destination_coord, datetime, datasource FROM edp.generate_trips(200000, 1)) to 'trips.csv' with (format csv, header)
\copy demo_trips (region, origin, destination, datetime, datasource) from 'trips.csv' with (format csv, header)

\echo 'a few trips:'
SELECT id, region, ST_AsText(origin) AS origin, ST_AsText(destination) AS destination, datetime, datasource
  FROM demo_trips ORDER BY id LIMIT 3;

\echo 'weekly average of trips starting and ending in a 5 km box of central Prague (every week, empty ones as 0):'
SELECT round(edp.weekly_trip_average('demo_trips', 14.40, 50.06, 14.47, 50.105)::numeric, 1) AS both_inside,
       round(edp.weekly_trip_average('demo_trips', 14.40, 50.06, 14.47, 50.105, 'origin')::numeric, 1) AS origin_inside,
       round(edp.weekly_trip_average('demo_trips', 14.40, 50.06, 14.47, 50.105, 'either', 'Europe/Prague')::numeric, 1)
         AS either_inside_prague_weeks;

\echo 'weekly trips of region Prague (a chart''s data), the quietest five weeks:'
SELECT week_start, trips FROM edp.region_weekly_trip_counts('demo_trips', 'Prague') ORDER BY trips, week_start LIMIT 5;

\echo 'groups: origin and destination within 150 m, time of day within 20 min, at least 20 trips (largest 5):'
SELECT group_id, trips, ST_AsText(origin_centroid, 4) AS origin, ST_AsText(destination_centroid, 4) AS destination,
       mean_time_of_day, round(time_spread_minutes::numeric, 1) AS spread_min, regions
  FROM edp.trip_groups('demo_trips', 150, 150, 20, 20) ORDER BY trips DESC, group_id LIMIT 5;

\echo 'an SVG map of Prague''s trips and groups, written to' :demo_dir'/trips_prague.svg (open it in a browser)'
\pset format unaligned
\pset tuples_only on
\o :demo_dir/trips_prague.svg
SELECT edp.trips_svg('demo_trips', (SELECT geom FROM edp.regions WHERE name = 'Prague'), 150, 150, 20, 20, 3000, 900);
\o
\pset format aligned
\pset tuples_only off
