"""The database misbehaving: 503 database_unavailable, nothing half-written,
and service back without restarting httpd (contract sections 5 and 7)."""
import pytest

from dbfaults import fail_inserts, repair_inserts


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


def test_database_server_stopped_then_back_without_restarting_httpd(pv, request):
    if pv.db.driver == "sqlite3":
        pytest.skip("a database server only (PostgreSQL, MariaDB)")
    cluster = pv.db.cluster
    # warm the pool: connections with prepared statements in both children
    for n in range(6):
        add_paid(pv, n)
        assert pv.httpd.verify("imp_db%d" % n, "o_db%d" % n)[0] == 200
    add_paid(pv, 10)
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
