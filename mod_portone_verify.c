/* mod_portone_verify: server-side verification of PortOne (I'mport V1)
 * payments for httpd 2.4. This file is the httpd glue only: directives,
 * hooks and the two handlers. The logic lives in pv_*.c. */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_optional.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_uri.h>
#include <arpa/inet.h>

#include "mod_dbd.h"
#include "mod_status.h"
#include "util_mutex.h"

#include "pv_client.h"
#include "pv_decide.h"
#include "pv_json.h"
#include "pv_request.h"
#include "pv_stats.h"
#include "pv_store.h"

module AP_MODULE_DECLARE_DATA portone_verify_module;

#define PV_UNSET -1

/* The admin's SQL of one directive in one scope. It is rewritten and
 * prepared once the database driver is known (post_config), for each
 * dialect that a server using it has, under a label of its own. */
typedef struct {
    const char *directive;      /* PortOneOrderQuery, PortOneOrderUpdateQuery */
    const char *raw;
    const char *where;          /* config file:line */
    const char *order_key;      /* the order query's SHA-1: which orders */
    int update;                 /* PortOneOrderUpdateQuery */
    int logged;                 /* its order_key was logged at start-up */
    pv_stmt_t by_driver[3];     /* by pv_sql_dialect: sqlite3, pgsql, mysql */
} pv_sqldef_t;

/* One scope: server config, <VirtualHost>, <Location> or <Directory>; a
 * section's values override its server's (merge_dir). */
typedef struct {
    const char *api_key;
    const char *api_secret;
    const char *api_url;
    const char *tier;
    const char *ca_file;
    const char *proxy;
    const char *currency;
    int sandbox;
    apr_interval_time_t timeout;
    apr_interval_time_t connect_timeout;
    pv_sqldef_t *order;         /* PortOneOrderQuery */
    pv_sqldef_t *order_update;  /* PortOneOrderUpdateQuery */
    const char *where;          /* the section, for start-up messages */
    int identity;               /* sets an account or SQL of its own */
} pv_dir;

/* One server's database: the module's statements in its dialect. */
typedef struct {
    pv_store_t store;
    int driver;                 /* its pv_sql_dialect; -1: not in use */
} pv_srv;

static const char *const drivers[3] = {"sqlite3", "pgsql", "mysql"};

/* counters of all processes, for mod_status; NULL: not available */
static pv_stats_t *stats;

/* SQLite writers of all processes take turns here (see pv_store.h) */
#define PV_SQLITE_MUTEX "portone-verify-sqlite"
static apr_global_mutex_t *sqlite_mutex;

/* Every SQL directive of the configuration, to prepare on the servers that
 * can see it (a vhost sees its own and the main server's sections). */
static apr_array_header_t *sqldefs;     /* pv_sqldef_t *, with its server */
static apr_array_header_t *sqldef_servers;

/* PortOne clients of this process, one per account (URL, key, secret and
 * the settings of the connection): the token cache and the kept
 * connections are an account's, never another scope's. */
static apr_hash_t *clients;
static apr_thread_mutex_t *clients_lock;
static apr_pool_t *clients_pool;
static server_rec *main_server;

static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

/* ------------------------------------------------------------------ config */

static void *create_dir(apr_pool_t *p, char *path)
{
    pv_dir *c = apr_pcalloc(p, sizeof(*c));

    c->sandbox = PV_UNSET;
    c->timeout = PV_UNSET;
    c->connect_timeout = PV_UNSET;
    c->where = path;
    return c;
}

#define MERGE(f, unset) c->f = (add->f != (unset)) ? add->f : base->f

static void *merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    pv_dir *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    MERGE(api_key, NULL);
    MERGE(api_secret, NULL);
    MERGE(api_url, NULL);
    MERGE(tier, NULL);
    MERGE(ca_file, NULL);
    MERGE(proxy, NULL);
    MERGE(currency, NULL);
    MERGE(sandbox, PV_UNSET);
    MERGE(timeout, PV_UNSET);
    MERGE(connect_timeout, PV_UNSET);
    MERGE(order, NULL);
    MERGE(order_update, NULL);
    c->where = add->where ? add->where : base->where;
    c->identity = add->identity || base->identity;
    return c;
}

static void *create_srv(apr_pool_t *p, server_rec *s)
{
    pv_srv *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->driver = -1;
    return c;
}

static pv_srv *srv_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &portone_verify_module);
}

static const char *check_text(cmd_parms *cmd, const char *arg)
{
    const char *p;

    for (p = arg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return apr_psprintf(cmd->pool, "%s: control characters are not "
                                "allowed", cmd->cmd->name);
    if (!*arg)
        return apr_psprintf(cmd->pool, "%s: the value is empty", cmd->cmd->name);
    return NULL;
}

static const char *set_string(cmd_parms *cmd, void *conf, const char *arg)
{
    const char *err = check_text(cmd, arg);

    if (err)
        return err;
    *(const char **)((char *)conf + (size_t)cmd->info) = arg;
    if (cmd->info == (void *)APR_OFFSETOF(pv_dir, api_key)
        || cmd->info == (void *)APR_OFFSETOF(pv_dir, api_secret))
        ((pv_dir *)conf)->identity = 1;
    return NULL;
}

/* Whether |host| is this machine: 127.0.0.0/8, ::1 or localhost. */
static int loopback_host(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (!host)
        return 0;
    if (!strcasecmp(host, "localhost"))
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* https://, or http:// to this machine only: an API secret never crosses
 * a network in clear (the tests' emulator listens on 127.0.0.1). */
static const char *set_url(cmd_parms *cmd, void *conf, const char *arg)
{
    const char *err = check_text(cmd, arg);
    apr_uri_t uri;
    size_t n;

    if (err)
        return err;
    if (strncasecmp(arg, "https://", 8) && strncasecmp(arg, "http://", 7))
        return apr_psprintf(cmd->pool, "%s must start with https:// (or "
                            "http:// to a loopback address)", cmd->cmd->name);
    if (apr_uri_parse(cmd->pool, arg, &uri) != APR_SUCCESS || !uri.hostname
        || !*uri.hostname || uri.query || uri.fragment || uri.user)
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not a base URL",
                            cmd->cmd->name, arg);
    if (!strncasecmp(arg, "http://", 7) && !loopback_host(uri.hostname))
        return apr_psprintf(cmd->pool, "%s: http:// would send the API secret "
                            "in clear to %s; use https:// (http:// is only "
                            "for 127.0.0.0/8, ::1 and localhost)",
                            cmd->cmd->name, uri.hostname);
    n = strlen(arg);
    while (n > 0 && arg[n - 1] == '/')
        n--;
    ((pv_dir *)conf)->api_url = apr_pstrmemdup(cmd->pool, arg, n);
    return NULL;
}

static const char *set_tier(cmd_parms *cmd, void *conf, const char *arg)
{
    const char *p;

    for (p = arg; *p; p++)
        if (!apr_isalnum(*p))
            return "PortOneTier takes a tier code of letters and digits";
    if (p - arg > 32)
        return "PortOneTier is longer than 32 characters";
    return set_string(cmd, conf, arg);
}

static const char *set_currency(cmd_parms *cmd, void *conf, const char *arg)
{
    if (strlen(arg) != 3 || !apr_isupper(arg[0]) || !apr_isupper(arg[1])
        || !apr_isupper(arg[2]))
        return "PortOneCurrency takes an ISO 4217 code of three capital "
               "letters, such as KRW or USD";
    return set_string(cmd, conf, arg);
}

static const char *set_seconds(cmd_parms *cmd, void *conf, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v <= 0 || v > 3600)
        return apr_psprintf(cmd->pool, "%s must be a whole number of seconds "
                            "from 1 to 3600, not \"%s\"", cmd->cmd->name, arg);
    *(apr_interval_time_t *)((char *)conf + (size_t)cmd->info) =
        apr_time_from_sec(v);
    return NULL;
}

static const char *set_sandbox(cmd_parms *cmd, void *conf, int on)
{
    (void)cmd;
    ((pv_dir *)conf)->sandbox = on;
    return NULL;
}

/* The admin's SQL, kept as written: the dialect it is read in is the
 * database's, known once mod_dbd's directives are all read. */
static const char *set_sql(cmd_parms *cmd, void *conf, const char *arg)
{
    pv_dir *c = conf;
    pv_sqldef_t *def = apr_pcalloc(cmd->pool, sizeof(*def));
    const char *err = check_text(cmd, arg);

    if (err)
        return err;
    if (!dbd_prepare_fn) {
        dbd_prepare_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
        dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
        dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
        if (!dbd_prepare_fn || !dbd_open_fn || !dbd_close_fn)
            return "mod_portone_verify needs mod_dbd: LoadModule dbd_module "
                   "before portone_verify_module";
    }
    def->directive = cmd->cmd->name;
    def->raw = arg;
    def->where = cmd->directive
        ? apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                       cmd->directive->line_num) : "?";
    if (!cmd->info) {
        unsigned char digest[APR_SHA1_DIGESTSIZE];
        apr_sha1_ctx_t sha;
        char *hex = apr_palloc(cmd->pool, 2 * APR_SHA1_DIGESTSIZE + 1);
        int i;

        apr_sha1_init(&sha);
        apr_sha1_update(&sha, arg, (unsigned int)strlen(arg));
        apr_sha1_final(digest, &sha);
        for (i = 0; i < APR_SHA1_DIGESTSIZE; i++)
            apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        def->order_key = hex;
        c->order = def;
    }
    else {
        def->update = 1;
        c->order_update = def;
    }
    c->identity = 1;
    if (!sqldefs) {
        sqldefs = apr_array_make(cmd->pool, 8, sizeof(pv_sqldef_t *));
        sqldef_servers = apr_array_make(cmd->pool, 8, sizeof(server_rec *));
    }
    APR_ARRAY_PUSH(sqldefs, pv_sqldef_t *) = def;
    APR_ARRAY_PUSH(sqldef_servers, server_rec *) = cmd->server;
    return NULL;
}

#define STR_OFFSET(f) ((void *)APR_OFFSETOF(pv_dir, f))
#define PV_CONTEXT (RSRC_CONF | ACCESS_CONF)

static const command_rec pv_cmds[] = {
    AP_INIT_TAKE1("PortOneAPIKey", set_string, STR_OFFSET(api_key), PV_CONTEXT,
                  "PortOne REST API key (imp_key)"),
    AP_INIT_TAKE1("PortOneAPISecret", set_string, STR_OFFSET(api_secret),
                  PV_CONTEXT, "PortOne REST API secret (imp_secret); use "
                  "${ENV_VAR} to keep it out of the file"),
    AP_INIT_TAKE1("PortOneAPIURL", set_url, NULL, PV_CONTEXT,
                  "PortOne API base URL (default https://api.iamport.kr)"),
    AP_INIT_TAKE1("PortOneTier", set_tier, STR_OFFSET(tier), PV_CONTEXT,
                  "Tier code sent as the Tier header (agency sub-store)"),
    AP_INIT_TAKE1("PortOneTimeout", set_seconds, STR_OFFSET(timeout), PV_CONTEXT,
                  "Seconds for the whole PortOne look-up (default 30)"),
    AP_INIT_TAKE1("PortOneConnectTimeout", set_seconds,
                  STR_OFFSET(connect_timeout), PV_CONTEXT,
                  "Seconds to connect to PortOne, TCP and TLS (default 5)"),
    AP_INIT_TAKE1("PortOneCACertificateFile", set_string, STR_OFFSET(ca_file),
                  PV_CONTEXT, "CA bundle for PortOne's TLS (default: system)"),
    AP_INIT_TAKE1("PortOneProxy", set_string, STR_OFFSET(proxy), PV_CONTEXT,
                  "Proxy for the PortOne API (default: none; the proxy "
                  "environment variables are ignored)"),
    AP_INIT_TAKE1("PortOneCurrency", set_currency, STR_OFFSET(currency),
                  PV_CONTEXT, "Currency of orders whose query gives none "
                  "(default KRW)"),
    AP_INIT_FLAG("PortOneSandbox", set_sandbox, NULL, PV_CONTEXT,
                 "On: accept test-channel payments (default Off)"),
    AP_INIT_TAKE1("PortOneOrderQuery", set_sql, (void *)0, PV_CONTEXT,
                  "SQL loading the amount due (and currency) by :merchant_uid"),
    AP_INIT_TAKE1("PortOneOrderUpdateQuery", set_sql, (void *)1, PV_CONTEXT,
                  "SQL run in the same transaction when an order's state changes"),
    {NULL}
};

/* ---------------------------------------------------------------- start-up */

/* What a scope that verifies payments lacks; NULL when it has all. */
static const char *missing_of(const pv_dir *c)
{
    if (!c->api_key)
        return "PortOneAPIKey";
    if (!c->api_secret)
        return "PortOneAPISecret";
    if (!c->order)
        return "PortOneOrderQuery";
    return NULL;
}

/* mod_dbd keeps its server config private; its first member is the public
 * dbd_cfg_t (mod_dbd.h), which names the driver and its parameters. */
static const dbd_cfg_t *dbd_cfg_of(server_rec *s)
{
    static module *dbd;
    void *svr;

    if (!dbd)
        dbd = ap_find_linked_module("mod_dbd.c");
    svr = dbd ? ap_get_module_config(s->module_config, dbd) : NULL;
    return svr ? *(dbd_cfg_t **)svr : NULL;
}

/* Prepares |n| statements once on a connection of our own, so that SQL
 * that does not prepare stops httpd now, naming its directive. A database
 * that is down at start-up is only a warning: httpd must still start. */
static int check_sql(server_rec *s, const dbd_cfg_t *cfg, const pv_stmt_t **st,
                     const char **names, int n, apr_pool_t *ptemp)
{
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_pool_t *pool;
    const char *err = NULL;
    apr_finfo_t fi;
    int i, rv = OK;

    if (apr_dbd_get_driver(ptemp, cfg->name, &driver) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV001 DBDriver %s: no such "
                     "apr_dbd driver is installed", cfg->name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!strcmp(cfg->name, "sqlite3")
        && apr_stat(&fi, cfg->params, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV002 DBDParams %s: the "
                     "SQLite database does not exist; create it with "
                     "conf/schema-sqlite3.sql", cfg->params);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apr_pool_create(&pool, ptemp) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (apr_dbd_open_ex(driver, pool, cfg->params, &handle, &err)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "PV003 cannot reach the "
                     "database to check PortOne SQL at start-up (%s); it is "
                     "checked on first use", err ? err : "no reason given");
        apr_pool_destroy(pool);
        return OK;
    }
    if (!strcmp(cfg->name, "sqlite3"))      /* wait for other writers */
        apr_dbd_query(driver, handle, &i, "PRAGMA busy_timeout = 10000");
    for (i = 0; i < n && rv == OK; i++) {
        apr_dbd_prepared_t *stmt = NULL;
        int rc = apr_dbd_prepare(driver, pool, handle, st[i]->sql.sql,
                                 apr_psprintf(pool, "portone_verify_check_%d", i),
                                 &stmt);

        if (rc) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV004 %s: the SQL does "
                         "not prepare on %s: %s", names[i], cfg->name,
                         apr_dbd_error(driver, handle, rc));
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    apr_dbd_close(driver, handle);
    apr_pool_destroy(pool);
    return rv;
}

/* A scope that sets an account or SQL must, with what it inherits, have
 * everything; a server whose sections set their own is checked through
 * them. The name of what is missing, or NULL. */
static int check_scopes(server_rec *s, apr_pool_t *ptemp, int *used)
{
    core_server_config *core = ap_get_core_module_config(s->module_config);
    apr_array_header_t *secs[2] = {core->sec_url, core->sec_dir};
    pv_dir *base = ap_get_module_config(s->lookup_defaults,
                                        &portone_verify_module);
    int i, k, sections = 0;

    for (k = 0; k < 2; k++) {
        for (i = 0; secs[k] && i < secs[k]->nelts; i++) {
            ap_conf_vector_t *v = APR_ARRAY_IDX(secs[k], i, ap_conf_vector_t *);
            pv_dir *sec = ap_get_module_config(v, &portone_verify_module);
            pv_dir *merged;
            const char *missing;

            if (!sec || !sec->identity)
                continue;
            sections = 1;
            merged = merge_dir(ptemp, base, sec);
            if ((missing = missing_of(merged)) != NULL) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV014 %s is required "
                             "where PortOne verification is configured (%s "
                             "of server %s:%u)", missing,
                             sec->where ? sec->where : "a section",
                             s->server_hostname, s->port);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    *used = sections || base->identity;
    if (!sections && base->identity && missing_of(base)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV006 %s is required "
                     "where PortOne verification is configured (server "
                     "%s:%u)", missing_of(base), s->server_hostname, s->port);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Has mod_dbd prepare |stmt| on the connections of |s|. A virtual host
 * without SQL of its own shares the main server's list: a label is
 * given to it once. */
static void prepare_once(server_rec *s, const dbd_cfg_t *cfg,
                         const pv_stmt_t *stmt)
{
    const char *had = cfg->queries ? apr_hash_get(cfg->queries, stmt->label,
                                                  APR_HASH_KEY_STRING) : NULL;

    if (!had || strcmp(had, stmt->sql.sql))
        dbd_prepare_fn(s, stmt->sql.sql, stmt->label);
}

/* Rewrites and prepares on |s| every SQL directive it can see (its own
 * and the main server's), in its driver's dialect; the module's own
 * statements too. Then checks them all on a connection. */
static int prepare_server(server_rec *s, const server_rec *main_s, pv_srv *srv,
                          const dbd_cfg_t *cfg, apr_pool_t *pconf,
                          apr_pool_t *ptemp, int dry_run)
{
    int n = sqldefs ? sqldefs->nelts : 0;
    const pv_stmt_t **st = apr_pcalloc(ptemp, sizeof(*st) * (n + PV_STMT_COUNT));
    const char **names = apr_pcalloc(ptemp, sizeof(*names) * (n + PV_STMT_COUNT));
    int i, k = 0;

    for (i = 0; i < PV_STMT_COUNT; i++) {
        prepare_once(s, cfg, &srv->store.stmt[i]);
        st[k] = &srv->store.stmt[i];
        names[k++] = "the module's tables (load conf/schema-<driver>.sql, or "
                     "conf/upgrade-<driver>.sql over an older schema)";
    }
    for (i = 0; i < n; i++) {
        pv_sqldef_t *def = APR_ARRAY_IDX(sqldefs, i, pv_sqldef_t *);
        server_rec *in = APR_ARRAY_IDX(sqldef_servers, i, server_rec *);
        pv_stmt_t *stmt = &def->by_driver[srv->driver];

        if (in != s && in != main_s)
            continue;
        if (!stmt->label) {
            const char *err = pv_sql_rewrite_dialect(pconf, def->raw, 0,
                                         (pv_sql_dialect)srv->driver,
                                         &stmt->sql);
            if (err) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV013 %s (%s): %s",
                             def->directive, def->where, err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            stmt->label = apr_psprintf(pconf, "portone_verify_%s_%d_%s",
                                       def->update ? "update" : "order", i,
                                       drivers[srv->driver]);
        }
        prepare_once(s, cfg, stmt);
        if (!def->update && !def->logged && !dry_run) {
            /* for the backfill of conf/upgrade-<driver>.sql */
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "PV015 %s (%s) names "
                         "its orders in portone_orders with order_key %s",
                         def->directive, def->where, def->order_key);
            def->logged = 1;
        }
        st[k] = stmt;
        names[k++] = apr_psprintf(ptemp, "%s (%s)", def->directive, def->where);
    }
    return dry_run ? OK : check_sql(s, cfg, st, names, k, ptemp);
}

static int pv_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *main_s)
{
    int dry_run = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
    server_rec *s;

    (void)plog;
    stats = dry_run ? NULL : pv_stats_create(pconf);
    if (pv_client_global_init(pconf) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_s, "PV005 curl_global_init failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (s = main_s; s; s = s->next) {
        pv_srv *srv = srv_of(s);
        const dbd_cfg_t *cfg;
        const char *err;
        int used = 0;

        if (check_scopes(s, ptemp, &used) != OK)
            return HTTP_INTERNAL_SERVER_ERROR;
        if (!used)
            continue;
        cfg = dbd_cfg_of(s);
        if (!cfg || !cfg->name || cfg->name[0] == '[') {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV007 DBDriver is not "
                         "set: mod_portone_verify needs a mod_dbd database");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        err = pv_store_init(pconf, &srv->store, cfg->name, "portone_verify_");
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PV008 DBDriver %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        srv->driver = pv_sql_dialect_of(cfg->name);   /* known: store_init */
        srv->store.stats = stats;
        if (srv->driver == 0) {
            if (!sqlite_mutex && !dry_run
                && ap_global_mutex_create(&sqlite_mutex, NULL, PV_SQLITE_MUTEX,
                                          NULL, main_s, pconf, 0) != APR_SUCCESS)
                return HTTP_INTERNAL_SERVER_ERROR;   /* it logged why */
            srv->store.serial = sqlite_mutex;
        }
        if (prepare_server(s, main_s, srv, cfg, pconf, ptemp, dry_run) != OK)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void trace_call(void *baton, const char *method, const char *path,
                       long status, apr_interval_time_t took, pv_err err,
                       const char *error)
{
    pv_stats_api_call(stats, !strcmp(path, "/users/getToken"), status,
                      err == PV_E_UPSTREAM_TIMEOUT, took);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, (server_rec *)baton,
                 "PV200 PortOne %s %s -> %ld in %" APR_TIME_T_FMT " ms%s%s",
                 method, path, status, apr_time_as_msec(took),
                 error ? ": " : "", error ? error : "");
}

static int pv_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    sqlite_mutex = NULL;
    stats = NULL;
    sqldefs = NULL;
    sqldef_servers = NULL;
    return ap_mutex_register(pconf, PV_SQLITE_MUTEX, NULL, APR_LOCK_DEFAULT, 0)
           == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static void pv_child_init(apr_pool_t *p, server_rec *main_s)
{
    server_rec *s;

    if (sqlite_mutex
        && apr_global_mutex_child_init(&sqlite_mutex,
                                       apr_global_mutex_lockfile(sqlite_mutex),
                                       p) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, main_s, "PV011 cannot attach "
                     "to the SQLite writers' mutex");
    main_server = main_s;
    clients_pool = p;
    clients = apr_hash_make(p);
    if (apr_thread_mutex_create(&clients_lock, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS)
        clients_lock = NULL;
    for (s = main_s; s; s = s->next) {
        pv_srv *srv = srv_of(s);

        if (srv->store.batch && !srv->store.group
            && pv_store_group_create(p, &srv->store.group) != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "PV012 cannot create "
                         "the database writers' commit group");
    }
}

/* The client of this scope's account, made on its first use in this
 * process. NULL when it cannot be made (logged). */
static pv_client_t *client_for(request_rec *r, const pv_dir *c)
{
    pv_client_conf_t cc;
    pv_client_t *client;
    const char *id;

    memset(&cc, 0, sizeof(cc));
    cc.base_url = c->api_url ? c->api_url : "https://api.iamport.kr";
    cc.key = c->api_key;
    cc.secret = c->api_secret;
    cc.tier = c->tier;
    cc.ca_file = c->ca_file;
    cc.proxy = c->proxy;
    cc.sandbox = c->sandbox == 1;
    cc.timeout = c->timeout > 0 ? c->timeout : apr_time_from_sec(30);
    cc.connect_timeout = c->connect_timeout > 0 ? c->connect_timeout
                                                : apr_time_from_sec(5);
    /* the identity of the account and of its connections; a key of this
     * process's table only, never logged */
    id = apr_psprintf(r->pool, "%s\n%s\n%s\n%s\n%s\n%s\n%d\n%" APR_TIME_T_FMT
                      "\n%" APR_TIME_T_FMT, cc.base_url, cc.key, cc.secret,
                      cc.tier ? cc.tier : "", cc.ca_file ? cc.ca_file : "",
                      cc.proxy ? cc.proxy : "", cc.sandbox, cc.timeout,
                      cc.connect_timeout);
    if (!clients_lock)
        return NULL;
    apr_thread_mutex_lock(clients_lock);
    client = apr_hash_get(clients, id, APR_HASH_KEY_STRING);
    if (!client) {
        /* every request thread may hold one; keep them all for keep-alive */
        if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &cc.max_idle) != APR_SUCCESS
            || cc.max_idle < 1)
            cc.max_idle = 1;
        cc.base_url = apr_pstrdup(clients_pool, cc.base_url);
        cc.key = apr_pstrdup(clients_pool, cc.key);
        cc.secret = apr_pstrdup(clients_pool, cc.secret);
        cc.tier = cc.tier ? apr_pstrdup(clients_pool, cc.tier) : NULL;
        cc.ca_file = cc.ca_file ? apr_pstrdup(clients_pool, cc.ca_file) : NULL;
        cc.proxy = cc.proxy ? apr_pstrdup(clients_pool, cc.proxy) : NULL;
        if (pv_client_create(clients_pool, &cc, trace_call, main_server,
                             &client) == APR_SUCCESS)
            apr_hash_set(clients, apr_pstrdup(clients_pool, id),
                         APR_HASH_KEY_STRING, client);
        else
            client = NULL;
    }
    apr_thread_mutex_unlock(clients_lock);
    if (!client)
        ap_log_rerror(APLOG_MARK, APLOG_CRIT, 0, r, "PV009 cannot create the "
                      "PortOne client");
    return client;
}

/* ----------------------------------------------------------------- answers */

/* The members of an answer (at most those of a vbank_issued one). */
#define PV_REPLY_MAX 8

typedef struct {
    pv_json_out_t m[PV_REPLY_MAX];
    int n;
} pv_reply_t;

/* |val| as a JSON string, or with |raw| as it is (a number); NULL: left
 * out. */
static void add_member(pv_reply_t *reply, const char *key, const char *val,
                       int raw)
{
    if (reply->n < PV_REPLY_MAX) {
        reply->m[reply->n].key = key;
        reply->m[reply->n].value = val;
        reply->m[reply->n].raw = raw;
        reply->n++;
    }
}

static void add_str(pv_reply_t *reply, const char *key, const char *val)
{
    add_member(reply, key, val, 0);
}

static int send_json(request_rec *r, int status, const pv_reply_t *reply)
{
    size_t len;
    const char *text = pv_json_object(r->pool, reply->m, reply->n, &len);

    r->status = status;
    ap_set_content_type(r, "application/json; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only)
        ap_rwrite(text, (int)len, r);
    return OK;
}

static int answer_error(request_rec *r, pv_err err, const char *detail)
{
    const pv_err_info *info = pv_err_lookup(err);
    pv_reply_t reply = {{{NULL, NULL, 0}}, 0};

    apr_table_setn(r->notes, "portone-outcome", info->code);
    if (stats) {
        pv_stats_add(&stats->errors[err], 1);
        if (err == PV_E_DATABASE_UNAVAILABLE)
            pv_stats_add(&stats->db_errors, 1);
    }
    add_str(&reply, "status", "error");
    add_str(&reply, "code", info->code);
    add_str(&reply, "message", detail ? detail : info->message);
    if (err == PV_E_METHOD_NOT_ALLOWED)
        apr_table_setn(r->headers_out, "Allow", "POST");
    /* the rest of a refused body is not read: close instead */
    if (err == PV_E_PAYLOAD_TOO_LARGE || err == PV_E_METHOD_NOT_ALLOWED
        || err == PV_E_UNSUPPORTED_MEDIA_TYPE)
        r->connection->keepalive = AP_CONN_CLOSE;
    return send_json(r, info->http_status, &reply);
}

/* ------------------------------------------------------------------ body */

static pv_err read_body(request_rec *r, char **body, apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *bb;
    apr_size_t cap = 8192;
    char *buf;
    int eos = 0;

    *len = 0;
    if (cl) {
        apr_off_t n;
        char *end;

        if (apr_strtoff(&n, cl, &end, 10) != APR_SUCCESS || *end || n < 0)
            return PV_E_INVALID_REQUEST;
        if (n > PV_BODY_MAX)
            return PV_E_PAYLOAD_TOO_LARGE;
        cap = (apr_size_t)n + 1;
    }
    buf = apr_palloc(r->pool, cap);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!eos) {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, HUGE_STRING_LEN);

        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            r->connection->keepalive = AP_CONN_CLOSE;
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST)
                   == HTTP_REQUEST_ENTITY_TOO_LARGE ? PV_E_PAYLOAD_TOO_LARGE
                                                    : PV_E_INVALID_REQUEST;
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                eos = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                return PV_E_INVALID_REQUEST;
            }
            if (*len + n > PV_BODY_MAX) {
                apr_brigade_cleanup(bb);
                return PV_E_PAYLOAD_TOO_LARGE;
            }
            if (*len + n + 1 > cap) {
                char *bigger;

                while (*len + n + 1 > cap)
                    cap *= 2;
                bigger = apr_palloc(r->pool, cap);
                memcpy(bigger, buf, *len);
                buf = bigger;
            }
            memcpy(buf + *len, data, n);
            *len += n;
        }
        apr_brigade_cleanup(bb);
    }
    buf[*len] = '\0';
    *body = buf;
    return PV_OK;
}

/* ---------------------------------------------------------------- database */

/* Loads the order and records the verification on one pooled connection,
 * taken only now that PortOne has answered. One retry after recovering the
 * connection (a restarted server loses prepared statements). */
static pv_err database_phase(request_rec *r, const pv_dir *c, const pv_srv *srv,
                             const pv_payment_t *pay, const pv_claim_t *claim,
                             pv_decision_t *dec, pv_order_t *order,
                             pv_result_t *res, const char **why)
{
    const char *values[PV_P_COUNT];
    ap_dbd_t *dbd = dbd_open_fn(r->pool, r->server);
    pv_scope_t scope;
    pv_db_t db;
    pv_record_t prior;
    pv_err err = PV_OK;
    int attempt, found = 0;

    if (!dbd) {
        *why = "mod_dbd has no connection (see its log line above)";
        return PV_E_DATABASE_UNAVAILABLE;
    }
    scope.order = &c->order->by_driver[srv->driver];
    scope.order_update = c->order_update
                         ? &c->order_update->by_driver[srv->driver] : NULL;
    scope.order_key = c->order->order_key;
    db.driver = dbd->driver;
    db.handle = dbd->handle;
    db.prepared = dbd->prepared;
    db.pool = dbd->pool;
    pv_store_attach(&db);
    pv_store_values(pay, PV_OUT_PENDING, scope.order_key, values, r->pool);
    for (attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "PV300 database "
                          "error, retrying once on a recovered connection: %s",
                          *why);
            if (pv_store_recover(&srv->store, &scope, &db) != APR_SUCCESS)
                break;
        }
        err = pv_store_load_order(&srv->store, &scope, &db, r->pool, values,
                                  order, &found, &prior, why);
        if (err != PV_OK)
            continue;
        if (!found)
            break;
        /* an order without a currency of its own is due in the scope's */
        if (!order->currency)
            order->currency = c->currency ? c->currency : "KRW";
        pv_decide(pay, order, c->sandbox == 1, claim->merchant_uid, dec);
        pv_store_values(pay, dec->outcome, scope.order_key, values, r->pool);
        err = pv_store_record(&srv->store, &scope, &db, r->pool, values,
                              dec->outcome, &prior, res, why);
        if (err == PV_OK)
            break;
    }
    dbd_close_fn(r->server, dbd);
    if (err == PV_OK && !found) {
        *why = apr_psprintf(r->pool, "no order %s", pay->merchant_uid);
        return PV_E_ORDER_NOT_FOUND;
    }
    return err;
}

/* ----------------------------------------------------------------- handler */

/* What the log says of the record after a verification. */
static const char *record_note(request_rec *r, const pv_decision_t *dec,
                               const pv_result_t *res)
{
    const char *what;

    switch (res->action) {
    case PV_ACT_INSERT:
    case PV_ACT_ADVANCE:
        what = " (recorded)";
        break;
    case PV_ACT_REFRESH:
        what = " (refreshed: cancel_amount grew)";
        break;
    default:
        what = res->recorded == dec->outcome ? " (already recorded)"
               : apr_pstrcat(r->pool, " (kept the recorded ",
                             pv_outcome_lookup(res->recorded)->name, ")",
                             (char *)NULL);
        break;
    }
    if (res->order_kept)
        what = apr_pstrcat(r->pool, what, "; the order was left as it is: "
                           "another payment of it has paid it", (char *)NULL);
    return what;
}

static int pv_handler(request_rec *r)
{
    pv_dir *c;
    pv_srv *srv;
    pv_client_t *client;
    pv_body_kind kind;
    pv_claim_t claim;
    pv_payment_t pay;
    pv_decision_t dec;
    pv_order_t order = {NULL, NULL};
    pv_result_t res;
    pv_outcome answered;
    const pv_outcome_info *info;
    pv_reply_t reply = {{{NULL, NULL, 0}}, 0};
    const char *why = NULL, *handler, *missing;
    char *body = NULL;
    apr_size_t len = 0;
    pv_err err;
    int webhook;

    if (!r->handler)
        return DECLINED;
    if (!strcmp(r->handler, "portone-verify"))
        webhook = 0;
    else if (!strcmp(r->handler, "portone-webhook"))
        webhook = 1;
    else
        return DECLINED;
    handler = r->handler;
    c = ap_get_module_config(r->per_dir_config, &portone_verify_module);
    srv = srv_of(r->server);
    if (stats)
        pv_stats_add(webhook ? &stats->webhook_requests : &stats->verify_requests, 1);

    if (r->method_number != M_POST)
        return answer_error(r, PV_E_METHOD_NOT_ALLOWED, NULL);
    missing = missing_of(c);
    if (!missing && srv->driver < 0)
        missing = "DBDriver";
    if (missing || !(client = client_for(r, c))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PV010 %s: %s is not set "
                      "for this location (PortOneAPIKey, PortOneAPISecret and "
                      "PortOneOrderQuery are needed)", handler,
                      missing ? missing : "a PortOne client");
        return answer_error(r, PV_E_NOT_CONFIGURED, NULL);
    }
    err = pv_request_media(apr_table_get(r->headers_in, "Content-Type"),
                           webhook, &kind);
    if (err == PV_OK)
        err = read_body(r, &body, &len);
    if (err == PV_OK)
        err = pv_request_parse(r->pool, body, len, kind, &claim, &why);
    if (err != PV_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PV100 %s: rejected "
                      "request: %s%s%s", handler, pv_err_lookup(err)->code,
                      why ? ": " : "", why ? why : "");
        return answer_error(r, err, why);
    }
    apr_table_setn(r->notes, "portone-imp-uid", claim.imp_uid);

    err = pv_client_get_payment(client, r->pool, claim.imp_uid, &pay, &why);
    if (err == PV_OK && strcmp(pay.imp_uid, claim.imp_uid)) {
        err = PV_E_UPSTREAM_ERROR;
        why = "PortOne answered with another imp_uid";
    }
    if (err == PV_OK)
        err = database_phase(r, c, srv, &pay, &claim, &dec, &order, &res, &why);
    if (err != PV_OK) {
        ap_log_rerror(APLOG_MARK,
                      err == PV_E_PAYMENT_NOT_FOUND || err == PV_E_ORDER_NOT_FOUND
                      ? APLOG_INFO : APLOG_ERR, 0, r,
                      "PV101 %s imp_uid=%s merchant_uid=%s: %s: %s", handler,
                      claim.imp_uid, claim.merchant_uid, pv_err_lookup(err)->code,
                      why ? why : "");
        return answer_error(r, err, NULL);
    }

    /* The answer is the payment's recorded outcome (a stale look-up does not
     * undo a newer one), except that a failed check is always answered as
     * a forgery, also where the record stays (a paid payment whose order
     * was edited after it). */
    answered = dec.outcome == PV_OUT_FORGERY ? PV_OUT_FORGERY : res.recorded;
    info = pv_outcome_lookup(answered);
    if (stats)
        pv_stats_add(dec.claim_mismatch ? &stats->claim_forgeries
                                        : &stats->outcomes[answered], 1);
    apr_table_setn(r->notes, "portone-outcome",
                   dec.claim_mismatch ? "forgery" : info->name);
    ap_log_rerror(APLOG_MARK,
                  dec.outcome == PV_OUT_FORGERY || dec.claim_mismatch
                  ? APLOG_WARNING : APLOG_INFO, 0, r,
                  "PV102 %s imp_uid=%s merchant_uid=%s outcome=%s%s%s%s%s%s",
                  handler, pay.imp_uid, pay.merchant_uid,
                  pv_outcome_lookup(dec.outcome)->name, record_note(r, &dec, &res),
                  dec.reason ? ": " : "", dec.reason ? dec.reason : "",
                  dec.outcome == PV_OUT_FORGERY
                  ? apr_psprintf(r->pool, " (PortOne: %s %s, the order: %s %s)",
                                 pay.amount, pay.currency ? pay.currency : "-",
                                 order.amount ? order.amount : "NULL",
                                 order.currency) : "",
                  dec.claim_mismatch
                  ? apr_psprintf(r->pool, "; forged claim: merchant_uid %s is "
                                 "not PortOne's", claim.merchant_uid) : "");

    if (dec.claim_mismatch) {
        const pv_outcome_info *forgery = pv_outcome_lookup(PV_OUT_FORGERY);

        add_str(&reply, "status", forgery->answer_status);
        add_str(&reply, "message", forgery->message);
        add_str(&reply, "imp_uid", claim.imp_uid);
        add_str(&reply, "merchant_uid", claim.merchant_uid);
        return send_json(r, forgery->http_status, &reply);
    }
    add_str(&reply, "status", webhook ? info->name : info->answer_status);
    if (!webhook)
        add_str(&reply, "message", info->message);
    add_str(&reply, "imp_uid", pay.imp_uid);
    add_str(&reply, "merchant_uid", pay.merchant_uid);
    if (!webhook && answered == PV_OUT_VBANK_ISSUED) {
        add_str(&reply, "vbank_num", pay.vbank_num);
        add_str(&reply, "vbank_name", pay.vbank_name);
        if (pay.vbank_date)             /* an integer, as PortOne's */
            add_member(&reply, "vbank_date",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    apr_atoi64(pay.vbank_date)), 1);
    }
    return send_json(r, webhook ? HTTP_OK : info->http_status, &reply);
}

/* ------------------------------------------------------------ mod_status */

typedef struct {
    const char *key;            /* ?auto: PortOne<key> */
    const char *label;          /* HTML */
    apr_uint64_t value;
} pv_status_row;

static int pv_status_hook(request_rec *r, int flags)
{
    /* the counters by outcome, error and latency, and the single ones */
    pv_status_row rows[PV_OUT_COUNT + PV_E_COUNT + PV_LATENCY_BUCKETS + 16];
    pv_stats_t st;
    apr_uint64_t total = 0;
    int i, n = 0;

    if (!stats)
        return OK;
    pv_stats_read(stats, &st);
    for (i = 0; i < PV_OUT_COUNT; i++)
        total += st.outcomes[i];
#define ROW(k, l, v) do { \
        if (n < (int)(sizeof(rows) / sizeof(rows[0]))) { \
            rows[n].key = (k); rows[n].label = (l); rows[n++].value = (v); \
        } \
    } while (0)
    ROW("Verifications", "verifications", total);
    for (i = 0; i < PV_OUT_COUNT; i++) {
        const char *name = pv_outcome_lookup((pv_outcome)i)->name;

        ROW(apr_pstrcat(r->pool, "Outcome_", name, (char *)NULL),
            apr_pstrcat(r->pool, "outcome ", name, (char *)NULL), st.outcomes[i]);
    }
    for (i = 1; i < PV_E_COUNT; i++) {
        const char *code = pv_err_lookup((pv_err)i)->code;

        ROW(apr_pstrcat(r->pool, "Error_", code, (char *)NULL),
            apr_pstrcat(r->pool, "error ", code, (char *)NULL), st.errors[i]);
    }
    ROW("APICalls", "PortOne calls", st.api_calls);
    ROW("APIErrors", "PortOne errors", st.api_errors);
    ROW("APITimeouts", "PortOne timeouts", st.api_timeouts);
    ROW("TokenRefreshes", "token refreshes (getToken)", st.token_fetches);
    ROW("DatabaseErrors", "database errors", st.db_errors);
    ROW("DatabaseCommits", "write transactions committed", st.db_commits);
    ROW("DatabaseWrites", "verifications written in them", st.db_written);
    ROW("VerifyRequests", "portone-verify requests", st.verify_requests);
    ROW("WebhookRequests", "portone-webhook requests", st.webhook_requests);
    ROW("ClaimForgeries", "claims naming another order", st.claim_forgeries);
    for (i = 0; i < PV_LATENCY_BUCKETS; i++) {
        unsigned int ms = pv_latency_bounds_ms[i < PV_LATENCY_BUCKETS - 1 ? i : i - 1];
        int under = i < PV_LATENCY_BUCKETS - 1;

        ROW(apr_psprintf(r->pool, "APILatency%s%ums", under ? "Under" : "Over", ms),
            apr_psprintf(r->pool, "PortOne calls %s %u ms", under ? "under" : "over", ms),
            st.latency[i]);
    }
#undef ROW
    if (!(flags & AP_STATUS_SHORT))
        ap_rputs("<hr />\n<h2>PortOne verification (mod_portone_verify)</h2>\n"
                 "<table border=\"0\"><tr><th>counter</th><th>value</th></tr>\n", r);
    for (i = 0; i < n; i++)
        ap_rprintf(r, (flags & AP_STATUS_SHORT)
                   ? "PortOne%s: %" APR_UINT64_T_FMT "\n"
                   : "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   (flags & AP_STATUS_SHORT) ? rows[i].key : rows[i].label,
                   rows[i].value);
    ap_rprintf(r, (flags & AP_STATUS_SHORT) ? "PortOneAPILatencyAvgMs: %.1f\n"
               : "<tr><td>PortOne latency, average</td><td>%.1f ms</td></tr>\n"
                 "</table>\n",
               st.api_calls ? (double)st.api_latency_us / 1000.0 / (double)st.api_calls
                            : 0.0);
    return OK;
}

static void pv_register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};

    (void)p;
    ap_hook_pre_config(pv_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(pv_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    ap_hook_child_init(pv_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pv_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, pv_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(portone_verify) = {
    STANDARD20_MODULE_STUFF,
    create_dir,         /* every directive in server, vhost and <Location> */
    merge_dir,
    create_srv,         /* a server's database: the module's statements */
    NULL,
    pv_cmds,
    pv_register_hooks,
    AP_MODULE_FLAG_NONE
};
