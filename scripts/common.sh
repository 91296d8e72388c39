# scripts/common.sh -- shared set-up for scripts/demo.sh and scripts/test.sh
#
# Installs what edp needs from Debian's packages, builds edp and installs it
# into the system PostgreSQL 15.  Runs as root, or as a user with sudo.

set -euo pipefail

EDP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# EDP_PG_BINDIR: another PostgreSQL 15 installation's bin directory (its pg_config
# says where edp installs), instead of the system one of the Debian packages
PG_BINDIR=${EDP_PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BINDIR/pg_config
# postgresql-15-plpgsql-check: test/t/092_plpgsql_check.pl lints every plpgsql body.
# libkrb5-dev: the server headers of a GSSAPI-enabled build (Debian 15.20 on) include
# gssapi/gssapi.h from libpq/libpq-be.h, and postgresql-server-dev-15 does not pull it in
EDP_PACKAGES="make gcc libc6-dev libzstd-dev libkrb5-dev postgresql-15 postgresql-server-dev-15 postgresql-15-postgis-3 postgresql-15-plpgsql-check libipc-run-perl"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi

say() { printf '\n== %s\n' "$*"; }

edp_install_packages() {
    local missing="" p
    for p in $EDP_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        say "installing Debian packages:$missing"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # postgresql-common must not create and start a default cluster of its own
        $SUDO mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/edp.conf >/dev/null
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
}

edp_build_install() {
    say "building and installing edp"
    make -C "$EDP_ROOT" -s PG_CONFIG=$PG_CONFIG PG_CFLAGS="-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers"
    $SUDO make -C "$EDP_ROOT" -s PG_CONFIG=$PG_CONFIG install >/dev/null
}

# The OS user that runs PostgreSQL: initdb refuses root, so root uses the
# unprivileged "postgres" account the Debian packages create.
edp_run_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# as_run_user CMD... : run a command as that user
as_run_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
