-- trips_bi: BI views (weekly counts per region, groups) and the SVG map
SET extra_float_digits = 0;
SELECT edp.create_trips_table('bt');
INSERT INTO bt (region, origin, destination, datetime, datasource)
SELECT * FROM edp.generate_trips(4000, 11, '2018-04-02', 4);

-- weekly counts per region, zero weeks included, equal to counting the table
SELECT * FROM bt_weekly_regions ORDER BY region, week_start;
SELECT bool_and(v.trips = (SELECT count(*) FROM bt t WHERE t.region = v.region
                             AND date_trunc('week', t.datetime) = v.week_start)) AS equal_to_table
  FROM bt_weekly_regions v;

-- groups as a materialized view for BI tools
SELECT edp.create_trip_groups_view('bt', 'bt_groups', 400, 400, 60, 3);
SELECT count(*) > 0 AS has_groups,
       (SELECT array_agg(group_id ORDER BY group_id) FROM bt_groups)
     = (SELECT array_agg(group_id ORDER BY group_id) FROM edp.trip_groups('bt', 400, 400, 60, 3)) AS same_groups
  FROM bt_groups;
SELECT obj_description('bt_groups'::regclass) AS comment;

-- the SVG map: a well-formed SVG document with the area, the trips and the groups
CREATE TEMP TABLE svg AS
SELECT edp.trips_svg('bt', (SELECT geom FROM edp.regions WHERE name = 'Prague'), 400, 400, 60, 3, 300, 600) AS doc;
SELECT xml_is_well_formed_document(doc) AS well_formed, left(doc, 38) AS head FROM svg;
WITH x AS (SELECT doc::xml AS d, ARRAY[ARRAY['s', 'http://www.w3.org/2000/svg']] AS ns FROM svg)
SELECT (xpath('name(/*)', d))[1]::text AS root,
       (xpath('/s:svg/@width', d, ns))[1]::text AS width, (xpath('/s:svg/@viewBox', d, ns))[1]::text AS viewbox,
       (xpath('count(/s:svg/s:path[@class="area"])', d, ns))[1]::text AS areas,
       (xpath('count(/s:svg/s:g[@class="trips"]/s:path)', d, ns))[1]::text::int
         = least(300, (SELECT count(*) FROM bt t, edp.regions r
                        WHERE r.name = 'Prague' AND ST_Intersects(t.origin, r.geom))) AS trip_paths_ok,
       (xpath('count(/s:svg/s:g[@class="groups"]/s:g)', d, ns))[1]::text::int
         = (SELECT count(*) FROM bt_groups g, edp.regions r
             WHERE r.name = 'Prague' AND ST_Intersects(g.origin_centroid, r.geom)) AS group_count_ok,
       (xpath('count(/s:svg/s:g[@class="groups"]/s:g)', d, ns))[1]::text AS groups,
       (xpath('count(//s:g[@class="group"]/s:title)', d, ns))[1]::text AS group_titles
  FROM x;
SELECT edp.trips_svg('bt', ST_MakeEnvelope(0, 0, 1, 1, 3857));  -- ERROR

DROP TABLE svg;
DROP MATERIALIZED VIEW bt_groups;
DROP TABLE bt;
SELECT to_regclass('bt_weekly_regions') IS NULL AS view_dropped;
