/* SPDX-License-Identifier: MIT */
/*
 * test_cli_box.c — `pshm put`, `pshm get`, `pshm verify` from the shell.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"

TestSuite(cli_box, TH_FIXTURE, .timeout = 60);

/* Run "pshm <args>" with @in on stdin; stdout and stderr into *out, *err. */
Test(cli_box, put_then_get_round_trip)
{
	const char *n = th_name("cli");
	char *out, *err;
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s 'hello world'", n), 0);
	cr_assert_eq(th_pshm(NULL, &out, &err, "get %s", n), 0);
	cr_expect_str_eq(out, "hello world", "exactly the value, no newline added");
	cr_expect_str_empty(err);
	free(out);
	free(err);
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s 'second'", n), 0, "put overwrites");
	cr_assert_eq(th_pshm(NULL, &out, NULL, "get %s", n), 0);
	cr_expect_str_eq(out, "second");
	free(out);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(st.kind, PSHM_KIND_BOX);
	cr_expect_eq(st.size, 64 + 4096, "default capacity 4096");
}

Test(cli_box, put_from_stdin_binary_safe)
{
	const char *n = th_name("cli");
	char *out;
	cr_assert_eq(th_pshm("line 1\nline 2\n", NULL, NULL, "put %s -", n), 0);
	cr_assert_eq(th_pshm(NULL, &out, NULL, "get %s", n), 0);
	cr_expect_str_eq(out, "line 1\nline 2\n");
	free(out);
	cr_assert_eq(th_pshm("no dash\n", NULL, NULL, "put %s", n), 0, "no TEXT: stdin too");
	cr_assert_eq(th_pshm(NULL, &out, NULL, "get %s | od -An -c | tr -s ' '", n), 0);
	cr_expect_str_eq(out, " n o d a s h \\n\n");
	free(out);
}

Test(cli_box, capacity_and_too_long_values)
{
	const char *n = th_name("cli");
	char *err;
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put --capacity 8 %s 12345678", n), 0);
	cr_expect_eq(th_pshm(NULL, NULL, &err, "put %s 123456789", n), 1);
	cr_expect(strstr(err, "larger than the box's capacity (8 bytes)"), "%s", err);
	free(err);
	cr_expect_eq(th_pshm(NULL, NULL, &err, "put --capacity 4 %s 123456789", th_name("cli")), 1);
	free(err);
	cr_expect_eq(th_pshm(NULL, NULL, &err, "put --capacity zero %s x", n), 2);
	free(err);
	const char *big = th_name("big");
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s \"$(head -c 10000 /dev/zero | tr '\\0' a)\"", big), 0);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(big, &st), 0);
	cr_expect_eq(st.size, 64 + 10000, "a new box fits a value larger than the default");
}

Test(cli_box, get_missing_and_not_a_box)
{
	char *err;
	const char *n = th_name("none");
	cr_expect_eq(th_pshm(NULL, NULL, &err, "get %s", n), 1);
	cr_expect(strstr(err, "no such segment"), "%s", err);
	free(err);
	const char *raw = th_name("raw");
	th_write_file(raw, "raw bytes, definitely not a pshm box header..........................", 70, 0600);
	cr_expect_eq(th_pshm(NULL, NULL, &err, "get %s", raw), 1);
	cr_expect(strstr(err, ": is a raw segment, not a box (no pshm header"), "as verify: %s", err);
	free(err);
	cr_expect_eq(th_pshm(NULL, NULL, &err, "put %s x", raw), 1);
	cr_expect(strstr(err, "is a raw segment, not a box"), "%s", err);
	free(err);
}

Test(cli_box, force_prints_unverified_bytes_and_says_so)
{
	const char *n = th_name("force");
	char p[128], *out, *err, cmd[256];
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s 'Bonjour tout le monde'", n), 0);
	snprintf(cmd, sizeof(cmd), "echo -n HACKED | dd of=%s bs=1 seek=64 conv=notrunc 2>/dev/null",
		 th_path(n, p, sizeof(p)));
	cr_assert_eq(th_run(cmd, NULL, NULL, NULL), 0);
	cr_expect_eq(th_pshm(NULL, &out, &err, "get --force %s", n), 1);
	cr_expect_str_eq(out, "HACKEDr tout le monde");
	cr_expect(strstr(err, "integrity check failed (checksum mismatch"), "%s", err);
	cr_expect(strstr(err, "UNVERIFIED"), "%s", err);
	free(out);
	free(err);
	/* The lab's exact line breaks the header: --force still shows the bytes. */
	snprintf(cmd, sizeof(cmd), "echo -n \"HACKED\" | dd of=%s bs=1 seek=0 conv=notrunc 2>/dev/null",
		 p);
	cr_assert_eq(th_run(cmd, NULL, NULL, NULL), 0);
	cr_expect_eq(th_pshm(NULL, &out, &err, "get --force %s", n), 1);
	cr_expect_str_eq(out, "HACKEDr tout le monde");
	cr_expect(strstr(err, "is a raw segment, not a box (no pshm header: plain bytes, or a "
			      "header overwritten)"), "%s", err);
	free(out);
	free(err);
}

Test(cli_box, verify_one_line_per_box)
{
	const char *a = th_name("va"), *b = th_name("vb"), *c = th_name("vc");
	char *out, p[128], cmd[256];
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s aaaa", a), 0);
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s bbbb", b), 0);
	cr_assert_eq(th_pshm(NULL, &out, NULL, "verify %s %s", a, b), 0);
	char want[512];
	snprintf(want, sizeof(want), "%s: ok (4 bytes, seq 2)\n%s: ok (4 bytes, seq 2)\n", a, b);
	cr_expect_str_eq(out, want);
	free(out);
	snprintf(cmd, sizeof(cmd), "printf z | dd of=%s bs=1 seek=65 conv=notrunc 2>/dev/null",
		 th_path(b, p, sizeof(p)));
	cr_assert_eq(th_run(cmd, NULL, NULL, NULL), 0);
	cr_expect_eq(th_pshm(NULL, &out, NULL, "verify %s %s %s", a, b, c), 1);
	snprintf(want, sizeof(want),
		 "%s: ok (4 bytes, seq 2)\n"
		 "%s: FAILED: integrity check failed (checksum mismatch: the value was changed behind pshm's back)\n"
		 "%s: FAILED: no such segment\n", a, b, c);
	cr_expect_str_eq(out, want);
	free(out);
}

Test(cli_box, usage_and_help)
{
	char *out;
	const char *cmds[] = { "put", "get", "verify", "publish", "fetch" };
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(th_pshm(NULL, &out, NULL, "%s --help", cmds[i]), 0);
		cr_expect(strstr(out, "usage: pshm"), "%s --help: %s", cmds[i], out);
		free(out);
	}
	cr_expect_eq(th_pshm(NULL, NULL, NULL, "get"), 2);
	cr_expect_eq(th_pshm(NULL, NULL, NULL, "verify"), 2);
	cr_expect_eq(th_pshm(NULL, NULL, NULL, "put"), 2);
	cr_expect_eq(th_pshm(NULL, NULL, NULL, "publish onlyname"), 2);
	cr_expect_eq(th_pshm(NULL, NULL, NULL, "get --bogus x"), 2);
}

Test(cli_box, options_may_follow_names_as_in_every_other_command)
{
	const char *n = th_name("opts");
	char *out, *err;
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s value --mode 640", n), 0);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(st.mode & 0777, 0640);
	cr_expect_eq(th_pshm(NULL, &out, &err, "get %s --force", n), 0, "%s", err);
	cr_expect_str_eq(out, "value");
	free(out);
	free(err);
	cr_expect_eq(th_pshm(NULL, &out, &err, "verify %s --allow-foreign", n), 0, "%s", err);
	char want[256];
	snprintf(want, sizeof(want), "%s: ok (5 bytes, seq 2)\n", n);
	cr_expect_str_eq(out, want, "the flag is not taken for a name");
	free(out);
	free(err);
	cr_expect_eq(th_pshm(NULL, &out, &err, "put -- %s -dash", n), 0, "%s", err);
	free(out);
	free(err);
	cr_expect_eq(th_pshm(NULL, &out, NULL, "get %s", n), 0);
	cr_expect_str_eq(out, "-dash", "-- ends the options");
	free(out);
}

Test(cli_box, a_bad_option_is_reported_once)
{
	const char *forms[] = { "get --bogus x", "put x v --bogus", "verify -q x", "fetch --bogus x",
				"publish --bogus x y", "put --capacity", "put x v -m" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char *out, *err;
		cr_expect_eq(th_pshm(NULL, &out, &err, "%s", forms[i]), 2, "%s", forms[i]);
		cr_expect_str_empty(out);
		/* Once by pshm, and not a second time by getopt itself. */
		const char *why = strstr(err, "unknown option '");
		why = why ? why : strstr(err, "needs a value");
		cr_assert_not_null(why, "%s: %s", forms[i], err);
		int lines = 0;
		for (const char *c = err; *c; c++)
			lines += *c == '\n';
		cr_expect_eq(lines, 2, "%s: the reason and the hint, nothing else: %s", forms[i], err);
		cr_expect_null(strstr(err, "unrecognized"), "%s: %s", forms[i], err);
		cr_expect_null(strstr(err, "invalid option"), "%s: %s", forms[i], err);
		cr_expect_not_null(strstr(err, "--help"), "%s", err);
		free(out);
		free(err);
	}
}

Test(cli_box, modes_are_octal_from_1_to_777)
{
	const char *bad[] = { "0", "000", "1000", "999", "rw", "-600", " 600", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(th_pshm(NULL, NULL, NULL, "put -m '%s' %s v", bad[i], th_name("mode")), 2,
			     "mode '%s'", bad[i]);
		/* Should the mode be taken, publish serves: bounded by timeout. */
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "timeout 5 %s publish -m '%s' %s /dev/null", PSHM_BIN,
			 bad[i], th_name("pub") + 1);
		cr_expect_eq(th_run(cmd, NULL, NULL, NULL), 2, "publish mode '%s'", bad[i]);
	}
}

Test(cli_box, hostile_names_never_reach_the_terminal)
{
	char *out, *err;
	const char *cmds[] = { "get %s", "put %s v", "verify %s", "get --force %s" };
	for (int i = 0; i < 4; i++) {
		char cmd[256];
		/* Missing, then invalid (a '/' inside): both are reported. */
		snprintf(cmd, sizeof(cmd), cmds[i], i % 2 ? "\"$(printf 'pshm-test-nope-\\033]0;x\\007/')\""
							  : "\"$(printf 'pshm-test-nope-\\033]0;x\\007')\"");
		cr_expect_eq(th_pshm(NULL, &out, &err, "%s", cmd), 1, "%s: %s", cmd, err);
		cr_expect_null(strchr(err, '\033'), "%s: %s", cmd, err);
		cr_expect_null(strchr(out, '\033'), "%s: %s", cmd, out);
		cr_expect(strstr(err, "\\x1b]0;x\\x07") || strstr(out, "\\x1b]0;x\\x07"), "%s: %s%s",
			  cmd, out, err);
		free(out);
		free(err);
	}
}

/* A write error on standard output is an error (exit 1), said in the
 * words of the C library: it is not about shared memory. */
Test(cli_box, standard_output_errors_are_reported)
{
	const char *n = th_name("full");
	cr_assert_eq(th_pshm(NULL, NULL, NULL, "put %s 'hello'", n), 0);
	char *out = NULL, *err = NULL;
	cr_expect_eq(th_pshm(NULL, &out, &err, "get %s >/dev/full", n), 1);
	cr_expect(strstr(err, "standard output: No space left on device"), "%s", err);
	free(out), free(err), out = err = NULL;
	cr_expect_eq(th_pshm(NULL, &out, &err, "verify %s >/dev/full", n), 1);
	cr_expect(strstr(err, "standard output: No space left on device"), "%s", err);
	free(out), free(err);
}
