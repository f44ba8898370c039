#!/usr/bin/env bash
# The hostile suites (tests/fixtures/hostile/README.md) under `lanser test`:
# each is contained, reported with the right fields, and leaves nothing
# behind; the limits also hold in the forced fallback (--no-isolation),
# which says so loudly.
. "$(dirname "$0")/lib.sh"

MARK=hmark$$x$RANDOM
W=$(fixture hostile)
# never run from the repository lanser is built in
cd "$TMP" || exit 1
OUTSIDE=$TMP/outside
mkdir -p "$OUTSIDE"

# config SCRIPT INTERPRETER [PORT]: the suite's .lanser.json. The infinite
# loop gets a wall clock far beyond its CPU limit, so that on a busy machine
# the CPU limit is still the one it hits.
config() {
	local wall=3000
	[ "$1" = spin.sh ] && wall=60000
	cat >"$W/.lanser.json" <<EOF
{"test": ["$2", "$1"],
 "limits": {"wallMs": $wall, "cpuSeconds": 1, "memoryMiB": 128, "processes": 64},
 "env": {"HOSTILE_MARK": "$MARK", "HOSTILE_PORT": "${3:-1}", "HOSTILE_OUTSIDE": "$OUTSIDE"}}
EOF
}

# hostile NAME SCRIPT INTERP [lanser options...]: runs the suite, checks
# that nothing is left and that the record is a record.
hostile() {
	local name=$1 script=$2 interp=$3
	shift 3
	config "$script" "$interp" "${PORT:-1}"
	run_reaped 60 "$L" --root "$W" --json "$@" test
	check_eq "$name: no process left behind" "0 0" "$ORPHANS $ZOMBIES"
	check_no_procs "$name: no process carries the mark" "$MARK"
	check_json_eq "$name: an outcome record" .schema lanser.bundle/1
}

# what this machine gives: "namespaces", or "none" (then said loudly)
config daemon.sh /bin/sh
ISOLATED=$("$L" --root "$W" --json test 2>/dev/null | json .isolation -)

for mode in isolated fallback; do
	opt=()
	[ $mode = fallback ] && opt=(--no-isolation)

	hostile "$mode fork bomb" fork_bomb.sh /bin/sh "${opt[@]}"
	check_eq "$mode fork bomb: exit 83 (limit)" 83 "$RC"
	check_json_eq "$mode fork bomb: status limit" .outcome.status limit
	check_json_eq "$mode fork bomb: processes or wall named" \
		'"processes" in b["outcome"]["test"]["limitsHit"] or "wall" in b["outcome"]["test"]["limitsHit"]' true
	if [ "$(id -u)" = 0 ]; then
		check_json_eq "$mode fork bomb: the pids cgroup refused forks" \
			'"processes" in b["outcome"]["test"]["limitsHit"]' true
	fi

	hostile "$mode memory hog" mem_hog.py /usr/bin/python3 "${opt[@]}"
	check_eq "$mode memory hog: exit 83 (limit)" 83 "$RC"
	check_json_eq "$mode memory hog: memory named" .outcome.test.limitsHit '["memory"]'
	check_json_eq "$mode memory hog: peak RSS within the limit" \
		'b["meta"]["volatile"]["maxRssKiB"] <= 128 * 1024' true

	hostile "$mode infinite loop" spin.sh /bin/sh "${opt[@]}"
	check_eq "$mode infinite loop: exit 83 (limit)" 83 "$RC"
	check_json_eq "$mode infinite loop: cpu named" .outcome.test.limitsHit '["cpu"]'
	check_json_eq "$mode infinite loop: killed by SIGXCPU" .outcome.test.signal SIGXCPU

	hostile "$mode closed stdout" close_stdout.sh /bin/sh "${opt[@]}"
	check_eq "$mode closed stdout: exit 83 (limit)" 83 "$RC"
	check_json_eq "$mode closed stdout: timed out" .outcome.test.timedOut true
	check_json_eq "$mode closed stdout: wall named" .outcome.test.limitsHit '["wall"]'
	check_json_eq "$mode closed stdout: killed" .outcome.test.signal SIGKILL

	hostile "$mode daemonized grandchild" daemon.sh /bin/sh "${opt[@]}"
	check_eq "$mode daemonized grandchild: exit 0" 0 "$RC"
	check_json_eq "$mode daemonized grandchild: passed" .outcome.status passed
	check_json_eq "$mode daemonized grandchild: not timed out" .outcome.test.timedOut false

	if [ $mode = fallback ]; then
		check_json_eq "fallback: the record says isolation none" .isolation none
		check_contains "fallback: a loud warning" "$ERR" "WARNING: TESTS RAN WITHOUT ISOLATION"
	elif [ "$ISOLATED" = namespaces ]; then
		check_json_eq "isolated: the record says namespaces" .isolation namespaces
		check_not_contains "isolated: no warning" "$ERR" "WARNING"
	fi
done

# The layers that only namespaces give: network and file system.
if [ "$ISOLATED" != namespaces ]; then
	echo "# NOTE: namespaces unavailable here ($ISOLATED): the network and file-system"
	echo "# isolation checks below did NOT run; the fallback checks above did."
	fail "namespaces available for the isolation checks" "lanser test reported isolation '$ISOLATED'"
else
	# a listener on the host's loopback, bounded in time, logging every connection
	"$PY" - "$TMP/port" "$TMP/conns" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(0.5)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
end = time.time() + 60
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    with open(sys.argv[2], "a") as f:
        f.write("connection\n")
    c.close()
EOF
	LISTENER=$!
	for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
	PORT=$(cat "$TMP/port")
	# the listener is reachable from outside the sandbox
	check_rc_as "the host listener accepts a connection from outside" 0 \
		"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 3).close()"
	for _ in $(seq 50); do [ -s "$TMP/conns" ] && break; sleep 0.05; done
	rm -f "$TMP/conns"
	hostile "network" net_connect.py /usr/bin/python3
	check_eq "network: exit 0 (the suite could not connect)" 0 "$RC"
	check_json_eq "network: the suite saw the connection fail" .outcome.tests.0.status passed
	check_eq "network: the host listener saw no connection" "" "$(cat "$TMP/conns" 2>/dev/null)"
	kill "$LISTENER" 2>/dev/null
	wait "$LISTENER" 2>/dev/null
	PORT=

	hostile "file system" write_outside.sh /bin/sh
	check_eq "file system: exit 0" 0 "$RC"
	check_json_eq "file system: /var/tmp and /usr refused inside" \
		'[t["status"] for t in b["outcome"]["tests"] if "read-only" in t["id"]]' '["passed","passed"]'
	check_eq "file system: nothing written to /var/tmp" "" "$(ls /var/tmp | grep -- "$MARK")"
	check_eq "file system: nothing written to /usr" "" "$(ls /usr | grep -- "$MARK")"
	check_eq "file system: nothing in the harness's folder" "" "$(ls "$OUTSIDE")"
	check_eq "file system: nothing next to the worktree" "" "$(ls "$TMP" | grep -- "$MARK")"
	check_eq "file system: the worktree itself is writable" "$W/inside-$MARK" \
		"$(ls "$W/inside-$MARK" 2>&1)"
	check_eq "file system: files the suite wrote belong to the caller" "$(id -u)" \
		"$(stat -c %u "$W/inside-$MARK" 2>&1)"
fi


# Two lanser processes in different pid namespaces share the pids cgroup
# hierarchy (containers, a bootstrapped root beside the host). Each `lanser
# test` prunes stale cgroups at its start. A lanser in the parent namespace
# sees the child namespace's processes in the cgroup's member list, but the
# owner pid in the cgroup's name is the child namespace's: it must not take
# the running inner run's cgroup for stale and kill its suite.
if [ "$(id -u)" != 0 ] || [ ! -w /sys/fs/cgroup/pids ]; then
	skip "pid namespaces: the other namespace's cgroup survives a prune" "needs root and a writable pids cgroup hierarchy"
elif ! unshare --pid --fork --mount-proc true 2>/dev/null; then
	skip "pid namespaces: the other namespace's cgroup survives a prune" "unshare --pid refused here"
else
	cat >"$W/slow_ok.sh" <<'EOF2'
#!/bin/sh
echo "1..1"
sleep 3
echo "ok 1 - slept"
EOF2
	config slow_ok.sh /bin/sh
	sed -i 's/"wallMs": 3000/"wallMs": 60000/' "$W/.lanser.json"
	# the inner lanser gets a pid near pid_max, which no process of this
	# namespace holds (pid 1 or 2 would be taken for alive here)
	LANSER_NO_DAEMON=1 unshare --pid --fork --mount-proc /bin/sh -c \
		'echo $(($(cat /proc/sys/kernel/pid_max) - 100)) >/proc/sys/kernel/ns_last_pid; "$@"; exit $?' \
		sh "$L" --root "$W" --json test >"$TMP/inner.json" 2>"$TMP/inner.err" &
	INNER=$!
	# the inner suite runs (and so sits in its cgroup) before the outer starts
	for _ in $(seq 400); do
		pgrep -f "slow_ok[.]sh" >/dev/null && break
		sleep 0.05
	done
	W2=$(fixture hostile)
	cat >"$W2/.lanser.json" <<'EOF2'
{"test": ["/bin/sh", "-c", "echo 1..1; echo ok 1 - quick"]}
EOF2
	LANSER_NO_DAEMON=1 "$L" --root "$W2" --json test >"$TMP/outer.json" 2>"$TMP/outer.err"
	check_eq "pid namespaces: the outer run passed" 0 "$?"
	wait "$INNER"
	check_eq "pid namespaces: the inner run was not disturbed (exit 0)" 0 "$?"
	check_eq "pid namespaces: the inner suite passed" passed \
		"$(json .outcome.status <"$TMP/inner.json" 2>&1)"
fi
