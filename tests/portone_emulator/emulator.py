"""The ``Emulator``: its lifecycle (two ports), the state it keeps, the test-side
API (thread-safe), fault rules, the choice of V1 or V2 per request, and the
control API under /__emu. The APIs themselves are the mixins of v1.py, v2.py,
webhooks.py and checkout.py (the browser side, for the demo)."""
import copy
import json
import socket
import threading
import time
from urllib.parse import unquote

from .common import (DEFAULT_TOKEN_LIFETIME, DEFAULT_V2_TOKEN_LIFETIME, FAULT_KINDS,
                     TEST_IMP_KEY, TEST_IMP_SECRET, TEST_V2_SECRET, TEST_V2_STORE_ID,
                     V2_ACTION_PATH)
from .checkout import CheckoutStandIn
from .server import _Handler, _Server
from .v1 import V1Api, payment_response
from .v2 import V2Api
from .webhooks import WebhookSender


class Emulator(V1Api, V2Api, WebhookSender, CheckoutStandIn):
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
