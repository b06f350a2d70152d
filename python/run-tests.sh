#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the Python package's tests with an interpreter that has pytest.
#
#   python/run-tests.sh [pytest arguments...]
#
# The python3 first on PATH may be a separate install (pyenv, conda) that
# does not see Debian's python3-pytest, so /usr/bin/python3 is tried
# first, then python3 on PATH; PYTHON=/path/to/python forces one. The
# library comes from PSHM_LIB (default: build/lib/libpshm.so of this tree);
# PSHM_BUILD names the build directory whose binaries the interop tests run.
# With no interpreter that has pytest, the tests are skipped, loudly, and
# the script succeeds. The last line says what happened, for CI.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${PSHM_BUILD:=$root/build}"
: "${PSHM_LIB:=$PSHM_BUILD/lib/libpshm.so}"
export PSHM_BUILD PSHM_LIB

if [ -n "${PYTHON:-}" ]; then
	candidates=("$PYTHON")
else
	candidates=(/usr/bin/python3 "$(command -v python3 2>/dev/null || true)")
fi
py=
for c in "${candidates[@]}"; do
	[ -n "$c" ] && [ -x "$c" ] || continue
	if "$c" -c 'import sys, pytest; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
		py=$c
		break
	fi
done
if [ -z "$py" ]; then
	echo "check-python: SKIPPED: no Python 3.9+ with pytest (tried: ${candidates[*]});" \
		"install python3-pytest (Debian) or set PYTHON=" >&2
	echo "check-python: skipped (no pytest)"
	exit 0
fi
if [ ! -e "$PSHM_LIB" ]; then
	echo "check-python: $PSHM_LIB is missing: run make first" >&2
	echo "check-python: failed"
	exit 1
fi
echo "check-python: $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])')," \
	"pytest $("$py" -c 'import pytest; print(pytest.__version__)'), library $PSHM_LIB"
cd "$here" || exit 1
# -p no:cacheprovider: leave no .pytest_cache in the source tree.
"$py" -m pytest -p no:cacheprovider -q -ra tests "$@"
rc=$?
if [ $rc -eq 0 ]; then echo "check-python: passed"; else echo "check-python: FAILED"; fi
exit $rc
