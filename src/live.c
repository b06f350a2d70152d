/* SPDX-License-Identifier: MIT */
/*
 * live.c — is a process or thread recorded in a segment still running?
 *
 * Channels record a peer's pid and start time (field 22 of /proc/PID/stat,
 * clock ticks after boot), so a reused pid is told apart from its first
 * owner; boxes record the writing thread's id and only ask whether it
 * exists. Where /proc cannot tell, kill(pid, 0) does: it fails with ESRCH
 * for a pid nobody holds, EPERM for someone else's live process.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* PID_MAX_LIMIT on 64-bit Linux: no pid or tid is ever larger. */
#define PID_LIMIT 4194304

/*
 * Read /proc/PID/stat: 1 and the start time (field 22) if the process
 * exists and is not a zombie, 0 if it is gone, -errno if /proc is unusable.
 */
static int proc_start(pid_t pid, uint64_t *start)
{
	char path[40], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	if (*p == 'Z' || *p == 'X' || *p == 'x')
		return 0;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 1;
}

uint64_t pshm__live_self_start(void)
{
	uint64_t s = 0;
	return proc_start(getpid(), &s) == 1 ? s : 0;
}

bool pshm__live_tid(pid_t tid)
{
	if (tid <= 0 || tid > PID_LIMIT)
		return false;
	return kill(tid, 0) == 0 || errno == EPERM;
}

bool pshm__live_proc(pid_t pid, uint64_t start)
{
	if (pid <= 0 || pid > PID_LIMIT)
		return false;
	uint64_t now = 0;
	int r = proc_start(pid, &now);
	if (r < 0)
		return pshm__live_tid(pid);
	return r == 1 && (start == 0 || start == now);
}
