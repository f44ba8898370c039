#!/usr/bin/env bash
# Patches whose paths cannot all hold (issue 11, item 6): a file and a
# folder of the same name, one path twice, a file over an existing folder
# are refused at preview and at --apply, nothing written, no journal left;
# and a transaction whose rollback cannot finish says exactly what to do,
# refuses edits and tests, and lets queries answer - in-process and
# through the daemon alike.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser

W=$TMP/w
mkdir -p "$W/src" "$W/dir" "$W/sub"
printf 'int x;\n' >"$W/src/a.c"
printf 'in a folder\n' >"$W/dir/f.txt"
printf 'old sub\n' >"$W/sub/a.txt"
printf 'int main(void) { return 0; }\nstatic int helper(int v) { return v + 1; }\n' >"$W/main.c"
git -C "$W" init -q
git_commit_all "$W"
snapshot "$W" >"$TMP/before"

refused() { # NAME RC TEXT-IN-ERR PATCH
	printf '%s' "$4" >"$TMP/p.diff"
	run "$L" --root "$W" patch "$TMP/p.diff"
	rc_is "paths: $1: the preview is refused (exit $2)" "$2"
	check_contains "paths: $1: the message names the paths" "$ERR" "$3"
	run "$L" --root "$W" patch --apply "$TMP/p.diff"
	rc_is "paths: $1: --apply is refused (exit $2)" "$2"
	snapshot "$W" >"$TMP/now"
	if cmp -s "$TMP/before" "$TMP/now"; then ok "paths: $1: nothing written"
	else fail "paths: $1: nothing written" "$(diff "$TMP/before" "$TMP/now" | head -5)"; fi
	check_eq "paths: $1: no journal left" "" "$(journal_left "$W")"
}
new_file() { # NAME CONTENT
	printf 'diff --git a/%s b/%s\nnew file mode 100644\n--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+%s\n' "$1" "$1" "$1" "$2"
}

refused "a file and a folder of the same name" 77 "src/x.c would be a file and src/x.c/y.c" \
	"$(new_file src/x.c one; echo; new_file src/x.c/y.c two)"
refused "the same, folder first" 77 "src/x.c would be a file and src/x.c/y.c" \
	"$(new_file src/x.c/y.c two; echo; new_file src/x.c one)"
refused "one path twice" 77 "src/n.c" \
	"$(new_file src/n.c one; echo; new_file src/n.c two)"
refused "a deletion and a creation of one path" 77 "src/a.c" \
	"$(printf 'diff --git a/src/a.c b/src/a.c\ndeleted file mode 100644\n--- a/src/a.c\n+++ /dev/null\n@@ -1 +1,0 @@\n-int x;\n'; new_file src/a.c again)"
refused "a//b spelling of a path" 71 "src//a.c" \
	"$(printf 'diff --git a/src/a.c b/src/a.c\n--- a/src/a.c\n+++ b/src//a.c\n@@ -1 +1 @@\n-int x;\n+int y;\n')"
refused "one path as ./a/b and a/b" 71 "./src/n.c" \
	"$(new_file src/n.c one; echo; new_file ./src/n.c two)"
refused "a file over an existing folder" 71 "dir" "$(new_file dir one)"
refused "a folder through an existing file" 71 "src/a.c/z.c" "$(new_file src/a.c/z.c one)"

# ---- a rollback that cannot finish ----
# A transaction killed after writing sub/a.txt; then sub is replaced by a
# file, so the old bytes cannot be put back.
mkpatch() {
	printf 'diff --git a/sub/a.txt b/sub/a.txt\n--- a/sub/a.txt\n+++ b/sub/a.txt\n@@ -1 +1 @@\n-old sub\n+new sub\n'
}
mkpatch >"$TMP/k.diff"
for n in $(seq 3 12); do
	rm -rf "$W/sub"; mkdir "$W/sub"; printf 'old sub\n' >"$W/sub/a.txt"
	quiet env LANSER_TXN_KILL_AT=$n "$L" --root "$W" patch --apply "$TMP/k.diff"
	[ "$(cat "$W/sub/a.txt" 2>/dev/null)" = "new sub" ] && [ -d "$W/.git/lanser-txn" ] && break
done
check_eq "stuck: a killed apply left the new bytes and its journal" "new sub|$W/.git/lanser-txn" \
	"$(cat "$W/sub/a.txt")|$(journal_left "$W")"
rm -rf "$W/sub"; printf 'in the way\n' >"$W/sub"

cd "$W"
run "$L" --root "$W" --no-daemon outline main.c
rc_is "stuck: a query still answers in-process" 0
check_contains "stuck: with the answer" "$OUT" "helper"
check_contains "stuck: and a warning that says what failed" "$ERR" "could not be undone"
check_contains "stuck: naming the file in the way" "$ERR" "sub/a.txt"
check_contains "stuck: the journal's path" "$ERR" "$W/.git/lanser-txn"
check_contains "stuck: and how to give up the rollback" "$ERR" "rm -rf '$W/.git/lanser-txn'"
inproc=$OUT
run "$L" --root "$W" outline main.c
rc_is "stuck: a query still answers through the daemon" 0
check_eq "stuck: the daemon's answer is the in-process one" "$inproc" "$OUT"
check_contains "stuck: with the same warning" "$ERR" "could not be undone"
run "$L" --root "$W" --json locate main.c@L2:C12
rc_is "stuck: locate answers too" 0
printf '%s' "$(new_file src/other.c x)" >"$TMP/o.diff"
run "$L" --root "$W" patch "$TMP/o.diff"
check_eq "stuck: an edit is refused (71) with the same message" "71 1" \
	"$RC $(printf '%s' "$ERR" | grep -c "could not be undone")"
run "$L" --root "$W" test
check_eq "stuck: tests are refused" "71 1" "$RC $(printf '%s' "$ERR" | grep -c "could not be undone")"
check_eq "stuck: the journal is kept" "$W/.git/lanser-txn" "$(journal_left "$W")"

# the way out it names: move the obstacle away, run any command
rm "$W/sub"
run "$L" --root "$W" --no-daemon outline main.c
check_eq "stuck: once the obstacle is gone the next command finishes the rollback" \
	"0|old sub|" "$RC|$(cat "$W/sub/a.txt")|$(journal_left "$W")"
check_not_contains "stuck: and warns no more" "$ERR" "could not be undone"
snapshot "$W" >"$TMP/now"
if cmp -s "$TMP/before" "$TMP/now"; then ok "stuck: the tree is the one before the apply"
else fail "stuck: the tree is the one before the apply" "$(diff "$TMP/before" "$TMP/now" | head -5)"; fi

# the other way out: drop the journal by hand, keep the tree as it is
for n in $(seq 3 12); do
	rm -rf "$W/sub"; mkdir "$W/sub"; printf 'old sub\n' >"$W/sub/a.txt"
	quiet env LANSER_TXN_KILL_AT=$n "$L" --root "$W" patch --apply "$TMP/k.diff"
	[ "$(cat "$W/sub/a.txt" 2>/dev/null)" = "new sub" ] && [ -d "$W/.git/lanser-txn" ] && break
done
rm -rf "$W/sub"; printf 'in the way\n' >"$W/sub"
run "$L" --root "$W" --no-daemon outline main.c
cmd=$(printf '%s' "$ERR" | grep -o "rm -rf '[^']*'" | head -1)
check_eq "stuck: the message gives the command to drop the journal" "rm -rf '$W/.git/lanser-txn'" "$cmd"
eval "$cmd"
run "$L" --root "$W" patch "$TMP/o.diff"
check_eq "stuck: after it, edits work again" "0|in the way" "$RC|$(cat "$W/sub")"
