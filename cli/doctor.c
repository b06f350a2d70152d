/* SPDX-License-Identifier: MIT */
/*
 * doctor.c — `pshm doctor`: what to check when shared memory misbehaves,
 * in one command. The checks here are about the system (the /dev/shm
 * mount, sysctls, namespaces, limits); what is about segments goes
 * through the library, or through `pshm gc` itself for the leftovers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define SHM_DIR "/dev/shm"
#define SMALL_SHM (256ull << 20) /* below this, /dev/shm is called small */
#define LOW_NOFILE 256
/* The inode numbers of the initial namespaces (the kernel's PROC_*_INIT_INO). */
#define INIT_PID_NS 0xEFFFFFFCul
#define INIT_IPC_NS 0xEFFFFFFFul

static const struct cli_optdoc doctor_opts[] = {
	{ CLI_O_JSON, "one JSON object: every check, its status and the facts" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd doctor_cmd = {
	"doctor", "[--json]",
	"Check what shared memory depends on, and say what to do about each\n"
	"problem: /dev/shm (a tmpfs? its size, free space and mount options),\n"
	"fs.protected_regular, systemd-logind's RemoveIPC, the PID and IPC\n"
	"namespaces (in a container? which processes can be seen), the limits\n"
	"on open files and locked memory, and the abandoned segments 'pshm gc'\n"
	"would remove. Exit status 0: no problem found; 1: at least one.\n",
	doctor_opts, false, 0, 0, 0, NULL,
};

enum level { OK, NOTE, PROBLEM };
static const char *const level_word[] = { "ok", "note", "problem" };

struct check {
	const char *id;
	enum level level;
	char msg[512];
	char fix[512];
};

#define MAX_CHECKS 16

struct doctor {
	struct check c[MAX_CHECKS];
	int n;
	/* facts, for --json */
	bool shm_exists, shm_tmpfs, shm_mount;
	char fstype[32], mnt_opts[256], fs_opts[256];
	uint64_t shm_size, shm_free;
	int protected_regular; /* -1: unknown */
	char remove_ipc[48];
	int pid_init, ipc_init; /* 1 initial, 0 not, -1 unknown */
	int pid_depth;          /* nested PID namespaces under the initial one, -1 unknown */
	char container[128];    /* why we think we are in one; "" if not */
	long procs, procs_seen;
	struct rlimit nofile, memlock;
	char *gc_json;          /* what `pshm gc --json` printed, or NULL */
	long leftovers, skipped;
	uint64_t leftover_bytes;
};

static struct check *add(struct doctor *d, const char *id, enum level lv, const char *fix,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct check *add(struct doctor *d, const char *id, enum level lv, const char *fix,
			 const char *fmt, ...)
{
	struct check *c = &d->c[d->n < MAX_CHECKS - 1 ? d->n++ : d->n];
	c->id = id;
	c->level = lv;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	snprintf(c->fix, sizeof(c->fix), "%s", fix ? fix : "");
	return c;
}

/* ---- /dev/shm ---------------------------------------------------------- */

/* mountinfo escapes spaces and such as \040: undo it in place. */
static void unoctal(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* The mount on /dev/shm from /proc/self/mountinfo (the last one: it hides
 * the others): its type, its per-mount and its filesystem options. */
static void shm_mountinfo(struct doctor *d)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char *save, *tok[6] = { NULL };
		tok[0] = strtok_r(line, " \n", &save);
		for (int i = 1; i < 6 && tok[i - 1]; i++)
			tok[i] = strtok_r(NULL, " \n", &save);
		if (!tok[5])
			continue;
		unoctal(tok[4]);
		if (strcmp(tok[4], SHM_DIR))
			continue;
		char *t;
		while ((t = strtok_r(NULL, " \n", &save)) && strcmp(t, "-"))
			;
		char *type = strtok_r(NULL, " \n", &save);
		strtok_r(NULL, " \n", &save); /* the source */
		char *fsopts = strtok_r(NULL, " \n", &save);
		d->shm_mount = true;
		snprintf(d->mnt_opts, sizeof(d->mnt_opts), "%s", tok[5]);
		snprintf(d->fstype, sizeof(d->fstype), "%s", type ? type : "");
		snprintf(d->fs_opts, sizeof(d->fs_opts), "%s", fsopts ? fsopts : "");
	}
	free(line);
	fclose(f);
}

static bool has_opt(const char *opts, const char *o)
{
	size_t n = strlen(o);
	for (const char *p = opts; (p = strstr(p, o)); p += n)
		if ((p == opts || p[-1] == ',') && (p[n] == ',' || p[n] == '\0' || p[n] == '='))
			return true;
	return false;
}

static const char *const fix_size =
	"give it more room: docker run --shm-size=1g (compose: shm_size: 1g; "
	"Kubernetes: an emptyDir with medium: Memory mounted on /dev/shm), or share "
	"the host's or another container's: --ipc=host, --ipc=container:NAME; on a "
	"host: mount -o remount,size=1g /dev/shm";

static void check_shm(struct doctor *d)
{
	char h[16], f[16];
	struct statfs sf;
	struct stat st;
	shm_mountinfo(d);
	if (lstat(SHM_DIR, &st) != 0 || !S_ISDIR(st.st_mode) || statfs(SHM_DIR, &sf) != 0) {
		add(d, "shm-fs", PROBLEM,
		    "mount one: mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm "
		    "(in a container: docker run --shm-size=1g, or --ipc=host)",
		    "/dev/shm is missing or not a directory: no named segment can exist");
		return;
	}
	d->shm_exists = true;
	d->shm_tmpfs = sf.f_type == TMPFS_MAGIC;
	if (!d->fstype[0])
		snprintf(d->fstype, sizeof(d->fstype), "%s", d->shm_tmpfs ? "tmpfs" : "unknown");
	if (!d->shm_tmpfs)
		add(d, "shm-fs", PROBLEM,
		    "mount a tmpfs on it: mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm",
		    "/dev/shm is on %s, not a tmpfs: segments are written to disk, slowly",
		    d->fstype);
	else
		add(d, "shm-fs", OK, NULL, "/dev/shm is a tmpfs%s", d->shm_mount ? "" :
		    " (not a mount of its own: it shares /dev's)");

	struct statvfs sv;
	if (statvfs(SHM_DIR, &sv) == 0) {
		d->shm_size = (uint64_t)sv.f_blocks * sv.f_frsize;
		d->shm_free = (uint64_t)sv.f_bavail * sv.f_frsize;
	}
	cli_human(d->shm_size, h, sizeof(h));
	cli_human(d->shm_free, f, sizeof(f));
	if (d->shm_size < SMALL_SHM)
		add(d, "shm-size", PROBLEM, fix_size,
		    "/dev/shm is small: %s (Docker's default is 64M); a segment, box or channel "
		    "larger than what is free fails to be created", h);
	else
		add(d, "shm-size", OK, NULL, "/dev/shm holds %s", h);
	if (d->shm_free < d->shm_size / 10)
		add(d, "shm-free", PROBLEM,
		    "'pshm ls -l' shows what takes the room, 'pshm gc' what is abandoned; "
		    "or make it larger (see shm-size)",
		    "/dev/shm is nearly full: %s free of %s", f, h);
	else
		add(d, "shm-free", OK, NULL, "%s free of %s", f, h);

	const char *o = d->mnt_opts;
	if (has_opt(o, "ro") || access(SHM_DIR, W_OK) != 0)
		add(d, "shm-mount", PROBLEM,
		    "mount it read-write with mode 1777: mount -o remount,rw /dev/shm; chmod 1777 /dev/shm",
		    "/dev/shm is not writable here (%s, mode %04o): no segment can be created",
		    o[0] ? o : "options unknown", (unsigned)(st.st_mode & 07777));
	else if ((st.st_mode & 07777) != 01777)
		add(d, "shm-mount", NOTE, "chmod 1777 /dev/shm, so that every user can create segments",
		    "/dev/shm has mode %04o, not 1777: not every user may create segments",
		    (unsigned)(st.st_mode & 07777));
	else
		add(d, "shm-mount", OK, NULL, "mounted %s%s%s%s", o[0] ? o : "(options unknown)",
		    d->fs_opts[0] ? " (" : "", d->fs_opts, d->fs_opts[0] ? ")" : "");
}

/* ---- the kernel and systemd ---------------------------------------------- */

static long read_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "re");
	long v;
	if (!f)
		return dflt;
	if (fscanf(f, "%ld", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

static void check_protected_regular(struct doctor *d)
{
	d->protected_regular = (int)read_long("/proc/sys/fs/protected_regular", -1);
	if (d->protected_regular < 0)
		add(d, "protected-regular", NOTE, NULL, "fs.protected_regular: unknown");
	else if (d->protected_regular == 0)
		add(d, "protected-regular", OK, NULL, "fs.protected_regular = 0");
	else
		add(d, "protected-regular", NOTE, NULL,
		    "fs.protected_regular = %d: shm_open(O_CREAT) of a segment another user "
		    "owns fails with EACCES, even for root (pshm opens existing segments "
		    "without O_CREAT, so it is not affected)", d->protected_regular);
}

/* The last "RemoveIPC=" in @path, into @out; true if found. */
static bool remove_ipc_in(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[256];
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		if (strncmp(p, "RemoveIPC", 9))
			continue;
		p += 9 + strspn(p + 9, " \t");
		if (*p++ != '=')
			continue;
		p += strspn(p, " \t");
		p[strcspn(p, " \t\r\n#")] = '\0';
		snprintf(out, len, "%s", p);
		found = true;
	}
	fclose(f);
	return found;
}

static bool truthy(const char *v)
{
	return !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
	       !strcmp(v, "1");
}

static void check_remove_ipc(struct doctor *d)
{
	char val[32] = "";
	bool found = remove_ipc_in("/etc/systemd/logind.conf", val, sizeof(val));
	glob_t g;
	/* Drop-ins, in the order systemd reads them (sorted by name). */
	if (glob("/etc/systemd/logind.conf.d/*.conf", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			found |= remove_ipc_in(g.gl_pathv[i], val, sizeof(val));
		globfree(&g);
	}
	struct stat st;
	bool logind = stat("/run/systemd/users", &st) == 0 || stat("/run/systemd/seats", &st) == 0;
	bool yes;
	if (found) {
		yes = truthy(val);
		snprintf(d->remove_ipc, sizeof(d->remove_ipc), "%s", yes ? "yes" : "no");
	} else if (logind) {
		yes = true; /* systemd's default */
		snprintf(d->remove_ipc, sizeof(d->remove_ipc), "yes (default)");
	} else {
		snprintf(d->remove_ipc, sizeof(d->remove_ipc), "unknown");
		add(d, "remove-ipc", NOTE, NULL,
		    "RemoveIPC: unknown (systemd-logind does not run here, or its "
		    "configuration cannot be read)");
		return;
	}
	if (!yes)
		add(d, "remove-ipc", OK, NULL, "systemd-logind: RemoveIPC=no");
	else if (geteuid() >= 1000 && geteuid() < 60000) /* a regular user (login.defs) */
		add(d, "remove-ipc", PROBLEM,
		    "set RemoveIPC=no in /etc/systemd/logind.conf.d/ipc.conf, run the programs "
		    "as a system user, or keep the user logged in: loginctl enable-linger USER",
		    "systemd-logind: RemoveIPC=%s: when your last session ends, your segments "
		    "in /dev/shm are removed, even those in use", d->remove_ipc);
	else
		add(d, "remove-ipc", NOTE, NULL,
		    "systemd-logind: RemoveIPC=%s: segments of regular users (uid 1000 to "
		    "59999) are removed when their last session ends; yours are not", d->remove_ipc);
}

/* ---- namespaces and processes ------------------------------------------ */

/* 1 if the namespace @ns of @pid ("self", "1") is the initial one, 0 if
 * not, -1 if it cannot be read; its inode in *@ino. */
static int ns_initial(const char *pid, const char *ns, unsigned long init, unsigned long *ino)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = '\0';
	char *b = strchr(link, '[');
	if (!b)
		return -1;
	*ino = strtoul(b + 1, NULL, 10);
	return *ino == init;
}

/* How many PID namespaces below the initial one: "NSpid:" lists our PID
 * in each, from the initial one down. */
static int pid_depth(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	char line[256];
	int depth = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6)) {
			depth = -1;
			for (char *s, *p = strtok_r(line + 6, " \t\n", &s); p;
			     p = strtok_r(NULL, " \t\n", &s))
				depth++;
		}
	fclose(f);
	return depth;
}

static void container_hints(struct doctor *d)
{
	struct stat st;
	const char *why = NULL;
	if (stat("/.dockerenv", &st) == 0)
		why = "/.dockerenv exists (Docker)";
	else if (stat("/run/.containerenv", &st) == 0)
		why = "/run/.containerenv exists (Podman)";
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512];
	static const char *const words[] = { "docker", "kubepods", "containerd", "libpod", "lxc" };
	while (!why && f && fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strstr(line, words[i])) {
				snprintf(d->container, sizeof(d->container), "cgroup names %s",
					 words[i]);
				break;
			}
	if (f)
		fclose(f);
	if (why)
		snprintf(d->container, sizeof(d->container), "%s", why);
	else if (!d->container[0] && d->pid_depth > 0)
		snprintf(d->container, sizeof(d->container), "a PID namespace of its own");
}

/* Count the processes in /proc, and those whose mappings can be read. */
static void count_procs(struct doctor *d)
{
	DIR *dir = opendir("/proc");
	d->procs = d->procs_seen = 0;
	if (!dir) {
		d->procs = -1;
		return;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char path[300], c;
		snprintf(path, sizeof(path), "/proc/%s/maps", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, &c, 1) : -1;
		int why = n < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		if (why == ENOENT || why == ESRCH)
			continue; /* gone meanwhile */
		d->procs++;
		d->procs_seen += n >= 0;
	}
	closedir(dir);
}

static void check_namespaces(struct doctor *d)
{
	unsigned long pid_self = 0, pid_1 = 0, ipc_self = 0, ipc_1 = 0;
	d->pid_init = ns_initial("self", "pid", INIT_PID_NS, &pid_self);
	d->ipc_init = ns_initial("self", "ipc", INIT_IPC_NS, &ipc_self);
	int p1 = ns_initial("1", "pid", INIT_PID_NS, &pid_1);
	ns_initial("1", "ipc", INIT_IPC_NS, &ipc_1);
	d->pid_depth = pid_depth();
	if (d->pid_depth > 0) /* NSpid shows only the levels this /proc sees */
		d->pid_init = 0;
	container_hints(d);
	count_procs(d);

	if (d->procs < 0) {
		add(d, "proc", PROBLEM, "mount it: mount -t proc proc /proc",
		    "/proc is not mounted: 'pshm who' and 'pshm gc' cannot see any process");
		return;
	}
	if (d->container[0])
		add(d, "container", NOTE,
		    "to share segments with the host or another container, share /dev/shm: "
		    "--ipc=host, --ipc=container:NAME, or the same volume mounted on /dev/shm "
		    "in both (-v NAME:/dev/shm)",
		    "in a container: %s", d->container);
	else
		add(d, "container", OK, NULL, "not in a container, as far as can be seen");
	if (p1 >= 0 && pid_self && pid_1 && pid_self != pid_1)
		add(d, "pid-ns", NOTE, "mount a /proc of this namespace: unshare --mount-proc",
		    "/proc is another PID namespace's than this process's: "
		    "'pshm who' shows its processes, not this namespace's");
	else if (d->pid_init == 0)
		add(d, "pid-ns", NOTE,
		    "to see them: docker run --pid=host or --pid=container:NAME",
		    "PID namespace of its own: processes of other namespaces that use the "
		    "same segments cannot be seen ('pshm who' does not list them, and "
		    "'pshm gc' skips what it cannot prove unused)");
	else
		add(d, "pid-ns", OK, NULL, "the initial PID namespace: every process can be seen");
	if (d->procs_seen < d->procs)
		add(d, "processes", NOTE,
		    geteuid() ? "run as root to see every process"
			      : "even root cannot inspect processes of another user namespace",
		    "%ld of %ld processes can be inspected: 'pshm who' and 'pshm gc' cannot "
		    "see the others' segments", d->procs_seen, d->procs);
	else
		add(d, "processes", OK, NULL, "all %ld processes can be inspected", d->procs);
	if (d->ipc_init == 0)
		add(d, "ipc-ns", NOTE, "--ipc=host or --ipc=container:NAME shares both",
		    "IPC namespace of its own (ipc:[%lu]%s): System V IPC and POSIX message "
		    "queues are private; /dev/shm is shared only if the same tmpfs is "
		    "mounted (see container)", ipc_self,
		    ipc_1 && ipc_1 == ipc_self ? ", as PID 1's" : "");
	else if (d->ipc_init == 1)
		add(d, "ipc-ns", OK, NULL, "the initial IPC namespace");
	else
		add(d, "ipc-ns", NOTE, NULL, "IPC namespace: unknown");
}

/* ---- limits ------------------------------------------------------------------ */

static const char *lim_str(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

static void check_limits(struct doctor *d)
{
	char s[32], h[32];
	getrlimit(RLIMIT_NOFILE, &d->nofile);
	getrlimit(RLIMIT_MEMLOCK, &d->memlock);
	if (d->nofile.rlim_cur < LOW_NOFILE)
		add(d, "nofile", PROBLEM,
		    "raise it: ulimit -n 1024 (docker run --ulimit nofile=1024:1024)",
		    "open files limit is %s (hard %s): every open segment, box or channel "
		    "takes one, and scanning /proc needs some", lim_str(d->nofile.rlim_cur, s, 32),
		    lim_str(d->nofile.rlim_max, h, 32));
	else
		add(d, "nofile", OK, NULL, "open files limit: %s (hard %s)",
		    lim_str(d->nofile.rlim_cur, s, 32), lim_str(d->nofile.rlim_max, h, 32));
	add(d, "memlock", d->memlock.rlim_cur == RLIM_INFINITY || d->memlock.rlim_cur >= (64 << 20)
			      ? OK : NOTE,
	    d->memlock.rlim_cur == RLIM_INFINITY ? NULL
						 : "programs that mlock() their segments need "
						   "more: ulimit -l, docker run --ulimit memlock=-1",
	    "locked memory limit: %s bytes (hard %s); pshm itself locks nothing",
	    lim_str(d->memlock.rlim_cur, s, 32), lim_str(d->memlock.rlim_max, h, 32));
}

/* ---- leftovers: what `pshm gc` would remove --------------------------------- */

static char *read_memfd(int fd)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!buf)
		return NULL;
	ssize_t got = pread(fd, buf, (size_t)n, 0);
	buf[got > 0 ? got : 0] = '\0';
	return buf;
}

/* Run `pshm gc --json` (which only lists) in a child, its output in memory. */
static int run_gc(char **out, char **err)
{
	int o = memfd_create("pshm-doctor-out", MFD_CLOEXEC);
	int e = memfd_create("pshm-doctor-err", MFD_CLOEXEC);
	int status = -1;
	*out = *err = NULL;
	if (o < 0 || e < 0)
		goto done;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { "gc", "--json", NULL };
		if (dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0)
			_exit(EXIT_FAIL);
		int r = cmd_gc(2, argv);
		fflush(stdout);
		fflush(stderr);
		_exit(r);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	*out = read_memfd(o);
	*err = read_memfd(e);
done:
	if (o >= 0)
		close(o);
	if (e >= 0)
		close(e);
	return status;
}

/* In gc's JSON array: how many objects, how many say they were skipped,
 * and the sum of their "allocated". */
static void gc_count(struct doctor *d, const char *s)
{
	const char *obj;
	for (const char *p = s; (obj = strstr(p, "{\"name\": ")); p = obj + 1) {
		const char *end = strchr(obj, '}');
		size_t len = end ? (size_t)(end - obj) : strlen(obj);
		char *one = strndup(obj, len);
		if (!one)
			return;
		if (strstr(one, "\"skipped\": true")) {
			d->skipped++;
		} else {
			d->leftovers++;
			const char *a = strstr(one, "\"allocated\": ");
			if (a)
				d->leftover_bytes += strtoull(a + 13, NULL, 10);
		}
		free(one);
	}
}

static void check_leftovers(struct doctor *d)
{
	char h[16];
	char *out, *err;
	if (!d->shm_exists)
		return;
	int r = run_gc(&out, &err);
	if (r == 0 && out) {
		size_t n = strlen(out);
		while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
			out[--n] = '\0';
		if (out[0] == '[' && n && out[n - 1] == ']') {
			d->gc_json = out;
			out = NULL;
			gc_count(d, d->gc_json);
		}
	}
	for (const char *p = err; p && (p = strstr(p, ": skipped")); p++)
		d->skipped++;
	if (!d->gc_json)
		add(d, "leftovers", NOTE, NULL, "could not ask 'pshm gc': %s",
		    err && err[0] ? err : "it failed");
	else if (d->leftovers)
		add(d, "leftovers", PROBLEM,
		    "'pshm gc' lists them, 'pshm gc --yes' removes them",
		    "%ld abandoned segment%s of yours (%s in memory), unused and unchanged "
		    "for an hour", d->leftovers, d->leftovers == 1 ? "" : "s",
		    cli_human(d->leftover_bytes, h, sizeof(h)));
	else
		add(d, "leftovers", OK, NULL, "no abandoned segment of yours");
	if (d->skipped)
		add(d, "gc-skipped", NOTE, "'pshm gc' says why for each",
		    "%ld old segment%s could not be proven unused", d->skipped,
		    d->skipped == 1 ? "" : "s");
	free(out);
	free(err);
}

/* ---- output -------------------------------------------------------------- */

static void print_text(const struct doctor *d)
{
	for (int i = 0; i < d->n; i++) {
		const struct check *c = &d->c[i];
		printf("%-8s %-18s %s\n", level_word[c->level], c->id, c->msg);
		if (c->fix[0] && c->level != OK)
			printf("%-8s %-18s fix: %s\n", "", "", c->fix);
	}
}

static void json_key_str(const char *key, const char *v, bool comma)
{
	printf("  \"%s\": ", key);
	cli_json_str(v);
	printf(comma ? ",\n" : "\n");
}

static void json_rlim(const char *key, const struct rlimit *r)
{
	printf("  \"%s\": [", key);
	for (int i = 0; i < 2; i++) {
		rlim_t v = i ? r->rlim_max : r->rlim_cur;
		if (v == RLIM_INFINITY)
			printf("%snull", i ? ", " : "");
		else
			printf("%s%llu", i ? ", " : "", (unsigned long long)v);
	}
	printf("],\n");
}

static const char *tri(int v)
{
	return v < 0 ? "null" : v ? "true" : "false";
}

static void print_json(const struct doctor *d, int problems)
{
	printf("{\n  \"problems\": %d,\n  \"checks\": [", problems);
	for (int i = 0; i < d->n; i++) {
		const struct check *c = &d->c[i];
		printf("%s\n    {\"check\": ", i ? "," : "");
		cli_json_str(c->id);
		printf(", \"status\": \"%s\", \"message\": ", level_word[c->level]);
		cli_json_str(c->msg);
		printf(", \"fix\": ");
		if (c->fix[0] && c->level != OK)
			cli_json_str(c->fix);
		else
			printf("null");
		printf("}");
	}
	printf("\n  ],\n  \"shm_tmpfs\": %s,\n", d->shm_exists ? tri(d->shm_tmpfs) : "null");
	json_key_str("shm_fstype", d->fstype, true);
	json_key_str("shm_mount_options", d->mnt_opts, true);
	json_key_str("shm_fs_options", d->fs_opts, true);
	printf("  \"shm_size\": %" PRIu64 ",\n  \"shm_free\": %" PRIu64 ",\n", d->shm_size,
	       d->shm_free);
	if (d->protected_regular < 0)
		printf("  \"protected_regular\": null,\n");
	else
		printf("  \"protected_regular\": %d,\n", d->protected_regular);
	json_key_str("remove_ipc", d->remove_ipc, true);
	printf("  \"pid_ns_initial\": %s,\n  \"ipc_ns_initial\": %s,\n", tri(d->pid_init),
	       tri(d->ipc_init));
	printf("  \"container\": ");
	if (d->container[0])
		cli_json_str(d->container);
	else
		printf("null");
	printf(",\n  \"processes\": %ld,\n  \"processes_inspectable\": %ld,\n", d->procs,
	       d->procs_seen);
	json_rlim("nofile", &d->nofile);
	json_rlim("memlock", &d->memlock);
	printf("  \"leftovers\": %s\n}\n", d->gc_json ? d->gc_json : "null");
}

int cmd_doctor(int argc, char **argv)
{
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&doctor_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	struct doctor *d = calloc(1, sizeof(*d));
	if (!d)
		return cli_fail("doctor", "/dev/shm", -ENOMEM);
	check_shm(d);
	check_protected_regular(d);
	check_remove_ipc(d);
	check_namespaces(d);
	check_limits(d);
	check_leftovers(d);
	int problems = 0;
	for (int i = 0; i < d->n; i++)
		problems += d->c[i].level == PROBLEM;
	if (on[CLI_O_JSON])
		print_json(d, problems);
	else
		print_text(d);
	if (!on[CLI_O_JSON] && problems)
		printf("%d problem%s found\n", problems, problems == 1 ? "" : "s");
	else if (!on[CLI_O_JSON])
		printf("no problem found\n");
	free(d->gc_json);
	free(d);
	r = cli_finish_stdout("doctor", "/dev/shm");
	return r ? r : problems ? EXIT_FAIL : EXIT_OK;
}
