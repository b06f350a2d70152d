/* SPDX-License-Identifier: MIT */
/*
 * chan_producer.c — send numbered messages to a channel.
 *
 *   chan_producer NAME [COUNT]
 *
 * Creates the channel NAME if it does not exist yet (an existing channel
 * is used as it is), then sends COUNT messages (default 10), waiting
 * whenever the channel is full. Run chan_consumer NAME in another
 * terminal, before or after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pshm.h>

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s NAME [COUNT]\n"
		   "Send COUNT numbered messages (default 10) to the channel NAME,\n"
		   "creating it if needed. -h, --help: this help.\n", prog);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		usage(stderr, argv[0]);
		return 2;
	}
	const char *name = argv[1];
	long count = 10;
	if (argc == 3) {
		char *end;
		errno = 0;
		count = strtol(argv[2], &end, 10);
		if (errno || end == argv[2] || *end || count < 0) {
			fprintf(stderr, "%s: bad count '%s'\n", argv[0], argv[2]);
			usage(stderr, argv[0]);
			return 2;
		}
	}

	struct pshm_chan_config cfg = { .ring_size = 64 * 1024, .max_msg = 1024 };
	int r = pshm_chan_create(name, &cfg, 0600, PSHM_OPEN_EXISTING);
	if (r < 0) {
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
