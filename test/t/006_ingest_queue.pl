# 006_ingest_queue.pl -- more background jobs than worker slots: eight
# edp.ingest_async calls from eight sessions, and eight in one transaction,
# all commit, wait in the queue and finish in the order of their ids; a
# queued job whose table was dropped fails naming the table's OID and the
# next jobs go on; jobs queued while other processes hold every slot start
# once a slot frees (the launcher), without a restart; a path is checked
# when the job is queued.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# 4 worker processes: the edp launcher and three slots for jobs
my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'edp'
edp.database = 'postgres'
edp.naptime = 50
max_worker_processes = 4
max_logical_replication_workers = 0
max_parallel_workers_per_gather = 0
});
$node->start;

# a gate the loads wait at: each row's trigger waits while gate.closed.
# The trigger also records the session state it finds and leaves some
# behind (a session-level search_path and setting): a worker runs several
# jobs, and each must start from a clean session.
$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE TABLE gate (closed boolean NOT NULL);
INSERT INTO gate VALUES (true);
CREATE FUNCTION wait_at_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a bounded wait: a gate the test never opens fails the row, loudly
    FOR i IN 1 .. 18000 LOOP EXIT WHEN NOT (SELECT closed FROM gate); PERFORM pg_sleep(0.01); END LOOP;
    IF (SELECT closed FROM gate) THEN RAISE EXCEPTION 'gate still closed after 3 minutes'; END IF;
    NEW.seen := current_setting('search_path') || '|' || coalesce(current_setting('edp_test.mark', true), '');
    PERFORM set_config('search_path', 'public, pg_catalog', false);
    PERFORM set_config('edp_test.mark', 'tainted', false);
    RETURN NEW;
END $$;
CREATE TABLE q (id integer, v text, seen text);
CREATE TRIGGER wait_at_gate BEFORE INSERT ON q FOR EACH ROW EXECUTE FUNCTION wait_at_gate();
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'edp launcher'"),
	'launcher runs');

my $dir = PostgreSQL::Test::Utils::tempdir;
my $nfile = 0;

# a new CSV file of 3 rows (its own ids, so no two files are the same input)
sub new_csv
{
	$nfile++;
	my $path = "$dir/f$nfile.csv";
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh "id,v\n";
	print $fh ($nfile * 10 + $_) . ",v\n" for 1 .. 3;
	close($fh);
	return $path;
}

sub status_counts
{
	my ($ids) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM "
		  . "(SELECT status, count(*) AS n FROM edp.jobs WHERE id IN ($ids) GROUP BY status) s");
}

# started in the order of the ids (claims are serialised), each once
sub in_order
{
	my ($ids) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(id::text, ',' ORDER BY started_at, id) = string_agg(id::text, ',' ORDER BY id)
       AND bool_and((SELECT count(*) FROM edp.job_events e WHERE e.job_id = j.id AND e.event = 'started') = 1)
  FROM edp.jobs j WHERE id IN ($ids)});
}

# --- eight sessions, one call each, while the gate holds the loads
$node->safe_psql('postgres', 'CREATE TABLE q_gone (id integer, v text, seen text)');
my @jobs;
my $stderr_all = '';
for my $i (1 .. 8)
{
	my $target = $i == 5 ? 'q_gone' : 'q';
	my $f = new_csv();
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT edp.ingest_async('$target', '$f')");
	is($ret, 0, "session $i: ingest_async commits") or diag($err);
	$stderr_all .= $err;
	push @jobs, $out;
}
my $ids = join(',', @jobs);
is($stderr_all, '', 'no error or warning for jobs beyond the free slots');
ok($node->poll_query_until('postgres',
		"SELECT count(*) FILTER (WHERE status = 'running') = 3 AND count(*) FILTER (WHERE status = 'queued') = 5 "
		  . "FROM edp.jobs WHERE id IN ($ids)"),
	'three jobs run (one per free slot), five wait queued');
is($node->safe_psql('postgres',
		"SELECT string_agg(id::text, ',' ORDER BY id) FROM edp.jobs WHERE id IN ($ids) AND status = 'running'"),
	join(',', @jobs[0 .. 2]), 'the three oldest run');

# the fifth job's table goes while it waits
my $gone_oid = $node->safe_psql('postgres', "SELECT 'q_gone'::regclass::oid");
$node->safe_psql('postgres', 'DROP TABLE q_gone');
$node->safe_psql('postgres', 'UPDATE gate SET closed = false');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 8 FROM edp.jobs WHERE id IN ($ids) AND status IN ('succeeded', 'failed')"),
	'all eight jobs end, with no restart');
is(status_counts($ids), 'failed 1, succeeded 7', 'seven succeeded, the one whose table was dropped failed');
like($node->safe_psql('postgres', "SELECT error FROM edp.jobs WHERE id = $jobs[4]"),
	qr/^the target table of ingest job $jobs[4] \(public\.q_gone, OID $gone_oid\) no longer exists$/,
	'its error names the job, the dropped table and its OID');
is(in_order($ids), 't', 'jobs started in the order of their ids, each once');
is($node->safe_psql('postgres', 'SELECT count(*) || \' \' || count(DISTINCT id) FROM q'),
	'21 21', 'every row of the seven files loaded once');

# --- eight in one transaction
$node->safe_psql('postgres', 'UPDATE gate SET closed = true');
my $sql = "BEGIN;\n";
$sql .= "SELECT edp.ingest_async('q', '" . new_csv() . "');\n" for 1 .. 8;
$sql .= "COMMIT;\n";
my ($ret, $out, $err) = $node->psql('postgres', $sql);
is($ret, 0, 'eight ingest_async calls in one transaction commit') or diag($err);
is($err, '', 'without an error or warning');
@jobs = split(/\n/, $out);
is(scalar(@jobs), 8, 'eight job ids');
$ids = join(',', @jobs);
ok($node->poll_query_until('postgres',
		"SELECT count(*) FILTER (WHERE status = 'running') = 3 AND count(*) FILTER (WHERE status = 'queued') = 5 "
		  . "FROM edp.jobs WHERE id IN ($ids)"),
	'three run, five wait');
$node->safe_psql('postgres', 'UPDATE gate SET closed = false');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 8 FROM edp.jobs WHERE id IN ($ids) AND status = 'succeeded'"),
	'all eight succeed');
is(in_order($ids), 't', 'in the order of their ids');
is($node->safe_psql('postgres', 'SELECT count(*) || \' \' || count(DISTINCT id) FROM q'),
	'45 45', 'and none is lost or loaded twice');
is($node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE seen = '\"\$user\", public|') || ' of ' || count(*) FROM q WHERE id % 10 = 1"),
	'15 of 15', 'every job found a clean session (sixteen jobs went through three workers)');

# --- every slot held by other processes (parallel query workers): the job
# waits queued, and the launcher starts it when a slot frees
$node->safe_psql('postgres', q{
UPDATE gate SET closed = true;
CREATE FUNCTION gate_open(integer) RETURNS boolean LANGUAGE plpgsql PARALLEL SAFE AS $$
BEGIN
    -- a bounded wait: a gate the test never opens fails the row, loudly
    FOR i IN 1 .. 18000 LOOP EXIT WHEN NOT (SELECT closed FROM gate); PERFORM pg_sleep(0.01); END LOOP;
    IF (SELECT closed FROM gate) THEN RAISE EXCEPTION 'gate still closed after 3 minutes'; END IF;
    RETURN true;
END $$;
CREATE TABLE big (id integer) WITH (parallel_workers = 3);
INSERT INTO big SELECT generate_series(1, 10000);
ANALYZE big;
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'edp ingest'"),
	'the job workers have ended with the queue');
my $holder = $node->background_psql('postgres');
$holder->query_until(qr/holding/, q{
SET max_parallel_workers_per_gather = 3;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
\echo holding
SELECT count(*) FROM big WHERE gate_open(id);
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'parallel worker'"),
	'three parallel workers hold every free slot');
$node->safe_psql('postgres', 'ALTER TABLE q DISABLE TRIGGER wait_at_gate');
my $late = $node->safe_psql('postgres', "SELECT edp.ingest_async('q', '" . new_csv() . "')");
is($node->safe_psql('postgres', "SELECT status FROM edp.jobs WHERE id = $late"), 'queued',
	'a job queued while no slot is free commits and waits');
$node->safe_psql('postgres', 'UPDATE gate SET closed = false');
ok($node->poll_query_until('postgres', "SELECT status FROM edp.jobs WHERE id = $late", 'succeeded'),
	'it starts once the parallel query ends and its slots free');
$holder->quit;

# --- the path is checked when the job is queued
my $missing = "$dir/no-such-file.csv";
($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT edp.ingest_async('q', '$missing')");
like($err, qr/ERROR:  58P01: could not open file "\Q$missing\E" for reading: No such file or directory/,
	'a missing file is an error at call time (58P01)');
like($err, qr/HINT:  The path is read on the database server/, 'with a hint');
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT edp.ingest_async('q', '$dir')");
like($err, qr/ERROR:  22023: "\Q$dir\E" is a directory/, 'a directory is refused (22023)');
my $unreadable = new_csv();
chmod(0000, $unreadable) or die $!;
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT edp.ingest_async('q', '$unreadable')");
like($err, qr/ERROR:  42501: could not open file .*Permission denied/, 'an unreadable file is refused (42501)');
is($node->safe_psql('postgres', "SELECT count(*) FROM edp.jobs WHERE source IN ('$missing', '$dir', '$unreadable')"),
	'0', 'and no job is recorded for them');

# --- inboxes are watched only in edp.database: elsewhere watch_inbox warns
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION edp CASCADE; CREATE TABLE t (id integer)');
($ret, $out, $err) = $node->psql('other', "SELECT edp.watch_inbox('$dir', 't')");
like($err, qr/WARNING:  inboxes are watched only in database "postgres": inbox ".*" is recorded but not watched/,
	'watch_inbox in another database warns that no launcher watches it');

$node->stop;
done_testing();
