/* Counters of the module, summed over all httpd processes: one block of
 * anonymous shared memory made by the parent before it first forks and
 * kept in its process pool, so that every child of every generation adds
 * to the same counters and a restart (graceful or not) keeps them; updated
 * with atomic adds. Shown by mod_status. */
#ifndef PV_STATS_H
#define PV_STATS_H

#include <apr_pools.h>
#include <apr_time.h>

#include "pv_decide.h"
#include "pv_error.h"

/* latency buckets of PortOne calls, upper bounds in ms (last: the rest) */
#define PV_LATENCY_BUCKETS 6
extern const unsigned int pv_latency_bounds_ms[PV_LATENCY_BUCKETS - 1];

typedef struct {
    apr_uint64_t outcomes[PV_OUT_COUNT];    /* verifications by outcome */
    apr_uint64_t claim_forgeries;           /* claims naming another order */
    apr_uint64_t errors[PV_E_COUNT];        /* answers by error code */
    apr_uint64_t verify_requests;
    apr_uint64_t webhook_requests;
    apr_uint64_t api_calls;                 /* HTTP exchanges with PortOne */
    apr_uint64_t api_errors;                /* no answer, or not 2xx/404 */
    apr_uint64_t api_timeouts;
    apr_uint64_t token_fetches;             /* getToken calls */
    apr_uint64_t db_errors;
    apr_uint64_t db_commits;                /* write transactions committed */
    apr_uint64_t db_written;                /* verifications written in them */
    apr_uint64_t api_latency_us;            /* sum over api_calls */
    apr_uint64_t latency[PV_LATENCY_BUCKETS];
    apr_uint64_t refunds;                   /* forgeries cancelled
                                             * (PortOneCancelForgery) */
    apr_uint64_t refunds_failed;            /* cancels refused or unanswered */
    apr_uint64_t db_write_us;               /* time in write transactions, from
                                             * the SQLite writers' lock (or
                                             * BEGIN) to the end of the commit */
} pv_stats_t;

/* The shared block kept in |pool| (httpd's process pool, which lives as
 * long as the parent): created, zeroed, by the first call, and the same
 * block for every later call with the same |pool|, such as the next
 * reading of the configuration after a restart. NULL when shared memory
 * is not available (counters then stay off). */
pv_stats_t *pv_stats_create(apr_pool_t *pool);

void pv_stats_add(apr_uint64_t *counter, apr_uint64_t n);

/* One PortOne exchange: |status| 0 for none, |timeout| when it timed out. */
void pv_stats_api_call(pv_stats_t *st, int token, long status, int timeout,
                       apr_interval_time_t took);

/* A consistent-enough copy for reporting. */
void pv_stats_read(const pv_stats_t *st, pv_stats_t *out);

#endif
