-- mod_portone_verify: upgrades a database made with an earlier
-- conf/schema-mysql.sql in place, keeps every row. Run it before reloading
-- httpd with the new module:
--   mysql shop < upgrade-mysql.sql
--
-- What it changes: portone_orders is created if missing (schemas before
-- it), and gets paid_api, portone_payments and portone_events get the
-- column api ('v1' for every row there is: they were all V1 payments), the
-- payment's primary key becomes (api, imp_uid), its events' unique key
-- (api, imp_uid, outcome), and the id columns are widened to hold a V2
-- paymentId, and portone_payments gets refund (PortOneCancelForgery).
-- Each ALTER TABLE is one step (InnoDB copies or rebuilds the
-- table meanwhile), but MySQL commits after each statement: an upgrade cut
-- short is finished by running the script again.
--
-- MariaDB (10.3+): safe to run twice (ADD COLUMN IF NOT EXISTS, DROP INDEX
-- IF EXISTS before the key is added again, a type a column already has).
-- MySQL has no IF [NOT] EXISTS for columns and indexes: there, run it once,
-- with those words taken out of the ALTER TABLE statements (a second run
-- fails on the existing columns, without changing anything).

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
    paid_imp_uid  VARCHAR(128) NULL DEFAULT NULL, -- NULL while no payment has paid it
    paid_api      VARCHAR(8) NOT NULL DEFAULT 'v1',  -- the api of paid_imp_uid
    updated_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (order_key, merchant_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
ALTER TABLE portone_orders
    ADD COLUMN IF NOT EXISTS paid_api VARCHAR(8) NOT NULL DEFAULT 'v1'
        AFTER paid_imp_uid;

ALTER TABLE portone_payments
    ADD COLUMN IF NOT EXISTS api VARCHAR(8) NOT NULL DEFAULT 'v1' FIRST,
    MODIFY imp_uid VARCHAR(128) NOT NULL,
    MODIFY merchant_uid VARCHAR(128) NOT NULL,
    MODIFY status VARCHAR(32) NOT NULL,
    MODIFY pay_method VARCHAR(64),
    MODIFY vbank_num VARCHAR(128),
    MODIFY vbank_name VARCHAR(128),
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (api, imp_uid);

-- PortOneCancelForgery: where a forgery's cancel stands (NULL, claimed,
-- refunded; schema-mysql.sql)
ALTER TABLE portone_payments
    ADD COLUMN IF NOT EXISTS refund VARCHAR(16) NULL DEFAULT NULL;

ALTER TABLE portone_events
    ADD COLUMN IF NOT EXISTS api VARCHAR(8) NOT NULL DEFAULT 'v1' AFTER id,
    MODIFY imp_uid VARCHAR(128) NOT NULL,
    MODIFY merchant_uid VARCHAR(128) NOT NULL,
    DROP INDEX IF EXISTS portone_events_once,
    ADD UNIQUE KEY portone_events_once (api, imp_uid, outcome);

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
