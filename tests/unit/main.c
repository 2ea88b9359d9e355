/* Runner of the C unit tests (see check.h). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "check.h"

#include <apr_general.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TESTS 1024

static struct {
    const char *name;
    const char *file;
    int line;
    check_fn fn;
} tests[MAX_TESTS];
static int ntests, too_many;

/* the test being run */
static const char *current;
static int current_checks, current_failed;
static const char *last_file;   /* of the last check */
static int last_line;

void check_register(const char *name, const char *file, int line,
                    check_fn fn)
{
    if (ntests == MAX_TESTS) {
        too_many = 1;
        return;
    }
    tests[ntests].name = name;
    tests[ntests].file = file;
    tests[ntests].line = line;
    tests[ntests].fn = fn;
    ntests++;
}

int check_report(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    current_checks++;
    last_file = file;
    last_line = line;
    if (ok)
        return 1;
    if (current_failed++ == 0)
        printf("FAIL %s\n", current);
    printf("  %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    return 0;
}

const char *check_printable(apr_pool_t *pool, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, n = len > 200 ? 200 : len;
    char *out, *o;

    if (!s)
        return "(null)";
    o = out = apr_palloc(pool, 4 * n + 4);
    /* cppcheck (2.10) takes one caller's length for all: false positives */
    /* cppcheck-suppress knownConditionTrueFalse */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int c1 = c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80
                 && (unsigned char)s[i + 1] < 0xa0;   /* U+0080..U+009F */

        /* cppcheck-suppress knownConditionTrueFalse */
        if (c < 0x20 || c == 0x7f || c1) {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
            if (c1) {
                c = (unsigned char)s[++i];
                *o++ = '\\';
                *o++ = 'x';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        }
        else
            *o++ = (char)c;
    }
    /* cppcheck-suppress knownConditionTrueFalse */
    if (n < len)
        o += sprintf(o, "...");
    *o = '\0';
    return out;
}

/* A test that crashes (a bug in the code under test) fails; the others
 * still run. */
static sigjmp_buf crash_jump;
static volatile sig_atomic_t in_test;

static void on_crash(int sig)
{
    if (!in_test) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    in_test = 0;
    siglongjmp(crash_jump, sig);
}

static void catch_crashes(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_crash;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

/* why the current test was skipped; NULL: it ran */
static const char *current_skip;

void check_skip(const char *why)
{
    current_skip = why;
}

int check_listen_loopback(int *port, int nonblock)
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
        || (nonblock && fcntl(fd, F_SETFL, O_NONBLOCK))) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    static int passed, failed;
    int i;

    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        return 1;
    }
    if (too_many) {
        printf("more than %d tests: raise MAX_TESTS in %s\n", MAX_TESTS,
               __FILE__);
        failed++;
    }
    catch_crashes();
    for (i = 0; i < ntests; i++) {
        apr_pool_t *pool;
        int sig;

        if (only && !strstr(tests[i].name, only))
            continue;
        current = tests[i].name;
        current_checks = current_failed = 0;
        last_file = NULL;
        if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
            printf("FAIL %s\n  cannot create a pool\n", current);
            failed++;
            continue;
        }
        sig = sigsetjmp(crash_jump, 1);
        if (sig == 0) {
            in_test = 1;
            tests[i].fn(pool);
            in_test = 0;
            apr_pool_destroy(pool);
        }
        else {
            /* the pool may be half-updated: leave it to apr_terminate() */
            if (last_file)
                check_report(0, tests[i].file, tests[i].line,
                             "crashed with signal %d (%s) after the check at "
                             "%s:%d", sig, strsignal(sig), last_file,
                             last_line);
            else
                check_report(0, tests[i].file, tests[i].line,
                             "crashed with signal %d (%s) before its first "
                             "check", sig, strsignal(sig));
        }
        if (current_skip) {
            printf("skip %s: %s\n", current, current_skip);
            current_skip = NULL;
        }
        else if (current_checks == 0) {
            printf("FAIL %s\n  %s:%d: made no check\n", current,
                   tests[i].file, tests[i].line);
            failed++;
        }
        else if (current_failed) {
            printf("  %s: %d of %d checks failed\n", current, current_failed,
                   current_checks);
            failed++;
        }
        else {
            printf("ok   %s (%d checks)\n", current, current_checks);
            passed++;
        }
        fflush(stdout);
    }
    apr_terminate();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
