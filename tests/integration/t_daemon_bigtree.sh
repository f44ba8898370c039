#!/usr/bin/env bash
# A daemon on a tree with more source files than a workspace-wide answer
# takes (LSP_MAX_WORKSPACE_FILES, 2000): it still starts its servers, and
# `daemon start --wait-ready` waits for them. It used to start none on such
# a tree and call that "ready" (found by bench/large_tree.sh on 3000 files:
# the "index wait" was 0.1 s and the first query paid for the index).
# No compilation database: clangd runs no background index, so ready comes
# fast (readiness knows no index will come).
. "$(dirname "$0")/lib.sh"
need_lanser

if ! command -v clangd >/dev/null 2>&1; then
	skip "daemon bigtree: clangd" "clangd is not installed"
	exit 0
fi
ws=$TMP/big
mkdir -p "$ws/src"
"$PY" -c '
import sys
for i in range(2100):
    open("%s/src/f%04d.c" % (sys.argv[1], i), "w").write("int f%d(void) { return %d; }\n" % (i, i))
' "$ws"
git -C "$ws" init -q
cd "$ws" || exit 1
sleep 2.5   # older than the daemon's racy window

check_rc_as "daemon bigtree: daemon start --wait-ready on 2100 C files exits 0" 0 \
	"$L" daemon start --wait-ready
check_contains "daemon bigtree: the answer names clangd (ready, no index to wait for)" "$OUT" "clangd     no-index"
run "$L" daemon status --json
check_json_eq "daemon bigtree: status lists one server, clangd, running and ready" \
	'[[s["profile"], s["state"], s["ready"]] for s in b["servers"]]' '[["clangd","running",true]]'
check_rc_as "daemon bigtree: a query through the daemon answers" 0 "$L" def src/f0007.c@L1:C5
check_eq "daemon bigtree: def lands on f7" "src/f0007.c:1:5" "$OUT"
run "$L" --json diag
check_eq "daemon bigtree: workspace diag over 2100 files is still refused with 77 (name the files)" \
	77 "$RC"
"$L" daemon stop >/dev/null 2>&1
