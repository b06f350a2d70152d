/* SPDX-License-Identifier: MIT */
/*
 * bridge_helpers.h — two "hosts" on one machine for the bridge tests:
 * each a child process in a mount namespace of its own with a private
 * tmpfs on /dev/shm (nothing can pass through shared memory), sharing the
 * loopback network. The bridge ends run as the pshm command, their stderr
 * in a log file under /tmp. Header only (static).
 */
#ifndef PSHM_TEST_BRIDGE_HELPERS_H
#define PSHM_TEST_BRIDGE_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"

#define BT_NS_PER_S INT64_C(1000000000)

/* Is `pshm bridge` in this build (NNG found)? */
__attribute__((unused)) static bool bt_have_nng(void)
{
	char *o = NULL, *e = NULL;
	int r = th_pshm(NULL, &o, &e, "bridge send --help");
	free(o);
	free(e);
	return r == 0;
}

/* That, and can this process make mount namespaces (root)? */
__attribute__((unused)) static bool bt_usable(const char **why)
{
	bool nng = bt_have_nng();
	*why = nng ? "needs root (mount namespaces)" : "pshm was built without NNG: no bridge";
	return nng && th_is_root();
}

/* Run @fn(@arg) in a child in a mount namespace of its own, with a
 * private tmpfs on /dev/shm: a "host". Its exit status is fn's value. */
__attribute__((unused)) static pid_t bt_host(int (*fn)(void *), void *arg)
{
	pid_t p = fork();
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a timed-out test leaves nothing running */
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=128m,mode=1777") < 0)
			_exit(90);
		_exit(fn(arg));
	}
	return p;
}

/* Wait for @p: its exit status, or 128 + the signal that killed it. */
__attribute__((unused)) static int bt_reap(pid_t p)
{
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* `pshm bridge ARGS...` (NULL-terminated) with stderr appended to @log. */
__attribute__((unused)) static pid_t bt_bridge(const char *log, ...)
{
	char *argv[16] = { "pshm", "bridge" };
	va_list ap;
	va_start(ap, log);
	for (int i = 2; i < 15 && (argv[i] = va_arg(ap, char *)); i++)
		;
	va_end(ap);
	pid_t p = fork();
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(91);
		execv(PSHM_BIN, argv);
		_exit(127);
	}
	return p;
}

/* Stop a bridge end politely and reap it: its exit status. */
__attribute__((unused)) static int bt_stop(pid_t p)
{
	kill(p, SIGTERM);
	return bt_reap(p);
}

/* The whole of the file @path (NUL-terminated, malloc'd; "" if absent). */
static char *bt_slurp(const char *path)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");
	if (!f || getdelim(&s, &n, '\0', f) < 0) {
		free(s);
		s = strdup("");
	}
	if (f)
		fclose(f);
	return s;
}

/* Wait (up to 20 s) for @what in the log @path: true when it is there. */
__attribute__((unused)) static bool bt_wait_log(const char *path, const char *what)
{
	for (int i = 0; i < 1000; i++) {
		char *s = bt_slurp(path);
		bool found = strstr(s, what) != NULL;
		free(s);
		if (found)
			return true;
		usleep(20000);
	}
	return false;
}

/* The port a `bridge recv tcp://127.0.0.1:0` says it listens on; -1. */
__attribute__((unused)) static int bt_port(const char *log)
{
	static const char key[] = "listening on tcp://127.0.0.1:";
	if (!bt_wait_log(log, key))
		return -1;
	char *s = bt_slurp(log);
	int port = atoi(strstr(s, key) + sizeof(key) - 1);
	free(s);
	return port;
}

/* The sum of N over the lines "lost N messages" in the log @path. */
__attribute__((unused)) static unsigned long long bt_lost(const char *path)
{
	unsigned long long sum = 0;
	char *s = bt_slurp(path);
	for (char *p = s; (p = strstr(p, ": lost ")); p++)
		sum += strtoull(p + 7, NULL, 10);
	free(s);
	return sum;
}

/* The two ends' log files, /tmp/pshm-test-bridge-PID-@tag{send,recv}.log,
 * emptied; each buffer holds @len bytes. */
__attribute__((unused)) static void bt_logs(char *send_log, char *recv_log, size_t len,
					    const char *tag)
{
	snprintf(send_log, len, "/tmp/pshm-test-bridge-%d-%ssend.log", (int)getpid(), tag);
	snprintf(recv_log, len, "/tmp/pshm-test-bridge-%d-%srecv.log", (int)getpid(), tag);
	unlink(send_log);
	unlink(recv_log);
}

/*
 * Once both hosts are done (host B's status @rb, host A's @ra, @got of @n
 * messages arrived): both must have exited 0 and each end's log must count
 * as lost exactly what never arrived. The logs go afterwards, unless
 * PSHM_TEST_KEEP_LOGS is set (to read what the ends said). Returns how
 * many were lost.
 */
__attribute__((unused)) static unsigned long long bt_settle(int rb, int ra, unsigned n, int got,
							    const char *send_log,
							    const char *recv_log)
{
	char *sl = bt_slurp(send_log), *rl = bt_slurp(recv_log);
	cr_expect_eq(rb, 0, "host B: %d\n--- send:\n%s--- recv:\n%s", rb, sl, rl);
	cr_expect_eq(ra, 0, "host A: %d\n--- send:\n%s--- recv:\n%s", ra, sl, rl);
	unsigned long long lost = n - (unsigned)got;
	cr_expect_eq(bt_lost(recv_log), lost, "recv counted %llu lost, %llu missing:\n%s",
		     bt_lost(recv_log), lost, rl);
	cr_expect_eq(bt_lost(send_log), lost, "send counted %llu lost, %llu missing:\n%s",
		     bt_lost(send_log), lost, sl);
	free(sl);
	free(rl);
	if (!getenv("PSHM_TEST_KEEP_LOGS")) {
		unlink(send_log);
		unlink(recv_log);
	}
	return lost;
}

/* A fresh ipc:// URL for a test on one host; its socket's path in @sock. */
__attribute__((unused)) static void bt_ipc_url(char *url, size_t ulen, char *sock, size_t slen)
{
	snprintf(sock, slen, "/tmp/pshm-test-bridge-%d.sock", (int)getpid());
	snprintf(url, ulen, "ipc://%s", sock);
	unlink(sock);
}

/* After a test on one host with `recv --create` into @sink: the receiving
 * end's resume point (the box SINK.bridge), the socket and both logs go
 * (the channels and topics are the fixture's). */
__attribute__((unused)) static void bt_ipc_done(const char *sink, const char *sock,
						const char *send_log, const char *recv_log)
{
	char box[PSHM_NAME_MAX + 16];
	snprintf(box, sizeof(box), "%s.bridge", sink);
	pshm_box_unlink(box);
	unlink(sock);
	unlink(send_log);
	unlink(recv_log);
}

/* One byte or one int through a pipe between the hosts and the test. */
__attribute__((unused)) static void bt_put(int fd, int v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(92);
}

__attribute__((unused)) static int bt_get(int fd)
{
	int v = -1;
	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : -1;
}

/* Attach to @name as consumer, waiting (up to 20 s) for it to be created. */
__attribute__((unused)) static pshm_chan *bt_consumer(const char *name)
{
	pshm_chan *ch = NULL;
	for (int i = 0; i < 1000; i++) {
		if (pshm_chan_open(name, PSHM_CONSUMER, 0, &ch) == 0)
			return ch;
		usleep(20000);
	}
	return NULL;
}

/* Send @len bytes, waiting through a consumer's absence (a bridge end
 * being restarted): 0 or -errno. */
__attribute__((unused)) static int bt_send(pshm_chan *ch, const void *msg, size_t len)
{
	for (int i = 0; i < 3000; i++) {
		int r = pshm_chan_send(ch, msg, len, BT_NS_PER_S / 10);
		if (r != -EPIPE && r != -ETIMEDOUT)
			return r;
		if (r == -EPIPE)
			usleep(10000);
	}
	return -ETIMEDOUT;
}

#endif
