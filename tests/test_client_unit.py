"""The C tests of the PortOne client (tests/unit/test_client.c,
client_against_the_emulator*) against the project's emulator over real
HTTP: built by `make unit`, run here with the emulator named in
PV_TEST_EMULATOR (no httpd, no database)."""
import os
import subprocess

from portone_emulator import TEST_IMP_SECRET

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
