/* libFuzzer harness for pv_json, differential against json-c (which read
 * PortOne's answers before it): whatever pv_json accepts, json-c's strict
 * mode accepts too, and every member of a top-level object reads the same
 * in both (type, string bytes, integer value, number text). pv_json may
 * refuse more (single quotes, NaN, "1.": see pv_json.h), never less.
 * And pv_json_object writes the input (up to its first NUL) as a string
 * byte for byte as json-c does, and pv_json_parse_object finds what
 * pv_json_parse and pv_json_members find.
 *
 * Input: the body. */
#include <json-c/json.h>

#include "fuzz_common.h"
#include "pv_json.h"

#define DEPTH 32

static struct json_object *jsonc_parse(const char *body, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(DEPTH);
    struct json_object *root;

    FUZZ_CHECK(tok != NULL);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, body, (int)len);
    if (root && json_tokener_get_error(tok) == json_tokener_success) {
        size_t i;

        for (i = (size_t)tok->char_offset; i < len; i++)
            if (!strchr(" \t\r\n", body[i]))
                break;
        if (i < len) {
            json_object_put(root);
            root = NULL;
        }
    }
    else if (root) {
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    return root;
}

/* json-c 0.16 reads a surrogate pair whose code point has the low 16 bits
 * of a surrogate (U+1D800..U+1DFFF, U+2D800.., ...) as U+FFFD: its bug,
 * which pv_json does not copy. |s| as json-c would read it, in |pool|. */
static const char *as_jsonc_reads(apr_pool_t *pool, const char *s, size_t *n)
{
    char *out = apr_palloc(pool, *n + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s, *end = p + *n;

    while (p < end) {
        if (end - p >= 4 && (p[0] & 0xF8) == 0xF0 && (p[1] & 0xC0) == 0x80
            && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) {
            unsigned long cp = ((unsigned long)(p[0] & 7) << 18)
                               | ((unsigned long)(p[1] & 0x3F) << 12)
                               | ((unsigned long)(p[2] & 0x3F) << 6)
                               | (p[3] & 0x3F);

            if (cp >= 0x10000 && (cp & 0xF800) == 0xD800) {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
                p += 4;
                continue;
            }
        }
        *o++ = (char)*p++;
    }
    *n = (size_t)(o - out);
    return out;
}

static void same_member(apr_pool_t *pool, const pv_json_t *obj,
                        const char *key, struct json_object *jv)
{
    pv_json_t v;
    const char *s;
    size_t n;
    long long x;

    pv_json_members(obj, &key, 1, &v);
    if (v.type == PV_JSON_NONE && strstr(key, "\xef\xbf\xbd"))
        return;         /* a key json-c may have read that way only (above) */
    FUZZ_CHECK(v.type != PV_JSON_NONE);
    switch (json_object_get_type(jv)) {
    case json_type_null:
        FUZZ_CHECK(v.type == PV_JSON_NULL);
        break;
    case json_type_boolean:
        FUZZ_CHECK(v.type == (json_object_get_boolean(jv) ? PV_JSON_TRUE
                                                          : PV_JSON_FALSE));
        break;
    case json_type_int:
        FUZZ_CHECK(v.type == PV_JSON_INT);
        /* json-c clamps beyond 64 bits; pv_json refuses to read those */
        if (pv_json_int64(&v, &x) == 0 && x != INT64_MAX && x != INT64_MIN)
            FUZZ_CHECK(x == json_object_get_int64(jv));
        break;
    case json_type_double:
        FUZZ_CHECK(v.type == PV_JSON_NUMBER);
        s = json_object_to_json_string_ext(jv, JSON_C_TO_STRING_PLAIN);
        FUZZ_CHECK(strlen(s) == v.len && !memcmp(s, v.at, v.len));
        break;
    case json_type_string:
        s = pv_json_string(pool, &v, &n);
        FUZZ_CHECK(s != NULL);
        if (n == (size_t)json_object_get_string_len(jv)
            && !memcmp(s, json_object_get_string(jv), n))
            break;
        /* else only json-c's surrogate bug may explain it */
        FUZZ_CHECK(memmem(v.at, v.len, "\\u", 2) != NULL);
        s = as_jsonc_reads(pool, s, &n);
        FUZZ_CHECK(n == (size_t)json_object_get_string_len(jv)
                   && !memcmp(s, json_object_get_string(jv), n));
        break;
    case json_type_array:
        FUZZ_CHECK(v.type == PV_JSON_ARRAY);
        break;
    case json_type_object:
        FUZZ_CHECK(v.type == PV_JSON_OBJECT);
        break;
    }
}

/* pv_json_object writes a string (the input up to its first NUL) as json-c
 * writes it in the module's answers. */
static void same_text(const char *s)
{
    const pv_json_out_t m[3] = {{"v", s, 0}, {"none", NULL, 0}, {"n", "12", 1}};
    struct json_object *o = json_object_new_object();
    apr_pool_t *pool = fuzz_pool();
    const char *mine, *theirs;
    size_t len;

    mine = pv_json_object(pool, m, 3, &len);
    json_object_object_add(o, "v", json_object_new_string(s));
    json_object_object_add(o, "n", json_object_new_int(12));
    theirs = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    FUZZ_CHECK(len == strlen(theirs) && !strcmp(mine, theirs));
    json_object_put(o);
    apr_pool_destroy(pool);
}

/* pv_json_parse_object is pv_json_parse and pv_json_members in one. */
static void same_object(const char *body, size_t size)
{
    static const char *const keys[] = {"a", "b", "code", "response", "", "imp_uid",
                                       "a_key_longer_than_thirty_one_bytes"};
    enum { N = sizeof(keys) / sizeof(keys[0]) };
    pv_json_t root, root2, m[N], m2[N];
    int rc = pv_json_parse_object(body, size, DEPTH, keys, N, &root, m), i;

    FUZZ_CHECK(rc == pv_json_parse(body, size, DEPTH, &root2));
    if (rc == 0) {
        FUZZ_CHECK(root.at == root2.at && root.len == root2.len && root.type == root2.type);
        pv_json_members(&root2, keys, N, m2);
    }
    for (i = 0; i < N; i++) {
        FUZZ_CHECK(rc == 0 || m[i].type == PV_JSON_NONE);
        FUZZ_CHECK(rc != 0 || (m[i].type == m2[i].type && m[i].at == m2[i].at
                               && m[i].len == m2[i].len));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body;
    pv_json_t root;
    struct json_object *jroot;

    if (size > 65536)
        return 0;
    body = fuzz_cstr(data, size);
    same_text(body);
    same_object(body, size);
    /* answers are objects (json-c's tokener, reading a stream, cannot tell
     * where a bare top-level number ends) */
    if (pv_json_parse(body, size, DEPTH, &root) != 0
        || root.type != PV_JSON_OBJECT) {
        free(body);
        return 0;
    }
    FUZZ_CHECK(root.at >= body && root.at + root.len <= body + size);
    jroot = jsonc_parse(body, size);
    FUZZ_CHECK(jroot != NULL && json_object_is_type(jroot, json_type_object));
    /* json-c cuts keys at a \u0000; pv_json keeps it: skip those bodies */
    if (!strstr(body, "\\u0000")) {
        struct json_object_iterator it = json_object_iter_begin(jroot);
        struct json_object_iterator last = json_object_iter_end(jroot);
        apr_pool_t *pool = fuzz_pool();

        for (; !json_object_iter_equal(&it, &last); json_object_iter_next(&it))
            same_member(pool, &root, json_object_iter_peek_name(&it),
                        json_object_iter_peek_value(&it));
        apr_pool_destroy(pool);
    }
    json_object_put(jroot);
    free(body);
    return 0;
}
