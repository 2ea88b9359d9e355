"""make leakcheck: valgrind memcheck on `httpd -X` with the module, through a
few hundred verifications of every outcome and error; fails when a
definitely-lost block has a frame in the module's code. On SQLite, then on
PostgreSQL (PV_LEAK_DBS, default "sqlite3,pgsql"): each driver has its own
statement code in src/store (pv_store_sqlite.c, pv_store_pgsql.c)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Httpd, SqliteDB, make_tempdir, wait_port  # noqa: E402
from portone_emulator import Emulator  # noqa: E402
import pgcluster  # noqa: E402

ROUNDS = int(os.environ.get("PV_LEAK_ROUNDS", "40"))
OURS = re.compile(r"mod_portone_verify\.c|pv_[a-z]+\.c")


def drive(h, emu, db, n):
    """One round: every outcome and the common errors once; returns count."""
    sent = 0
    cases = [
        ("paid", dict(status="paid"), 10000),
        ("vbank", dict(status="ready", pay_method="vbank", vbank_num="123", vbank_name="KB",
                       vbank_date=1900000000), 10000),
        ("pending", dict(status="ready"), 10000),
        ("cancelled", dict(status="cancelled"), 10000),
        ("failed", dict(status="failed"), 10000),
        ("forgery", dict(status="paid"), 9999),
    ]
    for name, fields, order_amount in cases:
        imp, order = "imp_%s_%d" % (name, n), "o_%s_%d" % (name, n)
        db.add_order(order, order_amount)
        emu.add_payment(imp_uid=imp, merchant_uid=order, amount=10000, **fields)
        h.verify(imp, order)
        h.webhook(imp, order, form=bool(n % 2))
        h.verify(imp, "someone_else")          # a forged claim
        sent += 3
    h.verify("imp_missing_%d" % n, "o_x")        # payment_not_found
    emu.add_payment(imp_uid="imp_noorder_%d" % n, merchant_uid="o_none_%d" % n, amount=1)
    h.verify("imp_noorder_%d" % n, "o_none_%d" % n)   # order_not_found
    emu.add_payment(imp_uid="imp_bad_%d" % n, merchant_uid="o_bad", amount="1000")
    h.verify("imp_bad_%d" % n, "o_bad")          # upstream_error (amount a string)
    h.post("/payments/complete", "{not json")    # invalid_request
    h.post("/payments/complete", "x", content_type="text/plain")  # 415
    sent += 5
    if n % 10 == 0:
        emu.revoke_tokens()                      # a 401, a refresh, a retry
    return sent


def check(kind):
    """One valgrind run on database |kind|; True when nothing is ours."""
    d = make_tempdir("pv-leak-")
    emu = Emulator().start()
    cluster = None
    try:
        if kind == "pgsql":
            cluster = pgcluster.PgCluster(make_tempdir("pv-leak-pg-")).start()
            db = pgcluster.PgDB(cluster)
        else:
            db = SqliteDB(d)
        return run(d, emu, db, kind)
    finally:
        emu.stop()
        if cluster:
            cluster.stop()


def run(d, emu, db, kind):
    h = Httpd(d, db, emu.url, directives={"PortOneTimeout": "30"})
    vlog = os.path.join(d, "valgrind.log")
    wrapper = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
               # httpd unloads the module before the report: keep its symbols
               "--keep-debuginfo=yes",
               "--errors-for-leak-kinds=definite", "--num-callers=40", "--log-file=" + vlog]
    total = 0
    try:
        h.start(wrapper=wrapper, one_process=True, timeout=120)
        wait_port(h.port, 60)
        t0 = time.time()
        for n in range(ROUNDS):
            total += drive(h, emu, db, n)
        print("leakcheck (%s): %d requests in %.0f s" % (kind, total, time.time() - t0))
    finally:
        h.stop()
    seen = set(re.findall(r'" \d{3} (\S+) ', h.read_access_log()))
    wanted = {"paid", "vbank_issued", "pending", "cancelled", "failed", "forgery",
              "payment_not_found", "order_not_found", "upstream_error", "invalid_request",
              "unsupported_media_type"}
    if not wanted <= seen:
        print("leakcheck (%s): these outcomes never happened: %s" % (kind, sorted(wanted - seen)))
        return False
    text = open(vlog, encoding="utf-8", errors="replace").read()
    summary = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    records = [r for r in re.split(r"\n==\d+== \n", text) if "definitely lost in loss record" in r]
    ours = [r for r in records if OURS.search(r)]
    invalid = [r for r in re.split(r"\n==\d+== \n", text)
               if re.search(r"Invalid (read|write)|uninitialised", r) and OURS.search(r)]
    print("leakcheck (%s): valgrind: definitely lost %s bytes in %s blocks overall; "
          "%d loss records with a frame in the module; %d memory errors in the module"
          % (kind, summary.group(1) if summary else "0", summary.group(2) if summary else "0",
             len(ours), len(invalid)))
    if errors:
        print("leakcheck (%s): valgrind ERROR SUMMARY: %s errors (all sources)"
              % (kind, errors.group(1)))
    for r in (ours + invalid)[:5]:
        print(r)
    print("leakcheck (%s): log at %s" % (kind, vlog))
    return not (ours or invalid)


def main():
    kinds = os.environ.get("PV_LEAK_DBS", "sqlite3,pgsql").split(",")
    results = [check(k) for k in kinds]
    print("%d passed, %d failed" % (results.count(True), results.count(False)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
