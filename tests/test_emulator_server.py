"""Self-test of the emulator's server: counters and keep-alive, faults, the control
API, stopping, the standalone program
(run: /usr/bin/python3 -m pytest tests/test_emulator_server.py -q)."""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from emulator_client import (CREDS, emu, emu_server, get_payment, get_token,  # noqa: F401
                             jreq, request)
from portone_emulator import Emulator, TEST_IMP_KEY, TEST_V2_SECRET


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
