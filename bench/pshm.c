/* SPDX-License-Identifier: MIT */
/*
 * pshm channels (include/pshm.h, "Channels"): one SPSC channel per
 * direction, created by the driver, opened by name in each worker as an
 * unrelated process would. Variants:
 *   pshm-poll   PSHM_WAIT_POLL: the waiting side busy-polls, never sleeps;
 *   pshm-block  PSHM_WAIT_BLOCK with spin_ns 0: the waiting side sleeps on
 *               the channel's futex at once (the pure sleep/wake path);
 *   pshm-spin   PSHM_WAIT_BLOCK with the library's default spin, then sleep
 *               (a handle as pshm_chan_open() returns it);
 *   pshm-poll-batch  as pshm-poll, but the consumer takes what is there
 *               with pshm_chan_recv_batch() (up to 64 messages) and hands
 *               them out one by one (a copy of each from the batch buffer,
 *               as an application reading a batch would).
 * Ring: BENCH_RING bytes if set, else max(1 MiB, 4 x the message size),
 * doubled if the library refuses the message size for that ring.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/uio.h>

#include "pshm.h"

enum { V_POLL, V_BLOCK, V_SPIN, V_BATCH };

#define BATCH 64

struct pst {
	pshm_chan *tx, *rx;
	char name[2][96];  /* A->B, B->A */
	int made[2];
	/* V_BATCH consumer: the last batch and the next message in it */
	unsigned char *bbuf;
	size_t blen[BATCH], bn, bi, boff;
};

static struct pst ps;

static size_t ring_for(size_t max_msg)
{
	return (size_t)1 << ring_log2_for(max_msg);
}

static int p_prepare(struct bctx *c)
{
	memset(&ps, 0, sizeof ps);
	c->priv = &ps;
	struct pshm_chan_config cfg = {
		.ring_size = ring_for(c->max_msg), .max_msg = c->max_msg, .mode = PSHM_CHAN_SPSC,
	};
	for (int i = 0; i < 1 + c->duplex; i++) {
		snprintf(ps.name[i], sizeof ps.name[i], "%s-%c", c->tag, i ? 'b' : 'a');
		int r;
		for (int tries = 0;; tries++) {
			r = pshm_chan_create(ps.name[i], &cfg, 0, 0);
			if (r != -EINVAL || tries == 3 || getenv("BENCH_RING"))
				break;
			cfg.ring_size *= 2;
		}
		if (r < 0) {
			berr(c, "pshm_chan_create(ring %zu, max_msg %zu): %s", cfg.ring_size,
			     cfg.max_msg, pshm_strerror(r));
			return r;
		}
		ps.made[i] = 1;
	}
	snprintf(c->note, sizeof c->note, "ring %zu KiB", cfg.ring_size >> 10);
	if (c->tp->variant == V_BATCH) { /* is there a batch receive? */
		pshm_chan *h;
		size_t len;
		unsigned char b[64];
		int r = pshm_chan_open(ps.name[0], PSHM_CONSUMER, 0, &h);
		if (r == 0) {
			r = (int)pshm_chan_recv_batch(h, b, sizeof b, &len, 1, 0);
			pshm_chan_close(h);
		}
		if (r != -EAGAIN) {
			berr(c, "batch receive not available: pshm_chan_recv_batch: %s", pshm_strerror(r));
			return r < 0 ? r : -EPROTO;
		}
	}
	return 0;
}

static int p_open(struct bctx *c, int i, unsigned role, pshm_chan **out)
{
	int r = pshm_chan_open(ps.name[i], role, 0, out);
	if (r < 0) {
		berr(c, "pshm_chan_open(%s): %s", ps.name[i], pshm_strerror(r));
		return r;
	}
	switch (c->tp->variant) {
	case V_BATCH:
	case V_POLL: r = pshm_chan_set_wait(*out, PSHM_WAIT_POLL, 0); break;
	case V_BLOCK: r = pshm_chan_set_wait(*out, PSHM_WAIT_BLOCK, 0); break;
	default: break; /* the library's default */
	}
	if (r < 0)
		berr(c, "pshm_chan_set_wait: %s", pshm_strerror(r));
	return r;
}

static int p_attach(struct bctx *c)
{
	int a = c->side == SIDE_A, r;
	/* A produces on channel 0 and consumes channel 1; B the reverse. */
	if (a || c->duplex)
		if ((r = p_open(c, a ? 0 : 1, PSHM_PRODUCER, &ps.tx)) < 0)
			return r;
	if (!a || c->duplex)
		if ((r = p_open(c, a ? 1 : 0, PSHM_CONSUMER, &ps.rx)) < 0)
			return r;
	if (c->tp->variant == V_BATCH && !(ps.bbuf = malloc(BATCH * c->max_msg)))
		return -ENOMEM;
	return 0;
}

static int p_send(struct bctx *c, const void *buf, size_t len)
{
	(void)c;
	return pshm_chan_send(ps.tx, buf, len, PSHM_FOREVER);
}

static ssize_t p_recv(struct bctx *c, void *buf, size_t cap)
{
	if (c->tp->variant != V_BATCH)
		return pshm_chan_recv(ps.rx, buf, cap, PSHM_FOREVER);
	if (ps.bi == ps.bn) {
		ssize_t n = pshm_chan_recv_batch(ps.rx, ps.bbuf, BATCH * c->max_msg, ps.blen, BATCH,
						 PSHM_FOREVER);
		if (n <= 0)
			return n < 0 ? n : -EIO;
		ps.bn = (size_t)n;
		ps.bi = ps.boff = 0;
	}
	size_t len = ps.blen[ps.bi++];
	if (len > cap)
		return -EMSGSIZE;
	memcpy(buf, ps.bbuf + ps.boff, len);
	ps.boff += len;
	return (ssize_t)len;
}

static int p_reserve(struct bctx *c, size_t len, void **p)
{
	(void)c;
	return pshm_chan_reserve(ps.tx, len, p, PSHM_FOREVER);
}

static int p_commit(struct bctx *c, void *p, size_t len)
{
	(void)c, (void)p;
	return pshm_chan_commit(ps.tx, len);
}

static ssize_t p_peek(struct bctx *c, const void **p)
{
	(void)c;
	return pshm_chan_peek(ps.rx, p, PSHM_FOREVER);
}

static int p_release(struct bctx *c, const void *p)
{
	(void)c, (void)p;
	return pshm_chan_release(ps.rx);
}

static void p_detach(struct bctx *c)
{
	(void)c;
	pshm_chan_close(ps.tx);
	pshm_chan_close(ps.rx);
	ps.tx = ps.rx = NULL;
	free(ps.bbuf);
	ps.bbuf = NULL;
}

static void p_cleanup(struct bctx *c)
{
	(void)c;
	for (int i = 0; i < 2; i++)
		if (ps.made[i])
			pshm_seg_unlink(ps.name[i]);
	memset(&ps, 0, sizeof ps);
}

static const struct tp_ops p_ops = {
	.prepare = p_prepare, .attach = p_attach, .send = p_send, .recv = p_recv,
	.reserve = p_reserve, .commit = p_commit, .peek = p_peek, .release = p_release,
	.detach = p_detach, .cleanup = p_cleanup,
};

static const char *source(unsigned s)
{
	return s == PSHM_TUNE_MEASURED ? "measured" : s == PSHM_TUNE_ENV ? "set by the environment"
		: "fallback: not measured";
}

/* The library's speed choices, as pshm_chan_tuning() reports them in the
 * driver's process (each worker process makes its own, the same way). */
void pshm_choices(FILE *out)
{
	struct pshm_chan_tuning t;
	int r = pshm_chan_tuning(&t);
	if (r < 0) {
		fprintf(out, "# pshm choices: not reported (pshm_chan_tuning: %s)\n", pshm_strerror(r));
		return;
	}
	fprintf(out, "# pshm choices: default spin %llu ns (%s; futex wake round trip %llu ns); "
		     "large copies (from %u B) with %s (%s; 64 KiB: memcpy %llu ns, loop %llu ns); "
		     "no wipe after a release\n",
		(unsigned long long)t.spin_ns, source(t.spin_source), (unsigned long long)t.wake_rtt_ns,
		(unsigned)PSHM_COPY_LARGE_MIN, t.copy == PSHM_COPY_LOOP ? "pshm's loop" : "memcpy()",
		source(t.copy_source), (unsigned long long)t.copy_memcpy_ns,
		(unsigned long long)t.copy_loop_ns);
}

/* ---- MPSC scaling (ipcbench -S) ----------------------------------------- */

/* N producers (sides 1..N) stream 64-byte messages into one MPSC channel
 * that side A consumes, all busy-polling. Each message carries its
 * producer and that producer's sequence number; the consumer checks that
 * each producer's messages come in order, none lost. A producer that is
 * done adds its count to ctrl->mp_total, then counts itself in mp_done;
 * the consumer stops when all are done and it has received them all. */
struct mp_msg {
	uint64_t seq;
	uint32_t from;
	unsigned char pad[52];
};

static int m_prepare(struct bctx *c)
{
	memset(&ps, 0, sizeof ps);
	snprintf(ps.name[0], sizeof ps.name[0], "%s-m", c->tag);
	struct pshm_chan_config cfg = {
		.ring_size = ring_for(c->max_msg), .max_msg = c->max_msg, .mode = PSHM_CHAN_MPSC,
	};
	int r = pshm_chan_create(ps.name[0], &cfg, 0, 0);
	if (r < 0) {
		berr(c, "pshm_chan_create(MPSC): %s", pshm_strerror(r));
		return r;
	}
	ps.made[0] = 1;
	snprintf(c->note, sizeof c->note, "%d producer(s), ring %zu KiB", c->nw - 1, cfg.ring_size >> 10);
	return 0;
}

static int m_attach(struct bctx *c)
{
	int a = c->side == SIDE_A;
	return p_open(c, 0, a ? PSHM_CONSUMER : PSHM_PRODUCER, a ? &ps.rx : &ps.tx);
}

static int m_run(struct bctx *c, struct run *run)
{
	struct mp_msg m = {0};
	uint64_t i;
	ssize_t r;

	if (c->side != SIDE_A) {
		m.from = (uint32_t)c->side;
		for (i = 0;; i++) {
			if (!(i % 16) && tick() >= run->deadline)
				break;
			m.seq = i;
			if ((r = pshm_chan_send(ps.tx, &m, sizeof m, PSHM_FOREVER)) < 0) {
				berr(c, "send: %s", pshm_strerror((int)r));
				return (int)r;
			}
		}
		__atomic_add_fetch(&c->ctrl->mp_total, i, __ATOMIC_RELEASE);
		__atomic_add_fetch(&c->ctrl->mp_done, 1, __ATOMIC_RELEASE);
		run->count = i;
		return 0;
	}
	uint64_t next[MAX_WORKERS] = {0}, got = 0;
	run->t0 = now_ns();
	for (;;) {
		r = pshm_chan_recv(ps.rx, &m, sizeof m, 0);
		if (r == (ssize_t)sizeof m) {
			if (m.from == 0 || m.from >= (uint32_t)c->nw || m.seq != next[m.from]++) {
				berr(c, "message %llu from producer %u out of order", (unsigned long long)m.seq, m.from);
				return -EBADMSG;
			}
			got++;
			continue;
		}
		if (r != -EAGAIN) {
			berr(c, "recv: %s", r < 0 ? pshm_strerror((int)r) : "bad length");
			return r < 0 ? (int)r : -EBADMSG;
		}
		if (LOAD(&c->ctrl->mp_done) == (uint32_t)(c->nw - 1) && got == LOAD(&c->ctrl->mp_total))
			break;
	}
	run->t1 = now_ns();
	run->count = got;
	/* ready for the next run */
	STORE(&c->ctrl->mp_total, 0);
	STORE(&c->ctrl->mp_done, 0);
	return 0;
}

const struct tp_ops pshm_mpsc_ops = {
	.prepare = m_prepare, .attach = m_attach, .detach = p_detach, .cleanup = p_cleanup,
	.run = m_run,
};

static const size_t s64[] = {64, 0}, s64_1m[] = {64, 1 << 20, 0};
static const size_t zc_few[] = {64, 65528, 65544, 1 << 20, 1 << 22, 0};

const struct transport pshm_transports[] = {
	{"pshm-poll", &p_ops, V_POLL, K_ALL_COPY | K_ALL_ZC, "pshm channel, PSHM_WAIT_POLL (busy-poll)", 0, NULL, 0},
	{"pshm-block", &p_ops, V_BLOCK, K_ALL_COPY, "pshm channel, PSHM_WAIT_BLOCK, spin 0 (futex at once)", 0, s64, 0},
	{"pshm-block", &p_ops, V_BLOCK, KBIT(K_RTT_ZC), "pshm channel, PSHM_WAIT_BLOCK, spin 0 (futex at once)", 0, zc_few, 0},
	{"pshm-spin", &p_ops, V_SPIN, K_ALL_COPY, "pshm channel, PSHM_WAIT_BLOCK with the default spin", 0, s64_1m, 0},
	{"pshm-poll-batch", &p_ops, V_BATCH, KBIT(K_STREAM), "pshm channel, busy-poll, pshm_chan_recv_batch()", 0, s64, 0},
	{0},
};
