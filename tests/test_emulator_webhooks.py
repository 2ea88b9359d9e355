"""Self-test of the webhooks the emulator sends (V1, V2 signed per Standard
Webhooks) and of the control API that sends them
(run: /usr/bin/python3 -m pytest tests/test_emulator_webhooks.py -q)."""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse

import pytest

from emulator_client import RFC3339, emu, emu_server, jreq, v2  # noqa: F401
from portone_emulator import TEST_V2_STORE_ID, TEST_WEBHOOK_SECRET, sign_webhook


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
