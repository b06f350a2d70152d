/*
 * internal.h — private to libpshm. Nothing here is exported (see libpshm.map).
 */
#ifndef PSHM_INTERNAL_H
#define PSHM_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "pshm.h"

#define PSHM_DIR "/dev/shm"

/* Convert a libc result to pshm's convention right after the call. */
static inline int pshm__err(int r)
{
	return r < 0 ? -errno : r;
}

struct pshm_seg {
	void *addr;           /* NULL when not mapped */
	size_t size;          /* mapping size */
	int fd;               /* -1 for anonymous */
	bool writable;
	char name[PSHM_NAME_MAX + 2]; /* canonical "/x"; "" when anonymous */
};

/* The name without its leading '/', for openat() relative to /dev/shm.
 * @name must already be checked. */
const char *pshm__leaf(const char *name);

/* An fd on /dev/shm itself (O_PATH | O_DIRECTORY), or -errno. */
int pshm__dirfd(void);

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

/* Check an open fd against the owner/mode policy and that it is regular. */
int pshm__seg_policy(const struct stat *st, unsigned flags);

/* memcpy() that returns -EFAULT instead of dying of SIGBUS (guard.c).
 * Use it for every copy out of a mapping another process may truncate. */
int pshm__guarded_copy(void *dst, const void *src, size_t len);

/* Recognise the kind of a segment from its first bytes (read with pread). */
unsigned pshm__kind_of_fd(int fd);

/* Magic numbers of pshm formats (first 8 bytes of the segment, little end). */
#define PSHM_BOX_MAGIC  UINT64_C(0x31584f424d485350)  /* "PSHMBOX1" */
#define PSHM_CHAN_MAGIC UINT64_C(0x314e414843485350)  /* "PSHCHAN1" */

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
/* A full barrier in every running thread of every registered process (or a
 * local fence when membarrier is unusable). */
void pshm__membarrier(void);

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

#endif
