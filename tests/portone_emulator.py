#!/usr/bin/python3
"""PortOne API emulator (V1 "I'mport" and V2) for mod_portone_verify tests and demo.

Follows /work/shared/portone-api.md (sections 1, 2 and 5) and PortOne's OpenAPI specs
(portone-io/developers.portone.io @ af926bd2, src/schema/v1.openapi.json and
src/schema/v2.openapi.json: the V2 shapes below are those schemas). Standard library only.

V1 API:  POST /users/getToken, GET /payments/{imp_uid},
         GET /payments/find/{merchant_uid}[/{payment_status}],
         POST|PUT /payments/prepare, GET /payments/prepare/{merchant_uid},
         POST /payments/cancel
V2 API:  GET /payments/{paymentId}, POST /payments/{paymentId}/pre-register,
         POST /payments/{paymentId}/cancel, POST /login/api-secret, POST /token/refresh
Webhooks sent by the emulator: send_v1_webhook() (JSON or form), send_v2_webhook()
         (Standard Webhooks signature, bodies of version 2024-04-25 and 2024-01-01)
Control: /__emu/{payments,v2/payments,prepared,revoke,clock,config,faults,counters,
         webhooks,reset} (no auth)

V1 and V2 share the path /payments/{id}. The main port (``url``) decides per request:
V2 when the Authorization scheme is ``PortOne`` (or ``Bearer`` with a token of
/login/api-secret), for /login/api-secret and /token/refresh, and for
POST /payments/{id}/pre-register|cancel; V1 otherwise (so a V2 request without any
Authorization header is answered as V1 there). The second port (``v2_url``) speaks
V2 only. Every request records which API answered it (``api``: "v1" or "v2").

Test-side API (thread-safe): add_payment(s)/patch_payment/get_payment (V1),
add_v2_payment(s)/patch_v2_payment/get_v2_payment (V2), add_prepared/prepared (V1
prepare), v2_pre_registered, send_v1_webhook, send_v2_webhook, sign_webhook (module
function), configure (token_lifetime, imp_key, imp_secret, v2_secret, v2_store_id,
v2_store_ids, v2_store_check, v2_token_lifetime), add_fault (api="v1"|"v2" limits a
rule to one API; kinds as FAULT_KINDS, "lost" = processed but never answered),
set_clock_offset, revoke_tokens, counters, reset.
Facts the sources do not give are marked [uncertain] where they are made up.

Use in-process (``Emulator().start()``) or standalone:
    /usr/bin/python3 tests/portone_emulator.py --port 8099 [--v2-port 8100] [--seed-demo]
"""
import argparse
import base64
import copy
import hashlib
import hmac
import http.client
import json
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, unquote_to_bytes, urlencode, urlsplit

TEST_IMP_KEY = "imp_apikey"
TEST_IMP_SECRET = ("ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9OqDMnxy"
                   "eB9wqOsuO9W3Mx9YSJ4dTqJ3f")
DEFAULT_TOKEN_LIFETIME = 1800
EXTEND_WINDOW, EXTEND_BY = 60, 300          # portone-api.md 1.2, rule 3

# V2 test credentials (fixed values of the emulator, not PortOne's).
TEST_V2_SECRET = "k7Vq2w9XbR4mTn8pLs3dFh6jZc1yGu5eAo0iWxKvNqMrBtPzYsEaDfUgHlJcOwIe"
TEST_V2_STORE_ID = "store-4f4a3d1e-8c2b-4b7e-9a61-2d5f0c3e7b19"
TEST_V2_MERCHANT_ID = "merchant-9b2e6c41-7d3a-4e58-b0f2-6a1c8d5e3f70"
# A console webhook secret: "whsec_" + base64 of 32 random bytes (portone-api.md 2.3).
TEST_WEBHOOK_SECRET = "whsec_hgaTeL3tcqq9P4LmRDEduJvZ8u2zBgGnF7IGNN5UNvI="
DEFAULT_V2_TOKEN_LIFETIME = 1800            # [uncertain] not stated by PortOne
IDEMPOTENCY_TTL = 3 * 3600                  # V2 docs: "멱등성 보장 기간: 3시간"

MSG_MISSING = "imp_key, imp_secret 파라메터가 누락되었습니다."
MSG_AUTH_FAILED = "인증에 실패하였습니다. API키와 secret을 확인하세요."
MSG_NO_PAYMENT = "존재하지 않는 결제정보입니다."
# portone-api.md 1.5 [observed, third-party; HTTP 200 with code 1]
MSG_PREPARE_DUP = "결제정보 사전등록에 실패하였습니다(이미 등록된 merchant_uid입니다)."
# NIAMP test: GET /payments/prepare/{unknown} [observed, third-party; resolved by its 404 branch]
MSG_NOT_PREPARED = "사전등록된 결제정보가 존재하지 않습니다."
# PY1 and NIAMP tests: cancel of an unknown payment, HTTP 200, code 1 [observed]
MSG_CANCEL_NONE = "취소할 결제건이 존재하지 않습니다."
# third-party clients quote code 1 with this message for a second full cancel [observed, third-party]
MSG_CANCEL_DONE = "이미 전액취소된 주문입니다."
# [uncertain] wording of these V1 errors is not published; only "지정해주셔야합니다." was observed (NIAMP)
MSG_CANCEL_NO_UID = "imp_uid 또는 merchant_uid 중 하나는 지정해주셔야합니다."
MSG_CANCEL_CHECKSUM = "취소가능잔액(checksum)이 일치하지 않습니다."
MSG_CANCEL_TOO_MUCH = "취소요청금액이 취소가능잔액을 초과합니다."
MSG_CANCEL_NOT_PAID = "결제완료된 거래건이 아닙니다."
MSG_PREPARE_MISSING = "merchant_uid, amount 파라메터가 누락되었습니다."
MSG_BAD_STATUS = "지원되지 않는 상태값입니다."      # NIAMP, for /payments/status [observed]

FAULT_KINDS = ("delay", "status", "garbage", "drop", "stall", "huge", "unauthorized",
               "lost")
PAYMENT_PATH = re.compile(r"/payments/([^/]+)")
FIND_PATH = re.compile(r"/payments/find/([^/]+)(?:/([^/]*))?")
PREPARE_PATH = re.compile(r"/payments/prepare/([^/]+)")
V2_ACTION_PATH = re.compile(r"/payments/([^/]+)/(pre-register|cancel)")
V1_STATUSES = ("ready", "paid", "failed", "cancelled")
V1_SORTINGS = ("-started", "started", "-paid", "paid", "-updated", "updated")
V2_STATUSES = ("READY", "PAY_PENDING", "VIRTUAL_ACCOUNT_ISSUED", "PAID", "FAILED",
               "PARTIAL_CANCELLED", "CANCELLED")
V2_CTYPE = "application/json"               # [uncertain] exact Content-Type of api.portone.io
V1_CTYPE = "application/json; charset=UTF-8"
# the error "type" a V2 status fault answers with, unless the rule names one
V2_FAULT_TYPES = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN",
                  404: "PAYMENT_NOT_FOUND", 409: "ALREADY_PAID", 502: "PG_PROVIDER"}
_NS = uuid.UUID("5b0c7f1e-2a4d-4c8e-9f3b-6d1a2e7c9b40")


def _err(message, code=-1):
    return {"code": code, "message": message, "response": None}


def _ok(response):
    return {"code": 0, "message": None, "response": response}


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _uid(*parts):
    """A stable UUID for the emulator's generated ids (same input, same id)."""
    return str(uuid.uuid5(_NS, "|".join(str(p) for p in parts)))


def iso_time(t, millis=0):
    """RFC 3339 UTC with milliseconds, as in PortOne's examples ("2023-08-11T08:21:01.241Z")."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + ".%03dZ" % (millis % 1000)


def _v2_err(type_, message=None, **extra):
    """V2 error body: ``type`` required, ``message`` optional (v2.openapi.json, e.g.
    PaymentNotFoundError, UnauthorizedError; PgProviderError adds pgCode, pgMessage)."""
    body = {"type": type_}
    if message is not None:
        body["message"] = message
    body.update(extra)
    return body


def _v2_bytes(payload):
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    # [uncertain] api.portone.io's JSON style; we send UTF-8 unescaped, unsorted
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _vat(amount, tax_free=0):
    """VAT included in a Korean price: a tenth of the supply value, i.e. 1/11 of the taxed part."""
    return int((amount - tax_free) / 11 + 0.5)


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


def _webhook_key(secret):
    """Standard Webhooks: strip an optional "whsec_" and base64-decode (bytes: the raw key)."""
    if isinstance(secret, (bytes, bytearray)):
        return bytes(secret)
    s = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    return base64.b64decode(s)


def sign_webhook(secret, msg_id, timestamp, body):
    """One ``v1,<base64 HMAC-SHA256>`` entry over "{id}.{timestamp}.{body}" (portone-api.md 2.3)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    content = ("%s.%s." % (msg_id, timestamp)).encode("utf-8") + body
    mac = hmac.new(_webhook_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


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


def _send_http(url, method, body, headers, timeout):
    """POST to a webhook receiver; returns (status, headers, body)."""
    u = urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request(method, (u.path or "/") + ("?" + u.query if u.query else ""),
                     body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        conn.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api = None                          # None: V1 and V2 by request; "v2": V2 only

    def process_request(self, request, client_address):
        emu = self.emu
        with emu._lock:
            emu._connections += 1
            emu._open_socks.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.emu._lock:
            self.emu._open_socks.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if self.emu.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # headers and body are written separately: without this, Nagle and
        # delayed ACKs add 40 ms to every answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self):
        return "Apache"

    def log_message(self, fmt, *args):
        if self.server.emu.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(n) if n else b""

    def _send(self, status, payload, ctype="application/json; charset=UTF-8"):
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode("utf-8")
        else:
            data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("Connection", "close" if self.close_connection else "keep-alive")
        self.end_headers()
        return data

    def _dispatch(self):
        emu = self.server.emu
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self.wfile.write(self._send(400, _err("Bad Request")))
            return
        raw = self.path
        if raw == "/__emu" or raw.startswith("/__emu/"):
            status, obj = emu._control(self.command, raw, body)
            self.wfile.write(self._send(status, obj))
            return
        api = emu._which_api(self.server.api, self.command, raw, self.headers)
        v2 = api == "v2"
        emu._record(self.command, raw, self.headers, body, api)
        rule = emu._match_fault(raw, api)
        kind = rule["kind"] if rule else None
        if kind == "drop":
            self.close_connection = True
            return
        if kind == "unauthorized":
            if v2:
                self.wfile.write(self._send(401, _v2_bytes(_v2_err(
                    "UNAUTHORIZED", "인증 정보가 올바르지 않습니다.")), V2_CTYPE))
                return
            msg = MSG_AUTH_FAILED if raw.startswith("/users/getToken") else "Unauthorized"
            self.wfile.write(self._send(401, _err(msg)))
            return
        if kind == "status":
            st = int(rule.get("status", 500))
            if v2:
                payload = _v2_err(rule.get("type") or V2_FAULT_TYPES.get(st, "INTERNAL_SERVER_ERROR"),
                                  rule.get("message", "Internal Server Error"))
                if payload["type"] == "PG_PROVIDER":
                    payload.update(pgCode="F999", pgMessage="PG사 오류")
                self.wfile.write(self._send(st, _v2_bytes(payload), V2_CTYPE))
                return
            self.wfile.write(self._send(st, _err("Internal Server Error")))
            return
        if kind == "garbage":
            self.wfile.write(self._send(200, rule.get("body", "<html>oops</html>")))
            return
        idem = emu._idem_begin(self.command, raw, self.headers, body) if v2 else None
        if kind == "delay":
            emu._stop_event.wait(float(rule.get("seconds", 1)))
        if idem is not None and idem[0] == "answer":
            status, payload = idem[1], idem[2]
        else:
            status, payload = 500, None
            try:
                if v2:
                    status, payload = emu._api_v2(self.command, raw, self.headers, body)
                else:
                    status, payload = emu._api(self.command, raw, self.headers, body)
            except (ValueError, TypeError) as e:    # e.g. a non-integer __status__
                status = 500
                payload = (_v2_err("INTERNAL_SERVER_ERROR", "emulator error: %s" % e) if v2
                           else _err("emulator error: %s" % e))
            finally:
                if idem is not None:
                    emu._idem_end(idem[1], status, payload)
        if kind == "huge":
            size = int(rule.get("bytes", 4 << 20))
            status, payload = 200, (_padded_v2(payload, size) if v2 else _padded(payload, size))
        if kind == "lost":              # processed, but the answer never arrives
            self.close_connection = True
            return
        if v2:
            data = self._send(status, _v2_bytes(payload), V2_CTYPE)
        else:
            data = self._send(status, payload)
        if kind == "stall":
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            emu._stop_event.wait(float(rule.get("seconds", 60)))
            self.close_connection = True
            return
        self.wfile.write(data)


def _padded(payload, size):
    """A valid envelope whose response carries a ``padding`` field, ``size`` bytes total."""
    env = payload if isinstance(payload, dict) else None
    if not (env and env.get("code") == 0 and isinstance(env.get("response"), dict)):
        env = _ok({})
    env = copy.deepcopy(env)
    env["response"]["padding"] = ""
    base = len(json.dumps(env, separators=(",", ":"), sort_keys=True).encode())
    env["response"]["padding"] = "x" * max(0, size - base)
    return env


def _padded_v2(payload, size):
    """A V2 answer (the object itself) with a ``padding`` field, ``size`` bytes total."""
    obj = copy.deepcopy(payload) if isinstance(payload, dict) else {}
    obj["padding"] = ""
    base = len(_v2_bytes(obj))
    obj["padding"] = "x" * max(0, size - base)
    return obj


class Emulator:
    def __init__(self, host="127.0.0.1", port=0, imp_key=TEST_IMP_KEY,
                 imp_secret=TEST_IMP_SECRET, verbose=False, v2_secret=TEST_V2_SECRET,
                 v2_store_id=TEST_V2_STORE_ID, v2_port=0):
        self.host, self.port, self.verbose = host, port, verbose
        self.v2_port = v2_port
        self.url = self.v2_url = None
        self._defaults = {"token_lifetime": DEFAULT_TOKEN_LIFETIME,
                          "imp_key": imp_key, "imp_secret": imp_secret,
                          "v2_secret": v2_secret, "v2_store_id": v2_store_id,
                          # stores the V2 secret may name in ?storeId= / "storeId"; None: any
                          "v2_store_ids": None,
                          # False: ignore the store of a V2 payment (a misbehaving upstream)
                          "v2_store_check": True,
                          "v2_token_lifetime": DEFAULT_V2_TOKEN_LIFETIME}
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._open_socks = set()
        self._servers, self._threads = [], []
        self._server = self._thread = None
        self.reset()

    # ---- lifecycle ----
    def _listen(self, port, api):
        server = _Server((self.host, port), _Handler)
        server.emu, server.api = self, api
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="portone-emulator-%s" % (api or "main"), daemon=True)
        self._servers.append(server)
        self._threads.append(thread)
        thread.start()
        return server.server_address[1]

    def start(self):
        self._stop_event.clear()
        self.port = self._listen(self.port, None)
        self.url = "http://%s:%d" % (self.host, self.port)
        self._server, self._thread = self._servers[0], self._threads[0]
        self.v2_port = self._listen(self.v2_port, "v2")
        self.v2_url = "http://%s:%d" % (self.host, self.v2_port)
        return self

    def stop(self):
        if not self._servers:
            return
        self._stop_event.set()          # wakes stalled / delayed handlers
        for server in self._servers:
            server.shutdown()
            server.server_close()
        with self._lock:
            socks = list(self._open_socks)
        for s in socks:                 # unblock idle keep-alive handlers
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(5)
        self._servers, self._threads = [], []
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- state helpers (thread-safe) ----
    def now(self):
        return int(time.time()) + self._clock_offset

    def reset(self):
        with self._lock:
            self._payments = {}          # imp_uid -> {"fields", "t", "seq", "updated"}
            self._v2_payments = {}       # paymentId -> {"fields", "t", "ts", "updated", "n"}
            self._prepared = {}          # merchant_uid -> {"merchant_uid", "amount", "currency"}
            self._v2_prepared = {}       # paymentId -> PreRegisterPaymentBody (+ storeId)
            self._faults = []
            self._tokens = {}            # imp_key -> {"token", "expired_at"}
            self._v2_tokens = {}         # token -> {"kind": access|refresh, "expires"}
            self._idem = {}              # Idempotency-Key -> {"state", "fp", "t", answer}
            self._clock_offset = 0
            self._config = dict(self._defaults)
            self._connections = 0
            self._get_token_calls = 0
            self._tokens_issued = 0
            self._idem_replays = 0
            self._seq = 0
            self._requests = []
            self._webhooks_sent = []

    def _next_seq(self):
        self._seq += 1
        return self._seq

    def add_payment(self, **fields):
        self.add_payments([fields])

    def add_payments(self, payments):
        if isinstance(payments, dict):
            payments = [payments]
        for p in payments:
            if not isinstance(p, dict) or not isinstance(p.get("imp_uid"), str):
                raise ValueError("each payment needs a string imp_uid")
        with self._lock:
            for p in payments:
                now = self.now()
                self._payments[p["imp_uid"]] = {"fields": copy.deepcopy(p), "t": now,
                                                "seq": self._next_seq(), "updated": now}

    def patch_payment(self, imp_uid, **fields):
        with self._lock:
            if imp_uid not in self._payments:
                raise KeyError(imp_uid)
            fields.pop("imp_uid", None)
            reg = self._payments[imp_uid]
            reg["fields"].update(copy.deepcopy(fields))
            reg["updated"], reg["seq"] = self.now(), self._next_seq()

    def get_payment(self, imp_uid):
        """The V1 payment as GET /payments/{imp_uid} would build it (overrides aside), or None."""
        with self._lock:
            reg = self._payments.get(imp_uid)
            return None if reg is None else payment_response(copy.deepcopy(reg["fields"]), reg["t"])

    def add_v2_payment(self, **fields):
        """Register a V2 payment: paymentId (required), status (default PAID; any text,
        e.g. an unknown future status), total, taxFree, vat, discount, cancelledAmount,
        cancelledTaxFree, currency, storeId (default the configured v2_store_id),
        channel_type (LIVE|TEST), method ("card", "vbank", "transfer", "easypay", any
        other text as an unknown type, a dict, or None), method_fields (merged into the
        method), any Payment field (wins), and __status__ (HTTP status), __response__
        (the whole answer: JSON value, or str/bytes sent raw), __drop__ (fields to leave
        out, dotted paths), __cancel_status__ (SUCCEEDED|REQUESTED|FAILED|PG_PROVIDER:
        what POST /payments/{id}/cancel does)."""
        self.add_v2_payments([fields])

    def add_v2_payments(self, payments):
        if isinstance(payments, dict):
            payments = [payments]
        for p in payments:
            if not isinstance(p, dict) or not isinstance(p.get("paymentId"), str):
                raise ValueError("each V2 payment needs a string paymentId")
        with self._lock:
            for p in payments:
                p = copy.deepcopy(p)
                p.setdefault("storeId", self._config["v2_store_id"])
                if p.get("status") == "VIRTUAL_ACCOUNT_ISSUED":
                    p.setdefault("method", "vbank")    # stays a vbank once paid
                now = self.now()
                self._v2_payments[p["paymentId"]] = {"fields": p, "t": now, "ts": now,
                                                     "updated": now, "n": 0}

    def patch_v2_payment(self, payment_id, **fields):
        with self._lock:
            reg = self._v2_payments.get(payment_id)
            if reg is None:
                raise KeyError(payment_id)
            fields.pop("paymentId", None)
            now = self.now()
            if "status" in fields and fields["status"] != reg["fields"].get("status", "PAID"):
                reg["ts"] = now
            reg["fields"].update(copy.deepcopy(fields))
            reg["updated"] = now

    def get_v2_payment(self, payment_id):
        """The V2 Payment as GET /payments/{paymentId} would build it (overrides aside), or None."""
        with self._lock:
            reg = self._v2_payments.get(payment_id)
            return None if reg is None else self._v2_render(reg)

    @staticmethod
    def _v2_render(reg):
        return v2_payment_object(copy.deepcopy(reg["fields"]), reg["t"], reg["ts"], reg["updated"])

    def add_prepared(self, merchant_uid, amount, currency=None):
        """As if POST /payments/prepare had been called (V1)."""
        with self._lock:
            self._prepared[merchant_uid] = {"merchant_uid": merchant_uid, "amount": amount,
                                            "currency": currency}

    def prepared(self, merchant_uid):
        """What V1 POST/PUT /payments/prepare registered for merchant_uid, or None."""
        with self._lock:
            return copy.deepcopy(self._prepared.get(merchant_uid))

    def v2_pre_registered(self, payment_id):
        """The body of the last V2 pre-register of payment_id (with the storeId used), or None."""
        with self._lock:
            return copy.deepcopy(self._v2_prepared.get(payment_id))

    def revoke_tokens(self):
        """Forget the V1 tokens; V2 bearer tokens stay known (so still routed to V2) but expire."""
        with self._lock:
            self._tokens.clear()
            for tok in self._v2_tokens.values():
                tok["expires"] = 0

    def set_clock_offset(self, seconds):
        with self._lock:
            self._clock_offset = int(seconds)

    def configure(self, **kw):
        unknown = set(kw) - set(self._defaults)
        if unknown:
            raise ValueError("unknown config key(s): %s" % ", ".join(sorted(unknown)))
        with self._lock:
            self._config.update(kw)

    def add_fault(self, path, kind, count=None, **params):
        """A fault for requests whose raw path starts with ``path``; ``api="v1"|"v2"``
        limits it to one API. V2 status faults answer ``{"type": type or by status}``."""
        if kind not in FAULT_KINDS or not isinstance(path, str) or \
                params.get("api") not in (None, "v1", "v2"):
            raise ValueError("bad fault: path=%r kind=%r" % (path, kind))
        rule = dict(params, path=path, kind=kind, count=None if count is None else int(count))
        with self._lock:
            self._faults.append(rule)

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def counters(self):
        with self._lock:
            return {"get_token_calls": self._get_token_calls,
                    "connections": self._connections,
                    "requests": copy.deepcopy(self._requests),
                    "tokens_issued": self._tokens_issued,
                    "idempotent_replays": self._idem_replays,
                    "webhooks_sent": copy.deepcopy(self._webhooks_sent)}

    # ---- request handling internals ----
    def _record(self, method, raw, headers, body, api="v1"):
        with self._lock:
            if api == "v1" and method == "POST" and raw.partition("?")[0] == "/users/getToken":
                self._get_token_calls += 1
            self._requests.append({"method": method, "path": raw,
                                   "headers": dict(headers.items()),
                                   "body": body.decode("utf-8", "replace"), "api": api})

    def _match_fault(self, raw, api="v1"):
        with self._lock:
            for rule in self._faults:
                if raw.startswith(rule["path"]) and rule.get("api") in (None, api):
                    if rule["count"] is not None:
                        rule["count"] -= 1
                        if rule["count"] <= 0:
                            self._faults.remove(rule)
                    return rule
        return None

    def _which_api(self, server_api, method, raw, headers):
        if server_api == "v2":
            return "v2"
        path = raw.partition("?")[0]
        if path in ("/login/api-secret", "/token/refresh"):
            return "v2"
        scheme, _, cred = (headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "portone":
            return "v2"
        if scheme.lower() == "bearer":
            with self._lock:
                if cred.strip() in self._v2_tokens:
                    return "v2"
        if method == "POST" and V2_ACTION_PATH.fullmatch(path):
            return "v2"
        return "v1"

    # ---- V1 API ----
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

    # ---- webhooks sent by the emulator ----
    def send_v1_webhook(self, url, imp_uid, merchant_uid=None, status=None, form=False,
                        cancellation_id=None, extra=None, body=None, headers=None, timeout=30):
        """POST a V1 notification (portone-api.md 1.6): {imp_uid, merchant_uid, status
        [, cancellation_id]} as JSON or, with form=True, application/x-www-form-urlencoded.
        merchant_uid and status default to the registered payment's. ``extra`` adds fields,
        ``body`` replaces the body (str/bytes raw, else JSON), ``headers`` adds headers (None
        removes one). Returns (status, headers, body) of the receiver's answer."""
        p = self.get_payment(imp_uid) or {}
        obj = {"imp_uid": imp_uid,
               "merchant_uid": merchant_uid if merchant_uid is not None else p.get("merchant_uid"),
               "status": status if status is not None else p.get("status", "paid")}
        if cancellation_id is not None:
            obj["cancellation_id"] = cancellation_id
        obj.update(extra or {})
        ctype = "application/x-www-form-urlencoded" if form else "application/json"
        if body is None:
            body = urlencode(obj) if form else json.dumps(obj, ensure_ascii=False)
        elif not isinstance(body, (str, bytes)):
            body = json.dumps(body, ensure_ascii=False)
        return self._post_webhook("v1", url, body, {"Content-Type": ctype}, headers, timeout)

    def send_v2_webhook(self, url, payment_id, type="Transaction.Paid", version="2024-04-25",
                        secret=TEST_WEBHOOK_SECRET, timestamp=None, tamper=None, *, shift=0,
                        webhook_id=None, extra_signatures=(), omit=(), data=None, body=None,
                        status=None, form=False, headers=None, event_time=None,
                        cancellation_id=None, timeout=30):
        """POST a V2 webhook signed per Standard Webhooks (portone-api.md 2.3; WH2).

        Body: version "2024-04-25" {"type", "timestamp", "data": {"paymentId", "storeId",
        "transactionId"[, "cancellationId" for Transaction.Cancelled|PartialCancelled|
        CancelPending]}} (``data`` adds/overrides fields, ``event_time`` the RFC 3339
        timestamp), or "2024-01-01" {"payment_id", "tx_id", "status"} (status defaults to
        the type without "Transaction."; form=True sends it urlencoded). storeId and
        transactionId come from the registered V2 payment when there is one. ``body``
        replaces the whole body (str/bytes raw, else JSON).
        Signature: webhook-id (default "msg_<random>"), webhook-timestamp (default now +
        ``shift`` seconds on the real clock; ``timestamp`` gives the header value as is),
        webhook-signature = space-separated "v1,<base64 HMAC-SHA256 of id.ts.body>" for
        ``secret`` (a str/bytes or a list of them; None signs nothing), then
        ``extra_signatures`` entries as given. ``omit`` names headers to leave out;
        ``headers`` adds headers (None removes one). ``tamper`` changes the body after
        signing (bytes/str: sent instead; a callable: bytes -> bytes).
        Returns (status, headers, body) of the receiver's answer."""
        p = self.get_v2_payment(payment_id) or {}
        store = p.get("storeId") or self._config["v2_store_id"]
        tx = p.get("transactionId") or _uid("transaction", payment_id)
        ctype = "application/json"
        if body is None:
            if version == "2024-01-01":
                obj = {"payment_id": payment_id, "tx_id": tx,
                       "status": status if status is not None else
                       (type.split(".", 1)[1] if type.startswith("Transaction.") else type)}
                obj.update(data or {})
                if form:
                    ctype = "application/x-www-form-urlencoded"
                    body = urlencode(obj)
                else:
                    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
            else:
                d = {"paymentId": payment_id, "storeId": store, "transactionId": tx}
                if type in ("Transaction.Cancelled", "Transaction.PartialCancelled",
                            "Transaction.CancelPending"):
                    cancels = p.get("cancellations") or []
                    d["cancellationId"] = cancellation_id or (
                        cancels[-1].get("id") if cancels and isinstance(cancels[-1], dict)
                        else _uid("cancellation", payment_id, "webhook"))
                d.update(data or {})
                now = time.time()
                obj = {"type": type,
                       "timestamp": event_time or iso_time(now, int(now * 1000)),
                       "data": d}
                # [uncertain] PortOne's JSON style; compact UTF-8 here, so that non-ASCII
                # bytes are signed too
                body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        elif not isinstance(body, (str, bytes)):
            body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        body = body.encode("utf-8") if isinstance(body, str) else body
        msg_id = webhook_id if webhook_id is not None else "msg_" + secrets.token_urlsafe(18)
        ts = timestamp if timestamp is not None else int(time.time()) + int(shift)
        if secret is None:
            keys = []
        elif isinstance(secret, (list, tuple)):
            keys = list(secret)
        else:
            keys = [secret]
        entries = [sign_webhook(k, msg_id, ts, body) for k in keys] + list(extra_signatures)
        h = {"Content-Type": ctype, "webhook-id": str(msg_id),
             "webhook-timestamp": str(ts), "webhook-signature": " ".join(entries)}
        for name in ([omit] if isinstance(omit, str) else omit):
            for k in [k for k in h if k.lower() == name.lower()]:
                del h[k]
        if tamper is not None:
            body = tamper(body) if callable(tamper) else (
                tamper.encode("utf-8") if isinstance(tamper, str) else tamper)
        return self._post_webhook("v2", url, body, h, headers, timeout)

    def _post_webhook(self, api, url, body, base_headers, headers, timeout):
        h = dict(base_headers)
        for k, v in (headers or {}).items():
            for old in [o for o in h if o.lower() == k.lower()]:
                del h[old]
            if v is not None:
                h[k] = v
        if isinstance(body, str):
            body = body.encode("utf-8")
        rec = {"api": api, "url": url, "headers": dict(h),
               "body": body.decode("utf-8", "replace"), "status": None}
        with self._lock:
            self._webhooks_sent.append(rec)
        status, resp_headers, data = _send_http(url, "POST", body, h, timeout)
        with self._lock:
            rec["status"] = status
        return status, resp_headers, data

    # ---- control API ----
    def _control(self, method, raw, body):
        path = raw.partition("?")[0]
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError as e:
            return 400, {"ok": False, "error": "bad JSON: %s" % e}
        try:
            if path == "/__emu/payments" and method == "POST":
                self.add_payments(data)
            elif path.startswith("/__emu/payments/") and method == "PATCH":
                if not isinstance(data, dict):
                    raise ValueError("body must be an object")
                self.patch_payment(unquote(path[len("/__emu/payments/"):]), **data)
            elif path.startswith("/__emu/payments/") and method == "GET":
                p = self.get_payment(unquote(path[len("/__emu/payments/"):]))
                return (200, p) if p is not None else (404, {"ok": False, "error": "unknown"})
            elif path == "/__emu/v2/payments" and method == "POST":
                self.add_v2_payments(data)
            elif path.startswith("/__emu/v2/payments/") and method == "PATCH":
                if not isinstance(data, dict):
                    raise ValueError("body must be an object")
                self.patch_v2_payment(unquote(path[len("/__emu/v2/payments/"):]), **data)
            elif path.startswith("/__emu/v2/payments/") and method == "GET":
                p = self.get_v2_payment(unquote(path[len("/__emu/v2/payments/"):]))
                return (200, p) if p is not None else (404, {"ok": False, "error": "unknown"})
            elif path == "/__emu/prepared" and method == "POST":
                self.add_prepared(data["merchant_uid"], data["amount"], data.get("currency"))
            elif path.startswith("/__emu/prepared/") and method == "GET":
                p = self.prepared(unquote(path[len("/__emu/prepared/"):]))
                return (200, p) if p is not None else (404, {"ok": False, "error": "unknown"})
            elif path == "/__emu/webhooks" and method == "POST":
                if not isinstance(data, dict):
                    raise ValueError("body must be an object")
                data = dict(data)
                api, url = data.pop("api", "v1"), data.pop("url")
                if api == "v2":
                    status, h, answer = self.send_v2_webhook(url, data.pop("payment_id"), **data)
                else:
                    status, h, answer = self.send_v1_webhook(url, data.pop("imp_uid"), **data)
                return 200, {"status": status, "headers": dict(h.items()),
                             "body": answer.decode("utf-8", "replace")}
            elif path == "/__emu/revoke" and method == "POST":
                self.revoke_tokens()
            elif path == "/__emu/clock" and method == "POST":
                self.set_clock_offset(data.get("offset", 0))
            elif path == "/__emu/config" and method == "POST":
                self.configure(**data)
            elif path == "/__emu/faults" and method == "POST":
                data = dict(data)
                self.add_fault(data.pop("path", None), data.pop("kind", None), **data)
            elif path == "/__emu/faults" and method == "DELETE":
                self.clear_faults()
            elif path == "/__emu/counters" and method == "GET":
                return 200, self.counters()
            elif path == "/__emu/reset" and method == "POST":
                self.reset()
            else:
                return 404, {"ok": False, "error": "unknown control endpoint"}
        except KeyError as e:
            return 404, {"ok": False, "error": "unknown payment %s" % e}
        except OSError as e:
            return 502, {"ok": False, "error": "webhook not delivered: %s" % e}
        except (ValueError, TypeError, AttributeError) as e:
            return 400, {"ok": False, "error": str(e)}
        return 200, {"ok": True}


def main(argv=None):
    ap = argparse.ArgumentParser(description="PortOne V1 and V2 API emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--v2-port", type=int, default=0, help="the V2-only port (0: any free one)")
    ap.add_argument("--imp-key", default=TEST_IMP_KEY)
    ap.add_argument("--imp-secret", default=TEST_IMP_SECRET)
    ap.add_argument("--v2-secret", default=TEST_V2_SECRET)
    ap.add_argument("--seed-demo", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    emu = Emulator(args.host, args.port, args.imp_key, args.imp_secret, verbose=args.verbose,
                   v2_secret=args.v2_secret, v2_port=args.v2_port)
    if args.seed_demo:
        emu.add_payment(imp_uid="imp_demo_0001", merchant_uid="order_demo_0001",
                        amount=10000, status="paid", currency="KRW")
        emu.add_v2_payment(paymentId="payment-demo-0001", status="PAID", total=10000,
                           currency="KRW")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    emu.start()
    print("portone-emulator listening on %s" % emu.url, flush=True)
    print("portone-emulator V2 only on %s" % emu.v2_url, flush=True)
    while not done.wait(1):
        pass
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
