#include "pv_sqlparam.h"

#include <apr_strings.h>
#include <string.h>

static const char *const param_names[PV_P_COUNT] = {
    "merchant_uid", "imp_uid", "outcome", "status", "amount", "currency",
    "pay_method", "paid_at", "vbank_num", "vbank_name", "vbank_date",
    "cancel_amount", "response", "order_key", "api", "older_than"
};

const char *pv_param_name(pv_param_id id)
{
    return (id >= 0 && id < PV_P_COUNT) ? param_names[id] : "?";
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

/* The constructs each dialect adds to the common ones ('...' and "..."
 * with doubled-quote escapes, -- and non-nested block comments, ::). */
enum {
    F_BACKSLASH = 1 << 0,       /* \ escapes in '...' and "..." (MySQL) */
    F_HASH_COMMENT = 1 << 1,    /* # to the end of the line (MySQL) */
    F_MYSQL_DASHES = 1 << 2,    /* -- only before a blank or control (MySQL) */
    F_BACKTICK = 1 << 3,        /* `...` identifiers (MySQL, SQLite) */
    F_BRACKET = 1 << 4,         /* [...] identifiers (SQLite) */
    F_DOLLAR = 1 << 5,          /* $$...$$, $tag$...$tag$ (PostgreSQL) */
    F_E_STRING = 1 << 6,        /* E'...' with \ escapes (PostgreSQL) */
    F_NESTED_COMMENT = 1 << 7   /* comments nest (PostgreSQL) */
};

/* Server defaults are assumed: MySQL without NO_BACKSLASH_ESCAPES or
 * ANSI_QUOTES, PostgreSQL with standard_conforming_strings on. A misread
 * leaves a :name unrewritten, which the server refuses at prepare time. */
static const unsigned dialect_features[] = {
    /* PV_SQL_SQLITE */ F_BACKTICK | F_BRACKET,
    /* PV_SQL_PGSQL */  F_DOLLAR | F_E_STRING | F_NESTED_COMMENT,
    /* PV_SQL_MYSQL */  F_BACKSLASH | F_HASH_COMMENT | F_MYSQL_DASHES
                        | F_BACKTICK,
};

pv_sql_dialect pv_sql_dialect_of(const char *dbd_driver_name)
{
    if (!dbd_driver_name)
        return PV_SQL_UNKNOWN;
    if (!strcmp(dbd_driver_name, "sqlite3"))
        return PV_SQL_SQLITE;
    if (!strcmp(dbd_driver_name, "pgsql"))
        return PV_SQL_PGSQL;
    if (!strcmp(dbd_driver_name, "mysql"))
        return PV_SQL_MYSQL;
    return PV_SQL_UNKNOWN;
}

/* An identifier (or number) character to the PostgreSQL lexer: E'...' and
 * $tag$ start a token only after something else. */
static int is_ident_char(char c)
{
    return is_name_char(c) || c == '$' || (unsigned char)c >= 0x80;
}

/* The end of a quoted run that starts at |p| (its opening quote) and closes
 * with |close|: a doubled closing quote is escaped (not in [...]), and with
 * |backslash| a backslash escapes the byte after it. Unterminated: the end
 * of the text. */
static const char *skip_quoted(const char *p, char close, int backslash)
{
    for (p++; *p; p++) {
        if (backslash && *p == '\\') {
            if (!*++p)
                break;
        }
        else if (*p == close) {
            if (close == ']' || p[1] != close)
                return p + 1;
            p++;
        }
    }
    return p;
}

/* The end of a comment that starts at |p| ("--", "#" or slash-star). */
static const char *skip_comment(const char *p, int nested)
{
    int depth = 1;

    if (p[0] != '/') {
        const char *nl = strchr(p, '\n');

        return nl ? nl + 1 : p + strlen(p);
    }
    for (p += 2; *p; p++) {
        if (p[0] == '*' && p[1] == '/') {
            p++;
            if (!nested || --depth == 0)
                return p + 1;
        }
        else if (nested && p[0] == '/' && p[1] == '*') {
            p++;
            depth++;
        }
    }
    return p;
}

/* Length of the dollar-quote delimiter ("$$", "$tag$") at |p|, or 0. A tag
 * is a name that does not start with a digit ($1 is a parameter). */
static size_t dollar_delim(const char *p)
{
    size_t n = 1;

    if (p[1] >= '0' && p[1] <= '9')
        return 0;
    while (is_name_char(p[n]) || (unsigned char)p[n] >= 0x80)
        n++;
    return p[n] == '$' ? n + 1 : 0;
}

/* The end of the dollar-quoted body opened by the |n|-byte delimiter at |p|
 * (after the closing delimiter; unterminated: the end of the text). */
static const char *skip_dollar(const char *p, size_t n)
{
    const char *q = p + n;

    while ((q = strchr(q, '$')) != NULL) {
        if (!strncmp(q, p, n))
            return q + n;
        q++;
    }
    return p + strlen(p);
}

/* Where the quoted run or comment starting at |p| ends, or NULL when none
 * starts there. |start| is the beginning of the text. */
static const char *skip_verbatim(const char *start, const char *p,
                                 unsigned f)
{
    char prev = p > start ? p[-1] : ' ';
    size_t n;

    switch (*p) {
    case '\'':
    case '"':
        return skip_quoted(p, *p, (f & F_BACKSLASH) != 0);
    case '`':
        return (f & F_BACKTICK) ? skip_quoted(p, '`', 0) : NULL;
    case '[':
        return (f & F_BRACKET) ? skip_quoted(p, ']', 0) : NULL;
    case 'E':
    case 'e':
        if ((f & F_E_STRING) && p[1] == '\'' && !is_ident_char(prev))
            return skip_quoted(p + 1, '\'', 1);
        return NULL;
    case '$':
        if ((f & F_DOLLAR) && !is_ident_char(prev) && (n = dollar_delim(p)))
            return skip_dollar(p, n);
        return NULL;
    case '#':
        return (f & F_HASH_COMMENT) ? skip_comment(p, 0) : NULL;
    case '-':
        if (p[1] != '-')
            return NULL;
        /* MySQL: "--" then a blank or control character (or the end) */
        if ((f & F_MYSQL_DASHES) && !((unsigned char)p[2] <= ' '
                                      || p[2] == 0x7f))
            return NULL;
        return skip_comment(p, 0);
    case '/':
        return p[1] == '*' ? skip_comment(p, (f & F_NESTED_COMMENT) != 0)
                           : NULL;
    default:
        return NULL;
    }
}

static const char *rewrite(apr_pool_t *pool, const char *sql, int internal,
                           unsigned features, pv_sql_t *out)
{
    /* each byte becomes at most two ("%" -> "%%", ":x" -> "%s") */
    char *buf = apr_palloc(pool, 2 * strlen(sql) + 1), *o = buf;
    const char *p = sql;
    int nknown = internal ? PV_P_COUNT : PV_P_ADMIN_COUNT;

    out->nparams = 0;
    while (*p) {
        const char *end = skip_verbatim(sql, p, features);

        if (end) {
            for (; p < end; p++) {
                if (*p == '%')
                    *o++ = '%';
                *o++ = *p;
            }
        }
        else if (p[0] == ':' && p[1] == ':') {
            *o++ = *p++;
            *o++ = *p++;
        }
        else if (p[0] == ':' && is_name_char(p[1])
                 && !(p[1] >= '0' && p[1] <= '9')) {   /* a[1:2] is a slice */
            const char *name = ++p;
            size_t len;
            int id;

            while (is_name_char(*p))
                p++;
            len = (size_t)(p - name);
            for (id = 0; id < nknown; id++) {
                if (strlen(param_names[id]) == len
                    && !strncmp(param_names[id], name, len))
                    break;
            }
            if (id == nknown)
                return apr_psprintf(pool, "unknown parameter :%.*s (known: "
                                    ":merchant_uid :imp_uid :outcome :status "
                                    ":amount :currency :pay_method :paid_at "
                                    ":vbank_num :vbank_name :vbank_date)",
                                    (int)len, name);
            if (out->nparams == PV_SQL_MAX_PARAMS)
                return apr_psprintf(pool, "more than %d parameters",
                                    PV_SQL_MAX_PARAMS);
            out->params[out->nparams++] = (pv_param_id)id;
            *o++ = '%';
            *o++ = 's';
        }
        else {
            if (*p == '%')
                *o++ = '%';
            *o++ = *p++;
        }
    }
    *o = '\0';
    out->sql = buf;
    return NULL;
}

const char *pv_sql_rewrite(apr_pool_t *pool, const char *sql, int internal,
                           pv_sql_t *out)
{
    return rewrite(pool, sql, internal, 0, out);
}

const char *pv_sql_rewrite_dialect(apr_pool_t *pool, const char *sql,
                                   int internal, pv_sql_dialect dialect,
                                   pv_sql_t *out)
{
    if ((int)dialect < 0 || (size_t)dialect >= sizeof(dialect_features)
                                                / sizeof(dialect_features[0])) {
        out->nparams = 0;
        out->sql = NULL;
        return "unknown SQL dialect (DBDriver sqlite3, pgsql or mysql)";
    }
    return rewrite(pool, sql, internal, dialect_features[dialect], out);
}

void pv_sql_bind(const pv_sql_t *stmt, const char *const *values,
                 const char **args)
{
    int i;

    for (i = 0; i < stmt->nparams; i++)
        args[i] = values[stmt->params[i]];
}
