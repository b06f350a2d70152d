/* SPDX-License-Identifier: MIT */
/*
 * chan_batch.c — sending and receiving several channel messages per call.
 */
#include <sys/uio.h>

#include "chan.h"

ssize_t pshm_chan_send_batch(pshm_chan *ch, const struct iovec *msgs, size_t n,
			     int64_t timeout_ns)
{
	(void)ch, (void)msgs, (void)n, (void)timeout_ns;
	return -ENOSYS;
}

ssize_t pshm_chan_recv_batch(pshm_chan *ch, void *buf, size_t cap, size_t *lens,
			     size_t max_msgs, int64_t timeout_ns)
{
	(void)ch, (void)buf, (void)cap, (void)lens, (void)max_msgs, (void)timeout_ns;
	return -ENOSYS;
}

ssize_t pshm_chan_peek_batch(pshm_chan *ch, struct iovec *msgs, size_t max_msgs,
			     int64_t timeout_ns)
{
	(void)ch, (void)msgs, (void)max_msgs, (void)timeout_ns;
	return -ENOSYS;
}

int pshm_chan_tuning(struct pshm_chan_tuning *t)
{
	if (!t)
		return -EINVAL;
	*t = (struct pshm_chan_tuning){ .spin_ns = PSHM_SPIN_DEFAULT_NS,
					.spin_source = PSHM_TUNE_FALLBACK,
					.copy_source = PSHM_TUNE_FALLBACK };
	return 0;
}
