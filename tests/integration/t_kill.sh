#!/usr/bin/env bash
# Crash safety of `lanser patch --apply` (issue 5): a multi-file patch
# (modified, CRLF, executable, added in a new folder, deleted, renamed)
# over a work tree with uncommitted changes (--allow-dirty) is killed with
# SIGKILL
#   - at every step of the transaction (LANSER_TXN_KILL_AT=N, deterministic),
#   - at random instants (a timer, as a user's kill would land; every step
#     of the transaction is slowed by 2 ms, LANSER_TXN_STEP_US, so that the
#     instants spread over the whole transaction),
#   - and again during the recovery of the killed run,
# and after the next lanser command the tree must equal exactly the state
# before or the state after (bytes, modes, folders, HEAD, index), with the
# uncommitted changes intact and no journal left.
# KILL_RANDOM=N sets the number of random trials (default 20; `make
# test-long` runs 400).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser
RANDOM_TRIALS=${KILL_RANDOM:-20}

make_base() { # DIR
	local d=$1
	mkdir -p "$d/src" "$d/docs" "$d/bin" "$d/old" "$d/mv"
	for i in $(seq 1 30); do echo "int a$i(void) { return $i; }"; done >"$d/src/a.c"
	for i in $(seq 1 30); do echo "int b$i(void) { return $i; }"; done >"$d/src/b.c"
	printf 'line one\r\nline two\r\nline three\r\n' >"$d/docs/crlf.txt"
	printf '#!/bin/sh\necho run\n' >"$d/bin/run.sh"; chmod 755 "$d/bin/run.sh"
	printf 'to be deleted\n' >"$d/old/gone.txt"
	for i in $(seq 1 20); do echo "moved line $i"; done >"$d/mv/from.txt"
	printf 'notes\n' >"$d/notes.txt"
	git -C "$d" init -q
	git_commit_all "$d"
}

make_patch() { # BASE -> prints the patch
	local g=$TMP/gen
	rm -rf "$g"; cp -a "$1" "$g"
	sed -i 's/return 5;/return 50;/; s/return 25;/return 250;/' "$g/src/a.c"
	sed -i 's/return 7;/return 70;/' "$g/src/b.c"
	printf 'line one\r\nline 2\r\nline three\r\nline four\r\n' >"$g/docs/crlf.txt"
	printf '#!/bin/sh\necho run fast\n' >"$g/bin/run.sh"
	mkdir -p "$g/new/deep"; printf 'brand new\n' >"$g/new/deep/file.txt"
	rm "$g/old/gone.txt"
	git -C "$g" mv mv/from.txt mv/to.txt; sed -i 's/moved line 3$/moved line three/' "$g/mv/to.txt"
	git -C "$g" add -A
	git -C "$g" diff --cached -M
}

setup() { # NAME -> prints a fresh dirty base
	local d=$TMP/$1
	rm -rf "$d"; cp -a "$TMP/base" "$d"
	printf 'my uncommitted notes\n' >>"$d/notes.txt"
	printf 'untracked scratch\n' >"$d/scratch.txt"
	printf '%s\n' "$d"
}

base=$TMP/base
make_base "$base"
make_patch "$base" >"$TMP/p.diff"
check_contains "kill: the patch renames a file" "$(cat "$TMP/p.diff")" "rename from mv/from.txt"

for variant in plain commit; do
	args=(--apply --allow-dirty)
	[ "$variant" = commit ] && args+=(--commit "lanser change")
	# before and after
	d=$(setup ref-$variant)
	snapshot "$d" >"$TMP/before-$variant"
	rm -f "$TMP/steps"
	run env LANSER_TXN_STEPS="$TMP/steps" "$L" --root "$d" patch "${args[@]}" "$TMP/p.diff"
	rc_is "kill[$variant]: the uninterrupted apply succeeds" 0
	snapshot "$d" >"$TMP/after-$variant"
	if cmp -s "$TMP/before-$variant" "$TMP/after-$variant"; then
		fail "kill[$variant]: the apply changes the tree" "before == after"
	fi
	check_contains "kill[$variant]: uncommitted changes survive the apply" "$(cat "$d/notes.txt")" \
		"my uncommitted notes"
	steps=$(tail -1 "$TMP/steps" 2>/dev/null || echo 0)
	if [ "$steps" -lt 10 ]; then
		fail "kill[$variant]: the transaction reports its steps" "steps=$steps"
	fi
	# every step, then a kill of the recovery itself at its first step
	n_before=0; n_after=0; bad=0
	for ((k = 1; k <= steps; k++)); do
		for rec_kill in 0 1; do
			d=$(setup trial)
			quiet env LANSER_TXN_KILL_AT=$k "$L" --root "$d" patch "${args[@]}" "$TMP/p.diff"
			rc=$RC
			if [ "$rc" != 137 ] && [ "$k" -le "$steps" ]; then
				bad=$((bad+1)); echo "# step $k: the apply was not killed (rc $rc)"
			fi
			if [ "$rec_kill" = 1 ]; then
				quiet env LANSER_TXN_KILL_AT=1 "$L" --root "$d" patch "$TMP/p.diff"
			fi
			"$L" --root "$d" patch "$TMP/p.diff" >/dev/null 2>&1  # any command recovers
			snapshot "$d" >"$TMP/now"
			if cmp -s "$TMP/now" "$TMP/before-$variant"; then n_before=$((n_before+1))
			elif cmp -s "$TMP/now" "$TMP/after-$variant"; then n_after=$((n_after+1))
			else
				bad=$((bad+1))
				echo "# step $k (recovery killed: $rec_kill): torn tree"
				diff "$TMP/before-$variant" "$TMP/now" | head -10 | sed 's/^/#   /'
			fi
			if [ -n "$(journal_left "$d")" ]; then
				bad=$((bad+1)); echo "# step $k: journal left: $(journal_left "$d")"
			fi
		done
	done
	check_eq "kill[$variant]: SIGKILL at each of $steps steps (and during recovery) leaves before or after ($n_before before, $n_after after)" 0 "$bad"
	if [ "$n_before" = 0 ] || [ "$n_after" = 0 ]; then
		fail "kill[$variant]: the step kills hit both sides" "$n_before before, $n_after after"
	fi
	# random instants
	n_before=0; n_after=0; bad=0; n_mid=0
	for ((t = 0; t < RANDOM_TRIALS; t++)); do
		d=$(setup trial)
		(
			LANSER_TXN_STEP_US=2000 "$L" --root "$d" patch "${args[@]}" "$TMP/p.diff" \
				>/dev/null 2>&1 &
			pid=$!
			sleep "$(printf '0.%03d' $((RANDOM % 130)))"
			kill -9 "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		) 2>/dev/null
		[ -n "$(journal_left "$d")" ] && n_mid=$((n_mid+1))
		git_state=$(ls -a "$d/.git" | tr '\n' ' '; ls "$d/.git/lanser-txn" 2>/dev/null | tr '\n' ' ')
		"$L" --root "$d" patch "$TMP/p.diff" >"$TMP/rec.out" 2>&1
		snapshot "$d" >"$TMP/now"
		if cmp -s "$TMP/now" "$TMP/before-$variant"; then n_before=$((n_before+1))
		elif cmp -s "$TMP/now" "$TMP/after-$variant"; then n_after=$((n_after+1))
		else
			bad=$((bad+1)); echo "# random trial $t: torn tree"
			echo "#   vs before:"; diff "$TMP/before-$variant" "$TMP/now" | head -20 | sed 's/^/#   /'
			echo "#   vs after:"; diff "$TMP/after-$variant" "$TMP/now" | head -20 | sed 's/^/#   /'
			echo "#   git dir after the kill: $git_state"
			sed 's/^/#   recovery: /' "$TMP/rec.out" | head -5
		fi
		if [ -n "$(journal_left "$d")" ]; then
			bad=$((bad+1)); echo "# random trial $t: journal left: $(journal_left "$d")"
		fi
	done
	check_eq "kill[$variant]: $RANDOM_TRIALS SIGKILLs at random instants ($n_mid inside the transaction) leave before or after ($n_before before, $n_after after)" 0 "$bad"
	echo "# kill[$variant]: $((2 * steps)) step trials, $RANDOM_TRIALS random trials"
done

# The warm daemon recovers before it answers: a transaction killed in the
# middle, then a query through an already running daemon.
d=$(setup daemon-trial)
snapshot "$d" >"$TMP/before-daemon"
run "$L" --root "$d" daemon start
rc_is "kill: a daemon starts for the workspace" 0
quiet env LANSER_TXN_KILL_AT=8 "$L" --root "$d" patch --apply --allow-dirty "$TMP/p.diff"
if [ -n "$(journal_left "$d")" ]; then ok "kill: the killed apply left a journal"
else fail "kill: the killed apply left a journal"; fi
run "$L" --root "$d" outline "$d/src/a.c"
rc_is "kill: a query through the daemon answers" 0
check_not_contains "kill: ... through the daemon itself" "$ERR" "without the daemon"
check_contains "kill: ... about the recovered file" "$OUT" "a5"
snapshot "$d" >"$TMP/now"
cmp -s "$TMP/now" "$TMP/before-daemon" && ok "kill: the daemon rolled the torn tree back before answering" \
	|| fail "kill: the daemon rolled the torn tree back before answering" "$(diff "$TMP/before-daemon" "$TMP/now" | head)"
[ -z "$(journal_left "$d")" ] && ok "kill: ... and dropped the journal" || fail "kill: ... and dropped the journal"
"$L" --root "$d" daemon stop >/dev/null 2>&1
