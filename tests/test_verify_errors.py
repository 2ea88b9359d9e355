"""portone-verify: the error table of contract section 5. Every error is
{"status":"error","code","message"}, never cached, writes nothing, and the
next genuine verification succeeds once the fault is gone."""
import re
import time

import pytest

from harness import free_port

from answers import assert_error  # noqa: E402

SECRET_OF_WRONG_CREDENTIALS = "WrongSecret-3f9a7c1e5d"


# ---------------------------------------------------------------- helpers



def assert_nothing_written(db, imp_uid, order_no):
    """No payment row, no event for |imp_uid|; the order untouched."""
    assert db.query("SELECT outcome FROM portone_payments WHERE imp_uid = ?", (imp_uid,)) == []
    assert db.query("SELECT outcome FROM portone_events WHERE imp_uid = ?", (imp_uid,)) == []
    assert db.query("SELECT state, updates FROM shop_orders WHERE order_no = ?",
                    (order_no,)) == [{"state": "new", "updates": 0}]


def add_paid(db, emu, imp_uid, merchant_uid, amount=10000, **fields):
    db.add_order(merchant_uid, amount)
    emu.add_payment(imp_uid=imp_uid, merchant_uid=merchant_uid, amount=amount,
                    status="paid", **fields)


def genuine_verification_succeeds(httpd, db, emu, tag="ok"):
    imp, mer = "imp_genuine_" + tag, "order_genuine_" + tag
    add_paid(db, emu, imp, mer)
    status, _, body = httpd.verify(imp, mer)
    assert status == 200 and body["status"] == "success", (status, body)
    assert db.query("SELECT outcome FROM portone_payments WHERE imp_uid = ?", (imp,)) == \
        [{"outcome": "paid"}]


# ---------------------------------------------------------------- payment_not_found

def test_payment_not_found(pv):
    pv.db.add_order("order_nf", 10000)
    resp = pv.httpd.verify("imp_unknown", "order_nf")
    assert_error(resp, 404, "payment_not_found")
    assert_nothing_written(pv.db, "imp_unknown", "order_nf")
    assert any(r["path"] == "/payments/imp_unknown" for r in pv.emu.counters()["requests"])
    genuine_verification_succeeds(pv.httpd, pv.db, pv.emu)


# ---------------------------------------------------------------- upstream_auth_failed

@pytest.mark.expect_log(r"PV0101: portone-verify imp_uid=imp_auth merchant_uid=order_auth: "
                        r"upstream_auth_failed: getToken refused \(HTTP 401\): check "
                        r"PortOneAPIKey and PortOneAPISecret")
def test_refused_credentials_are_upstream_auth_failed_and_the_secret_is_not_logged(
        make_httpd, database, emulator):
    httpd = make_httpd(directives={"PortOneAPISecret": SECRET_OF_WRONG_CREDENTIALS})
    add_paid(database, emulator, "imp_auth", "order_auth")
    status, headers, body = resp = httpd.verify("imp_auth", "order_auth")
    assert_error(resp, 502, "upstream_auth_failed")
    assert SECRET_OF_WRONG_CREDENTIALS not in str(body) and \
        SECRET_OF_WRONG_CREDENTIALS not in str(headers)
    assert emulator.counters()["get_token_calls"] >= 1
    assert_nothing_written(database, "imp_auth", "order_auth")

    log = httpd.read_error_log()
    advice = [line for line in log.splitlines()
              if re.search(r"check", line, re.I) and re.search(r"key", line, re.I)
              and re.search(r"secret", line, re.I)]
    assert advice, "the error log does not tell to check key and secret:\n" + log[-3000:]
    assert SECRET_OF_WRONG_CREDENTIALS not in log
    assert SECRET_OF_WRONG_CREDENTIALS not in httpd.read_access_log()


def test_get_token_refused_with_http_200_and_a_nonzero_code_is_upstream_auth_failed(pv):
    add_paid(pv.db, pv.emu, "imp_tok200", "order_tok200")
    pv.emu.revoke_tokens()          # so that the process fetches a token now
    pv.emu.add_fault("/users/getToken", "garbage",
                     body='{"code":-1,"message":"인증에 실패하였습니다. API키와 secret을 확인하세요.",'
                          '"response":null}')
    assert_error(pv.httpd.verify("imp_tok200", "order_tok200"), 502, "upstream_auth_failed")
    pv.expect_log(r"PV0101: portone-verify imp_uid=imp_tok200 merchant_uid=order_tok200: "
                  r"upstream_auth_failed: getToken refused \(PortOne answered code -1: ")
    assert_nothing_written(pv.db, "imp_tok200", "order_tok200")

    pv.emu.clear_faults()
    genuine_verification_succeeds(pv.httpd, pv.db, pv.emu)


# ---------------------------------------------------------------- upstream_error

def fault(path, kind, **params):
    return lambda emu, imp, mer: emu.add_fault(path, kind, **params)


def payment(**fields):
    return lambda emu, imp, mer: emu.patch_payment(imp, **fields)


UPSTREAM_ERRORS = {
    "payments_500": fault("/payments/", "status", status=500),
    "payments_503": fault("/payments/", "status", status=503),
    "garbage_body": fault("/payments/", "garbage"),
    "html_body": fault("/payments/", "garbage", body="<html><body>502 Bad Gateway</body></html>"),
    "dropped_connection": fault("/payments/", "drop"),
    "http_200_nonzero_code": payment(__code__=1, __message__="비인증결제모듈 사용정보를 찾을 수 없습니다."),
    "response_null": payment(__response__=None),
    "response_array": payment(__response__=[]),
    "envelope_without_code": payment(__envelope__={"message": None, "response": {}}),
    "amount_as_string": payment(amount="10000"),
    "unknown_status": payment(status="partial_cancelled"),
    "gettoken_500": fault("/users/getToken", "status", status=500),
    "gettoken_garbage": fault("/users/getToken", "garbage"),
}


@pytest.mark.parametrize("make_fault", UPSTREAM_ERRORS.values(), ids=UPSTREAM_ERRORS.keys())
def test_upstream_error(pv, make_fault):
    add_paid(pv.db, pv.emu, "imp_up", "order_up")
    pv.emu.revoke_tokens()          # so that every process fetches a token now
    make_fault(pv.emu, "imp_up", "order_up")
    pv.expect_log(r"PV0101: portone-verify imp_uid=imp_up merchant_uid=order_up: upstream_error: ")
    assert_error(pv.httpd.verify("imp_up", "order_up"), 502, "upstream_error")
    assert_nothing_written(pv.db, "imp_up", "order_up")
    assert "imp_up" in pv.log()     # the log names the payment and the cause

    pv.emu.clear_faults()
    genuine_verification_succeeds(pv.httpd, pv.db, pv.emu)


@pytest.mark.parametrize("kib, refused", [(300, True), (200, False)], ids=["300KiB", "200KiB"])
@pytest.mark.expect_log(r"PV0101: portone-verify imp_uid=imp_big merchant_uid=order_big: "
                        r"upstream_error: the answer is larger than 262144 bytes")
def test_answers_over_256_KiB_are_refused(make_httpd, database, emulator, kib, refused):
    httpd = make_httpd(servers=1)
    genuine_verification_succeeds(httpd, database, emulator, "warm")   # a valid token
    add_paid(database, emulator, "imp_big", "order_big")
    # the genuine payment, padded to the size
    emulator.add_fault("/payments/imp_big", "huge", bytes=kib * 1024)
    resp = httpd.verify("imp_big", "order_big")
    if refused:
        assert_error(resp, 502, "upstream_error")
        assert_nothing_written(database, "imp_big", "order_big")
        emulator.clear_faults()
        genuine_verification_succeeds(httpd, database, emulator)
    else:
        assert resp[0] == 200 and resp[2]["status"] == "success", resp


def test_missing_amount_is_never_paid(pv):
    add_paid(pv.db, pv.emu, "imp_noamount", "order_noamount", amount=10000)
    pv.emu.patch_payment("imp_noamount", amount=None)
    pv.expect_log(r"PV0101: portone-verify imp_uid=imp_noamount merchant_uid=order_noamount: "
                  r"upstream_error: payment lacks imp_uid, merchant_uid, status, amount or currency")
    status, _, body = pv.httpd.verify("imp_noamount", "order_noamount")
    assert (status, body.get("status"), body.get("code")) in \
        ((502, "error", "upstream_error"), (400, "forgery", None)), (status, body)
    assert pv.db.query("SELECT state, updates FROM shop_orders") == [{"state": "new", "updates": 0}]
    assert pv.db.query("SELECT outcome FROM portone_events WHERE outcome = 'paid'") == []


@pytest.mark.expect_log(r"PV0101: portone-verify imp_uid=imp_closed merchant_uid=order_closed: "
                        r"upstream_error: Failed to connect to 127\.0\.0\.1 port \d+ ")
def test_closed_port_is_upstream_error(make_httpd, database, emulator):
    httpd = make_httpd(directives={"PortOneAPIURL": "http://127.0.0.1:%d" % free_port()})
    add_paid(database, emulator, "imp_closed", "order_closed")
    start = time.monotonic()
    assert_error(httpd.verify("imp_closed", "order_closed"), 502, "upstream_error")
    assert time.monotonic() - start < 3
    assert_nothing_written(database, "imp_closed", "order_closed")


# ---------------------------------------------------------------- upstream_timeout

SLOW = {
    "slow_lookup": [("/payments/", "delay", 5)],
    "stalled_lookup": [("/payments/", "stall", 5)],
    # 1.5 s for the token and 1.5 s for the look-up: PortOneTimeout is for both
    "slow_token_and_lookup": [("/users/getToken", "delay", 1.5), ("/payments/", "delay", 1.5)],
}


@pytest.mark.parametrize("faults", SLOW.values(), ids=SLOW.keys())
@pytest.mark.expect_log(r"PV0101: portone-verify imp_uid=imp_slow merchant_uid=order_slow: "
                        r"upstream_timeout: no answer within PortOneTimeout")
def test_upstream_timeout_within_the_configured_seconds(make_httpd, database, emulator, faults):
    httpd = make_httpd(directives={"PortOneTimeout": "2"})
    add_paid(database, emulator, "imp_slow", "order_slow")
    for path, kind, seconds in faults:
        emulator.add_fault(path, kind, seconds=seconds)
    start = time.monotonic()
    resp = httpd.verify("imp_slow", "order_slow", timeout=10)
    took = time.monotonic() - start
    assert_error(resp, 504, "upstream_timeout")
    assert took < 3.0, "answered after %.2f s with PortOneTimeout 2" % took
    assert_nothing_written(database, "imp_slow", "order_slow")

    emulator.clear_faults()
    genuine_verification_succeeds(httpd, database, emulator)


# ---------------------------------------------------------------- tokens

def test_revoked_token_is_replaced_with_one_get_token(pv):
    add_paid(pv.db, pv.emu, "imp_first", "order_first")
    status, _, body = pv.httpd.verify("imp_first", "order_first")
    assert status == 200, body
    before = pv.emu.counters()["get_token_calls"]

    pv.emu.revoke_tokens()
    add_paid(pv.db, pv.emu, "imp_second", "order_second")
    status, _, body = pv.httpd.verify("imp_second", "order_second")
    assert status == 200 and body["status"] == "success", body
    assert pv.emu.counters()["get_token_calls"] == before + 1


def test_a_401_on_the_lookup_refreshes_the_token_and_retries_once(make_httpd, database, emulator):
    httpd = make_httpd(servers=1)
    genuine_verification_succeeds(httpd, database, emulator, "warm")
    before = emulator.counters()
    add_paid(database, emulator, "imp_401", "order_401")
    emulator.add_fault("/payments/", "unauthorized", count=1)
    status, _, body = httpd.verify("imp_401", "order_401")
    assert status == 200 and body["status"] == "success", body
    after = emulator.counters()
    assert after["get_token_calls"] == before["get_token_calls"] + 1
    lookups = [r for r in after["requests"][len(before["requests"]):]
               if r["path"].startswith("/payments/")]
    assert len(lookups) == 2, [r["path"] for r in lookups]


# ---------------------------------------------------------------- database_unavailable

@pytest.mark.expect_log(r"PV0300: portone-verify imp_uid=imp_txn merchant_uid=order_txn: database "
                        r"error, retrying once on a recovered connection: .*"
                        r"(NOT NULL constraint failed: shop_orders\.state|null value in column "
                        r"\"state\"|Column 'state' cannot be null)",
                        r"PV0101: portone-verify imp_uid=imp_txn merchant_uid=order_txn: "
                        r"database_unavailable: ")
def test_failing_transaction_is_database_unavailable_and_nothing_half_written(
        make_httpd, database, emulator):
    # the order update breaks a NOT NULL constraint: the payment row and the
    # event written before it in the same transaction must be rolled back
    httpd = make_httpd(directives={
        "PortOneOrderUpdateQuery": "UPDATE shop_orders SET state = NULL "
                                   "WHERE order_no = :merchant_uid"})
    add_paid(database, emulator, "imp_txn", "order_txn")
    assert_error(httpd.verify("imp_txn", "order_txn"), 503, "database_unavailable")
    assert_nothing_written(database, "imp_txn", "order_txn")
    assert "imp_txn" in httpd.read_error_log()


@pytest.mark.expect_log(r"PV0003: cannot reach the database to check PortOne SQL at start-up",
                        r"\[dbd:error\] .*(AH00629: Can't connect to \w+: |AH02655: Failed to "
                        r"acquire DBD connection)",
                        r"PV0101: portone-verify imp_uid=imp_dbdown merchant_uid=order_dbdown: "
                        r"database_unavailable: mod_dbd has no connection")
def test_database_down_is_database_unavailable(make_httpd, database, emulator):
    if database.driver == "sqlite3":
        pytest.skip("a database server that is down: not SQLite")
    down = 'DBDParams "%s"' % re.sub(r"port=\d+", "port=%d" % free_port(), database.params)
    httpd = make_httpd(extra=down)
    add_paid(database, emulator, "imp_dbdown", "order_dbdown")
    assert_error(httpd.verify("imp_dbdown", "order_dbdown", timeout=20), 503,
                 "database_unavailable")
    assert_nothing_written(database, "imp_dbdown", "order_dbdown")
