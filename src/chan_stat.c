/* SPDX-License-Identifier: MIT */
/*
 * chan_stat.c — describing a channel (pshm_chan_stat) without joining it.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"

/*
 * pshm_chan_stat() may look at any segment (`pshm ls` runs it on whatever
 * /dev/shm holds), including a sparse file another user planted whose
 * header claims a huge ring full of records. It therefore never reads
 * through a mapping: reading a hole of a tmpfs file through a MAP_SHARED
 * mapping allocates a page, while pread() of a hole allocates nothing. The
 * walk below reads through a source, "copy N bytes at offset", which is
 * pread() for pshm_chan_stat() and a guarded copy out of memory for
 * pshm__chan_stat_mem() (the fuzzer), so both share every check.
 */
struct stat_src {
	/* Copy exactly @n bytes at @off into @buf: 0, or negative errno
	 * (-EPROTO when the source is shorter than @off + @n). */
	int (*read)(struct stat_src *src, void *buf, size_t n, uint64_t off);
	uint64_t size;
	const unsigned char *mem; /* the memory source */
	const pshm_seg *seg;      /* the file source... */
	uint64_t win_off;         /* ...and its window, a page of the file at most */
	size_t win_len;
	unsigned char win[4096];
};

static int mem_read(struct stat_src *src, void *buf, size_t n, uint64_t off)
{
	if (off > src->size || n > src->size - off)
		return -EPROTO;
	return pshm__guarded_copy(buf, src->mem + off, n);
}

/*
 * Small reads (record headers) are served from a window that runs from the
 * word asked for to the end of its page, so a ring of small records costs
 * one pread() per page, not one per record.
 */
static int file_read(struct stat_src *src, void *buf, size_t n, uint64_t off)
{
	if (off > src->size || n > src->size - off)
		return -EPROTO;
	if (n > sizeof(src->win))
		return pshm__seg_pread_full(src->seg, buf, n, off);
	if (off < src->win_off || off + n > src->win_off + src->win_len) {
		uint64_t len = sizeof(src->win) - (off & (sizeof(src->win) - 1));
		if (len < n)
			len = n;
		if (len > src->size - off)
			len = src->size - off;
		src->win_len = 0;
		int r = pshm__seg_pread_full(src->seg, src->win, (size_t)len, off);
		if (r < 0)
			return r;
		src->win_off = off;
		src->win_len = (size_t)len;
	}
	memcpy(buf, src->win + (off - src->win_off), n);
	return 0;
}

/*
 * Count the messages between head and tail, walking the records: at most
 * PSHM_CHAN_STAT_MAX_RECORDS of them, so that a ring of millions of tiny
 * records (or a forged one) costs a bounded time; *capped says the walk
 * stopped there with records left, and the count is then a lower bound.
 */
static uint64_t count_pending(const pshm_chan *ch, struct stat_src *src, uint64_t ring_off,
			      uint64_t head, uint64_t tail, unsigned *capped)
{
	uint64_t n = 0, p = head;
	*capped = 0;
	for (uint64_t i = 0; p - head < ch->ring_size; i++) {
		if (ch->mode == PSHM_CHAN_MPSC && p >= tail)
			break;
		uint64_t w, span;
		if (src->read(src, &w, sizeof(w), ring_off + (p & ch->mask)) < 0 || w == 0 ||
		    rec_check(ch, p, w, &span) < 0)
			break;
		if (i == PSHM_CHAN_STAT_MAX_RECORDS) {
			*capped = 1; /* a valid record past the limit */
			break;
		}
		n += rec_type(w) == R_MSG;
		p += span;
	}
	return n;
}

static void peer_info(const struct chan_slot *s, unsigned i, int fd,
		      struct pshm_chan_info *info)
{
	uint64_t o = s->owner;
	if (!owner_state(o) || info->n_peers >= sizeof(info->peers) / sizeof(info->peers[0]))
		return;
	struct pshm_chan_peer *p = &info->peers[info->n_peers++];
	p->pid = (pid_t)(uint32_t)o;
	p->role = i ? PSHM_PRODUCER : PSHM_CONSUMER;
	p->alive = pshm__chan_owner_alive(fd, i, o);
}

/* Fill @info from the snapshot @snap (header and slots) of @src. */
static int stat_snapshot(void *snap, struct stat_src *src, int fd,
			 struct pshm_chan_info *info)
{
	pshm_chan *ch;
	int r = pshm__chan_new(snap, src->size > SIZE_MAX ? SIZE_MAX : (size_t)src->size,
			       PSHM_CONSUMER, true, &ch);
	if (r < 0)
		return r;
	const struct chan_hdr *h = snap;
	uint64_t hd = h->head, t = h->tail;
	memset(info, 0, sizeof(*info));
	info->mode = ch->mode;
	info->ring_size = ch->ring_size;
	info->max_msg = ch->max_msg;
	info->max_producers = ch->nprod;
	info->used = t > hd ? (t - hd < ch->ring_size ? t - hd : ch->ring_size) : 0;
	info->pending = (hd & 7) ? 0
				 : count_pending(ch, src, h->ring_off, hd, t, &info->pending_capped);
	info->received = h->received;
	info->sent = info->received + info->pending;
	for (unsigned i = 0; i <= ch->nprod; i++)
		peer_info(&ch->slots[i], i, fd, info);
	free(ch);
	return 0;
}

/* @fd: the segment's file, whose liveness locks say which peers live; -1:
 * every peer is reported dead. */
static int stat_src(struct stat_src *src, int fd, struct pshm_chan_info *info)
{
	/* The header and slot table of the largest layout, or the segment. */
	uint64_t n = ring_offset(PROD_MAX);
	if (n > src->size)
		n = src->size;
	if (n < sizeof(struct chan_hdr))
		return -EPROTO;
	void *snap = malloc((size_t)n);
	if (!snap)
		return -ENOMEM;
	int r = src->read(src, snap, (size_t)n, 0);
	if (r == 0)
		r = stat_snapshot(snap, src, fd, info);
	free(snap);
	return r;
}

int pshm__chan_stat_mem(const void *addr, size_t size, struct pshm_chan_info *info)
{
	if (!info)
		return -EINVAL;
	if (!addr)
		return -EPROTO;
	struct stat_src *src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	src->read = mem_read;
	src->size = size;
	src->mem = addr;
	int r = stat_src(src, -1, info);
	free(src);
	return r;
}

int pshm_chan_stat(const char *name, struct pshm_chan_info *info)
{
	if (!info)
		return -EINVAL;
	pshm_seg *seg;
	int r = pshm_seg_open(name,
			      PSHM_RDONLY | PSHM_NOMAP | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE,
			      &seg);
	if (r < 0)
		return r;
	struct stat_src *src = calloc(1, sizeof(*src));
	if (!src) {
		pshm_seg_close(seg);
		return -ENOMEM;
	}
	src->read = file_read;
	src->size = pshm_seg_size(seg);
	src->seg = seg;
	r = stat_src(src, pshm_seg_fd(seg), info);
	free(src);
	pshm_seg_close(seg);
	return r;
}
