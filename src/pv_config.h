/* The module's configuration (httpd glue): the records of a scope (server
 * config, <VirtualHost>, <Location>, <Directory>) and of a server, their
 * merge, the directive table, the start-up check that every scope that
 * verifies has what it needs, and this process's PortOne clients, one per
 * account. */
#ifndef PV_CONFIG_H
#define PV_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "pv_client.h"
#include "pv_pipeline.h"
#include "pv_sqlparam.h"
#include "pv_store.h"
#include "pv_webhook.h"

extern module AP_MODULE_DECLARE_DATA portone_verify_module;

/* The admin's SQL of one directive in one scope. It is rewritten and
 * prepared once the database driver is known (post_config), for each
 * dialect that a server using it has, under a label of its own. */
typedef struct {
    const char *directive;      /* PortOneOrderQuery, PortOneOrderUpdateQuery */
    const char *raw;
    const char *where;          /* config file:line */
    server_rec *server;         /* the server it was written in */
    const char *order_key;      /* the order query's SHA-1: which orders */
    int update;                 /* PortOneOrderUpdateQuery */
    int reconcile;              /* PortOneReconcileQuery */
    int logged;                 /* its order_key was logged at start-up */
    pv_stmt_t by_dialect[PV_SQL_DIALECTS];
} pv_sqldef_t;

/* One scope; a section's values override its server's (merge). */
typedef struct {
    const char *api_key;
    const char *api_secret;
    const char *api_url;
    const char *tier;
    const char *ca_file;
    const char *proxy;
    const char *currency;
    int sandbox;
    int cancel_forgery;         /* PortOneCancelForgery */
    apr_interval_time_t timeout;
    apr_interval_time_t connect_timeout;
    pv_sqldef_t *order;         /* PortOneOrderQuery */
    pv_sqldef_t *order_update;  /* PortOneOrderUpdateQuery */
    pv_sqldef_t *reconcile;     /* PortOneReconcileQuery */
    /* V2 */
    const char *v2_secret;      /* PortOneV2Secret: enables V2 */
    const char *v2_url;         /* PortOneV2URL */
    const char *store_id;       /* PortOneStoreId */
    int webhook_nkeys;          /* PortOneWebhookSecret: 0 unset, 1 or 2 */
    pv_webhook_key_t webhook_keys[PV_WEBHOOK_SECRETS_MAX];
    apr_interval_time_t webhook_tolerance;  /* PortOneWebhookTolerance */
    const char *where;          /* the section, for start-up messages */
    int identity;               /* sets an account or SQL of its own */
} pv_dir;

/* One server's database: the module's statements in its dialect. */
typedef struct {
    pv_store_t store;
    pv_sql_dialect dialect;     /* PV_SQL_UNKNOWN: not in use */
} pv_srv;

void *pv_config_create_dir(apr_pool_t *p, char *path);
void *pv_config_merge_dir(apr_pool_t *p, void *basev, void *addv);
void *pv_config_create_srv(apr_pool_t *p, server_rec *s);
extern const command_rec pv_config_cmds[];

pv_srv *pv_config_srv(const server_rec *s);

/* Forgets the SQL directives of the configuration read before (pre_config). */
void pv_config_forget(void);

/* Every SQL directive of the configuration, pv_sqldef_t *; may be NULL. */
const apr_array_header_t *pv_config_sqldefs(void);

/* What a scope that verifies payments lacks, a directive's name; NULL when
 * it has all it needs: PortOneAPIKey and PortOneAPISecret (V1),
 * PortOneV2Secret (V2) or both, and PortOneOrderQuery. */
const char *pv_config_missing(const pv_dir *c);

/* At start-up: a scope of |s| that sets an account or SQL must, with what it
 * inherits, have everything (else logged, HTTP_INTERNAL_SERVER_ERROR).
 * |*used|: some scope of |s| verifies payments. */
int pv_config_check_scopes(server_rec *s, apr_pool_t *ptemp, int *used);

/* The scope's SQL on its server's database, and its settings, for
 * pv_pipeline_run. */
void pv_config_pipeline(const pv_dir *c, const pv_srv *srv, pv_scope_t *scope,
                        pv_pipeline_conf_t *conf);

/* The scope takes V1 claims and webhooks: PortOneAPIKey and
 * PortOneAPISecret are set. */
int pv_config_v1(const pv_dir *c);

/* In each child: the table of this process's PortOne clients. */
void pv_config_child_init(apr_pool_t *p, server_rec *main_s);

/* The PortOne client of the scope's account, made on its first use in this
 * process. NULL when it cannot be made (logged). */
pv_client_t *pv_config_client(request_rec *r, const pv_dir *c);

#endif
