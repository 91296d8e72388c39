-- catalog: every object of the extension, with the labels of every function
-- (volatility, parallel safety, strictness) pinned, and a comment on each
SELECT p.pronamespace::regnamespace AS schema, p.proname AS function, p.pronargs AS nargs, p.provolatile AS vol, p.proparallel AS par,
       p.proisstrict AS strict, obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'edp')
 ORDER BY 1, 2, 3;

SELECT c.oid::regclass AS relation, c.relkind,
       obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
  FROM pg_class c
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'edp')
 ORDER BY c.oid::regclass::text;

-- aggregates are parallel safe with combine, serialize and deserialize functions;
-- those users call have a state that is a real type (Citus splits only those)
SELECT p.oid::regproc AS aggregate, a.aggcombinefn <> 0 AS combine,
       a.aggserialfn <> 0 OR a.aggtranstype <> 'internal'::regtype AS serialize,
       a.aggtranstype::regtype AS state, p.proparallel AS par
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'edp')
 ORDER BY 1;

-- \df edp.* lists only what users call; internals live in edp_internal,
-- and those no user path calls are not executable by PUBLIC
SELECT p.oid::regprocedure AS not_executable_by_public
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'edp')
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
SELECT count(*) AS user_functions_without_comment
  FROM pg_proc p WHERE p.pronamespace = 'edp'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL;
