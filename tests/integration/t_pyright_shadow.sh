#!/usr/bin/env bash
# pyright must resolve the workspace's own packages before an installed copy
# of the same package (here a decoy on PYTHONPATH, which pyright reads
# through the interpreter's sys.path).
. "$(dirname "$0")/lib.sh"
need_lanser

ws=$(fixture pyproj)
decoy=$TMP/site/shapes
mkdir -p "$decoy"
: > "$decoy/__init__.py"
printf '# decoy: an installed copy\n\n\nclass Circle:\n    pass\n' > "$decoy/circle.py"

cd "$ws"
PYTHONPATH=$TMP/site run "$L" --json def app.py@L7:C13
check_eq "shadow: def exits 0" 0 "$RC"
check_eq "shadow: Circle resolves to the workspace copy" \
	"definition shapes/circle.py 9:7-9:13" "$(facts_lines)"
check_not_contains "shadow: nothing external" "$OUT" '"external"'

# src/ layout: the package under src/ still wins over the decoy.
mkdir -p src && mv shapes src/ && rm -f pyrightconfig.json
PYTHONPATH=$TMP/site run "$L" --json def app.py@L7:C13
check_eq "shadow: src layout resolves to src/shapes" \
	"definition src/shapes/circle.py 9:7-9:13" "$(facts_lines)"

