/* SPDX-License-Identifier: MIT */
/*
 * test_topic_hostile.c — topics over untrusted segments: forged headers
 * (-EPROTO), forged slots and counters (an error or a counted skip, never
 * a crash or an endless loop), a segment truncated under an operation
 * (-EFAULT, not SIGBUS), a sparse segment (-ENODATA, nothing allocated),
 * and another user (nobody) refused by the file mode.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "test_topic.h"

TestSuite(topic_hostile, TH_FIXTURE, .timeout = 60);

/* Offsets of the header's constants (pshm(7), TOPICS). */
enum {
	OFF_VERSION = 8, OFF_RING_OFF = 12, OFF_TOTAL = 16, OFF_RING = 24, OFF_SLOT = 32,
	OFF_MAX_MSG = 36, OFF_HISTORY = 40, OFF_MAX_SUBS = 44, OFF_POLICY = 48, OFF_RESERVED = 52,
	OFF_PUB_SEQ = 64, OFF_SUBS = 320, RING_OFF = 8192, /* 64 subscriber slots */
};

static int fd_of(const char *n)
{
	char p[300];
	int fd = open(th_path(n, p, sizeof(p)), O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	return fd;
}

static void poke32(const char *n, off_t off, uint32_t v)
{
	int fd = fd_of(n);
	cr_assert_eq(pwrite(fd, &v, 4, off), 4);
	close(fd);
}

static void poke64(const char *n, off_t off, uint64_t v)
{
	int fd = fd_of(n);
	cr_assert_eq(pwrite(fd, &v, 8, off), 8);
	close(fd);
}

Test(topic_hostile, hostile_header_is_eproto)
{
	struct {
		off_t off;
		unsigned size;
		uint64_t v;
	} forged[] = {
		{ 0, 8, 0x3143504f54485351ull }, /* magic */
		{ OFF_VERSION, 4, 2 },
		{ OFF_RING_OFF, 4, 4096 },
		{ OFF_TOTAL, 8, 1 << 20 },
		{ OFF_RING, 8, 8192 },
		{ OFF_RING, 8, 3000 },
		{ OFF_SLOT, 4, 128 },
		{ OFF_SLOT, 4, 0 },
		{ OFF_MAX_MSG, 4, 200 },
		{ OFF_MAX_MSG, 4, 0xffffffff },
		{ OFF_HISTORY, 4, 64 },
		{ OFF_MAX_SUBS, 4, 0 },
		{ OFF_MAX_SUBS, 4, 1000 },
		{ OFF_POLICY, 4, 7 },
		{ OFF_RESERVED, 4, 1 },
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		const char *n = mktopic("hdr", 4096, 48, 1, 0);
		if (forged[i].size == 4)
			poke32(n, forged[i].off, (uint32_t)forged[i].v);
		else
			poke64(n, forged[i].off, forged[i].v);
		pshm_topic *t;
		struct pshm_topic_info in;
		cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, &t), -EPROTO, "forgery %zu", i);
		cr_expect_eq(pshm_topic_open(n, PSHM_PUBLISHER, 0, &t), -EPROTO, "forgery %zu", i);
		cr_expect_eq(pshm_topic_stat(n, &in), -EPROTO, "forgery %zu", i);
		cr_expect_eq(pshm_topic_create(n, NULL, 0, PSHM_OPEN_EXISTING), -EPROTO);
	}
}

Test(topic_hostile, forged_counters_are_refused_or_skipped)
{
	const char *n = mktopic("cnt", 4096, 48, 0, PSHM_TOPIC_LOSSY); /* 64 slots */
	pshm_topic *t;
	poke64(n, OFF_PUB_SEQ, UINT64_MAX - 5);
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, &t), -EPROTO, "absurd pub_seq");
	cr_expect_eq(pshm_topic_open(n, PSHM_PUBLISHER, 0, &t), -EPROTO);
	poke64(n, OFF_PUB_SEQ, 0);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0), *s = topen(n, PSHM_SUBSCRIBER, 0);
	cr_assert_eq(pshm_topic_publish(p, "ok", 2, 0), 0);
	char out[48];
	/* A complete stamp with a length past max_msg. */
	poke32(n, RING_OFF + 8, 1000);
	cr_expect_eq(pshm_topic_recv(s, out, sizeof(out), 0), -EPROTO);
	const void *ptr;
	cr_expect_eq(pshm_topic_peek(s, &ptr, 0), -EPROTO);
	/* Stamps from the far future: skipped a bounded number at a time. */
	for (int i = 0; i < 64; i++)
		poke64(n, RING_OFF + 64 * i, UINT64_MAX - 1);
	for (int i = 0; i < 10; i++) {
		ssize_t r = pshm_topic_recv(s, out, sizeof(out), 0);
		cr_expect(r == -EAGAIN, "%zd", r);
	}
	cr_expect_gt(pshm_topic_missed(s), 0);
	/* A subscriber's cursor beyond the publisher does not let it write
	 * over anything: the publisher never trusts it. */
	poke64(n, OFF_SUBS + 8, UINT64_MAX);
	cr_expect_eq(pshm_topic_publish(p, "ok", 2, 0), 0);
	struct pshm_topic_info in;
	cr_expect_eq(pshm_topic_stat(n, &in), 0);
	pshm_topic_close(s);
	pshm_topic_close(p);
}

/* Every operation runs under the SIGBUS guard. */
Test(topic_hostile, truncated_segment_is_efault)
{
	const char *n = mktopic("trunc", 65536, 1000, 0, 0);
	pshm_topic *p = topen(n, PSHM_PUBLISHER, 0), *s = topen(n, PSHM_SUBSCRIBER, 0);
	int fd = pshm_topic_fd(s);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pshm_topic_publish(p, "hi", 2, 0), 0);
	char path[300], b[1000];
	cr_assert_eq(truncate(th_path(n, path, sizeof(path)), 0), 0);
	const void *ptr;
	void *w;
	cr_expect_eq(pshm_topic_recv(s, b, sizeof(b), 0), -EFAULT);
	cr_expect_eq(pshm_topic_peek(s, &ptr, 0), -EFAULT);
	cr_expect_eq(pshm_topic_publish(p, b, sizeof(b), 0), -EFAULT);
	cr_expect_eq(pshm_topic_reserve(p, 10, &w, 0), -EFAULT);
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	cr_expect_eq(poll(&pf, 1, 5000), 1, "the poll thread faults too, and says so");
	struct pshm_topic_info in;
	cr_expect_eq(pshm_topic_stat(n, &in), -EPROTO);
	pshm_topic_close(p);
	pshm_topic_close(s); /* the poll thread, faulting too, stops */
}

#define CLAIM ((uint64_t)256 << 20)

/* A header that claims a 256 MiB ring over a file of holes: refused before
 * anything reads it through a mapping (which would allocate the holes). */
Test(topic_hostile, sparse_topic_is_enodata_and_allocates_nothing)
{
	const char *n = mktopic("sparse", 4096, 48, 0, 0);
	int fd = fd_of(n);
	uint64_t total = RING_OFF + CLAIM, ring = CLAIM;
	cr_assert_eq(pwrite(fd, &total, 8, OFF_TOTAL), 8);
	cr_assert_eq(pwrite(fd, &ring, 8, OFF_RING), 8);
	cr_assert_eq(ftruncate(fd, (off_t)total), 0);
	struct stat st0, st1;
	cr_assert_eq(fstat(fd, &st0), 0);
	pshm_topic *t;
	cr_expect_eq(pshm_topic_open(n, PSHM_SUBSCRIBER, 0, &t), -ENODATA);
	cr_expect_eq(pshm_topic_open(n, PSHM_PUBLISHER, 0, &t), -ENODATA);
	struct pshm_topic_info in;
	cr_expect_eq(pshm_topic_stat(n, &in), 0, "described from its header alone");
	cr_expect_eq(in.ring_size, CLAIM);
	cr_assert_eq(fstat(fd, &st1), 0);
	cr_expect_eq(st1.st_blocks, st0.st_blocks, "nothing allocated");
	close(fd);
}

static const char *nobody_name;

static int nobody_opens(void *arg)
{
	unsigned role = *(unsigned *)arg;
	pshm_topic *t;
	int r = pshm_topic_open(nobody_name, role, PSHM_ALLOW_FOREIGN, &t);
	if (r == 0)
		pshm_topic_close(t);
	return -r;
}

static int nobody_stats(void *arg)
{
	(void)arg;
	struct pshm_topic_info in;
	return -pshm_topic_stat(nobody_name, &in);
}

Test(topic_hostile, another_user_is_refused_by_the_mode)
{
	if (!th_is_root())
		th_skip("needs root to become nobody");
	nobody_name = mktopic("perm", 4096, 48, 0, 0); /* 0600 */
	unsigned sub = PSHM_SUBSCRIBER, pub = PSHM_PUBLISHER;
	cr_expect_eq(th_as_nobody(nobody_opens, &sub), EACCES);
	cr_expect_eq(th_as_nobody(nobody_opens, &pub), EACCES);
	cr_expect_eq(th_as_nobody(nobody_stats, NULL), EACCES);
	/* Readable by others but not writable: a subscriber writes its
	 * cursor, so it needs write access too. */
	char p[300];
	cr_assert_eq(chmod(th_path(nobody_name, p, sizeof(p)), 0644), 0);
	cr_expect_eq(th_as_nobody(nobody_opens, &sub), EACCES);
	cr_expect_eq(th_as_nobody(nobody_stats, NULL), 0);
	/* Writable by everyone: refused by the open policy unless waived. */
	cr_assert_eq(chmod(th_path(nobody_name, p, sizeof(p)), 0666), 0);
	cr_expect_eq(th_as_nobody(nobody_opens, &sub), EPERM, "group/other-writable");
}
