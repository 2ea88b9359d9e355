"""A stand-in for PortOne's browser side (V1), for the demo shop page
(demo/): ``GET /__emu/iamport.js`` plays https://cdn.iamport.kr/v1/iamport.js
(``IMP.init``, ``IMP.request_pay(params, callback)``) and ``POST
/__emu/checkout`` plays the checkout window: it "pays" ``params.amount`` for
``params.merchant_uid``, as the buyer's card would, and answers what
request_pay's callback gets.

As PortOne's window (portone-api.md 1.5, POST /payments/prepare): when an
amount was prepared for the merchant_uid, a checkout for another amount is
refused and nothing is paid. Otherwise the payment is made with whatever
amount the page asked for, which is why the server must verify it.

The callback's fields follow PortOne's V1 JS SDK (success, imp_uid,
merchant_uid, paid_amount, status, pay_method, currency, error_code,
error_msg); error_code "F1001" and the refusal's wording are [uncertain]."""
import json
import random
from decimal import Decimal, InvalidOperation

CHECKOUT_JS = r"""/* PortOne V1 JS SDK stand-in (mod_portone_verify's emulator): the page
 * calls it as it would call https://cdn.iamport.kr/v1/iamport.js. */
(function () {
    "use strict";
    var checkout = new URL("checkout", document.currentScript.src).href;
    window.IMP = {
        init: function (code) { this.code = code; },
        request_pay: function (params, callback) {
            fetch(checkout, {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify(params)
            }).then(function (r) { return r.json(); })
              .catch(function (e) {
                  return {success: false, error_code: "F0000", error_msg: String(e)};
              })
              .then(callback);
        }
    };
})();
"""

MSG_PREPARED_AMOUNT = "사전 등록된 결제 금액과 요청 금액이 일치하지 않습니다."   # [uncertain]


def _amount(v):
    try:
        d = Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() and d > 0 else None


class CheckoutStandIn:
    """Mixin of the Emulator (uses _lock, _prepared, add_payment, now)."""

    def checkout(self, params):
        """What IMP.request_pay's callback gets for ``params``; a paid
        payment is registered unless the checkout is refused."""
        merchant_uid = params.get("merchant_uid") if isinstance(params, dict) else None
        amount = _amount(params.get("amount")) if isinstance(params, dict) else None
        if not isinstance(merchant_uid, str) or not merchant_uid or amount is None:
            return {"success": False, "error_code": "F1000",
                    "error_msg": "merchant_uid와 amount는 필수입니다.", "merchant_uid": merchant_uid}
        with self._lock:
            prepared = self._prepared.get(merchant_uid)
        if prepared is not None and _amount(prepared["amount"]) != amount:
            return {"success": False, "error_code": "F1001", "error_msg": MSG_PREPARED_AMOUNT,
                    "merchant_uid": merchant_uid}
        imp_uid = "imp_%012d" % random.randrange(10 ** 12)
        paid = int(amount) if amount == amount.to_integral_value() else float(amount)
        now = self.now()
        self.add_payment(imp_uid=imp_uid, merchant_uid=merchant_uid, amount=paid,
                         status="paid", paid_at=now, currency=params.get("currency") or "KRW",
                         pay_method=params.get("pay_method") or "card",
                         name=params.get("name") or "주문명:결제테스트")
        return {"success": True, "imp_uid": imp_uid, "merchant_uid": merchant_uid,
                "paid_amount": paid, "status": "paid",
                "pay_method": params.get("pay_method") or "card",
                "currency": params.get("currency") or "KRW"}

    def _checkout_request(self, method, path, body):
        """(status, bytes, content type) for /__emu/iamport.js and
        /__emu/checkout, or None for another path."""
        if path == "/__emu/iamport.js" and method == "GET":
            return 200, CHECKOUT_JS.encode(), "text/javascript; charset=utf-8"
        if path == "/__emu/checkout" and method == "POST":
            try:
                params = json.loads(body.decode("utf-8") or "null")
            except ValueError:
                params = None
            answer = self.checkout(params)
            return 200, json.dumps(answer, ensure_ascii=False).encode(), \
                "application/json; charset=utf-8"
        return None
