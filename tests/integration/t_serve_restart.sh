#!/usr/bin/env bash
# `lanser serve` when a task's warm language server dies (docs/serve.md,
# "Threads, queue, deadlines"): /readyz only once clangd runs; clangd is found in the server's process tree
# and killed with SIGKILL, once while idle and once under load. Every
# answer must be the right reward or a null whose reason says a language
# server died (retryable); the answers after it are right again, a new
# clangd runs, and /metrics counts the restarts (lanser_ls_restarts_total)
# and the nulls (lanser_samples_unscorable_total{reason="ls_crash"}).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
need_lanser

serve_fixture || exit 1
serve_task diag '"test": ["true"]'

serve_start s --tasks "$TMP/tasks.jsonl" --workers 2 --engines-per-task 1
if ! serve_ready s; then
	fail "server: ready" "$(cat "$TMP/s.err")"
	exit 1
fi
PORT=$(serve_port s)

# send N [KILL_AFTER_S]: N concurrent /get_reward requests of the good patch
# (4 at a time); with KILL_AFTER_S, clangd (the pids in $TMP/kill) is killed
# that long after the first request left. Prints one JSON object: the
# rewards and reasons of every answer, and the HTTP statuses.
send() {
	"$PY" - "$PORT" "$TMP" "$@" <<'PY'
import json, os, signal, sys, threading, time, urllib.request, urllib.error
port, tmp, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
kill_after = float(sys.argv[4]) if len(sys.argv) > 4 else None
good = open(tmp + "/good.diff").read()
out, lock, idx = [], threading.Lock(), [0]
def one():
    body = json.dumps({"query": [good], "labels": ["diag"]}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/get_reward" % port, data=body)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            a = json.loads(r.read())
            return {"status": r.status, "reward": a["rewards"][0], "reason": a["extra_logs"]["reason"][0]}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "reward": None, "reason": e.read().decode(errors="replace")[:300]}
def worker():
    while True:
        with lock:
            if idx[0] >= n:
                return
            idx[0] += 1
        a = one()
        with lock:
            out.append(a)
ts = [threading.Thread(target=worker) for _ in range(4)]
for t in ts: t.start()
if kill_after is not None:
    time.sleep(kill_after)
    for p in open(tmp + "/kill").read().split():
        try:
            os.kill(int(p), signal.SIGKILL)
        except ProcessLookupError:
            pass
for t in ts: t.join()
print(json.dumps(out))
PY
}
metric() { # NAME: its value in /metrics
	curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
all_right() { # JSON from send: "yes" when every answer is 200 and 2.625
	"$PY" -c 'import json, sys; a = json.loads(sys.argv[1]); print("yes" if a and all(x["status"] == 200 and x["reward"] == 2.625 for x in a) else json.dumps(a)[:800])' "$1"
}

# ready means warm: clangd runs before the first request
CL0=$(serve_ls_pids s clangd.main)
if [ -n "$CL0" ]; then
	ok "ready: clangd already runs before any request (pid $CL0)"
else
	fail "ready: clangd already runs before any request" "$(ps -o pid,ppid,comm -e | head -40)"
fi
check_eq "warm: the right reward" yes "$(all_right "$(send 2)")"
CL1=$(serve_ls_pids s clangd.main)
if [ -z "$CL1" ]; then
	fail "clangd runs under the server" "$(ps -o pid,ppid,comm -e | head -40)"
	exit 1
fi
ok "clangd runs under the server (pid $CL1)"
check_eq "no restart yet" 0 "$(metric lanser_ls_restarts_total)"

# --- 1. killed while idle
kill -KILL $CL1
sleep 0.5
check_eq "idle kill: the next requests get the right reward" yes "$(all_right "$(send 4)")"
CL2=$(serve_ls_pids s clangd.main)
if [ -n "$CL2" ] && [ "$CL2" != "$CL1" ]; then
	ok "idle kill: a new clangd runs (pid $CL2)"
else
	fail "idle kill: a new clangd runs" "before $CL1, now '${CL2}'"
fi
check_eq "idle kill: /metrics counts one restart" 1 "$(metric lanser_ls_restarts_total)"
check_contains "idle kill: the server said why it restarted" "$(cat "$TMP/s.err")" "restarting the servers of engine 1"

# --- 2. killed under load: 24 requests, 4 at a time, clangd killed after 1 s
echo "$CL2" >"$TMP/kill"
A=$(send 24 1.0)
check_eq "load kill: every request answered 200 with the right reward or a retryable null" yes \
	"$("$PY" -c '
import json, sys
a = json.loads(sys.argv[1])
bad = [x for x in a if x["status"] != 200 or not (x["reward"] == 2.625 or (x["reward"] is None and "language server died" in (x["reason"] or "") and "retry" in x["reason"]))]
print("yes" if len(a) == 24 and not bad else json.dumps(bad or a)[:800])' "$A")"
NULLS=$("$PY" -c 'import json, sys; print(sum(x["reward"] is None for x in json.loads(sys.argv[1])))' "$A")
echo "# load kill: $NULLS of 24 answers null (retryable), the others right"
check_eq "load kill: the requests after it get the right reward" yes "$(all_right "$(send 4)")"
CL3=$(serve_ls_pids s clangd.main)
if [ -n "$CL3" ] && [ "$CL3" != "$CL2" ]; then
	ok "load kill: a new clangd runs (pid $CL3)"
else
	fail "load kill: a new clangd runs" "before $CL2, now '${CL3}'"
fi
R=$(metric lanser_ls_restarts_total)
if [ "${R:-0}" -ge 2 ]; then
	ok "load kill: /metrics counts the restarts ($R)"
else
	fail "load kill: /metrics counts the restarts" "lanser_ls_restarts_total ${R:-?}"
fi
check_eq "the ls_crash nulls are counted by reason" "$NULLS" "$(metric 'lanser_samples_unscorable_total{reason="ls_crash"}')"
check_eq "no sample was lost to another reason" 0 "$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^lanser_samples_unscorable_total/ && !/ls_crash/ {s += $2} END {print s + 0}')"

# --- the server is still whole: TERM drains and exits 0, worktrees gone
kill -TERM "$(cat "$TMP/s.pid")"
wait "$(cat "$TMP/s.pid")"
check_eq "TERM after the restarts: exits 0" 0 "$?"
check_eq "no worktree left (the replaced engines' included)" 1 "$(git -C "$C" worktree list | wc -l)"
