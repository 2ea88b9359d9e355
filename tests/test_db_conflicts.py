"""A verification whose transaction loses a lock conflict with another one
(a deadlock, which MySQL/MariaDB and PostgreSQL resolve by rolling one of
them back) runs again and records the payment once: it is not a database
failure, answers 200, and logs PV0301 at info, no warning.

The deadlock is made on purpose: a transaction of the test writes the
payment's row and holds it; the module's transaction locks the order's row
and waits for the payment's; the test's then asks for the order's row. The
module's is the one rolled back (PostgreSQL: the one that waited first
detects it; InnoDB: the one that wrote less). SQLite has one writer at a
time and no deadlocks: not tested there."""
import re
import threading
import time

import pytest

from conftest import v2_directives

PRICE = 1000


def holder(database):
    """A connection of the test's own, in a transaction left open."""
    con = database._connect()
    if database.driver == "mysql":
        con.autocommit(False)
        con.cursor().execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return con


def blocked(database):
    """Whether a session of the module waits for a lock on portone_payments
    (MariaDB makes a locking read of one row by its key while it plans the
    statement, before InnoDB lists the transaction as waiting: the
    statement is seen running instead)."""
    if database.driver == "mysql":
        return any(r["Command"] == "Execute" and r["Time"] >= 1
                   and "FROM portone_payments" in (r["Info"] or "")
                   for r in database.query("SHOW FULL PROCESSLIST"))
    return bool(database.query(
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()")[0]["n"])


def wait_blocked(database, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if blocked(database):
            return
        time.sleep(0.1)
    raise AssertionError("the module's transaction did not wait for the test's")


def order_key(h):
    return re.search(r"PV0015: PortOneOrderQuery .* order_key ([0-9a-f]{40})",
                     h.read_error_log()).group(1)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_verification_that_loses_a_deadlock_runs_again_and_records_once(
        make_httpd, database, emulator, api):
    if database.driver == "sqlite3":
        pytest.skip("SQLite has one writer at a time: no deadlock to lose")
    h = make_httpd(directives=v2_directives(emulator.url))
    key = order_key(h)
    database.add_order("o_dl", PRICE)
    if api == "v1":
        uid, ids = "imp_dl", "imp_uid=imp_dl merchant_uid=o_dl"
        emulator.add_payment(imp_uid=uid, merchant_uid="o_dl", amount=PRICE, status="paid")
        verify = lambda: h.verify(uid, "o_dl", timeout=60)  # noqa: E731
    else:
        uid, ids = "o_dl", "paymentId=o_dl"     # a V2 paymentId names its order
        emulator.add_v2_payment(paymentId=uid, status="PAID", total=PRICE, currency="KRW")
        verify = lambda: h.post("/payments/complete", {"paymentId": uid},  # noqa: E731
                                timeout=60)
    p = "%s"

    con = holder(database)
    cur = con.cursor()
    answer = {}
    try:
        if database.driver == "mysql":
            # heavier than the module's, so that InnoDB rolls the module's back
            for i in range(30):
                cur.execute("INSERT INTO portone_events (api, imp_uid, merchant_uid, outcome) "
                            "VALUES ('v1', %s, 'o_weight', 'paid')" % p, ("imp_weight_%d" % i,))
        cur.execute("INSERT INTO portone_payments (api, imp_uid, merchant_uid, status, outcome, "
                    "response) VALUES (%s, %s, 'o_dl', 'ready', 'pending', '{}')" % (p, p),
                    (api, uid))

        t = threading.Thread(target=lambda: answer.update(r=verify()))
        t.start()
        wait_blocked(database)   # the module holds the order, waits for the payment
        # and now the test's transaction asks for the order: a cycle
        cur.execute("INSERT INTO portone_orders (order_key, merchant_uid) VALUES (%s, %s) "
                    % (p, p) + ("ON CONFLICT DO NOTHING" if database.driver == "pgsql"
                                else "ON DUPLICATE KEY UPDATE merchant_uid = merchant_uid"),
                    (key, "o_dl"))
    finally:
        con.rollback()
        con.close()
    t.join(60)
    assert not t.is_alive()

    status, _, body = answer["r"]
    assert status == 200, body
    assert body["status"] == "success"
    assert database.query("SELECT api, imp_uid, merchant_uid, outcome FROM portone_payments") \
        == [{"api": api, "imp_uid": uid, "merchant_uid": "o_dl", "outcome": "paid"}]
    assert database.query("SELECT api, imp_uid, outcome FROM portone_events") \
        == [{"api": api, "imp_uid": uid, "outcome": "paid"}]
    assert database.query("SELECT state, updates FROM shop_orders WHERE order_no = 'o_dl'") \
        == [{"state": "paid", "updates": 1}]
    assert database.query("SELECT merchant_uid, paid_imp_uid, paid_api FROM portone_orders") \
        == [{"merchant_uid": "o_dl", "paid_imp_uid": uid, "paid_api": api}]
    log = h.read_error_log()
    assert re.search(r"\[portone_verify:info\] .*PV0301: portone-verify %s: the database "
                     r"transaction met a concurrent one \(deadlock\) and ran again 1 time\b"
                     % re.escape(ids), log), log[-3000:]
    assert "PV0300" not in log and "PV0101" not in log
