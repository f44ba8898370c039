#!/usr/bin/env bash
# Runs tests/integration/t_*.sh (or the scripts given as arguments).
# LANSER_BIN=path runs them against another build (e.g. ./lanser-asan). Each script drives ./lanser the way a user
# would and reports through tests/integration/lib.sh (ok/fail lines).
set -uo pipefail
cd "$(dirname "$0")/../.."
export LANSER_REPO_ROOT="$PWD"
pass=0; fail=0; skipped=0
if [ $# -gt 0 ]; then tests=("$@"); else tests=(tests/integration/t_*.sh); fi
for t in "${tests[@]}"; do
	[ -e "$t" ] || continue
	out=$(mktemp)
	timeout 600 bash "$t" > "$out" 2>&1
	rc=$?
	cat "$out"
	p=$(grep -c '^ok ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^skip ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $t exited $rc"; f=1
	fi
	pass=$((pass+p)); fail=$((fail+f)); skipped=$((skipped+s))
	rm -f "$out"
done
echo "integration: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
