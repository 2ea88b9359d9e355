#!/bin/sh
# Every test: a warning-free build, the C unit tests, the store's C tests,
# the fuzzers briefly, the Debian package and its autopkgtest (as root),
# valgrind on httpd with the module, then the pytest integration suite (httpd + SQLite + PostgreSQL + the
# PortOne emulator), whose summary line ends the output.
set -e
cd "$(dirname "$0")/.."
PYTHON=/usr/bin/python3

echo "== build (-Wall -Wextra, warnings are errors here)"
make clean >/dev/null
make 2>&1 | tee build.log >/dev/null
if grep -E "warning:|error:" build.log; then
    echo "the build has warnings"; rm -f build.log; exit 1
fi
rm -f build.log

echo "== C unit tests (and again under valgrind)"
make unit
valgrind -q --error-exitcode=9 --leak-check=full tests/unit/run_unit >/dev/null
echo "valgrind: clean"

echo "== C tests of the store on SQLite files (and again under valgrind)"
make store-test
# MariaDB's client library keeps what it allocates once: not under valgrind
PV_TEST_MYSQL= valgrind -q --error-exitcode=9 --leak-check=full tests/store/run_store >/dev/null
echo "valgrind: clean"

if [ -f fuzz/run.sh ]; then
    echo "== fuzzers (${PV_FUZZ_SECONDS:-20} s each)"
    sh fuzz/run.sh "${PV_FUZZ_SECONDS:-20}"
fi

echo "== Debian package: dpkg-buildpackage -b, lintian, the autopkgtest in this machine's apache2"
if [ "$(id -u)" = 0 ]; then
    make package-test
else
    echo "skipped: the autopkgtest installs the package, root only (sudo make package-test)"
fi

echo "== valgrind memcheck on httpd -X with the module (SQLite, PostgreSQL)"
$PYTHON tests/leakcheck.py

echo "== integration tests against the module built with ASan and UBSan"
make asan >/dev/null
PV_MODULE="$(pwd)/build/asan/mod_portone_verify.so" \
PV_PRELOAD="$(cc -print-file-name=libasan.so)" \
    $PYTHON -m pytest tests -q -p no:cacheprovider -x "$@"

echo "== integration tests"
exec $PYTHON -m pytest tests -q -p no:cacheprovider "$@"
