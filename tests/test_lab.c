/* SPDX-License-Identifier: MIT */
/*
 * test_lab.c — the course lab (lab/), end to end: its programs run as a
 * student runs them, from the shell, including the `dd` hack.
 *
 * Every test uses its own segment name (th_name), passed to the lab's
 * programs as their optional NAME argument, so a student's /posix_shm is
 * never touched. The one test that runs the lab's commands literally (with
 * the default /posix_shm) does so in a private mount namespace with its own
 * tmpfs on /dev/shm.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "helpers.h"

/* What ./write writes (lab/write.c), and the same after the dd hack. */
#define MSG "Hello depuis le programme write !"
#define HACKED_MSG "HACKEDdepuis le programme write !"
#define SEG_SIZE 65536

TestSuite(lab, TH_FIXTURE, .timeout = 20);

/* Run a shell command line in lab/ (printf-style); capture its output. */
__attribute__((format(printf, 3, 4))) static int lab(char **out, char **err, const char *fmt, ...)
{
	char cmd[2048];
	int n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", LAB_DIR);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	return th_run(cmd, NULL, out, err);
}

/* Run @cmd in lab/ and expect exit status @rc and exactly @want on stdout. */
static void expect_out(const char *name, const char *cmd, int rc, const char *want)
{
	char *out, *err;
	int st = lab(&out, &err, "%s %s", cmd, name);
	cr_expect_eq(st, rc, "%s %s: status %d, stderr: %s", cmd, name, st, err);
	cr_expect_str_eq(out, want, "%s %s: stdout [%s], want [%s]", cmd, name, out, want);
	free(out);
	free(err);
}

static off_t file_size(const char *name)
{
	char p[128];
	struct stat st;
	cr_assert_eq(stat(th_path(name, p, sizeof(p)), &st), 0, "stat %s: %s", p, strerror(errno));
	return st.st_size;
}

/* Memory tmpfs holds for the segment, in bytes (st_blocks counts 512). */
static long long allocated(const char *name)
{
	char p[128];
	struct stat st;
	cr_assert_eq(stat(th_path(name, p, sizeof(p)), &st), 0, "stat %s: %s", p, strerror(errno));
	return (long long)st.st_blocks * 512;
}


Test(lab, sequence_as_in_the_text)
{
	const char *n = th_name("lab");
	char *out, *err;

	/* ./write */
	cr_assert_eq(lab(&out, &err, "./write %s", n), 0, "stderr: %s", err);
	cr_expect(strstr(out, MSG), "write prints what it wrote: %s", out);
	free(out);
	free(err);
	cr_assert_eq(file_size(n), SEG_SIZE);

	/* cat /dev/shm/NAME: the message, its NUL, then NUL bytes up to the size. */
	cr_assert_eq(lab(&out, NULL, "cat /dev/shm%s | wc -c", n), 0);
	cr_expect_eq(atol(out), SEG_SIZE, "cat shows the whole segment: %s", out);
	free(out);
	cr_assert_eq(lab(&out, NULL, "cat /dev/shm%s | tr -d '\\000'", n), 0);
	cr_expect_str_eq(out, MSG, "cat shows the message, then only NUL bytes");
	free(out);

	/* ./read */
	expect_out(n, "./read", 0, MSG "\n");

	/* The hack, exactly the lab's line but on our own name. */
	cr_assert_eq(lab(NULL, &err, "echo -n \"HACKED\" | dd of=/dev/shm%s bs=1 seek=0 conv=notrunc", n),
		     0, "dd: %s", err);
	free(err);
	cr_expect_eq(file_size(n), SEG_SIZE, "conv=notrunc keeps the size");
	cr_assert_eq(lab(&out, NULL, "cat /dev/shm%s | tr -d '\\000'", n), 0);
	cr_expect_str_eq(out, HACKED_MSG);
	free(out);

	/* ./read now prints the message beginning with HACKED. */
	expect_out(n, "./read", 0, HACKED_MSG "\n");
	cr_expect(th_exists(n), "read leaves the segment in place");
}

/*
 * The lab's commands exactly as written, default name included, in a
 * private /dev/shm (a fresh tmpfs in a new mount namespace): the real
 * /dev/shm/posix_shm, if a student has one, is neither read nor changed.
 */
Test(lab, literal_commands_in_a_private_dev_shm)
{
	if (th_run("unshare --mount sh -c 'mount -t tmpfs tmpfs /dev/shm' 2>/dev/null", NULL, NULL,
		   NULL) != 0)
		th_skip("cannot mount a private /dev/shm (needs root and unshare)");
	char *out, *err;
	/* cat prints the NUL bytes too; tr drops them so the text compares. */
	int st = lab(&out, &err,
		     "unshare --mount sh -c 'mount -t tmpfs tmpfs /dev/shm && "
		     "{ ./write && cat /dev/shm/posix_shm && ./read && "
		     "(echo -n \"HACKED\" | dd of=/dev/shm/posix_shm bs=1 seek=0 conv=notrunc) && "
		     "cat /dev/shm/posix_shm && ./read && ./read-write >/dev/null && echo ok; } "
		     "| tr -d \"\\000\"'");
	cr_assert_eq(st, 0, "stderr: %s", err);
	char *want;
	cr_assert_geq(asprintf(&want,
			       "write: %zu octets écrits dans /posix_shm (taille %d) : \"%s\"\n"
			       "%s%s\n%s%s\nok\n",
			       sizeof(MSG), SEG_SIZE, MSG, MSG, MSG, HACKED_MSG, HACKED_MSG),
		      0);
	cr_expect_str_eq(out, want);
	free(want);
	free(out);
	free(err);
}

/* The hack as another user: mode 0644 lets others read, not write. */
static const char *hack_target;

static int hack_as_other_user(void *arg)
{
	(void)arg;
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "cat /dev/shm%s >/dev/null && "
		 "! (echo -n HACKED | dd of=/dev/shm%s bs=1 seek=0 conv=notrunc 2>/dev/null)",
		 hack_target, hack_target);
	int st = system(cmd);
	return st == 0 ? 0 : 1;
}

Test(lab, hack_needs_write_permission)
{
	hack_target = th_name("lab");
	cr_assert_eq(lab(NULL, NULL, "umask 022 && ./write %s", hack_target), 0);
	cr_expect_eq(th_as_nobody(hack_as_other_user, NULL), 0,
		     "another user can read the segment but not write it");
	expect_out(hack_target, "./read", 0, MSG "\n");
}

Test(lab, read_missing_segment_fails_on_stderr)
{
	const char *n = th_name("lab");
	char *out, *err;
	cr_expect_eq(lab(&out, &err, "./read %s", n), 1);
	cr_expect_str_empty(out);
	cr_expect(strstr(err, n) && strstr(err, "n'existe pas"), "stderr: %s", err);
	cr_expect_not(th_exists(n), "read must not create the segment");
	free(out);
	free(err);

	cr_expect_eq(lab(NULL, &err, "./read --unlink %s", n), 1);
	cr_expect(strstr(err, "n'existe pas"), "stderr: %s", err);
	free(err);
}

Test(lab, read_empty_segment)
{
	const char *n = th_name("lab");
	th_write_file(n, "", 0, 0644);
	char *out, *err;
	cr_expect_eq(lab(&out, &err, "./read %s", n), 0, "stderr: %s", err);
	cr_expect_str_empty(out);
	cr_expect(strstr(err, "vide"), "stderr says it is empty: %s", err);
	cr_expect_eq(file_size(n), 0, "read does not change the size");
	free(out);
	free(err);
}

/*
 * No NUL byte anywhere: read prints exactly the segment's bytes. With a
 * size that is a multiple of the page size, the byte after the end is not
 * mapped: reading it would crash, so this also shows read stays in bounds.
 */
Test(lab, read_segment_without_nul_is_bounded)
{
	size_t sizes[] = { 1, 100, 4095, 4096, 8192 };
	char *buf = malloc(8192 + 2);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *n = th_name("lab");
		memset(buf, 'A', sizes[i]);
		th_write_file(n, buf, sizes[i], 0644);
		buf[sizes[i]] = '\n';
		buf[sizes[i] + 1] = '\0';
		char *out, *err;
		cr_expect_eq(lab(&out, &err, "./read %s", n), 0, "size %zu: %s", sizes[i], err);
		cr_expect_str_eq(out, buf, "size %zu: exactly the segment's bytes", sizes[i]);
		cr_expect(strstr(err, "pas d'octet NUL"), "size %zu: %s", sizes[i], err);
		free(out);
		free(err);
	}
	free(buf);
}

Test(lab, read_segment_smaller_than_write_made)
{
	const char *n = th_name("lab");
	char p[128];
	cr_assert_eq(lab(NULL, NULL, "./write %s", n), 0);
	/* Still holds the whole message and its NUL, but not a page. */
	cr_assert_eq(truncate(th_path(n, p, sizeof(p)), 40), 0);
	expect_out(n, "./read", 0, MSG "\n");
	/* Cut inside the message: no NUL left, read stops at the end. */
	cr_assert_eq(truncate(p, 5), 0);
	expect_out(n, "./read", 0, "Hello\n");
}

Test(lab, read_unlink_removes_the_segment)
{
	const char *n = th_name("lab");
	cr_assert_eq(lab(NULL, NULL, "./write %s", n), 0);
	expect_out(n, "./read --unlink", 0, MSG "\n");
	cr_expect_not(th_exists(n));

	/* The option may also follow the name. */
	cr_assert_eq(lab(NULL, NULL, "./write %s", n), 0);
	char *out;
	cr_expect_eq(lab(&out, NULL, "./read %s --unlink", n), 0);
	cr_expect_str_eq(out, MSG "\n");
	cr_expect_not(th_exists(n));
	free(out);
}

Test(lab, write_mode_follows_umask)
{
	const char *a = th_name("lab"), *b = th_name("lab"), *c = th_name("lab");
	char p[128];
	struct stat st;
	/* With no umask, the mode is exactly the one write asks for. */
	cr_assert_eq(lab(NULL, NULL, "umask 000 && ./write %s", c), 0);
	cr_assert_eq(stat(th_path(c, p, sizeof(p)), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0644, "mode %o", (unsigned)(st.st_mode & 07777));
	cr_assert_eq(lab(NULL, NULL, "umask 022 && ./write %s", a), 0);
	cr_assert_eq(stat(th_path(a, p, sizeof(p)), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0644, "mode %o", (unsigned)(st.st_mode & 07777));
	cr_assert_eq(lab(NULL, NULL, "umask 077 && ./write %s", b), 0);
	cr_assert_eq(stat(th_path(b, p, sizeof(p)), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0600, "mode %o", (unsigned)(st.st_mode & 07777));
}

/* write starts from a clean segment: no leftovers of a bigger old one. */
Test(lab, write_resets_an_existing_segment)
{
	const char *n = th_name("lab");
	size_t big = 100000;
	char *junk = malloc(big);
	cr_assert_not_null(junk);
	memset(junk, 'X', big);
	th_write_file(n, junk, big, 0644);
	free(junk);

	cr_assert_eq(lab(NULL, NULL, "./write %s", n), 0);
	cr_expect_eq(file_size(n), SEG_SIZE);
	char *out;
	cr_assert_eq(lab(&out, NULL, "tr -d '\\000' < /dev/shm%s", n), 0);
	cr_expect_str_eq(out, MSG, "only the message and NUL bytes");
	free(out);
}

Test(lab, read_refuses_a_directory)
{
	const char *n = th_name("lab");
	char p[128];
	cr_assert_eq(mkdir(th_path(n, p, sizeof(p)), 0755), 0);
	char *err;
	cr_expect_eq(lab(NULL, &err, "./read %s", n), 1);
	cr_expect(strstr(err, n), "stderr: %s", err);
	free(err);
}

Test(lab, usage_errors)
{
	char *err;
	cr_expect_eq(lab(NULL, &err, "./write /a /b"), 2);
	cr_expect(strstr(err, "usage"), "%s", err);
	free(err);
	cr_expect_eq(lab(NULL, &err, "./read /a /b"), 2);
	cr_expect(strstr(err, "usage"), "%s", err);
	free(err);
	cr_expect_eq(lab(NULL, &err, "./read --bogus"), 2);
	cr_expect(strstr(err, "usage"), "%s", err);
	free(err);
	/* An option is not a name: no segment called --help. */
	cr_expect_eq(lab(NULL, &err, "./write --help"), 2);
	cr_expect(strstr(err, "usage"), "%s", err);
	free(err);
	cr_expect_eq(lab(NULL, &err, "./read --help"), 2);
	cr_expect(strstr(err, "usage"), "%s", err);
	free(err);
}

Test(lab, read_write_shared_seen_private_not)
{
	char *out, *err;
	cr_assert_eq(lab(&out, &err, "./read-write"), 0, "stderr: %s", err);
	const char *child = strstr(out, "[fils");
	const char *shared = strstr(out, "zone partagée (MAP_SHARED)  : \"Bonjour du fils !\" -> VU");
	const char *private = strstr(out, "zone privée   (MAP_PRIVATE) : \"(vide)\" -> PAS VU");
	cr_expect(child && shared && private, "output:\n%s", out);
	cr_expect(child < shared, "the parent reads after the child wrote:\n%s", out);
	cr_expect(strstr(out, "fils terminé"), "output:\n%s", out);
	cr_expect_str_empty(err);
	/* Printed once each: stdout was flushed before fork(). */
	cr_expect_null(strstr(child + 1, "[fils"), "output:\n%s", out);
	free(out);
	free(err);
}

/*
 * What the lab says about memory: tmpfs allocates a page when it is first
 * touched through a mapping, read or write; read(2), that is cat, allocates
 * nothing. ./write touches one page; cat and ./read add none. A sparse
 * segment (the README's `truncate -s 64K` experiment) stays at 0 under cat
 * and gets its first page from ./read, which only maps it and reads byte 0.
 */
Test(lab, pages_are_allocated_when_touched_through_a_mapping)
{
	const long long page = sysconf(_SC_PAGESIZE);
	const char *n = th_name("lab");
	cr_assert_eq(lab(NULL, NULL, "./write %s", n), 0);
	cr_expect_eq(allocated(n), page, "write touches one page: %lld bytes", allocated(n));
	cr_assert_eq(lab(NULL, NULL, "cat /dev/shm%s >/dev/null", n), 0);
	cr_expect_eq(allocated(n), page, "cat allocates nothing: %lld bytes", allocated(n));
	expect_out(n, "./read", 0, MSG "\n");
	cr_expect_eq(allocated(n), page, "read reads the page write touched: %lld", allocated(n));

	const char *h = th_name("lab");
	cr_assert_eq(lab(NULL, NULL, "truncate -s 64K /dev/shm%s", h), 0);
	cr_expect_eq(file_size(h), SEG_SIZE);
	cr_expect_eq(allocated(h), 0, "a sparse segment holds no memory");
	cr_assert_eq(lab(NULL, NULL, "cat /dev/shm%s >/dev/null", h), 0);
	cr_expect_eq(allocated(h), 0, "cat (read(2)) of holes allocates nothing: %lld", allocated(h));
	expect_out(h, "./read", 0, "\n");
	cr_expect_eq(allocated(h), page, "one read through a mapping allocates a page: %lld",
		     allocated(h));
}

/* shm_open is the C library over openat on /dev/shm, with O_NOFOLLOW|O_CLOEXEC. */
Test(lab, shm_open_is_openat_in_strace)
{
	if (th_run("command -v strace && strace -e trace=openat true", NULL, NULL, NULL) != 0)
		th_skip("strace is not installed or cannot trace here");
	const char *n = th_name("lab");
	char *err, *want;
	/* LeakSanitizer cannot run under ptrace, should lab/ be built with it. */
	cr_assert_eq(lab(NULL, &err, "ASAN_OPTIONS=detect_leaks=0 strace -e trace=openat ./write %s", n),
		     0, "%s", err);
	cr_assert_geq(asprintf(&want,
			       "openat(AT_FDCWD, \"/dev/shm%s\", "
			       "O_RDWR|O_CREAT|O_TRUNC|O_NOFOLLOW|O_CLOEXEC, 0644) = ",
			       n),
		      0);
	cr_expect(strstr(err, want), "strace shows %s...\nin:\n%s", want, err);
	cr_expect_null(strstr(err, "shm_open("), "no shm_open system call:\n%s", err);
	free(want);
	free(err);
}

/*
 * Does fs.protected_regular apply to @owner's files in /dev/shm? Only when
 * it is set, /dev/shm is sticky and world-writable, and @owner does not
 * own /dev/shm.
 */
static bool protected_regular_applies(uid_t owner)
{
	FILE *f = fopen("/proc/sys/fs/protected_regular", "r");
	int v = 0;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	struct stat st;
	cr_assert_eq(stat("/dev/shm", &st), 0);
	return v > 0 && (st.st_mode & 01002) == 01002 && st.st_uid != owner;
}

/*
 * The squat and the hack against another user's segment, as the README
 * tells them, whichever fs.protected_regular this kernel has: at 0, ./write
 * (O_CREAT without O_EXCL) writes into the squatter's segment and root's dd
 * works; at 1 or 2, O_CREAT on another user's file in the sticky /dev/shm
 * is refused even to root: ./write and the lab's dd fail with EACCES, while
 * ./read (no O_CREAT) reads the squatter's bytes and dd conv=nocreat writes.
 */
Test(lab, squatted_name_and_protected_regular)
{
	if (!th_is_root())
		th_skip("needs root to make a segment belong to another user");
	const char *n = th_name("lab");
	char p[128];
	uid_t uid;
	gid_t gid;
	th_nobody(&uid, &gid);
	th_write_file(n, "SQUAT", 6, 0666);
	th_path(n, p, sizeof(p));
	cr_assert_eq(chmod(p, 0666), 0);
	cr_assert_eq(chown(p, uid, gid), 0, "%s", strerror(errno));

	char *out, *err;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "echo -n \"HACKED\" | dd of=/dev/shm%s bs=1 seek=0 conv=notrunc", n);
	if (!protected_regular_applies(uid)) {
		cr_expect_eq(lab(NULL, &err, "./write %s", n), 0, "%s", err);
		free(err);
		struct stat st = th_lstat(n);
		cr_expect_eq(st.st_uid, uid, "the segment still belongs to the squatter");
		cr_expect_eq(st.st_mode & 07777, 0666, "shm_open kept the squatter's mode");
		expect_out(n, "./read", 0, MSG "\n");
		cr_expect_eq(lab(NULL, NULL, "%s", cmd), 0, "root's dd works");
		expect_out(n, "./read", 0, HACKED_MSG "\n");
	} else {
		cr_expect_eq(lab(&out, &err, "./write %s", n), 1);
		cr_expect(strstr(err, "Permission denied"), "write refused: %s", err);
		free(out);
		free(err);
		expect_out(n, "./read", 0, "SQUAT\n");
		cr_expect_neq(lab(NULL, &err, "%s", cmd), 0, "root's dd with O_CREAT is refused");
		cr_expect(strstr(err, "Permission denied"), "dd: %s", err);
		free(err);
		cr_expect_eq(lab(NULL, &err, "%s,nocreat", cmd), 0, "without O_CREAT: %s", err);
		free(err);
		expect_out(n, "./read", 0, "HACKED\n");
	}
}
