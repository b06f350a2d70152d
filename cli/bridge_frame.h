/* SPDX-License-Identifier: MIT */
/*
 * bridge_frame.h — the frames `pshm bridge` exchanges over NNG: encoders
 * and a decoder that trusts nothing (the format is described at the top of
 * bridge_frame.c and in pshm(1)). Plain C, no NNG: the fuzzer links it.
 */
#ifndef PSHM_BRIDGE_FRAME_H
#define PSHM_BRIDGE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define BF_MAGIC 0x31425350u /* "PSB1", little-endian */
#define BF_HDR 8             /* magic, type, flags, reserved */
#define BF_REC_HDR 4         /* a DATA record's length word */
#define BF_TEXT_MAX 200      /* an ERROR frame's text */

enum bf_type {
	BF_HELLO = 1,   /* sender -> receiver: who, where to resume, geometry */
	BF_WELCOME = 2, /* receiver -> sender: the resume point, what was lost */
	BF_DATA = 3,    /* sender -> receiver: consecutive messages */
	BF_ACK = 4,     /* receiver -> sender: written up to this seq */
	BF_ERROR = 5,   /* either way: why the session ends */
	BF_REQ = 6,     /* service: sender -> receiver: a request */
	BF_REP = 7,     /* service: receiver -> sender: its outcome */
};

/* Sizes of the fixed frames. */
#define BF_HELLO_LEN (BF_HDR + 48)
#define BF_WELCOME_LEN (BF_HDR + 32)
#define BF_DATA_HDR (BF_HDR + 16)
#define BF_ACK_LEN (BF_HDR + 8)
#define BF_REQ_HDR (BF_HDR + 8)
#define BF_REP_HDR (BF_HDR + 16)

struct bf_hello {
	uint64_t stream;    /* identity of the source channel */
	uint64_t next_seq;  /* the first seq the sender still holds */
	uint64_t ring_size; /* the source channel's geometry, for --create */
	uint64_t max_msg;
	uint32_t mode;      /* enum pshm_chan_mode, or BR_MODE_TOPIC | policy */
	uint32_t nonce;     /* echoed by WELCOME */
	uint32_t history;   /* a topic's history (0 for a channel) */
	uint32_t peers;     /* a channel's max producers, a topic's max
			     * subscribers (0: the default) */
};

struct bf_welcome {
	uint64_t written;   /* highest seq written into the receiver's channel */
	uint64_t lost;      /* messages counted lost at this HELLO */
	uint64_t max_msg;   /* the largest message the receiver's channel takes */
	uint32_t nonce;     /* the HELLO's */
	uint32_t reserved;
};

/* A decoded frame: fields of its type, and for DATA where the records are
 * (already checked: count records, each within max_msg, no bytes left). */
struct bf_frame {
	unsigned type;
	union {
		struct bf_hello hello;
		struct bf_welcome welcome;
		uint64_t ack;
		struct {
			uint64_t first; /* seq of the first record */
			uint32_t count;
			const unsigned char *recs;
			size_t recs_len;
		} data;
		struct {
			uint32_t code; /* an errno value */
			char text[BF_TEXT_MAX + 1];
		} error;
		struct {
			uint64_t id;     /* the sender's name for the request */
			uint32_t status; /* REP: 0, or the errno of the failure */
			const unsigned char *body;
			size_t len;      /* at most max_msg */
		} call; /* REQ and REP */
	} u;
};

/* Decode @len bytes at @buf. DATA records, requests and replies longer
 * than @max_msg are refused. Returns 0, or -EBADMSG / -EMSGSIZE / -EPROTO with a short
 * reason in *@why (a static string). */
int bf_decode(const void *buf, size_t len, uint64_t max_msg, struct bf_frame *f,
	      const char **why);

/* The DATA records of a decoded frame, in order: a cursor. */
struct bf_iter {
	const unsigned char *p, *end;
};
void bf_iter_init(struct bf_iter *it, const struct bf_frame *f);
/* The next record: 1 with *@msg and *@len set, 0 at the end. */
int bf_iter_next(struct bf_iter *it, const void **msg, size_t *len);

/* Encoders: write the frame into @buf (at least the frame's size) and
 * return its length. */
size_t bf_put_hello(void *buf, const struct bf_hello *h);
size_t bf_put_welcome(void *buf, const struct bf_welcome *w);
size_t bf_put_ack(void *buf, uint64_t written);
/* An ERROR frame: @buf holds at least BF_HDR + 4 + BF_TEXT_MAX bytes. */
size_t bf_put_error(void *buf, uint32_t code, const char *text);
/* REQ and REP: the header (BF_REQ_HDR or BF_REP_HDR bytes); the request
 * or reply (or, for a failure, the text saying why) follows it. */
size_t bf_put_req_hdr(void *buf, uint64_t id);
size_t bf_put_rep_hdr(void *buf, uint64_t id, uint32_t status);
/* DATA: the header (BF_DATA_HDR bytes) for @count records from @first;
 * each record is bf_put_rec()'s length word and then the message. */
size_t bf_put_data_hdr(void *buf, uint64_t first, uint32_t count);
void bf_put_rec(void *buf, uint32_t len);

#endif
