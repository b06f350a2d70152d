/* SPDX-License-Identifier: MIT */
/*
 * read.c — a segment's bytes: cat, dump. Both read the segment's file in
 * chunks, never mapping it, so memory use stays bounded and a sparse
 * segment gets no pages allocated. They open read-only and accept a
 * segment owned by another user or writable by group/others: they only
 * show bytes, never act on them, so they refuse nothing on policy and
 * take no policy option. Nothing is ever followed: a symlink or a non-regular
 * file is refused, and the message says what is really there.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CHUNK (64 * 1024) /* bytes read at a time */
#define INSPECT (PSHM_RDONLY | PSHM_ALLOW_FOREIGN | PSHM_ALLOW_SHARED_WRITE | PSHM_NOMAP)

/* Open @name for inspection, or report why not. */
static int open_inspect(const char *action, const char *name, pshm_seg **seg)
{
	int r = pshm_seg_open(name, INSPECT, seg);
	return r < 0 ? cli_seg_fail(action, name, r, INSPECT) : 0;
}

/* ---- cat ------------------------------------------------------------------ */

static const struct cli_optdoc cat_opts[] = {
	{ CLI_O_TEXT, "stop at the first NUL byte (for segments holding a string)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd cat_cmd = {
	"cat", "NAME [--text]",
	"Copy the bytes of the segment NAME to standard output, whatever its size,\n"
	"in 64 KiB chunks read from the segment's file (never mapped, so memory\n"
	"use stays bounded). If another process truncates the segment meanwhile,\n"
	"pshm stops with an error and exit status 1. Like every inspection command,\n"
	"it reads a segment owned by another user or writable by others without\n"
	"asking: the policy options are for commands that write or attach.\n",
	cat_opts, false, 1, 1, 0, "segment name",
};

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
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&cat_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	pshm_seg *seg;
	if ((r = open_inspect("cat", a.v[0], &seg)))
		return r;
	r = cat_stream(seg, a.v[0], on[CLI_O_TEXT]);
	pshm_seg_close(seg);
	return r;
}

/* ---- dump ------------------------------------------------------------------ */

static const struct cli_optdoc dump_opts[] = {
	{ CLI_O_OFFSET, "start there (4096, 4K, 0x1000; default 0)" },
	{ CLI_O_COUNT, "show at most N bytes (default: to the end)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd dump_cmd = {
	"dump", "NAME [-o OFFSET] [-n N]",
	"Show the segment NAME in hexadecimal and ASCII, 16 bytes a line, in the\n"
	"format of hexdump -C: offset, bytes, printable characters. A run of\n"
	"identical lines is shown once, followed by a line with '*'. The last line\n"
	"is the offset of the end. Bytes are read from the segment's file (never\n"
	"mapped: dumping a sparse segment allocates nothing); a segment truncated\n"
	"meanwhile gives an error (exit 1). Like every inspection command, it\n"
	"reads a segment owned by another user or writable by others without\n"
	"asking: the policy options are for commands that write or attach.\n",
	dump_opts, false, 1, 1, 0, "segment name",
};

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

struct range {
	uint64_t off, len;
};

static int dump_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct range *g = ctx;
	return cli_opt_number(&dump_cmd, id, arg, 0, UINT64_MAX, id == CLI_O_OFFSET ? &g->off
										     : &g->len);
}

int cmd_dump(int argc, char **argv)
{
	struct range g = { 0, UINT64_MAX };
	struct cli_args a;
	int r = cli_options(&dump_cmd, argc, argv, dump_opt, &g, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	pshm_seg *seg;
	if ((r = open_inspect("dump", name, &seg)))
		return r;
	uint64_t size = pshm_seg_size(seg);
	if (g.off > size) {
		pshm_seg_close(seg);
		return cli_failn("dump", name, "offset %" PRIu64 " is past the end (size %" PRIu64 ")",
				 g.off, size);
	}
	if (g.len > size - g.off)
		g.len = size - g.off;
	r = dump_range(seg, name, g.off, g.len);
	pshm_seg_close(seg);
	return r;
}
