/* The front-end's claim and PortOne's webhook body: Content-Type check,
 * parsing (JSON or form) and validation of every field. */
#ifndef PV_REQUEST_H
#define PV_REQUEST_H

#include <apr_pools.h>
#include <stddef.h>

#include "pv_error.h"

#define PV_BODY_MAX (64 * 1024)
#define PV_IMP_UID_MAX 32           /* characters */
#define PV_MERCHANT_UID_MAX 40      /* characters */
#define PV_PAYMENT_ID_MAX 128       /* characters (V2 paymentId) */

typedef enum { PV_BODY_JSON, PV_BODY_FORM } pv_body_kind;

/* V1: imp_uid and merchant_uid, payment_id NULL. V2 (portone-verify's
 * {"paymentId"}): payment_id, the others NULL. */
typedef struct {
    const char *imp_uid;
    const char *merchant_uid;
    /* webhook only, only logged: NULL when absent, null or empty */
    const char *status;
    const char *cancellation_id;
    const char *payment_id;         /* V2 */
} pv_claim_t;

/* Which body a Content-Type announces. PV_E_UNSUPPORTED_MEDIA_TYPE when it is
 * missing or not application/json (or, with |allow_form|,
 * application/x-www-form-urlencoded). Parameters such as charset are fine. */
pv_err pv_request_media(const char *content_type, int allow_form,
                        pv_body_kind *kind);

/* Parses and validates |body|, JSON and form alike: imp_uid and merchant_uid
 * required and non-empty, status and cancellation_id optional (empty is as
 * absent), any other field ignored. A field given twice is refused in a
 * form; in JSON the last counts (json-c keeps the last of duplicate keys).
 * On error returns PV_E_INVALID_REQUEST and sets
 * |*why| to a short English reason for the answer. Strings in |out| are
 * allocated in |pool|. */
pv_err pv_request_parse(apr_pool_t *pool, const char *body, size_t len,
                        pv_body_kind kind, pv_claim_t *out, const char **why);

/* portone-verify's body: as pv_request_parse (V1), or a JSON body with a
 * "paymentId" (V2: a non-empty string of at most 128 characters without a
 * control character; "txId" and other fields ignored). A paymentId (not
 * null) beside an imp_uid or merchant_uid (not null) is refused. A form
 * body is read as by pv_request_parse. */
pv_err pv_request_parse_verify(apr_pool_t *pool, const char *body,
                               size_t len, pv_body_kind kind,
                               pv_claim_t *out, const char **why);

/* A V2 webhook's body, read once its signature has been checked
 * (pv_webhook_verify). Version 2024-04-25: {"type", "timestamp", "data":
 * {"storeId", "paymentId", "transactionId"}}; version 2024-01-01:
 * {"payment_id", "tx_id", "status"}. */
typedef struct {
    const char *type;           /* 2024-04-25 only: "Transaction.Paid", ... */
    const char *payment_id;     /* NULL only when |ignored| */
    const char *transaction_id; /* data.transactionId or tx_id; logged */
    const char *store_id;       /* data.storeId; logged */
    const char *status;         /* 2024-01-01's status; logged */
    int ignored;                /* a type not starting with "Transaction.":
                                 * nothing to re-query */
} pv_v2_webhook_t;

/* Parses a V2 webhook body (JSON; the Content-Type is not looked at: the
 * signature vouches for the body). A "type" makes it 2024-04-25: a type
 * starting with "Transaction." needs data.paymentId, any other sets
 * |ignored|; without "type" it is 2024-01-01 and needs payment_id. Strings
 * are checked as identifiers (paymentId at most 128 characters, no control
 * character); empty or null optional members are NULL. PV_OK;
 * PV_E_INVALID_REQUEST with |*why|; PV_E_PAYLOAD_TOO_LARGE over
 * PV_BODY_MAX. */
pv_err pv_request_parse_v2_webhook(apr_pool_t *pool, const char *body,
                                   size_t len, pv_v2_webhook_t *out,
                                   const char **why);

/* portone-prepare's body (JSON only): {"merchant_uid"} (V1: at most 40
 * characters) or {"paymentId"} (V2: at most 128), checked as the claims'
 * ids; both, neither, or one that is not a string is refused; other
 * members are ignored. PV_OK (out->merchant_uid or out->payment_id set);
 * PV_E_INVALID_REQUEST or PV_E_PAYLOAD_TOO_LARGE with |*why|. */
pv_err pv_request_parse_prepare(apr_pool_t *pool, const char *body,
                                size_t len, pv_claim_t *out,
                                const char **why);

/* portone-reconcile's settings (contract section 3). */
#define PV_RECONCILE_OLDER_THAN_DEFAULT 600
#define PV_RECONCILE_OLDER_THAN_MAX (366L * 24 * 3600)
#define PV_RECONCILE_LIMIT_DEFAULT 100
#define PV_RECONCILE_LIMIT_MAX 1000

/* portone-reconcile's body: none (|len| 0: the defaults), or a JSON object
 * with "older_than" (seconds, an integer from 0 to
 * PV_RECONCILE_OLDER_THAN_MAX) and "limit" (an integer from 0 to
 * PV_RECONCILE_LIMIT_MAX), both optional (null is absent); other members
 * are ignored. PV_OK; PV_E_INVALID_REQUEST or PV_E_PAYLOAD_TOO_LARGE with
 * |*why|. */
pv_err pv_request_parse_reconcile(apr_pool_t *pool, const char *body,
                                  size_t len, long *older_than, int *limit,
                                  const char **why);

/* Validates one identifier: non-empty, valid UTF-8, no control character,
 * at most |max_chars| characters. NULL when valid, else a reason. */
const char *pv_request_check_id(const char *s, size_t len, size_t max_chars);

#endif
