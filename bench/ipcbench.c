/* SPDX-License-Identifier: MIT */
/*
 * ipcbench — the pshm IPC benchmark driver.
 *
 * Usage: ipcbench [-r REPS] [-t MS] [-q] [-f FILTER] [-o FILE] [-l]
 *   -r REPS    measured repetitions per case (env BENCH_REPS, default 5)
 *   -t MS      target duration of one repetition (env BENCH_REP_MS, default 200)
 *   -q         quick mode for development: 20 ms repetitions (BENCH_QUICK=1)
 *   -f FILTER  only cases whose "kind/transport/size" contains one of the
 *              comma-separated substrings (env BENCH_FILTER)
 *   -o FILE    raw results, tab-separated (default: standard output)
 *   -l         list the cases and exit
 * Other environment: BENCH_CPUS="0,1" (the two CPUs), BENCH_CASE_TIMEOUT
 * (seconds per case; default 20 + three times its planned duration),
 * BENCH_IOX=0 (skip iceoryx),
 * BENCH_RING (pshm ring bytes; default max(1 MiB, 4 x message size)),
 * BENCH_SETTLE (seconds a case may wait for the machine to settle, see
 * settle(); default 10, 0 to start every case at once).
 *
 * Each case runs in two fresh processes pinned to the two CPUs (see
 * bench.h). Progress goes to standard error. Exit status: 0, or 1 if a
 * case failed (skipped cases, e.g. a transport that is absent, are fine).
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pshm.h"

static const char *const kind_names[K_NKINDS] = {
	"rtt", "rtt-zc", "rtt-zc-touch", "stream", "stream-zc",
};

/* Settings, from the environment and the command line (the first three
 * are read by the workers too: bench.h). */
int opt_reps = 5;
int opt_rep_ms = 200;
int opt_cpu[2] = {0, 1};
static int opt_timeout = -1;
static const char *opt_filter;
static FILE *out;

/* -------------------------------------------------------------- driver */

static sigset_t driver_sigs;   /* SIGCHLD, SIGINT, SIGTERM, SIGHUP: blocked, awaited */
static volatile int interrupted;
static int n_failed;

/* Wait for both workers; kill both if one fails, on a timeout, or on ^C.
 * Returns 0 if both exited 0. */
static int wait_workers(pid_t pid[2], int *status)
{
	int left = 2, bad = 0;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += opt_timeout;

	while (left) {
		for (int i = 0; i < 2; i++) {
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
			for (int i = 0; i < 2; i++)
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

/* First line of a small file, without its newline; 1 if there was one. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	*buf = 0;
	if (!f)
		return 0;
	if (!fgets(buf, (int)len, f))
		*buf = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return *buf != 0;
}

/* The caches of the first pinned CPU, and which CPUs share each. */
static void emit_caches(void)
{
	char path[128], lvl[16], type[32], size[32], shared[64], all[512] = "";
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/", opt_cpu[0], i);
		char p2[192];
		snprintf(p2, sizeof p2, "%slevel", path);
		if (!read_line(p2, lvl, sizeof lvl))
			break;
		snprintf(p2, sizeof p2, "%stype", path);
		read_line(p2, type, sizeof type);
		snprintf(p2, sizeof p2, "%ssize", path);
		read_line(p2, size, sizeof size);
		snprintf(p2, sizeof p2, "%sshared_cpu_list", path);
		read_line(p2, shared, sizeof shared);
		if (!strcmp(type, "Instruction"))
			continue;
		size_t n = strlen(all);
		snprintf(all + n, sizeof all - n, "%sL%s %s (CPUs %s)", n ? ", " : "", lvl, size, shared);
	}
	if (*all)
		fprintf(out, "# caches: %s\n", all);
}

static void emit_load(const char *what)
{
	char la[128];
	if (read_line("/proc/loadavg", la, sizeof la))
		fprintf(out, "# %s: %s (/proc/loadavg)\n", what, la);
}

static void emit_meta(void)
{
	struct utsname u;
	char line[4096], model[256] = "unknown", src[64] = "unknown";
	char extra[160] = "";
	int ncpu = 0, nproc = 0, hyper = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		if (!strncmp(line, "processor", 9))
			nproc++;
		if (!strncmp(line, "flags", 5) && strstr(line, " hypervisor"))
			hyper = 1;
		if (!strncmp(line, "cpu family", 10) || !strncmp(line, "model\t", 6) ||
		    !strncmp(line, "cpu MHz", 7)) {
			char *v = strchr(line, ':');
			size_t n = strlen(extra);
			if (v && nproc == 1 && n < sizeof extra - 40) {
				v[strcspn(v, "\n")] = 0;
				line[strcspn(line, "\t")] = 0;
				snprintf(extra + n, sizeof extra - n, ", %.20s %.20s", line, v + 2);
			}
		}
		if (!strncmp(line, "model name", 10)) {
			ncpu++;
			char *v = strchr(line, ':');
			if (v) {
				snprintf(model, sizeof model, "%s", v + 2);
				model[strcspn(model, "\n")] = 0;
			}
		}
	}
	if (f)
		fclose(f);
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fgets(src, sizeof src, f))
			src[strcspn(src, "\n")] = 0;
		fclose(f);
	}
	uname(&u);
	time_t t = time(NULL);
	char date[64];
	strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));

	/* The cost of one clock read, which every round-trip sample includes. */
	uint64_t a = tick(), z = 0;
	for (int i = 0; i < 1000000; i++)
		z += tick();
	z = tick();

	fprintf(out, "# date: %s\n", date);
	fprintf(out, "# kernel: %s %s %s\n", u.sysname, u.release, u.machine);
	fprintf(out, "# cpu: %s%s\n", model, extra);
	fprintf(out, "# cpus online: %ld (logical, /proc/cpuinfo lists %d); pinned to %d and %d%s\n",
		sysconf(_SC_NPROCESSORS_ONLN), ncpu, opt_cpu[0], opt_cpu[1],
		hyper ? "; virtual machine (hypervisor flag)" : "");
	emit_caches();
	char idle[64], gov[64];
	if (read_line("/sys/devices/system/cpu/cpuidle/current_driver", idle, sizeof idle) |
	    read_line("/sys/devices/system/cpu/cpufreq/policy0/scaling_governor", gov, sizeof gov))
		fprintf(out, "# power: cpuidle %s, cpufreq governor %s\n", *idle ? idle : "none",
			*gov ? gov : "none");
#ifdef __clang__
	fprintf(out, "# compiler: clang %s\n", __clang_version__);
#else
	fprintf(out, "# compiler: gcc %s\n", __VERSION__);
#endif
	fprintf(out, "# pshm: %s\n", pshm_version());
	/* ... and its resolution: the smallest step it takes. */
	uint64_t step = UINT64_MAX, prev = tick();
	for (int i = 0; i < 100000; i++) {
		uint64_t now = tick();
		if (now != prev && now - prev < step)
			step = now - prev;
		prev = now;
	}
	fprintf(out, "# clock: round-trip samples from %s: %.1f ns per read, resolution %.1f ns; "
		"CLOCK_MONOTONIC via %s\n", TICK_NAME, (double)(z - a) * ns_per_tick / 1e6,
		(double)step * ns_per_tick, src);
	fprintf(out, "# repetitions: %d measured (+%d warm-up), about %d ms each\n",
		opt_reps, CALIB_ROUNDS, opt_rep_ms);
	emit_load("load at start");
}

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

static const size_t rtt_sizes[] = {64, 0};
static const size_t rtt_zc_sizes[] = {64, 1 << 20, 0};
static const size_t touch_sizes[] = {1 << 20, 0};
static const size_t stream_sizes[] = {64, 4096, 1 << 20, 0};

static const size_t *sizes_of(enum kind k)
{
	switch (k) {
	case K_RTT: return rtt_sizes;
	case K_RTT_ZC: return rtt_zc_sizes;
	case K_RTT_ZC_TOUCH: return touch_sizes;
	default: return stream_sizes;
	}
}

static void emit_skip(const char *kind, const char *tp, size_t size, const char *why)
{
	fprintf(out, "%s\t%s\t%zu\t-\tskip\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", kind, tp, size, why);
	fflush(out);
	fprintf(stderr, "  skip: %s\n", why);
}

static int case_no, case_total, listing;

/*
 * Settling. On a virtual machine the two CPUs sometimes run, for seconds at
 * a time, much slower at moving cache lines between them (here: a
 * cache-line round trip of 270-650 ns instead of 110-120, every figure down
 * with it, while nothing else runs), probably while the host has placed
 * the two vCPUs far apart. A case measured then says nothing about the
 * software. So before each case the driver times a cache-line ping-pong
 * between the two CPUs (a few milliseconds) and, while it takes more than
 * SETTLED times the fastest seen in this run, waits 20 ms and tries again, for
 * at most BENCH_SETTLE seconds. If the machine is unsettled again right
 * after the case, the case is measured once more (after settling), and
 * only that second measurement is kept. What it waited and redid is
 * reported at the end ("settling"); a case's note says "unsettled" if it
 * started so, "measured twice" if it was redone.
 */
/* Fast state: 60-120 ns here; slow state: 270-650 ns. The fastest canary
 * is an outlier on the fast side, so the bar is twice it. */
#define SETTLED 2.0
static int opt_settle = 10;
static double canary_best, settle_waited;
static int settle_cases, settle_gave_up, settle_redone;

static void canary_side(volatile uint32_t *x, int side, uint32_t n, double *out_ns)
{
	pin(opt_cpu[side]);
	uint64_t t0 = now_ns(), spins = 0;
	for (uint32_t s = 0; s < n; s++) {
		if (side == SIDE_A)
			STORE(x, 2 * s + 1);
		while (LOAD(x) != 2 * s + (side == SIDE_A ? 2 : 1))
			if (!(++spins & 0xffff) && now_ns() - t0 > 1000000000) /* 1 s: give up */
				_exit(1);
		if (side == SIDE_B)
			STORE(x, 2 * s + 2);
	}
	if (out_ns)
		*out_ns = (double)(now_ns() - t0) / n;
	_exit(0);
}

/* ns per cache-line round trip between the two CPUs, or 0 on failure. */
static double canary(void)
{
	struct shared { _Alignas(64) uint32_t x; _Alignas(64) double ns; } *sh;
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 0;
	sh->ns = 0;
	pid_t pid[2];
	for (int s = 0; s < 2; s++) {
		pid[s] = fork();
		if (pid[s] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			canary_side(&sh->x, s, 20000, s == SIDE_A ? &sh->ns : NULL);
		}
	}
	int ok = 1;
	for (int s = 0; s < 2; s++) {
		int st;
		if (pid[s] < 0 || waitpid(pid[s], &st, 0) != pid[s] || !WIFEXITED(st) || WEXITSTATUS(st))
			ok = 0;
	}
	double ns = ok ? sh->ns : 0;
	munmap(sh, sizeof *sh);
	return ns;
}

/* Is the machine still settled (after a case)? */
static int settled_now(void)
{
	if (opt_settle <= 0 || canary_best == 0)
		return 1;
	double ns = canary();
	return ns > 0 && ns <= SETTLED * canary_best;
}

/* Wait for the machine to settle (see above); 1 if it did. */
static int settle(void)
{
	if (opt_settle <= 0)
		return 1;
	if (canary_best == 0) /* the first case: find the fast state's figure */
		for (int i = 0; i < 5; i++) {
			double ns = canary();
			if (ns > 0 && (canary_best == 0 || ns < canary_best))
				canary_best = ns;
		}
	uint64_t t0 = now_ns();
	for (int tries = 0;; tries++) {
		double ns = canary();
		if (ns > 0 && ns < canary_best)
			canary_best = ns;
		if (ns > 0 && ns <= SETTLED * canary_best) {
			if (tries) {
				settle_cases++;
				settle_waited += (double)(now_ns() - t0) / 1e9;
			}
			return 1;
		}
		if (interrupted || now_ns() - t0 >= (uint64_t)opt_settle * 1000000000u) {
			settle_cases++;
			settle_gave_up++;
			settle_waited += (double)(now_ns() - t0) / 1e9;
			return 0;
		}
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* One measurement of a case: prepare, settle, run both workers, clean up.
 * -1 if the case is skipped (said so already), else wait_workers()'s
 * verdict, with the control block in *ctp. */
static int attempt_case(const struct transport *tp, enum kind k, size_t size, int attempt,
			struct ctrl **ctp, struct bctx *c, int status[2])
{
	struct ctrl *ct = mmap(NULL, sizeof *ct, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ct == MAP_FAILED) {
		fprintf(stderr, "ipcbench: mmap: %s\n", strerror(errno));
		exit(1);
	}
	*c = (struct bctx){
		.tp = tp, .kind = k, .size = size, .max_msg = size, .ctrl = ct, .err = ct->err[0],
		.duplex = is_rtt(k),
	};
	snprintf(c->tag, sizeof c->tag, "ipcbench-%d-%d-%d", (int)getpid(), case_no, attempt);

	int r = tp->ops->prepare ? tp->ops->prepare(c) : 0;
	if (r < 0) {
		char why[ERRLEN + 64];
		snprintf(why, sizeof why, "%s", *c->err ? c->err : strerror(-r));
		if (tp->ops->cleanup)
			tp->ops->cleanup(c);
		fputc('\n', stderr);
		emit_skip(kind_names[k], tp->name, size, why);
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
	pid_t pid[2];
	status[0] = status[1] = 0;
	for (int s = 0; s < 2; s++) {
		pid[s] = fork();
		if (pid[s] == 0)
			worker(c, s);
		if (pid[s] < 0) {
			fprintf(stderr, "ipcbench: fork: %s\n", strerror(errno));
			exit(1);
		}
	}
	ct->pid[0] = pid[0];
	ct->pid[1] = pid[1];
	int bad = wait_workers(pid, status);
	if (tp->ops->cleanup)
		tp->ops->cleanup(c);
	*ctp = ct;
	return bad;
}

static void run_case(const struct transport *tp, enum kind k, size_t size)
{
	char id[128];
	snprintf(id, sizeof id, "%s/%s/%zu", kind_names[k], tp->name, size);
	if (!filtered(id))
		return;
	case_no++;
	if (listing) {
		printf("%s\n", id);
		return;
	}
	if (interrupted)
		return;
	fprintf(stderr, "[%3d/%d] %-14s %-18s %8zu ", case_no, case_total, kind_names[k], tp->name, size);

	/* A case during which the machine became unsettled (see settle())
	 * is measured once more. */
	struct ctrl *ct;
	struct bctx c;
	int bad, status[2];
	for (int attempt = 0;; attempt++) {
		bad = attempt_case(tp, k, size, attempt, &ct, &c, status);
		if (bad < 0)
			return;
		if (bad || attempt || interrupted || settled_now())
			break;
		fprintf(stderr, "(unsettled meanwhile: again) ");
		settle_redone++;
		munmap(ct, sizeof *ct);
	}

	if (bad) {
		char why[2 * ERRLEN + 64];
		snprintf(why, sizeof why, "%s%s%s%s%s",
			 bad == 2 ? "timeout" : bad == 3 ? "interrupted" : "",
			 *ct->err[0] ? (bad >= 2 ? "; A: " : "A: ") : "", ct->err[0],
			 *ct->err[1] ? (*ct->err[0] || bad >= 2 ? "; B: " : "B: ") : "", ct->err[1]);
		if (!*why)
			snprintf(why, sizeof why, "worker died (status %#x/%#x)", status[0], status[1]);
		fprintf(stderr, "FAILED\n  %s\n", why);
		fprintf(out, "%s\t%s\t%zu\t-\tfail\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n",
			kind_names[k], tp->name, size, why);
		n_failed++;
		munmap(ct, sizeof *ct);
		return;
	}
	double best = 0, worst = 0, fig[MAX_REPS];
	const char *note = *c.note ? c.note : "-";
	for (int i = 0; i < opt_reps; i++) {
		const struct rep_result *p = &ct->res[CALIB_ROUNDS + i];
		double mps = (double)p->n / p->seconds;
		double gbs = mps * (double)size / 1e9;
		if (is_rtt(k))
			fprintf(out, "%s\t%s\t%zu\t%d\tok\t%llu\t%.6f\t%.1f\t%.4f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%ld\t%s\n",
				kind_names[k], tp->name, size, i + 1, (unsigned long long)p->n, p->seconds, mps,
				gbs, p->mean_ns, p->p50_ns, p->p99_ns, p->p999_ns, p->min_ns, p->max_ns,
				p->preempted, note);
		else
			fprintf(out, "%s\t%s\t%zu\t%d\tok\t%llu\t%.6f\t%.1f\t%.4f\t-\t-\t-\t-\t-\t-\t%ld\t%s\n",
				kind_names[k], tp->name, size, i + 1, (unsigned long long)p->n, p->seconds, mps, gbs,
				p->preempted, note);
		fig[i] = is_rtt(k) ? p->p50_ns : (size >= 4096 ? gbs : mps / 1e6);
	}
	fflush(out);
	best = worst = fig[0];
	for (int i = 0; i < opt_reps; i++) {
		best = fig[i] < best ? fig[i] : best;
		worst = fig[i] > worst ? fig[i] : worst;
	}
	if (is_rtt(k))
		fprintf(stderr, "p50 %.0f..%.0f ns\n", best, worst);
	else if (size >= 4096)
		fprintf(stderr, "%.2f..%.2f GB/s\n", best, worst);
	else
		fprintf(stderr, "%.2f..%.2f Mmsg/s\n", best, worst);
	munmap(ct, sizeof *ct);
}

static void run_table(const struct transport *t)
{
	for (; t->name; t++)
		for (int k = 0; k < K_NKINDS; k++)
			if (t->kinds & KBIT(k))
				for (const size_t *s = sizes_of(k); *s; s++)
					if (!t->max_size || *s <= t->max_size)
						run_case(t, (enum kind)k, *s);
}

static int count_table(const struct transport *t)
{
	int n = 0;
	char id[128];
	for (; t->name; t++)
		for (int k = 0; k < K_NKINDS; k++)
			if (t->kinds & KBIT(k))
				for (const size_t *s = sizes_of(k); *s; s++) {
					snprintf(id, sizeof id, "%s/%s/%zu", kind_names[k], t->name, *s);
					n += filtered(id) && (!t->max_size || *s <= t->max_size);
				}
	return n;
}

static int any_iox_case(void)
{
	return iox_transports[0].name && count_table(iox_transports) > 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ipcbench [-r REPS] [-t MS] [-q] [-f FILTER] [-o FILE] [-l]\n"
		   "  see the comment at the top of bench/ipcbench.c and bench/RESULTS.md\n");
}

int main(int argc, char **argv)
{
	const char *outname = NULL;
	int opt;

	opt_reps = env_int("BENCH_REPS", 5);
	opt_rep_ms = env_int("BENCH_REP_MS", 200);
	opt_timeout = env_int("BENCH_CASE_TIMEOUT", -1);
	opt_filter = getenv("BENCH_FILTER");
	opt_settle = env_int("BENCH_SETTLE", 10);
	if (env_int("BENCH_QUICK", 0)) {
		opt_rep_ms = 20;
	}
	const char *cpus = getenv("BENCH_CPUS");
	if (cpus && sscanf(cpus, "%d,%d", &opt_cpu[0], &opt_cpu[1]) != 2) {
		fprintf(stderr, "ipcbench: BENCH_CPUS=%s: want two CPU numbers, \"0,1\"\n", cpus);
		return 2;
	}
	while ((opt = getopt(argc, argv, "r:t:qf:o:lh")) != -1) {
		switch (opt) {
		case 'r': opt_reps = atoi(optarg); break;
		case 't': opt_rep_ms = atoi(optarg); break;
		case 'q': opt_rep_ms = 20; break;
		case 'f': opt_filter = optarg; break;
		case 'o': outname = optarg; break;
		case 'l': listing = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (opt_reps < 1 || opt_reps > MAX_REPS || opt_rep_ms < 1) {
		fprintf(stderr, "ipcbench: repetitions 1..%d and a positive duration, please\n", MAX_REPS);
		return 2;
	}
	if (opt_timeout < 0)
		opt_timeout = 20 + 3 * (CALIB_ROUNDS + opt_reps) * opt_rep_ms / 1000;
	out = stdout;
	if (outname && !listing && !(out = fopen(outname, "w"))) {
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

	case_total = count_table(hw_transports) + count_table(kern_transports) +
		     count_table(pshm_transports) + count_table(iox_transports);
	if (!listing) {
		calibrate_tick();
		emit_meta();
		fprintf(out, "kind\ttransport\tsize\trep\tstatus\tn\tseconds\tmsgs_per_s\tgbytes_per_s"
			     "\tmean_ns\tp50_ns\tp99_ns\tp999_ns\tmin_ns\tmax_ns\tpreempted\tnote\n");
	}
	run_table(hw_transports);
	run_table(kern_transports);
	if (!pshm_transports[0].name && !listing)
		fprintf(out, "# pshm-channels: absent (libpshm.a has no pshm_chan_*; rebuild with the channels)\n");
	run_table(pshm_transports);
	if (listing)
		run_table(iox_transports);
	else if (any_iox_case() && !interrupted) {
		char why[256] = "";
		if (env_int("BENCH_IOX", 1) == 0)
			snprintf(why, sizeof why, "disabled by BENCH_IOX=0");
		if (!*why && iox_start(why, sizeof why) == 0) {
			fprintf(out, "# iceoryx: %s\n", why);
			run_table(iox_transports);
			iox_stop();
		} else {
			fprintf(out, "# iceoryx: absent (%s)\n", why);
			fprintf(stderr, "ipcbench: iceoryx cases skipped: %s\n", why);
		}
	} else if (!iox_transports[0].name) {
		fprintf(out, "# iceoryx: absent (not built: iceoryx_binding_c headers not found; make bench-deps)\n");
		fprintf(stderr, "ipcbench: iceoryx is not installed (make bench-deps); its cases are skipped\n");
	}
	if (!listing) {
		emit_load("load at end");
		if (opt_settle > 0 && canary_best > 0)
			fprintf(out, "# settling: cache-line round trip before each case, fastest %.0f ns; "
				     "%d case(s) waited for it to come within %.0fx, %.1f s in all%s; "
				     "%d case(s) measured again, the machine having become unsettled during the first try\n",
				canary_best, settle_cases, SETTLED, settle_waited,
				settle_gave_up ? " (some started unsettled: see their notes)" : "", settle_redone);
	}
	if (out != stdout)
		fclose(out);
	if (interrupted) {
		fprintf(stderr, "ipcbench: interrupted\n");
		return 128 + interrupted;
	}
	return n_failed ? 1 : 0;
}
