"""Constants, V1 envelopes and shared helpers of the PortOne emulator.

Test credentials, the V1 messages (with where each was observed), fault kinds,
route patterns, statuses, content types; the V1 envelope (``_ok``/``_err``), the
V2 error body and its encoding, ids, times and VAT. Sources and [uncertain]
marks: see the package docstring (tests/portone_emulator/__init__.py).
"""
import json
import re
import time
import uuid

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
               "lost", "refuse")
# what a "refuse" fault answers to a V1 request: HTTP 200 with code 1 and this message,
# as PortOne refuses a cancel it cannot make (portone-api.md 1.1) [uncertain: the wording]
MSG_CANCEL_REFUSED = "PG사에서 취소를 거절하였습니다."
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
