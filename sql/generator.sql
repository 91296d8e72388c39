-- generator: edp.generate_events is deterministic, realistic and checks its arguments
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- a few rows, as users see them (doc/edp.md example)
SELECT id, customer_id, event_type, transaction_id, first_dimension_id AS d1,
       second_dimension_id AS d2, recorded_date, created_date
  FROM edp.generate_events(3, seed => 7) ORDER BY id;
SELECT id, event_ts, ts_text, event_metrics
  FROM edp.generate_events(3, seed => 7, ts_offsets => '{Z,+02:00,+05:30}') ORDER BY id;

-- determinism: same seed, same rows in the same order; another seed, other rows
CREATE TEMP TABLE fingerprints AS
SELECT s.label,
       (SELECT md5(string_agg(g::text, E'\n' ORDER BY g.ordinality))
          FROM edp.generate_events(20000, seed => s.seed,
                                   ts_offsets => '{Z,+00,+02:00,+05:30}',
                                   duplicate_share => 0.01)
               WITH ORDINALITY AS g) AS md5
  FROM (VALUES ('seed 42, first', 42), ('seed 42, again', 42), ('seed 43', 43)) AS s(label, seed);
SELECT count(DISTINCT md5) FILTER (WHERE label LIKE 'seed 42%') = 1 AS same_seed_same_rows,
       count(DISTINCT md5) = 2 AS other_seed_other_rows
  FROM fingerprints;
DROP TABLE fingerprints;

-- the exact output is pinned: a change here means generated data changed
-- for every user of a seed (benchmarks, demos, fixtures); do it on purpose
SELECT md5(string_agg(g::text, E'\n' ORDER BY g.ordinality)) AS first_1000_rows_seed_42
  FROM edp.generate_events(1000, ts_offsets => '{Z,+00,+02:00,+05:30}') WITH ORDINALITY AS g;

-- a shorter run is a prefix of a longer one
SELECT bool_and(a::text = b::text) AND count(*) = 1000 AS shorter_is_prefix
  FROM edp.generate_events(1000, seed => 5) WITH ORDINALITY AS a
  JOIN edp.generate_events(3000, seed => 5) WITH ORDINALITY AS b USING (ordinality);

-- row counts, including n = 0
SELECT (SELECT count(*) FROM edp.generate_events(0)) AS n0,
       (SELECT count(*) FROM edp.generate_events(1)) AS n1,
       (SELECT count(*) FROM edp.generate_events(12345)) AS n12345;

-- the planner expects n rows (support function), not the default 1000
CREATE FUNCTION pg_temp.plan_rows(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END $$;
SELECT pg_temp.plan_rows('SELECT * FROM edp.generate_events(123456)') AS estimated_rows;

-- one sample of 100k rows with the default settings for the statistics below
CREATE TEMP TABLE sample AS
SELECT * FROM edp.generate_events(100000, seed => 11) WITH ORDINALITY;

-- value ranges and shapes
SELECT bool_and(customer_id BETWEEN 1 AND 10000) AS customers_in_range,
       bool_and(first_dimension_id BETWEEN 1 AND 100) AS first_dimension_in_range,
       bool_and(second_dimension_id BETWEEN 1 AND 20) AS second_dimension_in_range,
       count(DISTINCT first_dimension_id) = 100 AS all_first_dimensions,
       count(DISTINCT second_dimension_id) = 20 AS all_second_dimensions,
       bool_and(recorded_date >= '2023-01-01' AND recorded_date < '2024-01-01') AS recorded_in_range,
       bool_and(created_date > recorded_date
                AND created_date <= recorded_date + interval '61 seconds') AS created_soon_after,
       bool_and(event_ts = recorded_date AT TIME ZONE 'UTC') AS event_ts_is_recorded_date,
       bool_and(transaction_id::text ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$') AS uuid_v4_shaped,
       count(DISTINCT transaction_id) = count(DISTINCT id) AS one_uuid_per_event
  FROM sample;

-- skew: customer 1 holds about hot_share, a few others are hot, a long tail
SELECT abs(count(*) FILTER (WHERE customer_id = 1) / count(*)::float8 - 0.10) < 0.01 AS hot_share_ok,
       count(*) FILTER (WHERE customer_id BETWEEN 2 AND 11)
         > 20 * count(*) FILTER (WHERE customer_id BETWEEN 5001 AND 5010) AS few_hot_customers,
       count(DISTINCT customer_id) > 5000 AS long_tail
  FROM sample;
SELECT event_type, count(*) > 5000 AS frequent
  FROM sample GROUP BY event_type ORDER BY count(*) DESC, event_type;

-- timestamps: a daily rhythm, and 0..6 fraction digits
SELECT count(*) FILTER (WHERE extract(hour FROM recorded_date) BETWEEN 12 AND 15)
         > 2 * count(*) FILTER (WHERE extract(hour FROM recorded_date) BETWEEN 2 AND 5) AS busy_afternoons,
       count(DISTINCT length(substring(ts_text FROM '\.(\d+)'))) = 6
         AND count(*) FILTER (WHERE ts_text !~ '\.') > 0 AS fraction_digits_0_to_6
  FROM sample;

-- duplicates: about duplicate_share of the rows, exact copies of earlier rows
SELECT abs((count(*) - count(DISTINCT id)) / count(*)::float8 - 0.001) < 0.0004 AS duplicate_share_ok,
       count(DISTINCT id) = max(id) AS ids_dense,
       count(DISTINCT s::text) = count(DISTINCT id) AS duplicates_are_exact
  FROM (SELECT id, customer_id, event_type, transaction_id, first_dimension_id,
               second_dimension_id, recorded_date, created_date, event_ts, ts_text,
               event_metrics FROM sample) AS s;
SELECT bool_and(d.ordinality > f.ordinality) AS duplicates_follow_their_original,
       bool_and(d.ordinality - f.ordinality < 2000) AS duplicates_are_recent
  FROM sample AS d
  JOIN (SELECT id, min(ordinality) AS ordinality FROM sample GROUP BY id) AS f USING (id)
 WHERE d.ordinality <> f.ordinality;
SELECT count(*) = count(DISTINCT id) AND max(id) = 5000
       AND bool_and(id = ordinality) AS no_duplicates_when_share_is_0
  FROM edp.generate_events(5000, duplicate_share => 0) WITH ORDINALITY;

-- metrics: valid JSON, keys missing / unknown in the requested shares, empty
-- objects, and a key order that varies
CREATE TEMP TABLE metrics AS
SELECT event_metrics, event_metrics::jsonb -> 'metrics' AS m FROM sample;
SELECT bool_and(jsonb_typeof(m) = 'object') AS all_parse_as_objects,
       abs(avg((NOT m ? 'metric_one')::int) - 0.05) < 0.005 AS metric_one_missing_ok,
       abs(avg((NOT m ? 'metric_two')::int) - 0.05) < 0.005 AS metric_two_missing_ok,
       abs(avg((NOT m ? 'metric_n')::int) - 0.05) < 0.005 AS metric_n_missing_ok,
       abs(avg((m - '{metric_one,metric_two,metric_n}'::text[] <> '{}')::int) - 0.01) < 0.002 AS unknown_share_ok,
       bool_and(m - '{metric_one,metric_two,metric_n}'::text[] = '{}'
                OR (SELECT bool_and(k ~ '^metric_x[1-9]$') FROM jsonb_object_keys(m) AS k
                     WHERE k NOT IN ('metric_one', 'metric_two', 'metric_n'))) AS unknown_keys_named_metric_x,
       count(*) FILTER (WHERE event_metrics = '{"metrics": {}}') > 100 AS empty_objects_present,
       bool_and((SELECT bool_and(jsonb_typeof(v) = 'number') FROM jsonb_each(m) AS e(k, v))
                OR m = '{}') AS values_are_numbers
  FROM metrics;
SELECT count(*) FILTER (WHERE strpos(event_metrics, 'metric_one') < strpos(event_metrics, 'metric_two')) > 10000
       AND count(*) FILTER (WHERE strpos(event_metrics, 'metric_one') > strpos(event_metrics, 'metric_two')) > 10000
       AS key_order_varies
  FROM metrics WHERE m ?& '{metric_one,metric_two}';
SELECT abs(avg((NOT m ? 'metric_one')::int) - 0.5) < 0.02 AS half_missing_ok,
       abs(avg((m - '{metric_one,metric_two,metric_n}'::text[] <> '{}')::int) - 0.3) < 0.02 AS unknown_30pct_ok
  FROM (SELECT event_metrics::jsonb -> 'metrics' AS m
          FROM edp.generate_events(20000, missing_key_share => 0.5, unknown_key_share => 0.3)) AS s;
SELECT bool_and(event_metrics = '{"metrics": {}}') AS all_empty
  FROM edp.generate_events(1000, missing_key_share => 1, unknown_key_share => 0);
DROP TABLE metrics;
DROP TABLE sample;

-- ts_text is the same instant in the chosen offset, for every row; dates
-- over two centuries (before and after 2000, leap days) render as
-- PostgreSQL renders them
CREATE TEMP TABLE mixed AS
SELECT * FROM edp.generate_events(50000, seed => 3,
         start_at => '1899-06-01 00:00:00+00', end_at => '2101-03-01 00:00:00+00',
         ts_offsets => '{Z,+00,+02:00,+05:30,-0330,-11,+15:59}');
SELECT bool_and(ts_text::timestamptz = event_ts) AS ts_text_same_instant,
       count(DISTINCT substring(ts_text FROM '(Z|[+-][0-9:]+)$')) = 7 AS all_offsets_used,
       count(*) FILTER (WHERE recorded_date < '2000-01-01') > 10000 AS before_2000,
       count(*) FILTER (WHERE to_char(recorded_date, 'MM-DD') = '02-29') > 0 AS leap_days
  FROM mixed;
DROP TABLE mixed;
SELECT bool_and(ts_text LIKE '%+00') AS default_offset_00,
       bool_and(CASE WHEN ts_text LIKE '%.%'
                     THEN rtrim(rtrim(left(ts_text, -3), '0'), '.')
                     ELSE left(ts_text, -3) END = recorded_date::text) AS renders_as_postgresql
  FROM edp.generate_events(50000, seed => 4,
       start_at => '0001-01-02 00:00:00+00', end_at => '9999-12-31 00:00:00+00');

-- degenerate settings
SELECT count(DISTINCT customer_id) = 1 AND min(customer_id) = 1 AS one_customer,
       bool_and(event_type = 'type_1') AS one_type
  FROM edp.generate_events(1000, customers => 1, event_types => 1);
SELECT bool_and(customer_id = 1) AS all_hot
  FROM edp.generate_events(1000, hot_share => 1);
SELECT bool_and(recorded_date = '2023-01-01 00:00:00') AS one_microsecond_range
  FROM edp.generate_events(100, start_at => '2023-01-01 00:00:00+00',
                           end_at => '2023-01-01 00:00:00.000001+00');

-- bad arguments: SQLSTATE and message
CREATE FUNCTION pg_temp.error_of(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'SELECT count(*) FROM ' || call;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT call, pg_temp.error_of(call) AS error FROM (VALUES
    ('edp.generate_events(-1)'),
    ('edp.generate_events(NULL)'),
    ('edp.generate_events(10, seed => NULL)'),
    ('edp.generate_events(10, customers => 0)'),
    ('edp.generate_events(10, event_types => 0)'),
    ('edp.generate_events(10, event_types => 1001)'),
    ('edp.generate_events(10, hot_share => 1.5)'),
    ('edp.generate_events(10, unknown_key_share => -0.1)'),
    ('edp.generate_events(10, missing_key_share => ''NaN'')'),
    ('edp.generate_events(10, duplicate_share => 2)'),
    ('edp.generate_events(10, start_at => ''2024-01-01'', end_at => ''2024-01-01'')'),
    ('edp.generate_events(10, start_at => ''2024-01-01'', end_at => ''2023-01-01'')'),
    ('edp.generate_events(10, start_at => ''-infinity'')'),
    ('edp.generate_events(10, end_at => ''10000-01-01'')'),
    ('edp.generate_events(10, ts_offsets => ''{}'')'),
    ('edp.generate_events(10, ts_offsets => ''{Z,NULL}'')'),
    ('edp.generate_events(10, ts_offsets => ''{UTC}'')'),
    ('edp.generate_events(10, ts_offsets => ''{+16}'')'),
    ('edp.generate_events(10, ts_offsets => ''{+05:60}'')'),
    ('edp.generate_events(10, ts_offsets => ''{+5:30}'')'),
    ('edp.generate_events(10, ts_offsets => ''{""}'')')
) AS c(call) ORDER BY call;
-- with its detail or hint
SELECT * FROM edp.generate_events(10, hot_share => 1.5);  -- ERROR
SELECT * FROM edp.generate_events(10, ts_offsets => '{+2}');  -- ERROR

-- labels
SELECT oid::regproc AS function, provolatile, proparallel, proisstrict, prosupport <> 0 AS has_support
  FROM pg_proc WHERE pronamespace IN ('edp'::regnamespace, 'edp_internal'::regnamespace)
   AND proname LIKE 'generate_events%'
 ORDER BY proname;

RESET TimeZone;
RESET DateStyle;
