/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kind.c — libFuzzer harness for kind detection (stat.c), which reads
 * the first bytes of any segment in /dev/shm to tell a box, a channel or a
 * raw segment apart. The bytes are put in a memfd (no /dev/shm involved).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("fuzz_kind", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	unsigned k = pshm__kind_of_fd(fd);
	if (k != PSHM_KIND_RAW && k != PSHM_KIND_BOX && k != PSHM_KIND_CHAN && k != PSHM_KIND_TOPIC &&
	    k != PSHM_KIND_SERVICE)
		abort();
	if (k != PSHM_KIND_RAW && size < 8)
		abort();
	return 0;
}
