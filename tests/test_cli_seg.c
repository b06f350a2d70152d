/* SPDX-License-Identifier: MIT */
/*
 * test_cli_seg.c — the segment subcommands of the pshm command that change
 * things (create, write, rm), and what every one of them shares: --help,
 * usage errors, bad names, the open policy, what is never followed.
 */
#include "cli_seg.h"

CLI_SEG_SUITE(cli_seg);

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
		th_skip("needs root for a private tmpfs");
	int r = sh(NULL,
		   "unshare --mount sh -c 'mount --make-rprivate / && "
		   "mount -t tmpfs -o size=64k tmpfs /dev/shm || exit 77; "
		   "%s create full 16K || exit 78; "
		   "head -c 100000 /dev/zero | tr \"\\\\000\" x | %s write full -; echo \"rc=$?\"; "
		   "%s cat full | tr -d x | wc -c; %s create more 4K; echo \"rc=$?\"; ls /dev/shm'",
		   P, P, P, P);
	if (r == 77)
		th_skip("cannot mount a private tmpfs here");
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
		th_skip("needs root to give a file away");
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


/* The policy is applied first, by the open; the kind is read from the
 * opened segment, so a refused write names the flag, not --force. */
Test(cli_seg, write_refuses_on_policy_before_looking_at_the_kind)
{
	if (!th_is_root())
		th_skip("needs root to run as nobody");
	const char *b = th_name("sharedbox");
	cr_assert_eq(pshm(NULL, "put %s -m 666 value", b), 0, "%s", err);
	expect_fail(nobody("write %s x", b), "write", b, "--allow-");
	cr_expect_null(strstr(err, "is a box"), "policy first: %s", err);
	cr_expect_null(strstr(err, "--force"), "%s", err);
	expect_fail(nobody("write --allow-foreign --allow-shared-write %s x", b), "write", b,
		    "is a box: raw bytes would overwrite");
	cr_assert_eq(pshm(NULL, "get --allow-shared-write %s", b), 0, "%s", err);
	cr_expect_str_eq(out, "value", "unchanged");
}
