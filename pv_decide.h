/* The outcome of a verification (contract section 5) and what follows from
 * it: its rank in the forward-only order, whether it writes an event and
 * updates the order, and how portone-verify answers it. */
#ifndef PV_DECIDE_H
#define PV_DECIDE_H

#include "pv_portone.h"

typedef enum {
    PV_OUT_PENDING, PV_OUT_VBANK_ISSUED, PV_OUT_PAID, PV_OUT_CANCELLED,
    PV_OUT_FAILED, PV_OUT_FORGERY, PV_OUT_COUNT
} pv_outcome;

typedef struct {
    const char *name;           /* recorded and set as the request note */
    int rank;                   /* an outcome only moves to a higher rank */
    int writes_event;
    int updates_order;
    int http_status;            /* portone-verify answer */
    const char *answer_status;  /* its "status" */
    const char *message;
} pv_outcome_info;

const pv_outcome_info *pv_outcome_lookup(pv_outcome o);

/* The outcome of a recorded name; PV_OUT_FORGERY for an unknown one. */
pv_outcome pv_outcome_from_name(const char *name);

/* The order as the shop's database has it. */
typedef struct {
    const char *amount;         /* first column */
    const char *currency;       /* second column; NULL: not compared */
} pv_order_t;

typedef struct {
    pv_outcome outcome;         /* what is recorded for the payment */
    int claim_mismatch;         /* the claim's merchant_uid is not PortOne's */
    const char *reason;         /* why a forgery, for the log */
} pv_decision_t;

/* Decides the outcome of |pay| against |order| (the order named by PortOne's
 * merchant_uid). |claimed_merchant_uid| may be NULL (nothing claimed). */
void pv_decide(const pv_payment_t *pay, const pv_order_t *order,
               int sandbox_allowed, const char *claimed_merchant_uid,
               pv_decision_t *out);

#endif
