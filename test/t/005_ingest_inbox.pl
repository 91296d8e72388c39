# 005_ingest_inbox.pl -- a watched inbox: a file renamed in lands and moves
# to done/, a bad one to failed/ with its reason, a file still being written
# (temporary name) is never read; every step is in the ledger.  The inbox's
# state in edp.inbox_status (an error logged once), the checks of
# watch_inbox, unreadable and read-only files, reason files readable as the
# inbox is, a same-name file while another is loading, and crashes
# (immediate shutdown, kill -9 of the worker) during an inbox load: the
# file's final place and the ledger agree.
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
edp.ingest_commit_rows = 0
restart_after_crash = on
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

is($node->safe_psql('postgres', "SELECT state || ' ' || coalesce(last_error, '-') FROM edp.inbox_status WHERE directory = '$inbox'"),
	'watching -', 'inbox_status: the inbox is watched, no error');

# --- watch_inbox checks the directory when it is called
my $base = PostgreSQL::Test::Utils::tempdir;
sub psql_err
{
	my ($sql) = @_;
	my ($r, $o, $e) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return $e;
}
like(psql_err("SELECT edp.watch_inbox('$base/missing', 'readings')"),
	qr/ERROR:  58P01: could not use "\Q$base\E\/missing" as an inbox: No such file or directory\n.*HINT:  The directory is on the database server/s,
	'a missing directory is refused (58P01, with a hint)');
open(my $plainfile, '>', "$base/plain") or die $!;
close($plainfile);
like(psql_err("SELECT edp.watch_inbox('$base/plain', 'readings')"),
	qr/ERROR:  22023: inbox "\Q$base\E\/plain" is not a directory/, 'a file is refused (22023)');
mkdir("$base/readonly") or die $!;
chmod(0555, "$base/readonly") or die $!;
like(psql_err("SELECT edp.watch_inbox('$base/readonly', 'readings')"),
	qr/ERROR:  42501: the database server may not read and write inbox directory .*\n.*HINT:  Give the server's operating-system user/s,
	'a directory the server cannot write is refused (42501)');
is($node->safe_psql('postgres', "SELECT count(*) FROM edp.inboxes WHERE directory LIKE '$base/%'"), '0',
	'none of them is mapped');

# --- a directory that goes away: state error, one log line, then back
my $second = "$base/second";
mkdir($second) or die $!;
chmod(0750, $second) or die $!;
$node->safe_psql('postgres', "SELECT edp.watch_inbox('$second', 'readings')");
ok($node->poll_query_until('postgres', "SELECT state FROM edp.inbox_status WHERE directory = '$second'", 'watching'),
	'the second inbox is watched');
my $log_offset = -s $node->logfile;
rename($second, "$base/moved") or die $!;
ok($node->poll_query_until('postgres', "SELECT state FROM edp.inbox_status WHERE directory = '$second'", 'error'),
	'a vanished directory puts the inbox in state error');
like($node->safe_psql('postgres', "SELECT last_error FROM edp.inbox_status WHERE directory = '$second'"),
	qr/^could not open inbox directory "\Q$second\E": No such file or directory$/, 'the last error says why');
# two files through the first inbox: several scans of both have passed since
drop_file('later1.csv', "sensor,value\ns4,4\n");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE source LIKE '%/later1.csv'", 'succeeded'),
	'the other inbox goes on');
drop_file('later2.csv', "sensor,value\ns5,5\n");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE source LIKE '%/later2.csv'", 'succeeded'),
	'and on');
my @lines = grep { /edp inbox "\Q$second\E" is not watched/ } split(/\n/, slurp_file($node->logfile, $log_offset));
is(scalar(@lines), 1, 'the error is logged once, not at every scan');
rename("$base/moved", $second) or die $!;
ok($node->poll_query_until('postgres', "SELECT state || ' ' || coalesce(last_error, '-') FROM edp.inbox_status WHERE directory = '$second'", 'watching -'),
	'back to watching when the directory is back');

# --- a file the server can read but not write is loaded; one it cannot
# read fails with its reason (a ledger row and a failed/ entry), once
sub drop_in
{
	my ($d, $name, $content, $mode) = @_;
	open(my $fh, '>', "$d/.$name") or die $!;
	print $fh $content;
	close($fh);
	chmod($mode, "$d/.$name") or die $!;
	rename("$d/.$name", "$d/$name") or die $!;
}
drop_in($second, 'readonly.csv', "sensor,value\nr1,1\n", 0444);
drop_in($second, 'secret.csv', "sensor,value\nx1,1\n", 0000);
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM edp.jobs WHERE source LIKE '$second/%' AND status IN ('succeeded', 'failed')"),
	'both files were claimed');
is($node->safe_psql('postgres',
		"SELECT string_agg(regexp_replace(source, '^.*/', '') || ' ' || status || ' ' || loaded, ', ' ORDER BY source) FROM edp.jobs WHERE source LIKE '$second/%'"),
	'readonly.csv succeeded 1, secret.csv failed 0', 'the read-only file loaded, the unreadable one failed');
like($node->safe_psql('postgres', "SELECT error FROM edp.jobs WHERE source LIKE '$second/%secret.csv'"),
	qr/could not open file .*secret\.csv" for reading: Permission denied/, 'the ledger says why');
ok($node->poll_query_until('postgres',
		"SELECT (pg_stat_file('$second/failed/secret.csv.reason', true)).size IS NOT NULL"),
	'the unreadable file is in failed/ with its reason');
ok(-f "$second/done/readonly.csv", 'the read-only file is in done/');
like(slurp_file("$second/failed/secret.csv.reason"), qr/Permission denied/, 'the reason file says why');
is(sprintf('%04o', (stat("$second/failed"))[2] & 07777), '0750', 'failed/ has the inbox\'s permissions');
is(sprintf('%04o', (stat("$second/failed/secret.csv.reason"))[2] & 07777), '0640',
	'the reason file is readable by whoever can read the inbox');

# a file that cannot be moved out of the inbox (the directory is no longer
# writable): the inbox's state says why, logged once, and the file is taken
# once the directory is writable again
drop_in($second, 'stuck.csv', "sensor,value\nk1,1\n", 0644);
$log_offset = -s $node->logfile;
chmod(0550, $second) or die $!;
ok($node->poll_query_until('postgres', "SELECT state FROM edp.inbox_status WHERE directory = '$second'", 'error'),
	'an inbox whose file cannot be moved is in state error');
like($node->safe_psql('postgres', "SELECT last_error FROM edp.inbox_status WHERE directory = '$second'"),
	qr/^the database server may not move files out of inbox directory "\Q$second\E": Permission denied$/,
	'the last error says why');
drop_file('later3.csv', "sensor,value\ns6,6\n");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE source LIKE '%/later3.csv'", 'succeeded'),
	'meanwhile the other inbox goes on');
@lines = grep { /edp inbox "\Q$second\E" is not watched/ } split(/\n/, slurp_file($node->logfile, $log_offset));
is(scalar(@lines), 1, 'logged once, not at every scan');
is($node->safe_psql('postgres', "SELECT count(*) FROM edp.jobs WHERE source LIKE '$second/%stuck.csv'"), '0',
	'no job is left behind by the failed claims');
chmod(0750, $second) or die $!;
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE source LIKE '$second/%stuck.csv'", 'succeeded'),
	'once the directory is writable again the file is taken and loaded');
is($node->safe_psql('postgres', "SELECT state FROM edp.inbox_status WHERE directory = '$second'"), 'watching',
	'and the inbox is watched again');

# --- crashes during an inbox load.  The loads wait at a gate (a table, so
# that it outlives restarts) on every row whose id ends in 4; batches of
# 2 rows, each committed.
$node->safe_psql('postgres', q{
CREATE TABLE gate (closed boolean NOT NULL);
INSERT INTO gate VALUES (true);
CREATE FUNCTION wait_at_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id % 10 = 4 THEN
        -- a bounded wait: a gate the test never opens fails the row, loudly
        FOR i IN 1 .. 18000 LOOP EXIT WHEN NOT (SELECT closed FROM gate); PERFORM pg_sleep(0.01); END LOOP;
        IF (SELECT closed FROM gate) THEN RAISE EXCEPTION 'gate still closed after 3 minutes'; END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TABLE slow (id integer, v text);
CREATE TRIGGER wait_at_gate BEFORE INSERT ON slow FOR EACH ROW EXECUTE FUNCTION wait_at_gate();
});
my $crash = "$base/crash";
mkdir($crash) or die $!;
$node->safe_psql('postgres', qq{SELECT edp.watch_inbox('$crash', 'slow', options => '{"batch_size": 2}')});
sub rows_csv
{
	my (@ids) = @_;
	return "id,v\n" . join('', map { "$_,v$_\n" } @ids);
}
sub job_of
{
	my ($like) = @_;
	return $node->safe_psql('postgres', "SELECT max(id) FROM edp.jobs WHERE source LIKE '$crash/$like'");
}
sub waits_at_gate
{
	my ($job) = @_;
	return $node->poll_query_until('postgres', qq{
SELECT j.status = 'running' AND j.loaded = 2
       AND EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = j.worker_pid AND a.wait_event = 'PgSleep')
  FROM edp.jobs j WHERE j.id = $job});
}

drop_in($crash, 'data.csv', rows_csv(1 .. 5), 0644);
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM edp.jobs WHERE source LIKE '$crash/%'"),
	'the file is claimed');
my $first = job_of('%data.csv');
ok(waits_at_gate($first), 'its load committed one batch and waits inside the second');
like($node->safe_psql('postgres', "SELECT source FROM edp.jobs WHERE id = $first"),
	qr{^\Q$crash\E/processing/$first/data\.csv$}, 'the file waits in processing/<job id>/');

# a new file of the same name is taken at once, and keeps its own outcome
drop_in($crash, 'data.csv', rows_csv(11 .. 13), 0644);
ok($node->poll_query_until('postgres', "SELECT count(*) = 2 FROM edp.jobs WHERE source LIKE '$crash/%data.csv'"),
	'a same-name file is claimed while the first still loads');
my $same = job_of('%data.csv');
ok($node->poll_query_until('postgres', "SELECT status FROM edp.jobs WHERE id = $same", 'succeeded'),
	'and loads');
ok(-f "$crash/done/data.csv" && -f "$crash/processing/$first/data.csv", 'it is in done/, the first still in processing/');

# immediate shutdown: after the restart the job is retried once, after its
# committed batch, and the file stays in processing/ meanwhile
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres',
		"SELECT string_agg(event, ' ' ORDER BY id) FROM edp.job_events WHERE job_id = $first",
		'queued started progress failed queued started'),
	'after the restart, the job failed (its worker died) and is queued again');
ok(waits_at_gate($first), 'the retry continues after the committed batch and reaches the gate again');
$node->safe_psql('postgres', 'UPDATE gate SET closed = false');
ok($node->poll_query_until('postgres', "SELECT status FROM edp.jobs WHERE id = $first", 'succeeded'),
	'with the gate open the retried job succeeds');
ok($node->poll_query_until('postgres', "SELECT (pg_stat_file('$crash/done/data.csv.1', true)).size IS NOT NULL"),
	'its file is in done/ (beside the same-name file, under a new name)');
is(slurp_file("$crash/done/data.csv.1"), rows_csv(1 .. 5), 'the right file');
is($node->safe_psql('postgres',
		"SELECT (SELECT loaded FROM edp.jobs WHERE id = $first) || ' ' || count(*) || ' ' || count(DISTINCT id) FROM slow WHERE id < 10"),
	'5 5 5', 'the ledger and the table agree: every row once');
ok(!-e "$crash/processing/$first", 'nothing is left in processing/');

# kill -9 of the worker, twice: the retry fails the same way and the file
# goes to failed/ with the reason
$node->safe_psql('postgres', 'UPDATE gate SET closed = true');
drop_in($crash, 'twice.csv', rows_csv(21 .. 25), 0644);
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM edp.jobs WHERE source LIKE '$crash/%twice.csv'"),
	'the second file is claimed');
my $twice = job_of('%twice.csv');
for my $round (1, 2)
{
	ok(waits_at_gate($twice), "round $round: the load waits at the gate");
	my $pid = $node->safe_psql('postgres', "SELECT worker_pid FROM edp.jobs WHERE id = $twice");
	$log_offset = -s $node->logfile;
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
}
ok($node->poll_query_until('postgres',
		"SELECT (pg_stat_file('$crash/failed/twice.csv.reason', true)).size IS NOT NULL"),
	'after the second crash the file is in failed/ with its reason');
is($node->safe_psql('postgres', "SELECT status || ' ' || loaded FROM edp.jobs WHERE id = $twice"),
	'failed 2', 'the job failed with its committed batch');
like(slurp_file("$crash/failed/twice.csv.reason"),
	qr/background worker ended without finishing it.*failed this way again after its retry/s,
	'the reason says the worker died again after its retry');
is($node->safe_psql('postgres', "SELECT count(*) || ' ' || count(DISTINCT id) FROM slow WHERE id BETWEEN 20 AND 29"),
	'2 2', 'the table has exactly the committed batch');
ok(!-e "$crash/processing/$twice", 'nothing is left in processing/');

# a claim that never committed (its job is not in the ledger) is returned
# to the inbox at the next start, and taken again
$node->safe_psql('postgres', 'UPDATE gate SET closed = false');
$node->stop;
mkdir("$crash/processing/999999") or die $!;
open(my $orphan, '>', "$crash/processing/999999/orphan.csv") or die $!;
print $orphan rows_csv(31, 32);
close($orphan);
$node->start;
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE source LIKE '$crash/%orphan.csv'", 'succeeded'),
	'a file in processing/ without a job goes back to the inbox and is loaded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM slow WHERE id BETWEEN 30 AND 39'), '2', 'once');

$node->stop;
done_testing();
