/* pv_request_parse_verify: portone-verify's body, V1 {"imp_uid",
 * "merchant_uid"} or V2 {"paymentId"} (contract sections 3, 5 and 8). */
#include "check.h"

#include <apr_strings.h>

#include "pv_request.h"

#include "request_checks.h"

/* 128 characters: 12 x 10 ASCII and 8 Hangul syllables */
#define A10 "pay-012345"
#define P128 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 "가나다라마바사아"

static pv_err verify(apr_pool_t *pool, const char *body, size_t len,
                     pv_claim_t *claim, const char **why)
{
    *why = NULL;
    return pv_request_parse_verify(pool, body, len, PV_BODY_JSON, claim, why);
}

/* |body| is a V2 claim of |want| (a C string). */
static void v2_ok(apr_pool_t *pool, const char *body, const char *want,
                  const char *file, int line)
{
    pv_claim_t claim;
    const char *why;
    pv_err err = verify(pool, body, strlen(body), &claim, &why);

    check_report(err == PV_OK && claim.payment_id
                 && !strcmp(claim.payment_id, want) && !claim.imp_uid
                 && !claim.merchant_uid, file, line,
                 "[%s]: err %s why \"%s\" paymentId \"%s\", want \"%s\"",
                 body, pv_err_lookup(err)->code, why ? why : "(null)",
                 err == PV_OK && claim.payment_id ? claim.payment_id : "(null)",
                 want);
}

/* |body| (|len| bytes) is an invalid_request whose reason has |has|. */
static void v2_invalid(apr_pool_t *pool, const char *body, size_t len,
                       const char *has, const char *file, int line)
{
    pv_claim_t claim;
    const char *why;
    pv_err err = verify(pool, body, len, &claim, &why);

    check_report(err == PV_E_INVALID_REQUEST && why && strstr(why, has), file,
                 line, "[%s]: err %s why \"%s\", want invalid_request with "
                 "\"%s\"", check_printable(pool, body, len),
                 pv_err_lookup(err)->code, why ? why : "(null)", has);
}

#define V2_OK(body, want) v2_ok(pool, body, want, __FILE__, __LINE__)
#define V2_INVALID(lit, has) \
    v2_invalid(pool, lit, sizeof(lit) - 1, has, __FILE__, __LINE__)

TEST(request_v2_payment_id)
{
    V2_OK("{\"paymentId\":\"pay-1\"}", "pay-1");
    /* txId comes along from the browser SDK's answer: ignored */
    V2_OK("{\"paymentId\":\"pay-1\",\"txId\":\"0190e1a8-aaaa\"}", "pay-1");
    V2_OK("{\"paymentId\":\"pay-1\",\"txId\":7,\"code\":null}", "pay-1");
    /* any text without control characters */
    V2_OK("{\"paymentId\":\"a/b?c#d e%f\"}", "a/b?c#d e%f");
    V2_OK("{\"paymentId\":\"주문-2024/01\"}", "주문-2024/01");
    V2_OK("{\"paymentId\":\"\\uc8fc\\ubb38\"}", "주문");
    V2_OK("{\"paymentId\":\"..\"}", "..");
    V2_OK("{\"paymentId\":\"" P128 "\"}", P128);
}

TEST(request_v2_payment_id_refused)
{
    V2_INVALID("{\"paymentId\":\"\"}", "paymentId is empty");
    V2_INVALID("{\"paymentId\":\"" P128 "x\"}",
               "paymentId is longer than 128 characters");
    V2_INVALID("{\"paymentId\":12}", "paymentId is not a string");
    V2_INVALID("{\"paymentId\":[\"pay-1\"]}", "paymentId is not a string");
    V2_INVALID("{\"paymentId\":{}}", "paymentId is not a string");
    V2_INVALID("{\"paymentId\":true}", "paymentId is not a string");
    V2_INVALID("{\"paymentId\":\"a\\nb\"}", "control character");
    V2_INVALID("{\"paymentId\":\"a\\u0000b\"}", "control character");
    V2_INVALID("{\"paymentId\":\"a\\u007fb\"}", "control character");
    V2_INVALID("{\"paymentId\":\"a\\u0085b\"}", "control character");
    V2_INVALID("{\"paymentId\":\"a\tb\"}", "control character");
    /* both a V1 and a V2 id */
    V2_INVALID("{\"paymentId\":\"pay-1\",\"imp_uid\":\"imp_1\","
               "\"merchant_uid\":\"o-1\"}", "comes with imp_uid");
    V2_INVALID("{\"paymentId\":\"pay-1\",\"imp_uid\":\"imp_1\"}",
               "comes with imp_uid");
    V2_INVALID("{\"paymentId\":\"pay-1\",\"merchant_uid\":\"o-1\"}",
               "comes with imp_uid");
    V2_INVALID("{\"paymentId\":\"pay-1\",\"imp_uid\":\"\"}",
               "comes with imp_uid");
    /* the body's own checks come first, as for V1 */
    V2_INVALID("", "empty");
    V2_INVALID("{\"paymentId\":\"pay-1\"", "not valid JSON");
    V2_INVALID("[\"paymentId\"]", "not a JSON object");
    V2_INVALID("{\"paymentId\":\"pay-1\"}\0", "NUL");
    V2_INVALID("{}", "imp_uid is missing");
}

/* pv_request_parse_verify reads V1 claims as pv_request_parse does. */
TEST(request_v2_v1_claims_unchanged)
{
    static const char *const bodies[] = {
        "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"o-1\"}",
        "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"o-1\",\"status\":\"paid\"}",
        "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"o-1\",\"paymentId\":null}",
        "{\"imp_uid\":\"imp_1\"}",
        "{\"imp_uid\":\"\",\"merchant_uid\":\"o-1\"}",
        "{\"imp_uid\":\"" C32 "x\",\"merchant_uid\":\"o-1\"}",
        "{\"imp_uid\":1,\"merchant_uid\":\"o-1\"}",
        "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"" C40 "\"}",
    };
    size_t i;

    for (i = 0; i < CHECK_COUNT(bodies); i++) {
        pv_claim_t a, b;
        const char *why_a = NULL, *why_b = NULL;
        pv_err ea = pv_request_parse(pool, bodies[i], strlen(bodies[i]),
                                     PV_BODY_JSON, &a, &why_a);
        pv_err eb = verify(pool, bodies[i], strlen(bodies[i]), &b, &why_b);

        CHECK_INT_EQ(ea, eb);
        CHECK_STR_EQ(why_a, why_b);
        CHECK_STR_EQ(a.imp_uid, b.imp_uid);
        CHECK_STR_EQ(a.merchant_uid, b.merchant_uid);
        CHECK_STR_EQ(a.status, b.status);
        CHECK(b.payment_id == NULL);
    }
}

/* pv_request_parse (the V1 webhook's) never reads a paymentId; a form body
 * is V1 for both. */
TEST(request_v2_only_for_verify_json)
{
    static const char json[] = "{\"paymentId\":\"pay-1\"}";
    static const char form[] = "paymentId=pay-1";
    pv_claim_t claim;
    const char *why = NULL;

    CHECK_INT_EQ(pv_request_parse(pool, json, sizeof(json) - 1, PV_BODY_JSON,
                                  &claim, &why), PV_E_INVALID_REQUEST);
    CHECK_STR_EQ(why, "imp_uid is missing");
    CHECK(claim.payment_id == NULL);
    why = NULL;
    CHECK_INT_EQ(pv_request_parse_verify(pool, form, sizeof(form) - 1,
                                         PV_BODY_FORM, &claim, &why),
                 PV_E_INVALID_REQUEST);
    CHECK_STR_EQ(why, "imp_uid is missing");
    /* a V1 claim that carries a paymentId too is refused by verify only */
    {
        static const char both[] = "{\"imp_uid\":\"imp_1\","
                                   "\"merchant_uid\":\"o-1\",\"paymentId\":\"p\"}";

        CHECK_INT_EQ(pv_request_parse(pool, both, sizeof(both) - 1,
                                      PV_BODY_JSON, &claim, &why), PV_OK);
        CHECK_STR_EQ(claim.imp_uid, "imp_1");
        CHECK(claim.payment_id == NULL);
        CHECK_INT_EQ(verify(pool, both, sizeof(both) - 1, &claim, &why),
                     PV_E_INVALID_REQUEST);
    }
}
