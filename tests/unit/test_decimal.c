/* pv_decimal: exact comparison of amounts (contract section 5). */
#include "check.h"

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

    /* 65 bytes: refused, even with the same value */
    memset(t65, '0', 65);
    t65[0] = '1';
    t65[65] = '\0';
    CHECK_INT_EQ(pv_decimal_parse(t65, 65, &d), -1);
    CHECK(!pv_decimal_equal(t65, t65));
    CHECK(!pv_decimal_equal(t65, "1e64"));

    /* 65 bytes counting the blanks around it: refused too */
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
        CHECK(!pv_decimal_equal(s65, "5"));
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
