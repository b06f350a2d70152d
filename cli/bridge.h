/* SPDX-License-Identifier: MIT */
/*
 * bridge.h — shared by the files of `pshm bridge` (built only with NNG):
 *
 *   bridge.c        the command: options, URLs, sockets, TLS, logs, stats
 *   bridge_send.c   send: local channel -> network
 *   bridge_recv.c   recv: network -> local channel
 *   bridge_frame.c  the frames (no NNG: the fuzzer links it alone)
 */
#ifndef PSHM_CLI_BRIDGE_H
#define PSHM_CLI_BRIDGE_H

#include <nng/nng.h>

#include "bridge_frame.h"
#include "cli.h"

/* A DATA frame carries messages up to about this many bytes (one larger
 * message travels alone). */
#define BR_BATCH ((size_t)256 << 10)
/* The sender keeps at most this many bytes unacknowledged (--window). */
#define BR_WINDOW_DEFAULT ((uint64_t)32 << 20)
/* Frames a receiver accepts before it knows its channel (--create). */
#define BR_FRAME_MAX_UNKNOWN ((size_t)64 << 20)
/* Wait slices: how soon a stop signal, a reconnection or a due ACK is seen. */
#define BR_SLICE_MS 20
#define BR_NS_PER_MS INT64_C(1000000)

struct br_opts {
	bool stats;
	bool listen_any;
	bool create;
	const char *cert, *key, *ca;
	uint64_t window;
	unsigned flags; /* PSHM_ALLOW_* */
};

/* Counters, for --stats and the last line. */
struct br_stats {
	uint64_t msgs, bytes;   /* carried: sent (send) or written (recv) */
	uint64_t lost;          /* counted lost after a restart */
	uint64_t reconnects;
	uint64_t lag;           /* send: unacknowledged; recv: queued locally */
	uint64_t last_msgs, last_bytes, last_ns;
};

/* The command's side, for messages: "send" or "recv". */
extern const char *br_side;

/* "pshm bridge SIDE: <message>" on stderr. */
void br_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A pair0 socket for @url, listening (recv) or dialing with re-dial
 * back-off (send), TLS set up for tls+tcp://; frames up to @max_frame are
 * received. @ev (may be NULL) is called by NNG on each connection and
 * disconnection. Returns 0 or an exit status, having said why. */
int br_open(nng_socket *s, const char *url, bool listen, const struct br_opts *o,
	    size_t max_frame, nng_pipe_cb ev, void *arg);
/* Send a frame of @len bytes (copied); waits at most BR_SLICE_MS.
 * 0 or an NNG error. */
int br_send_frame(nng_socket s, const void *buf, size_t len);
/* Close @p after saying why (a frame that breaks the rules). */
void br_drop(nng_pipe p, const char *why);
/* The peer's address for messages ("127.0.0.1:4242"). */
const char *br_peer(nng_pipe p, char *buf, size_t len);
/* Monotonic nanoseconds. */
int64_t br_now(void);
/* Once a second with --stats: a progress line. */
void br_stats_tick(struct br_stats *st, bool on);

int br_send(const char *name, const char *url, const struct br_opts *o);
int br_recv(const char *url, const char *name, const struct br_opts *o);

#endif
