/* pv_pipeline: the answer rule, the order's default currency, and the
 * database phase as the glue drives it, through a connection provider of the
 * test's own: one that has no connection, and one that lends an in-memory
 * SQLite database (apr_dbd's sqlite3 driver) holding the module's schema
 * (conf/schema-sqlite3.sql) and a shop's order table. No server: the
 * look-up is tested only where PortOne does not answer. */
#include "check.h"

#include <apr_dbd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pv_pipeline.h"

/* ------------------------------------------------------- the answer rule */

static pv_outcome answer(pv_outcome decided, int mismatch, pv_outcome recorded)
{
    pv_decision_t dec;
    pv_result_t res;

    memset(&dec, 0, sizeof(dec));
    memset(&res, 0, sizeof(res));
    dec.outcome = decided;
    dec.claim_mismatch = mismatch;
    res.recorded = recorded;
    return pv_pipeline_answer(&dec, &res);
}

TEST(pipeline_answer_is_the_recorded_outcome)
{
    CHECK_INT_EQ(answer(PV_OUT_PAID, 0, PV_OUT_PAID), PV_OUT_PAID);
    CHECK_INT_EQ(answer(PV_OUT_VBANK_ISSUED, 0, PV_OUT_VBANK_ISSUED),
                 PV_OUT_VBANK_ISSUED);
    /* a stale look-up is answered with the newer record */
    CHECK_INT_EQ(answer(PV_OUT_PENDING, 0, PV_OUT_PAID), PV_OUT_PAID);
    CHECK_INT_EQ(answer(PV_OUT_PAID, 0, PV_OUT_CANCELLED), PV_OUT_CANCELLED);
    CHECK_INT_EQ(answer(PV_OUT_FAILED, 0, PV_OUT_FAILED), PV_OUT_FAILED);
}

TEST(pipeline_a_failed_check_is_always_answered_forgery)
{
    /* the record of a paid payment stays; the answer does not */
    CHECK_INT_EQ(answer(PV_OUT_FORGERY, 0, PV_OUT_PAID), PV_OUT_FORGERY);
    CHECK_INT_EQ(answer(PV_OUT_FORGERY, 0, PV_OUT_FORGERY), PV_OUT_FORGERY);
    /* a claim naming another order, whatever PortOne's payment is */
    CHECK_INT_EQ(answer(PV_OUT_PAID, 1, PV_OUT_PAID), PV_OUT_FORGERY);
    CHECK_INT_EQ(answer(PV_OUT_PENDING, 1, PV_OUT_PENDING), PV_OUT_FORGERY);
}

TEST(pipeline_currency_defaults_to_the_scope_then_krw)
{
    pv_pipeline_conf_t usd = {"USD", 0, 0}, none = {NULL, 0, 0};
    pv_order_t own = {"10", "JPY"}, without = {"10", NULL};

    CHECK_STR_EQ(pv_pipeline_currency(&own, &usd), "JPY");
    CHECK_STR_EQ(pv_pipeline_currency(&without, &usd), "USD");
    CHECK_STR_EQ(pv_pipeline_currency(&without, &none), "KRW");
    CHECK_STR_EQ(pv_pipeline_currency(&own, &none), "JPY");
}

/* --------------------------------------------------- connection providers */

/* The test's provider: counts the calls; lends |handle| when it has one. */
typedef struct {
    pv_dbconn_t conn;
    int opened, closed;
    const char *why;                /* given when there is no connection */
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;              /* NULL: no connection */
    apr_pool_t *pool;               /* the connection's */
    apr_hash_t *prepared;
} fake_t;

static apr_status_t fake_open(pv_dbconn_t *conn, apr_pool_t *pool, pv_db_t *db,
                              const char **why)
{
    fake_t *f = conn->baton;

    (void)pool;
    f->opened++;
    if (!f->handle) {
        *why = f->why;
        return APR_EGENERAL;
    }
    db->driver = f->driver;
    db->handle = f->handle;
    db->prepared = f->prepared;
    db->pool = f->pool;
    return APR_SUCCESS;
}

static void fake_close(pv_dbconn_t *conn, pv_db_t *db)
{
    fake_t *f = conn->baton;

    (void)db;
    f->closed++;
}

static void fake_init(fake_t *f)
{
    memset(f, 0, sizeof(*f));
    f->conn.open = fake_open;
    f->conn.close = fake_close;
    f->conn.baton = f;
}

/* A paid KRW 1000 payment imp_1 of order o1, as pv_portone gives it. */
static pv_payment_t paid(void)
{
    pv_payment_t p;

    memset(&p, 0, sizeof(p));
    p.imp_uid = "imp_1";
    p.merchant_uid = "o1";
    p.status_text = "paid";
    p.status = PV_STATUS_PAID;
    p.amount = "1000";
    p.cancel_amount = "0";
    p.currency = "KRW";
    p.pay_method = "card";
    p.paid_at = "1700000000";
    p.response_json = "{}";
    return p;
}

TEST(pipeline_without_a_connection_is_database_unavailable)
{
    pv_pipeline_conf_t conf = {NULL, 0, 0};
    pv_store_t store;
    pv_scope_t scope = {NULL, NULL, "k", NULL};
    pv_payment_t pay = paid();
    pv_verdict_t v;
    fake_t f;

    memset(&store, 0, sizeof(store));
    fake_init(&f);
    f.why = "no connection, says the test";
    CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &store, &scope,
                                    &f.conn, &v), PV_E_DATABASE_UNAVAILABLE);
    CHECK_INT_EQ(v.err, PV_E_DATABASE_UNAVAILABLE);
    CHECK_STR_EQ(v.why, "no connection, says the test");
    CHECK(v.retried == NULL);
    CHECK_STR_EQ(v.pay.imp_uid, "imp_1");       /* for the log */
    CHECK_INT_EQ(f.opened, 1);
    CHECK_INT_EQ(f.closed, 0);                  /* nothing was lent */
    /* a provider that gives no reason still leaves one for the log */
    fake_init(&f);
    CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &store, &scope,
                                    &f.conn, &v), PV_E_DATABASE_UNAVAILABLE);
    CHECK(v.why != NULL && *v.why);
}

/* A client of PortOne at a loopback |port| that never answers (V2 too with
 * |v2_secret|): every look-up times out after 300 ms. */
static pv_client_t *silent_client(apr_pool_t *pool, int port,
                                  const char *v2_secret)
{
    pv_client_conf_t cc;
    pv_client_t *client = NULL;

    memset(&cc, 0, sizeof(cc));
    cc.base_url = apr_psprintf(pool, "http://127.0.0.1:%d", port);
    cc.key = "imp_apikey";
    cc.secret = "secret";
    if (v2_secret) {
        cc.v2_base_url = cc.base_url;
        cc.v2_secret = v2_secret;
    }
    cc.timeout = apr_time_from_msec(300);
    cc.connect_timeout = apr_time_from_msec(300);
    cc.max_idle = 1;
    CHECK_INT_EQ(pv_client_global_init(pool), APR_SUCCESS);
    CHECK_INT_EQ(pv_client_create(pool, &cc, NULL, NULL, &client), APR_SUCCESS);
    return client;
}

TEST(pipeline_holds_no_connection_while_portone_does_not_answer)
{
    pv_pipeline_conf_t conf = {NULL, 0, 0};
    pv_client_t *client;
    pv_claim_t claim = {"imp_1", "o1", NULL, NULL, NULL};
    pv_store_t store;
    pv_scope_t scope = {NULL, NULL, "k", NULL};
    pv_verdict_t v;
    fake_t f;
    int port = 0, fd = check_listen_loopback(&port, 0);

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    client = silent_client(pool, port, NULL);
    memset(&store, 0, sizeof(store));
    fake_init(&f);
    if (client) {
        CHECK_INT_EQ(pv_pipeline_run(pool, &claim, &conf, client, &store,
                                     &scope, &f.conn, &v),
                     PV_E_UPSTREAM_TIMEOUT);
        CHECK(v.why != NULL);
        CHECK_INT_EQ(f.opened, 0);
    }
    close(fd);
}

/* ------------------------------------------------ an in-memory database */

typedef struct {
    fake_t f;
    pv_store_t store;
    pv_stmt_t order;
    pv_scope_t scope;
    sqlite3 *native;
} shop_t;

/* The text of |path|, or NULL. */
static char *read_text(apr_pool_t *pool, const char *path)
{
    apr_file_t *fp;
    apr_finfo_t fi;
    apr_size_t n;
    char *text = NULL;

    if (apr_file_open(&fp, path, APR_FOPEN_READ, 0, pool) != APR_SUCCESS)
        return NULL;
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, fp) == APR_SUCCESS) {
        n = (apr_size_t)fi.size;
        text = apr_palloc(pool, n + 1);
        if (apr_file_read_full(fp, text, n, &n) == APR_SUCCESS)
            text[n] = '\0';
        else
            text = NULL;
    }
    apr_file_close(fp);
    return text;
}

/* conf/schema-sqlite3.sql, from the top directory (make unit runs there)
 * or beside this file's (tests/unit/../../conf). */
static char *schema(apr_pool_t *pool)
{
    char *dir = apr_pstrdup(pool, __FILE__), *slash = strrchr(dir, '/');
    char *text = read_text(pool, "conf/schema-sqlite3.sql");

    if (!text && slash) {
        *slash = '\0';
        text = read_text(pool, apr_pstrcat(pool, dir,
                                           "/../../conf/schema-sqlite3.sql",
                                           (char *)NULL));
    }
    return text;
}

/* The module's tables and shop_orders in a fresh in-memory database, the
 * module's statements, and the scope of |order_query|. 0 when it is ready. */
static int shop_open(apr_pool_t *pool, shop_t *s, const char *order_query)
{
    const char *err = NULL, *sql = schema(pool);

    memset(s, 0, sizeof(*s));
    fake_init(&s->f);
    CHECK(sql != NULL);
    if (!sql || apr_dbd_init(pool) != APR_SUCCESS
        || apr_dbd_get_driver(pool, "sqlite3", &s->f.driver) != APR_SUCCESS
        || apr_pool_create(&s->f.pool, pool) != APR_SUCCESS
        || apr_dbd_open_ex(s->f.driver, s->f.pool, ":memory:", &s->f.handle,
                           &err) != APR_SUCCESS) {
        check_report(0, __FILE__, __LINE__, "no in-memory SQLite database: %s",
                     err ? err : "apr_dbd's sqlite3 driver is missing");
        s->f.handle = NULL;
        return -1;
    }
    s->f.prepared = apr_hash_make(s->f.pool);
    s->native = apr_dbd_native_handle(s->f.driver, s->f.handle);
    if (sqlite3_exec(s->native, sql, NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_exec(s->native, "CREATE TABLE shop_orders (order_no TEXT "
                        "PRIMARY KEY, total_price TEXT, currency TEXT)",
                        NULL, NULL, NULL) != SQLITE_OK) {
        check_report(0, __FILE__, __LINE__, "schema: %s",
                     sqlite3_errmsg(s->native));
        return -1;
    }
    err = pv_store_init(pool, &s->store, "sqlite3", "t_");
    if (!err)
        err = pv_sql_rewrite_dialect(pool, order_query, 0, PV_SQL_SQLITE,
                                     &s->order.sql);
    CHECK_STR_EQ(err, NULL);
    s->order.label = "t_order";
    s->scope.order = &s->order;
    s->scope.order_key = "k";
    return err ? -1 : 0;
}

static void shop_exec(shop_t *s, const char *sql)
{
    check_report(sqlite3_exec(s->native, sql, NULL, NULL, NULL) == SQLITE_OK,
                 __FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(s->native));
}

/* The recorded outcome of |imp_uid|; NULL when there is no record. */
static const char *recorded(apr_pool_t *pool, shop_t *s, const char *imp_uid)
{
    sqlite3_stmt *st = NULL;
    const char *out = NULL;

    if (sqlite3_prepare_v2(s->native, "SELECT outcome FROM portone_payments "
                           "WHERE imp_uid = ?", -1, &st, NULL) != SQLITE_OK)
        return "(error)";
    sqlite3_bind_text(st, 1, imp_uid, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        out = apr_pstrdup(pool, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* Statements cached on the connection go before the connection. */
static void shop_close(shop_t *s)
{
    if (!s->f.handle)
        return;
    apr_pool_destroy(s->f.pool);
    apr_dbd_close(s->f.driver, s->f.handle);
    s->f.handle = NULL;
}

#define ORDER_QUERY "SELECT total_price, currency FROM shop_orders " \
                    "WHERE order_no = :merchant_uid"

TEST(pipeline_records_and_lends_the_connection_back)
{
    pv_pipeline_conf_t conf = {NULL, 0, 0};
    pv_payment_t pay = paid();
    pv_verdict_t v;
    shop_t s;

    if (shop_open(pool, &s, ORDER_QUERY) == 0) {
        /* no order: nothing written */
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v),
                     PV_E_ORDER_NOT_FOUND);
        CHECK_STR_HAS(v.why, "o1");
        CHECK_STR_EQ(recorded(pool, &s, "imp_1"), NULL);
        shop_exec(&s, "INSERT INTO shop_orders VALUES ('o1', '1000.0', 'KRW')");
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        CHECK_INT_EQ(v.decision.outcome, PV_OUT_PAID);
        CHECK_INT_EQ(v.recorded.action, PV_ACT_INSERT);
        CHECK_INT_EQ(v.answer, PV_OUT_PAID);
        CHECK(v.why == NULL && v.retried == NULL);
        CHECK_STR_EQ(recorded(pool, &s, "imp_1"), "paid");
        /* every connection lent was given back */
        CHECK_INT_EQ(s.f.opened, 2);
        CHECK_INT_EQ(s.f.closed, 2);
    }
    shop_close(&s);
}

TEST(pipeline_an_order_without_currency_is_due_in_the_scopes)
{
    pv_pipeline_conf_t krw = {NULL, 0, 0}, usd = {"USD", 0, 0};
    pv_payment_t pay = paid();
    pv_verdict_t v;
    shop_t s;

    if (shop_open(pool, &s, "SELECT total_price FROM shop_orders "
                            "WHERE order_no = :merchant_uid") == 0) {
        shop_exec(&s, "INSERT INTO shop_orders VALUES ('o1', '1000', NULL)");
        shop_exec(&s, "INSERT INTO shop_orders VALUES ('o2', '1000', NULL)");
        /* no PortOneCurrency: KRW */
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &krw, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        CHECK_STR_EQ(v.order.currency, "KRW");
        CHECK_INT_EQ(v.answer, PV_OUT_PAID);
        /* PortOneCurrency USD: a KRW payment is a forgery */
        pay.imp_uid = "imp_2";
        pay.merchant_uid = "o2";
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o2", &usd, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        CHECK_STR_EQ(v.order.currency, "USD");
        CHECK_INT_EQ(v.decision.outcome, PV_OUT_FORGERY);
        CHECK_INT_EQ(v.answer, PV_OUT_FORGERY);
        CHECK_STR_EQ(recorded(pool, &s, "imp_2"), "forgery");
    }
    shop_close(&s);
}

TEST(pipeline_answers_forgery_but_keeps_a_recorded_paid)
{
    pv_pipeline_conf_t conf = {NULL, 0, 0};
    pv_payment_t pay = paid();
    pv_verdict_t v;
    shop_t s;

    if (shop_open(pool, &s, ORDER_QUERY) == 0) {
        shop_exec(&s, "INSERT INTO shop_orders VALUES ('o1', '1000', 'KRW')");
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        /* the shop edits the order after the payment */
        shop_exec(&s, "UPDATE shop_orders SET total_price = '2000'");
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        CHECK_INT_EQ(v.decision.outcome, PV_OUT_FORGERY);
        CHECK_INT_EQ(v.recorded.recorded, PV_OUT_PAID);
        CHECK_INT_EQ(v.answer, PV_OUT_FORGERY);
        CHECK_STR_EQ(v.order.amount, "2000");    /* for the log */
        CHECK_STR_EQ(recorded(pool, &s, "imp_1"), "paid");
        /* a stale look-up (ready) is answered with the record */
        shop_exec(&s, "UPDATE shop_orders SET total_price = '1000'");
        pay.status = PV_STATUS_READY;
        pay.status_text = "ready";
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        CHECK_INT_EQ(v.decision.outcome, PV_OUT_PENDING);
        CHECK_INT_EQ(v.answer, PV_OUT_PAID);
        /* a claim naming another order: answered forgery, recorded as is */
        pay = paid();
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o9", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        CHECK(v.decision.claim_mismatch);
        CHECK_INT_EQ(v.answer, PV_OUT_FORGERY);
        CHECK_STR_EQ(recorded(pool, &s, "imp_1"), "paid");
    }
    shop_close(&s);
}

TEST(pipeline_retries_a_database_error_once)
{
    pv_pipeline_conf_t conf = {NULL, 0, 0};
    pv_payment_t pay = paid();
    pv_verdict_t v;
    shop_t s;

    if (shop_open(pool, &s, ORDER_QUERY) == 0) {
        shop_exec(&s, "DROP TABLE shop_orders");
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v),
                     PV_E_DATABASE_UNAVAILABLE);
        CHECK_STR_HAS(v.retried, "shop_orders");
        CHECK_STR_HAS(v.why, "shop_orders");
        CHECK_INT_EQ(s.f.opened, 1);
        CHECK_INT_EQ(s.f.closed, 1);
    }
    shop_close(&s);
}

/* A V2 claim is looked up with the V2 client (not configured: no V2 look-up
 * and no connection); PortOne not answering holds no connection either. */
TEST(pipeline_v2_claim_uses_the_v2_look_up)
{
    pv_pipeline_conf_t conf = {NULL, 0, 0};
    pv_client_t *client;
    pv_claim_t claim = {NULL, NULL, NULL, NULL, "pay-1"};
    pv_store_t store;
    pv_scope_t scope = {NULL, NULL, "k", NULL};
    pv_verdict_t v;
    fake_t f;
    int port = 0, fd = check_listen_loopback(&port, 0);

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    memset(&store, 0, sizeof(store));
    client = silent_client(pool, port, NULL);
    fake_init(&f);
    if (client) {
        CHECK_INT_EQ(pv_pipeline_run(pool, &claim, &conf, client, &store,
                                     &scope, &f.conn, &v),
                     PV_E_NOT_CONFIGURED);
        CHECK_INT_EQ(f.opened, 0);
    }
    client = silent_client(pool, port, "v2secret");
    fake_init(&f);
    if (client) {
        CHECK_INT_EQ(pv_pipeline_run(pool, &claim, &conf, client, &store,
                                     &scope, &f.conn, &v),
                     PV_E_UPSTREAM_TIMEOUT);
        CHECK(v.why != NULL);
        CHECK_INT_EQ(f.opened, 0);
    }
    close(fd);
}

/* ------------------------------------------------- prepare and reconcile */

TEST(pipeline_order_for_prepare)
{
    pv_pipeline_conf_t conf = {"USD", 0, 0};
    pv_store_t store;
    pv_scope_t none = {NULL, NULL, "k", NULL};
    pv_order_t order;
    const char *why;
    fake_t f;
    shop_t s;

    memset(&store, 0, sizeof(store));
    fake_init(&f);
    CHECK_INT_EQ(pv_pipeline_order(pool, "o1", 0, &conf, &store, &none,
                                   &f.conn, &order, &why),
                 PV_E_DATABASE_UNAVAILABLE);
    CHECK(why != NULL);
    if (shop_open(pool, &s, "SELECT total_price FROM shop_orders WHERE "
                  "order_no = :merchant_uid") == 0) {
        CHECK_INT_EQ(pv_pipeline_order(pool, "o1", 0, &conf, &s.store,
                                       &s.scope, &s.f.conn, &order, &why),
                     PV_E_ORDER_NOT_FOUND);
        CHECK_STR_HAS(why, "o1");
        shop_exec(&s, "INSERT INTO shop_orders VALUES ('o1', '1000.50', NULL)");
        CHECK_INT_EQ(pv_pipeline_order(pool, "o1", 1, &conf, &s.store,
                                       &s.scope, &s.f.conn, &order, &why),
                     PV_OK);
        CHECK_STR_EQ(order.amount, "1000.50");
        CHECK_STR_EQ(order.currency, "USD");    /* the scope's */
        CHECK_INT_EQ(s.f.opened, 2);
        CHECK_INT_EQ(s.f.closed, 2);
    }
    shop_close(&s);
}

typedef struct {
    fake_t *f;
    int notes, held;    /* connections lent and not given back at a note */
} reconcile_seen_t;

static void reconcile_seen(void *baton, const pv_waiting_t *w, const char *api,
                           const pv_verdict_t *v)
{
    reconcile_seen_t *seen = baton;

    (void)w;
    (void)api;
    (void)v;
    seen->notes++;
    seen->held += seen->f->opened - seen->f->closed;
}

TEST(pipeline_reconcile_holds_no_connection_while_portone_does_not_answer)
{
    pv_pipeline_conf_t conf = {NULL, 0, 0};
    pv_reconcile_conf_t rc;
    pv_reconcile_result_t res;
    pv_payment_t pay = paid();
    pv_client_t *client;
    reconcile_seen_t seen;
    pv_verdict_t v;
    const char *why;
    shop_t s;
    int port = 0, fd = check_listen_loopback(&port, 0);

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    client = silent_client(pool, port, NULL);
    if (client && shop_open(pool, &s, ORDER_QUERY) == 0) {
        /* a virtual account issued, recorded */
        shop_exec(&s, "INSERT INTO shop_orders VALUES ('o1', '1000', 'KRW')");
        pay.status = PV_STATUS_READY;
        pay.status_text = "ready";
        pay.vbank_num = "T0309260000001";
        CHECK_INT_EQ(pv_pipeline_record(pool, &pay, "o1", &conf, NULL, &s.store,
                                        &s.scope, &s.f.conn, &v), PV_OK);
        CHECK_STR_EQ(recorded(pool, &s, "imp_1"), "vbank_issued");
        s.f.opened = s.f.closed = 0;

        memset(&rc, 0, sizeof(rc));
        rc.limit = 10;
        rc.v1 = 1;
        rc.stop_after = apr_time_now() + apr_time_from_sec(60);
        memset(&seen, 0, sizeof(seen));
        seen.f = &s.f;
        CHECK_INT_EQ(pv_pipeline_reconcile(pool, &rc, &conf, client, &s.store,
                                           &s.scope, &s.f.conn, reconcile_seen,
                                           &seen, &res, &why), PV_OK);
        /* the list on one connection, given back before PortOne is asked,
         * which never answers: failed, nothing written */
        CHECK_INT_EQ(res.checked, 1);
        CHECK_INT_EQ(res.failed, 1);
        CHECK_INT_EQ(res.changed, 0);
        CHECK_INT_EQ(s.f.opened, 1);
        CHECK_INT_EQ(s.f.closed, 1);
        CHECK_INT_EQ(seen.notes, 1);
        CHECK_INT_EQ(seen.held, 0);
        CHECK_STR_EQ(recorded(pool, &s, "imp_1"), "vbank_issued");

        /* a V2-only scope skips the V1 payment; limit 0 reads nothing */
        rc.v1 = 0;
        rc.v2 = 1;
        CHECK_INT_EQ(pv_pipeline_reconcile(pool, &rc, &conf, client, &s.store,
                                           &s.scope, &s.f.conn, NULL, NULL,
                                           &res, &why), PV_OK);
        CHECK_INT_EQ(res.checked + res.failed + res.changed, 0);
        rc.v1 = 1;
        rc.limit = 0;
        CHECK_INT_EQ(pv_pipeline_reconcile(pool, &rc, &conf, client, &s.store,
                                           &s.scope, &s.f.conn, NULL, NULL,
                                           &res, &why), PV_OK);
        CHECK_INT_EQ(res.checked, 0);

        /* time is up: nothing is looked up, the rest left for later */
        rc.limit = 10;
        rc.stop_after = apr_time_now() - 1;
        CHECK_INT_EQ(pv_pipeline_reconcile(pool, &rc, &conf, client, &s.store,
                                           &s.scope, &s.f.conn, NULL, NULL,
                                           &res, &why), PV_OK);
        CHECK_INT_EQ(res.checked, 0);
        CHECK_INT_EQ(res.skipped, 1);

        /* no connection: the list cannot be read */
        {
            apr_dbd_t *handle = s.f.handle;

            s.f.handle = NULL;
            CHECK_INT_EQ(pv_pipeline_reconcile(pool, &rc, &conf, client,
                                               &s.store, &s.scope, &s.f.conn,
                                               NULL, NULL, &res, &why),
                         PV_E_DATABASE_UNAVAILABLE);
            s.f.handle = handle;
        }
        shop_close(&s);
    }
    close(fd);
}
