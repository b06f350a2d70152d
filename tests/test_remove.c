/* SPDX-License-Identifier: MIT */
/*
 * test_remove.c — removing only what was examined: pshm_seg_unlink_same()
 * (same file, unchanged), pshm_chan_unlink() and pshm_box_unlink() (the
 * right kind), and what each refuses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"

TestSuite(remove, TH_FIXTURE, .timeout = 30);

static void mkbox(const char *n, mode_t mode)
{
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 16, mode, 0, &b), 0);
	pshm_box_close(b);
}

static void mkchan(const char *n, mode_t mode)
{
	struct pshm_chan_config c = { .ring_size = 4096 };
	cr_assert_eq(pshm_chan_create(n, &c, mode, 0), 0);
}

static void mklink(const char *n, const char *target)
{
	char p[300];
	cr_assert_eq(symlink(target, th_path(n, p, sizeof(p))), 0);
}

/* ---- pshm_seg_unlink_same ------------------------------------------------ */

Test(remove, unlink_same_removes_the_file_examined)
{
	const char *n = th_name("same");
	th_write_file(n, "abc", 3, 0600);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(pshm_seg_unlink_same(n, &st), 0);
	cr_expect_not(th_exists(n));
	cr_expect_eq(pshm_seg_unlink_same(n, &st), -ENOENT);
}

Test(remove, unlink_same_is_estale_for_a_replaced_file)
{
	const char *n = th_name("replaced");
	th_write_file(n, "abc", 3, 0600);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	/* Another file of the same name, size and mtime: only its inode
	 * differs. Keep the old one alive so the inode is not reused. */
	char p[300], q[300];
	snprintf(q, sizeof(q), "%s.old", th_path(n, p, sizeof(p)));
	cr_assert_eq(rename(p, q), 0);
	th_write_file(n, "abc", 3, 0600);
	struct timespec t[2] = { { 0, UTIME_OMIT }, { st.mtime_sec, st.mtime_nsec } };
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	cr_expect_eq(pshm_seg_unlink_same(n, &st), -ESTALE);
	unlink(q);
	cr_expect(th_exists(n), "nothing removed");
}

Test(remove, unlink_same_is_estale_after_a_change)
{
	const char *n = th_name("changed");
	th_write_file(n, "abc", 3, 0600);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	char p[300];
	th_path(n, p, sizeof(p));

	cr_assert_eq(truncate(p, 4), 0);
	struct timespec t[2] = { { 0, UTIME_OMIT }, { st.mtime_sec, st.mtime_nsec } };
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	cr_expect_eq(pshm_seg_unlink_same(n, &st), -ESTALE, "resized");
	cr_assert_eq(truncate(p, 3), 0);
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	struct timespec later[2] = { { 0, UTIME_OMIT }, { st.mtime_sec + 5, st.mtime_nsec } };
	cr_assert_eq(utimensat(AT_FDCWD, p, later, 0), 0);
	cr_expect_eq(pshm_seg_unlink_same(n, &st), -ESTALE, "written (mtime moved)");
	cr_expect(th_exists(n), "nothing removed");
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	cr_expect_eq(pshm_seg_unlink_same(n, &st), 0, "as examined again");
}

Test(remove, unlink_same_refusals)
{
	struct pshm_stat st;
	memset(&st, 0, sizeof(st));
	cr_expect_eq(pshm_seg_unlink_same(th_name("x"), NULL), -EINVAL);
	cr_expect_eq(pshm_seg_unlink_same("a/b", &st), -EINVAL);
	cr_expect_eq(pshm_seg_unlink_same(th_name("none"), &st), -ENOENT);
	const char *t = th_name("target");
	th_write_file(t, "abc", 3, 0600);
	cr_assert_eq(pshm_seg_stat(t, &st), 0);
	const char *l = th_name("link");
	char p[300];
	mklink(l, th_path(t, p, sizeof(p)));
	cr_expect_eq(pshm_seg_unlink_same(l, &st), -ENOTSUP, "a symlink is never followed");
	cr_expect(th_exists(l) && th_exists(t));
}

/* ---- pshm_chan_unlink / pshm_box_unlink ---------------------------------- */

Test(remove, each_kind_removes_only_its_own)
{
	const char *c = th_name("chan"), *b = th_name("box"), *r = th_name("raw");
	mkchan(c, 0);
	mkbox(b, 0);
	th_write_file(r, "PSHMBOX", 7, 0600);
	cr_expect_eq(pshm_box_unlink(c), -EPROTO);
	cr_expect_eq(pshm_chan_unlink(b), -EPROTO);
	cr_expect_eq(pshm_chan_unlink(r), -EPROTO);
	cr_expect_eq(pshm_box_unlink(r), -EPROTO);
	cr_expect(th_exists(c) && th_exists(b) && th_exists(r), "nothing removed");
	cr_expect_eq(pshm_chan_unlink(c), 0);
	cr_expect_eq(pshm_box_unlink(b), 0);
	cr_expect_not(th_exists(c));
	cr_expect_not(th_exists(b));
	cr_expect_eq(pshm_chan_unlink(c), -ENOENT);
	cr_expect_eq(pshm_box_unlink(b), -ENOENT);
}

Test(remove, attached_channel_keeps_working_after_unlink)
{
	const char *n = th_name("live");
	mkchan(n, 0);
	pshm_chan *p, *q;
	cr_assert_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &p), 0);
	cr_assert_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, &q), 0);
	cr_expect_eq(pshm_chan_unlink(n), 0);
	cr_expect_eq(pshm_chan_send(p, "hi", 2, 0), 0);
	char buf[8];
	cr_expect_eq(pshm_chan_recv(q, buf, sizeof(buf), 0), 2);
	pshm_chan_close(p);
	pshm_chan_close(q);
}

Test(remove, kind_unlink_refusals)
{
	cr_expect_eq(pshm_chan_unlink(NULL), -EINVAL);
	cr_expect_eq(pshm_box_unlink("a/b"), -EINVAL);
	char longname[PSHM_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_expect_eq(pshm_chan_unlink(longname), -ENAMETOOLONG);
	const char *c = th_name("chan"), *b = th_name("box");
	mkchan(c, 0);
	mkbox(b, 0);
	const char *lc = th_name("lchan"), *lb = th_name("lbox"), *d = th_name("dir");
	char p[300];
	mklink(lc, th_path(c, p, sizeof(p)));
	mklink(lb, th_path(b, p, sizeof(p)));
	cr_assert_eq(mkdir(th_path(d, p, sizeof(p)), 0700), 0);
	cr_expect_eq(pshm_chan_unlink(lc), -ENOTSUP);
	cr_expect_eq(pshm_box_unlink(lb), -ENOTSUP);
	cr_expect_eq(pshm_chan_unlink(d), -ENOTSUP);
	cr_expect_eq(pshm_box_unlink(d), -ENOTSUP);
	cr_expect(th_exists(lc) && th_exists(lb) && th_exists(c) && th_exists(b),
		  "neither the links nor their targets removed");
}

/* As nobody: root's 0600 channel and box cannot even be read (-EACCES),
 * root's 0644 ones can be read but not removed (-EPERM, sticky /dev/shm). */
static int unlink_as_nobody(void *arg)
{
	const char **n = arg;
	int bad = 0;
	if (pshm_chan_unlink(n[0]) != -EACCES)
		bad |= 1;
	if (pshm_box_unlink(n[1]) != -EACCES)
		bad |= 2;
	if (pshm_chan_unlink(n[2]) != -EPERM)
		bad |= 4;
	if (pshm_box_unlink(n[3]) != -EPERM)
		bad |= 8;
	struct pshm_stat st;
	if (pshm_seg_stat(n[3], &st) != 0 || pshm_seg_unlink_same(n[3], &st) != -EPERM)
		bad |= 16;
	return bad;
}

Test(remove, nobody_cannot_remove_roots)
{
	if (!th_is_root())
		th_skip("needs root to play another user");
	const char *n[4] = { th_name("c600"), th_name("b600"), th_name("c644"), th_name("b644") };
	mkchan(n[0], 0600);
	mkbox(n[1], 0600);
	mkchan(n[2], 0644);
	mkbox(n[3], 0644);
	cr_expect_eq(th_as_nobody(unlink_as_nobody, n), 0);
	for (int i = 0; i < 4; i++)
		cr_expect(th_exists(n[i]), "%s still there", n[i]);
}
