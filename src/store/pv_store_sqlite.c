/* The SQLite back-end: the statements run on the connection itself, not
 * through apr_dbd. apr_dbd_sqlite3 holds one mutex per process around every
 * call, so that the request threads of a process would read their orders
 * one at a time, and copies every result row into the request's pool; its
 * legacy prepare also fails for good after a schema change.
 * sqlite3_prepare_v3 statements, prepared on a connection's first use of
 * them, re-prepare themselves. They are cached per connection by label, the
 * same key as mod_dbd's: two scopes with different SQL never share one.
 * (The library is thread-safe; a connection is one request's at a time.) */
#include "pv_store_backend.h"

#include <apr_strings.h>
#include <sqlite3.h>

struct pv_native {
    sqlite3 *conn;
    apr_hash_t *stmts;          /* label -> sqlite3_stmt */
};

#define PV_NATIVE_KEY "portone_verify_native"

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

static void sqlite_attach(pv_db_t *db)
{
    pv_native_t *n = NULL;

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

static int sqlite_step(pv_db_t *db, apr_pool_t *pool, pv_step_t *step,
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
            const char *vals[PV_STEP_COLS] = {NULL};

            for (i = 0; (!step->found || step->rows) && i < step->ncols; i++) {
                const char *v = i < sqlite3_column_count(st)
                    ? (const char *)sqlite3_column_text(st, i) : NULL;

                vals[i] = v;
                if (!step->found)
                    step->cols[i] = v ? apr_pstrdup(pool, v) : NULL;
            }
            step->found = 1;
            if (step->rows && !pv_step_row(step, pool, vals)) {
                rc = SQLITE_DONE;       /* enough rows: the rest unread */
                break;
            }
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

static int sqlite_run(pv_db_t *db, apr_pool_t *pool, pv_step_t *steps, int n,
                      const char **why)
{
    int i, rc = 0;

    for (i = 0; !rc && i < n; i++)
        rc = sqlite_step(db, pool, &steps[i], why);
    return rc;
}

/* BEGIN, COMMIT and ROLLBACK go to the connection itself: these are the
 * calls that wait, for the disk (COMMIT syncs the WAL) or for another
 * program's write lock (the busy timeout). Each is prepared once per
 * connection and kept with the others, keyed by its text (|sql| is a
 * literal; no label has a space): sqlite3_exec would compile it again at
 * every transaction, about 3,000 instructions each. */
static int sqlite_exec(pv_db_t *db, apr_pool_t *pool, const char *sql,
                       const char **why)
{
    pv_native_t *n = db->native;
    sqlite3_stmt *st = apr_hash_get(n->stmts, sql, APR_HASH_KEY_STRING);
    int rc = SQLITE_OK;

    if (!st) {
        rc = sqlite3_prepare_v3(n->conn, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &st, NULL);
        if (rc == SQLITE_OK)
            apr_hash_set(n->stmts, sql, APR_HASH_KEY_STRING, st);
    }
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        *why = apr_psprintf(pool, "%s: %s", sql, sqlite3_errmsg(n->conn));
    if (st)
        sqlite3_reset(st);
    return rc;
}

/* IMMEDIATE: the write lock from the start, so that the reads of the
 * transaction are those its writes follow. */
static int sqlite_begin(pv_db_t *db, apr_pool_t *pool,
                        apr_dbd_transaction_t **txn, const char **why)
{
    *txn = NULL;
    return sqlite_exec(db, pool, "BEGIN IMMEDIATE", why);
}

static int sqlite_end(pv_db_t *db, apr_pool_t *pool,
                      apr_dbd_transaction_t *txn, int rc, const char **why)
{
    const char *ignored;

    (void)txn;
    if (!rc && (rc = sqlite_exec(db, pool, "COMMIT", why)) == SQLITE_OK)
        return 0;
    /* a failed COMMIT can leave the transaction open */
    if (!sqlite3_get_autocommit(db->native->conn))
        sqlite_exec(db, pool, "ROLLBACK", &ignored);
    return rc;
}

const pv_backend_t pv_backend_sqlite = {
    "sqlite3",
    sqlite_attach,
    sqlite_run,
    0,
    sqlite_begin,
    sqlite_end,
    NULL                        /* its statements re-prepare themselves */
};
