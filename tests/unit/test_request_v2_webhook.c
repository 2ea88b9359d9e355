/* pv_request_parse_v2_webhook: the bodies of V2 webhooks, versions
 * 2024-04-25 and 2024-01-01 (contract section 8). */
#include "check.h"

#include <apr_strings.h>

#include "pv_request.h"

#define A10 "pay-012345"
#define P128 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 "가나다라마바사아"

static pv_err hook(apr_pool_t *pool, const char *body, size_t len,
                   pv_v2_webhook_t *out, const char **why)
{
    return pv_request_parse_v2_webhook(pool, body, len, out, why);
}

/* |lit| is refused as invalid_request with |has| in the reason. */
static void refused(apr_pool_t *pool, const char *body, size_t len,
                    const char *has, const char *file, int line)
{
    pv_v2_webhook_t h;
    const char *why = NULL;
    pv_err err = hook(pool, body, len, &h, &why);

    check_report(err == PV_E_INVALID_REQUEST && why && strstr(why, has), file,
                 line, "[%.*s]: err %s why \"%s\", want invalid_request with "
                 "\"%s\"", (int)len, body, pv_err_lookup(err)->code,
                 why ? why : "(null)", has);
}

#define REFUSED(lit, has) \
    refused(pool, lit, sizeof(lit) - 1, has, __FILE__, __LINE__)

#define PARSE(lit, h, why) hook(pool, lit, sizeof(lit) - 1, h, why)

TEST(v2_webhook_2024_04_25_transaction)
{
    pv_v2_webhook_t h;
    const char *why = NULL;

    CHECK_INT_EQ(PARSE("{\"type\":\"Transaction.Paid\",\"timestamp\":"
                       "\"2024-04-25T10:00:00.000Z\",\"data\":{\"storeId\":"
                       "\"store-1\",\"paymentId\":\"pay-1\",\"transactionId\":"
                       "\"tx-1\"}}", &h, &why), PV_OK);
    CHECK(why == NULL);
    CHECK_STR_EQ(h.type, "Transaction.Paid");
    CHECK_STR_EQ(h.payment_id, "pay-1");
    CHECK_STR_EQ(h.transaction_id, "tx-1");
    CHECK_STR_EQ(h.store_id, "store-1");
    CHECK(h.status == NULL);
    CHECK_INT_EQ(h.ignored, 0);
    /* any Transaction.* type; unknown members ignored; storeId optional */
    CHECK_INT_EQ(PARSE("{\"type\":\"Transaction.VirtualAccountIssued\","
                       "\"data\":{\"paymentId\":\"주문 1/2\",\"cancellationId\":"
                       "\"c-1\"},\"extra\":[1]}", &h, &why), PV_OK);
    CHECK_STR_EQ(h.payment_id, "주문 1/2");
    CHECK(h.store_id == NULL && h.transaction_id == NULL);
    CHECK_INT_EQ(PARSE("{\"type\":\"Transaction.Cancelled\",\"data\":"
                       "{\"paymentId\":\"" P128 "\"}}", &h, &why), PV_OK);
    CHECK_STR_EQ(h.payment_id, P128);
}

TEST(v2_webhook_other_types_are_ignored)
{
    pv_v2_webhook_t h;
    const char *why = NULL;

    CHECK_INT_EQ(PARSE("{\"type\":\"BillingKey.Issued\",\"data\":"
                       "{\"billingKey\":\"b-1\"}}", &h, &why), PV_OK);
    CHECK_INT_EQ(h.ignored, 1);
    CHECK(h.payment_id == NULL);
    CHECK_STR_EQ(h.type, "BillingKey.Issued");
    /* no data needed for an ignored type; "Transaction" alone is not one */
    CHECK_INT_EQ(PARSE("{\"type\":\"Transaction\"}", &h, &why), PV_OK);
    CHECK_INT_EQ(h.ignored, 1);
    CHECK_INT_EQ(PARSE("{\"type\":\"transaction.Paid\"}", &h, &why), PV_OK);
    CHECK_INT_EQ(h.ignored, 1);
}

TEST(v2_webhook_2024_01_01)
{
    pv_v2_webhook_t h;
    const char *why = NULL;

    CHECK_INT_EQ(PARSE("{\"payment_id\":\"pay-1\",\"tx_id\":\"tx-1\","
                       "\"status\":\"Paid\"}", &h, &why), PV_OK);
    CHECK_STR_EQ(h.payment_id, "pay-1");
    CHECK_STR_EQ(h.transaction_id, "tx-1");
    CHECK_STR_EQ(h.status, "Paid");
    CHECK(h.type == NULL);
    CHECK_INT_EQ(h.ignored, 0);
    CHECK_INT_EQ(PARSE("{\"payment_id\":\"pay-2\"}", &h, &why), PV_OK);
    CHECK_STR_EQ(h.payment_id, "pay-2");
    CHECK(h.status == NULL && h.transaction_id == NULL);
    /* empty or null optional members are absent */
    CHECK_INT_EQ(PARSE("{\"payment_id\":\"pay-3\",\"tx_id\":\"\","
                       "\"status\":null}", &h, &why), PV_OK);
    CHECK(h.status == NULL && h.transaction_id == NULL);
}

TEST(v2_webhook_refused)
{
    pv_v2_webhook_t h;
    const char *why = NULL;

    REFUSED("{\"type\":\"Transaction.Paid\"}", "data is missing");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":null}", "data is missing");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":[]}", "data is not an object");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":{}}",
            "data.paymentId is missing");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":{\"paymentId\":\"\"}}",
            "data.paymentId is missing");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":{\"paymentId\":7}}",
            "data.paymentId is not a string");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":{\"paymentId\":"
            "\"" P128 "x\"}}", "data.paymentId is longer than 128 characters");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":{\"paymentId\":"
            "\"a\\nb\"}}", "control character");
    REFUSED("{\"type\":\"Transaction.Paid\",\"data\":{\"paymentId\":\"p\","
            "\"storeId\":1}}", "data.storeId is not a string");
    REFUSED("{\"type\":1}", "type is not a string");
    REFUSED("{\"type\":\"\"}", "type is empty");
    REFUSED("{\"payment_id\":\"\"}", "neither type");
    REFUSED("{\"payment_id\":5}", "payment_id is not a string");
    REFUSED("{\"payment_id\":\"a\\u0000b\"}", "control character");
    REFUSED("{}", "neither type");
    REFUSED("{\"paymentId\":\"pay-1\"}", "neither type");
    REFUSED("", "empty");
    REFUSED("{\"payment_id\":\"pay-1\"", "not valid JSON");
    REFUSED("[1]", "not a JSON object");
    REFUSED("{\"payment_id\":\"pay-1\"}\0", "NUL");
    REFUSED("{\"payment_id\":\"\xff\"}", "UTF-8");
    /* over the body cap */
    {
        size_t n = PV_BODY_MAX + 1;
        char *big = apr_palloc(pool, n);

        memset(big, ' ', n);
        CHECK_INT_EQ(hook(pool, big, n, &h, &why), PV_E_PAYLOAD_TOO_LARGE);
    }
}
