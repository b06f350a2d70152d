/* SPDX-License-Identifier: MIT */
/*
 * box.h — private to the box files: the handle, and the writer identity
 * that box_writer.c keeps (which writer id a handle holds, whether the
 * writer named in a box's sequence word is alive) for box.c's seqlock.
 */
#ifndef PSHM_BOX_H
#define PSHM_BOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

struct pshm_box {
	pshm_seg *seg;
	uint32_t wid;      /* writer id (its liveness lock held), 0 before the first write */
	unsigned gen;      /* the fork generation (pshm__box_forks) wid belongs to */
	int wfd;           /* own file description for the writer lock, -1: the segment's */
	pthread_mutex_t wid_lock; /* taken only to claim wid */
	unsigned char *base;
	size_t size;       /* mapping size */
	uint64_t capacity; /* validated at open; 0 if opened unchecked and bad */
	bool writable;
	int64_t touched_ns; /* CLOCK_MONOTONIC of the last mtime update, 0: never;
			       atomic: threads may write through one handle */
};

/* The writer field (high 32 bits of an odd sequence word): the writer id
 * in the top 10 bits, the thread id (every tid is below 2^22, Linux's
 * PID_MAX_LIMIT) in the rest. */
#define WID_SHIFT 22
#define WID_MAX 1023u
#define TID_MASK ((UINT32_C(1) << WID_SHIFT) - 1)

/* fork() children seen in this process's line (atomic; see
 * pshm__box_claim_writer()). */
extern unsigned pshm__box_forks;

/* pshm__box_forks, once the fork handler that counts them is installed. */
unsigned pshm__box_fork_gen(void);
/* The writer field naming writer id @wid and the calling thread. */
uint32_t pshm__box_writer_of(uint32_t wid);
/* Is the writer named by @field still running (asked through @fd, the
 * box's file, -1 for none; @wid is our own writer id, 0 if none)? */
bool pshm__box_writer_alive(int fd, uint32_t wid, uint32_t field);
/* The descriptor whose file description holds @box's writer lock. */
int pshm__box_lock_fd(const pshm_box *box);
/* Take a writer id for @box (once per handle and fork generation): 0,
 * -EUSERS (every id held), -ENOLCK, or -errno. */
int pshm__box_claim_writer(pshm_box *box);

#endif
