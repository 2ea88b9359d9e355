/* Signed webhooks (PortOne V2, Standard Webhooks v1): the check that runs on
 * the raw body before anything else is read. HMAC-SHA256 of
 * "{webhook-id}.{webhook-timestamp}.{body}" keyed by the base64-decoded
 * secret ("whsec_" prefix optional), compared in constant time with every
 * "v1,<base64>" entry of the space-separated webhook-signature header, for
 * every configured secret (two during a rotation). */
#ifndef PV_WEBHOOK_H
#define PV_WEBHOOK_H

#include <apr_pools.h>
#include <apr_time.h>
#include <stddef.h>

#define PV_WEBHOOK_SECRETS_MAX 2

typedef struct {
    const unsigned char *key;
    size_t len;
} pv_webhook_key_t;

typedef enum {
    PV_SIG_OK,
    PV_SIG_MISSING_HEADERS,     /* one of the three headers is absent */
    PV_SIG_BAD_TIMESTAMP,       /* not an integer number of seconds */
    PV_SIG_TOO_OLD,             /* older than the tolerance */
    PV_SIG_TOO_NEW,             /* newer than the tolerance */
    PV_SIG_NO_MATCH             /* no v1 entry matches any secret */
} pv_sig_result;

/* Decodes a configured secret into |out|. NULL on success, else why (the
 * secret itself is never in the message). */
const char *pv_webhook_key(apr_pool_t *pool, const char *secret,
                           pv_webhook_key_t *out);

/* Checks a webhook's headers (NULL when absent) and raw body against
 * |nkeys| keys, at |now| with |tolerance| either way. */
pv_sig_result pv_webhook_verify(apr_pool_t *pool, const char *id,
                                const char *timestamp, const char *signatures,
                                const char *body, size_t len,
                                const pv_webhook_key_t *keys, int nkeys,
                                apr_time_t now, apr_interval_time_t tolerance);

/* A short English reason for a result, for the log. */
const char *pv_sig_reason(pv_sig_result r);

#endif
