/* pv_portone: PortOne V1 payment answers (GET /payments/{imp_uid}) mapped
 * to values (portone-api.md 1.4; contract section 5's upstream errors). */
#include "check.h"

#include <apr_strings.h>
#include <stdint.h>
#include <json-c/json.h>

#include "pv_portone.h"

/* ---- GET /payments/{imp_uid} ---- */

/* portone-api.md 1.4, a live answer: "\/" and "\uXXXX" escapes; with the
 * "sandbox" field that answers carry since 2026-01-26 */
static const char live_body[] =
    "{\"code\":0,\"message\":null,\"response\":{\"amount\":9000,\"apply_num\":\"\",\"bank_code\":null,\"bank_name\":null,"
    "\"buyer_addr\":\"\",\"buyer_email\":\"sunmin4218@gmail.com\",\"buyer_name\":\"\\ud14c\\uc2a4\\ud2b8\",\"buyer_postcode\":null,"
    "\"buyer_tel\":\"010-0000-0000\",\"cancel_amount\":0,\"cancel_history\":[],\"cancel_reason\":null,\"cancel_receipt_urls\":[],"
    "\"cancelled_at\":0,\"card_code\":null,\"card_name\":null,\"card_number\":null,\"card_quota\":0,\"card_type\":null,"
    "\"cash_receipt_issued\":false,\"channel\":\"pc\",\"currency\":\"KRW\",\"custom_data\":null,\"customer_uid\":null,"
    "\"customer_uid_usage\":null,\"emb_pg_provider\":null,\"escrow\":false,\"fail_reason\":null,\"failed_at\":0,"
    "\"imp_uid\":\"imp_747436343689\",\"merchant_uid\":\"2022-11-16T10:17:16_1\",\"name\":\"\\uacb0\\uc81c\\ud14c\\uc2a4\\ud2b8\","
    "\"paid_at\":1668561453,\"pay_method\":\"point\",\"pg_id\":\"TC0ONETIME\",\"pg_provider\":\"kakaopay\",\"pg_tid\":\"T3743a1c204d1c578263\","
    "\"receipt_url\":\"https:\\/\\/mockup-pg-web.kakao.com\\/v1\\/confirmation\\/p\\/T3743a1c204d1c578263\\/5af3...\","
    "\"sandbox\":false,\"started_at\":1668561436,\"status\":\"paid\",\"user_agent\":\"Mozilla\\/5.0 (...)\",\"vbank_code\":null,\"vbank_date\":0,"
    "\"vbank_holder\":null,\"vbank_issued_at\":0,\"vbank_name\":null,\"vbank_num\":null}}";

static pv_err payment(apr_pool_t *pool, long status, const char *body,
                      size_t len, pv_payment_t *out, const char **why)
{
    *why = NULL;
    return pv_portone_parse_payment(pool, status, body, len, out, why);
}

/* The fields of a small valid payment, in order. */
static const char *const base_fields[][2] = {
    {"imp_uid", "\"imp_1\""},
    {"merchant_uid", "\"order-1\""},
    {"status", "\"paid\""},
    {"amount", "10000"},
    {"currency", "\"KRW\""},
    {"pay_method", "\"card\""},
    {"paid_at", "1700000000"},
    {"sandbox", "false"},
};

/* An HTTP 200 payment answer: the base fields, with |key| given |value|
 * (JSON text; NULL leaves the key out; a key not in the base is added). */
static const char *pay_body(apr_pool_t *pool, const char *key,
                            const char *value)
{
    const char *s = "{\"code\":0,\"message\":null,\"response\":{", *sep = "";
    size_t i;
    int found = 0;

    for (i = 0; i < CHECK_COUNT(base_fields); i++) {
        const char *v = base_fields[i][1];

        if (key && !strcmp(key, base_fields[i][0])) {
            found = 1;
            if (!value)
                continue;
            v = value;
        }
        s = apr_pstrcat(pool, s, sep, "\"", base_fields[i][0], "\":", v, NULL);
        sep = ",";
    }
    if (key && !found && value)
        s = apr_pstrcat(pool, s, sep, "\"", key, "\":", value, NULL);
    return apr_pstrcat(pool, s, "}}", NULL);
}

/* The payment with |key| set to |value| parses; returns it (zeroed if not). */
static pv_payment_t pay_ok(apr_pool_t *pool, const char *key,
                           const char *value, const char *file, int line)
{
    const char *b = pay_body(pool, key, value), *why;
    pv_payment_t p;
    pv_err err = payment(pool, 200, b, strlen(b), &p, &why);

    check_report(err == PV_OK, file, line, "payment %s: err %s why \"%s\"",
                 check_printable(pool, b, strlen(b)), pv_err_lookup(err)->code,
                 why ? why : "(null)");
    if (err != PV_OK)
        memset(&p, 0, sizeof(p));
    return p;
}

static void pay_fails(apr_pool_t *pool, long status, const char *body,
                      size_t len, pv_err want, const char *file, int line)
{
    pv_payment_t p;
    const char *why;
    pv_err err = payment(pool, status, body, len, &p, &why);

    check_report(err == want && why != NULL, file, line,
                 "payment HTTP %ld [%s]: err %s why \"%s\", want %s",
                 status, check_printable(pool, body, len), pv_err_lookup(err)->code,
                 why ? why : "(null)", pv_err_lookup(want)->code);
}

#define PAY_OK(key, value) pay_ok(pool, key, value, __FILE__, __LINE__)
#define PAY_FAILS(status, lit, want) \
    pay_fails(pool, status, lit, sizeof(lit) - 1, want, __FILE__, __LINE__)
/* the base payment with |key| set to |value| is an upstream_error */
#define PAY_FIELD_FAILS(key, value)                                         \
    do {                                                                    \
        const char *b_ = pay_body(pool, key, value);                        \
        pay_fails(pool, 200, b_, strlen(b_), PV_E_UPSTREAM_ERROR, __FILE__, \
                  __LINE__);                                                \
    } while (0)

TEST(portone_payment_live_sample)
{
    pv_payment_t p;
    const char *why;
    struct json_object *resp, *v;

    CHECK_INT_EQ(payment(pool, 200, live_body, sizeof(live_body) - 1, &p, &why),
                 PV_OK);
    CHECK_STR_EQ(p.imp_uid, "imp_747436343689");
    CHECK_STR_EQ(p.merchant_uid, "2022-11-16T10:17:16_1");
    CHECK_STR_EQ(p.status_text, "paid");
    CHECK_INT_EQ(p.status, PV_STATUS_PAID);
    CHECK_STR_EQ(p.amount, "9000");
    CHECK_STR_EQ(p.cancel_amount, "0");
    CHECK_STR_EQ(p.currency, "KRW");
    CHECK_STR_EQ(p.pay_method, "point");
    CHECK_STR_EQ(p.paid_at, "1668561453");
    CHECK_STR_EQ(p.vbank_num, NULL);
    CHECK_STR_EQ(p.vbank_name, NULL);
    CHECK_STR_EQ(p.vbank_date, "0");
    CHECK_INT_EQ(p.sandbox, 0);

    /* response_json: PortOne's whole response object, written again by
     * json-c ('/' unescaped, \uXXXX as UTF-8) only when asked (a recording
     * that writes it): the parse keeps the tree */
    CHECK(!p.response_json && p.response_tree);
    pv_payment_response_json(pool, &p);
    CHECK(p.response_json && p.response_json[0] == '{');
    CHECK_STR_HAS(p.response_json, "imp_747436343689");
    CHECK_STR_HAS(p.response_json, "\"https://mockup-pg-web.kakao.com/v1/");
    CHECK_STR_HAS(p.response_json, "\"buyer_name\":\"테스트\"");
    CHECK_STR_HAS(p.response_json, "{\"amount\":9000,\"apply_num\":\"\",");
    resp = p.response_json ? json_tokener_parse(p.response_json) : NULL;
    CHECK(resp && json_object_is_type(resp, json_type_object));
    if (resp) {
        CHECK(json_object_object_get_ex(resp, "imp_uid", &v));
        CHECK_STR_EQ(json_object_get_string(v), "imp_747436343689");
        CHECK(json_object_object_get_ex(resp, "name", &v));
        CHECK_STR_EQ(json_object_get_string(v), "결제테스트");
        CHECK(json_object_object_get_ex(resp, "buyer_name", &v));
        CHECK_STR_EQ(json_object_get_string(v), "테스트");
        CHECK(json_object_object_get_ex(resp, "cancel_history", &v));
        CHECK(json_object_is_type(v, json_type_array));
        CHECK_INT_EQ(json_object_object_length(resp), 48);
        json_object_put(resp);
    }
}

TEST(portone_payment_small)
{
    pv_payment_t p = PAY_OK(NULL, NULL);

    CHECK_STR_EQ(p.imp_uid, "imp_1");
    CHECK_STR_EQ(p.merchant_uid, "order-1");
    CHECK_INT_EQ(p.status, PV_STATUS_PAID);
    CHECK_STR_EQ(p.amount, "10000");
    CHECK_STR_EQ(p.cancel_amount, "0");     /* absent */
    CHECK_STR_EQ(p.pay_method, "card");
    CHECK_STR_EQ(p.paid_at, "1700000000");
    CHECK_STR_EQ(p.vbank_num, NULL);
    CHECK_STR_EQ(p.vbank_date, NULL);
    CHECK_INT_EQ(p.sandbox, 0);
    pv_payment_response_json(pool, &p);
    CHECK_STR_HAS(p.response_json, "\"imp_uid\":\"imp_1\"");

    /* the body may be pretty-printed, with blanks after it */
    {
        static const char b[] = " {\n \"code\" : 0 ,\n \"message\" : null ,\n"
            " \"response\" : { \"imp_uid\" : \"imp_2\" , \"merchant_uid\" : \"m\" ,"
            " \"status\" : \"failed\" , \"amount\" : 0 , \"currency\" : \"USD\" ,"
            " \"sandbox\" : false }\n}\n\n";
        const char *why;

        CHECK_INT_EQ(payment(pool, 200, b, sizeof(b) - 1, &p, &why), PV_OK);
        CHECK_STR_EQ(p.imp_uid, "imp_2");
        CHECK_INT_EQ(p.status, PV_STATUS_FAILED);
        CHECK_STR_EQ(p.amount, "0");
        CHECK_STR_EQ(p.currency, "USD");
        CHECK_STR_EQ(p.pay_method, NULL);
    }
}

TEST(portone_payment_statuses)
{
    pv_payment_t p;

    p = PAY_OK("status", "\"ready\"");
    CHECK_INT_EQ(p.status, PV_STATUS_READY);
    CHECK_STR_EQ(p.status_text, "ready");
    p = PAY_OK("status", "\"cancelled\"");
    CHECK_INT_EQ(p.status, PV_STATUS_CANCELLED);
    p = PAY_OK("status", "\"failed\"");
    CHECK_INT_EQ(p.status, PV_STATUS_FAILED);
    PAY_FIELD_FAILS("status", "\"unknown\"");
    PAY_FIELD_FAILS("status", "\"PAID\"");
    PAY_FIELD_FAILS("status", "\"partial_cancelled\"");
    PAY_FIELD_FAILS("status", "\"\"");
    PAY_FIELD_FAILS("status", "null");
    PAY_FIELD_FAILS("status", "1");
    PAY_FIELD_FAILS("status", NULL);
}

TEST(portone_payment_vbank)
{
    pv_payment_t p;
    const char *b = "{\"code\":0,\"message\":null,\"response\":{\"imp_uid\":\"imp_9\","
        "\"merchant_uid\":\"o9\",\"status\":\"ready\",\"amount\":50000,"
        "\"currency\":\"KRW\",\"pay_method\":\"vbank\",\"paid_at\":0,"
        "\"vbank_num\":\"T123-456-789\",\"vbank_name\":\"\\uad6d\\ubbfc\\uc740\\ud589\","
        "\"vbank_date\":1700086400,\"vbank_holder\":null,\"sandbox\":false}}";
    const char *why;

    CHECK_INT_EQ(payment(pool, 200, b, strlen(b), &p, &why), PV_OK);
    CHECK_INT_EQ(p.status, PV_STATUS_READY);
    CHECK_STR_EQ(p.vbank_num, "T123-456-789");
    CHECK_STR_EQ(p.vbank_name, "국민은행");
    CHECK_STR_EQ(p.vbank_date, "1700086400");
    CHECK_STR_EQ(p.paid_at, "0");
    CHECK_STR_EQ(p.pay_method, "vbank");
}

TEST(portone_payment_not_found)
{
    PAY_FAILS(404, "{\"code\":-1,\"message\":\"존재하지 않는 결제정보입니다.\","
              "\"response\":null}", PV_E_PAYMENT_NOT_FOUND);
    PAY_FAILS(404, "", PV_E_PAYMENT_NOT_FOUND);
    PAY_FAILS(404, "<html>Not Found</html>", PV_E_PAYMENT_NOT_FOUND);
}

/* the stored response is the "response" member as json-c writes it (plain,
 * members in order, numbers with a fraction as PortOne wrote them, '/' not
 * escaped), whatever comes around it */
TEST(portone_payment_response_text)
{
    static const char *const bodies[] = {
        "{\"code\":0,\"message\":null,\"response\":"
        "{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":\"paid\",\"amount\":1,"
        "\"currency\":\"KRW\",\"sandbox\":false,\"x\":[1,{\"y\":\"}]\\\"\"}]}}",
        "{\"response\" : {\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":\"paid\","
        "\"amount\":1.50,\"currency\":\"KRW\",\"sandbox\":true} ,\"code\":0,\"message\":\"a,b}\"}",
        "{\"message\":{\"response\":1},\"code\":0,\"response\":{\"imp_uid\":\"i\","
        "\"merchant_uid\":\"m\",\"status\":\"paid\",\"amount\":1,\"currency\":\"KRW\","
        "\"sandbox\":false}}",
        /* a repeated key: json-c keeps the last */
        "{\"code\":0,\"response\":null,\"response\":{\"imp_uid\":\"i\","
        "\"merchant_uid\":\"m\",\"status\":\"paid\",\"amount\":1,\"currency\":\"KRW\","
        "\"sandbox\":false}}",
    };
    static const char *const want[] = {
        "{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":\"paid\",\"amount\":1,"
        "\"currency\":\"KRW\",\"sandbox\":false,\"x\":[1,{\"y\":\"}]\\\"\"}]}",
        "{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":\"paid\","
        "\"amount\":1.50,\"currency\":\"KRW\",\"sandbox\":true}",
        "{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":\"paid\",\"amount\":1,"
        "\"currency\":\"KRW\",\"sandbox\":false}",
        "{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":\"paid\",\"amount\":1,"
        "\"currency\":\"KRW\",\"sandbox\":false}",
    };
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pv_payment_t p;
        const char *why = NULL;

        CHECK_INT_EQ(pv_portone_parse_payment(pool, 200, bodies[i], strlen(bodies[i]),
                                              &p, &why), PV_OK);
        CHECK_STR_EQ(pv_payment_response_json(pool, &p), want[i]);
    }
}

TEST(portone_payment_http_errors)
{
    PAY_FAILS(500, "", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(503, "<html>busy</html>", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(401, "{\"code\":-1,\"message\":\"Unauthorized\",\"response\":null}",
              PV_E_UPSTREAM_ERROR);
    PAY_FAILS(400, "", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(302, "", PV_E_UPSTREAM_ERROR);
    {
        /* a valid payment under another status is no payment */
        pv_payment_t p;
        const char *why;

        CHECK_INT_EQ(payment(pool, 201, live_body, sizeof(live_body) - 1, &p,
                             &why), PV_E_UPSTREAM_ERROR);
        CHECK_INT_EQ(payment(pool, 500, live_body, sizeof(live_body) - 1, &p,
                             &why), PV_E_UPSTREAM_ERROR);
    }
}

TEST(portone_payment_nonzero_code)
{
    /* HTTP 200 with a non-zero code */
    PAY_FAILS(200, "{\"code\":1,\"message\":\"비인증결제모듈 사용정보를 찾을 수 "
              "없습니다.\",\"response\":null}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":-1,\"message\":\"존재하지 않는 결제정보입니다.\","
              "\"response\":null}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":1,\"message\":null,\"response\":{\"imp_uid\":\"imp_1\","
              "\"merchant_uid\":\"o\",\"status\":\"paid\",\"amount\":1,"
              "\"currency\":\"KRW\"}}", PV_E_UPSTREAM_ERROR);
}

TEST(portone_payment_envelope_errors)
{
    /* response null, missing or not an object */
    PAY_FAILS(200, "{\"code\":0,\"message\":null,\"response\":null}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":0,\"message\":null}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":0,\"response\":[]}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":0,\"response\":\"paid\"}", PV_E_UPSTREAM_ERROR);
    /* code missing or not an integer */
    PAY_FAILS(200, "{\"response\":{}}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":null,\"response\":{}}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":\"0\",\"response\":{}}", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":0.0,\"response\":{}}", PV_E_UPSTREAM_ERROR);
    /* a code json-c 0.16 saturated: not the documented answer */
    PAY_FAILS(200, "{\"code\":99999999999999999999,\"response\":{}}",
              PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":-99999999999999999999,\"response\":null}",
              PV_E_UPSTREAM_ERROR);
    {
        static const char b[] = "{\"code\":1,\"message\":\"a/b\",\"response\":null}";
        pv_payment_t p;
        const char *why;

        CHECK_INT_EQ(payment(pool, 200, b, sizeof(b) - 1, &p, &why),
                     PV_E_UPSTREAM_ERROR);
        CHECK_STR_EQ(why, "PortOne answered code 1: a/b");
    }
}

TEST(portone_payment_not_json)
{
    PAY_FAILS(200, "", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "<html><body>502 Bad Gateway</body></html>", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "null", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "[]", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{\"code\":0,\"response\":{\"imp_uid\":\"imp_1\"", PV_E_UPSTREAM_ERROR);
    PAY_FAILS(200, "{'code':0}", PV_E_UPSTREAM_ERROR);
    {
        pv_payment_t p;
        const char *why;

        CHECK_INT_EQ(payment(pool, 200, NULL, 0, &p, &why), PV_E_UPSTREAM_ERROR);
    }
}

/* |body| with |tail| appended (|tlen| bytes) is refused */
static void with_tail(apr_pool_t *pool, const char *tail, size_t tlen,
                      const char *file, int line)
{
    size_t blen = sizeof(live_body) - 1;
    char *b = apr_palloc(pool, blen + tlen);

    memcpy(b, live_body, blen);
    memcpy(b + blen, tail, tlen);
    pay_fails(pool, 200, b, blen + tlen, PV_E_UPSTREAM_ERROR, file, line);
}
#define WITH_TAIL(lit) with_tail(pool, lit, sizeof(lit) - 1, __FILE__, __LINE__)

TEST(portone_payment_trailing_data_and_nul)
{
    pv_payment_t p;
    const char *why;
    char *b;

    WITH_TAIL("x");
    WITH_TAIL(" x");
    WITH_TAIL("{}");
    WITH_TAIL(",");
    WITH_TAIL("\0");
    WITH_TAIL(" \0");
    /* blanks after it are fine */
    b = apr_pstrcat(pool, live_body, " \r\n\t", NULL);
    CHECK_INT_EQ(payment(pool, 200, b, strlen(b), &p, &why), PV_OK);
    /* a raw NUL inside a string */
    b = apr_pmemdup(pool, live_body, sizeof(live_body));
    *strstr(b, "kakaopay") = '\0';
    pay_fails(pool, 200, b, sizeof(live_body) - 1, PV_E_UPSTREAM_ERROR,
              __FILE__, __LINE__);
}

TEST(portone_payment_nul_escapes)
{
    /* a \u0000 escape would cut the value short as a C string */
    PAY_FIELD_FAILS("imp_uid", "\"imp_1\\u0000x\"");
    PAY_FIELD_FAILS("merchant_uid", "\"order-1\\u0000evil\"");
    PAY_FIELD_FAILS("status", "\"paid\\u0000x\"");
    PAY_FIELD_FAILS("currency", "\"KRW\\u0000x\"");
}

TEST(portone_payment_required_fields)
{
    PAY_FIELD_FAILS("imp_uid", NULL);
    PAY_FIELD_FAILS("imp_uid", "null");
    PAY_FIELD_FAILS("imp_uid", "\"\"");
    PAY_FIELD_FAILS("imp_uid", "123");
    PAY_FIELD_FAILS("imp_uid", "\"imp_0123456789abcdef0123456789abc\"");  /* 33 */
    PAY_FIELD_FAILS("merchant_uid", NULL);
    PAY_FIELD_FAILS("merchant_uid", "null");
    PAY_FIELD_FAILS("merchant_uid", "\"\"");
    PAY_FIELD_FAILS("merchant_uid", "\"a\\nb\"");
    PAY_FIELD_FAILS("merchant_uid", "\"order-0123456789-0123456789-0123456789abc\"");
    PAY_FIELD_FAILS("currency", NULL);
    PAY_FIELD_FAILS("currency", "null");
    PAY_FIELD_FAILS("currency", "410");
    PAY_FIELD_FAILS("amount", NULL);
    PAY_FIELD_FAILS("amount", "null");
    {
        pv_payment_t p;

        p = PAY_OK("imp_uid", "\"imp_0123456789abcdef0123456789ab\"");     /* 32 */
        CHECK_STR_EQ(p.imp_uid, "imp_0123456789abcdef0123456789ab");
        p = PAY_OK("merchant_uid", "\"order-0123456789-0123456789-0123456789ab\"");
        CHECK_STR_EQ(p.merchant_uid, "order-0123456789-0123456789-0123456789ab");
    }
}

TEST(portone_payment_amounts)
{
    pv_payment_t p;

    p = PAY_OK("amount", "10000.50");
    CHECK_STR_EQ(p.amount, "10000.50");
    p = PAY_OK("amount", "0.1");
    CHECK_STR_EQ(p.amount, "0.1");
    p = PAY_OK("amount", "9000");
    CHECK_STR_EQ(p.amount, "9000");
    p = PAY_OK("amount", "1e4");
    CHECK_STR_EQ(p.amount, "1e4");
    p = PAY_OK("amount", "1.0E4");
    CHECK_STR_EQ(p.amount, "1.0E4");
    p = PAY_OK("amount", "0");
    CHECK_STR_EQ(p.amount, "0");
    PAY_FIELD_FAILS("amount", "\"9000\"");
    PAY_FIELD_FAILS("amount", "\"10000\"");
    PAY_FIELD_FAILS("amount", "true");
    PAY_FIELD_FAILS("amount", "[9000]");
    PAY_FIELD_FAILS("amount", "{}");
    PAY_FIELD_FAILS("amount", "1e999");
    PAY_FIELD_FAILS("amount", "NaN");
    PAY_FIELD_FAILS("amount", "Infinity");
    PAY_FIELD_FAILS("amount", "-Infinity");
    PAY_FIELD_FAILS("amount", "0x10");
    PAY_FIELD_FAILS("amount", "01");
    /* json-c's strict mode reads "1." (value 1): its text as written */
    p = PAY_OK("amount", "1.");
    CHECK_STR_EQ(p.amount, "1.");
    /* json-c 0.16 saturates an integer beyond 64 bits (99999999999999999999
     * to 18446744073709551615, another amount) and keeps no text: a value
     * equal to a limit is not the documented answer */
    PAY_FIELD_FAILS("amount", "99999999999999999999");
    PAY_FIELD_FAILS("amount", "18446744073709551615");
    PAY_FIELD_FAILS("amount", "9223372036854775807");
    PAY_FIELD_FAILS("amount", "-99999999999999999999");
    PAY_FIELD_FAILS("cancel_amount", "99999999999999999999");
    p = PAY_OK("amount", "12345678901234567890");       /* uint64: exact */
    CHECK_STR_EQ(p.amount, "12345678901234567890");
    p = PAY_OK("amount", "99999999999999999999.0");     /* a fraction: its text */
    CHECK_STR_EQ(p.amount, "99999999999999999999.0");
    /* an integer's text is its value: -0 is 0 */
    p = PAY_OK("amount", "-0");
    CHECK_STR_EQ(p.amount, "0");
    /* PortOne's amount is at most PV_DECIMAL_MAX_TEXT (64) bytes: a longer
     * one, even 10000 with 70 zeros after the point, is not the documented
     * answer (nothing is recorded or stored) */
    {
        char t[128];

        strcpy(t, "10000.");
        memset(t + 6, '0', 58);
        t[64] = '\0';
        p = PAY_OK("amount", t);
        CHECK_STR_EQ(p.amount, t);
        strcpy(t + 6, "0000000000000000000000000000000000000000000000000000000000000000000000");
        PAY_FIELD_FAILS("amount", t);
        PAY_FIELD_FAILS("cancel_amount", t);
        memset(t, '9', 70);
        t[70] = '\0';
        PAY_FIELD_FAILS("amount", t);
    }
}

TEST(portone_payment_cancel_amount)
{
    pv_payment_t p;

    p = PAY_OK("cancel_amount", NULL);
    CHECK_STR_EQ(p.cancel_amount, "0");
    p = PAY_OK("cancel_amount", "null");
    CHECK_STR_EQ(p.cancel_amount, "0");
    p = PAY_OK("cancel_amount", "3000");
    CHECK_STR_EQ(p.cancel_amount, "3000");
    p = PAY_OK("cancel_amount", "3000.25");
    CHECK_STR_EQ(p.cancel_amount, "3000.25");
    PAY_FIELD_FAILS("cancel_amount", "\"3000\"");
    PAY_FIELD_FAILS("cancel_amount", "false");
}

TEST(portone_payment_sandbox)
{
    pv_payment_t p;

    p = PAY_OK("sandbox", "true");
    CHECK_INT_EQ(p.sandbox, 1);
    p = PAY_OK("sandbox", "false");
    CHECK_INT_EQ(p.sandbox, 0);
    /* contract section 4: without a boolean sandbox the answer is not the
     * documented one (read as live, a test payment would pass) */
    PAY_FIELD_FAILS("sandbox", NULL);
    PAY_FIELD_FAILS("sandbox", "null");
    PAY_FIELD_FAILS("sandbox", "\"true\"");
    PAY_FIELD_FAILS("sandbox", "\"false\"");
    PAY_FIELD_FAILS("sandbox", "1");
    PAY_FIELD_FAILS("sandbox", "0");
    PAY_FIELD_FAILS("sandbox", "[]");
}

TEST(portone_payment_optional_field_types)
{
    pv_payment_t p;

    p = PAY_OK("pay_method", "null");
    CHECK_STR_EQ(p.pay_method, NULL);
    p = PAY_OK("paid_at", NULL);
    CHECK_STR_EQ(p.paid_at, NULL);
    PAY_FIELD_FAILS("pay_method", "1");
    PAY_FIELD_FAILS("paid_at", "\"1700000000\"");
    PAY_FIELD_FAILS("paid_at", "1.5");
    PAY_FIELD_FAILS("vbank_num", "123456");
    PAY_FIELD_FAILS("vbank_name", "false");
    PAY_FIELD_FAILS("vbank_date", "\"2023-11-16\"");
    /* seconds are stored as BIGINT: a value beyond it is refused, and so
     * are the limits (json-c 0.16 saturates to them) */
    p = PAY_OK("paid_at", "9223372036854775806");
    CHECK_STR_EQ(p.paid_at, "9223372036854775806");
    PAY_FIELD_FAILS("paid_at", "9223372036854775807");
    PAY_FIELD_FAILS("paid_at", "9223372036854775808");
    PAY_FIELD_FAILS("paid_at", "-9223372036854775808");
    PAY_FIELD_FAILS("vbank_date", "-99999999999999999999");
}

TEST(portone_payment_response_json)
{
    pv_payment_t p = PAY_OK("custom_data", "\"{\\\"a\\\":\\\"b/c\\\"}\"");
    struct json_object *o, *v;

    pv_payment_response_json(pool, &p);
    o = p.response_json ? json_tokener_parse(p.response_json) : NULL;
    CHECK(o && json_object_is_type(o, json_type_object));
    if (o) {
        CHECK(json_object_object_get_ex(o, "imp_uid", &v));
        CHECK_STR_EQ(json_object_get_string(v), "imp_1");
        CHECK(json_object_object_get_ex(o, "custom_data", &v));
        CHECK_STR_EQ(json_object_get_string(v), "{\"a\":\"b/c\"}");
        CHECK(json_object_object_get_ex(o, "amount", &v));
        CHECK_INT_EQ(json_object_get_int64(v), 10000);
        json_object_put(o);
    }
}

/* {"code":0,"response":{...base..., "x":[[...]]}} with |arrays| arrays */
static const char *deep_body(apr_pool_t *pool, int arrays)
{
    char *open = apr_palloc(pool, (size_t)arrays + 1);
    char *close = apr_palloc(pool, (size_t)arrays + 1);

    memset(open, '[', (size_t)arrays);
    memset(close, ']', (size_t)arrays);
    open[arrays] = close[arrays] = '\0';
    return pay_body(pool, "x", apr_pstrcat(pool, open, "1", close, NULL));
}

TEST(portone_payment_depth)
{
    const char *b, *why;
    pv_payment_t p;

    b = deep_body(pool, 10);
    CHECK_INT_EQ(payment(pool, 200, b, strlen(b), &p, &why), PV_OK);
    b = deep_body(pool, PV_JSON_DEPTH + 1);
    pay_fails(pool, 200, b, strlen(b), PV_E_UPSTREAM_ERROR, __FILE__, __LINE__);
    b = deep_body(pool, 100000);
    pay_fails(pool, 200, b, strlen(b), PV_E_UPSTREAM_ERROR, __FILE__, __LINE__);
}
