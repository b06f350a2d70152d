/* SPDX-License-Identifier: MIT */
/*
 * seg_helpers.h — the fixture and helpers of the segment layer's tests
 * (test_seg.c, test_guard.c, test_seg_stat.c). Header only (static), one
 * copy per test binary.
 *
 * Every segment is named by th_name() and removed by the fixture; extra
 * entries (sem.* files, files outside /dev/shm) are registered with
 * extra_path() and removed there too.
 */
#ifndef PSHM_TEST_SEG_HELPERS_H
#define PSHM_TEST_SEG_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- fixture: names, extra paths -------------------------------------- */

static char extra[8][256];
static unsigned n_extra;

static inline void extra_path(const char *p)
{
	cr_assert_lt(n_extra, 8);
	int w = snprintf(extra[n_extra], sizeof(extra[0]), "%s", p);
	cr_assert(w >= 0 && (size_t)w < sizeof(extra[0]), "extra path too long: %s", p);
	n_extra++;
}

static inline void seg_fini(void)
{
	for (unsigned i = 0; i < n_extra; i++)
		unlink(extra[i]);
	n_extra = 0;
	th_cleanup();
}

#define SEG_FIXTURE .init = th_setup, .fini = seg_fini

/* ---- helpers ------------------------------------------------------------ */

static inline pshm_seg *mk(const char *name, size_t size)
{
	pshm_seg *s = NULL;
	int r = pshm_seg_create(name, size, 0, 0, &s);
	cr_assert_eq(r, 0, "create %s: %s", name, pshm_strerror(r));
	return s;
}

static inline void link_to(const char *target, const char *name)
{
	char p[300];
	cr_assert_eq(symlink(target, th_path(name, p, sizeof(p))), 0, "symlink: %s",
		     strerror(errno));
}

/* Wait for @pid and return its exit status, or 128 + signal. */
static inline int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
