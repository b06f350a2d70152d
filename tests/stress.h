/* SPDX-License-Identifier: MIT */
/*
 * stress.h — concurrent scenarios shared by the Criterion tests and the
 * ThreadSanitizer driver (tests/tsan_main.c). Plain C, no Criterion: each
 * returns 0 when every check held, or -1 with a message in @err.
 */
#ifndef PSHM_TEST_STRESS_H
#define PSHM_TEST_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pshm.h"

/* One scenario, for the driver's table. */
struct stress_case {
	const char *name;
	int (*run)(char *err, size_t errlen);
};

/* PSHM_TEST_SCALE (default 1) multiplies the work of every scenario. */
long stress_scale(void);

/* ---- segments (stress_seg.c) ---- */
/* Two threads read two segments, one truncated: only that one faults. */
int stress_guard_threads(char *err, size_t errlen);

/* ---- boxes (stress_box.c) ---- */
#define STRESS_BOX_CAP 256

struct stress_tally {
	long ok, again, bad, writes, write_again, write_err;
};

/* Shared by all participants (put it in an anonymous segment for processes). */
struct stress_box_hammer {
	int stop;
	struct stress_tally t[16];
};

/* Writer @w writes self-checking values until h->stop. */
void stress_box_write(pshm_box *b, struct stress_box_hammer *h, uint32_t w);
/* Read until @quota verified values (or the first bad one) into @t. */
void stress_box_read(pshm_box *b, struct stress_tally *t, long quota);
/* 0 if no participant saw a bad value and the readers met their quota. */
int stress_box_check(const struct stress_box_hammer *h, int writers, int readers, long quota,
		     char *err, size_t errlen);
/* Threads variant: 2 writers, 3 readers on one box. */
int stress_box_threads(char *err, size_t errlen);

/* ---- channels (stress_chan.c) ---- */
struct stress_load {
	const char *name;       /* an existing channel */
	unsigned producers;     /* at most 64 */
	uint64_t per_producer;  /* messages each */
	size_t max;             /* largest message, at most 4096 */
	bool zero_copy;         /* alternate copy and zero-copy calls */
};
/* Producer @id sends its messages; 0, or a non-zero status. */
int stress_chan_produce(const struct stress_load *l, unsigned id);
/* Receive and check every message, then expect -EPIPE. */
int stress_chan_consume(const struct stress_load *l, char *err, size_t errlen);
/* Threads variants: 4 producers (MPSC), 1 producer (SPSC). */
int stress_chan_mpsc_threads(char *err, size_t errlen);
int stress_chan_spsc_threads(char *err, size_t errlen);

/* ---- topics (stress_topic.c) ---- */
/* Message number @k (1-based) of 12 to @max bytes (@max at most 4096),
 * carrying k and a checksum of the rest; _ok says whether @b is it, whole. */
size_t stress_topic_make(unsigned char *b, uint64_t k, size_t max);
bool stress_topic_ok(const unsigned char *b, size_t len, uint64_t k, size_t max);
/* Threads variants: a publisher, 3 subscribers; blocking, then lossy (one
 * subscriber waiting in poll(2) on pshm_topic_fd()). */
int stress_topic_blocking_threads(char *err, size_t errlen);
int stress_topic_lossy_threads(char *err, size_t errlen);

#endif
