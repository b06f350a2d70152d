/* SPDX-License-Identifier: MIT */
/*
 * test_cli_topic.c — `pshm topic create|stat|rm`, `pshm pub`, `pshm sub`:
 * one publisher, many subscribers, from the shell, as pipelines use them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_helpers.h"
#include "helpers.h"
#include "pshm.h"

TestSuite(cli_topic, TH_FIXTURE, .timeout = 60);

static const char *new_topic(const char *tag, const char *opts)
{
	const char *t = th_name(tag);
	cr_assert_eq(pshm(NULL, "topic create %s %s", t, opts), 0, "%s", err);
	return t;
}

/* Shell lines for script(): start `pshm sub "$Q" ARGS` in the background
 * (its pid in $s, its output in $o) and wait until it is attached, as
 * `topic stat` shows it. */
#define SUB_BG(args)                                                                   \
	"o=$(mktemp); \"$P\" sub \"$Q\" " args " > \"$o\" & s=$!; "                    \
	"for i in $(seq 100); do \"$P\" topic stat \"$Q\" | grep -q '^  subscriber [0-9]' && " \
	"break; sleep 0.05; done; "

/* ---- create, stat, rm --------------------------------------------------- */

Test(cli_topic, create_then_stat)
{
	const char *t = new_topic("create", "--history 4 --size 4K --max-msg 256 "
					    "--subscribers 8 --mode 0640");
	cr_expect_eq(pshm(NULL, "topic stat %s", t), 0, "%s", err);
	cr_expect(strstr(out, "topic (blocking"), "%s", out);
	cr_expect(strstr(out, "history   4"), "%s", out);
	cr_expect(strstr(out, "max msg   256"), "%s", out);
	cr_expect(strstr(out, "publisher none attached"), "%s", out);
	cr_expect_eq(pshm(NULL, "topic stat --json %s", t), 0);
	cr_expect(strstr(out, "\"kind\":\"topic\",\"policy\":\"blocking\""), "%s", out);
	cr_expect(strstr(out, "\"history\":4"), "%s", out);
	cr_expect(strstr(out, "\"max_subscribers\":8"), "%s", out);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(t, &st), 0);
	cr_expect_eq(st.mode & 0777, 0640);
	cr_expect_eq(st.kind, PSHM_KIND_TOPIC);

	cr_expect_eq(pshm(NULL, "topic create %s", t), 1);
	cr_expect(strstr(err, "already exists"), "%s", err);
	cr_expect_eq(pshm(NULL, "topic create -e %s --history 4", t), 0, "-e keeps it: %s", err);

	const char *l = new_topic("lossy", "--lossy --history 0");
	cr_expect_eq(pshm(NULL, "topic stat %s", l), 0);
	cr_expect(strstr(out, "topic (lossy"), "%s", out);
}

Test(cli_topic, rm_removes_topics_only)
{
	const char *t = new_topic("rm", "");
	const char *c = th_name("rmchan");
	cr_assert_eq(pshm(NULL, "chan create %s", c), 0, "%s", err);
	cr_expect_eq(pshm(NULL, "topic rm %s %s", t, c), 1);
	cr_expect(strstr(err, "is a channel, not a topic"), "%s", err);
	cr_expect_not(th_exists(t), "the topic is gone");
	cr_expect(th_exists(c), "the channel is left alone");
	cr_expect_eq(pshm(NULL, "topic rm %s", t), 1, "already gone");
	cr_expect(strstr(err, "no such segment"), "%s", err);
}

/* ---- pub and sub ------------------------------------------------------------ */

Test(cli_topic, a_late_subscriber_gets_the_history)
{
	const char *t = new_topic("hist", "--history 3 --size 4K");
	cr_assert_eq(pshm("a\nb\nc\nd\ne\n", "pub %s", t), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "sub --history %s", t), 0, "%s", err);
	cr_expect_str_eq(out, "c\nd\ne\n", "the last 3");
	cr_assert_eq(pshm(NULL, "sub %s", t), 0, "%s", err);
	cr_expect_str_eq(out, "", "without --history: only what comes next");
	cr_assert_eq(pshm(NULL, "pub %s one 'two words' -dash", t), 0, "%s", err);
	cr_assert_eq(pshm(NULL, "sub %s --history", t), 0, "%s", err);
	cr_expect_str_eq(out, "one\ntwo words\n-dash\n");
	cr_assert_eq(pshm(NULL, "sub %s --history -n 2", t), 0, "%s", err);
	cr_expect_str_eq(out, "one\ntwo words\n");
}

Test(cli_topic, every_subscriber_gets_every_message)
{
	const char *t = new_topic("fan", "--size 1K --max-msg 64");
	cr_assert_eq(script(t, "o1=$(mktemp); o2=$(mktemp); "
			       "\"$P\" sub \"$Q\" -n 2000 > \"$o1\" & s1=$!; "
			       "\"$P\" sub \"$Q\" -n 2000 > \"$o2\" & s2=$!; "
			       "for i in $(seq 100); do [ $(\"$P\" topic stat \"$Q\" | "
			       "grep -c '^  subscriber [0-9]') = 2 ] && break; sleep 0.05; done; "
			       "seq 1 2000 | \"$P\" pub \"$Q\"; wait $s1 && wait $s2 && "
			       "seq 1 2000 | cmp - \"$o1\" && seq 1 2000 | cmp - \"$o2\" && echo same; "
			       "rm -f \"$o1\" \"$o2\""),
		     0, "%s", err);
	cr_expect_str_eq(out, "same\n");
}

Test(cli_topic, follow_stops_after_the_timeout_or_a_signal)
{
	const char *t = new_topic("follow", "--size 4K");
	cr_assert_eq(script(t, SUB_BG("--follow --timeout 0.5")
			       "\"$P\" pub \"$Q\" x y; wait $s; r=$?; cat \"$o\"; rm -f \"$o\"; exit $r"),
		     0, "%s", err);
	cr_expect_str_eq(out, "x\ny\n");
	cr_assert_eq(script(t, SUB_BG("--follow") "\"$P\" pub \"$Q\" hi; sleep 0.2; "
			       "kill -TERM $s; wait $s; r=$?; cat \"$o\"; rm -f \"$o\"; exit $r"),
		     0, "%s", err);
	cr_expect_str_eq(out, "hi\n");
}

Test(cli_topic, count_fails_when_it_times_out)
{
	const char *t = new_topic("count", "--history 1 --size 4K");
	cr_assert_eq(pshm(NULL, "pub %s only", t), 0);
	cr_expect_eq(pshm(NULL, "sub --history -n 3 --timeout 0.2 %s", t), 1);
	cr_expect_str_eq(out, "only\n");
	cr_expect(strstr(err, "timed out after 1 of 3 messages"), "%s", err);
	cr_expect_eq(pshm(NULL, "sub --timeout 0.1 %s", t), 0, "without -n, running dry ends it");
}

Test(cli_topic, null_separated_records)
{
	const char *t = new_topic("null", "--history 8 --size 4K --max-msg 64");
	cr_assert_eq(script(t, "printf 'a\\nb\\0c\\0' | \"$P\" pub -z \"$Q\" && "
			       "\"$P\" sub --history --null \"$Q\" | tr '\\0\\n' '|_'"),
		     0, "%s", err);
	cr_expect_str_eq(out, "a_b|c|");
	cr_assert_eq(script(t, "printf 'last' | \"$P\" pub --null \"$Q\" && "
			       "\"$P\" sub --history \"$Q\" | tail -n 1"),
		     0, "%s", err);
	cr_expect_str_eq(out, "last\n", "a last record without its NUL counts");
}

Test(cli_topic, a_lossy_gap_is_reported_and_sub_goes_on)
{
	const char *t = new_topic("gap", "--lossy --size 1K --max-msg 64");
	/* The subscriber is stopped while 3000 messages go by: far more than
	 * the ring holds, and the publisher never waits for it. */
	cr_assert_eq(script(t, SUB_BG("--follow --timeout 1")
			       "kill -STOP $s; seq 1 3000 | \"$P\" pub \"$Q\"; p=$?; "
			       "kill -CONT $s; wait $s; r=$?; "
			       "echo $p $r $(wc -l < \"$o\") $(sort -n -c \"$o\" && echo sorted) "
			       "$(tail -n 1 \"$o\"); rm -f \"$o\""),
		     0, "%s", err);
	int p = -1, r = -1, lines = -1, last = -1;
	char sorted[16] = "";
	cr_assert_eq(sscanf(out, "%d %d %d %15s %d", &p, &r, &lines, sorted, &last), 5, "%s", out);
	cr_expect_eq(p, 0, "the publisher never blocked");
	cr_expect_eq(r, 0, "sub went on after the gap");
	cr_expect_str_eq(sorted, "sorted", "in order");
	cr_expect_eq(last, 3000, "up to the last message");
	unsigned long long missed = 0, total = 0;
	for (const char *m = err; (m = strstr(m, "missed ")) != NULL; m++) {
		cr_expect(sscanf(m, "missed %llu", &missed) == 1, "%s", err);
		total += missed;
	}
	cr_expect_gt(total, 0, "a gap was reported: %s", err);
	cr_expect_eq(total + (unsigned long long)lines, 3000, "every message printed or counted "
		     "missed: %d printed, %llu missed, %s", lines, total, err);
	cr_expect(strstr(err, "pshm: receive from '") && strstr(err, " messages"), "%s", err);
}

Test(cli_topic, a_blocking_topic_waits_for_a_stopped_subscriber)
{
	const char *t = new_topic("block", "--size 1K --max-msg 64");
	cr_assert_eq(script(t, SUB_BG("--follow") "kill -STOP $s; "
			       "seq 1 3000 | \"$P\" pub --timeout 0.3 \"$Q\"; p=$?; "
			       "kill -CONT $s; kill -TERM $s; wait $s; rm -f \"$o\"; exit $p"),
		     1, "%s", err);
	cr_expect(strstr(err, "timed out"), "%s", err);
}

Test(cli_topic, busy_roles_say_who_holds_them)
{
	const char *t = new_topic("busy", "--subscribers 1 --size 1K --max-msg 64");
	/* The subscriber is stopped, so the blocking publisher, a ring
	 * ahead, waits and holds its role while the second one tries. */
	cr_assert_eq(script(t, SUB_BG("--follow") "kill -STOP $s; "
			       "seq 1 100 | \"$P\" pub \"$Q\" & p=$!; for i in $(seq 100); do "
			       "\"$P\" topic stat \"$Q\" | grep -q '(alive)$' && break; sleep 0.05; done; "
			       "\"$P\" pub \"$Q\" second; a=$?; \"$P\" sub \"$Q\"; b=$?; "
			       "kill $p; kill -CONT $s; kill -TERM $s; wait $s; rm -f \"$o\"; "
			       "echo $a $b"),
		     0, "%s", err);
	cr_expect_str_eq(out, "1 1\n");
	cr_expect(strstr(err, "the publisher role is held by process "), "%s", err);
	cr_expect(strstr(err, "all 1 subscriber slots are taken"), "%s", err);
}

Test(cli_topic, pub_refuses_a_message_too_large)
{
	const char *t = new_topic("large", "--size 1K --max-msg 100");
	char line[200];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	cr_expect_eq(pshm(NULL, "pub %s %s", t, line), 1);
	cr_expect(strstr(err, "too large"), "%s", err);
}

/* ---- ls, stat, write --------------------------------------------------------- */

Test(cli_topic, ls_and_stat_describe_a_topic_and_write_needs_force)
{
	const char *t = new_topic("ls", "--history 2 --size 4K");
	cr_assert_eq(pshm(NULL, "pub %s a b c", t), 0);
	cr_expect_eq(pshm(NULL, "stat %s", t), 0, "%s", err);
	cr_expect(strstr(out, "topic blocking"), "%s", out);
	cr_expect(strstr(out, "2 kept"), "%s", out);
	cr_expect_eq(pshm(NULL, "ls -l"), 0, "%s", err);
	cr_expect(strstr(out, "topic blocking"), "%s", out);
	cr_expect_eq(pshm(NULL, "write %s junk", t), 1);
	cr_expect(strstr(err, "is a topic: raw bytes would overwrite"), "%s", err);
	cr_expect_eq(pshm(NULL, "sub --history %s", t), 0, "untouched: %s", err);
	cr_expect_str_eq(out, "b\nc\n");
}

Test(cli_topic, stat_shows_each_subscriber_lag_and_missed)
{
	const char *t = new_topic("lag", "--size 4K");
	cr_assert_eq(script(t, SUB_BG("--follow") "kill -STOP $s; \"$P\" pub \"$Q\" a b c; "
			       "\"$P\" topic stat \"$Q\"; \"$P\" topic stat --json \"$Q\"; "
			       "kill -CONT $s; kill -TERM $s; wait $s; rm -f \"$o\""),
		     0, "%s", err);
	cr_expect(strstr(out, "  subscriber"), "%s", out);
	cr_expect(strstr(out, "alive, lag 3, missed 0"), "%s", out);
	cr_expect(strstr(out, "\"alive\":true,\"lag\":3,\"missed\":0"), "%s", out);
	cr_expect(strstr(out, "\"published\":3"), "%s", out);
}

/* ---- errors ------------------------------------------------------------------ */

Test(cli_topic, usage_errors_exit_2)
{
	const char *t = th_name("u");
	cr_expect_eq(pshm(NULL, "topic"), 2);
	cr_expect_eq(pshm(NULL, "topic --help"), 0);
	cr_expect(strstr(out, "usage: pshm topic"), "%s", out);
	cr_expect_eq(pshm(NULL, "topic bogus"), 2);
	cr_expect(strstr(err, "unknown verb 'bogus'"), "%s", err);
	cr_expect_eq(pshm(NULL, "topic create"), 2);
	cr_expect_eq(pshm(NULL, "topic create a b"), 2);
	cr_expect_eq(pshm(NULL, "topic create %s --history", t), 2, "--history needs N here");
	cr_expect(strstr(err, "option '--history' needs a value"), "%s", err);
	cr_expect_eq(pshm(NULL, "topic create %s --history many", t), 2);
	cr_expect(strstr(err, "bad --history 'many'"), "%s", err);
	cr_expect_eq(pshm(NULL, "topic create %s --size 1000", t), 2);
	cr_expect(strstr(err, "power of two"), "%s", err);
	cr_expect_eq(pshm(NULL, "topic create %s --subscribers 0", t), 2);
	cr_expect_eq(pshm(NULL, "topic create %s --lossy=yes", t), 2);
	cr_expect_eq(pshm(NULL, "topic create %s --size 1K --max-msg 2K", t), 2);
	cr_expect_not(th_exists(t), "nothing was created");
	cr_expect_eq(pshm(NULL, "topic stat"), 2);
	cr_expect_eq(pshm(NULL, "topic rm"), 2);
	cr_expect_eq(pshm(NULL, "pub"), 2);
	cr_expect_eq(pshm(NULL, "pub %s a - b", t), 2);
	cr_expect_eq(pshm(NULL, "sub"), 2);
	cr_expect_eq(pshm(NULL, "sub %s --history 3", t), 2, "--history takes no value here");
	cr_expect(strstr(err, "unexpected argument '3'"), "%s", err);
	cr_expect_eq(pshm(NULL, "sub %s -n 0", t), 2);
	cr_expect_eq(pshm(NULL, "sub %s --timeout soon", t), 2);
	cr_expect_eq(pshm(NULL, "sub %s --lossy", t), 2);
	cr_expect_eq(pshm(NULL, "pub --help"), 0);
	cr_expect(strstr(out, "pshm publish"), "pub's help points to publish: %s", out);
	cr_expect_eq(pshm(NULL, "sub --help"), 0);
	cr_expect(strstr(out, "--history "), "%s", out);
	cr_expect(strstr(out, "--allow-foreign"), "%s", out);
	cr_expect_eq(pshm(NULL, "topic create --help"), 0);
	cr_expect(strstr(out, "--history N"), "%s", out);
	cr_expect_eq(pshm(NULL, "--help"), 0);
	cr_expect(strstr(out, "  pub "), "%s", out);
}

Test(cli_topic, bad_names_missing_topics_and_wrong_kinds)
{
	cr_expect_eq(pshm(NULL, "topic create a/b"), 1);
	cr_expect(strstr(err, "pshm: topic create 'a/b': "), "%s", err);
	cr_expect_eq(pshm(NULL, "sub ''"), 1);
	const char *absent = th_name("absent");
	const char *verbs[] = { "sub", "pub", "topic stat", "topic rm" };
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		cr_expect_eq(pshm("x\n", "%s %s", verbs[i], absent), 1, "%s", verbs[i]);
		cr_expect(strstr(err, "no such segment"), "%s: %s", verbs[i], err);
	}
	cr_expect_not(th_exists(absent), "pub does not create");
	const char *c = th_name("kindchan");
	cr_assert_eq(pshm(NULL, "chan create %s", c), 0, "%s", err);
	const char *b = th_name("kindbox");
	cr_assert_eq(pshm(NULL, "put %s value", b), 0, "%s", err);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		cr_expect_eq(pshm("x\n", "%s %s", verbs[i], c), 1, "%s", verbs[i]);
		cr_expect(strstr(err, "is a channel, not a topic"), "%s: %s", verbs[i], err);
		cr_expect_eq(pshm("x\n", "%s %s", verbs[i], b), 1, "%s", verbs[i]);
		cr_expect(strstr(err, "is a box, not a topic"), "%s: %s", verbs[i], err);
	}
	const char *t = new_topic("kindtopic", "");
	cr_expect_eq(pshm(NULL, "recv %s", t), 1);
	cr_expect(strstr(err, "is a topic, not a channel"), "%s", err);
}

/* `pshm ARGS` as nobody, through setpriv, with a copy of pshm anyone can run. */
static int as_nobody(const char *in, const char *t, const char *args)
{
	char bin[300], cmd[1024];
	th_public_copy(PSHM_BIN, bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=nobody --regid=$(id -g nobody) "
		 "--clear-groups %s %s %s", bin, args, t);
	free(out);
	free(err);
	int r = th_run(cmd, in, &out, &err);
	th_public_remove(bin);
	return r;
}

Test(cli_topic, another_user_needs_the_mode_and_the_policy_options)
{
	if (!th_is_root() || th_run("command -v setpriv && id nobody", NULL, NULL, NULL) != 0)
		th_skip("needs root, setpriv and a 'nobody' user");
	const char *t = new_topic("private", "--history 2");
	cr_assert_eq(pshm(NULL, "pub %s secret", t), 0);
	cr_expect_eq(as_nobody(NULL, t, "sub --history"), 1);
	cr_expect(strstr(err, "ermission denied"), "%s", err);
	cr_expect_eq(as_nobody("x\n", t, "pub"), 1);

	const char *s = new_topic("shared", "--history 2 --mode 666");
	cr_assert_eq(pshm(NULL, "pub --allow-shared-write %s hello", s), 0, "%s", err);
	cr_expect_eq(as_nobody(NULL, s, "sub --history"), 1, "root's, writable by all");
	cr_expect(strstr(err, "--allow-foreign") && strstr(err, "--allow-shared-write"), "%s",
		  err);
	cr_expect_eq(as_nobody(NULL, s, "sub --history --allow-foreign --allow-shared-write"), 0,
		     "%s", err);
	cr_expect_str_eq(out, "hello\n");
	cr_expect_eq(as_nobody("again\n", s, "pub --allow-foreign --allow-shared-write"), 0, "%s",
		     err);
	cr_expect_eq(as_nobody(NULL, s, "topic rm"), 1, "not nobody's to remove");
	cr_expect(th_exists(s));
}
