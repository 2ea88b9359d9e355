"""V2 through the handlers, a smoke test of the glue (contract section 8):
portone-verify with {"paymentId"}, signed webhooks of both versions, the
signature refusals, V2-only and V1-only scopes."""
import pytest

from portone_emulator import TEST_V2_SECRET, TEST_V2_STORE_ID, TEST_WEBHOOK_SECRET

V2 = {"PortOneV2Secret": TEST_V2_SECRET, "PortOneStoreId": TEST_V2_STORE_ID,
      "PortOneWebhookSecret": TEST_WEBHOOK_SECRET}


@pytest.fixture
def v2httpd(make_httpd, emulator):
    return make_httpd(dict(V2, PortOneV2URL=emulator.url))


def test_verify_v2_paid(v2httpd, database, emulator):
    database.add_order("pay-1", 10000)
    emulator.add_v2_payment(paymentId="pay-1", total=10000)
    status, _, ans = v2httpd.post("/payments/complete", {"paymentId": "pay-1"})
    assert status == 200, ans
    assert ans["status"] == "success" and ans["paymentId"] == "pay-1"
    assert "imp_uid" not in ans and "merchant_uid" not in ans
    rows = database.query("SELECT state, paid_imp_uid FROM shop_orders WHERE order_no = 'pay-1'")
    assert rows[0]["state"] == "paid" and rows[0]["paid_imp_uid"] == "pay-1"


@pytest.mark.expect_log(r"PV0102: .*forgery")
def test_verify_v2_forgery_and_v1_unchanged(v2httpd, database, emulator):
    database.add_order("pay-2", 10000)
    emulator.add_v2_payment(paymentId="pay-2", total=9000)
    status, _, ans = v2httpd.post("/payments/complete", {"paymentId": "pay-2"})
    assert status == 400 and ans["status"] == "forgery" and ans["paymentId"] == "pay-2"
    # V1 on the same scope (both configured)
    database.add_order("o-1", 1000)
    emulator.add_payment(imp_uid="imp_1", merchant_uid="o-1", amount=1000)
    status, _, ans = v2httpd.post("/payments/complete", {"imp_uid": "imp_1", "merchant_uid": "o-1"})
    assert status == 200 and ans["imp_uid"] == "imp_1" and "paymentId" not in ans


def test_payment_id_without_v2_secret(pv):
    status, _, ans = pv.httpd.post("/payments/complete", {"paymentId": "pay-1"})
    assert status == 400 and ans["code"] == "invalid_request"
    assert "PortOneV2Secret" in ans["message"]


@pytest.mark.parametrize("version", ["2024-04-25", "2024-01-01"])
def test_v2_webhook_paid(v2httpd, database, emulator, version):
    database.add_order("pay-3", 5000)
    emulator.add_v2_payment(paymentId="pay-3", total=5000)
    status, _, body = emulator.send_v2_webhook(v2httpd.url + "/portone/webhook", "pay-3",
                                               version=version)
    assert status == 200, body
    rows = database.query("SELECT state FROM shop_orders WHERE order_no = 'pay-3'")
    assert rows[0]["state"] == "paid"


def test_v2_webhook_other_type_ignored(v2httpd, emulator):
    status, _, body = emulator.send_v2_webhook(v2httpd.url + "/portone/webhook", "pay-x",
                                               type="BillingKey.Issued")
    assert status == 200 and b'"ignored"' in (body if isinstance(body, bytes) else body.encode())


@pytest.mark.expect_log(r"PV0104: ", r"PV0103: ")
def test_v2_webhook_refused(v2httpd, database, emulator, make_httpd):
    database.add_order("pay-4", 5000)
    emulator.add_v2_payment(paymentId="pay-4", total=5000)
    url = v2httpd.url + "/portone/webhook"
    for kw in ({"secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ=="}, {"shift": -1000},
               {"omit": ["webhook-signature"]}, {"timestamp": "abc"},
               {"tamper": lambda b: b.replace(b"pay-4", b"pay-5")}):
        status, _, body = emulator.send_v2_webhook(url, "pay-4", **kw)
        assert status == 401, (kw, body)
    rows = database.query("SELECT state FROM shop_orders WHERE order_no = 'pay-4'")
    assert rows[0]["state"] != "paid"
    # no PortOneWebhookSecret: refused too
    h = make_httpd({"PortOneV2Secret": TEST_V2_SECRET, "PortOneV2URL": emulator.url})
    status, _, _ = emulator.send_v2_webhook(h.url + "/portone/webhook", "pay-4")
    assert status == 401


def test_v2_only_scope_starts(make_httpd, database, emulator):
    h = make_httpd(dict(V2, PortOneV2URL=emulator.url, PortOneAPIKey=None, PortOneAPISecret=None))
    database.add_order("pay-6", 100)
    emulator.add_v2_payment(paymentId="pay-6", total=100)
    status, _, ans = h.post("/payments/complete", {"paymentId": "pay-6"})
    assert status == 200, ans
    status, _, ans = h.post("/payments/complete", {"imp_uid": "imp_1", "merchant_uid": "o-1"})
    assert status == 400 and ans["code"] == "invalid_request"


def test_bad_webhook_secret_stops_httpd(make_httpd, emulator):
    out = make_httpd(dict(V2, PortOneWebhookSecret="whsec_not*base64"), expect_fail=True)
    assert "PortOneWebhookSecret" in str(out) and "not*base64" not in str(out)
