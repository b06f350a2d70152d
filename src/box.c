/* SPDX-License-Identifier: MIT */
/*
 * box.c — boxes: one checked value in a segment.
 *
 * Layout (host byte order, which is little-endian on every target pshm
 * supports; 64-byte header, then the payload):
 *
 *    0  u64 magic     PSHM_BOX_MAGIC ("PSHMBOX1")
 *    8  u32 version   PSHM_BOX_VERSION
 *   12  u32 hdr_size  PSHM_BOX_HDR (64)
 *   16  u64 capacity  payload bytes
 *   24  u64 total     hdr_size + capacity (the segment may be larger, never smaller)
 *   32  u64 seq       the seqlock word (below)
 *   40  u64 length    bytes of the value
 *   48  u32 crc       CRC-32C of payload[0, length) || le64 length || le64 seq
 *   52  u32 reserved  0
 *   56  u64 reserved  0
 *   64  payload[capacity]
 *
 * The seqlock word is also the writer lock. At rest it holds an even
 * counter c (low 32 bits; high 32 bits zero). A writer takes the box by
 * compare-and-swap from c to (id << 54 | tid << 32 | c + 1): odd, and
 * naming the writer. The id (1..WID_MAX) is the handle's writer id: before
 * its first write, a handle takes the exclusive liveness lock of a free id
 * (live.c: byte PSHM__LOCK_ROLE(id) of the file) and holds it until it is
 * closed; tid (22 bits) is the writing thread, for display only. The
 * writer then stores the payload, length and CRC, and releases with a
 * store of c + 2. So:
 *  - writers serialise on the CAS, threads and processes alike;
 *  - a reader that sees the word odd knows who writes; if nobody holds
 *    that id's lock any more (the writer exited, even if not reaped, in
 *    any PID namespace), the write will never finish and the reader
 *    returns -EAGAIN at once instead of waiting;
 *  - a writer that finds the word odd and its owner dead takes it over by
 *    CAS (keeping the odd counter), writes a whole new value and releases:
 *    that repairs the box. Two writers racing to take over are serialised
 *    by the same CAS. Threads writing through one handle share its id: for
 *    them, the word names a live writer unless it names the asking thread.
 *    An id of 0 holds no lock (a write through pshm__box_write_mem()): its
 *    writer counts as dead.
 * The CRC covers the final sequence word too, so any change of the header
 * outside a write (seq included) fails the check, and so does a value
 * whose bytes were changed without the CRC being recomputed.
 *
 * Memory ordering (Boehm, "Can seqlocks get along with programming language
 * memory models?", 2012): the writer stores every payload word, the length
 * and the CRC with release stores after taking the lock; the reader loads
 * them with acquire loads between its two loads of the sequence word. If
 * any load observes a store of a newer write, it synchronises with it, so
 * the second load of the sequence word sees at least that write's odd
 * value and the reader retries. No standalone fences: ThreadSanitizer
 * understands this pattern, and on x86 these are plain moves. The payload
 * is copied in 8-byte atomic words, so there is no data race to report.
 *
 * Everything read from the segment is untrusted: each field is loaded once
 * into a local, checked, then used; every access to a mapping runs under
 * pshm__guarded_call() so a truncation is -EFAULT, never SIGBUS.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "box.h"
#include "guard.h"

enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 8,
	OFF_HDR_SIZE = 12,
	OFF_CAPACITY = 16,
	OFF_TOTAL = 24,
	OFF_SEQ = 32,
	OFF_LENGTH = 40,
	OFF_CRC = 48,
	OFF_RSV1 = 52,
	OFF_RSV2 = 56,
};

#define READ_WAIT_NS (200 * 1000 * 1000LL)
#define WRITE_WAIT_NS (2000 * 1000 * 1000LL)

/* At most one mtime update a second per handle (see touch()). */
#define TOUCH_EVERY_NS (1000 * 1000 * 1000LL)

/* struct pshm_box is in box.h. */

/* ---- field access: every shared load is one atomic load into a local --- */

static uint64_t *u64_at(const void *base, size_t off)
{
	return (uint64_t *)((uintptr_t)base + off);
}

static uint32_t *u32_at(const void *base, size_t off)
{
	return (uint32_t *)((uintptr_t)base + off);
}

static uint64_t ld64(const void *base, size_t off)
{
	return __atomic_load_n(u64_at(base, off), __ATOMIC_RELAXED);
}

static uint32_t ld32(const void *base, size_t off)
{
	return __atomic_load_n(u32_at(base, off), __ATOMIC_RELAXED);
}

static uint64_t acq64(const void *base, size_t off)
{
	return __atomic_load_n(u64_at(base, off), __ATOMIC_ACQUIRE);
}

static uint32_t acq32(const void *base, size_t off)
{
	return __atomic_load_n(u32_at(base, off), __ATOMIC_ACQUIRE);
}

static void rel64(void *base, size_t off, uint64_t v)
{
	__atomic_store_n(u64_at(base, off), v, __ATOMIC_RELEASE);
}

static void rel32(void *base, size_t off, uint32_t v)
{
	__atomic_store_n(u32_at(base, off), v, __ATOMIC_RELEASE);
}

/* ---- checksum ---------------------------------------------------------- */

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Extend the CRC of a payload with its length and sequence word. */
static uint32_t crc_finish(uint32_t crc, uint64_t len, uint64_t seq)
{
	unsigned char tail[16];
	put_le64(tail, len);
	put_le64(tail + 8, seq);
	return pshm__crc32c(crc, tail, sizeof(tail));
}

/* ---- header ------------------------------------------------------------ */

void pshm__box_format(void *addr, uint64_t cap)
{
	*u64_at(addr, OFF_MAGIC) = PSHM_BOX_MAGIC;
	*u32_at(addr, OFF_VERSION) = PSHM_BOX_VERSION;
	*u32_at(addr, OFF_HDR_SIZE) = PSHM_BOX_HDR;
	*u64_at(addr, OFF_CAPACITY) = cap;
	*u64_at(addr, OFF_TOTAL) = PSHM_BOX_HDR + cap;
	*u64_at(addr, OFF_SEQ) = 0;
	*u64_at(addr, OFF_LENGTH) = 0;
	*u32_at(addr, OFF_CRC) = crc_finish(0, 0, 0);
	*u32_at(addr, OFF_RSV1) = 0;
	*u64_at(addr, OFF_RSV2) = 0;
}

int pshm__box_check(const void *addr, size_t size, uint64_t *cap)
{
	if (!addr || ((uintptr_t)addr & 7) || size < PSHM_BOX_HDR)
		return -EPROTO;
	uint64_t magic = ld64(addr, OFF_MAGIC);
	uint32_t version = ld32(addr, OFF_VERSION);
	uint32_t hdr = ld32(addr, OFF_HDR_SIZE);
	uint64_t c = ld64(addr, OFF_CAPACITY);
	uint64_t total = ld64(addr, OFF_TOTAL);
	uint32_t rsv1 = ld32(addr, OFF_RSV1);
	uint64_t rsv2 = ld64(addr, OFF_RSV2);
	if (magic != PSHM_BOX_MAGIC || version != PSHM_BOX_VERSION || hdr != PSHM_BOX_HDR)
		return -EPROTO;
	if (c == 0 || c > PSHM_BOX_MAX_CAPACITY || c > size - PSHM_BOX_HDR)
		return -EPROTO;
	if (total != PSHM_BOX_HDR + c || rsv1 || rsv2)
		return -EPROTO;
	*cap = c;
	return 0;
}

/* ---- waiting ------------------------------------------------------------ */

/* A wait that spins, then yields, then sleeps (10 us doubling to 1 ms),
 * until a deadline. */
struct backoff {
	unsigned round;
	int64_t deadline; /* 0 until the first slow round */
	int64_t wait_ns;
};

/* One more round of waiting; false when the wait is over. */
static bool backoff(struct backoff *b)
{
	unsigned r = b->round++;
	if (r < 64) {
		pshm__cpu_relax();
		return true;
	}
	int64_t t = pshm__now_ns();
	if (!b->deadline)
		b->deadline = t + b->wait_ns;
	if (t >= b->deadline)
		return false;
	if (r < 128) {
		sched_yield();
		return true;
	}
	unsigned shift = r - 128 < 7 ? r - 128 : 7;
	struct timespec ts = { 0, 10000L << shift };
	nanosleep(&ts, NULL);
	return true;
}

/* ---- reading ------------------------------------------------------------- */

/* Copy @len payload bytes with acquire loads (8-byte words, then bytes). */
static void load_payload(unsigned char *dst, const unsigned char *src, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = __atomic_load_n((const uint64_t *)(const void *)(src + i), __ATOMIC_ACQUIRE);
		memcpy(dst + i, &w, 8);
	}
	for (; i < len; i++)
		dst[i] = __atomic_load_n(src + i, __ATOMIC_ACQUIRE);
}

static void store_payload(unsigned char *dst, const unsigned char *src, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, src + i, 8);
		__atomic_store_n((uint64_t *)(void *)(dst + i), w, __ATOMIC_RELEASE);
	}
	for (; i < len; i++)
		__atomic_store_n(dst + i, src[i], __ATOMIC_RELEASE);
}

/* What a read needs and what it learns; also the guarded call's argument. */
struct read_op {
	const unsigned char *base;
	size_t size;
	uint64_t expect_cap; /* 0: take the header's */
	unsigned char *buf;
	size_t bufcap;
	int64_t wait_ns;
	ssize_t result;
	size_t copied;       /* bytes of buf that may hold unverified data */
	int fd;              /* the box's file, for liveness locks; -1: none */
	uint32_t wid;        /* our writer id, 0 if none */
	struct pshm_box_info info;
};

/* One attempt on an even sequence word @s1. Returns 1 to retry, else the
 * final result in op->result. */
static int read_once(struct read_op *op, uint64_t cap, uint64_t s1)
{
	uint64_t len = acq64(op->base, OFF_LENGTH);
	uint32_t crc = acq32(op->base, OFF_CRC);
	op->info.length = len;
	if (len > cap || len > op->bufcap) {
		/* A torn header is possible only if a write overlapped. */
		if (ld64(op->base, OFF_SEQ) != s1)
			return 1;
		op->result = len > cap ? -EPROTO : -EMSGSIZE;
		return 0;
	}
	if ((size_t)len > op->copied) /* an earlier attempt may have copied more */
		op->copied = (size_t)len;
	load_payload(op->buf, op->base + PSHM_BOX_HDR, (size_t)len);
	/* The acquire loads above keep this load after them. */
	if (ld64(op->base, OFF_SEQ) != s1)
		return 1;
	uint32_t got = crc_finish(pshm__crc32c(0, op->buf, (size_t)len), len, s1);
	op->result = got == crc ? (ssize_t)len : -EBADMSG;
	return 0;
}

static ssize_t read_value(struct read_op *op)
{
	uint64_t cap;
	struct backoff b = { .wait_ns = op->wait_ns };
	for (;;) {
		int r = pshm__box_check(op->base, op->size, &cap);
		if (r == 0 && op->expect_cap && cap != op->expect_cap)
			r = -EPROTO;
		if (r < 0)
			return r;
		op->info.capacity = cap;
		uint64_t s1 = acq64(op->base, OFF_SEQ);
		op->info.seq = (uint32_t)s1;
		op->info.writer = 0;
		if (s1 & 1) {
			uint32_t field = (uint32_t)(s1 >> 32);
			op->info.writer = (pid_t)(field & TID_MASK);
			op->info.writer_alive = pshm__box_writer_alive(op->fd, op->wid, field);
			/* A dead writer never finishes: say so now. */
			if (!op->info.writer_alive || !backoff(&b))
				return -EAGAIN;
			continue;
		}
		if (read_once(op, cap, s1) == 0)
			return op->result;
		if (!backoff(&b))
			return -EAGAIN;
	}
}

/* The result of a read, with no unverified byte left in the caller's
 * buffer: all that was copied on failure, and on success what an earlier,
 * abandoned attempt copied past the value's end. */
static ssize_t read_finish(struct read_op *op)
{
	size_t keep = op->result < 0 ? 0 : (size_t)op->result;
	if (op->copied > keep)
		memset(op->buf + keep, 0, op->copied - keep);
	return op->result;
}

ssize_t pshm__box_read_mem(const void *addr, size_t size, void *buf, size_t bufcap,
			   int64_t wait_ns)
{
	struct read_op op = { .base = addr, .size = size, .buf = buf, .bufcap = bufcap,
			      .wait_ns = wait_ns, .fd = -1 };
	op.result = read_value(&op);
	return read_finish(&op);
}

/* ---- writing -------------------------------------------------------------- */

struct write_op {
	unsigned char *base;
	size_t size;
	uint64_t expect_cap;
	const unsigned char *data;
	size_t len;
	uint32_t crc; /* of the payload alone, computed before taking the lock */
	int64_t wait_ns;
	int fd;       /* the box's file, for liveness locks; -1: none */
	uint32_t wid; /* our writer id; 0: a write that holds no lock */
};

/* Take the writer lock: returns the counter (even) the write starts from,
 * or a negative error. */
static int64_t lock_box(struct write_op *op)
{
	uint64_t me = (uint64_t)pshm__box_writer_of(op->wid) << 32;
	struct backoff b = { .wait_ns = op->wait_ns };
	for (;;) {
		uint64_t s = acq64(op->base, OFF_SEQ);
		uint32_t c = (uint32_t)s;
		bool take = !(s & 1) || !pshm__box_writer_alive(op->fd, op->wid, (uint32_t)(s >> 32));
		/* Odd and stale: keep the odd counter, become its owner. */
		uint64_t want = me | (s & 1 ? c : c + 1u);
		if (take && __atomic_compare_exchange_n(u64_at(op->base, OFF_SEQ), &s, want, false,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return (int64_t)(s & 1 ? c - 1u : c);
		if (!backoff(&b))
			return -EAGAIN;
	}
}

static int write_value(struct write_op *op)
{
	uint64_t cap;
	int r = pshm__box_check(op->base, op->size, &cap);
	if (r == 0 && op->expect_cap && cap != op->expect_cap)
		r = -EPROTO;
	if (r < 0)
		return r;
	if (op->len > cap)
		return -EMSGSIZE;
	int64_t c = lock_box(op);
	if (c < 0)
		return (int)c;
	uint64_t done = (uint32_t)((uint32_t)c + 2u);
	store_payload(op->base + PSHM_BOX_HDR, op->data, op->len);
	rel64(op->base, OFF_LENGTH, op->len);
	rel32(op->base, OFF_CRC, crc_finish(op->crc, op->len, done));
	/* Release: a reader that sees the new even word sees all of the above. */
	rel64(op->base, OFF_SEQ, done);
	return 0;
}

int pshm__box_write_mem(void *addr, size_t size, const void *data, size_t len,
			int64_t wait_ns)
{
	if (!data && len)
		return -EINVAL;
	struct write_op op = { .base = addr, .size = size, .data = data, .len = len,
			       .crc = pshm__crc32c(0, data, len), .wait_ns = wait_ns, .fd = -1 };
	return write_value(&op);
}

/* ---- handles --------------------------------------------------------------- */

static int guarded_read(void *arg)
{
	struct read_op *op = arg;
	op->result = read_value(op);
	return 0;
}

static int guarded_write(void *arg)
{
	return write_value(arg);
}

struct check_op {
	const void *base;
	size_t size;
	uint64_t cap;
};

static int guarded_check(void *arg)
{
	struct check_op *op = arg;
	return pshm__box_check(op->base, op->size, &op->cap);
}

/* Fill @box, allocated by the caller before anything can fail, with the
 * open segment @seg. */
static void box_fill(pshm_box *box, pshm_seg *seg, uint64_t cap, bool writable, pshm_box **out)
{
	box->seg = seg;
	box->gen = pshm__box_fork_gen();
	box->wfd = -1;
	pthread_mutex_init(&box->wid_lock, NULL);
	box->base = pshm_seg_addr(seg);
	box->size = pshm_seg_size(seg);
	box->capacity = cap;
	box->writable = writable;
	*out = box;
}

static const unsigned OPEN_FLAGS =
	PSHM_RDONLY | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE | PSHM_BOX_UNCHECKED;

/*
 * Before anything reads the box through its mapping: its header, read with
 * pread(), must be a box's, and the file must hold data (no hole) over the
 * header and capacity it claims. Reading a hole of a tmpfs file through a
 * shared mapping allocates it: a planted sparse box claiming a huge value
 * would fill /dev/shm. 0, -EPROTO, -ENODATA (sparse), or -errno.
 */
static int check_backed(pshm_seg *seg, struct check_op *ck)
{
	uint64_t hdr[PSHM_BOX_HDR / 8];
	ssize_t n = pshm_seg_pread(seg, hdr, sizeof(hdr), 0);
	if (n < 0)
		return (int)n;
	uint64_t cap;
	if (n < (ssize_t)sizeof(hdr) || pshm__box_check(hdr, ck->size, &cap) < 0)
		return -EPROTO;
	return pshm__seg_backed(pshm_seg_fd(seg), PSHM_BOX_HDR + cap);
}

int pshm_box_open(const char *name, unsigned flags, pshm_box **out)
{
	if (!out || (flags & ~OPEN_FLAGS))
		return -EINVAL;
	*out = NULL;
	pshm_box *box = calloc(1, sizeof(*box));
	if (!box)
		return -ENOMEM;
	pshm_seg *seg;
	int r = pshm_seg_open(name, flags & (PSHM_RDONLY | PSHM_ALLOW_FOREIGN |
					     PSHM_ALLOW_SHARED_WRITE), &seg);
	if (r < 0) {
		free(box);
		return r;
	}
	struct check_op ck = { pshm_seg_addr(seg), pshm_seg_size(seg), 0 };
	r = ck.base ? check_backed(seg, &ck) : -EPROTO;
	if (r == 0)
		r = pshm__guarded_call(ck.base, ck.size, guarded_check, &ck);
	if (r == -EPROTO && (flags & PSHM_BOX_UNCHECKED)) {
		ck.cap = 0;
		r = 0;
	}
	if (r < 0) {
		pshm_seg_close(seg);
		free(box);
		return r;
	}
	box_fill(box, seg, ck.cap, !(flags & PSHM_RDONLY), out);
	return 0;
}

static int format_cb(void *addr, size_t size, void *arg)
{
	(void)size;
	pshm__box_format(addr, *(const uint64_t *)arg);
	return 0;
}

static const unsigned CREATE_FLAGS =
	PSHM_OPEN_EXISTING | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE;

int pshm_box_create(const char *name, size_t capacity, mode_t mode, unsigned flags,
		    pshm_box **out)
{
	if (!out || capacity == 0 || (flags & ~CREATE_FLAGS))
		return -EINVAL;
	*out = NULL;
	if ((uint64_t)capacity > PSHM_BOX_MAX_CAPACITY || capacity > SIZE_MAX - PSHM_BOX_HDR)
		return -EFBIG;
	uint64_t cap = capacity;
	/* The handle first: a failure after the name appears would leave it. */
	pshm_box *box = calloc(1, sizeof(*box));
	if (!box)
		return -ENOMEM;
	pshm_seg *seg;
	int r = pshm__seg_create_init(name, PSHM_BOX_HDR + capacity, mode, format_cb, &cap, &seg);
	if (r < 0) {
		free(box);
		if (r == -EEXIST && (flags & PSHM_OPEN_EXISTING))
			return pshm_box_open(name, flags & ~PSHM_OPEN_EXISTING, out);
		return r;
	}
	box_fill(box, seg, cap, true, out);
	return 0;
}

void pshm_box_close(pshm_box *box)
{
	if (!box)
		return;
	pshm_seg_close(box->seg); /* drops the writer id's lock */
	if (box->wfd >= 0)
		close(box->wfd);
	pthread_mutex_destroy(&box->wid_lock);
	free(box);
}

size_t pshm_box_capacity(const pshm_box *box)
{
	return box ? (size_t)box->capacity : 0;
}

/*
 * Stores through a mapping do not change the file's mtime on tmpfs, so a
 * box written all day would look untouched since its creation (and `pshm gc`
 * would take it for abandoned). Set it after a write, at most once a second
 * per handle: a system call on every write would cost more than the write.
 * Best effort: a failure changes nothing else, errno included.
 */
static void touch(pshm_box *box)
{
	int64_t now = pshm__now_ns();
	int64_t last = __atomic_load_n(&box->touched_ns, __ATOMIC_RELAXED);
	if (last && now - last < TOUCH_EVERY_NS)
		return;
	/* One thread of those writing through this handle does it. */
	if (!__atomic_compare_exchange_n(&box->touched_ns, &last, now, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	int e = errno;
	futimens(pshm_seg_fd(box->seg), NULL);
	errno = e;
}

int pshm_box_write(pshm_box *box, const void *data, size_t len)
{
	if (!box || (!data && len))
		return -EINVAL;
	if (!box->writable)
		return -EBADF;
	if (!box->capacity)
		return -EPROTO;
	if (len > box->capacity)
		return -EMSGSIZE;
	uint32_t wid = __atomic_load_n(&box->wid, __ATOMIC_ACQUIRE);
	if (__builtin_expect(!wid || box->gen != __atomic_load_n(&pshm__box_forks, __ATOMIC_RELAXED), 0)) {
		int e = pshm__box_claim_writer(box);
		if (e < 0)
			return e;
		wid = box->wid;
	}
	struct write_op op = { .base = box->base, .size = box->size, .expect_cap = box->capacity,
			       .data = data, .len = len, .crc = pshm__crc32c(0, data, len),
			       .wait_ns = WRITE_WAIT_NS, .fd = pshm__box_lock_fd(box), .wid = wid };
	int r = pshm__guarded_call(box->base, box->size, guarded_write, &op);
	if (r == 0)
		touch(box);
	return r;
}

/* Run a read on @box under the guard; zero what it copied unverified. */
static ssize_t box_read(pshm_box *box, struct read_op *op)
{
	op->fd = pshm__box_lock_fd(box);
	op->wid = __atomic_load_n(&box->wid, __ATOMIC_ACQUIRE);
	op->base = box->base;
	op->size = box->size;
	op->expect_cap = box->capacity;
	op->wait_ns = READ_WAIT_NS;
	if (!box->capacity)
		return -EPROTO;
	int r = pshm__guarded_call(box->base, box->size, guarded_read, op);
	if (r < 0) {
		/* The jump out of the copy may have overtaken the store of
		 * op->copied: clear all that a copy could have reached. */
		op->result = r;
		op->copied = op->bufcap < box->capacity ? op->bufcap : (size_t)box->capacity;
	}
	return read_finish(op);
}

ssize_t pshm_box_read(pshm_box *box, void *buf, size_t cap)
{
	if (!box || (!buf && cap))
		return -EINVAL;
	struct read_op op = { .buf = buf, .bufcap = cap };
	return box_read(box, &op);
}

struct raw_op {
	const unsigned char *base;
	size_t size;
	uint64_t cap;
	void *buf;
	size_t bufcap;
	size_t len;
};

static int guarded_raw(void *arg)
{
	struct raw_op *op = arg;
	uint64_t len = ld64(op->base, OFF_LENGTH);
	uint64_t room = op->size - PSHM_BOX_HDR;
	if (op->cap && op->cap < room)
		room = op->cap;
	if (len > room)
		len = room;
	op->len = len < op->bufcap ? (size_t)len : op->bufcap;
	memcpy(op->buf, op->base + PSHM_BOX_HDR, op->len);
	return 0;
}

ssize_t pshm_box_read_unverified(pshm_box *box, void *buf, size_t cap)
{
	if (!box || (!buf && cap))
		return -EINVAL;
	if (!box->base || box->size < PSHM_BOX_HDR)
		return -EPROTO;
	struct raw_op op = { box->base, box->size, box->capacity, buf, cap, 0 };
	int r = pshm__guarded_call(box->base, box->size, guarded_raw, &op);
	return r < 0 ? r : (ssize_t)op.len;
}

int pshm_box_verify(pshm_box *box, struct pshm_box_info *info)
{
	if (!box)
		return -EINVAL;
	struct read_op op = { 0 };
	ssize_t r;
	if (!box->capacity) {
		r = -EPROTO;
	} else if (!(op.buf = malloc((size_t)box->capacity))) {
		r = -ENOMEM;
	} else {
		op.bufcap = (size_t)box->capacity;
		r = box_read(box, &op);
		free(op.buf);
	}
	if (info)
		*info = op.info;
	return r < 0 ? (int)r : 0;
}

/* Describe a box from its header @hdr (read from a file of @size bytes). */
static int stat_header(const uint64_t *hdr, uint64_t size, int fd, struct pshm_box_info *info)
{
	uint64_t cap;
	int r = pshm__box_check(hdr, size > SIZE_MAX ? SIZE_MAX : (size_t)size, &cap);
	if (r < 0)
		return r;
	uint64_t seq = ld64(hdr, OFF_SEQ), len = ld64(hdr, OFF_LENGTH);
	info->capacity = cap;
	info->length = len;
	info->seq = (uint32_t)seq;
	if (seq & 1) {
		uint32_t field = (uint32_t)(seq >> 32);
		info->writer = (pid_t)(field & TID_MASK);
		info->writer_alive = pshm__box_writer_alive(fd, 0, field);
		return 0;
	}
	return len > cap ? -EPROTO : 0;
}

int pshm_box_stat(const char *name, struct pshm_box_info *info)
{
	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	struct stat st;
	int fd = pshm__open_regular(name, O_RDONLY, &st);
	if (fd < 0)
		return fd;
	/* pread(), not a mapping: reading a hole of tmpfs through a mapping
	 * allocates it, and a hostile header may claim any capacity. */
	uint64_t hdr[PSHM_BOX_HDR / 8];
	ssize_t n;
	do
		n = pread(fd, hdr, sizeof(hdr), 0);
	while (n < 0 && errno == EINTR);
	int r = n < 0 ? -errno : n < (ssize_t)sizeof(hdr) ? -EPROTO
			       : stat_header(hdr, (uint64_t)st.st_size, fd, info);
	close(fd);
	if (r < 0)
		memset(info, 0, sizeof(*info));
	return r;
}
