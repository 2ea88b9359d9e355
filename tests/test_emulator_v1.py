"""Self-test of the emulator's V1 API: getToken, payments, prepare, cancel, find
(run: /usr/bin/python3 -m pytest tests/test_emulator_v1.py -q)."""
import json
import time
import urllib.parse

from emulator_client import (CREDS, emu, emu_server, get_payment, get_token,  # noqa: F401
                             jreq, request)
from portone_emulator import (MSG_AUTH_FAILED, MSG_CANCEL_CHECKSUM, MSG_CANCEL_DONE,
                              MSG_CANCEL_NONE, MSG_CANCEL_NOT_PAID, MSG_MISSING,
                              MSG_NO_PAYMENT, MSG_NOT_PREPARED, MSG_PREPARE_DUP, TEST_IMP_KEY)


TABLE_FIELDS = """imp_uid merchant_uid pay_method channel pg_provider emb_pg_provider pg_tid pg_id sandbox
escrow apply_num bank_code bank_name card_code card_name card_issuer_code card_issuer_name card_publisher_code
card_publisher_name card_number card_quota card_type vbank_code vbank_name vbank_num vbank_holder vbank_date
vbank_issued_at name amount cancel_amount currency buyer_name buyer_email buyer_tel buyer_addr buyer_postcode
custom_data user_agent status started_at paid_at failed_at cancelled_at fail_reason cancel_reason receipt_url
cancel_history deposit_history cancel_receipt_urls cash_receipt_issued customer_uid customer_uid_usage
promotion""".split()


# ---------- getToken ----------
def test_token_shape_and_reuse(emu):
    a = get_token(emu)
    assert len(a["access_token"]) == 40 and int(a["access_token"], 16) >= 0
    assert a["expired_at"] - a["now"] == 1800 and abs(a["now"] - time.time()) < 5
    b = get_token(emu)
    assert (b["access_token"], b["expired_at"]) == (a["access_token"], a["expired_at"])
    assert emu.counters()["tokens_issued"] == 1
    assert emu.counters()["get_token_calls"] == 2


def test_token_extension_within_last_minute(emu):
    a = get_token(emu)
    emu.set_clock_offset(1700)          # 100 s left: no extension
    b = get_token(emu)
    assert (b["access_token"], b["expired_at"]) == (a["access_token"], a["expired_at"])
    emu.set_clock_offset(1770)          # 30 s left: +300 s
    c = get_token(emu)
    assert c["access_token"] == a["access_token"]
    assert c["expired_at"] == a["expired_at"] + 300
    d = get_token(emu)                  # now 330 s left: unchanged
    assert d["expired_at"] == c["expired_at"]
    assert c["now"] - a["now"] >= 1770


def test_expiry_gives_new_token_and_old_one_401(emu):
    emu.add_payment(imp_uid="imp_1", amount=1000)
    a = get_token(emu)
    assert get_payment(emu, "imp_1", a["access_token"])[0] == 200
    emu.set_clock_offset(1801)
    assert get_payment(emu, "imp_1", a["access_token"]) == (
        401, {"code": -1, "message": "Unauthorized", "response": None})
    b = get_token(emu)
    assert b["access_token"] != a["access_token"]
    assert get_payment(emu, "imp_1", b["access_token"])[0] == 200
    assert emu.counters()["tokens_issued"] == 2


def test_token_lifetime_config(emu):
    emu.configure(token_lifetime=120)
    a = get_token(emu)
    assert a["expired_at"] - a["now"] == 120


def test_revoke(emu):
    emu.add_payment(imp_uid="imp_1")
    a = get_token(emu)
    emu.revoke_tokens()
    assert get_payment(emu, "imp_1", a["access_token"])[0] == 401
    b = get_token(emu)
    assert b["access_token"] != a["access_token"]
    assert get_payment(emu, "imp_1", b["access_token"])[0] == 200


def test_get_token_errors(emu):
    missing = (400, {"code": -1, "message": MSG_MISSING, "response": None})
    assert jreq(emu, "POST", "/users/getToken", {"imp_key": TEST_IMP_KEY}) == missing
    assert jreq(emu, "POST", "/users/getToken", {}) == missing
    assert jreq(emu, "POST", "/users/getToken", "",
                {"Content-Type": "application/json"}) == missing
    assert jreq(emu, "POST", "/users/getToken", {"imp_key": TEST_IMP_KEY, "imp_secret": "x"}) == (
        401, {"code": -1, "message": MSG_AUTH_FAILED, "response": None})
    assert emu.counters()["tokens_issued"] == 0


def test_get_token_form_encoded(emu):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, body = jreq(emu, "POST", "/users/getToken", urllib.parse.urlencode(CREDS), form)
    assert status == 200 and len(body["response"]["access_token"]) == 40
    status, body = jreq(emu, "POST", "/users/getToken", "imp_key=" + TEST_IMP_KEY, form)
    assert (status, body["message"]) == (400, MSG_MISSING)
    # a JSON body labelled as a form is a malformed form: fields missing
    status, body = jreq(emu, "POST", "/users/getToken", json.dumps(CREDS), form)
    assert status == 400


def test_response_headers_and_encoding(emu):
    status, resp, data = request(emu, "POST", "/users/getToken", {})
    assert resp.getheader("Content-Type") == "application/json; charset=UTF-8"
    assert int(resp.getheader("Content-Length")) == len(data)
    assert b"\\ud30c" in data           # ensure_ascii (like the live API)


# ---------- payments ----------
def test_auth_header_forms(emu):
    emu.add_payment(imp_uid="imp_1")
    tok = get_token(emu)["access_token"]
    for h in ({"Authorization": "Bearer " + tok}, {"Authorization": tok},
              {"X-ImpTokenHeader": tok},
              {"Authorization": tok, "X-ImpTokenHeader": "bogus"}):
        assert jreq(emu, "GET", "/payments/imp_1", headers=h)[0] == 200, h
    for h in ({}, {"Authorization": "Bearer bogus"}, {"Authorization": ""},
              {"Authorization": "Bearer bogus", "X-ImpTokenHeader": tok}):
        assert jreq(emu, "GET", "/payments/imp_1", headers=h) == (
            401, {"code": -1, "message": "Unauthorized", "response": None}), h


def test_unknown_payment_404(emu):
    tok = get_token(emu)["access_token"]
    assert get_payment(emu, "imp_nope", tok) == (
        404, {"code": -1, "message": MSG_NO_PAYMENT, "response": None})


def test_payment_defaults_and_overrides(emu):
    emu.add_payment(imp_uid="imp_1", merchant_uid="order_1", amount=9000)
    tok = get_token(emu)["access_token"]
    status, body = get_payment(emu, "imp_1", tok)
    assert status == 200 and body["code"] == 0 and body["message"] is None
    r = body["response"]
    assert set(TABLE_FIELDS) <= set(r)
    assert "tier" not in r
    assert (r["imp_uid"], r["merchant_uid"], r["amount"]) == ("imp_1", "order_1", 9000)
    assert (r["cancel_amount"], r["currency"], r["status"], r["sandbox"]) == (0, "KRW", "paid", False)
    assert r["pay_method"] == "card" and r["vbank_num"] is None and r["vbank_date"] == 0
    assert r["paid_at"] > 0 and r["cancel_history"] == []

    emu.add_payment(imp_uid="imp_2", status="ready", pay_method="vbank", amount=5000)
    r = get_payment(emu, "imp_2", tok)[1]["response"]
    assert r["paid_at"] == 0 and r["vbank_num"] and r["vbank_date"] > 0
    emu.patch_payment("imp_2", status="paid")
    r = get_payment(emu, "imp_2", tok)[1]["response"]
    assert r["status"] == "paid" and r["paid_at"] > 0 and r["amount"] == 5000

    emu.add_payment(imp_uid="imp_3", amount="1000", status="weird", cancel_history=None)
    r = get_payment(emu, "imp_3", tok)[1]["response"]
    assert (r["amount"], r["status"], r["cancel_history"]) == ("1000", "weird", None)

    emu.add_payment(imp_uid="imp_4", status="cancelled", amount=700)
    r = get_payment(emu, "imp_4", tok)[1]["response"]
    assert r["cancel_amount"] == 700 and r["cancelled_at"] > 0 and len(r["cancel_history"]) == 1

    emu.add_payment(imp_uid="imp_1", amount=1)       # replace, not merge
    r = get_payment(emu, "imp_1", tok)[1]["response"]
    assert r["amount"] == 1 and r["merchant_uid"] != "order_1"


def test_response_and_envelope_overrides(emu):
    emu.add_payments([{"imp_uid": "imp_n", "__response__": None},
                      {"imp_uid": "imp_e", "__envelope__": {"code": 0, "response": [1]}},
                      {"imp_uid": "imp_s", "__envelope__": "not json"}])
    tok = get_token(emu)["access_token"]
    assert get_payment(emu, "imp_n", tok) == (200, {"code": 0, "message": None, "response": None})
    assert get_payment(emu, "imp_e", tok) == (200, {"code": 0, "response": [1]})
    status, _, data = request(emu, "GET", "/payments/imp_s", headers={"Authorization": tok})
    assert (status, data) == (200, b"not json")


def test_http200_nonzero_code(emu):
    emu.add_payment(imp_uid="imp_c", __code__=1, __message__="비인증결제모듈 사용정보를 찾을 수 없습니다.")
    tok = get_token(emu)["access_token"]
    assert get_payment(emu, "imp_c", tok) == (
        200, {"code": 1, "message": "비인증결제모듈 사용정보를 찾을 수 없습니다.", "response": None})


def test_sandbox_hidden(emu):
    emu.add_payment(imp_uid="imp_sb", sandbox=True)
    tok = get_token(emu)["access_token"]
    assert get_payment(emu, "imp_sb", tok)[0] == 404
    assert get_payment(emu, "imp_sb", tok, "?include_sandbox=false")[0] == 404
    status, body = get_payment(emu, "imp_sb", tok, "?include_sandbox=true")
    assert status == 200 and body["response"]["sandbox"] is True


def test_tier(emu):
    emu.add_payments([{"imp_uid": "imp_t", "tier": "AB1"}, {"imp_uid": "imp_u"}])
    tok = get_token(emu)["access_token"]
    assert get_payment(emu, "imp_t", tok)[0] == 404
    assert get_payment(emu, "imp_t", tok, headers={"Tier": "ZZZ"})[0] == 404
    assert get_payment(emu, "imp_t", tok, headers={"Tier": "AB1"})[0] == 200
    assert get_payment(emu, "imp_u", tok)[0] == 200
    assert get_payment(emu, "imp_u", tok, headers={"Tier": "AB1"})[0] == 404


def test_paths_and_traversal(emu):
    emu.add_payment(imp_uid="imp_1")
    emu.add_payment(imp_uid="imp a/b")
    tok = get_token(emu)["access_token"]
    h = {"Authorization": "Bearer " + tok}
    assert jreq(emu, "GET", "/payments/..%2Fusers%2FgetToken", headers=h) == (
        404, {"code": -1, "message": MSG_NO_PAYMENT, "response": None})
    not_found = (404, {"code": -1, "message": "Not Found", "response": None})
    for p in ("/payments/../users/getToken", "/payments/imp_1/x", "/payments/", "/payments",
              "/", "/users/getToken/x", "/payments/find/order_1/paid/x", "/payments/prepare/a/b"):
        assert jreq(emu, "GET", p, headers=h) == not_found, p
    # /payments/find/{merchant_uid} is an endpoint now: no such order
    assert jreq(emu, "GET", "/payments/find/order_1", headers=h) == (
        404, {"code": -1, "message": MSG_NO_PAYMENT, "response": None})
    assert jreq(emu, "GET", "/payments/imp%5F1", headers=h)[0] == 200
    assert jreq(emu, "GET", "/payments/imp%20a%2Fb", headers=h)[0] == 200
    assert jreq(emu, "GET", "/payments/imp%255F1", headers=h)[0] == 404   # decoded once only
    paths = [r["path"] for r in emu.counters()["requests"]]
    assert "/payments/..%2Fusers%2FgetToken" in paths
    assert "/payments/../users/getToken" in paths


# =====================================================================================
# V1 prepare / cancel / find (portone-api.md 1.5; V1SPEC preparePayment, editPreparePayment,
# getPaymentPrepareByMerchantUid, cancelPayment, getPaymentByMerchantUid)
# =====================================================================================
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def v1(emu, method, path, body=None, headers=None, token=None):
    h = {"Authorization": "Bearer " + (token or get_token(emu)["access_token"])}
    h.update(headers or {})
    return jreq(emu, method, path, body, h)


def test_v1_prepare(emu):
    tok = get_token(emu)["access_token"]
    assert v1(emu, "POST", "/payments/prepare", {"merchant_uid": "o_1", "amount": 12000},
              token=tok) == (200, {"code": 0, "message": None, "response": {
                  "merchant_uid": "o_1", "amount": 12000, "currency": None}})
    assert emu.prepared("o_1") == {"merchant_uid": "o_1", "amount": 12000, "currency": None}
    # a second POST for the same merchant_uid: HTTP 200, code 1
    assert v1(emu, "POST", "/payments/prepare", {"merchant_uid": "o_1", "amount": 99},
              token=tok) == (200, {"code": 1, "message": MSG_PREPARE_DUP, "response": None})
    assert emu.prepared("o_1")["amount"] == 12000
    # PUT changes the amount
    status, body = v1(emu, "PUT", "/payments/prepare",
                      {"merchant_uid": "o_1", "amount": 15000, "currency": "KRW"}, token=tok)
    assert (status, body["code"], body["response"]) == (
        200, 0, {"merchant_uid": "o_1", "amount": 15000, "currency": "KRW"})
    assert v1(emu, "GET", "/payments/prepare/o_1", token=tok)[1]["response"] == {
        "merchant_uid": "o_1", "amount": 15000, "currency": "KRW"}
    # PUT / GET of something never prepared: 404
    assert v1(emu, "PUT", "/payments/prepare", {"merchant_uid": "o_2", "amount": 1},
              token=tok) == (404, {"code": -1, "message": MSG_NOT_PREPARED, "response": None})
    assert v1(emu, "GET", "/payments/prepare/o_2", token=tok) == (
        404, {"code": -1, "message": MSG_NOT_PREPARED, "response": None})
    assert emu.prepared("o_2") is None
    # form body, decimal amount, percent-encoded merchant_uid
    status, body = v1(emu, "POST", "/payments/prepare",
                      urllib.parse.urlencode({"merchant_uid": "주문 1/2", "amount": "1000.50",
                                              "currency": "USD"}), FORM, token=tok)
    assert (status, body["response"]) == (
        200, {"merchant_uid": "주문 1/2", "amount": 1000.5, "currency": "USD"})
    assert v1(emu, "GET", "/payments/prepare/" + urllib.parse.quote("주문 1/2", safe=""),
              token=tok)[1]["response"]["amount"] == 1000.5
    # missing fields, bad amount, no token
    for bad in ({"merchant_uid": "o_3"}, {"amount": 5}, {"merchant_uid": "", "amount": 5}):
        status, body = v1(emu, "POST", "/payments/prepare", bad, token=tok)
        assert status == 400 and body["code"] == -1 and body["response"] is None, bad
    assert v1(emu, "POST", "/payments/prepare", {"merchant_uid": "o_3", "amount": "ten"},
              token=tok)[0] == 400
    # V1SPEC: merchant_uid at most 40 characters (Korean counts as one each)
    assert v1(emu, "POST", "/payments/prepare", {"merchant_uid": "가" * 41, "amount": 5},
              token=tok)[0] == 400
    assert v1(emu, "POST", "/payments/prepare", {"merchant_uid": "가" * 40, "amount": 5},
              token=tok)[0] == 200
    assert jreq(emu, "POST", "/payments/prepare", {"merchant_uid": "o_3", "amount": 5})[0] == 401
    assert jreq(emu, "GET", "/payments/prepare/o_1")[0] == 401
    emu.add_prepared("o_seed", 700, "KRW")
    assert v1(emu, "GET", "/payments/prepare/o_seed", token=tok)[1]["response"]["amount"] == 700


CANCEL_FIELDS = ("pg_tid", "amount", "reason", "cancelled_at", "cancellation_id")  # required


def test_v1_cancel_full_partial_and_checksum(emu):
    emu.add_payment(imp_uid="imp_c1", merchant_uid="o_c1", amount=10000, status="paid")
    tok = get_token(emu)["access_token"]
    # partial 1000 with the right checksum: still "paid"
    status, body = v1(emu, "POST", "/payments/cancel",
                      {"imp_uid": "imp_c1", "amount": 1000, "checksum": 10000, "reason": "부분"},
                      token=tok)
    assert status == 200 and body["code"] == 0 and body["message"] is None
    r = body["response"]
    assert (r["status"], r["amount"], r["cancel_amount"]) == ("paid", 10000, 1000)
    assert [h["amount"] for h in r["cancel_history"]] == [1000]
    assert set(CANCEL_FIELDS) <= set(r["cancel_history"][0]) and r["cancel_reason"] == "부분"
    assert r["cancelled_at"] > 0 and r["paid_at"] > 0
    # a stale checksum (the merchant missed the first cancel) is refused, nothing changes
    assert v1(emu, "POST", "/payments/cancel",
              {"imp_uid": "imp_c1", "checksum": 10000, "reason": "x"}, token=tok) == (
        200, {"code": 1, "message": MSG_CANCEL_CHECKSUM, "response": None})
    # more than the remainder
    assert v1(emu, "POST", "/payments/cancel", {"imp_uid": "imp_c1", "amount": 9001},
              token=tok)[1]["code"] == 1
    # the rest (amount absent), form-encoded, checksum as text
    status, body = v1(emu, "POST", "/payments/cancel",
                      urllib.parse.urlencode({"imp_uid": "imp_c1", "checksum": "9000",
                                              "reason": "전액"}), FORM, token=tok)
    r = body["response"]
    assert (status, body["code"], r["status"], r["cancel_amount"]) == (200, 0, "cancelled", 10000)
    assert [h["amount"] for h in r["cancel_history"]] == [1000, 9000]
    assert len({h["cancellation_id"] for h in r["cancel_history"]}) == 2
    # the lookup shows the same
    r2 = get_payment(emu, "imp_c1", tok)[1]["response"]
    assert (r2["status"], r2["cancel_amount"], r2["cancel_history"]) == (
        "cancelled", 10000, r["cancel_history"])
    assert emu.get_payment("imp_c1")["status"] == "cancelled"
    # once more: already cancelled
    assert v1(emu, "POST", "/payments/cancel", {"imp_uid": "imp_c1"}, token=tok) == (
        200, {"code": 1, "message": MSG_CANCEL_DONE, "response": None})


def test_v1_cancel_errors_and_merchant_uid(emu):
    tok = get_token(emu)["access_token"]
    assert v1(emu, "POST", "/payments/cancel", {"imp_uid": "imp_nope", "reason": "x"},
              token=tok) == (200, {"code": 1, "message": MSG_CANCEL_NONE, "response": None})
    assert v1(emu, "POST", "/payments/cancel", {"merchant_uid": "o_nope"},
              token=tok)[1]["message"] == MSG_CANCEL_NONE
    status, body = v1(emu, "POST", "/payments/cancel", {"reason": "x"}, token=tok)
    assert (status, body["code"], body["response"]) == (200, 1, None)
    assert body["message"].endswith("지정해주셔야합니다.")
    assert jreq(emu, "POST", "/payments/cancel", {"imp_uid": "imp_x"})[0] == 401
    # by merchant_uid: the paid one of two attempts; imp_uid wins when both are given
    emu.add_payments([{"imp_uid": "imp_f", "merchant_uid": "o_m", "status": "failed", "amount": 500},
                      {"imp_uid": "imp_p", "merchant_uid": "o_m", "status": "paid", "amount": 500},
                      {"imp_uid": "imp_r", "merchant_uid": "o_r", "status": "ready",
                       "pay_method": "vbank", "amount": 300}])
    status, body = v1(emu, "POST", "/payments/cancel", {"merchant_uid": "o_m"}, token=tok)
    assert body["code"] == 0 and body["response"]["imp_uid"] == "imp_p"
    assert v1(emu, "POST", "/payments/cancel", {"imp_uid": "imp_r", "merchant_uid": "o_m"},
              token=tok) == (200, {"code": 1, "message": MSG_CANCEL_NOT_PAID, "response": None})
    # a payment of another tier is not there without its Tier header
    emu.add_payment(imp_uid="imp_t", tier="AB1", amount=100)
    assert v1(emu, "POST", "/payments/cancel", {"imp_uid": "imp_t"},
              token=tok)[1]["message"] == MSG_CANCEL_NONE
    assert v1(emu, "POST", "/payments/cancel", {"imp_uid": "imp_t"}, {"Tier": "AB1"},
              token=tok)[1]["code"] == 0


def test_v1_find_by_merchant_uid(emu):
    emu.add_payments([
        {"imp_uid": "imp_a", "merchant_uid": "o_f", "status": "failed", "started_at": 1000},
        {"imp_uid": "imp_b", "merchant_uid": "o_f", "status": "paid", "started_at": 3000,
         "paid_at": 3010},
        {"imp_uid": "imp_c", "merchant_uid": "o_f", "status": "ready", "started_at": 2000},
        {"imp_uid": "imp_d", "merchant_uid": "o_other", "started_at": 9000}])
    tok = get_token(emu)["access_token"]

    def find(path):
        status, body = v1(emu, "GET", "/payments/find/" + path, token=tok)
        return status, body["response"] and body["response"]["imp_uid"]
    assert find("o_f") == (200, "imp_b")                     # default -started: the latest
    assert find("o_f?sorting=started") == (200, "imp_a")
    assert find("o_f?sorting=-paid") == (200, "imp_b")
    assert find("o_f/failed") == (200, "imp_a")
    assert find("o_f/ready") == (200, "imp_c")
    assert find("o_f/") == (200, "imp_b")                    # empty status = any
    assert find("o_f/cancelled") == (404, None)
    assert find("o_none") == (404, None)
    assert v1(emu, "GET", "/payments/find/o_f/weird", token=tok)[0] == 400
    assert v1(emu, "GET", "/payments/find/o_f?sorting=amount", token=tok)[0] == 400
    assert jreq(emu, "GET", "/payments/find/o_f")[0] == 401
    # -updated: the one patched last
    emu.patch_payment("imp_a", buyer_name="x")
    assert find("o_f?sorting=-updated") == (200, "imp_a")
    # the whole PaymentAnnotation, as the single lookup gives it
    body = v1(emu, "GET", "/payments/find/o_f", token=tok)[1]
    assert body == get_payment(emu, "imp_b", tok)[1]
    # overrides apply as for GET /payments/{imp_uid}
    emu.add_payment(imp_uid="imp_e", merchant_uid="o_e", __code__=1, __message__="m")
    assert v1(emu, "GET", "/payments/find/o_e", token=tok)[1] == {
        "code": 1, "message": "m", "response": None}


def test_v1_cancel_refused_by_a_fault(emu):
    # fault "refuse": PortOne says no (HTTP 200, code 1) and nothing changes
    emu.add_payment(imp_uid="imp_rf", merchant_uid="o_rf", amount=10000, status="paid")
    tok = get_token(emu)["access_token"]
    emu.add_fault("/payments/cancel", "refuse", count=1)
    status, body = v1(emu, "POST", "/payments/cancel",
                      {"imp_uid": "imp_rf", "checksum": 10000, "reason": "x"}, token=tok)
    assert status == 200 and body["code"] == 1 and body["message"] and body["response"] is None
    assert emu.get_payment("imp_rf")["status"] == "paid"
    # the next one goes through
    status, body = v1(emu, "POST", "/payments/cancel",
                      {"imp_uid": "imp_rf", "checksum": 10000, "reason": "x"}, token=tok)
    assert (status, body["code"], body["response"]["status"]) == (200, 0, "cancelled")
