"""Browser calls and webhooks racing for one payment that moves from
vbank_issued to paid while they run, from several httpd processes and from
two httpd servers sharing the database (contract sections 6 and 7)."""
import re
import threading
from concurrent.futures import ThreadPoolExecutor

VBANK = dict(pay_method="vbank", status="ready", vbank_num="56211105948400",
             vbank_name="KB국민은행", vbank_date=1900000000)
REQUESTS = 200
WORKERS = 100


def race(pv, servers, imp_uid, merchant_uid):
    pv.db.add_order(merchant_uid, 45000)
    pv.emu.add_payment(imp_uid=imp_uid, merchant_uid=merchant_uid, amount=45000, **VBANK)
    done = []
    lock = threading.Lock()
    switched = threading.Event()

    def one(i):
        h = servers[i % len(servers)]
        if i % 2:
            result = h.webhook(imp_uid, merchant_uid, "paid" if switched.is_set() else "ready",
                               form=bool(i % 4 == 1), timeout=60)
        else:
            result = h.verify(imp_uid, merchant_uid, timeout=60)
        with lock:
            done.append(result)
            # the deposit arrives while the requests are in flight
            if len(done) == REQUESTS // 3 and not switched.is_set():
                pv.emu.patch_payment(imp_uid, status="paid", paid_at=1800000000)
                switched.set()
        return result

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(one, range(REQUESTS)))
    return results


def check(pv, results, imp_uid, merchant_uid, servers):
    statuses = sorted(set(r[0] for r in results))
    assert all(s < 500 for s in statuses), [r for r in results if r[0] >= 500][:3]
    assert set(statuses) <= {200}, statuses
    answers = set(r[2]["status"] for r in results)
    assert answers <= {"vbankIssued", "success", "vbank_issued", "paid"}, answers
    assert "paid" in answers or "success" in answers

    rows = pv.db.query("SELECT outcome, status FROM portone_payments WHERE imp_uid = ?", (imp_uid,))
    assert rows == [{"outcome": "paid", "status": "paid"}]
    events = sorted(r["outcome"] for r in pv.db.query(
        "SELECT outcome FROM portone_events WHERE imp_uid = ?", (imp_uid,)))
    assert events == ["paid", "vbank_issued"]
    order = pv.db.query("SELECT state, updates FROM shop_orders WHERE order_no = ?", (merchant_uid,))
    assert order == [{"state": "paid", "updates": 2}]

    pids = set()
    for h in servers:
        pids |= set(re.findall(r"^\S+ (\d+) ", h.read_access_log(), re.M))
    assert len(pids) >= 2, "all requests were served by one httpd process"


def test_race_over_several_processes(pv):
    results = race(pv, [pv.httpd], "imp_race1", "o_race1")
    check(pv, results, "imp_race1", "o_race1", [pv.httpd])


def test_race_over_two_servers_sharing_the_database(pv, make_httpd):
    second = make_httpd()
    pv.db.reset()
    pv.emu.reset()
    results = race(pv, [pv.httpd, second], "imp_race2", "o_race2")
    check(pv, results, "imp_race2", "o_race2", [pv.httpd, second])
    # each server's processes took part
    assert "imp_race2" in pv.httpd.read_access_log() and "imp_race2" in second.read_access_log()
