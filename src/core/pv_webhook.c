#include "pv_webhook.h"

#include <apr_base64.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define PV_SIG_LEN 32                   /* SHA-256 */
#define PV_SECRET_PREFIX "whsec_"

/* Decodes standard base64 (with padding) into a buffer of |pool|; -1 when
 * |text| is not base64. apr_base64_decode stops at the first byte outside
 * the alphabet instead of refusing it: the text is checked first. */
static long b64_decode(apr_pool_t *pool, const char *text, size_t n,
                       unsigned char **out)
{
    char *copy;
    size_t i, pad = 0;

    if (n == 0 || n % 4)
        return -1;
    for (i = 0; i < n; i++) {
        char c = text[i];

        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                     || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return -1;
    }
    if (pad > 2)
        return -1;
    copy = apr_pstrmemdup(pool, text, n);
    *out = apr_palloc(pool, (apr_size_t)apr_base64_decode_len(copy));
    return apr_base64_decode((char *)*out, copy);
}

const char *pv_webhook_key(apr_pool_t *pool, const char *secret,
                           pv_webhook_key_t *out)
{
    size_t plen = strlen(PV_SECRET_PREFIX);
    unsigned char *key;
    long n;

    if (!strncmp(secret, PV_SECRET_PREFIX, plen))
        secret += plen;
    n = b64_decode(pool, secret, strlen(secret), &key);
    if (n <= 0)
        return "the webhook secret is not base64 (whsec_ followed by base64, "
               "as PortOne's console shows it)";
    out->key = key;
    out->len = (size_t)n;
    return NULL;
}

/* Whether |ts| is an integer of seconds; its value in |*secs|. */
static int parse_seconds(const char *ts, apr_int64_t *secs)
{
    const char *p = ts;
    apr_int64_t v = 0;

    if (*p == '-')
        p++;
    if (!*p || strlen(p) > 18)
        return 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
    }
    *secs = ts[0] == '-' ? -v : v;
    return 1;
}

pv_sig_result pv_webhook_verify(apr_pool_t *pool, const char *id,
                                const char *timestamp, const char *signatures,
                                const char *body, size_t len,
                                const pv_webhook_key_t *keys, int nkeys,
                                apr_time_t now, apr_interval_time_t tolerance)
{
    unsigned char mac[PV_WEBHOOK_SECRETS_MAX][EVP_MAX_MD_SIZE];
    apr_int64_t ts, age;
    const char *p;
    char *signed_text;
    size_t head;
    int k;

    if (!id || !timestamp || !signatures)
        return PV_SIG_MISSING_HEADERS;
    if (!parse_seconds(timestamp, &ts))
        return PV_SIG_BAD_TIMESTAMP;
    age = apr_time_sec(now) - ts;
    if (age > apr_time_sec(tolerance))
        return PV_SIG_TOO_OLD;
    if (-age > apr_time_sec(tolerance))
        return PV_SIG_TOO_NEW;
    if (nkeys > PV_WEBHOOK_SECRETS_MAX)
        nkeys = PV_WEBHOOK_SECRETS_MAX;

    head = strlen(id) + strlen(timestamp) + 2;
    signed_text = apr_palloc(pool, head + len + 1);
    apr_snprintf(signed_text, head + 1, "%s.%s.", id, timestamp);
    memcpy(signed_text + head, body, len);
    for (k = 0; k < nkeys; k++) {
        unsigned int n = 0;

        if (!HMAC(EVP_sha256(), keys[k].key, (int)keys[k].len,
                  (const unsigned char *)signed_text, head + len, mac[k], &n)
            || n != PV_SIG_LEN)
            return PV_SIG_NO_MATCH;
    }
    /* "v1,<base64> v1,<base64> ...": other versions and entries that do
     * not decode are skipped; any match of any key is enough */
    for (p = signatures; *p;) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n > 3 && !strncmp(p, "v1,", 3)) {
            unsigned char *sig;
            long slen = b64_decode(pool, p + 3, n - 3, &sig);

            for (k = 0; slen == PV_SIG_LEN && k < nkeys; k++)
                if (CRYPTO_memcmp(sig, mac[k], PV_SIG_LEN) == 0)
                    return PV_SIG_OK;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return PV_SIG_NO_MATCH;
}

const char *pv_sig_reason(pv_sig_result r)
{
    switch (r) {
    case PV_SIG_OK:
        return "the signature holds";
    case PV_SIG_MISSING_HEADERS:
        return "webhook-id, webhook-timestamp or webhook-signature is missing";
    case PV_SIG_BAD_TIMESTAMP:
        return "webhook-timestamp is not an integer";
    case PV_SIG_TOO_OLD:
        return "webhook-timestamp is older than PortOneWebhookTolerance";
    case PV_SIG_TOO_NEW:
        return "webhook-timestamp is newer than PortOneWebhookTolerance";
    default:
        return "no signature matches a configured webhook secret";
    }
}
