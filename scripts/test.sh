#!/usr/bin/env bash
# scripts/test.sh -- the whole edp test suite on a fresh Debian 12 machine:
# installs packages, builds and installs edp, then runs pg_regress on a
# temporary instance and the TAP tests, as an unprivileged OS user.
source "$(dirname "$0")/common.sh"

edp_install_packages

# The Parquet tests (test/t/06*_export_*.pl) read edp's files back with
# DuckDB for node: Debian's nodejs and npm where missing, then the npm
# package (its engine included) into test/parquet/node_modules, pinned by
# test/parquet/package-lock.json -- never a global install.
for p in nodejs npm; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" &&
       ! command -v "${p/nodejs/node}" >/dev/null; then
        say "installing Debian package $p"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
    fi
done
if [ ! -d "$EDP_ROOT/test/parquet/node_modules/@duckdb/node-api" ]; then
    say "installing DuckDB for node into test/parquet"
    (cd "$EDP_ROOT/test/parquet" && npm ci --no-audit --no-fund --loglevel=error)
fi

# one version: edp.control's default_version; META.json (the release and
# provides.edp, its first two "version" fields) must agree
control_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$EDP_ROOT/edp.control")
for v in $(grep -o '"version": "[^"]*"' "$EDP_ROOT/META.json" | head -n 2 | cut -d'"' -f4); do
    case "$v" in
        "$control_version"|"$control_version".*) ;;
        *) echo "META.json version $v does not match edp.control's $control_version" >&2; exit 1 ;;
    esac
done

say "static security check"; perl "$EDP_ROOT/scripts/check_security.pl"
say "comment check"; perl "$EDP_ROOT/scripts/check_comments.pl"

edp_build_install

# Tests run as an unprivileged user; when we are root, run them in a copy
# of the tree that user owns, so the checkout itself is left untouched.
if [ "$(id -u)" -eq 0 ]; then
    workdir=$(mktemp -d /tmp/edp-test.XXXXXX)
    tar -C "$EDP_ROOT" --exclude=.git --exclude=tmp_check --exclude=results -cf - . | tar -C "$workdir" -xf -
    chown -R postgres: "$workdir"
else
    workdir=$EDP_ROOT
fi

say "pg_regress and TAP tests (in $workdir)"
set +e
as_run_user make -C "$workdir" -s PG_CONFIG=$PG_CONFIG installcheck 2>&1 | tee "$workdir/installcheck.log"
status=${PIPESTATUS[0]}
set -e

if [ $status -ne 0 ] && [ -f "$workdir/regression.diffs" ]; then
    say "regression.diffs"
    cat "$workdir/regression.diffs"
fi

say "test counts"
regress=$(grep -oE '(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed)' "$workdir/installcheck.log" | tail -n 1 || true)
tap=$(grep -E '^(Files=|Result:)' "$workdir/installcheck.log" | tr '\n' ' ' || true)
echo "pg_regress: ${regress:-did not run}"
echo "TAP:        ${tap:-did not run}"
if [ $status -ne 0 ]; then
    echo "edp tests FAILED"
    exit $status
fi
echo "edp tests passed"
[ "$workdir" = "$EDP_ROOT" ] || rm -rf "$workdir"
