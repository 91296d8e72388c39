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
SELECT edp.enable_rollup('ev', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('ev', columns => '{customer_id,ts,event_type}');
-- what 1.0 left behind (written directly: this library is already the new one)
INSERT INTO ev VALUES ('c1', 'open', '2024-01-01 00:10:00+00');
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
SELECT edp.watch_inbox('/nonexistent/edp-upgrade-inbox', 'inbox_t');
});
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'edp'"),
	'1.0', 'the frozen 1.0 script installs');
my ($rc, $out, $err) = $node->psql('old', q{SELECT status FROM edp.ingest_data('ev', E'customer_id,event_type,ts\nc9,open,2024-01-01 00:00:00+00\n'::text)});
like($err, qr/ALTER EXTENSION edp UPDATE/, 'before the update, a load says what to do');

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
SELECT 'type ' || t.oid::regtype FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
UNION ALL
SELECT 'event trigger ' || e.evtname || ' ' || e.evtevent || ' ' || e.evtfoid::regproc
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
is($node->safe_psql('old', q{SET ROLE loader; SELECT status || ' ' || loaded FROM edp.ingest_data('ev', E'customer_id,event_type,ts\nc2,open,2024-01-01 00:20:00+00\n'::text)}),
	'succeeded 1', 'loads work after the update');

done_testing();
