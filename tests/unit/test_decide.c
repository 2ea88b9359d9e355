/* pv_decide, pv_outcome_lookup and pv_err_lookup: contract section 5's
 * outcome and error tables, section 6's event and order rules. */
#include "check.h"

#include "pv_decide.h"
#include "pv_error.h"

/* A paid KRW 10000 payment for order-1, as pv_portone would give it. */
static pv_payment_t pay_of(pv_status status, const char *status_text)
{
    pv_payment_t p;

    memset(&p, 0, sizeof(p));
    p.imp_uid = "imp_1";
    p.merchant_uid = "order-1";
    p.status_text = status_text;
    p.status = status;
    p.amount = "10000";
    p.cancel_amount = "0";
    p.currency = "KRW";
    p.pay_method = "card";
    p.paid_at = "1700000000";
    p.sandbox = 0;
    p.response_json = "{}";
    return p;
}

static const pv_order_t order_krw = {"10000.00", "KRW"};

static pv_decision_t decide(const pv_payment_t *p, const pv_order_t *o,
                            int sandbox_allowed, const char *claimed)
{
    pv_decision_t d;

    memset(&d, 0x5a, sizeof(d));    /* every field must be set */
    pv_decide(p, o, sandbox_allowed, claimed, &d);
    return d;
}

/* The checks pass: the outcome follows the status, no reason, no mismatch. */
static void check_pass(const pv_payment_t *p, const pv_order_t *o,
                       pv_outcome want, const char *file, int line)
{
    pv_decision_t d = decide(p, o, 0, p->merchant_uid);

    check_report(d.outcome == want && d.reason == NULL && !d.claim_mismatch,
                 file, line, "status %s amount %s vbank_num %s: outcome %d "
                 "reason \"%s\" mismatch %d, want outcome %d",
                 p->status_text, p->amount,
                 p->vbank_num ? p->vbank_num : "(null)", (int)d.outcome,
                 d.reason ? d.reason : "(null)", d.claim_mismatch, (int)want);
}

/* The checks fail: a forgery with a reason. */
static void check_forgery(const pv_payment_t *p, const pv_order_t *o,
                          int sandbox_allowed, const char *file, int line)
{
    pv_decision_t d = decide(p, o, sandbox_allowed, p->merchant_uid);

    check_report(d.outcome == PV_OUT_FORGERY && d.reason && *d.reason
                 && !d.claim_mismatch, file, line,
                 "status %s amount %s/%s currency %s/%s sandbox %d/%d: "
                 "outcome %d reason \"%s\", want forgery with a reason",
                 p->status_text, p->amount ? p->amount : "(null)",
                 o->amount ? o->amount : "(null)",
                 p->currency ? p->currency : "(null)",
                 o->currency ? o->currency : "(null)", p->sandbox,
                 sandbox_allowed, (int)d.outcome,
                 d.reason ? d.reason : "(null)");
}

#define PASS(p, o, want) check_pass(p, o, want, __FILE__, __LINE__)
#define FORGERY(p, o, sb) check_forgery(p, o, sb, __FILE__, __LINE__)

TEST(decide_paid)
{
    pv_payment_t p = pay_of(PV_STATUS_PAID, "paid");
    pv_order_t o = {"10000", "KRW"};

    PASS(&p, &order_krw, PV_OUT_PAID);
    PASS(&p, &o, PV_OUT_PAID);
    o.amount = "1e4";
    PASS(&p, &o, PV_OUT_PAID);
    o.amount = "10000.0";
    PASS(&p, &o, PV_OUT_PAID);
    p.amount = "10000.50";
    o.amount = "10000.5";
    PASS(&p, &o, PV_OUT_PAID);
}

TEST(decide_partial_cancellation_is_paid)
{
    pv_payment_t p = pay_of(PV_STATUS_PAID, "paid");

    p.cancel_amount = "3000";
    PASS(&p, &order_krw, PV_OUT_PAID);
}

TEST(decide_ready)
{
    pv_payment_t p = pay_of(PV_STATUS_READY, "ready");

    p.pay_method = "vbank";
    p.paid_at = "0";
    p.vbank_num = "T123-456";
    p.vbank_name = "국민은행";
    p.vbank_date = "1700086400";
    PASS(&p, &order_krw, PV_OUT_VBANK_ISSUED);
    p.vbank_num = NULL;
    PASS(&p, &order_krw, PV_OUT_PENDING);
    p.vbank_num = "";
    PASS(&p, &order_krw, PV_OUT_PENDING);
}

TEST(decide_cancelled_and_failed)
{
    pv_payment_t p = pay_of(PV_STATUS_CANCELLED, "cancelled");

    p.cancel_amount = "10000";
    PASS(&p, &order_krw, PV_OUT_CANCELLED);
    p = pay_of(PV_STATUS_FAILED, "failed");
    PASS(&p, &order_krw, PV_OUT_FAILED);
}

TEST(decide_amount_mismatch_is_forgery_whatever_the_status)
{
    static const struct {
        pv_status status;
        const char *text;
        const char *vbank_num;
    } statuses[] = {
        {PV_STATUS_PAID, "paid", NULL},
        {PV_STATUS_READY, "ready", "T123-456"},
        {PV_STATUS_READY, "ready", NULL},
        {PV_STATUS_CANCELLED, "cancelled", NULL},
        {PV_STATUS_FAILED, "failed", NULL},
    };
    static const char *const wrong[] = {
        "9999.99", "10000.01", "100", "1000000", "-10000", "0", "1e5",
    };
    size_t i, j;

    for (i = 0; i < CHECK_COUNT(statuses); i++) {
        pv_payment_t p = pay_of(statuses[i].status, statuses[i].text);
        pv_order_t o = order_krw;

        p.vbank_num = statuses[i].vbank_num;
        for (j = 0; j < CHECK_COUNT(wrong); j++) {
            p.amount = wrong[j];
            FORGERY(&p, &o, 0);
            FORGERY(&p, &o, 1);
        }
        /* a missing or non-numeric amount, on either side, is never equal */
        p.amount = "10000";
        o.amount = NULL;
        FORGERY(&p, &o, 0);
        o.amount = "";
        FORGERY(&p, &o, 0);
        o.amount = "ten thousand";
        FORGERY(&p, &o, 0);
        o.amount = "10000 KRW";
        FORGERY(&p, &o, 0);
        o.amount = "10000";
        p.amount = NULL;
        FORGERY(&p, &o, 0);
        p.amount = "NaN";
        FORGERY(&p, &o, 0);
    }
}

TEST(decide_currency)
{
    pv_payment_t p = pay_of(PV_STATUS_PAID, "paid");
    pv_order_t o = {"10000", "USD"};

    FORGERY(&p, &o, 0);
    p = pay_of(PV_STATUS_CANCELLED, "cancelled");
    FORGERY(&p, &o, 0);
    /* the order's currency NULL: not compared */
    o.currency = NULL;
    p = pay_of(PV_STATUS_PAID, "paid");
    p.currency = "USD";
    PASS(&p, &o, PV_OUT_PAID);
    p.currency = NULL;
    PASS(&p, &o, PV_OUT_PAID);
    /* the order has one, PortOne none */
    o.currency = "KRW";
    FORGERY(&p, &o, 0);
    o.currency = "";
    p.currency = "KRW";
    FORGERY(&p, &o, 0);
}

TEST(decide_sandbox)
{
    pv_payment_t p = pay_of(PV_STATUS_PAID, "paid");
    pv_decision_t d;

    p.sandbox = 1;
    FORGERY(&p, &order_krw, 0);
    d = decide(&p, &order_krw, 1, NULL);
    CHECK_INT_EQ(d.outcome, PV_OUT_PAID);
    CHECK_STR_EQ(d.reason, NULL);
    p = pay_of(PV_STATUS_CANCELLED, "cancelled");
    p.sandbox = 1;
    FORGERY(&p, &order_krw, 0);
    /* sandbox allowed does not excuse the amount */
    p = pay_of(PV_STATUS_PAID, "paid");
    p.sandbox = 1;
    p.amount = "100";
    FORGERY(&p, &order_krw, 1);
    /* not a sandbox payment: fine either way */
    p = pay_of(PV_STATUS_PAID, "paid");
    d = decide(&p, &order_krw, 1, NULL);
    CHECK_INT_EQ(d.outcome, PV_OUT_PAID);
}

TEST(decide_claim_mismatch)
{
    pv_payment_t p = pay_of(PV_STATUS_PAID, "paid");
    pv_decision_t d;

    /* the claim names another order: flagged; the outcome is PortOne's */
    d = decide(&p, &order_krw, 0, "order-2");
    CHECK_INT_EQ(d.claim_mismatch, 1);
    CHECK_INT_EQ(d.outcome, PV_OUT_PAID);
    d = decide(&p, &order_krw, 0, "order-1 ");
    CHECK_INT_EQ(d.claim_mismatch, 1);
    d = decide(&p, &order_krw, 0, "ORDER-1");
    CHECK_INT_EQ(d.claim_mismatch, 1);
    d = decide(&p, &order_krw, 0, "");
    CHECK_INT_EQ(d.claim_mismatch, 1);
    /* nothing claimed, or the same order */
    d = decide(&p, &order_krw, 0, NULL);
    CHECK_INT_EQ(d.claim_mismatch, 0);
    CHECK_INT_EQ(d.outcome, PV_OUT_PAID);
    d = decide(&p, &order_krw, 0, "order-1");
    CHECK_INT_EQ(d.claim_mismatch, 0);
    /* both a forgery and a mismatch */
    p.amount = "1";
    d = decide(&p, &order_krw, 0, "order-2");
    CHECK_INT_EQ(d.claim_mismatch, 1);
    CHECK_INT_EQ(d.outcome, PV_OUT_FORGERY);
    /* a mismatch on a ready payment */
    p = pay_of(PV_STATUS_READY, "ready");
    d = decide(&p, &order_krw, 0, "order-2");
    CHECK_INT_EQ(d.claim_mismatch, 1);
    CHECK_INT_EQ(d.outcome, PV_OUT_PENDING);
}

TEST(outcome_table)
{
    static const struct {
        pv_outcome o;
        const char *name;
        int rank, writes_event, updates_order, http;
        const char *answer;
    } rows[] = {
        {PV_OUT_PENDING, "pending", 0, 0, 0, 409, "pending"},
        {PV_OUT_VBANK_ISSUED, "vbank_issued", 1, 1, 1, 200, "vbankIssued"},
        {PV_OUT_PAID, "paid", 2, 1, 1, 200, "success"},
        {PV_OUT_CANCELLED, "cancelled", 3, 1, 1, 409, "cancelled"},
        {PV_OUT_FAILED, "failed", 3, 1, 1, 409, "failed"},
        {PV_OUT_FORGERY, "forgery", 3, 1, 0, 400, "forgery"},
    };
    size_t i;

    CHECK_INT_EQ(CHECK_COUNT(rows), PV_OUT_COUNT);
    for (i = 0; i < CHECK_COUNT(rows); i++) {
        const pv_outcome_info *info = pv_outcome_lookup(rows[i].o);

        CHECK(info != NULL);
        if (!info)
            continue;
        CHECK_STR_EQ(info->name, rows[i].name);
        CHECK_INT_EQ(info->rank, rows[i].rank);
        CHECK_INT_EQ(info->writes_event, rows[i].writes_event);
        CHECK_INT_EQ(info->updates_order, rows[i].updates_order);
        CHECK_INT_EQ(info->status_code, rows[i].http);
        CHECK_STR_EQ(info->answer_status, rows[i].answer);
        CHECK(info->message && *info->message);
    }
    CHECK_STR_EQ(pv_outcome_lookup(PV_OUT_PAID)->message, "일반 결제 성공");
    CHECK_STR_EQ(pv_outcome_lookup(PV_OUT_VBANK_ISSUED)->message, "가상계좌 발급 성공");
    CHECK_STR_EQ(pv_outcome_lookup(PV_OUT_FORGERY)->message, "위조된 결제시도");
    /* out of range: the safe answer */
    CHECK_STR_EQ(pv_outcome_lookup(PV_OUT_COUNT)->name, "forgery");
    CHECK_STR_EQ(pv_outcome_lookup((pv_outcome)-1)->name, "forgery");
}

TEST(outcome_ranks_forward_only)
{
    /* paid never goes back to pending/vbank_issued; cancelled and failed
     * never go back to anything */
    CHECK(pv_outcome_lookup(PV_OUT_PENDING)->rank
          < pv_outcome_lookup(PV_OUT_VBANK_ISSUED)->rank);
    CHECK(pv_outcome_lookup(PV_OUT_VBANK_ISSUED)->rank
          < pv_outcome_lookup(PV_OUT_PAID)->rank);
    CHECK(pv_outcome_lookup(PV_OUT_PAID)->rank
          < pv_outcome_lookup(PV_OUT_CANCELLED)->rank);
    CHECK(pv_outcome_lookup(PV_OUT_PAID)->rank
          < pv_outcome_lookup(PV_OUT_FAILED)->rank);
    CHECK(pv_outcome_lookup(PV_OUT_PAID)->rank
          < pv_outcome_lookup(PV_OUT_FORGERY)->rank);
}

TEST(error_table)
{
    static const struct {
        pv_err e;
        const char *code;
        int http;
    } rows[] = {
        {PV_OK, "ok", 200},
        {PV_E_INVALID_REQUEST, "invalid_request", 400},
        {PV_E_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415},
        {PV_E_PAYLOAD_TOO_LARGE, "payload_too_large", 413},
        {PV_E_METHOD_NOT_ALLOWED, "method_not_allowed", 405},
        {PV_E_PAYMENT_NOT_FOUND, "payment_not_found", 404},
        {PV_E_ORDER_NOT_FOUND, "order_not_found", 404},
        {PV_E_UPSTREAM_AUTH_FAILED, "upstream_auth_failed", 502},
        {PV_E_UPSTREAM_ERROR, "upstream_error", 502},
        {PV_E_UPSTREAM_TIMEOUT, "upstream_timeout", 504},
        {PV_E_DATABASE_UNAVAILABLE, "database_unavailable", 503},
        {PV_E_NOT_CONFIGURED, "not_configured", 500},
        {PV_E_INVALID_SIGNATURE, "invalid_signature", 401},
    };
    size_t i;

    CHECK_INT_EQ(CHECK_COUNT(rows), PV_E_COUNT);
    for (i = 0; i < CHECK_COUNT(rows); i++) {
        const pv_err_info *info = pv_err_lookup(rows[i].e);

        CHECK(info != NULL);
        if (!info)
            continue;
        CHECK_STR_EQ(info->code, rows[i].code);
        CHECK_INT_EQ(info->status_code, rows[i].http);
        CHECK(info->message && *info->message);
    }
    /* out of range: an upstream error, never "ok" */
    CHECK_STR_EQ(pv_err_lookup(PV_E_COUNT)->code, "upstream_error");
    CHECK_STR_EQ(pv_err_lookup((pv_err)-1)->code, "upstream_error");
}

/* The order's amount from the shop's column may be longer than
 * PV_DECIMAL_MAX_TEXT ("10000.000...0" from a NUMERIC with a large scale):
 * it compares exactly, so a genuine payment is not a forgery. */
TEST(decide_long_order_amount)
{
    pv_payment_t p = pay_of(PV_STATUS_PAID, "paid");
    char amount[128];
    pv_order_t o = {amount, "KRW"};

    strcpy(amount, "10000.");
    memset(amount + 6, '0', 70);
    amount[76] = '\0';
    PASS(&p, &o, PV_OUT_PAID);
    amount[75] = '1';               /* 10000.000...01 */
    FORGERY(&p, &o, 0);
    /* a 70-digit amount is not 10000 */
    memset(amount, '1', 70);
    amount[70] = '\0';
    FORGERY(&p, &o, 0);
}

/* Contract section 6: what a verification does to the recorded state. */
TEST(transition_forward_only_with_late_approval)
{
    static const struct {
        int found;
        pv_outcome cur;
        const char *cur_cancel;
        pv_outcome next;
        const char *next_cancel;
        pv_action want;
    } rows[] = {
        {0, PV_OUT_PENDING, NULL, PV_OUT_PAID, "0", PV_ACT_INSERT},
        {0, PV_OUT_PENDING, NULL, PV_OUT_FORGERY, "0", PV_ACT_INSERT},
        {1, PV_OUT_PENDING, "0", PV_OUT_VBANK_ISSUED, "0", PV_ACT_ADVANCE},
        {1, PV_OUT_VBANK_ISSUED, "0", PV_OUT_PAID, "0", PV_ACT_ADVANCE},
        {1, PV_OUT_PAID, "0", PV_OUT_VBANK_ISSUED, "0", PV_ACT_NONE},
        {1, PV_OUT_PAID, "0", PV_OUT_PENDING, "0", PV_ACT_NONE},
        {1, PV_OUT_PAID, "0", PV_OUT_CANCELLED, "10000", PV_ACT_ADVANCE},
        /* a recorded paid never becomes a forgery (the order was edited) */
        {1, PV_OUT_PAID, "0", PV_OUT_FORGERY, "0", PV_ACT_NONE},
        /* a stale failed after a late approval never undoes it */
        {1, PV_OUT_PAID, "0", PV_OUT_FAILED, "0", PV_ACT_NONE},
        {1, PV_OUT_PENDING, "0", PV_OUT_FORGERY, "0", PV_ACT_ADVANCE},
        /* late approval: failed becomes paid, and nothing else */
        {1, PV_OUT_FAILED, "0", PV_OUT_PAID, "0", PV_ACT_ADVANCE},
        {1, PV_OUT_FAILED, "0", PV_OUT_VBANK_ISSUED, "0", PV_ACT_NONE},
        {1, PV_OUT_FAILED, "0", PV_OUT_CANCELLED, "0", PV_ACT_NONE},
        {1, PV_OUT_FAILED, "0", PV_OUT_FORGERY, "0", PV_ACT_NONE},
        /* cancelled and forgery are final */
        {1, PV_OUT_CANCELLED, "100", PV_OUT_PAID, "0", PV_ACT_NONE},
        {1, PV_OUT_CANCELLED, "100", PV_OUT_FAILED, "0", PV_ACT_NONE},
        {1, PV_OUT_FORGERY, "0", PV_OUT_PAID, "0", PV_ACT_NONE},
        /* the same outcome: only a larger cancel_amount is newer */
        {1, PV_OUT_PAID, "0", PV_OUT_PAID, "0", PV_ACT_NONE},
        {1, PV_OUT_PAID, "3000.0000", PV_OUT_PAID, "3000", PV_ACT_NONE},
        {1, PV_OUT_PAID, "3000", PV_OUT_PAID, "2000", PV_ACT_NONE},
        {1, PV_OUT_PAID, "3000", PV_OUT_PAID, "3000.5", PV_ACT_REFRESH},
        {1, PV_OUT_PAID, NULL, PV_OUT_PAID, "1", PV_ACT_REFRESH},
        {1, PV_OUT_PAID, "0", PV_OUT_PAID, "not a number", PV_ACT_NONE},
    };
    size_t i;

    for (i = 0; i < CHECK_COUNT(rows); i++) {
        pv_record_t cur = {rows[i].found, rows[i].cur, rows[i].cur_cancel,
                          PV_REFUND_NONE};

        CHECK_INT_EQ(pv_transition(&cur, rows[i].next, rows[i].next_cancel),
                     rows[i].want);
    }
}

/* The order-level rule: a payment that is not paid never moves an order
 * that another payment of it has paid; a forgery never moves one. */
TEST(order_moves_follow_the_order)
{
    CHECK(pv_order_moves(PV_OUT_PAID, "imp_b", NULL));
    CHECK(pv_order_moves(PV_OUT_PAID, "imp_b", "imp_a"));
    CHECK(!pv_order_moves(PV_OUT_FAILED, "imp_b", "imp_a"));
    CHECK(!pv_order_moves(PV_OUT_VBANK_ISSUED, "imp_b", "imp_a"));
    CHECK(!pv_order_moves(PV_OUT_CANCELLED, "imp_b", "imp_a"));
    CHECK(pv_order_moves(PV_OUT_CANCELLED, "imp_a", "imp_a"));
    CHECK(pv_order_moves(PV_OUT_FAILED, "imp_b", NULL));
    CHECK(!pv_order_moves(PV_OUT_FORGERY, "imp_b", NULL));
    CHECK(!pv_order_moves(PV_OUT_PENDING, "imp_b", NULL));

    CHECK_STR_EQ(pv_order_payer(PV_OUT_PAID, "imp_a", NULL), "imp_a");
    CHECK_STR_EQ(pv_order_payer(PV_OUT_PAID, "imp_b", "imp_a"), "imp_a");
    CHECK(pv_order_payer(PV_OUT_CANCELLED, "imp_a", "imp_a") == NULL);
    CHECK_STR_EQ(pv_order_payer(PV_OUT_FAILED, "imp_b", "imp_a"), "imp_a");
    CHECK(pv_order_payer(PV_OUT_FAILED, "imp_b", NULL) == NULL);
}

TEST(decimal_compare_orders_values)
{
    CHECK_INT_EQ(pv_decimal_compare("1", "2"), -1);
    CHECK_INT_EQ(pv_decimal_compare("10", "9.99"), 1);
    CHECK_INT_EQ(pv_decimal_compare("3000.0000", "3000"), 0);
    CHECK_INT_EQ(pv_decimal_compare("1e3", "999"), 1);
    CHECK_INT_EQ(pv_decimal_compare("-5", "1"), -1);
    CHECK_INT_EQ(pv_decimal_compare("-5", "-6"), 1);
    CHECK_INT_EQ(pv_decimal_compare(NULL, "0"), 0);
    CHECK_INT_EQ(pv_decimal_compare("0.001", NULL), 1);
    CHECK_INT_EQ(pv_decimal_compare("x", "1"), -2);
}
