/*
 * chan_producer.c — send numbered messages to a channel.
 *
 *   chan_producer NAME [COUNT]
 *
 * Creates the channel NAME if it does not exist yet, then sends COUNT
 * messages (default 10), waiting whenever the channel is full. Run
 * chan_consumer NAME in another terminal, before or after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <pshm.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s NAME [COUNT]\n", argv[0]);
		return 2;
	}
	const char *name = argv[1];
	long count = argc == 3 ? strtol(argv[2], NULL, 10) : 10;

	struct pshm_chan_config cfg = { .ring_size = 64 * 1024, .max_msg = 1024 };
	int r = pshm_chan_create(name, &cfg);
	if (r < 0 && r != -EEXIST) {
		fprintf(stderr, "create %s: %s\n", name, pshm_strerror(r));
		return 1;
	}
	pshm_chan *ch;
	r = pshm_chan_open(name, PSHM_PRODUCER, 0, &ch);
	if (r < 0) {
		fprintf(stderr, "open %s: %s\n", name, pshm_strerror(r));
		return 1;
	}
	for (long i = 1; i <= count && r == 0; i++) {
		char msg[64];
		int len = snprintf(msg, sizeof(msg), "message %ld of %ld", i, count);
		/* Waits while the ring is full; -EPIPE if the consumer left. */
		r = pshm_chan_send(ch, msg, (size_t)len, PSHM_FOREVER);
	}
	if (r < 0)
		fprintf(stderr, "send: %s\n", pshm_strerror(r));
	pshm_chan_close(ch); /* the consumer gets -EPIPE once it has read all */
	return r < 0;
}
