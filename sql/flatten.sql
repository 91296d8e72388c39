-- flatten: COPY-side lossless metric flattening

CREATE TABLE events (
    id                  bigint,
    first_dimension_id  int,
    second_dimension_id int,
    recorded_date       timestamp,
    created_date        timestamp,
    metric_one          int,
    metric_two          int,
    metric_n            bigint,
    event_metrics       jsonb
);
SELECT edp.enable_flattening('events', source => 'event_metrics', path => '{metrics}',
                             exclude => '{id,first_dimension_id,second_dimension_id}');
SELECT relid, source_column, metrics_path, exclude_columns FROM edp.event_tables;

-- the file as the old pipeline wrote it: tab-separated, header, JSON CSV-quoted
-- (client-side: psql runs the program and sends its output as COPY FROM STDIN)
\copy events (id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics) from program 'cat "$PG_ABS_SRCDIR/test/data/events_metrics.tsv"' with (format csv, delimiter E'\t', header)
SELECT id, metric_one, metric_two, metric_n, event_metrics FROM events ORDER BY id;

-- nothing is lost: columns merged back into the overflow give each original document
CREATE TABLE events_raw (id bigint, doc text);
\copy events_raw from program 'cut -f1,6 "$PG_ABS_SRCDIR/test/data/events_metrics.tsv"' with (format csv, delimiter E'\t', header)
SELECT r.id, edp.original_metrics(e) AS rebuilt
  FROM events e JOIN events_raw r USING (id)
 WHERE edp.original_metrics(e) IS DISTINCT FROM r.doc::jsonb
 ORDER BY r.id;
SELECT count(*) AS rows_checked FROM events e JOIN events_raw r USING (id);

-- the same rows through INSERT ... SELECT (the row trigger) are identical
CREATE TABLE events_ins (LIKE events);
SELECT edp.enable_flattening('events_ins', path => '{metrics}',
                             exclude => '{id,first_dimension_id,second_dimension_id}') IS NOT NULL AS enabled;
INSERT INTO events_ins (id, event_metrics) SELECT id, doc::jsonb FROM events_raw;
SELECT count(*) AS rows_differing
  FROM events e JOIN events_ins i USING (id)
 WHERE (e.metric_one, e.metric_two, e.metric_n, e.event_metrics)
       IS DISTINCT FROM (i.metric_one, i.metric_two, i.metric_n, i.event_metrics);

-- edp's fast scanner and PostgreSQL's JSON parser split every document alike
CREATE TABLE events_slow (LIKE events);
SELECT edp.enable_flattening('events_slow', path => '{metrics}',
                             exclude => '{id,first_dimension_id,second_dimension_id}') IS NOT NULL AS enabled;
SET edp.json_fast_path = off;
SET client_min_messages = error;
\copy events_slow (id, first_dimension_id, second_dimension_id, recorded_date, created_date, event_metrics) from program 'cat "$PG_ABS_SRCDIR/test/data/events_metrics.tsv"' with (format csv, delimiter E'\t', header)
RESET client_min_messages;
RESET edp.json_fast_path;
SELECT count(*) AS rows_differing
  FROM events e FULL JOIN events_slow s USING (id)
 WHERE (e.metric_one, e.metric_two, e.metric_n, e.event_metrics)
       IS DISTINCT FROM (s.metric_one, s.metric_two, s.metric_n, s.event_metrics);

-- single-row INSERT: a key moves only into a column the row left NULL;
-- a value given to the column wins and the key stays in the overflow
INSERT INTO events (id, metric_two, event_metrics)
VALUES (100, 77, '{"metrics": {"metric_one": 5, "metric_two": 3}}');
SELECT id, metric_one, metric_two, event_metrics FROM events WHERE id = 100;
-- the document rebuilt keeps its own metric_two: the split is reversed exactly
SELECT edp.original_metrics(e) FROM events e WHERE id = 100;

-- TEXT format from STDIN, without a path (the metrics are the top-level object)
CREATE TABLE flat_top (id int, a int, b smallint, doc jsonb);
SELECT edp.enable_flattening('flat_top', 'doc', exclude => '{id}');
COPY flat_top (id, doc) FROM STDIN;
1	{"a": 1, "b": 2}
2	{"b": 40000, "c": 3}
3	\N
4	{"a": 4}
\.
SELECT * FROM flat_top ORDER BY id;

-- invalid JSON is an error naming the line
COPY flat_top (id, doc) FROM STDIN;
5	{"a": 5}
6	{"a": 6,}
\.
SELECT count(*) FROM flat_top WHERE id >= 5;

-- a column list that fills a metric column itself: the file's value wins,
-- the document's key for it stays in the overflow
COPY flat_top (id, a, doc) FROM STDIN;
7	70	{"b": 7}
8	80	{"a": 8}
\.
SELECT * FROM flat_top WHERE id >= 7 ORDER BY id;

-- reflatten: a new column takes its key out of the overflow of existing rows
ALTER TABLE events ADD COLUMN metric_x int;
SELECT edp.reflatten('events') AS rows_updated;
SELECT id, metric_one, metric_x, event_metrics FROM events
 WHERE id IN (4, 14) ORDER BY id;
SELECT count(*) AS still_lossless
  FROM events e JOIN events_raw r USING (id)
 WHERE edp.original_metrics(e) = r.doc::jsonb OR (r.doc IS NULL AND edp.original_metrics(e) IS NULL);

-- partitioned event table: rows routed to partitions, flattened, batched
CREATE TABLE pevents (id int, day date, metric_one int, event_metrics jsonb)
    PARTITION BY RANGE (day);
CREATE TABLE pevents_1 PARTITION OF pevents FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');
CREATE TABLE pevents_2 PARTITION OF pevents FOR VALUES FROM ('2024-01-02') TO ('2024-01-03');
SELECT edp.enable_flattening('pevents', exclude => '{id}');
COPY pevents (id, day, event_metrics) FROM STDIN WITH (FORMAT csv);
1,2024-01-01,"{""metric_one"": 1}"
2,2024-01-02,"{""metric_one"": 2, ""z"": 1}"
3,2024-01-01,"{""metric_one"": 3}"
\.
SELECT tableoid::regclass, * FROM pevents ORDER BY id;

-- other triggers still fire; constraints still hold
CREATE TABLE audit (id int);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NULL; END $$;
CREATE TRIGGER audit_after AFTER INSERT ON flat_top FOR EACH ROW EXECUTE FUNCTION audit_row();
ALTER TABLE flat_top ADD CONSTRAINT a_small CHECK (a < 1000);
COPY flat_top (id, doc) FROM STDIN;
9	{"a": 9}
\.
SELECT * FROM audit ORDER BY id;
COPY flat_top (id, doc) FROM STDIN;
10	{"a": 10}
11	{"a": 1100}
\.
SELECT count(*) FROM flat_top WHERE id >= 10;

-- errors
SELECT edp.enable_flattening('events', source => 'recorded_date');
SELECT edp.enable_flattening('events', source => 'nope');
SELECT edp.enable_flattening('events', exclude => '{nope}');
SELECT edp.enable_flattening('events', path => '{a,NULL}');
SELECT edp.reflatten('events_raw');
CREATE ROLE regress_edp_other;
SET ROLE regress_edp_other;
SELECT edp.enable_flattening('events');
RESET ROLE;

-- a plain role with INSERT loads from the client; server files stay closed
GRANT INSERT ON flat_top, audit TO regress_edp_other;
SET ROLE regress_edp_other;
COPY flat_top (id, doc) FROM STDIN;
20	{"a": 20, "b": 21}
\.
COPY flat_top (id, doc) FROM '/etc/hostname';
RESET ROLE;
SELECT * FROM flat_top WHERE id = 20;
REVOKE ALL ON flat_top, audit FROM regress_edp_other;
DROP ROLE regress_edp_other;

-- disabling keeps data; dropping a table forgets it
SELECT edp.disable_flattening('flat_top');
SELECT source_column IS NULL AS flattening_off FROM edp.event_tables WHERE relid = 'flat_top'::regclass;
DROP TABLE events, events_raw, events_ins, events_slow, flat_top, pevents, audit;
DROP FUNCTION audit_row();
SELECT count(*) AS catalog_rows FROM edp.event_tables;
