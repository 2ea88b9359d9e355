/* libFuzzer harness for pv_request: the claim and webhook body parser and the
 * Content-Type check.
 *
 * Input: one selector byte, then the body.
 *   bit 0: 0 = JSON body, 1 = form body (application/x-www-form-urlencoded)
 *   bit 1: allow_form for pv_request_media (which reads the body as a
 *          Content-Type value, up to its first NUL)
 *   bits 2-3: the limit for pv_request_check_id on the body, from id_max[]
 *
 * A JSON claim is checked against json-c's own reading of the body, a form
 * claim against a reference decoder (%XX and '+' by hand, as pv_request
 * decoded before it used apr_unescape_url). */
#include <apr_strings.h>
#include <json-c/json.h>
#include <strings.h>

#include "fuzz_common.h"
#include "pv_error.h"
#include "pv_request.h"

static const size_t id_max[4] = {PV_IMP_UID_MAX, PV_MERCHANT_UID_MAX, 20, 64};

/* Reference for pv_request_check_id: decodes UTF-8 strictly (no overlong
 * form, no surrogate, nothing past U+10FFFF) and refuses the controls
 * U+0000..U+001F and U+007F..U+009F. */
static int id_ref(const unsigned char *s, size_t len, size_t max_chars)
{
    static const unsigned long min_cp[4] = {0, 0x80, 0x800, 0x10000};
    size_t i = 0, chars = 0, more, k;
    unsigned long cp;

    if (len == 0)
        return 0;
    while (i < len) {
        if (s[i] < 0x80)
            more = 0, cp = s[i];
        else if ((s[i] & 0xe0) == 0xc0)
            more = 1, cp = s[i] & 0x1f;
        else if ((s[i] & 0xf0) == 0xe0)
            more = 2, cp = s[i] & 0x0f;
        else if ((s[i] & 0xf8) == 0xf0)
            more = 3, cp = s[i] & 0x07;
        else
            return 0;
        if (more > len - i - 1)
            return 0;
        for (k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min_cp[more] || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff)
            || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return 0;
        i += more + 1;
        chars++;
    }
    return chars <= max_chars;
}

/* The claim's field is json-c's whole string, not a prefix of it; an
 * optional field's empty string is read as absent. */
static void check_json_field(const char *body, const char *name,
                             const char *value, int optional)
{
    struct json_object *root = json_tokener_parse(body), *v = NULL;

    FUZZ_CHECK(root != NULL);
    if (!json_object_object_get_ex(root, name, &v)
        || json_object_is_type(v, json_type_null)
        || (optional && json_object_is_type(v, json_type_string)
            && json_object_get_string_len(v) == 0)) {
        FUZZ_CHECK(value == NULL);
    }
    else {
        FUZZ_CHECK(value != NULL && json_object_is_type(v, json_type_string));
        FUZZ_CHECK((size_t)json_object_get_string_len(v) == strlen(value)
                   && memcmp(json_object_get_string(v), value,
                             strlen(value)) == 0);
    }
    json_object_put(root);
}

/* Reference for a form key or value: '+' is a space, %XX a byte (a %00
 * too); -1 on a bad escape, else the length written to |out|. */
static long form_decode_ref(const char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef0123456789ABCDEF";
    size_t i;
    long o = 0;

    for (i = 0; i < n; i++) {
        const char *hi, *lo;

        if (s[i] != '%') {
            out[o++] = s[i] == '+' ? ' ' : s[i];
            continue;
        }
        if (i + 2 >= n || !s[i + 1] || !s[i + 2]
            || !(hi = strchr(hex, s[i + 1])) || !(lo = strchr(hex, s[i + 2])))
            return -1;
        out[o++] = (char)(((hi - hex) % 16) * 16 + (lo - hex) % 16);
        i += 2;
    }
    return o;
}

/* Reference for a form body (pv_request.h): 1 and the fields in |vals| when
 * it is a valid claim, else 0. */
static int form_ref(apr_pool_t *pool, const char *body, size_t len,
                    const char *vals[4])
{
    static const char *const names[4] = {"imp_uid", "merchant_uid", "status",
                                         "cancellation_id"};
    static const size_t max[4] = {PV_IMP_UID_MAX, PV_MERCHANT_UID_MAX, 20, 64};
    const char *p = body, *end = body + len;
    int seen[4] = {0}, i;

    memset(vals, 0, 4 * sizeof(*vals));
    if (len == 0 || memchr(body, '\0', len))
        return 0;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end, *eq = memchr(p, '=', (size_t)(pe - p));

        if (pe > p) {
            char *k, *v;
            long kl, vl;

            if (!eq)
                return 0;
            k = apr_palloc(pool, (size_t)(eq - p) + 1);
            v = apr_palloc(pool, (size_t)(pe - eq) + 1);
            kl = form_decode_ref(p, (size_t)(eq - p), k);
            vl = form_decode_ref(eq + 1, (size_t)(pe - eq - 1), v);
            if (kl < 0 || vl < 0)
                return 0;
            for (i = 0; i < 4; i++) {
                if (strlen(names[i]) != (size_t)kl || memcmp(names[i], k, (size_t)kl))
                    continue;
                if (seen[i]++)
                    return 0;
                if (vl == 0 && i >= 2)
                    break;
                if (pv_request_check_id(v, (size_t)vl, max[i]))
                    return 0;
                vals[i] = apr_pstrmemdup(pool, v, (size_t)vl);
            }
        }
        p = pe + 1;
    }
    return seen[0] && seen[1];
}

static void check_form(apr_pool_t *pool, const char *body, size_t len,
                       pv_err rc, const pv_claim_t *claim)
{
    const char *want[4];
    const char *got[4] = {claim->imp_uid, claim->merchant_uid, claim->status,
                          claim->cancellation_id};
    int i, ok = form_ref(pool, body, len, want);

    FUZZ_CHECK(ok == (rc == PV_OK));
    for (i = 0; ok && i < 4; i++)
        FUZZ_CHECK(want[i] ? got[i] && !strcmp(want[i], got[i]) : !got[i]);
}

/* Reference for pv_request_media: strip blanks, cut the parameters at the
 * first ';', strip blanks again, compare the rest ignoring case. */
static int media_ref(const char *ct, const char *type)
{
    const char *end = strchr(ct, ';');
    size_t n;

    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (!end)
        end = ct + strlen(ct);
    while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    n = strlen(type);
    return (size_t)(end - ct) == n && strncasecmp(ct, type, n) == 0;
}

static void check_media(const char *ct, int allow_form)
{
    pv_body_kind kind = (pv_body_kind)-1;
    pv_err rc = pv_request_media(ct, allow_form, &kind);
    int json = media_ref(ct, "application/json");
    int form = allow_form
               && media_ref(ct, "application/x-www-form-urlencoded");

    FUZZ_CHECK(rc == PV_OK || rc == PV_E_UNSUPPORTED_MEDIA_TYPE);
    FUZZ_CHECK((rc == PV_OK) == (json || form));
    if (rc == PV_OK)
        FUZZ_CHECK(kind == (json ? PV_BODY_JSON : PV_BODY_FORM));
}

static void check_claim_field(const char *v, size_t max_chars, int required)
{
    if (!v) {
        FUZZ_CHECK(!required);
        return;
    }
    FUZZ_CHECK(pv_request_check_id(v, strlen(v), max_chars) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    pv_body_kind kind;
    pv_claim_t claim;
    const char *why = NULL;
    char *ct;
    pv_err rc;

    if (size < 1)
        return 0;
    kind = (data[0] & 1) ? PV_BODY_FORM : PV_BODY_JSON;
    pool = fuzz_pool();

    /* data + 1 is the end of libFuzzer's exact-size buffer: no NUL after. */
    rc = pv_request_parse(pool, (const char *)data + 1, size - 1, kind, &claim,
                          &why);
    FUZZ_CHECK(rc == PV_OK || rc == PV_E_INVALID_REQUEST
               || rc == PV_E_PAYLOAD_TOO_LARGE);
    FUZZ_CHECK(pv_err_lookup(rc) != NULL);
    if (rc == PV_OK) {
        FUZZ_CHECK(why == NULL);
        check_claim_field(claim.imp_uid, PV_IMP_UID_MAX, 1);
        check_claim_field(claim.merchant_uid, PV_MERCHANT_UID_MAX, 1);
        check_claim_field(claim.status, 20, 0);
        check_claim_field(claim.cancellation_id, 64, 0);
    }
    else if (rc == PV_E_INVALID_REQUEST) {
        FUZZ_CHECK(why != NULL && *why != '\0');
    }
    else {
        FUZZ_CHECK(size - 1 > PV_BODY_MAX);
    }
    if (size - 1 == 0)
        FUZZ_CHECK(rc == PV_E_INVALID_REQUEST);

    if (kind == PV_BODY_FORM && size - 1 <= PV_BODY_MAX)
        check_form(pool, (const char *)data + 1, size - 1, rc, &claim);
    ct = fuzz_cstr(data + 1, size - 1);
    if (rc == PV_OK && kind == PV_BODY_JSON) {
        check_json_field(ct, "imp_uid", claim.imp_uid, 0);
        check_json_field(ct, "merchant_uid", claim.merchant_uid, 0);
        check_json_field(ct, "status", claim.status, 1);
        check_json_field(ct, "cancellation_id", claim.cancellation_id, 1);
    }
    check_media(ct, (data[0] >> 1) & 1);
    free(ct);

    {
        size_t max = id_max[(data[0] >> 2) & 3];

        FUZZ_CHECK((pv_request_check_id((const char *)data + 1, size - 1, max)
                    == NULL)
                   == id_ref(data + 1, size - 1, max));
    }
    FUZZ_CHECK(pv_request_media(NULL, 1, &kind) == PV_E_UNSUPPORTED_MEDIA_TYPE);

    /* portone-verify's V1-or-V2 claim: a paymentId excludes the V1 ids,
     * and a V1 claim reads as pv_request_parse reads it */
    {
        pv_claim_t v;
        const char *vwhy = NULL;
        pv_err vrc = pv_request_parse_verify(pool, (const char *)data + 1,
                                             size - 1, kind, &v, &vwhy);

        FUZZ_CHECK(vrc == PV_OK || vrc == PV_E_INVALID_REQUEST
                   || vrc == PV_E_PAYLOAD_TOO_LARGE);
        if (vrc == PV_OK && v.payment_id) {
            FUZZ_CHECK(!v.imp_uid && !v.merchant_uid);
            check_claim_field(v.payment_id, PV_PAYMENT_ID_MAX, 1);
        }
        else if (vrc == PV_OK) {
            FUZZ_CHECK(rc == PV_OK && !strcmp(v.imp_uid, claim.imp_uid)
                       && !strcmp(v.merchant_uid, claim.merchant_uid));
        }
        else if (vrc == PV_E_INVALID_REQUEST) {
            FUZZ_CHECK(vwhy != NULL && *vwhy != '\0');
        }
    }
    /* a V2 webhook body: a payment id unless ignored */
    {
        pv_v2_webhook_t w;
        const char *wwhy = NULL;
        pv_err wrc = pv_request_parse_v2_webhook(pool, (const char *)data + 1,
                                                 size - 1, &w, &wwhy);

        FUZZ_CHECK(wrc == PV_OK || wrc == PV_E_INVALID_REQUEST
                   || wrc == PV_E_PAYLOAD_TOO_LARGE);
        if (wrc == PV_OK && !w.ignored)
            check_claim_field(w.payment_id, PV_PAYMENT_ID_MAX, 1);
        else if (wrc == PV_E_INVALID_REQUEST)
            FUZZ_CHECK(wwhy != NULL && *wwhy != '\0');
    }

    apr_pool_destroy(pool);
    return 0;
}
