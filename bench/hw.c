/* SPDX-License-Identifier: MIT */
/*
 * The hardware limits, measured with the same harness as the transports:
 *   cacheline-1        round trip through one shared cache line: A writes
 *                      an odd value and spins until B has written the next
 *                      even one (both sides read and write the same line);
 *   cacheline-2        one line per direction: A writes its line, B spins
 *                      on it and answers in its own line (what a ring with
 *                      head and tail on separate lines does);
 *   twoline-64         what a 64-byte message needs: each side writes a
 *                      64-byte payload line, then a header line with the
 *                      sequence number (release); the other spins on the
 *                      header line, then reads the payload line, and answers
 *                      the same way with its own two lines;
 *   cacheline-2-pause  the same as cacheline-2, with the pause instruction in the spin
 *                      (what most spin loops use; under a hypervisor, pause
 *                      loops may exit to the host);
 *   futex              the kernel's sleep/wake round trip: each side stores,
 *                      calls FUTEX_WAKE unconditionally, and sleeps in
 *                      FUTEX_WAIT until the other answers (no spinning);
 *   memcpy             one core copying a buffer of the message size to
 *                      another, again and again (both stay in cache when
 *                      they fit: the best one core can do);
 *   ring-raw           pshm's SPSC record protocol and nothing else, run
 *                      through the same send/recv loops as the transports:
 *                      8-byte header written last with release, the next
 *                      header slot zeroed first, the polled line written
 *                      last in one burst, the consumer polling the header
 *                      and the line after it (a pause every 8 polls, as
 *                      pshm's spin), copying out, clearing the
 *                      payload up to its last line boundary and publishing
 *                      head; small copies inline, as pshm's (smallcopy.h).
 *                      Left out: validation and lap tags, the SIGBUS guard,
 *                      peer checks and the clock, the shared tail, the
 *                      release intent and received count, the wake-up flag
 *                      checks. About what that layout costs a round trip
 *                      on this machine (pshm measures the same within
 *                      10 ns); for streaming only a reference (a
 *                      consumer this lean keeps up with the producer and
 *                      takes each line as it is written, which is slower
 *                      than finding a few messages complete);
 *   ring-memcpy        the same ring, copying with glibc memcpy() both
 *                      ways and clearing nothing: the plain shared-memory
 *                      ring a programmer would write, for large messages.
 */
#include "bench.h"
#include "../src/smallcopy.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint32_t seqno; /* per worker process: both sides count alike */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static int cl1_run(struct bctx *c, struct run *run)
{
	volatile uint32_t *x = &c->ctrl->hw_line[0];
	uint64_t i;
	int last = 0;
	if (c->side == SIDE_B) {
		for (i = 0; !last; i++, seqno += 2) {
			while (LOAD(x) != seqno + 1)
				;
			STORE(x, seqno + 2);
			last = b_done(c, i);
		}
		run->count = i;
		return 0;
	}
	uint64_t prev = tick();
	for (i = 0; !last; i++, seqno += 2) {
		last = a_last(c, run, i, prev);
		STORE(x, seqno + 1);
		while (LOAD(x) != seqno + 2)
			;
		put_sample(run->samples, i, &prev);
	}
	run->count = i;
	return 0;
}

static int cl2_loop(struct bctx *c, struct run *run, int relax)
{
	volatile uint32_t *a = &c->ctrl->hw_line[0];
	volatile uint32_t *b = &c->ctrl->hw_line[16];
	uint64_t i;
	int last = 0;
	if (c->side == SIDE_B) {
		for (i = 0; !last; i++) {
			seqno++;
			while (LOAD(a) != seqno)
				if (relax)
					cpu_relax();
			STORE(b, seqno);
			last = b_done(c, i);
		}
		run->count = i;
		return 0;
	}
	uint64_t prev = tick();
	for (i = 0; !last; i++) {
		last = a_last(c, run, i, prev);
		seqno++;
		STORE(a, seqno);
		while (LOAD(b) != seqno)
			if (relax)
				cpu_relax();
		put_sample(run->samples, i, &prev);
	}
	run->count = i;
	return 0;
}

static int cl2_run(struct bctx *c, struct run *run)
{
	return cl2_loop(c, run, 0);
}

static int cl2p_run(struct bctx *c, struct run *run)
{
	return cl2_loop(c, run, 1);
}

/* Header line + payload line per direction: [0] A's header, [16] A's
 * payload, [32] B's header, [48] B's payload (16 words to a line). */
static int twoline_run(struct bctx *c, struct run *run)
{
	volatile uint32_t *l = c->ctrl->hw_line;
	int a = c->side == SIDE_A;
	uint32_t *my_hdr = (uint32_t *)&l[a ? 0 : 32], *my_pl = (uint32_t *)&l[a ? 16 : 48];
	uint32_t *in_hdr = (uint32_t *)&l[a ? 32 : 0], *in_pl = (uint32_t *)&l[a ? 48 : 16];
	unsigned char msg[64], got[64];
	uint64_t i, prev = tick();
	int last = 0;

	pattern_fill(msg, sizeof msg);
	for (i = 0; !last; i++) {
		seqno++;
		if (a)
			last = a_last(c, run, i, prev);
		else {
			while (LOAD(in_hdr) != seqno)
				;
			memcpy(got, in_pl, 64);
		}
		memcpy(msg, &seqno, sizeof seqno);
		memcpy(my_pl, msg, 64);
		STORE(my_hdr, seqno);
		if (a) {
			while (LOAD(in_hdr) != seqno)
				;
			memcpy(got, in_pl, 64);
			put_sample(run->samples, i, &prev);
		} else {
			last = b_done(c, i);
		}
		__asm__ __volatile__("" : : "r"(got) : "memory");
	}
	run->count = i;
	if (memcmp(got, msg, 64)) {
		berr(c, "two-line ping-pong: payload differs");
		return -EBADMSG;
	}
	return 0;
}

static void fwait(uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void fwake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int futex_run(struct bctx *c, struct run *run)
{
	uint32_t *w = (uint32_t *)&c->ctrl->hw_line[32];
	uint32_t v;
	uint64_t i;
	int last = 0;
	if (c->side == SIDE_B) {
		for (i = 0; !last; i++, seqno += 2) {
			while ((v = LOAD(w)) != seqno + 1)
				fwait(w, v);
			STORE(w, seqno + 2);
			fwake(w);
			last = b_done(c, i);
		}
		run->count = i;
		return 0;
	}
	uint64_t prev = tick();
	for (i = 0; !last; i++, seqno += 2) {
		last = a_last(c, run, i, prev);
		STORE(w, seqno + 1);
		fwake(w);
		while ((v = LOAD(w)) != seqno + 2)
			fwait(w, v);
		put_sample(run->samples, i, &prev);
	}
	run->count = i;
	return 0;
}

static unsigned char *mc_src, *mc_dst;

static int memcpy_attach(struct bctx *c)
{
	if (c->side == SIDE_B)
		return 0;
	mc_src = malloc(c->size);
	mc_dst = malloc(c->size);
	if (!mc_src || !mc_dst)
		return -ENOMEM;
	pattern_fill(mc_src, c->size);
	memset(mc_dst, 0, c->size);
	return 0;
}

/* Side A alone; B has nothing to do. */
static int memcpy_run(struct bctx *c, struct run *run)
{
	uint64_t i;
	if (c->side == SIDE_B)
		return 0;
	run->t0 = now_ns();
	for (i = 0; i < run->nmax; i++) {
		memcpy(mc_dst, mc_src, c->size);
		/* the copy must happen every time: the compiler may not merge them */
		__asm__ __volatile__("" : : "r"(mc_dst), "r"(mc_src) : "memory");
		if (i % 16 == 15 && tick() >= run->deadline)
			break;
	}
	run->t1 = now_ns();
	run->count = i + (i < run->nmax);
	if (memcmp(mc_dst, mc_src, c->size)) {
		berr(c, "memcpy: copy differs");
		return -EBADMSG;
	}
	return 0;
}

/* ---- ring-raw ------------------------------------------------------------ */

#define RR_MSG (UINT64_C(2) << 32)
#define RR_PAD (UINT64_C(3) << 32)

/* One direction: a page holding the head, then the ring (pshm's ring
 * size for the message size: max(1 MiB, 4 x the message)). */
struct rr_dir {
	_Alignas(64) uint64_t head;
	unsigned char pad[4096 - 8];
	unsigned char ring[];
};

static unsigned char *rr_map; /* A -> B, then B -> A; mapped before the fork */
static size_t RR_RING, rr_dir_len;
static struct rr_dir *rr_tx, *rr_rx;
static uint64_t rr_tail, rr_seen, rr_head;

static int rr_prepare(struct bctx *c)
{
	RR_RING = (size_t)1 << ring_log2_for(c->max_msg);
	rr_dir_len = sizeof(struct rr_dir) + RR_RING;
	snprintf(c->note, sizeof c->note, "ring %zu KiB", RR_RING >> 10);
	rr_map = mmap(NULL, 2 * rr_dir_len, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return rr_map == MAP_FAILED ? (rr_map = NULL, -errno) : 0;
}

static int rr_attach(struct bctx *c)
{
	int a = c->side == SIDE_A;
	rr_tx = (struct rr_dir *)(rr_map + (a ? 0 : rr_dir_len));
	rr_rx = (struct rr_dir *)(rr_map + (a ? rr_dir_len : 0));
	rr_tail = rr_seen = rr_head = 0;
	return 0;
}

static inline uint64_t *rr_hdr(struct rr_dir *d, uint64_t pos)
{
	return (uint64_t *)(d->ring + (pos & (RR_RING - 1)));
}

static void rr_room(uint64_t need)
{
	while (need > rr_seen + RR_RING)
		rr_seen = __atomic_load_n(&rr_tx->head, __ATOMIC_ACQUIRE);
}

static int rr_send(struct bctx *c, const void *buf, size_t len)
{
	uint64_t span = (8 + len + 7) & ~(uint64_t)7, off = rr_tail & (RR_RING - 1);
	if (off + span > RR_RING) {
		uint64_t pad = RR_RING - off;
		rr_room(rr_tail + pad + 8);
		STORE(rr_hdr(rr_tx, rr_tail + pad), 0);
		__atomic_store_n(rr_hdr(rr_tx, rr_tail), RR_PAD | pad, __ATOMIC_RELEASE);
		rr_tail += pad;
	}
	rr_room(rr_tail + span + 8);
	/* As pshm_chan_send(): the rest of the record and the next header
	 * slot first, then the line the consumer polls, in one burst. */
	unsigned char *rec = (unsigned char *)rr_hdr(rr_tx, rr_tail);
	if (c->tp->variant) { /* ring-memcpy */
		STORE(rr_hdr(rr_tx, rr_tail + span), 0);
		memcpy(rec + 8, buf, len);
		__atomic_store_n(rr_hdr(rr_tx, rr_tail), RR_MSG | len, __ATOMIC_RELEASE);
		rr_tail += span;
		return 0;
	}
	size_t first = 56 - ((uintptr_t)rec & 63);
	if (len > first)
		pshm__copy_out(rec + 8 + first, (const unsigned char *)buf + first, len - first);
	STORE(rr_hdr(rr_tx, rr_tail + span), 0);
	pshm__copy_small(rec + 8, buf, len < first ? len : first);
	__atomic_store_n(rr_hdr(rr_tx, rr_tail), RR_MSG | len, __ATOMIC_RELEASE);
	rr_tail += span;
	return 0;
}

static ssize_t rr_recv(struct bctx *c, void *buf, size_t cap)
{
	for (;;) {
		uint64_t w, *h = rr_hdr(rr_rx, rr_head);
		/* As pshm's spin(): the next line too, a pause every 8 polls. */
		for (unsigned i = 1; !(w = __atomic_load_n(h, __ATOMIC_ACQUIRE)); i++) {
			(void)LOAD(rr_hdr(rr_rx, (rr_head & ~(uint64_t)63) + 64));
			if (!(i & 7))
				cpu_relax();
		}
		uint64_t len = (uint32_t)w, span = (w & RR_PAD) == RR_PAD ? len : (8 + len + 7) & ~(uint64_t)7;
		if ((w & RR_PAD) != RR_PAD) {
			if (len > cap)
				return -EMSGSIZE;
			if (c->tp->variant) {
				memcpy(buf, h + 1, len); /* ring-memcpy: nothing cleared */
			} else {
				pshm__copy_out(buf, h + 1, len);
				uintptr_t end = ((uintptr_t)h + span) & ~(uintptr_t)63;
				if (end > (uintptr_t)(h + 1))
					pshm__clear((unsigned char *)(h + 1), end - (uintptr_t)(h + 1));
			}
		}
		rr_head += span;
		__atomic_store_n(&rr_rx->head, rr_head, __ATOMIC_RELEASE);
		if ((w & RR_PAD) != RR_PAD)
			return (ssize_t)len;
	}
}

static void rr_cleanup(struct bctx *c)
{
	(void)c;
	if (rr_map)
		munmap(rr_map, 2 * rr_dir_len);
	rr_map = NULL;
}

static const struct tp_ops cl1_ops = {.run = cl1_run};
static const struct tp_ops cl2_ops = {.run = cl2_run};
static const struct tp_ops cl2p_ops = {.run = cl2p_run};
static const struct tp_ops futex_ops = {.run = futex_run};
static const struct tp_ops twoline_ops = {.run = twoline_run};
static const struct tp_ops memcpy_ops = {.attach = memcpy_attach, .run = memcpy_run};
static const struct tp_ops rr_ops = {
	.prepare = rr_prepare, .attach = rr_attach, .send = rr_send, .recv = rr_recv,
	.cleanup = rr_cleanup,
};

static const size_t s64[] = {64, 0}, s1m[] = {1 << 20, 0};

const struct transport hw_transports[] = {
	{"cacheline-1", &cl1_ops, 0, KBIT(K_RTT), "one shared cache line, spinning", 0, s64, 0},
	{"cacheline-2", &cl2_ops, 0, KBIT(K_RTT), "one cache line per direction, spinning", 0, s64, 0},
	{"twoline-64", &twoline_ops, 0, KBIT(K_RTT), "header line + 64 B payload line each way, spinning", 0, s64, 0},
	{"cacheline-2-pause", &cl2p_ops, 0, KBIT(K_RTT), "one line per direction, pause in the spin", 0, s64, 0},
	{"futex", &futex_ops, 0, KBIT(K_RTT), "futex wake + wait each way, no spin", 0, s64, 0},
	{"memcpy", &memcpy_ops, 0, KBIT(K_STREAM), "one core, memcpy of the message size, hot", 0, NULL, 0},
	{"ring-raw", &rr_ops, 0, KBIT(K_RTT), "pshm's SPSC record protocol alone, busy-polling (no checks)", 0, s64, 0},
	{"ring-raw", &rr_ops, 0, KBIT(K_STREAM), "pshm's SPSC record protocol alone, busy-polling (no checks)", 4096, NULL, 0},
	{"ring-memcpy", &rr_ops, 1, KBIT(K_STREAM), "a plain shared-memory ring copying with glibc memcpy, busy-polling", 0, s1m, 0},
	{0},
};
