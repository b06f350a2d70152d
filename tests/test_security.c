/* SPDX-License-Identifier: MIT */
/*
 * test_security.c — boxes against an attacker: tampering (the lab's dd hack,
 * a flipped byte at every offset), truncation while reading, squatting by
 * another user, shared-writable segments, non-regular files in /dev/shm,
 * and hostile headers. Through the library and through the command.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/internal.h"
#include "helpers.h"

TestSuite(security, TH_FIXTURE);

/* A box holding @val (as pshm writes it). */
static void make_box(const char *name, size_t cap, const char *val)
{
	pshm_box *b;
	cr_assert_eq(pshm_box_create(name, cap, 0, 0, &b), 0);
	cr_assert_eq(pshm_box_write(b, val, strlen(val)), 0);
	pshm_box_close(b);
}

static ssize_t read_box(const char *name, char *buf, size_t cap)
{
	pshm_box *b;
	int r = pshm_box_open(name, PSHM_RDONLY, &b);
	if (r < 0)
		return r;
	ssize_t n = pshm_box_read(b, buf, cap);
	pshm_box_close(b);
	return n;
}

/* Overwrite one byte of a segment as an attacker would: through the file. */
static void poke(const char *name, off_t off, unsigned char v)
{
	char p[128];
	int fd = open(th_path(name, p, sizeof(p)), O_WRONLY | O_NOFOLLOW);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, &v, 1, off), 1);
	close(fd);
}

static unsigned char peek(const char *name, off_t off)
{
	char p[128];
	unsigned char v;
	int fd = open(th_path(name, p, sizeof(p)), O_RDONLY | O_NOFOLLOW);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &v, 1, off), 1);
	close(fd);
	return v;
}

/* ---- 1. tampering --------------------------------------------------------------- */

Test(security, lab_dd_hack_is_detected, .timeout = 30)
{
	const char *n = th_name("dd");
	char cmd[512], p[128], buf[64], *out, *err;
	th_path(n, p, sizeof(p));
	/* The lab's exact line (at the start of the file: the header), then the
	 * same aimed at the value itself (offset 64). */
	for (int seek = 0; seek <= 64; seek += 64) {
		make_box(n, 64, "Bonjour, ceci est un message secret");
		snprintf(cmd, sizeof(cmd),
			 "echo -n \"HACKED\" | dd of=%s bs=1 seek=%d conv=notrunc 2>/dev/null", p, seek);
		cr_assert_eq(th_run(cmd, NULL, NULL, NULL), 0);
		ssize_t r = read_box(n, buf, sizeof(buf));
		cr_expect(r == (seek ? -EBADMSG : -EPROTO), "seek %d: read gave %zd", seek, r);
		char args[256];
		snprintf(args, sizeof(args), "get %s", n);
		cr_expect_eq(th_pshm(NULL, &out, &err, "%s", args), 1);
		cr_expect_str_empty(out, "no value printed: %s", out);
		snprintf(cmd, sizeof(cmd), seek ? "pshm: get '%s': integrity check failed ("
					    : "pshm: get '%s': is a raw segment, not a box (", n);
		cr_expect(strstr(err, cmd) != NULL, "stderr: %s", err);
		free(out);
		free(err);
		snprintf(args, sizeof(args), "verify %s", n);
		cr_expect_eq(th_pshm(NULL, &out, &err, "%s", args), 1);
		cr_expect(strstr(out, "FAILED") != NULL, "verify said: %s", out);
		free(out);
		free(err);
		pshm_seg_unlink(n);
	}
}

Test(security, every_single_byte_flip_is_detected, .timeout = 120)
{
	const char *n = th_name("flip");
	const size_t cap = 16, total = 64 + 16;
	make_box(n, cap, "0123456789abcdef");
	char buf[16], args[256], *out;
	unsigned rnd = 2024;
	for (size_t off = 0; off < total; off++) {
		unsigned char orig = peek(n, (off_t)off);
		rnd = rnd * 1103515245u + 12345u;
		unsigned char x = (unsigned char)((rnd >> 16) | 1); /* never 0 */
		poke(n, (off_t)off, orig ^ x);
		ssize_t r = read_box(n, buf, sizeof(buf));
		cr_expect(r == -EBADMSG || r == -EPROTO || r == -EAGAIN,
			  "offset %zu (xor %02x): read gave %zd", off, x, r);
		snprintf(args, sizeof(args), "get %s", n);
		cr_expect_eq(th_pshm(NULL, &out, NULL, "%s", args), 1, "get, offset %zu", off);
		cr_expect_str_empty(out, "get printed a value for offset %zu", off);
		free(out);
		snprintf(args, sizeof(args), "verify %s", n);
		cr_expect_eq(th_pshm(NULL, NULL, NULL, "%s", args), 1, "verify, offset %zu", off);
		poke(n, (off_t)off, orig);
		cr_assert_eq(read_box(n, buf, sizeof(buf)), 16, "restored at %zu", off);
	}
}

/* ---- 2. truncation ----------------------------------------------------------------- */

static void truncate_seg(const char *name, off_t size)
{
	char p[128];
	cr_assert_eq(truncate(th_path(name, p, sizeof(p)), size), 0);
}

Test(security, truncated_under_an_open_box_is_an_error_not_sigbus, .timeout = 30)
{
	const char *n = th_name("trunc");
	enum { CAP = 64 * 1024 };
	char *big = malloc(CAP), *out = malloc(CAP);
	memset(big, 'v', CAP);
	pshm_box *w, *r;
	cr_assert_eq(pshm_box_create(n, CAP, 0, 0, &w), 0);
	cr_assert_eq(pshm_box_write(w, big, CAP), 0);
	cr_assert_eq(pshm_box_open(n, PSHM_RDONLY, &r), 0);
	truncate_seg(n, CAP / 2);
	cr_expect_eq(pshm_box_read(r, out, CAP), -EFAULT, "half: the payload's end is gone");
	for (size_t i = 0; i < CAP; i++)
		cr_assert_eq(out[i], 0, "no unverified byte left in the buffer (%zu)", i);
	cr_expect_eq(pshm_box_verify(r, NULL), -EFAULT);
	cr_expect_eq(pshm_box_write(w, big, CAP), -EFAULT);
	truncate_seg(n, 0);
	cr_expect_eq(pshm_box_read(r, out, CAP), -EFAULT, "zero: even the header is gone");
	cr_expect_eq(pshm_box_read_unverified(r, out, CAP), -EFAULT);
	cr_expect_eq(pshm_box_write(w, "x", 1), -EFAULT);
	pshm_box *again;
	cr_expect_eq(pshm_box_open(n, 0, &again), -EPROTO, "an empty segment is not a box");
	pshm_box_close(r);
	pshm_box_close(w);
	free(big);
	free(out);
}

/* A child that truncates the segment to 0, to half, and back, for ever. */
static pid_t start_truncator(const char *name, off_t full)
{
	char p[128];
	th_path(name, p, sizeof(p));
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (unsigned i = 0;; i++) {
			off_t sizes[] = { 0, full / 2, full };
			if (truncate(p, sizes[i % 3]) < 0)
				_exit(1);
			usleep(50);
		}
	}
	return pid;
}

Test(security, truncation_races_reads_library_and_get, .timeout = 120)
{
	const char *n = th_name("race");
	enum { CAP = 16 * 1024 };
	char *val = malloc(CAP + 1), *out = malloc(CAP);
	memset(val, 'q', CAP);
	val[CAP] = '\0';
	make_box(n, CAP, val);
	pshm_box *r;
	cr_assert_eq(pshm_box_open(n, PSHM_RDONLY, &r), 0);
	pid_t t = start_truncator(n, 64 + CAP);
	long ok = 0, err = 0;
	for (int i = 0; i < 20000; i++) {
		ssize_t k = pshm_box_read(r, out, CAP);
		if (k >= 0) {
			ok++;
			cr_assert_eq(k, CAP, "a verified read is the whole value");
		} else {
			err++;
			cr_assert(k == -EFAULT || k == -EPROTO || k == -EBADMSG || k == -EAGAIN,
				  "read gave %zd", k);
		}
	}
	char args[256];
	snprintf(args, sizeof(args), "get %s >/dev/null", n);
	for (int i = 0; i < 40; i++) {
		int st = th_pshm(NULL, NULL, NULL, "%s", args);
		cr_assert(st == 0 || st == 1, "pshm get exited %d (128+7 is SIGBUS)", st);
	}
	kill(t, SIGKILL);
	waitpid(t, NULL, 0);
	fprintf(stderr, "truncation race: %ld verified reads, %ld errors\n", ok, err);
	pshm_box_close(r);
	free(val);
	free(out);
}

/* ---- 3. squatting, 4. shared-writable ------------------------------------------------ */

static const char *squat_name;

/* As nobody: create the name first, world-readable and writable. */
static int squat(void *arg)
{
	const char *what = arg;
	char p[128];
	int fd = open(th_path(squat_name, p, sizeof(p)), O_RDWR | O_CREAT | O_EXCL, 0666);
	if (fd < 0 || fchmod(fd, 0666) < 0)
		return 1;
	unsigned char hdr[64 + 16];
	if (!strcmp(what, "box")) {
		/* A well-formed box holding the squatter's value. */
		memset(hdr, 0, sizeof(hdr));
		pshm__box_format(hdr, 16);
		pshm__box_write_mem(hdr, sizeof(hdr), "evil", 4, 0);
		return write(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) ? 0 : 1;
	}
	return write(fd, "squatted", 8) == 8 ? 0 : 1;
}

Test(security, squatted_name_is_refused_by_create_and_open, .timeout = 30)
{
	squat_name = th_name("squat");
	cr_assert_eq(th_as_nobody(squat, "box"), 0);
	pshm_box *b;
	cr_expect_eq(pshm_box_create(squat_name, 16, 0, 0, &b), -EEXIST, "never used as ours");
	cr_expect_eq(pshm_box_create(squat_name, 16, 0, PSHM_OPEN_EXISTING, &b), -EPERM);
	cr_expect_eq(pshm_box_open(squat_name, 0, &b), -EPERM);
	cr_expect_eq(pshm_box_open(squat_name, PSHM_RDONLY, &b), -EPERM);
	cr_expect_eq(pshm_box_open(squat_name, PSHM_ALLOW_FOREIGN, &b), -EPERM,
		     "still world-writable");
	cr_assert_eq(pshm_box_open(squat_name, PSHM_RDONLY | PSHM_ALLOW_FOREIGN |
				   PSHM_ALLOW_SHARED_WRITE, &b), 0, "opted in");
	char buf[16];
	cr_expect_eq(pshm_box_read(b, buf, sizeof(buf)), 4);
	pshm_box_close(b);

	char args[256], *err;
	snprintf(args, sizeof(args), "put %s mine", squat_name);
	cr_expect_eq(th_pshm(NULL, NULL, &err, "%s", args), 1);
	cr_expect(strstr(err, "--allow-foreign") && strstr(err, "another user"), "put: %s", err);
	free(err);
	snprintf(args, sizeof(args), "get %s", squat_name);
	cr_expect_eq(th_pshm(NULL, NULL, &err, "%s", args), 1);
	cr_expect(strstr(err, "--allow-foreign") != NULL, "get: %s", err);
	free(err);
	cr_expect_eq(peek(squat_name, 64), 'e', "the squatter's value is untouched");
}

Test(security, squatted_raw_file_is_not_a_box, .timeout = 30)
{
	squat_name = th_name("squat");
	cr_assert_eq(th_as_nobody(squat, "raw"), 0);
	pshm_box *b;
	cr_expect_eq(pshm_box_create(squat_name, 16, 0, 0, &b), -EEXIST);
	cr_expect_eq(pshm_box_open(squat_name, PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE, &b),
		     -EPROTO);
}

Test(security, shared_writable_box_is_refused_by_default, .timeout = 30)
{
	const char *n = th_name("gw");
	pshm_box *b;
	cr_assert_eq(pshm_box_create(n, 16, 0666, 0, &b), 0);
	cr_assert_eq(pshm_box_write(b, "v", 1), 0);
	pshm_box_close(b);
	cr_expect_eq(pshm_box_open(n, PSHM_RDONLY, &b), -EPERM);
	cr_assert_eq(pshm_box_open(n, PSHM_RDONLY | PSHM_ALLOW_SHARED_WRITE, &b), 0);
	pshm_box_close(b);
	const char *cmds[] = { "get %s", "put %s x", "verify %s" };
	for (int i = 0; i < 3; i++) {
		char args[256], *out, *err;
		snprintf(args, sizeof(args), cmds[i], n);
		cr_expect_eq(th_pshm(NULL, &out, &err, "%s", args), 1, "%s", args);
		cr_expect(strstr(err, "--allow-shared-write") || strstr(out, "--allow"),
			  "%s: %s%s", args, out, err);
		free(out);
		free(err);
	}
	char args[256];
	snprintf(args, sizeof(args), "get --allow-shared-write %s", n);
	cr_expect_eq(th_pshm(NULL, NULL, NULL, "%s", args), 0);
}

/* ---- 5. symlinks, directories, FIFOs ---------------------------------------------------- */

static void expect_untouched(const char *path, const char *content)
{
	char buf[64] = { 0 };
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s still exists", path);
	cr_expect_eq(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(content));
	cr_expect_str_eq(buf, content, "%s unchanged", path);
	close(fd);
}

Test(security, non_regular_entries_are_never_followed_or_opened, .timeout = 60)
{
	char target[64], p[128];
	snprintf(target, sizeof(target), "/tmp/pshm-test-target-%d", (int)getpid());
	int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "precious", 8), 8);
	close(fd);
	const char *link = th_name("symlink"), *dir = th_name("dir"), *fifo = th_name("fifo");
	/* A symlink to a valid box of ours is refused too. */
	const char *real = th_name("real"), *boxlink = th_name("boxlink");
	make_box(real, 16, "real");
	cr_assert_eq(symlink(target, th_path(link, p, sizeof(p))), 0);
	cr_assert_eq(mkdir(th_path(dir, p, sizeof(p)), 0700), 0);
	cr_assert_eq(mkfifo(th_path(fifo, p, sizeof(p)), 0600), 0);
	char rp[128];
	cr_assert_eq(symlink(th_path(real, rp, sizeof(rp)), th_path(boxlink, p, sizeof(p))), 0);
	const char *names[] = { link, dir, fifo, boxlink };
	for (int i = 0; i < 4; i++) {
		pshm_box *b;
		cr_expect_eq(pshm_box_open(names[i], 0, &b), -ENOTSUP, "%s", names[i]);
		cr_expect_eq(pshm_box_open(names[i], PSHM_RDONLY | PSHM_BOX_UNCHECKED |
					   PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE, &b),
			     -ENOTSUP, "%s", names[i]);
		cr_expect_eq(pshm_box_create(names[i], 16, 0, 0, &b), -ENOTSUP, "%s", names[i]);
		cr_expect_eq(pshm_box_create(names[i], 16, 0, PSHM_OPEN_EXISTING, &b), -ENOTSUP);
		const char *cmds[] = { "get %s", "get --force %s", "put %s overwrite", "verify %s" };
		for (int c = 0; c < 4; c++) {
			char args[256], *out, *err;
			snprintf(args, sizeof(args), cmds[c], names[i]);
			cr_expect_eq(th_pshm(NULL, &out, &err, "%s", args), 1, "%s", args);
			cr_expect(strstr(err, "not a regular file") || strstr(out, "not a regular file"),
				  "%s: %s%s", args, out, err);
			free(out);
			free(err);
		}
	}
	expect_untouched(target, "precious");
	struct stat st;
	cr_expect_eq(lstat(th_path(fifo, p, sizeof(p)), &st), 0);
	cr_expect(S_ISFIFO(st.st_mode), "the FIFO is still there");
	cr_expect_eq(lstat(th_path(link, p, sizeof(p)), &st), 0);
	cr_expect(S_ISLNK(st.st_mode), "the symlink is still there");
	cr_expect_eq(lstat(th_path(dir, p, sizeof(p)), &st), 0);
	cr_expect(S_ISDIR(st.st_mode));
	char buf[16];
	cr_expect_eq(read_box(real, buf, sizeof(buf)), 4, "the real box is intact");
	unlink(target);
}

/* ---- 6. hostile headers ---------------------------------------------------------------------- */

struct hostile {
	const char *what;
	size_t off;      /* where to write */
	uint64_t val;
	unsigned width;  /* 4 or 8 bytes */
	int open_err;    /* what pshm_box_open says */
	int read_err;    /* what pshm_box_read says (on an UNCHECKED handle) */
};

static const struct hostile hostile[] = {
	{ "wrong magic", 0, 0x4b43414848, 8, -EPROTO, -EPROTO },
	{ "channel magic", 0, PSHM_CHAN_MAGIC, 8, -EPROTO, -EPROTO },
	{ "wrong version", 8, 2, 4, -EPROTO, -EPROTO },
	{ "header size", 12, 32, 4, -EPROTO, -EPROTO },
	{ "capacity > segment", 16, 1 << 20, 8, -EPROTO, -EPROTO },
	{ "capacity huge", 16, UINT64_MAX - 10, 8, -EPROTO, -EPROTO },
	{ "capacity 0", 16, 0, 8, -EPROTO, -EPROTO },
	{ "total wraps", 24, UINT64_MAX, 8, -EPROTO, -EPROTO },
	{ "length > capacity", 40, 17, 8, 0, -EPROTO },
	{ "length huge", 40, UINT64_MAX, 8, 0, -EPROTO },
	{ "seq stuck odd", 32, 3, 8, 0, -EAGAIN },
	{ "seq odd, tid bogus", 32, (UINT64_C(0xffffffff) << 32) | 5, 8, 0, -EAGAIN },
	{ "seq high bits", 32, UINT64_C(1) << 40, 8, 0, -EBADMSG },
	{ "crc", 48, 0x12345678, 4, 0, -EBADMSG },
	{ "reserved", 52, 1, 4, -EPROTO, -EPROTO },
	{ "reserved 2", 56, 1, 8, -EPROTO, -EPROTO },
};

/* A valid 16-byte box with the field of @h overwritten, in @seg and as a
 * new segment (mode 0600) named after @tag: its name. */
#define HOSTILE_SIZE (64 + 16)
static const char *plant_hostile(const struct hostile *h, const char *tag,
				 unsigned char seg[HOSTILE_SIZE])
{
	const char *n = th_name(tag);
	memset(seg, 0, HOSTILE_SIZE);
	pshm__box_format(seg, 16);
	cr_assert_eq(pshm__box_write_mem(seg, HOSTILE_SIZE, "0123456789abcdef", 16, 0), 0);
	memcpy(seg + h->off, &h->val, h->width);
	th_write_file(n, seg, HOSTILE_SIZE, 0600);
	return n;
}

Test(security, hostile_headers_give_clear_errors, .timeout = 60)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];
		unsigned char seg[HOSTILE_SIZE];
		const char *n = plant_hostile(h, "hostile", seg);
		pshm_box *b;
		cr_expect_eq(pshm_box_open(n, 0, &b), h->open_err, "%s: open", h->what);
		if (h->open_err == 0)
			pshm_box_close(b);
		cr_assert_eq(pshm_box_open(n, PSHM_BOX_UNCHECKED, &b), 0);
		char buf[64];
		cr_expect_eq(pshm_box_read(b, buf, sizeof(buf)), h->read_err, "%s: read", h->what);
		cr_expect_eq(pshm_box_verify(b, NULL), h->read_err, "%s: verify", h->what);
		cr_expect_eq(pshm_box_write(b, "x", 1), h->open_err, "%s: write", h->what);
		ssize_t u = pshm_box_read_unverified(b, buf, sizeof(buf));
		cr_expect(u >= 0 && u <= 16, "%s: unverified read stays in bounds (%zd)", h->what, u);
		pshm_box_close(b);
		/* Whatever is there, the same through the in-memory reader. */
		cr_expect_eq(pshm__box_read_mem(seg, sizeof(seg), buf, sizeof(buf), 0), h->read_err,
			     "%s: read_mem", h->what);
	}
}

Test(security, box_stat_judges_hostile_headers_as_open_does, .timeout = 60)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];
		unsigned char seg[HOSTILE_SIZE];
		const char *n = plant_hostile(h, "hstat", seg);
		struct pshm_box_info in;
		int r = pshm_box_stat(n, &in);
		/* The header alone: what open refuses, and a length that the
		 * header itself says is impossible; not the checksum. */
		int want = h->open_err ? h->open_err : h->read_err == -EPROTO ? -EPROTO : 0;
		cr_expect_eq(r, want, "%s: stat %d, want %d", h->what, r, want);
		if (r == 0 && h->read_err == -EAGAIN)
			cr_expect(in.seq & 1, "%s: caught mid-write", h->what);
	}
}

Test(security, tiny_and_empty_segments_are_not_boxes)
{
	size_t sizes[] = { 0, 1, 8, 63, 64 };
	unsigned char hdr[64];
	memset(hdr, 0, sizeof(hdr));
	pshm__box_format(hdr, 16);
	for (size_t i = 0; i < 5; i++) {
		const char *n = th_name("tiny");
		th_write_file(n, hdr, sizeof(hdr) < sizes[i] ? sizeof(hdr) : sizes[i], 0600);
		pshm_box *b;
		cr_expect_eq(pshm_box_open(n, PSHM_RDONLY, &b), -EPROTO, "size %zu", sizes[i]);
		if (pshm_box_open(n, PSHM_RDONLY | PSHM_BOX_UNCHECKED, &b) == 0) {
			char buf[16];
			ssize_t u = pshm_box_read_unverified(b, buf, sizeof(buf));
			cr_expect(u == -EPROTO || u == 0, "size %zu: %zd", sizes[i], u);
			cr_expect_eq(pshm_box_read(b, buf, sizeof(buf)), -EPROTO);
			pshm_box_close(b);
		}
	}
}

Test(security, header_changed_after_open_is_noticed)
{
	const char *n = th_name("changed");
	make_box(n, 16, "fine");
	pshm_box *b;
	cr_assert_eq(pshm_box_open(n, PSHM_RDONLY, &b), 0);
	uint64_t cap = 8, total = 72;
	char p[128];
	int fd = open(th_path(n, p, sizeof(p)), O_WRONLY);
	cr_assert_eq(pwrite(fd, &cap, 8, 16), 8);
	cr_assert_eq(pwrite(fd, &total, 8, 24), 8);
	close(fd);
	char buf[16];
	cr_expect_eq(pshm_box_read(b, buf, sizeof(buf)), -EPROTO,
		     "a consistent header with another capacity is still refused");
	pshm_box_close(b);
}
