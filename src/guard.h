/* SPDX-License-Identifier: MIT */
/*
 * guard.h — the SIGBUS guard (guard.c), private to libpshm.
 *
 * PSHM__GUARDED(ret, lo, len, expr) evaluates @expr into @ret; a SIGBUS at
 * an address in [lo, lo + len) while it runs (another process truncated
 * the segment) abandons @expr and sets @ret to -EFAULT instead. @expr must
 * not allocate, lock or otherwise hold anything that a jump out of it
 * would leak or leave half-done in private memory. Guards nest: an inner
 * one restores the outer one when it ends.
 */
#ifndef PSHM_GUARD_H
#define PSHM_GUARD_H

#include <errno.h>
#include <setjmp.h>
#include <stddef.h>

#define PSHM__HIDDEN __attribute__((visibility("hidden")))

struct pshm__guard {
	sigjmp_buf jb;
	const char *lo, *hi;
	struct pshm__guard *prev;
};

/* The innermost armed guard of this thread, each linking to the one it is
 * nested in (the frames live on the stacks of the guarded calls), and
 * whether the handler is installed. initial-exec: no lazy TLS allocation
 * may happen inside the handler. Enter and leave are inline: channels
 * guard every operation, and a call each way showed in their profile. */
extern __thread struct pshm__guard *pshm__guard_top PSHM__HIDDEN
	__attribute__((tls_model("initial-exec")));
extern int pshm__guard_installed PSHM__HIDDEN;
PSHM__HIDDEN void pshm__guard_install(void);

static inline void pshm__guard_enter(struct pshm__guard *g, const void *lo, size_t len)
{
	if (__builtin_expect(!__atomic_load_n(&pshm__guard_installed, __ATOMIC_ACQUIRE), 0))
		pshm__guard_install();
	g->lo = (const char *)lo;
	g->hi = (const char *)lo + len;
	g->prev = pshm__guard_top;
	/* Only the handler, on this same thread, reads the top: a compiler
	 * barrier is all the ordering needed for @g to be complete first. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pshm__guard_top = g;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void pshm__guard_leave(struct pshm__guard *g)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pshm__guard_top = g->prev;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

#define PSHM__GUARDED(ret, lo, len, expr)                      \
	do {                                                   \
		struct pshm__guard g_;                         \
		if (sigsetjmp(g_.jb, 0)) {                     \
			pshm__guard_leave(&g_);                \
			(ret) = -EFAULT;                       \
		} else {                                       \
			pshm__guard_enter(&g_, (lo), (len));   \
			(ret) = (expr);                        \
			pshm__guard_leave(&g_);                \
		}                                              \
	} while (0)

/*
 * Zones: a cheaper guard for objects that own their mapping (channels),
 * entered and left on every operation. Entering costs a load and a store
 * to thread-local storage; nothing like sigsetjmp() runs per call. A
 * SIGBUS at an address in the current zone of the faulting thread does not
 * jump anywhere: the handler maps private zero pages over the whole zone
 * (the object's mapping: its pages are gone, or going, anyway), sets
 * @faulted and returns, so the faulting instruction runs again, now on
 * zeros, and the operation finishes on memory that reads as empty. The
 * caller then sees @faulted and returns -EFAULT; the object stays unusable
 * (every later operation is -EFAULT) until it is closed. The code run in a
 * zone must therefore stay bounded and harmless on all-zero memory, which
 * code that treats shared memory as untrusted already is; and it must check
 * @faulted before any wait that could last (a futex on zeros that nobody
 * will wake). Zones nest with each other and with guards: the handler
 * looks at the innermost zone first, then the guards.
 */
struct pshm__zone {
	char *lo, *hi;          /* the mapping, page aligned; lo == hi: none */
	volatile int faulted;   /* set by the handler, on this thread */
};

extern __thread struct pshm__zone *pshm__zone_top PSHM__HIDDEN
	__attribute__((tls_model("initial-exec")));

/* Make the zone [lo, lo + len) (len rounded up to pages) of @z, and make
 * sure the handler is installed before any operation enters it. */
PSHM__HIDDEN void pshm__zone_init(struct pshm__zone *z, void *lo, size_t len);

static inline struct pshm__zone *pshm__zone_enter(struct pshm__zone *z)
{
	struct pshm__zone *prev = pshm__zone_top;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pshm__zone_top = z;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return prev;
}

static inline void pshm__zone_leave(struct pshm__zone *prev)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pshm__zone_top = prev;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* The same as a function call: fn(arg) under the guard. */
int pshm__guarded_call(const void *lo, size_t len, int (*fn)(void *), void *arg);

/* memcpy() that returns -EFAULT instead of dying of SIGBUS.
 * Use it for every copy out of a mapping another process may truncate. */
int pshm__guarded_copy(void *dst, const void *src, size_t len);

#endif
