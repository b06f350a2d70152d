/*
 * cli/box.c — boxes and sealed snapshots: put, get, verify, publish, fetch,
 * and what `pshm ls` says about a box.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_CAPACITY 4096

enum { OPT_ALLOW_FOREIGN = 1000, OPT_ALLOW_SHARED_WRITE, OPT_FORCE, OPT_DIR, OPT_UID };

/* ---- shared helpers -------------------------------------------------------- */

/* Why a box read failed, in the words of `pshm get` and `pshm verify`. */
static const char *read_failure(int err, const struct pshm_box_info *in, char *buf, size_t len)
{
	switch (-err) {
	case EBADMSG:
		return "integrity check failed (checksum mismatch: the value was changed "
		       "behind pshm's back)";
	case EPROTO:
		return "integrity check failed (not a box, or its header is corrupted)";
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
	return pshm_strerror(err);
}

/* ---- put ----------------------------------------------------------------------- */

static void put_usage(void)
{
	printf("usage: pshm put [options] NAME [TEXT | -]\n\n"
	       "Store TEXT (or standard input, with - or no TEXT) as the value of the box\n"
	       "NAME, creating the box if it does not exist. The value is stored as is,\n"
	       "checksummed (CRC-32C) so that `pshm get` detects any later change.\n"
	       "Use -- before a TEXT that starts with '-'.\n\n"
	       "  -c, --capacity SIZE      capacity of a new box (default: 4096 bytes,\n"
	       "                           or the value's size if larger)\n"
	       "  -m, --mode MODE          permissions of a new box, octal, 1 to 777\n"
	       "                           (default 600)\n"
	       "      --allow-foreign      accept a box owned by another user\n"
	       "      --allow-shared-write accept a box writable by group or others\n"
	       "  -h, --help               show this help\n");
}

static bool policy_opt(int c, unsigned *flags)
{
	if (c == OPT_ALLOW_FOREIGN)
		*flags |= PSHM_ALLOW_FOREIGN;
	else if (c == OPT_ALLOW_SHARED_WRITE)
		*flags |= PSHM_ALLOW_SHARED_WRITE;
	else
		return false;
	return true;
}

/* The value of `pshm put`: TEXT, or standard input. */
static int put_value(int argc, char **argv, char **val, size_t *len, bool *owned)
{
	*owned = false;
	if (optind + 1 < argc && strcmp(argv[optind + 1], "-")) {
		*val = argv[optind + 1];
		*len = strlen(*val);
		return 0;
	}
	*owned = true;
	return cli_read_all(0, val, len);
}

int cmd_put(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "capacity", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "allow-foreign", no_argument, NULL, OPT_ALLOW_FOREIGN },
		{ "allow-shared-write", no_argument, NULL, OPT_ALLOW_SHARED_WRITE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t cap = 0;
	mode_t mode = 0;
	unsigned flags = PSHM_OPEN_EXISTING;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":c:m:h", opts, NULL)) != -1) {
		if (c == 'h') {
			put_usage();
			return EXIT_OK;
		} else if (c == 'c') {
			if (cli_parse_size(optarg, &cap) < 0 || cap == 0)
				return cli_usage(argv[0], "bad capacity '%s'", optarg);
		} else if (c == 'm') {
			if (cli_parse_mode(optarg, &mode) < 0)
				return cli_usage(argv[0], "bad mode '%s' (octal, 1 to 777, e.g. 600)",
						 optarg);
		} else if (!policy_opt(c, &flags)) {
			return cli_bad_option(argv[0], c, argv);
		}
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage(argv[0], "expected NAME [TEXT | -]");
	const char *name = argv[optind];
	char *val;
	size_t len;
	bool owned;
	int r = put_value(argc, argv, &val, &len, &owned);
	if (r < 0)
		return cli_failf(argv[0], "reading standard input: %s", pshm_strerror(r));
	if (!cap)
		cap = len > DEFAULT_CAPACITY ? len : DEFAULT_CAPACITY;
	pshm_box *box = NULL;
	r = cap > PSHM_BOX_MAX_CAPACITY ? -EFBIG : pshm_box_create(name, (size_t)cap, mode, flags, &box);
	if (r == 0)
		r = pshm_box_write(box, val, len);
	int rc = EXIT_OK;
	if (r == -EMSGSIZE)
		rc = cli_failn(argv[0], name, "the value (%zu bytes) is larger than the box's "
			       "capacity (%zu bytes)", len, pshm_box_capacity(box));
	else if (r == -EAGAIN)
		rc = cli_failn(argv[0], name, "another writer holds the box; try again");
	else if (r == -EPROTO)
		rc = cli_failn(argv[0], name, "exists and is not a box (or its header is "
			       "corrupted): refused");
	else if (r < 0)
		rc = box ? cli_fail(argv[0], name, r) : cli_seg_fail(argv[0], name, r);
	pshm_box_close(box);
	if (owned)
		free(val);
	return rc;
}

/* ---- get ------------------------------------------------------------------------ */

static void get_usage(void)
{
	printf("usage: pshm get [options] NAME\n\n"
	       "Print the value of the box NAME, exactly as stored, after checking it:\n"
	       "a value changed behind pshm's back (checksum mismatch), a corrupted\n"
	       "header or a truncated box is an error (exit status 1), never printed.\n\n"
	       "      --force              on a failed check, print the bytes anyway\n"
	       "                           (stderr says they are unverified; exit 1)\n"
	       "      --allow-foreign      accept a box owned by another user\n"
	       "      --allow-shared-write accept a box writable by group or others\n"
	       "  -h, --help               show this help\n");
}

/* `get --force` after a failed check: the bytes, flagged as unverified. */
static int get_forced(const char *action, const char *name, pshm_box *box)
{
	struct pshm_stat st;
	size_t cap = pshm_box_capacity(box);
	if (!cap && pshm_seg_stat(name, &st) == 0)
		cap = (size_t)st.size;
	char *buf = malloc(cap ? cap : 1);
	if (!buf)
		return cli_fail(action, name, -ENOMEM);
	ssize_t n = pshm_box_read_unverified(box, buf, cap);
	if (n < 0) {
		free(buf);
		return cli_fail(action, name, (int)n);
	}
	cli_failn(action, name, "--force: printing %zd UNVERIFIED bytes", n);
	int r = cli_write_all(STDOUT_FILENO, buf, (size_t)n);
	free(buf);
	if (r < 0)
		cli_out_fail(action, name, r);
	return EXIT_FAIL;
}

int cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "allow-foreign", no_argument, NULL, OPT_ALLOW_FOREIGN },
		{ "allow-shared-write", no_argument, NULL, OPT_ALLOW_SHARED_WRITE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned flags = PSHM_RDONLY;
	bool force = false;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			get_usage();
			return EXIT_OK;
		} else if (c == OPT_FORCE) {
			force = true;
		} else if (!policy_opt(c, &flags)) {
			return cli_bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], "expected one NAME");
	const char *name = argv[optind];
	pshm_box *box;
	int r = pshm_box_open(name, flags | (force ? PSHM_BOX_UNCHECKED : 0), &box);
	if (r < 0 && r != -EPROTO)
		return cli_seg_fail(argv[0], name, r);
	size_t cap = r == 0 ? pshm_box_capacity(box) : 0;
	char *buf = malloc(cap ? cap : 1);
	ssize_t n = r < 0 ? r : !buf ? -ENOMEM : pshm_box_read(box, buf, cap);
	int rc = EXIT_OK;
	if (n >= 0) {
		int w = cli_write_all(STDOUT_FILENO, buf, (size_t)n);
		if (w < 0)
			rc = cli_out_fail(argv[0], name, w);
	} else {
		struct pshm_box_info info = { 0 };
		if (n == -EAGAIN) /* who holds it: the header says, no second read */
			pshm_box_stat(name, &info);
		char why[160];
		rc = cli_failn(argv[0], name, "%s", read_failure((int)n, &info, why, sizeof(why)));
		if (force && box && n != -ENOMEM)
			rc = get_forced(argv[0], name, box);
	}
	free(buf);
	pshm_box_close(box);
	return rc;
}

/* ---- verify ---------------------------------------------------------------------- */

static void verify_usage(void)
{
	printf("usage: pshm verify [options] NAME...\n\n"
	       "Check the integrity of each box: its header, that no write is stuck\n"
	       "half-done, and its checksum. One line per box; exit status 1 if any\n"
	       "check fails.\n\n"
	       "      --allow-foreign      accept boxes owned by another user\n"
	       "      --allow-shared-write accept boxes writable by group or others\n"
	       "  -h, --help               show this help\n");
}

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
				  ? cli_seg_why(name, r, why, sizeof(why))
				  : read_failure(r, &info, why, sizeof(why));
	printf("%s: FAILED: %s\n", esc, msg);
	return false;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allow-foreign", no_argument, NULL, OPT_ALLOW_FOREIGN },
		{ "allow-shared-write", no_argument, NULL, OPT_ALLOW_SHARED_WRITE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned flags = PSHM_RDONLY;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			verify_usage();
			return EXIT_OK;
		} else if (!policy_opt(c, &flags)) {
			return cli_bad_option(argv[0], c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage(argv[0], "expected at least one NAME");
	bool all_ok = true;
	for (int i = optind; i < argc; i++)
		all_ok &= verify_one(argv[i], flags);
	int out = cli_finish_stdout(argv[0], argv[optind]);
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

static void publish_usage(void)
{
	printf("usage: pshm publish [options] NAME FILE\n\n"
	       "Serve a sealed, read-only snapshot of FILE (- for standard input) under\n"
	       "NAME until interrupted (Ctrl-C, SIGTERM). The bytes are copied into a\n"
	       "memfd sealed against writing, shrinking and growing: nobody, not even\n"
	       "this process, can change them. Readers get it with `pshm fetch NAME`.\n\n"
	       "      --dir DIR     socket directory (default $XDG_RUNTIME_DIR/pshm, or\n"
	       "                    /tmp/pshm-UID for a shared snapshot)\n"
	       "  -m, --mode MODE   who may connect, octal, 1 to 777 (default 600: only\n"
	       "                    you; 666: everyone)\n"
	       "  -h, --help        show this help\n");
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
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "mode", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL;
	mode_t mode = 0;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
		if (c == 'h') {
			publish_usage();
			return EXIT_OK;
		} else if (c == OPT_DIR) {
			dir = optarg;
		} else if (c == 'm') {
			if (cli_parse_mode(optarg, &mode) < 0)
				return cli_usage(argv[0], "bad mode '%s' (octal, 1 to 777, e.g. 600)",
						 optarg);
		} else {
			return cli_bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 2)
		return cli_usage(argv[0], "expected NAME FILE");
	const char *name = argv[optind], *file = argv[optind + 1];
	int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0)
		return cli_failn(argv[0], file, "%s", strerror(errno));
	char *data;
	size_t len;
	int r = cli_read_all(fd, &data, &len);
	if (fd)
		close(fd);
	if (r < 0)
		return cli_failn(argv[0], file, "%s", pshm_strerror(r));
	pshm_snap *snap;
	r = pshm_snap_publish(name, data, len, dir, mode, &snap);
	free(data);
	if (r == -EPERM)
		return cli_failn(argv[0], name, "refused: the socket directory is not safe (a "
				 "symlink, not yours, or writable by others)");
	if (r < 0)
		return cli_seg_fail(argv[0], name, r);
	char path[CLI_ESC_MAX * 2];
	cli_failn(argv[0], name, "serving %zu sealed bytes at %s; stop with Ctrl-C", len,
		  cli_esc(pshm_snap_path(snap), path, sizeof(path)));
	r = serve_until_stopped(snap);
	pshm_snap_close(snap);
	return r < 0 ? cli_fail(argv[0], name, r) : EXIT_OK;
}

static void fetch_usage(void)
{
	printf("usage: pshm fetch [options] NAME\n\n"
	       "Print the sealed snapshot NAME served by `pshm publish`. It is accepted\n"
	       "only from the expected user (checked with SO_PEERCRED), through a\n"
	       "directory only that user can write, and only if fully sealed.\n\n"
	       "      --uid USER    the publisher's user, name or number (default: you)\n"
	       "      --dir DIR     socket directory (default: that user's, see publish)\n"
	       "  -h, --help        show this help\n");
}

static int parse_uid(const char *s, uid_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s && !*end && !errno && v < (uid_t)-1) {
		*out = (uid_t)v;
		return 0;
	}
	struct passwd *pw = getpwnam(s);
	if (!pw)
		return -EINVAL;
	*out = pw->pw_uid;
	return 0;
}

int cmd_fetch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "uid", required_argument, NULL, OPT_UID },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL;
	uid_t uid = PSHM_SNAP_SELF;
	int c;
	cli_opt_start();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			fetch_usage();
			return EXIT_OK;
		} else if (c == OPT_DIR) {
			dir = optarg;
		} else if (c == OPT_UID) {
			if (parse_uid(optarg, &uid) < 0)
				return cli_usage(argv[0], "unknown user '%s'", optarg);
		} else {
			return cli_bad_option(argv[0], c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(argv[0], "expected one NAME");
	const char *name = argv[optind];
	pshm_seg *seg;
	int r = pshm_snap_fetch(name, uid, dir, &seg);
	if (r == -EPERM)
		return cli_failn(argv[0], name, "refused: unsafe socket directory, publisher "
				 "not the expected user, or snapshot not sealed");
	if (r == -ENOENT || r == -ECONNREFUSED)
		return cli_failn(argv[0], name, "no such snapshot (nobody publishes it)");
	if (r < 0)
		return cli_seg_fail(argv[0], name, r);
	r = cli_write_all(STDOUT_FILENO, pshm_seg_addr(seg), pshm_seg_size(seg));
	pshm_seg_close(seg);
	return r < 0 ? cli_out_fail(argv[0], name, r) : EXIT_OK;
}
