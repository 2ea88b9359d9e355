"""portone-verify with PortOne V2 (contract sections 3, 5, 6, 8): the front-end
posts {"paymentId"}; the module looks the payment up with
GET {PortOneV2URL}/payments/{paymentId}?storeId=... and
`Authorization: PortOne <secret>`, and records it under api 'v2' with
PortOne's own status text. Every status, every forgery check, the upstream
errors, paymentIds that need percent-encoding, and V1 beside V2 in one server
and one database (the order-level rule across both APIs). Runs on SQLite,
PostgreSQL and MariaDB; `pv2` is the session's V1+V2 server (conftest)."""
import json
import re
from datetime import datetime
from urllib.parse import parse_qs, unquote

import pytest

from conftest import v2_directives
from portone_emulator import TEST_V2_SECRET, TEST_V2_STORE_ID
import shop_checks
from shop_checks import dec, json_answer, order  # noqa: F401

MSG_PAID = "일반 결제 성공"
MSG_VBANK = "가상계좌 발급 성공"
MSG_FORGERY = "위조된 결제시도"

FORGERY_LOG = r"PV0102: portone-verify .*outcome=forgery"
UPSTREAM_LOG = r"PV0101: portone-verify .*upstream_(error|auth_failed)"
UNTOUCHED = {"state": "new", "paid_imp_uid": None, "updates": 0}


# ---------------------------------------------------------------- helpers

def verify2(httpd, body):
    """POST the V2 claim (a paymentId, or a whole body); the answer is JSON, never cached."""
    if isinstance(body, str):
        body = {"paymentId": body}
    return json_answer(*httpd.post("/payments/complete", body))


def payments(db):
    return shop_checks.payments(db, with_api=True)


def events(db):
    return shop_checks.events(db, with_api=True)


def only_v2_payment(db, pid, outcome, status):
    rows = payments(db)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["api"], row["imp_uid"], row["merchant_uid"], row["outcome"], row["status"]) == \
        ("v2", pid, pid, outcome, status), row
    return row


def v2_event(pid, outcome):
    return {"api": "v2", "imp_uid": pid, "merchant_uid": pid, "outcome": outcome}


def unix(rfc3339):
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


def requests(emu, api=None):
    return [r for r in emu.counters()["requests"] if api is None or r["api"] == api]


def nothing_recorded(db, order_no=None):
    assert payments(db) == [] and events(db) == []
    if order_no is not None:
        assert order(db, order_no) == UNTOUCHED


# ---------------------------------------------------------------- statuses

def test_paid(pv2):
    pv2.db.add_order("pay-paid", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-paid", status="PAID", total=10000)
    for _ in range(3):      # exactly once, however often it is verified
        status, body = verify2(pv2.httpd, "pay-paid")
        assert status == 200, body
        assert (body["status"], body["message"], body["paymentId"]) == \
            ("success", MSG_PAID, "pay-paid"), body
    row = only_v2_payment(pv2.db, "pay-paid", "paid", "PAID")
    assert dec(row["amount"]) == 10000 and dec(row["cancel_amount"]) == 0
    assert row["currency"] == "KRW" and row["pay_method"] == "PaymentMethodCard"
    response = json.loads(row["response"])      # PortOne's whole Payment
    assert response["id"] == "pay-paid" and response["amount"]["total"] == 10000
    assert int(row["paid_at"]) == unix(response["paidAt"]) > 0
    assert events(pv2.db) == [v2_event("pay-paid", "paid")]
    assert order(pv2.db, "pay-paid") == {"state": "paid", "paid_imp_uid": "pay-paid", "updates": 1}


def test_virtual_account_issued(pv2):
    pv2.db.add_order("pay-vb", 25000)
    pv2.emu.add_v2_payment(paymentId="pay-vb", status="VIRTUAL_ACCOUNT_ISSUED", total=25000)
    method = pv2.emu.get_v2_payment("pay-vb")["method"]
    for _ in range(2):
        status, body = verify2(pv2.httpd, "pay-vb")
        assert status == 200, body
        assert (body["status"], body["message"], body["paymentId"]) == \
            ("vbankIssued", MSG_VBANK, "pay-vb"), body
        assert body["vbank_num"] == method["accountNumber"] == "T0309260000001"
        assert body["vbank_name"] == method["bank"] == "KOOKMIN"
        assert body["vbank_date"] == unix(method["expiredAt"])
    # the status text is PortOne's, 22 characters
    row = only_v2_payment(pv2.db, "pay-vb", "vbank_issued", "VIRTUAL_ACCOUNT_ISSUED")
    assert (row["vbank_num"], row["vbank_name"], int(row["vbank_date"])) == \
        ("T0309260000001", "KOOKMIN", unix(method["expiredAt"]))
    assert row["pay_method"] == "PaymentMethodVirtualAccount"
    assert events(pv2.db) == [v2_event("pay-vb", "vbank_issued")]
    assert order(pv2.db, "pay-vb") == {"state": "vbank_issued", "paid_imp_uid": "pay-vb",
                                       "updates": 1}
    # the deposit: Paid, with its own event and order update
    pv2.emu.patch_v2_payment("pay-vb", status="PAID")
    status, body = verify2(pv2.httpd, "pay-vb")
    assert (status, body["status"]) == (200, "success"), body
    only_v2_payment(pv2.db, "pay-vb", "paid", "PAID")
    assert events(pv2.db) == [v2_event("pay-vb", "paid"), v2_event("pay-vb", "vbank_issued")]
    assert order(pv2.db, "pay-vb") == {"state": "paid", "paid_imp_uid": "pay-vb", "updates": 2}


@pytest.mark.parametrize("portone_status", ["READY", "PAY_PENDING"])
def test_ready_and_pay_pending_are_pending_without_event_or_order_update(pv2, portone_status):
    pid = "pay-" + portone_status.lower()
    pv2.db.add_order(pid, 10000)
    pv2.emu.add_v2_payment(paymentId=pid, status=portone_status, total=10000)
    for _ in range(2):
        status, body = verify2(pv2.httpd, pid)
        assert status == 409, body
        assert (body["status"], body["paymentId"]) == ("pending", pid), body
        assert "vbank_num" not in body
    only_v2_payment(pv2.db, pid, "pending", portone_status)
    assert events(pv2.db) == []
    assert order(pv2.db, pid) == UNTOUCHED


@pytest.mark.parametrize("portone_status,outcome", [("FAILED", "failed"),
                                                    ("CANCELLED", "cancelled")])
def test_failed_and_cancelled_are_409_and_recorded(pv2, portone_status, outcome):
    pid = "pay-" + outcome
    pv2.db.add_order(pid, 10000)
    pv2.emu.add_v2_payment(paymentId=pid, status=portone_status, total=10000)
    for _ in range(2):
        status, body = verify2(pv2.httpd, pid)
        assert status == 409, body
        assert (body["status"], body["paymentId"]) == (outcome, pid), body
    row = only_v2_payment(pv2.db, pid, outcome, portone_status)
    assert dec(row["amount"]) == 10000
    assert dec(row["cancel_amount"]) == (10000 if outcome == "cancelled" else 0)
    assert events(pv2.db) == [v2_event(pid, outcome)]
    assert order(pv2.db, pid) == {"state": outcome, "paid_imp_uid": pid, "updates": 1}


def test_partial_cancelled_is_paid_with_its_cancel_amount(pv2):
    pv2.db.add_order("pay-part", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-part", status="PAID", total=10000)
    assert verify2(pv2.httpd, "pay-part")[0] == 200
    pv2.emu.patch_v2_payment("pay-part", status="PARTIAL_CANCELLED", cancelledAmount=3000)
    for _ in range(2):
        status, body = verify2(pv2.httpd, "pay-part")
        assert (status, body["status"], body["paymentId"]) == (200, "success", "pay-part"), body
    row = only_v2_payment(pv2.db, "pay-part", "paid", "PARTIAL_CANCELLED")
    assert dec(row["amount"]) == 10000 and dec(row["cancel_amount"]) == 3000
    # the row follows PortOne; no new event, no order update
    assert events(pv2.db) == [v2_event("pay-part", "paid")]
    assert order(pv2.db, "pay-part") == {"state": "paid", "paid_imp_uid": "pay-part", "updates": 1}


def test_partial_cancelled_first_seen_is_paid(pv2):
    pv2.db.add_order("pay-part2", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-part2", status="PARTIAL_CANCELLED", total=10000,
                           cancelledAmount=2500)
    status, body = verify2(pv2.httpd, "pay-part2")
    assert (status, body["status"]) == (200, "success"), body
    row = only_v2_payment(pv2.db, "pay-part2", "paid", "PARTIAL_CANCELLED")
    assert dec(row["cancel_amount"]) == 2500
    assert events(pv2.db) == [v2_event("pay-part2", "paid")]
    assert order(pv2.db, "pay-part2")["state"] == "paid"


# ---------------------------------------------------------------- forgeries

FORGERIES = {
    "amount": dict(total=9000),
    "currency": dict(currency="USD"),
    "test_channel": dict(channel_type="TEST"),
    "other_store": dict(storeId="store-00000000-0000-4000-8000-000000000bad"),
}


@pytest.mark.expect_log(FORGERY_LOG)
@pytest.mark.parametrize("status_", ["PAID", "CANCELLED"])
@pytest.mark.parametrize("kind", sorted(FORGERIES))
def test_forgery(pv2, kind, status_):
    pid = "pay-forged-" + kind
    pv2.db.add_order(pid, 10000)
    fields = dict(paymentId=pid, status=status_, total=10000)
    fields.update(FORGERIES[kind])
    if kind == "other_store":
        pv2.emu.configure(v2_store_check=False)     # PortOne answers another store's payment
    pv2.emu.add_v2_payment(**fields)
    for _ in range(2):
        status, body = verify2(pv2.httpd, pid)
        assert status == 400, body
        assert (body["status"], body["message"], body["paymentId"]) == \
            ("forgery", MSG_FORGERY, pid), body
    row = only_v2_payment(pv2.db, pid, "forgery", status_)
    assert dec(row["amount"]) == fields["total"]
    assert row["currency"] == fields.get("currency", "KRW")
    assert events(pv2.db) == [v2_event(pid, "forgery")]
    assert order(pv2.db, pid) == UNTOUCHED
    assert re.search(r"PV0102: portone-verify .*%s.*outcome=forgery" % re.escape(pid), pv2.log())
    lookups = requests(pv2.emu, "v2")
    assert lookups and all(parse_qs(r["path"].partition("?")[2]).get("storeId") ==
                           [TEST_V2_STORE_ID] for r in lookups), lookups


def test_test_channel_is_paid_with_sandbox_on(make_httpd, database, emulator):
    h = make_httpd(directives=v2_directives(emulator.url, PortOneSandbox="On"))
    database.add_order("pay-sandbox", 10000)
    emulator.add_v2_payment(paymentId="pay-sandbox", status="PAID", total=10000,
                            channel_type="TEST")
    status, body = verify2(h, "pay-sandbox")
    assert (status, body["status"]) == (200, "success"), body
    only_v2_payment(database, "pay-sandbox", "paid", "PAID")
    assert order(database, "pay-sandbox")["state"] == "paid"


@pytest.mark.expect_log(UPSTREAM_LOG)
def test_an_answer_for_another_payment_id_records_nothing(pv2):
    """PortOne's `id` must be the paymentId asked (section 8): an answer about
    another payment is not the documented answer (the core's
    pv_portone_v2_parse_payment: upstream_error), and nothing is recorded for
    either id."""
    pv2.db.add_order("pay-asked", 10000)
    pv2.db.add_order("pay-other", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-asked", status="PAID", total=10000, id="pay-other")
    status, body = verify2(pv2.httpd, "pay-asked")
    assert (status, body["status"], body["code"]) == (502, "error", "upstream_error"), body
    nothing_recorded(pv2.db, "pay-asked")
    assert order(pv2.db, "pay-other") == UNTOUCHED


# ---------------------------------------------------------------- upstream errors

@pytest.mark.expect_log(UPSTREAM_LOG)
def test_an_unknown_status_is_upstream_error_and_records_nothing(pv2):
    pv2.db.add_order("pay-unknown", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-unknown", status="PAID_TWICE", total=10000)
    status, body = verify2(pv2.httpd, "pay-unknown")
    assert (status, body["status"], body["code"]) == (502, "error", "upstream_error"), body
    nothing_recorded(pv2.db, "pay-unknown")


def test_payment_not_found(pv2):
    pv2.db.add_order("pay-none", 10000)
    status, body = verify2(pv2.httpd, "pay-none")
    assert (status, body["status"], body["code"]) == (404, "error", "payment_not_found"), body
    nothing_recorded(pv2.db, "pay-none")
    assert [r["path"].partition("?")[0] for r in requests(pv2.emu)] == ["/payments/pay-none"]


@pytest.mark.expect_log(UPSTREAM_LOG)
@pytest.mark.parametrize("http,code", [(401, "upstream_auth_failed"),
                                       (403, "upstream_auth_failed"),
                                       (500, "upstream_error"), (502, "upstream_error"),
                                       (503, "upstream_error")])
def test_upstream_errors(pv2, http, code):
    pv2.db.add_order("pay-err", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-err", status="PAID", total=10000)
    pv2.emu.add_fault("/payments/", "status", status=http, api="v2")
    status, body = verify2(pv2.httpd, "pay-err")
    assert (status, body["status"], body["code"]) == (502, "error", code), body
    nothing_recorded(pv2.db, "pay-err")
    assert requests(pv2.emu, "v2"), "PortOne V2 was not asked"
    assert pv2.emu.counters()["get_token_calls"] == 0


@pytest.mark.expect_log(UPSTREAM_LOG)
def test_a_wrong_v2_secret_is_upstream_auth_failed(make_httpd, database, emulator):
    h = make_httpd(directives=v2_directives(emulator.url, PortOneV2Secret="not-the-secret"))
    database.add_order("pay-badkey", 10000)
    emulator.add_v2_payment(paymentId="pay-badkey", status="PAID", total=10000)
    status, body = verify2(h, "pay-badkey")
    assert (status, body["code"]) == (502, "upstream_auth_failed"), body
    nothing_recorded(database, "pay-badkey")
    assert "not-the-secret" not in h.read_error_log()


# ---------------------------------------------------------------- paymentIds

ODD_IDS = ["pay/slash", "pay?query=1", "pay#frag", "pay space", "pay%25pct", "pay%", "결제-한글-1",
           "a/b?c#d e%f 결제"]
SEGMENT = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})+$")


@pytest.mark.parametrize("pid", ODD_IDS)
def test_payment_ids_are_percent_encoded(pv2, pid):
    pv2.db.add_order(pid, 10000)
    pv2.emu.add_v2_payment(paymentId=pid, status="PAID", total=10000)
    status, body = verify2(pv2.httpd, pid)
    assert (status, body["status"], body["paymentId"]) == (200, "success", pid), body
    only_v2_payment(pv2.db, pid, "paid", "PAID")
    assert events(pv2.db) == [v2_event(pid, "paid")]
    assert order(pv2.db, pid) == {"state": "paid", "paid_imp_uid": pid, "updates": 1}
    asked = requests(pv2.emu)
    assert len(asked) == 1, asked
    r = asked[0]
    assert (r["method"], r["api"]) == ("GET", "v2"), r
    path, _, query = r["path"].partition("?")
    assert path.startswith("/payments/"), r
    segment = path[len("/payments/"):]
    assert SEGMENT.match(segment), segment          # every reserved byte encoded
    assert unquote(segment, errors="strict") == pid
    assert parse_qs(query) == {"storeId": [TEST_V2_STORE_ID]}, query
    assert r["headers"].get("Authorization") == "PortOne " + TEST_V2_SECRET
    assert pv2.emu.counters()["get_token_calls"] == 0
    assert not [x for x in asked if x["path"].startswith(("/users/getToken", "/login/"))]


def test_tx_id_comes_along_and_is_ignored(pv2):
    pv2.db.add_order("pay-tx", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-tx", status="PAID", total=10000)
    status, body = verify2(pv2.httpd, {"paymentId": "pay-tx", "txId": "whatever"})
    assert (status, body["status"]) == (200, "success"), body


def test_a_payment_id_where_no_v2_secret_is_set_is_invalid(pv):
    pv.db.add_order("pay-nov2", 10000)
    pv.emu.add_v2_payment(paymentId="pay-nov2", status="PAID", total=10000)
    status, body = verify2(pv.httpd, "pay-nov2")
    assert (status, body["status"], body["code"]) == (400, "error", "invalid_request"), body
    nothing_recorded(pv.db, "pay-nov2")
    assert requests(pv.emu) == []


@pytest.mark.parametrize("claim", [{"paymentId": "pay-both", "imp_uid": "imp_both"},
                                   {"paymentId": "pay-both", "merchant_uid": "pay-both"},
                                   {"paymentId": "pay-both", "imp_uid": "imp_both",
                                    "merchant_uid": "pay-both"}],
                         ids=["imp_uid", "merchant_uid", "both"])
def test_a_v1_and_a_v2_id_together_are_invalid(pv2, claim):
    pv2.db.add_order("pay-both", 10000)
    pv2.emu.add_v2_payment(paymentId="pay-both", status="PAID", total=10000)
    pv2.emu.add_payment(imp_uid="imp_both", merchant_uid="pay-both", amount=10000, status="paid")
    status, body = verify2(pv2.httpd, claim)
    assert (status, body["status"], body["code"]) == (400, "error", "invalid_request"), body
    nothing_recorded(pv2.db, "pay-both")
    assert requests(pv2.emu) == []


# ---------------------------------------------------------------- V1 beside V2

def v1_verify(httpd, imp_uid, merchant_uid):
    status, _, body = httpd.verify(imp_uid, merchant_uid)
    return status, body


def test_v1_and_v2_payments_of_one_order(pv2):
    """A failed V1 card, then a V2 payment of the same order id: two rows, one
    per api, and the order follows the order."""
    db, emu, h = pv2.db, pv2.emu, pv2.httpd
    db.add_order("ord-mix", 10000)
    emu.add_payment(imp_uid="imp_mix1", merchant_uid="ord-mix", amount=10000, status="failed")
    emu.add_v2_payment(paymentId="ord-mix", status="PAID", total=10000)
    status, body = v1_verify(h, "imp_mix1", "ord-mix")
    assert (status, body["status"]) == (409, "failed"), body
    assert order(db, "ord-mix") == {"state": "failed", "paid_imp_uid": "imp_mix1", "updates": 1}
    status, body = verify2(h, "ord-mix")
    assert (status, body["status"]) == (200, "success"), body
    assert [(r["api"], r["imp_uid"], r["merchant_uid"], r["status"], r["outcome"])
            for r in payments(db)] == [("v1", "imp_mix1", "ord-mix", "failed", "failed"),
                                       ("v2", "ord-mix", "ord-mix", "PAID", "paid")]
    assert events(db) == [{"api": "v1", "imp_uid": "imp_mix1", "merchant_uid": "ord-mix",
                           "outcome": "failed"}, v2_event("ord-mix", "paid")]
    assert order(db, "ord-mix") == {"state": "paid", "paid_imp_uid": "ord-mix", "updates": 2}
    # each API was asked with its own credentials
    v1 = [r for r in requests(emu, "v1") if r["path"].startswith("/payments/")]
    v2 = requests(emu, "v2")
    assert v1 and all(r["headers"].get("Authorization", "").startswith("Bearer ") for r in v1)
    assert len(v2) == 1 and v2[0]["headers"]["Authorization"] == "PortOne " + TEST_V2_SECRET


def test_a_v1_and_a_v2_payment_with_the_same_id_text_are_two_rows(pv2):
    db, emu, h = pv2.db, pv2.emu, pv2.httpd
    db.add_order("ord-v1", 10000)
    db.add_order("same-01", 20000)
    emu.add_payment(imp_uid="same-01", merchant_uid="ord-v1", amount=10000, status="paid")
    emu.add_v2_payment(paymentId="same-01", status="PAID", total=20000)
    for _ in range(2):
        assert v1_verify(h, "same-01", "ord-v1")[0] == 200
        status, body = verify2(h, "same-01")
        assert (status, body["status"]) == (200, "success"), body
    rows = payments(db)
    assert [(r["api"], r["imp_uid"], r["merchant_uid"], r["status"], r["outcome"],
             dec(r["amount"])) for r in rows] == \
        [("v1", "same-01", "ord-v1", "paid", "paid", 10000),
         ("v2", "same-01", "same-01", "PAID", "paid", 20000)]
    assert events(db) == [{"api": "v1", "imp_uid": "same-01", "merchant_uid": "ord-v1",
                           "outcome": "paid"}, v2_event("same-01", "paid")]
    assert order(db, "ord-v1") == {"state": "paid", "paid_imp_uid": "same-01", "updates": 1}
    assert order(db, "same-01") == {"state": "paid", "paid_imp_uid": "same-01", "updates": 1}


def test_a_v2_failed_attempt_does_not_rewind_an_order_paid_by_v1(pv2):
    db, emu, h = pv2.db, pv2.emu, pv2.httpd
    db.add_order("ord-rw", 10000)
    emu.add_payment(imp_uid="imp_rw", merchant_uid="ord-rw", amount=10000, status="paid")
    emu.add_v2_payment(paymentId="ord-rw", status="FAILED", total=10000)
    assert v1_verify(h, "imp_rw", "ord-rw")[0] == 200
    status, body = verify2(h, "ord-rw")
    assert (status, body["status"]) == (409, "failed"), body
    assert [(r["api"], r["imp_uid"], r["outcome"]) for r in payments(db)] == \
        [("v1", "imp_rw", "paid"), ("v2", "ord-rw", "failed")]
    assert [(e["api"], e["outcome"]) for e in events(db)] == [("v1", "paid"), ("v2", "failed")]
    assert order(db, "ord-rw") == {"state": "paid", "paid_imp_uid": "imp_rw", "updates": 1}


def test_a_v2_failed_attempt_with_the_v1_payers_id_text_does_not_rewind_it(pv2):
    """The payer is (api, id): a V2 payment whose id is the V1 payer's text is
    another payment, and its failure leaves the order paid."""
    db, emu, h = pv2.db, pv2.emu, pv2.httpd
    db.add_order("twin-1", 10000)
    emu.add_payment(imp_uid="twin-1", merchant_uid="twin-1", amount=10000, status="paid")
    emu.add_v2_payment(paymentId="twin-1", status="FAILED", total=10000)
    assert v1_verify(h, "twin-1", "twin-1")[0] == 200
    status, body = verify2(h, "twin-1")
    assert (status, body["status"]) == (409, "failed"), body
    assert [(r["api"], r["imp_uid"], r["outcome"]) for r in payments(db)] == \
        [("v1", "twin-1", "paid"), ("v2", "twin-1", "failed")]
    assert order(db, "twin-1") == {"state": "paid", "paid_imp_uid": "twin-1", "updates": 1}
    # and the V1 payer cancelling still moves it: it is the order's payer
    emu.patch_payment("twin-1", status="cancelled", cancel_amount=10000)
    assert v1_verify(h, "twin-1", "twin-1")[0] == 409
    assert order(db, "twin-1") == {"state": "cancelled", "paid_imp_uid": "twin-1", "updates": 2}


def test_a_v1_failed_attempt_does_not_rewind_an_order_paid_by_v2(pv2):
    db, emu, h = pv2.db, pv2.emu, pv2.httpd
    db.add_order("ord-q", 10000)
    emu.add_v2_payment(paymentId="ord-q", status="PAID", total=10000)
    emu.add_payment(imp_uid="imp_q", merchant_uid="ord-q", amount=10000, status="failed")
    assert verify2(h, "ord-q")[0] == 200
    status, body = v1_verify(h, "imp_q", "ord-q")
    assert (status, body["status"]) == (409, "failed"), body
    assert order(db, "ord-q") == {"state": "paid", "paid_imp_uid": "ord-q", "updates": 1}
    assert [(e["api"], e["outcome"]) for e in events(db)] == [("v1", "failed"), ("v2", "paid")]
