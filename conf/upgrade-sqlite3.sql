-- mod_portone_verify: upgrades a database made with an earlier
-- conf/schema-sqlite3.sql in place, keeps every row. Safe to run twice.
-- Run it before reloading httpd with the new module:
--   sqlite3 /var/lib/shop/shop.db < upgrade-sqlite3.sql
--
-- What it changes: portone_orders is created if missing (schemas before
-- it), and gets paid_api, portone_payments and portone_events get the
-- column api ('v1' for every row there is: they were all V1 payments), the
-- payment is then unique on (api, imp_uid), its events on (api, imp_uid,
-- outcome); portone_payments gets refund (PortOneCancelForgery, NULL for
-- every row there is). SQLite cannot change a table's primary key or unique
-- constraint, so each table is rebuilt (SQLite's documented procedure for
-- other table changes: create the new table, copy the rows, drop the old
-- one, rename the new one, create its indexes again), all in one
-- transaction: if anything fails, nothing has changed.
--
-- Safe to run twice: a table is rebuilt again with the rows copied as they
-- are. The copy reads api (and refund) through a subquery on the old table by rowid: an
-- old table without the column leaves the name to the outer query, which
-- gives 'v1', and a table that has it gives its own.

BEGIN IMMEDIATE;

-- One row per shop order that a payment was recorded for (contract section
-- 6): the row that the payments of one order lock in turn, so that they
-- are decided one after the other, and which payment paid the order. An
-- order is named by its merchant_uid (V2: paymentId) and by the scope's
-- PortOneOrderQuery (order_key, its SHA-1): two shops sharing one database
-- never share an order. The same SQL serves V1 and V2 payments: the same
-- order id is the same order, whichever API its payments came through. A
-- payment that is not paid never moves an order that (paid_api,
-- paid_imp_uid) says another payment has paid.
CREATE TABLE IF NOT EXISTS portone_orders (
    order_key     TEXT NOT NULL,
    merchant_uid  TEXT NOT NULL,
    paid_imp_uid  TEXT,               -- NULL while no payment has paid it
    paid_api      TEXT NOT NULL DEFAULT 'v1',  -- the api of paid_imp_uid
    updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (order_key, merchant_uid)
);

-- portone_orders: paid_api
DROP TABLE IF EXISTS portone_orders_new;
CREATE TABLE portone_orders_new (
    order_key     TEXT NOT NULL,
    merchant_uid  TEXT NOT NULL,
    paid_imp_uid  TEXT,               -- NULL while no payment has paid it
    paid_api      TEXT NOT NULL DEFAULT 'v1',  -- the api of paid_imp_uid
    updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (order_key, merchant_uid)
);
INSERT INTO portone_orders_new (order_key, merchant_uid, paid_imp_uid,
                                paid_api, updated_at)
    SELECT o.order_key, o.merchant_uid, o.paid_imp_uid,
           (SELECT paid_api FROM portone_orders AS x WHERE x.rowid = o.rowid),
           o.updated_at
      FROM portone_orders AS o, (SELECT 'v1' AS paid_api) AS d;
DROP TABLE portone_orders;
ALTER TABLE portone_orders_new RENAME TO portone_orders;

-- portone_payments: api, unique on (api, imp_uid)
DROP TABLE IF EXISTS portone_payments_new;
CREATE TABLE portone_payments_new (
    api           TEXT NOT NULL DEFAULT 'v1',  -- v1 or v2
    imp_uid       TEXT NOT NULL,      -- V2: the paymentId
    merchant_uid  TEXT NOT NULL,      -- V2: the paymentId
    status        TEXT NOT NULL,      -- PortOne's: paid, VIRTUAL_ACCOUNT_ISSUED, ...
    outcome       TEXT NOT NULL,      -- pending, vbank_issued, paid, cancelled, failed, forgery
    amount        NUMERIC,
    cancel_amount NUMERIC NOT NULL DEFAULT 0,
    currency      TEXT,
    pay_method    TEXT,
    paid_at       INTEGER,            -- UNIX seconds, 0 when not paid
    vbank_num     TEXT,
    vbank_name    TEXT,
    vbank_date    INTEGER,            -- UNIX seconds, deposit deadline
    response      TEXT NOT NULL,      -- PortOne's whole "response" object, JSON
    updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    refund        TEXT,               -- NULL, claimed, unanswered, refunded (PortOneCancelForgery)
    PRIMARY KEY (api, imp_uid)
);
INSERT INTO portone_payments_new (api, imp_uid, merchant_uid, status, outcome,
                                  amount, cancel_amount, currency, pay_method,
                                  paid_at, vbank_num, vbank_name, vbank_date,
                                  response, updated_at, refund)
    SELECT (SELECT api FROM portone_payments AS x WHERE x.rowid = p.rowid),
           p.imp_uid, p.merchant_uid, p.status, p.outcome, p.amount,
           p.cancel_amount, p.currency, p.pay_method, p.paid_at, p.vbank_num,
           p.vbank_name, p.vbank_date, p.response, p.updated_at,
           (SELECT refund FROM portone_payments AS x WHERE x.rowid = p.rowid)
      FROM portone_payments AS p, (SELECT 'v1' AS api, NULL AS refund) AS d;
DROP TABLE portone_payments;
ALTER TABLE portone_payments_new RENAME TO portone_payments;
CREATE INDEX IF NOT EXISTS portone_payments_merchant_uid
    ON portone_payments (merchant_uid);

-- portone_events: api, unique on (api, imp_uid, outcome); the ids are kept,
-- and so is AUTOINCREMENT's highest id ever given (sqlite_sequence), so that
-- no id of a deleted event comes back
DROP TABLE IF EXISTS portone_events_new;
CREATE TABLE portone_events_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    api           TEXT NOT NULL DEFAULT 'v1',
    imp_uid       TEXT NOT NULL,
    merchant_uid  TEXT NOT NULL,
    outcome       TEXT NOT NULL,      -- vbank_issued, paid, cancelled, failed, forgery, refunded
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    processed_at  TEXT,
    UNIQUE (api, imp_uid, outcome)
);
INSERT INTO portone_events_new (id, api, imp_uid, merchant_uid, outcome,
                                created_at, processed_at)
    SELECT e.id, (SELECT api FROM portone_events AS x WHERE x.rowid = e.rowid),
           e.imp_uid, e.merchant_uid, e.outcome, e.created_at, e.processed_at
      FROM portone_events AS e, (SELECT 'v1' AS api) AS d;
DELETE FROM sqlite_sequence WHERE name = 'portone_events_new'
    AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'portone_events');
UPDATE sqlite_sequence SET name = 'portone_events_new'
    WHERE name = 'portone_events';
DROP TABLE portone_events;
ALTER TABLE portone_events_new RENAME TO portone_events;
CREATE INDEX IF NOT EXISTS portone_events_unprocessed
    ON portone_events (processed_at, id);

COMMIT;

-- Orders paid before portone_orders existed (an upgrade from a schema
-- without it): the guard that keeps a later failed or vbank-issued attempt
-- from moving a paid order back knows them only once they are entered
-- here. httpd logs each PortOneOrderQuery's order_key at start-up ("PV0015
-- ... with order_key <key>", LogLevel info). Per order query (per shop),
-- with its key in place of KEY, run:
--
--   INSERT INTO portone_orders (order_key, merchant_uid, paid_imp_uid)
--       SELECT 'KEY', merchant_uid, MIN(imp_uid) FROM portone_payments
--       WHERE outcome = 'paid' GROUP BY merchant_uid
--
-- (for a shop sharing the database with others, add its own condition on
-- merchant_uid so that it takes only its orders).
