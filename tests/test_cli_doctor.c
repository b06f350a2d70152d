/* SPDX-License-Identifier: MIT */
/*
 * test_cli_doctor.c — `pshm doctor`: its checks, its advice, its exit
 * status and its JSON, on a /dev/shm of our own (a private tmpfs in a
 * mount namespace), so what other programs keep in the real one does not
 * matter.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cli_helpers.h"

TestSuite(cli_doctor, TH_FIXTURE, .timeout = 60);

/* Run @body with $P the pshm command, in a mount namespace of its own
 * whose /dev/shm is a fresh tmpfs mounted with @opts. Skips without root. */
static int in_tmpfs(const char *opts, const char *body)
{
	if (!th_is_root())
		th_skip("needs root for a private tmpfs");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "unshare --mount sh -c 'mount --make-rprivate / && "
		 "mount -t tmpfs -o %s tmpfs /dev/shm || exit 77; %s' \"$P\"", opts, body);
	int r = script("", cmd);
	if (r == 77)
		th_skip("cannot mount a private tmpfs here");
	return r;
}

Test(cli_doctor, help_says_what_it_checks)
{
	cr_assert_eq(pshm(NULL, "doctor --help"), 0, "%s", err);
	cr_expect(strstr(out, "usage: pshm doctor [--json]"), "%s", out);
	cr_expect(strstr(out, "RemoveIPC"), "%s", out);
	cr_expect(strstr(out, "--json"), "%s", out);
	cr_assert_eq(pshm(NULL, "--help"), 0);
	cr_expect(strstr(out, "doctor"), "listed in pshm --help: %s", out);
	cr_expect_eq(pshm(NULL, "doctor extra"), 2);
	cr_expect(strstr(err, "unexpected argument 'extra'"), "%s", err);
	cr_expect_eq(pshm(NULL, "doctor --bogus"), 2);
}

Test(cli_doctor, a_large_dev_shm_passes)
{
	int r = in_tmpfs("size=1g,mode=1777,nosuid,nodev", "\"$0\" doctor");
	cr_expect(strstr(out, "ok       shm-fs "), "%s", out);
	cr_expect(strstr(out, "ok       shm-size "), "%s", out);
	cr_expect(strstr(out, "ok       shm-free "), "%s", out);
	cr_expect(strstr(out, "ok       leftovers "), "%s", out);
	cr_expect(strstr(out, "nosuid,nodev"), "mount options shown: %s", out);
	/* Whatever the machine says about the rest, the status follows. */
	cr_expect_eq(r, strstr(out, "\nproblem ") ? 1 : 0, "%d\n%s%s", r, out, err);
}

Test(cli_doctor, docker_s_64m_is_small_with_the_advice)
{
	int r = in_tmpfs("size=64m,mode=1777", "\"$0\" doctor");
	cr_expect_eq(r, 1, "a problem found: %s%s", out, err);
	cr_expect(strstr(out, "problem  shm-size           /dev/shm is small: 64M"), "%s", out);
	cr_expect(strstr(out, "docker run --shm-size=1g"), "%s", out);
	cr_expect(strstr(out, "--ipc=host"), "%s", out);
	cr_expect(strstr(out, "problem found"), "%s", out);
}

Test(cli_doctor, a_full_dev_shm_is_reported)
{
	int r = in_tmpfs("size=1m,mode=1777",
			 "head -c 1000000 /dev/zero > /dev/shm/pshm-test-fill; \"$0\" doctor");
	cr_expect_eq(r, 1, "%s%s", out, err);
	cr_expect(strstr(out, "problem  shm-free           /dev/shm is nearly full"), "%s", out);
}

Test(cli_doctor, leftovers_are_what_gc_would_remove)
{
	/* A segment of ours, unused, unchanged for two hours: gc's prey. */
	int r = in_tmpfs("size=1g,mode=1777",
			 "head -c 8192 /dev/zero > /dev/shm/pshm-test-old && chmod 600 "
			 "/dev/shm/pshm-test-old && touch -d \"2 hours ago\" /dev/shm/pshm-test-old && "
			 "\"$0\" doctor; echo \"rc=$?\"; \"$0\" doctor --json; ls /dev/shm");
	cr_assert_eq(r, 0, "%s", err);
	if (strstr(out, "gc-skipped") && !strstr(out, "problem  leftovers"))
		th_skip("a process that may use a raw segment is hidden from /proc here: "
			"gc, and so doctor, proves nothing unused");
	cr_expect(strstr(out, "problem  leftovers          1 abandoned segment of yours (8.0K"),
		  "%s", out);
	cr_expect(strstr(out, "pshm gc --yes"), "%s", out);
	cr_expect(strstr(out, "rc=1"), "%s", out);
	cr_expect(strstr(out, "\"leftovers\": [") && strstr(out, "\"/pshm-test-old\""), "%s", out);
	cr_expect(strstr(out, "\npshm-test-old\n"), "doctor removes nothing: %s", out);
}

Test(cli_doctor, json_is_valid_and_complete)
{
	int r = in_tmpfs("size=64m,mode=1777",
			 "\"$0\" doctor --json > /tmp/pshm-doctor-$$.json; rc=$?; "
			 "python3 -c \"import json,sys; d=json.load(open(sys.argv[1])); "
			 "c={x[\\\"check\\\"]: x for x in d[\\\"checks\\\"]}; "
			 "print(d[\\\"problems\\\"], c[\\\"shm-size\\\"][\\\"status\\\"], "
			 "d[\\\"shm_size\\\"], d[\\\"shm_tmpfs\\\"], d[\\\"leftovers\\\"], "
			 "\\\"docker run --shm-size\\\" in c[\\\"shm-size\\\"][\\\"fix\\\"], "
			 "sorted(c) == sorted(set(c)))\" /tmp/pshm-doctor-$$.json || rc=99; "
			 "python3 -m json.tool < /tmp/pshm-doctor-$$.json > /dev/null || rc=98; "
			 "rm -f /tmp/pshm-doctor-$$.json; exit $rc");
	if (r == 99 || r == 98)
		cr_assert_fail("invalid JSON or missing field: %s%s", out, err);
	cr_expect_eq(r, 1, "%s%s", out, err);
	cr_expect(strstr(out, " problem 67108864 True [] True True"), "%s", out);
	cr_expect(!strncmp(out, "1 ", 2) || !strncmp(out, "2 ", 2) || !strncmp(out, "3 ", 2),
		  "%s", out);
}
