"""make bench-callgrind: instructions per request, counted by valgrind's
callgrind in `httpd -X` (one process), for the static file and for
verifications on SQLite. Unlike requests/s on a shared 2-core machine, the
counts are the same from one run to the next, so they show small changes
(`make bench-compare` measures time; this measures work). The kernel's share
(syscalls, context switches, page copies) is not counted.

    PV_CG_MODULE=/path/to/mod_portone_verify.so   another build (default: .libs)
    PV_CG_REQUESTS=1000                           requests counted (after 200 of warm-up)
    PV_CG_SKIP_V2=1                               no PortOne V2 workload (a module without V2)

Prints, per request: instructions by shared object (self cost) for the
static file, a first verification (a write) and a verification that
changes nothing (the payments of the longer first-verification run
verified again, in a fresh httpd), and the functions under the module's
handler (inclusive) for both kinds of verification. Writes the callgrind
files to a temporary directory and names it.
"""
import collections
import http.client
import json
import os
import re
import shutil
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import bench_common  # noqa: E402
from bench_common import V2_PATH  # noqa: E402
from bench_servers import Standin, make_static_dir, sqlite_db  # noqa: E402
from compare import VariantHttpd  # noqa: E402
from harness import RUN_USER, make_tempdir, wait_port  # noqa: E402

REQUESTS = int(os.environ.get("PV_CG_REQUESTS", "1000"))
ORDERS = 100000
WARMUP = 200


def requests(url, n, verify, first, v2=False):
    """n requests on one keep-alive connection; verifications of payments
    imp_b<first>.. (each a first verification: a write), or with v2 of V2
    paymentIds order_<first>.. (the order of that number, each a first one)."""
    host, port = url.split("//")[1].split(":")
    con = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        for i in range(n):
            if v2:
                con.request("POST", V2_PATH, json.dumps({"paymentId": "order_%d" % (first + i)}),
                            {"Content-Type": "application/json"})
            elif verify:
                k = first + i
                body = json.dumps({"imp_uid": "imp_b%d" % k,
                                   "merchant_uid": "order_%d" % ((k - 1) % ORDERS + 1)})
                con.request("POST", "/payments/complete", body,
                            {"Content-Type": "application/json"})
            else:
                con.request("GET", "/static.json")
            r = con.getresponse()
            data = r.read()
            if r.status != 200 or (verify and b'"success"' not in data):
                raise RuntimeError("request %d: %d %r" % (i, r.status, data[:200]))
    finally:
        con.close()


def count(h_factory, tmp, name, verify, warm, n, first, v2=False):
    """One httpd -X under callgrind (collecting inside
    ap_run_process_connection: reading, handling and answering requests):
    warm requests then n more; returns its callgrind file."""
    hdir = os.path.join(tmp, name)
    os.makedirs(hdir)
    out = os.path.join(hdir, "callgrind.out")
    open(out, "w").close()              # written at exit, by httpd's User
    if os.geteuid() == 0:
        shutil.chown(out, RUN_USER, RUN_USER)
    h = h_factory(hdir)
    wrapper = ["valgrind", "--tool=callgrind", "--vgdb=no", "--collect-atstart=no",
               "--toggle-collect=ap_run_process_connection", "--callgrind-out-file=" + out]
    h.start(wrapper=wrapper, one_process=True, timeout=120)
    try:
        if not wait_port(h.port, 60):
            raise RuntimeError("httpd under callgrind does not answer")
        requests(h.url, warm, verify, first, v2)
        requests(h.url, n, verify, first + warm, v2)
    finally:
        h.stop()
    if not os.path.exists(out):
        raise RuntimeError("callgrind wrote no file for " + name)
    return out


def parse(path):
    """A callgrind file (--dump-instr=no, event Ir) as (self, inclusive):
    Counters keyed by (shared object, function). Inclusive is the function's
    own cost plus that of the calls it makes (recursion counted again)."""
    names = {"ob": {}, "fn": {}, "fl": {}}
    space = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn", "fl": "fl", "fi": "fl",
             "fe": "fl", "cfi": "fl", "cfl": "fl"}
    own, incl = collections.Counter(), collections.Counter()
    ob = fn = None
    after_call = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            key, eq, value = line.partition("=")
            if eq and key in space:
                m = re.match(r"\((\d+)\)(?: (.*))?$", value)
                table = names[space[key]]
                if m:
                    name = m.group(2) if m.group(2) is not None else table.get(m.group(1), "?")
                    table[m.group(1)] = name
                else:
                    name = value
                if key == "ob":
                    ob = os.path.basename(name)
                elif key == "fn":
                    fn = (re.sub(r"\.so[.\d]*$", ".so", ob or "?"), name)
                continue
            if eq and key == "calls":
                after_call = True
                continue
            if not line or not (line[0].isdigit() or line[0] in "+-*"):
                continue
            parts = line.split()
            cost = int(parts[1]) if len(parts) > 1 else 0
            if after_call:
                incl[fn] += cost
                after_call = False
            else:
                own[fn] += cost
                incl[fn] += cost
    return own, incl


def per_request(short, long_):
    """(total, {object: Ir}, {(object, function): inclusive Ir}) of the
    requests the long run made beyond the short one, per request."""
    (own0, inc0), (own1, inc1) = parse(short), parse(long_)
    own1.subtract(own0)
    inc1.subtract(inc0)
    objs = collections.Counter()
    for (obj, _), ir in own1.items():
        objs[obj] += ir
    total = sum(objs.values())
    return (total / float(REQUESTS), {k: v / float(REQUESTS) for k, v in objs.items()},
            {k: v / float(REQUESTS) for k, v in inc1.items()})


def report(static, verify, v2=None, repeat=None):
    s_total, s_objs, _ = static
    v_total, v_objs, v_incl = verify
    r_total, r_objs, r_incl = repeat if repeat else (0, {}, {})
    lines = ["Instructions per request (callgrind, httpd -X, inside ap_run_process_connection; "
             "the difference between %d and %d requests after the warm-up; kernel not counted)"
             % (WARMUP, WARMUP + REQUESTS), "",
             "first verification: a payment not recorded yet (a write transaction); "
             "no change: the same payments verified again (nothing to write)", "",
             "%-34s %14s %14s %14s" % ("shared object (self)", "static file", "first verif.",
                                       "no change"),
             "-" * 79]
    objs = sorted(set(s_objs) | set(v_objs), key=lambda o: -max(v_objs.get(o, 0), s_objs.get(o, 0)))
    for obj in objs[:14]:
        lines.append("%-34s %14s %14s %14s" % (obj[:34], "{:,.0f}".format(s_objs.get(obj, 0)),
                                               "{:,.0f}".format(v_objs.get(obj, 0)),
                                               "{:,.0f}".format(r_objs.get(obj, 0))))
    lines.append("-" * 79)
    lines.append("%-34s %14s %14s %14s" % ("total", "{:,.0f}".format(s_total), "{:,.0f}".format(v_total),
                                           "{:,.0f}".format(r_total)))
    lines.append("%-34s %14s %14.1f %14.1f" % ("/ static file", "", v_total / s_total,
                                               r_total / s_total))
    if v2:
        w_total, w_objs, _ = v2
        lines += ["", "PortOne V2 verification ({\"paymentId\"}, same database and stand-in):",
                  "%-34s %14s %14s %8s" % ("shared object (self)", "V1", "V2", "V2/V1"), "-" * 73]
        for obj in sorted(set(v_objs) | set(w_objs), key=lambda o: -w_objs.get(o, 0))[:14]:
            a, b = v_objs.get(obj, 0), w_objs.get(obj, 0)
            lines.append("%-34s %14s %14s %8s" % (obj[:34], "{:,.0f}".format(a), "{:,.0f}".format(b),
                                                  "%.2f" % (b / a) if a else "-"))
        lines.append("-" * 73)
        lines.append("%-34s %14s %14s %8.2f" % ("total", "{:,.0f}".format(v_total),
                                                "{:,.0f}".format(w_total), w_total / v_total))
    # by name: the module's file may be another build's (PV_CG_MODULE)
    handler = max((ir for (_, fn), ir in v_incl.items() if fn == "pv_handler"), default=0)
    lines += ["", "Inclusive, per verification: the module's handler (100%) and the functions "
              "below it that cost the most (named ones):"]
    top = sorted((v for v in v_incl.items()
                  if 0 < v[1] <= handler and not v[0][1].startswith("0x")), key=lambda v: -v[1])
    for (obj, fn), ir in top[:32]:
        lines.append("%14s %6.1f%%  %s [%s]" % ("{:,.0f}".format(ir), 100.0 * ir / handler, fn, obj))
    if r_incl:
        handler = max((ir for (_, fn), ir in r_incl.items() if fn == "pv_handler"), default=0)
        lines += ["", "Inclusive, per verification that changes nothing: the handler (100%) "
                  "and the functions below it that cost the most:"]
        top = sorted((v for v in r_incl.items()
                      if 0 < v[1] <= handler and not v[0][1].startswith("0x")), key=lambda v: -v[1])
        for (obj, fn), ir in top[:24]:
            lines.append("%14s %6.1f%%  %s [%s]" % ("{:,.0f}".format(ir), 100.0 * ir / handler,
                                                    fn, obj))
    return lines


def main():
    bench_common.start_clock()
    tmp = make_tempdir("pv-callgrind-")
    stack = []
    try:
        standin = Standin(os.path.join(BENCH, "build", "standin"), tmp).start()
        stack.append(standin.stop)
        standin.set_orders(ORDERS)      # imp_bK pays order_((K-1) mod ORDERS + 1)
        static_dir = make_static_dir(tmp)
        dbdir = os.path.join(tmp, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o755)
        db = sqlite_db(dbdir, ORDERS)
        module = os.environ.get("PV_CG_MODULE")

        with_v2 = os.environ.get("PV_CG_SKIP_V2") != "1"

        def factory(hdir):
            return VariantHttpd(module, hdir, db, standin.url, static_dir, dbd_max=4, v2=with_v2)
        files = {}
        for kind, verify in (("static", False), ("verify", True)):
            for n in (0, REQUESTS):
                # distinct payments in every run: each a first verification
                files[kind, n] = count(factory, tmp, "%s-%d" % (kind, n), verify, WARMUP, n,
                                       1 + 100000 * len(files))
        # the payments the last run recorded, verified again: nothing changes
        recorded = 1 + 100000 * (len(files) - 1)
        for n in (0, REQUESTS):
            files["repeat", n] = count(factory, tmp, "repeat-%d" % n, True, WARMUP, n, recorded)
        v2 = None
        if with_v2:
            # V2 paymentIds are order numbers (:merchant_uid carries the
            # paymentId): its own database, orders 1.. then 1 + warm-up + n..
            dbdir2 = os.path.join(tmp, "db-v2")
            os.makedirs(dbdir2)
            os.chmod(dbdir2, 0o755)
            db2 = sqlite_db(dbdir2, ORDERS)

            def factory_v2(hdir):
                return VariantHttpd(module, hdir, db2, standin.url, static_dir, dbd_max=4, v2=True)
            for i, n in enumerate((0, REQUESTS)):
                files["v2", n] = count(factory_v2, tmp, "v2-%d" % n, True, WARMUP, n,
                                       1 + i * (WARMUP + REQUESTS), v2=True)
            v2 = per_request(files["v2", 0], files["v2", REQUESTS])
        lines = report(per_request(files["static", 0], files["static", REQUESTS]),
                       per_request(files["verify", 0], files["verify", REQUESTS]), v2,
                       per_request(files["repeat", 0], files["repeat", REQUESTS]))
        lines.insert(0, "mod_portone_verify callgrind run, %s, module %s"
                     % (time.strftime("%Y-%m-%d %H:%M"), module or ".libs (this build)"))
        print("\n".join(lines))
        print("callgrind files under " + tmp)
        with open(os.path.join(BENCH, "callgrind-last-run.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    finally:
        for stop in reversed(stack):
            stop()


if __name__ == "__main__":
    main()
