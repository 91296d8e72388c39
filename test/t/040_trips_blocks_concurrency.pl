# 040_trips_blocks_concurrency.pl -- point blocks stay exact when two
# transactions change trips of the same cell at the same time
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('trips_blocks');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'edp'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edp CASCADE');

# 300 trips in one 0.002-degree cell (two blocks of origins there)
$node->safe_psql('postgres', q{
	SELECT edp.create_trips_table('tb');
	INSERT INTO tb (region, origin, destination, datetime, datasource)
	SELECT 'Prague', ST_SetSRID(ST_MakePoint(14.4201 + g * 1e-6, 50.0801), 4326),
	       ST_SetSRID(ST_MakePoint(14.4301, 50.0901 + g * 1e-6), 4326),
	       timestamp '2018-04-02 08:00' + g * interval '1 hour', 'c'
	  FROM generate_series(1, 300) g;
});

# the blocks hold exactly the table's points (multiset), for every kind
my $blocks_equal_table = q{
	WITH b AS (SELECT k.kind, p.x, p.y, p.x2, p.y2 FROM tb_point_blocks k, edp_internal.trip_block_points(k.kind, k.points) p),
	t AS (SELECT 1 AS kind, ST_X(origin) AS x, ST_Y(origin) AS y, 0::float8 AS x2, 0::float8 AS y2 FROM tb
	      UNION ALL SELECT 2, ST_X(destination), ST_Y(destination), 0, 0 FROM tb
	      UNION ALL SELECT 3, ST_X(origin), ST_Y(origin), ST_X(destination), ST_Y(destination) FROM tb)
	SELECT NOT EXISTS (SELECT * FROM b EXCEPT ALL SELECT * FROM t)
	   AND NOT EXISTS (SELECT * FROM t EXCEPT ALL SELECT * FROM b)
};
my $small_box_equals_brute = q{
	SELECT (SELECT sum(trips) FROM edp.weekly_trip_counts('tb', 14.42, 50.08, 14.44, 50.10, 'both'))
	     = (SELECT count(*) FROM tb WHERE ST_Intersects(origin, ST_MakeEnvelope(14.42, 50.08, 14.44, 50.10, 4326))
	                                  AND ST_Intersects(destination, ST_MakeEnvelope(14.42, 50.08, 14.44, 50.10, 4326)))
};
is($node->safe_psql('postgres', $blocks_equal_table), 't', 'blocks equal the table after the load');

# waits until a session waits for a lock on the point blocks
sub wait_for_blocks_lock
{
	return $node->poll_query_until('postgres', q{
		SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'tb_point_blocks'::regclass AND NOT granted)});
}

# two DELETEs of trips of the same cell (in different weeks, so that the
# rollups' rows do not make them wait): the second rewrites the cell only
# after the first has committed, so neither deletion is lost
my $a = $node->background_psql('postgres');
my $b = $node->background_psql('postgres');
$a->query_safe('BEGIN; DELETE FROM tb WHERE id = 1;');
$b->query_until(qr/sent/, "\\echo sent\nBEGIN; DELETE FROM tb WHERE id = 250;\n");
ok(wait_for_blocks_lock(), 'the second DELETE waits for the first transaction');
$a->query_safe('COMMIT');
$b->query_safe('COMMIT');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tb'), '298', 'both trips deleted');
is($node->safe_psql('postgres', $blocks_equal_table), 't', 'blocks equal the table after concurrent DELETEs');

# an INSERT into the cell (weeks later), then a DELETE there before the
# INSERT commits
$a->query_safe(q{BEGIN; INSERT INTO tb (region, origin, destination, datetime, datasource)
	SELECT region, origin, destination, datetime + interval '30 days', 'c2' FROM tb WHERE id <= 150;});
$b->query_until(qr/sent/, "\\echo sent\nBEGIN; DELETE FROM tb WHERE id IN (3, 260);\n");
ok(wait_for_blocks_lock(), 'the DELETE waits for the inserting transaction');
$a->query_safe('COMMIT');
$b->query_safe('COMMIT');
is($node->safe_psql('postgres', $blocks_equal_table), 't', 'blocks equal the table after INSERT and DELETE');

# two concurrent INSERTs into the cell: the second waits for the first's
# rewrite of the partly filled block, then keeps its own points apart
$a->query_safe(q{BEGIN; INSERT INTO tb (region, origin, destination, datetime, datasource)
	SELECT region, origin, destination, datetime + interval '2 days', 'c3' FROM tb WHERE id <= 50;});
$b->query_until(qr/sent/, "\\echo sent\nBEGIN; INSERT INTO tb (region, origin, destination, datetime, datasource)
	SELECT region, origin, destination, datetime + interval '3 days', 'c4' FROM tb WHERE id <= 70;\n");
ok($node->poll_query_until('postgres', 'SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)'),
	'the second INSERT waits for the first transaction');
$a->query_safe('COMMIT');
$b->query_safe('COMMIT');
is($node->safe_psql('postgres', $blocks_equal_table), 't', 'blocks equal the table after concurrent INSERTs');
is($node->safe_psql('postgres', $small_box_equals_brute), 't', 'a small box counts as brute force');

$a->quit;
$b->quit;
$node->stop;
done_testing();
