"""What the benchmark starts: the C stand-in for PortOne (bench/standin), httpd
with the module and benchmark settings, the SQLite and PostgreSQL shops with
their orders, the static file, and the curl check of a fresh httpd."""
import http.client
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time

from bench_common import (DBD_MAX, HTTPD_SERVERS, HTTPD_THREADS, NODE_PG_POOL, STATIC_BODY,
                          V2_PATH, V2_SECRET, V2_STORE, log)
from harness import MODULES, Httpd, SqliteDB, _chown_tree, wait_port


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
    requests, and a static JSON file (/static.json) as the ceiling. With
    v2=True, V2_PATH is a portone-verify <Location> of its own with the
    stand-in's V2 secret and store (PortOneV2Secret, PortOneV2URL,
    PortOneStoreId), inheriting the server's V1 account and SQL: a module
    without V2 does not start with it."""

    def __init__(self, directory, db, api_url, static_dir, dbd_max=DBD_MAX, v2=False,
                 threads=HTTPD_THREADS):
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
        if v2:
            extra += """<Location "{p}">
    SetHandler portone-verify
    PortOneV2Secret {s}
    PortOneV2URL {u}
    PortOneStoreId {st}
</Location>
""".format(p=V2_PATH, s=V2_SECRET, u=api_url, st=V2_STORE)
        super().__init__(directory, db, api_url, extra=extra, servers=HTTPD_SERVERS,
                         threads=threads, directives={"PortOneTimeout": "10"})
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
        return cpu_ticks_of(self.child_pids())

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


def cpu_ticks_of(pids):
    """utime + stime of |pids| (gone ones count 0), in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def start_node_pg(directory_of, api_url, stack):
    """The Node counterpart on a PostgreSQL cluster of its own (100,000
    orders); both stops pushed on |stack|. (cluster, db, node)."""
    cluster, db = pg_db(directory_of("pg-node"), 100000)
    stack.append(cluster.stop)
    node = NodeServer(directory_of("node-pg"), db, api_url).start()
    stack.append(node.stop)
    return cluster, db, node


def sqlite_reset(db):
    """The shop back to how sqlite_db made it, while the servers using it
    are idle (their connections stay open): the module's tables emptied,
    the orders unpaid, the WAL checkpointed. Before every round of a fast
    pass, so that no round finds the payments of the rounds before it
    recorded: a verification of one of those is a repeat (a read, no
    write), and the rounds on one database rose from one to the next
    (5,829, 6,669, 9,961 req/s), which was most of their spread."""
    con = sqlite3.connect(db.path, timeout=30)
    try:
        with con:
            for table in ("portone_events", "portone_payments", "portone_orders"):
                con.execute("DELETE FROM " + table)
            con.execute("UPDATE shop_orders SET state = 'new', paid_imp_uid = NULL, "
                        "updates = 0 WHERE updates <> 0 OR state <> 'new'")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def pg_db(directory, n):
    import pgcluster
    t = time.time()
    cluster = pgcluster.PgCluster(directory).start()
    try:
        db = pgcluster.PgDB(cluster)
        pg_load(db, n)
    except BaseException:
        cluster.stop()
        raise
    log("PostgreSQL cluster with %d orders in %.1fs" % (n, time.time() - t))
    return cluster, db


def pg_load(db, n):
    """The shop as pg_db makes it, also again between passes: the module's
    tables emptied (TRUNCATE, which also forgets their statistics and
    invalidates the plans prepared on them), orders order_1 .. order_n at
    10000 KRW by COPY, then settle_pg. Every PostgreSQL pass of make bench
    starts from this state, the Node counterpart's on its own cluster too,
    so that no round finds the rows (the repeats, the dead rows, the pending
    autovacuum) that the rounds before it left."""
    con = db._connect()
    try:
        with con, con.cursor() as cur:
            cur.execute("SET lock_timeout = '10s'")     # an open transaction: an error
            cur.execute("TRUNCATE portone_payments, portone_events, portone_orders, shop_orders")
            buf = io.StringIO("".join("order_%d\t10000\tKRW\n" % i for i in range(1, n + 1)))
            cur.copy_expert("COPY shop_orders (order_no, total_price, currency) FROM STDIN", buf)
    finally:
        con.close()
    settle_pg(db)


def settle_pg(db):
    """After a bulk load: VACUUM ANALYZE of the shop's orders only, then a
    CHECKPOINT, so that every pass starts from the same settled cluster.

    Only shop_orders: a database-wide ANALYZE also records the module's
    empty tables (portone_payments, portone_events, portone_orders) as
    analyzed with 0 rows. The prepared statements of mod_dbd's connections
    (and of the Node counterpart's pg pool) then switch, at their sixth
    execution, to a generic plan made for a near-empty table: a sequential
    scan of portone_orders to lock the order, kept by the connection until
    an ANALYZE of that table invalidates it. While the table grows by
    thousands of rows a second, that scan costs milliseconds per
    verification within seconds, and autovacuum's autoanalyze rescues the
    plans at an unpredictable moment (its naptime is 60 s): make bench's
    PostgreSQL rows were 2-4x slower and swung from round to round
    (docs/performance.md, "make bench, issue 18"). A table never analyzed is
    planned as at least 10 pages: index scans, as in a shop whose tables have
    their statistics."""
    con = db._connect()
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("VACUUM ANALYZE shop_orders")
            cur.execute("CHECKPOINT")
    finally:
        con.close()


def check_verify(httpd):
    body = '{"imp_uid":"imp_b1","merchant_uid":"order_1"}'
    out = subprocess.run(["curl", "-s", "-m", "15", "-X", "POST", httpd.url + "/payments/complete",
                          "-H", "Content-Type: application/json", "-d", body],
                         capture_output=True, text=True, timeout=30).stdout
    if '"status":"success"' not in out.replace(" ", ""):
        raise RuntimeError("the check POST did not succeed: %r\n%s" % (out, httpd.read_error_log()[-3000:]))
    log("curl check on %s: %s" % (httpd.url, out.strip()))


def check_verify_v2(httpd):
    """The V2 pass's check: {"paymentId":"order_1"} on V2_PATH succeeds."""
    out = subprocess.run(["curl", "-s", "-m", "15", "-X", "POST", httpd.url + V2_PATH,
                          "-H", "Content-Type: application/json", "-d", '{"paymentId":"order_1"}'],
                         capture_output=True, text=True, timeout=30).stdout
    if '"status":"success"' not in out.replace(" ", ""):
        raise RuntimeError("the V2 check POST did not succeed: %r\n%s"
                           % (out, httpd.read_error_log()[-3000:]))
    log("curl V2 check on %s: %s" % (httpd.url, out.strip()))


def make_static_dir(tmp):
    """<tmp>/static with static.json (STATIC_BODY), readable by httpd."""
    static_dir = os.path.join(tmp, "static")
    os.makedirs(static_dir)
    os.chmod(static_dir, 0o755)
    with open(os.path.join(static_dir, "static.json"), "w") as f:
        f.write(STATIC_BODY + "\n")
    os.chmod(os.path.join(static_dir, "static.json"), 0o644)
    return static_dir


# ---------------------------------------------------------------- Node.js

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def node_ready():
    """Whether bench/node can run: node and its modules (npm ci there)."""
    return (shutil.which("node") is not None
            and os.path.isdir(os.path.join(NODE_DIR, "node_modules", "better-sqlite3")))


class NodeServer:
    """bench/node/server.js: the tuned Node.js counterpart (Fastify, a
    cluster of 2, token cache, undici keep-alive pool, better-sqlite3 or pg)
    on its own copy of the shop. db is a SqliteDB or a PgDB."""

    def __init__(self, directory, db, api_url, workers=2, sqlite_sync="FULL"):
        from harness import free_port
        self.dir, self.db, self.api_url, self.workers = directory, db, api_url, workers
        self.sqlite_sync = sqlite_sync      # FULL: as durable as the module's commits
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.access_log = os.devnull     # no access log: wrk counts its answers

    def start(self):
        if getattr(self.db, "driver", "") == "sqlite3":
            dburl = "sqlite:" + self.db.path
        else:
            m = dict(kv.split("=", 1) for kv in self.db.cluster.dsn.split())
            dburl = "postgres://%s@%s:%s/%s" % (m["user"], m["host"], m["port"], m["dbname"])
        env = dict(os.environ, PORT=str(self.port), PORTONE_URL=self.api_url, DB=dburl,
                   WORKERS=str(self.workers), PG_POOL=str(NODE_PG_POOL), NODE_ENV="production",
                   SQLITE_SYNC=self.sqlite_sync)
        self.proc = subprocess.Popen(["node", os.path.join(NODE_DIR, "server.js")], cwd=NODE_DIR,
                                     env=env, start_new_session=True,
                                     stdout=open(os.path.join(self.dir, "node.out"), "w"),
                                     stderr=subprocess.STDOUT)
        if not wait_port(self.port, 30):
            self.stop()
            raise RuntimeError("the Node server does not answer: " + open(
                os.path.join(self.dir, "node.out")).read()[-2000:])
        return self

    def child_pids(self):
        pids = [self.proc.pid] if self.proc else []
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                pids += [int(p) for p in f.read().split()]
        except (OSError, AttributeError):
            pass
        return pids

    cpu_ticks = BenchHttpd.cpu_ticks
    rss_kib = BenchHttpd.rss_kib

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # the primary and its workers: the session this class started
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
