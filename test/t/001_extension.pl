# 001_extension.pl -- edp installs into a preloaded cluster and survives a restart
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'edp'");
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION edp CASCADE');
is($node->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'edp'"),
	'1.1', 'edp 1.1 installed');
is($node->safe_psql('postgres',
		"SELECT nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'edp'"),
	'edp', 'edp lives in schema edp');

$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM edp.event_tables'),
	'0', 'server restarts cleanly with edp preloaded');

$node->stop;
done_testing();
