"""How the benchmark measures: wrk runs (bench/get.lua, bench/verify.lua),
samplers of database connections, the verifications httpd finished (its
access log), the stand-in's counters, mod_status's commit groups; one
measured run (measure) and a run of an exact number of verifications
(counted)."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

from bench_common import BENCH, DURATION, MAIN_CONNS, RSS_TIME_BOUND, WARMUP, WRK, log


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


# ---------------------------------------------------------------- server-side counts

VERIFY_LINE = re.compile(r'"POST (?:/v2)?/payments/complete [^"]*" (\d{3}) ')   # V1 and V2


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
    """(write transactions committed, verifications written in them, ms in
    write transactions, when), from mod_status: the first two's ratio is the
    average commit group; the third's growth over the time between two
    readings, how busy the writers were (on SQLite, one at a time: the share
    of time the one writer was busy). A module without DatabaseWriteMs gives
    None for it."""
    try:
        with urllib.request.urlopen(httpd.url + "/server-status?auto", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    got = dict(re.findall(r"^PortOne(DatabaseCommits|DatabaseWrites|DatabaseWriteMs): (\d+)$",
                          text, re.M))
    if "DatabaseCommits" not in got or "DatabaseWrites" not in got:
        return None
    ms = int(got["DatabaseWriteMs"]) if "DatabaseWriteMs" in got else None
    return int(got["DatabaseCommits"]), int(got["DatabaseWrites"]), ms, time.monotonic()


def machine_idle():
    """(idle + iowait, all) jiffies of all CPUs so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])


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
    idle0 = machine_idle()
    r = wrk(target_url, script, conns, duration, args, headers)
    idle1 = machine_idle()
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
    group = busy = None
    if db0 and db1 and db1[0] > db0[0]:
        group = (db1[1] - db0[1]) / float(db1[0] - db0[0])
    if db0 and db1 and db0[2] is not None and db1[2] is not None:
        busy = 100.0 * (db1[2] - db0[2]) / max(1.0, 1000.0 * (db1[3] - db0[3]))
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
        "db": db, "rss_kib": rss, "group": group, "busy": busy,
        # CPU seconds of the httpd children per request, in microseconds
        "cpu_us": 1e6 * cpu / max(1, verifs or r["requests"]) if httpd else None,
        # the machine's 1-minute load average at the end: other jobs on the
        # same cores are what makes the rounds swing
        "load": os.getloadavg()[0],
        # the share of both cores that had nothing to run during the measured
        # run (idle and iowait in /proc/stat): a pass that leaves the cores
        # idle is held up by something else than the CPU (the one SQLite
        # writer's commit, docs/performance.md)
        "idle": 100.0 * (idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1]),
    }
    log("%-44s c=%-3d %6.0f req/s  p50 %.2f ms  p99 %.2f ms  non-2xx %d  errors %d%s  "
        "server: %d verifications, %d non-2xx, %d PortOne calls, %d new connections"
        % (label, conns, row["rps"], row["p50_ms"], row["p99_ms"], row["non2xx"], row["errors"],
           " (connect %d, read %d, write %d, timeout %d)"
           % (r["connect"], r["read"], r["write"], r["timeout"]) if row["errors"] else "",
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
