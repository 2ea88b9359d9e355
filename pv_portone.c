#include "pv_portone.h"

#include <apr_strings.h>
#include <json-c/json.h>
#include <string.h>

#include "pv_decimal.h"
#include "pv_request.h"

static apr_status_t json_put_cleanup(void *obj)
{
    json_object_put(obj);
    return APR_SUCCESS;
}

/* Parses a whole body as strict JSON; the object lives as long as |pool|. */
static struct json_object *parse_body(apr_pool_t *pool, const char *body,
                                      size_t len)
{
    struct json_tokener *tok;
    struct json_object *root;

    if (!body || len == 0 || len > (size_t)0x7fffffff || memchr(body, 0, len))
        return NULL;
    tok = json_tokener_new_ex(PV_JSON_DEPTH);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, body, (int)len);
    if (root && (json_tokener_get_error(tok) != json_tokener_success
                 || (size_t)tok->char_offset < len)) {
        size_t i;

        for (i = (size_t)tok->char_offset; i < len; i++)
            if (!strchr(" \t\r\n", body[i]))
                break;
        if (i < len || json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(root);
            root = NULL;
        }
    }
    json_tokener_free(tok);
    if (root)
        apr_pool_cleanup_register(pool, root, json_put_cleanup,
                                  apr_pool_cleanup_null);
    return root;
}

typedef enum { ENV_OK, ENV_BAD, ENV_CODE } env_result;

/* The envelope {"code":0,"message":...,"response":{...}}: ENV_OK with the
 * response object, ENV_CODE for a non-zero code, ENV_BAD for anything not of
 * the documented shape; |*why| says what. */
static env_result envelope(apr_pool_t *pool, const char *body, size_t len,
                           struct json_object **resp, const char **why)
{
    struct json_object *root = parse_body(pool, body, len), *code, *msg;

    if (!root || !json_object_is_type(root, json_type_object)) {
        *why = "the answer is not a JSON object";
        return ENV_BAD;
    }
    if (!json_object_object_get_ex(root, "code", &code)
        || !json_object_is_type(code, json_type_int)) {
        *why = "the answer has no integer \"code\"";
        return ENV_BAD;
    }
    if (json_object_get_int64(code) != 0) {
        const char *m = NULL;

        if (json_object_object_get_ex(root, "message", &msg)
            && json_object_is_type(msg, json_type_string))
            m = json_object_get_string(msg);
        *why = apr_psprintf(pool, "PortOne answered code %" APR_INT64_T_FMT
                            ": %.200s", (apr_int64_t)json_object_get_int64(code),
                            m ? m : "(no message)");
        return ENV_CODE;
    }
    if (!json_object_object_get_ex(root, "response", resp)
        || !json_object_is_type(*resp, json_type_object)) {
        *why = "the answer has no \"response\" object";
        return ENV_BAD;
    }
    return ENV_OK;
}

pv_err pv_portone_parse_token(apr_pool_t *pool, long http_status,
                              const char *body, size_t len, pv_token_t *out,
                              const char **why)
{
    struct json_object *resp = NULL, *v;
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
    if (!json_object_object_get_ex(resp, "access_token", &v)
        || !json_object_is_type(v, json_type_string)) {
        *why = "getToken answer has no access_token";
        return PV_E_UPSTREAM_ERROR;
    }
    tok = json_object_get_string(v);
    tlen = (size_t)json_object_get_string_len(v);
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
        || !json_object_is_type(v, json_type_int)) {
        *why = "getToken answer has no integer \"now\"";
        return PV_E_UPSTREAM_ERROR;
    }
    out->now = json_object_get_int64(v);
    if (!json_object_object_get_ex(resp, "expired_at", &v)
        || !json_object_is_type(v, json_type_int)) {
        *why = "getToken answer has no integer \"expired_at\"";
        return PV_E_UPSTREAM_ERROR;
    }
    out->expired_at = json_object_get_int64(v);
    return PV_OK;
}

/* Skips one JSON value of text that json-c already accepted as strict JSON;
 * returns the position after it. */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;

    for (; p < end; p++) {
        char c = *p;

        if (c == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\')
                    p++;
            if (depth == 0)
                return p + 1;               /* a string */
        }
        else if (c == '{' || c == '[') {
            depth++;
        }
        else if (c == '}' || c == ']') {
            if (--depth <= 0)
                return depth == 0 ? p + 1   /* an object or array */
                                  : p;      /* a literal, then the end */
        }
        else if (depth == 0 && strchr(", \t\r\n", c)) {
            return p;                       /* a number or literal */
        }
    }
    return p;
}

/* The text of member |key| of the top-level object of |body| exactly as
 * PortOne sent it, so that storing it needs no second serialisation; the
 * last one if the key repeats, as json-c keeps the last. NULL when not found
 * as plain text (json-c serialises it then). */
static const char *raw_member(apr_pool_t *pool, const char *body, size_t len,
                              const char *key)
{
    const char *p = body, *end = body + len, *found = NULL;
    size_t klen = strlen(key), flen = 0;

    while (p < end && *p != '{')
        p++;
    for (p++; p < end;) {
        const char *k;

        while (p < end && strchr(" \t\r\n,", *p))
            p++;
        if (p >= end || *p != '"')
            break;
        for (k = ++p; p < end && *p != '"' && *p != '\\'; p++)
            ;
        if (p >= end || *p != '"')
            return NULL;                    /* an escaped key */
        {
            int match = (size_t)(p - k) == klen && !memcmp(k, key, klen);
            const char *v;

            for (p++; p < end && *p != ':'; p++)
                ;
            for (p++; p < end && strchr(" \t\r\n", *p); p++)
                ;
            v = p;
            p = skip_value(p, end);
            if (match) {
                found = v;
                flen = (size_t)(p - v);
            }
        }
    }
    return found ? apr_pstrmemdup(pool, found, flen) : NULL;
}

typedef enum { F_STRING, F_NUMBER, F_INT } field_type;

/* Reads an optional field: NULL when absent or null; |*bad| set when it has
 * another type. Numbers come back as their JSON text. */
static const char *field(apr_pool_t *pool, struct json_object *obj,
                         const char *name, field_type type, const char **bad)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, name, &v)
        || json_object_is_type(v, json_type_null))
        return NULL;
    switch (type) {
    case F_STRING:
        /* a \u0000 inside would cut the value short for every later check */
        if (json_object_is_type(v, json_type_string)
            && !memchr(json_object_get_string(v), '\0',
                       (size_t)json_object_get_string_len(v)))
            return apr_pstrmemdup(pool, json_object_get_string(v),
                                  (size_t)json_object_get_string_len(v));
        break;
    case F_NUMBER:
    case F_INT:
        if (json_object_is_type(v, json_type_int)
            || (type == F_NUMBER && json_object_is_type(v, json_type_double)))
            return apr_pstrdup(pool, json_object_to_json_string_ext(
                                   v, JSON_C_TO_STRING_PLAIN));
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
    struct json_object *resp = NULL, *sb;
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

    out->imp_uid = field(pool, resp, "imp_uid", F_STRING, &bad);
    out->merchant_uid = field(pool, resp, "merchant_uid", F_STRING, &bad);
    out->status_text = field(pool, resp, "status", F_STRING, &bad);
    out->amount = field(pool, resp, "amount", F_NUMBER, &bad);
    out->cancel_amount = field(pool, resp, "cancel_amount", F_NUMBER, &bad);
    out->currency = field(pool, resp, "currency", F_STRING, &bad);
    out->pay_method = field(pool, resp, "pay_method", F_STRING, &bad);
    out->paid_at = field(pool, resp, "paid_at", F_INT, &bad);
    out->vbank_num = field(pool, resp, "vbank_num", F_STRING, &bad);
    out->vbank_name = field(pool, resp, "vbank_name", F_STRING, &bad);
    out->vbank_date = field(pool, resp, "vbank_date", F_INT, &bad);
    if (json_object_object_get_ex(resp, "sandbox", &sb)
        && !json_object_is_type(sb, json_type_null)) {
        if (json_object_is_type(sb, json_type_boolean))
            out->sandbox = json_object_get_boolean(sb);
        else
            bad = "sandbox";
    }
    if (bad) {
        *why = apr_psprintf(pool, "payment field \"%s\" has the wrong type", bad);
        return PV_E_UPSTREAM_ERROR;
    }
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
    out->response_json = raw_member(pool, body, len, "response");
    if (!out->response_json)
        out->response_json = apr_pstrdup(pool, json_object_to_json_string_ext(
            resp, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    return PV_OK;
}
