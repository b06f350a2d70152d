/* SPDX-License-Identifier: MIT */
/*
 * ls.c — looking without touching: ls, stat, who. They never open a
 * segment: they describe entries of /dev/shm from their metadata (and a
 * box's or channel's header), whoever owns them, and never follow one.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---- shared helpers ----------------------------------------------------- */

static const char *kind_word(const struct pshm_stat *st)
{
	switch (st->kind) {
	case PSHM_KIND_RAW: return "raw";
	case PSHM_KIND_BOX: return "box";
	case PSHM_KIND_CHAN: return "channel";
	case PSHM_KIND_TOPIC: return "topic";
	case PSHM_KIND_SERVICE: return "service";
	default: return cli_type_word(st->mode);
	}
}

/* The box/channel/topic groups' one-line description; "" when there is none. */
static void describe(const struct pshm_stat *st, char *buf, size_t len)
{
	buf[0] = '\0';
	if (st->kind == PSHM_KIND_BOX)
		cli_describe_box(st->name, buf, len);
	else if (st->kind == PSHM_KIND_CHAN)
		cli_describe_chan(st->name, buf, len);
	else if (st->kind == PSHM_KIND_TOPIC)
		cli_describe_topic(st->name, buf, len);
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

int cli_users_of(const struct pshm_stat *v, size_t n, struct cli_users *u)
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

int cli_listing(const char *cmd, struct pshm_stat **v, size_t *n, struct cli_users *u)
{
	ssize_t k = pshm_seg_list(v);
	if (k < 0)
		return cli_fail(cmd, "/dev/shm", (int)k);
	*n = (size_t)k;
	int r = cli_users_of(*v, *n, u);
	if (r == 0)
		return -1;
	free(*v);
	return cli_fail(cmd, "/dev/shm", r);
}

/* The operand of stat and who, after their options (--json): -1 to go on,
 * or the exit status. */
static int one_name(const struct cli_cmd *cmd, int argc, char **argv, bool *json,
		    const char **name)
{
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(cmd, argc, argv, cli_opt_flag, on, &a);
	*json = on[CLI_O_JSON];
	*name = a.n ? a.v[0] : NULL;
	return r;
}

/* ---- ls --------------------------------------------------------------------- */

static const struct cli_optdoc ls_opts[] = {
	{ CLI_O_LONG, "also mode, owner, group, exact size, allocated bytes\nand modification time" },
	{ CLI_O_JSON, "a JSON array with every field" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd ls_cmd = {
	"ls", "[-l] [--json]",
	"List every entry of /dev/shm except POSIX semaphores (sem.*): its name,\n"
	"size, how many processes map it or hold it open now, and what it holds\n"
	"(raw bytes, a pshm box or channel, or the file type of something that is\n"
	"not a segment: symlink, directory, fifo, ...; such entries are never\n"
	"followed or opened). Only root sees other users' processes.\n",
	ls_opts, false, 0, 0, 0, NULL,
};

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

static int ls_json(const struct pshm_stat *v, size_t n, const struct cli_users *u)
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

static int ls_table(const struct pshm_stat *v, size_t n, const struct cli_users *u, bool lng)
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
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&ls_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	struct pshm_stat *v;
	size_t n;
	struct cli_users u;
	r = cli_listing("ls", &v, &n, &u);
	if (r >= 0)
		return r;
	if (on[CLI_O_JSON])
		r = ls_json(v, n, &u);
	else if (n == 0 && printf("/dev/shm is empty: no segment\n") >= 0)
		r = cli_finish_stdout("ls", "/dev/shm");
	else
		r = ls_table(v, n, &u, on[CLI_O_LONG]);
	free(u.count);
	free(v);
	return r;
}

/* ---- stat ----------------------------------------------------------------- */

static const struct cli_optdoc json_opts[] = {
	{ CLI_O_JSON, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd stat_cmd = {
	"stat", "NAME [--json]",
	"Describe the entry NAME of /dev/shm without following it: type, what it\n"
	"holds, size, allocated bytes, owner, group, mode, times, and how many\n"
	"processes map it or hold it open now (pshm who NAME lists them).\n",
	json_opts, false, 1, 1, 0, "segment name",
};

static void stat_text(const struct pshm_stat *st, const struct cli_users *u)
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
	printf("size:       %s\n", cli_size_words(st->size, h, sizeof(h)));
	printf("allocated:  %s\n", cli_size_words(st->allocated, h, sizeof(h)));
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
	const char *name;
	int r = one_name(&stat_cmd, argc, argv, &json, &name);
	if (r >= 0)
		return r;
	struct pshm_stat st;
	r = pshm_seg_stat(name, &st);
	if (r < 0)
		return cli_seg_fail("stat", name, r, 0);
	struct cli_users u;
	r = cli_users_of(&st, 1, &u);
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

/* ---- who ------------------------------------------------------------------ */

static const struct cli_cmd who_cmd = {
	"who", "NAME [--json]",
	"List the processes that map the segment NAME or hold it open, from /proc:\n"
	"pid, how (map: it is in the process's address space; fd: the process has\n"
	"a descriptor on it) and command name; a thread's use (/proc/PID/task)\n"
	"is shown under its process. Processes of other users are visible only\n"
	"to root, and those outside this PID namespace to nobody here.\n",
	json_opts, false, 1, 1, 0, "segment name",
};

static const char *how_str(unsigned how)
{
	if ((how & PSHM_USE_MAP) && (how & PSHM_USE_FD))
		return "map,fd";
	return how & PSHM_USE_MAP ? "map" : "fd";
}

int cmd_who(int argc, char **argv)
{
	bool json;
	const char *name;
	int r = one_name(&who_cmd, argc, argv, &json, &name);
	if (r >= 0)
		return r;
	struct pshm_user *u;
	int complete;
	ssize_t n = pshm_seg_users(name, &u, &complete);
	if (n < 0)
		return cli_seg_fail("who", name, (int)n, 0);
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
