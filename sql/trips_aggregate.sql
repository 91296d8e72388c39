-- trips_aggregate: the weekly C aggregates, serial and parallel
SET extra_float_digits = 0;
SELECT edp.create_trips_table('at');
INSERT INTO at (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(30000, 5, '2018-03-05', 10);
ANALYZE at;

-- per-week counts equal edp.weekly_trip_counts() (zero weeks included,
-- weeks outside the data too), in two time zones
SELECT tz,
       (SELECT edp.weekly_counts(datetime, '2018-02-19', '2018-05-20', tz) FROM at
         WHERE ST_Intersects(origin, r.geom) AND ST_Intersects(destination, r.geom))
     = (SELECT array_agg(trips ORDER BY week_start)
          FROM edp.weekly_trip_counts('at', r.geom, 'both', tz, '2018-02-19', '2018-05-20')) AS counts_equal,
       (SELECT round(edp.weekly_average(datetime, '2018-02-19', '2018-05-20', tz)::numeric, 6) FROM at
         WHERE ST_Intersects(origin, r.geom) AND ST_Intersects(destination, r.geom))
     = (SELECT round(edp.weekly_trip_average('at', r.geom, 'both', tz, '2018-02-19', '2018-05-20')::numeric, 6)) AS average_equal
  FROM edp.regions r, unnest(ARRAY['UTC', 'Europe/Prague']) tz
 WHERE r.name = 'Turin' ORDER BY 1;
SELECT edp.weekly_counts(datetime, '2018-02-26', '2018-03-18', 'UTC') AS first_weeks FROM at;

-- parallel: partial aggregates combine to the serial result
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT region, edp.weekly_average(datetime, '2018-03-05', '2018-05-06', 'Europe/Prague') FROM at GROUP BY region;
CREATE TEMP TABLE par AS
SELECT region, edp.weekly_average(datetime, '2018-03-05', '2018-05-06', 'Europe/Prague') AS a,
       edp.weekly_counts(datetime, '2018-03-05', '2018-05-06', 'Europe/Prague') AS c
  FROM at GROUP BY region;
SET max_parallel_workers_per_gather = 0;
SELECT p.region, p.a = s.a AS average_equal, p.c = s.c AS counts_equal, round(p.a::numeric, 2) AS average
  FROM par p JOIN (SELECT region, edp.weekly_average(datetime, '2018-03-05', '2018-05-06', 'Europe/Prague') AS a,
                          edp.weekly_counts(datetime, '2018-03-05', '2018-05-06', 'Europe/Prague') AS c
                     FROM at GROUP BY region) s USING (region)
 ORDER BY 1;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- no rows: NULL; errors
SELECT edp.weekly_average(datetime, '2018-03-05', '2018-05-06', 'UTC') FROM at WHERE false;
SELECT edp.weekly_average(datetime, '2018-05-06', '2018-03-05', 'UTC') FROM at;  -- ERROR
SELECT edp.weekly_average(datetime, NULL, '2018-03-05', 'UTC') FROM at;  -- ERROR
SELECT edp.weekly_average(datetime, '2018-03-05', '2018-05-06', 'Mars/Olympus') FROM at;  -- ERROR

DROP TABLE par;
DROP TABLE at;
