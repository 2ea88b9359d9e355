/* libFuzzer harness for pv_portone (getToken and GET /payments answers) and,
 * on every payment that maps, pv_decide against a fixed order.
 *
 * Input: one selector byte, then the response body.
 *   bit 0:    0 = getToken answer, 1 = payment answer
 *   bits 1-3: HTTP status, from http_statuses[]
 *   bits 4-5: the order, from orders[]
 *   bit 6:    sandbox_allowed
 *   bit 7:    a claimed merchant_uid (else NULL) */
#include <json-c/json.h>
#include <strings.h>

#include "fuzz_common.h"
#include "pv_decide.h"
#include "pv_decimal.h"
#include "pv_error.h"
#include "pv_portone.h"
#include "pv_request.h"

static const long http_statuses[8] = {200, 200, 200, 404, 401, 500, 201, 0};

static const pv_order_t orders[4] = {
    {"9000", "KRW"},
    {"9000.00", NULL},
    {"10000", "KRW"},
    {"1.5e3", "USD"},
};

static const char *const status_names[] = {"ready", "paid", "cancelled",
                                           "failed"};

static const char token_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=";

static void check_token(apr_pool_t *pool, long status, const uint8_t *body,
                        size_t len)
{
    pv_token_t tok;
    const char *why = NULL;
    pv_err rc;
    size_t n;

    memset(&tok, 0, sizeof(tok));
    rc = pv_portone_parse_token(pool, status, (const char *)body, len, &tok,
                                &why);
    FUZZ_CHECK(rc == PV_OK || rc == PV_E_UPSTREAM_AUTH_FAILED
               || rc == PV_E_UPSTREAM_ERROR);
    if (status >= 400 && status < 500)
        FUZZ_CHECK(rc == PV_E_UPSTREAM_AUTH_FAILED);
    else if (status != 200)
        FUZZ_CHECK(rc == PV_E_UPSTREAM_ERROR);
    if (rc != PV_OK) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    n = strnlen(tok.access_token, sizeof(tok.access_token));
    FUZZ_CHECK(n >= 1 && n <= PV_TOKEN_MAX);
    FUZZ_CHECK(strspn(tok.access_token, token_chars) == n);
    /* any int64 pair: no overflow (UBSan), within [0, a day] */
    {
        apr_interval_time_t life = pv_token_lifetime(&tok);

        FUZZ_CHECK(life >= 0
                   && life <= apr_time_from_sec(PV_TOKEN_LIFETIME_MAX_SEC));
        FUZZ_CHECK((life == 0) == (tok.expired_at <= tok.now));
    }
}

static void check_decision(const pv_payment_t *pay, const pv_order_t *order,
                           int sandbox_allowed, const char *claimed)
{
    pv_decision_t d;
    const pv_outcome_info *info;
    int amount_equal = pv_decimal_equal(pay->amount, order->amount);
    int currency_ok = !order->currency
                      || (pay->currency && !strcmp(order->currency,
                                                   pay->currency));
    int sandbox_ok = !pay->sandbox || sandbox_allowed;

    memset(&d, 0xa5, sizeof(d));
    pv_decide(pay, order, sandbox_allowed, claimed, &d);
    FUZZ_CHECK((int)d.outcome >= 0 && d.outcome < PV_OUT_COUNT);
    FUZZ_CHECK(d.claim_mismatch
               == (claimed && strcmp(claimed, pay->merchant_uid) != 0));
    /* never cancelled only when the order's text is no number or no
     * currency code: a numeric wrong amount is a wrong payment */
    if (!amount_equal)
        FUZZ_CHECK(d.order_unreadable == !pv_decimal_is_number(order->amount));
    else if (!currency_ok && d.order_unreadable)
        FUZZ_CHECK(strlen(order->currency) != 3
                   || order->currency[0] < 'A' || order->currency[0] > 'Z'
                   || order->currency[1] < 'A' || order->currency[1] > 'Z'
                   || order->currency[2] < 'A' || order->currency[2] > 'Z');
    else if (currency_ok)
        FUZZ_CHECK(!d.order_unreadable);
    if (!amount_equal || !currency_ok || !sandbox_ok) {
        FUZZ_CHECK(d.outcome == PV_OUT_FORGERY);
        FUZZ_CHECK(d.reason != NULL);
    }
    else {
        FUZZ_CHECK(d.reason == NULL);
        switch (pay->status) {
        case PV_STATUS_PAID:
            FUZZ_CHECK(d.outcome == PV_OUT_PAID);
            break;
        case PV_STATUS_READY:
            FUZZ_CHECK(d.outcome == ((pay->vbank_num && *pay->vbank_num)
                                     ? PV_OUT_VBANK_ISSUED : PV_OUT_PENDING));
            break;
        case PV_STATUS_CANCELLED:
            FUZZ_CHECK(d.outcome == PV_OUT_CANCELLED);
            break;
        case PV_STATUS_FAILED:
            FUZZ_CHECK(d.outcome == PV_OUT_FAILED);
            break;
        }
    }
    info = pv_outcome_lookup(d.outcome);
    FUZZ_CHECK(info != NULL && info->name != NULL);
    FUZZ_CHECK(pv_outcome_from_name(info->name) == d.outcome);
    /* a forgery never touches the order; pending writes nothing */
    if (d.outcome == PV_OUT_FORGERY)
        FUZZ_CHECK(!info->updates_order && info->writes_event);
    if (d.outcome == PV_OUT_PENDING)
        FUZZ_CHECK(!info->writes_event && !info->updates_order);
    /* PortOneCancelForgery: only a forgery of its own order, paid with a
     * positive remainder that fits, is cancelled; a cancelled one settles */
    switch (pv_refund_intent_of(pay, &d)) {
    case PV_INTENT_CANCEL: {
        char left[128];

        FUZZ_CHECK(d.outcome == PV_OUT_FORGERY && !d.claim_mismatch
                   && !d.order_unreadable && pay->status == PV_STATUS_PAID);
        FUZZ_CHECK(pv_decimal_subtract(pay->amount, pay->cancel_amount, left,
                                       sizeof(left)) == 0
                   && pv_decimal_positive(left));
        break;
    }
    case PV_INTENT_SETTLE:
        FUZZ_CHECK(d.outcome == PV_OUT_FORGERY && !d.claim_mismatch
                   && pay->status == PV_STATUS_CANCELLED);
        break;
    case PV_INTENT_NONE:
        FUZZ_CHECK(d.outcome != PV_OUT_FORGERY || d.claim_mismatch
                   || pay->status == PV_STATUS_READY
                   || pay->status == PV_STATUS_FAILED
                   || pay->status == PV_STATUS_PAID);
        break;
    }
}

/* The same body as the answer of POST /payments/cancel. */
static void check_cancel(apr_pool_t *pool, long status, const uint8_t *body,
                         size_t len)
{
    const char *why = NULL;
    pv_cancel_result r = pv_portone_parse_cancel(pool, status,
                                                 (const char *)body, len,
                                                 &why);

    FUZZ_CHECK(r == PV_CANCEL_DONE || r == PV_CANCEL_REFUSED
               || r == PV_CANCEL_UNKNOWN);
    if (r == PV_CANCEL_DONE)
        FUZZ_CHECK(status == 200);
    else
        FUZZ_CHECK(why != NULL);
    if (status >= 500 || status == 0)
        FUZZ_CHECK(r == PV_CANCEL_UNKNOWN);
}

static void check_same_string(struct json_object *obj, const char *name,
                              const char *value)
{
    struct json_object *v = NULL;

    FUZZ_CHECK(json_object_object_get_ex(obj, name, &v)
               && json_object_is_type(v, json_type_string));
    FUZZ_CHECK((size_t)json_object_get_string_len(v) == strlen(value)
               && memcmp(json_object_get_string(v), value,
                         strlen(value)) == 0);
}

static void check_payment(apr_pool_t *pool, long status, const uint8_t *body,
                          size_t len, uint8_t sel)
{
    pv_payment_t pay;
    const char *why = NULL;
    struct json_object *again;
    pv_err rc;

    rc = pv_portone_parse_payment(pool, status, (const char *)body, len, &pay,
                                  &why);
    FUZZ_CHECK(rc == PV_OK || rc == PV_E_PAYMENT_NOT_FOUND
               || rc == PV_E_UPSTREAM_ERROR);
    if (status == 404)
        FUZZ_CHECK(rc == PV_E_PAYMENT_NOT_FOUND);
    else if (status != 200)
        FUZZ_CHECK(rc == PV_E_UPSTREAM_ERROR);
    else
        FUZZ_CHECK(rc != PV_E_PAYMENT_NOT_FOUND);
    if (rc != PV_OK) {
        FUZZ_CHECK(why != NULL);
        return;
    }

    FUZZ_CHECK(pay.imp_uid && pay.merchant_uid && pay.status_text
               && pay.amount && pay.cancel_amount && pay.currency);
    /* the response text is written only when a recording asks for it */
    FUZZ_CHECK(!pay.response_json);
    FUZZ_CHECK(pv_payment_response_json(pool, &pay) && pay.response_json);
    FUZZ_CHECK((int)pay.status >= 0 && pay.status <= PV_STATUS_FAILED);
    FUZZ_CHECK(strcmp(pay.status_text, status_names[pay.status]) == 0);
    FUZZ_CHECK(pay.sandbox == 0 || pay.sandbox == 1);
    FUZZ_CHECK(pv_request_check_id(pay.imp_uid, strlen(pay.imp_uid),
                                   PV_IMP_UID_MAX) == NULL);
    FUZZ_CHECK(pv_request_check_id(pay.merchant_uid, strlen(pay.merchant_uid),
                                   PV_MERCHANT_UID_MAX) == NULL);
    /* the amounts were accepted as decimals, so each equals itself */
    FUZZ_CHECK(pv_decimal_equal(pay.amount, pay.amount));
    FUZZ_CHECK(pv_decimal_equal(pay.cancel_amount, pay.cancel_amount));
    /* what is stored as "response" is a JSON object again */
    again = json_tokener_parse(pay.response_json);
    FUZZ_CHECK(again != NULL && json_object_is_type(again, json_type_object));
    /* the identifiers that were validated are PortOne's whole values, not a
     * prefix cut at an embedded "\u0000" */
    check_same_string(again, "imp_uid", pay.imp_uid);
    check_same_string(again, "merchant_uid", pay.merchant_uid);
    /* sandbox is a boolean, the one read (the last of duplicates) */
    {
        struct json_object *sb = NULL;

        FUZZ_CHECK(json_object_object_get_ex(again, "sandbox", &sb)
                   && json_object_is_type(sb, json_type_boolean)
                   && json_object_get_boolean(sb) == pay.sandbox);
    }
    json_object_put(again);

    check_decision(&pay, &orders[(sel >> 4) & 3], (sel >> 6) & 1,
                   (sel & 0x80) ? "2022-11-16T10:17:16_1" : NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    long status;
    const pv_err_info *info;

    if (size < 1)
        return 0;
    status = http_statuses[(data[0] >> 1) & 7];
    pool = fuzz_pool();
    /* data + 1 is the end of libFuzzer's exact-size buffer: no NUL after. */
    if (data[0] & 1) {
        check_payment(pool, status, data + 1, size - 1, data[0]);
        check_cancel(pool, status, data + 1, size - 1);
    }
    else
        check_token(pool, status, data + 1, size - 1);
    info = pv_err_lookup((pv_err)(data[0] % (PV_E_COUNT + 2)));
    FUZZ_CHECK(info != NULL && info->code != NULL);
    FUZZ_CHECK(pv_outcome_from_name(NULL) == PV_OUT_FORGERY);
    apr_pool_destroy(pool);
    return 0;
}
