-- flattening: loading an event file whose event_metrics field is JSON (client-side \copy)
\pset footer off
SET client_min_messages = warning;
DROP TABLE IF EXISTS events;
RESET client_min_messages;
CREATE TABLE events (
    id                  bigint,
    first_dimension_id  int,
    second_dimension_id int,
    recorded_date       timestamp,
    created_date        timestamp,
    metric_one          int,
    metric_two          int,
    metric_n            int,
    event_metrics       jsonb      -- receives the document, keeps what is not flattened
);
SELECT edp.enable_flattening('events', source => 'event_metrics', path => '{metrics}',
                             exclude => '{id,first_dimension_id,second_dimension_id}') AS metric_columns;

\echo 'writing 100,000 generated events as the old pipeline did (tab-separated, header, JSON CSV-quoted) ...'
\copy (SELECT id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics FROM edp.generate_events(100000, seed => 7)) to program 'cat > events.tsv' with (format csv, delimiter E'\t', header)
\echo '... and loading it with plain \\copy: metrics land in integer columns, unknown ones stay in event_metrics'
-- the load warns once per unknown metric key; the query after it shows the same counts
SET client_min_messages = error;
\timing on
\copy events (id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics) from 'events.tsv' with (format csv, delimiter E'\t', header)
\timing off
RESET client_min_messages;
SELECT k AS unknown_metric, count(*) AS rows
  FROM events, jsonb_object_keys(event_metrics -> 'metrics') k GROUP BY 1 ORDER BY 1;

SELECT id, metric_one, metric_two, metric_n, event_metrics FROM events
 WHERE id IN (1, 2) OR event_metrics IS NOT NULL ORDER BY id LIMIT 6;

SELECT count(*) AS rows, count(*) FILTER (WHERE event_metrics IS NULL) AS fully_flattened,
       count(*) FILTER (WHERE event_metrics IS NOT NULL) AS with_overflow
  FROM events;

\echo 'nothing lost: documents rebuilt from columns + overflow that differ from the generated ones:'
SELECT count(*) AS differing_documents FROM (
    SELECT id, edp.original_metrics(e) FROM events e
    EXCEPT ALL
    SELECT id, event_metrics::jsonb FROM edp.generate_events(100000, seed => 7)) AS d;

\echo 'a new metric column takes its key out of the overflow of rows already loaded:'
ALTER TABLE events ADD COLUMN metric_x1 int;
SET client_min_messages = error;
SELECT edp.reflatten('events') AS rows_reflattened;
RESET client_min_messages;
SELECT count(metric_x1) AS rows_with_metric_x1 FROM events;
\! rm -f events.tsv
