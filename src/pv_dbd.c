/* mod_dbd through its public interface (pv_dbd.h).
 *
 * mod_dbd keeps its server record private and has no function that tells a
 * module the driver or the parameters of a server. They are read here from
 * httpd's configuration tree (ap_conftree, public: mod_info reads it too),
 * as mod_dbd's own handlers and merge see them: DBDriver and DBDParams are
 * server directives (RSRC_CONF), so they are top-level nodes of the tree
 * for the main server and children of a <VirtualHost> node for a virtual
 * host (<IfModule>, <IfDefine> and Include are flattened into the tree when
 * it is read); the last one of a server wins, and a virtual host without
 * one has the main server's (an empty DBDParams counts as none). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_cfgtree.h"
#include <apr_dbd.h>
#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_optional.h>
#include <apr_strings.h>

#include "pv_dbd.h"
#include "pv_log.h"

APLOG_USE_MODULE(portone_verify);

static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

/* What the configuration read last says, for post_config (pv_dbd_begin) */
static pv_dbd_settings_t main_settings;
static apr_hash_t *vhost_settings;      /* server_rec * -> vhost_t */
static module *dbd_module_rec;          /* NULL: mod_dbd is not loaded */
static apr_hash_t *handed;              /* "<statement list> <label>" */

const char *pv_dbd_bind(void)
{
    if (!dbd_prepare_fn || !dbd_open_fn || !dbd_close_fn) {
        dbd_prepare_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
        dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
        dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
        if (!dbd_prepare_fn || !dbd_open_fn || !dbd_close_fn)
            return "mod_portone_verify needs mod_dbd: LoadModule dbd_module "
                   "before portone_verify_module";
    }
    return NULL;
}

static apr_status_t lend(pv_dbconn_t *conn, apr_pool_t *pool, pv_db_t *db,
                         const char **why)
{
    pv_dbd_lender_t *l = conn->baton;

    l->dbd = dbd_open_fn(pool, l->server);
    if (!l->dbd) {
        *why = "mod_dbd has no connection (see its log line above)";
        return APR_EGENERAL;
    }
    db->driver = l->dbd->driver;
    db->handle = l->dbd->handle;
    db->prepared = l->dbd->prepared;
    db->pool = l->dbd->pool;
    return APR_SUCCESS;
}

static void give_back(pv_dbconn_t *conn, pv_db_t *db)
{
    pv_dbd_lender_t *l = conn->baton;

    (void)db;
    if (l->dbd)
        dbd_close_fn(l->server, l->dbd);
    l->dbd = NULL;
}

void pv_dbd_lender(pv_dbd_lender_t *l, server_rec *s)
{
    l->conn.open = lend;
    l->conn.close = give_back;
    l->conn.baton = l;
    l->server = s;
    l->dbd = NULL;
}

/* ------------------------------------------------------- the settings */

/* The argument of |d|, as httpd hands it to a TAKE1 directive's handler
 * (quotes removed, ${VAR} already resolved when the tree was read). */
static const char *take1(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args;

    return ap_getword_conf(p, &args);
}

/* DBDriver and DBDParams among |first| and the nodes after it. */
static void read_level(apr_pool_t *p, const ap_directive_t *first,
                       pv_dbd_settings_t *set)
{
    const ap_directive_t *d;

    for (d = first; d; d = d->next) {
        if (!strcasecmp(d->directive, "DBDriver"))
            set->driver = take1(p, d);
        else if (!strcasecmp(d->directive, "DBDParams"))
            set->params = take1(p, d);
    }
}

typedef struct {
    const server_rec *server;   /* the key */
    pv_dbd_settings_t set;
} vhost_t;

/* The server that the <VirtualHost> node |d| made: httpd notes where each
 * virtual host was defined (server_rec's defn_name, defn_line_number). */
static server_rec *vhost_of(server_rec *main_s, const ap_directive_t *d)
{
    server_rec *s;

    for (s = main_s->next; s; s = s->next)
        if (s->defn_name && d->filename && !strcmp(s->defn_name, d->filename)
            && s->defn_line_number == (unsigned)d->line_num)
            return s;
    return NULL;
}

/* What was read lives in post_config's ptemp: forgotten with it. */
static apr_status_t forget(void *unused)
{
    (void)unused;
    vhost_settings = NULL;
    handed = NULL;
    return APR_SUCCESS;
}

void pv_dbd_begin(server_rec *main_s, apr_pool_t *ptemp)
{
    const ap_directive_t *d;

    main_settings.driver = NULL;
    main_settings.params = "";
    read_level(ptemp, ap_conftree, &main_settings);
    vhost_settings = apr_hash_make(ptemp);
    for (d = ap_conftree; d; d = d->next) {
        pv_dbd_settings_t own = {NULL, ""};
        vhost_t *vh;
        server_rec *s;

        if (strcasecmp(d->directive, "<VirtualHost")
            || !(s = vhost_of(main_s, d)))
            continue;
        read_level(ptemp, d->first_child, &own);
        vh = apr_palloc(ptemp, sizeof(*vh));
        vh->server = s;
        vh->set.driver = own.driver ? own.driver : main_settings.driver;
        vh->set.params = *own.params ? own.params : main_settings.params;
        apr_hash_set(vhost_settings, &vh->server, sizeof(vh->server), vh);
    }
    dbd_module_rec = ap_find_linked_module("mod_dbd.c");
    handed = apr_hash_make(ptemp);
    apr_pool_cleanup_register(ptemp, NULL, forget, apr_pool_cleanup_null);
}

void pv_dbd_settings(const server_rec *s, pv_dbd_settings_t *out)
{
    const vhost_t *vh = vhost_settings
        ? apr_hash_get(vhost_settings, &s, sizeof(s)) : NULL;

    *out = vh ? vh->set : main_settings;
}

/* ------------------------------------------------------------ the SQL */

/* Prepares |n| statements once on a connection of our own, so that SQL
 * that does not prepare stops httpd now, naming its directive. A database
 * that is down at start-up is only a warning: httpd must still start. */
static int check_sql(server_rec *s, const pv_dbd_settings_t *set,
                     const pv_stmt_t **st, const char **names, int n,
                     apr_pool_t *ptemp)
{
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_pool_t *pool;
    const char *err = NULL;
    apr_finfo_t fi;
    int i, rv = OK;

    if (apr_dbd_get_driver(ptemp, set->driver, &driver) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0001)
                     "DBDriver %s: no such apr_dbd driver is installed",
                     set->driver);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!strcmp(set->driver, "sqlite3")
        && apr_stat(&fi, set->params, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0002) "DBDParams %s: the "
                     "SQLite database does not exist; create it with "
                     "conf/schema-sqlite3.sql", set->params);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apr_pool_create(&pool, ptemp) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (apr_dbd_open_ex(driver, pool, set->params, &handle, &err)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, PVLOGNO(0003)
                     "cannot reach the database to check PortOne SQL at "
                     "start-up (%s); it is checked on first use",
                     err ? err : "no reason given");
        apr_pool_destroy(pool);
        return OK;
    }
    if (!strcmp(set->driver, "sqlite3"))      /* wait for other writers */
        apr_dbd_query(driver, handle, &i, "PRAGMA busy_timeout = 10000");
    for (i = 0; i < n && rv == OK; i++) {
        apr_dbd_prepared_t *stmt = NULL;
        int rc = apr_dbd_prepare(driver, pool, handle, st[i]->sql.sql,
                                 apr_psprintf(pool, "portone_verify_check_%d", i),
                                 &stmt);

        if (rc) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0004)
                         "%s: the SQL does not prepare on %s: %s",
                         names[i], set->driver,
                         apr_dbd_error(driver, handle, rc));
            rv = HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    apr_dbd_close(driver, handle);
    apr_pool_destroy(pool);
    return rv;
}


/* Hands |stmt| to mod_dbd for the connections of |s|. mod_dbd keeps one
 * list of statements per server record, and a virtual host that gives none
 * of its directives (and for which no module prepared SQL while the
 * configuration was read) shares the main server's: httpd hands it the main
 * server's record. A label given twice to one list is mod_dbd's warning
 * AH02653, so each label goes once to each list; lists are told apart by
 * the identity of mod_dbd's record for the server, an opaque pointer
 * compared, never read. */
static void hand_over(server_rec *s, const pv_stmt_t *stmt)
{
    const void *list = dbd_module_rec
        ? ap_get_module_config(s->module_config, dbd_module_rec) : (void *)s;
    const char *key = apr_psprintf(apr_hash_pool_get(handed), "%pp %s", list,
                                   stmt->label);

    if (apr_hash_get(handed, key, APR_HASH_KEY_STRING))
        return;
    apr_hash_set(handed, key, APR_HASH_KEY_STRING, stmt->sql.sql);
    dbd_prepare_fn(s, stmt->sql.sql, stmt->label);
}

int pv_dbd_prepare_server(server_rec *s, const server_rec *main_s, pv_srv *srv,
                          const pv_dbd_settings_t *set, apr_pool_t *pconf,
                          apr_pool_t *ptemp, int dry_run)
{
    const apr_array_header_t *defs = pv_config_sqldefs();
    int n = defs ? defs->nelts : 0;
    const pv_stmt_t **st = apr_pcalloc(ptemp, sizeof(*st) * (n + PV_STMT_COUNT));
    const char **names = apr_pcalloc(ptemp, sizeof(*names) * (n + PV_STMT_COUNT));
    int i, k = 0;

    for (i = 0; i < PV_STMT_COUNT; i++) {
        hand_over(s, &srv->store.stmt[i]);
        st[k] = &srv->store.stmt[i];
        names[k++] = "the module's tables (load conf/schema-<driver>.sql, or "
                     "conf/upgrade-<driver>.sql over an older schema)";
    }
    for (i = 0; i < n; i++) {
        pv_sqldef_t *def = APR_ARRAY_IDX(defs, i, pv_sqldef_t *);
        pv_stmt_t *stmt = &def->by_dialect[srv->dialect];

        if (def->server != s && def->server != main_s)
            continue;
        if (!stmt->label) {
            const char *err = pv_sql_rewrite_dialect(pconf, def->raw, 0,
                                                     srv->dialect, &stmt->sql);
            if (err) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PVLOGNO(0013)
                             "%s (%s): %s",
                             def->directive, def->where, err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            stmt->label = apr_psprintf(pconf, "portone_verify_%s_%d_%s",
                                       def->update ? "update"
                                       : def->reconcile ? "reconcile" : "order",
                                       i,
                                       set->driver);
        }
        hand_over(s, stmt);
        if (!def->update && !def->reconcile && !def->logged && !dry_run) {
            /* for the backfill of conf/upgrade-<driver>.sql */
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, PVLOGNO(0015)
                         "%s (%s) names its orders in portone_orders with "
                         "order_key %s", def->directive, def->where, def->order_key);
            def->logged = 1;
        }
        st[k] = stmt;
        names[k++] = apr_psprintf(ptemp, "%s (%s)", def->directive, def->where);
    }
    return dry_run ? OK : check_sql(s, set, st, names, k, ptemp);
}
