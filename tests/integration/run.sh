#!/usr/bin/env bash
# Runs tests/integration/t_*.sh (or the scripts given as arguments).
# LANSER_BIN=path runs them against another build (e.g. ./lanser-asan). Each script drives ./lanser the way a user
# would and reports through tests/integration/lib.sh (ok/fail lines).
set -uo pipefail
cd "$(dirname "$0")/../.."
export LANSER_REPO_ROOT="$PWD"
pass=0; fail=0; skipped=0
# One reachable copy of the build for the scripts that run lanser as an
# unprivileged uid (tests/integration/lib.sh fills it only when the
# checkout cannot be entered by other users, e.g. a clone in /root).
if [ "$(id -u)" = 0 ] && [ -z "${LANSER_REACHABLE_DIR:-}" ]; then
	LANSER_REACHABLE_DIR=$(mktemp -d /tmp/lanser-reach.XXXXXX) && export LANSER_REACHABLE_DIR &&
		trap 'rm -rf "$LANSER_REACHABLE_DIR"' EXIT
fi
if [ $# -gt 0 ]; then tests=("$@"); else tests=(tests/integration/t_*.sh); fi
for t in "${tests[@]}"; do
	[ -e "$t" ] || continue
	out=$(mktemp)
	start=$SECONDS
	timeout 600 bash "$t" > "$out" 2>&1
	rc=$?
	cat "$out"
	echo "# $t: $((SECONDS - start)) s"
	p=$(grep -c '^ok ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^skip ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $t exited $rc"; f=1
	fi
	pass=$((pass+p)); fail=$((fail+f)); skipped=$((skipped+s))
	rm -f "$out"
done
echo "integration: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
