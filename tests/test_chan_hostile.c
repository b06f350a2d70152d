/* SPDX-License-Identifier: MIT */
/*
 * test_chan_hostile.c — channels against hostile or damaged segments:
 * forged headers, records and indices (-EPROTO, -EBADMSG), segments
 * truncated under an operation (-EFAULT, not SIGBUS), and describing a
 * channel without mapping it (a huge sparse ring allocates nothing, the
 * record walk is capped), with the mtime that traffic keeps current.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chan_helpers.h"
#include "helpers.h"
#include "pshm.h"
#include "test_chan.h"

TestSuite(chan_hostile, TH_FIXTURE, .timeout = 60);

/* ---- hostile segments -------------------------------------------------------- */

struct forge {
	uint64_t off;
	uint64_t val;
	int width; /* 4 or 8 */
};

Test(chan_hostile, hostile_header_is_eproto)
{
	struct forge f[] = {
		{ CL_MAGIC, 0x4141414141414141, 8 },
		{ CL_VERSION, 2, 4 },
		{ CL_RING_SIZE, 4095, 8 },           /* not a power of two */
		{ CL_RING_SIZE, 8192, 8 },           /* inconsistent with the size */
		{ CL_RING_SIZE, (uint64_t)1 << 40, 8 },
		{ CL_RING_OFF, 64, 4 },
		{ CL_TOTAL, 1 << 20, 8 },
		{ CL_MAX_MSG, 4096, 4 },
		{ CL_MAX_MSG, 0, 4 },
		{ CL_MODE, 9, 4 },
		{ CL_MAX_PROD, 0, 4 },
		{ CL_MAX_PROD, 1000, 4 },
		{ CL_HEAD, 3, 8 },                   /* misaligned */
		{ CL_HEAD, 1 << 20, 8 },             /* far beyond tail */
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *n = mkchan("hostile", 4096, 0, PSHM_CHAN_SPSC);
		size_t size;
		void *m = th_map_raw(n, &size);
		if (f[i].width == 8)
			*cl_u64(m, f[i].off) = f[i].val;
		else
			*cl_u32(m, f[i].off) = (uint32_t)f[i].val;
		pshm_chan *ch = NULL;
		int r = pshm_chan_open(n, PSHM_CONSUMER, 0, &ch);
		cr_expect_eq(r, -EPROTO, "forgery %zu: %s", i, pshm_strerror(r));
		pshm_chan_close(ch);
		struct pshm_chan_info in;
		if (f[i].off < CL_TAIL)
			cr_expect_eq(pshm_chan_stat(n, &in), -EPROTO, "stat, forgery %zu", i);
		munmap(m, size);
		pshm_seg_unlink(n);
	}
	/* A segment grown behind the channel's back no longer matches. */
	const char *n = mkchan("grown", 4096, 0, PSHM_CHAN_SPSC);
	char p[128];
	cr_assert_eq(truncate(th_path(n, p, sizeof(p)), 3 * 4096 + 4096), 0);
	pshm_chan *ch;
	cr_expect_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &ch), -EPROTO);
}

/* Forge one record header at the consumer's head and expect -EBADMSG. */
static void bad_record(unsigned mode, uint64_t word)
{
	const char *n = mkchan("badrec", 4096, 256, mode);
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	size_t size;
	void *m = th_map_raw(n, &size);
	uint32_t off = *cl_u32(m, CL_RING_OFF);
	*cl_u64(m, off) = word;
	char b[512];
	const void *ptr;
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EBADMSG, "word %#llx",
		     (unsigned long long)word);
	cr_expect_eq(pshm_chan_peek(c, &ptr, 0), -EBADMSG);
	munmap(m, size);
	pshm_chan_close(c);
}

Test(chan_hostile, hostile_records_are_ebadmsg)
{
	unsigned sh = 12; /* 4096-byte rings */
	for (unsigned mode = 0; mode < 2; mode++) {
		bad_record(mode, cl_rec(CL_R_MSG, 257, 0, 0, sh));       /* over max_msg */
		bad_record(mode, cl_rec(CL_R_MSG, 8, 0, 4096, sh));      /* wrong lap */
		bad_record(mode, cl_rec(CL_R_PAD, 8192, 0, 0, sh));      /* past the end */
		bad_record(mode, cl_rec(CL_R_PAD, 12, 0, 0, sh));        /* misaligned span */
		bad_record(mode, cl_rec(CL_R_PAD, 0, 0, 0, sh));         /* no progress */
		bad_record(mode, cl_rec(9, 8, 0, 0, sh));                /* unknown type */
		bad_record(mode, cl_rec(CL_R_MSG, 8, 3, 0, sh));         /* slot on a message */
		bad_record(mode, (uint64_t)1);                           /* type 0, not empty */
		bad_record(mode, cl_rec(CL_R_BUSY, 64, 200, 0, sh));     /* no such slot */
	}
	bad_record(PSHM_CHAN_SPSC, cl_rec(CL_R_BUSY, 64, 1, 0, sh)); /* SPSC has no BUSY */
}

Test(chan_hostile, hostile_indices_are_eproto_for_producers)
{
	const char *n = mkchan("badidx", 4096, 0, PSHM_CHAN_MPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER);
	char b[100] = { 0 };
	while (pshm_chan_send(p, b, sizeof(b), 0) == 0)
		;
	size_t size;
	void *m = th_map_raw(n, &size);
	*cl_u64(m, CL_HEAD) = *cl_u64(m, CL_TAIL) + 4096; /* head beyond tail */
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 0), -EPROTO);
	*cl_u64(m, CL_HEAD) = 0;
	*cl_u64(m, CL_TAIL) = 1 << 30; /* tail a thousand laps ahead */
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 0), -EPROTO);
	munmap(m, size);
	pshm_chan_close(p);
}

Test(chan_hostile, truncated_segment_under_a_large_copy_is_efault)
{
	const char *n = mkchan("trunc", 65536, 32768, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	static char big[32768], out[32768];
	cr_assert_eq(pshm_chan_send(p, big, sizeof(big), 0), 0);
	size_t size;
	void *m = th_map_raw(n, &size);
	uint32_t off = *cl_u32(m, CL_RING_OFF);
	munmap(m, size);
	/* Keep the record's header page, cut the pages of its payload. */
	char path[128];
	cr_assert_eq(truncate(th_path(n, path, sizeof(path)), off + 4096), 0);
	cr_expect_eq(pshm_chan_recv(c, out, sizeof(out), 0), -EFAULT);
	pshm_chan_close(p);
	pshm_chan_close(c);
}


/* A peeked message is a pointer into the mapping: pshm_guarded_copy()
 * copies it whole while the segment stands, and gives -EFAULT, not SIGBUS,
 * once it was cut under the reader. */
Test(chan_hostile, guarded_copy_of_a_peeked_message_cut_under_it_is_efault)
{
	const char *n = mkchan("gcopy", 65536, 32768, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	static char big[32768], out[32768];
	memset(big, 'm', sizeof(big));
	cr_assert_eq(pshm_chan_send(p, big, sizeof(big), 0), 0);
	const void *msg;
	cr_assert_eq(pshm_chan_peek(c, &msg, 0), (ssize_t)sizeof(big));
	cr_assert_eq(pshm_guarded_copy(out, msg, sizeof(out)), 0);
	cr_expect_eq(memcmp(out, big, sizeof(big)), 0);
	cr_expect_eq(pshm_guarded_copy(out, msg, 0), 0, "nothing to copy");
	cr_expect_eq(pshm_guarded_copy(NULL, msg, 1), -EINVAL);
	cr_expect_eq(pshm_guarded_copy(out, NULL, 1), -EINVAL);
	cr_expect_eq(pshm_guarded_copy(out, (const void *)(UINTPTR_MAX - 8), 64), -EINVAL,
		     "a range that wraps");
	char path[128];
	cr_assert_eq(truncate(th_path(n, path, sizeof(path)), 0), 0);
	cr_expect_eq(pshm_guarded_copy(out, msg, sizeof(out)), -EFAULT);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

/* ---- describing without a mapping, mtime -------------------------------- */

static int open_new(const char *n)
{
	char p[128];
	int fd = open(th_path(n, p, sizeof(p)), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "create %s", n);
	return fd;
}

static blkcnt_t blocks_of(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_blocks;
}

Test(chan_hostile, stat_of_a_huge_sparse_channel_allocates_nothing)
{
	/* 1 GiB of ring, 32 records of 16 MiB written, then a hole: reading
	 * the hole through a mapping would allocate it. */
	for (unsigned mode = PSHM_CHAN_SPSC; mode <= PSHM_CHAN_MPSC; mode++) {
		const char *n = th_name("sparsechan");
		int fd = open_new(n);
		cr_assert_eq(cl_forge_sparse(fd, mode, 30, 24, 32), 0, "%s", strerror(errno));
		blkcnt_t before = blocks_of(fd);
		struct pshm_chan_info in;
		cr_assert_eq(pshm_chan_stat(n, &in), 0, "mode %u", mode);
		cr_expect_eq(in.mode, mode);
		cr_expect_eq(in.ring_size, 1u << 30);
		cr_expect_eq(in.pending, 32, "mode %u: %llu", mode, (unsigned long long)in.pending);
		cr_expect_eq(in.sent, 32);
		cr_expect_eq(in.pending_capped, 0);
		cr_expect_eq(in.n_peers, 0);
		cr_expect_eq(blocks_of(fd), before, "mode %u: stat allocated pages", mode);
		close(fd);
		pshm_seg_unlink(n);
	}
}

Test(chan_hostile, stat_stops_counting_after_max_records)
{
	/* A 2 MiB ring of 16-byte records: 131072 of them, twice the walk's
	 * limit. */
	const char *n = th_name("manyrec");
	int fd = open_new(n);
	cr_assert_eq(cl_forge_sparse(fd, PSHM_CHAN_SPSC, 21, 4, 0), 0);
	size_t ring = 1u << 21;
	uint64_t *w = malloc(ring);
	cr_assert_not_null(w);
	for (size_t i = 0; i < ring / 16; i++) {
		w[2 * i] = cl_rec(CL_R_MSG, 8, 0, 16 * i, 21);
		w[2 * i + 1] = 0;
	}
	cr_assert_eq(pwrite(fd, w, ring, 4096), (ssize_t)ring);
	free(w);
	struct pshm_chan_info in;
	cr_assert_eq(pshm_chan_stat(n, &in), 0);
	cr_expect_eq(in.pending, PSHM_CHAN_STAT_MAX_RECORDS);
	cr_expect_eq(in.sent, PSHM_CHAN_STAT_MAX_RECORDS);
	cr_expect_eq(in.pending_capped, 1);
	cr_expect_eq(in.used, ring);
	close(fd);
}

static void backdate_chan(const char *name)
{
	char p[128];
	struct timespec ts[2] = { { 946684800, 0 }, { 946684800, 0 } }; /* 2000-01-01 */
	cr_assert_eq(utimensat(AT_FDCWD, th_path(name, p, sizeof(p)), ts, 0), 0);
}

static time_t mtime_of(const char *name)
{
	char p[128];
	struct stat st;
	cr_assert_eq(stat(th_path(name, p, sizeof(p)), &st), 0);
	return st.st_mtime;
}

Test(chan_hostile, traffic_updates_the_mtime)
{
	for (unsigned mode = PSHM_CHAN_SPSC; mode <= PSHM_CHAN_MPSC; mode++) {
		const char *n = mkchan("mtime", 4096, 0, mode);
		pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
		time_t t0 = time(NULL);
		backdate_chan(n);
		cr_assert_eq(pshm_chan_send(p, "hi", 2, 0), 0);
		cr_expect_geq(mtime_of(n), t0 - 5, "mode %u: send touched the file", mode);
		backdate_chan(n);
		char buf[8];
		cr_assert_eq(pshm_chan_recv(c, buf, sizeof(buf), 0), 2);
		cr_expect_geq(mtime_of(n), t0 - 5, "mode %u: recv touched the file", mode);
		/* At most once a second per handle: a new pair of handles. */
		pshm_chan_close(p);
		pshm_chan_close(c);
		p = open_as(n, PSHM_PRODUCER);
		c = open_as(n, PSHM_CONSUMER);
		backdate_chan(n);
		void *slot;
		cr_assert_eq(pshm_chan_reserve(p, 4, &slot, 0), 0);
		memcpy(slot, "abcd", 4);
		cr_assert_eq(pshm_chan_commit(p, 4), 0);
		cr_expect_geq(mtime_of(n), t0 - 5, "mode %u: commit touched the file", mode);
		backdate_chan(n);
		const void *m;
		cr_assert_eq(pshm_chan_peek(c, &m, 0), 4);
		cr_assert_eq(pshm_chan_release(c), 0);
		cr_expect_geq(mtime_of(n), t0 - 5, "mode %u: peek/release touched the file", mode);
		pshm_chan_close(p);
		pshm_chan_close(c);
	}
}


/* Every operation runs under the SIGBUS guard: with the segment truncated
 * to nothing, a small receive, a send and a peek fail with -EFAULT instead
 * of killing the process, and close still works. */
Test(chan_hostile, truncated_segment_small_operations_are_efault)
{
	const char *n = mkchan("trunc0", 65536, 1024, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	cr_assert_eq(pshm_chan_send(p, "hi", 2, 0), 0);
	char path[128], b[16];
	cr_assert_eq(truncate(th_path(n, path, sizeof(path)), 0), 0);
	const void *ptr;
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EFAULT);
	cr_expect_eq(pshm_chan_peek(c, &ptr, 0), -EFAULT);
	cr_expect_eq(pshm_chan_send(p, "hi", 2, 0), -EFAULT);
	pshm_chan_close(p);
	pshm_chan_close(c);
}
