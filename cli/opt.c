/* SPDX-License-Identifier: MIT */
/*
 * opt.c — options, help texts and usage errors, the same for every
 * subcommand: each option is defined once here, so a letter cannot mean
 * two things and no two help texts or error messages can drift apart.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* getopt_long() returns this plus the option's id for a long option. */
#define LONG_BASE 256
#define HELP_COL 28

static const struct {
	char letter; /* 0: long form only */
	const char *name;
	bool arg;
	const char *metavar;
	const char *help;
} defs[CLI_O_COUNT_OF] = {
	[CLI_O_HELP] = { 'h', "help", false, NULL, "this help" },
	[CLI_O_JSON] = { 0, "json", false, NULL, "JSON output" },
	[CLI_O_LONG] = { 'l', "long", false, NULL, "more columns" },
	[CLI_O_TEXT] = { 0, "text", false, NULL, "stop at the first NUL byte" },
	[CLI_O_OFFSET] = { 'o', "offset", true, "OFFSET", "start at byte OFFSET (4096, 4K, 0x1000)" },
	[CLI_O_COUNT] = { 'n', "count", true, "N", "at most N" },
	[CLI_O_MODE] = { 'm', "mode", true, "MODE",
			 "permissions, octal, 1 to 777 (default 600: only you)" },
	[CLI_O_EXIST_OK] = { 'e', "exist-ok", false, NULL, "keep NAME if it exists" },
	[CLI_O_CREATE] = { 'c', "create", false, NULL, "create NAME if it does not exist" },
	/* "null" ("--nul" still works: getopt_long takes an unambiguous
	 * prefix): NUL bytes end the data (write) or each message (pub, sub). */
	[CLI_O_NUL] = { 'z', "null", false, NULL, "write a NUL byte after the data" },
	[CLI_O_FORCE] = { 'f', "force", false, NULL, "go ahead anyway" },
	[CLI_O_OLDER_THAN] = { 'a', "older-than", true, "AGE", "unchanged for at least AGE" },
	[CLI_O_YES] = { 'y', "yes", false, NULL, "do it" },
	[CLI_O_CAPACITY] = { 0, "capacity", true, "SIZE", "capacity" },
	[CLI_O_DIR] = { 0, "dir", true, "DIR", "socket directory" },
	[CLI_O_UID] = { 0, "uid", true, "USER", "user, name or number" },
	[CLI_O_SIZE] = { 's', "size", true, "SIZE", "size" },
	[CLI_O_MAX_MSG] = { 0, "max-msg", true, "SIZE", "largest message" },
	[CLI_O_MPSC] = { 0, "mpsc", false, NULL, "many producers" },
	[CLI_O_PRODUCERS] = { 'p', "producers", true, "N", "producers" },
	[CLI_O_TIMEOUT] = { 't', "timeout", true, "SECONDS", "give up after SECONDS" },
	[CLI_O_FOLLOW] = { 0, "follow", false, NULL, "keep waiting" },
	[CLI_O_ALLOW_FOREIGN] = { 0, "allow-foreign", false, NULL,
				  "accept a segment owned by another user" },
	[CLI_O_ALLOW_SHARED_WRITE] = { 0, "allow-shared-write", false, NULL,
				       "accept a segment writable by group or others" },
	[CLI_O_HISTORY] = { 0, "history", true, "N", "keep the last N messages for late joiners" },
	[CLI_O_FROM_HISTORY] = { 0, "history", false, NULL, "start from the oldest kept message" },
	[CLI_O_LOSSY] = { 0, "lossy", false, NULL, "never wait for slow subscribers" },
	[CLI_O_SUBSCRIBERS] = { 0, "subscribers", true, "N", "subscribers attached at once" },
	[CLI_O_CLIENTS] = { 0, "clients", true, "N", "clients" },
	[CLI_O_SERVERS] = { 0, "servers", true, "N", "servers" },
	[CLI_O_PERSISTENT] = { 0, "persistent", false, NULL, "keep one process" },
	/* pshm bridge */
	[CLI_O_STATS] = { 0, "stats", false, NULL,
			  "progress on stderr each second: msg/s, MB/s,\nlag, reconnects" },
	[CLI_O_LISTEN_ANY] = { 0, "listen-any", false, NULL,
			       "allow listening beyond loopback" },
	[CLI_O_WINDOW] = { 0, "window", true, "SIZE",
			   "bytes in flight, unacknowledged (default 32M)" },
	[CLI_O_TLS_CERT] = { 0, "tls-cert", true, "FILE", "TLS: this side's certificate (PEM)" },
	[CLI_O_TLS_KEY] = { 0, "tls-key", true, "FILE", "TLS: its private key (PEM)" },
	[CLI_O_TLS_CA] = { 0, "tls-ca", true, "FILE",
			   "TLS: check the peer's certificate against FILE" },
};

static const struct cli_optdoc help_doc = { CLI_O_HELP, NULL };
static const struct cli_optdoc policy_doc[] = {
	{ CLI_O_ALLOW_FOREIGN, NULL },
	{ CLI_O_ALLOW_SHARED_WRITE, NULL },
};

const char *cli_opt_name(enum cli_opt id)
{
	static char buf[CLI_O_COUNT_OF][24];
	snprintf(buf[id], sizeof(buf[id]), "--%s", defs[id].name);
	return buf[id];
}

/* Each option @cmd takes, its own, then the policy's, then help. */
static size_t all_opts(const struct cli_cmd *cmd, const struct cli_optdoc **v, size_t cap)
{
	size_t n = 0;
	for (const struct cli_optdoc *d = cmd->opts; d && d->id && n < cap; d++)
		v[n++] = d;
	for (size_t i = 0; cmd->policy && i < 2 && n < cap; i++)
		v[n++] = &policy_doc[i];
	if (n < cap)
		v[n++] = &help_doc;
	return n;
}

static void help_line(const struct cli_optdoc *d, FILE *f)
{
	char left[64];
	const char *h = d->help ? d->help : defs[d->id].help;
	int n = snprintf(left, sizeof(left), "  %c%c%s--%s%s%s", defs[d->id].letter ? '-' : ' ',
			 defs[d->id].letter ? defs[d->id].letter : ' ',
			 defs[d->id].letter ? ", " : "  ", defs[d->id].name,
			 defs[d->id].arg ? " " : "", defs[d->id].arg ? defs[d->id].metavar : "");
	fputs(left, f);
	if (n >= HELP_COL - 1)
		fprintf(f, "\n%*s", HELP_COL, "");
	else
		fprintf(f, "%*s", HELP_COL - n, "");
	for (const char *p = h; *p; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fprintf(f, "%*s", HELP_COL, "");
	}
	fputc('\n', f);
}

void cli_help(const struct cli_cmd *cmd, FILE *f)
{
	const struct cli_optdoc *v[CLI_O_COUNT_OF + 2];
	size_t n = all_opts(cmd, v, sizeof(v) / sizeof(v[0]));
	fprintf(f, "usage: pshm %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->text);
	for (size_t i = 0; i < n; i++)
		help_line(v[i], f);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "pshm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pshm %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_verbs(const char *cmd, int argc, char **argv, const struct cli_verb *verbs,
	      void (*usage)(FILE *f))
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	char list[128] = "";
	size_t n = 0;
	for (const struct cli_verb *v = verbs; v->name; v++) {
		if (!strcmp(verb, v->name))
			return v->run(argc - 1, argv + 1);
		int k = snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", v->name);
		if (k > 0 && (size_t)k < sizeof(list) - n)
			n += (size_t)k;
	}
	char esc[CLI_ESC_MAX];
	if (verb[0] == '-')
		return cli_usage(cmd, "unknown option '%s'", cli_esc(verb, esc, sizeof(esc)));
	return cli_usage(cmd, "unknown verb '%s' (%s)", cli_esc(verb, esc, sizeof(esc)), list);
}

int cli_bad_value(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, const char *why)
{
	char esc[CLI_ESC_MAX];
	return cli_usage(cmd->name, "bad %s '%s' (%s)", cli_opt_name(id),
			 cli_esc(arg, esc, sizeof(esc)), why);
}

int cli_opt_number(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, uint64_t min,
		   uint64_t max, uint64_t *out)
{
	char why[160];
	if (cli_parse_number(arg, out) == 0 && *out >= min && *out <= max)
		return 0;
	snprintf(why, sizeof(why), "a number from %llu to %llu, such as 4096, 64K, 1M or 0x1000",
		 (unsigned long long)min, (unsigned long long)max);
	return cli_bad_value(cmd, id, arg, why);
}

int cli_opt_count(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, uint64_t min,
		  uint64_t max, uint64_t *out)
{
	char why[96];
	if (cli_parse_number(arg, out) == 0 && *out >= min && *out <= max)
		return 0;
	if (max == UINT64_MAX)
		snprintf(why, sizeof(why), "a whole number, %llu or more", (unsigned long long)min);
	else
		snprintf(why, sizeof(why), "a whole number from %llu to %llu",
			 (unsigned long long)min, (unsigned long long)max);
	return cli_bad_value(cmd, id, arg, why);
}

int cli_opt_mode(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, mode_t *out)
{
	if (cli_parse_mode(arg, out) == 0)
		return 0;
	return cli_bad_value(cmd, id, arg, "octal, 1 to 777, such as 600 or 0640");
}

int cli_opt_duration(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, double *out)
{
	int r = cli_parse_duration(arg, out);
	if (r == 0)
		return 0;
	if (r == -ERANGE)
		return cli_bad_value(cmd, id, arg, "at most " CLI_STR(CLI_DURATION_MAX_DAYS)
					"d, 1000 years");
	return cli_bad_value(cmd, id, arg, "seconds, or with a unit: 0.5, 90s, 10m, 2h, 7d");
}

int cli_opt_flag(void *ctx, enum cli_opt id, const char *arg)
{
	(void)arg;
	((bool *)ctx)[id] = true;
	return 0;
}

/* The option that getopt_long() refused: '?' (unknown, or a value given
 * to an option that takes none) or ':' (its value is missing). optopt is
 * the letter of a short option (named exactly, even inside a group such
 * as -zn), LONG_BASE + id for a long one, 0 for an unknown long one. */
static int bad_option(const char *cmd, int c, char **argv)
{
	char esc[CLI_ESC_MAX];
	if (optopt >= LONG_BASE)
		return cli_usage(cmd, c == ':' ? "option '%s' needs a value"
					       : "option '%s' takes no value",
				 cli_opt_name(optopt - LONG_BASE));
	if (optopt)
		return cli_usage(cmd, c == ':' ? "option '-%c' needs a value" : "unknown option '-%c'",
				 optopt);
	cli_esc(argv[optind - 1], esc, sizeof(esc));
	esc[strcspn(esc, "=")] = '\0';
	return cli_usage(cmd, "unknown option '%s'", esc);
}

static int operands_check(const struct cli_cmd *cmd, const struct cli_args *a)
{
	char esc[CLI_ESC_MAX];
	if (a->n < cmd->min)
		return cli_usage(cmd->name, "missing %s", cmd->operand);
	if (cmd->max >= 0 && a->n > cmd->max)
		return cli_usage(cmd->name, "unexpected argument '%s'",
				 cli_esc(a->v[cmd->max], esc, sizeof(esc)));
	return -1;
}

/* The optstring ("-:" to get operands in order and name bad options
 * ourselves) and the long options of @v. */
static void build(const struct cli_optdoc **v, size_t n, char *s, struct option *lo)
{
	*s++ = '-';
	*s++ = ':';
	for (size_t i = 0; i < n; i++) {
		enum cli_opt id = v[i]->id;
		if (defs[id].letter) {
			*s++ = defs[id].letter;
			if (defs[id].arg)
				*s++ = ':';
		}
		lo[i] = (struct option){ defs[id].name, defs[id].arg ? required_argument : no_argument,
					 NULL, LONG_BASE + (int)id };
	}
	*s = '\0';
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
}

static enum cli_opt by_letter(int c)
{
	for (int id = CLI_O_HELP; id < CLI_O_COUNT_OF; id++)
		if (defs[id].letter == c)
			return (enum cli_opt)id;
	return CLI_O_END;
}

int cli_options(const struct cli_cmd *cmd, int argc, char **argv, cli_opt_fn fn, void *ctx,
		struct cli_args *a)
{
	const struct cli_optdoc *v[CLI_O_COUNT_OF + 2];
	struct option lo[CLI_O_COUNT_OF + 3];
	char optstring[3 * CLI_O_COUNT_OF + 4];
	size_t n = all_opts(cmd, v, sizeof(v) / sizeof(v[0]));
	build(v, n, optstring, lo);
	*a = (struct cli_args){ .n = 0, .v = argv + 1, .flags = 0 };
	optind = 0; /* a full reset of getopt's state */
	opterr = 0; /* bad_option() says what is wrong, once */
	int c;
	while ((c = getopt_long(argc, argv, optstring, lo, NULL)) != -1) {
		if (c == 1) {
			a->v[a->n++] = optarg; /* over what was parsed already */
			if (cmd->stop_after && a->n == cmd->stop_after)
				break;
			continue;
		}
		if (c == '?' || c == ':')
			return bad_option(cmd->name, c, argv);
		enum cli_opt id = c >= LONG_BASE ? (enum cli_opt)(c - LONG_BASE) : by_letter(c);
		if (id == CLI_O_HELP) {
			cli_help(cmd, stdout);
			return EXIT_OK;
		}
		if (id == CLI_O_ALLOW_FOREIGN || id == CLI_O_ALLOW_SHARED_WRITE) {
			a->flags |= id == CLI_O_ALLOW_FOREIGN ? PSHM_ALLOW_FOREIGN
							      : PSHM_ALLOW_SHARED_WRITE;
			continue;
		}
		int r = fn ? fn(ctx, id, optarg) : 0;
		if (r)
			return r;
	}
	while (optind < argc)
		a->v[a->n++] = argv[optind++];
	return operands_check(cmd, a);
}
