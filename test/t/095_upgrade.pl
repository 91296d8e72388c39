# 095_upgrade.pl -- ALTER EXTENSION edp UPDATE carries a 1.0 install, with
# its jobs and inboxes, to the catalog of a fresh install of the current
# version; ownership by name becomes ownership by OID.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'edp'");
$node->start;

my $current = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'edp'");

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('fresh', 'CREATE EXTENSION edp CASCADE');
$node->safe_psql('old', q{
CREATE EXTENSION postgis;
CREATE EXTENSION edp VERSION '1.0';
CREATE ROLE loader LOGIN;
CREATE TABLE ev (customer_id text, event_type text, ts timestamptz);
GRANT INSERT, SELECT ON ev TO loader;
-- what 1.0 left behind (rows first: this library is already the new one,
-- whose triggers refuse the old SQL objects; 1.0's SQL builds the rollup)
INSERT INTO ev VALUES ('c1', 'open', '2024-01-01 00:10:00+00');
SELECT edp.enable_rollup('ev', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('ev', columns => '{customer_id,ts,event_type}');
INSERT INTO edp.jobs (owner, source, target, format, status, rows_in, loaded, rejected)
VALUES ('loader', 'client', 'ev', 'csv', 'succeeded', 2, 1, 1);
INSERT INTO edp.rejects (job_id, line, raw_line, sqlstate, message)
SELECT max(id), 3, 'c1,open,not a time', '22007', 'invalid input syntax for type timestamp with time zone: "not a time"' FROM edp.jobs;
CREATE TABLE dropped_owner_t (a int);
CREATE ROLE gone;
INSERT INTO edp.jobs (owner, source, target, format, status, rows_in, loaded)
VALUES ('gone', 'client', 'dropped_owner_t', 'csv', 'succeeded', 1, 1);
DROP ROLE gone;
CREATE TABLE inbox_t (a int);
-- a flattened event table, a trips table, a partitioned table with a rollup
-- (enable_partitioning routes rows with the library, which is already the
-- new one: it runs after the update)
CREATE TABLE fe (id int, metric_one int, metric_two int, event_metrics jsonb);
SELECT edp.enable_flattening('fe', source => 'event_metrics', exclude => '{id}');
INSERT INTO fe (id, event_metrics) VALUES (1, '{"metric_one": 5, "other": 7}');
SELECT edp.create_trips_table('trips');
INSERT INTO trips (region, origin, destination, datetime, datasource)
SELECT region, origin, destination, datetime, datasource FROM edp.generate_trips(500, 7);
CREATE TABLE pe (customer_id text, event_type text, ts timestamptz) PARTITION BY RANGE (ts);
SELECT edp.enable_rollup('pe', key => 'customer_id', ts => 'ts');
SELECT edp.watch_inbox('/nonexistent/edp-upgrade-inbox', 'inbox_t');
});
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'edp'"),
	'1.0', 'the frozen 1.0 script installs');
my ($rc, $out, $err) = $node->psql('old', q{SELECT status FROM edp.ingest_data('ev', E'customer_id,event_type,ts\nc9,open,2024-01-01 00:00:00+00\n'::text)});
like($err, qr/ALTER EXTENSION edp UPDATE/, 'before the update, a load says what to do');
($rc, $out, $err) = $node->psql('old', q{INSERT INTO ev VALUES ('c9', 'open', '2024-01-01 00:00:00+00')});
like($err, qr/older than its library.*\n.*\n?HINT:  Run ALTER EXTENSION edp UPDATE/s, 'so does an INSERT into a rollup table');

$node->safe_psql('old', 'ALTER EXTENSION edp UPDATE');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'edp'"),
	$current, "updated to $current");

# everything of the extension a user can see: functions with their
# settings and comments, relations with columns and comments, policies, grants
my $catalog = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'edp'),
members AS (SELECT classid, objid FROM pg_depend, ext WHERE refclassid = 'pg_extension'::regclass AND refobjid = ext.oid AND deptype = 'e')
SELECT 'function ' || p.oid::regprocedure || ' ' || p.prokind::text || ' ' || p.provolatile::text || p.proparallel::text
       || ' strict=' || p.proisstrict || ' secdef=' || p.prosecdef
       || ' returns=' || p.prorettype::regtype || ' config=' || coalesce(array_to_string(p.proconfig, ';'), '')
       || ' acl=' || coalesce(p.proacl::text, '') || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
       || ' definition=' || CASE WHEN p.prokind = 'a' THEN '' ELSE md5(pg_get_functiondef(p.oid)) END
  FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
UNION ALL
SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity
       || ' acl=' || coalesce(c.relacl::text, '') || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
       || ' columns=' || coalesce((SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull
                                                     || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ',' ORDER BY a.attnum)
                                     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
       || ' constraints=' || coalesce((SELECT string_agg(pg_get_constraintdef(k.oid), ',' ORDER BY pg_get_constraintdef(k.oid))
                                         FROM pg_constraint k WHERE k.conrelid = c.oid), '')
  FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
UNION ALL
SELECT 'policy ' || pol.polrelid::regclass || '.' || pol.polname || ' ' || pol.polcmd::text || ' '
       || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' comment=' || coalesce(obj_description(pol.oid, 'pg_policy'), '')
  FROM pg_policy pol WHERE pol.polrelid::regclass::text LIKE 'edp.%'
UNION ALL
SELECT 'schema ' || n.nspname || ' acl=' || coalesce(n.nspacl::text, '') || ' comment=' || coalesce(obj_description(n.oid, 'pg_namespace'), '')
  FROM pg_namespace n JOIN members m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
UNION ALL
SELECT 'aggregate ' || a.aggfnoid::regprocedure || ' ' || a.aggtransfn::regproc || ' ' || a.aggfinalfn::regproc
       || ' ' || a.aggcombinefn::regproc || ' ' || a.aggserialfn::regproc || ' ' || a.aggdeserialfn::regproc
  FROM pg_aggregate a JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = a.aggfnoid
UNION ALL
SELECT 'index ' || i.schemaname || '.' || i.indexname || ' ' || i.indexdef
       || ' comment=' || coalesce(obj_description(format('%I.%I', i.schemaname, i.indexname)::regclass, 'pg_class'), '')
  FROM pg_indexes i WHERE i.schemaname IN ('edp', 'edp_internal')
UNION ALL
SELECT 'type ' || t.oid::regtype FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
UNION ALL
SELECT 'event trigger ' || e.evtname || ' ' || e.evtevent || ' ' || e.evtfoid::regproc
       || ' comment=' || coalesce(obj_description(e.oid, 'pg_event_trigger'), '')
  FROM pg_event_trigger e JOIN members m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
ORDER BY 1
};
my $fresh = $node->safe_psql('fresh', $catalog);
my $updated = $node->safe_psql('old', $catalog);
ok(length($fresh) > 1000, 'the catalog query sees the extension');
is($updated, $fresh, 'updated catalog equals a fresh install');
if ($updated ne $fresh)
{
	my %f = map { $_ => 1 } split /\n/, $fresh;
	my %u = map { $_ => 1 } split /\n/, $updated;
	diag("only in fresh:   $_") for grep { !$u{$_} } sort keys %f;
	diag("only in updated: $_") for grep { !$f{$_} } sort keys %u;
}

# the data still answers the same queries, and jobs now belong to OIDs
is($node->safe_psql('old', q{SELECT string_agg(format('%s %s %s %s', owner, run_as, status, loaded), '; ' ORDER BY id) FROM edp.jobs}),
	'loader loader succeeded 1; - - succeeded 1',
	'jobs keep their owner by OID; a dropped role\'s job belongs to nobody');
$node->safe_psql('old', 'CREATE ROLE gone');
is($node->safe_psql('old', q{SET ROLE gone; SELECT count(*) FROM edp.jobs}),
	'0', 'a new role with a dropped role\'s name sees none of its jobs');
is($node->safe_psql('old', q{SELECT count(*) FROM edp.rejects}), '1', 'rejects kept');
is($node->safe_psql('old', q{SELECT format('%s %s', mapped_by, coalesce(run_as::text, 'owner')) FROM edp.inboxes}),
	'postgres owner', 'an inbox keeps its mapping superuser by OID and now loads as the table owner');
is($node->safe_psql('old', q{SELECT sum(events) FROM edp.bucket_counts('ev', 'c1'::text, '2024-01-01', '2024-01-02')}),
	'1', 'rollup still answers');
is($node->safe_psql('old', q{SELECT count(*) FROM edp.verify_rollup('ev')}), '0', 'rollup still exact');
is($node->safe_psql('old', q{SELECT metric_one || ' ' || event_metrics::text || ' ' || edp.original_metrics(fe)::text FROM fe}),
	'5 {"other": 7} {"other": 7, "metric_one": 5}', 'flattened rows read back the same');
$node->safe_psql('old', q{INSERT INTO fe (id, event_metrics) VALUES (2, '{"metric_two": 3}')});
is($node->safe_psql('old', q{SELECT metric_two FROM fe WHERE id = 2}), '3', 'flattening after the update');
# trips per ISO week over the weeks the data spans, empty weeks included
my $brute = q{SELECT round(count(*)::numeric / ((max(date_trunc('week', datetime))::date - min(date_trunc('week', datetime))::date) / 7 + 1), 6) FROM trips};
is($node->safe_psql('old', q{SELECT round(edp.weekly_trip_average('trips', -180, -90, 180, 90, 'both')::numeric, 6)}),
	$node->safe_psql('old', $brute), 'trips weekly average from the 1.0 rollups equals brute force');
$node->safe_psql('old', q{INSERT INTO trips (region, origin, destination, datetime, datasource)
	SELECT region, origin, destination, datetime, datasource FROM edp.generate_trips(300, 8)});
is($node->safe_psql('old', q{SELECT round(edp.weekly_trip_average('trips', -180, -90, 180, 90, 'both')::numeric, 6)}),
	$node->safe_psql('old', $brute), 'and after more trips arrive');
$node->safe_psql('old', q{SELECT edp.enable_partitioning('pe', ts => 'ts', period => 'day')});
$node->safe_psql('old', q{INSERT INTO pe VALUES ('c1', 'open', '2024-03-01 10:00+00'), ('c1', 'open', '2024-03-02 10:00+00')});
is($node->safe_psql('old', q{SELECT string_agg(tableoid::regclass::text, ',' ORDER BY ts) FROM pe}),
	'pe_p20240301,pe_p20240302', 'a 1.0 table with a rollup is partitioned and routes rows after the update');
is($node->safe_psql('old', q{SELECT count(*) FROM edp.verify_rollup('pe')}), '0', 'and its rollup is exact');
is($node->safe_psql('old', q{SET ROLE loader; SELECT status || ' ' || loaded FROM edp.ingest_data('ev', E'customer_id,event_type,ts\nc2,open,2024-01-01 00:20:00+00\n'::text)}),
	'succeeded 1', 'loads work after the update');

done_testing();
