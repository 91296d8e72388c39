# 005_ingest_inbox.pl -- a watched inbox: a file renamed in lands and moves
# to done/, a bad one to failed/ with its reason, a file still being written
# (temporary name) is never read; every step is in the ledger.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'edp'
edp.database = 'postgres'
edp.naptime = 50
});
$node->start;

my $inbox = PostgreSQL::Test::Utils::tempdir;
$node->safe_psql('postgres', qq{
CREATE EXTENSION edp CASCADE;
CREATE TABLE readings (sensor text NOT NULL, value integer, at timestamptz);
SELECT edp.watch_inbox('$inbox', 'readings');
});

# write under a temporary name, then rename: the atomic way in
sub drop_file
{
	my ($name, $content) = @_;
	open(my $fh, '>', "$inbox/$name.tmp") or die $!;
	print $fh $content;
	close($fh);
	rename("$inbox/$name.tmp", "$inbox/$name") or die $!;
}

# a file being written stays under its temporary name: never touched
open(my $partial, '>', "$inbox/growing.csv.part") or die $!;
print $partial "Sensor;Value;At\ns9;1;2024-01-01 00:00:00+00\n";

drop_file('good.csv', "Sensor;Value;At\ns1;\"5\";2024-01-01 00:00:00+00\ns2;oops;2024-01-01 00:01:00+00\n\ns3;7;2024-01-01 00:02:00+00\n");
drop_file('bad.csv', "sensor,colour\ns1,red\n");

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM edp.jobs WHERE status IN ('succeeded', 'failed')"),
	'both inbox files were ingested as jobs');
is($node->safe_psql('postgres',
		"SELECT string_agg(regexp_replace(source, '^.*/', '') || ' ' || status || ' ' || loaded || ' ' || rejected || ' ' || skipped_empty, ', ' ORDER BY source) FROM edp.jobs"),
	'bad.csv failed 0 0 0, good.csv succeeded 2 1 1', 'statuses and counts');
ok($node->poll_query_until('postgres',
		"SELECT (pg_stat_file('$inbox/done/good.csv', true)).size IS NOT NULL AND (pg_stat_file('$inbox/failed/bad.csv.reason', true)).size IS NOT NULL"),
	'files moved to done/ and failed/');
ok(-f "$inbox/done/good.csv", 'good file is in done/');
ok(-f "$inbox/failed/bad.csv", 'bad file is in failed/');
like(slurp_file("$inbox/failed/bad.csv.reason"), qr/column "colour" of the input header does not exist/,
	'the reason is beside it');
ok(!-e "$inbox/good.csv" && !-e "$inbox/bad.csv", 'nothing left in the inbox');
is($node->safe_psql('postgres', 'SELECT string_agg(sensor || value, \' \' ORDER BY sensor) FROM readings'),
	's15 s37', 'rows of the good file loaded, bad row quarantined');
is($node->safe_psql('postgres',
		"SELECT string_agg(e.event, ' ' ORDER BY e.id) FROM edp.job_events e JOIN edp.jobs j ON j.id = e.job_id WHERE j.source LIKE '%good.csv'"),
	'queued started progress succeeded', 'every step notified');

ok(-f "$inbox/growing.csv.part", 'a file still being written is left alone');
close($partial);

# only a superuser maps directories
$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
my ($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT edp.watch_inbox('/tmp', 'readings')",
	extra_params => [ '-U', 'plain' ]);
like($stderr, qr/must be superuser to map an inbox directory/, 'plain roles cannot map an inbox');

$node->stop;
done_testing();
