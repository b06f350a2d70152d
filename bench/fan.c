/* SPDX-License-Identifier: MIT */
/*
 * One to many, and request/response:
 *   pshm-topic-Nsub  a pshm topic (blocking policy, no history) with N
 *                    subscribers, each in its own process; for the round
 *                    trip each subscriber answers on its own SPSC channel
 *                    and the publisher takes the N answers. Handles wait
 *                    as the library's default (spin, then sleep): with
 *                    more receivers than CPUs, busy-polling would only
 *                    measure the scheduler.
 *   pshm-service     a pshm service: side A calls pshm_service_call(),
 *                    side B is the server (pshm_service_recv() and
 *                    pshm_service_reply()).
 *   unix-service     the same over a UNIX SOCK_SEQPACKET socket: B
 *                    listens (abstract address) and accepts, A connects;
 *                    one send and one receive each way per call.
 * The iceoryx counterparts are in iox.c.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pshm.h"

#define MAX_SUB 16

/* ------------------------------------------------------------ topics */

struct tst {
	char topic[96];
	char reply[MAX_SUB][96];   /* subscriber i+1 -> A */
	int made_topic, made_reply[MAX_SUB];
	pshm_topic *t;
	pshm_chan *rx[MAX_SUB];    /* A: the answers */
	pshm_chan *tx;             /* a subscriber: its answers */
};

static struct tst ts;

static int t_prepare(struct bctx *c)
{
	memset(&ts, 0, sizeof ts);
	c->priv = &ts;
	if (c->nw - 1 > MAX_SUB)
		return -EINVAL;
	snprintf(ts.topic, sizeof ts.topic, "%s-t", c->tag);
	struct pshm_topic_config tc = {
		.max_msg = c->max_msg, .max_subscribers = (unsigned)(c->nw - 1),
		.policy = PSHM_TOPIC_BLOCKING,
	};
	int r = pshm_topic_create(ts.topic, &tc, 0, 0);
	if (r < 0) {
		berr(c, "pshm topics not available: pshm_topic_create: %s", pshm_strerror(r));
		return r;
	}
	ts.made_topic = 1;
	snprintf(c->note, sizeof c->note, "%d subscriber(s)", c->nw - 1);
	if (c->kind != K_RTT_FAN)
		return 0;
	struct pshm_chan_config cc = {.max_msg = c->max_msg, .mode = PSHM_CHAN_SPSC};
	for (int i = 0; i < c->nw - 1; i++) {
		snprintf(ts.reply[i], sizeof ts.reply[i], "%s-r%d", c->tag, i);
		if ((r = pshm_chan_create(ts.reply[i], &cc, 0, 0)) < 0) {
			berr(c, "pshm_chan_create: %s", pshm_strerror(r));
			return r;
		}
		ts.made_reply[i] = 1;
	}
	return 0;
}

static int t_attach(struct bctx *c)
{
	int r, a = c->side == SIDE_A, rtt = c->kind == K_RTT_FAN;
	r = pshm_topic_open(ts.topic, a ? PSHM_PUBLISHER : PSHM_SUBSCRIBER, 0, &ts.t);
	if (r < 0) {
		berr(c, "pshm_topic_open: %s", pshm_strerror(r));
		return r;
	}
	for (int i = 0; rtt && i < c->nw - 1; i++) {
		if (!a && i != c->side - 1)
			continue;
		r = pshm_chan_open(ts.reply[i], a ? PSHM_CONSUMER : PSHM_PRODUCER, 0, a ? &ts.rx[i] : &ts.tx);
		if (r < 0) {
			berr(c, "pshm_chan_open: %s", pshm_strerror(r));
			return r;
		}
	}
	return 0;
}

static int t_send(struct bctx *c, const void *buf, size_t len)
{
	if (c->side == SIDE_A)
		return pshm_topic_publish(ts.t, buf, len, PSHM_FOREVER);
	return pshm_chan_send(ts.tx, buf, len, PSHM_FOREVER);
}

static ssize_t t_recv(struct bctx *c, void *buf, size_t cap)
{
	if (c->side == SIDE_A)
		return pshm_chan_recv(ts.rx[c->peer - 1], buf, cap, PSHM_FOREVER);
	return pshm_topic_recv(ts.t, buf, cap, PSHM_FOREVER);
}

static void t_detach(struct bctx *c)
{
	(void)c;
	pshm_topic_close(ts.t);
	pshm_chan_close(ts.tx);
	for (int i = 0; i < MAX_SUB; i++)
		pshm_chan_close(ts.rx[i]);
}

static void t_cleanup(struct bctx *c)
{
	(void)c;
	if (ts.made_topic)
		pshm_topic_unlink(ts.topic);
	for (int i = 0; i < MAX_SUB; i++)
		if (ts.made_reply[i])
			pshm_chan_unlink(ts.reply[i]);
	memset(&ts, 0, sizeof ts);
}

/* ---------------------------------------------------------- services */

struct sst {
	char name[96];
	int made;
	pshm_service *h;
	const void *req;    /* A: the request send() was given */
	size_t req_len;
	uint64_t id;        /* B: the request being answered */
};

static struct sst ss;

static int s_prepare(struct bctx *c)
{
	memset(&ss, 0, sizeof ss);
	c->priv = &ss;
	snprintf(ss.name, sizeof ss.name, "%s-s", c->tag);
	struct pshm_service_config sc = {
		.max_request = c->max_msg, .max_reply = c->max_msg, .max_clients = 1,
		.max_servers = 1, .max_inflight = 1,
	};
	int r = pshm_service_create(ss.name, &sc, 0, 0);
	if (r < 0) {
		berr(c, "pshm services not available: pshm_service_create: %s", pshm_strerror(r));
		return r;
	}
	ss.made = 1;
	return 0;
}

static int s_attach(struct bctx *c)
{
	int r = pshm_service_open(ss.name, c->side == SIDE_A ? PSHM_CLIENT : PSHM_SERVER, 0, &ss.h);
	if (r < 0)
		berr(c, "pshm_service_open: %s", pshm_strerror(r));
	return r;
}

/* A: the call happens in recv(), which has both the request and the
 * reply buffer. */
static int s_send(struct bctx *c, const void *buf, size_t len)
{
	if (c->side == SIDE_A) {
		ss.req = buf;
		ss.req_len = len;
		return 0;
	}
	return pshm_service_reply(ss.h, ss.id, buf, len);
}

static ssize_t s_recv(struct bctx *c, void *buf, size_t cap)
{
	if (c->side == SIDE_A)
		return pshm_service_call(ss.h, ss.req, ss.req_len, buf, cap, PSHM_FOREVER);
	struct pshm_service_req rq;
	ssize_t r = pshm_service_recv(ss.h, buf, cap, &rq, PSHM_FOREVER);
	if (r >= 0)
		ss.id = rq.id;
	return r;
}

static void s_detach(struct bctx *c)
{
	(void)c;
	pshm_service_close(ss.h);
}

static void s_cleanup(struct bctx *c)
{
	(void)c;
	if (ss.made)
		pshm_service_unlink(ss.name);
	memset(&ss, 0, sizeof ss);
}

/* ------------------------------------------------------ unix-service */

static int us_listen = -1, us_fd = -1;

static socklen_t us_addr(const struct bctx *c, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "%s", c->tag);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int us_prepare(struct bctx *c)
{
	struct sockaddr_un sa;
	socklen_t len = us_addr(c, &sa);
	us_listen = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (us_listen < 0)
		return -errno;
	if (bind(us_listen, (struct sockaddr *)&sa, len) || listen(us_listen, 4)) {
		int e = errno;
		close(us_listen);
		us_listen = -1;
		return -e;
	}
	return 0;
}

static int us_attach(struct bctx *c)
{
	if (c->side == SIDE_B) {
		us_fd = accept4(us_listen, NULL, NULL, SOCK_CLOEXEC);
	} else {
		struct sockaddr_un sa;
		socklen_t len = us_addr(c, &sa);
		us_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (us_fd >= 0 && connect(us_fd, (struct sockaddr *)&sa, len)) {
			close(us_fd);
			us_fd = -1;
		}
	}
	close(us_listen);
	us_listen = -1;
	return us_fd < 0 ? -errno : 0;
}

static int us_send(struct bctx *c, const void *buf, size_t len)
{
	(void)c;
	ssize_t r = send(us_fd, buf, len, 0);
	return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EIO;
}

static ssize_t us_recv(struct bctx *c, void *buf, size_t cap)
{
	(void)c;
	ssize_t r = recv(us_fd, buf, cap, 0);
	return r < 0 ? -errno : r == 0 ? -EPIPE : r;
}

static void us_detach(struct bctx *c)
{
	(void)c;
	if (us_fd >= 0)
		close(us_fd);
	us_fd = -1;
}

static void us_cleanup(struct bctx *c)
{
	(void)c;
	if (us_listen >= 0)
		close(us_listen);
	us_listen = -1;
}

static const struct tp_ops t_ops = {
	.prepare = t_prepare, .attach = t_attach, .send = t_send, .recv = t_recv,
	.detach = t_detach, .cleanup = t_cleanup,
};
static const struct tp_ops s_ops = {
	.prepare = s_prepare, .attach = s_attach, .send = s_send, .recv = s_recv,
	.detach = s_detach, .cleanup = s_cleanup,
};
static const struct tp_ops us_ops = {
	.prepare = us_prepare, .attach = us_attach, .send = us_send, .recv = us_recv,
	.detach = us_detach, .cleanup = us_cleanup,
};

#define FAN (KBIT(K_RTT_FAN) | KBIT(K_STREAM_FAN))
static const size_t s64[] = {64, 0};

const struct transport fan_transports[] = {
	{"pshm-topic-1sub", &t_ops, 0, FAN, "pshm topic, 1 subscriber, default wait", 0, s64, 1},
	{"pshm-topic-2sub", &t_ops, 0, FAN, "pshm topic, 2 subscribers, default wait", 0, s64, 2},
	{"pshm-topic-4sub", &t_ops, 0, FAN, "pshm topic, 4 subscribers, default wait", 0, s64, 4},
	{"pshm-service", &s_ops, 0, KBIT(K_RTT), "pshm service call, default wait", 0, s64, 0},
	{"unix-service", &us_ops, 0, KBIT(K_RTT), "UNIX SOCK_SEQPACKET socket, connect/accept, request/response", 0, s64, 0},
	{0},
};
