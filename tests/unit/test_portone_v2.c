/* pv_portone_v2: PortOne V2 GET /payments/{paymentId} answers mapped to
 * pv_payment_t (portone-api.md 2.2, contract section 8), and what pv_decide
 * makes of them. */
#include "check.h"

#include <apr_strings.h>
#include <stdarg.h>
#include <json-c/json.h>

#include "pv_decide.h"
#include "pv_portone_v2.h"

/* A PAID answer of the documented shape (portone-api.md 2.2's skeleton). */
static const char paid_body[] =
    "{\"status\":\"PAID\",\"id\":\"pay-1\",\"transactionId\":\"tx-1\","
    "\"merchantId\":\"merchant-1\",\"storeId\":\"store-a\","
    "\"channel\":{\"type\":\"LIVE\",\"id\":\"ch-1\",\"key\":\"channel-key-1\","
    "\"name\":\"KG\",\"pgProvider\":\"INICIS_V2\",\"pgMerchantId\":\"MOI1\"},"
    "\"version\":\"V2\",\"requestedAt\":\"2024-04-25T09:59:40.081Z\","
    "\"updatedAt\":\"2024-04-25T10:00:00.455Z\","
    "\"statusChangedAt\":\"2024-04-25T10:00:00.290Z\","
    "\"orderName\":\"\\uc8fc\\ubb38\",\"amount\":{\"total\":1000,\"taxFree\":0,"
    "\"vat\":91,\"supply\":909,\"discount\":0,\"paid\":1000,\"cancelled\":0,"
    "\"cancelledTaxFree\":0},\"currency\":\"KRW\",\"customer\":{},"
    "\"origin\":{\"platformType\":\"PC\",\"ipAddress\":\"203.0.113.7\"},"
    "\"method\":{\"type\":\"PaymentMethodCard\"},"
    "\"paidAt\":\"2024-04-25T10:00:00.290Z\",\"disputes\":[],"
    "\"customData\":\"{\\\"item\\\":\\\"a\\\"}\"}";

/* paid_body with each (dotted path, JSON text) pair applied, up to a NULL
 * path; a NULL text removes the member. */
static const char *body(apr_pool_t *pool, ...)
{
    struct json_object *root = json_tokener_parse(paid_body);
    const char *path, *out;
    va_list ap;

    va_start(ap, pool);
    while ((path = va_arg(ap, const char *))) {
        const char *value = va_arg(ap, const char *);
        struct json_object *obj = root;
        char *p = apr_pstrdup(pool, path), *dot;

        while ((dot = strchr(p, '.'))) {
            *dot = '\0';
            json_object_object_get_ex(obj, p, &obj);
            p = dot + 1;
        }
        if (value)
            json_object_object_add(obj, p, json_tokener_parse(value));
        else
            json_object_object_del(obj, p);
    }
    va_end(ap);
    out = apr_pstrdup(pool, json_object_to_json_string_ext(
                                root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return out;
}

static pv_err parse(apr_pool_t *pool, long status, const char *b,
                    const char *store, pv_payment_t *p, const char **why)
{
    *why = NULL;
    return pv_portone_v2_parse_payment(pool, status, b, strlen(b), "pay-1",
                                       store, p, why);
}

/* |b| is an upstream_error whose reason has |has|. */
static void refused(apr_pool_t *pool, long status, const char *b,
                    pv_err want, const char *has, const char *file, int line)
{
    pv_payment_t p;
    const char *why;
    pv_err err = parse(pool, status, b, NULL, &p, &why);

    check_report(err == want && why && strstr(why, has), file, line,
                 "HTTP %ld [%s]: err %s why \"%s\", want %s with \"%s\"",
                 status, check_printable(pool, b, strlen(b)),
                 pv_err_lookup(err)->code, why ? why : "(null)",
                 pv_err_lookup(want)->code, has);
}

#define REFUSED(b, has) \
    refused(pool, 200, b, PV_E_UPSTREAM_ERROR, has, __FILE__, __LINE__)
#define ERROR_ANSWER(status, b, want, has) \
    refused(pool, status, b, want, has, __FILE__, __LINE__)

/* |b| parses; the payment (zeroed when not). */
static pv_payment_t parsed(apr_pool_t *pool, const char *b, const char *store,
                           const char *file, int line)
{
    pv_payment_t p;
    const char *why;
    pv_err err = parse(pool, 200, b, store, &p, &why);

    check_report(err == PV_OK, file, line, "[%s]: err %s why \"%s\"",
                 check_printable(pool, b, strlen(b)), pv_err_lookup(err)->code,
                 why ? why : "(null)");
    if (err != PV_OK)
        memset(&p, 0, sizeof(p));
    return p;
}

#define PARSED(b) parsed(pool, b, NULL, __FILE__, __LINE__)

static const pv_order_t order_1000 = {"1000.00", "KRW"};

static pv_outcome outcome(const pv_payment_t *p, int sandbox_allowed,
                          const char **reason)
{
    pv_decision_t d;

    memset(&d, 0x5a, sizeof(d));
    pv_decide(p, &order_1000, sandbox_allowed, NULL, &d);
    if (reason)
        *reason = d.reason;
    CHECK(!d.claim_mismatch);
    return d.outcome;
}

TEST(portone_v2_paid)
{
    pv_payment_t p = PARSED(paid_body);
    struct json_object *again;

    CHECK_INT_EQ(p.api, PV_API_V2);
    CHECK_STR_EQ(p.imp_uid, "pay-1");
    CHECK_STR_EQ(p.merchant_uid, "pay-1");
    CHECK_STR_EQ(p.status_text, "PAID");
    CHECK_INT_EQ(p.status, PV_STATUS_PAID);
    CHECK_STR_EQ(p.amount, "1000");
    CHECK_STR_EQ(p.cancel_amount, "0");
    CHECK_STR_EQ(p.currency, "KRW");
    CHECK_STR_EQ(p.store_id, "store-a");
    CHECK_STR_EQ(p.channel_type, "LIVE");
    CHECK_INT_EQ(p.sandbox, 0);
    CHECK_INT_EQ(p.store_mismatch, 0);
    CHECK_STR_EQ(p.pay_method, "PaymentMethodCard");
    CHECK_STR_EQ(p.paid_at, "1714039200");
    CHECK(!p.vbank_num && !p.vbank_name && !p.vbank_date);
    /* the whole payment object, as JSON again */
    again = json_tokener_parse(p.response_json);
    CHECK(again && json_object_is_type(again, json_type_object)
          && json_object_object_length(again) == 19);
    CHECK_STR_HAS(p.response_json, "\"orderName\":\"주문\"");
    json_object_put(again);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PAID);
    /* the id may be any text: compared exactly */
    {
        static const char id[] = "주문/1?a#b %2F";
        const char *b = body(pool, "id", "\"주문/1?a#b %2F\"", NULL), *why;

        CHECK_INT_EQ(pv_portone_v2_parse_payment(pool, 200, b, strlen(b), id,
                                                 NULL, &p, &why), PV_OK);
        CHECK_STR_EQ(p.imp_uid, id);
    }
}

/* contract section 8: status -> pv_status -> outcome */
TEST(portone_v2_statuses)
{
    static const struct {
        const char *status;
        pv_status want;
        pv_outcome out;
    } cases[] = {
        {"PAID", PV_STATUS_PAID, PV_OUT_PAID},
        {"PARTIAL_CANCELLED", PV_STATUS_PAID, PV_OUT_PAID},
        {"READY", PV_STATUS_READY, PV_OUT_PENDING},
        {"PAY_PENDING", PV_STATUS_READY, PV_OUT_PENDING},
        {"FAILED", PV_STATUS_FAILED, PV_OUT_FAILED},
        {"CANCELLED", PV_STATUS_CANCELLED, PV_OUT_CANCELLED},
    };
    size_t i;

    for (i = 0; i < CHECK_COUNT(cases); i++) {
        const char *s = apr_psprintf(pool, "\"%s\"", cases[i].status);
        pv_payment_t p = PARSED(body(pool, "status", s, NULL));

        CHECK_STR_EQ(p.status_text, cases[i].status);
        CHECK_INT_EQ(p.status, cases[i].want);
        CHECK_INT_EQ(outcome(&p, 0, NULL), cases[i].out);
    }
    /* a partial cancellation: paid, cancel_amount = amount.cancelled */
    {
        pv_payment_t p = PARSED(body(pool, "status", "\"PARTIAL_CANCELLED\"",
                                     "amount.cancelled", "400", NULL));

        CHECK_STR_EQ(p.amount, "1000");
        CHECK_STR_EQ(p.cancel_amount, "400");
        CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PAID);
    }
}

TEST(portone_v2_unknown_status)
{
    REFUSED(body(pool, "status", "\"REFUNDED\"", NULL),
            "unknown status \"REFUNDED\"");
    REFUSED(body(pool, "status", "\"paid\"", NULL), "unknown status");
    REFUSED(body(pool, "status", "\"\"", NULL), "unknown status");
    /* the status decides first: nothing else is read */
    REFUSED(body(pool, "status", "\"NEW\"", "amount", NULL, NULL),
            "unknown status");
    REFUSED(body(pool, "status", NULL, NULL), "lacks a status");
    REFUSED(body(pool, "status", "1", NULL), "\"status\" has the wrong type");
    REFUSED(body(pool, "status", "null", NULL), "lacks a status");
}

TEST(portone_v2_virtual_account)
{
    static const char vbank[] =
        "{\"type\":\"PaymentMethodVirtualAccount\",\"bank\":\"KOOKMIN\","
        "\"accountNumber\":\"T0309260000001\",\"accountType\":\"NORMAL\","
        "\"remitteeName\":\"(주)포트원\",\"expiredAt\":\"2024-04-28T10:00:00+09:00\","
        "\"issuedAt\":\"2024-04-25T10:00:00.512Z\"}";
    pv_payment_t p = PARSED(body(pool, "status", "\"VIRTUAL_ACCOUNT_ISSUED\"",
                                 "method", vbank, "paidAt", NULL, NULL));

    CHECK_INT_EQ(p.status, PV_STATUS_READY);
    CHECK_STR_EQ(p.status_text, "VIRTUAL_ACCOUNT_ISSUED");
    CHECK_STR_EQ(p.vbank_num, "T0309260000001");
    CHECK_STR_EQ(p.vbank_name, "KOOKMIN");
    CHECK_STR_EQ(p.vbank_date, "1714266000");
    CHECK_STR_EQ(p.pay_method, "PaymentMethodVirtualAccount");
    CHECK(p.paid_at == NULL);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_VBANK_ISSUED);
    /* the deposit made: paid, the account kept */
    p = PARSED(body(pool, "method", vbank, NULL));
    CHECK_STR_EQ(p.vbank_num, "T0309260000001");
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PAID);
    /* READY and PAY_PENDING are pending whatever the method */
    p = PARSED(body(pool, "status", "\"PAY_PENDING\"", "method", vbank, NULL));
    CHECK(p.vbank_num == NULL);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PENDING);
    /* an issued account without its number is not documented */
    REFUSED(body(pool, "status", "\"VIRTUAL_ACCOUNT_ISSUED\"", "method", vbank,
                 "method.accountNumber", NULL, NULL), "virtual account number");
    REFUSED(body(pool, "status", "\"VIRTUAL_ACCOUNT_ISSUED\"", "method", vbank,
                 "method.accountNumber", "\"\"", NULL), "virtual account number");
    REFUSED(body(pool, "status", "\"VIRTUAL_ACCOUNT_ISSUED\"", NULL),
            "virtual account number");
    REFUSED(body(pool, "status", "\"VIRTUAL_ACCOUNT_ISSUED\"", "method", NULL,
                 NULL), "virtual account number");
    REFUSED(body(pool, "method", vbank, "method.accountNumber", "12", NULL),
            "\"accountNumber\" has the wrong type");
    REFUSED(body(pool, "method", vbank, "method.expiredAt", "\"tomorrow\"",
                 NULL), "\"expiredAt\" is not an RFC 3339");
    REFUSED(body(pool, "method", "\"card\"", NULL), "\"method\" is not an object");
    REFUSED(body(pool, "method.type", "7", NULL), "\"type\" has the wrong type");
}

/* channel.type: TEST is the sandbox; the channel may be absent for READY
 * and FAILED only. */
TEST(portone_v2_channel)
{
    pv_payment_t p = PARSED(body(pool, "channel.type", "\"TEST\"", NULL));
    const char *reason = NULL;

    CHECK_STR_EQ(p.channel_type, "TEST");
    CHECK_INT_EQ(p.sandbox, 1);
    CHECK_INT_EQ(outcome(&p, 0, &reason), PV_OUT_FORGERY);
    CHECK_STR_HAS(reason, "PortOneSandbox");
    CHECK_INT_EQ(outcome(&p, 1, &reason), PV_OUT_PAID);
    CHECK(reason == NULL);
    /* a cancelled test payment is still a forgery */
    p = PARSED(body(pool, "channel.type", "\"TEST\"", "status", "\"CANCELLED\"",
                    NULL));
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FORGERY);

    p = PARSED(body(pool, "status", "\"READY\"", "channel", NULL, NULL));
    CHECK(p.channel_type == NULL);
    CHECK_INT_EQ(p.sandbox, 0);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PENDING);
    p = PARSED(body(pool, "status", "\"FAILED\"", "channel", "null", NULL));
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FAILED);

    REFUSED(body(pool, "channel", NULL, NULL), "a PAID payment lacks its channel");
    REFUSED(body(pool, "status", "\"PAY_PENDING\"", "channel", NULL, NULL),
            "lacks its channel");
    REFUSED(body(pool, "status", "\"CANCELLED\"", "channel", NULL, NULL),
            "lacks its channel");
    REFUSED(body(pool, "channel.type", NULL, NULL), "neither LIVE nor TEST");
    REFUSED(body(pool, "channel.type", "\"live\"", NULL), "neither LIVE nor TEST");
    REFUSED(body(pool, "channel.type", "\"SANDBOX\"", NULL),
            "neither LIVE nor TEST");
    REFUSED(body(pool, "channel.type", "true", NULL), "has the wrong type");
    REFUSED(body(pool, "channel", "\"LIVE\"", NULL), "not an object");
    /* a READY payment's channel, when given, is read all the same */
    REFUSED(body(pool, "status", "\"READY\"", "channel.type", "\"X\"", NULL),
            "neither LIVE nor TEST");
}

/* storeId against the configured store: a forgery when it differs. */
TEST(portone_v2_store)
{
    pv_payment_t p = parsed(pool, paid_body, "store-a", __FILE__, __LINE__);
    const char *reason = NULL;

    CHECK_INT_EQ(p.store_mismatch, 0);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PAID);
    p = parsed(pool, paid_body, "store-b", __FILE__, __LINE__);
    CHECK_INT_EQ(p.store_mismatch, 1);
    CHECK_INT_EQ(outcome(&p, 1, &reason), PV_OUT_FORGERY);
    CHECK_STR_HAS(reason, "storeId");
    /* none configured: not compared */
    p = PARSED(body(pool, "storeId", "\"store-z\"", NULL));
    CHECK_INT_EQ(p.store_mismatch, 0);
    CHECK_STR_EQ(p.store_id, "store-z");
    REFUSED(body(pool, "storeId", NULL, NULL), "lacks storeId");
    REFUSED(body(pool, "storeId", "5", NULL), "\"storeId\" has the wrong type");
    REFUSED(body(pool, "storeId", "\"store-a\\u0000x\"", NULL),
            "has the wrong type");
}

TEST(portone_v2_id)
{
    REFUSED(body(pool, "id", "\"pay-2\"", NULL), "another paymentId");
    REFUSED(body(pool, "id", "\"pay-1 \"", NULL), "another paymentId");
    REFUSED(body(pool, "id", "\"PAY-1\"", NULL), "another paymentId");
    REFUSED(body(pool, "id", "\"pay-1\\u0000\"", NULL), "has the wrong type");
    REFUSED(body(pool, "id", NULL, NULL), "lacks its id");
    REFUSED(body(pool, "id", "1", NULL), "\"id\" has the wrong type");
}

/* amount.total and amount.cancelled: non-negative integers, exact. */
TEST(portone_v2_amounts)
{
    pv_payment_t p = PARSED(body(pool, "amount.total", "9223372036854775806",
                                 NULL));

    CHECK_STR_EQ(p.amount, "9223372036854775806");
    p = PARSED(body(pool, "amount.total", "0", NULL));
    CHECK_STR_EQ(p.amount, "0");
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FORGERY);
    p = PARSED(body(pool, "amount.total", "999", NULL));
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FORGERY);

    REFUSED(body(pool, "amount.total", "1000.0", NULL), "is not an integer");
    REFUSED(body(pool, "amount.total", "1e3", NULL), "is not an integer");
    REFUSED(body(pool, "amount.total", "\"1000\"", NULL), "is not an integer");
    REFUSED(body(pool, "amount.total", "-1000", NULL), "is negative");
    REFUSED(body(pool, "amount.total", "true", NULL), "is not an integer");
    REFUSED(body(pool, "amount.total", NULL, NULL), "amount.total or");
    REFUSED(body(pool, "amount.total", "null", NULL), "amount.total or");
    REFUSED(body(pool, "amount.cancelled", NULL, NULL), "amount.cancelled");
    REFUSED(body(pool, "amount.cancelled", "1.5", NULL), "is not an integer");
    REFUSED(body(pool, "amount", NULL, NULL), "amount.total or");
    REFUSED(body(pool, "amount", "1000", NULL), "\"amount\" is not an object");
    REFUSED(body(pool, "currency", NULL, NULL), "or currency");
    REFUSED(body(pool, "currency", "410", NULL), "has the wrong type");
}

/* json-c saturates an integer beyond 64 bits: its value is unknown. */
TEST(portone_v2_amount_beyond_64_bits)
{
    static const char *const big[] = {"99999999999999999999",
                                      "9223372036854775807",
                                      "18446744073709551615"};
    size_t i;

    for (i = 0; i < CHECK_COUNT(big); i++) {
        const char *b = apr_pstrcat(pool, "{\"status\":\"PAID\",\"id\":\"pay-1\","
                                    "\"storeId\":\"s\",\"channel\":{\"type\":"
                                    "\"LIVE\"},\"currency\":\"KRW\",\"amount\":"
                                    "{\"cancelled\":0,\"total\":", big[i], "}}",
                                    NULL);

        REFUSED(b, "beyond 64 bits");
    }
}

TEST(portone_v2_not_json)
{
    REFUSED("", "not a JSON object");
    REFUSED("null", "not a JSON object");
    REFUSED("[]", "not a JSON object");
    REFUSED("<html>502</html>", "not a JSON object");
    REFUSED("{\"status\":\"PAID\"", "not a JSON object");
    REFUSED(body(pool, "paidAt", "1714039200", NULL), "has the wrong type");
    REFUSED(body(pool, "paidAt", "\"2024-04-25\"", NULL), "RFC 3339");
}

/* {"type": "...", "message"?} error answers */
TEST(portone_v2_error_answers)
{
    ERROR_ANSWER(404, "{\"type\":\"PAYMENT_NOT_FOUND\",\"message\":\"없음\"}",
                 PV_E_PAYMENT_NOT_FOUND, "PAYMENT_NOT_FOUND");
    ERROR_ANSWER(404, "{\"type\":\"PAYMENT_NOT_FOUND\"}",
                 PV_E_PAYMENT_NOT_FOUND, "404");
    /* another 404 (a wrong PortOneV2URL) is not a missing payment */
    ERROR_ANSWER(404, "{\"type\":\"NOT_FOUND\",\"message\":\"Not Found\"}",
                 PV_E_UPSTREAM_ERROR, "HTTP 404 NOT_FOUND: Not Found");
    ERROR_ANSWER(404, "<html>Not Found</html>", PV_E_UPSTREAM_ERROR,
                 "(no type)");
    ERROR_ANSWER(404, "", PV_E_UPSTREAM_ERROR, "HTTP 404");
    ERROR_ANSWER(404, "{\"type\":\"PAYMENT_NOT_FOUND\\u0000\"}",
                 PV_E_UPSTREAM_ERROR, "HTTP 404");
    ERROR_ANSWER(401, "{\"type\":\"UNAUTHORIZED\",\"message\":\"x\"}",
                 PV_E_UPSTREAM_AUTH_FAILED, "PortOneV2Secret");
    ERROR_ANSWER(403, "{\"type\":\"FORBIDDEN\"}", PV_E_UPSTREAM_AUTH_FAILED,
                 "HTTP 403 FORBIDDEN");
    ERROR_ANSWER(401, "", PV_E_UPSTREAM_AUTH_FAILED, "HTTP 401");
    ERROR_ANSWER(400, "{\"type\":\"INVALID_REQUEST\"}", PV_E_UPSTREAM_ERROR,
                 "HTTP 400 INVALID_REQUEST");
    ERROR_ANSWER(500, "{\"type\":\"INTERNAL\"}", PV_E_UPSTREAM_ERROR, "HTTP 500");
    ERROR_ANSWER(201, paid_body, PV_E_UPSTREAM_ERROR, "HTTP 201");
    ERROR_ANSWER(0, "", PV_E_UPSTREAM_ERROR, "HTTP 0");
}

static void time_is(const char *s, long long want, const char *file, int line)
{
    long long t = 0;
    int rc = pv_portone_v2_time(s, &t);

    check_report(rc == 0 && t == want, file, line, "\"%s\": rc %d, %lld, want "
                 "%lld", s, rc, t, want);
}

#define TIME_IS(s, want) time_is(s, want, __FILE__, __LINE__)

TEST(portone_v2_time)
{
    static const char *const bad[] = {
        "", "2024-04-25", "2024-04-25T10:00:00", "2024-04-25 10:00:00Z",
        "2024-04-25T10:00:00.Z", "2024-04-25T10:00:00ZZ", "2024-04-25T10:00Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z", "2024-04-25T24:00:00Z",
        "2024-04-25T10:60:00Z", "2024-04-25T10:00:61Z", "2024-04-25T10:00:00+0900",
        "2024-04-25T10:00:00+24:00", "+2024-04-25T10:00:00Z", "2024-4-25T10:00:00Z",
        "2024-04-25T10:00:00 Z",
    };
    long long t;
    size_t i;

    TIME_IS("1970-01-01T00:00:00Z", 0);
    TIME_IS("2024-04-25T10:00:00.290Z", 1714039200);
    TIME_IS("2024-04-25t10:00:00.999999999z", 1714039200);
    TIME_IS("2024-04-25T19:00:00+09:00", 1714039200);
    TIME_IS("2024-04-25T10:00:00-02:30", 1714048200);
    TIME_IS("2024-04-28T10:00:00+09:00", 1714266000);
    TIME_IS("2000-02-29T00:00:00Z", 951782400);
    TIME_IS("1969-12-31T23:59:59Z", -1);
    TIME_IS("0001-01-01T00:00:00Z", -62135596800LL);
    TIME_IS("9999-12-31T23:59:59Z", 253402300799LL);
    for (i = 0; i < CHECK_COUNT(bad); i++)
        check_report(pv_portone_v2_time(bad[i], &t) == -1, __FILE__, __LINE__,
                     "\"%s\" read as a date-time", bad[i]);
    CHECK_INT_EQ(pv_portone_v2_time(NULL, &t), -1);
}
