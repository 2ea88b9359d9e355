#!/bin/sh
# Installs the Debian packages that the build, the tests, the demo and the
# benchmark need; does nothing when they are all there. Root or sudo.
set -e
PKGS="make gcc apache2 apache2-dev libcurl4-openssl-dev libjson-c-dev libssl-dev libsqlite3-dev libpq-dev
      libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql libaprutil1-dbd-mysql
      sqlite3 postgresql mariadb-server python3-pymysql
      python3 python3-pytest python3-psycopg2 curl wrk procps
      clang libclang-rt-14-dev valgrind cppcheck libapache2-mod-auth-openidc
      debhelper dpkg-dev fakeroot pkg-config git
      chromium chromium-driver python3-selenium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
# no service of the packages is needed: the tests start their own servers
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
