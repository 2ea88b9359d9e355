/* pv_json: the strict JSON reader of PortOne's answers. */
#include "check.h"

#include <apr_strings.h>

#include "pv_json.h"

static int parses(const char *text)
{
    pv_json_t root;

    return pv_json_parse(text, strlen(text), 32, &root) == 0;
}

/* The value of member |key| of the object |text| (which must parse). */
static pv_json_t member(const char *text, const char *key)
{
    pv_json_t root, v;

    v.type = PV_JSON_NONE;
    if (pv_json_parse(text, strlen(text), 32, &root) == 0)
        pv_json_members(&root, &key, 1, &v);
    return v;
}

/* Member |key| of |text| as an unescaped string, NULL if not one. */
static const char *string_of(apr_pool_t *pool, const char *text,
                             const char *key, size_t *len)
{
    pv_json_t v = member(text, key);

    return pv_json_string(pool, &v, len);
}

TEST(json_accepts_rfc8259)
{
    CHECK(parses("{}"));
    CHECK(parses(" \t\r\n{ \"a\" : [ 1 , -0 , 0.5 , 1e5 , 1E-3 , -1.25e+2 ] } \n"));
    CHECK(parses("{\"a\":{\"b\":[true,false,null,\"x\"]},\"c\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}"));
    CHECK(parses("[]"));
    CHECK(parses("\"just a string\""));
    CHECK(parses("0"));
    /* bytes json-c takes too: raw controls and any byte >= 0x80 in strings */
    CHECK(parses("{\"a\":\"x\ny\x01\x7f\xff\"}"));
}

TEST(json_refuses_what_is_not_json)
{
    static const char *const bad[] = {
        "", " ", "{", "}", "{\"a\":1", "{\"a\":1,}", "[1,]", "[,1]", "{,}",
        "{\"a\"}", "{\"a\" 1}", "{a:1}", "{'a':1}", "{\"a\":'x'}",
        "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}", "{\"a\":1.}",
        "{\"a\":.5}", "{\"a\":01}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":1e}",
        "{\"a\":1e+}", "{\"a\":0x10}", "{\"a\":True}", "{\"a\":nul}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"open}", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":1}\f",
        "\f{\"a\":1}", "{\"a\":1 /* c */}", "{\"a\":\"\\",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!check_report(!parses(bad[i]), __FILE__, __LINE__,
                          "accepted: %s", bad[i]))
            break;
}

TEST(json_refuses_nul_and_bounds_the_length)
{
    pv_json_t root;

    CHECK(pv_json_parse("{\"a\":\"x\0y\"}", 11, 32, &root) != 0);
    CHECK(pv_json_parse("{\"a\":1}\0", 8, 32, &root) != 0);
    /* only |len| bytes are read: the rest of the buffer is not the body */
    CHECK(pv_json_parse("{\"a\":1}garbage", 7, 32, &root) == 0);
    CHECK(pv_json_parse("{\"a\":12}", 7, 32, &root) != 0);
    CHECK(pv_json_parse(NULL, 0, 32, &root) != 0);
}

TEST(json_depth)
{
    pv_json_t root;
    char deep[80];

    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    CHECK(pv_json_parse(deep, 64, 32, &root) == 0);
    CHECK(pv_json_parse(deep + 1, 62, 31, &root) == 0);
    CHECK(pv_json_parse(deep, 64, 31, &root) != 0);
    CHECK(pv_json_parse("{\"a\":{\"b\":1}}", 13, 1, &root) != 0);
    CHECK(pv_json_parse("{\"a\":{\"b\":1}}", 13, 2, &root) == 0);
}

TEST(json_types_and_spans)
{
    static const char *const text =
        "{\"s\":\"x\",\"i\":-12,\"n\":1.5,\"e\":2e3,\"t\":true,\"f\":false,"
        "\"z\":null,\"a\":[1,{\"s\":\"inner\"}],\"o\":{\"k\":\"}\"}}";
    static const char *const keys[] = {"s", "i", "n", "e", "t", "f", "z",
                                       "a", "o", "missing"};
    static const pv_json_type want[] = {
        PV_JSON_STRING, PV_JSON_INT, PV_JSON_NUMBER, PV_JSON_NUMBER,
        PV_JSON_TRUE, PV_JSON_FALSE, PV_JSON_NULL, PV_JSON_ARRAY,
        PV_JSON_OBJECT, PV_JSON_NONE
    };
    static const char *const spans[] = {
        "\"x\"", "-12", "1.5", "2e3", "true", "false", "null",
        "[1,{\"s\":\"inner\"}]", "{\"k\":\"}\"}", ""
    };
    pv_json_t root, m[10];
    int i;

    CHECK(pv_json_parse(text, strlen(text), 32, &root) == 0);
    CHECK_INT_EQ(root.type, PV_JSON_OBJECT);
    CHECK_INT_EQ(root.len, strlen(text));
    pv_json_members(&root, keys, 10, m);
    for (i = 0; i < 10; i++) {
        CHECK_INT_EQ(m[i].type, want[i]);
        CHECK_STR_EQ(apr_pstrmemdup(pool, m[i].at ? m[i].at : "", m[i].len),
                     spans[i]);
    }
    /* members of a nested object are not members of the outer one */
    CHECK_INT_EQ(member("{\"o\":{\"k\":1}}", "k").type, PV_JSON_NONE);
}

TEST(json_duplicate_keys_last_wins)
{
    size_t n;

    /* as json-c: the last of duplicate keys */
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"1\",\"b\":0,\"a\":\"2\"}", "a", &n), "2");
    CHECK_INT_EQ(member("{\"a\":\"1\",\"a\":{}}", "a").type, PV_JSON_OBJECT);
}

TEST(json_escaped_keys)
{
    size_t n;

    CHECK_STR_EQ(string_of(pool, "{\"imp\\u005fuid\":\"x\"}", "imp_uid", &n), "x");
    CHECK_STR_EQ(string_of(pool, "{\"a\\/b\":\"y\"}", "a/b", &n), "y");
    CHECK_INT_EQ(member("{\"imp_uid\\u0000\":\"x\"}", "imp_uid").type,
                 PV_JSON_NONE);
}

TEST(json_string_unescaping)
{
    size_t n;
    const char *s;

    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "a", &n),
                 "\"\\/\b\f\n\r\t");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\ud64d\\uae38\\ub3d9\"}", "a", &n),
                 "홍길동");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\u00e9\\u0041\"}", "a", &n), "éA");
    /* a surrogate pair is one code point; unpaired ones read as U+FFFD, as
     * json-c reads them */
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\ud83d\\ude00\"}", "a", &n),
                 "\xf0\x9f\x98\x80");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\uD83D\\uDE00\"}", "a", &n),
                 "\xf0\x9f\x98\x80");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\ud800x\"}", "a", &n), "\xef\xbf\xbdx");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\udc00\"}", "a", &n), "\xef\xbf\xbd");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\ud800\\u0041\"}", "a", &n),
                 "\xef\xbf\xbd" "A");
    /* \u0000 stays inside; the length says so */
    s = string_of(pool, "{\"a\":\"x\\u0000y\"}", "a", &n);
    CHECK(s && n == 3 && s[1] == '\0' && s[2] == 'y');
    /* raw bytes pass unchanged */
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"홍\"}", "a", &n), "홍");
    CHECK(string_of(pool, "{\"a\":1}", "a", &n) == NULL);
    CHECK(string_of(pool, "{\"b\":\"x\"}", "a", &n) == NULL);
}

TEST(json_int64)
{
    pv_json_t v;
    long long x = 7;

    v = member("{\"a\":9223372036854775807}", "a");
    CHECK(pv_json_int64(&v, &x) == 0 && x == 9223372036854775807LL);
    v = member("{\"a\":-9223372036854775808}", "a");
    CHECK(pv_json_int64(&v, &x) == 0 && x == -9223372036854775807LL - 1);
    v = member("{\"a\":-0}", "a");
    CHECK(pv_json_int64(&v, &x) == 0 && x == 0);
    /* beyond 64 bits: refused, not clamped as json-c does */
    v = member("{\"a\":9223372036854775808}", "a");
    CHECK(pv_json_int64(&v, &x) != 0);
    v = member("{\"a\":-9223372036854775809}", "a");
    CHECK(pv_json_int64(&v, &x) != 0);
    v = member("{\"a\":99999999999999999999}", "a");
    CHECK(pv_json_int64(&v, &x) != 0);
    v = member("{\"a\":1.0}", "a");
    CHECK(pv_json_int64(&v, &x) != 0);
    v = member("{\"a\":\"1\"}", "a");
    CHECK(pv_json_int64(&v, &x) != 0);
}
