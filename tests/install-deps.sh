#!/bin/sh
# Installs the Debian packages that the build, the tests, the demo and the
# benchmark need; does nothing when they are all there. Root or sudo.
#   --package: what `make package-test` needs instead: the build
#   dependencies of debian/control, lintian and autopkgtest.
set -e
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ "$1" = "--package" ]; then
    cd "$(dirname "$0")/.."
    missing=""
    for p in dpkg-dev lintian autopkgtest; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $p"
    done
    build=$(dpkg-checkbuilddeps 2>&1 >/dev/null | sed -n 's/.*Unmet build dependencies: //p')
    [ -z "$missing" ] && [ -z "$build" ] && exit 0
    echo "installing:$missing${build:+ and the build dependencies: $build}"
    $SUDO apt-get update -qq
    [ -z "$missing" ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
    [ -z "$build" ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get build-dep -y -qq ./
    exit 0
fi
PKGS="make gcc apache2 apache2-dev libcurl4-openssl-dev libjson-c-dev libssl-dev libsqlite3-dev libpq-dev
      libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql libaprutil1-dbd-mysql
      sqlite3 postgresql mariadb-server python3-pymysql
      python3 python3-pytest python3-psycopg2 curl wrk procps
      clang libclang-rt-14-dev valgrind cppcheck libapache2-mod-auth-openidc
      debhelper dpkg-dev fakeroot pkg-config git autoconf
      chromium chromium-driver python3-selenium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
$SUDO apt-get update -qq
# no service of the packages is needed: the tests start their own servers
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
