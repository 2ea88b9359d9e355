"""portone-verify refuses what is not a well-formed claim (contract sections 3
and 5: invalid_request, unsupported_media_type, payload_too_large, 405)
before it asks PortOne anything, writes nothing, and keeps serving."""
import http.client
import json
from urllib.parse import unquote

import pytest

from answers import assert_error  # noqa: E402

PATH = "/payments/complete"
GOOD = {"imp_uid": "imp_1", "merchant_uid": "order_1"}


# ---------------------------------------------------------------- helpers

def send(httpd, method="POST", headers=None, parts=(), timeout=10):
    """A request made by hand, for what urllib cannot send (no Content-Type,
    chunked bodies, bodies the server stops reading). Returns (status,
    headers, JSON body or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=timeout)
    try:
        conn.putrequest(method, PATH, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        try:
            for part in parts:
                conn.send(part)
        except (BrokenPipeError, ConnectionResetError):
            pass                    # it answered without reading everything
        resp = conn.getresponse()
        raw = resp.read().decode("utf-8", "replace")
        headers = dict(resp.getheaders())
    finally:
        conn.close()
    try:
        return resp.status, headers, json.loads(raw)
    except ValueError:
        return resp.status, headers, raw


def chunked(data, size=8192):
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


def assert_refused(pv, resp, http_status, code):
    """The error answer, nothing written, PortOne never asked, and httpd
    still verifies a genuine payment afterwards."""
    assert_error(resp, http_status, code)
    assert_untouched(pv)
    genuine_verification_succeeds(pv)


def assert_untouched(pv):
    assert pv.db.query("SELECT imp_uid FROM portone_payments") == []
    assert pv.db.query("SELECT imp_uid FROM portone_events") == []
    lookups = [r["path"] for r in pv.emu.counters()["requests"]
               if r["path"].startswith("/payments")]
    assert lookups == [], lookups


def genuine_verification_succeeds(pv):
    pv.db.add_order("order_genuine", 10000)
    pv.emu.add_payment(imp_uid="imp_genuine", merchant_uid="order_genuine", amount=10000,
                       status="paid")
    status, _, body = pv.httpd.verify("imp_genuine", "order_genuine")
    assert status == 200 and body["status"] == "success", (status, body)


def claim(**fields):
    return json.dumps(dict(GOOD, **fields)).encode()


# ---------------------------------------------------------------- invalid_request

INVALID = {
    "empty_body": b"",
    "not_json": b"imp_uid=imp_1&merchant_uid=order_1",
    "plain_text": b"hello",
    "truncated_json": b'{"imp_uid": "imp_1", "merchant_uid": "ord',
    "json_array": b'["imp_1", "order_1"]',
    "json_string": b'"imp_1"',
    "json_null": b"null",
    "missing_imp_uid": json.dumps({"merchant_uid": "order_1"}).encode(),
    "missing_merchant_uid": json.dumps({"imp_uid": "imp_1"}).encode(),
    "empty_imp_uid": claim(imp_uid=""),
    "empty_merchant_uid": claim(merchant_uid=""),
    "number_imp_uid": claim(imp_uid=123),
    "number_merchant_uid": claim(merchant_uid=1001),
    "object_imp_uid": claim(imp_uid={"$ne": ""}),
    "bool_merchant_uid": claim(merchant_uid=True),
    "null_imp_uid": claim(imp_uid=None),
    "null_merchant_uid": claim(merchant_uid=None),
    "newline_in_imp_uid": claim(imp_uid="imp_\n1"),
    "nul_in_imp_uid": claim(imp_uid="imp_\u00001"),
    "nul_in_merchant_uid": claim(merchant_uid="order\u0000_1"),
    "tab_in_merchant_uid": claim(merchant_uid="order\t1"),
    "del_in_imp_uid": claim(imp_uid="imp_\x7f1"),
    "c1_control_in_imp_uid": claim(imp_uid="imp_\u00851"),
    "raw_newline_in_string": b'{"imp_uid": "imp_\n1", "merchant_uid": "order_1"}',
    "imp_uid_33_chars": claim(imp_uid="i" * 33),
    "merchant_uid_41_chars": claim(merchant_uid="m" * 41),
    "merchant_uid_41_hangul": claim(merchant_uid="주" * 41),
    "imp_uid_33_hangul": claim(imp_uid="결" * 33),
    "invalid_utf8_imp_uid": b'{"imp_uid": "imp_\xff1", "merchant_uid": "order_1"}',
    "invalid_utf8_merchant_uid": b'{"imp_uid": "imp_1", "merchant_uid": "order_\xc3("}',
    "overlong_utf8": b'{"imp_uid": "imp_\xc0\xaf", "merchant_uid": "order_1"}',
    "lone_surrogate_bytes": b'{"imp_uid": "imp_\xed\xa0\x80", "merchant_uid": "order_1"}',
    "data_after_json": claim() + b" x",
    "two_json_values": claim() + claim(),
    "deeply_nested": (b'{"imp_uid": "imp_1", "merchant_uid": "order_1", "x": '
                      + b"[" * 20000 + b"]" * 20000 + b"}"),
    "deeply_nested_unclosed": b"[" * 60000,
}


@pytest.mark.parametrize("body", INVALID.values(), ids=INVALID.keys())
def test_invalid_request(pv, body):
    resp = pv.httpd.post(PATH, body, content_type="application/json")
    assert_refused(pv, resp, 400, "invalid_request")


@pytest.mark.parametrize("imp_uid, merchant_uid", [
    ("imp_" + "x" * 28, "m" * 40),
    ("imp_" + "y" * 28, "주" * 40),      # 40 characters, 120 bytes
    ("결" * 32, "order_" + "z" * 34),      # 32 characters, 96 bytes
], ids=["32_and_40_ascii", "32_and_40_hangul", "32_hangul_imp_uid"])
def test_longest_ids_are_accepted(pv, imp_uid, merchant_uid):
    assert len(imp_uid) == 32 and len(merchant_uid) == 40
    pv.db.add_order(merchant_uid, 10000)
    pv.emu.add_payment(imp_uid=imp_uid, merchant_uid=merchant_uid, amount=10000, status="paid")
    status, _, body = pv.httpd.verify(imp_uid, merchant_uid)
    assert status == 200 and body["status"] == "success", body
    assert body["imp_uid"] == imp_uid and body["merchant_uid"] == merchant_uid
    assert imp_uid in [unquote(r["path"][len("/payments/"):])
                       for r in pv.emu.counters()["requests"]]
    assert pv.db.query("SELECT merchant_uid FROM portone_payments") == \
        [{"merchant_uid": merchant_uid}]


# ---------------------------------------------------------------- media types

@pytest.mark.parametrize("content_type", [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonp",
], ids=["text_plain", "form", "multipart", "jsonp"])
def test_other_content_type_is_415(pv, content_type):
    body = claim() if "json" in content_type else b"imp_uid=imp_1&merchant_uid=order_1"
    resp = pv.httpd.post(PATH, body, content_type=content_type)
    assert_refused(pv, resp, 415, "unsupported_media_type")


def test_missing_content_type_is_415(pv):
    body = claim()
    resp = send(pv.httpd, headers={"Content-Length": str(len(body))}, parts=[body])
    assert_refused(pv, resp, 415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", [
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
], ids=["charset_utf8", "charset_no_space"])
def test_json_with_charset_is_accepted(pv, content_type):
    pv.db.add_order("order_cs", 10000)
    pv.emu.add_payment(imp_uid="imp_cs", merchant_uid="order_cs", amount=10000, status="paid")
    status, _, body = pv.httpd.post(PATH, json.dumps({"imp_uid": "imp_cs",
                                                      "merchant_uid": "order_cs"}),
                                    content_type=content_type)
    assert status == 200 and body["status"] == "success", body


# ---------------------------------------------------------------- methods

@pytest.mark.parametrize("method, body", [
    ("GET", None), ("PUT", claim()), ("DELETE", None), ("PATCH", claim()),
])
def test_other_methods_are_405_with_allow_post(pv, method, body):
    headers = {"Content-Type": "application/json"} if body else {}
    status, resp_headers, resp_body = pv.httpd.request(method, PATH, body=body, headers=headers)
    assert status == 405, (status, resp_body)
    assert resp_headers.get("Allow") == "POST", resp_headers
    assert isinstance(resp_body, dict) and resp_body.get("status") == "error", resp_body
    assert_untouched(pv)
    genuine_verification_succeeds(pv)


# ---------------------------------------------------------------- payload_too_large

def padded_claim(size):
    """A well-formed claim of |size| bytes (an extra field pads it)."""
    base = claim(pad="")
    return claim(pad="x" * (size - len(base)))


def test_body_over_64_KiB_with_content_length_is_413(pv):
    body = padded_claim(70 * 1024)
    resp = send(pv.httpd, headers={"Content-Type": "application/json",
                                   "Content-Length": str(len(body))}, parts=[body])
    assert_refused(pv, resp, 413, "payload_too_large")


def test_huge_content_length_is_refused_before_the_body_is_sent(pv):
    # nothing of the 512 MiB is sent: the answer must come from the headers alone
    resp = send(pv.httpd, headers={"Content-Type": "application/json",
                                   "Content-Length": str(512 << 20)}, timeout=5)
    assert_refused(pv, resp, 413, "payload_too_large")


def test_chunked_body_over_64_KiB_is_413(pv):
    body = padded_claim(70 * 1024)
    resp = send(pv.httpd, headers={"Content-Type": "application/json",
                                   "Transfer-Encoding": "chunked"}, parts=chunked(body))
    assert_refused(pv, resp, 413, "payload_too_large")


def test_chunked_body_under_64_KiB_is_accepted(pv):
    pv.db.add_order("order_1", 10000)
    pv.emu.add_payment(imp_uid="imp_1", merchant_uid="order_1", amount=10000, status="paid")
    body = padded_claim(60 * 1024)
    status, _, resp = send(pv.httpd, headers={"Content-Type": "application/json",
                                              "Transfer-Encoding": "chunked"},
                           parts=chunked(body))
    assert status == 200 and resp["status"] == "success", (status, resp)
