# EdpScenario.pm -- differential, stateful scenarios for edp's write paths
#
# Used by test/t/050_write_paths_oracle.pl.  A scenario is drawn from a seed
# by a small PRNG of our own (xoshiro128**, 32-bit arithmetic only, so the
# same seed gives the same scenario on every machine and Perl build): which
# edp features an event table has (flattening, rollup, dedupe keep first or
# keep latest, partitions by day and optionally by type), the order they are
# enabled in (rollup and dedupe possibly after data exists), whether a trips
# table takes part, and a sequence of operations over every write path.
#
# Every operation is applied twice: to the edp table, and -- in plain SQL --
# to a mirror table without any edp feature (the oracle).  The mirror keeps
# the rows edp should hold, with an arrival number (seq) per row; dedupe is
# done on the mirror by plain DELETEs from the documented rules, flattening
# by a plain SQL function computing what the metric columns must hold.
# After every step the edp table is compared with the mirror (as multisets)
# and edp's own invariants are checked (partition bounds, DEFAULT partitions
# empty at commit, verify_rollup, bucket_counts against GROUP BY, trips
# rollups and point blocks against brute force, the job ledger).
#
# The rules the oracle models (doc/edp.md):
#  - dedupe keep first: a new row goes when a row that arrived before it
#    (earlier transaction, or earlier in input order) has its key; rows that
#    were there before dedupe was enabled stay; NULL in a key column is never
#    a duplicate.  Keep latest: per key a statement touches, the largest
#    order_by survives (NULL smallest), ties to the earliest arrival.  Dedupe
#    runs on inserts only; UPDATEs made by the generator never make two rows
#    share a key (they also shift txn, and move times by odd microseconds
#    while generated times are whole milliseconds), so "earliest arrival"
#    stays well defined.
#  - flattening: a metric column holds the document's value when jsonb has
#    it as an integer in the column's range, unless the row gave the column a
#    value itself; original_metrics gives back the document (plus, under its
#    key, a value the row gave a metric the document lacked).
#  - naive timestamps: UTC for COPY and edp.ingest* into an event table (and
#    for background jobs, whose server runs in UTC), the session's zone
#    otherwise (and always for INSERT literals).
#  - validated ingest: bad rows are rejected one by one at their line, blank
#    or all-NULL rows skipped; rows_in = loaded + rejected + duplicates +
#    skipped_empty; loaded = the job's input rows still in the table after it;
#    an input that an earlier succeeded job (committed) loaded into the same
#    table is skipped unless force.  COPY with a bad row fails as a whole.
#  - partitions: every row inside its leaf's bound; after commit no row with
#    a time in a DEFAULT partition.
package EdpScenario;

use strict;
use warnings;

use Config;
use Digest::SHA qw(sha256_hex);
use JSON::PP ();
use Time::HiRes ();
use Test::More;

die "EdpScenario needs 64-bit Perl integers" unless $Config{ivsize} >= 8;

my $JSON = JSON::PP->new->canonical(1)->allow_nonref(1);

# ------------------------------------------------------------------------
# the PRNG: xoshiro128** seeded through murmur3's finalizer
# ------------------------------------------------------------------------
package EdpScenario::Rng;

use constant M32 => 0xFFFFFFFF;

# (a * b) mod 2^32 without ever leaving 48 bits
sub mul32
{
	my ($a, $b) = @_;
	my $lo = $a * ($b & 0xFFFF);
	my $hi = (($a * ($b >> 16)) & 0xFFFF) << 16;
	return ($lo + $hi) & M32;
}

sub rotl { my ($x, $k) = @_; return (($x << $k) | ($x >> (32 - $k))) & M32; }

sub fmix32
{
	my ($h) = @_;
	$h ^= $h >> 16;
	$h = mul32($h, 0x85ebca6b);
	$h ^= $h >> 13;
	$h = mul32($h, 0xc2b2ae35);
	$h ^= $h >> 16;
	return $h;
}

sub new
{
	my ($class, $seed) = @_;
	my $lo = $seed & M32;
	my $hi = int($seed / 4294967296) & M32;
	my @s = map { fmix32(($lo ^ mul32($_ + 1, 0x9E3779B9) ^ rotl($hi, $_ * 7 + 1)) & M32) } 0 .. 3;
	$s[0] ||= 1;
	my $self = bless { s => \@s }, $class;
	$self->u32 for 1 .. 8;
	return $self;
}

sub u32
{
	my ($self) = @_;
	my $s = $self->{s};
	my $result = mul32(rotl(mul32($s->[1], 5), 7), 9);
	my $t = ($s->[1] << 9) & M32;
	$s->[2] ^= $s->[0];
	$s->[3] ^= $s->[1];
	$s->[1] ^= $s->[2];
	$s->[0] ^= $s->[3];
	$s->[2] ^= $t;
	$s->[3] = rotl($s->[3], 11);
	return $result;
}

# 0 .. n-1 (n < 2^20)
sub below { my ($self, $n) = @_; return ($self->u32 * $n) >> 32; }
sub range { my ($self, $lo, $hi) = @_; return $lo + $self->below($hi - $lo + 1); }
sub chance { my ($self, $p) = @_; return $self->u32 < $p * 4294967296; }
sub pick { my ($self, $list) = @_; return $list->[ $self->below(scalar @$list) ]; }

sub shuffle
{
	my ($self, $list) = @_;
	my @a = @$list;
	for (my $i = $#a; $i > 0; $i--)
	{
		my $j = $self->below($i + 1);
		@a[ $i, $j ] = @a[ $j, $i ];
	}
	return \@a;
}

# [[weight, value], ...]
sub weighted
{
	my ($self, $choices) = @_;
	my $total = 0;
	$total += $_->[0] for @$choices;
	my $x = $self->below($total);
	for my $c (@$choices)
	{
		return $c->[1] if $x < $c->[0];
		$x -= $c->[0];
	}
	return $choices->[-1][1];
}

package EdpScenario;

# ------------------------------------------------------------------------
# time: instants are integers, microseconds since 1970-01-01 00:00 UTC
# ------------------------------------------------------------------------
my $DAY_US = 86_400_000_000;

sub days_from_civil
{
	my ($y, $m, $d) = @_;
	$y -= 1 if $m <= 2;
	my $era = int($y / 400);
	my $yoe = $y - $era * 400;
	my $mp = $m > 2 ? $m - 3 : $m + 9;
	my $doy = int((153 * $mp + 2) / 5) + $d - 1;
	my $doe = $yoe * 365 + int($yoe / 4) - int($yoe / 100) + $doy;
	return $era * 146097 + $doe - 719468;
}

sub civil_from_days
{
	my $z = shift() + 719468;
	my $era = int($z / 146097);
	my $doe = $z - $era * 146097;
	my $yoe = int(($doe - int($doe / 1460) + int($doe / 36524) - int($doe / 146096)) / 365);
	my $y = $yoe + $era * 400;
	my $doy = $doe - (365 * $yoe + int($yoe / 4) - int($yoe / 100));
	my $mp = int((5 * $doy + 2) / 153);
	my $d = $doy - int((153 * $mp + 2) / 5) + 1;
	my $m = $mp < 10 ? $mp + 3 : $mp - 9;
	$y++ if $m <= 2;
	return ($y, $m, $d);
}

# local wall-clock text of instant $us at UTC offset $offmin minutes
sub wall_clock
{
	my ($us, $offmin, $digits, $sep) = @_;
	my $l = $us + $offmin * 60_000_000;
	my $days = int($l / $DAY_US);
	my $rem = $l - $days * $DAY_US;
	my ($y, $m, $d) = civil_from_days($days);
	my $sec = int($rem / 1_000_000);
	my $frac = $rem - $sec * 1_000_000;
	my $s = sprintf('%04d-%02d-%02d%s%02d:%02d:%02d', $y, $m, $d, $sep // ' ',
		int($sec / 3600), int(($sec % 3600) / 60), $sec % 60);
	my $f = sprintf('%06d', $frac);
	(my $needed = $f) =~ s/0+$//;
	$digits = length($needed) if !defined($digits) || $digits < length($needed);
	$s .= '.' . substr($f, 0, $digits) if $digits > 0;
	return $s;
}

sub utc_literal { my ($us) = @_; return wall_clock($us, 0, undef, ' ') . '+00'; }
sub day_of { my ($us) = @_; return int($us / $DAY_US); }

sub ymd
{
	my ($day) = @_;
	my ($y, $m, $d) = civil_from_days($day);
	return sprintf('%04d%02d%02d', $y, $m, $d);
}

my $DAY0 = days_from_civil(2024, 3, 1);
my $FAR_DAY = days_from_civil(2019, 6, 15);
my $TRIP_DAY0 = days_from_civil(2018, 4, 2);    # a Monday

# offsets a timestamp may be written with: [text, minutes east of UTC];
# '' is a naive timestamp (UTC under edp's policy for event tables)
my @OFFSETS = ([ '+00', 0 ], [ 'Z', 0 ], [ '+00:00', 0 ], [ '+05:30', 330 ],
	[ '-03', -180 ], [ '+01', 60 ], [ '-07:00', -420 ], [ '', 0 ]);

my @TYPES = ('login', 'buy', 'Pay-Out', 'refund');
my @CANON = qw(eid cust etype txn ts m_one m_two event_metrics note);
my %IS_CANON = map { $_ => 1 } @CANON;

# ------------------------------------------------------------------------
# the oracle's SQL: functions in schema oracle, created once per cluster
# ------------------------------------------------------------------------
our $ORACLE_SQL = <<'EOSQL';
CREATE SCHEMA oracle;

-- what flattening must put into a metric column: the key's value when jsonb
-- holds it as an integer (no fraction, no exponent left) within the column
CREATE FUNCTION oracle.flat_val(doc jsonb, key text, bytes int) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(doc -> 'metrics') = 'object'
                 AND jsonb_typeof(doc -> 'metrics' -> key) = 'number'
                 AND (doc -> 'metrics' ->> key) ~ '^-?[0-9]+$'
                 AND (doc -> 'metrics' ->> key)::numeric
                     BETWEEN CASE bytes WHEN 4 THEN -2147483648 ELSE -9223372036854775808 END
                         AND CASE bytes WHEN 4 THEN 2147483647 ELSE 9223372036854775807 END
           THEN (doc -> 'metrics' ->> key)::numeric::bigint END
$$;

CREATE FUNCTION oracle.set_metric(doc jsonb, key text, v bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL OR (doc -> 'metrics') ? key THEN doc
                ELSE jsonb_set(doc, ARRAY['metrics', key], to_jsonb(v)) END
$$;

-- dedupe of the rows that arrived after seq "base", by the documented rules:
-- first: a new row goes when an earlier row (smaller seq) has its key;
-- latest: per key touched, the largest order_by survives (NULL smallest),
-- ties to the earliest arrival.  NULL in a key column: never a duplicate.
CREATE FUNCTION oracle.dedupe(mirror regclass, base bigint, mode text, cols text[], ordercol text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    eq text;
    nn text;
    n bigint := 0;
BEGIN
    IF mode IS NULL OR mode = 'none' THEN
        RETURN 0;
    END IF;
    SELECT string_agg(format('o.%1$I = m.%1$I', c), ' AND '), string_agg(format('m.%I IS NOT NULL', c), ' AND ')
      INTO eq, nn FROM unnest(cols) c;
    IF mode = 'first' THEN
        EXECUTE format('DELETE FROM %s m WHERE m.seq > $1 AND %s AND EXISTS (SELECT FROM %s o WHERE %s AND o.seq < m.seq)',
                       mirror, nn, mirror, eq) USING base;
    ELSE
        EXECUTE format('DELETE FROM %1$s m USING (SELECT o.seq, row_number() OVER (PARTITION BY %2$s ORDER BY o.%3$I DESC NULLS LAST, o.seq) AS rn'
                       '  FROM %1$s o WHERE EXISTS (SELECT FROM %1$s m WHERE m.seq > $1 AND %4$s AND %5$s)) d'
                       ' WHERE m.seq = d.seq AND d.rn > 1',
                       mirror, (SELECT string_agg(format('o.%I', c), ', ') FROM unnest(cols) c), ordercol, nn, eq) USING base;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- the rows of the stage table (one logical statement, in ord order) arrive:
-- returns the mirror's net change
CREATE FUNCTION oracle.apply_ev(mirror regclass, stage regclass, base bigint, flatten bool,
                                mode text, cols text[], ordercol text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format($q$
        INSERT INTO %s (seq, eid, cust, etype, txn, ts, m_one, m_two, om, k_one, k_two, note)
        SELECT $1 + ord, eid, cust, etype, txn, ts,
               CASE WHEN $2 THEN coalesce(m_one, oracle.flat_val(event_metrics, 'm_one', 4)::int) ELSE m_one END,
               CASE WHEN $2 THEN coalesce(m_two, oracle.flat_val(event_metrics, 'm_two', 8)) ELSE m_two END,
               -- a metric the row gives itself while the document lacks its key comes
               -- back under that key (every metric column takes part); a key the
               -- document has stays in the overflow, so the document's value comes back
               CASE WHEN $2 AND jsonb_typeof(event_metrics -> 'metrics') = 'object' THEN
                    oracle.set_metric(oracle.set_metric(event_metrics, 'm_one', m_one), 'm_two', m_two)
                    ELSE event_metrics END,
               $2 AND m_one IS NOT NULL AND coalesce((event_metrics -> 'metrics') ? 'm_one', false),
               $2 AND m_two IS NOT NULL AND coalesce((event_metrics -> 'metrics') ? 'm_two', false),
               note
          FROM %s ORDER BY ord$q$, mirror, stage) USING base, flatten;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('TRUNCATE %s', stage);
    RETURN n - oracle.dedupe(mirror, base, mode, cols, ordercol);
END
$$;

-- every difference between the edp event table and the oracle, one text per
-- problem, "[category] what"
CREATE FUNCTION oracle.check_ev(tbl regclass, mirror regclass, flatten bool, rollup bool, part bool,
                                committed bool, dcols text[])
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    proj text;
    mproj text;
    t text;
    n bigint;
    n2 bigint;
    lo timestamptz;
    hi timestamptz;
    leaf regclass;
    isdef bool;
    par regclass;
    cons text;
    stale bool;
    keys text[];
BEGIN
    EXECUTE format('SELECT array_agg(k ORDER BY k) FROM (SELECT DISTINCT cust AS k FROM %s WHERE cust IS NOT NULL ORDER BY 1 LIMIT 8) x', mirror)
       INTO keys;
    keys := coalesce(keys, '{}') || '{c0}';
    proj := format('SELECT eid, cust, etype, txn, ts, m_one, m_two, %s AS om, note FROM %s e',
                   CASE WHEN flatten THEN 'edp.original_metrics(e)' ELSE 'e.event_metrics' END, tbl);
    mproj := format('SELECT eid, cust, etype, txn, ts, m_one, m_two, om, note FROM %s', mirror);
    EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL %s) x', proj, mproj) INTO n;
    EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL %s) x', mproj, proj) INTO n2;
    IF n > 0 OR n2 > 0 THEN
        RETURN NEXT format('[rows] the edp table has %s rows the oracle does not expect and lacks %s rows it expects', n, n2);
        FOR t IN EXECUTE format('SELECT row_to_json(x)::text FROM (%s EXCEPT ALL %s) x ORDER BY 1 LIMIT 6', proj, mproj) LOOP
            RETURN NEXT '    unexpected in edp: ' || t;
        END LOOP;
        FOR t IN EXECUTE format('SELECT row_to_json(x)::text FROM (%s EXCEPT ALL %s) x ORDER BY 1 LIMIT 6', mproj, proj) LOOP
            RETURN NEXT '    missing from edp:  ' || t;
        END LOOP;
        IF dcols IS NOT NULL THEN
            EXECUTE format('SELECT count(*) FROM (SELECT FROM %s WHERE %s GROUP BY %s HAVING count(*) > 1) d', tbl,
                           (SELECT string_agg(format('%I IS NOT NULL', c), ' AND ') FROM unnest(dcols) c),
                           (SELECT string_agg(format('%I', c), ', ') FROM unnest(dcols) c)) INTO n;
            EXECUTE format('SELECT count(*) FROM (SELECT FROM %s WHERE %s GROUP BY %s HAVING count(*) > 1) d', mirror,
                           (SELECT string_agg(format('%I IS NOT NULL', c), ' AND ') FROM unnest(dcols) c),
                           (SELECT string_agg(format('%I', c), ', ') FROM unnest(dcols) c)) INTO n2;
            IF n <> n2 THEN
                RETURN NEXT format('    dedupe key %s: %s keys held more than once in edp, %s in the oracle', dcols, n, n2);
            END IF;
        END IF;
    END IF;

    IF part THEN
        FOR leaf, isdef, par IN
            SELECT t.relid, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', t.parentrelid
              FROM pg_partition_tree(tbl) t JOIN pg_class c ON c.oid = t.relid
             WHERE t.isleaf ORDER BY t.relid::regclass::text LOOP
            cons := pg_get_partition_constraintdef(leaf);
            IF cons IS NOT NULL THEN
                EXECUTE format('SELECT count(*) FROM ONLY %s WHERE (%s) IS NOT TRUE', leaf, cons) INTO n;
                IF n > 0 THEN
                    RETURN NEXT format('[partition] %s rows of %s are outside its partition bound', n, leaf);
                    FOR t IN EXECUTE format('SELECT row_to_json(x)::text FROM (SELECT eid, etype, ts, note FROM ONLY %s WHERE (%s) IS NOT TRUE) x ORDER BY 1 LIMIT 4', leaf, cons) LOOP
                        RETURN NEXT '    misplaced: ' || t;
                    END LOOP;
                END IF;
            END IF;
            IF committed AND isdef THEN
                EXECUTE format('SELECT count(*) FROM ONLY %s WHERE %s', leaf,
                               CASE WHEN par = tbl THEN 'ts IS NOT NULL' ELSE 'true' END) INTO n;
                IF n > 0 THEN
                    RETURN NEXT format('[partition] %s rows stay in DEFAULT partition %s after commit', n, leaf);
                END IF;
            END IF;
        END LOOP;
    END IF;

    IF rollup THEN
        SELECT e.rollup_stale INTO stale FROM edp.event_tables e WHERE e.relid = tbl;
        IF stale IS DISTINCT FROM false THEN
            RETURN NEXT format('[rollup] rollup_stale is %s', stale);
        END IF;
        EXECUTE format('SELECT count(*) FROM edp.verify_rollup(%L)', tbl) INTO n;
        IF n > 0 THEN
            RETURN NEXT format('[rollup] edp.verify_rollup finds %s differing buckets', n);
        END IF;
        EXECUTE format('SELECT min(ts), max(ts) FROM %s', mirror) INTO lo, hi;
        IF lo IS NOT NULL THEN
            lo := lo - interval '17 minutes';
            hi := hi + interval '43 minutes';
            FOR t IN EXECUTE format($q$
                WITH b AS (SELECT k, x.bucket_start, x.events FROM unnest($1) k,
                                  LATERAL edp.bucket_counts(%1$L::regclass, k, $2, $3, fill => false) x),
                     r AS (SELECT cust AS k, date_bin('1 hour', ts, '2000-01-01 00:00+00') AS bucket_start, count(*) AS events
                             FROM %1$s WHERE cust = ANY ($1) AND ts >= $2 AND ts < $3 GROUP BY 1, 2),
                     m AS (SELECT cust AS k, date_bin('1 hour', ts, '2000-01-01 00:00+00') AS bucket_start, count(*) AS events
                             FROM %2$s WHERE cust = ANY ($1) AND ts >= $2 AND ts < $3 GROUP BY 1, 2)
                SELECT '[buckets] bucket_counts ' || x.w || ': ' || row_to_json(x)::text FROM (
                    (SELECT 'has, table lacks' AS w, * FROM b EXCEPT SELECT 'has, table lacks', * FROM r)
                    UNION ALL (SELECT 'lacks, table has', * FROM r EXCEPT SELECT 'lacks, table has', * FROM b)
                    UNION ALL (SELECT 'has, oracle lacks', * FROM b EXCEPT SELECT 'has, oracle lacks', * FROM m)
                    UNION ALL (SELECT 'lacks, oracle has', * FROM m EXCEPT SELECT 'lacks, oracle has', * FROM b)) x
                 ORDER BY 1 LIMIT 8$q$, tbl, mirror) USING keys, lo, hi LOOP
                RETURN NEXT t;
            END LOOP;
            -- daily buckets, zero-filled, over the five days most rows are in
            FOR t IN EXECUTE format($q$
                WITH b AS (SELECT x.bucket_start, x.events
                             FROM edp.bucket_counts(%1$L::regclass, 'c1'::text, '2024-02-29 00:00+00', '2024-03-08 00:00+00', '1 day') x),
                     r AS (SELECT g AS bucket_start, (SELECT count(*) FROM %1$s WHERE cust = 'c1' AND ts >= g AND ts < g + interval '1 day') AS events
                             FROM generate_series('2024-02-29 00:00+00'::timestamptz, '2024-03-07 00:00+00', '1 day') g)
                SELECT '[buckets] daily bucket_counts of c1 ' || x.w || ': ' || row_to_json(x)::text FROM (
                    (SELECT 'has' AS w, * FROM b EXCEPT SELECT 'has', * FROM r)
                    UNION ALL (SELECT 'lacks', * FROM r EXCEPT SELECT 'lacks', * FROM b)) x
                 ORDER BY 1 LIMIT 4$q$, tbl) LOOP
                RETURN NEXT t;
            END LOOP;
        END IF;
    END IF;
END
$$;

-- trips: rows, both rollups, point blocks and weekly counts against brute force
CREATE FUNCTION oracle.check_trips(tbl regclass, mirror regclass, step int)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    wb text;
    wo text;
    we text;
    k int;
    cfg edp.trip_tables;
    proj text;
    mproj text;
    t text;
    n bigint;
    n2 bigint;
    a record;
    m text;
    ur boolean;
    got text;
    want text;
BEGIN
    SELECT * INTO cfg FROM edp.trip_tables WHERE relid = tbl;
    proj := format('SELECT region, public.ST_X(origin) AS ox, public.ST_Y(origin) AS oy, public.ST_X(destination) AS dx, '
                   'public.ST_Y(destination) AS dy, datetime, datasource FROM %s', tbl);
    mproj := format('SELECT region, ox, oy, dx, dy, datetime, datasource FROM %s', mirror);
    EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL %s) x', proj, mproj) INTO n;
    EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL %s) x', mproj, proj) INTO n2;
    IF n > 0 OR n2 > 0 THEN
        RETURN NEXT format('[trips-rows] the trips table has %s trips the oracle does not expect and lacks %s it expects', n, n2);
        FOR t IN EXECUTE format('SELECT row_to_json(x)::text FROM (%s EXCEPT ALL %s) x ORDER BY 1 LIMIT 4', proj, mproj) LOOP
            RETURN NEXT '    unexpected in edp: ' || t;
        END LOOP;
        FOR t IN EXECUTE format('SELECT row_to_json(x)::text FROM (%s EXCEPT ALL %s) x ORDER BY 1 LIMIT 4', mproj, proj) LOOP
            RETURN NEXT '    missing from edp:  ' || t;
        END LOOP;
    END IF;

    FOR t IN EXECUTE format($q$
        WITH c AS (SELECT ox, oy, dx, dy, week, trips FROM %1$s WHERE trips <> 0),
             b AS (SELECT floor(ox / $1)::int AS ox, floor(oy / $1)::int AS oy, floor(dx / $1)::int AS dx, floor(dy / $1)::int AS dy,
                          date_trunc('week', datetime)::date AS week, count(*) AS trips FROM (%2$s) p GROUP BY 1, 2, 3, 4, 5)
        SELECT '[trips-rollup] cell_weeks ' || x.w || ': ' || row_to_json(x)::text FROM (
            (SELECT 'has' AS w, * FROM c EXCEPT SELECT 'has', * FROM b)
            UNION ALL (SELECT 'lacks', * FROM b EXCEPT SELECT 'lacks', * FROM c)) x ORDER BY 1 LIMIT 4$q$,
        cfg.cell_weeks, proj) USING cfg.cell_size LOOP
        RETURN NEXT t;
    END LOOP;
    FOR t IN EXECUTE format($q$
        WITH c AS (SELECT region, week, trips FROM %1$s WHERE trips <> 0),
             b AS (SELECT region, date_trunc('week', datetime)::date AS week, count(*) AS trips FROM %2$s GROUP BY 1, 2)
        SELECT '[trips-rollup] region_weeks ' || x.w || ': ' || row_to_json(x)::text FROM (
            (SELECT 'has' AS w, * FROM c EXCEPT SELECT 'has', * FROM b)
            UNION ALL (SELECT 'lacks', * FROM b EXCEPT SELECT 'lacks', * FROM c)) x ORDER BY 1 LIMIT 4$q$,
        cfg.region_weeks, tbl) LOOP
        RETURN NEXT t;
    END LOOP;
    EXECUTE format($q$
        WITH b AS (SELECT k.kind, p.x, p.y, p.x2, p.y2, p.week FROM %1$s k, edp_internal.trip_block_points(k.kind, k.points) p),
             t AS (SELECT 1 AS kind, ox AS x, oy AS y, 0::float8 AS x2, 0::float8 AS y2, date_trunc('week', datetime)::date AS week FROM (%2$s) p
                   UNION ALL SELECT 2, dx, dy, 0, 0, date_trunc('week', datetime)::date FROM (%2$s) p
                   UNION ALL SELECT 3, ox, oy, dx, dy, date_trunc('week', datetime)::date FROM (%2$s) p)
        SELECT (SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM t) x),
               (SELECT count(*) FROM (SELECT * FROM t EXCEPT ALL SELECT * FROM b) x)$q$, cfg.point_blocks, proj) INTO n, n2;
    IF n > 0 OR n2 > 0 THEN
        RETURN NEXT format('[trips-blocks] point blocks hold %s points the table lacks and lack %s of its points', n, n2);
    END IF;
    EXECUTE format('SELECT count(*) FROM %s WHERE n <> length(points) / CASE kind WHEN 3 THEN 36 ELSE 20 END OR n > CASE kind WHEN 3 THEN 110 ELSE 200 END', cfg.point_blocks) INTO n;
    IF n > 0 THEN
        RETURN NEXT format('[trips-blocks] %s point blocks with a wrong count or too many points', n);
    END IF;

    -- weekly counts for a box holding everything, a city box on cell lines,
    -- a small box (point blocks), a tiny one; use_rollup NULL, true and false
    -- take turns from step to step
    FOR a IN SELECT * FROM (VALUES
                (0, 'all', -180::float8, -90::float8, 180::float8, 90::float8),
                (1, 'city', 14.40, 50.05, 14.45, 50.10),
                (2, 'small', 14.42, 50.07, 14.43, 50.08),
                (3, 'tiny', 14.434, 50.074, 14.436, 50.076)) v(i, name, x1, y1, x2, y2) LOOP
        EXECUTE format($q$
            WITH p AS (%1$s),
                 s AS (SELECT min(datetime) AS lo, max(datetime) AS hi FROM p),
                 f AS (SELECT date_trunc('week', datetime) AS w,
                              (ox BETWEEN $1 AND $3 AND oy BETWEEN $2 AND $4) AS o,
                              (dx BETWEEN $1 AND $3 AND dy BETWEEN $2 AND $4) AS d FROM p),
                 c AS (SELECT g::date AS w, count(*) FILTER (WHERE o AND d) AS b, count(*) FILTER (WHERE o) AS o,
                              count(*) FILTER (WHERE o OR d) AS e
                         FROM s, generate_series(date_trunc('week', s.lo), s.hi, interval '7 days') g
                         LEFT JOIN f ON f.w = g GROUP BY 1)
            SELECT string_agg(w || ':' || b, ' ' ORDER BY w), string_agg(w || ':' || o, ' ' ORDER BY w),
                   string_agg(w || ':' || e, ' ' ORDER BY w) FROM c$q$, mproj)
           INTO wb, wo, we USING a.x1, a.y1, a.x2, a.y2;
        FOR k IN 0 .. 2 LOOP
            m := (ARRAY['both', 'origin', 'either'])[k + 1];
            want := (ARRAY[wb, wo, we])[k + 1];
            ur := (ARRAY[NULL, true, false]::boolean[])[(step + a.i + k) % 3 + 1];
            EXECUTE format($q$SELECT string_agg(week_start || ':' || trips, ' ' ORDER BY week_start)
                                FROM edp.weekly_trip_counts(%L::regclass, public.ST_MakeEnvelope($1, $2, $3, $4, 4326), $5,
                                                            'UTC', NULL, NULL, $6)$q$, tbl)
               INTO got USING a.x1, a.y1, a.x2, a.y2, m, ur;
            IF got IS DISTINCT FROM want THEN
                RETURN NEXT format('[trips-weekly] weekly_trip_counts %s box, %s, use_rollup %s: %s, brute force %s',
                                   a.name, m, coalesce(ur::text, 'NULL'), coalesce(got, '(none)'), coalesce(want, '(none)'));
            END IF;
        END LOOP;
    END LOOP;
    EXECUTE format($q$
        WITH p AS (SELECT * FROM %1$s), s AS (SELECT min(datetime) AS lo, max(datetime) AS hi FROM p)
        SELECT string_agg(g::date || ':' || (SELECT count(*) FROM p WHERE region = 'Prague' AND date_trunc('week', datetime) = g), ' ' ORDER BY g)
          FROM s, generate_series(date_trunc('week', s.lo), s.hi, interval '7 days') g$q$, mirror) INTO want;
    EXECUTE format($q$SELECT string_agg(week_start || ':' || trips, ' ' ORDER BY week_start)
                        FROM edp.region_weekly_trip_counts(%L::regclass, 'Prague')$q$, tbl) INTO got;
    IF got IS DISTINCT FROM want THEN
        RETURN NEXT format('[trips-weekly] region_weekly_trip_counts Prague: %s, brute force %s', coalesce(got, '(none)'), coalesce(want, '(none)'));
    END IF;
END
$$;
EOSQL

# ------------------------------------------------------------------------
# generation: a scenario is a pure function of its seed
# ------------------------------------------------------------------------

sub gen_metric_val
{
	my ($r) = @_;
	return $r->weighted([
			[ 55, sub { '' . $r->below(1001) } ],
			[ 5, sub { '-' . (1 + $r->below(50)) } ],
			[ 7, sub { '99999999999' } ],
			[ 4, sub { '3000000000' } ],
			[ 5, sub { '1.5' } ],
			[ 5, sub { '"5"' } ],
			[ 4, sub { 'null' } ],
			[ 3, sub { '1e3' } ],
			[ 3, sub { '1.0' } ],
			[ 4, sub { '0' } ],
			[ 2, sub { '{"a": 1}' } ],
			[ 2, sub { '[7]' } ],
		])->();
}

# a metrics document: undef (no document) or {raw => text} or {top, metrics}
sub gen_doc
{
	my ($r) = @_;
	my $k = $r->below(100);
	return undef if $k < 8;
	return { raw => '{}' } if $k < 11;
	return { raw => '[1, 2]' } if $k < 13;
	my @m;
	for my $key (qw(m_one m_two m_x))
	{
		next if $r->chance($key eq 'm_x' ? 0.75 : 0.2);
		push @m, [ $key, gen_metric_val($r) ];
	}
	my $dup = 0;
	if (@m && $r->chance(0.03))
	{
		push @m, [ $m[0][0], gen_metric_val($r) ];    # a repeated key: the last one wins
		$dup = 1;
	}
	return { top => ($r->chance(0.1) ? [ [ 'src', '"app"' ] ] : []), metrics => \@m, dup => $dup };
}

sub render_doc
{
	my ($r, $doc) = @_;
	return '' unless defined $doc;
	return $doc->{raw} if defined $doc->{raw};
	my $sp = $r->chance(0.7) ? ' ' : '';
	my $m = $doc->{dup} ? $doc->{metrics} : $r->shuffle($doc->{metrics});
	my $inner = '{' . join(",$sp", map { "\"$_->[0]\":$sp$_->[1]" } @$m) . '}';
	my @top = (@{ $doc->{top} }, [ 'metrics', $inner ]);
	@top = @{ $r->shuffle(\@top) };
	return '{' . join(",$sp", map { "\"$_->[0]\":$sp$_->[1]" } @top) . '}';
}

sub doc_has_metrics_object { my ($doc) = @_; return defined($doc) && !defined($doc->{raw}); }

sub gen_pool
{
	my ($r) = @_;
	my $n = 8 + $r->below(20);
	my @pool;
	for my $i (1 .. $n)
	{
		my $base_day = $r->chance(0.03) ? $FAR_DAY + $r->below(2) : $DAY0 + $r->below(5);
		my $tod = $r->weighted([ [ 90, sub { $r->below(86_400_000) * 1000 } ],
				[ 4, sub { 0 } ], [ 4, sub { $DAY_US - 1000 } ], [ 2, sub { 12 * 3_600_000_000 } ] ])->();
		my $t = $base_day * $DAY_US + $tod;
		my @versions;
		my $nv = 1 + $r->below(3);
		for my $v (1 .. $nv)
		{
			if ($v > 1)
			{
				$t += $r->pick([ 1_000_000, 37 * 60_000_000, 5 * 3_600_000_000, $DAY_US,
						-2 * 3_600_000_000, -26 * 3_600_000_000, 999_000 ]);
			}
			push @versions, { v => $v, ts => ($r->chance(0.03) ? undef : $t), doc => gen_doc($r) };
		}
		push @pool, {
			eid => ($r->chance(0.05) ? undef : $i),
			cust => ($r->chance(0.06) ? undef : 'c' . (1 + $r->below(5))),
			etype => ($r->chance(0.06) ? undef : $r->pick(\@TYPES)),
			txn => 1 + $r->below(9),
			versions => \@versions,
		};
	}
	return \@pool;
}

sub render_ts
{
	my ($r, $us, $no_naive) = @_;
	return '' unless defined $us;
	my $o = $r->pick(\@OFFSETS);
	$o = $OFFSETS[0] if $no_naive && $o->[0] eq '';
	my $digits = $r->pick([ 0, 3, 3, 6, 6, 2 ]);
	my $sep = $r->chance(0.1) ? 'T' : ' ';
	return wall_clock($us, $o->[1], $digits, $sep) . $o->[0];
}

# one emitted event row: field texts ('' is NULL) plus what it came from
sub make_row
{
	my ($g, $e, $ver, $note, $no_naive) = @_;
	my $r = $g->{r};
	# (rows of concurrent loads name their offset: INSERT reads a naive time
	# in the session's zone, which could move it to a day without partition)
	my %f = (
		eid => defined $e->{eid} ? "$e->{eid}" : '',
		cust => $e->{cust} // '',
		etype => $e->{etype} // '',
		txn => "$e->{txn}",
		ts => render_ts($r, $ver->{ts}, $no_naive),
		m_one => '',
		m_two => '',
		event_metrics => render_doc($r, $ver->{doc}),
		note => $note);
	my $flatten = $g->{s}{ev}{flatten};
	if (!$flatten)
	{
		$f{m_one} = '' . $r->below(100) if $r->chance(0.2);
		$f{m_two} = '' . $r->below(100000) if $r->chance(0.2);
	}
	elsif (doc_has_metrics_object($ver->{doc}) && $r->chance(0.1))
	{
		# a value the row gives the column itself (a row without a document
		# never does: its metric columns would read back as a document)
		$f{ $r->pick([qw(m_one m_two)]) } = '' . (7000 + $r->below(100));
	}
	return { f => \%f, ts => $ver->{ts} };
}

sub restricted_versions
{
	my ($g) = @_;
	my %days = map { $_ => 1 } @{ $g->{anchor_days} };
	my @c;
	for my $e (@{ $g->{s}{pool} })
	{
		for my $v (@{ $e->{versions} })
		{
			push @c, [ $e, $v ] if defined $v->{ts} && $days{ day_of($v->{ts}) };
		}
	}
	return \@c;
}

# n event rows; restrict: only days (and types) that have partitions already
sub gen_ev_rows
{
	my ($g, $n, $tag, %o) = @_;
	my $r = $g->{r};
	my $pool = $g->{s}{pool};
	my @rows;
	my $cands = $o{restrict} ? restricted_versions($g) : undef;
	for my $i (0 .. $n - 1)
	{
		my ($e, $v);
		if ($cands && @$cands && $r->chance(0.8))
		{
			($e, $v) = @{ $r->pick($cands) };
		}
		elsif ($cands)
		{
			$e = $r->pick($pool);
			$v = { v => 'c', doc => gen_doc($r),
				ts => $r->pick($g->{anchor_days}) * $DAY_US + $r->below(86_400_000) * 1000 };
		}
		else
		{
			$e = $r->pick($pool);
			$v = $r->pick($e->{versions});
		}
		push @rows, make_row($g, $e, $v, "v$v->{v}/$tag/r$i", $o{restrict});
	}
	# copies inside the input: the same event, its time written another way
	if (@rows && $r->chance(0.35))
	{
		for (1 .. 1 + $r->below(3))
		{
			my $src = $rows[ $r->below(scalar @rows) ];
			my %f = %{ $src->{f} };
			$f{ts} = render_ts($r, $src->{ts}, $o{restrict}) if $f{ts} ne '';
			$f{note} .= '+d' if $r->chance(0.6);
			my $pos = $r->below(scalar(@rows) + 1);
			splice(@rows, $pos, 0, { f => \%f, ts => $src->{ts} });
		}
	}
	return \@rows;
}

# make a row bad in one of the ways validated ingest must quarantine
sub make_bad
{
	my ($g, $row, $cols) = @_;
	my $r = $g->{r};
	my %has = map { $_ => 1 } @$cols;
	my @kinds = ('ts', 'eid', 'txn', 'json', 'fields');
	push @kinds, 'm_two' if $has{m_two};
	my $kind = $r->pick(\@kinds);
	my %f = %{ $row->{f} };
	if ($kind eq 'ts') { $f{ts} = $r->pick([ 'not a time', '2024-02-30 10:00:00+00', '2024-03-01 25:61:00' ]); }
	elsif ($kind eq 'eid') { $f{eid} = $r->pick([ 'x7', '1.5', '12abc' ]); }
	elsif ($kind eq 'txn') { $f{txn} = '99999999999'; }
	elsif ($kind eq 'json') { $f{event_metrics} = $r->pick([ '{"metrics": {"m_one": 1,}}', '{"metrics": ', '{metrics}' ]); }
	elsif ($kind eq 'm_two') { $f{m_two} = $r->pick([ '7.5', 'abc' ]); }
	return { f => \%f, bad => $kind, extra => ($kind eq 'fields') };
}

sub gen_cols
{
	my ($r) = @_;
	my $k = $r->below(100);
	return [@CANON] if $k < 60;
	return $r->shuffle(\@CANON) if $k < 85;
	my @c = grep { !($_ =~ /^(m_one|m_two|note)$/ && $r->chance(0.5)) } @CANON;
	return $r->chance(0.5) ? $r->shuffle(\@c) : \@c;
}

sub new_tag { my ($g) = @_; return 'o' . (++$g->{tagn}); }

sub gen_copy
{
	my ($g, %o) = @_;
	my $r = $g->{r};
	my $tag = new_tag($g);
	my $cols = gen_cols($r);
	my $rows = gen_ev_rows($g, 2 + $r->below(20), $tag, %o);
	if (!$o{no_bad} && $r->chance(0.15))
	{
		my $i = $r->below(scalar @$rows);
		$rows->[$i] = make_bad($g, $rows->[$i], $cols);
	}
	return { type => 'copy', tag => $tag, cols => $cols, header => $r->chance(0.3), rows => $rows };
}

sub gen_ingest
{
	my ($g, $type, %o) = @_;
	my $r = $g->{r};
	my $tag = new_tag($g);
	my $header = $r->chance(0.9);
	my $cols = $header ? gen_cols($r) : [@CANON];
	my $rows = gen_ev_rows($g, 3 + $r->below(28), $tag, %o);
	my @all;
	for my $row (@$rows)
	{
		# (not on the first line without a header: the delimiter is guessed
		# from the first line)
		if ($r->chance(0.04) && ($header || @all)) { push @all, { blank => 1 }; }
		if ($r->chance(0.02)) { push @all, { allnull => 1 }; }
		push @all, ($o{no_bad} || !$r->chance(0.08)) ? $row : make_bad($g, $row, $cols);
	}
	push @all, { blank => 1 } if $r->chance(0.1);
	my $delim = $r->chance(0.2) ? ';' : ',';
	return {
		type => $type, tag => $tag, cols => $cols, header => $header, rows => \@all,
		delim => $delim, pass_delim => ($delim ne ',' && $r->chance(0.5)),
		batch_size => ($r->chance(0.3) ? undef : $r->pick([ 1, 2, 3, 3, 4, 5, 7, 10, 50 ])),
		force => $r->chance(0.3), upper => $header && $r->chance(0.15),
		reject_limit => (!$o{no_bad} && $type ne 'ingest_async' && $r->chance(0.08)) ? 0 : undef,
	};
}

sub gen_insert_values
{
	my ($g, %o) = @_;
	my $r = $g->{r};
	my $tag = new_tag($g);
	my $rows = gen_ev_rows($g, 1 + $r->below(8), $tag, %o);
	return { type => 'insert_values', tag => $tag, cols => [@CANON], rows => $rows };
}

sub gen_pred
{
	my ($g) = @_;
	my $r = $g->{r};
	return $r->weighted([
			[ 3, sub { "cust = 'c" . (1 + $r->below(5)) . "'" } ],
			[ 2, sub { 'eid % 3 = ' . $r->below(3) } ],
			[ 2, sub { "note LIKE 'v" . (1 + $r->below(3)) . "/%'" } ],
			[ 1, sub { 'etype IS NULL' } ],
			[ 2, sub { "etype = '" . $r->pick(\@TYPES) . "'" } ],
			[ 2, sub { "ts < '" . utc_literal(($DAY0 + 1 + $r->below(4)) * $DAY_US) . "'" } ],
			[ 1, sub { 'txn = ' . (1 + $r->below(9)) } ],
		])->();
}

sub gen_update
{
	my ($g, %o) = @_;
	my $r = $g->{r};
	my $tag = new_tag($g);
	my $n = $g->{tagn};
	my $us = ($n * 37) % 998 + 1;    # never a multiple of 1000: no row's time collides with another's
	my $kind = $r->weighted([ [ 4, 'ts' ], [ 2, 'cust' ], [ 3, 'metric' ], [ 2, 'doc' ], [ 1, 'note' ] ]);
	my $op = { type => 'update', tag => $tag, kind => $kind, pred => gen_pred($g) };
	if ($kind eq 'ts')
	{
		my $h = $r->pick([ 1, 3, 20, 24, 30, -5, -24 ]);
		$op->{set_ts} = sprintf("interval '%d hours %d minutes' + interval '%d microseconds'", $h, $r->below(60), $us);
		$op->{txn_shift} = 1000 * $n;
	}
	elsif ($kind eq 'cust')
	{
		$op->{cust} = $r->pick([ 'c1', 'c2', 'c9' ]);
		$op->{txn_shift} = 1000 * $n;
		# with cust in the dedupe key, rows differing only in cust must stay apart
		my $d = $g->{s}{ev}{dedupe};
		$op->{cust_keeps_old} = $d && grep { $_ eq 'cust' } @{ $d->{cols} };
	}
	elsif ($kind eq 'doc')
	{
		my $doc = gen_doc($r);
		$doc = { top => [], metrics => [ [ 'm_one', '5' ] ], dup => 0 } unless defined $doc;
		$op->{doc} = render_doc($r, $doc);
	}
	if ($o{leaf})
	{
		$op->{leaf_day} = $r->pick($g->{anchor_days});
		if ($kind eq 'ts')    # a partition's own UPDATE cannot move rows out of it
		{
			my $d = $g->{s}{ev}{dedupe};
			$op->{kind} = 'cust';
			$op->{cust} = 'c2';
			$op->{cust_keeps_old} = $d && grep { $_ eq 'cust' } @{ $d->{cols} };
			delete $op->{set_ts};
		}
	}
	return $op;
}

sub gen_insert_select
{
	my ($g) = @_;
	my $r = $g->{r};
	my $tag = new_tag($g);
	return { type => 'insert_select', tag => $tag, pred => gen_pred($g),
		shift => $r->pick([ '', '', '', " + interval '1 day'", " - interval '3 hours'", " + interval '90 minutes'" ]) };
}

sub gen_delete
{
	my ($g, %o) = @_;
	my $op = { type => 'delete', tag => new_tag($g), pred => gen_pred($g) };
	$op->{leaf_day} = $g->{r}->pick($g->{anchor_days}) if $o{leaf};
	return $op;
}

sub gen_load
{
	my ($g, %o) = @_;
	my $r = $g->{r};
	my $t = $r->weighted([ [ 4, 'copy' ], [ 4, 'ingest_data' ], [ 2, 'ingest_file' ], [ 2, 'insert_values' ] ]);
	return gen_copy($g, %o) if $t eq 'copy';
	return gen_insert_values($g, %o) if $t eq 'insert_values';
	return gen_ingest($g, $t, %o);
}

sub gen_txn
{
	my ($g) = @_;
	my $r = $g->{r};
	my @subs;
	for (1 .. 2 + $r->below(3))
	{
		my $t = $r->weighted([ [ 3, 'copy' ], [ 3, 'ingest_data' ], [ 1, 'ingest_file' ], [ 2, 'insert_values' ],
				[ 1, 'insert_select' ], [ 2, 'update' ], [ 1, 'delete' ], [ 1, 'savepoint_bad' ] ]);
		if ($t eq 'copy') { push @subs, gen_copy($g, no_bad => 1); }
		elsif ($t eq 'ingest_data' || $t eq 'ingest_file') { push @subs, gen_ingest($g, $t, no_reject_limit => 1); $subs[-1]{reject_limit} = undef; }
		elsif ($t eq 'insert_values') { push @subs, gen_insert_values($g); }
		elsif ($t eq 'insert_select') { push @subs, gen_insert_select($g); }
		elsif ($t eq 'update') { push @subs, gen_update($g); }
		elsif ($t eq 'delete') { push @subs, gen_delete($g); }
		else
		{
			my $c = gen_copy($g, no_bad => 1);
			my $i = $r->below(scalar @{ $c->{rows} });
			$c->{rows}[$i] = make_bad($g, $c->{rows}[$i], $c->{cols});
			push @subs, { type => 'savepoint_bad', tag => $c->{tag}, copy => $c };
		}
	}
	return { type => 'txn', tag => new_tag($g), subs => \@subs, end => ($r->chance(0.55) ? 'ROLLBACK' : 'COMMIT') };
}

sub gen_concurrent
{
	my ($g) = @_;
	my $r = $g->{r};
	my %o = (no_bad => 1, restrict => ($g->{s}{ev}{part} ? 1 : 0));
	my $pick = sub {
		my $t = $r->weighted([ [ 3, 'copy' ], [ 2, 'insert_values' ], [ 3, 'ingest_data' ] ]);
		my $op = $t eq 'copy' ? gen_copy($g, %o) : $t eq 'insert_values' ? gen_insert_values($g, %o) : gen_ingest($g, $t, %o);
		$op->{reject_limit} = undef;
		return $op;
	};
	my $a = $pick->();
	my $b = $pick->();
	# overlap: B also sends some of A's rows (with B's notes)
	my @ar = grep { $_->{f} && !$_->{bad} } @{ $a->{rows} };
	for (1 .. 1 + $r->below(4))
	{
		last unless @ar;
		my $src = $r->pick(\@ar);
		my %f = %{ $src->{f} };
		$f{note} = "$f{note}/$b->{tag}";
		splice(@{ $b->{rows} }, $r->below(scalar(@{ $b->{rows} }) + 1), 0, { f => \%f, ts => $src->{ts} });
	}
	return { type => 'concurrent', tag => new_tag($g), a => $a, b => $b };
}

# --- trips ---------------------------------------------------------------

sub coord
{
	my ($r, $base, $span, $lines) = @_;
	my $micro = $r->chance(0.15) ? $r->pick($lines) : $base + $r->below($span);
	my $int = int($micro / 1_000_000);
	(my $frac = sprintf('%06d', $micro - $int * 1_000_000)) =~ s/0+$//;
	return $frac eq '' ? "$int" : "$int.$frac";
}

sub gen_trip_pool
{
	my ($r) = @_;
	my @xl = (14_400_000, 14_420_000, 14_430_000, 14_436_000, 14_450_000, 14_460_000);
	my @yl = (50_050_000, 50_070_000, 50_074_000, 50_080_000, 50_100_000);
	my @pool;
	for (1 .. 8 + $r->below(20))
	{
		my $t = ($TRIP_DAY0 + $r->below(35)) * $DAY_US + $r->below(86_400_000) * 1000;
		$t = ($TRIP_DAY0 + 7 * $r->below(5)) * $DAY_US + $r->pick([ 0, -1 ]) if $r->chance(0.06);
		push @pool, {
			region => $r->pick([ 'Prague', 'Prague', 'Prague-East', 'Brno' ]),
			o => [ coord($r, 14_395_000, 70_000, \@xl), coord($r, 50_045_000, 60_000, \@yl) ],
			d => [ coord($r, 14_395_000, 70_000, \@xl), coord($r, 50_045_000, 60_000, \@yl) ],
			t => $t,
			src => $r->pick([qw(src1 src2 src3)]),
		};
	}
	return \@pool;
}

sub wkt
{
	my ($r, $p) = @_;
	my $f = $r->pick([ 'POINT (%s %s)', 'POINT(%s %s)', 'SRID=4326;POINT(%s %s)', 'point ( %s %s )' ]);
	return sprintf($f, @$p);
}

sub gen_trip_rows
{
	my ($g, $n, $tag) = @_;
	my $r = $g->{r};
	my @rows;
	for my $i (0 .. $n - 1)
	{
		my $p = $r->pick($g->{s}{tpool});
		my $t = $r->chance(0.3) ? $p->{t} + $r->below(86_400) * 1_000_000 : $p->{t};
		push @rows, { region => $p->{region}, o => $p->{o}, d => $p->{d},
			dt => wall_clock($t, 0, $r->pick([ 0, 3, 6 ]), ' '),
			src => ($r->chance(0.3) ? "$p->{src}/$tag" : $p->{src}) };
	}
	return \@rows;
}

sub make_bad_trip
{
	my ($g, $row) = @_;
	my $r = $g->{r};
	my %b = %$row;
	my $kind = $r->pick([qw(point region datetime)]);
	$b{bad} = $kind;
	$b{bad_point} = 'POINT (14.3 50.' if $kind eq 'point';
	$b{region} = undef if $kind eq 'region';
	$b{dt} = 'not a time' if $kind eq 'datetime';
	return \%b;
}

sub gen_trips_op
{
	my ($g, %o) = @_;
	my $r = $g->{r};
	my $tag = new_tag($g);
	my $t = $o{type} // $r->weighted([ [ 4, 'trips_copy' ], [ 3, 'trips_ingest' ], [ 3, 'trips_insert' ], [ 2, 'trips_update' ],
			[ 2, 'trips_delete' ], [ 1, 'trips_truncate' ], [ 2, 'trips_concurrent' ], [ 1, 'trips_txn' ] ]);
	my $op = { type => $t, tag => $tag };
	if ($t eq 'trips_copy' || $t eq 'trips_ingest' || $t eq 'trips_insert')
	{
		$op->{rows} = gen_trip_rows($g, ($t eq 'trips_insert' ? 1 + $r->below(6) : 2 + $r->below(25)), $tag);
		if ($t ne 'trips_insert' && $r->chance($t eq 'trips_copy' ? 0.12 : 0.3))
		{
			my $i = $r->below(scalar @{ $op->{rows} });
			$op->{rows}[$i] = make_bad_trip($g, $op->{rows}[$i]);
		}
		$op->{batch_size} = $r->pick([ undef, 2, 3, 5, 50 ]) if $t eq 'trips_ingest';
	}
	elsif ($t eq 'trips_update')
	{
		$op->{kind} = $r->pick([qw(time point)]);
		$op->{pred} = $r->pick([ "region = 'Prague'", "datasource = 'src2'", "region = 'Brno'", "datetime < '2018-04-20'" ]);
		$op->{delta} = $r->pick([ "interval '3 days 2 hours'", "interval '-1 day'", "interval '7 days'" ]);
		$op->{dx} = $r->pick([ '0.0013', '-0.002', '0.01' ]);
	}
	elsif ($t eq 'trips_delete')
	{
		$op->{pred} = $r->pick([ "region = 'Prague-East'", "datasource = 'src1'", "datetime >= '2018-04-23'", "region = 'Prague' AND datasource = 'src3'" ]);
	}
	elsif ($t eq 'trips_concurrent')
	{
		$op->{a} = gen_trip_rows($g, 2 + $r->below(15), "${tag}a");
		$op->{b} = gen_trip_rows($g, 2 + $r->below(15), "${tag}b");
		push @{ $op->{b} }, @{ $op->{a} }[ 0 .. $r->below(scalar @{ $op->{a} }) ];
	}
	elsif ($t eq 'trips_txn')
	{
		$op->{rows} = gen_trip_rows($g, 2 + $r->below(10), $tag);
		$op->{pred} = "region = 'Prague'";
		$op->{end} = $r->chance(0.6) ? 'ROLLBACK' : 'COMMIT';
	}
	return $op;
}

sub gen_scenario
{
	my ($seed) = @_;
	my $r = EdpScenario::Rng->new($seed);
	my $s = { seed => $seed, tz => $r->pick([ 'UTC', 'UTC', 'America/New_York', 'Asia/Kolkata' ]) };
	my $g = { r => $r, s => $s, tagn => 0, anchor_days => [ $DAY0, $DAY0 + 1, $DAY0 + 2 ] };
	my $has_ev = $r->chance(0.9);
	my $has_trips = !$has_ev || $r->chance(0.3);
	my @setup;
	my @late;
	if ($has_ev)
	{
		my $f = {};
		$f->{flatten} = $r->chance(0.5);
		$f->{part} = $r->chance(0.45) ? { type => $r->chance(0.5) } : undef;
		if ($r->chance(0.6))
		{
			$f->{rollup} = { raw_index => $r->pick([qw(btree btree brin none)]) };
			$f->{rollup}{late} = $r->chance(0.3);
		}
		if ($r->chance(0.6))
		{
			if ($r->chance(0.55))
			{
				$f->{dedupe} = { keep => 'first', cols => ($r->chance(0.7) ? [qw(cust ts etype txn)] : ['eid']) };
			}
			else
			{
				$f->{dedupe} = { keep => 'latest', cols => ['eid'], order_by => 'ts' };
			}
			$f->{dedupe}{late} = $r->chance(0.25);
		}
		$f->{rollup} = { raw_index => 'btree', late => 0 }
		  unless $f->{flatten} || $f->{part} || $f->{rollup} || $f->{dedupe};
		$s->{ev} = $f;
		$s->{pool} = gen_pool($r);
		push @setup, 'flatten' if $f->{flatten};
		push @setup, 'part' if $f->{part};
		for my $k (qw(rollup dedupe))
		{
			next unless $f->{$k};
			if ($f->{$k}{late}) { push @late, $k; }
			else { push @setup, $k; }
		}
		@setup = @{ $r->shuffle(\@setup) };
		# keep => 'latest' may leave order_by to the table's ts column, once
		# rollup or partitioning has named it
		if ($f->{dedupe} && $f->{dedupe}{keep} eq 'latest')
		{
			my %before;
			if ($f->{dedupe}{late}) { %before = map { $_ => 1 } @setup; }
			else { for my $k (@setup) { last if $k eq 'dedupe'; $before{$k} = 1; } }
			$f->{dedupe}{default_order} = ($before{rollup} || $before{part}) && $r->chance(0.5);
		}
	}
	if ($has_trips)
	{
		$s->{trips} = { cell_size => $r->pick([ '0.05', '0.01' ]) };
		$s->{tpool} = gen_trip_pool($r);
	}
	$s->{setup} = \@setup;

	my @ops;
	my @loads;
	if ($has_ev && $s->{ev}{part})
	{
		# rows on the days (and of the types) that concurrent loads use, so
		# their partitions exist before two sessions write at once
		my @rows;
		my $i = 0;
		for my $day (@{ $g->{anchor_days} })
		{
			for my $type ($s->{ev}{part}{type} ? (@TYPES, undef) : ('buy'))
			{
				push @rows, { f => { eid => '', cust => 'c' . (1 + $i % 5), etype => $type // '', txn => 100 + $i,
						ts => utc_literal($day * $DAY_US + (3600 + $i * 61) * 1_000_000), m_one => '', m_two => '',
						event_metrics => '', note => "anchor$i" } };
				$i++;
			}
		}
		push @ops, { type => 'insert_values', tag => 'anchor', cols => [@CANON], rows => \@rows };
	}
	my $nops = 5 + $r->below(16);
	for my $k (1 .. $nops)
	{
		my $op;
		if ($has_trips && (!$has_ev || $r->chance(0.3)))
		{
			$op = gen_trips_op($g);
		}
		else
		{
			my $part = $s->{ev}{part};
			my $t = $r->weighted([
					[ 14, 'copy' ], [ 14, 'ingest_data' ], [ 7, 'ingest_file' ], [ 6, 'ingest_async' ],
					[ 8, 'insert_values' ], [ 5, 'insert_select' ], [ 9, 'update' ], [ 5, 'delete' ],
					[ 2, 'truncate' ], [ ($part ? 4 : 0), 'leaf' ], [ 5, 'txn' ], [ 5, 'concurrent' ],
					[ (@loads ? 6 : 0), 'reload' ] ]);
			if ($t eq 'copy') { $op = gen_copy($g); }
			elsif ($t =~ /^ingest_/) { $op = gen_ingest($g, $t); }
			elsif ($t eq 'insert_values') { $op = gen_insert_values($g); }
			elsif ($t eq 'insert_select') { $op = gen_insert_select($g); }
			elsif ($t eq 'update') { $op = gen_update($g); }
			elsif ($t eq 'delete') { $op = gen_delete($g); }
			elsif ($t eq 'truncate') { $op = { type => 'truncate', tag => new_tag($g) }; }
			elsif ($t eq 'leaf')
			{
				my $lt = $r->pick([qw(update delete truncate)]);
				$op = $lt eq 'update' ? gen_update($g, leaf => 1)
				  : $lt eq 'delete' ? gen_delete($g, leaf => 1)
				  : { type => 'truncate', tag => new_tag($g), leaf_day => $r->pick($g->{anchor_days}) };
			}
			elsif ($t eq 'txn') { $op = gen_txn($g); }
			elsif ($t eq 'concurrent') { $op = gen_concurrent($g); }
			else
			{
				my $src = $r->pick(\@loads);
				$op = { %$src, reload_of => $src->{tag}, tag => new_tag($g) };
				$op->{force} = $r->chance(0.5) if $op->{type} =~ /^ingest_/;
			}
			push @loads, $op if $op->{type} =~ /^(copy|ingest_data|ingest_file|ingest_async)$/ && !$op->{reload_of};
		}
		push @ops, $op;
	}
	# features enabled after data exists
	for my $k (@late)
	{
		my $pos = 1 + $r->below(scalar @ops);
		splice(@ops, $pos, 0, { type => "enable_$k", tag => new_tag($g) });
	}
	$s->{ops} = \@ops;
	return $s;
}

# ------------------------------------------------------------------------
# running: sessions
# ------------------------------------------------------------------------

sub new
{
	my ($class, %args) = @_;
	my $self = bless {
		node => $args{node},
		dir => $args{dir},
		banner => 0,
		shrink_budget => $args{shrink_budget} // 60,
		shrink_budget_each => $args{shrink_budget_each} // 20,
	}, $class;
	$self->{node}->safe_psql('postgres', $ORACLE_SQL);
	$self->connect_sessions;
	return $self;
}

sub connect_sessions
{
	my ($self) = @_;
	for my $name (qw(main a b))
	{
		my $s = $self->{node}->background_psql('postgres', on_error_stop => 0, timeout => 150);
		$self->{sess}{$name} = $s;
		my $res = $self->q($name, 'SELECT pg_backend_pid()');
		($self->{pid}{$name} = $res->{out}) =~ s/\s+//g;
	}
}

sub disconnect_sessions
{
	my ($self) = @_;
	for my $name (qw(main a b))
	{
		my $s = delete $self->{sess}{$name} or next;
		eval { $s->{run}->kill_kill; 1 };
	}
}

# send SQL to a session without waiting for it
sub send
{
	my ($self, $name, $sql) = @_;
	my $s = $self->{sess}{$name};
	my $b = 'edp_oracle_done_' . (++$self->{banner});
	$s->{stdout} = '';
	$s->{stderr} = '';
	$s->{pending} = $b;
	$s->{timeout}->start();
	# (no empty statement after a COPY's data: psql stops reading its script
	# when a lone ";" follows the "\." line)
	$sql =~ s/\s+\z//;
	$sql .= ';' unless $sql =~ /(?:;|^\\\.)\z/m;
	$s->{stdin} .= "$sql\n\\echo '$b'\n\\warn '$b'\n";
	$s->{run}->pump_nb();
	return;
}

# wait for what a session was sent; {out, err, error, crashed}
sub wait_result
{
	my ($self, $name) = @_;
	my $s = $self->{sess}{$name};
	my $b = $s->{pending};
	my $re = qr/\Q$b\E\r?\n/;
	my $died;
	$s->{timeout}->start();
	eval {
		$s->{run}->pump() until ($s->{stdout} =~ $re && $s->{stderr} =~ $re);
		1;
	} or $died = $@ || 'psql session failed';
	my $out = $s->{stdout};
	my $err = $s->{stderr};
	$out =~ s/\r?\n?\Q$b\E\r?\n//;
	$err =~ s/\r?\n?\Q$b\E\r?\n//;
	$s->{stdout} = '';
	$s->{stderr} = '';
	$out =~ s/\n+\z//;
	my $res = { out => $out, err => $err };
	if ($err =~ /^(?:psql:[^\n]*?: )?(?:ERROR|FATAL|PANIC):\s+(.*)$/m)
	{
		$res->{error} = $1;
	}
	if ($died || $err =~ /server closed the connection|connection to server was lost|terminating connection/)
	{
		$res->{crashed} = 1;
		$res->{error} //= $died ? "psql session died: $died" : 'connection lost';
	}
	return $res;
}

sub q
{
	my ($self, $name, $sql) = @_;
	my $t0 = Time::HiRes::time();
	$self->send($name, $sql);
	my $res = $self->wait_result($name);
	if ($ENV{EDP_ORACLE_PROFILE})
	{
		(my $k = $sql) =~ s/^\s+//;
		$k =~ s/^(SELECT \* FROM |SELECT row_to_json\(j\) FROM |SELECT )?(\S+(?: \S+)?).*/$2/s;
		$self->{prof}{$k} += Time::HiRes::time() - $t0;
	}
	return $res;
}

# how many operations of each kind ran (shrinking replays included)
sub coverage
{
	my ($self) = @_;
	my $c = $self->{coverage} || {};
	return join(', ', map { "$_ $c->{$_}" } sort keys %$c);
}

sub profile
{
	my ($self) = @_;
	my $p = $self->{prof} || {};
	return join("\n", map { sprintf('%8.3fs %s', $p->{$_}, $_) } grep { $p->{$_} > 0.05 } sort { $p->{$b} <=> $p->{$a} } keys %$p);
}

# after a crash: wait for the server, open fresh sessions
sub recover
{
	my ($self) = @_;
	$self->disconnect_sessions;
	$self->{node}->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
	$self->connect_sessions;
}

# ------------------------------------------------------------------------
# rendering inputs
# ------------------------------------------------------------------------

sub csv_field
{
	my ($v, $delim) = @_;
	return '' if !defined $v || $v eq '';
	return $v if $v !~ /[,;"\n\r]/ && $v !~ /^\s|\s$/ && $v ne '\.';
	(my $q = $v) =~ s/"/""/g;
	return "\"$q\"";
}

sub csv_line
{
	my ($row, $cols, $delim) = @_;
	return '' if $row->{blank};
	return join($delim, ('') x @$cols) if $row->{allnull};
	my @f = map { csv_field($row->{f}{$_}, $delim) } @$cols;
	push @f, 'extra' if $row->{extra};
	return join($delim, @f);
}

sub sql_lit
{
	my ($v) = @_;
	return 'NULL' if !defined $v || $v eq '';
	(my $q = $v) =~ s/'/''/g;
	return "'$q'";
}

sub dollar
{
	my ($text) = @_;
	my $tag = 'edp';
	$tag .= 'x' while index($text, "\$$tag\$") >= 0;
	return "\$$tag\$$text\$$tag\$";
}

# an input file's text for the edp side
sub ingest_text
{
	my ($op) = @_;
	my @lines;
	if ($op->{header})
	{
		push @lines, join($op->{delim}, map { $op->{upper} ? uc($_) : $_ } @{ $op->{cols} });
	}
	push @lines, csv_line($_, $op->{cols}, $op->{delim}) for @{ $op->{rows} };
	return @lines ? join("\n", @lines) . "\n" : '';
}

sub copy_block
{
	my ($target, $cols, $header, $lines) = @_;
	my $sql = "COPY $target (" . join(', ', @$cols) . ") FROM STDIN (FORMAT csv" . ($header ? ', HEADER true' : '') . ");\n";
	$sql .= join(', ', @$cols) . "\n" if $header;
	$sql .= "$_\n" for @$lines;
	return $sql . "\\.\n";
}

# a file written on the server side, in the reproducer
sub repro_file
{
	my ($path, $text) = @_;
	(my $t = $text) =~ s/\n\z//;
	return "COPY (SELECT unnest(string_to_array(" . dollar($t) . ", E'\\n'))) TO '$path';";
}


# ------------------------------------------------------------------------
# running a scenario
# ------------------------------------------------------------------------

sub feature_sql
{
	my ($c, $k) = @_;
	my $f = $c->{s}{ev};
	if ($k eq 'flatten')
	{
		return "SELECT edp.enable_flattening('ev', source => 'event_metrics', path => '{metrics}', exclude => '{eid,txn}');";
	}
	if ($k eq 'part')
	{
		return "SELECT edp.enable_partitioning('ev', ts => 'ts', period => 'day'"
		  . ($f->{part}{type} ? ", type_column => 'etype'" : '') . ");";
	}
	if ($k eq 'rollup')
	{
		return "SELECT edp.enable_rollup('ev', key => 'cust', ts => 'ts'"
		  . ($f->{rollup}{raw_index} ne 'btree' ? ", raw_index => '$f->{rollup}{raw_index}'" : '') . ");";
	}
	my $d = $f->{dedupe};
	return "SELECT edp.enable_dedupe('ev', columns => '{" . join(',', @{ $d->{cols} }) . "}', keep => '$d->{keep}'"
	  . ($d->{keep} eq 'latest' && !$d->{default_order} ? ", order_by => 'ts'" : '') . ");";
}

sub ev_table_sql
{
	my ($c) = @_;
	return 'CREATE TABLE ev (eid int, cust text, etype text, txn int, ts timestamptz, m_one int, m_two bigint, '
	  . 'event_metrics jsonb, note text)' . ($c->{s}{ev}{part} ? ' PARTITION BY RANGE (ts)' : '') . ';';
}

sub repro { my ($c, @sql) = @_; push @{ $c->{repro} }, @sql; }

# the oracle's side of one logical insert of good rows
sub mirror_apply
{
	my ($self, $c, $m, $sess) = @_;
	my %in = map { $_ => 1 } @{ $m->{cols} };
	my @lines;
	my $ord = 0;
	for my $row (@{ $m->{rows} })
	{
		$ord++;
		push @lines, join(',', $ord, map { $in{$_} ? csv_field($row->{f}{$_}) : '' } @CANON);
	}
	my $base = $c->{seq};
	$c->{seq} += 1_000_000;
	my $f = $c->{feat};
	my $d = $f->{dedupe};
	my $sql = '';
	$sql .= "SET timezone = 'UTC';\n" if $m->{tz} eq 'utc';
	$sql .= copy_block('ev_s', [ 'ord', @CANON ], 0, \@lines) if @lines;
	$sql .= "SET timezone = '$c->{tz}';\n" if $m->{tz} eq 'utc';
	$sql .= sprintf("SELECT oracle.apply_ev('ev_m', 'ev_s', %d, %s, %s, %s, 'ts');", $base,
		$f->{flatten} ? 'true' : 'false', $d ? "'$d->{keep}'" : 'NULL',
		$d ? "'{" . join(',', @{ $d->{cols} }) . "}'" : 'NULL');
	$sql .= "\nSELECT count(*) FROM ev_m WHERE seq > $base AND seq <= $base + 1000000;";
	my $res = $self->q($sess, $sql);
	return ("[oracle] the oracle failed: $res->{error}") if $res->{error};
	$m->{survivors} = (split /\n/, $res->{out})[-1] + 0;
	return ();
}

sub dedupe_call
{
	my ($c, $base) = @_;
	my $d = $c->{feat}{dedupe};
	return '' unless $d;
	return "SELECT oracle.dedupe('ev_m', $base, '$d->{keep}', '{" . join(',', @{ $d->{cols} }) . "}', 'ts');";
}

# expected job counts of an ingest op, and what the mirror receives
sub ingest_expect
{
	my ($c, $op, $text) = @_;
	my $sha = sha256_hex($text);
	my %e = (rows_in => 0, rejected => 0, skipped_empty => 0, good => 0, lines => []);
	my $line = $op->{header} ? 1 : 0;
	for my $row (@{ $op->{rows} })
	{
		$line++;
		$e{rows_in}++;
		if ($row->{blank} || $row->{allnull}) { $e{skipped_empty}++; }
		elsif ($row->{bad}) { $e{rejected}++; push @{ $e{lines} }, $line; }
		else { $e{good}++; }
	}
	my $seen = $c->{sha_done}{$sha} || $c->{sha_pending}{$sha};
	$e{status} = ($seen && !$op->{force}) ? 'skipped' : 'succeeded';
	$e{error} = 1 if $e{status} eq 'succeeded' && defined $op->{reject_limit} && $e{rejected} > $op->{reject_limit};
	$e{error} = 1 if $text eq '';    # an empty input (22P04): nothing is recorded
	$e{sha} = $sha;
	return \%e;
}

sub ingest_args
{
	my ($op) = @_;
	my $a = '';
	$a .= ", delimiter => ';'" if $op->{pass_delim};
	$a .= ', header => false' unless $op->{header};
	$a .= ", batch_size => $op->{batch_size}" if defined $op->{batch_size};
	$a .= ', force => true' if $op->{force};
	$a .= ", reject_limit => $op->{reject_limit}" if defined $op->{reject_limit};
	return $a;
}

sub file_path
{
	my ($self, $c, $op) = @_;
	return "$self->{dir}/$c->{schema}_" . ($op->{reload_of} // $op->{tag}) . '.csv';
}

sub write_file
{
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh $text;
	close($fh);
}

# the job row a load returned (or the ledger holds), checked against what
# the input held; $delta is the table's change, when known
sub check_job
{
	my ($self, $c, $job, $e, $survivors, $sess) = @_;
	my @p;
	my $id = $job->{id};
	if ($job->{status} ne $e->{status})
	{
		return ("[ledger] job $id has status $job->{status} (error: " . ($job->{error} // '') . "), expected $e->{status}");
	}
	my $sum = $job->{loaded} + $job->{rejected} + $job->{duplicates} + $job->{skipped_empty};
	push @p, "[ledger] job $id: rows_in $job->{rows_in} <> loaded + rejected + duplicates + skipped_empty = $sum"
	  if $job->{rows_in} != $sum;
	if ($e->{status} eq 'skipped')
	{
		push @p, "[ledger] skipped job $id counts rows ($job->{rows_in} in, $job->{loaded} loaded)"
		  if $job->{rows_in} || $job->{loaded};
		return @p;
	}
	for my $k (qw(rows_in rejected skipped_empty))
	{
		push @p, "[ledger] job $id: $k is $job->{$k}, the input has $e->{$k}" if $job->{$k} != $e->{$k};
	}
	push @p, "[ledger] job $id: loaded $job->{loaded} + duplicates $job->{duplicates} <> $e->{good} valid rows"
	  if $job->{loaded} + $job->{duplicates} != $e->{good};
	push @p, "[ledger] job $id says it loaded $job->{loaded} rows, but $survivors of its rows are in the table after it"
	  if defined $survivors && $job->{loaded} != $survivors;
	push @p, "    job $id: " . join(', ', map { "$_ $job->{$_}" } qw(rows_in loaded rejected duplicates skipped_empty))
	  . "; the input has $e->{good} valid rows, $e->{rejected} bad, $e->{skipped_empty} empty" if @p;
	my $r = $self->q($sess, "SELECT coalesce(string_agg(line::text, ',' ORDER BY line), '') FROM edp.rejects WHERE job_id = $id");
	my $want = join(',', @{ $e->{lines} });
	if (!$r->{error} && $r->{out} ne $want)
	{
		push @p, "[ledger] job $id: rejects at lines '$r->{out}', the bad rows are at lines '$want'";
		my %bad = map { $_ => 1 } @{ $e->{lines} };
		my $m = $self->q($sess, "SELECT string_agg(line || ': ' || sqlstate || ' ' || message, E'\n' ORDER BY line) FROM edp.rejects WHERE job_id = $id");
		push @p, map { "    reject $_" } grep { /^(\d+)/ && !$bad{$1} } split /\n/, $m->{out};
	}
	return @p;
}

# an insert-like event operation: builds the edp SQL and what to expect
sub build_load
{
	my ($self, $c, $op) = @_;
	my $t = $op->{type};
	my %L = (op => $op);
	my $tz = $c->{is_event} ? 'utc' : 'session';
	if ($t eq 'copy')
	{
		my @lines = map { csv_line($_, $op->{cols}, ',') } @{ $op->{rows} };
		$L{sql} = copy_block('ev', $op->{cols}, $op->{header}, \@lines);
		$L{repro} = $L{sql};
		$L{expect_error} = scalar grep { $_->{bad} } @{ $op->{rows} };
		$L{mirror} = { rows => [ grep { !$_->{bad} } @{ $op->{rows} } ], cols => $op->{cols}, tz => $tz };
	}
	elsif ($t eq 'insert_values')
	{
		$L{sql} = 'INSERT INTO ev (' . join(', ', @CANON) . ") VALUES\n  "
		  . join(",\n  ", map { my $row = $_; '(' . join(', ', map { sql_lit($row->{f}{$_}) } @CANON) . ')' } @{ $op->{rows} }) . ';';
		$L{repro} = $L{sql};
		$L{mirror} = { rows => $op->{rows}, cols => [@CANON], tz => 'session' };
	}
	else
	{
		my $text = ingest_text($op);
		my $e = ingest_expect($c, $op, $text);
		my $args = ingest_args($op);
		$L{job} = $e;
		if ($t eq 'ingest_data')
		{
			$L{sql} = "SELECT row_to_json(j) FROM edp.ingest_data('ev', " . dollar($text) . "$args) j;";
			$L{repro} = "SELECT * FROM edp.ingest_data('ev', " . dollar($text) . "$args);";
		}
		else
		{
			my $path = $self->file_path($c, $op);
			write_file($path, $text);
			my $rp = "/tmp/edp-oracle-$c->{schema}-" . ($op->{reload_of} // $op->{tag}) . '.csv';
			if ($t eq 'ingest_file')
			{
				$L{sql} = "SELECT row_to_json(j) FROM edp.ingest('ev', '$path'$args) j;";
				$L{repro} = repro_file($rp, $text) . "\nSELECT * FROM edp.ingest('ev', '$rp'$args);";
			}
			else
			{
				$L{sql} = "SELECT edp.ingest_async('$c->{schema}.ev', '$path'$args);";
				$L{repro} = repro_file($rp, $text) . "\nSELECT edp.ingest_async('$c->{schema}.ev', '$rp'$args);"
				  . "\nDO \$\$BEGIN WHILE EXISTS (SELECT FROM edp.jobs WHERE status IN ('queued', 'running')) LOOP PERFORM pg_sleep(0.05); END LOOP; END\$\$;";
				$tz = 'utc';    # the worker's session: the server's time zone
			}
		}
		$L{expect_error} = $e->{error};
		$L{mirror} = ($e->{status} eq 'succeeded' && !$e->{error})
		  ? { rows => [ grep { $_->{f} && !$_->{bad} } @{ $op->{rows} } ], cols => $op->{cols}, tz => $tz } : undef;
	}
	return \%L;
}

# after the edp side ran: problems, and whether the oracle should apply it
sub finish_load
{
	my ($self, $c, $L, $res, $sess) = @_;
	my $what = $L->{op}{type};
	return ("[crash] $what: $res->{error}") if $res->{crashed};
	if ($L->{expect_error})
	{
		return ("[error] $what was expected to fail (the input has a bad row), but it succeeded") unless $res->{error};
		$L->{mirror} = undef;
		return ();
	}
	return ("[error] $what failed: $res->{error}") if $res->{error};
	if ($L->{job})
	{
		my $job = eval { $JSON->decode((split /\n/, $res->{out})[-1]) };
		return ("[ledger] $what returned no job row: $res->{out}") unless ref $job eq 'HASH';
		$L->{jobrow} = $job;
		if ($job->{status} eq 'succeeded')
		{
			if ($c->{in_txn} || $sess ne 'main') { $c->{sha_pending}{ $L->{job}{sha} } = 1; }
			else { $c->{sha_done}{ $L->{job}{sha} } = 1; }
		}
	}
	return ();
}

# the oracle's side of a load that ran, then the job against the oracle
sub apply_load
{
	my ($self, $c, $L, $sess) = @_;
	my @p;
	@p = $self->mirror_apply($c, $L->{mirror}, $sess) if $L->{mirror};
	return @p if @p;
	if ($L->{jobrow})
	{
		@p = $self->check_job($c, $L->{jobrow}, $L->{job}, $L->{mirror} ? $L->{mirror}{survivors} : 0, $sess);
	}
	return @p;
}

# one insert-like op, edp then oracle, in session $sess
sub run_load
{
	my ($self, $c, $op, $sess) = @_;
	$sess //= 'main';
	my $L = $self->build_load($c, $op);
	repro($c, $L->{repro});
	if ($op->{type} eq 'ingest_async')
	{
		return $self->run_async($c, $L);
	}
	my $res = $self->q($sess, $L->{sql});
	my @p = $self->finish_load($c, $L, $res, $sess);
	return @p if @p;
	@p = $self->apply_load($c, $L, $sess);
	# a ledger that disagrees with the oracle: show how the rows differ too
	push @p, $self->check($c, !$c->{in_txn}, $sess) if @p;
	return @p;
}

sub run_async
{
	my ($self, $c, $L) = @_;
	my $res = $self->q('main', $L->{sql});
	return ("[crash] ingest_async: $res->{error}") if $res->{crashed};
	return ("[error] ingest_async failed: $res->{error}") if $res->{error};
	my ($id) = $res->{out} =~ /(\d+)\s*$/;
	return ("[ledger] ingest_async returned no job id: $res->{out}") unless $id;
	$self->{node}->poll_query_until('postgres', "SELECT status NOT IN ('queued', 'running') FROM edp.jobs WHERE id = $id")
	  or return ("[ledger] async job $id did not finish");
	my $j = $self->q('main', "SELECT row_to_json(j) FROM edp.jobs j WHERE id = $id");
	my $job = eval { $JSON->decode($j->{out}) };
	return ("[ledger] async job $id: no ledger row") unless ref $job eq 'HASH';
	$L->{jobrow} = $job;
	$c->{sha_done}{ $L->{job}{sha} } = 1 if $job->{status} eq 'succeeded';
	my @p = $self->apply_load($c, $L, 'main');
	push @p, $self->check($c, 1, 'main') if @p;
	return @p;
}

sub leaf_name { my ($day) = @_; return 'ev_p' . ymd($day); }

sub day_range
{
	my ($day) = @_;
	return "ts >= '" . utc_literal($day * $DAY_US) . "' AND ts < '" . utc_literal(($day + 1) * $DAY_US) . "'";
}

# UPDATE, DELETE, TRUNCATE, INSERT ... SELECT: the same statement on both sides
sub run_dml
{
	my ($self, $c, $op, $sess) = @_;
	$sess //= 'main';
	my $t = $op->{type};
	my $flatten = $c->{feat}{flatten};
	my ($sql, $msql);
	my $target = defined $op->{leaf_day} ? leaf_name($op->{leaf_day}) : 'ev';
	my $mpred = defined $op->{pred} ? $op->{pred} : 'true';
	$mpred = "($mpred) AND " . day_range($op->{leaf_day}) if defined $op->{leaf_day};
	if ($t eq 'update')
	{
		my $k = $op->{kind};
		my ($set, $mset);
		if ($k eq 'ts') { $set = $mset = "ts = ts + $op->{set_ts}, txn = txn + $op->{txn_shift}"; }
		elsif ($k eq 'cust')
		{
			my $v = $op->{cust_keeps_old} ? "'$op->{cust}.' || coalesce(cust, '-')" : "'$op->{cust}'";
			$set = $mset = "cust = $v, txn = txn + $op->{txn_shift}";
		}
		elsif ($k eq 'note') { $set = $mset = "note = note || '+u'"; }
		elsif ($k eq 'metric')
		{
			$set = 'm_two = m_two + 1';
			$mset = $flatten
			  ? "m_two = m_two + 1, om = CASE WHEN m_two IS NOT NULL AND NOT k_two AND jsonb_typeof(om -> 'metrics') = 'object' "
			  . "THEN jsonb_set(om, '{metrics,m_two}', to_jsonb(m_two + 1)) ELSE om END"
			  : $set;
		}
		else
		{
			my $d = sql_lit($op->{doc});
			$set = "event_metrics = $d, m_one = NULL, m_two = NULL";
			$mset = $flatten
			  ? "om = $d, m_one = oracle.flat_val($d, 'm_one', 4), m_two = oracle.flat_val($d, 'm_two', 8), k_one = false, k_two = false"
			  : "om = $d, m_one = NULL, m_two = NULL";
		}
		$sql = "UPDATE $target SET $set WHERE $op->{pred};";
		$msql = "UPDATE ev_m SET $mset WHERE $mpred;";
	}
	elsif ($t eq 'delete')
	{
		$sql = "DELETE FROM $target WHERE $op->{pred};";
		$msql = "DELETE FROM ev_m WHERE $mpred;";
	}
	elsif ($t eq 'truncate')
	{
		$sql = "TRUNCATE $target;";
		$msql = defined $op->{leaf_day} ? "DELETE FROM ev_m WHERE $mpred;" : 'TRUNCATE ev_m;';
	}
	else
	{
		my $order = 'eid, ts, cust, etype, txn, note, m_one, m_two';
		my $base = $c->{seq};
		$c->{seq} += 1_000_000;
		$sql = 'INSERT INTO ev (' . join(', ', @CANON) . ")\n  SELECT eid, cust, etype, txn, ts$op->{shift}, m_one, m_two, event_metrics, note || '/$op->{tag}'"
		  . " FROM ev WHERE $op->{pred} ORDER BY $order;";
		$msql = "INSERT INTO ev_m (seq, eid, cust, etype, txn, ts, m_one, m_two, om, k_one, k_two, note)\n"
		  . "  SELECT $base + row_number() OVER (ORDER BY $order), eid, cust, etype, txn, ts$op->{shift}, m_one, m_two, om, k_one, k_two, note || '/$op->{tag}'"
		  . " FROM ev_m WHERE $op->{pred};\n" . dedupe_call($c, $base);
	}
	repro($c, $sql);
	my $res = $self->q($sess, $sql);
	return ("[crash] $t: $res->{error}") if $res->{crashed};
	return ("[error] $t failed: $res->{error}") if $res->{error};
	my $m = $self->q($sess, $msql);
	return ("[oracle] the oracle failed: $m->{error}") if $m->{error};
	return ();
}

sub run_enable
{
	my ($self, $c, $k) = @_;
	my $sql = feature_sql($c, $k);
	repro($c, $sql);
	my $res = $self->q('main', $sql);
	return ("[crash] enable $k: $res->{error}") if $res->{crashed};
	return ("[error] enabling $k failed: $res->{error}") if $res->{error};
	$c->{feat}{$k} = $c->{s}{ev}{$k};
	$c->{is_event} = 1;
	return ();
}

sub run_sub
{
	my ($self, $c, $op, $sess) = @_;
	my $t = $op->{type};
	return $self->run_load($c, $op, $sess) if $t =~ /^(copy|insert_values|ingest_data|ingest_file|ingest_async)$/;
	return $self->run_dml($c, $op, $sess) if $t =~ /^(update|delete|truncate|insert_select)$/;
	if ($t eq 'savepoint_bad')
	{
		repro($c, 'SAVEPOINT sp;');
		my $r = $self->q($sess, 'SAVEPOINT sp');
		return ("[error] SAVEPOINT failed: $r->{error}") if $r->{error};
		my @p = $self->run_load($c, $op->{copy}, $sess);
		repro($c, 'ROLLBACK TO SAVEPOINT sp;');
		$r = $self->q($sess, 'ROLLBACK TO SAVEPOINT sp');
		push @p, "[error] ROLLBACK TO SAVEPOINT failed: $r->{error}" if $r->{error};
		return @p;
	}
	die "unknown op $t";
}

sub run_txn
{
	my ($self, $c, $op) = @_;
	repro($c, 'BEGIN;');
	my $r = $self->q('main', 'BEGIN');
	return ("[error] BEGIN failed: $r->{error}") if $r->{error};
	$c->{in_txn} = 1;
	$c->{sha_pending} = {};
	my @p;
	for my $sub (@{ $op->{subs} })
	{
		@p = $self->run_sub($c, $sub, 'main');
		last if @p;
		@p = $self->check($c, 0, 'main');
		if (@p) { $_ = "$_ (inside the transaction, after its " . $sub->{type} . ')' for @p; last; }
	}
	$c->{in_txn} = 0;
	if (@p)
	{
		$self->q('main', 'ROLLBACK');
		return @p;
	}
	repro($c, "$op->{end};");
	$r = $self->q('main', $op->{end});
	return ("[crash] $op->{end}: $r->{error}") if $r->{crashed};
	return ("[error] $op->{end} failed: $r->{error}") if $r->{error};
	if ($op->{end} eq 'COMMIT') { $c->{sha_done}{$_} = 1 for keys %{ $c->{sha_pending} }; }
	$c->{sha_pending} = {};
	return ();
}

# two sessions load overlapping inputs; A commits first
sub run_concurrent
{
	my ($self, $c, $op) = @_;
	my $LA = $self->build_load($c, $op->{a});
	my $LB = $self->build_load($c, $op->{b});
	my $mk = 'edp_conc_' . (++$self->{banner});
	repro($c, "-- session A:\nBEGIN;\n$LA->{repro}\n-- session B, at the same time (it may wait for A):\nBEGIN;\n$LB->{repro}\n"
		  . "-- session A:\nCOMMIT;\n-- session B:\nCOMMIT;");
	my @p;
	my $r = $self->q('a', 'BEGIN');
	my $ra = $self->q('a', $LA->{sql});
	$r = $self->q('b', 'BEGIN');
	$self->send('b', "/* $mk */ $LB->{sql}");
	my $pid = $self->{pid}{b};
	my $ok = $self->{node}->poll_query_until('postgres', qq{
		SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid AND query LIKE '/* $mk */%'
		                 AND (state LIKE 'idle in transaction%' OR wait_event_type = 'Lock'))});
	push @p, '[concurrency] session B neither finished nor waited for a lock' unless $ok;
	my $ca = $self->q('a', 'COMMIT');
	my $rb = $self->wait_result('b');
	my $cb = $self->q('b', 'COMMIT');
	$c->{sha_pending} = {};
	push @p, $self->finish_load($c, $LA, $ra, 'a');
	push @p, "[error] session A's COMMIT failed: $ca->{error}" if $ca->{error};
	push @p, $self->finish_load($c, $LB, $rb, 'b');
	push @p, "[error] session B's COMMIT failed: $cb->{error}" if $cb->{error};
	if (grep { /^\[crash\]/ } @p) { return @p; }
	# the jobs committed: their inputs count for re-ingest from now on
	for my $L ($LA, $LB) { $c->{sha_done}{ $L->{job}{sha} } = 1 if $L->{job} && !$L->{expect_error} && $L->{job}{status} eq 'succeeded'; }
	return @p if @p;
	push @p, $self->apply_load($c, $LA, 'main');
	push @p, $self->apply_load($c, $LB, 'main');
	push @p, $self->check($c, 1, 'main') if @p;
	return @p;
}

# --- trips ---------------------------------------------------------------

sub trip_csv
{
	my ($self, $rows, $wkt_r) = @_;
	my @lines = ('region,origin,destination,datetime,datasource');
	for my $row (@$rows)
	{
		my $o = $row->{bad_point} // wkt($wkt_r, $row->{o});
		push @lines, join(',', map { csv_field($_) } ($row->{region} // ''), $o, wkt($wkt_r, $row->{d}), $row->{dt}, $row->{src});
	}
	return \@lines;
}

sub trips_mirror
{
	my ($self, $c, $rows, $sess) = @_;
	my @good = grep { !$_->{bad} } @$rows;
	my $base = $c->{seq};
	$c->{seq} += 1_000_000;
	my $ord = 0;
	my @lines = map { $ord++; join(',', $ord, map { csv_field($_) } $_->{region}, @{ $_->{o} }, @{ $_->{d} }, $_->{dt}, $_->{src}) } @good;
	my $sql = @lines ? copy_block('tr_s', [qw(ord region ox oy dx dy datetime datasource)], 0, \@lines) : '';
	$sql .= "INSERT INTO tr_m SELECT $base + ord, region, ox, oy, dx, dy, datetime, datasource FROM tr_s ORDER BY ord;\nTRUNCATE tr_s;";
	my $r = $self->q($sess, $sql);
	return ("[oracle] the trips oracle failed: $r->{error}") if $r->{error};
	return ();
}

sub trips_insert_sql
{
	my ($rows) = @_;
	return "INSERT INTO tr (region, origin, destination, datetime, datasource) VALUES\n  "
	  . join(",\n  ", map { "(" . join(', ', sql_lit($_->{region}), "'SRID=4326;POINT($_->{o}[0] $_->{o}[1])'",
				"'SRID=4326;POINT($_->{d}[0] $_->{d}[1])'", sql_lit($_->{dt}), sql_lit($_->{src})) . ')' } @$rows) . ';';
}

sub run_trips
{
	my ($self, $c, $op) = @_;
	my $t = $op->{type};
	my $wr = EdpScenario::Rng->new(($c->{s}{seed} * 1000 + length($op->{tag}) * 7 + substr($op->{tag}, 1)) % 4294967296);
	if ($t eq 'trips_copy' || $t eq 'trips_insert')
	{
		my $sql;
		if ($t eq 'trips_copy')
		{
			my $lines = $self->trip_csv($op->{rows}, $wr);
			shift @$lines;
			$sql = copy_block('tr', [qw(region origin destination datetime datasource)], 1, $lines);
		}
		else { $sql = trips_insert_sql($op->{rows}); }
		repro($c, $sql);
		my $res = $self->q('main', $sql);
		return ("[crash] $t: $res->{error}") if $res->{crashed};
		my $bad = grep { $_->{bad} } @{ $op->{rows} };
		if ($bad)
		{
			return ("[error] $t was expected to fail (the input has a bad row), but it succeeded") unless $res->{error};
			return ();
		}
		return ("[error] $t failed: $res->{error}") if $res->{error};
		return $self->trips_mirror($c, $op->{rows}, 'main');
	}
	if ($t eq 'trips_ingest')
	{
		my $text = join("\n", @{ $self->trip_csv($op->{rows}, $wr) }) . "\n";
		my $args = defined $op->{batch_size} ? ", batch_size => $op->{batch_size}" : '';
		repro($c, "SELECT * FROM edp.ingest_data('tr', " . dollar($text) . "$args);");
		my $tr = { header => 1, rows => $op->{rows}, force => 1 };
		my $e = ingest_expect($c, $tr, $text);
		my $res = $self->q('main', "SELECT row_to_json(j) FROM edp.ingest_data('tr', " . dollar($text) . "$args, force => true) j");
		return ("[crash] $t: $res->{error}") if $res->{crashed};
		return ("[error] $t failed: $res->{error}") if $res->{error};
		my $job = eval { $JSON->decode($res->{out}) };
		return ("[ledger] $t returned no job row") unless ref $job eq 'HASH';
		my @p = $self->trips_mirror($c, $op->{rows}, 'main');
		return @p if @p;
		return $self->check_job($c, $job, $e, $e->{good}, 'main');
	}
	my ($sql, $msql);
	if ($t eq 'trips_update')
	{
		if ($op->{kind} eq 'time')
		{
			$sql = "UPDATE tr SET datetime = datetime + $op->{delta} WHERE $op->{pred};";
			$msql = "UPDATE tr_m SET datetime = datetime + $op->{delta} WHERE $op->{pred};";
		}
		else
		{
			$sql = "UPDATE tr SET origin = ST_SetSRID(ST_MakePoint(ST_X(origin) + $op->{dx}, ST_Y(origin)), 4326) WHERE $op->{pred};";
			$msql = "UPDATE tr_m SET ox = ox + $op->{dx} WHERE $op->{pred};";
		}
	}
	elsif ($t eq 'trips_delete')
	{
		$sql = "DELETE FROM tr WHERE $op->{pred};";
		$msql = "DELETE FROM tr_m WHERE $op->{pred};";
	}
	elsif ($t eq 'trips_truncate')
	{
		$sql = 'TRUNCATE tr;';
		$msql = 'TRUNCATE tr_m;';
	}
	elsif ($t eq 'trips_txn')
	{
		my $ins = trips_insert_sql($op->{rows});
		repro($c, "BEGIN;\n$ins\nDELETE FROM tr WHERE $op->{pred};\n$op->{end};");
		for my $q ('BEGIN', $ins)
		{
			my $r = $self->q('main', $q);
			if ($r->{error}) { $self->q('main', 'ROLLBACK'); return ("[error] $t: $r->{error}"); }
		}
		my @p = $self->trips_mirror($c, $op->{rows}, 'main');
		my $r = $self->q('main', "DELETE FROM tr WHERE $op->{pred}");
		push @p, "[error] $t: $r->{error}" if $r->{error};
		$r = $self->q('main', "DELETE FROM tr_m WHERE $op->{pred}");
		push @p, $self->check($c, 0, 'main') unless @p;
		if (@p) { $self->q('main', 'ROLLBACK'); return map { "$_ (inside the transaction)" } @p; }
		$r = $self->q('main', $op->{end});
		return ("[error] $t: $op->{end} failed: $r->{error}") if $r->{error};
		return ();
	}
	elsif ($t eq 'trips_concurrent')
	{
		my $ia = trips_insert_sql($op->{a});
		my $ib = trips_insert_sql($op->{b});
		my $mk = 'edp_conc_' . (++$self->{banner});
		repro($c, "-- session A:\nBEGIN;\n$ia\n-- session B, at the same time:\nBEGIN;\n$ib\n-- session A:\nCOMMIT;\n-- session B:\nCOMMIT;");
		$self->q('a', 'BEGIN');
		my $ra = $self->q('a', $ia);
		$self->q('b', 'BEGIN');
		$self->send('b', "/* $mk */ $ib");
		my $pid = $self->{pid}{b};
		my @p;
		$self->{node}->poll_query_until('postgres', qq{
			SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid AND query LIKE '/* $mk */%'
			                 AND (state LIKE 'idle in transaction%' OR wait_event_type = 'Lock'))})
		  or push @p, '[concurrency] trips session B neither finished nor waited for a lock';
		my $ca = $self->q('a', 'COMMIT');
		my $rb = $self->wait_result('b');
		my $cb = $self->q('b', 'COMMIT');
		for my $x ([ 'A', $ra ], [ 'A commit', $ca ], [ 'B', $rb ], [ 'B commit', $cb ])
		{
			push @p, "[error] trips session $x->[0]: $x->[1]{error}" if $x->[1]{error};
		}
		return @p if @p;
		return ($self->trips_mirror($c, $op->{a}, 'main'), $self->trips_mirror($c, $op->{b}, 'main'));
	}
	repro($c, $sql);
	my $res = $self->q('main', $sql);
	return ("[crash] $t: $res->{error}") if $res->{crashed};
	return ("[error] $t failed: $res->{error}") if $res->{error};
	my $m = $self->q('main', $msql);
	return ("[oracle] the trips oracle failed: $m->{error}") if $m->{error};
	return ();
}

# --- checks --------------------------------------------------------------

sub check
{
	my ($self, $c, $committed, $sess) = @_;
	$sess //= 'main';
	my @p;
	if ($c->{s}{ev})
	{
		my $f = $c->{feat};
		my $d = $f->{dedupe};
		my $sql = sprintf("SELECT * FROM oracle.check_ev('ev', 'ev_m', %s, %s, %s, %s, %s)",
			$f->{flatten} ? 'true' : 'false', $f->{rollup} ? 'true' : 'false', $f->{part} ? 'true' : 'false',
			$committed ? 'true' : 'false', $d ? "'{" . join(',', @{ $d->{cols} }) . "}'" : 'NULL');
		my $r = $self->q($sess, $sql);
		return ("[crash] check: $r->{error}") if $r->{crashed};
		push @p, "[check] the event check failed: $r->{error}" if $r->{error};
		push @p, grep { $_ ne '' } split /\n/, $r->{out};
	}
	if ($c->{s}{trips})
	{
		my $r = $self->q($sess, "SELECT * FROM oracle.check_trips('tr', 'tr_m', " . (++$c->{checks}) . ")");
		return ("[crash] check: $r->{error}") if $r->{crashed};
		push @p, "[check] the trips check failed: $r->{error}" if $r->{error};
		push @p, grep { $_ ne '' } split /\n/, $r->{out};
	}
	return @p;
}

sub kind_of
{
	my (@p) = @_;
	my ($k) = ($p[0] // '') =~ /^\[([\w-]+)\]/;
	return 'other' unless defined $k;
	# the first problem, numbers (but zeros) and quoted values blotted out
	(my $m = $p[0]) =~ s/\b[1-9]\d*\b/N/g;
	$m =~ s/"[^"]*"/"X"/g;
	$m =~ s/'[^']*'/'X'/g;
	$m =~ s/ \(inside the transaction.*//;
	return $m;
}

# set up the scenario's tables in a fresh schema
sub setup
{
	my ($self, $c) = @_;
	my $s = $c->{s};
	my $sch = $c->{schema};
	my $path = "SET search_path = $sch, public; SET timezone = '$c->{tz}';";
	for my $name (qw(main a b))
	{
		my $r = $self->q($name, "ROLLBACK; RESET ALL; $path");
		$r = $self->q($name, "SET search_path = $sch, public; SET timezone = '$c->{tz}'") if $name ne 'main';
	}
	my $r = $self->q('main', "DROP SCHEMA IF EXISTS $sch CASCADE; CREATE SCHEMA $sch; $path");
	return ("[setup] $r->{error}") if $r->{error};
	repro($c, "CREATE SCHEMA $sch;", $path);
	my @p;
	if ($s->{ev})
	{
		my $sql = ev_table_sql($c);
		repro($c, $sql);
		$r = $self->q('main', $sql . q{
			CREATE TABLE ev_m (seq bigint, eid int, cust text, etype text, txn int, ts timestamptz, m_one int, m_two bigint,
			                   om jsonb, k_one bool, k_two bool, note text);
			CREATE TABLE ev_s (ord int, eid int, cust text, etype text, txn int, ts timestamptz, m_one int, m_two bigint,
			                   event_metrics jsonb, note text);});
		return ("[setup] $r->{error}") if $r->{error};
		for my $k (@{ $s->{setup} })
		{
			push @p, $self->run_enable($c, $k);
			return @p if @p;
		}
	}
	if ($s->{trips})
	{
		my $sql = "SELECT edp.create_trips_table('tr', $s->{trips}{cell_size});";
		repro($c, $sql);
		$r = $self->q('main', $sql . q{
			CREATE TABLE tr_m (seq bigint, region text, ox float8, oy float8, dx float8, dy float8, datetime timestamp, datasource text);
			CREATE TABLE tr_s (ord int, region text, ox float8, oy float8, dx float8, dy float8, datetime timestamp, datasource text);});
		return ("[setup] $r->{error}") if $r->{error};
	}
	return ();
}

sub run_op
{
	my ($self, $c, $op) = @_;
	my $t = $op->{type};
	$self->{coverage}{$_->{type}}++ for all_ops($op);
	return $self->run_enable($c, $1) if $t =~ /^enable_(\w+)$/;
	return $self->run_txn($c, $op) if $t eq 'txn';
	return $self->run_concurrent($c, $op) if $t eq 'concurrent';
	return $self->run_trips($c, $op) if $t =~ /^trips_/;
	return $self->run_sub($c, $op, 'main');
}

sub op_label
{
	my ($op) = @_;
	my $l = $op->{type};
	$l .= "($op->{kind})" if $op->{kind};
	$l .= " of partition day" if defined $op->{leaf_day};
	$l .= ' [' . join(', ', map { op_label($_) } @{ $op->{subs} }) . "] $op->{end}" if $op->{subs};
	$l .= ' [A ' . op_label($op->{a}) . ', B ' . op_label($op->{b}) . ']' if $op->{type} eq 'concurrent';
	$l .= " (again: $op->{reload_of})" if $op->{reload_of};
	$l .= " batch_size $op->{batch_size}" if $op->{type} =~ /^ingest/ && defined $op->{batch_size};
	return $l;
}

# runs the ops whose indexes are given; stops at the first problem
sub run_ops
{
	my ($self, $s, $idx, $schema) = @_;
	my $c = {
		s => $s, schema => $schema, tz => $s->{tz}, seq => 0, repro => [],
		feat => {}, is_event => 0, sha_done => {}, sha_pending => {}, in_txn => 0,
	};
	$self->{t0} = Time::HiRes::time();
	repro($c, "-- edp write-path oracle, seed $s->{seed}; features: " . describe($s));
	my @p = $self->setup($c);
	if (@p)
	{
		return { ok => 0, step => -1, problems => \@p, kind => kind_of(@p), repro => $c->{repro} };
	}
	push @p, $self->check($c, 1) unless @p;
	return { ok => 0, step => -1, problems => \@p, kind => kind_of(@p), repro => $c->{repro} } if @p;
	my $n = 0;
	for my $i (@$idx)
	{
		my $op = $s->{ops}[$i];
		repro($c, sprintf('-- step %d: %s', ++$n, op_label($op)));
		@p = $self->run_op($c, $op);
		if (grep { /^\[crash\]/ } @p)
		{
			$self->recover;
		}
		else
		{
			push @p, $self->check($c, 1) unless @p;
		}
		if (@p && $ENV{EDP_ORACLE_DEBUG})
		{
			# where the rows the oracle argues about are (partition, page, writer)
			my @notes = map { /"note":"([^"]+)"/ ? $1 : () } @p;
			my %seen;
			@notes = grep { !$seen{$_}++ } @notes;
			if (@notes && $s->{ev})
			{
				my $l = join(', ', map { sql_lit($_) } @notes);
				my $keys = $self->q('main', "SELECT string_agg(DISTINCT eid::text, ',') FROM ev_m WHERE note IN ($l)");
				my $r = $self->q('main', "SELECT tableoid::regclass, ctid, xmin, eid, cust, ts, txn, note FROM ev WHERE note IN ($l)"
					  . ($keys->{out} ne '' ? " OR eid IN ($keys->{out})" : '') . ' ORDER BY eid, tableoid, ctid');
				push @p, map { "    debug: $_" } split /\n/, $r->{out};
			}
		}
		if (@p)
		{
			$self->q($_, 'ROLLBACK') for grep { $self->{sess}{$_} } qw(main a b);
			return { ok => 0, step => $i, label => op_label($op), problems => \@p, kind => kind_of(@p), repro => $c->{repro} };
		}
	}
	return { ok => 1, steps => scalar @$idx };
}

sub describe
{
	my ($s) = @_;
	my @d;
	if (my $f = $s->{ev})
	{
		push @d, 'flattening' if $f->{flatten};
		push @d, 'partitions by day' . ($f->{part}{type} ? ' and type' : '') if $f->{part};
		push @d, "rollup (raw_index $f->{rollup}{raw_index}" . ($f->{rollup}{late} ? ', enabled after data' : '') . ')' if $f->{rollup};
		push @d, "dedupe keep $f->{dedupe}{keep} on {" . join(',', @{ $f->{dedupe}{cols} }) . '}'
		  . ($f->{dedupe}{late} ? ' enabled after data' : '') if $f->{dedupe};
		push @d, "setup order: " . join(' ', @{ $s->{setup} }) if @{ $s->{setup} };
	}
	push @d, "trips table (cell $s->{trips}{cell_size})" if $s->{trips};
	push @d, "session time zone $s->{tz}";
	return join('; ', @d);
}

sub clone
{
	my ($x) = @_;
	return [ map { clone($_) } @$x ] if ref $x eq 'ARRAY';
	return { map { $_ => clone($x->{$_}) } keys %$x } if ref $x eq 'HASH';
	return $x;
}

# the row lists of an op (inputs of loads, also inside transactions and
# concurrent pairs), for shrinking
sub row_lists
{
	my ($op) = @_;
	my @l;
	push @l, $op->{rows} if ref $op->{rows} eq 'ARRAY';
	push @l, $op->{a} if ref $op->{a} eq 'ARRAY';
	push @l, $op->{b} if ref $op->{b} eq 'ARRAY';
	push @l, row_lists($op->{a}) if ref $op->{a} eq 'HASH';
	push @l, row_lists($op->{b}) if ref $op->{b} eq 'HASH';
	push @l, row_lists($op->{copy}) if ref $op->{copy} eq 'HASH';
	push @l, map { row_lists($_) } @{ $op->{subs} } if $op->{subs};
	return @l;
}

sub all_ops
{
	my ($op) = @_;
	return ($op, map { all_ops($_) } grep { ref $_ eq 'HASH' } ($op->{a}, $op->{b}, $op->{copy}, @{ $op->{subs} || [] }));
}

# shorten a failing scenario: drop ops, then rows of the ops left, while
# the same kind of failure stays (time-bounded)
sub shrink
{
	my ($self, $s, $fail) = @_;
	my $t0 = Time::HiRes::time();
	my @ops = map { clone($_) } @{ $s->{ops} }[ 0 .. $fail->{step} ];
	my $best = $fail;
	my $tries = 0;
	my $out = sub { Time::HiRes::time() - $t0 > $self->{shrink_budget_each} || $self->{shrink_budget} <= 0 };
	my $try = sub {
		my ($cand) = @_;
		my $t1 = Time::HiRes::time();
		my $res = $self->run_ops({ %$s, ops => $cand }, [ 0 .. $#$cand ], "s$s->{seed}_shrink");
		$self->{shrink_budget} -= Time::HiRes::time() - $t1;
		$tries++;
		return undef if $res->{ok} || $res->{kind} ne $fail->{kind};
		$best = $res;
		return $res->{step};
	};
	# ops
	my $i = 0;
	while ($i < $#ops && !$out->())
	{
		my @cand = map { clone($_) } @ops;
		splice(@cand, $i, 1);
		my $step = $try->(\@cand);
		if (defined $step) { @ops = @cand[ 0 .. $step ]; next; }
		$i++;
	}
	# rows: halves, then quarters, ... then single rows, per row list
	for my $k (0 .. $#ops)
	{
		my $nlists = scalar row_lists($ops[$k]);
		for my $l (0 .. $nlists - 1)
		{
			my $chunk = int(scalar(@{ (row_lists($ops[$k]))[$l] }) / 2) || 1;
			while ($chunk >= 1 && !$out->())
			{
				my $pos = 0;
				while ($pos < scalar @{ (row_lists($ops[$k]))[$l] } && !$out->())
				{
					my @cand = map { clone($_) } @ops;
					my $list = (row_lists($cand[$k]))[$l];
					last if @$list <= 1 && !($k < $#ops);
					splice(@$list, $pos, $chunk);
					# an input without a header must not start with a blank line
					# (the delimiter is guessed from the first line)
					if (grep { $_->{type} =~ /^ingest_/ && !$_->{header} && @{ $_->{rows} } && $_->{rows}[0]{blank} }
						map { all_ops($_) } @cand)
					{
						$pos += $chunk;
						next;
					}
					my $step = $try->(\@cand);
					if (defined $step && $step == $#cand) { @ops = @cand; next; }
					$pos += $chunk;
				}
				last if $chunk == 1;
				$chunk = int($chunk / 2) || 1;
			}
		}
	}
	$self->q('main', "DROP SCHEMA IF EXISTS s$s->{seed}_shrink CASCADE");
	$best->{shrunk_from} = $fail->{step} + 1;
	$best->{shrunk_to} = scalar @ops;
	$best->{tries} = $tries;
	$best->{seconds} = Time::HiRes::time() - $t0;
	return $best;
}

sub run_seed
{
	my ($self, $seed, %o) = @_;
	my $s = gen_scenario($seed);
	my $t0 = Time::HiRes::time();
	my $res = $self->run_ops($s, [ 0 .. $#{ $s->{ops} } ], "s$seed");
	$res->{seconds} = Time::HiRes::time() - $t0;
	$res->{nops} = scalar @{ $s->{ops} };
	$res->{describe} = describe($s);
	$self->q('main', "DROP SCHEMA IF EXISTS s$seed CASCADE") if $res->{ok} || !$o{keep};
	if (!$res->{ok} && $o{shrink})
	{
		my $small = $self->shrink($s, $res);
		$res->{minimal} = $small;
	}
	return $res;
}

sub report
{
	my ($res, $seed) = @_;
	my $m = $res->{minimal} // $res;
	my $txt = "seed $seed failed at step " . ($res->{step} + 1) . " of $res->{nops} ($res->{label}): $res->{describe}\n";
	$txt .= "  $_\n" for @{ $res->{problems} };
	if ($res->{minimal})
	{
		$txt .= sprintf("shrunk to %d of %d steps, fewer rows (%d replays, %.0fs); that run says:\n",
			$m->{shrunk_to}, $m->{shrunk_from}, $m->{tries}, $m->{seconds});
		$txt .= "  $_\n" for @{ $m->{problems} };
	}
	$txt .= "reproducer (psql, as a superuser, edp in shared_preload_libraries):\n";
	$txt .= join("\n", @{ $m->{repro} }) . "\n";
	return $txt;
}

1;
