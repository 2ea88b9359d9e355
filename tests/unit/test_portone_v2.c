/* pv_portone_v2: PortOne V2 GET /payments/{paymentId} answers mapped to
 * pv_payment_t (portone-api.md 2.2, contract section 8), and what pv_decide
 * makes of them. */
#include "check.h"

#include <apr_strings.h>
#include <stddef.h>
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

/* paid_body with each (dotted path, JSON text) pair of |kv| applied, up to
 * a NULL path; a NULL text removes the member. */
static const char *body(apr_pool_t *pool, const char *const *kv)
{
    struct json_object *root = json_tokener_parse(paid_body);
    const char *out;

    for (; kv[0]; kv += 2) {
        struct json_object *obj = root;
        char *p = apr_pstrdup(pool, kv[0]), *dot;

        while ((dot = strchr(p, '.'))) {
            *dot = '\0';
            json_object_object_get_ex(obj, p, &obj);
            p = dot + 1;
        }
        if (kv[1])
            json_object_object_add(obj, p, json_tokener_parse(kv[1]));
        else
            json_object_object_del(obj, p);
    }
    out = apr_pstrdup(pool, json_object_to_json_string_ext(
                                root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return out;
}

#define BODY(...) body(pool, (const char *const[]){__VA_ARGS__, NULL})

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

/* What paid_body reads as (response_json aside). */
static const pv_payment_t paid = {
    .imp_uid = "pay-1", .merchant_uid = "pay-1", .status_text = "PAID",
    .status = PV_STATUS_PAID, .amount = "1000", .cancel_amount = "0",
    .currency = "KRW", .pay_method = "PaymentMethodCard",
    .paid_at = "1714039200", .api = PV_API_V2, .store_id = "store-a",
    .channel_type = "LIVE",
};

/* |got| is |want|, response_json aside: each text (NULL only equal to
 * NULL) and number. */
static void same(const pv_payment_t *got, const pv_payment_t *want,
                 const char *file, int line)
{
#define TEXT(m) {#m, offsetof(pv_payment_t, m)}
    static const struct {
        const char *name;
        size_t offset;
    } texts[] = {
        TEXT(imp_uid), TEXT(merchant_uid), TEXT(status_text), TEXT(amount),
        TEXT(cancel_amount), TEXT(currency), TEXT(pay_method), TEXT(paid_at),
        TEXT(vbank_num), TEXT(vbank_name), TEXT(vbank_date), TEXT(store_id),
        TEXT(channel_type),
    };
#undef TEXT
    size_t i;

    for (i = 0; i < CHECK_COUNT(texts); i++) {
        const char *g = *(const char *const *)((const char *)got
                                               + texts[i].offset);
        const char *w = *(const char *const *)((const char *)want
                                               + texts[i].offset);

        check_report(g && w ? !strcmp(g, w) : g == w, file, line,
                     "%s: \"%s\", want \"%s\"", texts[i].name,
                     g ? g : "(null)", w ? w : "(null)");
    }
    check_report(got->status == want->status && got->api == want->api
                 && got->sandbox == want->sandbox
                 && got->store_mismatch == want->store_mismatch, file, line,
                 "status %d api %d sandbox %d store_mismatch %d, want %d %d "
                 "%d %d", (int)got->status, (int)got->api, got->sandbox,
                 got->store_mismatch, (int)want->status, (int)want->api,
                 want->sandbox, want->store_mismatch);
}

#define SAME(got, want) same(got, want, __FILE__, __LINE__)

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

    SAME(&p, &paid);
    /* the whole payment object, as JSON again, written when asked */
    CHECK(!p.response_json);
    pv_payment_response_json(pool, &p);
    again = json_tokener_parse(p.response_json);
    CHECK(again && json_object_is_type(again, json_type_object)
          && json_object_object_length(again) == 19);
    CHECK_STR_HAS(p.response_json, "\"orderName\":\"주문\"");
    json_object_put(again);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PAID);
    /* the id may be any text: compared exactly */
    {
        static const char id[] = "주문/1?a#b %2F";
        const char *b = BODY("id", "\"주문/1?a#b %2F\""), *why;

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
        pv_payment_t p = PARSED(BODY("status", s));

        CHECK_STR_EQ(p.status_text, cases[i].status);
        CHECK_INT_EQ(p.status, cases[i].want);
        CHECK_INT_EQ(outcome(&p, 0, NULL), cases[i].out);
    }
    /* a partial cancellation: paid, cancel_amount = amount.cancelled */
    {
        pv_payment_t p = PARSED(BODY("status", "\"PARTIAL_CANCELLED\"",
                                     "amount.cancelled", "400"));

        CHECK_STR_EQ(p.amount, "1000");
        CHECK_STR_EQ(p.cancel_amount, "400");
        CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PAID);
    }
}

TEST(portone_v2_unknown_status)
{
    REFUSED(BODY("status", "\"REFUNDED\""),
            "unknown status \"REFUNDED\"");
    REFUSED(BODY("status", "\"paid\""), "unknown status");
    REFUSED(BODY("status", "\"\""), "unknown status");
    /* the status decides first: nothing else is read */
    REFUSED(BODY("status", "\"NEW\"", "amount", NULL),
            "unknown status");
    REFUSED(BODY("status", NULL), "lacks a status");
    REFUSED(BODY("status", "1"), "\"status\" has the wrong type");
    REFUSED(BODY("status", "null"), "lacks a status");
}

TEST(portone_v2_virtual_account)
{
    static const char vbank[] =
        "{\"type\":\"PaymentMethodVirtualAccount\",\"bank\":\"KOOKMIN\","
        "\"accountNumber\":\"T0309260000001\",\"accountType\":\"NORMAL\","
        "\"remitteeName\":\"(주)포트원\",\"expiredAt\":\"2024-04-28T10:00:00+09:00\","
        "\"issuedAt\":\"2024-04-25T10:00:00.512Z\"}";
    pv_payment_t p = PARSED(BODY("status", "\"VIRTUAL_ACCOUNT_ISSUED\"",
                                 "method", vbank, "paidAt", NULL));
    pv_payment_t want = paid;

    want.status = PV_STATUS_READY;
    want.status_text = "VIRTUAL_ACCOUNT_ISSUED";
    want.vbank_num = "T0309260000001";
    want.vbank_name = "KOOKMIN";
    want.vbank_date = "1714266000";
    want.pay_method = "PaymentMethodVirtualAccount";
    want.paid_at = NULL;
    SAME(&p, &want);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_VBANK_ISSUED);
    /* the deposit made: paid, the account kept */
    p = PARSED(BODY("method", vbank));
    CHECK_STR_EQ(p.vbank_num, "T0309260000001");
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PAID);
    /* READY and PAY_PENDING are pending whatever the method */
    p = PARSED(BODY("status", "\"PAY_PENDING\"", "method", vbank));
    CHECK(p.vbank_num == NULL);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PENDING);
    /* an issued account without its number is not documented */
    REFUSED(BODY("status", "\"VIRTUAL_ACCOUNT_ISSUED\"", "method", vbank,
                 "method.accountNumber", NULL), "virtual account number");
    REFUSED(BODY("status", "\"VIRTUAL_ACCOUNT_ISSUED\"", "method", vbank,
                 "method.accountNumber", "\"\""), "virtual account number");
    REFUSED(BODY("status", "\"VIRTUAL_ACCOUNT_ISSUED\""),
            "virtual account number");
    REFUSED(BODY("status", "\"VIRTUAL_ACCOUNT_ISSUED\"", "method", NULL),
            "virtual account number");
    REFUSED(BODY("method", vbank, "method.accountNumber", "12"),
            "\"accountNumber\" has the wrong type");
    REFUSED(BODY("method", vbank, "method.expiredAt", "\"tomorrow\""),
            "\"expiredAt\" is not an RFC 3339");
    REFUSED(BODY("method", "\"card\""), "\"method\" is not an object");
    REFUSED(BODY("method.type", "7"), "\"type\" has the wrong type");
}

/* channel.type: TEST is the sandbox; the channel may be absent for READY
 * and FAILED only. */
TEST(portone_v2_channel)
{
    pv_payment_t p = PARSED(BODY("channel.type", "\"TEST\""));
    const char *reason = NULL;

    CHECK_STR_EQ(p.channel_type, "TEST");
    CHECK_INT_EQ(p.sandbox, 1);
    CHECK_INT_EQ(outcome(&p, 0, &reason), PV_OUT_FORGERY);
    CHECK_STR_HAS(reason, "PortOneSandbox");
    CHECK_INT_EQ(outcome(&p, 1, &reason), PV_OUT_PAID);
    CHECK(reason == NULL);
    /* a cancelled test payment is still a forgery */
    p = PARSED(BODY("channel.type", "\"TEST\"", "status", "\"CANCELLED\""));
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FORGERY);

    p = PARSED(BODY("status", "\"READY\"", "channel", NULL));
    CHECK(p.channel_type == NULL);
    CHECK_INT_EQ(p.sandbox, 0);
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_PENDING);
    p = PARSED(BODY("status", "\"FAILED\"", "channel", "null"));
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FAILED);

    REFUSED(BODY("channel", NULL), "a PAID payment lacks its channel");
    REFUSED(BODY("status", "\"PAY_PENDING\"", "channel", NULL),
            "lacks its channel");
    REFUSED(BODY("status", "\"CANCELLED\"", "channel", NULL),
            "lacks its channel");
    REFUSED(BODY("channel.type", NULL), "neither LIVE nor TEST");
    REFUSED(BODY("channel.type", "\"live\""), "neither LIVE nor TEST");
    REFUSED(BODY("channel.type", "\"SANDBOX\""),
            "neither LIVE nor TEST");
    REFUSED(BODY("channel.type", "true"), "has the wrong type");
    REFUSED(BODY("channel", "\"LIVE\""), "not an object");
    /* a READY payment's channel, when given, is read all the same */
    REFUSED(BODY("status", "\"READY\"", "channel.type", "\"X\""),
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
    p = PARSED(BODY("storeId", "\"store-z\""));
    CHECK_INT_EQ(p.store_mismatch, 0);
    CHECK_STR_EQ(p.store_id, "store-z");
    REFUSED(BODY("storeId", NULL), "lacks storeId");
    REFUSED(BODY("storeId", "5"), "\"storeId\" has the wrong type");
    REFUSED(BODY("storeId", "\"store-a\\u0000x\""),
            "has the wrong type");
}

TEST(portone_v2_id)
{
    REFUSED(BODY("id", "\"pay-2\""), "another paymentId");
    REFUSED(BODY("id", "\"pay-1 \""), "another paymentId");
    REFUSED(BODY("id", "\"PAY-1\""), "another paymentId");
    REFUSED(BODY("id", "\"pay-1\\u0000\""), "has the wrong type");
    REFUSED(BODY("id", NULL), "lacks its id");
    REFUSED(BODY("id", "1"), "\"id\" has the wrong type");
}

/* amount.total and amount.cancelled: non-negative integers, exact. */
TEST(portone_v2_amounts)
{
    pv_payment_t p = PARSED(BODY("amount.total", "9223372036854775806"));

    CHECK_STR_EQ(p.amount, "9223372036854775806");
    p = PARSED(BODY("amount.total", "0"));
    CHECK_STR_EQ(p.amount, "0");
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FORGERY);
    p = PARSED(BODY("amount.total", "999"));
    CHECK_INT_EQ(outcome(&p, 0, NULL), PV_OUT_FORGERY);

    REFUSED(BODY("amount.total", "1000.0"), "is not an integer");
    REFUSED(BODY("amount.total", "1e3"), "is not an integer");
    REFUSED(BODY("amount.total", "\"1000\""), "is not an integer");
    REFUSED(BODY("amount.total", "-1000"), "is negative");
    REFUSED(BODY("amount.total", "true"), "is not an integer");
    REFUSED(BODY("amount.total", NULL), "amount.total or");
    REFUSED(BODY("amount.total", "null"), "amount.total or");
    REFUSED(BODY("amount.cancelled", NULL), "amount.cancelled");
    REFUSED(BODY("amount.cancelled", "1.5"), "is not an integer");
    REFUSED(BODY("amount", NULL), "amount.total or");
    REFUSED(BODY("amount", "1000"), "\"amount\" is not an object");
    REFUSED(BODY("currency", NULL), "or currency");
    REFUSED(BODY("currency", "410"), "has the wrong type");
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
    REFUSED(BODY("paidAt", "1714039200"), "has the wrong type");
    REFUSED(BODY("paidAt", "\"2024-04-25\""), "RFC 3339");
}

/* {"type": "...", "message"?} error answers */
TEST(portone_v2_error_answers)
{
    static const struct {
        long status;
        const char *body;
        pv_err want;
        const char *has;
    } cases[] = {
        {404, "{\"type\":\"PAYMENT_NOT_FOUND\",\"message\":\"없음\"}",
         PV_E_PAYMENT_NOT_FOUND, "PAYMENT_NOT_FOUND"},
        {404, "{\"type\":\"PAYMENT_NOT_FOUND\"}", PV_E_PAYMENT_NOT_FOUND, "404"},
        /* another 404 (a wrong PortOneV2URL) is not a missing payment */
        {404, "{\"type\":\"NOT_FOUND\",\"message\":\"Not Found\"}",
         PV_E_UPSTREAM_ERROR, "HTTP 404 NOT_FOUND: Not Found"},
        {404, "<html>Not Found</html>", PV_E_UPSTREAM_ERROR, "(no type)"},
        {404, "", PV_E_UPSTREAM_ERROR, "HTTP 404"},
        {404, "{\"type\":\"PAYMENT_NOT_FOUND\\u0000\"}", PV_E_UPSTREAM_ERROR,
         "HTTP 404"},
        {401, "{\"type\":\"UNAUTHORIZED\",\"message\":\"x\"}",
         PV_E_UPSTREAM_AUTH_FAILED, "PortOneV2Secret"},
        {403, "{\"type\":\"FORBIDDEN\"}", PV_E_UPSTREAM_AUTH_FAILED,
         "HTTP 403 FORBIDDEN"},
        {401, "", PV_E_UPSTREAM_AUTH_FAILED, "HTTP 401"},
        {400, "{\"type\":\"INVALID_REQUEST\"}", PV_E_UPSTREAM_ERROR,
         "HTTP 400 INVALID_REQUEST"},
        {500, "{\"type\":\"INTERNAL\"}", PV_E_UPSTREAM_ERROR, "HTTP 500"},
        {201, paid_body, PV_E_UPSTREAM_ERROR, "HTTP 201"},
        {0, "", PV_E_UPSTREAM_ERROR, "HTTP 0"},
    };
    size_t i;

    for (i = 0; i < CHECK_COUNT(cases); i++)
        refused(pool, cases[i].status, cases[i].body, cases[i].want,
                cases[i].has, __FILE__, __LINE__);
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
