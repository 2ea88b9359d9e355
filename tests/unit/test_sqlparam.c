/* pv_sqlparam: named parameters rewritten for apr_dbd_prepare()
 * (contract section 4). */
#include "check.h"

#include <apr_strings.h>

#include "pv_sqlparam.h"

/* Runs |call| (a rewrite into st_) and expects success, the text |want|
 * and the parameters listed after it (the variadic arguments, none for a
 * statement without parameters). */
#define CHECK_SQL_(call, want, ...)                                         \
    do {                                                                    \
        static const pv_param_id want_ids_[] = {__VA_ARGS__};               \
        pv_sql_t st_;                                                       \
        const char *err_ = (call);                                          \
        size_t i_;                                                          \
                                                                            \
        CHECK_STR_EQ(err_, NULL);                                           \
        if (!err_) {                                                        \
            CHECK_STR_EQ(st_.sql, (want));                                  \
            CHECK_INT_EQ(st_.nparams, CHECK_COUNT(want_ids_) - 1);          \
            for (i_ = 0; i_ + 1 < CHECK_COUNT(want_ids_)                    \
                         && i_ < (size_t)st_.nparams; i_++)                 \
                CHECK_STR_EQ(pv_param_name(st_.params[i_]),                 \
                             pv_param_name(want_ids_[i_]));                 \
        }                                                                   \
    } while (0)

/* The dialect-blind rewrite, and each dialect's; the ...0 forms for a
 * statement without parameters. */
#define CHECK_REWRITE(text, internal, want, ...)                            \
    CHECK_SQL_(pv_sql_rewrite(pool, (text), (internal), &st_), want,        \
               __VA_ARGS__, PV_P_COUNT)
#define CHECK_REWRITE0(text, internal, want)                                \
    CHECK_SQL_(pv_sql_rewrite(pool, (text), (internal), &st_), want,        \
               PV_P_COUNT)
#define CHECK_DIALECT(dialect, text, want, ...)                             \
    CHECK_SQL_(pv_sql_rewrite_dialect(pool, (text), 0, (dialect), &st_),    \
               want, __VA_ARGS__, PV_P_COUNT)
#define CHECK_DIALECT0(dialect, text, want)                                 \
    CHECK_SQL_(pv_sql_rewrite_dialect(pool, (text), 0, (dialect), &st_),    \
               want, PV_P_COUNT)

TEST(sql_param_names)
{
    static const char *const names[] = {
        "merchant_uid", "imp_uid", "outcome", "status", "amount", "currency",
        "pay_method", "paid_at", "vbank_num", "vbank_name", "vbank_date",
        "cancel_amount", "response", "order_key", "api", "older_than",
    };
    size_t i;

    CHECK_INT_EQ(CHECK_COUNT(names), PV_P_COUNT);
    CHECK_INT_EQ(PV_P_ADMIN_COUNT, 11);
    for (i = 0; i < CHECK_COUNT(names); i++)
        CHECK_STR_EQ(pv_param_name((pv_param_id)i), names[i]);
    CHECK_STR_EQ(pv_param_name(PV_P_COUNT), "?");
    CHECK_STR_EQ(pv_param_name((pv_param_id)-1), "?");
}

TEST(sql_rewrite_order_query)
{
    CHECK_REWRITE("SELECT total_price FROM shop_orders WHERE order_no = :merchant_uid",
                  0, "SELECT total_price FROM shop_orders WHERE order_no = %s",
                  PV_P_MERCHANT_UID);
    CHECK_REWRITE("SELECT amount, currency FROM o WHERE id=:merchant_uid;", 0,
                  "SELECT amount, currency FROM o WHERE id=%s;",
                  PV_P_MERCHANT_UID);
    CHECK_REWRITE("SELECT a FROM o WHERE id=(:merchant_uid)", 0,
                  "SELECT a FROM o WHERE id=(%s)", PV_P_MERCHANT_UID);
    CHECK_REWRITE0("SELECT 1", 0, "SELECT 1");
    CHECK_REWRITE0("", 0, "");
}

TEST(sql_rewrite_update_query)
{
    CHECK_REWRITE("UPDATE shop_orders SET state = :outcome, paid_imp_uid = :imp_uid "
                  "WHERE order_no = :merchant_uid",
                  0,
                  "UPDATE shop_orders SET state = %s, paid_imp_uid = %s "
                  "WHERE order_no = %s",
                  PV_P_OUTCOME, PV_P_IMP_UID, PV_P_MERCHANT_UID);
    CHECK_REWRITE("UPDATE o SET s=:status,a=:amount,c=:currency,m=:pay_method,"
                  "p=:paid_at,n=:vbank_num,b=:vbank_name,d=:vbank_date "
                  "WHERE id=:merchant_uid",
                  0,
                  "UPDATE o SET s=%s,a=%s,c=%s,m=%s,p=%s,n=%s,b=%s,d=%s "
                  "WHERE id=%s",
                  PV_P_STATUS, PV_P_AMOUNT, PV_P_CURRENCY, PV_P_PAY_METHOD,
                  PV_P_PAID_AT, PV_P_VBANK_NUM, PV_P_VBANK_NAME,
                  PV_P_VBANK_DATE, PV_P_MERCHANT_UID);
}

TEST(sql_rewrite_repeated_parameter)
{
    CHECK_REWRITE("SELECT :merchant_uid, :imp_uid, :merchant_uid", 0,
                  "SELECT %s, %s, %s",
                  PV_P_MERCHANT_UID, PV_P_IMP_UID, PV_P_MERCHANT_UID);
    CHECK_REWRITE("SELECT :imp_uid||:imp_uid", 0, "SELECT %s||%s",
                  PV_P_IMP_UID, PV_P_IMP_UID);
}

TEST(sql_rewrite_casts_untouched)
{
    CHECK_REWRITE("SELECT total::text FROM o WHERE id = :merchant_uid::text",
                  0, "SELECT total::text FROM o WHERE id = %s::text",
                  PV_P_MERCHANT_UID);
    CHECK_REWRITE("SELECT amount::numeric(12,2) FROM o WHERE id=:merchant_uid",
                  0, "SELECT amount::numeric(12,2) FROM o WHERE id=%s",
                  PV_P_MERCHANT_UID);
    CHECK_REWRITE0("SELECT '1'::int", 0, "SELECT '1'::int");
    CHECK_REWRITE0("SELECT x ::merchant_uid", 0, "SELECT x ::merchant_uid");
}

TEST(sql_rewrite_literals_untouched)
{
    CHECK_REWRITE("SELECT a FROM o WHERE n = ':merchant_uid' AND id = :merchant_uid",
                  0, "SELECT a FROM o WHERE n = ':merchant_uid' AND id = %s",
                  PV_P_MERCHANT_UID);
    /* '' is an escaped quote: the literal goes on */
    CHECK_REWRITE("SELECT 'it''s :foo' || :imp_uid", 0,
                  "SELECT 'it''s :foo' || %s", PV_P_IMP_UID);
    CHECK_REWRITE("SELECT '''' , ':x''' , :imp_uid", 0,
                  "SELECT '''' , ':x''' , %s", PV_P_IMP_UID);
    CHECK_REWRITE0("SELECT '12:30:00'", 0, "SELECT '12:30:00'");
    /* an unterminated literal swallows the rest */
    CHECK_REWRITE0("SELECT ':foo", 0, "SELECT ':foo");
}

TEST(sql_rewrite_identifiers_untouched)
{
    CHECK_REWRITE("SELECT \"weird:foo\" FROM \"t\"\"x:y\" WHERE id = :merchant_uid",
                  0, "SELECT \"weird:foo\" FROM \"t\"\"x:y\" WHERE id = %s",
                  PV_P_MERCHANT_UID);
}

TEST(sql_rewrite_comments_untouched)
{
    CHECK_REWRITE("SELECT a -- by :foo\nFROM o WHERE id = :merchant_uid", 0,
                  "SELECT a -- by :foo\nFROM o WHERE id = %s",
                  PV_P_MERCHANT_UID);
    CHECK_REWRITE("SELECT a /* :foo ' \" -- */ FROM o WHERE id = :merchant_uid",
                  0, "SELECT a /* :foo ' \" -- */ FROM o WHERE id = %s",
                  PV_P_MERCHANT_UID);
    CHECK_REWRITE0("SELECT 1 -- :foo at the end", 0,
                   "SELECT 1 -- :foo at the end");
    CHECK_REWRITE0("SELECT 1 /* :foo never closed", 0,
                   "SELECT 1 /* :foo never closed");
    /* a quote inside a comment opens nothing */
    CHECK_REWRITE("SELECT a -- it's\nFROM o WHERE id = :merchant_uid", 0,
                  "SELECT a -- it's\nFROM o WHERE id = %s",
                  PV_P_MERCHANT_UID);
}

TEST(sql_rewrite_percent_doubled)
{
    CHECK_REWRITE("SELECT a FROM o WHERE n LIKE '%x' AND id = :merchant_uid", 0,
                  "SELECT a FROM o WHERE n LIKE '%%x' AND id = %s",
                  PV_P_MERCHANT_UID);
    CHECK_REWRITE0("SELECT 10 % 3", 0, "SELECT 10 %% 3");
    CHECK_REWRITE0("SELECT '%s%d'", 0, "SELECT '%%s%%d'");
    CHECK_REWRITE0("SELECT \"a%b\"", 0, "SELECT \"a%%b\"");
    CHECK_REWRITE0("SELECT 1 -- 100%\n", 0, "SELECT 1 -- 100%%\n");
    CHECK_REWRITE0("SELECT 1 /* 5% */", 0, "SELECT 1 /* 5%% */");
    CHECK_REWRITE0("%%", 0, "%%%%");
}

TEST(sql_rewrite_unknown_parameter)
{
    static const char *const cases[][2] = {
        {"SELECT a FROM o WHERE id = :foo", ":foo"},
        {"SELECT a FROM o WHERE id = :merchant_uidx", ":merchant_uidx"},
        {"SELECT a FROM o WHERE id = :merchant", ":merchant"},
        {"SELECT :imp_uid, :Merchant_UID", ":Merchant_UID"},
        {"SELECT :foo::text", ":foo"},
    };
    size_t i;

    for (i = 0; i < CHECK_COUNT(cases); i++) {
        pv_sql_t st;
        const char *err = pv_sql_rewrite(pool, cases[i][0], 0, &st);

        check_report(err != NULL, __FILE__, __LINE__,
                     "\"%s\" should be refused", cases[i][0]);
        if (err) {
            const char *at = strstr(err, cases[i][1]);

            CHECK_STR_HAS(err, cases[i][1]);
            /* the message names the parameter itself, not a longer one */
            check_report(at && at[strlen(cases[i][1])] != '_',
                         __FILE__, __LINE__, "\"%s\" names a longer name",
                         err);
        }
    }
}

TEST(sql_rewrite_internal_only_names)
{
    static const char *const internal_names[] = {
        "cancel_amount", "response", "order_key", "api",
    };
    size_t i;

    for (i = 0; i < CHECK_COUNT(internal_names); i++) {
        char *sql = apr_pstrcat(pool, "INSERT INTO t VALUES (:imp_uid, :",
                                internal_names[i], ")", NULL);
        char *want = apr_pstrcat(pool, ":", internal_names[i], NULL);
        pv_sql_t st;
        const char *err = pv_sql_rewrite(pool, sql, 0, &st);

        check_report(err != NULL, __FILE__, __LINE__,
                     "\"%s\" should be refused in the admin's SQL", sql);
        CHECK_STR_HAS(err, want);
        err = pv_sql_rewrite(pool, sql, 1, &st);
        CHECK_STR_EQ(err, NULL);
        if (!err) {
            CHECK_STR_EQ(st.sql, "INSERT INTO t VALUES (%s, %s)");
            CHECK_INT_EQ(st.nparams, 2);
            CHECK_INT_EQ(st.params[0], PV_P_IMP_UID);
            CHECK_INT_EQ(st.params[1], PV_P_CANCEL_AMOUNT + (int)i);
        }
    }
    /* the admin's names are there for the module's own statements too */
    CHECK_REWRITE("UPDATE p SET o=:outcome, r=:response, k=:order_key "
                  "WHERE i=:imp_uid AND c=:cancel_amount", 1,
                  "UPDATE p SET o=%s, r=%s, k=%s WHERE i=%s AND c=%s",
                  PV_P_OUTCOME, PV_P_RESPONSE, PV_P_ORDER_KEY, PV_P_IMP_UID,
                  PV_P_CANCEL_AMOUNT);
    /* unknown names stay unknown for the module's own statements */
    {
        pv_sql_t st;

        CHECK_STR_HAS(pv_sql_rewrite(pool, "SELECT :bogus", 1, &st), ":bogus");
    }
}

TEST(sql_rewrite_colon_not_a_parameter)
{
    /* a colon not followed by a name character is plain text */
    CHECK_REWRITE0("SELECT a := 1", 0, "SELECT a := 1");
    CHECK_REWRITE0("SELECT 1 :", 0, "SELECT 1 :");
    CHECK_REWRITE0("SELECT : merchant_uid", 0, "SELECT : merchant_uid");
}

TEST(sql_rewrite_too_many_parameters)
{
    char *sql = "SELECT 1";
    pv_sql_t st;
    const char *err;
    int i;

    for (i = 0; i < PV_SQL_MAX_PARAMS; i++)
        sql = apr_pstrcat(pool, sql, ", :imp_uid", NULL);
    CHECK_STR_EQ(pv_sql_rewrite(pool, sql, 0, &st), NULL);
    CHECK_INT_EQ(st.nparams, PV_SQL_MAX_PARAMS);
    sql = apr_pstrcat(pool, sql, ", :imp_uid", NULL);
    err = pv_sql_rewrite(pool, sql, 0, &st);
    CHECK(err != NULL);
}

TEST(sql_bind_order)
{
    const char *values[PV_P_COUNT] = {0};
    const char *args[PV_SQL_MAX_PARAMS];
    pv_sql_t st;
    const char *err;

    values[PV_P_MERCHANT_UID] = "order-1";
    values[PV_P_IMP_UID] = "imp_1";
    values[PV_P_OUTCOME] = "paid";
    values[PV_P_AMOUNT] = "10000";
    values[PV_P_RESPONSE] = "{}";
    err = pv_sql_rewrite(pool, "UPDATE o SET s=:outcome, i=:imp_uid, a=:amount, "
                         "m=:pay_method WHERE id=:merchant_uid OR alt=:imp_uid",
                         0, &st);
    CHECK_STR_EQ(err, NULL);
    CHECK_INT_EQ(st.nparams, 6);
    pv_sql_bind(&st, values, args);
    CHECK_STR_EQ(args[0], "paid");
    CHECK_STR_EQ(args[1], "imp_1");
    CHECK_STR_EQ(args[2], "10000");
    CHECK_STR_EQ(args[3], NULL);        /* pay_method: no value */
    CHECK_STR_EQ(args[4], "order-1");
    CHECK_STR_EQ(args[5], "imp_1");

    err = pv_sql_rewrite(pool, "INSERT INTO p VALUES (:response, :merchant_uid)",
                         1, &st);
    CHECK_STR_EQ(err, NULL);
    pv_sql_bind(&st, values, args);
    CHECK_STR_EQ(args[0], "{}");
    CHECK_STR_EQ(args[1], "order-1");
}

/* ---- per dialect (pv_sql_rewrite_dialect) ---- */

/* |text| in |dialect| is refused, the message naming |name|: there, the
 * construct is not text and the :name in it is read as a parameter. */
#define CHECK_DIALECT_REFUSES(dialect, text, name)                          \
    do {                                                                    \
        pv_sql_t st_;                                                       \
        const char *err_ = pv_sql_rewrite_dialect(pool, (text), 0,          \
                                                  (dialect), &st_);         \
                                                                            \
        CHECK_STR_HAS(err_, (name));                                        \
    } while (0)

static const pv_sql_dialect all_dialects[] = {
    PV_SQL_SQLITE, PV_SQL_PGSQL, PV_SQL_MYSQL,
};

TEST(sql_dialect_of_driver_names)
{
    CHECK_INT_EQ(pv_sql_dialect_of("sqlite3"), PV_SQL_SQLITE);
    CHECK_INT_EQ(pv_sql_dialect_of("pgsql"), PV_SQL_PGSQL);
    CHECK_INT_EQ(pv_sql_dialect_of("mysql"), PV_SQL_MYSQL);
    CHECK_INT_EQ(PV_SQL_UNKNOWN, -1);
    CHECK_INT_EQ(pv_sql_dialect_of("sqlite2"), PV_SQL_UNKNOWN);
    CHECK_INT_EQ(pv_sql_dialect_of("odbc"), PV_SQL_UNKNOWN);
    CHECK_INT_EQ(pv_sql_dialect_of("PGSQL"), PV_SQL_UNKNOWN);
    CHECK_INT_EQ(pv_sql_dialect_of("pgsql "), PV_SQL_UNKNOWN);
    CHECK_INT_EQ(pv_sql_dialect_of(""), PV_SQL_UNKNOWN);
    CHECK_INT_EQ(pv_sql_dialect_of(NULL), PV_SQL_UNKNOWN);
}

TEST(sql_dialect_unknown_refused)
{
    pv_sql_t st;

    CHECK(pv_sql_rewrite_dialect(pool, "SELECT :imp_uid", 0, PV_SQL_UNKNOWN,
                                 &st) != NULL);
    CHECK(pv_sql_rewrite_dialect(pool, "SELECT :imp_uid", 0,
                                 (pv_sql_dialect)3, &st) != NULL);
}

/* What every dialect shares behaves as pv_sql_rewrite always did. */
TEST(sql_dialect_common_constructs)
{
    size_t i;

    for (i = 0; i < CHECK_COUNT(all_dialects); i++) {
        pv_sql_dialect d = all_dialects[i];

        CHECK_DIALECT(d, "SELECT total_price FROM o WHERE id = :merchant_uid",
                      "SELECT total_price FROM o WHERE id = %s",
                      PV_P_MERCHANT_UID);
        CHECK_DIALECT(d, "SELECT 'it''s :foo' || :imp_uid",
                      "SELECT 'it''s :foo' || %s", PV_P_IMP_UID);
        CHECK_DIALECT(d, "SELECT \"a\"\":foo\" FROM t WHERE i = :imp_uid",
                      "SELECT \"a\"\":foo\" FROM t WHERE i = %s", PV_P_IMP_UID);
        CHECK_DIALECT(d, "SELECT a -- :foo\nFROM o WHERE i = :imp_uid",
                      "SELECT a -- :foo\nFROM o WHERE i = %s", PV_P_IMP_UID);
        CHECK_DIALECT(d, "SELECT a /* :foo ' */ FROM o WHERE i = :imp_uid",
                      "SELECT a /* :foo ' */ FROM o WHERE i = %s",
                      PV_P_IMP_UID);
        CHECK_DIALECT(d, "SELECT a::text FROM o WHERE i = :imp_uid::text",
                      "SELECT a::text FROM o WHERE i = %s::text",
                      PV_P_IMP_UID);
        CHECK_DIALECT0(d, "SELECT 10 % 3, '5%', \"a%\" -- 1%\n /* % */",
                       "SELECT 10 %% 3, '5%%', \"a%%\" -- 1%%\n /* %% */");
        CHECK_DIALECT0(d, "SELECT ':foo", "SELECT ':foo");
        CHECK_DIALECT0(d, "", "");
        CHECK_DIALECT_REFUSES(d, "SELECT :foo", ":foo");
        {
            pv_sql_t st;

            CHECK_STR_HAS(pv_sql_rewrite_dialect(pool, "SELECT :response", 0,
                                                 d, &st), ":response");
            CHECK_STR_EQ(pv_sql_rewrite_dialect(pool, "SELECT :response", 1,
                                                d, &st), NULL);
        }
    }
}

TEST(sql_mysql_backslash_escapes)
{
    /* 'it\'s :x' is one string in MySQL */
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT 'it\\'s :foo' , :imp_uid",
                  "SELECT 'it\\'s :foo' , %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT \"say \\\":foo\\\"\" , :imp_uid",
                  "SELECT \"say \\\":foo\\\"\" , %s", PV_P_IMP_UID);
    /* an escaped backslash does not escape the quote after it */
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT 'C:\\\\', :imp_uid",
                  "SELECT 'C:\\\\', %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT 'a\\%b', :imp_uid",
                  "SELECT 'a\\%%b', %s", PV_P_IMP_UID);
    /* a backslash at the very end */
    CHECK_DIALECT0(PV_SQL_MYSQL, "SELECT ':foo\\", "SELECT ':foo\\");
    /* elsewhere a backslash is a character: the string ends at \' */
    CHECK_DIALECT_REFUSES(PV_SQL_SQLITE, "SELECT 'it\\'s :foo'", ":foo");
    CHECK_DIALECT_REFUSES(PV_SQL_PGSQL, "SELECT 'it\\'s :foo'", ":foo");
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT '\\', :imp_uid",
                  "SELECT '\\', %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_SQLITE, "SELECT \"\\\", :imp_uid",
                  "SELECT \"\\\", %s", PV_P_IMP_UID);
}

TEST(sql_mysql_hash_comments)
{
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT a # by :foo, it's\nFROM o WHERE i = :imp_uid",
                  "SELECT a # by :foo, it's\nFROM o WHERE i = %s",
                  PV_P_IMP_UID);
    CHECK_DIALECT0(PV_SQL_MYSQL, "SELECT 1 # 100% :foo",
                   "SELECT 1 # 100%% :foo");
    /* # is an operator in PostgreSQL, nothing in SQLite */
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT 5 # :imp_uid", "SELECT 5 # %s",
                  PV_P_IMP_UID);
    CHECK_DIALECT_REFUSES(PV_SQL_PGSQL, "SELECT a # :foo\n", ":foo");
    CHECK_DIALECT_REFUSES(PV_SQL_SQLITE, "SELECT a # :foo\n", ":foo");
}

TEST(sql_mysql_double_dash)
{
    /* MySQL: "--" starts a comment only before a blank or control char */
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT 1--:imp_uid", "SELECT 1--%s",
                  PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT 1 ---:imp_uid", "SELECT 1 ---%s",
                  PV_P_IMP_UID);
    CHECK_DIALECT0(PV_SQL_MYSQL, "SELECT 1 -- :foo", "SELECT 1 -- :foo");
    CHECK_DIALECT0(PV_SQL_MYSQL, "SELECT 1 --\t:foo", "SELECT 1 --\t:foo");
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT 1 --\n, :imp_uid",
                  "SELECT 1 --\n, %s", PV_P_IMP_UID);
    CHECK_DIALECT0(PV_SQL_MYSQL, "SELECT 1 --", "SELECT 1 --");
    /* the others: any "--" */
    CHECK_DIALECT0(PV_SQL_SQLITE, "SELECT 1--:foo", "SELECT 1--:foo");
    CHECK_DIALECT0(PV_SQL_PGSQL, "SELECT 1--:foo", "SELECT 1--:foo");
}

TEST(sql_backtick_identifiers)
{
    static const pv_sql_dialect with[] = {PV_SQL_MYSQL, PV_SQL_SQLITE};
    size_t i;

    for (i = 0; i < CHECK_COUNT(with); i++) {
        CHECK_DIALECT(with[i], "SELECT `weird:foo` FROM `t``:x` WHERE i = :imp_uid",
                      "SELECT `weird:foo` FROM `t``:x` WHERE i = %s",
                      PV_P_IMP_UID);
        /* no backslash escape inside backticks */
        CHECK_DIALECT(with[i], "SELECT `a\\`, :imp_uid", "SELECT `a\\`, %s",
                      PV_P_IMP_UID);
        CHECK_DIALECT0(with[i], "SELECT `5%:foo", "SELECT `5%%:foo");
        /* a quote inside opens nothing */
        CHECK_DIALECT(with[i], "SELECT `it's` FROM t WHERE i = :imp_uid",
                      "SELECT `it's` FROM t WHERE i = %s", PV_P_IMP_UID);
    }
    CHECK_DIALECT_REFUSES(PV_SQL_PGSQL, "SELECT `weird:foo` FROM t", ":foo");
}

TEST(sql_sqlite_bracket_identifiers)
{
    CHECK_DIALECT(PV_SQL_SQLITE, "SELECT [weird:foo] FROM [a's] WHERE i = :imp_uid",
                  "SELECT [weird:foo] FROM [a's] WHERE i = %s",
                  PV_P_IMP_UID);
    /* "]]" is no escape: the identifier ends at the first ] */
    CHECK_DIALECT(PV_SQL_SQLITE, "SELECT [a]]:imp_uid", "SELECT [a]]%s",
                  PV_P_IMP_UID);
    CHECK_DIALECT0(PV_SQL_SQLITE, "SELECT [:merchant_uid]",
                   "SELECT [:merchant_uid]");
    CHECK_DIALECT0(PV_SQL_SQLITE, "SELECT [100%", "SELECT [100%%");
    /* elsewhere [ is an array subscript */
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT a[1:2], b[:imp_uid]",
                  "SELECT a[1:2], b[%s]", PV_P_IMP_UID);
    CHECK_DIALECT_REFUSES(PV_SQL_MYSQL, "SELECT [weird:foo]", ":foo");
}

TEST(sql_pgsql_dollar_quotes)
{
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT $$it's :foo$$, :imp_uid",
                  "SELECT $$it's :foo$$, %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_PGSQL,
                  "SELECT $fn$ $$ :foo $x$ 'it $fn$ || :imp_uid",
                  "SELECT $fn$ $$ :foo $x$ 'it $fn$ || %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT $_1$:a$_1$||:imp_uid",
                  "SELECT $_1$:a$_1$||%s", PV_P_IMP_UID);
    CHECK_DIALECT0(PV_SQL_PGSQL, "SELECT $$50%$$", "SELECT $$50%%$$");
    CHECK_DIALECT0(PV_SQL_PGSQL, "SELECT $q$ :foo never closed",
                   "SELECT $q$ :foo never closed");
    /* tags are case-sensitive */
    CHECK_DIALECT0(PV_SQL_PGSQL, "SELECT $a$ :foo $A$ :bar $a$",
                   "SELECT $a$ :foo $A$ :bar $a$");
    /* $1 is a positional parameter, not a tag; in a name, $ is a letter */
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT $1$, :imp_uid", "SELECT $1$, %s",
                  PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT a$$ + :imp_uid + b$$",
                  "SELECT a$$ + %s + b$$", PV_P_IMP_UID);
    /* $$ means nothing in MySQL and SQLite */
    CHECK_DIALECT_REFUSES(PV_SQL_MYSQL, "SELECT $$ :foo $$", ":foo");
    CHECK_DIALECT_REFUSES(PV_SQL_SQLITE, "SELECT $$ :foo $$", ":foo");
}

TEST(sql_pgsql_e_strings)
{
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT E'it\\'s :foo', :imp_uid",
                  "SELECT E'it\\'s :foo', %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT e'\\\\', :imp_uid",
                  "SELECT e'\\\\', %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT E'a''b\\'c :foo' || :imp_uid",
                  "SELECT E'a''b\\'c :foo' || %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT (E'\\'%:x')||:imp_uid",
                  "SELECT (E'\\'%%:x')||%s", PV_P_IMP_UID);
    /* the E of a longer name is no prefix: 'x\' is a standard string */
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT typE'x\\' = :imp_uid",
                  "SELECT typE'x\\' = %s", PV_P_IMP_UID);
    /* MySQL reads E'..' as E then a string with its own escapes */
    CHECK_DIALECT(PV_SQL_MYSQL, "SELECT E'\\':foo', :imp_uid",
                  "SELECT E'\\':foo', %s", PV_P_IMP_UID);
    CHECK_DIALECT_REFUSES(PV_SQL_SQLITE, "SELECT E'\\' :foo '", ":foo");
}

TEST(sql_pgsql_nested_comments)
{
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT /* a /* :foo */ :bar */ :imp_uid",
                  "SELECT /* a /* :foo */ :bar */ %s", PV_P_IMP_UID);
    CHECK_DIALECT0(PV_SQL_PGSQL, "SELECT 1 /* /* */ :foo", "SELECT 1 /* /* */ :foo");
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT 1 /**/ + :imp_uid",
                  "SELECT 1 /**/ + %s", PV_P_IMP_UID);
    CHECK_DIALECT(PV_SQL_PGSQL, "SELECT 1 /*/ :x */ + :imp_uid",
                  "SELECT 1 /*/ :x */ + %s", PV_P_IMP_UID);
    CHECK_DIALECT_REFUSES(PV_SQL_SQLITE, "SELECT /* a /* b */ :bar */ 1", ":bar");
    CHECK_DIALECT_REFUSES(PV_SQL_MYSQL, "SELECT /* a /* b */ :bar */ 1", ":bar");
}

/* pv_sql_rewrite keeps the dialect-blind behaviour it always had */
TEST(sql_rewrite_without_dialect_unchanged)
{
    CHECK_REWRITE("SELECT `a` # :imp_uid", 0, "SELECT `a` # %s", PV_P_IMP_UID);
    CHECK_REWRITE("SELECT $$ :imp_uid $$", 0, "SELECT $$ %s $$", PV_P_IMP_UID);
    CHECK_REWRITE("SELECT [:imp_uid]", 0, "SELECT [%s]", PV_P_IMP_UID);
    CHECK_REWRITE("SELECT 1--\n:imp_uid", 0, "SELECT 1--\n%s", PV_P_IMP_UID);
    CHECK_REWRITE("SELECT /* /* */ :imp_uid */", 0, "SELECT /* /* */ %s */",
                  PV_P_IMP_UID);
    CHECK_REWRITE("SELECT 'a\\', :imp_uid", 0, "SELECT 'a\\', %s",
                  PV_P_IMP_UID);
}
