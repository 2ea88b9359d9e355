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

int pv_decimal_parse(const char *text, size_t len, pv_decimal_t *out)
{
    const char *p, *end;
    char raw[PV_DECIMAL_MAX_TEXT];
    int nraw = 0, seen_digit = 0, frac_digits = 0, i, first;
    long exp = 0;

    if (!out)
        return -1;
    memset(out, 0, sizeof(*out));
    if (!text || len > PV_DECIMAL_MAX_TEXT)
        return -1;
    p = text;
    end = text + len;
    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;

    if (p < end && (*p == '+' || *p == '-')) {
        out->negative = (*p == '-');
        p++;
    }
    for (; p < end && is_digit(*p); p++, seen_digit = 1)
        raw[nraw++] = *p;
    if (p < end && *p == '.') {
        for (p++; p < end && is_digit(*p); p++, seen_digit = 1, frac_digits++)
            raw[nraw++] = *p;
    }
    if (!seen_digit)
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

    /* Normalise: drop leading zeros, move trailing zeros into the exponent. */
    for (first = 0; first < nraw && raw[first] == '0'; first++)
        ;
    exp -= frac_digits;
    while (nraw > first && raw[nraw - 1] == '0') {
        nraw--;
        exp++;
    }
    if (nraw == first) {        /* zero: sign and exponent do not matter */
        out->negative = 0;
        return 0;
    }
    for (i = first; i < nraw; i++)
        out->digits[out->ndigits++] = raw[i];
    out->exponent = exp;
    return 0;
}

static int parse_cstr(const char *s, pv_decimal_t *d)
{
    return s ? pv_decimal_parse(s, strlen(s), d) : -1;
}

int pv_decimal_equal(const char *a, const char *b)
{
    pv_decimal_t da = {0}, db = {0};

    if (parse_cstr(a, &da) || parse_cstr(b, &db))
        return 0;
    return da.negative == db.negative && da.ndigits == db.ndigits
        && da.exponent == db.exponent
        && memcmp(da.digits, db.digits, (size_t)da.ndigits) == 0;
}

int pv_decimal_positive(const char *text)
{
    pv_decimal_t d = {0};

    return parse_cstr(text, &d) == 0 && d.ndigits > 0 && !d.negative;
}
