#!/bin/sh
# Every test: a warning-free build, the C unit tests, the fuzzers briefly,
# then the pytest integration suite (httpd + SQLite + PostgreSQL + the
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

echo "== C unit tests"
make unit

if [ -f fuzz/run.sh ]; then
    echo "== fuzzers (${PV_FUZZ_SECONDS:-20} s each)"
    sh fuzz/run.sh "${PV_FUZZ_SECONDS:-20}"
fi

echo "== integration tests"
exec $PYTHON -m pytest tests -q -p no:cacheprovider -o console_output_style=classic "$@"
