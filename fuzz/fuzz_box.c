/* SPDX-License-Identifier: MIT */
/*
 * fuzz_box.c — libFuzzer harness for everything that interprets a box:
 * header validation, the seqlock read path with its CRC check, and the
 * write path (lock takeover included), on arbitrary bytes standing for a
 * segment. No /dev/shm involved: the in-memory entry points of box.c.
 *
 * Properties checked beyond "no crash, no out-of-bounds, no UB":
 *  - a successful read returns at most the capacity and the buffer size;
 *  - after a successful write, the box reads back exactly what was written.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size, 8-aligned copy: ASan flags any byte read past it. */
	unsigned char *seg = malloc(size ? size : 1);
	if (!seg)
		return 0;
	memcpy(seg, data, size);
	uint64_t cap = 0;
	int ok = pshm__box_check(seg, size, &cap) == 0;
	size_t outcap = size > 64 ? size - 64 : 0;
	/* Sometimes a buffer smaller than the value, to take that path too. */
	if (size && (data[size - 1] & 1))
		outcap /= 2;
	unsigned char *out = malloc(outcap ? outcap : 1);
	ssize_t n = pshm__box_read_mem(seg, size, out, outcap, 0);
	if (n >= 0 && (!ok || (uint64_t)n > cap || (size_t)n > outcap))
		abort();
	/* Write the first bytes of the input back as a value. */
	size_t len = size / 4;
	if (ok && pshm__box_write_mem(seg, size, data, len, 0) == 0) {
		n = pshm__box_read_mem(seg, size, out, outcap, 0);
		if (len <= outcap && (n != (ssize_t)len || memcmp(out, data, len)))
			abort();
	}
	free(out);
	free(seg);
	return 0;
}
