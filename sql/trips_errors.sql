-- trips_errors: errors instead of silent zeros or internal SQL
SET timezone = 'UTC';
\set VERBOSITY default
SELECT edp.create_trips_table('te') AS trips_table;
INSERT INTO te (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(300, 5);

-- regions match case-insensitively: 'prague' counts Prague's trips (rollup and table alike)
SELECT (SELECT sum(trips) FROM edp.region_weekly_trip_counts('te', 'prague'))
     = (SELECT count(*) FROM te WHERE region = 'Prague') AS lower_case_counts,
       (SELECT sum(trips) FROM edp.region_weekly_trip_counts('te', 'PRAGUE', use_rollup => false))
     = (SELECT count(*) FROM te WHERE region = 'Prague') AS upper_case_counts_from_table,
       (SELECT count(*) FROM te WHERE region = 'Prague') > 0 AS prague_has_trips;

-- a table that is not a trips table: its own message and SQLSTATE, not a missing column
CREATE TABLE not_trips (id int, ts timestamptz);
\set VERBOSITY sqlstate
SELECT edp.weekly_trip_average('not_trips', 14.40, 50.06, 14.47, 50.105);   -- ERROR
\set VERBOSITY default
SELECT edp.weekly_trip_average('not_trips', 14.40, 50.06, 14.47, 50.105);   -- ERROR
\set SHOW_CONTEXT never
SELECT edp.region_weekly_trip_average('not_trips', 'Prague');   -- ERROR

-- trip_groups checks its arguments itself: no internal query under the error
\set SHOW_CONTEXT errors
SELECT * FROM edp.trip_groups('te', 150, 150, 20, 0);   -- ERROR
SELECT * FROM edp.trip_groups('te', -1, 150, 20, 5);   -- ERROR
SELECT * FROM edp.trip_groups('te', 150, 'infinity', 20, 5);   -- ERROR
SELECT * FROM edp.trip_groups('te', 150, 150, 0, 5);   -- ERROR

DROP TABLE te, not_trips;
