/*
 * cli/chan.c — `pshm chan create|stat`, `pshm send`, `pshm recv`, and the
 * one-line description of a channel for `pshm ls` / `pshm stat`.
 *
 * send and recv make channels usable from the shell: each line a message,
 * so `producer | pshm send q` and `pshm recv q --follow | consumer` connect
 * two unrelated pipelines.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli.h"

#define NS_PER_S 1000000000.0
/* recv waits in slices this long, to notice a SIGINT or SIGTERM that
 * arrives while it spins rather than sleeps. */
#define SLICE_NS INT64_C(100000000)

static int64_t timeout_ns(double s)
{
	return s * NS_PER_S >= (double)INT64_MAX ? PSHM_FOREVER : (int64_t)(s * NS_PER_S);
}

/* ---- pshm chan create ------------------------------------------------- */

static void create_usage(FILE *f)
{
	fprintf(f, "usage: pshm chan create NAME [--size SIZE] [--max-msg SIZE] [--mpsc]\n"
		   "                        [--producers N] [--mode MODE]\n\n"
		   "Create a message channel (it must not exist).\n\n"
		   "  -s, --size SIZE      ring size, a power of two (default 1M)\n"
		   "  -m, --max-msg SIZE   largest message (default a quarter of the ring)\n"
		   "      --mpsc           many producers (default: one producer)\n"
		   "  -p, --producers N    with --mpsc, producers attached at once (default %d)\n"
		   "      --mode MODE      permissions, in octal (default 0600)\n",
		PSHM_CHAN_MAX_PRODUCERS);
}

static int chan_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "max-msg", required_argument, NULL, 'm' },
		{ "mpsc", no_argument, NULL, 'M' },
		{ "producers", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct pshm_chan_config cfg = { 0 };
	const char *name = NULL;
	uint64_t v;
	mode_t perm, mode = 0;
	int c;
	/* "-": operands come back in order as code 1, so options may follow
	 * the name, and nothing is permuted. */
	cli_opt_start();
	while ((c = getopt_long(argc, argv, "-:s:m:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (name)
				return cli_usage("chan create", "expected one channel name");
			name = optarg;
			break;
		case 's':
			if (cli_parse_size(optarg, &v) < 0 || v == 0 || (v & (v - 1)))
				return cli_usage("chan create", "bad size '%s' (a power of two, e.g. 1M)", optarg);
			cfg.ring_size = v;
			break;
		case 'm':
			if (cli_parse_size(optarg, &v) < 0 || v == 0)
				return cli_usage("chan create", "bad message size '%s'", optarg);
			cfg.max_msg = v;
			break;
		case 'M':
			cfg.mode = PSHM_CHAN_MPSC;
			break;
		case 'p':
			if (cli_parse_size(optarg, &v) < 0 || v == 0 || v > PSHM_CHAN_MAX_PRODUCERS)
				return cli_usage("chan create", "bad producer count '%s' (1 to %d)", optarg,
						 PSHM_CHAN_MAX_PRODUCERS);
			cfg.max_producers = (unsigned)v;
			break;
		case 'o':
			if (cli_parse_mode(optarg, &perm) < 0)
				return cli_usage("chan create", "bad mode '%s' (octal, 1 to 777)", optarg);
			mode = perm;
			break;
		case 'h':
			create_usage(stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("chan create", c, argv);
		}
	}
	if (!name || optind != argc)
		return cli_usage("chan create", "expected one channel name");
	if (cfg.max_producers && cfg.mode != PSHM_CHAN_MPSC)
		return cli_usage("chan create", "--producers needs --mpsc");
	int r = pshm_chan_create(name, &cfg, mode, 0);
	return r < 0 ? cli_fail("create channel", name, r) : EXIT_OK;
}

/* ---- pshm chan stat ----------------------------------------------------- */

static const char *mode_name(unsigned mode)
{
	return mode == PSHM_CHAN_MPSC ? "mpsc" : "spsc";
}

static void stat_text(const char *name, const struct pshm_chan_info *in)
{
	char a[16], b[16], m[16], esc[CLI_ESC_MAX];
	printf("%s: channel (%s", cli_esc(name, esc, sizeof(esc)), mode_name(in->mode));
	if (in->mode == PSHM_CHAN_MPSC)
		printf(", up to %u producers", in->max_producers);
	printf(")\n  ring      %s, %s used (%.0f%%)\n", cli_human(in->ring_size, a, sizeof(a)),
	       cli_human(in->used, b, sizeof(b)), 100.0 * (double)in->used / (double)in->ring_size);
	printf("  max msg   %s\n", cli_human(in->max_msg, m, sizeof(m)));
	/* "N+": the count stopped at PSHM_CHAN_STAT_MAX_RECORDS records. */
	const char *plus = in->pending_capped ? "+" : "";
	printf("  messages  %llu%s pending, %llu%s sent, %llu received\n",
	       (unsigned long long)in->pending, plus, (unsigned long long)in->sent, plus,
	       (unsigned long long)in->received);
	bool consumer = false;
	for (unsigned i = 0; i < in->n_peers; i++) {
		const struct pshm_chan_peer *p = &in->peers[i];
		consumer |= p->role == PSHM_CONSUMER;
		printf("  %-9s %d (%s)\n", p->role == PSHM_CONSUMER ? "consumer" : "producer",
		       (int)p->pid, p->alive ? "alive" : "dead");
	}
	if (!consumer)
		printf("  consumer  none attached\n");
}

static void stat_json(const char *name, const struct pshm_chan_info *in)
{
	printf("{\"name\":");
	cli_json_str(name);
	printf(",\"kind\":\"channel\",\"mode\":\"%s\",\"ring_size\":%llu,\"max_msg\":%llu,"
	       "\"max_producers\":%u,\"used\":%llu,\"pending\":%llu,\"sent\":%llu,\"received\":%llu,"
	       "\"pending_capped\":%s,\"peers\":[",
	       mode_name(in->mode), (unsigned long long)in->ring_size,
	       (unsigned long long)in->max_msg, in->max_producers, (unsigned long long)in->used,
	       (unsigned long long)in->pending, (unsigned long long)in->sent,
	       (unsigned long long)in->received, in->pending_capped ? "true" : "false");
	for (unsigned i = 0; i < in->n_peers; i++)
		printf("%s{\"pid\":%d,\"role\":\"%s\",\"alive\":%s}", i ? "," : "",
		       (int)in->peers[i].pid,
		       in->peers[i].role == PSHM_CONSUMER ? "consumer" : "producer",
		       in->peers[i].alive ? "true" : "false");
	printf("]}\n");
}

static int chan_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false;
	int c, n = 0;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, "-:h", opts, NULL)) != -1) {
		if (c == 1) {
			argv[n++] = optarg; /* operands, in order, over what was parsed */
		} else if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			printf("usage: pshm chan stat [--json] NAME...\n\n"
			       "Describe channels: fill level, messages, producers and consumer.\n");
			return EXIT_OK;
		} else {
			return cli_bad_option("chan stat", c, argv);
		}
	}
	while (optind < argc)
		argv[n++] = argv[optind++];
	if (n == 0)
		return cli_usage("chan stat", "expected a channel name");
	int status = EXIT_OK;
	for (int i = 0; i < n; i++) {
		struct pshm_chan_info info;
		int r = pshm_chan_stat(argv[i], &info);
		char canon[PSHM_NAME_MAX + 2];
		if (r == 0)
			r = pshm_name_canon(argv[i], canon, sizeof(canon)) < 0 ? -EINVAL : 0;
		if (r < 0) {
			status = cli_fail("stat channel", argv[i], r);
			continue;
		}
		if (json)
			stat_json(canon, &info);
		else
			stat_text(canon, &info);
	}
	int out = cli_finish_stdout("chan stat", argv[0]);
	return status != EXIT_OK ? status : out;
}

/* ---- pshm chan ------------------------------------------------------------ */

static void chan_usage(FILE *f)
{
	fprintf(f, "usage: pshm chan <create|stat> [options] NAME\n\n"
		   "Message channels between processes (see also pshm send, pshm recv).\n\n"
		   "  create NAME [--size 1M] [--max-msg 256K] [--mpsc]   create a channel\n"
		   "  stat NAME...                                        describe channels\n\n"
		   "'pshm chan <verb> --help' describes a verb.\n");
}

int cmd_chan(int argc, char **argv)
{
	if (argc < 2) {
		chan_usage(stderr);
		return EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		chan_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(verb, "create"))
		return chan_create(argc - 1, argv + 1);
	if (!strcmp(verb, "stat"))
		return chan_stat(argc - 1, argv + 1);
	return cli_usage("chan", "unknown verb '%s' (create, stat)", verb);
}

/* ---- pshm send ---------------------------------------------------------------- */

static void send_usage(FILE *f)
{
	fprintf(f, "usage: pshm send [--timeout SECONDS] NAME [MSG... | -]\n\n"
		   "Send each MSG to the channel NAME as one message; with '-' or no MSG,\n"
		   "each line of standard input (without its newline) is a message.\n"
		   "Waits while the channel is full.\n\n"
		   "  -t, --timeout SECONDS   give up when a message cannot be sent within\n"
		   "                          SECONDS (default: wait for ever)\n");
}

static int send_one(pshm_chan *ch, const char *name, const void *msg, size_t len, int64_t t)
{
	int r = pshm_chan_send(ch, msg, len, t);
	return r < 0 ? cli_fail("send to", name, r) : EXIT_OK;
}

static int send_lines(pshm_chan *ch, const char *name, int64_t t)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = EXIT_OK;
	while (status == EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		status = send_one(ch, name, line, (size_t)n, t);
	}
	if (status == EXIT_OK && ferror(stdin))
		status = cli_failn("read standard input for", name, "%s", strerror(errno));
	free(line);
	return status;
}

int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int64_t t = PSHM_FOREVER;
	double secs;
	const char *name = NULL;
	int c;
	/* Options may come before or right after NAME; from the first message
	 * on, every argument is a message ("--" also ends the options). */
	cli_opt_start();
	while ((c = getopt_long(argc, argv, "-:t:h", opts, NULL)) != -1) {
		if (c == 1 && name) {
			optind--;
			break;
		}
		switch (c) {
		case 1:
			name = optarg;
			break;
		case 't':
			if (cli_parse_duration(optarg, &secs) < 0)
				return cli_usage("send", "bad timeout '%s'", optarg);
			t = timeout_ns(secs);
			break;
		case 'h':
			send_usage(stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("send", c, argv);
		}
	}
	if (!name && optind < argc)
		name = argv[optind++];
	if (!name)
		return cli_usage("send", "expected a channel name");
	for (int i = optind; i < argc; i++)
		if (!strcmp(argv[i], "-") && argc - optind > 1)
			return cli_usage("send", "'-' (standard input) must be the only message argument");
	pshm_chan *ch;
	int r = pshm_chan_open(name, PSHM_PRODUCER, 0, &ch);
	if (r < 0)
		return cli_fail("open channel", name, r);
	int status = EXIT_OK;
	if (optind == argc || (optind == argc - 1 && !strcmp(argv[optind], "-")))
		status = send_lines(ch, name, t);
	else
		for (int i = optind; status == EXIT_OK && i < argc; i++)
			status = send_one(ch, name, argv[i], strlen(argv[i]), t);
	pshm_chan_close(ch);
	return status;
}

/* ---- pshm recv ------------------------------------------------------------------ */

static void recv_usage(FILE *f)
{
	fprintf(f, "usage: pshm recv [-n COUNT] [--timeout SECONDS] [--follow] NAME\n\n"
		   "Receive messages from the channel NAME and write each to standard output,\n"
		   "followed by a newline. Without -n or --follow, print the messages queued\n"
		   "now and stop.\n\n"
		   "  -n, --count COUNT       stop after COUNT messages; fewer is a failure\n"
		   "  -f, --follow            keep waiting for messages until interrupted\n"
		   "                          (SIGINT, SIGTERM) or until the producers are gone\n"
		   "  -t, --timeout SECONDS   how long to wait for each message (default: 0\n"
		   "                          without -n or --follow, for ever with them); when it\n"
		   "                          expires, -n fails, the other modes stop\n");
}

/* Write one message and its newline, whole. 0 or -errno. */
static int put_msg(const void *msg, size_t len)
{
	struct iovec v[2] = { { (void *)msg, len }, { "\n", 1 } };
	int i = 0;
	while (i < 2) {
		ssize_t n = writev(1, v + i, 2 - i);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < 2 && (size_t)n >= v[i].iov_len)
			n -= (ssize_t)v[i++].iov_len;
		if (i < 2) {
			v[i].iov_base = (char *)v[i].iov_base + n;
			v[i].iov_len -= (size_t)n;
		}
	}
	return 0;
}

struct recv_opts {
	uint64_t count;  /* 0: no limit */
	bool follow;
	int64_t timeout; /* per message */
};

/* recv_one()'s answer when standard output failed (errno in *werr). */
#define WRITE_FAILED (-100000)

/*
 * Wait for the next message (in slices, so that SIGINT or SIGTERM arriving
 * between two waits is seen), print it, then release it: a message is taken
 * from the channel only once written out, so a failed write (a closed pipe)
 * leaves it for the next consumer.
 */
static int recv_one(pshm_chan *ch, const struct recv_opts *o, int *werr)
{
	int64_t left = o->timeout;
	for (;;) {
		if (cli_stop)
			return -EINTR;
		int64_t t = left < 0 || left > SLICE_NS ? SLICE_NS : left;
		const void *msg;
		ssize_t n = pshm_chan_peek(ch, &msg, t);
		if (n == -ETIMEDOUT && t != left) {
			if (left > 0)
				left -= t;
			continue;
		}
		if (n < 0)
			return (int)n;
		*werr = -put_msg(msg, (size_t)n);
		if (*werr)
			return WRITE_FAILED;
		return pshm_chan_release(ch);
	}
}

static int recv_loop(pshm_chan *ch, const char *name, const struct recv_opts *o)
{
	uint64_t got = 0;
	int r = 0, werr = 0;
	while ((!o->count || got < o->count) && (r = recv_one(ch, o, &werr)) == 0)
		got++;
	if (r == 0)
		return EXIT_OK;
	if (r == WRITE_FAILED)
		return cli_failn("write standard output for", name, "%s", strerror(werr));
	/* Without -n, running dry, the producers leaving or an interruption
	 * is the normal end; with -n, stopping short is a failure. */
	bool end = r == -EAGAIN || r == -ETIMEDOUT || r == -EPIPE || r == -EINTR;
	if (end && !o->count)
		return EXIT_OK;
	if (end)
		return cli_failn("receive from", name, "%s after %llu of %llu messages",
				 r == -EPIPE ? "the producers are gone"
				 : r == -EINTR ? "interrupted" : "timed out",
				 (unsigned long long)got, (unsigned long long)o->count);
	return cli_fail("receive from", name, r);
}

int cmd_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "follow", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct recv_opts o = { .timeout = -2 };
	const char *name = NULL;
	double secs;
	uint64_t v;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, "-:n:ft:h", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (name)
				return cli_usage("recv", "expected one channel name");
			name = optarg;
			break;
		case 'n':
			if (cli_parse_size(optarg, &v) < 0 || v == 0)
				return cli_usage("recv", "bad count '%s'", optarg);
			o.count = v;
			break;
		case 'f':
			o.follow = true;
			break;
		case 't':
			if (cli_parse_duration(optarg, &secs) < 0)
				return cli_usage("recv", "bad timeout '%s'", optarg);
			o.timeout = timeout_ns(secs);
			break;
		case 'h':
			recv_usage(stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("recv", c, argv);
		}
	}
	if (!name && optind == argc - 1)
		name = argv[optind++];
	if (!name || optind != argc)
		return cli_usage("recv", "expected one channel name");
	if (o.timeout == -2)
		o.timeout = o.count || o.follow ? PSHM_FOREVER : 0;
	/* A closed output pipe is an error to report, not a reason to die
	 * with a message taken but not written. */
	signal(SIGPIPE, SIG_IGN);
	cli_catch_stop();
	pshm_chan *ch;
	int r = pshm_chan_open(name, PSHM_CONSUMER, 0, &ch);
	if (r < 0)
		return cli_fail("open channel", name, r);
	int status = recv_loop(ch, name, &o);
	pshm_chan_close(ch);
	return status;
}

/* ---- pshm ls / pshm stat ------------------------------------------------------------ */

void cli_describe_chan(const char *name, char *buf, size_t len)
{
	struct pshm_chan_info in;
	int r = pshm_chan_stat(name, &in);
	if (r < 0) {
		snprintf(buf, len, "channel (unreadable: %s)", pshm_strerror(r));
		return;
	}
	char used[16], size[16], cons[48] = "no consumer";
	unsigned prod = 0, dead = 0;
	for (unsigned i = 0; i < in.n_peers; i++) {
		const struct pshm_chan_peer *p = &in.peers[i];
		if (p->role == PSHM_CONSUMER)
			snprintf(cons, sizeof(cons), "consumer %d%s", (int)p->pid,
				 p->alive ? "" : " (dead)");
		else {
			prod++;
			dead += !p->alive;
		}
	}
	char prods[48];
	if (dead)
		snprintf(prods, sizeof(prods), "%u producer%s (%u dead)", prod, prod == 1 ? "" : "s", dead);
	else
		snprintf(prods, sizeof(prods), "%u producer%s", prod, prod == 1 ? "" : "s");
	snprintf(buf, len, "channel %s, %llu%s pending, %s/%s used, %s, %s", mode_name(in.mode),
		 (unsigned long long)in.pending, in.pending_capped ? "+" : "", cli_human(in.used, used, sizeof(used)),
		 cli_human(in.ring_size, size, sizeof(size)), cons, prods);
}
