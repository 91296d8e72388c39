# 070_hostile_input.pl -- a corpus of hostile inputs for validated ingest,
# each case checked against an oracle
#
# A deterministic generator (its own PRNG: the same cases on every machine)
# draws cases in three families:
#   csv   -- a typed table (int, text NOT NULL, timestamptz with a rollup,
#            numeric CHECK, jsonb, a trigger raising P0001 and XX000, a
#            unique key), records with one hostile thing each: "\." and
#            other lines starting with a backslash, NUL, 0xFF and invalid
#            UTF-8, 0x1e/0x1f, too many or too few fields, bad values,
#            timestamps at both ends of the range and +-infinity, a
#            document nested 100k deep, a quoted field left open at the end,
#            blank and all-empty lines, a BOM, CRLF and mixed line ends, a
#            bare CR outside quotes, quoted newlines;
#   jsonl -- JSON lines into a table whose columns the keys flatten to:
#            raw control bytes (0x1e, 0x1f) inside and outside strings, NUL,
#            invalid UTF-8, "\.", invalid JSON, arrays and scalars, unknown
#            keys, bad values, deep nesting, blank lines, a BOM, CRLF and
#            mixed line ends;
#   wkt   -- a trips table with a quoted mixed-case name ("Hostile Trips"):
#            POINT EMPTY, NaN, +-infinity, 1e308, coordinates outside WGS 84
#            degrees, other geometry types, other SRIDs, 3D points, WKT
#            PostGIS cannot parse.
# Every case loads with edp.ingest_data (random batch sizes), and for every
# case:
#   - the job succeeded, and rows_in = loaded + rejected + duplicates +
#     skipped_empty = the records of the input;
#   - the oracle decides each record: a plain INSERT of the record's fields
#     cast to the column types (csv, wkt: with the same constraints and
#     trigger; the trips rule written in plain PostGIS SQL), a per-line SQL
#     mapping for JSON lines; records no SQL can take (NUL, invalid UTF-8,
#     wrong field count) by the rule the docs state;
#   - the table holds exactly the rows the oracle loaded, and every other
#     record is in edp.rejects with its line number, its raw text and the
#     oracle's SQLSTATE;
#   - the rollup equals brute force (verify_rollup; the trips rollups
#     against GROUP BY);
# then the same engine in a background job (edp.ingest_async of a server
# file with a BOM, "\.", NUL and both ends of the range), pg_dump and a
# restore of rollup rows at both ends of the timestamptz range, and at the end
# the server is up and its log shows no crash.
#
# EDP_HOSTILE_CASES=N (default 330) sets the number of cases,
# EDP_HOSTILE_SEED the generator's seed (default 13).  About 20 s for the
# default set on a 2-core machine.  More, as a non-root user from the top of
# the source tree (edp built and installed):
#
#   EDP_HOSTILE_CASES=5000 EDP_HOSTILE_SEED=7 make installcheck REGRESS= PROVE_TESTS=test/t/070_hostile_input.pl
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $ncases = $ENV{EDP_HOSTILE_CASES} // 330;
my $seed = $ENV{EDP_HOSTILE_SEED} // 13;

# ------------------------------------------------------------- generator

my $rng = $seed;

sub rnd
{
	my ($n) = @_;
	$rng = ($rng * 1103515245 + 12345) % 2147483648;
	return int(($rng / 2147483648) * $n);
}
sub pick { my @a = @_; return $a[ rnd(scalar @a) ]; }

sub sql_lit
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	$s =~ s/'/''/g;
	return "'$s'";
}

sub valid_utf8
{
	my ($s) = @_;
	my $copy = $s;
	return utf8::decode($copy) ? 1 : 0;
}

# the raw text edp.rejects shows: NUL and invalid bytes as \xNN
sub printable
{
	my ($s) = @_;
	my $out = '';
	while (length $s)
	{
		if ($s =~ s/^([\x01-\x7f]+)//)
		{
			$out .= $1;
		}
		elsif ($s =~ s/^([\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})//)
		{
			my $c = $1;
			$out .= valid_utf8($c) ? $c : join('', map { sprintf '\\x%02x', ord } split //, $c);
		}
		else
		{
			$s =~ s/^(.)//s;
			$out .= sprintf '\\x%02x', ord $1;
		}
	}
	return $out;
}

sub csv_field
{
	my ($v, $crlf) = @_;
	return '' unless defined $v;
	if ($v eq '' || $v =~ /[,"\r\n]/ || rnd(5) == 0)
	{
		(my $q = $v) =~ s/"/""/g;
		return qq{"$q"};
	}
	return $v;
}

my $deep = ('[' x 100000) . (']' x 100000);

# one CSV case: returns { input, records => [ { line, kind, raw, fields | sqlstate } ] }
sub gen_csv
{
	my ($c) = @_;
	my $eolmode = rnd(4);    # 0 CRLF, 1 LF and CRLF mixed, else LF
	my $crlf = $eolmode == 0;
	my $eol = $crlf ? "\r\n" : "\n";
	my $input = rnd(5) == 0 ? "\xEF\xBB\xBF" : '';
	$input .= pick('id,name,ts,n,doc', 'ID, Name ,TS,n,Doc', 'id,name,ts,n,doc');
	$input .= $eol;
	my $line = 1;
	my @recs;
	my $nrec = 3 + rnd(8);
	my $last_id = $c * 1000;
	for my $r (1 .. $nrec)
	{
		my $id = $c * 1000 + $r;
		my @f = ("$id", pick('alice', 'Bob', "\x{c3}\x{bc}n\x{c3}\x{af}c\x{c3}\x{b8}d\x{c3}\x{a9}", 'a,b', 'say "hi"',
				'multi' . $eol . 'line', 'tab	here', 'x' x 40, "rs\x1eus\x1f"),
			pick('2024-03-01 10:00:00+00', '2024-03-01 10:59:59.999+02', '4714-11-24 00:00:00+00 BC',
				'4714-11-24 23:59:59+00 BC', '294276-12-31 23:59:59.999999+00', 'infinity', '-infinity',
				undef, '2000-01-01 00:00:00+00'),
			pick('0', '1.5', '1e3', 'NaN', undef, '42'),
			pick(undef, '{}', '{"a": [1, 2]}', '"s"'));
		my $rec;
		my $m = rnd(30);
		my $kind = 'sql';
		my $sqlstate;
		if    ($m == 0) { $f[0] = 'abc'; }
		elsif ($m == 1) { $f[0] = '99999999999'; }
		elsif ($m == 2) { $f[0] = "$last_id"; }                 # unique violation
		elsif ($m == 3) { $f[1] = undef; }                      # NOT NULL
		elsif ($m == 4) { $f[1] = 'boom'; }                     # trigger, P0001
		elsif ($m == 5) { $f[1] = 'xx'; }                       # trigger, XX000
		elsif ($m == 6) { $f[2] = 'not a time'; }
		elsif ($m == 7) { $f[2] = '294277-01-01 00:00:00+00'; } # out of range
		elsif ($m == 8) { $f[3] = '-1'; }                       # CHECK
		elsif ($m == 9) { $f[3] = 'abc'; }
		elsif ($m == 10) { $f[4] = '{bad'; }
		elsif ($m == 11) { $f[4] = $deep; }                     # 54001
		elsif ($m == 12) { $f[0] = '\\.'; }                     # a line starting with \.
		elsif ($m == 13) { $f[0] = '\\N'; }
		elsif ($m == 14) { $rec = '\\.'; $kind = 'struct'; $sqlstate = '22P04'; }
		elsif ($m == 15) { $rec = '\\.' . 'abc'; $kind = 'struct'; $sqlstate = '22P04'; }
		elsif ($m == 16) { $f[1] = "nul\x00byte"; $kind = 'struct'; $sqlstate = '22021'; }
		elsif ($m == 17) { $f[1] = "bad\xffbyte"; $kind = 'struct'; $sqlstate = '22021'; }
		elsif ($m == 18) { $f[1] = "cut\xc3"; $kind = 'struct'; $sqlstate = '22021'; }
		elsif ($m == 19) { push @f, 'extra'; $kind = 'struct'; $sqlstate = '22P04'; }
		elsif ($m == 20) { pop @f; $kind = 'struct'; $sqlstate = '22P04'; }
		elsif ($m == 21) { $rec = ''; $kind = 'skip'; }
		elsif ($m == 22) { $rec = ',,,,'; $kind = 'skip'; }
		elsif ($m == 23) { $f[1] = "\x00"; $f[0] = "\x00"; $kind = 'struct'; $sqlstate = '22021'; }
		elsif ($m == 24) { $f[1] = "bare\rcr"; }                # a CR outside quotes is data
		$last_id = $id;
		$rec //= join ',', map { $m == 24 && $_ == 1 ? $f[1] : csv_field($f[$_], $crlf) } 0 .. $#f;
		my $nl = () = $rec =~ /\n/g;
		$line += 1 + $nl;
		push @recs, { line => $line, kind => $kind, raw => $rec, fields => [@f], sqlstate => $sqlstate };
		$eol = pick("\n", "\r\n") if $eolmode == 1;
		$input .= $rec . ($r < $nrec || $rec eq '' || rnd(2) ? $eol : '');
	}
	# a quoted field left open at the end swallows the rest: one reject
	if (rnd(12) == 0)
	{
		my $rec = ($c * 1000 + 999) . ',"open' . $eol . 'more,stuff';
		$input .= $eol if $input !~ /\n\z/;
		$line += 2;
		push @recs, { line => $line, kind => 'struct', raw => $rec, sqlstate => '22P04' };
		$input .= $rec;
	}
	return { input => $input, records => \@recs };
}

sub json_str
{
	my ($s) = @_;
	$s =~ s/(["\\])/\\$1/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\x1e/\\u001e/g;
	return qq{"$s"};
}

sub gen_jsonl
{
	my ($c) = @_;
	my $eolmode = rnd(4);    # 0 CRLF, 1 mixed, else LF
	my $input = rnd(5) == 0 ? "\xEF\xBB\xBF" : '';
	my @recs;
	my $nrec = 3 + rnd(8);
	for my $r (1 .. $nrec)
	{
		my %kv = (
			a => $c * 1000 + $r,
			b => json_str(pick('alice', "multi\nline", 'q"uote', "rs\x1e", "\x{c3}\x{bc}", 'back\\slash')),
			c => pick('{"d": 7}', '{}', '{"d": null}', undef),
			e => pick('[1, "x"]', '[]', '"text"', '12', undef));
		my $m = rnd(26);
		my ($rec, $kind, $sqlstate) = (undef, 'sql', undef);
		if    ($m == 0) { $kv{a} = '"abc"'; }
		elsif ($m == 1) { $kv{a} = '1e20'; }
		elsif ($m == 2) { $kv{a} = '1.5'; }
		elsif ($m == 3) { $kv{b} = 'null'; }
		elsif ($m == 4) { delete $kv{b}; }
		elsif ($m == 5) { $kv{zz} = '1'; }
		elsif ($m == 6) { $kv{c} = '5'; }
		elsif ($m == 7) { $kv{c} = '{"d": {"x": 1}}'; }
		elsif ($m == 8) { $kv{e} = '{"o": 1}'; }
		elsif ($m == 9) { $kv{e} = $deep; }
		elsif ($m == 10) { $rec = '{"a": 1,'; }
		elsif ($m == 11) { $rec = '[1, 2]'; }
		elsif ($m == 12) { $rec = '"scalar"'; }
		elsif ($m == 13) { $rec = '\\.'; }
		elsif ($m == 14) { $rec = "\x1e"; }
		elsif ($m == 15) { $rec = "{\"a\": 1, \"b\": \"raw\x1ebyte\"}"; }
		elsif ($m == 16) { $rec = "\x1e{\"a\": 2, \"b\": \"x\"}"; }
		elsif ($m == 17) { $rec = "{\"a\": 3, \"b\": \"unit\x1fsep\"}"; }
		elsif ($m == 18) { $rec = "{\"a\": 4, \"b\": \"nul\x00\"}"; $kind = 'struct'; $sqlstate = '22021'; }
		elsif ($m == 19) { $rec = "{\"a\": 5, \"b\": \"bad\xff\"}"; $kind = 'struct'; $sqlstate = '22021'; }
		elsif ($m == 20) { $rec = ''; $kind = 'skip'; }
		elsif ($m == 21) { $rec = "  \t "; $kind = 'skip'; }
		elsif ($m == 22) { $rec = "{\"a\": 6, \"b\": \"cr\"}\r{\"a\": 7}"; }
		unless (defined $rec)
		{
			my @keys = grep { defined $kv{$_} } sort keys %kv;
			@keys = reverse @keys if rnd(2);
			$rec = '{' . join(pick(', ', ','), map { qq{"$_":} . pick('', ' ') . $kv{$_} } @keys) . '}';
		}
		push @recs, { line => $r, kind => $kind, raw => $rec, sqlstate => $sqlstate };
		my $eol = $eolmode == 0 ? "\r\n" : $eolmode == 1 ? pick("\n", "\r\n") : "\n";
		$input .= $rec . ($r < $nrec || $rec =~ /^\s*\z/ || rnd(2) ? $eol : '');
	}
	return { input => $input, records => \@recs };
}

sub gen_wkt
{
	my ($c) = @_;
	my $input = "region,origin,destination,datetime,datasource\n";
	my @recs;
	my $nrec = 3 + rnd(6);
	my @good = ('POINT(14.42 50.08)', 'SRID=4326;POINT(-180 90)', 'POINT(180 -90)', 'POINT(0 0)',
		'POINT(-122.4194155 37.7749295)', 'POINT(1e-300 -0.5)');
	my @bad = ('POINT EMPTY', 'POINT(NaN 1)', 'POINT(1 NaN)', 'POINT(1e308 1)', 'POINT(200 10)',
		'POINT(1 100)', 'POINT(-180.000001 0)', 'POINT(Infinity 1)', 'POINT(1 -Infinity)',
		'LINESTRING(0 0,1 1)', 'SRID=3857;POINT(1 1)', 'POINT(1)', 'POINT(0.1 0.2 0.3)', 'xyz',
		'POINT(1 2', '');
	for my $r (1 .. $nrec)
	{
		my @f = (pick('Prague', 'Brno', 'Ústí'), pick(@good), pick(@good),
			pick('2024-01-01 08:00', '2024-02-29 23:59:59', '2023-12-31 00:00'), pick('a', 'b'));
		my $m = rnd(4);
		$f[1] = pick(@bad) if $m == 0;
		$f[2] = pick(@bad) if $m == 1;
		$f[3] = 'not a date' if $m == 2 && rnd(3) == 0;
		$f[1] = undef if defined $f[1] && $f[1] eq '';
		$f[2] = undef if defined $f[2] && $f[2] eq '';
		my $rec = join ',', map { csv_field($_, 0) } @f;
		push @recs, { line => $r + 1, kind => 'sql', raw => $rec, fields => [@f] };
		$input .= $rec . "\n";
	}
	return { input => $input, records => \@recs };
}

# --------------------------------------------------------------- cluster

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'edp'
edp.database = 'postgres'
edp.naptime = 50
edp.ingest_commit_rows = 0
max_stack_depth = '2MB'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE FUNCTION hc_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom row' USING ERRCODE = 'P0001'; END IF;
    IF NEW.name = 'xx' THEN RAISE EXCEPTION 'an internal-looking error' USING ERRCODE = 'XX000'; END IF;
    RETURN NEW;
END $$;
CREATE TABLE hc (id int UNIQUE, name text NOT NULL, ts timestamptz, n numeric CHECK (n >= 0), doc jsonb);
CREATE TRIGGER hc_trg BEFORE INSERT ON hc FOR EACH ROW EXECUTE FUNCTION hc_trg();
SELECT edp.enable_rollup('hc', key => 'name', ts => 'ts');
CREATE TABLE hj (a int, b text NOT NULL, c_d int, e text);
SELECT edp.create_trips_table('"Hostile Trips"');

-- the oracles: plain SQL, one record at a time
CREATE TABLE hc_oracle (c int, l int, id int, name text NOT NULL, ts timestamptz, n numeric CHECK (n >= 0), doc jsonb,
                        UNIQUE (c, id));
CREATE TRIGGER hc_trg BEFORE INSERT ON hc_oracle FOR EACH ROW EXECUTE FUNCTION hc_trg();
CREATE TABLE hj_oracle (c int, l int, a int, b text NOT NULL, c_d int, e text);
CREATE TABLE trips_oracle (c int, l int, region text NOT NULL,
    origin geometry(Point, 4326) NOT NULL
        CHECK (NOT ST_IsEmpty(origin) AND ST_X(origin) BETWEEN -180 AND 180 AND ST_Y(origin) BETWEEN -90 AND 90),
    destination geometry(Point, 4326) NOT NULL
        CHECK (NOT ST_IsEmpty(destination) AND ST_X(destination) BETWEEN -180 AND 180 AND ST_Y(destination) BETWEEN -90 AND 90),
    datetime timestamp NOT NULL, datasource text NOT NULL);
CREATE TABLE oracle_rej (c int, l int, sqlstate text);
CREATE FUNCTION oracle_hc(c int, l int, f text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hc_oracle VALUES (c, l, f[1]::int, f[2], f[3]::timestamptz, f[4]::numeric, f[5]::jsonb);
EXCEPTION WHEN OTHERS THEN
    INSERT INTO oracle_rej VALUES (c, l, SQLSTATE);
END $$;
CREATE FUNCTION oracle_trips(c int, l int, f text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trips_oracle VALUES (c, l, f[1], f[2]::geometry(Point, 4326), f[3]::geometry(Point, 4326), f[4]::timestamp, f[5]);
EXCEPTION WHEN OTHERS THEN
    INSERT INTO oracle_rej VALUES (c, l, SQLSTATE);
END $$;
-- JSON lines: keys a, b, e are columns, c an object whose key d is column c_d
CREATE FUNCTION oracle_hj(c int, l int, line text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    j jsonb;
    k record;
BEGIN
    j := line::jsonb;
    IF jsonb_typeof(j) <> 'object' THEN
        RAISE EXCEPTION 'not an object' USING ERRCODE = '22P02';
    END IF;
    FOR k IN SELECT * FROM jsonb_each(j) LOOP
        IF k.key NOT IN ('a', 'b', 'c', 'e') OR (k.key = 'c') <> (jsonb_typeof(k.value) = 'object') THEN
            RAISE EXCEPTION 'no column' USING ERRCODE = '42703';
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM jsonb_each(CASE WHEN j ? 'c' THEN j->'c' ELSE '{}' END) d
                WHERE d.key <> 'd' OR jsonb_typeof(d.value) = 'object') THEN
        RAISE EXCEPTION 'no column' USING ERRCODE = '42703';
    END IF;
    INSERT INTO hj_oracle VALUES (c, l, (j->>'a')::int, j->>'b', (j#>>'{c,d}')::int,
        CASE WHEN jsonb_typeof(j->'e') = 'array' THEN (j->'e')::text ELSE j->>'e' END);
EXCEPTION WHEN OTHERS THEN
    INSERT INTO oracle_rej VALUES (c, l, SQLSTATE);
END $$;
CREATE TABLE hjob (c int, family text, job bigint);
CREATE TABLE hrows (c int, r text);
CREATE TABLE hbad (c int, what text, n bigint);
});

# ----------------------------------------------------------------- cases

my @cases;
my $script = '';
for my $c (1 .. $ncases)
{
	my $family = pick('csv', 'csv', 'jsonl', 'jsonl', 'wkt');
	my $case = $family eq 'csv' ? gen_csv($c) : $family eq 'jsonl' ? gen_jsonl($c) : gen_wkt($c);
	$case->{family} = $family;
	push @cases, $case;
	my $hex = unpack('H*', $case->{input});
	my $bs = pick(1, 2, 3, 100);
	my ($tbl, $rows, $fmt) =
		$family eq 'csv' ? ('hc', 'SELECT (id, name, ts, n, doc)::text FROM hc', 'csv')
	  : $family eq 'jsonl' ? ('hj', 'SELECT (a, b, c_d, e)::text FROM hj', 'jsonl')
	  : ('"Hostile Trips"', 'SELECT (region, ST_AsEWKT(origin), ST_AsEWKT(destination), datetime, datasource)::text FROM "Hostile Trips"', 'csv');
	my $qt = qq{'$tbl'};
	$script .= "TRUNCATE $tbl;\n";
	$script .= "INSERT INTO hjob SELECT $c, '$family', j.id FROM edp.ingest_data(${qt}::regclass, '\\x$hex'::bytea, format => '$fmt', batch_size => $bs) j;\n";
	$script .= "INSERT INTO hrows SELECT $c, r FROM ($rows) x(r);\n";
	if ($family eq 'csv')
	{
		$script .= "INSERT INTO hbad SELECT $c, 'verify_rollup', count(*) FROM edp.verify_rollup('hc') HAVING count(*) > 0;\n";
	}
	elsif ($family eq 'wkt')
	{
		$script .= qq{INSERT INTO hbad SELECT $c, 'cell_weeks', count(*) FROM (
  (SELECT ox, oy, dx, dy, week, trips FROM "Hostile Trips_cell_weeks" WHERE trips <> 0
   EXCEPT ALL SELECT floor(ST_X(origin) / 0.05)::int, floor(ST_Y(origin) / 0.05)::int, floor(ST_X(destination) / 0.05)::int,
                     floor(ST_Y(destination) / 0.05)::int, date_trunc('week', datetime)::date, count(*)
                FROM "Hostile Trips" GROUP BY 1, 2, 3, 4, 5)
  UNION ALL
  (SELECT floor(ST_X(origin) / 0.05)::int, floor(ST_Y(origin) / 0.05)::int, floor(ST_X(destination) / 0.05)::int,
          floor(ST_Y(destination) / 0.05)::int, date_trunc('week', datetime)::date, count(*)
     FROM "Hostile Trips" GROUP BY 1, 2, 3, 4, 5
   EXCEPT ALL SELECT ox, oy, dx, dy, week, trips FROM "Hostile Trips_cell_weeks" WHERE trips <> 0)) d HAVING count(*) > 0;
INSERT INTO hbad SELECT $c, 'region_weeks', count(*) FROM (
  (SELECT region, week, trips FROM "Hostile Trips_region_weeks" WHERE trips <> 0
   EXCEPT ALL SELECT region, date_trunc('week', datetime)::date, count(*) FROM "Hostile Trips" GROUP BY 1, 2)
  UNION ALL
  (SELECT region, date_trunc('week', datetime)::date, count(*) FROM "Hostile Trips" GROUP BY 1, 2
   EXCEPT ALL SELECT region, week, trips FROM "Hostile Trips_region_weeks" WHERE trips <> 0)) d HAVING count(*) > 0;
};
	}
	for my $rec (@{ $case->{records} })
	{
		next unless $rec->{kind} eq 'sql';
		if ($family eq 'jsonl')
		{
			(my $l = $rec->{raw}) =~ s/\r\z//;
			$script .= "SELECT oracle_hj($c, $rec->{line}, " . sql_lit($l) . ");\n";
		}
		else
		{
			my $fn = $family eq 'csv' ? 'oracle_hc' : 'oracle_trips';
			$script .= "SELECT $fn($c, $rec->{line}, ARRAY[" . join(', ', map { sql_lit($_) } @{ $rec->{fields} }) . "]::text[]);\n";
		}
	}
}
my $t0 = time;
my ($ret, $out, $err) = (0, '', '');
$ret = $node->psql('postgres', $script, stdout => \$out, stderr => \$err, on_error_stop => 0, extra_params => [ '-q' ]);
note "ran $ncases cases in " . (time - $t0) . " s";
is($ret, 0, 'the corpus script ran');
# a case whose every record is bad loads nothing: edp warns (and says so in
# the job's error column); anything else on stderr is a failed statement
my $all_rejected = () = $err =~ /WARNING:  the load loaded no rows/g;
$err =~ s/^psql:<stdin>:\d+: WARNING:  the load loaded no rows: all \d+ rows were rejected\nDETAIL:  [^\n]*\nHINT:  [^\n]*(?:\n|\z)//mg;
note "$all_rejected cases rejected every record";
is($err, '', 'no statement of the corpus failed (every job succeeded)');

# -------------------------------------------------------------- checking

my %jobs = map { my @a = split /\|/; ($a[0] => [@a]) } split /\n/, $node->safe_psql('postgres', q{
SELECT h.c, j.status, j.rows_in, j.loaded, j.rejected, j.duplicates, j.skipped_empty FROM hjob h JOIN edp.jobs j ON j.id = h.job});
my %rejects;
{
	my $rows = $node->safe_psql('postgres', q{
SELECT h.c, r.line, r.sqlstate, encode(convert_to(r.raw_line, 'UTF8'), 'hex') FROM hjob h JOIN edp.rejects r ON r.job_id = h.job ORDER BY 1, 2});
	for (split /\n/, $rows)
	{
		my ($c, $line, $st, $raw) = split /\|/;
		$rejects{$c}{$line} = [ $st, pack('H*', $raw) ];
	}
}
my %orej;
for (split /\n/, $node->safe_psql('postgres', 'SELECT c, l, sqlstate FROM oracle_rej'))
{
	my ($c, $l, $st) = split /\|/;
	$orej{$c}{$l} = $st;
}
my (%got_rows, %want_rows);
for (split /\n/, $node->safe_psql('postgres', q{SELECT c, encode(convert_to(r, 'UTF8'), 'hex') FROM hrows}))
{
	my ($c, $r) = split /\|/;
	push @{ $got_rows{$c} }, $r;
}
for (split /\n/, $node->safe_psql('postgres', q{
SELECT c, encode(convert_to((id, name, ts, n, doc)::text, 'UTF8'), 'hex') FROM hc_oracle
UNION ALL SELECT c, encode(convert_to((a, b, c_d, e)::text, 'UTF8'), 'hex') FROM hj_oracle
UNION ALL SELECT c, encode(convert_to((region, ST_AsEWKT(origin), ST_AsEWKT(destination), datetime, datasource)::text, 'UTF8'), 'hex') FROM trips_oracle}))
{
	my ($c, $r) = split /\|/;
	push @{ $want_rows{$c} }, $r;
}
my %bad = map { my @a = split /\|/; ("$a[0]:$a[1]" => $a[2]) } split /\n/, $node->safe_psql('postgres', 'SELECT c, what, n FROM hbad');

my (%failed, $checked);
my %kinds;
for my $c (1 .. $ncases)
{
	my $case = $cases[ $c - 1 ];
	my @why;
	my $job = $jobs{$c};
	if (!$job)
	{
		push @why, 'no job (the load failed)';
	}
	else
	{
		my (undef, $status, $in, $loaded, $rej, $dup, $skip) = @$job;
		my $n = scalar @{ $case->{records} };
		my $nskip = grep { $_->{kind} eq 'skip' } @{ $case->{records} };
		push @why, "status $status" if $status ne 'succeeded';
		push @why, "rows_in $in, expected $n records" if $in != $n;
		push @why, "rows_in $in != loaded $loaded + rejected $rej + duplicates $dup + skipped $skip"
		  if $in != $loaded + $rej + $dup + $skip;
		push @why, "skipped_empty $skip, expected $nskip" if $skip != $nskip;
	}
	for my $rec (@{ $case->{records} })
	{
		my $l = $rec->{line};
		$kinds{"$case->{family}:$rec->{kind}"}++;
		my $want =
			$rec->{kind} eq 'struct' ? $rec->{sqlstate}
		  : $rec->{kind} eq 'sql'    ? $orej{$c}{$l}
		  :                            undef;
		my $got = $rejects{$c}{$l};
		if (defined $want)
		{
			if (!$got)
			{
				push @why, "line $l: expected a reject $want, none";
				next;
			}
			push @why, "line $l: SQLSTATE $got->[0], oracle $want" if $got->[0] ne $want;
			(my $raw = $rec->{raw}) =~ s/\r\z//;
			push @why, "line $l: raw text differs: got " . printable($got->[1]) . ', expected ' . printable(printable($raw))
			  if $got->[1] ne printable($raw);
		}
		elsif ($got)
		{
			push @why, "line $l: unexpected reject $got->[0]";
		}
	}
	my $g = join ',', sort @{ $got_rows{$c} // [] };
	my $w = join ',', sort @{ $want_rows{$c} // [] };
	if ($g ne $w)
	{
		my %gc;
		$gc{$_}++ for @{ $got_rows{$c} // [] };
		$gc{$_}-- for @{ $want_rows{$c} // [] };
		push @why, join '; ', map { ($gc{$_} > 0 ? 'extra row ' : 'missing row ') . pack('H*', $_) } grep { $gc{$_} } sort keys %gc;
	}
	for my $what ('verify_rollup', 'cell_weeks', 'region_weeks')
	{
		push @why, "$what: $bad{qq{$c:$what}} differences from brute force" if $bad{"$c:$what"};
	}
	$checked++;
	$failed{$c} = \@why if @why;
}
my $nrec = 0;
$nrec += scalar @{ $_->{records} } for @cases;
note "$checked cases, $nrec records: " . join(', ', map { "$_ $kinds{$_}" } sort keys %kinds);
for my $c (sort { $a <=> $b } keys %failed)
{
	diag "case $c ($cases[$c - 1]{family}): " . join("\n  ", @{ $failed{$c} });
	diag 'input: ' . printable($cases[ $c - 1 ]{input});
	last if $c > 30 && keys %failed > 10;
}
is(scalar(keys %failed), 0, "$checked hostile cases agree with the oracle");
cmp_ok($checked, '>=', $ncases, 'every case was checked');

# the same engine in a background job (edp.ingest_async, one transaction per
# batch of 2): a server file holding the lines COPY would stop at and
# timestamps at both ends of the range
my $dir = PostgreSQL::Test::Utils::tempdir;
my $file = "$dir/hostile.csv";
open(my $fh, '>:raw', $file) or die "$file: $!";
print $fh "\xEF\xBB\xBFid,name,ts,n,doc\n9000001,alice,2024-01-01 00:00:00+00,1,\n\\.\n"
  . "9000003,bob,4714-11-24 00:00:00+00 BC,2,\n9000004,nul\x00,2024-01-01 00:00:00+00,3,\n"
  . "9000005,carol,infinity,4,\n9000006,dave,294276-12-31 23:59:59.999999+00,5,\n";
close($fh);
$node->safe_psql('postgres', 'TRUNCATE hc');
my $job = $node->safe_psql('postgres', "SELECT edp.ingest_async('hc', '$file', batch_size => 2)");
ok($node->poll_query_until('postgres', "SELECT status IN ('succeeded', 'failed') FROM edp.jobs WHERE id = $job"),
	'the background job ends');
is($node->safe_psql('postgres', "SELECT status, rows_in, loaded, rejected FROM edp.jobs WHERE id = $job"),
	'succeeded|6|4|2', 'background job: every line accounted for');
is($node->safe_psql('postgres', "SELECT string_agg(line || ' ' || sqlstate || ' ' || raw_line, ', ' ORDER BY line) FROM edp.rejects WHERE job_id = $job"),
	'3 22P04 \\., 5 22021 9000004,nul\\x00,2024-01-01 00:00:00+00,3,', 'background job: the rejects with their lines and raw text');
is($node->safe_psql('postgres', "SELECT string_agg(name, ',' ORDER BY id) FROM hc"), 'alice,bob,carol,dave',
	'background job: the rows loaded');
is($node->safe_psql('postgres', "SELECT count(*) FROM edp.verify_rollup('hc')"), '0',
	'background job: the rollup equals brute force');
# rollup rows at both ends of the range dump and restore
my $dump = "$dir/dump.sql";
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ],
	'pg_dump works with rollup rows at both ends of the timestamptz range');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $dump ],
	'the dump restores');
is($node->safe_psql('restored', 'SELECT count(*) FROM hc_edp_rollup'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM hc_edp_rollup'), 'the restored rollup has every row');

# the server is up, and no backend crashed
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server still answers');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated|PANIC/, 'no crash in the server log');

$node->stop;
done_testing();
