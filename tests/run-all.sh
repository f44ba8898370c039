#!/usr/bin/env bash
# Runs every suite of `make test` and prints one closing line for CI:
#   total: N passed, N failed, N skipped
# (a skipped check names its reason in its suite's log: never counted as passed)
set -uo pipefail
cd "$(dirname "$0")/.."
export LANSER_REPO_ROOT="$PWD"
pass=0; fail=0; skipped=0
tally() { # parse "N passed, N failed" from the last matching line of a log
	local line
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	if [ -z "$line" ]; then fail=$((fail+1)); echo "suite $2 printed no summary"; return; fi
	local p f
	p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
	f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
	pass=$((pass+p)); fail=$((fail+f))
	local s
	s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+')
	skipped=$((skipped+${s:-0}))
}
mkdir -p tests/tmp
run_suite() { # name, command...
	local name=$1; shift
	echo "=== $name"
	"$@" 2>&1 | tee "tests/tmp/$name.log"
	local rc=${PIPESTATUS[0]}
	tally "tests/tmp/$name.log" "$name"
	if [ "$rc" != 0 ] && ! grep -qE '[1-9][0-9]* failed' "tests/tmp/$name.log"; then
		echo "suite $name exited $rc"; fail=$((fail+1))
	fi
}
run_suite unit ./tests/unit/run
run_suite layers bash tests/layers/run.sh
run_suite fuzz-selector make --no-print-directory fuzz-smoke
run_suite fuzz-trace make --no-print-directory fuzz-trace-smoke
run_suite fuzz-outcome make --no-print-directory fuzz-outcome-smoke
run_suite fuzz-patch make --no-print-directory fuzz-patch-smoke
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run_suite unit-asan ./tests/unit/run-asan
# The fake server misbehaves exactly as the fault tests assume.
run_suite fakels /usr/bin/python3 tests/fakels/smoke.py
run_suite integration bash tests/integration/run.sh
# The fault and bad-input suites again, against the sanitizer build.
LANSER_BIN="$PWD/lanser-asan" ASAN_OPTIONS=detect_leaks=1:exitcode=99 \
	run_suite integration-asan bash tests/integration/run.sh \
	tests/integration/t_faults.sh tests/integration/t_badinput.sh tests/integration/t_clangd.sh \
	tests/integration/t_daemon.sh \
	tests/integration/t_test.sh tests/integration/t_worktree.sh tests/integration/t_sandbox_hostile.sh \
	tests/integration/t_sandbox_unpriv.sh tests/integration/t_escape.sh \
	tests/integration/t_jail.sh tests/integration/t_edit_patch.sh tests/integration/t_kill.sh \
	tests/integration/t_trace.sh tests/integration/t_reward.sh tests/integration/t_trust.sh
echo "total: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
