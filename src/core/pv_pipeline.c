#include "pv_pipeline.h"

#include "pv_decimal.h"
#include "pv_portone_v2.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <string.h>

pv_err pv_pipeline_run(apr_pool_t *pool, const pv_claim_t *claim,
                       const pv_pipeline_conf_t *conf, pv_client_t *client,
                       const pv_store_t *store, const pv_scope_t *scope,
                       pv_dbconn_t *conn, pv_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
    if (claim->payment_id) {
        /* V2: pv_portone_v2 checks that PortOne's id is the one asked; the
         * paymentId names the order, so no claimed merchant_uid */
        out->err = pv_client_get_payment_v2(client, pool, claim->payment_id,
                                            &out->pay, &out->why);
        if (out->err != PV_OK)
            return out->err;
        return pv_pipeline_record(pool, &out->pay, NULL, conf, client, store,
                                  scope, conn, out);
    }
    out->err = pv_client_get_payment(client, pool, claim->imp_uid, &out->pay,
                                     &out->why);
    if (out->err == PV_OK && strcmp(out->pay.imp_uid, claim->imp_uid)) {
        out->err = PV_E_UPSTREAM_ERROR;
        out->why = "PortOne answered with another imp_uid";
    }
    if (out->err != PV_OK)
        return out->err;
    return pv_pipeline_record(pool, &out->pay, claim->merchant_uid, conf,
                              client, store, scope, conn, out);
}

/* Whether a database phase that failed with |why| runs again on |db|. A
 * transaction that lost a lock conflict with another (a deadlock: the
 * database rolled it back, the connection is fine; db->conflict) runs
 * again at once, up to PV_CONFLICT_RETRIES times: a normal event under
 * concurrent writers, counted in |*conflicts|. Any other failure runs once
 * more, on a recovered connection (pv_store_recover): |*retried| is set to
 * its cause, and a second one is final. */
static int try_again(const pv_store_t *store, const pv_scope_t *scope,
                     pv_db_t *db, const char *why, int *conflicts,
                     const char **retried)
{
    if (db->conflict && *conflicts < PV_CONFLICT_RETRIES) {
        ++*conflicts;
        return 1;
    }
    if (*retried)
        return 0;
    *retried = why ? why : "the transaction failed";
    return pv_store_recover(store, scope, db) == APR_SUCCESS;
}

/* The cancel this verification claimed: sent with no connection held,
 * PortOne's answer recorded on a connection of its own (once more on a
 * recovered one after a database error). */
static void refund(apr_pool_t *pool, const pv_payment_t *pay,
                   pv_client_t *client, const pv_store_t *store,
                   const pv_scope_t *scope, pv_dbconn_t *conn,
                   const char *const *values, pv_verdict_t *out)
{
    char left[128];
    const char *reason, *why = NULL;
    pv_db_t db;
    pv_err err = PV_E_DATABASE_UNAVAILABLE;
    pv_cancel_result answer;
    const char *retried = NULL;
    int conflicts = 0;

    /* pv_refund_intent_of computed it already: it fits and is positive */
    if (pv_decimal_subtract(pay->amount, pay->cancel_amount
                            ? pay->cancel_amount : "0", left, sizeof(left)))
        apr_cpystrn(left, "0", sizeof(left));
    out->refund_amount = apr_pstrdup(pool, left);
    reason = apr_psprintf(pool, "payment verification failed: %s "
                          "(mod_portone_verify)",
                          out->decision.reason ? out->decision.reason
                                               : "forgery");
    if (pay->api == PV_API_V2) {
        unsigned char nonce[8];
        apr_time_t now = apr_time_now();

        if (apr_generate_random_bytes(nonce, sizeof(nonce)) != APR_SUCCESS)
            memcpy(nonce, &now, sizeof(nonce) < sizeof(now) ? sizeof(nonce)
                                                           : sizeof(now));
        out->refund = pv_client_cancel_v2(client, pool, pay->imp_uid, left,
                                          pay->store_id, reason,
                                          pv_portone_v2_idempotency_key(
                                              pool, pay->imp_uid, left, nonce),
                                          &out->refund_why);
    }
    else
        out->refund = pv_client_cancel(client, pool, pay->imp_uid, left,
                                       reason, &out->refund_why);

    /* a refusal after a cancel that went unanswered (PortOne: "already
     * cancelled" to a look-up older than that cancel) says nothing of that
     * one: it stays unanswered, for the next look-up to settle */
    answer = out->refund == PV_CANCEL_REFUSED && out->recorded.refund_reclaimed
             ? PV_CANCEL_UNKNOWN : out->refund;
    memset(&db, 0, sizeof(db));
    if (conn->open(conn, pool, &db, &why) != APR_SUCCESS) {
        out->refund_db_why = why ? why : "no database connection";
        return;
    }
    pv_store_attach(&db);
    do
        err = pv_store_refund_finish(store, &db, pool, values, answer, &why);
    while (err != PV_OK
           && try_again(store, scope, &db, why, &conflicts, &retried));
    out->conflicts += conflicts;
    conn->close(conn, &db);
    out->refund_db_why = err == PV_OK ? NULL
                         : why ? why : "the transaction failed";
}

pv_err pv_pipeline_record(apr_pool_t *pool, const pv_payment_t *pay,
                          const char *claimed_merchant_uid,
                          const pv_pipeline_conf_t *conf, pv_client_t *client,
                          const pv_store_t *store, const pv_scope_t *scope,
                          pv_dbconn_t *conn, pv_verdict_t *out)
{
    const char *values[PV_P_COUNT];
    const pv_payment_t copy = *pay;     /* |pay| may be out->pay */
    pv_record_t prior;
    pv_refund_intent intent;
    pv_db_t db;
    pv_err err = PV_OK;
    int found = 0;

    memset(out, 0, sizeof(*out));
    out->pay = copy;
    pay = &out->pay;
    memset(&db, 0, sizeof(db));
    if (conn->open(conn, pool, &db, &out->why) != APR_SUCCESS) {
        if (!out->why)
            out->why = "no database connection";
        return out->err = PV_E_DATABASE_UNAVAILABLE;
    }
    pv_store_attach(&db);
    pv_store_values(pay, PV_OUT_PENDING, scope->order_key, PV_API_NAME(pay),
                    values, pool);
    /* after a lost lock conflict, or once after another error (a restarted
     * server loses prepared statements; a broken connection may reconnect) */
    for (;;) {
        if (err != PV_OK && !try_again(store, scope, &db, out->why,
                                       &out->conflicts, &out->retried))
            break;
        db.conflict = 0;
        err = pv_store_load_order(store, scope, &db, pool, values, &out->order,
                                  &found, &prior, &out->why);
        if (err != PV_OK)
            continue;
        if (!found)
            break;
        out->order.currency = pv_pipeline_currency(&out->order, conf);
        pv_decide(pay, &out->order, conf->sandbox, claimed_merchant_uid,
                  &out->decision);
        /* PortOne's "response" is written as JSON text only for a recording
         * that may write it: in the case tested here pv_store_record writes
         * nothing (a repeat, the webhook after the browser), and stops
         * before its transaction */
        intent = conf->cancel_forgery && client
                 ? pv_refund_intent_of(pay, &out->decision) : PV_INTENT_NONE;
        if (pv_store_writes(&prior, out->decision.outcome, pay->cancel_amount,
                            intent)
            && !pv_payment_response_json(pool, &out->pay)) {
            out->why = "the payment could not be written as JSON (out of memory)";
            err = PV_E_UPSTREAM_ERROR;
            break;
        }
        pv_store_values(pay, out->decision.outcome, scope->order_key,
                        PV_API_NAME(pay), values, pool);
        err = pv_store_record(store, scope, &db, pool, values,
                              out->decision.outcome, intent,
                              &prior, &out->recorded, &out->why);
        if (err == PV_OK)
            break;
    }
    conn->close(conn, &db);
    if (err == PV_OK && !found) {
        out->why = apr_psprintf(pool, "no order %s", pay->merchant_uid);
        err = PV_E_ORDER_NOT_FOUND;
    }
    if (err == PV_OK) {
        out->why = NULL;        /* a retried error is in out->retried */
        out->answer = pv_pipeline_answer(&out->decision, &out->recorded);
        if (out->recorded.refund_claimed)
            refund(pool, pay, client, store, scope, conn, values, out);
    }
    return out->err = err;
}

const char *pv_pipeline_currency(const pv_order_t *order,
                                 const pv_pipeline_conf_t *conf)
{
    if (order->currency)
        return order->currency;
    return conf->currency ? conf->currency : PV_CURRENCY_DEFAULT;
}

pv_outcome pv_pipeline_answer(const pv_decision_t *dec,
                              const pv_result_t *res)
{
    if (dec->outcome == PV_OUT_FORGERY || dec->claim_mismatch)
        return PV_OUT_FORGERY;
    return res->recorded;
}

/* ------------------------------------------------------------ reconcile */

/* Looks |w| up with |api| ("v1" or "v2") and records what PortOne gave;
 * 1 when there was a payment to look at, 0 when PortOne has none for an
 * order id (nothing to record). */
static int reconcile_one(apr_pool_t *pool, const pv_waiting_t *w,
                         const char *api, const pv_pipeline_conf_t *conf,
                         pv_client_t *client, const pv_store_t *store,
                         const pv_scope_t *scope, pv_dbconn_t *conn,
                         pv_verdict_t *v)
{
    int v2 = !strcmp(api, "v2");

    memset(v, 0, sizeof(*v));
    if (v2)
        v->err = pv_client_get_payment_v2(client, pool, w->id, &v->pay,
                                          &v->why);
    else if (w->api)
        v->err = pv_client_get_payment(client, pool, w->id, &v->pay, &v->why);
    else
        v->err = pv_client_find_payment(client, pool, w->id, &v->pay, &v->why);
    if (v->err == PV_OK && !v2 && w->api && strcmp(v->pay.imp_uid, w->id)) {
        v->err = PV_E_UPSTREAM_ERROR;
        v->why = "PortOne answered with another imp_uid";
    }
    if (v->err == PV_E_PAYMENT_NOT_FOUND && !w->api)
        return 0;               /* no checkout of the order yet */
    if (v->err == PV_OK)
        pv_pipeline_record(pool, &v->pay, NULL, conf, client, store, scope,
                           conn, v);
    return 1;
}

pv_err pv_pipeline_reconcile(apr_pool_t *pool,
                             const pv_reconcile_conf_t *rc,
                             const pv_pipeline_conf_t *conf,
                             pv_client_t *client, const pv_store_t *store,
                             const pv_scope_t *scope, pv_dbconn_t *conn,
                             pv_reconcile_note_fn *note, void *baton,
                             pv_reconcile_result_t *out, const char **why)
{
    apr_array_header_t *waiting = NULL;
    pv_db_t db;
    pv_err err;
    int i;

    memset(out, 0, sizeof(*out));
    memset(&db, 0, sizeof(db));
    *why = NULL;
    if (conn->open(conn, pool, &db, why) != APR_SUCCESS) {
        if (!*why)
            *why = "no database connection";
        return PV_E_DATABASE_UNAVAILABLE;
    }
    pv_store_attach(&db);
    err = pv_store_waiting(store, scope, &db, pool, rc->older_than, rc->limit,
                           &waiting, why);
    if (err != PV_OK && pv_store_recover(store, scope, &db) == APR_SUCCESS)
        err = pv_store_waiting(store, scope, &db, pool, rc->older_than,
                               rc->limit, &waiting, why);
    conn->close(conn, &db);     /* never held across PortOne's answers */
    if (err != PV_OK)
        return err;

    for (i = 0; i < waiting->nelts; i++) {
        const pv_waiting_t *w = &APR_ARRAY_IDX(waiting, i, pv_waiting_t);
        const char *apis[2];
        apr_pool_t *sub;
        int n = 0, k, failed = 0, changed = 0;

        if (apr_time_now() >= rc->stop_after) {
            out->skipped = waiting->nelts - i;
            break;
        }
        if (!w->api && pv_request_check_id(w->id, strlen(w->id),
                                           PV_PAYMENT_ID_MAX)) {
            /* a control character or too long: no id of PortOne's */
            out->failed++;
            if (note) {
                pv_verdict_t v;

                memset(&v, 0, sizeof(v));
                v.err = PV_E_INVALID_REQUEST;
                v.why = "PortOneReconcileQuery gave an id that is not one";
                note(baton, w, "-", &v);
            }
            continue;
        }
        if (w->api) {
            if ((!strcmp(w->api, "v2") ? !rc->v2 : !rc->v1))
                continue;       /* not this scope's API (not counted) */
            apis[n++] = w->api;
        }
        else {
            if (rc->v1)
                apis[n++] = "v1";
            if (rc->v2)
                apis[n++] = "v2";
        }
        if (apr_pool_create(&sub, pool) != APR_SUCCESS) {
            out->failed++;
            continue;
        }
        out->checked++;
        for (k = 0; k < n; k++) {
            pv_verdict_t v;

            if (k > 0 && apr_time_now() >= rc->stop_after) {
                /* an order's second API no more than its next id: a run
                 * stays within about twice PortOneTimeout; the order is
                 * left (with its first API looked up) for the next run */
                out->skipped = waiting->nelts - i;
                break;
            }
            if (!reconcile_one(sub, w, apis[k], conf, client, store, scope,
                               conn, &v))
                continue;
            if (v.err != PV_OK)
                failed = 1;
            else if (v.recorded.action == PV_ACT_INSERT
                     || v.recorded.action == PV_ACT_ADVANCE)
                changed = 1;
            if (note)
                note(baton, w, apis[k], &v);
        }
        out->failed += failed;
        out->changed += changed;
        apr_pool_destroy(sub);
        if (out->skipped)
            break;
    }
    return PV_OK;
}

/* -------------------------------------------------------------- prepare */

pv_err pv_pipeline_order(apr_pool_t *pool, const char *id, int v2,
                         const pv_pipeline_conf_t *conf,
                         const pv_store_t *store, const pv_scope_t *scope,
                         pv_dbconn_t *conn, pv_order_t *order,
                         const char **why)
{
    pv_db_t db;
    pv_err err;
    int found = 0;

    memset(order, 0, sizeof(*order));
    memset(&db, 0, sizeof(db));
    *why = NULL;
    if (conn->open(conn, pool, &db, why) != APR_SUCCESS) {
        if (!*why)
            *why = "no database connection";
        return PV_E_DATABASE_UNAVAILABLE;
    }
    pv_store_attach(&db);
    err = pv_store_order(store, scope, &db, pool, id, v2 ? id : NULL, order,
                         &found, why);
    if (err != PV_OK && pv_store_recover(store, scope, &db) == APR_SUCCESS)
        err = pv_store_order(store, scope, &db, pool, id, v2 ? id : NULL,
                             order, &found, why);
    conn->close(conn, &db);
    if (err != PV_OK)
        return err;
    if (!found) {
        *why = apr_psprintf(pool, "no order %s", id);
        return PV_E_ORDER_NOT_FOUND;
    }
    order->currency = pv_pipeline_currency(order, conf);
    return PV_OK;
}
