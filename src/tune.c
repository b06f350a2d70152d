/* SPDX-License-Identifier: MIT */
/*
 * tune.c — the speed choices that depend on the machine, made once per
 * process by measuring it (or read from the environment), never guessed
 * from one CPU model:
 *
 *  - the default spin of a blocking wait: as long as a sleep and a
 *    wake-up cost here, so that a peer answering promptly is never paid a
 *    sleep. A futex wake round trip between two threads, both asleep, is
 *    timed; the median of a few is the spin (bounded). On a VM wake-ups
 *    take tens of microseconds, on bare metal a few.
 *  - how a producer copies a large message into the ring: glibc's
 *    memcpy() (REP MOVSB on some CPUs) is slow on some CPUs when the lines
 *    it writes were just read by another core, and a plain loop of 16-byte
 *    moves is not; on others memcpy() is faster. Both are timed writing
 *    lines that a helper thread has just read, as a consumer leaves them,
 *    and the loop is chosen only when clearly faster.
 *
 * The helper thread lives for the measurement only (about a millisecond,
 * bounded), with every signal blocked. If it cannot be started, the safe
 * defaults stand: PSHM_SPIN_DEFAULT_NS and memcpy().
 */
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "chan.h"

#define RTT_ROUNDS 15                    /* futex round trips timed */
#define COPY_ROUNDS 8                    /* copies timed, per method */
#define COPY_BYTES (64 * 1024)           /* the size of each */
#define BUDGET_NS INT64_C(20000000)      /* the whole measurement, at most */
#define STEP_NS INT64_C(5000000)         /* one wait of either thread, at most */

int pshm__tune_copy_loop;
static struct pshm_chan_tuning tuned;
static pthread_once_t tune_once = PTHREAD_ONCE_INIT;

void pshm__copy_loop(unsigned char *dst, const unsigned char *src, size_t len)
{
#if defined(__x86_64__) && defined(__SSE2__)
	size_t n = len & ~(size_t)63;
	for (size_t i = 0; i < n; i += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)(src + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
		__m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
		_mm_storeu_si128((__m128i *)(dst + i), a);
		_mm_storeu_si128((__m128i *)(dst + i + 16), b);
		_mm_storeu_si128((__m128i *)(dst + i + 32), c);
		_mm_storeu_si128((__m128i *)(dst + i + 48), d);
	}
	memcpy(dst + n, src + n, len - n);
#else
	memcpy(dst, src, len);
#endif
}

/* ---- the helper thread -------------------------------------------------- */

/*
 * The two threads take turns through @seq: the main thread makes it odd
 * (your turn), the helper even (back to you). The helper reads the copy
 * buffer on each turn while @read is set, so its lines are left in the
 * helper's cache, shared, as a consumer leaves a ring.
 */
struct bench {
	uint32_t seq;
	int read;
	int quit;
	unsigned char *dst;
	volatile unsigned char sink;
};

static void futex_wait_for(uint32_t *w, uint32_t want, int64_t deadline)
{
	for (;;) {
		uint32_t v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
		int64_t now = pshm__now_ns();
		if (v == want || now >= deadline)
			return;
		pshm__futex_wait(w, v, deadline - now);
	}
}

static void turn(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, v, __ATOMIC_RELEASE);
	pshm__futex_wake(w, 1);
}

static void *helper(void *arg)
{
	struct bench *b = arg;
	for (uint32_t k = 1;; k += 2) {
		futex_wait_for(&b->seq, k, pshm__now_ns() + STEP_NS);
		if (__atomic_load_n(&b->seq, __ATOMIC_ACQUIRE) != k ||
		    __atomic_load_n(&b->quit, __ATOMIC_ACQUIRE))
			return NULL;
		if (__atomic_load_n(&b->read, __ATOMIC_RELAXED)) {
			unsigned char s = 0;
			for (size_t i = 0; i < COPY_BYTES; i += 64)
				s ^= b->dst[i];
			b->sink = s;
		}
		turn(&b->seq, k + 1);
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* One turn of the helper: hand it @seq + 1 and wait for @seq + 2. False
 * if it did not answer in time (then stop measuring). */
static bool round_trip(struct bench *b, uint32_t *seq, int64_t *took)
{
	int64_t t0 = pshm__now_ns();
	turn(&b->seq, ++*seq);
	futex_wait_for(&b->seq, ++*seq, t0 + STEP_NS);
	*took = pshm__now_ns() - t0;
	return __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE) == *seq;
}

static void measure(struct bench *b, int64_t end)
{
	uint32_t seq = 0;
	int64_t rtt[RTT_ROUNDS], t, best[2] = { INT64_MAX, INT64_MAX };
	int n = 0;
	while (n < RTT_ROUNDS && pshm__now_ns() < end && round_trip(b, &seq, &rtt[n]))
		n++;
	if (n == RTT_ROUNDS) {
		qsort(rtt, RTT_ROUNDS, sizeof(rtt[0]), cmp_i64);
		tuned.wake_rtt_ns = (uint64_t)rtt[RTT_ROUNDS / 2];
	}
	unsigned char *src = malloc(COPY_BYTES);
	if (!src)
		return;
	memset(src, 0x5a, COPY_BYTES);
	memset(b->dst, 0, COPY_BYTES);
	__atomic_store_n(&b->read, 1, __ATOMIC_RELAXED);
	int done = 0;
	/* Methods alternate, so the machine's noise falls on both alike; the
	 * best of each is compared. */
	for (int i = 0; i < 2 * COPY_ROUNDS && pshm__now_ns() < end; i++, done++) {
		if (!round_trip(b, &seq, &t))
			break;
		int64_t t0 = pshm__now_ns();
		if (i & 1)
			pshm__copy_loop(b->dst, src, COPY_BYTES);
		else
			memcpy(b->dst, src, COPY_BYTES);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		t = pshm__now_ns() - t0;
		if (t < best[i & 1])
			best[i & 1] = t;
	}
	free(src);
	if (done == 2 * COPY_ROUNDS) {
		tuned.copy_memcpy_ns = (uint64_t)best[0];
		tuned.copy_loop_ns = (uint64_t)best[1];
	}
}

static void run_helper(void)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->dst = aligned_alloc(64, COPY_BYTES);
	pthread_t th;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = b->dst ? pthread_create(&th, NULL, helper, b) : -1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		measure(b, pshm__now_ns() + BUDGET_NS);
		__atomic_store_n(&b->quit, 1, __ATOMIC_RELEASE);
		turn(&b->seq, __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE) | 1);
		pthread_join(th, NULL);
	}
	free(b->dst);
	free(b);
}

/* ---- the choices -------------------------------------------------------- */

/* A nonnegative integer from the environment, or -1. */
static int64_t env_u64(const char *name)
{
	const char *s = getenv(name);
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *e;
	unsigned long long v = strtoull(s, &e, 10);
	return *e || v > (unsigned long long)INT64_MAX ? -1 : (int64_t)v;
}

static void tune(void)
{
	int64_t spin = env_u64("PSHM_SPIN_NS");
	const char *copy = getenv("PSHM_COPY");
	bool copy_env = copy && (!strcmp(copy, "memcpy") || !strcmp(copy, "loop"));
	if (spin < 0 || !copy_env)
		run_helper();
	if (spin >= 0) {
		tuned.spin_ns = (uint64_t)spin;
		tuned.spin_source = PSHM_TUNE_ENV;
	} else if (tuned.wake_rtt_ns) {
		uint64_t s = tuned.wake_rtt_ns;
		tuned.spin_ns = s < PSHM_SPIN_MIN_NS ? PSHM_SPIN_MIN_NS
			      : s > PSHM_SPIN_MAX_NS ? PSHM_SPIN_MAX_NS : s;
		tuned.spin_source = PSHM_TUNE_MEASURED;
	} else {
		tuned.spin_ns = PSHM_SPIN_DEFAULT_NS;
		tuned.spin_source = PSHM_TUNE_FALLBACK;
	}
	if (copy_env) {
		tuned.copy = !strcmp(copy, "loop") ? PSHM_COPY_LOOP : PSHM_COPY_MEMCPY;
		tuned.copy_source = PSHM_TUNE_ENV;
	} else if (tuned.copy_memcpy_ns) {
		/* The loop only when clearly (10%) faster: memcpy() is the
		 * better choice wherever the two are close. */
		tuned.copy = tuned.copy_loop_ns * 10 < tuned.copy_memcpy_ns * 9 ? PSHM_COPY_LOOP
										 : PSHM_COPY_MEMCPY;
		tuned.copy_source = PSHM_TUNE_MEASURED;
	} else {
		tuned.copy = PSHM_COPY_MEMCPY;
		tuned.copy_source = PSHM_TUNE_FALLBACK;
	}
	pshm__tune_copy_loop = tuned.copy == PSHM_COPY_LOOP;
}

void pshm__tune_init(void)
{
	pthread_once(&tune_once, tune);
}

uint64_t pshm__tune_spin_ns(void)
{
	pshm__tune_init();
	return tuned.spin_ns;
}

int pshm_chan_tuning(struct pshm_chan_tuning *t)
{
	if (!t)
		return -EINVAL;
	pshm__tune_init();
	*t = tuned;
	return 0;
}
