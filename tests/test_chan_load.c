/* SPDX-License-Identifier: MIT */
/*
 * test_chan_load.c — channels under load: ordering and integrity from
 * several producer processes (and threads, for ThreadSanitizer), and large
 * messages arriving whole at every alignment.
 *
 * Load sizes scale with PSHM_TEST_SCALE (default 1): at scale 1 the
 * process tests move 10^6 messages each (SPSC and MPSC), the threads test
 * 2 * 10^5 (it also runs under TSan, about ten times slower).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan_helpers.h"
#include "helpers.h"
#include "pshm.h"
#include "stress.h"

TestSuite(chan_load, TH_FIXTURE, .timeout = 60);

/* ---- ordering and integrity under load -------------------------------------------- */

static void load_processes(struct stress_load *l)
{
	pid_t pids[16];
	fflush(NULL);
	for (unsigned i = 0; i < l->producers; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0)
			_exit(stress_chan_produce(l, i));
	}
	char err[256] = "";
	cr_expect_eq(stress_chan_consume(l, err, sizeof(err)), 0, "%s", err);
	for (unsigned i = 0; i < l->producers; i++) {
		int st;
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer %u status %d", i, st);
	}
}

Test(chan_load, spsc_processes_order_and_integrity, .timeout = 120)
{
	struct stress_load l = { .name = mkchan("load1", 65536, 4096, PSHM_CHAN_SPSC), .producers = 1,
			  .per_producer = 1000000ull * scale(), .max = 256, .zero_copy = true };
	load_processes(&l);
}

Test(chan_load, mpsc_processes_order_and_integrity, .timeout = 120)
{
	struct stress_load l = { .name = mkchan("load4", 65536, 4096, PSHM_CHAN_MPSC), .producers = 4,
			  .per_producer = 250000ull * scale(), .max = 256, .zero_copy = true };
	load_processes(&l);
}

Test(chan_load, mpsc_processes_big_messages_small_ring, .timeout = 120)
{
	struct stress_load l = { .name = mkchan("loadbig", 16384, 4096, PSHM_CHAN_MPSC), .producers = 3,
			  .per_producer = 20000ull * scale(), .max = 4096, .zero_copy = true };
	load_processes(&l);
}

/* Threads variants: tests/stress_chan.c, also run under ThreadSanitizer by
 * tests/tsan_main.c. */
Test(chan_load, mpsc_threads_order_and_integrity, .timeout = 120)
{
	char err[256] = "";
	cr_assert_eq(stress_chan_mpsc_threads(err, sizeof(err)), 0, "%s", err);
}

Test(chan_load, spsc_threads_order_and_integrity, .timeout = 120)
{
	char err[256] = "";
	cr_assert_eq(stress_chan_spsc_threads(err, sizeof(err)), 0, "%s", err);
}


/* Bodies of 8 KiB and more are copied in with a vector loop, and in rings
 * of up to 2 MiB every message recv copies out is wiped (one released after
 * a peek is not, over 64 KiB): messages around those sizes, up to 1 MiB,
 * arrive whole at any alignment in the ring, in both topologies, in a ring
 * that is wiped and one that is not, received by copy and in place. */
static void large_messages(unsigned mode)
{
	enum { BIG = 1 << 20 };
	static unsigned char in[BIG + 64], out[BIG + 64];
	for (int wiped = 0; wiped < 2; wiped++) {
		const char *n = mkchan(wiped ? "large-w" : "large", wiped ? 2 * BIG : 4 * BIG,
				       wiped ? BIG / 2 : BIG, mode);
		pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
		/* The loop copies what lies past the record's first line:
		 * len - (56 - pos % 64) bytes. Bring that to 8191, 8192 and
		 * 8193 at each of the 8 positions in a line (empty messages
		 * move the position by 8). */
		uint64_t pos = 0;
		for (unsigned at = 0; at < 8; at++) {
			for (size_t past = 8191; past <= 8193; past++) {
				while (pos % 64 != 8 * at) {
					cr_assert_eq(pshm_chan_send(p, "", 0, 0), 0);
					cr_assert_eq(pshm_chan_recv(c, out, sizeof(out), 0), 0);
					pos += 8;
				}
				size_t len = 56 - pos % 64 + past;
				for (size_t k = 0; k < len; k++)
					in[k] = (unsigned char)(at * 31 + past + k * 7 + (k >> 8) * 13);
				memset(out, 0x5a, len + 1);
				cr_assert_eq(pshm_chan_send(p, in, len, 0), 0);
				cr_assert_eq(pshm_chan_recv(c, out, sizeof(out), 0), (ssize_t)len);
				cr_assert(!memcmp(in, out, len), "%zu bytes at %u intact", len, at);
				cr_assert_eq(out[len], 0x5a, "%zu bytes: written past the end", len);
				pos += (8 + len + 7) & ~(size_t)7;
			}
		}
		size_t top = wiped ? BIG / 2 : BIG;
		for (unsigned i = 0; i < 12; i++) {
			size_t len = top - 8 * i - (i % 3) * 4096 - 1;
			for (size_t k = 0; k < len; k++) /* no short period: a moved block shows */
				in[k] = (unsigned char)(i * 31 + k * 7 + (k >> 8) * 13 + (k >> 16) * 101);
			cr_assert_eq(pshm_chan_send(p, in, len, 0), 0, "message %u", i);
			if (i % 2) { /* in place */
				const void *m;
				cr_assert_eq(pshm_chan_peek(c, &m, 0), (ssize_t)len, "message %u", i);
				cr_assert(!memcmp(in, m, len), "message %u (%zu bytes) intact", i, len);
				cr_assert_eq(pshm_chan_release(c), 0);
				continue;
			}
			memset(out, 0x5a, len + 1);
			cr_assert_eq(pshm_chan_recv(c, out, sizeof(out), 0), (ssize_t)len, "message %u", i);
			cr_assert(!memcmp(in, out, len), "message %u (%zu bytes) intact", i, len);
			cr_assert_eq(out[len], 0x5a, "message %u: written past the end", i);
		}
		pshm_chan_close(p);
		pshm_chan_close(c);
	}
}

Test(chan_load, spsc_large_messages_arrive_whole)
{
	large_messages(PSHM_CHAN_SPSC);
}

Test(chan_load, mpsc_large_messages_arrive_whole)
{
	large_messages(PSHM_CHAN_MPSC);
}
