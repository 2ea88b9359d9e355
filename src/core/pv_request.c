#include "pv_request.h"

#include <apr_escape.h>
#include <apr_strings.h>
#include <json-c/json_object.h>
#include <string.h>

#include "pv_json.h"

#define PV_BODY_JSON_DEPTH 8

static int media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);

    if (strncasecmp(ct, type, n))
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

pv_err pv_request_media(const char *content_type, int allow_form,
                        pv_body_kind *kind)
{
    if (!content_type)
        return PV_E_UNSUPPORTED_MEDIA_TYPE;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    if (media_is(content_type, "application/json")) {
        *kind = PV_BODY_JSON;
        return PV_OK;
    }
    if (allow_form
        && media_is(content_type, "application/x-www-form-urlencoded")) {
        *kind = PV_BODY_FORM;
        return PV_OK;
    }
    return PV_E_UNSUPPORTED_MEDIA_TYPE;
}

/* Length of the UTF-8 sequence at |s| (at most |n| bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned int cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { len = 2; cp = s[0] & 0x1f; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { len = 3; cp = s[0] & 0x0f; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { len = 4; cp = s[0] & 0x07; }
    else return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* pv_request_check_id; |*too_long| tells the length failure from the
 * others (its message names the limit). */
static const char *check_id(const char *s, size_t len, size_t max_chars,
                            int *too_long)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, chars = 0;

    *too_long = 0;
    if (!s || len == 0)
        return "is empty";
    while (i < len) {
        size_t n = utf8_seq(u + i, len - i);

        if (n == 0)
            return "is not valid UTF-8";
        /* C0, DEL and the C1 controls U+0080..U+009F */
        if ((n == 1 && (u[i] < 0x20 || u[i] == 0x7f))
            || (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0))
            return "contains a control character";
        i += n;
        chars++;
    }
    if (chars > max_chars) {
        *too_long = 1;
        return max_chars == PV_IMP_UID_MAX ? "is longer than 32 characters"
             : max_chars == PV_MERCHANT_UID_MAX ? "is longer than 40 characters"
             : "is too long";
    }
    return NULL;
}

const char *pv_request_check_id(const char *s, size_t len, size_t max_chars)
{
    int too_long;

    return check_id(s, len, max_chars, &too_long);
}

typedef struct {
    const char *name;
    size_t max_chars;
    int required;
    size_t offset;          /* of the field in pv_claim_t */
} field_spec;

static const field_spec fields[] = {
    {"imp_uid", PV_IMP_UID_MAX, 1, offsetof(pv_claim_t, imp_uid)},
    {"merchant_uid", PV_MERCHANT_UID_MAX, 1, offsetof(pv_claim_t, merchant_uid)},
    {"status", 20, 0, offsetof(pv_claim_t, status)},
    {"cancellation_id", 64, 0, offsetof(pv_claim_t, cancellation_id)},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *set_field(apr_pool_t *pool, pv_claim_t *out,
                             const field_spec *f, const char *v, size_t len)
{
    int too_long;
    const char *bad = check_id(v, len, f->max_chars, &too_long);

    if (bad && too_long)
        return apr_psprintf(pool, "%s is longer than %lu characters", f->name,
                            (unsigned long)f->max_chars);
    if (bad)
        return apr_psprintf(pool, "%s %s", f->name, bad);
    *(const char **)((char *)out + f->offset) = apr_pstrmemdup(pool, v, len);
    return NULL;
}

/* The whole body is UTF-8 (the fields are checked again, with the rest of
 * what pv_request_check_id asks). */
static int utf8_valid(const char *body, size_t len)
{
    const unsigned char *u = (const unsigned char *)body;
    size_t i = 0;

    while (i < len) {
        size_t n = u[i] < 0x80 ? 1 : utf8_seq(u + i, len - i);

        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* The field |f| of the JSON object |root| into |out|: NULL or what is
 * wrong. */
static const char *json_field(apr_pool_t *pool, struct json_object *root,
                              const field_spec *f, pv_claim_t *out)
{
    struct json_object *v;
    size_t n;
    const char *s;

    if (!json_object_object_get_ex(root, f->name, &v) || !v)
        return f->required                  /* absent, or JSON null */
               ? apr_psprintf(pool, "%s is missing", f->name) : NULL;
    if (!(s = pv_json_string(v, &n)))
        return apr_psprintf(pool, "%s is not a string", f->name);
    if (n == 0 && !f->required)
        return NULL;    /* empty optional field: NULL, as in a form */
    return set_field(pool, out, f, s, n);
}

/* A member that is there and not null. */
static int present(struct json_object *root, const char *name)
{
    struct json_object *v;

    return json_object_object_get_ex(root, name, &v) && v;
}

static const field_spec payment_id_field =
    {"paymentId", PV_PAYMENT_ID_MAX, 1, offsetof(pv_claim_t, payment_id)};

/* |v2|: a "paymentId" makes it a V2 claim (pv_request_parse_verify). */
static const char *parse_json(apr_pool_t *pool, const char *body, size_t len,
                              int v2, pv_claim_t *out)
{
    struct json_object *root;
    const char *why = NULL;
    size_t i;

    /* stricter than json-c's check (no overlong form, no surrogate) */
    if (!utf8_valid(body, len))
        return "the body is not valid UTF-8";
    if (pv_json_parse(pool, body, len, PV_BODY_JSON_DEPTH, &root))
        return "the body is not valid JSON";
    if (!json_object_is_type(root, json_type_object))
        return "the body is not a JSON object";
    if (v2 && present(root, "paymentId")) {
        if (present(root, "imp_uid") || present(root, "merchant_uid"))
            return "paymentId (V2) comes with imp_uid or merchant_uid (V1)";
        return json_field(pool, root, &payment_id_field, out);
    }
    /* json-c keeps the last of duplicate keys and cannot tell that a key
     * repeated: a field given twice counts once, the last (docs/security.md,
     * "Decisions"); other keys are ignored */
    for (i = 0; !why && i < NFIELDS; i++)
        why = json_field(pool, root, &fields[i], out);
    return why;
}

/* The key or value |s| of a form (NUL-terminated: apr_unescape_url reads
 * the two bytes after a '%' before it checks the length) decoded into
 * |pool|, '+' as a space; its length in |*len|. NULL on a bad %-escape.
 * apr_unescape_url refuses a %00 (APR_BADCH) but decodes it: it is kept,
 * and set_field refuses it as a control character, as any other. */
static const char *form_decode(apr_pool_t *pool, const char *s, size_t *len)
{
    char *out = apr_palloc(pool, strlen(s) + 1);
    apr_size_t size;
    apr_status_t rv = apr_unescape_url(out, s, APR_ESCAPE_STRING, NULL, NULL,
                                       1, &size);

    if (rv != APR_SUCCESS && rv != APR_NOTFOUND && rv != APR_BADCH)
        return NULL;
    *len = size - 1;                        /* |size| counts the NUL */
    return out;
}

static const char *parse_form(apr_pool_t *pool, const char *body, size_t len,
                              pv_claim_t *out)
{
    /* a copy, cut into NUL-terminated keys and values */
    char *p = apr_pstrmemdup(pool, body, len), *end = p + len;
    int seen[NFIELDS] = {0};
    size_t i;

    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *pair_end = amp ? amp : end;
        char *eq = memchr(p, '=', (size_t)(pair_end - p));
        const char *key, *val;
        size_t klen, vlen;

        if (pair_end == p) {            /* empty pair ("a=1&&b=2") */
            p = pair_end + 1;
            continue;
        }
        if (!eq)
            return "the form body has a field without '='";
        *eq = '\0';
        *pair_end = '\0';
        key = form_decode(pool, p, &klen);
        val = form_decode(pool, eq + 1, &vlen);
        if (!key || !val)
            return "the form body has a bad %-escape";
        for (i = 0; i < NFIELDS; i++) {
            const char *why;

            if (strlen(fields[i].name) != klen
                || memcmp(fields[i].name, key, klen))
                continue;
            if (seen[i]++)
                return apr_psprintf(pool, "%s is given twice", fields[i].name);
            if (vlen == 0 && !fields[i].required)
                break;
            why = set_field(pool, out, &fields[i], val, vlen);
            if (why)
                return why;
        }
        p = pair_end + (amp ? 1 : 0);
    }
    for (i = 0; i < NFIELDS; i++)
        if (fields[i].required && !seen[i])
            return apr_psprintf(pool, "%s is missing", fields[i].name);
    return NULL;
}

static pv_err parse(apr_pool_t *pool, const char *body, size_t len,
                    pv_body_kind kind, int v2, pv_claim_t *out,
                    const char **why)
{
    memset(out, 0, sizeof(*out));
    if (len == 0)
        *why = "the body is empty";
    else if (len > PV_BODY_MAX) {
        *why = "the body is larger than 64 KiB";
        return PV_E_PAYLOAD_TOO_LARGE;
    }
    else if (memchr(body, '\0', len))
        *why = "the body contains a NUL byte";
    else if (kind == PV_BODY_JSON)
        *why = parse_json(pool, body, len, v2, out);
    else
        *why = parse_form(pool, body, len, out);
    return *why ? PV_E_INVALID_REQUEST : PV_OK;
}

pv_err pv_request_parse(apr_pool_t *pool, const char *body, size_t len,
                        pv_body_kind kind, pv_claim_t *out, const char **why)
{
    return parse(pool, body, len, kind, 0, out, why);
}

pv_err pv_request_parse_verify(apr_pool_t *pool, const char *body,
                               size_t len, pv_body_kind kind,
                               pv_claim_t *out, const char **why)
{
    return parse(pool, body, len, kind, 1, out, why);
}

/* ------------------------------------------------------ V2 webhook bodies */

/* The optional string member |name| of |obj| into |*out| (NULL when absent,
 * null or empty): NULL or what is wrong. At most |max_chars| characters, no
 * control character. */
static const char *v2_member(apr_pool_t *pool, struct json_object *obj,
                             const char *label, const char *name,
                             size_t max_chars, const char **out)
{
    struct json_object *v;
    const char *s, *bad;
    size_t n;
    int too_long;

    *out = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !v)
        return NULL;
    if (!(s = pv_json_string(v, &n)))
        return apr_psprintf(pool, "%s is not a string", label);
    if (n == 0)
        return NULL;
    if ((bad = check_id(s, n, max_chars, &too_long)) != NULL)
        return too_long ? apr_psprintf(pool, "%s is longer than %lu "
                                       "characters", label,
                                       (unsigned long)max_chars)
                        : apr_psprintf(pool, "%s %s", label, bad);
    *out = apr_pstrmemdup(pool, s, n);
    return NULL;
}

static const char *parse_v2_webhook(apr_pool_t *pool, const char *body,
                                    size_t len, pv_v2_webhook_t *out)
{
    struct json_object *root, *data;
    const char *why;

    if (!utf8_valid(body, len))
        return "the body is not valid UTF-8";
    if (pv_json_parse(pool, body, len, PV_BODY_JSON_DEPTH, &root))
        return "the body is not valid JSON";
    if (!json_object_is_type(root, json_type_object))
        return "the body is not a JSON object";
    if (present(root, "type")) {
        /* 2024-04-25: {"type","timestamp","data":{...}} */
        if ((why = v2_member(pool, root, "type", "type", 64, &out->type)))
            return why;
        if (!out->type)
            return "type is empty";
        if (strncmp(out->type, "Transaction.", 12)) {
            out->ignored = 1;
            return NULL;
        }
        if (!json_object_object_get_ex(root, "data", &data) || !data)
            return "data is missing";
        if (!json_object_is_type(data, json_type_object))
            return "data is not an object";
        if ((why = v2_member(pool, data, "data.storeId", "storeId", 128,
                             &out->store_id))
            || (why = v2_member(pool, data, "data.transactionId",
                                "transactionId", 128, &out->transaction_id))
            || (why = v2_member(pool, data, "data.paymentId", "paymentId",
                                PV_PAYMENT_ID_MAX, &out->payment_id)))
            return why;
        return out->payment_id ? NULL : "data.paymentId is missing";
    }
    /* 2024-01-01: {"payment_id","tx_id","status"} */
    if ((why = v2_member(pool, root, "tx_id", "tx_id", 128,
                         &out->transaction_id))
        || (why = v2_member(pool, root, "status", "status", 64, &out->status))
        || (why = v2_member(pool, root, "payment_id", "payment_id",
                            PV_PAYMENT_ID_MAX, &out->payment_id)))
        return why;
    return out->payment_id ? NULL
                           : "neither type (2024-04-25) nor payment_id "
                             "(2024-01-01) is given";
}

pv_err pv_request_parse_v2_webhook(apr_pool_t *pool, const char *body,
                                   size_t len, pv_v2_webhook_t *out,
                                   const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (len == 0)
        *why = "the body is empty";
    else if (len > PV_BODY_MAX) {
        *why = "the body is larger than 64 KiB";
        return PV_E_PAYLOAD_TOO_LARGE;
    }
    else if (memchr(body, '\0', len))
        *why = "the body contains a NUL byte";
    else
        *why = parse_v2_webhook(pool, body, len, out);
    return *why ? PV_E_INVALID_REQUEST : PV_OK;
}

/* --------------------------------------------- prepare and reconcile bodies */

static const field_spec prepare_merchant_uid =
    {"merchant_uid", PV_MERCHANT_UID_MAX, 1, offsetof(pv_claim_t, merchant_uid)};

/* The body as one JSON object, or what is wrong with it. */
static const char *json_root(apr_pool_t *pool, const char *body, size_t len,
                             struct json_object **root)
{
    if (len == 0)
        return "the body is empty";
    if (memchr(body, '\0', len))
        return "the body contains a NUL byte";
    if (!utf8_valid(body, len))
        return "the body is not valid UTF-8";
    if (pv_json_parse(pool, body, len, PV_BODY_JSON_DEPTH, root))
        return "the body is not valid JSON";
    if (!json_object_is_type(*root, json_type_object))
        return "the body is not a JSON object";
    return NULL;
}

pv_err pv_request_parse_prepare(apr_pool_t *pool, const char *body,
                                size_t len, pv_claim_t *out,
                                const char **why)
{
    struct json_object *root = NULL;

    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (len > PV_BODY_MAX) {
        *why = "the body is larger than 64 KiB";
        return PV_E_PAYLOAD_TOO_LARGE;
    }
    if (!(*why = json_root(pool, body, len, &root))) {
        int v1 = present(root, "merchant_uid"), v2 = present(root, "paymentId");

        if (v1 && v2)
            *why = "paymentId (V2) comes with merchant_uid (V1)";
        else if (!v1 && !v2)
            *why = "merchant_uid (V1) or paymentId (V2) is missing";
        else
            *why = json_field(pool, root, v2 ? &payment_id_field
                                             : &prepare_merchant_uid, out);
    }
    return *why ? PV_E_INVALID_REQUEST : PV_OK;
}

/* The optional integer member |name| of |root| into |*out|, from 0 to
 * |max|: NULL or what is wrong. */
static const char *json_count(apr_pool_t *pool, struct json_object *root,
                              const char *name, long max, long *out)
{
    struct json_object *v;
    long long n;

    if (!json_object_object_get_ex(root, name, &v) || !v)
        return NULL;
    if (!json_object_is_type(v, json_type_int) || pv_json_int64(v, &n))
        return apr_psprintf(pool, "%s is not an integer", name);
    if (n < 0 || n > max)
        return apr_psprintf(pool, "%s is not from 0 to %ld", name, max);
    *out = (long)n;
    return NULL;
}

pv_err pv_request_parse_reconcile(apr_pool_t *pool, const char *body,
                                  size_t len, long *older_than, int *limit,
                                  const char **why)
{
    struct json_object *root = NULL;
    long lim = PV_RECONCILE_LIMIT_DEFAULT;

    *older_than = PV_RECONCILE_OLDER_THAN_DEFAULT;
    *limit = PV_RECONCILE_LIMIT_DEFAULT;
    *why = NULL;
    if (len == 0)
        return PV_OK;
    if (len > PV_BODY_MAX) {
        *why = "the body is larger than 64 KiB";
        return PV_E_PAYLOAD_TOO_LARGE;
    }
    if (!(*why = json_root(pool, body, len, &root))
        && !(*why = json_count(pool, root, "older_than",
                               PV_RECONCILE_OLDER_THAN_MAX, older_than)))
        *why = json_count(pool, root, "limit", PV_RECONCILE_LIMIT_MAX, &lim);
    *limit = (int)lim;
    return *why ? PV_E_INVALID_REQUEST : PV_OK;
}
