/* SPDX-License-Identifier: MIT */
/*
 * test_seg.c — the segment layer: names, create/open policy, permissions,
 * symlinks and other entries never followed, anonymous segments, resize,
 * pread/pwrite, unlink, and the internal create with an initialiser. The
 * guarded read is in test_guard.c; stat, list, users and the kind of an
 * open segment in test_seg_stat.c.
 *
 * Every segment is named by th_name() and removed by the fixture; extra
 * entries (sem.* files, files outside /dev/shm) are registered with
 * extra_path() and removed there too. Children that hold a segment wait on
 * a pipe whose write end only the test holds, so they exit with it even if
 * the test dies.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"
#include "seg_helpers.h"
#include "../src/internal.h"

TestSuite(seg, SEG_FIXTURE, .timeout = 60);

/* ---- names ------------------------------------------------------------ */

Test(seg, every_entry_point_refuses_bad_names)
{
	char longname[301];
	memset(longname, 'a', 300);
	longname[300] = '\0';
	struct stat before;
	cr_assert_eq(stat("/etc/passwd", &before), 0);
	const char *bad[] = { "../etc/passwd", "a/b", "", ".", "..", "/", "/a/b", "x/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pshm_seg *s = (pshm_seg *)1;
		struct pshm_stat st;
		struct pshm_user *u;
		cr_expect_eq(pshm_seg_create(bad[i], 4096, 0, 0, &s), -EINVAL, "'%s'", bad[i]);
		cr_expect_null(s, "out is cleared on failure");
		cr_expect_eq(pshm_seg_create(bad[i], 4096, 0, PSHM_OPEN_EXISTING, &s), -EINVAL);
		cr_expect_eq(pshm_seg_open(bad[i], 0, &s), -EINVAL, "'%s'", bad[i]);
		cr_expect_eq(pshm_seg_unlink(bad[i]), -EINVAL, "'%s'", bad[i]);
		cr_expect_eq(pshm_seg_stat(bad[i], &st), -EINVAL, "'%s'", bad[i]);
		cr_expect_eq(pshm_seg_users(bad[i], &u, NULL), -EINVAL, "'%s'", bad[i]);
	}
	pshm_seg *s;
	struct pshm_stat st;
	struct pshm_user *u;
	cr_expect_eq(pshm_seg_create(longname, 4096, 0, 0, &s), -ENAMETOOLONG);
	cr_expect_eq(pshm_seg_open(longname, 0, &s), -ENAMETOOLONG);
	cr_expect_eq(pshm_seg_unlink(longname), -ENAMETOOLONG);
	cr_expect_eq(pshm_seg_stat(longname, &st), -ENAMETOOLONG);
	cr_expect_eq(pshm_seg_users(longname, &u, NULL), -ENAMETOOLONG);
	cr_expect_eq(pshm_seg_create(NULL, 4096, 0, 0, &s), -EINVAL);
	struct stat after;
	cr_assert_eq(stat("/etc/passwd", &after), 0);
	cr_expect_eq(after.st_size, before.st_size);
	cr_expect_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
}

Test(seg, plain_and_slash_name_are_one_segment)
{
	const char *n = th_name("slash");
	pshm_seg *a = mk(n + 1, 4096), *b;
	cr_assert_eq(pshm_seg_open(n, 0, &b), 0);
	cr_expect_str_eq(pshm_seg_name(a), n);
	cr_expect_str_eq(pshm_seg_name(b), n);
	strcpy(pshm_seg_addr(a), "same");
	cr_expect_str_eq(pshm_seg_addr(b), "same");
	pshm_seg_close(a);
	pshm_seg_close(b);
}

/* ---- create and open -------------------------------------------------- */

Test(seg, missing_segment_is_enoent)
{
	const char *n = th_name("missing");
	pshm_seg *s;
	struct pshm_stat st;
	struct pshm_user *u;
	cr_expect_eq(pshm_seg_open(n, 0, &s), -ENOENT);
	cr_expect_eq(pshm_seg_open(n, PSHM_RDONLY, &s), -ENOENT);
	cr_expect_eq(pshm_seg_unlink(n), -ENOENT);
	cr_expect_eq(pshm_seg_stat(n, &st), -ENOENT);
	cr_expect_eq(pshm_seg_users(n, &u, NULL), -ENOENT);
	cr_expect_not(th_exists(n), "nothing was created");
}

Test(seg, create_is_exclusive_unless_open_existing)
{
	const char *n = th_name("excl");
	pshm_seg *a = mk(n, 4096), *b = (pshm_seg *)1;
	strcpy(pshm_seg_addr(a), "first");
	cr_expect_eq(pshm_seg_create(n, 4096, 0, 0, &b), -EEXIST);
	cr_expect_null(b);
	cr_assert_eq(pshm_seg_create(n, 100, 0, PSHM_OPEN_EXISTING, &b), 0);
	cr_expect_eq(pshm_seg_size(b), 4096, "never shrunk");
	cr_expect_str_eq(pshm_seg_addr(b), "first", "contents kept");
	pshm_seg_close(b);
	cr_assert_eq(pshm_seg_create(n, 65536, 0, PSHM_OPEN_EXISTING, &b), 0);
	cr_expect_eq(pshm_seg_size(b), 65536, "grown to the size asked for");
	cr_expect_str_eq(pshm_seg_addr(b), "first");
	cr_expect_eq(th_lstat(n).st_size, 65536);
	pshm_seg_close(b);
	pshm_seg_close(a);
}

Test(seg, create_mode_is_0600_by_default_and_exact_otherwise)
{
	mode_t old = umask(0);
	const char *n1 = th_name("mode"), *n2 = th_name("mode"), *n3 = th_name("mode");
	pshm_seg *s = mk(n1, 4096);
	pshm_seg_close(s);
	cr_expect_eq(th_lstat(n1).st_mode & 07777, 0600);
	umask(077);
	cr_assert_eq(pshm_seg_create(n2, 4096, 0640, 0, &s), 0);
	pshm_seg_close(s);
	cr_expect_eq(th_lstat(n2).st_mode & 07777, 0640, "umask does not narrow it");
	cr_assert_eq(pshm_seg_create(n3, 4096, 0644, 0, &s), 0);
	pshm_seg_close(s);
	cr_expect_eq(th_lstat(n3).st_mode & 07777, 0644);
	cr_expect_eq(th_lstat(n3).st_uid, geteuid());
	umask(old);
}

Test(seg, bad_arguments_are_einval)
{
	const char *n = th_name("args");
	pshm_seg *s;
	cr_expect_eq(pshm_seg_create(n, 4096, 0, 0, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_create(n, 4096, 010000, 0, &s), -EINVAL, "mode > 07777");
	cr_expect_eq(pshm_seg_create(n, 4096, 0, 1u << 20, &s), -EINVAL, "unknown flag");
	cr_expect_eq(pshm_seg_open(n, 1u << 20, &s), -EINVAL, "unknown flag");
	cr_expect_eq(pshm_seg_open(n, 0, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_anon(4096, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_stat(n, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_users(n, NULL, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_list(NULL), -EINVAL);
	cr_expect_not(th_exists(n));
	/* Accessors and close accept NULL. */
	pshm_seg_close(NULL);
	cr_expect_null(pshm_seg_addr(NULL));
	cr_expect_eq(pshm_seg_size(NULL), 0);
	cr_expect_eq(pshm_seg_fd(NULL), -1);
	cr_expect_null(pshm_seg_name(NULL));
	cr_expect_eq(pshm_seg_read(NULL, NULL, 0, 0), -EINVAL);
	cr_expect_eq(pshm_seg_resize(NULL, 1), -EINVAL);
	cr_expect_eq(pshm_seg_pread(NULL, NULL, 0, 0), -EINVAL);
	cr_expect_eq(pshm_seg_pwrite(NULL, NULL, 0, 0), -EINVAL);
}

Test(seg, size_zero_is_einval_and_leaves_nothing)
{
	const char *n = th_name("zero");
	pshm_seg *s;
	cr_expect_eq(pshm_seg_create(n, 0, 0, 0, &s), -EINVAL);
	cr_expect_eq(pshm_seg_create(n, 0, 0, PSHM_OPEN_EXISTING, &s), -EINVAL);
	cr_expect_eq(pshm_seg_anon(0, &s), -EINVAL);
	cr_expect_not(th_exists(n));
	s = mk(n, 4096);
	cr_expect_eq(pshm_seg_resize(s, 0), -EINVAL);
	cr_expect_eq(pshm_seg_size(s), 4096);
	pshm_seg_close(s);
}

Test(seg, larger_than_dev_shm_is_enospc_and_leaves_nothing)
{
	struct statvfs vfs;
	cr_assert_eq(statvfs("/dev/shm", &vfs), 0);
	uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	const char *n = th_name("huge");
	pshm_seg *s = (pshm_seg *)1;
	int r = pshm_seg_create(n, (size_t)(2 * total + (1u << 20)), 0, 0, &s);
	cr_expect_eq(r, -ENOSPC, "got %s", pshm_strerror(r));
	cr_expect_null(s);
	cr_expect_not(th_exists(n), "a failed create leaves no segment behind");
	cr_expect_eq(pshm_seg_create(n, SIZE_MAX, 0, 0, &s), -EFBIG);
	cr_expect_not(th_exists(n));
	/* Growing an existing segment beyond /dev/shm fails the same way. */
	s = mk(n, 4096);
	cr_expect_eq(pshm_seg_resize(s, (size_t)(2 * total + (1u << 20))), -ENOSPC);
	cr_expect_eq(pshm_seg_size(s), 4096);
	pshm_seg_close(s);
}

Test(seg, open_maps_the_size_from_fstat)
{
	const char *n = th_name("open");
	th_write_file(n, "hello", 5, 0600);
	pshm_seg *s;
	cr_assert_eq(pshm_seg_open(n, 0, &s), 0);
	cr_expect_eq(pshm_seg_size(s), 5);
	cr_expect_eq(memcmp(pshm_seg_addr(s), "hello", 5), 0);
	cr_expect_geq(pshm_seg_fd(s), 0);
	memcpy(pshm_seg_addr(s), "HE", 2);
	pshm_seg_close(s);
	cr_assert_eq(pshm_seg_open(n, PSHM_RDONLY, &s), 0);
	cr_expect_eq(memcmp(pshm_seg_addr(s), "HEllo", 5), 0, "read-write mapping was shared");
	cr_expect_eq(pshm_seg_pwrite(s, "x", 1, 0), -EBADF, "read-only");
	cr_expect_eq(pshm_seg_resize(s, 10), -EBADF, "read-only");
	pshm_seg_close(s);
}

Test(seg, empty_segment_opens_unmapped)
{
	const char *n = th_name("empty");
	th_write_file(n, "", 0, 0600);
	pshm_seg *s;
	char c;
	cr_assert_eq(pshm_seg_open(n, 0, &s), 0);
	cr_expect_eq(pshm_seg_size(s), 0);
	cr_expect_null(pshm_seg_addr(s));
	cr_expect_eq(pshm_seg_read(s, &c, 0, 0), 0);
	cr_expect_eq(pshm_seg_read(s, &c, 1, 0), -ERANGE);
	cr_assert_eq(pshm_seg_resize(s, 4096), 0, "resize maps it");
	cr_expect_not_null(pshm_seg_addr(s));
	pshm_seg_close(s);
}

Test(seg, nomap_opens_without_mapping)
{
	const char *n = th_name("nomap");
	th_write_file(n, "abcdef", 6, 0600);
	pshm_seg *s;
	char b[8] = { 0 };
	cr_assert_eq(pshm_seg_open(n, PSHM_NOMAP, &s), 0);
	cr_expect_null(pshm_seg_addr(s));
	cr_expect_eq(pshm_seg_size(s), 6);
	cr_expect_eq(pshm_seg_read(s, b, 3, 0), -EINVAL, "no mapping to read from");
	cr_expect_eq(pshm_seg_pread(s, b, 3, 2), 3);
	cr_expect_str_eq(b, "cde");
	cr_assert_eq(pshm_seg_resize(s, 8192), 0);
	cr_expect_null(pshm_seg_addr(s), "still not mapped");
	cr_expect_eq(pshm_seg_size(s), 8192);
	cr_expect_eq(th_lstat(n).st_size, 8192);
	pshm_seg_close(s);
}

/* ---- permissions and the owner/mode policy ----------------------------- */

static int open_as_nobody(void *arg)
{
	pshm_seg *s;
	int a = pshm_seg_open(arg, 0, &s);
	int b = pshm_seg_open(arg, PSHM_RDONLY | PSHM_ALLOW_FOREIGN, &s);
	int c = pshm_seg_create(arg, 4096, 0, PSHM_OPEN_EXISTING | PSHM_ALLOW_FOREIGN, &s);
	int d = pshm_seg_unlink(arg);
	/* One byte back: which of the four went as expected. */
	return (a == -EACCES) | (b == -EACCES) << 1 | (c == -EACCES) << 2 | (d == -EPERM) << 3;
}

Test(seg, private_segment_is_eacces_for_another_user)
{
	const char *n = th_name("acces");
	pshm_seg *s = mk(n, 4096);
	int r = th_as_nobody(open_as_nobody, (void *)n);
	cr_expect_eq(r, 15, "open rw, open ro, create-or-open: -EACCES; unlink: -EPERM (got %#x)",
		     r);
	cr_expect(th_exists(n), "nobody could not remove it");
	pshm_seg_close(s);
}

Test(seg, foreign_owner_is_eperm_unless_allowed)
{
	if (!th_is_root())
		th_skip("needs root to give a file away");
	const char *n = th_name("foreign");
	char p[300];
	uid_t uid;
	gid_t gid;
	th_nobody(&uid, &gid);
	th_write_file(n, "squatted", 8, 0644);
	cr_assert_eq(chown(th_path(n, p, sizeof(p)), uid, gid), 0);
	pshm_seg *s = (pshm_seg *)1;
	cr_expect_eq(pshm_seg_open(n, 0, &s), -EPERM);
	cr_expect_null(s);
	cr_expect_eq(pshm_seg_open(n, PSHM_RDONLY, &s), -EPERM, "root is not exempt");
	cr_expect_eq(pshm_seg_create(n, 4096, 0, PSHM_OPEN_EXISTING, &s), -EPERM);
	cr_assert_eq(pshm_seg_open(n, PSHM_RDONLY | PSHM_ALLOW_FOREIGN, &s), 0);
	cr_expect_eq(memcmp(pshm_seg_addr(s), "squatted", 8), 0);
	pshm_seg_close(s);
	cr_expect_eq(th_lstat(n).st_size, 8, "the refused create did not grow it");
}

Test(seg, group_or_world_writable_is_eperm_unless_allowed)
{
	const mode_t bad[] = { 0620, 0602, 0660, 0666, 0622 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *n = th_name("shared");
		th_write_file(n, "x", 1, bad[i]);
		pshm_seg *s;
		cr_expect_eq(pshm_seg_open(n, 0, &s), -EPERM, "mode %o", (unsigned)bad[i]);
		cr_expect_eq(pshm_seg_open(n, PSHM_RDONLY, &s), -EPERM, "mode %o", (unsigned)bad[i]);
		cr_assert_eq(pshm_seg_open(n, PSHM_ALLOW_SHARED_WRITE, &s), 0);
		pshm_seg_close(s);
	}
	const char *n = th_name("shared");
	th_write_file(n, "x", 1, 0644);
	pshm_seg *s;
	cr_assert_eq(pshm_seg_open(n, 0, &s), 0, "readable by others is fine");
	pshm_seg_close(s);
	/* The creator chooses a shared mode; opening it again needs the flag. */
	const char *m = th_name("shared");
	cr_assert_eq(pshm_seg_create(m, 4096, 0666, 0, &s), 0);
	pshm_seg_close(s);
	cr_expect_eq(pshm_seg_create(m, 4096, 0666, PSHM_OPEN_EXISTING, &s), -EPERM);
	cr_assert_eq(pshm_seg_create(m, 4096, 0666, PSHM_OPEN_EXISTING | PSHM_ALLOW_SHARED_WRITE,
				     &s), 0);
	pshm_seg_close(s);
}

/* ---- symlinks, directories, FIFOs: never followed ---------------------- */

static void expect_refused(const char *n)
{
	pshm_seg *s = (pshm_seg *)1;
	const unsigned fl[] = { 0, PSHM_RDONLY, PSHM_NOMAP,
				PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE };
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		cr_expect_eq(pshm_seg_open(n, fl[i], &s), -ENOTSUP, "open %s flags %#x", n, fl[i]);
		cr_expect_null(s);
	}
	cr_expect_eq(pshm_seg_create(n, 4096, 0, 0, &s), -ENOTSUP, "create %s", n);
	cr_expect_eq(pshm_seg_create(n, 4096, 0, PSHM_OPEN_EXISTING, &s), -ENOTSUP);
	cr_expect_eq(pshm_seg_unlink(n), -ENOTSUP, "unlink %s", n);
	cr_expect(th_exists(n), "%s was not removed", n);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(st.kind, PSHM_KIND_OTHER);
}

Test(seg, symlink_is_never_followed)
{
	const char *target = th_name("target"), *link = th_name("link");
	th_write_file(target, "precious", 8, 0600);
	struct stat before = th_lstat(target);
	char p[300];
	link_to(th_path(target, p, sizeof(p)), link);
	expect_refused(link);
	cr_expect(S_ISLNK(th_lstat(link).st_mode));
	struct stat after = th_lstat(target);
	cr_expect_eq(after.st_size, 8, "target untouched");
	cr_expect_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	cr_expect_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	char buf[9] = { 0 };
	int fd = open(p, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_expect_eq(read(fd, buf, 8), 8);
	close(fd);
	cr_expect_str_eq(buf, "precious");
	struct pshm_user *u;
	cr_expect_geq(pshm_seg_users(link, &u, NULL), 0);
	free(u);
}

Test(seg, symlink_out_of_dev_shm_is_never_followed)
{
	char tmp[] = "/tmp/pshm-test-target-XXXXXX";
	int fd = mkstemp(tmp);
	cr_assert_geq(fd, 0);
	extra_path(tmp);
	cr_assert_eq(write(fd, "outside", 7), 7);
	close(fd);
	const char *link = th_name("link");
	link_to(tmp, link);
	expect_refused(link);
	struct stat st;
	cr_assert_eq(stat(tmp, &st), 0);
	cr_expect_eq(st.st_size, 7);
	cr_expect_eq(st.st_mode & 07777, 0600);
}

Test(seg, dangling_symlink_creates_nothing)
{
	const char *target = th_name("nowhere"), *link = th_name("link");
	char p[300];
	link_to(th_path(target, p, sizeof(p)), link);
	expect_refused(link);
	cr_expect_not(th_exists(target), "create did not go through the link");
}

Test(seg, directory_is_refused)
{
	const char *n = th_name("dir");
	char p[300];
	cr_assert_eq(mkdir(th_path(n, p, sizeof(p)), 0700), 0);
	expect_refused(n);
	cr_expect(S_ISDIR(th_lstat(n).st_mode));
}

Test(seg, fifo_is_refused_without_blocking, .timeout = 10)
{
	const char *n = th_name("fifo");
	char p[300];
	cr_assert_eq(mkfifo(th_path(n, p, sizeof(p)), 0600), 0);
	expect_refused(n);
	cr_expect(S_ISFIFO(th_lstat(n).st_mode));
}

/* ---- anonymous segments ------------------------------------------------ */

Test(seg, anonymous_segment_is_shared_across_fork)
{
	pshm_seg *s;
	cr_assert_eq(pshm_seg_anon(8192, &s), 0);
	cr_expect_eq(pshm_seg_size(s), 8192);
	cr_expect_eq(pshm_seg_fd(s), -1);
	cr_expect_null(pshm_seg_name(s));
	char *p = pshm_seg_addr(s);
	cr_assert_not_null(p);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		strcpy(p + 4096, "from the child");
		_exit(0);
	}
	cr_assert_eq(wait_status(pid), 0);
	cr_expect_str_eq(p + 4096, "from the child");
	char b[16];
	cr_expect_eq(pshm_seg_read(s, b, 15, 4096), 0);
	cr_expect_str_eq(b, "from the child");
	cr_expect_eq(pshm_seg_resize(s, 4096), -EINVAL, "anonymous: no file to resize");
	cr_expect_eq(pshm_seg_pread(s, b, 1, 0), -EINVAL);
	cr_expect_eq(pshm_seg_pwrite(s, b, 1, 0), -EINVAL);
	pshm_seg_close(s);
}

/* ---- resize, pread, pwrite, unlink ------------------------------------- */

Test(seg, resize_grows_reserves_and_shrinks)
{
	const char *n = th_name("resize");
	pshm_seg *s = mk(n, 4096);
	strcpy(pshm_seg_addr(s), "kept");
	cr_assert_eq(pshm_seg_resize(s, 1 << 20), 0);
	cr_expect_eq(pshm_seg_size(s), 1 << 20);
	cr_expect_str_eq(pshm_seg_addr(s), "kept");
	((char *)pshm_seg_addr(s))[(1 << 20) - 1] = 'z';
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(st.size, 1 << 20);
	cr_expect_geq(st.allocated, 1 << 20, "growth is reserved");
	cr_assert_eq(pshm_seg_resize(s, 100), 0);
	cr_expect_eq(pshm_seg_size(s), 100);
	cr_expect_str_eq(pshm_seg_addr(s), "kept");
	cr_expect_eq(th_lstat(n).st_size, 100);
	char b[8];
	cr_expect_eq(pshm_seg_read(s, b, 8, 96), -ERANGE);
	cr_expect_eq(pshm_seg_read(s, b, 0, 101), -ERANGE);
	cr_expect_eq(pshm_seg_read(s, b, 2, SIZE_MAX), -ERANGE);
	cr_expect_eq(pshm_seg_read(s, b, 4, 96), 0);
	pshm_seg_close(s);
}

Test(seg, nomap_handle_of_an_empty_segment_stays_unmapped_when_resized)
{
	const char *n = th_name("nomap0");
	th_write_file(n, "", 0, 0600);
	pshm_seg *s;
	cr_assert_eq(pshm_seg_open(n, PSHM_NOMAP, &s), 0);
	cr_assert_eq(pshm_seg_resize(s, 4096), 0);
	cr_expect_null(pshm_seg_addr(s), "PSHM_NOMAP means never mapped, whatever the size");
	cr_expect_eq(pshm_seg_size(s), 4096);
	cr_expect_eq(th_lstat(n).st_size, 4096);
	cr_expect_eq(pshm_seg_pwrite(s, "x", 1, 4095), 1);
	cr_assert_eq(pshm_seg_resize(s, 10), 0);
	cr_expect_null(pshm_seg_addr(s));
	cr_expect_eq(th_lstat(n).st_size, 10);
	pshm_seg_close(s);
}

/* In a child with almost no address space left: growing needs a larger
 * mapping, which fails; the file must be put back to its old size. */
static int grow_without_address_space(const char *n)
{
	pshm_seg *s;
	if (pshm_seg_open(n, 0, &s) < 0)
		return 10;
	strcpy(pshm_seg_addr(s), "kept");
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long vm_kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %lu kB", &vm_kb) == 1)
			break;
	if (f)
		fclose(f);
	if (!vm_kb)
		return 11;
	struct rlimit rl = { (vm_kb + 64) * 1024, (vm_kb + 64) * 1024 };
	if (setrlimit(RLIMIT_AS, &rl) < 0)
		return 12;
	int r = pshm_seg_resize(s, 8 << 20);
	struct stat st;
	if (fstat(pshm_seg_fd(s), &st) < 0)
		return 13;
	if (r != -ENOMEM)
		return 14;
	if (st.st_size != 4096 || pshm_seg_size(s) != 4096)
		return 15; /* the handle and the file disagree */
	if (strcmp(pshm_seg_addr(s), "kept"))
		return 16;
	pshm_seg_close(s);
	return 0;
}

Test(seg, failed_remap_puts_the_file_back_as_it_was)
{
	if (UNDER_ASAN)
		th_skip("AddressSanitizer needs an unlimited address space");
	const char *n = th_name("remapfail");
	pshm_seg_close(mk(n, 4096));
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(grow_without_address_space(n));
	cr_expect_eq(wait_status(pid), 0, "see grow_without_address_space() for the code");
	cr_expect_eq(th_lstat(n).st_size, 4096);
}

Test(seg, pread_and_pwrite_go_through_the_file)
{
	const char *n = th_name("pio");
	pshm_seg *s = mk(n, 4096);
	cr_expect_eq(pshm_seg_pwrite(s, "hello", 5, 10), 5);
	cr_expect_eq(memcmp((char *)pshm_seg_addr(s) + 10, "hello", 5), 0, "the mapping sees it");
	char b[16] = { 0 };
	cr_expect_eq(pshm_seg_pread(s, b, 5, 10), 5);
	cr_expect_str_eq(b, "hello");
	cr_expect_eq(pshm_seg_pread(s, b, sizeof(b), 4090), 6, "short at the end");
	cr_expect_eq(pshm_seg_pread(s, b, sizeof(b), 4096), 0, "0 at the end");
	cr_expect_eq(pshm_seg_pwrite(s, "grow", 4, 8192), 4, "past the end grows the file");
	cr_expect_eq(th_lstat(n).st_size, 8196);
	cr_expect_eq(pshm_seg_size(s), 4096, "the mapping stays as it was");
	cr_expect_eq(pshm_seg_pread(s, b, 4, 8192), 4);
	cr_expect_eq(memcmp(b, "grow", 4), 0);
	cr_expect_eq(pshm_seg_pwrite(s, b, 0, 0), 0);
	cr_expect_eq(pshm_seg_pread(s, b, 1, (uint64_t)INT64_MAX + 1), -EINVAL);
	cr_expect_eq(pshm_seg_pwrite(s, b, 1, (uint64_t)INT64_MAX + 1), -EINVAL);
	cr_expect_eq(pshm_seg_pwrite(s, b, 2, INT64_MAX), -EINVAL, "would overflow off_t");
	pshm_seg_close(s);
}

Test(seg, unlink_removes_the_name_not_the_mapping)
{
	const char *n = th_name("unlink");
	pshm_seg *s = mk(n, 4096), *t;
	strcpy(pshm_seg_addr(s), "still here");
	cr_assert_eq(pshm_seg_unlink(n), 0);
	cr_expect_not(th_exists(n));
	cr_expect_eq(pshm_seg_open(n, 0, &t), -ENOENT);
	cr_expect_eq(pshm_seg_unlink(n), -ENOENT);
	cr_expect_str_eq(pshm_seg_addr(s), "still here");
	pshm_seg_close(s);
}

/* Partial write on a full /dev/shm: in a child with its own mount namespace
 * and a 64 KiB tmpfs on /dev/shm (the real one is never filled). */
static int full_dev_shm(void)
{
	pshm_seg *s;
	if (pshm_seg_create("/full", 16384, 0, 0, &s) < 0)
		return 10;
	static char big[100000];
	memset(big, 'w', sizeof(big));
	ssize_t n = pshm_seg_pwrite(s, big, sizeof(big), 0);
	if (n <= 16384 || n >= (ssize_t)sizeof(big))
		return 11; /* wrote more than was reserved, then stopped short */
	if (pshm_seg_pwrite(s, big, 4096, (uint64_t)n) != -ENOSPC)
		return 12;
	char b[4];
	if (pshm_seg_pread(s, b, 4, (uint64_t)n - 4) != 4 || memcmp(b, "wwww", 4))
		return 13; /* what was written is there */
	pshm_seg *t;
	if (pshm_seg_create("/more", 4096, 0, 0, &t) != -ENOSPC)
		return 14;
	struct pshm_stat st;
	if (pshm_seg_stat("/more", &st) != -ENOENT)
		return 15; /* the failed create left nothing */
	if (pshm_seg_resize(s, 1 << 20) != -ENOSPC)
		return 16;
	pshm_seg_close(s);
	return 0;
}

Test(seg, partial_write_on_a_full_dev_shm)
{
	int r = th_in_small_shm("64k", full_dev_shm);
	cr_expect_eq(r, 0, "step %d failed", r);
}


/* ---- internal: create with an initialiser, complete before visible ------ */

struct init_arg {
	const char *name;
	int seen; /* did the name exist while we initialised? */
	int ret;
};

static int init_header(void *addr, size_t size, void *arg)
{
	struct init_arg *a = arg;
	struct pshm_stat st;
	a->seen = pshm_seg_stat(a->name, &st) == 0;
	memcpy(addr, "HEADER", 6);
	((char *)addr)[size - 1] = 'E';
	return a->ret;
}

Test(seg, create_init_publishes_a_complete_segment)
{
	const char *n = th_name("init");
	struct init_arg a = { .name = n, .ret = 0 };
	pshm_seg *s;
	cr_assert_eq(pshm__seg_create_init(n, 8192, 0, init_header, &a, &s), 0);
	cr_expect_eq(a.seen, 0, "the name appears only after the initialiser");
	cr_expect_eq(th_lstat(n).st_mode & 07777, 0600);
	cr_expect_eq(th_lstat(n).st_size, 8192);
	pshm_seg *t;
	cr_assert_eq(pshm_seg_open(n, PSHM_RDONLY, &t), 0);
	cr_expect_eq(memcmp(pshm_seg_addr(t), "HEADER", 6), 0);
	cr_expect_eq(((char *)pshm_seg_addr(t))[8191], 'E');
	pshm_seg_close(t);
	cr_expect_eq(pshm__seg_create_init(n, 8192, 0, init_header, &a, &t), -EEXIST);
	pshm_seg_close(s);

	const char *m = th_name("init");
	a = (struct init_arg){ .name = m, .ret = -EPROTO };
	cr_expect_eq(pshm__seg_create_init(m, 8192, 0640, init_header, &a, &s), -EPROTO);
	cr_expect_not(th_exists(m), "a failed initialiser leaves nothing");

	const char *l = th_name("init");
	link_to("/etc/passwd", l);
	a.ret = 0;
	cr_expect_eq(pshm__seg_create_init(l, 8192, 0, init_header, &a, &s), -ENOTSUP);
	cr_expect_eq(pshm__seg_create_init(m, 0, 0, NULL, NULL, &s), -EINVAL);
	cr_expect_eq(pshm__seg_create_init("a/b", 10, 0, NULL, NULL, &s), -EINVAL);
}
