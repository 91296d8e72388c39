-- flatten_fuzz: thousands of hostile metrics documents.  For each one,
-- loading never crashes; COPY fails exactly when jsonb_in fails, with the
-- same SQLSTATE; the fast scanner, PostgreSQL's JSON parser and the row
-- trigger give identical rows; and nothing is lost.
\getenv abs_builddir PG_ABS_BUILDDIR
SELECT set_config('fuzz.file', :'abs_builddir' || '/results/flatten_fuzz_doc.txt', false) IS NOT NULL AS file_set;

-- the SQLSTATE jsonb_in gives for a text, NULL when it takes it
CREATE FUNCTION fuzz_jsonb_state(doc text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM doc::jsonb;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- values: numbers at the edges, literals, strings with every kind of escape,
-- containers, and things that are not JSON at all
CREATE TABLE fuzz_values (v text);
INSERT INTO fuzz_values VALUES
  ('0'), ('-0'), ('0.0'), ('-0.0'), ('1e3'), ('1E+3'), ('1e-3'), ('1E3'), ('10e-1'),
  ('0e5'), ('2e2'), ('1.5'), ('1.0'), ('9223372036854775807'), ('9223372036854775808'),
  ('-9223372036854775808'), ('-9223372036854775809'), ('32767'), ('32768'), ('-32768'),
  ('-32769'), ('2147483647'), ('2147483648'), ('-2147483648'), ('-2147483649'),
  ('1e400'), ('1e1001'), ('1e-400'), ('123456789012345678901234567890'),
  ('1.5e1'), ('1.50e1'), ('0.0001e4'), ('0.0e1'), ('-0e5'), ('0e5000'),
  ('1e-2000'), ('1e24775807'), ('0e2147483647'), ('1e+24775807 x'), ('100000000000000000000e-2'),
  ('01'), ('-01'), ('+1'), ('.5'), ('5.'), ('-'), ('1e'), ('1e+'), ('--1'), ('0x10'),
  ('Infinity'), ('NaN'), ('1 2'),
  ('true'), ('false'), ('null'), ('tru'), ('nul'), ('falsey'), ('True'),
  ('"5"'), ('""'), ('"a\"b"'), ('"\\"'), ('"\/"'), ('"\b\f\n\r\t"'), ('"\u0041"'),
  ('"\u0000"'), ('"\u00e9"'), ('"é"'), ('"\ud83d\ude00"'), ('"\ud800"'), ('"\udc00"'),
  ('"\ud800\u0041"'), ('"\ud800x"'), ('"\uZZZZ"'), ('"\u12"'), ('"\x"'), ('"\'),
  ('"' || chr(9) || '"'), ('"' || chr(10) || '"'), ('"' || chr(1) || '"'), ('"' || chr(127) || '"'),
  ('"unterminated'), ('{}'), ('[]'), ('[1, {"metric_one": 1}]'), ('{"metric_one": 1}'),
  ('{"a": {"b": {"metric_one": 2}}}'), ('['), ('{'), ('}'), (']'), (':'), (','),
  (repeat('[', 1000) || repeat(']', 1000)),
  (repeat('{"x": ', 1000) || '1' || repeat('}', 1000)),
  (repeat('[', 1000)),
  ('"' || repeat('v', 100000) || '"'),
  (''), (' '), ('é');

-- keys: the metric names, their prefixes and extensions, escaped spellings
CREATE TABLE fuzz_keys (k text);
INSERT INTO fuzz_keys VALUES
  ('metric_one'), ('metric_two'), ('metric_n'), ('metric_on'), ('metric_one_'), (''),
  ('metric_\u006fne'), ('\u006detric_n'), ('metric\"one'), ('metric\\one'), ('metric_one\u0000'),
  ('\u0000'), ('\u00e9'), ('é'), ('\ud83d\ude00'), ('\ud800'), ('metric_one\ud800'), ('\uD83D\uDE00x'),
  ('a'), ('b'), ('metric_a'), ('metric_j'), ('metric_k'), (repeat('k', 10000)),
  ('metric_one' || chr(9)), ('metric_one\t');

CREATE TABLE fuzz_docs (id serial PRIMARY KEY, doc text);

-- one member, at the top level and at the path {a,b}
INSERT INTO fuzz_docs (doc)
SELECT format('{"%s": %s}', k, v) FROM fuzz_keys, fuzz_values;
INSERT INTO fuzz_docs (doc)
SELECT format('{"a": {"b": {"%s": %s}}}', k, v) FROM fuzz_keys, fuzz_values
 WHERE length(v) < 1000 AND length(k) < 1000;

-- duplicate keys in every combination: a metric twice with movable and
-- unmovable values, an unknown key twice, the path keys twice
CREATE TABLE fuzz_dup_values (v text);
INSERT INTO fuzz_dup_values VALUES ('1'), ('-2'), ('1e3'), ('1.5'), ('"5"'), ('null'), ('{}'),
  ('[1]'), ('40000'), ('9223372036854775808'), ('"\u0000"'), ('"\ud800"'), ('1e1001'), ('{"b": {}}'),
  ('{"b": {"metric_one": 3}}'), ('{"b": 7}');
INSERT INTO fuzz_docs (doc)
SELECT format(t, v1.v, v2.v)
  FROM fuzz_dup_values v1, fuzz_dup_values v2, (VALUES
    ('{"metric_one": %s, "metric_one": %s}'),
    ('{"metric_one": %s, "metric_two": 4, "metric_one": %s}'),
    ('{"metric_one": %s, "metric_\u006fne": %s}'),
    ('{"x": %s, "x": %s}'),
    ('{"x": %s, "metric_n": 8, "x": %s}'),
    ('{"a": {"b": {"metric_one": %s, "metric_one": %s}}}'),
    ('{"a": {"b": {"x": %s, "metric_two": 9, "x": %s}}}'),
    ('{"a": %s, "a": %s}'),
    ('{"a": {"b": %s, "b": %s}}'),
    ('{"a": {"b": {"metric_one": 1}}, "a": %s, "a": %s}'),
    ('{"a": %s, "a": {"b": {"metric_two": 2}}, "x": %s}'),
    ('{"a": {"b": %s}, "a": {"b": {"metric_n": 3}, "b": %s}}'),
    ('{"a": {"b": {"metric_one": 1}, "b": %s}, "c": %s}'),
    ('{"a": %s, "b": %s, "a": {"b": {"metric_one": 4}}}')) AS templates(t);

-- the path key holding something else, at both levels
INSERT INTO fuzz_docs (doc)
SELECT format(t, v) FROM fuzz_values, (VALUES ('{"a": %s}'), ('{"a": {"b": %s}}'),
    ('{"a": {"b": {"metric_one": 1}, "x": %s}}'), ('{"x": %s, "a": {"b": {"metric_two": 5}}}'),
    ('%s')) AS templates(t)
 WHERE length(v) < 1000 OR t = '%s';

-- arrays at every position
INSERT INTO fuzz_docs (doc) VALUES
  ('[{"metric_one": 1}]'), ('{"metric_one": [1]}'), ('{"a": [{"b": {"metric_one": 1}}]}'),
  ('{"a": {"b": [{"metric_one": 1}]}}'), ('{"a": {"b": {"metric_one": 1, "x": [1, [2, {"a": {"b": {}}}]]}}}'),
  ('{"x": [{"a": {"b": {"metric_one": 1}}}], "a": {"b": {"metric_two": 2}}}'),
  ('[1, 2'), ('{"metric_one": [1, 2}'), ('{"a": {"b": {"metric_one": 1}}, "c": [}');

-- whitespace everywhere: spaces, tabs, CR, LF, none
INSERT INTO fuzz_docs (doc)
SELECT translate(t, ' ', ws)
  FROM (VALUES ('{ "metric_one" : 1 , "metric_two" : 2 , "x" : [ 1 , 2 ] }'),
               (' { "a" : { "b" : { "metric_n" : -7 , "metric_one" : 1e3 } } , "z" : null } '),
               ('{ "a" : { "b" : { } } }')) AS d(t),
       (VALUES (''), (chr(9)), (chr(13)), (chr(10)), (chr(11)), (chr(12))) AS w(ws);
INSERT INTO fuzz_docs (doc)
SELECT replace(t, ' ', E' \t\r\n ') FROM (VALUES ('{ "metric_one" : 1 , "metric_two" : 2 }'),
               ('{ "a" : { "b" : { "metric_one" : 1 } } }')) AS d(t);

-- documents that are no object, and blank fields (a blank field is no
-- document: NULL, where jsonb_in would fail)
INSERT INTO fuzz_docs (doc) VALUES ('null'), ('1'), ('"x"'), ('[]'), ('true'), (''), (' '),
  (E'\t\r\n'), ('{}'), ('{"a": {}}'), ('{"a": {"b": {}}}');

-- large documents: 1 MB strings beside metrics, 50,000 members
INSERT INTO fuzz_docs (doc) VALUES
  ('{"metric_one": 1, "x": "' || repeat('y', 1048576) || '"}'),
  ('{"a": {"b": {"metric_two": 2, "' || repeat('k', 1048576) || '": 1}}}'),
  ('{"a": {"b": {' || (SELECT string_agg(format('"k%s": %s', i, i), ', ') FROM generate_series(1, 50000) i)
     || ', "metric_one": 5}}}'),
  ('{' || (SELECT string_agg(format('"metric_one": %s', i), ', ') FROM generate_series(1, 5000) i) || '}');

-- every prefix of a few documents full of escapes and nesting
INSERT INTO fuzz_docs (doc)
SELECT left(t, n)
  FROM (VALUES ('{"a": {"b": {"metric_one": 12, "metric_\u0074wo": -3, "k\"\\": "\ud83d\ude00", "metric_n": [1.5e3, {"x": null}]}}, "z": true}'),
               ('{"metric_one":-0,"metric_two":1E+3,"metric_n":false,"q":"\u00e9"}')) AS d(t),
       generate_series(0, 150) n
 WHERE n <= length(t);

-- random mutations of well-formed documents: hostile characters inserted,
-- characters deleted or swapped
SELECT setseed(0.17);
INSERT INTO fuzz_docs (doc)
SELECT CASE op
         WHEN 0 THEN overlay(t placing c from pos for 0)
         WHEN 1 THEN overlay(t placing '' from pos for 1)
         ELSE overlay(t placing c from pos for 1)
       END
  FROM (SELECT t, (random() * 2)::int AS op, 1 + (random() * (length(t) - 1))::int AS pos,
               (ARRAY['"', '\', '{', '}', '[', ']', ':', ',', ' ', '-', '0', '9', 'e', '.', 'u',
                      '\u', '\"', 'null', chr(10), chr(1), 'é', '"metric_one"', '"a"', '"b"'])
                 [1 + (random() * 23)::int] AS c
          FROM (VALUES ('{"metric_one": 1, "metric_two": 2, "metric_n": 3}'),
                       ('{"a": {"b": {"metric_one": 10, "x": "y", "metric_n": -4}}}'),
                       ('{"a": {"b": {"metric_two": 1e2, "metric_one": "s"}}, "c": [1, 2]}'),
                       ('{"metric_one": 7, "metric_one": 8, "a": {"b": {"metric_one": 9}}}')) AS d(t),
               generate_series(1, 600)) AS m;

SELECT count(*) > 5000 AS many_documents,
       count(*) FILTER (WHERE fuzz_jsonb_state(doc) IS NULL) > 2000 AS many_valid,
       count(*) FILTER (WHERE fuzz_jsonb_state(doc) IS NOT NULL) > 1000 AS many_invalid
  FROM fuzz_docs;
CREATE TABLE fuzz_expected AS
SELECT id, doc, fuzz_jsonb_state(doc) AS state,
       doc ~ '^[ \t\r\n]*$' AS blank
  FROM fuzz_docs;
ALTER TABLE fuzz_expected ADD PRIMARY KEY (id);

-- two event tables: the top-level object with three metrics of every
-- integer type, and the path {a,b} with eleven metrics (edp's binary search)
CREATE TABLE fuzz_top (id int, metric_one int2, metric_two int4, metric_n int8, doc jsonb);
CREATE TABLE fuzz_ab (id int, metric_one int2, metric_two int4, metric_n int8,
                      metric_a int, metric_b int, metric_c int, metric_d int, metric_e int,
                      metric_f int, metric_g int, metric_j int8, doc jsonb);
SELECT edp.enable_flattening('fuzz_top', 'doc', '{}', '{id}');
SELECT edp.enable_flattening('fuzz_ab', 'doc', '{a,b}', '{id}');
CREATE TABLE fuzz_top_slow (LIKE fuzz_top);
CREATE TABLE fuzz_top_csv (LIKE fuzz_top);
CREATE TABLE fuzz_top_ins (LIKE fuzz_top);
CREATE TABLE fuzz_ab_slow (LIKE fuzz_ab);
CREATE TABLE fuzz_ab_csv (LIKE fuzz_ab);
CREATE TABLE fuzz_ab_ins (LIKE fuzz_ab);
SELECT count(edp.enable_flattening(t, 'doc', '{}', '{id}')) AS enabled
  FROM unnest('{fuzz_top_slow,fuzz_top_csv,fuzz_top_ins}'::regclass[]) t;
SELECT count(edp.enable_flattening(t, 'doc', '{a,b}', '{id}')) AS enabled
  FROM unnest('{fuzz_ab_slow,fuzz_ab_csv,fuzz_ab_ins}'::regclass[]) t;

-- every document jsonb_in takes loads, in one COPY per table and path
SET client_min_messages = error;
\copy (SELECT id, doc FROM fuzz_expected WHERE state IS NULL OR blank ORDER BY id) to program 'cat > "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.txt"'
\copy (SELECT id, doc FROM fuzz_expected WHERE state IS NULL OR blank ORDER BY id) to program 'cat > "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.csv"' with (format csv)
\copy fuzz_top (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.txt"'
\copy fuzz_ab (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.txt"'
\copy fuzz_top_csv (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.csv"' with (format csv)
\copy fuzz_ab_csv (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.csv"' with (format csv)
SET edp.json_fast_path = off;
\copy fuzz_top_slow (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.txt"'
\copy fuzz_ab_slow (id, doc) from program 'cat "$PG_ABS_BUILDDIR/results/flatten_fuzz_valid.txt"'
RESET edp.json_fast_path;
INSERT INTO fuzz_top_ins (id, doc) SELECT id, nullif(doc, '')::jsonb FROM fuzz_expected WHERE state IS NULL;
INSERT INTO fuzz_ab_ins (id, doc) SELECT id, nullif(doc, '')::jsonb FROM fuzz_expected WHERE state IS NULL;
RESET client_min_messages;

-- (a) every document jsonb_in takes loaded; blank fields loaded as NULL
SELECT count(*) FILTER (WHERE t.id IS NULL) AS missing_top,
       count(*) FILTER (WHERE a.id IS NULL) AS missing_ab,
       count(*) FILTER (WHERE e.blank AND (t.doc IS NOT NULL OR a.doc IS NOT NULL)) AS blank_not_null
  FROM fuzz_expected e LEFT JOIN fuzz_top t USING (id) LEFT JOIN fuzz_ab a USING (id)
 WHERE e.state IS NULL OR e.blank;

-- (b) fast scanner, JSON parser, CSV and the row trigger agree row for row
SELECT o.other, count(*) > 5000 AS many_rows,
       count(*) FILTER (WHERE to_jsonb(f) IS DISTINCT FROM o.r) AS rows_differing
  FROM fuzz_top f JOIN (SELECT 'top slow' AS other, id, to_jsonb(s) AS r FROM fuzz_top_slow s
                        UNION ALL SELECT 'top csv', id, to_jsonb(c) FROM fuzz_top_csv c
                        UNION ALL SELECT 'top insert', id, to_jsonb(i) FROM fuzz_top_ins i) o USING (id)
 GROUP BY o.other
UNION ALL
SELECT o.other, count(*) > 5000 AS many_rows,
       count(*) FILTER (WHERE to_jsonb(f) IS DISTINCT FROM o.r) AS rows_differing
  FROM fuzz_ab f JOIN (SELECT 'ab slow' AS other, id, to_jsonb(s) AS r FROM fuzz_ab_slow s
                       UNION ALL SELECT 'ab csv', id, to_jsonb(c) FROM fuzz_ab_csv c
                       UNION ALL SELECT 'ab insert', id, to_jsonb(i) FROM fuzz_ab_ins i) o USING (id)
 GROUP BY o.other
 ORDER BY other;

-- (c) nothing is lost
SELECT 'top' AS t, count(*) > 5000 AS many_rows,
       count(*) FILTER (WHERE edp.original_metrics(f) IS DISTINCT FROM nullif(e.doc, '')::jsonb) AS rows_lost,
       count(*) FILTER (WHERE f.metric_one IS NOT NULL OR f.metric_two IS NOT NULL OR f.metric_n IS NOT NULL) > 100 AS some_moved
  FROM fuzz_top f JOIN fuzz_expected e USING (id) WHERE NOT e.blank
UNION ALL
SELECT 'ab', count(*) > 5000,
       count(*) FILTER (WHERE edp.original_metrics(f) IS DISTINCT FROM nullif(e.doc, '')::jsonb),
       count(*) FILTER (WHERE f.metric_one IS NOT NULL OR f.metric_two IS NOT NULL OR f.metric_n IS NOT NULL) > 100
  FROM fuzz_ab f JOIN fuzz_expected e USING (id) WHERE NOT e.blank
 ORDER BY t;

-- (a) every document jsonb_in refuses makes its own COPY fail with the
-- same SQLSTATE (one COPY per document, taking turns at the two scanners
-- and the two tables, to keep the test fast)
CREATE FUNCTION fuzz_copy_state(tbl regclass, docid int, fast bool) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT id, doc FROM fuzz_expected WHERE id = %s) TO %L',
                   docid, current_setting('fuzz.file'));
    PERFORM set_config('edp.json_fast_path', fast::text, true);
    EXECUTE format('COPY %s (id, doc) FROM %L', tbl, current_setting('fuzz.file'));
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SET client_min_messages = error;
CREATE TABLE fuzz_invalid AS
SELECT id, state, t, fast, fuzz_copy_state(t, id, fast) AS copy_state
  FROM (SELECT id, state, (CASE WHEN id % 4 < 2 THEN 'fuzz_top' ELSE 'fuzz_ab' END)::regclass AS t,
               id % 2 = 0 AS fast
          FROM fuzz_expected WHERE state IS NOT NULL AND NOT blank) AS invalid;
RESET client_min_messages;
SELECT count(*) > 4000 AS many_copies, count(*) FILTER (WHERE copy_state IS DISTINCT FROM state) AS wrong_state
  FROM fuzz_invalid;
SELECT state, copy_state, count(*), min(left(doc, 60)) AS example
  FROM fuzz_invalid JOIN fuzz_expected USING (id, state)
 WHERE copy_state IS DISTINCT FROM state
 GROUP BY state, copy_state ORDER BY state, copy_state;
SELECT bool_or(state = '22P02') AS bad_syntax, bool_or(state = '22P05') AS bad_escape,
       bool_or(state = '22003') AS out_of_range
  FROM fuzz_invalid;

-- invalid UTF-8 inside a JSON string: COPY's encoding check rejects the
-- line (22021) in a UTF8 database, before edp sees it (a single-byte
-- database takes the byte as a character)
SELECT lo_from_bytea(0, convert_to(E'1\t{"metric_one": 1, "x": "', 'UTF8') || '\xff'::bytea
                        || convert_to(E'"}\n', 'UTF8')) AS lo \gset
SELECT lo_export(:lo, current_setting('fuzz.file')) = 1 AS exported;
SELECT lo_unlink(:lo) = 1 AS unlinked;
SET client_min_messages = error;
DO $$
DECLARE
    st text;
BEGIN
    BEGIN
        EXECUTE format('COPY fuzz_top (id, doc) FROM %L', current_setting('fuzz.file'));
        st := NULL;
    EXCEPTION WHEN OTHERS THEN
        st := SQLSTATE;
    END;
    IF getdatabaseencoding() = 'UTF8' AND st IS DISTINCT FROM '22021' THEN
        RAISE EXCEPTION 'invalid UTF-8: COPY gave %', st;
    END IF;
END $$;
RESET client_min_messages;

-- FORCE_NULL and FORCE_NOT_NULL on the document column act as in
-- PostgreSQL's COPY (the flattening COPY used to ignore them)
CREATE TABLE fuzz_force (id int, metric_one int, doc jsonb);
SELECT edp.enable_flattening('fuzz_force', 'doc', '{}', '{id}') IS NOT NULL AS enabled;
COPY fuzz_force (id, doc) FROM STDIN (FORMAT csv, NULL 'NA', FORCE_NULL (doc));
1,"NA"
2,"{""metric_one"": 2}"
\.
COPY fuzz_force (id, doc) FROM STDIN (FORMAT csv, NULL 'NA', FORCE_NOT_NULL (doc));
3,NA
\.
SELECT * FROM fuzz_force ORDER BY id;

-- edp.original_metrics() on rows that gave a metric column its value
-- themselves (here a DEFAULT) while the document has no object at the path:
-- the document is returned as it is (jsonb_set used to fail on it)
CREATE TABLE fuzz_default (id int, metric_one int DEFAULT 0, doc jsonb);
SELECT edp.enable_flattening('fuzz_default', 'doc', '{a,b}', '{id}') IS NOT NULL AS enabled;
SET client_min_messages = error;
COPY fuzz_default (id, doc) FROM STDIN;
1	{"a": [1]}
2	{"a": 5}
3	{"a": {"b": [2]}}
4	[1]
5	"x"
\.
RESET client_min_messages;
SELECT id, metric_one, doc, edp.original_metrics(d) FROM fuzz_default d ORDER BY id;

-- rows inserted straight into a partition: the row trigger is cloned to
-- the partition, the statement trigger that reports is not; the counts it
-- left behind must not outlive its statement (this crashed the server)
CREATE TABLE fuzz_parted (id int, metric_one int, doc jsonb) PARTITION BY RANGE (id);
CREATE TABLE fuzz_part1 PARTITION OF fuzz_parted FOR VALUES FROM (0) TO (100);
CREATE TABLE fuzz_other (id int, metric_one int, doc jsonb);
SELECT count(edp.enable_flattening(t, 'doc', '{}', '{id}')) AS enabled
  FROM unnest('{fuzz_parted,fuzz_other}'::regclass[]) t;
BEGIN;
INSERT INTO fuzz_part1 VALUES (1, NULL, '{"metric_one": 1, "x": 2}');
SELECT count(repeat('x', 100000)) FROM generate_series(1, 100);
INSERT INTO fuzz_other VALUES (1, NULL, '{"metric_one": 1, "y": 2}');
COMMIT;
SELECT 'part1' AS t, * FROM fuzz_part1 UNION ALL SELECT 'other', * FROM fuzz_other ORDER BY t;

DROP FUNCTION fuzz_jsonb_state(text), fuzz_copy_state(regclass, int, bool);
DROP TABLE fuzz_values, fuzz_keys, fuzz_dup_values, fuzz_docs, fuzz_expected, fuzz_invalid,
           fuzz_top, fuzz_top_slow, fuzz_top_csv, fuzz_top_ins,
           fuzz_ab, fuzz_ab_slow, fuzz_ab_csv, fuzz_ab_ins, fuzz_parted, fuzz_other, fuzz_force, fuzz_default;
