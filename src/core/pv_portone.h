/* PortOne V1 answers mapped to plain values: getToken and GET /payments.
 * Pure functions over (HTTP status, body); the transport is pv_client.
 * pv_payment_t is V1's and V2's (pv_portone_v2.h maps V2 answers to it). */
#ifndef PV_PORTONE_H
#define PV_PORTONE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <stddef.h>

#include "pv_error.h"

struct json_object;

#define PV_TOKEN_MAX 256
#define PV_JSON_DEPTH 32

typedef struct {
    char access_token[PV_TOKEN_MAX + 1];
    long long now;          /* PortOne's clock */
    long long expired_at;   /* PortOne's clock */
} pv_token_t;

/* The longest a token is kept: PortOne issues them for 30 minutes. */
#define PV_TOKEN_LIFETIME_MAX_SEC (24 * 60 * 60)

/* How long a token is valid from when PortOne issued it: expired_at - now,
 * both on PortOne's clock and arbitrary int64 from the network, computed
 * without overflow and clamped to [0, PV_TOKEN_LIFETIME_MAX_SEC] seconds.
 * expired_at <= now gives 0: the token serves the look-up at hand (PortOne
 * is the judge: a 401 refreshes and retries once) and the next look-up
 * fetches another. */
apr_interval_time_t pv_token_lifetime(const pv_token_t *t);

typedef enum {
    PV_STATUS_READY, PV_STATUS_PAID, PV_STATUS_CANCELLED, PV_STATUS_FAILED
} pv_status;

/* Which API a payment was read from; 0 (V1) in a zeroed pv_payment_t. */
typedef enum { PV_API_V1 = 0, PV_API_V2 = 1 } pv_api;

/* The api column's value for a payment: "v1" or "v2". */
#define PV_API_NAME(pay) ((pay)->api == PV_API_V2 ? "v2" : "v1")

/* A payment as PortOne reports it. Texts are NULL when PortOne gave null or
 * left the field out; numbers are kept as their exact JSON text. A V2
 * payment (pv_portone_v2.h) has its paymentId as imp_uid and merchant_uid
 * (the shop chooses it and it names the order), PortOne's own status text
 * ("PARTIAL_CANCELLED"), times as UNIX seconds, and the members below. */
typedef struct {
    const char *imp_uid;
    const char *merchant_uid;
    const char *status_text;
    pv_status status;
    const char *amount;
    const char *cancel_amount;  /* "0" when absent */
    const char *currency;
    const char *pay_method;
    const char *paid_at;
    const char *vbank_num;
    const char *vbank_name;
    const char *vbank_date;
    int sandbox;                /* required boolean: else upstream_error */
    /* the whole "response" object as JSON text: written from
     * |response_tree| only when a recording writes it
     * (pv_payment_response_json); NULL until then */
    const char *response_json;
    struct json_object *response_tree;  /* json-c's, lives as long as the
                                         * parse's pool */
    /* V2 only: zero for V1 */
    pv_api api;
    const char *store_id;       /* storeId */
    const char *channel_type;   /* "LIVE" or "TEST" (then sandbox is 1);
                                 * NULL when PortOne left the channel out,
                                 * as it may for READY and FAILED */
    int store_mismatch;         /* storeId is not the configured one: a
                                 * forgery (pv_decide) */
} pv_payment_t;

/* Reads the optional member |name| of the object |obj|: NULL when absent or
 * JSON null; |*bad| set to what is wrong (in |pool|) when it has another
 * type. A string with a \u0000 inside is of the wrong type; a number comes
 * back as its exact text (pv_json_number_text), an int as its decimal. */
typedef enum { PV_FIELD_STRING, PV_FIELD_NUMBER, PV_FIELD_INT } pv_field_type;
const char *pv_portone_field(apr_pool_t *pool, struct json_object *obj,
                             const char *name, pv_field_type type,
                             const char **bad);

/* POST /users/getToken. PV_OK, PV_E_UPSTREAM_AUTH_FAILED (refused: 4xx or a
 * non-zero code) or PV_E_UPSTREAM_ERROR (5xx, not the documented JSON). */
pv_err pv_portone_parse_token(apr_pool_t *pool, long status_code,
                              const char *body, size_t len, pv_token_t *out,
                              const char **why);

/* GET /payments/{imp_uid}. PV_OK, PV_E_PAYMENT_NOT_FOUND (404) or
 * PV_E_UPSTREAM_ERROR (anything else that is not a documented payment). */
pv_err pv_portone_parse_payment(apr_pool_t *pool, long status_code,
                                const char *body, size_t len,
                                pv_payment_t *out, const char **why);

/* |pay|'s "response" object as JSON text (json-c writes it from
 * |response_tree| the first time, into |pool|); NULL when it cannot (out of
 * memory) or there is no tree. A verification that writes nothing does not
 * ask: the writing costs about 44,000 instructions. */
const char *pv_payment_response_json(apr_pool_t *pool, pv_payment_t *pay);

/* ------------------------------------------------------------- cancels */

/* What PortOne did with a cancel (PortOneCancelForgery): DONE, it took the
 * money back (or, V2, took the cancel: SUCCEEDED or REQUESTED); REFUSED,
 * it said no (V1 a non-zero code, V2 a 4xx or a FAILED cancellation);
 * UNKNOWN, no answer that says either (unreachable, timeout, 5xx, not the
 * documented JSON). */
typedef enum {
    PV_CANCEL_UNKNOWN,          /* 0: a zeroed result says nothing was done */
    PV_CANCEL_DONE, PV_CANCEL_REFUSED
} pv_cancel_result;

/* The largest cancel reason sent; a longer one is cut (at a UTF-8
 * character's start). */
#define PV_CANCEL_REASON_MAX 200

/* POST /payments/cancel's body: {"imp_uid","checksum","reason"}; checksum
 * (the cancellable remainder, amount - cancel_amount, exact decimal text)
 * written as a JSON number; no amount, so the whole remainder. In |pool|,
 * |*len| its length. */
char *pv_portone_cancel_body(apr_pool_t *pool, const char *imp_uid,
                             const char *checksum, const char *reason,
                             size_t *len);

/* The answer of POST /payments/cancel (HTTP 200 with code 0 and the
 * payment as "response": DONE; a non-zero code below HTTP 500, or a 4xx:
 * REFUSED; a 5xx, a status below 200 or anything else: UNKNOWN). |*why| says what. A 401 is
 * the caller's (it refreshes the token and asks once more). */
pv_cancel_result pv_portone_parse_cancel(apr_pool_t *pool, long status_code,
                                         const char *body, size_t len,
                                         const char **why);

/* |reason| cut to at most PV_CANCEL_REASON_MAX bytes, never inside a UTF-8
 * character. */
const char *pv_portone_cancel_reason(apr_pool_t *pool, const char *reason);

/* What PortOne registered for an order (V1 PaymentPrepareAnnotation). */
typedef struct {
    const char *merchant_uid;
    const char *amount;         /* its exact JSON text */
    const char *currency;       /* NULL: not checked by PortOne */
} pv_prepared_t;

/* The answer to V1 POST or PUT /payments/prepare of |merchant_uid| with
 * |amount| (plain decimal text; portone-api.md 1.5). PV_OK when PortOne
 * registered that merchant_uid and an equal amount. A POST answered with
 * code 1 (the merchant_uid was prepared before) sets |*registered| and
 * returns PV_E_UPSTREAM_ERROR: the caller then changes it with PUT. Any
 * other non-zero code, a 404 (PUT: nothing prepared), another status, or
 * an answer that is not the documented one (another merchant_uid, another
 * amount) is PV_E_UPSTREAM_ERROR; 401 is the caller's (token refresh). */
pv_err pv_portone_parse_prepare(apr_pool_t *pool, long status_code,
                                const char *body, size_t len,
                                const char *merchant_uid, const char *amount,
                                int *registered, pv_prepared_t *out,
                                const char **why);

#endif
