/*
 * test_seg.c — the segment layer: names, create/open policy, anonymous
 * segments, resize, guarded reads, pread/pwrite, unlink, stat, list, users.
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
#include "stress.h"
#include "pshm.h"
#include "../src/internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- fixture: names, extra paths, children ---------------------------- */

static char extra[8][256];
static unsigned n_extra;

static void extra_path(const char *p)
{
	cr_assert_lt(n_extra, 8);
	snprintf(extra[n_extra++], sizeof(extra[0]), "%s", p);
}

static void seg_fini(void)
{
	for (unsigned i = 0; i < n_extra; i++)
		unlink(extra[i]);
	n_extra = 0;
	th_cleanup();
}

TestSuite(seg, .init = th_setup, .fini = seg_fini, .timeout = 60);

static int scale(void)
{
	const char *s = getenv("PSHM_TEST_SCALE");
	int v = s ? atoi(s) : 1;
	return v > 0 ? v : 1;
}

static pshm_seg *mk(const char *name, size_t size)
{
	pshm_seg *s = NULL;
	int r = pshm_seg_create(name, size, 0, 0, &s);
	cr_assert_eq(r, 0, "create %s: %s", name, pshm_strerror(r));
	return s;
}



static void link_to(const char *target, const char *name)
{
	char p[300];
	cr_assert_eq(symlink(target, th_path(name, p, sizeof(p))), 0, "symlink: %s",
		     strerror(errno));
}

/* Wait for @pid and return its exit status, or 128 + signal. */
static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

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
	if (unshare(CLONE_NEWNS) < 0)
		return 77;
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64k") < 0)
		return 77;
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
	if (!th_is_root())
		th_skip("needs root for a private tmpfs");
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(full_dev_shm());
	int r = wait_status(pid);
	if (r == 77)
		th_skip("cannot mount a private tmpfs here (unshare refused)");
	cr_expect_eq(r, 0, "step %d failed", r);
}

/* ---- the guarded read --------------------------------------------------- */

/* Truncate @name to @size from another process. */
static void truncate_elsewhere(const char *name, off_t size)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char p[300];
		_exit(truncate(th_path(name, p, sizeof(p)), size) == 0 ? 0 : 1);
	}
	cr_assert_eq(wait_status(pid), 0);
}

Test(seg, guarded_read_of_a_truncated_segment_is_efault)
{
	const char *n = th_name("trunc");
	pshm_seg *s = mk(n, 1 << 20);
	memset(pshm_seg_addr(s), 'a', 1 << 20);
	static char buf[1 << 20];
	cr_assert_eq(pshm_seg_read(s, buf, sizeof(buf), 0), 0);
	truncate_elsewhere(n, 0);
	cr_expect_eq(pshm_seg_read(s, buf, 4096, 0), -EFAULT);
	cr_expect_eq(pshm_seg_read(s, buf, sizeof(buf), 0), -EFAULT);
	cr_expect_eq(pshm_seg_read(s, buf, 1, 12345), -EFAULT, "again, and anywhere");
	/* Truncated to half: the first half still reads, the rest faults. */
	cr_assert_eq(pshm_seg_resize(s, 1 << 20), 0);
	truncate_elsewhere(n, 1 << 19);
	cr_expect_eq(pshm_seg_read(s, buf, 1 << 19, 0), 0);
	cr_expect_eq(pshm_seg_read(s, buf, 16, (1 << 19) - 8), -EFAULT, "straddles the end");
	cr_expect_eq(pshm_seg_read(s, buf, 1, 1 << 19), -EFAULT);
	pshm_seg_close(s);
}

Test(seg, guarded_read_survives_truncation_during_the_copy)
{
	const char *n = th_name("race");
	const size_t size = 16 << 20;
	char *buf = malloc(size);
	cr_assert_not_null(buf);
	int rounds = 10 * scale(), faults = 0;
	pshm_seg *s = mk(n, size);
	for (int i = 0; i < rounds; i++) {
		cr_assert_eq(pshm_seg_resize(s, size), 0);
		memset(pshm_seg_addr(s), 'r', size);
		int go[2];
		cr_assert_eq(pipe(go), 0);
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			char c, p[300];
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(2);
			/* Let the copy start, then pull the pages from under it. */
			for (volatile int k = 0; k < i * 20000; k++)
				;
			_exit(truncate(th_path(n, p, sizeof(p)), 0) == 0 ? 0 : 1);
		}
		close(go[0]);
		cr_assert_eq(write(go[1], "g", 1), 1);
		close(go[1]);
		int r;
		do
			r = pshm_seg_read(s, buf, size, 0);
		while (r == 0 && waitpid(pid, NULL, WNOHANG) == 0);
		cr_expect(r == 0 || r == -EFAULT, "round %d: %d", i, r);
		faults += r == -EFAULT;
		waitpid(pid, NULL, 0);
		cr_expect_eq(pshm_seg_read(s, buf, size, 0), -EFAULT, "after the truncation");
	}
	cr_expect_gt(faults, 0, "at least one copy was cut short");
	pshm_seg_close(s);
	free(buf);
}

/* A SIGBUS outside a guarded copy is not swallowed: the process dies of it
 * (or, under ASan, ASan reports it: its handler was there first). */
Test(seg, sigbus_outside_the_guard_still_kills)
{
	const char *n = th_name("bus");
	pshm_seg *s = mk(n, 8192);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char b[16], p[300];
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 2); /* ASan's report is expected noise */
		if (pshm_seg_read(s, b, 16, 0) != 0) /* installs the handler */
			_exit(3);
		if (truncate(th_path(n, p, sizeof(p)), 0) != 0)
			_exit(4);
		if (pshm_seg_read(s, b, 16, 0) != -EFAULT)
			_exit(5);
		volatile char c = ((volatile char *)pshm_seg_addr(s))[0];
		(void)c;
		_exit(0);
	}
	int r = wait_status(pid);
	if (UNDER_ASAN)
		cr_expect(r != 0 && r < 3, "ASan reported the fault (status %d)", r);
	else
		cr_expect_eq(r, 128 + SIGBUS, "died of SIGBUS (status %d)", r);
	pshm_seg_close(s);
}

static void user_bus_handler(int sig)
{
	(void)sig;
	_exit(42);
}

Test(seg, sigbus_outside_the_guard_reaches_the_previous_handler)
{
	const char *n = th_name("chain");
	pshm_seg *s = mk(n, 8192);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char b[16], p[300];
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = user_bus_handler;
		sigaction(SIGBUS, &sa, NULL);
		if (truncate(th_path(n, p, sizeof(p)), 0) != 0)
			_exit(4);
		if (pshm_seg_read(s, b, 16, 0) != -EFAULT) /* ours, handled */
			_exit(5);
		volatile char c = ((volatile char *)pshm_seg_addr(s))[0]; /* theirs */
		(void)c;
		_exit(0);
	}
	cr_expect_eq(wait_status(pid), 42, "the program's own handler ran");
	pshm_seg_close(s);
}

/* Two threads: one reads a segment that gets truncated, the other one that
 * does not; the fault of one never disturbs the other (tests/stress_seg.c,
 * also run under ThreadSanitizer by tests/tsan_main.c). */
Test(seg, guard_threads_fault_independently)
{
	char err[256] = "";
	cr_assert_eq(stress_guard_threads(err, sizeof(err)), 0, "%s", err);
}

/* ---- stat, list, users -------------------------------------------------- */

Test(seg, stat_reports_size_allocation_owner_mode_times_kind)
{
	const char *n = th_name("stat");
	pshm_seg *s;
	cr_assert_eq(pshm_seg_create(n + 1, 10000, 0640, 0, &s), 0);
	pshm_seg_close(s);
	struct timespec ts[2] = { { 1000000000, 5 }, { 1234567890, 123456789 } };
	cr_assert_eq(utimensat(AT_FDCWD, th_path(n, (char[300]){ 0 }, 300), ts, 0), 0);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n + 1, &st), 0);
	cr_expect_str_eq(st.name, n, "canonical name");
	cr_expect_eq(st.size, 10000);
	cr_expect_geq(st.allocated, 10000, "reserved at create");
	cr_expect_eq(st.uid, geteuid());
	cr_expect_eq(st.gid, getegid());
	cr_expect(S_ISREG(st.mode));
	cr_expect_eq(st.mode & 07777, 0640);
	cr_expect_eq(st.mtime_sec, 1234567890);
	cr_expect_eq(st.mtime_nsec, 123456789);
	cr_expect_eq(st.atime_sec, 1000000000);
	cr_expect_gt(st.ctime_sec, 1234567890);
	cr_expect_eq(st.kind, PSHM_KIND_RAW);

	const char *sparse = th_name("stat");
	th_write_file(sparse, "", 0, 0600);
	char p[300];
	cr_assert_eq(truncate(th_path(sparse, p, sizeof(p)), 1 << 20), 0);
	cr_assert_eq(pshm_seg_stat(sparse, &st), 0);
	cr_expect_eq(st.size, 1 << 20);
	cr_expect_eq(st.allocated, 0, "ftruncate reserves nothing");

	const char *box = th_name("kbox"), *chan = th_name("kchan"), *shortf = th_name("kshort");
	th_write_file(box, "PSHMBOX1....", 12, 0600);
	th_write_file(chan, "PSHCHAN1....", 12, 0600);
	th_write_file(shortf, "PSHM", 4, 0600);
	cr_assert_eq(pshm_seg_stat(box, &st), 0);
	cr_expect_eq(st.kind, PSHM_KIND_BOX);
	cr_assert_eq(pshm_seg_stat(chan, &st), 0);
	cr_expect_eq(st.kind, PSHM_KIND_CHAN);
	cr_assert_eq(pshm_seg_stat(shortf, &st), 0);
	cr_expect_eq(st.kind, PSHM_KIND_RAW);
}

static const struct pshm_stat *find(const struct pshm_stat *v, ssize_t n, const char *name)
{
	for (ssize_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

Test(seg, list_shows_segments_and_other_entries_sorted_without_semaphores)
{
	const char *b = th_name("list-b"), *a = th_name("list-a"), *l = th_name("list-l");
	const char *d = th_name("list-d");
	pshm_seg *s = mk(b, 4096);
	pshm_seg_close(s);
	th_write_file(a, "PSHMBOX1", 8, 0600);
	link_to("/etc/passwd", l);
	char p[300];
	cr_assert_eq(mkdir(th_path(d, p, sizeof(p)), 0700), 0);
	char sem[300], semname[200];
	snprintf(semname, sizeof(semname), "/sem.pshm-test-list-%d", (int)getpid());
	th_path(semname, sem, sizeof(sem));
	extra_path(sem);
	int fd = open(sem, O_CREAT | O_WRONLY | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	close(fd);

	struct pshm_stat *v;
	ssize_t n = pshm_seg_list(&v);
	cr_assert_geq(n, 4);
	for (ssize_t i = 1; i < n; i++)
		cr_expect_lt(strcmp(v[i - 1].name, v[i].name), 0, "sorted: %s, %s", v[i - 1].name,
			     v[i].name);
	for (ssize_t i = 0; i < n; i++)
		cr_expect_neq(strncmp(v[i].name, "/sem.", 5), 0, "semaphore %s listed", v[i].name);
	const struct pshm_stat *e;
	cr_assert_not_null(e = find(v, n, b));
	cr_expect_eq(e->kind, PSHM_KIND_RAW);
	cr_expect_eq(e->size, 4096);
	cr_assert_not_null(e = find(v, n, a));
	cr_expect_eq(e->kind, PSHM_KIND_BOX);
	cr_assert_not_null(e = find(v, n, l));
	cr_expect_eq(e->kind, PSHM_KIND_OTHER);
	cr_expect(S_ISLNK(e->mode));
	cr_assert_not_null(e = find(v, n, d));
	cr_expect_eq(e->kind, PSHM_KIND_OTHER);
	cr_expect(S_ISDIR(e->mode));
	free(v);
}

/* A child that uses @name (mapping only, or descriptor only) until the
 * write end of @hold is closed. Reports readiness on @ready. */
static pid_t spawn_user(const char *name, bool map, const int ready[2], const int hold[2])
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid)
		return pid;
	close(ready[0]);
	close(hold[1]);
	pshm_seg *s;
	if (map) {
		/* Map, then let the descriptor go: only the mapping remains. */
		if (pshm_seg_open(name, PSHM_NOMAP, &s) < 0)
			_exit(1);
		void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, pshm_seg_fd(s), 0);
		if (p == MAP_FAILED)
			_exit(1);
		pshm_seg_close(s);
	} else if (pshm_seg_open(name, PSHM_NOMAP, &s) < 0) {
		_exit(1);
	}
	char c;
	if (write(ready[1], "r", 1) != 1)
		_exit(1);
	while (read(hold[0], &c, 1) > 0)
		;
	_exit(0);
}

Test(seg, users_are_found_with_how_they_use_it)
{
	const char *n = th_name("users");
	pshm_seg *s = mk(n, 4096);
	pshm_seg_close(s);
	struct pshm_user *u = (struct pshm_user *)1;
	cr_expect_eq(pshm_seg_users(n, &u, NULL), 0, "nobody yet");
	cr_expect_null(u);

	int ready[2], hold[2];
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid_t mapper = spawn_user(n, true, ready, hold);
	pid_t holder = spawn_user(n, false, ready, hold);
	close(hold[0]);
	close(ready[1]);
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(read(ready[0], &c, 1), 1);

	ssize_t k = pshm_seg_users(n, &u, NULL);
	cr_assert_eq(k, 2, "two users, got %zd", k);
	cr_expect_lt(u[0].pid, u[1].pid, "sorted by pid");
	for (int i = 0; i < 2; i++) {
		if (u[i].pid == mapper)
			cr_expect_eq(u[i].how, PSHM_USE_MAP, "mapper: map only");
		else if (u[i].pid == holder)
			cr_expect_eq(u[i].how, PSHM_USE_FD, "holder: descriptor only");
		else
			cr_expect_fail("unexpected user %d", (int)u[i].pid);
		cr_expect_gt(strlen(u[i].comm), 0);
	}
	free(u);

	/* The caller itself shows up while it maps the segment. */
	cr_assert_eq(pshm_seg_open(n, 0, &s), 0);
	k = pshm_seg_users(n, &u, NULL);
	cr_assert_eq(k, 3);
	bool self = false;
	for (int i = 0; i < 3; i++)
		self |= u[i].pid == getpid() && u[i].how == (PSHM_USE_MAP | PSHM_USE_FD);
	cr_expect(self, "this process maps it and holds it");
	free(u);
	pshm_seg_close(s);

	close(hold[1]);
	cr_expect_eq(wait_status(mapper), 0);
	cr_expect_eq(wait_status(holder), 0);
	close(ready[0]);
	cr_expect_eq(pshm_seg_users(n, &u, NULL), 0, "all gone");
}

Test(seg, count_users_scans_once_for_many_segments)
{
	const char *a = th_name("cnt"), *b = th_name("cnt"), *link = th_name("cntlink");
	pshm_seg *sa = mk(a, 4096), *sb = mk(b, 4096);
	pshm_seg_close(sb);
	link_to("/etc/passwd", link);
	struct pshm_stat v[3];
	cr_assert_eq(pshm_seg_stat(a, &v[0]), 0);
	cr_assert_eq(pshm_seg_stat(b, &v[1]), 0);
	cr_assert_eq(pshm_seg_stat(link, &v[2]), 0);
	long counts[3] = { 7, 7, 7 };
	int complete = -1;
	cr_assert_eq(pshm_seg_count_users(v, 3, counts, &complete), 0);
	cr_expect_eq(counts[0], 1, "this process maps a");
	cr_expect_eq(counts[1], 0, "nobody uses b");
	cr_expect_eq(counts[2], -1, "a symlink is not a segment");
	cr_expect(complete == 0 || complete == 1);
	pshm_seg_close(sa);
	cr_assert_eq(pshm_seg_count_users(v, 3, counts, NULL), 0);
	cr_expect_eq(counts[0], 0);
	cr_expect_eq(pshm_seg_count_users(v, 0, NULL, NULL), 0, "nothing to count");
	cr_expect_eq(pshm_seg_count_users(NULL, 1, counts, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_count_users(v, 1, NULL, NULL), -EINVAL);
}

static int scan_as_nobody(void *arg)
{
	struct pshm_user *u;
	int complete = -1;
	ssize_t n = pshm_seg_users(arg, &u, &complete);
	if (n < 0)
		return 10;
	free(u);
	/* Root's processes (init, at least) cannot be inspected by nobody. */
	return complete == 0 ? 0 : 11;
}

Test(seg, users_scan_says_when_it_could_not_see_every_process)
{
	const char *n = th_name("blind");
	pshm_seg_close(mk(n, 4096));
	cr_expect_eq(th_as_nobody(scan_as_nobody, (void *)n), 0);
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

/* ---- kind of an open segment ---------------------------------------- */

Test(seg, kind_is_read_through_the_handle)
{
	const char *n = th_name("kind");
	pshm_seg *s = mk(n, 4096);
	cr_expect_eq(pshm_seg_kind(s), PSHM_KIND_RAW);
	pshm_seg_close(s);

	const char *b = th_name("kind");
	pshm_box *box;
	cr_assert_eq(pshm_box_create(b, 16, 0, 0, &box), 0);
	pshm_box_close(box);
	cr_assert_eq(pshm_seg_open(b, PSHM_RDONLY | PSHM_NOMAP, &s), 0);
	cr_expect_eq(pshm_seg_kind(s), PSHM_KIND_BOX);
	/* The handle, not the name: replaced by a raw segment, still a box. */
	cr_assert_eq(pshm_seg_unlink(b), 0);
	pshm_seg *t = mk(b, 16);
	cr_expect_eq(pshm_seg_kind(s), PSHM_KIND_BOX);
	cr_expect_eq(pshm_seg_kind(t), PSHM_KIND_RAW);
	pshm_seg_close(t);
	pshm_seg_close(s);

	const char *c = th_name("kind");
	struct pshm_chan_config cfg = { 0 };
	cr_assert_eq(pshm_chan_create(c, &cfg, 0, 0), 0);
	cr_assert_eq(pshm_seg_open(c, 0, &s), 0);
	cr_expect_eq(pshm_seg_kind(s), PSHM_KIND_CHAN);
	pshm_seg_close(s);

	const char *e = th_name("kind");
	cr_assert_eq(pshm_seg_create(e, 4, 0, 0, &s), 0);
	cr_expect_eq(pshm_seg_kind(s), PSHM_KIND_RAW, "shorter than a magic number");
	pshm_seg_close(s);

	cr_expect_eq(pshm_seg_kind(NULL), -EINVAL);
	cr_assert_eq(pshm_seg_anon(4096, &s), 0);
	cr_expect_eq(pshm_seg_kind(s), -EINVAL);
	pshm_seg_close(s);
}
