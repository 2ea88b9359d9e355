/* libFuzzer harness for pv_decimal: exact decimal comparison.
 *
 * Input: two texts separated by the first NUL ("10000\0" "10000.00"); with
 * no NUL the second is NULL. The whole input is also parsed as one
 * length-delimited text. Every result is checked against a slow reference
 * that places each digit at its power of ten: pv_decimal_parse takes at most
 * PV_DECIMAL_MAX_TEXT bytes, pv_decimal_equal any length. */
#include "fuzz_common.h"
#include "pv_decimal.h"

#define REF_MAX_EXP 400         /* pv_decimal's exponent limit */

typedef struct {
    int valid;                      /* a decimal number, of any length */
    int parses;                     /* ... and pv_decimal_parse takes it */
    int negative;                   /* 0 for zero */
    int nonzero;
    char *digits;                   /* significant digits (malloc) */
    long exponent;                  /* of the last of them */
} ref_t;

static int ref_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int ref_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* [ws][+-]digits[.digits][(e|E)[+-]digits][ws] (or .5 / 5.), |exponent| <=
 * REF_MAX_EXP; it parses when at most PV_DECIMAL_MAX_TEXT bytes. Each digit
 * is placed at its power of ten, then the significant ones are read off. */
static void ref_parse(const char *text, size_t len, ref_t *r)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, j = len, is, ie, fs, fe, k, span, lo, hi;
    unsigned char *at;
    long e = 0;

    memset(r, 0, sizeof(*r));
    if (!text)
        return;
    while (i < j && ref_space(s[i]))
        i++;
    while (j > i && ref_space(s[j - 1]))
        j--;
    if (i < j && (s[i] == '+' || s[i] == '-'))
        r->negative = (s[i++] == '-');
    for (is = i; i < j && ref_digit(s[i]); i++)
        ;
    ie = i;
    fs = fe = i;
    if (i < j && s[i] == '.') {
        for (fs = ++i; i < j && ref_digit(s[i]); i++)
            ;
        fe = i;
    }
    if (ie == is && fe == fs)
        return;
    if (i < j && (s[i] == 'e' || s[i] == 'E')) {
        size_t es;
        int eneg = 0;

        i++;
        if (i < j && (s[i] == '+' || s[i] == '-'))
            eneg = (s[i++] == '-');
        for (es = i; i < j && ref_digit(s[i]); i++)
            if (e <= REF_MAX_EXP)
                e = e * 10 + (s[i] - '0');
        if (i == es || e > REF_MAX_EXP)
            return;
        if (eneg)
            e = -e;
    }
    if (i != j)
        return;
    span = len + REF_MAX_EXP + 2;   /* at[span + p]: the digit of 10^p */
    at = calloc(2 * span + 1, 1);
    if (!at)
        abort();
    for (k = is; k < ie; k++)
        at[(long)span + e + (long)(ie - 1 - k)] = (unsigned char)(s[k] - '0');
    for (k = fs; k < fe; k++)
        at[(long)span + e - (long)(k - fs + 1)] = (unsigned char)(s[k] - '0');
    for (lo = 0; lo <= 2 * span && !at[lo]; lo++)
        ;
    r->valid = 1;
    r->parses = len <= PV_DECIMAL_MAX_TEXT;
    if (lo > 2 * span) {
        r->negative = 0;
        r->digits = calloc(1, 1);
        if (!r->digits)
            abort();
        free(at);
        return;
    }
    r->nonzero = 1;
    for (hi = 2 * span; !at[hi]; hi--)
        ;
    r->digits = malloc(hi - lo + 2);
    if (!r->digits)
        abort();
    for (k = 0; k <= hi - lo; k++)
        r->digits[k] = (char)('0' + at[hi - k]);
    r->digits[hi - lo + 1] = '\0';
    r->exponent = (long)lo - (long)span;
    free(at);
}

static void ref_free(ref_t *r)
{
    free(r->digits);
    r->digits = NULL;
}

static int ref_equal(const ref_t *a, const ref_t *b)
{
    return a->valid && b->valid && a->negative == b->negative
        && a->exponent == b->exponent && strcmp(a->digits, b->digits) == 0;
}

/* pv_decimal_parse of |text| agrees with the reference, and its result is
 * normalised: no leading or trailing zero digit, zero is +0 * 10^0. */
static void check_parse(const char *text, size_t len, const ref_t *ref)
{
    pv_decimal_t d;
    int rc = pv_decimal_parse(text, len, &d);

    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == ref->parses);
    if (rc)
        return;
    FUZZ_CHECK(d.ndigits >= 0 && d.ndigits <= PV_DECIMAL_MAX_TEXT);
    if (d.ndigits == 0) {
        FUZZ_CHECK(!d.negative && d.exponent == 0);
        FUZZ_CHECK(!ref->nonzero);
        return;
    }
    FUZZ_CHECK(d.negative == 0 || d.negative == 1);
    FUZZ_CHECK(d.digits[0] != '0' && d.digits[d.ndigits - 1] != '0');
    FUZZ_CHECK(d.negative == ref->negative);
    FUZZ_CHECK(d.exponent == ref->exponent);
    FUZZ_CHECK(strlen(ref->digits) == (size_t)d.ndigits
               && memcmp(d.digits, ref->digits, (size_t)d.ndigits) == 0);
}

static void check_one(const char *s, const ref_t *ref)
{
    FUZZ_CHECK(pv_decimal_equal(s, s) == ref->valid);
    FUZZ_CHECK(pv_decimal_positive(s)
               == (ref->valid && ref->nonzero && !ref->negative));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = fuzz_pool();  /* unused by pv_decimal; kept uniform */
    const uint8_t *nul = memchr(data, 0, size);
    size_t alen = nul ? (size_t)(nul - data) : size;
    char *a = fuzz_cstr(data, alen);
    char *b = nul ? fuzz_cstr(nul + 1, size - alen - 1) : NULL;
    ref_t ra, rb, rraw;

    ref_parse(a, strlen(a), &ra);
    check_parse(a, strlen(a), &ra);
    check_one(a, &ra);
    /* length-delimited, embedded NULs and all; ASan sees a read past it */
    ref_parse((const char *)data, size, &rraw);
    check_parse((const char *)data, size, &rraw);

    if (b) {
        int ab, ba;

        ref_parse(b, strlen(b), &rb);
        check_parse(b, strlen(b), &rb);
        check_one(b, &rb);
        ab = pv_decimal_equal(a, b);
        ba = pv_decimal_equal(b, a);
        FUZZ_CHECK(ab == 0 || ab == 1);
        FUZZ_CHECK(ab == ba);
        FUZZ_CHECK(!ab || (ra.valid && rb.valid));
        FUZZ_CHECK(ab == ref_equal(&ra, &rb));
    }
    else {
        FUZZ_CHECK(pv_decimal_equal(a, NULL) == 0);
        FUZZ_CHECK(pv_decimal_equal(NULL, a) == 0);
    }
    FUZZ_CHECK(pv_decimal_equal(NULL, NULL) == 0);
    FUZZ_CHECK(pv_decimal_positive(NULL) == 0);

    ref_free(&ra);
    ref_free(&rraw);
    if (b)
        ref_free(&rb);
    free(b);
    free(a);
    apr_pool_destroy(pool);
    return 0;
}
