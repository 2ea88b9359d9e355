/* pv_request: Content-Type, and the claim's body, JSON or form (contract
 * sections 3 and 5, invalid_request). */
#include "check.h"

#include <apr_strings.h>

#include "pv_request.h"

#include "request_checks.h"


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
