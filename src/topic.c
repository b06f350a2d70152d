/* SPDX-License-Identifier: MIT */
/* topic.c — topics (temporary stubs: the API compiles, nothing works yet). */
#include "internal.h"

int pshm_topic_create(const char *name, const struct pshm_topic_config *cfg, mode_t mode,
		      unsigned flags)
{
	(void)name, (void)cfg, (void)mode, (void)flags;
	return -ENOSYS;
}

int pshm_topic_unlink(const char *name)
{
	(void)name;
	return -ENOSYS;
}

int pshm_topic_open(const char *name, unsigned role, unsigned flags, pshm_topic **out)
{
	(void)name, (void)role, (void)flags, (void)out;
	return -ENOSYS;
}

int pshm_topic_subscribe(const char *name, unsigned flags, pshm_topic **out)
{
	return pshm_topic_open(name, PSHM_SUBSCRIBER, flags, out);
}

void pshm_topic_close(pshm_topic *t) { (void)t; }
int pshm_topic_set_wait(pshm_topic *t, unsigned wait, uint64_t spin_ns)
{
	(void)t, (void)wait, (void)spin_ns;
	return -ENOSYS;
}
size_t pshm_topic_max_msg(const pshm_topic *t) { (void)t; return 0; }
uint64_t pshm_topic_slots(const pshm_topic *t) { (void)t; return 0; }
int pshm_topic_publish(pshm_topic *t, const void *msg, size_t len, int64_t timeout_ns)
{
	(void)t, (void)msg, (void)len, (void)timeout_ns;
	return -ENOSYS;
}
int pshm_topic_reserve(pshm_topic *t, size_t len, void **ptr, int64_t timeout_ns)
{
	(void)t, (void)len, (void)ptr, (void)timeout_ns;
	return -ENOSYS;
}
int pshm_topic_commit(pshm_topic *t, size_t len) { (void)t, (void)len; return -ENOSYS; }
ssize_t pshm_topic_recv(pshm_topic *t, void *buf, size_t cap, int64_t timeout_ns)
{
	(void)t, (void)buf, (void)cap, (void)timeout_ns;
	return -ENOSYS;
}
ssize_t pshm_topic_peek(pshm_topic *t, const void **ptr, int64_t timeout_ns)
{
	(void)t, (void)ptr, (void)timeout_ns;
	return -ENOSYS;
}
int pshm_topic_release(pshm_topic *t) { (void)t; return -ENOSYS; }
uint64_t pshm_topic_missed(const pshm_topic *t) { (void)t; return 0; }
uint64_t pshm_topic_seq(const pshm_topic *t) { (void)t; return 0; }
int pshm_topic_fd(pshm_topic *t) { (void)t; return -ENOSYS; }
int pshm_topic_stat(const char *name, struct pshm_topic_info *info)
{
	(void)name, (void)info;
	return -ENOSYS;
}
