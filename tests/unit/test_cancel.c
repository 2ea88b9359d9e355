/* PortOneCancelForgery in the pure layer: what is left to cancel (exact
 * decimals), which forgeries are cancelled and when a record claims or
 * settles the cancel (pv_decide), the cancel requests V1 and V2 build and
 * how their answers are read (portone-api.md 1.5 and 2.2b). */
#include "check.h"

#include <apr_strings.h>
#include <json-c/json.h>

#include "pv_decide.h"
#include "pv_decimal.h"
#include "pv_portone.h"
#include "pv_portone_v2.h"

/* ---- what is left ---- */

static const char *left(const char *a, const char *b)
{
    static char out[128];

    return pv_decimal_subtract(a, b, out, sizeof(out)) ? NULL : out;
}

TEST(cancel_remainder_is_exact)
{
    CHECK_STR_EQ(left("10000", "0"), "10000");
    CHECK_STR_EQ(left("10000", "3000"), "7000");
    CHECK_STR_EQ(left("10000.00", "0"), "10000");
    CHECK_STR_EQ(left("12.50", "2.5"), "10");
    CHECK_STR_EQ(left("10.25", "0.1"), "10.15");
    CHECK_STR_EQ(left("0.3", "0.1"), "0.2");   /* not 0.19999... */
    CHECK_STR_EQ(left("100", "0.01"), "99.99");
    CHECK_STR_EQ(left("0.05", "0"), "0.05");
    CHECK_STR_EQ(left("1e4", "1"), "9999");
    CHECK_STR_EQ(left("1E3", "2e2"), "800");
    CHECK_STR_EQ(left("10000", "10000"), "0");
}

TEST(cancel_remainder_refuses_what_is_not_a_remainder)
{
    char small[4];

    CHECK(left("5", "6") == NULL);           /* more cancelled than paid */
    CHECK(left("-1", "0") == NULL);
    CHECK(left("10", "-1") == NULL);
    CHECK(left("abc", "0") == NULL);
    CHECK(left(NULL, "0") == NULL);
    CHECK(left("1e300", "0") == NULL);        /* does not fit */
    CHECK_INT_EQ(pv_decimal_subtract("10000", "0", small, sizeof(small)), -1);
}

/* ---- which forgeries, and the record ---- */

static pv_payment_t payment(pv_status status, const char *amount,
                            const char *cancelled)
{
    pv_payment_t p;

    memset(&p, 0, sizeof(p));
    p.imp_uid = "imp_1";
    p.merchant_uid = "o1";
    p.status = status;
    p.amount = amount;
    p.cancel_amount = cancelled;
    p.currency = "KRW";
    return p;
}

static pv_decision_t decided(pv_outcome outcome, int mismatch)
{
    pv_decision_t d;

    memset(&d, 0, sizeof(d));
    d.outcome = outcome;
    d.claim_mismatch = mismatch;
    return d;
}

TEST(cancel_intent_only_for_a_forgery_of_its_own_order)
{
    pv_payment_t paid = payment(PV_STATUS_PAID, "9000", "0");
    pv_payment_t part = payment(PV_STATUS_PAID, "9000", "3000");
    pv_payment_t all = payment(PV_STATUS_PAID, "9000", "9000");
    pv_payment_t ready = payment(PV_STATUS_READY, "9000", "0");
    pv_payment_t failed = payment(PV_STATUS_FAILED, "9000", "0");
    pv_payment_t cancelled = payment(PV_STATUS_CANCELLED, "9000", "9000");
    pv_decision_t forgery = decided(PV_OUT_FORGERY, 0);

    CHECK_INT_EQ(pv_refund_intent_of(&paid, &forgery), PV_INTENT_CANCEL);
    CHECK_INT_EQ(pv_refund_intent_of(&part, &forgery), PV_INTENT_CANCEL);
    /* nothing left, or not paid: nothing to give back */
    CHECK_INT_EQ(pv_refund_intent_of(&all, &forgery), PV_INTENT_NONE);
    CHECK_INT_EQ(pv_refund_intent_of(&ready, &forgery), PV_INTENT_NONE);
    CHECK_INT_EQ(pv_refund_intent_of(&failed, &forgery), PV_INTENT_NONE);
    CHECK_INT_EQ(pv_refund_intent_of(&cancelled, &forgery), PV_INTENT_SETTLE);
    /* a claim naming another order is not a wrong payment */
    {
        pv_decision_t claim = decided(PV_OUT_FORGERY, 1);
        pv_decision_t genuine = decided(PV_OUT_PAID, 1);

        CHECK_INT_EQ(pv_refund_intent_of(&paid, &claim), PV_INTENT_NONE);
        CHECK_INT_EQ(pv_refund_intent_of(&paid, &genuine), PV_INTENT_NONE);
    }
    {
        pv_decision_t ok = decided(PV_OUT_PAID, 0);

        CHECK_INT_EQ(pv_refund_intent_of(&paid, &ok), PV_INTENT_NONE);
    }
}

/* An order whose amount is not a number (NULL, "10,000", a money type's
 * "$10,000.00") says nothing about the payment: it is a forgery (never
 * recorded paid), but its money is not given back, since nothing shows that
 * PortOne took a wrong amount. */
TEST(cancel_never_for_an_order_amount_that_is_not_a_number)
{
    pv_payment_t paid = payment(PV_STATUS_PAID, "10000", "0");
    const char *const unreadable[] = {NULL, "10,000", "$10,000.00",
                                      "10000 KRW", "", "1e999999"};
    size_t i;

    for (i = 0; i < sizeof(unreadable) / sizeof(*unreadable); i++) {
        pv_order_t order = {unreadable[i], "KRW"};
        pv_decision_t d;

        pv_decide(&paid, &order, 0, NULL, &d);
        CHECK_INT_EQ(d.outcome, PV_OUT_FORGERY);
        CHECK_INT_EQ(pv_refund_intent_of(&paid, &d), PV_INTENT_NONE);
    }
    /* a number that differs still is a wrong amount */
    {
        pv_order_t order = {"12000.00", "KRW"};
        pv_decision_t d;

        pv_decide(&paid, &order, 0, NULL, &d);
        CHECK_INT_EQ(d.outcome, PV_OUT_FORGERY);
        CHECK_INT_EQ(pv_refund_intent_of(&paid, &d), PV_INTENT_CANCEL);
    }
    /* "10000.00" is 10000: paid, nothing to cancel */
    {
        pv_order_t order = {"10000.00", NULL};
        pv_decision_t d;

        pv_decide(&paid, &order, 0, NULL, &d);
        CHECK_INT_EQ(d.outcome, PV_OUT_PAID);
        CHECK_INT_EQ(pv_refund_intent_of(&paid, &d), PV_INTENT_NONE);
    }
}

/* An order's currency that is no ISO 4217 code ("krw", "KRW " from a
 * padded column) does not show a payment in another currency: a forgery
 * (the contract compares the text), never cancelled. A well-formed other
 * code is: cancelled. */
TEST(cancel_never_for_an_order_currency_that_is_not_a_code)
{
    pv_payment_t paid = payment(PV_STATUS_PAID, "10000", "0");
    const char *const odd[] = {"krw", "KRW ", " KRW", "KRWX", "", "W"};
    size_t i;

    for (i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
        pv_order_t order = {"10000", odd[i]};
        pv_decision_t d;

        pv_decide(&paid, &order, 0, NULL, &d);
        CHECK_INT_EQ(d.outcome, PV_OUT_FORGERY);
        CHECK_INT_EQ(pv_refund_intent_of(&paid, &d), PV_INTENT_NONE);
    }
    {
        pv_order_t order = {"10000", "USD"};
        pv_decision_t d;

        pv_decide(&paid, &order, 0, NULL, &d);
        CHECK_INT_EQ(d.outcome, PV_OUT_FORGERY);
        CHECK_INT_EQ(pv_refund_intent_of(&paid, &d), PV_INTENT_CANCEL);
    }
    /* a wrong amount is cancelled whatever the currency's text */
    {
        pv_order_t order = {"12000", "krw"};
        pv_decision_t d;

        pv_decide(&paid, &order, 0, NULL, &d);
        CHECK_INT_EQ(pv_refund_intent_of(&paid, &d), PV_INTENT_CANCEL);
    }
}

TEST(cancel_claimed_once_and_never_for_a_recorded_paid)
{
    pv_record_t none = {1, PV_OUT_FORGERY, "0", PV_REFUND_NONE};
    pv_record_t claimed = {1, PV_OUT_FORGERY, "0", PV_REFUND_CLAIMED};
    pv_record_t unanswered = {1, PV_OUT_FORGERY, "0", PV_REFUND_UNANSWERED};
    pv_record_t done = {1, PV_OUT_FORGERY, "0", PV_REFUND_DONE};
    pv_record_t paid = {1, PV_OUT_PAID, "0", PV_REFUND_NONE};
    pv_record_t missing = {0, PV_OUT_PENDING, NULL, PV_REFUND_NONE};

    CHECK(pv_refund_claims(PV_INTENT_CANCEL, &none));
    CHECK(pv_refund_claims(PV_INTENT_CANCEL, &unanswered));
    CHECK(!pv_refund_claims(PV_INTENT_CANCEL, &claimed));
    CHECK(!pv_refund_claims(PV_INTENT_CANCEL, &done));
    /* an order edited after a recorded paid: the record stays paid */
    CHECK(!pv_refund_claims(PV_INTENT_CANCEL, &paid));
    CHECK(!pv_refund_claims(PV_INTENT_CANCEL, &missing));
    CHECK(!pv_refund_claims(PV_INTENT_NONE, &none));
    CHECK(!pv_refund_claims(PV_INTENT_SETTLE, &none));

    CHECK(pv_refund_settles(PV_INTENT_SETTLE, &unanswered));
    CHECK(!pv_refund_settles(PV_INTENT_SETTLE, &none));
    CHECK(!pv_refund_settles(PV_INTENT_SETTLE, &claimed));
    CHECK(!pv_refund_settles(PV_INTENT_SETTLE, &done));
    CHECK(!pv_refund_settles(PV_INTENT_CANCEL, &unanswered));
}

TEST(cancel_refund_column_names)
{
    CHECK(pv_refund_name(PV_REFUND_NONE) == NULL);
    CHECK_STR_EQ(pv_refund_name(PV_REFUND_CLAIMED), "claimed");
    CHECK_STR_EQ(pv_refund_name(PV_REFUND_UNANSWERED), "unanswered");
    CHECK_STR_EQ(pv_refund_name(PV_REFUND_DONE), "refunded");
    CHECK_INT_EQ(pv_refund_from_name(NULL), PV_REFUND_NONE);
    CHECK_INT_EQ(pv_refund_from_name("refunded"), PV_REFUND_DONE);
    CHECK_INT_EQ(pv_refund_from_name("unanswered"), PV_REFUND_UNANSWERED);
    CHECK_INT_EQ(pv_refund_from_name("claimed"), PV_REFUND_CLAIMED);
    /* an unknown value an admin wrote sends nothing */
    CHECK_INT_EQ(pv_refund_from_name("by hand"), PV_REFUND_CLAIMED);
    /* a claim the store reads as hours old: claimed for every decision */
    CHECK_INT_EQ(pv_refund_from_name("claimed-stale"), PV_REFUND_STALE);
    CHECK_STR_EQ(pv_refund_name(PV_REFUND_STALE), "claimed");
    {
        pv_record_t stale = {1, PV_OUT_FORGERY, "0", PV_REFUND_STALE};

        CHECK(!pv_refund_claims(PV_INTENT_CANCEL, &stale));
        CHECK(!pv_refund_settles(PV_INTENT_SETTLE, &stale));
    }
}

/* ---- V1 request and answer ---- */

static struct json_object *parsed(const char *text)
{
    struct json_object *o = json_tokener_parse(text);

    CHECK(o != NULL && json_object_is_type(o, json_type_object));
    return o;
}

TEST(cancel_v1_body)
{
    size_t len;
    char *body = pv_portone_cancel_body(pool, "imp_1\"x", "10.15",
                                        "verification failed: 금액", &len);
    struct json_object *o = parsed(body), *v;

    CHECK_INT_EQ(len, strlen(body));
    CHECK_INT_EQ(json_object_object_length(o), 3);
    CHECK(json_object_object_get_ex(o, "imp_uid", &v));
    CHECK_STR_EQ(json_object_get_string(v), "imp_1\"x");
    /* the checksum is a JSON number, exactly as computed */
    CHECK(json_object_object_get_ex(o, "checksum", &v));
    CHECK(json_object_is_type(v, json_type_double));
    CHECK_STR_HAS(body, "\"checksum\":10.15");
    CHECK(json_object_object_get_ex(o, "reason", &v));
    CHECK_STR_EQ(json_object_get_string(v), "verification failed: 금액");
    json_object_put(o);
}

TEST(cancel_reason_is_cut_at_a_character)
{
    char *longer = apr_palloc(pool, 3 * 100 + 1);
    const char *cut;
    int i;

    for (i = 0; i < 100; i++)
        memcpy(longer + 3 * i, "금", 3);
    longer[300] = '\0';
    cut = pv_portone_cancel_reason(pool, longer);
    CHECK_INT_EQ(strlen(cut), 198);         /* 66 characters of 3 bytes */
    CHECK_STR_EQ(pv_portone_cancel_reason(pool, "short"), "short");
    CHECK_STR_EQ(pv_portone_cancel_reason(pool, NULL), "");
}

static pv_cancel_result v1(apr_pool_t *pool, long status, const char *body)
{
    const char *why = NULL;
    pv_cancel_result r = pv_portone_parse_cancel(pool, status, body,
                                                 strlen(body), &why);

    CHECK(why != NULL || r == PV_CANCEL_DONE);
    return r;
}

TEST(cancel_v1_answers)
{
    CHECK_INT_EQ(v1(pool, 200, "{\"code\":0,\"message\":null,\"response\":"
                    "{\"imp_uid\":\"imp_1\",\"status\":\"cancelled\"}}"),
                 PV_CANCEL_DONE);
    /* refusals are HTTP 200 with a code */
    CHECK_INT_EQ(v1(pool, 200, "{\"code\":1,\"message\":\"취소가능잔액(checksum)"
                    "이 일치하지 않습니다.\",\"response\":null}"),
                 PV_CANCEL_REFUSED);
    CHECK_INT_EQ(v1(pool, 400, "{\"code\":-1,\"message\":\"x\","
                    "\"response\":null}"), PV_CANCEL_REFUSED);
    CHECK_INT_EQ(v1(pool, 403, "<html>no</html>"), PV_CANCEL_REFUSED);
    /* no answer that says what happened */
    CHECK_INT_EQ(v1(pool, 500, "{\"code\":-1,\"message\":\"error\"}"),
                 PV_CANCEL_UNKNOWN);
    CHECK_INT_EQ(v1(pool, 502, "<html>bad gateway</html>"), PV_CANCEL_UNKNOWN);
    CHECK_INT_EQ(v1(pool, 200, "<html>oops</html>"), PV_CANCEL_UNKNOWN);
    CHECK_INT_EQ(v1(pool, 200, "{\"code\":0,\"response\":null}"),
                 PV_CANCEL_UNKNOWN);
}

/* ---- V2 request and answer ---- */

TEST(cancel_v2_body_and_key)
{
    static const unsigned char nonce[8] = {0, 1, 2, 3, 0xfc, 0xfd, 0xfe, 0xff};
    size_t len;
    char *body = pv_portone_v2_cancel_body(pool, "forgery", "6000", "store-1",
                                           &len);
    struct json_object *o = parsed(body), *v;
    const char *key, *again;

    CHECK_INT_EQ(json_object_object_length(o), 3);
    CHECK(json_object_object_get_ex(o, "currentCancellableAmount", &v));
    CHECK(json_object_is_type(v, json_type_int) || json_object_is_type(v,
                                                                json_type_double));
    CHECK_STR_HAS(body, "\"currentCancellableAmount\":6000");
    CHECK(json_object_object_get_ex(o, "storeId", &v));
    CHECK_STR_EQ(json_object_get_string(v), "store-1");
    CHECK(!json_object_object_get_ex(o, "amount", &v));  /* the whole rest */
    json_object_put(o);

    body = pv_portone_v2_cancel_body(pool, "forgery", "6000", NULL, &len);
    CHECK(strstr(body, "storeId") == NULL);

    /* an RFC 8941 string of 16 to 256 ASCII characters; the SHA-1 of the
     * paymentId, the amount and the claim's nonce */
    key = pv_portone_v2_idempotency_key(pool, "결제/1 ?#%", "6000", nonce);
    if (!CHECK(key != NULL))
        return;
    CHECK(key[0] == '"' && key[strlen(key) - 1] == '"');
    CHECK(strlen(key) - 2 >= 16 && strlen(key) - 2 <= 256);
    CHECK(strncmp(key, "\"pv-cancel-", 11) == 0);
    CHECK(strstr(key, "-6000-00010203fcfdfeff\"") != NULL);
    again = pv_portone_v2_idempotency_key(pool, "결제/1 ?#%", "6000", nonce);
    CHECK_STR_EQ(key, again);
    {
        const char *p;

        for (p = key; *p; p++)
            CHECK(*p >= 0x20 && *p < 0x7f);
    }
}

static pv_cancel_result v2(apr_pool_t *pool, long status, const char *body)
{
    const char *why = NULL;
    pv_cancel_result r = pv_portone_v2_parse_cancel(pool, status, body,
                                                    strlen(body), &why);

    CHECK(why != NULL);
    return r;
}

TEST(cancel_v2_answers)
{
    CHECK_INT_EQ(v2(pool, 200, "{\"cancellation\":{\"status\":\"SUCCEEDED\","
                    "\"id\":\"c1\",\"totalAmount\":6000}}"), PV_CANCEL_DONE);
    CHECK_INT_EQ(v2(pool, 200, "{\"cancellation\":{\"status\":\"REQUESTED\","
                    "\"id\":\"c1\"}}"), PV_CANCEL_DONE);
    CHECK_INT_EQ(v2(pool, 200, "{\"cancellation\":{\"status\":\"FAILED\","
                    "\"id\":\"c1\"}}"), PV_CANCEL_REFUSED);
    CHECK_INT_EQ(v2(pool, 409, "{\"type\":\"CANCELLABLE_AMOUNT_CONSISTENCY_"
                    "BROKEN\"}"), PV_CANCEL_REFUSED);
    CHECK_INT_EQ(v2(pool, 409, "{\"type\":\"PAYMENT_ALREADY_CANCELLED\"}"),
                 PV_CANCEL_REFUSED);
    CHECK_INT_EQ(v2(pool, 401, "{\"type\":\"UNAUTHORIZED\"}"),
                 PV_CANCEL_REFUSED);
    /* the same attempt still running, a server error, not the documented
     * answer: nothing says what happened */
    CHECK_INT_EQ(v2(pool, 409, "{\"type\":\"IDEMPOTENCY_OUTSTANDING_REQUEST\"}"),
                 PV_CANCEL_UNKNOWN);
    CHECK_INT_EQ(v2(pool, 502, "{\"type\":\"PG_PROVIDER\"}"), PV_CANCEL_UNKNOWN);
    CHECK_INT_EQ(v2(pool, 200, "{\"cancellation\":{\"status\":\"NEW\"}}"),
                 PV_CANCEL_UNKNOWN);
    CHECK_INT_EQ(v2(pool, 200, "{}"), PV_CANCEL_UNKNOWN);
    CHECK_INT_EQ(v2(pool, 200, "not json"), PV_CANCEL_UNKNOWN);
}
