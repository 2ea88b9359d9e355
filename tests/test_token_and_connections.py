"""What the module asks PortOne (contract sections 1, 4 and 7): one token per
process, reused and refreshed against PortOne's clock, `Authorization: Bearer`,
the `Tier` header, kept-alive connections, an imp_uid that never leaves its
path segment; and the request notes in the access log."""
import concurrent.futures
import json
import os
import re
import time
import urllib.request
from urllib.parse import unquote, urlsplit

import pytest

from conftest import v2_directives
from portone_emulator import TEST_IMP_KEY, TEST_IMP_SECRET


# ---------------------------------------------------------------- helpers

def add_paid(db, emu, imp_uid, merchant_uid, amount=10000, **fields):
    db.add_order(merchant_uid, amount)
    emu.add_payment(imp_uid=imp_uid, merchant_uid=merchant_uid, amount=amount,
                    status="paid", **fields)


def verify_ok(httpd, imp_uid, merchant_uid):
    status, _, body = httpd.verify(imp_uid, merchant_uid)
    assert status == 200 and body["status"] == "success", (status, body)
    assert body["imp_uid"] == imp_uid
    return body


def requests_to(emu, prefix):
    return [r for r in emu.counters()["requests"] if r["path"].startswith(prefix)]


def current_token(emu):
    """The token PortOne hands out now for the test key (the same one the
    module was given while it is valid)."""
    req = urllib.request.Request(
        emu.url + "/users/getToken", method="POST",
        data=json.dumps({"imp_key": TEST_IMP_KEY, "imp_secret": TEST_IMP_SECRET}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())["response"]["access_token"]


def token_in(request):
    auth = request["headers"].get("Authorization", "")
    assert auth.startswith("Bearer "), request["headers"]
    return auth[len("Bearer "):]


# ---------------------------------------------------------------- one token, kept connections

def test_300_verifications_use_one_token_per_process_and_kept_alive_connections(
        make_httpd, database, emulator):
    httpd = make_httpd()
    children = httpd.servers
    assert len(httpd.child_pids()) <= children
    add_paid(database, emulator, "imp_many", "order_many")
    for _ in range(300):
        verify_ok(httpd, "imp_many", "order_many")

    c = emulator.counters()
    assert c["get_token_calls"] <= children, c["get_token_calls"]
    assert c["tokens_issued"] == 1
    assert c["connections"] <= 2 * children + 2, c["connections"]
    # PortOne is asked every time: its answer is the only truth
    assert len(requests_to(emulator, "/payments/")) == 300
    assert database.query("SELECT outcome FROM portone_payments") == [{"outcome": "paid"}]
    assert database.query("SELECT outcome FROM portone_events") == [{"outcome": "paid"}]
    assert database.query("SELECT updates FROM shop_orders") == [{"updates": 1}]


def test_concurrent_verifications_fetch_one_token_per_process(make_httpd, database, emulator):
    httpd = make_httpd()
    n = 64
    for i in range(n):
        add_paid(database, emulator, "imp_conc_%d" % i, "order_conc_%d" % i)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: httpd.verify("imp_conc_%d" % i, "order_conc_%d" % i),
                                range(n)))
    assert [a[0] for a in answers] == [200] * n, [a for a in answers if a[0] != 200][:3]
    assert emulator.counters()["get_token_calls"] <= httpd.servers
    assert len(database.query("SELECT imp_uid FROM portone_events")) == n


def portone_connections(httpd, emulator):
    """Established TCP connections from this httpd's children to the
    emulator (other servers of the session keep theirs open too)."""
    port = urlsplit(emulator.url).port
    inodes = set()
    for pid in httpd.child_pids():
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:["):-1])
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            # remote address, state 01 (ESTABLISHED), inode
            if int(cols[2].split(":")[1], 16) == port and cols[3] == "01" \
                    and cols[9] in inodes:
                n += 1
    return n


def test_idle_portone_connections_are_kept_for_a_minute_then_closed(
        make_httpd, database, emulator):
    """After a burst, the connections to PortOne stay open for reuse, and
    those that no request needed for 60 s are closed (the pool follows the
    recent concurrency, not the highest ever seen). Slow (over a minute):
    run on SQLite only, the pool does not depend on the database."""
    if database.driver != "sqlite3":
        pytest.skip("the connection pool is the same on every database")
    httpd = make_httpd()
    n = 24
    for i in range(n):
        add_paid(database, emulator, "imp_idle_%d" % i, "order_idle_%d" % i)
    # every look-up held up for a while, so that the burst overlaps
    emulator.add_fault("/payments/", "delay", seconds=0.5)
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(lambda i: httpd.verify("imp_idle_%d" % i, "order_idle_%d" % i),
                                range(n)))
    emulator.clear_faults()
    assert [a[0] for a in answers] == [200] * n
    opened, kept = emulator.counters()["connections"], portone_connections(httpd, emulator)
    assert kept >= n // 2, kept

    # within the minute: reused, none opened and none closed
    for i in range(10):
        verify_ok(httpd, "imp_idle_%d" % i, "order_idle_%d" % i)
    assert emulator.counters()["connections"] == opened
    assert portone_connections(httpd, emulator) == kept

    time.sleep(62)
    # each release closes one stale handle of its own process, and httpd
    # picks the process of each request: send at least 2n, and more (a
    # bounded number) while a process that got few still has stale ones
    for i in range(12 * n):
        verify_ok(httpd, "imp_idle_%d" % (i % n), "order_idle_%d" % (i % n))
        if i >= 2 * n and portone_connections(httpd, emulator) <= httpd.servers:
            break
    deadline = time.time() + 5
    while time.time() < deadline and portone_connections(httpd, emulator) > httpd.servers:
        time.sleep(0.1)
    assert portone_connections(httpd, emulator) <= httpd.servers
    # and the module still answers over what is left
    verify_ok(httpd, "imp_idle_0", "order_idle_0")


def test_token_is_reused_and_sent_as_bearer(make_httpd, database, emulator):
    httpd = make_httpd()
    for i in range(6):
        add_paid(database, emulator, "imp_tok_%d" % i, "order_tok_%d" % i)
        verify_ok(httpd, "imp_tok_%d" % i, "order_tok_%d" % i)

    token_fetches = requests_to(emulator, "/users/getToken")
    lookups = requests_to(emulator, "/payments/")
    token = current_token(emulator)
    assert re.fullmatch(r"[0-9a-f]{40}", token)
    assert len(lookups) == 6
    assert {r["headers"].get("Authorization") for r in lookups} == {"Bearer " + token}
    for r in lookups:
        assert r["method"] == "GET" and "Tier" not in r["headers"], r
    for r in token_fetches:         # the key and secret go in the POST body only
        assert r["method"] == "POST" and r["path"] == "/users/getToken", r
        assert json.loads(r["body"]) == {"imp_key": TEST_IMP_KEY, "imp_secret": TEST_IMP_SECRET}
        assert "Authorization" not in r["headers"]
    # the logs never carry the token
    assert token not in httpd.read_error_log()
    assert token not in httpd.read_access_log()


# ---------------------------------------------------------------- Tier

def test_tier_header_is_sent_and_a_tiered_payment_is_found(make_httpd, database, emulator):
    httpd = make_httpd(directives={"PortOneTier": "ABC"})
    add_paid(database, emulator, "imp_tier", "order_tier", tier="ABC")
    verify_ok(httpd, "imp_tier", "order_tier")
    lookups = requests_to(emulator, "/payments/")
    assert lookups and all(r["headers"].get("Tier") == "ABC" for r in lookups), \
        [r["headers"] for r in lookups]


def test_without_tier_a_tiered_payment_is_not_found(pv):
    add_paid(pv.db, pv.emu, "imp_tier_only", "order_tier_only", tier="ABC")
    status, _, body = pv.httpd.verify("imp_tier_only", "order_tier_only")
    assert status == 404 and body["code"] == "payment_not_found", body
    lookups = requests_to(pv.emu, "/payments/")
    assert lookups and all("Tier" not in r["headers"] for r in lookups)


# ---------------------------------------------------------------- path injection

ODD_IMP_UIDS = ["../users/getToken", "imp_1?x=1", "imp_1#a", "a/b", "%2e%2e", "imp 1",
                "..", ".", "imp_1/../../users/getToken", "imp_1;x=1", "imp_1%2F..", "imp_1&a=b"]


def assert_one_segment(path, imp_uid):
    """/payments/<one segment that decodes to imp_uid>[?include_sandbox=...]"""
    assert path.startswith("/payments/"), path
    segment, sep, query = path[len("/payments/"):].partition("?")
    assert "/" not in segment and "#" not in segment and segment not in ("", ".", ".."), path
    assert not sep or re.fullmatch(r"include_sandbox=(true|false)", query), path
    assert unquote(segment) == imp_uid, path


@pytest.mark.parametrize("imp_uid", ODD_IMP_UIDS)
def test_imp_uid_never_leaves_its_path_segment(pv, imp_uid):
    add_paid(pv.db, pv.emu, imp_uid, "order_odd")
    add_paid(pv.db, pv.emu, "imp_1", "order_imp_1")      # what a cut-off id would find
    status, _, body = pv.httpd.verify(imp_uid, "order_odd")
    assert status == 200 and body["status"] == "success", (status, body)
    assert body["imp_uid"] == imp_uid

    c = pv.emu.counters()
    for r in c["requests"]:
        if r["path"].startswith("/users/"):
            assert (r["method"], r["path"]) == ("POST", "/users/getToken"), r
        else:
            assert r["method"] == "GET", r
            assert_one_segment(r["path"], imp_uid)
    assert c["get_token_calls"] <= pv.httpd.servers
    assert pv.db.query("SELECT imp_uid, merchant_uid FROM portone_payments") == \
        [{"imp_uid": imp_uid, "merchant_uid": "order_odd"}]
    assert pv.db.query("SELECT state FROM shop_orders WHERE order_no = 'order_imp_1'") == \
        [{"state": "new"}]


# ---------------------------------------------------------------- token refresh

def test_token_expired_on_portone_clock_is_replaced(make_httpd, database, emulator):
    httpd = make_httpd(servers=1)
    add_paid(database, emulator, "imp_exp_1", "order_exp_1")
    add_paid(database, emulator, "imp_exp_2", "order_exp_2")
    verify_ok(httpd, "imp_exp_1", "order_exp_1")
    first = token_in(requests_to(emulator, "/payments/")[-1])

    emulator.set_clock_offset(1800 + 10)        # PortOne: the token expired 10 s ago
    verify_ok(httpd, "imp_exp_2", "order_exp_2")
    c = emulator.counters()
    assert c["get_token_calls"] == 2 and c["tokens_issued"] == 2
    second = token_in(requests_to(emulator, "/payments/")[-1])
    assert second != first


def test_token_expiring_within_60_seconds_is_refreshed_before_use(make_httpd, database, emulator):
    httpd = make_httpd(servers=1)
    emulator.configure(token_lifetime=30)       # every new token expires within 60 s
    for i in range(3):
        add_paid(database, emulator, "imp_soon_%d" % i, "order_soon_%d" % i)

    verify_ok(httpd, "imp_soon_0", "order_soon_0")
    assert emulator.counters()["get_token_calls"] == 1
    seen = len(emulator.counters()["requests"])

    verify_ok(httpd, "imp_soon_1", "order_soon_1")
    # refreshed before the look-up, not after a refused one; PortOne extends
    # a token asked for within its last minute by 5 minutes
    paths = [r["path"] for r in emulator.counters()["requests"][seen:]]
    assert paths == ["/users/getToken", "/payments/imp_soon_1"], paths

    verify_ok(httpd, "imp_soon_2", "order_soon_2")
    assert emulator.counters()["get_token_calls"] == 2


@pytest.mark.parametrize("offset", [-86400, 86400], ids=["portone_a_day_behind",
                                                         "portone_a_day_ahead"])
def test_token_lifetime_is_measured_on_portone_clock(make_httpd, database, emulator, offset):
    httpd = make_httpd(servers=1)
    emulator.set_clock_offset(offset)
    for i in range(5):
        add_paid(database, emulator, "imp_skew_%d" % i, "order_skew_%d" % i)
        verify_ok(httpd, "imp_skew_%d" % i, "order_skew_%d" % i)
    assert emulator.counters()["get_token_calls"] == 1


# ---------------------------------------------------------------- request notes

def access_log_line(httpd, pattern, timeout=5.0):
    """The access log line matching |pattern| (it is written after the answer)."""
    end = time.monotonic() + timeout
    while True:
        for line in httpd.read_access_log().splitlines():
            if re.search(pattern, line):
                return line
        if time.monotonic() > end:
            raise AssertionError("no access log line matches %r:\n%s"
                                 % (pattern, httpd.read_access_log()[-2000:]))
        time.sleep(0.05)


@pytest.mark.parametrize("amount, status, http_status, outcome", [
    (10000, "paid", 200, "paid"),
    (9000, "paid", 400, "forgery"),
    (10000, "ready", 409, "pending"),
    (10000, "cancelled", 409, "cancelled"),
])
def test_outcome_and_imp_uid_are_request_notes(pv, amount, status, http_status, outcome):
    imp = "imp_note_%s_%d" % (outcome, time.monotonic_ns() % 10**9)
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_note_forgery_\d+ merchant_uid=order_note "
                  r"outcome=forgery \(recorded\): amount differs from the order")
    pv.db.add_order("order_note", 10000)
    pv.emu.add_payment(imp_uid=imp, merchant_uid="order_note", amount=amount, status=status)
    answer = pv.httpd.verify(imp, "order_note")
    assert answer[0] == http_status, answer
    access_log_line(pv.httpd, r'"POST /payments/complete HTTP/1\.1" %d %s %s$'
                    % (http_status, outcome, re.escape(imp)))


NOTES_FORMAT = ('LogFormat "%>s n=[%{portone-outcome}n|%{portone-imp-uid}n|%{portone-merchant-uid}n'
                '|%{portone-payment-id}n] e=[%{portone-outcome}e|%{portone-imp-uid}e'
                '|%{portone-merchant-uid}e|%{portone-payment-id}e]" notes\n'
                'CustomLog notes.log notes\n')


def notes_lines(h, count):
    """The notes.log lines (ServerRoot/notes.log), once |count| are written."""
    path = os.path.join(h.dir, "notes.log")
    end = time.monotonic() + 10
    while True:
        lines = open(path).read().splitlines() if os.path.exists(path) else []
        if len(lines) >= count or time.monotonic() > end:
            return lines
        time.sleep(0.05)


@pytest.mark.expect_log(r"PV0102: portone-verify imp_uid=imp_env_f merchant_uid=o_env "
                        r"outcome=forgery \(recorded\)")
def test_notes_are_also_environment_variables_for_the_access_log(make_httpd, database, emulator):
    """%{portone-...}e (mod_log_config's environment, as SSI, CGI and
    mod_rewrite read it) shows what %{portone-...}n shows."""
    h = make_httpd(directives=v2_directives(emulator.url), extra=NOTES_FORMAT)
    database.add_order("o_env", 10000)
    database.add_order("pay_env", 10000)
    emulator.add_payment(imp_uid="imp_env", merchant_uid="o_env", amount=10000, status="paid")
    emulator.add_payment(imp_uid="imp_env_f", merchant_uid="o_env", amount=100, status="paid")
    emulator.add_v2_payment(paymentId="pay_env", total=10000, status="PAID")
    assert h.verify("imp_env", "o_env")[0] == 200
    assert h.verify("imp_env_f", "o_env")[0] == 400
    assert h.verify("imp_env_none", "o_env")[0] == 404
    assert h.post("/payments/complete", {"paymentId": "pay_env"})[0] == 200
    assert h.post("/payments/complete", "x", content_type="text/plain")[0] == 415
    # sorted: a line is written after its answer, by any process
    assert sorted(notes_lines(h, 5)) == sorted([
        "200 n=[paid|imp_env|o_env|-] e=[paid|imp_env|o_env|-]",
        "400 n=[forgery|imp_env_f|o_env|-] e=[forgery|imp_env_f|o_env|-]",
        "404 n=[payment_not_found|imp_env_none|o_env|-] e=[payment_not_found|imp_env_none|o_env|-]",
        "200 n=[paid|pay_env|-|pay_env] e=[paid|pay_env|-|pay_env]",
        "415 n=[unsupported_media_type|-|-|-] e=[unsupported_media_type|-|-|-]",
    ])
