#!/usr/bin/python3
"""What makes make bench's PostgreSQL rows slow and swing (issue 18): make
bench's PostgreSQL section alone, round by round, with what PostgreSQL did
meanwhile.

    sh bench/run.sh builds bench/build/standin; then
    /usr/bin/python3 bench/pg_probe.py bench/build/standin

Each round is bench.py's measure() (a 2 s warm-up, a 6 s run, 32
connections; the last round with PROBE_SLOW=1 at 128 connections and
PortOne +50 ms). Printed per round: req/s, p99, wrk's socket errors by kind,
the wait events of the shop's backends (pg_stat_activity sampled every
0.1 s: how many were active, and on what they waited), checkpoints and the
buffers they wrote (pg_stat_bgwriter), WAL written (pg_stat_wal), the
autovacuum and autoanalyze runs and the sequential scans of the module's
tables (pg_stat_user_tables), the CPU seconds of the cluster's processes,
of httpd's children and of the machine (/proc/stat), and the lines
PostgreSQL's log wrote (checkpoints, autovacuum: log_checkpoints and
log_autovacuum_min_duration = 0).

Environment:
  PROBE_ROUNDS   rounds at 32 connections (default 3)
  PROBE_DB       bench: one database loaded by COPY + ANALYZE (bench_servers.pg_db),
                 all rounds on it, as make bench does (default);
                 fresh: each round on a database made from a template
                 (CREATE DATABASE ... TEMPLATE, compare.py's way), a fresh httpd each
  PROBE_NODE=1   the Node counterpart on a cluster of its own, its rounds
                 alternating with the module's (make bench's PostgreSQL rows)
  PROBE_PREP     before the first round and between rounds on the same
                 database: none (default), checkpoint, vacuum (VACUUM ANALYZE),
                 both (VACUUM ANALYZE, then CHECKPOINT), reload (bench_servers.pg_load:
                 TRUNCATE, COPY, VACUUM ANALYZE shop_orders, CHECKPOINT; make bench's
                 way since 2026-12-07; also the Node cluster after each Node round)
  PROBE_SLOW=1   then the +50 ms x 128 pass on the same httpd and database
  PROBE_OLD_ANALYZE=1  after the load, ANALYZE the whole database (what
                 bench_servers.pg_db did before 2026-12-07: the module's empty
                 tables recorded as analyzed with 0 rows)
  PROBE_CKPT_INSIDE=1  a CHECKPOINT halfway through each 32-connection run;
                 alt: in rounds 1, 3, 5, ... only (with and without, interleaved)
"""
import os
import re
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import bench_common  # noqa: E402
from bench_common import MAIN_CONNS, SLOW_CONNS, SLOW_MS, log  # noqa: E402
from bench_measure import measure  # noqa: E402
from bench_servers import (BenchHttpd, Standin, check_verify,  # noqa: E402
                           cpu_ticks_of, make_static_dir, node_ready, pg_db, pg_load,
                           start_node_pg)
from harness import make_tempdir  # noqa: E402
import bench_measure  # noqa: E402

LAST_WRK = {}
_wrk = bench_measure.wrk


CKPT = {}                   # PROBE_CKPT_INSIDE: {"dsn": ..., "log": [...]}


def _checkpoint_later(delay):
    time.sleep(delay)
    con = connect(CKPT["dsn"])
    t = time.time()
    query(con, "CHECKPOINT")
    CKPT["log"].append("CHECKPOINT %.1f s into the measured run took %.2f s"
                       % (delay, time.time() - t))
    con.close()


def _wrk_keeping(url, script, conns, duration, *a, **kw):
    """bench_measure.wrk, keeping the last result (socket errors by kind);
    with PROBE_CKPT_INSIDE=1 a CHECKPOINT halfway through each measured run."""
    if CKPT.get("dsn") and duration == bench_common.DURATION:
        threading.Thread(target=_checkpoint_later, args=(duration / 2.0,), daemon=True).start()
    r = _wrk(url, script, conns, duration, *a, **kw)
    LAST_WRK.clear()
    LAST_WRK.update(r)
    return r


bench_measure.wrk = _wrk_keeping

TABLES = ("shop_orders", "portone_payments", "portone_events", "portone_orders")


def connect(dsn, dbname=None):
    import psycopg2
    if dbname:
        dsn = re.sub(r"dbname=\S+", "dbname=" + dbname, dsn)
    con = psycopg2.connect(dsn)
    con.autocommit = True
    return con


def query(con, sql, args=()):
    with con.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


class WaitSampler(threading.Thread):
    """pg_stat_activity every 0.1 s: per sample, the shop's client backends
    that are active and what they wait on, and the other backends that are
    busy (autovacuum workers, a checkpointer writing)."""

    def __init__(self, dsn, dbname):
        super().__init__(daemon=True)
        self.con = connect(dsn)
        self.dbname = dbname
        self.halt = threading.Event()
        self.samples = 0
        self.active = 0
        self.waits = {}
        self.others = {}

    def run(self):
        while not self.halt.is_set():
            try:
                rows = query(self.con,
                             "SELECT backend_type, datname, state, wait_event_type, wait_event, "
                             "left(query, 30) FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
            except Exception:
                break
            self.samples += 1
            for btype, dat, state, wtype, wev, q in rows:
                if btype == "client backend" and dat == self.dbname:
                    if state == "active":
                        self.active += 1
                        k = "%s:%s" % (wtype, wev) if wtype else "CPU"
                        self.waits[k] = self.waits.get(k, 0) + 1
                    elif state == "idle in transaction":
                        self.waits["(idle in transaction)"] = \
                            self.waits.get("(idle in transaction)", 0) + 1
                elif btype not in ("client backend", "background writer", "walwriter",
                                   "autovacuum launcher", "logical replication launcher"):
                    k = "%s %s:%s" % (btype, wtype, wev)
                    if btype == "autovacuum worker":
                        k += " " + (q or "")
                    if wev not in ("CheckpointerMain",):
                        self.others[k] = self.others.get(k, 0) + 1
            self.halt.wait(0.1)

    def finish(self):
        self.halt.set()
        self.join(5)
        self.con.close()
        n = max(1, self.samples)
        top = sorted(self.waits.items(), key=lambda kv: -kv[1])[:6]
        waits = ", ".join("%s %.1f" % (k, v / float(n)) for k, v in top)
        others = ", ".join("%s %d%%" % (k, 100 * v // n)
                           for k, v in sorted(self.others.items(), key=lambda kv: -kv[1])[:4])
        return ("backends active on average %.1f (%s)" % (self.active / float(n), waits),
                others or "-")


def cluster_cpu(cluster):
    """utime + stime (s) of the postmaster's children, by the PID file."""
    try:
        with open(os.path.join(cluster.dir, "postmaster.pid")) as f:
            pm = int(f.readline())
        with open("/proc/%d/task/%d/children" % (pm, pm)) as f:
            pids = [pm] + [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return 0.0
    return cpu_ticks_of(pids) / float(os.sysconf("SC_CLK_TCK"))


def machine_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v  # user nice system idle iowait irq softirq steal ...


class Snapshot:
    def __init__(self, con, cluster, httpd, node_cluster):
        self.bg = query(con, "SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, "
                             "buffers_clean, buffers_backend, buffers_alloc FROM pg_stat_bgwriter")[0]
        self.wal = query(con, "SELECT wal_bytes, wal_buffers_full, wal_write FROM pg_stat_wal")[0]
        self.db = query(con, "SELECT xact_commit, xact_rollback, blks_read, blks_hit, deadlocks "
                             "FROM pg_stat_database WHERE datname = current_database()")[0]
        self.tables = {r[0]: r[1:] for r in query(
            con, "SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count, "
                 "seq_scan, idx_scan, n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables")}
        self.pg_cpu = cluster_cpu(cluster)
        self.node_pg_cpu = cluster_cpu(node_cluster) if node_cluster else 0.0
        self.httpd_cpu = httpd.cpu_ticks() / float(os.sysconf("SC_CLK_TCK"))
        self.machine = machine_cpu()
        self.t = time.time()


def diff(a, b):
    d = lambda x, y: [q - p for p, q in zip(x, y)]  # noqa: E731
    bg, wal, db = d(a.bg, b.bg), d(a.wal, b.wal), d(a.db, b.db)
    secs = b.t - a.t
    m = d(a.machine, b.machine)
    tot = float(sum(m[:8])) or 1.0
    lines = [
        "  checkpoints timed/req %d/%d, buffers written by checkpoint %d, bgwriter %d, "
        "backends %d; WAL %.1f MB (buffers full %d)" % (bg[0], bg[1], bg[2], bg[3], bg[4],
                                                         float(wal[0]) / 1e6, wal[1]),
        "  commits %d, blocks read %d hit %d, deadlocks %d" % (db[0], db[2], db[3], db[4]),
        "  CPU over %.1f s: cluster %.1f s, Node's cluster %.1f s, httpd %.1f s; machine: "
        "user %.0f%% sys %.0f%% idle %.0f%% iowait %.0f%%"
        % (secs, b.pg_cpu - a.pg_cpu, b.node_pg_cpu - a.node_pg_cpu, b.httpd_cpu - a.httpd_cpu,
           100 * (m[0] + m[1]) / tot, 100 * (m[2] + m[5] + m[6]) / tot, 100 * m[3] / tot,
           100 * m[4] / tot)]
    for t in TABLES:
        x, y = a.tables.get(t), b.tables.get(t)
        if not y:
            continue
        x = x or (0,) * len(y)
        lines.append("  %-17s live %7d dead %6d  autovacuum +%d autoanalyze +%d  seq scans +%d "
                     "index scans +%d  updates +%d (HOT +%d)"
                     % (t, y[0], y[1], y[2] - x[2], y[3] - x[3], y[4] - x[4], y[5] - x[5],
                        y[7] - x[7], y[6] - x[6]))
    return lines


def pg_log_lines(path, start):
    try:
        with open(path, errors="replace") as f:
            f.seek(start)
            text = f.read()
    except OSError:
        return []
    keep = [ln for ln in text.splitlines()
            if re.search(r"checkpoint|automatic (vacuum|analyze)|ERROR|FATAL|deadlock", ln)]
    return ["  pg.log: " + re.sub(r"^\S+ \S+ \S+ \[\d+\] ", "", ln)[:160] for ln in keep][:12]


def prep(con, what):
    if what in ("vacuum", "both"):
        t = time.time()
        query(con, "VACUUM ANALYZE")
        log("VACUUM ANALYZE in %.2fs" % (time.time() - t))
    if what in ("checkpoint", "both"):
        t = time.time()
        query(con, "CHECKPOINT")
        log("CHECKPOINT in %.2fs" % (time.time() - t))


def run(standin_bin):
    tmp = make_tempdir("pv-pgprobe-")
    stack = []
    rounds = int(os.environ.get("PROBE_ROUNDS", "3"))
    mode = os.environ.get("PROBE_DB", "bench")
    what = os.environ.get("PROBE_PREP", "none")
    with_node = os.environ.get("PROBE_NODE") == "1" and node_ready()
    out = ["pg_probe: PROBE_DB=%s PROBE_NODE=%d PROBE_PREP=%s PROBE_ROUNDS=%d "
           "PROBE_OLD_ANALYZE=%s PROBE_CKPT_INSIDE=%s, load %.1f"
           % (mode, with_node, what, rounds, os.environ.get("PROBE_OLD_ANALYZE", "0"),
              os.environ.get("PROBE_CKPT_INSIDE", "0"), os.getloadavg()[0])]
    try:
        static_dir = make_static_dir(tmp)
        standin = Standin(standin_bin, tmp).start()
        stack.append(standin.stop)

        def sub(name):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            os.chmod(d, 0o755)
            return d

        cluster, pdb = pg_db(sub("pg"), 100000)
        stack.append(cluster.stop)
        admin = connect(cluster.dsn, "postgres")
        if os.environ.get("PROBE_OLD_ANALYZE") == "1":
            # what pg_db did before: ANALYZE of the whole database, the
            # module's tables recorded as analyzed with 0 rows
            query(connect(cluster.dsn), "ANALYZE")
        query(admin, "ALTER SYSTEM SET log_autovacuum_min_duration = 0")
        query(admin, "ALTER SYSTEM SET log_checkpoints = on")
        query(admin, "SELECT pg_reload_conf()")
        if mode == "fresh":
            query(admin, "CREATE DATABASE tpl TEMPLATE shop")
        ncluster = node = None
        if with_node:
            ncluster, ndb, node = start_node_pg(sub, standin.url, stack)

        h = None
        dbname = "shop"
        started = []

        def new_httpd(db):
            started.append(1)
            h = BenchHttpd(sub("httpd-%d" % len(started)), db, standin.url, static_dir)
            h.start()
            stack.append(h.stop)
            check_verify(h)
            return h

        if mode != "fresh":
            h = new_httpd(pdb)
            con = connect(cluster.dsn)
            prep(con, what)
        total = rounds + (os.environ.get("PROBE_SLOW") == "1")
        for i in range(total):
            slow = i == rounds
            if mode == "fresh" and not slow:
                if h:
                    h.stop()
                    stack.remove(h.stop)
                    con.close()
                dbname = "run%d" % i
                query(admin, "CREATE DATABASE %s TEMPLATE tpl" % dbname)

                class Copy(object):
                    driver = "pgsql"
                    params = re.sub(r"dbname=\S+", "dbname=" + dbname, cluster.dsn)
                h = new_httpd(Copy())
                con = connect(cluster.dsn, dbname)
            elif i and what == "reload":
                pg_load(pdb, 100000)
            elif i:
                prep(con, what)
            logpos = os.path.getsize(cluster.log)
            s0 = Snapshot(con, cluster, h, ncluster)
            ck = os.environ.get("PROBE_CKPT_INSIDE")
            if not slow and (ck == "1" or (ck == "alt" and i % 2 == 0)):
                CKPT.update(dsn=cluster.dsn, log=[])
            ws = WaitSampler(cluster.dsn, dbname)
            ws.start()
            if slow:
                standin.set_latency(SLOW_MS)
            try:
                r = measure("probe %s round %d%s" % (mode, i + 1, " +50 ms" if slow else ""),
                            h.url, "verify.lua", SLOW_CONNS if slow else MAIN_CONNS, standin,
                            httpd=h, args=(100000,))
            finally:
                standin.set_latency(0)
            waits, others = ws.finish()
            s1 = Snapshot(con, cluster, h, ncluster)
            out.append("round %d%s: %.0f req/s, p50 %.1f ms, p99 %.1f ms, verifications %d, "
                       "CPU us/verif %.0f, errors %d (connect %d read %d write %d timeout %d), load %.1f"
                       % (i + 1, " (+50 ms x 128)" if slow else "", r["rps"], r["p50_ms"],
                          r["p99_ms"], r["verifs"], r["cpu_us"] or 0, r["errors"],
                          LAST_WRK.get("connect", 0), LAST_WRK.get("read", 0),
                          LAST_WRK.get("write", 0), LAST_WRK.get("timeout", 0), r["load"]))
            out += ["  " + x for x in CKPT.pop("log", [])]
            CKPT.clear()
            out.append("  " + waits)
            out.append("  other busy backends (share of samples): " + others)
            out += diff(s0, s1)
            out += pg_log_lines(cluster.log, logpos)
            if node and not slow:
                n0 = cluster_cpu(ncluster)
                ncon = connect(ncluster.dsn)
                ns0 = Snapshot(ncon, ncluster, node, None)
                nr = measure("probe Node round %d" % (i + 1), node.url, "verify.lua", MAIN_CONNS,
                             standin, httpd=node, args=(100000,))
                out.append("  Node round %d: %.0f req/s, p99 %.1f ms (its cluster %.1f s CPU); "
                           "module's cluster log meanwhile:" % (i + 1, nr["rps"], nr["p99_ms"],
                                                               cluster_cpu(ncluster) - n0))
                out += pg_log_lines(cluster.log, logpos)
                out.append("  Node's cluster during its round:")
                out += ["  " + x for x in diff(ns0, Snapshot(ncon, ncluster, node, None))]
                ncon.close()
                if what == "reload":
                    pg_load(ndb, 100000)
        text = "\n".join(out)
        print(text)
        err = h.read_error_log() if h else ""
        errs = [ln for ln in err.splitlines() if "AH0" in ln or "error" in ln.lower()]
        print("httpd error log lines: %d%s" % (len(errs), "".join("\n  " + e[:200]
                                                                  for e in errs[:5])))
    finally:
        bench_common.stop_all(stack, tmp)


if __name__ == "__main__":
    bench_common.start_clock()
    bench_common.run_stopping_cleanly(run, os.path.abspath(sys.argv[1]))
