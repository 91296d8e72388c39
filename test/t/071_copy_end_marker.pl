# 071_copy_end_marker.pl -- quarantine COPY from a client that is not psql
# (test/clients/copy_send.c: libpq's PQputCopyData in messages of 1, 2, 3 or
# 65536 bytes, as psycopg or JDBC send).  A lone \. line that more bytes
# follow is a record, rejected with its line and raw text as edp.ingest
# rejects it in a file, and the lines after it load; a \. line that ends the
# stream (psql's end marker, with LF, CRLF or no line end) is the end of the
# data and not counted.  For every case and message size: the job's counts
# add up (rows_in = loaded + rejected + duplicates + skipped_empty), the
# counts and rejects are those of a model of the input written here, the
# table holds exactly the rows a plain-SQL oracle inserts, and edp.ingest
# reading the same lines from a server file finds the same.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir;

# build the client against libpq; no compiler or no libpq is a failure
sub pg_config { my $v = `pg_config --$_[0]`; chomp $v; return $v; }
my $client = "$dir/copy_send";
my @cc = ('cc', '-o', $client, 'test/clients/copy_send.c',
	'-I' . pg_config('includedir'), '-L' . pg_config('libdir'), '-lpq');
my ($ccout, $ccerr) = ('', '');
my $built = eval { IPC::Run::run(\@cc, '>', \$ccout, '2>', \$ccerr) };
ok($built, 'the libpq client builds') or diag("@cc: $ccout$ccerr$@");
BAIL_OUT('no COPY client: cannot test a stream psql does not send') unless $built;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'edp'");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE TABLE s (id integer PRIMARY KEY, v integer NOT NULL, note text);
CREATE TABLE oracle (LIKE s);
});

# a record of the model: its bytes (no line end) and what it becomes
sub load { my ($id, $v, $note) = @_; return { rec => "$id,$v,$_[3]", load => [ $id, $v, $note ] }; }
sub rej { my ($rec, $state) = @_; return { rec => $rec, reject => $state }; }
sub empty { return { rec => '', skip => 1 }; }

my $dot = rej('\\.', '22P04');			# a lone \. line that more bytes follow
my @cases = (
	{ name => '\. mid-stream, then rows', eol => "\n", end => '',
	  recs => [ load(1, 1, 'a', 'a'), rej('2,x,b', '22P02'), $dot, load(3, 3, 'c', 'c'), load(4, 4, 'd', 'd') ] },
	{ name => '\. mid-stream and as the last line', eol => "\n", end => "\\.\n",
	  recs => [ load(1, 1, 'a', 'a'), $dot, load(2, 2, 'b', 'b') ] },
	{ name => '\. as the first line, the last without a line end', eol => "\n", end => '\\.',
	  recs => [ $dot, load(5, 5, 'e', 'e') ] },
	{ name => 'only the end marker', eol => "\n", end => "\\.\n", recs => [] },
	{ name => 'CRLF lines, CRLF end marker', eol => "\r\n", end => "\\.\r\n",
	  recs => [ load(1, 1, 'a', 'a'), $dot, load(2, 2, 'b', 'b'), rej('3,3', '22P04') ] },
	{ name => 'CRLF lines, the last \. without a line end', eol => "\r\n", end => '\\.',
	  recs => [ $dot, load(7, 7, 'g', 'g') ] },
	{ name => 'a quoted field holding a \. line', eol => "\n", end => "\\.\n",
	  recs => [ load(1, 1, "a\n\\.\nb", "\"a\n\\.\nb\""), load(2, 2, 'c', 'c') ] },
	{ name => 'lines ending in a bare CR', eol => "\r", end => "\\.\r",
	  recs => [ load(1, 1, 'a', 'a'), $dot, load(2, 2, 'b', 'b') ] },
	{ name => 'a byte order mark, then \.', eol => "\n", end => "\\.\n", bom => 1,
	  recs => [ load(9, 9, 'i', 'i'), $dot, load(10, 10, 'j', 'j') ] },
	{ name => 'near-markers and an empty line after \.', eol => "\n", end => '',
	  recs => [ rej('\\.x', '22P04'), rej('\\.\\.', '22P04'), load(8, 8, '\\.', '\\.'), $dot, empty() ] },
);

# a \. line starting at byte $at, around the end of the first 64 kB the
# reader holds: mid-stream (a row follows) or as the end marker
sub long_case
{
	my ($at, $last) = @_;
	my ($len, $id, @recs) = (0, 100000);
	while ($len < $at - 100)
	{
		push @recs, load($id, $id, 'x' x 50, 'x' x 50);
		$len += length($recs[-1]{rec}) + 1;
		$id++;
	}
	my $pad = $at - $len - length("$id,$id,") - 1;
	push @recs, load($id, $id, 'y' x $pad, 'y' x $pad);
	push @recs, $dot, load(1, 1, 'after', 'after') unless $last;
	return { name => ($last ? 'the end marker' : '\. mid-stream') . " at byte $at", eol => "\n",
		end => "\\.\n", recs => \@recs };
}
push @cases, map { long_case($_, 0) } 65532 .. 65536;
push @cases, map { long_case($_, 1) } 65534 .. 65536;
my @chunks = (1, 2, 3, 65536);

# the plain-SQL oracle: exactly the rows the model says load
sub sql_text { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
sub oracle_sql
{
	my ($case) = @_;
	my @rows = map { "($_->{load}[0], $_->{load}[1], " . sql_text($_->{load}[2]) . ')' }
		grep { $_->{load} } @{ $case->{recs} };
	return 'TRUNCATE oracle' . (@rows ? '; INSERT INTO oracle VALUES ' . join(', ', @rows) : '');
}

# s and oracle differ in this many rows (both ways)
my $diff_sql = q{SELECT count(*) FROM ((TABLE s EXCEPT ALL TABLE oracle) UNION ALL (TABLE oracle EXCEPT ALL TABLE s)) d};

sub expected_rejects
{
	my ($case) = @_;
	my $line = 0;
	my @r;
	for my $r (@{ $case->{recs} })
	{
		$line++;
		push @r, "$line:$r->{reject}:$r->{rec}" if $r->{reject};
	}
	return join('|', @r);
}

sub rejects_of
{
	my ($job) = @_;
	return $node->safe_psql('postgres', qq{
SELECT coalesce(string_agg(line || ':' || sqlstate || ':' || raw_line, '|' ORDER BY line), '')
  FROM edp.rejects WHERE job_id = $job});
}

my $copy = 'COPY s FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine)';
my $n = 0;
for my $case (@cases)
{
	my @recs = @{ $case->{recs} };
	my $body = ($case->{bom} ? "\xEF\xBB\xBF" : '') . join('', map { $_->{rec} . $case->{eol} } @recs);
	my $nload = grep { $_->{load} } @recs;
	my $nrej = grep { $_->{reject} } @recs;
	my $nskip = grep { $_->{skip} } @recs;
	my $counts = join('|', scalar(@recs), $nload, $nrej, 0, $nskip);
	my $want_rejects = expected_rejects($case);
	$n++;
	PostgreSQL::Test::Utils::append_to_file("$dir/stream$n", $body . $case->{end});
	is(substr($body . $case->{end}, $case->{at} - 1, 4), "\n\\.\n", "$case->{name}: the line is there")
		if $case->{at};
	$node->safe_psql('postgres', oracle_sql($case));

	for my $chunk (@chunks)
	{
		my $label = "$case->{name}, ${chunk}-byte messages";
		$node->safe_psql('postgres', 'TRUNCATE s');
		my ($out, $err) = ('', '');
		IPC::Run::run([ $client, $node->connstr('postgres'), $copy, "$dir/stream$n", $chunk ],
			'>', \$out, '2>', \$err);
		like($out, qr/^TAG: COPY $nload$/m, "$label: the command tag counts the rows loaded")
			or diag("stdout: $out\nstderr: $err");
		my ($job) = $out =~ /^DETAIL: The load is edp job (\d+)/m;
		$job //= 0;
		is($node->safe_psql('postgres', qq{
SELECT rows_in, loaded, rejected, duplicates, skipped_empty,
       rows_in = loaded + rejected + duplicates + skipped_empty
  FROM edp.jobs WHERE id = $job}),
			"$counts|t", "$label: every line counted, and the counts add up");
		is(rejects_of($job), $want_rejects, "$label: the rejects, each with its line, SQLSTATE and raw text");
		is($node->safe_psql('postgres', $diff_sql), '0', "$label: the table holds exactly the oracle's rows");
	}

	# edp.ingest reads the same lines from a file (no end marker there) alike
	next unless @recs;
	PostgreSQL::Test::Utils::append_to_file("$dir/file$n.csv", $body);
	$node->safe_psql('postgres', 'TRUNCATE s');
	my $job = $node->safe_psql('postgres', qq{
SELECT id FROM edp.ingest('s', '$dir/file$n.csv', format => 'csv', header => false, force => true)});
	is($node->safe_psql('postgres', "SELECT rows_in, loaded, rejected, duplicates, skipped_empty FROM edp.jobs WHERE id = $job"),
		$counts, "$case->{name}: edp.ingest of the lines in a file counts the same");
	is(rejects_of($job), $want_rejects, "$case->{name}: and rejects the same lines");
	is($node->safe_psql('postgres', $diff_sql), '0', "$case->{name}: and loads the same rows");
}

# the reject of a \. line says why, and its raw text is the line
$node->safe_psql('postgres', 'TRUNCATE s');
my ($out, $err) = ('', '');
IPC::Run::run([ $client, $node->connstr('postgres'), $copy, "$dir/stream1", 65536 ], '>', \$out, '2>', \$err);
my ($job) = $out =~ /^DETAIL: The load is edp job (\d+)/m;
is($node->safe_psql('postgres', "SELECT sqlstate, message, raw_line FROM edp.rejects WHERE job_id = $job AND line = 3"),
	'22P04|missing data for a column: 1 fields, 3 expected|\\.', 'a mid-stream \. is rejected as a record with too few fields');

# in a one-column text table a mid-stream \. line is data, the last one the end
$node->safe_psql('postgres', 'CREATE TABLE one (t text)');
PostgreSQL::Test::Utils::append_to_file("$dir/one.csv", "a\n\\.\nb\n\\.\n");
($out, $err) = ('', '');
IPC::Run::run([ $client, $node->connstr('postgres'), 'COPY one FROM STDIN WITH (FORMAT csv, ON_ERROR quarantine)',
	"$dir/one.csv", 1 ], '>', \$out, '2>', \$err);
like($out, qr/^TAG: COPY 3$/m, 'one text column: the \. line in the middle loads as a value');
is($node->safe_psql('postgres', q{SELECT string_agg(t, ',' ORDER BY t COLLATE "C") FROM one}), '\.,a,b',
	'one text column: the values, \. among them, the end marker not');

# JSON lines: a \. line in the middle is a bad JSON line, the last one the end
PostgreSQL::Test::Utils::append_to_file("$dir/lines.jsonl",
	qq({"id": 20, "v": 20, "note": "j"}\n\\.\n{"id": 21, "v": 21}\n\\.\n));
$node->safe_psql('postgres', 'TRUNCATE s');
for my $chunk (1, 65536)
{
	$node->safe_psql('postgres', 'TRUNCATE s');
	($out, $err) = ('', '');
	IPC::Run::run([ $client, $node->connstr('postgres'), 'COPY s FROM STDIN WITH (FORMAT jsonl, ON_ERROR quarantine)',
		"$dir/lines.jsonl", $chunk ], '>', \$out, '2>', \$err);
	like($out, qr/^TAG: COPY 2$/m, "JSON lines, ${chunk}-byte messages: the rows around a \\. line load")
		or diag("stdout: $out\nstderr: $err");
	($job) = $out =~ /^DETAIL: The load is edp job (\d+)/m;
	$job //= 0;
	is($node->safe_psql('postgres', qq{
SELECT j.rows_in, j.loaded, j.rejected, string_agg(r.line || ':' || r.raw_line, ',')
  FROM edp.jobs j JOIN edp.rejects r ON r.job_id = j.id WHERE j.id = $job GROUP BY j.id}),
		'3|2|1|2:\\.', "JSON lines, ${chunk}-byte messages: the \\. line in the middle is the reject, the last one the end");
	is($node->safe_psql('postgres', 'SELECT string_agg(id || coalesce(note, \'-\'), \',\' ORDER BY id) FROM s'),
		'20j,21-', "JSON lines, ${chunk}-byte messages: exactly the good rows");
}

# COPY's text format keeps COPY's rule: a \. line ends the data
PostgreSQL::Test::Utils::append_to_file("$dir/text.txt", "30\t30\tt\n\\.\n");
$node->safe_psql('postgres', 'TRUNCATE s');
($out, $err) = ('', '');
IPC::Run::run([ $client, $node->connstr('postgres'), 'COPY s FROM STDIN WITH (ON_ERROR quarantine)',
	"$dir/text.txt", 2 ], '>', \$out, '2>', \$err);
like($out, qr/^TAG: COPY 1$/m, 'text format: the row before the end marker loads');

# ... and a \. line that more lines follow fails the statement (22P04): the lines after
# it would be neither loaded nor rejected; nothing of the statement stays
PostgreSQL::Test::Utils::append_to_file("$dir/text_more.txt", "40\t40\tt\n\\.\n41\t41\tt\n");
my $jobs_before = $node->safe_psql('postgres', 'SELECT count(*) FROM edp.jobs');
$node->safe_psql('postgres', 'TRUNCATE s');
for my $chunk (1, 3, 65536)
{
	($out, $err) = ('', '');
	IPC::Run::run([ $client, $node->connstr('postgres'), 'COPY s FROM STDIN WITH (ON_ERROR quarantine)',
		"$dir/text_more.txt", $chunk ], '>', \$out, '2>', \$err);
	like($out . $err, qr/22P04.*goes on after its end-of-copy marker/s,
		"text format, ${chunk}-byte messages: lines after the end marker fail the statement with 22P04");
	unlike($out, qr/^TAG: COPY/m, "text format, ${chunk}-byte messages: no command tag");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM s'), '0', 'text format: nothing of the failed statements stays');
is($node->safe_psql('postgres', 'SELECT count(*) FROM edp.jobs'), $jobs_before, 'text format: no job of the failed statements stays');

$node->stop;
done_testing();
