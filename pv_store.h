/* The database phase, on one mod_dbd connection: load the order, then record
 * the verification in one transaction. Only apr_dbd, no httpd. */
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

/* The statements, each under the label mod_dbd prepared it with. */
typedef enum {
    PV_STMT_ORDER,          /* PortOneOrderQuery */
    PV_STMT_ORDER_UPDATE,   /* PortOneOrderUpdateQuery (optional) */
    PV_STMT_INSERT,         /* a first record of a payment */
    PV_STMT_ADVANCE,        /* an outcome moving forward */
    PV_STMT_REFRESH,        /* the same outcome, PortOne's latest answer */
    PV_STMT_EVENT,          /* the outbox row */
    PV_STMT_CURRENT,        /* the recorded outcome, when it did not move */
    PV_STMT_COUNT
} pv_stmt_id;

typedef struct {
    const char *label;      /* NULL: not configured */
    pv_sql_t sql;
} pv_stmt_t;

/* A process's writers to one database, committing together (see
 * pv_store.c). */
typedef struct pv_group pv_group_t;

typedef struct {
    pv_stmt_t stmt[PV_STMT_COUNT];
    /* SQLite has one writer at a time and makes the others poll for its
     * lock (sleeping between tries), and apr_dbd holds a process-wide mutex
     * meanwhile, so a second transaction of the same process would wait on
     * the first while blocking it. Writers of all httpd processes take
     * turns on this mutex instead, which wakes the next one at once; the
     * busy timeout remains for other programs using the file. NULL for
     * servers with row locks. Set by the glue. */
    apr_global_mutex_t *serial;
    /* SQLite and PostgreSQL: the writers of this process hand their
     * statements to one of them, which runs them all in one transaction and
     * commits them at once (group commit). NULL: one transaction each. Set
     * per process by the glue (pv_store_group_create) where |batch| says. */
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
} pv_db_t;

/* A commit group for one process's writers to one database. */
apr_status_t pv_store_group_create(apr_pool_t *pool, pv_group_t **group);

/* Fills the module's own statements for |driver| under labels made from
 * |prefix|, and |batch|. NULL or an error message. */
const char *pv_store_init(apr_pool_t *pool, pv_store_t *store,
                          const char *driver, const char *prefix);

/* Runs once per connection before first use (SQLite: busy timeout). */
/* Once per connection, the first time a request uses it: SQLite's busy
 * timeout, and its statements prepared on the connection itself (kept in
 * the connection's pool). Sets db->native (SQLite) or db->pg (PostgreSQL). */
void pv_store_attach(pv_db_t *db);

/* The values every statement can ask for, from the payment and outcome. */
void pv_store_values(const pv_payment_t *pay, pv_outcome outcome,
                     const char **values, apr_pool_t *pool);

/* Loads the order: PV_OK with |*found| 0 or 1, or PV_E_DATABASE_UNAVAILABLE. */
/* The payment's record as it was when its order was loaded: PostgreSQL
 * reads it in the same round trip; elsewhere |known| is 0 and
 * pv_store_record reads it itself. */
typedef struct {
    int known, found;
    const char *outcome, *response;
} pv_prior_t;

pv_err pv_store_load_order(const pv_store_t *store, pv_db_t *db,
                           apr_pool_t *pool, const char *const *values,
                           pv_order_t *order, int *found, pv_prior_t *prior,
                           const char **why);

/* Records the verification in one transaction (contract section 6).
 * |*changed| is 1 when the outcome of the payment changed; |*recorded| is
 * the payment's outcome afterwards (a stale look-up leaves a newer one). */
pv_err pv_store_record(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                       const char *const *values, pv_outcome outcome,
                       const pv_prior_t *prior, int *changed,
                       pv_outcome *recorded, const char **why);

/* After a failure: checks the connection (which may reconnect) and prepares
 * every statement again where they were lost: PostgreSQL loses them with a
 * reconnection, SQLite's (apr_dbd prepares them the legacy way) expire for
 * good when the schema changes. APR_SUCCESS when a retry makes sense. */
apr_status_t pv_store_recover(const pv_store_t *store, pv_db_t *db);

#endif
