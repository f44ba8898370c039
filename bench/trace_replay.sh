#!/usr/bin/env bash
# Trace replay throughput (issue 7; docs/trace.md). Records a large trace of
# real warm queries (clangd on tests/fixtures/cproj, through the daemon)
# plus reward events, then times `lanser trace replay --verify` on it: events
# and bundles per second, no language server involved. Baseline in the same
# run: the same queries answered live (warm daemon, --no-cache) against
# their replay. Also the cost of --trace on a warm query.
#
#   bash bench/trace_replay.sh [--write]     (BENCH_TRACE_N queries, default 300)
#
# --write replaces the "Trace replay" section of bench/RESULTS.md (between
# its markers), leaving the rest of the file alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
N=${BENCH_TRACE_N:-300}
bench_write_flag "${1:-}"
bench_scratch trace
TMP=$W
trap '"$L" daemon stop --all >/dev/null 2>&1; rm -rf "$TMP"' EXIT

ws=$TMP/cproj
bench_copy_fixture "$ws"
bench_cdb "$ws"
git -C "$ws" init -q
cd "$ws"
"$L" daemon start --wait-ready >/dev/null
qs=("def src/main.c@L14:C2" "refs src/main.c@L14:C2" "hover src/main.c@L23:C10")
now() { date +%s.%N; }
# live, warm, no cache: the baseline
t0=$(now)
for ((i = 0; i < N; i++)); do "$L" --no-cache ${qs[$((i % 3))]} >/dev/null; done
t1=$(now)
# the same, traced
for ((i = 0; i < N; i++)); do "$L" --trace "$TMP/big.jsonl" ${qs[$((i % 3))]} >/dev/null; done
t2=$(now)
"$L" daemon stop >/dev/null
for ((i = 0; i < N; i++)); do
	"$L" --trace "$TMP/big.jsonl" reward step D0=$((i % 7)) D=$((i % 3)) S=1 c=0.9 c0=0.8 >/dev/null
done
events=$(wc -l <"$TMP/big.jsonl")
bytes=$(wc -c <"$TMP/big.jsonl")
best=
for rep in 1 2 3; do
	s=$(now)
	"$L" trace replay --verify "$TMP/big.jsonl" >"$TMP/verify.out"
	e=$(now)
	d=$(echo "$e - $s" | bc -l)
	if [ -z "$best" ] || [ "$(echo "$d < $best" | bc -l)" = 1 ]; then best=$d; fi
done
live_ms=$(echo "($t1 - $t0) * 1000 / $N" | bc -l)
traced_ms=$(echo "($t2 - $t1) * 1000 / $N" | bc -l)
replay_ms=$(echo "$best * 1000 / $N" | bc -l)
eps=$(echo "$events / $best" | bc -l)
bps=$(echo "$N / $best" | bc -l)
report=$(cat <<R
<!-- trace-replay: written by bench/trace_replay.sh; do not edit by hand -->
## Trace replay (issue 7)

\`bash bench/trace_replay.sh --write\` on $(date -u '+%Y-%m-%d %H:%M UTC'), lanser $("$L" --version | awk '{print $2}'), $(nproc) CPUs. A trace of $N warm clangd queries through the daemon (def, refs, hover on tests/fixtures/cproj, each with \`--trace\`) and $N \`reward step\` events: $events events, $((bytes / 1024)) KiB. \`lanser trace replay --verify\` re-runs every query against the recorded frames and documents (no server) and recomputes every reward; best of 3.

| measure | value |
|---|--:|
| replay --verify, whole trace | $(printf '%.3f' "$best") s |
| events replayed per second | $(printf '%.0f' "$eps") |
| bundles recomputed per second | $(printf '%.0f' "$bps") |
| per query: live warm call (\`--no-cache\`, new process, daemon) | $(printf '%.2f' "$live_ms") ms |
| per query: the same call with \`--trace\` | $(printf '%.2f' "$traced_ms") ms |
| per query: its replay (amortised over the trace) | $(printf '%.2f' "$replay_ms") ms |

Replay is a single process reading the whole file; the live figures include a process start per call.
<!-- /trace-replay -->
R
)
printf '%s\n' "$report"
if [ "$WRITE" = 1 ]; then
	bench_write_section trace-replay "$report"
fi
