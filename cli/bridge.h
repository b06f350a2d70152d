/* SPDX-License-Identifier: MIT */
/*
 * bridge.h — shared by the files of `pshm bridge` (built only with NNG):
 *
 *   bridge.c        the command: options, URLs, sockets, TLS, logs, stats
 *   bridge_send.c   send: local channel -> network
 *   bridge_recv.c   recv: network -> local channel
 *   bridge_call.c   send and recv for a service: calls across machines
 *   bridge_end.c    the local end: a channel or a topic
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

/* HELLO's mode for a topic: this bit, and the topic's policy in bit 0
 * (a channel's mode is enum pshm_chan_mode). */
#define BR_MODE_TOPIC 0x100u
/* HELLO's mode for a service (bridge_call.c): max_msg is the largest
 * request, ring_size the largest reply of the sender's service. */
#define BR_MODE_SERVICE 0x200u

/* A local end (bridge_end.c): a channel or a topic. */
struct br_end {
	bool topic;
	pshm_chan *ch;
	pshm_topic *t;
	const char *name;
};
/* Attach as the consumer of a channel or a subscriber of a topic; the
 * sequence number of the next message in *@next_seq. 0 or -errno. */
int br_end_source(struct br_end *e, const char *name, unsigned flags, uint64_t *next_seq);
/* Peek at the next message; a topic's number in *@seq (a channel's is the
 * caller's count, left as it is). */
ssize_t br_end_peek(struct br_end *e, const void **p, int64_t timeout_ns, uint64_t *seq);
/* 0, or -ESTALE: a lossy topic overwrote the message while it was read. */
int br_end_release(struct br_end *e);
size_t br_end_max_msg(const struct br_end *e);
/* The end's geometry (ring, max message, mode, a topic's history, the
 * peers it takes) into the HELLO @h, for the other side's --create. */
void br_end_geometry(const struct br_end *e, struct bf_hello *h);
/* Attach as the producer of a channel or the publisher of a topic; with
 * @h (a HELLO, when --create), a missing one is made like the sender's. */
int br_end_sink(struct br_end *e, const char *name, unsigned flags, const struct bf_hello *h);
int br_end_put(struct br_end *e, const void *msg, size_t len, int64_t timeout_ns);
/* The messages ever written into a sink, exactly. 0 or -errno. */
int br_end_count(struct br_end *e, uint64_t *out);
/* Messages written but not yet read on this side (for --stats). */
uint64_t br_end_pending(struct br_end *e);
void br_end_close(struct br_end *e);

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
/* nng_close(@s), given BR_CLOSE_S seconds: NNG 1.5's close can wait for
 * ever on a connection blocked mid-frame (a peer that stopped reading, or
 * cut it), and a bridge told to stop must stop. False when it gave up
 * (said so): NNG may then still call the pipe callback, so the caller
 * must not free its argument; the process is about to exit, and the
 * kernel closes the rest. A socket never opened is a no-op (true). */
bool br_close(nng_socket s);
/* Send a frame of @len bytes (copied); waits at most BR_SLICE_MS.
 * 0 or an NNG error. */
int br_send_frame(nng_socket s, const void *buf, size_t len);
/* Close @p after saying why (a frame that breaks the rules). */
void br_drop(nng_pipe p, const char *why);
/* The peer's address for messages ("127.0.0.1:4242"). */
const char *br_peer(nng_pipe p, char *buf, size_t len);
/* Large messages (a batch, an NNG frame) come from the heap and their
 * pages stay there when freed: mmap'd or trimmed, every 1 MiB frame cost
 * 256 page faults (most of the sender's time in a profile). */
void br_keep_heap(void);
/* Monotonic nanoseconds. */
int64_t br_now(void);
/* Once a second with --stats: a progress line. */
void br_stats_tick(struct br_stats *st, bool on);

int br_send(const char *name, const char *url, const struct br_opts *o);
int br_recv(const char *url, const char *name, const struct br_opts *o);
/* The same for a service (bridge_call.c). */
int br_call_send(const char *name, const char *url, const struct br_opts *o);
int br_call_recv(const char *url, const char *name, const struct br_opts *o);

#endif
