/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h — what the segment harnesses (fuzz_chan.c, fuzz_topic.c,
 * fuzz_service.c) share: turning an input into a segment image, and the
 * reader's and writer's rounds of operations that channels and topics
 * both have. Header only (static), one copy per harness.
 */
#ifndef PSHM_FUZZ_COMMON_H
#define PSHM_FUZZ_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define FUZZ_TOTAL_OFF 16 /* total_size in every kind's header, see pshm(7) */

/*
 * A 64-byte aligned copy of the @size bytes at @data, with its total_size
 * field set to @size, so that mutations explore past the size check. NULL
 * if out of memory; free() it.
 */
static inline void *fuzz_image(const uint8_t *data, size_t size)
{
	void *buf = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!buf)
		return NULL;
	memcpy(buf, data, size);
	if (size >= FUZZ_TOTAL_OFF + 8) {
		uint64_t total = size;
		memcpy((char *)buf + FUZZ_TOTAL_OFF, &total, sizeof(total));
	}
	return buf;
}

/* An input's control byte (into *@ctl) and the image of the rest (its
 * size into *@size): NULL for an input under 2 bytes or over 1 MiB, or
 * when memory is short. */
static inline void *fuzz_input(const uint8_t *data, size_t *size, uint8_t *ctl)
{
	if (*size < 2 || *size > (1u << 20))
		return NULL;
	*ctl = data[0];
	*size -= 1;
	return fuzz_image(data + 1, *size);
}

/* A reader's and a writer's operations on handle @h, none waiting. */
struct fuzz_ops {
	ssize_t (*peek)(void *h, const void **p);
	int (*release)(void *h);
	ssize_t (*recv)(void *h, void *buf, size_t cap);
	int (*reserve)(void *h, size_t len, void **p);
	int (*commit)(void *h, size_t len);
	int (*send)(void *h, const void *msg, size_t len);
};

/* Up to 64 reads, peeks or receives as the bits of @ctl say, into a small
 * buffer when @ctl has bit 1; stops at the first error but -EMSGSIZE. */
static inline void fuzz_read(void *h, const struct fuzz_ops *op, uint8_t ctl)
{
	static unsigned char out[1 << 16];
	size_t cap = ctl & 2 ? 16 : sizeof(out);
	for (int i = 0; i < 64; i++) {
		ssize_t n;
		if ((ctl >> (i % 8)) & 1) {
			const void *p;
			n = op->peek(h, &p);
			if (n >= 0) {
				/* Touch what was handed out: it must lie in the buffer. */
				volatile unsigned char x = 0;
				for (ssize_t k = 0; k < n; k++)
					x ^= ((const unsigned char *)p)[k];
				(void)x;
				op->release(h);
			}
		} else {
			n = op->recv(h, out, cap);
		}
		if (n < 0 && n != -EMSGSIZE)
			break;
	}
}

/* 16 writes of lengths drawn from @ctl, every other one reserved, filled
 * and committed shorter; stops at the first error but -EMSGSIZE. */
static inline void fuzz_write(void *h, const struct fuzz_ops *op, uint8_t ctl)
{
	static const unsigned char msg[4096];
	for (int i = 0; i < 16; i++) {
		size_t len = ((size_t)ctl * 37 + (size_t)i * 101) % sizeof(msg);
		void *w;
		int r;
		if (i & 1) {
			r = op->reserve(h, len, &w);
			if (r == 0) {
				memset(w, 0x5a, len);
				r = op->commit(h, len / 2);
			}
		} else {
			r = op->send(h, msg, len);
		}
		if (r < 0 && r != -EMSGSIZE)
			break;
	}
}

#endif
