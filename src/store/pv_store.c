/* What the back-ends share (the module's SQL is in pv_store_sql.c): the values,
 * loading the order, the decisions inside the recording transaction, the
 * batches and the group commit. Each back-end's own calls are in a file of
 * its own, behind pv_store_backend.h. */
#include "pv_store_backend.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- back-ends */

/* The back-ends that take a connection over from apr_dbd, by driver name;
 * any other connection goes through apr_dbd itself (pv_backend_dbd). */
static const pv_backend_t *const native_backends[] = {
    &pv_backend_sqlite, &pv_backend_pgsql
};

void pv_store_attach(pv_db_t *db)
{
    const char *name = apr_dbd_name(db->driver);
    size_t i;

    db->native = NULL;
    db->pg = NULL;
    for (i = 0; i < sizeof(native_backends) / sizeof(native_backends[0]); i++)
        if (!strcmp(native_backends[i]->driver, name)) {
            native_backends[i]->attach(db);
            return;
        }
    pv_backend_dbd.attach(db);
}

/* The back-end pv_store_attach chose for the connection. */
static const pv_backend_t *backend_of(const pv_db_t *db)
{
    if (db->native)
        return &pv_backend_sqlite;
    if (db->pg)
        return &pv_backend_pgsql;
    return &pv_backend_dbd;
}

void pv_store_values(const pv_payment_t *pay, pv_outcome outcome,
                     const char *order_key, const char *api,
                     const char **values, apr_pool_t *pool)
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
    values[PV_P_ORDER_KEY] = order_key;
    values[PV_P_API] = api ? api : "v1";
}

/* ------------------------------------------------------------------ steps */

/* Runs |n| steps: in one round trip on PostgreSQL, one by one elsewhere. 0
 * when every one succeeded; else the first error is in |*why|. */
static int run_steps(pv_db_t *db, apr_pool_t *pool, pv_step_t *steps, int n,
                     const char **why)
{
    if (n == 0)
        return 0;
    return backend_of(db)->run(db, pool, steps, n, why);
}

pv_err pv_store_load_order(const pv_store_t *store, const pv_scope_t *scope,
                           pv_db_t *db, apr_pool_t *pool,
                           const char *const *values, pv_order_t *order,
                           int *found, pv_record_t *prior, const char **why)
{
    pv_step_t steps[2];

    pv_step_set(&steps[0], scope->order, values, 2);
    pv_step_set(&steps[1], &store->stmt[PV_STMT_CURRENT], values, 3);
    if (run_steps(db, pool, steps, 2, why))
        return PV_E_DATABASE_UNAVAILABLE;
    *found = steps[0].found;
    order->amount = steps[0].cols[0];
    order->currency = steps[0].cols[1];
    prior->found = steps[1].found;
    prior->outcome = pv_outcome_from_name(steps[1].cols[0]);
    prior->cancel_amount = steps[1].cols[1];
    prior->refund = pv_refund_from_name(steps[1].cols[2]);
    return PV_OK;
}

/* ------------------------------------------------------------- recording */

typedef enum { PV_ITEM_QUEUED, PV_ITEM_DONE, PV_ITEM_ALONE } pv_item_state;

/* One verification to record, alone or in a group's batch. */
typedef struct pv_item {
    const pv_scope_t *scope;
    const char *const *values;
    pv_outcome outcome;
    pv_refund_intent refund;    /* pv_refund_intent_of */
    const char **refunded;      /* its values for the refunded event */
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
    int conflict;               /* rc is a lost lock conflict (db->conflict) */
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
    return !strcmp(a->values[PV_P_IMP_UID], b->values[PV_P_IMP_UID])
        && !strcmp(a->values[PV_P_API], b->values[PV_P_API]);
}

/* A payment as the order-level rule compares payers: "<api> <imp_uid>" (an
 * api has no space), so that a V1 and a V2 payment with the same id text
 * are two payers. NULL stays NULL; a NULL api is a V1 payment's. */
static const char *payer_id(apr_pool_t *pool, const char *api,
                            const char *imp_uid)
{
    return imp_uid ? apr_pstrcat(pool, api ? api : "v1", " ", imp_uid,
                                 (char *)NULL)
                   : NULL;
}

/* Decides item |i| from what the transaction read, seen through the items
 * before it in the batch (they have not written yet). */
static void decide(pv_item **items, int i, const pv_step_t *state,
                   const pv_step_t *cur)
{
    pv_item *it = items[i];
    const char *imp_uid = payer_id(it->pool, it->values[PV_P_API],
                                   it->values[PV_P_IMP_UID]);
    const char *paid_by = state->found ? payer_id(it->pool, state->cols[1],
                                                  state->cols[0])
                                       : NULL;
    pv_record_t prior = {cur->found, pv_outcome_from_name(cur->cols[0]),
                         cur->cols[1], pv_refund_from_name(cur->cols[2])};
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
        it->after.refund = prior.refund;
    }
    /* of the items of one payment, the first that may claims: the ones
     * after it see its claim in |after| */
    it->res.refund_claimed = pv_refund_claims(it->refund, &it->after);
    it->res.refund_reclaimed = it->res.refund_claimed
                               && it->after.refund == PV_REFUND_UNANSWERED;
    it->res.refund_settled = pv_refund_settles(it->refund, &it->after);
    if (it->res.refund_claimed)
        it->after.refund = PV_REFUND_CLAIMED;
    if (it->res.refund_settled) {
        it->after.refund = PV_REFUND_DONE;
        it->refunded = apr_pmemdup(it->pool, it->values,
                                   sizeof(*it->values) * PV_P_COUNT);
        it->refunded[PV_P_OUTCOME] = "refunded";
    }
    it->res.refund = it->after.refund;
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
        pv_step_set(&steps[k++], &store->stmt[PV_STMT_INSERT], it->values, 0);
    else if (it->res.action != PV_ACT_NONE)
        pv_step_set(&steps[k++], &store->stmt[PV_STMT_UPDATE], it->values, 0);
    if (changed && info->writes_event)
        pv_step_set(&steps[k++], &store->stmt[PV_STMT_EVENT], it->values, 0);
    if (it->res.order_moved)
        pv_step_set(&steps[k++], it->scope->order_update, it->values, 0);
    if (it->payer_write != PV_STMT_COUNT)
        pv_step_set(&steps[k++], &store->stmt[it->payer_write], it->values, 0);
    if (it->res.refund_claimed)
        pv_step_set(&steps[k++], &store->stmt[PV_STMT_REFUND_CLAIM],
                    it->values, 0);
    if (it->res.refund_settled) {
        pv_step_set(&steps[k++], &store->stmt[PV_STMT_REFUND_DONE],
                    it->values, 0);
        pv_step_set(&steps[k++], &store->stmt[PV_STMT_EVENT], it->refunded, 0);
    }
    return k;
}

#define PV_READS 3              /* per item: lock, order state, payment */
#define PV_WRITES 6             /* per item, at most */

/* Records |n| verifications in one transaction: the reads of all (order
 * rows locked in the batch's order), the decisions, the writes of all, the
 * commit. On PostgreSQL that is two round trips. 0, or an error in |*why|
 * with everything rolled back. */
static int record_batch(const pv_store_t *store, pv_db_t *db, apr_pool_t *pool,
                        pv_item **items, int n, const char **why)
{
    const pv_backend_t *b = backend_of(db);
    pv_step_t *steps = apr_palloc(pool, sizeof(*steps)
                                  * (size_t)(n * PV_WRITES + 1));
    pv_step_t *reads = apr_palloc(pool, sizeof(*reads)
                                  * (size_t)(n * PV_READS + 1));
    apr_dbd_transaction_t *txn = NULL;
    int i, k = 0, rc;

    db->conflict = 0;
    if (b->txn_in_steps)
        pv_step_plain(&reads[k++], "BEGIN");
    else if ((rc = b->begin(db, pool, &txn, why)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        pv_step_set(&reads[k++], &store->stmt[PV_STMT_ORDER_LOCK],
                 items[i]->values, 0);
        pv_step_set(&reads[k++], &store->stmt[PV_STMT_ORDER_STATE],
                 items[i]->values, 2);
        pv_step_set(&reads[k++], &store->stmt[PV_STMT_CURRENT_LOCKED],
                 items[i]->values, 3);
    }
    rc = run_steps(db, pool, reads, k, why);
    if (!rc) {
        int base = b->txn_in_steps ? 1 : 0;

        for (i = 0; i < n; i++)
            decide(items, i, &reads[base + i * PV_READS + 1],
                   &reads[base + i * PV_READS + 2]);
        for (i = 0, k = 0; i < n; i++)
            k += writes(store, items[i], &steps[k]);
        if (b->txn_in_steps)
            pv_step_plain(&steps[k++], "COMMIT");
        rc = run_steps(db, pool, steps, k, why);
    }
    return b->end(db, pool, txn, rc, why);
}

/* A write transaction that began (the writers' lock taken) at |since|:
 * its time, and if it committed (|rc| 0) the commit and its verifications. */
static void count_write(const pv_store_t *store, int rc, int verifications,
                        apr_time_t since)
{
    apr_time_t took;

    if (!store->stats)
        return;
    took = apr_time_now() - since;
    pv_stats_add(&store->stats->db_write_us,
                 (apr_uint64_t)(took > 0 ? took : 0));
    if (!rc) {
        pv_stats_add(&store->stats->db_commits, 1);
        pv_stats_add(&store->stats->db_written, (apr_uint64_t)verifications);
    }
}

/* One verification in a transaction of its own. */
static int record_alone(const pv_store_t *store, pv_db_t *db, pv_item *it)
{
    apr_time_t since;
    int rc;

    if (store->serial)
        apr_global_mutex_lock(store->serial);
    since = apr_time_now();
    it->why = NULL;
    rc = record_batch(store, db, it->pool, &it, 1, &it->why);
    it->conflict = rc && db->conflict;
    if (store->serial)
        apr_global_mutex_unlock(store->serial);
    count_write(store, rc, 1, since);
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
    if (!c)
        c = strcmp(x->values[PV_P_API], y->values[PV_P_API]);
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
    apr_time_t since;
    int rc, n, i;

    g->running = 1;
    apr_thread_mutex_unlock(g->lock);
    if (store->serial)
        apr_global_mutex_lock(store->serial);
    since = apr_time_now();
    apr_thread_mutex_lock(g->lock);
    n = take_batch(g, batch);
    apr_thread_mutex_unlock(g->lock);

    rc = record_batch(store, db, leader->pool, batch, n, &why);
    if (store->serial)
        apr_global_mutex_unlock(store->serial);
    count_write(store, rc, n, since);

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
            it->conflict = rc && db->conflict;
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

int pv_store_writes(const pv_record_t *prior, pv_outcome outcome,
                    const char *cancel_amount, pv_refund_intent refund)
{
    return !(prior && prior->found
             && pv_transition(prior, outcome, cancel_amount) == PV_ACT_NONE
             && !pv_refund_claims(refund, prior)
             && !pv_refund_settles(refund, prior));
}

pv_err pv_store_record(const pv_store_t *store, const pv_scope_t *scope,
                       pv_db_t *db, apr_pool_t *pool,
                       const char *const *values, pv_outcome outcome,
                       pv_refund_intent refund, const pv_record_t *prior,
                       pv_result_t *result, const char **why)
{
    pv_item it;
    int rc;

    memset(result, 0, sizeof(*result));
    /* A repeated verification (the browser and the webhook, retries) that
     * would change nothing costs one read and no write transaction. Records
     * only move forward, so what changes nothing from the state read changes
     * nothing from a newer one either. */
    if (!pv_store_writes(prior, outcome, values[PV_P_CANCEL_AMOUNT], refund)) {
        result->action = PV_ACT_NONE;
        result->recorded = prior->outcome;
        result->refund = prior->refund;
        return PV_OK;
    }
    /* a recording that may write has PortOne's answer to write (the caller
     * writes it as text only then: pv_payment_response_json) */
    if (!values[PV_P_RESPONSE]) {
        *why = "the payment's response was not written as JSON";
        return PV_E_DATABASE_UNAVAILABLE;
    }
    memset(&it, 0, sizeof(it));
    it.scope = scope;
    it.values = values;
    it.outcome = outcome;
    it.refund = refund;
    it.pool = pool;
    rc = store->group ? record_grouped(store, db, &it)
                      : record_alone(store, db, &it);
    if (rc) {
        *why = it.why ? it.why : "the transaction failed";
        db->conflict = it.conflict;     /* the leader's may have run it */
        return PV_E_DATABASE_UNAVAILABLE;
    }
    *result = it.res;
    return PV_OK;
}

pv_err pv_store_refund_finish(const pv_store_t *store, pv_db_t *db,
                              apr_pool_t *pool, const char *const *values,
                              pv_cancel_result answer, const char **why)
{
    const pv_backend_t *b = backend_of(db);
    const char *event[PV_P_COUNT];
    pv_step_t steps[4];
    apr_dbd_transaction_t *txn = NULL;
    apr_time_t since;
    int k = 0, rc = 0;

    memcpy(event, values, sizeof(event));
    event[PV_P_OUTCOME] = "refunded";
    *why = NULL;
    db->conflict = 0;
    if (store->serial)
        apr_global_mutex_lock(store->serial);
    since = apr_time_now();
    if (b->txn_in_steps)
        pv_step_plain(&steps[k++], "BEGIN");
    else
        rc = b->begin(db, pool, &txn, why);
    if (!rc) {
        if (answer == PV_CANCEL_DONE) {
            pv_step_set(&steps[k++], &store->stmt[PV_STMT_REFUND_DONE],
                        values, 0);
            pv_step_set(&steps[k++], &store->stmt[PV_STMT_EVENT], event, 0);
        }
        else
            pv_step_set(&steps[k++], &store->stmt[answer == PV_CANCEL_REFUSED
                                                  ? PV_STMT_REFUND_UNDO
                                                  : PV_STMT_REFUND_UNANSWERED],
                        values, 0);
        if (b->txn_in_steps)
            pv_step_plain(&steps[k++], "COMMIT");
        rc = run_steps(db, pool, steps, k, why);
        rc = b->end(db, pool, txn, rc, why);
    }
    if (store->serial)
        apr_global_mutex_unlock(store->serial);
    /* a cancel's record: a commit, no verification */
    count_write(store, rc, 0, since);
    if (rc) {
        if (!*why)
            *why = "the transaction failed";
        return PV_E_DATABASE_UNAVAILABLE;
    }
    return PV_OK;
}

apr_status_t pv_store_recover(const pv_store_t *store, const pv_scope_t *scope,
                              pv_db_t *db)
{
    const pv_backend_t *b = backend_of(db);
    const pv_stmt_t *all[PV_STMT_COUNT + 3];
    int id, n = 0;

    if (apr_dbd_check_conn(db->driver, db->pool, db->handle) != APR_SUCCESS)
        return APR_EGENERAL;
    if (!b->recover)
        return APR_SUCCESS;
    for (id = 0; id < PV_STMT_COUNT; id++)
        all[n++] = &store->stmt[id];
    all[n++] = scope->order;
    if (scope->order_update)
        all[n++] = scope->order_update;
    if (scope->reconcile)
        all[n++] = scope->reconcile;
    return b->recover(db, all, n);
}

/* ------------------------------------------------------------ reconcile */

pv_err pv_store_waiting(const pv_store_t *store, const pv_scope_t *scope,
                        pv_db_t *db, apr_pool_t *pool, long older_than,
                        int max, apr_array_header_t **out, const char **why)
{
    const char *values[PV_P_COUNT];
    pv_step_t steps[2];
    int i, k, n = 0;

    memset(values, 0, sizeof(values));
    values[PV_P_ORDER_KEY] = scope->order_key;
    values[PV_P_OLDER_THAN] = apr_ltoa(pool, older_than);
    *out = apr_array_make(pool, max > 0 ? max : 1, sizeof(pv_waiting_t));
    if (max <= 0)
        return PV_OK;
    pv_step_set(&steps[n], &store->stmt[PV_STMT_RECONCILE], values, 2);
    steps[n].rows = apr_array_make(pool, max, sizeof(pv_store_row_t));
    steps[n++].maxrows = max;
    if (scope->reconcile) {
        /* its named parameters, if any, are NULL */
        pv_step_set(&steps[n], scope->reconcile, values, 1);
        steps[n].rows = apr_array_make(pool, max, sizeof(pv_store_row_t));
        steps[n++].maxrows = max;
    }
    if (run_steps(db, pool, steps, n, why))
        return PV_E_DATABASE_UNAVAILABLE;
    for (k = 0; k < n; k++) {
        for (i = 0; i < steps[k].rows->nelts && (*out)->nelts < max; i++) {
            const pv_store_row_t *row = &APR_ARRAY_IDX(steps[k].rows, i,
                                                       pv_store_row_t);
            pv_waiting_t *w;

            if (k == 0 ? !row->cols[0] || !row->cols[1] || !*row->cols[1]
                       : !row->cols[0] || !*row->cols[0])
                continue;
            w = (pv_waiting_t *)apr_array_push(*out);
            w->api = k == 0 ? row->cols[0] : NULL;
            w->id = k == 0 ? row->cols[1] : row->cols[0];
        }
    }
    return PV_OK;
}

pv_err pv_store_order(const pv_store_t *store, const pv_scope_t *scope,
                      pv_db_t *db, apr_pool_t *pool, const char *merchant_uid,
                      const char *imp_uid, pv_order_t *order, int *found,
                      const char **why)
{
    const char *values[PV_P_COUNT];
    pv_step_t step;

    (void)store;
    memset(values, 0, sizeof(values));
    values[PV_P_MERCHANT_UID] = merchant_uid;
    values[PV_P_IMP_UID] = imp_uid;
    values[PV_P_ORDER_KEY] = scope->order_key;
    pv_step_set(&step, scope->order, values, 2);
    if (run_steps(db, pool, &step, 1, why))
        return PV_E_DATABASE_UNAVAILABLE;
    *found = step.found;
    order->amount = step.cols[0];
    order->currency = step.cols[1];
    return PV_OK;
}
