#!/usr/bin/env python3
"""timeit.py - times a command end to end, the way an agent runs it.

    timeit.py [-n N] [--warmup K] [--cwd DIR] [--json] [--tag K=V ...] -- CMD...
    timeit.py [...] [--what LABEL ...] -- CMD1... +++ CMD2... [+++ ...]

Runs CMD K times untimed, then N times timed, one process after the other.
With several commands (separated by +++) they take turns, one call each per
round in a shuffled order (fixed seed), so that whatever else the machine
does, and whatever one call leaves behind for the next, affects them alike;
one JSON line per command, in the order given, tagged "what" with its --what
LABEL (in order) or its command line.
Each sample is one call from just before the fork to just after the exit
(subprocess.run with stdout and stderr captured, so it includes reading the
whole output, as a caller would): time.perf_counter() around it. The harness
itself costs something; run it around /bin/true to see that floor.

Every call must exit 0; with --json its stdout must be one JSON object (an
Analysis Bundle) that has no error. Prints one JSON line:
    {"n":N, "p50Ms":..., "p95Ms":..., "meanMs":..., "minMs":..., "maxMs":...,
     "firstMs": (the first call, warm-up included),
     "cpuMeanMs": user + system CPU time of the called process (getrusage of
                  the children), mean over the timed calls,
     "bundleIds": [...distinct bundleId values...],
     "volatile": {...meta.volatile of the last call...},
     "facts": the number of facts in the last bundle,
     "cacheHitCalls": calls whose meta.volatile said it was a cache hit,
     ...the --tag fields}
On a failing call: {"error": "...", "rc": RC, "stderr": "..."} and exit 1.

Percentiles: linear interpolation between closest ranks (numpy's default),
the same formula as bench/rawlsp.c.
"""
import json
import random
import resource
import subprocess
import sys
import time

CALL_TIMEOUT_S = 300  # a hung call is an error, not a hung benchmark


def percentile(sorted_v, p):
    pos = p * (len(sorted_v) - 1)
    lo = int(pos)
    if lo + 1 >= len(sorted_v):
        return sorted_v[-1]
    return sorted_v[lo] + (sorted_v[lo + 1] - sorted_v[lo]) * (pos - lo)


def is_cache_hit(vol):
    """Whatever name the daemon gives the flag: cacheHit, cached, cache."""
    for k in ("cacheHit", "cached", "cache", "memo"):
        v = vol.get(k)
        if v is True or v == "hit":
            return True
    return False


def main(argv):
    n, warmup, cwd, want_json, tags, whats = 20, 2, None, False, {}, []
    i = 0
    while i < len(argv) and argv[i] != "--":
        a = argv[i]
        if a == "-n":
            n = int(argv[i + 1]); i += 2
        elif a == "--warmup":
            warmup = int(argv[i + 1]); i += 2
        elif a == "--cwd":
            cwd = argv[i + 1]; i += 2
        elif a == "--what":
            whats.append(argv[i + 1]); i += 2
        elif a == "--json":
            want_json = True; i += 1
        elif a == "--tag":
            k, _, v = argv[i + 1].partition("=")
            try:
                tags[k] = json.loads(v)
            except ValueError:
                tags[k] = v
            i += 2
        else:
            print("timeit.py: unknown option %s" % a, file=sys.stderr)
            return 2
    cmds, cur = [], []
    for a in argv[i + 1:]:
        if a == "+++":
            cmds.append(cur); cur = []
        else:
            cur.append(a)
    cmds.append(cur)
    if any(not c for c in cmds) or n < 1:
        print(__doc__, file=sys.stderr)
        return 2
    runs = []
    for k, c in enumerate(cmds):
        t = dict(tags)
        if len(cmds) > 1:
            t["what"] = whats[k] if k < len(whats) else " ".join(c)
        runs.append(Series(c, t, k))
    order = random.Random(0)  # fixed seed: the same orders on every run
    for k in range(warmup + n):
        if len(runs) > 1:
            order.shuffle(runs)
        for r in runs:
            err = r.call(cwd, want_json, k, k >= warmup)
            if err:
                print(json.dumps(err))
                return 1
    for r in sorted(runs, key=lambda r: r.index):
        print(json.dumps(r.summary(n, warmup, want_json)))
    return 0


class Series:
    def __init__(self, cmd, tags, index):
        self.cmd, self.tags, self.index = cmd, tags, index
        self.samples, self.ids, self.hits, self.first, self.vol, self.facts = \
            [], [], 0, None, {}, None
        self.cpu = []  # user + system CPU of the called process (and its children)

    def call(self, cwd, want_json, k, timed):
        """One call; returns an error object, or None."""
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(self.cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=CALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            out = dict(self.tags)
            out.update({"error": "call %d took more than %d s" % (k, CALL_TIMEOUT_S),
                        "rc": 124, "call": k})
            return out
        dt = (time.perf_counter() - t0) * 1e3
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) * 1e3
        if self.first is None:
            self.first = dt
        err = None
        if p.returncode != 0:
            err = "exit %d" % p.returncode
        elif want_json:
            try:
                b = json.loads(p.stdout)
                if not isinstance(b, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                err = "stdout is not one JSON object: %s" % e
            else:
                if b.get("error") or b.get("meta", {}).get("status") not in (None, "OK"):
                    err = "error bundle: %s" % json.dumps(b.get("error") or b.get("meta"))
                else:
                    if b.get("bundleId") and b["bundleId"] not in self.ids:
                        self.ids.append(b["bundleId"])
                    self.vol = b.get("meta", {}).get("volatile", {}) or {}
                    self.facts = len(b.get("facts") or [])
                    if timed and is_cache_hit(self.vol):
                        self.hits += 1
        if err:
            out = dict(self.tags)
            out.update({"error": err, "rc": p.returncode, "call": k,
                        "stderr": p.stderr.decode("utf-8", "replace")[-2000:],
                        "stdout": p.stdout.decode("utf-8", "replace")[-500:]})
            return out
        if timed:
            self.samples.append(dt)
            self.cpu.append(cpu)
        return None

    def summary(self, n, warmup, want_json):
        s = sorted(self.samples)
        out = dict(self.tags)
        out.update({
            "n": n, "warmup": warmup,
            "p50Ms": round(percentile(s, 0.50), 4),
            "p95Ms": round(percentile(s, 0.95), 4),
            "meanMs": round(sum(s) / len(s), 4),
            "minMs": round(s[0], 4), "maxMs": round(s[-1], 4),
            "firstMs": round(self.first, 4),
            "cpuMeanMs": round(sum(self.cpu) / len(self.cpu), 4),
        })
        if want_json:
            out.update({"bundleIds": self.ids, "volatile": self.vol,
                        "cacheHitCalls": self.hits, "facts": self.facts})
        return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
