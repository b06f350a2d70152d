/* SPDX-License-Identifier: MIT */
/*
 * service.h — services: request/response in one segment. Private to
 * service.c (create, attach, close, stat), service_client.c (send, collect,
 * call, cancel) and service_server.c (receive, reply).
 *
 * Layout (little-endian, 64-byte lines; pshm(7), SERVICES, tells it too):
 *   header   2 lines: constants (written once by the creator), then the
 *            request futex word, the count of sleeping servers, counters
 *   ready    2 lines: one bit per client slot, set by a client that posted
 *   servers  max_servers lines: the owner word of each server slot
 *   clients  max_clients slots: a line (owner word, reply futex word,
 *            "may sleep" flag) then max_inflight 64-bit cell state words,
 *            rounded up to a line
 *   cells    max_clients * max_inflight cells: a line (request length,
 *            reply length, reply is an error), the request area
 *            (max_request rounded up to 64), the reply area (max_reply, the same)
 *
 * A cell belongs to its client slot; its state word says who may touch it:
 *   FREE              the client may write a request
 *   REQ|seq           posted, waiting for a server
 *   TAKEN|k|g|seq     server slot k, generation g, holds it: only it may
 *                     write the reply area
 *   REPLIED|seq       answered: the client reads the reply, then FREE
 *   CANCELLED|k|g|seq the client gave up while server (k, g) holds it; that
 *                     server frees it when it answers (the reply is
 *                     dropped and counted), or anyone once (k, g) is dead
 * Every transition out of REQ, TAKEN and CANCELLED is a CAS on the whole
 * word, so of a server answering and a client giving up exactly one wins,
 * and a reply can only land in the request it was for (seq), never in a
 * later one. The data is written before the state word that publishes it
 * (release), and read after the state word (acquire).
 *
 * Liveness: each slot has a liveness lock (live.c): server k on role byte
 * k, client i on role byte PSHM_SERVICE_MAX_SERVERS + i. A server's owner
 * word carries a generation that grows with every claim, so a cell taken
 * by a dead server whose slot was reused is still known to be orphaned.
 * A handle opens the file with pshm_seg_open(), which holds the presence
 * lock that `pshm gc` relies on.
 *
 * Waiting: servers sleep on req_seq (a counter a client bumps after
 * posting; it wakes one server if srv_sleep says one may sleep); a client
 * sleeps on its slot's rep_seq, bumped by a server after answering. Every
 * sleep is cut into CHECK_NS slices, at the end of which peers are checked.
 *
 * Everything read from the segment is untrusted: constants are read once
 * and checked at attach, lengths and indices at each use, loops bounded.
 */
#ifndef PSHM_SERVICE_H
#define PSHM_SERVICE_H

#include <limits.h>
#include <stdint.h>

#include "guard.h"
#include "shared.h"

#define SVC_VERSION 1u
#define SVC_CHECK_NS INT64_C(20000000) /* peers are checked every 20 ms of waiting */
#define SVC_DEFAULT_MSG 4096u
#define SVC_DEFAULT_CLIENTS 64u
#define SVC_DEFAULT_SERVERS 8u
#define SVC_DEFAULT_INFLIGHT 16u
#define SVC_READY_WORDS (PSHM_SERVICE_MAX_CLIENTS / 64)

struct svc_hdr {
	/* line 0: written once, before the name appears */
	uint64_t magic;
	uint32_t version;
	uint32_t reserved1;
	uint64_t total_size;
	uint32_t max_req, max_rep;
	uint32_t max_clients, max_servers;
	uint32_t max_inflight, reserved0;
	uint8_t pad0[16];
	/* line 1: shared words */
	uint32_t req_seq;   /* futex: bumped by each post */
	uint32_t srv_sleep; /* servers that may be asleep on req_seq */
	uint64_t srv_attaches, cli_attaches;
	uint64_t late_dropped;
	uint64_t requests; /* taken by servers since creation */
	uint8_t pad1[24];
};

struct svc_sslot {
	uint64_t owner; /* pid | state << 32 | generation << 40; state 0: free */
	uint8_t pad[56];
};

struct svc_cslot {
	uint64_t owner;
	uint32_t rep_seq; /* futex: bumped by each answer */
	uint32_t waiting; /* 1 while the client may sleep */
	uint8_t pad[48];
	/* followed by max_inflight state words, rounded up to a line */
};

struct svc_cell {
	uint32_t req_len, rep_len;
	uint32_t rep_err; /* 1: the reply is an error message */
	uint8_t pad[52];
	/* followed by the request area, then the reply area */
};

_Static_assert(sizeof(struct svc_hdr) == 2 * LINE, "header is two lines");
_Static_assert(sizeof(struct svc_sslot) == LINE, "a server slot is a line");
_Static_assert(sizeof(struct svc_cslot) == LINE, "a client slot starts with a line");
_Static_assert(sizeof(struct svc_cell) == LINE, "a cell starts with a line");

/* Cell state words. */
enum { C_FREE = 0, C_REQ = 1, C_TAKEN = 2, C_REPLIED = 3, C_CANCELLED = 4 };
#define C_GEN_MASK 0xfffffu

static inline unsigned cell_state(uint64_t w) { return (unsigned)w & 0xf; }
static inline unsigned cell_server(uint64_t w) { return (unsigned)(w >> 4) & 0xff; }
static inline uint32_t cell_gen(uint64_t w) { return (uint32_t)(w >> 12) & C_GEN_MASK; }
static inline uint32_t cell_seq(uint64_t w) { return (uint32_t)(w >> 32); }

static inline uint64_t cell_make(unsigned state, unsigned server, uint32_t gen, uint32_t seq)
{
	return state | (uint64_t)(server & 0xff) << 4 | (uint64_t)(gen & C_GEN_MASK) << 12 |
	       (uint64_t)seq << 32;
}

/* Request ids: client slot, cell, sequence number (never 0). */
static inline uint64_t id_make(unsigned slot, unsigned cell, uint32_t seq)
{
	return (uint64_t)slot << 48 | (uint64_t)cell << 32 | seq;
}
static inline unsigned id_slot(uint64_t id) { return (unsigned)(id >> 48); }
static inline unsigned id_cell(uint64_t id) { return (unsigned)(id >> 32) & 0xffff; }
static inline uint32_t id_seq(uint64_t id) { return (uint32_t)id; }


/* The geometry, from the constants (checked). */
struct svc_geom {
	uint64_t max_req, max_rep;
	unsigned clients, servers, inflight;
	uint64_t cslot_size, cell_size, req_area, rep_area;
	uint64_t ready_off, sslot_off, cslot_off, cell_off, total;
};

struct pshm_service {
	pshm_seg *seg; /* NULL for pshm__service_attach_mem() */
	unsigned char *base;
	size_t size;
	struct svc_hdr *h;
	struct svc_geom g;
	unsigned role, slot;
	uint32_t gen;   /* a server's generation in its slot */
	bool detached;  /* no liveness locks: every peer counts as gone */
	int lock_fd;
	uint64_t spin_ns;
	int64_t touched_sec;
	/* client */
	uint32_t next_seq;
	uint64_t inflight;                     /* bit c: cell c holds one of ours */
	uint32_t seqs[PSHM_SERVICE_MAX_INFLIGHT]; /* its sequence number */
	/* server */
	unsigned cursor; /* the client slot to look at first */
};

/* Run expr under the SIGBUS guard over the whole mapping. */
#define SVC_GUARDED(ret, s, expr) PSHM__GUARDED(ret, (s)->base, (s)->size, expr)

static inline uint64_t *ready_words(const pshm_service *s)
{
	return (uint64_t *)(s->base + s->g.ready_off);
}
static inline struct svc_sslot *sslot_at(const pshm_service *s, unsigned k)
{
	return (struct svc_sslot *)(s->base + s->g.sslot_off) + k;
}
static inline struct svc_cslot *cslot_at(const pshm_service *s, unsigned i)
{
	return (struct svc_cslot *)(s->base + s->g.cslot_off + (uint64_t)i * s->g.cslot_size);
}
static inline uint64_t *state_at(const pshm_service *s, unsigned i, unsigned c)
{
	return (uint64_t *)(cslot_at(s, i) + 1) + c;
}
static inline struct svc_cell *cell_at(const pshm_service *s, unsigned i, unsigned c)
{
	uint64_t n = (uint64_t)i * s->g.inflight + c;
	return (struct svc_cell *)(s->base + s->g.cell_off + n * s->g.cell_size);
}
static inline unsigned char *req_area(const pshm_service *s, struct svc_cell *cell)
{
	(void)s;
	return (unsigned char *)(cell + 1);
}
static inline unsigned char *rep_area(const pshm_service *s, struct svc_cell *cell)
{
	return (unsigned char *)(cell + 1) + s->g.req_area;
}

/* The liveness lock byte of server slot @k and client slot @i. */
#define SVC_LOCK_SERVER(k) PSHM__LOCK_ROLE(k)
#define SVC_LOCK_CLIENT(i) PSHM__LOCK_ROLE(PSHM_SERVICE_MAX_SERVERS + (uint64_t)(i))

/* ---- service.c ---------------------------------------------------------- */

/* The geometry of the constants at [addr, addr + size): 0 or -EPROTO. */
int pshm__svc_geom_read(const void *addr, size_t size, struct svc_geom *g);
/* Is server (@k, generation @gen) alive? Never for a detached handle. */
bool pshm__svc_server_alive(const pshm_service *s, unsigned k, uint32_t gen);
/* Is any server alive? */
bool pshm__svc_any_server(const pshm_service *s);
/* Set the file's mtime at most once a second (as channels: pshm(7)). */
void pshm__svc_touch(pshm_service *s);
/* A bounded wait: spin until spin_end, then sleep until deadline. */
struct svc_waiter {
	int64_t timeout, deadline, spin_end;
};
void pshm__svc_wait_start(const pshm_service *s, struct svc_waiter *w, int64_t timeout_ns);
/* After a look that found nothing at @now: -EAGAIN (timeout 0),
 * -ETIMEDOUT, 1 to look again (spinning), 0 to sleep. */
int pshm__svc_wait_next(const struct svc_waiter *w, int64_t now);
/* Wait on @word while it holds @seen, until @deadline (ns, CLOCK_MONOTONIC)
 * or the next check, whichever comes first: 0, -EINTR. */
int pshm__svc_sleep(uint32_t *word, uint32_t seen, int64_t deadline);

/* ---- service_client.c ------------------------------------------------------ */

/* Make the cells of the slot just claimed ours: withdraw what the last
 * owner left, give up what a live server still holds. */
void pshm__svc_client_sweep(pshm_service *s);
/* Give up every request in flight (close). */
void pshm__svc_client_drop_all(pshm_service *s);

/* ---- memory (fuzzing) ------------------------------------------------------ */

/* A detached handle over a service laid out at [addr, addr + size): no
 * liveness locks, every peer counts as gone. pshm_service_close() frees
 * the handle and leaves the memory alone. */
int pshm__service_attach_mem(void *addr, size_t size, unsigned role, pshm_service **out);

#endif
