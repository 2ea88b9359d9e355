"""A throwaway MariaDB server on 127.0.0.1 for tests: mariadb-install-db and
mariadbd as the mysql user, no authentication (--skip-grant-tables), a free
port. Stopped by its PID when the tests end."""
import os
import shutil
import signal
import subprocess

from harness import ROOT, ServerDB, free_port, wait_port

ORDER_SCHEMA_MYSQL = """
CREATE TABLE IF NOT EXISTS shop_orders (
    order_no     VARCHAR(40) NOT NULL PRIMARY KEY,
    total_price  DECIMAL(14,2) NOT NULL,
    currency     VARCHAR(8),
    state        VARCHAR(20) NOT NULL DEFAULT 'new',
    paid_imp_uid VARCHAR(32),
    updates      INTEGER NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""


def available():
    return bool(shutil.which("mariadbd") or os.path.exists("/usr/sbin/mariadbd")) \
        and bool(shutil.which("mariadb-install-db"))


class MyCluster:
    def __init__(self, directory):
        self.dir = os.path.join(directory, "mydata")
        self.sock = os.path.join(directory, "my.sock")
        self.port = free_port()
        self.log = os.path.join(directory, "my.err")
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "mysql", "mysql")
            shutil.chown(os.path.dirname(self.dir), "mysql", "mysql")
        subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + self.dir,
                        "--user=mysql", "--skip-test-db", "--auth-root-authentication-method=normal"],
                       check=True, capture_output=True)
        self.start_server()
        import pymysql
        con = pymysql.connect(host="127.0.0.1", port=self.port, user="root")
        with con.cursor() as cur:
            cur.execute("CREATE DATABASE shop CHARACTER SET utf8mb4")
        con.close()
        return self

    def start_server(self):
        # counts the server's starts (see pgcluster.PgCluster.start_server)
        self.generation = getattr(self, "generation", 0) + 1
        self.proc = subprocess.Popen(
            ["/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + self.dir, "--socket=" + self.sock,
             "--port=%d" % self.port, "--bind-address=127.0.0.1", "--user=mysql",
             "--skip-grant-tables", "--log-error=" + self.log, "--max-connections=400",
             "--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=64M",
             "--skip-name-resolve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port, 60):
            raise RuntimeError("mariadbd did not start:\n" + open(self.log).read()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def dsn(self):
        return "host=127.0.0.1 port=%d user=root dbname=shop" % self.port


class MyDB(ServerDB):
    """A ShopDB on a MyCluster."""
    driver = "mysql"

    def __init__(self, cluster):
        import pymysql
        self.cluster = cluster
        self._pymysql = pymysql
        with open(os.path.join(ROOT, "conf", "schema-mysql.sql")) as f:
            text = f.read()
        for stmt in text.split(";"):
            body = "\n".join(l for l in stmt.splitlines() if not l.strip().startswith("--"))
            if body.strip():
                self.execute(body)
        self.execute(ORDER_SCHEMA_MYSQL)

    def _connect(self):
        return self._pymysql.connect(host="127.0.0.1", port=self.cluster.port, user="root",
                                     database="shop", autocommit=True, charset="utf8mb4")
