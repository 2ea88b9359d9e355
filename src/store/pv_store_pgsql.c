/* The PostgreSQL back-end: libpq's pipeline sends statements without
 * waiting for their answers, which are read back at a sync point: one round
 * trip for all the steps of a call. A transaction is two: its BEGIN and
 * reads, then its writes and COMMIT (txn_in_steps). The statements are
 * those apr_dbd prepared on the connection, by their labels. */
#include "pv_store_backend.h"

#include <apr_strings.h>
#include <libpq-fe.h>

static void pgsql_attach(pv_db_t *db)
{
    db->pg = apr_dbd_native_handle(db->driver, db->handle);
}

static int pgsql_run(pv_db_t *db, apr_pool_t *pool, pv_step_t *steps, int n,
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
                int r;

                step->found = PQntuples(res) > 0;
                for (i = 0; i < step->ncols; i++)
                    step->cols[i] = step->found && i < PQnfields(res)
                        && !PQgetisnull(res, 0, i)
                        ? apr_pstrdup(pool, PQgetvalue(res, 0, i)) : NULL;
                for (r = 0; step->rows && r < PQntuples(res); r++) {
                    const char *vals[PV_STEP_COLS] = {NULL};

                    for (i = 0; i < step->ncols && i < PV_STEP_COLS
                         && i < PQnfields(res); i++)
                        vals[i] = PQgetisnull(res, r, i) ? NULL
                                                         : PQgetvalue(res, r, i);
                    if (!pv_step_row(step, pool, vals))
                        break;
                }
            }
            else if (!rc) {     /* later ones say PGRES_PIPELINE_ABORTED */
                const char *state = PQresultErrorField(res,
                                                       PG_DIAG_SQLSTATE);

                rc = -1;
                *why = apr_pstrdup(pool, PQresultErrorMessage(res));
                /* deadlock_detected, serialization_failure */
                if (state && (!strcmp(state, "40P01")
                              || !strcmp(state, "40001")))
                    db->conflict = 1;
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

/* COMMIT was the last step of the writes; a failure leaves the transaction
 * open (aborted) where it did not break the connection. */
static int pgsql_end(pv_db_t *db, apr_pool_t *pool, apr_dbd_transaction_t *txn,
                     int rc, const char **why)
{
    const char *ignored;

    (void)txn;
    (void)why;
    if (PQtransactionStatus(db->pg) != PQTRANS_IDLE)
        pg_exec(db->pg, pool, "ROLLBACK", &ignored);
    return rc;
}

/* A reconnection (PQreset here or in apr_dbd_check_conn) loses the
 * server-side prepared statements: apr_dbd prepares them again. */
const pv_backend_t pv_backend_pgsql = {
    "pgsql",
    pgsql_attach,
    pgsql_run,
    1,
    NULL,
    pgsql_end,
    pv_dbd_prepare_again
};
