# fifo_lib.sh - proving a file was never opened (t_gitconfig, t_gitdb):
# a FIFO whose writer leaves $TMP/opened the moment anything opens it for
# reading. Sourced after lib.sh.
#   watch FIFO; <command>; never_opened NAME (or opened NAME, the control); unwatch
#   refused NAME NEEDLE: the last run was refused (71) naming NEEDLE
WRITER=
watch() {  # watch FIFO : $TMP/opened appears when a reader opens it
	rm -f "$TMP/opened"
	( while exec 3>"$1"; do : >"$TMP/opened"; exec 3>&-; done ) 2>/dev/null &
	WRITER=$!
}
unwatch() {
	if [ -n "$WRITER" ]; then
		kill "$WRITER" 2>/dev/null
		wait "$WRITER" 2>/dev/null
	fi
	WRITER=
}
never_opened() {  # never_opened NAME
	sleep 0.2
	if [ -e "$TMP/opened" ]; then fail "$1" "the FIFO was opened for reading"; else ok "$1"; fi
}
opened() {  # opened NAME : the control
	local i
	for i in $(seq 1 50); do [ -e "$TMP/opened" ] && break; sleep 0.1; done
	if [ -e "$TMP/opened" ]; then ok "$1"; else fail "$1" "the FIFO was not opened"; fi
}
refused() {  # refused NAME NEEDLE : the last run was refused (71) naming NEEDLE
	rc_is "$1: refused (71)" 71
	check_contains "$1: the message names it" "$ERR" "$2"
	check_contains "$1: the message says how to proceed" "$ERR" "pass --trust if you trust it"
}
