/* SPDX-License-Identifier: MIT */
/*
 * test_ns.c — peers in another PID namespace (as in a container that
 * shares /dev/shm but not the PID namespace) are alive while they run:
 * a channel's other side keeps waiting for them, `pshm chan stat` says so.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_helpers.h"
#include "helpers.h"
#include "pshm.h"

TestSuite(ns, TH_FIXTURE, .timeout = 60);

/* Skip unless this process may make a PID namespace (root, unshare(1)). */
static void need_pid_ns(void)
{
	if (th_run("unshare -p -f --mount-proc true", NULL, NULL, NULL) != 0)
		th_skip("cannot make a PID namespace here (needs root and unshare -p)");
}

/*
 * $PROD and $CONS are the commands of the two sides; one of them runs in a
 * new PID namespace. The producer sends 1..3, sleeps, sends 4..6; while it
 * sleeps, `pshm chan stat` runs (its output goes to stdout first).
 */
static int run_pair(const char *q, const char *prod_ns, const char *cons_ns)
{
	char body[2048];
	snprintf(body, sizeof(body),
		 "$P chan create $Q || exit 9; "
		 "(printf '1\\n2\\n3\\n'; sleep 2; printf '4\\n5\\n6\\n') | "
		 "  %s $P send $Q 2>/tmp/pshm-ns-send-$$ & S=$!; "
		 "%s timeout 20 $P recv $Q --follow > /tmp/pshm-ns-recv-$$ & R=$!; "
		 "sleep 1; $P chan stat $Q; "
		 "wait $S; s=$?; wait $R; r=$?; "
		 "echo ==; cat /tmp/pshm-ns-recv-$$; cat /tmp/pshm-ns-send-$$ >&2; "
		 "rm -f /tmp/pshm-ns-recv-$$ /tmp/pshm-ns-send-$$; "
		 "echo \"send=$s recv=$r\"",
		 prod_ns, cons_ns);
	return script(q, body);
}

#define NS "unshare -p -f --mount-proc"

Test(ns, producer_in_another_pid_namespace_is_alive)
{
	need_pid_ns();
	const char *q = th_name("nsprod");
	cr_assert_eq(run_pair(q, NS, ""), 0, "%s", err);
	cr_expect(strstr(out, "producer  1 (alive)") || strstr(out, "(alive)"), "%s", out);
	cr_expect_not(strstr(out, "dead"), "%s", out);
	cr_expect(strstr(out, "==\n1\n2\n3\n4\n5\n6\nsend=0 recv=0"), "%s\n%s", out, err);
}

Test(ns, consumer_in_another_pid_namespace_is_alive)
{
	need_pid_ns();
	const char *q = th_name("nscons");
	cr_assert_eq(run_pair(q, "", NS), 0, "%s", err);
	cr_expect(strstr(out, "(alive)"), "%s", out);
	cr_expect_not(strstr(out, "dead"), "%s", out);
	cr_expect(strstr(out, "==\n1\n2\n3\n4\n5\n6\nsend=0 recv=0"), "%s\n%s", out, err);
}
