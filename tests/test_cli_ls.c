/* SPDX-License-Identifier: MIT */
/*
 * test_cli_ls.c — `pshm ls`, `stat`, `who` and `gc`: listings, JSON that
 * parses whatever the names hold, and what gc removes or leaves.
 */
#include "cli_seg.h"

CLI_SEG_SUITE(cli_ls);

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

Test(cli_ls, ls_lists_segments_with_their_users)
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

Test(cli_ls, ls_escapes_hostile_names)
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

Test(cli_ls, stat_describes_a_segment)
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

Test(cli_ls, who_lists_the_processes_that_map_or_hold_a_segment)
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

/* Can gc prove anything of ours unused here? Not where /proc hides a
 * process that may use our segments (a container whose PID 1 cannot be
 * read, a PID namespace of our own): gc then removes nothing, rightly. */
static bool gc_blind(void)
{
	const char *probe = th_name("gc-probe");
	th_write_file(probe, "x", 1, 0600);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(probe, &st), 0);
	long users = 0;
	int unseen = 1, complete;
	cr_assert_eq(pshm_seg_scan(&st, 1, &users, &unseen, &complete), 0);
	unlink(path(probe));
	return unseen;
}

#define SKIP_IF_GC_BLIND()                                                              \
	do {                                                                            \
		if (gc_blind())                                                         \
			th_skip("a process that may use our segments is hidden from " \
				     "/proc here: gc proves nothing unused (tested in "      \
				     "test_cli_gc)");                                         \
	} while (0)

Test(cli_ls, gc_lists_and_removes_only_old_unused_own_segments)
{
	const char *old = th_name("gc-old"), *young = th_name("gc-young");
	const char *mapped = th_name("gc-mapped"), *held = th_name("gc-held");
	const char *foreign = th_name("gc-foreign"), *link = th_name("gc-link");
	SKIP_IF_GC_BLIND();
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

Test(cli_ls, gc_keeps_a_box_that_was_just_written)
{
	/* Stores through a mapping leave a tmpfs file's mtime alone: the
	 * library must set it, or a busy box looks abandoned. */
	const char *busy = th_name("gc-busy"), *idle = th_name("gc-idle");
	/* Boxes are judged by their liveness lock, not by /proc: no skip. */
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

Test(cli_ls, gc_as_another_user_skips_what_it_cannot_prove_unused)
{
	if (!th_is_root())
		th_skip("needs root to give files away and hold one as root");
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
	/* The root process holds it through libpshm: its liveness lock proves
	 * it in use to nobody too, so it is not even a candidate. */
	char want[300];
	snprintf(want, sizeof(want), "pshm: gc '%s'", shared);
	cr_expect_null(strstr(err, want), "held, so not skipped but in use: %s", err);
	snprintf(want, sizeof(want), "pshm: gc '%s': skipped: may be in use", lone);
	cr_expect_not_null(strstr(err, want), "says why: %s", err);
}

Test(cli_ls, ls_and_stat_describe_a_huge_sparse_box_without_reading_it)
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

Test(cli_ls, json_stays_valid_with_any_bytes_in_names)
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

Test(cli_ls, numbers_must_start_with_a_digit)
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


Test(cli_ls, ls_describes_a_box_from_its_header_and_verify_checks_it)
{
	/* pshm(7): ls stays cheap and never reads a box's value, so bytes
	 * changed behind pshm's back (the lab's dd) show only in verify. */
	const char *b = th_name("lsdd");
	cr_assert_eq(pshm(NULL, "put %s hello", b), 0, "%s", err);
	cr_assert_eq(sh(NULL, "printf J | dd of=%s bs=1 seek=64 conv=notrunc 2>/dev/null", path(b)),
		     0, "%s", err);
	cr_assert_eq(pshm(NULL, "ls"), 0, "%s", err);
	const char *l = line_of(out, b);
	cr_assert_not_null(l, "%s", out);
	cr_expect_not_null(strstr(l, "box 5/"), "described from its header: '%s'", l);
	cr_expect_null(strstr(l, "CORRUPT"), "the value is not read: '%s'", l);
	cr_expect_eq(pshm(NULL, "verify %s", b), 1, "verify reads and checks it: %s%s", out, err);
}
