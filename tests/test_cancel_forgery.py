"""PortOneCancelForgery (contract sections 4 and 6): a forgery that PortOne
reports as paid (money taken for a wrong amount, currency, store or channel)
is cancelled in full through PortOne's API, once, and an event `refunded` is
written; V1 `POST /payments/cancel` with `checksum` (amount - cancel_amount)
and a reason, V2 `POST /payments/{id}/cancel` with `currentCancellableAmount`
and an `Idempotency-Key`. The emulator records what it was asked: exactly one
cancel per forgery however many verifications and webhooks race for it, from
several httpd processes and servers; none with the directive off, none for a
claim naming another order, none for a forgery that is not paid, none for a
recorded paid payment whose order was edited afterwards. A refused cancel is
logged and tried again by the next verification. Runs on SQLite, PostgreSQL
and MariaDB."""
import json
import re
import threading
import types
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from conftest import LogWatch, v2_directives
from harness import Httpd, make_tempdir
from portone_emulator import TEST_V2_SECRET, TEST_V2_STORE_ID

HOOK = "/portone/webhook"
FORGERY_LOG = r"PV0102: portone-(verify|webhook) .*(outcome=forgery|forged claim)"
REFUSED_LOG = r"PV0121: portone-(verify|webhook) .*PortOne refused to cancel"
UNANSWERED_LOG = r"PV0122: portone-(verify|webhook) .*no answer to the cancel"
STUCK_LOG = r"PV0125: portone-(verify|webhook) .*claimed for more than"
UNTOUCHED = {"state": "new", "paid_imp_uid": None, "updates": 0}
V2_CANCEL = re.compile(r"/payments/([^/?]+)/cancel")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def cancel_server(database, emulator):
    """An httpd per database, V1 and V2, with PortOneCancelForgery On."""
    h = Httpd(make_tempdir("pv-httpd-cancel-"), database, emulator.url,
              directives=v2_directives(emulator.url, PortOneCancelForgery="On"))
    h.start()
    yield h
    h.stop()
    LogWatch().check([h])


@pytest.fixture
def pvc(cancel_server, database, emulator, log_watch):
    """As conftest's `pv`, on the server with PortOneCancelForgery On."""
    emulator.reset()
    database.reset()
    start = len(cancel_server.read_error_log())
    log_watch.expect(FORGERY_LOG)
    yield types.SimpleNamespace(httpd=cancel_server, db=database, emu=emulator,
                                log=lambda: cancel_server.read_error_log()[start:],
                                expect_log=log_watch.expect)
    assert cancel_server.proc and cancel_server.proc.poll() is None, "httpd died"


# ---------------------------------------------------------------- helpers

class V1:
    api = "v1"

    def __init__(self, pv, uid, order, amount=10000, paid_amount=9000, **fields):
        """Order `order` of `amount` KRW, a V1 payment `uid` of it for `paid_amount`."""
        self.pv, self.uid, self.order = pv, uid, order
        pv.db.add_order(order, amount)
        fields.setdefault("status", "paid")
        pv.emu.add_payment(imp_uid=uid, merchant_uid=order, amount=paid_amount, **fields)

    def verify(self, httpd=None, claimed=None):
        return (httpd or self.pv.httpd).verify(self.uid, claimed or self.order, timeout=60)

    def webhook(self, httpd=None, form=False):
        return (httpd or self.pv.httpd).webhook(self.uid, self.order, "paid", form=form,
                                                timeout=60)

    def cancels(self):
        """The cancels PortOne was asked for: (headers, body) of each."""
        return [(r["headers"], json.loads(r["body"]))
                for r in self.pv.emu.counters()["requests"]
                if r["api"] == "v1" and r["method"] == "POST"
                and r["path"] == "/payments/cancel" and self.uid in r["body"]]

    def portone(self):
        p = self.pv.emu.get_payment(self.uid)
        return p["status"], Decimal(str(p["cancel_amount"])), len(p["cancel_history"])


class V2(V1):
    api = "v2"

    def __init__(self, pv, uid, order=None, amount=10000, paid_amount=9000, **fields):
        """Order `uid` (a V2 payment's id names its order), the payment for `paid_amount`."""
        self.pv, self.uid, self.order = pv, uid, uid
        pv.db.add_order(uid, amount)
        pv.emu.add_v2_payment(paymentId=uid, total=paid_amount, **fields)

    def verify(self, httpd=None, claimed=None):
        return (httpd or self.pv.httpd).post("/payments/complete", {"paymentId": self.uid},
                                             timeout=60)

    def webhook(self, httpd=None, form=False):
        status, headers, raw = self.pv.emu.send_v2_webhook(
            (httpd or self.pv.httpd).url + HOOK, self.uid, timeout=60)
        return status, headers, json.loads(raw)

    def cancels(self):
        out = []
        for r in self.pv.emu.counters()["requests"]:
            m = V2_CANCEL.fullmatch(r["path"])
            if r["api"] == "v2" and r["method"] == "POST" and m and m.group(1) == self.uid:
                out.append((r["headers"], json.loads(r["body"])))
        return out

    def portone(self):
        p = self.pv.emu.get_v2_payment(self.uid)
        done = [c for c in p.get("cancellations", []) if c["status"] == "SUCCEEDED"
                and c.get("trigger") == "API"]
        return p["status"], Decimal(p["amount"]["cancelled"]), len(done)


APIS = {"v1": V1, "v2": V2}


def record(pay):
    rows = pay.pv.db.query("SELECT outcome, refund FROM portone_payments WHERE api = ? "
                           "AND imp_uid = ?", (pay.api, pay.uid))
    assert len(rows) == 1, rows
    return rows[0]["outcome"], rows[0]["refund"]


def events(pay):
    return sorted(r["outcome"] for r in pay.pv.db.query(
        "SELECT outcome FROM portone_events WHERE api = ? AND imp_uid = ?", (pay.api, pay.uid)))


def order_state(pay):
    return pay.pv.db.query("SELECT state, paid_imp_uid, updates FROM shop_orders "
                           "WHERE order_no = ?", (pay.order,))[0]


def status_counters(h):
    """server-status?auto's counters of the module (all processes)."""
    with urllib.request.urlopen(h.url + "/server-status?auto", timeout=10) as r:
        text = r.read().decode()
    return {k: int(v) for k, v in re.findall(r"^PortOne(Refunds\w*): (\d+)$", text, re.M)}


def forgery_answer(resp):
    status, _, body = resp
    assert (status, body["status"]) == (400, "forgery"), resp
    return body


def check_refunded_once(pay, left):
    """One cancel asked of PortOne, for `left`; PortOne cancelled it; the record is
    a refunded forgery with the events forgery and refunded; the order untouched."""
    cancels = pay.cancels()
    assert len(cancels) == 1, cancels
    headers, body = cancels[0]
    if pay.api == "v1":
        assert set(body) == {"imp_uid", "checksum", "reason"}, body
        assert body["imp_uid"] == pay.uid
        assert Decimal(str(body["checksum"])) == Decimal(left), body
        assert headers["Authorization"].startswith("Bearer "), headers
    else:
        assert set(body) == {"reason", "currentCancellableAmount", "storeId"}, body
        assert body["currentCancellableAmount"] == int(left), body
        assert body["storeId"] == TEST_V2_STORE_ID
        assert headers["Authorization"] == "PortOne " + TEST_V2_SECRET
        key = headers["Idempotency-Key"]
        assert re.fullmatch(r'"pv-cancel-[0-9a-f]{40}-%s-[0-9a-f]{16}"' % left, key), key
    assert isinstance(body["reason"], str) and body["reason"], body
    status, cancelled, n = pay.portone()
    assert status in ("cancelled", "CANCELLED") and n == 1, (status, cancelled, n)
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]
    assert order_state(pay) == UNTOUCHED


# ---------------------------------------------------------------- once

@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_paid_forgery_is_cancelled_once_with_a_refunded_event(pvc, api):
    before = status_counters(pvc.httpd)
    pay = APIS[api](pvc, "cf-once-" + api, "o-cf-once-" + api)
    forgery_answer(pay.verify())
    check_refunded_once(pay, "9000")
    after = status_counters(pvc.httpd)
    assert (after["Refunds"] - before["Refunds"],
            after["RefundsFailed"] - before["RefundsFailed"]) == (1, 0), (before, after)
    assert re.search(r"PV0120: portone-verify .*%s.* cancelled in full through PortOne "
                     r"\(PortOneCancelForgery\): 9000 KRW" % pay.uid, pvc.log())
    # again, by the browser and by the webhook: PortOne now says cancelled
    forgery_answer(pay.verify())
    status, _, body = pay.webhook()
    assert (status, body["status"]) == (200, "forgery"), body
    check_refunded_once(pay, "9000")


def race(pay, servers, n=50):
    """n verifications and webhooks of `pay`, mixed, over `servers`, at once."""
    start = threading.Barrier(n)

    def one(i):
        h = servers[i % len(servers)]
        start.wait(60)
        if i % 2:
            return pay.webhook(h, form=bool(i % 4 == 1))
        return pay.verify(h)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("servers", ["one", "two"])
def test_concurrent_verifications_and_webhooks_cancel_once(pvc, make_httpd, api, servers):
    hosts = [pvc.httpd]
    if servers == "two":
        # a second server on the same database, four children of four threads, beside
        # the session's (two children of eight). Not prefork: the harness starts httpd
        # in the tests' process group, and prefork's parent signals its whole group
        # when it stops.
        hosts.append(make_httpd(directives=v2_directives(pvc.emu.url,
                                                          PortOneCancelForgery="On"),
                                servers=4, threads=4, expect_log=[FORGERY_LOG]))
    pay = APIS[api](pvc, "cf-race-%s-%s" % (api, servers), "o-cf-race-%s-%s" % (api, servers))
    results = race(pay, hosts)
    for status, _, body in results:
        assert status in (200, 400) and body["status"] == "forgery", (status, body)
    check_refunded_once(pay, "9000")
    pids = set()
    for h in hosts:
        pids |= set(re.findall(r"^\S+ (\d+) ", h.read_access_log(), re.M))
    assert len(pids) >= 2, "all requests were served by one httpd process"


# ---------------------------------------------------------------- never

@pytest.mark.parametrize("api", ["v1", "v2"])
def test_with_the_directive_off_nothing_is_cancelled(pv2, api):
    pv2.expect_log(FORGERY_LOG)
    pay = APIS[api](pv2, "cf-off-" + api, "o-cf-off-" + api)
    forgery_answer(pay.verify())
    pay.webhook()
    assert pay.cancels() == []
    assert record(pay) == ("forgery", None)
    assert events(pay) == ["forgery"]
    assert pay.portone()[2] == 0


def test_a_claim_naming_another_order_cancels_nothing(pvc):
    # a genuine payment claimed for another order: answered forgery, nothing cancelled
    pvc.db.add_order("o-cf-other", 50000)
    pay = V1(pvc, "cf-claim-genuine", "o-cf-claim-genuine", paid_amount=10000)
    forgery_answer(pay.verify(claimed="o-cf-other"))
    assert pay.cancels() == []
    assert record(pay) == ("paid", None)
    assert events(pay) == ["paid"]
    # a forged payment claimed for another order: recorded as the forgery it is, but
    # that claim cancels nothing; the verification of its own order does
    forged = V1(pvc, "cf-claim-forged", "o-cf-claim-forged")
    forgery_answer(forged.verify(claimed="o-cf-other"))
    assert forged.cancels() == []
    assert record(forged) == ("forgery", None)
    forgery_answer(forged.verify())
    check_refunded_once(forged, "9000")


NOT_PAID = {
    "v1": [dict(status="failed"), dict(status="cancelled"),
           dict(status="ready", pay_method="vbank", vbank_num="T0001", vbank_name="KB",
                vbank_date=1900000000)],
    "v2": [dict(status="FAILED"), dict(status="CANCELLED"), dict(status="READY"),
           dict(status="PAY_PENDING"), dict(status="VIRTUAL_ACCOUNT_ISSUED")],
}


@pytest.mark.parametrize("api,case", [(a, i) for a in NOT_PAID for i in range(len(NOT_PAID[a]))])
def test_a_forgery_that_is_not_paid_is_never_cancelled(pvc, api, case):
    fields = NOT_PAID[api][case]
    pay = APIS[api](pvc, "cf-np-%s-%d" % (api, case), "o-cf-np-%s-%d" % (api, case), **fields)
    forgery_answer(pay.verify())
    pay.webhook()
    assert pay.cancels() == []
    assert record(pay) == ("forgery", None)
    assert events(pay) == ["forgery"]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_recorded_paid_payment_is_never_cancelled_after_an_order_edit(pvc, api):
    pay = APIS[api](pvc, "cf-edit-" + api, "o-cf-edit-" + api, amount=10000,
                    paid_amount=10000)
    status, _, body = pay.verify()
    assert (status, body["status"]) == (200, "success"), body
    pvc.db.execute("UPDATE shop_orders SET total_price = '12000' WHERE order_no = ?",
                   (pay.order,))
    forgery_answer(pay.verify())
    assert pay.webhook()[2]["status"] == "forgery"
    assert pay.cancels() == []
    assert record(pay) == ("paid", None)
    assert events(pay) == ["paid"]
    assert pay.portone()[2] == 0


@pytest.mark.parametrize("api,due", [(a, d) for a in ("v1", "v2")
                                      for d in ("10,000", "10000 KRW")])
def test_an_order_amount_that_is_not_a_number_cancels_nothing(pvc, api, due):
    """The shop's amount is text that is no number: the payment is a forgery (never
    recorded paid), but nothing shows PortOne took a wrong amount: no cancel."""
    if pvc.db.driver != "sqlite3":
        pytest.skip("the harness's total_price is TEXT on SQLite only (NUMERIC elsewhere)")
    pay = APIS[api](pvc, "cf-nan-%s-%d" % (api, len(due)), "o-cf-nan-%s-%d" % (api, len(due)),
                    amount=due, paid_amount=10000)
    check_not_a_number_cancels_nothing(pvc, pay)


def check_not_a_number_cancels_nothing(pvc, pay, httpd=None):
    forgery_answer(pay.verify(httpd))
    assert pay.webhook(httpd)[2]["status"] == "forgery"
    assert pay.cancels() == []
    assert record(pay) == ("forgery", None)
    assert events(pay) == ["forgery"]
    assert pay.portone()[0] in ("paid", "PAID") and pay.portone()[2] == 0
    log = (httpd.read_error_log() if httpd else pvc.log())
    assert re.search(r"PV0102: portone-verify .*%s.*outcome=forgery .*amount differs from "
                     r"the order" % re.escape(pay.uid), log), log
    assert not re.search(r"PV012[0-4]: .*%s" % re.escape(pay.uid), log), log


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_order_query_giving_no_amount_cancels_nothing(pvc, make_httpd, api):
    """PortOneOrderQuery gives NULL as the amount (an order not priced yet): a
    forgery, never cancelled (every back-end)."""
    h = make_httpd(directives=v2_directives(
        pvc.emu.url, PortOneCancelForgery="On",
        PortOneOrderQuery="SELECT NULL, currency FROM shop_orders "
                          "WHERE order_no = :merchant_uid"),
        expect_log=[FORGERY_LOG])
    pay = APIS[api](pvc, "cf-null-" + api, "o-cf-null-" + api, paid_amount=10000)
    check_not_a_number_cancels_nothing(pvc, pay, h)


@pytest.mark.parametrize("api,currency", [(a, c) for a in ("v1", "v2")
                                           for c in ("krw", "KRW ")])
def test_an_order_currency_that_is_not_a_code_cancels_nothing(pvc, api, currency):
    """The order's currency is the payment's written otherwise (lower case, a
    padded column): a forgery as the contract compares the text, but nothing
    shows a payment in another currency: no cancel (every back-end)."""
    tag = "%s-%d" % (api, len(currency))
    pay = APIS[api](pvc, "cf-cur-" + tag, "o-cf-cur-" + tag, amount=10000, paid_amount=10000)
    pvc.db.execute("UPDATE shop_orders SET currency = ? WHERE order_no = ?",
                   (currency, pay.order))
    forgery_answer(pay.verify())
    assert pay.webhook()[2]["status"] == "forgery"
    assert pay.cancels() == []
    assert record(pay) == ("forgery", None)
    assert events(pay) == ["forgery"]
    assert pay.portone()[0] in ("paid", "PAID") and pay.portone()[2] == 0


# ---------------------------------------------------------------- amounts

@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_partially_cancelled_forgery_is_cancelled_for_the_rest(pvc, api):
    if api == "v1":
        # V1 has no partial status: paid with a cancel_amount
        pay = V1(pvc, "cf-part-v1", "o-cf-part-v1", paid_amount=9000, cancel_amount=3000)
    else:
        pay = V2(pvc, "cf-part-v2", paid_amount=9000, status="PARTIAL_CANCELLED",
                 cancelledAmount=3000)
    forgery_answer(pay.verify())
    cancels = pay.cancels()
    assert len(cancels) == 1, cancels
    body = cancels[0][1]
    if api == "v1":
        assert Decimal(str(body["checksum"])) == 6000, body
    else:
        assert body["currentCancellableAmount"] == 6000, body
    status, cancelled, n = pay.portone()
    assert status in ("cancelled", "CANCELLED") and cancelled == 9000 and n == 1
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]


def test_a_decimal_amount_is_cancelled_with_its_exact_checksum(pvc):
    pvc.db.add_order("o-cf-usd", "12.50", "USD")
    pvc.emu.add_payment(imp_uid="cf-usd", merchant_uid="o-cf-usd", amount=10.25,
                        cancel_amount=0.1, currency="USD", status="paid")
    pay = V1.__new__(V1)
    pay.pv, pay.uid, pay.order = pvc, "cf-usd", "o-cf-usd"
    forgery_answer(pay.verify())
    [(_, body)] = pay.cancels()
    assert Decimal(str(body["checksum"])) == Decimal("10.15"), body
    assert record(pay) == ("forgery", "refunded")


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_refused_cancel_is_logged_and_tried_again_by_the_next_verification(pvc, api):
    pvc.expect_log(REFUSED_LOG)
    pay = APIS[api](pvc, "cf-refused-" + api, "o-cf-refused-" + api)
    if api == "v1":
        pvc.emu.add_fault("/payments/cancel", "refuse", count=1, api="v1")
    else:
        # PortOne takes the request and the PG refuses: a FAILED cancellation
        pvc.emu.patch_v2_payment(pay.uid, __cancel_status__="FAILED")
    forgery_answer(pay.verify())
    assert len(pay.cancels()) == 1
    assert re.search(r"PV0121: portone-verify .*%s.*PortOne refused to cancel 9000 KRW" % pay.uid,
                     pvc.log())
    # the forgery is recorded, no refunded event, the claim given back
    assert record(pay) == ("forgery", None)
    assert events(pay) == ["forgery"]
    assert pay.portone()[0] in ("paid", "PAID")
    if api == "v2":
        pvc.emu.patch_v2_payment(pay.uid, __cancel_status__="SUCCEEDED")
    # the next verification (here PortOne's webhook) cancels it
    assert pay.webhook()[2]["status"] == "forgery"
    cancels = pay.cancels()
    assert len(cancels) == 2, cancels
    if api == "v2":
        # a new attempt is a new request to PortOne, not the replay of the refusal
        assert cancels[0][0]["Idempotency-Key"] != cancels[1][0]["Idempotency-Key"]
    status, _, n = pay.portone()
    assert status in ("cancelled", "CANCELLED") and n == 1
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]
    forgery_answer(pay.verify())
    assert len(pay.cancels()) == 2


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_unanswered_cancel_is_settled_by_the_next_verification(pvc, api):
    pvc.expect_log(UNANSWERED_LOG)
    pay = APIS[api](pvc, "cf-lost-" + api, "o-cf-lost-" + api)
    # PortOne cancels it, but its answer stops half-way (past PortOneTimeout)
    path = "/payments/cancel" if api == "v1" else "/payments/%s/cancel" % pay.uid
    pvc.emu.add_fault(path, "stall", count=1, api=api, seconds=10)
    forgery_answer(pay.verify())
    assert re.search(r"PV0122: portone-verify .*%s.*no answer to the cancel of 9000 KRW"
                     % pay.uid, pvc.log())
    assert record(pay) == ("forgery", "unanswered")
    assert events(pay) == ["forgery"]
    # PortOne says cancelled now: recorded refunded, nothing more is asked
    assert pay.webhook()[2]["status"] == "forgery"
    assert re.search(r"PV0124: portone-webhook .*%s.*the unanswered cancel went through"
                     % pay.uid, pvc.log())
    forgery_answer(pay.verify())
    assert len(pay.cancels()) == 1
    status, _, n = pay.portone()
    assert status in ("cancelled", "CANCELLED") and n == 1
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_unanswered_cancel_that_did_not_go_through_is_sent_again(pvc, api):
    pvc.expect_log(UNANSWERED_LOG)
    pay = APIS[api](pvc, "cf-drop-" + api, "o-cf-drop-" + api)
    # the connection closes before PortOne reads the cancel (on a new connection:
    # libcurl does not send it again by itself)
    path = "/payments/cancel" if api == "v1" else "/payments/%s/cancel" % pay.uid
    pvc.emu.add_fault(path, "drop", count=1, api=api)
    forgery_answer(pay.verify())
    assert record(pay) == ("forgery", "unanswered")
    assert pay.portone()[0] in ("paid", "PAID")
    forgery_answer(pay.verify())
    check_refunded_once_after(pay, 2)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_stale_look_up_refused_after_an_unanswered_cancel_keeps_it_unanswered(pvc, api):
    """The first cancel went through but its answer was lost (unanswered); a
    verification with a look-up from before it (PortOne: paid) claims the cancel
    again, and PortOne refuses that second one (already cancelled). The refusal
    says nothing about the first: the claim stays unanswered, so the next
    verification records it refunded, with its event."""
    pvc.expect_log(UNANSWERED_LOG, REFUSED_LOG)
    pay = APIS[api](pvc, "cf-stale-" + api, "o-cf-stale-" + api)
    if api == "v1":
        path = "/payments/" + pay.uid
        stale = {"code": 0, "message": None, "response": pvc.emu.get_payment(pay.uid)}
        cancel = "/payments/cancel"
    else:
        path = "/payments/%s?" % pay.uid
        stale = pvc.emu.get_v2_payment(pay.uid)
        cancel = "/payments/%s/cancel" % pay.uid
    # PortOne cancels it, its answer is lost
    pvc.emu.add_fault(cancel, "lost", count=1, api=api)
    forgery_answer(pay.verify())
    assert record(pay) == ("forgery", "unanswered")
    status, _, n = pay.portone()
    assert status in ("cancelled", "CANCELLED") and n == 1
    # a look-up answered before that cancel (a slow one): PortOne said paid
    pvc.emu.add_fault(path, "garbage", count=1, api=api, body=json.dumps(stale))
    forgery_answer(pay.verify())
    # sent again, and refused (V1: once more after a 401 when the process's
    # token is older than the emulator's reset: the stale answer asked none)
    asked = len(pay.cancels())
    assert asked in ((2,) if api == "v2" else (2, 3)), pay.cancels()
    assert re.search(r"PV0121: portone-verify .*%s.*PortOne refused to cancel .*a cancel "
                     r"sent before went unanswered: it stays unanswered" % pay.uid, pvc.log())
    assert record(pay) == ("forgery", "unanswered")
    # the next verification sees it cancelled: refunded, nothing more sent
    forgery_answer(pay.verify())
    check_refunded_once_after(pay, asked)


def check_refunded_once_after(pay, asked):
    assert len(pay.cancels()) == asked
    status, _, n = pay.portone()
    assert status in ("cancelled", "CANCELLED") and n == 1
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_claim_left_by_a_crash_sends_nothing_until_an_admin_gives_it_back(pvc, api):
    pay = APIS[api](pvc, "cf-crash-" + api, "o-cf-crash-" + api)
    pvc.emu.add_fault("/payments/cancel" if api == "v1" else "/payments/%s/cancel" % pay.uid,
                      "refuse", count=1, api=api)
    pvc.expect_log(REFUSED_LOG)
    forgery_answer(pay.verify())            # recorded, the cancel refused
    # as if a process had claimed the cancel and died before recording PortOne's answer
    pvc.db.execute("UPDATE portone_payments SET refund = 'claimed' WHERE imp_uid = ?",
                   (pay.uid,))
    forgery_answer(pay.verify())
    pay.webhook()
    assert len(pay.cancels()) == 1
    assert record(pay) == ("forgery", "claimed")
    # the admin settles it as docs/security.md says: marked unanswered, verified
    # again; PortOne still reports it paid, so the cancel is sent again
    pvc.db.execute("UPDATE portone_payments SET refund = 'unanswered' WHERE imp_uid = ? "
                   "AND refund = 'claimed'", (pay.uid,))
    forgery_answer(pay.verify())
    check_refunded_once_after(pay, 2)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_claim_left_by_a_crash_after_portone_cancelled_is_settled(pvc, api):
    pay = APIS[api](pvc, "cf-crash2-" + api, "o-cf-crash2-" + api)
    pvc.emu.add_fault("/payments/cancel" if api == "v1" else "/payments/%s/cancel" % pay.uid,
                      "refuse", count=1, api=api)
    pvc.expect_log(REFUSED_LOG)
    forgery_answer(pay.verify())
    # a process claimed it, PortOne cancelled it, the process died before recording
    pvc.db.execute("UPDATE portone_payments SET refund = 'claimed' WHERE imp_uid = ?",
                   (pay.uid,))
    if api == "v1":
        pvc.emu.patch_payment(pay.uid, status="cancelled", cancel_amount=9000)
    else:
        pvc.emu.patch_v2_payment(pay.uid, status="CANCELLED", cancelledAmount=9000)
    forgery_answer(pay.verify())
    assert record(pay) == ("forgery", "claimed")
    pvc.db.execute("UPDATE portone_payments SET refund = 'unanswered' WHERE imp_uid = ? "
                   "AND refund = 'claimed'", (pay.uid,))
    forgery_answer(pay.verify())
    assert len(pay.cancels()) == 1          # only the refused one
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]


@pytest.mark.parametrize("api,portone", [(a, p) for a in ("v1", "v2")
                                          for p in ("paid", "cancelled")])
def test_a_claim_left_for_hours_is_told_to_the_admin(pvc, api, portone):
    """A claim no process settled (httpd killed between the claim and PortOne's
    answer) is never sent again on its own: a verification that finds it claimed
    for more than two hours says so at warn (PV0125), whatever PortOne reports;
    a fresh claim (a cancel under way) is not reported."""
    pay = APIS[api](pvc, "cf-old-%s-%s" % (api, portone), "o-cf-old-%s-%s" % (api, portone))
    pvc.emu.add_fault("/payments/cancel" if api == "v1" else "/payments/%s/cancel" % pay.uid,
                      "refuse", count=1, api=api)
    pvc.expect_log(REFUSED_LOG, STUCK_LOG)
    forgery_answer(pay.verify())
    pvc.db.execute("UPDATE portone_payments SET refund = 'claimed' WHERE imp_uid = ?",
                   (pay.uid,))
    forgery_answer(pay.verify())            # claimed just now: under way
    assert not re.search(r"PV0125: ", pvc.log())
    pvc.db.execute("UPDATE portone_payments SET updated_at = '2000-01-01 00:00:00' "
                   "WHERE imp_uid = ?", (pay.uid,))
    if portone == "cancelled":
        if api == "v1":
            pvc.emu.patch_payment(pay.uid, status="cancelled", cancel_amount=9000)
        else:
            pvc.emu.patch_v2_payment(pay.uid, status="CANCELLED", cancelledAmount=9000)
    forgery_answer(pay.verify())
    assert re.search(r"PV0125: portone-verify .*%s.*outcome=forgery: its cancel has been "
                     r"claimed for more than 2 hours" % pay.uid, pvc.log()), pvc.log()
    assert len(pay.cancels()) == 1          # only the refused one
    assert record(pay) == ("forgery", "claimed")
    assert events(pay) == ["forgery"]


FORGED = {
    # a payment of the order's amount, but in another currency, through a test
    # channel, or of another store: each a forgery that took money
    "v1-currency": ("v1", dict(paid_amount=10000, currency="USD")),
    "v2-currency": ("v2", dict(paid_amount=10000, currency="USD")),
    "v2-test-channel": ("v2", dict(paid_amount=10000, channel_type="TEST")),
    "v2-other-store": ("v2", dict(paid_amount=10000, storeId="store-other")),
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_every_kind_of_forgery_that_took_money_is_cancelled(pvc, case):
    api, fields = FORGED[case]
    if fields.get("storeId"):
        # an upstream that answers a payment of another store (see the emulator)
        pvc.emu.configure(v2_store_check=False)
    pay = APIS[api](pvc, "cf-kind-" + case, "o-cf-kind-" + case, **fields)
    forgery_answer(pay.verify())
    cancels = pay.cancels()
    assert len(cancels) == 1, cancels
    if fields.get("storeId"):
        # the payment's own store is named
        assert cancels[0][1]["storeId"] == "store-other"
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]
    assert pay.portone()[0] in ("cancelled", "CANCELLED")


def test_a_v2_cancel_requested_at_the_pg_counts_as_done(pvc):
    # PortOne took the cancel and the PG has yet to finish it (REQUESTED): the
    # cancel is PortOne's now; it is recorded refunded and never sent again
    pay = V2(pvc, "cf-requested")
    pvc.emu.patch_v2_payment(pay.uid, __cancel_status__="REQUESTED")
    forgery_answer(pay.verify())
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]
    assert re.search(r"PV0120: portone-verify .*cf-requested.*\(cancellation REQUESTED\)",
                     pvc.log())
    forgery_answer(pay.verify())
    assert pay.webhook()[2]["status"] == "forgery"
    assert len(pay.cancels()) == 1


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_cancel_whose_answer_cannot_be_recorded_stays_claimed(pvc, api):
    import dbfaults
    pvc.expect_log(REFUSED_LOG, r"PV0123: portone-verify .*could not be recorded")
    pay = APIS[api](pvc, "cf-dbfail-" + api, "o-cf-dbfail-" + api)
    pvc.emu.add_fault("/payments/cancel" if api == "v1" else "/payments/%s/cancel" % pay.uid,
                      "refuse", count=1, api=api)
    forgery_answer(pay.verify())            # recorded; this cancel refused
    # the database refuses the refunded event: PortOne cancels, the answer is lost
    dbfaults.fail_inserts(pvc.db, "portone_events", "no more events")
    try:
        forgery_answer(pay.verify())
    finally:
        dbfaults.repair_inserts(pvc.db, "portone_events")
    assert re.search(r"PV0123: portone-verify .*%s.*the cancel's answer \(cancelled\) could "
                     r"not be recorded" % pay.uid, pvc.log())
    assert pay.portone()[0] in ("cancelled", "CANCELLED")
    assert record(pay) == ("forgery", "claimed")
    assert events(pay) == ["forgery"]
    # settled as docs/security.md says
    pvc.db.execute("UPDATE portone_payments SET refund = 'unanswered' WHERE imp_uid = ? "
                   "AND refund = 'claimed'", (pay.uid,))
    forgery_answer(pay.verify())
    assert len(pay.cancels()) == 2
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]


def test_a_v1_cancel_refused_with_401_refreshes_the_token_and_asks_once_more(pvc):
    pay = V1(pvc, "cf-401", "o-cf-401")
    pvc.emu.add_fault("/payments/cancel", "unauthorized", count=1, api="v1")
    forgery_answer(pay.verify())
    assert len(pay.cancels()) == 2
    # the cancel, refused with 401; a token asked for; the cancel again
    calls = [r["path"] for r in pvc.emu.counters()["requests"]
             if r["path"] in ("/payments/cancel", "/users/getToken")]
    assert calls[-3:] == ["/payments/cancel", "/users/getToken", "/payments/cancel"], calls
    assert record(pay) == ("forgery", "refunded")
    assert events(pay) == ["forgery", "refunded"]


def test_a_forgery_found_by_portone_reconcile_is_cancelled_once(pvc, make_httpd):
    # the browser closed and the webhook was lost; cron's reconcile finds the order's
    # payment, a forgery that took money, and cancels it like any verification
    extra = ('<Location "/portone/reconcile">\n    SetHandler portone-reconcile\n'
             '    Require ip 127.0.0.1\n</Location>\n')
    h = make_httpd(directives=v2_directives(
        pvc.emu.url, PortOneCancelForgery="On",
        PortOneReconcileQuery="SELECT order_no FROM shop_orders WHERE state = 'new'"),
        extra=extra, expect_log=[r"PV0113: portone-reconcile .*outcome=forgery"])
    pay = V1(pvc, "cf-rec", "o-cf-rec")
    for _ in range(2):
        status, _, body = h.post("/portone/reconcile", b"", content_type=None, timeout=60)
        assert status == 200 and body["status"] == "done", body
    assert re.search(r"PV0120: portone-reconcile .*cf-rec.* cancelled in full", h.read_error_log())
    check_refunded_once(pay, "9000")
