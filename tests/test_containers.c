/* SPDX-License-Identifier: MIT */
/*
 * test_containers.c — the README's container recipes, run: a producer
 * and a consumer each in a "container" of its own (a mount namespace
 * whose /dev/shm is one tmpfs they share, as a shared volume, --ipc=host
 * or --ipc=container: give), with PID namespaces of their own or one
 * shared (--pid=host, --pid=container:). Every message must arrive, and
 * each side must see the other alive. And a /dev/shm too small for what
 * is asked: -ENOSPC for channels, topics and services, nothing left.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "cli_helpers.h"
#include "pshm.h"

TestSuite(containers, TH_FIXTURE, .timeout = 120);

/*
 * $1: "separate" (a PID namespace per container) or "shared" (one, as
 * --pid=host gives); $2: which side starts later, after burning PIDs so
 * that its PID in its namespace is not one the other side's namespace
 * holds: "producer" or "consumer". $P: pshm; $Q: the channel.
 * Prints what the three containers said; exit 77 if namespaces are
 * out of reach here.
 */
static const char ct_script[] =
	"D=$(mktemp -d /tmp/pshm-ct-XXXXXX) || exit 77\n"
	"unshare -m sh -c '\n"
	"  P=$1 Q=$2 pid=$3 late=$4 D=$5\n"
	"  mount --make-rprivate / && mount -t tmpfs -o size=64m,mode=1777 tmpfs \"$D\" || exit 77\n"
	"  box() { # box BURN CMD...: CMD in a container sharing the tmpfs on $D\n"
	"    if [ \"$pid\" = separate ]; then set -- unshare -p -f --mount-proc -m \"$@\"\n"
	"    else set -- unshare -m \"$@\"; fi\n"
	"    \"$@\"\n"
	"  }\n"
	"  inside=\"mount --bind \\\"\\$0\\\" /dev/shm || exit 77\n"
	"    i=0; while [ \\$i -lt \\$1 ]; do /bin/true; i=\\$((i + 1)); done; shift; \\\"\\$@\\\"\"\n"
	"  run() { box sh -c \"$inside\" \"$D\" \"$@\"; }\n"
	"  pb=0 cb=0; if [ \"$late\" = producer ]; then pb=20; else cb=20; fi\n"
	"  run 0 \"$P\" chan create \"$Q\" || exit 1\n"
	"  run $cb timeout 30 \"$P\" recv \"$Q\" --follow > \"$D.out\" 2> \"$D.err\" < /dev/null &\n"
	"  cons=$!\n"
	"  sleep 0.5\n"
	"  (printf \"1\\n2\\n3\\n\"; sleep 3; printf \"4\\n5\\n6\\n\") | run $pb timeout 30 \"$P\" send \"$Q\" &\n"
	"  prod=$!\n"
	"  sleep 1.5\n"
	"  echo \"== stat\"; run 5 \"$P\" chan stat \"$Q\" < /dev/null\n"
	"  echo \"== doctor\"; run 0 \"$P\" doctor < /dev/null | grep pid-ns\n"
	"  wait $prod; echo \"== send $?\"\n"
	"  wait $cons; echo \"== recv $?\"\n"
	"  cat \"$D.out\"; cat \"$D.err\" >&2; rm -f \"$D.out\" \"$D.err\"\n"
	"' sh \"$P\" \"$Q\" \"$1\" \"$2\" \"$D\"\n"
	"r=$?; rmdir \"$D\"; exit $r\n";

static void run_recipe(const char *pid, const char *late)
{
	if (!th_is_root())
		th_skip("needs root for namespaces");
	if (th_run("unshare -p -f --mount-proc -m true", NULL, NULL, NULL) != 0)
		th_skip("cannot make PID and mount namespaces here");
	const char *q = th_name("ct");
	setenv("PSHM_CT_SCRIPT", ct_script, 1);
	char body[256];
	snprintf(body, sizeof(body), "export P Q; sh -c \"$PSHM_CT_SCRIPT\" ct %s %s", pid, late);
	int r = script(q, body);
	if (r == 77)
		th_skip("cannot mount a private tmpfs here");
	cr_assert_eq(r, 0, "%s\n%s", out, err);
	cr_expect(strstr(out, "== send 0\n"), "the producer succeeded:\n%s\n%s", out, err);
	cr_expect(strstr(out, "== recv 0\n1\n2\n3\n4\n5\n6\n"), "every message received:\n%s\n%s",
		  out, err);
	const char *st = strstr(out, "== stat");
	cr_assert(st, "%s", out);
	cr_expect(strstr(st, "producer") && !strstr(st, "dead") && strstr(st, "(alive)"),
		  "during the producer's pause, both sides are alive:\n%s", out);
	cr_expect(strstr(st, "consumer ") && strstr(strstr(st, "consumer "), "(alive)"),
		  "the consumer is alive:\n%s", out);
	if (!strcmp(pid, "separate"))
		cr_expect(strstr(out, "note     pid-ns "), "doctor sees the PID namespace:\n%s", out);
}

Test(containers, shared_dev_shm_shared_pid_namespace, .timeout = 60)
{
	run_recipe("shared", "producer");
}

Test(containers, shared_dev_shm_separate_pid_namespaces, .timeout = 60)
{
	run_recipe("separate", "producer");
}

Test(containers, shared_dev_shm_separate_pid_namespaces_consumer_later, .timeout = 60)
{
	run_recipe("separate", "consumer");
}

/* ---- a small /dev/shm --------------------------------------------------- */

/* Entries in /dev/shm (this mount namespace's). */
static int shm_entries(void)
{
	int n = 0;
	DIR *d = opendir("/dev/shm");
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Free blocks of /dev/shm: a create that fails may not keep any either
 * (an unnamed file it made and did not free). */
static unsigned long long shm_free(void)
{
	struct statvfs v;
	return statvfs("/dev/shm", &v) == 0 ? (unsigned long long)v.f_bfree : 0;
}

/* Nothing in /dev/shm, and all of it free, as at the start (@free0). */
static bool shm_as_new(unsigned long long free0)
{
	return shm_entries() == 0 && shm_free() == free0;
}

/* In a child with a 1 MiB /dev/shm of its own (Docker gives 64 MiB; the
 * same, smaller): a channel, a topic and a service that do not fit are
 * -ENOSPC, and leave no name and no space taken behind; ones that fit
 * still work. 0 or the step that failed. */
static int small_dev_shm(void)
{
	unsigned long long free0 = shm_free();
	struct pshm_chan_config cc = { .ring_size = 2 << 20 };
	struct pshm_topic_config tc = { .ring_size = 2 << 20 };
	struct pshm_service_config sc = { .max_request = 64 << 10, .max_reply = 64 << 10 };
	if (!free0 || shm_entries() != 0)
		return 9;
	if (pshm_chan_create("/c", &cc, 0, 0) != -ENOSPC || !shm_as_new(free0))
		return 10;
	if (pshm_topic_create("/t", &tc, 0, 0) != -ENOSPC || !shm_as_new(free0))
		return 11;
	if (pshm_service_create("/s", &sc, 0, 0) != -ENOSPC || !shm_as_new(free0))
		return 12;
	cc.ring_size = tc.ring_size = 64 << 10;
	sc.max_request = sc.max_reply = 256;
	sc.max_clients = 4;
	if (pshm_chan_create("/c", &cc, 0, 0) || pshm_topic_create("/t", &tc, 0, 0) ||
	    pshm_service_create("/s", &sc, 0, 0))
		return 13;
	pshm_chan *p, *c;
	char m[8];
	if (pshm_chan_open("/c", PSHM_CONSUMER, 0, &c) ||
	    pshm_chan_open("/c", PSHM_PRODUCER, 0, &p) || pshm_chan_send(p, "fits", 4, 0) ||
	    pshm_chan_recv(c, m, sizeof(m), 0) != 4)
		return 14;
	pshm_chan_close(p);
	pshm_chan_close(c);
	pshm_service *cl, *sv;
	struct pshm_service_req rq;
	uint64_t id;
	if (pshm_service_open("/s", PSHM_SERVER, 0, &sv) ||
	    pshm_service_open("/s", PSHM_CLIENT, 0, &cl) || pshm_service_send(cl, "ping", 4, &id) ||
	    pshm_service_recv(sv, m, sizeof(m), &rq, 0) != 4 ||
	    pshm_service_reply(sv, rq.id, "pong", 4) ||
	    pshm_service_collect(cl, &id, m, sizeof(m), 0) != 4 || memcmp(m, "pong", 4))
		return 15;
	pshm_service_close(cl);
	pshm_service_close(sv);
	if (pshm_chan_unlink("/c") || pshm_topic_unlink("/t") || pshm_service_unlink("/s") ||
	    !shm_as_new(free0))
		return 16;
	return 0;
}

Test(containers, a_small_dev_shm_refuses_what_does_not_fit_and_keeps_nothing)
{
	int r = th_in_small_shm("1m", small_dev_shm);
	cr_expect_eq(r, 0, "step %d failed", r);
}
