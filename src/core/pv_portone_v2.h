/* PortOne V2 answers of GET /payments/{paymentId} mapped to pv_payment_t
 * (portone-api.md 2.2, contract section 8). A pure function over (HTTP
 * status, body); the transport is pv_client_get_payment_v2. */
#ifndef PV_PORTONE_V2_H
#define PV_PORTONE_V2_H

#include <apr_pools.h>
#include <stddef.h>

#include "pv_error.h"
#include "pv_portone.h"

/* GET /payments/{paymentId}: |payment_id| is the id asked (PortOne's "id"
 * must equal it), |store_id| the configured store (NULL: not compared; a
 * payment of another store sets out->store_mismatch, a forgery).
 *
 * Status: PAID -> PV_STATUS_PAID; PARTIAL_CANCELLED -> PV_STATUS_PAID with
 * cancel_amount = amount.cancelled; VIRTUAL_ACCOUNT_ISSUED -> PV_STATUS_READY
 * with vbank_num, vbank_name and vbank_date from "method" (accountNumber
 * required); READY, PAY_PENDING -> PV_STATUS_READY without a virtual
 * account (pending); FAILED, CANCELLED -> themselves; status_text is
 * PortOne's. amount = amount.total (an integer, its exact text),
 * cancel_amount = amount.cancelled, currency, storeId, channel.type ("LIVE"
 * or "TEST": sandbox; the channel may be absent for READY and FAILED only),
 * pay_method = method.type, paid_at and vbank_date as UNIX seconds.
 *
 * PV_OK; PV_E_PAYMENT_NOT_FOUND (404 {"type":"PAYMENT_NOT_FOUND"});
 * PV_E_UPSTREAM_AUTH_FAILED (401, 403); PV_E_UPSTREAM_ERROR for any other
 * answer, an unknown status, another id, or a required field (id, status,
 * storeId, amount.total, amount.cancelled, currency, channel.type) missing
 * or of another type, as any field read of another type. */
pv_err pv_portone_v2_parse_payment(apr_pool_t *pool, long status_code,
                                   const char *body, size_t len,
                                   const char *payment_id,
                                   const char *store_id, pv_payment_t *out,
                                   const char **why);

/* An RFC 3339 date-time ("2024-04-25T10:00:00.000Z", "...+09:00") as UNIX
 * seconds (a fraction dropped). 0 and |*out|; -1 when |s| is not one. */
int pv_portone_v2_time(const char *s, long long *out);

/* POST /payments/{paymentId}/cancel's body: {"reason",
 * "currentCancellableAmount" (amount.total - amount.cancelled, an integer:
 * PortOne refuses the cancel if the payment's differs, so that a second
 * cancel of a payment already cancelled fails), "storeId" (NULL: left
 * out)}; no amount: the whole remainder. In |pool|, |*len| its length. */
char *pv_portone_v2_cancel_body(apr_pool_t *pool, const char *reason,
                                const char *cancellable, const char *store_id,
                                size_t *len);

/* The Idempotency-Key of a cancel, as the header's value (an RFC 8941
 * string, quoted): "pv-cancel-" + SHA-1 (hex) of the paymentId + "-" +
 * |cancellable| + "-" + |nonce| (hex). The same attempt sent again is
 * the same request to PortOne; |nonce| (one per claim) makes a new
 * attempt after a refusal a new one, which PortOne would otherwise answer
 * with the stored refusal for three hours. 16 to 256 ASCII characters. */
const char *pv_portone_v2_idempotency_key(apr_pool_t *pool,
                                          const char *payment_id,
                                          const char *cancellable,
                                          const unsigned char nonce[8]);

/* The answer of the cancel: 200 {"cancellation":{"status": SUCCEEDED or
 * REQUESTED}} is DONE, FAILED (or a 4xx {"type"}) REFUSED, anything else
 * (5xx, 409 IDEMPOTENCY_OUTSTANDING_REQUEST, not the documented JSON)
 * UNKNOWN. |*why| says what. */
pv_cancel_result pv_portone_v2_parse_cancel(apr_pool_t *pool, long status_code,
                                            const char *body, size_t len,
                                            const char **why);

/* The answer to V2 POST /payments/{paymentId}/pre-register (V2SPEC
 * preRegisterPayment): 200 with an object (PreRegisterPaymentResponse has
 * no member) is PV_OK; 401 UNAUTHORIZED and 403 FORBIDDEN are
 * PV_E_UPSTREAM_AUTH_FAILED; 409 ALREADY_PAID (the payment is paid
 * already), 400 INVALID_REQUEST and anything else PV_E_UPSTREAM_ERROR, the
 * error's type and message in |*why|. */
pv_err pv_portone_v2_parse_pre_register(apr_pool_t *pool, long status_code,
                                        const char *body, size_t len,
                                        const char **why);

#endif
