#!/usr/bin/env python3
"""report.py RESULTS.jsonl MACHINE.json KNOBS - the markdown of bench/run.sh.

Reads the JSON lines bench/run.sh collected (one per measurement, see
bench/README.md) and prints bench/RESULTS.md. It measures nothing itself.
"""
import json
import sys
import time

TARGET_DELTA_MS = 2.0
TARGET_RATIO = {"c": 25, "py": 300}
TARGET_RSS_KIB = 30 * 1024  # 30 MiB
LANGS = [("c", "C, `tests/fixtures/cproj`, clangd"),
         ("py", "Python, `tests/fixtures/pyproj`, pyright")]
METHODS = ["def", "refs", "hover"]
WHERE = {
    ("c", "def"): "`src/main.c@L14:C2` (`list_push` call → `src/list.c:15`)",
    ("c", "refs"): "`src/main.c@L14:C2` (9 references in 4 files)",
    ("c", "hover"): "`src/main.c@L23:C10` (`clamp_int`)",
    ("py", "def"): "`app.py@L8:C5` (`register` call → `shapes/registry.py:12`)",
    ("py", "refs"): "`app.py@L8:C5` (10 references in 3 files)",
    ("py", "hover"): "`app.py@L10:C37` (`scaled`)",
}


def load(path):
    rows = []
    for line in open(path):
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except ValueError:
                rows.append({"kind": "garbage", "error": line[:300]})
    return rows


def find(rows, **kw):
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def ms(v, digits=2):
    if v is None:
        return "n/a"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.*f" % (digits, v)


def ok(r):
    return r is not None and "error" not in r and "p50Ms" in r


def mib(kib):
    return "n/a" if not kib else "%.1f MiB" % (kib / 1024)


def main():
    rows = load(sys.argv[1])
    machine = json.load(open(sys.argv[2]))
    knobs = sys.argv[3] if len(sys.argv) > 3 else ""
    out = []
    w = out.append

    w("# lanser benchmarks: results")
    w("")
    invocation = sys.argv[4] if len(sys.argv) > 4 else "bash bench/run.sh --write"
    w("Reproduce with `make bench BENCH_ARGS=--write` (that is `make all bench/rawlsp`, "
      "then `bash bench/run.sh --write`; without `--write` it only prints this report). "
      "This run: `%s` on %s, lanser %s, repository at commit %s%s; parameters %s. "
      "What each figure measures, and how: [README.md](README.md)."
      % (invocation.strip(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         machine.get("lanser", "?").replace("lanser ", ""), machine.get("commit", "?"),
         " (with uncommitted changes)" if machine.get("dirty") else "", knobs))
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for k, label in [("nproc", "`nproc`"), ("cpu", "CPU"), ("kernel", "kernel"),
                     ("clangd", "clangd"), ("pyright", "pyright"), ("node", "node"),
                     ("python", "python3 (harness)"), ("loadavg", "load average at start"),
                     ("quiet", "machine at start"),
                     ("busyAfter", "CPU busy just after the run (others)")]:
        w("| %s | %s |" % (label, machine.get(k, "?")))
    w("")

    # ---- round trips ----
    w("## Round trips (milliseconds)")
    w("")
    w("*raw*: bench/rawlsp to a warm server; *warm CLI*: a new `lanser --json` process per "
      "call, daemon ready, JSON printed; *cached*: the same call repeated (answer cache); "
      "*no-cache*: `--no-cache`, a real server round trip; *cold*: `lanser --no-daemon` "
      "(server start, readiness, answer, stop). Δ = warm CLI no-cache p50 − raw p50; "
      "ratio = cold p50 / warm CLI p50.")
    w("")
    w("| fixture | request | raw p50 | raw p95 | warm cached p50 | warm cached p95 "
      "| warm no-cache p50 | warm no-cache p95 | Δ p50 | cold p50 | cold / warm no-cache "
      "| cold / warm cached |")
    w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    verdict = {"delta": [], "ratio": [], "rss": []}
    for lang, _ in LANGS:
        for m in METHODS:
            raw = find(rows, kind="raw", lang=lang, method=m)
            wc = find(rows, kind="warm-cached", lang=lang, method=m)
            wn = find(rows, kind="warm-nocache", lang=lang, method=m)
            cold = find(rows, kind="cold", lang=lang, method=m)
            g = lambda r, k: r[k] if ok(r) else None
            delta = g(wn, "p50Ms") - g(raw, "p50Ms") if ok(wn) and ok(raw) else None
            r_n = g(cold, "p50Ms") / g(wn, "p50Ms") if ok(cold) and ok(wn) else None
            r_c = g(cold, "p50Ms") / g(wc, "p50Ms") if ok(cold) and ok(wc) else None
            w("| %s | %s %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                "clangd" if lang == "c" else "pyright", m, WHERE[(lang, m)],
                ms(g(raw, "p50Ms"), 3), ms(g(raw, "p95Ms"), 3),
                ms(g(wc, "p50Ms")), ms(g(wc, "p95Ms")),
                ms(g(wn, "p50Ms")), ms(g(wn, "p95Ms")),
                "n/a" if delta is None else "%+.2f" % delta,
                ms(g(cold, "p50Ms")),
                "n/a" if r_n is None else "%.0fx" % r_n,
                "n/a" if r_c is None else "%.0fx" % r_c))
            verdict["delta"].append((lang, m, delta))
            verdict["ratio"].append((lang, m, r_n))
    w("")

    # ---- floor ----
    w("## Measurement floor")
    w("")
    w("The same harness (python3 `subprocess.run` with captured output, timed with "
      "`time.perf_counter`) around processes that do nothing: what any CLI call pays "
      "before lanser does any work, and how much of it is lanser's own start-up. The "
      "two empty C programs (`int main` printing one line) are linked with only jansson and "
      "with the same shared libraries as the `lanser` binary (its `DT_NEEDED` entries: %s, "
      "%s libraries loaded in all): their difference is the dynamic loader's share of "
      "every CLI call." % (", ".join("`%s`" % l for l in machine.get("lanserNeeded", [])) or "?",
                           machine.get("lanserLibs", "?")))
    w("")
    w("| process | n | p50 | p95 | mean |")
    w("|---|--:|--:|--:|--:|")
    for r in rows:
        if r.get("kind") != "floor":
            continue
        what = r.get("what", "?")
        what = "`%s`" % what if what.startswith(("/", "lanser")) else what
        if ok(r):
            w("| %s | %d | %s | %s | %s |" % (what, r["n"], ms(r["p50Ms"]), ms(r["p95Ms"]),
                                           ms(r["meanMs"])))
        else:
            w("| %s | | n/a | n/a | n/a |" % what)
    w("")

    # ---- daemon ----
    w("## Daemon")
    w("")
    w("| fixture | `daemon start --wait-ready` | daemon RSS (status) | daemon VmRSS (/proc) "
      "| daemon VmHWM (peak) | servers RSS | requests | cache hits | `daemon stop` → all exited |")
    w("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for lang, _ in LANGS:
        start = find(rows, kind="daemon-start", lang=lang)
        after = find(rows, kind="daemon-after", lang=lang)
        name = "clangd" if lang == "c" else "pyright"
        if not start or "error" in start or not after:
            w("| %s | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |" % name)
            verdict["rss"].append((lang, None))
            continue
        st = after.get("status") or {}
        d = st.get("daemon", {}) if isinstance(st, dict) else {}
        servers = st.get("servers", []) if isinstance(st, dict) else []
        srss = ", ".join("%s %s" % (s.get("profile", "?"), mib(s.get("rssKiB")))
                         for s in servers) or "n/a"
        stop = find(rows, kind="daemon-stop", lang=lang)
        if not stop:
            gone = "n/a"
        elif stop.get("left"):
            gone = "**still running after %d ms: %s**" % (stop["ms"], stop["left"])
        else:
            gone = "%d ms (command: %d ms)%s" % (stop["ms"], stop.get("cmdMs", -1),
                                                 "" if stop.get("rc") == 0 else
                                " (**stop exited %s**)" % stop.get("rc"))
        w("| %s | %d ms | %s | %s | %s | %s | %s | %s | %s |" % (
            name, start.get("ms", 0), mib(d.get("rssKiB")), mib(after.get("vmRSSKiB")),
            mib(after.get("vmHWMKiB")), srss, d.get("requests", "n/a"),
            d.get("cacheHits", "n/a"), gone))
        verdict["rss"].append((lang, max(d.get("rssKiB") or 0, after.get("vmRSSKiB") or 0)
                               or None))
    w("")

    # ---- tree size ----
    scale = [r for r in rows if r.get("kind", "").startswith("scale")]
    if scale:
        w("## Warm def against the size of the tree")
        w("")
        w("The same warm `def` (`src/main.c@L14:C2`) on cproj as above, and on a copy with "
          "thousands of generated data files (about 4 KiB each, never compiled) added "
          "under `gen/`: what keeping the daemon in sync with the tree costs per call.")
        w("")
        w("| tree | warm cached p50 | p95 | warm no-cache p50 | p95 |")
        w("|---|--:|--:|--:|--:|")
        wc = find(rows, kind="warm-cached", lang="c", method="def")
        wn = find(rows, kind="warm-nocache", lang="c", method="def")
        g = lambda r, k: r[k] if ok(r) else None
        w("| cproj (%s files) | %s | %s | %s | %s |" % (
            "10", ms(g(wc, "p50Ms")), ms(g(wc, "p95Ms")), ms(g(wn, "p50Ms")), ms(g(wn, "p95Ms"))))
        sc = find(rows, kind="scale-cached")
        sn = find(rows, kind="scale-nocache")
        files = (sc or sn or scale[0]).get("files", "?")
        w("| cproj + %s files | %s | %s | %s | %s |" % (
            files, ms(g(sc, "p50Ms")), ms(g(sc, "p95Ms")), ms(g(sn, "p50Ms")), ms(g(sn, "p95Ms"))))
        w("")

    # ---- targets ----
    w("## Targets (issue 3)")
    w("")
    w("| target | figures | met |")
    w("|---|---|---|")

    def line(title, items, fmt, good):
        vals = [(l, m, v) for (l, m, v) in items]
        if any(v is None for _, _, v in vals) or not vals:
            w("| %s | %s | not measured |" % (title, "; ".join(
                "%s %s %s" % ("clangd" if l == "c" else "pyright", m or "", "n/a" if v is None
                              else fmt(v)) for l, m, v in vals)))
            return
        met = all(good(l, v) for l, _, v in vals)
        w("| %s | %s | %s |" % (title, "; ".join(
            "%s%s %s" % ("clangd" if l == "c" else "pyright", " " + m if m else "", fmt(v))
            for l, m, v in vals), "yes" if met else "**no**"))

    line("warm CLI (no-cache) p50 − raw p50 ≤ ~%g ms" % TARGET_DELTA_MS, verdict["delta"],
         lambda v: "%+.2f ms" % v, lambda l, v: v <= TARGET_DELTA_MS)
    line("cold / warm ≥ 25x (clangd), ≥ 300x (pyright), warm = no-cache",
         verdict["ratio"], lambda v: "%.0fx" % v, lambda l, v: v >= TARGET_RATIO[l])
    line("daemon RSS < 30 MiB (max of status and /proc)",
         [(l, None, v) for l, v in verdict["rss"]], lambda v: mib(v),
         lambda l, v: v < TARGET_RSS_KIB)
    w("")
    true = find(rows, kind="floor", what="/bin/true")
    ver = find(rows, kind="floor", what="lanser --version")
    hj = find(rows, kind="floor", what="empty C program, -ljansson")
    hl = find(rows, kind="floor", what="empty C program, lanser's libraries")
    loader = hl["p50Ms"] - hj["p50Ms"] if ok(hj) and ok(hl) else None
    if ok(true) and ok(ver) and any(ok(find(rows, kind="warm-cached", lang=l, method=m))
                                    for l, _ in LANGS for m in METHODS):
        w("## Where a warm call's time goes")
        w("")
        w("Differences of p50s from the tables above (so only roughly additive): *spawn* is "
          "the harness around `/bin/true`; *start-up* is `lanser --version` minus that, and "
          "*loader* the part of it the empty program linked with lanser's libraries pays "
          "over one linked with jansson only; *daemon, hit* is a cached warm call minus "
          "`lanser --version` (connect, request, cache lookup, print); *miss* is what a "
          "`--no-cache` call adds over a cached one (the server round trip, shown as *raw*, "
          "plus the daemon's work on a miss). *CLI process CPU* is the user + system time of "
          "the `lanser` process itself (getrusage of the harness's children, mean); *daemon "
          "CPU* is the CPU time the daemon process used over a series "
          "(`/proc/PID/task/*/schedstat`) divided by its calls: together they tell work from "
          "waiting and wake-ups in the wall-clock figures. The last two "
          "columns are a projection, not a measurement: the warm no-cache call without the "
          "loader's share.")
        w("")
        w("| fixture | request | spawn | start-up | of which loader | daemon, hit "
          "| miss | raw server | CLI process CPU, hit / miss | daemon CPU per call, hit / miss "
          "| projected Δ | projected cold / warm |")
        w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for lang, _ in LANGS:
            for m in METHODS:
                raw = find(rows, kind="raw", lang=lang, method=m)
                wc = find(rows, kind="warm-cached", lang=lang, method=m)
                wn = find(rows, kind="warm-nocache", lang=lang, method=m)
                cold = find(rows, kind="cold", lang=lang, method=m)
                if not (ok(wc) and ok(wn)):
                    continue
                proj = wn["p50Ms"] - loader if loader is not None else None

                def cpu(r):
                    v = r.get("daemonCpuNs")
                    return "n/a" if v is None else "%.2f" % (v / 1e6 / (r["n"] + r.get("warmup", 0)))
                ccpu = lambda r: "n/a" if r.get("cpuMeanMs") is None else "%.2f" % r["cpuMeanMs"]
                w("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s |" % (
                    "clangd" if lang == "c" else "pyright", m, ms(true["p50Ms"]),
                    ms(ver["p50Ms"] - true["p50Ms"]), ms(loader),
                    ms(wc["p50Ms"] - ver["p50Ms"]), ms(wn["p50Ms"] - wc["p50Ms"]),
                    ms(raw["p50Ms"], 3) if ok(raw) else "n/a", ccpu(wc), ccpu(wn), cpu(wc), cpu(wn),
                    "%+.2f" % (proj - raw["p50Ms"]) if proj is not None and ok(raw) else "n/a",
                    "%.0fx" % (cold["p50Ms"] / proj) if proj and ok(cold) else "n/a"))
        w("")

    # ---- what the figures say ----
    notes = []
    if loader is not None and loader > TARGET_DELTA_MS:
        notes.append(
            "The dynamic loader alone costs %s ms per CLI call, more than the whole %g ms "
            "budget: every call maps the %s shared libraries `lanser` needs%s, although a "
            "call that only forwards a request to the daemon needs hardly any of them. A "
            "client path that does not load them (a thin client binary, or libraries opened "
            "with dlopen only by the commands that use them) would bring a call near the "
            "projected figures above."
            % (ms(loader), TARGET_DELTA_MS, machine.get("lanserLibs", "?"),
               " (libcurl and libgit2 bring most of them)"
               if any(l.startswith(("libcurl", "libgit2")) for l in machine.get("lanserNeeded", []))
               else ""))
    elif loader is not None and loader > 0.3:
        libs = machine.get("lanserNeeded", [])
        notes.append(
            "`lanser` still pays %s ms per call in the dynamic loader for %s; every library "
            "the front end can do without takes its share off every warm call%s."
            % (ms(loader), ", ".join("`%s`" % l for l in libs) or "its libraries",
               " (libcrypto is the large one)" if any(l.startswith("libcrypto") for l in libs)
               else ""))
    if ok(true):
        notes.append(
            "Δ includes the %s ms that creating and reaping any process costs here "
            "(`/bin/true` through the same harness): the raw client is already running, a CLI "
            "call never is." % ms(true["p50Ms"]))
    sn = find(rows, kind="scale-nocache")
    sc = find(rows, kind="scale-cached")
    wn = find(rows, kind="warm-nocache", lang="c", method="def")
    wc = find(rows, kind="warm-cached", lang="c", method="def")
    if ok(sn) and ok(wn) and ok(sc) and ok(wc) and sn["p50Ms"] - wn["p50Ms"] > 1:
        notes.append(
            "A warm call grows with the tree: with %s extra files it costs %s ms more "
            "(no-cache) and %s ms more (cached) than on the bare fixture, because the daemon "
            "checks the whole tree against disk before every answer, cache hits included. "
            "On a repository of tens of thousands of files that check would dominate; "
            "change notification (inotify) or checking only the files an answer depends on "
            "would keep it flat." % (sn.get("files"), ms(sn["p50Ms"] - wn["p50Ms"]),
                                     ms(sc["p50Ms"] - wc["p50Ms"])))
    if notes:
        w("## Reading")
        w("")
        for n in notes:
            w("- " + n)
        w("")

    # ---- consistency checks ----
    w("## Checks")
    w("")
    w("Each timed CLI call exited 0 and printed one non-error bundle (the harness stops "
      "at the first that does not). Beyond that:")
    w("")
    for lang, _ in LANGS:
        for m in METHODS:
            raw = find(rows, kind="raw", lang=lang, method=m)
            wc = find(rows, kind="warm-cached", lang=lang, method=m)
            wn = find(rows, kind="warm-nocache", lang=lang, method=m)
            cold = find(rows, kind="cold", lang=lang, method=m)
            name = "%s %s" % ("clangd" if lang == "c" else "pyright", m)
            notes = []
            if ok(wc):
                notes.append("cached: %d of %d timed calls flagged as cache hits in "
                             "`meta.volatile`, daemon cacheHits +%s over %d calls"
                             % (wc.get("cacheHitCalls", 0), wc["n"], wc.get("cacheHitsDelta"),
                                wc["n"] + wc.get("warmup", 0)))
            if ok(wn):
                notes.append("no-cache: %d flagged as hits, daemon cacheHits +%s"
                             % (wn.get("cacheHitCalls", 0), wn.get("cacheHitsDelta")))
            for label, r, want in (("warm cached", wc, True), ("warm no-cache", wn, True),
                                   ("cold", cold, False)):
                if ok(r) and "daemon" in (r.get("volatile") or {}) and \
                        r["volatile"]["daemon"] is not want:
                    notes.append("**%s bundle says meta.volatile.daemon = %s**"
                                 % (label, json.dumps(r["volatile"]["daemon"])))
            ids = set()
            for r in (wc, wn, cold):
                if ok(r):
                    ids.update(r.get("bundleIds") or [])
            if ok(cold) and (ok(wc) or ok(wn)):
                notes.append("bundleId %s across daemon and `--no-daemon` (%d distinct)"
                             % ("identical" if len(ids) == 1 else "**differs**", len(ids)))
            elif ok(cold):
                notes.append("`--no-daemon` bundleIds: %d distinct over the cold runs"
                             % len(cold.get("bundleIds") or []))
            if ok(raw) and m != "hover":
                counts = [("raw", raw.get("results"))]
                for label, r in (("warm", wn if ok(wn) else wc), ("cold", cold)):
                    if ok(r):
                        counts.append((label, r.get("facts")))
                same = len(set(c for _, c in counts)) == 1
                notes.append("locations %s (%s)" % ("agree" if same else "**differ**",
                             ", ".join("%s %s" % c for c in counts)))
            if ok(raw):
                notes.append("raw server ready %.0f ms after spawn" % raw.get("readyMs", 0))
            w("- %s: %s." % (name, "; ".join(notes) if notes else "nothing measured"))
    w("")

    errors = [r for r in rows if "error" in r]
    if errors:
        w("## Not measured")
        w("")
        for r in errors:
            w("- %s %s %s: %s" % (r.get("lang", ""), r.get("kind", ""), r.get("method", ""),
                                  str(r["error"]).replace("\n", " ")[:400]))
            if r.get("stderr"):
                w("  (stderr: `%s`)" % r["stderr"].strip().replace("\n", " ")[:300])
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
