"""V2 API of the emulator (portone-api.md 2; V2SPEC = v2.openapi.json @ af926bd2):
GET /payments/{paymentId}, POST /payments/{paymentId}/pre-register,
POST /payments/{paymentId}/cancel, POST /login/api-secret, POST /token/refresh,
and the Idempotency-Key of its POST requests. ``v2_payment_object`` builds the
Payment of each status; ``V2Api`` is a mixin of ``Emulator``."""
import base64
import copy
import hmac
import json
import re
import secrets
from urllib.parse import parse_qs, unquote_to_bytes

from .common import (IDEMPOTENCY_TTL, PAYMENT_PATH, TEST_V2_MERCHANT_ID, TEST_V2_STORE_ID,
                     V2_ACTION_PATH, _is_int, _uid, _v2_err, _vat, iso_time)

# Keys of add_v2_payment() that shape the answer but are not Payment fields.
V2_SHORTCUTS = frozenset(("paymentId", "total", "taxFree", "vat", "discount", "cancelledAmount",
                          "cancelledTaxFree", "channel_type", "method", "method_fields"))
_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/120.0 Safari/537.36")


def _v2_method(kind, pid, status, t, extra):
    """A PaymentMethod (v2.openapi.json oneOf by ``type``). Values are illustrative."""
    if isinstance(kind, dict):
        m = copy.deepcopy(kind)
    elif kind == "card":
        # PaymentMethodCard: only "type" is required. [uncertain] the code format of
        # card.publisher / card.issuer (strings in the spec, no enum)
        m = {"type": "PaymentMethodCard",
             "card": {"publisher": "BC", "issuer": "BC", "brand": "LOCAL", "type": "CREDIT",
                      "ownerType": "PERSONAL", "bin": "91002000", "name": "BC카드",
                      "number": "91002000****7123"},
             "approvalNumber": "30012345",
             "installment": {"month": 0, "isInterestFree": False},
             "pointUsed": False}
    elif kind == "vbank":
        # PaymentMethodVirtualAccount: required type, accountNumber
        m = {"type": "PaymentMethodVirtualAccount", "bank": "KOOKMIN",
             "accountNumber": "T0309260000001", "accountType": "NORMAL",
             "remitteeName": "(주)포트원", "expiredAt": iso_time(t + 3 * 86400),
             "issuedAt": iso_time(t, 512)}
        if status in ("PAID", "PARTIAL_CANCELLED", "CANCELLED"):
            m["remitterName"] = "홍길동"
    elif kind == "transfer":
        m = {"type": "PaymentMethodTransfer", "bank": "SHINHAN", "accountNumber": "110******123"}
    elif kind == "easypay":
        m = {"type": "PaymentMethodEasyPay", "provider": "KAKAOPAY",
             "easyPayMethod": {"type": "PaymentMethodEasyPayMethodCharge"}}
    else:                               # an unknown (future) method type
        m = {"type": str(kind)}
    if extra:
        m.update(copy.deepcopy(extra))
    return m


def _v2_cancellation(pid, n, amount, tax_free, reason, t, trigger, status="SUCCEEDED",
                     vat=None):
    """A PaymentCancellation (oneOf by status: SUCCEEDED, REQUESTED, FAILED; required
    status, id, totalAmount, taxFreeAmount, vatAmount, reason, requestedAt)."""
    cid = _uid("cancellation", pid, n)
    c = {"status": status, "id": cid, "pgCancellationId": "StdpayCARDINIpayTest" + cid[:12],
         "totalAmount": amount, "taxFreeAmount": tax_free,
         "vatAmount": vat if vat is not None else (
             _vat(amount, tax_free) if _is_int(amount) and _is_int(tax_free) else 0),
         "reason": reason}
    if status == "SUCCEEDED":
        c["cancelledAt"] = iso_time(t, 733)
    c["requestedAt"] = iso_time(t, 702)
    if status == "SUCCEEDED":
        c["receiptUrl"] = "https://iniweb.inicis.com/receipt/cancel/" + cid
    c["trigger"] = trigger
    return c


def _drop_path(obj, dotted):
    parts = dotted.split(".")
    for p in parts[:-1]:
        obj = obj.get(p) if isinstance(obj, dict) else None
        if obj is None:
            return
    if isinstance(obj, dict):
        obj.pop(parts[-1], None)


def v2_payment_object(fields, t, ts=None, updated=None):
    """Build a V2 ``Payment`` (v2.openapi.json ``Payment``, a oneOf by ``status``).

    ``t`` is the registration time, ``ts`` the time of the last status change and
    ``updated`` that of the last change (emulator clock). Shortcut keys (V2_SHORTCUTS)
    shape the answer; any other key is a Payment field and wins over the generated
    one (None gives JSON null); ``__drop__`` lists (dotted) fields to leave out.
    """
    ts = t if ts is None else ts
    updated = ts if updated is None else updated
    pid = fields["paymentId"]
    status = fields.get("status", "PAID")
    total = fields.get("total", 1000)
    tax_free = fields.get("taxFree", 0)
    discount = fields.get("discount", 0)
    ints = _is_int(total) and _is_int(tax_free) and _is_int(discount)
    paid_like = status in ("PAID", "PARTIAL_CANCELLED", "CANCELLED")
    if status == "CANCELLED":
        default_cancelled = total if ints else 0
    elif status == "PARTIAL_CANCELLED":
        default_cancelled = max(1, total // 2) if ints and total > 1 else 0
    else:
        default_cancelled = 0
    cancelled = fields.get("cancelledAmount", default_cancelled)
    # PaymentAmount: required total, taxFree, discount, paid, cancelled, cancelledTaxFree;
    # optional vat, supply (all int64)
    amount = {"total": total, "taxFree": tax_free}
    if ints:
        vat = fields.get("vat", _vat(total, tax_free))
        amount["vat"] = vat
        if _is_int(vat):
            amount["supply"] = total - tax_free - vat
    amount.update(discount=discount,
                  paid=((total - discount) if ints else total) if paid_like else 0,
                  cancelled=cancelled, cancelledTaxFree=fields.get("cancelledTaxFree", 0))
    ctype = fields.get("channel_type", "LIVE")
    test = ctype == "TEST"
    # transactionId: a UUID as in WH2's examples; [uncertain] the merchantId, channel id
    # and pgTxId formats (strings in the spec)
    p = {"status": status, "id": pid, "transactionId": _uid("transaction", pid),
         "merchantId": TEST_V2_MERCHANT_ID, "storeId": TEST_V2_STORE_ID}
    method = fields.get("method", "vbank" if status == "VIRTUAL_ACCOUNT_ISSUED" else
                        None if status in ("READY", "FAILED") else "card")
    if method is not None:
        p["method"] = _v2_method(method, pid, status, t, fields.get("method_fields"))
    # SelectedChannel: required type (LIVE|TEST), pgProvider, pgMerchantId. Not required
    # in ReadyPayment and FailedPayment: left out there unless channel_type is given.
    if status not in ("READY", "FAILED") or "channel_type" in fields:
        p["channel"] = {"type": ctype, "id": "channel-id-" + _uid("channel", ctype)[:18],
                        "key": "channel-key-" + _uid("channel-key", ctype),
                        "name": "KG이니시스 " + ("테스트" if test else "실연동"),
                        "pgProvider": "INICIS_V2",
                        "pgMerchantId": "INIpayTest" if test else "MOIportone1"}
    pg_tx = "StdpayCARDINIpayTest" + _uid("pgtx", pid).replace("-", "")[:20]
    p.update({"version": "V2", "requestedAt": iso_time(t - 20, 81),
              "updatedAt": iso_time(max(updated, ts), 455), "statusChangedAt": iso_time(ts, 290),
              "orderName": "주문명:결제테스트", "amount": amount, "currency": "KRW",
              # Customer: no required field; PaymentOrigin: required platformType, ipAddress
              "customer": {"id": "customer-0001", "name": "홍길동",
                           "email": "buyer@example.com", "phoneNumber": "01012345678"},
              "origin": {"platformType": "PC", "ipAddress": "203.0.113.7", "userAgent": _UA,
                         "url": "https://shop.example.com/checkout"}})
    receipt = "https://iniweb.inicis.com/receipt/" + pg_tx
    if status in ("PAY_PENDING", "VIRTUAL_ACCOUNT_ISSUED"):
        p["pgTxId"] = pg_tx
    elif status == "PAID":
        # PaidPayment: required paidAt, disputes
        p.update(paidAt=iso_time(ts, 290), pgTxId=pg_tx, receiptUrl=receipt, disputes=[],
                 cancellations=[])
    elif status == "FAILED":
        # FailedPayment: required failedAt, failure {reason?, pgCode?, pgMessage?}
        p.update(failedAt=iso_time(ts, 290),
                 failure={"reason": "사용자가 결제를 취소하였습니다.", "pgCode": "V801",
                          "pgMessage": "사용자가 결제를 취소하였습니다."})
    elif status in ("PARTIAL_CANCELLED", "CANCELLED"):
        # CancelledPayment / PartialCancelledPayment: required cancelledAt, cancellations
        cancels = []
        if _is_int(cancelled) and cancelled > 0:
            cancels.append(_v2_cancellation(pid, 0, cancelled, amount["cancelledTaxFree"],
                                            "고객 요청", ts, "CONSOLE"))
        p.update(paidAt=iso_time(ts - 10, 290), pgTxId=pg_tx, receiptUrl=receipt,
                 cancelledAt=iso_time(ts, 733), cancellations=cancels)
    if "customData" not in fields:
        p["customData"] = json.dumps({"item": "item-a"})
    for k, v in fields.items():
        if k not in V2_SHORTCUTS and not k.startswith("__"):
            p[k] = copy.deepcopy(v)
    for dotted in fields.get("__drop__", ()):
        _drop_path(p, dotted)
    return p



class V2Api:
    """The V2 API and its Idempotency-Key, a mixin of Emulator (its _lock, _config,
    now(), _v2_payments, _v2_prepared, _v2_tokens, _idem)."""

    @staticmethod
    def _v2_render(reg):
        return v2_payment_object(copy.deepcopy(reg["fields"]), reg["t"], reg["ts"], reg["updated"])

    # ---- V2 API ----
    def _v2_authorized(self, headers):
        """``Authorization: PortOne <secret>`` or ``Bearer <accessToken>`` (V2SPEC
        securitySchemes portOne, bearerJwt; HTTP auth schemes are case-insensitive)."""
        scheme, _, cred = (headers.get("Authorization") or "").strip().partition(" ")
        cred = cred.strip()
        with self._lock:
            if scheme.lower() == "portone":
                secret = self._config["v2_secret"] or ""
                return bool(cred) and hmac.compare_digest(cred.encode(), secret.encode())
            if scheme.lower() == "bearer":
                tok = self._v2_tokens.get(cred)
                return bool(tok) and tok["kind"] == "access" and self.now() < tok["expires"]
        return False

    def _v2_store(self, store_id):
        """The store a V2 request acts on: its storeId, else the secret's own store
        ("미입력시 인증 정보의 상점 아이디를 사용"). Returns (store, error answer or None)."""
        with self._lock:
            cfg = self._config
            if store_id is None:
                return cfg["v2_store_id"], None
            allowed = cfg["v2_store_ids"]
            if not isinstance(store_id, str) or store_id == "":
                return None, (400, _v2_err("INVALID_REQUEST", "storeId가 올바르지 않습니다."))
            # "접근 권한이 있는 상점 아이디만 입력 가능" -> 403 FORBIDDEN [uncertain]
            if allowed is not None and store_id not in allowed and store_id != cfg["v2_store_id"]:
                return None, (403, _v2_err("FORBIDDEN", "요청이 거절되었습니다."))
            return store_id, None

    def _v2_lookup(self, pid, store):
        """The registration of a payment in ``store``. A payment of another store is
        not found (404 PAYMENT_NOT_FOUND), as any id unknown in the store asked: the
        spec scopes each call to one store ("미입력시 인증 정보의 상점 아이디를 사용") and
        lists no other error for it [uncertain]. configure(v2_store_check=False) turns the
        scoping off, to play an upstream that answers a payment of another store."""
        reg = self._v2_payments.get(pid)
        if reg is None:
            return None
        if self._config["v2_store_check"] and reg["fields"].get("storeId") != store:
            return None
        return reg

    def _api_v2(self, method, raw, headers, body):
        path, _, query = raw.partition("?")
        if path == "/login/api-secret" or path == "/token/refresh":
            if method != "POST":
                return 405, _v2_err("METHOD_NOT_ALLOWED")
            return self._v2_login(path, body)
        m = V2_ACTION_PATH.fullmatch(path)
        m2 = PAYMENT_PATH.fullmatch(path)
        if not m and not m2:
            return 404, _v2_err("NOT_FOUND", "Not Found")       # [uncertain] unknown route
        if (m and method != "POST") or (m2 and method != "GET"):
            return 405, _v2_err("METHOD_NOT_ALLOWED", "Method Not Allowed")
        if not self._v2_authorized(headers):
            # V2SPEC: 401 UnauthorizedError "인증 정보가 올바르지 않은 경우" [message wording uncertain]
            return 401, _v2_err("UNAUTHORIZED", "인증 정보가 올바르지 않습니다.")
        try:
            pid = unquote_to_bytes((m or m2).group(1)).decode("utf-8")
        except UnicodeDecodeError:
            return 400, _v2_err("INVALID_REQUEST", "paymentId는 UTF-8이어야 합니다.")
        if m2:
            q = parse_qs(query, keep_blank_values=True)
            return self._v2_get_payment(pid, q["storeId"][-1] if "storeId" in q else None)
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return 400, _v2_err("INVALID_REQUEST", "요청 본문이 올바르지 않습니다.")
        if m.group(2) == "pre-register":
            return self._v2_pre_register(pid, data)
        return self._v2_cancel(pid, data)

    def _v2_login(self, path, body):
        """POST /login/api-secret {apiSecret} and /token/refresh {refreshToken} ->
        {accessToken, refreshToken} (V2SPEC LoginViaApiSecretResponse / RefreshTokenResponse).
        [uncertain] token lifetimes and format; a refresh token is used once here."""
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            data = None
        field = "apiSecret" if path == "/login/api-secret" else "refreshToken"
        value = data.get(field) if isinstance(data, dict) else None
        if not isinstance(value, str) or value == "":
            return 400, _v2_err("INVALID_REQUEST", "%s가 필요합니다." % field)
        with self._lock:
            now = self.now()
            if field == "apiSecret":
                ok = hmac.compare_digest(value.encode(), (self._config["v2_secret"] or "").encode())
            else:
                tok = self._v2_tokens.get(value)
                ok = bool(tok) and tok["kind"] == "refresh" and now < tok["expires"]
                if ok:
                    del self._v2_tokens[value]
            if not ok:
                return 401, _v2_err("UNAUTHORIZED", "인증 정보가 올바르지 않습니다.")
            life = int(self._config["v2_token_lifetime"])

            def jwt_like(kind):
                head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
                claims = json.dumps({"sub": TEST_V2_MERCHANT_ID, "typ": kind, "iat": now,
                                     "jti": secrets.token_hex(8)}).encode()
                return b".".join((head, base64.urlsafe_b64encode(claims).rstrip(b"="),
                                  base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"="))
                                 ).decode()
            access, refresh = jwt_like("access"), jwt_like("refresh")
            self._v2_tokens[access] = {"kind": "access", "expires": now + life}
            self._v2_tokens[refresh] = {"kind": "refresh", "expires": now + 24 * 3600}
        return 200, {"accessToken": access, "refreshToken": refresh}

    def _v2_get_payment(self, pid, store_q):
        """GET /payments/{paymentId}[?storeId=] (V2SPEC getPayment): 200 Payment,
        404 PAYMENT_NOT_FOUND (also for a payment of another store, see _v2_lookup)."""
        store, err = self._v2_store(store_q)
        if err:
            return err
        with self._lock:
            reg = self._v2_lookup(pid, store)
            if reg is None:
                return 404, _v2_err("PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다.")
            fields = reg["fields"]
            status = int(fields.get("__status__", 200))
            if "__response__" in fields:
                return status, copy.deepcopy(fields["__response__"])
            return status, self._v2_render(reg)

    def _v2_pre_register(self, pid, data):
        """POST /payments/{paymentId}/pre-register (V2SPEC preRegisterPayment): body
        PreRegisterPaymentBody {storeId?, totalAmount?, taxFreeAmount?, currency?} (no
        field is required by the spec); 200 {} (PreRegisterPaymentResponse has no
        properties); 409 ALREADY_PAID when the payment is paid. [uncertain] a second
        pre-register of an unpaid payment replaces the first (no error is specified)."""
        for k in ("totalAmount", "taxFreeAmount"):
            if k in data and not (_is_int(data[k]) and data[k] >= 0):
                return 400, _v2_err("INVALID_REQUEST", "%s는 0 이상의 정수여야 합니다." % k)
        cur = data.get("currency")
        # Currency is an ISO 4217 enum in the spec (181 values); checked by shape here
        if "currency" in data and not (isinstance(cur, str) and re.fullmatch(r"[A-Z]{3}", cur)):
            return 400, _v2_err("INVALID_REQUEST", "currency가 올바르지 않습니다.")
        store, err = self._v2_store(data.get("storeId"))
        if err:
            return err
        with self._lock:
            reg = self._v2_lookup(pid, store)
            if reg is not None and self._v2_render(reg).get("status") in (
                    "PAID", "PARTIAL_CANCELLED", "CANCELLED"):
                return 409, _v2_err("ALREADY_PAID", "결제가 이미 완료되었습니다.")
            entry = copy.deepcopy(data)
            entry["storeId"] = store
            self._v2_prepared[pid] = entry
        return 200, {}

    def _v2_cancel(self, pid, data):
        """POST /payments/{paymentId}/cancel (V2SPEC cancelPayment, CancelPaymentBody:
        reason required; amount absent = the whole cancellable amount; currentCancellableAmount
        guards against double cancels). 200 {"cancellation": PaymentCancellation}."""
        reason = data.get("reason")
        if not isinstance(reason, str) or reason == "":
            return 400, _v2_err("INVALID_REQUEST", "reason은 필수입니다.")
        for k in ("amount", "taxFreeAmount", "vatAmount", "currentCancellableAmount"):
            if k in data and not (_is_int(data[k]) and data[k] >= 0):
                return 400, _v2_err("INVALID_REQUEST", "%s는 0 이상의 정수여야 합니다." % k)
        if data.get("amount") == 0:
            return 400, _v2_err("INVALID_REQUEST", "amount는 0보다 커야 합니다.")  # [uncertain]
        store, err = self._v2_store(data.get("storeId"))
        if err:
            return err
        with self._lock:
            reg = self._v2_lookup(pid, store)
            if reg is None:
                return 404, _v2_err("PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다.")
            fields = reg["fields"]
            p = self._v2_render(reg)
            status = p.get("status")
            if status == "CANCELLED":
                return 409, _v2_err("PAYMENT_ALREADY_CANCELLED", "결제가 이미 취소되었습니다.")
            if status not in ("PAID", "PARTIAL_CANCELLED"):
                # [uncertain] e.g. cancelling an issued virtual account before the deposit
                return 409, _v2_err("PAYMENT_NOT_PAID", "결제가 완료되지 않았습니다.")
            amt = p.get("amount") if isinstance(p.get("amount"), dict) else {}
            total, done = amt.get("total"), amt.get("cancelled", 0)
            done_tf = amt.get("cancelledTaxFree", 0)
            if not (_is_int(total) and _is_int(done) and _is_int(done_tf)):
                return 500, _v2_err("INTERNAL_SERVER_ERROR", "emulator: amounts are not integers")
            # [uncertain] cancellable = total - cancelled (the spec does not define it;
            # with a discount it might be paid - cancelled)
            cancellable = total - done
            cur = data.get("currentCancellableAmount")
            if cur is not None and cur != cancellable:
                return 409, _v2_err("CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
                                    "취소 가능 잔액 검증에 실패했습니다.")
            amount = data.get("amount", cancellable)
            if amount > cancellable:
                return 409, _v2_err("CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT",
                                    "결제 취소 금액이 취소 가능 금액을 초과했습니다.")
            tax_free = data.get("taxFreeAmount", 0)
            if tax_free > amount:
                return 409, _v2_err("SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT",
                                    "면세 금액 등 하위 항목들의 합이 전체 취소 금액을 초과했습니다.")
            outcome = fields.get("__cancel_status__", "SUCCEEDED")
            if outcome == "PG_PROVIDER":
                return 502, _v2_err("PG_PROVIDER", "PG사에서 오류를 전달했습니다.",
                                    pgCode="F113", pgMessage="취소 처리 중 오류가 발생했습니다.")
            now = self.now()
            reg["n"] += 1
            c = _v2_cancellation(pid, reg["n"], amount, tax_free, reason, now, "API",
                                 status=outcome, vat=data.get("vatAmount"))
            cancels = list(p.get("cancellations") or []) + [c]
            fields["cancellations"] = cancels
            if outcome == "SUCCEEDED":
                done += amount
                fields["cancelledAmount"] = done
                fields["cancelledTaxFree"] = done_tf + tax_free
                if isinstance(fields.get("amount"), dict):
                    fields["amount"].update(cancelled=done, cancelledTaxFree=done_tf + tax_free)
                if "paidAt" in p:
                    fields.setdefault("paidAt", p["paidAt"])
                fields["status"] = "CANCELLED" if done >= total else "PARTIAL_CANCELLED"
                reg["ts"] = now
            reg["updated"] = now
        return 200, {"cancellation": c}

    # ---- Idempotency-Key (V2 docs "멱등 키") ----
    def _idem_begin(self, method, raw, headers, body):
        """None (no key), ("answer", status, payload) or ("new", key)."""
        if method not in ("POST", "PUT", "PATCH", "DELETE"):
            return None                 # "GET은 무시됨"
        key = headers.get("Idempotency-Key")
        if key is None or not self._v2_authorized(headers):
            return None
        key = key.strip()
        if len(key) >= 2 and key[0] == key[-1] == '"':
            key = key[1:-1]             # RFC 8941 sf-string; [uncertain] unquoted keys accepted
        if not (16 <= len(key) <= 256) or any(c in '"\\' or not 32 <= ord(c) < 127 for c in key):
            # "16~256자의 ASCII 문자열" [uncertain: the error answered]
            return "answer", 400, _v2_err("INVALID_REQUEST", "Idempotency-Key가 올바르지 않습니다.")
        try:
            fp_body = json.dumps(json.loads(body.decode("utf-8")), sort_keys=True)
        except ValueError:
            fp_body = body.decode("utf-8", "replace")
        fp = (method, raw, fp_body)
        with self._lock:
            now = self.now()
            for k in [k for k, e in self._idem.items() if now - e["t"] > IDEMPOTENCY_TTL]:
                del self._idem[k]
            e = self._idem.get(key)
            if e is None:
                self._idem[key] = {"state": "busy", "fp": fp, "t": now}
                return "new", key
            if e["state"] == "busy":
                return "answer", 409, _v2_err("IDEMPOTENCY_OUTSTANDING_REQUEST",
                                              "같은 멱등 키의 요청이 처리 중입니다.")
            if e["fp"] != fp:
                # "서로 다른 요청을 같은 멱등 키로 요청해서는 안 됩니다." [uncertain: the answer;
                # 422 as the IETF idempotency-key draft says]
                return "answer", 422, _v2_err("INVALID_REQUEST",
                                              "다른 요청에 사용된 멱등 키입니다.")
            self._idem_replays += 1
            return "answer", e["status"], copy.deepcopy(e["payload"])

    def _idem_end(self, key, status, payload):
        """Keep the answer for replays ("완료된 요청을 재시도하는 경우: 기존 응답을 그대로 반환");
        [uncertain] 5xx answers are not kept, so a retry runs again."""
        with self._lock:
            e = self._idem.get(key)
            if e is None:
                return
            if status >= 500 or payload is None:
                del self._idem[key]
            else:
                e.update(state="done", status=status, payload=copy.deepcopy(payload))
