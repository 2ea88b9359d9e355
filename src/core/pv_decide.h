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
    int status_code;            /* portone-verify answer */
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
    int order_unreadable;       /* the forgery rests on an order's amount
                                 * that is no number (NULL, "10,000") or a
                                 * currency that is no ISO code ("krw",
                                 * "KRW "): nothing shows a wrong payment,
                                 * so it is never cancelled */
    const char *reason;         /* why a forgery, for the log */
} pv_decision_t;

/* Decides the outcome of |pay| against |order| (the order named by PortOne's
 * merchant_uid). |claimed_merchant_uid| may be NULL (nothing claimed).
 * A forgery: the amount or currency differs, a sandbox payment (V1 sandbox,
 * V2 channel TEST) without |sandbox_allowed|, a V2 payment of another store
 * (pay->store_mismatch). */
void pv_decide(const pv_payment_t *pay, const pv_order_t *order,
               int sandbox_allowed, const char *claimed_merchant_uid,
               pv_decision_t *out);

/* Where the cancel of a forged payment stands (PortOneCancelForgery), the
 * payment's refund column: none yet (NULL), claimed by one verification
 * that sends it (or sent it and has not recorded the answer yet), sent but
 * unanswered (no answer said whether PortOne cancelled it), or done (its
 * refunded event written). */
typedef enum {
    PV_REFUND_NONE, PV_REFUND_CLAIMED, PV_REFUND_UNANSWERED, PV_REFUND_DONE,
    PV_REFUND_STALE     /* claimed hours ago ('claimed-stale' as the store
                         * reads it): no process will settle it, an admin
                         * must (PV0125); as claimed otherwise */
} pv_refund;

/* The refund column's value; NULL for PV_REFUND_NONE. */
const char *pv_refund_name(pv_refund r);

/* The state of a refund column's text (NULL or unknown: PV_REFUND_NONE is
 * not assumed for an unknown text: it reads as claimed, so that nothing is
 * sent twice for a value an admin wrote). */
pv_refund pv_refund_from_name(const char *name);

/* A payment's record as a transaction read it (contract section 6). */
typedef struct {
    int found;
    pv_outcome outcome;
    const char *cancel_amount;  /* its text; NULL reads as 0 */
    pv_refund refund;
} pv_record_t;

/* What a verification of a forgery means for its cancel
 * (PortOneCancelForgery On), from PortOne's answer alone; the record
 * decides the rest (pv_refund_claims, pv_refund_settles). */
typedef enum {
    PV_INTENT_NONE,
    PV_INTENT_CANCEL,   /* money to give back: PortOne reports it paid (V2
                         * PAID or PARTIAL_CANCELLED) with something left
                         * (amount > cancel_amount) */
    PV_INTENT_SETTLE    /* PortOne reports it cancelled: an unanswered
                         * cancel of ours went through */
} pv_refund_intent;

/* The intent of |pay| decided |dec|: NONE unless it is a forgery verified
 * for the order PortOne names (a claim naming another order is not a wrong
 * payment: it never cancels anything). */
pv_refund_intent pv_refund_intent_of(const pv_payment_t *pay,
                                     const pv_decision_t *dec);

/* Whether a verification of |intent| claims the forgery's cancel, given the
 * payment's record |after| it (the state its own transaction leaves): only
 * a record that is a forgery (never a recorded paid, whatever a later
 * check says) whose cancel nobody has claimed, or whose last cancel went
 * unanswered while PortOne still reports the money taken. */
int pv_refund_claims(pv_refund_intent intent, const pv_record_t *after);

/* Whether it settles an unanswered cancel: PortOne reports the forgery
 * cancelled, so the cancel sent went through (refunded, with its event). */
int pv_refund_settles(pv_refund_intent intent, const pv_record_t *after);

typedef enum {
    PV_ACT_NONE,        /* the record stays as it is */
    PV_ACT_INSERT,      /* the first record of the payment */
    PV_ACT_ADVANCE,     /* the outcome moves on: event and order update */
    PV_ACT_REFRESH      /* the same outcome, a larger cancel_amount */
} pv_action;

/* What a verification with outcome |next| and PortOne's |cancel_amount|
 * does to |cur|: outcomes only move up in rank; cancelled and forgery are
 * final; failed only becomes paid (late approval); paid only becomes
 * cancelled (never a stale failed, nor a forgery when the shop edited the
 * order after the payment); within one outcome
 * the row follows PortOne only when cancel_amount grew, so a stale answer
 * never overwrites a newer one. */
pv_action pv_transition(const pv_record_t *cur, pv_outcome next,
                        const char *cancel_amount);

/* The order-level rule: whether a payment whose outcome changed to |next|
 * runs the order update, given the payment that paid the order
 * (|paid_by|, NULL when none has). A payment that is not paid never moves
 * an order that another payment of it has paid; a forgery never moves one. */
int pv_order_moves(pv_outcome next, const char *imp_uid, const char *paid_by);

/* The payment that has paid the order after that change: |imp_uid| when it
 * paid an order nobody had paid; NULL when the payer itself moved on
 * (cancelled); else |paid_by| unchanged. */
const char *pv_order_payer(pv_outcome next, const char *imp_uid,
                           const char *paid_by);

/* -1, 0 or 1 as decimal |a| is less than, equal to or greater than |b|;
 * NULL reads as 0; -2 when either is not a number. */
int pv_decimal_compare(const char *a, const char *b);

#endif
