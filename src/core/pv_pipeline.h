/* The verification of one claim (contract sections 1 and 5), from PortOne's
 * answer to what is recorded and what is answered: the look-up, then the
 * database phase on a connection held only for it (load the order, decide,
 * record; once more on a recovered connection after a database error), then
 * the answer rule. No httpd: the glue lends the connections (mod_dbd), maps
 * the verdict to HTTP and writes the log. */
#ifndef PV_PIPELINE_H
#define PV_PIPELINE_H

#include <apr_errno.h>
#include <apr_pools.h>

#include "pv_client.h"
#include "pv_decide.h"
#include "pv_error.h"
#include "pv_request.h"
#include "pv_store.h"

/* The currency of an order whose query gives none, without PortOneCurrency */
#define PV_CURRENCY_DEFAULT "KRW"

/* Connections to the scope's database, lent by the glue (mod_dbd's
 * ap_dbd_open and ap_dbd_close). |open| fills |db| (driver, handle,
 * prepared statements, the connection's pool) and returns APR_SUCCESS, or
 * an error with |*why| for the log; |close| gives back what |open| lent.
 * The pipeline opens at most one, after PortOne has answered, and closes
 * it before it returns. */
typedef struct pv_dbconn pv_dbconn_t;
struct pv_dbconn {
    apr_status_t (*open)(pv_dbconn_t *self, apr_pool_t *pool, pv_db_t *db,
                         const char **why);
    void (*close)(pv_dbconn_t *self, pv_db_t *db);
    void *baton;                /* the glue's */
};

/* How many times a database phase runs again after losing a lock
 * conflict with another transaction (a deadlock), before it fails */
#define PV_CONFLICT_RETRIES 3

/* A scope's settings that the decision depends on. */
typedef struct {
    const char *currency;       /* PortOneCurrency; NULL: PV_CURRENCY_DEFAULT */
    int sandbox;                /* PortOneSandbox On: test payments are fine */
    int cancel_forgery;         /* PortOneCancelForgery On: a forgery that
                                 * took money is cancelled (once) */
} pv_pipeline_conf_t;

/* What a verification came to. */
typedef struct {
    pv_err err;                 /* PV_OK: decided and recorded */
    const char *why;            /* the error's cause, for the log */
    const char *retried;        /* the database error that was retried once
                                 * on a recovered connection; NULL: none */
    int conflicts;              /* transactions run again after they lost a
                                 * lock conflict (a deadlock) with another */
    pv_payment_t pay;           /* PortOne's answer (when it gave one) */
    pv_order_t order;           /* the order as read, currency defaulted */
    pv_decision_t decision;     /* what the checks say */
    pv_result_t recorded;       /* what recording did, the outcome after it */
    pv_outcome answer;          /* what to answer (pv_pipeline_answer) */
    /* PortOneCancelForgery: set when this verification claimed the cancel
     * of a forgery (recorded.refund_claimed) and sent it */
    pv_cancel_result refund;    /* what PortOne did with it */
    const char *refund_amount;  /* what was asked back (amount -
                                 * cancel_amount) */
    const char *refund_why;     /* PortOne's answer, for the log */
    const char *refund_db_why;  /* recording the answer failed (the claim
                                 * stays: see docs/security.md); NULL: it
                                 * was recorded */
} pv_verdict_t;

/* Verifies |claim|: looks the payment up with |client| (PortOne's answer
 * must name the imp_uid asked, else upstream_error), then runs
 * pv_pipeline_record. A V2 claim (payment_id set) is looked up with
 * pv_client_get_payment_v2 and recorded without a claimed merchant_uid. Fills |out| and returns out->err. */
pv_err pv_pipeline_run(apr_pool_t *pool, const pv_claim_t *claim,
                       const pv_pipeline_conf_t *conf, pv_client_t *client,
                       const pv_store_t *store, const pv_scope_t *scope,
                       pv_dbconn_t *conn, pv_verdict_t *out);

/* The database phase for |pay|, the payment PortOne gave (copied to
 * out->pay): on one connection of |conn|, loads the order PortOne names,
 * defaults its currency (pv_pipeline_currency), decides against
 * |claimed_merchant_uid| (may be NULL) and records; after a database error
 * it recovers the connection (pv_store_recover) and tries once more. PV_OK,
 * PV_E_ORDER_NOT_FOUND (nothing written) or PV_E_DATABASE_UNAVAILABLE
 * (nothing half-written). Fills |out| and returns out->err.
 *
 * With conf->cancel_forgery and a |client| (NULL: never), a forgery that
 * PortOne reports paid (pv_refund_intent_of) is claimed in the recording
 * transaction by one verification only (pv_store_record); that one, after
 * the connection is closed, cancels it through |client| (V1 with its
 * checksum, V2 with currentCancellableAmount and an Idempotency-Key) and
 * records PortOne's answer on a new connection (pv_store_refund_finish:
 * the event refunded, the claim given back for the next verification, or
 * the cancel marked unanswered); out->recorded.refund_claimed and
 * out->refund* say what happened (out->recorded.refund_settled: an
 * unanswered cancel found done, its event written). */
pv_err pv_pipeline_record(apr_pool_t *pool, const pv_payment_t *pay,
                          const char *claimed_merchant_uid,
                          const pv_pipeline_conf_t *conf, pv_client_t *client,
                          const pv_store_t *store, const pv_scope_t *scope,
                          pv_dbconn_t *conn, pv_verdict_t *out);

/* portone-prepare's database phase: on one connection of |conn|, closed
 * before it returns, loads the order |id| (V1 merchant_uid, or with |v2|
 * the paymentId, which is also :imp_uid) and defaults its currency
 * (pv_pipeline_currency); once more on a recovered connection after a
 * database error. PV_OK, PV_E_ORDER_NOT_FOUND or
 * PV_E_DATABASE_UNAVAILABLE (|*why|). */
pv_err pv_pipeline_order(apr_pool_t *pool, const char *id, int v2,
                         const pv_pipeline_conf_t *conf,
                         const pv_store_t *store, const pv_scope_t *scope,
                         pv_dbconn_t *conn, pv_order_t *order,
                         const char **why);

/* portone-reconcile (contract section 3). */
typedef struct {
    long older_than;            /* seconds */
    int limit;                  /* look-ups at most */
    int v1, v2;                 /* the scope's APIs (credentials set) */
    apr_time_t stop_after;      /* no look-up starts after this */
} pv_reconcile_conf_t;

typedef struct {
    int checked;                /* ids looked up */
    int changed;                /* records made or whose outcome changed */
    int failed;                 /* look-ups or records that errored */
    int skipped;                /* ids left for the next run: time was up */
} pv_reconcile_result_t;

/* Called after each id's look-up (and record): |v| is the verification of
 * the payment PortOne gave (v->err, v->why when it failed); |api| "v1" or
 * "v2"; |by_order| when the id came from PortOneReconcileQuery. */
typedef void pv_reconcile_note_fn(void *baton, const pv_waiting_t *w,
                                  const char *api, const pv_verdict_t *v);

/* Reads what is waiting (pv_store_waiting, at most conf->limit) on one
 * connection of |conn|, closed before PortOne is asked; then, one after
 * the other until conf->stop_after, looks each up with no connection held
 * and runs pv_pipeline_record for it (which takes a connection for its
 * database phase only): a payment recorded waiting by its api and id
 * (GET /payments/{imp_uid}, V2 by paymentId), an order id of
 * PortOneReconcileQuery with each API the scope has (V1 GET
 * /payments/find/{merchant_uid}, V2 GET /payments/{paymentId}; an order
 * PortOne has no payment for is checked, not failed). Each id's work lives
 * in a pool of its own. PV_OK with |out|; PV_E_DATABASE_UNAVAILABLE when
 * the list cannot be read (|*why|). */
pv_err pv_pipeline_reconcile(apr_pool_t *pool,
                             const pv_reconcile_conf_t *rc,
                             const pv_pipeline_conf_t *conf,
                             pv_client_t *client, const pv_store_t *store,
                             const pv_scope_t *scope, pv_dbconn_t *conn,
                             pv_reconcile_note_fn *note, void *baton,
                             pv_reconcile_result_t *out, const char **why);

/* The currency an order is due in: its own, else the scope's, else
 * PV_CURRENCY_DEFAULT. */
const char *pv_pipeline_currency(const pv_order_t *order,
                                 const pv_pipeline_conf_t *conf);

/* The answer rule: a failed check (or a claim naming another order) is
 * always answered as a forgery, also where the record stays as it was (a
 * paid payment whose order was edited after it); otherwise the payment's
 * recorded outcome, so that a stale look-up does not answer against a newer
 * record. */
pv_outcome pv_pipeline_answer(const pv_decision_t *dec,
                              const pv_result_t *res);

#endif
