#!/usr/bin/env bash
# Runs every suite of `make test`: one line per suite, then one closing line
#   total: N passed, N failed, N skipped
# Each suite's full output is in tests/tmp/SUITE.log; a failing suite also
# prints its FAIL lines. A skipped check names its reason in that log (and is
# never counted as passed). The whole run is meant to take about 10
# minutes on two idle cores; the sanitizer pass over the rest of the integration scripts is in
# `make test-long` (Makefile, ASAN_LONG_IT).
set -uo pipefail
cd "$(dirname "$0")/.."
export LANSER_REPO_ROOT="$PWD"
pass=0; fail=0; skipped=0
tally() { # parse "N passed, N failed[, N skipped]" from the last matching line of a log
	local line
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	if [ -z "$line" ]; then fail=$((fail+1)); echo "$2: printed no summary (log: $1)"; return 1; fi
	local p f s
	p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
	f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
	s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+')
	pass=$((pass+p)); fail=$((fail+f)); skipped=$((skipped+${s:-0}))
	S_LINE="$p passed, $f failed, ${s:-0} skipped"
}
mkdir -p tests/tmp
run_suite() { # name, command...
	local name=$1; shift
	local log="tests/tmp/$name.log" start=$SECONDS
	"$@" >"$log" 2>&1
	local rc=$?
	S_LINE=
	tally "$log" "$name" || return
	echo "$name: $S_LINE ($((SECONDS - start)) s)"
	if [ "$rc" != 0 ] && ! grep -qE '[1-9][0-9]* failed' "$log"; then
		echo "$name: exited $rc (log: $log)"; fail=$((fail+1))
	fi
	if grep -qE '^(FAIL|not ok|FAILED)' "$log"; then
		grep -E '^(FAIL|not ok|FAILED)' "$log" | head -20 | sed 's/^/  /'
		echo "  (log: $log)"
	fi
}
run_suite unit ./tests/unit/run
run_suite layers bash tests/layers/run.sh
run_suite fuzz-selector make --no-print-directory fuzz-smoke
run_suite fuzz-trace make --no-print-directory fuzz-trace-smoke
run_suite fuzz-outcome make --no-print-directory fuzz-outcome-smoke
run_suite fuzz-patch make --no-print-directory fuzz-patch-smoke
run_suite fuzz-llm make --no-print-directory fuzz-llm-smoke
run_suite fuzz-gitcfg make --no-print-directory fuzz-gitcfg-smoke
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run_suite unit-asan ./tests/unit/run-asan
# The fake server misbehaves exactly as the fault tests assume.
run_suite fakels /usr/bin/python3 tests/fakels/smoke.py
run_suite integration bash tests/integration/run.sh
# The scripts that exercise the most C paths on untrusted input, again
# against the sanitizer build: faults, bad input, traces, rewards, patches,
# the jail and hostile tests, read/search/edit (t_tools), the TypeScript and
# JavaScript outline (t_tsgrammar), the MCP protocol's abuse (t_mcp_proto),
# the model client against the scripted model server (t_llm runs
# tests/unit/run-asan's driver) and the agent loop on bad model output
# (t_agent_bad). The rest of the sanitizer pass (clangd, the daemon, test
# runs, worktrees, the unprivileged and escape suites, the kill harness,
# trust, the reward server, the MCP SDK sessions) runs in `make test-long`.
LANSER_BIN="$PWD/lanser-asan" ASAN_OPTIONS=detect_leaks=1:exitcode=99 \
	run_suite integration-asan bash tests/integration/run.sh \
	tests/integration/t_faults.sh tests/integration/t_badinput.sh \
	tests/integration/t_sandbox_hostile.sh tests/integration/t_jail.sh tests/integration/t_edit_patch.sh \
	tests/integration/t_trace.sh tests/integration/t_reward.sh tests/integration/t_tools.sh \
	tests/integration/t_llm.sh tests/integration/t_mcp_proto.sh tests/integration/t_agent_bad.sh \
	tests/integration/t_tsgrammar.sh
echo "total: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
