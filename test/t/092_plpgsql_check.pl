# 092_plpgsql_check.pl -- every plpgsql function of edp passes plpgsql_check
#
# plpgsql_check (Debian's postgresql-15-plpgsql-check, installed by
# scripts/test.sh) compiles each function body against the catalog as it
# is after CREATE EXTENSION edp: unknown columns, functions, condition
# names and type mismatches are errors here, not when a rare path first
# runs.  With security warnings on, it also flags text spliced into dynamic
# SQL.  Every finding must be either absent or one of the reviewed ones
# below, each with the reason it is safe; a new finding fails the test.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plpgsql_check');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'edp'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edp CASCADE; CREATE EXTENSION plpgsql_check');

# function (regprocedure) | level | message: reviewed findings
my %reviewed = (
	# reads Citus's catalog only after checking that it exists (no Citus here)
	'edp_internal.is_citus_table(regclass)|error|relation "pg_catalog.pg_dist_partition" does not exist' => 1,
	# the rollup query is built by edp_internal.rollup_query from quote_ident'ed names
	'edp.refresh_rollup(regclass)|security|text type variable is not sanitized' => 1,
	# qname is quote_ident'ed part by part (parse_ident), the schema of PostGIS goes in with %I
	'edp.create_trips_table(text,double precision,text)|security|text type variable is not sanitized' => 1,
	# qname is quote_ident'ed part by part; the rest are numbers and %L literals
	'edp.create_trip_groups_view(regclass,text,double precision,double precision,double precision,integer,text)|security|text type variable is not sanitized' => 1,
	# the spliced text is one of two constant SQL fragments of the function itself
	'edp_internal.trip_area_week_counts(regclass,geometry,text,text,date,date,timestamp without time zone,timestamp without time zone,boolean)|security|text type variable is not sanitized' => 1,
);

my $out = $node->safe_psql('postgres', q{
SELECT DISTINCT p.oid::regprocedure || '|' || r.level || '|' || r.message
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang,
  LATERAL plpgsql_check_function_tb(p.oid, security_warnings => true, performance_warnings => false,
                                    extra_warnings => false) r
 WHERE n.nspname IN ('edp', 'edp_internal') AND l.lanname = 'plpgsql'
   AND p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype
 ORDER BY 1});
my @findings = grep { $_ ne '' } split /\n/, $out;
my $checked = $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname IN ('edp', 'edp_internal') AND l.lanname = 'plpgsql'
   AND p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype});
cmp_ok($checked, '>', 30, "plpgsql_check read $checked plpgsql functions of edp");
my @new = grep { !$reviewed{$_} } @findings;
is(scalar @new, 0, 'no finding beyond the reviewed ones') or diag(join("\n", @new));
my %found = map { $_ => 1 } @findings;
for my $r (sort keys %reviewed)
{
	ok($found{$r}, "reviewed finding still there (else take it off the list): " . (split /\|/, $r)[0]);
}
done_testing();
