"""How the module reaches PortOne (contract sections 4 and 9; docs/security.md,
"secret exposure"): the API secret never crosses a network in clear, and a
proxy is used only where PortOneProxy says, never because of httpd's
environment."""
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from harness import free_port


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _ProxyHandler(BaseHTTPRequestHandler):
    """A forward proxy for http:// targets: absolute-URI requests, forwarded."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        target = urlsplit(self.path)
        if not target.scheme:
            self.send_error(400, "not a proxy request")
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        with self.server.lock:
            self.server.seen.append(self.command + " " + self.path)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection", "host")}
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        path = target.path + ("?" + target.query if target.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_POST = do_GET


@pytest.fixture
def proxy():
    server = _Proxy(("127.0.0.1", 0), _ProxyHandler)
    server.seen, server.lock = [], threading.Lock()
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


def paid(database, emulator, imp_uid, order_no):
    database.add_order(order_no, 1000)
    emulator.add_payment(imp_uid=imp_uid, merchant_uid=order_no, amount=1000, status="paid")


def test_proxy_environment_is_ignored_without_portone_proxy(make_httpd, database, emulator):
    dead = "http://127.0.0.1:%d" % free_port()     # nothing listens there
    env = {k: dead for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                             "all_proxy", "ALL_PROXY")}
    env["no_proxy"] = env["NO_PROXY"] = ""
    h = make_httpd(env=env)
    paid(database, emulator, "imp_px1", "o_px1")
    status, _, body = h.verify("imp_px1", "o_px1")
    assert (status, body["status"]) == (200, "success"), body
    paths = [r["path"] for r in emulator.counters()["requests"]]
    assert paths == ["/users/getToken", "/payments/imp_px1"], paths


def test_portone_proxy_carries_every_call(make_httpd, database, emulator, proxy):
    h = make_httpd(directives={"PortOneProxy": "http://127.0.0.1:%d" % proxy.server_address[1]})
    paid(database, emulator, "imp_px2", "o_px2")
    status, _, body = h.verify("imp_px2", "o_px2")
    assert (status, body["status"]) == (200, "success"), body
    assert proxy.seen == ["POST %s/users/getToken" % emulator.url,
                          "GET %s/payments/imp_px2" % emulator.url], proxy.seen
    # the proxy's URL may hold credentials: it is never logged
    assert "127.0.0.1:%d" % proxy.server_address[1] not in h.read_error_log()


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8080",
                                 "http://[2001:db8::1]/", "http://127.0.0.1.example.com"])
def test_http_to_another_host_stops_httpd(make_httpd, url):
    rc, out = make_httpd(directives={"PortOneAPIURL": url}, expect_fail=True)
    assert rc != 0 and "PortOneAPIURL" in out and "https://" in out, out


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_http_to_this_machine_is_allowed(make_httpd, database, emulator, host):
    port = urlsplit(emulator.url).port
    h = make_httpd(directives={"PortOneAPIURL": "http://%s:%d/" % (host, port)})
    paid(database, emulator, "imp_lo", "o_lo")
    status, _, body = h.verify("imp_lo", "o_lo")
    assert (status, body["status"]) == (200, "success"), body


def test_http_to_any_loopback_address_starts(make_httpd):
    h = make_httpd(directives={"PortOneAPIURL": "http://127.1.2.3:9"})
    assert h.proc.poll() is None
