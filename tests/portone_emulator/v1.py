"""V1 ("I'mport") API of the emulator (portone-api.md 1; V1SPEC = v1.openapi.json):
POST /users/getToken, GET /payments/{imp_uid}, GET /payments/find/{merchant_uid}
[/{payment_status}], POST|PUT /payments/prepare, GET /payments/prepare/{merchant_uid},
POST /payments/cancel. ``V1Api`` is a mixin of ``Emulator`` (its lock, config,
clock and registrations)."""
import copy
import json
import secrets
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, unquote

from .common import (EXTEND_BY, EXTEND_WINDOW, FIND_PATH, MSG_AUTH_FAILED, MSG_BAD_STATUS,
                     MSG_CANCEL_CHECKSUM, MSG_CANCEL_DONE, MSG_CANCEL_NO_UID, MSG_CANCEL_NONE,
                     MSG_CANCEL_NOT_PAID, MSG_CANCEL_TOO_MUCH, MSG_MISSING, MSG_NO_PAYMENT,
                     MSG_NOT_PREPARED, MSG_PREPARE_DUP, MSG_PREPARE_MISSING, PAYMENT_PATH,
                     PREPARE_PATH, V1_SORTINGS, V1_STATUSES, _err, _is_number, _ok)


def payment_response(fields, t):
    """Build a PaymentAnnotation (all fields of 1.4) with realistic defaults.

    ``t`` is the registration time (emulator clock). Registered fields win;
    the ``tier`` key and keys starting with ``__`` are metadata, not output.
    """
    imp_uid = fields["imp_uid"]
    status = fields.get("status", "paid")
    pay_method = fields.get("pay_method", "card")
    amount = fields.get("amount", 1000)
    pg_tid = "StdpayCARDINIpayTest%s" % str(imp_uid)[-12:]
    receipt = "https://iniweb.inicis.com/DefaultWebApp/mall/cr/cm/mCmReceipt_head.jsp?noTid=" + pg_tid
    r = {
        "amount": amount, "apply_num": "", "bank_code": None, "bank_name": None,
        "buyer_addr": "서울특별시 강남구 삼성동", "buyer_email": "buyer@example.com",
        "buyer_name": "홍길동", "buyer_postcode": "06018", "buyer_tel": "010-1234-5678",
        "cancel_amount": 0, "cancel_history": [], "cancel_reason": None,
        "cancel_receipt_urls": [], "cancelled_at": 0,
        "card_code": None, "card_name": None, "card_issuer_code": None,
        "card_issuer_name": None, "card_publisher_code": None,
        "card_publisher_name": None, "card_number": None, "card_quota": 0,
        "card_type": None, "cash_receipt_issued": False, "channel": "pc",
        "currency": "KRW", "custom_data": None, "customer_uid": None,
        "customer_uid_usage": None, "deposit_history": [], "emb_pg_provider": None,
        "escrow": False, "fail_reason": None, "failed_at": 0, "imp_uid": imp_uid,
        "merchant_uid": "merchant_%s" % imp_uid, "name": "주문명:결제테스트",
        "paid_at": 0, "pay_method": pay_method, "pg_id": "INIpayTest",
        "pg_provider": "html5_inicis", "pg_tid": pg_tid, "promotion": None,
        "receipt_url": receipt, "sandbox": False, "started_at": t - 20,
        "status": status,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "vbank_code": None, "vbank_date": 0, "vbank_holder": None,
        "vbank_issued_at": 0, "vbank_name": None, "vbank_num": None,
    }
    if pay_method == "card":
        r.update(apply_num="30012345", card_code="361", card_name="BC카드",
                 card_issuer_code="361", card_issuer_name="BC카드",
                 card_publisher_code="361", card_publisher_name="BC카드",
                 card_number="910020*********7", card_type=0)
    elif pay_method == "vbank":
        r.update(vbank_code="004", vbank_name="KB국민은행", vbank_num="T0309260000001",
                 vbank_holder="（주）포트원", vbank_date=t + 3 * 86400, vbank_issued_at=t)
    elif pay_method == "trans":
        r.update(bank_code="004", bank_name="KB국민은행")
    if status == "paid":
        r["paid_at"] = t
    elif status == "failed":
        r.update(failed_at=t, fail_reason="[결제포기] 사용자가 결제를 취소하셨습니다")
    elif status == "cancelled":
        r.update(paid_at=t - 10, cancelled_at=t, cancel_reason="고객 요청",
                 cancel_receipt_urls=[receipt])
        if _is_number(amount):
            r["cancel_amount"] = amount
            r["cancel_history"] = [{"pg_tid": pg_tid, "amount": amount, "cancelled_at": t,
                                    "reason": "고객 요청", "cancellation_id": "cancel_%s" % imp_uid,
                                    "receipt_url": receipt}]
    r.update({k: v for k, v in fields.items() if k != "tier" and not k.startswith("__")})
    return r



def _parse_params(headers, body):
    """A V1 request body: JSON or application/x-www-form-urlencoded (portone-api.md 1.1)."""
    ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if ctype == "application/json" or (
            ctype != "application/x-www-form-urlencoded" and text.lstrip().startswith("{")):
        try:
            obj = json.loads(text)
            return obj if isinstance(obj, dict) else {}
        except ValueError:
            return {}
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _decimal(v):
    """A V1 number from JSON (number) or a form (text); None when absent/empty, else ValueError."""
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError("not a number")
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not d.is_finite():
        raise ValueError("not a number")
    return d


def _num_out(d):
    """Decimal -> int when integral (as the live API prints 9000), else float."""
    return int(d) if d == d.to_integral_value() else float(d)



class V1Api:
    """The V1 API, a mixin of Emulator (its _lock, _config, now(), _payments,
    _prepared, _tokens)."""

    def _api(self, method, raw, headers, body):
        path, _, query = raw.partition("?")
        q = parse_qs(query, keep_blank_values=True)
        if path == "/users/getToken":
            if method != "POST":
                return 405, _err("Method Not Allowed")
            return self._get_token(headers, body)
        if path == "/payments/prepare" and method in ("POST", "PUT"):
            return self._prepare(method, headers, body)
        if path == "/payments/cancel" and method == "POST":
            return self._cancel_v1(headers, body)
        m = PREPARE_PATH.fullmatch(path)
        if m and method == "GET":
            return self._get_prepared(unquote(m.group(1)), headers)
        m = FIND_PATH.fullmatch(path)
        if m and method == "GET":
            return self._find(unquote(m.group(1)), unquote(m.group(2) or ""),
                              q.get("sorting", ["-started"])[-1], headers)
        m = PAYMENT_PATH.fullmatch(path)
        if not m:
            return 404, _err("Not Found")
        if method != "GET":
            return 405, _err("Method Not Allowed")
        include_sandbox = q.get("include_sandbox", ["false"])[-1].lower() == "true"
        return self._get_payment(unquote(m.group(1)), include_sandbox, headers)

    def _get_token(self, headers, body):
        params = _parse_params(headers, body)
        key, secret = params.get("imp_key"), params.get("imp_secret")
        if key in (None, "") or secret in (None, ""):
            return 400, _err(MSG_MISSING)
        with self._lock:
            cfg = self._config
            if key != cfg["imp_key"] or secret != cfg["imp_secret"]:
                return 401, _err(MSG_AUTH_FAILED)
            now = self.now()
            cur = self._tokens.get(key)
            if cur is not None and now < cur["expired_at"]:
                if cur["expired_at"] - now <= EXTEND_WINDOW:
                    cur["expired_at"] += EXTEND_BY
            else:
                cur = {"token": secrets.token_hex(20),
                       "expired_at": now + int(cfg["token_lifetime"])}
                self._tokens[key] = cur
                self._tokens_issued += 1
            return 200, _ok({"access_token": cur["token"], "now": now,
                             "expired_at": cur["expired_at"]})

    @staticmethod
    def _token_from(headers):
        auth = headers.get("Authorization")
        if auth is not None:            # Authorization wins over X-ImpTokenHeader
            auth = auth.strip()
            return auth[7:].strip() if auth[:7].lower() == "bearer " else auth
        return headers.get("X-ImpTokenHeader")

    def _v1_authorized(self, headers):
        token = self._token_from(headers)
        with self._lock:
            now = self.now()
            return bool(token) and any(t["token"] == token and now < t["expired_at"]
                                       for t in self._tokens.values())

    @staticmethod
    def _tier_of(headers):
        tier = headers.get("Tier")
        return tier.strip() if tier is not None else None

    def _get_payment(self, imp_uid, include_sandbox, headers):
        if not self._v1_authorized(headers):
            return 401, _err("Unauthorized")
        with self._lock:
            reg = self._payments.get(imp_uid)
            if reg is None:
                return 404, _err(MSG_NO_PAYMENT)
            fields, t = copy.deepcopy(reg["fields"]), reg["t"]
        if fields.get("tier") != self._tier_of(headers):
            return 404, _err(MSG_NO_PAYMENT)
        if fields.get("sandbox") is True and not include_sandbox:
            return 404, _err(MSG_NO_PAYMENT)
        return self._v1_answer(fields, t)

    @staticmethod
    def _v1_answer(fields, t, resp=None):
        if "__envelope__" in fields:
            return int(fields.get("__status__", 200)), fields["__envelope__"]
        status = int(fields.get("__status__", 200))
        if "__response__" in fields:
            resp = fields["__response__"]
        elif "__code__" in fields:
            resp = None
        elif resp is None:
            resp = payment_response(fields, t)
        return status, {"code": fields.get("__code__", 0),
                        "message": fields.get("__message__"), "response": resp}

    def _v1_candidates(self, merchant_uid, tier):
        """(rendered payment, registration) of the payments with this merchant_uid."""
        out = []
        for reg in self._payments.values():
            fields = reg["fields"]
            if fields.get("tier") != tier:
                continue
            r = payment_response(copy.deepcopy(fields), reg["t"])
            if r.get("merchant_uid") == merchant_uid:
                out.append((r, reg))
        return out

    def _find(self, merchant_uid, status, sorting, headers):
        """GET /payments/find/{merchant_uid}[/{payment_status}] (V1SPEC getPaymentByMerchantUid):
        the first payment by ``sorting`` (default -started); with a status, the latest in it.
        [uncertain] test-channel (sandbox) payments are not hidden here: the 2026-01-26
        include_sandbox change is documented for GET /payments/{imp_uid} only."""
        if not self._v1_authorized(headers):
            return 401, _err("Unauthorized")
        if status and status not in V1_STATUSES:
            return 400, _err(MSG_BAD_STATUS)                 # [uncertain] status and code
        if sorting not in V1_SORTINGS:
            return 400, _err("sorting 파라메터가 올바르지 않습니다.")  # [uncertain]
        with self._lock:
            cands = [(r, reg) for r, reg in self._v1_candidates(merchant_uid, self._tier_of(headers))
                     if not status or r.get("status") == status]
            if not cands:
                return 404, _err(MSG_NO_PAYMENT)   # NIAMP: same message as GET /payments/{imp_uid}
            field = {"started": "started_at", "paid": "paid_at"}.get(sorting.lstrip("-"))

            def key(c):
                r, reg = c
                v = reg["updated"] if field is None else r.get(field)
                return (v if _is_number(v) else 0, reg["seq"])
            cands.sort(key=key, reverse=sorting.startswith("-"))
            r, reg = cands[0]
            return self._v1_answer(copy.deepcopy(reg["fields"]), reg["t"], r)

    def _prepare(self, method, headers, body):
        """POST /payments/prepare registers {merchant_uid, amount, currency}; PUT changes it
        (V1SPEC preparePayment / editPreparePayment; answer PaymentPrepareAnnotation)."""
        if not self._v1_authorized(headers):
            return 401, _err("Unauthorized")
        params = _parse_params(headers, body)
        merchant_uid = params.get("merchant_uid")
        try:
            amount = _decimal(params.get("amount"))
        except ValueError:
            return 400, _err("amount는 숫자여야 합니다.")          # [uncertain]
        if not isinstance(merchant_uid, str) or merchant_uid == "" or amount is None:
            return 400, _err(MSG_PREPARE_MISSING)              # [uncertain] status and wording
        if len(merchant_uid) > 40:
            # V1SPEC preparePayment/editPreparePayment: merchant_uid maxLength 40
            return 400, _err("merchant_uid는 40자 이내여야 합니다.")  # [uncertain] status and wording
        currency = params.get("currency")
        currency = currency if isinstance(currency, str) and currency else None
        entry = {"merchant_uid": merchant_uid, "amount": _num_out(amount), "currency": currency}
        with self._lock:
            exists = merchant_uid in self._prepared
            if method == "POST" and exists:
                return 200, {"code": 1, "message": MSG_PREPARE_DUP, "response": None}
            if method == "PUT" and not exists:
                # V1SPEC: 404 "요청된 merchant_uid 로 등록된 결제사전정보를 찾을 수 없는 경우"
                return 404, _err(MSG_NOT_PREPARED)
            self._prepared[merchant_uid] = entry
        # [uncertain] currency is echoed as sent, null when not sent (V1SPEC: "null일 경우
        # 통화 검증을 하지 않습니다")
        return 200, _ok(dict(entry))

    def _get_prepared(self, merchant_uid, headers):
        if not self._v1_authorized(headers):
            return 401, _err("Unauthorized")
        with self._lock:
            entry = self._prepared.get(merchant_uid)
        if entry is None:
            return 404, _err(MSG_NOT_PREPARED)     # [uncertain] code -1; V1SPEC lists 200/401 only
        return 200, _ok(dict(entry))

    def _cancel_v1(self, headers, body):
        """POST /payments/cancel (V1SPEC cancelPayment): imp_uid wins over merchant_uid;
        amount absent or 0 = the whole remainder; checksum = the cancellable remainder
        before this cancel (refused when different; skipped when absent). Refusals are
        HTTP 200 with code 1 (portone-api.md 1.1, PY1). Answers the updated payment."""
        if not self._v1_authorized(headers):
            return 401, _err("Unauthorized")
        params = _parse_params(headers, body)
        imp_uid, merchant_uid = params.get("imp_uid"), params.get("merchant_uid")
        if not imp_uid and not merchant_uid:
            return 200, {"code": 1, "message": MSG_CANCEL_NO_UID, "response": None}
        try:
            amount = _decimal(params.get("amount"))
            checksum = _decimal(params.get("checksum"))
        except ValueError:
            return 200, {"code": 1, "message": "금액은 숫자여야 합니다.", "response": None}  # [uncertain]
        reason = params.get("reason")
        # PaymentCancelAnnotation.reason is a required string: "" when none was given [uncertain]
        reason = reason if isinstance(reason, str) else ""
        tier = self._tier_of(headers)
        with self._lock:
            reg = None
            if imp_uid:
                reg = self._payments.get(imp_uid)
                if reg is not None and reg["fields"].get("tier") != tier:
                    reg = None
            else:
                # [uncertain] which of several payments of one merchant_uid is cancelled:
                # the latest paid one, else the latest
                cands = self._v1_candidates(merchant_uid, tier)
                cands.sort(key=lambda c: (c[0].get("status") == "paid",
                                          c[0].get("started_at") or 0, c[1]["seq"]))
                reg = cands[-1][1] if cands else None
            if reg is None:
                return 200, {"code": 1, "message": MSG_CANCEL_NONE, "response": None}
            fields = reg["fields"]
            r = payment_response(copy.deepcopy(fields), reg["t"])
            try:
                paid, done = _decimal(r.get("amount")), _decimal(r.get("cancel_amount")) or 0
            except ValueError:
                paid = None
            if paid is None:
                return 500, _err("emulator: the payment's amount is not a number")
            remainder = paid - done
            if r.get("status") == "cancelled" or remainder <= 0:
                return 200, {"code": 1, "message": MSG_CANCEL_DONE, "response": None}
            if r.get("status") != "paid":
                return 200, {"code": 1, "message": MSG_CANCEL_NOT_PAID, "response": None}
            if checksum is not None and checksum != remainder:
                return 200, {"code": 1, "message": MSG_CANCEL_CHECKSUM, "response": None}
            if amount is None or amount == 0:
                amount = remainder
            if amount < 0 or amount > remainder:
                return 200, {"code": 1, "message": MSG_CANCEL_TOO_MUCH, "response": None}
            now = self.now()
            history = list(r.get("cancel_history") or [])
            receipt = r.get("receipt_url")
            history.append({"pg_tid": r.get("pg_tid"), "amount": _num_out(amount),
                            "cancelled_at": now, "reason": reason,
                            "cancellation_id": "cancel_%s_%d" % (r["imp_uid"], len(history) + 1),
                            "receipt_url": receipt})
            total_cancelled = done + amount
            # V1 has no partially-cancelled status: a partial cancel stays "paid"
            # (portone-api.md 1.4 [uncertain])
            fields.update(cancel_amount=_num_out(total_cancelled), cancel_history=history,
                          cancelled_at=now, cancel_reason=reason,
                          cancel_receipt_urls=list(r.get("cancel_receipt_urls") or []) + [receipt],
                          status="cancelled" if total_cancelled >= paid else "paid")
            if fields["status"] == "cancelled":
                fields.setdefault("paid_at", r.get("paid_at"))
            reg["updated"], reg["seq"] = now, self._next_seq()
            fields = copy.deepcopy(fields)
            t = reg["t"]
        return 200, _ok(payment_response(fields, t))
