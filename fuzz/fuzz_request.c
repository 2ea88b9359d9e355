/* libFuzzer harness for pv_request: the claim and webhook body parser and the
 * Content-Type check.
 *
 * Input: one selector byte, then the body.
 *   bit 0: 0 = JSON body, 1 = form body (application/x-www-form-urlencoded)
 *   bit 1: allow_form for pv_request_media (which reads the body as a
 *          Content-Type value, up to its first NUL) */
#include <strings.h>

#include "fuzz_common.h"
#include "pv_error.h"
#include "pv_request.h"

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

    ct = fuzz_cstr(data + 1, size - 1);
    check_media(ct, (data[0] >> 1) & 1);
    free(ct);
    FUZZ_CHECK(pv_request_media(NULL, 1, &kind) == PV_E_UNSUPPORTED_MEDIA_TYPE);

    apr_pool_destroy(pool);
    return 0;
}
