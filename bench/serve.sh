#!/usr/bin/env bash
# bench/serve.sh [--write] - the reward server (issue 16) against the naive
# baseline, in one run, on the C fixture (cproj):
#
#   naive    a fresh `lanser --json eval --task T --patch P` process per
#            sample: a base worktree, a cold clangd, diagnostics, tests, exit;
#   serve    one `lanser serve` (warm engine per task), samples sent to
#            POST /get_reward: one at a time (latency), then from 4 client
#            threads (throughput), then as one POST /score group.
#
# Two tasks: diagnostics only (the test command is `true`) and with the
# fixture's own tests (`make test`, sandboxed). Samples/s, p50 and p99 per
# sample, the ratio serve / naive. Prints a markdown section; --write
# replaces the "Reward server" section of bench/RESULTS.md (between its
# markers). Knobs: BENCH_SERVE_NAIVE (naive samples, 8), BENCH_SERVE_N
# (server samples, 32).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
L=${LANSER_BIN:-$ROOT/lanser}
NN=${BENCH_SERVE_NAIVE:-8}
NS=${BENCH_SERVE_N:-32}
WRITE=0
[ "${1:-}" = --write ] && WRITE=1

W=$(mktemp -d /tmp/lanser-bench-serve.XXXXXX)
W=$(cd "$W" && pwd -P)
SPID=
cleanup() {
	[ -n "$SPID" ] && kill -KILL -- "-$SPID" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$W/run XDG_STATE_HOME=$W/state
mkdir -m 700 "$XDG_RUNTIME_DIR"

R=$W/c
cp -R "$ROOT/tests/fixtures/cproj" "$R"
rm -rf "$R/.cache" "$R/.git" "$R/compile_commands.json"
sed "s#@ROOT@#$R#g" "$R/compile_commands.json.in" >"$R/compile_commands.json"
GIT="git -c user.email=b@example.com -c user.name=b"
(cd "$R" && git init -q && $GIT add -A && $GIT commit -qm base)
(cd "$R" && sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >"$W/good.diff" && git checkout -q -- .)
printf '{"schema": "lanser.task/1", "id": "diag", "test": ["true"]}\n' >"$W/diag.json"
printf '{"schema": "lanser.task/1", "id": "tests"}\n' >"$W/tests.json"
printf '{"id": "diag", "workspace": "c", "task": "diag.json"}\n{"id": "tests", "workspace": "c", "task": "tests.json"}\n' >"$W/tasks.jsonl"

# naive: one fresh process per sample
naive() { # TASK -> one line of milliseconds per sample
	local i t0 t1
	for i in $(seq 1 "$NN"); do
		t0=$(date +%s%N)
		"$L" --root "$R" --json eval --task "$W/$1.json" --patch "$W/good.diff" >/dev/null
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000))
	done
}
NAIVE_DIAG=$(naive diag | tr '\n' ' ')
NAIVE_TESTS=$(naive tests | tr '\n' ' ')

setsid "$L" serve --tasks "$W/tasks.jsonl" --listen 127.0.0.1:0 --port-file "$W/port" \
	>"$W/serve.out" 2>"$W/serve.err" </dev/null &
SPID=$!
for i in $(seq 1 600); do
	[ -s "$W/port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$W/port")/readyz")" = 200 ] && break
	sleep 0.2
done
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")

/usr/bin/python3 - "$(cat "$W/port")" "$W" "$NS" "$NAIVE_DIAG" "$NAIVE_TESTS" "$NN" "$RSS" "$(nproc)" >"$W/section.md" <<'PY'
import json, statistics, sys, threading, time, urllib.request
port, w, ns = sys.argv[1], sys.argv[2], int(sys.argv[3])
naive = {"diag": [float(x) for x in sys.argv[4].split()], "tests": [float(x) for x in sys.argv[5].split()]}
nn, rss, cpus = int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
good = open(w + "/good.diff").read()

def post(path, body):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

rows, ok = [], True
for task in ("diag", "tests"):
    seq = []
    t0 = time.perf_counter()
    for i in range(ns):
        t = time.perf_counter()
        a = post("/get_reward", {"query": [good], "labels": [task]})
        seq.append((time.perf_counter() - t) * 1000)
        ok = ok and a["rewards"] == [2.625]
    seq_rate = ns / (time.perf_counter() - t0)
    lat, lock, idx = [], threading.Lock(), [0]
    def worker():
        global ok
        while True:
            with lock:
                if idx[0] >= ns:
                    return
                idx[0] += 1
            t = time.perf_counter()
            a = post("/get_reward", {"query": [good], "labels": [task]})
            with lock:
                lat.append((time.perf_counter() - t) * 1000)
                ok = ok and a["rewards"] == [2.625]
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    conc_rate = ns / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    a = post("/score", {"task": task, "completions": [good] * ns})
    group_rate = ns / (time.perf_counter() - t0)
    ok = ok and all(c["reward"] == 2.625 for c in a["candidates"])
    nv = naive[task]
    nrate = 1000 / statistics.mean(nv)
    rows.append("| %s | naive: fresh `lanser eval` per sample | %d | %.2f | %.0f | %.0f | 1 |" % (
        task, nn, nrate, pct(nv, 50), pct(nv, 99)))
    rows.append("| %s | serve, one request at a time | %d | %.2f | %.0f | %.0f | %.1fx |" % (
        task, ns, seq_rate, pct(seq, 50), pct(seq, 99), seq_rate / nrate))
    rows.append("| %s | serve, 4 client threads | %d | %.2f | %.0f | %.0f | %.1fx |" % (
        task, ns, conc_rate, pct(lat, 50), pct(lat, 99), conc_rate / nrate))
    rows.append("| %s | serve, one /score group of %d | %d | %.2f | | | %.1fx |" % (
        task, ns, ns, group_rate, group_rate / nrate))
print("<!-- serve: written by bench/serve.sh; do not edit by hand -->")
print("## Reward server (issue 16)")
print()
print("`bash bench/serve.sh --write` on %s UTC, %s CPUs. The C fixture (cproj), one sample = the same good patch "
      "(reward 2.625, checked on every answer: %s). *naive*: a fresh `lanser --json eval --task T --patch P` "
      "process per sample (base worktree, cold clangd, diagnostics, tests, exit), one at a time. *serve*: one "
      "`lanser serve` with a warm engine per task, samples sent to `POST /get_reward` one request at a time, "
      "then from 4 client threads, then as one `POST /score` group. *diag*: the task's test command is `true` "
      "(diagnostics only); *tests*: the fixture's sandboxed `make test`. Latencies per sample in milliseconds; "
      "ratio = samples/s over the naive samples/s. Server RSS when ready: %.1f MiB (language servers excluded)."
      % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), cpus, "all right" if ok else "SOME WRONG",
         rss / 1024))
print()
print("| task | way | samples | samples/s | p50 | p99 | ratio |")
print("|---|---|--:|--:|--:|--:|--:|")
print("\n".join(rows))
print()
print("Reading: the jobs of one task are scored one at a time on its one engine (engine.h: one thread per "
      "engine), so client threads gain only what overlaps (HTTP, extraction, queueing); a `/score` group "
      "shares the diagnostics at the base and runs `--jobs` tests at once.")
print("<!-- /serve -->")
PY
cat "$W/section.md"
if [ "$WRITE" = 1 ]; then
	/usr/bin/python3 - "$ROOT/bench/RESULTS.md" "$W/section.md" <<'PY'
import re, sys
path, section = sys.argv[1], open(sys.argv[2]).read().strip()
text = open(path).read()
pat = re.compile(r"<!-- serve:.*?<!-- /serve -->", re.S)
text = pat.sub(lambda m: section, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
fi
grep -q "all right" "$W/section.md"
