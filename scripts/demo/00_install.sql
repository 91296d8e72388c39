-- installing edp (CREATE EXTENSION edp CASCADE pulls in PostGIS)
\pset footer off
SET client_min_messages = warning;     -- not the NOTICE "installing required extension postgis"
CREATE EXTENSION edp CASCADE;
RESET client_min_messages;
SELECT extname, extversion FROM pg_extension WHERE extname IN ('edp', 'postgis') ORDER BY 1;
