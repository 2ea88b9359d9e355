"""The tables of make bench: the main table, the scaling table and the targets
(bench/README.md)."""
from bench_common import SIZE_PAYMENTS


def pct_cell(r, key):
    """A row's percentage column ("idle", "busy"), or "-" where the run has
    none ("busy" only where write transactions committed)."""
    if r.get(key) is None or (key == "busy" and not r.get("group")):
        return "-"
    return "%.0f%%" % r[key]


def fmt_main(rows, static_rps):
    head = ("%-42s %5s %7s %7s %8s %10s %8s %5s %8s %10s %7s %7s %7s %7s %5s %7s %6s"
            % ("run", "conns", "req/s", "p50 ms", "p99 ms", "non2xx/err", "PO/verif", "token",
               "newPO/1k", "DB max/avg", "wr/cmt", "wr busy", "RSS MiB", "CPU us", "idle",
               "static", "bound")
            + " %5s %13s %5s" % ("V2/V1", "spread req/s", "load"))
    out = [head, "-" * len(head)]
    for r in rows:
        verif = r.get("verif", True) and r["verifs"]
        calls = "%.3f" % (r["calls"] / r["verifs"]) if verif else "-"
        tok = "%d" % r["tokens"] if verif else "-"
        newc = "%.2f" % (1000.0 * r["new_conns"] / r["verifs"]) if verif else "-"
        db = "%d/%.1f" % r["db"] if r["db"] else "-"
        rss = "%.1f" % (r["rss_kib"] / 1024.0) if r["rss_kib"] else "-"
        ceiling = r.get("static_rps", static_rps)   # the same httpd's static file
        ratio = "%.1f%%" % (100.0 * r["rps"] / ceiling) if ceiling and r.get("ratio", True) else "-"
        bound = "%.1f%%" % (100.0 * r["rps"] / r["bound"]) if r.get("bound") else "-"
        cpu = "%.0f" % r["cpu_us"] if r["cpu_us"] is not None else "-"
        group = "%.1f" % r["group"] if r.get("group") else "-"
        # a V2 row carries the V1 row it is compared with
        v2v1 = "%.2f" % (r["rps"] / r["v1"]["rps"]) if r.get("v1") else "-"
        out.append("%-42s %5d %7.0f %7.2f %8.2f %10s %8s %5s %8s %10s %7s %7s %7s %7s %5s %7s %6s"
                   % (r["label"][:42], r["conns"], r["rps"], r["p50_ms"], r["p99_ms"],
                      "%d/%d" % (r["non2xx"], r["errors"]), calls, tok, newc, db, group,
                      pct_cell(r, "busy"), rss, cpu, pct_cell(r, "idle"), ratio, bound)
                   + " %5s %13s %5s" % (v2v1, spread(r),
                                        "%.1f" % r["load"] if "load" in r else "-"))
    return out


def spread(r):
    """A median row's lowest and highest req/s over its rounds."""
    if not r.get("spread"):
        return "-"
    return "%.0f-%.0f" % r["spread"]


def spread_pct(r):
    if not r.get("spread"):
        return "one round"
    lo, hi = r["spread"]
    return "%d rounds %.0f-%.0f, +-%.0f%%" % (r["rounds"], lo, hi, 50.0 * (hi - lo) / r["rps"])


def fmt_node(sqlite_main, sqlite_big, node_sqlite, pg_main, node_pg, node_normal=None):
    """The module beside the Node.js counterpart (bench/node), each the
    median of its rounds, which ran alternately. node_sqlite commits with
    synchronous FULL, as the module; node_normal (if any) with
    better-sqlite3's default NORMAL (no sync at commit)."""
    out = ["The module beside Node.js (bench/node: Fastify, cluster of 2, token cache, undici "
           "keep-alive pool, better-sqlite3 / pg; %d connections; SQLite synchronous FULL in "
           "both, as the module's commits, unless said):" % sqlite_main["conns"]]
    if not node_sqlite:
        return out + ["  (no Node rows: bench/node has no node_modules)"]

    def line(what, m, n):
        out.append("  %-34s module %6.0f req/s (%s)  Node %6.0f req/s (%s)  module/Node %.2f"
                   % (what, m["rps"], spread_pct(m), n["rps"], spread_pct(n), m["rps"] / n["rps"]))
        if m.get("cpu_us") and n.get("cpu_us"):
            out.append("  %-34s CPU per verification: module %.0f us, Node %.0f us"
                       % ("", m["cpu_us"], n["cpu_us"]))
    line("SQLite, httpd sized for 128", sqlite_main, node_sqlite)
    line("SQLite, httpd sized for 1,024", sqlite_big, node_sqlite)
    if node_normal:
        line("SQLite, Node not syncing (NORMAL)", sqlite_main, node_normal)
    if pg_main and node_pg:
        line("PostgreSQL", pg_main[0], node_pg)
    return out


def fmt_scaling(rows, static_rps):
    head = "%5s %7s %7s %8s %8s %5s %7s %8s %8s %7s %5s %7s %7s" % (
        "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "5xx", "errors", "PO/verif",
        "newPO/1k", "static", "idle", "wr/cmt", "wr busy")
    out = [head, "-" * len(head)]
    for r in rows:
        v = max(1, r["verifs"])
        out.append("%5d %7.0f %7.2f %8.2f %8d %5d %7d %8.3f %8.2f %6.1f%% %5s %7s %7s"
                   % (r["conns"], r["rps"], r["p50_ms"], r["p99_ms"], r["non2xx"], r["s5"],
                      r["errors"], r["calls"] / v, 1000.0 * r["new_conns"] / v,
                      100.0 * r["rps"] / static_rps,
                      pct_cell(r, "idle"), "%.1f" % r["group"] if r.get("group") else "-",
                      pct_cell(r, "busy")))
    return out


def fmt_targets(static_rps, sqlite_main, pg_rows, sqlite_slow, scaling_rows, size_rows, mem,
                sqlite_big, sqlite_peak, node_sqlite, node_pg, node_size, v2_rows):
    """Issue 18's targets, as ratios of this run's own figures."""
    def pct(a, b):
        return 100.0 * a / b if b else 0.0

    k1, m1 = size_rows
    out = ["Targets (this run's figures; 'met' or 'NOT met'):"]

    def line(what, value, ok):
        out.append("  %-60s %-34s %s" % (what, value, "met" if ok else "NOT met"))

    if node_sqlite:
        for what, r in (("128", sqlite_main), ("1,024", sqlite_big)):
            x = r["rps"] / node_sqlite["rps"]
            line("SQLite, httpd sized for %s: >= 1.5x Node" % what, "%.2fx" % x, x >= 1.5)
        if pg_rows and node_pg:
            x = pg_rows[0]["rps"] / node_pg["rps"]
            line("PostgreSQL: >= 1.0x Node", "%.2fx" % x, x >= 1.0)
    share = pct(sqlite_main["rps"], static_rps)
    line("SQLite, httpd sized for 128: >= 20% of the static file", "%.1f%%" % share, share >= 20)
    # against the static file on the same 1,024-sized httpd; the 128-sized
    # httpd's static file beside it, for the record
    share = pct(sqlite_big["rps"], sqlite_big.get("static_rps", static_rps))
    line("SQLite, httpd sized for 1,024: >= 20% of its static file",
         "%.1f%% (%.1f%% of the 128-sized one's)" % (share, pct(sqlite_big["rps"], static_rps)),
         share >= 20)
    line("SQLite, 32 conns: p99 <= 10 ms", "p99 %.1f ms" % sqlite_main["p99_ms"],
         sqlite_main["p99_ms"] <= 10)
    rows = [sqlite_main, sqlite_big, k1, m1, sqlite_slow, sqlite_peak] + pg_rows + v2_rows
    errs = sum(r["non2xx"] + r["errors"] for r in rows)
    line("no errors (every module row)", "%d non-2xx or socket errors" % errs, errs == 0)
    calls = [r["calls"] / float(r["verifs"]) for r in rows if r["verifs"]]
    line("PortOne calls per verification: 1.00", "%.3f-%.3f" % (min(calls), max(calls)),
         all(abs(c - 1.0) < 0.005 for c in calls))
    for r in [sqlite_slow] + pg_rows[1:] + [sqlite_peak]:
        share = pct(r["rps"], r["bound"])
        line("%s: >= 95%% of the bound, 0 errors" % r["label"].replace("verify, ", "")[:44],
             "%.1f%% of %.0f req/s, %d errors" % (share, r["bound"], r["non2xx"] + r["errors"]),
             share >= 95 and not r["non2xx"] + r["errors"])
    share = pct(m1["rps"], k1["rps"])
    line("1,000,000 orders: >= 90% of the 1,000-order figure", "%.1f%%" % share, share >= 90)
    out.append("    (both runs: random payments out of %s, nearly all first verifications; "
               "1,000,000 vs 100,000 orders: %.1f%%)" % (format(SIZE_PAYMENTS, ","),
                                                        pct(m1["rps"], sqlite_main["rps"])))
    if node_size:
        out.append("    (the Node counterpart on the same two streams: %.1f%%)"
                   % pct(node_size[1]["rps"], node_size[0]["rps"]))
    d = (mem[-1][1] - mem[2][1]) / 1024.0     # [0] start, [1] warm-up, [2] first count
    line("memory after 200,000 within a few MiB of after 10,000", "%+.1f MiB" % d, d < 5)
    for r in v2_rows:
        x = (r["cpu_us"] or 0) / max(1e-9, r["v1"]["cpu_us"] or 0)
        line("V2: CPU per verification within 10% of V1's", "%.2f" % x, x <= 1.10)
    return out
