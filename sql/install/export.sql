-- export to Parquet -----------------------------------------------------------

-- edp.export() runs are jobs of the ingest ledger: same rows, events and
-- channel; kind tells them apart and their format is 'parquet'
ALTER TABLE edp.jobs ADD COLUMN kind pg_catalog.text NOT NULL DEFAULT 'ingest'
    CHECK (kind IN ('ingest', 'export'));
COMMENT ON COLUMN edp.jobs.kind IS
    'ingest: a load into target (source: the input); export: edp.export() of target into the server directory source (rows_in = loaded = rows written, size = bytes written)';
ALTER TABLE edp.jobs DROP CONSTRAINT jobs_format_check;
ALTER TABLE edp.jobs ADD CONSTRAINT jobs_format_check CHECK (format IN ('csv', 'jsonl', 'parquet'));

CREATE FUNCTION edp.export(tbl pg_catalog.regclass, directory pg_catalog.text,
                           partition_by pg_catalog.text[] DEFAULT '{}',
                           format pg_catalog.text DEFAULT 'parquet',
                           compression pg_catalog.text DEFAULT 'zstd',
                           row_group_size pg_catalog.int4 DEFAULT NULL,
                           time_column pg_catalog.name DEFAULT NULL)
RETURNS edp.jobs
AS 'MODULE_PATHNAME', 'edp_export'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION edp.export(pg_catalog.regclass, pg_catalog.text, pg_catalog.text[], pg_catalog.text,
                               pg_catalog.text, pg_catalog.int4, pg_catalog.name) IS
    'write a table as Parquet files under an empty server directory, in Hive-style directories by partition_by (columns, or event_date/year/month/day of the time column); atomic per run; returns the job (kind export)';
