/* SPDX-License-Identifier: MIT */
/*
 * machine.c — what ipcbench says about the machine it ran on (CPU, caches,
 * clock, load), and the settling before each case (below).
 */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pshm.h"

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
static void emit_caches(FILE *out)
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

void emit_load(FILE *out, const char *what)
{
	char la[128];
	if (read_line("/proc/loadavg", la, sizeof la))
		fprintf(out, "# %s: %s (/proc/loadavg)\n", what, la);
}

void emit_meta(FILE *out)
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
	emit_caches(out);
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
	emit_load(out, "load at start");
}

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
 * started so, "measured twice" if it was redone. A machine that other
 * work keeps busy is never settled: once the waits and repeated runs
 * have cost BENCH_SETTLE_BUDGET seconds (default 60) in all, the driver
 * stops waiting and repeating, so a run stays within its planned time.
 */
/* Fast state: 60-120 ns here; slow state: 270-650 ns. The fastest canary
 * is an outlier on the fast side, so the bar is twice it. */
#define SETTLED 2.0
int opt_settle = 2;
static double canary_best, settle_waited, settle_budget = 60;
static int settle_cases, settle_gave_up, settle_redone, settle_spent;

/* Whether the settling budget is spent (it then stays spent). */
static int spent(void)
{
	if (!settle_spent && settle_waited >= settle_budget)
		settle_spent = 1;
	return settle_spent;
}

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
			canary_side(&sh->x, s, 5000, s == SIDE_A ? &sh->ns : NULL);
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
int settled_now(void)
{
	if (opt_settle <= 0 || canary_best == 0 || spent())
		return 1;
	double ns = canary();
	return ns > 0 && ns <= SETTLED * canary_best;
}

/* Wait for the machine to settle (see above); 1 if it did. */
int settle(void)
{
	if (opt_settle <= 0 || spent())
		return 1;
	if (canary_best == 0) { /* the first case: find the fast state's figure */
		settle_budget = env_int("BENCH_SETTLE_BUDGET", 60);
		for (int i = 0; i < 5; i++) {
			double ns = canary();
			if (ns > 0 && (canary_best == 0 || ns < canary_best))
				canary_best = ns;
		}
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

void emit_settling(FILE *out)
{
	if (opt_settle > 0 && canary_best > 0)
		fprintf(out, "# settling: cache-line round trip before each case, fastest %.0f ns; "
			     "%d run(s) waited for it to come within %.0fx, %.1f s in all%s; "
			     "%d run(s) measured again, the machine having become unsettled during the first try\n",
			canary_best, settle_cases, SETTLED, settle_waited,
			settle_gave_up ? " (some started unsettled: see their notes)" : "", settle_redone);
	if (settle_spent)
		fprintf(out, "# settling budget: spent (%.0f s of waiting and repeated runs): from then on, "
			     "runs started without waiting and were not repeated (a busy machine)\n", settle_budget);
}

/* A run measured again: its first try counts against the budget. */
void settle_count_redo(double seconds)
{
	settle_redone++;
	settle_waited += seconds;
}
