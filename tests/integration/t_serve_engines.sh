#!/usr/bin/env bash
# `lanser serve --engines-per-task N` (docs/serve.md, "Threads, queue,
# deadlines"): jobs of one task run on distinct warm engines at once, so a
# busy task does not serialise its own scoring. One task whose tests sleep
# 3 s; 2 requests at once: with one engine they take two turns (>= 6 s),
# with two engines one turn (the sleeps overlap); both answer the right
# reward, /metrics says how many engines are open, each has its own clangd
# and worktrees, a killed clangd restarts only its engine, and TERM removes
# every worktree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
need_lanser

serve_fixture || exit 1
serve_task slow '"test": ["sh", "-c", "sleep 3"], "limits": {"wallMs": 30000}'

# pair NAME: 2 requests at once; prints "SECONDS RIGHT" (RIGHT: both 2.625)
pair() {
	"$PY" - "$(serve_port "$1")" "$TMP/good.diff" <<'PY'
import json, sys, threading, time, urllib.request
port, good = int(sys.argv[1]), open(sys.argv[2]).read()
out = []
def one():
    req = urllib.request.Request("http://127.0.0.1:%d/get_reward" % port,
                                 data=json.dumps({"query": [good], "labels": ["slow"]}).encode())
    with urllib.request.urlopen(req, timeout=120) as r:
        out.append(json.loads(r.read())["rewards"])
t0 = time.monotonic()
ts = [threading.Thread(target=one) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
print("%.1f %s" % (time.monotonic() - t0, "right" if out == [[2.625], [2.625]] else json.dumps(out)))
PY
}
metric() { # NAME METRIC
	curl -s "http://127.0.0.1:$(serve_port "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}'
}
secs_at_least() { "$PY" -c 'import sys; print("yes" if float(sys.argv[1]) >= float(sys.argv[2]) else "no: %s s" % sys.argv[1])' "$1" "$2"; }
secs_below() { "$PY" -c 'import sys; print("yes" if float(sys.argv[1]) < float(sys.argv[2]) else "no: %s s" % sys.argv[1])' "$1" "$2"; }

check_rc_as "--engines-per-task 0 is refused" 129 "$L" serve --tasks "$TMP/tasks.jsonl" --engines-per-task 0

# --- one engine: the two jobs of the task take turns
serve_start one --tasks "$TMP/tasks.jsonl" --workers 2 --engines-per-task 1
serve_ready one || { fail "one engine: ready" "$(cat "$TMP/one.err")"; exit 1; }
pair one >/dev/null   # the first answers start clangd
read -r T1 R1 <<<"$(pair one)"
check_eq "one engine: both right" right "$R1"
check_eq "one engine: the jobs took turns (>= 6 s)" yes "$(secs_at_least "$T1" 6)"
check_eq "one engine: /metrics lanser_engines 1" 1 "$(metric one lanser_engines)"
kill -TERM "$(cat "$TMP/one.pid")"
wait "$(cat "$TMP/one.pid")"

# --- two engines: at once
serve_start two --tasks "$TMP/tasks.jsonl" --workers 2 --engines-per-task 2
serve_ready two || { fail "two engines: ready" "$(cat "$TMP/two.err")"; exit 1; }
check_eq "two engines: one open at start (the second when jobs overlap)" 1 "$(metric two lanser_engines)"
pair two >/dev/null   # opens the second engine
read -r T2 R2 <<<"$(pair two)"
check_eq "two engines: both right" right "$R2"
check_eq "two engines: the jobs ran at once (< 6 s; one engine: $T1 s)" yes "$(secs_below "$T2" 6)"
echo "# one engine: $T1 s, two engines: $T2 s for 2 requests of 3 s tests"
check_eq "two engines: /metrics lanser_engines 2" 2 "$(metric two lanser_engines)"
check_eq "two engines: a clangd each" 2 "$(serve_ls_pids two clangd.main | wc -l)"
# each engine: its base worktree, and the test worktree it keeps between
# requests (one: a request is one candidate)
check_eq "two engines: a base worktree and a test worktree each (+ the main tree)" 5 \
	"$(git -C "$C" worktree list | wc -l)"
check_contains "the server said how many engines per task" "$(cat "$TMP/two.err")" "2 engines per task"

# a killed clangd: its engine alone restarts; the answers stay right
kill -KILL "$(serve_ls_pids two clangd.main | head -1)"
sleep 0.5
read -r T3 R3 <<<"$(pair two)"
check_eq "a clangd killed: both right after" right "$R3"
check_eq "a clangd killed: one restart" 1 "$(metric two lanser_ls_restarts_total)"
check_eq "a clangd killed: two engines open again" 2 "$(metric two lanser_engines)"

kill -TERM "$(cat "$TMP/two.pid")"
wait "$(cat "$TMP/two.pid")"
check_eq "TERM: exits 0" 0 "$?"
check_eq "TERM: every engine's worktree removed" 1 "$(git -C "$C" worktree list | wc -l)"
