/*
 * main.c — `pshm <subcommand>`: dispatch, --help, --version, shared helpers.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	cli_fn fn;
	const char *summary;
} commands[] = {
	{ "ls", cmd_ls, "list segments in /dev/shm" },
	{ "stat", cmd_stat, "describe one segment" },
	{ "who", cmd_who, "processes that map a segment or hold it open" },
	{ "cat", cmd_cat, "copy a segment's bytes to standard output" },
	{ "dump", cmd_dump, "hex and ASCII dump of a segment" },
	{ "create", cmd_create, "create a raw segment" },
	{ "write", cmd_write, "write bytes into a segment" },
	{ "rm", cmd_rm, "remove segments" },
	{ "gc", cmd_gc, "find (and remove) abandoned segments" },
	{ "put", cmd_put, "store a value in a checked box" },
	{ "get", cmd_get, "print a box's value after checking it" },
	{ "verify", cmd_verify, "check the integrity of boxes" },
	{ "publish", cmd_publish, "serve a sealed, read-only snapshot of a file" },
	{ "fetch", cmd_fetch, "print a sealed snapshot" },
	{ "chan", cmd_chan, "create a message channel" },
	{ "send", cmd_send, "send messages to a channel" },
	{ "recv", cmd_recv, "receive messages from a channel" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pshm [--help | --version] <command> [options] [args]\n\n"
		   "POSIX shared memory from the shell: see, read, write and clean /dev/shm.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'pshm <command> --help' describes a command. See pshm(1).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("pshm %s (libpshm %s)\n", PSHM_VERSION_STRING, pshm_version());
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pshm: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

int cli_fail(const char *action, const char *name, int err)
{
	return cli_failn(action, name, "%s", pshm_strerror(err));
}

int cli_failn(const char *action, const char *name, const char *fmt, ...)
{
	char esc[CLI_ESC_MAX];
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "pshm: %s '%s': ", action, cli_esc(name ? name : "", esc, sizeof(esc)));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

const char *cli_esc(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	if (!len)
		return buf;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char t[5];
		int n = (*p < 0x20 || *p >= 0x7f) ? snprintf(t, sizeof(t), "\\x%02x", *p)
		      : *p == '\\' ? snprintf(t, sizeof(t), "\\\\")
				   : snprintf(t, sizeof(t), "%c", *p);
		if (o + (size_t)n >= len)
			break;
		memcpy(buf + o, t, (size_t)n);
		o += (size_t)n;
	}
	buf[o] = '\0';
	return buf;
}

int cli_failf(const char *action, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pshm: %s: ", action);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pshm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pshm %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno == ERANGE)
		return end == s ? -EINVAL : -ERANGE;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_parse_duration(const char *s, double *out)
{
	if (!s || !*s)
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
		return -EINVAL;
	double unit = 1;
	if (*end) {
		switch (*end++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -EINVAL;
		}
		if (*end)
			return -EINVAL;
	}
	*out = v * unit;
	return 0;
}

const char *cli_human(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu", (unsigned long long)n);
	else
		snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
	return buf;
}

void cli_json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}
