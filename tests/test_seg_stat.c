/* SPDX-License-Identifier: MIT */
/*
 * test_seg_stat.c — describing segments: stat, list, the users of a
 * segment (and how they use it), and the kind of an open segment.
 *
 * Children that hold a segment wait on a pipe whose write end only the
 * test holds, so they exit with it even if the test dies.
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

TestSuite(seg_stat, SEG_FIXTURE, .timeout = 60);

/* ---- stat, list, users -------------------------------------------------- */

Test(seg_stat, stat_reports_size_allocation_owner_mode_times_kind)
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

Test(seg_stat, list_shows_segments_and_other_entries_sorted_without_semaphores)
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

Test(seg_stat, users_are_found_with_how_they_use_it)
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

Test(seg_stat, count_users_scans_once_for_many_segments)
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

Test(seg_stat, users_scan_says_when_it_could_not_see_every_process)
{
	const char *n = th_name("blind");
	pshm_seg_close(mk(n, 4096));
	cr_expect_eq(th_as_nobody(scan_as_nobody, (void *)n), 0);
}


/* ---- kind of an open segment ---------------------------------------- */

Test(seg_stat, kind_is_read_through_the_handle)
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
