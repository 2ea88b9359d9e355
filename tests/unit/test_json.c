/* pv_json: the strict JSON reader of PortOne's answers. */
#include "check.h"

#include <apr_strings.h>
#include <json-c/json.h>

#include "pv_json.h"

static int parses(const char *text)
{
    pv_json_t root;

    return pv_json_parse(text, strlen(text), 32, &root) == 0;
}

/* The value of member |key| of the object |text| (which must parse). */
static pv_json_t member(const char *text, const char *key)
{
    pv_json_t root, v = {PV_JSON_NONE, NULL, 0};

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

TEST(json_members_of_the_same_length_long_and_empty)
{
    /* keys looked up by length: several of one length, one over 31 bytes,
     * an empty one, and the 32 a call may ask for */
    static const char *const text =
        "{\"paid_at\":1,\"imp_uid\":\"i\",\"sandbox\":true,\"samebox\":2,"
        "\"a_key_of_forty_bytes_0123456789_abcdefg\":3,"
        "\"a_key_of_forty_bytes_0123456789_abcdefh\":4,\"\":5,\"k31\":6}";
    const char *keys[PV_JSON_KEYS_MAX];
    pv_json_t root, m[PV_JSON_KEYS_MAX];
    int i;

    keys[0] = "imp_uid";
    keys[1] = "sandbox";
    keys[2] = "paid_at";
    keys[3] = "a_key_of_forty_bytes_0123456789_abcdefh";
    keys[4] = "";
    keys[5] = "samebox";
    keys[6] = "missing";
    for (i = 7; i < PV_JSON_KEYS_MAX; i++)
        keys[i] = apr_psprintf(pool, "k%d", i);
    CHECK(pv_json_parse(text, strlen(text), 32, &root) == 0);
    pv_json_members(&root, keys, PV_JSON_KEYS_MAX, m);
    CHECK_STR_EQ(apr_pstrmemdup(pool, m[0].at, m[0].len), "\"i\"");
    CHECK_INT_EQ(m[1].type, PV_JSON_TRUE);
    CHECK_STR_EQ(apr_pstrmemdup(pool, m[2].at, m[2].len), "1");
    CHECK_STR_EQ(apr_pstrmemdup(pool, m[3].at, m[3].len), "4");
    CHECK_STR_EQ(apr_pstrmemdup(pool, m[4].at, m[4].len), "5");
    CHECK_STR_EQ(apr_pstrmemdup(pool, m[5].at, m[5].len), "2");
    CHECK_INT_EQ(m[6].type, PV_JSON_NONE);
    CHECK_STR_EQ(apr_pstrmemdup(pool, m[31].at, m[31].len), "6");
    for (i = 7; i < 31; i++)
        CHECK_INT_EQ(m[i].type, PV_JSON_NONE);
}

TEST(json_parse_object_finds_top_level_members)
{
    static const char *const keys[] = {"a", "k", "z"};
    static const char *const text = "{\"a\":1,\"o\":{\"k\":2,\"a\":3},\"l\":[{\"k\":4}],"
                                    "\"a\":\"last\",\"z\":null}";
    const char *bad;
    pv_json_t root, m[3];

    CHECK(pv_json_parse_object(text, strlen(text), 32, keys, 3, &root, m) == 0);
    CHECK_INT_EQ(root.type, PV_JSON_OBJECT);
    CHECK_STR_EQ(apr_pstrmemdup(pool, m[0].at, m[0].len), "\"last\"");
    CHECK_INT_EQ(m[1].type, PV_JSON_NONE);      /* only nested */
    CHECK_INT_EQ(m[2].type, PV_JSON_NULL);
    /* a refused body finds nothing, even members read before the error */
    bad = "{\"a\":1,\"z\":2,}";
    CHECK(pv_json_parse_object(bad, strlen(bad), 32, keys, 3, &root, m) != 0);
    CHECK_INT_EQ(m[0].type, PV_JSON_NONE);
    CHECK_INT_EQ(m[2].type, PV_JSON_NONE);
    /* not an object: nothing */
    bad = "[{\"a\":1}]";
    CHECK(pv_json_parse_object(bad, strlen(bad), 32, keys, 3, &root, m) == 0);
    CHECK_INT_EQ(root.type, PV_JSON_ARRAY);
    CHECK_INT_EQ(m[0].type, PV_JSON_NONE);
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

/* What json-c writes for {"v":s,"n":12} in the module's answers. */
static const char *jsonc_text(apr_pool_t *pool, const char *s)
{
    struct json_object *o = json_object_new_object();
    const char *text;

    json_object_object_add(o, "v", json_object_new_string(s));
    json_object_object_add(o, "n", json_object_new_int(12));
    text = apr_pstrdup(pool, json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return text;
}

TEST(json_object_writes_as_json_c)
{
    static const char *const samples[] = {
        "", "success", "\xec\x9d\xbc\xeb\xb0\x98 \xea\xb2\xb0\xec\xa0\x9c",
        "a\"b\\c/d", "\b\f\n\r\t\x01\x1f\x7f\xff", "order_1\u2028"
    };
    char all[256];
    pv_json_out_t m[3] = {{"v", NULL, 0}, {"gone", NULL, 0}, {"n", "12", 1}};
    size_t len;
    int i;

    for (i = 1; i < 256; i++)                   /* every byte but NUL */
        all[i - 1] = (char)i;
    all[255] = '\0';
    m[0].value = all;
    CHECK_STR_EQ(pv_json_object(pool, m, 3, &len), jsonc_text(pool, all));
    CHECK_INT_EQ(len, strlen(jsonc_text(pool, all)));
    for (i = 0; i < (int)(sizeof(samples) / sizeof(samples[0])); i++) {
        m[0].value = samples[i];
        CHECK_STR_EQ(pv_json_object(pool, m, 3, &len), jsonc_text(pool, samples[i]));
    }
    CHECK_STR_EQ(pv_json_object(pool, m, 0, &len), "{}");
    CHECK_INT_EQ(len, 2);
    m[0].value = NULL;
    CHECK_STR_EQ(pv_json_object(pool, m, 3, &len), "{\"n\":12}");
}


TEST(json_key_count)
{
    static const char b[] = "{\"a\":1,\"b\":{\"a\":2},\"a\":\"x\",\"\\u0061\":3,"
                            "\"ab\":4,\"c\":\"\\\"a\\\":\"}";
    pv_json_t root;

    CHECK_INT_EQ(pv_json_parse(b, sizeof(b) - 1, 8, &root), 0);
    CHECK_INT_EQ(pv_json_key_count(&root, "a"), 3);   /* escaped too, not nested */
    CHECK_INT_EQ(pv_json_key_count(&root, "b"), 1);
    CHECK_INT_EQ(pv_json_key_count(&root, "ab"), 1);
    CHECK_INT_EQ(pv_json_key_count(&root, "c"), 1);
    CHECK_INT_EQ(pv_json_key_count(&root, "d"), 0);
    CHECK_INT_EQ(pv_json_key_count(&root, ""), 0);
    CHECK_INT_EQ(pv_json_key_count(NULL, "a"), 0);
    CHECK_INT_EQ(pv_json_parse("[1]", 3, 8, &root), 0);
    CHECK_INT_EQ(pv_json_key_count(&root, "a"), 0);
}
