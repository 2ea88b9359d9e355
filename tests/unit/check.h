/* A tiny unit-test framework for the pure layer.
 *
 *   TEST(decimal_zero_forms)
 *   {
 *       CHECK(pv_decimal_equal("0", "-0"));
 *       CHECK_STR_EQ(out.sql, "SELECT %s");
 *       CHECK_INT_EQ(err, PV_OK);
 *   }
 *
 * TEST(name) registers the function before main() runs (a constructor), so
 * a new test needs no list to update. Each test gets a fresh APR pool,
 * |pool|, destroyed after it (and with it every json-c object the code under
 * test tied to it). A failing check prints file:line and goes on; a test
 * passes when it made at least one check and none failed; a test that
 * crashes (SIGSEGV, SIGABRT, ...) fails and the run goes on. main.c runs the
 * tests in registration order and ends with the line "N passed, M failed"
 * (N, M: tests); exit status 1 when any failed. "run_unit WORD" runs only the
 * tests whose name contains WORD. */
#ifndef CHECK_H
#define CHECK_H

#include <apr_pools.h>
#include <string.h>

typedef void (*check_fn)(apr_pool_t *pool);

void check_register(const char *name, const char *file, int line,
                    check_fn fn);

/* Records one check; prints "file:line: what" when !ok. Returns ok. */
int check_report(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* |s| (|len| bytes, NUL bytes included) for a failure message: control
 * characters as \xNN, cut after 200 bytes. Allocated in |pool|. */
const char *check_printable(apr_pool_t *pool, const char *s, size_t len);

#define TEST(name)                                                          \
    static void name(apr_pool_t *pool);                                     \
    __attribute__((constructor)) static void name##_register_(void)         \
    {                                                                       \
        check_register(#name, __FILE__, __LINE__, name);                    \
    }                                                                       \
    static void name(apr_pool_t *pool __attribute__((unused)))

#define CHECK(cond)                                                         \
    check_report(!!(cond), __FILE__, __LINE__, "CHECK(%s)", #cond)

/* NULL is equal only to NULL. */
#define CHECK_STR_EQ(a, b)                                                  \
    do {                                                                    \
        const char *check_a_ = (a), *check_b_ = (b);                        \
        int check_ok_ = (check_a_ && check_b_) ? !strcmp(check_a_, check_b_)\
                                               : check_a_ == check_b_;      \
        check_report(check_ok_, __FILE__, __LINE__,                         \
                     "CHECK_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b,      \
                     check_a_ ? check_a_ : "(null)",                        \
                     check_b_ ? check_b_ : "(null)");                       \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                  \
    do {                                                                    \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);     \
        check_report(check_a_ == check_b_, __FILE__, __LINE__,              \
                     "CHECK_INT_EQ(%s, %s): %lld != %lld", #a, #b,          \
                     check_a_, check_b_);                                   \
    } while (0)

/* |haystack| (may be NULL: fails) contains |needle|. */
#define CHECK_STR_HAS(haystack, needle)                                     \
    do {                                                                    \
        const char *check_h_ = (haystack), *check_n_ = (needle);            \
        check_report(check_h_ && strstr(check_h_, check_n_) != NULL,        \
                     __FILE__, __LINE__,                                    \
                     "CHECK_STR_HAS(%s, %s): \"%s\" lacks \"%s\"",          \
                     #haystack, #needle,                                    \
                     check_h_ ? check_h_ : "(null)", check_n_);             \
    } while (0)

/* Number of elements of an array. */
#define CHECK_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The current test needs what is not there (a server, an environment
 * variable): it is reported as skipped, neither passed nor failed. */
void check_skip(const char *why);

/* A socket listening on 127.0.0.1 that nobody answers (non-blocking with
 * |nonblock|), for the client's tests; its port in |*port|. -1 on error. */
int check_listen_loopback(int *port, int nonblock);

#endif
