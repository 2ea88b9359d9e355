/* The module's counters (pv_stats: shared memory, atomic adds) and their
 * section of mod_status's page (httpd glue). */
#ifndef PV_STATUS_H
#define PV_STATUS_H

#include "httpd.h"

#include "pv_stats.h"

/* Finds or creates the counters of all processes (post_config, before the
 * children are forked) in |pprocess|, httpd's process pool, where they
 * outlive restarts; none in the dry run that httpd makes first. */
void pv_status_create(apr_pool_t *pprocess, int dry_run);

/* The counters; NULL when there are none (not created, or no shared
 * memory). */
pv_stats_t *pv_status_counters(void);

/* mod_status's status_hook: the counters, as an HTML table or, with
 * ?auto, as "PortOne<Name>: <value>" lines. */
int pv_status_hook(request_rec *r, int flags);

#endif
