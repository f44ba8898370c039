#!/usr/bin/env bash
# typescript-language-server (pinned 5.3.0 with typescript 5.9.3): a
# definition across files lands on the declaration, not on the import (the
# server's syntax-only mode answers with the import), with and without a
# tsconfig.json; references cover both files.
. "$(dirname "$0")/lib.sh"
need_lanser

ws=$TMP/ts
mkdir -p "$ws" && cd "$ws" && git init -q . || exit 1
printf 'export function add(a: number, b: number): number {\n  return a + b;\n}\n' > m.ts
printf 'import { add } from "./m";\nconst x: number = add(1, 2);\nconsole.log(add(x, 3));\n' > main.ts

for setup in "no tsconfig" "tsconfig"; do
	[ "$setup" = tsconfig ] && printf '{"compilerOptions":{"strict":true},"include":["*.ts"]}\n' > tsconfig.json
	run "$L" --json def main.ts@L2:C19
	check_eq "typescript ($setup): def add exits 0" 0 "$RC"
	check_eq "typescript ($setup): def add lands on the declaration in m.ts" \
		"definition m.ts 1:17-1:20" "$(facts_lines)"
	check_json_eq "typescript ($setup): the server is the typescript profile" \
		.environment.servers.0.profile typescript
	run "$L" --json refs main.ts@L2:C19
	check_eq "typescript ($setup): refs of add cover both files" \
		"reference m.ts 1:17-1:20
reference main.ts 1:10-1:13
reference main.ts 2:19-2:22
reference main.ts 3:13-3:16" "$(facts_lines)"
done

# --- diagnostics are the type checker's, for the text sent (issue 12, item 1) -
# typescript-language-server first publishes an empty, unversioned message,
# then the syntactic and semantic results in pieces: a type error must be
# reported every time, in-process and by the daemon's first call after a
# change, and the errors of files that did not change as well.
td=$(fixture tsdiag) || { fail "typescript: copy the tsdiag fixture" "fixture tsdiag failed"; exit 1; }
cd "$td" || exit 1
run "$L" --no-daemon --json diag src/bad.ts
check_eq "typescript diag --no-daemon: the type error of bad.ts" \
	"diagnostic src/bad.ts 1:14-1:15" "$(facts_lines)"
check_json_eq "typescript diag --no-daemon: severity, code and message" \
	'[(f["severity"], f["code"], f["message"]) for f in b["facts"]]' \
	"[[\"error\",\"2322\",\"Type 'string' is not assignable to type 'number'.\"]]"
run "$L" --no-daemon --json diag
check_eq "typescript workspace diag --no-daemon: the type errors of every file" \
	"diagnostic src/bad.ts 1:14-1:15
diagnostic src/use.ts 3:14-3:19" "$(facts_lines)"
run "$L" --json diag src/ok.ts
check_eq "typescript daemon diag ok.ts: no diagnostics" "0 0" "$RC $(json .facts#)"
printf 'export function twice(v: number): number {\n  const s: number = "x";\n  return v * 2 + s;\n}\n' > src/ok.ts
run "$L" --json diag src/ok.ts
check_eq "typescript daemon diag: the first call after a change reports the new type error" \
	"diagnostic src/ok.ts 2:9-2:10" "$(facts_lines)"
check_json_eq "typescript daemon diag: ...from the daemon" .meta.volatile.daemon true
run "$L" --json diag src/use.ts
check_eq "typescript daemon diag: the unchanged file keeps its error" \
	"diagnostic src/use.ts 3:14-3:19" "$(facts_lines)"
"$L" daemon stop >/dev/null 2>&1

# --- references do not depend on what was opened before (issue 12, item 2) ------
# tests/ is outside tsconfig's "include": tsserver only searches it once a
# file of it is open. A fresh daemon, a daemon that opened the test file
# first, and --no-daemon give the same answer, the tests included.
tr=$(fixture tsrefs) || { fail "typescript: copy the tsrefs fixture" "fixture tsrefs failed"; exit 1; }
cd "$tr" || exit 1
run "$L" --json refs src/lib.ts@L1:C17
fresh=$(json .bundleId)
check_eq "typescript refs from a fresh daemon include the tests" \
	"reference src/lib.ts 1:17-1:20
reference src/main.ts 1:10-1:13
reference src/main.ts 3:13-3:16
reference tests/lib.test.ts 1:10-1:13
reference tests/lib.test.ts 3:5-3:8
reference tests/lib.test.ts 3:24-3:27" "$(facts_lines)"
check_json_eq "typescript refs from a fresh daemon: complete" .complete true
"$L" daemon stop >/dev/null 2>&1
"$L" hover tests/lib.test.ts@L3:C5 >/dev/null 2>&1
run "$L" --json refs src/lib.ts@L1:C17
check_eq "typescript refs after the daemon opened the test file: the same bundleId" "$fresh" "$(json .bundleId)"
run "$L" --no-daemon --json refs src/lib.ts@L1:C17
check_eq "typescript refs --no-daemon: the same bundleId" "$fresh" "$(json .bundleId)"
"$L" daemon stop >/dev/null 2>&1
run "$L" rename src/lib.ts@L1:C17 plus
check_eq "typescript rename preview from a fresh daemon touches the tests too" \
	"src/lib.ts src/main.ts tests/lib.test.ts" \
	"$(grep '^diff --git' <<<"$OUT" | awk '{print substr($4, 3)}' | sort | tr '\n' ' ' | sed 's/ $//')"
"$L" daemon stop >/dev/null 2>&1
