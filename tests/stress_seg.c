/* SPDX-License-Identifier: MIT */
/*
 * stress_seg.c — the SIGBUS guard with threads: one thread reads a segment
 * that was truncated under it, another a segment that was not; the fault of
 * one never disturbs the other. Shared by tests/test_seg.c and the TSan
 * driver (tests/tsan_main.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "stress.h"

struct reader {
	pshm_seg *seg;
	int faults, oks, rounds;
	char buf[65536];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	for (int i = 0; i < r->rounds; i++) {
		int e = pshm_seg_read(r->seg, r->buf, sizeof(r->buf), 0);
		r->faults += e == -EFAULT;
		r->oks += e == 0;
	}
	return NULL;
}

int stress_guard_threads(char *err, size_t errlen)
{
	static struct reader ra, rb;
	char a[64], b[64];
	snprintf(a, sizeof(a), "/pshm-test-stress-tha-%d", (int)getpid());
	snprintf(b, sizeof(b), "/pshm-test-stress-thb-%d", (int)getpid());
	pshm_seg *sa = NULL, *sb = NULL;
	int r = pshm_seg_create(a, 65536, 0, 0, &sa);
	if (r == 0)
		r = pshm_seg_create(b, 65536, 0, 0, &sb);
	/* Truncate through the file, as another process would: the mapping
	 * keeps its length, its pages are gone. */
	if (r == 0)
		r = ftruncate(pshm_seg_fd(sa), 0) == 0 ? 0 : -errno;
	if (r < 0) {
		snprintf(err, errlen, "setting up: %s", pshm_strerror(r));
	} else {
		int rounds = (int)(2000 * stress_scale());
		ra = (struct reader){ .seg = sa, .rounds = rounds };
		rb = (struct reader){ .seg = sb, .rounds = rounds };
		pthread_t ta, tb;
		pthread_create(&ta, NULL, reader_main, &ra);
		pthread_create(&tb, NULL, reader_main, &rb);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		if (ra.faults != rounds || rb.oks != rounds || rb.faults != 0) {
			snprintf(err, errlen, "truncated: %d faults of %d; intact: %d ok, %d faults",
				 ra.faults, rounds, rb.oks, rb.faults);
			r = -1;
		}
	}
	pshm_seg_close(sa);
	pshm_seg_close(sb);
	pshm_seg_unlink(a);
	pshm_seg_unlink(b);
	return r < 0 ? -1 : 0;
}
