/* SPDX-License-Identifier: MIT */
/*
 * ipcbench — shared declarations.
 *
 * Every measurement ("case") is one transport, one kind of test and one
 * message size. The driver (ipcbench.c) runs the cases in rounds: each
 * round runs every case once, in an order rotated from round to round, so
 * that ratios between cases can be taken within a round. Each run of a
 * case forks its workers: side A pinned to the first CPU (producer, or the
 * pinger of a round trip) and side B pinned to the second (consumer, or
 * the ponger); a topic case has one side per subscriber (sides 1..N). They
 * synchronise through a control block in an anonymous shared mapping, do
 * a short warm-up run, then the measured one. Side A computes the figures
 * and stores them in the control block; the driver prints them.
 */
#ifndef IPCBENCH_H
#define IPCBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define MAX_REPS 4
#define CALIB_ROUNDS 1          /* unreported warm-up run */
#define MAX_WORKERS 17          /* side A and up to 16 others */
#define MAX_RTT_SAMPLES (1u << 22)
#define ERRLEN 256

enum side { SIDE_A = 0, SIDE_B = 1 };

/* What a case measures. */
enum kind {
	K_RTT,          /* copy round trip: A sends, B echoes */
	K_RTT_ZC,       /* zero-copy round trip, first and last 8 bytes written and read */
	K_RTT_ZC_TOUCH, /* zero-copy round trip, one word of every 64-byte line written and read */
	K_STREAM,       /* one-way copy streaming A -> B */
	K_STREAM_ZC,    /* one-way zero-copy streaming: A builds in place, B reads every line */
	K_RTT_FAN,      /* A publishes, each of sides 1..N receives and answers on its own path */
	K_STREAM_FAN,   /* A publishes, each of sides 1..N receives every message */
	K_STREAM_MPSC,  /* sides 1..N produce into one channel, A consumes (bench-scale) */
	K_NKINDS
};

struct bctx;

/* One run of a case, as each side sees it. */
struct run {
	uint64_t nmax;          /* at most this many iterations */
	uint64_t deadline;      /* side A starts no iteration after this tick() */
	uint32_t *samples;      /* side A, round trips: one per iteration, in ticks */
	uint64_t count;         /* out: iterations done */
	uint64_t t0, t1;        /* out, streams: A's start, the end (CLOCK_MONOTONIC ns) */
};

/*
 * A transport. prepare() and cleanup() run in the driver (before the fork,
 * after the workers are gone); the others in a worker, for its side. A
 * "duplex" case (round trips) needs both directions: A->B and B->A.
 * Every function returns 0 (or a length) or a negative errno; on failure
 * it may explain in c->err.
 */
struct tp_ops {
	int (*prepare)(struct bctx *c);
	int (*attach)(struct bctx *c);
	int (*send)(struct bctx *c, const void *buf, size_t len);
	ssize_t (*recv)(struct bctx *c, void *buf, size_t cap);
	/* zero-copy, optional (NULL when the transport has none) */
	int (*reserve)(struct bctx *c, size_t len, void **p);
	int (*commit)(struct bctx *c, void *p, size_t len);
	ssize_t (*peek)(struct bctx *c, const void **p);
	int (*release)(struct bctx *c, const void *p);
	void (*detach)(struct bctx *c);
	void (*cleanup)(struct bctx *c);
	/* A whole run of a kind, replacing the generic loops (hardware cases);
	 * same contract as those (see "generic runs" in worker.c). */
	int (*run)(struct bctx *c, struct run *run);
};

struct transport {
	const char *name;
	const struct tp_ops *ops;
	int variant;            /* transport-specific (wait mode, ...) */
	unsigned kinds;         /* bit mask of enum kind it supports */
	const char *what;       /* one line for RESULTS.md */
	size_t max_size;        /* 0, or the largest message size it is run at */
	const size_t *sizes;    /* NULL (the kind's sizes), or its own (0-terminated) */
	int nsub;               /* fan-out kinds: the number of receiving sides */
};

struct bctx {
	const struct transport *tp;
	enum kind kind;
	int side;
	int duplex;             /* both directions are needed */
	int nw;                 /* workers: 2, or 1 + nsub for the fan-out kinds */
	int peer;               /* side A of a fan-out: whose answer recv() takes */
	size_t size;            /* message size of the case */
	size_t max_msg;         /* the largest message the transport must accept */
	char tag[64];           /* unique per case: names of segments, queues, services */
	char note[96];          /* set by prepare(): shown in the raw data (e.g. ring size) */
	void *priv;             /* transport state, set by prepare()/attach() */
	char *err;              /* ERRLEN bytes, in shared memory */
	struct ctrl *ctrl;
};

/* One result of side A for one run. */
struct rep_result {
	uint64_t n;
	double seconds;
	double mean_ns, p50_ns, p99_ns, p999_ns, min_ns, max_ns;
	long preempted;         /* involuntary context switches of both workers */
};

struct ctrl {
	_Alignas(64) uint32_t bar_count;
	uint32_t bar_gen;
	_Alignas(64) uint64_t final;      /* iterations of the current run, once A knows */
	_Alignas(64) uint64_t t1[MAX_WORKERS]; /* streams: each receiver's time after its last message */
	int nw;                           /* workers */
	int pid[MAX_WORKERS];             /* the workers, for cleanup() */
	long nivcsw[MAX_WORKERS];         /* their involuntary switches in the last run */
	_Alignas(64) volatile uint32_t hw_line[16 * 4]; /* hardware ping-pong lines */
	_Alignas(64) uint64_t mp_total;   /* MPSC: messages sent by producers that are done */
	uint32_t mp_done;                 /* MPSC: producers done */
	_Alignas(64) struct rep_result res[CALIB_ROUNDS + MAX_REPS];
	char err[MAX_WORKERS][ERRLEN];
};

/* Round-trip samples are taken with the cheapest clock: the TSC on x86
 * (lfence; rdtsc, converted with ns_per_tick, calibrated at start-up
 * against CLOCK_MONOTONIC), else CLOCK_MONOTONIC itself. */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t tick(void)
{
	_mm_lfence();
	return __rdtsc();
}
#define TICK_NAME "TSC (lfence; rdtsc)"
#else
uint64_t now_ns(void);
static inline uint64_t tick(void)
{
	return now_ns();
}
#define TICK_NAME "CLOCK_MONOTONIC"
#endif
extern double ns_per_tick;
/* MAX_RTT_SAMPLES of them, mapped shared and populated once by the driver */
extern uint32_t *rtt_samples;

/* ipcbench.c: the settings the workers read */
extern int opt_reps;
extern int opt_rep_ms;
extern int opt_cpu[2];
int side_cpu(int side);

/* worker.c */
uint64_t now_ns(void);
void berr(struct bctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int env_int(const char *name, int def);
void pattern_fill(unsigned char *p, size_t len);
uint64_t line_sum(const unsigned char *p, size_t len);
void calibrate_tick(void);
int is_rtt(enum kind k);
void pin(int cpu);
int ring_log2_for(size_t max_msg);
/* One side of a case, in its own process. Never returns. */
void worker(struct bctx *c, int side) __attribute__((noreturn));

/* machine.c: what the machine is, and whether it is settled */
void emit_meta(FILE *out);
void emit_load(FILE *out, const char *what);
int settle(void);
int settled_now(void);
void emit_settling(FILE *out);
void settle_count_redo(double seconds);
extern int opt_settle;
extern volatile int interrupted;

/* transports: hw.c, kern.c, pshm.c, iox.c, fan.c, iox_rr.c */
extern const struct transport hw_transports[];
extern const struct transport kern_transports[];
extern const struct transport pshm_transports[];
extern const struct transport fan_transports[];
extern const struct transport iox_transports[];
extern const struct tp_ops pshm_mpsc_ops;
int iox_start(char *why, size_t len);
void iox_stop(void);
void pshm_choices(FILE *out);

#define KBIT(k) (1u << (k))
#define K_ALL_COPY (KBIT(K_RTT) | KBIT(K_STREAM))
#define K_ALL_ZC (KBIT(K_RTT_ZC) | KBIT(K_RTT_ZC_TOUCH) | KBIT(K_STREAM_ZC))

/* Loads and stores of shared words that the compiler may not elide or reorder. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Ending a run: see "generic runs" in worker.c. */
static inline int a_last(struct bctx *c, const struct run *r, uint64_t i, uint64_t now)
{
	if (i + 1 < r->nmax && now < r->deadline)
		return 0;
	STORE(&c->ctrl->final, i + 1);
	return 1;
}

static inline int b_done(const struct bctx *c, uint64_t i)
{
	return LOAD(&c->ctrl->final) == i + 1;
}

static inline void put_sample(uint32_t *samples, uint64_t i, uint64_t *prev)
{
	uint64_t t = tick(), d = t - *prev;
	samples[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	*prev = t;
}

#endif
