# 070_copy_quarantine.pl -- COPY ... WITH (ON_ERROR 'quarantine') from a client:
# psql's \copy streams a file as a role that only has INSERT (no superuser, no
# server file), the loaded rows and the rejects equal what the input says
# (oracle computed here), the command tag counts the rows loaded, the NOTICE
# names the job; pg_stat_progress_copy shows bytes and rows of a synchronous
# COPY and of a background job while they run.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'edp'
edp.database = 'postgres'
edp.naptime = 50
# background jobs commit (and notify progress) after every batch
edp.ingest_commit_rows = 0
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE ROLE regress_edp_alice LOGIN;
CREATE TABLE t (id integer PRIMARY KEY, v integer NOT NULL, note text);
GRANT INSERT ON t TO regress_edp_alice;
});

my $dir = PostgreSQL::Test::Utils::tempdir;

# N rows with a header; every 100th row has a bad integer, every 250th (not
# also a 100th) an empty NOT NULL column, every 333rd a copy of row 1's key
my $n = 20000;
my (%bad_line, $good, $sum);
open(my $fh, '>', "$dir/in.csv") or die $!;
print $fh "id,v,note\n";
for my $i (1 .. $n)
{
	my $line = $i + 1;
	if ($i % 100 == 0) { print $fh "$i,x$i,bad\n"; $bad_line{$line} = '22P02'; }
	elsif ($i % 250 == 0) { print $fh "$i,,empty\n"; $bad_line{$line} = '23502'; }
	elsif ($i % 333 == 0) { print $fh "1,$i,copy\n"; $bad_line{$line} = '23505'; }
	else { print $fh "$i,$i,\"quoted, $i\"\n"; $good++; $sum += $i; }
}
close($fh);
my $nbad = scalar(keys %bad_line);

# psql as alice, with the command tags and notices (not -q)
sub psql_as_alice
{
	my ($cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-d', $node->connstr('postgres') . ' user=regress_edp_alice',
		'-c', $cmd ], '>', \$out, '2>', \$err);
	return ($out, $err);
}

my ($out, $err) = psql_as_alice(
	"\\copy t from '$dir/in.csv' with (format csv, header, on_error 'quarantine', reject_limit 1000)");
like($out, qr/^COPY $good$/m, "the command tag counts the $good rows loaded");
like($err, qr/NOTICE:  COPY into "t": $good rows loaded, $nbad rejected, 0 duplicates/,
	'the NOTICE gives loaded, rejected and duplicates');
my ($job) = $err =~ /The load is edp job (\d+)/;
ok(defined $job, 'the NOTICE names the job');
is($node->safe_psql('postgres', 'SELECT count(*), sum(id) FROM t WHERE v = id'),
	"$good|$sum", 'exactly the good rows loaded');
is($node->safe_psql('postgres',
		"SELECT owner::text, source, status, rows_in, loaded, rejected FROM edp.jobs WHERE id = $job"),
	"regress_edp_alice|client|succeeded|$n|$good|$nbad", 'the job is alice\'s, from the client');

# alice reads her own rejects (row-level security); each is the line the oracle says
my $rejects = $node->safe_psql('postgres', qq{
SET ROLE regress_edp_alice;
SELECT string_agg(line || ':' || sqlstate, ',' ORDER BY line) FROM edp.rejects WHERE job_id = $job});
is($rejects, join(',', map { "$_:$bad_line{$_}" } sort { $a <=> $b } keys %bad_line),
	'every bad line, and only those, quarantined with its SQLSTATE');

# ON_ERROR ignore: counted, nothing kept; plain \copy stays PostgreSQL's
$node->safe_psql('postgres', 'TRUNCATE t');
($out, $err) = psql_as_alice(
	"\\copy t from '$dir/in.csv' with (format csv, header, on_error ignore)");
like($out, qr/^COPY $good$/m, 'ON_ERROR ignore loads the good rows');
($out, $err) = psql_as_alice("\\copy t from '$dir/in.csv' with (format csv, header)");
like($err, qr/ERROR:  invalid input syntax for type integer: "x100"/,
	'a plain \copy is PostgreSQL\'s COPY, unchanged');
# a CSV stream with a bad row; psql stops sending at a lone
# \. line (before PostgreSQL 18, in a file too) and sends it as COPY's end
# of data: every line it sent before is accounted for
$node->safe_psql('postgres', 'TRUNCATE t');
open($fh, '>', "$dir/dot.csv") or die $!;
print $fh "id,v,note\n1,1,a\n3,3,c\n4,x,d\n5,5,e\n\\.\n";
close($fh);
($out, $err) = psql_as_alice(
	"\\copy t from '$dir/dot.csv' with (format csv, header, on_error quarantine)");
like($out, qr/^COPY 3$/m, 'a CSV stream with a bad line loads its good rows');
is($node->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM t'), '1,3,5',
	'the rows around a bad line load');
my ($dotjob) = $err =~ /The load is edp job (\d+)/;
is($node->safe_psql('postgres',
		"SELECT rows_in, loaded, rejected FROM edp.jobs WHERE id = $dotjob"),
	'4|3|1', 'in = loaded + rejected, the end marker not a row');
is($node->safe_psql('postgres',
		"SELECT string_agg(line::text, ',' ORDER BY line) FROM edp.rejects WHERE job_id = $dotjob"),
	'4', 'the reject is line 4 (a bad integer)');

# a server file is COPY's rule: alice may not
($out, $err) = psql_as_alice(
	"COPY t FROM '$dir/in.csv' WITH (FORMAT csv, HEADER, ON_ERROR quarantine)");
like($err, qr/must be superuser or have privileges of the pg_read_server_files role/,
	'a server file needs pg_read_server_files');

# --- progress: a load held at row 3001 by an advisory lock in a trigger
$node->safe_psql('postgres', q{
CREATE TABLE p (id integer, v integer, note text);
GRANT INSERT ON p TO regress_edp_alice;
CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.id = 3001 THEN
        PERFORM pg_advisory_xact_lock_shared(4242);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold BEFORE INSERT ON p FOR EACH ROW EXECUTE FUNCTION hold();
});
my $size = -s "$dir/in.csv";
# p has no key and no NOT NULL: only the bad integers are rejected there
my $good_p = $n - scalar(grep { $_ eq '22P02' } values %bad_line);

my $locker = $node->background_psql('postgres');
$locker->query_safe('SELECT pg_advisory_lock(4242)');
my ($cout, $cerr) = ('', '');
my $copy = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres') . ' user=regress_edp_alice',
	  '-c', 'SET edp.ingest_batch_size = 500',
	  '-c', "\\copy p from '$dir/in.csv' with (format csv, header, on_error quarantine)" ],
	'>', \$cout, '2>', \$cerr);
ok($node->poll_query_until('postgres', q{
SELECT bytes_processed > 0 AND tuples_processed > 0 AND tuples_excluded > 0
  FROM pg_stat_progress_copy WHERE relid = 'p'::regclass}),
	'a running \copy with quarantine shows bytes, rows loaded and rows rejected');
is($node->safe_psql('postgres', q{
SELECT command, type, bytes_total, tuples_processed <= 3001
  FROM pg_stat_progress_copy WHERE relid = 'p'::regclass}),
	'COPY FROM|PIPE|0|t', 'from the client: no total, rows of the written batches');
$locker->query_safe('SELECT pg_advisory_unlock(4242)');
$copy->finish;
like($cout, qr/^COPY $good_p$/m, 'the held \copy finishes');

# the same for a background job: the total is the file's size
$locker->query_safe('SELECT pg_advisory_lock(4242)');
$node->safe_psql('postgres', 'TRUNCATE p');
my $async = $node->safe_psql('postgres',
	"SELECT edp.ingest_async('p', '$dir/in.csv', batch_size => 500)");
ok($node->poll_query_until('postgres', qq{
SELECT bytes_total = $size AND bytes_processed > 0 AND tuples_processed > 0
  FROM pg_stat_progress_copy WHERE relid = 'p'::regclass}),
	'a background job shows its file\'s size, bytes read and rows');
ok($node->poll_query_until('postgres', qq{
SELECT percent_done > 0 AND percent_done < 100 AND rows_per_second > 0 AND bytes_total = $size
  FROM edp.job_progress WHERE id = $async}),
	'edp.job_progress: a running job\'s percent done and rows per second');
$locker->query_safe('SELECT pg_advisory_unlock(4242)');
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $async", 'succeeded'),
	'the background job finishes');
is($node->safe_psql('postgres', 'SELECT count(*) FROM p'), $good_p, 'and loads the good rows');
is($node->safe_psql('postgres', qq{
SELECT count(*) > 0, bool_and((payload->>'bytes_done')::int8 BETWEEN 1 AND $size),
       bool_and((payload->>'bytes_total')::int8 = $size)
  FROM edp.job_events WHERE job_id = $async AND event = 'progress'}),
	't|t|t', 'its progress events carry bytes done and the total');
is($node->safe_psql('postgres', qq{
SELECT percent_done, bytes_done = bytes_total, rows_per_second > 0 FROM edp.job_progress WHERE id = $async}),
	'100.0|t|t', 'edp.job_progress: done, with its rate');
$locker->quit;

# a failed background job: the ledger keeps the message, the event carries the SQLSTATE
my $failed = $node->safe_psql('postgres',
	"SELECT edp.ingest_async('p', '$dir/in.csv', reject_limit => 0, force => true)");
ok($node->poll_query_until('postgres',
		"SELECT status FROM edp.jobs WHERE id = $failed", 'failed'),
	'a job over its reject limit fails');
is($node->safe_psql('postgres', qq{
SELECT e.payload->>'sqlstate', j.error LIKE '%more than its reject limit of 0%'
  FROM edp.job_events e JOIN edp.jobs j ON j.id = e.job_id
 WHERE e.job_id = $failed AND e.event = 'failed'}),
	'22000|t', 'the failed event carries the SQLSTATE, the ledger the message');
# the rejects that made it fail survive the rollback of its transaction
my $first_bad = (sort { $a <=> $b } grep { $bad_line{$_} eq '22P02' } keys %bad_line)[0];
is($node->safe_psql('postgres', qq{
SELECT count(*) > 0, min(line), bool_and(sqlstate = '22P02') FROM edp.rejects WHERE job_id = $failed}),
	"t|$first_bad|t", 'the rejects past the limit are kept with the failed job');
# resumed, it finds them again (no duplicate reject), and fails again at the limit
$node->safe_psql('postgres', "SELECT edp.resume_job($failed)");
ok($node->poll_query_until('postgres', qq{
SELECT status = 'failed' AND finished_at IS NOT NULL FROM edp.jobs WHERE id = $failed}),
	'the resumed job fails again');
is($node->safe_psql('postgres', qq{
SELECT count(*) = count(DISTINCT line), min(line) FROM edp.rejects WHERE job_id = $failed}),
	"t|$first_bad", 'its rejects, once each');

$node->stop;
done_testing();
