"""The happy path of the contract's first row, on every database."""


def test_paid_payment_is_verified_and_recorded(pv):
    pv.db.add_order("order_1", 10000)
    pv.emu.add_payment(imp_uid="imp_1", merchant_uid="order_1", amount=10000, status="paid")
    status, headers, body = pv.httpd.verify("imp_1", "order_1")
    assert status == 200, body
    assert body["status"] == "success" and body["message"] == "일반 결제 성공"
    assert body["imp_uid"] == "imp_1" and body["merchant_uid"] == "order_1"
    assert headers["Cache-Control"] == "no-store"
    rows = pv.db.query("SELECT imp_uid, outcome, status FROM portone_payments")
    assert rows == [{"imp_uid": "imp_1", "outcome": "paid", "status": "paid"}]
    events = pv.db.query("SELECT imp_uid, outcome FROM portone_events")
    assert events == [{"imp_uid": "imp_1", "outcome": "paid"}]
    order = pv.db.query("SELECT state, paid_imp_uid, updates FROM shop_orders")
    assert order == [{"state": "paid", "paid_imp_uid": "imp_1", "updates": 1}]
