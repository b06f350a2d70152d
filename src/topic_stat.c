/* SPDX-License-Identifier: MIT */
/*
 * topic_stat.c — describing a topic without joining it: the header and the
 * subscriber table are read with pread(2) (or, for the fuzzer, copied out
 * of memory under the SIGBUS guard), validated as an attach would, and
 * summed up. Nothing is read through a mapping, so a sparse or hostile
 * file allocates nothing and a truncation cannot raise SIGBUS.
 */
#include <stdlib.h>
#include <string.h>

#include "topic.h"

/* Fill @info from @snap, the first @n bytes of a topic of @size bytes.
 * @fd: the file, whose liveness locks say who lives; -1: nobody does. */
static int from_snapshot(const unsigned char *snap, size_t n, uint64_t size, int fd,
			 struct pshm_topic_info *info)
{
	struct topic_geom g;
	int r = pshm__topic_hdr_read(snap, size > SIZE_MAX ? SIZE_MAX : (size_t)size, &g);
	if (r < 0)
		return r;
	if (n < sizeof(struct topic_hdr) + (size_t)g.max_subs * sizeof(struct topic_sub))
		return -EPROTO;
	const struct topic_hdr *h = (const void *)snap;
	const struct topic_sub *subs = (const void *)(h + 1);
	memset(info, 0, sizeof(*info));
	info->policy = g.policy;
	info->ring_size = g.ring_size;
	info->max_msg = g.max_msg;
	info->slots = g.nslots;
	info->history = g.history;
	info->max_subscribers = g.max_subs;
	uint64_t pub = h->pub_seq;
	info->published = pub;
	info->kept = pub < g.history ? pub : g.history;
	uint64_t po = h->pub_owner;
	info->publisher = (pid_t)(uint32_t)po;
	info->publisher_alive = owner_state(po) == OWN_ACTIVE && fd >= 0 &&
				pshm__live_byte(fd, PSHM__LOCK_ROLE(0));
	for (unsigned i = 0; i < g.max_subs; i++) {
		uint64_t o = subs[i].owner;
		if (!owner_state(o))
			continue;
		struct pshm_topic_sub *s = &info->subs[info->n_subs++];
		s->pid = (pid_t)(uint32_t)o;
		s->alive = fd >= 0 && pshm__live_byte(fd, PSHM__LOCK_ROLE(1 + (uint64_t)i));
		s->next = subs[i].next + 1;
		s->lag = pub > subs[i].next ? pub - subs[i].next : 0;
		s->missed = subs[i].missed;
	}
	return 0;
}

/* The header and the largest subscriber table, or the whole segment. */
static size_t snap_len(uint64_t size)
{
	uint64_t n = topic_ring_offset(PSHM_TOPIC_MAX_SUBSCRIBERS);
	return (size_t)(n < size ? n : size);
}

int pshm__topic_stat_mem(const void *addr, size_t size, struct pshm_topic_info *info)
{
	if (!info || !addr)
		return -EINVAL;
	size_t n = snap_len(size);
	if (n < sizeof(struct topic_hdr))
		return -EPROTO;
	unsigned char *snap = malloc(n);
	if (!snap)
		return -ENOMEM;
	int r = pshm__guarded_copy(snap, addr, n);
	if (r == 0)
		r = from_snapshot(snap, n, size, -1, info);
	free(snap);
	return r;
}

int pshm_topic_stat(const char *name, struct pshm_topic_info *info)
{
	if (!info)
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name,
			      PSHM_RDONLY | PSHM_NOMAP | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE,
			      &seg);
	if (r < 0)
		return r;
	size_t n = snap_len(pshm_seg_size(seg));
	unsigned char *snap = n >= sizeof(struct topic_hdr) ? malloc(n) : NULL;
	if (n < sizeof(struct topic_hdr)) {
		r = -EPROTO;
	} else if (!snap) {
		r = -ENOMEM;
	} else {
		r = pshm__seg_pread_full(seg, snap, n, 0);
		if (r == 0)
			r = from_snapshot(snap, n, pshm_seg_size(seg), pshm_seg_fd(seg), info);
	}
	free(snap);
	pshm_seg_close(seg);
	return r;
}
