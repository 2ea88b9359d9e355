/* The handlers portone-verify and portone-webhook (pv_handler.h). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include <apr_strings.h>

#include "pv_config.h"
#include "pv_decimal.h"
#include "pv_dbd.h"
#include "pv_handler.h"
#include "pv_json.h"
#include "pv_log.h"
#include "pv_pipeline.h"
#include "pv_request.h"
#include "pv_status.h"

APLOG_USE_MODULE(portone_verify);

/* ----------------------------------------------------------------- answers */

/* A request note that is also an environment variable: a LogFormat's
 * %{name}n and %{name}e, mod_rewrite's %{ENV:name}, SSI and CGI (there as
 * name with '_' for '-') of the request all see it. */
static void set_note(request_rec *r, const char *name, const char *value)
{
    apr_table_setn(r->notes, name, value);
    apr_table_setn(r->subprocess_env, name, value);
}

/* The members of an answer, an array sized by its initializer. */
#define MEMBERS(m) ((int)(sizeof(m) / sizeof((m)[0])))

/* Writes the object of the |n| members |m| (those whose value is NULL left
 * out) as the answer. */
static int send_json(request_rec *r, int status, const pv_json_out_t *m, int n)
{
    size_t len;
    const char *text = pv_json_object(r->pool, m, n, &len);

    r->status = status;
    ap_set_content_type(r, "application/json; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only)
        ap_rwrite(text, (int)len, r);
    return OK;
}

/* The error answer of |err|: its HTTP status and code (pv_error's table). */
static int answer_error(request_rec *r, pv_err err, const char *detail)
{
    const pv_err_info *info = pv_err_lookup(err);
    pv_stats_t *stats = pv_status_counters();
    const pv_json_out_t m[] = {
        {"status", "error", 0},
        {"code", info->code, 0},
        {"message", detail ? detail : info->message, 0},
    };

    set_note(r, "portone-outcome", info->code);
    if (stats) {
        pv_stats_add(&stats->errors[err], 1);
        if (err == PV_E_DATABASE_UNAVAILABLE)
            pv_stats_add(&stats->db_errors, 1);
    }
    if (err == PV_E_METHOD_NOT_ALLOWED)
        apr_table_setn(r->headers_out, "Allow", "POST");
    /* the rest of a refused body is not read: close instead */
    if (err == PV_E_PAYLOAD_TOO_LARGE || err == PV_E_METHOD_NOT_ALLOWED
        || err == PV_E_UNSUPPORTED_MEDIA_TYPE)
        r->connection->keepalive = AP_CONN_CLOSE;
    return send_json(r, info->status_code, m, MEMBERS(m));
}

/* ------------------------------------------------------------------ body */

/* Reads the whole body into r->pool, NUL-terminated: at most PV_BODY_MAX
 * bytes, refused from its Content-Length before reading when it says more.
 * The buffer is as large as the Content-Length says, else grows from a
 * first guess by doubling. */
static pv_err read_body(request_rec *r, char **body, apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *bb;
    apr_size_t cap = 8192;              /* the first guess of a chunked body */
    char *buf;
    int eos = 0;

    *len = 0;
    if (cl) {
        apr_off_t n;
        char *end;

        if (apr_strtoff(&n, cl, &end, 10) != APR_SUCCESS || *end || n < 0)
            return PV_E_INVALID_REQUEST;
        if (n > PV_BODY_MAX)
            return PV_E_PAYLOAD_TOO_LARGE;
        cap = (apr_size_t)n + 1;
    }
    buf = apr_palloc(r->pool, cap);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!eos) {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, HUGE_STRING_LEN);

        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            r->connection->keepalive = AP_CONN_CLOSE;
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST)
                   == HTTP_REQUEST_ENTITY_TOO_LARGE ? PV_E_PAYLOAD_TOO_LARGE
                                                    : PV_E_INVALID_REQUEST;
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                eos = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                return PV_E_INVALID_REQUEST;
            }
            if (*len + n > PV_BODY_MAX) {
                apr_brigade_cleanup(bb);
                return PV_E_PAYLOAD_TOO_LARGE;
            }
            if (*len + n + 1 > cap) {
                char *bigger;

                while (*len + n + 1 > cap)
                    cap *= 2;
                bigger = apr_palloc(r->pool, cap);
                memcpy(bigger, buf, *len);
                buf = bigger;
            }
            memcpy(buf + *len, data, n);
            *len += n;
        }
        apr_brigade_cleanup(bb);
    }
    buf[*len] = '\0';
    *body = buf;
    return PV_OK;
}

/* ----------------------------------------------------------------- verdict */

/* What the log says of the record after a verification. */
static const char *record_note(request_rec *r, const pv_decision_t *dec,
                               const pv_result_t *res)
{
    const char *what;

    switch (res->action) {
    case PV_ACT_INSERT:
    case PV_ACT_ADVANCE:
        what = " (recorded)";
        break;
    case PV_ACT_REFRESH:
        what = " (refreshed: cancel_amount grew)";
        break;
    default:
        what = res->recorded == dec->outcome ? " (already recorded)"
               : apr_pstrcat(r->pool, " (kept the recorded ",
                             pv_outcome_lookup(res->recorded)->name, ")",
                             (char *)NULL);
        break;
    }
    if (res->order_kept)
        what = apr_pstrcat(r->pool, what, "; the order was left as it is: "
                           "another payment of it has paid it", (char *)NULL);
    return what;
}

/* The log of the cancel of a forgery that this verification claimed
 * (PortOneCancelForgery): PV120 done, PV121 refused, PV122 no answer, PV123
 * the answer not recorded, PV124 an unanswered one found done. Never the
 * secret or the token. */
static void log_refund(request_rec *r, const pv_verdict_t *v)
{
    const pv_payment_t *pay = &v->pay;
    pv_stats_t *stats = pv_status_counters();
    const char *ids = pay->api == PV_API_V2
        ? apr_pstrcat(r->pool, "paymentId=", pay->imp_uid, (char *)NULL)
        : apr_pstrcat(r->pool, "imp_uid=", pay->imp_uid, " merchant_uid=",
                      pay->merchant_uid, (char *)NULL);
    const char *amount = apr_pstrcat(r->pool, v->refund_amount, " ",
                                     pay->currency ? pay->currency : "-",
                                     (char *)NULL);

    if (v->recorded.refund_settled) {
        if (stats)
            pv_stats_add(&stats->refunds, 1);
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, PVLOGNO(0124) "%s %s "
                      "outcome=forgery: the unanswered cancel went through "
                      "(PortOne reports the payment cancelled): recorded as "
                      "refunded", r->handler, ids);
        return;
    }
    if (!v->recorded.refund_claimed) {
        if (v->recorded.refund == PV_REFUND_STALE
            && pv_refund_intent_of(pay, &v->decision) != PV_INTENT_NONE)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, PVLOGNO(0125)
                          "%s %s outcome=forgery: its cancel has been claimed "
                          "for more than 2 hours and its answer was never "
                          "recorded (httpd killed while it was sent?): nothing "
                          "sends it again; PortOne reports the payment %s; "
                          "settle it as docs/security.md section 5 says",
                          r->handler, ids, pay->status == PV_STATUS_CANCELLED
                          ? "cancelled" : "paid");
        return;
    }
    if (stats)
        pv_stats_add(v->refund == PV_CANCEL_DONE ? &stats->refunds
                                                 : &stats->refunds_failed, 1);
    switch (v->refund) {
    case PV_CANCEL_DONE:
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, PVLOGNO(0120) "%s %s "
                      "outcome=forgery: cancelled in full through PortOne "
                      "(PortOneCancelForgery): %s (%s)", r->handler, ids,
                      amount, v->refund_why ? v->refund_why : "done");
        break;
    case PV_CANCEL_REFUSED:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, PVLOGNO(0121) "%s %s "
                      "outcome=forgery: PortOne refused to cancel %s: %s; the "
                      "next verification of the payment tries again%s",
                      r->handler, ids, amount,
                      v->refund_why ? v->refund_why : "",
                      v->recorded.refund_reclaimed
                      ? " (a cancel sent before went unanswered: it stays "
                        "unanswered, recorded refunded once PortOne reports "
                        "the payment cancelled)" : "");
        break;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, PVLOGNO(0122) "%s %s "
                      "outcome=forgery: no answer to the cancel of %s: %s; the "
                      "next verification of the payment records it refunded if "
                      "PortOne reports it cancelled, else tries again (PortOne "
                      "refuses a second cancel of the same amount)",
                      r->handler, ids, amount,
                      v->refund_why ? v->refund_why : "");
        break;
    }
    if (v->refund_db_why)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, PVLOGNO(0123) "%s %s: the cancel's "
                      "answer (%s) could not be recorded: %s; the payment's "
                      "refund column stays 'claimed' (docs/security.md says "
                      "how to settle it)", r->handler, ids,
                      v->refund == PV_CANCEL_DONE ? "cancelled" : "not "
                      "cancelled", v->refund_db_why);
}

/* Counts, logs and answers a verification that was decided and recorded:
 * its answer (pv_pipeline_answer) by the outcome table of pv_decide. */
static int answer_verdict(request_rec *r, int webhook, const pv_claim_t *claim,
                          const pv_verdict_t *v)
{
    const pv_payment_t *pay = &v->pay;
    const pv_decision_t *dec = &v->decision;
    const pv_outcome_info *info = pv_outcome_lookup(v->answer);
    pv_stats_t *stats = pv_status_counters();
    int vbank = !webhook && v->answer == PV_OUT_VBANK_ISSUED;
    int v2 = pay->api == PV_API_V2;

    if (stats)
        pv_stats_add(dec->claim_mismatch ? &stats->claim_forgeries
                                         : &stats->outcomes[v->answer], 1);
    set_note(r, "portone-outcome", info->name);
    ap_log_rerror(APLOG_MARK,
                  dec->outcome == PV_OUT_FORGERY || dec->claim_mismatch
                  ? APLOG_WARNING : APLOG_INFO, 0, r,
                  PVLOGNO(0102) "%s %s outcome=%s%s%s%s%s%s", r->handler,
                  v2 ? apr_pstrcat(r->pool, "paymentId=", pay->imp_uid,
                                   (char *)NULL)
                     : apr_pstrcat(r->pool, "imp_uid=", pay->imp_uid,
                                   " merchant_uid=", pay->merchant_uid,
                                   (char *)NULL),
                  pv_outcome_lookup(dec->outcome)->name,
                  record_note(r, dec, &v->recorded),
                  dec->reason ? ": " : "", dec->reason ? dec->reason : "",
                  dec->outcome == PV_OUT_FORGERY
                  ? apr_psprintf(r->pool, " (PortOne: %s %s, the order: %s %s)",
                                 pay->amount, pay->currency ? pay->currency : "-",
                                 v->order.amount ? v->order.amount : "NULL",
                                 v->order.currency) : "",
                  dec->claim_mismatch
                  ? apr_psprintf(r->pool, "; forged claim: merchant_uid %s is "
                                 "not PortOne's", claim->merchant_uid) : "");
    log_refund(r, v);

    if (dec->claim_mismatch) {
        /* what was claimed, not PortOne's, for the verify and webhook alike */
        const pv_json_out_t m[] = {
            {"status", info->answer_status, 0},
            {"message", info->message, 0},
            {"imp_uid", claim->imp_uid, 0},
            {"merchant_uid", claim->merchant_uid, 0},
        };

        return send_json(r, info->status_code, m, MEMBERS(m));
    }
    else {
        const pv_json_out_t m[] = {
            {"status", webhook ? info->name : info->answer_status, 0},
            {"message", webhook ? NULL : info->message, 0},
            {"imp_uid", v2 ? NULL : pay->imp_uid, 0},
            {"merchant_uid", v2 ? NULL : pay->merchant_uid, 0},
            /* V2: the paymentId is both */
            {"paymentId", v2 ? pay->imp_uid : NULL, 0},
            {"vbank_num", vbank ? pay->vbank_num : NULL, 0},
            {"vbank_name", vbank ? pay->vbank_name : NULL, 0},
            /* an integer, as PortOne's */
            {"vbank_date", vbank && pay->vbank_date
             ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                            apr_atoi64(pay->vbank_date)) : NULL, 1},
        };

        return send_json(r, webhook ? HTTP_OK : info->status_code, m,
                         MEMBERS(m));
    }
}

/* ----------------------------------------------------------------- handler */

/* The claim's ids for the log: "paymentId=..." (V2) or "imp_uid=...
 * merchant_uid=..." (V1). */
static const char *claim_ids(request_rec *r, const pv_claim_t *claim)
{
    if (claim->payment_id)
        return apr_pstrcat(r->pool, "paymentId=", claim->payment_id,
                           (char *)NULL);
    return apr_pstrcat(r->pool, "imp_uid=", claim->imp_uid, " merchant_uid=",
                       claim->merchant_uid, (char *)NULL);
}

/* Logs and answers a request refused before any look-up; |ids|: the
 * claim's (claim_ids) when the body named a payment, else NULL. */
static int answer_rejected(request_rec *r, pv_err err, const char *why,
                           const char *ids)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, PVLOGNO(0100) "%s%s%s: "
                  "rejected request: %s%s%s", r->handler, ids ? " " : "",
                  ids ? ids : "", pv_err_lookup(err)->code,
                  why ? ": " : "", why ? why : "");
    return answer_error(r, err, why);
}

/* A transaction that lost a lock conflict with another (a deadlock) and
 * ran again: normal under concurrent writers, so not a warning. */
static void log_conflicts(request_rec *r, const char *what,
                          const pv_verdict_t *v)
{
    if (v->conflicts)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, PVLOGNO(0301) "%s %s: "
                      "the database transaction met a concurrent one "
                      "(deadlock) and ran again %d time%s", r->handler, what,
                      v->conflicts, v->conflicts > 1 ? "s" : "");
}

/* Runs the pipeline for |claim| (V1 or V2) and answers. */
static int verify_claim(request_rec *r, const pv_dir *c, const pv_srv *srv,
                        pv_client_t *client, int webhook,
                        const pv_claim_t *claim)
{
    pv_scope_t scope;
    pv_pipeline_conf_t conf;
    pv_dbd_lender_t lender;
    pv_verdict_t v;
    pv_err err;

    if (claim->payment_id) {
        set_note(r, "portone-payment-id", claim->payment_id);
        set_note(r, "portone-imp-uid", claim->payment_id);
    }
    else {
        set_note(r, "portone-imp-uid", claim->imp_uid);
        set_note(r, "portone-merchant-uid", claim->merchant_uid);
    }

    pv_config_pipeline(c, srv, &scope, &conf);
    pv_dbd_lender(&lender, r->server);
    err = pv_pipeline_run(r->pool, claim, &conf, client, &srv->store, &scope,
                          &lender.conn, &v);
    log_conflicts(r, claim_ids(r, claim), &v);
    if (v.retried)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, PVLOGNO(0300) "%s %s: "
                      "database error, retrying once on a recovered "
                      "connection: %s", r->handler, claim_ids(r, claim),
                      v.retried);
    if (err != PV_OK) {
        ap_log_rerror(APLOG_MARK,
                      err == PV_E_PAYMENT_NOT_FOUND || err == PV_E_ORDER_NOT_FOUND
                      ? APLOG_INFO : APLOG_ERR, 0, r,
                      PVLOGNO(0101) "%s %s: %s: %s", r->handler,
                      claim_ids(r, claim), pv_err_lookup(err)->code,
                      v.why ? v.why : "");
        return answer_error(r, err, NULL);
    }
    return answer_verdict(r, webhook, claim, &v);
}

/* A request to portone-webhook that carries a Standard Webhooks header. */
static int is_v2_webhook(request_rec *r)
{
    return apr_table_get(r->headers_in, "webhook-id")
           || apr_table_get(r->headers_in, "webhook-timestamp")
           || apr_table_get(r->headers_in, "webhook-signature");
}

/* The webhook-id header of a V2 webhook, for the log. */
static const char *webhook_id(request_rec *r)
{
    const char *id = apr_table_get(r->headers_in, "webhook-id");

    return id ? id : "-";
}

/* A V2 webhook: the signature is checked on the raw body before anything
 * is parsed or asked of PortOne; then the body names the payment to
 * re-query (contract section 8). */
static int v2_webhook(request_rec *r, const pv_dir *c, const pv_srv *srv,
                      pv_client_t *client)
{
    pv_v2_webhook_t hook;
    pv_claim_t claim;
    pv_sig_result sig;
    const char *why = NULL;
    char *body = NULL;
    apr_size_t len = 0;
    pv_err err = read_body(r, &body, &len);

    if (err != PV_OK)
        return answer_rejected(r, err, NULL, NULL);
    /* the body is not read before its signature holds: the webhook-id
     * names it (PortOne's console lists webhooks by it) */
    if (c->webhook_nkeys == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, PVLOGNO(0103) "%s "
                      "webhook-id=%s: a V2 webhook, but PortOneWebhookSecret "
                      "is not set for this location", r->handler,
                      webhook_id(r));
        return answer_error(r, PV_E_INVALID_SIGNATURE, NULL);
    }
    sig = pv_webhook_verify(r->pool, apr_table_get(r->headers_in, "webhook-id"),
                            apr_table_get(r->headers_in, "webhook-timestamp"),
                            apr_table_get(r->headers_in, "webhook-signature"),
                            body, len, c->webhook_keys, c->webhook_nkeys,
                            apr_time_now(),
                            c->webhook_tolerance > 0 ? c->webhook_tolerance
                                                     : apr_time_from_sec(300));
    if (sig != PV_SIG_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, PVLOGNO(0104) "%s "
                      "webhook-id=%s: V2 webhook refused: %s", r->handler,
                      webhook_id(r), pv_sig_reason(sig));
        return answer_error(r, PV_E_INVALID_SIGNATURE, NULL);
    }
    err = pv_request_parse_v2_webhook(r->pool, body, len, &hook, &why);
    if (err != PV_OK)
        return answer_rejected(r, err, why, NULL);
    if (hook.ignored) {
        const pv_json_out_t m[] = {{"status", "ignored", 0}};

        set_note(r, "portone-outcome", "ignored");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, PVLOGNO(0105) "%s%s%s: "
                      "V2 webhook %s ignored", r->handler,
                      hook.payment_id ? " paymentId=" : "",
                      hook.payment_id ? hook.payment_id : "", hook.type);
        return send_json(r, HTTP_OK, m, MEMBERS(m));
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, PVLOGNO(0106) "%s "
                  "paymentId=%s: V2 webhook %s transactionId=%s status=%s",
                  r->handler, hook.payment_id,
                  hook.type ? hook.type : "(2024-01-01)",
                  hook.transaction_id ? hook.transaction_id : "-",
                  hook.status ? hook.status : "-");
    memset(&claim, 0, sizeof(claim));
    claim.payment_id = hook.payment_id;
    return verify_claim(r, c, srv, client, 1, &claim);
}

/* ------------------------------------------------- prepare and reconcile */

/* A claim of an API the scope has no credentials for is refused:
 * a V2 paymentId without PortOneV2Secret, a V1 id without PortOneAPIKey
 * and PortOneAPISecret (|v1_why| says which id). */
static pv_err claim_api_configured(const pv_dir *c, const pv_claim_t *claim,
                                   const char *v1_why, const char **why)
{
    if (claim->payment_id && !c->v2_secret) {
        *why = "paymentId (V2) where no PortOneV2Secret is set";
        return PV_E_INVALID_REQUEST;
    }
    if (!claim->payment_id && !pv_config_v1(c)) {
        *why = v1_why;
        return PV_E_INVALID_REQUEST;
    }
    return PV_OK;
}

/* portone-prepare: the order's amount (and currency) from the database,
 * registered with PortOne before the checkout window opens. */
static int prepare(request_rec *r, const pv_dir *c, const pv_srv *srv,
                   pv_client_t *client)
{
    pv_scope_t scope;
    pv_pipeline_conf_t conf;
    pv_dbd_lender_t lender;
    pv_body_kind kind;
    pv_claim_t claim;
    pv_order_t order;
    const char *why = NULL, *id = NULL, *ids = NULL;
    char amount[PV_DECIMAL_MAX_TEXT + 1];
    char *body = NULL;
    apr_size_t len = 0;
    int v2 = 0, replaced = 0, parsed;
    pv_err err = pv_request_media(apr_table_get(r->headers_in, "Content-Type"),
                                  0, &kind);

    if (err == PV_OK)
        err = read_body(r, &body, &len);
    if (err == PV_OK)
        err = pv_request_parse_prepare(r->pool, body, len, &claim, &why);
    parsed = err == PV_OK;
    if (err == PV_OK)
        err = claim_api_configured(c, &claim, "merchant_uid (V1) where "
                                   "no PortOneAPIKey and PortOneAPISecret are "
                                   "set", &why);
    if (parsed) {
        v2 = claim.payment_id != NULL;
        id = v2 ? claim.payment_id : claim.merchant_uid;
        ids = apr_pstrcat(r->pool, v2 ? "paymentId=" : "merchant_uid=", id,
                          (char *)NULL);
        set_note(r, v2 ? "portone-payment-id" : "portone-merchant-uid", id);
    }
    if (err != PV_OK)
        return answer_rejected(r, err, why, parsed ? ids : NULL);

    pv_config_pipeline(c, srv, &scope, &conf);
    pv_dbd_lender(&lender, r->server);
    err = pv_pipeline_order(r->pool, id, v2, &conf, &srv->store, &scope,
                            &lender.conn, &order, &why);
    if (err == PV_OK
        && pv_decimal_plain(order.amount, v2, amount, sizeof(amount))) {
        /* the shop's data or its PortOneOrderQuery: nothing is asked of
         * PortOne for an amount it cannot take */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, PVLOGNO(0112) "%s %s: the "
                      "order's amount %s is not a positive %s; check "
                      "PortOneOrderQuery", r->handler, ids,
                      order.amount ? order.amount : "NULL",
                      v2 ? "whole number (V2 amounts are integers)"
                         : "decimal number");
        return answer_error(r, PV_E_ORDER_NOT_FOUND, "the order has no "
                            "amount that PortOne can take");
    }
    if (err == PV_OK)
        err = v2 ? pv_client_pre_register(client, r->pool, id, amount,
                                          order.currency, &why)
                 : pv_client_prepare(client, r->pool, id, amount,
                                     order.currency, &replaced, &why);
    if (err != PV_OK) {
        ap_log_rerror(APLOG_MARK, err == PV_E_ORDER_NOT_FOUND ? APLOG_INFO
                      : APLOG_ERR, 0, r, PVLOGNO(0111) "%s %s: %s: %s", r->handler,
                      ids, pv_err_lookup(err)->code, why ? why : "");
        return answer_error(r, err, NULL);
    }
    set_note(r, "portone-outcome", "prepared");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, PVLOGNO(0110) "%s %s: registered "
                  "amount %s %s with PortOne (%s)", r->handler, ids, amount,
                  order.currency, v2 ? "POST /payments/{id}/pre-register"
                  : replaced ? "POST, then PUT /payments/prepare"
                             : "POST /payments/prepare");
    {
        const pv_json_out_t m[] = {
            {"status", "prepared", 0},
            {v2 ? "paymentId" : "merchant_uid", id, 0},
            {"amount", amount, 1},
            {"currency", order.currency, 0},
        };

        return send_json(r, HTTP_OK, m, MEMBERS(m));
    }
}

/* What portone-reconcile logs of each id it looked up. */
static void reconcile_note(void *baton, const pv_waiting_t *w,
                           const char *api, const pv_verdict_t *v)
{
    request_rec *r = baton;
    const char *what = w->api
        ? apr_pstrcat(r->pool, "recorded ", w->api, " payment ", w->id,
                      (char *)NULL)
        : apr_pstrcat(r->pool, "order ", w->id, " (", api, ")", (char *)NULL);

    log_conflicts(r, what, v);
    if (v->retried)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, PVLOGNO(0117) "%s %s: "
                      "database error, retried once on a recovered "
                      "connection: %s", r->handler, what, v->retried);
    if (v->err != PV_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, PVLOGNO(0114) "%s %s: %s: %s",
                      r->handler, what, pv_err_lookup(v->err)->code,
                      v->why ? v->why : "");
        return;
    }
    ap_log_rerror(APLOG_MARK, v->decision.outcome == PV_OUT_FORGERY
                  ? APLOG_WARNING : APLOG_INFO, 0, r,
                  PVLOGNO(0113) "%s %s: %s %s outcome=%s%s%s%s", r->handler, what,
                  v->pay.api == PV_API_V2 ? "paymentId" : "imp_uid",
                  v->pay.imp_uid, pv_outcome_lookup(v->decision.outcome)->name,
                  record_note(r, &v->decision, &v->recorded),
                  v->decision.reason ? ": " : "",
                  v->decision.reason ? v->decision.reason : "");
    log_refund(r, v);
}

/* portone-reconcile: for cron, payments and orders still waiting looked up
 * again, bounded by "limit" and by PortOneTimeout. */
static int reconcile(request_rec *r, const pv_dir *c, const pv_srv *srv,
                     pv_client_t *client)
{
    pv_scope_t scope;
    pv_pipeline_conf_t conf;
    pv_dbd_lender_t lender;
    pv_reconcile_conf_t rc;
    pv_reconcile_result_t res;
    pv_body_kind kind;
    const char *why = NULL;
    char *body = NULL;
    apr_size_t len = 0;
    pv_err err = read_body(r, &body, &len);

    /* a body, if any, is JSON */
    if (err == PV_OK && len > 0)
        err = pv_request_media(apr_table_get(r->headers_in, "Content-Type"),
                               0, &kind);
    memset(&rc, 0, sizeof(rc));
    if (err == PV_OK)
        err = pv_request_parse_reconcile(r->pool, body, len, &rc.older_than,
                                         &rc.limit, &why);
    if (err != PV_OK)
        return answer_rejected(r, err, why, NULL);
    rc.v1 = pv_config_v1(c);
    rc.v2 = c->v2_secret != NULL;
    /* no look-up starts after PortOneTimeout: a run takes at most about
     * twice that, whatever the limit */
    rc.stop_after = r->request_time
                    + (c->timeout > 0 ? c->timeout : apr_time_from_sec(30));
    pv_config_pipeline(c, srv, &scope, &conf);
    pv_dbd_lender(&lender, r->server);
    err = pv_pipeline_reconcile(r->pool, &rc, &conf, client, &srv->store,
                                &scope, &lender.conn, reconcile_note, r, &res,
                                &why);
    if (err != PV_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, PVLOGNO(0116) "%s: %s: %s",
                      r->handler, pv_err_lookup(err)->code, why ? why : "");
        return answer_error(r, err, NULL);
    }
    set_note(r, "portone-outcome", "done");
    ap_log_rerror(APLOG_MARK, res.skipped ? APLOG_WARNING : APLOG_INFO, 0, r,
                  PVLOGNO(0115) "%s: checked %d, changed %d, failed %d (older_than "
                  "%ld s, limit %d)%s", r->handler, res.checked, res.changed,
                  res.failed, rc.older_than, rc.limit, res.skipped
                  ? apr_psprintf(r->pool, "; PortOneTimeout was reached, %d "
                                 "left for the next run", res.skipped) : "");
    {
        const pv_json_out_t m[] = {
            {"status", "done", 0},
            {"checked", apr_itoa(r->pool, res.checked), 1},
            {"changed", apr_itoa(r->pool, res.changed), 1},
            {"failed", apr_itoa(r->pool, res.failed), 1},
        };

        return send_json(r, HTTP_OK, m, MEMBERS(m));
    }
}

int pv_handler(request_rec *r)
{
    const pv_dir *c;
    const pv_srv *srv;
    pv_client_t *client;
    pv_body_kind kind;
    pv_claim_t claim;
    pv_stats_t *stats = pv_status_counters();
    const char *why = NULL, *missing;
    char *body = NULL;
    apr_size_t len = 0;
    pv_err err;
    int webhook, parsed, other = 0;

    if (!r->handler)
        return DECLINED;
    if (!strcmp(r->handler, "portone-verify"))
        webhook = 0;
    else if (!strcmp(r->handler, "portone-webhook"))
        webhook = 1;
    else if (!strcmp(r->handler, "portone-prepare")
             || !strcmp(r->handler, "portone-reconcile"))
        webhook = 0, other = 1;
    else
        return DECLINED;
    c = ap_get_module_config(r->per_dir_config, &portone_verify_module);
    srv = pv_config_srv(r->server);
    if (stats && !other)
        pv_stats_add(webhook ? &stats->webhook_requests
                             : &stats->verify_requests, 1);

    if (r->method_number != M_POST)
        return answer_error(r, PV_E_METHOD_NOT_ALLOWED, NULL);
    missing = pv_config_missing(c);
    if (!missing && srv->dialect == PV_SQL_UNKNOWN)
        missing = "DBDriver";
    if (missing || !(client = pv_config_client(r, c))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, PVLOGNO(0010)
                      "%s: %s is not set for this location (PortOneAPIKey "
                      "and PortOneAPISecret, or PortOneV2Secret, and "
                      "PortOneOrderQuery are needed)", r->handler,
                      missing ? missing : "a PortOne client");
        return answer_error(r, PV_E_NOT_CONFIGURED, NULL);
    }
    if (other)
        return r->handler[8] == 'p' ? prepare(r, c, srv, client)
                                    : reconcile(r, c, srv, client);
    if (webhook && is_v2_webhook(r))
        return v2_webhook(r, c, srv, client);
    if (webhook && !pv_config_v1(c)) {
        /* V2 only here: an unsigned webhook lacks the signature headers */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, PVLOGNO(0107) "%s: an "
                      "unsigned (V1) webhook where no PortOneAPIKey is set",
                      r->handler);
        return answer_error(r, PV_E_INVALID_SIGNATURE, NULL);
    }
    err = pv_request_media(apr_table_get(r->headers_in, "Content-Type"),
                           webhook, &kind);
    if (err == PV_OK)
        err = read_body(r, &body, &len);
    if (err == PV_OK)
        err = webhook ? pv_request_parse(r->pool, body, len, kind, &claim, &why)
                      : pv_request_parse_verify(r->pool, body, len, kind,
                                                &claim, &why);
    parsed = err == PV_OK;
    if (err == PV_OK)
        err = claim_api_configured(c, &claim, "imp_uid (V1) where no "
                                   "PortOneAPIKey and PortOneAPISecret are set",
                                   &why);
    if (err != PV_OK)
        return answer_rejected(r, err, why,
                               parsed ? claim_ids(r, &claim) : NULL);
    return verify_claim(r, c, srv, client, webhook, &claim);
}
