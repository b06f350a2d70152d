/* SPDX-License-Identifier: MIT */
/*
 * shared.h — what channels (chan.h), topics (topic.h) and services
 * (service.h) do the same way with the words they share with other
 * processes: atomic loads and stores, fences, waking a sleeper, and the
 * owner words of peer slots. Private to libpshm.
 */
#ifndef PSHM_SHARED_H
#define PSHM_SHARED_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

#define LINE 64 /* a cache line: what writers of different sides never share */

/* ---- atomics ------------------------------------------------------------ */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define CAS(p, expect, want)                                                                \
	__atomic_compare_exchange_n((p), (expect), (want), false, __ATOMIC_SEQ_CST,         \
				    __ATOMIC_ACQUIRE)

/*
 * Fences. ThreadSanitizer does not model fences (GCC refuses them under
 * -fsanitize=thread); there, a sequentially consistent RMW on a dummy word
 * stands in (on x86 both are one locked instruction).
 */
#if defined(__SANITIZE_THREAD__)
extern uint64_t pshm__fence_word;
#define FULL_FENCE() ((void)__atomic_fetch_add(&pshm__fence_word, 0, __ATOMIC_SEQ_CST))
#define RELEASE_FENCE() FULL_FENCE()
#define ACQUIRE_FENCE() FULL_FENCE()
#else
#define FULL_FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define RELEASE_FENCE() __atomic_thread_fence(__ATOMIC_RELEASE)
#define ACQUIRE_FENCE() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif

/* ---- waking a sleeper --------------------------------------------------- */

/*
 * Order our last store (a record, a message, a cursor) before the load of
 * the other side's "I may sleep" flag. The sleeper's membarrier() stands in
 * for this fence (futex.c), unless some process cannot use it: then that
 * process sets the segment's @need_fence, or this one has @self_fence.
 */
static inline void pshm__waker_barrier(bool self_fence, const uint32_t *need_fence)
{
	if (self_fence || LOAD(need_fence))
		FULL_FENCE();
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Wake up to @n sleepers on @flag if one said it may sleep (it set the
 * flag to 1 before its last look); the flag is cleared by whoever wakes. */
static inline void pshm__wake_flag(bool self_fence, const uint32_t *need_fence, uint32_t *flag,
				   int n)
{
	pshm__waker_barrier(self_fence, need_fence);
	if (LOAD(flag) && __atomic_exchange_n(flag, 0, __ATOMIC_ACQ_REL))
		pshm__futex_wake(flag, n);
}

/* ---- owner words -------------------------------------------------------- */

/*
 * Each peer slot of a channel, topic or service has an owner word:
 * pid | state << 32 | generation << 40. The pid is for display; whether
 * the owner lives is its liveness lock's answer (live.c), never the pid's.
 * The generation grows with every claim, so a peer can tell that a claim
 * happened (even by a process that died at once) by the word changing.
 */
enum { OWN_FREE = 0, OWN_CLAIMING = 1, OWN_ACTIVE = 2 };

static inline unsigned owner_state(uint64_t o)
{
	return (unsigned)(o >> 32) & 0xff;
}

static inline uint32_t owner_gen(uint64_t o)
{
	return (uint32_t)(o >> 40);
}

/* The word a new claim after @seen writes: active, our pid, one more
 * generation (24 bits, wrapping). */
static inline uint64_t owner_next(uint64_t seen)
{
	return ((uint64_t)(owner_gen(seen) + 1) << 40) | (uint64_t)OWN_ACTIVE << 32 |
	       (uint32_t)getpid();
}

/* Write owner_next() into @o, whose lock we hold; returns the word
 * written. A CAS, so that the generation grows past whatever is there; a
 * peer rewriting the word without end gets a plain store after 64 tries
 * (every loop over shared memory is bounded). */
static inline uint64_t owner_claim(uint64_t *o)
{
	uint64_t seen = LOAD(o), want;
	for (int tries = 0; tries < 64; tries++) {
		want = owner_next(seen);
		if (CAS(o, &seen, want))
			return want;
	}
	want = owner_next(seen);
	STORE_REL(o, want);
	return want;
}

/* Free @o: state and pid cleared, the generation kept (release). */
static inline void owner_release(uint64_t *o)
{
	STORE_REL(o, LOAD(o) & ~((UINT64_C(1) << 40) - 1));
}

/*
 * The first half of claiming a peer slot: take its liveness lock @byte
 * through @lock_fd. 1 taken (the caller then writes the owner word, or
 * drops the lock if it finds the slot unusable), 0 held by a live peer (or,
 * with @free_only, the slot's owner word @o is not free, before or after
 * the lock), or -errno when the lock cannot be taken at all.
 */
int pshm__slot_lock(int lock_fd, const uint64_t *o, uint64_t byte, bool free_only);

#endif
