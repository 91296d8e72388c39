# 090_security.pl -- no role gains another role's rights through edp.
#
# Alice owns a schema full of canaries: operators and functions that shadow
# pg_catalog's (some with exact type matches that win even when pg_catalog
# comes first in search_path), record current_user in canary.log, try to
# make alice a superuser when they find themselves running as one, and then
# return the right answer so that everything keeps working.  Alice and bob
# then use every user-callable part of edp under hostile search paths, on
# their own tables and on tables of others; after every operation nothing
# may have run as a role other than the one who asked, and no role may have
# gained an attribute.  Then the named regressions: the ledger, the rollup
# trigger, inbox loads, re-ingest detection, jobs by role OID, pinned
# search_path of every function, and NOTIFY payloads.
use strict;
use warnings FATAL => 'all';

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'edp'
edp.database = 'postgres'
edp.naptime = 50
});
$node->start;

my $su = $node->safe_psql('postgres', 'SELECT current_user');
my $dir = PostgreSQL::Test::Utils::tempdir;

# ---------------------------------------------------------------- canaries

# The SQL that creates the canaries of one schema; $victim is the role they
# try to make superuser when they run as one.
sub canary_sql
{
	my ($schema, $victim) = @_;
	my @sql;
	push @sql, qq{
CREATE FUNCTION $schema.note(what text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS \$note\$
BEGIN
    INSERT INTO canary.log (ran_as, session_as, what) VALUES (current_user, session_user, what);
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
        BEGIN
            ALTER ROLE $victim SUPERUSER;
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
    END IF;
    RETURN true;
END
\$note\$;
CREATE FUNCTION $schema.record_inserter() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS \$trg\$
BEGIN
    PERFORM $schema.note('trigger on ' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NEW;
END
\$trg\$;};

	my $i = 0;
	my $op = sub {
		my ($name, $l, $r, $ret) = @_;
		$i++;
		my $a = $l =~ /^reg/ ? 'a::pg_catalog.oid' : 'a';
		my $b = $r =~ /^reg/ ? 'b::pg_catalog.oid' : 'b';
		push @sql, qq{
CREATE FUNCTION $schema.canary_op$i(a pg_catalog.$l, b pg_catalog.$r) RETURNS pg_catalog.$ret
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS \$c\$
BEGIN
    PERFORM $schema.note('$name($l,$r)');
    RETURN $a OPERATOR(pg_catalog.$name) $b;
END
\$c\$;
CREATE OPERATOR $schema.$name (LEFTARG = pg_catalog.$l, RIGHTARG = pg_catalog.$r, FUNCTION = $schema.canary_op$i);};
	};
	for my $name ('=', '<>')
	{
		$op->($name, @$_, 'bool') for (
			[qw(text text)], [qw(oid oid)], [qw(oid regclass)], [qw(regclass oid)],
			[qw(int8 int8)], [qw(int4 int4)], [qw(name name)], [qw(timestamptz timestamptz)],
			[qw(regclass regclass)], [qw(regrole regrole)], [qw(oid regrole)], [qw(regrole oid)],
			[qw(name text)], [qw(text name)]);
	}
	for my $name ('>', '<', '>=', '<=')
	{
		$op->($name, @$_, 'bool') for ([qw(int8 int8)], [qw(timestamptz timestamptz)]);
	}
	$op->('||', 'text', 'text', 'text');
	$op->('~', 'text', 'text', 'bool');
	$op->('!~', 'text', 'text', 'bool');

	# functions: [name, argument types, result type]
	for my $f (
		[ 'lower', ['text'], 'text' ],
		[ 'upper', ['text'], 'text' ],
		[ 'now', [], 'timestamptz' ],
		[ 'clock_timestamp', [], 'timestamptz' ],
		[ 'format', ['text'], 'text' ],
		[ 'format', [ 'text', 'text' ], 'text' ],
		[ 'quote_ident', ['text'], 'text' ],
		[ 'quote_literal', ['text'], 'text' ],
		[ 'date_bin', [ 'interval', 'timestamptz', 'timestamptz' ], 'timestamptz' ],
		[ 'date_trunc', [ 'text', 'timestamptz' ], 'timestamptz' ],
		[ 'nextval', ['regclass'], 'int8' ],
		[ 'textsend', ['text'], 'bytea' ],
		[ 'rtrim', [ 'text', 'text' ], 'text' ],
		[ 'left', [ 'text', 'int4' ], 'text' ],
		[ 'length', ['text'], 'int4' ],
		[ 'pg_has_role', [ 'oid', 'text' ], 'bool' ],
		[ 'has_table_privilege', [ 'oid', 'regclass', 'text' ], 'bool' ],
		[ 'pg_backend_pid', [], 'int4' ],
		[ 'to_char', [ 'timestamp', 'text' ], 'text' ],
		[ 'pg_partition_root', ['regclass'], 'regclass' ],
		[ 'to_regrole', ['text'], 'regrole' ],
		[ 'to_regclass', ['text'], 'regclass' ])
	{
		my ($name, $args, $ret) = @$f;
		my $sig = join(', ', map { "pg_catalog.$_" } @$args);
		my $call = join(', ', map { "\$$_" } 1 .. @$args);
		push @sql, qq{
CREATE FUNCTION $schema."$name"($sig) RETURNS pg_catalog.$ret
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS \$c\$
BEGIN
    PERFORM $schema.note('$name(@{[ join(',', @$args) ]})');
    RETURN pg_catalog."$name"($call);
END
\$c\$;};
	}

	# aggregates: count(*) and count(x)
	push @sql, qq{
CREATE FUNCTION $schema.canary_count_star(s pg_catalog.int8) RETURNS pg_catalog.int8
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS \$c\$
BEGIN
    PERFORM $schema.note('count(*)');
    RETURN s OPERATOR(pg_catalog.+) 1;
END
\$c\$;
CREATE AGGREGATE $schema.count(*) (SFUNC = $schema.canary_count_star, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE FUNCTION $schema.canary_count_any(s pg_catalog.int8, v anyelement) RETURNS pg_catalog.int8
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS \$c\$
BEGIN
    PERFORM $schema.note('count(anyelement)');
    RETURN s OPERATOR(pg_catalog.+) CASE WHEN v IS NULL THEN 0 ELSE 1 END;
END
\$c\$;
CREATE AGGREGATE $schema.count(anyelement) (SFUNC = $schema.canary_count_any, STYPE = pg_catalog.int8, INITCOND = '0');};
	return join("\n", @sql);
}

# ---------------------------------------------------------------- setup

$node->safe_psql('postgres', q{
CREATE EXTENSION edp CASCADE;
CREATE ROLE alice LOGIN NOSUPERUSER;
CREATE ROLE bob LOGIN NOSUPERUSER;
-- for edp.ingest and edp.ingest_async (server files); no role attribute
GRANT pg_read_server_files TO alice, bob;
CREATE SCHEMA evil AUTHORIZATION alice;
CREATE SCHEMA bobs AUTHORIZATION bob;
CREATE SCHEMA canary;
GRANT USAGE ON SCHEMA canary TO PUBLIC;
CREATE TABLE canary.log (at serial, ran_as name, session_as name, what text);
GRANT INSERT ON canary.log TO PUBLIC;
GRANT USAGE ON SEQUENCE canary.log_at_seq TO PUBLIC;

-- a trigger of the superuser's that records whom rows are inserted as
CREATE FUNCTION canary.record_inserter() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO canary.log (ran_as, session_as, what)
    VALUES (current_user, session_user, 'trigger on ' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NEW;
END $$;

-- superuser-owned event tables others may write
CREATE TABLE public.shared_events (customer_id bigint, event_type text, transaction_id uuid, ts timestamptz);
SELECT edp.enable_rollup('public.shared_events', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('public.shared_events', columns => '{customer_id,ts,event_type,transaction_id}');
CREATE TRIGGER record_inserter BEFORE INSERT ON public.shared_events
    FOR EACH ROW EXECUTE FUNCTION canary.record_inserter();
CREATE TABLE public.shared_parts (customer_id bigint, event_type text, transaction_id uuid, ts timestamptz)
    PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('public.shared_parts', ts => 'ts', period => 'day');
SELECT edp.enable_rollup('public.shared_parts', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('public.shared_parts', columns => '{customer_id,ts,event_type,transaction_id}');
CREATE TABLE public.shared_flat (id int, metric_one int, metric_two int, event_metrics jsonb);
SELECT edp.enable_flattening('public.shared_flat', path => '{metrics}', exclude => '{id}');
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.shared_events, public.shared_parts, public.shared_flat
    TO alice, bob;
});
$node->safe_psql('postgres', canary_sql('evil', 'alice') . q{
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE TABLE evil.alice_t (a int, b text);
-- alice's event table bob may write: upkeep there runs as alice
CREATE TABLE evil.alice_shared (customer_id bigint, event_type text, transaction_id uuid, ts timestamptz)
    PARTITION BY RANGE (ts);
SELECT edp.enable_partitioning('evil.alice_shared', ts => 'ts', period => 'day');
SELECT edp.enable_rollup('evil.alice_shared', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('evil.alice_shared', columns => '{customer_id,ts,event_type,transaction_id}');
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON evil.alice_shared TO bob;
}, extra_params => [ '-U', 'alice' ]);
$node->safe_psql('postgres', canary_sql('bobs', 'bob'), extra_params => [ '-U', 'bob' ]);

# ---------------------------------------------------------------- state checks

# a session of the superuser for the checks (default search_path)
my $check = $node->background_psql('postgres', on_error_stop => 0);
$check->set_query_timer_restart;

# the output, or "ERROR: ..." (so that a failing check reports and the test goes on)
sub su_query
{
	my ($sql) = @_;
	$check->{stderr} = '';
	my ($out, $err) = $check->query($sql);
	return $out unless $err;
	my $msg = $check->{stderr};
	$check->{stderr} = '';
	return "ERROR: $msg";
}

# role attributes: rolname => 'super createrole createdb replication bypassrls'
sub role_attrs
{
	my %attrs = map { split /\|/, $_, 2 } split /\n/, su_query(q{
		SELECT rolname || '|' || concat_ws(' ', rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls)
		  FROM pg_roles ORDER BY rolname});
	return \%attrs;
}
my $baseline = role_attrs();
my $plain_attrs = $baseline->{alice};
is($plain_attrs, 'f f f f f', 'alice starts without role attributes');

my $canary_mark = su_query('SELECT coalesce(max(at), 0) FROM canary.log');
my %seen_problems;    # over the whole test: kind of problem => times

# What went wrong since the last call: canaries that ran as a role other
# than $role, and role attributes that changed (restored to the baseline,
# so that one escalation does not spoil the checks after it).  '' if nothing.
sub problems_since_mark
{
	my ($role) = @_;
	my @problems;
	my $foreign = su_query(qq{
		SELECT coalesce(string_agg(x, '; ' ORDER BY first), '') FROM (
			SELECT format('%s ran as %s (session user %s, %s times)', what, ran_as, session_as, count(*)) AS x, min(at) AS first
			  FROM canary.log WHERE at > $canary_mark AND ran_as <> '$role' GROUP BY what, ran_as, session_as) s});
	push @problems, "canaries ran as another role: $foreign" if $foreign ne '';
	$seen_problems{'a canary ran as another role'}++ if $foreign ne '';
	$canary_mark = su_query('SELECT coalesce(max(at), 0) FROM canary.log');

	my $now = role_attrs();
	for my $r (sort keys %$now)
	{
		my $want = exists $baseline->{$r} ? $baseline->{$r} : $plain_attrs;
		next if $now->{$r} eq $want;
		push @problems, "role $r has attributes (super createrole createdb replication bypassrls) '$now->{$r}', expected '$want'";
		$seen_problems{"role $r gained attributes"}++;
		my @w = split / /, $want;
		my @kw = qw(SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS);
		su_query("ALTER ROLE \"$r\" " . join(' ', map { ($w[$_] eq 't' ? '' : 'NO') . $kw[$_] } 0 .. 4));
	}
	return join("\n", @problems);
}

# canary rows of $role (what => count) since $mark
sub canary_rows_of
{
	my ($role, $mark, $like) = @_;
	return su_query(qq{
		SELECT coalesce(string_agg(what || ':' || n, ', ' ORDER BY what), '') FROM (
			SELECT what, count(*) AS n FROM canary.log
			 WHERE at > $mark AND ran_as = '$role' AND what LIKE '$like' GROUP BY what) s});
}

sub write_file
{
	my ($path, $content) = @_;
	open(my $fh, '>', "$path.tmp") or die "$path.tmp: $!";
	print $fh $content;
	close($fh);
	rename("$path.tmp", $path) or die "$path: $!";
	return $path;
}

# psql as the superuser (or extra_params => [-U role]): the output, or
# "ERROR: ..." (checks then fail with the reason and the test goes on)
sub sql_out
{
	my ($sql, %params) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, %params);
	return $ret == 0 ? $out : "ERROR: $err";
}

# the same for statements that set a check up
sub sql_ok
{
	my $out = sql_out(@_);
	unlike($out, qr/^ERROR: /, 'set-up statements succeed') or diag($_[0]);
	return $out;
}

sub wait_for_jobs
{
	my (@ids) = @_;
	return 1 unless @ids;
	my $list = join(', ', @ids);
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM edp.jobs WHERE id IN ($list) AND status IN ('queued', 'running')");
}

# --------------------------------------------------------------------------
# the canaries work: a superuser who runs them under a hostile search_path
# makes alice a superuser (rolled back)
is($node->safe_psql('postgres', q{
BEGIN;
SET LOCAL search_path = pg_catalog, evil, public;
SELECT 'a'::text = 'b'::text, 1259::oid = 'pg_class'::regclass;
SET LOCAL search_path = evil, pg_catalog, public;
SELECT 'a'::text = 'b'::text, 1259::oid = 'pg_class'::regclass;
SET LOCAL search_path = pg_catalog;
SELECT string_agg(what, ' ' ORDER BY at) FROM canary.log;
SELECT rolsuper FROM pg_roles WHERE rolname = 'alice';
ROLLBACK;
}), "f|t\nf|t\n=(oid,regclass) =(text,text) =(oid,regclass)\nt",
	'canary self-check: exact-match operators win even behind pg_catalog, and a canary run as superuser escalates alice');
is(role_attrs()->{alice}, 'f f f f f', 'self-check rolled back');

# --------------------------------------------------------------------------
# 1. dynamic canary: every user-facing operation, as alice and as bob, with
# alice's canaries before and after pg_catalog in search_path

my @paths = ('evil, pg_catalog, public', 'pg_catalog, evil, public');
my $block = 0;
# after COPY data in a background psql: a statement for the ";" that
# BackgroundPsql sends after each query (a lone ";" after COPY data makes
# psql skip the rest of its input)
my $end_copy = "\\.\nSELECT 'copied'";

sub event_rows
{
	my ($n, $k, $header) = @_;
	my $c = $n * 100 + $k;
	my $u = sprintf('00000000-0000-4000-8000-%06d%06d', $n, $k);
	my $s = $header ? "customer_id,event_type,transaction_id,ts\n" : '';
	$s .= "$c,a,${u},2024-01-01 10:00:00+00\n";
	$s .= "$c,a,${u},2024-01-01 10:00:00+00\n";                     # a duplicate
	$s .= "$c,upd,${u},2024-01-02 11:00:00+00\n";
	$s .= "$c,del,${u},2024-01-03 12:00:00+00\n";
	$s .= "$c,a,${u},2024-01-01 11:30:00+01:30\n";                  # the first row again, as +01:30
	return $s;
}

sub sql_literal
{
	my ($s) = @_;
	$s =~ s/\\/\\\\/g;
	$s =~ s/'/''/g;
	$s =~ s/\n/\\n/g;
	return "E'$s'";
}

sub run_block
{
	my ($role, $path) = @_;
	$block++;
	my $n = $block;
	my $S = $role eq 'alice' ? 'evil' : 'bobs';
	my $label = "block $n ($role, search_path $path)";
	my $mark0 = su_query('SELECT coalesce(max(at), 0) FROM canary.log');
	problems_since_mark($role);

	my $sess = $node->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', $role ]);
	$sess->set_query_timer_restart;
	$sess->query_safe('SET client_min_messages = error');
	$sess->query_safe("SET search_path = $path");

	# run one operation; returns its output
	my $op = sub {
		my ($name, $sql, $expect) = @_;
		$sess->{stderr} = '';
		my ($out, $err) = $sess->query($sql);
		ok(!$err, "$label: $name") or diag("statement: $sql\nerror: $sess->{stderr}");
		is($out, $expect, "$label: $name: result") if defined $expect;
		is(problems_since_mark($role), '', "$label: $name: nothing ran as another role, no role gained attributes");
		return $out;
	};

	my @events = ("$S.ev_$n", 'public.shared_events', 'public.shared_parts');
	push @events, 'evil.alice_shared' if $role eq 'bob';
	my @flat = ("$S.flat_$n", 'public.shared_flat');

	$op->('arming: an exact-match operator of alice', q{SELECT 1259::oid = 'pg_class'::regclass}, 't');
	$op->('per-role search_path', "ALTER ROLE $role SET search_path = $path");

	# tables of one's own, set up under the hostile path
	$op->('create event table', "CREATE TABLE $S.ev_$n (customer_id bigint, event_type text, transaction_id uuid, ts timestamptz) PARTITION BY RANGE (ts)");
	$op->('edp.enable_partitioning', "SELECT edp.enable_partitioning('$S.ev_$n', ts => 'ts', period => 'day')");
	$op->('edp.enable_rollup', "SELECT edp.enable_rollup('$S.ev_$n', key => 'customer_id', ts => 'ts') IS NOT NULL", 't');
	$op->('the rollup table exists', "SELECT to_regclass('$S.ev_${n}_edp_rollup') IS NOT NULL", 't');
	$op->('edp.enable_dedupe', "SELECT edp.enable_dedupe('$S.ev_$n', columns => '{customer_id,ts,event_type,transaction_id}')");
	$op->('edp.create_bucket_views', "SELECT edp.create_bucket_views('$S.ev_$n') IS NOT NULL");
	$op->('edp.enable_flattening', "CREATE TABLE $S.flat_$n (id int, metric_one int, metric_two int, event_metrics jsonb); SELECT edp.enable_flattening('$S.flat_$n', path => '{metrics}', exclude => '{id}')", '{metric_one,metric_two}');
	my $trips_made = $op->('edp.create_trips_table', "SELECT edp.create_trips_table('$S.trips_$n') = to_regclass('$S.trips_$n')", 't');
	if ($trips_made ne 't')
	{
		# so that the trips operations below still run: the superuser
		# creates the table and hands it and its side tables to $role
		diag("$label: edp.create_trips_table failed for $role; the superuser creates $S.trips_$n instead");
		sql_ok(qq{
SELECT edp.create_trips_table('$S.trips_$n');
ALTER TABLE $S.trips_$n OWNER TO $role;
ALTER TABLE $S.trips_${n}_cell_weeks OWNER TO $role;
ALTER TABLE $S.trips_${n}_region_weeks OWNER TO $role;
ALTER TABLE $S.trips_${n}_point_blocks OWNER TO $role;
ALTER VIEW $S.trips_${n}_weekly_regions OWNER TO $role;});
		problems_since_mark($role);
	}
	$op->('inbox table with a trigger', "CREATE TABLE $S.inbox_$n (sensor text, value int); CREATE TRIGGER record_inserter BEFORE INSERT ON $S.inbox_$n FOR EACH ROW EXECUTE FUNCTION $S.record_inserter()");

	# event tables: COPY, INSERT, UPDATE, DELETE, edp.ingest_data, edp.ingest, bucket queries
	my $k = 0;
	for my $t (@events)
	{
		$k++;
		$op->("COPY FROM STDIN into $t", "COPY $t FROM STDIN (FORMAT csv);\n" . event_rows($n, $k) . $end_copy, 'copied');
		$op->("INSERT into $t", "INSERT INTO $t VALUES ($n$k, 'ins', NULL, '2024-01-04 00:00+00'), ($n$k, 'ins', NULL, NULL)");
		$op->("INSERT ... SELECT into $t", "INSERT INTO $t SELECT $n$k, 'gen', NULL, timestamptz '2024-01-05 00:00+00' + g * interval '1 hour' FROM generate_series(1, 30) g");
		$op->("UPDATE of $t", "UPDATE $t SET ts = ts + interval '1 day' WHERE event_type = 'upd'");
		$op->("DELETE from $t", "DELETE FROM $t WHERE event_type = 'del'");
		my $sent = sql_literal(event_rows($n, $k + 10, 1) . "not a number,a,,2024-01-01 00:00:00+00\n");
		$op->("edp.ingest_data into $t (a row rejected)", "SELECT status || ' ' || rejected FROM edp.ingest_data('$t', ${sent}::text)", 'succeeded 1');
		$op->("edp.ingest_data of the same bytes into $t", "SELECT status FROM edp.ingest_data('$t', pg_catalog.convert_to($sent, 'UTF8'))", 'skipped');
		my $f = write_file("$dir/ingest_${n}_$k.csv", event_rows($n, $k + 20, 1));
		$op->("edp.ingest into $t", "SELECT status FROM edp.ingest('$t', '$f')", 'succeeded');
		$op->("edp.bucket_counts on $t", "SELECT count(*) FROM edp.bucket_counts('$t', ${n}0${k}::bigint, '2024-01-01 00:00+00', '2024-01-08 00:00+00')", '168');
		$op->("edp.bucket_counts_by on $t", "SELECT count(*) > 0 FROM edp.bucket_counts_by('$t', 'event_type', '2024-01-01 00:00+00', '2024-01-08 00:00+00')", 't');
	}
	$op->('edp.verify_rollup', "SELECT count(*) FROM edp.verify_rollup('$S.ev_$n')", '0');
	$op->('edp.refresh_rollup', "SELECT edp.refresh_rollup('$S.ev_$n') > 0", 't');
	$op->('bucket view', "SELECT sum(events) > 0 FROM $S.ev_${n}_hourly_counts", 't');

	# flattening
	for my $t (@flat)
	{
		$op->("COPY FROM STDIN into $t", qq{COPY $t (id, event_metrics) FROM STDIN (FORMAT csv);\n${n}1,"{""metrics"": {""metric_one"": 5, ""metric_x"": 1}}"\n} . $end_copy, 'copied');
		$op->("INSERT into $t", qq{INSERT INTO $t (id, event_metrics) VALUES (${n}2, '{"metrics": {"metric_two": 7}}')});
		$op->("UPDATE of $t", qq{UPDATE $t SET event_metrics = '{"metrics": {"metric_one": 9}}' WHERE id = ${n}2});
		$op->("edp.ingest_data into $t", "SELECT (edp.ingest_data('$t', " . sql_literal(qq{id,event_metrics\n${n}3,"{""metrics"": {""metric_one"": 1}}"\n}) . "::text)).loaded", '1');
	}
	$op->('edp.metric_columns', "SELECT edp.metric_columns('$S.flat_$n')", '{metric_one,metric_two}');
	$op->('edp.original_metrics', "SELECT count(*) FILTER (WHERE edp.original_metrics(f) IS NOT NULL) FROM $S.flat_$n f", '3');
	$op->('edp.reflatten', "ALTER TABLE $S.flat_$n ADD COLUMN metric_x int; SELECT edp.reflatten('$S.flat_$n')", '1');

	# trips
	$op->('INSERT generated trips', "INSERT INTO $S.trips_$n (region, origin, destination, datetime, datasource) SELECT * FROM edp.generate_trips(300, $n)");
	$op->('COPY WKT trips', "COPY $S.trips_$n (region, origin, destination, datetime, datasource) FROM STDIN (FORMAT csv);\nPrague,POINT (14.42 50.08),POINT (14.43 50.09),2018-04-02 08:00:00,c\n" . $end_copy, 'copied');
	$op->('UPDATE trips', "UPDATE $S.trips_$n SET datetime = datetime + interval '1 hour' WHERE id <= 10");
	$op->('DELETE trips', "DELETE FROM $S.trips_$n WHERE id <= 5");
	$op->('edp.weekly_trip_average', "SELECT edp.weekly_trip_average('$S.trips_$n', 14.3, 49.9, 14.6, 50.2) > 0", 't');
	$op->('edp.weekly_trip_counts (area)', "SELECT sum(trips) > 0 FROM edp.weekly_trip_counts('$S.trips_$n', ST_MakeEnvelope(14.3, 49.9, 14.6, 50.2, 4326), 'either')", 't');
	$op->('edp.region_weekly_trip_average', "SELECT edp.region_weekly_trip_average('$S.trips_$n', 'Prague') > 0", 't');
	$op->('edp.trip_groups', "SELECT count(*) >= 0 FROM edp.trip_groups('$S.trips_$n', 300, 300, 30, 3)", 't');
	$op->('edp.trip_assignments', "SELECT count(*) FROM edp.trip_assignments('$S.trips_$n', 300, 300, 30, 3)", '296');
	$op->('edp.create_trip_groups_view', "SELECT edp.create_trip_groups_view('$S.trips_$n', '$S.trip_groups_$n', 300, 300, 30, 3) IS NOT NULL", 't');
	$op->('the groups view exists', "SELECT count(*) >= 0 FROM $S.trip_groups_$n", 't');
	$op->('edp.trips_svg', "SELECT length(edp.trips_svg('$S.trips_$n', ST_MakeEnvelope(14.3, 49.9, 14.6, 50.2, 4326))) > 0", 't');

	# generators and helpers
	$op->('edp.generate_events', "SELECT count(*) FROM edp.generate_events(100, seed => $n)", '100');
	$op->('edp.generate_trips', "SELECT count(*) FROM edp.generate_trips(100, $n)", '100');
	$op->('edp.parse_timestamp', q{SELECT edp.parse_timestamp('2024-01-01 00:00:00') = '2024-01-01 00:00+00'::timestamptz}, 't');
	$op->('edp.bucket_start', q{SELECT edp.bucket_start('2024-01-01 10:47+00', '1 hour', 'Asia/Kolkata') = '2024-01-01 10:30+00'::timestamptz}, 't');
	$op->('edp.bucket_series', q{SELECT count(*) FROM edp.bucket_series('2024-01-01 00:00+00', '2024-01-02 00:00+00')}, '24');

	# the ledger
	$op->('edp.cancel_job of ids 1..50', 'SELECT count(*) FROM (SELECT edp.cancel_job(id) FROM generate_series(1, 50) id) s', '50');
	$op->('edp.job_events_since', 'SELECT count(*) > 0 FROM edp.job_events_since(0)', 't');
	$op->('only jobs of ones own are visible',
		"SELECT count(*) FROM edp.jobs WHERE NOT pg_has_role(owner, 'USAGE') AND NOT pg_has_role(run_as, 'USAGE')", '0');
	$op->('edp.rejects', 'SELECT count(*) >= 0 FROM edp.rejects', 't');

	# background loads
	my @jobs;
	my $fa = write_file("$dir/async_${n}_1.csv", event_rows($n, 31, 1));
	push @jobs, $op->('edp.ingest_async into public.shared_events', "SELECT edp.ingest_async('public.shared_events', '$fa')");
	$fa = write_file("$dir/async_${n}_2.csv", event_rows($n, 32, 1));
	push @jobs, $op->("edp.ingest_async into $S.ev_$n", "SELECT edp.ingest_async('$S.ev_$n', '$fa')");
	$fa = write_file("$dir/async_${n}_3.csv", event_rows($n, 33, 1));
	push @jobs, $op->('edp.ingest_async into public.shared_parts, run_as named', "SELECT edp.ingest_async('public.shared_parts', '$fa', run_as => '$role')");
	$fa = write_file("$dir/async_${n}_4.csv", event_rows($n, 34, 1));
	$op->('BEGIN', 'BEGIN');
	my $cj = $op->('edp.ingest_async then cancel in one transaction', "SELECT edp.ingest_async('public.shared_events', '$fa')");
	$op->('edp.cancel_job of a queued job', "SELECT edp.cancel_job(" . ($cj =~ /^\d+$/ ? $cj : 0) . ")", 't');
	$op->('COMMIT', 'COMMIT');
	if ($cj =~ /^\d+$/)
	{
		ok($node->poll_query_until('postgres', "SELECT status FROM edp.jobs WHERE id = $cj", 'cancelled'),
			"$label: cancelled job stays cancelled");
		$op->('edp.resume_job', "SELECT edp.resume_job($cj)", $cj);
		push @jobs, $cj;
	}
	@jobs = grep { /^\d+$/ } @jobs;
	ok(wait_for_jobs(@jobs), "$label: background jobs finished");
	my $joblist = join(', ', @jobs) || '0';
	is(su_query("SELECT string_agg(status || ' ' || run_as::text, ', ' ORDER BY id) FROM edp.jobs WHERE id IN ($joblist)"),
		join(', ', ("succeeded $role") x 4), "$label: background jobs succeeded, run as $role");
	is(su_query("SELECT coalesce(string_agg(error, '; '), '') FROM edp.jobs WHERE id IN ($joblist) AND status <> 'succeeded'"),
		'', "$label: no background job failed");
	is(problems_since_mark($role), '', "$label: background jobs: nothing ran as another role, no role gained attributes");

	# an inbox of the superuser's mapped to a table of the role's
	my $inbox = PostgreSQL::Test::Utils::tempdir;
	my ($wret, $wout, $werr) = $node->psql('postgres', "SELECT edp.watch_inbox('$inbox', '$S.inbox_$n')");
	is($wret, 0, "$label: the superuser maps an inbox to $S.inbox_$n") or diag($werr);
	my $imark = su_query('SELECT coalesce(max(at), 0) FROM canary.log');
	write_file("$inbox/in_$n.csv", "sensor,value\ns1,1\ns2,2\ns3,3\n");
	ok($node->poll_query_until('postgres',
			"SELECT status FROM edp.jobs WHERE source LIKE '%/in_$n.csv'", 'succeeded'),
		"$label: inbox file loaded");
	is(su_query("SELECT count(*) FROM $S.inbox_$n"), '3', "$label: inbox rows");
	is(canary_rows_of($role, $imark, 'trigger on %'), "trigger on $S.inbox_$n:3",
		"$label: the inbox load ran the table's trigger as its owner $role");
	is(problems_since_mark($role), '', "$label: inbox: nothing ran as another role, no role gained attributes");
	$node->psql('postgres', "SELECT edp.unwatch_inbox('$inbox')");

	# upkeep really happened: rollups exact, duplicates gone, rows routed
	for my $t (@events)
	{
		is(su_query("SELECT count(*) FROM edp.verify_rollup('$t')"), '0', "$label: rollup of $t is exact");
		is(su_query("SELECT count(*) FROM (SELECT FROM $t GROUP BY customer_id, ts, event_type, transaction_id HAVING count(*) > 1 AND transaction_id IS NOT NULL) d"),
			'0', "$label: no duplicates in $t");
		is(su_query("SELECT count(*) FROM $t t JOIN pg_class c ON c.oid = t.tableoid WHERE pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AND t.ts IS NOT NULL"),
			'0', "$label: every row of $t with a time left the DEFAULT partition")
		  if $t ne 'public.shared_events';
		is(su_query("SELECT count(*) FROM $t t JOIN pg_class c ON c.oid = t.tableoid WHERE t.ts IS NOT NULL AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' AND right(c.relname, 8) <> to_char(t.ts AT TIME ZONE 'UTC', 'YYYYMMDD')"),
			'0', "$label: every row of $t lies in the partition of its day")
		  if $t ne 'public.shared_events';
	}

	# TRUNCATE, disable, DROP
	$op->("TRUNCATE $_", "TRUNCATE $_") for (@events, @flat, "$S.trips_$n");
	$op->('edp.disable_dedupe', "SELECT edp.disable_dedupe('$S.ev_$n')");
	$op->('edp.disable_rollup', "SELECT edp.disable_rollup('$S.ev_$n')");
	$op->('edp.disable_flattening', "SELECT edp.disable_flattening('$S.flat_$n')");
	$op->('DROP event tables', "DROP TABLE $S.ev_$n, $S.flat_$n, $S.inbox_$n CASCADE");
	$op->('DROP trips table', "DROP MATERIALIZED VIEW $S.trip_groups_$n; DROP TABLE $S.trips_$n");
	$op->('RESET per-role search_path', "ALTER ROLE $role RESET search_path");
	$sess->quit;

	is(canary_rows_of($role, $mark0, '%') ne '', 1, "$label: alice's canaries were in reach of $role");
	return;
}

for my $role ('alice', 'bob')
{
	run_block($role, $_) for @paths;
}

# --------------------------------------------------------------------------
# 2. named regressions

subtest 'escalation 1: ledger under a hostile search_path' => sub {
	problems_since_mark('alice');
	my ($ret, $out, $err) = $node->psql('postgres', q{
SET search_path = evil, pg_catalog;
SELECT 1259::oid = 'pg_class'::regclass AS armed;
SELECT (edp.ingest_data('alice_t', E'a,b\n1,x\n'::text)).status;
SELECT edp.cancel_job(id) FROM generate_series(1, 2000) id;
}, extra_params => [ '-U', 'alice' ]);
	is($ret, 0, 'alice ran ingest_data and 2000 cancel_job calls') or diag($err);
	like($out, qr/\At\nsucceeded\n(f\n){1999}f\z/, 'the load succeeded, no job was cancelled');
	is(role_attrs()->{alice}, 'f f f f f', 'alice is still no superuser');
	is(problems_since_mark('alice'), '', 'no canary ran as another role');
	is(sql_out('SELECT count(*) FROM evil.alice_t'), '1', 'the row loaded');
};

subtest 'escalation 2: rollup trigger and an exact-match operator' => sub {
	sql_ok(q{
CREATE TABLE public.esc2 (customer_id bigint, ts timestamptz);
SELECT edp.enable_rollup('public.esc2', key => 'customer_id', ts => 'ts');
GRANT INSERT ON public.esc2 TO bob;
});
	problems_since_mark('bob');
	my $mark = su_query('SELECT coalesce(max(at), 0) FROM canary.log');
	my ($ret, $out, $err) = $node->psql('postgres', q{
SET search_path = pg_catalog, bobs;
SELECT 1259::oid = 'pg_class'::regclass AS armed;
INSERT INTO public.esc2 VALUES (1, '2024-01-01 00:30+00');
}, extra_params => [ '-U', 'bob' ]);
	is($ret, 0, 'bob inserted one row') or diag($err);
	like(canary_rows_of('bob', $mark, '%'), qr/=\(oid,regclass\):\d/, "bob's exact-match operator bobs.=(oid, regclass) was in reach");
	is(role_attrs()->{bob}, 'f f f f f', 'bob is still no superuser');
	is(problems_since_mark('bob'), '', 'no canary ran as another role');
	is(sql_out(q{
SELECT (SELECT count(*) FROM edp.verify_rollup('public.esc2')) || ' ' ||
       (SELECT events FROM edp.bucket_counts('public.esc2', 1::bigint, '2024-01-01 00:00+00', '2024-01-01 01:00+00'))}),
		'0 1', 'the rollup trigger ran and counted the row');
};

subtest 'escalation 3: inbox runs owner triggers as a non-superuser' => sub {
	sql_ok(q{
CREATE TABLE evil.esc3 (sensor text, value int);
CREATE TRIGGER record_inserter BEFORE INSERT ON evil.esc3 FOR EACH ROW EXECUTE FUNCTION evil.record_inserter();
}, extra_params => [ '-U', 'alice' ]);
	problems_since_mark('alice');
	my $mark = su_query('SELECT coalesce(max(at), 0) FROM canary.log');
	my $inbox = PostgreSQL::Test::Utils::tempdir;
	sql_ok("SELECT edp.watch_inbox('$inbox', 'evil.esc3')");
	is(sql_out("SELECT mapped_by::text || ' ' || coalesce(run_as::text, 'NULL') FROM edp.inboxes WHERE directory = '$inbox'"),
		"$su NULL", 'the inbox is mapped by the superuser, run_as left to the table owner');
	write_file("$inbox/esc3.csv", "sensor,value\ns1,1\ns2,2\n");
	ok($node->poll_query_until('postgres',
			"SELECT status FROM edp.jobs WHERE source LIKE '%/esc3.csv'", 'succeeded'),
		'the inbox file was loaded');
	is(sql_out('SELECT count(*) FROM evil.esc3'), '2', 'its rows are in the table');
	is(canary_rows_of('alice', $mark, 'trigger on %'), 'trigger on evil.esc3:2',
		"alice's trigger ran as alice, once per row");
	is(role_attrs()->{alice}, 'f f f f f', 'alice is still no superuser');
	is(problems_since_mark('alice'), '', 'the trigger never ran as the superuser, no role gained attributes');
	sql_ok("SELECT edp.unwatch_inbox('$inbox')");

	# run_as a role without INSERT on the table
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT edp.watch_inbox('$inbox', 'evil.esc3', run_as => 'bob')");
	isnt($ret, 0, 'run_as => bob without INSERT is refused');
	like($err, qr/ERROR:\s+42501:/, 'with SQLSTATE 42501');
	is(sql_out("SELECT count(*) FROM edp.inboxes WHERE directory = '$inbox'"), '0',
		'and nothing is mapped');

	# run_as a role that has INSERT: the superuser's table is loaded as bob
	sql_ok(q{
CREATE TABLE public.esc3_su (sensor text, value int);
CREATE TRIGGER record_inserter BEFORE INSERT ON public.esc3_su FOR EACH ROW EXECUTE FUNCTION canary.record_inserter();
GRANT INSERT ON public.esc3_su TO bob;
});
	problems_since_mark('bob');
	$mark = su_query('SELECT coalesce(max(at), 0) FROM canary.log');
	sql_ok("SELECT edp.watch_inbox('$inbox', 'public.esc3_su', run_as => 'bob')");
	is(sql_out("SELECT coalesce(run_as::text, 'NULL') FROM edp.inboxes WHERE directory = '$inbox'"),
		'bob', 'run_as is recorded');
	write_file("$inbox/esc3_su.csv", "sensor,value\ns1,1\n");
	ok($node->poll_query_until('postgres',
			"SELECT status FROM edp.jobs WHERE source LIKE '%/esc3_su.csv'", 'succeeded'),
		'the file for run_as bob was loaded');
	is(canary_rows_of('bob', $mark, 'trigger on %'), 'trigger on public.esc3_su:1', 'the trigger ran as bob');
	is(problems_since_mark('bob'), '', 'and not as the superuser');
	sql_ok("SELECT edp.unwatch_inbox('$inbox')");
};

subtest 'run_as of background loads' => sub {
	my $f = write_file("$dir/run_as.csv", event_rows(90, 1, 1));
	for my $case (['alice', 'bob'], ['bob', 'alice'], ['alice', $su])
	{
		my ($caller, $target) = @$case;
		my ($ret, $out, $err) = $node->psql('postgres',
			"\\set VERBOSITY verbose\nSELECT edp.ingest_async('public.shared_events', '$f', run_as => '$target')",
			extra_params => [ '-U', $caller ]);
		like($err, qr/ERROR:\s+42501:/, "$caller may not run a load as $target (42501)");
	}
	sql_ok('CREATE TABLE public.no_insert (id int); GRANT SELECT ON public.no_insert TO alice');
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT edp.ingest_async('public.no_insert', '$f', run_as => 'alice')");
	like($err, qr/ERROR:\s+42501:/, 'run_as needs INSERT on the table, even when the caller has it (42501)');
	# the superuser's default for a table of alice's is alice, the owner
	my $job = sql_out("SELECT edp.ingest_async('evil.alice_shared', '$f')");
	like($job, qr/^\d+$/, 'the superuser queues a load into alice\'s table') or $job = 0;
	ok(wait_for_jobs($job), 'the superuser\'s job ended');
	is(sql_out("SELECT status || ' ' || owner::text || ' ' || run_as::text FROM edp.jobs WHERE id = $job"),
		"succeeded $su alice", "a superuser's load into alice's table runs as alice");
	is(sql_out("SELECT count(*) FROM edp.jobs WHERE id = $job", extra_params => [ '-U', 'alice' ]),
		'1', 'alice sees the job that ran as her');
	is(sql_out("SELECT count(*) FROM edp.jobs WHERE id = $job", extra_params => [ '-U', 'bob' ]),
		'0', 'bob does not');

	# another role's job can be neither resumed nor cancelled
	my $f2 = write_file("$dir/run_as_2.csv", event_rows(90, 2, 1));
	my $queued = sql_out(qq{
BEGIN;
SELECT edp.ingest_async('public.shared_events', '$f2') AS j \\gset
SELECT edp.cancel_job(:j);
COMMIT;
SELECT :j;}, extra_params => [ '-U', 'alice' ]);
	my ($cancelled) = $queued =~ /^t\n(\d+)$/;
	ok(defined $cancelled, 'alice queued and cancelled a job in one transaction') or diag($queued);
	$cancelled //= 0;
	like(sql_out("SELECT edp.resume_job($cancelled)", extra_params => [ '-U', 'bob' ]), qr/^ERROR: /,
		'bob may not resume it');
	is(sql_out("SELECT edp.cancel_job($cancelled)", extra_params => [ '-U', 'bob' ]), 'f', 'bob cancels nothing of it');
	is(sql_out("SELECT status FROM edp.jobs WHERE id = $cancelled"), 'cancelled', 'it stays cancelled');
	is(sql_out("SELECT edp.resume_job($cancelled)", extra_params => [ '-U', 'alice' ]), $cancelled, 'alice resumes it');
	ok(wait_for_jobs($cancelled), 'the resumed job ended');
	is(sql_out("SELECT status || ' ' || owner::text || ' ' || run_as::text FROM edp.jobs WHERE id = $cancelled"),
		'succeeded alice alice', 'it loaded, as alice');
	is(problems_since_mark('alice'), '', 'nothing ran as another role');
};

subtest 'admin functions need the owner\'s privileges' => sub {
	for my $call (
		"edp.enable_rollup('evil.alice_shared', key => 'customer_id', ts => 'ts')",
		"edp.disable_rollup('evil.alice_shared')",
		"edp.refresh_rollup('evil.alice_shared')",
		"edp.disable_dedupe('evil.alice_shared')",
		"edp.enable_partitioning('evil.alice_shared', ts => 'ts')",
		"edp.create_bucket_views('evil.alice_shared')",
		"edp.enable_flattening('public.shared_flat', path => '{metrics}')",
		"edp.disable_flattening('public.shared_flat')",
		"edp.enable_dedupe('public.shared_events', columns => '{customer_id}')",
		"edp.disable_rollup('public.shared_events')")
	{
		my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT $call",
			extra_params => [ '-U', 'bob' ]);
		like($err, qr/ERROR:\s+42501:/, "bob may not call $call (42501)");
	}
	is(sql_out(q{SELECT count(*) FROM edp.event_tables WHERE relid IN ('evil.alice_shared'::regclass, 'public.shared_events'::regclass)
	                AND rollup_relid IS NOT NULL AND dedupe_mode = 'first'}),
		'2', 'their settings are unchanged');
	is(problems_since_mark('bob'), '', 'nothing ran as another role');
};

subtest 'lesser: re-ingest only among own jobs' => sub {
	sql_ok(q{
CREATE TABLE public.reingest (id int, v text);
GRANT INSERT, SELECT ON public.reingest TO alice, bob;
});
	my $data = q{E'id,v\n1,x\n2,y\n'::text};
	my $bob_job = sql_out(
		"SELECT id || ' ' || status FROM edp.ingest_data('public.reingest', $data)", extra_params => [ '-U', 'bob' ]);
	like($bob_job, qr/^\d+ succeeded$/, 'bob loaded the bytes');
	($bob_job) = $bob_job =~ /^(\d+)/;
	like(sql_out(
			"SELECT status || ': ' || error FROM edp.ingest_data('public.reingest', $data)", extra_params => [ '-U', 'bob' ]),
		qr/^skipped: .*\bjob $bob_job\b/, 'the same bytes again from bob are skipped, naming his job');
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT id || '|' || status || '|' || loaded || '|' || coalesce(error, '') FROM edp.ingest_data('public.reingest', $data)",
		extra_params => [ '-U', 'alice' ]);
	is($ret, 0, 'alice sent the same bytes') or diag($err);
	my ($alice_job, $status, $loaded, $error) = split /\|/, $out, 4;
	is("$status $loaded", 'succeeded 2', "alice's job loads normally (not skipped)");
	unlike(($error // '') . $err, qr/\b$bob_job\b/, "neither her job's error nor a message names bob's job $bob_job");
	like(sql_out(
			"SELECT status || ': ' || error FROM edp.ingest_data('public.reingest', $data)", extra_params => [ '-U', 'alice' ]),
		qr/^skipped: .*\bjob $alice_job\b/, "alice's own second send is skipped, naming her job");
	is(sql_out('SELECT count(*) FROM public.reingest'), '4', 'two loads, four rows');
};

subtest 'lesser: jobs owned by OID' => sub {
	sql_ok(q{
CREATE ROLE carol LOGIN;
CREATE ROLE dave LOGIN;
CREATE TABLE public.oidt (id int, v int);
GRANT INSERT ON public.oidt TO carol, dave;
});
	my $load = q{SELECT loaded || ' ' || rejected FROM edp.ingest_data('public.oidt', E'id,v\n1,1\n2,notanumber\n'::text)};
	my $counts = q{SELECT (SELECT count(*) FROM edp.jobs) || ' ' || (SELECT count(*) FROM edp.rejects) || ' ' || (SELECT count(*) FROM edp.job_events_since(0))};
	is(sql_out($load, extra_params => [ '-U', 'carol' ]), '1 1', 'carol loads a row and a reject');
	is(sql_out($counts, extra_params => [ '-U', 'carol' ]), '1 1 2', 'carol sees her job, reject and events');
	my $old_carol = sql_out(q{SELECT oid FROM pg_roles WHERE rolname = 'carol'});
	sql_ok("REASSIGN OWNED BY carol TO $su; DROP OWNED BY carol; DROP ROLE carol; CREATE ROLE carol LOGIN");
	is(sql_out($counts, extra_params => [ '-U', 'carol' ]), '0 0 0',
		'a new role named carol sees none of the old carol\'s jobs, rejects or events');
	is(sql_out(qq{SELECT count(*) FROM edp.jobs WHERE owner::oid = $old_carol}), '1',
		'the old job is still there, owned by the old OID');

	is(sql_out($load, extra_params => [ '-U', 'dave' ]), '1 1', 'dave loads a row and a reject');
	sql_ok('ALTER ROLE dave RENAME TO dave2');
	is(sql_out($counts, extra_params => [ '-U', 'dave2' ]), '1 1 2',
		'renamed to dave2, he still sees his job, reject and events');
	is(sql_out('SELECT owner::text FROM edp.jobs', extra_params => [ '-U', 'dave2' ]), 'dave2',
		'the job shows its owner by the new name');
	sql_ok('CREATE ROLE dave_team LOGIN; GRANT dave2 TO dave_team');
	is(sql_out($counts, extra_params => [ '-U', 'dave_team' ]), '1 1 2',
		'a member of dave2 sees his job');
	is(sql_out(q{SELECT count(*) FROM edp.jobs WHERE owner::text IN ('dave2', 'carol') OR owner::oid = } . $old_carol,
			extra_params => [ '-U', 'bob' ]),
		'0', 'bob sees neither');
};

subtest 'lesser: every function pins search_path' => sub {
	my $members = q{
		FROM pg_proc p
		JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
		JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid AND e.extname = 'edp'
		JOIN pg_language l ON l.oid = p.prolang};
	my $no_path = q{NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')};
	cmp_ok(sql_out(qq{SELECT count(*) $members}), '>', 50, 'the query finds the functions of edp');
	is(sql_out(qq{
		SELECT coalesce(string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1), '') $members
		 WHERE l.lanname IN ('sql', 'plpgsql') AND p.prosqlbody IS NULL AND $no_path
		   AND p.oid NOT IN (SELECT oid FROM pg_proc WHERE pronamespace = 'edp'::regnamespace
		                        AND proname IN ('create_trips_table', 'create_trip_groups_view'))}),
		'', 'every sql and plpgsql function of edp pins search_path or is BEGIN ATOMIC');
	is(sql_out(qq{
		SELECT coalesce(string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1), '') $members
		 WHERE p.prosecdef AND $no_path}),
		'', 'no SECURITY DEFINER function of edp without a pinned search_path');
	is(sql_out(qq{
		SELECT coalesce(string_agg(DISTINCT p.oid::regprocedure::text || ' (' || trim(s) || ')', ', '), '') $members,
		       unnest(p.proconfig) c, unnest(string_to_array(substr(c, 13), ',')) s
		 WHERE c LIKE 'search_path=%'
		   AND (trim(s) LIKE '%\$user%' OR EXISTS (
		            SELECT FROM pg_namespace n, (VALUES ('alice'), ('bob')) r(role)
		             WHERE n.nspname = trim(both '"' from trim(s)) AND has_schema_privilege(r.role, n.oid, 'CREATE')))}),
		'', 'pinned search_paths name no schema a plain role can create objects in');
};

subtest 'lesser: NOTIFY payload and per-role channel' => sub {
	my $alice_oid = sql_out(q{SELECT oid FROM pg_roles WHERE rolname = 'alice'});
	my $bob_oid = sql_out(q{SELECT oid FROM pg_roles WHERE rolname = 'bob'});
	my $a = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
	my $b = $node->background_psql('postgres', extra_params => [ '-U', 'bob' ]);
	$a->query_safe("LISTEN edp_ingest_$alice_oid; LISTEN edp_ingest");
	$b->query_safe("LISTEN edp_ingest_$bob_oid; LISTEN edp_ingest");

	my @want_keys = sort qw(event_id job_id event status rows_in loaded rejected duplicates skipped_empty);
	# notifications heard by a session: [channel, decoded payload, raw]
	my $parse = sub {
		my ($text) = @_;
		my @heard;
		while ($text =~ /^Asynchronous notification "([^"]+)" with payload "(.*)" received from server process with PID \d+\.$/mg)
		{
			my ($channel, $raw) = ($1, $2);
			my $payload = eval { decode_json($raw) };
			push @heard, [ $channel, $payload, $raw ];
		}
		return @heard;
	};
	# ask a session until it has heard the succeeded event of $job on edp_ingest
	my $until_heard = sub {
		my ($sess, $text, $job) = @_;
		# no sleep: each round trip lets psql print what has arrived
		my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
		while (time() < $deadline)
		{
			last if grep { $_->[0] eq 'edp_ingest' && $_->[1] && $_->[1]{job_id} == $job && $_->[1]{event} eq 'succeeded' }
			  $parse->($text);
			$text .= $sess->query_safe("SELECT 'listened'");
		}
		return $parse->($text);
	};

	for my $case ([ 'alice', $a, $alice_oid, $b, $bob_oid, 'evil.alice_t', "E'a,b\\n41,n\\n'" ],
		[ 'bob', $b, $bob_oid, $a, $alice_oid, 'public.shared_events', "E'customer_id,event_type,transaction_id,ts\\n4242,n,,2024-02-01 00:00+00\\n'" ])
	{
		my ($who, $mine, $my_oid, $other, $other_oid, $table, $data) = @$case;
		my $out = $mine->query_safe("SELECT id FROM edp.ingest_data('$table', ${data}::text)");
		my ($job) = $out =~ /^(\d+)$/m;
		ok(defined $job, "$who loaded data") or next;
		my @heard_mine = $until_heard->($mine, $out, $job);
		my @heard_other = $until_heard->($other, '', $job);

		my @own = grep { $_->[0] eq "edp_ingest_$my_oid" } @heard_mine;
		is(join(' ', map { $_->[1] ? "$_->[1]{job_id}:$_->[1]{event}" : 'undecodable' } @own),
			"$job:started $job:succeeded", "$who heard the events of the job on edp_ingest_$my_oid");
		ok((grep { $_->[0] eq 'edp_ingest' && $_->[1] && $_->[1]{job_id} == $job } @heard_other),
			"the other role heard $who\'s job on edp_ingest");
		is(join(' ', map { $_->[2] } grep { $_->[0] eq "edp_ingest_$other_oid" } @heard_other), '',
			"nothing of $who\'s job on the other role's channel edp_ingest_$other_oid");
		for my $n (@heard_mine, grep { $_->[0] eq 'edp_ingest' } @heard_other)
		{
			is(join(',', sort keys %{ $n->[1] || {} }), join(',', @want_keys),
				"payload on $n->[0] has exactly the keys " . join(',', @want_keys))
			  or diag($n->[2]);
			unlike($n->[2], qr/\Q$table\E|alice_t|shared_events|"(table|target|path|source|owner|run_as)"/,
				"payload on $n->[0] names no table, path or owner");
		}
	}
	$a->quit;
	$b->quit;
	# alice's load fires no trigger; bob's fires the superuser's trigger on public.shared_events as bob
	is(problems_since_mark('bob'), '', 'nothing ran as another role');
};

is(role_attrs()->{alice} . ' / ' . role_attrs()->{bob}, 'f f f f f / f f f f f',
	'at the end alice and bob have no role attributes');
is(join(', ', map { "$_ ($seen_problems{$_} checks)" } sort keys %seen_problems), '',
	'over the whole test no canary ran as another role and no role gained an attribute');

$check->quit;
$node->stop;
done_testing();
