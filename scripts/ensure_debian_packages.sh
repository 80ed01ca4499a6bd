#!/bin/sh
# Install the Debian packages the tests and the bench use, where missing (idempotent).
#
#   postgresql-15-postgis-3  PostGIS for the local PostgreSQL 15 (the PostgreSQL backend's tests, the bench)
#   chromium                 the real browser that tests/browser drives (Playwright launches /usr/bin/chromium;
#                            Playwright's own browser downloads are not used)
#   gdal-bin                 ogrinfo/ogr2ogr, which open the OGC API – Features endpoints as QGIS and GDAL users do
#   fonts-dejavu-core        text in the browser's screenshots
#
# Run by `make test` and `make bench`. Present packages cost nothing. Missing ones are installed, as root, after one
# `apt-get update`. It never fails the build: on a problem it says why and exits 0, and the tests that need the
# missing tool then fail saying what is missing.
set -u
MISSING=""
need() {  # need PACKAGE FILE: PACKAGE is missing when FILE is
    if ! ls "$2" >/dev/null 2>&1; then MISSING="$MISSING $1"; fi
}
need postgresql-15-postgis-3 /usr/share/postgresql/15/extension/postgis.control
need chromium /usr/bin/chromium
need gdal-bin /usr/bin/ogrinfo
need fonts-dejavu-core /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

if [ -z "$MISSING" ]; then
    echo "ensure_debian_packages: all present (PostGIS, Chromium, GDAL, fonts)"
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_debian_packages: missing:$MISSING — install them as root with apt-get (the tests that need them will fail)"
    exit 0
fi
echo "ensure_debian_packages: installing$MISSING (apt-get update, then apt-get install)"
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/ensure_debian_packages.XXXXXX.log)
if ! apt-get update -qq >"$LOG" 2>&1; then
    tail -n 5 "$LOG"
    echo "ensure_debian_packages: apt-get update failed, see $LOG"
    exit 0
fi
# shellcheck disable=SC2086  # one word per package
if ! apt-get install -y -qq --no-install-recommends $MISSING >>"$LOG" 2>&1; then
    tail -n 5 "$LOG"
    echo "ensure_debian_packages: apt-get install failed, see $LOG"
    exit 0
fi
rm -f "$LOG"
echo "ensure_debian_packages: installed$MISSING"
exit 0
