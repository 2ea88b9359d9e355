#include "pv_json.h"

#include <apr_strings.h>
#include <json-c/json_object.h>
#include <json-c/json_tokener.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

static apr_status_t json_put_cleanup(void *v)
{
    json_object_put(v);
    return APR_SUCCESS;
}

int pv_json_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n, k;
        unsigned int cp;

        /* ASCII eight bytes at a time: the common case */
        if (len - i >= 8) {
            uint64_t w;

            memcpy(&w, u + i, 8);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        if (u[i] >= 0xc2 && u[i] <= 0xdf) { n = 2; cp = u[i] & 0x1f; }
        else if (u[i] >= 0xe0 && u[i] <= 0xef) { n = 3; cp = u[i] & 0x0f; }
        else if (u[i] >= 0xf0 && u[i] <= 0xf4) { n = 4; cp = u[i] & 0x07; }
        else return 0;
        if (n > len - i)
            return 0;
        for (k = 1; k < n; k++) {
            if ((u[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (u[i + k] & 0x3f);
        }
        /* no overlong form, no surrogate, nothing above U+10FFFF */
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
            || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += n;
    }
    return 1;
}

int pv_json_parse(apr_pool_t *pool, const char *body, size_t len, int depth,
                  struct json_object **root)
{
    struct json_tokener *tok;
    struct json_object *v;
    enum json_tokener_error err;
    size_t end;

    *root = NULL;
    /* json-c stops at a NUL and would take the text before it; the UTF-8
     * check is this file's (stricter than JSON_TOKENER_VALIDATE_UTF8, which
     * costs about 18,000 instructions on PortOne's 1.5 kB answer) */
    if (!body || len == 0 || len > INT_MAX || depth < 1 || depth >= INT_MAX
        || memchr(body, '\0', len) || !pv_json_utf8_valid(body, len))
        return -1;
    /* a new tokener per parse: json_tokener_reset leaves some of a
     * parse's state behind (is_double, high_surrogate, ucs_char, st_pos),
     * which a reused tokener carried into the next body (found by
     * fuzz_json and fuzz_request) */
    tok = json_tokener_new_ex(depth + 1);
    if (!tok)
        return -1;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, body, (int)len);
    err = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (err == json_tokener_continue && end == len) {
        /* a number or a literal that ends the body is complete only when
         * json-c sees the end of the text: its terminating NUL */
        v = json_tokener_parse_ex(tok, "", 1);
        err = json_tokener_get_error(tok);
    }
    json_tokener_free(tok);
    /* in strict mode json-c refuses any byte after the value but
     * whitespace: the whole body is read */
    if (err != json_tokener_success || end != len) {
        json_object_put(v);
        return -1;
    }
    if (v)
        apr_pool_cleanup_register(pool, v, json_put_cleanup,
                                  apr_pool_cleanup_null);
    *root = v;
    return 0;
}

const char *pv_json_string(struct json_object *v, size_t *len)
{
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

int pv_json_int64(struct json_object *v, long long *out)
{
    int64_t i;

    if (!json_object_is_type(v, json_type_int))
        return -1;
    /* json_object_get_int64 also clamps a uint64 above INT64_MAX to it */
    i = json_object_get_int64(v);
    if (i == INT64_MIN || i == INT64_MAX)
        return -1;
    *out = (long long)i;
    return 0;
}

const char *pv_json_number_text(apr_pool_t *pool, struct json_object *v)
{
    int64_t i;
    uint64_t u;

    switch (json_object_get_type(v)) {
    case json_type_double:
        /* json-c keeps the token it parsed as the userdata of the value's
         * serializer (json_object_new_double_s), and json_object_get_string
         * gives it back; NaN and +-Infinity, which its strict mode reads
         * too, have none */
        if (!json_object_get_userdata(v))
            return NULL;
        return json_object_get_string(v);
    case json_type_int:
        /* json-c 0.16 saturates an integer beyond 64 bits to INT64_MIN,
         * INT64_MAX or UINT64_MAX and keeps no text: a value equal to one
         * of those is refused, the real one with it */
        i = json_object_get_int64(v);
        if (i == INT64_MIN)
            return NULL;
        if (i != INT64_MAX)
            return apr_psprintf(pool, "%" APR_INT64_T_FMT, (apr_int64_t)i);
        u = json_object_get_uint64(v);  /* INT64_MAX or a uint64 above */
        if (u == (uint64_t)INT64_MAX || u == UINT64_MAX)
            return NULL;
        return apr_psprintf(pool, "%" APR_UINT64_T_FMT, (apr_uint64_t)u);
    default:
        return NULL;
    }
}

const char *pv_json_text(apr_pool_t *pool, struct json_object *v)
{
    size_t n;
    const char *text = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

    return text ? apr_pstrmemdup(pool, text, n) : NULL;
}

/* ------------------------------------------------------------- writing */

char *pv_json_object(apr_pool_t *pool, const pv_json_out_t *m, int n,
                     size_t *len)
{
    struct json_object *obj = json_object_new_object();
    const char *text = NULL;
    char *out;
    int i;

    for (i = 0; obj && i < n; i++) {
        struct json_object *v;

        if (!m[i].value)
            continue;
        /* a raw value: json-c writes the text given to
         * json_object_new_double_s as it is (the double is not written) */
        v = m[i].raw ? json_object_new_double_s(0, m[i].value)
                     : json_object_new_string(m[i].value);
        /* the keys are the caller's, valid until json_object_put below,
         * and written in order as given */
        if (!v || json_object_object_add_ex(obj, m[i].key, v,
                                            JSON_C_OBJECT_ADD_KEY_IS_NEW
                                            | JSON_C_OBJECT_ADD_CONSTANT_KEY)) {
            json_object_put(v);
            json_object_put(obj);
            obj = NULL;
        }
    }
    if (obj)
        text = json_object_to_json_string_length(
            obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    out = apr_pstrmemdup(pool, text ? text : "", text ? *len : 0);
    if (!text)
        *len = 0;
    json_object_put(obj);
    return out;
}
