/* The databases of the store tests (see store_env.h). */
#include "store_env.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef PV_SOURCE_DIR
#define PV_SOURCE_DIR "."
#endif

/* tests/harness.py's shop_orders, in SQL every driver takes; the CHECK
 * makes the order update of the order "poison" fail (a statement failing
 * inside a transaction) */
#define SHOP_ORDERS                                                         \
    "CREATE TABLE shop_orders (order_no VARCHAR(40) PRIMARY KEY, "          \
    "total_price NUMERIC(14,2) NOT NULL, currency VARCHAR(8), "             \
    "state VARCHAR(20) NOT NULL DEFAULT 'new', paid_imp_uid VARCHAR(32), "  \
    "updates INTEGER NOT NULL DEFAULT 0, "                                  \
    "CHECK (order_no <> 'poison' OR updates = 0))"

#define ORDER_QUERY \
    "SELECT total_price, currency FROM shop_orders WHERE order_no = :merchant_uid"
#define ORDER_QUERY_PLAIN \
    "SELECT total_price FROM shop_orders WHERE order_no = :merchant_uid"
#define ORDER_UPDATE                                                        \
    "UPDATE shop_orders SET state = :outcome, paid_imp_uid = :imp_uid, "    \
    "updates = updates + 1 WHERE order_no = :merchant_uid"

static const char *read_schema(apr_pool_t *pool, const char *driver)
{
    const char *path = apr_pstrcat(pool, PV_SOURCE_DIR, "/conf/schema-",
                                   driver, ".sql", (char *)NULL);
    apr_file_t *f;
    apr_finfo_t fi;
    char *text;
    apr_size_t got;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS)
        return NULL;
    text = apr_palloc(pool, (apr_size_t)fi.size + 1);
    if (apr_file_read_full(f, text, (apr_size_t)fi.size, &got) != APR_SUCCESS)
        return NULL;
    text[got] = '\0';
    apr_file_close(f);
    return text;
}

static const char *scope_stmt(env_t *e, pv_stmt_t *st, const char *label,
                              const char *sql)
{
    st->label = label;
    return pv_sql_rewrite_dialect(e->pool, sql, 0,
                                  pv_sql_dialect_of(e->driver), &st->sql);
}

static const char *create_sqlite(env_t *e)
{
    char dir[] = "/tmp/pv-store-XXXXXX";
    const char *schema = read_schema(e->pool, "sqlite3");
    sqlite3 *db;
    char *msg = NULL;
    int rc;

    if (!schema)
        return "cannot read conf/schema-sqlite3.sql";
    if (!mkdtemp(dir))
        return "mkdtemp failed";
    e->dir = apr_pstrdup(e->pool, dir);
    e->params = apr_pstrcat(e->pool, dir, "/shop.db", (char *)NULL);
    if (sqlite3_open(e->params, &db) != SQLITE_OK)
        return "sqlite3_open failed";
    rc = sqlite3_exec(db, apr_pstrcat(e->pool, schema, ";" SHOP_ORDERS,
                                      (char *)NULL), NULL, NULL, &msg);
    sqlite3_close(db);
    if (rc != SQLITE_OK) {
        const char *why = apr_pstrdup(e->pool, msg ? msg : "schema failed");

        sqlite3_free(msg);
        return why;
    }
    return NULL;
}

static const char *create_pgsql(env_t *e, const char *dsn)
{
    const char *schema = read_schema(e->pool, "pgsql");
    const char *name = apr_psprintf(e->pool, "pv_store_test_%ld",
                                    (long)getpid());
    PGconn *pg = PQconnectdb(dsn);
    PGresult *res;
    const char *why = NULL;

    if (!schema)
        return "cannot read conf/schema-pgsql.sql";
    if (PQstatus(pg) != CONNECTION_OK) {
        why = apr_pstrdup(e->pool, PQerrorMessage(pg));
        PQfinish(pg);
        return why;
    }
    res = PQexec(pg, apr_psprintf(e->pool, "SET client_min_messages = "
                                  "warning; DROP SCHEMA IF EXISTS %s CASCADE; "
                                  "CREATE SCHEMA %s; SET search_path = %s; "
                                  "%s; " SHOP_ORDERS, name, name, name,
                                  schema));
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        why = apr_pstrdup(e->pool, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(pg);
    /* every connection, a reconnection (PQreset) too, sees that schema */
    e->params = apr_psprintf(e->pool, "%s options='-c search_path=%s'", dsn,
                             name);
    e->cleanup_sql = apr_psprintf(e->pool, "DROP SCHEMA %s CASCADE", name);
    return why;
}

/* apr_dbd_mysql runs one statement a query: the schema is split at the ;
 * that ends a line, its comment lines dropped. */
static const char *create_mysql(env_t *e, const char *params)
{
    const char *schema = read_schema(e->pool, "mysql");
    const char *name = apr_psprintf(e->pool, "pv_store_test_%ld",
                                    (long)getpid());
    char *text, *stmt, *last;
    const char *err = NULL, *dbname;
    apr_dbd_t *h;
    int n;

    if (!schema)
        return "cannot read conf/schema-mysql.sql";
    if (apr_dbd_open_ex(e->drv, e->pool, params, &h, &err) != APR_SUCCESS)
        return err ? err : "cannot connect to MySQL";
    if (apr_dbd_query(e->drv, h, &n, apr_psprintf(e->pool, "DROP DATABASE "
                                                  "IF EXISTS %s", name))
        || apr_dbd_query(e->drv, h, &n, apr_psprintf(e->pool, "CREATE "
                                                     "DATABASE %s CHARACTER "
                                                     "SET utf8mb4", name))
        || apr_dbd_query(e->drv, h, &n, apr_psprintf(e->pool, "USE %s",
                                                     name))) {
        err = apr_pstrdup(e->pool, apr_dbd_error(e->drv, h, -1));
        apr_dbd_close(e->drv, h);
        return err;
    }
    text = apr_pstrcat(e->pool, schema, "\n" SHOP_ORDERS ";\n", (char *)NULL);
    for (stmt = apr_strtok(text, ";", &last); stmt && !err;
         stmt = apr_strtok(NULL, ";", &last)) {
        char *line, *l2, *sql = apr_pstrdup(e->pool, "");

        for (line = apr_strtok(stmt, "\n", &l2); line;
             line = apr_strtok(NULL, "\n", &l2))
            if (strncmp(line + strspn(line, " "), "--", 2))
                sql = apr_pstrcat(e->pool, sql, line, "\n", (char *)NULL);
        if (sql[strspn(sql, " \n")]
            && apr_dbd_query(e->drv, h, &n, sql))
            err = apr_psprintf(e->pool, "%s: %s", sql,
                               apr_dbd_error(e->drv, h, -1));
    }
    apr_dbd_close(e->drv, h);
    dbname = strstr(params, "dbname=");
    e->params = dbname
        ? apr_psprintf(e->pool, "%.*sdbname=%s%s", (int)(dbname - params),
                       params, name, dbname + 7 + strcspn(dbname + 7, " "))
        : apr_psprintf(e->pool, "%s dbname=%s", params, name);
    e->cleanup_sql = apr_psprintf(e->pool, "DROP DATABASE %s", name);
    return err;
}

static const char *env_setup(env_t *e, const char *name, apr_pool_t *pool)
{
    const char *err;

    e->name = name;
    e->pool = pool;
    e->driver = !strncmp(name, "sqlite3", 7) ? "sqlite3" : name;
    e->native = strcmp(name, "sqlite3-dbd") != 0;
    if (apr_dbd_init(pool) != APR_SUCCESS
        || apr_dbd_get_driver(pool, e->driver, &e->drv) != APR_SUCCESS)
        return apr_psprintf(pool, "no apr_dbd driver %s", e->driver);
    if ((err = pv_store_init(pool, &e->store, e->driver, "portone_verify_")))
        return err;
    e->store.stats = &e->stats;
    /* as the glue: SQLite's writers take turns on a cross-process mutex */
    if (!strcmp(e->driver, "sqlite3")
        && apr_global_mutex_create(&e->store.serial, NULL, APR_LOCK_DEFAULT,
                                   pool) != APR_SUCCESS)
        return "cannot create the writers' mutex";
    if (e->store.batch
        && pv_store_group_create(pool, &e->store.group) != APR_SUCCESS)
        return "cannot create the commit group";
    if ((err = scope_stmt(e, &e->order, "portone_verify_order_1", ORDER_QUERY))
        || (err = scope_stmt(e, &e->order_update, "portone_verify_update_1",
                             ORDER_UPDATE))
        || (err = scope_stmt(e, &e->order_plain, "portone_verify_order_2",
                             ORDER_QUERY_PLAIN)))
        return err;
    e->scope.order = &e->order;
    e->scope.order_update = &e->order_update;
    e->scope.order_key = "shop-key";
    e->scope_plain.order = &e->order_plain;
    e->scope_plain.order_update = NULL;
    e->scope_plain.order_key = "plain-key";
    if (!strcmp(e->driver, "sqlite3"))
        return create_sqlite(e);
    if (!strcmp(e->driver, "pgsql"))
        return create_pgsql(e, getenv("PV_TEST_PGSQL"));
    return create_mysql(e, getenv("PV_TEST_MYSQL"));
}

static void env_teardown(env_t *e)
{
    if (e->cleanup_sql) {
        apr_dbd_t *h;
        const char *err;
        int n;

        if (apr_dbd_open_ex(e->drv, e->pool, e->params, &h, &err)
            == APR_SUCCESS) {
            apr_dbd_query(e->drv, h, &n, e->cleanup_sql);
            apr_dbd_close(e->drv, h);
        }
    }
    if (e->dir) {
        static const char *const files[] = {"shop.db", "shop.db-wal",
                                            "shop.db-shm"};
        size_t i;

        for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            apr_file_remove(apr_pstrcat(e->pool, e->dir, "/", files[i],
                                        (char *)NULL), e->pool);
        apr_dir_remove(e->dir, e->pool);
    }
}

/* |kind| is in the comma-separated |list| */
static int listed(const char *list, const char *kind)
{
    size_t len = strlen(kind);
    const char *p;

    for (p = list; (p = strstr(p, kind)) != NULL; p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || !p[len]))
            return 1;
    return 0;
}

void on_each_database(apr_pool_t *pool, store_test_fn fn, int batched)
{
    static const char *const kinds[] = {"sqlite3", "sqlite3-dbd", "pgsql",
                                        "mysql"};
    const char *only = getenv("PV_TEST_DBS");
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const char *env = !strcmp(kinds[i], "pgsql") ? "PV_TEST_PGSQL"
                          : !strcmp(kinds[i], "mysql") ? "PV_TEST_MYSQL"
                          : NULL;
        apr_pool_t *p, *body;
        env_t *e;
        const char *err;

        if (only && *only && !listed(only, kinds[i]))
            continue;
        if (env && (!getenv(env) || !*getenv(env))) {
            /* asked for by name: its server is missing */
            if (only && *only)
                check_report(0, __FILE__, __LINE__, "[%s] %s is not set",
                             kinds[i], env);
            continue;
        }
        apr_pool_create(&p, pool);
        e = apr_pcalloc(p, sizeof(*e));
        err = env_setup(e, kinds[i], p);
        if (err)
            check_report(0, __FILE__, __LINE__, "[%s] setup: %s", kinds[i],
                         err);
        else if (!batched || e->store.batch) {
            apr_pool_create(&body, p);      /* the connections' parent */
            fn(e, body);
            apr_pool_destroy(body);
        }
        env_teardown(e);
        apr_pool_destroy(p);
    }
    /* a batch test on MySQL alone (no commit group there) has nothing to
     * check: it passes */
    check_report(1, __FILE__, __LINE__, "ran");
}

/* mod_dbd closes a connection in a cleanup of its pool, registered before
 * anything else uses the connection (so run after the store's cleanups) */
static apr_status_t conn_cleanup(void *data)
{
    conn_t *c = data;

    apr_dbd_close(c->db.driver, c->db.handle);
    return APR_SUCCESS;
}

conn_t *conn_open(env_t *e, apr_pool_t *pool)
{
    const pv_stmt_t *all[PV_STMT_COUNT + 3];
    const char *err = NULL;
    apr_pool_t *cp;
    conn_t *c;
    int i, n = 0;

    apr_pool_create(&cp, pool);
    c = apr_pcalloc(cp, sizeof(*c));
    c->env = e;
    c->pool = cp;
    c->db.driver = e->drv;
    c->db.pool = cp;
    if (apr_dbd_open_ex(e->drv, cp, e->params, &c->db.handle, &err)
        != APR_SUCCESS) {
        check_report(0, __FILE__, __LINE__, "[%s] cannot connect: %s",
                     e->name, err ? err : "no reason given");
        apr_pool_destroy(cp);
        return NULL;
    }
    apr_pool_cleanup_register(cp, c, conn_cleanup, apr_pool_cleanup_null);
    c->db.prepared = apr_hash_make(cp);
    for (i = 0; i < PV_STMT_COUNT; i++)
        all[n++] = &e->store.stmt[i];
    all[n++] = &e->order;
    all[n++] = &e->order_update;
    all[n++] = &e->order_plain;
    for (i = 0; i < n; i++) {
        apr_dbd_prepared_t *st = NULL;
        int rc = apr_dbd_prepare(e->drv, cp, c->db.handle, all[i]->sql.sql,
                                 all[i]->label, &st);

        if (rc) {
            check_report(0, __FILE__, __LINE__, "[%s] %s does not prepare: "
                         "%s", e->name, all[i]->label,
                         apr_dbd_error(e->drv, c->db.handle, rc));
            apr_pool_destroy(cp);
            return NULL;
        }
        apr_hash_set(c->db.prepared, all[i]->label, APR_HASH_KEY_STRING, st);
    }
    if (e->native)
        pv_store_attach(&c->db);
    return c;
}

void conn_close(conn_t *c)
{
    apr_pool_destroy(c->pool);
}

int sql_exec(env_t *e, conn_t *c, const char *sql)
{
    int n, rc = apr_dbd_query(e->drv, c->db.handle, &n, sql);

    if (rc)
        check_report(0, __FILE__, __LINE__, "[%s] %s: %s", e->name, sql,
                     apr_dbd_error(e->drv, c->db.handle, rc));
    return rc;
}

static const char *vsql_str(env_t *e, conn_t *c, apr_pool_t *pool,
                            const char *fmt, va_list ap)
{
    const char *sql = apr_pvsprintf(pool, fmt, ap), *v = NULL;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc = apr_dbd_select(e->drv, pool, c->db.handle, &res, sql, 1), k;

    if (rc) {
        check_report(0, __FILE__, __LINE__, "[%s] %s: %s", e->name, sql,
                     apr_dbd_error(e->drv, c->db.handle, rc));
        return NULL;
    }
    for (k = 1; apr_dbd_get_row(e->drv, pool, res, &row, k) == 0; k++)
        if (k == 1 && apr_dbd_datum_get(e->drv, row, 0, APR_DBD_TYPE_STRING,
                                        &v) == APR_SUCCESS)
            v = apr_pstrdup(pool, v);
    return v;
}

const char *sql_str(env_t *e, conn_t *c, apr_pool_t *pool, const char *fmt,
                    ...)
{
    va_list ap;
    const char *v;

    va_start(ap, fmt);
    v = vsql_str(e, c, pool, fmt, ap);
    va_end(ap);
    return v;
}

long sql_int(env_t *e, conn_t *c, apr_pool_t *pool, const char *fmt, ...)
{
    va_list ap;
    const char *v;

    va_start(ap, fmt);
    v = vsql_str(e, c, pool, fmt, ap);
    va_end(ap);
    return v ? strtol(v, NULL, 10) : -1;
}

void add_order(env_t *e, conn_t *c, const char *order_no, const char *price,
               const char *currency)
{
    sql_exec(e, c, apr_psprintf(c->pool, "INSERT INTO shop_orders (order_no, "
                                "total_price, currency) VALUES ('%s', %s, "
                                "%s%s%s)", order_no, price,
                                currency ? "'" : "",
                                currency ? currency : "NULL",
                                currency ? "'" : ""));
}

const char **verification(env_t *e, apr_pool_t *pool, const pv_scope_t *scope,
                          const char *imp_uid, const char *merchant_uid,
                          pv_outcome outcome, const char *cancel_amount)
{
    return verification_api(e, pool, scope, NULL, imp_uid, merchant_uid,
                            outcome, cancel_amount);
}

const char **verification_api(env_t *e, apr_pool_t *pool,
                              const pv_scope_t *scope, const char *api,
                              const char *imp_uid, const char *merchant_uid,
                              pv_outcome outcome, const char *cancel_amount)
{
    const char **values = apr_pcalloc(pool, sizeof(*values) * PV_P_COUNT);
    int vbank = outcome == PV_OUT_VBANK_ISSUED || outcome == PV_OUT_PENDING;
    pv_payment_t pay;

    (void)e;
    memset(&pay, 0, sizeof(pay));
    pay.imp_uid = imp_uid;
    pay.merchant_uid = merchant_uid;
    pay.status = outcome == PV_OUT_CANCELLED ? PV_STATUS_CANCELLED
                 : outcome == PV_OUT_FAILED ? PV_STATUS_FAILED
                 : vbank ? PV_STATUS_READY : PV_STATUS_PAID;
    pay.status_text = pay.status == PV_STATUS_CANCELLED ? "cancelled"
                      : pay.status == PV_STATUS_FAILED ? "failed"
                      : pay.status == PV_STATUS_READY ? "ready" : "paid";
    pay.amount = "10000";
    pay.cancel_amount = cancel_amount;
    pay.currency = "KRW";
    pay.pay_method = vbank ? "vbank" : "card";
    pay.paid_at = pay.status == PV_STATUS_PAID ? "1700000000" : "0";
    if (outcome == PV_OUT_VBANK_ISSUED) {
        pay.vbank_num = "T0000000001";
        pay.vbank_name = "KB";
        pay.vbank_date = "1700086400";
    }
    pay.response_json = apr_psprintf(pool, "{\"imp_uid\":\"%s\",\"status\":"
                                     "\"%s\"}", imp_uid, pay.status_text);
    pv_store_values(&pay, outcome, scope->order_key, api, values, pool);
    return values;
}

pv_err record(env_t *e, conn_t *c, apr_pool_t *pool, const pv_scope_t *scope,
              const char *imp_uid, const char *merchant_uid,
              pv_outcome outcome, const char *cancel_amount, int forced,
              pv_result_t *res, const char **why)
{
    return record_api(e, c, pool, scope, NULL, imp_uid, merchant_uid, outcome,
                      cancel_amount, forced, res, why);
}

pv_err record_api(env_t *e, conn_t *c, apr_pool_t *pool,
                  const pv_scope_t *scope, const char *api,
                  const char *imp_uid, const char *merchant_uid,
                  pv_outcome outcome, const char *cancel_amount, int forced,
                  pv_result_t *res, const char **why)
{
    const char **values = verification_api(e, pool, scope, api, imp_uid,
                                           merchant_uid, outcome,
                                           cancel_amount);
    pv_order_t order;
    pv_record_t prior;
    int found = 0;
    pv_err err;

    *why = NULL;
    memset(res, 0, sizeof(*res));
    err = pv_store_load_order(&e->store, scope, &c->db, pool, values, &order,
                              &found, &prior, why);
    if (err != PV_OK)
        return err;
    if (!found)
        return PV_E_ORDER_NOT_FOUND;
    return pv_store_record(&e->store, scope, &c->db, pool, values, outcome, 0,
                           forced ? NULL : &prior, res, why);
}

FILE *pg_trace(conn_t *c)
{
    FILE *f = c->db.pg ? tmpfile() : NULL;

    if (f) {
        PQtrace(c->db.pg, f);
        PQsetTraceFlags(c->db.pg, PQTRACE_SUPPRESS_TIMESTAMPS);
    }
    return f;
}

int pg_round_trips(conn_t *c, FILE *trace)
{
    char line[4096];
    int n = 0;

    PQuntrace(c->db.pg);
    rewind(trace);
    while (fgets(line, sizeof(line), trace))
        if (line[0] == 'F' && strstr(line, "\tSync"))
            n++;
    fclose(trace);
    return n;
}
