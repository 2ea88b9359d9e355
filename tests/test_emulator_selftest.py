"""Self-test of tests/portone_emulator.py (run: /usr/bin/python3 -m pytest tests/test_emulator_selftest.py -q)."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from portone_emulator import (Emulator, MSG_AUTH_FAILED, MSG_MISSING,  # noqa: E402
                              MSG_NO_PAYMENT, TEST_IMP_KEY, TEST_IMP_SECRET)

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
              "/", "/users/getToken/x", "/payments/find/order_1"):
        assert jreq(emu, "GET", p, headers=h) == not_found, p
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
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "portone_emulator.py")
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
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert err == ""                    # quiet logging
