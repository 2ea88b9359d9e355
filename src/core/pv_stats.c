#include "pv_stats.h"

#include <apr_shm.h>
#include <apr_strings.h>
#include <string.h>

/* The layout of pv_stats_t: to be raised when fields move while its size
 * stays. A module of another layout (a new build loaded by a restart) gets
 * a block of its own under its own key, never one it would misread. */
#define PV_STATS_LAYOUT 1

const unsigned int pv_latency_bounds_ms[PV_LATENCY_BUCKETS - 1] = {
    10, 50, 100, 500, 1000
};

pv_stats_t *pv_stats_create(apr_pool_t *pool)
{
    char key[64];
    void *kept = NULL;
    apr_shm_t *shm;
    pv_stats_t *st;

    apr_snprintf(key, sizeof(key), "mod_portone_verify-stats-%d-%"
                 APR_SIZE_T_FMT, PV_STATS_LAYOUT, sizeof(pv_stats_t));
    if (apr_pool_userdata_get(&kept, key, pool) == APR_SUCCESS && kept)
        return kept;
    if (apr_shm_create(&shm, sizeof(pv_stats_t), NULL, pool) != APR_SUCCESS)
        return NULL;
    st = apr_shm_baseaddr_get(shm);
    memset(st, 0, sizeof(*st));
    /* the key is copied into |pool|; no cleanup of ours, whose code would
     * be unloaded with the module before |pool| is destroyed */
    apr_pool_userdata_set(st, key, apr_pool_cleanup_null, pool);
    return st;
}

void pv_stats_add(apr_uint64_t *counter, apr_uint64_t n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

void pv_stats_api_call(pv_stats_t *st, int token, long status, int timeout,
                       apr_interval_time_t took)
{
    apr_uint64_t ms = (apr_uint64_t)(took / 1000);
    int b;

    if (!st)
        return;
    pv_stats_add(&st->api_calls, 1);
    if (token)
        pv_stats_add(&st->token_fetches, 1);
    if (timeout)
        pv_stats_add(&st->api_timeouts, 1);
    if (status == 0 || (status >= 300 && status != 404))
        pv_stats_add(&st->api_errors, 1);
    pv_stats_add(&st->api_latency_us, (apr_uint64_t)(took > 0 ? took : 0));
    for (b = 0; b < PV_LATENCY_BUCKETS - 1; b++)
        if (ms < pv_latency_bounds_ms[b])
            break;
    pv_stats_add(&st->latency[b], 1);
}

void pv_stats_read(const pv_stats_t *st, pv_stats_t *out)
{
    const apr_uint64_t *src = (const apr_uint64_t *)st;
    apr_uint64_t *dst = (apr_uint64_t *)out;
    size_t i;

    for (i = 0; i < sizeof(*st) / sizeof(apr_uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
