/* The PortOne client, V1 and V2: libcurl handles reused per process
 * (keep-alive), V1's access token cached per process and refreshed by one
 * thread at a time; V2 sends its API secret, no token.
 * Knows nothing of httpd; the glue creates one client per server and child. */
#ifndef PV_CLIENT_H
#define PV_CLIENT_H

#include <apr_pools.h>
#include <apr_time.h>

#include "pv_error.h"
#include "pv_portone.h"

/* The largest PortOne answer read; a larger one is an upstream_error. */
#define PV_RESPONSE_MAX (256 * 1024)

typedef struct {
    const char *base_url;           /* no trailing slash */
    const char *key;
    const char *secret;
    const char *tier;               /* NULL: no Tier header */
    const char *ca_file;            /* NULL: the system store */
    const char *proxy;              /* NULL: none, whatever the environment
                                     * (the proxy variables) says */
    int sandbox;                    /* send include_sandbox=true */
    apr_interval_time_t timeout;    /* the whole look-up, token included */
    apr_interval_time_t connect_timeout;
    int max_idle;                   /* handles (connections) kept open: one
                                     * per request thread of the process */
    /* V2, all optional (zero: no V2 look-up; V1 is as without them) */
    const char *v2_base_url;        /* no trailing slash */
    const char *v2_secret;          /* Authorization: PortOne <v2_secret> */
    const char *store_id;           /* NULL: the secret's own store; else
                                     * sent as ?storeId= and compared */
} pv_client_conf_t;

/* Called after every HTTP exchange with PortOne, for logs and counters;
 * never sees the secret or the token. |status| is 0 without an answer;
 * |err| is PV_OK, PV_E_UPSTREAM_TIMEOUT or PV_E_UPSTREAM_ERROR, explained
 * by |error|. */
typedef void pv_client_trace_fn(void *baton, const char *method,
                                const char *path, long status,
                                apr_interval_time_t took, pv_err err,
                                const char *error);

typedef struct pv_client_t pv_client_t;

/* Once per process, before any thread: curl_global_init. */
apr_status_t pv_client_global_init(apr_pool_t *pool);

apr_status_t pv_client_create(apr_pool_t *pool, const pv_client_conf_t *conf,
                              pv_client_trace_fn *trace, void *baton,
                              pv_client_t **out);

/* Looks the payment up: token (cached), GET /payments/{imp_uid}, one token
 * refresh and retry on a 401. |*why| explains an error for the log. */
pv_err pv_client_get_payment(pv_client_t *c, apr_pool_t *pool,
                             const char *imp_uid, pv_payment_t *out,
                             const char **why);

/* Looks the V2 payment up: GET {v2_base_url}/payments/{paymentId}, the id
 * percent-encoded as one path segment (every byte but [A-Za-z0-9_-]),
 * ?storeId= when store_id is set, Authorization: PortOne <v2_secret>; the
 * same timeouts, proxy, TLS rules and handles as V1. The answer is read by
 * pv_portone_v2_parse_payment (|payment_id| and store_id checked there).
 * PV_E_NOT_CONFIGURED without v2_base_url or v2_secret. |*why| explains an
 * error for the log and never holds the secret. */
pv_err pv_client_get_payment_v2(pv_client_t *c, apr_pool_t *pool,
                                const char *payment_id, pv_payment_t *out,
                                const char **why);

/* Cancels the V1 payment |imp_uid| in full: POST /payments/cancel with
 * |checksum| (what is left to cancel, amount - cancel_amount) and
 * |reason|, the token as for look-ups (one refresh and retry on a 401).
 * PV_CANCEL_UNKNOWN when no answer says what happened. */
pv_cancel_result pv_client_cancel(pv_client_t *c, apr_pool_t *pool,
                                  const char *imp_uid, const char *checksum,
                                  const char *reason, const char **why);

/* Cancels the V2 payment |payment_id| in full: POST {v2_base_url}/payments/
 * {paymentId}/cancel (the id encoded as for look-ups), Authorization:
 * PortOne <v2_secret>, Idempotency-Key: |idempotency_key| (the header's
 * value, pv_portone_v2_idempotency_key), body with |reason|,
 * currentCancellableAmount |cancellable| and, where store_id is
 * configured, storeId |store_id| (the payment's own). */
pv_cancel_result pv_client_cancel_v2(pv_client_t *c, apr_pool_t *pool,
                                     const char *payment_id,
                                     const char *cancellable,
                                     const char *store_id, const char *reason,
                                     const char *idempotency_key,
                                     const char **why);

/* Looks up the payment of an order: its latest paid one, GET
 * /payments/find/{merchant_uid}/paid, and when it has none PortOne's latest
 * of any status, GET /payments/find/{merchant_uid} (by -started;
 * portone-api.md 1.5): a failed later try must not hide the payment that
 * paid the order. Both within one PortOneTimeout; token and 401 as
 * pv_client_get_payment. PortOne's answer must name |merchant_uid|, else
 * PV_E_UPSTREAM_ERROR; PV_E_PAYMENT_NOT_FOUND when the order has none. */
pv_err pv_client_find_payment(pv_client_t *c, apr_pool_t *pool,
                              const char *merchant_uid, pv_payment_t *out,
                              const char **why);

/* Registers |amount| (plain decimal text) and |currency| for |merchant_uid|
 * with V1 POST /payments/prepare; when PortOne answers code 1 (prepared
 * before), with PUT /payments/prepare, which sets the amount whether it
 * changed or not (|*replaced| set). Token and 401 as
 * pv_client_get_payment; the whole within PortOneTimeout. PV_OK when
 * PortOne registered that amount (pv_portone_parse_prepare). */
pv_err pv_client_prepare(pv_client_t *c, apr_pool_t *pool,
                         const char *merchant_uid, const char *amount,
                         const char *currency, int *replaced,
                         const char **why);

/* Registers |amount| (an integer's text) and |currency| for |payment_id|
 * with V2 POST /payments/{paymentId}/pre-register (storeId in the body
 * when configured). PV_OK, or as pv_portone_v2_parse_pre_register;
 * PV_E_NOT_CONFIGURED without V2. */
pv_err pv_client_pre_register(pv_client_t *c, apr_pool_t *pool,
                              const char *payment_id, const char *amount,
                              const char *currency, const char **why);

#endif
