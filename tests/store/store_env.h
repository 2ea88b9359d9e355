/* The world of a store test: a real database with the module's schema and
 * a shop_orders table (as tests/harness.py has it), the store's statements
 * and two scopes, and connections opened and prepared as mod_dbd does
 * (apr_dbd_open, apr_dbd_prepare of each label into the hash that becomes
 * pv_db_t.prepared, apr_dbd_close as the connection pool's cleanup).
 *
 * STORE_TEST(name) { ... } runs its body once per database:
 *   sqlite3      a fresh SQLite file, the native back-end (pv_store_attach)
 *   sqlite3-dbd  the same through plain apr_dbd (no attach): the generic
 *                back-end that MySQL/MariaDB use
 *   pgsql        when PV_TEST_PGSQL holds a libpq DSN: a fresh schema
 *   mysql        when PV_TEST_MYSQL holds apr_dbd_mysql parameters (host=
 *                port= user= dbname=): a fresh database beside dbname
 * PV_TEST_DBS (a comma-separated list of those names) runs only those.
 * Checks inside a body name the database in their failure message. */
#ifndef STORE_ENV_H
#define STORE_ENV_H

#include "check.h"
#include "pv_store.h"

#include <apr_dbd.h>
#include <stdio.h>

typedef struct {
    const char *name;           /* sqlite3, sqlite3-dbd, pgsql, mysql */
    const char *driver;         /* apr_dbd's */
    int native;                 /* pv_store_attach the connections */
    const apr_dbd_driver_t *drv;
    const char *params;         /* apr_dbd_open's */
    apr_pool_t *pool;
    pv_store_t store;
    pv_stats_t stats;           /* store.stats */
    /* "shop": SELECT total_price, currency ...; with the order update */
    pv_stmt_t order, order_update;
    pv_scope_t scope;
    /* "plain": SELECT total_price (no currency column), no order update */
    pv_stmt_t order_plain;
    pv_scope_t scope_plain;
    const char *cleanup_sql;    /* run at the end (server databases) */
    const char *dir;            /* SQLite: the file's directory */
} env_t;

typedef struct {
    env_t *env;
    apr_pool_t *pool;           /* the connection's own (mod_dbd's) */
    pv_db_t db;
} conn_t;

typedef void (*store_test_fn)(env_t *e, apr_pool_t *pool);

/* Runs |fn| on each database; |batched|: only where the store has a commit
 * group (pv_store_t.batch). */
void on_each_database(apr_pool_t *pool, store_test_fn fn, int batched);

#define STORE_TEST_(name, batched)                                          \
    static void name##_body(env_t *e, apr_pool_t *pool);                    \
    TEST(name) { on_each_database(pool, name##_body, batched); }            \
    static void name##_body(env_t *e, apr_pool_t *pool)
#define STORE_TEST(name) STORE_TEST_(name, 0)
#define STORE_TEST_BATCHED(name) STORE_TEST_(name, 1)

#define DB_CHECK(cond)                                                      \
    check_report(!!(cond), __FILE__, __LINE__, "[%s] CHECK(%s)", e->name,   \
                 #cond)
#define DB_INT_EQ(a, b)                                                     \
    do {                                                                    \
        long long db_a_ = (long long)(a), db_b_ = (long long)(b);           \
        check_report(db_a_ == db_b_, __FILE__, __LINE__,                    \
                     "[%s] %s == %s: %lld != %lld", e->name, #a, #b, db_a_, \
                     db_b_);                                                \
    } while (0)
/* NULL is equal only to NULL */
#define DB_STR_EQ(a, b)                                                     \
    do {                                                                    \
        const char *db_a_ = (a), *db_b_ = (b);                              \
        check_report(db_a_ && db_b_ ? !strcmp(db_a_, db_b_) : db_a_ == db_b_,\
                     __FILE__, __LINE__, "[%s] %s == %s: \"%s\" != \"%s\"", \
                     e->name, #a, #b, db_a_ ? db_a_ : "(null)",             \
                     db_b_ ? db_b_ : "(null)");                             \
    } while (0)
/* |a| and |b| are equal decimals ("10000" and "10000.00") */
#define DB_DEC_EQ(a, b)                                                     \
    do {                                                                    \
        const char *db_a_ = (a), *db_b_ = (b);                              \
        check_report(db_a_ && db_b_ && !pv_decimal_compare(db_a_, db_b_),   \
                     __FILE__, __LINE__, "[%s] %s == %s: %s != %s",         \
                     e->name, #a, #b, db_a_ ? db_a_ : "(null)",             \
                     db_b_ ? db_b_ : "(null)");                             \
    } while (0)

/* A connection as mod_dbd hands it out; NULL (a failed check) when it
 * cannot be opened. Closed with its pool, or by conn_close. */
conn_t *conn_open(env_t *e, apr_pool_t *pool);

/* A test's connection |c| and what the DB_RESULT checks use; returns from
 * the test when there is no connection (conn_open said why). */
#define OPEN_CONN(c)                                                        \
    conn_t *c = conn_open(e, pool);                                         \
    const char *why;                                                        \
    pv_result_t res;                                                        \
    int forced;                                                             \
                                                                            \
    if (!c)                                                                 \
        return
void conn_close(conn_t *c);

/* Runs |sql| (no result) on |c|; 0 or a failed check. */
int sql_exec(env_t *e, conn_t *c, const char *sql);

/* The first column of the first row of |sql| (printf-style); NULL for none
 * or SQL NULL. */
const char *sql_str(env_t *e, conn_t *c, apr_pool_t *pool, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
/* The same as a number; -1 for none. */
long sql_int(env_t *e, conn_t *c, apr_pool_t *pool, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A shop order (total_price, currency: NULL for SQL NULL). */
void add_order(env_t *e, conn_t *c, const char *order_no, const char *price,
               const char *currency);

/* The values of a verification of payment |imp_uid| of order |merchant_uid|
 * for 10000 KRW, PortOne's status as |outcome| implies, |cancel_amount|. */
const char **verification(env_t *e, apr_pool_t *pool, const pv_scope_t *scope,
                          const char *imp_uid, const char *merchant_uid,
                          pv_outcome outcome, const char *cancel_amount);
/* The same for a payment of API |api| ("v1", "v2"; NULL: "v1"). */
const char **verification_api(env_t *e, apr_pool_t *pool,
                              const pv_scope_t *scope, const char *api,
                              const char *imp_uid, const char *merchant_uid,
                              pv_outcome outcome, const char *cancel_amount);

/* Records it as the glue does: pv_store_load_order, then pv_store_record
 * with what it read as |prior|, or with no prior (|forced|: the decision is
 * then the transaction's alone). */
pv_err record(env_t *e, conn_t *c, apr_pool_t *pool, const pv_scope_t *scope,
              const char *imp_uid, const char *merchant_uid,
              pv_outcome outcome, const char *cancel_amount, int forced,
              pv_result_t *res, const char **why);
/* The same for a payment of API |api| ("v1", "v2"; NULL: "v1"). */
pv_err record_api(env_t *e, conn_t *c, apr_pool_t *pool,
                  const pv_scope_t *scope, const char *api,
                  const char *imp_uid, const char *merchant_uid,
                  pv_outcome outcome, const char *cancel_amount, int forced,
                  pv_result_t *res, const char **why);

/* PostgreSQL: traces the messages |c| sends (NULL on other databases);
 * the number of round trips since, each ending at a Sync message. */
FILE *pg_trace(conn_t *c);
int pg_round_trips(conn_t *c, FILE *trace);

#endif
