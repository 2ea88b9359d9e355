/* Inside the store: what differs from one database back-end to another,
 * behind one small table of functions. pv_store.c has the module's SQL, the
 * decisions, the batches and the group commit, and calls these; each
 * back-end has a file of its own:
 *   pv_store_sqlite.c  the SQLite connection itself (statements cached by
 *                      label, BEGIN IMMEDIATE, the busy timeout)
 *   pv_store_pgsql.c   libpq's pipeline: a transaction's reads in one round
 *                      trip and its writes and COMMIT in another
 *   pv_store_dbd.c     plain apr_dbd, by mod_dbd's prepared labels
 *                      (MySQL/MariaDB, and any connection the others cannot
 *                      take)
 * Not for the glue: its interface is pv_store.h. */
#ifndef PV_STORE_BACKEND_H
#define PV_STORE_BACKEND_H

#include <apr_strings.h>
#include <string.h>

#include "pv_store.h"

/* The most columns a step reads (the payment's record: outcome,
 * cancel_amount, refund) */
#define PV_STEP_COLS 3

/* One statement of a transaction: run with |values|, the first |ncols|
 * columns of its first row read into |cols| (NULL for SQL NULL or a
 * missing column), |found| whether it had a row. |plain| is a constant
 * statement (BEGIN, COMMIT) of a back-end whose transactions are steps. */
typedef struct {
    const pv_stmt_t *stmt;
    const char *plain;
    const char *const *values;
    int ncols;
    const char *cols[PV_STEP_COLS];
    int found;
    /* with |rows|: the first |ncols| columns of up to |maxrows| rows are
     * appended to it too, as pv_store_row_t */
    apr_array_header_t *rows;
    int maxrows;
} pv_step_t;

/* A row of a step that reads several. */
typedef struct {
    const char *cols[PV_STEP_COLS];
} pv_store_row_t;

/* Appends |ncols| columns (NULL for SQL NULL) to step->rows, copied into
 * |pool|, while it has fewer than step->maxrows; 0 when it is full. */
static inline int pv_step_row(pv_step_t *step, apr_pool_t *pool,
                              const char *const *cols)
{
    pv_store_row_t *row;
    int i;

    if (!step->rows || step->rows->nelts >= step->maxrows)
        return 0;
    row = (pv_store_row_t *)apr_array_push(step->rows);
    for (i = 0; i < PV_STEP_COLS; i++)
        row->cols[i] = i < step->ncols && cols[i] ? apr_pstrdup(pool, cols[i])
                                                  : NULL;
    return 1;
}

static inline void pv_step_set(pv_step_t *st, const pv_stmt_t *stmt,
                               const char *const *values, int ncols)
{
    memset(st, 0, sizeof(*st));
    st->stmt = stmt;
    st->values = values;
    st->ncols = ncols < PV_STEP_COLS ? ncols : PV_STEP_COLS;
}

static inline void pv_step_plain(pv_step_t *st, const char *sql)
{
    memset(st, 0, sizeof(*st));
    st->plain = sql;
}

typedef struct {
    /* apr_dbd_name() of the driver it takes over from apr_dbd; NULL: the
     * generic back-end, for every other connection */
    const char *driver;
    /* Once per connection (pv_store_attach): finds or makes what the
     * back-end keeps on it and sets db->native or db->pg, which is what
     * selects this back-end afterwards (pv_db_t's fields are the glue's,
     * so the choice is kept there). NULL: nothing to attach. */
    void (*attach)(pv_db_t *db);
    /* Runs |n| > 0 steps, in one round trip where the back-end can; 0 when
     * every one succeeded, else the first error is in |*why|. */
    int (*run)(pv_db_t *db, apr_pool_t *pool, pv_step_t *steps, int n,
               const char **why);
    /* BEGIN and COMMIT are plain steps of |run|, the first of the reads
     * and the last of the writes; |begin| is then NULL. */
    int txn_in_steps;
    /* BEGIN; |*txn| is apr_dbd's transaction, if the back-end uses one. */
    int (*begin)(pv_db_t *db, apr_pool_t *pool, apr_dbd_transaction_t **txn,
                 const char **why);
    /* COMMIT, or ROLLBACK when |rc| says a statement failed (with
     * txn_in_steps: ROLLBACK of what a failure left open); the result. */
    int (*end)(pv_db_t *db, apr_pool_t *pool, apr_dbd_transaction_t *txn,
               int rc, const char **why);
    /* After a failure, once apr_dbd_check_conn() said the connection is
     * usable (it may have reconnected): prepares |stmts| again where the
     * connection lost them. NULL: the back-end prepares its own. */
    apr_status_t (*recover)(pv_db_t *db, const pv_stmt_t *const *stmts,
                            int n);
} pv_backend_t;

extern const pv_backend_t pv_backend_sqlite;
extern const pv_backend_t pv_backend_pgsql;
extern const pv_backend_t pv_backend_dbd;

/* Prepares |stmts| again through apr_dbd under their labels into
 * db->prepared (pv_store_dbd.c; PostgreSQL's recover too). */
apr_status_t pv_dbd_prepare_again(pv_db_t *db, const pv_stmt_t *const *stmts,
                                  int n);

#endif
