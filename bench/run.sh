#!/bin/sh
# make bench: builds the PortOne stand-in, then runs the benchmark (< 10 min).
# The table is printed and written to bench/last-run.txt.
set -e
cd "$(dirname "$0")/.."
mkdir -p bench/build
${CC:-cc} -O2 -pthread -Wall -Wextra -o bench/build/standin bench/standin.c
exec /usr/bin/python3 bench/bench.py bench/build/standin
