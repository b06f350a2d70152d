/* SPDX-License-Identifier: MIT */
/*
 * test_guard.c — the guarded read of a segment: a segment truncated before
 * or during a copy gives -EFAULT instead of SIGBUS, a SIGBUS outside the
 * guard still kills (or reaches the handler installed before), and threads
 * fault independently.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"
#include "seg_helpers.h"
#include "stress.h"

TestSuite(guard, SEG_FIXTURE, .timeout = 60);

static int scale(void)
{
	const char *s = getenv("PSHM_TEST_SCALE");
	int v = s ? atoi(s) : 1;
	return v > 0 ? v : 1;
}

/* ---- the guarded read --------------------------------------------------- */

/* Truncate @name to @size from another process. */
static void truncate_elsewhere(const char *name, off_t size)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char p[300];
		_exit(truncate(th_path(name, p, sizeof(p)), size) == 0 ? 0 : 1);
	}
	cr_assert_eq(wait_status(pid), 0);
}

Test(guard, guarded_read_of_a_truncated_segment_is_efault)
{
	const char *n = th_name("trunc");
	pshm_seg *s = mk(n, 1 << 20);
	memset(pshm_seg_addr(s), 'a', 1 << 20);
	static char buf[1 << 20];
	cr_assert_eq(pshm_seg_read(s, buf, sizeof(buf), 0), 0);
	truncate_elsewhere(n, 0);
	cr_expect_eq(pshm_seg_read(s, buf, 4096, 0), -EFAULT);
	cr_expect_eq(pshm_seg_read(s, buf, sizeof(buf), 0), -EFAULT);
	cr_expect_eq(pshm_seg_read(s, buf, 1, 12345), -EFAULT, "again, and anywhere");
	/* Truncated to half: the first half still reads, the rest faults. */
	cr_assert_eq(pshm_seg_resize(s, 1 << 20), 0);
	truncate_elsewhere(n, 1 << 19);
	cr_expect_eq(pshm_seg_read(s, buf, 1 << 19, 0), 0);
	cr_expect_eq(pshm_seg_read(s, buf, 16, (1 << 19) - 8), -EFAULT, "straddles the end");
	cr_expect_eq(pshm_seg_read(s, buf, 1, 1 << 19), -EFAULT);
	pshm_seg_close(s);
}

Test(guard, guarded_read_survives_truncation_during_the_copy)
{
	const char *n = th_name("race");
	const size_t size = 16 << 20;
	char *buf = malloc(size);
	cr_assert_not_null(buf);
	int rounds = 10 * scale(), faults = 0;
	pshm_seg *s = mk(n, size);
	for (int i = 0; i < rounds; i++) {
		cr_assert_eq(pshm_seg_resize(s, size), 0);
		memset(pshm_seg_addr(s), 'r', size);
		int go[2];
		cr_assert_eq(pipe(go), 0);
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			char c, p[300];
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(2);
			/* Let the copy start, then pull the pages from under it. */
			for (volatile int k = 0; k < i * 20000; k++)
				;
			_exit(truncate(th_path(n, p, sizeof(p)), 0) == 0 ? 0 : 1);
		}
		close(go[0]);
		cr_assert_eq(write(go[1], "g", 1), 1);
		close(go[1]);
		int r;
		do
			r = pshm_seg_read(s, buf, size, 0);
		while (r == 0 && waitpid(pid, NULL, WNOHANG) == 0);
		cr_expect(r == 0 || r == -EFAULT, "round %d: %d", i, r);
		faults += r == -EFAULT;
		waitpid(pid, NULL, 0);
		cr_expect_eq(pshm_seg_read(s, buf, size, 0), -EFAULT, "after the truncation");
	}
	cr_expect_gt(faults, 0, "at least one copy was cut short");
	pshm_seg_close(s);
	free(buf);
}

/* A SIGBUS outside a guarded copy is not swallowed: the process dies of it
 * (or, under ASan, ASan reports it: its handler was there first). */
Test(guard, sigbus_outside_the_guard_still_kills)
{
	const char *n = th_name("bus");
	pshm_seg *s = mk(n, 8192);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char b[16], p[300];
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 2); /* ASan's report is expected noise */
		if (pshm_seg_read(s, b, 16, 0) != 0) /* installs the handler */
			_exit(3);
		if (truncate(th_path(n, p, sizeof(p)), 0) != 0)
			_exit(4);
		if (pshm_seg_read(s, b, 16, 0) != -EFAULT)
			_exit(5);
		volatile char c = ((volatile char *)pshm_seg_addr(s))[0];
		(void)c;
		_exit(0);
	}
	int r = wait_status(pid);
	if (UNDER_ASAN)
		cr_expect(r != 0 && r < 3, "ASan reported the fault (status %d)", r);
	else
		cr_expect_eq(r, 128 + SIGBUS, "died of SIGBUS (status %d)", r);
	pshm_seg_close(s);
}

static void user_bus_handler(int sig)
{
	(void)sig;
	_exit(42);
}

Test(guard, sigbus_outside_the_guard_reaches_the_previous_handler)
{
	const char *n = th_name("chain");
	pshm_seg *s = mk(n, 8192);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char b[16], p[300];
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = user_bus_handler;
		sigaction(SIGBUS, &sa, NULL);
		if (truncate(th_path(n, p, sizeof(p)), 0) != 0)
			_exit(4);
		if (pshm_seg_read(s, b, 16, 0) != -EFAULT) /* ours, handled */
			_exit(5);
		volatile char c = ((volatile char *)pshm_seg_addr(s))[0]; /* theirs */
		(void)c;
		_exit(0);
	}
	cr_expect_eq(wait_status(pid), 42, "the program's own handler ran");
	pshm_seg_close(s);
}

/* Two threads: one reads a segment that gets truncated, the other one that
 * does not; the fault of one never disturbs the other (tests/stress_seg.c,
 * also run under ThreadSanitizer by tests/tsan_main.c). */
Test(guard, guard_threads_fault_independently)
{
	char err[256] = "";
	cr_assert_eq(stress_guard_threads(err, sizeof(err)), 0, "%s", err);
}

