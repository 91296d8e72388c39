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

-- generator -----------------------------------------------------------------

CREATE FUNCTION edp.generate_events_support(pg_catalog.internal)
    RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'edp_generate_events_support'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION edp.generate_events_support(pg_catalog.internal) IS
    'planner support for edp.generate_events: estimates n rows';

-- IMMUTABLE: the rows depend on the arguments only (no tables, no GUCs such
-- as TimeZone: ts_text is written in the offsets given), which is exactly
-- PostgreSQL's definition; the planner never pre-evaluates a set-returning
-- function, so the label does not fold calls into plans.  PARALLEL SAFE: no
-- shared state, no writes.  Not STRICT: a NULL ts_offsets means the default.
CREATE FUNCTION edp.generate_events(
    n                 pg_catalog.int8,
    seed              pg_catalog.int8        DEFAULT 42,
    start_at          pg_catalog.timestamptz DEFAULT '2023-01-01 00:00:00+00',
    end_at            pg_catalog.timestamptz DEFAULT '2024-01-01 00:00:00+00',
    customers         pg_catalog.int4        DEFAULT 10000,
    event_types       pg_catalog.int4        DEFAULT 5,
    hot_share         pg_catalog.float8      DEFAULT 0.10,
    unknown_key_share pg_catalog.float8      DEFAULT 0.01,
    missing_key_share pg_catalog.float8      DEFAULT 0.05,
    duplicate_share   pg_catalog.float8      DEFAULT 0.001,
    ts_offsets        pg_catalog.text[]      DEFAULT NULL
) RETURNS TABLE (
    id                  pg_catalog.int8,
    customer_id         pg_catalog.int8,
    event_type          pg_catalog.text,
    transaction_id      pg_catalog.uuid,
    first_dimension_id  pg_catalog.int4,
    second_dimension_id pg_catalog.int4,
    recorded_date       pg_catalog.timestamp,
    created_date        pg_catalog.timestamp,
    event_ts            pg_catalog.timestamptz,
    ts_text             pg_catalog.text,
    event_metrics       pg_catalog.text
)
    AS 'MODULE_PATHNAME', 'edp_generate_events'
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    ROWS 1000 SUPPORT edp.generate_events_support;
COMMENT ON FUNCTION edp.generate_events(pg_catalog.int8, pg_catalog.int8,
    pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4, pg_catalog.int4,
    pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
    pg_catalog.text[]) IS
    'deterministic generator of n event rows (skewed customers and types, UUIDs, '
    'timestamps with mixed UTC offsets, metrics JSON with missing and unknown keys, '
    'exact duplicates): the same arguments always give the same rows';
