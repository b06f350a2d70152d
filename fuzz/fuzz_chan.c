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
#include "fuzz_common.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The channel operations, none waiting. */
static ssize_t peek(void *h, const void **p) { return pshm_chan_peek(h, p, 0); }
static int release(void *h) { return pshm_chan_release(h); }
static ssize_t recv_(void *h, void *b, size_t cap) { return pshm_chan_recv(h, b, cap, 0); }
static int reserve(void *h, size_t len, void **p) { return pshm_chan_reserve(h, len, p, 0); }
static int commit(void *h, size_t len) { return pshm_chan_commit(h, len); }
static int send_(void *h, const void *m, size_t len) { return pshm_chan_send(h, m, len, 0); }

static const struct fuzz_ops ops = { peek, release, recv_, reserve, commit, send_ };

static void consume(void *buf, size_t size, uint8_t ctl)
{
	pshm_chan *c;
	if (pshm__chan_attach_mem(buf, size, PSHM_CONSUMER, PSHM__CHAN_DETACHED, &c) < 0)
		return;
	fuzz_read(c, &ops, ctl);
	pshm_chan_close(c);
}

static void produce(void *buf, size_t size, uint8_t ctl)
{
	pshm_chan *p;
	if (pshm__chan_attach_mem(buf, size, PSHM_PRODUCER, PSHM__CHAN_DETACHED, &p) < 0)
		return;
	fuzz_write(p, &ops, ctl);
	pshm_chan_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ctl;
	void *buf = fuzz_input(data, &size, &ctl);
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
