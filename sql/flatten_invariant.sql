-- flatten_invariant: on generated documents of every shape, nothing is lost
-- and every path (fast scanner, JSON parser, row trigger) splits alike
SELECT setseed(0.42);
CREATE TABLE gen_docs AS
SELECT i AS id,
       CASE WHEN i % 97 = 0 THEN NULL
            WHEN i % 89 = 0 THEN '{"other": [1, {"metrics": 2}]}'
            WHEN i % 83 = 0 THEN '[1, 2]'
            ELSE concat('{', CASE WHEN i % 7 = 0 THEN '"src": "app \"x\"", ' END,
                        '"metrics": {', array_to_string(ARRAY(
                 SELECT format('%s: %s', to_json(k), v)
                   FROM (SELECT k, v, random() AS r FROM (VALUES
                        ('metric_one', (random() * 1000)::int::text),
                        ('metric_two', CASE WHEN i % 11 = 0 THEN '1.5' WHEN i % 13 = 0 THEN '"7"'
                                            WHEN i % 17 = 0 THEN '99999999999' WHEN i % 19 = 0 THEN '2e2'
                                            ELSE (random() * 100000 - 50000)::int::text END),
                        ('metric_n', CASE WHEN i % 23 = 0 THEN 'null' WHEN i % 29 = 0 THEN '{"a": [1]}'
                                          ELSE (random() * 1e12)::bigint::text END),
                        ('metric_' || (i % 5), (i % 3)::text),
                        (CASE WHEN i % 31 = 0 THEN 'm\u00e9tric' ELSE 'metric_n' END, '5')
                   ) AS kv(k, v)) m
                  WHERE r < 0.8 ORDER BY r), ', '), '}}')
       END AS doc
  FROM generate_series(1, 20000) i;
SELECT count(*) FILTER (WHERE doc IS NOT NULL AND doc::jsonb IS NOT NULL) AS valid_documents FROM gen_docs;
\copy gen_docs to program 'cat > "$PG_ABS_BUILDDIR/results/gen_docs.csv"' with (format csv)

CREATE TABLE gen_fast (id int, metric_one int, metric_two int, metric_n bigint, metric_0 smallint, doc jsonb);
CREATE TABLE gen_slow (LIKE gen_fast);
CREATE TABLE gen_ins (LIKE gen_fast);
SELECT edp.enable_flattening(t, 'doc', '{metrics}', '{id}') FROM unnest('{gen_fast,gen_slow,gen_ins}'::regclass[]) t;
SET client_min_messages = error;
\copy gen_fast (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/gen_docs.csv"' with (format csv)
SET edp.json_fast_path = off;
\copy gen_slow (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/gen_docs.csv"' with (format csv)
RESET edp.json_fast_path;
INSERT INTO gen_ins (id, doc) SELECT id, doc::jsonb FROM gen_docs;
RESET client_min_messages;

-- the invariant: metric columns merged with the overflow equal the original
SELECT count(*) AS rows_checked,
       count(*) FILTER (WHERE edp.original_metrics(f) IS DISTINCT FROM g.doc::jsonb) AS rows_lost
  FROM gen_fast f JOIN gen_docs g USING (id);
SELECT count(*) FILTER (WHERE f.metric_one IS NOT NULL) > 10000 AS most_metrics_moved,
       count(*) FILTER (WHERE f.doc IS NULL) > 1000 AS many_overflows_null
  FROM gen_fast f;
-- the three paths agree row for row
SELECT count(*) AS fast_vs_parser
  FROM gen_fast f FULL JOIN gen_slow s USING (id)
 WHERE (f.metric_one, f.metric_two, f.metric_n, f.metric_0, f.doc)
       IS DISTINCT FROM (s.metric_one, s.metric_two, s.metric_n, s.metric_0, s.doc);
SELECT count(*) AS copy_vs_insert
  FROM gen_fast f FULL JOIN gen_ins s USING (id)
 WHERE (f.metric_one, f.metric_two, f.metric_n, f.metric_0, f.doc)
       IS DISTINCT FROM (s.metric_one, s.metric_two, s.metric_n, s.metric_0, s.doc);
DROP TABLE gen_docs, gen_fast, gen_slow, gen_ins;

-- the same on edp's event generator: 50,000 events written as the old
-- pipeline's file and loaded with COPY rebuild exactly the generated documents
CREATE TABLE gen_events (id bigint, first_dimension_id int, second_dimension_id int,
                         recorded_date timestamp, created_date timestamp,
                         metric_one int, metric_two int, metric_n int, event_metrics jsonb);
SELECT edp.enable_flattening('gen_events', path => '{metrics}',
                             exclude => '{id,first_dimension_id,second_dimension_id}');
\copy (SELECT id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics FROM edp.generate_events(50000, seed => 3)) to program 'cat > "$PG_ABS_BUILDDIR/results/gen_events.tsv"' with (format csv, delimiter E'\t', header)
SET client_min_messages = error;
\copy gen_events (id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics) from program 'cat "$PG_ABS_BUILDDIR/results/gen_events.tsv"' with (format csv, delimiter E'\t', header)
RESET client_min_messages;
SELECT count(*) AS loaded,
       count(*) FILTER (WHERE event_metrics IS NOT NULL) BETWEEN 300 AND 2000 AS some_overflow
  FROM gen_events;
SELECT count(*) AS differing_documents FROM (
    SELECT id, edp.original_metrics(e) FROM gen_events e
    EXCEPT ALL
    SELECT id, event_metrics::jsonb FROM edp.generate_events(50000, seed => 3)) AS d;
DROP TABLE gen_events;
