/* pv_decimal: exact comparison of amounts (contract section 5). */
#include "check.h"

#include <apr_strings.h>

#include "pv_decimal.h"

/* Every pair of |forms| compares equal (each one with itself too). */
static void check_all_equal(const char *const *forms, size_t n,
                            const char *file, int line)
{
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            check_report(pv_decimal_equal(forms[i], forms[j]), file, line,
                         "pv_decimal_equal(\"%s\", \"%s\") should be 1",
                         forms[i], forms[j]);
}

TEST(decimal_equal_forms_of_ten_thousand)
{
    static const char *const forms[] = {
        "10000", "10000.0", "10000.00", "1e4", "1.0E4", "0010000", "1E+4",
        "+10000", "100e2", "0.1e5", "10000.", "100000e-1", "1000000E-2",
    };

    check_all_equal(forms, CHECK_COUNT(forms), __FILE__, __LINE__);
}

TEST(decimal_unequal_values)
{
    CHECK(!pv_decimal_equal("9999.99", "10000"));
    CHECK(!pv_decimal_equal("10000", "9999.99"));
    CHECK(!pv_decimal_equal("10000", "10000.01"));
    CHECK(!pv_decimal_equal("10000", "100000"));
    CHECK(!pv_decimal_equal("10000", "1000"));
    CHECK(!pv_decimal_equal("1e4", "1e5"));
    CHECK(!pv_decimal_equal("-1", "1"));
    CHECK(!pv_decimal_equal("1", "-1"));
    CHECK(!pv_decimal_equal("-10000", "10000"));
    CHECK(!pv_decimal_equal("0.1", "0.01"));
    CHECK(!pv_decimal_equal("12", "21"));
    CHECK(!pv_decimal_equal("1", "0"));
    CHECK(!pv_decimal_equal("0", "0.0000001"));
}

TEST(decimal_zero_forms)
{
    static const char *const forms[] = {
        "0", "-0", "+0", "0.00", "-0.00", "0e5", "000", ".0", "0.", "0E-3",
    };

    check_all_equal(forms, CHECK_COUNT(forms), __FILE__, __LINE__);
}

TEST(decimal_fractions)
{
    CHECK(pv_decimal_equal(".5", "0.5"));
    CHECK(pv_decimal_equal("5.", "5"));
    CHECK(pv_decimal_equal("0.50", "5e-1"));
    CHECK(pv_decimal_equal("10000.50", "10000.5"));
    CHECK(pv_decimal_equal("-1.5", "-15e-1"));
    CHECK(pv_decimal_equal("0.3", "0.30"));
    CHECK(!pv_decimal_equal("0.1", "0.10000000000000001"));
}

TEST(decimal_not_a_number_never_equal)
{
    static const char *const bad[] = {
        "", "abc", "1e", "1e+", "1e-", ".", "1.2.3", "NaN", "nan", "Infinity",
        "-Infinity", "inf", "0x10", "-", "+", "1 0", "1,000", "10000원",
        "1e4.5", "e4", "++1", "--1", "1..0", "1_000", "\t", " ",
    };
    static const char *const good[] = {"0", "1", "10000", "16"};
    size_t i, j;

    for (i = 0; i < CHECK_COUNT(bad); i++) {
        pv_decimal_t d;

        check_report(!pv_decimal_equal(bad[i], bad[i]), __FILE__, __LINE__,
                     "\"%s\" should not equal itself", bad[i]);
        check_report(pv_decimal_parse(bad[i], strlen(bad[i]), &d) == -1,
                     __FILE__, __LINE__, "\"%s\" should not parse", bad[i]);
        for (j = 0; j < CHECK_COUNT(good); j++) {
            check_report(!pv_decimal_equal(bad[i], good[j]), __FILE__,
                         __LINE__, "\"%s\" should not equal \"%s\"", bad[i],
                         good[j]);
            check_report(!pv_decimal_equal(good[j], bad[i]), __FILE__,
                         __LINE__, "\"%s\" should not equal \"%s\"", good[j],
                         bad[i]);
        }
    }
}

TEST(decimal_null_never_equal)
{
    pv_decimal_t d;

    CHECK(!pv_decimal_equal(NULL, NULL));
    CHECK(!pv_decimal_equal(NULL, "0"));
    CHECK(!pv_decimal_equal("0", NULL));
    CHECK(!pv_decimal_equal(NULL, ""));
    CHECK_INT_EQ(pv_decimal_parse(NULL, 0, &d), -1);
    CHECK_INT_EQ(pv_decimal_parse("1", 1, NULL), -1);
    CHECK(!pv_decimal_positive(NULL));
}

TEST(decimal_whitespace_around)
{
    CHECK(pv_decimal_equal(" 10000", "10000"));
    CHECK(pv_decimal_equal("10000 ", "10000"));
    CHECK(pv_decimal_equal("\t10000.00\r\n", "1e4"));
    CHECK(pv_decimal_equal("  1e4  ", " 10000.0 "));
    CHECK(!pv_decimal_equal("10 000", "10000"));
    CHECK(!pv_decimal_equal("- 1", "-1"));
    CHECK(!pv_decimal_equal("1 e4", "10000"));
}

TEST(decimal_parse_with_length)
{
    pv_decimal_t d;

    /* only |len| bytes are read: "12" of "1234" */
    CHECK_INT_EQ(pv_decimal_parse("1234", 2, &d), 0);
    CHECK_INT_EQ(d.ndigits, 2);
    CHECK(d.digits[0] == '1' && d.digits[1] == '2');
    CHECK_INT_EQ(d.exponent, 0);
    CHECK_INT_EQ(pv_decimal_parse("1234", 0, &d), -1);
}

TEST(decimal_normal_form)
{
    pv_decimal_t d;

    CHECK_INT_EQ(pv_decimal_parse("0010000.00", 10, &d), 0);
    CHECK_INT_EQ(d.negative, 0);
    CHECK_INT_EQ(d.ndigits, 1);
    CHECK(d.digits[0] == '1');
    CHECK_INT_EQ(d.exponent, 4);

    CHECK_INT_EQ(pv_decimal_parse("-12.340", 7, &d), 0);
    CHECK_INT_EQ(d.negative, 1);
    CHECK_INT_EQ(d.ndigits, 4);
    CHECK(!memcmp(d.digits, "1234", 4));
    CHECK_INT_EQ(d.exponent, -2);

    CHECK_INT_EQ(pv_decimal_parse("-0.000", 6, &d), 0);
    CHECK_INT_EQ(d.negative, 0);
    CHECK_INT_EQ(d.ndigits, 0);
}

TEST(decimal_length_limit)
{
    char t64[65], t65[66], s64[65];
    pv_decimal_t d;

    /* 64 bytes: "1" and 63 zeros = 1e63 */
    memset(t64, '0', 64);
    t64[0] = '1';
    t64[64] = '\0';
    CHECK_INT_EQ(PV_DECIMAL_MAX_TEXT, 64);
    CHECK_INT_EQ(pv_decimal_parse(t64, 64, &d), 0);
    CHECK(pv_decimal_equal(t64, "1e63"));

    /* 65 bytes: pv_decimal_parse (PortOne's amounts) refuses it, but the
     * comparison is exact at any length */
    memset(t65, '0', 65);
    t65[0] = '1';
    t65[65] = '\0';
    CHECK_INT_EQ(pv_decimal_parse(t65, 65, &d), -1);
    CHECK(pv_decimal_equal(t65, t65));
    CHECK(pv_decimal_equal(t65, "1e64"));
    CHECK(!pv_decimal_equal(t65, "1e63"));

    /* 65 bytes counting the blanks around it: refused by the parser too */
    memset(s64, ' ', 64);
    s64[64] = '\0';
    s64[30] = '5';
    CHECK_INT_EQ(pv_decimal_parse(s64, 64, &d), 0);
    CHECK(pv_decimal_equal(s64, "5"));
    {
        char s65[66];

        memcpy(s65, s64, 64);
        s65[64] = ' ';
        s65[65] = '\0';
        CHECK_INT_EQ(pv_decimal_parse(s65, 65, &d), -1);
        CHECK(pv_decimal_equal(s65, "5"));
    }
}

TEST(decimal_huge_exponent_refused)
{
    pv_decimal_t d;

    CHECK_INT_EQ(pv_decimal_parse("1e400", 5, &d), 0);
    CHECK_INT_EQ(pv_decimal_parse("1e-400", 6, &d), 0);
    CHECK_INT_EQ(pv_decimal_parse("1e401", 5, &d), -1);
    CHECK_INT_EQ(pv_decimal_parse("1e-401", 6, &d), -1);
    CHECK(!pv_decimal_equal("1e999999999999999999999", "1e999999999999999999999"));
    CHECK(!pv_decimal_equal("1e9223372036854775808", "1"));
    CHECK(!pv_decimal_equal("1e18446744073709551617", "1e1"));
    CHECK(!pv_decimal_equal("1e4294967300", "1e4"));
    CHECK(pv_decimal_equal("1e400", "10e399"));
    CHECK(!pv_decimal_equal("1e400", "1e399"));
}

TEST(decimal_positive)
{
    CHECK(pv_decimal_positive("1"));
    CHECK(pv_decimal_positive("0.01"));
    CHECK(pv_decimal_positive("1e-5"));
    CHECK(pv_decimal_positive(" 500 "));
    CHECK(pv_decimal_positive("+3"));
    CHECK(!pv_decimal_positive("0"));
    CHECK(!pv_decimal_positive("-0"));
    CHECK(!pv_decimal_positive("0.000"));
    CHECK(!pv_decimal_positive("-1"));
    CHECK(!pv_decimal_positive("-0.01"));
    CHECK(!pv_decimal_positive(""));
    CHECK(!pv_decimal_positive("abc"));
    CHECK(!pv_decimal_positive("NaN"));
    CHECK(!pv_decimal_positive("Infinity"));
    CHECK(!pv_decimal_positive(NULL));
}

/* Text longer than PV_DECIMAL_MAX_TEXT, as a shop's NUMERIC or TEXT column
 * may give it, compares exactly: cutting or refusing it would make a
 * genuine payment a forgery. */
TEST(decimal_long_text_compared_exactly)
{
    char zeros70[128], int70[80], int70b[80], frac[160], tiny[160];
    size_t i;

    /* "10000." and 70 zeros: 10000 */
    strcpy(zeros70, "10000.");
    memset(zeros70 + 6, '0', 70);
    zeros70[76] = '\0';
    CHECK(pv_decimal_equal(zeros70, "10000"));
    CHECK(pv_decimal_equal("10000", zeros70));
    CHECK(pv_decimal_equal(zeros70, "1e4"));
    CHECK(pv_decimal_equal(zeros70, zeros70));
    CHECK(!pv_decimal_equal(zeros70, "10000.01"));
    CHECK(!pv_decimal_equal(zeros70, "1000"));
    CHECK(pv_decimal_positive(zeros70));
    /* ... and a last digit that is not zero: not 10000 */
    zeros70[75] = '1';
    CHECK(!pv_decimal_equal(zeros70, "10000"));
    {
        char other[128];        /* 1, 73 zeros, 1, times 10^-70 */

        memset(other, '0', 75);
        other[0] = other[74] = '1';
        strcpy(other + 75, "e-70");
        CHECK(pv_decimal_equal(zeros70, other));
        other[73] = '1';
        CHECK(!pv_decimal_equal(zeros70, other));
    }

    /* a 70-digit integer: equal to itself and its other forms only */
    for (i = 0; i < 70; i++)
        int70[i] = (char)('1' + i % 9);
    int70[70] = '\0';
    CHECK(pv_decimal_equal(int70, int70));
    memcpy(int70b, int70, 71);
    CHECK(pv_decimal_equal(int70, apr_pstrcat(pool, "  +000", int70b, ".000 ",
                                              (char *)NULL)));
    int70b[69] = int70b[69] == '9' ? '8' : (char)(int70b[69] + 1);
    CHECK(!pv_decimal_equal(int70, int70b));
    int70b[69] = int70[69];
    int70b[0] = int70b[0] == '9' ? '8' : (char)(int70b[0] + 1);
    CHECK(!pv_decimal_equal(int70, int70b));
    CHECK(!pv_decimal_equal(int70, apr_pstrcat(pool, int70, "0", (char *)NULL)));
    CHECK(pv_decimal_equal(apr_pstrcat(pool, int70, "0", (char *)NULL),
                           apr_pstrcat(pool, int70, "e1", (char *)NULL)));
    CHECK(!pv_decimal_equal(int70, apr_pstrcat(pool, "-", int70, (char *)NULL)));
    /* 1 followed by 69 zeros is 1e69 */
    memset(int70b, '0', 70);
    int70b[0] = '1';
    int70b[70] = '\0';
    CHECK(pv_decimal_equal(int70b, "1e69"));
    CHECK(pv_decimal_equal(int70b, "1.0e69"));
    CHECK(!pv_decimal_equal(int70b, "1e70"));

    /* long fractions on both sides of the point */
    memcpy(frac, int70, 35);
    frac[35] = '.';
    memcpy(frac + 36, int70 + 35, 35);
    frac[71] = '\0';
    CHECK(pv_decimal_equal(frac, apr_pstrcat(pool, int70, "e-35", (char *)NULL)));
    CHECK(!pv_decimal_equal(frac, apr_pstrcat(pool, int70, "e-34", (char *)NULL)));
    CHECK(!pv_decimal_equal(frac, int70));
    /* 0.000...01 with 100 zeros after the point */
    strcpy(tiny, "0.");
    memset(tiny + 2, '0', 100);
    strcpy(tiny + 102, "1");
    CHECK(pv_decimal_equal(tiny, "1e-101"));
    CHECK(!pv_decimal_equal(tiny, "0"));
    CHECK(pv_decimal_positive(tiny));
    tiny[102] = '0';
    CHECK(pv_decimal_equal(tiny, "0"));
    CHECK(!pv_decimal_positive(tiny));
    /* not a number at any length */
    CHECK(!pv_decimal_equal(apr_pstrcat(pool, int70, "x", (char *)NULL),
                            apr_pstrcat(pool, int70, "x", (char *)NULL)));
    CHECK(!pv_decimal_equal(apr_pstrcat(pool, int70, ".", int70, ".", (char *)NULL),
                            "1"));
}
