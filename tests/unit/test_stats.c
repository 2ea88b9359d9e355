/* pv_stats: the counters' block is made once per pool and found again by
 * the next call (httpd's next reading of its configuration). */
#include "check.h"

#include "pv_stats.h"

TEST(stats_block_is_kept_in_its_pool)
{
    apr_pool_t *other;
    pv_stats_t *st = pv_stats_create(pool), *again, *elsewhere;

    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_INT_EQ(st->api_calls, 0);
    pv_stats_add(&st->verify_requests, 3);
    pv_stats_api_call(st, 1, 200, 0, 20000);
    again = pv_stats_create(pool);
    CHECK(again == st);
    CHECK_INT_EQ(again->verify_requests, 3);
    CHECK_INT_EQ(again->api_calls, 1);
    CHECK_INT_EQ(again->token_fetches, 1);
    CHECK_INT_EQ(again->latency[1], 1);          /* 20 ms: under 50 */
    /* another pool (another parent) has counters of its own */
    CHECK_INT_EQ(apr_pool_create(&other, NULL), APR_SUCCESS);
    elsewhere = pv_stats_create(other);
    CHECK(elsewhere != NULL && elsewhere != st);
    CHECK_INT_EQ(elsewhere ? elsewhere->verify_requests : 99, 0);
    apr_pool_destroy(other);
}
