/* SPDX-License-Identifier: MIT */
/*
 * cli/bridge.c — `pshm bridge send|recv`: a channel or topic carried
 * between machines over NNG. This file holds the command (options, help), the
 * checks on URLs (a listener stays on loopback unless told otherwise), the
 * sockets and TLS, logs and --stats; bridge_send.c and bridge_recv.c the
 * two ends; bridge_frame.c the frames and what they guarantee.
 *
 * Built only where NNG is (PSHM_HAVE_NNG); elsewhere `pshm bridge` says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifndef PSHM_HAVE_NNG

int cmd_bridge(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_failf("bridge", "not available in this build: pshm was built without NNG "
			 "(install libnng-dev and rebuild)");
}

#else

#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/supplemental/tls/tls.h>

#include "bridge.h"

const char *br_side = "";

void br_log(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "pshm bridge %s: ", br_side);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int64_t br_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static const char *addr_str(const nng_sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	switch (sa->s_family) {
	case NNG_AF_INET:
		inet_ntop(AF_INET, &sa->s_in.sa_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sa->s_in.sa_port));
		break;
	case NNG_AF_INET6:
		inet_ntop(AF_INET6, sa->s_in6.sa_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sa->s_in6.sa_port));
		break;
	case NNG_AF_IPC:
		snprintf(buf, len, "%s", sa->s_ipc.sa_path);
		break;
	default:
		snprintf(buf, len, "a peer");
	}
	return buf;
}

const char *br_peer(nng_pipe p, char *buf, size_t len)
{
	nng_sockaddr sa;
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return snprintf(buf, len, "a peer"), buf;
	return addr_str(&sa, buf, len);
}

void br_drop(nng_pipe p, const char *why)
{
	char peer[128];
	br_log("%s: %s: disconnecting it", br_peer(p, peer, sizeof(peer)), why);
	nng_pipe_close(p);
}

int br_send_frame(nng_socket s, const void *buf, size_t len)
{
	nng_msg *m;
	int r = nng_msg_alloc(&m, len);
	if (r)
		return r;
	memcpy(nng_msg_body(m), buf, len);
	r = nng_sendmsg(s, m, 0);
	if (r)
		nng_msg_free(m);
	return r;
}

/* ---- URLs ------------------------------------------------------------------ */

/* The host of a tcp-like URL, into @buf: "" for a wildcard. 0, or -EINVAL
 * for a URL that is not tcp://, tls+tcp:// or ipc:// (1 for ipc). */
static int url_host(const char *url, char *buf, size_t len)
{
	static const char *const tcp[] = { "tcp://", "tcp4://", "tcp6://", "tls+tcp://",
					   "tls+tcp4://", "tls+tcp6://" };
	if (!strncmp(url, "ipc://", 6))
		return 1;
	for (size_t i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++) {
		size_t n = strlen(tcp[i]);
		if (strncmp(url, tcp[i], n))
			continue;
		const char *h = url + n, *colon = strrchr(h, ':');
		if (!colon || (size_t)(colon - h) >= len)
			return -EINVAL;
		if (*h == '[' && colon > h && colon[-1] == ']')
			h++, colon--;
		snprintf(buf, len, "%.*s", (int)(colon - h), h);
		return 0;
	}
	return -EINVAL;
}

static bool loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (!strcmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* A listener only on loopback, unless --listen-any. */
static int check_url(const char *url, bool listen, const struct br_opts *o)
{
	char host[256];
	int r = url_host(url, host, sizeof(host));
	if (r < 0)
		return cli_failf("bridge", "'%s': not a URL the bridge takes (tcp://HOST:PORT, "
				 "tls+tcp://HOST:PORT, ipc:///PATH)", url);
	if (!listen || r == 1 || o->listen_any || loopback(host))
		return 0;
	return cli_failf("bridge", "'%s': refusing to listen beyond loopback: anyone who "
			 "reaches the port can write into the channel (--listen-any to do it "
			 "anyway, with TLS: tls+tcp://)", url);
}

/* ---- TLS ------------------------------------------------------------------- */

static int tls_fail(const char *what, int r)
{
	return cli_failf("bridge", "TLS: %s: %s", what, nng_strerror(r));
}

/* A PEM file's text, NUL-terminated (malloc'd), or NULL having said why. */
static char *pem(const char *path)
{
	char *t = NULL;
	size_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = fd < 0 ? -errno : cli_read_all(fd, &t, &n);
	if (fd >= 0)
		close(fd);
	char *z = r == 0 ? realloc(t, n + 1) : NULL;
	if (!z) {
		free(t);
		cli_fail("bridge: TLS", path, r ? r : -ENOMEM);
		return NULL;
	}
	z[n] = '\0';
	return z;
}

/* This side's certificate and key: one file holding both, or two. */
static int own_cert(nng_tls_config *cfg, const char *cert, const char *key)
{
	char *c = pem(cert), *k = c ? pem(key ? key : cert) : NULL;
	int r = k ? nng_tls_config_own_cert(cfg, c, k, NULL) : -1;
	free(c);
	free(k);
	if (r > 0)
		return tls_fail("--tls-cert/--tls-key", r);
	return r ? EXIT_FAIL : 0;
}

static int tls_setup(nng_tls_config **cfg, bool listen, const struct br_opts *o)
{
	int r = nng_tls_config_alloc(cfg, listen ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
	if (r == NNG_ENOTSUP)
		return cli_failf("bridge", "tls+tcp:// is not available: this NNG library was "
				 "built without TLS (mbedTLS)");
	if (r)
		return tls_fail("setting up", r);
	if (listen && (!o->cert || !o->key))
		return cli_failf("bridge", "tls+tcp:// listening needs --tls-cert and --tls-key");
	if (o->cert && (r = own_cert(*cfg, o->cert, o->key)) != 0)
		return r;
	if (o->ca && (r = nng_tls_config_ca_file(*cfg, o->ca)) != 0)
		return tls_fail(o->ca, r);
	r = nng_tls_config_auth_mode(*cfg, o->ca ? NNG_TLS_AUTH_MODE_REQUIRED
						 : NNG_TLS_AUTH_MODE_NONE);
	if (r)
		return tls_fail("auth mode", r);
	if (!o->ca)
		br_log("TLS without --tls-ca: the peer's certificate is not checked");
	return 0;
}

/* ---- sockets ---------------------------------------------------------------- */

static int nng_fail(const char *what, const char *url, int r)
{
	return cli_failf("bridge", "%s '%s': %s", what, url, nng_strerror(r));
}

static int start(nng_socket s, const char *url, bool listen, nng_tls_config *tls)
{
	nng_listener l;
	nng_dialer d;
	int r = listen ? nng_listener_create(&l, s, url) : nng_dialer_create(&d, s, url);
	if (!r && tls)
		r = listen ? nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls)
			   : nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls);
	if (r)
		return nng_fail(listen ? "listen on" : "dial", url, r);
	if (!listen) {
		nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 50);
		nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 2000);
		r = nng_dialer_start(d, NNG_FLAG_NONBLOCK); /* re-dials with back-off */
		return r ? nng_fail("dial", url, r) : 0;
	}
	if ((r = nng_listener_start(l, 0)) != 0)
		return nng_fail("listen on", url, r);
	nng_sockaddr sa;
	char a[160];
	if (nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa) == 0)
		br_log("listening on %s%s", sa.s_family == NNG_AF_IPC ? "ipc://" :
			   !strncmp(url, "tls", 3) ? "tls+tcp://" : "tcp://", addr_str(&sa, a, sizeof(a)));
	return 0;
}

#define BR_CLOSE_S 2

struct closer {
	nng_socket s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, abandoned;
};

static void closer_free(struct closer *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void *close_thread(void *arg)
{
	struct closer *c = arg;
	nng_close(c->s);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	bool last = c->abandoned;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (last)
		closer_free(c);
	return NULL;
}

void br_keep_heap(void)
{
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

bool br_close(nng_socket s)
{
	if (nng_socket_id(s) <= 0)
		return true;
	struct closer *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;
	if (!c || pthread_condattr_init(&ca) != 0) {
		free(c);
		nng_close(s);
		return true;
	}
	c->s = s;
	/* The deadline is on the monotonic clock, or there is none. */
	bool mono = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_t a;
	pthread_t th;
	int r = -1;
	if (mono && pthread_attr_init(&a) == 0) {
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		r = pthread_create(&th, &a, close_thread, c);
		pthread_attr_destroy(&a);
	}
	if (r != 0) {
		closer_free(c);
		nng_close(s);
		return true;
	}
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += BR_CLOSE_S;
	pthread_mutex_lock(&c->mu);
	while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
		;
	bool done = c->done;
	c->abandoned = !done;
	pthread_mutex_unlock(&c->mu);
	if (done) {
		closer_free(c); /* the thread is past its last use of it */
		return true;
	}
	br_log("the connection did not close within %d s; leaving it to the kernel", BR_CLOSE_S);
	return false;
}

int br_open(nng_socket *s, const char *url, bool listen, const struct br_opts *o,
	    size_t max_frame, nng_pipe_cb ev, void *arg)
{
	nng_tls_config *tls = NULL;
	int r = check_url(url, listen, o);
	if (r)
		return r;
	if (!strncmp(url, "tls+", 4) && (r = tls_setup(&tls, listen, o)) != 0)
		return r;
	if ((r = nng_pair0_open(s)) != 0)
		return cli_failf("bridge", "socket: %s", nng_strerror(r));
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, max_frame);
	/* No socket send queue (NNG's default): frames queued for a pipe that
	 * closed would go out first on the next one, ahead of its HELLO, and
	 * the receiver drops a connection that sends DATA without HELLO. */
	nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, BR_SLICE_MS);
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, BR_SLICE_MS);
	if (ev) {
		nng_pipe_notify(*s, NNG_PIPE_EV_ADD_POST, ev, arg);
		nng_pipe_notify(*s, NNG_PIPE_EV_REM_POST, ev, arg);
	}
	r = start(*s, url, listen, tls);
	if (tls)
		nng_tls_config_free(tls); /* the endpoint holds its own reference */
	if (r) {
		br_close(*s);
		*s = (nng_socket)NNG_SOCKET_INITIALIZER; /* closed: the caller's close is a no-op */
	}
	return r;
}

void br_stats_tick(struct br_stats *st, bool on)
{
	int64_t now = br_now();
	if (!on || (st->last_ns && now - (int64_t)st->last_ns < 1000000000))
		return;
	if (st->last_ns) {
		double dt = (double)(now - (int64_t)st->last_ns) / 1e9;
		br_log("%.0f msg/s, %.1f MB/s, lag %llu, reconnects %llu, lost %llu, total %llu",
		       (double)(st->msgs - st->last_msgs) / dt,
		       (double)(st->bytes - st->last_bytes) / dt / 1e6,
		       (unsigned long long)st->lag, (unsigned long long)st->reconnects,
		       (unsigned long long)st->lost, (unsigned long long)st->msgs);
	}
	st->last_msgs = st->msgs;
	st->last_bytes = st->bytes;
	st->last_ns = (uint64_t)now;
}

/* ---- the command ------------------------------------------------------------ */

static const struct cli_optdoc send_opts[] = {
	{ CLI_O_STATS, NULL },
	{ CLI_O_WINDOW, NULL },
	{ CLI_O_TLS_CERT, NULL },
	{ CLI_O_TLS_KEY, NULL },
	{ CLI_O_TLS_CA, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_optdoc recv_opts[] = {
	{ CLI_O_CREATE, "create NAME like the sender's: a channel (its\n"
			"mode, producer slots) or a topic (its policy,\n"
			"history, subscriber slots), its ring size and\n"
			"largest message" },
	{ CLI_O_LISTEN_ANY, NULL },
	{ CLI_O_STATS, NULL },
	{ CLI_O_TLS_CERT, NULL },
	{ CLI_O_TLS_KEY, NULL },
	{ CLI_O_TLS_CA, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd send_cmd = {
	"bridge send", "NAME URL [--stats] [--window SIZE] [--tls-...]",
	"Take every message out of the local channel NAME (or subscribe to the topic\n"
	"NAME) and forward it, in order, to the `pshm bridge recv` listening at URL\n"
	"(tcp://HOST:PORT,\n"
	"tls+tcp://HOST:PORT, ipc:///PATH). Dials, and re-dials with back-off while\n"
	"the other side is away. Messages are released from the window only once\n"
	"the other side has written them; after a restart of either end nothing is\n"
	"duplicated, and what cannot be delivered is counted as lost on both sides.\n"
	"For a service NAME, serve its calls with the other side's servers (at most\n"
	"once: a call cut off by a closed connection fails). See pshm(1).\n"
	"Runs until SIGINT or SIGTERM.\n",
	send_opts, true, 2, 2, 0, "channel name and URL",
};

static const struct cli_cmd recv_cmd = {
	"bridge recv", "URL NAME [--create] [--listen-any] [--stats] [--tls-...]",
	"Listen on URL for a `pshm bridge send` and write every message it forwards\n"
	"into the local channel (or topic) NAME, waiting while it is full (the\n"
	"sender slows down; nothing is dropped). Listens on loopback only unless\n"
	"--listen-any is given: without TLS, anyone who reaches the port can write\n"
	"into the channel. Keeps its resume point in the box NAME.bridge.\n"
	"Runs until SIGINT or SIGTERM.\n",
	recv_opts, true, 2, 2, 0, "URL and channel name",
};

static int bridge_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct br_opts *o = ctx;
	switch (id) {
	case CLI_O_STATS: o->stats = true; return 0;
	case CLI_O_LISTEN_ANY: o->listen_any = true; return 0;
	case CLI_O_CREATE: o->create = true; return 0;
	case CLI_O_TLS_CERT: o->cert = arg; return 0;
	case CLI_O_TLS_KEY: o->key = arg; return 0;
	case CLI_O_TLS_CA: o->ca = arg; return 0;
	case CLI_O_WINDOW:
		return cli_opt_number(&send_cmd, id, arg, 64 << 10, (uint64_t)1 << 40, &o->window);
	default: return 0;
	}
}

static int run(bool send, int argc, char **argv)
{
	struct br_opts o = { .window = BR_WINDOW_DEFAULT };
	struct cli_args a;
	int r = cli_options(send ? &send_cmd : &recv_cmd, argc, argv, bridge_opt, &o, &a);
	if (r >= 0)
		return r;
	o.flags = a.flags;
	br_side = send ? "send" : "recv";
	cli_catch_stop();
	struct pshm_stat st;
	const char *name = send ? a.v[0] : a.v[1];
	if (pshm_seg_stat(name, &st) == 0 && st.kind == PSHM_KIND_SERVICE)
		return send ? br_call_send(a.v[0], a.v[1], &o) : br_call_recv(a.v[0], a.v[1], &o);
	return send ? br_send(a.v[0], a.v[1], &o) : br_recv(a.v[0], a.v[1], &o);
}

static void bridge_usage(FILE *f)
{
	fprintf(f, "usage: pshm bridge send NAME URL [options]\n"
		   "       pshm bridge recv URL NAME [options]\n\n"
		   "Carry a channel or topic between machines over NNG. 'pshm bridge send\n"
		   "--help' and 'pshm bridge recv --help' describe each end. See pshm(1).\n");
}

static int bridge_send(int argc, char **argv)
{
	return run(true, argc, argv);
}

static int bridge_recv(int argc, char **argv)
{
	return run(false, argc, argv);
}

int cmd_bridge(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "send", bridge_send },
		{ "recv", bridge_recv },
		{ NULL, NULL },
	};
	return cli_verbs("bridge", argc, argv, verbs, bridge_usage);
}

#endif
