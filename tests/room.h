/* SPDX-License-Identifier: MIT */
/*
 * room.h — tests that need room in /dev/shm skip themselves, saying how
 * much, when it is not there (Docker gives containers 64 MiB). Header
 * only: include it after <criterion/criterion.h>.
 */
#ifndef PSHM_TEST_ROOM_H
#define PSHM_TEST_ROOM_H

#include <stdint.h>
#include <stdio.h>
#include <sys/statvfs.h>

/* Bytes free in /dev/shm for an unprivileged writer; UINT64_MAX if unknown. */
static inline uint64_t th_shm_free(void)
{
	struct statvfs sv;
	if (statvfs("/dev/shm", &sv) != 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Skip the running test unless /dev/shm has @mib MiB free. */
#define TH_NEED_SHM_MIB(mib)                                                              \
	do {                                                                              \
		uint64_t th_free_ = th_shm_free();                                        \
		if (th_free_ < (uint64_t)(mib) << 20) {                                   \
			/* on stderr too: Criterion shows skip reasons only with --verbose */ \
			fprintf(stderr, "%s: skipped: needs %d MiB free in /dev/shm, %llu MiB free\n", \
				__func__, (int)(mib), (unsigned long long)(th_free_ >> 20));   \
			th_skip("needs %d MiB free in /dev/shm, %llu MiB free",     \
				     (int)(mib), (unsigned long long)(th_free_ >> 20));  \
		}                                                                         \
	} while (0)

#endif
