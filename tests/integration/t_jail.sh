#!/usr/bin/env bash
# The workspace jail (issue 5): hostile patches through `lanser patch
# --apply` are refused whole (exit 71 PERMISSION, 77 for oversized input),
# nothing is written inside or outside the workspace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser

OUTSIDE=$TMP/outside
mkdir -p "$OUTSIDE"
printf 'outside\n' >"$OUTSIDE/target.txt"
W=$TMP/w
mkdir -p "$W/src" "$W/inner"
printf 'ok\n' >"$W/ok.txt"
printf 'int x;\n' >"$W/src/a.c"
printf 'inner\n' >"$W/inner/file.txt"
ln -s "$OUTSIDE" "$W/linkdir"
ln -s "$OUTSIDE/target.txt" "$W/linkfile"
ln -s inner "$W/innerlink"
git -C "$W" init -q
git_commit_all "$W"

# a valid change to ok.txt, first in every patch: all or nothing
good='diff --git a/ok.txt b/ok.txt
--- a/ok.txt
+++ b/ok.txt
@@ -1 +1 @@
-ok
+changed
'
new_file() { # NAME(as written in the patch, already quoted if needed)
	printf 'diff --git a/%s b/%s\nnew file mode 100644\n--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+evil\n' "$1" "$1" "$1"
}

snapshot "$W" >"$TMP/before"
outside_before=$(cd "$TMP" && find outside -printf '%p %s\n' | sort; cat outside/target.txt)

attempt() { # NAME EXPECTED-RC PATCH-TEXT
	printf '%s%s' "$good" "$3" >"$TMP/p.diff"
	run "$L" --root "$W" patch --apply "$TMP/p.diff"
	rc_is "jail: $1 is refused (exit $2)" "$2"
	[ -n "${JAIL_VERBOSE:-}" ] && echo "# $ERR"
	snapshot "$W" >"$TMP/now"
	if cmp -s "$TMP/before" "$TMP/now"; then ok "jail: $1: nothing written in the workspace"
	else fail "jail: $1: nothing written in the workspace" "$(diff "$TMP/before" "$TMP/now" | head -5)"; fi
	check_eq "jail: $1: nothing written outside" "$outside_before" \
		"$(cd "$TMP" && find outside -printf '%p %s\n' | sort; cat outside/target.txt)"
}

attempt "../../etc/passwd" 71 "$(printf 'diff --git a/../../etc/passwd b/../../etc/passwd\n--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-root\n+evil\n')"
attempt "a ../ escape into a sibling folder" 71 "$(new_file ../outside/new.txt)"
attempt "an absolute path" 71 "$(printf -- '--- /dev/null\n+++ %s/evil.txt\n@@ -0,0 +1 @@\n+evil\n' "$OUTSIDE")"
attempt "an absolute path in a plain diff beside a relative one" 71 "$(printf -- '--- a/src/a.c\n+++ %s/evil2.c\n@@ -1 +1 @@\n-int x;\n+int y;\n' "$OUTSIDE")"
attempt "a folder symlink pointing out (existing)" 71 "$(new_file linkdir/evil.txt)"
attempt "a file symlink pointing out (existing)" 71 "$(printf 'diff --git a/linkfile b/linkfile\n--- a/linkfile\n+++ b/linkfile\n@@ -1 +1 @@\n-outside\n+evil\n')"
attempt "a folder symlink pointing inside" 71 "$(new_file innerlink/evil.txt)"
attempt "a symlink created by the patch" 71 "$(printf 'diff --git a/evil b/evil\nnew file mode 120000\n--- /dev/null\n+++ b/evil\n@@ -0,0 +1 @@\n+%s\n\\ No newline at end of file\ndiff --git a/evil/x b/evil/x\nnew file mode 100644\n--- /dev/null\n+++ b/evil/x\n@@ -0,0 +1 @@\n+x\n' "$OUTSIDE")"
attempt "a file turned into a symlink" 71 "$(printf 'diff --git a/src/a.c b/src/a.c\nold mode 100644\nnew mode 120000\n')"
attempt ".git/config" 71 "$(printf 'diff --git a/.git/config b/.git/config\n--- a/.git/config\n+++ b/.git/config\n@@ -1 +1 @@\n-[core]\n+[evil]\n')"
attempt ".GIT/hooks/x" 71 "$(new_file .GIT/hooks/x)"
attempt "src/.Git/config (any depth, any case)" 71 "$(new_file src/.Git/config)"
attempt "a NUL byte in a name" 71 "$(new_file '"ev\000il.txt"' | sed 's#a/"#"a/#; s#b/"#"b/#g')"
attempt "a newline in a name" 71 "$(printf 'diff --git "a/ev\\nil" "b/ev\\nil"\nnew file mode 100644\n--- /dev/null\n+++ "b/ev\\nil"\n@@ -0,0 +1 @@\n+x\n')"
attempt "a rename whose destination escapes" 71 "$(printf 'diff --git a/src/a.c b/../escaped.c\nsimilarity index 100%%\nrename from src/a.c\nrename to ../escaped.c\n')"
attempt "a copy whose destination escapes" 71 "$(printf 'diff --git a/src/a.c b/../copied.c\nsimilarity index 100%%\ncopy from src/a.c\ncopy to ../copied.c\n')"
attempt "a rename into .git" 71 "$(printf 'diff --git a/src/a.c b/.git/hooks/pre-commit\nsimilarity index 100%%\nrename from src/a.c\nrename to .git/hooks/pre-commit\n')"
attempt "clangd's cache" 71 "$(new_file .cache/clangd/index/x.idx)"
attempt "a 300-byte name component" 77 "$(new_file "src/$(head -c 300 /dev/zero | tr '\0' n).c")"
attempt "a 5000-byte path" 77 "$(new_file "$(for i in $(seq 1 50); do printf 'dir%096d/' "$i"; done)x.c")"
attempt "a 10 MB patch line" 77 "$(printf 'diff --git a/big b/big\nnew file mode 100644\n--- /dev/null\n+++ b/big\n@@ -0,0 +1 @@\n+'; head -c 10485760 /dev/zero | tr '\0' x; printf '\n')"
attempt "a binary patch" 77 "$(printf 'diff --git a/bin b/bin\nnew file mode 100644\nGIT binary patch\nliteral 3\nKcmZ?wU;qFB0RR91\n\nliteral 0\nHcmV?d00001\n')"

# allow/deny patterns from .lanser.json
printf '{"jail": {"deny": ["src/"], "allow": ["*.txt", "src/*"]}}\n' >"$W/.lanser.json"
git_commit_all "$W"
snapshot "$W" >"$TMP/before"
attempt "a path denied by jail.deny" 71 "$(printf 'diff --git a/src/a.c b/src/a.c\n--- a/src/a.c\n+++ b/src/a.c\n@@ -1 +1 @@\n-int x;\n+int y;\n')"
attempt "a path outside jail.allow" 71 "$(new_file other.md)"
printf '%s' "$good" >"$TMP/p.diff"
run "$L" --root "$W" patch --apply "$TMP/p.diff"
rc_is "jail: a path jail.allow matches is written" 0
check_eq "jail: ... and its content changed" "changed" "$(cat "$W/ok.txt")"
printf '{"jail": {"deny": "src"}}\n' >"$W/.lanser.json"
run "$L" --root "$W" patch "$TMP/p.diff"
rc_is "jail: a malformed jail member is a config error (78)" 78

# --- a repository's own git configuration names host files (core/gitlib.h):
# core.excludesFile (directly, or through include.path) points outside the
# workspace at ignore rules this script owns that would hide gen/; lanser's
# libgit2 does not read them for an untrusted workspace, so a patch creating
# gen/new.c is not refused as "ignored by git"; with --trust git's rule holds
H=$TMP/hostile-git
mkdir -p "$H/src"
printf 'int h;\n' >"$H/src/a.c"
git -C "$H" init -q
git_commit_all "$H"
printf 'gen/\n' >"$OUTSIDE/hostile-ignore"
printf '[core]\n\texcludesFile = %s\n' "$OUTSIDE/hostile-ignore" >"$OUTSIDE/hostile-include"
newgen=$(printf 'diff --git a/gen/new.c b/gen/new.c\nnew file mode 100644\n--- /dev/null\n+++ b/gen/new.c\n@@ -0,0 +1 @@\n+int g;\n')
printf '%s\n' "$newgen" >"$TMP/gen.diff"
git -C "$H" config core.excludesFile "$OUTSIDE/hostile-ignore"
check_eq "jail: the hostile repository's core.excludesFile hides gen/ for git itself" "gen/new.c" \
	"$(mkdir -p "$H/gen" && : >"$H/gen/new.c" && git -C "$H" check-ignore gen/new.c; rm -rf "$H/gen")"
run "$L" --root "$H" --trust patch --apply "$TMP/gen.diff"
rc_is "jail: with --trust the repository's core.excludesFile is git's rule (71, ignored)" 71
run "$L" --root "$H" patch --apply "$TMP/gen.diff"
rc_is "jail: untrusted, core.excludesFile outside the workspace is not read (the patch applies)" 0
check_eq "jail: ... gen/new.c was written" "int g;" "$(cat "$H/gen/new.c" 2>/dev/null)"
rm -rf "$H/gen"
git -C "$H" config --unset core.excludesFile
git -C "$H" config include.path "$OUTSIDE/hostile-include"
run "$L" --root "$H" --trust patch "$TMP/gen.diff"
rc_is "jail: with --trust, include.path brings the excludesFile in (71)" 71
# untrusted, an include naming a file outside the repository is refused
# before libgit2 could read it (core/gitvet.h; t_gitconfig.sh has the rest)
run "$L" --root "$H" patch --apply "$TMP/gen.diff"
rc_is "jail: untrusted, include.path naming a host file is refused (71)" 71
check_contains "jail: ... the message names the include and the way out" "$ERR" "include.path names $OUTSIDE/hostile-include"
check_eq "jail: ... nothing was written" "" "$(cat "$H/gen/new.c" 2>/dev/null)"
rm -rf "$H/gen"
