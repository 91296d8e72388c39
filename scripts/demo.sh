#!/usr/bin/env bash
# scripts/demo.sh -- the main job: install, build, start a throwaway cluster
# of edp's own, load generated sample data and show what edp does with it.
source "$(dirname "$0")/common.sh"

DEMO_DIR=${EDP_DEMO_DIR:-/tmp/edp-demo}
DEMO_PORT=${EDP_DEMO_PORT:-54329}
DEMO_DB=edp_demo

edp_install_packages
edp_build_install

say "starting a throwaway cluster in $DEMO_DIR (unix socket only, port $DEMO_PORT)"
if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
    as_run_user $PG_BINDIR/pg_ctl -D "$DEMO_DIR/data" -m fast stop >/dev/null || true
fi
$SUDO rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
[ "$(id -u)" -ne 0 ] || chown postgres: "$DEMO_DIR"
as_run_user $PG_BINDIR/initdb -D "$DEMO_DIR/data" -A trust -U postgres >/dev/null
cat <<CONF | as_run_user tee -a "$DEMO_DIR/data/postgresql.conf" >/dev/null
listen_addresses = ''
unix_socket_directories = '$DEMO_DIR'
port = $DEMO_PORT
CONF
# the database first, then edp's launcher (which connects to it): no FATAL
# "database does not exist" in the server log
as_run_user $PG_BINDIR/pg_ctl -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" -w start >/dev/null
as_run_user $PG_BINDIR/createdb -h "$DEMO_DIR" -p $DEMO_PORT -U postgres $DEMO_DB
as_run_user $PG_BINDIR/pg_ctl -D "$DEMO_DIR/data" -m fast -w stop >/dev/null
cat <<CONF | as_run_user tee -a "$DEMO_DIR/data/postgresql.conf" >/dev/null
shared_preload_libraries = 'edp'
edp.database = '$DEMO_DB'
CONF
as_run_user $PG_BINDIR/pg_ctl -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" -w start >/dev/null

PSQL="$PG_BINDIR/psql -h $DEMO_DIR -p $DEMO_PORT -U postgres -d $DEMO_DB"
export EDP_DEMO_DIR=$DEMO_DIR
for part in "$EDP_ROOT"/scripts/demo/*.sql; do
    say "$(sed -n '1s/^-- *//p' "$part")"
    # -e: every SQL statement is printed before its result; psql runs in the
    # demo directory, where the parts' \copy files are (\copy takes no variables)
    (cd "$DEMO_DIR" && as_run_user $PSQL -X -v ON_ERROR_STOP=1 -q -e -f "$part" -v demo_dir="$DEMO_DIR")
done
if grep -q FATAL "$DEMO_DIR/server.log"; then
    say "the server log has a FATAL line:"; grep FATAL "$DEMO_DIR/server.log"
fi

say "done. The cluster keeps running:"
if [ "$(id -u)" -eq 0 ]; then
    echo "  connect: runuser -u postgres -- $PSQL"
    echo "  stop:    runuser -u postgres -- $PG_BINDIR/pg_ctl -D $DEMO_DIR/data stop"
else
    echo "  connect: $PSQL"
    echo "  stop:    $PG_BINDIR/pg_ctl -D $DEMO_DIR/data stop"
fi
echo "  remove:  stop it, then rm -rf $DEMO_DIR (the cluster, its log and the demo's files)"
