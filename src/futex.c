/* SPDX-License-Identifier: MIT */
/*
 * futex.c — the few system calls a waiting channel side makes: futex
 * wait/wake on a word of a shared segment, and the asymmetric memory barrier
 * that lets the side that never sleeps skip its fence.
 *
 * The futexes are shared (no FUTEX_PRIVATE_FLAG): the word lives in a
 * segment that other processes map at other addresses, so the kernel must
 * key it by the underlying page, not by (mm, address).
 */
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int pshm__futex_wait(uint32_t *word, uint32_t val, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000);
		ts.tv_nsec = (long)(timeout_ns % 1000000000);
		tp = &ts;
	}
	/* FUTEX_WAIT compares *word with val atomically with going to sleep:
	 * a wake that changed the word before we got here returns EAGAIN. */
	if (syscall(SYS_futex, word, FUTEX_WAIT, val, tp, NULL, 0) == 0)
		return 0;
	return -errno;
}

int pshm__futex_wake(uint32_t *word, int n)
{
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? -errno : (int)r;
}

/*
 * Asymmetric barrier (the scheme of liburcu's sys_membarrier flavour).
 * A sleeper stores "I sleep" and must then see any message a waker stored
 * before loading that flag; a waker stores the message and loads the flag.
 * That is Dekker's pattern and needs a full barrier on both sides. To keep
 * the per-message side (the waker) free of fences, the sleeper, which is
 * about to make a system call anyway, runs membarrier(GLOBAL_EXPEDITED):
 * every thread of every registered process executes a full barrier, which
 * stands in for the wakers' fences. Every process that opens a channel
 * registers; a process that cannot (old kernel, seccomp) fences instead.
 */
static pthread_once_t mb_once = PTHREAD_ONCE_INIT;
static bool mb_ok;

static void mb_init(void)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) ||
	    !(q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
		return;
	mb_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

bool pshm__membarrier_init(void)
{
	pthread_once(&mb_once, mb_init);
	return mb_ok;
}

bool pshm__membarrier(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}
