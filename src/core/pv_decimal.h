/* Exact decimal comparison of payment amounts.
 *
 * Amounts arrive as JSON number text from PortOne ("10000", "10000.0",
 * "1e4") and as text from the shop's database ("10000.00"). Comparing them
 * through a double would make 0.1 + 0.2 style errors possible, so they are
 * compared digit by digit after normalisation. */
#ifndef PV_DECIMAL_H
#define PV_DECIMAL_H

#include <stddef.h>

/* Longest amount text pv_decimal_parse accepts, in bytes: PortOne's amounts
 * are checked with it, and a longer one is not the documented answer
 * (upstream_error, nothing recorded or stored). pv_decimal_equal and
 * pv_decimal_positive take text of any length: the order's amount comes
 * from the shop's own column and is compared exactly, so that a genuine
 * payment is never judged a forgery (and refunded) for a long text such as
 * "10000.000...0". */
#define PV_DECIMAL_MAX_TEXT 64

typedef struct {
    int negative;                       /* 0 for zero */
    int ndigits;                        /* 0 means the value is zero */
    char digits[PV_DECIMAL_MAX_TEXT];   /* significant digits, no leading or trailing zeros */
    long exponent;                      /* value = digits * 10^exponent */
} pv_decimal_t;

/* Parses [ws][+-]digits[.digits][(e|E)[+-]digits][ws] (or .5 / 5.), at most
 * PV_DECIMAL_MAX_TEXT bytes, an exponent of at most 400 in magnitude.
 * Returns 0 on success, -1 when the text is not such a number. */
int pv_decimal_parse(const char *text, size_t len, pv_decimal_t *out);

/* 1 when both texts (of any length) are decimal numbers of equal value; 0
 * otherwise (including when either is missing or not a number: never
 * equal). */
int pv_decimal_equal(const char *a, const char *b);

/* 1 when the text is a decimal number greater than zero. */
int pv_decimal_positive(const char *text);

/* 1 when the text (any length, NULL is not) is a decimal number
 * pv_decimal_equal compares. */
int pv_decimal_is_number(const char *text);

/* |a| - |b| as plain decimal text ("9000", "12.5", "0") in |out| of |cap|
 * bytes: what is left of a payment after its cancellations (V1's cancel
 * checksum). Both must parse (pv_decimal_parse) and |a| >= |b| >= 0. 0, or
 * -1 when they do not or the text does not fit. */
int pv_decimal_subtract(const char *a, const char *b, char *out, size_t cap);

/* The positive amount |text| (as pv_decimal_parse reads it) in plain
 * decimal, for PortOne: no sign, exponent, leading or trailing zeros
 * ("1e4" and " 10000.00 " give "10000", "0.50" gives "0.5"); with
 * |integer|, only a whole number below 10^18 (V2 amounts are int64). The
 * text in |buf| (|cap| bytes, room for PV_DECIMAL_MAX_TEXT + 1 is enough)
 * and 0; -1 when |text| is not such a number or does not fit. */
int pv_decimal_plain(const char *text, int integer, char *buf, size_t cap);

#endif
