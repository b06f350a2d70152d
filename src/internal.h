/* SPDX-License-Identifier: MIT */
/*
 * internal.h — private to libpshm. Nothing here is exported (see libpshm.map).
 * The SIGBUS guard has its own header (guard.h), channels theirs (chan.h).
 */
#ifndef PSHM_INTERNAL_H
#define PSHM_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pshm.h"

/* ---- errors and descriptors --------------------------------------------- */

/* Convert a libc result to pshm's convention right after the call. */
static inline int pshm__err(int r)
{
	return r < 0 ? -errno : r;
}

/* close() that keeps the caller's errno, for clean-up paths. */
static inline void pshm__close_keep_errno(int fd)
{
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
}

/* ---- names (name.c) ----------------------------------------------------- */

#define PSHM_DIR "/dev/shm"

/* The name without its leading '/', for openat() relative to /dev/shm.
 * @name must already be checked. */
const char *pshm__leaf(const char *name);

/* ---- segments (seg.c, stat.c) ------------------------------------------- */

struct pshm_seg {
	void *addr;           /* NULL when not mapped */
	size_t size;          /* mapping size */
	int fd;               /* -1 for anonymous */
	bool writable;
	bool nomap;           /* opened with PSHM_NOMAP: never mapped, even by resize */
	char name[PSHM_NAME_MAX + 2]; /* canonical "/x"; "" when anonymous */
};

/* An fd on /dev/shm itself (O_PATH | O_DIRECTORY), or -errno. */
int pshm__dirfd(void);

/* Check @name, open /dev/shm and lstat the entry (never following it) into
 * *st. Returns the directory's fd, which the caller closes, or -errno with
 * nothing left open. The entry is pshm__leaf(name) relative to that fd. */
int pshm__lookup(const char *name, struct stat *st);

/* Open the existing entry @name with @oflags (O_RDONLY or O_RDWR), refusing
 * anything that is not a regular file with -ENOTSUP (a FIFO or device is
 * never opened). Returns the fd and fills *st, or -errno. */
int pshm__open_regular(const char *name, int oflags, struct stat *st);

/* The one way a segment handle is made: over @fd (which it then owns; -1:
 * anonymous memory), of @size bytes, mapped shared (read-write if
 * @writable) unless !@map or @size is 0; @name (may be NULL) is recorded
 * canonical. 0 or -errno, and then @fd is still the caller's. */
int pshm__seg_new(int fd, const char *name, size_t size, bool writable, bool map,
		  pshm_seg **out);

/* Callback that initialises a new segment before it becomes visible. */
typedef int (*pshm__init_fn)(void *addr, size_t size, void *arg);

/*
 * Create a segment whose content is complete before anyone can open it by
 * name: it is made as an unnamed tmpfs file (O_TMPFILE), reserved, mapped,
 * filled by @init (may be NULL: zeros), then linked under @name, which
 * fails with -EEXIST if the name was taken meanwhile (-ENOTSUP if what
 * took it is not a regular file). Returns 0 and the mapped segment in *out.
 */
int pshm__seg_create_init(const char *name, size_t size, mode_t mode,
			  pshm__init_fn init, void *arg, pshm_seg **out);

/* A header check: 0 if @hdr, the first bytes of a file of @file_size
 * bytes, is a header of the kind asked for, else -EPROTO. */
typedef int (*pshm__hdr_fn)(const void *hdr, size_t file_size);

/*
 * What pshm_chan_create() and its kin share once their arguments are
 * checked: check @mode, @flags (PSHM_OPEN_EXISTING, PSHM_ALLOW_FOREIGN,
 * PSHM_ALLOW_SHARED_WRITE) and @name, then create @name as
 * pshm__seg_create_init() does. When the name is taken and @flags has
 * PSHM_OPEN_EXISTING, succeed if what is there passes the open policy and
 * @check accepts its first @hdr_len bytes (at most 4096, read with pread,
 * nothing mapped). The name may vanish between the failed create and the
 * check: then try again, a few times. 0 or -errno.
 */
int pshm__create_kind(const char *name, size_t size, mode_t mode, unsigned flags,
		      pshm__init_fn init, void *arg, size_t hdr_len, pshm__hdr_fn check);

/* Read [@off, @off + @n) of @seg with pread(2), all of it: 0, -EPROTO when
 * the file ends first (truncated meanwhile), or -errno. */
int pshm__seg_pread_full(const pshm_seg *seg, void *buf, size_t n, uint64_t off);

/* Does the file @fd hold data (no hole) over [0, @len)? 0, -ENODATA when
 * it is sparse there (reading a hole of a tmpfs file through a shared
 * mapping would allocate it), or -errno. Judged from st_blocks. */
int pshm__seg_backed(int fd, uint64_t len);

/* Check an open fd against the owner/mode policy and that it is regular
 * (policy.c). */
int pshm__seg_policy(const struct stat *st, unsigned flags);

/* Remove @leaf (relative to the /dev/shm fd @dfd, never followed) only if
 * it is still the regular file @was (st_dev, st_ino) and, with @unchanged,
 * of the same size and mtime. 0, -ESTALE (nothing removed), or the -errno
 * of the lookup or of unlinkat() (remove.c). */
int pshm__unlink_same(int dfd, const char *leaf, const struct stat *was, bool unchanged);

/* Recognise the kind of a segment from its first bytes (read with pread). */
unsigned pshm__kind_of_fd(int fd);

/* Magic numbers of pshm formats (first 8 bytes of the segment, little end). */
#define PSHM_BOX_MAGIC  UINT64_C(0x31584f424d485350)  /* "PSHMBOX1" */
#define PSHM_CHAN_MAGIC UINT64_C(0x314e414843485350)  /* "PSHCHAN1" */
#define PSHM_TOPIC_MAGIC UINT64_C(0x3143504f54485350) /* "PSHTOPC1" */
#define PSHM_SERVICE_MAGIC UINT64_C(0x3143565253485350) /* "PSHSRVC1" */

/* ---- I/O ---------------------------------------------------------------- */

/* pwrite() all @len bytes of @buf at @off, again after EINTR and short
 * writes: 0, or -errno (-ENOSPC for a write of nothing) with the bytes
 * written before the failure in *@done (may be NULL). */
int pshm__pwrite_all(int fd, const void *buf, size_t len, uint64_t off, size_t *done);

/* ---- boxes (box.c, crc32c.c) -------------------------------------------- */

/* CRC-32C of @len bytes at @data, continuing from @crc (0 to start).
 * pshm__crc32c() uses SSE4.2 when the CPU has it; _sw is the portable one. */
uint32_t pshm__crc32c(uint32_t crc, const void *data, size_t len);
uint32_t pshm__crc32c_sw(uint32_t crc, const void *data, size_t len);

/* Box layout (box.c has the full description). */
#define PSHM_BOX_VERSION 1u
#define PSHM_BOX_HDR 64u

/* Validate the header of a box at @addr (8-byte aligned) of @size bytes:
 * 0 and its capacity in *cap, or -EPROTO. Never reads outside [addr, size). */
int pshm__box_check(const void *addr, size_t size, uint64_t *cap);

/* Read the value of the box at @addr of @size bytes into @buf of @bufcap
 * bytes, as pshm_box_read() does, waiting at most @wait_ns (0: no wait) for
 * a writer. Not guarded: the caller guards against truncation. */
ssize_t pshm__box_read_mem(const void *addr, size_t size, void *buf, size_t bufcap,
			   int64_t wait_ns);

/* Write a value into the box at @addr as pshm_box_write() does. */
int pshm__box_write_mem(void *addr, size_t size, const void *data, size_t len,
			int64_t wait_ns);

/* The writer field (high 32 bits of the odd sequence word) that a write
 * by this thread through @box stores, its writer id claimed first: lets a
 * test stage a writer stuck mid-write. 0 or -errno. */
int pshm__box_writer_field(pshm_box *box, uint32_t *field);

/* Fill a box header for @cap payload bytes into @addr (an empty value). */
void pshm__box_format(void *addr, uint64_t cap);

/* ---- channels (chan*.c; the private layout is in chan.h) ---------------- */

/* Attach to a channel laid out at [addr, addr + size) without a segment:
 * validates the header like pshm_chan_open(). With PSHM__CHAN_DETACHED the
 * peer table is neither claimed nor consulted (every peer counts as gone),
 * so the fuzzer can drive the read path over an arbitrary buffer.
 * pshm_chan_close() frees the handle and leaves the memory alone. */
#define PSHM__CHAN_DETACHED 1u
int pshm__chan_attach_mem(void *addr, size_t size, unsigned role, unsigned flags,
			  pshm_chan **out);
/* pshm_chan_stat() over [addr, addr + size). Memory has no liveness
 * locks: every peer is reported dead. */
int pshm__chan_stat_mem(const void *addr, size_t size, struct pshm_chan_info *info);

/* ---- futex and membarrier (futex.c) ------------------------------------- */

/* FUTEX_WAIT on a word of a shared segment (no FUTEX_PRIVATE_FLAG) for at
 * most @timeout_ns (negative: no limit). 0 when woken, -EAGAIN when *word
 * was not @val, -ETIMEDOUT, -EINTR. */
int pshm__futex_wait(uint32_t *word, uint32_t val, int64_t timeout_ns);
/* FUTEX_WAKE up to @n waiters. Returns how many were woken or -errno. */
int pshm__futex_wake(uint32_t *word, int n);
/* Register this process for membarrier(GLOBAL_EXPEDITED), once. Returns
 * whether the asymmetric barrier is usable here. */
bool pshm__membarrier_init(void);
/* A full barrier in every running thread of every registered process
 * (after pshm__membarrier_init() said yes); false if the system call
 * failed, and then no barrier was made: the caller fences itself. */
bool pshm__membarrier(void);

/* ---- liveness (live.c) -------------------------------------------------- */

/* Liveness locks: OFD byte-range locks on a segment's file at
 * PSHM__LOCK_BASE + byte, far past any data (live.c has the design). Byte
 * PSHM__LOCK_PRESENCE is held shared by every handle on a named segment;
 * byte 1 + k exclusively by the holder of role k (channel slot k, box
 * writer id k). */
#define PSHM__LOCK_BASE (UINT64_C(1) << 62)
#define PSHM__LOCK_PRESENCE UINT64_C(0)
#define PSHM__LOCK_ROLE(k) (UINT64_C(1) + (uint64_t)(k))

/* Take the lock on @byte through the open file description of @fd, shared
 * or @excl: 0, -EAGAIN when another description holds a conflicting lock,
 * or -errno (-EINVAL, -ENOLCK: the filesystem refuses such locks). */
int pshm__lock_take(int fd, uint64_t byte, bool excl);
/* Release it (errno kept). */
void pshm__lock_drop(int fd, uint64_t byte);
/* Does another open file description (of any process) hold a lock on
 * @byte? 1, 0, or -errno if the question could not be asked. */
int pshm__lock_held(int fd, uint64_t byte);
/* pshm__lock_held() as a liveness answer: a failed query counts as held,
 * so nobody is ever declared dead because a lock call failed. */
bool pshm__live_byte(int fd, uint64_t byte);

/* ---- time and cpu ------------------------------------------------------- */

/* Spin-wait hint: the pause instruction (yield on arm64). */
static inline void pshm__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t pshm__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- speed choices (tune.c) ---- */
/* Measure (once per process) or read from the environment the choices of
 * pshm_chan_tuning(); called by every channel, topic and service attach. */
void pshm__tune_init(void);
/* The default spin of a PSHM_WAIT_BLOCK handle, once pshm__tune_init() ran. */
uint64_t pshm__tune_spin_ns(void);
/* @spin_ns as given to a set_wait call: PSHM_SPIN_AUTO is the process's. */
static inline uint64_t pshm__spin_or_auto(uint64_t spin_ns)
{
	if (spin_ns != PSHM_SPIN_AUTO)
		return spin_ns;
	pshm__tune_init();
	return pshm__tune_spin_ns();
}

#endif
