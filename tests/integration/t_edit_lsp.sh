#!/usr/bin/env bash
# Edits from real language servers (issue 5): prepare-rename, multi-file
# rename (clangd, pyright), code actions (clangd), and verified apply
# (--verify diagnostics rolls back an edit that adds an error, exit 82).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser

C=$(fixture cproj); git_commit_all "$C"
cd "$C" || exit 1

run "$L" prepare-rename src/main.c@L14:C2
rc_is "edit: prepare-rename on list_push (clangd)" 0
check_eq "edit: prepare-rename gives the symbol's range" "src/main.c:14:2-14:11" "$OUT"
run "$L" prepare-rename src/main.c@L1:C1
rc_is "edit: prepare-rename where there is no symbol is not found (3)" 3

snapshot "$C" >"$TMP/c-before"
run "$L" rename src/main.c@L14:C2 list_append
rc_is "edit: rename preview (clangd)" 0
check_eq "edit: the preview touches the four files" \
	"include/list.h src/list.c src/main.c tests/test_list.c" \
	"$(grep '^diff --git' <<<"$OUT" | awk '{print substr($4, 3)}' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "edit: the preview renames all 9 occurrences" 9 "$(grep -c '^+.*list_append' <<<"$OUT")"
snapshot "$C" >"$TMP/c-now"
cmp -s "$TMP/c-before" "$TMP/c-now" && ok "edit: a rename preview writes nothing" \
	|| fail "edit: a rename preview writes nothing"

run "$L" --json rename src/main.c@L14:C2 list_append
id1=$(json .bundleId)
run "$L" --json rename src/main.c@L14:C2 list_append
check_eq "edit: the rename preview's bundleId is the same twice" "$id1" "$(json .bundleId)"
check_not_contains "edit: no absolute workspace path in the bundle's hashed part" \
	"$(json 'json.dumps({k: v for k, v in b.items() if k != "meta"})')" "$C"

# --trace records an edit's bundle like a query's (issue 18, item 2); a
# replay checks it against its id and does not claim to have re-run it
run "$L" --trace "$TMP/edit.jsonl" --json rename src/main.c@L14:C2 list_append
check_eq "edit: a traced rename preview has the same bundleId" "$id1" "$(json .bundleId)"
run "$L" trace list "$TMP/edit.jsonl" --event bundle
check_contains "edit: trace list shows the rename's bundle" "$OUT" "bundle   rename $id1 exit 0"
run "$L" trace show "$TMP/edit.jsonl" --event bundle
check_eq "edit: trace show gives the whole bundle, diff included" "$id1 preview 4" \
	"$(json '" ".join([b["bundle"]["bundleId"], b["bundle"]["edit"]["decision"], str(len([f for f in b["bundle"]["facts"] if f["kind"] == "edit"]))])')"
run "$L" trace replay --verify "$TMP/edit.jsonl"
rc_is "edit: trace replay --verify accepts the edit's trace" 0
check_contains "edit: ... and says the edit's bundle was checked, not re-run" "$OUT" \
	"verified: 0 bundles, 0 rewards and 0 advantage groups recomputed from $TMP/edit.jsonl, all equal (bundles of other commands, such as edits, are checked against their bundleId, not re-run)"
sed 's/"decision":"preview"/"decision":"applied"/' "$TMP/edit.jsonl" >"$TMP/edit-bad.jsonl"
run "$L" trace replay --verify "$TMP/edit-bad.jsonl"
rc_is "edit: an edited edit bundle in a trace is a malformed trace (85)" 85

# the daemon answers about the old text, then sees the applied change
run "$L" symbols src/list.c
check_contains "edit: the daemon's symbols before the rename" "$OUT" "list_push"
run "$L" --json rename src/main.c@L14:C2 list_append --apply --commit "rename list_push"
rc_is "edit: rename --apply --commit (clangd)" 0
check_json_eq "edit: the bundle says applied" .edit.decision applied
check_schema "edit: the rename bundle is valid under the bundle schema"
check_json_eq "edit: the bundle records the commit" .edit.commit "$(git rev-parse HEAD)"
check_json_eq "edit: the bundle records the prepareRename gate" \
	'[f["kind"] for f in b["facts"] if f["kind"] == "prepareRename"]' '["prepareRename"]'
check_eq "edit: no list_push is left" 0 "$(grep -rc 'list_push' src include tests | awk -F: '{s+=$2} END {print s}')"
check_eq "edit: the commit holds the rename" "rename list_push" "$(git log -1 --format=%s)"
check_eq "edit: the tree is clean after the commit" "" "$(git status --porcelain)"
if make -s >/dev/null 2>&1 && ./listdemo >/dev/null; then ok "edit: the renamed project builds and runs"
else fail "edit: the renamed project builds and runs"; fi
run "$L" symbols src/list.c
check_contains "edit: the daemon sees the new name at once" "$OUT" "list_append"
check_not_contains "edit: ... and not the old one" "$OUT" "list_push"
git clean -qfdx -e compile_commands.json

# verified apply: an edit that breaks a call is rolled back
printf 'diff --git a/src/main.c b/src/main.c\n--- a/src/main.c\n+++ b/src/main.c\n@@ -14 +14 @@\n-\tlist_append(&numbers, 3);\n+\tlist_append(&numbers);\n' >"$TMP/break.diff"
snapshot "$C" >"$TMP/c-before"
run "$L" --json patch --apply --verify diagnostics "$TMP/break.diff"
rc_is "edit: --verify rolls back an edit that adds an error (82)" 82
check_json_eq "edit: the bundle's decision is rolledBack" .edit.decision rolledBack
check_schema "edit: the rolled-back bundle is valid under the bundle schema"
check_json_eq "edit: the bundle counts the new error" .edit.verify.newErrors 1
check_json_eq "edit: the bundle has the diagnostics after" 'len(b["edit"]["verify"]["after"])' 1
check_contains "edit: the bundle has the diff" "$(json .edit.diff)" "+	list_append(&numbers);"
snapshot "$C" >"$TMP/c-now"
cmp -s "$TMP/c-before" "$TMP/c-now" && ok "edit: the rollback restores the tree exactly" \
	|| fail "edit: the rollback restores the tree exactly" "$(diff "$TMP/c-before" "$TMP/c-now" | head)"
run "$L" patch --apply --verify diagnostics --max-new-errors 1 "$TMP/break.diff"
rc_is "edit: --max-new-errors 1 keeps it" 0
git checkout -q src/main.c
# a header change: its includers are checked too
printf 'diff --git a/include/list.h b/include/list.h\n--- a/include/list.h\n+++ b/include/list.h\n@@ -21 +21 @@\n-int list_append(struct list *self, int value);\n+int list_append(struct list *self, int value, int extra);\n' >"$TMP/hdr.diff"
run "$L" --json patch --apply --verify diagnostics "$TMP/hdr.diff"
rc_is "edit: a header change that breaks its includers is rolled back" 82
check_json_eq "edit: the includers were checked" \
	'sorted(set(d["path"] for d in b["edit"]["verify"]["after"]))' '["src/list.c","src/main.c","tests/test_list.c"]'
check_eq "edit: the header is back" "" "$(git status --porcelain)"
run "$L" rename src/main.c@L14:C2 list_add --apply --verify diagnostics
rc_is "edit: a verified rename is kept" 0
check_contains "edit: ... and says so" "$ERR" "0 new error(s), 0 allowed: applied"
git checkout -q .

# pyright: a multi-file rename
P=$(fixture pyproj); git_commit_all "$P"
cd "$P" || exit 1
run "$L" rename app.py@L3:C39 enroll
rc_is "edit: rename preview (pyright)" 0
check_eq "edit: pyright's rename touches three files" "app.py shapes/registry.py tests/test_shapes.py" \
	"$(grep '^diff --git' <<<"$OUT" | awk '{print substr($4, 3)}' | sort | tr '\n' ' ' | sed 's/ $//')"
run "$L" rename app.py@L3:C39 enroll --apply --verify diagnostics
rc_is "edit: rename --apply --verify (pyright)" 0
check_eq "edit: no 'register' call is left" "" "$(grep -rn 'register(' --include=*.py . | grep -v '^./tests/__pycache__')"
if /usr/bin/python3 -m pytest -q -p no:cacheprovider >/dev/null 2>&1; then ok "edit: the renamed package's tests pass"
else fail "edit: the renamed package's tests pass" "$(/usr/bin/python3 -m pytest -q -p no:cacheprovider 2>&1 | tail -5)"; fi
git checkout -q .; git clean -qfdx
printf 'diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -7 +7 @@\n-    small = Circle("small", 1.0)\n+    small = Circle("small")\n' >"$TMP/pybreak.diff"
run "$L" patch --apply --verify diagnostics "$TMP/pybreak.diff"
rc_is "edit: pyright's new error rolls the patch back (82)" 82
check_eq "edit: app.py is unchanged" "" "$(git status --porcelain)"

# code actions (clangd quick fix)
F=$(fixture cproj-fix); git_commit_all "$F"
cd "$F" || exit 1
run "$L" actions fix.c@L8:C2
rc_is "edit: actions lists clangd's quick fix" 0
check_contains "edit: the fix is offered" "$OUT" "1. change 'countr' to 'counter' [quickfix]"
run "$L" actions fix.c@L8:C2 --pick 1
rc_is "edit: actions --pick 1 previews" 0
check_contains "edit: the preview is the fix" "$OUT" "+	counter += 1;"
check_eq "edit: the preview writes nothing" "" "$(git status --porcelain)"
run "$L" --json actions fix.c@L8:C2
check_schema "edit: the actions bundle is valid under the bundle schema"
run "$L" --json prepare-rename fix.c@L8:C2
check_schema "edit: the prepare-rename bundle is valid under the bundle schema"
run "$L" actions fix.c@L8:C2 --pick 7
rc_is "edit: picking an action that is not there is not found (3)" 3
run "$L" actions fix.c@L8:C2 --apply
rc_is "edit: actions --apply without --pick is a usage error" 129
run "$L" actions fix.c@L8:C2 --pick 1 --apply
rc_is "edit: actions --pick 1 --apply" 0
check_eq "edit: the fix is written" "	counter += 1;" "$(sed -n 8p fix.c)"
run "$L" diag fix.c
check_contains "edit: clangd sees no error after the fix" "$OUT" "0 errors"

# positions after an emoji, a combining accent and CJK text: pyright edits
# in UTF-16, clangd in its negotiated encoding; the result must be exact
U=$(fixture unicode); git_commit_all "$U"
cd "$U" || exit 1
col() { # FILE LINE WORD -> 1-based code point column of WORD on LINE
	/usr/bin/python3 -c 'import sys; l = open(sys.argv[1], encoding="utf-8").read().split("\n")[int(sys.argv[2]) - 1]; print(l.index(sys.argv[3]) + 1)' "$@"
}
sed 's/target_name/tgt/g' uni.py >"$TMP/uni.py.want"
run "$L" rename "uni.py@L7:C$(col uni.py 7 target_name)" tgt --apply
rc_is "edit: rename after an emoji (pyright, UTF-16)" 0
cmp -s uni.py "$TMP/uni.py.want" && ok "edit: ... gives exactly the expected file" \
	|| fail "edit: ... gives exactly the expected file" "$(diff "$TMP/uni.py.want" uni.py)"
sed 's/\bshout\b/yell/g' uni.c >"$TMP/uni.c.want"
run "$L" rename "uni.c@L18:C$(col uni.c 18 shout)" yell --apply --allow-dirty
rc_is "edit: rename called after an emoji and an accent (clangd)" 0
cmp -s uni.c "$TMP/uni.c.want" && ok "edit: ... gives exactly the expected file" \
	|| fail "edit: ... gives exactly the expected file" "$(diff "$TMP/uni.c.want" uni.c)"
run "$L" --index-io utf-16 rename "uni.py@L15:C$(( $(col uni.py 15 shout) + 1 ))" cry
rc_is "edit: a UTF-16 column (--index-io utf-16) resolves the same symbol" 0
check_contains "edit: ... and renames it" "$OUT" 'loud = cry(名前)'

# the verify threshold's default from .lanser.json
cd "$C" || exit 1
git checkout -q . 2>/dev/null; git clean -qfdx -e compile_commands.json
printf '{"verify": {"maxNewErrors": 1}}\n' >.lanser.json; git_commit_all "$C"
run "$L" --json patch --apply --verify diagnostics "$TMP/break.diff"
rc_is "edit: verify.maxNewErrors in .lanser.json tolerates one new error" 0
check_json_eq "edit: ... and the bundle records the threshold" .request.options.maxNewErrors 1
git checkout -q src/main.c
run "$L" patch --apply --verify diagnostics --max-new-errors 0 "$TMP/break.diff"
rc_is "edit: --max-new-errors 0 overrides it" 82
printf '{"verify": {"maxNewErrors": "x"}}\n' >.lanser.json
run "$L" patch --verify diagnostics "$TMP/break.diff"
rc_is "edit: a malformed verify.maxNewErrors is a config error (78)" 78
