#!/usr/bin/env bash
# bench/run.sh [--write] - lanser's benchmarks (issue 3; see bench/README.md).
#
# On a C fixture (clangd) and a Python fixture (pyright), for def, refs and
# hover at known positions, measures side by side in one run:
#   raw    the same request sent by bench/rawlsp, a minimal LSP client, to a
#          warm server (round trip over the pipes);
#   warm   a new `lanser --json CMD` process per call against a running,
#          ready daemon, printed JSON included: repeated identical calls
#          (answer cache hits) and `--no-cache` calls (real server round trips);
#   cold   `lanser --no-daemon --json CMD`: start the server, wait until it
#          is ready, ask, stop it (the paper's per-call design);
#   floor  the timing harness around /bin/true and `lanser --version`;
#   rss    the daemon's own RSS (servers excluded) after the runs;
#   scale  warm def on cproj with thousands of extra files in the tree.
# Prints a markdown report; --write also stores it in bench/RESULTS.md.
#
# Knobs (environment): BENCH_N (warm CLI calls, 50), BENCH_RAW_N (raw round
# trips, 200), BENCH_COLD_C (5), BENCH_COLD_PY (3), BENCH_SCALE_FILES (3000
# generated files for the tree-size series; 0 skips it), LANSER_BIN,
# BENCH_KEEP=1 (keep the scratch directory and its results.jsonl),
# BENCH_QUIET_WAIT (300: seconds to wait for an idle machine first).
#
# Nothing here touches a user's daemons: XDG_RUNTIME_DIR points at a private
# scratch directory (mode 0700) for the whole run, the daemon is stopped at
# the end and any process left in the scratch tree is reported and killed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
L=${LANSER_BIN:-$repo/lanser}
RAW=$repo/bench/rawlsp
PY=/usr/bin/python3
TIMEIT="$PY $repo/bench/timeit.py"
PYRIGHT_LS=$repo/deps/node_modules/.bin/pyright-langserver
N=${BENCH_N:-50}
RAW_N=${BENCH_RAW_N:-200}
COLD_C=${BENCH_COLD_C:-5}
COLD_PY=${BENCH_COLD_PY:-3}

write=0
for a in "$@"; do
	case $a in
	--write) write=1 ;;
	-h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/run.sh: unknown argument '$a' (--write, --help)" >&2; exit 129 ;;
	esac
done

for f in "$L" "$RAW" "$PYRIGHT_LS"; do
	if [ ! -x "$f" ]; then
		echo "bench/run.sh: $f is missing (run 'make bench', which builds it)" >&2
		exit 1
	fi
done
command -v clangd >/dev/null || { echo "bench/run.sh: clangd is not installed (make deps)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lanser-bench.XXXXXX")
work=$(cd "$work" && pwd -P)
mkdir -m 0700 "$work/run"
export XDG_RUNTIME_DIR=$work/run
results=$work/results.jsonl
: >"$results"
pids_file=$work/pids # every daemon/server pid we saw, to check at the end

log() { echo "bench: $*" >&2; }

# Ends the daemons of this run and anything else still running in our
# scratch tree (servers run with their workspace as cwd): by pid, never by name.
cleanup() {
	local rc=$? pid ppid left="" i alive
	"$L" daemon stop --all >/dev/null 2>&1 || true
	# The daemon and its servers get up to 5 s to exit after `stop`.
	for i in $(seq 50); do
		alive=""
		for pid in $(cat "$pids_file" 2>/dev/null) $(procs_in "$work"); do
			[ "$(proc_state "$pid")" = "" ] || [ "$(proc_state "$pid")" = Z ] || alive="$alive $pid"
		done
		[ -n "$alive" ] || break
		sleep 0.1
	done
	for pid in $(cat "$pids_file" 2>/dev/null) $(procs_in "$work"); do
		case $(proc_state "$pid") in
		"") ;;
		Z) # exited; init reaps it (in some containers only every few seconds)
			ppid=$(sed 's/.*) . \([0-9]*\).*/\1/' /proc/"$pid"/stat 2>/dev/null || echo 1)
			[ "$ppid" = 1 ] || left="$left $pid(zombie of $ppid)" ;;
		*)
			left="$left $pid($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-60))"
			kill -9 "$pid" 2>/dev/null || true
			;;
		esac
	done
	[ -z "$left" ] || echo "bench: processes left behind (killed unless zombies):$left" >&2
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $work" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
# proc_state PID: the state letter (R, S, Z, ...), empty when it is gone.
proc_state() { sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy of the binary: a concurrent `make` in the tree must not
# swap it mid-run. It finds its servers through deps/ next to itself.
mkdir "$work/bin"
cp "$L" "$work/bin/lanser"
# the thin front end execs the engine next to it
[ ! -x "$(dirname "$L")/lanser-engine" ] || cp "$(dirname "$L")/lanser-engine" "$work/bin/"
if [ -d "$(dirname "$L")/deps" ]; then
	ln -s "$(cd "$(dirname "$L")/deps" && pwd)" "$work/bin/deps"
else
	ln -s "$repo/deps" "$work/bin/deps"
fi
L=$work/bin/lanser
"$L" --version >/dev/null 2>&1 || {
	# caught mid-link: once more, a moment later
	sleep 2
	cp "${LANSER_BIN:-$repo/lanser}" "$L"
	[ ! -x "$(dirname "${LANSER_BIN:-$repo/lanser}")/lanser-engine" ] ||
		cp "$(dirname "${LANSER_BIN:-$repo/lanser}")/lanser-engine" "$work/bin/"
	"$L" --version >/dev/null || { echo "bench/run.sh: $L does not run" >&2; exit 1; }
}

# procs_in DIR: pids of our processes whose cwd is inside DIR.
procs_in() {
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $cwd in "$1" | "$1"/*) [ "${p#/proc/}" = $$ ] || echo "${p#/proc/}" ;; esac
	done
}

# fixture NAME DEST: a prepared copy, as tests/integration/lib.sh makes it
# (no .cache, compile_commands.json from the template, its own git repo).
fixture() {
	local dest=$work/$2
	mkdir -p "$(dirname "$dest")"
	cp -R "$repo/tests/fixtures/$1" "$dest"
	rm -rf "$dest/.cache" "$dest/compile_commands.json" "$dest/.git"
	if [ -f "$dest/compile_commands.json.in" ]; then
		sed "s#@ROOT@#$dest#g" "$dest/compile_commands.json.in" >"$dest/compile_commands.json"
	fi
	git -C "$dest" init -q
	printf '%s\n' "$dest"
}

# settle SINCE_NS: waits until 2.5 s have passed since SINCE_NS (date +%s%N).
# The daemon re-reads every file changed in the last 2 s before each answer
# (mtime and ctime cannot yet prove such a file unchanged: git's racy-clean
# problem); a real checkout is older than that, so the warm series start
# only once the fresh copy has settled.
settle() {
	local left_ms=$((2500 - ($(date +%s%N) - $1) / 1000000))
	[ "$left_ms" -le 0 ] || sleep "$(printf '%d.%03d' $((left_ms / 1000)) $((left_ms % 1000)))"
}

# jget EXPR: a field of the JSON on stdin (python expression over `b`).
jget() {
	"$PY" -c 'import json,sys
try:
    b = json.load(sys.stdin); v = eval(sys.argv[1])
except Exception:
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# add JSON: appends one result line.
add() { printf '%s\n' "$1" >>"$results"; }

# The daemon's status (JSON) or nothing.
status() { "$L" --root "$1" daemon status --json 2>/dev/null | jget 'json.dumps(b)' || true; }

# needed_libs BINARY: the shared libraries it names (DT_NEEDED), one a line.
needed_libs() {
	readelf -d "$1" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
		grep -v -e '^libc\.so' -e '^ld-linux'
}

# cpu_ns PID: CPU time the process has used so far, all threads, in ns
# (/proc/PID/task/*/schedstat); -1 when it is gone.
cpu_ns() {
	[ -n "$1" ] && [ -d "/proc/$1/task" ] || { echo -1; return; }
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{t += $1} END {print t + 0}'
}

# rss_of PID: "VmRSS VmHWM" in KiB from /proc (the daemon's own figure is
# cross-checked against the kernel's).
rss_of() {
	awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print (r ? r : 0), (h ? h : 0)}' \
		"/proc/$1/status" 2>/dev/null || echo "0 0"
}

# bench_lang LANG FIXTURE FILE LANGID READY SERVER... ; positions in $POS
# ("method:line:col" 1-based, one per method).
bench_lang() {
	local lang=$1 fx=$2 file=$3 langid=$4 ready=$5 cold_n
	shift 5
	local server=("$@") m line col reqs=() spec out rc
	[ "$lang" = c ] && cold_n=$COLD_C || cold_n=$COLD_PY

	# ---- raw: one server, every method after one readiness wait ----
	local raw_root warm_root prepared
	raw_root=$(fixture "$fx" "$lang/raw")
	warm_root=$(fixture "$fx" "$lang/warm") # settles while the raw client runs
	prepared=$(date +%s%N)
	for spec in $POS; do
		IFS=: read -r m line col <<<"$spec"
		reqs+=(--req "$m:$((line - 1)):$((col - 1))")
	done
	log "$lang: raw LSP client, $RAW_N round trips per method"
	if out=$("$RAW" --root "$raw_root" --file "$file" --lang "$langid" --ready "$ready" \
		-n "$RAW_N" --warmup 10 "${reqs[@]}" -- "${server[@]}" 2>"$work/raw.err"); then
		while read -r line; do
			add "$(printf '%s' "$line" | jget 'json.dumps(dict(b, lang="'"$lang"'", kind="raw"))')"
		done <<<"$out"
	else
		add "{\"lang\":\"$lang\",\"kind\":\"raw\",\"error\":$(jq_str "$(cat "$work/raw.err")")}"
	fi

	# ---- warm: the daemon, started and ready before the first timed call ----
	local st t0 t1 dpid
	settle "$prepared"
	log "$lang: daemon start --wait-ready"
	t0=$(date +%s%N)
	if timeout -k 5 600 "$L" --root "$warm_root" daemon start --wait-ready >"$work/start.out" 2>&1; then
		t1=$(date +%s%N)
		st=$(status "$warm_root")
		dpid=$(printf '%s' "$st" | jget 'b["daemon"]["pid"]' || true)
		printf '%s\n' "$dpid" $(printf '%s' "$st" | jget '" ".join(str(s["pid"]) for s in b["servers"])' || true) >>"$pids_file"
		add "{\"lang\":\"$lang\",\"kind\":\"daemon-start\",\"ms\":$(((t1 - t0) / 1000000)),\"status\":${st:-null}}"
		for spec in $POS; do
			IFS=: read -r m line col <<<"$spec"
			local target="$file@L$line:C$col" before after cpu0 cpu1
			for cache in cached nocache; do
				local flags=(--root "$warm_root" --json)
				[ $cache = nocache ] && flags+=(--no-cache)
				before=$(status "$warm_root" | jget 'b["daemon"].get("cacheHits", -1)' || echo -1)
				cpu0=$(cpu_ns "$dpid")
				log "$lang: warm CLI $m ($cache), $N calls"
				out=$($TIMEIT -n "$N" --warmup 3 --json --cwd "$warm_root" \
					--tag lang="$lang" --tag kind="warm-$cache" --tag method="$m" \
					-- "$L" "${flags[@]}" "$m" "$target") || true
				cpu1=$(cpu_ns "$dpid")
				after=$(status "$warm_root" | jget 'b["daemon"].get("cacheHits", -1)' || echo -1)
				add "$(printf '%s' "$out" | jget "json.dumps(dict(b, cacheHitsDelta=$after - $before if $before >= 0 and $after >= 0 else None, daemonCpuNs=$cpu1 - $cpu0 if $cpu0 >= 0 and $cpu1 >= 0 else None))")"
			done
		done
		st=$(status "$warm_root")
		if [ -n "$dpid" ]; then
			read -r vmrss vmhwm <<<"$(rss_of "$dpid")"
		else
			vmrss=0 vmhwm=0
		fi
		add "{\"lang\":\"$lang\",\"kind\":\"daemon-after\",\"vmRSSKiB\":$vmrss,\"vmHWMKiB\":$vmhwm,\"status\":${st:-null}}"
		stop_daemon "$warm_root" "$lang" $dpid $(printf '%s' "$st" | jget '" ".join(str(s["pid"]) for s in b["servers"])' || true)
	else
		rc=$?
		log "$lang: no daemon (exit $rc): warm figures unavailable"
		add "{\"lang\":\"$lang\",\"kind\":\"daemon-start\",\"error\":$(jq_str "exit $rc: $(head -c 400 "$work/start.out")")}"
	fi

	# ---- cold: one server start per call ----
	local cold_root
	cold_root=$(fixture "$fx" "$lang/cold")
	for spec in $POS; do
		IFS=: read -r m line col <<<"$spec"
		log "$lang: cold $m, $cold_n calls (+1 warm-up)"
		out=$($TIMEIT -n "$cold_n" --warmup 1 --json --cwd "$cold_root" \
			--tag lang="$lang" --tag kind=cold --tag method="$m" \
			-- "$L" --root "$cold_root" --no-daemon --json "$m" "$file@L$line:C$col") || true
		add "$out"
	done
}

# bench_scale FILES: warm def on cproj plus FILES generated data files
# (about 4 KiB each, never compiled): how a warm call grows with the size of
# the tree the daemon keeps in sync with disk.
bench_scale() {
	local files=$1 root out cache
	root=$(fixture cproj c/scale)
	mkdir "$root/gen"
	"$PY" -c 'import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], "f%05d.txt" % i), "w") as f:
        f.write(("line %d of a generated data file that nobody compiles\n" % i) * 73)' \
		"$root/gen" "$files"
	settle "$(date +%s%N)"
	log "scale: cproj + $files files, daemon start --wait-ready"
	if ! timeout -k 5 600 "$L" --root "$root" daemon start --wait-ready >"$work/start.out" 2>&1; then
		add "{\"kind\":\"scale\",\"files\":$files,\"error\":$(jq_str "$(head -c 400 "$work/start.out")")}"
		return 0
	fi
	local pids
	pids=$(status "$root" | jget '" ".join([str(b["daemon"]["pid"])] + [str(s["pid"]) for s in b["servers"]])' || true)
	printf '%s\n' $pids >>"$pids_file"
	for cache in cached nocache; do
		local flags=(--root "$root" --json)
		[ $cache = nocache ] && flags+=(--no-cache)
		log "scale: warm CLI def ($cache), $N calls"
		out=$($TIMEIT -n "$N" --warmup 10 --json --cwd "$root" \
			--tag kind="scale-$cache" --tag files="$files" --tag method=def \
			-- "$L" "${flags[@]}" def src/main.c@L14:C2) || true
		add "$out"
	done
	stop_daemon "$root" scale $pids
}

# stop_daemon ROOT LABEL PIDS...: `lanser daemon stop`, then how long until
# the daemon and its servers have exited, as JSON.
stop_daemon() {
	local root=$1 label=$2 t0 tc t1 rc=0 left i pid st
	shift 2
	t0=$(date +%s%N)
	"$L" --root "$root" daemon stop >/dev/null 2>&1 || rc=$?
	tc=$(date +%s%N)
	for i in $(seq 100); do
		left=""
		for pid in "$@"; do
			st=$(proc_state "$pid")
			# exited; a zombie left to init (which reaps when it likes) counts
			[ -z "$st" ] || [ "$st" = Z ] || left="$left $pid:$st"
		done
		[ -n "$left" ] || break
		sleep 0.05
	done
	t1=$(date +%s%N)
	add "{\"kind\":\"daemon-stop\",\"lang\":\"$label\",\"rc\":$rc,\"cmdMs\":$(((tc - t0) / 1000000)),\"ms\":$(((t1 - t0) / 1000000)),\"left\":$(jq_str "${left# }")}"
}

jq_str() { "$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

log "scratch $work; XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"

# Waits (at most BENCH_QUIET_WAIT seconds, 300) until the machine has been
# quiet for 3 s in a row: other processes using under 10% of the CPUs. A
# millisecond-scale benchmark on a busy machine measures the machine.
busy_pct() { # CPU busy share over the next second, all CPUs, in percent
	local a b
	a=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	echo "$a $b" | awk '{d = $4 - $2; print (d > 0 ? int(100 * ($3 - $1) / d) : 0)}'
}
quiet_wait=${BENCH_QUIET_WAIT:-300}
quiet_s=0 waited=0 busy=100
while [ "$waited" -lt "$quiet_wait" ]; do
	busy=$(busy_pct)
	waited=$((waited + 1))
	if [ "$busy" -lt 10 ]; then
		quiet_s=$((quiet_s + 1))
		[ "$quiet_s" -lt 3 ] || break
	else
		quiet_s=0
		[ $((waited % 30)) != 1 ] || log "waiting for a quiet machine (CPU ${busy}% busy)"
	fi
done
if [ "$quiet_s" -ge 3 ]; then
	quiet="quiet (CPU under 10% busy for 3 s) after ${waited} s"
else
	quiet="**not quiet**: CPU ${busy}% busy after waiting ${waited} s"
	log "the machine is busy (${busy}%): figures will be noisy"
fi
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the measurement floor: the same harness around trivial processes ----
# A do-nothing C program linked with only jansson, and one linked with the
# same shared libraries as the lanser binary (its DT_NEEDED entries): how
# much of a CLI call is the dynamic loader's.
# The four take turns, so the machine's noise falls on all alike.
log "spawn floor: /bin/true, empty programs, lanser --version"
printf '#include <stdio.h>\nint main(void) { return puts("x") < 0; }\n' >"$work/hello.c"
if cc -O2 -o "$work/hello-jansson" "$work/hello.c" -Wl,--no-as-needed -ljansson 2>/dev/null &&
	cc -O2 -o "$work/hello-libs" "$work/hello.c" -Wl,--no-as-needed \
		$(needed_libs "$L" | sed 's/^/-l:/') 2>/dev/null; then
	floor=(--what /bin/true --what "empty C program, -ljansson"
		--what "empty C program, lanser's libraries" --what "lanser --version"
		-- /bin/true +++ "$work/hello-jansson" +++ "$work/hello-libs" +++ "$L" --version)
else
	floor=(--what /bin/true --what "lanser --version" -- /bin/true +++ "$L" --version)
fi
while read -r line; do add "$line"; done < <($TIMEIT -n 200 --warmup 5 --tag kind=floor "${floor[@]}")

# Positions (1-based, from tests/fixtures/README.md): the first call of
# list_push in main.c (definition in src/list.c:15, 9 references across
# four files) and the call of clamp_int; in app.py the first call of
# register (shapes/registry.py:12, 10 references) and the call of scaled.
POS="def:14:2 refs:14:2 hover:23:10"
bench_lang c cproj src/main.c c clangd clangd --background-index --log=error --pch-storage=memory
POS="def:8:5 refs:8:5 hover:10:37"
bench_lang py pyproj app.py python pyright "$PYRIGHT_LS" --stdio

SCALE=${BENCH_SCALE_FILES:-3000}
[ "$SCALE" = 0 ] || bench_scale "$SCALE"

# ---- the report ----
machine=$work/machine.json
"$PY" - "$machine" "$L" "$repo" "$loadavg" "$(needed_libs "$L" | tr '\n' ' ')" \
	"$(ldd "$L" 2>/dev/null | grep -c '=>')" "$quiet" "$(busy_pct)" <<'EOF'
import json, os, platform, subprocess, sys
def first(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except Exception:
        return "?"
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
repo = sys.argv[3]
json.dump({
    "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
    "clangd": first(["clangd", "--version"]),
    "pyright": first([os.path.join(repo, "deps/node_modules/.bin/pyright"), "--version"]),
    "node": first(["node", "--version"]),
    "python": platform.python_version(),
    "lanser": first([sys.argv[2], "--version"]),
    "commit": first(["git", "-C", repo, "rev-parse", "--short", "HEAD"]),
    "loadavg": sys.argv[4],
    "lanserNeeded": sys.argv[5].split(),
    "lanserLibs": int(sys.argv[6]),
    "quiet": sys.argv[7],
    "busyAfter": sys.argv[8] + "%",
    "dirty": bool(first(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"]) not in ("", "?")),
}, open(sys.argv[1], "w"))
EOF
report=$work/RESULTS.md
"$PY" "$repo/bench/report.py" "$results" "$machine" \
	"BENCH_N=$N BENCH_RAW_N=$RAW_N BENCH_COLD_C=$COLD_C BENCH_COLD_PY=$COLD_PY BENCH_SCALE_FILES=$SCALE" \
	"${LANSER_BIN:+LANSER_BIN=$LANSER_BIN }bash bench/run.sh $*" >"$report"
if [ "$write" = 1 ]; then
	# sections other scripts maintain (between <!-- name: ... --> and
	# <!-- /name --> markers, e.g. bench/trace_replay.sh) are carried over
	"$PY" - "$repo/bench/RESULTS.md" "$report" <<'P'
import re, sys
old = open(sys.argv[1]).read() if __import__("os").path.exists(sys.argv[1]) else ""
blocks = [m.group(0) for m in re.finditer(r"<!-- ([a-z-]+):.*?<!-- /\1 -->", old, re.S)]
if blocks:
    with open(sys.argv[2], "a") as f:
        f.write("\n" + "\n\n".join(blocks) + "\n")
P
	cp "$report" "$repo/bench/RESULTS.md"
	log "wrote bench/RESULTS.md"
fi
cat "$report"
