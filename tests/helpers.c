/* SPDX-License-Identifier: MIT */
/*
 * helpers.c — unique names, clean-up, subprocesses and user switching for
 * the Criterion tests.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define TH_MAX_NAMES 256

static char names[TH_MAX_NAMES][96];
static unsigned n_names;
static unsigned counter;

void th_setup(void)
{
	n_names = 0;
}

const char *th_name(const char *tag)
{
	cr_assert_lt(n_names, TH_MAX_NAMES, "too many test segment names");
	char *n = names[n_names++];
	snprintf(n, sizeof(names[0]), "/pshm-test-%s-%d-%u", tag, (int)getpid(), counter++);
	return n;
}

const char *th_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
	return buf;
}

void th_cleanup(void)
{
	char p[128];
	for (unsigned i = 0; i < n_names; i++) {
		th_path(names[i], p, sizeof(p));
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rmdir(p);
		else
			unlink(p);
	}
	n_names = 0;
}

struct stat th_lstat(const char *name)
{
	char p[300];
	struct stat st;
	cr_assert_eq(lstat(th_path(name, p, sizeof(p)), &st), 0, "lstat %s", p);
	return st;
}

bool th_exists(const char *name)
{
	char p[300];
	struct stat st;
	return lstat(th_path(name, p, sizeof(p)), &st) == 0;
}

void *th_map_raw(const char *name, size_t *size)
{
	char p[300];
	int fd = open(th_path(name, p, sizeof(p)), O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", p);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(m, MAP_FAILED);
	*size = (size_t)st.st_size;
	return m;
}

void th_write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	char p[128];
	th_path(name, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	cr_assert_geq(fd, 0, "open %s: %s", p, strerror(errno));
	cr_assert_eq(fchmod(fd, mode), 0);
	if (len)
		cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	cr_assert_not_null(*buf);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

int th_run(const char *cmdline, const char *in, char **out, char **err)
{
	int pin[2], pout[2], perr[2];
	cr_assert_eq(pipe2(pin, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pout, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(perr, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmdline, (char *)NULL);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (in) {
		/* Small inputs only: the pipe buffer holds them. */
		size_t n = strlen(in);
		cr_assert_leq(n, 65536);
		signal(SIGPIPE, SIG_IGN);
		if (n)
			(void)!write(pin[1], in, n);
	}
	close(pin[1]);
	char *bo = calloc(1, 1), *be = calloc(1, 1);
	size_t lo = 0, le = 0;
	struct pollfd pf[2] = { { pout[0], POLLIN, 0 }, { perr[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			char b[8192];
			ssize_t n = read(pf[i].fd, b, sizeof(b));
			if (n <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
			} else if (i == 0) {
				append(&bo, &lo, b, (size_t)n);
			} else {
				append(&be, &le, b, (size_t)n);
			}
		}
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = bo;
	else
		free(bo);
	if (err)
		*err = be;
	else
		free(be);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int th_vpshm(const char *in, char **out, char **err, const char *fmt, va_list ap)
{
	char args[1024], cmd[1400];
	int n = vsnprintf(args, sizeof(args), fmt, ap);
	cr_assert(n >= 0 && n < (int)sizeof(args), "pshm arguments too long");
	snprintf(cmd, sizeof(cmd), "%s %s", PSHM_BIN, args);
	return th_run(cmd, in, out, err);
}

int th_pshm(const char *in, char **out, char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = th_vpshm(in, out, err, fmt, ap);
	va_end(ap);
	return r;
}

const char *th_public_copy(const char *path, char *buf, size_t len)
{
	char dir[] = "/tmp/pshm-test-bin-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(buf, len, "%s/%s", dir, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	int in = open(path, O_RDONLY | O_CLOEXEC);
	int out = open(buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	cr_assert(in >= 0 && out >= 0, "copy %s to %s", path, buf);
	char b[65536];
	ssize_t n;
	while ((n = read(in, b, sizeof(b))) > 0)
		cr_assert_eq(write(out, b, (size_t)n), n);
	cr_assert_eq(n, 0);
	close(in);
	cr_assert_eq(close(out), 0);
	return buf;
}

void th_public_remove(const char *copy)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s", copy);
	unlink(copy);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		rmdir(dir);
	}
}

bool th_is_root(void)
{
	return geteuid() == 0;
}

void th_nobody(uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam("nobody");
	*uid = pw ? pw->pw_uid : 65534;
	*gid = pw ? pw->pw_gid : 65534;
}

int th_as_nobody(int (*fn)(void *), void *arg)
{
	if (!th_is_root())
		th_skip("needs root to play another user");
	uid_t uid;
	gid_t gid;
	th_nobody(&uid, &gid);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			_exit(99);
		_exit(fn(arg));
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int th_in_small_shm(const char *size, int (*fn)(void))
{
	if (!th_is_root())
		th_skip("needs root for a private tmpfs");
	char opts[64];
	snprintf(opts, sizeof(opts), "size=%s,mode=1777", size);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", "/dev/shm", "tmpfs", 0, opts) < 0)
			_exit(77);
		_exit(fn());
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (r == 77)
		th_skip("cannot mount a private tmpfs here (unshare refused)");
	return r;
}

/* LeakSanitizer calls this for default suppressions: Criterion's own runner
 * (libcriterion 2.4, criterion_run_all_tests) leaks a few bytes when tests
 * run in parallel; that is not ours to report. Our code is still checked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}
