/* portone-prepare and portone-reconcile in the core: their bodies
 * (pv_request_parse_prepare, pv_request_parse_reconcile), the amount sent
 * to PortOne (pv_decimal_plain), and PortOne's answers to V1 POST|PUT
 * /payments/prepare (pv_portone_parse_prepare) and V2 POST
 * /payments/{id}/pre-register (pv_portone_v2_parse_pre_register);
 * portone-api.md 1.5, V2SPEC preRegisterPayment. */
#include "check.h"

#include <apr_strings.h>

#include "pv_decimal.h"
#include "pv_portone.h"
#include "pv_portone_v2.h"
#include "pv_request.h"

/* ---- the amount ---- */

static void plain(const char *text, int integer, const char *want,
                  const char *file, int line)
{
    char buf[PV_DECIMAL_MAX_TEXT + 1];
    int rc = pv_decimal_plain(text, integer, buf, sizeof(buf));

    check_report(want ? rc == 0 && !strcmp(buf, want) : rc == -1, file, line,
                 "pv_decimal_plain(\"%s\", %d): rc %d \"%s\", want %s",
                 text ? text : "(null)", integer, rc, rc ? "" : buf,
                 want ? want : "refused");
}
#define PLAIN(text, integer, want) plain(text, integer, want, __FILE__, __LINE__)

TEST(prepare_amount_plain_decimal)
{
    PLAIN("10000", 0, "10000");
    PLAIN(" 10000.00 ", 0, "10000");
    PLAIN("1e4", 0, "10000");
    PLAIN("+10000", 0, "10000");
    PLAIN("0010000.5000", 0, "10000.5");
    PLAIN("0.50", 0, "0.5");
    PLAIN(".005", 0, "0.005");
    PLAIN("1.5E-3", 0, "0.0015");
    PLAIN("999999999999999999", 1, "999999999999999999");
    PLAIN("25000.00", 1, "25000");
    PLAIN("2.5e4", 1, "25000");
    /* not a positive amount PortOne takes */
    PLAIN("0", 0, NULL);
    PLAIN("0.00", 0, NULL);
    PLAIN("-1", 0, NULL);
    PLAIN("ten", 0, NULL);
    PLAIN("", 0, NULL);
    PLAIN(NULL, 0, NULL);
    PLAIN("NaN", 0, NULL);
    PLAIN("1e400", 0, NULL);            /* too long to write out */
    PLAIN("1e-70", 0, NULL);
    /* V2: whole numbers below 10^18 only */
    PLAIN("100.5", 1, NULL);
    PLAIN("1000000000000000000", 1, NULL);
    PLAIN("1e18", 1, NULL);
}

/* ---- V1 POST|PUT /payments/prepare ---- */

static pv_err prep(apr_pool_t *pool, long status, const char *body,
                   const char *amount, int *registered, pv_prepared_t *out,
                   const char **why)
{
    *why = NULL;
    return pv_portone_parse_prepare(pool, status, body, strlen(body), "o_1",
                                    amount, registered, out, why);
}

TEST(prepare_v1_registered)
{
    pv_prepared_t p;
    const char *why;
    int registered = 7;

    CHECK_INT_EQ(prep(pool, 200, "{\"code\":0,\"message\":null,\"response\":"
                      "{\"merchant_uid\":\"o_1\",\"amount\":10000,"
                      "\"currency\":\"KRW\"}}", "10000", &registered, &p, &why),
                 PV_OK);
    CHECK_INT_EQ(registered, 0);
    CHECK_STR_EQ(p.merchant_uid, "o_1");
    CHECK_STR_EQ(p.amount, "10000");
    CHECK_STR_EQ(p.currency, "KRW");
    /* currency null (not checked), a decimal amount equal as decimals */
    CHECK_INT_EQ(prep(pool, 200, "{\"code\":0,\"message\":null,\"response\":"
                      "{\"merchant_uid\":\"o_1\",\"amount\":8999.50,"
                      "\"currency\":null}}", "8999.5", &registered, &p, &why),
                 PV_OK);
    CHECK(p.currency == NULL);
}

TEST(prepare_v1_code_1_is_registered_before)
{
    pv_prepared_t p;
    const char *why;
    int registered = 0;

    CHECK_INT_EQ(prep(pool, 200, "{\"code\":1,\"message\":\"결제정보 사전등록에 "
                      "실패하였습니다(이미 등록된 merchant_uid입니다).\","
                      "\"response\":null}", "10000", &registered, &p, &why),
                 PV_E_UPSTREAM_ERROR);
    CHECK_INT_EQ(registered, 1);
    CHECK_STR_HAS(why, "이미 등록된");
    /* another non-zero code is not "prepared before" */
    CHECK_INT_EQ(prep(pool, 200, "{\"code\":-1,\"message\":\"x\",\"response\":"
                      "null}", "10000", &registered, &p, &why),
                 PV_E_UPSTREAM_ERROR);
    CHECK_INT_EQ(registered, 0);
    CHECK_INT_EQ(prep(pool, 200, "{\"code\":2,\"message\":null,\"response\":"
                      "null}", "10000", &registered, &p, &why),
                 PV_E_UPSTREAM_ERROR);
    CHECK_INT_EQ(registered, 0);
}

TEST(prepare_v1_refusals)
{
    static const char *const bad[] = {
        /* another merchant_uid, another amount, a string amount */
        "{\"code\":0,\"message\":null,\"response\":{\"merchant_uid\":\"o_2\","
        "\"amount\":10000,\"currency\":\"KRW\"}}",
        "{\"code\":0,\"message\":null,\"response\":{\"merchant_uid\":\"o_1\","
        "\"amount\":9999,\"currency\":\"KRW\"}}",
        "{\"code\":0,\"message\":null,\"response\":{\"merchant_uid\":\"o_1\","
        "\"amount\":\"10000\",\"currency\":\"KRW\"}}",
        "{\"code\":0,\"message\":null,\"response\":{\"amount\":10000}}",
        "{\"code\":0,\"message\":null,\"response\":null}",
        "{\"code\":\"0\",\"response\":{}}",
        "<html>",
        "",
    };
    pv_prepared_t p;
    const char *why;
    int registered;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT_EQ(prep(pool, 200, bad[i], "10000", &registered, &p, &why),
                     PV_E_UPSTREAM_ERROR);
        CHECK(why != NULL && registered == 0);
    }
    /* PUT of nothing prepared, a server error */
    CHECK_INT_EQ(prep(pool, 404, "{\"code\":-1,\"message\":\"사전등록된 "
                      "결제정보가 존재하지 않습니다.\",\"response\":null}", "1",
                      &registered, &p, &why), PV_E_UPSTREAM_ERROR);
    CHECK_STR_HAS(why, "nothing prepared");
    CHECK_INT_EQ(prep(pool, 500, "{}", "1", &registered, &p, &why),
                 PV_E_UPSTREAM_ERROR);
}

/* ---- V2 POST /payments/{id}/pre-register ---- */

static pv_err pre(apr_pool_t *pool, long status, const char *body,
                  const char **why)
{
    *why = NULL;
    return pv_portone_v2_parse_pre_register(pool, status, body, strlen(body),
                                            why);
}

TEST(prepare_v2_pre_register_answers)
{
    const char *why;

    CHECK_INT_EQ(pre(pool, 200, "{}", &why), PV_OK);
    CHECK_INT_EQ(pre(pool, 200, "{\"future\":1}", &why), PV_OK);
    CHECK_INT_EQ(pre(pool, 200, "[]", &why), PV_E_UPSTREAM_ERROR);
    CHECK_INT_EQ(pre(pool, 200, "", &why), PV_E_UPSTREAM_ERROR);
    CHECK_INT_EQ(pre(pool, 409, "{\"type\":\"ALREADY_PAID\",\"message\":"
                     "\"결제가 이미 완료되었습니다.\"}", &why),
                 PV_E_UPSTREAM_ERROR);
    CHECK_STR_HAS(why, "ALREADY_PAID");
    CHECK_STR_HAS(why, "paid already");
    CHECK_INT_EQ(pre(pool, 400, "{\"type\":\"INVALID_REQUEST\"}", &why),
                 PV_E_UPSTREAM_ERROR);
    CHECK_STR_HAS(why, "HTTP 400 INVALID_REQUEST");
    CHECK_INT_EQ(pre(pool, 401, "{\"type\":\"UNAUTHORIZED\"}", &why),
                 PV_E_UPSTREAM_AUTH_FAILED);
    CHECK_STR_HAS(why, "PortOneV2Secret");
    CHECK_INT_EQ(pre(pool, 403, "{\"type\":\"FORBIDDEN\"}", &why),
                 PV_E_UPSTREAM_AUTH_FAILED);
    CHECK_INT_EQ(pre(pool, 502, "not json", &why), PV_E_UPSTREAM_ERROR);
    CHECK_STR_HAS(why, "(no type)");
}

/* ---- the bodies ---- */

static pv_err prepare_body(apr_pool_t *pool, const char *body,
                           pv_claim_t *claim, const char **why)
{
    return pv_request_parse_prepare(pool, body, strlen(body), claim, why);
}

TEST(prepare_bodies)
{
    pv_claim_t c;
    const char *why;
    static const char *const bad[] = {
        "{\"merchant_uid\":\"o_1\",\"paymentId\":\"p_1\"}",
        "{}", "{\"imp_uid\":\"imp_1\"}", "{\"merchant_uid\":\"\"}",
        "{\"merchant_uid\":12}", "{\"merchant_uid\":\"o\\u0001\"}",
        "{\"merchant_uid\":\"12345678901234567890123456789012345678901\"}",
        "{\"paymentId\":[]}", "[\"merchant_uid\"]", "{", "", "null",
    };
    size_t i;

    CHECK_INT_EQ(prepare_body(pool, "{\"merchant_uid\":\"o_1\",\"x\":1}", &c,
                              &why), PV_OK);
    CHECK_STR_EQ(c.merchant_uid, "o_1");
    CHECK(c.payment_id == NULL && c.imp_uid == NULL);
    CHECK_INT_EQ(prepare_body(pool, "{\"paymentId\":\"주문/1 ?\","
                              "\"merchant_uid\":null}", &c, &why), PV_OK);
    CHECK_STR_EQ(c.payment_id, "주문/1 ?");
    CHECK(c.merchant_uid == NULL);
    /* 40 Korean characters are 40 characters */
    CHECK_INT_EQ(prepare_body(pool, apr_pstrcat(pool, "{\"merchant_uid\":\"",
        "가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가"
        "가가가가가가", "\"}", NULL), &c, &why), PV_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECK_INT_EQ(prepare_body(pool, bad[i], &c, &why),
                     PV_E_INVALID_REQUEST);
        CHECK(why != NULL);
    }
    {
        char *big = apr_palloc(pool, PV_BODY_MAX + 2);

        memset(big, ' ', PV_BODY_MAX + 1);
        big[PV_BODY_MAX + 1] = '\0';
        CHECK_INT_EQ(prepare_body(pool, big, &c, &why),
                     PV_E_PAYLOAD_TOO_LARGE);
    }
}

static pv_err reconcile_body(apr_pool_t *pool, const char *body,
                             long *older_than, int *limit, const char **why)
{
    return pv_request_parse_reconcile(pool, body, strlen(body), older_than,
                                      limit, why);
}

TEST(reconcile_bodies)
{
    static const char *const bad[] = {
        "{\"older_than\":-1}", "{\"older_than\":\"600\"}",
        "{\"older_than\":1.5}", "{\"older_than\":31622401}",
        "{\"limit\":1001}", "{\"limit\":-1}", "{\"limit\":true}",
        "{\"limit\":99999999999999999999}", "[]", "{", "nul",
    };
    const char *why;
    long older;
    int limit;
    size_t i;

    CHECK_INT_EQ(reconcile_body(pool, "", &older, &limit, &why), PV_OK);
    CHECK_INT_EQ(older, 600);
    CHECK_INT_EQ(limit, 100);
    CHECK_INT_EQ(reconcile_body(pool, "{}", &older, &limit, &why), PV_OK);
    CHECK_INT_EQ(older + limit, 700);
    CHECK_INT_EQ(reconcile_body(pool, "{\"older_than\":0,\"limit\":1000,"
                                "\"other\":[1]}", &older, &limit, &why), PV_OK);
    CHECK_INT_EQ(older, 0);
    CHECK_INT_EQ(limit, 1000);
    CHECK_INT_EQ(reconcile_body(pool, "{\"older_than\":null,\"limit\":0}",
                                &older, &limit, &why), PV_OK);
    CHECK_INT_EQ(older, 600);
    CHECK_INT_EQ(limit, 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECK_INT_EQ(reconcile_body(pool, bad[i], &older, &limit, &why),
                     PV_E_INVALID_REQUEST);
        CHECK(why != NULL);
    }
}
