#!/usr/bin/env bash
# bench/sandbox.sh [N]: sandbox start-up per test run. `lanser test` of a
# workspace whose test command is /bin/true, N times, with
#   new  - this build: the bubblewrap box (sandbox/box.h);
#   old  - the hand-made namespaces of commit $OLD_REV (0b25154), built in a
#          temporary clone (kept in $OLD_DIR for the next run);
#   none - this build with --no-isolation (limits only): the floor.
# Reports the test phase (meta.volatile.durationMs.testMs: sbx_run from
# start to reaped) and the whole command, mean and median, in ms, and the
# ratios. Never a pass/fail: numbers for bench/RESULTS.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
N=${1:-30}
OLD_REV=${OLD_REV:-0b25154}
OLD_DIR=${OLD_DIR:-${TMPDIR:-/tmp}/lanser-bench-old-$OLD_REV}
NEW=$L

if [ ! -x "$OLD_DIR/lanser-engine" ]; then
	echo "# building $OLD_REV in $OLD_DIR" >&2
	rm -rf "$OLD_DIR"
	git clone -q "$PWD" "$OLD_DIR"
	git -C "$OLD_DIR" checkout -q "$OLD_REV"
	ln -s "$PWD/deps/node_modules" "$OLD_DIR/deps/node_modules"
	make -C "$OLD_DIR" -j2 lanser lanser-engine >/dev/null
fi
OLD=$OLD_DIR/lanser

# (not bench_scratch: W is the workspace, and lanser's state stays out of it)
W=$(mktemp -d "${TMPDIR:-/tmp}/lanser-bench-sbx.XXXXXX")
trap 'rm -rf "$W"' EXIT
printf '{"test": ["/bin/true"], "results": {"format": "none"}}\n' >"$W/.lanser.json"

# measure LABEL BIN [OPTIONS...]: N runs after 3 warm-ups; prints
# "LABEL test_mean test_median cmd_mean cmd_median"
measure() {
	local label=$1 bin=$2 i t0 t1
	shift 2
	local tests=() cmds=()
	for i in 1 2 3; do "$bin" --root "$W" "$@" test >/dev/null 2>&1; done
	for i in $(seq "$N"); do
		t0=$(date +%s%N)
		out=$("$bin" --root "$W" --json "$@" test 2>/dev/null)
		t1=$(date +%s%N)
		cmds+=($(( (t1 - t0) / 1000 )))
		tests+=("$(printf '%s' "$out" | /usr/bin/python3 -c \
			'import json,sys; print(json.load(sys.stdin)["meta"]["volatile"]["durationMs"]["testMs"])')")
	done
	/usr/bin/python3 - "$label" "${tests[*]}" "${cmds[*]}" <<'PY'
import statistics, sys
label, tests, cmds = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) / 1000 for x in sys.argv[3].split()]
print("%s %.2f %.2f %.2f %.2f" % (label, statistics.mean(tests), statistics.median(tests),
                                  statistics.mean(cmds), statistics.median(cmds)))
PY
}

{
	measure new "$NEW"
	measure old "$OLD"
	measure none "$NEW" --no-isolation
} | /usr/bin/python3 -c '
import sys
rows = {l.split()[0]: [float(x) for x in l.split()[1:]] for l in sys.stdin}
print("%-6s %14s %14s %14s %14s" % ("", "test mean ms", "test median", "command mean", "command median"))
for k in ("new", "old", "none"):
    print("%-6s %14.2f %14.2f %14.2f %14.2f" % ((k,) + tuple(rows[k])))
n, o, z = rows["new"], rows["old"], rows["none"]
print("new/old, test phase (median): %.2fx" % (n[1] / o[1]))
print("new/old, whole command (median): %.2fx" % (n[3] / o[3]))
print("sandbox overhead over --no-isolation, test phase (median): new %+.2f ms, old %+.2f ms" % (n[1] - z[1], o[1] - z[1]))
'
echo "N=$N runs each, $(nproc) cores, $(uname -r), $(bwrap --version)"
