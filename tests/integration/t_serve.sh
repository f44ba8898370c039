#!/usr/bin/env bash
# `lanser serve` end to end (docs/serve.md), on the C fixture, from a
# loopback client (serve_client.py: threads, the standard library):
# OpenRLHF's /get_reward shapes, /score equal to `lanser group` on the same
# completions (rewards, advantages, bundle ids), every completion format,
# malformed and oversized bodies, slow clients, hundreds of concurrent
# requests with hanging tests (scored: the base's tests end in time) and 1 ms
# deadlines (null with a reason, the
# others unaffected), a flood past the queue (503, server alive, memory
# bounded), /metrics parsed and matched against the requests sent, the
# trainer adapters, the bearer token, SIGTERM during load, and 3 replicas
# behind HAProxy with one killed mid-load.
#
# Servers run detached (serve_lib.sh) and are killed at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
CL="$LANSER_REPO_ROOT/tests/integration/serve_client.py"
client() { # PHASE NAME ARGS...: serve_client.py against server NAME; its lines are checks
	local phase=$1 name=$2; shift 2
	local out
	out=$("$PY" "$CL" "$phase" "$(cat "$TMP/$name.port")" "$TMP" "$@" 2>&1)
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "${line#ok }" ;;
		"FAIL "*) fail "${line#FAIL }" "" ;;
		*) echo "$line" ;;
		esac
	done <<<"$out"
}

C=$(fixture cproj c)
C2=$(fixture cproj c2)
for d in "$C" "$C2"; do
	(cd "$d" && $GIT add -A && $GIT commit -qm base) || exit 1
done
cd "$TMP" || exit 1
mkpatch() {
	(cd "$C" && sed -i "$2" "$3" && git diff >"$TMP/$1" && git checkout -q -- .)
	[ -s "$TMP/$1" ] || echo "mkpatch: $1 is empty" >&2
}
mkpatch good.diff 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c
mkpatch break.diff 's/int max_int(int a, int b);/int max_int(int a, int b, int c);/' src/util.h
mkpatch hang.diff 's/^\tlist_init(&l);/\tfor (;;) { }\n\tlist_init(\&l);/' tests/test_list.c

# the completions, in every format (docs/serve.md, "Completions")
"$PY" - "$TMP" "$C" <<'EOF'
import json, sys
t, c = sys.argv[1], sys.argv[2]
rd = lambda p: open(p).read()
good, brk, hang = rd(t + "/good.diff"), rd(t + "/break.diff"), rd(t + "/hang.diff")
util_c = rd(c + "/src/util.c")
line = [l for l in util_c.splitlines(True) if "return hi;" in l][0]
util_h = rd(c + "/src/util.h").replace("int max_int(int a, int b);", "int max_int(int a, int b, int c);")
fx = {
    "good": "Here is the fix:\n```diff\n" + good + "```\n",
    "bare": brk,
    "sr": "src/util.c\n```c\n<<<<<<< SEARCH\n" + line + "=======\n" + line.replace("return hi;", "return hi - 1;") + ">>>>>>> REPLACE\n```\n",
    "whole": "The header becomes:\n\n```c src/util.h\n" + util_h + "```\n",
    "named": "**src/util.c**\n```c\n" + util_c.replace("return a > b ? a : b;", "return b < a ? a : b;") + "```\n",
    "junk": "I could not produce a patch.",
    "escape": "../outside.c\n```c\nint x;\n```\n",
    "hang": hang,
}
fx["order"] = ["good", "bare", "sr", "whole", "named", "junk", "escape"]
json.dump(fx, open(t + "/completions.json", "w"))
with open(t + "/completions.jsonl", "w") as f:
    for i in fx["order"]:
        f.write(json.dumps({"id": i, "patch": fx[i]}) + "\n")
EOF
printf '{"schema": "lanser.task/1", "id": "grp-c", "limits": {"wallMs": 6000}}\n' >"$TMP/task.json"
printf '{"id": "c", "workspace": "c", "task": "task.json"}\n{"id": "c2", "workspace": "c2", "task": "task.json"}\n' \
	>"$TMP/tasks.jsonl"

# --- refusals before listening
check_rc_as "a non-loopback address without --allow-remote" 129 "$L" serve --tasks "$TMP/tasks.jsonl" --listen 0.0.0.0:0
check_contains "... says what to add" "$ERR" "--allow-remote and --token-file"
check_rc_as "--allow-remote without a token" 129 "$L" serve --tasks "$TMP/tasks.jsonl" --listen 0.0.0.0:0 --allow-remote
check_rc_as "a host name instead of an address" 129 "$L" serve --tasks "$TMP/tasks.jsonl" --listen localhost:80
printf '{"id": "x", "workspace": "c", "bogus": 1}\n' >"$TMP/bad-tasks.jsonl"
check_rc_as "a tasks file with an unknown member" 78 "$L" serve --tasks "$TMP/bad-tasks.jsonl"
check_contains "... named with its line" "$ERR" "bad-tasks.jsonl:1: unknown member \"bogus\""

# --- the main server: two tasks, a small queue, short idle timeout
serve_start main --tasks "$TMP/tasks.jsonl" --workers 2 --queue 12 --max-body 1048576 --idle-timeout 2000
if ! serve_ready main; then
	fail "main server: ready" "$(cat "$TMP/main.err")"
	exit 1
fi
ok "main server: listening and ready (both tasks warm)"
MAIN_PID=$(cat "$TMP/main.pid")

client shapes main

# --- /score equals lanser group on the same completions
run "$L" --root "$C" --json group --task "$TMP/task.json" --in "$TMP/completions.jsonl" --advantage grpo --preset verl
check_eq "group on the completions: exit 0" 0 "$RC"
printf '%s' "$OUT" >"$TMP/group.json"
client equal main grpo verl
check_eq "score equals group: ids, rewards, advantages, formats, bundle ids" same "$("$PY" - "$TMP" <<'EOF'
import json, sys
t = sys.argv[1]
g, s = json.load(open(t + "/group.json")), json.load(open(t + "/score.json"))
keys = ["id", "reward", "advantage", "rFormat", "rOutcome", "rProcess", "scorable", "bundleId", "formatNote", "newErrors"]
a = [[c[k] for k in keys] for c in g["candidates"]]
b = [[c[k] for k in keys] for c in s["candidates"]]
same = a == b and g["advantages"]["advantages"] == s["advantages"]["advantages"]
print("same" if same else "group %s\nscore %s" % (a, b))
EOF
)"
check_json_eq "score: every format parsed (diff fenced and bare, search/replace, file blocks), junk and a path escape R_format 0" \
	'[c["rFormat"] for c in b["candidates"]]' '[1,1,1,1,1,0,0]' "$(cat "$TMP/score.json")"
check_json_eq "score: outcomes (the header change breaks the build, hi - 1 fails a test)" \
	'[c["rOutcome"] for c in b["candidates"]]' '[1,0,0,0,1,0,0]' "$(cat "$TMP/score.json")"
check_json_eq "score: the path escape's note" '"not a path inside the workspace" in b["candidates"][6]["formatNote"]' true "$(cat "$TMP/score.json")"
check_json_eq "score: step rewards when asked" '[len(c["steps"]) for c in b["candidates"]]' '[1,1,1,1,1,0,0]' "$(cat "$TMP/score.json")"
check_eq "nothing was written outside the workspace" "" "$(ls "$TMP/outside.c" 2>/dev/null)"

client limits main 1048576
client adapters main "$LANSER_REPO_ROOT/integrations"
client load main 240 24
RSS0=$(awk '/VmRSS/ {print $2}' "/proc/$MAIN_PID/status")
client flood main 60
RSS1=$(awk '/VmRSS/ {print $2}' "/proc/$MAIN_PID/status")
if [ -n "$RSS0" ] && [ -n "$RSS1" ] && [ "$RSS1" -lt $((RSS0 + 204800)) ]; then
	ok "flood: memory bounded (RSS ${RSS0} KiB -> ${RSS1} KiB)"
else
	fail "flood: memory bounded" "RSS ${RSS0:-?} KiB -> ${RSS1:-?} KiB"
fi
client metrics main 0 0
client term main 6 "$MAIN_PID"
for i in $(seq 1 600); do
	kill -0 "$MAIN_PID" 2>/dev/null || break
	sleep 0.2
done
wait "$MAIN_PID"
check_eq "TERM: the server exits 0 after draining" 0 "$?"
check_contains "TERM: it said it drained" "$(cat "$TMP/main.err")" "drained: stopping"
check_eq "TERM: no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"

# --- the bearer token
C3=$(fixture cproj c3)
(cd "$C3" && $GIT add -A && $GIT commit -qm base) || exit 1
printf '{"id": "c", "workspace": "c3"}\n' >"$TMP/tasks3.jsonl"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token"
serve_start tok --tasks "$TMP/tasks3.jsonl" --token-file "$TMP/token"
if serve_ready tok; then
	PORT=$(cat "$TMP/tok.port")
	code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
	check_eq "token: none -> 401" 401 "$(code -X POST -d '{"query":[]}' "http://127.0.0.1:$PORT/get_reward")"
	check_eq "token: a wrong one -> 401" 401 "$(code -H "Authorization: Bearer $(cat "$TMP/token")x" -X POST -d '{"query":[]}' "http://127.0.0.1:$PORT/get_reward")"
	check_eq "token: the right one -> 200" 200 "$(code -H "Authorization: Bearer $(cat "$TMP/token")" -X POST -d '{"query":[]}' "http://127.0.0.1:$PORT/get_reward")"
	check_eq "token: /metrics needs it too" 401 "$(code "http://127.0.0.1:$PORT/metrics")"
	check_eq "token: health checks do not" 200 "$(code "http://127.0.0.1:$PORT/healthz")"
else
	fail "token server: ready" "$(cat "$TMP/tok.err")"
fi
kill -TERM "$(cat "$TMP/tok.pid")"
wait "$(cat "$TMP/tok.pid")"
check_eq "token server: exits 0 on TERM" 0 "$?"

# --- 3 replicas behind HAProxy, one killed mid-load
if ! command -v haproxy >/dev/null; then
	skip "replicas behind HAProxy" "haproxy is not installed"
else
	for r in 1 2 3; do
		R=$(fixture cproj "r$r")
		(cd "$R" && $GIT add -A && $GIT commit -qm base) || exit 1
		printf '{"id": "c", "workspace": "r%s", "task": "task.json"}\n' "$r" >"$TMP/tasks-r$r.jsonl"
		serve_start "r$r" --tasks "$TMP/tasks-r$r.jsonl" --workers 2
	done
	up=1
	for r in 1 2 3; do
		serve_ready "r$r" || { up=0; fail "replica r$r: ready" "$(cat "$TMP/r$r.err")"; }
	done
	HPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed -e "s/@HPORT@/$HPORT/" -e "s/@P1@/$(cat "$TMP/r1.port")/" -e "s/@P2@/$(cat "$TMP/r2.port")/" \
		-e "s/@P3@/$(cat "$TMP/r3.port")/" "$LANSER_REPO_ROOT/integrations/haproxy.cfg" >"$TMP/haproxy.cfg"
	setsid haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.out" 2>"$TMP/haproxy.err" </dev/null &
	SERVE_PIDS+=("$!")
	echo "$HPORT" >"$TMP/lb.port"
	for i in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/healthz")" = 200 ] && break
		sleep 0.1
	done
	if [ "$up" = 1 ]; then
		client replicas lb 120 "$(cat "$TMP/r2.pid")"
		{ wait "$(cat "$TMP/r2.pid")"; } 2>/dev/null
		check_contains "HAProxy saw the replica go down" "$(cat "$TMP/haproxy.out" "$TMP/haproxy.err")" "r2"
	fi
fi
