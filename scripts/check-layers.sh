#!/usr/bin/env bash
# check-layers.sh [ROOT] - the layering rule of BRIEF.md "Architecture",
# checked on the includes (issue 18, item 6). `make check-layers` runs it on
# the repository; tests/layers/run.sh runs it on trees with a violation.
#
# Which layer may include which (a folder may always include itself):
#   core       nothing else: it is the bottom
#   lsp        core
#   selectors  lsp, core
#   sandbox    core (no sandbox file includes lsp/ today, so none may)
#   rewards    core (rewards are computed from bundles and outcome records
#              alone: no lsp/, no sandbox/)
#   engine     core, lsp, selectors, sandbox, rewards (the evaluation engine
#              below the front ends; no subsystem includes it)
#   agent      anything (the front ends)
# and, for every C file of the product, tests/unit, fuzz/ and bench/:
#   - an include of a project header names its folder ("sandbox/edit.h"),
#     and the header exists there;
#   - no two product files (core lsp selectors sandbox rewards engine agent)
#     share a base name.
# Exit 0 when the tree follows the rule; 1 with one line per violation.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || { echo "check-layers: cannot enter $root" >&2; exit 1; }

layers="core lsp selectors sandbox rewards engine agent"
allowed() { # from-layer to-layer -> 0 when allowed
	[ "$1" = "$2" ] && return 0
	case "$1:$2" in
	lsp:core|selectors:lsp|selectors:core|sandbox:core|rewards:core) return 0 ;;
	engine:core|engine:lsp|engine:selectors|engine:sandbox|engine:rewards) return 0 ;;
	agent:*) return 0 ;;
	esac
	return 1
}

bad=0
violation() { echo "check-layers: $*"; bad=$((bad+1)); }

files=$(find $layers tests/unit fuzz bench -name '*.[ch]' 2>/dev/null | sort)
for f in $files; do
	from=${f%%/*}
	# One line per quoted include: "LINE:HEADER".
	while IFS=: read -r line hdr; do
		[ -n "$hdr" ] || continue
		case "$hdr" in
		*/*) ;;
		*) violation "$f:$line: #include \"$hdr\" does not name its folder (write \"<folder>/$hdr\")"; continue ;;
		esac
		to=${hdr%%/*}
		case "$hdr" in
		../*|./*|*/../*) violation "$f:$line: #include \"$hdr\" is relative; name the folder from the root"; continue ;;
		esac
		if [ ! -f "$hdr" ]; then
			violation "$f:$line: #include \"$hdr\" names no header of the project"
			continue
		fi
		case " $layers " in
		*" $from "*) ;;
		*) continue ;;  # tests, fuzz, bench may include any layer
		esac
		case " $layers " in
		*" $to "*) ;;
		*) violation "$f:$line: #include \"$hdr\": the product includes outside its layers"; continue ;;
		esac
		if ! allowed "$from" "$to"; then
			violation "$f:$line: #include \"$hdr\": $from/ may not include $to/ (scripts/check-layers.sh)"
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed -E 's/^([0-9]+):[^"]*"([^"]*)".*/\1:\2/')
done

dups=$(find $layers -name '*.[ch]' 2>/dev/null | sed 's#.*/##' | sort | uniq -d)
for d in $dups; do
	violation "two product files share the base name $d: $(find $layers -name "$d" | sort | tr '\n' ' ')"
done

if [ "$bad" -gt 0 ]; then
	echo "check-layers: $bad violation(s)"
	exit 1
fi
exit 0
