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

/* Start a getopt_long() loop for a subcommand (argv[0] is its name).
 * Options may follow operands (`pshm cat NAME --text`); `--` ends them. */
static void opt_start(void)
{
	optind = 0;
	opterr = 0;
}

static int bad_option(const char *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		return cli_usage(cmd, "option '%s' needs a value", arg);
	if (optopt && optopt != '?' && arg[0] == '-' && arg[1] != '-')
		return cli_usage(cmd, "unknown option '-%c'", optopt);
	return cli_usage(cmd, "unknown option '%s'", arg);
}

static int help(const char *text)
{
	fputs(text, stdout);
	return EXIT_OK;
}

static const char *type_name(mode_t m)
{
	if (S_ISREG(m))
		return "regular file";
	if (S_ISLNK(m))
		return "symbolic link";
	if (S_ISDIR(m))
		return "directory";
	if (S_ISFIFO(m))
		return "FIFO";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISCHR(m))
		return "character device";
	if (S_ISBLK(m))
		return "block device";
	return "unknown file type";
}

/* Short type for listings: "symlink", "directory", "fifo", ... */
static const char *type_word(mode_t m)
{
	if (S_ISREG(m))
		return "regular";
	if (S_ISLNK(m))
		return "symlink";
	if (S_ISDIR(m))
		return "directory";
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISCHR(m))
		return "chardev";
	if (S_ISBLK(m))
		return "blockdev";
	return "unknown";
}

static const char *kind_word(const struct pshm_stat *st)
{
	switch (st->kind) {
	case PSHM_KIND_RAW: return "raw";
	case PSHM_KIND_BOX: return "box";
	case PSHM_KIND_CHAN: return "channel";
	default: return type_word(st->mode);
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

static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
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

/* How many processes map @name or hold it open, or -1 if unknown. */
static long users_count(const char *name)
{
	struct pshm_user *u;
	ssize_t n = pshm_seg_users(name, &u, NULL);
	if (n < 0)
		return -1;
	free(u);
	return (long)n;
}

/* A bad name: say what is wrong with it. */
static int name_fail(const char *action, const char *name, int err)
{
	if (err == -ENAMETOOLONG)
		return cli_failn(action, name, "segment name too long (at most %d bytes)",
				 PSHM_NAME_MAX);
	return cli_failn(action, name, "invalid segment name (not empty, not '.' or '..', "
				       "no '/' except a leading one)");
}

/* Report @err from an operation on @name, in the most useful words. */
static int seg_fail(const char *action, const char *name, int err)
{
	if (err == -EINVAL && pshm_name_check(name) < 0)
		return name_fail(action, name, pshm_name_check(name));
	if (err == -ENAMETOOLONG)
		return name_fail(action, name, err);
	if (err == -ENOTSUP) {
		struct pshm_stat st;
		if (pshm_seg_stat(name, &st) == 0 && !S_ISREG(st.mode))
			return cli_failn(action, name, "is a %s, not a segment: refused%s",
					 type_name(st.mode),
					 S_ISLNK(st.mode) ? " (never followed)" : "");
	}
	return cli_fail(action, name, err);
}

/* -EPERM from the open policy: say why and which flag lifts it. */
static int policy_fail(const char *action, const char *name)
{
	struct pshm_stat st;
	char who[64];
	if (pshm_seg_stat(name, &st) == 0 && st.uid != geteuid())
		return cli_failn(action, name,
				 "owned by %s, not by you: refused (--allow-foreign to accept it)",
				 user_name(st.uid, who, sizeof(who)));
	return cli_failn(action, name, "writable by group or others, so anyone there may change "
				       "it: refused (--allow-shared-write to accept it)");
}

/* Write all of @buf to standard output. */
static int out_all(const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int out_fail(const char *action, const char *name, int err)
{
	return cli_failn(action, name, "standard output: %s", strerror(-err));
}

/* Flush stdout and report a write error on it (closed pipe, full disk). */
static int finish_stdout(const char *action, const char *name)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return out_fail(action, name, -(errno ? errno : EIO));
	return EXIT_OK;
}

/* Parse an offset or length: 4096, 64K, 1M, or hexadecimal 0x1000. */
static int parse_num(const char *s, uint64_t *out)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s + 2, &end, 16);
		if (end == s + 2 || *end || errno)
			return -EINVAL;
		*out = v;
		return 0;
	}
	return cli_parse_size(s, out);
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
	"followed or opened).\n\n"
	"  -l, --long   also mode, owner, group, exact size, allocated bytes and\n"
	"               modification time\n"
	"      --json   a JSON array with every field\n"
	"  -h, --help   this help\n";

static void ls_json_one(const struct pshm_stat *st)
{
	char buf[PSHM_NAME_MAX + 16], m[11];
	printf("  {\"name\": ");
	cli_json_str(st->name);
	snprintf(buf, sizeof(buf), "/dev/shm%s", st->name);
	printf(", \"path\": ");
	cli_json_str(buf);
	printf(", \"type\": \"%s\", \"kind\": \"%s\", \"description\": ", type_word(st->mode),
	       kind_word(st));
	describe(st, buf, sizeof(buf));
	if (buf[0])
		cli_json_str(buf);
	else
		printf("null");
	printf(", \"size\": %" PRIu64 ", \"allocated\": %" PRIu64 ", \"uid\": %u, \"owner\": ",
	       st->size, st->allocated, (unsigned)st->uid);
	cli_json_str(user_name(st->uid, buf, sizeof(buf)));
	printf(", \"gid\": %u, \"group\": ", (unsigned)st->gid);
	cli_json_str(group_name(st->gid, buf, sizeof(buf)));
	printf(", \"mode\": \"%04o\", \"permissions\": \"%s\"", (unsigned)(st->mode & 07777),
	       mode_str(st->mode, m));
	printf(", \"mtime\": %" PRId64 ", \"mtime_nsec\": %ld", st->mtime_sec, st->mtime_nsec);
	long u = S_ISREG(st->mode) ? users_count(st->name) : -1;
	if (u >= 0)
		printf(", \"users\": %ld}", u);
	else
		printf(", \"users\": null}");
}

static int ls_json(const struct pshm_stat *v, size_t n)
{
	printf("[");
	for (size_t i = 0; i < n; i++) {
		printf(i ? ",\n" : "\n");
		ls_json_one(&v[i]);
	}
	printf(n ? "\n]\n" : "]\n");
	return finish_stdout("ls", "/dev/shm");
}

static void ls_kind(const struct pshm_stat *st, char *buf, size_t len)
{
	char d[200];
	describe(st, d, sizeof(d));
	if (d[0])
		snprintf(buf, len, "%s", d);
	else if (st->kind == PSHM_KIND_OTHER)
		snprintf(buf, len, "%s (not a segment)", type_word(st->mode));
	else
		snprintf(buf, len, "%s", kind_word(st));
}

static void ls_users(const struct pshm_stat *st, char *buf, size_t len)
{
	long u = S_ISREG(st->mode) ? users_count(st->name) : -1;
	if (u < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%ld", u);
}

static int ls_table(const struct pshm_stat *v, size_t n, bool lng)
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
		ls_users(st, users, sizeof(users));
		cli_esc(st->name, esc, sizeof(esc));
		if (lng) {
			char m[11], o[64], g[64], t[32];
			printf("%-10s  %-8s  %-8s  %10" PRIu64 "  %10" PRIu64 "  %-16s  %5s  %-*s  %s\n",
			       mode_str(st->mode, m), user_name(st->uid, o, sizeof(o)),
			       group_name(st->gid, g, sizeof(g)), st->size, st->allocated,
			       time_str(st->mtime_sec, t, sizeof(t)), users, w, esc, kind);
		} else {
			printf("%-*s  %6s  %5s  %s\n", w, esc, cli_human(st->size, sz, sizeof(sz)),
			       users, kind);
		}
	}
	return finish_stdout("ls", "/dev/shm");
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
	opt_start();
	while ((c = getopt_long(argc, argv, ":lh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': lng = true; break;
		case 'j': json = true; break;
		case 'h': return help(ls_help);
		default: return bad_option(argv[0], c, argv);
		}
	}
	if (optind < argc)
		return cli_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	struct pshm_stat *v;
	ssize_t n = pshm_seg_list(&v);
	if (n < 0)
		return cli_fail("ls", "/dev/shm", (int)n);
	int r = json ? ls_json(v, (size_t)n) : ls_table(v, (size_t)n, lng);
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

static void stat_json(const struct pshm_stat *st)
{
	char buf[PSHM_NAME_MAX + 16], m[11];
	printf("{\"name\": ");
	cli_json_str(st->name);
	snprintf(buf, sizeof(buf), "/dev/shm%s", st->name);
	printf(", \"path\": ");
	cli_json_str(buf);
	printf(", \"type\": \"%s\", \"kind\": \"%s\", \"description\": ", type_word(st->mode),
	       kind_word(st));
	describe(st, buf, sizeof(buf));
	if (buf[0])
		cli_json_str(buf);
	else
		printf("null");
	printf(", \"size\": %" PRIu64 ", \"allocated\": %" PRIu64, st->size, st->allocated);
	printf(", \"uid\": %u, \"owner\": ", (unsigned)st->uid);
	cli_json_str(user_name(st->uid, buf, sizeof(buf)));
	printf(", \"gid\": %u, \"group\": ", (unsigned)st->gid);
	cli_json_str(group_name(st->gid, buf, sizeof(buf)));
	printf(", \"mode\": \"%04o\", \"permissions\": \"%s\"", (unsigned)(st->mode & 07777),
	       mode_str(st->mode, m));
	printf(", \"atime\": %" PRId64 ", \"atime_nsec\": %ld", st->atime_sec, st->atime_nsec);
	printf(", \"mtime\": %" PRId64 ", \"mtime_nsec\": %ld", st->mtime_sec, st->mtime_nsec);
	printf(", \"ctime\": %" PRId64 ", \"ctime_nsec\": %ld", st->ctime_sec, st->ctime_nsec);
	long u = S_ISREG(st->mode) ? users_count(st->name) : -1;
	if (u >= 0)
		printf(", \"users\": %ld}\n", u);
	else
		printf(", \"users\": null}\n");
}

static void stat_text(const struct pshm_stat *st)
{
	char esc[CLI_ESC_MAX], buf[256], h[64], m[11];
	cli_esc(st->name, esc, sizeof(esc));
	printf("name:       %s\n", esc);
	printf("path:       /dev/shm%s\n", esc);
	printf("type:       %s\n", type_name(st->mode));
	describe(st, buf, sizeof(buf));
	if (st->kind == PSHM_KIND_OTHER)
		printf("kind:       not a segment (never followed or opened)\n");
	else
		printf("kind:       %s\n", buf[0] ? buf : kind_word(st));
	printf("size:       %s\n", size_words(st->size, h, sizeof(h)));
	printf("allocated:  %s\n", size_words(st->allocated, h, sizeof(h)));
	printf("owner:      %s (%u)\n", user_name(st->uid, buf, sizeof(buf)), (unsigned)st->uid);
	printf("group:      %s (%u)\n", group_name(st->gid, buf, sizeof(buf)), (unsigned)st->gid);
	printf("mode:       %04o (%s)\n", (unsigned)(st->mode & 07777), mode_str(st->mode, m));
	printf("accessed:   %s\n", time_full(st->atime_sec, st->atime_nsec, buf, sizeof(buf)));
	printf("modified:   %s\n", time_full(st->mtime_sec, st->mtime_nsec, buf, sizeof(buf)));
	printf("changed:    %s\n", time_full(st->ctime_sec, st->ctime_nsec, buf, sizeof(buf)));
	long u = S_ISREG(st->mode) ? users_count(st->name) : -1;
	if (u >= 0)
		printf("users:      %ld process%s (pshm who %s)\n", u, u == 1 ? "" : "es", esc);
}

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;
	opt_start();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': return help(stat_help);
		default: return bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], argc == optind ? "missing segment name"
							 : "one segment name only");
	const char *name = argv[optind];
	struct pshm_stat st;
	int r = pshm_seg_stat(name, &st);
	if (r < 0)
		return seg_fail("stat", name, r);
	if (json)
		stat_json(&st);
	else
		stat_text(&st);
	return finish_stdout("stat", name);
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
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;
	opt_start();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': return help(who_help);
		default: return bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], argc == optind ? "missing segment name"
							 : "one segment name only");
	const char *name = argv[optind];
	struct pshm_user *u;
	ssize_t n = pshm_seg_users(name, &u, NULL);
	if (n < 0)
		return seg_fail("who", name, (int)n);
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
	} else if (n == 0) {
		printf("no process maps %s or holds it open\n", cli_esc(name, esc, sizeof(esc)));
	} else {
		printf("%7s  %-6s  %s\n", "PID", "HOW", "COMMAND");
		for (ssize_t i = 0; i < n; i++)
			printf("%7d  %-6s  %s\n", (int)u[i].pid, how_str(u[i].how),
			       cli_esc(u[i].comm, esc, sizeof(esc)));
	}
	free(u);
	return finish_stdout("who", name);
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
		int r = out_all(buf, len);
		if (r < 0)
			return out_fail("cat", name, r);
		if (nul)
			break;
		off += (uint64_t)n;
	}
	return EXIT_OK;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool text = false;
	int c;
	opt_start();
	while ((c = getopt_long(argc, argv, ":th", opts, NULL)) != -1) {
		switch (c) {
		case 't': text = true; break;
		case 'h': return help(cat_help);
		default: return bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], argc == optind ? "missing segment name"
							 : "one segment name only");
	const char *name = argv[optind];
	pshm_seg *seg;
	int r = pshm_seg_open(name, INSPECT | PSHM_NOMAP, &seg);
	if (r < 0)
		return seg_fail("cat", name, r);
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
	return finish_stdout("dump", name);
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
	opt_start();
	while ((c = getopt_long(argc, argv, ":s:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_num(optarg, &off) < 0)
				return cli_usage(argv[0], "bad offset '%s'", optarg);
			break;
		case 'n':
			if (parse_num(optarg, &len) < 0)
				return cli_usage(argv[0], "bad length '%s'", optarg);
			break;
		case 'h': return help(dump_help);
		default: return bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], argc == optind ? "missing segment name"
							 : "one segment name only");
	const char *name = argv[optind];
	pshm_seg *seg;
	int r = pshm_seg_open(name, INSPECT | PSHM_NOMAP, &seg);
	if (r < 0)
		return seg_fail("dump", name, r);
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
	"  -m, --mode MODE  permissions, in octal (default 600: only you)\n"
	"  -e, --exist-ok   if NAME exists, keep it (grown to SIZE if smaller);\n"
	"                   it must be yours and not writable by others\n"
	"  -h, --help       this help\n";

static int parse_mode(const char *s, mode_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 8);
	if (!*s || *end || errno || v > 07777 || *s == '-' || *s == '+')
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

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
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "exist-ok", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	mode_t mode = 0600;
	unsigned flags = 0;
	int c;
	opt_start();
	while ((c = getopt_long(argc, argv, ":m:eh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_mode(optarg, &mode) < 0 || mode == 0)
				return cli_usage(argv[0], "bad mode '%s' (octal, e.g. 600 or 0640)",
						 optarg);
			break;
		case 'e': flags |= PSHM_OPEN_EXISTING; break;
		case 'h': return help(create_help);
		default: return bad_option(argv[0], c, argv);
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
		return name_fail("create", name, r);
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
	if (r == -EPERM)
		return policy_fail("create", name);
	if (r < 0)
		return seg_fail("create", name, r);
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
	"  -m, --mode MODE         with --create: permissions (octal, default 600)\n"
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
		return policy_fail("write", w->name);
	if (err == -ENOENT && !w->seg)
		return cli_failn("write", w->name, "no such segment (create it first with 'pshm "
						   "create NAME SIZE', or use --create)");
	if (w->written || err == -ENOSPC)
		return cli_failn("write", w->name, "%s (%" PRIu64 " byte%s written before the error)",
				 pshm_strerror(err), w->written, w->written == 1 ? "" : "s");
	return seg_fail("write", w->name, err);
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

static int read_some(char *buf, size_t cap, size_t *got)
{
	*got = 0;
	while (*got < cap) {
		ssize_t n = read(STDIN_FILENO, buf + *got, cap - *got);
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

static int write_stdin(struct writer *w, bool nul)
{
	static char buf[CHUNK + 1];
	size_t n;
	int r = read_some(buf, CHUNK, &n);
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
		r = read_some(buf, CHUNK, &n);
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
	opt_start();
	while ((c = getopt_long(argc, argv, ":o:cm:zh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (parse_num(optarg, &w.off) < 0 || w.off > INT64_MAX)
				return cli_usage(argv[0], "bad offset '%s'", optarg);
			break;
		case 'c': w.create = true; break;
		case 'm':
			if (parse_mode(optarg, &w.mode) < 0 || w.mode == 0)
				return cli_usage(argv[0], "bad mode '%s' (octal, e.g. 600 or 0640)",
						 optarg);
			mode_set = true;
			break;
		case 'z': nul = true; break;
		case OPT_FOREIGN: w.flags |= PSHM_ALLOW_FOREIGN; break;
		case OPT_SHARED: w.flags |= PSHM_ALLOW_SHARED_WRITE; break;
		case 'h': return help(write_help);
		default: return bad_option(argv[0], c, argv);
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
		return name_fail("write", w.name, r);
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
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	int c;
	opt_start();
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'h': return help(rm_help);
		default: return bad_option(argv[0], c, argv);
		}
	}
	if (optind == argc && !force)
		return cli_usage(argv[0], "missing segment name");
	int status = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		int r = pshm_seg_unlink(argv[i]);
		if (r == -ENOENT && force)
			continue;
		if (r == -ENOTSUP) {
			struct pshm_stat st;
			if (pshm_seg_stat(argv[i], &st) == 0)
				r = cli_failn("rm", argv[i], "is a %s, not a segment: not removed",
					      type_name(st.mode));
			else
				r = seg_fail("rm", argv[i], r);
		} else if (r == -EPERM) {
			r = cli_failn("rm", argv[i], "not yours: only its owner or root may remove it "
						     "(/dev/shm is a sticky directory)");
		} else if (r < 0) {
			r = seg_fail("rm", argv[i], r);
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
	"wanted: named segments outlive their programs on purpose).\n\n"
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

/* Is @st abandoned: ours, a regular file, old enough, used by nobody? */
static bool abandoned(const struct pshm_stat *st, double min_age, double now)
{
	return S_ISREG(st->mode) && st->uid == geteuid() && age_of(st, now) >= min_age &&
	       users_count(st->name) == 0;
}

/* Look again just before removing: still the same, still abandoned. */
static int gc_remove(const struct pshm_stat *st, double min_age, double now)
{
	struct pshm_stat again;
	int r = pshm_seg_stat(st->name, &again);
	if (r < 0)
		return r;
	if (again.mtime_sec != st->mtime_sec || again.mtime_nsec != st->mtime_nsec ||
	    !abandoned(&again, min_age, now))
		return -EBUSY;
	return pshm_seg_unlink(st->name);
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
	opt_start();
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
		default: return bad_option(argv[0], c, argv);
		}
	}
	if (optind < argc)
		return cli_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	struct pshm_stat *v;
	ssize_t n = pshm_seg_list(&v);
	if (n < 0)
		return cli_fail("gc", "/dev/shm", (int)n);
	double now = now_sec();
	int status = EXIT_OK;
	size_t found = 0;
	uint64_t bytes = 0;
	char esc[CLI_ESC_MAX], h[16], a[16];
	if (json)
		printf("[");
	for (ssize_t i = 0; i < n; i++) {
		const struct pshm_stat *st = &v[i];
		if (!abandoned(st, min_age, now))
			continue;
		int r = yes ? gc_remove(st, min_age, now) : 0;
		if (r < 0 && r != -ENOENT && r != -EBUSY)
			status = cli_fail("gc", st->name, r);
		bool removed = yes && r == 0;
		if (r == -ENOENT || r == -EBUSY)
			continue; /* gone or back in use meanwhile: not ours to report */
		found++;
		bytes += st->allocated;
		if (json) {
			printf("%s\n  {\"name\": ", found > 1 ? "," : "");
			cli_json_str(st->name);
			printf(", \"size\": %" PRIu64 ", \"allocated\": %" PRIu64 ", \"mtime\": %" PRId64
			       ", \"age\": %.0f, \"removed\": %s}",
			       st->size, st->allocated, st->mtime_sec, age_of(st, now),
			       removed ? "true" : "false");
		} else {
			printf("%s %s (%s, unchanged for %s)\n", removed ? "removed" : "abandoned:",
			       cli_esc(st->name, esc, sizeof(esc)), cli_human(st->size, h, sizeof(h)),
			       age_str(age_of(st, now), a, sizeof(a)));
		}
	}
	free(v);
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
	int r = finish_stdout("gc", "/dev/shm");
	return status ? status : r;
}
