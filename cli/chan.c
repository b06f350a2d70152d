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

static const char *source_name(unsigned s)
{
	return s == PSHM_TUNE_ENV ? "environment" : s == PSHM_TUNE_MEASURED ? "measured" : "default";
}

/* The speed choices of this process (measured on this machine, or set by
 * PSHM_SPIN_NS / PSHM_COPY): what a channel opened here would use. */
static void tuning_text(const struct pshm_chan_tuning *t)
{
	printf("  tuning    spin %.1f us (%s", (double)t->spin_ns / 1e3,
	       source_name(t->spin_source));
	if (t->wake_rtt_ns)
		printf(", futex wake round trip %.1f us", (double)t->wake_rtt_ns / 1e3);
	printf("), large copy %s (%s", t->copy == PSHM_COPY_LOOP ? "loop" : "memcpy",
	       source_name(t->copy_source));
	if (t->copy_memcpy_ns)
		printf(", 64 KiB: memcpy %.1f us, loop %.1f us", (double)t->copy_memcpy_ns / 1e3,
		       (double)t->copy_loop_ns / 1e3);
	printf(")\n");
}

static void tuning_json(const struct pshm_chan_tuning *t)
{
	printf(",\"tuning\":{\"spin_ns\":%llu,\"spin_source\":\"%s\",\"wake_rtt_ns\":%llu,"
	       "\"copy\":\"%s\",\"copy_source\":\"%s\",\"copy_memcpy_ns\":%llu,"
	       "\"copy_loop_ns\":%llu}",
	       (unsigned long long)t->spin_ns, source_name(t->spin_source),
	       (unsigned long long)t->wake_rtt_ns, t->copy == PSHM_COPY_LOOP ? "loop" : "memcpy",
	       source_name(t->copy_source), (unsigned long long)t->copy_memcpy_ns,
	       (unsigned long long)t->copy_loop_ns);
}

static void stat_text(const char *name, const struct pshm_chan_info *in,
		      const struct pshm_chan_tuning *t)
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
	tuning_text(t);
}

static void stat_json(const char *name, const struct pshm_chan_info *in,
		      const struct pshm_chan_tuning *t)
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
	printf("]");
	tuning_json(t);
	printf("}\n");
}

static const struct cli_optdoc json_opts[] = {
	{ CLI_O_JSON, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd stat_cmd = {
	"chan stat", "[--json] NAME...",
	"Describe channels: fill level, messages, producers and consumer, and\n"
	"the speed choices of this machine (spin, large-copy method).\n",
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
	struct pshm_chan_tuning t;
	pshm_chan_tuning(&t);
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
			stat_json(canon, &info, &t);
		else
			stat_text(canon, &info, &t);
	}
	int out = cli_finish_stdout("chan stat", a.v[0]);
	return status != EXIT_OK ? status : out;
}

/* ---- pshm chan rm ----------------------------------------------------------- */

static const struct cli_cmd rm_cmd = {
	"chan rm", "NAME...",
	"Remove channels: only what is a channel (anything else is left alone).\n"
	"Attached producers and the consumer keep working with each other; no\n"
	"new one finds it.\n",
	NULL, false, 1, -1, 0, "channel name",
};

static int chan_rm(int argc, char **argv)
{
	return cli_kind_rm(&rm_cmd, PSHM_KIND_CHAN, pshm_chan_unlink, argc, argv);
}

/* ---- pshm chan ------------------------------------------------------------ */

static void chan_usage(FILE *f)
{
	fprintf(f, "usage: pshm chan <create|stat|rm> [options] NAME\n\n"
		   "Message channels between processes (see also pshm send, pshm recv).\n\n"
		   "  create NAME [--size 1M] [--max-msg 256K] [--mpsc] [--producers N]\n"
		   "              [--mode MODE]       create a channel\n"
		   "  stat NAME...                    describe channels\n"
		   "  rm NAME...                      remove channels\n"
		   "  -h, --help                      this help\n\n"
		   "'pshm chan <verb> --help' describes a verb.\n");
}

int cmd_chan(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "create", chan_create },
		{ "stat", chan_stat },
		{ "rm", chan_rm },
		{ NULL, NULL },
	};
	return cli_verbs("chan", argc, argv, verbs, chan_usage);
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

#define BATCH 256 /* messages per pshm_chan_send_batch() / peek_batch() call */

/* Send the @n messages of @v, in batches: a batch is what is at hand,
 * sent as soon as it is (see pshm_chan_send_batch()). */
static int send_all(struct sender *s, const struct iovec *v, size_t n)
{
	while (n) {
		ssize_t r = pshm_chan_send_batch(s->ch, v, n, s->timeout);
		if (r > 0) {
			s->sent += (unsigned long long)r;
			v += r;
			n -= (size_t)r;
			continue;
		}
		if (r == -ETIMEDOUT && s->total >= 0)
			return cli_failn("send to", s->name, "timed out (channel full): %llu of "
					 "%lld messages sent", s->sent, s->total);
		if (r == -ETIMEDOUT)
			return cli_failn("send to", s->name, "timed out (channel full): %llu "
					 "message%s sent", s->sent, s->sent == 1 ? "" : "s");
		if (r == -EMSGSIZE)
			return cli_failn("send to", s->name, "message %llu is too large: %zu "
					 "bytes, the channel takes at most %zu", s->sent + 1,
					 v[0].iov_len, pshm_chan_max_msg(s->ch));
		return cli_fail("send to", s->name, (int)r);
	}
	return EXIT_OK;
}

/*
 * Each line of standard input is a message. Lines are read with read(2),
 * as much as is there, and the complete ones sent in one batch: a burst
 * of lines costs one batch, and a line typed alone is sent at once (no
 * waiting for more to fill a batch).
 */
static int send_lines(struct sender *s)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	struct iovec *v = malloc(BATCH * sizeof(*v));
	int status = buf && v ? EXIT_OK : cli_failn("send to", s->name, "%s", strerror(ENOMEM));
	bool eof = false;
	while (status == EXIT_OK && !eof) {
		if (len == cap) {
			char *b = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
			if (!b) {
				status = cli_failn("send to", s->name, "%s", strerror(ENOMEM));
				break;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t got = read(0, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			status = cli_failn("read standard input for", s->name, "%s", strerror(errno));
			break;
		}
		eof = got == 0;
		len += (size_t)got;
		/* The complete lines (and at the end, a last one without '\n'). */
		size_t start = 0, n = 0;
		for (size_t i = 0; status == EXIT_OK && i < len; i++) {
			bool last = eof && i == len - 1 && buf[i] != '\n';
			if (buf[i] != '\n' && !last)
				continue;
			v[n++] = (struct iovec){ buf + start, i + last - start };
			start = i + 1;
			if (n == BATCH) {
				status = send_all(s, v, n);
				n = 0;
			}
		}
		if (status == EXIT_OK && n)
			status = send_all(s, v, n);
		memmove(buf, buf + start, len - start);
		len -= start;
	}
	free(v);
	free(buf);
	return status;
}

static int timeout_opt(void *ctx, enum cli_opt id, const char *arg)
{
	double secs;
	int r = cli_opt_duration(&send_cmd, id, arg, &secs);
	if (r == 0)
		*(int64_t *)ctx = timeout_ns(secs);
	return r;
}

int cmd_send(int argc, char **argv)
{
	struct sender s = { .timeout = PSHM_FOREVER };
	struct cli_args a;
	int r = cli_options(&send_cmd, argc, argv, timeout_opt, &s.timeout, &a);
	if (r >= 0)
		return r;
	s.name = a.v[0];
	bool lines = a.n == 1 || (a.n == 2 && !strcmp(a.v[1], "-"));
	for (int i = 1; i < a.n && !lines; i++)
		if (!strcmp(a.v[i], "-"))
			return cli_usage("send", "'-' (standard input) must be the only message argument");
	unsigned flags = a.flags;
	if ((r = chan_attach("send to", s.name, PSHM_PRODUCER, flags, &s.ch)))
		return r;
	s.total = lines ? -1 : a.n - 1;
	int status = EXIT_OK;
	if (lines) {
		status = send_lines(&s);
	} else {
		struct iovec *v = calloc((size_t)a.n, sizeof(*v));
		for (int i = 1; v && i < a.n; i++)
			v[i - 1] = (struct iovec){ a.v[i], strlen(a.v[i]) };
		status = v ? send_all(&s, v, (size_t)a.n - 1)
			   : cli_failn("send to", s.name, "%s", strerror(ENOMEM));
		free(v);
	}
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

/* Write the @n messages of @m, each followed by a newline, whole: one
 * writev(2) per IOV_MAX / 2 messages. 0 or -errno. */
static int put_msgs(const struct iovec *m, size_t n)
{
	struct iovec v[2 * BATCH];
	size_t k = 0;
	for (size_t i = 0; i < n && i < BATCH; i++) {
		v[k++] = m[i];
		v[k++] = (struct iovec){ "\n", 1 };
	}
	size_t i = 0;
	while (i < k) {
		ssize_t w = writev(1, v + i, (int)(k - i < 1024 ? k - i : 1024));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < k && (size_t)w >= v[i].iov_len)
			w -= (ssize_t)v[i++].iov_len;
		if (i < k) {
			v[i].iov_base = (char *)v[i].iov_base + w;
			v[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

struct recv_opts {
	uint64_t count;  /* 0: no limit */
	bool follow;
	int64_t timeout; /* per message */
};

/* recv_some()'s answer when standard output failed (errno in *werr). */
#define WRITE_FAILED (-100000)

/*
 * Wait for the next messages (in slices, so that SIGINT or SIGTERM
 * arriving between two waits is seen), up to @max of those there, print
 * them, then release them: messages are taken from the channel only once
 * written out, so a failed write (a closed pipe) leaves them for the next
 * consumer. Returns how many, or a negative errno.
 */
static ssize_t recv_some(pshm_chan *ch, const struct recv_opts *o, size_t max, int *werr)
{
	int64_t left = o->timeout;
	struct iovec m[BATCH];
	for (;;) {
		if (cli_stop)
			return -EINTR;
		int64_t t = left < 0 || left > SLICE_NS ? SLICE_NS : left;
		ssize_t n = pshm_chan_peek_batch(ch, m, max < BATCH ? max : BATCH, t);
		if (n == -ETIMEDOUT && t != left) {
			if (left > 0)
				left -= t;
			continue;
		}
		if (n < 0)
			return n;
		*werr = -put_msgs(m, (size_t)n);
		if (*werr)
			return WRITE_FAILED;
		int r = pshm_chan_release(ch);
		return r < 0 ? r : n;
	}
}

static int recv_loop(pshm_chan *ch, const char *name, const struct recv_opts *o)
{
	uint64_t got = 0;
	ssize_t r = 0;
	int werr = 0;
	while (!o->count || got < o->count) {
		uint64_t want = o->count ? o->count - got : BATCH;
		r = recv_some(ch, o, want < BATCH ? (size_t)want : BATCH, &werr);
		if (r < 0)
			break;
		got += (uint64_t)r;
		r = 0;
	}
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
	return cli_fail("receive from", name, (int)r);
}

static int recv_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct recv_opts *o = ctx;
	double secs;
	int r = 0;
	if (id == CLI_O_COUNT)
		r = cli_opt_count(&recv_cmd, id, arg, 1, UINT64_MAX, &o->count);
	else if (id == CLI_O_TIMEOUT && (r = cli_opt_duration(&recv_cmd, id, arg, &secs)) == 0)
		o->timeout = timeout_ns(secs);
	else if (id == CLI_O_FOLLOW)
		o->follow = true;
	return r;
}

int cmd_recv(int argc, char **argv)
{
	struct recv_opts o = { .timeout = -2 };
	struct cli_args a;
	int r = cli_options(&recv_cmd, argc, argv, recv_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	if (o.timeout == -2)
		o.timeout = o.count || o.follow ? PSHM_FOREVER : 0;
	/* A closed output pipe is an error to report, not a reason to die
	 * with a message taken but not written. */
	signal(SIGPIPE, SIG_IGN);
	cli_catch_stop();
	pshm_chan *ch;
	if ((r = chan_attach("receive from", name, PSHM_CONSUMER, a.flags, &ch)))
		return r;
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
