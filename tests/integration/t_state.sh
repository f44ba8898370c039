#!/usr/bin/env bash
# The per-user state folder (issue 11, item 5; core/state.h): a runtime
# folder someone else prepared is skipped (not fatal), the fallback is a
# private folder under the user's cache directory (never a /tmp name), and a
# deep HOME whose socket path is past the 107-byte limit still gets a
# working daemon.
. "$(dirname "$0")/lib.sh"
need_lanser

ws=$(fixture cproj) || { fail "state: copy the cproj fixture" "fixture failed"; exit 1; }
cd "$ws" || exit 1

# 1. a runtime folder whose lanser/ belongs to someone else, or is open to all
R=$TMP/run-taken
mkdir -m 700 "$R"
if [ "$(id -u)" = 0 ]; then
	mkdir -m 700 "$R/lanser" && chown 65534:65534 "$R/lanser"
	what="owned by another uid"
else
	mkdir -m 777 "$R/lanser"; chmod 777 "$R/lanser"
	what="open to others"
fi
C=$TMP/cache
run env XDG_RUNTIME_DIR="$R" XDG_CACHE_HOME="$C" "$L" --no-daemon outline src/util.c
check_eq "state: a runtime folder $what does not break a command" 0 "$RC"
run env XDG_RUNTIME_DIR="$R" XDG_CACHE_HOME="$C" "$L" daemon start
check_eq "state: the daemon starts in the fallback folder" 0 "$RC"
check_contains "state: ...saying which folder it used instead, and why" "$ERR" \
	"state folder $C/lanser used instead ($R/lanser is"
sd=$(env XDG_RUNTIME_DIR="$R" XDG_CACHE_HOME="$C" "$L" daemon status --json 2>/dev/null | json .daemon.stateDir -)
check_eq "state: its files are under \$XDG_CACHE_HOME/lanser" "$C/lanser/ws-" "${sd%????????????????}"
check_eq "state: the fallback is private (0700)" 700 "$(stat -c %a "$C/lanser")"
check_eq "state: the other folder is left as it was" "$([ "$(id -u)" = 0 ] && echo 65534 || id -u)" \
	"$(stat -c %u "$R/lanser")"
env XDG_RUNTIME_DIR="$R" XDG_CACHE_HOME="$C" "$L" daemon stop >/dev/null 2>&1

# 2. no XDG_RUNTIME_DIR at all, a deep HOME: ~/.cache/lanser, and a socket
# path longer than a unix address can hold
H=$TMP/home
for i in 1 2 3 4 5 6; do H=$H/a-rather-long-folder-name-$i; done
mkdir -p "$H"
run env -u XDG_RUNTIME_DIR -u XDG_CACHE_HOME HOME="$H" "$L" --json def src/main.c@L23:C10
check_eq "state: with a deep HOME a query answers through the daemon" "0 true src/util.c" \
	"$RC $(json .meta.volatile.daemon) $(json '[f["path"] for f in b["facts"]][0]')"
check_not_contains "state: ...without falling back" "$ERR" "without the daemon"
sd=$(env -u XDG_RUNTIME_DIR -u XDG_CACHE_HOME HOME="$H" "$L" daemon status --json 2>/dev/null | json .daemon.stateDir -)
check_eq "state: under ~/.cache/lanser" "$H/.cache/lanser/ws-" "${sd%????????????????}"
check_eq "state: whose socket path is past the 107-byte limit" 1 \
	"$([ "$(printf '%s/sock' "$sd" | wc -c)" -gt 107 ] && echo 1)"
run env -u XDG_RUNTIME_DIR -u XDG_CACHE_HOME HOME="$H" "$L" daemon stop
check_eq "state: and stops" "0 stopped the daemon for $ws" "$RC $OUT"
check_eq "state: nothing was made under /tmp/lanser-<uid> by this test" "" \
	"$(find /tmp -maxdepth 1 -name "lanser-$(id -u)" -newer "$TMP" 2>/dev/null)"
