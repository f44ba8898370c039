#!/usr/bin/env bash
# tests/layers/run.sh - scripts/check-layers.sh on small trees, each with
# one violation (or none), and on the repository itself. Prints
# "layers: N passed, N failed" for tests/run-all.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
check="$here/scripts/check-layers.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanser-layers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0

# A clean tree: every layer includes what it may.
base() {
	rm -rf "$tmp/t" && mkdir -p "$tmp/t" && cd "$tmp/t" || exit 1
	mkdir core lsp selectors sandbox rewards engine agent
	printf '#include <stdio.h>\n' >core/buf.h
	printf '#include "core/buf.h"\n' >core/buf.c
	printf '#include "core/buf.h"\n' >lsp/session.h
	printf '#include "lsp/session.h"\n#include "core/buf.h"\n' >selectors/tree.c
	printf '#include "core/buf.h"\n' >sandbox/edit.h
	printf '#include "core/buf.h"\n' >rewards/reward.c
	printf '#include "sandbox/edit.h"\n#include "lsp/session.h"\n#include "selectors/tree.c"\n#include "rewards/reward.c"\n' >engine/engine.h
	printf '#include "sandbox/edit.h"\n#include "lsp/session.h"\n#include "selectors/tree.c"\n#include "engine/engine.h"\n' >agent/main.c
}
# case NAME EXPECTED-RC EXPECTED-TEXT: runs the check in the current tree.
case_() {
	local name=$1 want=$2 text=$3 out rc
	out=$(bash "$check" "$PWD" 2>&1); rc=$?
	if [ "$rc" = "$want" ] && { [ -z "$text" ] || grep -qF -- "$text" <<<"$out"; }; then
		echo "ok   $name"; pass=$((pass+1))
	else
		echo "FAIL $name (exit $rc, wanted $want and \"$text\")"; echo "$out" | sed 's/^/     /'
		fail=$((fail+1))
	fi
}

base; case_ layers__clean_tree_passes 0 ""
base; printf '#include "agent/main.h"\n' >>lsp/session.h; touch agent/main.h
case_ layers__subsystem_including_agent_fails 1 'lsp/session.h:2: #include "agent/main.h": lsp/ may not include agent/'
base; printf '#include "sandbox/edit.h"\n' >>rewards/reward.c
case_ layers__rewards_including_sandbox_fails 1 'rewards/reward.c:2: #include "sandbox/edit.h": rewards/ may not include sandbox/'
base; printf '#include "lsp/session.h"\n' >>rewards/reward.c
case_ layers__rewards_including_lsp_fails 1 'rewards/reward.c:2: #include "lsp/session.h": rewards/ may not include lsp/'
base; printf '#include "lsp/session.h"\n' >>core/buf.c
case_ layers__core_including_a_subsystem_fails 1 'core/buf.c:2: #include "lsp/session.h": core/ may not include lsp/'
base; printf '#include "lsp/session.h"\n' >>sandbox/edit.h
case_ layers__sandbox_including_lsp_fails 1 'sandbox/edit.h:2: #include "lsp/session.h": sandbox/ may not include lsp/'
base; printf '#include "selectors/tree.c"\n' >>lsp/session.h
case_ layers__lsp_including_selectors_fails 1 'lsp/session.h:2: #include "selectors/tree.c": lsp/ may not include selectors/'
base; printf '#include "engine/engine.h"\n' >>sandbox/edit.h
case_ layers__sandbox_including_engine_fails 1 'sandbox/edit.h:2: #include "engine/engine.h": sandbox/ may not include engine/'
base; printf '#include "engine/engine.h"\n' >>rewards/reward.c
case_ layers__rewards_including_engine_fails 1 'rewards/reward.c:2: #include "engine/engine.h": rewards/ may not include engine/'
base; printf '#include "engine/engine.h"\n' >>lsp/session.h
case_ layers__lsp_including_engine_fails 1 'lsp/session.h:2: #include "engine/engine.h": lsp/ may not include engine/'
base; printf '#include "agent/main.h"\n' >>engine/engine.h; touch agent/main.h
case_ layers__engine_including_agent_fails 1 'engine/engine.h:5: #include "agent/main.h": engine/ may not include agent/'
base; printf '\n' >engine/reward.c
case_ layers__engine_sharing_a_base_name_fails 1 'two product files share the base name reward.c: engine/reward.c rewards/reward.c'
base; printf '#include "buf.h"\n' >>core/buf.c
case_ layers__include_without_its_folder_fails 1 'core/buf.c:2: #include "buf.h" does not name its folder'
base; mkdir -p tests/unit && printf '#include "edit.h"\n' >tests/unit/t.c
case_ layers__test_include_without_its_folder_fails 1 'tests/unit/t.c:1: #include "edit.h" does not name its folder'
base; printf '#include "core/nosuch.h"\n' >>agent/main.c
case_ layers__include_of_a_missing_header_fails 1 'agent/main.c:5: #include "core/nosuch.h" names no header'
base; printf '\n' >agent/edit.h
case_ layers__shared_base_name_fails 1 'two product files share the base name edit.h: agent/edit.h sandbox/edit.h'
cd "$here" && case_ layers__repository_passes 0 ""

echo "layers: $pass passed, $fail failed"
[ "$fail" = 0 ]
