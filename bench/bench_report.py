"""The tables of make bench: the main table, the scaling table and the targets
(bench/README.md)."""
from bench_common import SIZE_PAYMENTS


def fmt_main(rows, static_rps):
    head = ("%-42s %5s %7s %7s %8s %10s %8s %5s %8s %10s %7s %7s %7s %7s %6s"
            % ("run", "conns", "req/s", "p50 ms", "p99 ms", "non2xx/err", "PO/verif", "token",
               "newPO/1k", "DB max/avg", "wr/cmt", "RSS MiB", "CPU us", "static", "bound")
            + " %5s" % "V2/V1")
    out = [head, "-" * len(head)]
    for r in rows:
        verif = r.get("verif", True) and r["verifs"]
        calls = "%.3f" % (r["calls"] / r["verifs"]) if verif else "-"
        tok = "%d" % r["tokens"] if verif else "-"
        newc = "%.2f" % (1000.0 * r["new_conns"] / r["verifs"]) if verif else "-"
        db = "%d/%.1f" % r["db"] if r["db"] else "-"
        rss = "%.1f" % (r["rss_kib"] / 1024.0) if r["rss_kib"] else "-"
        ratio = "%.1f%%" % (100.0 * r["rps"] / static_rps) if static_rps and r.get("ratio", True) else "-"
        bound = "%.1f%%" % (100.0 * r["rps"] / r["bound"]) if r.get("bound") else "-"
        cpu = "%.0f" % r["cpu_us"] if r["cpu_us"] is not None else "-"
        group = "%.1f" % r["group"] if r.get("group") else "-"
        # a V2 row carries the V1 row it is compared with
        v2v1 = "%.2f" % (r["rps"] / r["v1"]["rps"]) if r.get("v1") else "-"
        out.append("%-42s %5d %7.0f %7.2f %8.2f %10s %8s %5s %8s %10s %7s %7s %7s %7s %6s"
                   % (r["label"][:42], r["conns"], r["rps"], r["p50_ms"], r["p99_ms"],
                      "%d/%d" % (r["non2xx"], r["errors"]), calls, tok, newc, db, group, rss,
                      cpu, ratio, bound) + " %5s" % v2v1)
    return out


def fmt_scaling(rows, static_rps):
    head = "%5s %7s %7s %8s %8s %5s %7s %8s %8s %7s" % (
        "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "5xx", "errors", "PO/verif",
        "newPO/1k", "static")
    out = [head, "-" * len(head)]
    for r in rows:
        v = max(1, r["verifs"])
        out.append("%5d %7.0f %7.2f %8.2f %8d %5d %7d %8.3f %8.2f %6.1f%%"
                   % (r["conns"], r["rps"], r["p50_ms"], r["p99_ms"], r["non2xx"], r["s5"],
                      r["errors"], r["calls"] / v, 1000.0 * r["new_conns"] / v,
                      100.0 * r["rps"] / static_rps))
    return out


def fmt_targets(static_rps, sqlite_main, pg_rows, sqlite_slow, scaling_rows, size_rows, mem):
    """Issue 5's targets, as ratios of this run's own figures."""
    def pct(a, b):
        return 100.0 * a / b if b else 0.0

    best = max(r["rps"] for r in scaling_rows)
    top = scaling_rows[-1]
    k1, m1 = size_rows
    out = ["Targets (this run's figures; 'met' or 'NOT met'):"]

    def line(what, value, ok):
        out.append("  %-60s %-34s %s" % (what, value, "met" if ok else "NOT met"))

    sqlite_share = pct(sqlite_main["rps"], static_rps)
    line("SQLite, 32 conns: >= 40% of the static file", "%.1f%%" % sqlite_share,
         sqlite_share >= 40)
    line("SQLite, 32 conns: p99 < 10 ms, no errors", "p99 %.1f ms, %d non-2xx/%d err"
         % (sqlite_main["p99_ms"], sqlite_main["non2xx"], sqlite_main["errors"]),
         sqlite_main["p99_ms"] < 10 and not sqlite_main["non2xx"] and not sqlite_main["errors"])
    if pg_rows:
        pg_share = pct(pg_rows[0]["rps"], static_rps)
        line("PostgreSQL, 32 conns: >= 25% of the static file", "%.1f%%" % pg_share,
             pg_share >= 25)
    calls = [r["calls"] / float(r["verifs"]) for r in [sqlite_main, k1, m1] + pg_rows if r["verifs"]]
    line("PortOne calls per verification: 1.00", "%.3f-%.3f" % (min(calls), max(calls)),
         all(abs(c - 1.0) < 0.005 for c in calls))
    for r in [sqlite_slow] + pg_rows[1:]:
        share = pct(r["rps"], r["bound"])
        line("%s: >= 95%% of the bound" % r["label"].replace("verify, ", ""),
             "%.1f%% of %.0f req/s" % (share, r["bound"]), share >= 95)
    share = pct(top["rps"], best)
    line("256 conns: no 5xx, >= 90% of the best level", "%d 5xx, %.1f%% of %.0f req/s"
         % (top["s5"], share, best), not top["s5"] and share >= 90)
    share = pct(m1["rps"], k1["rps"])
    line("1,000,000 orders: >= 90% of the 1,000-order figure", "%.1f%%" % share, share >= 90)
    out.append("    (both runs: random payments out of %s, nearly all first verifications; "
               "1,000,000 vs 100,000 orders: %.1f%%)" % (format(SIZE_PAYMENTS, ","),
                                                        pct(m1["rps"], sqlite_main["rps"])))
    d = (mem[-1][1] - mem[1][1]) / 1024.0
    line("memory after 200,000 within a few MiB of after 10,000", "%+.1f MiB" % d, d < 5)
    return out
