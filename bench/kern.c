/* SPDX-License-Identifier: MIT */
/*
 * The kernel's IPC: pipe, UNIX-domain sockets (stream and seqpacket),
 * POSIX message queues. Created by the driver before the fork and inherited
 * by both workers, as related processes would use them.
 *
 * Byte streams (pipe, SOCK_STREAM) carry fixed-size messages: the reader
 * reads exactly one message's bytes (looping over short reads), so every
 * message costs at least one read and one write system call, like the
 * others. Blocking descriptors throughout (these transports have no busy
 * mode). Socket buffers: raised to twice the message size when messages
 * exceed 64 KiB (a 1 MiB SEQPACKET message must fit in the send buffer).
 * Message queues: 10 messages deep (the default fs.mqueue.msg_max);
 * messages above fs.mqueue.msgsize_max need that limit raised, which the
 * benchmark does as root for the duration of the case and then restores.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { V_PIPE, V_PIPE_BIG, V_STREAM, V_SEQPACKET, V_MQ };

#define MQ_DEPTH 10
#define MSGSIZE_MAX "/proc/sys/fs/mqueue/msgsize_max"
#define MSG_MAX "/proc/sys/fs/mqueue/msg_max"

struct kst {
	int ab[2], ba[2];  /* pipes: [0] read end, [1] write end */
	int sv[2];         /* socket pair: A uses sv[0], B sv[1] */
	mqd_t q[2];        /* message queues A->B, B->A */
	int rfd, wfd;      /* this side's descriptors */
	mqd_t rq, wq;
};

static struct kst ks;
static long saved_msgsize = -1;

static long read_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	int ok = fprintf(f, "%ld\n", v) > 0;
	ok &= fclose(f) == 0;
	return ok ? 0 : -EIO;
}

static void close_all(void)
{
	int *fds[] = {&ks.ab[0], &ks.ab[1], &ks.ba[0], &ks.ba[1], &ks.sv[0], &ks.sv[1]};
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	for (int i = 0; i < 2; i++)
		if (ks.q[i] != (mqd_t)-1) {
			mq_close(ks.q[i]);
			ks.q[i] = (mqd_t)-1;
		}
}

static int pipe_prepare(struct bctx *c)
{
	if (pipe2(ks.ab, O_CLOEXEC) || (c->duplex && pipe2(ks.ba, O_CLOEXEC)))
		return -errno;
	if (c->tp->variant == V_PIPE_BIG) {
		long max = read_long("/proc/sys/fs/pipe-max-size");
		if (max <= 0)
			max = 1 << 20;
		if (fcntl(ks.ab[1], F_SETPIPE_SZ, (int)max) < 0) {
			berr(c, "F_SETPIPE_SZ %ld: %s", max, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int sock_prepare(struct bctx *c)
{
	int type = c->tp->variant == V_STREAM ? SOCK_STREAM : SOCK_SEQPACKET;
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, ks.sv))
		return -errno;
	if (c->max_msg <= 65536)
		return 0;
	int want = (int)(2 * c->max_msg), got = 0;
	socklen_t len = sizeof got;
	for (int i = 0; i < 2; i++) {
		setsockopt(ks.sv[i], SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
		setsockopt(ks.sv[i], SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
		getsockopt(ks.sv[i], SOL_SOCKET, SO_SNDBUF, &got, &len);
		if (got < want) { /* above net.core.wmem_max: as root, force it */
			setsockopt(ks.sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want);
			setsockopt(ks.sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want);
			getsockopt(ks.sv[i], SOL_SOCKET, SO_SNDBUF, &got, &len);
		}
		if (type == SOCK_SEQPACKET && (size_t)got < c->max_msg + 64) {
			berr(c, "a %zu-byte SEQPACKET message exceeds the socket send buffer "
				"(%d bytes; net.core.wmem_max, or run as root)", c->max_msg, got);
			close_all();
			return -EMSGSIZE;
		}
	}
	return 0;
}

static int mq_prepare(struct bctx *c)
{
	long maxsize = read_long(MSGSIZE_MAX), maxmsg = read_long(MSG_MAX);
	long depth = maxmsg > 0 && maxmsg < MQ_DEPTH ? maxmsg : MQ_DEPTH;
	int r;

	if (maxsize >= 0 && (size_t)maxsize < c->max_msg) {
		if ((r = write_long(MSGSIZE_MAX, (long)c->max_msg)) < 0) {
			berr(c, "a %zu-byte message exceeds fs.mqueue.msgsize_max (%ld), "
				"which cannot be raised here (%s; run as root)", c->max_msg, maxsize, strerror(-r));
			return -EMSGSIZE;
		}
		saved_msgsize = maxsize;
	}
	/* RLIMIT_MSGQUEUE bounds the bytes all of a user's queues may hold
	 * (about 100 bytes of overhead per message): raise it if allowed
	 * (CAP_SYS_RESOURCE for the hard limit), else make the queues shallower. */
	struct rlimit rl;
	long nq = 1 + c->duplex, per = (long)c->max_msg + 128;
	rlim_t need = (rlim_t)(nq * depth * per + 4096);
	if (!getrlimit(RLIMIT_MSGQUEUE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit want = rl;
		want.rlim_cur = need;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			want.rlim_max = need;
		if (setrlimit(RLIMIT_MSGQUEUE, &want)) {
			want.rlim_cur = rl.rlim_max; /* at least the whole soft range */
			want.rlim_max = rl.rlim_max;
			setrlimit(RLIMIT_MSGQUEUE, &want);
		}
		getrlimit(RLIMIT_MSGQUEUE, &rl);
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
			depth = ((long)rl.rlim_cur - 4096) / (nq * per);
		if (depth < 1) {
			berr(c, "a %zu-byte message exceeds RLIMIT_MSGQUEUE (%llu bytes; raising it "
				"needs CAP_SYS_RESOURCE)", c->max_msg, (unsigned long long)rl.rlim_cur);
			return -EMSGSIZE;
		}
	}
	snprintf(c->note, sizeof c->note, "depth %ld", depth);
	struct mq_attr at = {.mq_maxmsg = depth, .mq_msgsize = (long)c->max_msg};
	for (int i = 0; i < 1 + c->duplex; i++) {
		char name[96];
		snprintf(name, sizeof name, "/%s-%c", c->tag, i ? 'b' : 'a');
		ks.q[i] = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &at);
		if (ks.q[i] == (mqd_t)-1) {
			r = -errno;
			if (!*c->err)
				berr(c, "mq_open (%ld x %zu bytes): %s", depth, c->max_msg, strerror(errno));
			close_all();
			return r;
		}
		mq_unlink(name); /* the workers inherit the descriptors; nothing is left behind */
	}
	return 0;
}

static int k_prepare(struct bctx *c)
{
	ks = (struct kst){{-1, -1}, {-1, -1}, {-1, -1}, {(mqd_t)-1, (mqd_t)-1}, -1, -1, -1, -1};
	c->priv = &ks;
	switch (c->tp->variant) {
	case V_PIPE:
	case V_PIPE_BIG: return pipe_prepare(c);
	case V_STREAM:
	case V_SEQPACKET: return sock_prepare(c);
	default: return mq_prepare(c);
	}
}

/* Keep this side's ends, close the others: a dead peer then shows as EOF. */
static int k_attach(struct bctx *c)
{
	int a = c->side == SIDE_A;
	switch (c->tp->variant) {
	case V_PIPE:
	case V_PIPE_BIG:
		ks.wfd = a ? ks.ab[1] : ks.ba[1];
		ks.rfd = a ? ks.ba[0] : ks.ab[0];
		close(a ? ks.ab[0] : ks.ab[1]);
		if (ks.ba[0] >= 0)
			close(a ? ks.ba[1] : ks.ba[0]);
		break;
	case V_STREAM:
	case V_SEQPACKET:
		ks.rfd = ks.wfd = ks.sv[a ? 0 : 1];
		close(ks.sv[a ? 1 : 0]);
		break;
	default:
		ks.wq = a ? ks.q[0] : ks.q[1];
		ks.rq = a ? ks.q[1] : ks.q[0];
		break;
	}
	return 0;
}

static int k_send(struct bctx *c, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t r;
	switch (c->tp->variant) {
	case V_MQ:
		return mq_send(ks.wq, buf, len, 0) ? -errno : 0;
	case V_SEQPACKET:
		r = send(ks.wfd, buf, len, 0);
		return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EIO;
	default:
		while (len) {
			r = write(ks.wfd, p, len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r < 0 ? -errno : -EIO;
			p += r;
			len -= (size_t)r;
		}
		return 0;
	}
}

static ssize_t k_recv(struct bctx *c, void *buf, size_t cap)
{
	char *p = buf;
	size_t got = 0;
	ssize_t r;
	switch (c->tp->variant) {
	case V_MQ:
		r = mq_receive(ks.rq, buf, cap, NULL);
		return r < 0 ? -errno : r;
	case V_SEQPACKET:
		r = recv(ks.rfd, buf, cap, 0);
		return r < 0 ? -errno : r == 0 ? -EPIPE : r;
	default:
		while (got < cap) {
			r = read(ks.rfd, p + got, cap - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r < 0 ? -errno : -EPIPE;
			got += (size_t)r;
		}
		return (ssize_t)got;
	}
}

static void k_detach(struct bctx *c)
{
	(void)c;
	close_all();
}

static void k_cleanup(struct bctx *c)
{
	(void)c;
	close_all();
	if (saved_msgsize >= 0) {
		write_long(MSGSIZE_MAX, saved_msgsize);
		saved_msgsize = -1;
	}
}

static const struct tp_ops k_ops = {
	.prepare = k_prepare, .attach = k_attach, .send = k_send, .recv = k_recv,
	.detach = k_detach, .cleanup = k_cleanup,
};

static const size_t s1m[] = {1 << 20, 0};

const struct transport kern_transports[] = {
	{"pipe", &k_ops, V_PIPE, K_ALL_COPY, "pipe(2), default capacity (64 KiB)", 0, NULL, 0},
	{"pipe-1m", &k_ops, V_PIPE_BIG, KBIT(K_STREAM), "pipe(2) enlarged to fs.pipe-max-size (F_SETPIPE_SZ)", 0, s1m, 0},
	{"unix-stream", &k_ops, V_STREAM, K_ALL_COPY, "socketpair(AF_UNIX, SOCK_STREAM)", 0, NULL, 0},
	{"unix-seqpacket", &k_ops, V_SEQPACKET, K_ALL_COPY, "socketpair(AF_UNIX, SOCK_SEQPACKET)", 0, NULL, 0},
	{"mq", &k_ops, V_MQ, K_ALL_COPY, "POSIX message queue (mq_open), 10 messages deep", 0, NULL, 0},
	{0},
};
