"""The C tests of the PortOne client (tests/unit/test_client.c,
client_against_the_emulator*) against the project's emulator over real
HTTP: built by `make unit`, run here with the emulator named in
PV_TEST_EMULATOR (no httpd, no database)."""
import os
import subprocess

from portone_emulator import TEST_IMP_SECRET, TEST_V2_SECRET, TEST_V2_STORE_ID

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_client_against_the_emulator(emulator):
    emulator.reset()
    emulator.add_payment(imp_uid="imp_cu_paid", merchant_uid="order_cu", amount=12000,
                         status="paid")
    subprocess.run(["make", "-s", "tests/unit/run_unit"], cwd=ROOT, check=True,
                   capture_output=True)
    env = dict(os.environ, PV_TEST_EMULATOR=emulator.url,
               PV_TEST_EMULATOR_SECRET=TEST_IMP_SECRET)
    out = subprocess.run([os.path.join(ROOT, "tests", "unit", "run_unit"),
                          "client_against_the_emulator"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed, 0 failed" in out.stdout, out.stdout
    asked = [(r["method"], r["path"]) for r in emulator.counters()["requests"]]
    assert asked.count(("POST", "/users/getToken")) == 2, asked     # one per key
    assert ("GET", "/payments/imp_cu_paid") in asked
    # the id stays one path segment: / . ? # encoded
    assert ("GET", "/payments/imp_cu%2F%2E%2E%2Fx%3Fy%23z") in asked, asked


def test_client_v2_against_the_emulator(emulator):
    """pv_client_get_payment_v2 (client_v2_against_the_emulator): the V2
    payments of contract section 8 looked up over real HTTP, and what the
    emulator was asked: the secret as `Authorization: PortOne`, no token,
    the paymentId percent-encoded as one path segment, ?storeId=."""
    odd = "pay-cu/../x?y#z 100%25 주문"
    emulator.reset()
    # an upstream that serves a payment of another store (to see the check)
    emulator.configure(v2_store_check=False)
    emulator.add_v2_payment(paymentId="pay-cu-paid", total=12000)
    emulator.add_v2_payment(paymentId="pay-cu-test", channel_type="TEST")
    emulator.add_v2_payment(paymentId="pay-cu-vbank", status="VIRTUAL_ACCOUNT_ISSUED")
    emulator.add_v2_payment(paymentId="pay-cu-other", storeId="store-other")
    emulator.add_v2_payment(paymentId="pay-cu-new", status="REFUND_REQUESTED")
    emulator.add_v2_payment(paymentId=odd)
    subprocess.run(["make", "-s", "tests/unit/run_unit"], cwd=ROOT, check=True,
                   capture_output=True)
    env = dict(os.environ, PV_TEST_EMULATOR=emulator.url,
               PV_TEST_EMULATOR_V2=emulator.v2_url,
               PV_TEST_EMULATOR_V2_SECRET=TEST_V2_SECRET,
               PV_TEST_EMULATOR_V2_STORE=TEST_V2_STORE_ID)
    out = subprocess.run([os.path.join(ROOT, "tests", "unit", "run_unit"),
                          "client_v2_"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed, 0 failed" in out.stdout, out.stdout
    assert "skip" not in out.stdout, out.stdout
    reqs = emulator.counters()["requests"]
    assert reqs and all(r["api"] == "v2" and r["method"] == "GET" for r in reqs), reqs
    # no token: V2 sends its secret, never logs in
    assert emulator.counters()["get_token_calls"] == 0
    assert not any(r["path"].startswith(("/login", "/token", "/users")) for r in reqs)
    auth = [r["headers"].get("Authorization") for r in reqs]
    assert auth.count("PortOne " + TEST_V2_SECRET) == len(reqs) - 1, auth
    assert auth[-1] == "PortOne not-the-v2-secret", auth
    asked = [r["path"] for r in reqs]
    q = "?storeId=" + TEST_V2_STORE_ID
    for pid in ("pay-cu-paid", "pay-cu-test", "pay-cu-vbank", "pay-cu-other",
                "pay-cu-new", "pay-cu-none"):
        assert "/payments/" + pid + q in asked, (pid, asked)
    # the client without a store sends none
    assert "/payments/pay-cu-other" in asked, asked
    # every byte but [A-Za-z0-9_-] encoded: / . ? # space % and UTF-8
    assert ("/payments/pay-cu%2F%2E%2E%2Fx%3Fy%23z%20100%2525%20"
            "%EC%A3%BC%EB%AC%B8" + q) in asked, asked
    # handles reused: fewer connections than requests
    assert emulator.counters()["connections"] < len(reqs)
