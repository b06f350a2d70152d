/*
 * test_cli_seg.c — the segment subcommands of the pshm command, run as a
 * user would: through /bin/sh, checking stdout, stderr and the exit status.
 * Bad input of every kind, --help everywhere, JSON that parses, and the
 * same bytes seen by cat, dd, hexdump and Python.
 */
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

static void extra_path(const char *p)
{
	cr_assert_lt(n_extra, 8);
	snprintf(extra[n_extra++], sizeof(extra[0]), "%s", p);
}

static void cli_fini(void)
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

TestSuite(cli_seg, .init = th_setup, .fini = cli_fini, .timeout = 60);

/* Run a shell command line; stdout and stderr land in `out` and `err`. */
__attribute__((format(printf, 2, 3))) static int sh(const char *in, const char *fmt, ...)
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
static int pshm_form(const char *form, const char *name)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), form, name);
	return pshm(NULL, "%s", cmd);
}

static bool has(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return th_run(cmd, NULL, NULL, NULL) == 0;
}

static bool has_python(void)
{
	return th_run("python3 -c 'import json, multiprocessing.shared_memory' >/dev/null 2>&1",
		      NULL, NULL, NULL) == 0;
}

/* The JSON in `out` parses (skipped without python3); `out` is kept. */
static void expect_json(void)
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



static const char *path(const char *name)
{
	static char p[4][300];
	static unsigned i;
	return th_path(name, p[i++ % 4], sizeof(p[0]));
}

static void mkseg(const char *name, const char *size)
{
	cr_assert_eq(pshm(NULL, "create %s %s", name, size), 0, "create: %s", err);
}

/* Expect a runtime failure with exactly the pshm error prefix. */
static void expect_fail(int r, const char *action, const char *name, const char *what)
{
	char prefix[600];
	snprintf(prefix, sizeof(prefix), "pshm: %s '%s': ", action, name);
	cr_expect_eq(r, 1, "%s '%s': exit %d, stderr: %s", action, name, r, err);
	cr_expect(!strncmp(err, prefix, strlen(prefix)), "stderr should start with \"%s\": %s",
		  prefix, err);
	cr_expect_not_null(strstr(err, what), "stderr should say \"%s\": %s", what, err);
	cr_expect(err[0] && err[strlen(err) - 1] == '\n', "a complete line: %s", err);
}

/* A child that maps @name (map) or holds it open (fd) until killed. */
static pid_t hold(const char *name, bool map)
{
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Gone with the test, even if it is killed before its .fini. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		pshm_seg *s;
		if (pshm_seg_open(name, PSHM_NOMAP | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE,
				  &s) < 0)
			_exit(1);
		if (map) {
			if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, pshm_seg_fd(s), 0) == MAP_FAILED)
				_exit(1);
			pshm_seg_close(s);
		}
		if (write(ready[1], "r", 1) != 1)
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

/* ---- every subcommand: --help, usage errors ----------------------------- */

static const char *const cmds[] = { "ls", "stat", "who", "cat", "dump",
				    "create", "write", "rm", "gc" };

Test(cli_seg, every_subcommand_has_help)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "usage: pshm %s", cmds[i]);
		cr_expect_eq(pshm(NULL, "%s --help", cmds[i]), 0, "%s --help", cmds[i]);
		cr_expect(!strncmp(out, want, strlen(want)), "%s --help: %s", cmds[i], out);
		cr_expect_str_empty(err);
		cr_expect_eq(pshm(NULL, "%s -h", cmds[i]), 0, "%s -h", cmds[i]);
		cr_expect(!strncmp(out, want, strlen(want)));
	}
	cr_expect_eq(pshm(NULL, "--help"), 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		cr_expect_not_null(strstr(out, cmds[i]), "pshm --help lists %s", cmds[i]);
	cr_expect_eq(pshm(NULL, "--version"), 0);
	cr_expect_not_null(strstr(out, PSHM_VERSION_STRING));
	cr_expect_eq(pshm(NULL, "no-such-command"), 2);
	cr_expect_eq(pshm(NULL, ""), 2);
	cr_expect_eq(sh(NULL, P), 2, "no command at all");
}

Test(cli_seg, usage_errors_exit_2_and_point_to_help)
{
	const char *n = th_name("usage");
	mkseg(n, "4096");
	const char *bad[] = {
		"ls --bogus", "ls extra", "stat", "stat a b", "stat x --bogus", "who", "who a b",
		"cat", "cat a b", "cat x -q", "dump", "dump x -o", "dump x -o banana",
		"dump x -n -3", "create", "create x", "create x 4096 extra", "create x 12Q",
		"create x -5", "create x 4K --mode 999", "create x 4K --mode rw", "create x 4K --mode 0", "write",
		"write x a b", "write x --offset", "write x --offset minus hi",
		"write x --mode 600 hi", "rm", "rm --bogus x", "gc extra", "gc --older-than soon",
		"gc --older-than -1h",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = pshm(NULL, "%s", bad[i]);
		cr_expect_eq(r, 2, "'pshm %s' exit %d: %s", bad[i], r, err);
		char want[32];
		snprintf(want, sizeof(want), "pshm %.*s", (int)strcspn(bad[i], " "), bad[i]);
		cr_expect(!strncmp(err, want, strlen(want)), "'%s': %s", bad[i], err);
		cr_expect_not_null(strstr(err, "--help"), "'%s': %s", bad[i], err);
		cr_expect_str_empty(out, "'%s' printed %s", bad[i], out);
	}
	cr_expect_not(th_exists("/x"), "nothing was created by a usage error");
	cr_expect_eq(th_lstat(n).st_size, 4096);
}

/* ---- bad names, missing segments --------------------------------------- */

Test(cli_seg, invalid_names_are_refused_by_every_command)
{
	char longname[301];
	memset(longname, 'a', 300);
	longname[300] = '\0';
	const char *names[] = { "../etc/passwd", "a/b", "", ".", "..", "/", longname };
	const char *forms[][2] = {
		{ "stat", "stat '%s'" }, { "who", "who '%s'" }, { "cat", "cat '%s'" },
		{ "dump", "dump '%s'" }, { "create", "create '%s' 4K" },
		{ "write", "write '%s' hello" }, { "write", "write --create '%s' hello" },
		{ "rm", "rm '%s'" }, { "rm", "rm -f '%s'" },
	};
	struct stat before;
	cr_assert_eq(stat("/etc/passwd", &before), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (size_t j = 0; j < sizeof(forms) / sizeof(forms[0]); j++) {
			char cmd[1024];
			snprintf(cmd, sizeof(cmd), forms[j][1], names[i]);
			int r = pshm(NULL, "%s", cmd);
			expect_fail(r, forms[j][0], names[i],
				    names[i] == longname ? "segment name too long"
							 : "invalid segment name");
		}
	}
	struct stat after;
	cr_assert_eq(stat("/etc/passwd", &after), 0);
	cr_expect_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	cr_expect_eq(after.st_size, before.st_size);
}

Test(cli_seg, missing_segments_are_reported)
{
	const char *n = th_name("missing");
	const char *forms[][2] = {
		{ "stat", "stat %s" }, { "who", "who %s" }, { "cat", "cat %s" },
		{ "dump", "dump %s" }, { "rm", "rm %s" },
	};
	for (size_t j = 0; j < sizeof(forms) / sizeof(forms[0]); j++)
		expect_fail(pshm_form(forms[j][1], n), forms[j][0], n, "no such segment");
	expect_fail(pshm(NULL, "write %s hello", n), "write", n, "--create");
	cr_expect_eq(pshm(NULL, "rm -f %s", n), 0, "-f ignores it");
	cr_expect_str_empty(err);
	cr_expect_not(th_exists(n));
}

/* ---- create ------------------------------------------------------------- */

Test(cli_seg, create_takes_sizes_with_units_and_an_octal_mode)
{
	const char *sizes[][2] = { { "4096", "4096" }, { "64K", "65536" }, { "1M", "1048576" },
				   { "3", "3" }, { "2KiB", "2048" } };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *n = th_name("create");
		cr_assert_eq(pshm(NULL, "create %s %s", n, sizes[i][0]), 0, "%s", err);
		cr_expect_str_empty(out);
		struct stat st = th_lstat(n);
		cr_expect_eq(st.st_size, atoll(sizes[i][1]), "size %s", sizes[i][0]);
		cr_expect_eq(st.st_mode & 07777, 0600, "default mode");
		cr_expect_geq((long long)st.st_blocks * 512, st.st_size, "reserved");
	}
	const char *a = th_name("mode"), *b = th_name("mode");
	cr_assert_eq(sh(NULL, "umask 077; %s create %s 4K --mode 644", P, a), 0, "%s", err);
	cr_expect_eq(th_lstat(a).st_mode & 07777, 0644, "exactly the mode asked for");
	cr_assert_eq(pshm(NULL, "create --mode=0640 %s 4K", b), 0, "%s", err);
	cr_expect_eq(th_lstat(b).st_mode & 07777, 0640);
	const char *c = th_name("noslash");
	cr_assert_eq(pshm(NULL, "create %s 4K", c + 1), 0, "name without the slash");
	cr_expect(th_exists(c));
}

Test(cli_seg, create_refuses_an_existing_segment_unless_exist_ok)
{
	const char *n = th_name("exist");
	mkseg(n, "4K");
	cr_assert_eq(pshm(NULL, "write %s kept", n), 0);
	expect_fail(pshm(NULL, "create %s 8K", n), "create", n, "already exists");
	cr_expect_eq(th_lstat(n).st_size, 4096);
	cr_expect_eq(pshm(NULL, "create %s 8K --exist-ok", n), 0, "%s", err);
	cr_expect_eq(th_lstat(n).st_size, 8192, "grown");
	cr_expect_eq(pshm(NULL, "create %s 1K -e", n), 0, "%s", err);
	cr_expect_eq(th_lstat(n).st_size, 8192, "never shrunk");
	cr_expect_eq(pshm(NULL, "cat --text %s", n), 0);
	cr_expect_str_eq(out, "kept");
}

Test(cli_seg, create_size_zero_or_too_large_fails_and_leaves_nothing)
{
	const char *n = th_name("size");
	expect_fail(pshm(NULL, "create %s 0", n), "create", n, "at least 1 byte");
	cr_expect_not(th_exists(n));
	expect_fail(pshm(NULL, "create %s 1T", n), "create", n, "no space left in /dev/shm");
	cr_expect_not(th_exists(n), "a failed create leaves nothing");
	expect_fail(pshm(NULL, "create %s 16000000T", n), "create", n, "");
	cr_expect_not(th_exists(n));
}

/* ---- write -------------------------------------------------------------- */

Test(cli_seg, write_puts_text_or_stdin_at_an_offset)
{
	const char *n = th_name("write");
	mkseg(n, "64");
	cr_assert_eq(pshm(NULL, "write %s 'Hello, world'", n), 0, "%s", err);
	cr_expect_str_empty(out);
	cr_assert_eq(pshm(NULL, "write %s --offset 7 World", n), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "cat --text %s", n), 0);
	cr_expect_str_eq(out, "Hello, World");
	cr_assert_eq(pshm("from stdin", "write %s -o 0x20 -", n), 0, "%s", err);
	cr_assert_eq(pshm("implicit", "write %s -o 48", n), 0, "%s", err);
	cr_assert_eq(sh(NULL, "dd if=%s bs=1 skip=32 count=10 status=none", path(n)), 0);
	cr_expect_str_eq(out, "from stdin");
	cr_assert_eq(sh(NULL, "dd if=%s bs=1 skip=48 count=8 status=none", path(n)), 0);
	cr_expect_str_eq(out, "implicit");
	cr_expect_eq(th_lstat(n).st_size, 64);
	/* -z: a C string, NUL included. */
	cr_assert_eq(pshm(NULL, "write -z %s Hi", n), 0);
	cr_assert_eq(pshm(NULL, "cat --text %s", n), 0);
	cr_expect_str_eq(out, "Hi");
	/* Past the end: the segment grows. */
	cr_assert_eq(pshm(NULL, "write %s --offset 62 tail", n), 0, "%s", err);
	cr_expect_eq(th_lstat(n).st_size, 66);
	/* A text that starts with '-' after "--". */
	cr_assert_eq(pshm(NULL, "write %s -- -dash", n), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "cat %s --text", n), 0);
	cr_expect_str_eq(out, "-dash, World");
}

Test(cli_seg, write_creates_only_when_asked)
{
	const char *n = th_name("wcreate");
	expect_fail(pshm(NULL, "write %s hello", n), "write", n, "use --create");
	cr_expect_not(th_exists(n));
	cr_assert_eq(pshm(NULL, "write --create %s hello", n), 0, "%s", err);
	struct stat st = th_lstat(n);
	cr_expect_eq(st.st_size, 5, "just large enough");
	cr_expect_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(pshm(NULL, "write --create %s HE", n), 0, "existing: just written");
	cr_assert_eq(pshm(NULL, "cat %s", n), 0);
	cr_expect_str_eq(out, "HEllo");
	const char *m = th_name("wcreate");
	cr_assert_eq(pshm("streamed", "write -c -m 640 -o 10 %s -", m), 0, "%s", err);
	cr_expect_eq(th_lstat(m).st_size, 18);
	cr_expect_eq(th_lstat(m).st_mode & 07777, 0640);
	const char *e = th_name("wcreate");
	expect_fail(pshm("", "write --create %s -", e), "write", e, "nothing to write");
	cr_expect_not(th_exists(e));
}

Test(cli_seg, write_reports_a_partial_write_on_a_full_dev_shm)
{
	if (!th_is_root())
		cr_skip_test("needs root for a private tmpfs");
	int r = sh(NULL,
		   "unshare --mount sh -c 'mount --make-rprivate / && "
		   "mount -t tmpfs -o size=64k tmpfs /dev/shm || exit 77; "
		   "%s create full 16K || exit 78; "
		   "head -c 100000 /dev/zero | tr \"\\\\000\" x | %s write full -; echo \"rc=$?\"; "
		   "%s cat full | tr -d x | wc -c; %s create more 4K; echo \"rc=$?\"; ls /dev/shm'",
		   P, P, P, P);
	if (r == 77)
		cr_skip_test("cannot mount a private tmpfs here");
	cr_assert_eq(r, 0, "status %d: %s %s", r, out, err);
	cr_expect_not_null(strstr(out, "rc=1\n0\nrc=1\nfull\n"), "output: %s", out);
	const char *m = strstr(err, "pshm: write 'full': no space left in /dev/shm (");
	cr_assert_not_null(m, "stderr: %s", err);
	unsigned long long written = strtoull(m + strlen("pshm: write 'full': no space left in "
							 "/dev/shm ("), NULL, 10);
	cr_expect(written > 16384 && written < 100000, "%llu bytes written", written);
	cr_expect_not_null(strstr(err, "bytes written before the error"), "%s", err);
	cr_expect_not_null(strstr(err, "pshm: create 'more': no space left in /dev/shm"), "%s",
			   err);
}

/* ---- permission and the open policy ------------------------------------- */

struct as_nobody {
	const char *cmd;
	int errfd;
};

static int run_as_nobody(void *arg)
{
	struct as_nobody *a = arg;
	dup2(a->errfd, 2);
	int st = system(a->cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Run @cmd (a pshm command line) as nobody; its stderr goes to `err`. */
static int nobody(const char *fmt, const char *name)
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

Test(cli_seg, another_users_private_segment_is_permission_denied)
{
	const char *n = th_name("private");
	mkseg(n, "4K");
	cr_assert_eq(pshm(NULL, "write %s secret", n), 0);
	expect_fail(nobody("cat %s", n), "cat", n, "Permission denied");
	expect_fail(nobody("dump %s", n), "dump", n, "Permission denied");
	expect_fail(nobody("write %s x", n), "write", n, "Permission denied");
	expect_fail(nobody("write --allow-foreign %s x", n), "write", n, "Permission denied");
	expect_fail(nobody("rm %s", n), "rm", n, "only its owner or root may remove it");
	cr_expect_eq(nobody("stat %s", n), 0, "stat needs no access to the contents: %s", err);
	cr_expect_eq(nobody("ls%s", ""), 0, "%s", err);
	cr_expect(th_exists(n));
	cr_assert_eq(pshm(NULL, "cat %s --text", n), 0);
	cr_expect_str_eq(out, "secret", "unchanged");
}

Test(cli_seg, write_applies_the_owner_and_mode_policy_and_says_which_flag_lifts_it)
{
	if (!th_is_root())
		cr_skip_test("needs root to give a file away");
	uid_t uid;
	gid_t gid;
	th_nobody(&uid, &gid);
	const char *f = th_name("foreign");
	th_write_file(f, "theirs", 6, 0644);
	cr_assert_eq(chown(path(f), uid, gid), 0);
	expect_fail(pshm(NULL, "write %s mine", f), "write", f, "--allow-foreign");
	cr_expect_not_null(strstr(err, "owned by nobody"), "%s", err);
	cr_assert_eq(pshm(NULL, "cat %s", f), 0, "inspection reads it: %s", err);
	cr_expect_str_eq(out, "theirs");
	cr_expect_eq(pshm(NULL, "dump %s", f), 0);
	cr_expect_eq(pshm(NULL, "write --allow-foreign %s MINE", f), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "cat %s", f), 0);
	cr_expect_str_eq(out, "MINErs");

	const char *g = th_name("groupw");
	th_write_file(g, "shared", 6, 0660);
	expect_fail(pshm(NULL, "write %s x", g), "write", g, "--allow-shared-write");
	cr_expect_not_null(strstr(err, "writable by group or others"), "%s", err);
	cr_assert_eq(pshm(NULL, "cat %s", g), 0, "inspection reads it");
	cr_expect_str_eq(out, "shared");
	cr_expect_eq(pshm(NULL, "write --allow-shared-write %s S", g), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "cat %s", g), 0);
	cr_expect_str_eq(out, "Shared");
	const char *w = th_name("worldw");
	th_write_file(w, "x", 1, 0666);
	expect_fail(pshm(NULL, "write %s y", w), "write", w, "--allow-shared-write");
	expect_fail(pshm(NULL, "create %s 4K --exist-ok", w), "create", w, "--allow-shared-write");
	cr_expect_eq(pshm(NULL, "create %s 8K --exist-ok --allow-shared-write", w), 0, "%s", err);
	cr_expect_eq(th_lstat(w).st_size, 8192, "the option the message names works");
	cr_expect_eq(pshm(NULL, "create %s 8K -e --allow-foreign", f), 0, "%s", err);
}

/* ---- symlinks, directories, FIFOs -------------------------------------- */

static void expect_never_followed(const char *n, const char *what)
{
	const char *forms[][2] = {
		{ "cat", "cat %s" },		{ "dump", "dump %s" },
		{ "write", "write %s evil" },	{ "write", "write --create %s evil" },
		{ "write", "write --allow-foreign --allow-shared-write %s evil" },
		{ "create", "create %s 4K" },	{ "create", "create %s 4K --exist-ok" },
	};
	for (size_t j = 0; j < sizeof(forms) / sizeof(forms[0]); j++) {
		char w[64];
		snprintf(w, sizeof(w), "is a %s, not a segment: refused", what);
		expect_fail(pshm_form(forms[j][1], n), forms[j][0], n, w);
	}
	char w[64];
	snprintf(w, sizeof(w), "is a %s, not a segment: not removed", what);
	expect_fail(pshm(NULL, "rm %s", n), "rm", n, w);
	expect_fail(pshm(NULL, "rm -f %s", n), "rm", n, w);
	cr_expect(th_exists(n), "%s still there", n);
	cr_expect_eq(pshm(NULL, "stat %s", n), 0, "stat describes it: %s", err);
	cr_expect_not_null(strstr(out, what), "%s", out);
	cr_expect_not_null(strstr(out, "not a segment"), "%s", out);
	cr_expect_eq(pshm(NULL, "stat --json %s", n), 0);
	expect_json();
	cr_expect_eq(pshm(NULL, "ls"), 0);
	char line[128];
	snprintf(line, sizeof(line), "%s ", n);
	const char *l = strstr(out, line);
	cr_assert_not_null(l, "ls shows %s: %s", n, out);
	cr_expect_not_null(strstr(l, "(not a segment)"), "%s", out);
}

Test(cli_seg, symlink_is_reported_and_never_followed)
{
	const char *target = th_name("target"), *link = th_name("link");
	th_write_file(target, "precious", 8, 0600);
	struct stat before = th_lstat(target);
	cr_assert_eq(symlink(path(target), path(link)), 0);
	expect_never_followed(link, "symbolic link");
	struct stat after = th_lstat(target);
	cr_expect_eq(after.st_size, 8);
	cr_expect_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	cr_expect_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	cr_assert_eq(sh(NULL, "cat %s", path(target)), 0);
	cr_expect_str_eq(out, "precious");
	cr_expect_eq(pshm(NULL, "cat %s", link), 1);
	cr_expect_not_null(strstr(err, "(never followed)"), "%s", err);
	/* A dangling link: nothing appears at its target. */
	const char *nowhere = th_name("nowhere"), *dangling = th_name("dangling");
	cr_assert_eq(symlink(path(nowhere), path(dangling)), 0);
	cr_expect_eq(pshm(NULL, "write --create %s evil", dangling), 1);
	cr_expect_eq(pshm(NULL, "create %s 4K", dangling), 1);
	cr_expect_not(th_exists(nowhere));
}

Test(cli_seg, directory_is_reported_and_left_alone)
{
	const char *d = th_name("dir");
	cr_assert_eq(mkdir(path(d), 0700), 0);
	expect_never_followed(d, "directory");
	cr_expect(S_ISDIR(th_lstat(d).st_mode));
}

Test(cli_seg, fifo_is_reported_and_never_opened, .timeout = 30)
{
	const char *f = th_name("fifo");
	cr_assert_eq(mkfifo(path(f), 0600), 0);
	expect_never_followed(f, "FIFO");
	cr_expect(S_ISFIFO(th_lstat(f).st_mode));
}

/* ---- cat ---------------------------------------------------------------- */

Test(cli_seg, cat_copies_every_byte)
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

Test(cli_seg, cat_streams_a_large_segment_in_bounded_memory)
{
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

Test(cli_seg, cat_truncated_while_streaming_fails_cleanly)
{
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

Test(cli_seg, dump_truncated_while_streaming_fails_cleanly)
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

Test(cli_seg, dump_matches_hexdump_C)
{
	if (!has("hexdump"))
		cr_skip_test("hexdump is not installed");
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

Test(cli_seg, inspection_allocates_nothing_in_a_sparse_segment)
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

/* ---- rm ----------------------------------------------------------------- */

Test(cli_seg, rm_removes_many_and_f_ignores_missing_ones)
{
	const char *a = th_name("rm"), *b = th_name("rm"), *c = th_name("rm"), *m = th_name("rm");
	mkseg(a, "4K");
	mkseg(b, "4K");
	mkseg(c, "4K");
	cr_assert_eq(pshm(NULL, "rm %s %s", a, b + 1), 0, "%s", err);
	cr_expect_str_empty(out);
	cr_expect_not(th_exists(a));
	cr_expect_not(th_exists(b));
	expect_fail(pshm(NULL, "rm %s %s", m, c), "rm", m, "no such segment");
	cr_expect_not(th_exists(c), "the others are still removed");
	mkseg(c, "4K");
	cr_expect_eq(pshm(NULL, "rm -f %s %s", m, c), 0, "%s", err);
	cr_expect_not(th_exists(c));
	cr_expect_eq(pshm(NULL, "rm -f"), 0, "nothing to do");
	/* A segment in use loses its name only. */
	mkseg(a, "4K");
	hold(a, true);
	cr_expect_eq(pshm(NULL, "rm %s", a), 0);
	cr_expect_not(th_exists(a));
}

/* ---- ls, stat, who ------------------------------------------------------ */

static const char *line_of(const char *text, const char *name)
{
	static char line[1024];
	char key[300];
	snprintf(key, sizeof(key), "%s ", name);
	const char *l = strstr(text, key);
	if (!l)
		return NULL;
	while (l > text && l[-1] != '\n')
		l--;
	size_t k = strcspn(l, "\n");
	snprintf(line, sizeof(line), "%.*s", (int)k, l);
	return line;
}

Test(cli_seg, ls_lists_segments_with_their_users)
{
	const char *n = th_name("ls"), *b = th_name("lsbox");
	mkseg(n, "64K");
	th_write_file(b, "PSHMBOX1", 8, 0640);
	pid_t kid = hold(n, true);
	(void)kid;
	cr_assert_eq(pshm(NULL, "ls"), 0, "%s", err);
	cr_expect(!strncmp(out, "NAME ", 5), "header: %s", out);
	const char *l = line_of(out, n);
	cr_assert_not_null(l, "%s", out);
	char name[300], size[32], users[32], kind[64];
	cr_assert_eq(sscanf(l, "%299s %31s %31s %63s", name, size, users, kind), 4, "'%s'", l);
	cr_expect_str_eq(name, n);
	cr_expect_str_eq(size, "64K");
	cr_expect_str_eq(users, "1", "the holder maps it");
	cr_expect_str_eq(kind, "raw");
	l = line_of(out, b);
	cr_assert_not_null(l);
	cr_expect_not_null(strstr(l, "box"), "line: '%s'", l);

	cr_assert_eq(pshm(NULL, "ls -l"), 0, "%s", err);
	l = line_of(out, n);
	cr_assert_not_null(l, "%s", out);
	cr_expect(!strncmp(l, "-rw-------  root", 16), "line: '%s'", l);
	cr_expect_not_null(strstr(l, " 65536 "), "line: '%s'", l);
	l = line_of(out, b);
	cr_assert_not_null(l);
	cr_expect(!strncmp(l, "-rw-r-----", 10), "line: '%s'", l);

	cr_assert_eq(pshm(NULL, "ls --json"), 0, "%s", err);
	expect_json();
	if (has_python()) {
		char *json = strdup(out);
		int r = sh(json, "python3 -c 'import json,sys\n"
				 "for e in json.load(sys.stdin):\n"
				 "  if e[\"name\"] == \"%s\":\n"
				 "    print(e[\"size\"], e[\"allocated\"], e[\"users\"], e[\"kind\"], "
				 "e[\"mode\"], e[\"owner\"], e[\"type\"])'",
			   n);
		free(json);
		cr_assert_eq(r, 0, "%s", err);
		cr_expect_str_eq(out, "65536 65536 1 raw 0600 root regular\n");
	}
	cr_expect_eq(pshm(NULL, "ls -l --json"), 0);
	expect_json();
}

Test(cli_seg, ls_escapes_hostile_names)
{
	char name[128], p[300];
	snprintf(name, sizeof(name), "/pshm-test-esc-%d-\033[31mred\n", (int)getpid());
	th_path(name, p, sizeof(p));
	extra_path(p);
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(pshm(NULL, "ls"), 0);
	char want[128];
	snprintf(want, sizeof(want), "/pshm-test-esc-%d-\\x1b[31mred\\x0a ", (int)getpid());
	cr_expect_not_null(strstr(out, want), "%s", out);
	cr_expect_null(strchr(out, '\033'), "no raw escape byte on the terminal");
	cr_assert_eq(pshm(NULL, "ls --json"), 0);
	expect_json();
	/* Error messages escape the name too. */
	cr_expect_eq(sh(NULL, "%s cat \"$(printf 'pshm-test-nope-\\033]0;x\\007')\"", P), 1);
	cr_expect_null(strchr(err, '\033'), "%s", err);
	cr_expect_not_null(strstr(err, "\\x1b]0;x\\x07"), "%s", err);
}

Test(cli_seg, stat_describes_a_segment)
{
	const char *n = th_name("stat");
	cr_assert_eq(pshm(NULL, "create %s 10000 --mode 640", n), 0);
	cr_assert_eq(pshm(NULL, "stat %s", n + 1), 0, "%s", err);
	char want[300];
	snprintf(want, sizeof(want), "name:       %s\n", n);
	cr_expect(!strncmp(out, want, strlen(want)), "%s", out);
	const char *lines[] = { "type:       regular file\n", "kind:       raw\n",
				"size:       9.8K (10000 bytes)\n", "owner:      root (0)\n",
				"mode:       0640 (-rw-r-----)\n", "users:      0 processes" };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		cr_expect_not_null(strstr(out, lines[i]), "'%s' in %s", lines[i], out);
	cr_assert_eq(pshm(NULL, "stat --json %s", n), 0, "%s", err);
	expect_json();
	cr_expect_not_null(strstr(out, "\"size\": 10000"), "%s", out);
	cr_expect_not_null(strstr(out, "\"mode\": \"0640\""), "%s", out);
}

Test(cli_seg, who_lists_the_processes_that_map_or_hold_a_segment)
{
	const char *n = th_name("who");
	mkseg(n, "4K");
	cr_assert_eq(pshm(NULL, "who %s", n), 0);
	cr_expect_not_null(strstr(out, "no process maps"), "%s", out);
	pid_t m = hold(n, true), f = hold(n, false);
	cr_assert_eq(pshm(NULL, "who %s", n), 0, "%s", err);
	cr_expect(!strncmp(out, "    PID  HOW     COMMAND\n", 25), "%s", out);
	char want[64];
	snprintf(want, sizeof(want), "%7d  map     ", (int)m);
	cr_expect_not_null(strstr(out, want), "mapper %d in %s", (int)m, out);
	snprintf(want, sizeof(want), "%7d  fd      ", (int)f);
	cr_expect_not_null(strstr(out, want), "holder %d in %s", (int)f, out);
	cr_assert_eq(pshm(NULL, "who --json %s", n), 0);
	expect_json();
	snprintf(want, sizeof(want), "{\"pid\": %d, \"map\": true, \"fd\": false", (int)m);
	cr_expect_not_null(strstr(out, want), "%s", out);
	cr_assert_eq(pshm(NULL, "stat %s", n), 0);
	cr_expect_not_null(strstr(out, "users:      2 processes"), "%s", out);
}

/* ---- gc ----------------------------------------------------------------- */

/* 1980-01-01: far older than anything a test run or a person makes. */
static void make_old(const char *name)
{
	struct timespec ts[2] = { { 315532800, 0 }, { 315532800, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, path(name), ts, AT_SYMLINK_NOFOLLOW), 0);
}

#define GC_AGE "--older-than 16000d" /* only matches segments made old above */

Test(cli_seg, gc_lists_and_removes_only_old_unused_own_segments)
{
	const char *old = th_name("gc-old"), *young = th_name("gc-young");
	const char *mapped = th_name("gc-mapped"), *held = th_name("gc-held");
	const char *foreign = th_name("gc-foreign"), *link = th_name("gc-link");
	mkseg(old, "4K");
	mkseg(young, "4K");
	mkseg(mapped, "4K");
	mkseg(held, "4K");
	mkseg(foreign, "4K");
	cr_assert_eq(symlink("/etc/passwd", path(link)), 0);
	hold(mapped, true);
	hold(held, false);
	if (th_is_root()) {
		uid_t uid;
		gid_t gid;
		th_nobody(&uid, &gid);
		cr_assert_eq(chown(path(foreign), uid, gid), 0);
	}
	make_old(old);
	make_old(mapped);
	make_old(held);
	make_old(foreign);
	make_old(link);

	cr_assert_eq(pshm(NULL, "gc " GC_AGE), 0, "%s", err);
	cr_expect_not_null(line_of(out, old), "old one listed: %s", out);
	const char *others[] = { young, mapped, held, foreign, link };
	for (size_t i = 0; i < 5; i++)
		cr_expect_null(line_of(out, others[i]), "%s listed: %s", others[i], out);
	cr_expect_not_null(strstr(out, "--yes"), "says how to remove: %s", out);
	cr_expect(th_exists(old), "listing removes nothing");

	cr_assert_eq(pshm(NULL, "gc --json " GC_AGE), 0, "%s", err);
	expect_json();
	char want[300];
	snprintf(want, sizeof(want), "{\"name\": \"%s\", \"size\": 4096", old);
	cr_expect_not_null(strstr(out, want), "%s", out);
	cr_expect_not_null(strstr(out, "\"removed\": false"), "%s", out);

	cr_assert_eq(pshm(NULL, "gc"), 0, "default age: %s", err);
	cr_expect_null(line_of(out, young), "%s", out);

	cr_assert_eq(pshm(NULL, "gc --yes " GC_AGE), 0, "%s", err);
	snprintf(want, sizeof(want), "removed %s ", old);
	cr_expect_not_null(strstr(out, want), "%s", out);
	cr_expect_not(th_exists(old));
	for (size_t i = 0; i < 5; i++)
		cr_expect(th_exists(others[i]), "%s kept", others[i]);
	cr_expect_eq(pshm(NULL, "gc --yes --json " GC_AGE), 0);
	expect_json();
	cr_expect_null(strstr(out, old), "%s", out);
}

/* 1970-01-01: older than the segments make_old() makes, so that a gc with
 * GC_OLDER (tests run in parallel) never touches those of another test. */
static void make_older(const char *name)
{
	struct timespec ts[2] = { { 0, 0 }, { 0, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, path(name), ts, AT_SYMLINK_NOFOLLOW), 0);
}

#define GC_OLDER "--older-than 19000d" /* only matches segments made older above */

Test(cli_seg, gc_keeps_a_box_that_was_just_written)
{
	/* Stores through a mapping leave a tmpfs file's mtime alone: the
	 * library must set it, or a busy box looks abandoned. */
	const char *busy = th_name("gc-busy"), *idle = th_name("gc-idle");
	cr_assert_eq(pshm(NULL, "put %s first", busy), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "put %s first", idle), 0, "%s", err);
	make_older(busy);
	make_older(idle);
	cr_assert_eq(pshm(NULL, "put %s second", busy), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "gc --yes " GC_OLDER), 0, "%s", err);
	cr_expect(th_exists(busy), "a box written a moment ago is not abandoned: %s", out);
	cr_expect_not(th_exists(idle), "the untouched one is: %s", out);
	cr_assert_eq(pshm(NULL, "get %s", busy), 0);
	cr_expect_str_eq(out, "second");
}

Test(cli_seg, gc_as_another_user_skips_what_it_cannot_prove_unused)
{
	if (!th_is_root())
		cr_skip_test("needs root to give files away and hold one as root");
	uid_t uid;
	gid_t gid;
	th_nobody(&uid, &gid);
	const char *shared = th_name("gc-shared"), *lone = th_name("gc-lone");
	const char *mine = th_name("gc-private");
	th_write_file(shared, "in use by root", 14, 0644);
	th_write_file(lone, "nobody here", 11, 0644);
	th_write_file(mine, "private", 7, 0600);
	const char *all[] = { shared, lone, mine };
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(chown(path(all[i]), uid, gid), 0);
		make_older(all[i]);
	}
	hold(shared, true); /* a root process: nobody cannot see it in /proc */
	cr_expect_eq(nobody("gc --yes " GC_OLDER "%s", ""), 0, "%s", err);
	cr_expect(th_exists(shared), "in use by a process nobody cannot see");
	cr_expect(th_exists(lone), "other users could use it unseen: not provably unused");
	cr_expect_not(th_exists(mine), "only its owner may open it: the scan proves it unused");
	char want[300];
	snprintf(want, sizeof(want), "pshm: gc '%s': skipped: may be in use", shared);
	cr_expect_not_null(strstr(err, want), "says why: %s", err);
	snprintf(want, sizeof(want), "pshm: gc '%s': skipped: may be in use", lone);
	cr_expect_not_null(strstr(err, want), "says why: %s", err);
}

Test(cli_seg, ls_and_stat_describe_a_huge_sparse_box_without_reading_it)
{
	/* 64 MiB of holes behind a valid box header whose length claims all
	 * of it: describing it must not read (and so allocate) the value. */
	const char *n = th_name("sparsebox");
	const uint64_t cap = 64 << 20;
	uint64_t hdr[8] = { 0x31584f424d485350, 64ull << 32 | 1, cap, 64 + cap, 0, cap, 0, 0 };
	th_write_file(n, hdr, sizeof(hdr), 0644);
	cr_assert_eq(truncate(path(n), (off_t)(64 + cap)), 0);
	blkcnt_t before = th_lstat(n).st_blocks;
	const char *forms[] = { "ls", "ls -l", "ls --json", "stat %s", "stat --json %s" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		cr_assert_eq(pshm_form(forms[i], n), 0, "%s: %s", forms[i], err);
		cr_expect_not_null(strstr(out, "box 67108864/67108864 B"), "%s: %s", forms[i], out);
		cr_expect_eq(th_lstat(n).st_blocks, before, "'pshm %s' allocated pages", forms[i]);
	}
	cr_expect_eq(pshm(NULL, "verify %s", n), 1, "verify reads the value (and fails)");
}

Test(cli_seg, json_stays_valid_with_any_bytes_in_names)
{
	char bad[128], utf8[128], p[300];
	snprintf(bad, sizeof(bad), "/pshm-test-json-%d-\xff\xfe-end", (int)getpid());
	snprintf(utf8, sizeof(utf8), "/pshm-test-json-%d-caf\xc3\xa9", (int)getpid());
	const char *names[] = { bad, utf8 };
	for (int i = 0; i < 2; i++) {
		extra_path(th_path(names[i], p, sizeof(p)));
		th_write_file(names[i], "x", 1, 0600);
	}
	char want[128];
	cr_assert_eq(pshm(NULL, "ls --json"), 0, "%s", err);
	expect_json();
	snprintf(want, sizeof(want), "\"/pshm-test-json-%d-\\u00ff\\u00fe-end\"", (int)getpid());
	cr_expect_not_null(strstr(out, want), "invalid bytes as \\u00XX: %s", out);
	snprintf(want, sizeof(want), "\"/pshm-test-json-%d-caf\xc3\xa9\"", (int)getpid());
	cr_expect_not_null(strstr(out, want), "valid UTF-8 passes through: %s", out);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pshm_form("stat --json '%s'", names[i]), 0, "%s", err);
		expect_json();
		cr_assert_eq(pshm_form("who --json '%s'", names[i]), 0, "%s", err);
		expect_json();
	}
	if (has_python()) {
		cr_assert_eq(pshm(NULL, "ls --json"), 0);
		char *json = strdup(out);
		int r = sh(json, "python3 -c 'import json,sys\n"
				 "for e in json.load(sys.stdin):\n"
				 "  n = e[\"name\"].split(\"-json-%d-\")\n"
				 "  if len(n) == 2: print(ascii(n[1]))'", (int)getpid());
		free(json);
		cr_assert_eq(r, 0, "%s", err);
		cr_expect_str_eq(out, "'caf\\xe9'\n'\\xff\\xfe-end'\n", "%s", out);
	}
}

Test(cli_seg, numbers_must_start_with_a_digit)
{
	const char *n = th_name("digits");
	mkseg(n, "4096");
	/* strtoull() alone would take these: " -1" is 2^64 - 1. */
	const char *bad[] = { "create %s ' -1'", "create %s ' 5'", "create %s '+5'", "create %s -- -1",
			      "dump %s -o 0x-1", "dump %s -o ' 5'", "dump %s -o '0x 5'",
			      "dump %s -n 0x+1", "dump %s -o ''", "write %s --offset ' 1' hi",
			      "write %s --offset 0x-1 hi", "create %s 4K --mode ' 600'",
			      "create %s 4K --mode -600", "create %s 4K --mode 1777",
			      "put --capacity ' 8' %s v", "put --capacity -8 %s v" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = pshm_form(bad[i], n);
		cr_expect_eq(r, 2, "'pshm %s' exit %d: %s", bad[i], r, err);
		cr_expect_not_null(strstr(err, "--help"), "'%s': %s", bad[i], err);
	}
	const char *ages[] = { " 1h", "+1h", "-0", "1e3", "inf", "nan", "0x10", "1.2.3s" };
	for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++)
		cr_expect_eq(pshm(NULL, "gc --older-than '%s'", ages[i]), 2, "age '%s'", ages[i]);
	cr_expect_eq(pshm(NULL, "gc --older-than 1.5h"), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "dump %s -o 0x10 -n 0X10", n), 0, "%s", err);
	cr_expect_eq(th_lstat(n).st_size, 4096, "nothing changed");
}

/* ---- the same bytes for every tool -------------------------------------- */

Test(cli_seg, segments_interoperate_with_cat_and_dd)
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

Test(cli_seg, segments_interoperate_with_python_shared_memory)
{
	if (!has_python())
		cr_skip_test("python3 with multiprocessing.shared_memory is not installed");
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
