# 055_async_partitions.pl -- a background load into a table partitioned by day
# with rollup and dedupe: the rows land in the right partitions (edp's
# routing is a deferred trigger, fired at each batch's commit), nothing is
# lost or kept twice, and the table owner's own deferred trigger fires as the
# owner, not as the superuser the worker connects as.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('async_partitions');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'edp'
edp.database = 'postgres'
edp.naptime = 50
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE ROLE alice LOGIN;
GRANT CREATE ON SCHEMA public TO alice;
CREATE TABLE fired (who name, n bigint);
GRANT INSERT ON fired TO alice;
SET ROLE alice;
CREATE TABLE ev (customer_id text, event_type text, ts timestamptz) PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('ev', ts => 'ts', period => 'day');
SELECT edp.enable_rollup('ev', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('ev', columns => '{customer_id,event_type,ts}');
CREATE FUNCTION ev_seen() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO public.fired VALUES (current_user, 1);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ev_seen AFTER INSERT ON ev DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ev_seen();
});

# 3,000 rows over five days, every 10th a copy of the row before it
my $dir = PostgreSQL::Test::Utils::tempdir;
my $path = "$dir/events.csv";
open(my $fh, '>', $path) or die "$path: $!";
print $fh "customer_id,event_type,ts\n";
for my $i (1 .. 3000)
{
	my $e = $i % 10 == 0 ? $i - 1 : $i;
	my $day = 1 + $e % 5;
	printf $fh "c%d,t%d,2024-03-%02d %02d:%02d:00+00\n", $e % 37, $e % 3, $day, ($e / 60) % 24, $e % 60;
}
close($fh);
my $distinct = 2700;
my %per_day;
$per_day{ 1 + $_ % 5 }++ for grep { $_ % 10 != 0 } 1 .. 3000;

my $job = $node->safe_psql('postgres',
	"SELECT edp.ingest_async('ev', '$path', batch_size => 700)");
ok($node->poll_query_until('postgres',
		"SELECT status IN ('succeeded', 'failed', 'cancelled') FROM edp.jobs WHERE id = $job"),
	'the background job ends');
is($node->safe_psql('postgres',
		"SELECT format('%s as %s: in %s, loaded %s, rejected %s, duplicates %s', status, run_as, rows_in, loaded, rejected, duplicates) FROM edp.jobs WHERE id = $job"),
	"succeeded as alice: in 3000, loaded $distinct, rejected 0, duplicates 300",
	'it ran as the table owner and loaded every distinct row');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev'), $distinct, 'the table holds them');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT FROM ev GROUP BY customer_id, event_type, ts HAVING count(*) > 1) d"),
	'0', 'no duplicates across batches');
is($node->safe_psql('postgres',
		"SELECT string_agg(format('%s %s', tableoid::regclass, n), ', ' ORDER BY tableoid::regclass::text)
		   FROM (SELECT tableoid, count(*) AS n FROM ev GROUP BY tableoid) p"),
	join(', ', map { sprintf('ev_p202403%02d %d', $_, $per_day{$_}) } 1 .. 5),
	'every row in its day\'s partition, the DEFAULT partition empty');
is($node->safe_psql('postgres', "SELECT count(*) FROM edp.verify_rollup('ev')"), '0', 'the rollup is exact');
is($node->safe_psql('postgres', 'SELECT string_agg(DISTINCT who, \',\') FROM fired'),
	'alice', 'the owner\'s deferred trigger fired as the owner');

done_testing();
