/* pv_portone: PortOne V1 getToken answers mapped to values, and the
 * token's lifetime (portone-api.md 1.2; contract section 5's upstream
 * errors). */
#include "check.h"

#include <apr_strings.h>
#include <stdint.h>
#include <json-c/json.h>

#include "pv_portone.h"

/* ---- getToken ---- */

#define TOKEN_OK_BODY                                                       \
    "{\n  \"code\": 0,\n  \"message\": null,\n  \"response\": {\n"          \
    "    \"access_token\": \"a9ace025c90c0da2161075da6ddd3492a2fca776\",\n" \
    "    \"now\": 1512446940,\n    \"expired_at\": 1512448740\n  }\n}\n"

#define TOKEN_REFUSED_BODY                                                  \
    "{\"code\":-1,\"message\":\"인증에 실패하였습니다. API키와 secret을 "    \
    "확인하세요.\",\"response\":null}"

static pv_err token(apr_pool_t *pool, long status, const char *body,
                    size_t len, pv_token_t *out, const char **why)
{
    *why = NULL;
    memset(out, 0, sizeof(*out));
    return pv_portone_parse_token(pool, status, body, len, out, why);
}

/* getToken answer with this access_token JSON value */
static const char *token_body(apr_pool_t *pool, const char *token_json)
{
    return apr_pstrcat(pool, "{\"code\":0,\"message\":null,\"response\":"
                       "{\"access_token\":", token_json,
                       ",\"now\":1000,\"expired_at\":2800}}", NULL);
}

static void token_fails(apr_pool_t *pool, long status, const char *body,
                        size_t len, pv_err want, const char *file, int line)
{
    pv_token_t t;
    const char *why;
    pv_err err = token(pool, status, body, len, &t, &why);

    check_report(err == want && why != NULL, file, line,
                 "getToken HTTP %ld [%s]: err %s why \"%s\", want %s",
                 status, check_printable(pool, body, len), pv_err_lookup(err)->code,
                 why ? why : "(null)", pv_err_lookup(want)->code);
}

#define TOKEN_FAILS(status, lit, want) \
    token_fails(pool, status, lit, sizeof(lit) - 1, want, __FILE__, __LINE__)
#define TOKEN_FAILS_S(status, str, want) \
    token_fails(pool, status, str, strlen(str), want, __FILE__, __LINE__)

TEST(portone_token_success)
{
    pv_token_t t;
    const char *why;

    CHECK_INT_EQ(token(pool, 200, TOKEN_OK_BODY, sizeof(TOKEN_OK_BODY) - 1,
                       &t, &why), PV_OK);
    CHECK_STR_EQ(t.access_token, "a9ace025c90c0da2161075da6ddd3492a2fca776");
    CHECK_INT_EQ(t.now, 1512446940);
    CHECK_INT_EQ(t.expired_at, 1512448740);
}

TEST(portone_token_characters)
{
    char long_tok[PV_TOKEN_MAX + 4];
    pv_token_t t;
    const char *why, *b;

    b = token_body(pool, "\"aB3-._~+/=\"");
    CHECK_INT_EQ(token(pool, 200, b, strlen(b), &t, &why), PV_OK);
    CHECK_STR_EQ(t.access_token, "aB3-._~+/=");
    CHECK_INT_EQ(t.now, 1000);
    CHECK_INT_EQ(t.expired_at, 2800);

    /* PV_TOKEN_MAX characters fit, one more does not */
    long_tok[0] = '"';
    memset(long_tok + 1, 'x', PV_TOKEN_MAX);
    long_tok[PV_TOKEN_MAX + 1] = '"';
    long_tok[PV_TOKEN_MAX + 2] = '\0';
    b = token_body(pool, long_tok);
    CHECK_INT_EQ(token(pool, 200, b, strlen(b), &t, &why), PV_OK);
    CHECK_INT_EQ(strlen(t.access_token), PV_TOKEN_MAX);
    long_tok[PV_TOKEN_MAX + 1] = 'x';
    long_tok[PV_TOKEN_MAX + 2] = '"';
    long_tok[PV_TOKEN_MAX + 3] = '\0';
    TOKEN_FAILS_S(200, token_body(pool, long_tok), PV_E_UPSTREAM_ERROR);

    /* it goes into a header */
    TOKEN_FAILS_S(200, token_body(pool, "\"abc\\r\\nX-Evil: 1\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"abc\\n\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"abc\\r\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"abc def\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"abc\\tdef\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"abc\\u0000def\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"abc:def\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"토큰\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "\"\""), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "12345"), PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS_S(200, token_body(pool, "null"), PV_E_UPSTREAM_ERROR);
}

TEST(portone_token_refused)
{
    TOKEN_FAILS(401, TOKEN_REFUSED_BODY, PV_E_UPSTREAM_AUTH_FAILED);
    TOKEN_FAILS(401, "", PV_E_UPSTREAM_AUTH_FAILED);
    TOKEN_FAILS(400, "{\"code\":-1,\"message\":\"imp_key, imp_secret 파라메터가 "
                "누락되었습니다.\",\"response\":null}", PV_E_UPSTREAM_AUTH_FAILED);
    TOKEN_FAILS(403, "<html>forbidden</html>", PV_E_UPSTREAM_AUTH_FAILED);
}

TEST(portone_token_nonzero_code)
{
    /* HTTP 200 with a non-zero code */
    TOKEN_FAILS(200, TOKEN_REFUSED_BODY, PV_E_UPSTREAM_AUTH_FAILED);
    TOKEN_FAILS(200, "{\"code\":1,\"message\":\"no\",\"response\":null}",
                PV_E_UPSTREAM_AUTH_FAILED);
    TOKEN_FAILS(200, "{\"code\":-1,\"response\":null}", PV_E_UPSTREAM_AUTH_FAILED);
}

TEST(portone_token_upstream_error)
{
    TOKEN_FAILS(500, TOKEN_OK_BODY, PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(500, "<html>Internal Server Error</html>", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(502, "", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(503, "", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(301, TOKEN_OK_BODY, PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(204, "", PV_E_UPSTREAM_ERROR);
    /* garbage with 200 */
    TOKEN_FAILS(200, "<html>hello</html>", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "null", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "[]", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":\"0\",\"response\":{}}", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"message\":null,\"response\":{}}", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"message\":null,\"response\":null}", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"message\":null}", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"now\":1,\"expired_at\":2}}",
                PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"access_token\":\"t\",\"expired_at\":2}}",
                PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"access_token\":\"t\",\"now\":1}}",
                PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"access_token\":\"t\",\"now\":\"1\",\"expired_at\":2}}",
                PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"access_token\":\"t\",\"now\":1,\"expired_at\":2.5}}",
                PV_E_UPSTREAM_ERROR);
    /* trailing garbage, NUL inside */
    TOKEN_FAILS(200, TOKEN_OK_BODY "x", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, TOKEN_OK_BODY "{}", PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, TOKEN_OK_BODY "\0", PV_E_UPSTREAM_ERROR);
    {
        pv_token_t t;
        const char *why;

        CHECK_INT_EQ(token(pool, 200, NULL, 0, &t, &why), PV_E_UPSTREAM_ERROR);
    }
}

/* ---- token lifetime (now and expired_at are any int64 PortOne sends) ---- */

static apr_interval_time_t lifetime(long long now, long long expired_at)
{
    pv_token_t t;

    memset(&t, 0, sizeof(t));
    t.now = now;
    t.expired_at = expired_at;
    return pv_token_lifetime(&t);
}

#define LIFETIME_MAX apr_time_from_sec(PV_TOKEN_LIFETIME_MAX_SEC)

TEST(portone_token_lifetime)
{
    /* the documented 30 minutes */
    CHECK_INT_EQ(lifetime(1512446940, 1512448740), apr_time_from_sec(1800));
    CHECK_INT_EQ(lifetime(0, 1), apr_time_from_sec(1));
    /* a day at most */
    CHECK_INT_EQ(PV_TOKEN_LIFETIME_MAX_SEC, 86400);
    CHECK_INT_EQ(lifetime(1000, 1000 + 86400), apr_time_from_sec(86400));
    CHECK_INT_EQ(lifetime(1000, 1000 + 86401), LIFETIME_MAX);
    CHECK_INT_EQ(lifetime(1512446940, 4102444800LL), LIFETIME_MAX);
    /* already expired: 0, fetched again for the next look-up */
    CHECK_INT_EQ(lifetime(1512448740, 1512448740), 0);
    CHECK_INT_EQ(lifetime(1512448740, 1512446940), 0);
    CHECK_INT_EQ(lifetime(1, -1), 0);
}

TEST(portone_token_lifetime_extremes)
{
    /* expired_at - now overflows int64, or its microseconds do */
    CHECK_INT_EQ(lifetime(INT64_MIN, INT64_MAX), LIFETIME_MAX);
    CHECK_INT_EQ(lifetime(INT64_MAX, INT64_MIN), 0);
    CHECK_INT_EQ(lifetime(-1, INT64_MAX), LIFETIME_MAX);
    CHECK_INT_EQ(lifetime(INT64_MIN, 1), LIFETIME_MAX);
    CHECK_INT_EQ(lifetime(0, INT64_MAX), LIFETIME_MAX);
    CHECK_INT_EQ(lifetime(0, INT64_MAX / 1000000 + 1), LIFETIME_MAX);
    CHECK_INT_EQ(lifetime(INT64_MIN, 0), LIFETIME_MAX);
    CHECK_INT_EQ(lifetime(INT64_MIN, INT64_MIN), 0);
    CHECK_INT_EQ(lifetime(INT64_MAX, INT64_MAX), 0);
    CHECK_INT_EQ(lifetime(0, INT64_MIN), 0);
    CHECK_INT_EQ(lifetime(INT64_MAX - 1800, INT64_MAX), apr_time_from_sec(1800));
    CHECK_INT_EQ(lifetime(INT64_MIN, INT64_MIN + 1800), apr_time_from_sec(1800));
    /* as they come from a getToken answer: the int64 limits themselves
     * are refused (json-c 0.16 saturates to them: the real value is
     * unknown), the values next to them are read */
    {
        static const char b[] = "{\"code\":0,\"message\":null,\"response\":"
            "{\"access_token\":\"t\",\"now\":-9223372036854775807,"
            "\"expired_at\":9223372036854775806}}";
        pv_token_t t;
        const char *why;

        CHECK_INT_EQ(token(pool, 200, b, sizeof(b) - 1, &t, &why), PV_OK);
        CHECK_INT_EQ(t.now, -9223372036854775807LL);
        CHECK_INT_EQ(t.expired_at, 9223372036854775806LL);
        CHECK_INT_EQ(pv_token_lifetime(&t), LIFETIME_MAX);
    }
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"access_token\":\"t\","
                "\"now\":-9223372036854775808,\"expired_at\":1}}",
                PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"access_token\":\"t\","
                "\"now\":1,\"expired_at\":9223372036854775807}}",
                PV_E_UPSTREAM_ERROR);
    TOKEN_FAILS(200, "{\"code\":0,\"response\":{\"access_token\":\"t\","
                "\"now\":1,\"expired_at\":99999999999999999999}}",
                PV_E_UPSTREAM_ERROR);
}

/* a code json-c 0.16 saturated is not the documented answer, for getToken
 * too */
TEST(portone_token_saturated_code)
{
    TOKEN_FAILS(200, "{\"code\":-99999999999999999999,\"response\":null}",
                PV_E_UPSTREAM_ERROR);
}
