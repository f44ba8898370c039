#!/usr/bin/env bash
# Ignored files are not project files (issue 12, item 4; core/ignore.h).
# tests/fixtures/cignored is a CMake-like C project whose build/ folder
# (ignored by its .gitignore) holds a copy of the public header
# build/include/vec.h, a compiler_depend.ts timestamp file and the
# compilation database; app/main.c is compiled against the copy.
# Selectors are not ambiguous between the header and its copy, workspace
# diag lists no ignored file and starts no TypeScript server, rename
# --apply leaves the copy alone, a patch writing the copy is refused (71),
# and the "exclude" setting leaves out a folder git does not ignore.
. "$(dirname "$0")/lib.sh"
need_lanser

c=$(fixture cignored) || { fail "ignore: copy cignored" "fixture failed"; exit 1; }
sed "s#@ROOT@#$c#g" "$c/build/compile_commands.json.in" >"$c/build/compile_commands.json"
git -C "$c" add -A && git -C "$c" -c user.email=t@t -c user.name=t commit -qm base ||
	{ fail "ignore: commit the fixture" "git failed"; exit 1; }
cd "$c" || exit 1

check_rc_as "ignore: c:// selector of a header copied into build/ is not ambiguous" 0 "$L" --no-daemon --json locate 'c://#VEC_MAX:name'
check_json_eq "ignore: ... and lands in the real header" '[b["resolution"]["path"]] + b["facts"][0]["range"]' \
	'["include/vec.h",4,9,4,16]'

check_rc_as "ignore: workspace diag" 0 "$L" --no-daemon --json diag
check_json_eq "ignore: workspace diag reads no ignored file" \
	'sorted(d["path"] for d in b["inputs"]["documents"])' '["app/main.c","include/vec.h","src/vec.c"]'
check_json_eq "ignore: no TypeScript server for CMake's compiler_depend.ts" \
	'sorted(s["profile"] for s in b["environment"]["servers"])' '["clangd"]'

# app/main.c is compiled against the copy: clangd answers there, lanser
# names the project's header (the same bytes)
check_rc_as "ignore: def of a type declared in the copied header" 0 "$L" --no-daemon --json def app/main.c@L5:C9
check_json_eq "ignore: ... lands in the real header, not the ignored copy" \
	'[[f["path"]] + f["range"][:2] for f in b["facts"]]' '[["include/vec.h",6,8]]'
check_rc_as "ignore: rename --apply" 0 "$L" --no-daemon --json rename 'c://src/vec.c#vec_sum:name' vec_total --apply
check_eq "ignore: rename --apply left the ignored copy alone" "1" "$(grep -c 'int vec_sum(' build/include/vec.h)"
check_eq "ignore: rename --apply renamed the real header" "1" "$(grep -c 'int vec_total(' include/vec.h)"
git checkout -q . 

printf -- '--- a/build/include/vec.h\n+++ b/build/include/vec.h\n@@ -1,1 +1,1 @@\n-#ifndef VEC_H\n+#ifndef VEC_H_\n' >"$TMP/ign.patch"
check_rc_as "ignore: a patch writing an ignored file is refused" 71 "$L" --no-daemon patch "$TMP/ign.patch" --apply
check_contains "ignore: ... saying why" "$ERR" "ignored by git"

# "exclude": a folder git tracks, left out by the configuration
mkdir -p vendor && cp include/vec.h vendor/vec.h && git add vendor && git -c user.email=t@t -c user.name=t commit -qm vendor
check_rc_as "ignore: a tracked copy makes the selector ambiguous" 4 "$L" --no-daemon locate 'c://#VEC_MAX:name'
printf '{"exclude": ["vendor"]}\n' >.lanser.json
check_rc_as "ignore: exclude leaves the folder out (untrusted too)" 0 "$L" --no-daemon --json locate 'c://#VEC_MAX:name'
printf '{"exclude": "vendor"}\n' >.lanser.json
check_rc_as "ignore: a malformed exclude is a configuration error" 78 "$L" --no-daemon locate 'c://#VEC_MAX:name'
rm -f .lanser.json
cd "$LANSER_REPO_ROOT" || exit 1
