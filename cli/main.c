/*
 * main.c — `pshm <subcommand>`: dispatch, --help, --version, shared helpers.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	{ "chan", cmd_chan, "create or describe a message channel" },
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

/* ---- messages ------------------------------------------------------------ */

/* The one way messages reach stderr: @lead, the formatted message, @tail.
 * Standard output is flushed first, so the two come out in order. */
static void vsay(const char *lead, const char *tail, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(lead, stderr);
	vfprintf(stderr, fmt, ap);
	fputs(tail, stderr);
}

int cli_fail(const char *action, const char *name, int err)
{
	return cli_failn(action, name, "%s", pshm_strerror(err));
}

int cli_failn(const char *action, const char *name, const char *fmt, ...)
{
	char esc[CLI_ESC_MAX], lead[CLI_ESC_MAX + 64];
	snprintf(lead, sizeof(lead), "pshm: %s '%s': ", action,
		 cli_esc(name ? name : "", esc, sizeof(esc)));
	va_list ap;
	va_start(ap, fmt);
	vsay(lead, "\n", fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

int cli_failf(const char *action, const char *fmt, ...)
{
	char lead[128];
	snprintf(lead, sizeof(lead), "pshm: %s: ", action);
	va_list ap;
	va_start(ap, fmt);
	vsay(lead, "\n", fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	char lead[64], tail[96];
	snprintf(lead, sizeof(lead), "pshm %s: ", cmd);
	snprintf(tail, sizeof(tail), "\nTry 'pshm %s --help'.\n", cmd);
	va_list ap;
	va_start(ap, fmt);
	vsay(lead, tail, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
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

/* File types by name: for sentences, and one word for listings. */
static const struct {
	mode_t type;
	const char *name, *word;
} types[] = {
	{ S_IFREG, "regular file", "regular" },  { S_IFLNK, "symbolic link", "symlink" },
	{ S_IFDIR, "directory", "directory" },   { S_IFIFO, "FIFO", "fifo" },
	{ S_IFSOCK, "socket", "socket" },        { S_IFCHR, "character device", "chardev" },
	{ S_IFBLK, "block device", "blockdev" },
};

const char *cli_type_name(mode_t m)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((m & S_IFMT) == types[i].type)
			return types[i].name;
	return "unknown file type";
}

const char *cli_type_word(mode_t m)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((m & S_IFMT) == types[i].type)
			return types[i].word;
	return "unknown";
}

const char *cli_user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
	return buf;
}

/* -EPERM from the open policy: why, and which option accepts it. */
static const char *policy_why(const char *name, char *buf, size_t len)
{
	struct pshm_stat st;
	char who[64];
	if (pshm_seg_stat(name, &st) < 0)
		return pshm_strerror(-EPERM);
	if (st.uid != geteuid())
		snprintf(buf, len, "owned by %s, not by you: refused (another user may have "
			 "created the name first; --allow-foreign accepts it)",
			 cli_user_name(st.uid, who, sizeof(who)));
	else if (st.mode & (S_IWGRP | S_IWOTH))
		snprintf(buf, len, "writable by group or others (mode %04o), so anyone there may "
			 "change it: refused (--allow-shared-write accepts it)",
			 (unsigned)(st.mode & 07777));
	else
		return pshm_strerror(-EPERM);
	return buf;
}

const char *cli_seg_why(const char *name, int err, char *buf, size_t len)
{
	struct pshm_stat st;
	int bad = pshm_name_check(name);
	if (bad == -ENAMETOOLONG || err == -ENAMETOOLONG)
		snprintf(buf, len, "segment name too long (at most %d bytes)", PSHM_NAME_MAX);
	else if (bad < 0)
		snprintf(buf, len, "invalid segment name (not empty, not '.' or '..', no '/' "
			 "except a leading one)");
	else if (err == -EPERM)
		return policy_why(name, buf, len);
	else if (err == -ENOTSUP && pshm_seg_stat(name, &st) == 0 && !S_ISREG(st.mode))
		snprintf(buf, len, "is a %s, not a segment: refused%s, as is anything that is not a "
			 "regular file", cli_type_name(st.mode),
			 S_ISLNK(st.mode) ? " (never followed)" : "");
	else
		return pshm_strerror(err);
	return buf;
}

int cli_seg_fail(const char *action, const char *name, int err)
{
	char why[512];
	return cli_failn(action, name, "%s", cli_seg_why(name, err, why, sizeof(why)));
}

/* ---- options --------------------------------------------------------------- */

void cli_opt_start(void)
{
	optind = 0; /* a full reset of getopt's state, for every subcommand */
	opterr = 0; /* cli_bad_option() says what is wrong, once */
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		return cli_usage(cmd, "option '%s' needs a value", arg);
	if (optopt && optopt != '?' && arg[0] == '-' && arg[1] != '-')
		return cli_usage(cmd, "unknown option '-%c'", optopt);
	return cli_usage(cmd, "unknown option '%s'", arg);
}

/* ---- input and output ---------------------------------------------------- */

int cli_read_full(int fd, char *buf, size_t cap, size_t *got)
{
	*got = 0;
	while (*got < cap) {
		ssize_t n = read(fd, buf + *got, cap - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

int cli_read_all(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap);
	int r = buf ? 0 : -ENOMEM;
	while (r == 0 && (r = cli_read_full(fd, buf + n, cap - n, &got)) == 0) {
		n += got;
		if (n < cap)
			break; /* end of file */
		char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
		if (!nb) {
			r = -ENOMEM;
		} else {
			buf = nb;
			cap *= 2;
		}
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = n;
	return 0;
}

volatile sig_atomic_t cli_stop;

static void on_stop(int sig)
{
	(void)sig;
	cli_stop = 1;
}

void cli_catch_stop(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* strerror(), not pshm_strerror(): this is not about shared memory. */
int cli_out_fail(const char *action, const char *name, int err)
{
	return cli_failn(action, name, "standard output: %s", strerror(-err));
}

/* errno says why only if this fflush() failed: an earlier failure leaves
 * the error flag but not its reason. */
int cli_finish_stdout(const char *action, const char *name)
{
	errno = 0;
	int r = fflush(stdout);
	int e = errno;
	if (r != 0 || ferror(stdout))
		return cli_out_fail(action, name, -(r != 0 && e ? e : EIO));
	return EXIT_OK;
}

int cli_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- parsing and formatting ----------------------------------------------- */

/* strtoull() of @s in @base, after checking that it starts with a digit:
 * strtoull() alone skips spaces and takes a sign (" -1" is 2^64 - 1).
 * *@end is where the digits stop. Returns 0, -EINVAL or -ERANGE. */
static int parse_digits(const char *s, int base, unsigned long long *v, char **end)
{
	unsigned char c = s ? (unsigned char)s[0] : 0;
	if (!(base == 16 ? isxdigit(c) : isdigit(c)))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, base);
	return errno == ERANGE ? -ERANGE : 0;
}

int cli_parse_mode(const char *s, mode_t *out)
{
	unsigned long long v;
	char *end;
	if (parse_digits(s, 8, &v, &end) < 0 || *end || v == 0 || v > 0777)
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

int cli_parse_offset(const char *s, uint64_t *out)
{
	if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return cli_parse_size(s, out);
	unsigned long long v;
	char *end;
	int r = parse_digits(s + 2, 16, &v, &end);
	if (r == 0 && *end)
		r = -EINVAL;
	if (r == 0)
		*out = v;
	return r;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int r = parse_digits(s, 10, &v, &end);
	if (r < 0)
		return r;
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
	/* Plain decimal only: strtod() would also take spaces, signs, "inf",
	 * hexadecimal and exponents. */
	size_t k = s ? strspn(s, "0123456789.") : 0;
	if (!k || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end != s + k || errno == ERANGE || !isfinite(v))
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

/* Length of the valid UTF-8 sequence at @p (1 to 4 bytes), or 0 if it is
 * not one (RFC 3629: no overlong form, no surrogate, nothing past
 * U+10FFFF). A NUL ends any sequence early, so this never reads past it. */
static size_t utf8_len(const unsigned char *p)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
		 : (p[0] & 0xf0) == 0xe0 ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	if (n <= 1)
		return n;
	uint32_t cp = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void cli_json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			printf("\\u%04x", *p); /* a byte that is not UTF-8: as U+00XX */
		else
			fwrite(p, 1, n, stdout);
		p += n ? n : 1;
	}
	putchar('"');
}
