# 012_copy_passthrough.pl -- edp's COPY hook takes only COPY into edp's
# tables, in the formats edp reads, and hands everything else, unopened and
# unlocked, to the next ProcessUtility hook.  The next hook is a stub built
# from test/data/copy_hook_stub.c and loaded before edp, as Citus is (the
# hook of the library loaded last runs first): it reports each COPY that
# reaches it and takes COPY ... WITH (format result) for any name, as Citus
# does with its intermediate results on a worker.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir;

# build the stub with the server's own compiler and flags
sub pg_config { my $v = `pg_config --$_[0]`; chomp $v; return $v; }
my $stub = "$dir/copy_hook_stub.so";
my @cc = (split(' ', pg_config('cc')), split(' ', pg_config('cflags')),
	split(' ', pg_config('cflags_sl')), '-shared',
	'-I' . pg_config('includedir-server'), 'test/data/copy_hook_stub.c', '-o', $stub);
system(@cc) == 0 or BAIL_OUT("could not build the stub hook: @cc");

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = '$stub,edp'");
$node->start;

my $text = "$dir/plain.txt";
my $csv = "$dir/plain.csv";
my $bin = "$dir/plain.bin";
my $events = "$dir/events.csv";
PostgreSQL::Test::Utils::append_to_file($text, join('', map { "$_\tt$_\n" } 1 .. 7));
PostgreSQL::Test::Utils::append_to_file($csv, join('', map { "$_,c$_\n" } 1 .. 5));
PostgreSQL::Test::Utils::append_to_file($events,
	join('', map { "k" . ($_ % 3) . ",2024-01-01 0" . ($_ % 4) . ":10:00+00\n" } 1 .. 12));

$node->safe_psql('postgres', qq{
	CREATE EXTENSION edp CASCADE;
	CREATE TABLE plain (a int, b text);
	CREATE TABLE ev (customer_id text, ts timestamptz);
	SELECT edp.enable_rollup('ev', key => 'customer_id', ts => 'ts');
});

# run one statement, return what the stub reported (its NOTICEs) and the error
sub run
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	my @seen = $err =~ /stub hook: (.*)$/mg;
	my @errors = $err =~ /ERROR:\s+(.*)$/mg;
	return (join('; ', @seen), join('; ', @errors));
}

# COPY into a table that is not edp's, in every format: it reaches the next
# hook with no lock taken by edp, and PostgreSQL loads the rows
my ($seen, $error) = run("COPY plain FROM '$text'");
is($seen, 'COPY plain format text locked no', 'text COPY into a plain table reaches the next hook unlocked');
($seen, $error) = run("COPY plain FROM '$csv' WITH (format csv)");
is($seen, 'COPY plain format csv locked no', 'csv COPY into a plain table reaches the next hook unlocked');
$node->safe_psql('postgres', "COPY plain TO '$bin' WITH (format binary)");
($seen, $error) = run("COPY plain FROM '$bin' WITH (format binary)");
is($seen, 'COPY plain format binary locked no', 'binary COPY into a plain table reaches the next hook unlocked');
is($node->safe_psql('postgres', 'SELECT count(*) FROM plain'), '24',
	'PostgreSQL loaded every row of the three COPYs');

# Citus's intermediate results on a worker: no such relation, a format
# edp does not read; it must reach the next hook, which takes it
($seen, $error) = run('COPY "4_1" FROM STDIN WITH (format result)');
is($seen, 'COPY 4_1 format result locked no', 'COPY "4_1" ... (format result) reaches the next hook');
is($error, '', 'and edp raised nothing for the name that is not a relation');
($seen, $error) = run('COPY plain FROM STDIN WITH (format result)');
is($seen, 'COPY plain format result locked no', 'format result into a plain table: next hook, unlocked');

# a format edp does not own goes on even for an edp table, unopened
($seen, $error) = run('COPY ev FROM STDIN WITH (format result)');
is($seen, 'COPY ev format result locked no', 'format result into an edp table: next hook, unlocked');
($seen, $error) = run("COPY ev FROM '$events' WITH (format binary)");
is($seen, 'COPY ev format binary locked no', 'binary COPY into an edp table goes on to PostgreSQL');

# COPY into an edp table in text or csv is edp's: never passed on, upkeep runs
($seen, $error) = run("COPY ev FROM '$events' WITH (format csv)");
is($seen . $error, '', 'csv COPY into an edp table is taken by edp');
is($node->safe_psql('postgres', qq{
	SELECT bool_and(b.events = g.n) AND count(*) = 3
	  FROM (SELECT customer_id, count(*) AS n FROM ev GROUP BY 1) g,
	       LATERAL (SELECT sum(events) AS events
	                  FROM edp.bucket_counts('ev', g.customer_id, '2024-01-01', '2024-01-02')) b}),
	't', 'and its rollup equals GROUP BY');

# a name that is no relation at all, in a format edp reads: PostgreSQL's error
($seen, $error) = run('COPY "9_9" FROM STDIN');
is($error, 'relation "9_9" does not exist', 'a COPY into no relation is refused by PostgreSQL, after the next hook');

$node->stop;
done_testing();
