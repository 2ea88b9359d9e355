#!/usr/bin/python3
"""PortOne (I'mport) V1 API emulator for mod_portone_verify tests and demo.

Follows /work/shared/portone-api.md sections 1.1-1.6 and 5. Standard library only.
API:     POST /users/getToken, GET /payments/{imp_uid}
Control: /__emu/{payments,revoke,clock,config,faults,counters,reset} (no auth)

Use in-process (``Emulator().start()``) or standalone:
    /usr/bin/python3 tests/portone_emulator.py --port 8099 [--seed-demo]
"""
import argparse
import copy
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

TEST_IMP_KEY = "imp_apikey"
TEST_IMP_SECRET = ("ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9OqDMnxy"
                   "eB9wqOsuO9W3Mx9YSJ4dTqJ3f")
DEFAULT_TOKEN_LIFETIME = 1800
EXTEND_WINDOW, EXTEND_BY = 60, 300          # portone-api.md 1.2, rule 3

MSG_MISSING = "imp_key, imp_secret 파라메터가 누락되었습니다."
MSG_AUTH_FAILED = "인증에 실패하였습니다. API키와 secret을 확인하세요."
MSG_NO_PAYMENT = "존재하지 않는 결제정보입니다."
FAULT_KINDS = ("delay", "status", "garbage", "drop", "stall", "huge", "unauthorized")
PAYMENT_PATH = re.compile(r"/payments/([^/]+)")


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

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
        emu._record(self.command, raw, self.headers, body)
        rule = emu._match_fault(raw)
        kind = rule["kind"] if rule else None
        if kind == "drop":
            self.close_connection = True
            return
        if kind == "unauthorized":
            msg = MSG_AUTH_FAILED if raw.startswith("/users/getToken") else "Unauthorized"
            self.wfile.write(self._send(401, _err(msg)))
            return
        if kind == "status":
            self.wfile.write(self._send(int(rule.get("status", 500)),
                                        _err("Internal Server Error")))
            return
        if kind == "garbage":
            self.wfile.write(self._send(200, rule.get("body", "<html>oops</html>")))
            return
        if kind == "delay":
            emu._stop_event.wait(float(rule.get("seconds", 1)))
        try:
            status, payload = emu._api(self.command, raw, self.headers, body)
        except (ValueError, TypeError) as e:    # e.g. a non-integer __status__
            status, payload = 500, _err("emulator error: %s" % e)
        if kind == "huge":
            status, payload = 200, _padded(payload, int(rule.get("bytes", 4 << 20)))
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


class Emulator:
    def __init__(self, host="127.0.0.1", port=0, imp_key=TEST_IMP_KEY,
                 imp_secret=TEST_IMP_SECRET, verbose=False):
        self.host, self.port, self.verbose = host, port, verbose
        self.url = None
        self._defaults = {"token_lifetime": DEFAULT_TOKEN_LIFETIME,
                          "imp_key": imp_key, "imp_secret": imp_secret}
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._open_socks = set()
        self._server = self._thread = None
        self.reset()

    # ---- lifecycle ----
    def start(self):
        self._stop_event.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.emu = self
        self.port = self._server.server_address[1]
        self.url = "http://%s:%d" % (self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="portone-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stop_event.set()          # wakes stalled / delayed handlers
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = list(self._open_socks)
        for s in socks:                 # unblock idle keep-alive handlers
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
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
            self._payments = {}          # imp_uid -> {"fields": dict, "t": int}
            self._faults = []
            self._tokens = {}            # imp_key -> {"token", "expired_at"}
            self._clock_offset = 0
            self._config = dict(self._defaults)
            self._connections = 0
            self._get_token_calls = 0
            self._tokens_issued = 0
            self._requests = []

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
                self._payments[p["imp_uid"]] = {"fields": copy.deepcopy(p), "t": self.now()}

    def patch_payment(self, imp_uid, **fields):
        with self._lock:
            if imp_uid not in self._payments:
                raise KeyError(imp_uid)
            fields.pop("imp_uid", None)
            self._payments[imp_uid]["fields"].update(copy.deepcopy(fields))

    def revoke_tokens(self):
        with self._lock:
            self._tokens.clear()

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
        if kind not in FAULT_KINDS or not isinstance(path, str):
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
                    "tokens_issued": self._tokens_issued}

    # ---- request handling internals ----
    def _record(self, method, raw, headers, body):
        with self._lock:
            if method == "POST" and raw.partition("?")[0] == "/users/getToken":
                self._get_token_calls += 1
            self._requests.append({"method": method, "path": raw,
                                   "headers": dict(headers.items()),
                                   "body": body.decode("utf-8", "replace")})

    def _match_fault(self, raw):
        with self._lock:
            for rule in self._faults:
                if raw.startswith(rule["path"]):
                    if rule["count"] is not None:
                        rule["count"] -= 1
                        if rule["count"] <= 0:
                            self._faults.remove(rule)
                    return rule
        return None

    def _api(self, method, raw, headers, body):
        path, _, query = raw.partition("?")
        if path == "/users/getToken":
            if method != "POST":
                return 405, _err("Method Not Allowed")
            return self._get_token(headers, body)
        m = PAYMENT_PATH.fullmatch(path)
        if not m:
            return 404, _err("Not Found")
        if method != "GET":
            return 405, _err("Method Not Allowed")
        q = parse_qs(query, keep_blank_values=True)
        include_sandbox = q.get("include_sandbox", ["false"])[-1].lower() == "true"
        return self._get_payment(unquote(m.group(1)), include_sandbox, headers)

    def _get_token(self, headers, body):
        ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
        text = body.decode("utf-8", "replace")
        params = {}
        if ctype == "application/json" or (
                ctype != "application/x-www-form-urlencoded" and text.lstrip().startswith("{")):
            try:
                obj = json.loads(text)
                params = obj if isinstance(obj, dict) else {}
            except ValueError:
                params = {}
        else:
            params = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
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

    def _get_payment(self, imp_uid, include_sandbox, headers):
        token = self._token_from(headers)
        with self._lock:
            now = self.now()
            if not token or not any(t["token"] == token and now < t["expired_at"]
                                    for t in self._tokens.values()):
                return 401, _err("Unauthorized")
            reg = self._payments.get(imp_uid)
            if reg is None:
                return 404, _err(MSG_NO_PAYMENT)
            fields, t = copy.deepcopy(reg["fields"]), reg["t"]
        tier = headers.get("Tier")
        if fields.get("tier") != (tier.strip() if tier is not None else None):
            return 404, _err(MSG_NO_PAYMENT)
        if fields.get("sandbox") is True and not include_sandbox:
            return 404, _err(MSG_NO_PAYMENT)
        if "__envelope__" in fields:
            return int(fields.get("__status__", 200)), fields["__envelope__"]
        status = int(fields.get("__status__", 200))
        if "__response__" in fields:
            resp = fields["__response__"]
        elif "__code__" in fields:
            resp = None
        else:
            resp = payment_response(fields, t)
        return status, {"code": fields.get("__code__", 0),
                        "message": fields.get("__message__"), "response": resp}

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
        except (ValueError, TypeError, AttributeError) as e:
            return 400, {"ok": False, "error": str(e)}
        return 200, {"ok": True}


def main(argv=None):
    ap = argparse.ArgumentParser(description="PortOne V1 API emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--imp-key", default=TEST_IMP_KEY)
    ap.add_argument("--imp-secret", default=TEST_IMP_SECRET)
    ap.add_argument("--seed-demo", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    emu = Emulator(args.host, args.port, args.imp_key, args.imp_secret, verbose=args.verbose)
    if args.seed_demo:
        emu.add_payment(imp_uid="imp_demo_0001", merchant_uid="order_demo_0001",
                        amount=10000, status="paid", currency="KRW")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    emu.start()
    print("portone-emulator listening on %s" % emu.url, flush=True)
    while not done.wait(1):
        pass
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
