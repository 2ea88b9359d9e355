"""The money path across scopes, payments and back-ends (issue 13; the threat
model in docs/security.md names these tests). Each runs on SQLite,
PostgreSQL and MariaDB:

- T1 scopes: two shops (two <Location>s, or a <VirtualHost>) share one
  database with different SQL; a payment is always checked against its own
  shop's order, however the pooled connections are shared.
- T2 orders: the order update follows the order, not the last payment seen:
  a failed or vbank-issued attempt never rewinds an order another payment
  of it has paid, also when they race.
- T3 states: failed may still become paid (late approval); cancelled is
  final; a recorded paid is never turned into a forgery by a later edit of
  the order; a stale answer never overwrites a newer row.
- T4 fail-closed: the currency of an order without one is PortOneCurrency;
  MySQL's CLIENT_FOUND_ROWS does not repeat order updates.
"""
import concurrent.futures
import json
import re
from decimal import Decimal

import pytest

from harness import _do, free_port
import urllib.request

SHOP2_TABLE = ("CREATE TABLE IF NOT EXISTS shop2_orders (order_no VARCHAR(64) PRIMARY KEY, "
               "price VARCHAR(32) NOT NULL, state VARCHAR(32) NOT NULL DEFAULT 'new', "
               "paid_imp_uid VARCHAR(64), updates INTEGER NOT NULL DEFAULT 0)")
SHOP2_QUERY = "SELECT price FROM shop2_orders WHERE order_no = :merchant_uid"
SHOP2_UPDATE = ("UPDATE shop2_orders SET state = :outcome, paid_imp_uid = :imp_uid, "
                "updates = updates + 1 WHERE order_no = :merchant_uid")


def shop2_sql():
    return ('    PortOneOrderQuery "%s"\n    PortOneOrderUpdateQuery "%s"\n'
            % (SHOP2_QUERY, SHOP2_UPDATE))


def post(base_url, path, body, content_type="application/json"):
    data = json.dumps(body).encode()
    req = urllib.request.Request(base_url + path, data=data, method="POST",
                                 headers={"Content-Type": content_type})
    status, _, answer = _do(req, 30)
    return status, answer


def shop2(db):
    db.execute(SHOP2_TABLE)
    db.execute("DELETE FROM shop2_orders")


def add_shop2_order(db, order_no, price):
    db.execute("INSERT INTO shop2_orders (order_no, price) VALUES (?, ?)", (order_no, str(price)))


def order_row(db, table, order_no):
    rows = db.query("SELECT state, paid_imp_uid, updates FROM %s WHERE order_no = ?" % table,
                    (order_no,))
    assert len(rows) == 1, rows
    return rows[0]


def outcome_of(db, imp_uid):
    rows = db.query("SELECT outcome FROM portone_payments WHERE imp_uid = ?", (imp_uid,))
    return rows[0]["outcome"] if rows else None


def events(db, imp_uid=None):
    if imp_uid is None:
        return db.query("SELECT imp_uid, outcome FROM portone_events ORDER BY imp_uid, outcome")
    return [r["outcome"] for r in db.query(
        "SELECT outcome FROM portone_events WHERE imp_uid = ? ORDER BY outcome", (imp_uid,))]


def module_errors(log):
    """The module's error and warning lines that a test did not expect."""
    return [line for line in log.splitlines()
            if "portone_verify:" in line and (":error]" in line or ":crit]" in line)]


# ---------------------------------------------------------------- T1 scopes

LOCATIONS = """
<Location "/shop2/complete">
    SetHandler portone-verify
%s</Location>
<Location "/shop2/webhook">
    SetHandler portone-webhook
%s</Location>
"""


# run_two_shops's underpayments in shop B, and its webhook's
UNDERPAID = (r"PV0102: portone-(verify imp_uid=imp_u\d{3} merchant_uid=o\d{3}|webhook imp_uid=imp_w "
             r"merchant_uid=ow) outcome=forgery \(recorded\): amount differs from the order "
             r"\(PortOne: (10000|5000) KRW, the order: (20000|7000) KRW\)")


def run_two_shops(pv_db, emu, url_a, url_b, rounds):
    """Order n exists in both shops under one merchant_uid, 10000 in shop A and
    20000 in shop B. Per round: A's genuine payment, B's underpayment (10000
    where B wants 20000) and B's genuine one, verified alternately."""
    for n in range(rounds):
        o = "o%03d" % n
        pv_db.add_order(o, 10000)
        add_shop2_order(pv_db, o, 20000)
        emu.add_payment(imp_uid="imp_a%03d" % n, merchant_uid=o, amount=10000, status="paid")
        emu.add_payment(imp_uid="imp_u%03d" % n, merchant_uid=o, amount=10000, status="paid")
        emu.add_payment(imp_uid="imp_b%03d" % n, merchant_uid=o, amount=20000, status="paid")
    for n in range(rounds):
        o = "o%03d" % n
        status, body = post(url_a, "/payments/complete", {"imp_uid": "imp_a%03d" % n,
                                                          "merchant_uid": o})
        assert (status, body["status"]) == (200, "success"), (n, body)
        status, body = post(url_b, "/shop2/complete" if url_a == url_b else "/payments/complete",
                            {"imp_uid": "imp_u%03d" % n, "merchant_uid": o})
        assert (status, body["status"]) == (400, "forgery"), (n, body)
        status, body = post(url_b, "/shop2/complete" if url_a == url_b else "/payments/complete",
                            {"imp_uid": "imp_b%03d" % n, "merchant_uid": o})
        assert (status, body["status"]) == (200, "success"), (n, body)
    for n in range(rounds):
        o = "o%03d" % n
        assert outcome_of(pv_db, "imp_a%03d" % n) == "paid"
        assert outcome_of(pv_db, "imp_u%03d" % n) == "forgery"
        assert outcome_of(pv_db, "imp_b%03d" % n) == "paid"
        # each shop's order moved by its own payment only
        assert order_row(pv_db, "shop_orders", o) == \
            {"state": "paid", "paid_imp_uid": "imp_a%03d" % n, "updates": 1}
        assert order_row(pv_db, "shop2_orders", o) == \
            {"state": "paid", "paid_imp_uid": "imp_b%03d" % n, "updates": 1}


@pytest.mark.expect_log(UNDERPAID)
def test_T1_two_locations_sharing_one_database_use_their_own_sql(make_httpd, database, emulator):
    # one connection for the whole server: every pooled connection serves both
    shop2(database)
    h = make_httpd(servers=1, threads=2,
                   extra=LOCATIONS % (shop2_sql(), shop2_sql()) + "DBDMax 1\nDBDKeep 1\n")
    run_two_shops(database, emulator, h.url, h.url, 12)
    # the webhook of shop B checks against shop B's order too
    database.add_order("ow", 5000)
    add_shop2_order(database, "ow", 7000)
    emulator.add_payment(imp_uid="imp_w", merchant_uid="ow", amount=5000, status="paid")
    status, body = post(h.url, "/shop2/webhook", {"imp_uid": "imp_w", "merchant_uid": "ow"})
    assert (status, body["status"]) == (200, "forgery"), body
    assert order_row(database, "shop_orders", "ow")["updates"] == 0
    assert module_errors(h.read_error_log()) == []


@pytest.mark.expect_log(UNDERPAID)
def test_T1_two_vhosts_sharing_one_database_use_their_own_sql(make_httpd, database, emulator):
    port2 = free_port()
    vhost = ('Listen 127.0.0.1:%d\n<VirtualHost 127.0.0.1:%d>\n%s'
             '    <Location "/payments/complete">\n        SetHandler portone-verify\n'
             '    </Location>\n</VirtualHost>\n' % (port2, port2, shop2_sql()))
    shop2(database)
    h = make_httpd(servers=1, threads=4, extra=vhost)
    run_two_shops(database, emulator, h.url, "http://127.0.0.1:%d" % port2, 12)
    log = h.read_error_log()
    assert module_errors(log) == []
    # the vhost shares the main server's mod_dbd statement list: each label
    # is given to it once (mod_dbd warns of a label given twice)
    assert "AH02653" not in log, log


@pytest.mark.expect_log(r"PV0101: portone-verify imp_uid=imp_k1 merchant_uid=ok1: upstream_auth_failed: "
                        r"getToken refused \(HTTP 401\)")
def test_T1_a_location_with_its_own_account_gets_its_own_token(make_httpd, database, emulator):
    """Two PortOne accounts on one host: each <Location> logs in with its own
    key, and a key the emulator does not know fails only that shop."""
    bad = '    PortOneAPIKey "imp_otherkey"\n' + shop2_sql()
    shop2(database)
    h = make_httpd(extra=LOCATIONS % (bad, bad))
    database.add_order("ok1", 1000)
    add_shop2_order(database, "ok1", 1000)
    emulator.add_payment(imp_uid="imp_k1", merchant_uid="ok1", amount=1000, status="paid")
    status, body = post(h.url, "/shop2/complete", {"imp_uid": "imp_k1", "merchant_uid": "ok1"})
    assert (status, body["code"]) == (502, "upstream_auth_failed"), body
    status, body = post(h.url, "/payments/complete", {"imp_uid": "imp_k1", "merchant_uid": "ok1"})
    assert (status, body["status"]) == (200, "success"), body
    keys = [json.loads(r["body"])["imp_key"] for r in emulator.counters()["requests"]
            if r["path"] == "/users/getToken"]
    assert "imp_otherkey" in keys and "imp_apikey" in keys, keys
    assert outcome_of(database, "imp_k1") == "paid"


@pytest.mark.expect_log(r"PV0014: PortOneAPISecret is required where PortOne verification is "
                        r"configured \(/shop3 of server ")
def test_T1_a_location_missing_its_secret_stops_httpd(make_httpd):
    partial = '<Location "/shop3">\n    SetHandler portone-verify\n    PortOneAPIKey other\n' \
              '</Location>\n'
    rc, out = make_httpd(directives={"PortOneAPISecret": None}, extra=partial,
                         expect_fail=True)
    assert rc != 0 and "PortOneAPISecret" in out and "/shop3" in out, out


# ---------------------------------------------------------------- T2 orders

def verify(h, imp_uid, merchant_uid):
    status, _, body = h.verify(imp_uid, merchant_uid)
    return status, body


def test_T2_a_later_failed_or_vbank_attempt_never_rewinds_a_paid_order(pv):
    db, emu, h = pv.db, pv.emu, pv.httpd
    db.add_order("o_rw", 10000)
    emu.add_payment(imp_uid="imp_rw1", merchant_uid="o_rw", amount=10000, status="paid")
    emu.add_payment(imp_uid="imp_rw2", merchant_uid="o_rw", amount=10000, status="failed")
    emu.add_payment(imp_uid="imp_rw3", merchant_uid="o_rw", amount=10000, status="ready",
                    pay_method="vbank")
    emu.add_payment(imp_uid="imp_rw4", merchant_uid="o_rw", amount=10000, status="ready")
    assert verify(h, "imp_rw1", "o_rw")[0] == 200
    assert verify(h, "imp_rw2", "o_rw") == (409, {"status": "failed", "message": "실패한 결제",
                                                 "imp_uid": "imp_rw2", "merchant_uid": "o_rw"})
    status, body = verify(h, "imp_rw3", "o_rw")
    assert (status, body["status"]) == (200, "vbankIssued"), body
    status, body = h.webhook("imp_rw2", "o_rw", status="failed")[0::2]
    assert (status, body["status"]) == (200, "failed"), body
    assert verify(h, "imp_rw4", "o_rw")[0] == 409          # pending: no order update
    # each payment has its record and events; the order stays paid by imp_rw1
    assert [outcome_of(db, "imp_rw%d" % i) for i in (1, 2, 3, 4)] == \
        ["paid", "failed", "vbank_issued", "pending"]
    assert events(db) == [{"imp_uid": "imp_rw1", "outcome": "paid"},
                          {"imp_uid": "imp_rw2", "outcome": "failed"},
                          {"imp_uid": "imp_rw3", "outcome": "vbank_issued"}]
    assert order_row(db, "shop_orders", "o_rw") == \
        {"state": "paid", "paid_imp_uid": "imp_rw1", "updates": 1}
    assert "another payment of it has paid it" in pv.log()


def test_T2_an_order_failed_first_is_paid_by_the_next_attempt(pv):
    db, emu, h = pv.db, pv.emu, pv.httpd
    db.add_order("o_ff", 10000)
    emu.add_payment(imp_uid="imp_ff1", merchant_uid="o_ff", amount=10000, status="failed")
    emu.add_payment(imp_uid="imp_ff2", merchant_uid="o_ff", amount=10000, status="paid")
    assert verify(h, "imp_ff1", "o_ff")[0] == 409
    assert order_row(db, "shop_orders", "o_ff") == \
        {"state": "failed", "paid_imp_uid": "imp_ff1", "updates": 1}
    assert verify(h, "imp_ff2", "o_ff")[0] == 200
    assert order_row(db, "shop_orders", "o_ff") == \
        {"state": "paid", "paid_imp_uid": "imp_ff2", "updates": 2}
    # the payer cancelled: the order follows (it is its own payment)
    emu.patch_payment("imp_ff2", status="cancelled", cancel_amount=10000)
    assert verify(h, "imp_ff2", "o_ff")[0] == 409
    assert order_row(db, "shop_orders", "o_ff") == \
        {"state": "cancelled", "paid_imp_uid": "imp_ff2", "updates": 3}


def test_T2_paid_and_failed_attempts_racing_leave_the_order_paid(pv):
    db, emu, h = pv.db, pv.emu, pv.httpd
    rounds = 8
    for n in range(rounds):
        o = "o_race%d" % n
        db.add_order(o, 10000)
        emu.add_payment(imp_uid="imp_rp%d" % n, merchant_uid=o, amount=10000, status="paid")
        emu.add_payment(imp_uid="imp_rf%d" % n, merchant_uid=o, amount=10000, status="failed")
        emu.add_payment(imp_uid="imp_rv%d" % n, merchant_uid=o, amount=10000, status="ready",
                        pay_method="vbank")
    calls = []
    for n in range(rounds):
        o = "o_race%d" % n
        for imp in ("imp_rf%d" % n, "imp_rv%d" % n, "imp_rp%d" % n) * 3:
            calls.append((imp, o))
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        results = list(ex.map(lambda c: h.verify(*c)[0], calls))
    assert set(results) <= {200, 409}, results
    for n in range(rounds):
        o = "o_race%d" % n
        assert order_row(db, "shop_orders", o)["state"] == "paid", (o, order_row(db, "shop_orders", o))
        assert order_row(db, "shop_orders", o)["paid_imp_uid"] == "imp_rp%d" % n
        assert events(db, "imp_rp%d" % n) == ["paid"]
        assert events(db, "imp_rf%d" % n) == ["failed"]
        assert events(db, "imp_rv%d" % n) == ["vbank_issued"]
    assert module_errors(pv.log()) == []


def test_T2_the_same_order_id_in_two_shops_is_two_orders(make_httpd, database, emulator):
    shop2(database)
    h = make_httpd(extra=LOCATIONS % (shop2_sql(), shop2_sql()))
    database.add_order("o_two", 1000)
    add_shop2_order(database, "o_two", 1000)
    emulator.add_payment(imp_uid="imp_two_a", merchant_uid="o_two", amount=1000, status="paid")
    emulator.add_payment(imp_uid="imp_two_b", merchant_uid="o_two", amount=1000, status="failed")
    assert post(h.url, "/payments/complete", {"imp_uid": "imp_two_a", "merchant_uid": "o_two"})[0] == 200
    assert post(h.url, "/shop2/complete", {"imp_uid": "imp_two_b", "merchant_uid": "o_two"})[0] == 409
    assert order_row(database, "shop_orders", "o_two")["state"] == "paid"
    # shop B's order is not paid by shop A's payment: its failure moves it
    assert order_row(database, "shop2_orders", "o_two") == \
        {"state": "failed", "paid_imp_uid": "imp_two_b", "updates": 1}


# ---------------------------------------------------------------- T3 states

def test_T3_failed_becomes_paid_on_a_late_approval(pv):
    db, emu, h = pv.db, pv.emu, pv.httpd
    db.add_order("o_late", 8000)
    emu.add_payment(imp_uid="imp_late", merchant_uid="o_late", amount=8000, status="failed")
    assert verify(h, "imp_late", "o_late")[0] == 409
    emu.patch_payment("imp_late", status="paid", paid_at=emu.now())
    status, body = h.webhook("imp_late", "o_late", status="paid")[0::2]
    assert (status, body["status"]) == (200, "paid"), body
    assert outcome_of(db, "imp_late") == "paid"
    assert events(db, "imp_late") == ["failed", "paid"]
    assert order_row(db, "shop_orders", "o_late") == \
        {"state": "paid", "paid_imp_uid": "imp_late", "updates": 2}
    status, body = verify(h, "imp_late", "o_late")
    assert (status, body["status"]) == (200, "success")


def test_T3_cancelled_stays_cancelled(pv):
    db, emu, h = pv.db, pv.emu, pv.httpd
    db.add_order("o_cx", 8000)
    emu.add_payment(imp_uid="imp_cx", merchant_uid="o_cx", amount=8000, status="cancelled")
    assert verify(h, "imp_cx", "o_cx")[0] == 409
    emu.patch_payment("imp_cx", status="paid", cancel_amount=0)
    status, body = verify(h, "imp_cx", "o_cx")
    assert (status, body["status"]) == (409, "cancelled"), body
    assert outcome_of(db, "imp_cx") == "cancelled" and events(db, "imp_cx") == ["cancelled"]
    assert order_row(db, "shop_orders", "o_cx")["updates"] == 1


def test_T3_a_recorded_paid_is_not_turned_into_a_forgery_by_an_order_edit(pv):
    db, emu, h = pv.db, pv.emu, pv.httpd
    db.add_order("o_edit", 10000)
    emu.add_payment(imp_uid="imp_edit", merchant_uid="o_edit", amount=10000, status="paid")
    assert verify(h, "imp_edit", "o_edit")[0] == 200
    db.execute("UPDATE shop_orders SET total_price = '12000' WHERE order_no = 'o_edit'")
    pv.expect_log(r"PV0102: portone-(verify|webhook) imp_uid=imp_edit merchant_uid=o_edit "
                  r"outcome=forgery \(kept the recorded paid\): amount differs from the order")
    status, body = verify(h, "imp_edit", "o_edit")
    assert (status, body["status"]) == (400, "forgery"), body
    status, body = h.webhook("imp_edit", "o_edit")[0::2]
    assert (status, body["status"]) == (200, "forgery"), body
    # the record, its events and the order stay as the payment left them
    assert outcome_of(db, "imp_edit") == "paid"
    assert events(db, "imp_edit") == ["paid"]
    assert order_row(db, "shop_orders", "o_edit") == \
        {"state": "paid", "paid_imp_uid": "imp_edit", "updates": 1}
    # the log names both amounts
    assert re.search(r"PV0102: .*imp_edit.*outcome=forgery \(kept the recorded paid\).*"
                     r"PortOne: 10000 KRW, the order: 12000", pv.log()), pv.log()[-2000:]


def test_T3_a_stale_answer_with_the_same_cancel_amount_does_not_overwrite(pv):
    db, emu, h = pv.db, pv.emu, pv.httpd
    db.add_order("o_stale", 10000)
    emu.add_payment(imp_uid="imp_stale", merchant_uid="o_stale", amount=10000, status="paid",
                    cancel_amount=3000, name="newer")
    assert verify(h, "imp_stale", "o_stale")[0] == 200
    # a look-up answered before that one arrives after it
    emu.patch_payment("imp_stale", name="older")
    assert verify(h, "imp_stale", "o_stale")[0] == 200
    row = db.query("SELECT cancel_amount, response FROM portone_payments")[0]
    assert json.loads(row["response"])["name"] == "newer"
    assert Decimal(str(row["cancel_amount"])) == 3000
    # a larger cancel_amount is newer: the row follows it, without an event
    emu.patch_payment("imp_stale", cancel_amount=5000, name="partial")
    assert verify(h, "imp_stale", "o_stale")[0] == 200
    row = db.query("SELECT outcome, cancel_amount, response FROM portone_payments")[0]
    assert (row["outcome"], Decimal(str(row["cancel_amount"]))) == ("paid", 5000)
    assert json.loads(row["response"])["name"] == "partial"
    assert events(db, "imp_stale") == ["paid"]
    assert order_row(db, "shop_orders", "o_stale")["updates"] == 1


# ---------------------------------------------------------------- T4 fail-closed

NO_CURRENCY = "SELECT total_price FROM shop_orders WHERE order_no = :merchant_uid"


@pytest.mark.parametrize("query", ["no_column", "null_column"])
@pytest.mark.expect_log(r"PV0102: portone-verify imp_uid=imp_usd merchant_uid=o_usd outcome=forgery "
                        r"\(recorded\): currency differs from the order \(PortOne: 10000 USD, "
                        r"the order: 10000(\.00)? KRW\)")
def test_T4_an_order_without_a_currency_is_due_in_krw(make_httpd, database, emulator, query):
    h = make_httpd(directives={"PortOneOrderQuery": NO_CURRENCY} if query == "no_column" else None)
    database.add_order("o_usd", 10000, currency=None)
    emulator.add_payment(imp_uid="imp_usd", merchant_uid="o_usd", amount=10000, currency="USD",
                         status="paid")
    status, _, body = h.verify("imp_usd", "o_usd")
    assert (status, body["status"]) == (400, "forgery"), body
    assert outcome_of(database, "imp_usd") == "forgery"
    assert order_row(database, "shop_orders", "o_usd")["updates"] == 0
    database.add_order("o_krw", 10000, currency=None)
    emulator.add_payment(imp_uid="imp_krw", merchant_uid="o_krw", amount=10000, status="paid")
    assert h.verify("imp_krw", "o_krw")[0] == 200


@pytest.mark.expect_log(r"PV0102: portone-verify imp_uid=imp_krw2 merchant_uid=o_usd2 outcome=forgery "
                        r"\(recorded\): currency differs from the order \(PortOne: 19\.99 KRW, "
                        r"the order: 19\.99 USD\)")
def test_T4_portone_currency_sets_the_currency_of_such_orders(make_httpd, database, emulator):
    h = make_httpd(directives={"PortOneOrderQuery": NO_CURRENCY, "PortOneCurrency": "USD"})
    database.add_order("o_usd2", "19.99", currency=None)
    emulator.add_payment(imp_uid="imp_usd2", merchant_uid="o_usd2", amount=19.99,
                         currency="USD", status="paid")
    emulator.add_payment(imp_uid="imp_krw2", merchant_uid="o_usd2", amount=19.99,
                         currency="KRW", status="paid")
    assert h.verify("imp_usd2", "o_usd2")[0] == 200
    status, _, body = h.verify("imp_krw2", "o_usd2")
    assert (status, body["status"]) == (400, "forgery"), body


@pytest.mark.parametrize("value", ["krw", "KRWX", "12A"])
def test_T4_portone_currency_takes_a_currency_code(make_httpd, value):
    rc, out = make_httpd(directives={"PortOneCurrency": value}, expect_fail=True)
    assert rc != 0 and "PortOneCurrency" in out, out


def test_T4_client_found_rows_does_not_repeat_order_updates(make_httpd, database, emulator):
    """MySQL's CLIENT_FOUND_ROWS counts rows matched, not changed: changes are
    decided from the data, so a repeat writes nothing."""
    if database.driver != "mysql":
        pytest.skip("CLIENT_FOUND_ROWS is a MySQL/MariaDB connection flag")
    h = make_httpd(extra='DBDParams "%s flags=CLIENT_FOUND_ROWS"' % database.params)
    database.add_order("o_fr", 10000)
    emulator.add_payment(imp_uid="imp_fr", merchant_uid="o_fr", amount=10000, status="paid")
    for n in range(4):
        # PortOne's answer differs each time (as receipts and timestamps do)
        emulator.patch_payment("imp_fr", receipt_url="https://example.com/r/%d" % n)
        assert h.verify("imp_fr", "o_fr")[0] == 200
        assert h.webhook("imp_fr", "o_fr")[0] == 200
    assert events(database, "imp_fr") == ["paid"]
    assert order_row(database, "shop_orders", "o_fr") == \
        {"state": "paid", "paid_imp_uid": "imp_fr", "updates": 1}
