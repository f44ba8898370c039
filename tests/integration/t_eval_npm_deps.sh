#!/usr/bin/env bash
# An npm project's installed dependencies reach its candidates (found on
# minimist: `npm test` failed "eslint: not found" for every candidate, a good
# patch was REJECTED and a group had no signal). node_modules is not in git,
# so a candidate worktree has none: its box sees the workspace's read-only
# at <worktree>/node_modules (docs/sandbox.md, "Candidate worktrees"). A test that writes there fails and the workspace's copy is
# unchanged.
. "$(dirname "$0")/lib.sh"
need_lanser

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	skip "npm dependencies in candidate worktrees" "node/npm not installed"
	exit 0
fi
GIT="git -c user.email=t@example.com -c user.name=t"
P=$(fixture npm-deps)
(cd "$P" && $GIT add -A && $GIT commit -qm base) || exit 1
cd "$TMP" || exit 1

# "npm install": a dependency in node_modules, untracked (the .gitignore)
mkdir -p "$P/node_modules/tap-lite"
cat >"$P/node_modules/tap-lite/index.js" <<'EOF'
'use strict';
let n = 0, bad = 0;
exports.check = (name, ok) => { n++; if (!ok) bad++; console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${name}`); };
exports.done = () => { console.log(`1..${n}`); process.exitCode = bad ? 1 : 0; };
EOF
printf '{"name": "tap-lite", "version": "1.0.0", "main": "index.js"}\n' >"$P/node_modules/tap-lite/package.json"

mkpatch() {
	(cd "$P" && eval "$2" && git diff >"$TMP/$1" && git checkout -q -- .)
	[ -s "$TMP/$1" ] || echo "mkpatch: $1 is empty" >&2
}
mkpatch good.diff "sed -i 's/return a + b;/return b + a;/' index.js"
mkpatch wrong.diff "sed -i 's/return a + b;/return a - b;/' index.js"
# a test that tries to change the installed dependency
mkpatch poison.diff "printf \"require('fs').writeFileSync(require.resolve('tap-lite'), 'poisoned');\\n\" >>test.js"

run "$L" --root "$P" --json eval --patch "$TMP/good.diff"
check_eq "npm deps: a good patch is accepted (exit 0)" 0 "$RC"
check_json_eq "npm deps: its tests ran with the installed dependency (2 TAP results)" \
	'[b["outcome"]["testRun"]["counts"]["passed"], b["outcome"]["testRun"]["counts"]["failed"]]' '[2,0]'

run "$L" --root "$P" --json group --jobs 1 "$TMP/good.diff" "$TMP/wrong.diff" "$TMP/poison.diff" "$TMP/good.diff"
check_eq "npm deps: group exits 0" 0 "$RC"
check_json_eq "npm deps: group outcomes (the poisoner cannot write the dependency; later candidates pass)" \
	'[c["tests"] for c in b["candidates"]]' '["passed","failed","failed","passed"]'
check_json_eq "npm deps: the good patch scores above the wrong one" \
	'b["candidates"][0]["reward"] > b["candidates"][1]["reward"]' true
check_contains "npm deps: the workspace's dependency is unchanged" \
	"$(cat "$P/node_modules/tap-lite/index.js")" "exports.check"

cp "$TMP/good.diff" "$TMP/the_good_candidate.diff"
run "$L" --root "$P" group --jobs 1 "$TMP/the_good_candidate.diff" "$TMP/wrong.diff"
check_eq "group text: an id longer than 10 keeps the columns (reward at one offset)" 1 \
	"$(printf '%s\n' "$OUT" | grep -E '^  (the_good_candidate|wrong) ' | awk '{print index($0, " reward ")}' | sort -u | wc -l)"

# without installed dependencies nothing is bound: the candidate fails as npm would
mv "$P/node_modules" "$TMP/nm.away"
run "$L" --root "$P" --json eval --patch "$TMP/good.diff"
check_eq "no node_modules in the workspace: the tests cannot find the dependency (84)" 84 "$RC"
mv "$TMP/nm.away" "$P/node_modules"

check_eq "no worktree left" 1 "$(git -C "$P" worktree list | wc -l)"
check_no_procs "no language server or test left" "$TMP"
