# 031_rollup_large_statement.pl -- one statement whose rollup rows take more
# than one write (buckets/rollup_batch.c writes at most 8M slot/count values
# per INSERT: a single array could not hold the 60M (key, hour) pairs of a
# 100M-row COPY)
#
# 4.3M rows in one INSERT ... SELECT, each the only event of its (key, hour),
# so the statement's rollup rows carry 8.6M values: two writes.  The rollup
# must equal brute force (edp.verify_rollup), and bucket_counts of a key must
# equal a GROUP BY over the rows.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rollup_large');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'edp'
maintenance_work_mem = '256MB'
timezone = 'UTC'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE TABLE ev (k text, ts timestamptz);
SELECT edp.enable_rollup('ev', key => 'k', ts => 'ts', raw_index => 'none');
});
my $n = 4_300_000;
$node->safe_psql('postgres', qq{
INSERT INTO ev SELECT 'k' || (i % 1000), timestamptz '2024-01-01 00:00+00' + (i / 1000) * interval '1 hour'
  FROM generate_series(0, $n - 1) i});
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev'), $n, "one statement stored $n rows");
my $pairs = $node->safe_psql('postgres', q{
SELECT sum(pg_catalog.array_length(packed, 1)) FROM ev_edp_rollup});
cmp_ok($pairs, '>', 8 * 1024 * 1024, "its rollup rows hold $pairs values: more than one write");
is($node->safe_psql('postgres', 'SELECT count(*) FROM edp.verify_rollup(\'ev\')'), 0,
	'the rollup equals brute force');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT bucket_start, events FROM edp.bucket_counts('ev', 'k7'::text, '2024-01-01', '2024-07-01') WHERE events > 0
  EXCEPT
  SELECT date_trunc('hour', ts), count(*) FROM ev WHERE k = 'k7' GROUP BY 1) d}), 0,
	'bucket_counts of a key equals GROUP BY');
done_testing();
