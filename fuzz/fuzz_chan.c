/* SPDX-License-Identifier: MIT */
/*
 * fuzz_chan.c — libFuzzer harness for what a channel reads from shared
 * memory: header validation, the consumer's read path (recv, peek, release,
 * the slow path that resolves dead producers' claims), a producer's claim
 * path, and pshm_chan_stat()'s record walk, all over an arbitrary buffer
 * (no /dev/shm, no peer lookups: every peer counts as gone).
 *
 * Input: one control byte (which operations, buffer sizes), then the
 * segment image. The image's total_size field is set to the image's size,
 * so that mutations explore past the size check. Seeds: valid channels
 * with messages, padding, dead records and a half-done release, made by
 * the library itself (fuzz/corpus/fuzz_chan/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOTAL_OFF 16 /* total_size, see pshm(7) */

static void *image(const uint8_t *data, size_t size)
{
	void *buf = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!buf)
		return NULL;
	memcpy(buf, data, size);
	if (size >= TOTAL_OFF + 8) {
		uint64_t total = size;
		memcpy((char *)buf + TOTAL_OFF, &total, sizeof(total));
	}
	return buf;
}

static void consume(void *buf, size_t size, uint8_t ctl)
{
	pshm_chan *c;
	if (pshm__chan_attach_mem(buf, size, PSHM_CONSUMER, PSHM__CHAN_DETACHED, &c) < 0)
		return;
	static unsigned char out[1 << 16];
	size_t cap = ctl & 2 ? 16 : sizeof(out);
	for (int i = 0; i < 64; i++) {
		ssize_t n;
		if ((ctl >> (i % 8)) & 1) {
			const void *p;
			n = pshm_chan_peek(c, &p, 0);
			if (n >= 0) {
				/* Touch what was handed out: it must lie in the buffer. */
				volatile unsigned char x = 0;
				for (ssize_t k = 0; k < n; k++)
					x ^= ((const unsigned char *)p)[k];
				(void)x;
				pshm_chan_release(c);
			}
		} else {
			n = pshm_chan_recv(c, out, cap, 0);
		}
		if (n < 0 && n != -EMSGSIZE)
			break;
	}
	pshm_chan_close(c);
}

static void produce(void *buf, size_t size, uint8_t ctl)
{
	pshm_chan *p;
	if (pshm__chan_attach_mem(buf, size, PSHM_PRODUCER, PSHM__CHAN_DETACHED, &p) < 0)
		return;
	static const unsigned char msg[4096];
	for (int i = 0; i < 16; i++) {
		size_t len = ((size_t)ctl * 37 + (size_t)i * 101) % sizeof(msg);
		void *w;
		int r;
		if (i & 1) {
			r = pshm_chan_reserve(p, len, &w, 0);
			if (r == 0) {
				memset(w, 0x5a, len);
				r = pshm_chan_commit(p, len / 2);
			}
		} else {
			r = pshm_chan_send(p, msg, len, 0);
		}
		if (r < 0 && r != -EMSGSIZE)
			break;
	}
	pshm_chan_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 20))
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	void *buf = image(data, size);
	if (!buf)
		return 0;
	struct pshm_chan_info info;
	pshm__chan_stat_mem(buf, size, &info);
	consume(buf, size, ctl);
	if (ctl & 0x80) {
		/* A producer on what the consumer left, then the consumer again. */
		produce(buf, size, ctl);
		consume(buf, size, (uint8_t)~ctl);
	}
	free(buf);
	return 0;
}
