/* The module's own SQL and its dialects: the statements of the recording
 * transaction (pv_store.c), prepared once per driver by pv_store_init. */
#include "pv_store.h"

#include <apr_strings.h>
#include <string.h>

/* The module's own SQL. A payment is named by (api, imp_uid), api "v1" or
 * "v2" (:api, pv_store_values): a V1 and a V2 payment with the same id text
 * are two payments. An order is named by (order_key, merchant_uid) for both
 * APIs (the same order id is the same order), its payer by (paid_api,
 * paid_imp_uid). A verification reads the payment's record inside a
 * transaction that first locks its order's row in portone_orders, decides
 * in C what changes (pv_transition, pv_order_moves: decided from the data,
 * never from a driver's count of affected rows, which MySQL's
 * CLIENT_FOUND_ROWS changes), then writes. The payments of one order are so
 * decided one after the other in every process and server; the payment's
 * row is also read FOR UPDATE, for a payment verified through two scopes.
 * {N}, {B}, {DUPE}, {LOCKDUP} and {FOR_UPDATE} stand for what the dialects
 * spell differently (see dialects[] below). */
#define PV_COLUMNS \
    "merchant_uid = :merchant_uid, status = :status, outcome = :outcome, " \
    "amount = CAST(:amount AS {N}), " \
    "cancel_amount = CAST(:cancel_amount AS {N}), currency = :currency, " \
    "pay_method = :pay_method, paid_at = CAST(:paid_at AS {B}), " \
    "vbank_num = :vbank_num, vbank_name = :vbank_name, " \
    "vbank_date = CAST(:vbank_date AS {B}), response = :response, " \
    "updated_at = CURRENT_TIMESTAMP"

#define PV_PAYMENT_ROW "WHERE api = :api AND imp_uid = :imp_uid"

/* The refund column as the decisions read it: a claim older than
 * {STALE} (two hours: a cancel takes at most PortOneTimeout, 3600 s at
 * most, before its answer is recorded) reads 'claimed-stale'
 * (PV_REFUND_STALE), a claim that no process will settle */
#define PV_REFUND_READ \
    "CASE WHEN refund = 'claimed' AND updated_at <= {STALE} " \
    "THEN 'claimed-stale' ELSE refund END"
#define PV_ORDER_ROW "WHERE order_key = :order_key AND merchant_uid = :merchant_uid"

static const char *const sql_templates[PV_STMT_COUNT] = {
    [PV_STMT_INSERT] =
        "INSERT INTO portone_payments (api, imp_uid, merchant_uid, status, "
        "outcome, amount, cancel_amount, currency, pay_method, paid_at, "
        "vbank_num, vbank_name, vbank_date, response, updated_at) VALUES "
        "(:api, :imp_uid, :merchant_uid, :status, :outcome, "
        "CAST(:amount AS {N}), CAST(:cancel_amount AS {N}), :currency, "
        ":pay_method, CAST(:paid_at AS {B}), :vbank_num, :vbank_name, "
        "CAST(:vbank_date AS {B}), :response, CURRENT_TIMESTAMP)",
    [PV_STMT_UPDATE] =
        "UPDATE portone_payments SET " PV_COLUMNS " " PV_PAYMENT_ROW,
    [PV_STMT_EVENT] =
        "INSERT INTO portone_events (api, imp_uid, merchant_uid, outcome, "
        "created_at) VALUES (:api, :imp_uid, :merchant_uid, :outcome, "
        "CURRENT_TIMESTAMP) {DUPE}",
    [PV_STMT_CURRENT] =
        "SELECT outcome, cancel_amount, " PV_REFUND_READ
        " FROM portone_payments " PV_PAYMENT_ROW,
    [PV_STMT_CURRENT_LOCKED] =
        "SELECT outcome, cancel_amount, " PV_REFUND_READ
        " FROM portone_payments " PV_PAYMENT_ROW " {FOR_UPDATE}",
    [PV_STMT_ORDER_LOCK] =
        "INSERT INTO portone_orders (order_key, merchant_uid, updated_at) "
        "VALUES (:order_key, :merchant_uid, CURRENT_TIMESTAMP) {LOCKDUP}",
    [PV_STMT_ORDER_STATE] =
        "SELECT paid_imp_uid, paid_api FROM portone_orders " PV_ORDER_ROW
        " {FOR_UPDATE}",
    [PV_STMT_ORDER_PAID] =
        "UPDATE portone_orders SET paid_imp_uid = :imp_uid, paid_api = :api "
        PV_ORDER_ROW,
    [PV_STMT_ORDER_UNPAID] =
        "UPDATE portone_orders SET paid_imp_uid = NULL " PV_ORDER_ROW,
    /* PortOneCancelForgery: the claim is written in the transaction that
     * read the row locked and found no claim (pv_refund_claims); done and
     * undo run after PortOne answered, each in a short transaction */
    [PV_STMT_REFUND_CLAIM] =
        "UPDATE portone_payments SET refund = 'claimed', "
        "updated_at = CURRENT_TIMESTAMP " PV_PAYMENT_ROW,
    [PV_STMT_REFUND_DONE] =
        "UPDATE portone_payments SET refund = 'refunded', "
        "updated_at = CURRENT_TIMESTAMP " PV_PAYMENT_ROW,
    [PV_STMT_REFUND_UNDO] =
        "UPDATE portone_payments SET refund = NULL, "
        "updated_at = CURRENT_TIMESTAMP " PV_PAYMENT_ROW
        " AND refund = 'claimed'",
    [PV_STMT_REFUND_UNANSWERED] =
        "UPDATE portone_payments SET refund = 'unanswered', "
        "updated_at = CURRENT_TIMESTAMP " PV_PAYMENT_ROW
        " AND refund = 'claimed'",

    /* portone-reconcile: the scope's payments still waiting (its orders are
     * those of its order query: their portone_orders rows), at least
     * :older_than seconds since the row last changed, by the database's
     * clock; at most PV_RECONCILE_LIMIT_MAX (1000) */
    [PV_STMT_RECONCILE] =
        "SELECT p.api, p.imp_uid FROM portone_payments p "
        "WHERE p.outcome IN ('pending', 'vbank_issued') "
        "AND p.updated_at <= {OLDER} AND EXISTS (SELECT 1 FROM "
        "portone_orders o WHERE o.order_key = :order_key "
        "AND o.merchant_uid = p.merchant_uid) "
        "ORDER BY p.updated_at DESC, p.api, p.imp_uid LIMIT 1000",
};

#define PV_SUBSTS 7

static const char *const sqlite_sql[PV_SUBSTS][2] = {
    {"{N}", "NUMERIC"}, {"{B}", "BIGINT"},
    {"{DUPE}", "ON CONFLICT (api, imp_uid, outcome) DO NOTHING"},
    /* SQLite's writers are serialised: the row only has to exist */
    {"{LOCKDUP}", "ON CONFLICT (order_key, merchant_uid) DO NOTHING"},
    {" {FOR_UPDATE}", ""},
    /* updated_at is CURRENT_TIMESTAMP's text, UTC */
    {"{OLDER}", "datetime('now', '-' || CAST(:older_than AS INTEGER) "
                "|| ' seconds')"},
    {"{STALE}", "datetime('now', '-7200 seconds')"}
};

/* DO UPDATE locks the row also when another transaction inserted it */
static const char *const pgsql_sql[PV_SUBSTS][2] = {
    {"{N}", "NUMERIC"}, {"{B}", "BIGINT"},
    {"{DUPE}", "ON CONFLICT (api, imp_uid, outcome) DO NOTHING"},
    {"{LOCKDUP}", "ON CONFLICT (order_key, merchant_uid) DO UPDATE SET "
                  "updated_at = EXCLUDED.updated_at"},
    {"{FOR_UPDATE}", "FOR UPDATE"},
    {"{OLDER}", "CURRENT_TIMESTAMP - CAST(:older_than AS INTEGER) "
                "* INTERVAL '1 second'"},
    {"{STALE}", "CURRENT_TIMESTAMP - INTERVAL '7200 seconds'"}
};

/* MySQL/MariaDB: ON DUPLICATE KEY UPDATE takes the row's exclusive lock */
static const char *const mysql_sql[PV_SUBSTS][2] = {
    {"{N}", "DECIMAL(20,4)"}, {"{B}", "SIGNED"},
    {"{DUPE}", "ON DUPLICATE KEY UPDATE id = id"},
    {"{LOCKDUP}", "ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP"},
    {"{FOR_UPDATE}", "FOR UPDATE"},
    {"{OLDER}", "CURRENT_TIMESTAMP - INTERVAL CAST(:older_than AS SIGNED) "
                "SECOND"},
    {"{STALE}", "CURRENT_TIMESTAMP - INTERVAL 7200 SECOND"}
};

typedef struct {
    const char *driver;
    const char *const (*subst)[2];  /* PV_SUBSTS pairs */
    int grouped;                    /* writers get a commit group */
} pv_dialect;

static const pv_dialect dialects[] = {
    {"sqlite3", sqlite_sql, 1},
    {"pgsql", pgsql_sql, 1},
    {"mysql", mysql_sql, 0},
};

static char *substitute(apr_pool_t *pool, const char *tmpl, const pv_dialect *d)
{
    char *out = apr_pstrdup(pool, tmpl);
    size_t i;

    for (i = 0; i < PV_SUBSTS; i++) {
        char *at;

        while ((at = strstr(out, d->subst[i][0])) != NULL) {
            *at = '\0';
            out = apr_pstrcat(pool, out, d->subst[i][1],
                              at + strlen(d->subst[i][0]), (char *)NULL);
        }
    }
    return out;
}

static const char *const stmt_suffix[PV_STMT_COUNT] = {
    "insert", "update", "event", "current", "current_locked", "order_lock",
    "order_state", "order_paid", "order_unpaid", "refund_claim",
    "refund_done", "refund_undo", "refund_unanswered", "reconcile"
};

const char *pv_store_init(apr_pool_t *pool, pv_store_t *store,
                          const char *driver, const char *prefix)
{
    const pv_dialect *d = NULL;
    size_t i;
    int id;

    for (i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++)
        if (!strcmp(dialects[i].driver, driver))
            d = &dialects[i];
    if (!d)
        return apr_psprintf(pool, "mod_dbd driver \"%s\" is not supported "
                            "(use sqlite3, pgsql or mysql)", driver);
    for (id = 0; id < PV_STMT_COUNT; id++) {
        const char *err = pv_sql_rewrite_dialect(pool,
                                         substitute(pool, sql_templates[id], d),
                                         1, pv_sql_dialect_of(driver),
                                         &store->stmt[id].sql);

        if (err)
            return err;
        store->stmt[id].label = apr_pstrcat(pool, prefix, stmt_suffix[id],
                                            (char *)NULL);
    }
    store->batch = d->grouped;
    return NULL;
}
