#!/usr/bin/python3
"""The sizing rule's probe (docs/performance.md, "Sizing"): on one httpd of
the bench's kind (SQLite, 100,000 orders), a fast pass and a +50 ms pass of
128 connections, one after the other, ROUNDS times; prints each pass's
socket errors and the most connections one httpd child held at once
(`ss`, sampled every 0.2 s). Run after `make bench-compare` built the
stand-in (bench/build/standin):

    SERVERS=2 THREADS=80 ROUNDS=3 /usr/bin/python3 bench/sizing_probe.py
    SERVERS=2 THREADS=80 EXTRA="AsyncRequestWorkerFactor 1" ...

Bounded: 2 x ROUNDS wrk runs of PV_BENCH_DURATION seconds; everything on
127.0.0.1 and stopped by its PID at the end.
"""
import collections
import os
import re
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import bench_common  # noqa: E402
from bench_common import SLOW_CONNS, SLOW_MS, start_clock  # noqa: E402
from bench_measure import measure  # noqa: E402
from bench_servers import BenchHttpd, Standin, check_verify, make_static_dir, sqlite_db  # noqa: E402
from harness import make_tempdir  # noqa: E402


def main():
    servers = int(os.environ.get("SERVERS", "2"))
    threads = int(os.environ.get("THREADS", str(bench_common.threads_for(SLOW_CONNS))))
    rounds = min(10, int(os.environ.get("ROUNDS", "3")))
    start_clock()
    tmp = make_tempdir("pv-sizing-")

    def sub(n):
        d = os.path.join(tmp, n)
        os.makedirs(d)
        os.chmod(d, 0o755)
        return d

    standin = Standin(os.path.join(BENCH, "build", "standin"), tmp).start()
    h = None
    peak = collections.Counter()
    done = threading.Event()
    try:
        h = BenchHttpd(sub("httpd"), sqlite_db(sub("db"), 100000), standin.url,
                       make_static_dir(tmp), threads=threads)
        h.servers = servers
        if os.environ.get("EXTRA"):
            h.extra += "\n" + os.environ["EXTRA"] + "\n"
        h.start()
        check_verify(h)

        def sample():
            while not done.is_set():
                out = subprocess.run(["ss", "-Htnp", "state", "established",
                                      "( sport = :%d )" % h.port],
                                     capture_output=True, text=True).stdout
                for pid, n in collections.Counter(re.findall(r"pid=(\d+)", out)).items():
                    peak[pid] = max(peak[pid], n)
                time.sleep(0.2)

        threading.Thread(target=sample, daemon=True).start()
        rows = []
        for _ in range(rounds):
            for ms in (0, SLOW_MS):
                standin.set_latency(ms)
                try:
                    rows.append((ms, measure("%d x %d threads, PortOne +%d ms"
                                             % (servers, threads, ms), h.url, "verify.lua",
                                             SLOW_CONNS, standin, httpd=h, args=(100000,))))
                finally:
                    standin.set_latency(0)
        done.set()
        print("%d x %d threads%s, %d connections" % (servers, threads, ", " + os.environ["EXTRA"]
                                                    if os.environ.get("EXTRA") else "", SLOW_CONNS))
        for label, ms in (("fast", 0), ("+%d ms" % SLOW_MS, SLOW_MS)):
            print("  socket errors, %-7s %s" % (label, ", ".join(
                str(r["errors"]) for m, r in rows if m == ms)))
        print("  most connections on one child: %d" % max(peak.values() or [0]))
        print("  AH00484 in the error log: %s"
              % ("yes" if "AH00484" in open(h.error_log).read() else "no"))
    finally:
        done.set()
        if h:
            h.stop()
        standin.stop()


if __name__ == "__main__":
    main()
