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
		if (ms > 20000) {
			berr(c, "iceoryx: publisher and subscriber did not connect in 20 s");
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
	for (int i = 0; i < 2; i++) {
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

static const size_t s64_1m[] = {64, 1 << 20, 0};

const struct transport iox_transports[] = {
	{"iox-poll", &i_ops, V_POLL, K_ALL_COPY | K_ALL_ZC, "iceoryx publish/subscribe, polling take", 0, NULL, 0},
	{"iox-block", &i_ops, V_BLOCK, KBIT(K_RTT) | KBIT(K_RTT_ZC), "iceoryx publish/subscribe, WaitSet", 0, s64_1m, 0},
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
