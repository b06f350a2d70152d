/*
 * cli/seg.c — the segment subcommands: ls, stat, who, cat, dump, create,
 * write, rm, gc. A pure client of <pshm.h>.
 *
 * Open policy. The inspection commands (ls, stat, who, cat, dump) open
 * read-only and accept a segment owned by another user or writable by
 * group/others: they only show bytes, they never act on them. `write`
 * applies the library's owner/mode policy, and --allow-foreign /
 * --allow-shared-write lift it. Nothing here ever follows a symlink or
 * opens a non-regular file: the library refuses with -ENOTSUP, and the
 * message says what is really there.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define CHUNK (64 * 1024) /* bytes copied at a time by cat, dump and write */
#define INSPECT (PSHM_RDONLY | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE)
#define GC_DEFAULT_AGE 3600.0

/* ------------------------------------------------------------------------
 * Helpers shared by the subcommands
 * ------------------------------------------------------------------------ */

static int help(const char *text)
{
	fputs(text, stdout);
	return EXIT_OK;
}

static const char *kind_word(const struct pshm_stat *st)
{
	switch (st->kind) {
	case PSHM_KIND_RAW: return "raw";
	case PSHM_KIND_BOX: return "box";
	case PSHM_KIND_CHAN: return "channel";
	default: return cli_type_word(st->mode);
	}
}

/* The box/channel groups' one-line description; "" when there is none. */
static void describe(const struct pshm_stat *st, char *buf, size_t len)
{
	buf[0] = '\0';
	if (st->kind == PSHM_KIND_BOX)
		cli_describe_box(st->name, buf, len);
	else if (st->kind == PSHM_KIND_CHAN)
		cli_describe_chan(st->name, buf, len);
}

/* "-rw-r--r--" */
static const char *mode_str(mode_t m, char buf[11])
{
	const char *t = S_ISREG(m) ? "-" : S_ISDIR(m) ? "d" : S_ISLNK(m) ? "l" : S_ISFIFO(m) ? "p"
		      : S_ISSOCK(m) ? "s" : S_ISCHR(m) ? "c" : S_ISBLK(m) ? "b" : "?";
	snprintf(buf, 11, "%s%c%c%c%c%c%c%c%c%c", t, m & S_IRUSR ? 'r' : '-',
		 m & S_IWUSR ? 'w' : '-',
		 m & S_ISUID ? (m & S_IXUSR ? 's' : 'S') : (m & S_IXUSR ? 'x' : '-'),
		 m & S_IRGRP ? 'r' : '-', m & S_IWGRP ? 'w' : '-',
		 m & S_ISGID ? (m & S_IXGRP ? 's' : 'S') : (m & S_IXGRP ? 'x' : '-'),
		 m & S_IROTH ? 'r' : '-', m & S_IWOTH ? 'w' : '-',
		 m & S_ISVTX ? (m & S_IXOTH ? 't' : 'T') : (m & S_IXOTH ? 'x' : '-'));
	return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);
	if (gr)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)gid);
	return buf;
}

static const char *time_str(int64_t sec, char *buf, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, len, "%" PRId64, sec);
	return buf;
}

static const char *time_full(int64_t sec, long nsec, char *buf, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char a[32], z[8];
	if (!localtime_r(&t, &tm) || !strftime(a, sizeof(a), "%Y-%m-%d %H:%M:%S", &tm) ||
	    !strftime(z, sizeof(z), "%z", &tm))
		snprintf(buf, len, "%" PRId64 ".%09ld", sec, nsec);
	else
		snprintf(buf, len, "%s.%09ld %s", a, nsec, z);
	return buf;
}

/* "3h", "2d", "45m", "10s": how long ago, roughly. */
static const char *age_str(double s, char *buf, size_t len)
{
	if (s >= 86400 && (long long)s % 86400 == 0)
		snprintf(buf, len, "%.0fd", s / 86400);
	else if (s >= 3600 && s < 2 * 86400 && (long long)s % 3600 == 0)
		snprintf(buf, len, "%.0fh", s / 3600);
	else if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 2 * 3600)
		snprintf(buf, len, "%.0fm", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%.0fh", s / 3600);
	else
		snprintf(buf, len, "%.0fd", s / 86400);
	return buf;
}

/* "512 bytes", "64K (65536 bytes)": a size for a sentence. */
static const char *size_words(uint64_t n, char *buf, size_t len)
{
	char h[16];
	if (n < 1024)
		snprintf(buf, len, "%" PRIu64 " byte%s", n, n == 1 ? "" : "s");
	else
		snprintf(buf, len, "%s (%" PRIu64 " bytes)", cli_human(n, h, sizeof(h)), n);
	return buf;
}

/* The options of a command with one flag besides --help (--json for stat
 * and who, -t/--text for cat, -f/--force for rm): @flag is its long name,
 * its first letter its short one when @optstring lists it. Returns -1 to
 * go on, or the exit status to return at once. */
static int one_flag(int argc, char **argv, const char *help_text, const char *flag,
		    const char *optstring, bool *set)
{
	const struct option opts[] = {
		{ flag, no_argument, NULL, flag[0] },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	*set = false;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		if (c == flag[0])
			*set = true;
		else if (c == 'h')
			return help(help_text);
		else
			return cli_bad_option(argv[0], c, argv);
	}
	return -1;
}

/* Exactly one operand, the segment's name (argv[optind])? -1 if so, else
 * the usage error's exit status. */
static int one_name(int argc, char **argv)
{
	if (argc - optind == 1)
		return -1;
	return cli_usage(argv[0], argc == optind ? "missing segment name" : "one segment name only");
}

/* ------------------------------------------------------------------------
 * ls
 * ------------------------------------------------------------------------ */

static const char ls_help[] =
	"usage: pshm ls [-l] [--json]\n\n"
	"List every entry of /dev/shm except POSIX semaphores (sem.*): its name,\n"
	"size, how many processes map it or hold it open now, and what it holds\n"
	"(raw bytes, a pshm box or channel, or the file type of something that is\n"
	"not a segment: symlink, directory, fifo, ...; such entries are never\n"
	"followed or opened). Only root sees other users' processes.\n\n"
	"  -l, --long   also mode, owner, group, exact size, allocated bytes and\n"
	"               modification time\n"
	"      --json   a JSON array with every field\n"
	"  -h, --help   this help\n";

/* Who uses the entries of a listing, from one scan of /proc. */
struct users {
	long *count;   /* per entry; -1: not a segment, or unknown */
	int complete;  /* the scan saw every process */
};

static int users_of(const struct pshm_stat *v, size_t n, struct users *u)
{
	u->complete = 0;
	u->count = malloc((n ? n : 1) * sizeof(*u->count));
	if (!u->count)
		return -ENOMEM;
	int r = pshm_seg_count_users(v, n, u->count, &u->complete);
	for (size_t i = 0; r < 0 && i < n; i++)
		u->count[i] = -1; /* unknown: shown as such, not as 0 */
	return 0;
}

/* One entry as a JSON object, without a newline: the fields of ls --json,
 * and the access and change times with @times (stat --json). */
static void json_entry(const struct pshm_stat *st, long users, int complete, bool times)
{
	char buf[PSHM_NAME_MAX + 16], m[11];
	printf("{\"name\": ");
	cli_json_str(st->name);
	snprintf(buf, sizeof(buf), "/dev/shm%s", st->name);
	printf(", \"path\": ");
	cli_json_str(buf);
	printf(", \"type\": \"%s\", \"kind\": \"%s\", \"description\": ", cli_type_word(st->mode),
	       kind_word(st));
	describe(st, buf, sizeof(buf));
	if (buf[0])
		cli_json_str(buf);
	else
		printf("null");
	printf(", \"size\": %" PRIu64 ", \"allocated\": %" PRIu64, st->size, st->allocated);
	printf(", \"uid\": %u, \"owner\": ", (unsigned)st->uid);
	cli_json_str(cli_user_name(st->uid, buf, sizeof(buf)));
	printf(", \"gid\": %u, \"group\": ", (unsigned)st->gid);
	cli_json_str(group_name(st->gid, buf, sizeof(buf)));
	printf(", \"mode\": \"%04o\", \"permissions\": \"%s\"", (unsigned)(st->mode & 07777),
	       mode_str(st->mode, m));
	if (times)
		printf(", \"atime\": %" PRId64 ", \"atime_nsec\": %ld", st->atime_sec,
		       st->atime_nsec);
	printf(", \"mtime\": %" PRId64 ", \"mtime_nsec\": %ld", st->mtime_sec, st->mtime_nsec);
	if (times)
		printf(", \"ctime\": %" PRId64 ", \"ctime_nsec\": %ld", st->ctime_sec,
		       st->ctime_nsec);
	if (users >= 0)
		printf(", \"users\": %ld", users);
	else
		printf(", \"users\": null");
	printf(", \"users_complete\": %s}", complete ? "true" : "false");
}

/* What `ls` and `gc` start from, after their options: no operand, every
 * entry of /dev/shm (*v, *n) and their users (*u), from one scan of /proc.
 * Returns -1 to go on (the caller frees *v and u->count), or the exit
 * status to return at once. */
static int listing(int argc, char **argv, struct pshm_stat **v, size_t *n, struct users *u)
{
	if (optind < argc)
		return cli_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	ssize_t k = pshm_seg_list(v);
	if (k < 0)
		return cli_fail(argv[0], "/dev/shm", (int)k);
	*n = (size_t)k;
	int r = users_of(*v, *n, u);
	if (r == 0)
		return -1;
	free(*v);
	return cli_fail(argv[0], "/dev/shm", r);
}

static int ls_json(const struct pshm_stat *v, size_t n, const struct users *u)
{
	printf("[");
	for (size_t i = 0; i < n; i++) {
		printf(i ? ",\n  " : "\n  ");
		json_entry(&v[i], u->count[i], u->complete, false);
	}
	printf(n ? "\n]\n" : "]\n");
	return cli_finish_stdout("ls", "/dev/shm");
}

static void ls_kind(const struct pshm_stat *st, char *buf, size_t len)
{
	char d[200];
	describe(st, d, sizeof(d));
	if (d[0])
		snprintf(buf, len, "%s", d);
	else if (st->kind == PSHM_KIND_OTHER)
		snprintf(buf, len, "%s (not a segment)", cli_type_word(st->mode));
	else
		snprintf(buf, len, "%s", kind_word(st));
}

static int ls_table(const struct pshm_stat *v, size_t n, const struct users *u, bool lng)
{
	int w = 4;
	char esc[CLI_ESC_MAX];
	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(cli_esc(v[i].name, esc, sizeof(esc)));
		w = l > w ? l : w;
	}
	w = w > 40 ? 40 : w;
	if (n && lng)
		printf("%-10s  %-8s  %-8s  %10s  %10s  %-16s  %5s  %-*s  %s\n", "MODE", "OWNER",
		       "GROUP", "SIZE", "ALLOCATED", "MODIFIED", "USERS", w, "NAME", "KIND");
	else if (n)
		printf("%-*s  %6s  %5s  %s\n", w, "NAME", "SIZE", "USERS", "KIND");
	for (size_t i = 0; i < n; i++) {
		const struct pshm_stat *st = &v[i];
		char kind[256], users[24], sz[16];
		ls_kind(st, kind, sizeof(kind));
		if (u->count[i] < 0)
			snprintf(users, sizeof(users), "-");
		else
			snprintf(users, sizeof(users), "%ld", u->count[i]);
		cli_esc(st->name, esc, sizeof(esc));
		if (lng) {
			char m[11], o[64], g[64], t[32];
			printf("%-10s  %-8s  %-8s  %10" PRIu64 "  %10" PRIu64 "  %-16s  %5s  %-*s  %s\n",
			       mode_str(st->mode, m), cli_user_name(st->uid, o, sizeof(o)),
			       group_name(st->gid, g, sizeof(g)), st->size, st->allocated,
			       time_str(st->mtime_sec, t, sizeof(t)), users, w, esc, kind);
		} else {
			printf("%-*s  %6s  %5s  %s\n", w, esc, cli_human(st->size, sz, sizeof(sz)),
			       users, kind);
		}
	}
	return cli_finish_stdout("ls", "/dev/shm");
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "long", no_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool lng = false, json = false;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":lh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': lng = true; break;
		case 'j': json = true; break;
		case 'h': return help(ls_help);
		default: return cli_bad_option(argv[0], c, argv);
		}
	}
	struct pshm_stat *v;
	size_t n;
	struct users u;
	int r = listing(argc, argv, &v, &n, &u);
	if (r >= 0)
		return r;
	r = json ? ls_json(v, n, &u) : ls_table(v, n, &u, lng);
	free(u.count);
	free(v);
	return r;
}

/* ------------------------------------------------------------------------
 * stat
 * ------------------------------------------------------------------------ */

static const char stat_help[] =
	"usage: pshm stat NAME [--json]\n\n"
	"Describe the entry NAME of /dev/shm without following it: type, what it\n"
	"holds, size, allocated bytes, owner, group, mode, times, and how many\n"
	"processes map it or hold it open now (pshm who NAME lists them).\n\n"
	"      --json   a JSON object\n"
	"  -h, --help   this help\n";

static void stat_text(const struct pshm_stat *st, const struct users *u)
{
	char esc[CLI_ESC_MAX], buf[256], h[64], m[11];
	cli_esc(st->name, esc, sizeof(esc));
	printf("name:       %s\n", esc);
	printf("path:       /dev/shm%s\n", esc);
	printf("type:       %s\n", cli_type_name(st->mode));
	describe(st, buf, sizeof(buf));
	if (st->kind == PSHM_KIND_OTHER)
		printf("kind:       not a segment (never followed or opened)\n");
	else
		printf("kind:       %s\n", buf[0] ? buf : kind_word(st));
	printf("size:       %s\n", size_words(st->size, h, sizeof(h)));
	printf("allocated:  %s\n", size_words(st->allocated, h, sizeof(h)));
	printf("owner:      %s (%u)\n", cli_user_name(st->uid, buf, sizeof(buf)), (unsigned)st->uid);
	printf("group:      %s (%u)\n", group_name(st->gid, buf, sizeof(buf)), (unsigned)st->gid);
	printf("mode:       %04o (%s)\n", (unsigned)(st->mode & 07777), mode_str(st->mode, m));
	printf("accessed:   %s\n", time_full(st->atime_sec, st->atime_nsec, buf, sizeof(buf)));
	printf("modified:   %s\n", time_full(st->mtime_sec, st->mtime_nsec, buf, sizeof(buf)));
	printf("changed:    %s\n", time_full(st->ctime_sec, st->ctime_nsec, buf, sizeof(buf)));
	long n = u->count[0];
	if (n >= 0)
		printf("users:      %ld process%s (%spshm who %s)\n", n, n == 1 ? "" : "es",
		       u->complete ? "" : "not every process could be inspected; ", esc);
}

int cmd_stat(int argc, char **argv)
{
	bool json;
	int r = one_flag(argc, argv, stat_help, "json", ":h", &json);
	if (r >= 0 || (r = one_name(argc, argv)) >= 0)
		return r;
	const char *name = argv[optind];
	struct pshm_stat st;
	r = pshm_seg_stat(name, &st);
	if (r < 0)
		return cli_seg_fail("stat", name, r);
	struct users u;
	r = users_of(&st, 1, &u);
	if (r < 0)
		return cli_fail("stat", name, r);
	if (json) {
		json_entry(&st, u.count[0], u.complete, true);
		printf("\n");
	} else {
		stat_text(&st, &u);
	}
	free(u.count);
	return cli_finish_stdout("stat", name);
}

/* ------------------------------------------------------------------------
 * who
 * ------------------------------------------------------------------------ */

static const char who_help[] =
	"usage: pshm who NAME [--json]\n\n"
	"List the processes that map the segment NAME or hold it open, from /proc:\n"
	"pid, how (map: it is in the process's address space; fd: the process has\n"
	"a descriptor on it) and command name. Processes of other users are\n"
	"visible only to root.\n\n"
	"      --json   a JSON array\n"
	"  -h, --help   this help\n";

static const char *how_str(unsigned how)
{
	if ((how & PSHM_USE_MAP) && (how & PSHM_USE_FD))
		return "map,fd";
	return how & PSHM_USE_MAP ? "map" : "fd";
}

int cmd_who(int argc, char **argv)
{
	bool json;
	int r = one_flag(argc, argv, who_help, "json", ":h", &json);
	if (r >= 0 || (r = one_name(argc, argv)) >= 0)
		return r;
	const char *name = argv[optind];
	struct pshm_user *u;
	int complete;
	ssize_t n = pshm_seg_users(name, &u, &complete);
	if (n < 0)
		return cli_seg_fail("who", name, (int)n);
	char esc[CLI_ESC_MAX];
	if (json) {
		printf("[");
		for (ssize_t i = 0; i < n; i++) {
			printf("%s\n  {\"pid\": %d, \"map\": %s, \"fd\": %s, \"command\": ",
			       i ? "," : "", (int)u[i].pid, u[i].how & PSHM_USE_MAP ? "true" : "false",
			       u[i].how & PSHM_USE_FD ? "true" : "false");
			cli_json_str(u[i].comm);
			printf("}");
		}
		printf(n ? "\n]\n" : "]\n");
	} else {
		if (n == 0)
			printf("no process maps %s or holds it open\n", cli_esc(name, esc, sizeof(esc)));
		else
			printf("%7s  %-6s  %s\n", "PID", "HOW", "COMMAND");
		for (ssize_t i = 0; i < n; i++)
			printf("%7d  %-6s  %s\n", (int)u[i].pid, how_str(u[i].how),
			       cli_esc(u[i].comm, esc, sizeof(esc)));
		if (!complete)
			printf("(not every process could be inspected%s)\n",
			       geteuid() ? ": other users' are visible to root" : "");
	}
	free(u);
	return cli_finish_stdout("who", name);
}

/* ------------------------------------------------------------------------
 * cat
 * ------------------------------------------------------------------------ */

static const char cat_help[] =
	"usage: pshm cat NAME [--text]\n\n"
	"Copy the bytes of the segment NAME to standard output, whatever its size,\n"
	"in 64 KiB chunks read from the segment's file (never mapped, so memory\n"
	"use stays bounded). If another process truncates the segment meanwhile,\n"
	"pshm stops with an error and exit status 1.\n\n"
	"  -t, --text   stop at the first NUL byte (for segments holding a string)\n"
	"  -h, --help   this help\n";

static int cat_stream(pshm_seg *seg, const char *name, bool text)
{
	static char buf[CHUNK];
	uint64_t size = pshm_seg_size(seg);
	for (uint64_t off = 0; off < size;) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pshm_seg_pread(seg, buf, want, off);
		if (n < 0)
			return cli_fail("cat", name, (int)n);
		if (n == 0)
			return cli_failn("cat", name, "%s (%" PRIu64 " of %" PRIu64 " bytes copied)",
					 pshm_strerror(-EFAULT), off, size);
		char *nul = text ? memchr(buf, '\0', (size_t)n) : NULL;
		size_t len = nul ? (size_t)(nul - buf) : (size_t)n;
		int r = cli_write_all(STDOUT_FILENO, buf, len);
		if (r < 0)
			return cli_out_fail("cat", name, r);
		if (nul)
			break;
		off += (uint64_t)n;
	}
	return EXIT_OK;
}

int cmd_cat(int argc, char **argv)
{
	bool text;
	int r = one_flag(argc, argv, cat_help, "text", ":th", &text);
	if (r >= 0 || (r = one_name(argc, argv)) >= 0)
		return r;
	const char *name = argv[optind];
	pshm_seg *seg;
	r = pshm_seg_open(name, INSPECT | PSHM_NOMAP, &seg);
	if (r < 0)
		return cli_seg_fail("cat", name, r);
	r = cat_stream(seg, name, text);
	pshm_seg_close(seg);
	return r;
}

/* ------------------------------------------------------------------------
 * dump
 * ------------------------------------------------------------------------ */

static const char dump_help[] =
	"usage: pshm dump NAME [-s OFFSET] [-n LENGTH]\n\n"
	"Show the segment NAME in hexadecimal and ASCII, 16 bytes a line, in the\n"
	"format of hexdump -C: offset, bytes, printable characters. A run of\n"
	"identical lines is shown once, followed by a line with '*'. The last line\n"
	"is the offset of the end. Bytes are read from the segment's file (never\n"
	"mapped: dumping a sparse segment allocates nothing); a segment truncated\n"
	"meanwhile gives an error (exit 1).\n\n"
	"  -s, --offset OFFSET  start there (4096, 4K, 0x1000; default 0)\n"
	"  -n, --length LENGTH  show at most LENGTH bytes (default: to the end)\n"
	"  -h, --help           this help\n";

/* hexdump -C state: the previous full line, to fold repeats into '*'. */
struct dumper {
	unsigned char prev[16];
	bool have_prev;
	bool starred;
};

static void dump_line(struct dumper *d, uint64_t off, const unsigned char *p, size_t n)
{
	if (n == 16 && d->have_prev && !memcmp(p, d->prev, 16)) {
		if (!d->starred)
			fputs("*\n", stdout);
		d->starred = true;
		return;
	}
	d->starred = false;
	d->have_prev = n == 16;
	if (n == 16)
		memcpy(d->prev, p, 16);
	char line[80], *q = line;
	q += sprintf(q, "%08" PRIx64 " ", off);
	for (size_t i = 0; i < 16; i++) {
		if (i == 8)
			*q++ = ' ';
		q += i < n ? sprintf(q, " %02x", p[i]) : sprintf(q, "   ");
	}
	q += sprintf(q, "  |");
	for (size_t i = 0; i < n; i++)
		*q++ = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	sprintf(q, "|\n");
	fputs(line, stdout);
}

static int dump_range(pshm_seg *seg, const char *name, uint64_t off, uint64_t len)
{
	static unsigned char buf[CHUNK];
	struct dumper d = { .have_prev = false };
	uint64_t end = off + len;
	while (off < end) {
		size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
		ssize_t n = pshm_seg_pread(seg, buf, want, off);
		if (n < 0)
			return cli_fail("dump", name, (int)n);
		if ((size_t)n < want)
			return cli_failn("dump", name, "%s (at offset %" PRIu64 ")",
					 pshm_strerror(-EFAULT), off + (uint64_t)n);
		for (size_t i = 0; i < want; i += 16)
			dump_line(&d, off + i, buf + i, want - i < 16 ? want - i : 16);
		off += want;
		if (ferror(stdout))
			break;
	}
	if (end > 0)
		printf("%08" PRIx64 "\n", end);
	return cli_finish_stdout("dump", name);
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 's' },
		{ "length", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t off = 0, len = UINT64_MAX;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":s:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cli_parse_offset(optarg, &off) < 0)
				return cli_usage(argv[0], "bad offset '%s'", optarg);
			break;
		case 'n':
			if (cli_parse_offset(optarg, &len) < 0)
				return cli_usage(argv[0], "bad length '%s'", optarg);
			break;
		case 'h': return help(dump_help);
		default: return cli_bad_option(argv[0], c, argv);
		}
	}
	int r = one_name(argc, argv);
	if (r >= 0)
		return r;
	const char *name = argv[optind];
	pshm_seg *seg;
	r = pshm_seg_open(name, INSPECT | PSHM_NOMAP, &seg);
	if (r < 0)
		return cli_seg_fail("dump", name, r);
	uint64_t size = pshm_seg_size(seg);
	if (off > size) {
		pshm_seg_close(seg);
		return cli_failn("dump", name, "offset %" PRIu64 " is past the end (size %" PRIu64 ")",
				 off, size);
	}
	if (len > size - off)
		len = size - off;
	r = dump_range(seg, name, off, len);
	pshm_seg_close(seg);
	return r;
}

/* ------------------------------------------------------------------------
 * create
 * ------------------------------------------------------------------------ */

static const char create_help[] =
	"usage: pshm create NAME SIZE [--mode MODE] [--exist-ok]\n\n"
	"Create the segment NAME of SIZE bytes (4096, 64K, 1M, 2G), filled with\n"
	"zeros. The memory is reserved now, so a full /dev/shm fails here rather\n"
	"than later. Fails if NAME exists, unless --exist-ok.\n\n"
	"  -m, --mode MODE         permissions, octal, 1 to 777 (default 600: only you)\n"
	"  -e, --exist-ok          if NAME exists, keep it (grown to SIZE if smaller);\n"
	"                          it must be yours and not writable by others\n"
	"      --allow-foreign     with --exist-ok: accept a segment owned by another user\n"
	"      --allow-shared-write  with --exist-ok: accept one writable by group or others\n"
	"  -h, --help              this help\n";

/* -ENOSPC: say how much was asked for and how much is free. */
static int nospc_fail(const char *action, const char *name, uint64_t size)
{
	struct statvfs vfs;
	char a[64], f[64];
	if (statvfs("/dev/shm", &vfs) < 0)
		return cli_fail(action, name, -ENOSPC);
	return cli_failn(action, name, "%s (%s asked for, %s free)", pshm_strerror(-ENOSPC),
			 size_words(size, a, sizeof(a)),
			 size_words((uint64_t)vfs.f_bavail * vfs.f_frsize, f, sizeof(f)));
}

int cmd_create(int argc, char **argv)
{
	enum { OPT_FOREIGN = 256, OPT_SHARED };
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "exist-ok", no_argument, NULL, 'e' },
		{ "allow-foreign", no_argument, NULL, OPT_FOREIGN },
		{ "allow-shared-write", no_argument, NULL, OPT_SHARED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	mode_t mode = 0600;
	unsigned flags = 0;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":m:eh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (cli_parse_mode(optarg, &mode) < 0)
				return cli_usage(argv[0], "bad mode '%s' (octal, 1 to 777, e.g. 600 or "
						 "0640)", optarg);
			break;
		case 'e': flags |= PSHM_OPEN_EXISTING; break;
		case OPT_FOREIGN: flags |= PSHM_ALLOW_FOREIGN; break;
		case OPT_SHARED: flags |= PSHM_ALLOW_SHARED_WRITE; break;
		case 'h': return help(create_help);
		default: return cli_bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 2)
		return cli_usage(argv[0], argc - optind < 2 ? "needs a segment name and a size"
							    : "unexpected argument '%s'",
				 argv[optind + 2 < argc ? optind + 2 : 0]);
	const char *name = argv[optind];
	uint64_t size;
	if (cli_parse_size(argv[optind + 1], &size) < 0)
		return cli_usage(argv[0], "bad size '%s' (e.g. 4096, 64K, 1M)", argv[optind + 1]);
	int r = pshm_name_check(name);
	if (r < 0)
		return cli_seg_fail("create", name, r);
	if (size == 0)
		return cli_failn("create", name, "size 0: a segment needs at least 1 byte");
	if (size > SIZE_MAX)
		return cli_fail("create", name, -EFBIG);
	pshm_seg *seg;
	r = pshm_seg_create(name, (size_t)size, mode, flags, &seg);
	if (r == -EEXIST)
		return cli_failn("create", name, "%s (--exist-ok to keep it)", pshm_strerror(r));
	if (r == -ENOSPC)
		return nospc_fail("create", name, size);
	if (r < 0)
		return cli_seg_fail("create", name, r);
	pshm_seg_close(seg);
	return EXIT_OK;
}

/* ------------------------------------------------------------------------
 * write
 * ------------------------------------------------------------------------ */

static const char write_help[] =
	"usage: pshm write NAME [--offset N] [--create] [TEXT | -]\n\n"
	"Write TEXT (or standard input, with '-' or no TEXT) into the existing\n"
	"segment NAME at offset N (default 0), byte for byte: no newline or NUL\n"
	"is added unless asked for. Writing past the end grows the segment.\n"
	"A missing segment is an error unless --create is given. If /dev/shm\n"
	"fills up part way, pshm says how many bytes were written (exit 1).\n"
	"Use -- before a TEXT that starts with '-'.\n\n"
	"  -o, --offset N          write at byte N (4096, 4K, 0x1000)\n"
	"  -c, --create            create NAME if it does not exist, just large\n"
	"                          enough for what is written\n"
	"  -m, --mode MODE         with --create: permissions (octal, 1 to 777,\n"
	"                          default 600)\n"
	"  -z, --nul               write a NUL byte after the data (for C strings)\n"
	"      --allow-foreign     accept a segment owned by another user\n"
	"      --allow-shared-write  accept a segment writable by group or others\n"
	"  -h, --help              this help\n";

struct writer {
	const char *name;
	pshm_seg *seg;
	uint64_t off;     /* where the next byte goes */
	uint64_t written; /* bytes written so far */
	unsigned flags;   /* PSHM_ALLOW_* */
	bool create;
	mode_t mode;
};

static int write_fail(struct writer *w, int err)
{
	if (err == -EPERM)
		return cli_seg_fail("write", w->name, err);
	if (err == -ENOENT && !w->seg)
		return cli_failn("write", w->name, "no such segment (create it first with 'pshm "
						   "create NAME SIZE', or use --create)");
	if (w->written || err == -ENOSPC)
		return cli_failn("write", w->name, "%s (%" PRIu64 " byte%s written before the error)",
				 pshm_strerror(err), w->written, w->written == 1 ? "" : "s");
	return cli_seg_fail("write", w->name, err);
}

/* Get the segment, creating it with room for @first bytes if asked to.
 * Returns 0, or the exit status after reporting the failure. */
static int write_open(struct writer *w, size_t first)
{
	int r = pshm_seg_open(w->name, w->flags | PSHM_NOMAP, &w->seg);
	if (r == -ENOENT && w->create) {
		uint64_t size = w->off + first;
		if (size == 0)
			return cli_failn("write", w->name, "nothing to write, and a new segment "
							   "needs at least 1 byte");
		if (size > SIZE_MAX)
			return cli_fail("write", w->name, -EFBIG);
		/* If someone else creates it meanwhile, open theirs (policy applies). */
		r = pshm_seg_create(w->name, (size_t)size, w->mode, PSHM_OPEN_EXISTING | w->flags,
				    &w->seg);
		if (r == -ENOSPC)
			return nospc_fail("write", w->name, size);
	}
	return r < 0 ? write_fail(w, r) : 0;
}

static int write_bytes(struct writer *w, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = pshm_seg_pwrite(w->seg, p, len, w->off);
		if (n < 0)
			return (int)n;
		w->off += (uint64_t)n;
		w->written += (uint64_t)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_stdin(struct writer *w, bool nul)
{
	static char buf[CHUNK + 1];
	size_t n;
	int r = cli_read_full(STDIN_FILENO, buf, CHUNK, &n);
	if (r < 0)
		return cli_failn("write", w->name, "standard input: %s", strerror(-r));
	bool eof = n < CHUNK;
	if (eof && nul)
		buf[n++] = '\0';
	r = write_open(w, n);
	if (r)
		return r;
	for (;;) {
		r = write_bytes(w, buf, n);
		if (r < 0 || eof)
			break;
		r = cli_read_full(STDIN_FILENO, buf, CHUNK, &n);
		if (r < 0) {
			pshm_seg_close(w->seg);
			return cli_failn("write", w->name, "standard input: %s (%" PRIu64
					 " bytes written before the error)", strerror(-r), w->written);
		}
		eof = n < CHUNK;
		if (eof && nul)
			buf[n++] = '\0';
	}
	if (r < 0)
		r = write_fail(w, r);
	pshm_seg_close(w->seg);
	return r;
}

static int write_text(struct writer *w, const char *text, bool nul)
{
	size_t len = strlen(text) + (nul ? 1 : 0);
	int r = write_open(w, len);
	if (r)
		return r;
	r = write_bytes(w, text, len);
	if (r < 0)
		r = write_fail(w, r);
	pshm_seg_close(w->seg);
	return r;
}

int cmd_write(int argc, char **argv)
{
	enum { OPT_FOREIGN = 256, OPT_SHARED };
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "create", no_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "nul", no_argument, NULL, 'z' },
		{ "allow-foreign", no_argument, NULL, OPT_FOREIGN },
		{ "allow-shared-write", no_argument, NULL, OPT_SHARED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct writer w = { .mode = 0600 };
	bool nul = false, mode_set = false;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":o:cm:zh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (cli_parse_offset(optarg, &w.off) < 0 || w.off > INT64_MAX)
				return cli_usage(argv[0], "bad offset '%s'", optarg);
			break;
		case 'c': w.create = true; break;
		case 'm':
			if (cli_parse_mode(optarg, &w.mode) < 0)
				return cli_usage(argv[0], "bad mode '%s' (octal, 1 to 777, e.g. 600 or "
						 "0640)", optarg);
			mode_set = true;
			break;
		case 'z': nul = true; break;
		case OPT_FOREIGN: w.flags |= PSHM_ALLOW_FOREIGN; break;
		case OPT_SHARED: w.flags |= PSHM_ALLOW_SHARED_WRITE; break;
		case 'h': return help(write_help);
		default: return cli_bad_option(argv[0], c, argv);
		}
	}
	int nargs = argc - optind;
	if (nargs < 1 || nargs > 2)
		return cli_usage(argv[0], nargs < 1 ? "missing segment name"
						    : "too many arguments (quote the text)");
	if (mode_set && !w.create)
		return cli_usage(argv[0], "--mode applies only with --create");
	w.name = argv[optind];
	int r = pshm_name_check(w.name);
	if (r < 0)
		return cli_seg_fail("write", w.name, r);
	const char *text = nargs == 2 ? argv[optind + 1] : "-";
	if (!strcmp(text, "-"))
		return write_stdin(&w, nul);
	return write_text(&w, text, nul);
}

/* ------------------------------------------------------------------------
 * rm
 * ------------------------------------------------------------------------ */

static const char rm_help[] =
	"usage: pshm rm [-f] NAME...\n\n"
	"Remove the segments NAME... from /dev/shm. Processes that map one or hold\n"
	"it open keep it until they let go; only the name goes. Anything that is\n"
	"not a regular file (symlink, directory, FIFO) is refused and left alone.\n\n"
	"  -f, --force  ignore segments that do not exist\n"
	"  -h, --help   this help\n";

int cmd_rm(int argc, char **argv)
{
	bool force;
	int r = one_flag(argc, argv, rm_help, "force", ":fh", &force);
	if (r >= 0)
		return r;
	if (optind == argc && !force)
		return cli_usage(argv[0], "missing segment name");
	int status = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		r = pshm_seg_unlink(argv[i]);
		if (r == -ENOENT && force)
			continue;
		if (r == -ENOTSUP) {
			struct pshm_stat st;
			if (pshm_seg_stat(argv[i], &st) == 0)
				r = cli_failn("rm", argv[i], "is a %s, not a segment: not removed",
					      cli_type_name(st.mode));
			else
				r = cli_seg_fail("rm", argv[i], r);
		} else if (r == -EPERM) {
			r = cli_failn("rm", argv[i], "not yours: only its owner or root may remove it "
						     "(/dev/shm is a sticky directory)");
		} else if (r < 0) {
			r = cli_seg_fail("rm", argv[i], r);
		}
		if (r)
			status = EXIT_FAIL;
	}
	return status;
}

/* ------------------------------------------------------------------------
 * gc
 * ------------------------------------------------------------------------ */

static const char gc_help[] =
	"usage: pshm gc [--older-than AGE] [--yes] [--json]\n\n"
	"Find abandoned segments: yours, regular files, mapped or held open by no\n"
	"live process, and not modified for AGE (default 1h). They are listed;\n"
	"they are removed only with --yes. A segment in use, another user's, or\n"
	"a younger one is never touched (a segment nobody uses may still be\n"
	"wanted: named segments outlive their programs on purpose). Only root\n"
	"sees every process: run as another user, gc skips, and says so, a\n"
	"segment that other users may open (group or other permission bits),\n"
	"since their processes may be using it unseen.\n\n"
	"  -a, --older-than AGE  unchanged for at least AGE: 90, 90s, 10m, 2h, 7d\n"
	"  -y, --yes             remove them\n"
	"      --json            a JSON array of what was found (and removed)\n"
	"  -h, --help            this help\n";

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double age_of(const struct pshm_stat *st, double now)
{
	return now - ((double)st->mtime_sec + st->mtime_nsec / 1e9);
}

/* Ours, a regular file, unchanged for @min_age? */
static bool old_and_own(const struct pshm_stat *st, double min_age, double now)
{
	return S_ISREG(st->mode) && st->uid == geteuid() && age_of(st, now) >= min_age;
}

enum verdict { USED, UNSURE, UNUSED };

/*
 * Does the scan of /proc prove that nobody uses @st? A scan that missed
 * processes (other users', unless root) proves it only for a segment that
 * no other user may open: one with no group or other permission bits.
 */
static enum verdict verdict(const struct pshm_stat *st, long users, int complete)
{
	if (users != 0)
		return users > 0 ? USED : UNSURE;
	return complete || !(st->mode & 077) ? UNUSED : UNSURE;
}

/* A segment gc leaves alone because it cannot prove it unused: say why. */
static void gc_skipped(const struct pshm_stat *st, long users)
{
	if (users < 0)
		cli_failn("gc", st->name, "skipped: could not tell whether a process uses it");
	else
		cli_failn("gc", st->name, "skipped: may be in use: its mode (%04o) lets other "
			  "users open it, and %s", (unsigned)(st->mode & 07777),
			  geteuid() ? "only root can see their processes"
				    : "not every process could be inspected");
}

static bool same_file(const struct pshm_stat *a, const struct pshm_stat *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mtime_sec == b->mtime_sec &&
	       a->mtime_nsec == b->mtime_nsec;
}

/*
 * Remove the @n candidates, after looking again just before: each still
 * there, unchanged, still old and ours, and, from one more scan of /proc,
 * still unused. res[i]: 1 removed, -EBUSY left alone (changed or back in
 * use), or the error of the removal.
 */
static int gc_remove(const struct pshm_stat *cand, size_t n, double min_age, double now,
		     int *res)
{
	struct pshm_stat *again = malloc((n ? n : 1) * sizeof(*again));
	if (!again)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (pshm_seg_stat(cand[i].name, &again[i]) < 0 || !same_file(&cand[i], &again[i]) ||
		    !old_and_own(&again[i], min_age, now))
			again[i].mode = 0; /* not a candidate any more, nor scanned */
	struct users u;
	int r = users_of(again, n, &u);
	for (size_t i = 0; r == 0 && i < n; i++) {
		res[i] = -EBUSY;
		if (S_ISREG(again[i].mode) && verdict(&again[i], u.count[i], u.complete) == UNUSED) {
			int e = pshm_seg_unlink(cand[i].name);
			res[i] = e == 0 ? 1 : e;
		}
	}
	free(u.count);
	free(again);
	return r;
}

/* The found candidates, listed or removed (res[i] as from gc_remove(), or
 * 0: listed only). Returns the number reported; adds up their memory. */
static size_t gc_report(const struct pshm_stat *cand, const int *res, size_t n, bool json,
			double now, uint64_t *bytes)
{
	char esc[CLI_ESC_MAX], h[16], a[16];
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		const struct pshm_stat *st = &cand[i];
		if (res[i] == -EBUSY || res[i] == -ENOENT)
			continue; /* gone or back in use meanwhile: not ours to report */
		if (res[i] < 0) {
			cli_fail("gc", st->name, res[i]);
			continue;
		}
		found++;
		*bytes += st->allocated;
		if (json) {
			printf("%s\n  {\"name\": ", found > 1 ? "," : "");
			cli_json_str(st->name);
			printf(", \"size\": %" PRIu64 ", \"allocated\": %" PRIu64 ", \"mtime\": %" PRId64
			       ", \"age\": %.0f, \"removed\": %s}",
			       st->size, st->allocated, st->mtime_sec, age_of(st, now),
			       res[i] == 1 ? "true" : "false");
		} else {
			printf("%s %s (%s, unchanged for %s)\n", res[i] == 1 ? "removed" : "abandoned:",
			       cli_esc(st->name, esc, sizeof(esc)), cli_human(st->size, h, sizeof(h)),
			       age_str(age_of(st, now), a, sizeof(a)));
		}
	}
	return found;
}

/* Pick from the listing @v the segments that are old, ours and provably
 * unused into @cand; say why about those that may be in use. */
static size_t gc_pick(const struct pshm_stat *v, size_t n, const struct users *u,
		      double min_age, double now, struct pshm_stat *cand)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!old_and_own(&v[i], min_age, now))
			continue;
		enum verdict d = verdict(&v[i], u->count[i], u->complete);
		if (d == UNSURE)
			gc_skipped(&v[i], u->count[i]);
		if (d == UNUSED)
			cand[k++] = v[i];
	}
	return k;
}

int cmd_gc(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "older-than", required_argument, NULL, 'a' },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double min_age = GC_DEFAULT_AGE;
	const char *age_arg = NULL;
	bool yes = false, json = false;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":a:yh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (cli_parse_duration(optarg, &min_age) < 0)
				return cli_usage(argv[0], "bad age '%s' (e.g. 90s, 10m, 2h, 7d)",
						 optarg);
			age_arg = optarg;
			break;
		case 'y': yes = true; break;
		case 'j': json = true; break;
		case 'h': return help(gc_help);
		default: return cli_bad_option(argv[0], c, argv);
		}
	}
	struct pshm_stat *v;
	size_t n;
	struct users u;
	int r = listing(argc, argv, &v, &n, &u);
	if (r >= 0)
		return r;
	double now = now_sec();
	struct pshm_stat *cand = malloc((n ? n : 1) * sizeof(*cand));
	int *res = calloc(n ? n : 1, sizeof(*res));
	r = cand && res ? 0 : -ENOMEM;
	size_t k = r == 0 ? gc_pick(v, n, &u, min_age, now, cand) : 0;
	if (r == 0 && yes)
		r = gc_remove(cand, k, min_age, now, res);
	free(u.count);
	free(v);
	if (r < 0) {
		free(cand);
		free(res);
		return cli_fail("gc", "/dev/shm", r);
	}
	if (json)
		printf("[");
	uint64_t bytes = 0;
	size_t found = gc_report(cand, res, k, json, now, &bytes);
	int status = EXIT_OK;
	for (size_t i = 0; i < k; i++)
		if (res[i] < 0 && res[i] != -EBUSY && res[i] != -ENOENT)
			status = EXIT_FAIL;
	free(cand);
	free(res);
	char h[16], a[16];
	if (json)
		printf(found ? "\n]\n" : "]\n");
	else if (!found)
		printf("no abandoned segment (yours, unused, unchanged for %s)\n",
		       age_str(min_age, a, sizeof(a)));
	else if (!yes)
		printf("%zu abandoned segment%s (%s in memory); 'pshm gc --yes%s%s' removes %s\n",
		       found, found == 1 ? "" : "s", cli_human(bytes, h, sizeof(h)),
		       age_arg ? " --older-than " : "", age_arg ? age_arg : "",
		       found == 1 ? "it" : "them");
	r = cli_finish_stdout("gc", "/dev/shm");
	return status ? status : r;
}
