/* SPDX-License-Identifier: MIT */
/*
 * why.c — errors explained: what is there instead of a segment, which
 * option the open policy wants (the library says which rule failed:
 * pshm_seg_check()), what kind of segment a name really is.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cli.h"

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

const char *cli_kind_name(const struct pshm_stat *st)
{
	switch (st->kind) {
	case PSHM_KIND_RAW: return "raw segment";
	case PSHM_KIND_BOX: return "box";
	case PSHM_KIND_CHAN: return "channel";
	case PSHM_KIND_TOPIC: return "topic";
	case PSHM_KIND_SERVICE: return "service";
	default: return cli_type_name(st->mode);
	}
}

const char *cli_kind_mismatch(const char *name, int kind, char *buf, size_t len)
{
	static const char *const want[] = { "raw segment", "box", "channel", "segment",
					    "topic", "service" };
	struct pshm_stat st;
	if (pshm_seg_stat(name, &st) < 0 || (int)st.kind == kind || kind < 0 ||
	    kind >= (int)(sizeof(want) / sizeof(want[0])))
		return NULL;
	snprintf(buf, len, "is a %s, not a %s%s", cli_kind_name(&st), want[kind],
		 st.kind == PSHM_KIND_RAW ? " (no pshm header: plain bytes, or a header "
					    "overwritten)" : "");
	return buf;
}

int cli_kind_rm(const struct cli_cmd *cmd, int kind, int (*unlink_fn)(const char *), int argc,
		char **argv)
{
	struct cli_args a;
	int r = cli_options(cmd, argc, argv, NULL, NULL, &a);
	if (r >= 0)
		return r;
	int status = EXIT_OK;
	for (int i = 0; i < a.n; i++) {
		char why[512];
		r = unlink_fn(a.v[i]);
		if (r == -EPROTO && cli_kind_mismatch(a.v[i], kind, why, sizeof(why)))
			status = cli_failn(cmd->name, a.v[i], "%s: not removed", why);
		else if (r == -EPERM)
			status = cli_failn(cmd->name, a.v[i], "not yours: only its owner or root "
					   "may remove it (/dev/shm is a sticky directory)");
		else if (r < 0)
			status = cli_seg_fail(cmd->name, a.v[i], r, 0);
	}
	return status;
}

/* -EPERM from the open policy: why, and which options (not given yet)
 * accept it. */
static const char *policy_why(const char *name, unsigned flags, char *buf, size_t len)
{
	struct pshm_stat st;
	char who[64];
	unsigned miss = 0;
	if (pshm_seg_check(name, flags, &miss) != -EPERM || !miss ||
	    pshm_seg_stat(name, &st) < 0)
		return pshm_strerror(-EPERM);
	const char *both = "--allow-foreign --allow-shared-write accept it";
	const char *fix = miss == PSHM_ALLOW_FOREIGN ? "--allow-foreign accepts it"
			: miss == PSHM_ALLOW_SHARED_WRITE ? "--allow-shared-write accepts it" : both;
	int n = 0;
	if (miss & PSHM_ALLOW_FOREIGN)
		n = snprintf(buf, len, "owned by %s, not by you (another user may have created "
			     "the name first)", cli_user_name(st.uid, who, sizeof(who)));
	if ((miss & PSHM_ALLOW_SHARED_WRITE) && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%swritable by group or others (mode %04o), "
			      "so anyone there may change it", n ? ", and " : "",
			      (unsigned)(st.mode & 07777));
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ": refused (%s)", fix);
	return buf;
}

const char *cli_seg_why(const char *name, int err, unsigned flags, char *buf, size_t len)
{
	struct pshm_stat st;
	int bad = pshm_name_check(name);
	if (bad == -ENAMETOOLONG || err == -ENAMETOOLONG)
		snprintf(buf, len, "segment name too long (at most %d bytes)", PSHM_NAME_MAX);
	else if (bad < 0)
		snprintf(buf, len, "invalid segment name (not empty, not '.' or '..', no '/' "
			 "except a leading one)");
	else if (err == -EPERM)
		return policy_why(name, flags, buf, len);
	else if (err == -ENOTSUP && pshm_seg_stat(name, &st) == 0 && !S_ISREG(st.mode))
		snprintf(buf, len, "is a %s, not a segment: refused%s, as is anything that is not a "
			 "regular file", cli_type_name(st.mode),
			 S_ISLNK(st.mode) ? " (never followed)" : "");
	else
		return pshm_strerror(err);
	return buf;
}

int cli_seg_fail(const char *action, const char *name, int err, unsigned flags)
{
	char why[512];
	return cli_failn(action, name, "%s", cli_seg_why(name, err, flags, why, sizeof(why)));
}

int cli_nospc_fail(const char *action, const char *name, uint64_t size)
{
	struct statvfs vfs;
	char a[64], f[64];
	if (statvfs("/dev/shm", &vfs) < 0)
		return cli_fail(action, name, -ENOSPC);
	return cli_failn(action, name, "%s (%s asked for, %s free)", pshm_strerror(-ENOSPC),
			 cli_size_words(size, a, sizeof(a)),
			 cli_size_words((uint64_t)vfs.f_bavail * vfs.f_frsize, f, sizeof(f)));
}
