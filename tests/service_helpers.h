/* SPDX-License-Identifier: MIT */
/*
 * service_helpers.h — shared by the Criterion suites of the service API
 * (test_service.c, test_service_crash.c, test_service_hostile.c). Header
 * only (static), one copy per test binary.
 */
#ifndef PSHM_TEST_SERVICE_HELPERS_H
#define PSHM_TEST_SERVICE_HELPERS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "pshm.h"

#define MS INT64_C(1000000)

/* Create a service named after @tag (@cfg may be NULL), asserting it
 * worked; returns its name. */
static inline const char *mksvc(const char *tag, const struct pshm_service_config *cfg)
{
	const char *n = th_name(tag);
	int r = pshm_service_create(n, cfg, 0, 0);
	cr_assert_eq(r, 0, "create %s: %s", n, pshm_strerror(r));
	return n;
}

/* Open service @n in @role, asserting it worked. */
static inline pshm_service *svc_open(const char *n, unsigned role)
{
	pshm_service *s = NULL;
	int r = pshm_service_open(n, role, 0, &s);
	cr_assert_eq(r, 0, "open %s as %u: %s", n, role, pshm_strerror(r));
	return s;
}

/*
 * Serve requests on @srv until one is "quit" (or @max requests): each
 * reply is the request with "re:" in front and the server's @tag after,
 * so a client can tell which request and which server it came from.
 * Returns how many were answered.
 */
static inline int echo_serve(pshm_service *srv, int max, char tag, int64_t timeout)
{
	int n = 0;
	while (n < max) {
		char buf[512], out[600];
		struct pshm_service_req rq;
		ssize_t len = pshm_service_recv(srv, buf, sizeof(buf) - 1, &rq, timeout);
		if (len < 0)
			break;
		buf[len] = 0;
		int m = snprintf(out, sizeof(out), "re:%s%c", buf, tag);
		pshm_service_reply(srv, rq.id, out, (size_t)m);
		n++;
		if (!strcmp(buf, "quit"))
			break;
	}
	return n;
}

#endif
