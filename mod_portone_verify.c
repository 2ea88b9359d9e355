/* mod_portone_verify: server-side verification of PortOne (I'mport V1)
 * payments for httpd 2.4. This file is the module record and its hooks;
 * the rest of the glue is in src/ (pv_config: directives and scopes,
 * pv_dbd: mod_dbd, pv_handler: the handlers, pv_status: counters and
 * mod_status), the logic without httpd in src/core, the database phase in
 * src/store. */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include <apr_global_mutex.h>
#include <apr_optional.h>

#include "mod_status.h"
#include "util_mutex.h"

#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "pv_client.h"
#include "pv_config.h"
#include "pv_dbd.h"
#include "pv_handler.h"
#include "pv_log.h"
#include "pv_status.h"
#include "pv_store.h"
#include "pv_version.h"

/* SQLite writers of all processes take turns here (see pv_store.h) */
#define PV_SQLITE_MUTEX "portone-verify-sqlite"
static apr_global_mutex_t *sqlite_mutex;

static int pv_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    sqlite_mutex = NULL;
    pv_config_forget();
    return ap_mutex_register(pconf, PV_SQLITE_MUTEX, NULL, APR_LOCK_DEFAULT, 0)
           == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* The version beside httpd's own "configured -- resuming normal operations"
 * line (notice: logged whatever the LogLevel), with the libraries the
 * module runs with, as they are loaded (not as they were at build time). */
static void log_versions(server_rec *s)
{
    int pq = PQlibVersion();

    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, PVLOGNO(0016) "mod_portone_verify/"
                 PV_VERSION " configured: libcurl %s, json-c %s, SQLite %s, "
                 "libpq %d.%d, %s", curl_version_info(CURLVERSION_NOW)->version,
                 json_c_version(), sqlite3_libversion(), pq / 10000, pq % 10000,
                 OpenSSL_version(OPENSSL_VERSION));
}

/* httpd reads its configuration twice at start-up (the first pass a dry
 * run), and once for `apachectl configtest`, which runs no post_config. */
typedef enum { PV_PASS_DRY_RUN, PV_PASS_START, PV_PASS_CONFIGTEST } pv_pass;

/* Every server that verifies payments gets its database's statements, in
 * its dialect, checked: httpd does not start with a configuration that
 * cannot work, `apachectl configtest` fails on it, and both say which
 * directive is wrong. Only a start creates the counters, the SQLite
 * writers' mutex and the version line. */
static int configure(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *main_s,
                     pv_pass pass)
{
    int dry_run = pass == PV_PASS_DRY_RUN, start = pass == PV_PASS_START;
    server_rec *s;

    pv_status_create(main_s->process->pool, !start);
    if (pv_client_global_init(pconf) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_s, PVLOGNO(0005)
                     "curl_global_init failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    pv_dbd_begin(main_s, ptemp);
    for (s = main_s; s; s = s->next) {
        pv_srv *srv = pv_config_srv(s);
        pv_dbd_settings_t db;
        const char *err;
        int used = 0;

        if (pv_config_check_scopes(s, ptemp, &used) != OK)
            return HTTP_INTERNAL_SERVER_ERROR;
        if (!used)
            continue;
        pv_dbd_settings(s, &db);
        if (!db.driver) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0007)
                         "DBDriver is not set: mod_portone_verify needs a "
                         "mod_dbd database");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        err = pv_store_init(pconf, &srv->store, db.driver, "portone_verify_");
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0008)
                         "DBDriver %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        srv->dialect = pv_sql_dialect_of(db.driver);    /* known: store_init */
        srv->store.stats = pv_status_counters();
        if (srv->dialect == PV_SQL_SQLITE) {
            if (!sqlite_mutex && start
                && ap_global_mutex_create(&sqlite_mutex, NULL, PV_SQLITE_MUTEX,
                                          NULL, main_s, pconf, 0) != APR_SUCCESS)
                return HTTP_INTERNAL_SERVER_ERROR;   /* it logged why */
            srv->store.serial = sqlite_mutex;
        }
        if (pv_dbd_prepare_server(s, main_s, srv, &db, pconf, ptemp, dry_run)
            != OK)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (start)
        log_versions(main_s);
    return OK;
}

static int pv_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *main_s)
{
    (void)plog;
    return configure(pconf, ptemp, main_s,
                     ap_state_query(AP_SQ_MAIN_STATE)
                     == AP_SQ_MS_CREATE_PRE_CONFIG ? PV_PASS_DRY_RUN
                                                   : PV_PASS_START);
}

/* `apachectl configtest` (httpd -t) reads the configuration and runs the
 * check_config hooks, not post_config: the same checks run here in that
 * mode, the database's included (a database that cannot be reached is a
 * warning, as at a start), so that SQL that does not prepare fails the
 * test instead of the reload that follows it. Its messages go to the
 * terminal, and httpd exits 1. */
static int pv_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *main_s)
{
    (void)plog;
    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_CONFIG_TEST)
        return OK;
    return configure(pconf, ptemp, main_s, PV_PASS_CONFIGTEST);
}

static void pv_child_init(apr_pool_t *p, server_rec *main_s)
{
    server_rec *s;

    if (sqlite_mutex
        && apr_global_mutex_child_init(&sqlite_mutex,
                                       apr_global_mutex_lockfile(sqlite_mutex),
                                       p) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, main_s, PVLOGNO(0011)
                     "cannot attach to the SQLite writers' mutex");
    pv_config_child_init(p, main_s);
    for (s = main_s; s; s = s->next) {
        pv_srv *srv = pv_config_srv(s);

        if (srv->store.batch && !srv->store.group
            && pv_store_group_create(p, &srv->store.group) != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, PVLOGNO(0012)
                         "cannot create the database writers' commit group");
    }
}

static void pv_register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};

    (void)p;
    ap_hook_pre_config(pv_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* before mod_dbd's: it groups servers by their statement lists */
    ap_hook_post_config(pv_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    ap_hook_check_config(pv_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(pv_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pv_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, pv_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(portone_verify) = {
    STANDARD20_MODULE_STUFF,
    pv_config_create_dir,   /* every directive also in <Location> */
    pv_config_merge_dir,
    pv_config_create_srv,   /* a server's database: the module's statements */
    NULL,
    pv_config_cmds,
    pv_register_hooks,
    AP_MODULE_FLAG_NONE
};
