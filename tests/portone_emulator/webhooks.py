"""Webhooks sent by the emulator: V1 notifications (portone-api.md 1.6, JSON or
form) and V2 webhooks signed per Standard Webhooks (portone-api.md 2.3; WH2),
bodies of version 2024-04-25 and 2024-01-01. ``WebhookSender`` is a mixin of
``Emulator``; ``sign_webhook`` is also used by the tests to check signatures."""
import base64
import hashlib
import hmac
import http.client
import json
import secrets
import ssl
import time
from urllib.parse import urlencode, urlsplit

from .common import TEST_WEBHOOK_SECRET, _uid, iso_time


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



class WebhookSender:
    """Webhooks sent by the emulator, a mixin of Emulator (its payments, _config,
    _lock and _webhooks_sent)."""

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
