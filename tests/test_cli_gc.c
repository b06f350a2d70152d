/* SPDX-License-Identifier: MIT */
/*
 * test_cli_gc.c — `pshm gc` removes only what it can prove unused, and
 * `pshm who` sees every holder: threads whose main thread has exited, the
 * caller's own non-dumpable processes, a scan that runs out of
 * descriptors, a segment replaced while gc runs, and a PID namespace
 * that hides processes.
 */
#include <grp.h>
#include <pthread.h>
#include <sched.h>

#include "cli_seg.h"

CLI_SEG_SUITE(cli_gc);

/* 1906: older than anything another test makes (they use 1970 and 1980),
 * so that a gc --yes here never removes another test's segment. */
#define ANCIENT (-2000000000LL)
#define GC_ANCIENT "--older-than 40000d"

static void make_ancient(const char *name)
{
	struct timespec ts[2] = { { ANCIENT, 0 }, { ANCIENT, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, path(name), ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* An abandoned-looking segment: 0600, owned by @uid, ancient. */
static const char *ancient_seg(const char *tag, uid_t uid, gid_t gid)
{
	const char *n = th_name(tag);
	th_write_file(n, "some bytes", 10, 0600);
	cr_assert_eq(chown(path(n), uid, gid), 0);
	make_ancient(n);
	return n;
}

/* ---- a segment mapped by a thread whose main thread has exited --------- */

static const char *thread_seg;
static int thread_ready;

static void *mapper(void *arg)
{
	(void)arg;
	int fd = shm_open(thread_seg, O_RDONLY, 0);
	if (fd < 0 || mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
		_exit(1);
	close(fd);
	if (write(thread_ready, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
	return NULL;
}

/* A child whose only live thread maps @name; its main thread has called
 * pthread_exit(), so /proc/PID/maps and /proc/PID/fd read empty. */
static pid_t hold_from_thread(const char *name)
{
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		thread_seg = name;
		thread_ready = ready[1];
		pthread_t t;
		if (pthread_create(&t, NULL, mapper, NULL))
			_exit(1);
		pthread_exit(NULL);
	}
	close(ready[1]);
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1, "holder started");
	close(ready[0]);
	/* Wait until the main thread is gone: /proc/PID/maps then reads empty. */
	char maps[64];
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(maps, "r");
		int ch = f ? fgetc(f) : 0;
		if (f)
			fclose(f);
		if (ch == EOF)
			break;
		usleep(10000);
	}
	cr_assert_lt(n_kids, 8);
	kids[n_kids++] = pid;
	return pid;
}

Test(cli_gc, who_and_gc_see_a_thread_whose_main_thread_exited)
{
	const char *n = ancient_seg("gc-thread", getuid(), getgid());
	pid_t kid = hold_from_thread(n);

	struct pshm_user *u = NULL;
	int complete = -1;
	ssize_t k = pshm_seg_users(n, &u, &complete);
	cr_expect_eq(k, 1, "the thread's process is a user (got %zd)", k);
	if (k == 1) {
		cr_expect_eq(u[0].pid, kid, "listed under its process");
		cr_expect(u[0].how & PSHM_USE_MAP);
	}
	free(u);

	cr_assert_eq(pshm(NULL, "who %s", n), 0, "%s", err);
	char want[64];
	snprintf(want, sizeof(want), "%7d  map", (int)kid);
	cr_expect_not_null(strstr(out, want), "who shows the process: %s", out);

	cr_assert_eq(pshm(NULL, "gc --yes " GC_ANCIENT), 0, "%s", err);
	cr_expect(th_exists(n), "a mapped segment is not removed: %s%s", out, err);
}

/* ---- the caller's own process, not dumpable ----------------------------- */

struct nobody_map {
	const char *name;
	uid_t uid;
	gid_t gid;
};

/* Become @uid, non-dumpable as ssh-agent is (its /proc files are then
 * root's), and map the segment. */
static int map_undumpable(void *arg)
{
	const struct nobody_map *m = arg;
	if (setgroups(0, NULL) || setgid(m->gid) || setuid(m->uid))
		return -1;
	prctl(PR_SET_DUMPABLE, 0);
	int fd = shm_open(m->name, O_RDONLY, 0);
	if (fd < 0 || mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
		return -1;
	close(fd);
	return 0;
}

Test(cli_gc, gc_skips_what_an_unreadable_process_of_its_own_user_may_use)
{
	if (!th_is_root())
		th_skip("needs root to play nobody");
	uid_t uid;
	gid_t gid;
	th_nobody(&uid, &gid);
	const char *n = ancient_seg("gc-undumpable", uid, gid);
	struct nobody_map m = { n, uid, gid };
	spawn_holder(map_undumpable, &m);

	cr_expect_eq(nobody("gc --yes " GC_ANCIENT "%s", ""), 0, "%s", err);
	cr_expect(th_exists(n), "nobody's own unreadable process may use it: kept");
	char want[300];
	snprintf(want, sizeof(want), "pshm: gc '%s': skipped: cannot prove it unused", n);
	cr_expect_not_null(strstr(err, want), "says why: %s", err);
}

/* ---- a scan that runs out of descriptors --------------------------------- */

Test(cli_gc, gc_that_cannot_scan_proc_removes_nothing)
{
	const char *n = ancient_seg("gc-emfile", getuid(), getgid());
	/* 5 descriptors: /dev/shm can be listed, /proc not scanned. */
	int r = sh(NULL, "ulimit -n 5 && exec " P " gc --yes " GC_ANCIENT);
	cr_expect_eq(r, 1, "a failed scan is a failure: %d, %s", r, err);
	cr_expect(th_exists(n), "nothing removed: %s", out);
	cr_expect_not_null(strstr(err, "pshm: gc '/proc': the scan of the processes failed"),
			   "says the scan failed: %s", err);
	cr_expect_not_null(strstr(err, "nothing removed"), "%s", err);

	cr_expect_eq(sh(NULL, "ulimit -n 5 && exec " P " gc " GC_ANCIENT), 1, "%s", err);
	cr_expect_null(strstr(out, n), "not listed as abandoned: %s", out);
}

/* ---- a segment replaced while gc runs ----------------------------------- */

static pid_t spawn_gc(void)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(P, "pshm", "gc", "--yes", "--older-than", "45000d", (char *)NULL);
		_exit(127);
	}
	return pid;
}

Test(cli_gc, gc_never_removes_a_segment_replaced_under_the_same_name, .timeout = 120)
{
	/* A program replaces a stale segment with a fresh one it maps, while
	 * gc runs: whatever the timing, the fresh one survives. */
	const char *n = th_name("gc-race");
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned rounds = 0, lost = 0, replaced_in_time = 0;
	srand((unsigned)getpid());
	for (; rounds < 200; rounds++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 40)
			break; /* a slow machine: enough rounds */
		th_write_file(n, "stale", 5, 0600);
		/* 1900: older than the others here, and a gc of its own age,
		 * so that it removes no other test's segment. */
		struct timespec ts[2] = { { -2200000000LL, 0 }, { -2200000000LL, 0 } };
		cr_assert_eq(utimensat(AT_FDCWD, path(n), ts, AT_SYMLINK_NOFOLLOW), 0);
		pid_t gc = spawn_gc();
		usleep((useconds_t)(rand() % 15000));
		shm_unlink(n);
		int fd = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600);
		cr_assert_geq(fd, 0, "fresh: %s", strerror(errno));
		cr_assert_eq(ftruncate(fd, 4096), 0);
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		cr_assert_neq(p, MAP_FAILED);
		close(fd);
		memcpy(p, "fresh", 5);
		int st;
		pid_t w = waitpid(gc, &st, WNOHANG);
		replaced_in_time += w == 0;
		while (w == 0 || (w < 0 && errno == EINTR))
			w = waitpid(gc, &st, 0);
		cr_assert_eq(w, gc);
		if (!th_exists(n))
			lost++;
		munmap(p, 4096);
		shm_unlink(n);
	}
	cr_expect_eq(lost, 0, "the fresh segment was removed in %u of %u rounds", lost, rounds);
	cr_expect_gt(replaced_in_time, 0, "some replacements happened while gc ran");
}

/* ---- a PID namespace that hides processes ------------------------------- */

Test(cli_gc, gc_in_a_pid_namespace_removes_nothing)
{
	if (!th_is_root() || !has("unshare"))
		th_skip("needs root and unshare");
	if (sh(NULL, "unshare -p -f --mount-proc true"))
		th_skip("cannot make a PID namespace here: %s", err);
	/* The host's /dev/shm stays visible, as in a container that shares it:
	 * processes of the host may use the segment, and cannot be seen. */
	const char *n = ancient_seg("gc-pidns", getuid(), getgid());
	int r = sh(NULL, "unshare -p -f --mount-proc " P " gc --yes " GC_ANCIENT);
	cr_expect_eq(r, 0, "%s", err);
	cr_expect(th_exists(n), "kept: %s", out);
	char want[300];
	snprintf(want, sizeof(want), "pshm: gc '%s': skipped: cannot prove it unused", n);
	cr_expect_not_null(strstr(err, want), "says why: %s", err);
	cr_expect_not_null(strstr(err, "PID namespace"), "%s", err);

	/* And with a mount namespace of its own over the same /dev/shm. */
	r = sh(NULL, "unshare -m -p -f --mount-proc " P " gc --yes " GC_ANCIENT);
	cr_expect_eq(r, 0, "%s", err);
	cr_expect(th_exists(n), "kept: %s", out);

}

/* Boxes and channels are decided by the liveness lock that every libpshm
 * handle holds, which the kernel keeps across PID namespaces: gc removes an
 * unused one even where /proc is blind, and never one a process it cannot
 * see holds open. */
Test(cli_gc, gc_in_a_pid_namespace_decides_channels_by_their_lock)
{
	if (!th_is_root() || !has("unshare"))
		th_skip("needs root and unshare");
	if (sh(NULL, "unshare -p -f --mount-proc true"))
		th_skip("cannot make a PID namespace here: %s", err);
	const char *held = th_name("gc-held"), *idle = th_name("gc-idle");
	const char *raw = ancient_seg("gc-raw", getuid(), getgid());
	cr_assert_eq(sh(NULL, P " chan create %s --size 4K && " P " chan create %s --size 4K",
			held, idle), 0, "%s", err);
	/* The holder: a consumer in a PID namespace of its own, waiting; it
	 * dies with unshare (--kill-child). */
	pid_t holder = fork();
	cr_assert_neq(holder, -1);
	if (holder == 0) {
		execlp("unshare", "unshare", "--kill-child", "-p", "-f", "--mount-proc", P, "recv", held,
		       "--follow", (char *)NULL);
		_exit(127);
	}
	int attached = 0;
	for (int i = 0; i < 200 && !attached; i++) {
		struct pshm_chan_info in;
		attached = pshm_chan_stat(held, &in) == 0 && in.n_peers > 0 && in.peers[0].alive;
		if (!attached)
			usleep(10000);
	}
	cr_expect(attached, "the consumer attached");
	make_ancient(held);
	make_ancient(idle);
	int r = sh(NULL, "unshare -p -f --mount-proc " P " gc --yes " GC_ANCIENT);
	kill(holder, SIGKILL); /* and --kill-child takes the consumer with it */
	waitpid(holder, NULL, 0);
	cr_expect_eq(r, 0, "%s", err);
	cr_expect(th_exists(held), "a channel held open from another namespace is kept: %s", out);
	cr_expect_not(th_exists(idle), "an unused channel is removed, blind scan or not: %s%s",
		      out, err);
	cr_expect(th_exists(raw), "a raw segment is still only removed on proof: %s", out);
}

/* ---- the library's scan ------------------------------------------------- */

Test(cli_gc, seg_scan_says_which_entries_a_missed_process_may_use)
{
	const char *a = th_name("scan"), *link = th_name("scanlink");
	th_write_file(a, "x", 1, 0600);
	cr_assert_eq(symlink("/etc/passwd", path(link)), 0);
	struct pshm_stat v[2];
	cr_assert_eq(pshm_seg_stat(a, &v[0]), 0);
	cr_assert_eq(pshm_seg_stat(link, &v[1]), 0);
	long counts[2] = { 7, 7 };
	int unseen[2] = { 7, 7 }, complete = 7;
	cr_assert_eq(pshm_seg_scan(v, 2, counts, unseen, &complete), 0);
	cr_expect_eq(counts[0], 0);
	cr_expect_eq(counts[1], -1, "a symlink is not a segment");
	cr_expect(unseen[0] == 0 || unseen[0] == 1);
	cr_expect_eq(unseen[1], 0, "nobody uses what is not a segment");
	cr_expect(complete == 0 || complete == 1);
	cr_expect(!unseen[0] || !complete, "a blind spot makes the scan incomplete");
	cr_expect_eq(pshm_seg_scan(v, 2, counts, NULL, NULL), 0);
	cr_expect_eq(pshm_seg_scan(NULL, 1, counts, unseen, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_scan(v, 1, NULL, unseen, NULL), -EINVAL);
	cr_expect_eq(pshm_seg_scan(v, 0, NULL, NULL, NULL), 0, "nothing to scan");

	/* In a PID namespace of its own, every segment may have unseen users. */
	if (!th_is_root() || sh(NULL, "unshare -p -f --mount-proc true"))
		return;
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int c = 0, u = 0;
		long n = 0;
		if (unshare(CLONE_NEWPID) < 0)
			_exit(3);
		pid_t k = fork();
		if (k == 0)
			_exit(pshm_seg_scan(v, 1, &n, &u, &c) == 0 && u == 1 && c == 0 ? 0 : 1);
		int st;
		waitpid(k, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 2);
	}
	int st;
	waitpid(pid, &st, 0);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "in a PID namespace: status %d", st);
}
