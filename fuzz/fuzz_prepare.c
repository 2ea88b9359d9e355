/* libFuzzer harness for portone-prepare's and portone-reconcile's core:
 * PortOne's answers to V1 POST|PUT /payments/prepare and V2 POST
 * /payments/{id}/pre-register, the two request bodies, and the plain
 * amount text sent to PortOne.
 *
 * Input: one selector byte, then the text.
 *   bits 0-1: 0 = V1 prepare answer, 1 = V2 pre-register answer,
 *             2 = prepare body, 3 = reconcile body
 *   bits 2-4: HTTP status, from http_statuses[]
 * Every input's text is also given to pv_decimal_plain (both modes). */
#include <ctype.h>

#include "fuzz_common.h"
#include "pv_decimal.h"
#include "pv_error.h"
#include "pv_portone.h"
#include "pv_portone_v2.h"
#include "pv_request.h"

static const long http_statuses[8] = {200, 200, 200, 404, 401, 403, 409, 500};

static void check_plain(const char *text, int integer)
{
    char buf[PV_DECIMAL_MAX_TEXT + 1];
    size_t i, n;
    int dots = 0;

    if (pv_decimal_plain(text, integer, buf, sizeof(buf)))
        return;
    n = strlen(buf);
    FUZZ_CHECK(n >= 1 && n <= PV_DECIMAL_MAX_TEXT);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(isdigit((unsigned char)buf[i]) || buf[i] == '.');
        dots += buf[i] == '.';
    }
    FUZZ_CHECK(dots <= (integer ? 0 : 1));
    /* no leading zero but "0.x"; no trailing zero after the point */
    FUZZ_CHECK(buf[0] != '0' || (n > 1 && buf[1] == '.'));
    FUZZ_CHECK(!dots || buf[n - 1] != '0');
    /* the same positive value */
    FUZZ_CHECK(pv_decimal_equal(buf, text));
    FUZZ_CHECK(pv_decimal_positive(buf));
    if (integer)
        FUZZ_CHECK(n <= 18);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    const char *why = NULL;
    char *text;
    long status;
    size_t len;
    pv_err rc;

    if (size < 1)
        return 0;
    pool = fuzz_pool();
    status = http_statuses[(data[0] >> 2) & 7];
    text = fuzz_cstr(data + 1, size - 1);
    len = size - 1;

    switch (data[0] & 3) {
    case 0: {
        pv_prepared_t p;
        int registered = -1;

        rc = pv_portone_parse_prepare(pool, status, text, len, "o_1", "10000",
                                      &registered, &p, &why);
        FUZZ_CHECK(rc == PV_OK || rc == PV_E_UPSTREAM_ERROR);
        FUZZ_CHECK(registered == 0 || registered == 1);
        if (registered)
            FUZZ_CHECK(rc == PV_E_UPSTREAM_ERROR && status == 200);
        if (rc == PV_OK) {
            FUZZ_CHECK(status == 200);
            FUZZ_CHECK(p.merchant_uid && !strcmp(p.merchant_uid, "o_1"));
            FUZZ_CHECK(pv_decimal_equal(p.amount, "10000"));
        }
        else
            FUZZ_CHECK(why != NULL);
        break;
    }
    case 1:
        rc = pv_portone_v2_parse_pre_register(pool, status, text, len, &why);
        FUZZ_CHECK(rc == PV_OK || rc == PV_E_UPSTREAM_AUTH_FAILED
                   || rc == PV_E_UPSTREAM_ERROR);
        if (rc == PV_OK)
            FUZZ_CHECK(status == 200);
        else
            FUZZ_CHECK(why != NULL);
        if (rc == PV_E_UPSTREAM_AUTH_FAILED)
            FUZZ_CHECK(status == 401 || status == 403);
        break;
    case 2: {
        pv_claim_t c;

        rc = pv_request_parse_prepare(pool, text, len, &c, &why);
        FUZZ_CHECK(rc == PV_OK || rc == PV_E_INVALID_REQUEST
                   || rc == PV_E_PAYLOAD_TOO_LARGE);
        if (rc == PV_OK) {
            const char *id = c.payment_id ? c.payment_id : c.merchant_uid;

            FUZZ_CHECK(!c.payment_id != !c.merchant_uid && !c.imp_uid);
            FUZZ_CHECK(!pv_request_check_id(id, strlen(id), c.payment_id
                                            ? PV_PAYMENT_ID_MAX
                                            : PV_MERCHANT_UID_MAX));
        }
        else
            FUZZ_CHECK(why != NULL);
        break;
    }
    default: {
        long older = -1;
        int limit = -1;

        rc = pv_request_parse_reconcile(pool, text, len, &older, &limit, &why);
        FUZZ_CHECK(rc == PV_OK || rc == PV_E_INVALID_REQUEST
                   || rc == PV_E_PAYLOAD_TOO_LARGE);
        if (rc == PV_OK) {
            FUZZ_CHECK(older >= 0 && older <= PV_RECONCILE_OLDER_THAN_MAX);
            FUZZ_CHECK(limit >= 0 && limit <= PV_RECONCILE_LIMIT_MAX);
            FUZZ_CHECK(len || (older == PV_RECONCILE_OLDER_THAN_DEFAULT
                               && limit == PV_RECONCILE_LIMIT_DEFAULT));
        }
        else
            FUZZ_CHECK(why != NULL);
        break;
    }
    }
    check_plain(text, 0);
    check_plain(text, 1);
    free(text);
    apr_pool_destroy(pool);
    return 0;
}
