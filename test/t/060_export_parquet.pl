# 060_export_parquet.pl -- COPY ... TO ... (FORMAT parquet) read back by DuckDB
#
# DuckDB (the @duckdb/node-api package, engine included, installed by
# scripts/test.sh into test/parquet/node_modules) is the independent reader:
# its rows of every file edp writes must equal PostgreSQL's rows of the
# source, value for value, for every supported type with NULLs, empty
# strings, extremes, infinities, NaN, time zones, multibyte text and row
# groups that split the table mid-way; its parquet_schema() and
# parquet_metadata() must show the types, row groups and statistics.
use strict;
use warnings FATAL => 'all';

use File::Compare;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $reader = 'test/parquet/read.mjs';
BAIL_OUT('DuckDB for node is missing: run scripts/test.sh, or npm ci in test/parquet')
  unless -d 'test/parquet/node_modules/@duckdb/node-api';

# duck(SQL, ...): each statement's rows from DuckDB, as arrays of arrays
sub duck
{
	my @sql = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'node', $reader, @sql ], '>', \$out, '2>', \$err)
	  or die "DuckDB failed: $err";
	my @res = map { decode_json($_) } split /\n/, $out;
	return wantarray ? @res : $res[0];
}

# DuckDB's error for a statement, '' if none
sub duck_error
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'node', $reader, $sql ], '>', \$out, '2>', \$err);
	return $err;
}

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'edp'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edp CASCADE');
my $dir = PostgreSQL::Test::Utils::tempdir;
my $pg = sub { $node->safe_psql('postgres', $_[0]) };

# every supported type; rows 1-5 are the edge cases, then 3000 rows of
# mixed values whose NULLs come in runs and alone
$pg->(<<'SQL');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE all_types (
    id integer PRIMARY KEY,
    i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
    n1 numeric(5,2), n2 numeric(18,4), n3 numeric(38,10), n4 numeric,
    t text, v varchar(20), c char(4), b boolean, d date,
    ts timestamp, tz timestamptz, u uuid, j jsonb, js json,
    g geometry, ba bytea, iv interval, arr integer[], dom posint, m mood);
INSERT INTO all_types VALUES
 (1, -32768, -2147483648, -9223372036854775808, -3.4028235e38, -1.7976931348623157e308,
  -999.99, -99999999999999.9999, -9999999999999999999999999999.9999999999, -1e-30,
  '', '', '', false, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC',
  '00000000-0000-0000-0000-000000000000', '{}', '[]', 'SRID=4326;POINT(-180 -90)', '\x', '-178000000 years',
  '{}', 1, 'sad'),
 (2, 32767, 2147483647, 9223372036854775807, 3.4028235e38, 1.7976931348623157e308,
  999.99, 99999999999999.9999, 9999999999999999999999999999.9999999999, 1e300,
  repeat('long text ', 20), 'éü😀 Ελλάδα 日本', 'ab', true, '5874897-12-31', '294247-01-10 04:00:54.775806',
  '294247-01-10 04:00:54.775806+00', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '{"a": [1, 2.5, {"b": null}], "é": "😀"}', '{"x" : 1}', 'SRID=4326;POINT(180 90)', '\xdeadbeef00',
  '178000000 years', '{1,NULL,3}', 2147483647, 'happy'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, '-0', '-0', 0, 0, 0, 0, E'tab\there "quoted", new\nline, back\\slash', ' ', '    ', false,
  '1970-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'null', 'null', 'SRID=4326;MULTIPOLYGON(((0 0,1 0,1 1,0 0)))', '\x00', '0', NULL, NULL, NULL),
 (5, NULL, NULL, NULL, 'NaN', 'Infinity', NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL,
  '-infinity', 'infinity', '-infinity', NULL, NULL, NULL, 'SRID=4326;POINT EMPTY', NULL, NULL, NULL, NULL, NULL),
 (6, NULL, NULL, NULL, '-Infinity', '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  'infinity', '-infinity', 'infinity', NULL, NULL, NULL, 'SRID=4326;LINESTRING Z (1 2 3, 4 5 6)', NULL, NULL, NULL, NULL, NULL);
INSERT INTO all_types
SELECT g,
       CASE WHEN g % 7 <> 0 THEN (g * 37 % 65536 - 32768)::smallint END,
       CASE WHEN g NOT BETWEEN 100 AND 160 THEN g * 104729 - 150000000 END,
       CASE WHEN g % 3 <> 0 THEN g::bigint * 3037000493 * (CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END) END,
       CASE WHEN g % 11 <> 0 THEN (g / 7.0)::real END,
       CASE WHEN g % 13 <> 0 THEN g * pi() END,
       CASE WHEN g % 5 <> 0 THEN (g % 200000 - 100000) / 100.0 END,
       g * 1.0001, g * 12345678.9876543211, g / 3.0,
       CASE WHEN g % 17 <> 0 THEN repeat(chr(945 + g % 20), g % 9) END,
       CASE WHEN g % 2 = 0 THEN 'v' || g END,
       CASE WHEN g % 4 = 0 THEN 'c' END,
       CASE WHEN g % 9 <> 0 THEN g % 3 = 0 END,
       DATE '2024-01-01' + (g % 1000 - 500),
       TIMESTAMP '2024-03-31 01:30:00' + g * interval '17 minutes 0.123457 seconds',
       TIMESTAMPTZ '2024-10-27 00:30:00+02' + g * interval '13 minutes 0.000001 seconds',
       CASE WHEN g % 6 <> 0 THEN md5(g::text)::uuid END,
       CASE WHEN g % 8 <> 0 THEN jsonb_build_object('g', g, 's', repeat('x', g % 5)) END,
       CASE WHEN g % 8 = 0 THEN json_build_array(g) END,
       CASE WHEN g % 10 = 0 THEN NULL
            WHEN g % 3 = 0 THEN ST_SetSRID(ST_MakePoint(g / 100.0, -g / 200.0), 4326)
            ELSE ST_SetSRID(ST_MakeLine(ST_MakePoint(0, 0), ST_MakePoint(g / 1000.0, 1)), 4326) END,
       CASE WHEN g % 4 <> 0 THEN decode(md5(g::text), 'hex') END,
       CASE WHEN g % 3 = 0 THEN g * interval '1 hour 1 second' END,
       CASE WHEN g % 5 = 0 THEN ARRAY[g, -g] END,
       CASE WHEN g % 2 = 0 THEN g END,
       CASE WHEN g % 3 = 0 THEN 'happy'::mood END
  FROM generate_series(7, 3006) g;
SQL
my $nrows = $pg->('SELECT count(*) FROM all_types');

# each column as text in PostgreSQL and in DuckDB, chosen to be exact:
# instants as epoch microseconds, dates as days, bytes as hex
my @cols = (
	[ 'id', 'id::text', 'id::varchar' ],
	[ 'i2', 'i2::text', 'i2::varchar' ],
	[ 'i4', 'i4::text', 'i4::varchar' ],
	[ 'i8', 'i8::text', 'i8::varchar' ],
	[ 'f4', 'f4::text', 'f4::varchar', 'float' ],
	[ 'f8', 'f8::text', 'f8::varchar', 'float' ],
	[ 'n1', 'n1::text', 'n1::varchar' ],
	[ 'n2', 'n2::text', 'n2::varchar' ],
	[ 'n3', 'n3::text', 'n3::varchar' ],
	[ 'n4', 'n4::text', 'n4' ],
	[ 't',  't',        't' ],
	[ 'v',  'v::text',  'v' ],
	[ 'c',  "to_json(c) #>> '{}'", 'c' ],
	[ 'b',  "CASE WHEN b THEN 'true' WHEN NOT b THEN 'false' END", 'b::varchar' ],
	[ 'd',  "CASE WHEN isfinite(d) THEN (d - DATE '1970-01-01')::text ELSE d::text END",
		"CASE WHEN isfinite(d) THEN date_diff('day', DATE '1970-01-01', d)::varchar ELSE d::varchar END" ],
	[ 'ts', "CASE WHEN isfinite(ts) THEN (extract(epoch FROM ts) * 1000000)::bigint::text ELSE ts::text END",
		"CASE WHEN isfinite(ts) THEN epoch_us(ts)::varchar ELSE ts::varchar END" ],
	[ 'tz', "CASE WHEN isfinite(tz) THEN (extract(epoch FROM tz) * 1000000)::bigint::text ELSE tz::text END",
		"CASE WHEN isfinite(tz) THEN epoch_us(tz)::varchar ELSE tz::varchar END" ],
	[ 'u',  'u::text', 'u::varchar' ],
	[ 'j',  'j::text', 'j::varchar' ],
	[ 'js', 'js::text', 'js::varchar' ],
	[ 'g',  "upper(encode(ST_AsBinary(g), 'hex'))", 'hex(st_aswkb(g))' ],
	[ 'ba', "upper(encode(ba, 'hex'))", 'hex(ba)' ],
	[ 'iv', 'iv::text', 'iv' ],
	[ 'arr', 'arr::text', 'arr' ],
	[ 'dom', 'dom::text', 'dom::varchar' ],
	[ 'm',  'm::text', 'm' ]);

# floats compared as the doubles their shortest texts denote
sub norm_float
{
	my ($v) = @_;
	return undef unless defined $v;
	return 'NaN' if index(lc $v, 'nan') >= 0;
	return ($v =~ /^-/ ? '-Inf' : 'Inf') if index(lc $v, 'inf') >= 0;
	return sprintf('%.17g', $v);
}

sub normalize
{
	my ($rows) = @_;
	for my $r (@$rows)
	{
		for my $i (0 .. $#cols)
		{
			$r->[$i] = norm_float($r->[$i]) if ($cols[$i][3] // '') eq 'float';
		}
	}
	return $rows;
}

sub pg_rows
{
	my ($where) = @_;
	$where //= 'true';
	my $list = join(', ', map { $_->[1] } @cols);
	return normalize(decode_json($pg->(
		"SELECT coalesce(json_agg(json_build_array($list) ORDER BY id), '[]') FROM all_types WHERE $where")));
}

sub duck_rows
{
	my ($file) = @_;
	my $list = join(', ', map { $_->[2] } @cols);
	return normalize(scalar duck("SELECT $list FROM read_parquet('$file') ORDER BY id"));
}

my $expected = pg_rows();
is(scalar @$expected, $nrows, "the source has $nrows rows");

# 1. COPY table TO a server file, defaults (zstd), in a time zone far from UTC
$pg->("SET TimeZone = 'Asia/Kolkata'; COPY all_types TO '$dir/all.parquet' WITH (FORMAT parquet)");
is_deeply(duck_rows("$dir/all.parquet"), $expected,
	'COPY table TO file (FORMAT parquet): DuckDB reads every row and value as PostgreSQL has them');

# the schema DuckDB sees: physical type, logical annotation
my %schema = map { $_->[0] => "$_->[1] $_->[2]" } @{ duck(
	"SELECT name, type, coalesce(logical_type, converted_type, '') FROM parquet_schema('$dir/all.parquet') WHERE name <> 'schema'") };
like($schema{i2}, qr/^INT32 IntType\(bitWidth=.*isSigned=1\)/, 'smallint: INT32, INTEGER(16, signed)');
like($schema{i4}, qr/^INT32 IntType/, 'integer: INT32, INTEGER');
like($schema{i8}, qr/^INT64 IntType/, 'bigint: INT64, INTEGER');
is($schema{f4}, 'FLOAT ', 'real: FLOAT');
is($schema{f8}, 'DOUBLE ', 'double precision: DOUBLE');
is($schema{n1}, 'INT32 DecimalType(scale=2, precision=5)', 'numeric(5,2): DECIMAL in INT32');
is($schema{n2}, 'INT64 DecimalType(scale=4, precision=18)', 'numeric(18,4): DECIMAL in INT64');
is($schema{n3}, 'FIXED_LEN_BYTE_ARRAY DecimalType(scale=10, precision=38)', 'numeric(38,10): DECIMAL in 16 bytes');
is($schema{n4}, 'BYTE_ARRAY StringType()', 'numeric without typmod: STRING');
is($schema{t}, 'BYTE_ARRAY StringType()', 'text: STRING');
is($schema{c}, 'BYTE_ARRAY StringType()', 'char(n): STRING');
is($schema{b}, 'BOOLEAN ', 'boolean: BOOLEAN');
is($schema{d}, 'INT32 DateType()', 'date: DATE');
like($schema{ts}, qr/^INT64 TimestampType\(isAdjustedToUTC=0, .*MICROS=MicroSeconds\(\)/, 'timestamp: INT64 micros, not UTC-adjusted');
like($schema{tz}, qr/^INT64 TimestampType\(isAdjustedToUTC=1, .*MICROS=MicroSeconds\(\)/, 'timestamptz: INT64 micros, UTC-adjusted');
is($schema{u}, 'FIXED_LEN_BYTE_ARRAY UUIDType()', 'uuid: FIXED_LEN_BYTE_ARRAY(16) UUID');
is($schema{j}, 'BYTE_ARRAY JsonType()', 'jsonb: JSON');
is($schema{js}, 'BYTE_ARRAY JsonType()', 'json: JSON');
is($schema{g}, 'BYTE_ARRAY ', 'geometry: BYTE_ARRAY (WKB)');
is($schema{ba}, 'BYTE_ARRAY ', 'bytea: BYTE_ARRAY');
is($schema{iv}, 'BYTE_ARRAY StringType()', 'interval (other types): its text, STRING');
like($schema{dom}, qr/^INT32 IntType/, 'a domain is written as its base type');
my %duck_type = map { $_->[0] => $_->[1] } @{ duck("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '$dir/all.parquet')") };
is($duck_type{ts}, 'TIMESTAMP', 'DuckDB reads timestamp as TIMESTAMP');
is($duck_type{tz}, 'TIMESTAMP WITH TIME ZONE', 'DuckDB reads timestamptz as TIMESTAMP WITH TIME ZONE');
is($duck_type{u}, 'UUID', 'DuckDB reads uuid as UUID');
is($duck_type{g}, "GEOMETRY('OGC:CRS84')", 'DuckDB reads the GeoParquet column as GEOMETRY on OGC:CRS84');
is($duck_type{n3}, 'DECIMAL(38,10)', 'DuckDB reads numeric(38,10) as DECIMAL(38,10)');
is_deeply(duck("SELECT count(*) FILTER (WHERE isinf(ts)), count(*) FILTER (WHERE isinf(tz)), count(*) FILTER (WHERE isinf(d)) FROM '$dir/all.parquet'"),
	[ [ 2, 2, 2 ] ], 'infinite timestamps and dates are DuckDB\'s infinities');

# statistics: min/max of a chunk and NULL counts
my $nulls = $pg->('SELECT count(*) - count(i4) FROM all_types');
is_deeply(duck("SELECT sum(stats_null_count)::varchar FROM parquet_metadata('$dir/all.parquet') WHERE path_in_schema = 'i4'"),
	[ [ $nulls ] ], 'null_count statistics add up to the column\'s NULLs');
is_deeply(duck("SELECT stats_min_value, stats_max_value FROM parquet_metadata('$dir/all.parquet') WHERE path_in_schema = 'i8' AND row_group_id = 0"),
	[ [ '-9223372036854775808', '9223372036854775807' ] ], 'min/max statistics of bigint');
is_deeply(duck("SELECT count(*) FROM '$dir/all.parquet' WHERE i4 = 2147483647"), [ [ 1 ] ],
	'a filter DuckDB may prune by statistics finds the row');

# 2. COPY (query) TO, uncompressed, row groups that split the table
$pg->("COPY (SELECT * FROM all_types ORDER BY id) TO '$dir/groups.parquet' WITH (FORMAT parquet, COMPRESSION none, ROW_GROUP_SIZE 700)");
is_deeply(duck_rows("$dir/groups.parquet"), $expected, 'COPY (query) TO file with ROW_GROUP_SIZE 700: the same rows');
my $groups = int(($nrows + 699) / 700);
is_deeply(duck("SELECT count(DISTINCT row_group_id), min(row_group_num_rows), max(row_group_num_rows), min(compression), max(compression)
                 FROM parquet_metadata('$dir/groups.parquet')"),
	[ [ $groups, $nrows - 700 * ($groups - 1), 700, 'UNCOMPRESSED', 'UNCOMPRESSED' ] ],
	"$groups row groups of 700 rows, the last one short, uncompressed");
is_deeply(duck("SELECT min(id), max(id) FROM read_parquet('$dir/groups.parquet', file_row_number = true) WHERE file_row_number BETWEEN 699 AND 700"),
	[ [ 700, 701 ] ], 'the rows on both sides of a row group boundary are in order');

# pages cut within a row group (1 MB of values per page)
$pg->("COPY (SELECT g AS id, repeat(md5(g::text), 10) AS s, CASE WHEN g % 100 < 50 THEN g END AS n
             FROM generate_series(1, 20000) g) TO '$dir/pages.parquet' WITH (FORMAT parquet)");
is_deeply(duck("SELECT count(*), count(n), sum(length(s)), bool_and(s = repeat(md5(id::varchar), 10)), sum(n) FROM '$dir/pages.parquet'"),
	[ [ 20000, 10000, 6400000, JSON::PP::true,
		$pg->('SELECT sum(g) FROM generate_series(1, 20000) g WHERE g % 100 < 50') ] ],
	'a 6 MB column, cut into pages of 1 MB, reads back whole');
is_deeply(duck("SELECT total_uncompressed_size > 6400000 FROM parquet_metadata('$dir/pages.parquet') WHERE path_in_schema = 's'"),
	[ [ JSON::PP::true ] ], '... from one column chunk of more than 6 MB');

# definition levels: NULL patterns of every run length, alone and in runs,
# across pages and row groups (the RLE/bit-packed hybrid's cases)
my $levels = <<'SQL';
SELECT g, CASE WHEN k = 0 THEN (abs(hashint4(g)) % 100) < 50
               WHEN k = 1 THEN (abs(hashint4(g)) % 100) < 3
               WHEN k = 2 THEN (abs(hashint4(g)) % 100) < 97
               ELSE (g / k) % 2 = 0 END AS nul
  FROM generate_series(1, 30000) g, LATERAL (SELECT g % 23 AS k) s
SQL
$pg->("COPY (SELECT g, CASE WHEN NOT nul THEN g END AS v, CASE WHEN NOT nul THEN g % 2 = 0 END AS b
             FROM ($levels) l ORDER BY g) TO '$dir/levels.parquet' WITH (FORMAT parquet, ROW_GROUP_SIZE 7777)");
is_deeply(duck("SELECT v IS NULL, md5(string_agg(g::varchar, ',' ORDER BY g)), count(v), count(b), coalesce(sum(v), 0)::varchar,
                       count(*) FILTER (WHERE b <> (v % 2 = 0))
                  FROM '$dir/levels.parquet' GROUP BY ALL ORDER BY ALL"),
	decode_json($pg->("SELECT json_agg(json_build_array(nul, h, nv, nv, sv, 0) ORDER BY nul)
	                     FROM (SELECT nul, md5(string_agg(g::text, ',' ORDER BY g)) h,
	                                  count(*) FILTER (WHERE NOT nul) nv, coalesce(sum(g) FILTER (WHERE NOT nul), 0)::text sv
	                             FROM ($levels) l GROUP BY nul) x")),
	'NULLs in every pattern of runs are where they were, values and booleans too');

# a database encoding other than UTF-8: text is converted
$pg->("CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
$node->safe_psql('latin1', q{CREATE EXTENSION edp CASCADE;
DO $$ BEGIN EXECUTE format('CREATE TABLE l (%I text)', 'caf' || chr(233)); END $$;
INSERT INTO l VALUES ('caf' || chr(233));}
	  . "COPY l TO '$dir/latin1.parquet' WITH (FORMAT parquet)");
is_deeply(duck("SELECT name FROM parquet_schema('$dir/latin1.parquet') WHERE name <> 'schema'"), [ [ "caf\x{e9}" ] ],
	'LATIN1 database: the column name is UTF-8 in the file');
is_deeply(duck("SELECT COLUMNS(*), strlen(COLUMNS(*)) FROM '$dir/latin1.parquet'"), [ [ "caf\x{e9}", 5 ] ],
	'... and so is its text (é: two bytes in UTF-8)');

# COPY (DML ... RETURNING) TO, as PostgreSQL's COPY allows
$pg->("CREATE TABLE queue (id int, payload text); INSERT INTO queue SELECT g, 'p' || g FROM generate_series(1, 10) g");
$pg->("COPY (DELETE FROM queue WHERE id <= 4 RETURNING *) TO '$dir/deleted.parquet' WITH (FORMAT parquet)");
is_deeply(duck("SELECT string_agg(payload, ',' ORDER BY id) FROM '$dir/deleted.parquet'"), [ [ 'p1,p2,p3,p4' ] ],
	'COPY (DELETE ... RETURNING) TO writes the deleted rows');
is($pg->('SELECT count(*) FROM queue'), '6', '... which are gone');

# an empty result: a valid file with the schema and no rows
$pg->("COPY (SELECT * FROM all_types WHERE false) TO '$dir/empty.parquet' WITH (FORMAT parquet)");
is_deeply(duck("SELECT count(*) FROM '$dir/empty.parquet'"), [ [ 0 ] ], 'an empty result is a file with no rows');
is_deeply(duck("SELECT count(*) FROM parquet_schema('$dir/empty.parquet')"), [ [ scalar(@cols) + 1 ] ],
	'... and every column in its schema');

# 3. GeoParquet metadata
my $geo = decode_json(duck("SELECT decode(value) FROM parquet_kv_metadata('$dir/all.parquet') WHERE decode(key) = 'geo'")->[0][0]);
is($geo->{version}, '1.1.0', 'GeoParquet 1.1.0 "geo" metadata');
is($geo->{primary_column}, 'g', 'the primary geometry column');
is($geo->{columns}{g}{encoding}, 'WKB', 'geometries are WKB');
is_deeply([ sort @{ $geo->{columns}{g}{geometry_types} } ],
	[ 'LineString', 'LineString Z', 'MultiPolygon', 'Point' ], 'geometry_types lists what the column holds');
is_deeply($geo->{columns}{g}{bbox}, [ -180, -90, 180, 90 ], 'bbox is the extent of the geometries');
ok(!exists $geo->{columns}{g}{crs}, 'SRID 4326: crs left out (OGC:CRS84)');
$pg->("COPY (SELECT ST_SetSRID(ST_MakePoint(1, 2), 3857) AS a, ST_MakePoint(3, 4) AS b) TO '$dir/crs.parquet' WITH (FORMAT parquet)");
$geo = decode_json(duck("SELECT decode(value) FROM parquet_kv_metadata('$dir/crs.parquet') WHERE decode(key) = 'geo'")->[0][0]);
is_deeply($geo->{columns}{a}{crs}, { id => { authority => 'EPSG', code => 3857 } }, 'SRID 3857: crs names EPSG:3857');
ok(exists $geo->{columns}{b}{crs} && !defined $geo->{columns}{b}{crs}, 'SRID 0: crs null (unknown)');
my ($ret, $out, $err) = $node->psql('postgres',
	"COPY (SELECT ST_SetSRID(ST_MakePoint(1, g), 4326 - g) FROM generate_series(0, 1) g) TO '$dir/mixed.parquet' WITH (FORMAT parquet)");
like($err, qr/geometry column "st_setsrid" mixes SRIDs 4326 and 4325/, 'mixed SRIDs in a column are refused');
ok(!-e "$dir/mixed.parquet", '... and no file is left');

# 4. values Parquet cannot hold are refused, naming the column
$pg->("CREATE TABLE bad_numeric (a numeric(5,2)); INSERT INTO bad_numeric VALUES (1), ('NaN')");
($ret, $out, $err) = $node->psql('postgres', "COPY bad_numeric TO '$dir/bad.parquet' WITH (FORMAT parquet)");
like($err, qr/cannot write numeric value "NaN" of column "a" as a Parquet DECIMAL/, 'NaN in numeric(p,s) is an error naming the column');
ok(!-e "$dir/bad.parquet", 'a failed COPY leaves no file');

$pg->("CREATE TABLE far_future (a timestamptz); INSERT INTO far_future VALUES ('294276-12-31 23:59:59+00')");
($ret, $out, $err) = $node->psql('postgres', "COPY far_future TO '$dir/bad.parquet' WITH (FORMAT parquet)");
like($err, qr/timestamp of column "a" is out of the range of Parquet timestamps/,
	'a timestamp after 294247 (Parquet\'s 64-bit microseconds) is an error');

# 5. options
($ret, $out, $err) = $node->psql('postgres', "COPY all_types TO '$dir/x.parquet' WITH (FORMAT parquet, HEADER true)");
like($err, qr/option "header" is not supported with format parquet/, 'CSV options are refused');
($ret, $out, $err) = $node->psql('postgres', "COPY all_types TO '$dir/x.parquet' WITH (FORMAT parquet, COMPRESSION snappy)");
like($err, qr/unknown Parquet compression "snappy"/, 'unknown compression is refused');
($ret, $out, $err) = $node->psql('postgres', "COPY all_types TO 'relative.parquet' WITH (FORMAT parquet)");
like($err, qr/relative path not allowed for COPY to file/, 'a relative path is refused, as by COPY');
($ret, $out, $err) = $node->psql('postgres', "COPY all_types TO PROGRAM 'cat' WITH (FORMAT parquet)");
like($err, qr/COPY TO PROGRAM is not supported with format parquet/, 'TO PROGRAM is refused');
$pg->("COPY all_types (id, t) TO '$dir/cols.parquet' WITH (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19)");
is_deeply(duck("SELECT count(*), count(t) FROM '$dir/cols.parquet'"), [ [ $nrows, $pg->('SELECT count(t) FROM all_types') ] ],
	'a column list and a compression level');

# 6. everything else stays PostgreSQL's COPY
is($pg->("COPY all_types (id) TO STDOUT WITH (FORMAT csv)") =~ tr/\n//, $nrows - 1, 'COPY TO STDOUT csv is untouched');
$pg->("COPY all_types TO '$dir/all.bin' WITH (FORMAT binary)");
ok(-s "$dir/all.bin" > 0, 'COPY TO file binary is untouched');
$pg->('CREATE DATABASE plain');
($ret, $out, $err) = $node->psql('plain', "COPY (SELECT 1) TO '$dir/plain.parquet' WITH (FORMAT parquet)");
like($err, qr/COPY format "parquet" not recognized/, 'in a database without edp, COPY does not know parquet');

# 7. privileges: a server file as COPY TO's rule, STDOUT (\copy) for anyone who can SELECT
$pg->(<<'SQL');
CREATE ROLE regress_edp_reader LOGIN;
CREATE ROLE regress_edp_writer LOGIN IN ROLE pg_write_server_files;
CREATE ROLE regress_edp_nobody LOGIN;
GRANT SELECT ON all_types TO regress_edp_reader, regress_edp_writer;
SQL
($ret, $out, $err) = $node->psql('postgres', "COPY all_types TO '$dir/r.parquet' WITH (FORMAT parquet)",
	extra_params => [ '-U', 'regress_edp_reader' ]);
like($err, qr/must be superuser or have privileges of the pg_write_server_files role to COPY to a file/,
	'a server file needs pg_write_server_files');
ok(!-e "$dir/r.parquet", '... and none is written');
$node->safe_psql('postgres', "COPY all_types TO '$dir/w.parquet' WITH (FORMAT parquet)",
	extra_params => [ '-U', 'regress_edp_writer' ]);
ok(compare("$dir/w.parquet", "$dir/all.parquet") == 0, 'a member of pg_write_server_files may; the file is the same');
$node->safe_psql('postgres', "\\copy all_types to '$dir/client.parquet' with (format parquet)",
	extra_params => [ '-U', 'regress_edp_reader' ]);
ok(compare("$dir/client.parquet", "$dir/all.parquet") == 0,
	'psql \copy (COPY TO STDOUT) by a reader writes the very same bytes');
is_deeply(duck_rows("$dir/client.parquet"), $expected, '... which DuckDB reads as the table');
$node->safe_psql('postgres', "\\copy (SELECT * FROM all_types WHERE id % 2 = 0) to '$dir/client_q.parquet' with (format parquet, row_group_size 100)",
	extra_params => [ '-U', 'regress_edp_reader' ]);
is_deeply(duck_rows("$dir/client_q.parquet"), pg_rows('id % 2 = 0'), '\copy (query) with row groups');
($ret, $out, $err) = $node->psql('postgres', "\\copy all_types to '$dir/n.parquet' with (format parquet)",
	extra_params => [ '-U', 'regress_edp_nobody' ]);
like($err, qr/permission denied for table all_types/, 'without SELECT there is nothing to copy');
$pg->("ALTER TABLE all_types ENABLE ROW LEVEL SECURITY; CREATE POLICY even ON all_types FOR SELECT USING (id % 2 = 0)");
$node->safe_psql('postgres', "\\copy all_types to '$dir/rls.parquet' with (format parquet)",
	extra_params => [ '-U', 'regress_edp_reader' ]);
is_deeply(duck("SELECT count(*), sum(id % 2) FROM '$dir/rls.parquet'"), [ [ int(($nrows + 1) / 2) - 0, 0 ] ],
	'row-level security applies: the reader gets its rows only');
$pg->("DROP POLICY even ON all_types; ALTER TABLE all_types DISABLE ROW LEVEL SECURITY");

# 8. a partitioned table is exported with its partitions
$pg->(<<'SQL');
CREATE TABLE parted (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
INSERT INTO parted SELECT g, DATE '2024-01-01' + g % 59 FROM generate_series(1, 1000) g;
SQL
$pg->("COPY parted TO '$dir/parted.parquet' WITH (FORMAT parquet)");
is_deeply(duck("SELECT count(*), sum(id)::varchar FROM '$dir/parted.parquet'"), [ [ 1000, '500500' ] ],
	'COPY partitioned_table TO (FORMAT parquet) reads its partitions');

$node->stop;
done_testing();
