#!/usr/bin/env bash
# bench/serve.sh [--write] - the reward server (issue 16) against the naive
# baseline, in one run, on the C fixture (cproj):
#
#   naive    a fresh `lanser --json eval --task T --patch P` process per
#            sample: a base worktree, a cold clangd, diagnostics, tests, exit;
#   1 inst.  one `lanser serve` (one warm engine per task), samples sent
#            to POST /get_reward: one at a time (latency), then from C
#            client threads (throughput), then as one POST /score group;
#   2 eng.   one `lanser serve --engines-per-task 2` beside it, the same C
#            client threads (jobs of one task on two engines at once);
#   3 inst.  three `lanser serve` replicas (each its own copy of the
#            repository) behind HAProxy (Debian's haproxy, loopback only,
#            integrations/haproxy.cfg), the same C client threads;
#   overload the single instance with a small queue (--queue Q), O client
#            threads sending requests with deadlineMs D: every answer (a
#            reward, a null past the deadline, or a 503) must come within
#            D plus a margin (p99 bounded by the deadline).
#
# Two tasks: diagnostics only (the test command is `true`) and with the
# fixture's own tests (`make test`, sandboxed). Samples/s, p50 and p99 per
# sample, the ratio to naive; memory per instance (the server's RSS, and
# with its language servers and boxes). Prints a markdown section; --write
# replaces the "Reward server" section of bench/RESULTS.md (between its
# markers). Knobs: BENCH_SERVE_NAIVE (naive samples, 8), BENCH_SERVE_N
# (server samples, 32), BENCH_SERVE_C (client threads, 6),
# BENCH_SERVE_OVER (overload requests, 60), BENCH_SERVE_DEADLINE (ms, 1500).
# Exit 1 when a reward is wrong or an overloaded answer came after its
# deadline's margin.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
NN=${BENCH_SERVE_NAIVE:-8}
NS=${BENCH_SERVE_N:-32}
NC=${BENCH_SERVE_C:-6}
NO=${BENCH_SERVE_OVER:-60}
DL=${BENCH_SERVE_DEADLINE:-1500}
bench_write_flag "${1:-}"

bench_scratch serve
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null || true
	done
	{ wait; } 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
export XDG_STATE_HOME=$W/state

for r in c r1 r2 r3; do bench_cproj "$W/$r"; done
R=$W/c
(cd "$R" && sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >"$W/good.diff" && git checkout -q -- .)
printf '{"schema": "lanser.task/1", "id": "diag", "test": ["true"]}\n' >"$W/diag.json"
printf '{"schema": "lanser.task/1", "id": "tests"}\n' >"$W/tests.json"
for r in c r1 r2 r3; do
	printf '{"id": "diag", "workspace": "%s", "task": "diag.json"}\n{"id": "tests", "workspace": "%s", "task": "tests.json"}\n' "$r" "$r" >"$W/tasks-$r.jsonl"
done

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
LOAD0=$(bench_load)
NAIVE_DIAG=$(naive diag | tr '\n' ' ')
NAIVE_TESTS=$(naive tests | tr '\n' ' ')

start() { # NAME ARGS...: a detached server on a free port
	setsid "$L" serve --tasks "$W/tasks-$1.jsonl" --listen 127.0.0.1:0 --port-file "$W/$1.port" "${@:2}" \
		>"$W/$1.out" 2>"$W/$1.err" </dev/null &
	PIDS+=("$!")
	disown
	echo $! >"$W/$1.pid"
}
ready() {
	local i
	for i in $(seq 1 600); do
		[ -s "$W/$1.port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$W/$1.port")/readyz")" = 200 ] && return 0
		sleep 0.2
	done
	echo "bench/serve.sh: server $1 not ready: $(cat "$W/$1.err")" >&2
	exit 1
}
# the single instance: one engine per task, a queue of 8 jobs (the
# overload phase fills it; the other phases never have more than C jobs
# waiting); beside it the same with two engines per task
start c --queue 8 --engines-per-task 1
cp "$W/tasks-c.jsonl" "$W/tasks-e.jsonl"
start e --engines-per-task 2
LB=
if command -v haproxy >/dev/null; then
	for r in r1 r2 r3; do start "$r"; done
	for r in r1 r2 r3; do ready "$r"; done
	LB=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed -e "s/@HPORT@/$LB/" -e "s/@P1@/$(cat "$W/r1.port")/" -e "s/@P2@/$(cat "$W/r2.port")/" \
		-e "s/@P3@/$(cat "$W/r3.port")/" "$ROOT/integrations/haproxy.cfg" >"$W/haproxy.cfg"
	setsid haproxy -f "$W/haproxy.cfg" -db >"$W/haproxy.out" 2>"$W/haproxy.err" </dev/null &
	PIDS+=("$!")
	disown
	for i in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LB/readyz")" = 200 ] && break
		sleep 0.1
	done
fi
ready c
ready e

RC=0
/usr/bin/python3 - "$W" "$NS" "$NN" "$NC" "$NO" "$DL" "$NAIVE_DIAG" "$NAIVE_TESTS" "$(nproc)" "$LOAD0" \
	"$(cat "$W/c.port")" "${LB:-0}" "$(cat "$W/c.pid")" "$(cat "$W/e.port")" "$(cat "$W/e.pid")" \
	"$( [ -n "$LB" ] && cat "$W/r1.pid" "$W/r2.pid" "$W/r3.pid" | tr '\n' ' ')" >"$W/section.md" <<'PY' || RC=$?
import json, os, statistics, sys, threading, time, urllib.request, urllib.error
w, ns, nn, nc, no, dl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
naive = {"diag": [float(x) for x in sys.argv[7].split()], "tests": [float(x) for x in sys.argv[8].split()]}
cpus, load0, port1, lb = sys.argv[9], sys.argv[10], int(sys.argv[11]), int(sys.argv[12])
pid1, port2, pid2 = int(sys.argv[13]), int(sys.argv[14]), int(sys.argv[15])
rpids = [int(x) for x in sys.argv[16].split()]
good = open(w + "/good.diff").read()
MARGIN = 1000   # ms over the deadline an overloaded answer may take (HTTP, JSON, scheduling)

def post(port, path, body, timeout=600):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")

def tree(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read()
                kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(d))
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out

def rss_kib(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def mem(pid):  # (server MiB, server + language servers + boxes MiB)
    return rss_kib(pid) / 1024, sum(rss_kib(p) for p in tree(pid)) / 1024

ok = True
def threads(port, task, n, c, body=None):
    """n /get_reward requests from c client threads: (samples/s, latencies ms, answers)."""
    global ok
    lat, ans, lock, idx = [], [], threading.Lock(), [0]
    b = body or {"query": [good], "labels": [task]}
    def worker():
        global ok
        while True:
            with lock:
                if idx[0] >= n:
                    return
                idx[0] += 1
            t = time.perf_counter()
            st, a = post(port, "/get_reward", b)
            with lock:
                lat.append((time.perf_counter() - t) * 1000)
                ans.append((st, a))
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(c)]
    for t in ts: t.start()
    for t in ts: t.join()
    return n / (time.perf_counter() - t0), lat, ans

def right(ans):
    return all(st == 200 and a["rewards"] == [2.625] for st, a in ans)

rows, mems = [], []
for task in ("diag", "tests"):
    nv = naive[task]
    nrate = 1000 / statistics.mean(nv)
    rows.append("| %s | naive: fresh `lanser eval` per sample | %d | %.2f | %.0f | %.0f | 1 |" % (
        task, nn, nrate, pct(nv, 50), pct(nv, 99)))
    seq, t0 = [], time.perf_counter()
    for i in range(ns):
        t = time.perf_counter()
        st, a = post(port1, "/get_reward", {"query": [good], "labels": [task]})
        seq.append((time.perf_counter() - t) * 1000)
        ok = ok and st == 200 and a["rewards"] == [2.625]
    rate = ns / (time.perf_counter() - t0)
    rows.append("| %s | 1 instance, one request at a time | %d | %.2f | %.0f | %.0f | %.1fx |" % (
        task, ns, rate, pct(seq, 50), pct(seq, 99), rate / nrate))
    rate, lat, ans = threads(port1, task, ns, nc)
    ok = ok and right(ans)
    rows.append("| %s | 1 instance, 1 engine per task, %d client threads | %d | %.2f | %.0f | %.0f | %.1fx |" % (
        task, nc, ns, rate, pct(lat, 50), pct(lat, 99), rate / nrate))
    threads(port2, task, 2 * nc, nc)   # opens its second engine (not timed)
    rate, lat, ans = threads(port2, task, ns, nc)
    ok = ok and right(ans)
    rows.append("| %s | 1 instance, 2 engines per task, %d client threads | %d | %.2f | %.0f | %.0f | %.1fx |" % (
        task, nc, ns, rate, pct(lat, 50), pct(lat, 99), rate / nrate))
    if lb:
        rate, lat, ans = threads(lb, task, ns, nc)
        ok = ok and right(ans)
        rows.append("| %s | 3 instances behind HAProxy, %d client threads | %d | %.2f | %.0f | %.0f | %.1fx |" % (
            task, nc, ns, rate, pct(lat, 50), pct(lat, 99), rate / nrate))
    else:
        rows.append("| %s | 3 instances behind HAProxy | skipped: haproxy is not installed | | | | |" % task)
    t0 = time.perf_counter()
    st, a = post(port1, "/score", {"task": task, "completions": [good] * ns})
    rate = ns / (time.perf_counter() - t0)
    ok = ok and st == 200 and all(c["reward"] == 2.625 for c in a["candidates"])
    rows.append("| %s | 1 instance, one /score group of %d | %d | %.2f | | | %.1fx |" % (
        task, ns, ns, rate, rate / nrate))

mems.append(("1 instance, 1 engine per task", mem(pid1)))
mems.append(("1 instance, 2 engines per task", mem(pid2)))
for i, p in enumerate(rpids):
    mems.append(("replica r%d" % (i + 1), mem(p)))

# overload: the tests task, far more requests at once than workers + queue
rate, lat, ans = threads(port1, "tests", no, 3 * nc, {"query": [good], "labels": ["tests"], "deadlineMs": dl})
n200 = sum(1 for st, a in ans if st == 200)
n503 = sum(1 for st, a in ans if st == 503)
nright = sum(1 for st, a in ans if st == 200 and a["rewards"] == [2.625])
nnull = sum(1 for st, a in ans if st == 200 and a["rewards"] == [None])
nother = len(ans) - nright - nnull - n503
over_ok = pct(lat, 99) <= dl + MARGIN and max(lat) <= dl + MARGIN and nother == 0
ok = ok and over_ok

print("<!-- serve: written by bench/serve.sh; do not edit by hand -->")
print("## Reward server (issue 16)")
print()
print("`bash bench/serve.sh --write` on %s UTC, **%s CPUs** (load average at start: %s). The C fixture (cproj), one "
      "sample = the same good patch (reward 2.625, checked on every answer: %s). *naive*: a fresh "
      "`lanser --json eval --task T --patch P` process per sample (base worktree, cold clangd, diagnostics, tests, "
      "exit), one at a time. *1 instance*: one `lanser serve` (`--engines-per-task 1`: one warm engine per task; "
      "workers = CPUs) fed through `POST /get_reward` one request at a time, then from %d client threads, then as "
      "one `POST /score` group; beside it one with `--engines-per-task 2` (jobs of one task on two engines at "
      "once). *3 instances*: three replicas (defaults: 2 workers, 2 tasks, so one engine per task each), each with "
      "its own copy of the repository, behind HAProxy on loopback (integrations/haproxy.cfg), the same %d client "
      "threads. *diag*: the task's test command is `true` "
      "(diagnostics only); *tests*: the fixture's sandboxed `make test`. Latencies per sample in milliseconds; "
      "ratio = samples/s over the naive samples/s."
      % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), cpus, load0, "all right" if ok else "SOME WRONG", nc, nc))
print()
print("| task | way | samples | samples/s | p50 | p99 | ratio |")
print("|---|---|--:|--:|--:|--:|--:|")
print("\n".join(rows))
print()
print("Memory per instance after the runs above (RSS, MiB): " + "; ".join(
    "%s %.1f (with its language servers and boxes %.1f)" % (n, a, b) for n, (a, b) in mems) + ".")
print()
print("Overload: %d requests of the *tests* task from %d client threads at the single instance (workers = CPUs, "
      "`--queue 8`), each with `deadlineMs` %d: %d answered with the right reward, %d null past the deadline "
      "(reason `deadline`), %d refused at once with 503 + Retry-After, %d otherwise; latency p50 %.0f, p99 %.0f, "
      "max %.0f ms: %s."
      % (no, 3 * nc, dl, nright, nnull, n503, nother, pct(lat, 50), pct(lat, 99), max(lat),
         "bounded by the deadline (+%d ms margin)" % MARGIN if over_ok else "NOT BOUNDED by the deadline"))
print()
print("Reading: this machine has %s CPUs, shared by every instance above. An engine scores one job at a time "
      "(engine.h), so with one engine per task the jobs of one busy task take turns and can leave a core idle; two "
      "engines per task, or three replicas behind HAProxy (three engines of the task), can keep both cores busy, "
      "and that is the most they can gain here: three replicas cannot scale beyond two cores; they add failover "
      "(t_serve.sh) and each costs its own language servers' memory. Other sessions shared the machine (load "
      "average above): compare rows of one run, not runs. A `/score` group shares the diagnostics at "
      "the base and runs `--jobs` tests at once." % cpus)
print("<!-- /serve -->")
sys.exit(0 if ok else 1)
PY
cat "$W/section.md"
if [ "$WRITE" = 1 ] && [ "$RC" = 0 ]; then
	bench_write_section serve "$(cat "$W/section.md")"
fi
exit "$RC"
