/* The module's counters and their section of mod_status's page
 * (pv_status.h). */
#include "httpd.h"
#include "http_protocol.h"
#include <apr_strings.h>

#include "mod_status.h"

#include "pv_status.h"
#include "pv_version.h"

/* counters of all processes; NULL: not available */
static pv_stats_t *stats;

void pv_status_create(apr_pool_t *pprocess, int dry_run)
{
    stats = dry_run ? NULL : pv_stats_create(pprocess);
}

pv_stats_t *pv_status_counters(void)
{
    return stats;
}

/* One counter: |key| for ?auto (PortOne<key>), |label| for the table. */
static void put_row(request_rec *r, int flags, const char *key,
                    const char *label, apr_uint64_t value)
{
    if (flags & AP_STATUS_SHORT)
        ap_rprintf(r, "PortOne%s: %" APR_UINT64_T_FMT "\n", key, value);
    else
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   label, value);
}

int pv_status_hook(request_rec *r, int flags)
{
    pv_stats_t st;
    apr_uint64_t total = 0;
    int i;

    if (flags & AP_STATUS_SHORT)
        ap_rputs("PortOneVersion: " PV_VERSION "\n", r);
    if (!stats)
        return OK;
    pv_stats_read(stats, &st);
    for (i = 0; i < PV_OUT_COUNT; i++)
        total += st.outcomes[i];
    if (!(flags & AP_STATUS_SHORT))
        ap_rputs("<hr />\n<h2>PortOne verification (mod_portone_verify/"
                 PV_VERSION ")</h2>\n"
                 "<table border=\"0\"><tr><th>counter</th><th>value</th></tr>\n", r);
    put_row(r, flags, "Verifications", "verifications", total);
    for (i = 0; i < PV_OUT_COUNT; i++) {
        const char *name = pv_outcome_lookup((pv_outcome)i)->name;

        put_row(r, flags, apr_pstrcat(r->pool, "Outcome_", name, (char *)NULL),
                apr_pstrcat(r->pool, "outcome ", name, (char *)NULL),
                st.outcomes[i]);
    }
    for (i = 1; i < PV_E_COUNT; i++) {
        const char *code = pv_err_lookup((pv_err)i)->code;

        put_row(r, flags, apr_pstrcat(r->pool, "Error_", code, (char *)NULL),
                apr_pstrcat(r->pool, "error ", code, (char *)NULL),
                st.errors[i]);
    }
    put_row(r, flags, "APICalls", "PortOne calls", st.api_calls);
    put_row(r, flags, "APIErrors", "PortOne errors", st.api_errors);
    put_row(r, flags, "APITimeouts", "PortOne timeouts", st.api_timeouts);
    put_row(r, flags, "TokenRefreshes", "token refreshes (getToken)",
            st.token_fetches);
    put_row(r, flags, "DatabaseErrors", "database errors", st.db_errors);
    put_row(r, flags, "DatabaseCommits", "write transactions committed",
            st.db_commits);
    put_row(r, flags, "DatabaseWrites", "verifications written in them",
            st.db_written);
    put_row(r, flags, "DatabaseWriteMs",
            "time in write transactions (ms, the writers' lock to the commit)",
            st.db_write_us / 1000);
    put_row(r, flags, "VerifyRequests", "portone-verify requests",
            st.verify_requests);
    put_row(r, flags, "WebhookRequests", "portone-webhook requests",
            st.webhook_requests);
    put_row(r, flags, "ClaimForgeries", "claims naming another order",
            st.claim_forgeries);
    put_row(r, flags, "Refunds", "forgeries cancelled (PortOneCancelForgery)",
            st.refunds);
    put_row(r, flags, "RefundsFailed", "forgery cancels refused or unanswered",
            st.refunds_failed);
    /* the buckets under each bound, and the last one over the last bound */
    for (i = 0; i < PV_LATENCY_BUCKETS; i++) {
        int under = i < PV_LATENCY_BUCKETS - 1;
        unsigned int ms = pv_latency_bounds_ms[under ? i : i - 1];

        put_row(r, flags,
                apr_psprintf(r->pool, "APILatency%s%ums",
                             under ? "Under" : "Over", ms),
                apr_psprintf(r->pool, "PortOne calls %s %u ms",
                             under ? "under" : "over", ms),
                st.latency[i]);
    }
    ap_rprintf(r, (flags & AP_STATUS_SHORT) ? "PortOneAPILatencyAvgMs: %.1f\n"
               : "<tr><td>PortOne latency, average</td><td>%.1f ms</td></tr>\n"
                 "</table>\n",
               st.api_calls ? (double)st.api_latency_us / 1000.0 / (double)st.api_calls
                            : 0.0);
    return OK;
}
