#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/instr.sh — instructions per 64-byte channel message, counted by
# callgrind (valgrind): a deterministic measure of the fixed cost of the
# fast path, whatever the machine's noise.
#
#   bench/instr.sh [BUILDDIR]     (default: build; needs BUILDDIR/lib/libpshm.a)
#
# One thread holds both ends of an SPSC channel and alternates: nothing ever
# waits, so what is counted is the fast path alone. Prints, per message:
# send+recv (copy), reserve+commit+peek+release (zero-copy), and, if the
# library has them, send_batch+recv_batch of 16 messages.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$top/build}
lib=$b/lib/libpshm.a
[ -f "$lib" ] || { echo "instr.sh: $lib: not built (make lib)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "instr.sh: valgrind is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# INSTR_KEEP=DIR keeps the callgrind output there, for callgrind_annotate.
batch=
nm "$lib" 2>/dev/null | grep -q ' T pshm_chan_send_batch' && batch=-DBATCH
cat >"$tmp/instr.c" <<'C'
#include <pshm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define N 20000
static pshm_chan *p, *c;
static unsigned char msg[64], buf[4096];

static void die(const char *what, long r)
{
	fprintf(stderr, "instr: %s: %s\n", what, pshm_strerror((int)r));
	exit(1);
}

__attribute__((noinline)) void copy_loop(void)
{
	for (int i = 0; i < N; i++) {
		int r = pshm_chan_send(p, msg, sizeof msg, 0);
		ssize_t n = pshm_chan_recv(c, buf, sizeof buf, 0);
		if (r < 0 || n != sizeof msg)
			die("send/recv", r < 0 ? r : n);
	}
}

__attribute__((noinline)) void zc_loop(void)
{
	for (int i = 0; i < N; i++) {
		void *w;
		const void *rd;
		if (pshm_chan_reserve(p, sizeof msg, &w, 0) < 0)
			die("reserve", -1);
		memcpy(w, msg, sizeof msg);
		pshm_chan_commit(p, sizeof msg);
		if (pshm_chan_peek(c, &rd, 0) != sizeof msg)
			die("peek", -1);
		buf[0] ^= *(const unsigned char *)rd;
		pshm_chan_release(c);
	}
}

#ifdef BATCH
#define B 16
__attribute__((noinline)) void batch_loop(void)
{
	struct iovec v[B];
	size_t lens[B];
	for (int k = 0; k < B; k++)
		v[k] = (struct iovec){ msg, sizeof msg };
	for (int i = 0; i < N / B; i++) {
		ssize_t s = pshm_chan_send_batch(p, v, B, 0);
		ssize_t n = pshm_chan_recv_batch(c, buf, sizeof buf, lens, B, 0);
		if (s != B || n != B)
			die("batch", s < 0 ? s : n);
	}
}
#endif

int main(void)
{
	char name[64];
	snprintf(name, sizeof name, "/pshm-instr-%d", (int)getpid());
	int r = pshm_chan_create(name, NULL, 0600, 0);
	if (r < 0)
		die("create", r);
	if ((r = pshm_chan_open(name, PSHM_CONSUMER, 0, &c)) < 0 ||
	    (r = pshm_chan_open(name, PSHM_PRODUCER, 0, &p)) < 0) {
		pshm_chan_unlink(name);
		die("open", r);
	}
	pshm_chan_unlink(name);
	copy_loop();
	zc_loop();
#ifdef BATCH
	batch_loop();
#endif
	pshm_chan_close(p);
	pshm_chan_close(c);
	return 0;
}
C
${CC:-cc} -O2 -g -std=c11 -D_GNU_SOURCE $batch -I"$top/include" -o "$tmp/instr" "$tmp/instr.c" "$lib" -pthread
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
	--toggle-collect=copy_loop --toggle-collect=zc_loop --toggle-collect=batch_loop \
	"$tmp/instr" >/dev/null 2>"$tmp/vg.log" || { cat "$tmp/vg.log" >&2; exit 1; }
# Inclusive instruction counts per function, from callgrind_annotate: the
# library's own (the calls), and the whole loop (the calls and the loop
# around them, which a program pays too).
callgrind_annotate --inclusive=yes "$tmp/cg.out" 2>/dev/null >"$tmp/ann.txt"
[ -n "${INSTR_KEEP:-}" ] && cp "$tmp/cg.out" "$tmp/ann.txt" "$INSTR_KEEP"/
per() {
	# A function's inlined parts show as more lines (file:function); its
	# own, largest line is the inclusive count.
	awk -v fns="$1" -v n=20000 'BEGIN { k = split(fns, f, " ") }
	{ for (i = 1; i <= k; i++) if ($0 ~ (":" f[i] " ")) { gsub(",", "", $1); if ($1 + 0 > m[i]) m[i] = $1 + 0 } }
	END { for (i = 1; i <= k; i++) s += m[i]; printf "%.0f", s / n }' "$tmp/ann.txt"
}
printf 'instructions per 64 B message, callgrind, %s\n' "$lib"
printf '%-36s %8s %8s\n' '' library 'w/ loop'
printf '%-36s %8s %8s\n' 'send + recv' "$(per 'pshm_chan_send pshm_chan_recv')" "$(per copy_loop)"
printf '%-36s %8s %8s\n' 'reserve + commit + peek + release' \
	"$(per 'pshm_chan_reserve pshm_chan_commit pshm_chan_peek pshm_chan_release')" "$(per zc_loop)"
[ -n "$batch" ] && printf '%-36s %8s %8s\n' 'send_batch + recv_batch, 16 a call' \
	"$(per 'pshm_chan_send_batch pshm_chan_recv_batch')" "$(per batch_loop)"
exit 0
