"""Start-up checks (contract section 4): a configuration that cannot work stops
httpd with a message naming the directive; one that can work starts, even
when the database is down."""
import json
import re
import urllib.request

import pytest

from harness import MODULES, _do, free_port
from portone_emulator import TEST_IMP_SECRET


# ---------------------------------------------------------------- helpers

def assert_refused(make_httpd, directives, *names):
    """httpd does not start, and its output names every one of |names|."""
    # the module's refusal (a bad value is httpd's syntax error instead)
    expect = r"PV00(04|06|13): %s (is required|\(.*\): (unknown parameter|the SQL does not prepare))"
    rc, out = make_httpd(directives=directives, expect_fail=True,
                         expect_log=expect % re.escape(names[0]))
    assert rc != 0, out
    for name in names:
        assert name in out, "%r not in start-up output:\n%s" % (name, out[-3000:])
    assert TEST_IMP_SECRET not in out
    return out


def verifies(httpd, database, emulator):
    database.add_order("order_start", 10000)
    emulator.add_payment(imp_uid="imp_start", merchant_uid="order_start", amount=10000,
                         status="paid")
    status, _, body = httpd.verify("imp_start", "order_start")
    assert status == 200 and body["status"] == "success", (status, body)


# ---------------------------------------------------------------- required directives

@pytest.mark.parametrize("directive", ["PortOneAPIKey", "PortOneAPISecret", "PortOneOrderQuery"])
def test_missing_required_directive(make_httpd, directive):
    assert_refused(make_httpd, {directive: None}, directive)


# ---------------------------------------------------------------- bad values

@pytest.mark.parametrize("directive, value", [
    ("PortOneTimeout", "0"),
    ("PortOneTimeout", "abc"),
    ("PortOneTimeout", "-5"),
    ("PortOneConnectTimeout", "0"),
    ("PortOneAPIURL", "ftp://x"),
    ("PortOneAPIURL", "api.iamport.kr"),
], ids=["timeout_0", "timeout_abc", "timeout_negative", "connect_timeout_0", "url_ftp",
        "url_without_scheme"])
def test_bad_directive_value(make_httpd, directive, value):
    assert_refused(make_httpd, {directive: value}, directive)


def test_unknown_named_parameter(make_httpd):
    sql = "SELECT total_price, currency FROM shop_orders WHERE order_no = :foo"
    assert_refused(make_httpd, {"PortOneOrderQuery": sql}, "PortOneOrderQuery", ":foo")


def test_unknown_named_parameter_in_update_query(make_httpd):
    sql = "UPDATE shop_orders SET state = :state WHERE order_no = :merchant_uid"
    assert_refused(make_httpd, {"PortOneOrderUpdateQuery": sql},
                   "PortOneOrderUpdateQuery", ":state")


@pytest.mark.parametrize("directive, sql", [
    ("PortOneOrderQuery",
     "SELECT total_price, currency FROM no_such_orders WHERE order_no = :merchant_uid"),
    ("PortOneOrderQuery", "SELEKT total_price FROM shop_orders WHERE order_no = :merchant_uid"),
    ("PortOneOrderUpdateQuery",
     "UPDATE no_such_orders SET state = :outcome WHERE order_no = :merchant_uid"),
], ids=["order_query_missing_table", "order_query_syntax", "update_query_missing_table"])
def test_sql_that_does_not_prepare(make_httpd, directive, sql):
    assert_refused(make_httpd, {directive: sql}, directive)


# ---------------------------------------------------------------- apachectl configtest

def configtest(make_httpd, directives=None):
    h = make_httpd(directives=directives, start=False)
    return h.configtest()


@pytest.mark.parametrize("directive, sql", [
    ("PortOneOrderQuery",
     "SELECT total_price, currency FROM no_such_orders WHERE order_no = :merchant_uid"),
    ("PortOneOrderUpdateQuery",
     "UPDATE shop_orders SET no_such_column = :outcome WHERE order_no = :merchant_uid"),
    ("PortOneReconcileQuery", "SELECT order_no FROM no_such_orders"),
], ids=["order_query", "update_query", "reconcile_query"])
def test_configtest_fails_on_sql_that_does_not_prepare(make_httpd, database, directive, sql):
    """configtest reaches the database: SQL that would stop httpd at the
    reload fails the test first, naming the directive, on every back-end."""
    rc, out = configtest(make_httpd, {directive: sql})
    assert rc != 0, out
    assert re.search(r"PV0004: %s \(.*\): the SQL does not prepare on %s"
                     % (re.escape(directive), database.driver), out), out
    assert "Syntax OK" not in out
    assert TEST_IMP_SECRET not in out


def test_configtest_fails_on_the_modules_tables_missing(make_httpd, database):
    """A database without the module's tables (the schema not loaded) fails
    configtest, saying which schema to load."""
    database.execute("ALTER TABLE portone_events RENAME TO portone_events_away")
    try:
        rc, out = configtest(make_httpd)
    finally:
        database.execute("ALTER TABLE portone_events_away RENAME TO portone_events")
    assert rc != 0, out
    assert "PV0004: the module's tables (load conf/schema-<driver>.sql" in out, out


def test_configtest_checks_the_sql_of_each_location(make_httpd, database):
    """A second shop's <Location> with its own PortOneOrderQuery: configtest
    prepares it too, and names the section it was set in."""
    extra = """
<Location "/shop-b/payments/complete">
    SetHandler portone-verify
    PortOneOrderQuery "SELECT total_price FROM no_such_orders WHERE order_no = :merchant_uid"
</Location>
"""
    h = make_httpd(start=False, extra=extra)
    rc, out = h.configtest()
    assert rc != 0, out
    assert re.search(r"PV0004: PortOneOrderQuery \(.*httpd\.conf:\d+\): the SQL does not "
                     r"prepare on %s" % database.driver, out), out
    # the server's own statement prepared: only the section's is named
    assert len(re.findall(r"PV0004", out)) == 1, out


def warnings_and_errors(out):
    """The lines of httpd's output at warn level or above."""
    return [line for line in out.splitlines()
            if re.search(r"\[[\w_]*:(warn|error|crit|alert|emerg)\]", line)]


def test_configtest_of_a_good_configuration(make_httpd, database, emulator):
    """Syntax OK, exit 0, no warning or error, nothing written, and the same
    configuration then starts and verifies."""
    before = database.query("SELECT COUNT(*) AS n FROM portone_payments")
    rc, out = configtest(make_httpd)
    assert rc == 0 and out.rstrip().endswith("Syntax OK"), out
    assert warnings_and_errors(out) == [], out
    assert database.query("SELECT COUNT(*) AS n FROM portone_payments") == before
    verifies(make_httpd(), database, emulator)


UNREACHABLE = {
    "pgsql": 'DBDParams "host=127.0.0.1 port=1 dbname=shop user=postgres connect_timeout=2"',
    "mysql": 'DBDParams "host=127.0.0.1 port=1 user=root dbname=shop"',
}


def test_configtest_with_the_database_down(make_httpd, database):
    """As at a start: a database server that cannot be reached is a warning
    (the SQL is checked on first use), not a failure; a SQLite file that does
    not exist is an error (PV0002)."""
    h = make_httpd(start=False)
    if database.driver == "sqlite3":
        h.extra = "DBDParams /nonexistent-dir/shop.db"
        rc, out = h.configtest()
        assert rc != 0 and "PV0002: DBDParams /nonexistent-dir/shop.db" in out, out
        return
    h.extra = UNREACHABLE[database.driver]
    rc, out = h.configtest()
    assert rc == 0 and out.rstrip().endswith("Syntax OK"), out
    assert [line for line in warnings_and_errors(out) if "PV0003" not in line] == [], out
    assert "PV0003: cannot reach the database to check PortOne SQL" in out, out


# ---------------------------------------------------------------- what starts

def test_colons_in_strings_and_casts_are_not_parameters(make_httpd, database, emulator):
    if database.driver == "pgsql":
        sql = ("SELECT total_price::text, currency FROM shop_orders "
               "WHERE order_no = :merchant_uid AND state <> 'x:y'")
    else:
        sql = ("SELECT total_price, currency FROM shop_orders "
               "WHERE order_no = :merchant_uid AND state <> 'x:y'")
    httpd = make_httpd(directives={"PortOneOrderQuery": sql})
    verifies(httpd, database, emulator)


def test_percent_signs_in_the_sql_are_literal(make_httpd, database, emulator):
    # the % reaches the database as written (one character), on every driver
    sql = ("SELECT total_price, currency FROM shop_orders WHERE order_no = :merchant_uid "
           "AND length('%') = 1 AND order_no NOT LIKE '%-void'")
    update = ("UPDATE shop_orders SET state = :outcome, paid_imp_uid = :imp_uid, "
              "updates = updates + 1 WHERE order_no = :merchant_uid AND state NOT LIKE 'x%'")
    httpd = make_httpd(directives={"PortOneOrderQuery": sql,
                                   "PortOneOrderUpdateQuery": update})
    verifies(httpd, database, emulator)
    assert database.query("SELECT state, updates FROM shop_orders WHERE order_no = 'order_start'") \
        == [{"state": "paid", "updates": 1}]
    database.add_order("order_9-void", 10000)
    emulator.add_payment(imp_uid="imp_void", merchant_uid="order_9-void", amount=10000,
                         status="paid")
    status, _, body = httpd.verify("imp_void", "order_9-void")
    assert status == 404 and body["code"] == "order_not_found", (status, body)


def test_order_query_without_currency_column(make_httpd, database, emulator):
    sql = "SELECT total_price FROM shop_orders WHERE order_no = :merchant_uid"
    httpd = make_httpd(directives={"PortOneOrderQuery": sql})
    verifies(httpd, database, emulator)


def test_without_order_update_query(make_httpd, database, emulator):
    httpd = make_httpd(directives={"PortOneOrderUpdateQuery": None})
    verifies(httpd, database, emulator)
    assert database.query("SELECT outcome FROM portone_payments") == [{"outcome": "paid"}]
    assert database.query("SELECT state, updates FROM shop_orders") == \
        [{"state": "new", "updates": 0}]


@pytest.mark.expect_log(r"PV0003: cannot reach the database to check PortOne SQL at start-up",
                        r"\[dbd:error\] .*(AH00629: Can't connect to \w+: |AH02655: Failed to "
                        r"acquire DBD connection)",
                        r"PV0101: portone-verify imp_uid=imp_down merchant_uid=order_down: "
                        r"database_unavailable: mod_dbd has no connection")
def test_starts_when_the_database_is_down(make_httpd, database, emulator):
    if database.driver == "sqlite3":
        pytest.skip("a database server that is down: not SQLite")
    down = 'DBDParams "%s"' % re.sub(r"port=\d+", "port=%d" % free_port(), database.params)
    httpd = make_httpd(extra=down)          # the later DBDParams wins
    assert httpd.proc.poll() is None
    database.add_order("order_down", 10000)
    emulator.add_payment(imp_uid="imp_down", merchant_uid="order_down", amount=10000,
                         status="paid")
    status, headers, body = httpd.verify("imp_down", "order_down", timeout=20)
    assert status == 503 and body["code"] == "database_unavailable", (status, body)
    assert database.query("SELECT imp_uid FROM portone_payments") == []


# ---------------------------------------------------------------- mod_dbd's settings
# The module reads DBDriver and DBDParams from httpd's configuration tree, as
# mod_dbd's own handlers see them, and hands its statements to mod_dbd once
# per statement list.

def unreachable_params(database):
    """DBDParams of a database of the test's driver that is not there."""
    if database.driver == "sqlite3":
        return "/nonexistent-dir/shop.db"
    return re.sub(r"port=\d+", "port=%d" % free_port(), database.params)


def assert_checked_on_unreachable(make_httpd, database, extra):
    """The SQL is checked at start-up on the database of unreachable_params:
    a missing SQLite file stops httpd, naming it; a server that is down is
    a warning."""
    if database.driver == "sqlite3":
        rc, out = make_httpd(extra=extra, expect_fail=True,
                             expect_log=r"PV0002: DBDParams /nonexistent-dir/shop.db")
        assert rc != 0 and "PV0002" in out and "/nonexistent-dir/shop.db" in out, out
        return None
    httpd = make_httpd(extra=extra, expect_log=r"PV0003: cannot reach the database")
    assert "PV0003" in httpd.read_error_log()
    return httpd


def test_dbd_directives_inside_ifmodule_are_read(make_httpd, database):
    extra = '<IfModule dbd_module>\n    DBDParams "%s"\n</IfModule>\n' \
        % unreachable_params(database)
    assert_checked_on_unreachable(make_httpd, database, extra)


def test_a_vhost_with_its_own_dbdparams_is_checked_on_its_database(make_httpd, database,
                                                                  emulator):
    port2 = free_port()
    extra = ('Listen 127.0.0.1:%d\n<VirtualHost 127.0.0.1:%d>\n    DBDParams "%s"\n'
             '</VirtualHost>\n' % (port2, port2, unreachable_params(database)))
    httpd = assert_checked_on_unreachable(make_httpd, database, extra)
    if httpd:
        verifies(httpd, database, emulator)     # the main server's database is fine


def test_a_vhost_given_its_own_statement_list_by_another_module(make_httpd, database,
                                                                emulator):
    """mod_authn_dbd prepares its SQL on a virtual host while the configuration
    is read, which gives the host a statement list of its own in mod_dbd
    although it has no DBD directive: the module's statements go to that list
    as well, without a conflict when mod_dbd joins it to the main server's."""
    port2 = free_port()
    extra = ('LoadModule authn_core_module %s/mod_authn_core.so\n'
             'LoadModule authn_dbd_module %s/mod_authn_dbd.so\n'
             'Listen 127.0.0.1:%d\n<VirtualHost 127.0.0.1:%d>\n'
             '    <Location "/payments/complete">\n        SetHandler portone-verify\n'
             '        AuthDBDUserPWQuery "SELECT order_no FROM shop_orders WHERE order_no = %%s"\n'
             '    </Location>\n</VirtualHost>\n' % (MODULES, MODULES, port2, port2))
    httpd = make_httpd(extra=extra)
    database.add_order("order_vh", 10000)
    emulator.add_payment(imp_uid="imp_vh", merchant_uid="order_vh", amount=10000,
                         status="paid")
    req = urllib.request.Request(
        "http://127.0.0.1:%d/payments/complete" % port2, method="POST",
        data=json.dumps({"imp_uid": "imp_vh", "merchant_uid": "order_vh"}).encode(),
        headers={"Content-Type": "application/json"})
    status, _, body = _do(req, 30)
    assert status == 200 and body["status"] == "success", (status, body)
    log = httpd.read_error_log()
    # prepared on the host's connections, not recovered after an error
    assert "AH02653" not in log and "PV0300" not in log, log
