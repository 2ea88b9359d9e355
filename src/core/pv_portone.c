#include "pv_portone.h"

#include <apr_strings.h>
#include <json-c/json_object.h>
#include <string.h>

#include "pv_decimal.h"
#include "pv_json.h"
#include "pv_request.h"

typedef enum { ENV_OK, ENV_BAD, ENV_CODE } env_result;

/* The envelope {"code":0,"message":...,"response":{...}}: ENV_OK with the
 * response object, ENV_CODE for a non-zero code, ENV_BAD for anything not of
 * the documented shape; |*why| says what. */
static env_result envelope(apr_pool_t *pool, const char *body, size_t len,
                           struct json_object **resp, const char **why)
{
    struct json_object *root, *code = NULL, *msg = NULL;

    /* pv_json_parse refuses NUL bytes, an empty body and NULL itself */
    if (pv_json_parse(pool, body, len, PV_JSON_DEPTH, &root)
        || !json_object_is_type(root, json_type_object)) {
        *why = "the answer is not a JSON object";
        return ENV_BAD;
    }
    if (!json_object_object_get_ex(root, "code", &code)
        || !json_object_is_type(code, json_type_int)) {
        *why = "the answer has no integer \"code\"";
        return ENV_BAD;
    }
    /* saturation never gives 0: a zero code is 0 */
    if (json_object_get_int64(code) != 0) {
        size_t n;
        const char *m = NULL, *code_text = pv_json_number_text(pool, code);

        if (!code_text) {
            *why = "the answer has a \"code\" beyond 64 bits";
            return ENV_BAD;
        }
        if (json_object_object_get_ex(root, "message", &msg))
            m = pv_json_string(msg, &n);
        *why = apr_psprintf(pool, "PortOne answered code %.20s: %.200s",
                            code_text, m ? m : "(no message)");
        return ENV_CODE;
    }
    if (!json_object_object_get_ex(root, "response", resp)
        || !json_object_is_type(*resp, json_type_object)) {
        *why = "the answer has no \"response\" object";
        return ENV_BAD;
    }
    return ENV_OK;
}

pv_err pv_portone_parse_token(apr_pool_t *pool, long status_code,
                              const char *body, size_t len, pv_token_t *out,
                              const char **why)
{
    struct json_object *resp = NULL, *v = NULL;
    const char *tok;
    size_t tlen, i;

    if (status_code >= 400 && status_code < 500) {
        *why = apr_psprintf(pool, "getToken refused (HTTP %ld): check "
                            "PortOneAPIKey and PortOneAPISecret", status_code);
        return PV_E_UPSTREAM_AUTH_FAILED;
    }
    if (status_code != 200) {
        *why = apr_psprintf(pool, "getToken answered HTTP %ld", status_code);
        return PV_E_UPSTREAM_ERROR;
    }
    switch (envelope(pool, body, len, &resp, why)) {
    case ENV_CODE:
        *why = apr_psprintf(pool, "getToken refused (%s): check "
                            "PortOneAPIKey and PortOneAPISecret", *why);
        return PV_E_UPSTREAM_AUTH_FAILED;
    case ENV_BAD:
        return PV_E_UPSTREAM_ERROR;
    case ENV_OK:
        break;
    }
    json_object_object_get_ex(resp, "access_token", &v);
    tok = pv_json_string(v, &tlen);
    if (!tok) {
        *why = "getToken answer has no access_token";
        return PV_E_UPSTREAM_ERROR;
    }
    if (tlen == 0 || tlen > PV_TOKEN_MAX) {
        *why = "getToken answer has an access_token of a bad length";
        return PV_E_UPSTREAM_ERROR;
    }
    for (i = 0; i < tlen; i++) {    /* it goes into a header: no CR/LF */
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-._~+/=", tok[i]) || tok[i] == '\0') {
            *why = "getToken answer has an access_token with bad characters";
            return PV_E_UPSTREAM_ERROR;
        }
    }
    memcpy(out->access_token, tok, tlen);
    out->access_token[tlen] = '\0';
    if (!json_object_object_get_ex(resp, "now", &v)
        || pv_json_int64(v, &out->now)) {
        *why = "getToken answer has no integer \"now\"";
        return PV_E_UPSTREAM_ERROR;
    }
    if (!json_object_object_get_ex(resp, "expired_at", &v)
        || pv_json_int64(v, &out->expired_at)) {
        *why = "getToken answer has no integer \"expired_at\"";
        return PV_E_UPSTREAM_ERROR;
    }
    return PV_OK;
}

apr_interval_time_t pv_token_lifetime(const pv_token_t *t)
{
    unsigned long long d;

    if (t->expired_at <= t->now)
        return 0;
    /* exact: the difference is in (0, 2^64) and unsigned arithmetic wraps */
    d = (unsigned long long)t->expired_at - (unsigned long long)t->now;
    if (d > PV_TOKEN_LIFETIME_MAX_SEC)
        d = PV_TOKEN_LIFETIME_MAX_SEC;
    return apr_time_from_sec((apr_time_t)d);
}

/* the same for V1 and V2 (pv_portone_v2.c) */
const char *pv_portone_field(apr_pool_t *pool, struct json_object *resp,
                             const char *name, pv_field_type type,
                             const char **bad)
{
    struct json_object *v;
    const char *text;
    long long i;
    size_t n;

    if (!json_object_object_get_ex(resp, name, &v) || !v)
        return NULL;                        /* absent, or JSON null */
    switch (type) {
    case PV_FIELD_STRING:
        /* a \u0000 inside would cut the value short for every later check */
        text = pv_json_string(v, &n);
        if (text && !memchr(text, '\0', n))
            return text;
        break;
    case PV_FIELD_INT:
        /* seconds, stored as BIGINT */
        if (!pv_json_int64(v, &i))
            return apr_psprintf(pool, "%" APR_INT64_T_FMT, (apr_int64_t)i);
        break;
    case PV_FIELD_NUMBER:
        if ((text = pv_json_number_text(pool, v)))
            return text;
        if (json_object_is_type(v, json_type_int)) {
            /* json-c may have saturated it: its value is unknown */
            *bad = apr_psprintf(pool, "payment field \"%s\" is an integer "
                                "beyond 64 bits", name);
            return NULL;
        }
        break;
    }
    *bad = apr_psprintf(pool, "payment field \"%s\" has the wrong type", name);
    return NULL;
}

static const char *field(apr_pool_t *pool, struct json_object *resp,
                         const char *name, pv_field_type type, const char **bad)
{
    return pv_portone_field(pool, resp, name, type, bad);
}

static const char *const status_names[] = {"ready", "paid", "cancelled", "failed"};

pv_err pv_portone_parse_payment(apr_pool_t *pool, long status_code,
                                const char *body, size_t len,
                                pv_payment_t *out, const char **why)
{
    struct json_object *resp = NULL, *sandbox = NULL;
    const char *bad = NULL;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (status_code == 404) {
        *why = "PortOne has no such payment (HTTP 404)";
        return PV_E_PAYMENT_NOT_FOUND;
    }
    if (status_code != 200) {
        *why = apr_psprintf(pool, "payment look-up answered HTTP %ld",
                            status_code);
        return PV_E_UPSTREAM_ERROR;
    }
    if (envelope(pool, body, len, &resp, why) != ENV_OK)
        return PV_E_UPSTREAM_ERROR;

    /* strings point into json-c's tree, which lives as long as |pool| */
    out->imp_uid = field(pool, resp, "imp_uid", PV_FIELD_STRING, &bad);
    out->merchant_uid = field(pool, resp, "merchant_uid", PV_FIELD_STRING, &bad);
    out->status_text = field(pool, resp, "status", PV_FIELD_STRING, &bad);
    out->amount = field(pool, resp, "amount", PV_FIELD_NUMBER, &bad);
    out->cancel_amount = field(pool, resp, "cancel_amount", PV_FIELD_NUMBER, &bad);
    out->currency = field(pool, resp, "currency", PV_FIELD_STRING, &bad);
    out->pay_method = field(pool, resp, "pay_method", PV_FIELD_STRING, &bad);
    out->paid_at = field(pool, resp, "paid_at", PV_FIELD_INT, &bad);
    out->vbank_num = field(pool, resp, "vbank_num", PV_FIELD_STRING, &bad);
    out->vbank_name = field(pool, resp, "vbank_name", PV_FIELD_STRING, &bad);
    out->vbank_date = field(pool, resp, "vbank_date", PV_FIELD_INT, &bad);
    if (bad) {
        *why = bad;
        return PV_E_UPSTREAM_ERROR;
    }
    /* required since 2026-01-26: an answer without it (an older API, a
     * proxy's rewrite) cannot tell a test payment from a live one, and
     * reading it as live would accept a test-channel payment */
    if (!json_object_object_get_ex(resp, "sandbox", &sandbox)
        || !json_object_is_type(sandbox, json_type_boolean)) {
        *why = "payment field \"sandbox\" is missing or not a boolean";
        return PV_E_UPSTREAM_ERROR;
    }
    out->sandbox = json_object_get_boolean(sandbox) ? 1 : 0;
    if (!out->imp_uid || !out->merchant_uid || !out->status_text
        || !out->amount || !out->currency) {
        *why = "payment lacks imp_uid, merchant_uid, status, amount or currency";
        return PV_E_UPSTREAM_ERROR;
    }
    if (pv_request_check_id(out->imp_uid, strlen(out->imp_uid), PV_IMP_UID_MAX)
        || pv_request_check_id(out->merchant_uid, strlen(out->merchant_uid),
                               PV_MERCHANT_UID_MAX)) {
        *why = "payment has a malformed imp_uid or merchant_uid";
        return PV_E_UPSTREAM_ERROR;
    }
    if (!out->cancel_amount)
        out->cancel_amount = "0";
    {
        pv_decimal_t d;

        if (pv_decimal_parse(out->amount, strlen(out->amount), &d)
            || pv_decimal_parse(out->cancel_amount,
                                strlen(out->cancel_amount), &d)) {
            *why = "payment amount is not a decimal number";
            return PV_E_UPSTREAM_ERROR;
        }
    }
    for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (!strcmp(out->status_text, status_names[i]))
            break;
    if (i == sizeof(status_names) / sizeof(status_names[0])) {
        *why = apr_psprintf(pool, "payment has an unknown status \"%.20s\"",
                            out->status_text);
        return PV_E_UPSTREAM_ERROR;
    }
    out->status = (pv_status)i;
    /* written as JSON text only if a recording writes it
     * (pv_payment_response_json) */
    out->response_tree = resp;
    return PV_OK;
}

const char *pv_payment_response_json(apr_pool_t *pool, pv_payment_t *pay)
{
    /* json-c's tree keeps no text of its own: the object is written again
     * (members in PortOne's order, the last of duplicate keys, numbers
     * with a fraction or an exponent as PortOne wrote them, strings
     * re-escaped: \uXXXX as UTF-8, "\/" as "/") */
    if (!pay->response_json && pay->response_tree)
        pay->response_json = pv_json_text(pool, pay->response_tree);
    return pay->response_json;
}

/* ------------------------------------------------------------- cancels */

const char *pv_portone_cancel_reason(apr_pool_t *pool, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    if (n <= PV_CANCEL_REASON_MAX)
        return reason ? reason : "";
    n = PV_CANCEL_REASON_MAX;
    while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
        n--;                    /* not inside a character */
    return apr_pstrmemdup(pool, reason, n);
}

char *pv_portone_cancel_body(apr_pool_t *pool, const char *imp_uid,
                             const char *checksum, const char *reason,
                             size_t *len)
{
    const pv_json_out_t m[3] = {
        {"imp_uid", imp_uid, 0},
        {"checksum", checksum, 1},
        {"reason", pv_portone_cancel_reason(pool, reason), 0},
    };

    return pv_json_object(pool, m, 3, len);
}

pv_cancel_result pv_portone_parse_cancel(apr_pool_t *pool, long status_code,
                                         const char *body, size_t len,
                                         const char **why)
{
    struct json_object *resp = NULL;

    if (status_code >= 500 || status_code < 200) {
        /* PortOne's own failure: whether it cancelled is not said */
        *why = apr_psprintf(pool, "cancel answered HTTP %ld", status_code);
        return PV_CANCEL_UNKNOWN;
    }
    switch (envelope(pool, body, len, &resp, why)) {
    case ENV_CODE:
        /* refusals come as HTTP 200 with a code (portone-api.md 1.1) */
        *why = apr_psprintf(pool, "cancel refused (HTTP %ld): %s",
                            status_code, *why);
        return PV_CANCEL_REFUSED;
    case ENV_OK:
        if (status_code == 200)
            return PV_CANCEL_DONE;
        break;
    case ENV_BAD:
        break;
    }
    if (status_code >= 400 && status_code < 500) {
        *why = apr_psprintf(pool, "cancel refused (HTTP %ld)", status_code);
        return PV_CANCEL_REFUSED;
    }
    *why = apr_psprintf(pool, "cancel answered HTTP %ld%s%s", status_code,
                        status_code == 200 ? ": " : "",
                        status_code == 200 ? *why : "");
    return PV_CANCEL_UNKNOWN;
}

pv_err pv_portone_parse_prepare(apr_pool_t *pool, long status_code,
                                const char *body, size_t len,
                                const char *merchant_uid, const char *amount,
                                int *registered, pv_prepared_t *out,
                                const char **why)
{
    struct json_object *resp = NULL, *code = NULL, *root = NULL;
    const char *bad = NULL;

    memset(out, 0, sizeof(*out));
    *registered = 0;
    if (status_code != 200) {
        *why = apr_psprintf(pool, "prepare answered HTTP %ld%s", status_code,
                            status_code == 404 ? " (nothing prepared for "
                            "this merchant_uid)" : "");
        return PV_E_UPSTREAM_ERROR;
    }
    switch (envelope(pool, body, len, &resp, why)) {
    case ENV_CODE:
        /* "이미 등록된 merchant_uid입니다" comes as code 1 (portone-api.md
         * 1.5); envelope() read the code as an integer */
        if (!pv_json_parse(pool, body, len, PV_JSON_DEPTH, &root)
            && json_object_object_get_ex(root, "code", &code)
            && json_object_get_int64(code) == 1)
            *registered = 1;
        *why = apr_psprintf(pool, "prepare refused: %s", *why);
        return PV_E_UPSTREAM_ERROR;
    case ENV_BAD:
        return PV_E_UPSTREAM_ERROR;
    case ENV_OK:
        break;
    }
    out->merchant_uid = field(pool, resp, "merchant_uid", PV_FIELD_STRING, &bad);
    out->amount = field(pool, resp, "amount", PV_FIELD_NUMBER, &bad);
    out->currency = field(pool, resp, "currency", PV_FIELD_STRING, &bad);
    if (bad) {
        *why = apr_psprintf(pool, "prepare answer: %s", bad);
        return PV_E_UPSTREAM_ERROR;
    }
    if (!out->merchant_uid || strcmp(out->merchant_uid, merchant_uid)) {
        *why = "prepare answered with another merchant_uid";
        return PV_E_UPSTREAM_ERROR;
    }
    if (!pv_decimal_equal(out->amount, amount)) {
        *why = apr_psprintf(pool, "prepare registered another amount (%.40s, "
                            "not %s)", out->amount ? out->amount : "none",
                            amount);
        return PV_E_UPSTREAM_ERROR;
    }
    return PV_OK;
}
