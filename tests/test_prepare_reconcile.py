"""portone-prepare and portone-reconcile (contract sections 3 and 4), V1 and
V2, on SQLite, PostgreSQL and MariaDB, with the emulator recording what
PortOne was asked.

prepare: the amount (and currency) comes from PortOneOrderQuery and is
registered with PortOne: V1 POST /payments/prepare, then PUT when PortOne
answers code 1 (prepared before); V2 POST /payments/{paymentId}/pre-register.
An unknown order is 404 order_not_found and PortOne is not asked at all.

reconcile: payments recorded pending or vbank_issued at least older_than
seconds ago, and the orders PortOneReconcileQuery names, looked up again and
run through the pipeline, at most `limit`; PortOne down: nothing written,
`failed` counted."""
import json
import re
from urllib.parse import quote

import pytest

from conftest import LogWatch, v2_directives
from harness import Httpd, make_tempdir
from portone_emulator import TEST_V2_STORE_ID
import shop_checks
from shop_checks import json_answer, order

PREPARE = "/payments/prepare"
RECONCILE = "/portone/reconcile"
# the orders still waiting: those no payment has moved yet
RECONCILE_QUERY = "SELECT order_no FROM shop_orders WHERE state = 'new'"
EXTRA = """
<Location "%s">
    SetHandler portone-prepare
</Location>
<Location "%s">
    SetHandler portone-reconcile
    Require ip 127.0.0.1
</Location>
""" % (PREPARE, RECONCILE)


@pytest.fixture(scope="session")
def pr_server(database, emulator):
    """One httpd per database: V1 and V2, the prepare and reconcile handlers."""
    h = Httpd(make_tempdir("pv-httpd-pr-"), database, emulator.url, extra=EXTRA,
              directives=v2_directives(emulator.url, PortOneReconcileQuery=RECONCILE_QUERY))
    h.start()
    yield h
    h.stop()
    LogWatch().check([h])


@pytest.fixture
def pr(pr_server, database, emulator, log_watch):
    emulator.reset()
    database.reset()
    start = len(pr_server.read_error_log())

    class World:
        httpd, db, emu = pr_server, database, emulator
        expect_log = staticmethod(log_watch.expect)

        @staticmethod
        def log():
            return pr_server.read_error_log()[start:]
    yield World
    assert pr_server.proc and pr_server.proc.poll() is None, "httpd died"


# ---------------------------------------------------------------- helpers

def prepare(httpd, body, content_type="application/json"):
    if isinstance(body, dict):
        body = json.dumps(body)
    return json_answer(*httpd.post(PREPARE, body, content_type=content_type))


def reconcile(httpd, body=None, content_type="application/json"):
    if body is None:
        status, headers, answer = httpd.post(RECONCILE, b"", content_type=None)
    else:
        status, headers, answer = httpd.post(
            RECONCILE, json.dumps(body) if isinstance(body, dict) else body,
            content_type=content_type)
    return json_answer(status, headers, answer)


def asked(emu, start=0):
    """(method, path) of what PortOne was asked, getToken left out, and a
    request refused for a token the emulator's reset forgot left out too (the
    module's cached token: the request, getToken, the same request again)."""
    reqs = [(r["method"], r["path"], r["body"], r["headers"].get("Authorization"))
            for r in emu.counters()["requests"][start:]]
    token = ("POST", "/users/getToken")
    out = []
    for i, r in enumerate(reqs):
        if r[:2] == token:
            continue
        # a refused one was sent again with another token; the same request
        # with the same token is another process's own (its first getToken
        # gave it the token the first process had)
        if i + 2 < len(reqs) and reqs[i + 1][:2] == token and reqs[i + 2][:3] == r[:3] \
                and reqs[i + 2][3] != r[3]:
            continue
        out.append(r[:2])
    return out


def bodies(emu, method, path):
    return [json.loads(r["body"]) for r in emu.counters()["requests"]
            if r["method"] == method and r["path"] == path]


def payments(db):
    return shop_checks.payments(db, with_api=True)


def events(db):
    return [(e["api"], e["imp_uid"], e["outcome"]) for e in shop_checks.events(db, with_api=True)]


def outcomes(db):
    return {(p["api"], p["imp_uid"]): p["outcome"] for p in payments(db)}


def done(checked, changed, failed):
    return {"status": "done", "checked": checked, "changed": changed, "failed": failed}


# ---------------------------------------------------------------- prepare, V1

def test_prepare_v1_registers_the_database_amount(pr):
    pr.db.add_order("o_p1", 10000)
    status, body = prepare(pr.httpd, {"merchant_uid": "o_p1"})
    assert (status, body) == (200, {"status": "prepared", "merchant_uid": "o_p1",
                                    "amount": 10000, "currency": "KRW"})
    assert asked(pr.emu) == [("POST", "/payments/prepare")]
    assert bodies(pr.emu, "POST", "/payments/prepare") == [
        {"merchant_uid": "o_p1", "amount": 10000, "currency": "KRW"}]
    assert pr.emu.prepared("o_p1") == {"merchant_uid": "o_p1", "amount": 10000,
                                       "currency": "KRW"}
    # prepare writes nothing of the module's
    assert payments(pr.db) == [] and events(pr.db) == []
    assert order(pr.db, "o_p1")["updates"] == 0
    assert "PV0110: portone-prepare merchant_uid=o_p1: registered amount 10000 KRW" in pr.log()


def test_prepare_v1_again_after_the_amount_changed_puts_the_new_amount(pr):
    pr.db.add_order("o_p2", 10000, "USD")
    assert prepare(pr.httpd, {"merchant_uid": "o_p2"})[0] == 200
    # the shop changes the order (a coupon); the front-end prepares again
    pr.db.execute("UPDATE shop_orders SET total_price = ? WHERE order_no = ?",
                  ("8999.50", "o_p2"))
    status, body = prepare(pr.httpd, {"merchant_uid": "o_p2"})
    assert (status, body) == (200, {"status": "prepared", "merchant_uid": "o_p2",
                                    "amount": 8999.5, "currency": "USD"})
    # POST, POST answered code 1 (prepared before), PUT with the new amount
    assert asked(pr.emu) == [("POST", "/payments/prepare")] * 2 + [("PUT", "/payments/prepare")]
    assert bodies(pr.emu, "PUT", "/payments/prepare") == [
        {"merchant_uid": "o_p2", "amount": 8999.5, "currency": "USD"}]
    assert pr.emu.prepared("o_p2") == {"merchant_uid": "o_p2", "amount": 8999.5,
                                       "currency": "USD"}
    assert "POST, then PUT /payments/prepare" in pr.log()


def test_prepare_v1_again_with_the_same_amount_is_a_success(pr):
    pr.db.add_order("o_p3", "5000.00")
    for _ in range(2):
        status, body = prepare(pr.httpd, {"merchant_uid": "o_p3"})
        assert (status, body["amount"]) == (200, 5000), body
    # documented: after code 1 the module PUTs the amount, changed or not
    assert asked(pr.emu) == [("POST", PREPARE), ("POST", PREPARE), ("PUT", PREPARE)]
    assert pr.emu.prepared("o_p3")["amount"] == 5000


def test_prepare_unknown_order_asks_nothing(pr):
    for body in ({"merchant_uid": "o_none"}, {"paymentId": "pay-none"}):
        status, answer = prepare(pr.httpd, body)
        assert (status, answer["status"], answer["code"]) == (404, "error", "order_not_found")
    # not even a token
    assert pr.emu.counters()["requests"] == []
    assert pr.emu.prepared("o_none") is None and pr.emu.v2_pre_registered("pay-none") is None


@pytest.mark.expect_log(r"PV0111: portone-prepare merchant_uid=o_p4: upstream_error: "
                        r"prepare answered HTTP 500")
def test_prepare_v1_refused_by_portone_is_502(pr):
    pr.db.add_order("o_p4", 1000)
    pr.emu.add_fault("/payments/prepare", "status", status=500)
    status, body = prepare(pr.httpd, {"merchant_uid": "o_p4"})
    assert (status, body["code"]) == (502, "upstream_error"), body
    assert pr.emu.prepared("o_p4") is None


@pytest.mark.expect_log(r"PV0111: portone-prepare merchant_uid=o_p5: upstream_error: "
                        r"prepare refused: PortOne answered code 1.*\n?.*"
                        r"|PV0111: portone-prepare merchant_uid=o_p5: upstream_error: prepare answered HTTP 404")
def test_prepare_v1_put_refused_is_502(pr):
    """PortOne says "prepared before" but then has nothing to change (PUT 404):
    not the documented behaviour, answered 502."""
    pr.db.add_order("o_p5", 1000)
    pr.emu.add_fault("/payments/prepare", "garbage", count=None,
                     body=json.dumps({"code": 1, "message": "이미 등록된 merchant_uid입니다.",
                                      "response": None}))
    status, body = prepare(pr.httpd, {"merchant_uid": "o_p5"})
    assert (status, body["code"]) == (502, "upstream_error"), body
    # one POST, one PUT, no loop
    assert asked(pr.emu) == [("POST", PREPARE), ("PUT", PREPARE)]


# ---------------------------------------------------------------- prepare, V2

def test_prepare_v2_pre_registers_the_database_amount(pr):
    pid = "pay-p/1 주문"
    pr.db.add_order(pid, "25000.00")
    status, body = prepare(pr.httpd, {"paymentId": pid})
    assert (status, body) == (200, {"status": "prepared", "paymentId": pid,
                                    "amount": 25000, "currency": "KRW"})
    path = "/payments/%s/pre-register" % quote(pid, safe="-_").replace(".", "%2E")
    assert asked(pr.emu) == [("POST", path)]
    assert bodies(pr.emu, "POST", path) == [
        {"storeId": TEST_V2_STORE_ID, "totalAmount": 25000, "currency": "KRW"}]
    assert pr.emu.v2_pre_registered(pid) == {"storeId": TEST_V2_STORE_ID,
                                             "totalAmount": 25000, "currency": "KRW"}
    # again after the amount changed: the new amount replaces the old one
    pr.db.execute("UPDATE shop_orders SET total_price = ? WHERE order_no = ?", ("30000", pid))
    assert prepare(pr.httpd, {"paymentId": pid})[1]["amount"] == 30000
    assert asked(pr.emu) == [("POST", path)] * 2
    assert pr.emu.v2_pre_registered(pid)["totalAmount"] == 30000


@pytest.mark.expect_log(r"PV0111: portone-prepare paymentId=pay-p2: upstream_error: pre-register "
                        r"answered HTTP 409 ALREADY_PAID: .*\(the payment is paid already\)")
def test_prepare_v2_of_a_paid_payment_is_502(pr):
    pr.db.add_order("pay-p2", 1000)
    pr.emu.add_v2_payment(paymentId="pay-p2", status="PAID", total=1000)
    status, body = prepare(pr.httpd, {"paymentId": "pay-p2"})
    assert (status, body["code"]) == (502, "upstream_error"), body
    assert pr.emu.v2_pre_registered("pay-p2") is None


@pytest.mark.expect_log(r"PV0112: portone-prepare paymentId=pay-p3: the order's amount 100\.50* is "
                        r"not a positive whole number")
def test_prepare_v2_amount_with_a_fraction_is_refused_before_portone(pr):
    pr.db.add_order("pay-p3", "100.5")
    status, body = prepare(pr.httpd, {"paymentId": "pay-p3"})
    assert (status, body["code"]) == (404, "order_not_found"), body
    assert pr.emu.counters()["requests"] == []


@pytest.mark.parametrize("body,content_type,status,code", [
    ({"merchant_uid": "o_1", "paymentId": "p_1"}, "application/json", 400, "invalid_request"),
    ({"imp_uid": "imp_1"}, "application/json", 400, "invalid_request"),
    ({"merchant_uid": "x" * 41}, "application/json", 400, "invalid_request"),
    ({"paymentId": "x" * 129}, "application/json", 400, "invalid_request"),
    ({"merchant_uid": "o\u0001"}, "application/json", 400, "invalid_request"),
    ({"merchant_uid": 12}, "application/json", 400, "invalid_request"),
    ("merchant_uid=o_1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("{not json", "application/json", 400, "invalid_request"),
    ("", "application/json", 400, "invalid_request"),
    ('{"merchant_uid":"%s"}' % ("y" * 70000), "application/json", 413, "payload_too_large"),
])
def test_prepare_bad_requests_ask_nothing(pr, body, content_type, status, code):
    pr.db.add_order("o_1", 1000)
    got, answer = prepare(pr.httpd, body, content_type)
    assert (got, answer["code"]) == (status, code), answer
    assert pr.emu.counters()["requests"] == []


def test_prepare_and_reconcile_take_post_only(pr):
    for path in (PREPARE, RECONCILE):
        status, headers, body = pr.httpd.request("GET", path)
        assert (status, body["code"], headers["Allow"]) == (405, "method_not_allowed", "POST")


# ---------------------------------------------------------------- reconcile

def test_reconcile_v1_vbank_paid_without_webhook(pr):
    pr.db.add_order("o_vb", 30000)
    pr.emu.add_payment(imp_uid="imp_vb", merchant_uid="o_vb", amount=30000, status="ready",
                       pay_method="vbank")
    assert pr.httpd.verify("imp_vb", "o_vb")[2]["status"] == "vbankIssued"
    # the deposit; the webhook is lost
    pr.emu.patch_payment("imp_vb", status="paid", paid_at=pr.emu.now())
    before = len(pr.emu.counters()["requests"])
    status, body = reconcile(pr.httpd, {"older_than": 0})
    assert (status, body) == (200, done(1, 1, 0))
    assert asked(pr.emu, before) == [("GET", "/payments/imp_vb")]
    assert outcomes(pr.db) == {("v1", "imp_vb"): "paid"}
    assert events(pr.db) == [("v1", "imp_vb", "paid"), ("v1", "imp_vb", "vbank_issued")]
    assert order(pr.db, "o_vb") == {"state": "paid", "paid_imp_uid": "imp_vb", "updates": 2}
    # nothing is waiting any more
    assert reconcile(pr.httpd, {"older_than": 0}) == (200, done(0, 0, 0))


def test_reconcile_v2_vbank_paid_without_webhook(pr):
    pr.db.add_order("pay-vb", 30000)
    pr.emu.add_v2_payment(paymentId="pay-vb", status="VIRTUAL_ACCOUNT_ISSUED", total=30000)
    status, _, body = pr.httpd.post("/payments/complete", {"paymentId": "pay-vb"})
    assert (status, body["status"]) == (200, "vbankIssued"), body
    pr.emu.patch_v2_payment("pay-vb", status="PAID")
    assert reconcile(pr.httpd, {"older_than": 0}) == (200, done(1, 1, 0))
    assert outcomes(pr.db) == {("v2", "pay-vb"): "paid"}
    assert events(pr.db) == [("v2", "pay-vb", "paid"), ("v2", "pay-vb", "vbank_issued")]
    assert order(pr.db, "pay-vb")["state"] == "paid"


def test_reconcile_orders_never_verified_v1_and_v2(pr):
    """The browser closed and the webhook was lost: PortOneReconcileQuery names
    the orders still waiting; V1 finds the payment by merchant_uid, V2 by the
    paymentId (the order id). An order without a payment is checked, not failed."""
    pr.db.add_order("o_lost", 12000)
    pr.db.add_order("pay-lost", 13000)
    pr.db.add_order("o_nothing", 500)
    pr.emu.add_payment(imp_uid="imp_lost", merchant_uid="o_lost", amount=12000, status="paid")
    pr.emu.add_v2_payment(paymentId="pay-lost", status="PAID", total=13000)
    status, body = reconcile(pr.httpd)
    assert (status, body) == (200, done(3, 2, 0))
    # each order with both APIs of the scope; V1 its paid payment first, then
    # (none paid) its latest
    store = "?storeId=" + TEST_V2_STORE_ID
    assert sorted(asked(pr.emu)) == sorted([
        ("GET", "/payments/find/o_lost/paid"), ("GET", "/payments/o_lost" + store),
        ("GET", "/payments/find/pay-lost/paid"), ("GET", "/payments/find/pay-lost"),
        ("GET", "/payments/pay-lost" + store),
        ("GET", "/payments/find/o_nothing/paid"), ("GET", "/payments/find/o_nothing"),
        ("GET", "/payments/o_nothing" + store)])
    assert outcomes(pr.db) == {("v1", "imp_lost"): "paid", ("v2", "pay-lost"): "paid"}
    assert order(pr.db, "o_lost") == {"state": "paid", "paid_imp_uid": "imp_lost", "updates": 1}
    assert order(pr.db, "pay-lost") == {"state": "paid", "paid_imp_uid": "pay-lost",
                                        "updates": 1}
    assert order(pr.db, "o_nothing")["state"] == "new"
    # again: only the order without a payment is still waiting
    pr.emu.reset()
    assert reconcile(pr.httpd) == (200, done(1, 0, 0))


def test_reconcile_honours_limit(pr):
    for i in range(5):
        pr.db.add_order("o_l%d" % i, 1000)
        pr.emu.add_payment(imp_uid="imp_l%d" % i, merchant_uid="o_l%d" % i, amount=1000,
                           status="ready", pay_method="vbank")
        assert pr.httpd.verify("imp_l%d" % i, "o_l%d" % i)[0] == 200
        pr.emu.patch_payment("imp_l%d" % i, status="paid")
    before = len(pr.emu.counters()["requests"])
    assert reconcile(pr.httpd, {"older_than": 0, "limit": 2}) == (200, done(2, 2, 0))
    assert len(asked(pr.emu, before)) == 2
    assert sorted(outcomes(pr.db).values()) == ["paid"] * 2 + ["vbank_issued"] * 3
    assert reconcile(pr.httpd, {"older_than": 0, "limit": 2}) == (200, done(2, 2, 0))
    assert reconcile(pr.httpd, {"older_than": 0, "limit": 2}) == (200, done(1, 1, 0))
    assert reconcile(pr.httpd, {"older_than": 0, "limit": 0}) == (200, done(0, 0, 0))
    assert sorted(outcomes(pr.db).values()) == ["paid"] * 5


def test_reconcile_leaves_recent_payments_to_the_webhook(pr):
    """older_than (default 600 s): a payment recorded a moment ago is not looked up."""
    pr.db.add_order("o_new", 1000)
    pr.emu.add_payment(imp_uid="imp_new", merchant_uid="o_new", amount=1000, status="ready",
                       pay_method="vbank")
    assert pr.httpd.verify("imp_new", "o_new")[0] == 200
    pr.emu.patch_payment("imp_new", status="paid")
    before = len(pr.emu.counters()["requests"])
    assert reconcile(pr.httpd) == (200, done(0, 0, 0))
    assert reconcile(pr.httpd, {"older_than": 3600, "limit": 10}) == (200, done(0, 0, 0))
    assert pr.emu.counters()["requests"][before:] == []
    assert outcomes(pr.db) == {("v1", "imp_new"): "vbank_issued"}


@pytest.mark.expect_log(r"PV0114: portone-reconcile recorded v[12] payment (imp|pay)-?_?d[0-9]: "
                        r"upstream_error: payment look-up answered HTTP 500")
def test_reconcile_with_portone_down_writes_nothing_and_counts_failed(pr):
    for i in range(2):
        pr.db.add_order("o_d%d" % i, 1000)
        pr.emu.add_payment(imp_uid="imp_d%d" % i, merchant_uid="o_d%d" % i, amount=1000,
                           status="ready", pay_method="vbank")
        assert pr.httpd.verify("imp_d%d" % i, "o_d%d" % i)[0] == 200
        pr.emu.patch_payment("imp_d%d" % i, status="paid")
    pr.db.add_order("pay-d0", 1000)
    pr.emu.add_v2_payment(paymentId="pay-d0", status="VIRTUAL_ACCOUNT_ISSUED", total=1000)
    assert pr.httpd.post("/payments/complete", {"paymentId": "pay-d0"})[0] == 200
    pr.emu.patch_v2_payment("pay-d0", status="PAID")
    rows, evs = payments(pr.db), events(pr.db)
    pr.emu.add_fault("/payments/", "status", status=500)
    assert reconcile(pr.httpd, {"older_than": 0}) == (200, done(3, 0, 3))
    assert payments(pr.db) == rows and events(pr.db) == evs
    assert all(order(pr.db, o)["state"] == "vbank_issued" for o in ("o_d0", "o_d1", "pay-d0"))
    # PortOne is back: the next run records them
    pr.emu.clear_faults()
    assert reconcile(pr.httpd, {"older_than": 0}) == (200, done(3, 3, 0))
    assert set(outcomes(pr.db).values()) == {"paid"}


@pytest.mark.parametrize("body,content_type,status,code", [
    ({"older_than": -1}, "application/json", 400, "invalid_request"),
    ({"older_than": "600"}, "application/json", 400, "invalid_request"),
    ({"older_than": 1.5}, "application/json", 400, "invalid_request"),
    ({"limit": 1001}, "application/json", 400, "invalid_request"),
    ({"limit": True}, "application/json", 400, "invalid_request"),
    ("[1]", "application/json", 400, "invalid_request"),
    ("{", "application/json", 400, "invalid_request"),
    ("limit=5", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
])
def test_reconcile_bad_requests(pr, body, content_type, status, code):
    pr.db.add_order("o_b", 1000)
    got, answer = reconcile(pr.httpd, body, content_type)
    assert (got, answer["code"]) == (status, code), answer
    assert pr.emu.counters()["requests"] == []


@pytest.mark.expect_log(r"PV0115: portone-reconcile: checked 2, changed 2, failed 0 \(older_than 0 s, "
                        r"limit 10\); PortOneTimeout was reached, 2 left for the next run")
def test_reconcile_starts_no_look_up_after_portone_timeout(pr):
    """PortOneTimeout is 3 s here; each look-up takes 2 s: the first two start
    before 3 s have passed, the others wait for the next run."""
    for i in range(4):
        pr.db.add_order("o_t%d" % i, 1000)
        pr.emu.add_payment(imp_uid="imp_t%d" % i, merchant_uid="o_t%d" % i, amount=1000,
                           status="ready", pay_method="vbank")
        assert pr.httpd.verify("imp_t%d" % i, "o_t%d" % i)[0] == 200
        pr.emu.patch_payment("imp_t%d" % i, status="paid")
    # once per payment: a process whose token the emulator's reset forgot
    # asks twice (refused, then with a new token), within one PortOneTimeout
    for i in range(4):
        pr.emu.add_fault("/payments/imp_t%d" % i, "delay", count=1, seconds=2)
    assert reconcile(pr.httpd, {"older_than": 0, "limit": 10}) == (200, done(2, 2, 0))
    assert sorted(outcomes(pr.db).values()) == ["paid"] * 2 + ["vbank_issued"] * 2
    pr.emu.clear_faults()
    assert reconcile(pr.httpd, {"older_than": 0, "limit": 10}) == (200, done(2, 2, 0))


def test_reconcile_query_of_its_own_location(make_httpd, emulator, database):
    """PortOneReconcileQuery merges per <Location>: set in one section only,
    another section of the same server reconciles without it."""
    extra = """
<Location "/shop/reconcile">
    SetHandler portone-reconcile
    PortOneReconcileQuery "%s"
</Location>
<Location "/shop/reconcile-recorded-only">
    SetHandler portone-reconcile
</Location>
""" % RECONCILE_QUERY
    h = make_httpd(v2_directives(emulator.url), extra=extra)
    database.add_order("o_q", 700)
    emulator.add_payment(imp_uid="imp_q", merchant_uid="o_q", amount=700, status="paid")
    status, _, body = h.post("/shop/reconcile-recorded-only", b"", content_type=None)
    assert (status, body) == (200, done(0, 0, 0))
    assert asked(emulator) == []
    status, _, body = h.post("/shop/reconcile", b"", content_type=None)
    assert (status, body) == (200, done(1, 1, 0))
    assert outcomes(database) == {("v1", "imp_q"): "paid"}


@pytest.mark.parametrize("sql,tag", [
    ("SELECT nothing FROM no_such_table", r"PV0004: PortOneReconcileQuery \(.*\): the SQL does not "
                                          r"prepare"),
    ("SELECT order_no FROM shop_orders WHERE x = :nope", r"PV0013: PortOneReconcileQuery .*nope"),
])
def test_reconcile_query_that_does_not_prepare_stops_httpd(make_httpd, sql, tag):
    rc, out = make_httpd({"PortOneReconcileQuery": sql}, expect_fail=True, expect_log=tag)
    assert rc != 0
    assert re.search(tag, out), out


# ---------------------------------------------------------------- review fixes

def test_reconcile_v1_order_paid_before_a_later_failed_attempt(pr):
    """An order with two V1 payments, neither recorded: the first paid, a
    second try (started later) failed. GET /payments/find/{merchant_uid}
    answers the latest started by default; the paid one is what the order
    is, so it is looked for first (/paid) and recorded, and the order is
    paid, not failed."""
    pr.db.add_order("o_two", 9000)
    now = pr.emu.now()
    pr.emu.add_payment(imp_uid="imp_two_a", merchant_uid="o_two", amount=9000, status="paid",
                       started_at=now - 100, paid_at=now - 90)
    pr.emu.add_payment(imp_uid="imp_two_b", merchant_uid="o_two", amount=9000, status="failed",
                       started_at=now - 50, failed_at=now - 40)
    assert reconcile(pr.httpd) == (200, done(1, 1, 0))
    assert order(pr.db, "o_two") == {"state": "paid", "paid_imp_uid": "imp_two_a", "updates": 1}
    assert outcomes(pr.db) == {("v1", "imp_two_a"): "paid"}
    assert events(pr.db) == [("v1", "imp_two_a", "paid")]
    assert ("GET", "/payments/find/o_two/paid") in asked(pr.emu)


def test_reconcile_v1_order_without_a_paid_payment_takes_the_latest(pr):
    """No paid payment: the latest attempt (find without a status) is recorded,
    as before: a virtual account issued on the second try."""
    pr.db.add_order("o_vb2", 7000)
    now = pr.emu.now()
    pr.emu.add_payment(imp_uid="imp_vb2_a", merchant_uid="o_vb2", amount=7000, status="failed",
                       started_at=now - 100, failed_at=now - 90)
    pr.emu.add_payment(imp_uid="imp_vb2_b", merchant_uid="o_vb2", amount=7000, status="ready",
                       pay_method="vbank", started_at=now - 50)
    assert reconcile(pr.httpd) == (200, done(1, 1, 0))
    v1 = [p for p in asked(pr.emu) if p[1].startswith("/payments/find/")]
    assert v1 == [("GET", "/payments/find/o_vb2/paid"), ("GET", "/payments/find/o_vb2")]
    assert outcomes(pr.db) == {("v1", "imp_vb2_b"): "vbank_issued"}
    assert order(pr.db, "o_vb2")["state"] == "vbank_issued"


@pytest.mark.expect_log(r"PV0115: portone-reconcile: checked 2, changed 1, failed 0 \(older_than 0 s, "
                        r"limit 10\); PortOneTimeout was reached, 1 left for the next run")
def test_reconcile_starts_no_second_api_look_up_after_portone_timeout(pr):
    """PortOneTimeout is 3 s. The recorded payment takes 2 s; the order of
    PortOneReconcileQuery then starts before 3 s, and its V1 look-ups (paid,
    then latest: 1 s each) end after them: its V2 look-up, which could take
    another PortOneTimeout (a run of three), is left for the next run."""
    pr.db.add_order("o_s0", 1000)
    pr.emu.add_payment(imp_uid="imp_s0", merchant_uid="o_s0", amount=1000, status="ready",
                       pay_method="vbank")
    assert pr.httpd.verify("imp_s0", "o_s0")[0] == 200
    pr.emu.patch_payment("imp_s0", status="paid")
    pr.db.add_order("o_s1", 1000)           # named by PortOneReconcileQuery, never paid
    # once: a process whose token the emulator's reset forgot asks twice
    pr.emu.add_fault("/payments/imp_s0", "delay", count=1, seconds=2)
    pr.emu.add_fault("/payments/find/", "delay", seconds=1)
    before = len(pr.emu.counters()["requests"])
    assert reconcile(pr.httpd, {"older_than": 0, "limit": 10}) == (200, done(2, 1, 0))
    assert asked(pr.emu, before) == [("GET", "/payments/imp_s0"),
                                     ("GET", "/payments/find/o_s1/paid"),
                                     ("GET", "/payments/find/o_s1")]
    assert outcomes(pr.db) == {("v1", "imp_s0"): "paid"}


def _many_new_orders(db, n):
    """n orders still waiting (order_no big1..bign), in one statement."""
    if db.driver == "sqlite3":
        db.execute("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) "
                   "INSERT INTO shop_orders (order_no, total_price, currency) "
                   "SELECT 'big' || n, '1000', 'KRW' FROM s" % n)
    elif db.driver == "pgsql":
        db.execute("INSERT INTO shop_orders (order_no, total_price, currency) "
                   "SELECT 'big' || n, 1000, 'KRW' FROM generate_series(1, %d) AS n" % n)
    else:                                   # MariaDB's SEQUENCE engine
        db.execute("INSERT INTO shop_orders (order_no, total_price, currency) "
                   "SELECT CONCAT('big', seq), 1000, 'KRW' FROM seq_1_to_%d" % n)


def test_reconcile_reads_a_large_reconcile_query_in_one_pass(pr):
    """A PortOneReconcileQuery without a LIMIT over 120000 waiting orders (a
    shop whose abandoned orders stay 'new'): the run still looks up the
    first `limit` of them. MariaDB's rows were read by number, each seek
    walking the stored result from its first row (n*n/2 steps: seconds, so
    that PortOneTimeout passed before the first look-up and nothing was
    ever checked)."""
    _many_new_orders(pr.db, 120000)
    assert reconcile(pr.httpd, {"limit": 2}) == (200, done(2, 0, 0))
    finds = {p[1].split("/")[3] for p in asked(pr.emu) if p[1].startswith("/payments/find/")}
    assert len(finds) == 2 and all(f.startswith("big") for f in finds), finds
