#include "pv_pipeline.h"

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
        return pv_pipeline_record(pool, &out->pay, NULL, conf, store, scope,
                                  conn, out);
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
                              store, scope, conn, out);
}

pv_err pv_pipeline_record(apr_pool_t *pool, const pv_payment_t *pay,
                          const char *claimed_merchant_uid,
                          const pv_pipeline_conf_t *conf,
                          const pv_store_t *store, const pv_scope_t *scope,
                          pv_dbconn_t *conn, pv_verdict_t *out)
{
    const char *values[PV_P_COUNT];
    const pv_payment_t copy = *pay;     /* |pay| may be out->pay */
    pv_record_t prior;
    pv_db_t db;
    pv_err err = PV_OK;
    int attempt, found = 0;

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
    for (attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0) {
            /* a restarted server loses prepared statements; a broken
             * connection may reconnect */
            out->retried = out->why;
            if (pv_store_recover(store, scope, &db) != APR_SUCCESS)
                break;
        }
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
        if (!(prior.found
              && pv_transition(&prior, out->decision.outcome,
                               pay->cancel_amount) == PV_ACT_NONE)
            && !pv_payment_response_json(pool, &out->pay)) {
            out->why = "the payment could not be written as JSON (out of memory)";
            err = PV_E_UPSTREAM_ERROR;
            break;
        }
        pv_store_values(pay, out->decision.outcome, scope->order_key,
                        PV_API_NAME(pay), values, pool);
        err = pv_store_record(store, scope, &db, pool, values,
                              out->decision.outcome, &prior, &out->recorded,
                              &out->why);
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
