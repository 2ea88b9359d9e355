"""conf/upgrade-<driver>.sql over a database made with an earlier schema, on
each database of the suite: the rows stay, the script runs twice, the module
starts and verifies.

- from tests/fixtures/schema-<driver>-0f0e19b.sql (released before
  portone_orders): the backfill the script describes guards the orders paid
  before the upgrade;
- from tests/fixtures/schema-<driver>-ea51cfe.sql (portone_orders, before
  the api column): every row of the three tables is kept, as a V1 one
  (api 'v1'), event ids and the orders' payers included; afterwards a V2
  payment may have the same imp_uid as a V1 one, and 128-character ids fit.

The scripts run as an admin runs them: SQLite's whole (the sqlite3 shell),
PostgreSQL's whole (psql -f), MySQL's statement by statement (the mysql
client)."""
import contextlib
import hashlib
import os
import re
import sqlite3
import types

from harness import ORDER_QUERY, ORDER_SCHEMA_SQLITE, ROOT, Httpd, SqliteDB, _chown_tree, \
    make_tempdir

MODULE_TABLES = ("portone_payments", "portone_events", "portone_orders")
ORDER_KEY = hashlib.sha1(ORDER_QUERY.encode()).hexdigest()
PAYMENT_COLUMNS = ("imp_uid, merchant_uid, status, outcome, amount, cancel_amount, currency, "
                   "pay_method, paid_at, vbank_num, vbank_name, vbank_date, response, updated_at")


def statements(path):
    """The script's statements (comment lines dropped), split on ';'."""
    with open(path) as f:
        text = "\n".join(l for l in f.read().splitlines() if not l.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def run_script(db, path):
    if db.driver == "sqlite3":
        with open(path) as f:
            text = f.read()
        con = sqlite3.connect(db.path)
        try:
            con.executescript(text)
        finally:
            con.close()
    elif db.driver == "pgsql":
        with open(path) as f:
            db.execute(f.read())
    else:
        for stmt in statements(path):
            db.execute(stmt)


def upgrade_twice(db):
    for _ in range(2):                      # safe to run twice
        run_script(db, os.path.join(ROOT, "conf", "upgrade-%s.sql" % db.driver))


class OldSqliteDB(SqliteDB):
    """A SQLite shop database made with an earlier schema."""

    def __init__(self, directory, schema):
        self.dir = os.path.join(directory, "db")
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "shop.db")
        con = sqlite3.connect(self.path)
        with open(schema) as f:
            con.executescript(f.read())
        con.executescript(ORDER_SCHEMA_SQLITE)
        con.commit()
        con.close()
        _chown_tree(self.dir)


def made_with(database, commit):
    """The suite's database (a new SQLite file; the servers' module tables
    made again) with the schema of |commit|, and the shop's orders."""
    schema = os.path.join(ROOT, "tests", "fixtures", "schema-%s-%s.sql" % (database.driver, commit))
    if database.driver == "sqlite3":
        return OldSqliteDB(make_tempdir("pv-upgrade-"), schema)
    database.reset()
    for table in MODULE_TABLES:
        database.execute("DROP TABLE IF EXISTS " + table)
    run_script(database, schema)
    return database


@contextlib.contextmanager
def upgrade_case(database, emulator, commit):
    """A database made with the schema of |commit| (made_with), and the
    httpds started on it (case.start()); afterwards they are stopped and
    the servers' tables are as conf/schema-<driver>.sql makes them."""
    emulator.reset()
    case = types.SimpleNamespace(db=made_with(database, commit), started=[])

    def start():
        h = Httpd(make_tempdir("pv-httpd-"), case.db, emulator.url)
        h.extra = "LogLevel portone_verify:debug"
        case.started.append(h)
        h.start()
        return h
    case.start = start
    try:
        yield case
    finally:
        for h in case.started:
            h.stop()
        restore(database)


def restore(database):
    """The servers' module tables as conf/schema-<driver>.sql makes them."""
    if database.driver == "sqlite3":
        return
    for table in MODULE_TABLES:
        database.execute("DROP TABLE IF EXISTS " + table)
    run_script(database, os.path.join(ROOT, "conf", "schema-%s.sql" % database.driver))
    database.reset()


def old_rows(db):
    """A payment recorded paid before the upgrade, its event and its order."""
    db.execute("INSERT INTO shop_orders (order_no, total_price, currency, state, paid_imp_uid, "
               "updates) VALUES ('o_old', '5000', 'KRW', 'paid', 'imp_old', 1)")
    db.execute("INSERT INTO portone_payments (imp_uid, merchant_uid, status, outcome, amount, "
               "cancel_amount, currency, pay_method, paid_at, response) VALUES "
               "('imp_old', 'o_old', 'paid', 'paid', 5000, 0, 'KRW', 'card', 1700000000, '{}')")
    db.execute("INSERT INTO portone_events (imp_uid, merchant_uid, outcome) "
               "VALUES ('imp_old', 'o_old', 'paid')")


def verifies_as_before(h, db, emulator):
    """The old payment is answered from its record, a later failed attempt
    of its order leaves the order paid, a new order verifies."""
    emulator.add_payment(imp_uid="imp_old", merchant_uid="o_old", amount=5000, status="paid")
    status, _, body = h.verify("imp_old", "o_old")
    assert (status, body["status"]) == (200, "success"), body
    emulator.add_payment(imp_uid="imp_old2", merchant_uid="o_old", amount=5000, status="failed")
    assert h.verify("imp_old2", "o_old")[0] == 409
    assert db.query("SELECT state, paid_imp_uid, updates FROM shop_orders "
                    "WHERE order_no = 'o_old'") == \
        [{"state": "paid", "paid_imp_uid": "imp_old", "updates": 1}]
    db.add_order("o_new", 7000)
    emulator.add_payment(imp_uid="imp_new", merchant_uid="o_new", amount=7000, status="paid")
    assert h.verify("imp_new", "o_new")[0] == 200


def test_upgrade_from_0f0e19b_keeps_rows_and_the_module_runs(database, emulator):
    with upgrade_case(database, emulator, "0f0e19b") as case:
        db = case.db
        old_rows(db)
        upgrade_twice(db)
        h = case.start()
        # the backfill the script describes, with the key httpd logged
        key = re.search(r"PV0015: PortOneOrderQuery .* order_key ([0-9a-f]{40})",
                        h.read_error_log()).group(1)
        assert key == ORDER_KEY
        db.execute("INSERT INTO portone_orders (order_key, merchant_uid, paid_imp_uid) "
                   "SELECT '%s', merchant_uid, MIN(imp_uid) FROM portone_payments "
                   "WHERE outcome = 'paid' GROUP BY merchant_uid" % key)
        verifies_as_before(h, db, emulator)
        rows = db.query("SELECT api, imp_uid, outcome FROM portone_payments ORDER BY imp_uid")
        assert rows == [{"api": "v1", "imp_uid": "imp_new", "outcome": "paid"},
                        {"api": "v1", "imp_uid": "imp_old", "outcome": "paid"},
                        {"api": "v1", "imp_uid": "imp_old2", "outcome": "failed"}]
        assert db.query("SELECT api, imp_uid, outcome FROM portone_events ORDER BY imp_uid") == \
            [{"api": "v1", "imp_uid": "imp_new", "outcome": "paid"},
             {"api": "v1", "imp_uid": "imp_old", "outcome": "paid"},
             {"api": "v1", "imp_uid": "imp_old2", "outcome": "failed"}]


def test_upgrade_from_ea51cfe_keeps_rows_and_the_module_runs(database, emulator):
    with upgrade_case(database, emulator, "ea51cfe") as case:
        db = case.db
        old_rows(db)
        # a virtual account issued for another order, and events whose ids
        # have a gap (a deleted one); the orders as the module keeps them
        db.add_order("o_vb", 3000)
        db.execute("INSERT INTO portone_payments (%s) VALUES ('imp_vb', 'o_vb', 'ready', "
                   "'vbank_issued', 3000, 0, 'KRW', 'vbank', 0, 'T0001', 'KB', 1700086400, "
                   "'{\"a\":1}', '2024-01-02 03:04:05')" % PAYMENT_COLUMNS)
        db.execute("INSERT INTO portone_events (imp_uid, merchant_uid, outcome) "
                   "VALUES ('imp_gone', 'o_vb', 'failed')")
        db.execute("INSERT INTO portone_events (imp_uid, merchant_uid, outcome, processed_at) "
                   "VALUES ('imp_vb', 'o_vb', 'vbank_issued', '2024-01-02 03:04:06')")
        db.execute("DELETE FROM portone_events WHERE imp_uid = 'imp_gone'")
        db.execute("INSERT INTO portone_orders (order_key, merchant_uid, paid_imp_uid) VALUES "
                   "('%s', 'o_old', 'imp_old'), ('%s', 'o_vb', NULL)" % (ORDER_KEY, ORDER_KEY))
        payments = db.query("SELECT %s FROM portone_payments ORDER BY imp_uid" % PAYMENT_COLUMNS)
        events = db.query("SELECT * FROM portone_events ORDER BY id")
        orders = db.query("SELECT * FROM portone_orders ORDER BY merchant_uid")

        upgrade_twice(db)

        # every row kept as it was, as a V1 one
        assert db.query("SELECT %s FROM portone_payments ORDER BY imp_uid"
                        % PAYMENT_COLUMNS) == payments
        assert db.query("SELECT DISTINCT api FROM portone_payments") == [{"api": "v1"}]
        assert db.query("SELECT id, imp_uid, merchant_uid, outcome, created_at, processed_at "
                        "FROM portone_events ORDER BY id") == events
        assert db.query("SELECT DISTINCT api FROM portone_events") == [{"api": "v1"}]
        assert db.query("SELECT order_key, merchant_uid, paid_imp_uid, updated_at "
                        "FROM portone_orders ORDER BY merchant_uid") == orders
        assert db.query("SELECT DISTINCT paid_api FROM portone_orders") == [{"paid_api": "v1"}]

        h = case.start()
        verifies_as_before(h, db, emulator)
        # new event ids follow the highest ever given
        assert db.query("SELECT MIN(id) AS n FROM portone_events WHERE imp_uid IN "
                        "('imp_old2', 'imp_new')")[0]["n"] > events[-1]["id"]

        # a V2 payment may have a V1 payment's id text, ids of 128 characters
        # and PortOne V2's statuses fit; (api, imp_uid) is still unique
        db.execute("INSERT INTO portone_payments (api, %s) VALUES ('v2', 'imp_old', 'o_old', "
                   "'CANCELLED', 'cancelled', 5000, 5000, 'KRW', 'card', 0, NULL, NULL, NULL, "
                   "'{}', '2024-01-02 03:04:05')" % PAYMENT_COLUMNS)
        db.execute("INSERT INTO portone_events (api, imp_uid, merchant_uid, outcome) "
                   "VALUES ('v2', 'imp_old', 'o_old', 'paid')")
        long_id = "p" * 128
        db.execute("INSERT INTO portone_payments (api, %s) VALUES ('v2', '%s', '%s', "
                   "'VIRTUAL_ACCOUNT_ISSUED', 'vbank_issued', 1, 0, 'KRW', 'vbank', 0, '%s', '%s', "
                   "0, '{}', '2024-01-02 03:04:05')"
                   % (PAYMENT_COLUMNS, long_id, long_id, "1" * 128, "b" * 128))
        assert db.query("SELECT imp_uid FROM portone_payments WHERE api = 'v2' "
                        "AND merchant_uid = ?", (long_id,)) == [{"imp_uid": long_id}]
        try:
            db.execute("INSERT INTO portone_events (api, imp_uid, merchant_uid, outcome) "
                       "VALUES ('v1', 'imp_old', 'o_old', 'paid')")
            duplicate = True
        except Exception:
            duplicate = False
        assert not duplicate
        # the V1 payment is still answered from its own record
        status, _, body = h.verify("imp_old", "o_old")
        assert (status, body["status"]) == (200, "success"), body
        assert db.query("SELECT outcome FROM portone_payments WHERE api = 'v1' "
                        "AND imp_uid = 'imp_old'") == [{"outcome": "paid"}]
