/* SPDX-License-Identifier: MIT */
/*
 * test_cli_service.c — `pshm service create|stat|rm`, `pshm serve` and
 * `pshm call` end to end: a command answering each request, a persistent
 * one answering line by line, failing commands, dead servers, usage errors,
 * and another user (modes 600, 644, 666 and the policy options).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_helpers.h"
#include "helpers.h"
#include "pshm.h"

TestSuite(cli_service, TH_FIXTURE, .timeout = 60);

Test(cli_service, create_stat_rm)
{
	const char *q = th_name("cli-svc");
	cr_assert_eq(pshm(NULL, "service create %s --max-msg 1K --clients 4 --servers 2", q), 0,
		     "%s", err);
	cr_expect_eq(pshm(NULL, "service create %s", q), 1);
	cr_expect(strstr(err, "pshm service rm") != NULL, "%s", err);
	cr_assert_eq(pshm(NULL, "service stat %s", q), 0, "%s", err);
	cr_expect(strstr(out, ": service") && strstr(out, "request 1.0K"), "%s", out);
	cr_expect(strstr(out, "0 alive (of 2 slots"), "%s", out);
	cr_assert_eq(pshm(NULL, "service stat --json %s", q), 0);
	cr_expect(strstr(out, "\"kind\":\"service\"") && strstr(out, "\"max_clients\":4"), "%s",
		  out);
	cr_assert_eq(pshm(NULL, "stat %s", q), 0);
	cr_expect(strstr(out, "kind:       service") != NULL, "%s", out);
	cr_expect_eq(pshm(NULL, "service rm %s", q), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "service rm %s", q), 1);
	cr_expect(strstr(err, "pshm: service rm '") != NULL, "%s", err);
}

Test(cli_service, other_kinds_are_named_and_left_alone)
{
	const char *c = th_name("cli-svc-chan");
	cr_assert_eq(pshm(NULL, "chan create %s", c), 0);
	cr_expect_eq(pshm(NULL, "service stat %s", c), 1);
	cr_expect(strstr(err, "channel") && strstr(err, "not a service"), "%s", err);
	cr_expect_eq(pshm(NULL, "service rm %s", c), 1);
	cr_expect_eq(pshm(NULL, "call %s x", c), 1);
	cr_expect(strstr(err, "not a service") != NULL, "%s", err);
	cr_expect(th_exists(c));
	cr_expect_eq(pshm(NULL, "call %s-missing x", c), 1);
	cr_expect(strstr(err, "no such") != NULL, "%s", err);
}

Test(cli_service, usage_errors_exit_2)
{
	const char *q = th_name("cli-svc-usage");
	const char *bad[] = { "service", "service frob x", "service create", "call",
			      "serve", "service create %s --clients 0",
			      "service create %s --servers 65", "service create %s --max-msg 32M",
			      "call --timeout soon %s x", "call %s a b", NULL };
	for (int i = 0; bad[i]; i++) {
		char args[256];
		snprintf(args, sizeof(args), bad[i], q);
		cr_expect_eq(pshm(NULL, "%s", args), 2, "'%s': %s", args, err);
	}
	char args[256];
	snprintf(args, sizeof(args), "serve %s", q);
	cr_expect_eq(pshm(NULL, "%s", args), 2, "serve without a command");
	cr_expect(strstr(err, "missing") != NULL, "%s", err);
	cr_expect_eq(pshm(NULL, "serve --help"), 0);
	cr_expect(strstr(out, "--persistent") != NULL, "%s", out);
	cr_expect_not(th_exists(q));
}

Test(cli_service, serve_runs_the_command_for_each_call)
{
	const char *q = th_name("cli-svc-serve");
	cr_assert_eq(pshm(NULL, "service create %s", q), 0);
	int r = script(q, "$P serve -n 3 \"$Q\" -- tr a-z A-Z & s=$!\n"
			  "$P call \"$Q\" hello; printf 'from stdin' | $P call \"$Q\" -\n"
			  "printf 'two\\nlines\\n' | $P call \"$Q\"; wait $s");
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_str_eq(out, "HELLO\nFROM STDIN\nTWO\nLINES\n");
}

Test(cli_service, persistent_exchanges_a_line_per_request)
{
	const char *q = th_name("cli-svc-pers");
	cr_assert_eq(pshm(NULL, "service create %s", q), 0);
	int r = script(q, "$P serve --persistent -n 3 \"$Q\" -- sed -u 's/^/got:/' & s=$!\n"
			  "$P call \"$Q\" one; $P call \"$Q\" two\n"
			  "printf 'a\\nb' | $P call \"$Q\"; echo \"rc=$?\"; wait $s");
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_str_eq(out, "got:one\ngot:two\nrc=1\n");
	cr_expect(strstr(err, "cannot contain a newline") != NULL, "%s", err);
}

Test(cli_service, a_failing_command_fails_the_call_not_the_server)
{
	const char *q = th_name("cli-svc-fail");
	cr_assert_eq(pshm(NULL, "service create %s --max-msg 40", q), 0);
	int r = script(q, "$P serve -n 3 \"$Q\" -- sh -c 'cat; exit 3' & s=$!\n"
			  "$P call \"$Q\" x; echo \"rc=$?\"\n"
			  "$P call \"$Q\" 0123456789abcdef0123456789abcdef0123456789; echo \"rc=$?\"\n"
			  "kill $s; wait $s; echo \"serve=$?\"");
	cr_assert_eq(r, 0, "%s", err);
	cr_expect(strstr(out, "rc=1\nrc=1\nserve=0") != NULL, "%s", out);
	cr_expect(strstr(err, "pshm: call '") && strstr(err, "exited with status 3"), "%s", err);
	cr_expect(strstr(err, "too large") != NULL, "%s", err);
}

Test(cli_service, a_dead_server_fails_the_call_never_hangs)
{
	const char *q = th_name("cli-svc-dead");
	cr_assert_eq(pshm(NULL, "service create %s", q), 0);
	/* Killed while a request is in its hands, then not there at all. */
	int r = script(q, "$P serve \"$Q\" -- sleep 1 & s=$!\n"
			  "$P call --timeout 30 \"$Q\" x & c=$!\n"
			  "while ! $P service stat \"$Q\" | grep -q '1 in progress'; do sleep 0.01; done\n"
			  "kill -9 $s; wait $c; echo \"call=$?\"\n"
			  "$P call --timeout 30 \"$Q\" y; echo \"again=$?\"");
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_str_eq(out, "call=1\nagain=1\n");
	cr_expect(strstr(err, "the server is gone") != NULL, "%s", err);
}

Test(cli_service, a_call_with_no_server_times_out)
{
	const char *q = th_name("cli-svc-none");
	cr_assert_eq(pshm(NULL, "service create %s", q), 0);
	cr_expect_eq(pshm(NULL, "call --timeout 0.1 %s x", q), 1);
	cr_expect(strstr(err, "timed out") != NULL, "%s", err);
	cr_assert_eq(pshm(NULL, "service stat %s", q), 0);
	cr_expect(strstr(out, "0 queued") != NULL, "the request was withdrawn: %s", out);
}

/* Liveness is the kernel's lock, not a pid: a server in another PID
 * namespace (a container sharing /dev/shm) serves, and its death is seen. */
Test(cli_service, a_server_in_another_pid_namespace)
{
	if (!th_is_root() || script("", "command -v unshare >/dev/null && "
					"unshare -p -f --mount-proc true"))
		th_skip("needs root and a PID namespace: %s", err);
	const char *q = th_name("cli-svc-pidns");
	cr_assert_eq(pshm(NULL, "service create %s", q), 0);
	int r = script(q, "unshare -p -f --kill-child --mount-proc $P serve \"$Q\" -- tr a-z A-Z "
			  "& s=$!\n"
			  "$P call --timeout 10 \"$Q\" hello\n"
			  "kill -9 $s; wait $s\n"
			  "$P call --timeout 10 \"$Q\" again; echo \"again=$?\"");
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_str_eq(out, "HELLO\nagain=1\n");
	cr_expect(strstr(err, "the server is gone") != NULL, "%s", err);
}

/* ---- another user ------------------------------------------------------- */

/* `pshm ARGS NAME` as nobody, through setpriv, with a copy of pshm anyone
 * can run. */
static int as_nobody(const char *q, const char *args)
{
	char bin[300], cmd[1024];
	th_public_copy(PSHM_BIN, bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd),
		 "setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups %s %s", bin, args);
	int r = script(q, cmd);
	th_public_remove(bin);
	return r;
}

/* A client writes its requests into the segment: another user needs write
 * permission (a 600 or 644 service is refused), and on a service that
 * anyone may write, the two options that say it trusts that. */
Test(cli_service, another_user_needs_write_permission_and_the_policy_options)
{
	if (!th_is_root() || th_run("command -v setpriv && id nobody", NULL, NULL, NULL) != 0)
		th_skip("needs root, setpriv and a 'nobody' user");
	const char *modes[] = { "600", "644" };
	for (int i = 0; i < 2; i++) {
		const char *q = th_name(i ? "cli-svc-644" : "cli-svc-600");
		cr_assert_eq(pshm(NULL, "service create %s --mode %s", q, modes[i]), 0, "%s", err);
		cr_expect_eq(as_nobody(q, "call \"$Q\" hi"), 1, "mode %s", modes[i]);
		cr_expect(strstr(err, "ermission denied"), "mode %s: %s", modes[i], err);
		cr_expect_eq(as_nobody(q, "serve -n 1 \"$Q\" -- cat"), 1, "mode %s", modes[i]);
		cr_expect(strstr(err, "ermission denied"), "mode %s: %s", modes[i], err);
	}
	const char *s = th_name("cli-svc-666");
	cr_assert_eq(pshm(NULL, "service create %s --mode 666", s), 0, "%s", err);
	cr_expect_eq(as_nobody(s, "call \"$Q\" hi"), 1, "root's, writable by all");
	cr_expect(strstr(err, "--allow-foreign") && strstr(err, "--allow-shared-write"), "%s",
		  err);
	char bin[300], body[1024];
	th_public_copy(PSHM_BIN, bin, sizeof(bin));
	snprintf(body, sizeof(body),
		 "$P serve --allow-shared-write -n 1 \"$Q\" -- tr a-z A-Z & s=$!\n"
		 "setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups %s call "
		 "--timeout 20 --allow-foreign --allow-shared-write \"$Q\" hello || kill $s\n"
		 "wait $s",
		 bin);
	cr_expect_eq(script(s, body), 0, "%s", err);
	th_public_remove(bin);
	cr_expect_str_eq(out, "HELLO\n");
	cr_expect_eq(as_nobody(s, "service rm \"$Q\""), 1, "not nobody's to remove");
	cr_expect(th_exists(s));
}
