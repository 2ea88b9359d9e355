#include "pv_decimal.h"

#include <string.h>

#define PV_DECIMAL_MAX_EXPONENT 400

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal number read in place: its significant digits are the digits of
 * the text from |first| to |last| (a '.' between them is skipped). */
typedef struct {
    int negative;               /* 0 for zero */
    size_t ndigits;             /* 0 means the value is zero */
    const char *first, *last;
    long long exponent;         /* value = digits * 10^exponent */
} span_t;

/* Reads text of any length without copying it (the order's amount comes
 * from the shop's database, of any length: it is compared exactly, never
 * cut). Returns 0, or -1 when the text is not a decimal number. */
static int scan(const char *text, size_t len, span_t *s)
{
    const char *p, *end, *is, *ie, *fs, *fe, *q;
    long long exp = 0;

    memset(s, 0, sizeof(*s));
    if (!text)
        return -1;
    p = text;
    end = text + len;
    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;

    if (p < end && (*p == '+' || *p == '-'))
        s->negative = (*p++ == '-');
    for (is = p; p < end && is_digit(*p); p++)
        ;
    ie = fs = fe = p;
    if (p < end && *p == '.') {
        for (fs = ++p; p < end && is_digit(*p); p++)
            ;
        fe = p;
    }
    if (ie == is && fe == fs)
        return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, edigits = 0;

        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = (*p++ == '-');
        for (; p < end && is_digit(*p); p++, edigits++) {
            exp = exp * 10 + (*p - '0');
            if (exp > PV_DECIMAL_MAX_EXPONENT)
                return -1;
        }
        if (!edigits)
            return -1;
        if (eneg)
            exp = -exp;
    }
    if (p != end)
        return -1;

    /* Normalise: no leading zeros, trailing zeros into the exponent. */
    for (q = is; q < ie && *q == '0'; q++)
        ;
    if (q == ie)
        for (q = fs; q < fe && *q == '0'; q++)
            ;
    if (q == fe) {              /* zero: sign and exponent do not matter */
        s->negative = 0;
        return 0;
    }
    s->first = q;
    for (q = fe; q > fs && q[-1] == '0'; q--)
        ;
    if (q > fs) {               /* the last significant digit is a fraction's */
        s->last = q - 1;
        s->exponent = exp - (long long)(q - fs);
    }
    else {
        for (q = ie; q[-1] == '0'; q--)
            ;
        s->last = q - 1;
        s->exponent = exp + (long long)(ie - q);
    }
    s->ndigits = (size_t)(s->last - s->first) + 1
                 - (s->first < ie && s->last >= fs);
    return 0;
}

int pv_decimal_parse(const char *text, size_t len, pv_decimal_t *out)
{
    span_t s;
    const char *p;

    if (!out)
        return -1;
    memset(out, 0, sizeof(*out));
    if (!text || len > PV_DECIMAL_MAX_TEXT || scan(text, len, &s))
        return -1;
    out->negative = s.negative;
    out->exponent = (long)s.exponent;
    for (p = s.first; s.ndigits && p <= s.last; p++)
        if (*p != '.')
            out->digits[out->ndigits++] = *p;
    return 0;
}

static int scan_cstr(const char *s, span_t *d)
{
    return scan(s, s ? strlen(s) : 0, d);
}

int pv_decimal_equal(const char *a, const char *b)
{
    span_t da, db;
    const char *p, *q;

    if (scan_cstr(a, &da) || scan_cstr(b, &db))
        return 0;
    if (da.negative != db.negative || da.ndigits != db.ndigits
        || da.exponent != db.exponent)
        return 0;
    if (da.ndigits == 0)
        return 1;
    for (p = da.first, q = db.first; p <= da.last; p++, q++) {
        if (*p == '.')
            p++;
        if (*q == '.')
            q++;
        if (*p != *q)
            return 0;
    }
    return 1;
}

int pv_decimal_is_number(const char *text)
{
    span_t d;

    return scan_cstr(text, &d) == 0;
}

int pv_decimal_positive(const char *text)
{
    span_t d;

    return scan_cstr(text, &d) == 0 && d.ndigits > 0 && !d.negative;
}

/* The digits of |d| aligned to the exponent |lo| (<= d->exponent), least
 * significant first, into |v| of |n| places (the rest zeros). -1 when they
 * do not fit. */
static int align(const pv_decimal_t *d, long lo, unsigned char *v, size_t n)
{
    long shift = d->exponent - lo;
    int i;

    memset(v, 0, n);
    if (d->ndigits == 0)
        return 0;
    if (shift < 0 || (size_t)shift + (size_t)d->ndigits > n)
        return -1;
    for (i = 0; i < d->ndigits; i++)
        v[(size_t)shift + (size_t)(d->ndigits - 1 - i)] =
            (unsigned char)(d->digits[i] - '0');
    return 0;
}

#define PV_DECIMAL_SUB_PLACES 96

int pv_decimal_subtract(const char *a, const char *b, char *out, size_t cap)
{
    pv_decimal_t da, db;
    unsigned char x[PV_DECIMAL_SUB_PLACES], y[PV_DECIMAL_SUB_PLACES];
    long lo;
    size_t i, top, o = 0;
    int borrow = 0;

    if (!a || !b || !out || cap < 2
        || pv_decimal_parse(a, strlen(a), &da)
        || pv_decimal_parse(b, strlen(b), &db) || da.negative || db.negative)
        return -1;
    lo = da.ndigits ? da.exponent : 0;
    if (db.ndigits && db.exponent < lo)
        lo = db.exponent;
    if (lo > 0)
        lo = 0;                 /* integers are written out in full */
    if (align(&da, lo, x, sizeof(x)) || align(&db, lo, y, sizeof(y)))
        return -1;
    for (i = 0; i < sizeof(x); i++) {
        int d = x[i] - y[i] - borrow;

        borrow = d < 0;
        x[i] = (unsigned char)(d < 0 ? d + 10 : d);
    }
    if (borrow)
        return -1;              /* b > a */
    /* written from the top, at least one digit before the point */
    for (top = sizeof(x); top > (size_t)-lo + 1 && x[top - 1] == 0; top--)
        ;
    for (i = top; i > 0; i--) {
        if (i == (size_t)-lo && i != top) {
            size_t k;           /* a fraction only if it is not all zeros */

            for (k = 0; k < i && x[k] == 0; k++)
                ;
            if (k == i)
                break;
            if (o + 1 >= cap)
                return -1;
            out[o++] = '.';
        }
        if (i <= (size_t)-lo) {
            size_t k;           /* trailing zeros of the fraction dropped */

            for (k = 0; k < i && x[k] == 0; k++)
                ;
            if (k == i)
                break;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)('0' + x[i - 1]);
    }
    out[o] = '\0';
    return 0;
}

int pv_decimal_plain(const char *text, int integer, char *buf, size_t cap)
{
    pv_decimal_t d;
    size_t n = 0;
    long i, intdigits;

    if (!text || pv_decimal_parse(text, strlen(text), &d) || d.negative
        || d.ndigits == 0)
        return -1;
    intdigits = d.ndigits + d.exponent;     /* digits before the point */
    if (integer && (d.exponent < 0 || intdigits > 18))
        return -1;
    /* at most PV_DECIMAL_MAX_TEXT characters, whatever the exponent */
    if ((intdigits > 0 ? intdigits : 1) + (d.exponent < 0 ? 1 - d.exponent : 0)
        > PV_DECIMAL_MAX_TEXT || (size_t)PV_DECIMAL_MAX_TEXT + 1 > cap)
        return -1;
    if (intdigits <= 0)
        buf[n++] = '0';
    for (i = 0; i < intdigits; i++)
        buf[n++] = i < d.ndigits ? d.digits[i] : '0';
    if (d.exponent < 0) {
        buf[n++] = '.';
        for (i = intdigits; i < d.ndigits; i++)
            buf[n++] = i < 0 ? '0' : d.digits[i];
    }
    buf[n] = '\0';
    return 0;
}
