#!/usr/bin/python3
"""make bench: mod_portone_verify under wrk, on loopback, in one bounded run.

Starts the C stand-in for PortOne (bench/standin), Debian's apache2 with the
built module on SQLite and on a throwaway PostgreSQL cluster, drives them
with wrk and prints the tables described in bench/README.md. Everything
listens on 127.0.0.1 and is stopped by its PID at the end, also on Ctrl-C or
an error. The table is also written to bench/last-run.txt.

    /usr/bin/python3 bench/bench.py path/to/standin

Environment: PV_BENCH_DURATION (seconds per measurement, default 6),
PV_BENCH_WARMUP (default 2), PV_BENCH_PERF=1 (perf record -g one httpd
child during the SQLite 32-connection pass, report in the temp dir),
PV_BENCH_KEEP=1 (keep the temp dir), PV_BENCH_SKIP_PG=1.
"""
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
MAIN_CONNS = 32
SLOW_CONNS = 128
SLOW_MS = 50
SCALING = (1, 8, 32, 128, 256)
RSS_COUNTS = (10000, 200000)
RSS_TIME_BOUND = 300            # seconds for the counted 200,000 at most
HTTPD_SERVERS, HTTPD_THREADS, DBD_MAX = 2, 160, 16
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
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stats(self):
        return self._call("GET", "/__stats")

    def set_latency(self, ms):
        return self._call("POST", "/__config?latency_ms=%d" % ms)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


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
        text = re.sub(r"(?m)^DBDKeep \d+$", "DBDKeep %d" % min(8, self.dbd_max), text)
        return text

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

def wrk(url, script, conns, duration, args=(), headers=(), threads=None):
    threads = threads or min(2, conns)
    cmd = [WRK, "-t", str(threads), "-c", str(conns), "-d", "%ds" % duration,
           "--timeout", "10s", "-s", os.path.join(BENCH, script)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    if args:
        cmd += ["--"] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    for line in p.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            return json.loads(line[len("BENCHJSON "):])
    raise RuntimeError("wrk gave no result (rc %d): %s %s" % (p.returncode, p.stdout, p.stderr))


def check_verify(httpd):
    body = '{"imp_uid":"imp_b1","merchant_uid":"order_1"}'
    out = subprocess.run(["curl", "-s", "-m", "15", "-X", "POST", httpd.url + "/payments/complete",
                          "-H", "Content-Type: application/json", "-d", body],
                         capture_output=True, text=True, timeout=30).stdout
    if '"status":"success"' not in out.replace(" ", ""):
        raise RuntimeError("the check POST did not succeed: %r\n%s" % (out, httpd.read_error_log()[-3000:]))
    log("curl check on %s: %s" % (httpd.url, out.strip()))


def verify_args(orders):
    return ("/payments/complete", "verify.lua", (orders,), ())


def measure(label, target_url, script, conns, standin, httpd=None, args=(), headers=(),
            sampler_fn=None, warmup=WARMUP, duration=DURATION, perf_dir=None):
    """A warm-up run, then the measured run with counters and samplers."""
    if warmup:
        wrk(target_url, script, conns, warmup, args, headers)
    before = standin.stats()
    sampler = Sampler(sampler_fn) if sampler_fn else None
    if sampler:
        sampler.start()
    perf = None
    if perf_dir and httpd:
        pid = httpd.child_pids()[0]
        perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o",
                                 os.path.join(perf_dir, "perf.data"), "--", "sleep", str(max(1, duration - 1))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = wrk(target_url, script, conns, duration, args, headers)
    if perf:
        try:
            perf.wait(30)
        except subprocess.TimeoutExpired:
            perf.kill()
            perf.wait()
    db = sampler.finish() if sampler else None
    time.sleep(0.2)                         # in-flight look-ups land in the counters
    after = standin.stats()
    n = r["requests"]
    row = {
        "label": label, "conns": conns,
        "rps": n / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000.0, "p99_ms": r["p99_us"] / 1000.0,
        "requests": n,
        "non2xx": r["s3"] + r["s4"] + r["s5"], "s5": r["s5"],
        "errors": r["connect"] + r["read"] + r["write"] + r["timeout"],
        "calls": (after["token_calls"] - before["token_calls"]
                  + after["payment_calls"] - before["payment_calls"]),
        "tokens": after["token_calls"] - before["token_calls"],
        "new_conns": after["connections"] - before["connections"],
        "db": db,
        "rss_kib": httpd.rss_kib() if httpd else None,
    }
    log("%-46s c=%-3d %8.0f req/s  p50 %.2f ms  p99 %.2f ms  non-2xx %d  errors %d"
        % (label, conns, row["rps"], row["p50_ms"], row["p99_ms"], row["non2xx"], row["errors"]))
    return row


# ---------------------------------------------------------------- tables

def fmt_main(rows, static_rps):
    head = ("%-44s %5s %9s %8s %8s %9s %8s %9s %11s %8s %7s %8s"
            % ("run", "conns", "req/s", "p50 ms", "p99 ms", "non2xx/e", "PO/verif",
               "newPO/1k", "DB max/avg", "RSS MiB", "static", "bound"))
    out = [head, "-" * len(head)]
    for r in rows:
        verif = r.get("verif", True)
        calls = "%.3f" % (r["calls"] / r["requests"]) if verif and r["requests"] else "-"
        newc = "%.2f" % (1000.0 * r["new_conns"] / r["requests"]) if verif and r["requests"] else "-"
        db = "%d/%.1f" % r["db"] if r["db"] else "-"
        rss = "%.1f" % (r["rss_kib"] / 1024.0) if r["rss_kib"] else "-"
        ratio = "%.1f%%" % (100.0 * r["rps"] / static_rps) if static_rps and r.get("ratio", True) else "-"
        bound = "%.1f%%" % (100.0 * r["rps"] / r["bound"]) if r.get("bound") else "-"
        out.append("%-44s %5d %9.0f %8.2f %8.2f %9s %8s %9s %11s %8s %7s %8s"
                   % (r["label"][:44], r["conns"], r["rps"], r["p50_ms"], r["p99_ms"],
                      "%d/%d" % (r["non2xx"], r["errors"]), calls, newc, db, rss, ratio, bound))
    return out


def fmt_scaling(rows):
    head = "%5s %9s %8s %8s %8s %6s %7s %9s" % ("conns", "req/s", "p50 ms", "p99 ms",
                                                "non-2xx", "5xx", "errors", "newPO/1k")
    out = [head, "-" * len(head)]
    for r in rows:
        out.append("%5d %9.0f %8.2f %8.2f %8d %6d %7d %9.2f"
                   % (r["conns"], r["rps"], r["p50_ms"], r["p99_ms"], r["non2xx"], r["s5"],
                      r["errors"], 1000.0 * r["new_conns"] / max(1, r["requests"])))
    return out


# ---------------------------------------------------------------- the run

def counted(httpd, standin, total, conns=MAIN_CONNS):
    """Exactly |total| verifications (wrk stops each thread at its share),
    then waits (bounded) until the stand-in has seen all their look-ups."""
    before = standin.stats()["payment_calls"]
    t = time.time()
    r = wrk(httpd.url, "verify.lua", conns, RSS_TIME_BOUND, (100000, total, 2))
    end = time.time() + 15
    while standin.stats()["payment_calls"] - before < r["sent"] and time.time() < end:
        time.sleep(0.1)
    seen = standin.stats()["payment_calls"] - before
    log("counted run: %d verifications sent, %d looked up, %d non-2xx, %.1fs"
        % (r["sent"], seen, r["s3"] + r["s4"] + r["s5"], time.time() - t))
    if r["sent"] != total:
        raise RuntimeError("the counted run sent %d verifications, not %d (time bound %ds hit?)"
                           % (r["sent"], total, RSS_TIME_BOUND))
    return r, seen


def run(standin_bin):
    tmp = make_tempdir("pv-bench-")
    stack = []                          # stop functions, run in reverse
    lines = []
    perf_dir = tmp if os.environ.get("PV_BENCH_PERF") == "1" else None
    try:
        static_dir = os.path.join(tmp, "static")
        os.makedirs(static_dir)
        os.chmod(static_dir, 0o755)
        with open(os.path.join(static_dir, "static.json"), "w") as f:
            f.write(STATIC_BODY + "\n")
        os.chmod(os.path.join(static_dir, "static.json"), 0o644)

        standin = Standin(standin_bin, tmp).start()
        stack.append(standin.stop)
        log("stand-in on %s" % standin.url)

        main_rows, scaling_rows = [], []
        auth = ("Authorization: Bearer " + TOKEN,)
        r = measure("PortOne stand-in alone (GET /payments/imp_b1)",
                    standin.url + "/payments/imp_b1", "get.lua", MAIN_CONNS, standin, headers=auth)
        r.update(verif=False, ratio=False)
        standin_row = r

        def sub(name):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            os.chmod(d, 0o755)
            return d

        dbs = {n: sqlite_db(sub("sqlite-%d" % n), n) for n in (100000, 1000, 1000000)}
        rss_db = sqlite_db(sub("sqlite-rss"), 100000)

        def start_httpd(name, db):
            h = BenchHttpd(sub("httpd-" + name), db, standin.url, static_dir)
            h.start()
            stack.append(h.stop)
            check_verify(h)
            return h

        def stop(h):
            h.stop()
            stack.remove(h.stop)

        # --- SQLite, 100,000 orders: static ceiling, verification, scaling, +50 ms
        db = dbs[100000]
        h = start_httpd("sqlite-100k", db)
        fds = sqlite_handles(h, db.path)
        static = measure("static JSON file (%d bytes), same httpd" % (len(STATIC_BODY.encode()) + 1),
                         h.url + "/static.json", "get.lua", MAIN_CONNS, standin, httpd=h)
        static.update(verif=False)
        static_rps = static["rps"]
        sqlite_main = measure("verify, SQLite, 100,000 orders", h.url, "verify.lua", MAIN_CONNS,
                              standin, httpd=h, args=(100000,), sampler_fn=fds, perf_dir=perf_dir)
        for c in SCALING:
            if c == MAIN_CONNS:
                scaling_rows.append(sqlite_main)
                continue
            scaling_rows.append(measure("scaling, SQLite, 100,000 orders", h.url, "verify.lua", c,
                                        standin, httpd=h, args=(100000,),
                                        warmup=1, duration=max(3, DURATION - 1)))
        standin.set_latency(SLOW_MS)
        try:
            sqlite_slow = measure("verify, SQLite, 100k, PortOne +%d ms" % SLOW_MS, h.url,
                                  "verify.lua", SLOW_CONNS, standin, httpd=h, args=(100000,),
                                  sampler_fn=fds)
        finally:
            standin.set_latency(0)
        sqlite_slow.update(bound=SLOW_CONNS / (SLOW_MS / 1000.0), ratio=False)
        stop(h)

        # --- SQLite, 1,000 and 1,000,000 orders
        size_rows = []
        for n, name in ((1000, "1,000"), (1000000, "1,000,000")):
            h = start_httpd("sqlite-%d" % n, dbs[n])
            size_rows.append(measure("verify, SQLite, %s orders" % name, h.url, "verify.lua",
                                     MAIN_CONNS, standin, httpd=h, args=(n,),
                                     sampler_fn=sqlite_handles(h, dbs[n].path)))
            stop(h)

        # --- PostgreSQL, 100,000 orders
        pg_rows = []
        if os.environ.get("PV_BENCH_SKIP_PG") != "1":
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
            r.update(bound=SLOW_CONNS / (SLOW_MS / 1000.0), ratio=False)
            pg_rows.append(r)
            counter.close()
            stack.remove(counter.close)
            stop(h)
            cluster.stop()
            stack.remove(cluster.stop)

        # --- memory over 10,000 and 200,000 verifications (fresh httpd, fresh DB)
        h = start_httpd("sqlite-rss", rss_db)
        pids0 = sorted(h.child_pids())
        rss = [("after start and one check", h.rss_kib(), 1)]
        done = 0
        for total in RSS_COUNTS:
            r, seen = counted(h, standin, total - done)
            done = total
            time.sleep(0.5)
            rss.append(("after %s verifications" % format(total, ","), h.rss_kib(), r["s3"] + r["s4"] + r["s5"]))
        pids1 = sorted(h.child_pids())
        stop(h)

        # --- the tables
        lines.append("mod_portone_verify benchmark, %s, %d cores, wrk %ds runs (+%ds warm-up), "
                     "httpd event MPM %d x %d threads, DBDMax %d"
                     % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), DURATION, WARMUP,
                        HTTPD_SERVERS, HTTPD_THREADS, DBD_MAX))
        lines.append("")
        lines += fmt_main([standin_row, static, sqlite_main] + size_rows + pg_rows[:1]
                          + [sqlite_slow] + pg_rows[1:], static_rps)
        lines.append("")
        lines.append("+%d ms rows: bound = %d connections / %d ms = %.0f req/s"
                     % (SLOW_MS, SLOW_CONNS, SLOW_MS, SLOW_CONNS / (SLOW_MS / 1000.0)))
        lines.append("")
        lines.append("Scaling (fast stand-in, SQLite, 100,000 orders):")
        lines += fmt_scaling(scaling_rows)
        lines.append("")
        lines.append("Resident memory of the httpd children (SQLite, 100,000 orders, %d connections):"
                     % MAIN_CONNS)
        for what, kib, bad in rss:
            lines.append("  %-32s %8.1f MiB  (non-2xx in the run: %d)" % (what, kib / 1024.0, bad if what.startswith("after 1") or what.startswith("after 2") else 0))
        lines.append("  %-32s %+8.1f MiB  (children %s, same processes: %s)"
                     % ("difference 10,000 -> 200,000", (rss[2][1] - rss[1][1]) / 1024.0,
                        " ".join(map(str, pids1)), "yes" if pids0 == pids1 else "NO"))
        lines.append("")
        lines.append("Total time: %.0f s" % (time.time() - T0))
        text = "\n".join(lines) + "\n"
        sys.stdout.write("\n" + text)
        with open(os.path.join(BENCH, "last-run.txt"), "w") as f:
            f.write(text)
        if perf_dir:
            log("perf data: %s/perf.data" % perf_dir)
    finally:
        for fn in reversed(stack):
            try:
                fn()
            except Exception as e:          # keep stopping the others
                log("while stopping: %s" % e)
        if os.environ.get("PV_BENCH_KEEP") != "1" and not perf_dir:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("kept %s" % tmp)


def main():
    global T0
    T0 = time.time()
    if len(sys.argv) != 2:
        sys.exit("usage: bench.py path/to/standin")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        run(os.path.abspath(sys.argv[1]))
    except KeyboardInterrupt:
        log("interrupted; everything stopped")
        sys.exit(130)


T0 = time.time()
if __name__ == "__main__":
    main()
