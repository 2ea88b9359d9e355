"""Fixtures: the PortOne emulator, a database per driver (SQLite and
PostgreSQL), and Debian's apache2 with the built module. Every test that
uses `pv` runs once per database, starts from empty tables and a fresh
emulator, and fails if httpd's error log shows a crash, a sanitizer report
or the API secret."""
import os
import re
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mycluster  # noqa: E402
import pgcluster  # noqa: E402
from harness import Httpd, SqliteDB, make_tempdir  # noqa: E402
from portone_emulator import TEST_IMP_SECRET, Emulator  # noqa: E402

DB_KINDS = [k for k in os.environ.get("PV_DBS", "sqlite3,pgsql,mysql").split(",") if k]

# What must never appear in an error log.
BAD_LOG = re.compile(r"exit signal|Segmentation fault|AddressSanitizer|LeakSanitizer|"
                     r"runtime error:|double free|corrupted|" + re.escape(TEST_IMP_SECRET))


@pytest.fixture(scope="session")
def emulator():
    emu = Emulator().start()
    yield emu
    emu.stop()


def server_cluster(module, cls, name, prefix):
    """A database server for the whole session, stopped at its end."""
    if not module.available():
        pytest.fail("%s is not installed (run tests/install-deps.sh)" % name)
    cluster = cls(make_tempdir(prefix)).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def pg_cluster():
    yield from server_cluster(pgcluster, pgcluster.PgCluster, "PostgreSQL", "pv-pg-")


@pytest.fixture(scope="session")
def my_cluster():
    yield from server_cluster(mycluster, mycluster.MyCluster, "MariaDB", "pv-my-")


def make_db(kind, request):
    if kind == "sqlite3":
        return SqliteDB(make_tempdir("pv-sqlite-"))
    if kind == "mysql":
        return mycluster.MyDB(request.getfixturevalue("my_cluster"))
    return pgcluster.PgDB(request.getfixturevalue("pg_cluster"))


@pytest.fixture(scope="session", params=DB_KINDS)
def database(request):
    return make_db(request.param, request)


@pytest.fixture(scope="session")
def server(database, emulator):
    h = Httpd(make_tempdir("pv-httpd-"), database, emulator.url)
    h.start()
    yield h
    h.stop()


def check_log(text):
    bad = BAD_LOG.search(text)
    assert not bad, "error log shows %r:\n%s" % (bad.group(0), text[-4000:])


@pytest.fixture
def pv(server, database, emulator):
    """One test's world: .httpd, .db, .emu, all reset."""
    emulator.reset()
    database.reset()
    start = len(server.read_error_log())
    yield types.SimpleNamespace(httpd=server, db=database, emu=emulator,
                                log=lambda: server.read_error_log()[start:])
    check_log(server.read_error_log()[start:] + server.read_stdout())
    assert server.proc and server.proc.poll() is None, "httpd died"


@pytest.fixture
def make_httpd(database, emulator):
    """Starts an httpd of the test's own config; stopped after the test."""
    started = []

    def make(directives=None, start=True, expect_fail=False, **kw):
        h = Httpd(make_tempdir("pv-httpd-"), database, emulator.url,
                  directives=directives, **kw)
        started.append(h)
        if expect_fail:
            return h.start(expect_fail=True)
        return h.start() if start else h

    emulator.reset()
    database.reset()
    yield make
    for h in started:
        h.stop()
        check_log(h.read_error_log() + h.read_stdout())
