#!/usr/bin/env bash
# The escape suite (issue 11; docs/sandbox.md): each attack of
# tests/fixtures/escape/escape.py runs as the test command of a workspace
# under `lanser test`, and must be contained. The box must hold as root (as
# CI runs it) and as an unprivileged user with XDG_RUNTIME_DIR set and the
# checkout under a 0700 folder. Every probe is shown to work: the same
# suite run with --no-isolation (mount attacks left out there) escapes.
. "$(dirname "$0")/lib.sh"

MARK=esc$$x$RANDOM
cd "$TMP" || exit 1
chmod 755 "$TMP"
PIDS=()
CLEAN=("/tmp/escape-$MARK" "/var/tmp/escape-$MARK")

esc_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${CLEAN[@]}"; do
		rm -rf "$p"
	done
}
trap 'rc=$?; esc_cleanup; (exit $rc); _lib_cleanup' EXIT

# The attacks, by the TAP names escape.py gives them.
ATTACKS=("remount / rw" "remount the worktree's parent rw" "umount /tmp" "umount /proc"
	"unshare -U" "unshare -m" "unshare -Ur (root in a new user namespace)"
	"read ~/.ssh key" "list /root" "write \$HOME" "write /var/tmp"
	"connect to the daemon socket" "ptrace a host process"
	"ptrace a process of the box (seccomp)" "kill a host process"
	"read host processes' command lines in /proc"
	"connect to a listener on the host's loopback"
	"CapEff is 0" "CapBnd is 0" "Seccomp mode 2" "NoNewPrivs" "uid not 0")
# What the control run (no box) must show escaping: proof the probes work.
ESCAPES_WITHOUT_BOX=("read ~/.ssh key" "write \$HOME" "connect to the daemon socket"
	"kill a host process" "read host processes' command lines in /proc"
	"connect to a listener on the host's loopback" "Seccomp mode 2")

# status NAME: the outcome of one attack in $OUT's record
status() {
	json "[t[\"status\"] for t in b[\"outcome\"][\"tests\"] if t[\"id\"] == $(printf '%s' "$1" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')] or [\"missing\"]" |
		tr -d '[]"'
}

# suite LABEL AS_PREFIX HOME_DIR BASE : sets up and runs everything as the user
# AS_PREFIX runs as (empty: root), with files under BASE.
suite() {
	local label=$1 home=$3 base=$4
	local -a as
	read -r -a as <<<"$2"
	local run_dir=$base/run ws=$base/priv/w key=$home/.ssh/id_lanser_escape_$MARK
	local sock sleeper port a st

	mkdir -p "$run_dir" "$base/priv" "$home/.ssh" "$base/daemonws"
	chmod 700 "$run_dir" "$base/priv" "$home/.ssh"
	cp -R "$FIXTURES/escape" "$ws"
	cp -R "$FIXTURES/cproj/." "$base/daemonws"
	printf 'FAKE-PRIVATE-KEY-%s\n' "$MARK" >"$key"
	chmod 600 "$key"
	CLEAN+=("$key" "$home/escape-$MARK")
	if [ ${#as[@]} -gt 0 ]; then
		chown -R "$NOBODY:$NOBODY" "$base" "$home"
	fi
	chmod 700 "$base"

	# a real daemon, whose socket the box must not reach
	"${as[@]}" env XDG_RUNTIME_DIR="$run_dir" HOME="$home" "$L" --root "$base/daemonws" \
		daemon start >/dev/null 2>&1 </dev/null
	sock=$(find "$run_dir" -type s -name sock | head -n 1)
	[ -n "$sock" ] && ok "$label: a daemon runs ($sock)" ||
		fail "$label: a daemon runs" "no socket under $run_dir"
	# a host process to ptrace, kill and read the command line of
	"${as[@]}" setsid bash -c 'exec -a "sleeper-$1" sleep 300' _ "$MARK" </dev/null >/dev/null 2>&1 &
	sleeper=$!
	disown
	PIDS+=("$sleeper")
	# a listener on the host's loopback
	cat >"$TMP/listen.py" <<'PYEOF'
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(300)
while True:
    try:
        s.accept()[0].close()
    except OSError:
        break
PYEOF
	setsid "$PY" "$TMP/listen.py" "$TMP/port.$label" </dev/null >/dev/null 2>&1 &
	PIDS+=("$!")
	disown
	for _ in $(seq 100); do [ -s "$TMP/port.$label" ] && break; sleep 0.05; done
	port=$(cat "$TMP/port.$label")

	config() { # config SAFE
		cat >"$ws/.lanser.json" <<JSON
{"test": ["/usr/bin/python3", "escape.py"],
 "limits": {"wallMs": 60000, "processes": 64},
 "env": {"ESC_MARK": "$MARK", "ESC_SECRET": "$key", "ESC_HOME": "$home",
         "ESC_SOCK": "$sock", "ESC_SLEEPER": "$sleeper", "ESC_PORT": "$port",
         "ESC_PARENT": "$base/priv", "ESC_SAFE": "$1"}}
JSON
		[ ${#as[@]} -gt 0 ] && chown "$NOBODY:$NOBODY" "$ws/.lanser.json"
	}

	config 0
	run_reaped 120 "${as[@]}" env XDG_RUNTIME_DIR="$run_dir" HOME="$home" \
		"$L" --root "$ws" --json test
	check_eq "$label: the suite ran boxed" "0 namespaces" "$RC $(json .isolation)"
	for a in "${ATTACKS[@]}"; do
		st=$(status "$a")
		check_eq "$label: contained: $a" passed "$st"
	done
	check_eq "$label: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"
	# what only the host can see
	check_eq "$label: the host's sleeper survived" 1 "$(kill -0 "$sleeper" 2>/dev/null && echo 1)"
	check_eq "$label: nothing in the host's /tmp" "" "$(ls /tmp | grep -- "escape-$MARK")"
	check_eq "$label: nothing in the host's /var/tmp" "" "$(ls /var/tmp | grep -- "escape-$MARK")"
	check_eq "$label: nothing in \$HOME" "" "$(ls -A "$home" | grep -- "escape-$MARK")"
	check_eq "$label: the daemon still answers its owner" 0 \
		"$("${as[@]}" env XDG_RUNTIME_DIR="$run_dir" HOME="$home" "$L" --root "$base/daemonws" \
			daemon status >/dev/null 2>&1 </dev/null; echo $?)"

	# the disk: a filler against a 32 MiB quota
	cat >"$ws/.lanser.json" <<JSON
{"test": ["/bin/sh", "fill.sh"], "limits": {"diskMiB": 32, "fileSizeMiB": 1024},
 "env": {"FILL_MIB": "1024"}}
JSON
	[ ${#as[@]} -gt 0 ] && chown "$NOBODY:$NOBODY" "$ws/.lanser.json"
	run_reaped 120 "${as[@]}" env XDG_RUNTIME_DIR="$run_dir" HOME="$home" \
		"$L" --root "$ws" --json test
	check_eq "$label: disk filler stopped (exit 83)" 83 "$RC"
	check_contains "$label: disk filler: limitsHit names disk" \
		"$(json .outcome.test.limitsHit)" disk
	local size
	size=$(stat -c %s "$ws/fill.bin" 2>/dev/null || echo 0)
	check_eq "$label: disk filler: killed before it wrote 1 GiB" 1 \
		"$([ "$size" -lt $((1024 << 20)) ] && echo 1)"
	echo "# $label: the filler had written $((size >> 20)) MiB against a 32 MiB quota"
	rm -f "$ws/fill.bin"

	# the control run: no box (the mount attacks left out), the probes escape
	config 1
	run_reaped 120 "${as[@]}" env XDG_RUNTIME_DIR="$run_dir" HOME="$home" \
		"$L" --root "$ws" --json --no-isolation test
	check_eq "$label: control run without the box" none "$(json .isolation)"
	rm -f "/tmp/escape-$MARK" "/var/tmp/escape-$MARK"
	for a in "${ESCAPES_WITHOUT_BOX[@]}"; do
		st=$(status "$a")
		check_eq "$label: control: the probe sees an escape without the box: $a" failed "$st"
	done
	rm -f "$home/escape-$MARK"
	"${as[@]}" env XDG_RUNTIME_DIR="$run_dir" HOME="$home" "$L" --root "$base/daemonws" \
		daemon stop >/dev/null 2>&1 </dev/null
}

NOBODY=65534
# --- as root (as CI runs): the fake key lives in a 0700 folder of /root
if [ "$(id -u)" = 0 ]; then
	RHOME=/root/.lanser-escape-$MARK
	CLEAN+=("$RHOME")
	mkdir -m 700 "$RHOME"
	suite root "" "$RHOME" "$TMP/r"
	# the control of the mount probes: as root in a private mount namespace
	# of the host (nothing leaks out of it), with the worktree's parent a
	# read-only bind and /tmp a mount, the same probes must succeed
	if command -v unshare >/dev/null; then
		P=$TMP/r/priv
		CTRL=$(cd "$P/w" && unshare -m --propagation private sh -c '
			mount --bind /tmp /tmp && mount --bind "$1" "$1" &&
			mount -o remount,bind,ro "$1" &&
			exec env ESC_SAFE=2 ESC_PARENT="$1" ESC_MARK="$2" ESC_SECRET=/nonexistent \
				ESC_HOME=/nonexistent ESC_SOCK=/nonexistent /usr/bin/python3 escape.py' \
			_ "$P" "$MARK" 2>&1)
		for a in "remount the worktree's parent rw" "umount /tmp" "umount /proc" "unshare -U" \
			"unshare -m" "unshare -Ur (root in a new user namespace)"; do
			line=
			while IFS= read -r l; do
				[[ "$l" == *" - $a" ]] && line=$l
			done <<<"$CTRL"
			check_eq "root: control: the probe sees an escape without the box: $a" \
				"not ok" "${line%% [0-9]*}"
		done
	else
		skip "root: control of the mount probes" "no unshare(1)"
	fi
else
	skip "t_escape as root" "lanser runs as uid $(id -u) here"
fi

# --- as an unprivileged user with XDG_RUNTIME_DIR set
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	mkdir -p "$TMP/u/home"
	suite unprivileged "setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups" \
		"$TMP/u/home" "$TMP/u"
elif [ "$(id -u)" != 0 ]; then
	mkdir -p "$TMP/u/home"
	suite unprivileged "" "$TMP/u/home" "$TMP/u"
else
	skip "t_escape as an unprivileged user" "no setpriv to switch users"
fi

# tests run in place cannot plant git hooks or config in the repository
# (the user's next git command would run them outside the box)
G=$TMP/inplace
mkdir -p "$G" && git -C "$G" init -q
cat >"$G/.lanser.json" <<'JSON'
{"test": ["/bin/sh", "-c", "echo 'touch pwned' >.git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; printf '[alias]\\n\\tst = !touch pwned\\n' >>.git/config; echo built >built.txt"]}
JSON
git -C "$G" add -A && git -C "$G" -c user.email=t@example.com -c user.name=t commit -qm base
run_reaped 60 "$L" --root "$G" --json test
check_eq "in place: the test ran boxed" "0 namespaces" "$RC $(json .isolation)"
check_eq "in place: the worktree is writable (built.txt)" built "$(cat "$G/built.txt" 2>/dev/null)"
check_eq "in place: no git hook planted" "" "$(ls "$G/.git/hooks" | grep -x pre-commit)"
check_not_contains "in place: .git/config unchanged" "$(cat "$G/.git/config")" "pwned"
run_reaped 60 "$L" --root "$G" --json --no-isolation test
check_eq "in place: (without the box the hook is planted: the attack is real)" pre-commit \
	"$(ls "$G/.git/hooks" | grep -x pre-commit)"

# the trampoline of boxed programs is not a command
run "$L" --help
check_not_contains "lanser --help does not show the hidden __box" "$OUT$ERR" "__box"
