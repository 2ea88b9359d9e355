#!/usr/bin/python3
"""make bench-compare: several builds of mod_portone_verify, measured in one run.

    /usr/bin/python3 bench/compare.py path/to/standin NAME=path/to/mod.so NAME=... 

NAME=path/to/mod.so+path/to/lib.so runs that build with lib.so in
LD_PRELOAD (an experiment that replaces a library function).

For each scenario, each variant runs back to back (scenario 1 on A, B, C,
then scenario 2 on A, B, C, ...), so that load from elsewhere on the machine
falls on all variants alike. Every variant gets a freshly started httpd (the
settings of bench.py: event MPM, 2 x 80 threads, DBDMax 16) and a fresh copy
of the same database: a copy of the SQLite file, or a PostgreSQL database
created from a template (CREATE DATABASE ... TEMPLATE), so that no variant
finds the rows another one wrote. One stand-in serves the whole run; its
counters are read before and after each measured run.

Each measurement is bench.py's: a wrk warm-up (PV_BENCH_WARMUP, 2 s), then
the measured wrk run (PV_BENCH_DURATION, 6 s), verifications counted from
httpd's access log, CPU of the httpd children, PortOne connections from the
stand-in's /__stats. The table (also written to bench/compare-last-run.txt)
gives each variant's figures and their ratio to the first variant's in the
same scenario.

Everything listens on 127.0.0.1 and is stopped by its PID at the end, also on
Ctrl-C or an error. Environment: PV_BENCH_DURATION, PV_BENCH_WARMUP,
PV_BENCH_KEEP=1 (keep the temp dir), PV_COMPARE_SKIP_PG=1,
PV_COMPARE_ONLY (scenario numbers in SCENARIOS, as in "1,4"),
PV_COMPARE_BUDGET (seconds; scenario runs that would start later than this
after the start are skipped and marked, default 420), PV_COMPARE_ROUNDS
(default 1: run every scenario that many times over, the variants' order
reversed every other round, and report each figure's median; the machines
here vary by 10% from one run to the next).
"""
import hashlib
import os
import re
import shutil
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import bench_common  # noqa: E402  (puts tests/ on sys.path)
from bench_common import DURATION, WARMUP, log  # noqa: E402
from bench_measure import measure  # noqa: E402
from bench_servers import (BenchHttpd, Standin, check_verify, make_static_dir,  # noqa: E402
                           pg_db, settle_pg, sqlite_db)
from harness import _chown_tree, make_tempdir  # noqa: E402

BUDGET = float(os.environ.get("PV_COMPARE_BUDGET", "420"))
ROUNDS = max(1, int(os.environ.get("PV_COMPARE_ROUNDS", "1")))
SLOW_MS = 50

# (label, database, orders, connections, added PortOne latency in ms)
SCENARIOS = (
    ("SQLite, 100k orders (mostly 1st: writes)", "sqlite", 100000, 32, 0),
    ("SQLite, 1k orders (mostly repeats)", "sqlite", 1000, 32, 0),
    ("SQLite, 100k orders", "sqlite", 100000, 8, 0),
    ("PostgreSQL, 100k orders (mostly 1st: writes)", "pgsql", 100000, 32, 0),
    ("PostgreSQL, 1k orders", "pgsql", 1000, 32, 0),
    ("PostgreSQL, 100k orders, PortOne +50 ms", "pgsql", 100000, 128, SLOW_MS),
    ("SQLite, 1M orders (mostly 1st: writes)", "sqlite", 1000000, 32, 0),
    ("SQLite, 100k orders, PortOne +50 ms", "sqlite", 100000, 128, SLOW_MS),
)


class VariantHttpd(BenchHttpd):
    """bench.py's httpd with another build of the module ("" or None: this
    one); "build.so+lib.so" puts lib.so in LD_PRELOAD."""

    def __init__(self, module, *args, **kw):
        super().__init__(*args, **kw)
        build, _, self.preload = (module or "").partition("+")
        self.module = build or self.module

    def environment(self):
        env = super().environment()
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        return env


class SqliteCopy:
    """A fresh copy of a template SQLite file (what Httpd asks of a db)."""
    driver = "sqlite3"

    def __init__(self, template_path, directory):
        self.dir = os.path.join(directory, "db")
        os.makedirs(self.dir)
        self.path = os.path.join(self.dir, "shop.db")
        for ext in ("", "-wal"):            # no -wal after a clean close
            if ext == "" or os.path.exists(template_path + ext):
                shutil.copyfile(template_path + ext, self.path + ext)
        _chown_tree(self.dir)

    @property
    def params(self):
        return self.path

    def drop(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class PgCopy:
    """A fresh database created from a template database of the cluster."""
    driver = "pgsql"

    def __init__(self, pg, template, name):
        self.pg, self.name = pg, name
        pg.admin("CREATE DATABASE %s TEMPLATE %s" % (name, template))

    @property
    def params(self):
        return re.sub(r"dbname=\S+", "dbname=" + self.name, self.pg.cluster.dsn)

    def drop(self):
        self.pg.admin("DROP DATABASE IF EXISTS %s" % self.name)


class PgTemplates:
    """One throwaway cluster; template databases tpl_<orders>, made from the
    'shop' database of bench_servers.pg_db as it grows (1,000 orders, then 100,000)."""

    def __init__(self, directory, sizes):
        import psycopg2
        self.psycopg2 = psycopg2
        sizes = sorted(sizes)
        self.cluster, self.db = pg_db(directory, sizes[0])
        try:
            have = sizes[0]
            self.admin("CREATE DATABASE tpl_%d TEMPLATE shop" % have)
            for n in sizes[1:]:
                con = self.db._connect()
                try:
                    with con, con.cursor() as cur:
                        cur.execute("INSERT INTO shop_orders (order_no, total_price, currency) "
                                    "SELECT 'order_' || i, 10000, 'KRW' "
                                    "FROM generate_series(%s, %s) AS i", (have + 1, n))
                finally:
                    con.close()
                settle_pg(self.db)      # shop_orders only: see settle_pg
                self.admin("CREATE DATABASE tpl_%d TEMPLATE shop" % n)
                have = n
        except BaseException:
            self.cluster.stop()
            raise

    def admin(self, sql):
        con = self.psycopg2.connect(re.sub(r"dbname=\S+", "dbname=postgres", self.cluster.dsn))
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(sql)
        finally:
            con.close()

    def stop(self):
        self.cluster.stop()


def median_row(rows):
    """Each figure's median over the rounds (the lower middle one)."""
    if len(rows) == 1:
        return rows[0]
    out = dict(rows[0])
    for k, v in rows[0].items():
        if isinstance(v, (int, float)) and all(r.get(k) is not None for r in rows):
            out[k] = sorted(r[k] for r in rows)[(len(rows) - 1) // 2]
    out["rounds"] = len(rows)
    return out


def short_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def fmt_table(results, names):
    base_name = names[0]
    head = ("%-40s %5s %-9s %7s %7s %8s %10s %6s %7s %8s   %6s %6s %6s %6s"
            % ("scenario", "conns", "variant", "req/s", "p50 ms", "p99 ms", "non2xx/err",
               "verifs", "CPU us", "newPO/1k", "req/s", "p50", "p99", "CPU"))
    over = "ratio to %s" % base_name[:16]
    over = "-" * ((27 - len(over)) // 2) + " " + over + " "
    over += "-" * (27 - len(over))
    out = [" " * (len(head) - 27) + over, head, "=" * len(head)]

    def ratio(a, b):
        return "%6.2f" % (a / b) if (a is not None and b) else "%6s" % "-"

    for (label, conns), rows in results:
        base = rows.get(base_name)
        first = True
        for name in names:
            r = rows.get(name)
            lab = label if first else ""
            first = False
            if r is None:
                out.append("%-40s %5s %-9s %s" % (lab[:40], conns if lab else "", name[:9],
                                                 "(skipped: time budget)"))
                continue
            v = r["verifs"]
            newc = "%.2f" % (1000.0 * r["new_conns"] / v) if v else "-"
            cpu = "%.0f" % r["cpu_us"] if r["cpu_us"] is not None else "-"
            if base and r is not base:
                ratios = " ".join((ratio(r["rps"], base["rps"]), ratio(r["p50_ms"], base["p50_ms"]),
                                   ratio(r["p99_ms"], base["p99_ms"]),
                                   ratio(r["cpu_us"], base["cpu_us"])))
            else:
                ratios = " ".join(["%6s" % ("1.00" if base else "-")] * 4)
            out.append("%-40s %5s %-9s %7.0f %7.2f %8.2f %10s %6d %7s %8s   %s"
                       % (lab[:40], conns if lab else "", name[:9], r["rps"], r["p50_ms"],
                          r["p99_ms"], "%d/%d" % (r["non2xx"], r["errors"]), v, cpu, newc,
                          ratios))
        out.append("")
    return out


def run(standin_bin, variants):
    names = [n for n, _ in variants]
    tmp = make_tempdir("pv-compare-")
    stack = []                              # stop functions, run in reverse
    with_pg = os.environ.get("PV_COMPARE_SKIP_PG") != "1"
    only = os.environ.get("PV_COMPARE_ONLY")
    scenarios = [s for i, s in enumerate(SCENARIOS, 1)
                 if (with_pg or s[1] != "pgsql") and (not only or str(i) in only.split(","))]
    results = []
    try:
        static_dir = make_static_dir(tmp)

        standin = Standin(standin_bin, tmp).start()
        stack.append(standin.stop)
        log("stand-in on %s" % standin.url)

        def sub(name):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            os.chmod(d, 0o755)
            return d

        sqlite_tpl = {n: sqlite_db(sub("tpl-sqlite-%d" % n), n).path
                      for n in sorted({s[2] for s in scenarios if s[1] == "sqlite"})}
        pg = None
        if any(s[1] == "pgsql" for s in scenarios):
            pg = PgTemplates(sub("pg"), {s[2] for s in scenarios if s[1] == "pgsql"})
            stack.append(pg.stop)
            log("PostgreSQL templates: %s" % ", ".join("tpl_%d" % s[2] for s in scenarios
                                                      if s[1] == "pgsql"))

        run_no = 0
        for si, (label, kind, orders, conns, latency) in enumerate(scenarios, 1):
            rows = {}
            results.append(((label, conns), rows))
            if latency:
                standin.set_latency(latency)
            try:
                samples = {}
                for rnd in range(ROUNDS):
                    # alternate the order, so that no variant always runs first
                    for name, so in (variants if rnd % 2 == 0 else variants[::-1]):
                        if time.time() - bench_common.T0 > BUDGET:
                            log("skipping %s on %s: past the %.0fs budget" % (label, name, BUDGET))
                            continue
                        run_no += 1
                        d = sub("run%02d-%s" % (run_no, re.sub(r"[^A-Za-z0-9_.-]", "_", name)))
                        if kind == "sqlite":
                            db = SqliteCopy(sqlite_tpl[orders], d)
                        else:
                            db = PgCopy(pg, "tpl_%d" % orders, "run%02d" % run_no)
                        stack.append(db.drop)
                        h = VariantHttpd(so, d, db, standin.url, static_dir)
                        h.start()
                        stack.append(h.stop)
                        try:
                            check_verify(h)
                            samples.setdefault(name, []).append(
                                measure("%d. %s [%s] round %d" % (si, label, name, rnd + 1),
                                        h.url, "verify.lua", conns, standin, httpd=h,
                                        args=(orders,)))
                        finally:
                            h.stop()
                            stack.remove(h.stop)
                            db.drop()
                            stack.remove(db.drop)
                rows.update({name: median_row(rs) for name, rs in samples.items()})
            finally:
                if latency:
                    standin.set_latency(0)

        load1 = "%.2f %.2f %.2f" % os.getloadavg()
        lines = [
            "mod_portone_verify A/B comparison, %s, %d cores; load average at start: %s, "
            "at end: %s" % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), LOAD0, load1),
            "wrk %ds runs after a %ds warm-up; each variant on a fresh httpd (event MPM, "
            "%d x %d threads, DBDMax %d) and a fresh copy of the database; all on 127.0.0.1"
            % (DURATION, WARMUP, bench_common.HTTPD_SERVERS, bench_common.HTTPD_THREADS,
               bench_common.DBD_MAX),
            "variants (run in this order within each scenario%s):"
            % (", reversed every other round; figures: the median of %d rounds" % ROUNDS
               if ROUNDS > 1 else ""),
        ]
        for name, so in variants:
            lines.append("  %-9s %s (sha256 %s)" % (name, so, short_hash(so.partition("+")[0])))
        lines.append("")
        lines += fmt_table(results, names)
        lines.append("verifs = verifications httpd finished in the measured run (access log); "
                     "CPU us = CPU time of the httpd children per verification;")
        lines.append("newPO/1k = new TCP connections to the PortOne stand-in per 1,000 "
                     "verifications; ratio columns: this variant / %s, same scenario." % names[0])
        lines.append("Total time: %.0f s" % (time.time() - bench_common.T0))
        bench_common.write_table(lines, "compare-last-run.txt")
    finally:
        bench_common.stop_all(stack, tmp)


def parse_variants(args):
    variants = []
    for a in args:
        name, sep, path = a.partition("=")
        if not sep or not name or not path:
            sys.exit("variant %r: expected NAME=path/to/mod_portone_verify.so" % a)
        path, plus, pre = path.partition("+")
        path = os.path.abspath(path) + plus + pre
        if not os.path.isfile(path.partition("+")[0]):
            sys.exit("variant %s: no such file %s" % (name, path))
        if name in (n for n, _ in variants):
            sys.exit("variant %s given twice" % name)
        variants.append((name, path))
    return variants


def main():
    global LOAD0
    bench_common.start_clock()
    LOAD0 = "%.2f %.2f %.2f" % os.getloadavg()
    if len(sys.argv) < 3:
        sys.exit("usage: compare.py path/to/standin NAME=path/to/mod_portone_verify.so ...\n"
                 "       (make bench-compare VARIANTS=\"old=/tmp/old.so new=.libs/mod_portone_verify.so\")")
    variants = parse_variants(sys.argv[2:])
    log("load average at start: %s" % LOAD0)

    bench_common.run_stopping_cleanly(run, os.path.abspath(sys.argv[1]), variants)


if __name__ == "__main__":
    main()
