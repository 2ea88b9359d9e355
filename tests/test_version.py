"""The module's version, kept in one place (src/core/pv_version.h), is where
an admin and PortOne look for it (contract section 7): the error log's
start-up line (PV0016, with the libraries the module runs with), server-status
(?auto and the HTML page) and the User-Agent of every call to PortOne, V1
and V2."""
import os
import re
import sqlite3
import subprocess
import urllib.request

from harness import ROOT


def version():
    with open(os.path.join(ROOT, "src", "core", "pv_version.h"), encoding="utf-8") as f:
        return re.search(r'^#define PV_VERSION "([^"]+)"$', f.read(), re.M).group(1)


def status_page(h, query=""):
    with urllib.request.urlopen(h.url + "/server-status" + query, timeout=10) as r:
        return r.read().decode()


def test_the_version_is_the_makefiles():
    out = subprocess.run(["make", "-s", "version"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == version(), out


def test_startup_line_names_the_version_and_the_libraries(pv):
    lines = re.findall(r"^.*PV0016: .*$", pv.httpd.read_error_log(), re.M)
    assert lines, "no PV0016 line in the error log"
    m = re.search(r"\[portone_verify:notice\] .*PV0016: mod_portone_verify/(\S+) configured: "
                  r"libcurl (\S+), json-c (\S+), SQLite (\S+), libpq (\d+\.\d+), OpenSSL \S+", lines[0])
    assert m, lines[0]
    assert m.group(1) == version()
    # the libraries as loaded: SQLite is the shared library Python's sqlite3 loads too
    assert m.group(4) == sqlite3.sqlite_version
    curl = subprocess.run(["curl-config", "--version"], capture_output=True, text=True).stdout
    if curl:                                  # libcurl4-openssl-dev is a build dependency
        assert curl.split()[-1] == m.group(2)


def test_server_status_shows_the_version(pv):
    auto = status_page(pv.httpd, "?auto")
    assert re.search(r"^PortOneVersion: %s$" % re.escape(version()), auto, re.M), auto
    assert "mod_portone_verify/%s" % version() in status_page(pv.httpd)


def test_portone_sees_the_user_agent_v1(pv):
    pv.db.add_order("o_ua", 1000)
    pv.emu.add_payment(imp_uid="imp_ua", merchant_uid="o_ua", amount=1000, status="paid")
    status, _, body = pv.httpd.verify("imp_ua", "o_ua")
    assert (status, body["status"]) == (200, "success"), body
    requests = pv.emu.counters()["requests"]
    assert "/payments/imp_ua" in {r["path"].partition("?")[0] for r in requests}, requests
    agents = {r["headers"].get("User-Agent") for r in requests}
    assert agents == {"mod_portone_verify/" + version()}, agents


def test_portone_sees_the_user_agent_v2(pv2):
    pv2.db.add_order("pay-ua", 1000)
    pv2.emu.add_v2_payment(paymentId="pay-ua", status="PAID", total=1000)
    status, _, body = pv2.httpd.post("/payments/complete", {"paymentId": "pay-ua"})
    assert (status, body["status"]) == (200, "success"), body
    requests = pv2.emu.counters()["requests"]
    assert any(r["path"].startswith("/payments/pay-ua") for r in requests), requests
    agents = {r["headers"].get("User-Agent") for r in requests}
    assert agents == {"mod_portone_verify/" + version()}, agents
