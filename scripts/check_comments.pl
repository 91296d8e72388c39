#!/usr/bin/perl
# scripts/check_comments.pl -- every object edp creates carries a COMMENT ON.
#
# Run from anywhere: perl scripts/check_comments.pl
# Prints one line per finding (file:line: message) and a summary; exits 1
# when there is any finding.  Core Perl only.
#
# 1. The install script (sql/install/*.sql): each top-level CREATE of a
#    table, view, materialized view, index, sequence, type, function,
#    aggregate, trigger, event trigger, policy or schema has a COMMENT ON
#    the same object in the install script (functions and aggregates are
#    counted per name: an overload needs a comment of its own; a comment
#    naming a signature that does not exist fails CREATE EXTENSION).
# 2. Objects made at run time: a function body of the install script that
#    runs a CREATE of one of those kinds (a string starting with CREATE,
#    as EXECUTE format('CREATE ...') does) also runs a COMMENT ON of that
#    kind; so does a C source file (src/**/*.c) with such an SPI string.
#    That a comment reaches each object, quoted names included, is what
#    the pg_regress test sql/comments.sql checks on a live server.

use strict;
use warnings;
use File::Find;
use FindBin;

chdir("$FindBin::Bin/..") or die "check_comments: cannot chdir to $FindBin::Bin/..: $!\n";

# what a CREATE makes, as COMMENT ON names it
my $KIND = qr/(?:OR\s+REPLACE\s+)?(?:UNLOGGED\s+|UNIQUE\s+|CONSTRAINT\s+)?
              (MATERIALIZED\s+VIEW|EVENT\s+TRIGGER|TABLE|VIEW|INDEX|SEQUENCE|TYPE|FUNCTION|AGGREGATE|TRIGGER|POLICY|SCHEMA)\b/xi;

my @findings;
my ($n_objects, $n_dynamic) = (0, 0);

sub slurp
{
    my ($path) = @_;
    open(my $fh, '<', $path) or die "check_comments: cannot read $path: $!\n";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub kind_of
{
    my ($k) = @_;
    $k = uc $k;
    $k =~ s/\s+/ /g;
    return $k;
}

# an identifier as PostgreSQL folds it: "Quoted" kept, unquoted lower-cased
sub ident
{
    my ($s) = @_;
    my @parts;
    while ($s =~ /\G\s*(?:"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_\$]*))\s*\.?/gc)
    {
        if (defined $1) { (my $q = $1) =~ s/""/"/g; push @parts, $q; }
        else { push @parts, lc $2; }
    }
    return join('.', @parts);
}

my $NAME = qr/(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_\$]*)(?:\s*\.\s*(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_\$]*))*/;

# Split SQL into top-level statements, each with its line and text; comments
# are blanked, quotes and dollar quotes kept whole.
sub statements
{
    my ($sql) = @_;
    my @out;
    my ($start, $line, $start_line) = (0, 1, 1);
    my $buf = '';
    pos($sql) = 0;
    while (pos($sql) < length $sql)
    {
        if ($sql =~ /\G(--[^\n]*)/gc) { $buf .= ' '; next; }
        if ($sql =~ /\G(\/\*.*?\*\/)/gcs) { my $c = $1; $line += ($c =~ tr/\n//); $buf .= ' ' . ("\n" x ($c =~ tr/\n//)); next; }
        if ($sql =~ /\G('(?:[^']|'')*')/gc) { $buf .= $1; $line += ($1 =~ tr/\n//); next; }
        if ($sql =~ /\G(\$([A-Za-z_]*)\$.*?\$\2\$)/gcs) { $buf .= $1; $line += ($1 =~ tr/\n//); next; }
        if ($sql =~ /\G;/gc)
        {
            push @out, [$start_line, $buf] if $buf =~ /\S/;
            $buf = '';
            next;
        }
        $sql =~ /\G(.)/gcs;
        my $ch = $1;
        if ($buf !~ /\S/ && $ch =~ /\S/) { $start_line = $line; }
        $line++ if $ch eq "\n";
        $buf .= $ch;
    }
    push @out, [$start_line, $buf] if $buf =~ /\S/;
    return @out;
}

# string literals of a PL/pgSQL body ('...' and nested $tag$...$tag$),
# with -- comments of the body left out
sub body_strings
{
    my ($body) = @_;
    my @s;
    pos($body) = 0;
    while (pos($body) < length $body)
    {
        if ($body =~ /\G--[^\n]*/gc) { next; }
        if ($body =~ /\G'((?:[^']|'')*)'/gc) { (my $v = $1) =~ s/''/'/g; push @s, $v; next; }
        if ($body =~ /\G\$([A-Za-z_]*)\$(.*?)\$\1\$/gcs) { push @s, $2; next; }
        $body =~ /\G./gcs;
    }
    return @s;
}

# Rule 2 for one unit (a function body or a C file): kinds created by a
# statement string but never commented
sub check_dynamic
{
    my ($where, @strings) = @_;
    my (%created, %commented);
    for my $s (@strings)
    {
        if ($s =~ /^\s*CREATE\s+$KIND/i) { $created{kind_of($1)}++; }
        while ($s =~ /\bCOMMENT\s+ON\s+(MATERIALIZED\s+VIEW|EVENT\s+TRIGGER|TABLE|VIEW|INDEX|SEQUENCE|TYPE|FUNCTION|AGGREGATE|TRIGGER|POLICY|SCHEMA)\b/gi)
        {
            $commented{kind_of($1)}++;
        }
    }
    for my $k (sort keys %created)
    {
        $n_dynamic += $created{$k};
        push @findings, "$where: runs CREATE $k ($created{$k}x) but no COMMENT ON $k"
          unless $commented{$k};
    }
}

#----------------------------------------------------------------------
# 1 and 2: the install script
#----------------------------------------------------------------------

my (%creates, %comments);
for my $file (sort glob('sql/install/*.sql'))
{
    for my $st (statements(slurp($file)))
    {
        my ($line, $text) = @$st;
        $text =~ s/^\s+//;
        if ($text =~ /^COMMENT\s+ON\s+(MATERIALIZED\s+VIEW|EVENT\s+TRIGGER|TABLE|VIEW|INDEX|SEQUENCE|TYPE|FUNCTION|AGGREGATE|TRIGGER|POLICY|SCHEMA)\s+($NAME)(?:\s+ON\s+($NAME))?/i)
        {
            my ($k, $n, $on) = (kind_of($1), ident($2), $3);
            $n .= ' ON ' . ident($on) if defined $on;
            $comments{"$k $n"}++;
            next;
        }
        next unless $text =~ /^CREATE\s+$KIND\s+(?:IF\s+NOT\s+EXISTS\s+)?($NAME)/;
        my ($k, $n) = (kind_of($1), ident($2));
        if ($k eq 'TRIGGER' || $k eq 'POLICY')
        {
            $text =~ /\bON\s+($NAME)/i;
            $n .= ' ON ' . ident($1);
        }
        elsif ($k eq 'INDEX')
        {
            # an index lives in its table's schema
            $text =~ /\bON\s+(?:ONLY\s+)?($NAME)/i;
            my $tbl = ident($1);
            $n = "$1.$n" if $tbl =~ /^(.*)\./;
        }
        $n_objects++;
        push @{ $creates{"$k $n"} }, "$file:$line";
        if ($k eq 'FUNCTION' && $text =~ /\bAS\s+\$([A-Za-z_]*)\$(.*?)\$\1\$/s)
        {
            check_dynamic("$file:$line: function $n", body_strings($2));
        }
    }
}
for my $obj (sort keys %creates)
{
    my @at = @{ $creates{$obj} };
    my $have = $comments{$obj} // 0;
    next if $have >= @at;
    if (@at == 1) { push @findings, "$at[0]: $obj has no COMMENT ON"; }
    else { push @findings, "$at[0]: $obj: " . scalar(@at) . " overloads (also @at[1 .. $#at]), $have COMMENT ON"; }
}

#----------------------------------------------------------------------
# 2: SPI strings of the C sources
#----------------------------------------------------------------------

my @cfiles;
find({ wanted => sub { push @cfiles, $File::Find::name if /\.c$/ }, no_chdir => 1 }, 'src') if -d 'src';
for my $file (sort @cfiles)
{
    my $c = slurp($file);
    $c =~ s{/\*.*?\*/}{ }gs;
    $c =~ s{//[^\n]*}{ }g;
    $c =~ s{'(?:[^'\\]|\\.)*'}{' '}g;            # char literals: '"' is no string
    my @strings;
    # adjacent literals are one string, as the compiler joins them
    while ($c =~ /((?:"(?:[^"\\]|\\.)*"\s*)+)/gs)
    {
        my $lit = $1;
        my $s = join('', $lit =~ /"((?:[^"\\]|\\.)*)"/g);
        push @strings, $s;
    }
    check_dynamic($file, @strings);
}

print "$_\n" for @findings;
printf "check_comments: %d install objects, %d run-time CREATEs, %d findings\n",
  $n_objects, $n_dynamic, scalar @findings;
exit(@findings ? 1 : 0);
