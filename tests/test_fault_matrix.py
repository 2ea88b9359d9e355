"""Issue 4's fault matrix, on both handlers and both databases: PortOne and
the database misbehaving in every documented way. Each fault gets the
contract's error answer, writes nothing, and a genuine verification right
after still succeeds."""
import time

import pytest

from dbfaults import allow_paid_orders, fail_inserts, forbid_paid_orders, repair_inserts

HANDLERS = ["verify", "webhook"]

# (name, emulator fault or registration, expected HTTP status, expected code)
UPSTREAM_FAULTS = [
    ("slow", {"fault": dict(kind="delay", seconds=6)}, 504, "upstream_timeout"),
    ("stalled_mid_body", {"fault": dict(kind="stall", seconds=8)}, 504, "upstream_timeout"),
    ("http_500", {"fault": dict(kind="status", status=500)}, 502, "upstream_error"),
    ("http_503", {"fault": dict(kind="status", status=503)}, 502, "upstream_error"),
    ("dropped_connection", {"fault": dict(kind="drop")}, 502, "upstream_error"),
    ("not_json", {"fault": dict(kind="garbage")}, 502, "upstream_error"),
    ("larger_than_cap", {"fault": dict(kind="huge", bytes=600 * 1024)}, 502, "upstream_error"),
    ("unauthorized_always", {"fault": dict(kind="unauthorized"), "path": "/"}, 502,
     "upstream_auth_failed"),
    ("code_nonzero_http_200", {"fields": {"__code__": 1, "__message__": "결제정보가 없습니다"}},
     502, "upstream_error"),
    ("response_null", {"fields": {"__response__": None}}, 502, "upstream_error"),
    ("amount_string", {"fields": {"amount": "10000"}}, 502, "upstream_error"),
    ("status_unknown", {"fields": {"status": "partial_cancelled"}}, 502, "upstream_error"),
    ("fields_missing", {"fields": {"__response__": {"imp_uid": "IMP", "status": "paid"}}},
     502, "upstream_error"),
    ("sandbox_not_boolean", {"fields": {"sandbox": "false"}}, 502, "upstream_error"),
    ("envelope_array", {"fields": {"__envelope__": [1, 2, 3]}}, 502, "upstream_error"),
]


def send(pv, handler, imp_uid, merchant_uid, h=None):
    h = h or pv.httpd
    if handler == "verify":
        return h.verify(imp_uid, merchant_uid)
    return h.webhook(imp_uid, merchant_uid, "paid")


def nothing_written(pv):
    assert pv.db.query("SELECT COUNT(*) AS n FROM portone_payments")[0]["n"] == 0
    assert pv.db.query("SELECT COUNT(*) AS n FROM portone_events")[0]["n"] == 0
    assert all(r["updates"] == 0 for r in pv.db.query("SELECT updates FROM shop_orders"))


def genuine_verification_succeeds(pv, handler, h=None):
    pv.emu.clear_faults()
    pv.db.add_order("o_after", 2500)
    pv.emu.add_payment(imp_uid="imp_after", merchant_uid="o_after", amount=2500, status="paid")
    status, _, body = send(pv, handler, "imp_after", "o_after", h)
    assert status == 200 and body["status"] in ("success", "paid"), body


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("name,fault,status,code", UPSTREAM_FAULTS,
                         ids=[f[0] for f in UPSTREAM_FAULTS])
def test_upstream_fault(pv, handler, name, fault, status, code):
    pv.db.add_order("o_f", 10000)
    fields = dict(status="paid", amount=10000)
    fields.update(fault.get("fields", {}))
    if "__response__" in fields and isinstance(fields["__response__"], dict):
        fields["__response__"] = dict(fields["__response__"], imp_uid="imp_f")
    pv.emu.add_payment(imp_uid="imp_f", merchant_uid="o_f", **fields)
    if "fault" in fault:
        pv.emu.add_fault(fault.get("path", "/payments"), **fault["fault"])
    pv.expect_log(r"PV0101: portone-%s imp_uid=imp_f merchant_uid=o_f: %s: " % (handler, code))
    t0 = time.time()
    got, headers, body = send(pv, handler, "imp_f", "o_f")
    took = time.time() - t0
    assert (got, body.get("code") if isinstance(body, dict) else body) == (status, code), body
    assert body["status"] == "error" and body["message"]
    assert headers["Content-Type"].startswith("application/json")
    if status == 504:
        assert took < 3 + 1.5, "PortOneTimeout 3 s, answered after %.1f s" % took
    nothing_written(pv)
    if code == "upstream_auth_failed":
        assert "check PortOneAPIKey and PortOneAPISecret" in pv.log()
    genuine_verification_succeeds(pv, handler)


@pytest.mark.parametrize("handler", HANDLERS)
def test_portone_unreachable(pv, make_httpd, handler):
    import socket
    with socket.socket() as s:            # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    h = make_httpd({"PortOneAPIURL": "http://127.0.0.1:%d" % port})
    pv.expect_log(r"PV0101: portone-%s imp_uid=imp_u merchant_uid=o_u: upstream_error: "
                  r"Failed to connect to 127\.0\.0\.1 port %d " % (handler, port))
    pv.db.add_order("o_u", 1000)
    status, _, body = send(pv, handler, "imp_u", "o_u", h)
    assert (status, body["code"]) == (502, "upstream_error"), body
    nothing_written(pv)


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("kind", ["statement_fails", "constraint"])
def test_database_fault_writes_nothing(pv, handler, kind):
    pv.db.add_order("o_d", 4000)
    pv.emu.add_payment(imp_uid="imp_d", merchant_uid="o_d", amount=4000, status="paid")
    if kind == "constraint":
        forbid_paid_orders(pv.db)
    else:
        fail_inserts(pv.db, "portone_payments", "statement failed")
    cause = "pv_test_ck|CHECK constraint failed: state" if kind == "constraint" else "statement failed"
    pv.expect_log(r"PV0300: portone-%s imp_uid=imp_d merchant_uid=o_d: database error, retrying "
                  r"once on a recovered connection: .*(%s)" % (handler, cause),
                  r"PV0101: portone-%s imp_uid=imp_d merchant_uid=o_d: database_unavailable: .*(%s)"
                  % (handler, cause))
    try:
        status, _, body = send(pv, handler, "imp_d", "o_d")
    finally:
        if kind == "constraint":
            allow_paid_orders(pv.db)
        else:
            repair_inserts(pv.db, "portone_payments")
    assert (status, body["code"]) == (503, "database_unavailable"), body
    nothing_written(pv)
    status, _, body = send(pv, handler, "imp_d", "o_d")
    assert status == 200, body
    assert pv.db.query("SELECT outcome FROM portone_payments") == [{"outcome": "paid"}]


UNREACHABLE = {
    "pgsql": 'DBDParams "host=127.0.0.1 port=1 dbname=shop user=postgres connect_timeout=2"',
    "mysql": 'DBDParams "host=127.0.0.1 port=1 user=root dbname=shop"',
}


@pytest.mark.parametrize("handler", HANDLERS)
def test_database_unreachable(pv, make_httpd, handler):
    h = make_httpd(start=False)
    if pv.db.driver == "sqlite3":
        # start-up refuses a missing SQLite file: that is the test for it
        h.extra = "DBDParams /nonexistent-dir/shop.db"
        pv.expect_log(r"PV0002: DBDParams /nonexistent-dir/shop\.db: the SQLite database does not exist")
        code, out = h.start(expect_fail=True)
        assert code != 0 and "does not exist" in out
        return
    h.extra = UNREACHABLE[pv.db.driver]
    pv.expect_log(r"PV0003: cannot reach the database to check PortOne SQL at start-up",
                  r"\[dbd:error\] .*(AH00629: Can't connect to \w+: |AH02655: Failed to acquire DBD)",
                  r"PV0101: portone-%s imp_uid=imp_n merchant_uid=o_n: database_unavailable: "
                  r"mod_dbd has no connection" % handler)
    h.start()
    pv.db.add_order("o_n", 1000)
    pv.emu.add_payment(imp_uid="imp_n", merchant_uid="o_n", amount=1000, status="paid")
    status, _, body = send(pv, handler, "imp_n", "o_n", h)
    assert (status, body["code"]) == (503, "database_unavailable"), body
    assert "PV0003" in h.read_error_log()      # warned at start-up, did not refuse
    nothing_written(pv)
