/* pv_json: the thin layer over json-c (strict parsing tied to a pool, a
 * number's exact text, the module's answers written by json-c). */
#include "check.h"

#include <apr_strings.h>
#include <json-c/json.h>

#include "pv_json.h"

/* |text| (|len| bytes) parses at |depth| */
static int parses_n(apr_pool_t *pool, const char *text, size_t len, int depth)
{
    struct json_object *root;

    return pv_json_parse(pool, text, len, depth, &root) == 0;
}

static int parses(apr_pool_t *pool, const char *text)
{
    return parses_n(pool, text, strlen(text), 32);
}

/* The value of member |key| of the object |text|, or NULL (also when the
 * text does not parse: checked where it matters). */
static struct json_object *member(apr_pool_t *pool, const char *text,
                                  const char *key)
{
    struct json_object *root, *v = NULL;

    if (pv_json_parse(pool, text, strlen(text), 32, &root) == 0)
        json_object_object_get_ex(root, key, &v);
    return v;
}

/* The exact text of the number member "a" of |text|, or NULL. */
static const char *number_of(apr_pool_t *pool, const char *text)
{
    return pv_json_number_text(pool, member(pool, text, "a"));
}

/* Member "a" of |text| as a string, NULL if not one. */
static const char *string_of(apr_pool_t *pool, const char *text, size_t *len)
{
    return pv_json_string(member(pool, text, "a"), len);
}

TEST(json_accepts_rfc8259)
{
    struct json_object *root = (struct json_object *)1;

    CHECK(parses(pool, "{}"));
    CHECK(parses(pool, " \t\r\n{ \"a\" : [ 1 , -0 , 0.5 , 1e5 , 1E-3 , -1.25e+2 ] } \n"));
    CHECK(parses(pool, "{\"a\":{\"b\":[true,false,null,\"x\"]},"
                       "\"c\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}"));
    CHECK(parses(pool, "[]"));
    CHECK(parses(pool, "\"just a string\""));
    /* a number or literal that ends the text is complete (json-c would
     * wait for more without the NUL pv_json_parse gives it) */
    CHECK(parses(pool, "0"));
    CHECK(parses(pool, "-12.5e3"));
    CHECK(parses(pool, "true"));
    CHECK(pv_json_parse(pool, "null", 4, 32, &root) == 0 && root == NULL);
    CHECK(pv_json_parse(pool, "12", 2, 32, &root) == 0
          && json_object_get_int64(root) == 12);
    /* raw UTF-8 and raw control bytes inside strings */
    CHECK(parses(pool, "{\"a\":\"\xea\xb2\xb0\xec\xa0\x9c x\ny\x01\x7f\"}"));
}

TEST(json_refuses_what_is_not_json)
{
    static const char *const bad[] = {
        "", " ", "{", "}", "{\"a\":1", "{\"a\":1,}", "[1,]", "[,1]", "{,}",
        "{\"a\"}", "{\"a\" 1}", "{a:1}", "{\"a\":'x'}", "{\"a\":.5}",
        "{\"a\":01}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":1e}", "{\"a\":1e+}",
        "{\"a\":0x10}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":nan}",
        "{\"a\":NULL}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\U0041\"}", "{\"a\":\"open}",
        "{\"a\":1 /* c */}", "{\"a\":\"\\", "[1 2]", "{\"a\"::1}",
        "{\"a\":1e5.5}", "{\"a\":--1}", "{\"a\":1-2}", "{\"a\":[1}",
        "\xef\xbb\xbf{}",
        /* anything after the value but whitespace */
        "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":1},", "{\"a\":1}]",
        "{\"a\":1}\f", "\f{\"a\":1}", "{\"a\":1}// c", "{\"a\":1}/* c */",
        "1 2", "\"a\" \"b\"",
    };
    size_t i;

    for (i = 0; i < CHECK_COUNT(bad); i++)
        check_report(!parses(pool, bad[i]), __FILE__, __LINE__, "accepted: %s",
                     bad[i]);
}

/* What json-c's strict mode reads that RFC 8259 does not (pv_json.h): here
 * so that a json-c that changes it is noticed. */
TEST(json_strict_mode_leniencies)
{
    size_t n;

    CHECK(parses(pool, "{'a':1}"));                 /* single-quoted key */
    CHECK(parses(pool, "{\"a\":NaN}"));
    CHECK(parses(pool, "{\"a\":-Infinity}"));
    CHECK_STR_EQ(number_of(pool, "{\"a\":NaN}"), NULL);     /* not numbers */
    CHECK_STR_EQ(number_of(pool, "{\"a\":Infinity}"), NULL);
    CHECK_STR_EQ(number_of(pool, "{\"a\":-Infinity}"), NULL);
    CHECK_STR_EQ(number_of(pool, "{\"a\":1.}"), "1.");      /* value 1 */
    CHECK_STR_EQ(number_of(pool, "{\"a\":1.e5}"), "1.e5");
    CHECK_STR_EQ(number_of(pool, "{\"a\":00}"), "0");
    CHECK_STR_EQ(number_of(pool, "{\"a\":-01}"), "-1");
    CHECK_STR_EQ(number_of(pool, "{\"a\":00.5}"), "00.5");
    /* a key is a C string: "a\u0000b" is the key "a" */
    CHECK_STR_EQ(pv_json_string(member(pool, "{\"a\\u0000b\":\"x\"}", "a"), &n),
                 "x");
    /* of duplicate keys, the last */
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"1\",\"b\":0,\"a\":\"2\"}", &n), "2");
    CHECK(json_object_is_type(member(pool, "{\"a\":\"1\",\"a\":{}}", "a"),
                              json_type_object));
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"1\",\"\\u0061\":\"2\"}", &n), "2");
}

TEST(json_refuses_nul_and_reads_len_bytes)
{
    struct json_object *root;

    CHECK(pv_json_parse(pool, "{\"a\":\"x\0y\"}", 11, 32, &root) != 0);
    CHECK(pv_json_parse(pool, "{\"a\":1}\0", 8, 32, &root) != 0);
    CHECK(pv_json_parse(pool, "\0{\"a\":1}", 8, 32, &root) != 0);
    CHECK(pv_json_parse(pool, "{\"a\":1}\0 ", 9, 32, &root) != 0);
    /* only |len| bytes are read: the rest of the buffer is not the body */
    CHECK(pv_json_parse(pool, "{\"a\":1}garbage", 7, 32, &root) == 0);
    CHECK(pv_json_parse(pool, "{\"a\":12}", 7, 32, &root) != 0);
    CHECK(pv_json_parse(pool, "123", 2, 32, &root) == 0
          && json_object_get_int64(root) == 12);
    CHECK(pv_json_parse(pool, "truex", 4, 32, &root) == 0
          && json_object_get_boolean(root));
    CHECK(pv_json_parse(pool, NULL, 0, 32, &root) != 0);
    CHECK(pv_json_parse(pool, "{}", 2, 0, &root) != 0);
}

TEST(json_utf8)
{
    CHECK(parses(pool, "{\"a\":\"\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99\"}"));
    CHECK(parses(pool, "{\"a\":\"\xf0\x9f\x98\x80\"}"));
    CHECK(!parses(pool, "{\"a\":\"\xff\"}"));
    CHECK(!parses(pool, "{\"a\":\"x\x80\"}"));
    CHECK(!parses(pool, "{\"a\":\"\xe2\x82\"}"));           /* cut short */
    CHECK(!parses(pool, "{\"a\":\"\xe2\x82\"}  "));
    CHECK(!parses(pool, "{\"\xfe\":1}"));
    /* the module's own check (pv_json_utf8_valid), not json-c's shape-only
     * one: an overlong form, a surrogate and a code point above U+10FFFF
     * are refused too */
    CHECK(!parses(pool, "{\"a\":\"\xc0\xaf\"}"));
    CHECK(!parses(pool, "{\"a\":\"\xe0\x80\xaf\"}"));
    CHECK(!parses(pool, "{\"a\":\"\xed\xa0\x80\"}"));
    CHECK(!parses(pool, "{\"a\":\"\xf4\x90\x80\x80\"}"));
    /* past the eight-byte ASCII stride, and at the very end */
    CHECK(!parses(pool, "{\"abcdefghijklmnop\":\"\xc3\"}"));
    CHECK(parses(pool, "{\"abcdefghijklmnop\":\"\xc3\xa9\"}"));
    CHECK(parses(pool, "{\"a\":\"\xef\xbf\xbd\xf4\x8f\xbf\xbf\"}"));
}

/* |levels| nested arrays around |inner| */
static const char *nested(apr_pool_t *pool, int levels, const char *inner)
{
    char *open = apr_palloc(pool, (size_t)levels + 1);
    char *close = apr_palloc(pool, (size_t)levels + 1);

    memset(open, '[', (size_t)levels);
    memset(close, ']', (size_t)levels);
    open[levels] = close[levels] = '\0';
    return apr_pstrcat(pool, open, inner, close, NULL);
}

TEST(json_depth)
{
    const char *t;

    t = nested(pool, 32, "1");
    CHECK(parses_n(pool, t, strlen(t), 32));
    CHECK(!parses_n(pool, t, strlen(t), 31));
    t = nested(pool, 33, "1");
    CHECK(!parses_n(pool, t, strlen(t), 32));
    t = nested(pool, 8, "{\"a\":1}");               /* 9 levels */
    CHECK(parses_n(pool, t, strlen(t), 9));
    CHECK(!parses_n(pool, t, strlen(t), 8));
    CHECK(!parses_n(pool, "{\"a\":{\"b\":1}}", 13, 1));
    CHECK(parses_n(pool, "{\"a\":{\"b\":1}}", 13, 2));
    CHECK(parses_n(pool, "{\"a\":1}", 7, 1));
    /* json-c counts values: an empty array or object one level deeper
     * passes too */
    t = nested(pool, 33, "");
    CHECK(parses_n(pool, t, strlen(t), 32));
    t = nested(pool, 34, "");
    CHECK(!parses_n(pool, t, strlen(t), 32));
    t = nested(pool, 100000, "1");
    CHECK(!parses_n(pool, t, strlen(t), 32));
}

TEST(json_strings)
{
    size_t n;
    const char *s;

    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", &n),
                 "\"\\/\b\f\n\r\t");
    CHECK_INT_EQ(n, 8);
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\ud64d\\uae38\\ub3d9\"}", &n), "홍길동");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\u00e9\\u0041\"}", &n), "éA");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\ud83d\\ude00\"}", &n),
                 "\xf0\x9f\x98\x80");
    /* an unpaired surrogate reads as U+FFFD */
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\ud800x\"}", &n), "\xef\xbf\xbdx");
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\\udc00\"}", &n), "\xef\xbf\xbd");
    /* \u0000 stays inside; the length says so */
    s = string_of(pool, "{\"a\":\"x\\u0000y\"}", &n);
    CHECK(s && n == 3 && s[1] == '\0' && s[2] == 'y');
    CHECK_STR_EQ(string_of(pool, "{\"a\":\"\"}", &n), "");
    CHECK_INT_EQ(n, 0);
    CHECK(string_of(pool, "{\"a\":1}", &n) == NULL);
    CHECK(string_of(pool, "{\"a\":null}", &n) == NULL);
    CHECK(string_of(pool, "{\"b\":\"x\"}", &n) == NULL);
    /* members of a nested object are not members of the outer one */
    CHECK(member(pool, "{\"o\":{\"a\":\"x\"}}", "a") == NULL);
}

TEST(json_number_text_is_exact)
{
    /* a fraction or an exponent: the token as written */
    CHECK_STR_EQ(number_of(pool, "{\"a\":10000.50}"), "10000.50");
    CHECK_STR_EQ(number_of(pool, "{\"a\":0.1}"), "0.1");
    CHECK_STR_EQ(number_of(pool, "{\"a\":1e4}"), "1e4");
    CHECK_STR_EQ(number_of(pool, "{\"a\":1.0E+4}"), "1.0E+4");
    CHECK_STR_EQ(number_of(pool, "{\"a\":-0.0}"), "-0.0");
    CHECK_STR_EQ(number_of(pool, "{\"a\":1e999}"), "1e999");
    CHECK_STR_EQ(number_of(pool, "{\"a\":0.30000000000000000000000000001}"),
                 "0.30000000000000000000000000001");
    /* an integer: its value in decimal, exact up to UINT64_MAX - 1 */
    CHECK_STR_EQ(number_of(pool, "{\"a\":10000}"), "10000");
    CHECK_STR_EQ(number_of(pool, "{\"a\":-0}"), "0");
    CHECK_STR_EQ(number_of(pool, "{\"a\":9223372036854775806}"),
                 "9223372036854775806");
    CHECK_STR_EQ(number_of(pool, "{\"a\":-9223372036854775807}"),
                 "-9223372036854775807");
    CHECK_STR_EQ(number_of(pool, "{\"a\":9223372036854775808}"),
                 "9223372036854775808");
    CHECK_STR_EQ(number_of(pool, "{\"a\":12345678901234567890}"),
                 "12345678901234567890");
    CHECK_STR_EQ(number_of(pool, "{\"a\":18446744073709551614}"),
                 "18446744073709551614");
    /* not a number */
    CHECK_STR_EQ(number_of(pool, "{\"a\":\"1\"}"), NULL);
    CHECK_STR_EQ(number_of(pool, "{\"a\":true}"), NULL);
    CHECK_STR_EQ(number_of(pool, "{\"a\":null}"), NULL);
    CHECK_STR_EQ(number_of(pool, "{\"a\":[1]}"), NULL);
    CHECK_STR_EQ(number_of(pool, "{\"b\":1}"), NULL);
}

TEST(json_saturated_integers_refused)
{
    /* json-c 0.16 saturates beyond 64 bits and keeps no text: a value
     * equal to a limit is refused, the real one with it */
    static const char *const limits[] = {
        "9223372036854775807", "9223372036854775808000",
        "99999999999999999999", "18446744073709551615",
        "18446744073709551616", "-9223372036854775808",
        "-9223372036854775809", "-99999999999999999999",
    };
    size_t i;
    long long x;

    for (i = 0; i < CHECK_COUNT(limits); i++) {
        const char *t = apr_pstrcat(pool, "{\"a\":", limits[i], "}", NULL);

        CHECK(parses(pool, t));
        check_report(number_of(pool, t) == NULL, __FILE__, __LINE__,
                     "number text of %s: %s", limits[i], number_of(pool, t));
        check_report(pv_json_int64(member(pool, t, "a"), &x) != 0, __FILE__,
                     __LINE__, "int64 of %s: %lld", limits[i], x);
    }
}

TEST(json_int64)
{
    long long x = 7;

    CHECK(pv_json_int64(member(pool, "{\"a\":9223372036854775806}", "a"), &x) == 0
          && x == 9223372036854775806LL);
    CHECK(pv_json_int64(member(pool, "{\"a\":-9223372036854775807}", "a"), &x) == 0
          && x == -9223372036854775807LL);
    CHECK(pv_json_int64(member(pool, "{\"a\":-0}", "a"), &x) == 0 && x == 0);
    CHECK(pv_json_int64(member(pool, "{\"a\":1700000000}", "a"), &x) == 0
          && x == 1700000000);
    /* above INT64_MAX (json-c keeps it as uint64): not an int64 */
    CHECK(pv_json_int64(member(pool, "{\"a\":12345678901234567890}", "a"), &x) != 0);
    CHECK(pv_json_int64(member(pool, "{\"a\":1.0}", "a"), &x) != 0);
    CHECK(pv_json_int64(member(pool, "{\"a\":1e3}", "a"), &x) != 0);
    CHECK(pv_json_int64(member(pool, "{\"a\":\"1\"}", "a"), &x) != 0);
    CHECK(pv_json_int64(member(pool, "{\"a\":null}", "a"), &x) != 0);
}

TEST(json_text_writes_what_json_c_read)
{
    struct json_object *root;
    static const char in[] = "{ \"a\" : 1.50 , \"b\" : \"x\\/y\" , \"c\" : \"\\u00e9\\t\" ,"
                             " \"d\" : [ 1e4 , -0 , null , true ] , \"a\" : 2.50 }";

    CHECK(pv_json_parse(pool, in, sizeof(in) - 1, 32, &root) == 0);
    CHECK_STR_EQ(pv_json_text(pool, root),
                 "{\"a\":2.50,\"b\":\"x/y\",\"c\":\"\xc3\xa9\\t\",\"d\":[1e4,0,null,true]}");
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
    char all[256], one[2] = {0, 0};
    pv_json_out_t m[3] = {{"v", NULL, 0}, {"gone", NULL, 0}, {"n", "12", 1}};
    size_t len;
    int i;

    for (i = 1; i < 256; i++)                   /* every byte but NUL */
        all[i - 1] = (char)i;
    all[255] = '\0';
    m[0].value = all;
    CHECK_STR_EQ(pv_json_object(pool, m, 3, &len), jsonc_text(pool, all));
    CHECK_INT_EQ(len, strlen(jsonc_text(pool, all)));
    for (i = 1; i < 256; i++) {                 /* and each one alone */
        one[0] = (char)i;
        m[0].value = one;
        if (!check_report(!strcmp(pv_json_object(pool, m, 3, &len),
                                  jsonc_text(pool, one)), __FILE__, __LINE__,
                          "byte 0x%02x", i))
            break;
    }
    for (i = 0; i < (int)CHECK_COUNT(samples); i++) {
        m[0].value = samples[i];
        CHECK_STR_EQ(pv_json_object(pool, m, 3, &len), jsonc_text(pool, samples[i]));
    }
    /* the escapes themselves (json-c's PLAIN | NOSLASHESCAPE) */
    m[0].value = "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f\xc3\xa9";
    CHECK_STR_EQ(pv_json_object(pool, m, 3, &len),
                 "{\"v\":\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\",\"n\":12}");
    CHECK_STR_EQ(pv_json_object(pool, m, 0, &len), "{}");
    CHECK_INT_EQ(len, 2);
    m[0].value = NULL;
    CHECK_STR_EQ(pv_json_object(pool, m, 3, &len), "{\"n\":12}");
}

TEST(json_object_keeps_order_and_raw_text)
{
    const pv_json_out_t m[] = {
        {"status", "success", 0}, {"z", "1700086400", 1}, {"a", "10000.50", 1},
        {"k\"ey", "v", 0}, {"empty", "", 0},
    };
    size_t len;

    CHECK_STR_EQ(pv_json_object(pool, m, (int)CHECK_COUNT(m), &len),
                 "{\"status\":\"success\",\"z\":1700086400,\"a\":10000.50,"
                 "\"k\\\"ey\":\"v\",\"empty\":\"\"}");
}

TEST(json_value_released_with_its_pool)
{
    apr_pool_t *sub;
    struct json_object *root;

    /* the pool's cleanup drops json-c's reference: valgrind (make test)
     * sees no leak; here the value is alive until then */
    apr_pool_create(&sub, pool);
    CHECK(pv_json_parse(sub, "{\"a\":[1,2,3]}", 13, 32, &root) == 0);
    CHECK(json_object_is_type(root, json_type_object));
    CHECK_INT_EQ(json_object_array_length(member(sub, "{\"a\":[1,2,3]}", "a")), 3);
    apr_pool_destroy(sub);
}

/* Each body is read on its own: a parse that stopped inside a number's
 * exponent or a \u escape leaves nothing to the next one (json-c's
 * json_tokener_reset keeps is_double, high_surrogate and ucs_char, so a
 * reused tokener read the next body differently: found by fuzz_json and
 * fuzz_request). */
TEST(json_a_failed_parse_leaves_nothing_to_the_next)
{
    static const char *broken[] = {
        "{\"a\":1.5E-", "{\"a\":\"c\\ud800", "{\"a\":\"\\u00", "{\"a\":-12e",
        "[1.5", "{\"a\":\"\\ud83d\\u",
    };
    size_t i, len = 0;
    const char *s;

    for (i = 0; i < sizeof(broken) / sizeof(*broken); i++) {
        CHECK(!parses(pool, broken[i]));
        CHECK_STR_EQ(number_of(pool, "{\"a\":-9223372036854775807}"),
                     "-9223372036854775807");
        CHECK_STR_EQ(number_of(pool, "{\"a\":12}"), "12");
        s = string_of(pool, "{\"a\":\"x\\u00e9\"}", &len);
        CHECK(s && len == 3 && !memcmp(s, "x\xc3\xa9", 3));
    }
}
