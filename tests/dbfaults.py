"""Making the shop's database refuse a write, in each SQL dialect: a trigger
that raises on INSERT into a table, or a CHECK constraint on shop_orders."""
import sqlite3


def fail_inserts(db, table, message):
    name = "pv_test_fail_" + table
    if db.driver == "sqlite3":
        db.execute("CREATE TRIGGER %s BEFORE INSERT ON %s BEGIN SELECT RAISE(ABORT, '%s'); END"
                   % (name, table, message))
    elif db.driver == "mysql":
        db.execute("CREATE TRIGGER %s BEFORE INSERT ON %s FOR EACH ROW "
                   "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '%s'" % (name, table, message))
    else:
        db.execute("CREATE OR REPLACE FUNCTION %s() RETURNS trigger AS $$ BEGIN "
                   "RAISE EXCEPTION '%s'; END $$ LANGUAGE plpgsql" % (name, message))
        db.execute("CREATE TRIGGER %s BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION %s()"
                   % (name, table, name))


def repair_inserts(db, table):
    name = "pv_test_fail_" + table
    db.execute("DROP TRIGGER %s%s" % (name, " ON " + table if db.driver == "pgsql" else ""))


def forbid_paid_orders(db):
    """The shop's own rule, violated by the order update."""
    if db.driver == "sqlite3":      # SQLite cannot add a CHECK to a table
        db.execute("CREATE TRIGGER pv_test_ck BEFORE UPDATE ON shop_orders WHEN NEW.state = 'paid' "
                   "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: state'); END")
    else:
        db.execute("ALTER TABLE shop_orders ADD CONSTRAINT pv_test_ck CHECK (state <> 'paid')")


def allow_paid_orders(db):
    if db.driver == "sqlite3":
        db.execute("DROP TRIGGER pv_test_ck")
    else:
        db.execute("ALTER TABLE shop_orders DROP CONSTRAINT pv_test_ck")


def refuse_order_update(db, order_no, message):
    """The shop's own rule refusing the update of one order only."""
    if db.driver == "sqlite3":
        db.execute("CREATE TRIGGER pv_test_one BEFORE UPDATE ON shop_orders WHEN "
                   "NEW.order_no = '%s' BEGIN SELECT RAISE(ABORT, '%s'); END" % (order_no, message))
    elif db.driver == "mysql":
        db.execute("CREATE TRIGGER pv_test_one BEFORE UPDATE ON shop_orders FOR EACH ROW "
                   "BEGIN IF NEW.order_no = '%s' THEN SIGNAL SQLSTATE '45000' "
                   "SET MESSAGE_TEXT = '%s'; END IF; END" % (order_no, message))
    else:
        db.execute("CREATE OR REPLACE FUNCTION pv_test_one() RETURNS trigger AS $$ BEGIN "
                   "IF NEW.order_no = '%s' THEN RAISE EXCEPTION '%s'; END IF; "
                   "RETURN NEW; END $$ LANGUAGE plpgsql" % (order_no, message))
        db.execute("CREATE TRIGGER pv_test_one BEFORE UPDATE ON shop_orders FOR EACH ROW "
                   "EXECUTE FUNCTION pv_test_one()")


def allow_order_updates(db):
    db.execute("DROP TRIGGER pv_test_one%s" % (" ON shop_orders" if db.driver == "pgsql" else ""))


def hold_writes(db):
    """Another program holding up the module's writes, so that verifications
    queue up behind it (where the module groups them into one transaction):
    SQLite's write lock, or a PostgreSQL lock on portone_events that lets
    reads through. None where the module does not group (MariaDB)."""
    if db.driver == "sqlite3":
        con = db._connect()
        con.isolation_level = None
        con.execute("BEGIN IMMEDIATE")
        return con
    if db.driver == "pgsql":
        con = db._connect()             # psycopg2: in a transaction until commit
        con.cursor().execute("LOCK TABLE portone_events IN EXCLUSIVE MODE")
        return con
    return None


def release_writes(con):
    if con is None:
        return
    if isinstance(con, sqlite3.Connection):
        con.execute("COMMIT")
    else:
        con.commit()
    con.close()
