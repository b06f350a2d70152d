/*
 * internal.h — private to libpshm. Nothing here is exported (see libpshm.map).
 */
#ifndef PSHM_INTERNAL_H
#define PSHM_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pshm.h"

#define PSHM_DIR "/dev/shm"

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

struct pshm_seg {
	void *addr;           /* NULL when not mapped */
	size_t size;          /* mapping size */
	int fd;               /* -1 for anonymous */
	bool writable;
	bool nomap;           /* opened with PSHM_NOMAP: never mapped, even by resize */
	char name[PSHM_NAME_MAX + 2]; /* canonical "/x"; "" when anonymous */
};

/* The name without its leading '/', for openat() relative to /dev/shm.
 * @name must already be checked. */
const char *pshm__leaf(const char *name);

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

/* Callback that initialises a new segment before it becomes visible. */
typedef int (*pshm__init_fn)(void *addr, size_t size, void *arg);

/*
 * Create a segment whose content is complete before anyone can open it by
 * name: it is made as an unnamed tmpfs file (O_TMPFILE), reserved, mapped,
 * filled by @init, then linked under @name, which fails with -EEXIST if the
 * name was taken meanwhile. Returns 0 and the mapped segment in *out.
 */
int pshm__seg_create_init(const char *name, size_t size, mode_t mode,
			  pshm__init_fn init, void *arg, pshm_seg **out);

/* Check an open fd against the owner/mode policy and that it is regular
 * (policy.c). */
int pshm__seg_policy(const struct stat *st, unsigned flags);

/* Remove @leaf (relative to the /dev/shm fd @dfd, never followed) only if
 * it is still the regular file @was (st_dev, st_ino) and, with @unchanged,
 * of the same size and mtime. 0, -ESTALE (nothing removed), or the -errno
 * of the lookup or of unlinkat() (remove.c). */
int pshm__unlink_same(int dfd, const char *leaf, const struct stat *was, bool unchanged);

/* memcpy() that returns -EFAULT instead of dying of SIGBUS (guard.c).
 * Use it for every copy out of a mapping another process may truncate. */
int pshm__guarded_copy(void *dst, const void *src, size_t len);

/* Recognise the kind of a segment from its first bytes (read with pread). */
unsigned pshm__kind_of_fd(int fd);

/* Magic numbers of pshm formats (first 8 bytes of the segment, little end). */
#define PSHM_BOX_MAGIC  UINT64_C(0x31584f424d485350)  /* "PSHMBOX1" */
#define PSHM_CHAN_MAGIC UINT64_C(0x314e414843485350)  /* "PSHCHAN1" */

/* ------------------------------------------------------------------------
 * Boxes and sealed snapshots (box.c, crc32c.c, sealed.c; guard.c's
 * pshm__guarded_call)
 * ------------------------------------------------------------------------ */

#include <stdint.h>
#include <time.h>

/* CRC-32C of @len bytes at @data, continuing from @crc (0 to start).
 * pshm__crc32c() uses SSE4.2 when the CPU has it; _sw is the portable one. */
uint32_t pshm__crc32c(uint32_t crc, const void *data, size_t len);
uint32_t pshm__crc32c_sw(uint32_t crc, const void *data, size_t len);

/*
 * The SIGBUS guard (guard.c). PSHM__GUARDED(ret, lo, len, expr) evaluates
 * @expr into @ret; a SIGBUS at an address in [lo, lo + len) while it runs
 * (another process truncated the segment) abandons @expr and sets @ret to
 * -EFAULT instead. @expr must not allocate, lock or otherwise hold anything
 * that a jump out of it would leak or leave half-done in private memory.
 * Guards nest: an inner one restores the outer one when it ends.
 */
#include <setjmp.h>
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
#define PSHM__HIDDEN __attribute__((visibility("hidden")))
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

/* The same as a function call: fn(arg) under the guard. */
int pshm__guarded_call(const void *lo, size_t len, int (*fn)(void *), void *arg);

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

/* Fill a box header for @cap payload bytes into @addr (an empty value). */
void pshm__box_format(void *addr, uint64_t cap);

/* ---- channels (chan.c, futex.c) ---- */
#include <stdint.h>

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

/* Attach to a channel laid out at [addr, addr + size) without a segment:
 * validates the header like pshm_chan_open(). With PSHM__CHAN_DETACHED the
 * peer table is neither claimed nor consulted (every peer counts as gone),
 * so the fuzzer can drive the read path over an arbitrary buffer.
 * pshm_chan_close() frees the handle and leaves the memory alone. */
#define PSHM__CHAN_DETACHED 1u
int pshm__chan_attach_mem(void *addr, size_t size, unsigned role, unsigned flags,
			  pshm_chan **out);
/* pshm_chan_stat() over [addr, addr + size); with @liveness false, every
 * peer is reported dead rather than looked up in /proc. */
int pshm__chan_stat_mem(const void *addr, size_t size, bool liveness,
			struct pshm_chan_info *info);

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

#endif
