/* libFuzzer harness for pv_json, the thin layer over json-c:
 * - pv_json_parse takes a body only whole (no NUL, nothing but whitespace
 *   after the value), and a deeper limit never takes less;
 * - what it reads, written again by pv_json_text, reads back to the same
 *   text (json-c's writing of its own reading is a fixed point);
 * - every member of a top-level object: a string has json-c's length, a
 *   number's text (pv_json_number_text) reads back to json-c's value and is
 *   never a saturated integer, pv_json_int64 agrees with it;
 * - pv_json_object writes the input (up to its first NUL) as a string byte
 *   for byte as json-c does, and that text reads back to the same string
 *   whenever json-c takes it (valid UTF-8).
 *
 * Input: the body. */
#include <apr_strings.h>
#include <errno.h>
#include <json-c/json.h>

#include "fuzz_common.h"
#include "pv_json.h"

#define DEPTH 32

static void check_number(apr_pool_t *pool, struct json_object *v)
{
    const char *text = pv_json_number_text(pool, v);
    long long x;
    char *end;

    switch (json_object_get_type(v)) {
    case json_type_double:
        if (!text) {                    /* NaN, Infinity: no token */
            FUZZ_CHECK(json_object_get_userdata(v) == NULL);
            break;
        }
        FUZZ_CHECK(strtod(text, &end) == json_object_get_double(v)
                   || json_object_get_double(v) != json_object_get_double(v));
        FUZZ_CHECK(*end == '\0');
        break;
    case json_type_int:
        if (!text) {                    /* a limit: maybe saturated */
            int64_t i = json_object_get_int64(v);

            FUZZ_CHECK(i == INT64_MIN || i == INT64_MAX);
            FUZZ_CHECK(pv_json_int64(v, &x) != 0);
            break;
        }
        FUZZ_CHECK(strcmp(text, "9223372036854775807") != 0
                   && strcmp(text, "-9223372036854775808") != 0
                   && strcmp(text, "18446744073709551615") != 0);
        errno = 0;
        if (text[0] == '-') {
            FUZZ_CHECK(strtoll(text, &end, 10) == json_object_get_int64(v));
        }
        else {
            FUZZ_CHECK(strtoull(text, &end, 10) == json_object_get_uint64(v));
        }
        FUZZ_CHECK(*end == '\0' && errno == 0);
        if (pv_json_int64(v, &x) == 0) {
            FUZZ_CHECK(x == json_object_get_int64(v));
            FUZZ_CHECK(!strcmp(text, apr_psprintf(pool, "%" APR_INT64_T_FMT,
                                                  (apr_int64_t)x)));
        }
        else {
            FUZZ_CHECK(text[0] != '-');     /* a uint64 above INT64_MAX */
        }
        break;
    default:
        FUZZ_CHECK(text == NULL && pv_json_int64(v, &x) != 0);
        break;
    }
}

static void check_member(apr_pool_t *pool, struct json_object *v)
{
    const char *s;
    size_t n;

    s = pv_json_string(v, &n);
    FUZZ_CHECK((s != NULL) == json_object_is_type(v, json_type_string));
    if (s)
        FUZZ_CHECK(n == (size_t)json_object_get_string_len(v)
                   && s == json_object_get_string(v));
    check_number(pool, v);
}

/* pv_json_object writes a string (the input up to its first NUL) as json-c
 * writes it in the module's answers, and it reads back. */
static void check_writer(const char *s)
{
    const pv_json_out_t m[3] = {{"v", s, 0}, {"none", NULL, 0}, {"n", "12", 1}};
    struct json_object *o = json_object_new_object(), *back, *v;
    apr_pool_t *pool = fuzz_pool();
    const char *mine, *theirs;
    size_t len, n;

    mine = pv_json_object(pool, m, 3, &len);
    json_object_object_add(o, "v", json_object_new_string(s));
    json_object_object_add(o, "n", json_object_new_int(12));
    theirs = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    FUZZ_CHECK(len == strlen(mine) && !strcmp(mine, theirs));
    json_object_put(o);
    if (pv_json_parse(pool, mine, len, 1, &back) == 0) {
        const char *got;

        FUZZ_CHECK(json_object_object_get_ex(back, "v", &v));
        got = pv_json_string(v, &n);
        FUZZ_CHECK(got && n == strlen(s) && !memcmp(got, s, n));
        FUZZ_CHECK(json_object_object_get_ex(back, "n", &v)
                   && json_object_get_int64(v) == 12);
    }
    apr_pool_destroy(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    struct json_object *root, *again;
    const char *text, *text2;
    char *body;
    int ok;

    if (size > 65536)
        return 0;
    body = fuzz_cstr(data, size);
    check_writer(body);
    pool = fuzz_pool();
    /* data is libFuzzer's exact-size buffer: no NUL after it */
    ok = pv_json_parse(pool, (const char *)data, size, DEPTH, &root) == 0;
    if (!ok) {
        FUZZ_CHECK(root == NULL);
        apr_pool_destroy(pool);
        free(body);
        return 0;
    }
    FUZZ_CHECK(size > 0 && !memchr(data, '\0', size));
    FUZZ_CHECK(pv_json_parse(pool, (const char *)data, size, DEPTH + 1,
                             &again) == 0);
    /* written again, it reads back to the same text */
    text = pv_json_text(pool, root);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(pv_json_parse(pool, text, strlen(text), DEPTH, &again) == 0);
    text2 = pv_json_text(pool, again);
    FUZZ_CHECK(text2 != NULL && !strcmp(text, text2));
    if (json_object_is_type(root, json_type_object)) {
        json_object_object_foreach(root, key, v) {
            (void)key;
            check_member(pool, v);
        }
    }
    else {
        check_member(pool, root);
    }
    apr_pool_destroy(pool);
    free(body);
    return 0;
}
