-- integration: one event table with every capability at once: metric
-- flattening (edp's COPY path), rollup and dedupe, loaded by COPY, INSERT
-- and edp.ingest; counts never double and the rollup stays exact
CREATE TABLE ev (
    id bigint, customer_id bigint, event_type text, transaction_id uuid,
    event_ts timestamptz, metric_one int, metric_two int, metric_n int,
    event_metrics jsonb
);
SELECT edp.enable_flattening('ev', path => '{metrics}', exclude => '{id,customer_id}');
SELECT edp.enable_rollup('ev', key => 'customer_id', ts => 'event_ts') IS NOT NULL AS rollup;
SELECT edp.enable_dedupe('ev', columns => '{customer_id,event_ts,event_type,transaction_id}');

CREATE TABLE gen AS
SELECT id, customer_id, event_type, transaction_id, ts_text, event_metrics
  FROM edp.generate_events(5000, seed => 11, customers => 50,
                           ts_offsets => '{Z,+00,+02:00,+05:30}');
SELECT count(*) AS generated,
       count(DISTINCT (customer_id, ts_text::timestamptz, event_type, transaction_id)) AS distinct_events
  FROM gen;
\copy gen (id, customer_id, event_type, transaction_id, ts_text, event_metrics) to program 'cat > "$PG_ABS_BUILDDIR/results/integration.csv"' with (format csv)

SET client_min_messages = error;
-- the file through edp's flattening COPY, twice: nothing doubles
\copy ev (id, customer_id, event_type, transaction_id, event_ts, event_metrics) from program 'cat "$PG_ABS_BUILDDIR/results/integration.csv"' with (format csv)
\copy ev (id, customer_id, event_type, transaction_id, event_ts, event_metrics) from program 'cat "$PG_ABS_BUILDDIR/results/integration.csv"' with (format csv)
RESET client_min_messages;
SELECT count(*) AS loaded, count(metric_one) > 4000 AS flattened,
       count(*) = (SELECT count(DISTINCT (customer_id, ts_text::timestamptz, event_type, transaction_id)) FROM gen) AS one_row_per_event
  FROM ev;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ev');

-- the same rows again through INSERT ... SELECT (the row trigger flattens)
SET client_min_messages = error;
INSERT INTO ev (id, customer_id, event_type, transaction_id, event_ts, event_metrics)
SELECT id, customer_id, event_type, transaction_id, ts_text::timestamptz, event_metrics::jsonb FROM gen;
RESET client_min_messages;
SELECT count(*) AS still_loaded FROM ev;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ev');

-- and through the validated loader: every row is a duplicate, none a reject
SET client_min_messages = error;
SELECT status, rows_in, loaded, rejected, duplicates
  FROM edp.ingest_data('ev', pg_catalog.convert_to(
         E'id,customer_id,event_type,transaction_id,event_ts,event_metrics\n' ||
         (SELECT string_agg(format('%s,%s,%s,%s,%s,%s', id, customer_id, event_type, transaction_id,
                                   ts_text, quote_ident(event_metrics)), E'\n' ORDER BY id)
            FROM (SELECT DISTINCT ON (id) * FROM gen ORDER BY id) g), 'UTF8'),
         format => 'csv');
RESET client_min_messages;
SELECT sqlstate, message, count(*) FROM edp.rejects GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS still_loaded FROM ev;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ev');

-- nothing of the documents was lost on the way
SELECT count(*) AS differing_documents FROM (
    SELECT id, edp.original_metrics(e) FROM ev e
    EXCEPT
    SELECT id, event_metrics::jsonb FROM gen) d;

-- hourly buckets of the busiest customer come from the rollup and equal brute force
SELECT (SELECT array_agg(events ORDER BY bucket_start)
          FROM edp.bucket_counts('ev', 1::bigint, '2023-01-01', '2023-01-08', fill => false))
     = (SELECT array_agg(n ORDER BY h) FROM (
          SELECT date_trunc('hour', event_ts AT TIME ZONE 'UTC') AS h, count(*) AS n
            FROM ev WHERE customer_id = 1 AND event_ts >= '2023-01-01' AND event_ts < '2023-01-08'
           GROUP BY 1) b) AS buckets_equal;
DROP TABLE ev, gen;

-- edp.ingest into an event table reads naive timestamps by edp's policy too
CREATE TABLE naive_ing (customer_id text, event_ts timestamptz);
SELECT edp.enable_rollup('naive_ing', key => 'customer_id', ts => 'event_ts') IS NOT NULL AS rollup;
SET timezone = 'America/New_York';
SELECT status, loaded FROM edp.ingest_data('naive_ing', E'customer_id,event_ts\na,2021-03-01 00:03:21\n');
SELECT event_ts AT TIME ZONE 'UTC' AS utc FROM naive_ing;
RESET timezone;
DROP TABLE naive_ing;
