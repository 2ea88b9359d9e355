/* libFuzzer harness for pv_sqlparam: the named-parameter rewriter.
 *
 * Input: the SQL text (up to its first NUL), rewritten as the admin's SQL
 * (internal 0) and as the module's own (internal 1), without a dialect
 * (pv_sql_rewrite) and in each dialect (pv_sql_rewrite_dialect). */
#include "fuzz_common.h"
#include "pv_sqlparam.h"

static size_t count_char(const char *s, char c)
{
    size_t n = 0;

    for (; *s; s++)
        n += (*s == c);
    return n;
}

/* Checks one successful rewrite of |sql| into |st|: every '%' of the output
 * is the start of "%%" or "%s", there are exactly nparams "%s", and undoing
 * the rewrite ("%%" -> "%", "%s" -> ":name") gives the input back. */
static void check_rewrite(apr_pool_t *pool, const char *sql,
                          const pv_sql_t *st, int internal)
{
    size_t in_len = strlen(sql), out_len, i;
    char *back, *o;
    int k = 0;

    FUZZ_CHECK(st->sql != NULL);
    FUZZ_CHECK(st->nparams >= 0 && st->nparams <= PV_SQL_MAX_PARAMS);
    for (i = 0; i < (size_t)st->nparams; i++) {
        FUZZ_CHECK((int)st->params[i] >= 0 && st->params[i] < PV_P_COUNT);
        if (!internal)
            FUZZ_CHECK(st->params[i] < PV_P_ADMIN_COUNT);
    }
    out_len = strlen(st->sql);
    /* pv_sql_rewrite allocated 2 * strlen(sql) + 1 bytes */
    FUZZ_CHECK(out_len <= 2 * in_len);
    FUZZ_CHECK(count_char(st->sql, '%')
               == 2 * count_char(sql, '%') + (size_t)st->nparams);

    back = apr_palloc(pool, out_len + (size_t)st->nparams * 16 + 1);
    o = back;
    for (i = 0; i < out_len; i++) {
        if (st->sql[i] != '%') {
            *o++ = st->sql[i];
            continue;
        }
        FUZZ_CHECK(st->sql[i + 1] == '%' || st->sql[i + 1] == 's');
        if (st->sql[i + 1] == '%') {
            *o++ = '%';
        }
        else {
            const char *name;

            FUZZ_CHECK(k < st->nparams);
            name = pv_param_name(st->params[k++]);
            FUZZ_CHECK(strcmp(name, "?") != 0 && strlen(name) < 16);
            *o++ = ':';
            memcpy(o, name, strlen(name));
            o += strlen(name);
        }
        i++;
    }
    *o = '\0';
    FUZZ_CHECK(k == st->nparams);
    FUZZ_CHECK(strcmp(back, sql) == 0);
}

static void check_bind(const pv_sql_t *st)
{
    const char *values[PV_P_COUNT], *args[PV_SQL_MAX_PARAMS];
    int i;

    for (i = 0; i < PV_P_COUNT; i++)
        values[i] = pv_param_name((pv_param_id)i);
    pv_sql_bind(st, values, args);
    for (i = 0; i < st->nparams; i++)
        FUZZ_CHECK(args[i] == values[st->params[i]]);
}

/* One rewrite of |sql| as the admin's and as the module's own SQL, with
 * |dialect| (or -2 for pv_sql_rewrite): both checked, |*admin| and
 * |*own| and their errors returned. */
static void check_both(apr_pool_t *pool, const char *sql, int dialect,
                       pv_sql_t *admin, const char **err_admin,
                       pv_sql_t *own, const char **err_own)
{
    memset(admin, 0, sizeof(*admin));
    memset(own, 0, sizeof(*own));
    if (dialect == -2) {
        *err_admin = pv_sql_rewrite(pool, sql, 0, admin);
        *err_own = pv_sql_rewrite(pool, sql, 1, own);
    }
    else {
        *err_admin = pv_sql_rewrite_dialect(pool, sql, 0,
                                            (pv_sql_dialect)dialect, admin);
        *err_own = pv_sql_rewrite_dialect(pool, sql, 1,
                                          (pv_sql_dialect)dialect, own);
    }

    if (!*err_admin) {
        check_rewrite(pool, sql, admin, 0);
        check_bind(admin);
        /* the module knows every parameter an admin may use */
        FUZZ_CHECK(*err_own == NULL);
        FUZZ_CHECK(own->nparams == admin->nparams);
        FUZZ_CHECK(memcmp(own->params, admin->params,
                          sizeof(admin->params[0]) * (size_t)admin->nparams) == 0);
        FUZZ_CHECK(strcmp(own->sql, admin->sql) == 0);
    }
    else {
        FUZZ_CHECK(**err_admin != '\0');
    }
    if (!*err_own) {
        check_rewrite(pool, sql, own, 1);
        check_bind(own);
    }
    else {
        FUZZ_CHECK(**err_own != '\0');
    }
}

/* Whether |sql| uses nothing that one dialect reads otherwise than another
 * (backticks, brackets, $, #, backslashes, "--", slash-star). */
static int dialect_neutral(const char *sql)
{
    return !strpbrk(sql, "`[$#\\") && !strstr(sql, "--") && !strstr(sql, "/*");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pv_sql_dialect dialects[] = {
        PV_SQL_SQLITE, PV_SQL_PGSQL, PV_SQL_MYSQL,
    };
    apr_pool_t *pool = fuzz_pool();
    char *sql = fuzz_cstr(data, size);
    pv_sql_t admin, own, d_admin, d_own;
    const char *err_admin, *err_own, *d_err_admin, *d_err_own;
    size_t i;

    check_both(pool, sql, -2, &admin, &err_admin, &own, &err_own);
    for (i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
        check_both(pool, sql, dialects[i], &d_admin, &d_err_admin, &d_own,
                   &d_err_own);
        /* where no dialect differs, each agrees with pv_sql_rewrite */
        if (dialect_neutral(sql)) {
            FUZZ_CHECK(!d_err_admin == !err_admin);
            FUZZ_CHECK(!d_err_own == !err_own);
            if (!err_own)
                FUZZ_CHECK(strcmp(d_own.sql, own.sql) == 0);
        }
    }
    /* an unknown dialect is refused */
    memset(&d_admin, 0, sizeof(d_admin));
    FUZZ_CHECK(pv_sql_rewrite_dialect(pool, sql, 0, PV_SQL_UNKNOWN,
                                      &d_admin) != NULL);
    FUZZ_CHECK(pv_sql_dialect_of(sql) == PV_SQL_UNKNOWN
               || !strcmp(sql, "sqlite3") || !strcmp(sql, "pgsql")
               || !strcmp(sql, "mysql"));
    FUZZ_CHECK(strcmp(pv_param_name(PV_P_COUNT), "?") == 0);
    FUZZ_CHECK(strcmp(pv_param_name((pv_param_id)-1), "?") == 0);

    free(sql);
    apr_pool_destroy(pool);
    return 0;
}
