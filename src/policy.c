/* SPDX-License-Identifier: MIT */
/*
 * policy.c — the owner/mode policy every open applies, and the question
 * "which PSHM_ALLOW_* flag would let this segment pass?", asked in one
 * place so that callers never re-stat a segment to guess why it failed.
 */
#include <unistd.h>

#include "internal.h"

#define ALL_FLAGS (PSHM_OPEN_EXISTING | PSHM_RDONLY | PSHM_ALLOW_FOREIGN | \
		   PSHM_ALLOW_SHARED_WRITE | PSHM_NOMAP | PSHM_BOX_UNCHECKED)

/* The PSHM_ALLOW_* flags a regular file needs to pass the policy. */
static unsigned policy_needs(const struct stat *st)
{
	unsigned need = 0;
	if (st->st_uid != geteuid())
		need |= PSHM_ALLOW_FOREIGN;
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		need |= PSHM_ALLOW_SHARED_WRITE;
	return need;
}

int pshm__seg_policy(const struct stat *st, unsigned flags)
{
	if (!S_ISREG(st->st_mode))
		return -ENOTSUP;
	return policy_needs(st) & ~flags ? -EPERM : 0;
}

int pshm_seg_check(const char *name, unsigned flags, unsigned *missing)
{
	if (missing)
		*missing = 0;
	if (flags & ~(unsigned)ALL_FLAGS)
		return -EINVAL;
	struct stat st;
	int dfd = pshm__lookup(name, &st);
	if (dfd < 0)
		return dfd;
	close(dfd);
	if (!S_ISREG(st.st_mode))
		return -ENOTSUP;
	unsigned miss = policy_needs(&st) & ~flags;
	if (missing)
		*missing = miss;
	return miss ? -EPERM : 0;
}
