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
