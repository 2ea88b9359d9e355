"""The database misbehaving: 503 database_unavailable, nothing half-written,
and service back without restarting httpd (contract sections 5 and 7)."""
import pytest


def counts(pv):
    return (pv.db.query("SELECT COUNT(*) AS n FROM portone_payments")[0]["n"],
            pv.db.query("SELECT COUNT(*) AS n FROM portone_events")[0]["n"])


def add_paid(pv, n, amount=10000):
    pv.db.add_order("o_db%d" % n, amount)
    pv.emu.add_payment(imp_uid="imp_db%d" % n, merchant_uid="o_db%d" % n, amount=amount,
                       status="paid")


def break_events(pv):
    if pv.db.driver == "sqlite3":
        pv.db.execute("CREATE TRIGGER pv_test_fail BEFORE INSERT ON portone_events "
                      "BEGIN SELECT RAISE(ABORT, 'outbox is full'); END")
    else:
        pv.db.execute("CREATE OR REPLACE FUNCTION pv_test_fail() RETURNS trigger AS "
                      "$$ BEGIN RAISE EXCEPTION 'outbox is full'; END $$ LANGUAGE plpgsql")
        pv.db.execute("CREATE TRIGGER pv_test_fail BEFORE INSERT ON portone_events "
                      "FOR EACH ROW EXECUTE FUNCTION pv_test_fail()")


def repair_events(pv):
    pv.db.execute("DROP TRIGGER pv_test_fail" + ("" if pv.db.driver == "sqlite3" else " ON portone_events"))


def test_a_failing_statement_rolls_the_whole_transaction_back(pv):
    add_paid(pv, 1)
    break_events(pv)
    try:
        status, _, body = pv.httpd.verify("imp_db1", "o_db1")
    finally:
        repair_events(pv)
    assert status == 503 and body["code"] == "database_unavailable", body
    assert counts(pv) == (0, 0)
    assert pv.db.query("SELECT state, updates FROM shop_orders") == [{"state": "new", "updates": 0}]
    assert "outbox is full" in pv.log()
    # the same payment verifies once the database is healthy again
    status, _, body = pv.httpd.verify("imp_db1", "o_db1")
    assert (status, body["status"]) == (200, "success"), pv.log()
    assert counts(pv) == (1, 1)


def test_postgresql_stopped_then_back_without_restarting_httpd(pv, pg_cluster):
    if pv.db.driver != "pgsql":
        pytest.skip("PostgreSQL only")
    # warm the pool: connections with prepared statements in both children
    for n in range(6):
        add_paid(pv, n)
        assert pv.httpd.verify("imp_db%d" % n, "o_db%d" % n)[0] == 200
    add_paid(pv, 10)
    pg_cluster.stop()
    try:
        for _ in range(4):
            status, _, body = pv.httpd.verify("imp_db10", "o_db10")
            assert status == 503 and body["code"] == "database_unavailable", body
            assert body["status"] == "error"
    finally:
        pg_cluster.pg_ctl_start()
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
