"""PortOne's webhook (portone-webhook): the body is only a trigger, the
payment is looked up again and recorded by the same rules as the browser's
call (contract sections 3, 5, 6)."""
from urllib.parse import urlencode

VBANK = dict(pay_method="vbank", status="ready", vbank_num="56211105948400",
             vbank_name="KB국민은행", vbank_date=1900000000)


def events(pv):
    return sorted(r["outcome"] for r in pv.db.query("SELECT outcome FROM portone_events"))


def order(pv, no):
    return pv.db.query("SELECT state, updates FROM shop_orders WHERE order_no = ?", (no,))[0]


def payment(pv, imp_uid):
    rows = pv.db.query("SELECT merchant_uid, status, outcome FROM portone_payments "
                       "WHERE imp_uid = ?", (imp_uid,))
    assert len(rows) <= 1
    return rows[0] if rows else None


def test_vbank_issued_then_deposited_by_webhook(pv):
    pv.db.add_order("o_vb", 35000)
    pv.emu.add_payment(imp_uid="imp_vb", merchant_uid="o_vb", amount=35000, **VBANK)
    status, _, body = pv.httpd.verify("imp_vb", "o_vb")
    assert status == 200 and body["status"] == "vbankIssued", body
    assert body["vbank_num"] == "56211105948400" and body["vbank_name"] == "KB국민은행"
    assert events(pv) == ["vbank_issued"]

    pv.emu.patch_payment("imp_vb", status="paid", paid_at=1800000000)
    status, _, body = pv.httpd.webhook("imp_vb", "o_vb", "paid")
    assert (status, body["status"]) == (200, "paid"), body
    # PortOne may deliver the same webhook again: nothing more is written
    status, _, body = pv.httpd.webhook("imp_vb", "o_vb", "paid")
    assert (status, body["status"]) == (200, "paid"), body

    assert events(pv) == ["paid", "vbank_issued"]
    assert order(pv, "o_vb") == {"state": "paid", "updates": 2}
    assert payment(pv, "imp_vb")["outcome"] == "paid"


def test_cancelled_by_webhook_stays_cancelled_when_a_lookup_says_paid(pv):
    pv.db.add_order("o_c", 12000)
    pv.emu.add_payment(imp_uid="imp_c", merchant_uid="o_c", amount=12000, status="paid")
    assert pv.httpd.verify("imp_c", "o_c")[0] == 200

    pv.emu.patch_payment("imp_c", status="cancelled", cancel_amount=12000)
    status, _, body = pv.httpd.webhook("imp_c", "o_c", "cancelled", form=True)
    assert (status, body["status"]) == (200, "cancelled"), body

    # a stale answer (or a replayed lookup) saying "paid" again
    pv.emu.patch_payment("imp_c", status="paid", cancel_amount=0)
    status, _, body = pv.httpd.webhook("imp_c", "o_c", "paid")
    assert (status, body["status"]) == (200, "cancelled"), body
    status, _, body = pv.httpd.verify("imp_c", "o_c")
    assert (status, body["status"]) == (409, "cancelled"), body

    assert payment(pv, "imp_c")["outcome"] == "cancelled"
    assert events(pv) == ["cancelled", "paid"]
    assert order(pv, "o_c") == {"state": "cancelled", "updates": 2}


def test_webhook_in_json_and_in_form_encoding(pv):
    for n, form in ((1, False), (2, True)):
        pv.db.add_order("o_w%d" % n, 5000)
        pv.emu.add_payment(imp_uid="imp_w%d" % n, merchant_uid="o_w%d" % n, amount=5000,
                           status="paid")
        status, headers, body = pv.httpd.webhook("imp_w%d" % n, "o_w%d" % n, "paid", form=form)
        assert status == 200 and body["status"] == "paid", body
        assert headers["Cache-Control"] == "no-store"
        assert payment(pv, "imp_w%d" % n)["outcome"] == "paid"
    # the webhook asked PortOne, it did not trust its own body
    paths = [r["path"] for r in pv.emu.counters()["requests"]]
    assert "/payments/imp_w1" in paths and "/payments/imp_w2" in paths


def test_webhook_form_with_cancellation_id_and_charset(pv):
    pv.db.add_order("o_f", 7000)
    pv.emu.add_payment(imp_uid="imp_f", merchant_uid="o_f", amount=7000, status="cancelled")
    body = urlencode({"imp_uid": "imp_f", "merchant_uid": "o_f", "status": "cancelled",
                      "cancellation_id": "cancel_123"})
    status, _, answer = pv.httpd.post("/portone/webhook", body,
                                      content_type="application/x-www-form-urlencoded; charset=UTF-8")
    assert (status, answer["status"]) == (200, "cancelled"), answer


def test_forged_webhook_for_a_genuine_payment_changes_nothing(pv):
    pv.db.add_order("o_g", 30000)
    pv.db.add_order("o_attacker", 100)
    pv.emu.add_payment(imp_uid="imp_g", merchant_uid="o_g", amount=30000, status="paid")
    assert pv.httpd.verify("imp_g", "o_g")[0] == 200
    before = pv.db.query("SELECT * FROM portone_payments")

    pv.expect_log(r"PV0102: portone-webhook imp_uid=imp_g merchant_uid=o_g outcome=paid "
                  r"\(already recorded\); forged claim: merchant_uid o_attacker is not PortOne's")
    status, _, body = pv.httpd.webhook("imp_g", "o_attacker", "paid")
    assert (status, body["status"]) == (400, "forgery"), body
    status, _, body = pv.httpd.webhook("imp_g", "o_attacker", "cancelled", form=True)
    assert (status, body["status"]) == (400, "forgery"), body

    after = pv.db.query("SELECT * FROM portone_payments")
    assert [(r["imp_uid"], r["merchant_uid"], r["outcome"]) for r in after] == \
        [(r["imp_uid"], r["merchant_uid"], r["outcome"]) for r in before]
    assert events(pv) == ["paid"]
    assert order(pv, "o_g") == {"state": "paid", "updates": 1}
    assert order(pv, "o_attacker") == {"state": "new", "updates": 0}


def test_webhook_with_a_forged_amount_is_recorded_as_forgery(pv):
    pv.db.add_order("o_fa", 50000)
    pv.emu.add_payment(imp_uid="imp_fa", merchant_uid="o_fa", amount=500, status="paid")
    pv.expect_log(r"PV0102: portone-webhook imp_uid=imp_fa merchant_uid=o_fa outcome=forgery "
                  r"\(recorded\): amount differs from the order \(PortOne: 500 KRW, the order: "
                  r"50000(\.00)? KRW\)")
    status, _, body = pv.httpd.webhook("imp_fa", "o_fa", "paid")
    assert (status, body["status"]) == (200, "forgery"), body
    assert payment(pv, "imp_fa")["outcome"] == "forgery"
    assert events(pv) == ["forgery"]
    assert order(pv, "o_fa") == {"state": "new", "updates": 0}


def test_webhook_answers_4xx_for_malformed_and_5xx_for_transient(pv):
    pv.db.add_order("o_t", 1000)
    pv.emu.add_payment(imp_uid="imp_t", merchant_uid="o_t", amount=1000, status="paid")
    assert pv.httpd.post("/portone/webhook", "imp_uid=imp_t",
                         content_type="application/x-www-form-urlencoded")[0] == 400
    assert pv.httpd.post("/portone/webhook", "imp_uid=%zz&merchant_uid=o_t",
                         content_type="application/x-www-form-urlencoded")[0] == 400
    assert pv.httpd.post("/portone/webhook", "imp_uid=a&imp_uid=b&merchant_uid=o_t",
                         content_type="application/x-www-form-urlencoded")[0] == 400
    assert pv.httpd.post("/portone/webhook", "hello", content_type="text/plain")[0] == 415
    status, headers, _ = pv.httpd.request("GET", "/portone/webhook")
    assert status == 405 and headers["Allow"] == "POST"
    assert pv.httpd.webhook("imp_unknown", "o_t")[0] == 404

    pv.emu.add_fault("/payments", "status", count=1, status=503)
    pv.expect_log(r"PV0101: portone-webhook imp_uid=imp_t merchant_uid=o_t: upstream_error: "
                  r"payment look-up answered HTTP 503")
    status, _, body = pv.httpd.webhook("imp_t", "o_t")
    assert status == 502 and body["code"] == "upstream_error"
    assert payment(pv, "imp_t") is None
    # PortOne's retry then succeeds
    status, _, body = pv.httpd.webhook("imp_t", "o_t")
    assert (status, body["status"]) == (200, "paid")
