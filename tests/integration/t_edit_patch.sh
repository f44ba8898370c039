#!/usr/bin/env bash
# `lanser patch` (issue 5): unified diffs previewed and applied as one
# transaction - modified, added, deleted, renamed files, modes, CRLF,
# "\ No newline at end of file", dirty trees, --commit, conflicts (70).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser

W=$TMP/w
mkdir -p "$W/src" "$W/old"
for i in $(seq 1 12); do echo "line $i"; done >"$W/src/a.txt"
printf 'one\r\ntwo\r\nthree\r\n' >"$W/crlf.txt"
printf '#!/bin/sh\necho hi\n' >"$W/run.sh"; chmod 755 "$W/run.sh"
printf 'no newline at the end' >"$W/nonl.txt"
printf 'bye\n' >"$W/old/gone.txt"
for i in $(seq 1 10); do echo "m$i"; done >"$W/from.txt"
printf 'keep\n' >"$W/mode.txt"
git -C "$W" init -q
git_commit_all "$W"

# the patch, made by git itself
G=$TMP/g; cp -a "$W" "$G"
sed -i 's/^line 6$/line six/' "$G/src/a.txt"
printf 'one\r\n2\r\nthree\r\n' >"$G/crlf.txt"
printf '#!/bin/sh\necho hello\n' >"$G/run.sh"
printf 'no newline at the end, changed' >"$G/nonl.txt"
rm "$G/old/gone.txt"
git -C "$G" mv from.txt to.txt; sed -i 's/^m5$/m five/' "$G/to.txt"
chmod 755 "$G/mode.txt"
mkdir -p "$G/new/dir"; printf 'fresh\n' >"$G/new/dir/f.txt"
git -C "$G" add -A
git -C "$G" diff --cached -M >"$TMP/p.diff"
snapshot "$W" >"$TMP/before"

run "$L" --root "$W" patch "$TMP/p.diff"
rc_is "patch: a preview exits 0" 0
check_contains "patch: the preview is a diff" "$OUT" "+line six"
check_contains "patch: the preview says nothing was written" "$ERR" "preview only"
snapshot "$W" >"$TMP/now"
cmp -s "$TMP/before" "$TMP/now" && ok "patch: a preview writes nothing" || fail "patch: a preview writes nothing"

printf '%s\n' "$OUT" >"$TMP/preview.diff"
if git -C "$W" apply --check "$TMP/preview.diff" 2>"$TMP/gerr"; then ok "patch: git apply accepts lanser's preview"
else fail "patch: git apply accepts lanser's preview" "$(cat "$TMP/gerr")"; fi

# --trace records the patch's bundle, with no server (issue 18, item 2)
run "$L" --root "$W" --json --trace "$TMP/patch.jsonl" patch "$TMP/p.diff"
pid=$(json .bundleId)
run "$L" --root "$W" --json patch "$TMP/p.diff"
check_eq "patch: tracing does not change the bundle" "$pid" "$(json .bundleId)"
run "$L" trace list "$TMP/patch.jsonl"
check_eq "patch: the trace holds header, request, the bundle and end" \
	"header request bundle end" "$(awk '{print $4}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
check_contains "patch: ... the bundle with its id" "$OUT" "bundle   patch $pid exit 0"
run "$L" trace replay --verify "$TMP/patch.jsonl"
rc_is "patch: trace replay --verify checks it without re-running it" 0
check_contains "patch: ... and says so" "$OUT" "verified: 0 bundles"

# a file name that is not UTF-8 cannot be recorded: refused (77), nothing
# written, no abort (issue 18, item 7)
printf 'diff --git a/bad\377.txt b/bad\377.txt\nnew file mode 100644\n--- /dev/null\n+++ b/bad\377.txt\n@@ -0,0 +1 @@\n+x\n' >"$TMP/nonutf8.diff"
for mode in "" --apply; do
	run "$L" --root "$W" --json patch $mode "$TMP/nonutf8.diff"
	check_eq "patch${mode:+ $mode}: a file name that is not UTF-8 is refused (77) with an error bundle" \
		"77 BAD_INPUT_FILE" "$RC $(json .meta.status)"
done
check_contains "patch: ... naming the reason" "$ERR" "not UTF-8"
[ ! -e "$W/$(printf 'bad\377.txt')" ] && ok "patch: ... and nothing is written" \
	|| fail "patch: ... and nothing is written"

run "$L" --root "$W" --json patch "$TMP/p.diff"
id1=$(json .bundleId); run "$L" --root "$W" --json patch "$TMP/p.diff"
check_eq "patch: the preview bundle is the same twice" "$id1" "$(json .bundleId)"
check_json_eq "patch: the bundle's decision is preview" .edit.decision preview
check_schema "patch: the preview bundle is valid under the bundle schema"
check_json_eq "patch: the bundle lists the rename" \
	'[f["from"] for f in b["facts"] if f.get("status") == "renamed"]' '["from.txt"]'

run "$L" --root "$W" --json patch --apply "$TMP/p.diff"
rc_is "patch: --apply exits 0" 0
check_json_eq "patch: the bundle's decision is applied" .edit.decision applied
check_eq "patch: a modified line" "line six" "$(sed -n 6p "$W/src/a.txt")"
check_eq "patch: CRLF stays CRLF" "$(printf 'one\r\n2\r\nthree\r\n' | od -c)" "$(od -c <"$W/crlf.txt")"
check_eq "patch: the executable bit is kept" 755 "$(stat -c %a "$W/run.sh")"
check_eq "patch: a mode change" 755 "$(stat -c %a "$W/mode.txt")"
check_eq "patch: no newline at the end stays so" "no newline at the end, changed|" "$(cat "$W/nonl.txt"; echo '|')"
[ ! -e "$W/old/gone.txt" ] && ok "patch: a deleted file is gone" || fail "patch: a deleted file is gone"
[ ! -e "$W/old" ] && ok "patch: its emptied folder is gone" || fail "patch: its emptied folder is gone"
[ ! -e "$W/from.txt" ] && [ "$(sed -n 5p "$W/to.txt")" = "m five" ] && ok "patch: a renamed and edited file" \
	|| fail "patch: a renamed and edited file"
check_eq "patch: a new file in new folders" fresh "$(cat "$W/new/dir/f.txt")"
git -C "$W" add -A
check_eq "patch: the result is git's own result (same tree)" "$(git -C "$G" write-tree)" "$(git -C "$W" write-tree)"
git -C "$W" reset -q

run "$L" --root "$W" patch --apply --allow-dirty "$TMP/p.diff"
rc_is "patch: applying it twice is a conflict (70)" 70
check_contains "patch: the conflict names the file and hunk" "$OUT" "conflict src/a.txt hunk 1"
run "$L" --root "$W" --json patch --allow-dirty "$TMP/p.diff"
check_schema "patch: the conflict bundle is valid under the bundle schema"
check_json_eq "patch: conflicts are facts with expected and actual lines" \
	'[f["actual"][3] for f in b["facts"] if f["kind"] == "conflict" and f["path"] == "src/a.txt"]' '["line six"]'

# dirty trees
D=$TMP/d; rm -rf "$D"; mkdir -p "$D"; for i in $(seq 1 20); do echo "l$i"; done >"$D/f.txt"
printf 'other\n' >"$D/other.txt"
git -C "$D" init -q; git_commit_all "$D"
printf 'diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n l2\n-l3\n+L3\n l4\n' >"$TMP/d.diff"
mkdir -p "$D/.cache/clangd/index"; echo idx >"$D/.cache/clangd/index/x.idx"
run "$L" --root "$D" patch --apply "$TMP/d.diff"
rc_is "patch: clangd's cache does not make the tree dirty" 0
git -C "$D" checkout -q f.txt
# git's rule (docs/edits.md): unrelated untracked files do not block ...
echo '[]' >"$D/compile_commands.json"; echo '{}' >"$D/.lanser.json"
run "$L" --root "$D" patch --apply "$TMP/d.diff"
rc_is "patch: unrelated untracked files (compile_commands.json, .lanser.json) do not block" 0
check_eq "patch: ... they survive" '[]' "$(cat "$D/compile_commands.json")"
git -C "$D" checkout -q f.txt; rm -f "$D/compile_commands.json" "$D/.lanser.json"
# ... an untracked file the change would create does
printf 'diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+theirs\n' >"$TMP/new.diff"
echo mine >"$D/new.txt"
run "$L" --root "$D" patch --apply "$TMP/new.diff"
rc_is "patch: an untracked file the change would create blocks (70: it already exists)" 70
check_contains "patch: ... the refusal names it" "$OUT" "new.txt"
check_eq "patch: ... and is kept" mine "$(cat "$D/new.txt")"
rm -f "$D/new.txt"
sed -i 's/^l18$/my own edit/' "$D/f.txt"; echo mine >>"$D/other.txt"; echo u >"$D/untracked.txt"
snapshot "$D" >"$TMP/dbefore"
run "$L" --root "$D" patch --apply "$TMP/d.diff"
rc_is "patch: a dirty tree is refused (81)" 81
check_contains "patch: the refusal names a dirty file" "$ERR" "f.txt"
snapshot "$D" >"$TMP/dnow"; cmp -s "$TMP/dbefore" "$TMP/dnow" && ok "patch: the refusal writes nothing" \
	|| fail "patch: the refusal writes nothing"
run "$L" --root "$D" patch --apply --allow-dirty --commit "fix l3" "$TMP/d.diff"
rc_is "patch: --commit refuses a touched file with uncommitted changes (81)" 81
snapshot "$D" >"$TMP/dnow"; cmp -s "$TMP/dbefore" "$TMP/dnow" && ok "patch: ... and writes nothing" \
	|| fail "patch: ... and writes nothing"
run "$L" --root "$D" patch --apply --allow-dirty "$TMP/d.diff"
rc_is "patch: --allow-dirty applies over the user's edit in the same file" 0
check_eq "patch: the user's edit in the same file survives" "my own edit" "$(sed -n 18p "$D/f.txt")"
git -C "$D" checkout -q f.txt
run "$L" --root "$D" patch --apply --allow-dirty --commit "fix l3" "$TMP/d.diff"
rc_is "patch: --allow-dirty --commit applies" 0
check_eq "patch: the patched line" L3 "$(sed -n 3p "$D/f.txt")"
check_eq "patch: the user's other changes survive" "$(printf 'other\nmine')" "$(cat "$D/other.txt")"
check_eq "patch: untracked files survive" u "$(cat "$D/untracked.txt")"
check_eq "patch: the commit has the message" "fix l3" "$(git -C "$D" log -1 --format=%s)"
check_eq "patch: the commit holds the patch" \
	"$(printf 'l1\nl2\nL3')" "$(git -C "$D" show HEAD:f.txt | sed -n '1,3p')"
check_eq "patch: the commit does not hold the user's other changes" "other" "$(git -C "$D" show HEAD:other.txt)"
check_eq "patch: the commit's parent is the old HEAD" "base" "$(git -C "$D" log -1 --format=%s HEAD~1)"
check_contains "patch: git still sees the user's edits as uncommitted" \
	"$(git -C "$D" status --porcelain)" " M other.txt"
check_contains "patch: the commit id is printed" "$OUT" "commit $(git -C "$D" rev-parse HEAD)"

# an agent's patch: no CR on a CRLF file, from standard input
C=$TMP/c; mkdir -p "$C"; printf 'a\r\nb\r\nc\r\n' >"$C/w.txt"; git -C "$C" init -q; git_commit_all "$C"
printf -- '--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n' >"$TMP/c.diff"
run sh -c "'$L' --root '$C' patch --apply - <'$TMP/c.diff'"
rc_is "patch: an LF patch from stdin applies to a CRLF file" 0
check_eq "patch: ... and the file stays CRLF" "$(printf 'a\r\nB\r\nc\r\n' | od -c)" "$(od -c <"$C/w.txt")"

# malformed input
printf 'diff --git a/w.txt b/w.txt\n--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n a\n' >"$TMP/bad.diff"
run "$L" --root "$C" patch "$TMP/bad.diff"
rc_is "patch: a truncated hunk is bad input (77)" 77
printf 'hello\n' >"$TMP/none.diff"
run "$L" --root "$C" patch "$TMP/none.diff"
rc_is "patch: text without changes is bad input (77)" 77
run "$L" --root "$C" patch "$TMP/missing.diff"
rc_is "patch: a missing patch file is not found (3)" 3

# a linked worktree: the journal goes to its own git directory
LW=$TMP/linked
git -C "$C" worktree add -q "$LW" 2>/dev/null
run "$L" --root "$LW" patch --apply "$TMP/c.diff"
rc_is "patch: applies in a linked worktree" 0
check_eq "patch: ... to the worktree's file" "$(printf 'a\r\nB\r\nc\r\n' | od -c)" "$(od -c <"$LW/w.txt")"
git -C "$LW" checkout -q w.txt
{ ( LANSER_TXN_KILL_AT=5 "$L" --root "$LW" patch --apply "$TMP/c.diff" ) >/dev/null 2>&1; } 2>/dev/null
gd=$(git -C "$LW" rev-parse --git-dir)
[ -d "$gd/lanser-txn" ] && ok "patch: a killed apply leaves its journal in the worktree's git dir" \
	|| fail "patch: a killed apply leaves its journal in the worktree's git dir" "$(ls -a "$gd")"
run "$L" --root "$LW" patch "$TMP/c.diff"
rc_is "patch: the next command recovers the linked worktree" 0
check_eq "patch: ... back to the state before" "$(printf 'a\r\nb\r\nc\r\n' | od -c)" "$(od -c <"$LW/w.txt")"
[ ! -e "$gd/lanser-txn" ] && ok "patch: ... and drops the journal" || fail "patch: ... and drops the journal"

# a workspace that is a folder of the repository (.lanser.json there)
S=$TMP/sub; mkdir -p "$S/pkg"; printf '{}\n' >"$S/pkg/.lanser.json"; printf 'x\ny\n' >"$S/pkg/f.txt"
printf 'top\n' >"$S/top.txt"; git -C "$S" init -q; git_commit_all "$S"
printf -- '--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n x\n-y\n+Y\n' >"$TMP/s.diff"
run sh -c "cd '$S/pkg' && '$L' patch --apply --commit sub '$TMP/s.diff'"
rc_is "patch: applies in a workspace below the repository's top" 0
check_eq "patch: the commit has the file at its repository path" "$(printf 'x\nY')" "$(git -C "$S" show HEAD:pkg/f.txt)"
check_eq "patch: ... and the rest of the tree" top "$(git -C "$S" show HEAD:top.txt)"
# clangd's cache of a workspace below the top does not count, even tracked and changed
mkdir -p "$S/pkg/.cache/clangd/index"; echo a >"$S/pkg/.cache/clangd/index/x.idx"
git -C "$S" add -f pkg/.cache/clangd/index/x.idx; git_commit_all "$S"
echo b >"$S/pkg/.cache/clangd/index/x.idx"
printf -- '--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n x\n-Y\n+Z\n' >"$TMP/s2.diff"
run sh -c "cd '$S/pkg' && '$L' patch --apply '$TMP/s2.diff'"
rc_is "patch: clangd's cache below the repository's top does not make the tree dirty" 0

# two applies at once: serialised by the lock, both land
K=$TMP/k; mkdir -p "$K"; for f in x y; do printf '%s1\n%s2\n' $f $f >"$K/$f.txt"; done
git -C "$K" init -q; git_commit_all "$K"
printf -- '--- a/x.txt\n+++ b/x.txt\n@@ -1,2 +1,2 @@\n x1\n-x2\n+X2\n' >"$TMP/kx.diff"
printf -- '--- a/y.txt\n+++ b/y.txt\n@@ -1,2 +1,2 @@\n y1\n-y2\n+Y2\n' >"$TMP/ky.diff"
LANSER_TXN_STEP_US=20000 "$L" --root "$K" patch --apply --allow-dirty "$TMP/kx.diff" >/dev/null 2>&1 & p1=$!
LANSER_TXN_STEP_US=20000 "$L" --root "$K" patch --apply --allow-dirty "$TMP/ky.diff" >/dev/null 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check_eq "patch: two concurrent applies both succeed" "0 0" "$r1 $r2"
check_eq "patch: ... and both changes are there" "X2 Y2" "$(sed -n 2p "$K/x.txt") $(sed -n 2p "$K/y.txt")"
