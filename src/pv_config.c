/* The module's configuration: scopes and servers, their merge, the
 * directives, the start-up check of scopes, and the PortOne clients of a
 * process (pv_config.h). */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_mpm.h"
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_uri.h>
#include <arpa/inet.h>

#include "pv_config.h"
#include "pv_dbd.h"
#include "pv_log.h"
#include "pv_status.h"

APLOG_USE_MODULE(portone_verify);

#define PV_UNSET -1

/* Every SQL directive of the configuration, to prepare on the servers that
 * can see it (a vhost sees its own and the main server's sections). */
static apr_array_header_t *sqldefs;     /* pv_sqldef_t * */

/* PortOne clients of this process, one per account (URL, key, secret and
 * the settings of the connection): the token cache and the kept
 * connections are an account's, never another scope's. */
static apr_hash_t *clients;
static apr_thread_mutex_t *clients_lock;
static apr_pool_t *clients_pool;
static server_rec *main_server;

/* ------------------------------------------------------------------ config */

void *pv_config_create_dir(apr_pool_t *p, char *path)
{
    pv_dir *c = apr_pcalloc(p, sizeof(*c));

    c->sandbox = PV_UNSET;
    c->cancel_forgery = PV_UNSET;
    c->timeout = PV_UNSET;
    c->connect_timeout = PV_UNSET;
    c->webhook_tolerance = PV_UNSET;
    c->where = path;
    return c;
}

#define MERGE(f, unset) c->f = (add->f != (unset)) ? add->f : base->f

void *pv_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
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
    MERGE(cancel_forgery, PV_UNSET);
    MERGE(timeout, PV_UNSET);
    MERGE(connect_timeout, PV_UNSET);
    MERGE(order, NULL);
    MERGE(order_update, NULL);
    MERGE(reconcile, NULL);
    MERGE(v2_secret, NULL);
    MERGE(v2_url, NULL);
    MERGE(store_id, NULL);
    MERGE(webhook_tolerance, PV_UNSET);
    /* the secrets as one value: a section's replace both of its server's */
    if (add->webhook_nkeys) {
        c->webhook_nkeys = add->webhook_nkeys;
        memcpy(c->webhook_keys, add->webhook_keys, sizeof(c->webhook_keys));
    }
    else {
        c->webhook_nkeys = base->webhook_nkeys;
        memcpy(c->webhook_keys, base->webhook_keys, sizeof(c->webhook_keys));
    }
    c->where = add->where ? add->where : base->where;
    c->identity = add->identity || base->identity;
    return c;
}

void *pv_config_create_srv(apr_pool_t *p, server_rec *s)
{
    pv_srv *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->dialect = PV_SQL_UNKNOWN;
    return c;
}

pv_srv *pv_config_srv(const server_rec *s)
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
        || cmd->info == (void *)APR_OFFSETOF(pv_dir, api_secret)
        || cmd->info == (void *)APR_OFFSETOF(pv_dir, v2_secret))
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
    *(const char **)((char *)conf + (size_t)cmd->info) =
        apr_pstrmemdup(cmd->pool, arg, n);
    return NULL;
}

/* One or two V2 webhook secrets, decoded now: a bad one stops the start-up
 * with the directive's name and why, never the secret itself. */
static const char *set_webhook_secret(cmd_parms *cmd, void *conf,
                                      const char *a1, const char *a2)
{
    pv_dir *c = conf;
    const char *args[2] = {a1, a2};
    pv_webhook_key_t keys[PV_WEBHOOK_SECRETS_MAX];
    int i, n = a2 ? 2 : 1;

    memset(keys, 0, sizeof(keys));
    for (i = 0; i < n; i++) {
        const char *err = check_text(cmd, args[i]);

        if (err)
            return err;
        if ((err = pv_webhook_key(cmd->pool, args[i], &keys[i])) != NULL)
            return apr_psprintf(cmd->pool, "%s: the %s secret is not valid: "
                                "%s", cmd->cmd->name, i ? "second" : "first",
                                err);
    }
    memcpy(c->webhook_keys, keys, sizeof(keys[0]) * (size_t)n);
    c->webhook_nkeys = n;
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

static const char *set_cancel_forgery(cmd_parms *cmd, void *conf, int on)
{
    (void)cmd;
    ((pv_dir *)conf)->cancel_forgery = on;
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
    if ((err = pv_dbd_bind()) != NULL)
        return err;
    def->directive = cmd->cmd->name;
    def->raw = arg;
    def->server = cmd->server;
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
    else if (cmd->info == (void *)2) {
        def->reconcile = 1;
        c->reconcile = def;
    }
    else {
        def->update = 1;
        c->order_update = def;
    }
    c->identity = 1;
    if (!sqldefs)
        sqldefs = apr_array_make(cmd->pool, 8, sizeof(pv_sqldef_t *));
    APR_ARRAY_PUSH(sqldefs, pv_sqldef_t *) = def;
    return NULL;
}

void pv_config_forget(void)
{
    sqldefs = NULL;
}

const apr_array_header_t *pv_config_sqldefs(void)
{
    return sqldefs;
}

#define STR_OFFSET(f) ((void *)APR_OFFSETOF(pv_dir, f))
#define PV_CONTEXT (RSRC_CONF | ACCESS_CONF)

const command_rec pv_config_cmds[] = {
    AP_INIT_TAKE1("PortOneAPIKey", set_string, STR_OFFSET(api_key), PV_CONTEXT,
                  "PortOne REST API key (imp_key)"),
    AP_INIT_TAKE1("PortOneAPISecret", set_string, STR_OFFSET(api_secret),
                  PV_CONTEXT, "PortOne REST API secret (imp_secret); use "
                  "${ENV_VAR} to keep it out of the file"),
    AP_INIT_TAKE1("PortOneAPIURL", set_url, STR_OFFSET(api_url), PV_CONTEXT,
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
    AP_INIT_FLAG("PortOneCancelForgery", set_cancel_forgery, NULL, PV_CONTEXT,
                 "On: cancel in full, once, a forged payment that PortOne "
                 "reports paid (default Off)"),
    AP_INIT_TAKE1("PortOneOrderQuery", set_sql, (void *)0, PV_CONTEXT,
                  "SQL loading the amount due (and currency) by :merchant_uid"),
    AP_INIT_TAKE1("PortOneOrderUpdateQuery", set_sql, (void *)1, PV_CONTEXT,
                  "SQL run in the same transaction when an order's state changes"),
    AP_INIT_TAKE1("PortOneReconcileQuery", set_sql, (void *)2, PV_CONTEXT,
                  "SQL whose first column names the orders still waiting for "
                  "payment, for portone-reconcile"),
    AP_INIT_TAKE1("PortOneV2Secret", set_string, STR_OFFSET(v2_secret),
                  PV_CONTEXT, "PortOne V2 API secret; enables V2 (use "
                  "${ENV_VAR} to keep it out of the file)"),
    AP_INIT_TAKE1("PortOneV2URL", set_url, STR_OFFSET(v2_url), PV_CONTEXT,
                  "PortOne V2 API base URL (default https://api.portone.io)"),
    AP_INIT_TAKE1("PortOneStoreId", set_string, STR_OFFSET(store_id),
                  PV_CONTEXT, "PortOne V2 store id: sent as storeId, another "
                  "store's payment is a forgery"),
    AP_INIT_TAKE12("PortOneWebhookSecret", set_webhook_secret, NULL,
                   PV_CONTEXT, "V2 webhook secret (whsec_...), two during a "
                   "rotation; required to accept V2 webhooks"),
    AP_INIT_TAKE1("PortOneWebhookTolerance", set_seconds,
                  STR_OFFSET(webhook_tolerance), PV_CONTEXT, "Seconds a V2 "
                  "webhook's timestamp may be from now (default 300)"),
    {NULL}
};

/* ---------------------------------------------------------------- start-up */

const char *pv_config_missing(const pv_dir *c)
{
    /* V1 needs both, V2 its secret; a half-set V1 account is named even
     * beside a V2 secret */
    if (c->api_key && !c->api_secret)
        return "PortOneAPISecret";
    if (!c->api_key && (c->api_secret || !c->v2_secret))
        return "PortOneAPIKey";
    if (!c->order)
        return "PortOneOrderQuery";
    return NULL;
}

/* A server whose sections set an account or SQL of their own is checked
 * through them, each merged with what it inherits. */
int pv_config_check_scopes(server_rec *s, apr_pool_t *ptemp, int *used)
{
    core_server_config *core = ap_get_core_module_config(s->module_config);
    apr_array_header_t *secs[2] = {core->sec_url, core->sec_dir};
    pv_dir *base = ap_get_module_config(s->lookup_defaults,
                                        &portone_verify_module);
    const char *missing;
    int i, k, sections = 0;

    for (k = 0; k < 2; k++) {
        for (i = 0; secs[k] && i < secs[k]->nelts; i++) {
            ap_conf_vector_t *v = APR_ARRAY_IDX(secs[k], i, ap_conf_vector_t *);
            pv_dir *sec = ap_get_module_config(v, &portone_verify_module);
            pv_dir *merged;

            if (!sec || !sec->identity)
                continue;
            sections = 1;
            merged = pv_config_merge_dir(ptemp, base, sec);
            if ((missing = pv_config_missing(merged)) != NULL) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0014)
                             "%s is required where PortOne verification is "
                             "configured (%s of server %s:%u)", missing,
                             sec->where ? sec->where : "a section",
                             s->server_hostname, s->port);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    *used = sections || base->identity;
    if (!sections && base->identity
        && (missing = pv_config_missing(base)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0006) "%s is required "
                     "where PortOne verification is configured (server "
                     "%s:%u)", missing, s->server_hostname, s->port);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void pv_config_pipeline(const pv_dir *c, const pv_srv *srv, pv_scope_t *scope,
                        pv_pipeline_conf_t *conf)
{
    scope->order = &c->order->by_dialect[srv->dialect];
    scope->order_update = c->order_update
                          ? &c->order_update->by_dialect[srv->dialect] : NULL;
    scope->order_key = c->order->order_key;
    scope->reconcile = c->reconcile
                       ? &c->reconcile->by_dialect[srv->dialect] : NULL;
    conf->currency = c->currency;
    conf->sandbox = c->sandbox == 1;
    conf->cancel_forgery = c->cancel_forgery == 1;
}

int pv_config_v1(const pv_dir *c)
{
    return c->api_key && c->api_secret;
}

/* ------------------------------------------------------------ the clients */

static void trace_call(void *baton, const char *method, const char *path,
                       long status, apr_interval_time_t took, pv_err err,
                       const char *error)
{
    pv_stats_api_call(pv_status_counters(), !strcmp(path, "/users/getToken"),
                      status, err == PV_E_UPSTREAM_TIMEOUT, took);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, (server_rec *)baton,
                 PVLOGNO(0200) "PortOne %s %s -> %ld in %" APR_TIME_T_FMT " ms%s%s",
                 method, path, status, apr_time_as_msec(took),
                 error ? ": " : "", error ? error : "");
}

void pv_config_child_init(apr_pool_t *p, server_rec *main_s)
{
    main_server = main_s;
    clients_pool = p;
    clients = apr_hash_make(p);
    if (apr_thread_mutex_create(&clients_lock, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS)
        clients_lock = NULL;
}

pv_client_t *pv_config_client(request_rec *r, const pv_dir *c)
{
    pv_client_conf_t cc;
    pv_client_t *client;
    const char *id;

    memset(&cc, 0, sizeof(cc));
    cc.base_url = c->api_url ? c->api_url : "https://api.iamport.kr";
    cc.key = c->api_key;
    cc.secret = c->api_secret;
    if (c->v2_secret) {
        cc.v2_base_url = c->v2_url ? c->v2_url : "https://api.portone.io";
        cc.v2_secret = c->v2_secret;
        cc.store_id = c->store_id;
    }
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
                      "\n%" APR_TIME_T_FMT "\n%s\n%s\n%s", cc.base_url,
                      cc.key ? cc.key : "", cc.secret ? cc.secret : "",
                      cc.tier ? cc.tier : "", cc.ca_file ? cc.ca_file : "",
                      cc.proxy ? cc.proxy : "", cc.sandbox, cc.timeout,
                      cc.connect_timeout,
                      cc.v2_base_url ? cc.v2_base_url : "",
                      cc.v2_secret ? cc.v2_secret : "",
                      cc.store_id ? cc.store_id : "");
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
        cc.v2_base_url = apr_pstrdup(clients_pool, cc.v2_base_url);
        cc.v2_secret = apr_pstrdup(clients_pool, cc.v2_secret);
        cc.store_id = apr_pstrdup(clients_pool, cc.store_id);
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
        ap_log_rerror(APLOG_MARK, APLOG_CRIT, 0, r, PVLOGNO(0009)
                      "cannot create the PortOne client");
    return client;
}
