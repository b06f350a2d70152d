/* SPDX-License-Identifier: MIT */
/*
 * bridge_frame.c — the frames of `pshm bridge`, one per NNG message (pair0
 * socket: the sender dials, the receiver listens). All integers are
 * little-endian; every frame starts with an 8-byte header:
 *
 *   0  u32 magic "PSB1" (0x31425350)   4  u8 type   5  u8 flags (0)
 *   6  u16 reserved (0)
 *
 *   HELLO   (1, sender -> receiver, 56 bytes): u64 stream (identity of the
 *           source), u64 next_seq (the first message the sender still
 *           holds), u64 ring_size, u64 max_msg, u32 mode (the source's
 *           geometry, for --create: a channel's mode, or 0x100 + a topic's
 *           policy), u32 nonce, u32 history (a topic's), u32 peers (a
 *           channel's producer slots, a topic's subscriber slots; 0: the
 *           default). The geometry is checked where it is used.
 *   WELCOME (2, receiver -> sender, 40 bytes): u64 written (the highest seq
 *           in the receiver's channel: the sender resumes after it), u64
 *           lost (messages between the last written and next_seq, which
 *           nobody holds any more), u64 max_msg (the receiver's channel),
 *           u32 nonce (the HELLO's), u32 reserved (0).
 *   DATA    (3, sender -> receiver): u64 first (seq of the first record),
 *           u32 count (>= 1), u32 reserved (0), then count records: u32 len,
 *           len bytes (no padding). Nothing may follow the last record.
 *   ACK     (4, receiver -> sender, 16 bytes): u64 written.
 *   ERROR   (5, either way): u32 code (an errno value), then up to 200
 *           bytes of text saying why; the session ends.
 *   REQ     (6, sender -> receiver, services): u64 id (the sender's name
 *           for the request), then the request (at most the largest the
 *           receiver takes).
 *   REP     (7, receiver -> sender, services): u64 id (the REQ's), u32
 *           status (0, or the errno of the failure: then the body is the
 *           text saying why), u32 reserved (0), then the reply.
 *
 * Sequence numbers count the messages taken out of the source channel
 * since it was created (its consumer's count), or are the source topic's
 * message numbers, so a restarted sender resumes numbering where the last
 * one stopped. Only a topic's DATA may jump ahead (messages it missed). A frame that breaks any
 * rule above is refused as a whole, before any of it is used.
 */
#include <errno.h>
#include <string.h>

#include "bridge_frame.h"

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static size_t put_hdr(unsigned char *p, unsigned type)
{
	put32(p, BF_MAGIC);
	p[4] = (unsigned char)type;
	p[5] = 0;
	p[6] = p[7] = 0;
	return BF_HDR;
}

static int fail(const char **why, const char *reason, int err)
{
	*why = reason;
	return err;
}

/* The records of a DATA frame: exactly @count, each within @max_msg. */
static int check_recs(const unsigned char *p, size_t len, uint32_t count, uint64_t max_msg,
		      const char **why)
{
	for (uint32_t i = 0; i < count; i++) {
		if (len < BF_REC_HDR)
			return fail(why, "DATA frame shorter than its record count", -EBADMSG);
		uint64_t n = get32(p);
		if (n > max_msg)
			return fail(why, "message larger than the channel's largest", -EMSGSIZE);
		if (n > len - BF_REC_HDR)
			return fail(why, "DATA record runs past the end of the frame", -EBADMSG);
		p += BF_REC_HDR + n;
		len -= BF_REC_HDR + n;
	}
	return len ? fail(why, "bytes after the last DATA record", -EBADMSG) : 0;
}

static int decode_data(const unsigned char *p, size_t len, uint64_t max_msg,
		       struct bf_frame *f, const char **why)
{
	if (len < BF_DATA_HDR)
		return fail(why, "short DATA frame", -EBADMSG);
	f->u.data.first = get64(p + BF_HDR);
	f->u.data.count = get32(p + BF_HDR + 8);
	if (f->u.data.count == 0 || get32(p + BF_HDR + 12))
		return fail(why, "DATA frame with no records or nonzero reserved bytes", -EBADMSG);
	if (f->u.data.first == 0 || f->u.data.first + f->u.data.count < f->u.data.first)
		return fail(why, "DATA sequence numbers out of range", -EBADMSG);
	f->u.data.recs = p + BF_DATA_HDR;
	f->u.data.recs_len = len - BF_DATA_HDR;
	return check_recs(f->u.data.recs, f->u.data.recs_len, f->u.data.count, max_msg, why);
}

static int decode_fixed(const unsigned char *p, size_t len, struct bf_frame *f,
			const char **why)
{
	static const size_t want[] = { [BF_HELLO] = BF_HELLO_LEN, [BF_WELCOME] = BF_WELCOME_LEN,
				       [BF_ACK] = BF_ACK_LEN };
	if (len != want[f->type])
		return fail(why, "frame of the wrong length for its type", -EBADMSG);
	const unsigned char *b = p + BF_HDR;
	if (f->type == BF_ACK) {
		f->u.ack = get64(b);
		return 0;
	}
	if (f->type == BF_WELCOME) {
		f->u.welcome = (struct bf_welcome){ get64(b), get64(b + 8), get64(b + 16),
						    get32(b + 24), get32(b + 28) };
		return f->u.welcome.reserved ? fail(why, "nonzero reserved bytes", -EBADMSG) : 0;
	}
	f->u.hello = (struct bf_hello){ get64(b), get64(b + 8), get64(b + 16), get64(b + 24),
					get32(b + 32), get32(b + 36), get32(b + 40), get32(b + 44) };
	/* The geometry is checked where it is used (creating the sink): a
	 * bad one is refused with an ERROR frame, not a dropped connection. */
	if (f->u.hello.next_seq == 0)
		return fail(why, "HELLO with a zero sequence number", -EBADMSG);
	return 0;
}

static int decode_error(const unsigned char *p, size_t len, struct bf_frame *f,
			const char **why)
{
	if (len < BF_HDR + 4 || len > BF_HDR + 4 + BF_TEXT_MAX)
		return fail(why, "ERROR frame of a bad length", -EBADMSG);
	f->u.error.code = get32(p + BF_HDR);
	size_t n = len - BF_HDR - 4;
	memcpy(f->u.error.text, p + BF_HDR + 4, n);
	f->u.error.text[n] = '\0';
	return 0;
}

static int decode_call(const unsigned char *p, size_t len, uint64_t max_msg,
		       struct bf_frame *f, const char **why)
{
	size_t hdr = f->type == BF_REQ ? BF_REQ_HDR : BF_REP_HDR;
	if (len < hdr)
		return fail(why, "short REQ or REP frame", -EBADMSG);
	f->u.call.id = get64(p + BF_HDR);
	if (f->type == BF_REP) {
		f->u.call.status = get32(p + BF_HDR + 8);
		if (get32(p + BF_HDR + 12))
			return fail(why, "nonzero reserved bytes", -EBADMSG);
	}
	f->u.call.body = p + hdr;
	f->u.call.len = len - hdr;
	if (f->u.call.len > max_msg)
		return fail(why, "request or reply larger than the service takes", -EMSGSIZE);
	return 0;
}

int bf_decode(const void *buf, size_t len, uint64_t max_msg, struct bf_frame *f,
	      const char **why)
{
	const unsigned char *p = buf;
	memset(f, 0, sizeof(*f));
	if (len < BF_HDR || get32(p) != BF_MAGIC)
		return fail(why, "not a pshm bridge frame (bad magic)", -EPROTO);
	if (p[5] || p[6] || p[7])
		return fail(why, "unknown flags", -EPROTO);
	f->type = p[4];
	switch (f->type) {
	case BF_HELLO:
	case BF_WELCOME:
	case BF_ACK:
		return decode_fixed(p, len, f, why);
	case BF_DATA:
		return decode_data(p, len, max_msg, f, why);
	case BF_ERROR:
		return decode_error(p, len, f, why);
	case BF_REQ:
	case BF_REP:
		return decode_call(p, len, max_msg, f, why);
	default:
		return fail(why, "unknown frame type", -EPROTO);
	}
}

void bf_iter_init(struct bf_iter *it, const struct bf_frame *f)
{
	it->p = f->u.data.recs;
	it->end = f->u.data.recs + f->u.data.recs_len;
}

/* Safe on a frame bf_decode() accepted: every length was checked. */
int bf_iter_next(struct bf_iter *it, const void **msg, size_t *len)
{
	if (it->end - it->p < BF_REC_HDR)
		return 0;
	*len = get32(it->p);
	*msg = it->p + BF_REC_HDR;
	it->p += BF_REC_HDR + *len;
	return 1;
}

size_t bf_put_hello(void *buf, const struct bf_hello *h)
{
	unsigned char *p = buf, *b = p + put_hdr(p, BF_HELLO);
	put64(b, h->stream);
	put64(b + 8, h->next_seq);
	put64(b + 16, h->ring_size);
	put64(b + 24, h->max_msg);
	put32(b + 32, h->mode);
	put32(b + 36, h->nonce);
	put32(b + 40, h->history);
	put32(b + 44, h->peers);
	return BF_HELLO_LEN;
}

size_t bf_put_welcome(void *buf, const struct bf_welcome *w)
{
	unsigned char *p = buf, *b = p + put_hdr(p, BF_WELCOME);
	put64(b, w->written);
	put64(b + 8, w->lost);
	put64(b + 16, w->max_msg);
	put32(b + 24, w->nonce);
	put32(b + 28, 0);
	return BF_WELCOME_LEN;
}

size_t bf_put_ack(void *buf, uint64_t written)
{
	unsigned char *p = buf;
	put64(p + put_hdr(p, BF_ACK), written);
	return BF_ACK_LEN;
}

size_t bf_put_error(void *buf, uint32_t code, const char *text)
{
	unsigned char *p = buf;
	size_t n = strnlen(text, BF_TEXT_MAX);
	put_hdr(p, BF_ERROR);
	put32(p + BF_HDR, code);
	memcpy(p + BF_HDR + 4, text, n);
	return BF_HDR + 4 + n;
}

size_t bf_put_data_hdr(void *buf, uint64_t first, uint32_t count)
{
	unsigned char *p = buf;
	put_hdr(p, BF_DATA);
	put64(p + BF_HDR, first);
	put32(p + BF_HDR + 8, count);
	put32(p + BF_HDR + 12, 0);
	return BF_DATA_HDR;
}

void bf_put_rec(void *buf, uint32_t len)
{
	put32(buf, len);
}

size_t bf_put_req_hdr(void *buf, uint64_t id)
{
	unsigned char *p = buf;
	put64(p + put_hdr(p, BF_REQ), id);
	return BF_REQ_HDR;
}

size_t bf_put_rep_hdr(void *buf, uint64_t id, uint32_t status)
{
	unsigned char *p = buf;
	put64(p + put_hdr(p, BF_REP), id);
	put32(p + BF_HDR + 8, status);
	put32(p + BF_HDR + 12, 0);
	return BF_REP_HDR;
}
