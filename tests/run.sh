#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run Criterion test binaries and add up their results.
#
#   tests/run.sh BINARY... [-- CRITERION_ARGS...]
#
# Every binary runs, even after one fails. Its human output goes to the
# terminal as usual; its results are read from the TAP report Criterion
# writes beside it (BINARY.tap). The last line is the total:
#
#   check: N passed, N failed[, N skipped]
#
# (the skipped count only when some test was skipped)
# and the exit status is 0 only if every test passed and every binary
# exited cleanly. A binary that dies before reporting all its tests counts
# its missing tests (at least one) as failed. With --filter=PATTERN (or
# --filter PATTERN) among the arguments, a binary without a matching test
# is not run at all.
set -uo pipefail

# Sanitizer builds: leaks inside NNG at a bridge's exit are not ours.
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

bins=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do bins+=("$1"); shift; done
[ $# -gt 0 ] && shift
args=("$@")

# A filter (--filter=suite/name, with * wildcards) selects tests by name:
# a binary is run only if its --list names a matching test.
pat=
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	--filter=*) pat=${args[i]#--filter=};;
	--filter) pat=${args[i + 1]:-};;
	esac
done

has_match() {
	local line suite= name
	while IFS= read -r line; do
		case $line in
		*:\ *\ test*) suite=${line%%:*};;
		*"── "*) name=${line##*── }
			# shellcheck disable=SC2053
			[[ $suite/$name == $pat ]] && return 0;;
		esac
	done < <("$1" --list 2>/dev/null)
	return 1
}

pass=0 fail=0 skipped=0 bad=0 ran=0
for t in "${bins[@]}"; do
	if [ -n "$pat" ] && ! has_match "$t"; then
		continue
	fi
	printf '== %s\n' "$t"
	ran=$((ran + 1))
	tap=$t.tap
	rm -f "$tap"
	"$t" "${args[@]}" --tap="$tap"
	rc=$?
	# "1..N" plans N tests; each reports "ok", "ok ... # SKIP" or "not ok".
	read -r plan ok skip notok < <(awk '
		/^1\.\.[0-9]+/ { split($0, a, "\\.\\."); plan = a[2] + 0 }
		/^ok /         { if ($0 ~ /# SKIP/) skip++; else ok++ }
		/^not ok /     { notok++ }
		END { printf "%d %d %d %d\n", plan, ok, skip, notok }' "$tap" 2>/dev/null ||
		echo "0 0 0 0")
	missing=$((plan - ok - skip - notok))
	[ $missing -ge 0 ] || missing=0
	if [ $rc -ne 0 ] && [ $notok -eq 0 ] && [ $missing -eq 0 ]; then
		missing=1
	fi
	if [ $missing -gt 0 ]; then
		printf '%s: exited with status %d, %d test(s) not reported: counted as failed\n' \
			"$t" "$rc" "$missing" >&2
	fi
	pass=$((pass + ok))
	skipped=$((skipped + skip))
	fail=$((fail + notok + missing))
	[ $rc -eq 0 ] || bad=1
done

[ $fail -eq 0 ] || bad=1
[ $ran -gt 0 ] || [ -z "$pat" ] || echo "run.sh: no test matches --filter=$pat" >&2
if [ $skipped -gt 0 ]; then
	echo "check: $pass passed, $fail failed, $skipped skipped"
else
	echo "check: $pass passed, $fail failed"
fi
exit $bad
