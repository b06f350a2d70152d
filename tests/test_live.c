/* SPDX-License-Identifier: MIT */
/*
 * test_live.c — liveness locks (src/live.c), which channels and boxes use
 * to tell a dead peer or writer from a slow one, and pshm_seg_held().
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/internal.h"
#include "helpers.h"

TestSuite(live, TH_FIXTURE, .timeout = 30);

static int open_fd(const char *name)
{
	char p[300];
	int fd = open(th_path(name, p, sizeof(p)), O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	return fd;
}

Test(live, a_lock_is_seen_from_another_description_only)
{
	const char *n = th_name("lk");
	pshm_seg *s;
	cr_assert_eq(pshm_seg_create(n, 4096, 0600, 0, &s), 0);
	int a = open_fd(n), b = open_fd(n);
	cr_expect_eq(pshm__lock_held(a, PSHM__LOCK_ROLE(3)), 0);
	cr_assert_eq(pshm__lock_take(a, PSHM__LOCK_ROLE(3), true), 0);
	cr_expect_eq(pshm__lock_held(a, PSHM__LOCK_ROLE(3)), 0, "our own lock is no conflict");
	cr_expect_eq(pshm__lock_held(b, PSHM__LOCK_ROLE(3)), 1);
	cr_expect_eq(pshm__lock_take(b, PSHM__LOCK_ROLE(3), true), -EAGAIN);
	cr_expect_eq(pshm__lock_held(b, PSHM__LOCK_ROLE(4)), 0, "one byte only");
	pshm__lock_drop(a, PSHM__LOCK_ROLE(3));
	cr_expect_eq(pshm__lock_held(b, PSHM__LOCK_ROLE(3)), 0);
	cr_expect(pshm__live_byte(-1, 0), "a failed query never says dead");
	cr_expect_eq(pshm__lock_held(-1, 0), -EBADF);
	close(a);
	close(b);
	pshm_seg_close(s);
}

Test(live, seg_held_sees_every_handle_until_it_closes)
{
	const char *n = th_name("held");
	pshm_seg *s, *t;
	cr_assert_eq(pshm_seg_create(n, 4096, 0600, 0, &s), 0);
	cr_expect_eq(pshm_seg_held(n), 1, "the creator's handle");
	cr_assert_eq(pshm_seg_open(n, PSHM_RDONLY | PSHM_NOMAP, &t), 0);
	pshm_seg_close(s);
	cr_expect_eq(pshm_seg_held(n), 1, "a read-only handle");
	pshm_seg_close(t);
	cr_expect_eq(pshm_seg_held(n), 0);
	cr_expect_eq(pshm_seg_held("/pshm-test-no-such-segment"), -ENOENT);
	cr_expect_eq(pshm_seg_held("a/b"), -EINVAL);
}

/* A child that holds a lock, then is killed and left unreaped: dead. */
Test(live, a_killed_unreaped_holder_is_dead)
{
	const char *n = th_name("zomb");
	pshm_seg *s;
	cr_assert_eq(pshm_seg_create(n, 4096, 0600, 0, &s), 0);
	pshm_seg_close(s);
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pshm_seg *c;
		if (pshm_seg_open(n, 0, &c) < 0 ||
		    pshm__lock_take(pshm_seg_fd(c), PSHM__LOCK_ROLE(0), true) < 0)
			_exit(1);
		(void)!write(pfd[1], "x", 1);
		pause();
		_exit(0);
	}
	char x;
	cr_assert_eq(read(pfd[0], &x, 1), 1);
	int fd = open_fd(n);
	cr_expect_eq(pshm_seg_held(n), 1);
	cr_expect_eq(pshm__lock_held(fd, PSHM__LOCK_ROLE(0)), 1);
	kill(pid, SIGKILL);
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	/* A zombie now, not reaped: its locks are gone already. */
	cr_expect_eq(pshm__lock_held(fd, PSHM__LOCK_ROLE(0)), 0);
	cr_expect_eq(pshm_seg_held(n), 0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
}
