#!/usr/bin/env bash
# A query waiting for the index shows, on a terminal, what it waits for and
# the server's progress percentage on one line rewritten in place and
# cleared at the end (issue 12, item 10); never on a pipe, never with
# --json. tests/fixtures/slowindex serves *.fake files with the fake server
# in slow-index mode: its "fake indexing" progress reports 0, 25, 50 and
# 75% over about 1.6 s before it ends. The terminal is a pty (python3's pty
# module); in-process and through the daemon (progress frames before the
# reply).
. "$(dirname "$0")/lib.sh"
need_lanser

FAKELS=$LANSER_REPO_ROOT/tests/fakels/fakels
[ -x "$FAKELS" ] || { fail "waitprogress: fakels is built" "run 'make tests/fakels/fakels'"; exit 1; }
W=$(fixture slowindex) || { fail "waitprogress: copy the fixture" "fixture failed"; exit 1; }
sed "s#@FAKELS@#$FAKELS#g" "$W/lanser.json.in" >"$W/.lanser.json"

# on_pty CMD... : runs CMD with stderr on a pty; RC, OUT (stdout), PTY (what
# the terminal received, with \r and ESC spelled out as \r and \e).
on_pty() {
	local r
	r=$("$PY" - "$@" <<'PYEOF'
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=s, stdin=subprocess.DEVNULL,
                   timeout=120)
os.close(s)
data = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    data += d
os.close(m)
text = data.decode("utf-8", "replace").replace("\r", "\\r").replace("\x1b", "\\e")
sys.stdout.write("%d\n%s\n%s" % (p.returncode, p.stdout.decode().strip(), text))
PYEOF
)
	RC=$(printf '%s\n' "$r" | sed -n 1p)
	OUT=$(printf '%s\n' "$r" | sed -n 2p)
	PTY=$(printf '%s\n' "$r" | sed -n '3,$p')
}

on_pty "$L" --root "$W" --trust --no-daemon def a.fake@L1:C1
check_eq "terminal, in-process: the query answers" "0 a.fake:1:1" "$RC $OUT"
check_contains "terminal, in-process: what is waited for, with the server's percentage" "$PTY" \
	'\rlanser: waiting for fake: fake indexing 25%\e[K'
check_contains "terminal, in-process: the line is rewritten in place as the server reports" "$PTY" \
	'fake indexing 50%\e[K\rlanser: waiting for fake: fake indexing 75%\e[K'
check_eq "terminal, in-process: the line is cleared at the end" '\r\e[K' "${PTY: -6}"

on_pty "$L" --root "$W" --trust --no-daemon --json def a.fake@L1:C1
check_eq "terminal with --json: the query answers" 0 "$RC"
check_not_contains "terminal with --json: no progress line" "$PTY" "waiting for"

run "$L" --root "$W" --trust --no-daemon def a.fake@L1:C1
check_eq "pipe: the query answers" "0 a.fake:1:1" "$RC $OUT"
check_not_contains "pipe: no progress line" "$ERR" "waiting for"
check_not_contains "pipe: no control characters" "$ERR" $'\r'

# through the daemon: it waits, the client's terminal shows it
on_pty "$L" --root "$W" --trust def a.fake@L1:C1
check_eq "terminal, through the daemon: the query answers" "0 a.fake:1:1" "$RC $OUT"
check_contains "terminal, through the daemon: the progress line comes from the daemon" "$PTY" \
	'\rlanser: waiting for fake: fake indexing 75%\e[K'
check_eq "terminal, through the daemon: the line is cleared at the end" '\r\e[K' "${PTY: -6}"
"$L" --root "$W" --trust daemon stop >/dev/null 2>&1
# a fresh daemon (the index is waited for again), answering a pipe
run "$L" --root "$W" --trust def a.fake@L1:C1
check_eq "pipe, through the daemon: the query answers" "0 a.fake:1:1" "$RC $OUT"
check_not_contains "pipe, through the daemon: no progress line" "$ERR" "waiting for"
"$L" --root "$W" --trust daemon stop >/dev/null 2>&1
check_no_procs "no daemon left" "$W"
