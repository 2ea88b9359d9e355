"""portone-webhook with PortOne V2 (contract sections 5, 6, 8; portone-api.md
2.3): Standard Webhooks signatures are verified on the raw body before
anything else. A webhook that fails (a missing header, a timestamp outside
PortOneWebhookTolerance or not an integer, a signature of no configured
secret, a body changed after signing) is 401 invalid_signature, and then
NOTHING is asked of PortOne and nothing is recorded. A valid Transaction.*
webhook re-queries the payment and runs the pipeline (200 {"status":
outcome}); other types are 200 {"status":"ignored"} without a look-up. Runs
on SQLite, PostgreSQL and MariaDB; `pv2` is the session's V1+V2 server."""
import base64
import json
import re
import time

import pytest

from conftest import v2_directives
from portone_emulator import TEST_V2_SECRET, TEST_WEBHOOK_SECRET

OTHER_SECRET = "whsec_" + base64.b64encode(b"another shop's webhook secret!!!").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"the secret before the rotation..").decode()
FORGERY_LOG = r"PV0102: portone-webhook .*outcome=forgery"
# a refused V2 webhook is logged at warn, with the reason
REFUSED_LOG = r"PV0104: portone-webhook webhook-id=\S+: V2 webhook refused: "
NO_MATCH = "no signature matches a configured webhook secret"
MISSING = "webhook-id, webhook-timestamp or webhook-signature is missing"
NOT_INTEGER = "webhook-timestamp is not an integer"
TOO_OLD = "webhook-timestamp is older than PortOneWebhookTolerance"
TOO_NEW = "webhook-timestamp is newer than PortOneWebhookTolerance"
HOOK = "/portone/webhook"


# ---------------------------------------------------------------- helpers

def send(pv2, pid, httpd=None, **kw):
    """A V2 webhook from the emulator; (status, answer as JSON)."""
    h = httpd or pv2.httpd
    status, headers, raw = pv2.emu.send_v2_webhook(h.url + HOOK, pid, **kw)
    try:
        body = json.loads(raw.decode("utf-8"))
    except ValueError:
        body = raw
    return status, body


def payments(db):
    return db.query("SELECT api, imp_uid, merchant_uid, status, outcome, amount, cancel_amount "
                    "FROM portone_payments ORDER BY api, imp_uid")


def events(db):
    return db.query("SELECT api, imp_uid, outcome FROM portone_events "
                    "ORDER BY api, imp_uid, outcome")


def order(db, order_no):
    rows = db.query("SELECT state, paid_imp_uid, updates FROM shop_orders WHERE order_no = ?",
                    (order_no,))
    assert len(rows) == 1, rows
    return rows[0]


def lookups(emu):
    """Every request PortOne (the emulator) had."""
    return emu.counters()["requests"]


def at_a_second_start():
    """Waits for the next whole second: the module compares whole seconds, so
    a timestamp 301 s ahead sent just before a second ends would arrive 300 s
    ahead."""
    time.sleep(1.02 - time.time() % 1)


def paid_payment(pv2, pid, total=10000, **fields):
    pv2.db.add_order(pid, total)
    pv2.emu.add_v2_payment(paymentId=pid, status=fields.pop("status", "PAID"), total=total,
                           **fields)


def assert_paid_recorded(pv2, pid):
    assert [(r["api"], r["imp_uid"], r["merchant_uid"], r["status"], r["outcome"])
            for r in payments(pv2.db)] == [("v2", pid, pid, "PAID", "paid")]
    assert events(pv2.db) == [{"api": "v2", "imp_uid": pid, "outcome": "paid"}]
    assert order(pv2.db, pid) == {"state": "paid", "paid_imp_uid": pid, "updates": 1}


def assert_refused(pv2, pid, status, body, reason=None):
    """401 invalid_signature, nothing asked of PortOne, nothing recorded; the
    warning names the reason."""
    assert status == 401, body
    assert isinstance(body, dict) and (body["status"], body["code"]) == \
        ("error", "invalid_signature"), body
    assert lookups(pv2.emu) == [], "PortOne was asked for a webhook that failed its signature"
    assert payments(pv2.db) == [] and events(pv2.db) == []
    assert order(pv2.db, pid) == {"state": "new", "paid_imp_uid": None, "updates": 0}
    if reason:
        assert re.search(REFUSED_LOG + re.escape(reason), pv2.log()), pv2.log()


# ---------------------------------------------------------------- valid

@pytest.mark.parametrize("version", ["2024-04-25", "2024-01-01"])
def test_a_valid_webhook_is_recorded(pv2, version):
    paid_payment(pv2, "wh-valid")
    status, body = send(pv2, "wh-valid", version=version)
    assert (status, body["status"]) == (200, "paid"), body
    assert_paid_recorded(pv2, "wh-valid")
    asked = lookups(pv2.emu)
    assert len(asked) == 1, asked
    assert (asked[0]["method"], asked[0]["api"], asked[0]["path"].partition("?")[0]) == \
        ("GET", "v2", "/payments/wh-valid")
    assert asked[0]["headers"]["Authorization"] == "PortOne " + TEST_V2_SECRET


@pytest.mark.parametrize("portone_status,kind,outcome", [
    ("VIRTUAL_ACCOUNT_ISSUED", "Transaction.VirtualAccountIssued", "vbank_issued"),
    ("READY", "Transaction.Ready", "pending"),
    ("PAY_PENDING", "Transaction.PayPending", "pending"),
    ("FAILED", "Transaction.Failed", "failed"),
    ("CANCELLED", "Transaction.Cancelled", "cancelled"),
    ("PARTIAL_CANCELLED", "Transaction.PartialCancelled", "paid")])
def test_every_status_by_webhook_answers_its_outcome(pv2, portone_status, kind, outcome):
    pid = "wh-" + portone_status.lower()[:20]
    paid_payment(pv2, pid, status=portone_status)
    status, body = send(pv2, pid, type=kind)
    assert (status, body["status"]) == (200, outcome), body
    assert [(r["api"], r["imp_uid"], r["status"], r["outcome"]) for r in payments(pv2.db)] == \
        [("v2", pid, portone_status, outcome)]
    expected = [] if outcome == "pending" else [{"api": "v2", "imp_uid": pid, "outcome": outcome}]
    assert events(pv2.db) == expected


def test_the_type_is_not_trusted_the_payment_is_re_queried(pv2):
    """A Transaction.Paid of a payment PortOne says FAILED records failed."""
    paid_payment(pv2, "wh-liar", status="FAILED")
    status, body = send(pv2, "wh-liar", type="Transaction.Paid")
    assert (status, body["status"]) == (200, "failed"), body
    assert [r["outcome"] for r in payments(pv2.db)] == ["failed"]


@pytest.mark.expect_log(FORGERY_LOG)
def test_a_forged_payment_by_webhook_is_200_forgery(pv2):
    paid_payment(pv2, "wh-forged", total=10000)
    pv2.emu.patch_v2_payment("wh-forged", total=100)
    status, body = send(pv2, "wh-forged")
    assert (status, body["status"]) == (200, "forgery"), body
    assert [r["outcome"] for r in payments(pv2.db)] == ["forgery"]
    assert order(pv2.db, "wh-forged")["updates"] == 0


def test_a_webhook_of_an_unknown_payment_is_payment_not_found(pv2):
    pv2.db.add_order("wh-nobody", 10000)
    status, body = send(pv2, "wh-nobody")
    assert (status, body["code"]) == (404, "payment_not_found"), body
    assert payments(pv2.db) == []


# ---------------------------------------------------------------- signatures

@pytest.mark.expect_log(REFUSED_LOG)
def test_a_wrong_secret_is_refused(pv2):
    paid_payment(pv2, "wh-wrong")
    assert_refused(pv2, "wh-wrong", *send(pv2, "wh-wrong", secret=OTHER_SECRET), NO_MATCH)


@pytest.mark.expect_log(REFUSED_LOG)
def test_no_signature_entry_is_refused(pv2):
    paid_payment(pv2, "wh-nosig")
    assert_refused(pv2, "wh-nosig", *send(pv2, "wh-nosig", secret=None), NO_MATCH)


@pytest.mark.expect_log(REFUSED_LOG)
def test_only_v1_entries_count(pv2):
    """The right MAC under another version tag is not a v1 signature."""
    paid_payment(pv2, "wh-v2tag")
    from portone_emulator import sign_webhook
    ts = int(time.time())
    body = json.dumps({"type": "Transaction.Paid", "timestamp": "2026-01-01T00:00:00Z",
                       "data": {"paymentId": "wh-v2tag"}}, separators=(",", ":"))
    mac = sign_webhook(TEST_WEBHOOK_SECRET, "msg_tag", ts, body).split(",", 1)[1]
    assert_refused(pv2, "wh-v2tag", *send(pv2, "wh-v2tag", body=body, webhook_id="msg_tag",
                                          timestamp=ts, secret=None,
                                          extra_signatures=("v2," + mac,)), NO_MATCH)


def test_several_entries_with_one_valid_are_accepted(pv2):
    paid_payment(pv2, "wh-several")
    status, body = send(pv2, "wh-several", secret=[OTHER_SECRET, TEST_WEBHOOK_SECRET],
                        extra_signatures=("v1,bm90IGEgc2lnbmF0dXJl", "v1,***", "v2,abc=",
                                          "garbage"))
    assert (status, body["status"]) == (200, "paid"), body
    assert_paid_recorded(pv2, "wh-several")


@pytest.mark.expect_log(REFUSED_LOG)
def test_rotated_secrets_both_are_accepted(make_httpd, database, emulator):
    # the directive takes two arguments: written in `extra`, unquoted
    h = make_httpd(directives=v2_directives(emulator.url, PortOneWebhookSecret=None),
                   extra="PortOneWebhookSecret %s %s\n" % (OLD_SECRET, TEST_WEBHOOK_SECRET))
    for pid, secret in (("wh-rot-new", TEST_WEBHOOK_SECRET), ("wh-rot-old", OLD_SECRET)):
        database.add_order(pid, 10000)
        emulator.add_v2_payment(paymentId=pid, status="PAID", total=10000)
        status, _, raw = emulator.send_v2_webhook(h.url + HOOK, pid, secret=secret)
        assert (status, json.loads(raw)["status"]) == (200, "paid"), raw
    database.add_order("wh-rot-bad", 10000)
    emulator.add_v2_payment(paymentId="wh-rot-bad", status="PAID", total=10000)
    before = len(emulator.counters()["requests"])
    status, _, raw = emulator.send_v2_webhook(h.url + HOOK, "wh-rot-bad", secret=OTHER_SECRET)
    assert (status, json.loads(raw)["code"]) == (401, "invalid_signature"), raw
    assert len(emulator.counters()["requests"]) == before
    assert [r["imp_uid"] for r in payments(database)] == ["wh-rot-new", "wh-rot-old"]


@pytest.mark.expect_log(REFUSED_LOG)
@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(pv2, header):
    paid_payment(pv2, "wh-missing")
    assert_refused(pv2, "wh-missing", *send(pv2, "wh-missing", omit=(header,)), MISSING)


@pytest.mark.expect_log(REFUSED_LOG)
@pytest.mark.parametrize("shift", [-301, 301, -400, 3600])
def test_a_timestamp_outside_the_tolerance_is_refused(pv2, shift):
    paid_payment(pv2, "wh-late")
    at_a_second_start()
    assert_refused(pv2, "wh-late", *send(pv2, "wh-late", shift=shift),
                  TOO_OLD if shift < 0 else TOO_NEW)


@pytest.mark.parametrize("shift", [-299, 299])
def test_a_timestamp_inside_the_tolerance_is_accepted(pv2, shift):
    paid_payment(pv2, "wh-intime")
    at_a_second_start()
    status, body = send(pv2, "wh-intime", shift=shift)
    assert (status, body["status"]) == (200, "paid"), body
    assert_paid_recorded(pv2, "wh-intime")


@pytest.mark.expect_log(REFUSED_LOG)
def test_the_tolerance_is_configurable(make_httpd, database, emulator):
    h = make_httpd(directives=v2_directives(emulator.url, PortOneWebhookTolerance="30"))
    database.add_order("wh-tol", 10000)
    emulator.add_v2_payment(paymentId="wh-tol", status="PAID", total=10000)
    status, _, raw = emulator.send_v2_webhook(h.url + HOOK, "wh-tol", shift=-60)
    assert (status, json.loads(raw)["code"]) == (401, "invalid_signature"), raw
    assert emulator.counters()["requests"] == []
    status, _, raw = emulator.send_v2_webhook(h.url + HOOK, "wh-tol", shift=-20)
    assert (status, json.loads(raw)["status"]) == (200, "paid"), raw


@pytest.mark.expect_log(REFUSED_LOG)
@pytest.mark.parametrize("make_ts", [lambda now: "%d.0" % now, lambda now: "%dx" % now,
                                     lambda now: "", lambda now: "abc",
                                     lambda now: "%e" % now, lambda now: "0x%x" % now],
                         ids=["decimal", "suffix", "empty", "text", "exponent", "hex"])
def test_a_non_integer_timestamp_is_refused(pv2, make_ts):
    paid_payment(pv2, "wh-ts")
    assert_refused(pv2, "wh-ts", *send(pv2, "wh-ts", timestamp=make_ts(int(time.time()))),
                  NOT_INTEGER)


@pytest.mark.expect_log(REFUSED_LOG)
@pytest.mark.parametrize("tamper", [
    lambda b: b.replace(b"wh-tamper", b"wh-tampex"),
    lambda b: b + b" ",
    lambda b: b.replace(b"Transaction.Paid", b"Transaction.Cancelled"),
    lambda b: json.dumps(json.loads(b)).encode()],        # the same JSON, other bytes
    ids=["payment_id", "trailing_space", "type", "reformatted"])
def test_a_body_changed_after_signing_is_refused(pv2, tamper):
    paid_payment(pv2, "wh-tamper")
    pv2.db.add_order("wh-tampex", 10000)
    pv2.emu.add_v2_payment(paymentId="wh-tampex", status="PAID", total=10000)
    status, body = send(pv2, "wh-tamper", tamper=tamper)
    assert_refused(pv2, "wh-tamper", status, body, NO_MATCH)
    assert order(pv2.db, "wh-tampex")["updates"] == 0


@pytest.mark.expect_log(r"PV0103: portone-webhook webhook-id=\S+: a V2 webhook, but PortOneWebhookSecret is not set")
def test_a_signed_webhook_where_no_webhook_secret_is_set_is_refused(pv):
    """The V1-only server: a V2 webhook is never taken unsigned."""
    pv.db.add_order("wh-nosecret", 10000)
    pv.emu.add_v2_payment(paymentId="wh-nosecret", status="PAID", total=10000)
    status, _, raw = pv.emu.send_v2_webhook(pv.httpd.url + HOOK, "wh-nosecret")
    assert (status, json.loads(raw)["code"]) == (401, "invalid_signature"), raw
    assert pv.emu.counters()["requests"] == []
    assert payments(pv.db) == []


# ---------------------------------------------------------------- types, redelivery

@pytest.mark.parametrize("kind", ["BillingKey.Issued", "BillingKey.Deleted", "Something.New"])
def test_a_non_transaction_type_is_ignored_without_a_look_up(pv2, kind):
    paid_payment(pv2, "wh-billing")
    status, body = send(pv2, "wh-billing", type=kind,
                        data={"billingKey": "billing-key-0001", "paymentId": "wh-billing"})
    assert (status, body) == (200, {"status": "ignored"}), body
    assert lookups(pv2.emu) == []
    assert payments(pv2.db) == [] and events(pv2.db) == []


def test_a_redelivered_webhook_id_gives_the_same_answer_once_recorded(pv2):
    paid_payment(pv2, "wh-again")
    answers = [send(pv2, "wh-again", webhook_id="msg_redelivered_0001") for _ in range(3)]
    assert answers[0][0] == 200 and answers[0][1]["status"] == "paid", answers
    assert all(a == answers[0] for a in answers), answers
    assert_paid_recorded(pv2, "wh-again")


def test_v2_webhook_and_verify_of_one_payment_record_it_once(pv2):
    paid_payment(pv2, "wh-both")
    status, _, body = pv2.httpd.post("/payments/complete", {"paymentId": "wh-both"})
    assert (status, body["status"]) == (200, "success"), body
    status, body = send(pv2, "wh-both")
    assert (status, body["status"]) == (200, "paid"), body
    assert_paid_recorded(pv2, "wh-both")


def test_a_v1_webhook_still_works_beside_v2(pv2):
    pv2.db.add_order("ord-v1hook", 10000)
    pv2.emu.add_payment(imp_uid="imp_v1hook", merchant_uid="ord-v1hook", amount=10000,
                        status="paid")
    status, _, body = pv2.httpd.webhook("imp_v1hook", "ord-v1hook")
    assert (status, body["status"]) == (200, "paid"), body
    assert [(r["api"], r["imp_uid"], r["outcome"]) for r in payments(pv2.db)] == \
        [("v1", "imp_v1hook", "paid")]
