/* SPDX-License-Identifier: MIT */
/*
 * tsan_main.c — runs the threaded concurrent scenarios (tests/stress_*.c)
 * outside Criterion, for ThreadSanitizer: `make check-tsan`.
 */
#include <stdio.h>

#include "stress.h"

static const struct stress_case cases[] = {
	{ "seg: the SIGBUS guard faults threads independently", stress_guard_threads },
	{ "box: writers and readers threads hammer one box", stress_box_threads },
	{ "chan: MPSC, 4 producer threads, order and integrity", stress_chan_mpsc_threads },
	{ "chan: SPSC, producer thread, order and integrity", stress_chan_spsc_threads },
	{ "topic: blocking, publisher and 3 subscriber threads", stress_topic_blocking_threads },
	{ "topic: lossy, publisher and 3 subscriber threads, one polling", stress_topic_lossy_threads },
	{ NULL, NULL },
};

int main(void)
{
	int pass = 0, fail = 0;
	for (const struct stress_case *c = cases; c->name; c++) {
		char err[256] = "";
		printf("tsan: %s ... ", c->name);
		fflush(stdout);
		if (c->run(err, sizeof(err)) == 0) {
			printf("ok\n");
			pass++;
		} else {
			printf("FAILED: %s\n", err);
			fail++;
		}
	}
	printf("tsan: %d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
