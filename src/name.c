/* SPDX-License-Identifier: MIT */
/*
 * name.c — segment names, following shm_open(3)'s rules (as musl does).
 */
#include <string.h>

#include "internal.h"

int pshm_name_check(const char *name)
{
	if (!name)
		return -EINVAL;
	if (*name == '/')
		name++;
	size_t n = strnlen(name, PSHM_NAME_MAX + 1);
	if (n == 0 || strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (n > PSHM_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

const char *pshm__leaf(const char *name)
{
	return *name == '/' ? name + 1 : name;
}

int pshm_name_canon(const char *name, char *buf, size_t len)
{
	int r = pshm_name_check(name);
	if (r < 0)
		return r;
	const char *leaf = pshm__leaf(name);
	size_t n = strlen(leaf);
	if (!buf || len < n + 2)
		return -ERANGE;
	buf[0] = '/';
	memcpy(buf + 1, leaf, n + 1);
	return (int)n + 1;
}
