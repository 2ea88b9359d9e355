"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks:
initdb and pg_ctl as the postgres user, trust authentication, a free port.
Stopped by pg_ctl (its PID file) when the tests end."""
import glob
import os
import shutil
import subprocess

from harness import ROOT, ServerDB, free_port

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1] if glob.glob("/usr/lib/postgresql/*/bin") else None
PG_USER = "postgres"

ORDER_SCHEMA_PG = """
CREATE TABLE IF NOT EXISTS shop_orders (
    order_no     VARCHAR(40) PRIMARY KEY,
    total_price  NUMERIC(14,2) NOT NULL,
    currency     VARCHAR(8),
    state        VARCHAR(20) NOT NULL DEFAULT 'new',
    paid_imp_uid VARCHAR(32),
    updates      INTEGER NOT NULL DEFAULT 0
);
"""


def available():
    return PG_BIN is not None and os.path.exists(os.path.join(PG_BIN, "initdb"))


def _as_pg(args, **kw):
    if os.geteuid() == 0:
        args = ["runuser", "-u", PG_USER, "--"] + args
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class PgCluster:
    def __init__(self, directory):
        self.dir = os.path.join(directory, "pgdata")
        self.sock = os.path.join(directory, "pgsock")
        self.port = free_port()
        self.log = os.path.join(directory, "pg.log")

    def start(self):
        for d in (self.dir, self.sock):
            os.makedirs(d, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(d, PG_USER, PG_USER)
        if os.geteuid() == 0:
            shutil.chown(os.path.dirname(self.log), PG_USER, PG_USER)
        _as_pg([os.path.join(PG_BIN, "initdb"), "-D", self.dir, "-A", "trust", "-U", PG_USER,
                "-E", "UTF8", "--no-locale"])
        self.pg_ctl_start()
        _as_pg([os.path.join(PG_BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                "-U", PG_USER, "shop"])
        return self

    def pg_ctl_start(self):
        opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" % (self.port, self.sock))
        _as_pg([os.path.join(PG_BIN, "pg_ctl"), "-D", self.dir, "-l", self.log, "-o", opts, "-w",
                "-t", "60", "start"])

    def start_server(self):
        # counts the server's starts: httpds kept for the session restart
        # when it changed (their pooled connections died with the server)
        self.generation = getattr(self, "generation", 0) + 1
        self.pg_ctl_start()

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.dir, "postmaster.pid")):
            _as_pg([os.path.join(PG_BIN, "pg_ctl"), "-D", self.dir, "-m", mode, "-w", "stop"])

    def restart(self):
        self.stop()
        self.pg_ctl_start()

    @property
    def dsn(self):
        return "host=127.0.0.1 port=%d dbname=shop user=%s" % (self.port, PG_USER)


class PgDB(ServerDB):
    """A ShopDB on a PgCluster."""
    driver = "pgsql"

    def __init__(self, cluster):
        import psycopg2
        self.cluster = cluster
        self._psycopg2 = psycopg2
        with open(os.path.join(ROOT, "conf", "schema-pgsql.sql")) as f:
            self.execute(f.read())
        self.execute(ORDER_SCHEMA_PG)

    def _connect(self):
        return self._psycopg2.connect(self.cluster.dsn)

    def reset(self):
        self.execute("TRUNCATE portone_payments, portone_events, portone_orders, shop_orders")
