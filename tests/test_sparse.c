/* SPDX-License-Identifier: MIT */
/*
 * test_sparse.c — a box or channel whose file has holes where its header
 * claims data is refused with -ENODATA before anything reads it through a
 * mapping (reading a hole of tmpfs through a shared mapping allocates it:
 * a planted sparse segment would fill /dev/shm); and channel sizes whose
 * record alignment overflows are refused at creation.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cli_helpers.h"
#include "helpers.h"
#include "pshm.h"
#include "test_chan.h"

TestSuite(sparse, TH_FIXTURE, .timeout = 60);

#define CLAIM ((uint64_t)256 << 20) /* what the forged headers claim */

static int open_file(const char *name)
{
	char p[300];
	int fd = open(th_path(name, p, sizeof(p)), O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", p);
	return fd;
}

static blkcnt_t blocks_of(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_blocks;
}

static uint64_t shm_free(void)
{
	struct statvfs v;
	cr_assert_eq(statvfs("/dev/shm", &v), 0);
	return (uint64_t)v.f_bfree * v.f_frsize;
}

/* Nothing of the claim was allocated: the file's blocks did not grow, and
 * /dev/shm did not lose anything near the claim (other processes may use
 * a little meanwhile). */
static void nothing_allocated(int fd, blkcnt_t blocks, uint64_t free0)
{
	cr_expect_eq(blocks_of(fd), blocks, "the file's blocks grew");
	uint64_t free1 = shm_free();
	cr_expect(free1 + CLAIM / 4 > free0, "/dev/shm lost %llu bytes",
		  (unsigned long long)(free0 - free1));
}

/* A box whose header claims a value of CLAIM bytes in a file of one page. */
static const char *sparse_box(int *fd)
{
	const char *n = th_name("sbox");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 32, 0600, 0, &b), 0);
	cr_assert_eq(pshm_box_write(b, "hello", 5), 0);
	pshm_box_close(b);
	*fd = open_file(n);
	uint64_t cap = CLAIM, total = 64 + CLAIM, len = CLAIM;
	cr_assert_eq(pwrite(*fd, &cap, 8, 16), 8);
	cr_assert_eq(pwrite(*fd, &total, 8, 24), 8);
	cr_assert_eq(pwrite(*fd, &len, 8, 40), 8);
	cr_assert_eq(ftruncate(*fd, (off_t)total), 0);
	return n;
}

Test(sparse, box_open_and_get_refuse_a_sparse_box)
{
	int fd;
	const char *n = sparse_box(&fd);
	blkcnt_t blocks = blocks_of(fd);
	uint64_t free0 = shm_free();
	pshm_box *b = NULL;
	cr_expect_eq(pshm_box_open(n, PSHM_RDONLY, &b), -ENODATA);
	cr_expect_null(b);
	cr_expect_eq(pshm_box_open(n, PSHM_BOX_UNCHECKED, &b), -ENODATA);
	struct pshm_box_info in;
	cr_expect_eq(pshm_box_stat(n, &in), 0, "stat reads the header only (pread)");
	nothing_allocated(fd, blocks, free0);
	cr_expect_neq(pshm(NULL, "get %s", n), 0);
	cr_expect(strstr(err, "sparse"), "%s", err);
	nothing_allocated(fd, blocks, free0);
	close(fd);
}

Test(sparse, channel_open_refuses_a_sparse_ring)
{
	const char *n = th_name("schan");
	struct pshm_chan_config c = { .ring_size = 4096, .max_msg = 1024 };
	cr_assert_eq(pshm_chan_create(n, &c, 0600, 0), 0);
	int fd = open_file(n);
	uint32_t ring_off;
	cr_assert_eq(pread(fd, &ring_off, 4, CL_RING_OFF), 4);
	uint64_t ring = CLAIM, total = ring_off + CLAIM;
	cr_assert_eq(pwrite(fd, &ring, 8, CL_RING_SIZE), 8);
	cr_assert_eq(pwrite(fd, &total, 8, CL_TOTAL), 8);
	cr_assert_eq(ftruncate(fd, (off_t)total), 0);
	blkcnt_t blocks = blocks_of(fd);
	uint64_t free0 = shm_free();
	for (unsigned role = PSHM_PRODUCER; role <= PSHM_CONSUMER; role++) {
		pshm_chan *ch = NULL;
		cr_expect_eq(pshm_chan_open(n, role, 0, &ch), -ENODATA, "role %u", role);
		cr_expect_null(ch);
	}
	struct pshm_chan_info in;
	cr_expect_eq(pshm_chan_stat(n, &in), 0, "stat reads with pread");
	cr_expect_eq(in.ring_size, CLAIM);
	nothing_allocated(fd, blocks, free0);
	cr_expect_neq(pshm(NULL, "recv %s --timeout 0", n), 0);
	cr_expect(strstr(err, "sparse"), "%s", err);
	nothing_allocated(fd, blocks, free0);
	close(fd);
}

Test(sparse, alignment_overflow_of_max_msg_is_refused)
{
	const char *n = th_name("ovf");
	struct pshm_chan_config c = { .max_msg = (size_t)18446744073709551608u };
	cr_expect_eq(pshm_chan_create(n, &c, 0600, 0), -EINVAL);
	cr_expect_not(th_exists(n));
	cr_expect_eq(pshm(NULL, "chan create %s --max-msg 18446744073709551608", n), 2);
	cr_expect(strstr(err, "--max-msg"), "%s", err);
	cr_expect_not(th_exists(n));
}
