"""Fixes in the core: the V1 webhook's optional fields in JSON and form alike
(contract section 3), a payment answer without a boolean `sandbox` as
upstream_error (sections 4 and 5), an order amount longer than 64
characters compared exactly (section 5)."""
import json
import time
from urllib.parse import urlencode

import pytest

from portone_emulator import payment_response

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def events(pv):
    return sorted((r["imp_uid"], r["outcome"])
                  for r in pv.db.query("SELECT imp_uid, outcome FROM portone_events"))


def recorded(pv, imp_uid):
    rows = pv.db.query("SELECT merchant_uid, status, outcome FROM portone_payments "
                       "WHERE imp_uid = ?", (imp_uid,))
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def nothing_written(pv):
    assert pv.db.query("SELECT COUNT(*) AS n FROM portone_payments")[0]["n"] == 0
    assert pv.db.query("SELECT COUNT(*) AS n FROM portone_events")[0]["n"] == 0
    assert all(r["updates"] == 0 for r in pv.db.query("SELECT updates FROM shop_orders"))


def post_webhook(pv, fields, kind):
    """POSTs |fields| (a list of pairs: order and repeats kept) as JSON or form."""
    if kind == "json":
        body = "{" + ",".join("%s:%s" % (json.dumps(k), json.dumps(v)) for k, v in fields) + "}"
        return pv.httpd.post("/portone/webhook", body, content_type=JSON)
    return pv.httpd.post("/portone/webhook", urlencode(fields), content_type=FORM)


# ------------------------------------------- webhook: optional fields, JSON and form

# (name, the fields after imp_uid and merchant_uid, PortOne's status, outcome)
WEBHOOK_BODIES = [
    ("empty_cancellation_id", [("status", "cancelled"), ("cancellation_id", "")],
     "cancelled", "cancelled"),
    ("empty_status", [("status", ""), ("cancellation_id", "")], "paid", "paid"),
    ("empty_status_only", [("status", "")], "paid", "paid"),
    ("no_status", [], "paid", "paid"),
    ("unknown_fields", [("status", "paid"), ("tier", "ABC"), ("x", ""), ("x", "1"),
                        ("imp_uids", "zz")], "paid", "paid"),
    ("empty_and_unknown", [("cancellation_id", ""), ("custom_data", "{}"), ("status", "")],
     "cancelled", "cancelled"),
]


@pytest.mark.parametrize("kind", ["json", "form"])
@pytest.mark.parametrize("name,extra,portone_status,outcome", WEBHOOK_BODIES,
                         ids=[b[0] for b in WEBHOOK_BODIES])
def test_webhook_optional_fields_json_and_form(pv, kind, name, extra, portone_status,
                                               outcome):
    imp_uid, order_no = "imp_wh_%s" % name[:20], "o_wh_%s" % name[:30]
    pv.db.add_order(order_no, 7000)
    fields = dict(imp_uid=imp_uid, merchant_uid=order_no, amount=7000, status=portone_status)
    if portone_status == "cancelled":
        fields["cancel_amount"] = 7000
    pv.emu.add_payment(**fields)

    status, _, body = post_webhook(
        pv, [("imp_uid", imp_uid), ("merchant_uid", order_no)] + extra, kind)
    assert (status, body.get("status")) == (200, outcome), body
    row = recorded(pv, imp_uid)
    assert row and (row["merchant_uid"], row["status"], row["outcome"]) == \
        (order_no, portone_status, outcome), row
    assert events(pv) == [(imp_uid, outcome)]


def test_webhook_json_and_form_with_empty_fields_agree(pv):
    """The same notification in both encodings: one record, one event."""
    pv.db.add_order("o_both", 4200)
    pv.emu.add_payment(imp_uid="imp_both", merchant_uid="o_both", amount=4200, status="paid")
    fields = [("imp_uid", "imp_both"), ("merchant_uid", "o_both"), ("status", ""),
              ("cancellation_id", "")]
    for kind in ("json", "form", "json"):
        status, _, body = post_webhook(pv, fields, kind)
        assert (status, body.get("status")) == (200, "paid"), (kind, body)
    assert recorded(pv, "imp_both")["outcome"] == "paid"
    assert events(pv) == [("imp_both", "paid")]


@pytest.mark.parametrize("kind", ["json", "form"])
@pytest.mark.parametrize("fields", [
    [("imp_uid", ""), ("merchant_uid", "o_req"), ("status", "")],
    [("imp_uid", "imp_req"), ("merchant_uid", ""), ("cancellation_id", "")],
    [("merchant_uid", "o_req"), ("status", "paid")],
], ids=["empty_imp_uid", "empty_merchant_uid", "no_imp_uid"])
def test_webhook_required_fields_still_required(pv, kind, fields):
    pv.db.add_order("o_req", 1000)
    pv.emu.add_payment(imp_uid="imp_req", merchant_uid="o_req", amount=1000, status="paid")
    status, _, body = post_webhook(pv, fields, kind)
    assert (status, body.get("status"), body.get("code")) == \
        (400, "error", "invalid_request"), body
    nothing_written(pv)


def test_webhook_field_given_twice(pv):
    """Refused in a form; in JSON the last counts (json-c keeps the last of
    duplicate keys and cannot tell that one repeated: docs/security.md,
    "Decisions")."""
    pv.db.add_order("o_req", 1000)
    pv.emu.add_payment(imp_uid="imp_req", merchant_uid="o_req", amount=1000, status="paid")
    fields = [("imp_uid", "imp_req"), ("merchant_uid", "o_req"), ("status", "paid"),
              ("status", "paid")]
    status, _, body = post_webhook(pv, fields, "form")
    assert (status, body.get("status"), body.get("code")) == \
        (400, "error", "invalid_request"), body
    nothing_written(pv)
    fields = [("imp_uid", "imp_other"), ("merchant_uid", "o_req"), ("imp_uid", "imp_req")]
    status, _, body = post_webhook(pv, fields, "json")
    assert (status, body.get("status")) == (200, "paid"), body
    assert recorded(pv, "imp_req")["outcome"] == "paid"
    assert recorded(pv, "imp_other") is None


# ------------------------------------------- sandbox: required boolean

def answer_without(t, key, **fields):
    r = payment_response(dict(fields), t)
    del r[key]
    return r


def sandbox_cases():
    t = int(time.time())
    base = dict(imp_uid="imp_sbx", merchant_uid="o_sbx", amount=5000, status="paid")
    return [
        ("missing", answer_without(t, "sandbox", **base)),
        ("null", dict(payment_response(dict(base), t), sandbox=None)),
        ("string_false", dict(payment_response(dict(base), t), sandbox="false")),
        ("zero", dict(payment_response(dict(base), t), sandbox=0)),
    ]


SANDBOX_CASES = ["missing", "null", "string_false", "zero"]


@pytest.mark.parametrize("handler", ["verify", "webhook"])
@pytest.mark.parametrize("case", SANDBOX_CASES)
@pytest.mark.expect_log(r"PV0101: portone-(verify|webhook) imp_uid=imp_sbx merchant_uid=o_sbx: "
                        r'upstream_error: payment field "sandbox" is missing or not a boolean')
def test_payment_without_boolean_sandbox_is_upstream_error(pv, handler, case):
    response = dict(sandbox_cases())[case]
    assert response.get("sandbox") is not False and response.get("sandbox") is not True
    pv.db.add_order("o_sbx", 5000)
    pv.emu.add_payment(imp_uid="imp_sbx", __response__=response)
    if handler == "verify":
        status, _, body = pv.httpd.verify("imp_sbx", "o_sbx")
    else:
        status, _, body = pv.httpd.webhook("imp_sbx", "o_sbx", "paid")
    assert (status, body.get("status"), body.get("code")) == \
        (502, "error", "upstream_error"), body
    nothing_written(pv)
    assert "sandbox" in pv.log()

    # the same payment with its boolean is verified as usual
    pv.emu.add_payment(imp_uid="imp_sbx", __response__=dict(response, sandbox=False))
    status, _, body = pv.httpd.verify("imp_sbx", "o_sbx")
    assert (status, body["status"]) == (200, "success"), body


# ------------------------------------------- amounts longer than 64 characters

def test_long_order_amount_text_is_compared_exactly(pv):
    """10000 written with 70 zeros after the point (a TEXT or NUMERIC column
    of large scale) is 10000: the genuine payment is paid, not a forgery."""
    long_amount = "10000." + "0" * 70
    pv.db.add_order("o_long", long_amount)
    pv.emu.add_payment(imp_uid="imp_long", merchant_uid="o_long", amount=10000, status="paid")
    status, _, body = pv.httpd.verify("imp_long", "o_long")
    assert (status, body["status"]) == (200, "success"), body
    assert recorded(pv, "imp_long")["outcome"] == "paid"

    # one unit in the 70th decimal place is another amount
    pv.db.add_order("o_long2", "10000." + "0" * 69 + "1")
    pv.emu.add_payment(imp_uid="imp_long2", merchant_uid="o_long2", amount=10000, status="paid")
    status, _, body = pv.httpd.verify("imp_long2", "o_long2")
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_long2 merchant_uid=o_long2 outcome=forgery "
                  r"\(recorded\): amount differs from the order")
    if pv.db.driver == "sqlite3":       # the others' NUMERIC(14,2) rounds it
        assert (status, body["status"]) == (400, "forgery"), body


def test_portone_amount_over_64_characters_is_upstream_error(pv):
    """PortOne's amount is a JSON number of at most 64 characters: a longer
    one is not the documented answer, and nothing is recorded."""
    pv.db.add_order("o_big", 10000)
    t = int(time.time())
    response = payment_response(dict(imp_uid="imp_big", merchant_uid="o_big", status="paid",
                                     amount=1234), t)
    text = json.dumps({"code": 0, "message": None, "response": response})
    text = text.replace('"amount": 1234,', '"amount": 10000.%s,' % ("0" * 70))
    assert ("0" * 70) in text
    # the emulator writes JSON through Python's floats: the raw text instead
    pv.emu.add_payment(imp_uid="imp_big", merchant_uid="o_big", amount=10000)
    pv.emu.add_fault("/payments/imp_big", kind="garbage", body=text)
    status, _, body = pv.httpd.verify("imp_big", "o_big")
    assert (status, body.get("code")) == (502, "upstream_error"), body
    pv.expect_log(r"PV0101: portone-verify imp_uid=imp_big merchant_uid=o_big: upstream_error: "
                  r"payment amount is not a decimal number")
    nothing_written(pv)
