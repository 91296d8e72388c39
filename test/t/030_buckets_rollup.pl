# 030_buckets_rollup.pl -- the rollup equals a brute-force count on 1M generated events
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('buckets');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'edp'");
$node->append_conf('postgresql.conf', "max_wal_size = '4GB'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edp CASCADE');

# 1M events, 10k customers over one year, customer 0 holds ~10% of them,
# loaded in four statements after the rollup is enabled
$node->safe_psql('postgres', q{
	CREATE TABLE events (id bigint, customer_id bigint, event_type text, event_ts timestamptz);
	SELECT edp.enable_rollup('events', key => 'customer_id', ts => 'event_ts');
});
for my $batch (0 .. 3)
{
	my $lo = $batch * 250000 + 1;
	my $hi = $lo + 249999;
	$node->safe_psql('postgres', qq{
		INSERT INTO events
		SELECT g,
		       CASE WHEN hashint8(g) % 10 = 0 THEN 0 ELSE abs(hashint8(g * 7)) % 10000 END,
		       'type' || abs(hashint8(g * 13)) % 8,
		       '2024-01-01 00:00+00'::timestamptz + (abs(hashint8(g * 31)) % 31622400000000) * interval '1 microsecond'
		  FROM generate_series($lo, $hi) g
	});
}
# DELETE and UPDATE in bulk
$node->safe_psql('postgres', q{
	DELETE FROM events WHERE id % 97 = 0;
	UPDATE events SET event_ts = event_ts + interval '45 minutes' WHERE id % 89 = 0;
});

is($node->safe_psql('postgres', 'SELECT count(*) FROM events'), '989691', '1M events loaded, some deleted');
is($node->safe_psql('postgres', q{SELECT count(*) FROM edp.verify_rollup('events')}),
	'0', 'rollup equals the brute-force count in every (key, bucket)');
is($node->safe_psql('postgres', q{SELECT sum(u.events) = (SELECT count(*) FROM events) FROM events_edp_rollup r, edp.rollup_buckets(r.chunk_start, '1 hour', r.packed) u}),
	't', 'rollup total equals the row count');
is($node->safe_psql('postgres', q{SELECT count(*) > 80000 FROM events WHERE customer_id = 0}),
	't', 'customer 0 is the hot one');

# the SRF (rollup + raw edges) equals brute force for the hot and a typical customer
for my $key (0, 4242)
{
	is($node->safe_psql('postgres', qq{
		SELECT array_agg(events ORDER BY bucket_start)
		     = (SELECT array_agg(coalesce(n, 0) ORDER BY s)
		          FROM edp.bucket_series('2024-02-03 04:05:06+00', '2024-11-30 00:00+00') s
		          LEFT JOIN (SELECT date_trunc('hour', event_ts) AS b, count(*) AS n FROM events
		                      WHERE customer_id = $key AND event_ts >= '2024-02-03 04:05:06+00'
		                        AND event_ts < '2024-11-30 00:00+00' GROUP BY 1) x ON x.b = s)
		  FROM edp.bucket_counts('events', ${key}::bigint, '2024-02-03 04:05:06+00', '2024-11-30 00:00+00')
	}), 't', "bucket_counts equals brute force for customer $key");
}

# dedupe of a large batch of duplicates (the hash-join path, > 10000 candidates)
$node->safe_psql('postgres', q{
	CREATE TABLE dup (customer_id bigint, event_type text, transaction_id uuid, event_ts timestamptz);
	SELECT edp.enable_rollup('dup', key => 'customer_id', ts => 'event_ts');
	SELECT edp.enable_dedupe('dup', columns => '{customer_id,event_ts,event_type,transaction_id}');
	CREATE TABLE dup_src AS
	SELECT g % 100 AS customer_id, 'type' || g % 3 AS event_type, md5(g::text)::uuid AS transaction_id,
	       '2024-01-01 00:00+00'::timestamptz + g * interval '1 minute' AS event_ts
	  FROM generate_series(1, 30000) g;
	INSERT INTO dup SELECT * FROM dup_src;
	INSERT INTO dup SELECT * FROM dup_src UNION ALL SELECT * FROM dup_src;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM dup'), '30000',
	'30000 events loaded three times stay 30000');
is($node->safe_psql('postgres', q{SELECT count(*) FROM edp.verify_rollup('dup')}), '0',
	'rollup exact after dedupe of a large batch');

$node->stop;
done_testing();
