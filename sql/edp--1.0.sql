/* sql/edp--1.0.sql -- edp 1.0: event data platform */

\echo Use "CREATE EXTENSION edp" to load this file. \quit

-- catalog -------------------------------------------------------------------

CREATE TABLE edp.event_tables (
    relid           pg_catalog.regclass PRIMARY KEY,
    source_column   pg_catalog.name,                   -- flattening: jsonb input + overflow column (NULL: off)
    metrics_path    pg_catalog.text[] NOT NULL DEFAULT '{}',
    exclude_columns pg_catalog.name[] NOT NULL DEFAULT '{}',
    created_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE edp.event_tables IS
    'edp catalog: one row per event table, with the settings of each edp capability enabled on it';
SELECT pg_catalog.pg_extension_config_dump('edp.event_tables', '');
GRANT SELECT ON edp.event_tables TO PUBLIC;
