// The Node.js counterpart of mod_portone_verify for `make bench` (bench/README.md,
// "Node"): the same V1 verification on the same schema, written as a careful
// Node shop would: Fastify, a cluster of WORKERS processes (default 2), the
// PortOne token cached per process (one getToken in flight at a time), an
// undici keep-alive pool to PortOne, prepared statements (better-sqlite3 or
// pg with a pool per process), one transaction per recording that locks the
// order first (as the module's), and a repeat that changes nothing answered
// from a read without a write transaction (as the module's).
//
// SQLite commits as durably as the module's (synchronous FULL: the WAL is
// synced at each commit, so a recorded payment survives a power cut);
// better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL: no
// sync at commit, the last payments can be lost), which SQLITE_SYNC=NORMAL
// keeps, for comparison.
//
//   PORT=8080 PORTONE_URL=http://127.0.0.1:9000 DB=sqlite:/path/shop.db node server.js
//   ... DB=postgres://user@127.0.0.1:5432/shop PG_POOL=16
'use strict';
const cluster = require('node:cluster');

const WORKERS = parseInt(process.env.WORKERS || '2', 10);
const PORT = parseInt(process.env.PORT || '8080', 10);
const PORTONE = process.env.PORTONE_URL || 'http://127.0.0.1:9000';
const DB = process.env.DB || '';
const ORDER_KEY = 'node';
const SQLITE_SYNC = process.env.SQLITE_SYNC || 'FULL';
if (!['FULL', 'NORMAL'].includes(SQLITE_SYNC)) throw new Error('SQLITE_SYNC: FULL or NORMAL');

if (cluster.isPrimary && WORKERS > 1) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('exit', (w, code) => { if (code) process.exit(code); });
  process.on('SIGTERM', () => { for (const id in cluster.workers) cluster.workers[id].kill(); process.exit(0); });
  return;
}

const { Pool: HttpPool } = require('undici');
const fastify = require('fastify')({ logger: false, bodyLimit: 4096 });

const portone = new HttpPool(PORTONE, { connections: 256, pipelining: 1,
  keepAliveTimeout: 60000, headersTimeout: 10000, bodyTimeout: 10000 });

// ---------------------------------------------------------------- token cache
let token = null, tokenExp = 0, tokenWait = null;
async function getToken() {
  if (token && Date.now() < tokenExp) return token;
  if (!tokenWait) {
    tokenWait = (async () => {
      const r = await portone.request({ path: '/users/getToken', method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ imp_key: process.env.IMP_KEY || 'imp_apikey',
                               imp_secret: process.env.IMP_SECRET || 'secret' }) });
      const j = await r.body.json();
      if (r.statusCode !== 200 || j.code !== 0) throw new Error('getToken failed');
      token = j.response.access_token;
      tokenExp = Date.now() + Math.max(0, (j.response.expired_at - j.response.now - 60)) * 1000;
      return token;
    })().finally(() => { tokenWait = null; });
  }
  return tokenWait;
}

// ---------------------------------------------------------------- decisions
const RANK = { pending: 0, vbank_issued: 1, failed: 1, paid: 2, cancelled: 3, forgery: 3 };
function decide(pay, order) {
  if (!order) return null;
  const matches = String(pay.amount) === String(Number(order.total_price))
    && (order.currency || 'KRW') === pay.currency;
  switch (pay.status) {
    case 'paid': return matches ? 'paid' : 'forgery';
    case 'ready': return pay.vbank_num ? 'vbank_issued' : 'pending';
    case 'cancelled': return 'cancelled';
    case 'failed': return 'failed';
    default: return null;
  }
}
// what changes: records only move forward
function changes(cur, outcome, cancel) {
  if (!cur) return true;
  if (cur.outcome === outcome) return outcome === 'cancelled' && String(cur.cancel_amount) !== String(cancel);
  if (cur.outcome === 'forgery' || cur.outcome === 'cancelled') return false;
  return RANK[outcome] > RANK[cur.outcome] || (cur.outcome === 'failed' && outcome === 'paid');
}

// ---------------------------------------------------------------- stores
function sqliteStore(path) {
  const Database = require('better-sqlite3');
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  db.pragma('synchronous = ' + SQLITE_SYNC);
  if (db.pragma('synchronous', { simple: true }) !== (SQLITE_SYNC === 'FULL' ? 2 : 1))
    throw new Error('PRAGMA synchronous did not take');
  const q = {
    order: db.prepare('SELECT total_price, currency FROM shop_orders WHERE order_no = ?'),
    current: db.prepare("SELECT outcome, cancel_amount FROM portone_payments WHERE api = 'v1' AND imp_uid = ?"),
    lock: db.prepare('INSERT INTO portone_orders (order_key, merchant_uid) VALUES (?, ?) ON CONFLICT (order_key, merchant_uid) DO NOTHING'),
    state: db.prepare('SELECT paid_imp_uid, paid_api FROM portone_orders WHERE order_key = ? AND merchant_uid = ?'),
    insert: db.prepare("INSERT INTO portone_payments (api, imp_uid, merchant_uid, status, outcome, amount, cancel_amount, currency, pay_method, paid_at, vbank_num, vbank_name, vbank_date, response, updated_at) VALUES ('v1', ?, ?, ?, ?, CAST(? AS NUMERIC), CAST(? AS NUMERIC), ?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP)"),
    update: db.prepare("UPDATE portone_payments SET merchant_uid = ?, status = ?, outcome = ?, amount = CAST(? AS NUMERIC), cancel_amount = CAST(? AS NUMERIC), currency = ?, pay_method = ?, paid_at = ?, vbank_num = ?, vbank_name = ?, vbank_date = ?, response = ?, updated_at = CURRENT_TIMESTAMP WHERE api = 'v1' AND imp_uid = ?"),
    event: db.prepare("INSERT INTO portone_events (api, imp_uid, merchant_uid, outcome) VALUES ('v1', ?, ?, ?) ON CONFLICT (api, imp_uid, outcome) DO NOTHING"),
    shop: db.prepare('UPDATE shop_orders SET state = ?, paid_imp_uid = ?, updates = updates + 1 WHERE order_no = ?'),
    paid: db.prepare("UPDATE portone_orders SET paid_imp_uid = ?, paid_api = 'v1' WHERE order_key = ? AND merchant_uid = ?"),
  };
  const record = db.transaction((pay, outcome, response) => {
    q.lock.run(ORDER_KEY, pay.merchant_uid);
    const st = q.state.get(ORDER_KEY, pay.merchant_uid);
    const cur = q.current.get(pay.imp_uid);
    if (!changes(cur, outcome, pay.cancel_amount)) return cur.outcome;
    const cols = [pay.status, outcome, String(pay.amount), String(pay.cancel_amount || 0), pay.currency,
                  pay.pay_method, pay.paid_at, pay.vbank_num, pay.vbank_name, pay.vbank_date, response];
    if (cur) q.update.run(pay.merchant_uid, ...cols, pay.imp_uid);
    else q.insert.run(pay.imp_uid, pay.merchant_uid, ...cols);
    q.event.run(pay.imp_uid, pay.merchant_uid, outcome);
    const payer = st && st.paid_imp_uid;
    if (outcome === 'paid' && (!payer || payer === pay.imp_uid)) {
      q.shop.run(outcome, pay.imp_uid, pay.merchant_uid);
      if (payer !== pay.imp_uid) q.paid.run(pay.imp_uid, ORDER_KEY, pay.merchant_uid);
    }
    return outcome;
  });
  return {
    async load(pay) { return { order: q.order.get(pay.merchant_uid), cur: q.current.get(pay.imp_uid) }; },
    async record(pay, outcome) { return record.immediate(pay, outcome, JSON.stringify(pay)); },
  };
}

function pgStore(url) {
  const { Pool } = require('pg');
  const pool = new Pool({ connectionString: url, max: parseInt(process.env.PG_POOL || '16', 10) });
  const S = (name, text) => ({ name, text });
  const q = {
    order: S('order', 'SELECT total_price, currency FROM shop_orders WHERE order_no = $1'),
    current: S('current', "SELECT outcome, cancel_amount FROM portone_payments WHERE api = 'v1' AND imp_uid = $1"),
    currentLocked: S('current_l', "SELECT outcome, cancel_amount FROM portone_payments WHERE api = 'v1' AND imp_uid = $1 FOR UPDATE"),
    lock: S('lock', 'INSERT INTO portone_orders (order_key, merchant_uid, updated_at) VALUES ($1, $2, CURRENT_TIMESTAMP) ON CONFLICT (order_key, merchant_uid) DO UPDATE SET updated_at = EXCLUDED.updated_at'),
    state: S('state', 'SELECT paid_imp_uid, paid_api FROM portone_orders WHERE order_key = $1 AND merchant_uid = $2 FOR UPDATE'),
    insert: S('insert', "INSERT INTO portone_payments (api, imp_uid, merchant_uid, status, outcome, amount, cancel_amount, currency, pay_method, paid_at, vbank_num, vbank_name, vbank_date, response, updated_at) VALUES ('v1', $1, $2, $3, $4, CAST($5 AS NUMERIC), CAST($6 AS NUMERIC), $7, $8, CAST($9 AS BIGINT), $10, $11, CAST($12 AS BIGINT), $13, CURRENT_TIMESTAMP)"),
    update: S('update', "UPDATE portone_payments SET merchant_uid = $1, status = $2, outcome = $3, amount = CAST($4 AS NUMERIC), cancel_amount = CAST($5 AS NUMERIC), currency = $6, pay_method = $7, paid_at = CAST($8 AS BIGINT), vbank_num = $9, vbank_name = $10, vbank_date = CAST($11 AS BIGINT), response = $12, updated_at = CURRENT_TIMESTAMP WHERE api = 'v1' AND imp_uid = $13"),
    event: S('event', "INSERT INTO portone_events (api, imp_uid, merchant_uid, outcome, created_at) VALUES ('v1', $1, $2, $3, CURRENT_TIMESTAMP) ON CONFLICT (api, imp_uid, outcome) DO NOTHING"),
    shop: S('shop', 'UPDATE shop_orders SET state = $1, paid_imp_uid = $2, updates = updates + 1 WHERE order_no = $3'),
    paid: S('paid', "UPDATE portone_orders SET paid_imp_uid = $1, paid_api = 'v1' WHERE order_key = $2 AND merchant_uid = $3"),
  };
  const run = (c, s, values) => c.query({ name: s.name, text: s.text, values });
  return {
    async load(pay) {
      const c = await pool.connect();
      try {
        const [o, cur] = await Promise.all([run(c, q.order, [pay.merchant_uid]), run(c, q.current, [pay.imp_uid])]);
        return { order: o.rows[0], cur: cur.rows[0] };
      } finally { c.release(); }
    },
    async record(pay, outcome) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await run(c, q.lock, [ORDER_KEY, pay.merchant_uid]);
        const st = (await run(c, q.state, [ORDER_KEY, pay.merchant_uid])).rows[0];
        const cur = (await run(c, q.currentLocked, [pay.imp_uid])).rows[0];
        if (!changes(cur, outcome, pay.cancel_amount)) { await c.query('COMMIT'); return cur.outcome; }
        const cols = [pay.status, outcome, String(pay.amount), String(pay.cancel_amount || 0), pay.currency,
                      pay.pay_method, pay.paid_at, pay.vbank_num, pay.vbank_name, pay.vbank_date, JSON.stringify(pay)];
        if (cur) await run(c, q.update, [pay.merchant_uid, ...cols, pay.imp_uid]);
        else await run(c, q.insert, [pay.imp_uid, pay.merchant_uid, ...cols]);
        await run(c, q.event, [pay.imp_uid, pay.merchant_uid, outcome]);
        const payer = st && st.paid_imp_uid;
        if (outcome === 'paid' && (!payer || payer === pay.imp_uid)) {
          await run(c, q.shop, [outcome, pay.imp_uid, pay.merchant_uid]);
          if (payer !== pay.imp_uid) await run(c, q.paid, [pay.imp_uid, ORDER_KEY, pay.merchant_uid]);
        }
        await c.query('COMMIT');
        return outcome;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      } finally { c.release(); }
    },
  };
}

const store = DB.startsWith('sqlite:') ? sqliteStore(DB.slice(7)) : pgStore(DB);

// ---------------------------------------------------------------- handler
const ID = /^[\x21-\x7e]{1,40}$/;
const MESSAGES = { paid: '일반 결제 성공', forgery: '위조된 결제시도', vbank_issued: '가상계좌 발급 성공',
                   cancelled: '결제 취소', failed: '결제 실패', pending: '결제 대기' };
const STATUS = { paid: 'success', forgery: 'forgery', vbank_issued: 'vbankIssued',
                 cancelled: 'cancelled', failed: 'failed', pending: 'pending' };

fastify.post('/payments/complete', async (req, reply) => {
  const b = req.body;
  if (!b || typeof b.imp_uid !== 'string' || typeof b.merchant_uid !== 'string'
      || !ID.test(b.imp_uid) || !ID.test(b.merchant_uid)) {
    return reply.code(400).send({ status: 'error', code: 'invalid_request' });
  }
  let r, j;
  try {
    const t = await getToken();
    r = await portone.request({ path: '/payments/' + encodeURIComponent(b.imp_uid), method: 'GET',
                                headers: { authorization: 'Bearer ' + t } });
    j = await r.body.json();
  } catch (e) {
    return reply.code(502).send({ status: 'error', code: 'upstream_error' });
  }
  if (r.statusCode === 404) return reply.code(404).send({ status: 'error', code: 'payment_not_found' });
  const pay = j && j.code === 0 && j.response;
  if (r.statusCode !== 200 || !pay || pay.imp_uid !== b.imp_uid || typeof pay.merchant_uid !== 'string')
    return reply.code(502).send({ status: 'error', code: 'upstream_error' });
  const { order, cur } = await store.load(pay);
  if (!order) return reply.code(404).send({ status: 'error', code: 'order_not_found' });
  let outcome = decide(pay, order);
  if (!outcome) return reply.code(502).send({ status: 'error', code: 'upstream_error' });
  if (pay.merchant_uid !== b.merchant_uid) outcome = 'forgery';
  let recorded = outcome;
  if (changes(cur, outcome, pay.cancel_amount)) recorded = await store.record(pay, outcome);
  else if (cur) recorded = cur.outcome;
  return reply.code(200).send({ status: STATUS[recorded], message: MESSAGES[recorded],
                                imp_uid: pay.imp_uid, merchant_uid: pay.merchant_uid });
});

fastify.listen({ port: PORT, host: '127.0.0.1' }).catch((e) => { console.error(e); process.exit(1); });
