# 061_export_partitioned.pl -- edp.export(): Hive-style Parquet directories
#
# DuckDB reads the directories back with hive_partitioning: its rows, with
# the partition values taken from the paths, must equal the table's rows
# and their keys.  A run is one ledger job (kind export) with progress
# notifications; a failed run leaves no file and no directory it made.
use strict;
use warnings FATAL => 'all';

use Encode qw(decode);
use File::Find;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $reader = 'test/parquet/read.mjs';
BAIL_OUT('DuckDB for node is missing: run scripts/test.sh, or npm ci in test/parquet')
  unless -d 'test/parquet/node_modules/@duckdb/node-api';

sub duck
{
	my @sql = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'node', $reader, @sql ], '>', \$out, '2>', \$err)
	  or die "DuckDB failed: $err";
	return decode_json((split /\n/, $out)[0]);
}

# every file under a directory, relative to it, sorted
sub files_under
{
	my ($top) = @_;
	my @f;
	return () unless -d $top;
	find({ wanted => sub { push @f, substr($File::Find::name, length($top) + 1) if -f $_ }, no_chdir => 1 }, $top);
	return sort @f;
}

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'edp'");
$node->start;
my $pg = sub { $node->safe_psql('postgres', $_[0]) };
$pg->('CREATE EXTENSION edp CASCADE');
my $dir = PostgreSQL::Test::Utils::tempdir;

# deduplicated account events, partitioned by month, loaded twice
$pg->(<<'SQL');
CREATE TABLE account_events (customer_id bigint, event_type text, transaction_id uuid, event_ts timestamptz,
                             amount numeric(12,2))
    PARTITION BY RANGE (event_ts);
SELECT edp.enable_partitioning('account_events', ts => 'event_ts', period => 'month');
SELECT edp.enable_dedupe('account_events', columns => '{customer_id,event_ts,event_type,transaction_id}');
CREATE TABLE src AS
SELECT customer_id, replace(event_type, 'type_', 'account-') AS event_type, transaction_id, event_ts,
       (id % 100000) / 100.0 AS amount
  FROM edp.generate_events(20000, start_at => '2024-01-30 20:00+00', end_at => '2024-02-03 04:00+00', event_types => 4);
INSERT INTO account_events SELECT * FROM src;
INSERT INTO account_events SELECT * FROM src;
SQL
my $n = $pg->('SELECT count(*) FROM account_events');
cmp_ok($n, '<', 40000, "dedupe kept $n of 40000 loaded events");

# --- event_date (UTC) and event_type, in a session far from UTC
my ($ret, $out, $err) = $node->psql('postgres', <<"SQL");
SET TimeZone = 'America/Los_Angeles';
LISTEN edp_ingest;
SELECT status, kind, format, rows_in, loaded FROM edp.export('account_events', '$dir/by_day_type', partition_by => '{event_date, event_type}');
SQL
my ($result) = grep { !/^Asynchronous/ } split /\n/, $out;
is($result, "succeeded|export|parquet|$n|$n", 'edp.export returns its job: succeeded, kind export, rows counted');
my $nparts = $pg->("SELECT count(DISTINCT (pg_catalog.timezone('UTC', event_ts)::date, event_type)) FROM account_events");
my @files = files_under("$dir/by_day_type");
is(scalar @files, $nparts, "one file per (event_date, event_type): $nparts");
like($files[0], qr{^event_date=2024-01-30/event_type=account-1/part-00000\.parquet$}, 'Hive-style paths');
my @progress = ($out =~ /Asynchronous notification "edp_ingest" with payload "\{[^"]*"event": "progress"/g);
is(scalar @progress, $nparts, 'a progress notification per file');
like($out, qr/Asynchronous notification "edp_ingest" with payload "\{"event": "succeeded", "job_id": \d+, "loaded": $n, "status": "succeeded", "rows_in": $n,/,
	'a succeeded notification with the counts');

my $expected = decode_json($pg->(q{
SELECT json_agg(json_build_array(customer_id::text, transaction_id::text,
                                 (extract(epoch FROM event_ts) * 1000000)::bigint::text, amount::text,
                                 to_char(pg_catalog.timezone('UTC', event_ts), 'YYYY-MM-DD'), event_type)
                ORDER BY transaction_id, event_ts, customer_id, event_type)
  FROM account_events}));
my $got = duck(qq{
SELECT customer_id::varchar, transaction_id::varchar, epoch_us(event_ts)::varchar, amount::varchar,
       event_date::varchar, event_type
  FROM read_parquet('$dir/by_day_type/**/*.parquet', hive_partitioning = true)
 ORDER BY transaction_id, event_ts, customer_id, event_type});
is(scalar @$got, $n, 'DuckDB reads every row back');
is_deeply($got, $expected, 'rows and their partition values (event_date of the UTC instant, event_type) equal the table\'s');
is_deeply(duck("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('$dir/by_day_type/**/*.parquet', hive_partitioning = true)) ORDER BY ALL"),
	[ [ 'amount', 'DECIMAL(12,2)' ], [ 'customer_id', 'BIGINT' ], [ 'event_date', 'DATE' ],
	  [ 'event_ts', 'TIMESTAMP WITH TIME ZONE' ], [ 'event_type', 'VARCHAR' ], [ 'transaction_id', 'UUID' ] ],
	'key columns are in the paths only; DuckDB types event_date as DATE');
is_deeply([ grep { !/\.parquet$/ || m{/\.} } @files ], [], 'no temporary file is left');

my $job = $pg->("SELECT max(id) FROM edp.jobs WHERE kind = 'export'");
my $bytes = 0;
$bytes += -s "$dir/by_day_type/$_" for @files;
is($pg->("SELECT size FROM edp.jobs WHERE id = $job"), $bytes, 'the job records the bytes written');
is($pg->("SELECT string_agg(DISTINCT event, ',' ORDER BY event) FROM edp.job_events WHERE job_id = $job"),
	'progress,started,succeeded', 'the ledger keeps its events');
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.resume_job($job)");
like($err, qr/cannot be resumed/, 'an export job is not an ingest a worker could resume');

# --- year=/month=/day= of a plain table's time column
$pg->(<<'SQL');
CREATE TABLE readings (id int, read_at timestamp, v double precision);
INSERT INTO readings SELECT g, TIMESTAMP '2023-12-30 12:00' + g * interval '7 hours', g / 3.0 FROM generate_series(1, 500) g;
SQL
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('readings', '$dir/ymd', '{year, month, day}')");
like($err, qr/partition key "year" needs a time column/, 'derived keys need a time column');
$pg->("SELECT edp.export('readings', '$dir/ymd', '{year, month, day}', time_column => 'read_at', row_group_size => 3)");
@files = files_under("$dir/ymd");
is($files[0], 'year=2023/month=12/day=30/part-00000.parquet', 'year=/month=/day= directories');
is_deeply(duck("SELECT count(*), count(*) FILTER (WHERE \"year\" <> date_part('year', read_at) OR \"month\" <> date_part('month', read_at) OR \"day\" <> date_part('day', read_at)),
                       sum(id)::varchar, count(DISTINCT filename)
                  FROM read_parquet('$dir/ymd/**/*.parquet', hive_partitioning = true, filename = true)"),
	[ [ 500, 0, '125250', scalar @files ] ], 'every row\'s year, month and day are those of its path');

# --- keys that need escaping, NULL and '' (Hive's default partition)
$pg->(<<'SQL');
CREATE TABLE odd (id int, k text, n int);
INSERT INTO odd VALUES (1, 'a/b', 1), (2, 'x y=z%', 1), (3, NULL, 2), (4, '', 2), (5, 'Ελλάδα 日本', NULL),
                       (6, '..', 3), (7, '.hidden', 3), (8, 'plain', 3);
SQL
$pg->("SELECT edp.export('odd', '$dir/odd', '{k, n}')");
is_deeply([ files_under("$dir/odd") ],
	[ sort('k=%2E./n=3/part-00000.parquet', 'k=%2Ehidden/n=3/part-00000.parquet',
		'k=__HIVE_DEFAULT_PARTITION__/n=2/part-00000.parquet', 'k=a%2Fb/n=1/part-00000.parquet',
		'k=plain/n=3/part-00000.parquet', 'k=x%20y%3Dz%25/n=1/part-00000.parquet',
		'k=Ελλάδα%20日本/n=__HIVE_DEFAULT_PARTITION__/part-00000.parquet') ],
	'values are escaped into safe names; NULL and \'\' are the default partition');
is_deeply(duck("SELECT id, k, n FROM read_parquet('$dir/odd/**/*.parquet', hive_partitioning = true) ORDER BY id"),
	[ [ 1, 'a/b', 1 ], [ 2, 'x y=z%', 1 ], [ 3, undef, 2 ], [ 4, undef, 2 ], [ 5, decode('UTF-8', 'Ελλάδα 日本'), undef ],
	  [ 6, '..', 3 ], [ 7, '.hidden', 3 ], [ 8, 'plain', 3 ] ],
	'DuckDB reads the values back (\'\' as NULL, as Hive does)');

# --- no partition key: one file, also for an empty table
$pg->("CREATE TABLE nothing (a int); SELECT edp.export('nothing', '$dir/nothing')");
is_deeply([ files_under("$dir/nothing") ], [ 'part-00000.parquet' ], 'an empty table: one file');
is_deeply(duck("SELECT count(*) FROM '$dir/nothing/part-00000.parquet'"), [ [ 0 ] ], '... with no rows');

# --- atomic: a run that fails leaves nothing, not even the directories it made
$pg->(<<'SQL');
CREATE TABLE fails (k text, a numeric(5,2));
INSERT INTO fails SELECT 'a', g FROM generate_series(1, 100) g;
INSERT INTO fails VALUES ('b', 1), ('b', 'NaN');
SQL
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('fails', '$dir/fails/deep', '{k}')");
like($err, qr/cannot write numeric value "NaN" of column "a"/, 'a run fails on its second file');
ok(!-e "$dir/fails", 'no file and no directory of the failed run remains');
mkdir("$dir/fails_existing") or die;
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('fails', '$dir/fails_existing', '{k}')");
is_deeply([ -d "$dir/fails_existing", [ files_under("$dir/fails_existing") ] ], [ 1, [] ],
	'an existing directory stays, empty');
is($pg->("SELECT count(*) FROM edp.jobs WHERE target = 'fails'::regclass"), '0', 'a failed run rolls its job back');
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('readings', '$dir/by_day_type')");
like($err, qr/export directory ".*by_day_type" is not empty/, 'a run never writes into a non-empty directory');
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('readings', 'relative')");
like($err, qr/export directory must be an absolute path/, 'the directory is an absolute path');
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('readings', '$dir/x', '{nope}')");
like($err, qr/partition key "nope" is neither a column of "readings" nor one of event_date, year, month, day/,
	'an unknown key is refused');
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('readings', '$dir/x', format => 'csv')");
like($err, qr/unknown export format "csv"/, 'only parquet');

# --- privileges: pg_write_server_files for the directory, SELECT for the rows
$pg->(<<'SQL');
CREATE ROLE regress_edp_exporter LOGIN IN ROLE pg_write_server_files;
CREATE ROLE regress_edp_reader LOGIN;
GRANT SELECT ON readings TO regress_edp_reader;
SQL
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('readings', '$dir/r1')",
	extra_params => [ '-U', 'regress_edp_reader' ]);
like($err, qr/must be superuser or have privileges of the pg_write_server_files role to export to a server directory/,
	'a reader may not write server files');
($ret, $out, $err) = $node->psql('postgres', "SELECT edp.export('readings', '$dir/r2')",
	extra_params => [ '-U', 'regress_edp_exporter' ]);
like($err, qr/permission denied for table readings/, 'a writer of server files needs SELECT on the table');
ok(!-e "$dir/r2", '... and leaves nothing');
$pg->('GRANT SELECT ON readings TO regress_edp_exporter');
is($node->safe_psql('postgres', "SELECT owner, status FROM edp.export('readings', '$dir/r3')",
		extra_params => [ '-U', 'regress_edp_exporter' ]),
	'regress_edp_exporter|succeeded', 'with both it exports; the job is its own');
is($node->safe_psql('postgres', "SELECT count(*) FROM edp.jobs", extra_params => [ '-U', 'regress_edp_exporter' ]),
	'1', 'it sees its own job only');

$node->stop;
done_testing();
