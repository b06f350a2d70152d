/* SPDX-License-Identifier: MIT */
/*
 * cli/topic.c — `pshm topic create|stat|rm`, `pshm pub`, `pshm sub`, and
 * the one-line description of a topic for `pshm ls` / `pshm stat`.
 *
 * A topic carries each message from one publisher to every subscriber:
 * `producer | pshm pub t` in one place, and any number of
 * `pshm sub t --follow | consumer` elsewhere, each seeing every line
 * (blocking topics) or told how many it missed (lossy ones). `pub` is not
 * `publish`: that one serves sealed snapshots of a file (box.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *policy_name(unsigned policy)
{
	return policy == PSHM_TOPIC_LOSSY ? "lossy" : "blocking";
}

/* "is a channel, not a topic" when @name is something else; NULL if not. */
static const char *not_a_topic(const char *name, int err, char *buf, size_t len)
{
	return err == -EPROTO ? cli_kind_mismatch(name, PSHM_KIND_TOPIC, buf, len) : NULL;
}

/* Why attaching to the topic @name as @role failed, in the most useful
 * words: what it is if not a topic, who holds the publisher role, that
 * every subscriber slot is taken. */
static int open_fail(const char *action, const char *name, int err, unsigned flags)
{
	char why[512];
	struct pshm_topic_info in;
	if (not_a_topic(name, err, why, sizeof(why)))
		return cli_failn(action, name, "%s: refused", why);
	if ((err != -EBUSY && err != -EUSERS) || pshm_topic_stat(name, &in) < 0)
		return cli_seg_fail(action, name, err, flags);
	if (err == -EUSERS)
		return cli_failn(action, name, "all %u subscriber slots are taken (topic create "
				 "--subscribers sets more)", in.max_subscribers);
	return cli_failn(action, name, "the publisher role is held by process %d (one "
			 "publisher at a time)", (int)in.publisher);
}

/* Attach to @name as @role, or report why not: 0 or the exit status. */
static int topic_attach(const char *action, const char *name, unsigned role, unsigned flags,
			pshm_topic **t)
{
	int r = pshm_topic_open(name, role, flags, t);
	return r < 0 ? open_fail(action, name, r, flags & ~PSHM_TOPIC_HISTORY) : 0;
}

/* ---- pshm topic create --------------------------------------------------- */

static const struct cli_optdoc create_opts[] = {
	{ CLI_O_HISTORY, "keep the last N messages for subscribers that\n"
			 "join later (default 0; fewer than the ring holds)" },
	{ CLI_O_SIZE, "ring size, a power of two from 1K to 2G (default 1M)" },
	{ CLI_O_MAX_MSG, "largest message, at most half the ring less 16\n"
			 "(default 1008, or that bound if smaller)" },
	{ CLI_O_LOSSY, "never make the publisher wait: a subscriber a\n"
		       "whole ring behind skips ahead and is told how\n"
		       "many messages it missed (default: the publisher\n"
		       "waits for the slowest live subscriber)" },
	{ CLI_O_SUBSCRIBERS, "subscribers attached at once (1 to "
			     CLI_STR(PSHM_TOPIC_MAX_SUBSCRIBERS) ", default "
			     CLI_STR(PSHM_TOPIC_SUBSCRIBERS_DEFAULT) ")" },
	{ CLI_O_MODE, NULL },
	{ CLI_O_EXIST_OK, "accept NAME if it is a topic already, as it is" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd create_cmd = {
	"topic create", "NAME [--history N] [--size SIZE] [--max-msg SIZE] [--lossy]\n"
			"                         [--subscribers N] [--mode MODE] [-e]",
	"Create a topic: messages from one publisher to every subscriber. With a\n"
	"mode that lets others write (660, 666), they attach with\n"
	"--allow-shared-write.\n",
	create_opts, false, 1, 1, 0, "topic name",
};

struct create_opts {
	struct pshm_topic_config cfg;
	mode_t mode;
	unsigned flags;
};

static int create_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct create_opts *o = ctx;
	uint64_t v;
	int r = 0;
	switch (id) {
	case CLI_O_HISTORY:
		r = cli_opt_count(&create_cmd, id, arg, 0, PSHM_TOPIC_RING_MAX / 64, &v);
		o->cfg.history = (unsigned)v;
		return r;
	case CLI_O_SIZE:
		if (cli_parse_number(arg, &v) < 0 || v < PSHM_TOPIC_RING_MIN ||
		    v > PSHM_TOPIC_RING_MAX || (v & (v - 1)))
			return cli_bad_value(&create_cmd, id, arg, "a power of two from 1K to 2G, "
					     "such as 64K or 1M");
		o->cfg.ring_size = (size_t)v;
		return 0;
	case CLI_O_MAX_MSG:
		r = cli_opt_number(&create_cmd, id, arg, 1, PSHM_TOPIC_RING_MAX / 2 - 16, &v);
		o->cfg.max_msg = (size_t)v;
		return r;
	case CLI_O_SUBSCRIBERS:
		r = cli_opt_count(&create_cmd, id, arg, 1, PSHM_TOPIC_MAX_SUBSCRIBERS, &v);
		o->cfg.max_subscribers = (unsigned)v;
		return r;
	case CLI_O_MODE:
		return cli_opt_mode(&create_cmd, id, arg, &o->mode);
	case CLI_O_EXIST_OK:
		o->flags |= PSHM_OPEN_EXISTING;
		return 0;
	default:
		o->cfg.policy = PSHM_TOPIC_LOSSY;
		return 0;
	}
}

/* The sizes asked for must fit together: a message at most half the ring,
 * and fewer messages kept than the ring holds. EXIT_USAGE or -1. */
static int create_check(const struct pshm_topic_config *cfg)
{
	size_t ring = cfg->ring_size ? cfg->ring_size : PSHM_TOPIC_RING_DEFAULT;
	size_t bound = ring / 2 - 16;
	size_t msg = cfg->max_msg ? cfg->max_msg
		   : PSHM_TOPIC_MSG_DEFAULT < bound ? PSHM_TOPIC_MSG_DEFAULT : bound;
	if (msg > bound)
		return cli_usage("topic create", "--max-msg %zu is too large for a ring of %zu "
				 "bytes (at most %zu)", msg, ring, bound);
	size_t slots = ring / PSHM_TOPIC_SLOT(msg);
	if (cfg->history >= slots)
		return cli_usage("topic create", "--history %u: a ring of %zu bytes holds %zu "
				 "messages of up to %zu bytes; keep fewer (or give a larger "
				 "--size or a smaller --max-msg)", cfg->history, ring, slots, msg);
	return -1;
}

static int topic_create(int argc, char **argv)
{
	struct create_opts o = { .mode = 0 };
	struct cli_args a;
	int r = cli_options(&create_cmd, argc, argv, create_opt, &o, &a);
	if (r >= 0 || (r = create_check(&o.cfg)) >= 0)
		return r;
	const char *name = a.v[0];
	char why[512];
	r = pshm_topic_create(name, &o.cfg, o.mode, o.flags);
	if (r == -EEXIST)
		return cli_failn("topic create", name, "%s (pshm topic rm removes it; -e keeps it)",
				 pshm_strerror(r));
	if (r == -ENOSPC)
		return cli_nospc_fail("topic create", name,
				      o.cfg.ring_size ? o.cfg.ring_size : PSHM_TOPIC_RING_DEFAULT);
	if (not_a_topic(name, r, why, sizeof(why)))
		return cli_failn("topic create", name, "%s: refused", why);
	return r < 0 ? cli_seg_fail("topic create", name, r, 0) : EXIT_OK;
}

/* ---- pshm topic stat ------------------------------------------------------ */

static void stat_text(const char *name, const struct pshm_topic_info *in)
{
	char a[16], m[16], esc[CLI_ESC_MAX];
	printf("%s: topic (%s, up to %u subscribers)\n", cli_esc(name, esc, sizeof(esc)),
	       policy_name(in->policy), in->max_subscribers);
	printf("  ring      %s, %llu messages\n", cli_human(in->ring_size, a, sizeof(a)),
	       (unsigned long long)in->slots);
	printf("  max msg   %s\n", cli_human(in->max_msg, m, sizeof(m)));
	printf("  history   %u, %llu kept\n", in->history, (unsigned long long)in->kept);
	printf("  messages  %llu published\n", (unsigned long long)in->published);
	if (in->publisher && in->publisher_alive)
		printf("  publisher %d (alive)\n", (int)in->publisher);
	else if (in->publisher)
		printf("  publisher none attached (the last, %d, is gone)\n", (int)in->publisher);
	else
		printf("  publisher none attached\n");
	for (unsigned i = 0; i < in->n_subs; i++) {
		const struct pshm_topic_sub *s = &in->subs[i];
		printf("  subscriber %d (%s, lag %llu, missed %llu)\n", (int)s->pid,
		       s->alive ? "alive" : "dead", (unsigned long long)s->lag,
		       (unsigned long long)s->missed);
	}
	if (!in->n_subs)
		printf("  subscribers none attached\n");
}

static void stat_json(const char *name, const struct pshm_topic_info *in)
{
	printf("{\"name\":");
	cli_json_str(name);
	printf(",\"kind\":\"topic\",\"policy\":\"%s\",\"ring_size\":%llu,\"max_msg\":%llu,"
	       "\"slots\":%llu,\"history\":%u,\"kept\":%llu,\"max_subscribers\":%u,"
	       "\"published\":%llu,\"publisher\":",
	       policy_name(in->policy), (unsigned long long)in->ring_size,
	       (unsigned long long)in->max_msg, (unsigned long long)in->slots, in->history,
	       (unsigned long long)in->kept, in->max_subscribers,
	       (unsigned long long)in->published);
	if (in->publisher)
		printf("{\"pid\":%d,\"alive\":%s}", (int)in->publisher,
		       in->publisher_alive ? "true" : "false");
	else
		printf("null");
	printf(",\"subscribers\":[");
	for (unsigned i = 0; i < in->n_subs; i++) {
		const struct pshm_topic_sub *s = &in->subs[i];
		printf("%s{\"pid\":%d,\"alive\":%s,\"lag\":%llu,\"missed\":%llu,\"next\":%llu}",
		       i ? "," : "", (int)s->pid, s->alive ? "true" : "false",
		       (unsigned long long)s->lag, (unsigned long long)s->missed,
		       (unsigned long long)s->next);
	}
	printf("]}\n");
}

static const struct cli_optdoc json_opts[] = {
	{ CLI_O_JSON, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd stat_cmd = {
	"topic stat", "[--json] NAME...",
	"Describe topics: ring, history, messages published, the publisher and\n"
	"each subscriber with its pid, whether it is alive, how many messages it\n"
	"has yet to read (lag) and how many it missed (lossy topics).\n",
	json_opts, false, 1, -1, 0, "topic name",
};

static int topic_stat(int argc, char **argv)
{
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&stat_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	struct pshm_topic_info *info = malloc(sizeof(*info));
	if (!info)
		return cli_fail("topic stat", a.v[0], -ENOMEM);
	int status = EXIT_OK;
	for (int i = 0; i < a.n; i++) {
		char canon[PSHM_NAME_MAX + 2], why[512];
		r = pshm_topic_stat(a.v[i], info);
		if (r == 0)
			r = pshm_name_canon(a.v[i], canon, sizeof(canon)) < 0 ? -EINVAL : 0;
		if (not_a_topic(a.v[i], r, why, sizeof(why)))
			status = cli_failn("topic stat", a.v[i], "%s", why);
		else if (r < 0)
			status = cli_seg_fail("topic stat", a.v[i], r, 0);
		else if (on[CLI_O_JSON])
			stat_json(canon, info);
		else
			stat_text(canon, info);
	}
	free(info);
	int out = cli_finish_stdout("topic stat", a.v[0]);
	return status != EXIT_OK ? status : out;
}

/* ---- pshm topic rm ---------------------------------------------------------- */

static const struct cli_cmd rm_cmd = {
	"topic rm", "NAME...",
	"Remove topics: only what is a topic (anything else is left alone).\n"
	"Attached publishers and subscribers keep working with each other; no\n"
	"new one finds it.\n",
	NULL, false, 1, -1, 0, "topic name",
};

static int topic_rm(int argc, char **argv)
{
	return cli_kind_rm(&rm_cmd, PSHM_KIND_TOPIC, pshm_topic_unlink, argc, argv);
}

/* ---- pshm topic ---------------------------------------------------------------- */

static void topic_usage(FILE *f)
{
	fprintf(f, "usage: pshm topic <create|stat|rm> [options] NAME\n\n"
		   "Topics: messages from one publisher to every subscriber, with history\n"
		   "for late joiners (see also pshm pub, pshm sub).\n\n"
		   "  create NAME [--history N] [--size 1M] [--max-msg 1008] [--lossy]\n"
		   "              [--subscribers N] [--mode MODE] [-e]   create a topic\n"
		   "  stat NAME...                    describe topics, subscribers included\n"
		   "  rm NAME...                      remove topics\n"
		   "  -h, --help                      this help\n\n"
		   "'pshm topic <verb> --help' describes a verb.\n");
}

int cmd_topic(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "create", topic_create },
		{ "stat", topic_stat },
		{ "rm", topic_rm },
		{ NULL, NULL },
	};
	return cli_verbs("topic", argc, argv, verbs, topic_usage);
}

/* ---- pshm pub ----------------------------------------------------------------------- */

static const struct cli_optdoc pub_opts[] = {
	{ CLI_O_NUL, "standard input holds records ended by NUL bytes,\n"
		     "not lines" },
	{ CLI_O_TIMEOUT, "give up when a message cannot be published within\n"
			 "SECONDS (a blocking topic waits for its slowest\n"
			 "subscriber; default: for ever): 0.5, 90s, 10m,\n"
			 "2h, 7d; at most 36500d" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd pub_cmd = {
	"pub", "[-z] [--timeout SECONDS] NAME [MSG... | -]",
	"Publish each MSG to the topic NAME as one message; with '-' or no MSG,\n"
	"each line of standard input (without its newline) is a message. Every\n"
	"subscriber gets each message. Options come before the first MSG.\n"
	"(pshm publish is another thing: it serves a sealed snapshot of a file.)\n",
	pub_opts, true, 1, -1, 2, "topic name",
};

struct publisher {
	pshm_topic *t;
	const char *name;
	int64_t timeout;
	bool nul;
	unsigned long long sent;
};

static int pub_one(void *ctx, const void *msg, size_t len)
{
	struct publisher *p = ctx;
	int r = pshm_topic_publish(p->t, msg, len, p->timeout);
	if (r == 0) {
		p->sent++;
		return EXIT_OK;
	}
	if (r == -ETIMEDOUT || r == -EAGAIN)
		return cli_failn("publish to", p->name, "timed out (a subscriber is a whole ring "
				 "behind): %llu message%s published", p->sent, p->sent == 1 ? "" : "s");
	if (r == -EMSGSIZE)
		return cli_failn("publish to", p->name, "message %llu is too large: %zu bytes, the "
				 "topic takes at most %zu", p->sent + 1, len, pshm_topic_max_msg(p->t));
	return cli_fail("publish to", p->name, r);
}

static int pub_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct publisher *p = ctx;
	double secs;
	int r = 0;
	if (id == CLI_O_NUL)
		p->nul = true;
	else if ((r = cli_opt_duration(&pub_cmd, id, arg, &secs)) == 0)
		p->timeout = cli_timeout_ns(secs);
	return r;
}

int cmd_pub(int argc, char **argv)
{
	struct publisher p = { .timeout = PSHM_FOREVER };
	struct cli_args a;
	int r = cli_options(&pub_cmd, argc, argv, pub_opt, &p, &a);
	if (r >= 0 || (r = cli_msg_check("pub", &a)) >= 0)
		return r;
	p.name = a.v[0];
	if ((r = topic_attach("publish to", p.name, PSHM_PUBLISHER, a.flags, &p.t)))
		return r;
	int status = cli_msg_send(&a, p.nul, pub_one, &p);
	pshm_topic_close(p.t);
	return status;
}

/* ---- pshm sub ------------------------------------------------------------------------- */

static const struct cli_optdoc sub_opts[] = {
	{ CLI_O_FROM_HISTORY, "start from the oldest message the topic keeps\n"
			      "(default: from the next one published)" },
	{ CLI_O_COUNT, "stop after N messages; fewer is a failure" },
	{ CLI_O_FOLLOW, "keep waiting for messages until interrupted\n"
			"(SIGINT, SIGTERM) or until the publisher is gone" },
	{ CLI_O_TIMEOUT, "how long to wait for each message (default: 0\n"
			 "without -n or --follow, for ever with them); when it\n"
			 "expires, -n fails, the other modes stop; as for\n"
			 "pub: 0.5, 90s, 10m, 2h, 7d, at most 36500d" },
	{ CLI_O_NUL, "end each message with a NUL byte, not a newline" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd sub_cmd = {
	"sub", "[--history] [-n N] [--timeout SECONDS] [--follow] [-z] NAME",
	"Subscribe to the topic NAME and write each message to standard output,\n"
	"followed by a newline. Without -n or --follow, print the messages there\n"
	"now and stop. On a lossy topic, each gap is said on standard error\n"
	"(\"missed N messages\") and the messages after it follow.\n",
	sub_opts, true, 1, 1, 0, "topic name",
};

struct subscriber {
	pshm_topic *t;
	const char *name;
	struct cli_recv o;
	bool nul;
	unsigned flags;  /* PSHM_TOPIC_HISTORY */
	char *buf;       /* the message being written */
	size_t cap;
	uint64_t missed; /* the handle's missed count, as last reported */
};

/* Say how many messages were skipped since the last report, if any. */
static void report_gap(struct subscriber *s)
{
	uint64_t now = pshm_topic_missed(s->t);
	if (now > s->missed)
		cli_failn("receive from", s->name, "missed %llu message%s",
			  (unsigned long long)(now - s->missed), now - s->missed == 1 ? "" : "s");
	s->missed = now;
}

/* Copy the peeked message, @len bytes at @msg, into s->buf. */
/* A cli_msg_get: receive the next message with a copy made under the
 * library's SIGBUS guard (a truncated topic is an error, not a crash) and
 * checked against the publisher's overwrite (a lossy topic's message
 * overwritten while copied counts as missed, never written), then write
 * it. */
static int sub_one(void *ctx, int64_t timeout, int *werr)
{
	struct subscriber *s = ctx;
	size_t max = pshm_topic_max_msg(s->t);
	if (s->cap < max) {
		char *b = realloc(s->buf, max);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = max;
	}
	ssize_t n = pshm_topic_recv(s->t, s->buf, s->cap, timeout);
	report_gap(s);
	if (n < 0)
		return (int)n;
	*werr = -cli_msg_write(s->buf, (size_t)n, s->nul ? '\0' : '\n');
	return *werr ? CLI_WRITE_FAILED : 0;
}

static int sub_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct subscriber *s = ctx;
	if (id == CLI_O_NUL)
		s->nul = true;
	else if (id == CLI_O_FROM_HISTORY)
		s->flags |= PSHM_TOPIC_HISTORY;
	else
		return cli_recv_opt(&sub_cmd, &s->o, id, arg);
	return 0;
}

int cmd_sub(int argc, char **argv)
{
	struct subscriber s = { .o.timeout = CLI_TIMEOUT_UNSET };
	struct cli_args a;
	int r = cli_options(&sub_cmd, argc, argv, sub_opt, &s, &a);
	if (r >= 0)
		return r;
	s.name = a.v[0];
	/* A closed output pipe is an error to report, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	cli_catch_stop();
	if ((r = topic_attach("receive from", s.name, PSHM_SUBSCRIBER, a.flags | s.flags, &s.t)))
		return r;
	int status = cli_msg_recv(s.name, &s.o, "the publisher is gone", sub_one, &s);
	pshm_topic_close(s.t);
	free(s.buf);
	return status;
}

/* ---- pshm ls / pshm stat ----------------------------------------------------------------- */

void cli_describe_topic(const char *name, char *buf, size_t len)
{
	struct pshm_topic_info *in = malloc(sizeof(*in));
	int r = in ? pshm_topic_stat(name, in) : -ENOMEM;
	if (r < 0) {
		snprintf(buf, len, "topic (unreadable: %s)", pshm_strerror(r));
		free(in);
		return;
	}
	char pub[48] = "no publisher";
	if (in->publisher && in->publisher_alive)
		snprintf(pub, sizeof(pub), "publisher %d", (int)in->publisher);
	unsigned dead = 0;
	for (unsigned i = 0; i < in->n_subs; i++)
		dead += !in->subs[i].alive;
	char subs[48];
	if (dead)
		snprintf(subs, sizeof(subs), "%u subscriber%s (%u dead)", in->n_subs,
			 in->n_subs == 1 ? "" : "s", dead);
	else
		snprintf(subs, sizeof(subs), "%u subscriber%s", in->n_subs,
			 in->n_subs == 1 ? "" : "s");
	snprintf(buf, len, "topic %s, %llu published, %llu kept, %s, %s", policy_name(in->policy),
		 (unsigned long long)in->published, (unsigned long long)in->kept, pub, subs);
	free(in);
}
