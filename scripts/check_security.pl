#!/usr/bin/perl
# scripts/check_security.pl -- static security checks of edp's sources.
#
# Run from the repository root: perl scripts/check_security.pl
# Prints one line per finding (file:line: message) and a summary; exits 1
# when there is any finding.  Core Perl only.
#
# 1. C sources (src/**/*.c): SPI_connect, SPI_connect_ext and the identity
#    switches (SetUserIdAndSecContext, SetUserIdAndContext) appear only in
#    security.c; all other code goes through edp_spi_begin/edp_spi_end and
#    edp_become/edp_unbecome (src/security.h).
# 2. SQL in C string literals: statements edp runs with SPI, often as
#    another role, must not resolve any name through search_path.  Every
#    operator is OPERATOR(pg_catalog.x), every function and cast type is
#    schema-qualified, and every relation is qualified (or a transition
#    table, a CTE or a %s the C code fills with a qualified name).  It is a
#    heuristic; a literal it cannot judge (a fragment) may be exempted with
#    /* edp-sql-checked: reason */ on the line before it.
# 3. The install script: every SQL and PL/pgSQL function pins search_path
#    (SET search_path, the install script's DO block that pins the
#    PostGIS-using ones, or ALTER FUNCTION ... SET search_path), or has a
#    BEGIN ATOMIC body (names bound at CREATE time), or is listed in
#    %SEARCH_PATH_EXEMPT below.  No SECURITY DEFINER function goes without
#    SET search_path.
#
# EDP_CHECK_LIST=1 also lists, on stderr, every C string literal (SQL or
# not) and every function of the install script with what pins it.

use strict;
use warnings;
use File::Find;
use FindBin;

# paths below are relative to the repository root, wherever we are started
chdir("$FindBin::Bin/..") or die "check_security: cannot chdir to $FindBin::Bin/..: $!\n";

# SQL/PL functions that deliberately run with the caller's search_path
my %SEARCH_PATH_EXEMPT = (
    'edp.create_trips_table' =>
        'resolves the caller\'s unqualified table name as CREATE TABLE does; every other name is qualified; runs as the caller',
    'edp.create_trip_groups_view' => 'same, for the view name',
);

# files allowed to open SPI and switch identity
my $SECURITY_FILE = qr{(?:^|/)security\.c$};
my @FORBIDDEN_CALLS = qw(SPI_connect SPI_connect_ext SetUserIdAndSecContext SetUserIdAndContext);

my @findings;
my ($n_cfiles, $n_sql, $n_funcs) = (0, 0, 0);

sub finding
{
    my ($file, $line, $msg) = @_;
    push @findings, "$file:$line: $msg";
}

sub slurp
{
    my ($path) = @_;
    open(my $fh, '<', $path) or die "check_security: cannot read $path: $!\n";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

#----------------------------------------------------------------------
# C lexer
#----------------------------------------------------------------------

sub unescape_c
{
    my ($s) = @_;
    my %simple = (n => "\n", t => "\t", r => "\r", '0' => "\0", a => "\a",
                  b => "\b", f => "\f", v => "\013", e => "\033");
    $s =~ s{\\(x[0-9A-Fa-f]+|[0-7]{1,3}|.)}{
        my $e = $1;
        $e =~ /^x(.+)/ ? chr(hex($1))
          : $e =~ /^[0-7]+$/ ? chr(oct($e))
          : exists $simple{$e} ? $simple{$e}
          : $e;
    }ges;
    return $s;
}

# tokens: { t => 'str'|'chr'|'id'|'num'|'p', v => text, line => n }
# comments: list of [end_line, text]
sub lex_c
{
    my ($src) = @_;
    my (@tok, @comments);
    my $line = 1;
    my $bol = 1;                # at the beginning of a line (only blanks so far)
    pos($src) = 0;
    while (pos($src) < length($src))
    {
        if ($src =~ /\G\n/gc) { $line++; $bol = 1; next; }
        if ($src =~ /\G[ \t\r\f\v]+/gc) { next; }
        if ($src =~ /\G\\\n/gc) { $line++; next; }
        if ($src =~ m{\G/\*(.*?)\*/}gcs)
        {
            my $c = $1;
            $line += ($c =~ tr/\n//);
            push @comments, [$line, $c];
            next;
        }
        if ($src =~ m{\G//([^\n]*)}gc) { push @comments, [$line, $1]; next; }
        if ($bol && $src =~ /\G#\s*include\b[^\n]*/gc) { next; }
        $bol = 0;
        if ($src =~ /\G(?:u8|[LuU])?"((?:[^"\\\n]|\\.|\\\n)*)"/gcs)
        {
            my $raw = $1;
            my $start = $line;
            $line += ($raw =~ tr/\n//);
            $raw =~ s/\\\n//g;
            push @tok, { t => 'str', v => unescape_c($raw), line => $start };
            next;
        }
        if ($src =~ /\G(?:[LuU])?'((?:[^'\\\n]|\\.)*)'/gc)
        {
            push @tok, { t => 'chr', v => $1, line => $line };
            next;
        }
        if ($src =~ /\G([A-Za-z_][A-Za-z0-9_]*)/gc)
        {
            push @tok, { t => 'id', v => $1, line => $line };
            next;
        }
        if ($src =~ /\G(\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)/gc)
        {
            push @tok, { t => 'num', v => $1, line => $line };
            next;
        }
        if ($src =~ /\G(->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*\/%&|^!=<>]=|##|\.\.\.|.)/gcs)
        {
            push @tok, { t => 'p', v => $1, line => $line };
            next;
        }
    }
    return (\@tok, \@comments);
}

# string-valued macros: #define NAME "literal"
my %STRING_MACROS;

sub collect_string_macros
{
    my ($src) = @_;
    while ($src =~ /^[ \t]*#[ \t]*define[ \t]+([A-Z][A-Z0-9_]*)[ \t]+"((?:[^"\\\n]|\\.)*)"[ \t]*$/mg)
    {
        $STRING_MACROS{$1} = unescape_c($2);
    }
}

sub macro_text
{
    my ($name) = @_;
    return $STRING_MACROS{$name} if exists $STRING_MACROS{$name};
    return 'lld' if $name =~ /^U?INT64_FORMAT$/;    # after a "%" piece
    return 'zu' if $name eq 'SIZE_FORMAT';
    return '%s';                                    # opaque text
}

#----------------------------------------------------------------------
# SQL lexer and checks
#----------------------------------------------------------------------

# words that are not operands: SQL keywords edp's statements use
my %KW = map { $_ => 1 } qw(
  ALL ALTER ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC AT ATOMIC BEGIN BETWEEN BY
  CALL CASCADE CASE CAST COLLATE COLUMN CONCURRENTLY CONFLICT CONSTRAINT COPY
  CREATE CROSS CUBE CURSOR DEFAULT DELETE DESC DISTINCT DO DROP ELSE ESCAPE
  EXCEPT EXECUTE EXISTS EXTRACT FETCH FILTER FIRST FOR FROM FULL GRANT GROUP
  GROUPING HAVING ILIKE IN INDEX INNER INSERT INTERSECT INTERVAL INTO IS JOIN
  KEY LAST LATERAL LEFT LIKE LIMIT LOCAL LOCK LOCKED MATERIALIZED MODE NATURAL
  NO NOT NOTHING NOWAIT NULLIF NULLS OF OFFSET ON ONLY OPERATOR OR ORDER
  ORDINALITY OUTER OVER OVERLAPS OVERLAY PARTITION POSITION RECURSIVE REFRESH
  RESET RETURNING REVOKE RIGHT ROLLUP ROW ROWS SELECT SESSION SET SETS SHARE
  SIMILAR SKIP SOME STDIN STDOUT SUBSTRING SYMMETRIC TABLE THEN TO TRIM
  TRUNCATE UNION UNIQUE UPDATE USING VACUUM VALUES VIEW WHEN WHERE WINDOW WITH
  WITHIN COALESCE GREATEST LEAST ZONE TIME TIMESTAMP RETURN PERFORM BOOLEAN
  BIGINT INT INTEGER SMALLINT NUMERIC DECIMAL REAL FLOAT DOUBLE PRECISION CHAR
  CHARACTER VARCHAR VARYING BIT NATIONAL NCHAR VERBOSE FREEZE STRICT
);

# after these a "*" is the star of SELECT *, count(*), t.*
my %STAR_BEFORE = map { $_ => 1 } qw(SELECT DISTINCT ALL RETURNING);

# after these a "-" before a number is the sign of the number
my %SIGN_BEFORE = map { $_ => 1 } qw(
  SELECT WHERE AND OR NOT THEN ELSE WHEN LIMIT OFFSET BY RETURNING VALUES IN
  ANY ALL SOME ARRAY DEFAULT IS CASE BETWEEN ON HAVING
);

# words after FROM, JOIN, ... that are not a relation
my %NOT_RELATION = map { $_ => 1 } qw(ROWS STDIN STDOUT VERBOSE FULL FREEZE ANALYZE FROM SET WHERE);

# keywords that may be followed by "(" without being a function call;
# EXTRACT, SUBSTRING, POSITION, TRIM, OVERLAY and GROUPING become calls of
# pg_catalog functions (SystemFuncName), COALESCE/GREATEST/LEAST are
# expression nodes that use the type's btree opclass
my %PAREN_KW = map { $_ => 1 } qw(
  ALL AND ANY ARRAY AS BETWEEN BY CAST COALESCE CONFLICT CUBE DISTINCT DO ELSE
  EXCEPT EXISTS EXTRACT FILTER FROM GREATEST GROUPING HAVING IN INTERSECT INTO
  IS JOIN LATERAL LEAST LIMIT MATERIALIZED NOT OFFSET ON ONLY OR OVER OVERLAY
  POSITION RETURNING ROLLUP ROW ROWS SELECT SET SETS SOME SUBSTRING TABLE THEN
  TRIM UNION USING VALUES WHEN WHERE WITH WITHIN
);

# keyword-like words that end an operand
my %OPERAND_KW = map { $_ => 1 } qw(
  NULL TRUE FALSE END CURRENT_USER CURRENT_ROLE SESSION_USER CURRENT_DATE
  CURRENT_TIME CURRENT_TIMESTAMP LOCALTIME LOCALTIMESTAMP EXCLUDED
);

my $OPCHARS = '+\-*/<>=~!@#%^&|`?';

# tokens: { t => 'id'|'qid'|'num'|'sq'|'param'|'ph'|'op'|'cast'|'p', v, off }
sub lex_sql
{
    my ($s, $fragment) = @_;
    my @tok;
    pos($s) = 0;
    while (pos($s) < length($s))
    {
        my $off = pos($s);
        if ($s =~ /\G\s+/gc) { next; }
        if ($s =~ /\G--[^\n]*/gc) { next; }
        if ($s =~ m{\G/\*.*?(?:\*/|\z)}gcs) { next; }
        if ($s =~ /\G[bBxX]'([^']*)(?:'|\z)/gc)
        {
            push @tok, { t => 'sq', v => $1, off => $off, bits => 1 };
            next;
        }
        if ($s =~ /\G[eE]'((?:[^'\\]|''|\\.)*)(?:'|\z)/gcs)
        {
            push @tok, { t => 'sq', v => $1, off => $off };
            next;
        }
        if ($s =~ /\G'((?:[^']|'')*)(?:'|\z)/gcs)
        {
            push @tok, { t => 'sq', v => $1, off => $off };
            next;
        }
        if ($s =~ /\G"((?:[^"]|"")*)(?:"|\z)/gcs)
        {
            push @tok, { t => 'qid', v => $1, off => $off };
            next;
        }
        if ($s =~ /\G(\$([A-Za-z_][A-Za-z0-9_]*)?\$)/gc)
        {
            my $tag = $1;
            my $end = index($s, $tag, pos($s));
            $end = length($s) if $end < 0;
            my $body = substr($s, pos($s), $end - pos($s));
            pos($s) = $end + length($tag) > length($s) ? length($s) : $end + length($tag);
            push @tok, { t => 'sq', v => $body, off => $off, dollar => 1 };
            next;
        }
        if ($s =~ /\G\$(?:\d+|%[-+ #0]*\d*(?:hh|h|ll|l|z|j|t)?[diu])/gc)
        {
            push @tok, { t => 'param', v => '$', off => $off };
            next;
        }
        # format() placeholders in SQL that builds SQL
        if ($fragment && $s =~ /\G%%?(?:\d+\$)?-?\d*[ILs]/gc)
        {
            push @tok, { t => 'ph', v => '%s', off => $off };
            next;
        }
        # C format placeholders (%% is a literal %, the modulo operator)
        if ($s =~ /\G%(?:[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|L|z|j|t)?[diouxXeEfgGcsp]|\z)/gc)
        {
            push @tok, { t => 'ph', v => '%s', off => $off };
            next;
        }
        if ($s =~ /\G%%/gc)
        {
            push @tok, { t => 'op', v => '%', off => $off };
            next;
        }
        if ($s =~ /\G((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)/gc)
        {
            push @tok, { t => 'num', v => $1, off => $off };
            next;
        }
        if ($s =~ /\G([A-Za-z_\x80-\xff][A-Za-z0-9_\$\x80-\xff]*)/gc)
        {
            push @tok, { t => 'id', v => $1, off => $off };
            next;
        }
        if ($s =~ /\G::/gc)
        {
            push @tok, { t => 'cast', v => '::', off => $off };
            next;
        }
        if ($s =~ /\G([$OPCHARS]+)/gc)
        {
            my $op = $1;
            # stop at the start of a comment
            if ($op =~ m{^(.*?)(?:--|/\*)}s && length($1) > 0)
            {
                $op = $1;
            }
            # PostgreSQL's rule: a multi-character operator cannot end in
            # + or - unless it contains one of ~ ! @ # % ^ & | ` ?
            if (length($op) > 1 && $op !~ /[~!@#%^&|`?]/)
            {
                $op =~ s/[+-]+$// while length($op) > 1 && $op =~ /[+-]$/;
            }
            pos($s) = $off + length($op);
            push @tok, { t => 'op', v => $op, off => $off };
            next;
        }
        $s =~ /\G(.)/gcs;
        push @tok, { t => 'p', v => $1, off => $off };
    }
    return \@tok;
}

sub uc_id
{
    my ($tk) = @_;
    return '' unless $tk && $tk->{t} eq 'id';
    return uc($tk->{v});
}

sub is_kw
{
    my ($tk) = @_;
    return $tk && $tk->{t} eq 'id' && $KW{uc($tk->{v})};
}

# does this token end an operand (so that a following * or - is binary)?
sub is_operand
{
    my ($tk) = @_;
    return 0 unless $tk;
    my $t = $tk->{t};
    return 1 if $t =~ /^(?:qid|num|sq|param|ph)$/;
    return 1 if $t eq 'p' && ($tk->{v} eq ')' || $tk->{v} eq ']');
    if ($t eq 'id')
    {
        my $u = uc($tk->{v});
        return 1 if $OPERAND_KW{$u};
        return !$KW{$u};
    }
    return 0;
}

sub is_name
{
    my ($tk) = @_;
    return $tk && ($tk->{t} eq 'id' || $tk->{t} eq 'qid');
}

# check one SQL text; $report->($offset, $message)
# $fragment: text of a quoted literal that SQL concatenates into SQL
sub check_sql
{
    my ($sql, $report, $fragment) = @_;
    my $tok = lex_sql($sql, $fragment);
    my $n = @$tok;

    # parentheses: depth before each token, matching partner
    my (@depth, @match, @stack);
    my $d = 0;
    for my $i (0 .. $n - 1)
    {
        my $v = $tok->[$i]{t} eq 'p' ? $tok->[$i]{v} : '';
        if ($v eq '(' || $v eq '[')
        {
            $depth[$i] = $d++;
            push @stack, $i;
        }
        elsif ($v eq ')' || $v eq ']')
        {
            $d-- if $d > 0;
            $depth[$i] = $d;
            if (@stack)
            {
                my $o = pop @stack;
                $match[$o] = $i;
                $match[$i] = $o;
            }
        }
        else
        {
            $depth[$i] = $d;
        }
    }
    my $tv = sub { my $j = shift; return ($j >= 0 && $j < $n) ? $tok->[$j] : undef; };
    my $is_p = sub { my ($j, $c) = @_; my $x = $tv->($j); return $x && $x->{t} eq 'p' && $x->{v} eq $c; };

    # CTE names: name [(cols)] AS [[NOT] MATERIALIZED] (
    my %cte;
    for my $i (0 .. $n - 1)
    {
        next unless is_name($tok->[$i]);
        my $j = $i + 1;
        if ($is_p->($j, '(') && defined $match[$j]) { $j = $match[$j] + 1; }
        next unless uc_id($tv->($j)) eq 'AS';
        $j++;
        $j++ if uc_id($tv->($j)) eq 'NOT';
        $j++ if uc_id($tv->($j)) eq 'MATERIALIZED';
        $cte{lc $tok->[$i]{v}} = 1 if $is_p->($j, '(');
    }

    my %skip;                           # tokens inside OPERATOR(...)
    my ($set_depth, $from_depth) = (-1, -1);
    my @special_parens;                 # depths of EXTRACT(... FROM ...) and friends

    my $check_rel = sub {
        my ($j, $after) = @_;
        return if $fragment;            # words in a quoted fragment may be anything
        my $x = $tv->($j);
        while ($x && $x->{t} eq 'id' && uc($x->{v}) =~ /^(?:ONLY|LATERAL|TABLE)$/)
        {
            $j++;
            $x = $tv->($j);
        }
        return unless $x;
        return if $x->{t} eq 'ph' || ($x->{t} eq 'p' && $x->{v} eq '(');
        return unless is_name($x);
        return if $is_p->($j + 1, '.');                 # qualified
        # a function (checked below), unless a column list follows the name
        return if $is_p->($j + 1, '(') && $after !~ /^(?:INTO|COPY)$/;
        my $u = uc($x->{v});
        return if $x->{t} eq 'id' && $NOT_RELATION{$u}; # ROWS FROM (, COPY ... FROM STDIN
        my $l = $x->{t} eq 'qid' ? $x->{v} : lc $x->{v};
        return if $l eq 'edp_new' || $l eq 'edp_old' || $cte{$l};
        $report->($x->{off}, "unqualified relation \"$x->{v}\" after $after");
    };

    for (my $i = 0; $i < $n; $i++)
    {
        next if $skip{$i};
        my $tk = $tok->[$i];
        my $prev = $tv->($i - 1);
        my $next = $tv->($i + 1);
        my $u = uc_id($tk);

        # leaving clauses
        if ($tk->{t} eq 'p' && $tk->{v} eq ')')
        {
            $set_depth = -1 if $set_depth > $depth[$i];
            $from_depth = -1 if $from_depth > $depth[$i];
            pop @special_parens while @special_parens && $special_parens[-1] > $depth[$i];
        }
        if ($u =~ /^(?:WHERE|RETURNING|FROM|GROUP|ORDER|HAVING|LIMIT|OFFSET|WINDOW|UNION|INTERSECT|EXCEPT|FOR|ON)$/
            || ($tk->{t} eq 'p' && $tk->{v} eq ';'))
        {
            $set_depth = -1 if $set_depth >= $depth[$i];
            $from_depth = -1 if $from_depth >= $depth[$i] && $u ne 'ON';
        }

        if ($u eq 'OPERATOR' && $is_p->($i + 1, '('))
        {
            my $c = $match[$i + 1];
            my $ok = defined $c && $c == $i + 5
              && is_name($tv->($i + 2)) && $is_p->($i + 3, '.')
              && $tv->($i + 4)->{t} eq 'op';
            if (!$ok)
            {
                $report->($tk->{off}, "OPERATOR(...) not of the form OPERATOR(pg_catalog.op)");
            }
            elsif (lc $tv->($i + 2)->{v} ne 'pg_catalog')
            {
                $report->($tk->{off}, sprintf("OPERATOR(%s.%s) outside pg_catalog",
                                              $tv->($i + 2)->{v}, $tv->($i + 4)->{v}));
            }
            if (defined $c) { $skip{$_} = 1 for $i + 1 .. $c; }
            next;
        }

        if ($tk->{t} eq 'op')
        {
            my $op = $tk->{v};
            # in a quoted fragment only an operator standing alone counts:
            # ' = g.' builds SQL, '2000-01-01' and '/processing/%' do not
            if ($fragment)
            {
                my $end = $tk->{off} + length($op);
                next unless ($tk->{off} == 0 || substr($sql, $tk->{off} - 1, 1) =~ /\s/)
                  && ($end >= length($sql) || substr($sql, $end, 1) =~ /\s/);
            }
            next if $op eq '=>';                                    # named argument
            my $pv = $prev ? ($prev->{t} eq 'id' ? uc $prev->{v} : $prev->{t} eq 'p' ? $prev->{v} : $prev->{t}) : '';
            $pv = 'op' if $pv eq ')' && defined $match[$i - 1] && uc_id($tv->($match[$i - 1] - 1)) eq 'OPERATOR';
            # SELECT *, count(*), t.*
            next if $op eq '*' && ($pv =~ /^[(,.]$/ || $STAR_BEFORE{$pv});
            # -1 (the grammar folds the sign into the constant)
            next if $op eq '-' && $next && $next->{t} eq 'num'
              && ($pv eq '' || $pv =~ /^[(,\[]$/ || $SIGN_BEFORE{$pv} || $pv eq 'op');
            if ($op eq '=' && $set_depth == $depth[$i] && $set_depth >= 0)
            {
                # SET col = ..., SET (a, b) = ..., SET LOCAL x = ...
                my $pp;
                if (is_name($prev) || ($prev && $prev->{t} eq 'ph'))
                {
                    $pp = $tv->($i - 2);
                }
                elsif ($is_p->($i - 1, ')') && defined $match[$i - 1])
                {
                    $pp = $tv->($match[$i - 1] - 1);
                }
                next if $pp && (($pp->{t} eq 'p' && $pp->{v} eq ',')
                                || uc_id($pp) =~ /^(?:SET|LOCAL|SESSION)$/);
            }
            $report->($tk->{off}, "operator \"$op\" not written as OPERATOR(pg_catalog.$op)");
            next;
        }

        if ($tk->{t} eq 'sq' && !$fragment && !$tk->{dollar})
        {
            # SQL that builds SQL: 't3.' || quote_ident(x) || ' = g.' || ...
            my $cat = sub { my $x = $tv->(shift); return $x && $x->{t} eq 'op' && $x->{v} eq '||'; };
            my $before = $cat->($i - 1)
              || ($is_p->($i - 1, ')') && $cat->($i - 2) && uc_id($tv->($i - 6)) eq 'OPERATOR');
            my $after = $cat->($i + 1) || (uc_id($next) eq 'OPERATOR' && $cat->($i + 5));
            my $fmt = $is_p->($i - 1, '(') && lc(($tv->($i - 2) // {v => ''})->{v}) eq 'format';
            if (($before || $after || $fmt) && !$tk->{bits} && $tk->{v} =~ /\S/)
            {
                my $base = $tk->{off};
                my $frag = $tk->{v};
                $frag =~ s/''/'/g;
                check_sql($frag, sub { $report->($base, "in SQL built by SQL ('$frag'): $_[1]") }, 1);
            }
            next;
        }

        if ($tk->{t} eq 'cast')
        {
            my $x = $next;
            if ($x && $x->{t} eq 'ph') { next; }
            if (is_name($x) && $is_p->($i + 2, '.'))
            {
                my $schema = $x->{t} eq 'qid' ? $x->{v} : lc $x->{v};
                $report->($x->{off}, "cast to a type in schema \"$x->{v}\" (only pg_catalog and edp)")
                  unless $schema eq 'pg_catalog' || $schema eq 'edp';
                next;
            }
            $report->($tk->{off}, "cast to unqualified type \"" . ($x ? $x->{v} : '') . "\"");
            next;
        }

        next unless is_name($tk);

        # implicit "=" or other operators looked up by name
        if ($u eq 'IN' && $is_p->($i + 1, '('))
        {
            $report->($tk->{off}, "IN (...) looks up \"=\" by name: use OPERATOR(pg_catalog.=) ANY (ARRAY[...]) or EXISTS");
        }
        elsif ($u eq 'DISTINCT' && uc_id($prev) =~ /^(?:IS|NOT)$/)
        {
            $report->($tk->{off}, "IS DISTINCT FROM looks up \"=\" by name");
        }
        elsif ($u eq 'BETWEEN')
        {
            $report->($tk->{off}, "BETWEEN looks up \"<=\" and \">=\" by name");
        }
        elsif ($u eq 'NULLIF' && $is_p->($i + 1, '('))
        {
            $report->($tk->{off}, "NULLIF looks up \"=\" by name");
        }
        elsif ($u eq 'CASE' && uc_id($next) ne 'WHEN')
        {
            $report->($tk->{off}, "CASE x WHEN looks up \"=\" by name: use CASE WHEN x OPERATOR(pg_catalog.=) ...");
        }
        elsif ($u =~ /^(?:LIKE|ILIKE|SIMILAR)$/)
        {
            $report->($tk->{off}, "$u looks up an operator by name");
        }
        elsif ($u eq 'OVERLAPS')
        {
            $report->($tk->{off}, "OVERLAPS looks up a function by name");
        }
        elsif ($u eq 'NATURAL')
        {
            $report->($tk->{off}, "NATURAL JOIN looks up \"=\" by name");
        }
        elsif ($u eq 'USING' && $is_p->($i + 1, '(')
               && uc_id($tv->($i + 2)) !~ /^(?:SELECT|WITH|VALUES|TABLE)$/
               && !$is_p->($i + 2, '('))
        {
            $report->($tk->{off}, "JOIN ... USING (...) looks up \"=\" by name");
        }

        # clauses
        if ($u eq 'SET')
        {
            $set_depth = $depth[$i];
            next;
        }
        if ($u eq 'CAST' && $is_p->($i + 1, '(') && defined $match[$i + 1])
        {
            # CAST(x AS type): the last AS at the parenthesis' own depth
            my $as;
            for my $j ($i + 2 .. $match[$i + 1] - 1)
            {
                $as = $j if uc_id($tok->[$j]) eq 'AS' && $depth[$j] == $depth[$i] + 1;
            }
            my $x = defined $as ? $tv->($as + 1) : undef;
            if (!$x || !($x->{t} eq 'ph' || (is_name($x) && $is_p->($as + 2, '.')
                                              && lc($x->{v}) =~ /^(?:pg_catalog|edp)$/)))
            {
                $report->($tk->{off}, "CAST to a type not qualified with pg_catalog or edp");
            }
            next;
        }
        if ($u =~ /^(?:EXTRACT|SUBSTRING|POSITION|TRIM|OVERLAY)$/ && $is_p->($i + 1, '('))
        {
            push @special_parens, $depth[$i] + 1;
            next;
        }
        if ($u eq 'FROM')
        {
            next if @special_parens && $special_parens[-1] == $depth[$i];
            next if uc_id($prev) eq 'DISTINCT';
            next if uc_id($prev) eq 'ROWS';
            $from_depth = $depth[$i];
            $check_rel->($i + 1, 'FROM');
            next;
        }
        if ($u =~ /^(?:JOIN|INTO|TRUNCATE|COPY|LOCK|ANALYZE|VACUUM)$/
            || ($u eq 'USING' && !$is_p->($i + 1, '('))
            || ($u eq 'UPDATE' && uc_id($prev) !~ /^(?:DO|FOR|KEY|NO)$/)
            || ($u eq 'TABLE' && uc_id($prev) !~ /^(?:RETURNS|TRUNCATE|LOCK)$/))
        {
            $check_rel->($i + 1, $u);
            next;
        }
        if ($from_depth >= 0 && $from_depth == $depth[$i] && $is_p->($i - 1, ','))
        {
            $check_rel->($i, 'FROM ..., ');
        }

        # function calls and typed literals
        if ($is_p->($i + 1, '('))
        {
            next if $is_p->($i - 1, '.');                   # schema.f(
            next if $tk->{t} eq 'id' && $PAREN_KW{$u};
            next if $u eq 'NULLIF';                         # reported above
            # column lists: AS u(a, b), INSERT INTO t (a), alias(a), CTE name(a) AS (
            next if uc_id($prev) =~ /^(?:AS|INTO|COPY)$/;
            next if $prev && (is_name($prev) && !is_kw($prev) || $prev->{t} eq 'ph'
                              || ($prev->{t} eq 'p' && $prev->{v} eq ')'));
            my $c = $match[$i + 1];
            next if defined $c && uc_id($tv->($c + 1)) eq 'AS' && (uc_id($prev) =~ /^(?:WITH|RECURSIVE)$/ || $is_p->($i - 1, ','));
            $report->($tk->{off}, "function \"$tk->{v}\" is not schema-qualified");
            next;
        }
        if ($next && $next->{t} eq 'sq' && !$is_p->($i - 1, '.') && !is_kw($tk)
            && !$OPERAND_KW{$u} && !is_operand($prev) && !$is_p->($i + 1, '.'))
        {
            $report->($tk->{off}, "typed literal of unqualified type \"$tk->{v}\"");
        }
    }
}

#----------------------------------------------------------------------
# rule 1 and 2: C sources
#----------------------------------------------------------------------

my @cfiles;
find({ wanted => sub { push @cfiles, $File::Find::name if /\.c$/ && -f $_ }, no_chdir => 1 }, 'src')
  if -d 'src';
@cfiles = sort @cfiles;

# string macros from every header and source
{
    my @all;
    find({ wanted => sub { push @all, $File::Find::name if /\.[ch]$/ && -f $_ }, no_chdir => 1 }, 'src')
      if -d 'src';
    collect_string_macros(slurp($_)) for sort @all;
}

my $SQL_START = qr/^\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|TRUNCATE|VALUES|TABLE|LOCK|ANALYZE|VACUUM|COPY|CALL|ALTER|CREATE|DROP|REFRESH|MERGE)\b/;
# messages are not run
my $MESSAGE_CALL = qr/^(?:errmsg|errmsg_plural|errmsg_internal|errdetail|errdetail_internal|errdetail_plural|errdetail_log|errhint|errcontext|elog|ereport|printf|fprintf|snprintf|pg_printf|sprintf|_|gettext|gettext_noop)$/;
my $SQL_INSIDE = qr/ FROM | JOIN |OPERATOR\(|\$[0-9]|\$%d|::|\b(?:WHERE|AND|OR|ORDER BY|GROUP BY|IS NOT NULL|IS NULL|RETURNING|ON CONFLICT|CASE WHEN|ARRAY\[|DO UPDATE)\b|\s(?:=|<>|!=|<=|>=|<|>|\|\|)\s/;

for my $file (@cfiles)
{
    $n_cfiles++;
    my $src = slurp($file);
    my ($tok, $comments) = lex_c($src);

    # rule 1
    unless ($file =~ $SECURITY_FILE)
    {
        for my $tk (@$tok)
        {
            next unless $tk->{t} eq 'id';
            for my $f (@FORBIDDEN_CALLS)
            {
                finding($file, $tk->{line},
                        "$f outside security.c: use edp_spi_begin/edp_spi_end or edp_become/edp_unbecome (security.h)")
                  if $tk->{v} eq $f;
            }
        }
    }

    # exemption markers, by the line they end on
    my %marker;
    for my $c (@$comments)
    {
        next unless $c->[1] =~ /edp-sql-checked\s*:\s*(\S.*)?$/s;
        my $why = $1;
        if (!defined $why || $why !~ /\w/)
        {
            finding($file, $c->[0], "edp-sql-checked marker without a reason");
            next;
        }
        $marker{$c->[0]} = 1;
    }

    # rule 2: groups of adjacent literals (with string macros between)
    my $n = @$tok;
    my @parens;                          # call name of each open paren
    for (my $i = 0; $i < $n; $i++)
    {
        my $tk = $tok->[$i];
        if ($tk->{t} eq 'p' && $tk->{v} eq '(')
        {
            my $p = $i > 0 ? $tok->[$i - 1] : undef;
            push @parens, ($p && $p->{t} eq 'id') ? $p->{v} : '';
            next;
        }
        if ($tk->{t} eq 'p' && $tk->{v} eq ')') { pop @parens; next; }
        next unless $tk->{t} eq 'str';

        my $text = '';
        my @pieces;                      # [offset, line]
        my $j = $i;
        while ($j < $n)
        {
            my $x = $tok->[$j];
            if ($x->{t} eq 'str')
            {
                push @pieces, [length($text), $x->{line}];
                $text .= $x->{v};
                $j++;
                next;
            }
            if ($x->{t} eq 'id' && $x->{v} =~ /^[A-Z][A-Z0-9_]*$/
                && ($j + 1 < $n && $tok->[$j + 1]{t} eq 'str' || $x->{v} =~ /FORMAT$/))
            {
                push @pieces, [length($text), $x->{line}];
                $text .= macro_text($x->{v});
                $j++;
                next;
            }
            last;
        }
        $i = $j - 1;

        my $call = @parens ? $parens[-1] : '';
        next if $call =~ $MESSAGE_CALL;
        my $is_sql = $text =~ $SQL_START || $text =~ $SQL_INSIDE || $call =~ /^SPI_/;
        if ($ENV{EDP_CHECK_LIST})
        {
            (my $one = $text) =~ s/\s+/ /g;
            print STDERR ($is_sql ? "SQL   " : "other "), "$file:$tk->{line}: $one\n";
        }
        next unless $is_sql;
        my $line = $tk->{line};
        next if $marker{$line - 1} || $marker{$line};
        $n_sql++;
        my %seen;
        check_sql($text, sub {
            my ($off, $msg) = @_;
            my $l = $line;
            for my $p (@pieces) { $l = $p->[1] if $p->[0] <= $off; }
            finding($file, $l, "SQL: $msg") unless $seen{"$l $msg"}++;
        });
    }
}

#----------------------------------------------------------------------
# rule 3: install script
#----------------------------------------------------------------------

# split SQL into statements: [ text, line, tokens ]
# tokens: { t => 'id'|'qid'|'sq'|'dq'|'p'|'op'|'num', v, line }
sub sql_statements
{
    my ($src) = @_;
    my (@stmts, @tok);
    my $line = 1;
    my $start_line;
    my $atomic = 0;             # inside BEGIN ATOMIC: depth of BEGIN/CASE
    pos($src) = 0;
    my $push = sub {
        my ($t, $v, $l) = @_;
        $start_line //= $l;
        push @tok, { t => $t, v => $v, line => $l };
    };
    while (pos($src) < length($src))
    {
        if ($src =~ /\G\n/gc) { $line++; next; }
        if ($src =~ /\G[ \t\r\f]+/gc) { next; }
        if ($src =~ /\G--[^\n]*/gc) { next; }
        if ($src =~ m{\G/\*}gc)
        {
            my $depth = 1;
            while ($depth > 0 && pos($src) < length($src))
            {
                if ($src =~ m{\G/\*}gc) { $depth++; }
                elsif ($src =~ m{\G\*/}gc) { $depth--; }
                elsif ($src =~ /\G\n/gc) { $line++; }
                else { $src =~ /\G./gcs; }
            }
            next;
        }
        my $l = $line;
        if ($src =~ /\G[eE]'((?:[^'\\]|''|\\.)*)'/gcs
            || $src =~ /\G'((?:[^']|'')*)'/gcs)
        {
            my $v = $1;
            $line += ($v =~ tr/\n//);
            $v =~ s/''/'/g;
            $push->('sq', $v, $l);
            next;
        }
        if ($src =~ /\G"((?:[^"]|"")*)"/gc)
        {
            $push->('qid', $1, $l);
            next;
        }
        if ($src =~ /\G(\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)/gc)
        {
            my $tag = $1;
            my $end = index($src, $tag, pos($src));
            die "check_security: unterminated $tag quote at line $l\n" if $end < 0;
            my $body = substr($src, pos($src), $end - pos($src));
            pos($src) = $end + length($tag);
            $line += ($body =~ tr/\n//);
            $push->('dq', $body, $l);
            next;
        }
        if ($src =~ /\G([A-Za-z_][A-Za-z0-9_\$]*)/gc)
        {
            my $w = $1;
            $push->('id', $w, $l);
            my $u = uc $w;
            if ($u eq 'ATOMIC' && @tok >= 2 && uc($tok[-2]{v}) eq 'BEGIN' && $tok[-2]{t} eq 'id')
            {
                $atomic = 1;
            }
            elsif ($atomic && ($u eq 'BEGIN' || $u eq 'CASE'))
            {
                $atomic++;
            }
            elsif ($atomic && $u eq 'END')
            {
                $atomic--;
                $atomic = 0 if $atomic < 0;
            }
            next;
        }
        if ($src =~ /\G([0-9][0-9.eE]*)/gc) { $push->('num', $1, $l); next; }
        if ($src =~ /\G;/gc)
        {
            if ($atomic)
            {
                $push->('p', ';', $l);
                next;
            }
            push @stmts, [$start_line, [@tok]] if @tok;
            @tok = ();
            $start_line = undef;
            next;
        }
        if ($src =~ /\G::/gc) { $push->('p', '::', $l); next; }
        if ($src =~ /\G([$OPCHARS]+)/gc) { $push->('op', $1, $l); next; }
        $src =~ /\G(.)/gcs;
        $push->('p', $1, $l);
    }
    push @stmts, [$start_line, [@tok]] if @tok;
    return @stmts;
}

# qualified name starting at token $i: (name, index after it)
sub qualified_name
{
    my ($tok, $i) = @_;
    my @parts;
    while ($i < @$tok && ($tok->[$i]{t} eq 'id' || $tok->[$i]{t} eq 'qid'))
    {
        push @parts, $tok->[$i]{t} eq 'qid' ? $tok->[$i]{v} : lc $tok->[$i]{v};
        $i++;
        last unless $i < @$tok && $tok->[$i]{t} eq 'p' && $tok->[$i]{v} eq '.';
        $i++;
    }
    return (join('.', @parts), $i);
}

sub check_install_scripts
{
    my @files = @_;
    my (@funcs, %pinned, %do_listed);

    for my $st (map { my $f = $_; map { [$f, @$_] } sql_statements(slurp($f)) } @files)
    {
        my ($file, $line, $tok) = @$st;
        my @u = map { $_->{t} eq 'id' ? uc $_->{v} : '' } @$tok;

        # DO block pinning search_path of listed functions
        if ($u[0] eq 'DO')
        {
            for my $tk (@$tok)
            {
                next unless $tk->{t} eq 'dq' || $tk->{t} eq 'sq';
                my $body = $tk->{v};
                next unless $body =~ /ALTER\s+FUNCTION\s+%s\s+SET\s+search_path/i;
                while ($body =~ /'\s*((?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*\.\s*(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*))\s*\(/g)
                {
                    my $name = lc $1;
                    $name =~ s/\s+//g;
                    $name =~ s/"//g;
                    $pinned{$name} = "the DO block's list";
                    $do_listed{$name} = [$file, $line];
                }
            }
            next;
        }

        # ALTER FUNCTION name(...) SET search_path
        if ($u[0] eq 'ALTER' && ($u[1] // '') =~ /^(?:FUNCTION|PROCEDURE|ROUTINE)$/)
        {
            my ($name) = qualified_name($tok, 2);
            if (grep { $u[$_] eq 'SET' && ($u[$_ + 1] // '') eq 'SEARCH_PATH' } 0 .. $#u - 1)
            {
                $pinned{$name} = 'ALTER FUNCTION';
            }
            next;
        }

        next unless $u[0] eq 'CREATE';
        my $k = 1;
        $k += 2 if ($u[1] // '') eq 'OR' && ($u[2] // '') eq 'REPLACE';
        next unless ($u[$k] // '') =~ /^(?:FUNCTION|PROCEDURE)$/;
        my ($name, $i) = qualified_name($tok, $k + 1);

        my ($lang, $set_path, $definer, $atomic) = ('', 0, 0, 0);
        my $depth = 0;
        for my $j ($i .. $#$tok)
        {
            my $tk = $tok->[$j];
            if ($tk->{t} eq 'p') { $depth++ if $tk->{v} eq '('; $depth-- if $tk->{v} eq ')'; next; }
            next if $depth > 0;
            if ($u[$j] eq 'LANGUAGE' && $j < $#$tok)
            {
                $lang = lc $tok->[$j + 1]{v};
            }
            elsif ($u[$j] eq 'SET' && ($u[$j + 1] // '') eq 'SEARCH_PATH')
            {
                $set_path = 1;
            }
            elsif ($u[$j] eq 'SECURITY' && ($u[$j + 1] // '') eq 'DEFINER')
            {
                $definer = 1;
            }
            elsif ($u[$j] eq 'BEGIN' && ($u[$j + 1] // '') eq 'ATOMIC')
            {
                $atomic = 1;
            }
        }
        push @funcs, { name => $name, file => $file, line => $line, lang => $lang, set => $set_path,
                       definer => $definer, atomic => $atomic };
    }

    for my $f (@funcs)
    {
        $n_funcs++;
        my $pinned = $f->{set} || exists $pinned{$f->{name}};
        if ($ENV{EDP_CHECK_LIST})
        {
            print STDERR "func  $f->{file}:$f->{line}: $f->{name} language=$f->{lang}",
              ($f->{set} ? ' SET' : ''), (exists $pinned{$f->{name}} ? " pinned-by=$pinned{$f->{name}}" : ''),
              ($f->{atomic} ? ' ATOMIC' : ''), ($f->{definer} ? ' DEFINER' : ''),
              (exists $SEARCH_PATH_EXEMPT{$f->{name}} ? ' EXEMPT' : ''), "\n";
        }
        if ($f->{definer} && !$pinned)
        {
            finding($f->{file}, $f->{line}, "SECURITY DEFINER function $f->{name} without SET search_path");
        }
        next unless $f->{lang} eq 'sql' || $f->{lang} eq 'plpgsql';
        next if $pinned || $f->{atomic} || exists $SEARCH_PATH_EXEMPT{$f->{name}};
        finding($f->{file}, $f->{line},
                "$f->{lang} function $f->{name} runs with the caller's search_path: add SET search_path = pg_catalog, pg_temp"
                . " (or BEGIN ATOMIC, or list it in the DO block / \%SEARCH_PATH_EXEMPT)");
    }
    for my $name (sort keys %do_listed)
    {
        finding($do_listed{$name}[0], $do_listed{$name}[1],
                "the DO block pins the search_path of $name, which the install script does not create")
          unless grep { $_->{name} eq $name } @funcs;
    }
    for my $name (sort keys %SEARCH_PATH_EXEMPT)
    {
        finding('scripts/check_security.pl', 1, "\%SEARCH_PATH_EXEMPT lists $name, which the install script does not create")
          unless grep { $_->{name} eq $name } @funcs;
    }
}

{
    my $version;
    if (open(my $fh, '<', 'edp.control'))
    {
        while (<$fh>)
        {
            $version = $1 if /^\s*default_version\s*=\s*'([^']*)'/;
        }
        close $fh;
    }
    my @scripts;
    if (defined $version && -f "sql/edp--$version.sql")
    {
        @scripts = ("sql/edp--$version.sql");
    }
    elsif (my @parts = sort glob('sql/install/*.sql'))
    {
        @scripts = @parts;
    }
    else
    {
        finding('edp.control', 1, 'no install script found (sql/edp--' . ($version // '?') . '.sql or sql/install/*.sql)');
    }
    check_install_scripts(@scripts) if @scripts;
}

print "$_\n" for @findings;
printf "check_security: %d C files, %d SQL strings, %d functions checked, %d findings\n",
  $n_cfiles, $n_sql, $n_funcs, scalar @findings;
exit(@findings ? 1 : 0);
