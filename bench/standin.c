/* A fast stand-in for PortOne's V1 and V2 APIs, for the benchmark only.
 *
 *   standin [-p port] [-l latency_ms]      (listens on 127.0.0.1 only)
 *
 * One thread per connection, HTTP/1.1 keep-alive, libc and pthreads only.
 *
 *   POST /users/getToken    {"code":0,...,"response":{"access_token","now","expired_at"}}
 *   GET  /payments/{imp}    a full PaymentAnnotation (portone-api.md 1.4) from a
 *                           fixed template: imp_uid from the path, merchant_uid
 *                           derived from it (imp_b12345 -> order_12345, other
 *                           imp_X -> order_X; with orders=N set, imp_bK ->
 *                           order_((K-1) mod N + 1), so that many payments
 *                           share N orders), amount 10000, KRW, status paid.
 *                           Needs an Authorization (or X-ImpTokenHeader)
 *                           header carrying the token, else 401 code -1.
 *                           Answered after the added latency (nanosleep in
 *                           the connection's own thread: other connections
 *                           are not held up).
 *   GET  /payments/{id}     with "Authorization: PortOne <V2 secret>": V2
 *                           (portone-api.md 2.2), a PAID payment of the
 *                           fixed template: id from the path (letters,
 *                           digits, _ and -, up to 128), amount.total 10000
 *                           (the bench's orders order_N are 10000 KRW: the
 *                           V2 pass uses paymentId order_N), KRW, channel
 *                           LIVE, storeId V2_STORE (?storeId= is
 *                           ignored). A wrong secret: 401 UNAUTHORIZED; a
 *                           malformed id: 404 PAYMENT_NOT_FOUND. Same
 *                           added latency as V1.
 *   GET  /__stats           {"token_calls","payment_calls","v2_payment_calls",
 *                            "connections","open_connections","requests",
 *                            "latency_ms"} (payment_calls counts V1 and V2)
 *   POST /__config?latency_ms=N   changes the added latency at run time.
 *   POST /__config?orders=N       maps payments onto N orders (0: one each).
 *
 * Prints "listening <port>" on stdout once it accepts connections. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "bench0standin0token0c2f1a9e7d3b5a8c6e4f2a0b"
#define V2_SECRET "bench0standin0v2secret0e1d2c3b4a59687"
#define V2_STORE "store-00000000-0000-4000-8000-bench0standin"
#define BUF_SIZE 16384
#define MAX_BODY (1 << 20)

static unsigned long n_token, n_payment, n_payment_v2, n_conn, n_requests;
static long n_open;
static int latency_ms;
static long orders_mod;         /* 0: imp_bK pays order_K */

#define INC(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)
#define DEC(x) __atomic_sub_fetch(&(x), 1, __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int respond(int fd, int status, const char *body, size_t blen,
                   int keep)
{
    char out[8192];
    const char *reason = status == 200 ? "OK" : status == 401 ? "Unauthorized"
                       : status == 404 ? "Not Found" : status == 405
                       ? "Method Not Allowed" : "Bad Request";
    int h = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d %s\r\n"
                     "Server: standin\r\n"
                     "Content-Type: application/json; charset=UTF-8\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status, reason, blen, keep ? "keep-alive" : "close");

    if (h < 0 || (size_t)h >= sizeof(out))
        return -1;
    if ((size_t)h + blen <= sizeof(out)) {      /* one write, one segment */
        memcpy(out + h, body, blen);
        return write_all(fd, out, (size_t)h + blen);
    }
    if (write_all(fd, out, (size_t)h) < 0)
        return -1;
    return write_all(fd, body, blen);
}

static const char *ERR_404 =
    "{\"code\":-1,\"message\":\"\\uc874\\uc7ac\\ud558\\uc9c0 \\uc54a\\ub294 "
    "\\uacb0\\uc81c\\uc815\\ubcf4\\uc785\\ub2c8\\ub2e4.\",\"response\":null}";
static const char *ERR_401 =
    "{\"code\":-1,\"message\":\"Unauthorized\",\"response\":null}";

static int token_answer(int fd, int keep)
{
    char body[256];
    long now = (long)time(NULL);
    int n = snprintf(body, sizeof(body),
                     "{\"code\":0,\"message\":null,\"response\":{\"access_token\":\""
                     TOKEN "\",\"now\":%ld,\"expired_at\":%ld}}", now, now + 1800);

    INC(n_token);
    return respond(fd, 200, body, (size_t)n, keep);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A payment's answer never changes, as at PortOne: its times come from the
 * stand-in's start, not from the clock at each look-up. */
static long epoch;

static int payment_answer(int fd, const char *imp, size_t ilen, int keep)
{
    char body[4096];
    char merchant[64];
    long now = epoch;
    size_t i;
    int n, ms;

    if (ilen == 0 || ilen > 32)
        return respond(fd, 404, ERR_404, strlen(ERR_404), keep);
    for (i = 0; i < ilen; i++) {
        char c = imp[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return respond(fd, 404, ERR_404, strlen(ERR_404), keep);
    }
    if (ilen > 5 && !memcmp(imp, "imp_b", 5)) {
        long mod = GET(orders_mod);

        if (mod > 0 && imp[5] >= '1' && imp[5] <= '9')
            snprintf(merchant, sizeof(merchant), "order_%ld",
                     (atol(imp + 5) - 1) % mod + 1);
        else
            snprintf(merchant, sizeof(merchant), "order_%.*s", (int)(ilen - 5), imp + 5);
    }
    else if (ilen > 4 && !memcmp(imp, "imp_", 4))
        snprintf(merchant, sizeof(merchant), "order_%.*s", (int)(ilen - 4), imp + 4);
    else
        snprintf(merchant, sizeof(merchant), "order_%.*s", (int)ilen, imp);

    n = snprintf(body, sizeof(body),
        "{\"code\":0,\"message\":null,\"response\":{"
        "\"amount\":10000,\"apply_num\":\"30012345\",\"bank_code\":null,\"bank_name\":null,"
        "\"buyer_addr\":\"\\uc11c\\uc6b8\\ud2b9\\ubcc4\\uc2dc \\uac15\\ub0a8\\uad6c\","
        "\"buyer_email\":\"buyer@example.com\",\"buyer_name\":\"\\ud64d\\uae38\\ub3d9\","
        "\"buyer_postcode\":\"06018\",\"buyer_tel\":\"010-1234-5678\","
        "\"cancel_amount\":0,\"cancel_history\":[],\"cancel_reason\":null,"
        "\"cancel_receipt_urls\":[],\"cancelled_at\":0,"
        "\"card_code\":\"361\",\"card_issuer_code\":\"361\",\"card_issuer_name\":\"BC\\uce74\\ub4dc\","
        "\"card_name\":\"BC\\uce74\\ub4dc\",\"card_number\":\"910020*********7\","
        "\"card_publisher_code\":\"361\",\"card_publisher_name\":\"BC\\uce74\\ub4dc\","
        "\"card_quota\":0,\"card_type\":0,\"cash_receipt_issued\":false,\"channel\":\"pc\","
        "\"currency\":\"KRW\",\"custom_data\":null,\"customer_uid\":null,"
        "\"customer_uid_usage\":null,\"deposit_history\":[],\"emb_pg_provider\":null,"
        "\"escrow\":false,\"fail_reason\":null,\"failed_at\":0,"
        "\"imp_uid\":\"%.*s\",\"merchant_uid\":\"%s\","
        "\"name\":\"\\uc8fc\\ubb38\\uba85:\\uacb0\\uc81c\\ud14c\\uc2a4\\ud2b8\","
        "\"paid_at\":%ld,\"pay_method\":\"card\",\"pg_id\":\"INIpayTest\","
        "\"pg_provider\":\"html5_inicis\",\"pg_tid\":\"StdpayCARDINIpayTest%.*s\","
        "\"promotion\":null,"
        "\"receipt_url\":\"https:\\/\\/iniweb.inicis.com\\/DefaultWebApp\\/mall\\/cr\\/cm\\/mCmReceipt_head.jsp?noTid=StdpayCARDINIpayTest%.*s\","
        "\"sandbox\":false,\"started_at\":%ld,\"status\":\"paid\","
        "\"user_agent\":\"Mozilla\\/5.0 (X11; Linux x86_64) AppleWebKit\\/537.36 (KHTML, like Gecko) Chrome\\/120.0 Safari\\/537.36\","
        "\"vbank_code\":null,\"vbank_date\":0,\"vbank_holder\":null,\"vbank_issued_at\":0,"
        "\"vbank_name\":null,\"vbank_num\":null}}",
        (int)ilen, imp, merchant, now - 5, (int)ilen, imp, (int)ilen, imp, now - 25);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    ms = GET(latency_ms);
    if (ms > 0)
        sleep_ms(ms);
    return respond(fd, 200, body, (size_t)n, keep);
}

static const char *ERR_V2_404 =
    "{\"type\":\"PAYMENT_NOT_FOUND\",\"message\":\"Payment not found\"}";
static const char *ERR_V2_401 =
    "{\"type\":\"UNAUTHORIZED\",\"message\":\"Unauthorized\"}";

/* RFC 3339 in UTC, as PortOne V2 writes its times. */
static void rfc3339(char *out, size_t n, long t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* A V2 PAID payment (portone-api.md 2.2): the same at every look-up. */
static int payment_v2_answer(int fd, const char *id, size_t ilen, int keep)
{
    char body[4096];
    char requested[40], paid[40];
    size_t i;
    int n, ms;

    if (ilen == 0 || ilen > 128)
        return respond(fd, 404, ERR_V2_404, strlen(ERR_V2_404), keep);
    for (i = 0; i < ilen; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return respond(fd, 404, ERR_V2_404, strlen(ERR_V2_404), keep);
    }
    rfc3339(requested, sizeof(requested), epoch - 25);
    rfc3339(paid, sizeof(paid), epoch - 5);
    n = snprintf(body, sizeof(body),
        "{\"status\":\"PAID\",\"id\":\"%.*s\","
        "\"transactionId\":\"0190f0c8-bench-7000-8000-%.*s\","
        "\"merchantId\":\"merchant-00000000-0000-4000-8000-bench0standin\","
        "\"storeId\":\"" V2_STORE "\","
        "\"method\":{\"type\":\"PaymentMethodCard\",\"card\":{\"publisher\":\"BC\","
        "\"issuer\":\"BC\",\"brand\":\"LOCAL\",\"type\":\"CREDIT\","
        "\"ownerType\":\"PERSONAL\",\"bin\":\"910020\",\"name\":\"BC\uce74\ub4dc\","
        "\"number\":\"910020*********7\"},\"approvalNumber\":\"30012345\","
        "\"installment\":{\"month\":0,\"isInterestFree\":false},\"pointUsed\":false},"
        "\"channel\":{\"type\":\"LIVE\",\"id\":\"channel-id-bench\","
        "\"key\":\"channel-key-00000000-0000-4000-8000-bench0standin\","
        "\"name\":\"bench\",\"pgProvider\":\"INICIS_V2\",\"pgMerchantId\":\"INIpayTest\"},"
        "\"version\":\"V2\",\"requestedAt\":\"%s\",\"updatedAt\":\"%s\","
        "\"statusChangedAt\":\"%s\","
        "\"orderName\":\"\uc8fc\ubb38\uba85:\uacb0\uc81c\ud14c\uc2a4\ud2b8\","
        "\"amount\":{\"total\":10000,\"taxFree\":0,\"vat\":909,\"supply\":9091,"
        "\"discount\":0,\"paid\":10000,\"cancelled\":0,\"cancelledTaxFree\":0},"
        "\"currency\":\"KRW\","
        "\"customer\":{\"name\":\"\ud64d\uae38\ub3d9\",\"email\":\"buyer@example.com\","
        "\"phoneNumber\":\"01012345678\"},"
        "\"origin\":{\"platformType\":\"PC\",\"ipAddress\":\"127.0.0.1\","
        "\"userAgent\":\"Mozilla\\/5.0 (X11; Linux x86_64) AppleWebKit\\/537.36 (KHTML, like Gecko) Chrome\\/120.0 Safari\\/537.36\"},"
        "\"isCulturalExpense\":false,\"promotionId\":null,"
        "\"paidAt\":\"%s\",\"pgTxId\":\"StdpayCARDINIpayTest%.*s\","
        "\"receiptUrl\":\"https:\\/\\/iniweb.inicis.com\\/receipt\",\"disputes\":[],"
        "\"cancellations\":[]}",
        (int)ilen, id, (int)(ilen < 12 ? ilen : 12), id, requested, paid, paid, paid,
        (int)ilen, id);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    ms = GET(latency_ms);
    if (ms > 0)
        sleep_ms(ms);
    return respond(fd, 200, body, (size_t)n, keep);
}

static int stats_answer(int fd, int keep)
{
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"token_calls\":%lu,\"payment_calls\":%lu,\"v2_payment_calls\":%lu,"
                     "\"connections\":%lu,\"open_connections\":%ld,\"requests\":%lu,"
                     "\"latency_ms\":%d}",
                     GET(n_token), GET(n_payment), GET(n_payment_v2), GET(n_conn),
                     GET(n_open), GET(n_requests), GET(latency_ms));

    return respond(fd, 200, body, (size_t)n, keep);
}

/* Case-insensitive header look-up in [hdrs, end): the value, trimmed. */
static const char *header(const char *hdrs, const char *end, const char *name,
                          size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = hdrs;

    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nlen && p[nlen] == ':'
            && !strncasecmp(p, name, nlen)) {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

static int has_token(const char *hdrs, const char *end)
{
    size_t vl;
    const char *v = header(hdrs, end, "Authorization", &vl);

    if (!v)
        v = header(hdrs, end, "X-ImpTokenHeader", &vl);
    if (!v)
        return 0;
    if (vl > 7 && !strncasecmp(v, "Bearer ", 7)) {
        v += 7;
        vl -= 7;
    }
    return vl == strlen(TOKEN) && !memcmp(v, TOKEN, vl);
}

/* 1: "Authorization: PortOne <V2_SECRET>"; -1: the PortOne scheme with
 * another secret; 0: not the V2 scheme (a V1 look-up). */
static int v2_auth(const char *hdrs, const char *end)
{
    size_t vl;
    const char *v = header(hdrs, end, "Authorization", &vl);

    if (!v || vl < 8 || strncasecmp(v, "PortOne ", 8))
        return 0;
    v += 8;
    vl -= 8;
    return vl == strlen(V2_SECRET) && !memcmp(v, V2_SECRET, vl) ? 1 : -1;
}

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    char *buf = malloc(BUF_SIZE);
    size_t have = 0;

    if (!buf)
        goto out;
    for (;;) {
        char *eoh;
        size_t hlen, clen = 0, total, vl;
        const char *v, *method, *target, *hdrs, *hend;
        size_t mlen, tlen;
        int keep = 1, rc;

        /* read until the end of the headers */
        while (!(eoh = memmem(buf, have, "\r\n\r\n", 4))) {
            ssize_t r;
            if (have == BUF_SIZE)
                goto out;                       /* headers too large */
            r = recv(fd, buf + have, BUF_SIZE - have, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                goto out;
            have += (size_t)r;
        }
        hlen = (size_t)(eoh - buf) + 4;
        method = buf;
        {
            const char *sp = memchr(buf, ' ', hlen);
            const char *eol = memmem(buf, hlen, "\r\n", 2);
            const char *sp2;
            if (!sp || !eol || sp > eol)
                goto out;
            mlen = (size_t)(sp - buf);
            target = sp + 1;
            sp2 = memchr(target, ' ', (size_t)(eol - target));
            if (!sp2)
                goto out;
            tlen = (size_t)(sp2 - target);
            if ((size_t)(eol - sp2) >= 9 && !memcmp(sp2 + 1, "HTTP/1.0", 8))
                keep = 0;
            hdrs = eol + 2;
            hend = eoh + 2;
        }
        if ((v = header(hdrs, hend, "Connection", &vl))) {
            if (vl == 5 && !strncasecmp(v, "close", 5))
                keep = 0;
            else if (vl == 10 && !strncasecmp(v, "keep-alive", 10))
                keep = 1;
        }
        if ((v = header(hdrs, hend, "Content-Length", &vl)))
            clen = strtoul(v, NULL, 10);
        if (header(hdrs, hend, "Transfer-Encoding", &vl) || clen > MAX_BODY)
            goto out;                           /* not needed here */
        if ((v = header(hdrs, hend, "Expect", &vl)) && vl == 12
            && !strncasecmp(v, "100-continue", 12) && clen > have - hlen)
            if (write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
                goto out;
        /* the body: kept in the buffer when it fits, else read and dropped */
        total = hlen + clen;
        if (total <= BUF_SIZE) {
            while (have < total) {
                ssize_t r = recv(fd, buf + have, BUF_SIZE - have, 0);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    goto out;
                have += (size_t)r;
            }
        }
        else {
            size_t left = total - have;
            have = hlen;                        /* keep the headers only */
            while (left > 0) {
                char junk[4096];
                ssize_t r = recv(fd, junk, left < sizeof(junk) ? left : sizeof(junk), 0);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    goto out;
                left -= (size_t)r;
            }
            total = hlen;
        }
        INC(n_requests);

        if (mlen == 4 && !memcmp(method, "POST", 4) && tlen >= 15
            && !memcmp(target, "/users/getToken", 15)
            && (tlen == 15 || target[15] == '?')) {
            rc = token_answer(fd, keep);
        }
        else if (tlen > 10 && !memcmp(target, "/payments/", 10)) {
            const char *id = target + 10;
            size_t ilen = 0;
            while (10 + ilen < tlen && id[ilen] != '?' && id[ilen] != '/')
                ilen++;
            int v2 = v2_auth(hdrs, hend);
            INC(n_payment);             /* every look-up, 401s included */
            if (v2)
                INC(n_payment_v2);
            if (mlen != 3 || memcmp(method, "GET", 3))
                rc = respond(fd, 405, ERR_401, strlen(ERR_401), keep);
            else if (v2 < 0)
                rc = respond(fd, 401, ERR_V2_401, strlen(ERR_V2_401), keep);
            else if (v2)
                rc = payment_v2_answer(fd, id, ilen, keep);
            else if (!has_token(hdrs, hend))
                rc = respond(fd, 401, ERR_401, strlen(ERR_401), keep);
            else
                rc = payment_answer(fd, id, ilen, keep);
        }
        else if (tlen == 8 && !memcmp(target, "/__stats", 8)) {
            rc = stats_answer(fd, keep);
        }
        else if (mlen == 4 && !memcmp(method, "POST", 4) && tlen > 20
                 && !memcmp(target, "/__config?latency_ms=", 21)) {
            int ms = atoi(target + 21);
            __atomic_store_n(&latency_ms, ms < 0 ? 0 : ms, __ATOMIC_RELAXED);
            rc = stats_answer(fd, keep);
        }
        else if (mlen == 4 && !memcmp(method, "POST", 4) && tlen > 16
                 && !memcmp(target, "/__config?orders=", 17)) {
            long n = atol(target + 17);
            __atomic_store_n(&orders_mod, n < 0 ? 0 : n, __ATOMIC_RELAXED);
            rc = stats_answer(fd, keep);
        }
        else {
            rc = respond(fd, 404, ERR_404, strlen(ERR_404), keep);
        }
        if (rc < 0 || !keep)
            goto out;
        memmove(buf, buf + total, have - total);
        have -= total;
    }
out:
    free(buf);
    close(fd);
    DEC(n_open);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = 0, opt, one = 1, ls;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    pthread_attr_t attr;

    while ((opt = getopt(argc, argv, "p:l:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'l': latency_ms = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-p port] [-l latency_ms]\n", argv[0]);
            return 2;
        }
    }
    epoch = (long)time(NULL);
    signal(SIGPIPE, SIG_IGN);
    ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4096) < 0) {
        perror("bind/listen");
        return 1;
    }
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("listening %d\n", ntohs(sa.sin_port));
    fflush(stdout);

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    for (;;) {
        pthread_t t;
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE
                || errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE)
                    sleep_ms(10);
                continue;
            }
            perror("accept");
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        INC(n_conn);
        INC(n_open);
        if (pthread_create(&t, &attr, serve, (void *)(long)fd) != 0) {
            close(fd);
            DEC(n_open);
        }
    }
}
