-- setup: install edp (pulls in PostGIS) for the tests that follow
CREATE EXTENSION edp CASCADE;
SELECT extname, extversion, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'edp';
SELECT count(*) = 1 AS postgis_installed FROM pg_extension WHERE extname = 'postgis';
