/* SPDX-License-Identifier: MIT */
/*
 * test_topic.h — shared by the topic suites (test_topic*.c): creating and
 * opening topics, self-checking messages, and a pipe on which children say
 * they have attached. Header only (static), one copy per test binary.
 */
#ifndef PSHM_TEST_TOPIC_H
#define PSHM_TEST_TOPIC_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"
#include "stress.h"

#define MS INT64_C(1000000)

/* Create a topic named after @tag, asserting it worked; returns its name. */
static inline const char *mktopic(const char *tag, size_t ring, size_t max_msg, unsigned history,
				  unsigned policy)
{
	const char *n = th_name(tag);
	struct pshm_topic_config c = { .ring_size = ring, .max_msg = max_msg, .history = history,
				       .policy = policy };
	int r = pshm_topic_create(n, &c, 0, 0);
	cr_assert_eq(r, 0, "create %s: %s", n, pshm_strerror(r));
	return n;
}

/* Open topic @n as @role with @flags, asserting it worked. */
static inline pshm_topic *topen(const char *n, unsigned role, unsigned flags)
{
	pshm_topic *t = NULL;
	int r = pshm_topic_open(n, role, flags, &t);
	cr_assert_eq(r, 0, "open %s as %u: %s", n, role, pshm_strerror(r));
	return t;
}

/* Self-checking message number @k (1-based) of at most @max bytes (see
 * stress.h), and whether @b is it, whole. */
static inline size_t tmsg_make(unsigned char *b, uint64_t k, size_t max)
{
	return stress_topic_make(b, k, max);
}

static inline bool tmsg_ok(const unsigned char *b, size_t len, uint64_t k, size_t max)
{
	return stress_topic_ok(b, len, k, max);
}

/* Children write one byte here when attached (tready_wait() reads it). */
static int tready[2] = { -1, -1 };

static inline void tready_init(void)
{
	if (tready[0] < 0)
		cr_assert_eq(pipe(tready), 0);
}

static inline void tready_say(void)
{
	char c = 1;
	(void)!write(tready[1], &c, 1);
}

static inline void tready_wait(int n)
{
	for (int i = 0; i < n; i++) {
		char c;
		cr_assert_eq(read(tready[0], &c, 1), 1, "a child did not attach");
	}
}

/* fork(), asserting it worked (output flushed first: not written twice). */
static inline pid_t tfork(void)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	return pid;
}

/* In a child: open topic @n as @role (or exit 10), then say so. */
static inline pshm_topic *tchild_open(const char *n, unsigned role)
{
	pshm_topic *t;
	if (pshm_topic_open(n, role, 0, &t) < 0)
		_exit(10);
	tready_say();
	return t;
}

#endif
