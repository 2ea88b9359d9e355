/* pv_client: which proxy the API calls take (contract section 4,
 * PortOneProxy: without it, the proxy environment variables are ignored).
 *
 * No server answers: two loopback sockets listen, one standing for the API
 * and one for a proxy, and the kernel completes the connection to whichever
 * curl dials. The look-up times out; the test then sees which socket has a
 * connection waiting. */
#include "check.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pv_client.h"

static const char *const proxy_vars[] = {
    "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
    "ALL_PROXY", "no_proxy", "NO_PROXY",
};

/* How many connections wait on |fd| (each is accepted and closed). */
static int connections(int fd)
{
    int n = 0, c;

    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        n++;
    }
    return n;
}

static void clear_proxy_env(void)
{
    size_t i;

    for (i = 0; i < CHECK_COUNT(proxy_vars); i++)
        unsetenv(proxy_vars[i]);
}

/* One look-up through a client configured with the proxy socket as its
 * proxy (|with_proxy|) or none, with every proxy variable of the
 * environment pointing at the proxy socket (|env_proxy|) or unset, and
 * no_proxy set to |env_no_proxy| (NULL: unset). Counts the connections that the API and
 * the proxy socket received. */
static void look_up(apr_pool_t *pool, int with_proxy, int env_proxy,
                    const char *env_no_proxy, int *api_conns,
                    int *proxy_conns)
{
    int api_port = 0, proxy_port = 0;
    int api = check_listen_loopback(&api_port, 1),
        px = check_listen_loopback(&proxy_port, 1);
    const char *proxy_url = apr_psprintf(pool, "http://127.0.0.1:%d",
                                         proxy_port);
    pv_client_conf_t conf;
    pv_client_t *c = NULL;
    pv_payment_t pay;
    const char *why = NULL;
    size_t i;
    pv_err err;

    *api_conns = *proxy_conns = -1;
    CHECK(api >= 0 && px >= 0);
    if (api < 0 || px < 0)
        goto out;
    clear_proxy_env();
    for (i = 0; env_proxy && i < CHECK_COUNT(proxy_vars) - 2; i++)
        setenv(proxy_vars[i], proxy_url, 1);
    if (env_no_proxy) {
        setenv("no_proxy", env_no_proxy, 1);
        setenv("NO_PROXY", env_no_proxy, 1);
    }

    memset(&conf, 0, sizeof(conf));     /* what is not set stays zero */
    conf.base_url = apr_psprintf(pool, "http://127.0.0.1:%d", api_port);
    conf.key = "imp_apikey";
    conf.secret = "secret";
    conf.timeout = apr_time_from_msec(300);
    conf.connect_timeout = apr_time_from_msec(300);
    conf.max_idle = 1;
    if (with_proxy)
        conf.proxy = proxy_url;
    CHECK_INT_EQ(pv_client_global_init(pool), APR_SUCCESS);
    CHECK_INT_EQ(pv_client_create(pool, &conf, NULL, NULL, &c), APR_SUCCESS);
    if (c) {
        err = pv_client_get_payment(c, pool, "imp_1", &pay, &why);
        /* nobody answers: the getToken call times out */
        CHECK_INT_EQ(err, PV_E_UPSTREAM_TIMEOUT);
    }
    *api_conns = connections(api);
    *proxy_conns = connections(px);
out:
    clear_proxy_env();
    if (api >= 0)
        close(api);
    if (px >= 0)
        close(px);
}

TEST(client_ignores_proxy_environment)
{
    int api, proxy;

    /* http_proxy, HTTPS_PROXY, ALL_PROXY ... all set: not used */
    look_up(pool, 0, 1, NULL, &api, &proxy);
    CHECK_INT_EQ(api, 1);
    CHECK_INT_EQ(proxy, 0);
    /* nothing set: direct, of course */
    look_up(pool, 0, 0, NULL, &api, &proxy);
    CHECK_INT_EQ(api, 1);
    CHECK_INT_EQ(proxy, 0);
}

TEST(client_uses_configured_proxy)
{
    int api, proxy;

    look_up(pool, 1, 0, NULL, &api, &proxy);
    CHECK_INT_EQ(api, 0);
    CHECK_INT_EQ(proxy, 1);
    /* no_proxy in the environment does not route around it */
    look_up(pool, 1, 0, "127.0.0.1,localhost,*", &api, &proxy);
    CHECK_INT_EQ(api, 0);
    CHECK_INT_EQ(proxy, 1);
}

/* Against the project's PortOne emulator (tests/test_client_unit.py starts
 * it, registers the payments below and names it in PV_TEST_EMULATOR);
 * skipped without it. What a look-up does end to end over real HTTP: the
 * token fetched once and reused, the payment read, 404, a refused key, a
 * revoked token refreshed once (the emulator answers 401, then the retry). */
/* A client of |conf| (V1 or V2 settings) with the emulator tests' timeouts
 * and handles. */
static pv_client_t *emulator_make(apr_pool_t *pool, pv_client_conf_t *conf,
                                  pv_client_trace_fn *trace, void *baton)
{
    pv_client_t *c = NULL;

    conf->timeout = apr_time_from_sec(5);
    conf->connect_timeout = apr_time_from_sec(2);
    conf->max_idle = 2;
    CHECK_INT_EQ(pv_client_global_init(pool), APR_SUCCESS);
    CHECK_INT_EQ(pv_client_create(pool, conf, trace, baton, &c), APR_SUCCESS);
    return c;
}

static pv_client_t *emulator_client(apr_pool_t *pool, const char *key,
                                    pv_client_trace_fn *trace, void *baton)
{
    pv_client_conf_t conf;

    memset(&conf, 0, sizeof(conf));
    conf.base_url = getenv("PV_TEST_EMULATOR");
    conf.key = key;
    conf.secret = getenv("PV_TEST_EMULATOR_SECRET");
    return emulator_make(pool, &conf, trace, baton);
}

static void count_calls(void *baton, const char *method, const char *path,
                        long status, apr_interval_time_t took, pv_err err,
                        const char *error)
{
    int *calls = baton;

    (void)method;
    (void)took;
    (void)err;
    (void)error;
    calls[!strcmp(path, "/users/getToken") ? 0 : 1]++;
    if (status == 401)
        calls[2]++;
}

TEST(client_against_the_emulator)
{
    int calls[3] = {0, 0, 0};
    pv_client_t *c;
    pv_payment_t pay;
    const char *why = NULL;

    if (!getenv("PV_TEST_EMULATOR") || !getenv("PV_TEST_EMULATOR_SECRET")) {
        check_skip("no PV_TEST_EMULATOR (tests/test_client_unit.py runs it)");
        return;
    }
    c = emulator_client(pool, "imp_apikey", count_calls, calls);
    if (!c)
        return;
    CHECK_INT_EQ(pv_client_get_payment(c, pool, "imp_cu_paid", &pay, &why), PV_OK);
    CHECK_STR_EQ(pay.imp_uid, "imp_cu_paid");
    CHECK_STR_EQ(pay.merchant_uid, "order_cu");
    CHECK_STR_EQ(pay.amount, "12000");
    CHECK_INT_EQ(pay.status, PV_STATUS_PAID);
    /* the token is reused: one getToken for two look-ups */
    CHECK_INT_EQ(pv_client_get_payment(c, pool, "imp_cu_paid", &pay, &why), PV_OK);
    CHECK_INT_EQ(calls[0], 1);
    CHECK_INT_EQ(calls[1], 2);
    CHECK_INT_EQ(pv_client_get_payment(c, pool, "imp_cu_none", &pay, &why),
                 PV_E_PAYMENT_NOT_FOUND);
    /* an imp_uid with characters that must not leave their path segment */
    CHECK_INT_EQ(pv_client_get_payment(c, pool, "imp_cu/../x?y#z", &pay, &why),
                 PV_E_PAYMENT_NOT_FOUND);
}

TEST(client_against_the_emulator_refused_key)
{
    pv_client_t *c;
    pv_payment_t pay;
    const char *why = NULL;

    if (!getenv("PV_TEST_EMULATOR") || !getenv("PV_TEST_EMULATOR_SECRET")) {
        check_skip("no PV_TEST_EMULATOR (tests/test_client_unit.py runs it)");
        return;
    }
    c = emulator_client(pool, "imp_not_this_key", NULL, NULL);
    if (!c)
        return;
    CHECK_INT_EQ(pv_client_get_payment(c, pool, "imp_cu_paid", &pay, &why),
                 PV_E_UPSTREAM_AUTH_FAILED);
    CHECK(why && !strstr(why, getenv("PV_TEST_EMULATOR_SECRET")));
}

/* ---- V2 ---- */

/* No V2 look-up without its URL and secret; a secret that would break its
 * header is refused before any connection. */
TEST(client_v2_not_configured)
{
    pv_client_conf_t conf;
    pv_client_t *c = NULL;
    pv_payment_t pay;
    const char *why = NULL;

    memset(&conf, 0, sizeof(conf));
    conf.base_url = "http://127.0.0.1:9";
    conf.timeout = conf.connect_timeout = apr_time_from_msec(300);
    CHECK_INT_EQ(pv_client_create(pool, &conf, NULL, NULL, &c), APR_SUCCESS);
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-1", &pay, &why),
                 PV_E_NOT_CONFIGURED);
    CHECK_STR_HAS(why, "PortOneV2Secret");
    conf.v2_base_url = "http://127.0.0.1:9";
    conf.v2_secret = "sec\r\nX-Injected: 1";
    CHECK_INT_EQ(pv_client_create(pool, &conf, NULL, NULL, &c), APR_SUCCESS);
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-1", &pay, &why),
                 PV_E_NOT_CONFIGURED);
    CHECK(!strstr(why, "Injected"));
}

/* Against the emulator (tests/test_client_unit.py registers the payments
 * and names its V2 secret in PV_TEST_EMULATOR_V2_SECRET): what the V2
 * look-up does end to end over real HTTP. */
static pv_client_t *emulator_v2_client(apr_pool_t *pool, const char *secret,
                                       const char *store_id)
{
    const char *url = getenv("PV_TEST_EMULATOR_V2");
    pv_client_conf_t conf;

    memset(&conf, 0, sizeof(conf));
    conf.v2_base_url = url ? url : getenv("PV_TEST_EMULATOR");
    conf.v2_secret = secret;
    conf.store_id = store_id;
    return emulator_make(pool, &conf, NULL, NULL);
}

TEST(client_v2_against_the_emulator)
{
    const char *secret = getenv("PV_TEST_EMULATOR_V2_SECRET");
    const char *store = getenv("PV_TEST_EMULATOR_V2_STORE");
    static const char odd[] = "pay-cu/../x?y#z 100%25 주문";
    pv_client_t *c, *bare, *wrong;
    pv_payment_t pay;
    const char *why = NULL;

    if (!getenv("PV_TEST_EMULATOR") || !secret || !store) {
        check_skip("no PV_TEST_EMULATOR_V2_SECRET (tests/test_client_unit.py "
                   "runs it)");
        return;
    }
    c = emulator_v2_client(pool, secret, store);
    bare = emulator_v2_client(pool, secret, NULL);
    wrong = emulator_v2_client(pool, "not-the-v2-secret", store);
    if (!c || !bare || !wrong)
        return;
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-cu-paid", &pay, &why),
                 PV_OK);
    CHECK_INT_EQ(pay.api, PV_API_V2);
    CHECK_STR_EQ(pay.imp_uid, "pay-cu-paid");
    CHECK_STR_EQ(pay.status_text, "PAID");
    CHECK_STR_EQ(pay.amount, "12000");
    CHECK_STR_EQ(pay.channel_type, "LIVE");
    CHECK_STR_EQ(pay.store_id, store);
    CHECK(!pay.sandbox && !pay.store_mismatch);
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-cu-test", &pay, &why),
                 PV_OK);
    CHECK_STR_EQ(pay.channel_type, "TEST");
    CHECK_INT_EQ(pay.sandbox, 1);
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-cu-vbank", &pay,
                                          &why), PV_OK);
    CHECK_STR_EQ(pay.vbank_num, "T0309260000001");
    /* served by an upstream that ignores the store: the mismatch is seen */
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-cu-other", &pay,
                                          &why), PV_OK);
    CHECK_STR_EQ(pay.store_id, "store-other");
    CHECK_INT_EQ(pay.store_mismatch, 1);
    /* without a configured store nothing is compared (and none is sent) */
    CHECK_INT_EQ(pv_client_get_payment_v2(bare, pool, "pay-cu-other", &pay,
                                          &why), PV_OK);
    CHECK_INT_EQ(pay.store_mismatch, 0);
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-cu-new", &pay, &why),
                 PV_E_UPSTREAM_ERROR);
    CHECK_STR_HAS(why, "unknown status");
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, "pay-cu-none", &pay, &why),
                 PV_E_PAYMENT_NOT_FOUND);
    /* the id stays one path segment, read back exactly */
    CHECK_INT_EQ(pv_client_get_payment_v2(c, pool, odd, &pay, &why), PV_OK);
    CHECK_STR_EQ(pay.imp_uid, odd);
    CHECK_INT_EQ(pv_client_get_payment_v2(wrong, pool, "pay-cu-paid", &pay,
                                          &why), PV_E_UPSTREAM_AUTH_FAILED);
    CHECK(why && !strstr(why, secret) && !strstr(why, "not-the-v2-secret"));
}
