/* Standard Webhooks signatures (src/core/pv_webhook.c) with the test
 * vector of portone-api.md section 2.3. */
#include <string.h>

#include "check.h"
#include "pv_webhook.h"

#define VEC_SECRET "pzQGE83cSIRKM4/WH5QY+g=="
#define VEC_ID "dummy-webhook-id"
#define VEC_TS "1714000000"
#define VEC_BODY "{\"test\":\"test payload\"}"
#define VEC_SIG "v1,6SQiykwF5BCGjyB/gmOFtXtMNwQBM7k/52nd+vdX6Z4="
#define VEC_BODY2 "{\"type\":\"Transaction.Paid\",\"timestamp\":\"2024-04-25T10:00:00.000Z\"," \
    "\"data\":{\"paymentId\":\"example-payment-id\",\"storeId\":" \
    "\"store-ae356798-3d20-4969-b739-14c6b0e1a667\",\"transactionId\":" \
    "\"55451513-9763-4a7a-bb43-78a4c65be843\"}}"
#define VEC_SIG2 "v1,TfOoPgwAWW/w1rG+J9NPhE0ErMCzsIpGUrj92wUBHy4="

static apr_time_t at(long secs)
{
    return apr_time_from_sec(secs);
}

static pv_sig_result check(apr_pool_t *pool, const char *secret, const char *sig,
                           const char *body, long now)
{
    pv_webhook_key_t key;

    if (pv_webhook_key(pool, secret, &key))
        return (pv_sig_result)-1;
    return pv_webhook_verify(pool, VEC_ID, VEC_TS, sig, body, strlen(body), &key, 1,
                             at(now), apr_time_from_sec(300));
}

TEST(webhook_published_vector)
{
    CHECK_INT_EQ(check(pool, VEC_SECRET, VEC_SIG, VEC_BODY, 1714000000), PV_SIG_OK);
    CHECK_INT_EQ(check(pool, "whsec_" VEC_SECRET, VEC_SIG, VEC_BODY, 1714000000), PV_SIG_OK);
    CHECK_INT_EQ(check(pool, VEC_SECRET, VEC_SIG2, VEC_BODY2, 1714000000), PV_SIG_OK);
    /* the body changed after signing */
    CHECK_INT_EQ(check(pool, VEC_SECRET, VEC_SIG, "{\"test\":\"test payloaD\"}", 1714000000),
                 PV_SIG_NO_MATCH);
    /* another secret */
    CHECK_INT_EQ(check(pool, "c2VjcmV0LW9mLWFub3RoZXItc2hvcA==", VEC_SIG, VEC_BODY, 1714000000),
                 PV_SIG_NO_MATCH);
}

TEST(webhook_signature_list)
{
    /* several entries, one valid; other versions and garbage skipped */
    CHECK_INT_EQ(check(pool, VEC_SECRET, "v1,AAAA v2,xyz v1,!!notbase64 " VEC_SIG, VEC_BODY,
                       1714000000), PV_SIG_OK);
    CHECK_INT_EQ(check(pool, VEC_SECRET, "v1a,6SQiykwF5BCGjyB/gmOFtXtMNwQBM7k/52nd+vdX6Z4=",
                       VEC_BODY, 1714000000), PV_SIG_NO_MATCH);
    CHECK_INT_EQ(check(pool, VEC_SECRET, "", VEC_BODY, 1714000000), PV_SIG_NO_MATCH);
    /* a truncated signature never matches */
    CHECK_INT_EQ(check(pool, VEC_SECRET, "v1,6SQiykwF5BCGjyB/gmOFtXtMNwQBM7k/52nd+vdX6Z4",
                       VEC_BODY, 1714000000), PV_SIG_NO_MATCH);
}

TEST(webhook_timestamp_tolerance)
{
    CHECK_INT_EQ(check(pool, VEC_SECRET, VEC_SIG, VEC_BODY, 1714000300), PV_SIG_OK);
    CHECK_INT_EQ(check(pool, VEC_SECRET, VEC_SIG, VEC_BODY, 1714000301), PV_SIG_TOO_OLD);
    CHECK_INT_EQ(check(pool, VEC_SECRET, VEC_SIG, VEC_BODY, 1713999700), PV_SIG_OK);
    CHECK_INT_EQ(check(pool, VEC_SECRET, VEC_SIG, VEC_BODY, 1713999699), PV_SIG_TOO_NEW);
}

TEST(webhook_headers_and_keys)
{
    pv_webhook_key_t keys[2];
    const char *b = VEC_BODY;

    CHECK(pv_webhook_key(pool, "whsec_", &keys[0]) != NULL);
    CHECK(pv_webhook_key(pool, "not base64!", &keys[0]) != NULL);
    CHECK(pv_webhook_key(pool, "whsec_c2VjcmV0LW9mLWFub3RoZXItc2hvcA==", &keys[0]) == NULL);
    CHECK(pv_webhook_key(pool, VEC_SECRET, &keys[1]) == NULL);
    CHECK_INT_EQ(keys[1].len, 16);
    /* a rotation: the second secret matches */
    CHECK_INT_EQ(pv_webhook_verify(pool, VEC_ID, VEC_TS, VEC_SIG, b, strlen(b), keys, 2,
                                   at(1714000000), apr_time_from_sec(300)), PV_SIG_OK);
    CHECK_INT_EQ(pv_webhook_verify(pool, NULL, VEC_TS, VEC_SIG, b, strlen(b), keys, 2,
                                   at(1714000000), apr_time_from_sec(300)),
                 PV_SIG_MISSING_HEADERS);
    CHECK_INT_EQ(pv_webhook_verify(pool, VEC_ID, VEC_TS, NULL, b, strlen(b), keys, 2,
                                   at(1714000000), apr_time_from_sec(300)),
                 PV_SIG_MISSING_HEADERS);
    CHECK_INT_EQ(pv_webhook_verify(pool, VEC_ID, "1714000000.5", VEC_SIG, b, strlen(b), keys,
                                   2, at(1714000000), apr_time_from_sec(300)),
                 PV_SIG_BAD_TIMESTAMP);
    CHECK_INT_EQ(pv_webhook_verify(pool, VEC_ID, "", VEC_SIG, b, strlen(b), keys, 2,
                                   at(1714000000), apr_time_from_sec(300)),
                 PV_SIG_BAD_TIMESTAMP);
    CHECK_INT_EQ(pv_webhook_verify(pool, VEC_ID, "99999999999999999999", VEC_SIG, b,
                                   strlen(b), keys, 2, at(1714000000),
                                   apr_time_from_sec(300)), PV_SIG_BAD_TIMESTAMP);
    CHECK_STR_HAS(pv_sig_reason(PV_SIG_TOO_OLD), "older");
}
