/* SPDX-License-Identifier: MIT */
/*
 * seg.c — named and anonymous segments: create, open, map, resize, unlink.
 *
 * Named segments are files in /dev/shm (this is what glibc's shm_open does),
 * opened relative to a descriptor on that directory with O_NOFOLLOW, so a
 * symlink planted there is never followed, and checked with fstat() to be a
 * regular file before anything is mapped, read or written.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int pshm__dirfd(void)
{
	return pshm__err(open(PSHM_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

/* open() errors that mean "there is something here, but not a segment". */
static int open_errno(int e)
{
	return (e == ELOOP || e == EISDIR || e == ENXIO || e == ENODEV) ? -ENOTSUP : -e;
}

#define SEG_FLAGS (PSHM_OPEN_EXISTING | PSHM_RDONLY | PSHM_ALLOW_FOREIGN | \
		   PSHM_ALLOW_SHARED_WRITE | PSHM_NOMAP)

/* An exclusive create found @leaf taken: -EEXIST for a file, -ENOTSUP for a
 * symlink, directory, FIFO..., so that callers report what is really there. */
static int taken_errno(int dfd, const char *leaf)
{
	struct stat st;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
		return -ENOTSUP;
	return -EEXIST;
}

/* Check @name, then open /dev/shm for it: the dirfd, or -errno. */
static int checked_dirfd(const char *name)
{
	int r = pshm_name_check(name);
	return r < 0 ? r : pshm__dirfd();
}

int pshm__lookup(const char *name, struct stat *st)
{
	int dfd = checked_dirfd(name);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, pshm__leaf(name), st, AT_SYMLINK_NOFOLLOW) < 0) {
		int r = -errno;
		close(dfd);
		return r;
	}
	return dfd;
}

/*
 * The type is checked before opening (so a FIFO or device is never opened
 * for real) and again on the open descriptor (so a swap in between is
 * caught).
 */
int pshm__open_regular(const char *name, int oflags, struct stat *st)
{
	int dfd = pshm__lookup(name, st);
	if (dfd < 0)
		return dfd;
	int fd = -ENOTSUP;
	if (S_ISREG(st->st_mode)) {
		fd = openat(dfd, pshm__leaf(name),
			    oflags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		fd = fd < 0 ? open_errno(errno) : fd;
	}
	close(dfd);
	if (fd < 0)
		return fd;
	int r = pshm__err(fstat(fd, st));
	if (r == 0 && !S_ISREG(st->st_mode))
		r = -ENOTSUP;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int map_fd(int fd, size_t size, bool writable, void **addr)
{
	*addr = NULL;
	if (size == 0)
		return 0;
	void *p = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0),
		       MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

int pshm__seg_new(int fd, const char *name, size_t size, bool writable, bool map,
		  pshm_seg **out)
{
	pshm_seg *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = map ? map_fd(fd, size, writable, &s->addr) : 0;
	if (r < 0) {
		free(s);
		return r;
	}
	s->fd = fd;
	s->size = size;
	s->writable = writable;
	s->nomap = !map;
	if (name) {
		pshm_name_canon(name, s->name, sizeof(s->name));
		/* Presence (live.c): held while this handle lives, so that
		 * pshm_seg_held() sees it from any process. Best effort: a
		 * filesystem that refuses the lock only makes us invisible. */
		if (fd >= 0)
			(void)pshm__lock_take(fd, PSHM__LOCK_PRESENCE, false);
	}
	*out = s;
	return 0;
}

int pshm__seg_backed(int fd, uint64_t len)
{
	/* Allocated blocks, not SEEK_HOLE: tmpfs reports the pages that
	 * fallocate() reserved (every pshm segment's) as holes until written.
	 * Blocks allocated past the end (FALLOC_FL_KEEP_SIZE) can make a
	 * sparse file pass, but then its owner has paid for as much room as a
	 * reader can allocate through its holes. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < len)
		return -ENODATA;
	return (uint64_t)st.st_blocks * 512 >= len ? 0 : -ENODATA;
}

int pshm_seg_open(const char *name, unsigned flags, pshm_seg **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (flags & ~(unsigned)SEG_FLAGS)
		return -EINVAL;
	bool rw = !(flags & PSHM_RDONLY);
	struct stat st;
	int fd = pshm__open_regular(name, rw ? O_RDWR : O_RDONLY, &st);
	if (fd < 0)
		return fd;
	int r = pshm__seg_policy(&st, flags);
	if (r == 0 && (uintmax_t)st.st_size > SIZE_MAX)
		r = -EFBIG;
	if (r == 0)
		r = pshm__seg_new(fd, name, (size_t)st.st_size, rw, !(flags & PSHM_NOMAP), out);
	if (r < 0)
		close(fd);
	return r;
}

/* Reserve [0, size) so that a full /dev/shm fails now, not with SIGBUS later. */
static int reserve(int fd, size_t size)
{
	if (size > (size_t)INT64_MAX)
		return -EFBIG;
	int e = posix_fallocate(fd, 0, (off_t)size);
	return e ? -e : 0;
}

/* PSHM_OPEN_EXISTING: open what is there (policy checked), grow it to @size. */
static int open_grow(const char *name, size_t size, unsigned flags, pshm_seg **out)
{
	int r = pshm_seg_open(name, flags, out);
	if (r == 0 && pshm_seg_size(*out) < size && (r = pshm_seg_resize(*out, size)) < 0) {
		pshm_seg_close(*out);
		*out = NULL;
	}
	return r;
}

int pshm_seg_create(const char *name, size_t size, mode_t mode, unsigned flags,
		    pshm_seg **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (size == 0 || (mode & ~(mode_t)07777) || (flags & ~(unsigned)SEG_FLAGS))
		return -EINVAL;
	/* A new segment is always mapped read-write: it is ours to fill. */
	flags &= ~(unsigned)(PSHM_RDONLY | PSHM_NOMAP);
	int r = 0;
	/* With PSHM_OPEN_EXISTING, the name may vanish between our failed
	 * create and our open (or appear between the two): try a few times. */
	for (int tries = 0; tries < 8; tries++) {
		r = pshm__seg_create_init(name, size, mode, NULL, NULL, out);
		if (r != -EEXIST || !(flags & PSHM_OPEN_EXISTING))
			break;
		r = open_grow(name, size, flags, out);
		if (r != -ENOENT)
			break;
	}
	return r;
}

/* Link the unnamed file @fd into /dev/shm as @leaf; -EEXIST if taken. */
static int link_tmpfile(int fd, int dfd, const char *leaf)
{
	if (linkat(fd, "", dfd, leaf, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == EEXIST)
		return taken_errno(dfd, leaf);
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	/* Without CAP_DAC_READ_SEARCH, AT_EMPTY_PATH is refused; the
	 * /proc/self/fd link is the unprivileged way to name an O_TMPFILE. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, path, dfd, leaf, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return errno == EEXIST ? taken_errno(dfd, leaf) : -errno;
}

int pshm__seg_create_init(const char *name, size_t size, mode_t mode,
			  pshm__init_fn init, void *arg, pshm_seg **out)
{
	if (!out || size == 0 || (mode & ~(mode_t)07777))
		return -EINVAL;
	*out = NULL;
	int dfd = checked_dirfd(name);
	if (dfd < 0)
		return dfd;
	int r, fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode ? mode : 0600);
	if (fd < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	pshm_seg *s = NULL;
	r = pshm__err(fchmod(fd, mode ? mode : 0600));
	if (r == 0)
		r = reserve(fd, size);
	if (r == 0)
		r = pshm__seg_new(fd, name, size, true, true, &s);
	if (r == 0 && init)
		r = init(s->addr, size, arg);
	if (r == 0)
		r = link_tmpfile(fd, dfd, pshm__leaf(name));
	close(dfd);
	if (r < 0) {
		if (s)
			pshm_seg_close(s);
		else
			close(fd);
		return r;
	}
	*out = s;
	return 0;
}

/* PSHM_OPEN_EXISTING found @name taken: is it of the kind @check accepts? */
static int check_existing(const char *name, unsigned flags, size_t hdr_len, pshm__hdr_fn check)
{
	pshm_seg *seg;
	int r = pshm_seg_open(name, PSHM_RDONLY | PSHM_NOMAP |
				    (flags & (PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)), &seg);
	if (r < 0)
		return r;
	union {
		uint64_t align;
		unsigned char b[4096];
	} hdr;
	r = pshm__seg_pread_full(seg, hdr.b, hdr_len, 0);
	if (r == 0)
		r = check(hdr.b, pshm_seg_size(seg));
	pshm_seg_close(seg);
	return r;
}

int pshm__create_kind(const char *name, size_t size, mode_t mode, unsigned flags,
		      pshm__init_fn init, void *arg, size_t hdr_len, pshm__hdr_fn check)
{
	if ((mode & ~(mode_t)07777) || hdr_len > 4096 ||
	    (flags & ~(unsigned)(PSHM_OPEN_EXISTING | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)))
		return -EINVAL;
	int r = pshm_name_check(name);
	if (r < 0)
		return r;
	for (int tries = 0; tries < 8; tries++) {
		pshm_seg *seg;
		r = pshm__seg_create_init(name, size, mode, init, arg, &seg);
		if (r == 0)
			pshm_seg_close(seg);
		if (r != -EEXIST || !(flags & PSHM_OPEN_EXISTING))
			break;
		r = check_existing(name, flags, hdr_len, check);
		if (r != -ENOENT)
			break;
	}
	return r;
}

int pshm_seg_anon(size_t size, pshm_seg **out)
{
	if (!out || size == 0)
		return -EINVAL;
	*out = NULL;
	return pshm__seg_new(-1, NULL, size, true, true, out);
}

void pshm_seg_close(pshm_seg *seg)
{
	if (!seg)
		return;
	int e = errno;
	if (seg->addr)
		munmap(seg->addr, seg->size);
	if (seg->fd >= 0)
		close(seg->fd);
	free(seg);
	errno = e;
}

void *pshm_seg_addr(const pshm_seg *seg)
{
	return seg ? seg->addr : NULL;
}

size_t pshm_seg_size(const pshm_seg *seg)
{
	return seg ? seg->size : 0;
}

int pshm_seg_fd(const pshm_seg *seg)
{
	return seg ? seg->fd : -1;
}

const char *pshm_seg_name(const pshm_seg *seg)
{
	return seg && seg->name[0] ? seg->name : NULL;
}

/* Map the segment's first @size bytes instead of what is mapped now. */
static int remap(pshm_seg *seg, size_t size)
{
	void *p = seg->addr ? mremap(seg->addr, seg->size, size, MREMAP_MAYMOVE)
			    : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	seg->addr = p;
	seg->size = size;
	return 0;
}

/* The file's size now, to put it back after a failed remap. */
static off_t file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

/*
 * The file must never be shorter than the mapping (touching the difference
 * is SIGBUS), so a shrink unmaps first and a growth maps last; a failed
 * remap puts the file back as it was, so the handle and the file agree.
 */
static int resize_mapped(pshm_seg *seg, size_t size)
{
	size_t old = seg->size;
	int r;
	if (size < old) {
		r = remap(seg, size);
		if (r == 0 && (r = pshm__err(ftruncate(seg->fd, (off_t)size))) < 0)
			remap(seg, old); /* the file kept its size: map it whole again */
		return r;
	}
	off_t before = file_size(seg->fd);
	r = reserve(seg->fd, size);
	if (r == 0 && (r = remap(seg, size)) < 0 && before >= 0 && (uintmax_t)before < size)
		(void)!ftruncate(seg->fd, before);
	return r;
}

int pshm_seg_resize(pshm_seg *seg, size_t size)
{
	if (!seg || seg->fd < 0 || size == 0)
		return -EINVAL;
	if (!seg->writable)
		return -EBADF;
	if (!seg->nomap)
		return resize_mapped(seg, size);
	/* Opened with PSHM_NOMAP: only the file changes. */
	int r = size > seg->size ? reserve(seg->fd, size)
				 : pshm__err(ftruncate(seg->fd, (off_t)size));
	if (r == 0)
		seg->size = size;
	return r;
}

ssize_t pshm_seg_pread(const pshm_seg *seg, void *buf, size_t len, uint64_t off)
{
	if (!seg || seg->fd < 0 || off > INT64_MAX)
		return -EINVAL;
	ssize_t n;
	do
		n = pread(seg->fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int pshm__seg_pread_full(const pshm_seg *seg, void *buf, size_t n, uint64_t off)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = pshm_seg_pread(seg, (char *)buf + got, n - got, off + got);
		if (k < 0)
			return (int)k;
		if (k == 0)
			return -EPROTO;
		got += (size_t)k;
	}
	return 0;
}

ssize_t pshm_seg_pwrite(pshm_seg *seg, const void *buf, size_t len, uint64_t off)
{
	if (!seg || seg->fd < 0 || off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	size_t done;
	int r = pshm__pwrite_all(seg->fd, buf, len, off, &done);
	return done || r == 0 ? (ssize_t)done : r;
}

int pshm__pwrite_all(int fd, const void *buf, size_t len, uint64_t off, size_t *done)
{
	size_t n = 0;
	int r = 0;
	while (r == 0 && n < len) {
		ssize_t k = pwrite(fd, (const char *)buf + n, len - n, (off_t)(off + n));
		if (k > 0)
			n += (size_t)k;
		else if (k == 0)
			r = -ENOSPC;
		else if (errno != EINTR)
			r = -errno;
	}
	if (done)
		*done = n;
	return r;
}

int pshm_seg_unlink(const char *name)
{
	struct stat st;
	int dfd = pshm__lookup(name, &st);
	if (dfd < 0)
		return dfd;
	/* Between the check and the unlink the entry may be swapped for a
	 * symlink: unlinkat() removes a link itself, never its target. */
	int r = S_ISREG(st.st_mode) ? pshm__err(unlinkat(dfd, pshm__leaf(name), 0)) : -ENOTSUP;
	close(dfd);
	return r;
}
