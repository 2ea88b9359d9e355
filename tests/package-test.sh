#!/bin/sh
# `make package-test`: the autopkgtest of debian/tests run on this machine
# (autopkgtest's null testbed) against the package that `make package` built
# in $1 (build/package). It installs the .deb and the tests' dependencies
# into this system; the package is purged again afterwards unless it was
# installed before. Root only.
set -e
cd "$(dirname "$0")/.."
DIR=${1:-build/package}
PKG=libapache2-mod-portone-verify
if [ "$(id -u)" != 0 ]; then
    echo "make package-test installs $PKG into this machine's apache2: run it as root (sudo make package-test)"
    exit 1
fi
deb=$(ls "$DIR"/${PKG}_*.deb)
src=$(ls -d "$DIR"/${PKG}-*/)
before=no
dpkg-query -W -f='${Status}\n' $PKG 2>/dev/null | grep -q "ok installed" && before=yes
echo "== autopkgtest: $deb, tests of $src (null testbed: this machine)"
rc=0
autopkgtest --no-built-binaries "$deb" "$src" -- null || rc=$?
if [ $before = no ]; then
    echo "== purging $PKG again (it was not installed before)"
    dpkg --purge $PKG
fi
# autopkgtest: 0 all passed, 2 some skipped, 4 a failure, 8 no test ran
[ $rc = 0 ] && echo "autopkgtest: passed" || echo "autopkgtest: failed (exit $rc)"
exit $rc
