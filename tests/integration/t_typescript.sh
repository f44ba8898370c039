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
