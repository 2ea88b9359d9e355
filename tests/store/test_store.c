/* The store on a real database, one verification at a time: loading the
 * order, and recording as contract section 6 says (forward-only outcomes,
 * refreshes on a growing cancel_amount, the order-level rule). Each test
 * runs on every database of store_env.h. */
#include "store_env.h"

#include <apr_strings.h>
#include <libpq-fe.h>

/* the record and the order as the database has them */
static const char *outcome_of(env_t *e, conn_t *c, apr_pool_t *pool,
                              const char *imp_uid)
{
    return sql_str(e, c, pool, "SELECT outcome FROM portone_payments WHERE "
                   "imp_uid = '%s'", imp_uid);
}

static long events(env_t *e, conn_t *c, apr_pool_t *pool, const char *imp_uid,
                   const char *outcome)
{
    return sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                   "imp_uid = '%s' AND outcome = '%s'", imp_uid, outcome);
}

static long all_events(env_t *e, conn_t *c, apr_pool_t *pool,
                       const char *imp_uid)
{
    return sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_events WHERE "
                   "imp_uid = '%s'", imp_uid);
}

static long updates(env_t *e, conn_t *c, apr_pool_t *pool, const char *order)
{
    return sql_int(e, c, pool, "SELECT updates FROM shop_orders WHERE "
                   "order_no = '%s'", order);
}

static const char *state(env_t *e, conn_t *c, apr_pool_t *pool,
                         const char *order)
{
    return sql_str(e, c, pool, "SELECT state FROM shop_orders WHERE "
                   "order_no = '%s'", order);
}

/* portone_orders' payer of the order in the "shop" scope */
static const char *payer(env_t *e, conn_t *c, apr_pool_t *pool,
                         const char *order)
{
    return sql_str(e, c, pool, "SELECT paid_imp_uid FROM portone_orders "
                   "WHERE order_key = 'shop-key' AND merchant_uid = '%s'",
                   order);
}

#define REC(imp, order, outcome, cancel, forced)                            \
    record(e, c, pool, &e->scope, imp, order, outcome, cancel, forced,      \
           &res, &why)

/* checks one recording: its error, action, order update, order kept and
 * the recorded outcome */
#define DB_RESULT(call, act, moved, kept, rec)                              \
    do {                                                                    \
        DB_INT_EQ(call, PV_OK);                                             \
        DB_INT_EQ(res.action, act);                                         \
        DB_INT_EQ(res.order_moved, moved);                                  \
        DB_INT_EQ(res.order_kept, kept);                                    \
        DB_INT_EQ(res.recorded, rec);                                       \
    } while (0)

STORE_TEST(store_load_order)
{
    conn_t *c = conn_open(e, pool);
    const char **values;
    const char *why = NULL;
    pv_order_t order;
    pv_record_t prior;
    pv_result_t res;
    int found = -1;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    add_order(e, c, "o2", "5000.50", NULL);

    values = verification(e, pool, &e->scope, "imp_1", "o1", PV_OUT_PAID, "0");
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(found, 1);
    DB_DEC_EQ(order.amount, "10000");
    DB_STR_EQ(order.currency, "KRW");
    DB_INT_EQ(prior.found, 0);

    /* not found: PV_OK, nothing read */
    values = verification(e, pool, &e->scope, "imp_9", "nope", PV_OUT_PAID,
                          "0");
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(found, 0);
    DB_INT_EQ(prior.found, 0);

    /* a NULL currency, and a query without the column: NULL */
    values = verification(e, pool, &e->scope, "imp_2", "o2", PV_OUT_PAID, "0");
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(found, 1);
    DB_DEC_EQ(order.amount, "5000.5");
    DB_STR_EQ(order.currency, NULL);
    values = verification(e, pool, &e->scope_plain, "imp_1", "o1",
                          PV_OUT_PAID, "0");
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope_plain, &c->db, pool,
                                  values, &order, &found, &prior, &why),
              PV_OK);
    DB_INT_EQ(found, 1);
    DB_DEC_EQ(order.amount, "10000");
    DB_STR_EQ(order.currency, NULL);

    /* the payment's record as it is now */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "1500", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    values = verification(e, pool, &e->scope, "imp_1", "o1", PV_OUT_PAID, "0");
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(prior.found, 1);
    DB_INT_EQ(prior.outcome, PV_OUT_PAID);
    DB_DEC_EQ(prior.cancel_amount, "1500");
}

STORE_TEST(store_record_inserts_once)
{
    conn_t *c = conn_open(e, pool);
    const char *why;
    pv_result_t res;
    apr_uint64_t commits;

    FILE *trace;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    trace = pg_trace(c);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    /* PostgreSQL: one round trip for the load, two for the transaction */
    if (trace)
        DB_INT_EQ(pg_round_trips(c, trace), 3);
    DB_STR_EQ(outcome_of(e, c, pool, "imp_1"), "paid");
    DB_INT_EQ(events(e, c, pool, "imp_1", "paid"), 1);
    DB_INT_EQ(updates(e, c, pool, "o1"), 1);
    DB_STR_EQ(state(e, c, pool, "o1"), "paid");
    DB_STR_EQ(payer(e, c, pool, "o1"), "imp_1");
    DB_INT_EQ(e->stats.db_commits, 1);
    DB_INT_EQ(e->stats.db_written, 1);

    /* repeated: nothing changes, and no write transaction runs */
    commits = e->stats.db_commits;
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_NONE, 0, 0,
              PV_OUT_PAID);
    DB_INT_EQ(e->stats.db_commits, commits);
    /* the same decided inside the transaction (the prior read was older) */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 1), PV_ACT_NONE, 0, 0,
              PV_OUT_PAID);
    DB_INT_EQ(e->stats.db_commits, commits + 1);
    DB_INT_EQ(all_events(e, c, pool, "imp_1"), 1);
    DB_INT_EQ(updates(e, c, pool, "o1"), 1);

    /* an order the query does not find: nothing written */
    DB_INT_EQ(REC("imp_2", "nope", PV_OUT_PAID, "0", 0), PV_E_ORDER_NOT_FOUND);
    DB_STR_EQ(outcome_of(e, c, pool, "imp_2"), NULL);
}

/* PortOne's response is written as text only for a recording that may
 * write (pv_payment_response_json in pv_pipeline_record): without it a
 * recording that would write refuses and writes nothing, and one that
 * changes nothing (answered from the read) does not need it */
STORE_TEST(store_record_needs_the_response_only_to_write)
{
    conn_t *c = conn_open(e, pool);
    const char **values, *why = NULL;
    pv_order_t order;
    pv_record_t prior;
    pv_result_t res;
    int found = 0;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    values = verification(e, pool, &e->scope, "imp_1", "o1", PV_OUT_PAID, "0");
    values[PV_P_RESPONSE] = NULL;
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_INT_EQ(pv_store_record(&e->store, &e->scope, &c->db, pool, values,
                              PV_OUT_PAID, PV_INTENT_NONE, &prior, &res, &why),
              PV_E_DATABASE_UNAVAILABLE);
    DB_CHECK(why && strstr(why, "response"));
    DB_STR_EQ(outcome_of(e, c, pool, "imp_1"), NULL);
    DB_INT_EQ(all_events(e, c, pool, "imp_1"), 0);
    DB_INT_EQ(updates(e, c, pool, "o1"), 0);
    DB_INT_EQ(e->stats.db_commits, 0);

    /* recorded with it; then the same again without it: nothing to write */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    values = verification(e, pool, &e->scope, "imp_1", "o1", PV_OUT_PAID, "0");
    values[PV_P_RESPONSE] = NULL;
    DB_INT_EQ(pv_store_load_order(&e->store, &e->scope, &c->db, pool, values,
                                  &order, &found, &prior, &why), PV_OK);
    DB_RESULT(pv_store_record(&e->store, &e->scope, &c->db, pool, values,
                              PV_OUT_PAID, PV_INTENT_NONE, &prior, &res, &why),
              PV_ACT_NONE, 0, 0, PV_OUT_PAID);
    DB_INT_EQ(e->stats.db_commits, 1);
    DB_CHECK(sql_str(e, c, pool, "SELECT response FROM portone_payments "
                     "WHERE imp_uid = 'imp_1'") != NULL);
}

STORE_TEST(store_record_advances)
{
    conn_t *c = conn_open(e, pool);
    const char *why;
    pv_result_t res;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    /* pending: a record, no event, no order update */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PENDING, "0", 0), PV_ACT_INSERT, 0, 0,
              PV_OUT_PENDING);
    DB_INT_EQ(all_events(e, c, pool, "imp_1"), 0);
    DB_INT_EQ(updates(e, c, pool, "o1"), 0);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_VBANK_ISSUED, "0", 0), PV_ACT_ADVANCE,
              1, 0, PV_OUT_VBANK_ISSUED);
    DB_STR_EQ(state(e, c, pool, "o1"), "vbank_issued");
    DB_STR_EQ(payer(e, c, pool, "o1"), NULL);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 1), PV_ACT_ADVANCE, 1, 0,
              PV_OUT_PAID);
    DB_STR_EQ(outcome_of(e, c, pool, "imp_1"), "paid");
    DB_INT_EQ(events(e, c, pool, "imp_1", "vbank_issued"), 1);
    DB_INT_EQ(events(e, c, pool, "imp_1", "paid"), 1);
    DB_INT_EQ(updates(e, c, pool, "o1"), 2);
    DB_STR_EQ(state(e, c, pool, "o1"), "paid");
    DB_STR_EQ(payer(e, c, pool, "o1"), "imp_1");
    /* paid never goes back to vbank_issued or pending */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_VBANK_ISSUED, "0", 1), PV_ACT_NONE, 0,
              0, PV_OUT_PAID);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PENDING, "0", 1), PV_ACT_NONE, 0, 0,
              PV_OUT_PAID);
    DB_STR_EQ(outcome_of(e, c, pool, "imp_1"), "paid");
    DB_INT_EQ(updates(e, c, pool, "o1"), 2);
}

STORE_TEST(store_record_refreshes_on_a_growing_cancel_amount)
{
    OPEN_CONN(c);
    add_order(e, c, "o1", "10000", "KRW");
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "3000", 0), PV_ACT_REFRESH, 0, 0,
              PV_OUT_PAID);
    DB_DEC_EQ(sql_str(e, c, pool, "SELECT cancel_amount FROM portone_payments "
                      "WHERE imp_uid = 'imp_1'"), "3000");
    DB_INT_EQ(all_events(e, c, pool, "imp_1"), 1);
    DB_INT_EQ(updates(e, c, pool, "o1"), 1);
    /* a stale answer (a smaller or the same cancel_amount) changes nothing,
     * whether the prior read or the transaction sees it */
    for (forced = 0; forced < 2; forced++) {
        DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "1000", forced), PV_ACT_NONE,
                  0, 0, PV_OUT_PAID);
        DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "3000.00", forced),
                  PV_ACT_NONE, 0, 0, PV_OUT_PAID);
    }
    DB_DEC_EQ(sql_str(e, c, pool, "SELECT cancel_amount FROM portone_payments "
                      "WHERE imp_uid = 'imp_1'"), "3000");
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "4000", 1), PV_ACT_REFRESH, 0, 0,
              PV_OUT_PAID);
    DB_DEC_EQ(sql_str(e, c, pool, "SELECT cancel_amount FROM portone_payments "
                      "WHERE imp_uid = 'imp_1'"), "4000");
    DB_INT_EQ(all_events(e, c, pool, "imp_1"), 1);
}

STORE_TEST(store_record_failed_becomes_paid)
{
    conn_t *c = conn_open(e, pool);
    const char *why;
    pv_result_t res;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    DB_RESULT(REC("imp_1", "o1", PV_OUT_FAILED, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_FAILED);
    DB_STR_EQ(state(e, c, pool, "o1"), "failed");
    DB_STR_EQ(payer(e, c, pool, "o1"), NULL);
    /* nothing else follows failed */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_VBANK_ISSUED, "0", 1), PV_ACT_NONE, 0,
              0, PV_OUT_FAILED);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_CANCELLED, "0", 1), PV_ACT_NONE, 0, 0,
              PV_OUT_FAILED);
    /* a late approval */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_ADVANCE, 1, 0,
              PV_OUT_PAID);
    DB_INT_EQ(events(e, c, pool, "imp_1", "failed"), 1);
    DB_INT_EQ(events(e, c, pool, "imp_1", "paid"), 1);
    DB_INT_EQ(updates(e, c, pool, "o1"), 2);
    DB_STR_EQ(state(e, c, pool, "o1"), "paid");
    DB_STR_EQ(payer(e, c, pool, "o1"), "imp_1");
}

STORE_TEST(store_record_paid_never_becomes_a_forgery)
{
    OPEN_CONN(c);
    add_order(e, c, "o1", "10000", "KRW");
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    for (forced = 0; forced < 2; forced++)
        DB_RESULT(REC("imp_1", "o1", PV_OUT_FORGERY, "0", forced), PV_ACT_NONE,
                  0, 0, PV_OUT_PAID);
    DB_STR_EQ(outcome_of(e, c, pool, "imp_1"), "paid");
    DB_INT_EQ(events(e, c, pool, "imp_1", "forgery"), 0);
    DB_INT_EQ(updates(e, c, pool, "o1"), 1);
    DB_STR_EQ(state(e, c, pool, "o1"), "paid");

    /* a forgery: its event, never an order update, and final */
    add_order(e, c, "o2", "10000", "KRW");
    DB_RESULT(REC("imp_2", "o2", PV_OUT_FORGERY, "0", 0), PV_ACT_INSERT, 0, 0,
              PV_OUT_FORGERY);
    DB_INT_EQ(events(e, c, pool, "imp_2", "forgery"), 1);
    DB_INT_EQ(updates(e, c, pool, "o2"), 0);
    DB_RESULT(REC("imp_2", "o2", PV_OUT_PAID, "0", 1), PV_ACT_NONE, 0, 0,
              PV_OUT_FORGERY);
    DB_INT_EQ(updates(e, c, pool, "o2"), 0);
}

STORE_TEST(store_record_cancelled_is_final)
{
    OPEN_CONN(c);
    add_order(e, c, "o1", "10000", "KRW");
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    /* the payer itself cancelled: the order follows it, nobody paid it */
    DB_RESULT(REC("imp_1", "o1", PV_OUT_CANCELLED, "10000", 0), PV_ACT_ADVANCE,
              1, 0, PV_OUT_CANCELLED);
    DB_STR_EQ(state(e, c, pool, "o1"), "cancelled");
    DB_STR_EQ(payer(e, c, pool, "o1"), NULL);
    for (forced = 0; forced < 2; forced++) {
        DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", forced), PV_ACT_NONE, 0,
                  0, PV_OUT_CANCELLED);
        DB_RESULT(REC("imp_1", "o1", PV_OUT_FAILED, "0", forced), PV_ACT_NONE,
                  0, 0, PV_OUT_CANCELLED);
        DB_RESULT(REC("imp_1", "o1", PV_OUT_FORGERY, "0", forced), PV_ACT_NONE,
                  0, 0, PV_OUT_CANCELLED);
    }
    DB_STR_EQ(outcome_of(e, c, pool, "imp_1"), "cancelled");
    DB_INT_EQ(all_events(e, c, pool, "imp_1"), 2);
    DB_INT_EQ(updates(e, c, pool, "o1"), 2);
}

STORE_TEST(store_order_level_rule)
{
    conn_t *c = conn_open(e, pool);
    const char *why;
    pv_result_t res;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    DB_RESULT(REC("imp_a", "o1", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    /* later attempts that are not paid leave the paid order as it is; their
     * own records and events are written */
    DB_RESULT(REC("imp_b", "o1", PV_OUT_FAILED, "0", 0), PV_ACT_INSERT, 0, 1,
              PV_OUT_FAILED);
    DB_RESULT(REC("imp_c", "o1", PV_OUT_VBANK_ISSUED, "0", 0), PV_ACT_INSERT,
              0, 1, PV_OUT_VBANK_ISSUED);
    DB_RESULT(REC("imp_c", "o1", PV_OUT_CANCELLED, "0", 0), PV_ACT_ADVANCE, 0,
              1, PV_OUT_CANCELLED);
    DB_INT_EQ(events(e, c, pool, "imp_b", "failed"), 1);
    DB_INT_EQ(events(e, c, pool, "imp_c", "cancelled"), 1);
    DB_INT_EQ(updates(e, c, pool, "o1"), 1);
    DB_STR_EQ(state(e, c, pool, "o1"), "paid");
    DB_STR_EQ(payer(e, c, pool, "o1"), "imp_a");
    /* a second paid payment (a double charge) updates the order; the first
     * remains its payer */
    DB_RESULT(REC("imp_d", "o1", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    DB_INT_EQ(updates(e, c, pool, "o1"), 2);
    DB_STR_EQ(payer(e, c, pool, "o1"), "imp_a");

    /* an order failed first is paid by the next attempt */
    add_order(e, c, "o2", "10000", "KRW");
    DB_RESULT(REC("imp_e", "o2", PV_OUT_FAILED, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_FAILED);
    DB_RESULT(REC("imp_f", "o2", PV_OUT_PAID, "0", 0), PV_ACT_INSERT, 1, 0,
              PV_OUT_PAID);
    DB_STR_EQ(state(e, c, pool, "o2"), "paid");
    DB_STR_EQ(payer(e, c, pool, "o2"), "imp_f");
    DB_INT_EQ(updates(e, c, pool, "o2"), 2);

    /* the same merchant_uid in another scope is another order */
    DB_INT_EQ(record(e, c, pool, &e->scope_plain, "imp_g", "o1", PV_OUT_FAILED,
                     "0", 0, &res, &why), PV_OK);
    DB_INT_EQ(res.order_moved, 0);      /* that scope has no order update */
    DB_INT_EQ(res.order_kept, 0);       /* and nobody paid its order */
    DB_STR_EQ(sql_str(e, c, pool, "SELECT merchant_uid FROM portone_orders "
                      "WHERE order_key = 'plain-key'"), "o1");
}

#define REC_API(api, imp, order, outcome, cancel, forced)                   \
    record_api(e, c, pool, &e->scope, api, imp, order, outcome, cancel,     \
               forced, &res, &why)

static long rows_of(env_t *e, conn_t *c, apr_pool_t *pool, const char *table,
                    const char *api, const char *imp_uid)
{
    return sql_int(e, c, pool, "SELECT COUNT(*) FROM %s WHERE api = '%s' AND "
                   "imp_uid = '%s'", table, api, imp_uid);
}

/* A V1 and a V2 payment with the same id text are two payments (api tells
 * them apart): two rows, two events. For the order-level rule they are two
 * payments of one order (same merchant_uid and scope), and two payers. */
STORE_TEST(store_v1_and_v2_payments)
{
    OPEN_CONN(c);
    add_order(e, c, "o1", "10000", "KRW");
    DB_RESULT(REC_API("v1", "pay_1", "o1", PV_OUT_PAID, "0", 0),
              PV_ACT_INSERT, 1, 0, PV_OUT_PAID);
    /* the V2 payment is not the V1 one: a row and an event of its own, and
     * not paid, it leaves the order the V1 payment paid as it is */
    DB_RESULT(REC_API("v2", "pay_1", "o1", PV_OUT_FAILED, "0", 0),
              PV_ACT_INSERT, 0, 1, PV_OUT_FAILED);
    for (forced = 0; forced < 2; forced++)
        DB_RESULT(REC_API("v2", "pay_1", "o1", PV_OUT_FAILED, "0", forced),
                  PV_ACT_NONE, 0, 0, PV_OUT_FAILED);
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_payments "
                      "WHERE imp_uid = 'pay_1'"), 2);
    DB_INT_EQ(all_events(e, c, pool, "pay_1"), 2);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT outcome FROM portone_payments WHERE "
                      "api = 'v1' AND imp_uid = 'pay_1'"), "paid");
    DB_STR_EQ(sql_str(e, c, pool, "SELECT outcome FROM portone_payments WHERE "
                      "api = 'v2' AND imp_uid = 'pay_1'"), "failed");
    DB_INT_EQ(rows_of(e, c, pool, "portone_events", "v1", "pay_1"), 1);
    DB_INT_EQ(rows_of(e, c, pool, "portone_events", "v2", "pay_1"), 1);
    DB_INT_EQ(events(e, c, pool, "pay_1", "paid"), 1);
    DB_INT_EQ(events(e, c, pool, "pay_1", "failed"), 1);
    DB_STR_EQ(state(e, c, pool, "o1"), "paid");
    DB_INT_EQ(updates(e, c, pool, "o1"), 1);
    DB_STR_EQ(payer(e, c, pool, "o1"), "pay_1");
    DB_STR_EQ(sql_str(e, c, pool, "SELECT paid_api FROM portone_orders WHERE "
                      "order_key = 'shop-key' AND merchant_uid = 'o1'"), "v1");
    DB_INT_EQ(sql_int(e, c, pool, "SELECT COUNT(*) FROM portone_orders"), 1);
    /* the V1 payer cancelled: the order follows it; the V2 record stays */
    DB_RESULT(REC_API("v1", "pay_1", "o1", PV_OUT_CANCELLED, "10000", 0),
              PV_ACT_ADVANCE, 1, 0, PV_OUT_CANCELLED);
    DB_STR_EQ(state(e, c, pool, "o1"), "cancelled");
    DB_STR_EQ(payer(e, c, pool, "o1"), NULL);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT outcome FROM portone_payments WHERE "
                      "api = 'v2' AND imp_uid = 'pay_1'"), "failed");

    /* the other way round: paid through V2, a V1 payment with the same id
     * text that fails later leaves the order paid; V1 (NULL) is "v1" */
    add_order(e, c, "o2", "10000", "KRW");
    DB_RESULT(REC_API("v2", "pay_2", "o2", PV_OUT_PAID, "0", 0),
              PV_ACT_INSERT, 1, 0, PV_OUT_PAID);
    DB_STR_EQ(sql_str(e, c, pool, "SELECT paid_api FROM portone_orders WHERE "
                      "order_key = 'shop-key' AND merchant_uid = 'o2'"), "v2");
    DB_RESULT(REC_API(NULL, "pay_2", "o2", PV_OUT_FAILED, "0", 1),
              PV_ACT_INSERT, 0, 1, PV_OUT_FAILED);
    DB_INT_EQ(rows_of(e, c, pool, "portone_payments", "v1", "pay_2"), 1);
    DB_STR_EQ(state(e, c, pool, "o2"), "paid");
    DB_INT_EQ(updates(e, c, pool, "o2"), 1);
    DB_STR_EQ(payer(e, c, pool, "o2"), "pay_2");
}

/* After a failure: the connection is checked and the statements prepared
 * again where they were lost (PostgreSQL, after a reconnection; apr_dbd's
 * where a label is missing); SQLite prepares its own. */
STORE_TEST(store_recover)
{
    conn_t *c = conn_open(e, pool);
    const char *why;
    pv_result_t res;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    DB_RESULT(REC("imp_1", "o1", PV_OUT_VBANK_ISSUED, "0", 0), PV_ACT_INSERT,
              1, 0, PV_OUT_VBANK_ISSUED);
    DB_INT_EQ(pv_store_recover(&e->store, &e->scope, &c->db), APR_SUCCESS);
    if (c->db.pg) {
        /* a reconnection loses the server's prepared statements */
        PQreset(c->db.pg);
        DB_INT_EQ(REC("imp_1", "o1", PV_OUT_PAID, "0", 0),
                  PV_E_DATABASE_UNAVAILABLE);
        DB_CHECK(why && strstr(why, "portone_verify_order_1"));
    }
    else if (!c->db.native) {
        apr_hash_set(c->db.prepared, "portone_verify_order_1",
                     APR_HASH_KEY_STRING, NULL);
        DB_INT_EQ(REC("imp_1", "o1", PV_OUT_PAID, "0", 0),
                  PV_E_DATABASE_UNAVAILABLE);
        DB_STR_EQ(why, "statement portone_verify_order_1 is not prepared");
    }
    DB_INT_EQ(pv_store_recover(&e->store, &e->scope, &c->db), APR_SUCCESS);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_PAID, "0", 0), PV_ACT_ADVANCE, 1, 0,
              PV_OUT_PAID);
    /* nothing lost: preparing again changes nothing */
    DB_INT_EQ(pv_store_recover(&e->store, &e->scope, &c->db), APR_SUCCESS);
    DB_RESULT(REC("imp_1", "o1", PV_OUT_CANCELLED, "0", 0), PV_ACT_ADVANCE, 1,
              0, PV_OUT_CANCELLED);
    DB_INT_EQ(updates(e, c, pool, "o1"), 3);
}

TEST(store_init_dialects)
{
    pv_store_t store;
    const char *err;

    memset(&store, 0, sizeof(store));
    CHECK(pv_store_init(pool, &store, "sqlite3", "p_") == NULL);
    CHECK_INT_EQ(store.batch, 1);
    CHECK_STR_EQ(store.stmt[PV_STMT_INSERT].label, "p_insert");
    CHECK_STR_EQ(store.stmt[PV_STMT_ORDER_UNPAID].label, "p_order_unpaid");
    CHECK_STR_HAS(store.stmt[PV_STMT_EVENT].sql.sql,
                  "ON CONFLICT (api, imp_uid, outcome) DO NOTHING");
    CHECK_STR_HAS(store.stmt[PV_STMT_UPDATE].sql.sql,
                  "WHERE api = %s AND imp_uid = %s");
    CHECK(strstr(store.stmt[PV_STMT_CURRENT_LOCKED].sql.sql, "FOR UPDATE")
          == NULL);
    CHECK(pv_store_init(pool, &store, "pgsql", "p_") == NULL);
    CHECK_INT_EQ(store.batch, 1);
    CHECK_STR_HAS(store.stmt[PV_STMT_CURRENT_LOCKED].sql.sql, "FOR UPDATE");
    CHECK_STR_HAS(store.stmt[PV_STMT_ORDER_LOCK].sql.sql, "DO UPDATE SET");
    CHECK(pv_store_init(pool, &store, "mysql", "p_") == NULL);
    CHECK_INT_EQ(store.batch, 0);
    CHECK_STR_HAS(store.stmt[PV_STMT_INSERT].sql.sql, "DECIMAL(20,4)");
    CHECK_STR_HAS(store.stmt[PV_STMT_ORDER_LOCK].sql.sql,
                  "ON DUPLICATE KEY UPDATE");
    err = pv_store_init(pool, &store, "oracle", "p_");
    CHECK_STR_HAS(err, "\"oracle\" is not supported");
}

/* portone-reconcile's list: the scope's payments recorded pending or
 * vbank_issued, older than asked by the database's clock, newest first, at
 * most |max| (PV_STMT_RECONCILE in each dialect). */
STORE_TEST(store_waiting)
{
    apr_array_header_t *w = NULL;
    const pv_waiting_t *first;
    conn_t *c = conn_open(e, pool);
    const char *why;
    pv_result_t res;

    if (!c)
        return;
    add_order(e, c, "o1", "10000", "KRW");
    add_order(e, c, "o2", "10000", "KRW");
    add_order(e, c, "o3", "10000", "KRW");
    add_order(e, c, "o4", "10000", "KRW");
    DB_INT_EQ(REC_API("v1", "imp_w1", "o1", PV_OUT_VBANK_ISSUED, "0", 0), PV_OK);
    DB_INT_EQ(REC_API("v2", "pay_w2", "o2", PV_OUT_PENDING, "0", 0), PV_OK);
    DB_INT_EQ(REC_API("v1", "imp_w3", "o3", PV_OUT_PAID, "0", 0), PV_OK);
    /* another shop's (another order query): not this scope's */
    DB_INT_EQ(record(e, c, pool, &e->scope_plain, "imp_w4", "o4",
                     PV_OUT_VBANK_ISSUED, "0", 0, &res, &why), PV_OK);
    sql_exec(e, c, "UPDATE portone_payments SET updated_at = "
             "'2000-01-01 00:00:00' WHERE imp_uid = 'imp_w1'");

    DB_INT_EQ(pv_store_waiting(&e->store, &e->scope, &c->db, pool, 0, 10, &w,
                               &why), PV_OK);
    DB_INT_EQ(w->nelts, 2);
    first = &APR_ARRAY_IDX(w, 0, pv_waiting_t);
    DB_STR_EQ(first[0].api, "v2");          /* the newest first */
    DB_STR_EQ(first[0].id, "pay_w2");
    DB_STR_EQ(first[1].api, "v1");
    DB_STR_EQ(first[1].id, "imp_w1");
    /* at most max */
    DB_INT_EQ(pv_store_waiting(&e->store, &e->scope, &c->db, pool, 0, 1, &w,
                               &why), PV_OK);
    DB_INT_EQ(w->nelts, 1);
    DB_STR_EQ(APR_ARRAY_IDX(w, 0, pv_waiting_t).id, "pay_w2");
    /* older than an hour: only the one of 2000 */
    DB_INT_EQ(pv_store_waiting(&e->store, &e->scope, &c->db, pool, 3600, 10,
                               &w, &why), PV_OK);
    DB_INT_EQ(w->nelts, 1);
    DB_STR_EQ(APR_ARRAY_IDX(w, 0, pv_waiting_t).id, "imp_w1");
    /* the other shop's list */
    DB_INT_EQ(pv_store_waiting(&e->store, &e->scope_plain, &c->db, pool, 0, 10,
                               &w, &why), PV_OK);
    DB_INT_EQ(w->nelts, 1);
    DB_STR_EQ(APR_ARRAY_IDX(w, 0, pv_waiting_t).id, "imp_w4");
    DB_INT_EQ(pv_store_waiting(&e->store, &e->scope, &c->db, pool, 0, 0, &w,
                               &why), PV_OK);
    DB_INT_EQ(w->nelts, 0);
}
