#!/bin/sh
# Builds the libFuzzer harnesses and runs each for SECONDS (default 60) over a
# fresh copy of its seed corpus in fuzz/build/corpus/<name>; fuzz/corpus is
# never written. Prints "fuzz <name>: ok (<execs> execs)" or
# "fuzz <name>: FAILED" per harness and exits 1 if any failed. Crash inputs go
# to fuzz/build/artifacts/, each run's output to fuzz/build/logs/<name>.log.
# Runnable from any directory.
#
# PV_FUZZ_ONLY="fuzz_json fuzz_portone" runs only those harnesses.
#
# Reproduce a crash:  fuzz/build/<name> fuzz/build/artifacts/<name>-crash-...
set -u

secs=${1:-60}
case $secs in
'' | *[!0-9]* | 0) echo "usage: $0 [SECONDS > 0]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd) || exit 2
build=$here/build
names="${PV_FUZZ_ONLY:-fuzz_request fuzz_portone fuzz_portone_v2 fuzz_json fuzz_sqlparam fuzz_decimal fuzz_webhook fuzz_prepare}"

if ! make -s -f "$here/Makefile" all >&2; then
    echo "fuzz: build FAILED" >&2
    exit 1
fi
mkdir -p "$build/artifacts" "$build/logs" "$build/corpus"

failed=0
for name in $names; do
    corpus=$build/corpus/$name
    log=$build/logs/$name.log
    case $name in
    fuzz_request | fuzz_portone | fuzz_portone_v2 | fuzz_json) dict=$here/dict/json.dict ;;
    fuzz_sqlparam) dict=$here/dict/sql.dict ;;
    *) dict=$here/dict/decimal.dict ;;
    esac
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp "$here/corpus/$name"/* "$corpus"/
    if "$build/$name" -max_total_time="$secs" -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 -dict="$dict" \
            -artifact_prefix="$build/artifacts/$name-" "$corpus" \
            >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" \
                | tail -n 1)
        echo "fuzz $name: ok (${execs:-?} execs)"
    else
        echo "fuzz $name: FAILED"
        # the sanitizer's or the invariant's report, and the input saved
        grep -E 'ERROR: |invariant failed|runtime error|SUMMARY|Test unit written|Base64' \
            "$log" | head -n 20 >&2
        echo "  (whole output: $log)" >&2
        failed=1
    fi
done
exit $failed
