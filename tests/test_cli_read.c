/* SPDX-License-Identifier: MIT */
/*
 * test_cli_read.c — `pshm cat` and `pshm dump`: every byte, in bounded
 * memory, truncation while reading, and the same bytes as cat, dd,
 * hexdump and Python see.
 */
#include "cli_seg.h"

CLI_SEG_SUITE(cli_read);
#include "room.h"

/* ---- cat ---------------------------------------------------------------- */

Test(cli_read, cat_copies_every_byte)
{
	const char *n = th_name("cat");
	cr_assert_eq(sh(NULL, "head -c 300000 /dev/urandom > %s", path(n)), 0);
	cr_assert_eq(sh(NULL, "%s cat %s | cmp - %s", P, n, path(n)), 0, "%s %s", out, err);
	const char *t = th_name("text");
	cr_assert_eq(sh(NULL, "printf 'hello\\000world' > %s", path(t)), 0);
	cr_assert_eq(sh(NULL, "%s cat %s | wc -c", P, t), 0);
	cr_expect_eq(atoi(out), 11, "binary NUL kept");
	cr_assert_eq(pshm(NULL, "cat --text %s", t), 0);
	cr_expect_str_eq(out, "hello");
	cr_assert_eq(pshm(NULL, "cat --text %s", t), 0);
	cr_expect_str_eq(out, "hello");
	const char *e = th_name("empty");
	th_write_file(e, "", 0, 0600);
	cr_expect_eq(pshm(NULL, "cat %s", e), 0);
	cr_expect_str_empty(out);
}

Test(cli_read, cat_streams_a_large_segment_in_bounded_memory)
{
	TH_NEED_SHM_MIB(256 + 1);
	const char *n = th_name("big");
	mkseg(n, "256M");
	cr_assert_eq(pshm(NULL, "write %s --offset 268435450 ending", n), 0);
	cr_assert_eq(sh(NULL, "%s cat %s | tail -c 6", P, n), 0, "%s", err);
	cr_expect_str_eq(out, "ending");
	cr_assert_eq(sh(NULL, "%s cat %s | wc -c", P, n), 0);
	cr_expect_eq(atoll(out), 268435456LL);
	struct rusage ru;
	cr_assert_eq(getrusage(RUSAGE_CHILDREN, &ru), 0);
	cr_expect_lt(ru.ru_maxrss, 64 * 1024, "peak RSS of any child %ld KiB", ru.ru_maxrss);
}

/* Start `pshm` with @argv, stdout on a pipe that we do not read yet, and
 * wait until it has written something: it is then mid-stream. */
static pid_t start_stalled(char *const argv[], int *out_fd, int *err_fd)
{
	int o[2], e[2];
	cr_assert_eq(pipe(o), 0);
	cr_assert_eq(pipe(e), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		execv(PSHM_BIN, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	kids[n_kids++] = pid;
	struct pollfd pf = { o[0], POLLIN, 0 };
	cr_assert_eq(poll(&pf, 1, 20000), 1, "pshm wrote nothing");
	*out_fd = o[0];
	*err_fd = e[0];
	return pid;
}

/* Drain stdout, collect stderr into `err`, and return the exit status. */
static int finish_stalled(pid_t pid, int out_fd, int err_fd, size_t *total)
{
	static char buf[1 << 16];
	ssize_t n;
	*total = 0;
	while ((n = read(out_fd, buf, sizeof(buf))) > 0)
		*total += (size_t)n;
	close(out_fd);
	free(err);
	err = calloc(1, 8192);
	cr_assert_not_null(err);
	n = read(err_fd, err, 8191);
	err[n > 0 ? n : 0] = '\0';
	close(err_fd);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	n_kids--;
	cr_expect(!WIFSIGNALED(st), "pshm died of signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Truncate @name to 0 from another process. */
static void truncate_elsewhere(const char *name)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(truncate(path(name), 0) == 0 ? 0 : 1);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Test(cli_read, cat_truncated_while_streaming_fails_cleanly)
{
	TH_NEED_SHM_MIB(64 + 1);
	const char *n = th_name("cattrunc");
	mkseg(n, "64M"); /* far more than the pipe and one chunk hold */
	char *argv[] = { "pshm", "cat", (char *)n, NULL };
	int o, e;
	pid_t pid = start_stalled(argv, &o, &e);
	truncate_elsewhere(n);
	size_t total;
	int r = finish_stalled(pid, o, e, &total);
	expect_fail(r, "cat", n, "the segment was truncated while being read");
	cr_expect_lt(total, 1 << 20, "stopped early: %zu bytes", total);
}

/* A segment whose 16-byte lines all differ: dump prints every one. */
static void fill_lines(const char *name, size_t size)
{
	pshm_seg *s;
	cr_assert_eq(pshm_seg_create(name, size, 0, 0, &s), 0);
	uint64_t *p = pshm_seg_addr(s);
	for (size_t i = 0; i < size / 8; i += 2) {
		p[i] = i / 2;
		p[i + 1] = 0x2e2e2e2e2e2e2e2eull;
	}
	pshm_seg_close(s);
}

Test(cli_read, dump_truncated_while_streaming_fails_cleanly)
{
	const char *n = th_name("dumptrunc");
	fill_lines(n, 16 << 20);
	char *argv[] = { "pshm", "dump", (char *)n, NULL };
	int o, e;
	pid_t pid = start_stalled(argv, &o, &e);
	truncate_elsewhere(n);
	size_t total;
	int r = finish_stalled(pid, o, e, &total);
	expect_fail(r, "dump", n, "the segment was truncated while being read");
}

/* ---- dump --------------------------------------------------------------- */

Test(cli_read, dump_matches_hexdump_C)
{
	if (!has("hexdump"))
		th_skip("hexdump is not installed");
	const char *n = th_name("dump");
	/* Text, a run of zeros, a repeated pattern, an odd tail. */
	cr_assert_eq(sh(NULL,
			"{ printf 'Hello depuis le programme write !'; head -c 200 /dev/zero; "
			"for i in 1 2 3 4 5 6; do printf 'abcdefghijklmnop'; done; "
			"printf '\\001\\177\\200\\377tail'; } > %s",
			path(n)),
		  0);
	/* hexdump's -s is pshm's -o (--offset): -s is --size in pshm. */
	const char *ranges[] = { "", "-s 5", "-n 40", "-s 16 -n 40", "-s 7 -n 100",
				 "-s 0x20 -n 0x30", "-n 0", "-s 331" };
	const char *mine_ranges[] = { "", "-o 5", "-n 40", "-o 16 -n 40", "-o 7 -n 100",
				      "-o 0x20 -n 0x30", "-n 0", "-o 331" };
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		cr_assert_eq(pshm(NULL, "dump %s %s", n, mine_ranges[i]), 0, "%s", err);
		char *mine = strdup(out);
		cr_assert_eq(sh(NULL, "hexdump -C %s %s", ranges[i], path(n)), 0);
		cr_expect_str_eq(mine, out, "dump %s", ranges[i]);
		free(mine);
	}
	const char *z = th_name("zeros");
	mkseg(z, "64K");
	cr_assert_eq(pshm(NULL, "dump %s", z), 0);
	cr_expect_str_eq(out, "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  "
			      "|................|\n*\n00010000\n");
	expect_fail(pshm(NULL, "dump %s -o 1M", z), "dump", z, "past the end");
	cr_assert_eq(pshm(NULL, "dump --offset 65520 --count 1K %s", z), 0);
	cr_expect_str_eq(out, "0000fff0  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  "
			      "|................|\n00010000\n");
}

Test(cli_read, inspection_allocates_nothing_in_a_sparse_segment)
{
	const char *n = th_name("sparse");
	th_write_file(n, "", 0, 0600);
	cr_assert_eq(truncate(path(n), 4 << 20), 0);
	cr_assert_eq(sh(NULL, "%s cat %s | wc -c", P, n), 0);
	cr_expect_eq(atol(out), 4 << 20);
	cr_assert_eq(pshm(NULL, "dump %s", n), 0);
	cr_expect_str_eq(out, "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  "
			      "|................|\n*\n00400000\n");
	cr_assert_eq(pshm(NULL, "ls"), 0);
	cr_assert_eq(pshm(NULL, "stat %s", n), 0);
	cr_expect_not_null(strstr(out, "allocated:  0 bytes"), "%s", out);
	cr_expect_eq(th_lstat(n).st_blocks, 0, "reading holes allocated pages");
}


/* ---- the same bytes for every tool -------------------------------------- */

Test(cli_read, segments_interoperate_with_cat_and_dd)
{
	const char *n = th_name("interop");
	mkseg(n, "4K");
	cr_assert_eq(pshm(NULL, "write %s 'made by pshm'", n), 0);
	cr_assert_eq(sh(NULL, "cat %s | head -c 12", path(n)), 0);
	cr_expect_str_eq(out, "made by pshm");
	cr_assert_eq(sh(NULL, "dd if=%s bs=1 skip=8 count=4 status=none", path(n)), 0);
	cr_expect_str_eq(out, "pshm");
	cr_assert_eq(sh(NULL, "cat %s | wc -c", path(n)), 0);
	cr_expect_eq(atoi(out), 4096);

	const char *d = th_name("fromdd");
	cr_assert_eq(sh(NULL, "printf 'made by dd' | dd of=%s status=none", path(d)), 0);
	cr_assert_eq(pshm(NULL, "cat %s", d), 0, "%s", err);
	cr_expect_str_eq(out, "made by dd");
	cr_assert_eq(sh(NULL, "printf 'HACKED' | dd of=%s conv=notrunc status=none", path(n)), 0);
	cr_assert_eq(pshm(NULL, "cat --text %s", n), 0);
	cr_expect_str_eq(out, "HACKEDy pshm");
}

static const char py_read[] =
	"import sys\n"
	"from multiprocessing import shared_memory, resource_tracker\n"
	"try:\n"
	"    s = shared_memory.SharedMemory(name=sys.argv[1], track=False)\n"
	"except TypeError:\n"
	"    s = shared_memory.SharedMemory(name=sys.argv[1])\n"
	"    resource_tracker.unregister(s._name, 'shared_memory')\n"
	"sys.stdout.write('%d ' % s.size + bytes(s.buf[:12]).decode())\n"
	"s.close()\n";

static const char py_write[] =
	"import sys\n"
	"from multiprocessing import shared_memory, resource_tracker\n"
	"try:\n"
	"    s = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=8192, track=False)\n"
	"except TypeError:\n"
	"    s = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=8192)\n"
	"    resource_tracker.unregister(s._name, 'shared_memory')\n"
	"s.buf[:11] = b'from python'\n"
	"s.close()\n";

Test(cli_read, segments_interoperate_with_python_shared_memory)
{
	if (!has_python())
		th_skip("python3 with multiprocessing.shared_memory is not installed");
	const char *n = th_name("py");
	mkseg(n, "4K");
	cr_assert_eq(pshm(NULL, "write %s 'made by pshm'", n), 0);
	cr_assert_eq(sh(py_read, "python3 - %s", n + 1), 0, "%s", err);
	cr_expect_str_eq(out, "4096 made by pshm");
	cr_expect(th_exists(n), "Python did not remove it");

	const char *m = th_name("py");
	cr_assert_eq(sh(py_write, "python3 - %s", m + 1), 0, "%s", err);
	cr_assert(th_exists(m), "Python left it in place");
	cr_assert_eq(pshm(NULL, "cat --text %s", m), 0, "%s", err);
	cr_expect_str_eq(out, "from python");
	cr_assert_eq(pshm(NULL, "stat %s", m), 0);
	cr_expect_not_null(strstr(out, "size:       8.0K (8192 bytes)"), "%s", out);
	cr_expect_eq(pshm(NULL, "write %s 'FROM'", m), 0, "Python's 0600 segment passes: %s", err);
	cr_assert_eq(pshm(NULL, "cat --text %s", m), 0);
	cr_expect_str_eq(out, "FROM python");
}

