#!/usr/bin/python3
"""make bench: mod_portone_verify under wrk, on loopback, in one bounded run.

Starts the C stand-in for PortOne (bench/standin), Debian's apache2 with the
built module on SQLite and on a throwaway PostgreSQL cluster, drives them
with wrk and prints the tables described in bench/README.md. Everything
listens on 127.0.0.1 and is stopped by its PID at the end, also on Ctrl-C or
an error. The table is also written to bench/last-run.txt.

    /usr/bin/python3 bench/bench.py path/to/standin

Environment: PV_BENCH_DURATION (seconds per measurement, default 6),
PV_BENCH_WARMUP (default 2), PV_BENCH_MEM (counted totals, default
10000,100000,200000), PV_BENCH_PERF=1 (perf record of the httpd children
during the SQLite 32-connection pass; perf.data in the kept temp dir),
PV_BENCH_KEEP=1 (keep the temp dir), PV_BENCH_SKIP_PG=1.
"""
import http.client
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from harness import MODULES, Httpd, SqliteDB, _chown_tree, make_tempdir, wait_port  # noqa: E402

TOKEN = "bench0standin0token0c2f1a9e7d3b5a8c6e4f2a0b"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
DURATION = int(os.environ.get("PV_BENCH_DURATION", "6"))
WARMUP = int(os.environ.get("PV_BENCH_WARMUP", "2"))
SCALE_DURATION = max(3, DURATION - 1)
SCALE_WARMUP = max(1, WARMUP - 1)
MAIN_CONNS = 32
MEM_CONNS = 64
SLOW_CONNS = 128
SLOW_MS = 50
SCALING = (1, 8, 32, 128, 256)
SIZE_PAYMENTS = 1000000         # the payments of the 1,000/1,000,000-order comparison
RSS_COUNTS = tuple(int(x) for x in os.environ.get("PV_BENCH_MEM", "10000,100000,200000").split(","))
RSS_TIME_BOUND = 330            # seconds for one counted run at most
HTTPD_SERVERS, HTTPD_THREADS, DBD_MAX = 2, 192, 16
STATIC_BODY = ('{"status":"success","message":"일반 결제 성공",'
               '"imp_uid":"imp_b12345","merchant_uid":"order_12345"}')


def log(msg):
    sys.stderr.write("[bench %6.1fs] %s\n" % (time.time() - T0, msg))
    sys.stderr.flush()


# ---------------------------------------------------------------- stand-in

class Standin:
    def __init__(self, binary, directory):
        self.binary, self.dir = binary, directory
        self.proc, self.port = None, None
        self.conn, self.own_conns = None, 0

    def start(self):
        self.proc = subprocess.Popen([self.binary, "-p", "0"], stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(self.dir, "standin.err"), "w"))
        line = self.proc.stdout.readline().decode()      # "listening <port>"
        m = re.match(r"listening (\d+)", line)
        if not m:
            raise RuntimeError("stand-in did not start: %r" % line)
        self.port = int(m.group(1))
        self.url = "http://127.0.0.1:%d" % self.port
        if not wait_port(self.port, 5):
            raise RuntimeError("stand-in does not accept connections")
        return self

    def _call(self, method, path):
        """One keep-alive connection for the bench's own calls; the
        connections it opens are subtracted from the stand-in's count."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.own_conns += 1
            try:
                self.conn.request(method, path, body=b"" if method == "POST" else None)
                resp = self.conn.getresponse()
                data = json.loads(resp.read())
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return data
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def stats(self):
        st = self._call("GET", "/__stats")
        st["connections"] -= self.own_conns
        return st

    def set_latency(self, ms):
        return self._call("POST", "/__config?latency_ms=%d" % ms)

    def set_orders(self, n):
        """Payments imp_bK pay order_((K-1) mod n + 1); 0: order_K."""
        return self._call("POST", "/__config?orders=%d" % n)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.conn:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------- httpd

class BenchHttpd(Httpd):
    """The tests' Httpd with benchmark settings: no debug log, DBDMax sized
    for the database rather than the thread count, unlimited keep-alive
    requests, and a static JSON file (/static.json) as the ceiling."""

    def __init__(self, directory, db, api_url, static_dir, dbd_max=DBD_MAX):
        extra = """
LoadModule alias_module {m}/mod_alias.so
LoadModule mime_module {m}/mod_mime.so
MaxKeepAliveRequests 0
TypesConfig /dev/null
# as in Debian's apache2.conf: no .htaccess look-ups along the path
<Directory />
    AllowOverride None
</Directory>
ListenBacklog 1024
Alias /static.json {d}/static.json
<Directory {d}>
    Require all granted
    ForceType application/json
</Directory>
""".format(m=MODULES, d=static_dir)
        super().__init__(directory, db, api_url, extra=extra, servers=HTTPD_SERVERS,
                         threads=HTTPD_THREADS, directives={"PortOneTimeout": "10"})
        self.dbd_max = dbd_max

    def config_text(self):
        text = super().config_text()
        text = text.replace("LogLevel warn portone_verify:debug", "LogLevel warn")
        text = re.sub(r"(?m)^DBDMax \d+$", "DBDMax %d" % self.dbd_max, text)
        # every connection opened when a child starts (the README's advice):
        # the runs measure the steady state, not mod_dbd opening connections
        text = re.sub(r"(?m)^DBDMin \d+$", "DBDMin %d" % self.dbd_max, text)
        text = re.sub(r"(?m)^DBDKeep \d+$", "DBDKeep %d" % self.dbd_max, text)
        return text

    def cpu_ticks(self):
        """utime + stime of the children, in clock ticks."""
        total = 0
        for pid in self.child_pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total

    def rss_kib(self):
        total = 0
        for pid in self.child_pids():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total


# ---------------------------------------------------------------- databases

def sqlite_db(directory, n):
    """A SQLite shop with order_1 .. order_n at 10000 KRW, one transaction."""
    t = time.time()
    db = SqliteDB(directory)
    con = sqlite3.connect(db.path)
    con.execute("PRAGMA synchronous = OFF")     # only for the bulk load
    con.execute("PRAGMA cache_size = -262144")
    with con:                                   # one transaction, no Python loop
        con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                    "INSERT INTO shop_orders (order_no, total_price, currency) "
                    "SELECT 'order_' || i, '10000', 'KRW' FROM c", (n,))
    con.execute("ANALYZE")
    con.close()
    _chown_tree(db.dir)
    log("SQLite with %d orders in %.1fs" % (n, time.time() - t))
    return db


def pg_db(directory, n):
    import pgcluster
    t = time.time()
    cluster = pgcluster.PgCluster(directory).start()
    try:
        db = pgcluster.PgDB(cluster)
        con = db._connect()
        with con, con.cursor() as cur:
            buf = io.StringIO("".join("order_%d\t10000\tKRW\n" % i for i in range(1, n + 1)))
            cur.copy_expert("COPY shop_orders (order_no, total_price, currency) FROM STDIN", buf)
        con.close()
        db.execute("ANALYZE")
    except BaseException:
        cluster.stop()
        raise
    log("PostgreSQL cluster with %d orders in %.1fs" % (n, time.time() - t))
    return cluster, db


# ---------------------------------------------------------------- samplers

class Sampler(threading.Thread):
    """Calls fn every |interval| seconds until stopped; max and mean."""

    def __init__(self, fn, interval=0.2):
        super().__init__(daemon=True)
        self.fn, self.interval = fn, interval
        self.values, self.halt = [], threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                self.values.append(self.fn())
            except Exception:               # a child that just went away
                pass
            self.halt.wait(self.interval)

    def finish(self):
        self.halt.set()
        self.join(5)
        if not self.values:
            return None
        return max(self.values), sum(self.values) / len(self.values)


def sqlite_handles(httpd, path):
    pids = httpd.child_pids()

    def count():
        n = 0
        for pid in pids:
            d = "/proc/%d/fd" % pid
            try:
                fds = os.listdir(d)
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(os.path.join(d, fd)) == path:
                        n += 1
                except OSError:
                    pass
        return n
    return count


class PgCounter:
    def __init__(self, db):
        self.con = db._connect()
        self.con.autocommit = True          # pg_stat_activity is snapshotted per transaction

    def __call__(self):
        with self.con.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = 'shop' AND pid <> pg_backend_pid()")
            return cur.fetchone()[0]

    def close(self):
        self.con.close()


# ---------------------------------------------------------------- wrk

def wrk_cmd(url, script, conns, duration, args=(), headers=(), threads=None):
    threads = threads or min(2, conns)
    cmd = [WRK, "-t", str(threads), "-c", str(conns), "-d", "%ds" % duration,
           "--timeout", "10s", "-s", os.path.join(BENCH, script)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    if args:
        cmd += ["--"] + [str(a) for a in args]
    return cmd


def wrk_result(rc, out, err):
    for line in out.splitlines():
        if line.startswith("BENCHJSON "):
            return json.loads(line[len("BENCHJSON "):])
    raise RuntimeError("wrk gave no result (rc %s): %s %s" % (rc, out, err))


def wrk(url, script, conns, duration, args=(), headers=()):
    p = subprocess.run(wrk_cmd(url, script, conns, duration, args, headers),
                       capture_output=True, text=True, timeout=duration + 60)
    return wrk_result(p.returncode, p.stdout, p.stderr)


def check_verify(httpd):
    body = '{"imp_uid":"imp_b1","merchant_uid":"order_1"}'
    out = subprocess.run(["curl", "-s", "-m", "15", "-X", "POST", httpd.url + "/payments/complete",
                          "-H", "Content-Type: application/json", "-d", body],
                         capture_output=True, text=True, timeout=30).stdout
    if '"status":"success"' not in out.replace(" ", ""):
        raise RuntimeError("the check POST did not succeed: %r\n%s" % (out, httpd.read_error_log()[-3000:]))
    log("curl check on %s: %s" % (httpd.url, out.strip()))


# ---------------------------------------------------------------- server-side counts

VERIFY_LINE = re.compile(r'"POST /payments/complete [^"]*" (\d{3}) ')


class AccessLog:
    """The verifications httpd finished (its access log), between two marks:
    exact, including those whose client had already gone."""

    def __init__(self, httpd):
        self.path = httpd.access_log

    def size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def count(self, start, end):
        n = bad = s5 = 0
        with open(self.path, "rb") as f:
            f.seek(start)
            chunk = f.read(end - start).decode("utf-8", "replace")
        for m in VERIFY_LINE.finditer(chunk):
            n += 1
            code = int(m.group(1))
            bad += not 200 <= code < 300
            s5 += code >= 500
        return n, bad, s5


def wait_quiet(standin, alog=None, bound=15.0):
    """Until httpd and the stand-in have finished what a wrk run left in
    flight: nothing new for 0.4 s (at most |bound| seconds)."""
    end = time.time() + bound
    last = None
    while time.time() < end:
        st = standin.stats()
        cur = (st["payment_calls"], st["token_calls"], st["connections"],
               alog.size() if alog else 0)
        if cur == last:
            return
        last = cur
        time.sleep(0.4)
    log("warning: still busy after %.0fs" % bound)


def db_counters(httpd):
    """(write transactions committed, verifications written in them), from
    mod_status; the ratio is the average commit group."""
    try:
        with urllib.request.urlopen(httpd.url + "/server-status?auto", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    got = dict(re.findall(r"^PortOne(DatabaseCommits|DatabaseWrites): (\d+)$", text, re.M))
    if len(got) != 2:
        return None
    return int(got["DatabaseCommits"]), int(got["DatabaseWrites"])


def measure(label, target_url, script, conns, standin, httpd=None, args=(), headers=(),
            sampler_fn=None, warmup=WARMUP, duration=DURATION, perf_dir=None):
    """A warm-up run, then the measured run with counters and samplers."""
    alog = AccessLog(httpd) if httpd else None
    if warmup:
        wrk(target_url, script, conns, warmup, args, headers)
    wait_quiet(standin, alog)
    before, mark = standin.stats(), alog.size() if alog else 0
    cpu0 = httpd.cpu_ticks() if httpd else 0
    db0 = db_counters(httpd) if httpd else None
    sampler = Sampler(sampler_fn) if sampler_fn else None
    if sampler:
        sampler.start()
    perf = None
    if perf_dir and httpd:
        perf = subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", "dwarf,16384",
                                 "-o", os.path.join(perf_dir, "perf.data"), "-p",
                                 ",".join(map(str, httpd.child_pids())), "--", "sleep",
                                 str(max(1, duration - 2))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = wrk(target_url, script, conns, duration, args, headers)
    db = sampler.finish() if sampler else None
    rss = httpd.rss_kib() if httpd else None
    if perf:
        try:
            perf.wait(60)
        except subprocess.TimeoutExpired:
            perf.kill()
            perf.wait()
    wait_quiet(standin, alog)
    after = standin.stats()
    cpu = (httpd.cpu_ticks() - cpu0) / os.sysconf("SC_CLK_TCK") if httpd else None
    verifs, bad, s5 = alog.count(mark, alog.size()) if alog else (0, 0, 0)
    db1 = db_counters(httpd) if httpd else None
    group = None
    if db0 and db1 and db1[0] > db0[0]:
        group = (db1[1] - db0[1]) / float(db1[0] - db0[0])
    row = {
        "label": label, "conns": conns,
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000.0, "p99_ms": r["p99_us"] / 1000.0,
        "requests": r["requests"], "verifs": verifs, "bad": bad, "s5": s5,
        "non2xx": r["s3"] + r["s4"] + r["s5"],
        "errors": r["connect"] + r["read"] + r["write"] + r["timeout"],
        "calls": (after["token_calls"] - before["token_calls"]
                  + after["payment_calls"] - before["payment_calls"]),
        "tokens": after["token_calls"] - before["token_calls"],
        "new_conns": after["connections"] - before["connections"],
        "db": db, "rss_kib": rss, "group": group,
        # CPU seconds of the httpd children per request, in microseconds
        "cpu_us": 1e6 * cpu / max(1, verifs or r["requests"]) if httpd else None,
    }
    log("%-44s c=%-3d %6.0f req/s  p50 %.2f ms  p99 %.2f ms  non-2xx %d  errors %d  "
        "server: %d verifications, %d non-2xx, %d PortOne calls, %d new connections"
        % (label, conns, row["rps"], row["p50_ms"], row["p99_ms"], row["non2xx"], row["errors"],
           verifs, bad, row["calls"], row["new_conns"]))
    return row


def counted(httpd, standin, total, orders, conns=MAIN_CONNS):
    """Exactly |total| verifications: each wrk thread stops after its share;
    once the stand-in has seen all their look-ups and httpd is quiet, wrk's
    main thread (which sleeps for -d) is woken with SIGINT."""
    alog = AccessLog(httpd)
    wait_quiet(standin, alog)
    before, mark = standin.stats()["payment_calls"], alog.size()
    t = time.time()
    p = subprocess.Popen(wrk_cmd(httpd.url, "verify.lua", conns, RSS_TIME_BOUND,
                                 (orders, total, 2)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = t + RSS_TIME_BOUND + 5
        while p.poll() is None and time.time() < end:
            if standin.stats()["payment_calls"] - before >= total:
                break
            time.sleep(0.2)
        wait_quiet(standin, alog)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = wrk_result(p.returncode, out, err)
    verifs, bad, s5 = alog.count(mark, alog.size())
    seen = standin.stats()["payment_calls"] - before
    log("counted run: %d verifications sent by wrk, %d done by httpd (%d non-2xx), "
        "%d look-ups, %.1fs" % (r["sent"], verifs, bad, seen, time.time() - t))
    if verifs != total or r["sent"] != total:
        raise RuntimeError("the counted run did %d verifications (wrk sent %d), not %d "
                           "(time bound %ds hit?)" % (verifs, r["sent"], total, RSS_TIME_BOUND))
    return verifs, bad, time.time() - t


# ---------------------------------------------------------------- tables

def fmt_main(rows, static_rps):
    head = ("%-42s %5s %7s %7s %8s %10s %8s %5s %8s %10s %7s %7s %7s %7s %6s"
            % ("run", "conns", "req/s", "p50 ms", "p99 ms", "non2xx/err", "PO/verif", "token",
               "newPO/1k", "DB max/avg", "wr/cmt", "RSS MiB", "CPU us", "static", "bound"))
    out = [head, "-" * len(head)]
    for r in rows:
        verif = r.get("verif", True) and r["verifs"]
        calls = "%.3f" % (r["calls"] / r["verifs"]) if verif else "-"
        tok = "%d" % r["tokens"] if verif else "-"
        newc = "%.2f" % (1000.0 * r["new_conns"] / r["verifs"]) if verif else "-"
        db = "%d/%.1f" % r["db"] if r["db"] else "-"
        rss = "%.1f" % (r["rss_kib"] / 1024.0) if r["rss_kib"] else "-"
        ratio = "%.1f%%" % (100.0 * r["rps"] / static_rps) if static_rps and r.get("ratio", True) else "-"
        bound = "%.1f%%" % (100.0 * r["rps"] / r["bound"]) if r.get("bound") else "-"
        cpu = "%.0f" % r["cpu_us"] if r["cpu_us"] is not None else "-"
        group = "%.1f" % r["group"] if r.get("group") else "-"
        out.append("%-42s %5d %7.0f %7.2f %8.2f %10s %8s %5s %8s %10s %7s %7s %7s %7s %6s"
                   % (r["label"][:42], r["conns"], r["rps"], r["p50_ms"], r["p99_ms"],
                      "%d/%d" % (r["non2xx"], r["errors"]), calls, tok, newc, db, group, rss,
                      cpu, ratio, bound))
    return out


def fmt_scaling(rows, static_rps):
    head = "%5s %7s %7s %8s %8s %5s %7s %8s %8s %7s" % (
        "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "5xx", "errors", "PO/verif",
        "newPO/1k", "static")
    out = [head, "-" * len(head)]
    for r in rows:
        v = max(1, r["verifs"])
        out.append("%5d %7.0f %7.2f %8.2f %8d %5d %7d %8.3f %8.2f %6.1f%%"
                   % (r["conns"], r["rps"], r["p50_ms"], r["p99_ms"], r["non2xx"], r["s5"],
                      r["errors"], r["calls"] / v, 1000.0 * r["new_conns"] / v,
                      100.0 * r["rps"] / static_rps))
    return out


def fmt_targets(static_rps, sqlite_main, pg_rows, sqlite_slow, scaling_rows, size_rows, mem):
    """Issue 5's targets, as ratios of this run's own figures."""
    def pct(a, b):
        return 100.0 * a / b if b else 0.0

    best = max(r["rps"] for r in scaling_rows)
    top = scaling_rows[-1]
    k1, m1 = size_rows
    out = ["Targets (this run's figures; 'met' or 'NOT met'):"]

    def line(what, value, ok):
        out.append("  %-60s %-34s %s" % (what, value, "met" if ok else "NOT met"))

    sqlite_share = pct(sqlite_main["rps"], static_rps)
    line("SQLite, 32 conns: >= 40% of the static file", "%.1f%%" % sqlite_share,
         sqlite_share >= 40)
    line("SQLite, 32 conns: p99 < 10 ms, no errors", "p99 %.1f ms, %d non-2xx/%d err"
         % (sqlite_main["p99_ms"], sqlite_main["non2xx"], sqlite_main["errors"]),
         sqlite_main["p99_ms"] < 10 and not sqlite_main["non2xx"] and not sqlite_main["errors"])
    if pg_rows:
        pg_share = pct(pg_rows[0]["rps"], static_rps)
        line("PostgreSQL, 32 conns: >= 25% of the static file", "%.1f%%" % pg_share,
             pg_share >= 25)
    calls = [r["calls"] / float(r["verifs"]) for r in [sqlite_main, k1, m1] + pg_rows if r["verifs"]]
    line("PortOne calls per verification: 1.00", "%.3f-%.3f" % (min(calls), max(calls)),
         all(abs(c - 1.0) < 0.005 for c in calls))
    for r in [sqlite_slow] + pg_rows[1:]:
        share = pct(r["rps"], r["bound"])
        line("%s: >= 95%% of the bound" % r["label"].replace("verify, ", ""),
             "%.1f%% of %.0f req/s" % (share, r["bound"]), share >= 95)
    share = pct(top["rps"], best)
    line("256 conns: no 5xx, >= 90% of the best level", "%d 5xx, %.1f%% of %.0f req/s"
         % (top["s5"], share, best), not top["s5"] and share >= 90)
    share = pct(m1["rps"], k1["rps"])
    line("1,000,000 orders: >= 90% of the 1,000-order figure", "%.1f%%" % share, share >= 90)
    out.append("    (both runs: random payments out of %s, nearly all first verifications; "
               "1,000,000 vs 100,000 orders: %.1f%%)" % (format(SIZE_PAYMENTS, ","),
                                                        pct(m1["rps"], sqlite_main["rps"])))
    d = (mem[-1][1] - mem[1][1]) / 1024.0
    line("memory after 200,000 within a few MiB of after 10,000", "%+.1f MiB" % d, d < 5)
    return out


# ---------------------------------------------------------------- the run

def make_static_dir(tmp):
    """<tmp>/static with static.json (STATIC_BODY), readable by httpd."""
    static_dir = os.path.join(tmp, "static")
    os.makedirs(static_dir)
    os.chmod(static_dir, 0o755)
    with open(os.path.join(static_dir, "static.json"), "w") as f:
        f.write(STATIC_BODY + "\n")
    os.chmod(os.path.join(static_dir, "static.json"), 0o644)
    return static_dir


def run(standin_bin):
    tmp = make_tempdir("pv-bench-")
    stack = []                          # stop functions, run in reverse
    lines = []
    perf_dir = tmp if os.environ.get("PV_BENCH_PERF") == "1" else None
    with_pg = os.environ.get("PV_BENCH_SKIP_PG") != "1"
    try:
        static_dir = make_static_dir(tmp)
        static_size = os.path.getsize(os.path.join(static_dir, "static.json"))

        standin = Standin(standin_bin, tmp).start()
        stack.append(standin.stop)
        log("stand-in on %s" % standin.url)

        auth = ("Authorization: Bearer " + TOKEN,)
        standin_row = measure("stand-in alone: GET /payments/imp_b1",
                              standin.url + "/payments/imp_b1", "get.lua", MAIN_CONNS,
                              standin, headers=auth)
        standin_row.update(verif=False, ratio=False)

        def sub(name):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            os.chmod(d, 0o755)
            return d

        dbs = {n: sqlite_db(sub("sqlite-%d" % n), n) for n in (100000, 1000, 1000000)}

        def start_httpd(name, db):
            h = BenchHttpd(sub("httpd-" + name), db, standin.url, static_dir)
            h.start()
            stack.append(h.stop)
            check_verify(h)
            return h

        def stop(h):
            h.stop()
            stack.remove(h.stop)

        slow_bound = SLOW_CONNS / (SLOW_MS / 1000.0)

        # --- SQLite, 100,000 orders: static ceiling, verification, scaling, +50 ms
        db = dbs[100000]
        h = start_httpd("sqlite-100k", db)
        fds = sqlite_handles(h, db.path)
        static = measure("static JSON file (%d bytes), same httpd" % static_size,
                         h.url + "/static.json", "get.lua", MAIN_CONNS, standin, httpd=h)
        static.update(verif=False)
        static_rps = static["rps"]
        sqlite_main = measure("verify, SQLite, 100,000 orders", h.url, "verify.lua", MAIN_CONNS,
                              standin, httpd=h, args=(100000,), sampler_fn=fds, perf_dir=perf_dir)
        scaling_rows = []
        for c in SCALING:
            if c == MAIN_CONNS:
                scaling_rows.append(sqlite_main)
                continue
            scaling_rows.append(measure("scaling, SQLite, 100,000 orders", h.url, "verify.lua",
                                        c, standin, httpd=h, args=(100000,),
                                        warmup=SCALE_WARMUP, duration=SCALE_DURATION))
        standin.set_latency(SLOW_MS)
        try:
            sqlite_slow = measure("verify, SQLite, 100k, PortOne +%d ms" % SLOW_MS, h.url,
                                  "verify.lua", SLOW_CONNS, standin, httpd=h, args=(100000,),
                                  sampler_fn=fds)
        finally:
            standin.set_latency(0)
        sqlite_slow.update(bound=slow_bound, ratio=False)
        stop(h)

        # --- SQLite, 1,000 and 1,000,000 orders. The size comparison sends the
        # same stream to both: random payments out of 1,000,000 (nearly all
        # first verifications), which pay 1,000 or 1,000,000 orders; only the
        # orders table differs. With 1,000 orders and one payment each, the
        # run would be mostly repeats (reads) by then: that row is given too.
        size_rows = []
        for n, name in ((1000, "1,000"), (1000000, "1,000,000")):
            h = start_httpd("sqlite-%d" % n, dbs[n])
            handles = sqlite_handles(h, dbs[n].path)
            standin.set_orders(n)
            try:
                size_rows.append(measure("verify, SQLite, %s orders, 1M payments" % name,
                                         h.url, "verify.lua", MAIN_CONNS, standin, httpd=h,
                                         args=(n, 0, 1, SIZE_PAYMENTS), sampler_fn=handles))
            finally:
                standin.set_orders(0)
            if n == 1000:
                repeats_row = measure("verify, SQLite, 1,000 orders, repeats", h.url,
                                      "verify.lua", MAIN_CONNS, standin, httpd=h, args=(n,),
                                      sampler_fn=handles)
            stop(h)

        # --- PostgreSQL, 100,000 orders
        pg_rows = []
        mem_db, mem_name = None, None
        if with_pg:
            cluster, pdb = pg_db(sub("pg"), 100000)
            stack.append(cluster.stop)
            h = start_httpd("pg", pdb)
            counter = PgCounter(pdb)
            stack.append(counter.close)
            pg_rows.append(measure("verify, PostgreSQL, 100,000 orders", h.url, "verify.lua",
                                   MAIN_CONNS, standin, httpd=h, args=(100000,),
                                   sampler_fn=counter))
            standin.set_latency(SLOW_MS)
            try:
                r = measure("verify, PostgreSQL, 100k, PortOne +%d ms" % SLOW_MS, h.url,
                            "verify.lua", SLOW_CONNS, standin, httpd=h, args=(100000,),
                            sampler_fn=counter)
            finally:
                standin.set_latency(0)
            r.update(bound=slow_bound, ratio=False)
            pg_rows.append(r)
            stop(h)
            # the memory run starts from untouched orders
            pdb.execute("TRUNCATE portone_payments, portone_events")
            pdb.execute("UPDATE shop_orders SET state = 'new', paid_imp_uid = NULL, updates = 0")
            mem_db, mem_name = pdb, "PostgreSQL"
        else:
            mem_db, mem_name = sqlite_db(sub("sqlite-mem"), 100000), "SQLite"

        # --- memory over 10,000 and 200,000 verifications (fresh httpd)
        h = start_httpd("mem", mem_db)
        pids0 = sorted(h.child_pids())
        mem = [("after start and the curl check", h.rss_kib(), None, None)]
        done = 0
        for total in RSS_COUNTS:
            verifs, bad, secs = counted(h, standin, total - done, 100000, MEM_CONNS)
            done = total
            mem.append(("after %s verifications" % format(total, ","), h.rss_kib(), bad,
                        verifs / secs))
        pids1 = sorted(h.child_pids())
        stop(h)
        if with_pg:
            counter.close()
            stack.remove(counter.close)
            cluster.stop()
            stack.remove(cluster.stop)

        # --- the tables
        lines.append("mod_portone_verify benchmark, %s, %d cores (load average before: %s), "
                     "wrk %ds runs after a %ds warm-up" % (
                         time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), LOAD0, DURATION, WARMUP))
        lines.append("httpd: event MPM, %d processes x %d threads, DBDMin = DBDMax = %d, access log on, "
                     "LogLevel warn; all on 127.0.0.1" % (HTTPD_SERVERS, HTTPD_THREADS, DBD_MAX))
        lines.append("")
        lines += fmt_main([standin_row, static, sqlite_main, repeats_row] + size_rows + pg_rows[:1]
                          + [sqlite_slow] + pg_rows[1:], static_rps)
        lines.append("")
        lines.append("static = req/s / the static file's req/s (%d connections); bound = req/s / "
                     "(%d connections / %d ms = %.0f req/s)"
                     % (MAIN_CONNS, SLOW_CONNS, SLOW_MS, slow_bound))
        lines.append("")
        lines.append("Scaling (fast stand-in, SQLite, 100,000 orders; %ds runs, the 32 row is the one above):"
                     % SCALE_DURATION)
        lines += fmt_scaling(scaling_rows, static_rps)
        lines.append("")
        lines.append("Resident memory of the httpd children (%s, 100,000 orders, %d connections, "
                     "counted runs):" % (mem_name, MEM_CONNS))
        for what, kib, bad, rate in mem:
            extra = "" if bad is None else "  (run: %d non-2xx, %.0f verifications/s)" % (bad, rate)
            lines.append("  %-34s %7.1f MiB%s" % (what, kib / 1024.0, extra))
        for i in range(1, len(RSS_COUNTS)):
            d = mem[i + 1][1] - mem[i][1]
            lines.append("  %-34s %+7.1f MiB  (%+.1f KiB per 1,000 verifications)"
                         % ("difference %s -> %s" % (format(RSS_COUNTS[i - 1], ","),
                                                     format(RSS_COUNTS[i], ",")),
                            d / 1024.0, d * 1000.0 / (RSS_COUNTS[i] - RSS_COUNTS[i - 1])))
        d = mem[-1][1] - mem[1][1]
        lines.append("  %-34s %+7.1f MiB  (%+.1f KiB per 1,000 verifications)"
                     % ("difference %s -> %s" % (format(RSS_COUNTS[0], ","),
                                                 format(RSS_COUNTS[-1], ",")),
                        d / 1024.0, d * 1000.0 / (RSS_COUNTS[-1] - RSS_COUNTS[0])))
        lines.append("  same child processes throughout: %s (%s)"
                     % ("yes" if pids0 == pids1 else "NO", " ".join(map(str, pids1))))
        lines.append("")
        lines += fmt_targets(static_rps, sqlite_main, pg_rows, sqlite_slow, scaling_rows,
                             size_rows, mem)
        lines.append("")
        lines.append("Total time: %.0f s" % (time.time() - T0))
        write_table(lines, "last-run.txt")
        if perf_dir:
            log("perf data: %s/perf.data" % perf_dir)
    finally:
        stop_all(stack, tmp, keep=bool(perf_dir))


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


def main():
    global T0, LOAD0
    T0 = time.time()
    LOAD0 = "%.1f" % os.getloadavg()[0]
    if len(sys.argv) != 2:
        sys.exit("usage: bench.py path/to/standin")

    run_stopping_cleanly(run, os.path.abspath(sys.argv[1]))


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


if __name__ == "__main__":
    main()
