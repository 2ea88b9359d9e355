#include "pv_decide.h"

#include <string.h>

#include "pv_decimal.h"

static const pv_outcome_info outcomes[PV_OUT_COUNT] = {
    [PV_OUT_PENDING]      = {"pending", 0, 0, 0, 409, "pending", "결제 대기 중"},
    [PV_OUT_VBANK_ISSUED] = {"vbank_issued", 1, 1, 1, 200, "vbankIssued", "가상계좌 발급 성공"},
    [PV_OUT_PAID]         = {"paid", 2, 1, 1, 200, "success", "일반 결제 성공"},
    [PV_OUT_CANCELLED]    = {"cancelled", 3, 1, 1, 409, "cancelled", "취소된 결제"},
    [PV_OUT_FAILED]       = {"failed", 3, 1, 1, 409, "failed", "실패한 결제"},
    [PV_OUT_FORGERY]      = {"forgery", 3, 1, 0, 400, "forgery", "위조된 결제시도"},
};

const pv_outcome_info *pv_outcome_lookup(pv_outcome o)
{
    return &outcomes[(o >= 0 && o < PV_OUT_COUNT) ? o : PV_OUT_FORGERY];
}

pv_outcome pv_outcome_from_name(const char *name)
{
    int o;

    for (o = 0; name && o < PV_OUT_COUNT; o++)
        if (!strcmp(outcomes[o].name, name))
            return (pv_outcome)o;
    return PV_OUT_FORGERY;
}

/* An ISO 4217 code as PortOne writes one: three capital letters. */
static int currency_code(const char *c)
{
    int i;

    for (i = 0; i < 3; i++)
        if (c[i] < 'A' || c[i] > 'Z')
            return 0;
    return c[3] == '\0';
}

void pv_decide(const pv_payment_t *pay, const pv_order_t *order,
               int sandbox_allowed, const char *claimed_merchant_uid,
               pv_decision_t *out)
{
    out->claim_mismatch = claimed_merchant_uid
        && strcmp(claimed_merchant_uid, pay->merchant_uid) != 0;
    out->reason = NULL;
    out->order_unreadable = 0;

    /* The checks hold whatever the status: a cancelled forgery is a forgery. */
    if (!pv_decimal_equal(pay->amount, order->amount)) {
        out->reason = "amount differs from the order";
        out->order_unreadable = !pv_decimal_is_number(order->amount);
    }
    else if (order->currency && (!pay->currency
                                 || strcmp(order->currency, pay->currency))) {
        out->reason = "currency differs from the order";
        out->order_unreadable = !currency_code(order->currency);
    }
    else if (pay->sandbox && !sandbox_allowed)
        out->reason = "test-channel (sandbox) payment while PortOneSandbox is Off";
    else if (pay->store_mismatch)       /* V2 only: zero for V1 */
        out->reason = "the payment's storeId is not PortOneStoreId";
    if (out->reason) {
        out->outcome = PV_OUT_FORGERY;
        return;
    }
    switch (pay->status) {
    case PV_STATUS_PAID:
        out->outcome = PV_OUT_PAID;
        break;
    case PV_STATUS_READY:
        out->outcome = (pay->vbank_num && *pay->vbank_num)
                       ? PV_OUT_VBANK_ISSUED : PV_OUT_PENDING;
        break;
    case PV_STATUS_CANCELLED:
        out->outcome = PV_OUT_CANCELLED;
        break;
    default:
        out->outcome = PV_OUT_FAILED;
        break;
    }
}

/* Compares the magnitudes of two normalised decimals. */
static int magnitude_compare(const pv_decimal_t *a, const pv_decimal_t *b)
{
    long la, lb;            /* position of the leading digit */
    int i;

    if (a->ndigits == 0 || b->ndigits == 0)
        return (a->ndigits > 0) - (b->ndigits > 0);
    la = a->exponent + a->ndigits;
    lb = b->exponent + b->ndigits;
    if (la != lb)
        return la > lb ? 1 : -1;
    for (i = 0; i < a->ndigits || i < b->ndigits; i++) {
        char da = i < a->ndigits ? a->digits[i] : '0';
        char db = i < b->ndigits ? b->digits[i] : '0';

        if (da != db)
            return da > db ? 1 : -1;
    }
    return 0;
}

int pv_decimal_compare(const char *a, const char *b)
{
    pv_decimal_t da, db;
    int m;

    if (pv_decimal_parse(a ? a : "0", strlen(a ? a : "0"), &da)
        || pv_decimal_parse(b ? b : "0", strlen(b ? b : "0"), &db))
        return -2;
    if (da.negative != db.negative)
        return da.negative ? -1 : 1;
    m = magnitude_compare(&da, &db);
    return da.negative ? -m : m;
}

pv_action pv_transition(const pv_record_t *cur, pv_outcome next,
                        const char *cancel_amount)
{
    int rank_cur, rank_next;

    if (!cur->found)
        return PV_ACT_INSERT;
    if (cur->outcome == next)
        return pv_decimal_compare(cancel_amount, cur->cancel_amount) == 1
               ? PV_ACT_REFRESH : PV_ACT_NONE;
    switch (cur->outcome) {
    case PV_OUT_CANCELLED:
    case PV_OUT_FORGERY:
        return PV_ACT_NONE;
    case PV_OUT_FAILED:
        return next == PV_OUT_PAID ? PV_ACT_ADVANCE : PV_ACT_NONE;
    case PV_OUT_PAID:
        /* only a cancellation follows: a stale failed (after a late
         * approval) or a forgery (an order edited later) never does */
        return next == PV_OUT_CANCELLED ? PV_ACT_ADVANCE : PV_ACT_NONE;
    default:
        break;
    }
    rank_cur = pv_outcome_lookup(cur->outcome)->rank;
    rank_next = pv_outcome_lookup(next)->rank;
    return rank_next > rank_cur ? PV_ACT_ADVANCE : PV_ACT_NONE;
}

int pv_order_moves(pv_outcome next, const char *imp_uid, const char *paid_by)
{
    if (!pv_outcome_lookup(next)->updates_order)
        return 0;
    return next == PV_OUT_PAID || !paid_by || !strcmp(paid_by, imp_uid);
}

const char *pv_order_payer(pv_outcome next, const char *imp_uid,
                           const char *paid_by)
{
    if (next == PV_OUT_PAID)
        return paid_by ? paid_by : imp_uid;
    if (paid_by && !strcmp(paid_by, imp_uid)
        && pv_outcome_lookup(next)->updates_order)
        return NULL;
    return paid_by;
}

const char *pv_refund_name(pv_refund r)
{
    return r == PV_REFUND_CLAIMED || r == PV_REFUND_STALE ? "claimed"
           : r == PV_REFUND_UNANSWERED ? "unanswered"
           : r == PV_REFUND_DONE ? "refunded" : NULL;
}

pv_refund pv_refund_from_name(const char *name)
{
    if (!name)
        return PV_REFUND_NONE;
    if (!strcmp(name, "refunded"))
        return PV_REFUND_DONE;
    if (!strcmp(name, "unanswered"))
        return PV_REFUND_UNANSWERED;
    if (!strcmp(name, "claimed-stale"))
        return PV_REFUND_STALE;
    return PV_REFUND_CLAIMED;
}

pv_refund_intent pv_refund_intent_of(const pv_payment_t *pay,
                                     const pv_decision_t *dec)
{
    char left[128];

    if (dec->outcome != PV_OUT_FORGERY || dec->claim_mismatch
        || dec->order_unreadable)
        return PV_INTENT_NONE;
    if (pay->status == PV_STATUS_CANCELLED)
        return PV_INTENT_SETTLE;
    if (pay->status == PV_STATUS_PAID
        && !pv_decimal_subtract(pay->amount, pay->cancel_amount
                                ? pay->cancel_amount : "0",
                                left, sizeof(left))
        && pv_decimal_positive(left))
        return PV_INTENT_CANCEL;
    return PV_INTENT_NONE;
}

int pv_refund_claims(pv_refund_intent intent, const pv_record_t *after)
{
    return intent == PV_INTENT_CANCEL && after->found
        && after->outcome == PV_OUT_FORGERY
        && (after->refund == PV_REFUND_NONE
            || after->refund == PV_REFUND_UNANSWERED);
}

int pv_refund_settles(pv_refund_intent intent, const pv_record_t *after)
{
    return intent == PV_INTENT_SETTLE && after->found
        && after->outcome == PV_OUT_FORGERY
        && after->refund == PV_REFUND_UNANSWERED;
}
