#!/usr/bin/env bash
# `lanser serve` with bases named every way (docs/serve.md, "Tasks file"):
# a branch, a tag, a full and an abbreviated commit id, HEAD. Each task is
# scored at the commit its base names, resolved once at start (a branch
# moving later changes nothing) and said in every answer (/score
# "baseCommit", /get_reward extra_logs.base_commit). A request's "base" and
# a label's "base" must name the task's commit: an unknown one is a 400
# (/score) or a null with its reason (/get_reward), never a reward.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture cproj c)
(cd "$C" && $GIT add -A && $GIT commit -qm base && $GIT tag v1 && $GIT branch old) || exit 1
A=$(git -C "$C" rev-parse HEAD)
(cd "$C" && sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >"$TMP/good.diff" && git checkout -q -- .)
# HEAD moves on: the line the good patch changes is another one there
(cd "$C" && sed -i 's/return a > b ? a : b;/return (a > b) ? a : b;/' src/util.c && $GIT commit -qam later) || exit 1
B=$(git -C "$C" rev-parse HEAD)
SHORT=${A:0:9}
printf '{"schema": "lanser.task/1", "id": "diag", "test": ["true"]}\n' >"$TMP/diag.json"
{
	printf '{"id": "head", "workspace": "c", "task": "diag.json"}\n'
	printf '{"id": "branch", "workspace": "c", "task": "diag.json", "base": "old"}\n'
	printf '{"id": "tag", "workspace": "c", "task": "diag.json", "base": "v1"}\n'
	printf '{"id": "full", "workspace": "c", "task": "diag.json", "base": "%s"}\n' "$A"
	printf '{"id": "short", "workspace": "c", "task": "diag.json", "base": "%s"}\n' "$SHORT"
} >"$TMP/tasks.jsonl"

# --- an unknown base stops the server before it listens, the line named
printf '{"id": "x", "workspace": "c", "base": "no-such-branch"}\n' >"$TMP/bad.jsonl"
check_rc_as "a tasks file with an unknown base" 3 "$L" serve --tasks "$TMP/bad.jsonl" --listen 127.0.0.1:0
check_contains "... named with its line and base" "$ERR" "bad.jsonl:1"
check_contains "... says the base is unknown" "$ERR" "no-such-branch"
printf '{"id": "x", "workspace": "c", "base": "%s"}\n' "${B:0:7}0000" >"$TMP/bad2.jsonl"
check_rc_as "a tasks file with a commit id that is not there" 3 "$L" serve --tasks "$TMP/bad2.jsonl" --listen 127.0.0.1:0

serve_start s --tasks "$TMP/tasks.jsonl" --workers 2
if ! serve_ready s; then
	fail "server: ready" "$(cat "$TMP/s.err")"
	exit 1
fi
PORT=$(serve_port s)
# the branch moves after start: the task stays at the commit it named then
(cd "$C" && $GIT branch -f old "$B") || exit 1

# q PATH BODY: status and answer in $TMP/ans
q() {
	curl -s -o "$TMP/ans" -w '%{http_code}' -X POST --data-binary "$2" "http://127.0.0.1:$PORT$1"
}
body() { # TASK [BASE]: a /score body with the good patch
	"$PY" -c 'import json, sys; b = {"task": sys.argv[2], "completions": [open(sys.argv[1]).read()]}
if len(sys.argv) > 3: b["base"] = sys.argv[3]
print(json.dumps(b))' "$TMP/good.diff" "$@"
}

for t in branch tag full short; do
	check_eq "/score $t: 200" 200 "$(q /score "$(body $t)")"
	check_json_eq "/score $t: scored at commit A, the reward of the good patch" \
		'[b["baseCommit"], b["candidates"][0]["reward"]]' "[\"$A\",2.625]" "$(cat "$TMP/ans")"
done
check_json_eq "/score short: the base as the tasks file names it" 'b["base"]' "$SHORT" "$(cat "$TMP/ans")"
check_eq "/score head: 200" 200 "$(q /score "$(body head)")"
check_json_eq "/score head: scored at commit B, where the patch does not apply (R_format 0)" \
	'[b["baseCommit"], b["candidates"][0]["rFormat"]]' "[\"$B\",0]" "$(cat "$TMP/ans")"

# --- a request's base
check_eq "/score with the task's base by tag: 200" 200 "$(q /score "$(body full v1)")"
check_eq "/score with the task's base by short id: 200" 200 "$(q /score "$(body tag "${A:0:5}")")"
check_eq "/score with an unknown base: 400" 400 "$(q /score "$(body tag no-such-ref)")"
check_contains "... saying so" "$(cat "$TMP/ans")" "unknown base 'no-such-ref' of task tag"
check_json_eq "... not retryable" 'b["retryable"]' false "$(cat "$TMP/ans")"
check_eq "/score with another commit's base: 400" 400 "$(q /score "$(body tag "$B")")"
check_contains "... naming both commits" "$(cat "$TMP/ans")" "is commit $B, but task tag is scored at $A"
check_eq "/score with a base that is not a string: 400" 400 "$(q /score '{"task": "tag", "completions": ["x"], "base": 7}')"

# --- labels naming a base
GR=$("$PY" -c 'import json, sys
g = open(sys.argv[1]).read()
labels = [json.dumps({"task": "tag", "base": "v1"}), {"task": "full", "base": sys.argv[2]},
          json.dumps({"task": "tag", "base": "nope"}), json.dumps({"task": "head", "base": "v1"}), "short"]
print(json.dumps({"query": [g] * len(labels), "labels": labels}))' "$TMP/good.diff" "${A:0:7}")
check_eq "/get_reward with labels naming bases: 200" 200 "$(q /get_reward "$GR")"
check_json_eq "... rewards: right where the base is the task's, null elsewhere" 'b["rewards"]' '[2.625,2.625,null,null,2.625]' "$(cat "$TMP/ans")"
check_json_eq "... the commits scored at" 'b["extra_logs"]["base_commit"]' "[\"$A\",\"$A\",null,null,\"$A\"]" "$(cat "$TMP/ans")"
check_json_eq "... an unknown base's reason" '"unknown base '"'"'nope'"'"'" in b["extra_logs"]["reason"][2]' true "$(cat "$TMP/ans")"
check_json_eq "... another commit's reason" '"is commit '"$A"'" in b["extra_logs"]["reason"][3]' true "$(cat "$TMP/ans")"
check_eq "/metrics counts them (reason base)" 2 "$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "lanser_samples_unscorable_total{reason=\"base\"}" {print $2}')"

kill -TERM "$(cat "$TMP/s.pid")"
wait "$(cat "$TMP/s.pid")"
check_eq "TERM: exits 0" 0 "$?"
