/* The generic back-end: plain apr_dbd, by the labels mod_dbd prepared the
 * statements under, and apr_dbd's transactions. MySQL/MariaDB go this way
 * (one transaction per verification, no commit group), and so would a
 * connection whose native handle the other back-ends could not take. */
#include "pv_store_backend.h"

#include <apr_strings.h>

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

        int got = 0;

        /* random access (1): the whole result at once, so that a broken
         * connection is an error here and not an empty result later. A
         * step of several rows (a PortOneReconcileQuery of any size) reads
         * them in order instead: apr_dbd_mysql seeks a row of a stored
         * result by walking from the first (mysql_stmt_data_seek), so that
         * reading n rows by number takes n*n/2 steps (80000 rows: seconds);
         * its prepared statements store the whole result either way */
        rc = apr_dbd_pselect(db->driver, pool, db->handle, &res, stmt,
                             step->rows ? 0 : 1, s->sql.nparams, args);
        /* random access numbers rows from 1 in every driver; reading on to
         * the end lets the drivers release the result */
        for (k = 1; !rc
             && (got = apr_dbd_get_row(db->driver, pool, res, &row,
                                       step->rows ? -1 : k)) == 0;
             k++) {
            const char *vals[PV_STEP_COLS] = {NULL};
            int i;

            for (i = 0; (k == 1 || step->rows) && i < step->ncols
                 && i < apr_dbd_num_cols(db->driver, res); i++) {
                const char *v = NULL;

                /* not apr_dbd_get_entry: pgsql gives "" for NULL there */
                if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING,
                                      &v) != APR_SUCCESS)
                    v = NULL;
                vals[i] = v;
                if (k == 1)
                    step->cols[i] = v ? apr_pstrdup(pool, v) : NULL;
            }
            pv_step_row(step, pool, vals);
            step->found = 1;
        }
        if (!rc && got > 0 && step->rows)
            rc = got;           /* in order, a row can fail to come */
    }
    if (rc) {
        const char *msg = apr_dbd_error(db->driver, db->handle, rc);

        /* apr_dbd_mysql answers mysql_stmt_errno(): ER_LOCK_DEADLOCK
         * (InnoDB rolled the transaction back at once). Not
         * ER_LOCK_WAIT_TIMEOUT: a lock held for innodb_lock_wait_timeout
         * (50 s) is no race, and running again would wait as long again */
        if (rc == 1213 && !strcmp(apr_dbd_name(db->driver), "mysql"))
            db->conflict = 1;

        *why = apr_psprintf(pool, "%s: %s", s->label,
                            msg ? msg : "unknown database error");
    }
    return rc;
}

static int dbd_run(pv_db_t *db, apr_pool_t *pool, pv_step_t *steps, int n,
                   const char **why)
{
    int i, rc = 0;

    for (i = 0; !rc && i < n; i++)
        rc = dbd_step(db, pool, &steps[i], why);
    return rc;
}

static int dbd_begin(pv_db_t *db, apr_pool_t *pool,
                     apr_dbd_transaction_t **txn, const char **why)
{
    int rc;

    *txn = NULL;
    rc = apr_dbd_transaction_start(db->driver, pool, db->handle, txn);
    if (rc) {
        *why = apr_psprintf(pool, "cannot begin a transaction: %s",
                            apr_dbd_error(db->driver, db->handle, rc));
        if (*txn)
            apr_dbd_transaction_end(db->driver, pool, *txn);
    }
    return rc;
}

static int dbd_end(pv_db_t *db, apr_pool_t *pool, apr_dbd_transaction_t *txn,
                   int rc, const char **why)
{
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

#define PV_STMTS_KEY "portone_verify_stmts"

/* Prepares |stmts| again where a failure lost them: PostgreSQL loses every
 * statement with a reconnection; a statement that still exists fails with
 * "already exists" and keeps its handle. Each one that prepares is swapped
 * in, so that the recovery of one scope does not leave another's lost. The
 * handles live in a pool of the connection; the previous one is destroyed
 * only when every statement was replaced (no handle of it is left). */
apr_status_t pv_dbd_prepare_again(pv_db_t *db, const pv_stmt_t *const *stmts,
                                  int n)
{
    apr_pool_t *pool, *old = NULL;
    int id, fresh = 0;

    if (apr_pool_create(&pool, db->pool) != APR_SUCCESS)
        return APR_EGENERAL;
    for (id = 0; id < n; id++) {
        apr_dbd_prepared_t *st = NULL;

        if (apr_dbd_prepare(db->driver, pool, db->handle, stmts[id]->sql.sql,
                            stmts[id]->label, &st) == 0 && st) {
            apr_hash_set(db->prepared, stmts[id]->label, APR_HASH_KEY_STRING,
                         st);
            fresh++;
        }
    }
    apr_pool_userdata_get((void **)&old, PV_STMTS_KEY, db->pool);
    if (fresh == n) {
        apr_pool_userdata_setn(pool, PV_STMTS_KEY, NULL, db->pool);
        if (old)
            apr_pool_destroy(old);
    }
    else if (!fresh) {
        apr_pool_destroy(pool);
    }
    return APR_SUCCESS;
}

/* MySQL/MariaDB: InnoDB's default REPEATABLE READ locks the gap where a
 * payment not recorded yet would go (SELECT ... FOR UPDATE), and two such
 * transactions then deadlock on their INSERTs: READ COMMITTED, as
 * PostgreSQL, locks rows only. Once per connection. */
#define PV_MYSQL_KEY "portone_verify_read_committed"

static void dbd_attach(pv_db_t *db)
{
    void *done = NULL;
    int rows;

    if (strcmp(apr_dbd_name(db->driver), "mysql"))
        return;
    apr_pool_userdata_get(&done, PV_MYSQL_KEY, db->pool);
    if (!done && apr_dbd_query(db->driver, db->handle, &rows,
                               "SET SESSION TRANSACTION ISOLATION LEVEL "
                               "READ COMMITTED") == 0)
        apr_pool_userdata_setn(db->pool, PV_MYSQL_KEY, NULL, db->pool);
}

const pv_backend_t pv_backend_dbd = {
    NULL,
    dbd_attach,
    dbd_run,
    0,
    dbd_begin,
    dbd_end,
    pv_dbd_prepare_again
};
