/* SPDX-License-Identifier: MIT */
/*
 * msg.c — messages between the shell and a ring, for every command that
 * sends (send, pub) or receives (recv, sub): the operands or the records
 * of standard input in, each message and its end out, the waits that a
 * signal or a timeout ends, and the words for how it ended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli.h"

#define NS_PER_S 1000000000.0
/* Receivers wait in slices this long, to notice a SIGINT or SIGTERM that
 * arrives while they spin rather than sleep. */
#define SLICE_NS INT64_C(100000000)

int64_t cli_timeout_ns(double s)
{
	return s * NS_PER_S >= (double)INT64_MAX ? PSHM_FOREVER : (int64_t)(s * NS_PER_S);
}

/* ---- sending ------------------------------------------------------------ */

/* The messages are standard input's records: no MSG operand, or '-' alone. */
static bool from_stdin(const struct cli_args *a)
{
	return a->n == 1 || (a->n == 2 && !strcmp(a->v[1], "-"));
}

int cli_msg_check(const char *cmd, const struct cli_args *a)
{
	for (int i = 1; i < a->n && !from_stdin(a); i++)
		if (!strcmp(a->v[i], "-"))
			return cli_usage(cmd, "'-' (standard input) must be the only message argument");
	return -1;
}

/* Each record of standard input: a line, or with @nul what ends with a NUL
 * byte; the last one may lack its end. */
static int send_records(bool nul, const char *name, cli_msg_put put, void *ctx)
{
	char *rec = NULL;
	size_t cap = 0;
	ssize_t n;
	int end = nul ? '\0' : '\n', status = EXIT_OK;
	while (status == EXIT_OK && (n = getdelim(&rec, &cap, end, stdin)) >= 0)
		status = put(ctx, rec, (size_t)n - (n > 0 && rec[n - 1] == end));
	if (status == EXIT_OK && ferror(stdin))
		status = cli_failn("read standard input for", name, "%s", strerror(errno));
	free(rec);
	return status;
}

int cli_msg_send(const struct cli_args *a, bool nul, cli_msg_put put, void *ctx)
{
	if (from_stdin(a))
		return send_records(nul, a->v[0], put, ctx);
	int status = EXIT_OK;
	for (int i = 1; status == EXIT_OK && i < a->n; i++)
		status = put(ctx, a->v[i], strlen(a->v[i]));
	return status;
}

long long cli_msg_total(const struct cli_args *a)
{
	return from_stdin(a) ? -1 : a->n - 1;
}

/* ---- receiving ------------------------------------------------------------ */

int cli_msg_write(const void *msg, size_t len, char end)
{
	struct iovec v[2] = { { (void *)msg, len }, { &end, 1 } };
	int i = 0;
	while (i < 2) {
		ssize_t n = writev(1, v + i, 2 - i);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < 2 && (size_t)n >= v[i].iov_len)
			n -= (ssize_t)v[i++].iov_len;
		if (i < 2) {
			v[i].iov_base = (char *)v[i].iov_base + n;
			v[i].iov_len -= (size_t)n;
		}
	}
	return 0;
}

int cli_recv_opt(const struct cli_cmd *cmd, struct cli_recv *o, enum cli_opt id, const char *arg)
{
	double secs;
	int r = 0;
	if (id == CLI_O_COUNT)
		r = cli_opt_count(cmd, id, arg, 1, UINT64_MAX, &o->count);
	else if (id == CLI_O_TIMEOUT && (r = cli_opt_duration(cmd, id, arg, &secs)) == 0)
		o->timeout = cli_timeout_ns(secs);
	else if (id == CLI_O_FOLLOW)
		o->follow = true;
	return r;
}

/* The next message through @get, waiting in slices so that SIGINT or
 * SIGTERM arriving between two waits is seen. */
static int recv_one(const struct cli_recv *o, cli_msg_get get, void *ctx, int *werr)
{
	int64_t left = o->timeout;
	for (;;) {
		if (cli_stop)
			return -EINTR;
		int64_t t = left < 0 || left > SLICE_NS ? SLICE_NS : left;
		int r = get(ctx, t, werr);
		if (r != -ETIMEDOUT || t == left)
			return r;
		if (left > 0)
			left -= t;
	}
}

int cli_msg_recv(const char *name, const struct cli_recv *o, const char *gone, cli_msg_get get,
		 void *ctx)
{
	struct cli_recv w = *o;
	if (w.timeout == CLI_TIMEOUT_UNSET)
		w.timeout = w.count || w.follow ? PSHM_FOREVER : 0;
	uint64_t got = 0;
	int r = 0, werr = 0;
	while ((!w.count || got < w.count) && (r = recv_one(&w, get, ctx, &werr)) == 0)
		got++;
	if (r == 0)
		return EXIT_OK;
	if (r == CLI_WRITE_FAILED)
		return cli_failn("write standard output for", name, "%s", strerror(werr));
	/* Without -n, running dry, the senders leaving or an interruption is
	 * the normal end; with -n, stopping short is a failure. */
	bool end = r == -EAGAIN || r == -ETIMEDOUT || r == -EPIPE || r == -EINTR;
	if (end && !w.count)
		return EXIT_OK;
	if (end)
		return cli_failn("receive from", name, "%s after %llu of %llu messages",
				 r == -EPIPE ? gone : r == -EINTR ? "interrupted" : "timed out",
				 (unsigned long long)got, (unsigned long long)w.count);
	return cli_fail("receive from", name, r);
}
