"""portone-verify: every row of the outcome table of contract section 5, with
what is recorded afterwards (section 6): portone_payments, portone_events and
the shop's order (shop_orders, updated by PortOneOrderUpdateQuery)."""
import json
import time
from decimal import Decimal

import pytest

from portone_emulator import payment_response
from shop_checks import dec, events, json_answer, order, payments  # noqa: F401

MSG_PAID = "일반 결제 성공"
MSG_VBANK = "가상계좌 발급 성공"
MSG_FORGERY = "위조된 결제시도"


# ---------------------------------------------------------------- helpers

def verify(httpd, imp_uid, merchant_uid):
    """The front-end's call; every answer is JSON that is never cached."""
    return json_answer(*httpd.verify(imp_uid, merchant_uid))


def only_payment(db, imp_uid, merchant_uid, outcome, status):
    """The one portone_payments row, checked for its key columns."""
    rows = payments(db)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["imp_uid"], row["merchant_uid"], row["outcome"], row["status"]) == \
        (imp_uid, merchant_uid, outcome, status), row
    return row


UNTOUCHED = {"state": "new", "paid_imp_uid": None, "updates": 0}


# ---------------------------------------------------------------- paid

def test_paid(pv):
    pv.db.add_order("order_paid", 10000)
    pv.emu.add_payment(imp_uid="imp_paid", merchant_uid="order_paid", amount=10000, status="paid")
    status, body = verify(pv.httpd, "imp_paid", "order_paid")
    assert status == 200, body
    assert body["status"] == "success" and body["message"] == MSG_PAID
    assert body["imp_uid"] == "imp_paid" and body["merchant_uid"] == "order_paid"

    row = only_payment(pv.db, "imp_paid", "order_paid", "paid", "paid")
    assert dec(row["amount"]) == Decimal(10000) and dec(row["cancel_amount"]) == 0
    assert row["currency"] == "KRW" and row["pay_method"] == "card"
    response = json.loads(row["response"])      # PortOne's whole response object
    assert response["imp_uid"] == "imp_paid" and response["amount"] == 10000
    assert response["card_number"] == "910020*********7"
    assert int(row["paid_at"]) == response["paid_at"] > 0
    assert events(pv.db) == [{"imp_uid": "imp_paid", "merchant_uid": "order_paid", "outcome": "paid"}]
    assert order(pv.db, "order_paid") == {"state": "paid", "paid_imp_uid": "imp_paid", "updates": 1}


# ---------------------------------------------------------------- ready

def test_ready_with_virtual_account_is_vbank_issued(pv):
    pv.db.add_order("order_vb", 25000)
    pv.emu.add_payment(imp_uid="imp_vb", merchant_uid="order_vb", amount=25000, status="ready",
                       pay_method="vbank", vbank_num="56211234567890", vbank_name="KB국민은행",
                       vbank_date=1767225600)
    status, body = verify(pv.httpd, "imp_vb", "order_vb")
    assert status == 200, body
    assert body["status"] == "vbankIssued" and body["message"] == MSG_VBANK
    assert body["imp_uid"] == "imp_vb" and body["merchant_uid"] == "order_vb"
    assert body["vbank_num"] == "56211234567890"
    assert body["vbank_name"] == "KB국민은행"
    assert body["vbank_date"] == 1767225600

    row = only_payment(pv.db, "imp_vb", "order_vb", "vbank_issued", "ready")
    assert (row["vbank_num"], row["vbank_name"], int(row["vbank_date"])) == \
        ("56211234567890", "KB국민은행", 1767225600)
    assert row["pay_method"] == "vbank"
    assert events(pv.db) == [{"imp_uid": "imp_vb", "merchant_uid": "order_vb",
                              "outcome": "vbank_issued"}]
    assert order(pv.db, "order_vb") == {"state": "vbank_issued", "paid_imp_uid": "imp_vb",
                                        "updates": 1}


@pytest.mark.parametrize("fields", [{"pay_method": "card"},
                                    {"pay_method": "vbank", "vbank_num": None},
                                    {"pay_method": "vbank", "vbank_num": ""}],
                         ids=["card", "vbank_num_null", "vbank_num_empty"])
def test_ready_without_virtual_account_is_pending_without_event_or_order_update(pv, fields):
    pv.db.add_order("order_pend", 10000)
    pv.emu.add_payment(imp_uid="imp_pend", merchant_uid="order_pend", amount=10000,
                       status="ready", **fields)
    status, body = verify(pv.httpd, "imp_pend", "order_pend")
    assert status == 409, body
    assert body["status"] == "pending"
    assert body["imp_uid"] == "imp_pend" and body["merchant_uid"] == "order_pend"
    assert "vbank_num" not in body

    only_payment(pv.db, "imp_pend", "order_pend", "pending", "ready")
    assert events(pv.db) == []
    assert order(pv.db, "order_pend") == UNTOUCHED


# ---------------------------------------------------------------- cancelled, failed

@pytest.mark.parametrize("portone_status", ["cancelled", "failed"])
def test_cancelled_and_failed_are_409_and_recorded(pv, portone_status):
    imp, mer = "imp_" + portone_status, "order_" + portone_status
    pv.db.add_order(mer, 10000)
    pv.emu.add_payment(imp_uid=imp, merchant_uid=mer, amount=10000, status=portone_status)
    status, body = verify(pv.httpd, imp, mer)
    assert status == 409, body
    assert body["status"] == portone_status
    assert body["imp_uid"] == imp and body["merchant_uid"] == mer

    row = only_payment(pv.db, imp, mer, portone_status, portone_status)
    if portone_status == "cancelled":
        assert dec(row["cancel_amount"]) == Decimal(10000)
    assert events(pv.db) == [{"imp_uid": imp, "merchant_uid": mer, "outcome": portone_status}]
    assert order(pv.db, mer) == {"state": portone_status, "paid_imp_uid": imp, "updates": 1}


# ---------------------------------------------------------------- forgeries

def assert_forgery(pv, status, body, imp_uid, merchant_uid, portone_status="paid"):
    """400 forgery, recorded as such with its event, and the order untouched."""
    assert status == 400, body
    assert body["status"] == "forgery" and body["message"] == MSG_FORGERY
    assert body["imp_uid"] == imp_uid and body["merchant_uid"] == merchant_uid
    row = only_payment(pv.db, imp_uid, merchant_uid, "forgery", portone_status)
    assert events(pv.db) == [{"imp_uid": imp_uid, "merchant_uid": merchant_uid,
                              "outcome": "forgery"}]
    assert order(pv.db, merchant_uid) == UNTOUCHED
    return row


def test_forged_amount(pv):
    pv.db.add_order("order_forged", 10000)
    pv.emu.add_payment(imp_uid="imp_forged", merchant_uid="order_forged", amount=9000,
                       status="paid")
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_forged merchant_uid=order_forged "
                  r"outcome=forgery \(recorded\): amount differs from the order")
    status, body = verify(pv.httpd, "imp_forged", "order_forged")
    row = assert_forgery(pv, status, body, "imp_forged", "order_forged")
    assert dec(row["amount"]) == Decimal(9000)


def test_forged_amount_is_a_forgery_even_when_cancelled(pv):
    pv.db.add_order("order_fc", 10000)
    pv.emu.add_payment(imp_uid="imp_fc", merchant_uid="order_fc", amount=100, status="cancelled")
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_fc merchant_uid=order_fc "
                  r"outcome=forgery \(recorded\): amount differs from the order")
    status, body = verify(pv.httpd, "imp_fc", "order_fc")
    assert_forgery(pv, status, body, "imp_fc", "order_fc", portone_status="cancelled")


def test_claimed_merchant_uid_differing_from_portone_records_only_the_genuine_payment(pv):
    # PortOne says imp_claim pays order_real (10000, correct). The front-end
    # claims it pays order_claimed, whose price differs: if the module checked
    # the claimed order it would record a forgery.
    pv.db.add_order("order_real", 10000)
    pv.db.add_order("order_claimed", 50000)
    pv.emu.add_payment(imp_uid="imp_claim", merchant_uid="order_real", amount=10000,
                       status="paid")
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_claim merchant_uid=order_real outcome=paid "
                  r"\(recorded\); forged claim: merchant_uid order_claimed is not PortOne's")
    status, body = verify(pv.httpd, "imp_claim", "order_claimed")
    assert status == 400, body
    assert body["status"] == "forgery" and body["message"] == MSG_FORGERY
    assert body["imp_uid"] == "imp_claim"
    assert body["merchant_uid"] in ("order_real", "order_claimed")

    only_payment(pv.db, "imp_claim", "order_real", "paid", "paid")
    assert events(pv.db) == [{"imp_uid": "imp_claim", "merchant_uid": "order_real",
                              "outcome": "paid"}]
    assert order(pv.db, "order_real") == {"state": "paid", "paid_imp_uid": "imp_claim",
                                          "updates": 1}
    assert order(pv.db, "order_claimed") == UNTOUCHED

    # the genuine claim afterwards is answered as paid, nothing more written
    status, body = verify(pv.httpd, "imp_claim", "order_real")
    assert status == 200 and body["status"] == "success", body
    assert len(events(pv.db)) == 1
    assert order(pv.db, "order_real")["updates"] == 1


def test_currency_mismatch_is_a_forgery(pv):
    pv.db.add_order("order_usd", 10000, currency="USD")
    pv.emu.add_payment(imp_uid="imp_krw", merchant_uid="order_usd", amount=10000,
                       currency="KRW", status="paid")
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_krw merchant_uid=order_usd "
                  r"outcome=forgery \(recorded\): currency differs from the order")
    status, body = verify(pv.httpd, "imp_krw", "order_usd")
    row = assert_forgery(pv, status, body, "imp_krw", "order_usd")
    assert row["currency"] == "KRW"


def test_order_currency_null_is_due_in_portone_currency(pv):
    """Fail closed: an order without a currency is due in PortOneCurrency
    (default KRW), so a USD payment of it is a forgery (contract section 4)."""
    pv.db.add_order("order_nocur", 10000, currency=None)
    pv.emu.add_payment(imp_uid="imp_usd", merchant_uid="order_nocur", amount=10000,
                       currency="USD", status="paid")
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_usd merchant_uid=order_nocur "
                  r"outcome=forgery \(recorded\): currency differs from the order "
                  r"\(PortOne: 10000 USD, the order: 10000(\.00)? KRW\)")
    status, body = verify(pv.httpd, "imp_usd", "order_nocur")
    row = assert_forgery(pv, status, body, "imp_usd", "order_nocur")
    assert row["currency"] == "USD"
    pv.emu.add_payment(imp_uid="imp_nocur_krw", merchant_uid="order_nocur", amount=10000,
                       status="paid")
    status, body = verify(pv.httpd, "imp_nocur_krw", "order_nocur")
    assert status == 200 and body["status"] == "success", body
    assert order(pv.db, "order_nocur")["state"] == "paid"


# ---------------------------------------------------------------- sandbox

def sandbox_payment(imp_uid, merchant_uid):
    return dict(imp_uid=imp_uid, merchant_uid=merchant_uid, amount=10000, status="paid",
                sandbox=True)


def payment_lookups(emu):
    return [r["path"] for r in emu.counters()["requests"] if r["path"].startswith("/payments")]


def test_sandbox_off_does_not_ask_for_sandbox_payments(pv):
    pv.db.add_order("order_sb", 10000)
    pv.emu.add_payment(**sandbox_payment("imp_sb", "order_sb"))   # hidden without include_sandbox
    status, body = verify(pv.httpd, "imp_sb", "order_sb")
    assert status == 404, body
    assert body["status"] == "error" and body["code"] == "payment_not_found"
    paths = payment_lookups(pv.emu)
    assert paths and all(p == "/payments/imp_sb" for p in paths), paths
    assert payments(pv.db) == [] and events(pv.db) == []
    assert order(pv.db, "order_sb") == UNTOUCHED


def test_sandbox_payment_shown_by_portone_is_a_forgery_when_sandbox_is_off(pv):
    # PortOne shows the test-channel payment anyway (e.g. before 2026-01-26)
    shown = payment_response(sandbox_payment("imp_sbf", "order_sbf"), int(time.time()))
    assert shown["sandbox"] is True
    pv.db.add_order("order_sbf", 10000)
    pv.emu.add_payment(imp_uid="imp_sbf", __response__=shown)
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_sbf merchant_uid=order_sbf "
                  r"outcome=forgery \(recorded\): test-channel \(sandbox\) payment while "
                  r"PortOneSandbox is Off")
    status, body = verify(pv.httpd, "imp_sbf", "order_sbf")
    assert_forgery(pv, status, body, "imp_sbf", "order_sbf")


def test_sandbox_on_asks_for_and_accepts_sandbox_payments(make_httpd, database, emulator):
    httpd = make_httpd(directives={"PortOneSandbox": "On"})
    database.add_order("order_sbon", 10000)
    emulator.add_payment(**sandbox_payment("imp_sbon", "order_sbon"))
    status, body = verify(httpd, "imp_sbon", "order_sbon")
    assert status == 200 and body["status"] == "success", body
    paths = payment_lookups(emulator)
    assert paths and all(p == "/payments/imp_sbon?include_sandbox=true" for p in paths), paths
    only_payment(database, "imp_sbon", "order_sbon", "paid", "paid")
    assert order(database, "order_sbon")["state"] == "paid"


# ---------------------------------------------------------------- decimals

@pytest.mark.parametrize("order_price, portone_amount, paid", [
    ("10000.00", 10000, True),
    ("10000.00", 10000.0, True),
    ("10000", 10000.0, True),
    ("9999.99", 10000, False),
    ("10000", 9999.99, False),
    ("10000.01", 10000, False),
    ("9999.99", 9999.99, True),
    ("12.34", 12.34, True),
    ("0.3", 0.3, True),
    ("123456789012.5", 123456789012.5, True),
], ids=["10000.00=10000", "10000.00=10000.0", "10000=10000.0", "9999.99!=10000",
        "10000!=9999.99", "10000.01!=10000", "9999.99=9999.99", "12.34=12.34", "0.3=0.3",
        "123456789012.5=123456789012.5"])
def test_amounts_compare_as_exact_decimals(pv, order_price, portone_amount, paid):
    pv.db.add_order("order_dec", order_price)
    pv.emu.add_payment(imp_uid="imp_dec", merchant_uid="order_dec", amount=portone_amount,
                       status="paid")
    status, body = verify(pv.httpd, "imp_dec", "order_dec")
    if paid:
        assert status == 200 and body["status"] == "success", body
        only_payment(pv.db, "imp_dec", "order_dec", "paid", "paid")
        assert order(pv.db, "order_dec")["state"] == "paid"
    else:
        pv.expect_log(r"PV0102: portone-verify imp_uid=imp_dec merchant_uid=order_dec "
                      r"outcome=forgery \(recorded\): amount differs from the order")
        row = assert_forgery(pv, status, body, "imp_dec", "order_dec")
        assert dec(row["amount"]) == Decimal(str(portone_amount))


@pytest.mark.parametrize("amount_sql", ["NULL", "'abc'", "'10000abc'", "''"],
                         ids=["null", "abc", "10000abc", "empty"])
@pytest.mark.expect_log(r"PV0102: portone-verify imp_uid=imp_noamt merchant_uid=order_noamt "
                        r"outcome=forgery \(recorded\): amount differs from the order "
                        r"\(PortOne: 10000 KRW, the order: (NULL|abc|10000abc|) KRW\)")
def test_order_amount_missing_or_not_numeric_is_never_equal(make_httpd, database, emulator,
                                                            amount_sql):
    httpd = make_httpd(directives={"PortOneOrderQuery": "SELECT %s, currency FROM shop_orders "
                                   "WHERE order_no = :merchant_uid" % amount_sql})
    database.add_order("order_noamt", 10000)
    emulator.add_payment(imp_uid="imp_noamt", merchant_uid="order_noamt", amount=10000,
                         status="paid")
    status, body = verify(httpd, "imp_noamt", "order_noamt")
    assert status == 400 and body["status"] == "forgery", body
    only_payment(database, "imp_noamt", "order_noamt", "forgery", "paid")
    assert order(database, "order_noamt") == UNTOUCHED


# ---------------------------------------------------------------- partial cancellation

def test_partial_cancellation_is_still_paid_and_recorded(pv):
    pv.db.add_order("order_part", 10000)
    pv.emu.add_payment(imp_uid="imp_part", merchant_uid="order_part", amount=10000,
                       status="paid", cancel_amount=3000,
                       cancel_history=[{"pg_tid": "tid", "amount": 3000, "cancelled_at": 1,
                                        "reason": "부분 취소", "cancellation_id": "c1",
                                        "receipt_url": None}])
    status, body = verify(pv.httpd, "imp_part", "order_part")
    assert status == 200 and body["status"] == "success", body
    row = only_payment(pv.db, "imp_part", "order_part", "paid", "paid")
    assert dec(row["cancel_amount"]) == Decimal(3000)
    assert dec(row["amount"]) == Decimal(10000)
    assert events(pv.db) == [{"imp_uid": "imp_part", "merchant_uid": "order_part",
                              "outcome": "paid"}]
    assert order(pv.db, "order_part")["state"] == "paid"


def test_later_partial_cancellation_updates_the_paid_record_only(pv):
    pv.db.add_order("order_later", 10000)
    pv.emu.add_payment(imp_uid="imp_later", merchant_uid="order_later", amount=10000,
                       status="paid")
    status, body = verify(pv.httpd, "imp_later", "order_later")
    assert status == 200 and body["status"] == "success", body

    pv.emu.patch_payment("imp_later", cancel_amount=2500)
    status, body = verify(pv.httpd, "imp_later", "order_later")
    assert status == 200 and body["status"] == "success", body
    row = only_payment(pv.db, "imp_later", "order_later", "paid", "paid")
    assert dec(row["cancel_amount"]) == Decimal(2500)
    assert json.loads(row["response"])["cancel_amount"] == 2500    # PortOne's latest answer
    assert len(events(pv.db)) == 1
    assert order(pv.db, "order_later")["updates"] == 1


# ---------------------------------------------------------------- unknown order

def test_unknown_order_is_404_and_writes_nothing(pv):
    pv.db.add_order("some_other_order", 10000)
    pv.emu.add_payment(imp_uid="imp_noorder", merchant_uid="order_missing", amount=10000,
                       status="paid")
    status, body = verify(pv.httpd, "imp_noorder", "order_missing")
    assert status == 404, body
    assert body["status"] == "error" and body["code"] == "order_not_found"
    assert isinstance(body["message"], str) and body["message"]
    assert payments(pv.db) == [] and events(pv.db) == []
    assert order(pv.db, "some_other_order") == UNTOUCHED


# ---------------------------------------------------------------- repetition

def test_repeated_verification_records_once(pv):
    pv.db.add_order("order_rep", 10000)
    pv.emu.add_payment(imp_uid="imp_rep", merchant_uid="order_rep", amount=10000, status="paid")
    for _ in range(5):
        status, body = verify(pv.httpd, "imp_rep", "order_rep")
        assert status == 200 and body["status"] == "success", body
        assert body["imp_uid"] == "imp_rep" and body["merchant_uid"] == "order_rep"
    only_payment(pv.db, "imp_rep", "order_rep", "paid", "paid")
    assert events(pv.db) == [{"imp_uid": "imp_rep", "merchant_uid": "order_rep",
                              "outcome": "paid"}]
    assert order(pv.db, "order_rep") == {"state": "paid", "paid_imp_uid": "imp_rep", "updates": 1}
