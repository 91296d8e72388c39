# 056_async_dedupe_history.pl -- a background job of many transactions
# dedupes against its own earlier transactions and against other loads' rows,
# however they arrived (buckets/load_history.c)
#
# A job commits every edp.ingest_commit_rows rows.  From its second
# transaction on, it tells its own earlier rows (by their key fingerprints)
# from other loads' rows (by the rollup's slots, as long as no other
# transaction wrote the rollup row since the job did).  Each case below is
# checked against a plain mirror table holding every row sent: the edp table
# must hold exactly its distinct rows, the ledger must add up and count them,
# and the rollup must equal brute force.
#   1. duplicates spread over many transactions of one job;
#   2. rows already in the table (another load) that the job repeats;
#   3. rows another session commits between two of the job's transactions,
#      into rollup rows the job has written, and repeated by the job's later
#      transaction (the job is held inside that transaction by a trigger
#      waiting on an advisory lock the test holds);
#   4. the same, with the other session deleting one of the job's rows and
#      inserting a copy of a row the job sends later.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('async_dedupe_history');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'edp'
edp.database = 'postgres'
edp.naptime = 50
edp.ingest_commit_rows = 5
timezone = 'UTC'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE TABLE ev (customer_id text, event_type text, transaction_id uuid, ts timestamptz);
SELECT edp.enable_rollup('ev', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('ev', columns => '{customer_id,event_type,transaction_id,ts}');
-- every row sent to ev, by any path
CREATE TABLE sent (customer_id text, event_type text, transaction_id uuid, ts timestamptz);
});

my $dir = PostgreSQL::Test::Utils::tempdir;

# a deterministic generator (no dependence on Perl's rand between versions)
my $state = 20261202;
sub next_int { my ($n) = @_; $state = ($state * 1103515245 + 12345) % 2147483648; return $state % $n; }

# row i of the pool: few customers and hours, so rows share rollup slots;
# customers named after the prefix (a case of its own: rollup rows no other
# case wrote)
sub pool_row
{
	my ($i, $prefix) = @_;
	return sprintf("%s%d,t%d,00000000-0000-0000-0000-%012d,2024-05-%02d %02d:%02d:00+00",
		$prefix // 'c', $i % 4, $i % 2, $i, 1 + ($i % 3), ($i / 7) % 24, $i % 60);
}

sub write_csv
{
	my ($name, @ids) = @_;
	my $path = "$dir/$name.csv";
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh "customer_id,event_type,transaction_id,ts\n";
	print $fh pool_row($_), "\n" for @ids;
	close($fh);
	chmod 0644, $path;
	return $path;
}

sub run_job
{
	my ($path, %o) = @_;
	my $args = $o{batch_size} ? ", batch_size => $o{batch_size}" : '';
	my $job = $node->safe_psql('postgres', "SELECT edp.ingest_async('ev', '$path'$args, force => true)");
	return $job;
}

sub wait_job
{
	my ($job) = @_;
	$node->poll_query_until('postgres',
		"SELECT status IN ('succeeded', 'failed', 'cancelled') FROM edp.jobs WHERE id = $job")
	  or die "job $job did not end";
	return $node->safe_psql('postgres',
		"SELECT status || ' ' || rows_in || ' ' || loaded || ' ' || duplicates || ' ' || rejected FROM edp.jobs WHERE id = $job");
}

# the edp table against the mirror: same distinct rows, no key twice, rollup exact
sub check_table
{
	my ($label) = @_;
	my $r = $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM ev) || ' ' ||
       (SELECT count(*) FROM (SELECT DISTINCT * FROM sent) d) || ' ' ||
       (SELECT count(*) FROM ((SELECT DISTINCT * FROM sent) EXCEPT (SELECT * FROM ev)) m) || ' ' ||
       (SELECT count(*) FROM ((SELECT * FROM ev) EXCEPT (SELECT DISTINCT * FROM sent)) x) || ' ' ||
       (SELECT count(*) FROM edp.verify_rollup('ev'))
});
	my ($stored, $distinct, $missing, $extra, $rollup_bad) = split / /, $r;
	is($stored, $distinct, "$label: the table holds each distinct row sent once ($distinct)");
	is("$missing $extra", '0 0', "$label: no row missing, none extra");
	is($rollup_bad, 0, "$label: the rollup equals brute force");
}

sub send_mirror
{
	my ($path) = @_;
	$node->safe_psql('postgres', "COPY sent FROM '$path' (FORMAT csv, HEADER)");
}

# --- 1. duplicates spread over the job's own transactions
{
	my @ids = map { next_int(120) } 1 .. 400;
	my $path = write_csv('spread', @ids);
	send_mirror($path);
	my %seen;
	my $distinct = grep { !$seen{$_}++ } @ids;
	my $res = wait_job(run_job($path, batch_size => 3));
	is($res, "succeeded 400 $distinct " . (400 - $distinct) . ' 0',
		'1. the ledger counts the distinct rows as loaded, the rest as duplicates');
	check_table('1. own transactions');
}

# --- 2. rows another load stored before, repeated by the job
{
	my @before = map { 1000 + next_int(80) } 1 .. 60;
	my $p0 = write_csv('before', @before);
	send_mirror($p0);
	$node->safe_psql('postgres', "COPY ev FROM '$p0' (FORMAT csv, HEADER)");
	my @ids = map { 1000 + next_int(160) } 1 .. 300;
	my $path = write_csv('repeats', @ids);
	send_mirror($path);
	my %had = map { $_ => 1 } @before;
	my %seen;
	my $new = grep { !$had{$_} && !$seen{$_}++ } @ids;
	my $res = wait_job(run_job($path, batch_size => 4));
	is($res, "succeeded 300 $new " . (300 - $new) . ' 0',
		'2. rows another load stored first are the job\'s duplicates');
	check_table('2. rows of another load');
}

# --- 3 and 4. another session writes between two of the job's transactions
#
# The job's rows are ids 2000.. in order; the row with id $hold fires a
# trigger that waits on advisory lock 56 (held here), after the job's first
# transactions have committed.  Meanwhile another session commits rows the
# job sends after $hold (case 3), or deletes a row the job committed and
# inserts a copy of a later one (case 4), into rollup rows the job wrote.
$node->safe_psql('postgres', q{
CREATE FUNCTION hold_job() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.transaction_id IN ('00000000-0000-0000-0000-000000099903', '00000000-0000-0000-0000-000000099904') THEN
        PERFORM pg_catalog.pg_advisory_lock(56);
        PERFORM pg_catalog.pg_advisory_unlock(56);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_job BEFORE INSERT ON ev FOR EACH ROW EXECUTE FUNCTION hold_job();
});
for my $case (3, 4)
{
	my $base = $case * 10000;
	# 40 rows in four customers of the case's own and few hours; the holder
	# after row 20
	my @first = map { $base + $_ } 0 .. 19;
	my @later = map { $base + $_ } 20 .. 39;
	my $path = "$dir/held$case.csv";
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh "customer_id,event_type,transaction_id,ts\n";
	print $fh pool_row($_, "h$case-"), "\n" for @first;
	# the holder: a row of its own (customer c0), loaded like any other
	print $fh "h$case-0,t0,00000000-0000-0000-0000-00000009990$case,2024-05-01 00:30:00+00\n";
	print $fh pool_row($_, "h$case-"), "\n" for @later;
	close($fh);
	chmod 0644, $path;
	send_mirror($path);

	my $lock = $node->background_psql('postgres');
	$lock->query_safe('SELECT pg_advisory_lock(56)');
	my $job = run_job($path, batch_size => 2);
	# the job waits inside a later transaction: its first ones have committed
	ok($node->poll_query_until('postgres', q{
SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND objid = 56 AND NOT granted)}),
		"$case. the job is held in a later transaction");
	cmp_ok($node->safe_psql('postgres', "SELECT loaded FROM edp.jobs WHERE id = $job"), '>', 0,
		"$case. the job's first transactions have committed");

	# rows of the job's later transactions, committed first by another session
	my @copies = grep { $_ % 3 == 0 } @later;
	my $values = join(', ', map { my @f = split /,/, pool_row($_, "h$case-"); "('$f[0]', '$f[1]', '$f[2]', '$f[3]')" } @copies);
	my $other = "INSERT INTO ev VALUES $values; INSERT INTO sent VALUES $values;";
	if ($case == 4)
	{
		# and a row the job committed goes (from the table and from the mirror)
		my @f = split /,/, pool_row($first[1], "h$case-");
		$other = "DELETE FROM ev WHERE transaction_id = '$f[2]'; DELETE FROM sent WHERE transaction_id = '$f[2]'; $other";
	}
	$node->safe_psql('postgres', "BEGIN; $other COMMIT;");
	$lock->query_safe('SELECT pg_advisory_unlock(56)');
	$lock->quit;
	my $res = wait_job($job);
	like($res, qr/^succeeded 41 /, "$case. the job succeeded");
	my ($status, $in, $loaded, $dups, $rej) = split / /, $res;
	is($loaded + $dups + $rej, $in, "$case. rows in = loaded + duplicates + rejected");
	is($dups, scalar @copies, "$case. the rows the other session committed first are the job's duplicates");
	check_table("$case. another session between the job's transactions");
}

done_testing();
