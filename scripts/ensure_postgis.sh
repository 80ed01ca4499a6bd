#!/bin/sh
# Make PostGIS available to the local PostgreSQL 15: the PostgreSQL backend's tests and the bench need it
# (idempotent).
#
# Run by `make test` and `make bench`. If PostGIS is already installed this does nothing.
# Otherwise, as root, it runs `apt-get update` and installs Debian's postgresql-15-postgis-3. It never fails the
# build: on any problem it prints why and exits 0; the tests on PostgreSQL then fail saying PostGIS is missing, and
# bench_index.py skips its PostGIS row with the reason.
set -u
CONTROL=/usr/share/postgresql/15/extension/postgis.control
PACKAGE=postgresql-15-postgis-3

if ls "$CONTROL" >/dev/null 2>&1; then
    echo "ensure_postgis: PostGIS present ($CONTROL)"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure_postgis: PostGIS missing and not root; cannot install $PACKAGE (PostgreSQL tests will fail, the bench skips PostGIS)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_postgis: PostGIS missing and no apt-get; cannot install $PACKAGE (PostgreSQL tests will fail, the bench skips PostGIS)"
    exit 0
fi
echo "ensure_postgis: installing $PACKAGE (apt-get update, then apt-get install)"
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/ensure_postgis.XXXXXX.log)
if ! apt-get update -qq >"$LOG" 2>&1; then
    tail -n 5 "$LOG"
    echo "ensure_postgis: apt-get update failed, see $LOG (PostgreSQL tests will fail, the bench skips PostGIS)"
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends "$PACKAGE" >>"$LOG" 2>&1; then
    tail -n 5 "$LOG"
    echo "ensure_postgis: apt-get install $PACKAGE failed, see $LOG (PostgreSQL tests will fail, the bench skips PostGIS)"
    exit 0
fi
rm -f "$LOG"
if ls "$CONTROL" >/dev/null 2>&1; then
    echo "ensure_postgis: PostGIS installed"
else
    echo "ensure_postgis: $PACKAGE installed but $CONTROL is still missing (PostgreSQL tests will fail, the bench skips PostGIS)"
fi
exit 0
