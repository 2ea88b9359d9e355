#!/bin/sh
# make bench: builds the PortOne stand-in, then runs the benchmark (< 10 min).
# The table is printed and written to bench/last-run.txt.
set -e
cd "$(dirname "$0")/.."
mkdir -p bench/build
${CC:-cc} -O2 -pthread -Wall -Wextra -o bench/build/standin bench/standin.c
# the Node.js counterpart's modules (bench/node/package-lock.json), once
if command -v npm >/dev/null 2>&1 && [ ! -d bench/node/node_modules/better-sqlite3 ]; then
    (cd bench/node && npm ci --no-audit --no-fund) || echo "npm ci failed: no Node rows" >&2
fi
exec /usr/bin/python3 bench/bench.py bench/build/standin
