# 005_ingest_jobs.pl -- background ingest jobs: NOTIFY progress to a listener,
# cancel, kill -9 of the worker mid-load and resume without duplicates,
# restart with the launcher, and the error without shared_preload_libraries.
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
restart_after_crash = on
# commit (and notify progress) after every batch; the default groups them
edp.ingest_commit_rows = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edp CASCADE');

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'edp launcher'"),
	'launcher runs');

my $dir = PostgreSQL::Test::Utils::tempdir;

# a CSV file of N rows: id,v
sub write_csv
{
	my ($name, $n) = @_;
	my $path = "$dir/$name";
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh "id,v\n";
	print $fh "$_,v$_\n" for 1 .. $n;
	close($fh);
	return $path;
}

$node->safe_psql('postgres', 'CREATE TABLE t (id integer PRIMARY KEY, v text)');

# --- a listener sees started -> progress -> succeeded
my $f300 = write_csv('t300.csv', 300);
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN edp_ingest');
my $job = $node->safe_psql('postgres',
	"SELECT edp.ingest_async('t', '$f300', batch_size => 100)");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $job", 'succeeded'),
	'async job succeeds');
# the job's commit is visible a moment before its notification is signalled:
# ask the listener until the last one has been printed
my $heard = '';
for my $attempt (1 .. 1000)
{
	$heard .= $listener->query_safe("SELECT 'listened'");
	last if $heard =~ /"event": "succeeded", "job_id": $job,/;
}
is_deeply([ $node->safe_psql('postgres',
		"SELECT string_agg(event, ' ' ORDER BY id) FROM edp.job_events WHERE job_id = $job") ],
	['queued started progress progress progress succeeded'],
	'ledger has queued, started, one progress per batch, succeeded');
like($heard, qr/"event": "started".*"event": "progress".*"event": "progress".*"event": "progress".*"event": "succeeded"/s,
	'listener received started -> progress -> succeeded live');
like($heard, qr/"event": "succeeded", "job_id": $job, "loaded": 300, "status": "succeeded", "rows_in": 300,/,
	'final notification carries the counts');

# --- edp.ingest_commit_rows groups batches into one transaction (one
# upkeep, one progress event) per that many rows
$node->safe_psql('postgres', 'ALTER SYSTEM SET edp.ingest_commit_rows = 150');
$node->reload;
my $grouped = $node->safe_psql('postgres',
	"SELECT edp.ingest_async('t', '$f300', batch_size => 100, force => true)");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $grouped", 'succeeded'),
	'grouped async job succeeds');
is($node->safe_psql('postgres',
		"SELECT string_agg(event, ' ' ORDER BY id) FROM edp.job_events WHERE job_id = $grouped"),
	'queued started progress progress succeeded',
	'batches of 100 rows commit per 150 rows or more: after rows 200 and 300');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET edp.ingest_commit_rows');
$node->reload;
$listener->quit;
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '300', 'rows loaded');

# the same file again is skipped by the worker
$job = $node->safe_psql('postgres', "SELECT edp.ingest_async('t', '$f300')");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $job", 'skipped'),
	're-ingest of the same file is skipped');

# --- a trigger that waits on an advisory lock the test holds stops a load
# at row 150: batches of 50 up to row 100 are committed by then
$node->safe_psql('postgres', q{
CREATE TABLE slow (id integer PRIMARY KEY, v text);
CREATE FUNCTION slow_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 150 THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER slow_gate BEFORE INSERT ON slow FOR EACH ROW EXECUTE FUNCTION slow_gate();
});
my $f400 = write_csv('t400.csv', 400);

sub gate_closed_job
{
	my $gate = $node->background_psql('postgres');
	$gate->query_safe('SELECT pg_advisory_lock(4242)');
	my $id = $node->safe_psql('postgres',
		"SELECT edp.ingest_async('slow', '$f400', batch_size => 50, force => true)");
	ok($node->poll_query_until('postgres', qq{
		SELECT j.loaded = 100 AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)
		  FROM edp.jobs j WHERE j.id = $id}),
		'worker committed two batches and waits inside the third');
	return ($id, $gate);
}

# cancel: takes effect after the current batch, committed batches stay
my ($cjob, $gate) = gate_closed_job();
is($node->safe_psql('postgres', "SELECT edp.cancel_job($cjob)"), 't', 'cancel requested');
$gate->query_safe('SELECT pg_advisory_unlock(4242)');
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $cjob", 'cancelled'),
	'running job is cancelled after its batch');
is($node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM slow) = loaded AND lines_done = 151 FROM edp.jobs WHERE id = $cjob"),
	't', 'a cancelled job accounts for its committed batches');
$gate->quit;
$node->safe_psql('postgres', 'TRUNCATE slow');

# kill -9 of the worker mid-load
my ($kjob, $gate2) = gate_closed_job();
my $pid = $node->safe_psql('postgres', "SELECT worker_pid FROM edp.jobs WHERE id = $kjob");
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
eval { $gate2->quit };
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $kjob", 'failed'),
	'after the crash, the launcher marks the job failed');
is($node->safe_psql('postgres',
		"SELECT loaded || ' ' || lines_done || ' ' || (SELECT count(*) FROM slow) FROM edp.jobs WHERE id = $kjob"),
	'100 101 100', 'no rows beyond the committed batches, and the ledger says so');
$node->safe_psql('postgres', "SELECT edp.resume_job($kjob)");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $kjob", 'succeeded'),
	'resumed job completes');
is($node->safe_psql('postgres',
		"SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || (SELECT loaded FROM edp.jobs WHERE id = $kjob) FROM slow"),
	'400 400 400', 'resume loaded the rest without duplicates');

# --- keep latest across a resume: the resumed run's newer versions replace
# rows the earlier run committed, which were the job's own rows, so they
# become the job's duplicates (loaded = the rows the table holds): the
# ledger keeps the (sub)transaction ids of the committed batches (the job's
# options, committed_xids) for the resumed run.
$node->safe_psql('postgres', q{
CREATE TABLE lat (id integer, ts integer, v text);
SELECT edp.enable_dedupe('lat', columns => '{id}', keep => 'latest', order_by => 'ts');
CREATE FUNCTION lat_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.v = 'gate' THEN PERFORM pg_advisory_xact_lock_shared(4243); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER lat_gate BEFORE INSERT ON lat FOR EACH ROW EXECUTE FUNCTION lat_gate();
});
my $flat = "$dir/lat.csv";
open(my $lfh, '>', $flat) or die "$flat: $!";
print $lfh "id,ts,v\n";
print $lfh "$_,1," . ($_ == 150 ? 'gate' : "v$_") . "\n" for 1 .. 200;
print $lfh "$_,2,newer$_\n" for 1 .. 10;
close($lfh);
my $gate3 = $node->background_psql('postgres');
$gate3->query_safe('SELECT pg_advisory_lock(4243)');
my $ljob = $node->safe_psql('postgres', "SELECT edp.ingest_async('lat', '$flat', batch_size => 50)");
ok($node->poll_query_until('postgres', qq{
	SELECT j.loaded = 100 AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)
	  FROM edp.jobs j WHERE j.id = $ljob}),
	'keep-latest job committed two batches and waits inside the third');
$node->safe_psql('postgres', "SELECT edp.cancel_job($ljob)");
$gate3->query_safe('SELECT pg_advisory_unlock(4243)');
ok($node->poll_query_until('postgres', "SELECT status FROM edp.jobs WHERE id = $ljob", 'cancelled'),
	'keep-latest job cancelled after its third batch');
$gate3->quit;
$node->safe_psql('postgres', "SELECT edp.resume_job($ljob)");
ok($node->poll_query_until('postgres', "SELECT status FROM edp.jobs WHERE id = $ljob", 'succeeded'),
	'resumed keep-latest job completes');
is($node->safe_psql('postgres',
		"SELECT count(*) || ' ' || count(*) FILTER (WHERE ts = 2) FROM lat"),
	'200 10', 'the newer versions replaced the earlier run\'s rows');
is($node->safe_psql('postgres',
		"SELECT loaded || ' ' || duplicates FROM edp.jobs WHERE id = $ljob"),
	'200 10', 'the replaced rows of the earlier run are the job\'s duplicates, not loaded rows');

# --- the server restarts cleanly with the launcher
$node->restart;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'edp launcher'"),
	'launcher back after restart');
is($node->safe_psql('postgres', "SELECT count(*) FROM edp.jobs WHERE status = 'running'"),
	'0', 'no job left running');
$node->stop;

# --- without shared_preload_libraries, background jobs say what is missing
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION edp CASCADE; CREATE TABLE t (id integer, v text)');
my ($ret, $stdout, $stderr) = $plain->psql('postgres', "SELECT edp.ingest_async('t', '$f300')");
like($stderr, qr/requires edp to be loaded via shared_preload_libraries/, 'ingest_async needs preloading');
is($plain->safe_psql('postgres', "SELECT loaded FROM edp.ingest('t', '$f300')"),
	'300', 'synchronous ingest works without preloading');
($ret, $stdout, $stderr) = $plain->psql('postgres', "SELECT edp.watch_inbox('$dir', 't')");
is($ret, 0, 'an inbox can be mapped without preloading');
like($stderr, qr/WARNING:  edp is not loaded via shared_preload_libraries: inbox ".*" is recorded but not watched/,
	'but watch_inbox warns that nothing will watch it');
is($plain->safe_psql('postgres', "SELECT state FROM edp.inbox_status"), 'not watched',
	'and inbox_status says so');
$plain->stop;

done_testing();
