#!/usr/bin/env bash
# `lanser test` on the C and Python fixtures: real make + cc + TAP, real
# pytest (-rA and JUnit), FAIL_TO_PASS / PASS_TO_PASS accounting, failures,
# malformed results, task files, and the forced fallback.
. "$(dirname "$0")/lib.sh"

C=$(fixture cproj)
P=$(fixture pyproj)
# never run from the repository lanser is built in
cd "$TMP" || exit 1

# --- the C fixture, in place
run_reaped 120 "$L" --root "$C" test
check_eq "cproj: lanser test exits 0" 0 "$RC"
check_contains "cproj: summary" "$OUT" "test: passed (6 passed, 0 failed, 0 errors, 0 skipped)"
check_eq "cproj: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"

run "$L" --root "$C" --json test
check_json_eq "cproj --json: status" .outcome.status passed
check_json_eq "cproj --json: TAP detected" .outcome.results.format tap
check_json_eq "cproj --json: six tests" .outcome.counts '{"error":0,"failed":0,"passed":6,"skipped":0}'
check_json_eq "cproj --json: per-test ids" .outcome.tests.0 '{"id":"a new list is empty","status":"passed"}'
check_json_eq "cproj --json: isolated" .isolation namespaces
check_json_eq "cproj --json: exit status" .outcome.test '{"cancelled":false,"exitCode":0,"limitsHit":[],"signal":null,"timedOut":false,"truncated":false}'
check_json_eq "cproj --json: environment digest" 'b["environment"]["sandbox"]["digest"].startswith("sha256:")' true
check_json_eq "cproj --json: the environment is the allow-list" \
	'[e.split("=")[0] for e in b["environment"]["sandbox"]["env"]]' \
	'["HOME","LANG","LC_ALL","PATH","PYTHONDONTWRITEBYTECODE","PYTHONHASHSEED","TERM","TMPDIR"]'
check_json_eq "cproj --json: no absolute workspace path outside meta.volatile" \
	"'$C' not in json.dumps({k: v for k, v in b.items() if k != 'meta'})" true
ID1=$(json .bundleId)
if "$PY" -c "import jsonschema" 2>/dev/null; then
	"$L" schema bundle >"$TMP/bundle.schema.json"
	printf '%s' "$OUT" >"$TMP/record.json"
	check_rc_as "cproj --json: the record validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/record.json')), json.load(open('$TMP/bundle.schema.json')))"
fi
run "$L" --root "$C" --json test
check_eq "cproj --json: the same record id twice (durations are volatile)" "$ID1" "$(json .bundleId)"

# a build step, then a failing test
cat >"$C/.lanser.json" <<'EOF'
{"build": ["make", "tests/test_list"], "test": ["make", "test"]}
EOF
sed -i 's/{-1000, 1000}/{-1000, 999}/' "$C/src/list.c"
run "$L" --root "$C" --json test
check_eq "cproj broken: exit 1" 1 "$RC"
check_json_eq "cproj broken: status failed" .outcome.status failed
check_json_eq "cproj broken: the failing test named" \
	'[t["id"] for t in b["outcome"]["tests"] if t["status"] == "failed"]' '["push clamps large values"]'
check_json_eq "cproj broken: the build ran and passed" .outcome.build.exitCode 0
run "$L" --root "$C" test --tests 'push clamps large values' 
check_contains "cproj broken: FAIL_TO_PASS in the summary" "$OUT" "FAIL_TO_PASS 0/1"
check_contains "cproj broken: the failing test listed" "$OUT" "failed push clamps large values"

printf 'int broken(;\n' >>"$C/src/util.c"
run "$L" --root "$C" --json test
check_eq "cproj build error: exit 1" 1 "$RC"
check_json_eq "cproj build error: status build-failed" .outcome.status build-failed
check_json_eq "cproj build error: no test run" .outcome.test null
check_contains "cproj build error: compiler output kept" "$(json .meta.volatile.output.build.stderr)" "error"
git -C "$C" checkout -q -- . 2>/dev/null || (cd "$C" && git init -q)
cp "$FIXTURES/cproj/src/util.c" "$C/src/util.c"
cp "$FIXTURES/cproj/src/list.c" "$C/src/list.c"

# malformed and truncated results are clear errors (77), not passes
cat >"$C/.lanser.json" <<'EOF'
{"test": ["/bin/sh", "-c", "echo 1..3; echo ok 1 - first"]}
EOF
run "$L" --root "$C" --json test
check_eq "truncated TAP: exit 77" 77 "$RC"
check_json_eq "truncated TAP: status error" .outcome.status error
check_contains "truncated TAP: the message says why" "$(json .outcome.results.error)" "truncated TAP: the plan 1..3 announces 3 tests, 1 ran"
cat >"$C/.lanser.json" <<'EOF'
{"test": ["/bin/sh", "-c", "printf '<testsuite><testcase name=\"a\">' > j.xml"], "results": {"junit": "j.xml"}}
EOF
run "$L" --root "$C" test
check_eq "truncated JUnit: exit 77" 77 "$RC"
check_contains "truncated JUnit: the message names the file" "$ERR" "j.xml:1:"
cat >"$C/.lanser.json" <<'EOF'
{"test": ["/bin/sh", "-c", "true"], "results": {"junit": "missing.xml"}}
EOF
run "$L" --root "$C" test
check_eq "JUnit file never written: exit 77" 77 "$RC"
cat >"$C/.lanser.json" <<'EOF'
{"test": ["/bin/sh", "-c", "true"], "results": {"junit": "link.xml"}}
EOF
ln -s /etc/passwd "$C/link.xml"
run "$L" --root "$C" test
check_eq "JUnit path pointing outside the worktree: refused (77)" 77 "$RC"
check_contains "JUnit path pointing outside: the jail says so" "$ERR" "outside the workspace"
rm -f "$C/link.xml"

# the command cannot be started: NOT_FOUND with its name, never a silent 127
cat >"$C/.lanser.json" <<'EOF'
{"test": ["lanser-no-such-test-runner"]}
EOF
run "$L" --root "$C" test
check_eq "missing test program: exit 3" 3 "$RC"
check_contains "missing test program: named" "$ERR" "lanser-no-such-test-runner"
cat >"$C/.lanser.json" <<'EOF'
{"test": ["make", "test"], "limits": {"wallMs": 5}}
EOF
run "$L" --root "$C" test
check_eq "limits below the bound: bad config (78)" 78 "$RC"
check_contains "limits below the bound: the member named" "$ERR" "limits.wallMs"
cat >"$C/.lanser.json" <<'EOF'
{"test": ["make", "test"], "isolation": "required"}
EOF
run "$L" --root "$C" --json test
check_eq "isolation required: runs (namespaces available)" "0 namespaces" "$RC $(json .isolation)"

# --- the forced fallback: loud, and in the record
rm -f "$C/.lanser.json"
run "$L" --root "$C" --json --no-isolation test
check_eq "--no-isolation: still runs the tests" 0 "$RC"
check_json_eq "--no-isolation: the record says isolation none" .isolation none
check_contains "--no-isolation: loud warning on stderr" "$ERR" "WARNING: TESTS RAN WITHOUT ISOLATION"
check_contains "--no-isolation: the reason" "$(json .meta.volatile.isolationNote)" "--no-isolation"

# --- the kernel refusing user namespaces (simulated: a seccomp filter makes
# the kernel refuse them to bwrap for real): fail closed, exit 83, nothing ran
LANSER_SANDBOX_SIMULATE_REFUSAL=1 run "$L" --root "$C" --json test
check_eq "namespaces refused: exit 83 (fail closed)" 83 "$RC"
check_json_eq "namespaces refused: status error" .outcome.status error
check_contains "namespaces refused: the message names the cause" "$ERR" "bwrap"
check_contains "namespaces refused: the message names --no-isolation" "$ERR" "--no-isolation"
check_not_contains "namespaces refused: nothing ran, no 'ran' warning" "$ERR" "TESTS RAN"
LANSER_SANDBOX_SIMULATE_REFUSAL=1 run "$L" --root "$C" --json --no-isolation test
check_eq "namespaces refused, --no-isolation: runs" "0 none" "$RC $(json .isolation)"
LANSER_BWRAP=/nonexistent/bwrap run "$L" --root "$C" --json test
check_eq "bubblewrap missing: exit 83" 83 "$RC"
check_contains "bubblewrap missing: said" "$ERR" "bubblewrap"
# --- a file cannot lower isolation
for v in none auto; do
	printf '{"isolation": "%s"}' "$v" >"$C/.lanser.json"
	run "$L" --root "$C" --json test
	check_eq "\"isolation\": \"$v\" in .lanser.json: refused (78)" 78 "$RC"
	check_contains "\"isolation\": \"$v\": the message says why" "$ERR" "cannot lower isolation"
done
rm -f "$C/.lanser.json"

# --- the Python fixture: pytest through Debian's /usr/bin/python3
run_reaped 120 "$L" --root "$P" --json test
check_eq "pyproj: exit 0" 0 "$RC"
check_json_eq "pyproj: pytest -rA parsed" .outcome.results.format pytest
check_json_eq "pyproj: 6 passed" .outcome.counts.passed 6
check_json_eq "pyproj: pytest ids" .outcome.tests.5.id "tests/test_shapes.py::test_total_area"
check_eq "pyproj: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"
check_eq "pyproj: no bytecode or cache written into the tree" "" \
	"$(cd "$P" && find . -name __pycache__ -o -name .pytest_cache)"

run "$L" --root "$P" --json test --tests 'tests/test_shapes.py::test_total_area,tests/test_shapes.py::test_not_there'
check_eq "pyproj --tests with a missing id: exit 1" 1 "$RC"
check_json_eq "pyproj --tests: one passed, one missing" .outcome.FAIL_TO_PASS \
	'{"failed":[],"missing":["tests/test_shapes.py::test_not_there"],"passed":["tests/test_shapes.py::test_total_area"]}'
check_json_eq "pyproj --tests: not resolved" .outcome.resolved false

# JUnit XML from pytest, matched against pytest-style ids
cat >"$P/task.json" <<'EOF'
{"schema": "lanser.task/1", "id": "py-junit",
 "test": ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=out/junit.xml"],
 "results": {"junit": "out/junit.xml"},
 "FAIL_TO_PASS": ["tests/test_shapes.py::test_circle_area"],
 "PASS_TO_PASS": ["tests/test_shapes.py::test_total_area", "tests/test_shapes.py::test_kind_is_class_name"],
 "limits": {"wallMs": 60000, "memoryMiB": 1024}}
EOF
mkdir -p "$P/out"
run "$L" --root "$P" --json test --task "$P/task.json"
check_eq "pyproj task (JUnit): exit 0" 0 "$RC"
check_json_eq "pyproj task: JUnit parsed" .outcome.results.format junit
check_json_eq "pyproj task: JUnit ids" .outcome.tests.0.id "tests.test_shapes::test_base_area_is_abstract"
check_json_eq "pyproj task: resolved through the id normal form" .outcome.resolved true
check_json_eq "pyproj task: the task id recorded" .request.task py-junit
check_json_eq "pyproj task: the limits recorded" .request.limits.wallMs 60000
if "$PY" -c "import jsonschema" 2>/dev/null; then
	check_rc_as "the task file validates against docs/task.schema.json" 0 "$PY" -c "
import json, jsonschema, sys
s = json.load(open('$LANSER_REPO_ROOT/docs/task.schema.json'))
jsonschema.Draft202012Validator.check_schema(s)
jsonschema.validate(json.load(open('$P/task.json')), s)"
	check_rc_as "a task with an unknown member does not validate" 1 "$PY" -c "
import json, jsonschema
s = json.load(open('$LANSER_REPO_ROOT/docs/task.schema.json'))
jsonschema.validate({'tset': []}, s)"
else
	fail "python3-jsonschema installed for the schema checks" "missing: make deps"
fi
printf '{"test": ["true"], "FAIL_TO_PASS": "x"}' >"$P/bad.json"
run "$L" --root "$P" test --task "$P/bad.json"
check_eq "bad task file: exit 78" 78 "$RC"
check_contains "bad task file: names the member" "$ERR" "FAIL_TO_PASS"
run "$L" --root "$P" test --task "$P/absent.json"
check_eq "missing task file: exit 3" 3 "$RC"
run "$L" --root "$P" test --jobs 0
check_eq "--jobs 0: usage (129)" 129 "$RC"
run "$L" --root "$P" test extra
check_eq "test with an argument: usage (129)" 129 "$RC"

# --- test discovery (sandbox/task.h, docs/sandbox.md "Test discovery"): one
# fixture per kind, the command chosen and why, per-test results
GIT="git -c user.email=t@example.com -c user.name=t"
commit_fixture() {
	local d
	d=$(fixture "$1") || return 1
	(cd "$d" && git init -q && $GIT add -A && $GIT commit -qm base) >/dev/null || return 1
	printf '%s' "$d"
}
if command -v cmake >/dev/null && command -v ctest >/dev/null; then
	D=$(commit_fixture disc-cmake)
	run "$L" --root "$D" test --explain
	check_eq "cmake: exit 0" 0 "$RC"
	check_contains "cmake: --explain names ctest and why" "$OUT" "chosen by discovery: CMakeLists.txt"
	check_contains "cmake: two tests from ctest's JUnit output" "$OUT" "passed (2 passed, 0 failed"
	run "$L" --root "$D" --json test
	check_json_eq "cmake: per-test ids from the JUnit file" '[t["id"] for t in b["outcome"]["tests"]]' \
		'["add_negative::add_negative","add_small::add_small"]'
	check_json_eq "cmake: results read as junit" .outcome.results.format junit
	(cd "$D" && sed -i 's/return a + b;/return a + b + (a < 0);/' src/calc.c && git diff >"$TMP/calc.diff" && git checkout -q -- .)
	run "$L" --root "$D" --json test --patch "$TMP/calc.diff"
	check_eq "cmake candidate: exit 1 (a test fails)" 1 "$RC"
	check_json_eq "cmake candidate: built in its worktree, one ctest test failed" \
		'[t["id"] for t in b["outcome"]["tests"] if t["status"] == "failed"]' '["add_negative::add_negative"]'
	check_json_eq "cmake candidate: the build ran" .outcome.build.exitCode 0
else
	skip "cmake: ctest discovery" "cmake/ctest not installed (Debian package cmake)"
fi
D=$(commit_fixture disc-configure)
run "$L" --root "$D" test
check_eq "configure: exit 0" 0 "$RC"
check_contains "configure: ./configure && make, then make check" "$OUT" "test: make check"
check_contains "configure: the build is configure + make" "$OUT" "./configure && make"
check_contains "configure: one TAP test" "$OUT" "passed (1 passed"
D=$(commit_fixture disc-makecheck)
run "$L" --root "$D" test
check_eq "Makefile check target: exit 0" 0 "$RC"
check_contains "Makefile check target: why" "$OUT" "the Makefile has a check target"
check_contains "Makefile check target: two tests" "$OUT" "passed (2 passed"
if command -v npm >/dev/null && command -v node >/dev/null; then
	D=$(commit_fixture disc-npm)
	run "$L" --root "$D" test
	check_eq "package.json test script: exit 0" 0 "$RC"
	check_contains "package.json test script: npm test, why" "$OUT" "package.json has a scripts.test"
	check_contains "package.json test script: two TAP tests" "$OUT" "passed (2 passed"
else
	skip "package.json discovery" "npm/node not installed"
fi
D=$(commit_fixture disc-pysrc)
run "$L" --root "$D" test
check_eq "pytest src layout: exit 0 (the package imports with PYTHONPATH=src)" 0 "$RC"
check_contains "pytest src layout: says so" "$OUT" "a src/ layout: PYTHONPATH=src"
check_contains "pytest src layout: two tests" "$OUT" "passed (2 passed"
D=$(commit_fixture disc-tox)
run "$L" --root "$D" --json test --explain
check_eq "tox.ini: exit 0" 0 "$RC"
check_contains "tox.ini: --explain with --json goes to stderr" "$ERR" "pytest: tox.ini runs pytest"
check_json_eq "tox.ini: one test" .outcome.counts.passed 1

# --- failures explained: the last lines of the failing command's output
D=$(commit_fixture disc-pysrc)
printf '{"test": ["/usr/bin/python3", "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"]}\n' >"$D/.lanser.json"
run "$L" --root "$D" test
check_eq "pytest without PYTHONPATH=src: exit 1" 1 "$RC"
check_contains "... the text shows the missing module" "$OUT" "ModuleNotFoundError"
check_contains "... under the last lines of the output" "$OUT" "last lines of its output:"
printf '{"test": ["/bin/sh", "-c", "echo 1..2; echo not ok 1 - a; echo not ok 2 - b; exit 1"]}\n' >"$D/.lanser.json"
run "$L" --root "$D" test
check_contains "counts that agree: the message splits failed and errors" "$OUT" "(2 failed, 0 errors;"
printf '{"test": ["/bin/sh", "-c", "echo fine"]}\n' >"$D/.lanser.json"
run "$L" --root "$D" --json test
check_eq "no per-test results, exit 0: exit 0" 0 "$RC"
check_json_eq "no per-test results: the record says the exit status is the outcome" .outcome.results.outcomeFrom exitStatus
