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

void pv_decide(const pv_payment_t *pay, const pv_order_t *order,
               int sandbox_allowed, const char *claimed_merchant_uid,
               pv_decision_t *out)
{
    out->claim_mismatch = claimed_merchant_uid
        && strcmp(claimed_merchant_uid, pay->merchant_uid) != 0;
    out->reason = NULL;

    /* The checks hold whatever the status: a cancelled forgery is a forgery. */
    if (!pv_decimal_equal(pay->amount, order->amount))
        out->reason = "amount differs from the order";
    else if (order->currency && (!pay->currency
                                 || strcmp(order->currency, pay->currency)))
        out->reason = "currency differs from the order";
    else if (pay->sandbox && !sandbox_allowed)
        out->reason = "test-channel (sandbox) payment while PortOneSandbox is Off";
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
