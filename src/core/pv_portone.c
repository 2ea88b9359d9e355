#include "pv_portone.h"

#include <apr_strings.h>
#include <string.h>

#include "pv_decimal.h"
#include "pv_json.h"
#include "pv_request.h"

/* Whether an integer value is zero, by its text ("0", "-0"). */
static int int_is_zero(const pv_json_t *v)
{
    size_t i = v->at[0] == '-';

    return v->len == i + 1 && v->at[i] == '0';
}

typedef enum { ENV_OK, ENV_BAD, ENV_CODE } env_result;

/* The envelope {"code":0,"message":...,"response":{...}}: ENV_OK with the
 * response object, ENV_CODE for a non-zero code, ENV_BAD for anything not of
 * the documented shape; |*why| says what. */
static env_result envelope(apr_pool_t *pool, const char *body, size_t len,
                           pv_json_t *resp, const char **why)
{
    static const char *const keys[] = {"code", "message", "response"};
    pv_json_t root, m[3];

    /* pv_json refuses NUL bytes, an empty body and NULL itself */
    if (pv_json_parse_object(body, len, PV_JSON_DEPTH, keys, 3, &root, m)
        || root.type != PV_JSON_OBJECT) {
        *why = "the answer is not a JSON object";
        return ENV_BAD;
    }
    if (m[0].type != PV_JSON_INT) {
        *why = "the answer has no integer \"code\"";
        return ENV_BAD;
    }
    if (!int_is_zero(&m[0])) {
        size_t n;
        const char *msg = pv_json_string(pool, &m[1], &n);

        *why = apr_psprintf(pool, "PortOne answered code %.*s: %.200s",
                            m[0].len > 20 ? 20 : (int)m[0].len, m[0].at,
                            msg ? msg : "(no message)");
        return ENV_CODE;
    }
    if (m[2].type != PV_JSON_OBJECT) {
        *why = "the answer has no \"response\" object";
        return ENV_BAD;
    }
    *resp = m[2];
    return ENV_OK;
}

pv_err pv_portone_parse_token(apr_pool_t *pool, long http_status,
                              const char *body, size_t len, pv_token_t *out,
                              const char **why)
{
    static const char *const keys[] = {"access_token", "now", "expired_at"};
    pv_json_t resp, m[3];
    const char *tok;
    size_t tlen, i;

    if (http_status >= 400 && http_status < 500) {
        *why = apr_psprintf(pool, "getToken refused (HTTP %ld): check "
                            "PortOneAPIKey and PortOneAPISecret", http_status);
        return PV_E_UPSTREAM_AUTH_FAILED;
    }
    if (http_status != 200) {
        *why = apr_psprintf(pool, "getToken answered HTTP %ld", http_status);
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
    pv_json_members(&resp, keys, 3, m);
    tok = pv_json_string(pool, &m[0], &tlen);
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
    if (pv_json_int64(&m[1], &out->now)) {
        *why = "getToken answer has no integer \"now\"";
        return PV_E_UPSTREAM_ERROR;
    }
    if (pv_json_int64(&m[2], &out->expired_at)) {
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

typedef enum { F_STRING, F_NUMBER, F_INT } field_type;

/* Reads an optional field: NULL when absent or null; |*bad| set when it has
 * another type. Numbers come back as their exact JSON text. */
static const char *field(apr_pool_t *pool, const pv_json_t *v,
                         const char *name, field_type type, const char **bad)
{
    long long ignored;
    const char *text;
    size_t n;

    if (v->type == PV_JSON_NONE || v->type == PV_JSON_NULL)
        return NULL;
    switch (type) {
    case F_STRING:
        /* a \u0000 inside would cut the value short for every later check */
        text = pv_json_string(pool, v, &n);
        if (text && !memchr(text, '\0', n))
            return text;
        break;
    case F_INT:
        /* seconds, stored as BIGINT */
        if (!pv_json_int64(v, &ignored))
            return apr_pstrmemdup(pool, v->at, v->len);
        break;
    case F_NUMBER:
        if (v->type == PV_JSON_INT || v->type == PV_JSON_NUMBER)
            return apr_pstrmemdup(pool, v->at, v->len);
        break;
    }
    *bad = name;
    return NULL;
}

static const char *const status_names[] = {"ready", "paid", "cancelled", "failed"};

pv_err pv_portone_parse_payment(apr_pool_t *pool, long http_status,
                                const char *body, size_t len,
                                pv_payment_t *out, const char **why)
{
    /* the fields read, in the order of the values below */
    static const char *const keys[] = {
        "imp_uid", "merchant_uid", "status", "amount", "cancel_amount",
        "currency", "pay_method", "paid_at", "vbank_num", "vbank_name",
        "vbank_date", "sandbox"
    };
    pv_json_t resp, m[sizeof(keys) / sizeof(keys[0])];
    const char *bad = NULL;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (http_status == 404) {
        *why = "PortOne has no such payment (HTTP 404)";
        return PV_E_PAYMENT_NOT_FOUND;
    }
    if (http_status != 200) {
        *why = apr_psprintf(pool, "payment look-up answered HTTP %ld",
                            http_status);
        return PV_E_UPSTREAM_ERROR;
    }
    if (envelope(pool, body, len, &resp, why) != ENV_OK)
        return PV_E_UPSTREAM_ERROR;

    pv_json_members(&resp, keys, (int)(sizeof(keys) / sizeof(keys[0])), m);
    out->imp_uid = field(pool, &m[0], keys[0], F_STRING, &bad);
    out->merchant_uid = field(pool, &m[1], keys[1], F_STRING, &bad);
    out->status_text = field(pool, &m[2], keys[2], F_STRING, &bad);
    out->amount = field(pool, &m[3], keys[3], F_NUMBER, &bad);
    out->cancel_amount = field(pool, &m[4], keys[4], F_NUMBER, &bad);
    out->currency = field(pool, &m[5], keys[5], F_STRING, &bad);
    out->pay_method = field(pool, &m[6], keys[6], F_STRING, &bad);
    out->paid_at = field(pool, &m[7], keys[7], F_INT, &bad);
    out->vbank_num = field(pool, &m[8], keys[8], F_STRING, &bad);
    out->vbank_name = field(pool, &m[9], keys[9], F_STRING, &bad);
    out->vbank_date = field(pool, &m[10], keys[10], F_INT, &bad);
    if (bad) {
        *why = apr_psprintf(pool, "payment field \"%s\" has the wrong type", bad);
        return PV_E_UPSTREAM_ERROR;
    }
    /* required since 2026-01-26: an answer without it (an older API, a
     * proxy's rewrite) cannot tell a test payment from a live one, and
     * reading it as live would accept a test-channel payment */
    if (m[11].type != PV_JSON_TRUE && m[11].type != PV_JSON_FALSE) {
        *why = "payment field \"sandbox\" is missing or not a boolean";
        return PV_E_UPSTREAM_ERROR;
    }
    out->sandbox = m[11].type == PV_JSON_TRUE;
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
    /* stored as PortOne sent it: no second serialisation */
    out->response_json = apr_pstrmemdup(pool, resp.at, resp.len);
    return PV_OK;
}
