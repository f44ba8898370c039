#!/usr/bin/env bash
# Namespaces refused (a chroot, a container without user namespaces;
# simulated with LANSER_SANDBOX_SIMULATE_REFUSAL=1, a seccomp filter that
# makes the kernel refuse them to bwrap for real): eval and group fail
# closed with exit 83 and a message naming --no-isolation, and run with
# --no-isolation given on the command line (issue 14, item 3): eval exits
# 83, group scores no candidate (each unscorable, naming the sandbox) and
# exits 0 as group does for unscorable members. `lanser test` under the same
# refusal (exit 83, the message naming --no-isolation) is in t_test.sh.
. "$(dirname "$0")/lib.sh"

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture cproj)
(cd "$C" && $GIT add -A && $GIT commit -qm base) || exit 1
(cd "$C" && sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >"$TMP/good.diff" &&
	git checkout -q -- .)
cd "$TMP" || exit 1

LANSER_SANDBOX_SIMULATE_REFUSAL=1 run "$L" --root "$C" eval --patch "$TMP/good.diff"
check_eq "refused: eval fails closed (exit 83)" 83 "$RC"
check_contains "refused: eval names the cause" "$ERR" "the sandbox is unavailable"
check_contains "refused: eval's message is whole: it ends with the way out" "$ERR" "pass --no-isolation on the command line"
check_not_contains "refused: eval ran nothing" "$ERR" "TESTS RAN"
check_not_contains "refused: eval is no chdir failure" "$ERR" "Permission denied"
LANSER_SANDBOX_SIMULATE_REFUSAL=1 run "$L" --root "$C" --no-isolation eval --patch "$TMP/good.diff"
check_eq "refused, --no-isolation: eval accepts the good patch (exit 0)" 0 "$RC"
check_contains "refused, --no-isolation: eval's tests ran" "$OUT" "tests: passed (6 passed"
check_contains "refused, --no-isolation: said on stderr" "$ERR" "--no-isolation"

LANSER_SANDBOX_SIMULATE_REFUSAL=1 run "$L" --root "$C" --json group "$TMP/good.diff"
check_json_eq "refused: group scores nothing (the candidate unscorable, no reward)" \
	'[b["candidates"][0]["scorable"], b["candidates"][0]["reward"]]' '[false,null]'
check_contains "refused: group's candidate names the sandbox" "$(json 'b["candidates"][0]["reason"]')" \
	"the sandbox is unavailable"
LANSER_SANDBOX_SIMULATE_REFUSAL=1 run "$L" --root "$C" --json --no-isolation group "$TMP/good.diff"
check_eq "refused, --no-isolation: group scores the candidate" "0 true" \
	"$RC $(json 'b["candidates"][0]["reward"] is not None and b["candidates"][0]["reward"] > 0')"
