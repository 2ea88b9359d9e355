"""The database misbehaving: 503 database_unavailable, nothing half-written,
and service back without restarting httpd (contract sections 5 and 7)."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dbfaults import (allow_order_updates, fail_inserts, hold_writes, refuse_order_update,
                      release_writes, repair_inserts)


def counts(pv):
    return (pv.db.query("SELECT COUNT(*) AS n FROM portone_payments")[0]["n"],
            pv.db.query("SELECT COUNT(*) AS n FROM portone_events")[0]["n"])


def add_paid(pv, n, amount=10000):
    pv.db.add_order("o_db%d" % n, amount)
    pv.emu.add_payment(imp_uid="imp_db%d" % n, merchant_uid="o_db%d" % n, amount=amount,
                       status="paid")


def test_a_failing_statement_rolls_the_whole_transaction_back(pv):
    add_paid(pv, 1)
    fail_inserts(pv.db, "portone_events", "outbox is full")
    pv.expect_log(r"PV0300: portone-verify imp_uid=imp_db1 merchant_uid=o_db1: database error, "
                  r"retrying once on a recovered connection: .*outbox is full",
                  r"PV0101: portone-verify imp_uid=imp_db1 merchant_uid=o_db1: database_unavailable: "
                  r".*outbox is full")
    try:
        status, _, body = pv.httpd.verify("imp_db1", "o_db1")
    finally:
        repair_inserts(pv.db, "portone_events")
    assert status == 503 and body["code"] == "database_unavailable", body
    assert counts(pv) == (0, 0)
    assert pv.db.query("SELECT state, updates FROM shop_orders") == [{"state": "new", "updates": 0}]
    assert "outbox is full" in pv.log()
    # the same payment verifies once the database is healthy again
    status, _, body = pv.httpd.verify("imp_db1", "o_db1")
    assert (status, body["status"]) == (200, "success"), pv.log()
    assert counts(pv) == (1, 1)


def test_one_refused_payment_among_many_at_once_costs_the_others_nothing(pv, make_httpd):
    """On SQLite and PostgreSQL the verifications waiting to be written are
    committed together; a statement failing for one of them rolls that
    transaction back and each verification runs again alone: only the
    refused one fails, and every other one is recorded exactly once."""
    n = 40
    h = make_httpd(servers=1, threads=n + 8)    # all of them in one process at once
    for i in range(n):
        add_paid(pv, 100 + i)
    # connections for all of them first (a new PostgreSQL connection
    # prepares its statements, which the lock below would hold up)
    for i in range(n):
        add_paid(pv, 200 + i)
    with ThreadPoolExecutor(max_workers=n) as pool:
        assert set(s for s, _, _ in pool.map(
            lambda i: h.verify("imp_db%d" % (200 + i), "o_db%d" % (200 + i), timeout=60),
            range(n))) == {200}
    pv.db.execute("DELETE FROM portone_events")
    pv.db.execute("DELETE FROM portone_payments")
    pv.db.execute("DELETE FROM shop_orders WHERE order_no LIKE 'o_db2%'")
    asked = len(pv.emu.counters()["requests"])
    refuse_order_update(pv.db, "o_db120", "order o_db120 is locked")
    pv.expect_log(r"PV0300: portone-verify imp_uid=imp_db120 merchant_uid=o_db120: database error, "
                  r"retrying once on a recovered connection: .*order o_db120 is locked",
                  r"PV0101: portone-verify imp_uid=imp_db120 merchant_uid=o_db120: "
                  r"database_unavailable: .*order o_db120 is locked")
    # another program holds up the writes for a moment, so that the
    # verifications queue up and go into the same transactions
    holder = hold_writes(pv.db)
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = [pool.submit(h.verify, "imp_db%d" % (100 + i), "o_db%d" % (100 + i),
                                   timeout=60) for i in range(n)]
            if holder:      # until every look-up is answered, then a moment
                deadline = time.time() + 30
                while len(pv.emu.counters()["requests"]) < asked + n and time.time() < deadline:
                    time.sleep(0.05)
                time.sleep(0.5)
                release_writes(holder)
                holder = None
            results = [f.result() for f in futures]
    finally:
        release_writes(holder)
        allow_order_updates(pv.db)
    bad = 20        # not the first: it would lead a transaction of its own
    assert results[bad][0] == 503 and results[bad][2]["code"] == "database_unavailable", results[bad]
    assert [(r[0], r[2]["status"]) for i, r in enumerate(results) if i != bad] == \
        [(200, "success")] * (n - 1)
    assert "order o_db120 is locked" in h.read_error_log()
    recorded = sorted(r["imp_uid"] for r in pv.db.query("SELECT imp_uid FROM portone_payments"))
    assert recorded == sorted("imp_db%d" % (100 + i) for i in range(n) if i != bad)
    events = pv.db.query("SELECT imp_uid FROM portone_events")
    assert sorted(e["imp_uid"] for e in events) == recorded
    orders = pv.db.query("SELECT order_no, state, updates FROM shop_orders")
    assert sorted((o["order_no"], o["state"], o["updates"]) for o in orders) == sorted(
        [("o_db120", "new", 0)] + [("o_db%d" % (100 + i), "paid", 1) for i in range(n) if i != bad])


def test_database_server_stopped_then_back_without_restarting_httpd(pv, request):
    if pv.db.driver == "sqlite3":
        pytest.skip("a database server only (PostgreSQL, MariaDB)")
    cluster = pv.db.cluster
    # warm the pool: connections with prepared statements in both children
    for n in range(6):
        add_paid(pv, n)
        assert pv.httpd.verify("imp_db%d" % n, "o_db%d" % n)[0] == 200
    add_paid(pv, 10)
    # the server stopped: mod_dbd cannot connect, pooled connections fail
    # (retried once), imp_db10 is refused; the first uses after its return
    # find connections it closed (retried once)
    pv.expect_log(r"\[dbd:error\] .*(AH00629: Can't connect to|AH00639: DBD \[\w+\] Error: "
                  r"|AH02655: Failed to acquire DBD connection)",
                  r"PV0300: portone-verify imp_uid=\S+ merchant_uid=\S+: database error, retrying "
                  r"once on a recovered connection: ",
                  r"PV0101: portone-verify imp_uid=imp_db10 merchant_uid=o_db10: database_unavailable: ")
    cluster.stop()
    try:
        for _ in range(4):
            status, _, body = pv.httpd.verify("imp_db10", "o_db10")
            assert status == 503 and body["code"] == "database_unavailable", body
            assert body["status"] == "error"
    finally:
        cluster.start_server()
    # nothing of the failed attempts was written
    assert pv.db.query("SELECT COUNT(*) AS n FROM portone_payments WHERE imp_uid = 'imp_db10'")[0]["n"] == 0
    # every pooled connection reconnects and prepares its statements again
    for n in range(11, 23):
        add_paid(pv, n)
        status, _, body = pv.httpd.verify("imp_db%d" % n, "o_db%d" % n)
        assert (status, body["status"]) == (200, "success"), body
    status, _, body = pv.httpd.verify("imp_db10", "o_db10")
    assert (status, body["status"]) == (200, "success"), body
    assert counts(pv) == (19, 19)
