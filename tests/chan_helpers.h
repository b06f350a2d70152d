/* SPDX-License-Identifier: MIT */
/*
 * chan_helpers.h — shared by the Criterion suites of the channel API
 * (test_chan.c, test_chan_hostile.c, test_chan_load.c): creating and
 * opening the channels under test. Header only (static), one copy per test
 * binary.
 */
#ifndef PSHM_TEST_CHAN_HELPERS_H
#define PSHM_TEST_CHAN_HELPERS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"
#include "pshm.h"

#define MS INT64_C(1000000)

/* PSHM_TEST_SCALE, at least 1: the factor of the load sizes. */
static inline unsigned scale(void)
{
	const char *s = getenv("PSHM_TEST_SCALE");
	int v = s ? atoi(s) : 1;
	return v > 0 ? (unsigned)v : 1;
}

/* Create a channel named after @tag, asserting it worked; returns its name. */
static inline const char *mkchan(const char *tag, size_t ring, size_t max_msg, unsigned mode)
{
	const char *n = th_name(tag);
	struct pshm_chan_config c = { .ring_size = ring, .max_msg = max_msg, .mode = mode };
	cr_assert_eq(pshm_chan_create(n, &c, 0, 0), 0, "create %s", n);
	return n;
}

/* Open channel @n in @role, asserting it worked. */
static inline pshm_chan *open_as(const char *n, unsigned role)
{
	pshm_chan *ch = NULL;
	int r = pshm_chan_open(n, role, 0, &ch);
	cr_assert_eq(r, 0, "open %s as %u: %s", n, role, pshm_strerror(r));
	return ch;
}

#endif
