/* SPDX-License-Identifier: MIT */
/*
 * live.c — the one place that decides whether a peer is alive.
 *
 * Liveness is a kernel-held OFD byte-range lock (fcntl F_OFD_SETLK) on the
 * segment's file, at offsets far past any data (PSHM__LOCK_BASE = 2^62), so
 * no lock ever covers the contents:
 *
 *   PSHM__LOCK_BASE          presence: every handle on a named segment
 *                            holds a shared lock on it for its lifetime;
 *   PSHM__LOCK_BASE + 1 + k  role k: a channel's slot k (0 the consumer,
 *                            1.. the producers), a box writer's id k; held
 *                            exclusively by the one who has it.
 *
 * Each handle opens its own file description (O_CLOEXEC), which owns its
 * locks. The kernel drops them when that description's last descriptor
 * closes: at exit, before the process is reaped, whatever its PID
 * namespace. So a lock held is a peer alive, with no PID involved: PID
 * namespaces, PID reuse and zombies do not fool it, and nothing is asked of
 * the kernel on the fast path (only at attach, while waiting, in stat).
 *
 * A lock query that fails never declares anyone dead: it answers "held".
 * PIDs are still recorded where they were (channel slots, box sequence
 * words), for display only.
 */
#include <fcntl.h>
#include <string.h>

#include "shared.h"

static int lock_op(int fd, int cmd, short type, uint64_t byte, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)(PSHM__LOCK_BASE + byte);
	fl->l_len = 1;
	int r;
	do
		r = fcntl(fd, cmd, fl);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int pshm__lock_take(int fd, uint64_t byte, bool excl)
{
	if (fd < 0)
		return -EBADF;
	struct flock fl;
	int r = lock_op(fd, F_OFD_SETLK, excl ? F_WRLCK : F_RDLCK, byte, &fl);
	return r == -EACCES ? -EAGAIN : r;
}

void pshm__lock_drop(int fd, uint64_t byte)
{
	struct flock fl;
	int e = errno;
	if (fd >= 0)
		(void)lock_op(fd, F_OFD_SETLK, F_UNLCK, byte, &fl);
	errno = e;
}

int pshm__lock_held(int fd, uint64_t byte)
{
	if (fd < 0)
		return -EBADF;
	struct flock fl;
	int e = errno;
	int r = lock_op(fd, F_OFD_GETLK, F_WRLCK, byte, &fl);
	errno = e;
	return r < 0 ? r : fl.l_type != F_UNLCK;
}

bool pshm__live_byte(int fd, uint64_t byte)
{
	return pshm__lock_held(fd, byte) != 0;
}

int pshm_seg_held(const char *name)
{
	struct stat st;
	int fd = pshm__open_regular(name, O_RDONLY, &st);
	if (fd < 0)
		return fd;
	int r = pshm__lock_held(fd, PSHM__LOCK_PRESENCE);
	close(fd);
	return r;
}

int pshm__slot_lock(int lock_fd, const uint64_t *o, uint64_t byte, bool free_only)
{
	if (free_only && owner_state(LOAD_ACQ(o)))
		return 0;
	int r = pshm__lock_take(lock_fd, byte, true);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return r;
	/* Ours: whoever had it is gone. A free slot must still be free. */
	if (free_only && owner_state(LOAD_ACQ(o))) {
		pshm__lock_drop(lock_fd, byte);
		return 0;
	}
	return 1;
}
