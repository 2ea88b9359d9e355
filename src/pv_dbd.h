/* mod_dbd, through its public interface only (httpd glue): its optional
 * functions; the driver and parameters each server has, read from httpd's
 * configuration tree as mod_dbd reads them; the module's SQL handed to
 * mod_dbd on the servers that use it, once per statement list, and checked
 * at start-up on a connection of our own. */
#ifndef PV_DBD_H
#define PV_DBD_H

#include "httpd.h"
#include "mod_dbd.h"

#include "pv_config.h"

/* Retrieves mod_dbd's optional functions; NULL, or why they are missing. */
const char *pv_dbd_bind(void);

/* mod_dbd's connections of one server, lent to the pipeline for one
 * request (ap_dbd_open and ap_dbd_close, never ap_dbd_acquire, which holds
 * a connection until the request ends). */
typedef struct {
    pv_dbconn_t conn;           /* what pv_pipeline_run takes */
    server_rec *server;
    ap_dbd_t *dbd;              /* the connection lent; NULL: none */
} pv_dbd_lender_t;

/* Sets |l| up to lend connections of |s| (pv_dbd_bind succeeded). */
void pv_dbd_lender(pv_dbd_lender_t *l, server_rec *s);

/* What DBDriver and DBDParams say for one server. */
typedef struct {
    const char *driver;         /* NULL: not set */
    const char *params;         /* "" when not set */
} pv_dbd_settings_t;

/* Once per reading of the configuration (post_config), before the calls
 * below: reads the DBD directives of the main server and of every virtual
 * host from httpd's configuration tree. */
void pv_dbd_begin(server_rec *main_s, apr_pool_t *ptemp);

/* The settings of |s|: those of its <VirtualHost>, else the main
 * server's; of several, the last one. */
void pv_dbd_settings(const server_rec *s, pv_dbd_settings_t *out);

/* Rewrites every SQL directive that |s| can see (its own and the main
 * server's) in the dialect of |srv|, hands it and the module's own
 * statements to mod_dbd for the connections of |s|, and (unless |dry_run|)
 * prepares them all on a connection of our own, so that SQL that does not
 * prepare stops httpd now, naming its directive. OK, or
 * HTTP_INTERNAL_SERVER_ERROR (logged). */
int pv_dbd_prepare_server(server_rec *s, const server_rec *main_s, pv_srv *srv,
                          const pv_dbd_settings_t *set, apr_pool_t *pconf,
                          apr_pool_t *ptemp, int dry_run);

#endif
