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

/* A non-blocking socket listening on 127.0.0.1; its port in |*port|. */
static int listen_loopback(int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8)
        || getsockname(fd, (struct sockaddr *)&a, &alen)
        || fcntl(fd, F_SETFL, O_NONBLOCK)) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

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
    int api = listen_loopback(&api_port), px = listen_loopback(&proxy_port);
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
