#include "pv_store.h"

#include <apr_strings.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The module's own SQL. Forward-only recording is enforced by the WHERE
 * clauses, so that concurrent transactions from any process or server agree:
 * exactly one of them sees "changed". SQLite (BEGIN IMMEDIATE) serialises
 * writers; PostgreSQL and MySQL re-check the WHERE on the row that a
 * concurrent transaction committed. {N}, {B}, {I}, {DUP} and {DUPE} stand
 * for what the dialects spell differently (see dialects[] below). */
#define PV_COLUMNS \
    "merchant_uid = :merchant_uid, status = :status, outcome = :outcome, " \
    "amount = CAST(:amount AS {N}), " \
    "cancel_amount = CAST(:cancel_amount AS {N}), currency = :currency, " \
    "pay_method = :pay_method, paid_at = CAST(:paid_at AS {B}), " \
    "vbank_num = :vbank_num, vbank_name = :vbank_name, " \
    "vbank_date = CAST(:vbank_date AS {B}), response = :response, " \
    "updated_at = CURRENT_TIMESTAMP"

#define PV_RANK \
    "(CASE outcome WHEN 'pending' THEN 0 WHEN 'vbank_issued' THEN 1 " \
    "WHEN 'paid' THEN 2 ELSE 3 END)"

static const char *const sql_templates[PV_STMT_COUNT] = {
    [PV_STMT_INSERT] =
        "INSERT INTO portone_payments (imp_uid, merchant_uid, status, outcome, "
        "amount, cancel_amount, currency, pay_method, paid_at, vbank_num, "
        "vbank_name, vbank_date, response, updated_at) VALUES (:imp_uid, "
        ":merchant_uid, :status, :outcome, CAST(:amount AS {N}), "
        "CAST(:cancel_amount AS {N}), :currency, :pay_method, "
        "CAST(:paid_at AS {B}), :vbank_num, :vbank_name, "
        "CAST(:vbank_date AS {B}), :response, CURRENT_TIMESTAMP) {DUP}",
    [PV_STMT_ADVANCE] =
        "UPDATE portone_payments SET " PV_COLUMNS " WHERE imp_uid = :imp_uid "
        "AND " PV_RANK " < CAST(:outcome_rank AS {I})",
    [PV_STMT_REFRESH] =
        "UPDATE portone_payments SET " PV_COLUMNS " WHERE imp_uid = :imp_uid "
        "AND outcome = :outcome AND COALESCE(cancel_amount, 0) <= "
        "CAST(:cancel_amount AS {N})",
    [PV_STMT_EVENT] =
        "INSERT INTO portone_events (imp_uid, merchant_uid, outcome, created_at) "
        "VALUES (:imp_uid, :merchant_uid, :outcome, CURRENT_TIMESTAMP) {DUPE}",
    [PV_STMT_CURRENT] =
        "SELECT outcome, response FROM portone_payments WHERE imp_uid = :imp_uid",
};

#define PV_SUBSTS 5

/* SQLite and PostgreSQL spell it alike */
static const char *const standard_sql[PV_SUBSTS][2] = {
    {"{N}", "NUMERIC"}, {"{B}", "BIGINT"}, {"{I}", "INTEGER"},
    {"{DUP}", "ON CONFLICT (imp_uid) DO NOTHING"},
    {"{DUPE}", "ON CONFLICT (imp_uid, outcome) DO NOTHING"}
};

/* MySQL/MariaDB: affected rows count changed rows, so a duplicate that
 * updates a column to itself counts 0, like DO NOTHING */
static const char *const mysql_sql[PV_SUBSTS][2] = {
    {"{N}", "DECIMAL(20,4)"}, {"{B}", "SIGNED"}, {"{I}", "SIGNED"},
    {"{DUP}", "ON DUPLICATE KEY UPDATE imp_uid = imp_uid"},
    {"{DUPE}", "ON DUPLICATE KEY UPDATE id = id"}
};

typedef struct {
    const char *driver;
    const char *const (*subst)[2];  /* PV_SUBSTS pairs */
    int grouped;                    /* writers get a commit group */
} pv_dialect;

static const pv_dialect dialects[] = {
    {"sqlite3", standard_sql, 1},
    {"pgsql", standard_sql, 1},
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
    "order", "order_update", "insert", "advance", "refresh", "event",
    "current"
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
    for (id = PV_STMT_INSERT; id < PV_STMT_COUNT; id++) {
        const char *err = pv_sql_rewrite(pool,
                                         substitute(pool, sql_templates[id], d),
                                         1, &store->stmt[id].sql);

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
 * the request threads of a process read their orders one at a time, and
 * copies every result row into the request's pool; its legacy prepare also
 * fails for good after a schema change. sqlite3_prepare_v3 statements,
 * prepared on a connection's first use of them, re-prepare themselves.
 * (The library is thread-safe; a connection is one request's at a time.) */
struct pv_native {
    sqlite3 *conn;
    sqlite3_stmt *stmt[PV_STMT_COUNT];
};

#define PV_NATIVE_KEY "portone_verify_native"

/* Runs before mod_dbd's cleanup that closes the connection (registered
 * later, so run first). */
static apr_status_t native_finalize(void *data)
{
    pv_native_t *n = data;
    int id;

    for (id = 0; id < PV_STMT_COUNT; id++) {
        sqlite3_finalize(n->stmt[id]);      /* NULL is a no-op */
        n->stmt[id] = NULL;
    }
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
    if (strcmp(name, "sqlite3"))
        return;
    apr_pool_userdata_get((void **)&n, PV_NATIVE_KEY, db->pool);
    if (!n) {
        n = apr_pcalloc(db->pool, sizeof(*n));
        n->conn = apr_dbd_native_handle(db->driver, db->handle);
        /* wait for the write lock inside SQLite, not in apr_dbd's 100 ms
         * sleep-and-retry loop */
        sqlite3_busy_timeout(n->conn, 10000);
        apr_pool_userdata_setn(n, PV_NATIVE_KEY, native_finalize, db->pool);
    }
    db->native = n;
}

/* apr_dbd's spelling of a statement (%s, and a literal % doubled) in
 * SQLite's (?). */
static const char *native_sql(apr_pool_t *pool, const char *sql)
{
    char *out = apr_palloc(pool, strlen(sql) + 1), *o = out;

    for (; *sql; sql++) {
        if (sql[0] == '%' && (sql[1] == 's' || sql[1] == '%'))
            *o++ = *++sql == 's' ? '?' : '%';
        else
            *o++ = *sql;
    }
    *o = '\0';
    return out;
}

/* Runs statement |id| with |args| bound as text (NULL as SQL NULL). Gives
 * the rows it changed in |*nrows| and, when |cols| is given, the first two
 * columns of its first row (NULL for SQL NULL or a missing column) and
 * whether there was one. */
static int native_exec(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                       pv_stmt_id id, const char *const *args, int nargs,
                       int *nrows, const char **cols, int *found,
                       const char **why)
{
    pv_native_t *n = db->native;
    sqlite3_stmt *st = n->stmt[id];
    int rc = SQLITE_OK, i;

    if (!st) {
        rc = sqlite3_prepare_v3(n->conn, native_sql(pool, store->stmt[id].sql.sql),
                                -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        n->stmt[id] = st;
    }
    for (i = 0; rc == SQLITE_OK && i < nargs; i++)
        rc = args[i] ? sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC)
                     : sqlite3_bind_null(st, i + 1);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            for (i = 0; cols && !*found && i < 2; i++) {
                const char *v = i < sqlite3_column_count(st)
                    ? (const char *)sqlite3_column_text(st, i) : NULL;

                cols[i] = v ? apr_pstrdup(pool, v) : NULL;
            }
            if (found)
                *found = 1;
        }
        if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
            *nrows = sqlite3_changes(n->conn);
        }
    }
    if (rc != SQLITE_OK)
        *why = apr_psprintf(pool, "%s: %s", store->stmt[id].label,
                            sqlite3_errmsg(n->conn));
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return rc;
}

void pv_store_values(const pv_payment_t *pay, pv_outcome outcome,
                     const char **values, apr_pool_t *pool)
{
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
    values[PV_P_OUTCOME_RANK] = apr_itoa(pool, pv_outcome_lookup(outcome)->rank);
}

static apr_dbd_prepared_t *prepared(const pv_store_t *store, pv_db_t *db,
                                    pv_stmt_id id)
{
    return apr_hash_get(db->prepared, store->stmt[id].label,
                        APR_HASH_KEY_STRING);
}

static const char *db_error(pv_db_t *db, apr_pool_t *pool, int rc,
                            const pv_store_t *store, pv_stmt_id id)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rc);

    return apr_psprintf(pool, "%s: %s", store->stmt[id].label,
                        msg ? msg : "unknown database error");
}

static int run(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
               pv_stmt_id id, const char *const *values, int *nrows,
               const char **why)
{
    const pv_stmt_t *s = &store->stmt[id];
    apr_dbd_prepared_t *stmt;
    const char *args[PV_SQL_MAX_PARAMS];
    int rc;

    pv_sql_bind(&s->sql, values, args);
    if (db->native)
        return native_exec(store, db, pool, id, args, s->sql.nparams, nrows,
                           NULL, NULL, why);
    stmt = prepared(store, db, id);
    if (!stmt) {
        *why = apr_psprintf(pool, "statement %s is not prepared", s->label);
        return -1;
    }
    rc = apr_dbd_pquery(db->driver, pool, db->handle, nrows, stmt,
                        s->sql.nparams, args);
    if (rc)
        *why = db_error(db, pool, rc, store, id);
    return rc;
}

/* Runs a SELECT and copies the first two columns of its first row into
 * |cols| (NULL for SQL NULL or a missing column); drains the other rows, as
 * mod_authn_dbd does. |*found| says whether there was a row. */
static int select_first(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                        pv_stmt_id id, const char *const *values,
                        const char **cols, int *found, const char **why)
{
    const pv_stmt_t *s = &store->stmt[id];
    apr_dbd_prepared_t *stmt;
    const char *args[PV_SQL_MAX_PARAMS];
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc, i, k;

    *found = 0;
    cols[0] = cols[1] = NULL;
    pv_sql_bind(&s->sql, values, args);
    if (db->native)
        return native_exec(store, db, pool, id, args, s->sql.nparams, &k,
                           cols, found, why);
    stmt = prepared(store, db, id);
    if (!stmt) {
        *why = apr_psprintf(pool, "statement %s is not prepared", s->label);
        return -1;
    }
    /* random access (1): the whole result at once, so that a broken
     * connection is an error here and not an empty result later */
    rc = apr_dbd_pselect(db->driver, pool, db->handle, &res, stmt, 1,
                         s->sql.nparams, args);
    if (rc) {
        *why = db_error(db, pool, rc, store, id);
        return rc;
    }
    /* random access numbers rows from 1 in every driver; reading on to the
     * end lets the drivers release the result */
    for (k = 1; apr_dbd_get_row(db->driver, pool, res, &row, k) == 0; k++) {
        for (i = 0; k == 1 && i < 2 && i < apr_dbd_num_cols(db->driver, res); i++) {
            const char *v = NULL;

            /* not apr_dbd_get_entry: pgsql gives "" for NULL there */
            if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING, &v)
                != APR_SUCCESS)
                v = NULL;
            cols[i] = v ? apr_pstrdup(pool, v) : NULL;
        }
        *found = 1;
    }
    return 0;
}

/* PostgreSQL: libpq's pipeline sends statements without waiting for their
 * answers, which are read back at a sync point: one round trip for several
 * statements (the statements are those apr_dbd prepared, by their labels). */
static int pg_send(PGconn *pg, const pv_store_t *store, pv_stmt_id id,
                   const char *const *values)
{
    const pv_stmt_t *s = &store->stmt[id];
    const char *args[PV_SQL_MAX_PARAMS];

    pv_sql_bind(&s->sql, values, args);
    return PQsendQueryPrepared(pg, s->label, s->sql.nparams, args, NULL, NULL,
                               0) == 1;
}

/* BEGIN, COMMIT: constant statements, in the pipeline. */
static int pg_send_plain(PGconn *pg, const char *sql)
{
    return PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
}

/* Ends the pipeline's |n| statements with a sync point and reads their
 * results: rows[i], the rows the i-th one changed, and with |keep| its
 * result itself (the caller clears it). 0 when every one succeeded; else
 * the first error is in |*why|. */
static int pg_sync(PGconn *pg, apr_pool_t *pool, int n, int *rows,
                   PGresult **keep, const char **why)
{
    int i = 0, ends = 0, rc = 0;

    if (PQpipelineSync(pg) != 1) {
        *why = apr_pstrdup(pool, PQerrorMessage(pg));
        return -1;
    }
    for (;;) {
        PGresult *res = PQgetResult(pg);
        ExecStatusType st;

        if (!res) {                 /* the end of one statement's results */
            if (++ends > n) {       /* and no sync point: the link broke */
                if (!rc)
                    *why = apr_pstrdup(pool, PQerrorMessage(pg));
                return -1;
            }
            continue;
        }
        st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if ((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) && i < n) {
            rows[i] = atoi(PQcmdTuples(res));
            if (keep) {
                keep[i++] = res;
                continue;
            }
        }
        else if (!rc) {             /* later ones say PGRES_PIPELINE_ABORTED */
            rc = -1;
            *why = apr_pstrdup(pool, PQresultErrorMessage(res));
        }
        i++;
        PQclear(res);
    }
    if (!rc && i != n) {
        rc = -1;
        *why = "the database answered another number of statements";
    }
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

/* Leaves pipeline mode; a connection with results still pending is of no
 * use to apr_dbd, so it starts afresh (its statements are prepared again by
 * pv_store_recover). */
static int pg_pipeline_end(PGconn *pg, apr_pool_t *pool, int rc,
                           const char **why)
{
    if (PQexitPipelineMode(pg) == 1)
        return rc;
    if (!rc)
        *why = apr_pstrdup(pool, PQerrorMessage(pg));
    PQreset(pg);
    return -1;
}

/* The first two columns of a result's first row (NULL for SQL NULL or a
 * missing column); whether it has a row. */
static int pg_first_row(PGresult *res, apr_pool_t *pool, const char **cols)
{
    int i;

    for (i = 0; i < 2; i++)
        cols[i] = PQntuples(res) > 0 && i < PQnfields(res) && !PQgetisnull(res, 0, i)
                  ? apr_pstrdup(pool, PQgetvalue(res, 0, i)) : NULL;
    return PQntuples(res) > 0;
}

/* The order and the payment's record in one round trip. */
static int pg_load(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                   const char *const *values, const char **order, int *found,
                   pv_prior_t *prior, const char **why)
{
    PGconn *pg = db->pg;
    PGresult *res[2] = {NULL, NULL};
    const char *cols[2];
    int rows[2], sent, ok, rc;

    if (PQenterPipelineMode(pg) != 1) {
        *why = apr_pstrdup(pool, PQerrorMessage(pg));
        return -1;
    }
    sent = ok = pg_send(pg, store, PV_STMT_ORDER, values);
    if (ok)
        sent += ok = pg_send(pg, store, PV_STMT_CURRENT, values);
    rc = pg_sync(pg, pool, sent, rows, res, why);
    if (!rc && !ok) {
        rc = -1;
        *why = apr_pstrdup(pool, PQerrorMessage(pg));
    }
    rc = pg_pipeline_end(pg, pool, rc, why);
    if (!rc) {
        *found = pg_first_row(res[0], pool, order);
        prior->found = pg_first_row(res[1], pool, cols);
        prior->outcome = cols[0];
        prior->response = cols[1];
        prior->known = 1;
    }
    PQclear(res[0]);            /* NULL is a no-op */
    PQclear(res[1]);
    return rc;
}

pv_err pv_store_load_order(const pv_store_t *store, pv_db_t *db,
                           apr_pool_t *pool, const char *const *values,
                           pv_order_t *order, int *found, pv_prior_t *prior,
                           const char **why)
{
    const char *cols[2];

    prior->known = 0;
    if (db->pg ? pg_load(store, db, pool, values, cols, found, prior, why)
               : select_first(store, db, pool, PV_STMT_ORDER, values, cols,
                              found, why))
        return PV_E_DATABASE_UNAVAILABLE;
    order->amount = cols[0];
    order->currency = cols[1];
    return PV_OK;
}

/* The statements of one verification, inside an open transaction. */
static int record_in_txn(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                         const char *const *values, const pv_outcome_info *info,
                         int *changed, pv_outcome *recorded, const char **why)
{
    int rc, nrows = 0;

    *changed = 0;
    rc = run(store, db, pool, PV_STMT_INSERT, values, &nrows, why);
    if (!rc && nrows == 0) {
        rc = run(store, db, pool, PV_STMT_ADVANCE, values, &nrows, why);
        if (!rc && nrows == 0)
            rc = run(store, db, pool, PV_STMT_REFRESH, values, &nrows, why);
        else
            *changed = (nrows > 0);
        if (!rc && nrows == 0) {    /* a newer or final outcome stays */
            const char *cols[2];
            int found;

            rc = select_first(store, db, pool, PV_STMT_CURRENT, values, cols,
                              &found, why);
            if (!rc && found)
                *recorded = pv_outcome_from_name(cols[0]);
        }
    }
    else if (!rc) {
        *changed = 1;
    }
    if (!rc && *changed && info->writes_event)
        rc = run(store, db, pool, PV_STMT_EVENT, values, &nrows, why);
    if (!rc && *changed && info->updates_order
        && store->stmt[PV_STMT_ORDER_UPDATE].label)
        rc = run(store, db, pool, PV_STMT_ORDER_UPDATE, values, &nrows, why);
    return rc;
}

/* SQLite's BEGIN, COMMIT and ROLLBACK go to the connection itself, not
 * through apr_dbd: apr_dbd_sqlite3 runs every call under one mutex per
 * process, and these are the calls that wait, for the disk (COMMIT syncs the
 * WAL) or for another program's write lock (the busy timeout); meanwhile
 * the other requests of the process could not even read their orders.
 * Constant statements without parameters; the connection is this
 * request's alone. */
static int sqlite_exec(pv_db_t *db, apr_pool_t *pool, const char *sql,
                       const char **why)
{
    sqlite3 *conn = db->native->conn;
    int rc = sqlite3_exec(conn, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        *why = apr_psprintf(pool, "%s: %s", sql, sqlite3_errmsg(conn));
    return rc;
}

/* BEGIN. */
static int txn_begin(pv_db_t *db, apr_pool_t *pool, apr_dbd_transaction_t **txn,
                     const char **why)
{
    int rc;

    *txn = NULL;
    if (db->native)
        return sqlite_exec(db, pool, "BEGIN IMMEDIATE", why);
    /* apr_dbd_pgsql dereferences a NULL transaction when BEGIN fails on a
     * broken connection: hand it a zeroed one, larger than its struct. */
    if (!strcmp(apr_dbd_name(db->driver), "pgsql"))
        *txn = apr_pcalloc(pool, 64);
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
    if (db->native) {
        const char *ignored;

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

static void count_commit(const pv_store_t *store, int verifications)
{
    if (store->stats) {
        pv_stats_add(&store->stats->db_commits, 1);
        pv_stats_add(&store->stats->db_written, (apr_uint64_t)verifications);
    }
}

/* One verification in a transaction of its own. */
static pv_err record_alone(const pv_store_t *store, pv_db_t *db,
                           apr_pool_t *pool, const char *const *values,
                           const pv_outcome_info *info, int *changed,
                           pv_outcome *recorded, const char **why)
{
    apr_dbd_transaction_t *txn;
    int rc;

    if (store->serial)
        apr_global_mutex_lock(store->serial);
    rc = txn_begin(db, pool, &txn, why);
    if (!rc) {
        rc = record_in_txn(store, db, pool, values, info, changed, recorded,
                           why);
        rc = txn_end(db, pool, txn, rc, why);
    }
    if (store->serial)
        apr_global_mutex_unlock(store->serial);
    if (rc) {
        *changed = 0;
        return PV_E_DATABASE_UNAVAILABLE;
    }
    count_commit(store, 1);
    return PV_OK;
}

/* Group commit (SQLite, PostgreSQL). A SQLite commit waits for the disk
 * (synchronous FULL: the WAL is synced, so a recorded payment survives a
 * power cut) and SQLite has one writer at a time, so one transaction per
 * verification caps a server at one verification per sync; on PostgreSQL
 * BEGIN and COMMIT are two of the round trips of every first verification.
 * Instead, a writer queues its verification. When no transaction of the
 * group is running, it leads: it takes the SQLite writers' mutex (waiting
 * meanwhile for other processes' transactions, while more writers queue),
 * then the queue, its own verification included, runs every verification's
 * statements on its own connection in one transaction, in imp_uid order
 * (the same result as one transaction each, one after the other), commits
 * once and wakes the others. Verifications queued meanwhile go into the
 * next transaction. If any statement or the commit fails, everything is
 * rolled back and each verification of the batch runs alone, so one bad
 * row costs the others nothing but a retry. */
#define PV_BATCH_MAX 64

typedef enum { PV_ITEM_QUEUED, PV_ITEM_DONE, PV_ITEM_ALONE } pv_item_state;

typedef struct pv_item {
    const char *const *values;
    const pv_outcome_info *info;
    apr_pool_t *pool;           /* its request's; its thread waits meanwhile */
    apr_thread_cond_t *wake;    /* its thread waits on it */
    int changed, rc;
    pv_outcome recorded;
    const char *why;
    pv_item_state state;
    struct pv_item *next;
} pv_item;

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

/* Takes up to PV_BATCH_MAX verifications off the queue (under g->lock). */
static pv_item *take_batch(pv_group_t *g, int *n)
{
    pv_item *batch = g->head, *last = batch;

    *n = 1;
    while (last->next && *n < PV_BATCH_MAX) {
        last = last->next;
        (*n)++;
    }
    g->head = last->next;
    if (!g->head)
        g->tail = NULL;
    last->next = NULL;
    return batch;
}

/* The batch in imp_uid order (stable: one payment's verifications keep
 * their order), so that transactions of several processes, which lock the
 * rows of a database server as they go, lock them in the same order. */
static pv_item *by_payment(pv_item *batch)
{
    pv_item *sorted = NULL;

    while (batch) {
        pv_item *it = batch, **at = &sorted;

        batch = batch->next;
        while (*at && strcmp((*at)->values[PV_P_IMP_UID],
                             it->values[PV_P_IMP_UID]) <= 0)
            at = &(*at)->next;
        it->next = *at;
        *at = it;
    }
    return sorted;
}

/* PostgreSQL: a batch in two or three round trips instead of three per
 * verification. libpq's pipeline sends statements without waiting for
 * their answers, which are read back at a sync point. First: BEGIN and
 * every verification's first record (INSERT). Then the event and the
 * order update of each payment that INSERT created, and COMMIT when
 * nothing else is left. A payment recorded before (its INSERT did nothing:
 * an outcome moving on, or the same payment twice in the batch) then goes
 * record_in_txn's way, a statement at a time, before COMMIT. The result is
 * that of the verifications one after the other: the first records in
 * imp_uid order, then the others. Any error rolls the whole batch back. */
static int pg_batch(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                    pv_item *batch, const char **why)
{
    PGconn *pg = db->pg;
    int rows[2 * PV_BATCH_MAX + 2];
    int rc, sent, ok, rest = 0, i;
    const char *ignored;
    pv_item *it;

    if (PQenterPipelineMode(pg) != 1) {
        *why = apr_pstrdup(pool, PQerrorMessage(pg));
        return -1;
    }
    sent = ok = pg_send_plain(pg, "BEGIN");
    for (it = batch; ok && it; it = it->next)
        sent += ok = pg_send(pg, store, PV_STMT_INSERT, it->values);
    rc = pg_sync(pg, pool, sent, rows, NULL, why);
    if (!rc && !ok) {
        rc = -1;
        *why = apr_pstrdup(pool, PQerrorMessage(pg));
    }
    for (i = 1, it = batch; !rc && it; it = it->next, i++) {
        it->rc = 0;
        it->changed = rows[i] > 0;
        rest += !it->changed;
    }
    if (!rc) {
        sent = 0;
        ok = 1;
        for (it = batch; ok && it; it = it->next) {
            if (!it->changed)
                continue;
            if (it->info->writes_event)
                sent += ok = pg_send(pg, store, PV_STMT_EVENT, it->values);
            if (ok && it->info->updates_order
                && store->stmt[PV_STMT_ORDER_UPDATE].label)
                sent += ok = pg_send(pg, store, PV_STMT_ORDER_UPDATE,
                                     it->values);
        }
        if (ok && !rest)
            sent += ok = pg_send_plain(pg, "COMMIT");
        rc = pg_sync(pg, pool, sent, rows, NULL, why);
        if (!rc && !ok) {
            rc = -1;
            *why = apr_pstrdup(pool, PQerrorMessage(pg));
        }
    }
    if (pg_pipeline_end(pg, pool, 0, why))
        return -1;
    for (it = batch; !rc && rest && it; it = it->next)
        if (!it->changed)
            rc = it->rc = record_in_txn(store, db, it->pool, it->values,
                                        it->info, &it->changed, &it->recorded,
                                        &it->why);
    if (!rc && rest)
        rc = pg_exec(pg, pool, "COMMIT", why);
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        pg_exec(pg, pool, "ROLLBACK", &ignored);
    return rc;
}

/* The leader's part, with g->lock held on entry and on return. */
static void lead(const pv_store_t *store, pv_db_t *db, pv_item *leader)
{
    pv_group_t *g = store->group;
    apr_dbd_transaction_t *txn;
    const char *why = NULL;
    pv_item *batch, *it;
    int rc, n;

    g->running = 1;
    apr_thread_mutex_unlock(g->lock);
    if (store->serial)
        apr_global_mutex_lock(store->serial);
    apr_thread_mutex_lock(g->lock);
    batch = take_batch(g, &n);
    apr_thread_mutex_unlock(g->lock);
    batch = by_payment(batch);

    if (db->pg) {
        rc = pg_batch(store, db, leader->pool, batch, &why);
    }
    else if (!(rc = txn_begin(db, leader->pool, &txn, &why))) {
        for (it = batch; !rc && it; it = it->next)
            rc = it->rc = record_in_txn(store, db, it->pool, it->values,
                                        it->info, &it->changed, &it->recorded,
                                        &it->why);
        rc = txn_end(db, leader->pool, txn, rc, &why);
    }
    if (store->serial)
        apr_global_mutex_unlock(store->serial);
    if (!rc)
        count_commit(store, n);

    apr_thread_mutex_lock(g->lock);
    /* each thread is woken once: the batch's when it is done, and the first
     * one still queued, to lead the next transaction */
    for (it = batch; it; it = it->next) {
        if (rc && n > 1) {
            it->state = PV_ITEM_ALONE;
        }
        else {
            it->state = PV_ITEM_DONE;
            it->rc = rc;
            if (rc && !it->why)     /* n == 1: the leader's own */
                it->why = why;
        }
        apr_thread_cond_signal(it->wake);
    }
    g->running = 0;
    if (g->head)
        apr_thread_cond_signal(g->head->wake);
}

static pv_err record_grouped(const pv_store_t *store, pv_db_t *db,
                             apr_pool_t *pool, const char *const *values,
                             const pv_outcome_info *info, int *changed,
                             pv_outcome *recorded, const char **why)
{
    pv_group_t *g = store->group;
    pv_item mine;

    memset(&mine, 0, sizeof(mine));
    mine.values = values;
    mine.info = info;
    mine.pool = pool;
    mine.recorded = *recorded;
    mine.state = PV_ITEM_QUEUED;
    if (apr_thread_cond_create(&mine.wake, pool) != APR_SUCCESS)
        return record_alone(store, db, pool, values, info, changed, recorded,
                            why);
    apr_thread_mutex_lock(g->lock);
    if (g->tail)
        g->tail->next = &mine;
    else
        g->head = &mine;
    g->tail = &mine;
    /* still queued while nothing runs means queued here: head is set */
    while (mine.state == PV_ITEM_QUEUED) {
        if (g->running)
            apr_thread_cond_wait(mine.wake, g->lock);
        else
            lead(store, db, &mine);
    }
    apr_thread_mutex_unlock(g->lock);
    if (mine.state == PV_ITEM_ALONE)
        return record_alone(store, db, pool, values, info, changed, recorded,
                            why);
    if (mine.rc) {
        *why = mine.why;
        return PV_E_DATABASE_UNAVAILABLE;
    }
    *changed = mine.changed;
    *recorded = mine.recorded;
    return PV_OK;
}

pv_err pv_store_record(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                       const char *const *values, pv_outcome outcome,
                       const pv_prior_t *prior, int *changed,
                       pv_outcome *recorded, const char **why)
{
    const pv_outcome_info *info = pv_outcome_lookup(outcome);

    *changed = 0;
    *recorded = outcome;
    /* A repeated verification (the browser and the webhook, retries) that
     * would change nothing costs one read and no write transaction: the
     * outcome recorded is newer or final, or it is this one with PortOne's
     * very same answer. Anything else goes to the transaction, which
     * decides for itself. */
    {
        pv_prior_t now = {0, 0, NULL, NULL};
        const char *cols[2];

        if (!prior || !prior->known) {
            if (select_first(store, db, pool, PV_STMT_CURRENT, values, cols,
                             &now.found, why))
                return PV_E_DATABASE_UNAVAILABLE;
            now.outcome = cols[0];
            now.response = cols[1];
            prior = &now;
        }
        if (prior->found) {
            pv_outcome cur = pv_outcome_from_name(prior->outcome);
            int cur_rank = pv_outcome_lookup(cur)->rank;

            if (cur_rank > info->rank || (cur_rank == info->rank && cur != outcome)
                || (cur == outcome && prior->response && values[PV_P_RESPONSE]
                    && !strcmp(prior->response, values[PV_P_RESPONSE]))) {
                *recorded = cur;
                return PV_OK;
            }
        }
    }
    if (store->group)
        return record_grouped(store, db, pool, values, info, changed,
                              recorded, why);
    return record_alone(store, db, pool, values, info, changed, recorded, why);
}

apr_status_t pv_store_recover(const pv_store_t *store, pv_db_t *db)
{
    apr_pool_t *stmts, *old = NULL;
    apr_dbd_prepared_t *fresh[PV_STMT_COUNT] = {0};
    int id;

    if (apr_dbd_check_conn(db->driver, db->pool, db->handle) != APR_SUCCESS)
        return APR_EGENERAL;
    if (db->native)
        return APR_SUCCESS;     /* SQLite re-prepares its own statements */
    /* Prepare all of them again in a pool of their own, swapped in only when
     * every one prepared (on PostgreSQL, PREPARE fails with "already exists"
     * when nothing was lost). */
    if (apr_pool_create(&stmts, db->pool) != APR_SUCCESS)
        return APR_EGENERAL;
    for (id = 0; id < PV_STMT_COUNT; id++) {
        if (!store->stmt[id].label)
            continue;
        if (apr_dbd_prepare(db->driver, stmts, db->handle,
                            store->stmt[id].sql.sql, store->stmt[id].label,
                            &fresh[id])) {
            apr_pool_destroy(stmts);
            return APR_SUCCESS;
        }
    }
    for (id = 0; id < PV_STMT_COUNT; id++)
        if (fresh[id])
            apr_hash_set(db->prepared, store->stmt[id].label,
                         APR_HASH_KEY_STRING, fresh[id]);
    apr_pool_userdata_get((void **)&old, "portone_verify_stmts", db->pool);
    apr_pool_userdata_setn(stmts, "portone_verify_stmts", NULL, db->pool);
    if (old)
        apr_pool_destroy(old);
    return APR_SUCCESS;
}
