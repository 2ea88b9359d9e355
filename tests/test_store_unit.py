"""The store's C tests (tests/store, `make store-test`) on each database of
the suite (PV_DBS): SQLite (the native back-end and plain apr_dbd), and the
suite's own PostgreSQL and MariaDB servers, where each run works in a schema
or database of its own. They load orders and record verifications through
src/store without httpd: every outcome transition, the order-level rule,
batches of the commit group with several items of one order and one
payment, a failing statement inside a batch, racing writers, recovery of
lost statements, and PostgreSQL's round trips."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "tests", "store", "run_store")
DB_KINDS = [k for k in os.environ.get("PV_DBS", "sqlite3,pgsql,mysql").split(",") if k]


@pytest.fixture(scope="module")
def run_store():
    r = subprocess.run(["make", "-s", "tests/store/run_store"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return BINARY


@pytest.mark.parametrize("kind", DB_KINDS)
def test_store_c_tests(kind, run_store, request):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PV_TEST_")}
    if kind == "sqlite3":
        env["PV_TEST_DBS"] = "sqlite3,sqlite3-dbd"
    elif kind == "pgsql":
        env["PV_TEST_DBS"] = "pgsql"
        env["PV_TEST_PGSQL"] = request.getfixturevalue("pg_cluster").dsn
    else:
        env["PV_TEST_DBS"] = "mysql"
        env["PV_TEST_MYSQL"] = request.getfixturevalue("my_cluster").dsn
    r = subprocess.run([run_store], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert out.rstrip().endswith(" 0 failed"), out
