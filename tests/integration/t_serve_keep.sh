#!/usr/bin/env bash
# `lanser serve` keeps each engine's test worktrees from one request to the
# next (docs/eval.md, "Test worktrees"): every candidate still starts from
# the base. Two candidates in turns on one task: A changes src/util.c; B adds
# a line to src/list.c and a new file `expect`. The test command fails when
# an ignored build output (marker.o) or an untracked file (made.txt) of an
# earlier candidate is still there, or when src/list.c holds a line that
# its own candidate did not add (B's `expect` says how many). Each answer
# must equal a fresh `lanser eval` of that candidate (its own worktrees),
# and the number of worktrees must not grow with the requests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture cproj c)
printf 'marker.o\n' >"$C/.gitignore"
(cd "$C" && $GIT add -A && $GIT commit -qm base) || exit 1
(cd "$C" && sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >"$TMP/a.diff" && git checkout -q -- .)
(cd "$C" && printf '/* EXTRA */\n' >>src/list.c && printf '1\n' >expect && git add -N expect &&
	git diff >"$TMP/b.diff" && git rm -q --cached expect && rm expect && git checkout -q -- .)
check_contains "candidate B adds a file" "$(cat "$TMP/b.diff")" "+++ b/expect"
CMD='test ! -e marker.o && test ! -e made.txt && touch marker.o made.txt && test "$(grep -c EXTRA src/list.c)" = "$(cat expect 2>/dev/null || echo 0)"'
"$PY" -c 'import json, sys; print(json.dumps({"schema": "lanser.task/1", "id": "keep", "test": ["sh", "-c", sys.argv[1]]}))' "$CMD" >"$TMP/keep.json"
printf '{"id": "keep", "workspace": "c", "task": "keep.json"}\n' >"$TMP/tasks.jsonl"

# the rewards of a fresh process per candidate
for k in a b; do
	run "$L" --root "$C" --json eval --task "$TMP/keep.json" --patch "$TMP/$k.diff"
	eval "WANT_$k=\$(json .outcome.reward.reward)"
	check_eq "eval $k: the tests passed (its own worktree)" 1 "$(json .outcome.reward.rOutcome)"
done

serve_start s --tasks "$TMP/tasks.jsonl" --workers 1
serve_ready s || { fail "serve: ready" "$(cat "$TMP/s.err")"; exit 1; }
reward() { # DIFF -> the /get_reward reward
	"$PY" - "$(serve_port s)" "$1" <<'PY'
import json, sys, urllib.request
port, diff = int(sys.argv[1]), open(sys.argv[2]).read()
req = urllib.request.Request("http://127.0.0.1:%d/get_reward" % port,
                             data=json.dumps({"query": [diff], "labels": ["keep"]}).encode())
with urllib.request.urlopen(req, timeout=120) as r:
    print(json.dumps(json.loads(r.read())["rewards"][0]))
PY
}
WT1=
for i in 1 2 3; do
	for k in b a; do
		WANT=WANT_$k
		check_eq "round $i, candidate $k: the reward of a fresh eval" "${!WANT}" "$(reward "$TMP/$k.diff")"
	done
	[ -z "$WT1" ] && WT1=$(git -C "$C" worktree list | wc -l)
done
check_eq "the worktrees did not grow with the requests" "$WT1" "$(git -C "$C" worktree list | wc -l)"
kill -TERM "$(cat "$TMP/s.pid")"
wait "$(cat "$TMP/s.pid")"
check_eq "TERM: every worktree removed (the main tree alone)" 1 "$(git -C "$C" worktree list | wc -l)"
