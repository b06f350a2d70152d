/* SPDX-License-Identifier: MIT */
/*
 * box_writer.c — who writes a box: each handle that writes takes a writer
 * id whose liveness lock (live.c) it holds while it lives; the odd
 * sequence word of a write in progress names that id and the thread, so a
 * reader or another writer can tell a writer at work from a dead one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box.h"

/*
 * This thread's id, which every write stores in the sequence word. gettid()
 * is a system call each time (glibc does not cache it), as costly as the
 * rest of a small write, so it is kept per thread; a fork() child, whose
 * one thread has a new id, forgets the parent's.
 */
static __thread uint32_t tid_cache;
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

/* fork() children seen in this process's line: a handle opened before the
 * last fork shares its file description, and so its locks, with the
 * parent (see pshm__box_claim_writer()). */
unsigned pshm__box_forks;

static void tid_forget(void)
{
	tid_cache = 0;
	__atomic_fetch_add(&pshm__box_forks, 1, __ATOMIC_RELAXED);
}

static void tid_init(void)
{
	pthread_atfork(NULL, NULL, tid_forget);
}

static uint32_t self_tid(void)
{
	if (__builtin_expect(!tid_cache, 0)) {
		pthread_once(&tid_once, tid_init);
		tid_cache = (uint32_t)gettid();
	}
	return tid_cache;
}

uint32_t pshm__box_writer_of(uint32_t wid)
{
	return wid << WID_SHIFT | (self_tid() & TID_MASK);
}

/* Is the writer named by @field (asked through @fd, the box's file, -1 for
 * none; @wid is our own writer id, 0 if none) still running? Its id's
 * liveness lock says (live.c). A field naming this thread is stale: we are
 * not writing now. One naming our own id and another thread is either a
 * thread of this process writing through our handle, or a writer that
 * held the id before us and died mid-write (ids are taken again once
 * their lock is free): the thread id tells them apart, a thread of this
 * process or not. Asked only while the word is odd. */
bool pshm__box_writer_alive(int fd, uint32_t wid, uint32_t field)
{
	uint32_t id = field >> WID_SHIFT;
	if (id == 0 || field == pshm__box_writer_of(wid))
		return false;
	if (id == wid) {
		int e = errno;
		bool ours = syscall(SYS_tgkill, getpid(), (pid_t)(field & TID_MASK), 0) == 0 ||
			    errno != ESRCH; /* a query that fails declares no one dead */
		errno = e;
		return ours;
	}
	return fd >= 0 && pshm__live_byte(fd, PSHM__LOCK_ROLE(id));
}

unsigned pshm__box_fork_gen(void)
{
	pthread_once(&tid_once, tid_init);
	return __atomic_load_n(&pshm__box_forks, __ATOMIC_RELAXED);
}

/* The descriptor whose file description holds our writer lock, and
 * through which liveness is asked. */
int pshm__box_lock_fd(const pshm_box *box)
{
	int fd = __atomic_load_n(&box->wfd, __ATOMIC_ACQUIRE);
	return fd >= 0 ? fd : pshm_seg_fd(box->seg);
}

/*
 * Take a writer id for @box: the first id whose liveness lock is free.
 * Once per handle, under its mutex (threads of one handle share one open
 * file description, for which the lock of an id it holds is no obstacle).
 * In a fork() child, the handle's file description is the parent's: the
 * child then takes its id through a description of its own, so that its
 * death frees it.
 */
int pshm__box_claim_writer(pshm_box *box)
{
	pthread_mutex_lock(&box->wid_lock);
	int r = 0;
	if (box->gen != pshm__box_fork_gen()) {
		char path[40];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", pshm_seg_fd(box->seg));
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			goto out;
		}
		if (box->wfd >= 0)
			close(box->wfd); /* the parent's, shared */
		__atomic_store_n(&box->wfd, fd, __ATOMIC_RELEASE);
		box->gen = pshm__box_fork_gen();
		__atomic_store_n(&box->wid, 0, __ATOMIC_RELEASE);
	}
	if (!box->wid) {
		int fd = pshm__box_lock_fd(box);
		r = -EUSERS;
		for (uint32_t id = 1; id <= WID_MAX; id++) {
			int t = pshm__lock_take(fd, PSHM__LOCK_ROLE(id), true);
			if (t == -EAGAIN)
				continue;
			if (t == 0)
				__atomic_store_n(&box->wid, id, __ATOMIC_RELEASE);
			r = t;
			break;
		}
	}
out:
	pthread_mutex_unlock(&box->wid_lock);
	return r;
}

int pshm__box_writer_field(pshm_box *box, uint32_t *field)
{
	int r = box->wid && box->gen == pshm__box_fork_gen() ? 0 : pshm__box_claim_writer(box);
	if (r == 0)
		*field = pshm__box_writer_of(box->wid);
	return r;
}
