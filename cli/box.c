/* SPDX-License-Identifier: MIT */
/*
 * cli/box.c — boxes and sealed snapshots: put, get, verify, publish, fetch,
 * and what `pshm ls` says about a box.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_CAPACITY 4096

/* ---- shared helpers -------------------------------------------------------- */

/* -EPROTO: not a box at all (what it is instead: a raw segment may be a
 * box whose header was overwritten, and the message says so), or a box
 * whose header is corrupted. The same words for put, get and verify. */
static const char *not_a_box(const char *name, char *buf, size_t len)
{
	struct pshm_stat st;
	if (pshm_seg_stat(name, &st) < 0 || st.kind == PSHM_KIND_BOX)
		return "integrity check failed (not a box, or its header is corrupted)";
	return cli_kind_mismatch(name, PSHM_KIND_BOX, buf, len);
}

/* Why a box read failed, in the words of `pshm get` and `pshm verify`. */
static const char *read_failure(const char *name, int err, const struct pshm_box_info *in,
				char *buf, size_t len)
{
	switch (-err) {
	case EBADMSG:
		return "integrity check failed (checksum mismatch: the value was changed "
		       "behind pshm's back)";
	case EPROTO:
		return not_a_box(name, buf, len);
	case EFAULT:
		return "integrity check failed (the box was truncated while being read)";
	case EAGAIN:
		if (in && in->writer && !in->writer_alive)
			snprintf(buf, len, "no complete value: its writer (thread %d) died "
				 "mid-write; the next put repairs it", (int)in->writer);
		else
			snprintf(buf, len, "no complete value: a write is in progress; try again");
		return buf;
	}
	return cli_seg_why(name, err, 0, buf, len);
}

/* ---- put ----------------------------------------------------------------------- */

static const struct cli_optdoc put_opts[] = {
	{ CLI_O_CAPACITY, "capacity of a new box (default: 4096 bytes,\n"
			  "or the value's size if larger)" },
	{ CLI_O_MODE, "permissions of a new box, octal, 1 to 777\n(default 600)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd put_cmd = {
	"put", "[options] NAME [TEXT | -]",
	"Store TEXT (or standard input, with - or no TEXT) as the value of the box\n"
	"NAME, creating the box if it does not exist. The value is stored as is,\n"
	"checksummed (CRC-32C) so that `pshm get` detects any later change. On\n"
	"failure nothing changes: a box this command created is removed again.\n"
	"Use -- before a TEXT that starts with '-'.\n",
	put_opts, true, 1, 2, 0, "box name",
};

struct put_opts {
	uint64_t cap;
	mode_t mode;
};

static int put_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct put_opts *o = ctx;
	if (id == CLI_O_MODE)
		return cli_opt_mode(&put_cmd, id, arg, &o->mode);
	return cli_opt_number(&put_cmd, id, arg, 1, PSHM_BOX_MAX_CAPACITY, &o->cap);
}

/* The value of `pshm put`: TEXT, or standard input. */
static int put_value(const struct cli_args *a, char **val, size_t *len, bool *owned)
{
	*owned = false;
	if (a->n == 2 && strcmp(a->v[1], "-")) {
		*val = a->v[1];
		*len = strlen(*val);
		return 0;
	}
	*owned = true;
	return cli_read_all(0, val, len);
}

/* A box made by this command, and how to take it back: @st is taken right
 * after the create (@st_err: why it could not be, 0 if it was). */
struct made {
	bool created;
	int st_err;
	struct pshm_stat st;
};

/* Open the box @name, or create it (exclusively, so that this command
 * knows the box is its own) if it does not exist, checked first: the value
 * fits. Returns 0 or the exit status after reporting. */
static int put_open(const char *name, const struct put_opts *o, unsigned flags, size_t len,
		    pshm_box **box, struct made *m)
{
	char why[512];
	int r = -ENOENT;
	for (int tries = 0; r == -ENOENT && tries < 3; tries++) {
		r = pshm_box_open(name, flags, box);
		if (r != -ENOENT)
			break;
		uint64_t cap = o->cap ? o->cap : len > DEFAULT_CAPACITY ? len : DEFAULT_CAPACITY;
		if (len > cap)
			return cli_failn("put", name, "the value (%zu bytes) is larger than the "
					 "capacity asked for (%llu bytes): nothing created", len,
					 (unsigned long long)cap);
		r = pshm_box_create(name, (size_t)cap, o->mode, flags, box);
		m->created = r == 0;
		m->st_err = m->created ? pshm_seg_stat(name, &m->st) : 0;
		if (r == -EEXIST)
			r = -ENOENT; /* made by someone else meanwhile: open theirs */
	}
	if (r == -EPROTO)
		return cli_failn("put", name, "%s: refused", not_a_box(name, why, sizeof(why)));
	return r < 0 ? cli_seg_fail("put", name, r, flags) : 0;
}

/* Take back the box this command created; say so if it stays. */
static void put_undo(const char *name, const struct made *m)
{
	int r = m->st_err ? m->st_err : pshm_seg_unlink_same(name, &m->st);
	if (r < 0 && r != -ENOENT)
		cli_failn("put", name, "the box it created is left behind: %s%s",
			  pshm_strerror(r), r == -ESTALE ? " (changed since it was created)" : "");
}

static int put_fail(const char *name, pshm_box *box, size_t len, int r)
{
	if (r == -EMSGSIZE)
		return cli_failn("put", name, "the value (%zu bytes) is larger than the box's "
				 "capacity (%zu bytes)", len, pshm_box_capacity(box));
	if (r == -EAGAIN)
		return cli_failn("put", name, "another writer holds the box; try again");
	return cli_fail("put", name, r);
}

int cmd_put(int argc, char **argv)
{
	struct put_opts o = { 0, 0 };
	struct cli_args a;
	int r = cli_options(&put_cmd, argc, argv, put_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	char *val;
	size_t len;
	bool owned;
	r = put_value(&a, &val, &len, &owned);
	if (r < 0)
		return cli_failf("put", "reading standard input: %s", pshm_strerror(r));
	pshm_box *box = NULL;
	struct made m = { .created = false };
	int rc = put_open(name, &o, a.flags, len, &box, &m);
	if (rc == 0 && (r = pshm_box_write(box, val, len)) < 0) {
		rc = put_fail(name, box, len, r);
		if (m.created)
			put_undo(name, &m);
	}
	pshm_box_close(box);
	if (owned)
		free(val);
	return rc;
}

/* ---- get ------------------------------------------------------------------------ */

static const struct cli_optdoc get_opts[] = {
	{ CLI_O_FORCE, "on a failed check, print the bytes anyway\n"
		       "(stderr says they are unverified; exit 1)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd get_cmd = {
	"get", "[options] NAME",
	"Print the value of the box NAME, exactly as stored, after checking it:\n"
	"a value changed behind pshm's back (checksum mismatch), a corrupted\n"
	"header or a truncated box is an error (exit status 1), never printed.\n",
	get_opts, true, 1, 1, 0, "box name",
};

/* `get --force` after a failed check: the bytes, flagged as unverified. */
static int get_forced(const char *name, pshm_box *box)
{
	struct pshm_stat st;
	size_t cap = pshm_box_capacity(box);
	if (!cap && pshm_seg_stat(name, &st) == 0)
		cap = (size_t)st.size;
	char *buf = malloc(cap ? cap : 1);
	if (!buf)
		return cli_fail("get", name, -ENOMEM);
	ssize_t n = pshm_box_read_unverified(box, buf, cap);
	if (n < 0) {
		free(buf);
		return cli_fail("get", name, (int)n);
	}
	cli_failn("get", name, "--force: printing %zd UNVERIFIED bytes", n);
	int r = cli_write_all(STDOUT_FILENO, buf, (size_t)n);
	free(buf);
	if (r < 0)
		cli_out_fail("get", name, r);
	return EXIT_FAIL;
}

int cmd_get(int argc, char **argv)
{
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&get_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	bool force = on[CLI_O_FORCE];
	unsigned flags = PSHM_RDONLY | a.flags;
	pshm_box *box;
	r = pshm_box_open(name, flags | (force ? PSHM_BOX_UNCHECKED : 0), &box);
	if (r < 0 && r != -EPROTO)
		return cli_seg_fail("get", name, r, flags);
	size_t cap = r == 0 ? pshm_box_capacity(box) : 0;
	char *buf = malloc(cap ? cap : 1);
	ssize_t n = r < 0 ? r : !buf ? -ENOMEM : pshm_box_read(box, buf, cap);
	int rc = EXIT_OK;
	if (n >= 0) {
		int w = cli_write_all(STDOUT_FILENO, buf, (size_t)n);
		if (w < 0)
			rc = cli_out_fail("get", name, w);
	} else {
		struct pshm_box_info info = { 0 };
		if (n == -EAGAIN) /* who holds it: the header says, no second read */
			pshm_box_stat(name, &info);
		char why[512];
		rc = cli_failn("get", name, "%s",
			       read_failure(name, (int)n, &info, why, sizeof(why)));
		if (force && box && n != -ENOMEM)
			rc = get_forced(name, box);
	}
	free(buf);
	pshm_box_close(box);
	return rc;
}

/* ---- verify ---------------------------------------------------------------------- */

static const struct cli_cmd verify_cmd = {
	"verify", "[options] NAME...",
	"Check the integrity of each box: its header, that no write is stuck\n"
	"half-done, and its checksum. One line per box; exit status 1 if any\n"
	"check fails. A segment that is not a box (a raw segment, a channel)\n"
	"is said to be one.\n",
	NULL, true, 1, -1, 0, "box name",
};

/* Verify one box; print its line. Returns true if it checks out. */
static bool verify_one(const char *name, unsigned flags)
{
	pshm_box *box;
	struct pshm_box_info info = { 0 };
	int r = pshm_box_open(name, flags, &box);
	if (r == 0) {
		r = pshm_box_verify(box, &info);
		pshm_box_close(box);
	}
	char esc[CLI_ESC_MAX], why[512];
	cli_esc(name, esc, sizeof(esc));
	if (r == 0) {
		printf("%s: ok (%llu bytes, seq %u)\n", esc, (unsigned long long)info.length,
		       (unsigned)info.seq);
		return true;
	}
	/* An open that failed gets the words of every command; a read, box's. */
	const char *msg = r == -EPERM || r == -ENOTSUP || r == -EINVAL || r == -ENAMETOOLONG
				  ? cli_seg_why(name, r, flags, why, sizeof(why))
				  : read_failure(name, r, &info, why, sizeof(why));
	printf("%s: FAILED: %s\n", esc, msg);
	return false;
}

int cmd_verify(int argc, char **argv)
{
	struct cli_args a;
	int r = cli_options(&verify_cmd, argc, argv, NULL, NULL, &a);
	if (r >= 0)
		return r;
	bool all_ok = true;
	for (int i = 0; i < a.n; i++)
		all_ok &= verify_one(a.v[i], PSHM_RDONLY | a.flags);
	int out = cli_finish_stdout("verify", a.v[0]);
	return all_ok ? out : EXIT_FAIL;
}

/* From the header alone (pshm_box_stat): `pshm ls` and `pshm stat` look at
 * every box in /dev/shm, other users' too, so they must not read values of
 * any size. `pshm verify` checks the value itself. */
void cli_describe_box(const char *name, char *buf, size_t len)
{
	struct pshm_box_info in;
	int r = pshm_box_stat(name, &in);
	if (r == 0 && (in.seq & 1) && !in.writer_alive && in.writer > 0)
		snprintf(buf, len, "box, STALE (writer %d died mid-write)", (int)in.writer);
	else if (r == 0 && (in.seq & 1) && !in.writer_alive)
		snprintf(buf, len, "box, STALE (its writer died mid-write)");
	else if (r == 0 && (in.seq & 1))
		snprintf(buf, len, "box, being written");
	else if (r == 0)
		snprintf(buf, len, "box %llu/%llu B, seq %u", (unsigned long long)in.length,
			 (unsigned long long)in.capacity, (unsigned)in.seq);
	else if (r == -EPROTO)
		snprintf(buf, len, "box, CORRUPT (bad header)");
	else
		snprintf(buf, len, "box, unreadable (%s)", pshm_strerror(r));
}

/* ---- publish / fetch --------------------------------------------------------------- */

static const struct cli_optdoc publish_opts[] = {
	{ CLI_O_DIR, "socket directory (default $XDG_RUNTIME_DIR/pshm, or\n/tmp/pshm-UID for a shared snapshot)" },
	{ CLI_O_MODE, "who may connect, octal, 1 to 777 (default 600: only\nyou; 666: everyone)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd publish_cmd = {
	"publish", "[options] NAME FILE",
	"Serve a sealed, read-only snapshot of FILE (- for standard input) under\n"
	"NAME until interrupted (Ctrl-C, SIGTERM). The bytes are copied into a\n"
	"memfd sealed against writing, shrinking and growing: nobody, not even\n"
	"this process, can change them. Readers get it with `pshm fetch NAME`.\n",
	publish_opts, false, 2, 2, 0, "snapshot name and file",
};

/* What publish and fetch take: a directory, a mode, a user. */
struct snap_opts {
	const struct cli_cmd *cmd;
	const char *dir;
	mode_t mode;
	uid_t uid;
};

static int snap_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct snap_opts *o = ctx;
	if (id == CLI_O_MODE)
		return cli_opt_mode(o->cmd, id, arg, &o->mode);
	if (id == CLI_O_UID && cli_parse_uid(arg, &o->uid) < 0)
		return cli_bad_value(o->cmd, id, arg, "no such user");
	if (id == CLI_O_DIR)
		o->dir = arg;
	return 0;
}

/* Serve @snap until SIGINT or SIGTERM. */
static int serve_until_stopped(pshm_snap *snap)
{
	cli_catch_stop(); /* the wait in pshm_snap_serve() returns -EINTR */
	while (!cli_stop) {
		int r = pshm_snap_serve(snap, 250 * 1000 * 1000);
		if (r < 0 && r != -EINTR)
			return r;
	}
	return 0;
}

int cmd_publish(int argc, char **argv)
{
	struct snap_opts o = { &publish_cmd, NULL, 0, PSHM_SNAP_SELF };
	struct cli_args a;
	int r = cli_options(&publish_cmd, argc, argv, snap_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0], *file = a.v[1];
	int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0)
		return cli_failn("publish", file, "%s", strerror(errno));
	char *data;
	size_t len;
	r = cli_read_all(fd, &data, &len);
	if (fd)
		close(fd);
	if (r < 0)
		return cli_failn("publish", file, "%s", pshm_strerror(r));
	pshm_snap *snap;
	r = pshm_snap_publish(name, data, len, o.dir, o.mode, &snap);
	free(data);
	if (r == -EPERM)
		return cli_failn("publish", name, "refused: the socket directory is not safe (a "
				 "symlink, not yours, or writable by others)");
	if (r < 0)
		return cli_seg_fail("publish", name, r, 0);
	char path[CLI_ESC_MAX * 2];
	cli_failn("publish", name, "serving %zu sealed bytes at %s; stop with Ctrl-C", len,
		  cli_esc(pshm_snap_path(snap), path, sizeof(path)));
	r = serve_until_stopped(snap);
	pshm_snap_close(snap);
	return r < 0 ? cli_fail("publish", name, r) : EXIT_OK;
}

static const struct cli_optdoc fetch_opts[] = {
	{ CLI_O_UID, "the publisher's user, name or number (default: you)" },
	{ CLI_O_DIR, "socket directory (default: that user's, see publish)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd fetch_cmd = {
	"fetch", "[options] NAME",
	"Print the sealed snapshot NAME served by `pshm publish`. It is accepted\n"
	"only from the expected user (checked with SO_PEERCRED), through a\n"
	"directory only that user can write, and only if fully sealed.\n",
	fetch_opts, false, 1, 1, 0, "snapshot name",
};

int cmd_fetch(int argc, char **argv)
{
	struct snap_opts o = { &fetch_cmd, NULL, 0, PSHM_SNAP_SELF };
	struct cli_args a;
	int r = cli_options(&fetch_cmd, argc, argv, snap_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	pshm_seg *seg;
	r = pshm_snap_fetch(name, o.uid, o.dir, &seg);
	if (r == -EPERM)
		return cli_failn("fetch", name, "refused: unsafe socket directory, publisher "
				 "not the expected user, or snapshot not sealed");
	if (r == -ENOENT || r == -ECONNREFUSED)
		return cli_failn("fetch", name, "no such snapshot (nobody publishes it)");
	if (r < 0)
		return cli_seg_fail("fetch", name, r, 0);
	r = cli_write_all(STDOUT_FILENO, pshm_seg_addr(seg), pshm_seg_size(seg));
	pshm_seg_close(seg);
	return r < 0 ? cli_out_fail("fetch", name, r) : EXIT_OK;
}
