"""conf/upgrade-<driver>.sql over a database made with the previous schema
(tests/fixtures/schema-<driver>-0f0e19b.sql, as released before portone_orders):
the rows stay, the module starts and verifies, the script runs twice, and the
backfill it describes guards the orders paid before the upgrade."""
import os
import re
import sqlite3

from harness import ORDER_SCHEMA_SQLITE, ROOT, Httpd, SqliteDB, _chown_tree, make_tempdir


def statements(path):
    """The script's statements (comment lines dropped), split on ';'."""
    with open(path) as f:
        text = "\n".join(l for l in f.read().splitlines() if not l.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


class OldSqliteDB(SqliteDB):
    """A SQLite shop database made with the previous schema."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "db")
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "shop.db")
        con = sqlite3.connect(self.path)
        with open(os.path.join(ROOT, "tests", "fixtures", "schema-sqlite3-0f0e19b.sql")) as f:
            con.executescript(f.read())
        con.executescript(ORDER_SCHEMA_SQLITE)
        con.commit()
        con.close()
        _chown_tree(self.dir)


def old_rows(db):
    """A payment recorded paid before the upgrade, its event and its order."""
    db.execute("INSERT INTO shop_orders (order_no, total_price, currency, state, paid_imp_uid, "
               "updates) VALUES ('o_old', '5000', 'KRW', 'paid', 'imp_old', 1)")
    db.execute("INSERT INTO portone_payments (imp_uid, merchant_uid, status, outcome, amount, "
               "cancel_amount, currency, pay_method, paid_at, response) VALUES "
               "('imp_old', 'o_old', 'paid', 'paid', 5000, 0, 'KRW', 'card', 1700000000, '{}')")
    db.execute("INSERT INTO portone_events (imp_uid, merchant_uid, outcome) "
               "VALUES ('imp_old', 'o_old', 'paid')")


def test_upgrade_keeps_rows_and_the_module_runs(database, emulator):
    emulator.reset()
    if database.driver == "sqlite3":
        db = OldSqliteDB(make_tempdir("pv-upgrade-"))
    else:
        db = database
        db.reset()
        db.execute("DROP TABLE portone_orders")
    old_rows(db)
    for _ in range(2):                      # safe to run twice
        for stmt in statements(os.path.join(ROOT, "conf", "upgrade-%s.sql" % db.driver)):
            db.execute(stmt)
    h = Httpd(make_tempdir("pv-httpd-"), db, emulator.url)
    h.extra = "LogLevel portone_verify:debug"
    h.start()
    try:
        # the old payment, verified again: answered from its record
        emulator.add_payment(imp_uid="imp_old", merchant_uid="o_old", amount=5000, status="paid")
        status, _, body = h.verify("imp_old", "o_old")
        assert (status, body["status"]) == (200, "success"), body
        # the backfill the script describes, with the key httpd logged
        key = re.search(r"PV015 PortOneOrderQuery .* order_key ([0-9a-f]{40})",
                        h.read_error_log()).group(1)
        db.execute("INSERT INTO portone_orders (order_key, merchant_uid, paid_imp_uid) "
                   "SELECT '%s', merchant_uid, MIN(imp_uid) FROM portone_payments "
                   "WHERE outcome = 'paid' GROUP BY merchant_uid" % key)
        # a later failed attempt of that order does not move it back
        emulator.add_payment(imp_uid="imp_old2", merchant_uid="o_old", amount=5000,
                             status="failed")
        assert h.verify("imp_old2", "o_old")[0] == 409
        assert db.query("SELECT state, paid_imp_uid, updates FROM shop_orders") == \
            [{"state": "paid", "paid_imp_uid": "imp_old", "updates": 1}]
        # a new order verifies as before
        db.add_order("o_new", 7000)
        emulator.add_payment(imp_uid="imp_new", merchant_uid="o_new", amount=7000,
                             status="paid")
        assert h.verify("imp_new", "o_new")[0] == 200
        rows = db.query("SELECT imp_uid, outcome FROM portone_payments ORDER BY imp_uid")
        assert rows == [{"imp_uid": "imp_new", "outcome": "paid"},
                        {"imp_uid": "imp_old", "outcome": "paid"},
                        {"imp_uid": "imp_old2", "outcome": "failed"}]
        assert db.query("SELECT imp_uid, outcome FROM portone_events ORDER BY imp_uid") == \
            [{"imp_uid": "imp_new", "outcome": "paid"}, {"imp_uid": "imp_old", "outcome": "paid"},
             {"imp_uid": "imp_old2", "outcome": "failed"}]
    finally:
        h.stop()
        if database.driver != "sqlite3":
            database.reset()
