/* SPDX-License-Identifier: MIT */
/*
 * gc.c — `pshm gc`: find, and with --yes remove, abandoned segments:
 * yours, regular files, unused by any live process, unchanged for a while.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define GC_DEFAULT_AGE 3600.0

static const struct cli_optdoc gc_opts[] = {
	{ CLI_O_OLDER_THAN, "unchanged for at least AGE: seconds (90, 0.5)\n"
			    "or with a unit (90s, 10m, 2h, 7d), at most 36500d" },
	{ CLI_O_YES, "remove them" },
	{ CLI_O_JSON, "a JSON array of what was found (and removed)" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd gc_cmd = {
	"gc", "[--older-than AGE] [--yes] [--json]",
	"Find abandoned segments: yours, regular files, mapped or held open by no\n"
	"live process, and not modified for AGE (default 1h). They are listed;\n"
	"they are removed only with --yes. A segment in use, another user's, or\n"
	"a younger one is never touched (a segment nobody uses may still be\n"
	"wanted: named segments outlive their programs on purpose). gc removes\n"
	"only what it can prove unused, and says why it skips the rest: a\n"
	"segment that a process it could not inspect may be using (one of yours\n"
	"that is not dumpable; any process outside this PID namespace, so inside\n"
	"a container gc removes nothing), or, run as another user than root, a\n"
	"segment that other users may open (group or other permission bits),\n"
	"since their processes are hidden. If /proc cannot be scanned, nothing\n"
	"is removed.\n",
	gc_opts, false, 0, 0, 0, NULL,
};

/* "3h", "2d", "45m", "10s": how long ago, roughly. */
static const char *age_str(double s, char *buf, size_t len)
{
	/* The cast only in range: an age from a file's mtime may not fit. */
	if (s >= 86400 && s < 9e18 && (long long)s % 86400 == 0)
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

/* Is this process in a PID namespace of its own (a container), where the
 * processes outside it cannot be seen? Only for saying why. */
static bool in_pid_namespace(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) != 0 || st.st_ino != 0xEFFFFFFCu;
}

enum verdict { USED, UNSURE, UNUSED };

/* Who uses a listing's entries, from one scan of /proc. */
struct gc_users {
	long *count;  /* per entry: processes seen using it */
	int *unseen;  /* per entry: a process the scan missed may use it */
	int complete; /* the scan saw every process */
};

/*
 * Does anything prove that nobody uses @st (entry @i)?
 * - A process seen using it in /proc: in use.
 * - A libpshm handle open on it, in any process and any PID namespace (the
 *   library's liveness lock, pshm_seg_held()): in use; a failed query
 *   proves nothing.
 * - A box or a channel with no such handle: unused. Every program that
 *   uses pshm's own formats does so through libpshm, whose handles hold
 *   the lock for their lifetime, so this holds even where the scan of
 *   /proc is blind (a container, a hidden process).
 * - A raw segment, which any program may map without libpshm: unused only
 *   if the scan saw every process that may use it. A scan that missed only
 *   other users' processes proves it only for a segment that no other user
 *   may open: one with no group or other permission bits.
 */
static enum verdict verdict(const struct pshm_stat *st, const struct gc_users *u, size_t i)
{
	if (u->count[i] != 0)
		return u->count[i] > 0 ? USED : UNSURE;
	int held = pshm_seg_held(st->name);
	if (held != 0)
		return held > 0 ? USED : UNSURE;
	if (st->kind == PSHM_KIND_BOX || st->kind == PSHM_KIND_CHAN ||
	    st->kind == PSHM_KIND_TOPIC || st->kind == PSHM_KIND_SERVICE)
		return UNUSED; /* every handle of these holds the presence lock */
	if (u->unseen[i])
		return UNSURE;
	return u->complete || !(st->mode & 077) ? UNUSED : UNSURE;
}

/* A segment gc leaves alone because it cannot prove it unused: say why. */
static void gc_skipped(const struct pshm_stat *st, const struct gc_users *u, size_t i)
{
	if (u->unseen[i] && in_pid_namespace())
		cli_failn("gc", st->name, "skipped: cannot prove it unused: pshm runs in a PID "
			  "namespace of its own (a container?) and cannot see the processes "
			  "outside it that may share this segment; run gc where every process "
			  "is visible (on the host)");
	else if (u->unseen[i])
		cli_failn("gc", st->name, "skipped: cannot prove it unused: a process that may "
			  "use it could not be inspected in /proc (%s)",
			  geteuid() ? "one of yours that is not dumpable, or that /proc hides"
				    : "/proc denied access to it, or hides it");
	else if (u->count[i] < 0)
		cli_failn("gc", st->name, "skipped: could not tell whether a process uses it");
	else
		cli_failn("gc", st->name, "skipped: may be in use: its mode (%04o) lets other "
			  "users open it, and %s", (unsigned)(st->mode & 07777),
			  geteuid() ? "only root can see their processes"
				    : "not every process could be inspected");
}

static void gc_users_free(struct gc_users *u)
{
	free(u->count);
	free(u->unseen);
	u->count = NULL;
	u->unseen = NULL;
}

/* Who uses the @n entries of @v, from one scan of /proc. A scan that
 * failed (out of descriptors...) proves nothing: its error, after saying
 * so. */
static int gc_scan(const struct pshm_stat *v, size_t n, struct gc_users *u)
{
	u->complete = 0;
	u->count = malloc((n ? n : 1) * sizeof(*u->count));
	u->unseen = malloc((n ? n : 1) * sizeof(*u->unseen));
	if (!u->count || !u->unseen) {
		gc_users_free(u);
		return cli_fail("gc", "/dev/shm", -ENOMEM);
	}
	int r = pshm_seg_scan(v, n, u->count, u->unseen, &u->complete);
	if (r < 0) {
		gc_users_free(u);
		return cli_failn("gc", "/proc", "the scan of the processes failed, so nothing "
				 "can be proven unused; nothing removed: %s", pshm_strerror(r));
	}
	return -1;
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
		if (pshm_seg_stat(cand[i].name, &again[i]) < 0 ||
		    !old_and_own(&again[i], min_age, now))
			again[i].mode = 0; /* not a candidate any more, nor scanned */
	struct gc_users u;
	if (gc_scan(again, n, &u) >= 0) {
		free(again);
		return -ECANCELED; /* said why already */
	}
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		res[i] = -EBUSY;
		if (S_ISREG(again[i].mode) && verdict(&again[i], &u, i) == UNUSED) {
			int e = pshm_seg_unlink_same(cand[i].name, &cand[i]);
			res[i] = e == 0 ? 1 : e == -ESTALE ? -EBUSY : e;
		}
	}
	gc_users_free(&u);
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
static size_t gc_pick(const struct pshm_stat *v, size_t n, const struct gc_users *u,
		      double min_age, double now, struct pshm_stat *cand)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!old_and_own(&v[i], min_age, now))
			continue;
		enum verdict d = verdict(&v[i], u, i);
		if (d == UNSURE)
			gc_skipped(&v[i], u, i);
		if (d == UNUSED)
			cand[k++] = v[i];
	}
	return k;
}

struct gc_opts {
	double min_age;
	const char *age_arg;
	bool yes, json;
};

static int gc_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct gc_opts *o = ctx;
	if (id == CLI_O_OLDER_THAN) {
		o->age_arg = arg;
		return cli_opt_duration(&gc_cmd, id, arg, &o->min_age);
	}
	*(id == CLI_O_YES ? &o->yes : &o->json) = true;
	return 0;
}

/* The last line: what was found, and how to remove it. */
static void gc_summary(const struct gc_opts *o, size_t found, uint64_t bytes)
{
	char h[16], a[16];
	if (o->json)
		printf(found ? "\n]\n" : "]\n");
	else if (!found)
		printf("no abandoned segment (yours, unused, unchanged for %s)\n",
		       age_str(o->min_age, a, sizeof(a)));
	else if (!o->yes)
		printf("%zu abandoned segment%s (%s in memory); 'pshm gc --yes%s%s' removes %s\n",
		       found, found == 1 ? "" : "s", cli_human(bytes, h, sizeof(h)),
		       o->age_arg ? " --older-than " : "", o->age_arg ? o->age_arg : "",
		       found == 1 ? "it" : "them");
}

int cmd_gc(int argc, char **argv)
{
	struct gc_opts o = { .min_age = GC_DEFAULT_AGE };
	struct cli_args a;
	int r = cli_options(&gc_cmd, argc, argv, gc_opt, &o, &a);
	if (r >= 0)
		return r;
	struct pshm_stat *v;
	size_t n;
	ssize_t got = pshm_seg_list(&v);
	if (got < 0)
		return cli_fail("gc", "/dev/shm", (int)got);
	n = (size_t)got;
	struct gc_users u;
	r = gc_scan(v, n, &u);
	if (r >= 0) {
		free(v);
		return r;
	}
	double now = now_sec();
	struct pshm_stat *cand = malloc((n ? n : 1) * sizeof(*cand));
	int *res = calloc(n ? n : 1, sizeof(*res));
	r = cand && res ? 0 : -ENOMEM;
	size_t k = r == 0 ? gc_pick(v, n, &u, o.min_age, now, cand) : 0;
	if (r == 0 && o.yes)
		r = gc_remove(cand, k, o.min_age, now, res);
	gc_users_free(&u);
	free(v);
	if (r < 0) {
		free(cand);
		free(res);
		return r == -ECANCELED ? EXIT_FAIL : cli_fail("gc", "/dev/shm", r);
	}
	if (o.json)
		printf("[");
	uint64_t bytes = 0;
	size_t found = gc_report(cand, res, k, o.json, now, &bytes);
	int status = EXIT_OK;
	for (size_t i = 0; i < k; i++)
		if (res[i] < 0 && res[i] != -EBUSY && res[i] != -ENOENT)
			status = EXIT_FAIL;
	free(cand);
	free(res);
	gc_summary(&o, found, bytes);
	r = cli_finish_stdout("gc", "/dev/shm");
	return status ? status : r;
}
