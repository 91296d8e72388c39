# 071_reject_abort.pl -- a synchronous load that passes its reject limit keeps
# its job and rejects through a dynamic background worker ("edp keep
# rejects"), without shared_preload_libraries: the error names the kept job,
# the worker's commit sends the failed notification, the rejects equal the
# input's bad lines (oracle computed here) up to the cap of 10,000 rows.
# When no worker can start (max_worker_processes = 0) the load fails as it
# always did, with a WARNING.  A worker that cannot finish -- waiting for a
# lock its own caller holds -- is reported, never waited on forever: killed,
# it is reported at once; left alone, its lock_timeout ends it; a cancel of
# the caller ends the wait and the worker.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
# no shared_preload_libraries: dynamic workers load the library themselves
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE TABLE t (id integer PRIMARY KEY, v integer NOT NULL);
});

# $n rows; each row i with i % $every == 0 has a bad integer
sub input
{
	my ($n, $every) = @_;
	my $data = "id,v\n";
	my @bad;
	for my $i (1 .. $n)
	{
		if ($i % $every == 0) { $data .= "$i,x$i\n"; push @bad, [ $i + 1, "$i,x$i" ]; }
		else { $data .= "$i,$i\n"; }
	}
	return ($data, \@bad);
}

sub kept_jobs
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM edp.jobs WHERE target = 't'::regclass");
}

# --- the error names a job that the worker committed, with every reject
my ($data, $bad) = input(3000, 7);
my ($rc, $out, $err) = $node->psql('postgres', qq{
LISTEN edp_ingest;
SELECT edp.ingest_data('t', '$data', reject_limit => 10);
SELECT 1;
}, on_error_stop => 0);
like($err, qr/ERROR:  ingest job (\d+) rejected 428 rows, more than its reject limit of 10/,
	'the load fails with the reject limit error');
my ($job) = $err =~ /ingest job (\d+) rejected/;
like($err, qr/it is kept as failed job $job, with its rejects/, 'the detail names the kept job');
like($err, qr/edp\.rejects \(job_id = $job\)/, 'the hint says where its rejects are');
like($out, qr/Asynchronous notification "edp_ingest" with payload "\{"event": "failed", "job_id": $job,[^\n]*"sqlstate": "22000"/,
	'the worker\'s commit sent the failed notification, with the SQLSTATE');
is($node->safe_psql('postgres', "SELECT status || ' ' || rows_in || ' ' || loaded || ' ' || rejected FROM edp.jobs WHERE id = $job"),
	'failed 3000 2572 428', 'the kept job has the load\'s counts');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '0', 'the load rolled back');
is($node->safe_psql('postgres', "SELECT string_agg(line || ':' || raw_line, '|' ORDER BY line) FROM edp.rejects WHERE job_id = $job"),
	join('|', map { "$_->[0]:$_->[1]" } @$bad), 'its rejects are exactly the bad lines, raw');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'edp keep rejects'"),
	'0', 'the worker is gone');

# --- more than 10,000 rejects: the first 10,000 are kept, and the job says so
($data, $bad) = input(12000, 1);
($rc, $out, $err) = $node->psql('postgres',
	"SELECT edp.ingest_data('t', '$data', reject_limit => 0, batch_size => 20000)");
($job) = $err =~ /ingest job (\d+) rejected/;
like($err, qr/it is kept as failed job $job, with the first 10000 of its 12000 rejects/,
	'the detail says how many rejects were kept');
is($node->safe_psql('postgres', "SELECT count(*) || ' ' || min(line) || ' ' || max(line) FROM edp.rejects WHERE job_id = $job"),
	'10000 2 10001', 'the first 10,000 rejects in line order');
like($node->safe_psql('postgres', "SELECT error FROM edp.jobs WHERE id = $job"),
	qr/edp\.rejects keeps the first 10000 of its 12000 rejects/, 'the job\'s error says so too');
$node->safe_psql('postgres', 'DELETE FROM edp.jobs');

# --- a worker that cannot record: the caller holds a lock the worker needs
($data, $bad) = input(20, 2);
my $load = "SELECT edp.ingest_data('t', '$data', reject_limit => 0);";

sub blocked_load
{
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/locked/,
		"BEGIN;\nLOCK TABLE edp.jobs IN EXCLUSIVE MODE;\n\\echo locked\n$load\n");
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'edp keep rejects' AND wait_event_type = 'Lock'}),
		'the worker waits for the lock its caller holds');
	return $bg;
}

sub end_blocked_load
{
	my ($bg) = @_;
	$bg->query('ROLLBACK');
	my $stderr = $bg->{stderr};
	$bg->quit;
	return $stderr;
}

# killed: reported at once
my $bg = blocked_load();
$node->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'edp keep rejects'});
$err = end_blocked_load($bg);
like($err, qr/WARNING:  the job and the rejects of the failed load could not be kept/,
	'a killed worker: the caller warns');
like($err, qr/ERROR:  ingest job \d+ rejected 10 rows/, 'and fails with its reject limit error');
is(kept_jobs(), '0', 'nothing is kept');

# left alone: its lock_timeout ends it, and the caller goes on
$bg = blocked_load();
$err = end_blocked_load($bg);
like($err, qr/WARNING:  the job and the rejects of the failed load could not be kept.*ERROR:  ingest job \d+ rejected 10 rows/s,
	'a worker that cannot get its lock gives up; the caller warns and fails');
is(kept_jobs(), '0', 'nothing is kept');

# the caller cancelled while it waits: the wait and the worker end
$bg = blocked_load();
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE wait_event = 'BgWorkerShutdown' AND backend_type = 'client backend'}),
	'the caller waits for its worker');
$node->safe_psql('postgres', q{
SELECT pg_cancel_backend(pid) FROM pg_stat_activity
 WHERE wait_event = 'BgWorkerShutdown' AND backend_type = 'client backend'});
$err = end_blocked_load($bg);
like($err, qr/ERROR:  canceling statement due to user request/, 'the caller is cancelled');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'edp keep rejects'"),
	'its worker ends too');
is(kept_jobs(), '0', 'nothing is kept');

# --- no worker slot: the load fails as it always did, with a WARNING
$node->append_conf('postgresql.conf', 'max_worker_processes = 0');
$node->restart;
($rc, $out, $err) = $node->psql('postgres', $load);
like($err, qr/WARNING:  the job and the rejects of the failed load could not be kept\nDETAIL:  No background worker slot is free/,
	'no worker slot: a WARNING says why');
like($err, qr/ERROR:  ingest job \d+ rejected 10 rows, more than its reject limit of 0/,
	'and the load fails with its reject limit error');
is(kept_jobs(), '0', 'nothing is kept');

$node->stop;
done_testing();
