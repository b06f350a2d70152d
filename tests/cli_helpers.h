/* SPDX-License-Identifier: MIT */
/*
 * cli_helpers.h — running the pshm command from a CLI test file: stdout
 * and stderr of the last run in `out` and `err`. Header only (static), so
 * each test binary that includes it has its own copy.
 */
#ifndef PSHM_TEST_CLI_HELPERS_H
#define PSHM_TEST_CLI_HELPERS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"

static char *out, *err;

/* "pshm ARGS" (formatted) through the shell. Returns the exit status. */
__attribute__((format(printf, 2, 3), unused)) static int pshm(const char *in, const char *fmt,
							       ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(out);
	free(err);
	int r = th_vpshm(in, &out, &err, fmt, ap);
	va_end(ap);
	return r;
}

/* A shell script in which $P is the pshm command and $Q the name @q. */
__attribute__((unused)) static int script(const char *q, const char *body)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "P='%s'; Q='%s'; %s", PSHM_BIN, q, body);
	free(out);
	free(err);
	return th_run(cmd, NULL, &out, &err);
}

#endif
