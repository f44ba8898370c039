#!/usr/bin/env bash
# bench/agent.sh [--write] - the agent loop's own cost (issue 15):
#
#   per step   an episode of N+1 `def` calls against the scripted model server
#              (tests/model/fake_openai.py on 127.0.0.1: its answer takes well
#              under a millisecond) minus an episode of one call (the
#              servers' start), divided by N: lanser's time per
#              tool call, model excluded; against the same N queries as
#              separate CLI calls (`lanser --json def`, warm daemon) and cold
#              (`lanser --no-daemon --json def`).
#   rollouts   `lanser agent --tasks (1 task) --samples 8 --jobs 2` on the C
#              fixture, each sample an edit and finish (diagnostics of the
#              step, the tests, the rewards): rollouts per minute.
# Medians of BENCH_AGENT_N rounds (default 3). Prints a markdown section;
# --write replaces the "Agent loop" section of bench/RESULTS.md (between its
# markers).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
N=${BENCH_AGENT_N:-3}
CALLS=${BENCH_AGENT_CALLS:-20}
bench_write_flag "${1:-}"

bench_scratch agent
FAKE=
cleanup() { if [ -n "$FAKE" ]; then kill "$FAKE" 2>/dev/null || true; fi; "$L" --root "$W/cproj" daemon stop >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
R=$W/cproj
bench_cproj "$R"

now() { date +%s.%N; }
# fake SCRIPT: starts the scripted server; FAKE_URL
fake() {
	if [ -n "$FAKE" ]; then kill "$FAKE" 2>/dev/null || true; fi
	rm -f "$W/port"
	setsid /usr/bin/python3 "$ROOT/tests/model/fake_openai.py" --script "$1" --port-file "$W/port" \
		</dev/null >"$W/fake.out" 2>&1 &
	FAKE=$!
	for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
	FAKE_URL=http://127.0.0.1:$(cat "$W/port")/v1
}
/usr/bin/python3 - "$W" "$CALLS" <<'EOF'
import json, sys
w, n = sys.argv[1], int(sys.argv[2])
call = lambda i: {"id": "d%d" % i, "name": "def", "arguments": {"args": ["src/main.c@L14:C2"]}}
fin = {"id": "f", "name": "finish", "arguments": {"summary": "-"}}
json.dump({"turns": [{"reply": {"tool_calls": [call(i) for i in range(n + 1)] + [fin]}}]}, open(w + "/calls.json", "w"))
json.dump({"turns": [{"reply": {"tool_calls": [call(0), fin]}}]}, open(w + "/one.json", "w"))
json.dump({"turns": [{"reply": {"tool_calls": [fin]}}]}, open(w + "/none.json", "w"))
json.dump({"turns": [{"reply": {"tool_calls": [{"id": "e", "name": "edit", "arguments": {"args": ["c://src/util.c#max_int:body"], "text": "{\n\treturn b < a ? a : b;\n}"}}, fin]}, "repeat": 8}]}, open(w + "/roll.json", "w"))
EOF
printf '{"id": "b", "instruction": "bench", "budgets": {"steps": %d}}\n' $((CALLS + 5)) >"$W/task.json"
printf '{"id": "b", "instruction": "bench"}\n' >"$W/tasks.jsonl"

# episode SCRIPT : one episode; its seconds in $SECS, its result in $W/ep.json
# (not in a command substitution: the fake server's pid must stay known here)
episode() {
	local t0 t1
	fake "$W/$1"
	t0=$(now)
	"$L" --root "$R" --json agent --task "$W/task.json" --model-url "$FAKE_URL" >"$W/ep.json" 2>/dev/null
	t1=$(now)
	SECS=$(echo "$t1 - $t0" | bc -l)
}
# the median of the steps' own time ("ms") after the first call (warm servers)
step_med() {
	/usr/bin/python3 -c 'import json,sys,statistics; s=json.load(open(sys.argv[1]))["steps"]; print(statistics.median([x["ms"] for x in s if x["tool"] == "def"][1:]))' "$W/ep.json"
}
clis() { # ARGS... -> seconds for CALLS runs
	local t0 t1 i
	t0=$(now)
	for i in $(seq "$CALLS"); do "$L" --root "$R" --json "$@" def src/main.c@L14:C2 >/dev/null 2>&1; done
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}
"$L" --root "$R" daemon start --wait-ready >/dev/null 2>&1 || true
E_N=(); E_1=(); E_0=(); C_W=(); C_C=(); RO=(); S_M=()
for r in $(seq "$N"); do
	episode calls.json
	E_N+=("$SECS")
	S_M+=("$(step_med)")
	episode one.json
	E_1+=("$SECS")
	episode none.json
	E_0+=("$SECS")
	C_W+=("$(clis)")
	C_C+=("$(clis --no-daemon)")
	fake "$W/roll.json"
	t0=$(now)
	"$L" --root "$R" agent --tasks "$W/tasks.jsonl" --samples 8 --jobs 2 --out "$W/roll.jsonl" \
		--model-url "$FAKE_URL" >/dev/null 2>&1
	t1=$(now)
	RO+=("$(echo "$t1 - $t0" | bc -l)")
	ok=$(grep -c '"stop":"finish"' "$W/roll.jsonl" || true)
	[ "$ok" = 8 ] || echo "warning: round $r: $ok of 8 rollouts finished" >&2
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
en=$(med "${E_N[@]}"); e1=$(med "${E_1[@]}"); e0=$(med "${E_0[@]}"); cw=$(med "${C_W[@]}"); cc=$(med "${C_C[@]}"); ro=$(med "${RO[@]}")
step_ms=$(med "${S_M[@]}")
loop_ms=$(echo "($en - $e1) * 1000 / $CALLS" | bc -l)
first_ms=$(echo "($e1 - $e0) * 1000" | bc -l)
warm_ms=$(echo "$cw * 1000 / $CALLS" | bc -l)
cold_ms=$(echo "$cc * 1000 / $CALLS" | bc -l)
per_min=$(echo "8 * 60 / $ro" | bc -l)
report=$(cat <<EOF
<!-- agent: bench/agent.sh -->
## Agent loop

\`bash bench/agent.sh --write\` on $(date -u '+%Y-%m-%d %H:%M UTC'), medians of $N rounds, $CALLS tool calls per episode; the model is tests/model/fake_openai.py on 127.0.0.1 (scripted: its own time is negligible). Load average at start: $(bench_load).

| what | time | ratio |
|---|--:|--:|
| one \`def\` tool call inside an episode, servers warm (lanser's own time per step, measured around the call: median of the result's \`steps[].ms\`, first call left out) | $(printf '%.2f' "$step_ms") ms | 1 |
| the same, from outside: (episode of $((CALLS + 1)) calls − episode of 1) / $CALLS (noisy: the first call's index wait varies) | $(printf '%.2f' "$loop_ms") ms | |
| the episode's first \`def\` (its worktree's clangd starts and indexes: episode of 1 call − episode of none) | $(printf '%.0f' "$first_ms") ms | |
| the same query as a separate CLI call, warm daemon (\`lanser --json def\`) | $(printf '%.2f' "$warm_ms") ms | $(printf '%.1f' "$(echo "$warm_ms / $step_ms" | bc -l)")x |
| the same query as a separate cold CLI call (\`lanser --no-daemon --json def\`) | $(printf '%.1f' "$cold_ms") ms | $(printf '%.0f' "$(echo "$cold_ms / $step_ms" | bc -l)")x |
| an episode's fixed cost (worktree, engine and tool servers, final diff, tests, rewards; no call) | $(printf '%.2f' "$e0") s | |
| rollouts, K=8 samples of one task, 2 at a time (each: an edit scored by the engine, the tests, the episode reward) | $(printf '%.1f' "$ro") s | $(printf '%.1f' "$per_min") rollouts/min |
<!-- /agent -->
EOF
)
printf '%s\n' "$report"
if [ "$WRITE" = 1 ]; then
	bench_write_section agent "$report"
fi
