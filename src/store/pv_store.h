/* The database phase, on one mod_dbd connection: load the order, then record
 * the verification in one transaction. Only apr_dbd (and the native SQLite
 * and libpq handles behind it), no httpd. */
#ifndef PV_STORE_H
#define PV_STORE_H

#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_global_mutex.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "pv_decide.h"
#include "pv_error.h"
#include "pv_sqlparam.h"
#include "pv_stats.h"

/* A statement under the label mod_dbd prepared it with. Labels are unique
 * per SQL text and scope: every cache of prepared statements (mod_dbd's,
 * the native SQLite one, PostgreSQL's server-side ones) is keyed by it. */
typedef struct {
    const char *label;      /* NULL: not configured */
    pv_sql_t sql;
} pv_stmt_t;

/* The module's own statements, the same for every scope of a database. */
typedef enum {
    PV_STMT_INSERT,         /* a first record of a payment */
    PV_STMT_UPDATE,         /* the record follows PortOne's answer */
    PV_STMT_EVENT,          /* the outbox row */
    PV_STMT_CURRENT,        /* the recorded outcome, outside a transaction */
    PV_STMT_CURRENT_LOCKED, /* the same, locking the row (FOR UPDATE) */
    PV_STMT_ORDER_LOCK,     /* the order's row in portone_orders, locked */
    PV_STMT_ORDER_STATE,    /* which payment paid the order */
    PV_STMT_ORDER_PAID,     /* this payment paid the order */
    PV_STMT_ORDER_UNPAID,   /* the payment that paid it moved on */
    PV_STMT_REFUND_CLAIM,   /* a forgery's cancel claimed (refund) */
    PV_STMT_REFUND_DONE,    /* its cancel succeeded */
    PV_STMT_REFUND_UNDO,    /* its cancel refused: the claim given back */
    PV_STMT_REFUND_UNANSWERED,  /* no answer said what PortOne did */

    PV_STMT_RECONCILE,      /* payments still waiting (portone-reconcile) */
    PV_STMT_COUNT
} pv_stmt_id;

/* What one <Location> (or server) brings: the shop's SQL. */
typedef struct {
    const pv_stmt_t *order;         /* PortOneOrderQuery */
    const pv_stmt_t *order_update;  /* PortOneOrderUpdateQuery; NULL: none */
    const char *order_key;          /* names the order query (portone_orders) */
    const pv_stmt_t *reconcile;     /* PortOneReconcileQuery; NULL: none */
} pv_scope_t;

/* A process's writers to one database, committing together (see
 * pv_store.c). */
typedef struct pv_group pv_group_t;

typedef struct {
    pv_stmt_t stmt[PV_STMT_COUNT];
    /* SQLite has one writer at a time and makes the others poll for its
     * lock (sleeping between tries), so a second transaction of the same
     * process would wait on the first while blocking it. Writers of all
     * httpd processes take turns on this mutex instead, which wakes the
     * next one at once; the busy timeout remains for other programs using
     * the file. NULL for servers with row locks. Set by the glue. */
    apr_global_mutex_t *serial;
    /* SQLite and PostgreSQL: the writers of this process hand their
     * verifications to one of them, which runs them all in one transaction
     * and commits them at once (group commit). NULL: one transaction each.
     * Set per process by the glue (pv_store_group_create) where |batch|
     * says. */
    pv_group_t *group;
    int batch;              /* the driver gets a commit group (pv_store_init) */
    pv_stats_t *stats;      /* commits counted there; may be NULL */
} pv_store_t;

/* A connection as mod_dbd hands it out (ap_dbd_t without httpd). */
typedef struct pv_native pv_native_t;
struct pg_conn;                 /* libpq's PGconn */

typedef struct {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;
    apr_pool_t *pool;       /* the connection's own pool */
    pv_native_t *native;    /* SQLite: the connection itself (pv_store_attach) */
    struct pg_conn *pg;     /* PostgreSQL: the connection itself, for batches */
    /* set by a failed transaction that lost a lock conflict with another
     * (a deadlock: the database rolled it back, the connection is fine;
     * MySQL 1213, PostgreSQL 40P01/40001): worth running again */
    int conflict;
} pv_db_t;

/* A commit group for one process's writers to one database. */
apr_status_t pv_store_group_create(apr_pool_t *pool, pv_group_t **group);

/* Fills the module's own statements for |driver| under labels made from
 * |prefix|, and |batch|. NULL or an error message. */
const char *pv_store_init(apr_pool_t *pool, pv_store_t *store,
                          const char *driver, const char *prefix);

/* Once per connection, the first time a request uses it: SQLite's busy
 * timeout and its statement cache (kept in the connection's pool). Sets
 * db->native (SQLite) or db->pg (PostgreSQL). */
void pv_store_attach(pv_db_t *db);

/* The values every statement can ask for, from the payment and outcome;
 * |order_key| is the scope's; |api| the API the payment was looked up with,
 * "v1" or "v2" (:api; NULL is "v1"). */
void pv_store_values(const pv_payment_t *pay, pv_outcome outcome,
                     const char *order_key, const char *api,
                     const char **values, apr_pool_t *pool);

/* Loads the order with the scope's PortOneOrderQuery, and the payment's
 * record as it is now (|prior|, for answering a verification that changes
 * nothing without a write transaction): PV_OK with |*found| 0 or 1, or
 * PV_E_DATABASE_UNAVAILABLE. */
pv_err pv_store_load_order(const pv_store_t *store, const pv_scope_t *scope,
                           pv_db_t *db, apr_pool_t *pool,
                           const char *const *values, pv_order_t *order,
                           int *found, pv_record_t *prior, const char **why);

/* What recording a verification did. */
typedef struct {
    pv_action action;       /* what happened to the payment's record */
    int order_moved;        /* the order update ran */
    int order_kept;         /* it did not: another payment paid the order */
    pv_outcome recorded;    /* the payment's outcome afterwards */
    int refund_claimed;     /* this verification claimed the forgery's
                             * cancel: it must send it, then call
                             * pv_store_refund_finish */
    int refund_settled;     /* it found an unanswered cancel done: the
                             * refunded event was written */
    int refund_reclaimed;   /* the cancel it claimed had gone unanswered:
                             * a refusal of this one says nothing of that
                             * one (recorded as unanswered, not given back) */
    pv_refund refund;       /* the refund column afterwards */
} pv_result_t;

/* Records the verification (contract section 6): in one transaction with
 * the order's row in portone_orders locked, so that the payments of one
 * order are decided one after the other (pv_transition, pv_order_moves).
 * |prior| is what pv_store_load_order read: when it says nothing would
 * change, no transaction runs. |refund| (pv_refund_intent_of, with
 * PortOneCancelForgery On; PV_INTENT_NONE otherwise): the transaction
 * claims the forgery's cancel when the record it leaves allows it
 * (pv_refund_claims), so that of all verifications of the payment, in
 * every process and server, one claims it (result->refund_claimed says
 * whether this one did); or settles an unanswered one (pv_refund_settles,
 * result->refund_settled). */
/* Whether pv_store_record would run a write transaction for a payment
 * whose record read as |prior| (NULL or not found: a first record), for
 * |outcome|, |cancel_amount| and |refund|: the caller writes PortOne's
 * response as JSON text (pv_payment_response_json) only then. */
int pv_store_writes(const pv_record_t *prior, pv_outcome outcome,
                    const char *cancel_amount, pv_refund_intent refund);

pv_err pv_store_record(const pv_store_t *store, const pv_scope_t *scope,
                       pv_db_t *db, apr_pool_t *pool,
                       const char *const *values, pv_outcome outcome,
                       pv_refund_intent refund, const pv_record_t *prior,
                       pv_result_t *result, const char **why);

/* After the cancel that result->refund_claimed asked for, PortOne's
 * |answer|: DONE marks the payment refunded and writes its event
 * `refunded` (once: the event's unique key); REFUSED gives the claim back,
 * so that the next verification tries again; UNKNOWN marks it unanswered:
 * the next verification settles it when PortOne reports the payment
 * cancelled, or claims it again while PortOne reports it paid. One short
 * transaction of its own, on a connection the caller opened after PortOne
 * answered. PV_OK or PV_E_DATABASE_UNAVAILABLE (rolled back; the claim
 * stays). */
pv_err pv_store_refund_finish(const pv_store_t *store, pv_db_t *db,
                              apr_pool_t *pool, const char *const *values,
                              pv_cancel_result answer, const char **why);

/* Loads the order |merchant_uid| (V2: the paymentId, also as :imp_uid)
 * with the scope's PortOneOrderQuery, for portone-prepare: PV_OK with
 * |*found| 0 or 1, or PV_E_DATABASE_UNAVAILABLE. */
pv_err pv_store_order(const pv_store_t *store, const pv_scope_t *scope,
                      pv_db_t *db, apr_pool_t *pool, const char *merchant_uid,
                      const char *imp_uid, pv_order_t *order, int *found,
                      const char **why);

/* One id portone-reconcile looks up again. */
typedef struct {
    const char *api;        /* "v1" or "v2": a payment recorded waiting;
                             * NULL: an order id of PortOneReconcileQuery */
    const char *id;         /* the payment's imp_uid (V2 paymentId), or the
                             * order's id (merchant_uid or paymentId) */
} pv_waiting_t;

/* What portone-reconcile looks up, read on one connection, at most |max|
 * (pv_waiting_t, in |pool|): first the payments of the scope's orders
 * (order_key) recorded pending or vbank_issued whose row is at least
 * |older_than| seconds old by the database's clock, the most recently
 * updated first; then the first column of the scope's
 * PortOneReconcileQuery (if any), as many as are left (NULL values and
 * empty ones skipped). PV_OK or PV_E_DATABASE_UNAVAILABLE. */
pv_err pv_store_waiting(const pv_store_t *store, const pv_scope_t *scope,
                        pv_db_t *db, apr_pool_t *pool, long older_than,
                        int max, apr_array_header_t **out, const char **why);

/* After a failure: checks the connection (which may reconnect) and prepares
 * the module's and the scope's statements again where they were lost
 * (PostgreSQL loses them with a reconnection). APR_SUCCESS when a retry
 * makes sense. */
apr_status_t pv_store_recover(const pv_store_t *store, const pv_scope_t *scope,
                              pv_db_t *db);

#endif
