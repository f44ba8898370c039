#!/usr/bin/env bash
# The agent's task protects test files ("testFiles", docs/agent.md "Task
# files"): on the C fixture with a bug in the base (test 5 fails), a
# scripted model (tests/model/fake_openai.py over real HTTP on 127.0.0.1)
# weakens the failing assertion in tests/test_list.c and finishes. Without
# testFiles the weakened test passes: R_outcome 1 (the hole). With
# "testFiles" in the task file, in a --tasks line (rollouts) or from
# --test-files, the file is put back to the base before the final tests:
# R_outcome 0, the result's tests.testFilesReset and the trace's outcome
# record name it, and trace replay --verify agrees. Bounds of the member.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
need_lanser
RUN_TIMEOUT=300

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture_base cproj) || exit 1
sed -i 's/^\t\treturn lo;/\t\treturn lo - 1;/' "$C/src/util.c"
$GIT -C "$C" commit -qam "a bug" || exit 1

# the model: replace `clamp_int(-5, 0, 10) == 0` (line 30, columns 8-32)
# with a test that the bug passes, then finish
"$PY" - "$TMP/weaken.json" <<'PYEOF'
import json, sys
edit = {"args": ["tests/test_list.c@R(30,8->30,33)"], "text": "clamp_int(-5, 0, 10) <= 0"}
fin = {"id": "w2", "name": "finish", "arguments": {"summary": "tests pass"}}
turn = {"reply": {"tool_calls": [{"id": "w1", "name": "edit", "arguments": edit}, fin]}}
json.dump({"turns": [turn] * 8}, open(sys.argv[1], "w"))
PYEOF

# episode NAME TASK-JSON [OPTION...]: one episode in $C, --json and --trace
episode() {
	local name=$1 task=$2
	shift 2
	start_agent_fake "$TMP/weaken.json" || fail "$name: the fake model server started" "no port"
	printf '%s\n' "$task" >"$TMP/$name.task.json"
	run "$L" --root "$C" --json --trace "$TMP/$name.trace.jsonl" agent --task "$TMP/$name.task.json" \
		--model-url "$FAKE_URL" --model fake "$@"
	[ "$RC" = 0 ] || echo "# stderr: $(_clip "$ERR")"
}
# the outcome record of a trace
outcome_of() {
	grep '"type":"outcome"' "$1" | head -1
}

episode plain '{"id": "plain", "instruction": "Make the tests pass."}'
check_eq "no testFiles: exit 0" 0 "$RC"
check_json_eq "no testFiles: the model's diff changes tests/test_list.c only" \
	'[l for l in b["diff"].splitlines() if l.startswith("+++ ")]' '["+++ b/tests/test_list.c"]'
check_json_eq "no testFiles: the weakened test passes, R_outcome 1 (the hole)" \
	'[b["tests"]["status"], b["rewards"]["episode"]["terms"]["outcome"]]' '["passed",1]'
check_json_eq "no testFiles: the result names no reset" '"testFilesReset" in b["tests"]' false

episode prot '{"id": "prot", "instruction": "Make the tests pass.", "testFiles": ["tests/"]}'
check_eq "testFiles in the task: exit 0" 0 "$RC"
check_json_eq "testFiles in the task: the test file is put back, the base's test fails, R_outcome 0" \
	'[b["tests"]["status"], b["rewards"]["episode"]["terms"]["outcome"]]' '["failed",0]'
check_json_eq "testFiles in the task: the result's tests.testFilesReset names the file" \
	'b["tests"]["testFilesReset"]' '["tests/test_list.c"]'
check_json_eq "testFiles in the task: the trace's outcome record has outcome.patch.testFilesReset" \
	'b["record"]["outcome"]["patch"]["testFilesReset"]' '["tests/test_list.c"]' \
	"$(outcome_of "$TMP/prot.trace.jsonl")"
check_json_eq "testFiles in the task: the agent event's task records them" \
	'b["task"]["testFiles"]' '["tests/"]' "$(grep '"type":"agent"' "$TMP/prot.trace.jsonl" | head -1)"
run "$L" trace replay --verify "$TMP/prot.trace.jsonl"
check_eq "testFiles in the task: trace replay --verify exits 0" 0 "$RC"
check_contains "testFiles in the task: replay re-ran the episode" "$OUT" "verified: agent run"

# the text output says so
start_agent_fake "$TMP/weaken.json" || fail "text: the fake model server started" "no port"
run "$L" --root "$C" agent --task "$TMP/prot.task.json" --model-url "$FAKE_URL" --model fake
check_contains "testFiles in the task, text: the reset is named" "$OUT" \
	"test files put back to the base (testFiles; the candidate's changes to them are not scored): tests/test_list.c"

# --test-files over the task's (a glob that protects nothing, then the file)
episode cli '{"id": "cli", "instruction": "Make the tests pass.", "testFiles": ["nothing/"]}'
check_json_eq "a task's testFiles that miss the file: R_outcome 1, nothing reset" \
	'[b["rewards"]["episode"]["terms"]["outcome"], b["tests"]["testFilesReset"]]' '[1,[]]'
episode cli2 '{"id": "cli2", "instruction": "Make the tests pass.", "testFiles": ["nothing/"]}' \
	--test-files 'tests/*.c'
check_json_eq "--test-files replaces the task's: R_outcome 0, the file reset" \
	'[b["rewards"]["episode"]["terms"]["outcome"], b["tests"]["testFilesReset"]]' '[0,["tests/test_list.c"]]'
episode cli3 '{"id": "cli3", "instruction": "Make the tests pass.", "testFiles": ["tests/"]}' \
	--test-files ''
check_eq "--test-files '': usage, exit 129" 129 "$RC"

# a .lanser.json list is replaced by the task's [] (protects nothing)
printf '{"testFiles": ["tests/"]}\n' >"$C/.lanser.json"
$GIT -C "$C" add .lanser.json && $GIT -C "$C" commit -qm "protect the tests" || exit 1
episode cfg '{"id": "cfg", "instruction": "Make the tests pass."}'
check_json_eq "the base's .lanser.json testFiles: R_outcome 0" \
	'b["rewards"]["episode"]["terms"]["outcome"]' 0
episode empty '{"id": "empty", "instruction": "Make the tests pass.", "testFiles": []}'
check_json_eq "a task's testFiles [] replaces the configuration's: R_outcome 1" \
	'b["rewards"]["episode"]["terms"]["outcome"]' 1
$GIT -C "$C" reset -q --hard HEAD~1 || exit 1

# rollouts: testFiles in a --tasks line reach the episodes
start_agent_fake "$TMP/weaken.json" || fail "rollouts: the fake model server started" "no port"
printf '{"id": "open", "instruction": "Make the tests pass."}\n{"id": "shut", "instruction": "Make the tests pass.", "testFiles": ["tests/test_list.c"]}\n' \
	>"$TMP/tasks.jsonl"
run "$L" --root "$C" agent --tasks "$TMP/tasks.jsonl" --samples 1 --jobs 2 \
	--model-url "$FAKE_URL" --model fake --out "$TMP/roll.jsonl"
check_eq "rollouts: exit 0" 0 "$RC"
[ "$RC" = 0 ] || echo "# stderr: $(_clip "$ERR")"
check_json_eq "rollouts: the task without testFiles scores R_outcome 1, the one with them 0" \
	'sorted([r["group"], r["rewards"]["episode"]["terms"]["outcome"], r["tests"].get("testFilesReset")] for r in b)' \
	'[["open",1,null],["shut",0,["tests/test_list.c"]]]' \
	"$("$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()]))' "$TMP/roll.jsonl")"

# rollouts: --test-files reaches every worker, over the task's list
start_agent_fake "$TMP/weaken.json" || fail "rollouts --test-files: the fake model server started" "no port"
run "$L" --root "$C" agent --tasks "$TMP/tasks.jsonl" --samples 1 --jobs 2 --test-files tests/ \
	--model-url "$FAKE_URL" --model fake --out "$TMP/roll2.jsonl"
check_eq "rollouts --test-files: exit 0" 0 "$RC"
check_json_eq "rollouts --test-files tests/: both tasks' episodes score R_outcome 0, the file reset" \
	'sorted([r["group"], r["rewards"]["episode"]["terms"]["outcome"], r["tests"].get("testFilesReset")] for r in b)' \
	'[["open",0,["tests/test_list.c"]],["shut",0,["tests/test_list.c"]]]' \
	"$("$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()]))' "$TMP/roll2.jsonl")"

# bounds: the member is checked as a test task's
bad() { # NAME TESTFILES-JSON TEXT
	printf '{"instruction": "x", "testFiles": %s}\n' "$2" >"$TMP/bad.json"
	run "$L" --root "$C" agent --task "$TMP/bad.json" --model-url http://127.0.0.1:9/v1 --model fake
	check_eq "bounds: $1: exit 78" 78 "$RC"
	check_contains "bounds: $1: named" "$ERR" "$3"
}
bad "not an array" '"tests/"' '"testFiles" must be an array of at most 256 globs'
bad "an empty glob" '["tests/", ""]' '"testFiles"[1] must be a non-empty glob'
bad "a number" '[1]' '"testFiles"[0] must be a non-empty glob'
bad "257 globs" "$("$PY" -c 'import json; print(json.dumps(["g%d" % i for i in range(257)]))')" \
	'at most 256 globs'
bad "a 4097-byte glob" "[\"$(head -c 4097 /dev/zero | tr '\0' a)\"]" 'at most 4096 bytes'
check_eq "the user's tree is untouched" "" "$(git -C "$C" status --porcelain)"
