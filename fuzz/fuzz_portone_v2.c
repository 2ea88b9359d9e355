/* libFuzzer harness for pv_portone_v2 (GET /payments/{paymentId} answers)
 * and, on every payment that maps, pv_decide against a fixed order; with
 * bit 7 the body is a portone-verify claim instead (pv_request_parse_verify).
 *
 * Input: one selector byte, then the body.
 *   bits 0-2: HTTP status, from http_statuses[]
 *   bit 3:    a configured store ("store-a"), else NULL
 *   bits 4-5: the order, from orders[]
 *   bit 6:    sandbox_allowed
 *   bit 7:    the body is a claim, not an answer
 * The paymentId asked is "pay-1". */
#include <json-c/json.h>

#include "fuzz_common.h"
#include "pv_decide.h"
#include "pv_decimal.h"
#include "pv_error.h"
#include "pv_portone_v2.h"
#include "pv_request.h"

static const long http_statuses[8] = {200, 200, 200, 404, 401, 403, 500, 0};

static const pv_order_t orders[4] = {
    {"1000", "KRW"},
    {"1000.00", NULL},
    {"12000", "KRW"},
    {"0", "USD"},
};

static const struct {
    const char *name;
    pv_status status;
} statuses[] = {
    {"READY", PV_STATUS_READY}, {"PAY_PENDING", PV_STATUS_READY},
    {"VIRTUAL_ACCOUNT_ISSUED", PV_STATUS_READY}, {"PAID", PV_STATUS_PAID},
    {"PARTIAL_CANCELLED", PV_STATUS_PAID}, {"CANCELLED", PV_STATUS_CANCELLED},
    {"FAILED", PV_STATUS_FAILED},
};

static int is_integer_text(const char *s)
{
    return s && *s && strspn(s, "0123456789") == strlen(s);
}

static int is_seconds(const char *s)
{
    if (s && *s == '-')
        s++;
    return is_integer_text(s);
}

static void check_decision(const pv_payment_t *pay, const pv_order_t *order,
                           int sandbox_allowed)
{
    pv_decision_t d;
    int ok = pv_decimal_equal(pay->amount, order->amount)
             && (!order->currency || !strcmp(order->currency, pay->currency))
             && (!pay->sandbox || sandbox_allowed) && !pay->store_mismatch;

    memset(&d, 0xa5, sizeof(d));
    pv_decide(pay, order, sandbox_allowed, NULL, &d);
    FUZZ_CHECK(!d.claim_mismatch);
    FUZZ_CHECK((d.outcome == PV_OUT_FORGERY) == !ok);
    FUZZ_CHECK((d.reason != NULL) == !ok);
    if (!ok)
        return;
    if (!strcmp(pay->status_text, "VIRTUAL_ACCOUNT_ISSUED"))
        FUZZ_CHECK(d.outcome == PV_OUT_VBANK_ISSUED);
    else if (pay->status == PV_STATUS_READY)
        FUZZ_CHECK(d.outcome == PV_OUT_PENDING);
    else if (pay->status == PV_STATUS_PAID)
        FUZZ_CHECK(d.outcome == PV_OUT_PAID);
}

static void check_payment(apr_pool_t *pool, long status, const uint8_t *body,
                          size_t len, uint8_t sel)
{
    const char *store = (sel & 8) ? "store-a" : NULL, *why = NULL;
    struct json_object *again, *id = NULL;
    pv_payment_t pay;
    size_t i;
    pv_err rc = pv_portone_v2_parse_payment(pool, status, (const char *)body,
                                            len, "pay-1", store, &pay, &why);

    FUZZ_CHECK(rc == PV_OK || rc == PV_E_PAYMENT_NOT_FOUND
               || rc == PV_E_UPSTREAM_AUTH_FAILED || rc == PV_E_UPSTREAM_ERROR);
    FUZZ_CHECK(pay.api == PV_API_V2);
    if (status == 200)
        FUZZ_CHECK(rc == PV_OK || rc == PV_E_UPSTREAM_ERROR);
    else if (status == 404)
        FUZZ_CHECK(rc == PV_E_PAYMENT_NOT_FOUND || rc == PV_E_UPSTREAM_ERROR);
    else if (status == 401 || status == 403)
        FUZZ_CHECK(rc == PV_E_UPSTREAM_AUTH_FAILED);
    else
        FUZZ_CHECK(rc == PV_E_UPSTREAM_ERROR);
    if (rc != PV_OK) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(!strcmp(pay.imp_uid, "pay-1") && !strcmp(pay.merchant_uid, "pay-1"));
    for (i = 0; i < sizeof(statuses) / sizeof(*statuses); i++)
        if (!strcmp(pay.status_text, statuses[i].name))
            break;
    FUZZ_CHECK(i < sizeof(statuses) / sizeof(*statuses));
    FUZZ_CHECK(pay.status == statuses[i].status);
    FUZZ_CHECK(is_integer_text(pay.amount) && is_integer_text(pay.cancel_amount));
    FUZZ_CHECK(pay.currency && pay.store_id && !pay.response_json);
    FUZZ_CHECK(pv_payment_response_json(pool, &pay) && pay.response_json);
    FUZZ_CHECK(!pay.channel_type || !strcmp(pay.channel_type, "LIVE")
               || !strcmp(pay.channel_type, "TEST"));
    FUZZ_CHECK(pay.sandbox == (pay.channel_type
                               && !strcmp(pay.channel_type, "TEST")));
    FUZZ_CHECK(pay.channel_type || pay.status == PV_STATUS_FAILED
               || !strcmp(pay.status_text, "READY"));
    FUZZ_CHECK(pay.store_mismatch == (store && strcmp(store, pay.store_id)));
    if (!strcmp(pay.status_text, "VIRTUAL_ACCOUNT_ISSUED"))
        FUZZ_CHECK(pay.vbank_num && *pay.vbank_num);
    if (pay.status == PV_STATUS_READY && !pay.vbank_num)
        FUZZ_CHECK(strcmp(pay.status_text, "VIRTUAL_ACCOUNT_ISSUED"));
    if (!strcmp(pay.status_text, "READY") || !strcmp(pay.status_text, "PAY_PENDING"))
        FUZZ_CHECK(!pay.vbank_num && !pay.vbank_name && !pay.vbank_date);
    FUZZ_CHECK(!pay.paid_at || is_seconds(pay.paid_at));
    FUZZ_CHECK(!pay.vbank_date || is_seconds(pay.vbank_date));
    /* what is stored is the payment object again, its id the one asked */
    again = json_tokener_parse(pay.response_json);
    FUZZ_CHECK(again && json_object_is_type(again, json_type_object));
    FUZZ_CHECK(json_object_object_get_ex(again, "id", &id)
               && json_object_is_type(id, json_type_string)
               && !strcmp(json_object_get_string(id), "pay-1"));
    json_object_put(again);
    check_decision(&pay, &orders[(sel >> 4) & 3], (sel >> 6) & 1);
}

static void check_claim(apr_pool_t *pool, const uint8_t *body, size_t len)
{
    pv_claim_t claim;
    const char *why = NULL;
    pv_err rc = pv_request_parse_verify(pool, (const char *)body, len,
                                        PV_BODY_JSON, &claim, &why);

    FUZZ_CHECK(rc == PV_OK || rc == PV_E_INVALID_REQUEST
               || rc == PV_E_PAYLOAD_TOO_LARGE);
    if (rc != PV_OK) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    if (claim.payment_id) {     /* V2: the V1 ids absent */
        FUZZ_CHECK(!claim.imp_uid && !claim.merchant_uid);
        FUZZ_CHECK(pv_request_check_id(claim.payment_id,
                                       strlen(claim.payment_id),
                                       PV_PAYMENT_ID_MAX) == NULL);
    }
    else {
        FUZZ_CHECK(claim.imp_uid && claim.merchant_uid);
    }
}

/* The same body as the answer of POST /payments/{paymentId}/cancel. */
static void check_cancel(apr_pool_t *pool, long status, const uint8_t *body,
                         size_t len)
{
    const char *why = NULL;
    pv_cancel_result r = pv_portone_v2_parse_cancel(pool, status,
                                                    (const char *)body, len,
                                                    &why);

    FUZZ_CHECK(r == PV_CANCEL_DONE || r == PV_CANCEL_REFUSED
               || r == PV_CANCEL_UNKNOWN);
    FUZZ_CHECK(why != NULL);
    if (r == PV_CANCEL_DONE)
        FUZZ_CHECK(status == 200);
    if (status >= 500 || status == 0)
        FUZZ_CHECK(r == PV_CANCEL_UNKNOWN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    long long t;

    if (size < 1)
        return 0;
    pool = fuzz_pool();
    /* data + 1 is the end of libFuzzer's exact-size buffer: no NUL after. */
    if (data[0] & 0x80)
        check_claim(pool, data + 1, size - 1);
    else {
        check_payment(pool, http_statuses[data[0] & 7], data + 1, size - 1,
                      data[0]);
        check_cancel(pool, http_statuses[data[0] & 7], data + 1, size - 1);
    }
    {
        char *s = fuzz_cstr(data + 1, size - 1);

        /* years 0000-9999, offsets within a day */
        if (pv_portone_v2_time(s, &t) == 0)
            FUZZ_CHECK(t >= -62167219200LL - 86400
                       && t <= 253402300799LL + 86400);
        free(s);
    }
    apr_pool_destroy(pool);
    return 0;
}
