"""The HTTP side of the emulator: a threading server per port (the main one, V1
and V2 by request; the V2-only one), the handler that reads a request, records
it, applies the matching fault (delay, status, garbage, drop, stall, huge,
unauthorized, lost) and answers with what the Emulator's API gives."""
import copy
import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .common import (MSG_AUTH_FAILED, MSG_CANCEL_REFUSED, V2_CTYPE, V2_FAULT_TYPES, _err,
                     _ok, _v2_bytes, _v2_err)


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
        page = emu._checkout_request(self.command, raw.partition("?")[0], body)
        if page is not None:            # the browser side (checkout.py)
            self.wfile.write(self._send(page[0], page[1], page[2]))
            return
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
        if kind == "refuse":
            # PortOne says no, nothing changes: V1 HTTP 200 with code 1 (portone-api.md 1.1),
            # V2 a 4xx {"type"} (default 409 PG_PROVIDER: the PG refused)
            if v2:
                st = int(rule.get("status", 409))
                payload = _v2_err(rule.get("type", "PG_PROVIDER"),
                                  rule.get("message", "PG사에서 오류를 전달했습니다."))
                if payload["type"] == "PG_PROVIDER":
                    payload.update(pgCode="F113", pgMessage="취소 거절")
                self.wfile.write(self._send(st, _v2_bytes(payload), V2_CTYPE))
                return
            self.wfile.write(self._send(200, {"code": 1, "message": rule.get(
                "message", MSG_CANCEL_REFUSED), "response": None}))
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
