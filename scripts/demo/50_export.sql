-- export to Parquet: the deduplicated account events by day and event type, Hive-style
\pset footer off
SET timezone = 'UTC';
\set export_dir :demo_dir '/export/customer_events'
\echo '-- demo_customer_events (dedupe kept one copy of each event loaded twice) as'
\echo '-- event_date=YYYY-MM-DD/event_type=.../part-00000.parquet; one ledger job, atomic'
SELECT id, kind, status, rows_in, pg_size_pretty(size) AS written, finished_at - started_at AS took
  FROM edp.export('demo_customer_events', :'export_dir', partition_by => '{event_date, event_type}');
SELECT count(*) AS event_date_directories, min(d) AS first, max(d) AS last
  FROM pg_ls_dir(:'export_dir') d;
SELECT e AS "event_type directories of the first day"
  FROM pg_ls_dir(:'export_dir' || '/event_date=2024-01-01') e ORDER BY 1;
\echo '-- one customer, by COPY: any query, any client (\\copy ... with (format parquet) works for anyone)'
\set f :demo_dir '/export/customer_1.parquet'
COPY (SELECT * FROM demo_customer_events WHERE customer_id = 1 ORDER BY event_ts)
  TO :'f' WITH (FORMAT parquet, COMPRESSION zstd);
\echo 'read them with DuckDB, e.g.:'
\echo '  SELECT event_date, event_type, count(*) FROM read_parquet(''<dir>/**/*.parquet'', hive_partitioning = true) GROUP BY ALL'
