-- generating 100,000 sample events with edp.generate_events (deterministic: seed 42)
\pset footer off
SET TimeZone = 'UTC';
SET client_min_messages = warning;
DROP TABLE IF EXISTS generated_events;
RESET client_min_messages;
CREATE TABLE generated_events AS
SELECT * FROM edp.generate_events(100000, seed => 42,
                                  ts_offsets => '{Z,+00,+02:00,+05:30}');

\echo 'a few generated events:'
SELECT id, customer_id, event_type, first_dimension_id AS dim1, second_dimension_id AS dim2,
       ts_text, event_metrics
  FROM generated_events ORDER BY id LIMIT 5;

\echo 'what the generator mixed in:'
SELECT count(*)                                        AS events,
       count(*) - count(DISTINCT id)                   AS exact_duplicates,
       count(DISTINCT customer_id)                     AS customers,
       round(100.0 * count(*) FILTER (WHERE customer_id = 1) / count(*), 1) AS hot_customer_pct,
       count(*) FILTER (WHERE event_metrics NOT LIKE '%metric_one%') AS without_metric_one,
       count(*) FILTER (WHERE event_metrics LIKE '%metric_x%')        AS with_unknown_metric,
       count(*) FILTER (WHERE event_metrics = '{"metrics": {}}')      AS empty_metrics
  FROM generated_events;

\echo 'events per type:'
SELECT event_type, count(*) AS events FROM generated_events GROUP BY 1 ORDER BY 1;
