"""Self-test of the emulator's browser side (checkout.py), the demo page's
stand-in of PortOne's V1 JS SDK and checkout window: a checkout pays what
it is asked, except another amount than a prepared one."""
from emulator_client import emu, emu_server, get_payment, get_token, jreq, request  # noqa: F401


def test_the_sdk_stand_in_is_served_as_javascript(emu):
    status, headers, body = request(emu, "GET", "/__emu/iamport.js")
    assert status == 200 and headers.getheader("Content-Type").startswith("text/javascript")
    assert b"request_pay" in body and b"IMP" in body


def test_a_checkout_pays_the_amount_asked(emu):
    status, rsp = jreq(emu, "POST", "/__emu/checkout",
                       {"merchant_uid": "o_co1", "amount": 100, "pay_method": "card"})
    assert status == 200 and rsp["success"] is True and "error_code" not in rsp, rsp
    assert (rsp["merchant_uid"], rsp["paid_amount"], rsp["status"]) == ("o_co1", 100, "paid")
    status, env = get_payment(emu, rsp["imp_uid"], get_token(emu)["access_token"])
    assert status == 200, env
    p = env["response"]
    assert (p["merchant_uid"], p["amount"], p["status"], p["currency"]) == ("o_co1", 100, "paid",
                                                                             "KRW")
    assert p["paid_at"] > 0
    assert emu.counters()["requests"][-1]["path"] == "/payments/" + rsp["imp_uid"]


def test_a_prepared_order_is_paid_only_with_its_amount(emu):
    emu.add_prepared("o_co2", 10000)
    status, rsp = jreq(emu, "POST", "/__emu/checkout", {"merchant_uid": "o_co2", "amount": 9000})
    assert status == 200 and rsp["success"] is False and rsp["error_code"], rsp
    assert not emu._payments                # nothing was paid
    status, rsp = jreq(emu, "POST", "/__emu/checkout", {"merchant_uid": "o_co2", "amount": "10000.0"})
    assert rsp["success"] is True and rsp["paid_amount"] == 10000, rsp


def test_a_checkout_without_order_or_amount_is_refused(emu):
    for params in ({"amount": 100}, {"merchant_uid": "o_co3"},
                   {"merchant_uid": "o_co3", "amount": 0}, {"merchant_uid": "o_co3", "amount": "x"}):
        status, rsp = jreq(emu, "POST", "/__emu/checkout", params)
        assert status == 200 and rsp["success"] is False and rsp["error_code"], (params, rsp)
    status, rsp = jreq(emu, "POST", "/__emu/checkout", None)
    assert rsp["success"] is False
    assert not emu._payments
