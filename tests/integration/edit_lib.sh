# edit_lib.sh - shared helpers of the edit/jail/kill tests (issue 5).
# Sourced after lib.sh.

# git_commit_all DIR : a first commit of everything in DIR (a fixture).
git_commit_all() {
	git -C "$1" -c user.email=t@lanser -c user.name=t add -A >/dev/null &&
	git -C "$1" -c user.email=t@lanser -c user.name=t commit -qm base >/dev/null
}

# snapshot DIR : every file and folder of the work tree (not .git, not
# clangd's cache) with its type, mode and SHA-256; then HEAD and the
# short status (index + work tree). Two equal snapshots are equal trees.
snapshot() {
	( cd "$1" && find . -path ./.git -prune -o -path ./.cache -prune -o -print0 | sort -z |
		while IFS= read -r -d '' p; do
			if [ -L "$p" ]; then echo "L $p -> $(readlink "$p")"
			elif [ -d "$p" ]; then echo "D $p"
			else echo "F $p $(stat -c %a "$p") $(sha256sum <"$p" | cut -c1-64)"; fi
		done
	  # commit ids carry a time: compare what a commit holds instead
	  echo "HEAD $(git rev-parse -q --verify 'HEAD^{tree}' 2>/dev/null || echo none)" \
		"$(git log --format='%s|%P' 2>/dev/null | sed -n '1p;$=')"
	  git -c core.quotepath=off status --porcelain=v1 -uall 2>/dev/null | grep -v ' \.cache/' )
}

# journal_left DIR : prints what is left of a transaction journal.
journal_left() {
	ls -d "$1"/.git/lanser-txn "$1"/.git/lanser-txn.tmp "$1"/.git/lanser-txn.dead 2>/dev/null
}

# rc_is NAME WANT : checks $RC of the last `run`.
rc_is() {
	if [ "$RC" = "$2" ]; then ok "$1"; else fail "$1" "$(_rc_details "$2")"; fi
}

# quiet CMD... : runs CMD in a subshell so that a SIGKILL is not reported
# by bash; sets RC.
quiet() {
	{ ( "$@" ) >/dev/null 2>&1; RC=$?; } 2>/dev/null
}

# check_schema NAME : $OUT is a bundle valid under `lanser schema bundle`.
check_schema() {
	local msg
	"$L" schema bundle >"$TMP/.schema.json" 2>/dev/null
	msg=$(printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.validate(json.load(sys.stdin), schema)' "$TMP/.schema.json" 2>&1)
	if [ $? = 0 ]; then ok "$1"; else fail "$1" "$(printf '%s' "$msg" | tail -3)"; fi
}
