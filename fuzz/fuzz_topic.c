/* SPDX-License-Identifier: MIT */
/*
 * fuzz_topic.c — libFuzzer harness for what a topic reads from shared
 * memory: header validation, a subscriber's join and read path (recv,
 * peek, release, skipping laps), the publisher's recovery and publishing
 * path, and pshm_topic_stat()'s table walk, all over an arbitrary buffer
 * (no /dev/shm, no peer lookups: every peer counts as gone).
 *
 * Input: one control byte (which operations, buffer sizes), then the
 * segment image. The image's total_size field is set to the image's size,
 * so that mutations explore past the size check. Seeds: topics made by the
 * library itself, empty, holding messages, lapped, and with a reservation
 * left half written (fuzz/corpus/fuzz_topic/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

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

static void subscribe(void *buf, size_t size, uint8_t ctl)
{
	pshm_topic *s;
	unsigned flags = PSHM__TOPIC_DETACHED | (ctl & 4 ? PSHM_TOPIC_HISTORY : 0);
	if (pshm__topic_attach_mem(buf, size, PSHM_SUBSCRIBER, flags, &s) < 0)
		return;
	static unsigned char out[1 << 16];
	size_t cap = ctl & 2 ? 16 : sizeof(out);
	for (int i = 0; i < 64; i++) {
		ssize_t n;
		if ((ctl >> (i % 8)) & 1) {
			const void *p;
			n = pshm_topic_peek(s, &p, 0);
			if (n >= 0) {
				/* Touch what was handed out: it must lie in the buffer. */
				volatile unsigned char x = 0;
				for (ssize_t k = 0; k < n; k++)
					x ^= ((const unsigned char *)p)[k];
				(void)x;
				pshm_topic_release(s);
			}
		} else {
			n = pshm_topic_recv(s, out, cap, 0);
		}
		if (n < 0 && n != -EMSGSIZE)
			break;
	}
	(void)pshm_topic_missed(s);
	pshm_topic_close(s);
}

static void publish(void *buf, size_t size, uint8_t ctl)
{
	pshm_topic *p;
	if (pshm__topic_attach_mem(buf, size, PSHM_PUBLISHER, PSHM__TOPIC_DETACHED, &p) < 0)
		return;
	static const unsigned char msg[4096];
	for (int i = 0; i < 16; i++) {
		size_t len = ((size_t)ctl * 37 + (size_t)i * 101) % sizeof(msg);
		void *w;
		int r;
		if (i & 1) {
			r = pshm_topic_reserve(p, len, &w, 0);
			if (r == 0) {
				memset(w, 0x5a, len);
				r = pshm_topic_commit(p, len / 2);
			}
		} else {
			r = pshm_topic_publish(p, msg, len, 0);
		}
		if (r < 0 && r != -EMSGSIZE)
			break;
	}
	pshm_topic_close(p);
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
	struct pshm_topic_info *info = malloc(sizeof(*info));
	if (info)
		pshm__topic_stat_mem(buf, size, info);
	free(info);
	subscribe(buf, size, ctl);
	if (ctl & 0x80) {
		/* A publisher on what the subscriber left, then a subscriber again. */
		publish(buf, size, ctl);
		subscribe(buf, size, (uint8_t)~ctl);
	}
	free(buf);
	return 0;
}
