#include "pv_portone_v2.h"

#include <apr_sha1.h>
#include <apr_strings.h>
#include <json-c/json_object.h>
#include <string.h>

#include "pv_json.h"

typedef struct {
    const char *name;
    pv_status status;
    int channel_optional;   /* the spec lets PortOne leave the channel out */
    int vbank;              /* 1: the virtual account is required;
                             * -1: not read (pending, whatever the method) */
} v2_status;

/* Payment's oneOf (portone-api.md 2.2); any other status is unknown */
static const v2_status statuses[] = {
    {"READY", PV_STATUS_READY, 1, -1},
    {"PAY_PENDING", PV_STATUS_READY, 0, -1},
    {"VIRTUAL_ACCOUNT_ISSUED", PV_STATUS_READY, 0, 1},
    {"PAID", PV_STATUS_PAID, 0, 0},
    {"PARTIAL_CANCELLED", PV_STATUS_PAID, 0, 0},
    {"CANCELLED", PV_STATUS_CANCELLED, 0, 0},
    {"FAILED", PV_STATUS_FAILED, 1, 0},
};

/* |n| decimal digits at |*p|, moved past them. */
static int digits(const char **p, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 0;
}

/* One of the characters of |set| at |*p|, moved past it. */
static int expect(const char **p, const char *set)
{
    if (**p == '\0' || !strchr(set, **p))
        return -1;
    (*p)++;
    return 0;
}

int pv_portone_v2_time(const char *s, long long *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, leap;
    long long yy, era, yoe, doy;
    const char *p = s;

    if (!s || digits(&p, 4, &y) || expect(&p, "-") || digits(&p, 2, &mo)
        || expect(&p, "-") || digits(&p, 2, &d) || expect(&p, "Tt")
        || digits(&p, 2, &h) || expect(&p, ":") || digits(&p, 2, &mi)
        || expect(&p, ":") || digits(&p, 2, &se))
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (digits(&p, 2, &oh) || expect(&p, ":") || digits(&p, 2, &om))
            return -1;
    }
    else
        return -1;
    leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (*p || mo < 1 || mo > 12 || d < 1
        || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59
        || se > 60 || oh > 23 || om > 59)
        return -1;
    /* days since 1970-01-01 in the proleptic Gregorian calendar (Howard
     * Hinnant's days_from_civil: years start in March) */
    yy = y - (mo <= 2);
    era = (yy >= 0 ? yy : yy - 399) / 400;
    yoe = yy - era * 400;
    doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    *out = (era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468)
           * 86400 + h * 3600 + mi * 60 + se
           - sign * (oh * 3600 + om * 60);
    return 0;
}

/* A non-200 answer: {"type": "...", "message": "..."} (only type is
 * required; an answer of another shape is still an error of its status). */
static pv_err error_answer(apr_pool_t *pool, long status_code,
                           const char *body, size_t len, const char **why)
{
    struct json_object *root = NULL;
    const char *type = NULL, *msg = NULL, *bad = NULL;

    if (!pv_json_parse(pool, body, len, PV_JSON_DEPTH, &root)
        && json_object_is_type(root, json_type_object)) {
        type = pv_portone_field(pool, root, "type", PV_FIELD_STRING, &bad);
        msg = pv_portone_field(pool, root, "message", PV_FIELD_STRING, &bad);
    }
    if (status_code == 404 && type && !strcmp(type, "PAYMENT_NOT_FOUND")) {
        *why = "PortOne has no such payment (HTTP 404 PAYMENT_NOT_FOUND)";
        return PV_E_PAYMENT_NOT_FOUND;
    }
    *why = apr_psprintf(pool, "payment look-up answered HTTP %ld %.40s: %.200s",
                        status_code, type ? type : "(no type)",
                        msg ? msg : "(no message)");
    if (status_code == 401 || status_code == 403) {
        *why = apr_psprintf(pool, "%s; check PortOneV2Secret and "
                            "PortOneStoreId", *why);
        return PV_E_UPSTREAM_AUTH_FAILED;
    }
    return PV_E_UPSTREAM_ERROR;
}

/* The member object |name| of |obj|: NULL when absent or null, and |*bad|
 * set when it is not an object. */
static struct json_object *member_object(apr_pool_t *pool,
                                         struct json_object *obj,
                                         const char *name, const char **bad)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(obj, name, &v) || !v)
        return NULL;
    if (json_object_is_type(v, json_type_object))
        return v;
    *bad = apr_psprintf(pool, "payment field \"%s\" is not an object", name);
    return NULL;
}

/* amount.<name>: a non-negative integer (PaymentAmount's are int64), its
 * exact text; NULL when absent or null, |*bad| set when not such a number. */
static const char *amount_of(apr_pool_t *pool, struct json_object *amount,
                             const char *name, const char **bad)
{
    struct json_object *v = NULL;
    const char *text;

    if (!json_object_object_get_ex(amount, name, &v) || !v)
        return NULL;
    if (!json_object_is_type(v, json_type_int)) {
        *bad = apr_psprintf(pool, "payment field \"amount.%s\" is not an "
                            "integer", name);
        return NULL;
    }
    text = pv_portone_field(pool, amount, name, PV_FIELD_NUMBER, bad);
    if (text && text[0] == '-') {
        *bad = apr_psprintf(pool, "payment field \"amount.%s\" is negative",
                            name);
        return NULL;
    }
    return text;
}

/* An optional date-time member as UNIX seconds; |*bad| when not one. */
static const char *time_of(apr_pool_t *pool, struct json_object *obj,
                           const char *name, const char **bad)
{
    const char *s = pv_portone_field(pool, obj, name, PV_FIELD_STRING, bad);
    long long t;

    if (!s)
        return NULL;
    if (pv_portone_v2_time(s, &t)) {
        *bad = apr_psprintf(pool, "payment field \"%s\" is not an RFC 3339 "
                            "date-time", name);
        return NULL;
    }
    return apr_psprintf(pool, "%" APR_INT64_T_FMT, (apr_int64_t)t);
}

/* The members beyond status, id and the amounts; NULL or what is wrong. */
static const char *read_rest(apr_pool_t *pool, struct json_object *root,
                             const v2_status *st, pv_payment_t *out)
{
    const char *bad = NULL;
    struct json_object *channel = member_object(pool, root, "channel", &bad);
    struct json_object *method = member_object(pool, root, "method", &bad);

    out->store_id = pv_portone_field(pool, root, "storeId", PV_FIELD_STRING,
                                     &bad);
    out->currency = pv_portone_field(pool, root, "currency", PV_FIELD_STRING,
                                     &bad);
    out->paid_at = time_of(pool, root, "paidAt", &bad);
    if (channel)
        out->channel_type = pv_portone_field(pool, channel, "type",
                                             PV_FIELD_STRING, &bad);
    if (method)
        out->pay_method = pv_portone_field(pool, method, "type",
                                           PV_FIELD_STRING, &bad);
    if (out->pay_method && st->vbank >= 0
        && !strcmp(out->pay_method, "PaymentMethodVirtualAccount")) {
        out->vbank_num = pv_portone_field(pool, method, "accountNumber",
                                          PV_FIELD_STRING, &bad);
        out->vbank_name = pv_portone_field(pool, method, "bank",
                                           PV_FIELD_STRING, &bad);
        out->vbank_date = time_of(pool, method, "expiredAt", &bad);
    }
    if (bad)
        return bad;
    if (!out->store_id || !out->currency)
        return "payment lacks storeId or currency";
    if (!channel && !st->channel_optional)
        return apr_psprintf(pool, "a %s payment lacks its channel", st->name);
    if (channel && (!out->channel_type
                    || (strcmp(out->channel_type, "LIVE")
                        && strcmp(out->channel_type, "TEST"))))
        return "payment field \"channel.type\" is neither LIVE nor TEST";
    if (st->vbank > 0 && (!out->vbank_num || !*out->vbank_num))
        return "a VIRTUAL_ACCOUNT_ISSUED payment lacks a virtual account "
               "number in \"method\"";
    return NULL;
}

pv_err pv_portone_v2_parse_payment(apr_pool_t *pool, long status_code,
                                   const char *body, size_t len,
                                   const char *payment_id,
                                   const char *store_id, pv_payment_t *out,
                                   const char **why)
{
    struct json_object *root = NULL, *amount;
    const v2_status *st = NULL;
    const char *bad = NULL, *id;
    size_t i;

    memset(out, 0, sizeof(*out));
    out->api = PV_API_V2;
    if (status_code != 200)
        return error_answer(pool, status_code, body, len, why);
    if (pv_json_parse(pool, body, len, PV_JSON_DEPTH, &root)
        || !json_object_is_type(root, json_type_object)) {
        *why = "the answer is not a JSON object";
        return PV_E_UPSTREAM_ERROR;
    }
    out->status_text = pv_portone_field(pool, root, "status", PV_FIELD_STRING,
                                        &bad);
    for (i = 0; out->status_text && i < sizeof(statuses) / sizeof(*statuses);
         i++)
        if (!strcmp(out->status_text, statuses[i].name))
            st = &statuses[i];
    if (!st) {
        /* a status added after this module: nothing is known of it */
        *why = out->status_text
            ? apr_psprintf(pool, "payment has an unknown status \"%.40s\"",
                           out->status_text)
            : bad ? bad : "payment lacks a status";
        return PV_E_UPSTREAM_ERROR;
    }
    out->status = st->status;
    id = pv_portone_field(pool, root, "id", PV_FIELD_STRING, &bad);
    amount = member_object(pool, root, "amount", &bad);
    if (amount) {
        out->amount = amount_of(pool, amount, "total", &bad);
        out->cancel_amount = amount_of(pool, amount, "cancelled", &bad);
    }
    if (bad || (bad = read_rest(pool, root, st, out))) {
        *why = bad;
        return PV_E_UPSTREAM_ERROR;
    }
    if (!id || !payment_id || strcmp(id, payment_id)) {
        *why = id ? "PortOne answered with another paymentId"
                  : "payment lacks its id";
        return PV_E_UPSTREAM_ERROR;
    }
    if (!out->amount || !out->cancel_amount) {
        *why = "payment lacks amount.total or amount.cancelled";
        return PV_E_UPSTREAM_ERROR;
    }
    out->imp_uid = out->merchant_uid = id;
    out->sandbox = out->channel_type && !strcmp(out->channel_type, "TEST");
    out->store_mismatch = store_id && strcmp(store_id, out->store_id) != 0;
    /* as V1's: written again by json-c if a recording writes it
     * (pv_payment_response_json) */
    out->response_tree = root;
    return PV_OK;
}

/* ------------------------------------------------------------- cancels */

char *pv_portone_v2_cancel_body(apr_pool_t *pool, const char *reason,
                                const char *cancellable, const char *store_id,
                                size_t *len)
{
    const pv_json_out_t m[3] = {
        {"reason", pv_portone_cancel_reason(pool, reason), 0},
        {"currentCancellableAmount", cancellable, 1},
        {"storeId", store_id, 0},
    };

    return pv_json_object(pool, m, 3, len);
}

const char *pv_portone_v2_idempotency_key(apr_pool_t *pool,
                                          const char *payment_id,
                                          const char *cancellable,
                                          const unsigned char nonce[8])
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char hex[2 * APR_SHA1_DIGESTSIZE + 1], nhex[17];
    apr_sha1_ctx_t sha;
    int i;

    apr_sha1_init(&sha);
    apr_sha1_update(&sha, payment_id, (unsigned int)strlen(payment_id));
    apr_sha1_final(digest, &sha);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++)
        apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    for (i = 0; i < 8; i++)
        apr_snprintf(nhex + 2 * i, 3, "%02x", nonce[i]);
    /* |cancellable| is an integer's text (amount.total's): digits only */
    return apr_psprintf(pool, "\"pv-cancel-%s-%.40s-%s\"", hex, cancellable,
                        nhex);
}

pv_cancel_result pv_portone_v2_parse_cancel(apr_pool_t *pool, long status_code,
                                            const char *body, size_t len,
                                            const char **why)
{
    struct json_object *root = NULL;
    const char *bad = NULL, *type = NULL, *msg = NULL, *st = NULL;
    int json = !pv_json_parse(pool, body, len, PV_JSON_DEPTH, &root)
               && json_object_is_type(root, json_type_object);

    if (status_code == 200) {
        struct json_object *c = json ? member_object(pool, root, "cancellation",
                                                     &bad) : NULL;

        if (c)
            st = pv_portone_field(pool, c, "status", PV_FIELD_STRING, &bad);
        if (st && (!strcmp(st, "SUCCEEDED") || !strcmp(st, "REQUESTED"))) {
            *why = apr_psprintf(pool, "cancellation %s", st);
            return PV_CANCEL_DONE;
        }
        if (st && !strcmp(st, "FAILED")) {
            *why = "cancel refused: the cancellation FAILED";
            return PV_CANCEL_REFUSED;
        }
        *why = st ? apr_psprintf(pool, "cancel answered an unknown "
                                 "cancellation status \"%.40s\"", st)
                  : "cancel answered without a cancellation status";
        return PV_CANCEL_UNKNOWN;
    }
    if (json) {
        type = pv_portone_field(pool, root, "type", PV_FIELD_STRING, &bad);
        msg = pv_portone_field(pool, root, "message", PV_FIELD_STRING, &bad);
    }
    *why = apr_psprintf(pool, "cancel %s (HTTP %ld %.60s: %.200s)",
                        status_code >= 400 && status_code < 500
                        ? "refused" : "failed", status_code,
                        type ? type : "(no type)", msg ? msg : "(no message)");
    if (status_code == 409 && type
        && !strcmp(type, "IDEMPOTENCY_OUTSTANDING_REQUEST"))
        return PV_CANCEL_UNKNOWN;   /* the same attempt is still running */
    if (status_code >= 400 && status_code < 500)
        return PV_CANCEL_REFUSED;
    return PV_CANCEL_UNKNOWN;
}

pv_err pv_portone_v2_parse_pre_register(apr_pool_t *pool, long status_code,
                                        const char *body, size_t len,
                                        const char **why)
{
    struct json_object *root = NULL;
    const char *type = NULL, *msg = NULL, *bad = NULL;
    int object = !pv_json_parse(pool, body, len, PV_JSON_DEPTH, &root)
                 && json_object_is_type(root, json_type_object);

    if (status_code == 200) {
        if (object)
            return PV_OK;
        *why = "pre-register answered 200 without a JSON object";
        return PV_E_UPSTREAM_ERROR;
    }
    if (object) {
        type = pv_portone_field(pool, root, "type", PV_FIELD_STRING, &bad);
        msg = pv_portone_field(pool, root, "message", PV_FIELD_STRING, &bad);
    }
    *why = apr_psprintf(pool, "pre-register answered HTTP %ld %.40s: %.200s",
                        status_code, type ? type : "(no type)",
                        msg ? msg : "(no message)");
    if (status_code == 401 || status_code == 403) {
        *why = apr_psprintf(pool, "%s; check PortOneV2Secret and "
                            "PortOneStoreId", *why);
        return PV_E_UPSTREAM_AUTH_FAILED;
    }
    if (status_code == 409 && type && !strcmp(type, "ALREADY_PAID"))
        *why = apr_psprintf(pool, "%s (the payment is paid already)", *why);
    return PV_E_UPSTREAM_ERROR;
}
