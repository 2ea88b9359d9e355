"""The self-tests' client of the PortOne emulator: its fixtures (one emulator per
test module, reset before each test) and request helpers (V1 and V2)."""
import http.client
import json
import re
import urllib.parse

import pytest

from portone_emulator import Emulator, TEST_IMP_KEY, TEST_IMP_SECRET, TEST_V2_SECRET


CREDS = {"imp_key": TEST_IMP_KEY, "imp_secret": TEST_IMP_SECRET}


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


RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


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
