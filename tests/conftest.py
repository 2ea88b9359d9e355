"""Fixtures: the PortOne emulator, a database per driver (SQLite,
PostgreSQL and MariaDB), and Debian's apache2 with the built module. Every
test that uses `pv` runs once per database and starts from empty tables and
a fresh emulator.

After every test, the part of each httpd's error log (and start-up output)
written during the test is checked, for the session's server (`pv`) as for
the test's own (`make_httpd`, or a harness.Httpd made directly), also when
the test stopped or restarted it. The test errors in its teardown on

- the API secret (never allowed);
- a crash: a child's exit signal (AH00052), a segmentation fault, a
  sanitizer report, glibc's heap checks;
- a line of this module at warn or above ([portone_verify:warn], :error],
  :crit], :alert], :emerg]);
- a line of any other module (core, mod_dbd, the MPM...) at error or above;

unless the test declared the line expected, with a regular expression
searched in the line (in the whole entry for a message of several lines):

    pv.expect_log(r"PV0101: .*upstream_timeout")      # with pv
    def test_x(make_httpd, expect_log):             # any test
        expect_log(r"PV0003: cannot reach the database")
    make_httpd(..., expect_log=r"PV0004: ")           # that httpd only
    (a start with expect_fail=True expects httpd's AH00020 itself)
    pytestmark = pytest.mark.expect_log(r"...")     # every test of a file
    @pytest.mark.expect_log(r"...", r"...")         # one test (or class)

A declaration says the line may appear, not that it must: a pattern that
never matched does not fail the test (assert on pv.log() for that)."""
import os
import re
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mycluster  # noqa: E402
import pgcluster  # noqa: E402
from harness import Httpd, SqliteDB, make_tempdir  # noqa: E402
from portone_emulator import TEST_IMP_SECRET, TEST_V2_SECRET, TEST_WEBHOOK_SECRET, Emulator  # noqa: E402

DB_KINDS = [k for k in os.environ.get("PV_DBS", "sqlite3,pgsql,mysql").split(",") if k]

# What must never appear in an error log (check_log, for a test's own use;
# the fixtures check with SECRET and CRASH below).
BAD_LOG = re.compile(r"exit signal|Segmentation fault|AddressSanitizer|LeakSanitizer|"
                     r"runtime error:|double free|corrupted|" + re.escape(TEST_IMP_SECRET))
# every secret the tests give httpd: V1's, V2's and the webhook secret
SECRET = re.compile("|".join(re.escape(x) for x in (TEST_IMP_SECRET, TEST_V2_SECRET,
                                                     TEST_WEBHOOK_SECRET)))
# A child crashed (AH00052 is "child pid N exit signal ..."), or a
# sanitizer or glibc's heap checks reported: fails unless declared.
CRASH = re.compile(r"exit signal|AH00052|Segmentation fault|possible coredump|"
                   r"AddressSanitizer|LeakSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer|"
                   r"runtime error:|double free|corrupted|free\(\): invalid|malloc\(\):")
# "[date] [module:level] [pid ...] message": the levels that fail a test
LOG_ENTRY = re.compile(r"^\[[^\]]*\] \[([\w.-]*):(\w+)\]")
MODULE_LEVELS = {"warn", "error", "crit", "alert", "emerg"}     # portone_verify
OTHER_LEVELS = {"error", "crit", "alert", "emerg"}              # core, dbd, mpm...
# Expected in every test: the event MPM's notes that all its workers are (or
# nearly are) busy. The harness gives httpd few workers on purpose
# (ServerLimit = StartServers, MinSpareThreads = ThreadsPerChild), so any
# request in flight when the MPM looks may bring them; they are about the
# harness's configuration, not about the module.
ALWAYS_EXPECTED = [re.compile(r"\[mpm_event:error\] .*(AH10159: server is within MinSpareThreads"
                              r"|AH00484: server reached MaxRequestWorkers)")]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect_log(*patterns): error-log lines (regular expressions) the "
        "test provokes on purpose; see tests/conftest.py")


def log_entries(text):
    """(module, level, lines) of each entry: its "[date] [module:level]" line
    and the lines after it up to the next one (module and level are None for
    lines before the first)."""
    entries = []
    for line in text.splitlines():
        m = LOG_ENTRY.match(line)
        if m or not entries:
            entries.append((m and m.group(1), m and m.group(2), [line]))
        else:
            entries[-1][2].append(line)
    return entries


def unexpected_log_lines(text, expected):
    """The entries and lines of `text` (a part of an error log, or httpd's
    output) that fail a test (see the module's docstring); `expected`:
    compiled patterns."""
    def allowed(s):
        return any(p.search(s) for p in ALWAYS_EXPECTED + list(expected))

    bad = []
    for module, level, lines in log_entries(text):
        bad.extend(l + "    <- the API secret" for l in lines if SECRET.search(l))
        whole = "\n".join(lines)
        if (level in (MODULE_LEVELS if module == "portone_verify" else OTHER_LEVELS)
                and not allowed(whole)):
            bad.append(whole)
        else:       # a crash report may follow a line that was expected
            bad.extend(l for l in lines if CRASH.search(l) and not allowed(l))
    return bad


def running(h):
    return h.proc is not None and h.proc.poll() is None


class LogWatch:
    """One test's view of the httpd error logs: what it declared expected."""

    def __init__(self, patterns=()):
        self.expected = [re.compile(p) for p in patterns]

    def expect(self, *patterns):
        """Declares error-log lines the test provokes on purpose."""
        self.expected.extend(re.compile(p) for p in patterns)

    def check(self, httpds):
        """The part of each httpd's log and output since it was last checked."""
        problems = []
        for h in httpds:
            text = h.log_text()
            start = getattr(h, "log_checked", 0)
            end = text.rfind("\n") + 1 if running(h) else len(text)    # whole lines
            h.log_checked = max(start, end)
            expected = self.expected + [re.compile(p) for p in h.expected_log]
            bad = unexpected_log_lines(text[start:end], expected)
            if bad:
                more = ["... and %d more" % (len(bad) - 30)] if len(bad) > 30 else []
                problems.append("httpd in %s:\n  %s" % (h.dir, "\n  ".join(bad[:30] + more)))
        assert not problems, (
            "unexpected lines in the error log (declare the ones the test provokes on "
            "purpose with pv.expect_log / expect_log / @pytest.mark.expect_log):\n"
            + "\n".join(problems))


@pytest.fixture(autouse=True)
def log_watch(request):
    """Checks, after the test, what every httpd logged during it."""
    watch = LogWatch(p for m in request.node.iter_markers("expect_log") for p in m.args)
    yield watch
    try:
        watch.check(list(Httpd.instances))
    finally:
        Httpd.instances[:] = [h for h in Httpd.instances if running(h)]


@pytest.fixture
def expect_log(log_watch):
    """expect_log(pattern, ...): error-log lines this test provokes on purpose."""
    return log_watch.expect


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
    LogWatch().check([h])   # what it logged after the last test, while stopping


def check_log(text):
    bad = BAD_LOG.search(text)
    assert not bad, "error log shows %r:\n%s" % (bad.group(0), text[-4000:])


@pytest.fixture
def pv(server, database, emulator, log_watch):
    """One test's world: .httpd, .db, .emu, all reset; .log() is what httpd
    logged during the test, .expect_log(pattern, ...) declares lines of it
    that the test provokes on purpose."""
    emulator.reset()
    database.reset()
    start = len(server.read_error_log())
    yield types.SimpleNamespace(httpd=server, db=database, emu=emulator,
                                log=lambda: server.read_error_log()[start:],
                                expect_log=log_watch.expect)
    assert server.proc and server.proc.poll() is None, "httpd died"


@pytest.fixture
def make_httpd(database, emulator, log_watch):
    """Starts an httpd of the test's own config; stopped after the test (and
    then its log checked by log_watch). expect_log: a pattern or a list of
    them, lines this httpd logs on purpose (see the module's docstring)."""
    started = []

    def make(directives=None, start=True, expect_fail=False, expect_log=(), **kw):
        h = Httpd(make_tempdir("pv-httpd-"), database, emulator.url,
                  directives=directives, **kw)
        h.expected_log += [expect_log] if isinstance(expect_log, str) else list(expect_log)
        started.append(h)
        if expect_fail:
            return h.start(expect_fail=True)
        return h.start() if start else h

    emulator.reset()
    database.reset()
    yield make
    for h in started:
        h.stop()        # log_watch checks their logs after this


# ---------------------------------------------------------------- V2

def v2_directives(emulator_url, **more):
    """The directives that enable PortOne V2 beside the harness's V1 ones
    (contract section 4); `more` adds or overrides some (None drops one)."""
    from portone_emulator import TEST_V2_STORE_ID
    d = {"PortOneV2Secret": TEST_V2_SECRET, "PortOneV2URL": emulator_url,
         "PortOneStoreId": TEST_V2_STORE_ID, "PortOneWebhookSecret": TEST_WEBHOOK_SECRET}
    d.update(more)
    return d


@pytest.fixture(scope="session")
def v2_server(database, emulator):
    """An httpd per database with V1 and V2 both configured (one server, one
    database, one <Location> per handler), kept for the session as `server`."""
    h = Httpd(make_tempdir("pv-httpd-v2-"), database, emulator.url,
              directives=v2_directives(emulator.url))
    h.start()
    yield h
    h.stop()
    LogWatch().check([h])


@pytest.fixture
def pv2(v2_server, database, emulator, log_watch):
    """As `pv`, on the V1+V2 server: .httpd, .db, .emu reset; .log(), .expect_log()."""
    emulator.reset()
    database.reset()
    start = len(v2_server.read_error_log())
    yield types.SimpleNamespace(httpd=v2_server, db=database, emu=emulator,
                                log=lambda: v2_server.read_error_log()[start:],
                                expect_log=log_watch.expect)
    assert v2_server.proc and v2_server.proc.poll() is None, "httpd died"
