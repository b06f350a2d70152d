/* SPDX-License-Identifier: MIT */
/*
 * worker.c — ipcbench's measurement: one side of a case in its worker
 * process (see bench.h), the generic runs of each kind over a transport's
 * operations, the clock and its calibration, the barrier between the two
 * sides, and side A's statistics of a run. The driver, the settling and
 * the output are in ipcbench.c.
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

double ns_per_tick = 1.0;
uint32_t *rtt_samples;

void calibrate_tick(void)
{
	struct timespec ts = {0, 50000000};
	uint64_t t0 = now_ns(), c0 = tick();
	nanosleep(&ts, NULL);
	uint64_t t1 = now_ns(), c1 = tick();
	if (c1 > c0)
		ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void berr(struct bctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, ERRLEN, fmt, ap);
	va_end(ap);
}

int env_int(const char *name, int def)
{
	const char *s = getenv(name);
	char *end;
	long v;
	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > INT_MAX) {
		fprintf(stderr, "ipcbench: %s=%s: not a number, using %d\n", name, s, def);
		return def;
	}
	return (int)v;
}

/* A fixed, non-trivial byte pattern, so a stale or shifted buffer shows. */
void pattern_fill(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 131 + 7 + (i >> 8));
}

/* Sum of the first 8-byte word of every 64-byte line but the first, up
 * to the last 8 bytes: the zero-copy consumer's "read every cache line".
 * The sequence stamps (first and last 8 bytes) never fall on these words. */
uint64_t line_sum(const unsigned char *p, size_t len)
{
	uint64_t s = 0, w;
	for (size_t off = 64; off + 16 <= len; off += 64) {
		memcpy(&w, p + off, 8);
		s += w;
	}
	return s;
}

static void stamp(unsigned char *p, size_t len, uint64_t seq)
{
	memcpy(p, &seq, 8);
	memcpy(p + len - 8, &seq, 8);
}

static int stamped(const unsigned char *p, size_t len, uint64_t seq)
{
	uint64_t a, b;
	memcpy(&a, p, 8);
	memcpy(&b, p + len - 8, 8);
	return a == seq && b == seq;
}

static void touch_write(unsigned char *p, size_t len, uint64_t seq)
{
	for (size_t off = 0; off < len; off += 64) {
		uint64_t w = seq ^ off;
		memcpy(p + off, &w, 8);
	}
	memcpy(p + len - 8, &seq, 8);
}

static int touch_check(const unsigned char *p, size_t len, uint64_t seq)
{
	uint64_t bad = 0, w;
	for (size_t off = 0; off < len; off += 64) {
		memcpy(&w, p + off, 8);
		bad |= w ^ seq ^ off;
	}
	memcpy(&w, p + len - 8, 8);
	return !bad && w == seq;
}

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

/* Barrier of the case's workers: spin for a while (the peers are usually
 * close), then sleep on a futex so a slow peer (iceoryx start-up) costs no CPU. */
static void barrier(struct ctrl *ct)
{
	uint32_t gen = LOAD(&ct->bar_gen);
	if (__atomic_add_fetch(&ct->bar_count, 1, __ATOMIC_ACQ_REL) == (uint32_t)ct->nw) {
		STORE(&ct->bar_count, 0);
		__atomic_add_fetch(&ct->bar_gen, 1, __ATOMIC_RELEASE);
		futex(&ct->bar_gen, FUTEX_WAKE, INT_MAX, NULL);
		return;
	}
	uint64_t until = now_ns() + 200000;
	while (LOAD(&ct->bar_gen) == gen && now_ns() < until)
		;
	while (LOAD(&ct->bar_gen) == gen)
		futex(&ct->bar_gen, FUTEX_WAIT, gen, NULL);
}

/* The k-th smallest (0-based) of a[0..n-1], which it partially orders
 * (quickselect: linear time, where sorting millions of samples would take
 * longer than the run). */
static uint32_t select_k(uint32_t *a, uint64_t n, uint64_t k)
{
	uint64_t lo = 0, hi = n - 1;
	while (lo < hi) {
		uint32_t pivot = a[lo + (hi - lo) / 2];
		uint64_t i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				uint32_t t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return a[k];
}

/* Nearest-rank percentile of n samples (reorders them). */
static double pct(uint32_t *s, uint64_t n, double p)
{
	uint64_t k = (uint64_t)ceil(p * (double)n);
	if (k < 1)
		k = 1;
	return select_k(s, n, k - 1);
}

/* ------------------------------------------------------- generic runs */

/*
 * Every run is bounded by time, not by a count fixed in advance (a
 * transport can change speed by orders of magnitude, e.g. the futex
 * round trip when one side stops sleeping): side A decides, before its
 * message i, whether it is the last one (deadline passed, or nmax), and
 * then publishes the count in ctrl->final; side B stops after the message
 * whose number + 1 equals ctrl->final. A stores final before it sends
 * the last message, so B sees it by the time it has received that message.
 */
#define FAIL(c, r, ...) do { if (!*(c)->err) berr((c), __VA_ARGS__); return (r) < 0 ? (int)(r) : -EBADMSG; } while (0)

struct bufs {
	unsigned char *src, *dst;   /* message buffers (size bytes) */
	uint64_t seq;               /* next sequence number, same on both sides */
	uint64_t zc_sum;            /* line_sum() of the pattern */
};

/* Round trip: A sends, B (or, for a fan-out, each receiving side) checks
 * and answers; A takes the answers in order of side. */
static int rtt_copy(struct bctx *c, struct bufs *b, struct run *run)
{
	const struct tp_ops *o = c->tp->ops;
	size_t sz = c->size;
	ssize_t r;
	uint64_t i;

	int last = 0;
	if (c->side != SIDE_A) {
		for (i = 0; !last; i++, b->seq++) {
			r = o->recv(c, b->dst, sz);
			if (r != (ssize_t)sz || !stamped(b->dst, sz, b->seq))
				FAIL(c, r, "pong %llu: bad message (len %zd)", (unsigned long long)b->seq, r);
			r = o->send(c, b->dst, sz);
			if (r < 0)
				FAIL(c, r, "pong send: %s", strerror((int)-r));
			last = b_done(c, i);
		}
		run->count = i;
		return 0;
	}
	uint64_t prev = tick();
	for (i = 0; !last; i++, b->seq++) {
		last = a_last(c, run, i, prev);
		stamp(b->src, sz, b->seq);
		r = o->send(c, b->src, sz);
		if (r < 0)
			FAIL(c, r, "ping send: %s", strerror((int)-r));
		/* One echo, or, for a fan-out, one answer from each receiver. */
		for (c->peer = 1; c->peer < c->nw; c->peer++) {
			r = o->recv(c, b->dst, sz);
			if (r != (ssize_t)sz || !stamped(b->dst, sz, b->seq))
				FAIL(c, r, "ping %llu: bad echo from side %d (len %zd)",
				     (unsigned long long)b->seq, c->peer, r);
		}
		put_sample(run->samples, i, &prev);
	}
	run->count = i;
	return 0;
}

static void zc_write(unsigned char *p, size_t len, uint64_t seq, int touch)
{
	if (touch)
		touch_write(p, len, seq);
	else
		stamp(p, len, seq);
}

static int zc_check(const unsigned char *p, size_t len, uint64_t seq, int touch)
{
	return touch ? touch_check(p, len, seq) : stamped(p, len, seq);
}

/* Zero-copy round trip: A reserves, writes, commits; B peeks, checks,
 * answers the same way, then releases; A peeks, checks, releases. */
static int rtt_zc(struct bctx *c, struct bufs *b, struct run *run, int touch)
{
	const struct tp_ops *o = c->tp->ops;
	size_t sz = c->size;
	const void *q = NULL;
	void *p;
	ssize_t r;
	uint64_t prev = tick(), i;
	int last = 0;

	for (i = 0; !last; i++, b->seq++) {
		if (c->side == SIDE_B) {
			r = o->peek(c, &q);
			if (r != (ssize_t)sz || !zc_check(q, sz, b->seq, touch))
				FAIL(c, r, "pong %llu: bad message (len %zd)", (unsigned long long)b->seq, r);
		} else {
			last = a_last(c, run, i, prev);
		}
		if ((r = o->reserve(c, sz, &p)) < 0)
			FAIL(c, r, "reserve: %s", strerror((int)-r));
		zc_write(p, sz, b->seq, touch);
		if ((r = o->commit(c, p, sz)) < 0)
			FAIL(c, r, "commit: %s", strerror((int)-r));
		if (c->side == SIDE_A) {
			r = o->peek(c, &q);
			if (r != (ssize_t)sz || !zc_check(q, sz, b->seq, touch))
				FAIL(c, r, "ping %llu: bad echo (len %zd)", (unsigned long long)b->seq, r);
		}
		if ((r = o->release(c, q)) < 0)
			FAIL(c, r, "release: %s", strerror((int)-r));
		if (c->side == SIDE_A)
			put_sample(run->samples, i, &prev);
		else
			last = b_done(c, i);
	}
	run->count = i;
	return 0;
}

/* Streams look at the clock every 16 messages (a read costs a 64-byte
 * message's time). */
#define CLOCK_EVERY 16

static int stream_copy(struct bctx *c, struct bufs *b, struct run *run)
{
	const struct tp_ops *o = c->tp->ops;
	size_t sz = c->size;
	ssize_t r;
	uint64_t i;
	int last = 0;

	if (c->side == SIDE_A) {
		run->t0 = now_ns();
		for (i = 0; !last; i++, b->seq++) {
			last = a_last(c, run, i, i % CLOCK_EVERY ? 0 : tick());
			stamp(b->src, sz, b->seq);
			if ((r = o->send(c, b->src, sz)) < 0)
				FAIL(c, r, "send %llu: %s", (unsigned long long)b->seq, strerror((int)-r));
		}
		run->count = i;
		return 0;
	}
	for (i = 0; !last; i++, b->seq++) {
		r = o->recv(c, b->dst, sz);
		if (r != (ssize_t)sz || !stamped(b->dst, sz, b->seq))
			FAIL(c, r, "message %llu: bad (len %zd)", (unsigned long long)b->seq, r);
		last = b_done(c, i);
	}
	run->t1 = now_ns();
	run->count = i;
	/* Outside the timing: the last message must be the whole pattern. */
	pattern_fill(b->src, sz);
	stamp(b->src, sz, b->seq - 1);
	if (memcmp(b->src, b->dst, sz))
		FAIL(c, 0, "last message %llu: content differs", (unsigned long long)(b->seq - 1));
	return 0;
}

static int stream_zc(struct bctx *c, struct bufs *b, struct run *run)
{
	const struct tp_ops *o = c->tp->ops;
	size_t sz = c->size;
	const void *q;
	void *p;
	ssize_t r;
	uint64_t i;
	int last = 0;

	if (c->side == SIDE_A) {
		run->t0 = now_ns();
		for (i = 0; !last; i++, b->seq++) {
			last = a_last(c, run, i, i % CLOCK_EVERY ? 0 : tick());
			if ((r = o->reserve(c, sz, &p)) < 0)
				FAIL(c, r, "reserve %llu: %s", (unsigned long long)b->seq, strerror((int)-r));
			memcpy(p, b->src, sz);
			stamp(p, sz, b->seq);
			if ((r = o->commit(c, p, sz)) < 0)
				FAIL(c, r, "commit: %s", strerror((int)-r));
		}
		run->count = i;
		return 0;
	}
	for (i = 0; !last; i++, b->seq++) {
		r = o->peek(c, &q);
		if (r != (ssize_t)sz || !stamped(q, sz, b->seq) || line_sum(q, sz) != b->zc_sum)
			FAIL(c, r, "message %llu: bad (len %zd)", (unsigned long long)b->seq, r);
		if ((r = o->release(c, q)) < 0)
			FAIL(c, r, "release: %s", strerror((int)-r));
		last = b_done(c, i);
	}
	run->t1 = now_ns();
	run->count = i;
	return 0;
}

static int run_kind(struct bctx *c, struct bufs *b, struct run *run)
{
	if (c->tp->ops->run)
		return c->tp->ops->run(c, run);
	switch (c->kind) {
	case K_RTT: return rtt_copy(c, b, run);
	case K_RTT_ZC: return rtt_zc(c, b, run, 0);
	case K_RTT_ZC_TOUCH: return rtt_zc(c, b, run, 1);
	case K_STREAM: return stream_copy(c, b, run);
	case K_STREAM_ZC: return stream_zc(c, b, run);
	case K_RTT_FAN: return rtt_copy(c, b, run);
	case K_STREAM_FAN: return stream_copy(c, b, run);
	default: return -EINVAL;
	}
}

int is_rtt(enum kind k)
{
	return k == K_RTT || k == K_RTT_ZC || k == K_RTT_ZC_TOUCH || k == K_RTT_FAN;
}

/* Side A's summary of a run: round trips from the samples; streams from
 * A's start to the end (the time the last receiver had the last message). */
static void summarise(struct bctx *c, struct rep_result *res, const struct run *run)
{
	uint64_t t1 = run->t1;
	for (int s = 1; s < c->nw; s++)
		t1 = c->ctrl->t1[s] > t1 ? c->ctrl->t1[s] : t1;
	uint64_t n = run->count;
	uint32_t *samples = run->samples;
	res->n = n;
	if (!is_rtt(c->kind) || !samples) {
		res->seconds = (double)(t1 - run->t0) / 1e9;
		return;
	}
	double tot = 0, f = ns_per_tick;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint64_t i = 0; i < n; i++) {
		tot += samples[i];
		lo = samples[i] < lo ? samples[i] : lo;
		hi = samples[i] > hi ? samples[i] : hi;
	}
	res->seconds = tot * f / 1e9;
	res->mean_ns = tot * f / (double)n;
	res->p50_ns = pct(samples, n, 0.50) * f;
	res->p99_ns = pct(samples, n, 0.99) * f;
	res->p999_ns = pct(samples, n, 0.999) * f;
	res->min_ns = lo * f;
	res->max_ns = hi * f;
}

/* log2 of the ring for messages of max_msg bytes: BENCH_RING if set, else
 * max(1 MiB, 4 x max_msg) (the pshm rings and ring-raw alike). */
int ring_log2_for(size_t max_msg)
{
	const char *env = getenv("BENCH_RING");
	int l = 20;
	if (env && *env) {
		size_t r = (size_t)strtoull(env, NULL, 0);
		for (l = 10; ((size_t)1 << l) < r && l < 31; l++)
			;
		return l;
	}
	while (((size_t)1 << l) < 4 * max_msg)
		l++;
	return l;
}

void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set))
		fprintf(stderr, "ipcbench: warning: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

static void *xalloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, len); /* fault it in before any timing */
	return p;
}

/* Times this process was preempted: other load on its CPU shows here. */
static long nivcsw(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_nivcsw;
}

static int rounds(void)
{
	return CALIB_ROUNDS + opt_reps;
}

/* One side of a case, in its own process. Never returns. */
void worker(struct bctx *c, int side)
{
	sigset_t none;
	struct ctrl *ct = c->ctrl;
	struct bufs b = {0};
	uint32_t *samples = NULL;
	int r;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin(side_cpu(side));
	c->side = side;
	c->err = ct->err[side];

	b.src = xalloc(c->size);
	b.dst = xalloc(c->size);
	if (side == SIDE_A && is_rtt(c->kind))
		samples = rtt_samples;
	if (!b.src || !b.dst || (side == SIDE_A && is_rtt(c->kind) && !samples)) {
		berr(c, "out of memory");
		exit(1);
	}
	pattern_fill(b.src, c->size);
	b.zc_sum = line_sum(b.src, c->size);

	r = c->tp->ops->attach ? c->tp->ops->attach(c) : 0;
	if (r < 0) {
		if (!*c->err)
			berr(c, "attach: %s", strerror(-r));
		exit(1);
	}
	barrier(ct);
	for (int round = 0; round < rounds(); round++) {
		/* Calibration rounds only warm up: a quarter of the time each. */
		double ms = opt_rep_ms * (round < CALIB_ROUNDS ? 0.25 : 1.0);
		struct run run = {
			.nmax = is_rtt(c->kind) ? MAX_RTT_SAMPLES : UINT64_MAX,
			.samples = samples,
		};
		if (side == SIDE_A)
			STORE(&ct->final, UINT64_MAX);
		barrier(ct);
		long csw = nivcsw();
		run.deadline = tick() + (uint64_t)(ms * 1e6 / ns_per_tick);
		r = run_kind(c, &b, &run);
		csw = nivcsw() - csw;
		if (r < 0) {
			if (!*c->err)
				berr(c, "%s", strerror(-r));
			exit(1);
		}
		ct->nivcsw[side] = csw;
		if (side != SIDE_A)
			ct->t1[side] = is_rtt(c->kind) ? 0 : run.t1;
		barrier(ct);
		if (side == SIDE_A) {
			summarise(c, &ct->res[round], &run);
			ct->res[round].preempted = 0;
			for (int s = 0; s < c->nw; s++)
				ct->res[round].preempted += ct->nivcsw[s];
		}
	}
	if (c->tp->ops->detach)
		c->tp->ops->detach(c);
	exit(0); /* not _exit: iceoryx deregisters in its destructors */
}
