"""Starts the real parts for tests and the demo: Debian's apache2 with the
built module, a SQLite (or PostgreSQL) database, and the PortOne emulator.
Everything listens on 127.0.0.1 and is stopped by its PID."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = "/usr/lib/apache2/modules"
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
RUN_USER = "www-data"

ORDER_SCHEMA_SQLITE = """
CREATE TABLE IF NOT EXISTS shop_orders (
    order_no     TEXT PRIMARY KEY,
    total_price  TEXT NOT NULL,
    currency     TEXT,
    state        TEXT NOT NULL DEFAULT 'new',
    paid_imp_uid TEXT,
    updates      INTEGER NOT NULL DEFAULT 0
);
"""
ORDER_QUERY = "SELECT total_price, currency FROM shop_orders WHERE order_no = :merchant_uid"
ORDER_UPDATE = ("UPDATE shop_orders SET state = :outcome, paid_imp_uid = :imp_uid, "
                "updates = updates + 1 WHERE order_no = :merchant_uid")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _chown_tree(path):
    if os.geteuid() != 0:
        return
    for dirpath, dirnames, filenames in os.walk(path):
        shutil.chown(dirpath, RUN_USER, RUN_USER)
        for f in filenames:
            shutil.chown(os.path.join(dirpath, f), RUN_USER, RUN_USER)


class ShopDB:
    """What the tests ask of a database, over DB-API connections: SQL with
    '?' placeholders, rows as dicts, the shop's orders."""
    driver = None
    qmark = False           # the DB-API module takes '?' itself

    def _connect(self):
        raise NotImplementedError

    def _run(self, sql, args, as_dicts):
        con = self._connect()
        try:
            cur = con.cursor()
            if args:
                cur.execute(sql if self.qmark else sql.replace("?", "%s"), tuple(args))
            else:
                cur.execute(sql)
            rows = cur.fetchall() if cur.description else []
            if as_dicts and cur.description:
                cols = [c[0] for c in cur.description]
                rows = [dict(zip(cols, r)) for r in rows]
            con.commit()
            return rows
        finally:
            con.close()

    def execute(self, sql, args=()):
        return self._run(sql, args, False)

    def query(self, sql, args=()):
        return self._run(sql, args, True)

    def add_order(self, order_no, total_price, currency="KRW"):
        self.execute("INSERT INTO shop_orders (order_no, total_price, currency) VALUES (?, ?, ?)",
                     (order_no, str(total_price), currency))

    def reset(self):
        for table in ("portone_payments", "portone_events", "portone_orders", "shop_orders"):
            self.execute("DELETE FROM " + table)


class ServerDB(ShopDB):
    """A ShopDB on a database server of the tests' own (self.cluster)."""

    @property
    def params(self):
        return self.cluster.dsn


class SqliteDB(ShopDB):
    driver = "sqlite3"
    qmark = True

    def __init__(self, directory):
        self.dir = os.path.join(directory, "db")
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "shop.db")
        con = sqlite3.connect(self.path)
        with open(os.path.join(ROOT, "conf", "schema-sqlite3.sql")) as f:
            con.executescript(f.read())
        con.executescript(ORDER_SCHEMA_SQLITE)
        con.commit()
        con.close()
        _chown_tree(self.dir)

    @property
    def params(self):
        return self.path

    def _connect(self):
        return sqlite3.connect(self.path, timeout=30)


class Httpd:
    """Debian's apache2 from a generated config; event MPM by default.
    Every instance is listed in Httpd.instances (the tests' conftest checks
    their error logs after each test and drops the stopped ones); a restart
    keeps the earlier run's log and output in earlier_log."""
    instances = []

    def __init__(self, directory, db, emulator_url, port=None, extra="",
                 directives=None, servers=2, threads=8, mpm="event",
                 module=None, env=None):
        Httpd.instances.append(self)
        self.earlier_log = ""
        self.expected_log = []      # patterns of lines it logs on purpose (conftest)
        self.dir = directory
        self.db = db
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.conf_path = os.path.join(directory, "httpd.conf")
        self.error_log = os.path.join(directory, "error.log")
        self.access_log = os.path.join(directory, "access.log")
        self.pid_file = os.path.join(directory, "httpd.pid")
        # PV_MODULE and PV_PRELOAD: run the suite against another build of
        # the module, e.g. the sanitizer build (`make asan`)
        self.module = module or os.environ.get("PV_MODULE") or \
            os.path.join(ROOT, ".libs", "mod_portone_verify.so")
        d = {
            "PortOneAPIKey": "imp_apikey",
            "PortOneAPISecret": "ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9OqDMnxyeB9wqOsuO9W3Mx9YSJ4dTqJ3f",
            "PortOneAPIURL": emulator_url,
            "PortOneTimeout": "3",
            "PortOneConnectTimeout": "2",
            "PortOneOrderQuery": ORDER_QUERY,
            "PortOneOrderUpdateQuery": ORDER_UPDATE,
        }
        if directives:
            d.update(directives)
        self.directives = {k: v for k, v in d.items() if v is not None}
        self.servers, self.threads, self.mpm, self.extra = servers, threads, mpm, extra
        self.env = env or {}
        self.proc = None

    def config_text(self):
        lines = []
        for k, v in self.directives.items():
            if isinstance(v, str) and (" " in v or v == ""):
                v = '"%s"' % v.replace('\\', '\\\\').replace('"', '\\"')
            lines.append("%s %s" % (k, v))
        pv = "\n".join(lines)
        if self.mpm == "prefork":
            mpm = ("LoadModule mpm_prefork_module %s/mod_mpm_prefork.so\n"
                   "StartServers %d\nMinSpareServers 1\nMaxSpareServers %d\nMaxRequestWorkers %d\n"
                   % (MODULES, self.servers, self.servers, self.servers * 2))
        else:
            mpm = ("LoadModule mpm_event_module {d}/mod_mpm_event.so\n"
                   "StartServers {s}\nServerLimit {s}\nMinSpareThreads {t}\nMaxSpareThreads {m}\n"
                   "ThreadsPerChild {t}\nMaxRequestWorkers {m}\nThreadLimit {t}\n"
                   .format(d=MODULES, s=self.servers, t=self.threads, m=self.servers * self.threads))
        user = ("User %s\nGroup %s\n" % (RUN_USER, RUN_USER)) if os.geteuid() == 0 else ""
        return f"""
ServerRoot {self.dir}
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile {self.pid_file}
DefaultRuntimeDir {self.dir}
ErrorLog {self.error_log}
LogLevel warn portone_verify:debug
LogFormat "%h %P \\"%r\\" %>s %{{portone-outcome}}n %{{portone-imp-uid}}n" pv
CustomLog {self.access_log} pv
{user}{mpm}
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule authz_host_module {MODULES}/mod_authz_host.so
LoadModule dbd_module {MODULES}/mod_dbd.so
LoadModule status_module {MODULES}/mod_status.so
LoadModule portone_verify_module {self.module}
KeepAlive On
Timeout 10
GracefulShutdownTimeout 5
DBDriver {self.db.driver}
DBDParams "{self.db.params}"
DBDMin 0
DBDKeep 4
DBDMax {self.threads}
{pv}
<Location "/payments/complete">
    SetHandler portone-verify
</Location>
<Location "/portone/webhook">
    SetHandler portone-webhook
</Location>
<Location "/server-status">
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
{self.extra}
"""

    def write_config(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())

    def command(self, one_process=False):
        return [APACHE, "-f", self.conf_path, "-X" if one_process else "-DFOREGROUND"]

    def environment(self):
        env = dict(os.environ)
        env.update(self.env)
        if os.environ.get("PV_PRELOAD"):
            env["LD_PRELOAD"] = os.environ["PV_PRELOAD"]
            # httpd's own allocations live until exit by design: report
            # errors, not leaks (make leakcheck looks at leaks with valgrind)
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=0")
        return env

    def start(self, expect_fail=False, timeout=15.0, wrapper=(), one_process=False):
        self.write_config()
        self.earlier_log = self.log_text()
        for p in (self.error_log, self.access_log):
            if os.path.exists(p):
                os.unlink(p)
        # httpd's own output (before its error log takes over) goes to a file:
        # a pipe nobody reads could fill up and block it
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        with open(self.stdout_path, "wb") as out:
            # prefork's parent ends by signalling its whole process group
            # (SIGTERM to getpgrp()), which in the foreground is ours: give
            # it a group of its own
            self.proc = subprocess.Popen(list(wrapper) + self.command(one_process),
                                         stdout=out, stderr=subprocess.STDOUT,
                                         env=self.environment(),
                                         start_new_session=self.mpm == "prefork")
        if expect_fail:
            self.expected_log.append(r"AH00020: Configuration Failed, exiting")
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stop()
                raise AssertionError("httpd started although it should not have")
            return self.proc.returncode, self.read_stdout() + self.read_error_log()
        if not wait_port(self.port, timeout):
            self.stop()
            raise RuntimeError("httpd did not start: %s\n%s" % (self.read_stdout(),
                                                               self.read_error_log()))
        return self

    def configtest(self, timeout=60.0):
        """`apachectl configtest` of this httpd's configuration (httpd -t):
        (exit code, what it printed)."""
        self.write_config()
        r = subprocess.run([APACHE, "-t", "-f", self.conf_path], capture_output=True,
                           text=True, env=self.environment(), timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def log_text(self):
        """Everything this httpd wrote, over all its runs: the earlier runs',
        then this run's output (what it printed before opening its error log)
        and error log. Grows at its end (the output stops growing once the
        error log is open)."""
        return self.earlier_log + self.read_stdout() + self.read_error_log()

    def read_stdout(self):
        try:
            with open(self.stdout_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except (AttributeError, FileNotFoundError):
            return ""

    def stop(self):
        """Graceful stop (SIGWINCH), as `apachectl graceful-stop` does; SIGTERM
        after GracefulShutdownTimeout. An immediate SIGTERM right after a
        request sometimes crashes an event MPM child in httpd's own shutdown
        code (apr_os_sock_get in the child's main thread while the listener
        destroys its pools: no module frame), which would hide real crashes."""
        if self.proc and self.proc.poll() is None:
            for sig, wait in ((signal.SIGWINCH, 10), (signal.SIGTERM, 15)):
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    pass
            else:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def child_pids(self):
        if not self.proc:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def read_error_log(self):
        try:
            with open(self.error_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def read_access_log(self):
        try:
            with open(self.access_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def post(self, path, body, content_type="application/json", headers=None, timeout=30):
        """POST and return (status, headers, parsed JSON or raw text)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        h = {} if content_type is None else {"Content-Type": content_type}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body, headers=h, method="POST")
        return _do(req, timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.url + path, data=body, headers=headers or {}, method=method)
        return _do(req, timeout)

    def verify(self, imp_uid, merchant_uid, **kw):
        return self.post("/payments/complete", {"imp_uid": imp_uid, "merchant_uid": merchant_uid}, **kw)

    def webhook(self, imp_uid, merchant_uid, status="paid", form=False, **kw):
        if form:
            from urllib.parse import urlencode
            return self.post("/portone/webhook",
                             urlencode({"imp_uid": imp_uid, "merchant_uid": merchant_uid, "status": status}),
                             content_type="application/x-www-form-urlencoded", **kw)
        return self.post("/portone/webhook",
                         {"imp_uid": imp_uid, "merchant_uid": merchant_uid, "status": status}, **kw)


def _do(req, timeout):
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, headers, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, dict(e.headers), e.read()
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = text
    return status, headers, body


def make_tempdir(prefix="pv-"):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d
