/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c — libFuzzer harness for the decoder of `pshm bridge`'s
 * frames (cli/bridge_frame.c), which reads what any peer on the network
 * sends. The first byte picks the largest message the receiving channel
 * takes; every accepted DATA frame is walked to its end, and the records
 * must tile the frame exactly. Decoding what the encoders made must give
 * the same fields back.
 */
#include <stdlib.h>
#include <string.h>

#include "../cli/bridge_frame.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct bf_frame *f, uint64_t max_msg)
{
	struct bf_iter it;
	const void *msg;
	size_t len, total = 0;
	uint32_t n = 0;
	bf_iter_init(&it, f);
	while (bf_iter_next(&it, &msg, &len)) {
		if (len > max_msg || (const unsigned char *)msg + len > it.end)
			abort();
		total += BF_REC_HDR + len;
		n++;
	}
	if (n != f->u.data.count || total != f->u.data.recs_len)
		abort();
}

/* The encoders and the decoder agree. */
static void round_trip(const uint8_t *data, size_t size)
{
	unsigned char buf[BF_HDR + 4 + BF_TEXT_MAX + 1];
	struct bf_frame f;
	const char *why;
	struct bf_hello h = { 0 };
	memcpy(&h, data, size < sizeof(h) ? size : sizeof(h));
	h.next_seq |= 1;
	if (bf_decode(buf, bf_put_hello(buf, &h), 0, &f, &why) || f.type != BF_HELLO ||
	    memcmp(&f.u.hello, &h, sizeof(h)))
		abort();
	if (bf_decode(buf, bf_put_ack(buf, h.stream), 0, &f, &why) || f.u.ack != h.stream)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_frame f;
	const char *why = NULL;
	uint64_t max_msg = size ? (uint64_t)1 << (data[0] % 24) : 0;
	if (size)
		data++, size--;
	int r = bf_decode(data, size, max_msg, &f, &why);
	if (r < 0 && !why)
		abort(); /* every refusal says why */
	if (r == 0 && f.type == BF_DATA)
		walk(&f, max_msg);
	round_trip(data, size);
	return 0;
}
