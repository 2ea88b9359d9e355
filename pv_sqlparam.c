#include "pv_sqlparam.h"

#include <apr_strings.h>
#include <string.h>

static const char *const param_names[PV_P_COUNT] = {
    "merchant_uid", "imp_uid", "outcome", "status", "amount", "currency",
    "pay_method", "paid_at", "vbank_num", "vbank_name", "vbank_date",
    "cancel_amount", "response", "outcome_rank"
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

/* Copies a quoted run (closing quote doubled to escape) or a comment;
 * returns the position after it. */
static const char *copy_quoted(const char *p, char quote, char **o)
{
    *(*o)++ = *p++;
    while (*p) {
        if (*p == '%')
            *(*o)++ = '%';
        if (*p == quote) {
            *(*o)++ = *p++;
            if (*p != quote)
                return p;
        }
        *(*o)++ = *p++;
    }
    return p;
}

static const char *copy_comment(const char *p, char **o)
{
    const char *end = (p[0] == '-') ? strchr(p, '\n') : strstr(p + 2, "*/");

    end = end ? end + (p[0] == '-' ? 1 : 2) : p + strlen(p);
    for (; p < end; p++) {
        if (*p == '%')
            *(*o)++ = '%';
        *(*o)++ = *p;
    }
    return p;
}

const char *pv_sql_rewrite(apr_pool_t *pool, const char *sql, int internal,
                           pv_sql_t *out)
{
    /* each byte becomes at most two ("%" -> "%%", ":x" -> "%s") */
    char *buf = apr_palloc(pool, 2 * strlen(sql) + 1), *o = buf;
    const char *p = sql;
    int nknown = internal ? PV_P_COUNT : PV_P_ADMIN_COUNT;

    out->nparams = 0;
    while (*p) {
        if (*p == '\'' || *p == '"') {
            p = copy_quoted(p, *p, &o);
        }
        else if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*')) {
            p = copy_comment(p, &o);
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

void pv_sql_bind(const pv_sql_t *stmt, const char *const *values,
                 const char **args)
{
    int i;

    for (i = 0; i < stmt->nparams; i++)
        args[i] = values[stmt->params[i]];
}
