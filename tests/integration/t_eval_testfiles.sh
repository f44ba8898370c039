#!/usr/bin/env bash
# Candidates that edit the tests (docs/rewards.md): with "testFiles" set,
# every file a candidate's patch changed, created or deleted that matches is
# put back to the base's bytes (created ones removed) before the build and
# the tests, so the candidate is scored on the base's tests. On the C
# fixture with a bug in the base (test 5 fails): a weakened assertion, a
# deleted test file, a new test file run by a changed Makefile, a `test`
# target made `true`, a real fix, and a fix mixed with a weakened test; each
# scored without testFiles first (the hole), then with them from the base's
# untrusted .lanser.json; the record's testFilesReset; the text line; trace
# replay --verify; eval with --test-files; test --explain; a task file's
# list and its bounds; on the Python fixture a weakened pytest assertion and
# a conftest.py that turns every failure into a pass.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
need_lanser

C=$(fixture_base cproj) || exit 1
P=$(fixture_base pyproj) || exit 1
cd "$TMP" || exit 1
GIT="git -c user.email=t@example.com -c user.name=t"

# the base: clamp_int(-5, 0, 10) returns -1, "clamp_int raises to lo" fails
sed -i 's/^\t\treturn lo;/\t\treturn lo - 1;/' "$C/src/util.c"
$GIT -C "$C" commit -qam "a bug" || exit 1
B1=$(git -C "$C" rev-parse HEAD)

mkpatch() { # DIR NAME SED FILE [SED FILE]...
	local d=$1 n=$2
	shift 2
	(cd "$d" && while [ $# -gt 1 ]; do sed -i "$1" "$2"; shift 2; done &&
		git add -A && git diff --cached >"$TMP/$n" && git reset -q --hard)
	[ -s "$TMP/$n" ] || echo "mkpatch: $n is empty" >&2
}
WEAK='s/check(clamp_int(-5, 0, 10) == 0, /check(clamp_int(-5, 0, 10) <= 0, /'
FIX='s/^\t\treturn lo - 1;/\t\treturn lo;/'
mkpatch "$C" weaken.diff "$WEAK" tests/test_list.c
mkpatch "$C" fix.diff "$FIX" src/util.c
mkpatch "$C" mixed.diff "$FIX" src/util.c 's/check(clamp_int(-5, 0, 10) == 0, /check(1, /' tests/test_list.c
mkpatch "$C" maketrue.diff 's#^\t\./tests/test_list$#\ttrue#' Makefile
(cd "$C" && git rm -q tests/test_list.c && git diff --cached >"$TMP/delete.diff" && git reset -q --hard)
# a new test file that prints a passing TAP run, and a Makefile that runs it
(cd "$C" && mkdir -p tests/fake &&
	printf '#include <stdio.h>\nint main(void) { printf("ok 1 - all good\\n1..1\\n"); return 0; }\n' >tests/fake/test_fake.c &&
	sed -i 's#^\t\./tests/test_list$#\tcc -o tests/fake/t tests/fake/test_fake.c \&\& ./tests/fake/t#' Makefile &&
	git add -A && git diff --cached >"$TMP/add.diff" && git reset -q --hard && rm -rf tests/fake)
for f in weaken fix mixed maketrue delete add; do [ -s "$TMP/$f.diff" ] || fail "patch $f.diff" "empty"; done
ALL="$TMP/weaken.diff $TMP/delete.diff $TMP/add.diff $TMP/maketrue.diff $TMP/fix.diff $TMP/mixed.diff"

# ---- the hole: no testFiles ----
run "$L" --root "$C" --json group --base "$B1" --jobs 2 $ALL
check_eq "no testFiles: group exit 0" 0 "$RC"
check_json_eq "no testFiles: weakening the assertion, a new test file, a 'true' test target score R_outcome 1 (the hole)" \
	'[(c["id"], c["rOutcome"]) for c in b["candidates"]]' \
	'[["weaken",1],["delete",0],["add",1],["maketrue",1],["fix",1],["mixed",1]]'
check_json_eq "no testFiles: records say nothing about test files" \
	'[c["tests"] for c in b["candidates"]]' '["passed","failed","passed","passed","passed","passed"]'

run "$L" --root "$C" test --explain --tests 'x' --patch "$TMP/fix.diff"
check_contains "test --explain, FAIL_TO_PASS and no testFiles: it says the tests are not protected" "$OUT" \
	"test files: none protected"

# ---- testFiles in the base's .lanser.json (untrusted: it only makes scoring stricter) ----
printf '{"testFiles": ["tests/**", "Makefile"]}\n' >"$C/.lanser.json"
$GIT -C "$C" add .lanser.json && $GIT -C "$C" commit -qm "test files" || exit 1
run "$L" --root "$C" --json group --jobs 2 --trace "$TMP/g.trace" $ALL
check_eq "testFiles: group exit 0" 0 "$RC"
printf '%s' "$OUT" >"$TMP/group.json"
check_json_eq "testFiles: scored on the base's tests: only the fixes pass" \
	'[(c["id"], c["rOutcome"], c["tests"]) for c in b["candidates"]]' \
	'[["weaken",0,"failed"],["delete",0,"failed"],["add",0,"failed"],["maketrue",0,"failed"],["fix",1,"passed"],["mixed",1,"passed"]]'
check_json_eq "testFiles: a candidate that changed only tests scores R_format 1, R_outcome 0 (a patch that changes no code)" \
	'[(c["rFormat"], c["rOutcome"], c["reward"]) for c in b["candidates"][:1]]' '[[1,0,1]]'
# the records, from the trace's outcome events
"$PY" - "$TMP/g.trace" >"$TMP/records.txt" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    r = e.get("record") or e.get("bundle") or {}
    if e.get("type") == "outcome":
        o = r["outcome"]
        print(r["request"]["candidate"], json.dumps(r["request"].get("testFiles")),
              json.dumps(o["patch"]["testFilesReset"]), json.dumps(o.get("counts")))
EOF
rec() { grep "^$1 " "$TMP/records.txt"; }
check_eq "testFiles: the request records the globs" '["tests/**", "Makefile"]' "$(rec fix | cut -d' ' -f2-3)"
check_eq "testFiles: weakened assertion put back (testFilesReset), 1 test fails" \
	'["tests/test_list.c"] {"error": 0, "failed": 1, "passed": 5, "skipped": 0}' "$(rec weaken | cut -d' ' -f4-)"
check_eq "testFiles: the deleted test file is back: the base's 6 tests ran" \
	'["tests/test_list.c"] {"error": 0, "failed": 1, "passed": 5, "skipped": 0}' "$(rec delete | cut -d' ' -f4-)"
check_eq "testFiles: the new test file removed and the Makefile put back, sorted" \
	'["Makefile", "tests/fake/test_fake.c"]' "$(rec add | cut -d' ' -f4-5)"
check_eq "testFiles: the 'true' test target put back" '["Makefile"]' "$(rec maketrue | cut -d' ' -f4)"
check_eq "testFiles: a fix alone: nothing reset, all 6 pass" \
	'[] {"error": 0, "failed": 0, "passed": 6, "skipped": 0}' "$(rec fix | cut -d' ' -f4-)"
check_eq "testFiles: a fix mixed with a test change: the test change dropped, the fix scored" \
	'["tests/test_list.c"] {"error": 0, "failed": 0, "passed": 6, "skipped": 0}' "$(rec mixed | cut -d' ' -f4-)"
check_json_eq "testFiles: the process reward still sees the whole patch (diagnostics ran on every candidate)" \
	'all(c["rProcess"] is not None for c in b["candidates"])' true "$(cat "$TMP/group.json")"
run "$L" trace replay --verify "$TMP/g.trace"
check_eq "testFiles: trace replay --verify" 0 "$RC"
check_contains "testFiles: ... the candidates' eval bundles were checked" "$OUT" "verified: 6 candidate eval bundles"
run "$L" --root "$C" group --jobs 2 "$TMP/weaken.diff" "$TMP/fix.diff"
check_contains "testFiles: group's text says which test files were put back" "$OUT" \
	"test files put back to the base (testFiles; the candidate's changes to them are not scored): tests/test_list.c"
check_eq "testFiles: ... once, for the candidate that changed them" 1 "$(printf '%s\n' "$OUT" | grep -c 'test files put back')"
check_eq "testFiles: no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"

# ---- the reward server: the same rule (the base's .lanser.json) ----
printf '{"id": "tf", "workspace": "%s"}\n' "$C" >"$TMP/tasks.jsonl"
serve_start s --tasks "$TMP/tasks.jsonl" --workers 1
if serve_ready s; then
	"$PY" -c 'import json, sys
print(json.dumps({"task": "tf", "completions": [{"id": i, "completion": open(sys.argv[1] + "/" + i + ".diff").read()}
                                                 for i in ("weaken", "fix", "mixed")]}))' "$TMP" >"$TMP/score.json"
	CODE=$(curl -s -o "$TMP/ans" -w '%{http_code}' -X POST --data-binary @"$TMP/score.json" \
		"http://127.0.0.1:$(serve_port s)/score")
	check_eq "serve /score: 200" 200 "$CODE"
	check_json_eq "serve /score: the weakened test is scored on the base's tests; the fixes pass" \
		'[(c["id"], c["rOutcome"]) for c in b["candidates"]]' '[["weaken",0],["fix",1],["mixed",1]]' "$(cat "$TMP/ans")"
else
	fail "serve: ready" "$(cat "$TMP/s.err")"
fi
kill -TERM -- "-$(cat "$TMP/s.pid")" 2>/dev/null

# ---- eval and test: --test-files on the command line (the base without a configuration) ----
run "$L" --root "$C" eval --base "$B1" --patch "$TMP/weaken.diff"
check_eq "eval, no testFiles: the weakened test passes (exit 0)" 0 "$RC"
run "$L" --root "$C" eval --base "$B1" --test-files 'tests/*' --patch "$TMP/weaken.diff"
check_eq "eval --test-files: the weakened test is put back, tests fail (84)" 84 "$RC"
check_contains "eval --test-files: the text says so" "$OUT" \
	"test files put back to the base (testFiles; the candidate's changes to them are not scored): tests/test_list.c"
check_contains "eval --test-files: R_outcome 0" "$OUT" "R_outcome 0"
run "$L" --root "$C" --json test --base "$B1" --test-files 'nothing/*' --patch "$TMP/weaken.diff"
check_json_eq "test --test-files replaces the configuration's list; unmatched: nothing reset, passes" \
	'[b["request"]["testFiles"], b["outcome"]["patch"]["testFilesReset"], b["outcome"]["status"]]' '[["nothing/*"],[],"passed"]'
run "$L" --root "$C" test --explain --patch "$TMP/fix.diff"
check_contains "test --explain: names the protected globs" "$OUT" \
	"test files (put back to the base after a candidate's patch): tests/** Makefile"

# with a build and more candidates than worktrees the base build is reused
# (sandbox.md): the test files are put back before its outputs come back
printf '{"schema": "lanser.task/1", "build": "make tests/test_list", "testFiles": ["tests/"]}\n' >"$TMP/reuse.json"
run "$L" --root "$C" --json group --base "$B1" --jobs 1 --task "$TMP/reuse.json" "$TMP/weaken.diff" "$TMP/mixed.diff" "$TMP/add.diff"
check_json_eq "reused base build: the weakened test fails, the mixed fix passes, the new test file is gone" \
	'[(c["id"], c["rOutcome"]) for c in b["candidates"]]' '[["weaken",0],["mixed",1],["add",0]]'

# ---- a task file: its list replaces the configuration's; bounds ----
printf '{"schema": "lanser.task/1", "id": "tf", "testFiles": ["Makefile"], "patch": "weaken.diff"}\n' >"$TMP/task.json"
run "$L" --root "$C" --json eval --task "$TMP/task.json"
check_json_eq "task file testFiles replaces .lanser.json's: the weakened test is not protected" '[b["outcome"]["reward"]["rOutcome"]]' '[1]'
printf '{"schema": "lanser.task/1", "id": "tf", "testFiles": ["Makefile"], "patch": "maketrue.diff"}\n' >"$TMP/task2.json"
run "$L" --root "$C" --json eval --task "$TMP/task2.json"
check_json_eq "task file testFiles: ... and the Makefile it names is protected" '[b["outcome"]["reward"]["rOutcome"]]' '[0]'
"$PY" -c "import json; print(json.dumps({'testFiles': ['t%d' % i for i in range(257)]}))" >"$TMP/big.json"
run "$L" --root "$C" test --task "$TMP/big.json"
check_eq "task file: 257 testFiles globs are refused (config error, 78)" 78 "$RC"
check_contains "task file: ... naming the member" "$ERR" '"testFiles" must be an array of at most 256 globs'
printf '{"testFiles": ["tests/**", ""]}\n' >"$TMP/empty.json"
run "$L" --root "$C" test --task "$TMP/empty.json"
check_contains "task file: an empty glob is refused" "$ERR" '"testFiles"[1] must be a non-empty glob'

# ---- Python: a weakened pytest assertion, a conftest.py that passes every test ----
sed -i 's/return Circle(self.name, self.radius \* factor)/return Circle(self.name, self.radius + factor)/' "$P/shapes/circle.py"
$GIT -C "$P" commit -qam "a bug" || exit 1
mkpatch "$P" p-weaken.diff 's/assert c.name == "c" and c.radius == 2.0/assert c.name == "c"/' tests/test_shapes.py
mkpatch "$P" p-fix.diff 's/return Circle(self.name, self.radius + factor)/return Circle(self.name, self.radius * factor)/' shapes/circle.py
(cd "$P" && cat >tests/conftest.py <<'EOF'
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
EOF
git add -A && git diff --cached >"$TMP/p-conftest.diff" && git reset -q --hard && rm -f tests/conftest.py)
PALL="$TMP/p-weaken.diff $TMP/p-conftest.diff $TMP/p-fix.diff"
run "$L" --root "$P" --json group --jobs 2 $PALL
check_json_eq "pyproj, no testFiles: the weakened assertion and the conftest.py pass (the hole)" \
	'[(c["id"], c["rOutcome"]) for c in b["candidates"]]' '[["p-weaken",1],["p-conftest",1],["p-fix",1]]'
run "$L" --root "$P" --json group --jobs 2 --test-files 'tests/**' --test-files 'conftest.py' --trace "$TMP/p.trace" $PALL
check_json_eq "pyproj, testFiles: only the fix passes" \
	'[(c["id"], c["rOutcome"], c["tests"]) for c in b["candidates"]]' '[["p-weaken",0,"failed"],["p-conftest",0,"failed"],["p-fix",1,"passed"]]'
check_eq "pyproj, testFiles: the weakened test put back, the new conftest.py removed" \
	'p-conftest ["tests/conftest.py"] p-fix [] p-weaken ["tests/test_shapes.py"]' "$("$PY" - "$TMP/p.trace" <<'EOF'
import json, sys
out = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    r = e.get("record") or e.get("bundle") or {}
    if e.get("type") == "outcome":
        out.append("%s %s" % (r["request"]["candidate"], json.dumps(r["outcome"]["patch"]["testFilesReset"])))
print(" ".join(sorted(out)))
EOF
)"
run "$L" trace replay --verify "$TMP/p.trace"
check_eq "pyproj, testFiles: trace replay --verify" 0 "$RC"
check_eq "pyproj: no worktree left" 1 "$(git -C "$P" worktree list | wc -l)"

check_no_procs "no language server or test left" "$TMP"
