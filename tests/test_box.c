/* SPDX-License-Identifier: MIT */
/*
 * test_box.c — boxes: CRC-32C, round trips, limits, concurrent hammering
 * (processes, and threads for ThreadSanitizer), writers that die mid-write.
 *
 * PSHM_TEST_SCALE (default 1) multiplies the hammering: at scale 1 the
 * process test makes at least 10^6 verified reads, the threads test 2*10^5
 * (ThreadSanitizer makes each one much slower).
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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/internal.h"
#include "helpers.h"
#include "stress.h"

TestSuite(box, TH_FIXTURE);

/* ---- CRC-32C ----------------------------------------------------------------- */

Test(box, crc32c_known_vectors)
{
	unsigned char zeros[32] = { 0 }, ones[32], inc[32];
	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++)
		inc[i] = (unsigned char)i;
	/* RFC 3720 (iSCSI), appendix B.4, and the usual check value. */
	cr_expect_eq(pshm__crc32c(0, "123456789", 9), 0xE3069283u);
	cr_expect_eq(pshm__crc32c_sw(0, "123456789", 9), 0xE3069283u);
	cr_expect_eq(pshm__crc32c(0, zeros, 32), 0x8A9136AAu);
	cr_expect_eq(pshm__crc32c(0, ones, 32), 0x62A8AB43u);
	cr_expect_eq(pshm__crc32c(0, inc, 32), 0x46DD794Eu);
	cr_expect_eq(pshm__crc32c(0, "", 0), 0u);
}

Test(box, crc32c_hardware_and_portable_agree_and_chain)
{
	unsigned char buf[1100];
	unsigned s = 12345;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 16);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 37) {
			uint32_t a = pshm__crc32c(0, buf + off, len);
			cr_assert_eq(a, pshm__crc32c_sw(0, buf + off, len), "off %zu len %zu", off, len);
			size_t h = len / 3;
			cr_assert_eq(a, pshm__crc32c(pshm__crc32c(0, buf + off, h), buf + off + h, len - h));
		}
}

/* ---- round trips and limits ---------------------------------------------------- */

Test(box, round_trip_every_length)
{
	const char *n = th_name("box");
	pshm_box *w, *r;
	cr_assert_eq(pshm_box_create(n, 100, 0, 0, &w), 0);
	cr_assert_eq(pshm_box_capacity(w), 100);
	cr_assert_eq(pshm_box_open(n, PSHM_RDONLY, &r), 0);
	char buf[100], out[100];
	cr_expect_eq(pshm_box_read(r, out, sizeof(out)), 0, "a new box holds the empty value");
	for (size_t len = 0; len <= 100; len++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)(len * 3 + i);
		cr_assert_eq(pshm_box_write(w, buf, len), 0);
		memset(out, 0x55, sizeof(out));
		cr_assert_eq(pshm_box_read(r, out, sizeof(out)), (ssize_t)len);
		cr_assert_arr_eq(out, buf, len);
	}
	struct pshm_box_info in;
	cr_expect_eq(pshm_box_verify(r, &in), 0);
	cr_expect_eq(in.capacity, 100);
	cr_expect_eq(in.length, 100);
	cr_expect_eq(in.seq, 2 * 101, "two per write");
	cr_expect_eq(in.writer, 0);
	pshm_box_close(r);
	pshm_box_close(w);
}

Test(box, segment_is_header_plus_capacity_and_private)
{
	const char *n = th_name("box");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 4096, 0, 0, &b), 0);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(st.size, 64 + 4096);
	cr_expect_eq(st.mode & 07777, 0600);
	cr_expect_eq(st.kind, PSHM_KIND_BOX);
	pshm_box_close(b);
}

Test(box, capacity_limits)
{
	const char *n = th_name("box");
	pshm_box *b;
	cr_expect_eq(pshm_box_create(n, 0, 0, 0, &b), -EINVAL, "capacity 0");
	cr_expect_eq(pshm_box_create(n, (size_t)PSHM_BOX_MAX_CAPACITY + 1, 0, 0, &b), -EFBIG);
	cr_expect_eq(pshm_box_create(n, 8, 0, PSHM_RDONLY, &b), -EINVAL, "not a create flag");
	cr_assert_eq(pshm_box_create(n, 8, 0, 0, &b), 0);
	cr_expect_eq(pshm_box_write(b, "123456789", 9), -EMSGSIZE, "one byte too long");
	cr_expect_eq(pshm_box_write(b, "12345678", 8), 0, "exactly the capacity");
	char out[8];
	cr_expect_eq(pshm_box_read(b, out, 7), -EMSGSIZE, "buffer too small");
	cr_expect_eq(pshm_box_read(b, out, 8), 8);
	cr_expect_eq(pshm_box_write(b, NULL, 3), -EINVAL);
	cr_expect_eq(pshm_box_write(b, NULL, 0), 0, "the empty value");
	cr_expect_eq(pshm_box_read(b, NULL, 0), 0);
	cr_expect_eq(pshm_box_read(NULL, out, 8), -EINVAL);
	pshm_box_close(b);
}

Test(box, create_is_exclusive_unless_asked)
{
	const char *n = th_name("box");
	pshm_box *a, *b;
	cr_assert_eq(pshm_box_create(n, 16, 0, 0, &a), 0);
	cr_expect_eq(pshm_box_create(n, 16, 0, 0, &b), -EEXIST);
	cr_assert_eq(pshm_box_write(a, "kept", 4), 0);
	cr_assert_eq(pshm_box_create(n, 999, 0, PSHM_OPEN_EXISTING, &b), 0);
	cr_expect_eq(pshm_box_capacity(b), 16, "the existing capacity is kept");
	char out[16];
	cr_expect_eq(pshm_box_read(b, out, sizeof(out)), 4, "and so is the value");
	pshm_box_close(a);
	pshm_box_close(b);
}

Test(box, raw_segment_is_not_a_box)
{
	const char *n = th_name("raw");
	th_write_file(n, "just some bytes, not a box at all; long enough for a header....", 64, 0600);
	pshm_box *b;
	cr_expect_eq(pshm_box_open(n, 0, &b), -EPROTO);
	cr_expect_eq(pshm_box_create(n, 16, 0, PSHM_OPEN_EXISTING, &b), -EPROTO);
	cr_expect_eq(pshm_box_open(th_name("none"), 0, &b), -ENOENT);
}

Test(box, read_only_handle_cannot_write)
{
	const char *n = th_name("box");
	pshm_box *a, *r;
	cr_assert_eq(pshm_box_create(n, 16, 0, 0, &a), 0);
	cr_assert_eq(pshm_box_open(n, PSHM_RDONLY, &r), 0);
	cr_expect_eq(pshm_box_write(r, "x", 1), -EBADF);
	pshm_box_close(a);
	pshm_box_close(r);
}

/* ---- hammering ------------------------------------------------------------------ */

Test(box, hammer_processes_never_torn, .timeout = 240)
{
	enum { WRITERS = 3, READERS = 3 };
	const long quota = 1000000 / READERS * stress_scale() + 1;
	const char *n = th_name("hammer");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, STRESS_BOX_CAP, 0, 0, &b), 0);
	pshm_box_close(b);
	pshm_seg *shared;
	cr_assert_eq(pshm_seg_anon(sizeof(struct stress_box_hammer), &shared), 0);
	struct stress_box_hammer *h = pshm_seg_addr(shared);
	pid_t pids[WRITERS + READERS];
	for (int i = 0; i < WRITERS + READERS; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			pshm_box *mine;
			if (pshm_box_open(n, i < WRITERS ? 0 : PSHM_RDONLY, &mine) < 0)
				_exit(2);
			if (i < WRITERS)
				stress_box_write(mine, h, (uint32_t)i);
			else
				stress_box_read(mine, &h->t[i], quota);
			pshm_box_close(mine);
			_exit(0);
		}
	}
	for (int i = WRITERS; i < WRITERS + READERS; i++) {
		int st;
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader %d", i);
	}
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < WRITERS; i++) {
		int st;
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d", i);
	}
	char err[256] = "";
	cr_expect_eq(stress_box_check(h, WRITERS, READERS, quota, err, sizeof(err)), 0, "%s", err);
	pshm_seg_close(shared);
}

/* The same with threads (writers and readers share one handle, two more
 * readers have their own): tests/stress_box.c, which ThreadSanitizer also
 * runs through tests/tsan_main.c. */
Test(box, hammer_threads_never_torn, .timeout = 240)
{
	char err[256] = "";
	cr_assert_eq(stress_box_threads(err, sizeof(err)), 0, "%s", err);
}

/* ---- writers that die mid-write --------------------------------------------------- */

/* The thread id of a process that has exited and been reaped. */
static pid_t dead_tid(void)
{
	pid_t p = fork();
	cr_assert_geq(p, 0);
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

/* Make the box look as if thread @tid were writing it (seq odd). */
static void fake_writer(const char *name, pid_t tid)
{
	char path[128];
	int fd = open(th_path(name, path, sizeof(path)), O_RDWR);
	cr_assert_geq(fd, 0);
	uint64_t seq;
	cr_assert_eq(pread(fd, &seq, 8, 32), 8);
	seq = ((uint64_t)(uint32_t)tid << 32) | (uint32_t)(seq + 1);
	cr_assert_eq(pwrite(fd, &seq, 8, 32), 8);
	close(fd);
}

Test(box, dead_writer_gives_eagain_and_next_write_repairs, .timeout = 30)
{
	const char *n = th_name("box");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 32, 0, 0, &b), 0);
	cr_assert_eq(pshm_box_write(b, "before", 6), 0);
	pid_t dead = dead_tid();
	fake_writer(n, dead);
	char out[32];
	cr_expect_eq(pshm_box_read(b, out, sizeof(out)), -EAGAIN);
	struct pshm_box_info in;
	cr_expect_eq(pshm_box_verify(b, &in), -EAGAIN);
	cr_expect_eq(in.writer, dead);
	cr_expect_eq(in.writer_alive, 0);
	cr_expect_eq(in.seq & 1, 1);
	cr_assert_eq(pshm_box_write(b, "after", 5), 0, "a new write takes over");
	cr_expect_eq(pshm_box_read(b, out, sizeof(out)), 5);
	cr_expect_arr_eq(out, "after", 5);
	cr_expect_eq(pshm_box_verify(b, &in), 0);
	cr_expect_eq(in.seq & 1, 0);
	cr_expect_eq(in.writer, 0);
	pshm_box_close(b);
}

/* A writer id is reused once its holder is dead. A writer killed mid-write
 * left the word naming id 1 and its thread; a handle that then takes id 1
 * for its first write must see a dead writer there, not one of its own
 * threads at work (it used to wait, then give up with -EAGAIN). */
Test(box, a_dead_writers_id_taken_again_is_not_mistaken_for_our_thread, .timeout = 30)
{
	const char *n = th_name("box");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 32, 0, 0, &b), 0);
	fake_writer(n, (pid_t)(1u << 22 | (uint32_t)dead_tid()));
	cr_assert_eq(pshm_box_write(b, "mine", 4), 0, "the first write takes id 1 and takes over");
	char out[32];
	cr_expect_eq(pshm_box_read(b, out, sizeof(out)), 4);
	cr_expect_arr_eq(out, "mine", 4);
	pshm_box_close(b);
}

/*
 * Fork a child that opens @name itself and stays stuck mid-write (the
 * sequence word odd and naming it, its liveness lock held), optionally in
 * a new PID namespace (then the returned pid is that of a process which
 * forks the writer and waits for it). *@tid gets the writer's thread id as
 * the box shows it. -1 when the namespace cannot be made.
 */
static pid_t stuck_writer(const char *name, bool new_ns, pid_t *tid)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (new_ns) {
			if (unshare(CLONE_NEWPID) < 0)
				_exit(3);
			pid_t c = fork();
			if (c < 0)
				_exit(3);
			if (c > 0) {
				int st;
				waitpid(c, &st, 0);
				_exit(0);
			}
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		}
		pshm_box *w;
		uint32_t field;
		if (pshm_box_open(name, 0, &w) < 0 || pshm__box_writer_field(w, &field) < 0)
			_exit(1);
		char path[128];
		int fd = open(th_path(name, path, sizeof(path)), O_RDWR);
		uint64_t seq;
		if (fd < 0 || pread(fd, &seq, 8, 32) != 8)
			_exit(1);
		seq = ((uint64_t)field << 32) | (uint32_t)(seq + 1);
		if (pwrite(fd, &seq, 8, 32) != 8)
			_exit(1);
		pid_t me = gettid();
		(void)!write(pfd[1], &me, sizeof(me));
		pause();
		_exit(0);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], tid, sizeof(*tid));
	close(pfd[0]);
	if (n != sizeof(*tid)) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void stuck_writer_holds_the_box(const char *n, pshm_box *b, pid_t tid)
{
	char out[32];
	cr_expect_eq(pshm_box_read(b, out, sizeof(out)), -EAGAIN, "bounded wait, then -EAGAIN");
	cr_expect_eq(pshm_box_write(b, "x", 1), -EAGAIN, "a live writer is not robbed");
	struct pshm_box_info in;
	cr_expect_eq(pshm_box_verify(b, &in), -EAGAIN);
	cr_expect_eq(in.writer, tid);
	cr_expect_eq(in.writer_alive, 1);
	cr_expect_eq(pshm_box_stat(n, &in), 0);
	cr_expect_eq(in.writer_alive, 1);
}

Test(box, live_stuck_writer_bounds_readers_and_writers, .timeout = 60)
{
	const char *n = th_name("box");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 32, 0, 0, &b), 0);
	pid_t tid;
	pid_t live = stuck_writer(n, false, &tid);
	cr_assert_gt(live, 0);
	cr_expect_eq(tid, live);
	stuck_writer_holds_the_box(n, b, tid);
	/* Killed and NOT reaped (a zombie, as under a PID 1 that never
	 * reaps): dead already, its box is free. */
	kill(live, SIGKILL);
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)live, &si, WEXITED | WNOWAIT), 0);
	struct pshm_box_info in;
	cr_expect_eq(pshm_box_stat(n, &in), 0);
	cr_expect_eq(in.writer_alive, 0, "a zombie writer is dead");
	char out[32];
	cr_expect_eq(pshm_box_read(b, out, sizeof(out)), -EAGAIN, "a dead writer never finishes");
	cr_expect_eq(pshm_box_write(b, "x", 1), 0, "once it is dead, the box is taken over");
	cr_expect_eq(pshm_box_read(b, out, sizeof(out)), 1);
	cr_assert_eq(waitpid(live, NULL, 0), live);
	pshm_box_close(b);
}

Test(box, writer_in_another_pid_namespace_is_alive, .timeout = 60)
{
	const char *n = th_name("box");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 32, 0, 0, &b), 0);
	pid_t tid;
	pid_t p = stuck_writer(n, true, &tid);
	if (p < 0) {
		pshm_box_close(b);
		th_skip("cannot make a PID namespace here");
	}
	stuck_writer_holds_the_box(n, b, tid);
	kill(p, SIGKILL); /* its child, the writer, gets SIGKILL too */
	cr_assert_eq(waitpid(p, NULL, 0), p);
	int64_t t0 = pshm__now_ns();
	int r;
	while ((r = pshm_box_write(b, "y", 1)) == -EAGAIN && pshm__now_ns() - t0 < 5000000000)
		;
	cr_expect_eq(r, 0);
	pshm_box_close(b);
}

/* Fork a child that writes @cap bytes of @round to the box @n for ever,
 * through @shared (the parent's handle) or, if NULL, a handle of its own;
 * let it run 1 to 5 ms, then SIGKILL it, most likely mid-write. The child
 * is left unreaped: its pid is returned. */
static pid_t kill_writer_mid_write(const char *n, pshm_box *shared, unsigned char *big,
				   size_t cap, int round)
{
	pid_t p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		pshm_box *w = shared;
		if (!w && pshm_box_open(n, 0, &w) < 0)
			_exit(1);
		memset(big, round, cap);
		for (;;)
			pshm_box_write(w, big, cap);
	}
	struct timespec ts = { 0, 1000000L * (1 + round % 5) };
	nanosleep(&ts, NULL);
	kill(p, SIGKILL);
	return p;
}

Test(box, writer_killed_for_real_mid_write, .timeout = 60)
{
	const char *n = th_name("box");
	enum { CAP = 1 << 20 };
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, CAP, 0, 0, &b), 0);
	unsigned char *big = malloc(CAP), *out = malloc(CAP);
	cr_assert(big && out);
	for (int round = 0; round < 20; round++) {
		/* Its own handle: a forked child that wrote through the parent's
		 * would share its liveness lock (pshm(7)). */
		pid_t p = kill_writer_mid_write(n, NULL, big, CAP, round);
		waitpid(p, NULL, 0);
		ssize_t r = pshm_box_read(b, out, CAP);
		/* Killed mid-write, after a whole write, or before its first
		 * one (the previous value, 0 or 100 bytes, is still there). */
		cr_expect(r == -EAGAIN || r == 0 || r == 100 || r == CAP, "read after kill: %zd", r);
		if (r == CAP)
			cr_expect_eq(out[0], out[CAP - 1]);
		memset(big, 0xa5, 100);
		cr_assert_eq(pshm_box_write(b, big, 100), 0, "a new write repairs");
		cr_assert_eq(pshm_box_read(b, out, CAP), 100);
	}
	free(big);
	free(out);
	pshm_box_close(b);
}

/* A fork() child that writes through its parent's handle (sharing its
 * file description) takes a writer id of its own: its death frees it. */
Test(box, child_killed_mid_write_through_the_parents_handle, .timeout = 60)
{
	const char *n = th_name("box");
	enum { CAP = 1 << 20 };
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, CAP, 0, 0, &b), 0);
	unsigned char *big = malloc(CAP), *out = malloc(CAP);
	cr_assert(big && out);
	for (int round = 0; round < 10; round++) {
		pid_t p = kill_writer_mid_write(n, b, big, CAP, round);
		siginfo_t si;
		cr_assert_eq(waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT), 0);
		memset(big, 0xa5, 100);
		cr_assert_eq(pshm_box_write(b, big, 100), 0, "a new write repairs (round %d)", round);
		cr_assert_eq(pshm_box_read(b, out, CAP), 100);
		cr_assert_eq(waitpid(p, NULL, 0), p);
	}
	free(big);
	free(out);
	pshm_box_close(b);
}

/* ---- mtime, and describing a box from its header -------------------------------- */

static struct stat stat_of(const char *name)
{
	char p[300];
	struct stat st;
	cr_assert_eq(stat(th_path(name, p, sizeof(p)), &st), 0, "stat %s", p);
	return st;
}

/* 1980-01-01: older than anything a test run makes. */
static void backdate(const char *name)
{
	char p[300];
	struct timespec ts[2] = { { 315532800, 0 }, { 315532800, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, th_path(name, p, sizeof(p)), ts, 0), 0);
}

Test(box, write_updates_the_mtime_at_most_once_a_second_per_handle)
{
	const char *n = th_name("mtime");
	pshm_box *b, *b2;
	cr_assert_eq(pshm_box_create(n, 16, 0, 0, &b), 0);
	backdate(n);
	cr_assert_eq(pshm_box_write(b, "one", 3), 0);
	cr_expect_geq(stat_of(n).st_mtim.tv_sec, time(NULL) - 60, "a written box looks new");
	backdate(n);
	cr_assert_eq(pshm_box_write(b, "two", 3), 0);
	cr_expect_eq(stat_of(n).st_mtim.tv_sec, 315532800, "not again within the second");
	cr_assert_eq(pshm_box_open(n, 0, &b2), 0);
	cr_assert_eq(pshm_box_write(b2, "three", 5), 0);
	cr_expect_geq(stat_of(n).st_mtim.tv_sec, time(NULL) - 60, "another handle: its first write");
	pshm_box_close(b2);
	pshm_box_close(b);
}

Test(box, stat_describes_a_box_from_its_header)
{
	const char *n = th_name("bstat");
	pshm_box *b;
	struct pshm_box_info in;
	cr_assert_eq(pshm_box_create(n, 100, 0, 0, &b), 0);
	cr_assert_eq(pshm_box_write(b, "hello", 5), 0);
	cr_assert_eq(pshm_box_stat(n, &in), 0);
	cr_expect_eq(in.capacity, 100);
	cr_expect_eq(in.length, 5);
	cr_expect_eq(in.seq, 2);
	cr_expect_eq(in.writer, 0);
	pshm_box_close(b);
	cr_expect_eq(pshm_box_stat(n, NULL), -EINVAL);
	cr_expect_eq(pshm_box_stat("a/b", &in), -EINVAL);
	cr_expect_eq(pshm_box_stat(th_name("none"), &in), -ENOENT);
	const char *raw = th_name("braw");
	th_write_file(raw, "not a box", 9, 0600);
	cr_expect_eq(pshm_box_stat(raw, &in), -EPROTO);
	cr_expect_eq(in.capacity, 0, "zeroed on failure");
}

Test(box, stat_of_a_huge_sparse_box_allocates_nothing)
{
	/* A hostile or abandoned box: 64 MiB of holes behind a valid header
	 * whose length claims all of it. Describing it must not read it. */
	const char *n = th_name("sparse");
	const uint64_t cap = 64 << 20;
	uint64_t hdr[8];
	pshm__box_format(hdr, cap);
	hdr[5] = cap; /* length, at offset 40 */
	th_write_file(n, hdr, sizeof(hdr), 0600);
	char p[300];
	cr_assert_eq(truncate(th_path(n, p, sizeof(p)), (off_t)(64 + cap)), 0);
	blkcnt_t before = stat_of(n).st_blocks;
	struct pshm_box_info in;
	cr_assert_eq(pshm_box_stat(n, &in), 0);
	cr_expect_eq(in.capacity, cap);
	cr_expect_eq(in.length, cap);
	cr_expect_eq(stat_of(n).st_blocks, before, "no page of the value was touched");
}
