/* Named SQL parameters (":merchant_uid") rewritten to mod_dbd's
 * apr_dbd_prepare() format ("%s"), done once at start-up. */
#ifndef PV_SQLPARAM_H
#define PV_SQLPARAM_H

#include <apr_pools.h>

/* The values a statement can ask for; the order is the contract's list. */
typedef enum {
    PV_P_MERCHANT_UID, PV_P_IMP_UID, PV_P_OUTCOME, PV_P_STATUS, PV_P_AMOUNT,
    PV_P_CURRENCY, PV_P_PAY_METHOD, PV_P_PAID_AT, PV_P_VBANK_NUM,
    PV_P_VBANK_NAME, PV_P_VBANK_DATE,
    PV_P_ADMIN_COUNT,               /* the ones above are for the admin's SQL */
    PV_P_CANCEL_AMOUNT = PV_P_ADMIN_COUNT, PV_P_RESPONSE,
    PV_P_ORDER_KEY,                 /* which order query names the order */
    PV_P_API,                       /* "v1" or "v2": which API the payment's is */
    PV_P_OLDER_THAN,                /* portone-reconcile: seconds */
    PV_P_COUNT                      /* these only for the module's own */
} pv_param_id;

#define PV_SQL_MAX_PARAMS 32

typedef struct {
    const char *sql;            /* rewritten, for apr_dbd_prepare() */
    int nparams;
    pv_param_id params[PV_SQL_MAX_PARAMS];  /* value for each %s, in order */
} pv_sql_t;

/* Name of a parameter id ("merchant_uid"). */
const char *pv_param_name(pv_param_id id);

/* The SQL a mod_dbd driver speaks, for what is text and what is code. */
typedef enum {
    PV_SQL_UNKNOWN = -1,
    PV_SQL_SQLITE, PV_SQL_PGSQL, PV_SQL_MYSQL,
    PV_SQL_DIALECTS             /* how many there are, not a dialect */
} pv_sql_dialect;

/* The dialect of an apr_dbd driver name ("sqlite3", "pgsql", "mysql", as
 * apr_dbd_name() gives it); PV_SQL_UNKNOWN (-1) for any other or NULL. */
pv_sql_dialect pv_sql_dialect_of(const char *dbd_driver_name);

/* Rewrites |sql|. Returns NULL on success, or an error message (allocated in
 * |pool|) naming the offending parameter. Text inside quoted literals and
 * identifiers and inside comments is copied as it is; "::type" casts are not
 * parameters; a literal '%' is doubled everywhere so apr_dbd keeps it. Only
 * the module's own statements (|internal|) may use the parameters past
 * PV_P_ADMIN_COUNT.
 *
 * Every dialect knows '...' and "..." (a doubled quote escapes), -- and
 * slash-star comments. Besides:
 *   PV_SQL_SQLITE  `...` and [...] identifiers;
 *   PV_SQL_PGSQL   $$...$$ and $tag$...$tag$ bodies, E'...' strings with
 *                  backslash escapes, nested slash-star comments;
 *   PV_SQL_MYSQL   backslash escapes in '...' and "...", `...` identifiers,
 *                  # comments, and -- only before a blank or control char.
 * The servers' default modes are assumed (MySQL without NO_BACKSLASH_ESCAPES
 * or ANSI_QUOTES). PV_SQL_UNKNOWN: an error, nothing rewritten. */
const char *pv_sql_rewrite_dialect(apr_pool_t *pool, const char *sql,
                                   int internal, pv_sql_dialect dialect,
                                   pv_sql_t *out);

/* The dialect-blind rewrite of earlier versions: only the constructs every
 * dialect knows. Kept until every caller names its dialect. */
const char *pv_sql_rewrite(apr_pool_t *pool, const char *sql, int internal,
                           pv_sql_t *out);

/* Fills |args| (nparams entries) from |values| (PV_P_COUNT entries). */
void pv_sql_bind(const pv_sql_t *stmt, const char *const *values,
                 const char **args);

#endif
