/* SPDX-License-Identifier: MIT */
/*
 * guard.c — copies out of a mapping that survive a concurrent truncation.
 *
 * When another process shrinks a segment, touching the pages past its new
 * end raises SIGBUS. Like libwayland's guarded client pools, pshm installs a
 * SIGBUS handler once; it recognises a fault inside a guarded copy of the
 * faulting thread and jumps back to the copy's caller, which returns
 * -EFAULT. Any other SIGBUS goes to the handler installed before ours.
 *
 * libwayland's handler maps anonymous zero pages over the faulting range
 * and lets the copy finish; that changes the mapping for every thread and
 * needs the pool's bounds. Jumping out is local to the thread doing the
 * copy, needs nothing but the copy's own range, and memcpy() holds no lock
 * and no state that a jump out of it could leave inconsistent.
 *
 * Channels, which enter their guard on every operation, use zones instead
 * (guard.h): no jump buffer per call; on a fault the handler puts zero
 * pages over the channel's mapping and lets the operation finish on them.
 *
 * Under AddressSanitizer the handler still works: ASan lets a program
 * install its own SIGBUS handler (allow_user_segv_handler, on by default)
 * and ours chains to ASan's for faults that are not ours.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "guard.h"
#include "internal.h"

__thread struct pshm__guard *pshm__guard_top __attribute__((tls_model("initial-exec")));
__thread struct pshm__zone *pshm__zone_top __attribute__((tls_model("initial-exec")));
int pshm__guard_installed;

static struct sigaction prev_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* A fault in the current zone: zero pages over it (see guard.h). mmap is
 * a plain system call here, made through syscall() so that no sanitizer's
 * interceptor runs inside the handler. */
static bool zone_fault(const char *a)
{
	struct pshm__zone *z = pshm__zone_top;
	if (!z || a < z->lo || a >= z->hi)
		return false;
	long r = syscall(SYS_mmap, z->lo, (size_t)(z->hi - z->lo), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0L);
	if (r == -1)
		return false;
	z->faulted = 1;
	return true;
}

void pshm__zone_init(struct pshm__zone *z, void *lo, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t p = pg > 0 ? (size_t)pg : 4096;
	z->lo = lo;
	z->hi = (char *)lo + (len + p - 1) / p * p;
	z->faulted = 0;
	pshm__guard_install();
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	const char *a = si->si_addr;
	if (si->si_code > 0 && zone_fault(a))
		return;
	struct pshm__guard *g = si->si_code > 0 ? pshm__guard_top : NULL;
	while (g && !(a >= g->lo && a < g->hi))
		g = g->prev;
	if (g) {
		/* Leave with the signal mask the copy ran with (saved by the
		 * kernel in the ucontext), so SIGBUS is not left blocked: a
		 * blocked SIGBUS on the next fault kills the process. SA_NODEFER
		 * alone does not cover a handler called through a wrapper that
		 * blocks signals itself, as ThreadSanitizer's does; and restoring
		 * here costs nothing on the fast path, unlike sigsetjmp(jb, 1).
		 * The guards nested inside @g are abandoned with their frames;
		 * pshm__guard_leave(g) then restores the one around it. */
		pshm__guard_top = NULL;
		sigprocmask(SIG_SETMASK, &((ucontext_t *)uc)->uc_sigmask, NULL);
		siglongjmp(g->jb, 1);
	}
	if ((prev_bus.sa_flags & SA_SIGINFO) && prev_bus.sa_sigaction) {
		prev_bus.sa_sigaction(sig, si, uc);
	} else if (prev_bus.sa_handler != SIG_DFL && prev_bus.sa_handler != SIG_IGN) {
		prev_bus.sa_handler(sig);
	} else if (prev_bus.sa_handler == SIG_IGN && si->si_code <= 0) {
		/* Sent by kill() and ignored before we came: still ignored. */
	} else {
		/* Not ours: die as if we had never been installed. A real fault
		 * re-executes the faulting instruction on return and dies of it;
		 * raise() covers a SIGBUS sent by another process. */
		signal(SIGBUS, SIG_DFL);
		if (si->si_code <= 0)
			raise(SIGBUS);
	}
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sigemptyset(&sa.sa_mask);
	/* SA_NODEFER: SIGBUS stays deliverable while the handler runs, so a
	 * fault in a chained handler is not a silent kill. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	/* Record the previous handler before ours can run: a SIGBUS on another
	 * thread right after the install must find it. */
	sigaction(SIGBUS, NULL, &prev_bus);
	sigaction(SIGBUS, &sa, NULL);
	__atomic_store_n(&pshm__guard_installed, 1, __ATOMIC_RELEASE);
}

void pshm__guard_install(void)
{
	pthread_once(&install_once, install);
}

int pshm_seg_read(const pshm_seg *seg, void *buf, size_t len, uint64_t off)
{
	if (!seg || (!buf && len))
		return -EINVAL;
	if (off > seg->size || len > seg->size - off)
		return -ERANGE;
	if (len == 0)
		return 0;
	if (!seg->addr)
		return -EINVAL; /* opened with PSHM_NOMAP: use pshm_seg_pread() */
	return pshm__guarded_copy(buf, (const char *)seg->addr + off, len);
}

int pshm__guarded_call(const void *lo, size_t len, int (*fn)(void *), void *arg)
{
	int r;
	PSHM__GUARDED(r, lo, len, fn(arg));
	return r;
}

struct copy {
	void *dst;
	const void *src;
	size_t len;
};

static int do_copy(void *arg)
{
	const struct copy *c = arg;
	memcpy(c->dst, c->src, c->len);
	return 0;
}

int pshm__guarded_copy(void *dst, const void *src, size_t len)
{
	struct copy c = { dst, src, len };
	return pshm__guarded_call(src, len, do_copy, &c);
}

int pshm_guarded_copy(void *dst, const void *src, size_t len)
{
	if (len == 0)
		return 0;
	if (!dst || !src || len > UINTPTR_MAX - (uintptr_t)src)
		return -EINVAL;
	return pshm__guarded_copy(dst, src, len);
}
