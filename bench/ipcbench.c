/* SPDX-License-Identifier: MIT */
/*
 * ipcbench — the pshm IPC benchmark driver.
 *
 * Usage: ipcbench [-S] [-r ROUNDS] [-t MS] [-q] [-f FILTER] [-o FILE] [-l]
 *   -S         the MPSC scaling cases instead of the others: 1, 2, 4, 8, 15
 *              producers (as many as the CPUs allow, one CPU each, and the
 *              consumer on the first) streaming 64-byte messages into one
 *              pshm channel; default 7 rounds of 200 ms runs
 *   -r ROUNDS  rounds (env BENCH_ROUNDS, default 11): each round runs every
 *              case once, in an order rotated by 1/ROUNDS of the list from
 *              one round to the next
 *   -t MS      duration of one measured run of a case (env BENCH_REP_MS,
 *              default 120), after a warm-up run of a quarter of it
 *   -q         quick mode (BENCH_QUICK=1): 3 rounds of 20 ms runs, no
 *              settling (unless BENCH_SETTLE says)
 *   -f FILTER  only cases whose "kind/transport/size" contains one of the
 *              comma-separated substrings (env BENCH_FILTER)
 *   -o FILE    raw results, tab-separated (default: standard output)
 *   -l         list the cases and exit
 * Other environment: BENCH_PRODUCERS="1,2,4" (-S: these counts instead),
 * BENCH_CPUS="0,1" (the two CPUs; the receivers of a
 * fan-out case take the CPUs after the second, when there are any),
 * BENCH_CASE_TIMEOUT (seconds per run; default 30 + three times its
 * planned duration; a case that fails twice is not run again), BENCH_IOX=0 (skip iceoryx), BENCH_RING (pshm ring
 * bytes; default max(1 MiB, 4 x message size)), BENCH_SETTLE (seconds a
 * run may wait for the machine to settle, see machine.c; default 2, 0 to
 * start every run at once), BENCH_SETTLE_BUDGET (seconds of settling in
 * all, default 60).
 *
 * Interleaving is the point: a ratio between two cases (pshm against pipe,
 * against the two-line ping-pong, ...) is taken within each round, where
 * both ran within seconds of each other, and the report gives the median
 * of those per-round ratios with their spread. Progress goes to standard
 * error. Exit status: 0, or 1 if a case failed (skipped cases, e.g. a
 * transport that is absent, are fine).
 */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pshm.h"

static const char *const kind_names[K_NKINDS] = {
	"rtt", "rtt-zc", "rtt-zc-touch", "stream", "stream-zc", "rtt-fan", "stream-fan", "stream-mpsc",
};

/* Settings, from the environment and the command line (the first three
 * are read by the workers too: bench.h). */
int opt_reps = 1;
int opt_rep_ms = 120;
int opt_cpu[2] = {0, 1};
static int opt_rounds = 11;
static int opt_timeout = -1;
static const char *opt_filter;
static FILE *out;
static long ncpus = 2;

/* The CPU of a worker: A and B on the two chosen CPUs; the further
 * receivers of a fan-out on the CPUs after B's, sharing B's when there
 * are none. */
int side_cpu(int side)
{
	if (side <= SIDE_B)
		return opt_cpu[side];
	int cpu = opt_cpu[1] + side - 1;
	return cpu < ncpus && cpu != opt_cpu[0] ? cpu : opt_cpu[1];
}

/* ---------------------------------------------------------------- sizes */

/* Zero-copy: every power of two from 64 B to 4 MiB, and both sides of
 * 64 KiB - 8 (where a record with its header stops fitting 64 KiB). */
static const size_t sweep[] = {
	64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65528, 65536, 65544,
	1 << 17, 1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22, 0,
};
static const size_t copy_sizes[] = {64, 4096, 65536, 1 << 20, 0};
static const size_t touch_sizes[] = {1 << 20, 0};
static const size_t fan_sizes[] = {64, 0};

/* The scaling cases: 1, 2, 4, 8, 15 producers and the most the CPUs take
 * (one each, the consumer on the first CPU; two CPUs: one producer). */
static struct transport scale_tp[8];
static char scale_names[8][32];

static void add_scaling(void)
{
	static const int want[] = {1, 2, 4, 8, 15};
	int most = ncpus > 1 ? (int)ncpus - 1 : 1, n = 0;
	if (most > MAX_WORKERS - 1)
		most = MAX_WORKERS - 1;
	const char *env = getenv("BENCH_PRODUCERS"); /* e.g. "1,2,4": these instead */
	if (env && *env) {
		char buf[128], *save = NULL;
		snprintf(buf, sizeof buf, "%s", env);
		for (char *t = strtok_r(buf, ",", &save); t && n < 8; t = strtok_r(NULL, ",", &save))
			if (atoi(t) >= 1 && atoi(t) < MAX_WORKERS)
				scale_tp[n++].nsub = atoi(t);
	}
	for (size_t i = 0; !n && i < sizeof want / sizeof *want; i++)
		if (want[i] <= most)
			scale_tp[n++].nsub = want[i];
	if (!env && scale_tp[n - 1].nsub != most)
		scale_tp[n++].nsub = most;
	for (int i = 0; i < n; i++) {
		snprintf(scale_names[i], sizeof scale_names[i], "pshm-mpsc-%dp", scale_tp[i].nsub);
		scale_tp[i].name = scale_names[i];
		scale_tp[i].ops = &pshm_mpsc_ops;
		scale_tp[i].kinds = KBIT(K_STREAM_MPSC);
		scale_tp[i].what = "pshm MPSC channel, N producers, busy-poll";
		scale_tp[i].sizes = fan_sizes;
	}
}

static const size_t *sizes_of(const struct transport *t, enum kind k)
{
	if (t->sizes)
		return t->sizes;
	switch (k) {
	case K_RTT_ZC:
	case K_STREAM_ZC: return sweep;
	case K_RTT_ZC_TOUCH: return touch_sizes;
	case K_RTT_FAN:
	case K_STREAM_FAN:
	case K_STREAM_MPSC: return fan_sizes;
	default: return copy_sizes;
	}
}

/* ---------------------------------------------------------------- cases */

struct bcase {
	const struct transport *tp;
	enum kind kind;
	size_t size;
	char id[128];
	int skip;          /* said so once: not run again */
	int failed;        /* runs that failed: after MAX_FAILS, not run again */
	int iox;
};

#define MAX_FAILS 2

static struct bcase *cases;
static int ncases, n_failed;

static int filtered(const char *id)
{
	if (!opt_filter || !*opt_filter)
		return 1;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", opt_filter);
	for (char *s = strtok(buf, ","); s; s = strtok(NULL, ","))
		if (strstr(id, s))
			return 1;
	return 0;
}

static void add_table(const struct transport *t, int iox)
{
	for (; t->name; t++)
		for (int k = 0; k < K_NKINDS; k++) {
			if (!(t->kinds & KBIT(k)))
				continue;
			for (const size_t *s = sizes_of(t, (enum kind)k); *s; s++) {
				if (t->max_size && *s > t->max_size)
					continue;
				struct bcase bc = {.tp = t, .kind = (enum kind)k, .size = *s,
						   .iox = iox || !strncmp(t->name, "iox", 3)};
				snprintf(bc.id, sizeof bc.id, "%s/%s/%zu", kind_names[k], t->name, *s);
				if (!filtered(bc.id))
					continue;
				struct bcase *n = realloc(cases, (size_t)(ncases + 1) * sizeof *cases);
				if (!n) {
					fprintf(stderr, "ipcbench: out of memory\n");
					exit(1);
				}
				cases = n;
				cases[ncases++] = bc;
			}
		}
}

/* -------------------------------------------------------------- workers */

static sigset_t driver_sigs;   /* SIGCHLD, SIGINT, SIGTERM, SIGHUP: blocked, awaited */
volatile int interrupted;

/* Wait for the workers; kill them all if one fails, on a timeout, or on
 * ^C. Returns 0 if all exited 0, 2 on a timeout, 3 on an interrupt. */
static int wait_workers(pid_t *pid, int nw, int *status)
{
	int left = nw, bad = 0;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += opt_timeout;

	while (left) {
		for (int i = 0; i < nw; i++) {
			int st;
			if (pid[i] > 0 && waitpid(pid[i], &st, WNOHANG) == pid[i]) {
				status[i] = st;
				pid[i] = -1;
				left--;
				if ((!WIFEXITED(st) || WEXITSTATUS(st)) && !bad)
					bad = 1;
			}
		}
		if (!left)
			break;
		if (bad) {
			for (int i = 0; i < nw; i++)
				if (pid[i] > 0)
					kill(pid[i], SIGKILL);
			continue;
		}
		struct timespec nowt, rem;
		clock_gettime(CLOCK_MONOTONIC, &nowt);
		rem.tv_sec = dl.tv_sec - nowt.tv_sec;
		rem.tv_nsec = dl.tv_nsec - nowt.tv_nsec;
		if (rem.tv_nsec < 0) {
			rem.tv_nsec += 1000000000;
			rem.tv_sec--;
		}
		if (rem.tv_sec < 0) {
			bad = 2;
			continue;
		}
		int sig = sigtimedwait(&driver_sigs, NULL, &rem);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			interrupted = sig;
			bad = 3;
		}
	}
	return bad;
}

static void emit_status(const struct bcase *bc, const char *status, const char *why)
{
	fprintf(out, "%s\t%s\t%zu\t-\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n",
		kind_names[bc->kind], bc->tp->name, bc->size, status, why);
	fflush(out);
}

/* One measurement of a case: prepare, settle, run the workers, clean up.
 * -1 if the case is skipped (said so already), else wait_workers()'s
 * verdict, with the control block in *ctp. */
static int attempt_case(struct bcase *bc, int attempt, int seq, struct ctrl **ctp,
			struct bctx *c, int *status)
{
	const struct transport *tp = bc->tp;
	struct ctrl *ct = mmap(NULL, sizeof *ct, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ct == MAP_FAILED) {
		fprintf(stderr, "ipcbench: mmap: %s\n", strerror(errno));
		exit(1);
	}
	int nw = tp->nsub ? 1 + tp->nsub : 2;
	ct->nw = nw;
	*c = (struct bctx){
		.tp = tp, .kind = bc->kind, .size = bc->size, .max_msg = bc->size, .ctrl = ct,
		.err = ct->err[0], .duplex = is_rtt(bc->kind), .nw = nw,
	};
	snprintf(c->tag, sizeof c->tag, "ipcbench-%d-%d-%d", (int)getpid(), seq, attempt);

	int r = tp->ops->prepare ? tp->ops->prepare(c) : 0;
	if (r < 0) {
		char why[ERRLEN + 64];
		snprintf(why, sizeof why, "%s", *c->err ? c->err : strerror(-r));
		if (tp->ops->cleanup)
			tp->ops->cleanup(c);
		fprintf(stderr, "skip: %s\n", why);
		emit_status(bc, "skip", why);
		bc->skip = 1;
		munmap(ct, sizeof *ct);
		return -1;
	}
	if (!settle()) {
		size_t l = strlen(c->note);
		snprintf(c->note + l, sizeof c->note - l, "%sunsettled", l ? "; " : "");
	} else if (attempt) {
		size_t l = strlen(c->note);
		snprintf(c->note + l, sizeof c->note - l, "%smeasured twice", l ? "; " : "");
	}
	fflush(out);
	fflush(stderr);
	pid_t pid[MAX_WORKERS];
	for (int s = 0; s < nw; s++) {
		status[s] = 0;
		pid[s] = fork();
		if (pid[s] == 0)
			worker(c, s);
		if (pid[s] < 0) {
			fprintf(stderr, "ipcbench: fork: %s\n", strerror(errno));
			exit(1);
		}
		ct->pid[s] = pid[s];
	}
	int bad = wait_workers(pid, nw, status);
	if (tp->ops->cleanup)
		tp->ops->cleanup(c);
	*ctp = ct;
	return bad;
}

/* The figure shown on the progress line: p50 for round trips, GB/s for
 * large streams, M msg/s for small ones. */
static void progress(const struct bcase *bc, const struct rep_result *p)
{
	double mps = (double)p->n / p->seconds;
	if (is_rtt(bc->kind))
		fprintf(stderr, "p50 %.0f ns\n", p->p50_ns);
	else if (bc->size >= 4096)
		fprintf(stderr, "%.2f GB/s\n", mps * (double)bc->size / 1e9);
	else
		fprintf(stderr, "%.2f Mmsg/s\n", mps / 1e6);
}

static void run_case(struct bcase *bc, int round, int seq)
{
	if (bc->skip || bc->failed >= MAX_FAILS || interrupted)
		return;
	fprintf(stderr, "[%2d/%d %3d/%d] %-33s ", round + 1, opt_rounds, seq + 1, ncases, bc->id);

	/* A run during which the machine became unsettled (see settle())
	 * is measured once more. */
	struct ctrl *ct;
	struct bctx c;
	int bad, status[MAX_WORKERS];
	for (int attempt = 0;; attempt++) {
		bad = attempt_case(bc, attempt, seq, &ct, &c, status);
		if (bad < 0)
			return;
		if (bad || attempt || interrupted || settled_now())
			break;
		fprintf(stderr, "(unsettled meanwhile: again) ");
		settle_count_redo((CALIB_ROUNDS * 0.25 + opt_reps) * opt_rep_ms / 1000.0);
		munmap(ct, sizeof *ct);
	}

	if (bad) {
		char why[3 * ERRLEN + 64] = "";
		size_t l = 0;
		if (bad >= 2)
			l += (size_t)snprintf(why, sizeof why, "%s", bad == 2 ? "timeout" : "interrupted");
		for (int s = 0; s < c.nw && l < sizeof why; s++)
			if (*ct->err[s])
				l += (size_t)snprintf(why + l, sizeof why - l, "%s%c: %s", l ? "; " : "",
						      s < 2 ? 'A' + s : '0' + s, ct->err[s]);
		if (!*why)
			snprintf(why, sizeof why, "worker died (status %#x/%#x)", status[0], status[1]);
		fprintf(stderr, "FAILED\n  %s\n", why);
		if (bad != 3) {
			emit_status(bc, "fail", why);
			if (++bc->failed == MAX_FAILS)
				fprintf(stderr, "  (failed %d times: not run again)\n", MAX_FAILS);
			n_failed++;
		}
		munmap(ct, sizeof *ct);
		return;
	}
	const char *note = *c.note ? c.note : "-";
	const struct rep_result *p = &ct->res[CALIB_ROUNDS];
	double mps = (double)p->n / p->seconds, gbs = mps * (double)bc->size / 1e9;
	if (is_rtt(bc->kind))
		fprintf(out, "%s\t%s\t%zu\t%d\tok\t%llu\t%.6f\t%.1f\t%.4f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%ld\t%s\n",
			kind_names[bc->kind], bc->tp->name, bc->size, round + 1, (unsigned long long)p->n,
			p->seconds, mps, gbs, p->mean_ns, p->p50_ns, p->p99_ns, p->p999_ns, p->min_ns,
			p->max_ns, p->preempted, note);
	else
		fprintf(out, "%s\t%s\t%zu\t%d\tok\t%llu\t%.6f\t%.1f\t%.4f\t-\t-\t-\t-\t-\t-\t%ld\t%s\n",
			kind_names[bc->kind], bc->tp->name, bc->size, round + 1, (unsigned long long)p->n,
			p->seconds, mps, gbs, p->preempted, note);
	fflush(out);
	progress(bc, p);
	munmap(ct, sizeof *ct);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f, "usage: ipcbench [-r ROUNDS] [-t MS] [-q] [-f FILTER] [-o FILE] [-l]\n"
		   "  see the comment at the top of bench/ipcbench.c and bench/RESULTS.md\n");
}

/* iceoryx's daemon, started once for the whole run when a case needs it;
 * 0 if its cases can run. */
static int iox_up(void)
{
	int any = 0;
	char why[256] = "";
	for (int i = 0; i < ncases; i++)
		any |= cases[i].iox;
	if (!iox_transports[0].name) {
		fprintf(out, "# iceoryx: absent (not built: iceoryx_binding_c headers not found; "
			     "make bench-deps): its cases were left out\n");
		fprintf(stderr, "ipcbench: iceoryx is not built in (make bench-deps): its cases are left out\n");
		return -1;
	}
	if (!any)
		return -1;
	if (env_int("BENCH_IOX", 1) == 0)
		snprintf(why, sizeof why, "disabled by BENCH_IOX=0");
	if (!*why && iox_start(why, sizeof why) == 0) {
		fprintf(out, "# iceoryx: %s\n", why);
		return 0;
	}
	fprintf(out, "# iceoryx: absent (%s)\n", why);
	fprintf(stderr, "ipcbench: iceoryx cases skipped: %s\n", why);
	for (int i = 0; i < ncases; i++)
		if (cases[i].iox) {
			emit_status(&cases[i], "skip", "iceoryx absent");
			cases[i].skip = 1;
		}
	return -1;
}

int main(int argc, char **argv)
{
	const char *outname = NULL;
	int opt, listing = 0, scaling = 0;

	for (int i = 1; i < argc; i++)
		scaling |= !strcmp(argv[i], "-S");
	if (scaling) {
		opt_rounds = 7;
		opt_rep_ms = 200;
	}
	if (env_int("BENCH_QUICK", 0)) {
		opt_rounds = 3;
		opt_rep_ms = 20;
	}
	opt_rounds = env_int("BENCH_ROUNDS", opt_rounds);
	opt_rep_ms = env_int("BENCH_REP_MS", opt_rep_ms);
	opt_timeout = env_int("BENCH_CASE_TIMEOUT", -1);
	opt_filter = getenv("BENCH_FILTER");
	/* A quick check does not wait for the machine to settle. */
	opt_settle = env_int("BENCH_SETTLE", env_int("BENCH_QUICK", 0) ? 0 : 2);
	const char *cpus = getenv("BENCH_CPUS");
	if (cpus && sscanf(cpus, "%d,%d", &opt_cpu[0], &opt_cpu[1]) != 2) {
		fprintf(stderr, "ipcbench: BENCH_CPUS=%s: want two CPU numbers, \"0,1\"\n", cpus);
		return 2;
	}
	while ((opt = getopt(argc, argv, "Sr:t:qf:o:lh")) != -1) {
		switch (opt) {
		case 'S': break;
		case 'r': opt_rounds = atoi(optarg); break;
		case 't': opt_rep_ms = atoi(optarg); break;
		case 'q': opt_rounds = 3; opt_rep_ms = 20; opt_settle = env_int("BENCH_SETTLE", 0); break;
		case 'f': opt_filter = optarg; break;
		case 'o': outname = optarg; break;
		case 'l': listing = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (opt_rounds < 1 || opt_rep_ms < 1) {
		fprintf(stderr, "ipcbench: at least one round and a positive duration, please\n");
		return 2;
	}
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (opt_timeout < 0)
		opt_timeout = 30 + 3 * (CALIB_ROUNDS + opt_reps) * opt_rep_ms / 1000;

	if (scaling) {
		add_scaling();
		add_table(scale_tp, 0);
	} else {
		add_table(hw_transports, 0);
		add_table(kern_transports, 0);
		add_table(pshm_transports, 0);
		add_table(fan_transports, 0);
		add_table(iox_transports, 1);
	}
	if (listing) {
		for (int i = 0; i < ncases; i++)
			printf("%s\n", cases[i].id);
		return 0;
	}
	out = stdout;
	if (outname && !(out = fopen(outname, "w"))) {
		fprintf(stderr, "ipcbench: %s: %s\n", outname, strerror(errno));
		return 1;
	}

	/* Signals are received synchronously in wait_workers() (workers
	 * unblock them), so an interrupted run still cleans up. */
	sigemptyset(&driver_sigs);
	sigaddset(&driver_sigs, SIGCHLD);
	sigaddset(&driver_sigs, SIGINT);
	sigaddset(&driver_sigs, SIGTERM);
	sigaddset(&driver_sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &driver_sigs, NULL);

	rtt_samples = mmap(NULL, MAX_RTT_SAMPLES * sizeof *rtt_samples, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (rtt_samples == MAP_FAILED) {
		fprintf(stderr, "ipcbench: mmap: %s\n", strerror(errno));
		return 1;
	}
	calibrate_tick();
	emit_meta(out);
	pshm_choices(out);
	fprintf(out, "# method: %d interleaved rounds of %d cases; each round runs every case once "
		     "(a %d ms warm-up run, then one measured run of about %d ms), its order rotated "
		     "by %d cases from one round to the next\n", opt_rounds, ncases,
		opt_rep_ms / 4, opt_rep_ms, ncases / opt_rounds ? ncases / opt_rounds : 1);
	fprintf(out, "kind\ttransport\tsize\tround\tstatus\tn\tseconds\tmsgs_per_s\tgbytes_per_s"
		     "\tmean_ns\tp50_ns\tp99_ns\tp999_ns\tmin_ns\tmax_ns\tpreempted\tnote\n");
	int iox = !scaling && iox_up() == 0;
	uint64_t t0 = now_ns();
	int step = ncases / opt_rounds ? ncases / opt_rounds : 1;
	for (int r = 0; r < opt_rounds && !interrupted; r++) {
		for (int j = 0; j < ncases && !interrupted; j++)
			run_case(&cases[(j + r * step) % ncases], r, j);
		if (!interrupted)
			fprintf(stderr, "ipcbench: round %d of %d done, %.0f s so far\n", r + 1, opt_rounds,
				(double)(now_ns() - t0) / 1e9);
	}
	if (iox)
		iox_stop();
	emit_load(out, "load at end");
	fprintf(out, "# duration: %.0f s\n", (double)(now_ns() - t0) / 1e9);
	emit_settling(out);
	if (out != stdout)
		fclose(out);
	free(cases);
	if (interrupted) {
		fprintf(stderr, "ipcbench: interrupted\n");
		return 128 + interrupted;
	}
	return n_failed ? 1 : 0;
}
