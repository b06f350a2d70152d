/* SPDX-License-Identifier: MIT */
/*
 * remove.c — removing a name only when it is what the caller examined:
 * the very file (device and inode), unchanged, or of the expected kind.
 *
 * Linux has no "unlink this descriptor", so the check and the unlinkat()
 * are two steps; in the sticky /dev/shm only the owner of the name (or
 * root) can swap it in between, and unlinkat() never follows a symlink.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int pshm__unlink_same(int dfd, const char *leaf, const struct stat *was, bool unchanged)
{
	struct stat now;
	if (fstatat(dfd, leaf, &now, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(now.st_mode))
		return -ENOTSUP;
	if (now.st_dev != was->st_dev || now.st_ino != was->st_ino)
		return -ESTALE;
	if (unchanged && (now.st_size != was->st_size ||
			  now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
			  now.st_mtim.tv_nsec != was->st_mtim.tv_nsec))
		return -ESTALE;
	return pshm__err(unlinkat(dfd, leaf, 0));
}

int pshm_seg_unlink_same(const char *name, const struct pshm_stat *st)
{
	int r = pshm_name_check(name);
	if (r < 0)
		return r;
	if (!st)
		return -EINVAL;
	int dfd = pshm__dirfd();
	if (dfd < 0)
		return dfd;
	struct stat was;
	memset(&was, 0, sizeof(was));
	was.st_dev = (dev_t)st->dev;
	was.st_ino = (ino_t)st->ino;
	was.st_size = (off_t)st->size;
	was.st_mtim.tv_sec = (time_t)st->mtime_sec;
	was.st_mtim.tv_nsec = st->mtime_nsec;
	r = pshm__unlink_same(dfd, pshm__leaf(name), &was, true);
	close(dfd);
	return r;
}

/* Remove @name if its first bytes say it is of @kind (-EPROTO if not), and
 * only if the name still refers to the file that was read. */
static int unlink_kind(const char *name, unsigned kind)
{
	struct stat st;
	int fd = pshm__open_regular(name, O_RDONLY, &st);
	if (fd < 0)
		return fd;
	int r = pshm__kind_of_fd(fd) == kind ? 0 : -EPROTO;
	close(fd);
	if (r < 0)
		return r;
	int dfd = pshm__dirfd();
	if (dfd < 0)
		return dfd;
	r = pshm__unlink_same(dfd, pshm__leaf(name), &st, false);
	close(dfd);
	return r;
}

int pshm_chan_unlink(const char *name)
{
	return unlink_kind(name, PSHM_KIND_CHAN);
}

int pshm_topic_unlink(const char *name)
{
	return unlink_kind(name, PSHM_KIND_TOPIC);
}

int pshm_box_unlink(const char *name)
{
	return unlink_kind(name, PSHM_KIND_BOX);
}

int pshm_service_unlink(const char *name)
{
	return unlink_kind(name, PSHM_KIND_SERVICE);
}
