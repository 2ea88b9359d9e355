/* Shared by the pv_request unit tests: identifiers of the maximum lengths,
 * and parse/valid/invalid checks with the caller's file and line. */
#ifndef REQUEST_CHECKS_H
#define REQUEST_CHECKS_H

#include <string.h>

#include "check.h"
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

/* ---- pv_request_parse ---- */

static inline pv_err parse(apr_pool_t *pool, const char *body, size_t len,
                    pv_body_kind kind, pv_claim_t *claim, const char **why)
{
    *why = NULL;
    return pv_request_parse(pool, body, len, kind, claim, why);
}

/* |body| (|len| bytes) is an invalid_request with a reason. */
static inline void invalid(apr_pool_t *pool, pv_body_kind kind, const char *body,
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
static inline pv_claim_t valid(apr_pool_t *pool, pv_body_kind kind, const char *body,
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

#endif
