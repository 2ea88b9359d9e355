/* Runner of the C unit tests (see check.h). */
#include "check.h"

#include <apr_general.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TESTS 1024

static struct {
    const char *name;
    const char *file;
    check_fn fn;
} tests[MAX_TESTS];
static int ntests, too_many;

/* the test being run */
static const char *current;
static int current_checks, current_failed;

void check_register(const char *name, const char *file, check_fn fn)
{
    if (ntests == MAX_TESTS) {
        too_many = 1;
        return;
    }
    tests[ntests].name = name;
    tests[ntests].file = file;
    tests[ntests].fn = fn;
    ntests++;
}

int check_report(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    current_checks++;
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

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    int i, passed = 0, failed = 0;

    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        return 1;
    }
    if (too_many) {
        printf("more than %d tests: raise MAX_TESTS in %s\n", MAX_TESTS,
               __FILE__);
        failed++;
    }
    for (i = 0; i < ntests; i++) {
        apr_pool_t *pool;

        if (only && !strstr(tests[i].name, only))
            continue;
        current = tests[i].name;
        current_checks = current_failed = 0;
        if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
            printf("FAIL %s\n  cannot create a pool\n", current);
            failed++;
            continue;
        }
        tests[i].fn(pool);
        apr_pool_destroy(pool);
        if (current_checks == 0) {
            printf("FAIL %s (%s)\n  made no check\n", current, tests[i].file);
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
