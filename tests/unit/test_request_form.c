/* pv_request: form bodies (application/x-www-form-urlencoded), and what
 * JSON and form bodies share (contract sections 3 and 5). */
#include "check.h"

#include <apr_strings.h>

#include "request_checks.h"


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
