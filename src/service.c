/* SPDX-License-Identifier: MIT */
/* service.c — services (placeholder while the implementation lands). */
#include "internal.h"

int pshm_service_create(const char *name, const struct pshm_service_config *cfg, mode_t mode,
			unsigned flags)
{
	(void)name, (void)cfg, (void)mode, (void)flags;
	return -ENOSYS;
}
int pshm_service_unlink(const char *name) { (void)name; return -ENOSYS; }
int pshm_service_open(const char *name, unsigned role, unsigned flags, pshm_service **out)
{
	(void)name, (void)role, (void)flags, (void)out;
	return -ENOSYS;
}
void pshm_service_close(pshm_service *svc) { (void)svc; }
size_t pshm_service_max_request(const pshm_service *svc) { (void)svc; return 0; }
size_t pshm_service_max_reply(const pshm_service *svc) { (void)svc; return 0; }
ssize_t pshm_service_call(pshm_service *cli, const void *req, size_t len, void *reply,
			  size_t cap, int64_t timeout_ns)
{
	(void)cli, (void)req, (void)len, (void)reply, (void)cap, (void)timeout_ns;
	return -ENOSYS;
}
ssize_t pshm_service_call_name(const char *name, unsigned flags, const void *req, size_t len,
			       void *reply, size_t cap, int64_t timeout_ns)
{
	(void)name, (void)flags, (void)req, (void)len, (void)reply, (void)cap, (void)timeout_ns;
	return -ENOSYS;
}
int pshm_service_send(pshm_service *cli, const void *req, size_t len, uint64_t *id)
{
	(void)cli, (void)req, (void)len, (void)id;
	return -ENOSYS;
}
ssize_t pshm_service_collect(pshm_service *cli, uint64_t *id, void *reply, size_t cap,
			     int64_t timeout_ns)
{
	(void)cli, (void)id, (void)reply, (void)cap, (void)timeout_ns;
	return -ENOSYS;
}
int pshm_service_cancel(pshm_service *cli, uint64_t id) { (void)cli, (void)id; return -ENOSYS; }
ssize_t pshm_service_recv(pshm_service *srv, void *buf, size_t cap,
			  struct pshm_service_req *req, int64_t timeout_ns)
{
	(void)srv, (void)buf, (void)cap, (void)req, (void)timeout_ns;
	return -ENOSYS;
}
int pshm_service_reply(pshm_service *srv, uint64_t id, const void *rep, size_t len)
{
	(void)srv, (void)id, (void)rep, (void)len;
	return -ENOSYS;
}
int pshm_service_fail(pshm_service *srv, uint64_t id, const char *msg)
{
	(void)srv, (void)id, (void)msg;
	return -ENOSYS;
}
int pshm_service_stat(const char *name, struct pshm_service_info *info)
{
	(void)name, (void)info;
	return -ENOSYS;
}
