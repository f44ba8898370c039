#!/usr/bin/env bash
# lanser run by an unprivileged user (CI runs as root; developers do not):
# bubblewrap runs as the caller's own uid (uid 1000 inside the box), there
# is no idmapped mount and no cgroup, and the limits still hold.
# tests/integration/t_escape.sh has the attacks as such a user.
. "$(dirname "$0")/lib.sh"

# As root the checks switch to uid 65534 with setpriv; as an ordinary user
# they run as that user.
if [ "$(id -u)" = 0 ]; then
	if ! command -v setpriv >/dev/null; then
		skip "t_sandbox_unpriv" "needs setpriv to switch from root to an unprivileged user"
		exit 0
	fi
	NOBODY=65534
else
	NOBODY=$(id -u)
fi
# never run from the repository lanser is built in
cd "$TMP" || exit 1
MARK=umark$$x$RANDOM
U=$TMP/u
mkdir -p "$U/run"
chmod 700 "$U/run"
cp -R "$FIXTURES/hostile" "$U/w"
cp -R "$FIXTURES/cproj" "$U/c"
chmod 755 "$TMP"
if [ "$(id -u)" = 0 ]; then
	chown -R $NOBODY:$NOBODY "$U"
	AS_NOBODY=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups env XDG_RUNTIME_DIR="$U/run" HOME="$U")
else
	AS_NOBODY=(env XDG_RUNTIME_DIR="$U/run" HOME="$U")
fi
# The box needs user namespaces for this uid: a kernel or container that
# refuses them makes lanser fail closed (exit 83, t_test covers that), and
# then nothing here can be checked.
run_reaped 120 "${AS_NOBODY[@]}" "$L" --root "$U/c" --json test
if [ "$RC" = 83 ]; then
	skip "t_sandbox_unpriv" "the sandbox cannot be built for uid $NOBODY here (exit 83: $(head -c 300 <<<"$ERR"))"
	exit 0
fi

config() {
	cat >"$U/w/.lanser.json" <<EOF
{"test": ["$2", "$1"],
 "limits": {"wallMs": 3000, "cpuSeconds": 1, "memoryMiB": 128, "processes": 64},
 "env": {"HOSTILE_MARK": "$MARK", "HOSTILE_PORT": "${3:-1}", "HOSTILE_OUTSIDE": "$U"}}
EOF
	chown $NOBODY:$NOBODY "$U/w/.lanser.json"
}

check_eq "unprivileged: cproj passes" "0 passed" "$RC $(json .outcome.status)"
check_json_eq "unprivileged: isolated" .isolation namespaces
check_eq "unprivileged: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"
check_eq "unprivileged: build outputs belong to the caller" "$NOBODY" "$(stat -c %u "$U/c/tests/test_list")"

config fork_bomb.sh /bin/sh
run_reaped 120 "${AS_NOBODY[@]}" "$L" --root "$U/w" --json test
check_eq "unprivileged fork bomb: contained (exit 83)" 83 "$RC"
check_eq "unprivileged fork bomb: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"
check_no_procs "unprivileged fork bomb: no process carries the mark" "$MARK"

config write_outside.sh /bin/sh
run_reaped 120 "${AS_NOBODY[@]}" "$L" --root "$U/w" --json test
check_eq "unprivileged writes outside: exit 0" 0 "$RC"
check_json_eq "unprivileged writes outside: /var/tmp and /usr refused" \
	'[t["status"] for t in b["outcome"]["tests"] if "read-only" in t["id"]]' '["passed","passed"]'
check_eq "unprivileged writes outside: nothing next to the worktree" "" "$(ls "$U" | grep -- "$MARK")"
check_eq "unprivileged writes outside: nothing in /var/tmp" "" "$(ls /var/tmp | grep -- "$MARK")"

config daemon.sh /bin/sh
run_reaped 120 "${AS_NOBODY[@]}" "$L" --root "$U/w" --json test
check_eq "unprivileged daemonized grandchild: exit 0" 0 "$RC"
check_eq "unprivileged daemonized grandchild: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"
check_no_procs "unprivileged daemonized grandchild: killed" "$MARK"

# candidate worktrees as an unprivileged user
R=$U/repo
cp -R "$FIXTURES/cproj" "$R"
git -C "$R" init -q
git -C "$R" add -A
git -C "$R" -c user.email=t@example.com -c user.name=t commit -qm base
sed -i 's/{-1000, 1000}/{-1000, 999}/' "$R/src/list.c"
git -C "$R" diff >"$U/p1.diff"
git -C "$R" checkout -q -- .
[ "$(id -u)" = 0 ] && chown -R $NOBODY:$NOBODY "$U"
run_reaped 120 "${AS_NOBODY[@]}" "$L" --root "$R" --json test --patch "$U/p1.diff" --base HEAD
check_eq "unprivileged candidate: evaluated (exit 1: its test fails)" 1 "$RC"
check_json_eq "unprivileged candidate: the failing test named" \
	'[t["id"] for t in b["outcome"]["tests"] if t["status"] == "failed"]' '["push clamps large values"]'
check_json_eq "unprivileged candidate: isolated" .isolation namespaces
check_eq "unprivileged candidate: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"
check_eq "unprivileged candidate: no worktree left" 1 "$(git -c safe.directory="$R" -C "$R" worktree list | wc -l)"
