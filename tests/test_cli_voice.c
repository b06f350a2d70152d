/* SPDX-License-Identifier: MIT */
/*
 * test_cli_voice.c — the pshm command speaks with one voice: the same
 * options and help everywhere, one meaning per letter, errors that name
 * the real cause and the limit, nothing changed on failure, names shown
 * as people write them.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_helpers.h"
#include "helpers.h"
#include "pshm.h"

TestSuite(cli_voice, TH_FIXTURE, .timeout = 60);

static const char *const commands[] = {
	"ls", "stat", "who", "cat", "dump", "create", "write", "rm", "gc", "put",
	"get", "verify", "publish", "fetch", "chan create", "chan stat", "send", "recv",
	"topic create", "topic stat", "topic rm", "pub", "sub", "service create",
	"service stat", "service rm", "serve", "call",
};

/* The commands that write to a segment or attach to it: the policy applies. */
static const char *const openers[] = {
	"create", "write", "put", "get", "verify", "send", "recv", "pub", "sub", "serve", "call",
};

/* The inspection commands: they never refuse on policy, so take no option. */
static const char *const inspectors[] = {
	"ls", "stat", "who", "cat", "dump", "chan stat", "topic stat", "service stat",
};

/* ---- options and help -------------------------------------------------- */

Test(cli_voice, every_help_lists_h_and_the_policy_options_where_a_segment_is_opened)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		cr_expect_eq(pshm(NULL, "%s --help", commands[i]), 0, "%s", commands[i]);
		cr_expect(strstr(out, "usage: pshm "), "%s: %s", commands[i], out);
		cr_expect(strstr(out, "  -h, --help"), "%s lists -h: %s", commands[i], out);
		cr_expect_eq(pshm(NULL, "%s -h", commands[i]), 0, "%s -h", commands[i]);
	}
	for (size_t i = 0; i < sizeof(openers) / sizeof(openers[0]); i++) {
		cr_expect_eq(pshm(NULL, "%s --help", openers[i]), 0);
		cr_expect(strstr(out, "--allow-foreign") && strstr(out, "--allow-shared-write"),
			  "%s: %s", openers[i], out);
	}
	for (size_t i = 0; i < sizeof(inspectors) / sizeof(inspectors[0]); i++) {
		cr_expect_eq(pshm(NULL, "%s --help", inspectors[i]), 0);
		cr_expect_null(strstr(out, "  --allow-"), "%s: %s", inspectors[i], out);
		cr_expect_eq(pshm(NULL, "%s --allow-foreign x", inspectors[i]), 2, "%s",
			     inspectors[i]);
		cr_expect(strstr(err, "unknown option '--allow-foreign'"), "%s: %s", inspectors[i],
			  err);
	}
}

/* Every "-X, --long" in every help: a letter stands for one long option. */
Test(cli_voice, one_meaning_per_letter_across_subcommands)
{
	char seen[128][32] = { { 0 } };
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		cr_assert_eq(pshm(NULL, "%s --help", commands[i]), 0);
		for (char *p = out; (p = strstr(p, "  -")) != NULL; p += 3) {
			char l, name[32];
			if (sscanf(p, "  -%c, --%31[a-z-]", &l, name) != 2)
				continue;
			if (!seen[(unsigned char)l][0])
				snprintf(seen[(unsigned char)l], sizeof(seen[0]), "%s", name);
			cr_expect_str_eq(seen[(unsigned char)l], name, "-%c in %s", l, commands[i]);
		}
	}
	cr_expect_str_eq(seen['m'], "mode");
}

Test(cli_voice, m_is_mode_everywhere)
{
	const char *c = th_name("chm"), *b = th_name("putm"), *w = th_name("wm"),
		   *s = th_name("crm");
	cr_assert_eq(pshm(NULL, "chan create %s -m 640", c), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "put %s -m 640 v", b), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "write %s -c -m 640 v", w), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "create %s 1K -m 640", s), 0, "%s", err);
	const char *all[] = { c, b, w, s };
	for (int i = 0; i < 4; i++)
		cr_expect_eq(th_lstat(all[i]).st_mode & 0777, 0640, "%s", all[i]);
	cr_assert_eq(pshm(NULL, "chan stat %s", c), 0);
	cr_expect(strstr(out, "max msg   256K"), "-m did not set the message size: %s", out);
	cr_expect_eq(pshm(NULL, "chan create %s --max-msg 600 -m 600", th_name("chm2")), 0, "%s", err);
}

Test(cli_voice, an_unknown_option_is_named_exactly)
{
	cr_expect_eq(pshm(NULL, "dump -zn 5 x"), 2);
	cr_expect(strstr(err, "pshm dump: unknown option '-z'"), "%s", err);
	cr_expect_eq(pshm(NULL, "gc -yq"), 2);
	cr_expect(strstr(err, "unknown option '-q'"), "%s", err);
	cr_expect_eq(pshm(NULL, "put --bogus=1 x v"), 2);
	cr_expect(strstr(err, "unknown option '--bogus'"), "%s", err);
	cr_expect_eq(pshm(NULL, "ls --json=1"), 2);
	cr_expect(strstr(err, "option '--json' takes no value"), "%s", err);
	cr_expect_eq(pshm(NULL, "dump x -o"), 2);
	cr_expect(strstr(err, "option '-o' needs a value"), "%s", err);
	cr_expect_eq(pshm(NULL, "dump x --offset"), 2);
	cr_expect(strstr(err, "option '--offset' needs a value"), "%s", err);
	cr_expect(strstr(err, "Try 'pshm dump --help'."), "%s", err);
}

/* The top level and `chan` speak like every subcommand: one line naming
 * the problem, then where to look. */
Test(cli_voice, top_level_usage_errors_are_short_and_exact)
{
	cr_expect_eq(pshm(NULL, "-h"), 0);
	cr_expect(strstr(out, "usage: pshm [-h | --help | -V | --version]"), "%s", out);
	cr_expect_eq(pshm(NULL, "bogus"), 2);
	cr_expect_str_eq(err, "pshm: unknown command 'bogus'\nTry 'pshm --help'.\n");
	cr_expect_eq(pshm(NULL, "-x"), 2);
	cr_expect_str_eq(err, "pshm: unknown option '-x'\nTry 'pshm --help'.\n");
	cr_expect_eq(pshm(NULL, "--version extra"), 2);
	cr_expect(strstr(err, "pshm: unexpected argument 'extra' after --version"), "%s", err);
	cr_expect_str_empty(out);
	cr_expect_eq(pshm(NULL, "chan -x"), 2);
	cr_expect(strstr(err, "pshm chan: unknown option '-x'"), "%s", err);
	cr_expect_null(strstr(err, "verb"), "%s", err);
	cr_expect_eq(pshm(NULL, "chan --help"), 0);
	cr_expect(strstr(out, "--producers N") && strstr(out, "--mode MODE"), "%s", out);
}

/* sizes, offsets and counts: decimal, hexadecimal, binary units; never a
 * space or a sign. */
Test(cli_voice, numbers_parse_the_same_way_everywhere)
{
	const char *q = th_name("num"), *b = th_name("numbox"), *s = th_name("numseg");
	cr_assert_eq(pshm(NULL, "chan create %s --size 0x1000 --max-msg 1K", q), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "send %s a b c", q), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "recv -n 0x2 --timeout 0.1s %s", q), 0, "%s", err);
	cr_expect_str_eq(out, "a\nb\n");
	cr_expect_eq(pshm(NULL, "put --capacity 0x40 %s v", b), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "create %s 0x1000", s), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "write -o 1K %s x", s), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "dump -o 0x400 -n 1 %s", s), 0, "%s", err);
	const char *bad[] = { "' 1'", "-1", "+1", "1Q", "0x", "''" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(pshm(NULL, "recv -n %s %s", bad[i], q), 2, "recv -n %s", bad[i]);
		cr_expect_eq(pshm(NULL, "dump -n %s %s", bad[i], s), 2, "dump -n %s", bad[i]);
		cr_expect_eq(pshm(NULL, "put --capacity %s %s v", bad[i], b), 2, "%s", bad[i]);
		cr_expect_eq(pshm(NULL, "send -t %s %s v", bad[i], q), 2, "send -t %s", bad[i]);
	}
}

/* Durations have a ceiling, and the error says it: a huge --older-than
 * must not reach gc's arithmetic. */
Test(cli_voice, a_duration_beyond_1000_years_is_refused_with_the_bound)
{
	cr_expect_eq(pshm(NULL, "gc --older-than 99999999999999999999999999999999d"), 2);
	cr_expect(strstr(err, "(at most 365000d, 1000 years)"), "%s", err);
	cr_expect_eq(pshm(NULL, "gc --older-than 365001d"), 2);
	cr_expect(strstr(err, "at most 365000d"), "%s", err);
	cr_expect_eq(pshm(NULL, "send -t 31536000001 %s x", th_name("d")), 2);
	cr_expect(strstr(err, "bad --timeout '31536000001' (at most 365000d"), "%s", err);
	cr_expect_eq(pshm(NULL, "gc --older-than 365000d"), 0, "%s", err);
}

/* ---- channels from the shell -------------------------------------------- */

Test(cli_voice, a_shared_channel_works_with_the_policy_options)
{
	const char *q = th_name("shared");
	cr_assert_eq(pshm(NULL, "chan create %s --mode 660", q), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "send %s hi", q), 1);
	cr_expect(strstr(err, "mode 0660") && strstr(err, "(--allow-shared-write accepts it)"),
		  "%s", err);
	cr_expect_eq(pshm(NULL, "send --allow-shared-write %s hi", q), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "send %s --allow-shared-write again", q), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "recv %s", q), 1);
	cr_expect_eq(pshm(NULL, "recv %s --allow-shared-write", q), 0, "%s", err);
	cr_expect_str_eq(out, "hi\nagain\n");
}

Test(cli_voice, the_permission_error_suggests_only_the_flags_not_given)
{
	if (!th_is_root())
		th_skip("needs root to give a segment to nobody");
	uid_t uid;
	gid_t gid;
	th_nobody(&uid, &gid);
	const char *n = th_name("policy");
	char p[128];
	cr_assert_eq(pshm(NULL, "create %s 1K -m 666", n), 0);
	cr_expect_eq(pshm(NULL, "write --allow-foreign %s x", n), 1, "root's own 0666 segment");
	cr_expect(strstr(err, "(--allow-shared-write accepts it)"), "%s", err);
	cr_expect_null(strstr(err, "--allow-foreign"), "already given: %s", err);
	cr_assert_eq(chown(th_path(n, p, sizeof(p)), uid, gid), 0);
	chmod(p, 0666);
	cr_expect_eq(pshm(NULL, "write %s x", n), 1);
	cr_expect(strstr(err, "(--allow-foreign --allow-shared-write accept it)"), "%s", err);
	cr_expect_eq(pshm(NULL, "write --allow-shared-write %s x", n), 1);
	cr_expect(strstr(err, "owned by nobody") && strstr(err, "(--allow-foreign accepts it)"),
		  "%s", err);
	cr_expect_null(strstr(err, "writable by group"), "%s", err);
	cr_expect_eq(pshm(NULL, "write --allow-foreign %s x", n), 1);
	cr_expect(strstr(err, "(--allow-shared-write accepts it)"), "%s", err);
	cr_expect_eq(pshm(NULL, "write --allow-foreign --allow-shared-write %s x", n), 0, "%s", err);
}

Test(cli_voice, chan_create_says_the_bounds)
{
	cr_expect_eq(pshm(NULL, "chan create %s --size 3000", th_name("b")), 2);
	cr_expect(strstr(err, "bad --size '3000' (a power of two from 1K to 2G"), "%s", err);
	cr_expect_eq(pshm(NULL, "chan create %s --size 4G", th_name("b")), 2);
	cr_expect(strstr(err, "from 1K to 2G"), "%s", err);
	cr_expect_eq(pshm(NULL, "chan create %s --mpsc --producers 65", th_name("b")), 2);
	cr_expect(strstr(err, "bad --producers '65' (a whole number from 1 to 64)"), "%s", err);
	cr_expect_null(strstr(err, "64K"), "a count, not a size: %s", err);
	cr_expect_eq(pshm(NULL, "recv -n 0 %s", th_name("b")), 2);
	cr_expect(strstr(err, "bad --count '0' (a whole number, 1 or more)"), "%s", err);
	cr_expect_eq(pshm(NULL, "chan create %s --size 4K --max-msg 8K", th_name("b")), 2);
	cr_expect(strstr(err, "too large for a ring of 4096 bytes (at most 4080)"), "%s", err);
}

Test(cli_voice, a_busy_role_says_which_process_holds_it)
{
	const char *q = th_name("busy");
	cr_assert_eq(pshm(NULL, "chan create %s --size 4K", q), 0);
	int r = script(q, "(sleep 3 | \"$P\" send \"$Q\") & p=$!; "
			  "\"$P\" recv --follow \"$Q\" >/dev/null & c=$!; sleep 0.5; "
			  "echo \"consumer $c\"; \"$P\" recv \"$Q\"; \"$P\" send \"$Q\" x; "
			  "kill $c; wait $c; exit 0");
	cr_assert_eq(r, 0, "%s", err);
	int c = 0;
	cr_assert_eq(sscanf(out, "consumer %d", &c), 1, "%s", out);
	char want[128];
	snprintf(want, sizeof(want), "the consumer role is held by process %d (one consumer", c);
	cr_expect(strstr(err, want), "%s", err);
	cr_expect(strstr(err, "the producer role is held by process "), "%s", err);
	cr_expect(strstr(err, "--mpsc takes more"), "%s", err);
}

Test(cli_voice, send_that_times_out_says_how_many_were_sent)
{
	const char *q = th_name("tmo");
	cr_assert_eq(pshm(NULL, "chan create %s --size 1K --max-msg 100", q), 0);
	char args[2200] = "", line[100];
	memset(line, 'x', 99);
	line[99] = '\0';
	for (int i = 0; i < 20; i++)
		strcat(strcat(args, " "), line);
	char body[2400];
	snprintf(body, sizeof(body), "\"$P\" send -t 0.2 \"$Q\"%s", args);
	cr_expect_eq(script(q, body), 1);
	unsigned sent = 99;
	const char *m = strstr(err, "timed out (channel full): ");
	cr_assert_not_null(m, "%s", err);
	cr_expect_eq(sscanf(m, "timed out (channel full): %u of 20 messages sent", &sent), 1, "%s",
		     err);
	cr_expect(sent > 0 && sent < 20, "%u", sent);
	cr_expect_eq(pshm("more\n", "send -t 0.1 %s", q), 1);
	cr_expect(strstr(err, "timed out (channel full): 0 messages sent"), "%s", err);
}

/* ---- kinds -------------------------------------------------------------- */

Test(cli_voice, kind_mismatches_are_named)
{
	const char *raw = th_name("raw"), *box = th_name("box"), *q = th_name("q");
	char bytes[64];
	memset(bytes, 'x', sizeof(bytes)); /* no header at all */
	th_write_file(raw, bytes, sizeof(bytes), 0600);
	cr_assert_eq(pshm(NULL, "put %s value", box), 0);
	cr_assert_eq(pshm(NULL, "chan create %s --size 4K", q), 0);
	cr_expect_eq(pshm(NULL, "verify %s", raw), 1);
	cr_expect(strstr(out, "FAILED: is a raw segment, not a box"), "%s", out);
	cr_expect_null(strstr(out, "integrity check failed"), "%s", out);
	cr_expect_eq(pshm(NULL, "verify %s", q), 1);
	cr_expect(strstr(out, "FAILED: is a channel, not a box"), "%s", out);
	cr_expect_eq(pshm(NULL, "recv %s", box), 1);
	cr_expect(strstr(err, "is a box, not a channel"), "%s", err);
	cr_expect_eq(pshm(NULL, "send %s x", box), 1);
	cr_expect(strstr(err, "is a box, not a channel"), "%s", err);
	cr_expect_eq(pshm(NULL, "chan stat %s", raw), 1);
	cr_expect(strstr(err, "is a raw segment, not a channel"), "%s", err);
	cr_expect_eq(pshm(NULL, "get %s", q), 1);
	cr_expect(strstr(err, "is a channel, not a box"), "%s", err);
	cr_expect_eq(pshm(NULL, "put %s v", q), 1);
	cr_expect(strstr(err, "is a channel, not a box"), "%s", err);
}

Test(cli_voice, write_into_a_box_or_a_channel_needs_force)
{
	const char *box = th_name("wbox"), *q = th_name("wq");
	cr_assert_eq(pshm(NULL, "put %s value", box), 0);
	cr_assert_eq(pshm(NULL, "chan create %s --size 4K", q), 0);
	cr_expect_eq(pshm(NULL, "write %s oops", box), 1);
	cr_expect(strstr(err, "is a box: raw bytes would overwrite") &&
		  strstr(err, "(--force writes anyway)"), "%s", err);
	cr_expect_eq(pshm(NULL, "get %s", box), 0, "unchanged: %s", err);
	cr_expect_str_eq(out, "value");
	cr_expect_eq(pshm(NULL, "write %s oops", q), 1);
	cr_expect(strstr(err, "is a channel: raw bytes"), "%s", err);
	cr_expect_eq(pshm(NULL, "write -f -o 64 %s oops", box), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "get %s", box), 1, "the box notices");
}

Test(cli_voice, get_on_a_raw_segment_says_so_as_verify_does)
{
	const char *raw = th_name("graw");
	char bytes[64];
	memset(bytes, 'x', sizeof(bytes));
	th_write_file(raw, bytes, sizeof(bytes), 0600);
	cr_expect_eq(pshm(NULL, "get %s", raw), 1);
	cr_expect(strstr(err, "': is a raw segment, not a box"), "%s", err);
	cr_expect_null(strstr(err, "integrity check failed"), "%s", err);
}

Test(cli_voice, write_help_and_offset_limit)
{
	cr_expect_eq(pshm(NULL, "write --help"), 0);
	cr_expect(strstr(out, "usage: pshm write NAME [--offset OFFSET] [--create] [--force]"),
		  "%s", out);
	const char *s = th_name("wlim");
	cr_assert_eq(pshm(NULL, "create %s 1K", s), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "write -o 9223372036854775807 %s x", s), 1);
	cr_expect(strstr(err, "beyond 9223372036854775807 bytes, the largest size a segment"),
		  "%s", err);
	cr_expect_null(strstr(err, "invalid argument"), "%s", err);
	const char *n = th_name("wlim");
	cr_expect_eq(pshm(NULL, "write -c -o 9223372036854775807 %s x", n), 1);
	cr_expect(strstr(err, "the largest size a segment can have"), "%s", err);
	cr_expect_not(th_exists(n), "nothing created");
}

/* ---- nothing changes on failure ------------------------------------------ */

Test(cli_voice, a_failed_put_leaves_no_box_behind)
{
	const char *n = th_name("big");
	cr_expect_eq(pshm(NULL, "put %s --capacity 10 01234567890123", n), 1);
	cr_expect(strstr(err, "the value (14 bytes) is larger than the capacity asked for (10 "
			      "bytes): nothing created"), "%s", err);
	cr_expect_not(th_exists(n), "no box left behind");
	cr_expect_eq(pshm(NULL, "put %s --capacity 0 v", n), 2);
	cr_expect(strstr(err, "bad --capacity '0' (a number from 1 to "), "%s", err);
	cr_expect_not(th_exists(n));
	cr_expect_eq(pshm(NULL, "put %s --capacity 16 0123456789", n), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "put %s 01234567890123456789", n), 1, "too large for the box");
	cr_expect_eq(pshm(NULL, "get %s", n), 0, "the existing box is kept");
	cr_expect_str_eq(out, "0123456789");
}

/* A pread() that, once, empties the segment PSHM_TEST_SHRINK right after
 * reading it: put's write into the box it just created then fails, and
 * so does taking the box back (it changed since it was created). */
static const char shrink_src[] =
	"#define _GNU_SOURCE\n"
	"#include <dlfcn.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"ssize_t pread(int fd, void *b, size_t n, off_t o) {\n"
	"  static int done;\n"
	"  ssize_t (*real)(int, void *, size_t, off_t) = "
	"(ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, \"pread\");\n"
	"  ssize_t r = real(fd, b, n, o);\n"
	"  const char *p = getenv(\"PSHM_TEST_SHRINK\");\n"
	"  if (p && !done && truncate(p, 0) == 0) done = 1;\n"
	"  return r;\n}\n";

Test(cli_voice, a_put_that_cannot_take_its_box_back_says_so)
{
	char dir[] = "/tmp/pshm-shrink-XXXXXX", src[64], so[64], cmd[512], p[128];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/shrink.c", dir);
	snprintf(so, sizeof(so), "%s/shrink.so", dir);
	FILE *f = fopen(src, "w");
	cr_assert_not_null(f);
	fputs(shrink_src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -o %s %s -ldl", so, src);
	int built = th_run(cmd, NULL, NULL, NULL);
	unlink(src);
	if (built != 0) {
		rmdir(dir);
		th_skip("no C compiler to build the pread shim");
	}
	const char *n = th_name("undo");
	snprintf(cmd, sizeof(cmd), "PSHM_TEST_SHRINK=%s LD_PRELOAD=%s "
		 "ASAN_OPTIONS=verify_asan_link_order=0 \"$P\" put \"$Q\" value",
		 th_path(n, p, sizeof(p)), so);
	int r = script(n, cmd);
	unlink(so);
	rmdir(dir);
	cr_expect_eq(r, 1, "%s", err);
	cr_expect(strstr(err, "the box it created is left behind: "), "%s", err);
	cr_expect(th_exists(n), "the message is true: %s", err);
	pshm_seg_unlink(n);
}

/* ---- names as people write them ------------------------------------------ */

Test(cli_voice, utf8_names_print_as_they_are_and_hostile_bytes_stay_escaped)
{
	char n[64], hostile[64];
	snprintf(n, sizeof(n), "/donn\xc3\xa9""es-%d", (int)getpid());
	snprintf(hostile, sizeof(hostile), "/h\x1b[31m\xe2\x80\xae\xff-%d", (int)getpid());
	th_write_file(n, "x", 1, 0600);
	th_write_file(hostile, "y", 1, 0600);
	cr_assert_eq(pshm(NULL, "stat '%s'", n), 0, "%s", err); /* the helper's locale */
	cr_assert_eq(script(n, "LC_ALL=C.UTF-8 \"$P\" stat \"$Q\""), 0, "%s", err);
	cr_expect(strstr(out, "name:       /donn\xc3\xa9""es-"), "%s", out);
	cr_assert_eq(script(n, "LC_ALL=C.UTF-8 \"$P\" ls"), 0, "%s", err);
	cr_expect(strstr(out, "/donn\xc3\xa9""es-"), "%s", out);
	cr_expect(strstr(out, "/h\\x1b[31m\\xe2\\x80\\xae\\xff-"), "escaped: %s", out);
	cr_expect_null(strchr(out, '\x1b'), "no escape byte reaches the terminal");
	cr_assert_eq(script(n, "LC_ALL=C.UTF-8 \"$P\" get \"$Q\"x"), 1);
	cr_expect(strstr(err, "'/donn\xc3\xa9""es-"), "in messages too: %s", err);
	cr_assert_eq(script(n, "LC_ALL=C \"$P\" stat \"$Q\""), 0);
	cr_expect(strstr(out, "/donn\\xc3\\xa9es-"), "no UTF-8 locale, escaped: %s", out);
	cr_assert_eq(script(n, "LC_ALL=C.UTF-8 \"$P\" stat --json \"$Q\" | "
			       "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"name\"])' "
			       "2>/dev/null || echo nopython"), 0);
	cr_expect(strstr(out, "/donn\xc3\xa9""es-") || strstr(out, "nopython"), "%s", out);
	char p[128];
	unlink(th_path(n, p, sizeof(p)));
	unlink(th_path(hostile, p, sizeof(p)));
}

Test(cli_voice, ls_on_an_empty_dev_shm_says_so)
{
	if (!th_is_root())
		th_skip("needs root for a private tmpfs");
	int r = script("", "unshare --mount sh -c 'mount --make-rprivate / && "
			   "mount -t tmpfs -o size=64k tmpfs /dev/shm || exit 77; "
			   "\"$0\" ls; \"$0\" ls --json' \"$P\"");
	if (r == 77)
		th_skip("cannot mount a private tmpfs here");
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_str_eq(out, "/dev/shm is empty: no segment\n[]\n");
}
