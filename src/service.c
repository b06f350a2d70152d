/* SPDX-License-Identifier: MIT */
/*
 * service.c — services: creating, attaching, closing, removing and
 * describing; the liveness and waiting helpers the two sides share. The
 * layout and the cell protocol are described in service.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "service.h"

/* ---- geometry ----------------------------------------------------------- */

static uint64_t align64(uint64_t n)
{
	return (n + 63) & ~(uint64_t)63;
}

/* Fill the offsets of @g from its five parameters; false if out of range. */
static bool geom_make(struct svc_geom *g)
{
	if (g->max_req < 1 || g->max_req > PSHM_SERVICE_MSG_MAX || g->max_rep < 1 ||
	    g->max_rep > PSHM_SERVICE_MSG_MAX || g->clients < 1 ||
	    g->clients > PSHM_SERVICE_MAX_CLIENTS || g->servers < 1 ||
	    g->servers > PSHM_SERVICE_MAX_SERVERS || g->inflight < 1 ||
	    g->inflight > PSHM_SERVICE_MAX_INFLIGHT)
		return false;
	g->req_area = align64(g->max_req);
	g->rep_area = align64(g->max_rep);
	g->cell_size = sizeof(struct svc_cell) + g->req_area + g->rep_area;
	g->cslot_size = sizeof(struct svc_cslot) + align64(8 * (uint64_t)g->inflight);
	g->ready_off = sizeof(struct svc_hdr);
	g->sslot_off = g->ready_off + 8 * SVC_READY_WORDS;
	g->cslot_off = g->sslot_off + (uint64_t)g->servers * sizeof(struct svc_sslot);
	g->cell_off = (g->cslot_off + (uint64_t)g->clients * g->cslot_size + 4095) & ~(uint64_t)4095;
	/* At most 2^10 * 2^6 cells of under 2^26 bytes: no overflow. */
	g->total = g->cell_off + (uint64_t)g->clients * g->inflight * g->cell_size;
	return g->total <= (uint64_t)SIZE_MAX / 2;
}

int pshm__svc_geom_read(const void *addr, size_t size, struct svc_geom *g)
{
	if (!addr || size < sizeof(struct svc_hdr))
		return -EPROTO;
	const struct svc_hdr *h = addr;
	if (LOAD(&h->magic) != PSHM_SERVICE_MAGIC || LOAD(&h->version) != SVC_VERSION)
		return -EPROTO;
	memset(g, 0, sizeof(*g));
	g->max_req = LOAD(&h->max_req);
	g->max_rep = LOAD(&h->max_rep);
	g->clients = LOAD(&h->max_clients);
	g->servers = LOAD(&h->max_servers);
	g->inflight = LOAD(&h->max_inflight);
	uint64_t total = LOAD(&h->total_size);
	if (!geom_make(g) || total != g->total || total != size)
		return -EPROTO;
	return 0;
}

/* ---- creating ----------------------------------------------------------- */

static int svc_init(void *addr, size_t size, void *arg)
{
	const struct svc_geom *g = arg;
	struct svc_hdr *h = addr;
	/* The file is fresh (zeros: every cell FREE, every slot free). */
	h->magic = PSHM_SERVICE_MAGIC;
	h->version = SVC_VERSION;
	h->total_size = size;
	h->max_req = (uint32_t)g->max_req;
	h->max_rep = (uint32_t)g->max_rep;
	h->max_clients = g->clients;
	h->max_servers = g->servers;
	h->max_inflight = g->inflight;
	return 0;
}

/* A pshm__hdr_fn: is @h a service's header, for a file of @size bytes? */
static int hdr_check(const void *h, size_t size)
{
	struct svc_geom g;
	return pshm__svc_geom_read(h, size, &g);
}

/* Read the header of @seg with pread (nothing mapped) into *h: 0 and its
 * geometry if it is a service's of its size, -EPROTO, or -errno. */
static int header_of(pshm_seg *seg, struct svc_hdr *h, struct svc_geom *g)
{
	int r = pshm__seg_pread_full(seg, h, sizeof(*h), 0);
	return r < 0 ? r : pshm__svc_geom_read(h, pshm_seg_size(seg), g);
}

int pshm_service_create(const char *name, const struct pshm_service_config *cfg, mode_t mode,
			unsigned flags)
{
	struct pshm_service_config c = { 0 };
	if (cfg)
		c = *cfg;
	struct svc_geom g = {
		.max_req = c.max_request ? c.max_request : SVC_DEFAULT_MSG,
		.max_rep = c.max_reply ? c.max_reply : SVC_DEFAULT_MSG,
		.clients = c.max_clients ? c.max_clients : SVC_DEFAULT_CLIENTS,
		.servers = c.max_servers ? c.max_servers : SVC_DEFAULT_SERVERS,
		.inflight = c.max_inflight ? c.max_inflight : SVC_DEFAULT_INFLIGHT,
	};
	if (!geom_make(&g))
		return -EINVAL;
	return pshm__create_kind(name, g.total, mode, flags, svc_init, &g, sizeof(struct svc_hdr),
				 hdr_check);
}

/* ---- liveness ----------------------------------------------------------- */

bool pshm__svc_server_alive(const pshm_service *s, unsigned k, uint32_t gen)
{
	if (s->detached || k >= s->g.servers)
		return false;
	uint64_t o = LOAD_ACQ(&sslot_at(s, k)->owner);
	if (owner_state(o) != OWN_ACTIVE || (owner_gen(o) & C_GEN_MASK) != (gen & C_GEN_MASK))
		return false;
	return pshm__live_byte(s->lock_fd, SVC_LOCK_SERVER(k));
}

bool pshm__svc_any_server(const pshm_service *s)
{
	for (unsigned k = 0; k < s->g.servers; k++) {
		uint64_t o = LOAD_ACQ(&sslot_at(s, k)->owner);
		if (pshm__svc_server_alive(s, k, owner_gen(o)))
			return true;
	}
	return false;
}

/* Take slot @i of a role (owner word @o, lock @byte): 1 taken, 0 held by a
 * live peer (or, with @free_only, not free), -errno if locks fail. */
static int try_slot(pshm_service *s, uint64_t *o, uint64_t byte, bool free_only)
{
	int r = pshm__slot_lock(s->lock_fd, o, byte, free_only);
	if (r > 0)
		s->gen = owner_gen(owner_claim(o)); /* see service.h */
	return r;
}

static uint64_t *owner_of(const pshm_service *s, unsigned i)
{
	return s->role == PSHM_SERVER ? &sslot_at(s, i)->owner : &cslot_at(s, i)->owner;
}

static uint64_t lock_of(const pshm_service *s, unsigned i)
{
	return s->role == PSHM_SERVER ? SVC_LOCK_SERVER(i) : SVC_LOCK_CLIENT(i);
}

/* Claim a free slot of our role, else one whose owner is dead. */
static int claim_slot(pshm_service *s)
{
	unsigned n = s->role == PSHM_SERVER ? s->g.servers : s->g.clients;
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < n; i++) {
			int r = try_slot(s, owner_of(s, i), lock_of(s, i), pass == 0);
			if (r < 0)
				return r;
			if (r) {
				s->slot = i;
				return 0;
			}
		}
	return -EUSERS;
}

static void slot_free(pshm_service *s)
{
	owner_release(owner_of(s, s->slot));
	pshm__lock_drop(s->lock_fd, lock_of(s, s->slot));
}

/* ---- attaching and closing ---------------------------------------------- */

static int svc_new(void *addr, size_t size, unsigned role, bool detached, pshm_service **out)
{
	struct svc_geom g;
	int r = pshm__svc_geom_read(addr, size, &g);
	if (r < 0)
		return r;
	pshm_service *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base = addr;
	s->size = size;
	s->h = addr;
	s->g = g;
	s->role = role;
	s->detached = detached;
	s->lock_fd = -1;
	s->spin_ns = pshm__spin_or_auto(PSHM_SPIN_AUTO);
	s->touched_sec = -1;
	s->next_seq = (uint32_t)getpid() * 2654435761u; /* any start; never 0 (see send) */
	*out = s;
	return 0;
}

static int attach(pshm_service *s)
{
	if (!s->detached) {
		int r = claim_slot(s);
		if (r < 0)
			return r;
		__atomic_fetch_add(s->role == PSHM_SERVER ? &s->h->srv_attaches : &s->h->cli_attaches,
				   1, __ATOMIC_SEQ_CST);
	}
	if (s->role == PSHM_CLIENT)
		pshm__svc_client_sweep(s);
	return 0;
}

static bool role_ok(unsigned role)
{
	return role == PSHM_SERVER || role == PSHM_CLIENT;
}

int pshm__service_attach_mem(void *addr, size_t size, unsigned role, pshm_service **out)
{
	if (!out || !role_ok(role))
		return -EINVAL;
	*out = NULL;
	pshm_service *s;
	int r = svc_new(addr, size, role, true, &s);
	if (r < 0)
		return r;
	SVC_GUARDED(r, s, attach(s));
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

int pshm_service_open(const char *name, unsigned role, unsigned flags, pshm_service **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!role_ok(role) || (flags & ~(unsigned)(PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)))
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name, flags, &seg);
	if (r < 0)
		return r;
	struct svc_hdr h;
	struct svc_geom g;
	/* Nothing is read through the mapping before the file is known to back
	 * all of it (a hole read through a mapping would be allocated). */
	r = header_of(seg, &h, &g);
	if (r == 0)
		r = pshm__seg_backed(pshm_seg_fd(seg), pshm_seg_size(seg));
	pshm_service *s = NULL;
	if (r == 0) {
		void *addr = pshm_seg_addr(seg);
		size_t size = pshm_seg_size(seg);
		/* svc_new reads the mapping before it allocates: a jump out leaks nothing. */
		PSHM__GUARDED(r, addr, size, svc_new(addr, size, role, false, &s));
	}
	if (r == 0) {
		s->lock_fd = pshm_seg_fd(seg);
		SVC_GUARDED(r, s, attach(s));
		if (r < 0)
			free(s);
	}
	if (r < 0) {
		pshm_seg_close(seg);
		return r;
	}
	s->seg = seg;
	*out = s;
	return 0;
}

static int detach(pshm_service *s)
{
	if (s->role == PSHM_CLIENT)
		pshm__svc_client_drop_all(s);
	slot_free(s);
	return 0;
}

void pshm_service_close(pshm_service *s)
{
	if (!s)
		return;
	if (!s->detached) {
		int r;
		SVC_GUARDED(r, s, detach(s));
		(void)r;
	}
	pshm_seg_close(s->seg);
	free(s);
}

size_t pshm_service_max_request(const pshm_service *s)
{
	return s ? (size_t)s->g.max_req : 0;
}

size_t pshm_service_max_reply(const pshm_service *s)
{
	return s ? (size_t)s->g.max_rep : 0;
}

/* ---- waiting ------------------------------------------------------------ */

void pshm__svc_wait_start(const pshm_service *s, struct svc_waiter *w, int64_t timeout_ns)
{
	int64_t now = pshm__now_ns();
	w->timeout = timeout_ns;
	w->deadline = timeout_ns > 0 && timeout_ns < INT64_MAX - now ? now + timeout_ns : INT64_MAX;
	w->spin_end = now + (s->spin_ns < INT64_MAX / 2 ? (int64_t)s->spin_ns : 0);
}

int pshm__svc_wait_next(const struct svc_waiter *w, int64_t now)
{
	if (w->timeout == 0)
		return -EAGAIN;
	if (now >= w->deadline)
		return -ETIMEDOUT;
	if (now < w->spin_end) {
		pshm__cpu_relax();
		return 1;
	}
	return 0;
}

int pshm__svc_sleep(uint32_t *word, uint32_t seen, int64_t deadline)
{
	int64_t now = pshm__now_ns(), until = now + SVC_CHECK_NS;
	if (deadline < until)
		until = deadline;
	int r = pshm__futex_wait(word, seen, until > now ? until - now : 0);
	return r == -EINTR ? -EINTR : 0;
}

void pshm__svc_touch(pshm_service *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec == s->touched_sec || !s->seg)
		return;
	s->touched_sec = ts.tv_sec;
	int e = errno;
	futimens(pshm_seg_fd(s->seg), NULL);
	errno = e;
}

/* ---- describing --------------------------------------------------------- */

static void count_cells(const unsigned char *slot, unsigned n, struct pshm_service_info *info)
{
	for (unsigned c = 0; c < n; c++) {
		uint64_t w;
		memcpy(&w, slot + sizeof(struct svc_cslot) + 8 * c, 8);
		unsigned st = cell_state(w);
		info->queued += st == C_REQ;
		info->in_progress += st == C_TAKEN;
		info->answered += st == C_REPLIED;
	}
}

static int stat_seg(pshm_seg *seg, struct pshm_service_info *info)
{
	struct svc_hdr h;
	struct svc_geom g;
	/* One read: the counters below come from the header that was checked. */
	int r = header_of(seg, &h, &g);
	if (r < 0)
		return r;
	int fd = pshm_seg_fd(seg);
	*info = (struct pshm_service_info){
		.max_request = g.max_req, .max_reply = g.max_rep,
		.max_clients = g.clients, .max_servers = g.servers, .max_inflight = g.inflight,
		.requests = h.requests, .late_dropped = h.late_dropped,
		.server_attaches = h.srv_attaches, .client_attaches = h.cli_attaches,
	};
	for (unsigned k = 0; k < g.servers; k++) {
		struct svc_sslot sl;
		if (pshm_seg_pread(seg, &sl, sizeof(sl), g.sslot_off + k * sizeof(sl)) != sizeof(sl))
			return -EPROTO;
		info->servers += owner_state(sl.owner) == OWN_ACTIVE &&
				 pshm__live_byte(fd, SVC_LOCK_SERVER(k));
	}
	unsigned char *buf = malloc(g.cslot_size);
	if (!buf)
		return -ENOMEM;
	for (unsigned i = 0; i < g.clients && r == 0; i++) {
		if (pshm_seg_pread(seg, buf, g.cslot_size, g.cslot_off + i * g.cslot_size) !=
		    (ssize_t)g.cslot_size) {
			r = -EPROTO;
			break;
		}
		uint64_t o;
		memcpy(&o, buf, 8);
		info->clients += owner_state(o) == OWN_ACTIVE &&
				 pshm__live_byte(fd, SVC_LOCK_CLIENT(i));
		count_cells(buf, g.inflight, info);
	}
	free(buf);
	return r;
}

int pshm_service_stat(const char *name, struct pshm_service_info *info)
{
	if (!info)
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name, PSHM_RDONLY | PSHM_NOMAP | PSHM_ALLOW_FOREIGN |
					    PSHM_ALLOW_SHARED_WRITE, &seg);
	if (r < 0)
		return r;
	r = stat_seg(seg, info);
	pshm_seg_close(seg);
	return r;
}
