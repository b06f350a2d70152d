/* SPDX-License-Identifier: MIT */
/*
 * Eclipse iceoryx through its C binding (iceoryx_binding_c), compiled only
 * when its headers are installed (Debian: iceoryx, libiceoryx-binding-c-dev;
 * `make bench-deps`). The driver starts its own iox-roudi (the iceoryx
 * daemon) with a memory configuration sized for these messages, and stops
 * it at the end. Each worker is an iceoryx runtime with one publisher and
 * one subscriber per direction: the publisher waits for a slow consumer
 * (ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER, QueueFullPolicy_BLOCK_PRODUCER),
 * so nothing is dropped, and no history is kept.
 *   iox-poll   the receiver polls iox_sub_take_chunk() in a loop;
 *   iox-block  the receiver sleeps in a WaitSet until data is there.
 * Every iceoryx message lives in a loaned shared-memory chunk. The "copy"
 * kinds copy the caller's buffer into a loaned chunk and out of the
 * received one (what an application with its own buffers does); the
 * zero-copy kinds write and read in the chunk, like pshm's reserve/peek.
 * The C binding does not expose a chunk's payload size, so receivers take
 * the message size of the case as the length (contents are still checked).
 *   iox-pubsub-Nsub  one publisher, N subscribers in their own processes,
 *                    each waiting in a WaitSet; for the round trip each
 *                    answers on a topic of its own (the counterpart of
 *                    pshm-topic-Nsub, fan.c);
 *   iox-service      request/response (iceoryx's client and server),
 *                    both sides polling take (the counterpart of
 *                    pshm-service).
 */
#include "bench.h"

#include <stdio.h>

#ifdef HAVE_IOX

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iceoryx_binding_c/chunk.h"
#include "iceoryx_binding_c/client.h"
#include "iceoryx_binding_c/server.h"
#include "iceoryx_binding_c/enums.h"
#include "iceoryx_binding_c/log.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"

#ifndef IOX_VERSION
#define IOX_VERSION "unknown version"
#endif

enum { V_POLL, V_BLOCK };

/* ------------------------------------------------------------ the daemon */

static pid_t roudi = -1;
static char cfg_path[64], log_path[64];

/* Chunk pools: room for the deepest queue below, the chunks each side may
 * hold or loan, and a spare. Sizes leave room for iceoryx's chunk header. */
static const char roudi_cfg[] =
	"[general]\nversion = 1\n\n[[segment]]\n\n"
	"[[segment.mempool]]\nsize = 256\ncount = 4096\n\n"
	"[[segment.mempool]]\nsize = 8448\ncount = 600\n\n"
	"[[segment.mempool]]\nsize = 66048\ncount = 300\n\n"
	"[[segment.mempool]]\nsize = 1052672\ncount = 48\n\n"
	"[[segment.mempool]]\nsize = 4198400\ncount = 16\n";

/* Subscriber queue: deep for small messages, within the pools for large. */
static int queue_for(size_t size)
{
	return size > (1 << 20) ? 4 : size > 65536 ? 16 : 256;
}

static int log_says(const char *what, char *last, size_t len)
{
	char line[512];
	int found = 0;
	FILE *f = fopen(log_path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, what))
			found = 1;
		if (last && line[0] != '\n') {
			line[strcspn(line, "\n")] = 0;
			snprintf(last, len, "iox-roudi: %s", line);
		}
	}
	fclose(f);
	return found;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

int iox_start(char *why, size_t len)
{
	snprintf(cfg_path, sizeof cfg_path, "/tmp/ipcbench-roudi-%d.toml", (int)getpid());
	snprintf(log_path, sizeof log_path, "/tmp/ipcbench-roudi-%d.log", (int)getpid());
	FILE *f = fopen(cfg_path, "w");
	if (!f || fputs(roudi_cfg, f) < 0 || fclose(f)) {
		snprintf(why, len, "cannot write %s: %s", cfg_path, strerror(errno));
		return -1;
	}
	roudi = fork();
	if (roudi < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (roudi == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0); /* the driver stops it, not the terminal's ^C */
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		const char *bin = getenv("IOX_ROUDI");
		execlp(bin ? bin : "iox-roudi", "iox-roudi", "-c", cfg_path, "-l", "info", (char *)NULL);
		fprintf(stderr, "cannot run iox-roudi: %s\n", strerror(errno));
		_exit(127);
	}
	for (int ms = 0; ms < 15000; ms += 20) {
		int st;
		if (log_says("RouDi is ready for clients", NULL, 0)) {
			snprintf(why, len, "%s; iox-roudi started by the benchmark (pid %d), stopped at the end",
				 "iceoryx " IOX_VERSION, (int)roudi);
			fprintf(stderr, "ipcbench: started iox-roudi (pid %d)\n", (int)roudi);
			return 0;
		}
		if (waitpid(roudi, &st, WNOHANG) == roudi) {
			roudi = -1;
			snprintf(why, len, "iox-roudi did not start");
			log_says("", why, len);
			unlink(cfg_path);
			return -1;
		}
		sleep_ms(20);
	}
	snprintf(why, len, "iox-roudi not ready after 15 s");
	iox_stop();
	return -1;
}

/* RouDi's own files, removed only when the RouDi we started died without
 * cleaning up (no other RouDi can have been running: ours would not start). */
static void roudi_leftovers(void)
{
	char path[128];
	struct passwd *pw = getpwuid(geteuid());
	const char *user = pw ? pw->pw_name : NULL;
	unlink("/dev/shm/iceoryx_mgmt");
	if (user && *user && !strchr(user, '/')) {
		snprintf(path, sizeof path, "/dev/shm/%s", user);
		unlink(path);
	}
	unlink("/tmp/roudi");
	unlink("/tmp/roudi.lock");
	unlink("/tmp/iox-unique-roudi.lock");
}

void iox_stop(void)
{
	int st = 0, ms;
	if (roudi > 0) {
		kill(roudi, SIGTERM);
		for (ms = 0; ms < 10000 && waitpid(roudi, &st, WNOHANG) != roudi; ms += 10)
			sleep_ms(10);
		if (ms >= 10000) {
			kill(roudi, SIGKILL);
			waitpid(roudi, &st, 0);
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			fprintf(stderr, "ipcbench: stopped iox-roudi\n");
		} else {
			/* Typically: a worker was killed (interrupt, failed peer)
			 * and RouDi aborts when it cannot terminate it. */
			char last[512] = "";
			log_says("", last, sizeof last);
			roudi_leftovers();
			fprintf(stderr, "ipcbench: iox-roudi did not stop cleanly (status %#x; last words: %s); "
				"removed its files\n", st, last);
		}
		unlink(log_path);
		roudi = -1;
	}
	if (*cfg_path)
		unlink(cfg_path);
}

/* ------------------------------------------------------------ the workers */

struct ist {
	iox_pub_storage_t pub_st;
	iox_sub_storage_t sub_st;
	iox_ws_storage_t ws_st;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
	int runtime;
};

static struct ist is;

static int i_prepare(struct bctx *c)
{
	memset(&is, 0, sizeof is);
	c->priv = &is;
	snprintf(c->note, sizeof c->note, "queue %d", queue_for(c->size));
	return 0;
}

static int i_attach(struct bctx *c)
{
	int a = c->side == SIDE_A;
	char name[64];
	/* A publishes "ab" and subscribes "ba"; B the reverse. */
	const char *tx = a ? "ab" : "ba", *rx = a ? "ba" : "ab";

	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	snprintf(name, sizeof name, "ipcbench-%d", (int)getpid());
	iox_runtime_init(name);
	is.runtime = 1;
	if (a || c->duplex) {
		iox_pub_options_t po;
		iox_pub_options_init(&po);
		po.historyCapacity = 0;
		po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
		is.pub = iox_pub_init(&is.pub_st, "ipcbench", c->tag, tx, &po);
	}
	if (!a || c->duplex) {
		iox_sub_options_t so;
		iox_sub_options_init(&so);
		so.queueCapacity = (uint64_t)queue_for(c->size);
		so.historyRequest = 0;
		so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
		is.sub = iox_sub_init(&is.sub_st, "ipcbench", c->tag, rx, &so);
		if (c->tp->variant == V_BLOCK) {
			is.ws = iox_ws_init(&is.ws_st);
			if (iox_ws_attach_subscriber_state(is.ws, is.sub, SubscriberState_HAS_DATA, 0, NULL) !=
			    WaitSetResult_SUCCESS) {
				berr(c, "iox_ws_attach_subscriber_state failed");
				return -EIO;
			}
		}
	}
	/* Connected both ways before the first message (no history). */
	for (int ms = 0;; ms++) {
		int ok = (!is.pub || iox_pub_has_subscribers(is.pub)) &&
			 (!is.sub || iox_sub_get_subscription_state(is.sub) == SubscribeState_SUBSCRIBED);
		if (ok)
			return 0;
		if (ms > 10000) {
			berr(c, "iceoryx: publisher and subscriber did not connect in 10 s");
			return -ETIMEDOUT;
		}
		sleep_ms(1);
	}
}

static int i_reserve(struct bctx *c, size_t len, void **p)
{
	uint64_t t0 = 0;
	for (;;) {
		enum iox_AllocationResult r = iox_pub_loan_chunk(is.pub, p, (uint32_t)len);
		if (r == AllocationResult_SUCCESS)
			return 0;
		if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS &&
		    r != AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL) {
			berr(c, "iox_pub_loan_chunk(%zu): error %d", len, (int)r);
			return -ENOMEM;
		}
		if (!t0)
			t0 = now_ns();
		else if (now_ns() - t0 > 10000000000ull) {
			berr(c, "iox_pub_loan_chunk(%zu): out of chunks for 10 s", len);
			return -ENOMEM;
		}
	}
}

static int i_commit(struct bctx *c, void *p, size_t len)
{
	(void)c, (void)len;
	iox_pub_publish_chunk(is.pub, p);
	return 0;
}

static ssize_t i_peek(struct bctx *c, const void **p)
{
	for (;;) {
		enum iox_ChunkReceiveResult r = iox_sub_take_chunk(is.sub, p);
		if (r == ChunkReceiveResult_SUCCESS)
			return (ssize_t)c->size;
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
			berr(c, "iox_sub_take_chunk: error %d", (int)r);
			return -EIO;
		}
		if (is.ws) {
			iox_notification_info_t info[1];
			uint64_t missed = 0;
			iox_ws_wait(is.ws, info, 1, &missed);
		}
	}
}

static int i_release(struct bctx *c, const void *p)
{
	(void)c;
	iox_sub_release_chunk(is.sub, p);
	return 0;
}

static int i_send(struct bctx *c, const void *buf, size_t len)
{
	void *p;
	int r = i_reserve(c, len, &p);
	if (r < 0)
		return r;
	memcpy(p, buf, len);
	return i_commit(c, p, len);
}

static ssize_t i_recv(struct bctx *c, void *buf, size_t cap)
{
	const void *p;
	ssize_t r = i_peek(c, &p);
	if (r < 0)
		return r;
	memcpy(buf, p, cap < (size_t)r ? cap : (size_t)r);
	i_release(c, p);
	return r;
}

static void i_detach(struct bctx *c)
{
	(void)c;
	if (is.ws) {
		iox_ws_detach_subscriber_state(is.ws, is.sub, SubscriberState_HAS_DATA);
		iox_ws_deinit(is.ws);
	}
	if (is.sub)
		iox_sub_deinit(is.sub);
	if (is.pub)
		iox_pub_deinit(is.pub);
	if (is.runtime)
		iox_runtime_shutdown();
	memset(&is, 0, sizeof is);
}

/* A worker killed by the driver (its peer failed) leaves its runtime's
 * socket and lock in /tmp, named after the runtime: ours, "ipcbench-PID". */
static void i_cleanup(struct bctx *c)
{
	char path[64];
	for (int i = 0; i < c->nw; i++) {
		if (c->ctrl->pid[i] <= 0)
			continue;
		snprintf(path, sizeof path, "/tmp/ipcbench-%d", (int)c->ctrl->pid[i]);
		unlink(path);
		snprintf(path, sizeof path, "/tmp/ipcbench-%d.lock", (int)c->ctrl->pid[i]);
		unlink(path);
	}
}

static const struct tp_ops i_ops = {
	.prepare = i_prepare, .cleanup = i_cleanup, .attach = i_attach, .send = i_send, .recv = i_recv,
	.reserve = i_reserve, .commit = i_commit, .peek = i_peek, .release = i_release,
	.detach = i_detach,
};

/* ------------------------------------------------------ one to many */

#define FAN_MAX 16

struct ifan {
	iox_pub_storage_t pub_st;
	iox_sub_storage_t sub_st[FAN_MAX];
	iox_ws_storage_t ws_st[FAN_MAX];
	iox_pub_t pub;
	iox_sub_t sub[FAN_MAX];
	iox_ws_t ws[FAN_MAX];
	int nsub;
};

static struct ifan fan;

static iox_pub_t fan_pub(struct bctx *c, const char *event)
{
	iox_pub_options_t po;
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	return iox_pub_init(&fan.pub_st, "ipcbench", c->tag, event, &po);
}

static int fan_sub(struct bctx *c, const char *event)
{
	int i = fan.nsub++;
	iox_sub_options_t so;
	iox_sub_options_init(&so);
	so.queueCapacity = (uint64_t)queue_for(c->size);
	so.historyRequest = 0;
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	fan.sub[i] = iox_sub_init(&fan.sub_st[i], "ipcbench", c->tag, event, &so);
	fan.ws[i] = iox_ws_init(&fan.ws_st[i]);
	if (iox_ws_attach_subscriber_state(fan.ws[i], fan.sub[i], SubscriberState_HAS_DATA, 0, NULL) !=
	    WaitSetResult_SUCCESS) {
		berr(c, "iox_ws_attach_subscriber_state failed");
		return -EIO;
	}
	return 0;
}

/* Until every subscriber of this process is connected (a subscriber is
 * SUBSCRIBED once a publisher offers), and its publisher has one. */
static int fan_connected(struct bctx *c)
{
	for (int ms = 0;; ms++) {
		int ok = !fan.pub || iox_pub_has_subscribers(fan.pub);
		for (int i = 0; i < fan.nsub; i++)
			ok &= iox_sub_get_subscription_state(fan.sub[i]) == SubscribeState_SUBSCRIBED;
		if (ok)
			return 0;
		if (ms > 10000) {
			berr(c, "iceoryx: publishers and subscribers did not connect in 10 s");
			return -ETIMEDOUT;
		}
		sleep_ms(1);
	}
}

static int f_attach(struct bctx *c)
{
	char name[64], ev[16];
	int r, rtt = c->kind == K_RTT_FAN;

	memset(&is, 0, sizeof is);
	memset(&fan, 0, sizeof fan);
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	snprintf(name, sizeof name, "ipcbench-%d", (int)getpid());
	iox_runtime_init(name);
	is.runtime = 1;
	if (c->side == SIDE_A) {
		fan.pub = fan_pub(c, "ping");
		for (int i = 1; rtt && i < c->nw; i++) {
			snprintf(ev, sizeof ev, "pong-%d", i);
			if ((r = fan_sub(c, ev)) < 0)
				return r;
		}
	} else {
		if ((r = fan_sub(c, "ping")) < 0)
			return r;
		if (rtt) {
			snprintf(ev, sizeof ev, "pong-%d", c->side);
			fan.pub = fan_pub(c, ev);
		}
	}
	is.pub = fan.pub;
	is.sub = fan.sub[0];
	is.ws = fan.ws[0];
	return fan_connected(c);
}

static ssize_t f_recv(struct bctx *c, void *buf, size_t cap)
{
	int i = c->side == SIDE_A ? c->peer - 1 : 0;
	is.sub = fan.sub[i];
	is.ws = fan.ws[i];
	return i_recv(c, buf, cap);
}

static void f_detach(struct bctx *c)
{
	(void)c;
	for (int i = 0; i < fan.nsub; i++) {
		iox_ws_detach_subscriber_state(fan.ws[i], fan.sub[i], SubscriberState_HAS_DATA);
		iox_ws_deinit(fan.ws[i]);
		iox_sub_deinit(fan.sub[i]);
	}
	if (fan.pub)
		iox_pub_deinit(fan.pub);
	iox_runtime_shutdown();
	memset(&fan, 0, sizeof fan);
	memset(&is, 0, sizeof is);
}

/* -------------------------------------------------- request/response */

struct isvc {
	iox_client_storage_t cl_st;
	iox_server_storage_t sv_st;
	iox_client_t cl;
	iox_server_t sv;
	const void *req;   /* B: the request being answered */
};

static struct isvc sv;

static int r_attach(struct bctx *c)
{
	char name[64];
	memset(&sv, 0, sizeof sv);
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	snprintf(name, sizeof name, "ipcbench-%d", (int)getpid());
	iox_runtime_init(name);
	if (c->side == SIDE_A) {
		iox_client_options_t co;
		iox_client_options_init(&co);
		co.responseQueueCapacity = 16;
		co.responseQueueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
		co.serverTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
		sv.cl = iox_client_init(&sv.cl_st, "ipcbench", c->tag, "call", &co);
	} else {
		iox_server_options_t so;
		iox_server_options_init(&so);
		so.requestQueueCapacity = 16;
		so.requestQueueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
		so.clientTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
		sv.sv = iox_server_init(&sv.sv_st, "ipcbench", c->tag, "call", &so);
	}
	for (int ms = 0;; ms++) {
		if (sv.cl ? iox_client_get_connection_state(sv.cl) == ConnectionState_CONNECTED
			  : iox_server_has_clients(sv.sv))
			return 0;
		if (ms > 10000) {
			berr(c, "iceoryx: client and server did not connect in 10 s");
			return -ETIMEDOUT;
		}
		sleep_ms(1);
	}
}

static int r_send(struct bctx *c, const void *buf, size_t len)
{
	void *p = NULL;
	enum iox_AllocationResult a;
	for (uint64_t t0 = now_ns();;) {
		a = sv.cl ? iox_client_loan_request(sv.cl, &p, (uint32_t)len)
			  : iox_server_loan_response(sv.sv, sv.req, &p, (uint32_t)len);
		if (a == AllocationResult_SUCCESS)
			break;
		if (now_ns() - t0 > 10000000000ull) {
			berr(c, "iceoryx: loan of %zu bytes: error %d for 10 s", len, (int)a);
			return -ENOMEM;
		}
	}
	memcpy(p, buf, len);
	if (sv.cl)
		return iox_client_send(sv.cl, p) == ClientSendResult_SUCCESS ? 0 : -EIO;
	int r = iox_server_send(sv.sv, p) == ServerSendResult_SUCCESS ? 0 : -EIO;
	iox_server_release_request(sv.sv, sv.req);
	return r;
}

static ssize_t r_recv(struct bctx *c, void *buf, size_t cap)
{
	const void *p;
	if (sv.cl) {
		enum iox_ChunkReceiveResult r;
		while ((r = iox_client_take_response(sv.cl, &p)) == ChunkReceiveResult_NO_CHUNK_AVAILABLE)
			;
		if (r != ChunkReceiveResult_SUCCESS) {
			berr(c, "iox_client_take_response: error %d", (int)r);
			return -EIO;
		}
		memcpy(buf, p, cap < c->size ? cap : c->size);
		iox_client_release_response(sv.cl, p);
		return (ssize_t)c->size;
	}
	enum iox_ServerRequestResult r;
	while ((r = iox_server_take_request(sv.sv, &p)) == ServerRequestResult_NO_PENDING_REQUESTS)
		;
	if (r != ServerRequestResult_SUCCESS) {
		berr(c, "iox_server_take_request: error %d", (int)r);
		return -EIO;
	}
	memcpy(buf, p, cap < c->size ? cap : c->size);
	sv.req = p; /* released once answered */
	return (ssize_t)c->size;
}

static void r_detach(struct bctx *c)
{
	(void)c;
	if (sv.cl)
		iox_client_deinit(sv.cl);
	if (sv.sv)
		iox_server_deinit(sv.sv);
	iox_runtime_shutdown();
	memset(&sv, 0, sizeof sv);
}

static const struct tp_ops f_ops = {
	.prepare = i_prepare, .cleanup = i_cleanup, .attach = f_attach, .send = i_send, .recv = f_recv,
	.detach = f_detach,
};
static const struct tp_ops r_ops = {
	.prepare = i_prepare, .cleanup = i_cleanup, .attach = r_attach, .send = r_send, .recv = r_recv,
	.detach = r_detach,
};

static const size_t s64[] = {64, 0}, s64_1m[] = {64, 1 << 20, 0};
#define FAN (KBIT(K_RTT_FAN) | KBIT(K_STREAM_FAN))

const struct transport iox_transports[] = {
	{"iox-poll", &i_ops, V_POLL, K_ALL_COPY | K_ALL_ZC, "iceoryx publish/subscribe, polling take", 0, NULL, 0},
	{"iox-block", &i_ops, V_BLOCK, KBIT(K_RTT) | KBIT(K_RTT_ZC), "iceoryx publish/subscribe, WaitSet", 0, s64_1m, 0},
	{"iox-pubsub-1sub", &f_ops, V_BLOCK, FAN, "iceoryx publish/subscribe, 1 subscriber, WaitSet", 0, s64, 1},
	{"iox-pubsub-2sub", &f_ops, V_BLOCK, FAN, "iceoryx publish/subscribe, 2 subscribers, WaitSet", 0, s64, 2},
	{"iox-pubsub-4sub", &f_ops, V_BLOCK, FAN, "iceoryx publish/subscribe, 4 subscribers, WaitSet", 0, s64, 4},
	{"iox-service", &r_ops, V_POLL, KBIT(K_RTT), "iceoryx request/response (client, server), polling take", 0, s64, 0},
	{0},
};

#else

const struct transport iox_transports[] = {{0}};

int iox_start(char *why, size_t len)
{
	snprintf(why, len, "not built");
	return -1;
}

void iox_stop(void)
{
}

#endif
