/* SPDX-License-Identifier: MIT */
/*
 * fuzz_service.c — libFuzzer harness for what a service reads from shared
 * memory: header validation, a client's send, collect and cancel (and the
 * settling of cells it finds taken), a server's receive and reply, all
 * over an arbitrary buffer (no /dev/shm, no liveness locks: every peer
 * counts as gone).
 *
 * Input: one control byte (which operations, buffer sizes), then the
 * segment image. The image's total_size field is set to the image's size,
 * so that mutations explore past the size check. Seeds: small services
 * with requests queued, taken, answered and given up, made by the library
 * itself (fuzz/corpus/fuzz_service/).
 */
#include "fuzz_common.h"
#include "service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void client(void *buf, size_t size, uint8_t ctl)
{
	pshm_service *c;
	if (pshm__service_attach_mem(buf, size, PSHM_CLIENT, &c) < 0)
		return;
	static unsigned char out[1 << 16];
	size_t cap = ctl & 2 ? 8 : sizeof(out);
	uint64_t ids[8];
	int n = 0;
	for (int i = 0; i < 8; i++)
		if (pshm_service_send(c, "request", (size_t)(ctl % 8), &ids[n]) == 0)
			n++;
	if (n && (ctl & 4))
		pshm_service_cancel(c, ids[0]);
	for (int i = 0; i < 8; i++) {
		uint64_t id = 0;
		pshm_service_collect(c, &id, out, cap, 0);
	}
	pshm_service_close(c);
}

static void server(void *buf, size_t size, uint8_t ctl)
{
	pshm_service *s;
	if (pshm__service_attach_mem(buf, size, PSHM_SERVER, &s) < 0)
		return;
	static unsigned char in[1 << 16];
	size_t cap = ctl & 8 ? 4 : sizeof(in);
	for (int i = 0; i < 16; i++) {
		struct pshm_service_req rq;
		ssize_t n = pshm_service_recv(s, in, cap, &rq, 0);
		if (n == -EAGAIN || n == -EMSGSIZE)
			break;
		if (n >= 0 && (ctl & 16))
			pshm_service_fail(s, rq.id, "no");
		else if (n >= 0)
			pshm_service_reply(s, rq.id, in, (size_t)n);
	}
	/* Answers to made-up ids land nowhere. */
	pshm_service_reply(s, (uint64_t)ctl << 32 | 1, "x", 1);
	pshm_service_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ctl;
	void *buf = fuzz_input(data, &size, &ctl);
	if (!buf)
		return 0;
	if (ctl & 0x80) {
		server(buf, size, ctl);
		client(buf, size, ctl);
	} else {
		client(buf, size, ctl);
		server(buf, size, ctl);
		client(buf, size, (uint8_t)~ctl);
	}
	free(buf);
	return 0;
}
