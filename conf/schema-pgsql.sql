-- mod_portone_verify: the module's own tables for mod_dbd's pgsql driver.
--   psql "$DATABASE_URL" -f schema-pgsql.sql

-- One row per PortOne payment, named by (api, imp_uid): api is 'v1' for a
-- payment of PortOne's V1 API (imp_uid is its imp_uid) and 'v2' for one of
-- the V2 API (imp_uid and merchant_uid hold its paymentId). A V1 and a V2
-- payment with the same id text are two rows. The row follows PortOne's
-- latest answer.
-- outcome only moves forward: pending -> vbank_issued -> paid -> cancelled,
-- cancelled and forgery are final, failed only becomes paid (a late
-- approval), paid never becomes forgery.
-- refund: PortOneCancelForgery's cancel of a forgery that took money: NULL
-- none, 'claimed' while the one verification that claimed it sends it (a
-- claim left 'claimed' for minutes is a crash between claim and answer:
-- see docs/security.md), 'unanswered' when no answer said what PortOne did
-- (the next verification settles it or sends it again), 'refunded' once
-- PortOne cancelled it (with its event 'refunded').
CREATE TABLE IF NOT EXISTS portone_payments (
    api           VARCHAR(8) NOT NULL DEFAULT 'v1',  -- v1 or v2
    imp_uid       VARCHAR(128) NOT NULL,  -- V2: the paymentId
    merchant_uid  VARCHAR(128) NOT NULL,  -- V2: the paymentId
    status        VARCHAR(32) NOT NULL,   -- PortOne's: paid, VIRTUAL_ACCOUNT_ISSUED, ...
    outcome       VARCHAR(20) NOT NULL,   -- pending, vbank_issued, paid, cancelled, failed, forgery
    amount        NUMERIC,
    cancel_amount NUMERIC NOT NULL DEFAULT 0,
    currency      VARCHAR(8),
    pay_method    VARCHAR(64),
    paid_at       BIGINT,                 -- UNIX seconds, 0 when not paid
    vbank_num     VARCHAR(128),
    vbank_name    VARCHAR(128),
    vbank_date    BIGINT,                 -- UNIX seconds, deposit deadline
    response      TEXT NOT NULL,          -- PortOne's whole "response" object, JSON
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    refund        VARCHAR(16),            -- NULL, claimed, unanswered, refunded (see above)
    CONSTRAINT portone_payments_pkey PRIMARY KEY (api, imp_uid)
);
CREATE INDEX IF NOT EXISTS portone_payments_merchant_uid
    ON portone_payments (merchant_uid);

-- The outbox: one row per (api, imp_uid, outcome), written in the same
-- transaction as the payment. A mailer or SMS sender reads the rows whose
-- processed_at is NULL and sets it when it has sent its message.
CREATE TABLE IF NOT EXISTS portone_events (
    id            BIGSERIAL PRIMARY KEY,
    api           VARCHAR(8) NOT NULL DEFAULT 'v1',
    imp_uid       VARCHAR(128) NOT NULL,
    merchant_uid  VARCHAR(128) NOT NULL,
    outcome       VARCHAR(20) NOT NULL,   -- vbank_issued, paid, cancelled, failed, forgery, refunded
    created_at    TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    processed_at  TIMESTAMPTZ,
    CONSTRAINT portone_events_once UNIQUE (api, imp_uid, outcome)
);
CREATE INDEX IF NOT EXISTS portone_events_unprocessed
    ON portone_events (id) WHERE processed_at IS NULL;

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
