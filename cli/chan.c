/* SPDX-License-Identifier: MIT */
/*
 * cli/chan.c — `pshm chan create|stat`, `pshm send`, `pshm recv`, and the
 * one-line description of a channel for `pshm ls` / `pshm stat`.
 *
 * send and recv make channels usable from the shell: each line a message,
 * so `producer | pshm send q` and `pshm recv q --follow | consumer` connect
 * two unrelated pipelines.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Why attaching to the channel @name as @role failed, in the most useful
 * words: what it is if not a channel, who holds a busy role. */
static int open_fail(const char *action, const char *name, int err, unsigned role,
		     unsigned flags)
{
	char why[512];
	struct pshm_chan_info in;
	if (err == -EPROTO && cli_kind_mismatch(name, PSHM_KIND_CHAN, why, sizeof(why)))
		return cli_failn(action, name, "%s: refused", why);
	if ((err != -EBUSY && err != -EUSERS) || pshm_chan_stat(name, &in) < 0)
		return cli_seg_fail(action, name, err, flags);
	const char *what = role == PSHM_CONSUMER ? "consumer" : "producer";
	int n = err == -EUSERS
			? snprintf(why, sizeof(why), "all %u producer slots are held by",
				   in.max_producers)
			: snprintf(why, sizeof(why), "the %s role is held by", what);
	for (unsigned i = 0; i < in.n_peers && n > 0 && (size_t)n < sizeof(why) - 32; i++)
		if (in.peers[i].role == role)
			n += snprintf(why + n, sizeof(why) - (size_t)n, " process %d%s,",
				      (int)in.peers[i].pid, in.peers[i].alive ? "" : " (dead)");
	if (n > 0 && why[n - 1] == ',')
		why[n - 1] = '\0';
	return cli_failn(action, name, "%s%s", why,
			 role == PSHM_CONSUMER ? " (one consumer at a time)"
			 : err == -EBUSY ? " (one producer on an SPSC channel; --mpsc takes more)" : "");
}

/* Attach to @name as @role, or report why not. */
static int chan_attach(const char *action, const char *name, unsigned role, unsigned flags,
		       pshm_chan **ch)
{
	int r = pshm_chan_open(name, role, flags, ch);
	return r < 0 ? open_fail(action, name, r, role, flags) : 0;
}

/* ---- pshm chan create ------------------------------------------------- */

static const struct cli_optdoc create_opts[] = {
	{ CLI_O_SIZE, "ring size, a power of two from 1K to 2G (default 1M)" },
	{ CLI_O_MAX_MSG, "largest message, at most the ring size less 16\n"
			 "(default a quarter of the ring)" },
	{ CLI_O_MPSC, "many producers (default: one producer)" },
	{ CLI_O_PRODUCERS, "with --mpsc, producers attached at once (1 to "
			   CLI_STR(PSHM_CHAN_MAX_PRODUCERS) ",\n"
			   "default " CLI_STR(PSHM_CHAN_MAX_PRODUCERS) ")" },
	{ CLI_O_MODE, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd create_cmd = {
	"chan create", "NAME [--size SIZE] [--max-msg SIZE] [--mpsc] [--producers N]\n"
		       "                        [--mode MODE]",
	"Create a message channel (it must not exist). With a mode that lets\n"
	"others write (660, 666), they attach with --allow-shared-write.\n",
	create_opts, false, 1, 1, 0, "channel name",
};

struct create_opts {
	struct pshm_chan_config cfg;
	mode_t mode;
};

static int create_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct create_opts *o = ctx;
	uint64_t v;
	int r = 0;
	switch (id) {
	case CLI_O_SIZE:
		if (cli_parse_number(arg, &v) < 0 || v < PSHM_CHAN_RING_MIN ||
		    v > PSHM_CHAN_RING_MAX || (v & (v - 1)))
			return cli_bad_value(&create_cmd, id, arg, "a power of two from 1K to 2G, "
					     "such as 64K or 1M");
		o->cfg.ring_size = (size_t)v;
		return 0;
	case CLI_O_MAX_MSG:
		r = cli_opt_number(&create_cmd, id, arg, 1, PSHM_CHAN_MSG_MAX(PSHM_CHAN_RING_MAX), &v);
		o->cfg.max_msg = (size_t)v;
		return r;
	case CLI_O_PRODUCERS:
		r = cli_opt_count(&create_cmd, id, arg, 1, PSHM_CHAN_MAX_PRODUCERS, &v);
		o->cfg.max_producers = (unsigned)v;
		return r;
	case CLI_O_MODE:
		return cli_opt_mode(&create_cmd, id, arg, &o->mode);
	default:
		o->cfg.mode = PSHM_CHAN_MPSC;
		return 0;
	}
}

static int chan_create(int argc, char **argv)
{
	struct create_opts o = { .mode = 0 };
	struct cli_args a;
	int r = cli_options(&create_cmd, argc, argv, create_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	if (o.cfg.max_producers && o.cfg.mode != PSHM_CHAN_MPSC)
		return cli_usage("chan create", "--producers needs --mpsc");
	uint64_t ring = o.cfg.ring_size ? o.cfg.ring_size : PSHM_CHAN_RING_DEFAULT;
	if (o.cfg.max_msg > PSHM_CHAN_MSG_MAX(ring))
		return cli_usage("chan create", "--max-msg %zu is too large for a ring of %llu "
				 "bytes (at most %llu)", o.cfg.max_msg, (unsigned long long)ring,
				 (unsigned long long)(PSHM_CHAN_MSG_MAX(ring)));
	r = pshm_chan_create(name, &o.cfg, o.mode, 0);
	if (r == -EEXIST)
		return cli_failn("chan create", name, "%s (pshm rm removes it)", pshm_strerror(r));
	if (r == -ENOSPC)
		return cli_nospc_fail("chan create", name, ring);
	return r < 0 ? cli_seg_fail("chan create", name, r, 0) : EXIT_OK;
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

static const struct cli_optdoc json_opts[] = {
	{ CLI_O_JSON, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd stat_cmd = {
	"chan stat", "[--json] NAME...",
	"Describe channels: fill level, messages, producers and consumer.\n",
	json_opts, false, 1, -1, 0, "channel name",
};

static int chan_stat(int argc, char **argv)
{
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&stat_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	int status = EXIT_OK;
	for (int i = 0; i < a.n; i++) {
		struct pshm_chan_info info;
		char canon[PSHM_NAME_MAX + 2], why[512];
		r = pshm_chan_stat(a.v[i], &info);
		if (r == 0)
			r = pshm_name_canon(a.v[i], canon, sizeof(canon)) < 0 ? -EINVAL : 0;
		if (r == -EPROTO && cli_kind_mismatch(a.v[i], PSHM_KIND_CHAN, why, sizeof(why)))
			status = cli_failn("chan stat", a.v[i], "%s", why);
		else if (r < 0)
			status = cli_seg_fail("chan stat", a.v[i], r, 0);
		else if (on[CLI_O_JSON])
			stat_json(canon, &info);
		else
			stat_text(canon, &info);
	}
	int out = cli_finish_stdout("chan stat", a.v[0]);
	return status != EXIT_OK ? status : out;
}

/* ---- pshm chan ------------------------------------------------------------ */

static void chan_usage(FILE *f)
{
	fprintf(f, "usage: pshm chan <create|stat> [options] NAME\n\n"
		   "Message channels between processes (see also pshm send, pshm recv).\n\n"
		   "  create NAME [--size 1M] [--max-msg 256K] [--mpsc] [--producers N]\n"
		   "              [--mode MODE]       create a channel\n"
		   "  stat NAME...                    describe channels\n"
		   "  -h, --help                      this help\n\n"
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
	char esc[CLI_ESC_MAX];
	return cli_usage("chan", verb[0] == '-' ? "unknown option '%s'"
						: "unknown verb '%s' (create, stat)",
			 cli_esc(verb, esc, sizeof(esc)));
}

/* ---- pshm send ---------------------------------------------------------------- */

static const struct cli_optdoc send_opts[] = {
	{ CLI_O_TIMEOUT, "give up when a message cannot be sent within\n"
			 "SECONDS (default: wait for ever): 0.5, 90s, 10m,\n"
			 "2h, 7d; at most 36500d" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd send_cmd = {
	"send", "[--timeout SECONDS] NAME [MSG... | -]",
	"Send each MSG to the channel NAME as one message; with '-' or no MSG,\n"
	"each line of standard input (without its newline) is a message.\n"
	"Waits while the channel is full. Options come before the first MSG.\n",
	send_opts, true, 1, -1, 2, "channel name",
};

struct sender {
	pshm_chan *ch;
	const char *name;
	int64_t timeout;
	unsigned long long sent;
	long long total; /* messages to send; -1: lines of standard input */
};

static int send_one(void *ctx, const void *msg, size_t len)
{
	struct sender *s = ctx;
	int r = pshm_chan_send(s->ch, msg, len, s->timeout);
	if (r == 0) {
		s->sent++;
		return EXIT_OK;
	}
	if (r == -ETIMEDOUT && s->total >= 0)
		return cli_failn("send to", s->name, "timed out (channel full): %llu of %lld "
				 "messages sent", s->sent, s->total);
	if (r == -ETIMEDOUT)
		return cli_failn("send to", s->name, "timed out (channel full): %llu message%s "
				 "sent", s->sent, s->sent == 1 ? "" : "s");
	if (r == -EMSGSIZE)
		return cli_failn("send to", s->name, "message %llu is too large: %zu bytes, "
				 "the channel takes at most %zu", s->sent + 1, len,
				 pshm_chan_max_msg(s->ch));
	return cli_fail("send to", s->name, r);
}

static int timeout_opt(void *ctx, enum cli_opt id, const char *arg)
{
	double secs;
	int r = cli_opt_duration(&send_cmd, id, arg, &secs);
	if (r == 0)
		*(int64_t *)ctx = cli_timeout_ns(secs);
	return r;
}

int cmd_send(int argc, char **argv)
{
	struct sender s = { .timeout = PSHM_FOREVER };
	struct cli_args a;
	int r = cli_options(&send_cmd, argc, argv, timeout_opt, &s.timeout, &a);
	if (r >= 0 || (r = cli_msg_check("send", &a)) >= 0)
		return r;
	s.name = a.v[0];
	if ((r = chan_attach("send to", s.name, PSHM_PRODUCER, a.flags, &s.ch)))
		return r;
	s.total = cli_msg_total(&a);
	int status = cli_msg_send(&a, false, send_one, &s);
	pshm_chan_close(s.ch);
	return status;
}

/* ---- pshm recv ------------------------------------------------------------------ */

static const struct cli_optdoc recv_opts[] = {
	{ CLI_O_COUNT, "stop after N messages; fewer is a failure" },
	{ CLI_O_FOLLOW, "keep waiting for messages until interrupted\n"
			"(SIGINT, SIGTERM) or until the producers are gone" },
	{ CLI_O_TIMEOUT, "how long to wait for each message (default: 0\n"
			 "without -n or --follow, for ever with them); when it\n"
			 "expires, -n fails, the other modes stop; as for\n"
			 "send: 0.5, 90s, 10m, 2h, 7d, at most 36500d" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd recv_cmd = {
	"recv", "[-n N] [--timeout SECONDS] [--follow] NAME",
	"Receive messages from the channel NAME and write each to standard output,\n"
	"followed by a newline. Without -n or --follow, print the messages queued\n"
	"now and stop.\n",
	recv_opts, true, 1, 1, 0, "channel name",
};

/*
 * A cli_msg_get: wait for the next message, print it, then release it: a
 * message is taken from the channel only once written out, so a failed
 * write (a closed pipe) leaves it for the next consumer.
 */
static int recv_one(void *ctx, int64_t timeout, int *werr)
{
	const void *msg;
	ssize_t n = pshm_chan_peek(ctx, &msg, timeout);
	if (n < 0)
		return (int)n;
	*werr = -cli_msg_write(msg, (size_t)n, '\n');
	return *werr ? CLI_WRITE_FAILED : pshm_chan_release(ctx);
}

static int recv_opt(void *ctx, enum cli_opt id, const char *arg)
{
	return cli_recv_opt(&recv_cmd, ctx, id, arg);
}

int cmd_recv(int argc, char **argv)
{
	struct cli_recv o = { .timeout = CLI_TIMEOUT_UNSET };
	struct cli_args a;
	int r = cli_options(&recv_cmd, argc, argv, recv_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	/* A closed output pipe is an error to report, not a reason to die
	 * with a message taken but not written. */
	signal(SIGPIPE, SIG_IGN);
	cli_catch_stop();
	pshm_chan *ch;
	if ((r = chan_attach("receive from", name, PSHM_CONSUMER, a.flags, &ch)))
		return r;
	int status = cli_msg_recv(name, &o, "the producers are gone", recv_one, ch);
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
