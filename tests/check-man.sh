#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Render every manual page from the source tree and fail on any error or
# warning: `man -l` (what a reader runs), groff with every warning enabled,
# and lexgrog (the NAME line that whatis and apropos index). An alias page
# must be a symbolic link to the page it names, in the same directory (a
# page whose .TH names another page is a copy that should be one): a
# `.so man3/...` stub only resolves inside an installed manual tree.
#
#   tests/check-man.sh [PAGE...]      default: man/*.[1-8]
set -uo pipefail
cd "$(dirname "$0")/.."

for tool in man groff lexgrog; do
	if ! command -v "$tool" >/dev/null; then
		echo "check-man: $tool not found (apt-get install man-db groff-base)" >&2
		exit 2
	fi
done

[ $# -gt 0 ] || set -- man/*.[1-8]
bad=0
fail() { printf 'check-man: %s: %s\n' "$1" "$2" >&2; bad=$((bad + 1)); }

for page in "$@"; do
	if [ -L "$page" ]; then
		target=$(readlink "$page")
		case $target in
		*/*) fail "$page" "alias must link to a page in the same directory, not '$target'"; continue;;
		esac
		[ -f "$page" ] || { fail "$page" "dangling link to '$target'"; continue; }
	elif th=$(awk '/^\.TH/ { print tolower($2); exit }' "$page") &&
		[ "$th" != "$(basename "$page" | sed 's/\.[1-8]$//')" ]; then
		# A copy of another page (sed -i, for one, turns a link into one).
		fail "$page" "its .TH names '$th': make it a symbolic link (ln -sf $th.${page##*.} $(basename "$page"))"
		continue
	elif grep -q '^\.so ' "$page"; then
		fail "$page" "'.so' stub: make it a symbolic link (ln -sf TARGET.3 $(basename "$page"))"
		continue
	fi
	out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -l "$page" 2>&1 >/dev/null)
	[ -z "$out" ] || fail "$page" "man -l: $out"
	out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
	[ -z "$out" ] || fail "$page" "groff: $out"
	lexgrog "$page" >/dev/null 2>&1 || fail "$page" "lexgrog cannot parse its NAME section"
done

if [ $bad -ne 0 ]; then
	echo "check-man: $bad problem(s) in $# pages" >&2
	exit 1
fi
echo "check-man: $# pages render cleanly"
