/* SPDX-License-Identifier: MIT */
/*
 * test_service_hostile.c — services over segments someone else wrote:
 * forged and inconsistent headers, truncated and sparse files, scribbled
 * cell state words and lengths, a ready bitmap full of lies. Each yields
 * an error code (-EPROTO, -ENODATA, -EFAULT, -EBADMSG), never a crash or a
 * hang. The on-segment format is restated here from pshm(7), independently
 * of src/, so a library that drifts from its documentation fails.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "service_helpers.h"

TestSuite(service_hostile, TH_FIXTURE, .timeout = 60);

/* ---- the format, as pshm(7) states it ----------------------------------- */

#define SV_MAGIC 0x3143565253485350ull /* "PSHSRVC1" */
#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_TOTAL 16
#define OFF_MAX_REQ 24
#define OFF_MAX_REP 28
#define OFF_CLIENTS 32
#define OFF_SERVERS 36
#define OFF_INFLIGHT 40
#define OFF_READY 128

static uint64_t a64(uint64_t n)
{
	return (n + 63) & ~63ull;
}

struct sv_geom {
	uint64_t cslot_off, cslot_size, cell_off, cell_size, total;
};

static struct sv_geom geom(uint64_t req, uint64_t rep, unsigned cli, unsigned srv, unsigned w)
{
	struct sv_geom g;
	g.cslot_off = 256 + 64 * (uint64_t)srv;
	g.cslot_size = 64 + a64(8 * (uint64_t)w);
	g.cell_off = (g.cslot_off + cli * g.cslot_size + 4095) & ~4095ull;
	g.cell_size = 64 + a64(req) + a64(rep);
	g.total = g.cell_off + (uint64_t)cli * w * g.cell_size;
	return g;
}

static uint64_t *state_word(unsigned char *m, const struct sv_geom *g, unsigned i, unsigned c)
{
	return (uint64_t *)(m + g->cslot_off + i * g->cslot_size + 64 + 8 * c);
}

static uint32_t *req_len(unsigned char *m, const struct sv_geom *g, unsigned w, unsigned i,
			 unsigned c)
{
	return (uint32_t *)(m + g->cell_off + ((uint64_t)i * w + c) * g->cell_size);
}

/* ---- headers ------------------------------------------------------------ */

Test(service_hostile, the_documented_layout_is_the_one_made)
{
	struct pshm_service_config cfg = { 100, 200, 3, 2, 5 };
	const char *n = mksvc("layout", &cfg);
	size_t size;
	unsigned char *m = th_map_raw(n, &size);
	struct sv_geom g = geom(100, 200, 3, 2, 5);
	cr_expect_eq(size, g.total);
	cr_expect_eq(*(uint64_t *)(m + OFF_MAGIC), SV_MAGIC);
	cr_expect_eq(*(uint32_t *)(m + OFF_VERSION), 1);
	cr_expect_eq(*(uint64_t *)(m + OFF_TOTAL), g.total);
	cr_expect_eq(*(uint32_t *)(m + OFF_MAX_REQ), 100);
	cr_expect_eq(*(uint32_t *)(m + OFF_MAX_REP), 200);
	cr_expect_eq(*(uint32_t *)(m + OFF_CLIENTS), 3);
	cr_expect_eq(*(uint32_t *)(m + OFF_SERVERS), 2);
	cr_expect_eq(*(uint32_t *)(m + OFF_INFLIGHT), 5);
	/* A request lands where the format says: client 0, cell 0, state REQ. */
	pshm_service *c = svc_open(n, PSHM_CLIENT);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "abc", 3, &id), 0);
	cr_expect_eq(*state_word(m, &g, 0, 0) & 0xf, 1);
	cr_expect_eq(*state_word(m, &g, 0, 0) >> 32, id & 0xffffffff);
	cr_expect_eq(*req_len(m, &g, 5, 0, 0), 3);
	cr_expect_eq(memcmp(m + g.cell_off + 64, "abc", 3), 0);
	cr_expect_eq(*(uint64_t *)(m + OFF_READY) & 1, 1, "client 0's ready bit");
	pshm_service_close(c);
	munmap(m, size);
}

Test(service_hostile, forged_headers_are_eproto)
{
	struct {
		size_t off, width;
		uint64_t val;
	} f[] = {
		{ OFF_MAGIC, 8, 0x3144414548485350ull }, { OFF_VERSION, 4, 2 },
		{ OFF_TOTAL, 8, 1 << 30 },               { OFF_MAX_REQ, 4, 0 },
		{ OFF_MAX_REQ, 4, 0xffffffff },          { OFF_MAX_REP, 4, 1u << 25 },
		{ OFF_CLIENTS, 4, 0 },                   { OFF_CLIENTS, 4, 5000 },
		{ OFF_SERVERS, 4, 65 },                  { OFF_INFLIGHT, 4, 65 },
		{ OFF_INFLIGHT, 4, 3 },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *n = mksvc("forged", NULL);
		size_t size;
		unsigned char *m = th_map_raw(n, &size);
		if (f[i].width == 8)
			*(uint64_t *)(m + f[i].off) = f[i].val;
		else
			*(uint32_t *)(m + f[i].off) = (uint32_t)f[i].val;
		pshm_service *s = (pshm_service *)1;
		cr_expect_eq(pshm_service_open(n, PSHM_SERVER, 0, &s), -EPROTO, "forgery %zu", i);
		cr_expect_null(s);
		struct pshm_service_info in;
		cr_expect_eq(pshm_service_stat(n, &in), -EPROTO, "stat, forgery %zu", i);
		munmap(m, size);
		pshm_seg_unlink(n);
	}
}

Test(service_hostile, truncated_grown_and_tiny_files_are_eproto)
{
	const char *n = mksvc("trunc", NULL);
	char p[128];
	pshm_service *s;
	cr_assert_eq(truncate(th_path(n, p, sizeof(p)), 8192), 0);
	cr_expect_eq(pshm_service_open(n, PSHM_CLIENT, 0, &s), -EPROTO);
	const char *g = mksvc("grown", NULL);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(g, &st), 0);
	cr_assert_eq(truncate(th_path(g, p, sizeof(p)), (off_t)st.size + 4096), 0);
	cr_expect_eq(pshm_service_open(g, PSHM_SERVER, 0, &s), -EPROTO);
	const char *t = th_name("tiny");
	th_write_file(t, "PSHSRVC1", 8, 0600);
	cr_expect_eq(pshm_service_open(t, PSHM_SERVER, 0, &s), -EPROTO);
	struct pshm_service_info in;
	cr_expect_eq(pshm_service_stat(t, &in), -EPROTO);
	cr_expect_eq(pshm_service_unlink(t), 0, "recognised by its magic, removed");
}

Test(service_hostile, a_sparse_service_is_refused_before_it_is_mapped)
{
	const char *n = mksvc("sparse", NULL);
	size_t size;
	unsigned char hdr[4096];
	unsigned char *m = th_map_raw(n, &size);
	memcpy(hdr, m, sizeof(hdr));
	munmap(m, size);
	pshm_seg_unlink(n);
	/* The same header over a file that is all hole after it. */
	th_write_file(n, hdr, sizeof(hdr), 0600);
	char p[128];
	cr_assert_eq(truncate(th_path(n, p, sizeof(p)), (off_t)size), 0);
	pshm_service *s;
	cr_expect_eq(pshm_service_open(n, PSHM_CLIENT, 0, &s), -ENODATA);
	struct pshm_service_info in;
	cr_expect_eq(pshm_service_stat(n, &in), 0, "described with pread only");
}

/* ---- truncated under operations ----------------------------------------- */

Test(service_hostile, truncated_under_operations_is_efault)
{
	const char *n = mksvc("trunc0", NULL);
	pshm_service *s = svc_open(n, PSHM_SERVER), *c = svc_open(n, PSHM_CLIENT);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "hi", 2, &id), 0);
	char b[16], p[128];
	struct pshm_service_req rq;
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), 2);
	cr_assert_eq(truncate(th_path(n, p, sizeof(p)), 0), 0);
	cr_expect_eq(pshm_service_reply(s, rq.id, "x", 1), -EFAULT);
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), -EFAULT);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 0), -EFAULT);
	cr_expect_eq(pshm_service_send(c, "hi", 2, &id), -EFAULT);
	cr_expect_eq(pshm_service_call(c, "hi", 2, b, sizeof(b), 0), -EFAULT);
	pshm_service_close(c);
	pshm_service_close(s);
}

/* ---- scribbled cells ---------------------------------------------------- */

Test(service_hostile, scribbled_cells_are_errors_not_crashes)
{
	struct pshm_service_config cfg = { .max_clients = 2, .max_inflight = 4 };
	const char *n = mksvc("scribble", &cfg);
	struct sv_geom g = geom(4096, 4096, 2, 8, 4);
	size_t size;
	unsigned char *m = th_map_raw(n, &size);
	pshm_service *s = svc_open(n, PSHM_SERVER), *c = svc_open(n, PSHM_CLIENT);
	char b[64];
	struct pshm_service_req rq;
	uint64_t id, w;
	/* A state word changed under a waiting client. */
	cr_assert_eq(pshm_service_send(c, "a", 1, &id), 0);
	*state_word(m, &g, 0, 0) = 0x123456789abcdef7ull;
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 0), -EPROTO);
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), -EAGAIN, "not a request");
	/* A request whose length is impossible: refused, answered with an error. */
	cr_assert_eq(pshm_service_send(c, "b", 1, &id), 0);
	unsigned cell = (unsigned)(id >> 32) & 0xffff;
	*req_len(m, &g, 4, 0, cell) = 1u << 30;
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), -EBADMSG);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 1000 * MS), -EREMOTEIO);
	/* A reply whose length is impossible. */
	cr_assert_eq(pshm_service_send(c, "c", 1, &id), 0);
	cr_assert_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), 1);
	cr_assert_eq(pshm_service_reply(s, rq.id, "r", 1), 0);
	cell = (unsigned)(id >> 32) & 0xffff;
	*(uint32_t *)((unsigned char *)req_len(m, &g, 4, 0, cell) + 4) = 0xffffffff;
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 0), -EBADMSG);
	/* Every ready bit set, every state word garbage: receiving ends. */
	memset(m + OFF_READY, 0xff, 128);
	for (unsigned i = 0; i < 2; i++)
		for (unsigned k = 0; k < 4; k++)
			*state_word(m, &g, i, k) = 0xfffffffffffffff0ull | (5 + k);
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), -EAGAIN);
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 10 * MS), -ETIMEDOUT);
	/* Ids naming no cell, or a cell not held, are refused. */
	cr_expect_eq(pshm_service_reply(s, UINT64_C(0xffff000000000001), "x", 1), -ESRCH);
	cr_expect_eq(pshm_service_reply(s, UINT64_C(0x00000fff00000001), "x", 1), -ESRCH);
	/* The client's cells are all garbage: sending settles them first. */
	for (unsigned k = 0; k < 4; k++)
		cr_expect_eq(pshm_service_send(c, "d", 1, &w), 0, "cell %u", k);
	cr_expect_eq(pshm_service_send(c, "e", 1, &w), -ENOBUFS);
	pshm_service_close(c);
	pshm_service_close(s);
	munmap(m, size);
}

Test(service_hostile, an_impossible_request_is_refused_within_a_tiny_reply)
{
	struct pshm_service_config cfg = { .max_request = 8, .max_reply = 4, .max_clients = 1,
					   .max_inflight = 1 };
	const char *n = mksvc("tinyrep", &cfg);
	struct sv_geom g = geom(8, 4, 1, 8, 1);
	size_t size;
	unsigned char *m = th_map_raw(n, &size);
	pshm_service *s = svc_open(n, PSHM_SERVER), *c = svc_open(n, PSHM_CLIENT);
	uint64_t id;
	cr_assert_eq(pshm_service_send(c, "b", 1, &id), 0);
	*req_len(m, &g, 1, 0, 0) = 9;
	char b[16];
	struct pshm_service_req rq;
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 0), -EBADMSG);
	cr_expect_eq(pshm_service_collect(c, &id, b, sizeof(b), 1000 * MS), -EREMOTEIO);
	cr_expect_eq(strlen(b), 3, "the reason, cut to max_reply - 1: '%s'", b);
	pshm_service_close(c);
	pshm_service_close(s);
	munmap(m, size);
}

/* A ready bit past the last client slot (a scribbling peer) is ignored as
 * take_one() ignores it: a waiting server sleeps rather than spins. The
 * bound is on CPU time against the wait, a ratio, not a duration. */
Test(service_hostile, a_stray_ready_bit_past_the_clients_does_not_keep_a_server_awake)
{
	struct pshm_service_config cfg = { .max_clients = 10 };
	const char *n = mksvc("stray", &cfg);
	size_t size;
	unsigned char *m = th_map_raw(n, &size);
	pshm_service *s = svc_open(n, PSHM_SERVER);
	*(uint64_t *)(m + OFF_READY) = 1ull << 63;
	char b[16];
	struct pshm_service_req rq;
	struct rusage r0, r1;
	getrusage(RUSAGE_THREAD, &r0);
	cr_expect_eq(pshm_service_recv(s, b, sizeof(b), &rq, 400 * MS), -ETIMEDOUT);
	getrusage(RUSAGE_THREAD, &r1);
	double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
			      r0.ru_stime.tv_sec) +
		     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
			      r0.ru_stime.tv_usec) / 1e6;
	cr_expect_lt(cpu, 0.2, "the server spun for %.3f s of a 0.4 s wait", cpu);
	pshm_service_close(s);
	munmap(m, size);
}
