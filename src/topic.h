/* SPDX-License-Identifier: MIT */
/*
 * topic.h — topics: one publisher, many subscribers, each with its own
 * cursor, over a ring of fixed-size slots in a segment. Private to the topic
 * files: topic.c (the fast path: publish, receive, wait), topic_open.c
 * (create, attach, close), topic_fd.c (the poll descriptor), topic_stat.c
 * (describing a topic without joining it).
 *
 * Layout (all little-endian, 64-byte lines; pshm(7), TOPICS, has the story):
 *   line 0   constants written once by the creator (magic, version, sizes)
 *   line 1   the publisher: pub_seq, limit, its owner word, attach count
 *   line 2   data_wait: futex word, 1 while a subscriber may sleep
 *   line 3   space_wait: futex word, 1 while the publisher may sleep
 *   line 4   subscriber attach count, need_fence
 *   subs     one line per subscriber slot: owner word, next, missed
 *   ring     at ring_off (page aligned): nslots slots of slot_size bytes
 *
 * Messages are numbered from 0 inside (the API adds 1). Message s lives in
 * slot s % nslots, whose first word is a stamp: 2s + 1 while s is being
 * written, 2s + 2 once it is complete (0: never written). The publisher
 * stores the odd stamp, then the length and payload, then the even stamp
 * with release ordering, then pub_seq = s + 1. A subscriber that expects s
 * loads the stamp with acquire ordering: below 2s + 2, s is not there yet;
 * equal, it copies, then loads the stamp again (the seqlock check); above,
 * the publisher has lapped it: it skips to the oldest message still whole
 * and counts what it skipped.
 *
 * Blocking mode: the publisher may write message w only when every live
 * subscriber's `next` is above w - nslots. Scanning the subscribers for
 * every message would cost a line per subscriber, so the publisher keeps a
 * `limit` it may write below without looking, and refreshes it when it gets
 * there: it stores a tentative limit, fences, scans, then stores the real
 * one. A joining subscriber stores its `next`, fences, loads `limit` and
 * then `pub_seq`, and moves its `next` up to max(limit, pub_seq + 1) -
 * nslots if needed (Dekker's pattern: either the publisher's scan sees the
 * newcomer, or the newcomer sees the limit it must respect; pub_seq
 * because a scan that sees a newcomer's old `next` lowers the limit below
 * what was already written). The limit never reaches further than history messages
 * behind the publisher, so what a late joiner starts from stays there.
 *
 * Liveness as for channels (live.c): lock byte PSHM__LOCK_ROLE(0) is the
 * publisher's, PSHM__LOCK_ROLE(1 + i) subscriber slot i's. Everything read
 * from the segment is untrusted: constants are read once and checked at
 * attach, stamps, lengths and cursors are checked where they are used, and
 * every loop is bounded.
 */
#ifndef PSHM_TOPIC_H
#define PSHM_TOPIC_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "guard.h"
#include "shared.h"

#define TOPIC_VERSION 1u
#define T_SLOT_HDR 16u
#define T_CHECK_NS INT64_C(20000000) /* peers are re-checked every 20 ms of waiting */
#define T_FD_CHECK_NS INT64_C(50000000) /* the poll thread checks the publisher */

struct topic_hdr {
	/* line 0: written once, before the name appears */
	uint64_t magic;
	uint32_t version;
	uint32_t ring_off;
	uint64_t total_size;
	uint64_t ring_size;
	uint32_t slot_size;
	uint32_t max_msg;
	uint32_t history;
	uint32_t max_subs;
	uint32_t policy;
	uint32_t reserved0;
	uint8_t pad0[8];
	/* line 1: the publisher */
	uint64_t pub_seq;
	uint64_t limit;
	uint64_t pub_owner;
	uint64_t pub_attaches;
	uint8_t pad1[32];
	/* line 2 */
	uint32_t data_wait;
	uint8_t pad2[60];
	/* line 3 */
	uint32_t space_wait;
	uint8_t pad3[60];
	/* line 4: rarely written */
	uint64_t sub_attaches;
	uint32_t need_fence;
	uint8_t pad4[52];
};

struct topic_sub {
	uint64_t owner;  /* pid | state << 32 | generation << 40; state 0: free */
	uint64_t next;   /* the next message it reads */
	uint64_t missed; /* messages it skipped */
	uint8_t pad[40];
};

struct topic_slot {
	uint64_t stamp;
	uint32_t len;
	uint32_t reserved;
	/* payload */
};

_Static_assert(sizeof(struct topic_hdr) == 5 * LINE, "header is five cache lines");
_Static_assert(sizeof(struct topic_sub) == LINE, "a subscriber slot is one line");
_Static_assert(sizeof(struct topic_slot) == T_SLOT_HDR, "slot header");

/* The geometry, from a config or from a header. */
struct topic_geom {
	uint64_t ring_size, slot_size, max_msg, nslots;
	unsigned history, max_subs, policy;
};

struct topic_fd; /* topic_fd.c */

struct pshm_topic {
	pshm_seg *seg; /* NULL for pshm__topic_attach_mem() */
	struct topic_hdr *h;
	struct topic_sub *subs;
	unsigned char *ring;
	size_t map_len;
	struct topic_geom g;
	uint64_t mask;
	unsigned shift; /* log2(slot_size) */
	unsigned role, slot;
	bool lossy;
	bool detached;   /* no peer table: every peer counts as gone */
	int lock_fd;     /* the segment's file, for liveness locks; -1 if none */
	bool self_fence; /* this process cannot use membarrier */
	bool mb;         /* sleep with membarrier rather than a fence */
	unsigned wait;
	uint64_t spin_ns;
	int64_t next_check;
	int64_t touched_sec; /* CLOCK_MONOTONIC_COARSE second of the last mtime update */
	bool seen_peer;
	uint64_t attaches0; /* publisher attach count when we attached */
	bool peer_gone;     /* the last check found the publisher gone... */
	uint64_t gone_mark; /* ...and the publisher attach count then */
	/* publisher */
	uint64_t seq;   /* the next message */
	uint64_t limit; /* blocking: may write below this without a scan */
	bool resv;
	uint32_t resv_len;
	uint64_t *dead; /* blocking: owner words found dead, per slot */
	/* subscriber */
	uint64_t next;
	uint64_t missed;
	uint64_t last; /* number (1-based) of the last message handed out */
	bool peeked;
	uint32_t peek_len;
	struct topic_fd *fd;
};

/* Run expr under the SIGBUS guard over the topic's whole mapping. */
#define TOPIC_GUARDED(ret, t, expr) PSHM__GUARDED(ret, (t)->h, (t)->map_len, expr)

/* ---- slots and waking (atomics: shared.h) ------------------------------ */

static inline struct topic_slot *slot_of(const pshm_topic *t, uint64_t s)
{
	return (struct topic_slot *)(t->ring + ((s & t->mask) << t->shift));
}

static inline unsigned char *payload_of(struct topic_slot *sl)
{
	return (unsigned char *)(sl + 1);
}

static inline void waker_barrier(const pshm_topic *t)
{
	pshm__waker_barrier(t->self_fence, &t->h->need_fence);
}

static inline void wake(const pshm_topic *t, uint32_t *flag, int n)
{
	pshm__wake_flag(t->self_fence, &t->h->need_fence, flag, n);
}

/* The sleeper's half of the barrier above: after storing its flag, before
 * loading the condition. *@mb may turn false (membarrier failed). */
void pshm__topic_sleep_fence(pshm_topic *t, bool *mb);

/* ---- layout and peers (topic_open.c) ------------------------------------ */

/* Where the ring starts: after the header and @max_subs slots, page aligned. */
static inline uint64_t topic_ring_offset(unsigned max_subs)
{
	uint64_t n = sizeof(struct topic_hdr) + (uint64_t)max_subs * sizeof(struct topic_sub);
	return (n + 4095) & ~(uint64_t)4095;
}

/* Read the constants of the header at @addr (@size bytes) once and check
 * them against each other and @size: 0 or -EPROTO. */
int pshm__topic_hdr_read(const void *addr, size_t size, struct topic_geom *g);

/* Is the publisher alive (its lock held, its owner word active)? */
bool pshm__topic_pub_alive(const pshm_topic *t);

/* Is a message (or a lap) there for subscriber @t at @next? */
static inline bool sub_ready_at(const pshm_topic *t, uint64_t next)
{
	return LOAD_ACQ(&slot_of(t, next)->stamp) >= 2 * next + 2;
}

/* Stop the poll thread and close its descriptor (topic_fd.c). */
void pshm__topic_fd_stop(pshm_topic *t);
/* A receive found nothing: drain the descriptor and rearm the thread. */
void pshm__topic_fd_rearm(pshm_topic *t);

/* ---- for the fuzzer ----------------------------------------------------- */

/* Attach to a topic laid out at [addr, addr + size) without a segment,
 * validating the header like pshm_topic_open(). With PSHM__TOPIC_DETACHED
 * no slot is claimed and every peer counts as gone. pshm_topic_close()
 * frees the handle and leaves the memory alone. */
#define PSHM__TOPIC_DETACHED 1u
int pshm__topic_attach_mem(void *addr, size_t size, unsigned role, unsigned flags,
			   pshm_topic **out);
/* pshm_topic_stat() over [addr, addr + size): every peer reported dead. */
int pshm__topic_stat_mem(const void *addr, size_t size, struct pshm_topic_info *info);

#endif
