#!/usr/bin/env bash
# The interactive session (`lanser agent` without a task, docs/agent.md)
# driven through a real pseudo-terminal: tmux on a socket of its own runs
# the real ./lanser against the scripted model server (tests/model/fake.sh,
# real HTTP on 127.0.0.1) on the C fixture with real clangd. A request whose
# edit is previewed and declined, then confirmed; the running reward; /diff;
# /apply into the user's tree; /undo (the worktree's file back to its
# bytes); Ctrl-C during a slow streamed reply with the session alive after
# it; Ctrl-C during a slow test call (the request ends as cancelled, the
# model is not asked again); /exit with the final summary and episode reward.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
need_lanser

if ! command -v tmux >/dev/null 2>&1; then
	skip "agent tty" "tmux is not installed (Debian package tmux): no pseudo-terminal driver"
	exit 0
fi
SOCK=lanser-tty-$$
trap 'tmux -L "$SOCK" kill-server >/dev/null 2>&1; stop_fake; _lib_cleanup' EXIT

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture cproj)
SLOW="lanser-tty-slow-$$"
printf '{"schema": "lanser.task/1", "test": ["/bin/sh", "-c", "sleep 60; echo %s"]}\n' "$SLOW" >"$C/slow.json"
(cd "$C" && $GIT add -A && $GIT commit -qm base) || exit 1
git -C "$C" show HEAD:src/util.c >"$TMP/util.base.c"

"$PY" - "$TMP/tty.json" <<'EOF'
import json, sys
edit = {"args": ["c://src/util.c#max_int:body"], "text": "{\n\treturn b < a ? a : b;\n}"}
clamp = {"args": ["c://src/util.c#clamp_int:body"],
         "text": "{\n\tif (v < lo)\n\t\treturn lo;\n\treturn v > hi ? hi : v;\n}"}
turns = [
    # request 1: an edit the user declines, the same edit confirmed, a
    # second edit confirmed, an answer
    {"reply": {"content": "I will edit max_int.", "tool_calls": [{"id": "e1", "name": "edit", "arguments": edit}]}},
    {"reply": {"content": "Trying again.", "tool_calls": [{"id": "e2", "name": "edit", "arguments": edit}]}},
    {"reply": {"tool_calls": [{"id": "e3", "name": "edit", "arguments": clamp}]}},
    {"reply": {"content": "max_int now compares with <."}},
    # request 2: a slow streamed reply (about 60 s), cancelled with Ctrl-C
    {"reply": {"content": "once upon a time " + "and then " * 150}, "chunk_size": 3, "chunk_delay_ms": 100},
    # request 3: the session is still alive; a test run, shown as counts
    {"reply": {"content": "Checking.", "tool_calls": [{"id": "t1", "name": "test", "arguments": {}}]}},
    {"reply": {"content": "still here, all good."}},
    # request 4: a slow test run (60 s), cancelled with Ctrl-C while it runs
    {"reply": {"content": "Running the slow tests.", "tool_calls": [{"id": "t2", "name": "test", "arguments": {"task": "slow.json"}}]}},
    {"reply": {"content": "MODEL-WENT-ON after the cancelled tests."}},
]
json.dump({"turns": turns}, open(sys.argv[1], "w"))
EOF
start_agent_fake "$TMP/tty.json" || { fail "the fake model server starts" "no port"; exit 1; }

# pane: the whole screen, wrapped lines joined
pane() { tmux -L "$SOCK" capture-pane -p -J -S - -t s 2>/dev/null; }
# wait_for TEXT SECONDS: until the pane shows TEXT (0) or the time is up (1)
wait_for() {
	local i
	for i in $(seq 1 $(($2 * 5))); do
		pane | grep -qF -- "$1" && return 0
		sleep 0.2
	done
	return 1
}
# count TEXT: how many lines of the pane hold TEXT
count() { pane | grep -cF -- "$1"; }
keys() { tmux -L "$SOCK" send-keys -t s "$@"; }

tmux -L "$SOCK" -f /dev/null new-session -d -s s -x 250 -y 50 \
	"cd '$C' && '$L' --root '$C' --trace '$TMP/tty.trace.jsonl' agent --model-url '$FAKE_URL' --model fake 2>'$TMP/stderr'; echo LANSER-EXIT=\$?; sleep 3600" ||
	{ fail "tmux starts a session" "tmux new-session failed"; exit 1; }
tmux -L "$SOCK" set-option -t s history-limit 20000 >/dev/null

if wait_for "lanser> " 60; then ok "the session starts and prompts"; else
	fail "the session starts and prompts" "$(pane | tail -5) $(cat "$TMP/stderr")"; exit 1; fi
WT=$(pane | sed -n 's/.*Edits land in a private worktree (\([^)]*\)).*/\1/p' | head -1)
check_contains "the banner names the private worktree (in the state folder, not the tree)" "$WT" "$XDG_RUNTIME_DIR"

keys "make max_int use <" Enter
wait_for "apply this edit? [y/n]" 60 || fail "the edit is previewed with a confirm prompt" "$(pane | tail -8)"
check_contains "the model's streamed text is shown" "$(pane)" "I will edit max_int."
check_contains "the tool call is shown with its arguments" "$(pane)" '] edit {"args": ["c://src/util.c#max_int:body"]'
# (tmux shows a tab as spaces)
check_eq "the preview is the edit's diff" 1 "$(pane | grep -cE '^\+[[:space:]]+return b < a \? a : b;')"
check_not_contains "... without the model's note on how to apply it" "$(pane)" "preview only: nothing written"
check_eq "declining: nothing is written to the worktree" "" "$(cmp "$TMP/util.base.c" "$WT/src/util.c" 2>&1)"
keys "n" Enter
wait_for "Trying again." 60
if [ "$(count "apply this edit? [y/n]")" = 2 ]; then ok "the model's second try is previewed again"; else
	fail "the model's second try is previewed again" "$(pane | tail -8)"; fi
check_contains "the model was told the user declined" \
	"$(fake_request 2 'b["body"]["messages"][-1]["content"]')" "the user declined this edit"
keys "y" Enter
for i in $(seq 1 300); do [ "$(count "apply this edit? [y/n]")" = 3 ] && break; sleep 0.2; done
check_eq "the second edit is previewed" 3 "$(count "apply this edit? [y/n]")"
cp "$WT/src/util.c" "$TMP/util.after1.c"
check_contains "... while the worktree has the first" "$(cat "$TMP/util.after1.c")" "return b < a ? a : b;"
keys "y" Enter
if wait_for "max_int now compares with <." 90 && wait_for "lanser> " 10; then
	ok "the confirmed edit ran and the model answered"; else
	fail "the confirmed edit ran and the model answered" "$(pane | tail -8)"; fi
check_contains "the running reward after each mutating step" "$(pane)" "running: 1 scored step, sum 0.4,"
check_contains "... and after the second" "$(pane)" "running: 2 scored steps, sum 0.8,"
check_contains "the step's reward and terms are shown" "$(pane)" "reward 0.4 (D 0 -> 0, S 1"
check_contains "the worktree has both edits" "$(cat "$WT/src/util.c")" "return v > hi ? hi : v;"
check_eq "the user's tree is untouched so far" "" "$(git -C "$C" status --porcelain)"

keys "/diff" Enter
wait_for "+++ b/src/util.c" 20 && ok "/diff shows the session's change" || fail "/diff shows the session's change" "$(pane | tail -8)"
# your uncommitted work is never run over: a dirty tree is refused
printf '/* mine */\n' >>"$C/src/main.c"
keys "/apply" Enter
if wait_for "(exit 81)" 30; then ok "/apply refuses a tree with uncommitted changes (81)"; else
	fail "/apply refuses a tree with uncommitted changes (81)" "$(pane | tail -5)"; fi
check_eq "... and writes nothing" " M src/main.c" "$(git -C "$C" status --porcelain)"
git -C "$C" checkout -q -- src/main.c
keys "/apply" Enter
if wait_for "applied to $C: src/util.c" 30; then ok "/apply writes the change into the user's tree"; else
	fail "/apply writes the change into the user's tree" "$(pane | tail -5)"; fi
check_contains "... the user's file has it" "$(cat "$C/src/util.c")" "return b < a ? a : b;"
git -C "$C" checkout -q -- src/util.c

keys "/undo" Enter
if wait_for "undid step 3: the worktree is as it was before it" 60; then ok "/undo reports the step it rolled back"; else
	fail "/undo reports the step it rolled back" "$(pane | tail -5)"; fi
check_eq "/undo: the worktree's file is back to its bytes after the first edit" "" "$(cmp "$TMP/util.after1.c" "$WT/src/util.c" 2>&1)"
keys "/undo" Enter
if wait_for "undid step 2: the worktree is as it was before it" 60; then ok "a second /undo rolls back the step before"; else
	fail "a second /undo rolls back the step before" "$(pane | tail -5)"; fi
check_eq "... the worktree's file is back to the base's bytes" "" "$(cmp "$TMP/util.base.c" "$WT/src/util.c" 2>&1)"
keys "/undo" Enter
wait_for "nothing to undo" 20 && ok "a third /undo: nothing to undo" || fail "a third /undo: nothing to undo" "$(pane | tail -5)"

keys "tell me a long story" Enter
if wait_for "once upon a time" 60; then ok "a slow reply streams"; else fail "a slow reply streams" "$(pane | tail -5)"; fi
sleep 1
keys C-c
if wait_for "(cancelled; the session goes on)" 20; then ok "Ctrl-C cancels the step"; else
	fail "Ctrl-C cancels the step" "$(pane | tail -5)"; fi
check_eq "... long before the reply would have ended (about 60 s of chunks)" 0 "$(count "and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then and then")"

keys "are you there?" Enter
if wait_for "still here, all good." 60; then ok "after Ctrl-C the session is alive and answers"; else
	fail "after Ctrl-C the session is alive and answers" "$(pane | tail -5)"; fi
check_eq "a test call's result reads as the tests' status and counts, not the outcome record" 1 \
	"$(pane | grep -cE '\] +ok: tests passed: [0-9]+ passed, 0 failed, [0-9]+ skipped')"
check_not_contains "... (the record the model gets is not printed)" "$(pane)" '"outcomeFrom"'
check_json_eq "the model got the request after the cancelled one, the cancelled one unanswered" \
	'[m["content"] for m in b["body"]["messages"] if m["role"] == "user"][-2:]' \
	'["tell me a long story","are you there?"]' "$(sed -n 6p "$FAKE_LOG")"

# Ctrl-C during a test call: the run is stopped (its processes killed) and
# the request ends as cancelled; the model is not asked again
keys "run the slow tests" Enter
for _ in $(seq 1 300); do pgrep -f "$SLOW" >/dev/null && break; sleep 0.2; done
if pgrep -f "$SLOW" >/dev/null; then ok "a slow test call runs"; else fail "a slow test call runs" "$(pane | tail -5)"; fi
NREQ=$(wc -l <"$FAKE_LOG")
T0=$SECONDS
keys C-c
for _ in $(seq 1 100); do [ "$(count "(cancelled; the session goes on)")" = 2 ] && break; sleep 0.2; done
check_eq "Ctrl-C during a test call cancels the request" 2 "$(count "(cancelled; the session goes on)")"
check_eq "... at once, not after the run's 60 s" 1 "$([ $((SECONDS - T0)) -lt 30 ] && echo 1 || echo 0)"
check_contains "... the call shows as cancelled" "$(pane)" "CANCELLED: cancelled during the tests"
sleep 1
check_eq "... the model is not asked again after it" "$NREQ" "$(wc -l <"$FAKE_LOG")"
check_eq "... nothing of the run is left" "" "$(pgrep -af "$SLOW")"

keys "/exit" Enter
if wait_for "LANSER-EXIT=" 240; then ok "/exit ends the session"; else fail "/exit ends the session" "$(pane | tail -8)"; fi
check_contains "exit status 0" "$(pane)" "LANSER-EXIT=0"
check_contains "the final summary: stopped by exit" "$(pane)" "agent: session, stopped by exit"
check_contains "... the episode reward" "$(pane)" "episode reward (p-grpo):"
check_contains "... the undone edit left no change" "$(pane)" "no change"
check_eq "the model was asked 7 times (the reply after the cancelled tests never asked for)" 1 "$(fake_state .left)"
check_eq "the user's tree is untouched at the end" "" "$(git -C "$C" status --porcelain)"
[ -d "$WT" ] && fail "the session's worktree is removed" "$WT" || ok "the session's worktree is removed"

# the session's trace: exported as one row (the undone step's reward left
# out), and not replayed (the person's answers are not recorded)
run "$L" trace export --format trl "$TMP/tty.trace.jsonl"
check_json_eq "trace export: one row for the session, no step reward (both edits were undone)" \
	'[b["group"], b["id"], b["step_rewards"], [m["role"] for m in b["prompt"]]]' \
	'["session","session",[],["system","user"]]'
check_json_eq "trace export: the conversation holds the later requests" \
	'[m["content"] for m in b["completion"] if m["role"] == "user"][-3:]' \
	'["tell me a long story","are you there?","run the slow tests"]'
run "$L" trace replay --verify "$TMP/tty.trace.jsonl"
check_eq "trace replay of a session: 72 (unsupported), not a mismatch" 72 "$RC"
check_contains "... saying why" "$ERR" "interactive agent session is not replayed"
