#include "pv_client.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "pv_json.h"
#include "pv_portone_v2.h"
#include "pv_version.h"

/* Refresh this long before PortOne's expired_at (contract section 7). */
#define PV_TOKEN_MARGIN apr_time_from_sec(60)

/* An idle handle (and its connection) not needed for this long is closed,
 * so that the pool follows the concurrency of the last minute, not the
 * highest ever seen (each handle holds about 80 KB). Servers close idle
 * keep-alive connections sooner anyway; curl reuses none older than 118 s. */
#define PV_IDLE_MAX_AGE apr_time_from_sec(60)

typedef struct pv_conn_t {
    CURL *curl;
    char *buf;                  /* the answer, reused across requests */
    size_t len, cap;
    int overflow;
    apr_time_t idle_since;      /* when it went back to the pool */
    char errbuf[CURL_ERROR_SIZE];
} pv_conn_t;

struct pv_client_t {
    pv_client_conf_t conf;
    pv_client_trace_fn *trace;
    void *baton;
    apr_thread_mutex_t *pool_lock;      /* guards idle[] */
    pv_conn_t **idle;                   /* conf.max_idle of them; a stack,
                                         * the longest idle at the bottom */
    int nidle;
    apr_thread_mutex_t *token_lock;     /* held while fetching a token */
    char token[PV_TOKEN_MAX + 1];
    apr_time_t token_valid_until;       /* local clock */
    unsigned long token_gen;            /* 0: no token yet */
};

static apr_status_t global_cleanup(void *unused)
{
    (void)unused;
    curl_global_cleanup();
    return APR_SUCCESS;
}

apr_status_t pv_client_global_init(apr_pool_t *pool)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return APR_EGENERAL;
    apr_pool_cleanup_register(pool, NULL, global_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static void conn_free(pv_conn_t *conn)
{
    if (!conn)
        return;
    if (conn->curl)
        curl_easy_cleanup(conn->curl);
    free(conn->buf);
    free(conn);
}

static apr_status_t client_cleanup(void *data)
{
    pv_client_t *c = data;

    while (c->nidle > 0)
        conn_free(c->idle[--c->nidle]);
    return APR_SUCCESS;
}

apr_status_t pv_client_create(apr_pool_t *pool, const pv_client_conf_t *conf,
                              pv_client_trace_fn *trace, void *baton,
                              pv_client_t **out)
{
    pv_client_t *c = apr_pcalloc(pool, sizeof(*c));
    apr_status_t rv;

    c->conf = *conf;
    if (c->conf.max_idle < 1)
        c->conf.max_idle = 1;
    c->idle = apr_pcalloc(pool, sizeof(*c->idle) * (apr_size_t)c->conf.max_idle);
    c->trace = trace;
    c->baton = baton;
    rv = apr_thread_mutex_create(&c->pool_lock, APR_THREAD_MUTEX_DEFAULT, pool);
    if (rv == APR_SUCCESS)
        rv = apr_thread_mutex_create(&c->token_lock, APR_THREAD_MUTEX_DEFAULT,
                                     pool);
    if (rv != APR_SUCCESS)
        return rv;
    apr_pool_cleanup_register(pool, c, client_cleanup, apr_pool_cleanup_null);
    *out = c;
    return APR_SUCCESS;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *userp)
{
    pv_conn_t *conn = userp;
    size_t n = size * nmemb;

    if (conn->len + n > PV_RESPONSE_MAX) {
        conn->overflow = 1;
        return 0;               /* aborts the transfer */
    }
    if (conn->len + n + 1 > conn->cap) {
        size_t cap = conn->cap ? conn->cap : 8192;
        char *buf;

        while (cap < conn->len + n + 1)
            cap *= 2;
        buf = realloc(conn->buf, cap);
        if (!buf)
            return 0;
        conn->buf = buf;
        conn->cap = cap;
    }
    memcpy(conn->buf + conn->len, data, n);
    conn->len += n;
    conn->buf[conn->len] = '\0';
    return n;
}

/* The options that never change are set once per handle. */
static pv_conn_t *conn_new(pv_client_t *c)
{
    pv_conn_t *conn = calloc(1, sizeof(*conn));
    CURL *h;

    if (!conn || !(conn->curl = curl_easy_init())) {
        free(conn);
        return NULL;
    }
    h = conn->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->conf.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->conf.ca_file);
    /* "" turns off the proxy environment variables of httpd's process */
    curl_easy_setopt(h, CURLOPT_PROXY, c->conf.proxy ? c->conf.proxy : "");
    /* and no_proxy cannot route around a configured proxy */
    curl_easy_setopt(h, CURLOPT_NOPROXY, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, PV_USER_AGENT);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, conn);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, conn->errbuf);
    return conn;
}

static pv_conn_t *conn_acquire(pv_client_t *c)
{
    pv_conn_t *conn = NULL;

    apr_thread_mutex_lock(c->pool_lock);
    if (c->nidle > 0)
        conn = c->idle[--c->nidle];
    apr_thread_mutex_unlock(c->pool_lock);
    return conn ? conn : conn_new(c);
}

/* A handle goes back only after a clean exchange; otherwise it is dropped
 * with whatever connection state it had. The pool is a stack: the handles
 * at its bottom are the ones no request needed lately; those idle for
 * PV_IDLE_MAX_AGE are closed at a release, up to PV_STALE_BATCH at a time
 * (closed outside the lock: a TLS close may write). */
#define PV_STALE_BATCH 16

static void conn_release(pv_client_t *c, pv_conn_t *conn, int clean)
{
    pv_conn_t *stale[PV_STALE_BATCH];
    int nstale = 0, i;

    if (clean) {
        apr_time_t now = apr_time_now();

        conn->idle_since = now;
        apr_thread_mutex_lock(c->pool_lock);
        while (nstale < PV_STALE_BATCH && nstale < c->nidle
               && now - c->idle[nstale]->idle_since > PV_IDLE_MAX_AGE) {
            stale[nstale] = c->idle[nstale];
            nstale++;
        }
        if (nstale) {
            memmove(c->idle, c->idle + nstale,
                    (size_t)(c->nidle - nstale) * sizeof(*c->idle));
            c->nidle -= nstale;
        }
        if (c->nidle < c->conf.max_idle) {
            c->idle[c->nidle++] = conn;
            conn = NULL;
        }
        apr_thread_mutex_unlock(c->pool_lock);
    }
    for (i = 0; i < nstale; i++)
        conn_free(stale[i]);
    conn_free(conn);
}

typedef struct {
    long status;
    const char *body;
    size_t len;
} pv_answer_t;

/* "Authorization: <scheme> <cred>" appended to |hdrs|; the copy made here
 * is zeroed (curl_slist_append keeps its own). NULL, |hdrs| freed, when
 * out of memory. */
static struct curl_slist *append_auth(struct curl_slist *hdrs,
                                      const char *scheme, const char *cred)
{
    size_t n = sizeof("Authorization:  ") + strlen(scheme) + strlen(cred);
    char *auth = malloc(n);
    struct curl_slist *more = NULL;

    if (auth) {
        apr_snprintf(auth, n, "Authorization: %s %s", scheme, cred);
        more = curl_slist_append(hdrs, auth);
        memset(auth, 0, n);
        free(auth);
    }
    if (!more)
        curl_slist_free_all(hdrs);
    return more;
}

/* One HTTP exchange before |deadline| with the API |api|: V1 at base_url
 * with "Authorization: Bearer <cred>" (none when |cred| is NULL) and Tier,
 * V2 at v2_base_url with "Authorization: PortOne <cred>". |body| NULL means
 * GET, else |method| (NULL: POST) with that JSON body. |header| (NULL:
 * none) is one more request header line. |fresh|: on a new connection, for
 * a request that must not be sent twice (a cancel): libcurl sends a request
 * again by itself when a reused connection closes before any answer, and a
 * new one has nothing to retry. The answer's body is copied into |pool|. */
static pv_err exchange_as(pv_client_t *c, apr_pool_t *pool,
                          apr_time_t deadline, pv_api api, const char *method,
                          const char *path, const char *cred,
                          const char *body, const char *header, int fresh,
                          pv_answer_t *ans, const char **why)
{
    pv_conn_t *conn;
    struct curl_slist *hdrs = NULL;
    apr_time_t start = apr_time_now();
    apr_interval_time_t left = deadline - start, ct;
    CURLcode rc;
    pv_err err = PV_OK;
    CURL *h;

    memset(ans, 0, sizeof(*ans));
    if (left <= 0) {
        *why = "PortOneTimeout passed before the request";
        return PV_E_UPSTREAM_TIMEOUT;
    }
    conn = conn_acquire(c);
    if (!conn) {
        *why = "cannot create a curl handle";
        return PV_E_UPSTREAM_ERROR;
    }
    h = conn->curl;
    conn->len = 0;
    conn->overflow = 0;
    conn->errbuf[0] = '\0';
    ct = c->conf.connect_timeout < left ? c->conf.connect_timeout : left;

    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (cred && hdrs)
        hdrs = append_auth(hdrs, api == PV_API_V2 ? "PortOne" : "Bearer",
                           cred);
    if (!hdrs) {
        conn_release(c, conn, 1);
        *why = "out of memory for the request headers";
        return PV_E_UPSTREAM_ERROR;
    }
    if (c->conf.tier && api == PV_API_V1)
        hdrs = curl_slist_append(hdrs, apr_pstrcat(pool, "Tier: ",
                                                   c->conf.tier, (char *)NULL));
    if (header)
        hdrs = curl_slist_append(hdrs, header);
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        if (method && strcmp(method, "POST"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_URL,
                     apr_pstrcat(pool, api == PV_API_V2 ? c->conf.v2_base_url
                                                        : c->conf.base_url,
                                 path, (char *)NULL));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(left) + 1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)apr_time_as_msec(ct) + 1);

    rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_slist_free_all(hdrs);

    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ans->status);
        ans->body = apr_pstrmemdup(pool, conn->buf ? conn->buf : "", conn->len);
        ans->len = conn->len;
    }
    else if (rc == CURLE_OPERATION_TIMEDOUT) {
        err = PV_E_UPSTREAM_TIMEOUT;
        *why = apr_psprintf(pool, "no answer within PortOneTimeout (%s)",
                            conn->errbuf[0] ? conn->errbuf
                                            : curl_easy_strerror(rc));
    }
    else if (conn->overflow) {
        err = PV_E_UPSTREAM_ERROR;
        *why = apr_psprintf(pool, "the answer is larger than %d bytes",
                            PV_RESPONSE_MAX);
    }
    else {
        err = PV_E_UPSTREAM_ERROR;
        *why = apr_psprintf(pool, "%s", conn->errbuf[0] ? conn->errbuf
                                                        : curl_easy_strerror(rc));
    }
    if (c->trace)
        c->trace(c->baton, body ? (method ? method : "POST") : "GET", path,
                 ans->status,
                 apr_time_now() - start, err, err == PV_OK ? NULL : *why);
    conn_release(c, conn, rc == CURLE_OK);
    return err;
}

static pv_err exchange(pv_client_t *c, apr_pool_t *pool, apr_time_t deadline,
                       pv_api api, const char *path, const char *cred,
                       const char *body, pv_answer_t *ans, const char **why)
{
    return exchange_as(c, pool, deadline, api, NULL, path, cred, body, NULL, 0,
                       ans, why);
}

static pv_err fetch_token(pv_client_t *c, apr_pool_t *pool, apr_time_t deadline,
                          const char **why)
{
    const pv_json_out_t req[2] = {{"imp_key", c->conf.key, 0},
                                  {"imp_secret", c->conf.secret, 0}};
    pv_answer_t ans;
    pv_token_t tok;
    pv_err err;
    size_t len;
    char *body = pv_json_object(pool, req, 2, &len);

    err = exchange(c, pool, deadline, PV_API_V1, "/users/getToken", NULL, body,
                   &ans, why);
    /* the secret leaves memory early: |body| is ours (in |pool|) and is
     * zeroed. json-c's own copies, made inside pv_json_object (the string
     * object's copy of the secret and the buffer json-c writes the text
     * into), are released there by json_object_put and freed to malloc
     * without being zeroed: json-c has no call that clears them */
    memset(body, 0, len);
    if (err != PV_OK)
        return err;
    err = pv_portone_parse_token(pool, ans.status, ans.body, ans.len, &tok, why);
    if (err != PV_OK)
        return err;
    apr_cpystrn(c->token, tok.access_token, sizeof(c->token));
    /* expired_at on PortOne's clock, counted from PortOne's now (bounded:
     * both come from the network) */
    c->token_valid_until = apr_time_now() + pv_token_lifetime(&tok)
                           - PV_TOKEN_MARGIN;
    c->token_gen++;
    memset(&tok, 0, sizeof(tok));
    return PV_OK;
}

/* Copies a valid token into |token|. |stale_gen| names a token that PortOne
 * refused (401): it is replaced, unless another thread already did so. */
static pv_err get_token(pv_client_t *c, apr_pool_t *pool, apr_time_t deadline,
                        unsigned long stale_gen, char *token,
                        unsigned long *gen, const char **why)
{
    pv_err err = PV_OK;

    apr_thread_mutex_lock(c->token_lock);
    if (c->token_gen == 0 || c->token_gen == stale_gen
        || apr_time_now() >= c->token_valid_until)
        err = fetch_token(c, pool, deadline, why);
    if (err == PV_OK) {
        memcpy(token, c->token, sizeof(c->token));
        *gen = c->token_gen;
    }
    apr_thread_mutex_unlock(c->token_lock);
    return err;
}

/* |s| appended at |o| with everything but [A-Za-z0-9_-] percent-encoded, so
 * that no id can leave its path segment ("..", "/", "?", "#") or query
 * value ("&", "="); |o| has room for 3 * strlen(s). The end is returned. */
static char *encode(char *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-') {
            *o++ = (char)*p;
        }
        else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return o;
}

/* /payments/<id> and |query| (NULL: none) followed by |value| encoded. */
static const char *payment_path(apr_pool_t *pool, const char *id,
                                const char *query, const char *value)
{
    char *path = apr_palloc(pool, sizeof("/payments/") + 3 * strlen(id)
                            + (query ? strlen(query) + 3 * strlen(value) : 0));
    char *o;

    memcpy(path, "/payments/", sizeof("/payments/") - 1);
    o = encode(path + sizeof("/payments/") - 1, id);
    if (query) {
        memcpy(o, query, strlen(query));
        encode(o + strlen(query), value);
    }
    return path;
}

pv_err pv_client_get_payment(pv_client_t *c, apr_pool_t *pool,
                             const char *imp_uid, pv_payment_t *out,
                             const char **why)
{
    apr_time_t deadline = apr_time_now() + c->conf.timeout;
    const char *path = payment_path(pool, imp_uid, c->conf.sandbox
                                    ? "?include_sandbox=" : NULL, "true");
    char token[PV_TOKEN_MAX + 1];
    unsigned long gen = 0;
    pv_answer_t ans;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        pv_err err = get_token(c, pool, deadline, gen, token, &gen, why);

        if (err == PV_OK)
            err = exchange(c, pool, deadline, PV_API_V1, path, token, NULL,
                           &ans, why);
        memset(token, 0, sizeof(token));
        if (err != PV_OK)
            return err;
        if (ans.status != 401)
            return pv_portone_parse_payment(pool, ans.status, ans.body,
                                            ans.len, out, why);
    }
    *why = "PortOne refused a freshly issued token (HTTP 401 twice)";
    return PV_E_UPSTREAM_AUTH_FAILED;
}

pv_err pv_client_get_payment_v2(pv_client_t *c, apr_pool_t *pool,
                                const char *payment_id, pv_payment_t *out,
                                const char **why)
{
    const char *secret = c->conf.v2_secret, *store = c->conf.store_id, *p;
    pv_answer_t ans;
    pv_err err;

    memset(out, 0, sizeof(*out));
    if (!c->conf.v2_base_url || !secret || !*secret) {
        *why = "no V2 look-up without PortOneV2URL and PortOneV2Secret";
        return PV_E_NOT_CONFIGURED;
    }
    for (p = secret; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            /* it goes into a header; the glue refuses it at start-up */
            *why = "PortOneV2Secret has a control character";
            return PV_E_NOT_CONFIGURED;
        }
    }
    err = exchange(c, pool, apr_time_now() + c->conf.timeout, PV_API_V2,
                   payment_path(pool, payment_id, store ? "?storeId=" : NULL,
                                store),
                   secret, NULL, &ans, why);
    if (err != PV_OK)
        return err;
    return pv_portone_v2_parse_payment(pool, ans.status, ans.body, ans.len,
                                       payment_id, store, out, why);
}

/* One V1 call with the cached token, within |deadline|: a 401 refreshes the
 * token and retries once; the answer (not 401) in |ans|. */
static pv_err v1_call(pv_client_t *c, apr_pool_t *pool, apr_time_t deadline,
                      const char *method, const char *path, const char *body,
                      pv_answer_t *ans, const char **why)
{
    char token[PV_TOKEN_MAX + 1];
    unsigned long gen = 0;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        pv_err err = get_token(c, pool, deadline, gen, token, &gen, why);

        if (err == PV_OK)
            err = exchange_as(c, pool, deadline, PV_API_V1, method, path,
                              token, body, NULL, 0, ans, why);
        memset(token, 0, sizeof(token));
        if (err != PV_OK)
            return err;
        if (ans->status != 401)
            return PV_OK;
    }
    *why = "PortOne refused a freshly issued token (HTTP 401 twice)";
    return PV_E_UPSTREAM_AUTH_FAILED;
}

pv_err pv_client_find_payment(pv_client_t *c, apr_pool_t *pool,
                              const char *merchant_uid, pv_payment_t *out,
                              const char **why)
{
    char *path = apr_palloc(pool, sizeof("/payments/find/")
                            + 3 * strlen(merchant_uid) + sizeof("/paid"));
    char *end;
    apr_time_t deadline = apr_time_now() + c->conf.timeout;
    pv_answer_t ans;
    pv_err err;

    memset(out, 0, sizeof(*out));
    memcpy(path, "/payments/find/", sizeof("/payments/find/") - 1);
    end = encode(path + sizeof("/payments/find/") - 1, merchant_uid);
    /* the paid one first: without a status PortOne answers the latest
     * started, which may be a failed second try of a paid order */
    memcpy(end, "/paid", sizeof("/paid"));
    err = v1_call(c, pool, deadline, NULL, path, NULL, &ans, why);
    if (err == PV_OK)
        err = pv_portone_parse_payment(pool, ans.status, ans.body, ans.len,
                                       out, why);
    if (err == PV_E_PAYMENT_NOT_FOUND) {
        *end = '\0';
        err = v1_call(c, pool, deadline, NULL, path, NULL, &ans, why);
        if (err == PV_OK)
            err = pv_portone_parse_payment(pool, ans.status, ans.body,
                                           ans.len, out, why);
    }
    if (err == PV_OK && strcmp(out->merchant_uid, merchant_uid)) {
        *why = "PortOne answered with another merchant_uid";
        err = PV_E_UPSTREAM_ERROR;
    }
    return err;
}

pv_err pv_client_prepare(pv_client_t *c, apr_pool_t *pool,
                         const char *merchant_uid, const char *amount,
                         const char *currency, int *replaced,
                         const char **why)
{
    const pv_json_out_t m[3] = {{"merchant_uid", merchant_uid, 0},
                                {"amount", amount, 1},
                                {"currency", currency, 0}};
    apr_time_t deadline = apr_time_now() + c->conf.timeout;
    size_t len;
    const char *body = pv_json_object(pool, m, 3, &len);
    const char *method = "POST";
    pv_prepared_t got;
    pv_answer_t ans;
    int registered = 0;
    pv_err err;

    *replaced = 0;
    for (;;) {
        err = v1_call(c, pool, deadline, method, "/payments/prepare", body,
                      &ans, why);
        if (err != PV_OK)
            return err;
        err = pv_portone_parse_prepare(pool, ans.status, ans.body, ans.len,
                                       merchant_uid, amount, &registered,
                                       &got, why);
        if (err == PV_OK || !registered || !strcmp(method, "PUT"))
            break;
        /* prepared before: set the amount (unchanged or not) */
        method = "PUT";
        *replaced = 1;
    }
    return err;
}

pv_err pv_client_pre_register(pv_client_t *c, apr_pool_t *pool,
                              const char *payment_id, const char *amount,
                              const char *currency, const char **why)
{
    const pv_json_out_t m[3] = {{"storeId", c->conf.store_id, 0},
                                {"totalAmount", amount, 1},
                                {"currency", currency, 0}};
    const char *secret = c->conf.v2_secret, *p, *path;
    size_t len;
    const char *body = pv_json_object(pool, m, 3, &len);
    pv_answer_t ans;
    pv_err err;

    if (!c->conf.v2_base_url || !secret || !*secret) {
        *why = "no V2 pre-register without PortOneV2URL and PortOneV2Secret";
        return PV_E_NOT_CONFIGURED;
    }
    for (p = secret; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *why = "PortOneV2Secret has a control character";
            return PV_E_NOT_CONFIGURED;
        }
    }
    path = apr_pstrcat(pool, payment_path(pool, payment_id, NULL, NULL),
                       "/pre-register", (char *)NULL);
    err = exchange_as(c, pool, apr_time_now() + c->conf.timeout, PV_API_V2,
                      "POST", path, secret, body, NULL, 0, &ans, why);
    if (err != PV_OK)
        return err;
    return pv_portone_v2_parse_pre_register(pool, ans.status, ans.body,
                                            ans.len, why);
}

pv_cancel_result pv_client_cancel(pv_client_t *c, apr_pool_t *pool,
                                  const char *imp_uid, const char *checksum,
                                  const char *reason, const char **why)
{
    apr_time_t deadline = apr_time_now() + c->conf.timeout;
    size_t len;
    const char *body = pv_portone_cancel_body(pool, imp_uid, checksum, reason,
                                              &len);
    char token[PV_TOKEN_MAX + 1];
    unsigned long gen = 0;
    pv_answer_t ans;
    int attempt;

    if (!len) {
        *why = "out of memory for the cancel's body";
        return PV_CANCEL_UNKNOWN;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        pv_err err = get_token(c, pool, deadline, gen, token, &gen, why);

        if (err == PV_OK)
            err = exchange_as(c, pool, deadline, PV_API_V1, "POST",
                              "/payments/cancel", token, body, NULL, 1, &ans,
                              why);
        memset(token, 0, sizeof(token));
        if (err != PV_OK)
            return PV_CANCEL_UNKNOWN;  /* sent or not: PortOne's checksum
                                        * refuses a second one */
        if (ans.status != 401)
            return pv_portone_parse_cancel(pool, ans.status, ans.body,
                                           ans.len, why);
    }
    *why = "PortOne refused a freshly issued token (HTTP 401 twice)";
    return PV_CANCEL_REFUSED;
}

pv_cancel_result pv_client_cancel_v2(pv_client_t *c, apr_pool_t *pool,
                                     const char *payment_id,
                                     const char *cancellable,
                                     const char *store_id, const char *reason,
                                     const char *idempotency_key,
                                     const char **why)
{
    const char *secret = c->conf.v2_secret, *p;
    size_t len;
    const char *body;
    pv_answer_t ans;

    if (!c->conf.v2_base_url || !secret || !*secret) {
        *why = "no V2 cancel without PortOneV2URL and PortOneV2Secret";
        return PV_CANCEL_REFUSED;
    }
    for (p = secret; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *why = "PortOneV2Secret has a control character";
            return PV_CANCEL_REFUSED;
        }
    }
    /* the payment's store, named where the look-ups name one */
    body = pv_portone_v2_cancel_body(pool, reason, cancellable,
                                     c->conf.store_id ? store_id : NULL, &len);
    if (!len) {
        *why = "out of memory for the cancel's body";
        return PV_CANCEL_UNKNOWN;
    }
    if (exchange_as(c, pool, apr_time_now() + c->conf.timeout, PV_API_V2,
                    "POST", apr_pstrcat(pool, payment_path(pool, payment_id,
                                                           NULL, NULL),
                                        "/cancel", (char *)NULL),
                    secret, body,
                    apr_pstrcat(pool, "Idempotency-Key: ", idempotency_key,
                                (char *)NULL), 1, &ans, why) != PV_OK)
        return PV_CANCEL_UNKNOWN;
    return pv_portone_v2_parse_cancel(pool, ans.status, ans.body, ans.len,
                                      why);
}
