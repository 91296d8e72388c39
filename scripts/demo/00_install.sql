-- installing edp (CREATE EXTENSION edp CASCADE pulls in PostGIS)
\pset footer off
CREATE EXTENSION edp CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname IN ('edp', 'postgis') ORDER BY 1;
