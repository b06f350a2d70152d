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
#include "fuzz_common.h"
#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The topic operations, none waiting. */
static ssize_t peek(void *h, const void **p) { return pshm_topic_peek(h, p, 0); }
static int release(void *h) { return pshm_topic_release(h); }
static ssize_t recv_(void *h, void *b, size_t cap) { return pshm_topic_recv(h, b, cap, 0); }
static int reserve(void *h, size_t len, void **p) { return pshm_topic_reserve(h, len, p, 0); }
static int commit(void *h, size_t len) { return pshm_topic_commit(h, len); }
static int send_(void *h, const void *m, size_t len) { return pshm_topic_publish(h, m, len, 0); }

static const struct fuzz_ops ops = { peek, release, recv_, reserve, commit, send_ };

static void subscribe(void *buf, size_t size, uint8_t ctl)
{
	pshm_topic *s;
	unsigned flags = PSHM__TOPIC_DETACHED | (ctl & 4 ? PSHM_TOPIC_HISTORY : 0);
	if (pshm__topic_attach_mem(buf, size, PSHM_SUBSCRIBER, flags, &s) < 0)
		return;
	fuzz_read(s, &ops, ctl);
	(void)pshm_topic_missed(s);
	pshm_topic_close(s);
}

static void publish(void *buf, size_t size, uint8_t ctl)
{
	pshm_topic *p;
	if (pshm__topic_attach_mem(buf, size, PSHM_PUBLISHER, PSHM__TOPIC_DETACHED, &p) < 0)
		return;
	fuzz_write(p, &ops, ctl);
	pshm_topic_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ctl;
	void *buf = fuzz_input(data, &size, &ctl);
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
