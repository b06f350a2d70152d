/* SPDX-License-Identifier: MIT */
/*
 * cli_seg.h — the fixture and helpers of the segment subcommands' tests
 * (test_cli_seg.c, test_cli_read.c, test_cli_ls.c): each runs pshm as a
 * user would, through /bin/sh, checking stdout, stderr and the exit
 * status. Header only (static), one copy per test binary.
 */
#ifndef PSHM_TEST_CLI_SEG_H
#define PSHM_TEST_CLI_SEG_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"

/* ---- fixture ------------------------------------------------------------ */

static char *out, *err;
static char extra[8][512];
static unsigned n_extra;
static pid_t kids[8];
static unsigned n_kids;

static __attribute__((unused)) void extra_path(const char *p)
{
	cr_assert_lt(n_extra, 8);
	snprintf(extra[n_extra++], sizeof(extra[0]), "%s", p);
}

static __attribute__((unused)) void cli_fini(void)
{
	for (unsigned i = 0; i < n_kids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	n_kids = 0;
	for (unsigned i = 0; i < n_extra; i++)
		unlink(extra[i]);
	n_extra = 0;
	free(out);
	free(err);
	out = err = NULL;
	th_cleanup();
}

/* Each file that includes this one names its suite after itself:
 * CLI_SEG_SUITE(cli_ls) in test_cli_ls.c. */
#define CLI_SEG_SUITE(suite) TestSuite(suite, .init = th_setup, .fini = cli_fini, .timeout = 60)

/* Run a shell command line; stdout and stderr land in `out` and `err`. */
__attribute__((format(printf, 2, 3), unused)) static int sh(const char *in, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_lt(n, (int)sizeof(cmd));
	free(out);
	free(err);
	return th_run(cmd, in, &out, &err);
}

#define P PSHM_BIN

/* `pshm ARGS`: same, with the binary under test in front. */
#define pshm(in, fmt, ...) sh(in, P " " fmt, ##__VA_ARGS__)

/* `pshm FORM` with FORM's one %s replaced by @name. */
static __attribute__((unused)) int pshm_form(const char *form, const char *name)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), form, name);
	return pshm(NULL, "%s", cmd);
}

static __attribute__((unused)) bool has(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return th_run(cmd, NULL, NULL, NULL) == 0;
}

static __attribute__((unused)) bool has_python(void)
{
	return th_run("python3 -c 'import json, multiprocessing.shared_memory' >/dev/null 2>&1",
		      NULL, NULL, NULL) == 0;
}

/* The JSON in `out` parses (skipped without python3); `out` is kept. */
static __attribute__((unused)) void expect_json(void)
{
	if (!has_python())
		return;
	char *saved = strdup(out), *saved_err = strdup(err);
	int r = sh(saved, "python3 -c 'import json,sys; json.load(sys.stdin)'");
	cr_expect_eq(r, 0, "JSON does not parse: %s\n%s", err, saved);
	free(out);
	free(err);
	out = saved;
	err = saved_err;
}



static __attribute__((unused)) const char *path(const char *name)
{
	static char p[4][300];
	static unsigned i;
	return th_path(name, p[i++ % 4], sizeof(p[0]));
}

static __attribute__((unused)) void mkseg(const char *name, const char *size)
{
	cr_assert_eq(pshm(NULL, "create %s %s", name, size), 0, "create: %s", err);
}

/* Expect a runtime failure with exactly the pshm error prefix. */
static __attribute__((unused)) void expect_fail(int r, const char *action, const char *name, const char *what)
{
	char prefix[600];
	snprintf(prefix, sizeof(prefix), "pshm: %s '%s': ", action, name);
	cr_expect_eq(r, 1, "%s '%s': exit %d, stderr: %s", action, name, r, err);
	cr_expect(!strncmp(err, prefix, strlen(prefix)), "stderr should start with \"%s\": %s",
		  prefix, err);
	cr_expect_not_null(strstr(err, what), "stderr should say \"%s\": %s", what, err);
	cr_expect(err[0] && err[strlen(err) - 1] == '\n', "a complete line: %s", err);
}

/* A child that runs @body(@arg) (nonzero: failed), says it is ready, then
 * waits until killed; it dies with the test, even one killed before its
 * .fini. Returns its pid, remembered for the fixture to kill. */
static __attribute__((unused)) pid_t spawn_holder(int (*body)(void *), void *arg)
{
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		if (body(arg) != 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1, "holder started");
	close(ready[0]);
	cr_assert_lt(n_kids, 8);
	kids[n_kids++] = pid;
	return pid;
}

struct hold_arg {
	const char *name;
	bool map;
};

/* Open @name through libpshm and, with map, map it too; keep it. */
static __attribute__((unused)) int hold_body(void *arg)
{
	const struct hold_arg *h = arg;
	pshm_seg *s;
	if (pshm_seg_open(h->name, PSHM_NOMAP | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE,
			  &s) < 0)
		return -1;
	if (h->map) {
		if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, pshm_seg_fd(s), 0) == MAP_FAILED)
			return -1;
		pshm_seg_close(s);
	}
	return 0;
}

/* A child that maps @name (map) or holds it open (fd) until killed. */
static __attribute__((unused)) pid_t hold(const char *name, bool map)
{
	struct hold_arg h = { name, map };
	return spawn_holder(hold_body, &h);
}


struct as_nobody {
	const char *cmd;
	int errfd;
};

static __attribute__((unused)) int run_as_nobody(void *arg)
{
	struct as_nobody *a = arg;
	/* setuid() left this process undumpable, so its /proc files are
	 * root's: a gc run as nobody would rightly see an unreadable process
	 * of its own user (that may use nobody's segments) in it. */
	prctl(PR_SET_DUMPABLE, 1);
	dup2(a->errfd, 2);
	int st = system(a->cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Run @cmd (a pshm command line) as nobody; its stderr goes to `err`. */
static __attribute__((unused)) int nobody(const char *fmt, const char *name)
{
	char cmd[1024], bin[300];
	snprintf(cmd, sizeof(cmd), "%s ", th_public_copy(P, bin, sizeof(bin)));
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, name);
	strcat(cmd, " >/dev/null");
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct as_nobody a = { cmd, p[1] };
	int r = th_as_nobody(run_as_nobody, &a);
	th_public_remove(bin);
	close(p[1]);
	free(err);
	err = calloc(1, 4096);
	cr_assert_not_null(err);
	ssize_t n = read(p[0], err, 4095);
	err[n > 0 ? n : 0] = '\0';
	close(p[0]);
	return r;
}

#endif
