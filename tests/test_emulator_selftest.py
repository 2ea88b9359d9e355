"""Self-test of tests/portone_emulator.py (run: /usr/bin/python3 -m pytest tests/test_emulator_selftest.py -q)."""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from portone_emulator import (DEFAULT_V2_TOKEN_LIFETIME, Emulator,  # noqa: E402
                              MSG_AUTH_FAILED, MSG_CANCEL_CHECKSUM, MSG_CANCEL_DONE,
                              MSG_CANCEL_NONE, MSG_CANCEL_NOT_PAID, MSG_MISSING,
                              MSG_NO_PAYMENT, MSG_NOT_PREPARED, MSG_PREPARE_DUP,
                              TEST_IMP_KEY, TEST_IMP_SECRET, TEST_V2_SECRET,
                              TEST_V2_STORE_ID, TEST_WEBHOOK_SECRET, sign_webhook)

CREDS = {"imp_key": TEST_IMP_KEY, "imp_secret": TEST_IMP_SECRET}
TABLE_FIELDS = """imp_uid merchant_uid pay_method channel pg_provider emb_pg_provider pg_tid pg_id sandbox
escrow apply_num bank_code bank_name card_code card_name card_issuer_code card_issuer_name card_publisher_code
card_publisher_name card_number card_quota card_type vbank_code vbank_name vbank_num vbank_holder vbank_date
vbank_issued_at name amount cancel_amount currency buyer_name buyer_email buyer_tel buyer_addr buyer_postcode
custom_data user_agent status started_at paid_at failed_at cancelled_at fail_reason cancel_reason receipt_url
cancel_history deposit_history cancel_receipt_urls cash_receipt_issued customer_uid customer_uid_usage
promotion""".split()


@pytest.fixture(scope="module")
def emu_server():
    emu = Emulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def emu(emu_server):
    emu_server.reset()
    return emu_server


def request(emu, method, path, body=None, headers=None, conn=None, timeout=10):
    """One request; returns (status, headers, raw body bytes)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", emu.port, timeout=timeout)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = dict({"Content-Type": "application/json"}, **(headers or {}))
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp.status, resp, data


def jreq(emu, method, path, body=None, headers=None, conn=None):
    status, _, data = request(emu, method, path, body, headers, conn)
    return status, json.loads(data)


def get_token(emu):
    status, body = jreq(emu, "POST", "/users/getToken", CREDS)
    assert status == 200 and body["code"] == 0, body
    return body["response"]


def get_payment(emu, imp_uid, token, query="", headers=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    h.update(headers or {})
    return jreq(emu, "GET", "/payments/%s%s" % (urllib.parse.quote(imp_uid, safe=""), query),
                headers=h)


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


# ---------- counters / keep-alive ----------
def test_counters_keepalive(emu):
    emu.add_payment(imp_uid="imp_1")
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    status, resp, data = request(emu, "POST", "/users/getToken", CREDS, conn=conn)
    assert resp.getheader("Connection") == "keep-alive"
    tok = json.loads(data)["response"]["access_token"]
    for _ in range(3):
        assert request(emu, "GET", "/payments/imp_1?include_sandbox=false",
                       headers={"Authorization": "Bearer " + tok}, conn=conn)[0] == 200
    jreq(emu, "GET", "/__emu/counters", conn=conn)            # not recorded
    conn.close()
    c = emu.counters()
    assert c["connections"] == 1
    assert c["get_token_calls"] == 1 and c["tokens_issued"] == 1
    assert [r["method"] for r in c["requests"]] == ["POST", "GET", "GET", "GET"]
    assert c["requests"][1]["path"] == "/payments/imp_1?include_sandbox=false"
    assert c["requests"][1]["headers"]["Authorization"] == "Bearer " + tok
    assert json.loads(c["requests"][0]["body"]) == CREDS
    status, c2 = jreq(emu, "GET", "/__emu/counters")
    assert status == 200 and c2["connections"] == 2 and len(c2["requests"]) == 4


def test_connection_close_honoured(emu):
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as s:
        s.sendall(b"POST /users/getToken HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Content-Length: 0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 400") and b"Connection: close" in data


def test_chunked_request_body(emu):
    body = json.dumps(CREDS).encode()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as s:
        s.sendall(b"POST /users/getToken HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        data = s.makefile("rb").read()
    assert data.startswith(b"HTTP/1.1 200")


# ---------- faults ----------
def test_fault_delay(emu):
    emu.add_fault("/users/getToken", "delay", seconds=0.5)
    t0 = time.monotonic()
    get_token(emu)
    assert time.monotonic() - t0 >= 0.5


def test_fault_status_and_count(emu):
    emu.add_fault("/users/getToken", "status", count=2, status=503)
    for _ in range(2):
        assert jreq(emu, "POST", "/users/getToken", CREDS) == (
            503, {"code": -1, "message": "Internal Server Error", "response": None})
    get_token(emu)                      # rule used up
    assert emu.counters()["get_token_calls"] == 3


def test_fault_order_and_clear(emu):
    emu.add_fault("/payments", "status", status=502)
    emu.add_fault("/", "status", status=500)
    assert jreq(emu, "POST", "/users/getToken", CREDS)[0] == 500
    assert jreq(emu, "GET", "/payments/x")[0] == 502
    emu.clear_faults()
    get_token(emu)


def test_fault_garbage(emu):
    emu.add_fault("/payments", "garbage")
    status, _, data = request(emu, "GET", "/payments/x")
    assert status == 200 and data == b"<html>oops</html>"


def test_fault_drop(emu):
    emu.add_fault("/users/getToken", "drop", count=1)
    with pytest.raises(http.client.RemoteDisconnected):
        request(emu, "POST", "/users/getToken", CREDS)
    get_token(emu)


def test_fault_stall(emu):
    emu.add_payment(imp_uid="imp_1")
    tok = get_token(emu)["access_token"]
    emu.add_fault("/payments", "stall", seconds=0.5)
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    conn.request("GET", "/payments/imp_1", headers={"Authorization": tok})
    resp = conn.getresponse()
    length = int(resp.getheader("Content-Length"))
    t0 = time.monotonic()
    with pytest.raises(http.client.IncompleteRead) as ei:
        resp.read()
    assert time.monotonic() - t0 >= 0.4
    assert len(ei.value.partial) == length // 2
    conn.close()


def test_fault_stall_client_timeout(emu):
    emu.add_fault("/users/getToken", "stall")          # default 60 s
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=0.5)
    conn.request("POST", "/users/getToken", body=json.dumps(CREDS),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises((socket.timeout, TimeoutError)):
        resp.read()
    conn.close()


def test_fault_huge(emu):
    emu.add_payment(imp_uid="imp_1", amount=1234)
    tok = get_token(emu)["access_token"]
    emu.add_fault("/payments", "huge", bytes=100000)
    status, _, data = request(emu, "GET", "/payments/imp_1", headers={"Authorization": tok})
    assert status == 200 and len(data) == 100000
    body = json.loads(data)
    assert body["code"] == 0 and body["response"]["amount"] == 1234
    emu.clear_faults()
    emu.add_fault("/payments", "huge")
    status, _, data = request(emu, "GET", "/payments/nope", headers={"Authorization": tok})
    assert status == 200 and len(data) == 4 << 20 and json.loads(data)["code"] == 0


def test_fault_unauthorized(emu):
    emu.add_payment(imp_uid="imp_1")
    tok = get_token(emu)["access_token"]
    emu.add_fault("/", "unauthorized")
    assert jreq(emu, "GET", "/payments/imp_1", headers={"Authorization": tok}) == (
        401, {"code": -1, "message": "Unauthorized", "response": None})
    assert jreq(emu, "POST", "/users/getToken", CREDS)[0] == 401


# ---------- control API over HTTP ----------
def test_control_api_http(emu):
    assert jreq(emu, "POST", "/__emu/payments",
                [{"imp_uid": "imp_h", "amount": 10, "status": "ready"}]) == (200, {"ok": True})
    assert jreq(emu, "PATCH", "/__emu/payments/imp_h", {"status": "paid"})[1] == {"ok": True}
    assert jreq(emu, "PATCH", "/__emu/payments/imp_zz", {"status": "paid"})[0] == 404
    assert jreq(emu, "POST", "/__emu/payments", {"amount": 1})[0] == 400
    assert jreq(emu, "POST", "/__emu/config", {"token_lifetime": 600, "imp_secret": "s2"})[0] == 200
    assert jreq(emu, "POST", "/users/getToken", CREDS)[0] == 401
    status, body = jreq(emu, "POST", "/users/getToken", {"imp_key": TEST_IMP_KEY, "imp_secret": "s2"})
    assert status == 200 and body["response"]["expired_at"] - body["response"]["now"] == 600
    tok = body["response"]["access_token"]
    r = get_payment(emu, "imp_h", tok)[1]["response"]
    assert (r["amount"], r["status"]) == (10, "paid")
    assert jreq(emu, "POST", "/__emu/clock", {"offset": 601})[0] == 200
    assert get_payment(emu, "imp_h", tok)[0] == 401
    assert jreq(emu, "POST", "/__emu/clock", {"offset": 0})[0] == 200
    assert jreq(emu, "POST", "/__emu/revoke")[0] == 200
    assert get_payment(emu, "imp_h", tok)[0] == 401
    assert jreq(emu, "POST", "/__emu/faults",
                {"path": "/payments", "kind": "status", "status": 500, "count": 1})[0] == 200
    assert jreq(emu, "POST", "/__emu/faults", {"path": "/payments", "kind": "nope"})[0] == 400
    assert jreq(emu, "GET", "/payments/imp_h")[0] == 500
    assert jreq(emu, "DELETE", "/__emu/faults")[0] == 200
    assert jreq(emu, "POST", "/__emu/reset")[0] == 200
    c = jreq(emu, "GET", "/__emu/counters")[1]
    assert c["requests"] == [] and c["get_token_calls"] == 0
    assert jreq(emu, "POST", "/users/getToken", CREDS)[0] == 200      # config back to defaults
    assert jreq(emu, "GET", "/__emu/nope")[0] == 404


# ---------- lifecycle / standalone ----------
def test_stop_wakes_stalled_handler():
    emu = Emulator().start()
    result = {}

    def client():
        try:
            request(emu, "POST", "/users/getToken", CREDS, timeout=30)
        except Exception as e:          # noqa: BLE001
            result["err"] = e
    idle = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
    idle.request("POST", "/users/getToken", body=json.dumps(CREDS))
    idle.getresponse().read()           # keep-alive connection left idle
    emu.add_fault("/users/getToken", "stall", seconds=60)
    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    emu.stop()
    t.join(10)
    assert not t.is_alive() and time.monotonic() - t0 < 5
    assert isinstance(result.get("err"), http.client.IncompleteRead)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", emu.port), timeout=1)
    idle.close()


def test_standalone_seed_demo():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "portone_emulator")
    proc = subprocess.Popen(["/usr/bin/python3", script, "--port", "0", "--seed-demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("portone-emulator listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/users/getToken", body=urllib.parse.urlencode(CREDS),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        tok = json.loads(conn.getresponse().read())["response"]["access_token"]
        conn.request("GET", "/payments/imp_demo_0001", headers={"Authorization": "Bearer " + tok})
        r = json.loads(conn.getresponse().read())["response"]
        assert (r["merchant_uid"], r["amount"], r["status"], r["currency"]) == (
            "order_demo_0001", 10000, "paid", "KRW")
        conn.close()
        line = proc.stdout.readline().strip()
        assert line.startswith("portone-emulator V2 only on http://127.0.0.1:")
        conn = http.client.HTTPConnection("127.0.0.1", int(line.rsplit(":", 1)[1]), timeout=10)
        conn.request("GET", "/payments/payment-demo-0001",
                     headers={"Authorization": "PortOne " + TEST_V2_SECRET})
        p = json.loads(conn.getresponse().read())
        assert (p["id"], p["status"], p["amount"]["total"], p["currency"]) == (
            "payment-demo-0001", "PAID", 10000, "KRW")
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert err == ""                    # quiet logging


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
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


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


def qid(payment_id):
    return urllib.parse.quote(payment_id, safe="")


def v2(emu, method, path, body=None, secret=TEST_V2_SECRET, headers=None, v2_port=False):
    """A V2 request (Authorization: PortOne <secret>); returns (status, JSON or raw bytes)."""
    h = {"Authorization": "PortOne " + secret} if secret is not None else {}
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", emu.v2_port if v2_port else emu.port,
                                      timeout=10)
    status, resp, data = request(emu, method, path, body, h, conn=conn)
    conn.close()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data


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


# ---------- webhooks sent by the emulator ----------
VECTOR_SECRET = "pzQGE83cSIRKM4/WH5QY+g=="
VECTOR_BODY = ('{"type":"Transaction.Paid","timestamp":"2024-04-25T10:00:00.000Z","data":'
               '{"paymentId":"example-payment-id","storeId":"store-ae356798-3d20-4969-b739-'
               '14c6b0e1a667","transactionId":"55451513-9763-4a7a-bb43-78a4c65be843"}}')


def test_webhook_signature_test_vectors():
    """portone-api.md 2.3 test vectors."""
    for secret in (VECTOR_SECRET, "whsec_" + VECTOR_SECRET, base64.b64decode(VECTOR_SECRET)):
        assert sign_webhook(secret, "dummy-webhook-id", 1714000000, '{"test":"test payload"}') == \
            "v1,6SQiykwF5BCGjyB/gmOFtXtMNwQBM7k/52nd+vdX6Z4="
        assert sign_webhook(secret, "dummy-webhook-id", "1714000000", VECTOR_BODY.encode()) == \
            "v1,TfOoPgwAWW/w1rG+J9NPhE0ErMCzsIpGUrj92wUBHy4="


def verify_standard_webhook(secrets_, headers, body, tolerance=300):
    """An independent Standard Webhooks check (SW spec; portone-api.md 2.3)."""
    h = {k.lower(): v for k, v in headers.items()}
    if not all(k in h for k in ("webhook-id", "webhook-timestamp", "webhook-signature")):
        return "MISSING_REQUIRED_HEADERS"
    try:
        ts = int(h["webhook-timestamp"])
    except ValueError:
        return "INVALID_SIGNATURE"
    if abs(time.time() - ts) > tolerance:
        return "TIMESTAMP"
    for s in secrets_:
        key = base64.b64decode(s[6:] if s.startswith("whsec_") else s)
        mac = hmac.new(key, ("%s.%s." % (h["webhook-id"], ts)).encode() + body,
                       hashlib.sha256).digest()
        for entry in h["webhook-signature"].split(" "):
            version, _, sig = entry.partition(",")
            if version == "v1" and hmac.compare_digest(sig, base64.b64encode(mac).decode()):
                return "OK"
    return "NO_MATCHING_SIGNATURE"


class _Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def receiver():
    """A webhook receiver: records requests, answers 200 {"got": n} (or ``answer``)."""
    got = []
    state = {"answer": None}

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            status, data = state["answer"] or (200, json.dumps({"got": len(got)}).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass
    srv = _Receiver(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.got, srv.state = got, state
    srv.url = "http://127.0.0.1:%d/portone/webhook" % srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def rcv(receiver):
    receiver.got.clear()
    receiver.state["answer"] = None
    return receiver


def test_send_v2_webhook_current_version(emu, rcv):
    emu.add_v2_payment(paymentId="웹훅 1/2", storeId="store-w", status="PAID")
    status, headers, body = emu.send_v2_webhook(rcv.url, "웹훅 1/2")
    assert (status, json.loads(body)) == (200, {"got": 1})
    assert headers.get("Content-Type") == "application/json"
    req = rcv.got[0]
    assert req["path"] == "/portone/webhook"
    assert req["headers"]["Content-Type"] == "application/json"
    obj = json.loads(req["body"])
    p = emu.get_v2_payment("웹훅 1/2")
    assert obj["type"] == "Transaction.Paid" and RFC3339.fullmatch(obj["timestamp"])
    assert obj["data"] == {"paymentId": "웹훅 1/2", "storeId": "store-w",
                           "transactionId": p["transactionId"]}
    assert re.fullmatch(r"msg_[A-Za-z0-9_-]+", req["headers"]["webhook-id"])
    assert abs(int(req["headers"]["webhook-timestamp"]) - time.time()) < 5
    assert verify_standard_webhook([TEST_WEBHOOK_SECRET], req["headers"], req["body"]) == "OK"
    assert verify_standard_webhook(["whsec_" + VECTOR_SECRET], req["headers"], req["body"]) == \
        "NO_MATCHING_SIGNATURE"
    # a cancel event carries the cancellationId of the payment's last cancellation
    emu.add_v2_payment(paymentId="w_c", status="CANCELLED")
    emu.send_v2_webhook(rcv.url, "w_c", type="Transaction.Cancelled", webhook_id="msg_fixed",
                        event_time="2024-04-25T10:00:00.000Z")
    obj = json.loads(rcv.got[1]["body"])
    assert obj == {"type": "Transaction.Cancelled", "timestamp": "2024-04-25T10:00:00.000Z",
                   "data": {"paymentId": "w_c", "storeId": TEST_V2_STORE_ID,
                            "transactionId": emu.get_v2_payment("w_c")["transactionId"],
                            "cancellationId": emu.get_v2_payment("w_c")["cancellations"][0]["id"]}}
    assert rcv.got[1]["headers"]["webhook-id"] == "msg_fixed"
    # unknown type, extra data fields, a payment the emulator does not know
    emu.send_v2_webhook(rcv.url, "w_unknown", type="Transaction.FutureThing",
                        data={"extra": [1, 2]})
    obj = json.loads(rcv.got[2]["body"])
    assert obj["type"] == "Transaction.FutureThing" and obj["data"]["extra"] == [1, 2]
    assert obj["data"]["storeId"] == TEST_V2_STORE_ID and "cancellationId" not in obj["data"]
    sent = emu.counters()["webhooks_sent"]
    assert [w["status"] for w in sent] == [200, 200, 200] and sent[0]["api"] == "v2"


def test_send_v2_webhook_old_version(emu, rcv):
    emu.add_v2_payment(paymentId="w_old", status="VIRTUAL_ACCOUNT_ISSUED")
    tx = emu.get_v2_payment("w_old")["transactionId"]
    emu.send_v2_webhook(rcv.url, "w_old", type="Transaction.VirtualAccountIssued",
                        version="2024-01-01")
    req = rcv.got[0]
    assert json.loads(req["body"]) == {"payment_id": "w_old", "tx_id": tx,
                                       "status": "VirtualAccountIssued"}
    assert verify_standard_webhook([TEST_WEBHOOK_SECRET], req["headers"], req["body"]) == "OK"
    emu.send_v2_webhook(rcv.url, "w_old", version="2024-01-01", status="Paid", form=True)
    req = rcv.got[1]
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(req["body"].decode()) == {
        "payment_id": ["w_old"], "tx_id": [tx], "status": ["Paid"]}
    assert verify_standard_webhook([TEST_WEBHOOK_SECRET], req["headers"], req["body"]) == "OK"


def test_send_v2_webhook_forgeries(emu, rcv):
    emu.add_v2_payment(paymentId="w_f")
    other = "whsec_" + base64.b64encode(b"another secret, 32 bytes long!!!").decode()
    cases = [
        (dict(secret=other), "NO_MATCHING_SIGNATURE"),
        (dict(secret=[other, TEST_WEBHOOK_SECRET]), "OK"),            # rotation: 2 entries
        (dict(secret=None, extra_signatures=["v1,AAAA", "v2,xyz"]), "NO_MATCHING_SIGNATURE"),
        (dict(extra_signatures=["v1a,zzz", "garbage"]), "OK"),
        (dict(omit="webhook-signature"), "MISSING_REQUIRED_HEADERS"),
        (dict(omit=["webhook-id"]), "MISSING_REQUIRED_HEADERS"),
        (dict(omit=("Webhook-Timestamp",)), "MISSING_REQUIRED_HEADERS"),
        (dict(shift=-301), "TIMESTAMP"),
        (dict(shift=301), "TIMESTAMP"),
        (dict(shift=-290), "OK"),
        (dict(timestamp="17e8"), "INVALID_SIGNATURE"),
        (dict(tamper=lambda b: b.replace(b"w_f", b"w_g")), "NO_MATCHING_SIGNATURE"),
        (dict(tamper=b'{"type":"Transaction.Paid"}'), "NO_MATCHING_SIGNATURE"),
        (dict(tamper=lambda b: b + b" "), "NO_MATCHING_SIGNATURE"),
    ]
    for n, (kw, expected) in enumerate(cases):
        emu.send_v2_webhook(rcv.url, "w_f", **kw)
        req = rcv.got[n]
        assert verify_standard_webhook([TEST_WEBHOOK_SECRET], req["headers"], req["body"]) == \
            expected, kw
    assert len(rcv.got[1]["headers"]["webhook-signature"].split(" ")) == 2
    assert rcv.got[3]["headers"]["webhook-signature"].endswith(" v1a,zzz garbage")
    assert "webhook-signature" not in rcv.got[4]["headers"]
    assert json.loads(rcv.got[11]["body"])["data"]["paymentId"] == "w_g"
    # a fixed timestamp, id and body reproduce the documented vector
    rcv.got.clear()
    emu.send_v2_webhook(rcv.url, "x", secret="whsec_" + VECTOR_SECRET, timestamp=1714000000,
                        webhook_id="dummy-webhook-id", body=VECTOR_BODY)
    h = rcv.got[0]["headers"]
    assert (h["webhook-signature"], h["webhook-timestamp"], rcv.got[0]["body"]) == (
        "v1,TfOoPgwAWW/w1rG+J9NPhE0ErMCzsIpGUrj92wUBHy4=", "1714000000", VECTOR_BODY.encode())
    # extra headers; the receiver's answer comes back as it is
    rcv.state["answer"] = (400, b'{"status":"error"}')
    status, headers, body = emu.send_v2_webhook(rcv.url, "w_f", headers={
        "User-Agent": "PortOne-Webhook", "webhook-id": "msg_override"})
    assert (status, body) == (400, b'{"status":"error"}')
    assert rcv.got[1]["headers"]["User-Agent"] == "PortOne-Webhook"
    assert rcv.got[1]["headers"]["webhook-id"] == "msg_override"


def test_send_v1_webhook(emu, rcv):
    emu.add_payment(imp_uid="imp_w", merchant_uid="o_w", status="ready", pay_method="vbank")
    status, _, body = emu.send_v1_webhook(rcv.url, "imp_w")
    assert status == 200
    assert rcv.got[0]["headers"]["Content-Type"] == "application/json"
    assert json.loads(rcv.got[0]["body"]) == {"imp_uid": "imp_w", "merchant_uid": "o_w",
                                              "status": "ready"}
    emu.send_v1_webhook(rcv.url, "imp_w", status="cancelled", form=True, cancellation_id="c_1",
                        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
    assert rcv.got[1]["headers"]["Content-Type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert urllib.parse.parse_qs(rcv.got[1]["body"].decode()) == {
        "imp_uid": ["imp_w"], "merchant_uid": ["o_w"], "status": ["cancelled"],
        "cancellation_id": ["c_1"]}
    emu.send_v1_webhook(rcv.url, "imp_unknown", merchant_uid="o_x", extra={"foo": "bar"})
    assert json.loads(rcv.got[2]["body"]) == {"imp_uid": "imp_unknown", "merchant_uid": "o_x",
                                              "status": "paid", "foo": "bar"}
    assert [w["api"] for w in emu.counters()["webhooks_sent"]] == ["v1", "v1", "v1"]


def test_control_api_v2_http(emu, rcv):
    assert jreq(emu, "POST", "/__emu/v2/payments",
                [{"paymentId": "h/1", "status": "READY", "total": 10}]) == (200, {"ok": True})
    assert jreq(emu, "PATCH", "/__emu/v2/payments/h%2F1", {"status": "PAID"}) == (200, {"ok": True})
    assert jreq(emu, "PATCH", "/__emu/v2/payments/none", {"status": "PAID"})[0] == 404
    assert jreq(emu, "POST", "/__emu/v2/payments", {"total": 1})[0] == 400
    status, p = jreq(emu, "GET", "/__emu/v2/payments/h%2F1")
    assert status == 200 and (p["status"], p["amount"]["total"]) == ("PAID", 10)
    assert jreq(emu, "GET", "/__emu/v2/payments/none")[0] == 404
    assert v2(emu, "GET", "/payments/h%2F1")[1] == p
    assert jreq(emu, "POST", "/__emu/prepared", {"merchant_uid": "o_h", "amount": 5}) == (
        200, {"ok": True})
    assert jreq(emu, "GET", "/__emu/prepared/o_h")[1] == {"merchant_uid": "o_h", "amount": 5,
                                                          "currency": None}
    emu.add_payment(imp_uid="imp_h")
    assert jreq(emu, "GET", "/__emu/payments/imp_h")[1]["imp_uid"] == "imp_h"
    status, out = jreq(emu, "POST", "/__emu/webhooks", {"api": "v2", "url": rcv.url,
                                                        "payment_id": "h/1", "shift": -1000})
    assert status == 200 and out["status"] == 200 and json.loads(out["body"]) == {"got": 1}
    assert verify_standard_webhook([TEST_WEBHOOK_SECRET], rcv.got[0]["headers"],
                                   rcv.got[0]["body"]) == "TIMESTAMP"
    status, out = jreq(emu, "POST", "/__emu/webhooks", {"url": rcv.url, "imp_uid": "imp_h",
                                                        "form": True})
    assert status == 200 and "imp_uid=imp_h" in rcv.got[1]["body"].decode()
    assert jreq(emu, "POST", "/__emu/webhooks", {"url": "http://127.0.0.1:1/x",
                                                 "imp_uid": "imp_h"})[0] == 502
    assert jreq(emu, "POST", "/__emu/config", {"v2_store_id": "store-z"})[0] == 200
    emu.add_v2_payment(paymentId="h2")
    assert emu.get_v2_payment("h2")["storeId"] == "store-z"
    assert jreq(emu, "POST", "/__emu/config", {"v2_nope": 1})[0] == 400
    assert jreq(emu, "POST", "/__emu/reset")[0] == 200
    assert emu.get_v2_payment("h/1") is None and emu.prepared("o_h") is None
