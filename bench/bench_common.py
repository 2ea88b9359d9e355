"""The benchmark's settings (bench/README.md; environment as in bench.py), its
clock and log, the table file, and stopping everything cleanly. Shared by
bench.py, compare.py and callgrind.py; importing it puts tests/ on sys.path
(for harness)."""
import os
import shutil
import signal
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "tests"))

TOKEN = "bench0standin0token0c2f1a9e7d3b5a8c6e4f2a0b"
V2_SECRET = "bench0standin0v2secret0e1d2c3b4a59687"       # standin.c's V2_SECRET
V2_STORE = "store-00000000-0000-4000-8000-bench0standin"  # standin.c's V2_STORE
V2_PATH = "/v2/payments/complete"   # the V2 <Location> of BenchHttpd(v2=True)
WRK = shutil.which("wrk") or "/usr/bin/wrk"
DURATION = int(os.environ.get("PV_BENCH_DURATION", "6"))
WARMUP = int(os.environ.get("PV_BENCH_WARMUP", "2"))
SCALE_DURATION = max(3, DURATION - 1)
SCALE_WARMUP = max(1, WARMUP - 1)
MAIN_CONNS = 32
MEM_CONNS = 64
SLOW_CONNS = 128
SLOW_MS = 50
PEAK_CONNS = 1024               # the peak pass: PortOne +PEAK_MS, httpd sized for it
PEAK_MS = 500
# wrk stops counting at -d, and a 500 ms answer still in flight then is lost:
# 6 s hold only 12 answers per connection and lose up to one, and opening
# 1,024 connections takes part of the run. 20 s make those edges a few %.
PEAK_DURATION = max(20, DURATION)
# the +SLOW_MS passes the same, smaller: a connection's answer still in
# flight at -d is lost, on average half of SLOW_MS (0.4 % of the bound in
# 6 s); 18 s make that 0.1 % and average over three times as many answers
SLOW_DURATION = max(18, DURATION)
SCALING = (1, 8, 32, 128)       # on the httpd sized for SLOW_CONNS
ROUNDS = int(os.environ.get("PV_BENCH_ROUNDS", "3"))   # of the fast passes: median, spread
# The sizing rule (docs/performance.md, "Sizing"): ThreadsPerChild at least
# 1.25 x the peak of concurrent verifications, in every process, so that a
# keep-alive connection's next request always finds an idle thread in the
# process that holds it (else the event MPM closes it: a reset for the
# client). The event MPM may give one process nearly all the connections
# (measured: 117 of 128 with 2 processes), so the rule is per process. Two
# processes, as Debian's default layout has several (one process's single
# listener serves small requests ~15 % slower: the static ceiling).
SIZING = 1.25
SIZE_PAYMENTS = 1000000         # the payments of the 1,000/1,000,000-order comparison
RSS_COUNTS = tuple(int(x) for x in os.environ.get("PV_BENCH_MEM", "10000,100000,200000").split(","))
MEM_WARMUP = 5                  # seconds of the memory pass's warm-up, every thread busy
RSS_TIME_BOUND = 330            # seconds for one counted run at most
HTTPD_SERVERS, DBD_MAX = 2, 16
NODE_PG_POOL = DBD_MAX          # per Node worker (2 workers, as the 2 processes)


def threads_for(conns):
    """ThreadsPerChild for |conns| concurrent verifications by the rule."""
    return -(-int(SIZING * conns * 4) // 4)


HTTPD_THREADS = threads_for(SLOW_CONNS)     # 2 x 160: 160 >= 1.25 x 128 in each
STATIC_BODY = ('{"status":"success","message":"일반 결제 성공",'
               '"imp_uid":"imp_b12345","merchant_uid":"order_12345"}')
T0 = None                       # the run's time zero: start_clock()


def start_clock():
    """Sets the time the log counts from (and "Total time" ends at)."""
    global T0
    T0 = time.time()


def log(msg):
    sys.stderr.write("[bench %6.1fs] %s\n" % (time.time() - T0, msg))
    sys.stderr.flush()


def write_table(lines, name):
    """Prints the table and keeps it as bench/<name>."""
    text = "\n".join(lines) + "\n"
    sys.stdout.write("\n" + text)
    sys.stdout.flush()
    with open(os.path.join(BENCH, name), "w") as f:
        f.write(text)


def stop_all(stack, tmp, keep=False):
    """Stops everything started (last first), then removes the temp dir."""
    for fn in reversed(stack):
        try:
            fn()
        except Exception as e:          # keep stopping the others
            log("while stopping: %s" % e)
    if os.environ.get("PV_BENCH_KEEP") != "1" and not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        log("kept %s" % tmp)


def run_stopping_cleanly(fn, *args):
    """Runs fn; Ctrl-C or SIGTERM stops it through its finally blocks (which
    stop every server by PID) and exits 130."""
    interrupted = []

    def on_signal(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        fn(*args)
    except Exception as e:
        # Ctrl-C also reaches wrk and httpd, which may fail first
        if not interrupted:
            raise
        log("interrupted (%s); everything stopped" % e.__class__.__name__)
        sys.exit(130)
    except KeyboardInterrupt:
        log("interrupted; everything stopped")
        sys.exit(130)
