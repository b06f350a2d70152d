/* SPDX-License-Identifier: MIT */
/*
 * test_live.c — process and thread liveness (src/live.c), which channels
 * and boxes use to tell a dead peer or writer from a slow one.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/internal.h"

/* Fork a child that exits at once; its pid, not yet reaped. */
static pid_t exited_child(void)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	return pid;
}

Test(live, this_process_is_alive_with_its_start_time)
{
	uint64_t start = pshm__live_self_start();
	cr_assert_neq(start, 0);
	cr_expect(pshm__live_proc(getpid(), start));
	cr_expect(pshm__live_proc(getpid(), 0), "start 0: the pid is all there is");
	cr_expect_not(pshm__live_proc(getpid(), start + 1), "a reused pid is not the same process");
}

Test(live, impossible_pids_are_dead)
{
	const pid_t bad[] = { 0, -1, -12345, 4194305, 0x7fffffff };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_not(pshm__live_proc(bad[i], 0), "pid %d", (int)bad[i]);
		cr_expect_not(pshm__live_tid(bad[i]), "tid %d", (int)bad[i]);
	}
}

Test(live, a_zombie_is_dead_to_channels_but_exists_for_boxes)
{
	pid_t pid = exited_child();
	/* A channel peer that exited is gone even before it is reaped; a box
	 * writer is probed with kill(), which still finds a zombie. */
	cr_expect_not(pshm__live_proc(pid, 0));
	cr_expect(pshm__live_tid(pid));
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_expect_not(pshm__live_proc(pid, 0));
	cr_expect_not(pshm__live_tid(pid));
}

static void *report_tid(void *arg)
{
	*(pid_t *)arg = gettid();
	return NULL;
}

Test(live, threads)
{
	cr_expect(pshm__live_tid(gettid()));
	pid_t tid = 0;
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, report_tid, &tid), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	/* The kernel frees a joined thread's id shortly after it exits. */
	for (int i = 0; i < 1000 && pshm__live_tid(tid); i++)
		usleep(1000);
	cr_expect_not(pshm__live_tid(tid));
}

Test(live, init_is_alive)
{
	/* As a user other than root, kill(1, 0) gets EPERM: still alive. */
	cr_expect(pshm__live_proc(1, 0));
	cr_expect(pshm__live_tid(1));
}
