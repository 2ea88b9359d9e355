-- mod_portone_verify: upgrades a database made with an earlier
-- conf/schema-pgsql.sql in place, keeps every row. Safe to run twice.
-- Run it before reloading httpd with the new module:
--   psql "$DATABASE_URL" -f upgrade-pgsql.sql
--
-- What it changes: portone_orders is created if missing (schemas before
-- it), and gets paid_api, portone_payments and portone_events get the
-- column api ('v1' for every row there is: they were all V1 payments), the
-- payment's primary key becomes (api, imp_uid), its events' unique key
-- (api, imp_uid, outcome), and the id columns are widened to hold a V2
-- paymentId, and portone_payments gets refund (PortOneCancelForgery).
-- PostgreSQL's DDL is transactional: all of it or nothing.
-- Safe to run twice: ADD COLUMN IF NOT EXISTS, DROP CONSTRAINT IF EXISTS
-- before each key is added again, and a type a column already has.

BEGIN;

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
    order_key     VARCHAR(40) NOT NULL,
    merchant_uid  VARCHAR(128) NOT NULL,
    paid_imp_uid  VARCHAR(128),           -- NULL while no payment has paid it
    paid_api      VARCHAR(8) NOT NULL DEFAULT 'v1',  -- the api of paid_imp_uid
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (order_key, merchant_uid)
);
ALTER TABLE portone_orders
    ADD COLUMN IF NOT EXISTS paid_api VARCHAR(8) NOT NULL DEFAULT 'v1';

ALTER TABLE portone_payments
    ADD COLUMN IF NOT EXISTS api VARCHAR(8) NOT NULL DEFAULT 'v1',
    ALTER COLUMN imp_uid TYPE VARCHAR(128),
    ALTER COLUMN merchant_uid TYPE VARCHAR(128),
    ALTER COLUMN status TYPE VARCHAR(32),
    ALTER COLUMN pay_method TYPE VARCHAR(64),
    ALTER COLUMN vbank_num TYPE VARCHAR(128),
    ALTER COLUMN vbank_name TYPE VARCHAR(128),
    DROP CONSTRAINT IF EXISTS portone_payments_pkey,
    ADD CONSTRAINT portone_payments_pkey PRIMARY KEY (api, imp_uid);

-- PortOneCancelForgery: where a forgery's cancel stands (NULL, claimed,
-- refunded; schema-pgsql.sql)
ALTER TABLE portone_payments
    ADD COLUMN IF NOT EXISTS refund VARCHAR(16);

-- the earlier schemas' UNIQUE (imp_uid, outcome) has the name PostgreSQL gave it
ALTER TABLE portone_events
    ADD COLUMN IF NOT EXISTS api VARCHAR(8) NOT NULL DEFAULT 'v1',
    ALTER COLUMN imp_uid TYPE VARCHAR(128),
    ALTER COLUMN merchant_uid TYPE VARCHAR(128),
    DROP CONSTRAINT IF EXISTS portone_events_imp_uid_outcome_key,
    DROP CONSTRAINT IF EXISTS portone_events_once,
    ADD CONSTRAINT portone_events_once UNIQUE (api, imp_uid, outcome);

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
