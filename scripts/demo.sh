#!/usr/bin/env bash
# `make demo`: the product's story on the bundled example projects
# (tests/fixtures), one screen per step: a grounded query, a guarded edit
# rolled back by diagnostics, a sandboxed test run, a patch evaluation with
# its reward, a GRPO group with advantages, a trace replayed, an agent
# episode driven by a recorded model session (tests/model/demo_session.json,
# replayed by tests/model/fake_openai.py on 127.0.0.1; with OPENAI_BASE_URL
# set, that server is the model instead). The examples
# are copied to a scratch directory and committed there (a clean git tree,
# as a real project would be); the daemons the demo starts are stopped at
# the end.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
L="$repo/lanser"
demo="$(mktemp -d /tmp/lanser-demo.XXXXXX)"
GIT=(git -c user.email=demo@lanser.invalid -c user.name=lanser-demo -c commit.gpgsign=false)
fake_pid=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	for p in cproj pyproj; do
		[ -d "$demo/$p" ] && "$L" --root "$demo/$p" daemon stop >/dev/null 2>&1
	done
	rm -rf "$demo"
}
trap cleanup EXIT

copy() { # fixture -> $demo/fixture: a compilation database, a committed git repo
	mkdir -p "$demo/$1"
	(cd "$repo/tests/fixtures/$1" && tar cf - --exclude=.cache --exclude=__pycache__ .) |
		(cd "$demo/$1" && tar xf -)
	if [ -f "$demo/$1/compile_commands.json.in" ]; then
		sed "s#@ROOT@#$demo/$1#g" "$demo/$1/compile_commands.json.in" \
			> "$demo/$1/compile_commands.json"
	fi
	(cd "$demo/$1" && git init -q && "${GIT[@]}" add -A && "${GIT[@]}" commit -qm "example")
}
# mkpatch NAME SED-EXPR FILE: a candidate patch of the C example (tree restored)
mkpatch() {
	(cd "$demo/cproj" && sed -i "$2" "$3" && git diff >"$demo/$1" && git checkout -q -- .)
}
step=0
screen() { # TITLE WHAT: a new step
	step=$((step + 1))
	if [ -t 1 ]; then
		printf '\n\033[1m== %d/7  %s\033[0m\n%s\n' "$step" "$1" "$2"
	else
		printf '\n== %d/7  %s\n%s\n' "$step" "$1" "$2"
	fi
}
# run ARGS...: shows and runs one lanser command line (at most 14 lines
# of its output; the rest is counted)
run() {
	local out rc
	echo
	echo "\$ lanser $*"
	out=$("$L" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | head -n 14
	local n
	n=$(printf '%s\n' "$out" | wc -l)
	[ "$n" -gt 14 ] && echo "  ... ($((n - 14)) more lines)"
	[ "$rc" != 0 ] && echo "(exit $rc)"
	return 0
}

# run_agent ARGS...: `lanser agent ARGS` showing its result (the per-step
# progress on stderr left out), at most 16 lines
run_agent() {
	local out rc n
	echo
	echo "\$ lanser agent $*"
	out=$("$L" agent "$@" 2>/dev/null)
	rc=$?
	printf '%s\n' "$out" | head -n 16
	n=$(printf '%s\n' "$out" | wc -l)
	[ "$n" -gt 16 ] && echo "  ... ($((n - 16)) more lines: the rest of the diff)"
	[ "$rc" != 0 ] && echo "(exit $rc)"
	return 0
}

copy cproj; copy pyproj
echo "lanser demo: the binary is $L (./lanser in this checkout)"
echo "example projects copied to $demo"

cd "$demo/cproj"
screen "a grounded query" \
"Answers come from the real language servers (clangd here), with positions you
can check. src/main.c line 14:  $(sed -n 14p src/main.c | sed 's/^\t//')"
run def src/main.c@L14:C2
run refs src/main.c@L14:C2
run hover src/main.c@L23:C10
run locate 'c://#list_push:name'

screen "a guarded edit, rolled back by diagnostics" \
"A patch that drops an argument of list_push. --apply --verify diagnostics
writes it as one transaction, asks clangd, sees a new error and rolls back."
mkpatch break.diff '14s/list_push(&numbers, 3)/list_push(\&numbers)/' src/main.c
run patch --apply --verify diagnostics ../break.diff
echo "\$ git status --short    # the tree is as it was"
git status --short
echo "(clean)"

screen "a sandboxed test run" \
"\`make test\` of the example, in a bubblewrap box: no network, no home, an
unprivileged uid, the worktree the only writable place, resource limits."
run test

screen "a patch evaluated, with its reward" \
"A candidate patch applied in its own git worktree: diagnostics before and
after, the tests, the verdict and the process reward."
mkpatch good.diff 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c
run eval --patch ../good.diff

screen "a GRPO group with advantages" \
"Three candidates for one task (a good one, one that breaks the build, one
that fails a test), scored in parallel; advantages relative to the group."
mkpatch breaks-build.diff 's/int max_int(int a, int b);/int max_int(int a, int b, int c);/' src/util.h
mkpatch fails-test.diff 's/return hi;/return hi - 1;/' src/util.c
run group --jobs 2 --trace ../group.trace ../good.diff ../breaks-build.diff ../fails-test.diff

screen "a trace replayed" \
"Every step above can be recorded; replay recomputes each bundle id and each
reward from the trace alone, with no language server."
run trace list ../group.trace
run trace replay --verify ../group.trace

screen "an agent episode, rewarded at every step" \
"A model works on a task through these same tools, in a worktree of its own:
each edit is scored by the engine of eval, the end by the tests."
printf '{"id": "demo", "instruction": "Rewrite max_int with <, and rename clamp_int to clamp_value.", "budgets": {"steps": 12}}\n' \
	>"$demo/agent-task.json"
if [ -n "${OPENAI_BASE_URL:-}" ]; then
	echo "model: live, $OPENAI_BASE_URL"
	run_agent --task ../agent-task.json
else
	echo "model: RECORDED session (tests/model/demo_session.json), replayed on 127.0.0.1;"
	echo "       set OPENAI_BASE_URL to run the same episode against a real model server"
	setsid /usr/bin/python3 "$repo/tests/model/fake_openai.py" --script "$repo/tests/model/demo_session.json" \
		--port-file "$demo/fake.port" </dev/null >"$demo/fake.out" 2>&1 &
	fake_pid=$!
	for _ in $(seq 50); do [ -s "$demo/fake.port" ] && break; sleep 0.1; done
	run_agent --task ../agent-task.json --model-url "http://127.0.0.1:$(cat "$demo/fake.port")/v1"
	kill "$fake_pid" 2>/dev/null
	fake_pid=
fi

cd "$demo/pyproj"
echo
echo "== the same questions about Python (pyright)"
run def app.py@L8:C5
run hover app.py@L10:C37
echo
echo "== the warm daemons that answered (one per workspace; docs/daemon.md)"
for p in cproj pyproj; do
	echo "\$ lanser --root $demo/$p daemon status"
	"$L" --root "$demo/$p" daemon status 2>&1 | head -n 8
done

cat <<EOF

== next
The binary is $L (with lanser-engine next to it). To call it as \`lanser\`:
  make install PREFIX=\$HOME/.local    # both binaries, docs, bash and zsh completion
  (or: export PATH="$repo:\$PATH")
Then, in a project of yours (a git repo):
  lanser doctor                       # which servers it found, what is missing
  lanser def src/file.c@L10:C5        # 1-based line and column
  lanser --json refs 'c://#my_function:name'
  lanser test                         # its tests, sandboxed
Docs: README.md (a table of every document), docs/commands.md, docs/selectors.md.
EOF
