#include "pv_store.h"

#include <apr_strings.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The module's own SQL. A verification reads the payment's record inside a
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

#define PV_ORDER_ROW "WHERE order_key = :order_key AND merchant_uid = :merchant_uid"

static const char *const sql_templates[PV_STMT_COUNT] = {
    [PV_STMT_INSERT] =
        "INSERT INTO portone_payments (imp_uid, merchant_uid, status, outcome, "
        "amount, cancel_amount, currency, pay_method, paid_at, vbank_num, "
        "vbank_name, vbank_date, response, updated_at) VALUES (:imp_uid, "
        ":merchant_uid, :status, :outcome, CAST(:amount AS {N}), "
        "CAST(:cancel_amount AS {N}), :currency, :pay_method, "
        "CAST(:paid_at AS {B}), :vbank_num, :vbank_name, "
        "CAST(:vbank_date AS {B}), :response, CURRENT_TIMESTAMP)",
    [PV_STMT_UPDATE] =
        "UPDATE portone_payments SET " PV_COLUMNS " WHERE imp_uid = :imp_uid",
    [PV_STMT_EVENT] =
        "INSERT INTO portone_events (imp_uid, merchant_uid, outcome, created_at) "
        "VALUES (:imp_uid, :merchant_uid, :outcome, CURRENT_TIMESTAMP) {DUPE}",
    [PV_STMT_CURRENT] =
        "SELECT outcome, cancel_amount FROM portone_payments "
        "WHERE imp_uid = :imp_uid",
    [PV_STMT_CURRENT_LOCKED] =
        "SELECT outcome, cancel_amount FROM portone_payments "
        "WHERE imp_uid = :imp_uid {FOR_UPDATE}",
    [PV_STMT_ORDER_LOCK] =
        "INSERT INTO portone_orders (order_key, merchant_uid, updated_at) "
        "VALUES (:order_key, :merchant_uid, CURRENT_TIMESTAMP) {LOCKDUP}",
    [PV_STMT_ORDER_STATE] =
        "SELECT paid_imp_uid FROM portone_orders " PV_ORDER_ROW " {FOR_UPDATE}",
    [PV_STMT_ORDER_PAID] =
        "UPDATE portone_orders SET paid_imp_uid = :imp_uid " PV_ORDER_ROW,
    [PV_STMT_ORDER_UNPAID] =
        "UPDATE portone_orders SET paid_imp_uid = NULL " PV_ORDER_ROW,
};

#define PV_SUBSTS 5

static const char *const sqlite_sql[PV_SUBSTS][2] = {
    {"{N}", "NUMERIC"}, {"{B}", "BIGINT"},
    {"{DUPE}", "ON CONFLICT (imp_uid, outcome) DO NOTHING"},
    /* SQLite's writers are serialised: the row only has to exist */
    {"{LOCKDUP}", "ON CONFLICT (order_key, merchant_uid) DO NOTHING"},
    {" {FOR_UPDATE}", ""}
};

/* DO UPDATE locks the row also when another transaction inserted it */
static const char *const pgsql_sql[PV_SUBSTS][2] = {
    {"{N}", "NUMERIC"}, {"{B}", "BIGINT"},
    {"{DUPE}", "ON CONFLICT (imp_uid, outcome) DO NOTHING"},
    {"{LOCKDUP}", "ON CONFLICT (order_key, merchant_uid) DO UPDATE SET "
                  "updated_at = EXCLUDED.updated_at"},
    {"{FOR_UPDATE}", "FOR UPDATE"}
};

/* MySQL/MariaDB: ON DUPLICATE KEY UPDATE takes the row's exclusive lock */
static const char *const mysql_sql[PV_SUBSTS][2] = {
    {"{N}", "DECIMAL(20,4)"}, {"{B}", "SIGNED"},
    {"{DUPE}", "ON DUPLICATE KEY UPDATE id = id"},
    {"{LOCKDUP}", "ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP"},
    {"{FOR_UPDATE}", "FOR UPDATE"}
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
    "order_state", "order_paid", "order_unpaid"
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

/* SQLite: the statements run on the connection itself, not through apr_dbd.
 * apr_dbd_sqlite3 holds one mutex per process around every call, so that
 * the request threads of a process would read their orders one at a time,
 * and copies every result row into the request's pool; its legacy prepare
 * also fails for good after a schema change. sqlite3_prepare_v3 statements,
 * prepared on a connection's first use of them, re-prepare themselves. They
 * are cached per connection by label, the same key as mod_dbd's: two scopes
 * with different SQL never share one. (The library is thread-safe; a
 * connection is one request's at a time.) */
struct pv_native {
    sqlite3 *conn;
    apr_hash_t *stmts;          /* label -> sqlite3_stmt */
};

#define PV_NATIVE_KEY "portone_verify_native"
#define PV_MYSQL_KEY "portone_verify_read_committed"

/* Runs before mod_dbd's cleanup that closes the connection (registered
 * later, so run first). */
static apr_status_t native_finalize(void *data)
{
    pv_native_t *n = data;
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, n->stmts); hi; hi = apr_hash_next(hi)) {
        void *st;

        apr_hash_this(hi, NULL, NULL, &st);
        sqlite3_finalize(st);
    }
    apr_hash_clear(n->stmts);
    return APR_SUCCESS;
}

void pv_store_attach(pv_db_t *db)
{
    const char *name = apr_dbd_name(db->driver);
    pv_native_t *n = NULL;

    db->native = NULL;
    db->pg = NULL;
    if (!strcmp(name, "pgsql"))
        db->pg = apr_dbd_native_handle(db->driver, db->handle);
    if (!strcmp(name, "mysql")) {
        /* InnoDB's default REPEATABLE READ locks the gap where a payment
         * not recorded yet would go (SELECT ... FOR UPDATE), and two such
         * transactions then deadlock on their INSERTs: READ COMMITTED, as
         * PostgreSQL, locks rows only. Once per connection. */
        void *done = NULL;

        apr_pool_userdata_get(&done, PV_MYSQL_KEY, db->pool);
        if (!done) {
            int rows;

            if (apr_dbd_query(db->driver, db->handle, &rows,
                              "SET SESSION TRANSACTION ISOLATION LEVEL "
                              "READ COMMITTED") == 0)
                apr_pool_userdata_setn(db->pool, PV_MYSQL_KEY, NULL, db->pool);
        }
        return;
    }
    if (strcmp(name, "sqlite3"))
        return;
    apr_pool_userdata_get((void **)&n, PV_NATIVE_KEY, db->pool);
    if (!n) {
        n = apr_pcalloc(db->pool, sizeof(*n));
        n->conn = apr_dbd_native_handle(db->driver, db->handle);
        n->stmts = apr_hash_make(db->pool);
        /* wait for the write lock inside SQLite, not in apr_dbd's 100 ms
         * sleep-and-retry loop */
        sqlite3_busy_timeout(n->conn, 10000);
        apr_pool_userdata_setn(n, PV_NATIVE_KEY, native_finalize, db->pool);
    }
    db->native = n;
}

void pv_store_values(const pv_payment_t *pay, pv_outcome outcome,
                     const char *order_key, const char **values,
                     apr_pool_t *pool)
{
    (void)pool;
    values[PV_P_MERCHANT_UID] = pay->merchant_uid;
    values[PV_P_IMP_UID] = pay->imp_uid;
    values[PV_P_OUTCOME] = pv_outcome_lookup(outcome)->name;
    values[PV_P_STATUS] = pay->status_text;
    values[PV_P_AMOUNT] = pay->amount;
    values[PV_P_CURRENCY] = pay->currency;
    values[PV_P_PAY_METHOD] = pay->pay_method;
    values[PV_P_PAID_AT] = pay->paid_at;
    values[PV_P_VBANK_NUM] = pay->vbank_num;
    values[PV_P_VBANK_NAME] = pay->vbank_name;
    values[PV_P_VBANK_DATE] = pay->vbank_date;
    values[PV_P_CANCEL_AMOUNT] = pay->cancel_amount;
    values[PV_P_RESPONSE] = pay->response_json;
    values[PV_P_OUTCOME_RANK] = NULL;       /* no statement asks for it */
    values[PV_P_ORDER_KEY] = order_key;
}

/* ------------------------------------------------------------------ steps */

/* One statement of a transaction: run with |values|, the first |ncols|
 * columns of its first row read into |cols| (NULL for SQL NULL or a
 * missing column), |found| whether it had a row. |plain| is a constant
 * statement (BEGIN, COMMIT) in a PostgreSQL pipeline. */
typedef struct {
    const pv_stmt_t *stmt;
    const char *plain;
    const char *const *values;
    int ncols;
    const char *cols[2];
    int found;
} pv_step_t;

static void step_set(pv_step_t *st, const pv_stmt_t *stmt,
                     const char *const *values, int ncols)
{
    memset(st, 0, sizeof(*st));
    st->stmt = stmt;
    st->values = values;
    st->ncols = ncols;
}

static void step_plain(pv_step_t *st, const char *sql)
{
    memset(st, 0, sizeof(*st));
    st->plain = sql;
}

static int native_step(pv_db_t *db, apr_pool_t *pool, pv_step_t *step,
                       const char **why)
{
    pv_native_t *n = db->native;
    const pv_stmt_t *s = step->stmt;
    const char *args[PV_SQL_MAX_PARAMS];
    sqlite3_stmt *st = apr_hash_get(n->stmts, s->label, APR_HASH_KEY_STRING);
    int rc = SQLITE_OK, i;

    if (!st) {
        /* apr_dbd's spelling (%s, a literal % doubled) in SQLite's (?) */
        char *sql = apr_palloc(pool, strlen(s->sql.sql) + 1), *o = sql;
        const char *p;

        for (p = s->sql.sql; *p; p++) {
            if (p[0] == '%' && (p[1] == 's' || p[1] == '%'))
                *o++ = *++p == 's' ? '?' : '%';
            else
                *o++ = *p;
        }
        *o = '\0';
        rc = sqlite3_prepare_v3(n->conn, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &st, NULL);
        if (rc == SQLITE_OK)
            apr_hash_set(n->stmts, apr_pstrdup(db->pool, s->label),
                         APR_HASH_KEY_STRING, st);
    }
    pv_sql_bind(&s->sql, step->values, args);
    for (i = 0; rc == SQLITE_OK && i < s->sql.nparams; i++)
        rc = args[i] ? sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC)
                     : sqlite3_bind_null(st, i + 1);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            for (i = 0; !step->found && i < step->ncols; i++) {
                const char *v = i < sqlite3_column_count(st)
                    ? (const char *)sqlite3_column_text(st, i) : NULL;

                step->cols[i] = v ? apr_pstrdup(pool, v) : NULL;
            }
            step->found = 1;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        *why = apr_psprintf(pool, "%s: %s", s->label, sqlite3_errmsg(n->conn));
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return rc;
}

static int dbd_step(pv_db_t *db, apr_pool_t *pool, pv_step_t *step,
                    const char **why)
{
    const pv_stmt_t *s = step->stmt;
    apr_dbd_prepared_t *stmt = apr_hash_get(db->prepared, s->label,
                                            APR_HASH_KEY_STRING);
    const char *args[PV_SQL_MAX_PARAMS];
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc, nrows;

    if (!stmt) {
        *why = apr_psprintf(pool, "statement %s is not prepared", s->label);
        return -1;
    }
    pv_sql_bind(&s->sql, step->values, args);
    if (!step->ncols) {
        rc = apr_dbd_pquery(db->driver, pool, db->handle, &nrows, stmt,
                            s->sql.nparams, args);
    }
    else {
        int k;

        /* random access (1): the whole result at once, so that a broken
         * connection is an error here and not an empty result later */
        rc = apr_dbd_pselect(db->driver, pool, db->handle, &res, stmt, 1,
                             s->sql.nparams, args);
        /* random access numbers rows from 1 in every driver; reading on to
         * the end lets the drivers release the result */
        for (k = 1; !rc && apr_dbd_get_row(db->driver, pool, res, &row, k) == 0;
             k++) {
            int i;

            for (i = 0; k == 1 && i < step->ncols
                 && i < apr_dbd_num_cols(db->driver, res); i++) {
                const char *v = NULL;

                /* not apr_dbd_get_entry: pgsql gives "" for NULL there */
                if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING,
                                      &v) != APR_SUCCESS)
                    v = NULL;
                step->cols[i] = v ? apr_pstrdup(pool, v) : NULL;
            }
            step->found = 1;
        }
    }
    if (rc) {
        const char *msg = apr_dbd_error(db->driver, db->handle, rc);

        *why = apr_psprintf(pool, "%s: %s", s->label,
                            msg ? msg : "unknown database error");
    }
    return rc;
}

/* PostgreSQL: libpq's pipeline sends statements without waiting for their
 * answers, which are read back at a sync point: one round trip for all the
 * steps (the statements are those apr_dbd prepared, by their labels). */
static int pg_steps(pv_db_t *db, apr_pool_t *pool, pv_step_t *steps, int n,
                    const char **why)
{
    PGconn *pg = db->pg;
    int i, sent = 0, got = 0, rc = 0;

    if (PQenterPipelineMode(pg) != 1) {
        *why = apr_pstrdup(pool, PQerrorMessage(pg));
        return -1;
    }
    for (i = 0; i < n; i++, sent++) {
        const pv_stmt_t *s = steps[i].stmt;
        int ok;

        if (!s) {
            ok = PQsendQueryParams(pg, steps[i].plain, 0, NULL, NULL, NULL,
                                   NULL, 0);
        }
        else {
            const char *args[PV_SQL_MAX_PARAMS];

            pv_sql_bind(&s->sql, steps[i].values, args);
            ok = PQsendQueryPrepared(pg, s->label, s->sql.nparams, args, NULL,
                                     NULL, 0);
        }
        if (ok != 1) {
            rc = -1;
            *why = apr_pstrdup(pool, PQerrorMessage(pg));
            break;
        }
    }
    if (PQpipelineSync(pg) != 1) {
        if (!rc)
            *why = apr_pstrdup(pool, PQerrorMessage(pg));
        rc = -1;
    }
    else {
        int ends = 0;

        for (;;) {
            PGresult *res = PQgetResult(pg);
            ExecStatusType st;

            if (!res) {             /* the end of one statement's results */
                if (++ends > sent) {    /* and no sync point: the link broke */
                    if (!rc)
                        *why = apr_pstrdup(pool, PQerrorMessage(pg));
                    rc = -1;
                    break;
                }
                continue;
            }
            st = PQresultStatus(res);
            if (st == PGRES_PIPELINE_SYNC) {
                PQclear(res);
                break;
            }
            if ((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) && got < sent) {
                pv_step_t *step = &steps[got];

                step->found = PQntuples(res) > 0;
                for (i = 0; i < step->ncols; i++)
                    step->cols[i] = step->found && i < PQnfields(res)
                        && !PQgetisnull(res, 0, i)
                        ? apr_pstrdup(pool, PQgetvalue(res, 0, i)) : NULL;
            }
            else if (!rc) {     /* later ones say PGRES_PIPELINE_ABORTED */
                rc = -1;
                *why = apr_pstrdup(pool, PQresultErrorMessage(res));
            }
            got++;
            PQclear(res);
        }
    }
    if (!rc && got != sent) {
        rc = -1;
        *why = "the database answered another number of statements";
    }
    if (PQexitPipelineMode(pg) != 1) {
        /* results still pending: of no use to apr_dbd any more; it starts
         * afresh (pv_store_recover prepares the statements again) */
        if (!rc)
            *why = apr_pstrdup(pool, PQerrorMessage(pg));
        PQreset(pg);
        rc = -1;
    }
    return rc;
}

/* Runs |n| steps: in one round trip on PostgreSQL, one by one elsewhere. 0
 * when every one succeeded; else the first error is in |*why|. */
static int run_steps(pv_db_t *db, apr_pool_t *pool, pv_step_t *steps, int n,
                     const char **why)
{
    int i, rc = 0;

    if (n == 0)
        return 0;
    if (db->pg)
        return pg_steps(db, pool, steps, n, why);
    for (i = 0; !rc && i < n; i++)
        rc = db->native ? native_step(db, pool, &steps[i], why)
                        : dbd_step(db, pool, &steps[i], why);
    return rc;
}

static int pg_exec(PGconn *pg, apr_pool_t *pool, const char *sql,
                   const char **why)
{
    PGresult *res = PQexec(pg, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

    if (rc)
        *why = apr_psprintf(pool, "%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

static pv_outcome outcome_of(const char *name)
{
    return pv_outcome_from_name(name);
}

pv_err pv_store_load_order(const pv_store_t *store, const pv_scope_t *scope,
                           pv_db_t *db, apr_pool_t *pool,
                           const char *const *values, pv_order_t *order,
                           int *found, pv_record_t *prior, const char **why)
{
    pv_step_t steps[2];

    step_set(&steps[0], scope->order, values, 2);
    step_set(&steps[1], &store->stmt[PV_STMT_CURRENT], values, 2);
    if (run_steps(db, pool, steps, 2, why))
        return PV_E_DATABASE_UNAVAILABLE;
    *found = steps[0].found;
    order->amount = steps[0].cols[0];
    order->currency = steps[0].cols[1];
    prior->found = steps[1].found;
    prior->outcome = outcome_of(steps[1].cols[0]);
    prior->cancel_amount = steps[1].cols[1];
    return PV_OK;
}

/* ----------------------------------------------------------- transactions */

/* SQLite's BEGIN, COMMIT and ROLLBACK go to the connection itself: these
 * are the calls that wait, for the disk (COMMIT syncs the WAL) or for
 * another program's write lock (the busy timeout). */
static int sqlite_exec(pv_db_t *db, apr_pool_t *pool, const char *sql,
                       const char **why)
{
    sqlite3 *conn = db->native->conn;
    int rc = sqlite3_exec(conn, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        *why = apr_psprintf(pool, "%s: %s", sql, sqlite3_errmsg(conn));
    return rc;
}

/* BEGIN, where it is not a step of the PostgreSQL pipeline. */
static int txn_begin(pv_db_t *db, apr_pool_t *pool, apr_dbd_transaction_t **txn,
                     const char **why)
{
    int rc;

    *txn = NULL;
    if (db->native)
        return sqlite_exec(db, pool, "BEGIN IMMEDIATE", why);
    rc = apr_dbd_transaction_start(db->driver, pool, db->handle, txn);
    if (rc) {
        *why = apr_psprintf(pool, "cannot begin a transaction: %s",
                            apr_dbd_error(db->driver, db->handle, rc));
        if (*txn)
            apr_dbd_transaction_end(db->driver, pool, *txn);
    }
    return rc;
}

/* COMMIT, or ROLLBACK when |rc| says a statement failed; the result. */
static int txn_end(pv_db_t *db, apr_pool_t *pool, apr_dbd_transaction_t *txn,
                   int rc, const char **why)
{
    const char *ignored;

    if (db->pg) {               /* COMMIT was the pipeline's last step */
        if (PQtransactionStatus(db->pg) != PQTRANS_IDLE)
            pg_exec(db->pg, pool, "ROLLBACK", &ignored);
        return rc;
    }
    if (db->native) {
        if (!rc && (rc = sqlite_exec(db, pool, "COMMIT", why)) == SQLITE_OK)
            return 0;
        /* a failed COMMIT can leave the transaction open */
        if (!sqlite3_get_autocommit(db->native->conn))
            sqlite_exec(db, pool, "ROLLBACK", &ignored);
        return rc;
    }
    if (rc)
        apr_dbd_transaction_mode_set(db->driver, txn,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    if (apr_dbd_transaction_end(db->driver, pool, txn) && !rc) {
        rc = -1;
        *why = apr_psprintf(pool, "commit failed: %s",
                            apr_dbd_error(db->driver, db->handle, rc));
    }
    return rc;
}

/* ------------------------------------------------------------- recording */

typedef enum { PV_ITEM_QUEUED, PV_ITEM_DONE, PV_ITEM_ALONE } pv_item_state;

/* One verification to record, alone or in a group's batch. */
typedef struct pv_item {
    const pv_scope_t *scope;
    const char *const *values;
    pv_outcome outcome;
    apr_pool_t *pool;           /* its request's; its thread waits meanwhile */
    pv_result_t res;
    /* the order's payer and the payment's record once this item is done,
     * for the items after it in the same transaction */
    const char *paid_by;
    pv_record_t after;
    pv_stmt_id payer_write;     /* ORDER_PAID, ORDER_UNPAID or COUNT: none */
    int seq;                    /* its place in the group's queue */
    /* the group's */
    apr_thread_cond_t *wake;
    int rc;
    const char *why;
    pv_item_state state;
    struct pv_item *next;
} pv_item;

static int same_order(const pv_item *a, const pv_item *b)
{
    return !strcmp(a->values[PV_P_ORDER_KEY], b->values[PV_P_ORDER_KEY])
        && !strcmp(a->values[PV_P_MERCHANT_UID], b->values[PV_P_MERCHANT_UID]);
}

static int same_payment(const pv_item *a, const pv_item *b)
{
    return !strcmp(a->values[PV_P_IMP_UID], b->values[PV_P_IMP_UID]);
}

/* Decides item |i| from what the transaction read, seen through the items
 * before it in the batch (they have not written yet). */
static void decide(pv_item **items, int i, const pv_step_t *state,
                   const pv_step_t *cur)
{
    pv_item *it = items[i];
    const char *imp_uid = it->values[PV_P_IMP_UID];
    const char *paid_by = state->found ? state->cols[0] : NULL;
    pv_record_t prior = {cur->found, outcome_of(cur->cols[0]), cur->cols[1]};
    const pv_outcome_info *info = pv_outcome_lookup(it->outcome);
    int j, changed, moves;

    for (j = i - 1; j >= 0; j--)
        if (same_order(items[j], it)) {
            paid_by = items[j]->paid_by;
            break;
        }
    for (j = i - 1; j >= 0; j--)
        if (same_payment(items[j], it)) {
            prior = items[j]->after;
            break;
        }
    it->res.action = pv_transition(&prior, it->outcome,
                                   it->values[PV_P_CANCEL_AMOUNT]);
    changed = it->res.action == PV_ACT_INSERT
              || it->res.action == PV_ACT_ADVANCE;
    moves = pv_order_moves(it->outcome, imp_uid, paid_by);
    it->res.order_moved = changed && moves && it->scope->order_update;
    it->res.order_kept = changed && info->updates_order && !moves;
    it->paid_by = changed ? pv_order_payer(it->outcome, imp_uid, paid_by)
                          : paid_by;
    if (it->res.action == PV_ACT_NONE) {
        it->res.recorded = prior.outcome;
        it->after = prior;
    }
    else {
        it->res.recorded = it->outcome;
        it->after.found = 1;
        it->after.outcome = it->outcome;
        it->after.cancel_amount = it->values[PV_P_CANCEL_AMOUNT];
    }
    if (it->paid_by == paid_by
        || (it->paid_by && paid_by && !strcmp(it->paid_by, paid_by)))
        it->payer_write = PV_STMT_COUNT;
    else
        it->payer_write = it->paid_by ? PV_STMT_ORDER_PAID : PV_STMT_ORDER_UNPAID;
}

/* The writes of a decided item, appended at |steps|; their number. */
static int writes(const pv_store_t *store, pv_item *it, pv_step_t *steps)
{
    const pv_outcome_info *info = pv_outcome_lookup(it->outcome);
    int k = 0, changed = it->res.action == PV_ACT_INSERT
                         || it->res.action == PV_ACT_ADVANCE;

    if (it->res.action == PV_ACT_INSERT)
        step_set(&steps[k++], &store->stmt[PV_STMT_INSERT], it->values, 0);
    else if (it->res.action != PV_ACT_NONE)
        step_set(&steps[k++], &store->stmt[PV_STMT_UPDATE], it->values, 0);
    if (changed && info->writes_event)
        step_set(&steps[k++], &store->stmt[PV_STMT_EVENT], it->values, 0);
    if (it->res.order_moved)
        step_set(&steps[k++], it->scope->order_update, it->values, 0);
    if (it->payer_write != PV_STMT_COUNT)
        step_set(&steps[k++], &store->stmt[it->payer_write], it->values, 0);
    return k;
}

#define PV_READS 3              /* per item: lock, order state, payment */
#define PV_WRITES 4             /* per item, at most */

/* Records |n| verifications in one transaction: the reads of all (order
 * rows locked in the batch's order), the decisions, the writes of all, the
 * commit. On PostgreSQL that is two round trips. 0, or an error in |*why|
 * with everything rolled back. */
static int record_batch(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                        pv_item **items, int n, const char **why)
{
    pv_step_t *steps = apr_palloc(pool, sizeof(*steps)
                                  * (size_t)(n * PV_WRITES + 1));
    pv_step_t *reads = apr_palloc(pool, sizeof(*reads)
                                  * (size_t)(n * PV_READS + 1));
    apr_dbd_transaction_t *txn = NULL;
    int i, k = 0, rc;

    if (db->pg)
        step_plain(&reads[k++], "BEGIN");
    else if ((rc = txn_begin(db, pool, &txn, why)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        step_set(&reads[k++], &store->stmt[PV_STMT_ORDER_LOCK],
                 items[i]->values, 0);
        step_set(&reads[k++], &store->stmt[PV_STMT_ORDER_STATE],
                 items[i]->values, 1);
        step_set(&reads[k++], &store->stmt[PV_STMT_CURRENT_LOCKED],
                 items[i]->values, 2);
    }
    rc = run_steps(db, pool, reads, k, why);
    if (!rc) {
        int base = db->pg ? 1 : 0;

        for (i = 0; i < n; i++)
            decide(items, i, &reads[base + i * PV_READS + 1],
                   &reads[base + i * PV_READS + 2]);
        for (i = 0, k = 0; i < n; i++)
            k += writes(store, items[i], &steps[k]);
        if (db->pg)
            step_plain(&steps[k++], "COMMIT");
        rc = run_steps(db, pool, steps, k, why);
    }
    return txn_end(db, pool, txn, rc, why);
}

static void count_commit(const pv_store_t *store, int verifications)
{
    if (store->stats) {
        pv_stats_add(&store->stats->db_commits, 1);
        pv_stats_add(&store->stats->db_written, (apr_uint64_t)verifications);
    }
}

/* One verification in a transaction of its own. */
static int record_alone(const pv_store_t *store, pv_db_t *db, pv_item *it)
{
    int rc;

    if (store->serial)
        apr_global_mutex_lock(store->serial);
    it->why = NULL;
    rc = record_batch(store, db, it->pool, &it, 1, &it->why);
    if (store->serial)
        apr_global_mutex_unlock(store->serial);
    if (!rc)
        count_commit(store, 1);
    return rc;
}

/* Group commit (SQLite, PostgreSQL). A SQLite commit waits for the disk
 * (synchronous FULL: the WAL is synced, so a recorded payment survives a
 * power cut) and SQLite has one writer at a time, so one transaction per
 * verification caps a server at one verification per sync; on PostgreSQL
 * BEGIN and COMMIT are round trips of every verification. Instead, a writer
 * queues its verification. When no transaction of the group is running, it
 * leads: it takes the SQLite writers' mutex (waiting meanwhile for other
 * processes' transactions, while more writers queue), then the queue, its
 * own verification included, and records them all in one transaction in
 * the order of their orders (the same result as one transaction each, one
 * after the other; and transactions of several processes lock the orders
 * in the same order), commits once and wakes the others. If anything
 * fails, everything is rolled back and each verification of the batch runs
 * alone, so one bad row costs the others nothing but a retry. */
#define PV_BATCH_MAX 64

struct pv_group {
    apr_thread_mutex_t *lock;
    pv_item *head, *tail;       /* waiting for the next transaction */
    int running;                /* a transaction of the group is running */
};

apr_status_t pv_store_group_create(apr_pool_t *pool, pv_group_t **group)
{
    pv_group_t *g = apr_pcalloc(pool, sizeof(*g));
    apr_status_t rv = apr_thread_mutex_create(&g->lock,
                                              APR_THREAD_MUTEX_DEFAULT, pool);

    *group = rv == APR_SUCCESS ? g : NULL;
    return rv;
}

static int item_order(const void *a, const void *b)
{
    const pv_item *x = *(pv_item *const *)a, *y = *(pv_item *const *)b;
    int c = strcmp(x->values[PV_P_ORDER_KEY], y->values[PV_P_ORDER_KEY]);

    if (!c)
        c = strcmp(x->values[PV_P_MERCHANT_UID], y->values[PV_P_MERCHANT_UID]);
    if (!c)
        c = strcmp(x->values[PV_P_IMP_UID], y->values[PV_P_IMP_UID]);
    /* stable: one payment's verifications keep their order */
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Takes up to PV_BATCH_MAX verifications off the queue (under g->lock),
 * sorted by order. */
static int take_batch(pv_group_t *g, pv_item **batch)
{
    int n = 0;

    while (g->head && n < PV_BATCH_MAX) {
        batch[n] = g->head;
        batch[n]->seq = n;
        g->head = g->head->next;
        n++;
    }
    if (!g->head)
        g->tail = NULL;
    qsort(batch, (size_t)n, sizeof(*batch), item_order);
    return n;
}

/* The leader's part, with g->lock held on entry and on return. */
static void lead(const pv_store_t *store, pv_db_t *db, pv_item *leader)
{
    pv_group_t *g = store->group;
    pv_item *batch[PV_BATCH_MAX];
    const char *why = NULL;
    int rc, n, i;

    g->running = 1;
    apr_thread_mutex_unlock(g->lock);
    if (store->serial)
        apr_global_mutex_lock(store->serial);
    apr_thread_mutex_lock(g->lock);
    n = take_batch(g, batch);
    apr_thread_mutex_unlock(g->lock);

    rc = record_batch(store, db, leader->pool, batch, n, &why);
    if (store->serial)
        apr_global_mutex_unlock(store->serial);
    if (!rc)
        count_commit(store, n);

    apr_thread_mutex_lock(g->lock);
    /* each thread is woken once: the batch's when it is done, and the first
     * one still queued, to lead the next transaction */
    for (i = 0; i < n; i++) {
        pv_item *it = batch[i];

        if (rc && n > 1) {
            it->state = PV_ITEM_ALONE;
        }
        else {
            it->state = PV_ITEM_DONE;
            it->rc = rc;
            it->why = why;
        }
        apr_thread_cond_signal(it->wake);
    }
    g->running = 0;
    if (g->head)
        apr_thread_cond_signal(g->head->wake);
}

/* Waits for the group's transaction with |it| in it; 0 or an error. */
static int record_grouped(const pv_store_t *store, pv_db_t *db, pv_item *it)
{
    pv_group_t *g = store->group;

    if (apr_thread_cond_create(&it->wake, it->pool) != APR_SUCCESS)
        return record_alone(store, db, it);
    it->state = PV_ITEM_QUEUED;
    apr_thread_mutex_lock(g->lock);
    if (g->tail)
        g->tail->next = it;
    else
        g->head = it;
    g->tail = it;
    /* still queued while nothing runs means queued here: head is set */
    while (it->state == PV_ITEM_QUEUED) {
        if (g->running)
            apr_thread_cond_wait(it->wake, g->lock);
        else
            lead(store, db, it);
    }
    apr_thread_mutex_unlock(g->lock);
    if (it->state == PV_ITEM_ALONE)
        return record_alone(store, db, it);
    return it->rc;
}

pv_err pv_store_record(const pv_store_t *store, const pv_scope_t *scope,
                       pv_db_t *db, apr_pool_t *pool,
                       const char *const *values, pv_outcome outcome,
                       const pv_record_t *prior, pv_result_t *result,
                       const char **why)
{
    pv_item it;
    int rc;

    memset(result, 0, sizeof(*result));
    /* A repeated verification (the browser and the webhook, retries) that
     * would change nothing costs one read and no write transaction. Records
     * only move forward, so what changes nothing from the state read changes
     * nothing from a newer one either. */
    if (prior && prior->found
        && pv_transition(prior, outcome, values[PV_P_CANCEL_AMOUNT])
           == PV_ACT_NONE) {
        result->action = PV_ACT_NONE;
        result->recorded = prior->outcome;
        return PV_OK;
    }
    memset(&it, 0, sizeof(it));
    it.scope = scope;
    it.values = values;
    it.outcome = outcome;
    it.pool = pool;
    rc = store->group ? record_grouped(store, db, &it)
                      : record_alone(store, db, &it);
    if (rc) {
        *why = it.why ? it.why : "the transaction failed";
        return PV_E_DATABASE_UNAVAILABLE;
    }
    *result = it.res;
    return PV_OK;
}

apr_status_t pv_store_recover(const pv_store_t *store, const pv_scope_t *scope,
                              pv_db_t *db)
{
    const pv_stmt_t *all[PV_STMT_COUNT + 2];
    apr_dbd_prepared_t *fresh[PV_STMT_COUNT + 2] = {0};
    apr_pool_t *stmts, *old = NULL;
    int id, n = 0;

    if (apr_dbd_check_conn(db->driver, db->pool, db->handle) != APR_SUCCESS)
        return APR_EGENERAL;
    if (db->native)
        return APR_SUCCESS;     /* SQLite re-prepares its own statements */
    for (id = 0; id < PV_STMT_COUNT; id++)
        all[n++] = &store->stmt[id];
    all[n++] = scope->order;
    if (scope->order_update)
        all[n++] = scope->order_update;
    /* Prepare all of them again in a pool of their own, swapped in only when
     * every one prepared (on PostgreSQL, PREPARE fails with "already exists"
     * when nothing was lost). */
    if (apr_pool_create(&stmts, db->pool) != APR_SUCCESS)
        return APR_EGENERAL;
    for (id = 0; id < n; id++) {
        if (apr_dbd_prepare(db->driver, stmts, db->handle, all[id]->sql.sql,
                            all[id]->label, &fresh[id])) {
            apr_pool_destroy(stmts);
            return APR_SUCCESS;
        }
    }
    for (id = 0; id < n; id++)
        apr_hash_set(db->prepared, all[id]->label, APR_HASH_KEY_STRING,
                     fresh[id]);
    apr_pool_userdata_get((void **)&old, "portone_verify_stmts", db->pool);
    apr_pool_userdata_setn(stmts, "portone_verify_stmts", NULL, db->pool);
    if (old)
        apr_pool_destroy(old);
    return APR_SUCCESS;
}
