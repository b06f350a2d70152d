/* SPDX-License-Identifier: MIT */
/*
 * chan_consumer.c — print the messages of a channel until its producers
 * are gone.
 *
 *   chan_consumer NAME
 *
 * Reads in place (zero copy): pshm_chan_peek() points into the ring, and
 * pshm_chan_release() frees the message once it has been printed. A
 * message peeked but not released when this process dies goes to the next
 * consumer instead of being lost.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <pshm.h>

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s NAME\n"
		   "Print the messages of the channel NAME until its producers are gone.\n"
		   "-h, --help: this help.\n", prog);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		usage(stderr, argv[0]);
		return 2;
	}
	pshm_chan *ch;
	int r = pshm_chan_open(argv[1], PSHM_CONSUMER, 0, &ch);
	if (r < 0) {
		fprintf(stderr, "open %s: %s\n", argv[1], pshm_strerror(r));
		return 1;
	}
	for (;;) {
		const void *msg;
		ssize_t n = pshm_chan_peek(ch, &msg, PSHM_FOREVER);
		if (n == -EPIPE)
			break; /* every producer came and went, nothing is left */
		if (n < 0) {
			fprintf(stderr, "receive: %s\n", pshm_strerror((int)n));
			pshm_chan_close(ch);
			return 1;
		}
		printf("%.*s\n", (int)n, (const char *)msg);
		fflush(stdout);
		pshm_chan_release(ch);
	}
	pshm_chan_close(ch);
	return 0;
}
