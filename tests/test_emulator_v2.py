"""Self-test of the emulator's V2 API: authentication, Payment per status, stores,
pre-register, cancel, Idempotency-Key, faults
(run: /usr/bin/python3 -m pytest tests/test_emulator_v2.py -q)."""
import http.client
import json
import re
import threading
import time

import pytest

from emulator_client import (RFC3339, emu, emu_server, get_payment, get_token,  # noqa: F401
                             qid, request, v2)
from portone_emulator import DEFAULT_V2_TOKEN_LIFETIME, TEST_V2_SECRET, TEST_V2_STORE_ID


# =====================================================================================
# V2 (portone-api.md 2; v2.openapi.json @ af926bd2). The tables below are taken from the
# spec's schemas: ReadyPayment, PayPendingPayment, VirtualAccountIssuedPayment, PaidPayment,
# FailedPayment, PartialCancelledPayment, CancelledPayment, PaymentAmount, SelectedChannel,
# PaymentOrigin, Customer, PaymentMethod*, PaymentCancellation.
# =====================================================================================
V2_COMMON_REQUIRED = ("status id transactionId merchantId storeId version requestedAt updatedAt "
                      "statusChangedAt orderName amount currency customer origin").split()
V2_COMMON_OPTIONAL = ("method channel channelGroup scheduleId billingKey webhooks promotionId "
                      "isCulturalExpense escrow products productCount customData country").split()
V2_STATUS_FIELDS = {   # status: (required beyond the common ones, optional beyond them)
    "READY": ((), ()),
    "PAY_PENDING": (("channel",), ("pgTxId",)),
    "VIRTUAL_ACCOUNT_ISSUED": (("channel",), ("pgTxId",)),
    "PAID": (("channel", "paidAt", "disputes"),
             ("pgTxId", "pgResponse", "cashReceipt", "cashReceiptIssuanceStatus", "receiptUrl",
              "cancellations")),
    "FAILED": (("failedAt", "failure"), ()),
    "PARTIAL_CANCELLED": (("channel", "cancellations", "cancelledAt"),
                          ("paidAt", "pgTxId", "cashReceipt", "cashReceiptIssuanceStatus",
                           "receiptUrl")),
    "CANCELLED": (("channel", "cancellations", "cancelledAt"),
                  ("paidAt", "pgTxId", "cashReceipt", "cashReceiptIssuanceStatus", "receiptUrl")),
}
V2_DATE_TIME = {"requestedAt", "updatedAt", "statusChangedAt", "paidAt", "failedAt", "cancelledAt"}
AMOUNT_REQUIRED = ("total", "taxFree", "discount", "paid", "cancelled", "cancelledTaxFree")
AMOUNT_OPTIONAL = ("vat", "supply")
CUSTOMER_FIELDS = ("id", "name", "birthYear", "birthMonth", "birthDay", "gender", "email",
                   "phoneNumber", "address", "zipcode")
METHOD_FIELDS = {   # method type -> (required, optional)
    "PaymentMethodCard": ((), ("card", "approvalNumber", "installment", "pointUsed")),
    "PaymentMethodVirtualAccount": (("accountNumber",), (
        "bank", "accountType", "remitteeName", "remitterName", "expiredAt", "issuedAt",
        "refundStatus")),
    "PaymentMethodTransfer": ((), ("bank", "accountNumber")),
    "PaymentMethodEasyPay": ((), ("provider", "easyPayMethod")),
}
CANCELLATION_REQUIRED = ("status", "id", "totalAmount", "taxFreeAmount", "vatAmount", "reason",
                         "requestedAt")
CANCELLATION_OPTIONAL = ("pgCancellationId", "easyPayDiscountAmount", "cancelledAt", "receiptUrl",
                         "trigger")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_fields(obj, required, optional, what):
    assert isinstance(obj, dict), what
    missing = set(required) - set(obj)
    extra = set(obj) - set(required) - set(optional)
    assert not missing and not extra, (what, "missing", missing, "extra", extra)


def check_cancellation(c):
    check_fields(c, CANCELLATION_REQUIRED, CANCELLATION_OPTIONAL, "cancellation")
    assert c["status"] in ("REQUESTED", "FAILED", "SUCCEEDED")
    assert all(is_int(c[k]) for k in ("totalAmount", "taxFreeAmount", "vatAmount"))
    assert isinstance(c["id"], str) and isinstance(c["reason"], str)
    for k in ("requestedAt", "cancelledAt"):
        assert k not in c or RFC3339.fullmatch(c[k]), c
    assert c.get("trigger", "API") in ("CONSOLE", "API", "PORTONE_ADMIN", "CHARGEBACK")


def check_v2_payment(p):
    """Field by field against the spec's Payment for p["status"]."""
    req, opt = V2_STATUS_FIELDS[p["status"]]
    check_fields(p, V2_COMMON_REQUIRED + list(req), V2_COMMON_OPTIONAL + list(opt),
                 "Payment " + p["status"])
    for k in ("id", "transactionId", "merchantId", "storeId", "orderName", "currency"):
        assert isinstance(p[k], str), k
    assert p["version"] in ("V1", "V2") and re.fullmatch(r"[A-Z]{3}", p["currency"])
    for k in V2_DATE_TIME & set(p):
        assert RFC3339.fullmatch(p[k]), (k, p[k])
    check_fields(p["amount"], AMOUNT_REQUIRED, AMOUNT_OPTIONAL, "amount")
    assert all(is_int(v) for v in p["amount"].values())
    if "channel" in p:
        check_fields(p["channel"], ("type", "pgProvider", "pgMerchantId"), ("id", "key", "name"),
                     "channel")
        assert p["channel"]["type"] in ("LIVE", "TEST")
    check_fields(p["customer"], (), CUSTOMER_FIELDS, "customer")
    check_fields(p["origin"], ("platformType", "ipAddress"), ("userAgent", "url"), "origin")
    assert p["origin"]["platformType"] in ("PC", "MOBILE", "API")
    if "method" in p:
        req_m, opt_m = METHOD_FIELDS[p["method"]["type"]]
        check_fields(p["method"], ("type",) + req_m, opt_m, "method")
        for k in ("expiredAt", "issuedAt"):
            assert k not in p["method"] or RFC3339.fullmatch(p["method"][k])
    if p["status"] == "PAID":
        assert p["disputes"] == [] and p["amount"]["paid"] == p["amount"]["total"]
    if p["status"] == "FAILED":
        check_fields(p["failure"], (), ("reason", "pgCode", "pgMessage"), "failure")
    for c in p.get("cancellations", ()):
        check_cancellation(c)
    if p["status"] in ("PARTIAL_CANCELLED", "CANCELLED"):
        assert p["amount"]["cancelled"] == sum(c["totalAmount"] for c in p["cancellations"]
                                               if c["status"] == "SUCCEEDED")
        assert (p["amount"]["cancelled"] == p["amount"]["total"]) == (p["status"] == "CANCELLED")


def test_v2_auth(emu):
    emu.add_v2_payment(paymentId="pay_1")
    assert v2(emu, "GET", "/payments/pay_1")[0] == 200
    assert v2(emu, "GET", "/payments/pay_1", v2_port=True)[0] == 200
    assert v2(emu, "GET", "/payments/pay_1", headers={
        "Authorization": "portone " + TEST_V2_SECRET})[0] == 200      # scheme is case-insensitive
    unauthorized = 401, {"type": "UNAUTHORIZED", "message": "인증 정보가 올바르지 않습니다."}
    for secret in ("wrong", "", TEST_V2_SECRET + "x", TEST_V2_SECRET[:-1]):
        assert v2(emu, "GET", "/payments/pay_1", secret=secret) == unauthorized, secret
    # no Authorization at all: V2 on the V2 port; V1 on the shared port (it cannot tell)
    assert v2(emu, "GET", "/payments/pay_1", secret=None, v2_port=True) == unauthorized
    assert v2(emu, "GET", "/payments/pay_1", secret=None) == (
        401, {"code": -1, "message": "Unauthorized", "response": None})
    # V1 tokens are no V2 credentials, and the V2 secret is no V1 token
    tok = get_token(emu)["access_token"]
    assert v2(emu, "GET", "/payments/pay_1", secret=None, v2_port=True,
              headers={"Authorization": "Bearer " + tok})[0] == 401
    emu.add_payment(imp_uid="pay_1")
    assert get_payment(emu, "pay_1", TEST_V2_SECRET)[0] == 401
    assert get_payment(emu, "pay_1", tok)[1]["response"]["imp_uid"] == "pay_1"   # V1 answer
    emu.configure(v2_secret="another-secret")
    assert v2(emu, "GET", "/payments/pay_1") == unauthorized
    assert v2(emu, "GET", "/payments/pay_1", secret="another-secret")[0] == 200
    c = emu.counters()["requests"]
    assert [r["api"] for r in c[:3]] == ["v2", "v2", "v2"]


def test_v2_login_api_secret_bearer(emu):
    emu.add_v2_payment(paymentId="pay_b")
    status, body = v2(emu, "POST", "/login/api-secret", {"apiSecret": TEST_V2_SECRET}, secret=None)
    assert status == 200 and set(body) == {"accessToken", "refreshToken"}
    bearer = {"Authorization": "Bearer " + body["accessToken"]}
    assert v2(emu, "GET", "/payments/pay_b", secret=None, headers=bearer)[1]["id"] == "pay_b"
    assert v2(emu, "GET", "/payments/pay_b", secret=None, headers={
        "Authorization": "Bearer " + body["refreshToken"]})[0] == 401
    assert v2(emu, "POST", "/login/api-secret", {"apiSecret": "nope"}, secret=None)[1][
        "type"] == "UNAUTHORIZED"
    assert v2(emu, "POST", "/login/api-secret", {}, secret=None)[1]["type"] == "INVALID_REQUEST"
    status, body2 = v2(emu, "POST", "/token/refresh", {"refreshToken": body["refreshToken"]},
                       secret=None)
    assert status == 200 and body2["accessToken"] != body["accessToken"]
    assert v2(emu, "POST", "/token/refresh", {"refreshToken": body["refreshToken"]},
              secret=None)[0] == 401                         # used once
    emu.set_clock_offset(DEFAULT_V2_TOKEN_LIFETIME + 1)
    assert v2(emu, "GET", "/payments/pay_b", secret=None, headers={
        "Authorization": "Bearer " + body2["accessToken"]}) == (
        401, {"type": "UNAUTHORIZED", "message": "인증 정보가 올바르지 않습니다."})
    emu.set_clock_offset(0)
    fresh = v2(emu, "POST", "/login/api-secret", {"apiSecret": TEST_V2_SECRET}, secret=None)[1]
    emu.revoke_tokens()
    assert v2(emu, "GET", "/payments/pay_b", secret=None, headers={
        "Authorization": "Bearer " + fresh["accessToken"]})[1]["type"] == "UNAUTHORIZED"


@pytest.mark.parametrize("status", ["READY", "PAY_PENDING", "VIRTUAL_ACCOUNT_ISSUED", "PAID",
                                    "FAILED", "PARTIAL_CANCELLED", "CANCELLED"])
def test_v2_payment_per_status(emu, status):
    emu.add_v2_payment(paymentId="order-" + status, status=status, total=35000, currency="KRW")
    code, p = v2(emu, "GET", "/payments/order-" + status)
    assert code == 200
    check_v2_payment(p)
    assert (p["id"], p["status"], p["storeId"], p["amount"]["total"], p["currency"]) == (
        "order-" + status, status, TEST_V2_STORE_ID, 35000, "KRW")
    assert p["amount"]["vat"] == 3182 and p["amount"]["supply"] == 31818
    assert ("channel" in p) == (status not in ("READY", "FAILED"))
    if "channel" in p:
        assert p["channel"]["type"] == "LIVE"
    if status == "VIRTUAL_ACCOUNT_ISSUED":
        m = p["method"]
        assert m["type"] == "PaymentMethodVirtualAccount" and m["accountNumber"]
        assert m["bank"] == "KOOKMIN" and m["accountType"] in ("FIXED", "NORMAL")
        assert m["expiredAt"] > m["issuedAt"] and p["amount"]["paid"] == 0
    if status == "PAID":
        assert p["method"]["type"] == "PaymentMethodCard" and p["paidAt"] and p["pgTxId"]
    if status == "PARTIAL_CANCELLED":
        assert 0 < p["amount"]["cancelled"] < 35000 and len(p["cancellations"]) == 1
    if status == "CANCELLED":
        assert p["amount"]["cancelled"] == 35000 and p["cancelledAt"] >= p["paidAt"]
    assert emu.get_v2_payment("order-" + status) == p
    # the transactionId is stable
    assert v2(emu, "GET", "/payments/order-" + status)[1]["transactionId"] == p["transactionId"]


def test_v2_payment_options_and_patch(emu):
    emu.add_v2_payments([
        {"paymentId": "p_test", "channel_type": "TEST", "total": 500, "taxFree": 100,
         "customData": '{"item":"x"}', "orderName": "책 한 권"},
        {"paymentId": "p_failed_ch", "status": "FAILED", "channel_type": "LIVE"},
        {"paymentId": "p_va", "status": "VIRTUAL_ACCOUNT_ISSUED", "total": 9900,
         "method_fields": {"accountNumber": "56211234567890", "bank": "SHINHAN",
                           "expiredAt": "2030-01-02T03:04:05.000Z"}},
        {"paymentId": "p_m", "method": "transfer"}, {"paymentId": "p_e", "method": "easypay"},
    ])
    p = v2(emu, "GET", "/payments/p_test")[1]
    check_v2_payment(p)
    assert p["channel"]["type"] == "TEST" and p["customData"] == '{"item":"x"}'
    assert p["orderName"] == "책 한 권"
    assert p["amount"] == {"total": 500, "taxFree": 100, "vat": 36, "supply": 364, "discount": 0,
                           "paid": 500, "cancelled": 0, "cancelledTaxFree": 0}
    p = v2(emu, "GET", "/payments/p_failed_ch")[1]
    check_v2_payment(p)
    assert p["channel"]["type"] == "LIVE"
    p = v2(emu, "GET", "/payments/p_va")[1]
    check_v2_payment(p)
    assert (p["method"]["accountNumber"], p["method"]["bank"], p["method"]["expiredAt"]) == (
        "56211234567890", "SHINHAN", "2030-01-02T03:04:05.000Z")
    for pid in ("p_m", "p_e"):
        check_v2_payment(v2(emu, "GET", "/payments/" + pid)[1])
    # deposit: VIRTUAL_ACCOUNT_ISSUED -> PAID keeps the virtual account
    emu.patch_v2_payment("p_va", status="PAID")
    p = v2(emu, "GET", "/payments/p_va")[1]
    check_v2_payment(p)
    assert p["method"]["accountNumber"] == "56211234567890" and p["method"]["remitterName"]
    assert p["amount"]["paid"] == 9900
    with pytest.raises(KeyError):
        emu.patch_v2_payment("p_none", status="PAID")
    with pytest.raises(ValueError):
        emu.add_v2_payment(total=1)


def test_v2_unknown_status_and_overrides(emu):
    emu.add_v2_payments([
        {"paymentId": "p_future", "status": "REFUND_PENDING"},
        {"paymentId": "p_resp", "__response__": {"status": "PAID", "id": "other"}},
        {"paymentId": "p_raw", "__response__": "<html>not json</html>", "__status__": 200},
        {"paymentId": "p_500", "__status__": 503,
         "__response__": {"type": "INTERNAL", "message": "x"}},
        {"paymentId": "p_drop", "__drop__": ["amount.total", "channel", "currency"]},
        {"paymentId": "p_types", "total": "1000", "channel": None, "paidAt": 17},
        {"paymentId": "p_method", "method": "PaymentMethodCrypto2099"},
    ])
    code, p = v2(emu, "GET", "/payments/p_future")
    assert code == 200 and p["status"] == "REFUND_PENDING" and p["id"] == "p_future"
    assert set(V2_COMMON_REQUIRED) <= set(p) and p["channel"]["type"] == "LIVE"
    assert v2(emu, "GET", "/payments/p_resp") == (200, {"status": "PAID", "id": "other"})
    assert v2(emu, "GET", "/payments/p_raw") == (200, b"<html>not json</html>")
    assert v2(emu, "GET", "/payments/p_500") == (503, {"type": "INTERNAL", "message": "x"})
    p = v2(emu, "GET", "/payments/p_drop")[1]
    assert "total" not in p["amount"] and "channel" not in p and "currency" not in p
    assert "paid" in p["amount"]
    p = v2(emu, "GET", "/payments/p_types")[1]
    assert (p["amount"]["total"], p["channel"], p["paidAt"]) == ("1000", None, 17)
    assert v2(emu, "GET", "/payments/p_method")[1]["method"] == {"type": "PaymentMethodCrypto2099"}


PAYMENT_NOT_FOUND = (404, {"type": "PAYMENT_NOT_FOUND", "message": "결제 건이 존재하지 않습니다."})


def test_v2_payment_id_percent_decoded(emu):
    ids = ["order 1/2?x=#3%", "주문-번호 가나다", "a+b", "p%2Fq", "x" * 128, "'\";--", "ü€"]
    for pid in ids:
        emu.add_v2_payment(paymentId=pid, total=1200)
    for pid in ids:
        code, p = v2(emu, "GET", "/payments/" + qid(pid))
        assert (code, p["id"]) == (200, pid), pid
    # decoded once only: an encoded "%2F" in the id travels as "%252F"
    assert v2(emu, "GET", "/payments/p%2Fq") == PAYMENT_NOT_FOUND
    assert v2(emu, "GET", "/payments/" + qid("p%2Fq") + "?storeId=" + TEST_V2_STORE_ID)[0] == 200
    # an unencoded '/' is another route; '+' is no space in a path
    assert v2(emu, "GET", "/payments/order 1/2".replace(" ", "%20"))[0] == 404
    assert v2(emu, "GET", "/payments/a%20b") == PAYMENT_NOT_FOUND
    assert v2(emu, "GET", "/payments/%FF%FE")[1]["type"] == "INVALID_REQUEST"
    paths = [r["path"] for r in emu.counters()["requests"]]
    assert "/payments/order%201%2F2%3Fx%3D%233%25" in paths


def test_v2_not_found_and_stores(emu):
    assert v2(emu, "GET", "/payments/nope") == PAYMENT_NOT_FOUND
    assert v2(emu, "GET", "/payments/nope", v2_port=True) == PAYMENT_NOT_FOUND
    other = "store-00000000-0000-4000-8000-000000000002"
    emu.add_v2_payments([{"paymentId": "p_home"}, {"paymentId": "p_other", "storeId": other}])
    assert v2(emu, "GET", "/payments/p_home")[1]["storeId"] == TEST_V2_STORE_ID
    assert v2(emu, "GET", "/payments/p_home?storeId=" + TEST_V2_STORE_ID)[0] == 200
    # a payment of another store: not found in the store asked (or the secret's own)
    assert v2(emu, "GET", "/payments/p_home?storeId=" + other) == PAYMENT_NOT_FOUND
    assert v2(emu, "GET", "/payments/p_other") == PAYMENT_NOT_FOUND
    assert v2(emu, "GET", "/payments/p_other?storeId=" + other)[1]["storeId"] == other
    # an upstream that ignores the store (to test the module's own storeId check)
    emu.configure(v2_store_check=False)
    assert v2(emu, "GET", "/payments/p_other")[1]["storeId"] == other
    emu.configure(v2_store_check=True, v2_store_ids=[other])
    assert v2(emu, "GET", "/payments/p_other?storeId=" + other)[0] == 200
    assert v2(emu, "GET", "/payments/p_home?storeId=store-x") == (
        403, {"type": "FORBIDDEN", "message": "요청이 거절되었습니다."})
    assert v2(emu, "GET", "/payments/p_home?storeId=")[1]["type"] == "INVALID_REQUEST"
    # unknown V2 routes and methods
    assert v2(emu, "GET", "/payments/p_home/x")[0] == 404
    assert v2(emu, "DELETE", "/payments/p_home")[0] == 405
    assert v2(emu, "GET", "/payments/p_home/cancel", v2_port=True)[0] == 405


def test_v2_pre_register(emu):
    body = {"totalAmount": 15000, "currency": "KRW", "taxFreeAmount": 0}
    assert v2(emu, "POST", "/payments/%s/pre-register" % qid("pre 1/가"), body) == (200, {})
    assert emu.v2_pre_registered("pre 1/가") == dict(body, storeId=TEST_V2_STORE_ID)
    assert emu.get_v2_payment("pre 1/가") is None
    assert v2(emu, "GET", "/payments/" + qid("pre 1/가")) == PAYMENT_NOT_FOUND
    # again, another amount: replaces; a storeId in the body is the store used
    assert v2(emu, "POST", "/payments/p2/pre-register", {"totalAmount": 1}) == (200, {})
    assert v2(emu, "POST", "/payments/p2/pre-register",
              {"totalAmount": 2, "storeId": "store-b"}) == (200, {})
    assert emu.v2_pre_registered("p2") == {"totalAmount": 2, "storeId": "store-b"}
    assert v2(emu, "POST", "/payments/p3/pre-register", {}) == (200, {})   # nothing required
    for bad in ({"totalAmount": "15000"}, {"totalAmount": 1.5}, {"totalAmount": -1},
                {"totalAmount": True}, {"currency": "krw"}, {"currency": 410},
                {"taxFreeAmount": "0"}):
        code, err = v2(emu, "POST", "/payments/p4/pre-register", bad)
        assert (code, err["type"]) == (400, "INVALID_REQUEST"), bad
    for raw in ("", "[1]", "{oops"):
        assert v2(emu, "POST", "/payments/p4/pre-register", raw,
                  headers={"Content-Type": "application/json"})[0] == 400
    assert emu.v2_pre_registered("p4") is None
    emu.add_v2_payments([{"paymentId": "p_paid"}, {"paymentId": "p_ready", "status": "READY"}])
    assert v2(emu, "POST", "/payments/p_paid/pre-register", {"totalAmount": 1000}) == (
        409, {"type": "ALREADY_PAID", "message": "결제가 이미 완료되었습니다."})
    assert v2(emu, "POST", "/payments/p_ready/pre-register", {"totalAmount": 1000})[0] == 200
    # no credentials: a V2-only route, so a V2 401 even on the shared port
    assert v2(emu, "POST", "/payments/p5/pre-register", {"totalAmount": 1}, secret=None) == (
        401, {"type": "UNAUTHORIZED", "message": "인증 정보가 올바르지 않습니다."})
    r = [r for r in emu.counters()["requests"] if r["path"] == "/payments/p2/pre-register"][0]
    assert r["api"] == "v2" and r["headers"]["Authorization"] == "PortOne " + TEST_V2_SECRET
    assert json.loads(r["body"]) == {"totalAmount": 1}


def test_v2_cancel_full_and_partial(emu):
    emu.add_v2_payment(paymentId="c/1", total=10000)
    path = "/payments/%s/cancel" % qid("c/1")
    code, body = v2(emu, "POST", path, {"reason": "부분 취소", "amount": 3000,
                                         "currentCancellableAmount": 10000})
    assert code == 200 and set(body) == {"cancellation"}
    c = body["cancellation"]
    check_cancellation(c)
    assert (c["status"], c["totalAmount"], c["taxFreeAmount"], c["reason"], c["trigger"]) == (
        "SUCCEEDED", 3000, 0, "부분 취소", "API")
    assert c["vatAmount"] == 273 and c["cancelledAt"]
    p = v2(emu, "GET", "/payments/" + qid("c/1"))[1]
    check_v2_payment(p)
    assert (p["status"], p["amount"]["cancelled"], p["cancellations"]) == (
        "PARTIAL_CANCELLED", 3000, [c])
    # a stale currentCancellableAmount: refused, nothing changes
    assert v2(emu, "POST", path, {"reason": "x", "currentCancellableAmount": 10000}) == (
        409, {"type": "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
              "message": "취소 가능 잔액 검증에 실패했습니다."})
    assert v2(emu, "POST", path, {"reason": "x", "amount": 7001})[1]["type"] == \
        "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT"
    assert v2(emu, "POST", path, {"reason": "x", "amount": 100, "taxFreeAmount": 200})[1][
        "type"] == "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT"
    assert emu.get_v2_payment("c/1")["amount"]["cancelled"] == 3000
    # the rest: amount absent
    code, body = v2(emu, "POST", path, {"reason": "나머지", "currentCancellableAmount": 7000})
    assert code == 200 and body["cancellation"]["totalAmount"] == 7000
    assert body["cancellation"]["id"] != c["id"]
    p = v2(emu, "GET", "/payments/" + qid("c/1"))[1]
    check_v2_payment(p)
    assert (p["status"], p["amount"]["cancelled"], len(p["cancellations"])) == ("CANCELLED", 10000, 2)
    assert p["paidAt"] <= p["cancelledAt"]
    assert v2(emu, "POST", path, {"reason": "again"}) == (
        409, {"type": "PAYMENT_ALREADY_CANCELLED", "message": "결제가 이미 취소되었습니다."})


def test_v2_cancel_errors(emu):
    emu.add_v2_payments([{"paymentId": "c_ready", "status": "READY"},
                         {"paymentId": "c_va", "status": "VIRTUAL_ACCOUNT_ISSUED"},
                         {"paymentId": "c_ok"},
                         {"paymentId": "c_other", "storeId": "store-b"},
                         {"paymentId": "c_req", "__cancel_status__": "REQUESTED"},
                         {"paymentId": "c_pg", "__cancel_status__": "PG_PROVIDER"},
                         {"paymentId": "c_fail", "__cancel_status__": "FAILED"}])
    assert v2(emu, "POST", "/payments/c_none/cancel", {"reason": "x"}) == PAYMENT_NOT_FOUND
    assert v2(emu, "POST", "/payments/c_other/cancel", {"reason": "x"}) == PAYMENT_NOT_FOUND
    assert v2(emu, "POST", "/payments/c_other/cancel", {"reason": "x", "storeId": "store-b"})[0] == 200
    for pid in ("c_ready", "c_va"):
        assert v2(emu, "POST", "/payments/%s/cancel" % pid, {"reason": "x"})[1]["type"] == \
            "PAYMENT_NOT_PAID"
    for bad in ({}, {"reason": ""}, {"reason": 1}, {"reason": "x", "amount": "100"},
                {"reason": "x", "amount": 0}, {"reason": "x", "amount": -5},
                {"reason": "x", "currentCancellableAmount": 1.5}):
        assert v2(emu, "POST", "/payments/c_ok/cancel", bad)[1]["type"] == "INVALID_REQUEST", bad
    assert v2(emu, "POST", "/payments/c_ok/cancel", {"reason": "x"}, secret="bad")[0] == 401
    assert emu.get_v2_payment("c_ok")["status"] == "PAID"
    # asynchronous cancel: REQUESTED, the payment not cancelled (yet)
    code, body = v2(emu, "POST", "/payments/c_req/cancel", {"reason": "x"})
    assert code == 200 and body["cancellation"]["status"] == "REQUESTED"
    check_cancellation(body["cancellation"])
    p = emu.get_v2_payment("c_req")
    check_v2_payment(p)
    assert p["status"] == "PAID" and p["cancellations"][0]["status"] == "REQUESTED"
    code, body = v2(emu, "POST", "/payments/c_fail/cancel", {"reason": "x"})
    assert code == 200 and body["cancellation"]["status"] == "FAILED"
    code, body = v2(emu, "POST", "/payments/c_pg/cancel", {"reason": "x"})
    assert code == 502 and body["type"] == "PG_PROVIDER" and body["pgCode"] and body["pgMessage"]
    assert emu.get_v2_payment("c_pg")["status"] == "PAID"


def idem(key):
    return {"Idempotency-Key": '"%s"' % key}


def test_v2_idempotency_key_replays(emu):
    emu.add_v2_payment(paymentId="i_1", total=5000)
    key = "cancel-i_1-0123456789"
    first = v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "amount": 1000}, headers=idem(key))
    assert first[0] == 200
    again = v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "amount": 1000}, headers=idem(key))
    assert again == first
    assert emu.counters()["idempotent_replays"] == 1
    assert emu.get_v2_payment("i_1")["amount"]["cancelled"] == 1000      # once only
    # the key unquoted is the same key
    assert v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "amount": 1000},
              headers={"Idempotency-Key": key}) == first
    # the same key for another request: refused
    assert v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "amount": 2000},
              headers=idem(key))[0] == 422
    # error answers are replayed too
    k2 = "stale-guard-key-000001"
    e1 = v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "currentCancellableAmount": 1},
            headers=idem(k2))
    assert e1[1]["type"] == "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"
    assert v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "currentCancellableAmount": 1},
              headers=idem(k2)) == e1
    # without a key, each request runs
    assert v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "amount": 1000})[0] == 200
    assert emu.get_v2_payment("i_1")["amount"]["cancelled"] == 2000
    # bad keys; a bad secret is not answered from the store
    assert v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r"}, headers=idem("short"))[1][
        "type"] == "INVALID_REQUEST"
    assert v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "amount": 1000},
              headers=idem(key), secret="bad")[0] == 401
    # the key expires after 3 hours
    emu.set_clock_offset(3 * 3600 + 1)
    assert v2(emu, "POST", "/payments/i_1/cancel", {"reason": "r", "amount": 1000},
              headers=idem(key))[1]["cancellation"]["id"] != first[1]["cancellation"]["id"]


def test_v2_idempotency_in_flight_and_lost_answer(emu):
    emu.add_v2_payment(paymentId="i_2", total=5000)
    key = "in-flight-key-0000001"
    emu.add_fault("/payments/i_2/cancel", "delay", count=1, seconds=1.5)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("a", v2(
        emu, "POST", "/payments/i_2/cancel", {"reason": "r"}, headers=idem(key))))
    t.start()
    deadline = time.monotonic() + 10
    while emu._idem.get(key, {}).get("state") != "busy":    # the first one is in flight
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert v2(emu, "POST", "/payments/i_2/cancel", {"reason": "r"}, headers=idem(key)) == (
        409, {"type": "IDEMPOTENCY_OUTSTANDING_REQUEST",
              "message": "같은 멱등 키의 요청이 처리 중입니다."})
    t.join(10)
    assert out["a"][0] == 200
    # processed, but the answer is lost: the retry with the key gets it
    emu.add_v2_payment(paymentId="i_3", total=5000)
    emu.add_fault("/payments/i_3/cancel", "lost", count=1)
    with pytest.raises(http.client.RemoteDisconnected):
        v2(emu, "POST", "/payments/i_3/cancel", {"reason": "r"}, headers=idem("lost-answer-key-01"))
    assert emu.get_v2_payment("i_3")["status"] == "CANCELLED"
    code, body = v2(emu, "POST", "/payments/i_3/cancel", {"reason": "r"},
                    headers=idem("lost-answer-key-01"))
    assert code == 200 and body["cancellation"]["totalAmount"] == 5000
    # GET ignores the key
    assert v2(emu, "GET", "/payments/i_3", headers=idem("lost-answer-key-01"))[1]["id"] == "i_3"


def test_v2_faults(emu):
    emu.add_payment(imp_uid="f_1")
    emu.add_v2_payment(paymentId="f_1")
    tok = get_token(emu)["access_token"]
    emu.add_fault("/payments", "status", status=503, api="v2", count=1)
    assert get_payment(emu, "f_1", tok)[0] == 200            # V1 untouched
    assert v2(emu, "GET", "/payments/f_1") == (
        503, {"type": "INTERNAL_SERVER_ERROR", "message": "Internal Server Error"})
    emu.add_fault("/payments", "status", status=404, api="v2", count=1)
    assert v2(emu, "GET", "/payments/f_1") == (
        404, {"type": "PAYMENT_NOT_FOUND", "message": "Internal Server Error"})
    emu.add_fault("/payments", "status", status=409, type="PAYMENT_ALREADY_CANCELLED",
                  message="m", api="v2", count=1)
    assert v2(emu, "POST", "/payments/f_1/cancel", {"reason": "x"}) == (
        409, {"type": "PAYMENT_ALREADY_CANCELLED", "message": "m"})
    emu.add_fault("/payments", "unauthorized", api="v2", count=1)
    assert v2(emu, "GET", "/payments/f_1")[1]["type"] == "UNAUTHORIZED"
    emu.add_fault("/payments", "huge", bytes=50000, api="v2", count=1)
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    status, resp, data = request(emu, "GET", "/payments/f_1",
                                 headers={"Authorization": "PortOne " + TEST_V2_SECRET}, conn=conn)
    conn.close()
    assert status == 200 and len(data) == 50000 and json.loads(data)["id"] == "f_1"
    assert resp.getheader("Content-Type") == "application/json"
    emu.add_fault("/payments", "garbage", api="v2", count=1)
    assert v2(emu, "GET", "/payments/f_1") == (200, b"<html>oops</html>")
    with pytest.raises(ValueError):
        emu.add_fault("/payments", "status", api="v3")
    assert v2(emu, "GET", "/payments/f_1")[0] == 200


def test_v2_cancel_refused_by_a_fault(emu):
    # fault "refuse": a 4xx {"type"} (default 409 PG_PROVIDER), nothing changes
    emu.add_v2_payment(paymentId="rf-1", total=10000)
    path = "/payments/rf-1/cancel"
    emu.add_fault(path, "refuse", count=1, api="v2")
    code, body = v2(emu, "POST", path, {"reason": "x", "currentCancellableAmount": 10000})
    assert code == 409 and body["type"] == "PG_PROVIDER", body
    assert emu.get_v2_payment("rf-1")["status"] == "PAID"
    code, body = v2(emu, "POST", path, {"reason": "x", "currentCancellableAmount": 10000})
    assert code == 200 and body["cancellation"]["status"] == "SUCCEEDED"
    assert emu.get_v2_payment("rf-1")["status"] == "CANCELLED"
