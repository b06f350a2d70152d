/* SPDX-License-Identifier: MIT */
/*
 * strerror.c — one message for every code pshm returns.
 */
#include <limits.h>
#include <string.h>

#include "internal.h"

const char *pshm_version(void)
{
	return PSHM_VERSION_STRING;
}

const char *pshm_strerror(int err)
{
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	/* Codes whose meaning in pshm is narrower than libc's generic text. */
	switch (err) {
	case 0: return "success";
	case EBADMSG: return "integrity check failed: the data was changed behind pshm's back";
	case EPROTO: return "not a pshm segment of the expected format, or a corrupted header";
	case EPERM: return "not permitted: refused by the safety policy (segment owned by another user or writable by group/others), or, for a removal, another user's segment in the sticky /dev/shm";
	case EFAULT: return "the segment was truncated while being read";
	case ENOTSUP: return "not a regular file (symlink, directory, FIFO, ...): refused";
	case EPIPE: return "the peer is gone";
	case EMSGSIZE: return "message or value too large for this channel or box";
	case EEXIST: return "segment already exists";
	case ENOENT: return "no such segment";
	case ENOSPC: return "no space left in /dev/shm";
	case EINVAL: return "invalid argument or segment name";
	case ENAMETOOLONG: return "segment name too long";
	case ENODATA: return "the segment's file has holes where its header claims data (a sparse file): refused";
	case ESTALE: return "the segment changed since it was examined: nothing removed";
	}
	/* strerror() may use a shared buffer for unknown codes; strerrorname-
	 * style descriptions from the static table are all we need here. */
	const char *s = strerrordesc_np(err);
	return s ? s : "unknown error";
}
