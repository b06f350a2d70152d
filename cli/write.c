/* SPDX-License-Identifier: MIT */
/*
 * write.c — changing /dev/shm: create, write, rm. `create` and `write`
 * apply the library's owner/mode policy, which --allow-foreign and
 * --allow-shared-write lift; `write` leaves a box, channel, topic or
 * service alone unless --force, since raw bytes would overwrite its header.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CHUNK (64 * 1024) /* bytes copied at a time from standard input */

/* ---- create ------------------------------------------------------------- */

static const struct cli_optdoc create_opts[] = {
	{ CLI_O_MODE, NULL },
	{ CLI_O_EXIST_OK, "if NAME exists, keep it (grown to SIZE if smaller);\n"
			  "the open policy applies to it" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd create_cmd = {
	"create", "NAME SIZE [--mode MODE] [--exist-ok]",
	"Create the segment NAME of SIZE bytes (4096, 64K, 1M, 2G, 0x1000), filled\n"
	"with zeros. The memory is reserved now, so a full /dev/shm fails here\n"
	"rather than later. Fails if NAME exists, unless --exist-ok.\n",
	create_opts, true, 2, 2, 0, "segment name and size",
};

struct create_opts {
	mode_t mode;
	unsigned flags;
};

static int create_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct create_opts *o = ctx;
	if (id == CLI_O_MODE)
		return cli_opt_mode(&create_cmd, id, arg, &o->mode);
	o->flags |= PSHM_OPEN_EXISTING;
	return 0;
}

int cmd_create(int argc, char **argv)
{
	struct create_opts o = { 0600, 0 };
	struct cli_args a;
	int r = cli_options(&create_cmd, argc, argv, create_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	uint64_t size;
	char esc[CLI_ESC_MAX];
	if (cli_parse_number(a.v[1], &size) < 0)
		return cli_usage("create", "bad size '%s' (such as 4096, 64K, 1M or 0x1000)",
				 cli_esc(a.v[1], esc, sizeof(esc)));
	r = pshm_name_check(name);
	if (r < 0)
		return cli_seg_fail("create", name, r, a.flags);
	if (size == 0)
		return cli_failn("create", name, "size 0: a segment needs at least 1 byte");
	if (size > SIZE_MAX)
		return cli_fail("create", name, -EFBIG);
	pshm_seg *seg;
	r = pshm_seg_create(name, (size_t)size, o.mode, o.flags | a.flags, &seg);
	if (r == -EEXIST)
		return cli_failn("create", name, "%s (--exist-ok to keep it)", pshm_strerror(r));
	if (r == -ENOSPC)
		return cli_nospc_fail("create", name, size);
	if (r < 0)
		return cli_seg_fail("create", name, r, a.flags);
	pshm_seg_close(seg);
	return EXIT_OK;
}

/* ---- write ------------------------------------------------------------------ */

static const struct cli_optdoc write_opts[] = {
	{ CLI_O_OFFSET, "write at byte OFFSET (4096, 4K, 0x1000)" },
	{ CLI_O_CREATE, "create NAME if it does not exist, just large\nenough for what is written" },
	{ CLI_O_MODE, "with --create: permissions, octal, 1 to 777\n(default 600)" },
	{ CLI_O_NUL, "write a NUL byte after the data (for C strings)" },
	{ CLI_O_FORCE, "write into a box, channel, topic or service too\n(their header may be overwritten)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd write_cmd = {
	"write", "NAME [--offset OFFSET] [--create] [--force] [TEXT | -]",
	"Write TEXT (or standard input, with '-' or no TEXT) into the existing\n"
	"segment NAME at OFFSET (default 0), byte for byte: no newline or NUL\n"
	"is added unless asked for. Writing past the end grows the segment.\n"
	"A missing segment is an error unless --create is given. A box, channel,\n"
	"topic or service is refused unless --force. If /dev/shm fills up part\n"
	"way, pshm says how many bytes were written (exit 1). Use -- before a\n"
	"TEXT that starts with '-'.\n",
	write_opts, true, 1, 2, 0, "segment name",
};

struct writer {
	const char *name;
	pshm_seg *seg;
	uint64_t off;     /* where the next byte goes */
	uint64_t written; /* bytes written so far */
	unsigned flags;   /* PSHM_ALLOW_* */
	bool create, nul, force, mode_set;
	mode_t mode;
};

static int write_fail(struct writer *w, int err)
{
	if (err == -EFBIG)
		return cli_failn("write", w->name, "the data would end beyond %" PRId64 " bytes, "
				 "the largest size a segment can have (%" PRIu64 " byte%s written)", INT64_MAX,
				 w->written, w->written == 1 ? "" : "s");
	if (err == -EPERM)
		return cli_seg_fail("write", w->name, err, w->flags);
	if (err == -ENOENT && !w->seg)
		return cli_failn("write", w->name, "no such segment (create it first with 'pshm "
						   "create NAME SIZE', or use --create)");
	if (w->written || err == -ENOSPC)
		return cli_failn("write", w->name, "%s (%" PRIu64 " byte%s written before the error)",
				 pshm_strerror(err), w->written, w->written == 1 ? "" : "s");
	return cli_seg_fail("write", w->name, err, w->flags);
}

/* A box, channel, topic or service, unless --force: raw bytes would break
 * its header. Decided on the opened handle (the policy has been applied),
 * not the name. */
static int write_kind_check(struct writer *w)
{
	struct pshm_stat st = { .kind = w->force ? PSHM_KIND_RAW : pshm_seg_kind(w->seg) };
	if (st.kind != PSHM_KIND_BOX && st.kind != PSHM_KIND_CHAN && st.kind != PSHM_KIND_TOPIC &&
	    st.kind != PSHM_KIND_SERVICE)
		return 0;
	pshm_seg_close(w->seg);
	w->seg = NULL;
	return cli_failn("write", w->name, "is a %s: raw bytes would overwrite its header or "
			 "contents; refused (--force writes anyway)", cli_kind_name(&st));
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
			return cli_nospc_fail("write", w->name, size);
	}
	return r < 0 ? write_fail(w, r) : write_kind_check(w);
}

static int write_bytes(struct writer *w, const void *buf, size_t len)
{
	const char *p = buf;
	if (len > (uint64_t)INT64_MAX - w->off)
		return -EFBIG;
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

static int write_stdin(struct writer *w)
{
	static char buf[CHUNK + 1];
	size_t n;
	int r = cli_read_full(STDIN_FILENO, buf, CHUNK, &n);
	if (r < 0)
		return cli_failn("write", w->name, "standard input: %s", strerror(-r));
	bool eof = n < CHUNK;
	if (eof && w->nul)
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
		if (eof && w->nul)
			buf[n++] = '\0';
	}
	if (r < 0)
		r = write_fail(w, r);
	pshm_seg_close(w->seg);
	return r;
}

static int write_text(struct writer *w, const char *text)
{
	size_t len = strlen(text) + (w->nul ? 1 : 0);
	int r = write_open(w, len);
	if (r)
		return r;
	r = write_bytes(w, text, len);
	if (r < 0)
		r = write_fail(w, r);
	pshm_seg_close(w->seg);
	return r;
}
static int write_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct writer *w = ctx;
	switch (id) {
	case CLI_O_OFFSET: return cli_opt_number(&write_cmd, id, arg, 0, INT64_MAX, &w->off);
	case CLI_O_MODE: w->mode_set = true; return cli_opt_mode(&write_cmd, id, arg, &w->mode);
	case CLI_O_CREATE: w->create = true; break;
	case CLI_O_NUL: w->nul = true; break;
	default: w->force = true; break;
	}
	return 0;
}

int cmd_write(int argc, char **argv)
{
	struct writer w = { .mode = 0600 };
	struct cli_args a;
	int r = cli_options(&write_cmd, argc, argv, write_opt, &w, &a);
	if (r >= 0)
		return r;
	if (w.mode_set && !w.create)
		return cli_usage("write", "--mode applies only with --create");
	w.name = a.v[0];
	w.flags = a.flags;
	r = pshm_name_check(w.name);
	if (r < 0)
		return cli_seg_fail("write", w.name, r, w.flags);
	const char *text = a.n == 2 ? a.v[1] : "-";
	if (!strcmp(text, "-"))
		return write_stdin(&w);
	return write_text(&w, text);
}

/* ---- rm -------------------------------------------------------------------- */

static const struct cli_optdoc rm_opts[] = {
	{ CLI_O_FORCE, "ignore segments that do not exist" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd rm_cmd = {
	"rm", "[-f] NAME...",
	"Remove the segments NAME... from /dev/shm. Processes that map one or hold\n"
	"it open keep it until they let go; only the name goes. Anything that is\n"
	"not a regular file (symlink, directory, FIFO) is refused and left alone.\n",
	rm_opts, false, 0, -1, 0, "segment name",
};

static int rm_one(const char *name, bool force)
{
	int r = pshm_seg_unlink(name);
	struct pshm_stat st;
	if (r == -ENOENT && force)
		return EXIT_OK;
	if (r == -ENOTSUP && pshm_seg_stat(name, &st) == 0)
		return cli_failn("rm", name, "is a %s, not a segment: not removed",
				 cli_type_name(st.mode));
	if (r == -EPERM)
		return cli_failn("rm", name, "not yours: only its owner or root may remove it "
					     "(/dev/shm is a sticky directory)");
	return r < 0 ? cli_seg_fail("rm", name, r, 0) : EXIT_OK;
}

int cmd_rm(int argc, char **argv)
{
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&rm_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	bool force = on[CLI_O_FORCE];
	if (a.n == 0 && !force)
		return cli_usage("rm", "missing segment name");
	int status = EXIT_OK;
	for (int i = 0; i < a.n; i++) {
		if (rm_one(a.v[i], force))
			status = EXIT_FAIL;
	}
	return status;
}
