/* SPDX-License-Identifier: MIT */
/*
 * test_cli_chan.c — `pshm chan create|stat`, `pshm send`, `pshm recv`: from
 * the shell, as pipelines use them.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_helpers.h"
#include "helpers.h"
#include "pshm.h"
#include "test_chan.h"

TestSuite(cli_chan, TH_FIXTURE, .timeout = 60);

static const char *new_chan(const char *tag, const char *opts)
{
	const char *q = th_name(tag);
	cr_assert_eq(pshm(NULL, "chan create %s %s", q, opts), 0, "%s", err);
	return q;
}

Test(cli_chan, create_then_stat)
{
	const char *q = new_chan("create", "--size 4K --max-msg 1K");
	cr_expect_eq(pshm(NULL, "chan stat %s", q), 0);
	cr_expect(strstr(out, "channel (spsc)"), "%s", out);
	cr_expect(strstr(out, "max msg   1.0K"), "%s", out);
	cr_expect(strstr(out, "0 pending"), "%s", out);
	cr_expect(strstr(out, "consumer  none attached"), "%s", out);
	cr_expect_eq(pshm(NULL, "chan stat --json %s", q), 0);
	cr_expect(strstr(out, "\"kind\":\"channel\",\"mode\":\"spsc\",\"ring_size\":4096"), "%s", out);
	cr_expect_eq(pshm(NULL, "chan create %s", q), 1);
	cr_expect(strstr(err, "already exists"), "%s", err);

	const char *m = new_chan("mpsc", "--mpsc --producers 3 --mode 0640");
	cr_expect_eq(pshm(NULL, "chan stat %s", m), 0);
	cr_expect(strstr(out, "channel (mpsc, up to 3 producers)"), "%s", out);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(m, &st), 0);
	cr_expect_eq(st.mode & 0777, 0640);
}

/* `pshm chan rm` removes channels and only channels, as topic rm and
 * service rm do their kinds; the words of a refusal are the same. */
Test(cli_chan, rm_removes_channels_only)
{
	const char *q = new_chan("rm", "");
	const char *t = th_name("rm-topic");
	cr_assert_eq(pshm(NULL, "topic create %s", t), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "chan rm %s %s", t, q), 1, "one refused, the other removed");
	cr_expect(strstr(err, "is a topic, not a channel: not removed"), "%s", err);
	cr_expect_not(th_exists(q));
	cr_expect(th_exists(t));
	cr_expect_eq(pshm(NULL, "chan rm %s", q), 1);
	cr_expect(strstr(err, "pshm: chan rm '") && strstr(err, "no such"), "%s", err);
	cr_expect_eq(pshm(NULL, "service rm %s", t), 1);
	cr_expect(strstr(err, "is a topic, not a service: not removed"), "%s", err);
	cr_expect_eq(pshm(NULL, "chan rm"), 2, "a name is needed");
	cr_expect(strstr(err, "missing channel name"), "%s", err);
}

Test(cli_chan, usage_errors_and_help)
{
	cr_expect_eq(pshm(NULL, "chan"), 2);
	cr_expect_eq(pshm(NULL, "chan --help"), 0);
	cr_expect(strstr(out, "usage: pshm chan"), "%s", out);
	cr_expect_eq(pshm(NULL, "chan bogus"), 2);
	cr_expect_eq(pshm(NULL, "chan create --help"), 0);
	cr_expect_eq(pshm(NULL, "chan create %s --size 1000", th_name("u")), 2, "not a power of two");
	cr_expect(strstr(err, "power of two"), "%s", err);
	cr_expect_eq(pshm(NULL, "chan create"), 2);
	cr_expect_eq(pshm(NULL, "chan create a b"), 2);
	cr_expect_eq(pshm(NULL, "chan create %s --producers 2", th_name("u")), 2, "needs --mpsc");
	cr_expect_eq(pshm(NULL, "chan create %s --size 1K --max-msg 1K", th_name("u")), 2,
		     "a message larger than the ring allows");
	cr_expect(strstr(err, "at most 1008"), "the bound is said: %s", err);
	cr_expect_eq(pshm(NULL, "chan stat"), 2);
	cr_expect_eq(pshm(NULL, "send"), 2);
	cr_expect_eq(pshm(NULL, "send --help"), 0);
	cr_expect_eq(pshm(NULL, "recv"), 2);
	cr_expect_eq(pshm(NULL, "recv a b"), 2);
	cr_expect_eq(pshm(NULL, "recv --help"), 0);
	cr_expect_eq(pshm(NULL, "recv -n 0 x"), 2);
	cr_expect_eq(pshm(NULL, "recv --timeout soon x"), 2);
	const char *absent = th_name("absent");
	cr_expect_eq(pshm(NULL, "recv %s", absent), 1);
	cr_expect(strstr(err, "no such segment"), "%s", err);
	cr_expect_eq(pshm(NULL, "send %s hi", absent), 1);
	cr_expect_eq(pshm(NULL, "chan stat %s", absent), 1);
}

Test(cli_chan, send_arguments_then_recv_drains)
{
	const char *q = new_chan("args", "--size 4K");
	/* After the first message every argument is a message; "--" lets
	 * the first one start with a dash. */
	cr_assert_eq(pshm(NULL, "send %s hello 'two words' -dash", q), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "send -- %s -first", q), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "chan stat %s", q), 0);
	cr_expect(strstr(out, "4 pending"), "%s", out);
	cr_assert_eq(pshm(NULL, "recv %s", q), 0, "%s", err);
	cr_expect_str_eq(out, "hello\ntwo words\n-dash\n-first\n");
	cr_assert_eq(pshm(NULL, "recv %s", q), 0, "an empty channel is not an error");
	cr_expect_str_eq(out, "");
}

Test(cli_chan, send_stdin_lines)
{
	const char *q = new_chan("lines", "--size 4K");
	cr_assert_eq(pshm("a\nb\n\nlast", "send %s -", q), 0, "%s", err);
	cr_assert_eq(pshm("from stdin\n", "send %s", q), 0, "no message: read stdin");
	cr_assert_eq(pshm(NULL, "recv %s", q), 0);
	cr_expect_str_eq(out, "a\nb\n\nlast\nfrom stdin\n");
}

Test(cli_chan, recv_count)
{
	const char *q = new_chan("count", "--size 4K");
	cr_assert_eq(pshm(NULL, "send %s one two three", q), 0);
	cr_assert_eq(pshm(NULL, "recv -n 2 %s", q), 0);
	cr_expect_str_eq(out, "one\ntwo\n");
	cr_assert_eq(pshm(NULL, "recv %s --count 1", q), 0);
	cr_expect_str_eq(out, "three\n");
}

Test(cli_chan, recv_count_fails_on_timeout_or_when_producers_left)
{
	const char *q = new_chan("short", "--size 4K");
	cr_assert_eq(pshm(NULL, "send %s only", q), 0);
	/* The sender above has left: after its message, -EPIPE. */
	cr_expect_eq(pshm(NULL, "recv -n 3 %s", q), 1);
	cr_expect_str_eq(out, "only\n");
	cr_expect(strstr(err, "the producers are gone after 1 of 3"), "%s", err);
	/* A consumer that never saw a producer waits: the timeout ends it. */
	const char *q2 = new_chan("short2", "--size 4K");
	cr_expect_eq(pshm(NULL, "recv -n 1 --timeout 0.2 %s", q2), 1);
	cr_expect(strstr(err, "timed out after 0 of 1"), "%s", err);
	cr_expect_eq(pshm(NULL, "recv --timeout 0.1 %s", q2), 0, "without -n, running dry ends it");
}

Test(cli_chan, send_refuses_too_long_and_times_out_when_full)
{
	const char *q = new_chan("full", "--size 1K --max-msg 100");
	char line[200];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	cr_expect_eq(pshm(NULL, "send %s %s", q, line), 1);
	cr_expect(strstr(err, "too large"), "%s", err);
	line[99] = '\0';
	char many[4096] = "";
	for (int i = 0; i < 20; i++)
		strcat(strcat(many, line), "\n");
	cr_expect_eq(pshm(many, "send --timeout 0.2 %s", q), 1, "the ring fills up");
	cr_expect(strstr(err, "timed out"), "%s", err);
	cr_expect_eq(pshm(NULL, "recv %s", q), 0);
	cr_expect_geq(strlen(out), 100 * 8, "what fitted was sent");
}

Test(cli_chan, follow_ends_when_the_producers_leave)
{
	const char *q = new_chan("follow", "--size 1K");
	cr_assert_eq(script(q, "o=$(mktemp); \"$P\" recv \"$Q\" --follow > \"$o\" & r=$!; sleep 0.2; "
			       "seq 1 300 | \"$P\" send \"$Q\"; wait $r; s=$?; "
			       "seq 1 300 | cmp - \"$o\" && echo same; rm -f \"$o\"; exit $s"),
		     0, "%s", err);
	cr_expect_str_eq(out, "same\n");
}

Test(cli_chan, follow_stops_on_sigterm)
{
	const char *q = new_chan("term", "--size 4K");
	cr_assert_eq(script(q, "\"$P\" recv \"$Q\" --follow & r=$!; sleep 0.3; "
			       "\"$P\" send \"$Q\" hi; sleep 0.2; kill -TERM $r; wait $r"),
		     0, "%s", err);
	cr_expect_str_eq(out, "hi\n");
}

Test(cli_chan, pipeline_through_a_small_ring)
{
	const char *q = new_chan("pipe", "--size 1K --max-msg 64");
	cr_assert_eq(script(q, "seq 1 5000 | \"$P\" send \"$Q\" & s=$!; "
			       "\"$P\" recv -n 5000 \"$Q\" | md5sum; wait $s; seq 1 5000 | md5sum"),
		     0, "%s", err);
	char *nl = strchr(out, '\n');
	cr_assert_not_null(nl);
	cr_expect_eq(strncmp(out, nl + 1, (size_t)(nl - out)), 0, "same lines, same order: %s", out);
}

Test(cli_chan, a_failed_write_leaves_the_message_queued)
{
	const char *q = new_chan("closed", "--size 4K");
	cr_assert_eq(pshm(NULL, "send %s keep", q), 0);
	cr_expect_eq(script(q, "\"$P\" recv -n 1 \"$Q\" >&-"), 1, "stdout closed");
	cr_expect(strstr(err, "pshm: write standard output for '"), "%s", err);
	cr_assert_eq(pshm(NULL, "recv %s", q), 0);
	cr_expect_str_eq(out, "keep\n");
}

Test(cli_chan, the_examples_talk)
{
	const char *q = th_name("example");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s/chan_producer %s 3 && %s/chan_consumer %s", EXAMPLES_DIR, q,
		 EXAMPLES_DIR, q);
	free(out);
	free(err);
	cr_assert_eq(th_run(cmd, NULL, &out, &err), 0, "%s", err);
	cr_expect_str_eq(out, "message 1 of 3\nmessage 2 of 3\nmessage 3 of 3\n");
}

static blkcnt_t blocks_of(const char *name)
{
	char p[128];
	struct stat st;
	cr_assert_eq(stat(th_path(name, p, sizeof(p)), &st), 0);
	return st.st_blocks;
}

Test(cli_chan, ls_and_stat_describe_a_huge_sparse_channel_without_reading_it)
{
	/* A planted file: a channel header claiming 1 GiB of ring, 32 records
	 * of 16 MiB, then holes. Describing it must allocate none of them. */
	const char *q = th_name("sparsechan");
	char p[128];
	int fd = open(th_path(q, p, sizeof(p)), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(cl_forge_sparse(fd, PSHM_CHAN_MPSC, 30, 24, 32), 0);
	close(fd);
	blkcnt_t before = blocks_of(q);
	const char *forms[] = { "ls", "ls -l", "ls --json", "stat %s", "stat --json %s",
				"chan stat %s", "chan stat --json %s" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char args[256];
		snprintf(args, sizeof(args), forms[i], q);
		cr_assert_eq(pshm(NULL, "%s", args), 0, "%s: %s", forms[i], err);
		cr_expect(strstr(out, "32 pending") || strstr(out, "\"pending\":32"), "%s: %s",
			  forms[i], out);
		cr_expect_eq(blocks_of(q), before, "'pshm %s' allocated pages", forms[i]);
	}
}

Test(cli_chan, send_keeps_a_channel_out_of_gc)
{
	/* 2000-01-01, and gc without --yes (other tests run gc concurrently
	 * with ages of their own; a listing removes nothing). */
	const char *q = new_chan("gcchan", "--size 4K");
	char p[128];
	struct timespec ts[2] = { { 946684800, 0 }, { 946684800, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, th_path(q, p, sizeof(p)), ts, 0), 0);
	/* A channel is proven unused by its liveness lock alone, even where
	 * the scan of /proc is blind (a container): no skip here. */
	cr_assert_eq(pshm(NULL, "gc --older-than 9000d"), 0, "%s", err);
	cr_expect(strstr(out, q), "backdated channel listed: %s", out);
	cr_assert_eq(pshm(NULL, "send %s hello", q), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "gc --older-than 9000d"), 0, "%s", err);
	cr_expect_null(strstr(out, q), "a channel just sent to is not abandoned: %s", out);
}

Test(cli_chan, usage_errors_exit_2_and_name_the_problem)
{
	const char *q = new_chan("usage", "--size 4K");
	cr_expect_eq(pshm(NULL, "chan bogus %s", q), 2);
	cr_expect(strstr(err, "unknown verb 'bogus'"), "%s", err);
	cr_expect_eq(pshm("x\n", "send %s - extra", q), 2, "'-' with more messages");
	cr_expect(strstr(err, "'-' (standard input) must be the only"), "%s", err);
	cr_expect_eq(pshm(NULL, "send %s a - b", q), 2);
	cr_expect_eq(pshm(NULL, "chan stat %s", q), 0);
	cr_expect(strstr(out, "0 pending"), "nothing was sent: %s", out);
	cr_expect_eq(pshm(NULL, "recv %s -n 2 --timeout 0.05", q), 1);
	cr_expect(strstr(err, "pshm: receive from '"), "%s", err);
	cr_expect(strstr(err, "timed out after 0 of 2 messages"), "%s", err);
}

Test(cli_chan, chan_stat_reports_standard_output_errors)
{
	const char *q = new_chan("full", "--size 4K");
	cr_expect_eq(pshm(NULL, "chan stat %s >/dev/full", q), 1);
	cr_expect(strstr(err, "standard output: No space left on device"), "%s", err);
}
