/* pv_request: Content-Type, and the claim's body, JSON or form (contract
 * sections 3 and 5, invalid_request). */
#include "check.h"

#include <apr_strings.h>

#include "pv_request.h"

/* 40 Hangul syllables (3 bytes each in UTF-8) */
#define KO10 "가나다라마바사아자차"
#define KO40 KO10 KO10 KO10 KO10
/* "가" as a JSON escape */
#define KO10_ESC "\\uac00\\ub098\\ub2e4\\ub77c\\ub9c8\\ubc14\\uc0ac\\uc544\\uc790\\ucc28"
/* "가나" percent-encoded */
#define KO2_PCT "%EA%B0%80%EB%82%98"

#define C32 "imp_0123456789abcdef0123456789ab"   /* 32 characters */
#define C40 "order-0123456789-0123456789-0123456789ab"  /* 40 */

/* ---- pv_request_media ---- */

static void media_ok(const char *ct, int allow_form, pv_body_kind want,
                     const char *file, int line)
{
    pv_body_kind kind = (pv_body_kind)-1;
    pv_err err = pv_request_media(ct, allow_form, &kind);

    check_report(err == PV_OK && kind == want, file, line,
                 "pv_request_media(\"%s\", %d): err %d kind %d, want 0 and %d",
                 ct, allow_form, (int)err, (int)kind, (int)want);
}

static void media_refused(const char *ct, int allow_form, const char *file,
                          int line)
{
    pv_body_kind kind = PV_BODY_JSON;
    pv_err err = pv_request_media(ct, allow_form, &kind);

    check_report(err == PV_E_UNSUPPORTED_MEDIA_TYPE, file, line,
                 "pv_request_media(\"%s\", %d): err %d, want %d",
                 ct ? ct : "(null)", allow_form, (int)err,
                 (int)PV_E_UNSUPPORTED_MEDIA_TYPE);
}

#define MEDIA_OK(ct, form, kind) media_ok(ct, form, kind, __FILE__, __LINE__)
#define MEDIA_REFUSED(ct, form) media_refused(ct, form, __FILE__, __LINE__)

TEST(request_media_json)
{
    int form;

    for (form = 0; form <= 1; form++) {
        MEDIA_OK("application/json", form, PV_BODY_JSON);
        MEDIA_OK("application/json; charset=utf-8", form, PV_BODY_JSON);
        MEDIA_OK("application/json;charset=UTF-8", form, PV_BODY_JSON);
        MEDIA_OK("application/json ; charset=utf-8", form, PV_BODY_JSON);
        MEDIA_OK("Application/JSON", form, PV_BODY_JSON);
        MEDIA_OK("APPLICATION/JSON; CHARSET=UTF-8", form, PV_BODY_JSON);
        MEDIA_OK("  application/json", form, PV_BODY_JSON);
        MEDIA_OK("\tapplication/json", form, PV_BODY_JSON);
        MEDIA_OK("application/json ", form, PV_BODY_JSON);
    }
}

TEST(request_media_refused)
{
    int form;

    for (form = 0; form <= 1; form++) {
        MEDIA_REFUSED(NULL, form);
        MEDIA_REFUSED("", form);
        MEDIA_REFUSED(" ", form);
        MEDIA_REFUSED("application/jsonx", form);
        MEDIA_REFUSED("application/json-patch+json", form);
        MEDIA_REFUSED("application/jso", form);
        MEDIA_REFUSED("application/json,text/plain", form);
        MEDIA_REFUSED("text/plain", form);
        MEDIA_REFUSED("text/json", form);
        MEDIA_REFUSED("multipart/form-data; boundary=x", form);
        MEDIA_REFUSED("application/x-www-form-urlencodedx", form);
        MEDIA_REFUSED("xapplication/json", form);
    }
}

TEST(request_media_form_only_when_allowed)
{
    MEDIA_REFUSED("application/x-www-form-urlencoded", 0);
    MEDIA_REFUSED("application/x-www-form-urlencoded; charset=UTF-8", 0);
    MEDIA_OK("application/x-www-form-urlencoded", 1, PV_BODY_FORM);
    MEDIA_OK("application/x-www-form-urlencoded; charset=UTF-8", 1,
             PV_BODY_FORM);
    MEDIA_OK("Application/X-WWW-Form-Urlencoded", 1, PV_BODY_FORM);
    MEDIA_OK(" application/x-www-form-urlencoded", 1, PV_BODY_FORM);
}

/* ---- pv_request_parse ---- */

static pv_err parse(apr_pool_t *pool, const char *body, size_t len,
                    pv_body_kind kind, pv_claim_t *claim, const char **why)
{
    *why = NULL;
    return pv_request_parse(pool, body, len, kind, claim, why);
}

/* |body| (|len| bytes) is an invalid_request with a reason. */
static void invalid(apr_pool_t *pool, pv_body_kind kind, const char *body,
                    size_t len, const char *file, int line)
{
    pv_claim_t claim;
    const char *why;
    pv_err err = parse(pool, body, len, kind, &claim, &why);

    check_report(err == PV_E_INVALID_REQUEST && why && *why, file, line,
                 "%s body [%s] (%zu bytes): err %s why \"%s\", want "
                 "invalid_request with a reason",
                 kind == PV_BODY_JSON ? "JSON" : "form",
                 check_printable(pool, body, len), len, pv_err_lookup(err)->code,
                 why ? why : "(null)");
}

/* |body| parses; returns the claim (zeroed on failure). */
static pv_claim_t valid(apr_pool_t *pool, pv_body_kind kind, const char *body,
                        size_t len, const char *file, int line)
{
    pv_claim_t claim;
    const char *why;
    pv_err err = parse(pool, body, len, kind, &claim, &why);

    check_report(err == PV_OK, file, line,
                 "%s body [%s]: err %s why \"%s\", want ok",
                 kind == PV_BODY_JSON ? "JSON" : "form",
                 check_printable(pool, body, len), pv_err_lookup(err)->code,
                 why ? why : "(null)");
    if (err != PV_OK)
        memset(&claim, 0, sizeof(claim));
    return claim;
}

/* string literals: the length includes any NUL byte inside */
#define JSON_INVALID(lit) \
    invalid(pool, PV_BODY_JSON, lit, sizeof(lit) - 1, __FILE__, __LINE__)
#define FORM_INVALID(lit) \
    invalid(pool, PV_BODY_FORM, lit, sizeof(lit) - 1, __FILE__, __LINE__)
#define JSON_VALID(lit) \
    valid(pool, PV_BODY_JSON, lit, sizeof(lit) - 1, __FILE__, __LINE__)
#define FORM_VALID(lit) \
    valid(pool, PV_BODY_FORM, lit, sizeof(lit) - 1, __FILE__, __LINE__)
/* a claim with merchant_uid |m| (a C string, no quote or backslash needed) */
#define JSON_M(m) "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"" m "\"}"

TEST(request_json_valid)
{
    pv_claim_t c;

    c = JSON_VALID("{\"imp_uid\":\"imp_123456789012\",\"merchant_uid\":\"order-1\"}");
    CHECK_STR_EQ(c.imp_uid, "imp_123456789012");
    CHECK_STR_EQ(c.merchant_uid, "order-1");
    CHECK_STR_EQ(c.status, NULL);
    CHECK_STR_EQ(c.cancellation_id, NULL);

    c = JSON_VALID(" \r\n\t{ \"merchant_uid\" : \"m\" , \"imp_uid\" : \"i\" }\n ");
    CHECK_STR_EQ(c.imp_uid, "i");
    CHECK_STR_EQ(c.merchant_uid, "m");

    /* webhook: status and cancellation_id */
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\","
                   "\"status\":\"cancelled\",\"cancellation_id\":\"cx_1\"}");
    CHECK_STR_EQ(c.status, "cancelled");
    CHECK_STR_EQ(c.cancellation_id, "cx_1");
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\","
                   "\"status\":null,\"cancellation_id\":null}");
    CHECK_STR_EQ(c.imp_uid, "imp_1");
    CHECK_STR_EQ(c.status, NULL);
    CHECK_STR_EQ(c.cancellation_id, NULL);

    /* escapes are decoded; unknown fields, nested within the limit, ignored */
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"2022-11-16T10:17:16_1\\/a\\\"b\","
                   "\"extra\":{\"a\":[1,2,{\"b\":null}]},\"n\":1.5,\"t\":true}");
    CHECK_STR_EQ(c.merchant_uid, "2022-11-16T10:17:16_1/a\"b");
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"" KO10_ESC "\"}");
    CHECK_STR_EQ(c.merchant_uid, KO10);
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"\\ud83d\\ude00\"}");
    CHECK_STR_EQ(c.merchant_uid, "\xf0\x9f\x98\x80");
    c = JSON_VALID(JSON_M("a b"));
    CHECK_STR_EQ(c.merchant_uid, "a b");
}

TEST(request_json_missing_fields)
{
    JSON_INVALID("{}");
    JSON_INVALID("{\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\"}");
    JSON_INVALID("{\"IMP_UID\":\"i\",\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"status\":\"paid\",\"cancellation_id\":\"c\"}");
    JSON_INVALID("{\"imp_uid \":\"i\",\"merchant_uid\":\"m\"}");
}

TEST(request_json_empty_fields)
{
    JSON_INVALID("{\"imp_uid\":\"\",\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"\"}");
}

TEST(request_json_null_fields)
{
    JSON_INVALID("{\"imp_uid\":null,\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":null}");
}

TEST(request_json_non_string_fields)
{
    JSON_INVALID("{\"imp_uid\":123,\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":12345}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":1.5}");
    JSON_INVALID("{\"imp_uid\":true,\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":false,\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":[\"i\"],\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":{\"v\":\"i\"},\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":1}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"cancellation_id\":[]}");
}

TEST(request_json_control_characters)
{
    /* escaped */
    JSON_INVALID(JSON_M("a\\u0000b"));
    JSON_INVALID(JSON_M("\\u0000"));
    JSON_INVALID(JSON_M("a\\u0001"));
    JSON_INVALID(JSON_M("a\\u001f"));
    JSON_INVALID(JSON_M("a\\u007f"));
    JSON_INVALID(JSON_M("a\\tb"));
    JSON_INVALID(JSON_M("a\\nb"));
    JSON_INVALID(JSON_M("a\\rb"));
    JSON_INVALID("{\"imp_uid\":\"imp\\u0000_1\",\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"status\":\"pa\\u0000id\"}");
    /* raw */
    JSON_INVALID(JSON_M("a\tb"));
    JSON_INVALID(JSON_M("a\nb"));
    JSON_INVALID(JSON_M("a\x01" "b"));
    JSON_INVALID(JSON_M("a\x7f" "b"));
    /* raw NUL bytes, inside a string and after the value */
    JSON_INVALID(JSON_M("a\0b"));
    JSON_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\"}\0");
    JSON_INVALID("\0{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\"}");
}

TEST(request_c1_control_characters)
{
    /* U+0080..U+009F are control characters (Unicode category Cc) too */
    JSON_INVALID(JSON_M("a\\u0085b"));
    JSON_INVALID(JSON_M("a\xc2\x85" "b"));
    JSON_INVALID(JSON_M("a\xc2\x9f"));
    JSON_INVALID(JSON_M("\xc2\x80"));
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a%C2%85b");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a\xc2\x85" "b");
}

TEST(request_json_lengths)
{
    pv_claim_t c;

    c = JSON_VALID("{\"imp_uid\":\"" C32 "\",\"merchant_uid\":\"" C40 "\"}");
    CHECK_INT_EQ(strlen(C32), 32);
    CHECK_INT_EQ(strlen(C40), 40);
    CHECK_STR_EQ(c.imp_uid, C32);
    CHECK_STR_EQ(c.merchant_uid, C40);
    JSON_INVALID("{\"imp_uid\":\"" C32 "x\",\"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"" C40 "x\"}");

    /* characters, not bytes */
    c = JSON_VALID(JSON_M(KO40));
    CHECK_STR_EQ(c.merchant_uid, KO40);
    CHECK_INT_EQ(strlen(KO40), 120);
    JSON_INVALID(JSON_M(KO40 "가"));
    JSON_INVALID(JSON_M(KO40 "x"));
    c = JSON_VALID(JSON_M(KO10_ESC KO10_ESC KO10_ESC KO10_ESC));
    CHECK_STR_EQ(c.merchant_uid, KO40);
    JSON_INVALID(JSON_M(KO10_ESC KO10_ESC KO10_ESC KO10_ESC "\\uac00"));
    c = JSON_VALID("{\"imp_uid\":\"" KO10 KO10 KO10 "가나\",\"merchant_uid\":\"m\"}");
    CHECK_STR_EQ(c.imp_uid, KO10 KO10 KO10 "가나");
    JSON_INVALID("{\"imp_uid\":\"" KO10 KO10 KO10 "가나다\",\"merchant_uid\":\"m\"}");
    /* 4-byte characters */
    c = JSON_VALID(JSON_M("\xf0\x9f\x98\x80" C32 "1234567"));
    CHECK(c.merchant_uid != NULL);
    JSON_INVALID(JSON_M("\xf0\x9f\x98\x80" C32 "12345678"));
}

TEST(request_json_invalid_utf8)
{
    JSON_INVALID(JSON_M("a\xff" "b"));
    JSON_INVALID(JSON_M("\x80"));
    JSON_INVALID(JSON_M("\xc0\xaf"));           /* overlong '/' */
    JSON_INVALID(JSON_M("\xe0\x80\xaf"));       /* overlong '/' */
    JSON_INVALID(JSON_M("\xed\xa0\x80"));       /* UTF-16 surrogate */
    JSON_INVALID(JSON_M("\xe2\x82"));           /* truncated */
    JSON_INVALID(JSON_M("\xf4\x90\x80\x80"));   /* past U+10FFFF */
    JSON_INVALID(JSON_M("\xf5\x80\x80\x80"));
    JSON_INVALID("{\"imp_uid\":\"\xfe\",\"merchant_uid\":\"m\"}");
}

TEST(request_json_not_json)
{
    JSON_INVALID("imp_uid=imp_1&merchant_uid=m");
    JSON_INVALID("{");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m");
    JSON_INVALID("{'imp_uid':'i','merchant_uid':'m'}");
    JSON_INVALID("{imp_uid:\"i\",merchant_uid:\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",}");
    JSON_INVALID("{\"imp_uid\":\"i\" \"merchant_uid\":\"m\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\\x\"}");
    JSON_INVALID("   ");
    JSON_INVALID("\n");
    JSON_INVALID("");
}

TEST(request_json_not_an_object)
{
    JSON_INVALID("[{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"}]");
    JSON_INVALID("[]");
    JSON_INVALID("\"imp_1\"");
    JSON_INVALID("123");
    JSON_INVALID("123 ");
    JSON_INVALID("true");
    JSON_INVALID("null");
}

TEST(request_json_trailing_data)
{
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"} x");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"}{}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"},");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"}]");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"}\n{\"imp_uid\":\"j\",\"merchant_uid\":\"n\"}");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"}/* c */");
    JSON_INVALID("{\"imp_uid\":\"i\",\"merchant_uid\":\"m\"}// c");
}

/* {"imp_uid":"i","merchant_uid":"m","x":[[...1...]]} with |arrays| arrays */
static const char *nested(apr_pool_t *pool, int arrays)
{
    char *open = apr_palloc(pool, (size_t)arrays + 1);
    char *close = apr_palloc(pool, (size_t)arrays + 1);

    memset(open, '[', (size_t)arrays);
    memset(close, ']', (size_t)arrays);
    open[arrays] = close[arrays] = '\0';
    return apr_pstrcat(pool, "{\"imp_uid\":\"i\",\"merchant_uid\":\"m\",\"x\":",
                       open, "1", close, "}", NULL);
}

TEST(request_json_depth_limit)
{
    const char *b;

    b = nested(pool, 3);
    valid(pool, PV_BODY_JSON, b, strlen(b), __FILE__, __LINE__);
    b = nested(pool, 9);        /* 10 levels with the object: over 8 */
    invalid(pool, PV_BODY_JSON, b, strlen(b), __FILE__, __LINE__);
    b = nested(pool, 100);
    invalid(pool, PV_BODY_JSON, b, strlen(b), __FILE__, __LINE__);
    b = nested(pool, 5000);
    invalid(pool, PV_BODY_JSON, b, strlen(b), __FILE__, __LINE__);
}

TEST(request_form_valid)
{
    pv_claim_t c;

    c = FORM_VALID("imp_uid=imp_123&merchant_uid=order-1");
    CHECK_STR_EQ(c.imp_uid, "imp_123");
    CHECK_STR_EQ(c.merchant_uid, "order-1");
    CHECK_STR_EQ(c.status, NULL);
    CHECK_STR_EQ(c.cancellation_id, NULL);

    c = FORM_VALID("merchant_uid=order+1&imp_uid=imp_1");
    CHECK_STR_EQ(c.merchant_uid, "order 1");
    c = FORM_VALID("imp_uid=imp_1&merchant_uid=a%2Fb%41%c3%A9%2B%25+");
    CHECK_STR_EQ(c.merchant_uid, "a/bA\xc3\xa9+% ");
    c = FORM_VALID("imp%5Fuid=imp_1&merchant%5fuid=2022-11-16T10%3A17%3A16_1");
    CHECK_STR_EQ(c.imp_uid, "imp_1");
    CHECK_STR_EQ(c.merchant_uid, "2022-11-16T10:17:16_1");
    c = FORM_VALID("imp_uid=imp_1&merchant_uid=" KO2_PCT);
    CHECK_STR_EQ(c.merchant_uid, "가나");
    c = FORM_VALID("imp_uid=imp_1&merchant_uid=" KO40);
    CHECK_STR_EQ(c.merchant_uid, KO40);
    c = FORM_VALID("imp_uid=" C32 "&merchant_uid=" C40);
    CHECK_STR_EQ(c.imp_uid, C32);
    CHECK_STR_EQ(c.merchant_uid, C40);
}

TEST(request_form_unknown_fields_ignored)
{
    pv_claim_t c;

    c = FORM_VALID("foo=bar&imp_uid=imp_1&x=&merchant_uid=m&tier=ABC&imp_uids=zz");
    CHECK_STR_EQ(c.imp_uid, "imp_1");
    CHECK_STR_EQ(c.merchant_uid, "m");
    c = FORM_VALID("&imp_uid=imp_1&&merchant_uid=m&");
    CHECK_STR_EQ(c.imp_uid, "imp_1");
    CHECK_STR_EQ(c.merchant_uid, "m");
}

TEST(request_form_optional_fields)
{
    pv_claim_t c;

    c = FORM_VALID("imp_uid=imp_1&merchant_uid=m&status=paid");
    CHECK_STR_EQ(c.status, "paid");
    CHECK_STR_EQ(c.cancellation_id, NULL);
    c = FORM_VALID("imp_uid=imp_1&merchant_uid=m&status=cancelled&cancellation_id=cx_9");
    CHECK_STR_EQ(c.status, "cancelled");
    CHECK_STR_EQ(c.cancellation_id, "cx_9");
    c = FORM_VALID("imp_uid=imp_1&merchant_uid=m&status=&cancellation_id=");
    CHECK_STR_EQ(c.status, NULL);
    CHECK_STR_EQ(c.cancellation_id, NULL);
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m&status=pa%00id");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m&status=" C32);
}

TEST(request_form_bad_escapes)
{
    FORM_INVALID("imp_uid=imp_1&merchant_uid=ab%4");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=ab%4&status=paid");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=ab%zz");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=ab%4g");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=ab%");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=%");
    FORM_INVALID("imp_uid=%%41&merchant_uid=m");
    FORM_INVALID("imp%5uid=imp_1&merchant_uid=m");
}

TEST(request_form_given_twice)
{
    FORM_INVALID("imp_uid=imp_1&imp_uid=imp_1&merchant_uid=m");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m&merchant_uid=n");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m&imp%5Fuid=imp_2");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m&status=paid&status=paid");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m&status=&status=paid");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m&cancellation_id=a&cancellation_id=b");
}

/* json-c keeps the last of duplicate keys and cannot tell that a key
 * repeated: in JSON the last counts (docs/security.md, "Decisions") */
TEST(request_json_given_twice)
{
    pv_claim_t c;

    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"imp_uid\":\"imp_2\",\"merchant_uid\":\"m\"}");
    CHECK_STR_EQ(c.imp_uid, "imp_2");
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"merchant\\u005fuid\":\"n\"}");
    CHECK_STR_EQ(c.merchant_uid, "n");
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":null,"
                   "\"status\":\"paid\"}");
    CHECK_STR_EQ(c.status, "paid");
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":\"paid\","
                   "\"status\":null}");
    CHECK_STR_EQ(c.status, NULL);
    /* the last one is checked as any field */
    JSON_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"imp_uid\":\"\"}");
    JSON_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"imp_uid\":1}");
    JSON_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"merchant_uid\":null}");
    /* another key, even repeated, is ignored (as in a form) */
    JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"x\":1,\"x\":2}");
    /* the same key in a nested object, or in a string, is not a duplicate */
    JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"x\":{\"imp_uid\":1},"
               "\"y\":[{\"merchant_uid\":2}],\"z\":\"\\\",\\\"imp_uid\\\":\"}");
}

TEST(request_form_invalid)
{
    FORM_INVALID("merchant_uid=m");
    FORM_INVALID("imp_uid=imp_1");
    FORM_INVALID("status=paid");
    FORM_INVALID("imp_uid=&merchant_uid=m");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=");
    FORM_INVALID("imp_uid&merchant_uid=m");
    FORM_INVALID("&&&");
    FORM_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\"}");
    /* control characters, decoded or raw */
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a%00b");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a%0Ab");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a%0d");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a%7F");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a\tb");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a\nb");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a\0b");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=m\0");
    /* invalid UTF-8 */
    FORM_INVALID("imp_uid=imp_1&merchant_uid=a%FFb");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=%C0%AF");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=%ED%A0%80");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=\xe2\x82");
    /* lengths */
    FORM_INVALID("imp_uid=" C32 "x&merchant_uid=m");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=" C40 "x");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=" C40 "%41");
    FORM_INVALID("imp_uid=imp_1&merchant_uid=" KO40 "x");
}

TEST(request_body_length_cap)
{
    static const char obj[] = "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\"}";
    static const char form[] = "imp_uid=imp_1&merchant_uid=m&pad=";
    char *buf = apr_palloc(pool, PV_BODY_MAX + 2);
    pv_claim_t c;
    const char *why;

    CHECK_INT_EQ(PV_BODY_MAX, 65536);

    /* JSON padded with blanks to exactly 64 KiB: fine; one byte more: 413 */
    memset(buf, ' ', PV_BODY_MAX + 1);
    memcpy(buf, obj, sizeof(obj) - 1);
    CHECK_INT_EQ(parse(pool, buf, PV_BODY_MAX, PV_BODY_JSON, &c, &why), PV_OK);
    CHECK_STR_EQ(c.merchant_uid, "m");
    CHECK_INT_EQ(parse(pool, buf, PV_BODY_MAX + 1, PV_BODY_JSON, &c, &why),
                 PV_E_PAYLOAD_TOO_LARGE);
    CHECK_INT_EQ(parse(pool, buf, PV_BODY_MAX * 4, PV_BODY_JSON, &c, &why),
                 PV_E_PAYLOAD_TOO_LARGE);

    /* the same for a form */
    memset(buf, 'a', PV_BODY_MAX + 1);
    memcpy(buf, form, sizeof(form) - 1);
    CHECK_INT_EQ(parse(pool, buf, PV_BODY_MAX, PV_BODY_FORM, &c, &why), PV_OK);
    CHECK_INT_EQ(parse(pool, buf, PV_BODY_MAX + 1, PV_BODY_FORM, &c, &why),
                 PV_E_PAYLOAD_TOO_LARGE);

    /* empty */
    CHECK_INT_EQ(parse(pool, buf, 0, PV_BODY_JSON, &c, &why),
                 PV_E_INVALID_REQUEST);
    CHECK(why != NULL);
    CHECK_INT_EQ(parse(pool, buf, 0, PV_BODY_FORM, &c, &why),
                 PV_E_INVALID_REQUEST);
    CHECK(why != NULL);
}

TEST(request_reads_only_len_bytes)
{
    static const char json[] = "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\"}}x";
    static const char form[] = "imp_uid=imp_1&merchant_uid=ab%41";
    pv_claim_t c;
    const char *why;

    /* the bytes after |len| are not part of the body */
    CHECK_INT_EQ(parse(pool, json, sizeof(json) - 3, PV_BODY_JSON, &c, &why),
                 PV_OK);
    CHECK_STR_EQ(c.merchant_uid, "m");
    CHECK_INT_EQ(parse(pool, form, sizeof(form) - 2, PV_BODY_FORM, &c, &why),
                 PV_E_INVALID_REQUEST);                     /* "ab%4" */
    CHECK_INT_EQ(parse(pool, form, sizeof(form) - 3, PV_BODY_FORM, &c, &why),
                 PV_E_INVALID_REQUEST);                     /* "ab%" */
    CHECK_INT_EQ(parse(pool, form, sizeof(form) - 4, PV_BODY_FORM, &c, &why),
                 PV_OK);                                    /* "ab" */
    CHECK_STR_EQ(c.merchant_uid, "ab");
}

TEST(request_check_id)
{
    CHECK_STR_EQ(pv_request_check_id("imp_1", 5, PV_IMP_UID_MAX), NULL);
    CHECK_STR_EQ(pv_request_check_id("가", 3, 1), NULL);
    CHECK(pv_request_check_id("가", 2, 1) != NULL);          /* cut in two */
    CHECK(pv_request_check_id("ab", 2, 1) != NULL);
    CHECK(pv_request_check_id(NULL, 0, 10) != NULL);
    CHECK(pv_request_check_id("", 0, 10) != NULL);
    CHECK(pv_request_check_id("a\0b", 3, 10) != NULL);
    CHECK(pv_request_check_id(" ", 1, 10) == NULL);          /* a blank is fine */
}

/* contract section 3: status and cancellation_id are optional and may be
 * empty (only logged); empty reads as absent, as in a form */
TEST(request_json_empty_optional_fields)
{
    pv_claim_t c;

    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\","
                   "\"status\":\"cancelled\",\"cancellation_id\":\"\"}");
    CHECK_STR_EQ(c.imp_uid, "imp_1");
    CHECK_STR_EQ(c.merchant_uid, "m");
    CHECK_STR_EQ(c.status, "cancelled");
    CHECK_STR_EQ(c.cancellation_id, NULL);
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\","
                   "\"status\":\"\",\"cancellation_id\":\"\"}");
    CHECK_STR_EQ(c.imp_uid, "imp_1");
    CHECK_STR_EQ(c.status, NULL);
    CHECK_STR_EQ(c.cancellation_id, NULL);
    c = JSON_VALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":\"\"}");
    CHECK_STR_EQ(c.merchant_uid, "m");
    CHECK_STR_EQ(c.status, NULL);
    /* the required ones may not be empty */
    JSON_INVALID("{\"imp_uid\":\"\",\"merchant_uid\":\"m\",\"status\":\"\"}");
    JSON_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"\",\"cancellation_id\":\"\"}");
    /* empty is still a string: another type is refused */
    JSON_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":0}");
}

/* One webhook, as JSON and as a form: both valid with the same fields, or
 * both refused. */
static void same_claim(apr_pool_t *pool, const char *json, const char *form,
                       int ok, const char *file, int line)
{
    pv_claim_t cj, cf;
    const char *wj, *wf;
    pv_err ej = parse(pool, json, strlen(json), PV_BODY_JSON, &cj, &wj);
    pv_err ef = parse(pool, form, strlen(form), PV_BODY_FORM, &cf, &wf);
    const char *const vj[] = {cj.imp_uid, cj.merchant_uid, cj.status,
                              cj.cancellation_id};
    const char *const vf[] = {cf.imp_uid, cf.merchant_uid, cf.status,
                              cf.cancellation_id};
    size_t i;

    check_report(ej == (ok ? PV_OK : PV_E_INVALID_REQUEST)
                 && ef == (ok ? PV_OK : PV_E_INVALID_REQUEST), file, line,
                 "JSON [%s]: %s (%s); form [%s]: %s (%s); want %s", json,
                 pv_err_lookup(ej)->code, wj ? wj : "-", form,
                 pv_err_lookup(ef)->code, wf ? wf : "-",
                 ok ? "both ok" : "both invalid_request");
    if (!ok || ej != PV_OK || ef != PV_OK)
        return;
    for (i = 0; i < CHECK_COUNT(vj); i++)
        check_report(vj[i] && vf[i] ? !strcmp(vj[i], vf[i]) : vj[i] == vf[i],
                     file, line, "field %zu: JSON \"%s\", form \"%s\"", i,
                     vj[i] ? vj[i] : "(null)", vf[i] ? vf[i] : "(null)");
}
#define SAME_OK(json, form) same_claim(pool, json, form, 1, __FILE__, __LINE__)
#define SAME_INVALID(json, form) \
    same_claim(pool, json, form, 0, __FILE__, __LINE__)

TEST(request_json_and_form_agree)
{
    SAME_OK("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\"}",
            "imp_uid=imp_1&merchant_uid=m");
    SAME_OK("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":\"paid\"}",
            "imp_uid=imp_1&merchant_uid=m&status=paid");
    SAME_OK("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":\"cancelled\","
            "\"cancellation_id\":\"\"}",
            "imp_uid=imp_1&merchant_uid=m&status=cancelled&cancellation_id=");
    SAME_OK("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":\"\","
            "\"cancellation_id\":\"cx_1\"}",
            "imp_uid=imp_1&merchant_uid=m&status=&cancellation_id=cx_1");
    SAME_OK("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"status\":\"\","
            "\"cancellation_id\":\"\"}",
            "imp_uid=imp_1&merchant_uid=m&status=&cancellation_id=");
    /* unknown fields, repeated or empty, ignored */
    SAME_OK("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\",\"tier\":\"ABC\","
            "\"x\":\"\",\"x\":\"1\",\"imp_uids\":\"zz\"}",
            "imp_uid=imp_1&merchant_uid=m&tier=ABC&x=&x=1&imp_uids=zz");
    /* 20 and 64 characters are the limits of status and cancellation_id */
    SAME_OK("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\","
            "\"status\":\"abcdefghijabcdefghij\"}",
            "imp_uid=imp_1&merchant_uid=m&status=abcdefghijabcdefghij");
    SAME_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\","
                 "\"status\":\"abcdefghijabcdefghijk\"}",
                 "imp_uid=imp_1&merchant_uid=m&status=abcdefghijabcdefghijk");
    SAME_INVALID("{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"m\","
                 "\"status\":\"pa\\u0001id\"}",
                 "imp_uid=imp_1&merchant_uid=m&status=pa%01id");
    SAME_INVALID("{\"imp_uid\":\"\",\"merchant_uid\":\"m\"}",
                 "imp_uid=&merchant_uid=m");
    SAME_INVALID("{\"merchant_uid\":\"m\",\"status\":\"paid\"}",
                 "merchant_uid=m&status=paid");
}

TEST(request_optional_field_length_message)
{
    pv_claim_t c;
    const char *why;

    CHECK_INT_EQ(parse(pool, "imp_uid=imp_1&merchant_uid=m&status=" C32,
                       strlen("imp_uid=imp_1&merchant_uid=m&status=" C32),
                       PV_BODY_FORM, &c, &why), PV_E_INVALID_REQUEST);
    CHECK_STR_EQ(why, "status is longer than 20 characters");
    CHECK_INT_EQ(parse(pool, JSON_M(C40 "x"), strlen(JSON_M(C40 "x")),
                       PV_BODY_JSON, &c, &why), PV_E_INVALID_REQUEST);
    CHECK_STR_EQ(why, "merchant_uid is longer than 40 characters");
}
