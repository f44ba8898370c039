#!/usr/bin/env bash
# One compilation-database lookup for every command (issue 12, item 5;
# docs/compile-db.md). tests/fixtures/cbuilddb keeps its database in
# build/ (as CMake writes it) only: three files include include/box.h, and a
# patch renaming a field of its struct breaks all three. Queries and eval's
# base worktree both find it, and doctor says where it is.
. "$(dirname "$0")/lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
c=$(fixture cbuilddb) || { fail "compiledb: copy cbuilddb" "fixture failed"; exit 1; }
printf '{"test": ["true"], "policy": {"requireTests": false}}\n' >"$c/.lanser.json"
(cd "$c" && $GIT add -A && $GIT commit -qm base) || exit 1
sed "s#@ROOT@#$c#g" "$c/build/compile_commands.json.in" >"$c/build/compile_commands.json"
(cd "$c" && sed -i 's/int w;/int width;/' include/box.h && git diff >"$TMP/box.diff" && git checkout -q -- .)

cd "$c" || exit 1
check_rc_as "compiledb: a query finds build/compile_commands.json" 0 "$L" --no-daemon --json diag src/a.c
check_json_eq "compiledb: ... and its answer is complete (the index came)" .complete true

run "$L" --root "$c" --json eval --patch "$TMP/box.diff"
check_eq "compiledb: eval of a header change that breaks three files: exit 84" 84 "$RC"
check_json_eq "compiledb: eval reports the three broken files" \
	'sorted({f["path"] for f in b["facts"] if f["kind"] == "diagnostic"})' \
	'["src/a.c","src/b.c","src/c.c"]'
check_json_eq "compiledb: eval counts three new errors" .outcome.diagnostics.newErrors 3

run "$L" --root "$c" --json doctor
check_json_eq "compiledb: doctor says where the database is" \
	'b["workspace"]["compilationDatabase"]["path"]' build/compile_commands.json
check_json_eq "compiledb: doctor counts the files it covers" \
	'b["workspace"]["compilationDatabase"]["entries"]' 3
cd "$LANSER_REPO_ROOT" || exit 1
