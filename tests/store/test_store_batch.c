/* The commit group: several writers' verifications recorded in one
 * transaction, each decided through the items before it in the batch (the
 * overlay of its order's payer and of its payment's record), and the
 * fallback to one transaction each when a statement of the batch fails.
 *
 * Each verification runs in a thread of its own on a connection of its
 * own, as httpd's request threads do. The test holds the writers' mutex
 * (pv_store_t.serial; the test sets one where the glue has none) while the
 * threads queue: the first becomes the leader and waits for the mutex, the
 * others queue behind it in the order they are started, and all of them go
 * into the leader's one transaction. */
#include "store_env.h"

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <stdio.h>

typedef struct {
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *arrived;
    int count;                  /* threads about to record */
} gate_t;

typedef struct {
    env_t *e;
    conn_t *c;
    apr_pool_t *pool;           /* its request's */
    gate_t *gate;
    const char *imp_uid, *merchant_uid, *cancel_amount;
    pv_outcome outcome;
    pv_refund_intent refund;    /* PortOneCancelForgery's, for the forgery */
    pv_err err;
    pv_result_t res;
    const char *why;
    int retried;                /* a first attempt failed */
    FILE *trace;                /* PostgreSQL: its connection's messages */
} job_t;

/* Only the store runs here: checks are made by the main thread. As the
 * glue does, a database error is retried once after pv_store_recover. */
static void *APR_THREAD_FUNC job_run(apr_thread_t *thread, void *data)
{
    job_t *j = data;
    const char **values = verification(j->e, j->pool, &j->e->scope,
                                       j->imp_uid, j->merchant_uid,
                                       j->outcome, j->cancel_amount);
    pv_order_t order;
    pv_record_t prior;
    int found = 0, attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0) {
            j->retried = 1;
            if (pv_store_recover(&j->e->store, &j->e->scope, &j->c->db))
                break;
        }
        j->err = pv_store_load_order(&j->e->store, &j->e->scope, &j->c->db,
                                     j->pool, values, &order, &found, &prior,
                                     &j->why);
        if (j->gate && attempt == 0) {
            apr_thread_mutex_lock(j->gate->lock);
            j->gate->count++;
            apr_thread_cond_signal(j->gate->arrived);
            apr_thread_mutex_unlock(j->gate->lock);
        }
        if (j->err != PV_OK)
            continue;
        if (!found) {
            j->err = PV_E_ORDER_NOT_FOUND;
            break;
        }
        j->err = pv_store_record(&j->e->store, &j->e->scope, &j->c->db,
                                 j->pool, values, j->outcome, j->refund, &prior,
                                 &j->res, &j->why);
        if (j->err == PV_OK)
            break;
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* Runs |n| jobs (filled in but for their connections), as one batch when
 * |gated|, else all at once; 0 when every thread ran. */
static int run_jobs(env_t *e, apr_pool_t *pool, job_t *jobs, int n, int gated)
{
    apr_global_mutex_t *serial = e->store.serial;
    apr_thread_t *threads[16];
    gate_t gate;
    int i, started = 0;

    if (gated && !serial
        && apr_global_mutex_create(&e->store.serial, NULL, APR_LOCK_DEFAULT,
                                   pool)) {
        DB_CHECK(!"cannot create a mutex");
        return -1;
    }
    apr_thread_mutex_create(&gate.lock, APR_THREAD_MUTEX_DEFAULT, pool);
    apr_thread_cond_create(&gate.arrived, pool);
    gate.count = 0;
    for (i = 0; i < n; i++) {
        apr_pool_create(&jobs[i].pool, pool);
        jobs[i].e = e;
        jobs[i].gate = gated ? &gate : NULL;
        if (!(jobs[i].c = conn_open(e, pool)))
            return -1;
        jobs[i].trace = pg_trace(jobs[i].c);
    }
    if (gated)
        apr_global_mutex_lock(e->store.serial);
    for (i = 0; i < n; i++) {
        if (apr_thread_create(&threads[i], NULL, job_run, &jobs[i], pool))
            break;
        started++;
        if (!gated)
            continue;
        /* the thread has read its order and is about to queue: give it the
         * time to, so that the queue has the jobs' order */
        apr_thread_mutex_lock(gate.lock);
        while (gate.count < started)
            apr_thread_cond_wait(gate.arrived, gate.lock);
        apr_thread_mutex_unlock(gate.lock);
        apr_sleep(apr_time_from_msec(50));
    }
    if (gated) {
        apr_sleep(apr_time_from_msec(100));
        apr_global_mutex_unlock(e->store.serial);
    }
    for (i = 0; i < started; i++) {
        apr_status_t rv;

        apr_thread_join(&rv, threads[i]);
    }
    e->store.serial = serial;
    DB_INT_EQ(started, n);
    return started == n ? 0 : -1;
}

static void job(job_t *j, const char *imp_uid, const char *merchant_uid,
                pv_outcome outcome, const char *cancel_amount)
{
    memset(j, 0, sizeof(*j));
    j->imp_uid = imp_uid;
    j->merchant_uid = merchant_uid;
    j->outcome = outcome;
    j->cancel_amount = cancel_amount;
}

#define DB_JOB(j, act, moved, kept, rec)                                    \
    do {                                                                    \
        DB_INT_EQ((j).err, PV_OK);                                          \
        DB_INT_EQ((j).res.action, act);                                     \
        DB_INT_EQ((j).res.order_moved, moved);                              \
        DB_INT_EQ((j).res.order_kept, kept);                                \
        DB_INT_EQ((j).res.recorded, rec);                                   \
    } while (0)

STORE_TEST_BATCHED(store_batch_decides_through_earlier_items)
{
    conn_t *c = conn_open(e, pool);
    job_t jobs[6];
    pv_result_t res;
    const char *why;
    apr_uint64_t commits, written;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    add_order(e, c, "o2", "10000", "KRW");
    /* before the batch: o1's first attempt failed */
    DB_INT_EQ(record(e, c, pool, &e->scope, "imp_z", "o1", PV_OUT_FAILED, "0",
                     0, &res, &why), PV_OK);
    commits = e->stats.db_commits;
    written = e->stats.db_written;

    /* in the queue's order; the batch sorts them by order and payment:
     * o1: imp_a, imp_b, imp_z; o2: imp_d three times, in this order */
    job(&jobs[0], "imp_a", "o1", PV_OUT_PAID, "0");
    job(&jobs[1], "imp_b", "o1", PV_OUT_FAILED, "0");
    job(&jobs[2], "imp_d", "o2", PV_OUT_PAID, "0");
    job(&jobs[3], "imp_d", "o2", PV_OUT_PAID, "0");
    job(&jobs[4], "imp_d", "o2", PV_OUT_PAID, "500");
    job(&jobs[5], "imp_z", "o1", PV_OUT_PAID, "0");
    if (run_jobs(e, pool, jobs, 6, 1))
        return;
    /* one transaction for all of them; on PostgreSQL in two round trips
     * (besides one for each load) */
    DB_INT_EQ(e->stats.db_commits - commits, 1);
    DB_INT_EQ(e->stats.db_written - written, 6);
    if (jobs[0].trace) {
        int i, trips = 0;

        for (i = 0; i < 6; i++)
            trips += pg_round_trips(jobs[i].c, jobs[i].trace);
        DB_INT_EQ(trips, 6 + 2);
    }

    DB_JOB(jobs[0], PV_ACT_INSERT, 1, 0, PV_OUT_PAID);
    /* o1's payer is imp_a, written by nobody yet: seen through imp_a */
    DB_JOB(jobs[1], PV_ACT_INSERT, 0, 1, PV_OUT_FAILED);
    /* the late approval of the failed first attempt: a paid payment moves
     * the order, whose payer stays imp_a */
    DB_JOB(jobs[5], PV_ACT_ADVANCE, 1, 0, PV_OUT_PAID);
    /* imp_d's record, inserted by nobody yet: seen through the first */
    DB_JOB(jobs[2], PV_ACT_INSERT, 1, 0, PV_OUT_PAID);
    DB_JOB(jobs[3], PV_ACT_NONE, 0, 0, PV_OUT_PAID);
    DB_JOB(jobs[4], PV_ACT_REFRESH, 0, 0, PV_OUT_PAID);

    DB_STR_EQ(sql_str(e, c, pool, "SELECT paid_imp_uid FROM portone_orders "
                      "WHERE merchant_uid = 'o1'"), "imp_a");
    DB_STR_EQ(sql_str(e, c, pool, "SELECT state FROM shop_orders WHERE "
                      "order_no = 'o1'"), "paid");
    DB_INT_EQ(sql_int(e, c, pool, "SELECT updates FROM shop_orders WHERE "
                      "order_no = 'o1'"), 3);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT outcome FROM portone_payments WHERE "
                      "imp_uid = 'imp_b'"), "failed");
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_z'"), 2);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_payments WHERE "
                      "imp_uid = 'imp_d'"), 1);
    DB_DEC_EQ(sql_str(e, c, pool, "SELECT cancel_amount FROM portone_payments "
                      "WHERE imp_uid = 'imp_d'"), "500");
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_d'"), 1);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT updates FROM shop_orders WHERE "
                      "order_no = 'o2'"), 1);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT paid_imp_uid FROM portone_orders "
                      "WHERE merchant_uid = 'o2'"), "imp_d");
}

STORE_TEST_BATCHED(store_batch_with_a_failing_statement_runs_each_alone)
{
    conn_t *c = conn_open(e, pool);
    job_t jobs[3];
    apr_uint64_t commits, written;

    if (!c)
        return;
    add_order(e, c, "o3", "10000", "KRW");
    add_order(e, c, "o4", "10000", "KRW");
    add_order(e, c, "poison", "10000", "KRW");  /* its update fails */
    commits = e->stats.db_commits;
    written = e->stats.db_written;
    job(&jobs[0], "imp_q", "o3", PV_OUT_PAID, "0");
    job(&jobs[1], "imp_p", "poison", PV_OUT_PAID, "0");
    job(&jobs[2], "imp_r", "o4", PV_OUT_FAILED, "0");
    if (run_jobs(e, pool, jobs, 3, 1))
        return;
    /* the batch rolled back, then one transaction each: two committed */
    DB_INT_EQ(e->stats.db_commits - commits, 2);
    DB_INT_EQ(e->stats.db_written - written, 2);
    DB_JOB(jobs[0], PV_ACT_INSERT, 1, 0, PV_OUT_PAID);
    DB_JOB(jobs[2], PV_ACT_INSERT, 1, 0, PV_OUT_FAILED);
    DB_INT_EQ(jobs[1].err, PV_E_DATABASE_UNAVAILABLE);
    DB_CHECK(jobs[1].why != NULL);

    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_payments WHERE "
                      "imp_uid = 'imp_p'"), 0);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_p'"), 0);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_orders WHERE "
                      "merchant_uid = 'poison'"), 0);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT updates FROM shop_orders WHERE "
                      "order_no = 'poison'"), 0);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid IN ('imp_q', 'imp_r')"), 2);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT updates FROM shop_orders WHERE "
                      "order_no = 'o3'"), 1);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT state FROM shop_orders WHERE "
                      "order_no = 'o4'"), "failed");
}

/* Racing verifications of two payments of one order, on every database
 * (MySQL/MariaDB: concurrent transactions, no commit group): one record and
 * one event per payment and outcome, and the order updated exactly as
 * often as the results say it moved. */
STORE_TEST(store_race_records_once)
{
    conn_t *c = conn_open(e, pool);
    job_t jobs[12];
    int i, inserts_1 = 0, inserts_2 = 0, moved = 0;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    for (i = 0; i < 12; i++)
        job(&jobs[i], i % 2 ? "imp_2" : "imp_1", "o1",
            i % 2 ? PV_OUT_FAILED : PV_OUT_PAID, "0");
    if (run_jobs(e, pool, jobs, 12, 0))
        return;
    for (i = 0; i < 12; i++) {
        DB_INT_EQ(jobs[i].err, PV_OK);
        if (jobs[i].err != PV_OK)
            printf("    [%s] job %d: %s\n", e->name, i, jobs[i].why);
        DB_INT_EQ(jobs[i].res.recorded, jobs[i].outcome);
        if (jobs[i].res.action == PV_ACT_INSERT)
            ++*(i % 2 ? &inserts_2 : &inserts_1);
        moved += jobs[i].res.order_moved;
    }
    DB_INT_EQ(inserts_1, 1);
    DB_INT_EQ(inserts_2, 1);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_1' AND outcome = 'paid'"), 1);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_2' AND outcome = 'failed'"), 1);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT updates FROM shop_orders WHERE "
                      "order_no = 'o1'"), moved);
    DB_CHECK(moved == 1 || moved == 2);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT state FROM shop_orders WHERE "
                      "order_no = 'o1'"), "paid");
    DB_STR_EQ(sql_str(e, c, pool, "SELECT paid_imp_uid FROM portone_orders "
                      "WHERE merchant_uid = 'o1'"), "imp_1");
}

/* PortOneCancelForgery: of several verifications of one forgery in one
 * batch, the first claims the cancel and the ones after it see its claim;
 * PortOne's answer recorded (pv_store_refund_finish) writes one event
 * refunded; later verifications claim nothing more. */
STORE_TEST_BATCHED(store_batch_claims_a_forgery_cancel_once)
{
    conn_t *c = conn_open(e, pool);
    job_t jobs[4];
    const char **values;
    const char *why = NULL;
    int i, claimed = 0;

    if (!c)
        return;
    add_order(e, c, "o5", "12000", "KRW");
    for (i = 0; i < 4; i++) {
        job(&jobs[i], "imp_f", "o5", PV_OUT_FORGERY, "0");
        jobs[i].refund = PV_INTENT_CANCEL;
    }
    if (run_jobs(e, pool, jobs, 4, 1))
        return;
    for (i = 0; i < 4; i++) {
        DB_INT_EQ(jobs[i].err, PV_OK);
        DB_INT_EQ(jobs[i].res.recorded, PV_OUT_FORGERY);
        claimed += jobs[i].res.refund_claimed;
    }
    DB_INT_EQ(claimed, 1);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT refund FROM portone_payments WHERE "
                      "imp_uid = 'imp_f'"), "claimed");

    /* another verification meanwhile: claimed, nothing to do */
    jobs[0].res.refund_claimed = 0;
    job(&jobs[0], "imp_f", "o5", PV_OUT_FORGERY, "0");
    jobs[0].refund = PV_INTENT_CANCEL;
    if (run_jobs(e, pool, jobs, 1, 0))
        return;
    DB_INT_EQ(jobs[0].res.refund_claimed, 0);
    DB_INT_EQ(jobs[0].res.refund, PV_REFUND_CLAIMED);

    /* PortOne cancelled it */
    values = verification(e, pool, &e->scope, "imp_f", "o5", PV_OUT_FORGERY,
                          "0");
    DB_INT_EQ(pv_store_refund_finish(&e->store, &c->db, pool, values,
                                     PV_CANCEL_DONE, &why), PV_OK);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT refund FROM portone_payments WHERE "
                      "imp_uid = 'imp_f'"), "refunded");
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_f' AND outcome = 'refunded'"), 1);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_f'"), 2);
    /* the order is not touched by a forgery or its cancel */
    DB_INT_EQ(sql_int(e, c, pool, "SELECT updates FROM shop_orders WHERE "
                      "order_no = 'o5'"), 0);
}

/* A refused cancel gives the claim back; an unanswered one is settled by a
 * verification that finds the payment cancelled, or claimed again. */
STORE_TEST(store_refund_refused_and_unanswered)
{
    conn_t *c = conn_open(e, pool);
    const char **values;
    const char *why = NULL;
    pv_result_t res;
    pv_record_t prior;
    pv_order_t order;
    int found = 0;

    if (!c)
        return;
    add_order(e, c, "o6", "12000", "KRW");
    values = verification(e, pool, &e->scope, "imp_g", "o6", PV_OUT_FORGERY,
                          "0");
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(pv_store_record(&e->store, &e->scope, &c->db, pool, values,
                              PV_OUT_FORGERY, PV_INTENT_CANCEL, &prior, &res,
                              &why), PV_OK);
    DB_INT_EQ(res.refund_claimed, 1);
    DB_INT_EQ(pv_store_refund_finish(&e->store, &c->db, pool, values,
                                     PV_CANCEL_REFUSED, &why), PV_OK);
    DB_CHECK(sql_str(e, c, pool, "SELECT refund FROM portone_payments WHERE "
                     "imp_uid = 'imp_g'") == NULL);

    /* the next verification claims it again (the record read says so) */
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(prior.refund, PV_REFUND_NONE);
    DB_INT_EQ(pv_store_record(&e->store, &e->scope, &c->db, pool, values,
                              PV_OUT_FORGERY, PV_INTENT_CANCEL, &prior, &res,
                              &why), PV_OK);
    DB_INT_EQ(res.refund_claimed, 1);
    DB_INT_EQ(res.refund_reclaimed, 0);     /* it was given back: a new one */
    DB_INT_EQ(pv_store_refund_finish(&e->store, &c->db, pool, values,
                                     PV_CANCEL_UNKNOWN, &why), PV_OK);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT refund FROM portone_payments WHERE "
                      "imp_uid = 'imp_g'"), "unanswered");

    /* a look-up that says paid claims the unanswered cancel again, and says
     * so: a refusal of that one is recorded unanswered (pv_pipeline) */
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(pv_store_record(&e->store, &e->scope, &c->db, pool, values,
                              PV_OUT_FORGERY, PV_INTENT_CANCEL, &prior, &res,
                              &why), PV_OK);
    DB_INT_EQ(res.refund_claimed, 1);
    DB_INT_EQ(res.refund_reclaimed, 1);
    DB_INT_EQ(pv_store_refund_finish(&e->store, &c->db, pool, values,
                                     PV_CANCEL_UNKNOWN, &why), PV_OK);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT refund FROM portone_payments WHERE "
                      "imp_uid = 'imp_g'"), "unanswered");

    /* PortOne reports it cancelled: settled, its event written, no claim */
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(prior.refund, PV_REFUND_UNANSWERED);
    DB_INT_EQ(pv_store_record(&e->store, &e->scope, &c->db, pool, values,
                              PV_OUT_FORGERY, PV_INTENT_SETTLE, &prior, &res,
                              &why), PV_OK);
    DB_INT_EQ(res.refund_claimed, 0);
    DB_INT_EQ(res.refund_settled, 1);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT refund FROM portone_payments WHERE "
                      "imp_uid = 'imp_g'"), "refunded");
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                      "imp_uid = 'imp_g' AND outcome = 'refunded'"), 1);
    /* and again: nothing */
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(pv_store_record(&e->store, &e->scope, &c->db, pool, values,
                              PV_OUT_FORGERY, PV_INTENT_SETTLE, &prior, &res,
                              &why), PV_OK);
    DB_INT_EQ(res.refund_settled, 0);
    DB_INT_EQ(res.action, PV_ACT_NONE);
}
