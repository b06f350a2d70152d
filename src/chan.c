/*
 * chan.c — channels: lock-free rings of variable-size messages in a segment,
 * one consumer and one (SPSC) or many (MPSC) producers.
 *
 * Layout (all little-endian, 64-byte lines; pshm(7) has the full story):
 *   line 0   constants written once by the creator (magic, version, sizes)
 *   line 1   tail: the producers' reservation index
 *   line 2   head: the consumer's release index, its release intent
 *   line 3   cons_wait: futex word, 1 while the consumer may sleep
 *   line 4   space_wait: futex word, 1 while a producer may sleep
 *   line 5   attach counters, need_fence
 *   slots    one line per peer: [0] the consumer, [1..max_producers]
 *   ring     at ring_off (page aligned), ring_size bytes, a power of two
 *
 * head and tail are byte positions that only grow (64 bits never wrap); a
 * position's offset in the ring is pos & (ring_size - 1). A record starts
 * on an 8-byte boundary with one 64-bit header word and never crosses the
 * end of the ring (a PAD record fills the rest of a lap instead):
 *   bits 0-31 length (MSG: payload bytes; BUSY/PAD/DEAD: the record's span)
 *   bits 32-35 type: 0 EMPTY, 1 BUSY, 2 MSG, 3 PAD, 4 DEAD
 *   bits 36-47 producer slot (BUSY only)
 *   bits 48-63 lap tag: (pos / ring_size) mod 2^16, a check against stale
 *              or misplaced headers
 * A record is published by storing its header last, with release ordering;
 * the consumer polls the header at head with acquire ordering.
 *
 * The consumer must never mistake stale bytes of an earlier lap for a
 * header. SPSC: before publishing a record the producer zeroes the header
 * slot that follows it (it reserves those 8 bytes), so the word at head is
 * always 0 or a current header. MPSC:
 * producers claim space by CAS on tail, so no producer may write beyond its
 * own claim; instead the consumer wipes every record it releases, so all
 * free space reads as zeros (Agrona's many-to-one ring does the same).
 * The SPSC consumer wipes most of what it releases too, for speed only:
 * see wipe() and wipes().
 *
 * Crashes. MPSC producers write their intent (position, length) into their
 * slot before the CAS, and a BUSY header naming their slot right after it.
 * A consumer stuck on an unfinished record checks, on its slow path, whether
 * the owner is dead (pid + start time from /proc, so pid reuse is harmless)
 * and then turns the record into DEAD, which is skipped and wiped like PAD.
 * The consumer records a release intent before wiping so that a successor
 * can finish a release cut short by a crash. A message is never delivered
 * in part: its header is written only when the message is complete.
 *
 * Everything read from the segment is untrusted: the constants are read
 * once and validated at attach time, indices and headers are validated at
 * each read, and every loop is bounded.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "smallcopy.h"

#define CHAN_VERSION 1u
#define LINE 64
#define RING_MIN UINT64_C(1024)
#define RING_MAX (UINT64_C(1) << 31)
#define RING_DEFAULT (UINT64_C(1) << 20)
#define PROD_MAX 64u
#define PROD_DEFAULT 64u
#define CHECK_NS INT64_C(20000000)  /* peers are re-checked every 20 ms of waiting */
#define IDLE UINT64_MAX             /* an intent slot holding no claim */
#define PID_LIMIT 4194304           /* PID_MAX_LIMIT on 64-bit Linux */
#define CLAIM_TRIES 100000u          /* CAS attempts before giving up for now */

enum { R_EMPTY = 0, R_BUSY = 1, R_MSG = 2, R_PAD = 3, R_DEAD = 4 };
enum { OWN_CLAIMING = 1, OWN_ACTIVE = 2 };

struct chan_hdr {
	/* line 0: written once, before the name appears */
	uint64_t magic;
	uint32_t version;
	uint32_t ring_off;
	uint64_t total_size;
	uint64_t ring_size;
	uint32_t max_msg;
	uint32_t mode;
	uint32_t max_producers;
	uint32_t reserved0;
	uint8_t pad0[16];
	/* line 1: producers */
	uint64_t tail;
	uint8_t pad1[56];
	/* line 2: the consumer */
	uint64_t head;
	uint64_t received;
	uint64_t rel_pos;
	uint64_t rel_len;
	uint8_t pad2[32];
	/* line 3 */
	uint32_t cons_wait;
	uint8_t pad3[60];
	/* line 4 */
	uint32_t space_wait;
	uint8_t pad4[60];
	/* line 5: rarely written */
	uint64_t prod_attaches;
	uint64_t cons_attaches;
	uint32_t need_fence;
	uint8_t pad5[44];
};

struct chan_slot {
	uint64_t owner; /* pid | state << 32 | generation << 40; state 0: free */
	uint64_t start; /* the owner's start time (clock ticks after boot) */
	uint64_t ipos;  /* MPSC producer: position being claimed, or IDLE */
	uint64_t ilen;  /* its length */
	uint8_t pad[32];
};

_Static_assert(sizeof(struct chan_hdr) == 6 * LINE, "header is six cache lines");
_Static_assert(sizeof(struct chan_slot) == LINE, "a slot is one cache line");

struct pshm_chan {
	pshm_seg *seg; /* NULL for pshm__chan_attach_mem() */
	struct chan_hdr *h;
	struct chan_slot *slots;
	unsigned char *ring;
	uint64_t ring_size, mask;
	unsigned shift;
	uint32_t max_msg;
	unsigned mode, nprod, role, slot;
	bool detached;  /* no peer table: every peer counts as gone */
	bool self_fence; /* this process cannot use membarrier */
	bool mb;        /* sleep with membarrier rather than a fence */
	unsigned wait;
	uint64_t spin_ns;
	int64_t next_check;
	bool seen_peer;
	int64_t touched_sec; /* CLOCK_MONOTONIC_COARSE second of the last mtime update */
	bool peer_gone;     /* the last check found the peers gone... */
	uint64_t gone_mark; /* ...and the other side's attach count then */
	uint64_t owners0[PROD_MAX + 1]; /* the other side's slots when we attached */
	/* producer */
	uint64_t tail;      /* SPSC: where the next record goes */
	uint64_t head_seen; /* the last head read: free space is at least this */
	bool resv;
	uint64_t resv_pos, resv_span;
	uint32_t resv_len;
	/* consumer */
	uint64_t head;
	uint64_t received;
	bool peeked;
	uint64_t peek_w;
};

/* Run expr under the SIGBUS guard over the channel's whole mapping (see
 * the public operations below). */
#define CHAN_GUARDED(ret, ch, expr)                                              \
	PSHM__GUARDED(ret, (ch)->h, (size_t)((ch)->ring + (ch)->ring_size -        \
					     (unsigned char *)(ch)->h), expr)

/* ---- small helpers ---------------------------------------------------- */

/*
 * A full fence. ThreadSanitizer does not model fences (GCC refuses them
 * under -fsanitize=thread); there, a sequentially consistent RMW on a
 * dummy word stands in (on x86 both are one locked instruction).
 */
#if defined(__SANITIZE_THREAD__)
static uint64_t fence_word;
#define FULL_FENCE() ((void)__atomic_fetch_add(&fence_word, 0, __ATOMIC_SEQ_CST))
#define RELEASE_FENCE() FULL_FENCE()
#else
#define FULL_FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define RELEASE_FENCE() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)


static inline uint64_t align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static inline uint64_t *hdr_at(const pshm_chan *ch, uint64_t pos)
{
	return (uint64_t *)(ch->ring + (pos & ch->mask));
}

static inline uint64_t lap_tag(const pshm_chan *ch, uint64_t pos)
{
	return (pos >> ch->shift) & 0xffff;
}

static inline uint64_t rec_make(const pshm_chan *ch, unsigned type, uint64_t len, unsigned slot,
				uint64_t pos)
{
	return len | (uint64_t)type << 32 | (uint64_t)(slot & 0xfff) << 36 | lap_tag(ch, pos) << 48;
}

static inline uint32_t rec_len(uint64_t w) { return (uint32_t)w; }
static inline unsigned rec_type(uint64_t w) { return (unsigned)(w >> 32) & 0xf; }
static inline unsigned rec_slot(uint64_t w) { return (unsigned)(w >> 36) & 0xfff; }

static inline struct chan_slot *slot_at(const pshm_chan *ch, unsigned i)
{
	return &ch->slots[i];
}

/*
 * Validate the header word @w found at @pos and give the record's span.
 * Anything a correct peer cannot have written is -EBADMSG.
 */
static int rec_check(const pshm_chan *ch, uint64_t pos, uint64_t w, uint64_t *span)
{
	uint64_t room = ch->ring_size - (pos & ch->mask);
	unsigned type = rec_type(w);
	uint64_t len = rec_len(w);
	if ((w >> 48) != lap_tag(ch, pos))
		return -EBADMSG;
	if (rec_slot(w) && type != R_BUSY)
		return -EBADMSG;
	switch (type) {
	case R_MSG:
		if (len > ch->max_msg)
			return -EBADMSG;
		*span = align8(8 + len);
		break;
	case R_BUSY:
		if (ch->mode != PSHM_CHAN_MPSC || rec_slot(w) == 0 || rec_slot(w) > ch->nprod)
			return -EBADMSG;
		/* fall through */
	case R_PAD:
	case R_DEAD:
		if (len < 8 || (len & 7))
			return -EBADMSG;
		*span = len;
		break;
	default:
		return -EBADMSG;
	}
	return *span <= room ? 0 : -EBADMSG;
}

/* ---- peers: who is attached, and are they alive? ---------------------- */

/*
 * Read /proc/PID/stat: 1 and the start time (field 22) if the process
 * exists and is not a zombie, 0 if it is gone, -errno if /proc is unusable.
 */
static int proc_start(pid_t pid, uint64_t *start)
{
	char path[40], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	if (*p == 'Z' || *p == 'X' || *p == 'x')
		return 0;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 1;
}

static uint64_t own_start(void)
{
	uint64_t s = 0;
	return proc_start(getpid(), &s) == 1 ? s : 0;
}

static inline unsigned owner_state(uint64_t o)
{
	return (unsigned)(o >> 32) & 0xff;
}

/* Is the process recorded in the owner word @o (and start time) alive? */
static bool owner_alive(uint64_t o, uint64_t start)
{
	pid_t pid = (pid_t)(uint32_t)o;
	unsigned state = owner_state(o);
	if (pid <= 0 || pid > PID_LIMIT || (state != OWN_CLAIMING && state != OWN_ACTIVE))
		return false;
	uint64_t now = 0;
	int r = proc_start(pid, &now);
	if (r < 0)
		return kill(pid, 0) == 0 || errno == EPERM;
	if (r == 0)
		return false;
	/* CLAIMING: the start time is not written yet; a start of 0 means
	 * the owner could not read its own, so the pid is all there is. */
	return state == OWN_CLAIMING || start == 0 || start == now;
}

static bool slot_alive(const pshm_chan *ch, unsigned i)
{
	if (ch->detached)
		return false;
	const struct chan_slot *s = slot_at(ch, i);
	uint64_t o = LOAD_ACQ(&s->owner);
	return owner_state(o) && owner_alive(o, LOAD(&s->start));
}

static bool producers_alive(const pshm_chan *ch)
{
	for (unsigned i = 1; i <= ch->nprod; i++)
		if (slot_alive(ch, i))
			return true;
	return false;
}

/*
 * Take slot @i if it still holds @seen: CLAIMING first, then the start
 * time, then ACTIVE, so a checker never pairs our pid with a stale time.
 * The generation grows with every claim, so the other side can tell that
 * a peer came (even one that died at once) by the owner word changing.
 */
static bool slot_take(pshm_chan *ch, unsigned i, uint64_t seen, uint64_t start)
{
	struct chan_slot *s = slot_at(ch, i);
	uint64_t gen = ((seen >> 40) + 1) << 40;
	uint64_t pid = (uint32_t)getpid();
	if (!__atomic_compare_exchange_n(&s->owner, &seen, gen | pid | (uint64_t)OWN_CLAIMING << 32,
					 false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;
	STORE(&s->start, start);
	STORE_REL(&s->owner, gen | pid | (uint64_t)OWN_ACTIVE << 32);
	ch->slot = i;
	return true;
}

/* Give our slot back, keeping its generation. */
static void slot_free(pshm_chan *ch)
{
	struct chan_slot *s = slot_at(ch, ch->slot);
	STORE_REL(&s->owner, LOAD(&s->owner) & ~(((uint64_t)1 << 40) - 1));
}

/* The slots of the other side: [first, last]. */
static void peer_range(const pshm_chan *ch, unsigned *first, unsigned *last)
{
	*first = ch->role == PSHM_CONSUMER ? 1 : 0;
	*last = ch->role == PSHM_CONSUMER ? ch->nprod : 0;
}

/* Has a peer attached since we did? (Its claim changed an owner word.) */
static bool peer_came(const pshm_chan *ch)
{
	unsigned a, b;
	peer_range(ch, &a, &b);
	for (unsigned i = a; i <= b; i++)
		if (LOAD_ACQ(&slot_at(ch, i)->owner) != ch->owners0[i])
			return true;
	return false;
}

/* A dead producer's slot may be reused only once the consumer is past the
 * claim it may have left: its intent is what resolves that claim. */
static bool intent_settled(const pshm_chan *ch, const struct chan_slot *s)
{
	uint64_t ip = LOAD_ACQ(&s->ipos);
	return ip == IDLE || ip < LOAD_ACQ(&ch->h->head);
}

static int claim_slot(pshm_chan *ch, uint64_t start)
{
	if (ch->role == PSHM_CONSUMER || ch->mode == PSHM_CHAN_SPSC) {
		unsigned i = ch->role == PSHM_CONSUMER ? 0 : 1;
		struct chan_slot *s = slot_at(ch, i);
		uint64_t o = LOAD_ACQ(&s->owner);
		if (owner_state(o) && owner_alive(o, LOAD(&s->start)))
			return -EBUSY;
		return slot_take(ch, i, o, start) ? 0 : -EBUSY;
	}
	/* MPSC producer: a free slot first, then one whose owner is dead. */
	for (unsigned i = 1; i <= ch->nprod; i++) {
		uint64_t o = LOAD(&slot_at(ch, i)->owner);
		if (owner_state(o) == 0 && slot_take(ch, i, o, start))
			return 0;
	}
	for (unsigned i = 1; i <= ch->nprod; i++) {
		struct chan_slot *s = slot_at(ch, i);
		uint64_t o = LOAD_ACQ(&s->owner);
		if (owner_state(o) && !owner_alive(o, LOAD(&s->start)) && intent_settled(ch, s) &&
		    slot_take(ch, i, o, start))
			return 0;
	}
	return -EUSERS;
}

/* ---- waking and sleeping ---------------------------------------------- */

/*
 * Order our last store (a record, or head) before the load of the other
 * side's "I may sleep" flag. The sleeper's membarrier() stands in for this
 * fence (see futex.c), unless some process cannot use it.
 */
static inline void waker_barrier(const pshm_chan *ch)
{
	if (ch->self_fence || LOAD(&ch->h->need_fence))
		FULL_FENCE();
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void wake(const pshm_chan *ch, uint32_t *flag, int n)
{
	waker_barrier(ch);
	if (LOAD(flag) && __atomic_exchange_n(flag, 0, __ATOMIC_ACQ_REL))
		pshm__futex_wake(flag, n);
}

static inline void wake_consumer(const pshm_chan *ch)
{
	wake(ch, &ch->h->cons_wait, 1);
}

static inline void wake_producers(const pshm_chan *ch)
{
	wake(ch, &ch->h->space_wait, INT_MAX);
}

/* What a waiting side is waiting for, tested without side effects. */
typedef bool (*ready_fn)(const pshm_chan *ch, uint64_t arg);

struct waiter {
	int64_t timeout, deadline, spin_end;
	bool started;
};

static int cons_check(pshm_chan *ch);
static int prod_check(pshm_chan *ch);

/*
 * Poll @ready a few hundred times. Mostly plain loads: a PAUSE costs about
 * as much as the cache-line transfer being waited for (65 cycles on recent
 * AMD cores), so one in eight polls pauses, enough to leave an SMT sibling
 * its share.
 */
static inline __attribute__((always_inline)) void spin(const pshm_chan *ch, ready_fn ready,
						       uint64_t arg)
{
	for (unsigned i = 1; i <= 256; i++) {
		if (ready(ch, arg))
			return;
		if (!(i & 7))
			pshm__cpu_relax();
	}
}

/* How many peers of the other role have ever attached. */
static inline uint64_t peer_attaches(const pshm_chan *ch)
{
	return LOAD(ch->role == PSHM_CONSUMER ? &ch->h->prod_attaches : &ch->h->cons_attaches);
}

/* Sleep on @flag until woken, or until the deadline or the next peer check. */
static int sleep_on(pshm_chan *ch, struct waiter *wt, uint32_t *flag, ready_fn ready,
		    uint64_t arg, int64_t now)
{
	STORE(flag, 1);
	/* Dekker with the waker: flag store, full barrier, condition load. */
	if (ch->mb && !pshm__membarrier()) {
		/* membarrier failed: from now on the wakers must fence
		 * themselves (this sleep is still bounded by the next check). */
		ch->mb = false;
		STORE_REL(&ch->h->need_fence, 1);
		FULL_FENCE();
	} else if (!ch->mb) {
		FULL_FENCE();
	}
	bool mine = flag == &ch->h->cons_wait;
	if (ready(ch, arg)) {
		if (mine)
			STORE(flag, 0);
		return 0;
	}
	int64_t until = wt->deadline < ch->next_check ? wt->deadline : ch->next_check;
	int r = pshm__futex_wait(flag, 1, until > now ? until - now : 0);
	/* Only the consumer may clear its own flag: several producers share
	 * theirs, and the consumer clears that one when it wakes them. */
	if (mine)
		STORE(flag, 0);
	return r == -EINTR ? -EINTR : 0;
}

/*
 * One step of waiting for @ready: spin (up to spin_ns, or for ever when
 * polling), re-check the peers every CHECK_NS, then sleep on @flag.
 * Returns 0 when the caller should look again, or -EAGAIN (timeout 0),
 * -ETIMEDOUT, -EPIPE, -EINTR, -EPROTO/-EBADMSG.
 */
static inline __attribute__((always_inline)) int
wait_step(pshm_chan *ch, struct waiter *wt, uint32_t *flag, ready_fn ready, uint64_t arg)
{
	int64_t now = pshm__now_ns();
	if (!wt->started) {
		wt->started = true;
		wt->deadline = wt->timeout > 0 && wt->timeout < INT64_MAX - now ? now + wt->timeout
										 : INT64_MAX;
		wt->spin_end = now + (ch->spin_ns > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ch->spin_ns);
	}
	bool polling = ch->wait == PSHM_WAIT_POLL;
	if (wt->timeout != 0 && now < wt->deadline &&
	    (polling ? now < ch->next_check : now < wt->spin_end)) {
		spin(ch, ready, arg);
		return 0;
	}
	if (now >= ch->next_check || (ch->peer_gone && peer_attaches(ch) != ch->gone_mark)) {
		ch->next_check = now + CHECK_NS;
		/* The count before the check: a peer attaching during it (slot
		 * first, count after) then shows as a change, not as gone. */
		uint64_t mark = peer_attaches(ch);
		int r = ch->role == PSHM_CONSUMER ? cons_check(ch) : prod_check(ch);
		ch->peer_gone = r == -EPIPE;
		ch->gone_mark = mark;
		if (r)
			return r > 0 ? 0 : r;
	} else if (ch->peer_gone) {
		/* Between checks, the verdict stands unless a peer attached. */
		return -EPIPE;
	}
	if (wt->timeout == 0)
		return -EAGAIN;
	if (now >= wt->deadline)
		return -ETIMEDOUT;
	if (polling)
		return 0;
	return sleep_on(ch, wt, flag, ready, arg, now);
}

/* ---- the consumer ------------------------------------------------------ */

/*
 * Wipe a released record. MPSC: all of it, header last, so free space reads
 * as zeros. SPSC: the payload, up to the last line boundary before the
 * record's end. The header stays, as a new producer's recovery walk
 * (spsc_recover) may still need to read it; and the record's last, partial
 * line also holds the next record's header, which the consumer polls and
 * the producer writes next: writing it here as well would take that line
 * from the producer once more, between a message and the reply to it
 * (64-byte round trip 211 -> 204 ns, streaming 64-byte messages 22 -> 44
 * M msg/s, medians of interleaved `make bench` runs; the SPSC wipe is only
 * for speed, see wipes()).
 */
static void wipe(pshm_chan *ch, uint64_t pos, uint64_t span)
{
	unsigned char *r = ch->ring + (pos & ch->mask);
	if (ch->mode == PSHM_CHAN_SPSC) {
		uintptr_t end = ((uintptr_t)r + span) & ~(uintptr_t)63;
		if (end > (uintptr_t)r + 8)
			pshm__clear(r + 8, end - ((uintptr_t)r + 8));
		return;
	}
	pshm__clear(r + 8, span - 8);
	STORE((uint64_t *)r, 0);
}

/*
 * Does a released record of @span bytes get wiped? Always in MPSC (free
 * space must read as zeros, see the top of this file). In SPSC it is not
 * needed, but it pays when the producer will find the record's lines still
 * in the consumer's cache a lap later: lines the consumer has read and left
 * shared are slow for the producer to take back, lines it has written are
 * not. So small records are wiped (streaming 4 KiB messages ran three times
 * faster with the wipe, 64-byte ones up to twice), and so is every message
 * that pshm_chan_recv() copied out of a ring of up to WIPE_RING bytes, which
 * stays in the caches (64 and 256 KiB messages in a 1 MiB ring: 22-26 GB/s
 * wiped, 10-11 not): recv has just read all of its lines. Not so a message
 * released after a peek, whose reader may have touched few of its lines
 * (wiping would pull the others over for nothing, and releasing it should
 * cost the same at any size), nor padding, which nobody reads. In a larger
 * ring large records are left alone: their lines have left the consumer's
 * cache by the time they are reused (1 MiB messages in a 4 MiB ring:
 * 45 GB/s unwiped, 28 wiped).
 */
#define WIPE_MAX (64 * 1024)
#define WIPE_RING (2 * 1024 * 1024)
static inline bool wipes(const pshm_chan *ch, uint64_t pos, uint64_t span, bool copied)
{
	if (ch->mode == PSHM_CHAN_MPSC)
		return true;
	/* Nothing to clear before the record's last line boundary (a
	 * record within one line): no wipe, and no release intent. */
	uintptr_t r = (uintptr_t)(ch->ring + (pos & ch->mask));
	if (((r + span) & ~(uintptr_t)63) <= r + 8)
		return false;
	return span <= WIPE_MAX || (copied && ch->ring_size <= WIPE_RING);
}

/* Release the record at head, of @span bytes, and let producers reuse it.
 * @msg: a message (counted as received); @copied: one recv just read whole. */
static void cons_release(pshm_chan *ch, uint64_t span, bool msg, bool copied)
{
	struct chan_hdr *h = ch->h;
	uint64_t p = ch->head;
	bool w = wipes(ch, p, span, copied);
	if (w) {
		/* A consumer killed mid-wipe leaves this intent; the next one
		 * finishes the release instead of delivering a half-wiped record. */
		STORE(&h->rel_len, span);
		STORE_REL(&h->rel_pos, p);
		RELEASE_FENCE();
		wipe(ch, p, span);
	}
	ch->head = p + span;
	STORE_REL(&h->head, ch->head);
	if (w)
		STORE(&h->rel_pos, IDLE);
	if (msg)
		STORE(&h->received, ++ch->received);
	wake_producers(ch);
}

/*
 * Look at the record at head: 1 and its header in *wp if a message is
 * there, 0 if nothing is (yet), or -EBADMSG. PAD and DEAD records are
 * released on the way, at most a ring's worth per call.
 */
static int cons_poll(pshm_chan *ch, uint64_t *wp)
{
	for (uint64_t skips = 0; skips <= ch->ring_size / 8; skips++) {
		uint64_t p = ch->head;
		uint64_t w = LOAD_ACQ(hdr_at(ch, p));
		if (w == 0)
			return 0;
		uint64_t span;
		int r = rec_check(ch, p, w, &span);
		if (r < 0)
			return r;
		if (rec_type(w) == R_BUSY)
			return 0;
		if (rec_type(w) == R_MSG) {
			*wp = w;
			return 1;
		}
		cons_release(ch, span, false, false);
	}
	return 0;
}

static bool cons_ready(const pshm_chan *ch, uint64_t arg)
{
	(void)arg;
	uint64_t w = LOAD_ACQ(hdr_at(ch, ch->head));
	/* Also load the next cache line while spinning: a message of more
	 * than 56 bytes spans two lines, and when the producer writes them,
	 * both misses are then in flight at once instead of one after the
	 * other. The value is not used (and is read again after the acquire). */
	(void)LOAD(hdr_at(ch, (ch->head & ~(uint64_t)63) + 64));
	return w != 0 && rec_type(w) != R_BUSY;
}

/* Is @q (a position after the stuck one) known to start a record? Only
 * the true end of a dead claim passes this test; a shorter length lands in
 * the zeros of that claim, which nothing points at (see resolve_empty). */
static bool is_boundary(const pshm_chan *ch, uint64_t q, uint64_t tail)
{
	if (q == tail)
		return true;
	if (q > tail)
		return false;
	for (unsigned i = 1; i <= ch->nprod; i++)
		if (LOAD_ACQ(&slot_at(ch, i)->ipos) == q)
			return true;
	uint64_t w = LOAD_ACQ(hdr_at(ch, q)), span;
	return w != 0 && rec_check(ch, q, w, &span) == 0;
}

static int mark_dead(pshm_chan *ch, uint64_t expect, uint64_t span)
{
	uint64_t p = ch->head;
	uint64_t dead = rec_make(ch, R_DEAD, span, 0, p);
	return __atomic_compare_exchange_n(hdr_at(ch, p), &expect, dead, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE) ? 1 : 0;
}

/*
 * Head is claimed (tail > head) but no header is there: the claimer died
 * between its CAS on tail and its BUSY store, or has not got there yet.
 * Candidates are the producers whose intent starts at head. If one is alive
 * we wait. If all are dead, one of them won the CAS: a loser may have died
 * with its intent still pointing here. The winner's claim is all zeros, so
 * of the candidate lengths, the smallest that reaches a known record
 * boundary is the winner's.
 */
static int resolve_empty(pshm_chan *ch)
{
	uint64_t p = ch->head;
	uint64_t t = LOAD_ACQ(&ch->h->tail);
	if (t == p)
		return 0;
	if (t < p || t - p > ch->ring_size)
		return -EPROTO;
	uint64_t room = ch->ring_size - (p & ch->mask), best = 0;
	for (unsigned i = 1; i <= ch->nprod; i++) {
		struct chan_slot *s = slot_at(ch, i);
		if (LOAD_ACQ(&s->ipos) != p)
			continue;
		uint64_t len = LOAD(&s->ilen);
		if (LOAD_ACQ(&s->ipos) != p || slot_alive(ch, i))
			return 0;
		if (len < 8 || (len & 7) || len > room || (best && len >= best))
			continue;
		if (is_boundary(ch, p + len, t))
			best = len;
	}
	return best ? mark_dead(ch, 0, best) : 0;
}

/* MPSC slow path: turn an unfinished record whose owner is dead into DEAD.
 * 1 when something changed, 0 when not, or -EBADMSG/-EPROTO. */
static int resolve_head(pshm_chan *ch)
{
	uint64_t w = LOAD_ACQ(hdr_at(ch, ch->head)), span;
	if (w == 0)
		return resolve_empty(ch);
	if (rec_type(w) != R_BUSY)
		return 0;
	int r = rec_check(ch, ch->head, w, &span);
	if (r < 0)
		return r;
	return slot_alive(ch, rec_slot(w)) ? 0 : mark_dead(ch, w, span);
}

/*
 * The consumer's periodic check: resolve dead claims, then -EPIPE if the
 * ring is empty and every producer that came is gone. 1 on progress.
 */
static int cons_check(pshm_chan *ch)
{
	if (ch->mode == PSHM_CHAN_MPSC) {
		int r = resolve_head(ch);
		if (r)
			return r;
	}
	if (producers_alive(ch)) {
		ch->seen_peer = true;
		return 0;
	}
	if (!ch->seen_peer && !peer_came(ch))
		return 0;
	if (cons_ready(ch, 0))
		return 1;
	/* A claim at head that resolve_head() could not settle: a producer
	 * that attached since producers_alive() looked, or a corrupted table.
	 * Keep waiting (the caller's timeout bounds it). */
	if (ch->mode == PSHM_CHAN_MPSC && LOAD_ACQ(&ch->h->tail) != ch->head)
		return 0;
	return -EPIPE;
}

/* The next message's header into *wp, waiting as @timeout says. */
static int cons_next(pshm_chan *ch, int64_t timeout, uint64_t *wp)
{
	struct waiter wt = { .timeout = timeout };
	for (;;) {
		int r = cons_poll(ch, wp);
		if (r)
			return r < 0 ? r : 0;
		r = wait_step(ch, &wt, &ch->h->cons_wait, cons_ready, 0);
		if (r)
			return r;
	}
}

/* ---- producers --------------------------------------------------------- */

/*
 * Is there room up to position @end? Re-reads head only when the cached
 * value says no. -EAGAIN when full, -EPROTO when head is out of range.
 */
static int have_room(pshm_chan *ch, uint64_t end)
{
	if (end <= ch->head_seen + ch->ring_size)
		return 0;
	/* At any instant head <= tail <= head + ring_size. MPSC reads the
	 * shared tail before and after head, as others move both meanwhile. */
	uint64_t t1 = ch->mode == PSHM_CHAN_MPSC ? LOAD_ACQ(&ch->h->tail) : ch->tail;
	uint64_t h = LOAD_ACQ(&ch->h->head);
	uint64_t t2 = ch->mode == PSHM_CHAN_MPSC ? LOAD_ACQ(&ch->h->tail) : ch->tail;
	if (h > t2 || (t1 > h && t1 - h > ch->ring_size) || (h & 7))
		return -EPROTO;
	ch->head_seen = h;
	return end <= h + ch->ring_size ? 0 : -EAGAIN;
}

static bool room_ready(const pshm_chan *ch, uint64_t end)
{
	return end <= LOAD_ACQ(&ch->h->head) + ch->ring_size;
}

static void spsc_advance(pshm_chan *ch, uint64_t span)
{
	ch->tail += span;
	STORE(&ch->h->tail, ch->tail);
	wake_consumer(ch);
}

/* SPSC: publish the record @w of @span bytes at the write position. The
 * header slot after it is zeroed first (it was reserved with the record),
 * so the consumer finds 0 there, never a header of an earlier lap. */
static void spsc_publish(pshm_chan *ch, uint64_t w, uint64_t span)
{
	uint64_t t = ch->tail;
	STORE(hdr_at(ch, t + span), 0);
	STORE_REL(hdr_at(ch, t), w);
	spsc_advance(ch, span);
}

static int spsc_claim(pshm_chan *ch, uint64_t span, uint64_t *pos, uint64_t *need)
{
	for (int i = 0; i < 2; i++) {
		uint64_t t = ch->tail, off = t & ch->mask;
		bool pad = off + span > ch->ring_size;
		uint64_t len = pad ? ch->ring_size - off : span;
		*need = t + len + 8;
		int r = have_room(ch, *need);
		if (r < 0)
			return r;
		if (!pad) {
			*pos = t;
			return 0;
		}
		spsc_publish(ch, rec_make(ch, R_PAD, len, 0, t), len);
	}
	return -EPROTO;
}

static int mpsc_claim(pshm_chan *ch, uint64_t span, uint64_t *pos, uint64_t *need)
{
	struct chan_slot *me = slot_at(ch, ch->slot);
	uint64_t t = LOAD_ACQ(&ch->h->tail);
	for (unsigned tries = 0; tries < CLAIM_TRIES; tries++) {
		/* head_seen <= head <= tail for honest peers: a tail set back
		 * below what we saw of head would claim unread records. */
		if ((t & 7) || t < ch->head_seen) {
			STORE_REL(&me->ipos, IDLE);
			return -EPROTO;
		}
		uint64_t off = t & ch->mask;
		bool pad = off + span > ch->ring_size;
		uint64_t len = pad ? ch->ring_size - off : span;
		*need = t + len;
		int r = have_room(ch, *need);
		if (r < 0) {
			STORE_REL(&me->ipos, IDLE);
			return r;
		}
		/* The intent is visible before the claim (the CAS is a release). */
		STORE(&me->ilen, len);
		STORE_REL(&me->ipos, t);
		if (!__atomic_compare_exchange_n(&ch->h->tail, &t, t + len, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		if (pad) {
			STORE_REL(hdr_at(ch, t), rec_make(ch, R_PAD, len, 0, t));
			STORE_REL(&me->ipos, IDLE);
			wake_consumer(ch);
			t = LOAD_ACQ(&ch->h->tail);
			continue;
		}
		STORE(hdr_at(ch, t), rec_make(ch, R_BUSY, len, ch->slot, t));
		*pos = t;
		return 0;
	}
	STORE_REL(&me->ipos, IDLE);
	return -EAGAIN;
}

/* The producer's periodic check while the ring is full: -EPIPE if the
 * consumer it saw (or one that came since it attached) is gone. */
static int prod_check(pshm_chan *ch)
{
	if (slot_alive(ch, 0)) {
		ch->seen_peer = true;
		return 0;
	}
	if (ch->seen_peer || peer_came(ch))
		return -EPIPE;
	return 0;
}

/* Reserve @span bytes for a record: its position in *pos. */
static int prod_claim(pshm_chan *ch, uint64_t span, int64_t timeout, uint64_t *pos)
{
	struct waiter wt = { .timeout = timeout };
	for (;;) {
		uint64_t need = 0;
		int r = ch->mode == PSHM_CHAN_MPSC ? mpsc_claim(ch, span, pos, &need)
						   : spsc_claim(ch, span, pos, &need);
		if (r != -EAGAIN)
			return r;
		r = wait_step(ch, &wt, &ch->h->space_wait, room_ready, need);
		if (r)
			return r;
	}
}

static void prod_commit(pshm_chan *ch, uint64_t pos, uint64_t span, uint32_t len)
{
	uint64_t used = align8(8 + (uint64_t)len);
	if (ch->mode == PSHM_CHAN_SPSC) {
		/* pshm_chan_reserve() zeroed the header slot after the full
		 * reservation; a shortened message needs its own. */
		if (used < span)
			STORE(hdr_at(ch, pos + used), 0);
		STORE_REL(hdr_at(ch, pos), rec_make(ch, R_MSG, len, 0, pos));
		spsc_advance(ch, used);
		return;
	}
	/* MPSC: the claim's size is fixed; a shortened message leaves a PAD. */
	if (used < span)
		STORE(hdr_at(ch, pos + used), rec_make(ch, R_PAD, span - used, 0, pos + used));
	STORE_REL(hdr_at(ch, pos), rec_make(ch, R_MSG, len, 0, pos));
	STORE(&slot_at(ch, ch->slot)->ipos, IDLE);
	wake_consumer(ch);
}

/* ---- creating and attaching --------------------------------------------- */

static uint64_t ring_offset(unsigned nprod)
{
	uint64_t n = sizeof(struct chan_hdr) + (uint64_t)(nprod + 1) * sizeof(struct chan_slot);
	return (n + 4095) & ~(uint64_t)4095;
}

struct chan_geom {
	uint64_t ring_size, max_msg;
	unsigned mode, nprod;
};

static bool is_pow2(uint64_t n)
{
	return n && !(n & (n - 1));
}

static bool geom_ok(const struct chan_geom *g)
{
	if (!is_pow2(g->ring_size) || g->ring_size < RING_MIN || g->ring_size > RING_MAX)
		return false;
	/* The largest record and the header slot after it fit in the ring. */
	if (g->max_msg == 0 || align8(8 + g->max_msg) + 8 > g->ring_size)
		return false;
	if (g->mode == PSHM_CHAN_SPSC)
		return g->nprod == 1;
	return g->mode == PSHM_CHAN_MPSC && g->nprod >= 1 && g->nprod <= PROD_MAX;
}

static int chan_init(void *addr, size_t size, void *arg)
{
	const struct chan_geom *g = arg;
	struct chan_hdr *h = addr;
	uint64_t off = ring_offset(g->nprod);
	/* The file is fresh (zeros): only non-zero fields are written. */
	h->magic = PSHM_CHAN_MAGIC;
	h->version = CHAN_VERSION;
	h->ring_off = (uint32_t)off;
	h->total_size = size;
	h->ring_size = g->ring_size;
	h->max_msg = (uint32_t)g->max_msg;
	h->mode = g->mode;
	h->max_producers = g->nprod;
	h->rel_pos = IDLE;
	struct chan_slot *s = (struct chan_slot *)(h + 1);
	for (unsigned i = 0; i <= g->nprod; i++)
		s[i].ipos = IDLE;
	return 0;
}

static int hdr_read(const void *addr, size_t size, struct chan_geom *g, uint64_t *ring_off);

/* PSHM_OPEN_EXISTING found @name taken: accept it if it passes the open
 * policy and its header (read with pread, nothing mapped) is a channel's. */
static int check_existing(const char *name, unsigned flags)
{
	pshm_seg *seg;
	int r = pshm_seg_open(name, PSHM_RDONLY | PSHM_NOMAP |
				    (flags & (PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)), &seg);
	if (r < 0)
		return r;
	struct chan_hdr h;
	ssize_t n = pshm_seg_pread(seg, &h, sizeof(h), 0);
	struct chan_geom g;
	uint64_t off;
	r = n == (ssize_t)sizeof(h) ? hdr_read(&h, pshm_seg_size(seg), &g, &off)
				    : (n < 0 ? (int)n : -EPROTO);
	pshm_seg_close(seg);
	return r;
}

int pshm_chan_create(const char *name, const struct pshm_chan_config *cfg, mode_t mode,
		     unsigned flags)
{
	struct pshm_chan_config c = { 0 };
	if (cfg)
		c = *cfg;
	if ((mode & ~(mode_t)07777) ||
	    (flags & ~(unsigned)(PSHM_OPEN_EXISTING | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)))
		return -EINVAL;
	struct chan_geom g = {
		.ring_size = c.ring_size ? c.ring_size : RING_DEFAULT,
		.mode = c.mode,
		.nprod = c.mode == PSHM_CHAN_MPSC ? (c.max_producers ? c.max_producers : PROD_DEFAULT)
						  : (c.max_producers ? c.max_producers : 1),
	};
	g.max_msg = c.max_msg ? c.max_msg : g.ring_size / 4;
	if (!geom_ok(&g))
		return -EINVAL;
	int r = pshm_name_check(name);
	if (r < 0)
		return r;
	/* With PSHM_OPEN_EXISTING the name may vanish between the failed
	 * create and the check: try a few times, as pshm_seg_create() does. */
	for (int tries = 0; tries < 8; tries++) {
		pshm_seg *seg;
		r = pshm__seg_create_init(name, ring_offset(g.nprod) + g.ring_size, mode,
					  chan_init, &g, &seg);
		if (r == 0)
			pshm_seg_close(seg);
		if (r != -EEXIST || !(flags & PSHM_OPEN_EXISTING))
			break;
		r = check_existing(name, flags);
		if (r != -ENOENT)
			break;
	}
	return r;
}

/* Read the constants once, check them against each other and the size. */
static int hdr_read(const void *addr, size_t size, struct chan_geom *g, uint64_t *ring_off)
{
	if (!addr || size < sizeof(struct chan_hdr))
		return -EPROTO;
	const struct chan_hdr *h = addr;
	if (LOAD(&h->magic) != PSHM_CHAN_MAGIC || LOAD(&h->version) != CHAN_VERSION)
		return -EPROTO;
	g->ring_size = LOAD(&h->ring_size);
	g->max_msg = LOAD(&h->max_msg);
	g->mode = LOAD(&h->mode);
	g->nprod = LOAD(&h->max_producers);
	*ring_off = LOAD(&h->ring_off);
	uint64_t total = LOAD(&h->total_size);
	if (!geom_ok(g) || *ring_off != ring_offset(g->nprod) || total != size ||
	    total != *ring_off + g->ring_size)
		return -EPROTO;
	return 0;
}

static int chan_new(void *addr, size_t size, unsigned role, bool detached, pshm_chan **out)
{
	struct chan_geom g;
	uint64_t off;
	int r = hdr_read(addr, size, &g, &off);
	if (r < 0)
		return r;
	pshm_chan *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->h = addr;
	ch->slots = (struct chan_slot *)(ch->h + 1);
	ch->ring = (unsigned char *)addr + off;
	ch->ring_size = g.ring_size;
	ch->mask = g.ring_size - 1;
	ch->shift = (unsigned)__builtin_ctzll(g.ring_size);
	ch->max_msg = (uint32_t)g.max_msg;
	ch->mode = g.mode;
	ch->nprod = g.nprod;
	ch->role = role;
	ch->detached = detached;
	ch->slot = role == PSHM_CONSUMER ? 0 : 1;
	ch->wait = PSHM_WAIT_BLOCK;
	ch->spin_ns = PSHM_SPIN_DEFAULT_NS;
	ch->touched_sec = -1;
	*out = ch;
	return 0;
}

/*
 * SPSC: a producer that died between publishing a record and storing tail
 * left tail one record (and maybe a PAD) short; walk over what it
 * published so the next record does not overwrite a delivered one.
 */
static int spsc_recover(pshm_chan *ch)
{
	uint64_t t = LOAD_ACQ(&ch->h->tail);
	if (t & 7)
		return -EPROTO;
	for (int i = 0; i < 4; i++) {
		uint64_t w = LOAD_ACQ(hdr_at(ch, t)), span;
		if (w == 0 || rec_check(ch, t, w, &span) < 0 || rec_type(w) == R_BUSY ||
		    rec_type(w) == R_DEAD)
			break;
		t += span;
	}
	uint64_t h = LOAD_ACQ(&ch->h->head);
	if (h > t || t - h > ch->ring_size || (h & 7))
		return -EPROTO;
	ch->tail = t;
	ch->head_seen = h;
	STORE(&ch->h->tail, t);
	return 0;
}

/* Finish a release that a dead consumer started (see cons_release). */
static void finish_release(pshm_chan *ch)
{
	struct chan_hdr *h = ch->h;
	uint64_t rp = LOAD_ACQ(&h->rel_pos), rl = LOAD(&h->rel_len);
	uint64_t room = ch->ring_size - (ch->head & ch->mask);
	if (rp == ch->head && rl >= 8 && !(rl & 7) && rl <= room) {
		wipe(ch, rp, rl);
		ch->head = rp + rl;
		STORE_REL(&h->head, ch->head);
	}
	STORE(&h->rel_pos, IDLE);
}

static int cons_attach(pshm_chan *ch)
{
	uint64_t hd = LOAD_ACQ(&ch->h->head), t = LOAD_ACQ(&ch->h->tail);
	/* SPSC tail may trail by a record its dead producer did not count. */
	bool ok = ch->mode == PSHM_CHAN_MPSC ? hd <= t && t - hd <= ch->ring_size
					     : (hd <= t ? t - hd : hd - t) <= ch->ring_size;
	if (!ok || (hd & 7))
		return -EPROTO;
	ch->head = hd;
	ch->received = LOAD(&ch->h->received);
	finish_release(ch);
	return 0;
}

static int attach(pshm_chan *ch)
{
	struct chan_hdr *h = ch->h;
	bool consumer = ch->role == PSHM_CONSUMER;
	unsigned a, b;
	peer_range(ch, &a, &b);
	for (unsigned i = a; i <= b; i++)
		ch->owners0[i] = LOAD_ACQ(&slot_at(ch, i)->owner);
	if (!ch->detached) {
		ch->mb = pshm__membarrier_init();
		ch->self_fence = !ch->mb;
		if (!ch->mb)
			STORE_REL(&h->need_fence, 1);
		int r = claim_slot(ch, own_start());
		if (r < 0)
			return r;
		__atomic_fetch_add(consumer ? &h->cons_attaches : &h->prod_attaches, 1,
				   __ATOMIC_ACQ_REL);
	}
	int r = 0;
	if (consumer) {
		r = cons_attach(ch);
		ch->seen_peer = producers_alive(ch);
	} else {
		if (ch->mode == PSHM_CHAN_SPSC)
			r = spsc_recover(ch); /* the walk needs no peer table */
		else if (!ch->detached)
			STORE_REL(&slot_at(ch, ch->slot)->ipos, IDLE);
		ch->seen_peer = slot_alive(ch, 0);
	}
	if (r < 0 && !ch->detached)
		slot_free(ch);
	return r;
}

int pshm__chan_attach_mem(void *addr, size_t size, unsigned role, unsigned flags,
			  pshm_chan **out)
{
	if (!out || (role != PSHM_PRODUCER && role != PSHM_CONSUMER) || (flags & ~PSHM__CHAN_DETACHED))
		return -EINVAL;
	*out = NULL;
	pshm_chan *ch;
	int r = chan_new(addr, size, role, flags & PSHM__CHAN_DETACHED, &ch);
	if (r < 0)
		return r;
	r = attach(ch);
	if (r < 0) {
		free(ch);
		return r;
	}
	*out = ch;
	return 0;
}

int pshm_chan_open(const char *name, unsigned role, unsigned flags, pshm_chan **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if ((role != PSHM_PRODUCER && role != PSHM_CONSUMER) ||
	    (flags & ~(unsigned)(PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)))
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name, flags, &seg);
	if (r < 0)
		return r;
	void *addr = pshm_seg_addr(seg);
	size_t size = pshm_seg_size(seg);
	pshm_chan *ch = NULL;
	/* Guarded, since a peer may truncate the segment while we validate and
	 * join it. chan_new() touches the mapping only before it allocates the
	 * handle, and attach() frees nothing it allocates, so a jump out of
	 * either leaks nothing. (A slot claimed just before such a fault stays
	 * ours until we exit, when liveness checks free it.) */
	PSHM__GUARDED(r, addr, size, chan_new(addr, size, role, false, &ch));
	if (r == 0) {
		PSHM__GUARDED(r, addr, size, attach(ch));
		if (r < 0)
			free(ch);
	}
	if (r < 0) {
		pshm_seg_close(seg);
		return r;
	}
	/* Fault the whole ring in now, not one page per 4 KiB of messages on
	 * the fast path; only now that the header has proved the segment is a
	 * channel of this size, so opening a planted sparse file cannot fill
	 * /dev/shm (best effort: MADV_POPULATE_WRITE is Linux 5.14). */
	madvise(addr, size, MADV_POPULATE_WRITE);
	ch->seg = seg;
	*out = ch;
	return 0;
}

/* Give up our slot (and a producer's open reservation), wake the peers. */
static int chan_detach(pshm_chan *ch)
{
	{
		struct chan_slot *me = slot_at(ch, ch->slot);
		if (ch->resv && ch->mode == PSHM_CHAN_MPSC) {
			/* Drop the claim: the consumer skips a DEAD record. */
			STORE_REL(hdr_at(ch, ch->resv_pos),
				  rec_make(ch, R_DEAD, ch->resv_span, 0, ch->resv_pos));
			STORE(&me->ipos, IDLE);
		}
		slot_free(ch);
		/* Let a sleeping peer notice we are gone at its next check. */
		if (ch->role == PSHM_PRODUCER)
			wake_consumer(ch);
		else
			wake_producers(ch);
	}
	return 0;
}

void pshm_chan_close(pshm_chan *ch)
{
	if (!ch)
		return;
	if (!ch->detached) {
		int r;
		/* A truncated segment: nothing left to detach from. */
		CHAN_GUARDED(r, ch, chan_detach(ch));
		(void)r;
	}
	pshm_seg_close(ch->seg);
	free(ch);
}

size_t pshm_chan_max_msg(const pshm_chan *ch)
{
	return ch ? ch->max_msg : 0;
}

int pshm_chan_set_wait(pshm_chan *ch, unsigned wait, uint64_t spin_ns)
{
	if (!ch || (wait != PSHM_WAIT_BLOCK && wait != PSHM_WAIT_POLL))
		return -EINVAL;
	ch->wait = wait;
	ch->spin_ns = spin_ns;
	return 0;
}

/* ---- sending and receiving ---------------------------------------------- */

static int prod_begin(pshm_chan *ch, size_t len, int64_t timeout, uint64_t *pos, uint64_t *span)
{
	if (!ch || ch->role != PSHM_PRODUCER)
		return -EINVAL;
	if (ch->resv)
		return -EBUSY;
	if (len > ch->max_msg)
		return -EMSGSIZE;
	*span = align8(8 + (uint64_t)len);
	return prod_claim(ch, *span, timeout, pos);
}

/*
 * Copy (the part past the first line of) a message body into the ring.
 * From 8 KiB up to about the L2 size, glibc's memcpy() uses REP MOVSB, and
 * on AMD Zen 4 that string copy runs at 8-9 GB/s when the lines it writes
 * were last held by the other core (1 MiB messages, `make bench`); this
 * plain loop of 16-byte loads and stores runs at 44 GB/s there, and
 * non-temporal stores at 16 GB/s; from 8 KiB to 1 MiB the loop won in the
 * channel at every size tried (below 8 KiB memcpy() is as fast or faster).
 * Within one core's L1, memcpy() is the faster (8 KiB: 101 against 53 GB/s),
 * but a ring line being written has usually just left the other core's
 * cache. Measured on Zen 4 only. The consumer copies out with
 * pshm__copy_out(): its destination is its own buffer.
 */
#define COPY_LOOP_MIN (8 * 1024)
static inline void copy_in(unsigned char *dst, const unsigned char *src, size_t len)
{
	if (len <= 64) {
		pshm__copy_small(dst, src, len);
		return;
	}
#if defined(__x86_64__) && defined(__SSE2__)
	if (len >= COPY_LOOP_MIN) {
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
		return;
	}
#endif
	memcpy(dst, src, len);
}

static int chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns)
{
	if (!msg && len)
		return -EINVAL;
	uint64_t pos, span;
	int r = prod_begin(ch, len, timeout_ns, &pos, &span);
	if (r < 0)
		return r;
	unsigned char *rec = ch->ring + (pos & ch->mask);
	/* The record's first cache line, which the consumer polls, is written
	 * last and in one burst (header included, by prod_commit), so it moves
	 * to the consumer once, complete; the rest of the record, and in SPSC
	 * the next header slot, are written before it. */
	size_t first = 56 - ((uintptr_t)rec & 63);
	if (len > first)
		copy_in(rec + 8 + first, (const unsigned char *)msg + first, len - first);
	if (ch->mode == PSHM_CHAN_SPSC)
		STORE(hdr_at(ch, pos + span), 0);
	pshm__copy_small(rec + 8, msg, len < first ? len : first);
	prod_commit(ch, pos, span, (uint32_t)len);
	return 0;
}

static int chan_reserve(pshm_chan *ch, size_t len, void **ptr, int64_t timeout_ns)
{
	if (!ptr)
		return -EINVAL;
	uint64_t pos, span;
	int r = prod_begin(ch, len, timeout_ns, &pos, &span);
	if (r < 0)
		return r;
	ch->resv = true;
	ch->resv_pos = pos;
	ch->resv_span = span;
	ch->resv_len = (uint32_t)len;
	/* SPSC: zero the next header slot now, before the caller writes the
	 * record's first line, so that line is not written, stolen by the
	 * polling consumer, and written again at commit. */
	if (ch->mode == PSHM_CHAN_SPSC)
		STORE(hdr_at(ch, pos + span), 0);
	*ptr = ch->ring + (pos & ch->mask) + 8;
	return 0;
}

static int chan_commit(pshm_chan *ch, size_t len)
{
	if (!ch || ch->role != PSHM_PRODUCER || !ch->resv || len > ch->resv_len)
		return -EINVAL;
	ch->resv = false;
	prod_commit(ch, ch->resv_pos, ch->resv_span, (uint32_t)len);
	return 0;
}

static int cons_begin(pshm_chan *ch, int64_t timeout, uint64_t *wp)
{
	if (!ch || ch->role != PSHM_CONSUMER)
		return -EINVAL;
	if (ch->peeked) {
		*wp = ch->peek_w;
		return 0;
	}
	int r = cons_next(ch, timeout, wp);
	if (r == 0)
		ch->seen_peer = true;
	return r;
}

static ssize_t chan_recv(pshm_chan *ch, void *buf, size_t cap, int64_t timeout_ns)
{
	uint64_t w;
	int r = cons_begin(ch, timeout_ns, &w);
	if (r < 0)
		return r;
	uint32_t len = rec_len(w);
	if (len > cap)
		return -EMSGSIZE;
	if (!buf && len)
		return -EINVAL;
	pshm__copy_out(buf, ch->ring + (ch->head & ch->mask) + 8, len);
	ch->peeked = false;
	cons_release(ch, align8(8 + (uint64_t)len), true, true);
	return (ssize_t)len;
}

static ssize_t chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns)
{
	if (!ptr)
		return -EINVAL;
	uint64_t w;
	int r = cons_begin(ch, timeout_ns, &w);
	if (r < 0)
		return r;
	ch->peeked = true;
	ch->peek_w = w;
	*ptr = ch->ring + (ch->head & ch->mask) + 8;
	return (ssize_t)rec_len(w);
}

static int chan_release(pshm_chan *ch)
{
	if (!ch || ch->role != PSHM_CONSUMER || !ch->peeked)
		return -EINVAL;
	ch->peeked = false;
	cons_release(ch, align8(8 + (uint64_t)rec_len(ch->peek_w)), true, false);
	return 0;
}

/*
 * Traffic goes through the mapping, which does not change the file's mtime
 * on tmpfs, so a channel busy all day would look untouched since its
 * creation and `pshm gc` would take it for abandoned whenever no process
 * happens to be attached (between two `pshm send` runs, say). Each handle
 * sets the mtime at most once per second of CLOCK_MONOTONIC_COARSE: a
 * producer after a send or commit has published (the consumer is busy
 * with the message meanwhile), the consumer on entering recv or peek,
 * before it waits (a release always follows a peek), so that neither
 * check sits between a message's arrival and the reply to it. Reading that
 * clock is a load from the vDSO page (no system call, no TSC read).
 * Best effort: a failure changes nothing, errno included.
 */
static __attribute__((noinline)) void touch_slow(pshm_chan *ch, int64_t sec)
{
	ch->touched_sec = sec;
	int e = errno;
	futimens(pshm_seg_fd(ch->seg), NULL);
	errno = e;
}

static inline void touch(pshm_chan *ch)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (__builtin_expect(ts.tv_sec != ch->touched_sec, 0) && ch->seg)
		touch_slow(ch, ts.tv_sec);
}

/*
 * The public operations run under the SIGBUS guard over the whole mapping
 * (header, slots and ring): a peer that truncates the segment makes the
 * call fail with -EFAULT instead of killing the process, whichever load or
 * store meets the missing page. The handle is not usable after that (the
 * segment is gone); close it. The guard costs a sigsetjmp() per call, no
 * system call. Memory handed out by reserve() and peek() is the caller's to
 * touch, outside the guard: see pshm(7).
 */
int pshm_chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_send(ch, msg, len, timeout_ns));
	if (r >= 0)
		touch(ch);
	return r;
}

int pshm_chan_reserve(pshm_chan *ch, size_t len, void **ptr, int64_t timeout_ns)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_reserve(ch, len, ptr, timeout_ns));
	return r;
}

int pshm_chan_commit(pshm_chan *ch, size_t len)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_commit(ch, len));
	if (r >= 0)
		touch(ch);
	return r;
}

ssize_t pshm_chan_recv(pshm_chan *ch, void *buf, size_t cap, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	touch(ch);
	CHAN_GUARDED(r, ch, chan_recv(ch, buf, cap, timeout_ns));
	return r;
}

ssize_t pshm_chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns)
{
	ssize_t r;
	if (!ch)
		return -EINVAL;
	touch(ch);
	CHAN_GUARDED(r, ch, chan_peek(ch, ptr, timeout_ns));
	return r;
}

int pshm_chan_release(pshm_chan *ch)
{
	int r;
	if (!ch)
		return -EINVAL;
	CHAN_GUARDED(r, ch, chan_release(ch));
	return r;
}

/* ---- describing ------------------------------------------------------------ */

/*
 * pshm_chan_stat() may look at any segment (`pshm ls` runs it on whatever
 * /dev/shm holds), including a sparse file another user planted whose
 * header claims a huge ring full of records. It therefore never reads
 * through a mapping: reading a hole of a tmpfs file through a MAP_SHARED
 * mapping allocates a page, while pread() of a hole allocates nothing. The
 * walk below reads through a source, "copy N bytes at offset", which is
 * pread() for pshm_chan_stat() and a guarded copy out of memory for
 * pshm__chan_stat_mem() (the fuzzer), so both share every check.
 */
struct stat_src {
	/* Copy exactly @n bytes at @off into @buf: 0, or negative errno
	 * (-EPROTO when the source is shorter than @off + @n). */
	int (*read)(struct stat_src *src, void *buf, size_t n, uint64_t off);
	uint64_t size;
	const unsigned char *mem; /* the memory source */
	const pshm_seg *seg;      /* the file source... */
	uint64_t win_off;         /* ...and its window, a page of the file at most */
	size_t win_len;
	unsigned char win[4096];
};

static int mem_read(struct stat_src *src, void *buf, size_t n, uint64_t off)
{
	if (off > src->size || n > src->size - off)
		return -EPROTO;
	return pshm__guarded_copy(buf, src->mem + off, n);
}

static int pread_full(const pshm_seg *seg, void *buf, size_t n, uint64_t off)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = pshm_seg_pread(seg, (char *)buf + got, n - got, off + got);
		if (k < 0)
			return (int)k;
		if (k == 0)
			return -EPROTO; /* shorter than it said: truncated meanwhile */
		got += (size_t)k;
	}
	return 0;
}

/*
 * Small reads (record headers) are served from a window that runs from the
 * word asked for to the end of its page, so a ring of small records costs
 * one pread() per page, not one per record.
 */
static int file_read(struct stat_src *src, void *buf, size_t n, uint64_t off)
{
	if (off > src->size || n > src->size - off)
		return -EPROTO;
	if (n > sizeof(src->win))
		return pread_full(src->seg, buf, n, off);
	if (off < src->win_off || off + n > src->win_off + src->win_len) {
		uint64_t len = sizeof(src->win) - (off & (sizeof(src->win) - 1));
		if (len < n)
			len = n;
		if (len > src->size - off)
			len = src->size - off;
		src->win_len = 0;
		int r = pread_full(src->seg, src->win, (size_t)len, off);
		if (r < 0)
			return r;
		src->win_off = off;
		src->win_len = (size_t)len;
	}
	memcpy(buf, src->win + (off - src->win_off), n);
	return 0;
}

/*
 * Count the messages between head and tail, walking the records: at most
 * PSHM_CHAN_STAT_MAX_RECORDS of them, so that a ring of millions of tiny
 * records (or a forged one) costs a bounded time; *capped says the walk
 * stopped there with records left, and the count is then a lower bound.
 */
static uint64_t count_pending(const pshm_chan *ch, struct stat_src *src, uint64_t ring_off,
			      uint64_t head, uint64_t tail, unsigned *capped)
{
	uint64_t n = 0, p = head;
	*capped = 0;
	for (uint64_t i = 0; p - head < ch->ring_size; i++) {
		if (ch->mode == PSHM_CHAN_MPSC && p >= tail)
			break;
		uint64_t w, span;
		if (src->read(src, &w, sizeof(w), ring_off + (p & ch->mask)) < 0 || w == 0 ||
		    rec_check(ch, p, w, &span) < 0)
			break;
		if (i == PSHM_CHAN_STAT_MAX_RECORDS) {
			*capped = 1; /* a valid record past the limit */
			break;
		}
		n += rec_type(w) == R_MSG;
		p += span;
	}
	return n;
}

static void peer_info(const struct chan_slot *s, unsigned role, bool liveness,
		      struct pshm_chan_info *info)
{
	uint64_t o = s->owner;
	if (!owner_state(o) || info->n_peers >= sizeof(info->peers) / sizeof(info->peers[0]))
		return;
	struct pshm_chan_peer *p = &info->peers[info->n_peers++];
	p->pid = (pid_t)(uint32_t)o;
	p->role = role;
	p->alive = liveness && owner_alive(o, s->start);
}

/* Fill @info from the snapshot @snap (header and slots) of @src. */
static int stat_snapshot(void *snap, struct stat_src *src, bool liveness,
			 struct pshm_chan_info *info)
{
	pshm_chan *ch;
	int r = chan_new(snap, src->size > SIZE_MAX ? SIZE_MAX : (size_t)src->size, PSHM_CONSUMER,
			 true, &ch);
	if (r < 0)
		return r;
	const struct chan_hdr *h = snap;
	uint64_t hd = h->head, t = h->tail;
	memset(info, 0, sizeof(*info));
	info->mode = ch->mode;
	info->ring_size = ch->ring_size;
	info->max_msg = ch->max_msg;
	info->max_producers = ch->nprod;
	info->used = t > hd ? (t - hd < ch->ring_size ? t - hd : ch->ring_size) : 0;
	info->pending = (hd & 7) ? 0
				 : count_pending(ch, src, h->ring_off, hd, t, &info->pending_capped);
	info->received = h->received;
	info->sent = info->received + info->pending;
	for (unsigned i = 0; i <= ch->nprod; i++)
		peer_info(&ch->slots[i], i ? PSHM_PRODUCER : PSHM_CONSUMER, liveness, info);
	free(ch);
	return 0;
}

static int stat_src(struct stat_src *src, bool liveness, struct pshm_chan_info *info)
{
	/* The header and slot table of the largest layout, or the segment. */
	uint64_t n = ring_offset(PROD_MAX);
	if (n > src->size)
		n = src->size;
	if (n < sizeof(struct chan_hdr))
		return -EPROTO;
	void *snap = malloc((size_t)n);
	if (!snap)
		return -ENOMEM;
	int r = src->read(src, snap, (size_t)n, 0);
	if (r == 0)
		r = stat_snapshot(snap, src, liveness, info);
	free(snap);
	return r;
}

int pshm__chan_stat_mem(const void *addr, size_t size, bool liveness,
			struct pshm_chan_info *info)
{
	if (!info)
		return -EINVAL;
	if (!addr)
		return -EPROTO;
	struct stat_src *src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	src->read = mem_read;
	src->size = size;
	src->mem = addr;
	int r = stat_src(src, liveness, info);
	free(src);
	return r;
}

int pshm_chan_stat(const char *name, struct pshm_chan_info *info)
{
	if (!info)
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name,
			      PSHM_RDONLY | PSHM_NOMAP | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE,
			      &seg);
	if (r < 0)
		return r;
	struct stat_src *src = calloc(1, sizeof(*src));
	if (!src) {
		pshm_seg_close(seg);
		return -ENOMEM;
	}
	src->read = file_read;
	src->size = pshm_seg_size(seg);
	src->seg = seg;
	r = stat_src(src, true, info);
	free(src);
	pshm_seg_close(seg);
	return r;
}
