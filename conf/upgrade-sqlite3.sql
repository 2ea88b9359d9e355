-- mod_portone_verify: upgrades a database made with an earlier
-- conf/schema-sqlite3.sql in place, keeps every row. Safe to run twice.
-- Run it before reloading httpd with the new module.

-- One row per shop order that a payment was recorded for (contract section
-- 6): the row that the payments of one order lock in turn, so that they
-- are decided one after the other, and which payment paid the order. An
-- order is named by its merchant_uid (V2: paymentId) and by the scope's
-- PortOneOrderQuery (order_key, its SHA-1): two shops sharing one database
-- never share an order. A payment that is not paid never moves an order
-- that paid_imp_uid says another payment has paid.

CREATE TABLE IF NOT EXISTS portone_orders (
    order_key     TEXT NOT NULL,
    merchant_uid  TEXT NOT NULL,
    paid_imp_uid  TEXT,               -- NULL while no payment has paid it
    updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (order_key, merchant_uid)
);

-- Orders paid before this upgrade: the guard that keeps a later failed or
-- vbank-issued attempt from moving a paid order back knows them only once
-- they are entered here. httpd logs each PortOneOrderQuery's order_key at
-- start-up ("PV015 ... with order_key <key>", LogLevel info). Per order
-- query (per shop), with its key in place of KEY, run:
--
--   INSERT INTO portone_orders (order_key, merchant_uid, paid_imp_uid)
--       SELECT 'KEY', merchant_uid, MIN(imp_uid) FROM portone_payments
--       WHERE outcome = 'paid' GROUP BY merchant_uid
--
-- (for a shop sharing the database with others, add its own condition on
-- merchant_uid so that it takes only its orders).
