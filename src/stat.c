/* SPDX-License-Identifier: MIT */
/*
 * stat.c — describe, list and find the users of segments in /dev/shm.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

unsigned pshm__kind_of_fd(int fd)
{
	uint64_t magic = 0;
	if (pread(fd, &magic, sizeof(magic), 0) != (ssize_t)sizeof(magic))
		return PSHM_KIND_RAW;
	if (magic == PSHM_BOX_MAGIC)
		return PSHM_KIND_BOX;
	if (magic == PSHM_CHAN_MAGIC)
		return PSHM_KIND_CHAN;
	if (magic == PSHM_TOPIC_MAGIC)
		return PSHM_KIND_TOPIC;
	if (magic == PSHM_SERVICE_MAGIC)
		return PSHM_KIND_SERVICE;
	return PSHM_KIND_RAW;
}

static void fill(struct pshm_stat *ps, const char *leaf, const struct stat *st)
{
	memset(ps, 0, sizeof(*ps));
	ps->name[0] = '/';
	snprintf(ps->name + 1, sizeof(ps->name) - 1, "%s", leaf);
	ps->size = (uint64_t)st->st_size;
	ps->allocated = (uint64_t)st->st_blocks * 512;
	ps->uid = st->st_uid;
	ps->gid = st->st_gid;
	ps->mode = st->st_mode;
	ps->atime_sec = st->st_atim.tv_sec;
	ps->atime_nsec = st->st_atim.tv_nsec;
	ps->mtime_sec = st->st_mtim.tv_sec;
	ps->mtime_nsec = st->st_mtim.tv_nsec;
	ps->ctime_sec = st->st_ctim.tv_sec;
	ps->ctime_nsec = st->st_ctim.tv_nsec;
	ps->kind = S_ISREG(st->st_mode) ? PSHM_KIND_RAW : PSHM_KIND_OTHER;
	ps->dev = (uint64_t)st->st_dev;
	ps->ino = (uint64_t)st->st_ino;
}

/* Describe @leaf (lstat'ed into @st) relative to @dfd; peek at a regular
 * file's first bytes to tell its kind (a file we may not read stays "raw"). */
static void describe_at(int dfd, const char *leaf, const struct stat *st, struct pshm_stat *ps)
{
	fill(ps, leaf, st);
	if (!S_ISREG(st->st_mode))
		return;
	int fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0) {
		struct stat st2;
		if (fstat(fd, &st2) == 0 && S_ISREG(st2.st_mode))
			ps->kind = pshm__kind_of_fd(fd);
		close(fd);
	}
}

/* A NULL result pointer: a bad name still says so first. */
static int null_arg(const char *name)
{
	int r = pshm_name_check(name);
	return r < 0 ? r : -EINVAL;
}

int pshm_seg_stat(const char *name, struct pshm_stat *st)
{
	if (!st)
		return null_arg(name);
	struct stat sb;
	int dfd = pshm__lookup(name, &sb);
	if (dfd < 0)
		return dfd;
	describe_at(dfd, pshm__leaf(name), &sb, st);
	close(dfd);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct pshm_stat *)a)->name, ((const struct pshm_stat *)b)->name);
}

ssize_t pshm_seg_list(struct pshm_stat **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	int dfd = open(PSHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		return r;
	}
	struct pshm_stat *v = NULL;
	size_t n = 0, cap = 0;
	ssize_t r = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *leaf = e->d_name;
		if (!strcmp(leaf, ".") || !strcmp(leaf, "..") || !strncmp(leaf, "sem.", 4))
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct pshm_stat *nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		/* An entry removed since readdir() saw it is simply skipped. */
		struct stat sb;
		if (fstatat(dfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			describe_at(dfd, leaf, &sb, &v[n++]);
	}
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), by_name);
	else {
		free(v);
		v = NULL;
	}
	*out = v;
	return (ssize_t)n;
}


/* ------------------------------------------------------------------------
 * Who uses which segment: one pass over /proc for any number of segments.
 *
 * A process is inspected through /proc/PID/{maps,fd} and, for each of its
 * threads, /proc/PID/task/TID/{maps,fd}: a process whose main thread has
 * exited (pthread_exit()) shows an empty maps and fd under /proc/PID, and a
 * thread made with clone() without CLONE_FILES has a descriptor table of
 * its own. Whatever cannot be read makes the scan incomplete: the process
 * is a blind spot, and its user ids (from /proc/PID/status, which anyone
 * may read) say which segments it could be using unseen. Running out of
 * descriptors or memory is not a blind spot but a failed scan.
 * ------------------------------------------------------------------------ */

/* The inode of the initial PID namespace (PROC_PID_INIT_INO, fixed by the
 * kernel): in any other, processes outside the namespace are invisible. */
#define PID_NS_INIT_INO 0xEFFFFFFCu

/* A segment looked for, by identity; @idx is its place in the caller's
 * array. @pid and @how belong to the process being scanned. */
struct seg_id {
	uint64_t dev, ino;
	size_t idx;
	pid_t pid;
	unsigned how;
};

struct scan {
	struct seg_id *ids; /* sorted by (dev, ino) */
	size_t n;
	size_t *hits;       /* ids used by the process being scanned */
	size_t n_hits;
	bool complete;
	int err;            /* a failed scan: -EMFILE, -ENFILE, -ENOMEM */
	bool blind;         /* the process being scanned could not be read */
	bool unknown;       /* a process we could not identify was missed */
	uid_t *hidden;      /* user ids of the processes that were missed */
	size_t n_hidden, cap_hidden;
	/* Called for each process that uses at least one of the segments. */
	int (*found)(struct scan *sc, pid_t pid, int pfd);
	void *arg;
};

static int by_id(const void *a, const void *b)
{
	const struct seg_id *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return (x->ino > y->ino) - (x->ino < y->ino);
}

/* Record that process @pid uses (dev, ino) as @how, if it is one we want. */
static void note(struct scan *sc, pid_t pid, uint64_t dev, uint64_t ino, unsigned how)
{
	struct seg_id key = { .dev = dev, .ino = ino };
	struct seg_id *id = bsearch(&key, sc->ids, sc->n, sizeof(key), by_id);
	if (!id)
		return;
	if (id->pid != pid) {
		id->pid = pid;
		id->how = 0;
		sc->hits[sc->n_hits++] = (size_t)(id - sc->ids);
	}
	id->how |= how;
}

/* Out of descriptors or memory: the scan as a whole failed. */
static bool out_of_resources(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM;
}

/* A /proc entry we could not open or read (errno says why): fine if the
 * process or thread is gone, a failed scan if we ran out of descriptors,
 * otherwise a blind spot (another user's or a non-dumpable process,
 * hidepid, a /proc of another namespace...). */
static void unreadable(struct scan *sc)
{
	int e = errno;
	if (e == ENOENT || e == ESRCH)
		return;
	if (out_of_resources(e)) {
		if (!sc->err)
			sc->err = -e;
		return;
	}
	sc->blind = true;
}

/* Scan one maps file of @pid: returns its number of lines, or -1 if it
 * could not be read. */
static long scan_maps(struct scan *sc, pid_t pid, int dfd)
{
	int fd = openat(dfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		unreadable(sc);
		return -1;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		unreadable(sc);
		close(fd);
		return -1;
	}
	char line[512];
	long lines = 0;
	errno = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		lines++;
		if (sscanf(line, "%*x-%*x %*4s %*x %x:%x %llu", &maj, &min, &ino) == 3 && ino)
			note(sc, pid, (uint64_t)makedev(maj, min), ino, PSHM_USE_MAP);
		/* Skip the rest of an over-long line. */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	if (ferror(f)) {
		if (!errno)
			errno = EIO;
		unreadable(sc);
		lines = -1;
	}
	fclose(f);
	return lines;
}

/* Scan one fd directory of @pid: 0, or -1 if it could not be read. */
static int scan_fds(struct scan *sc, pid_t pid, int dir)
{
	int dfd = openat(dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		unreadable(sc);
		return -1;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		unreadable(sc);
		close(dfd);
		return -1;
	}
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		struct stat st;
		/* stat() follows the magic link to the open file itself. */
		if (e->d_name[0] != '.' && fstatat(dfd, e->d_name, &st, 0) == 0)
			note(sc, pid, (uint64_t)st.st_dev, (uint64_t)st.st_ino, PSHM_USE_FD);
		else if (e->d_name[0] != '.' && out_of_resources(errno))
			unreadable(sc);
		errno = 0;
	}
	if (errno)
		unreadable(sc);
	closedir(d);
	return 0;
}

/* Do threads @a and @b share one descriptor table? (kcmp(2); "no" when it
 * cannot tell, so that the table is scanned.) */
static bool same_files(pid_t a, pid_t b)
{
#ifdef SYS_kcmp
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0) == 0;
#else
	(void)a;
	(void)b;
	return false;
#endif
}

/* The threads of @pid other than the main one: their maps when the main
 * thread's is empty (it exited; all threads share one address space), and
 * their descriptor tables when not shared with one already scanned. */
static void scan_tasks(struct scan *sc, pid_t pid, int pfd, bool need_maps, pid_t fd_rep)
{
	int tfd = openat(pfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		unreadable(sc);
		return;
	}
	DIR *d = fdopendir(tfd);
	if (!d) {
		unreadable(sc);
		close(tfd);
		return;
	}
	struct dirent *e;
	while (!sc->err && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
		if (tid == pid)
			continue;
		bool maps = need_maps;
		bool fds = !fd_rep || !same_files(fd_rep, tid);
		if (!maps && !fds)
			continue;
		int dfd = openat(tfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			unreadable(sc);
			continue;
		}
		if (maps && scan_maps(sc, pid, dfd) > 0)
			need_maps = false;
		if (fds && scan_fds(sc, pid, dfd) == 0 && !fd_rep)
			fd_rep = tid;
		close(dfd);
	}
	closedir(d);
}

/* Record the user ids of a process we could not inspect, from
 * /proc/PID/status (readable by anyone); unknown if that fails too. */
static void note_hidden(struct scan *sc, int pfd)
{
	char buf[4096];
	int fd = openat(pfd, "status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	unsigned long u[4];
	const char *l = NULL;
	if (n > 0) {
		buf[n] = '\0';
		l = strstr(buf, "\nUid:");
	}
	if (!l || sscanf(l + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) != 4) {
		sc->unknown = true;
		return;
	}
	for (int i = 0; i < 4; i++) {
		bool seen = false;
		for (size_t k = 0; k < sc->n_hidden && !seen; k++)
			seen = sc->hidden[k] == (uid_t)u[i];
		if (seen)
			continue;
		if (sc->n_hidden == sc->cap_hidden) {
			size_t ncap = sc->cap_hidden ? 2 * sc->cap_hidden : 8;
			uid_t *nv = realloc(sc->hidden, ncap * sizeof(*nv));
			if (!nv) {
				sc->err = -ENOMEM;
				return;
			}
			sc->hidden = nv;
			sc->cap_hidden = ncap;
		}
		sc->hidden[sc->n_hidden++] = (uid_t)u[i];
	}
}

static int scan_process(struct scan *sc, int procfd, const char *leaf)
{
	int pfd = openat(procfd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		sc->blind = false;
		unreadable(sc);
		if (sc->blind) {
			sc->complete = false;
			sc->unknown = true;
		}
		return sc->err;
	}
	pid_t pid = (pid_t)strtol(leaf, NULL, 10);
	sc->n_hits = 0;
	sc->blind = false;
	long lines = scan_maps(sc, pid, pfd);
	int fds = scan_fds(sc, pid, pfd);
	if (!sc->err)
		scan_tasks(sc, pid, pfd, lines == 0, fds == 0 ? pid : 0);
	if (sc->blind && !sc->err) {
		sc->complete = false;
		note_hidden(sc, pfd);
	}
	int r = sc->err;
	if (!r && sc->n_hits)
		r = sc->found(sc, pid, pfd);
	close(pfd);
	return r;
}

/* Does /proc show the initial PID namespace, the one every process is in?
 * Elsewhere (a container) processes outside ours cannot be seen. */
static bool initial_pid_ns(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == PID_NS_INIT_INO;
}

/* Scan every process in /proc. Pid 1 is always there unless /proc hides
 * processes (hidepid=invisible): then the scan is incomplete too, and so
 * it is outside the initial PID namespace. */
static int scan_proc(struct scan *sc)
{
	sc->complete = true;
	if (sc->n == 0)
		return 0;
	qsort(sc->ids, sc->n, sizeof(*sc->ids), by_id);
	sc->hits = malloc(sc->n * sizeof(*sc->hits));
	DIR *proc = sc->hits ? opendir("/proc") : NULL;
	if (!proc) {
		int r = sc->hits ? -errno : -ENOMEM;
		free(sc->hits);
		return r;
	}
	bool saw_init = false;
	int r = 0;
	struct dirent *e;
	errno = 0;
	while (r == 0 && (e = readdir(proc))) {
		if (isdigit((unsigned char)e->d_name[0])) {
			saw_init |= !strcmp(e->d_name, "1");
			r = scan_process(sc, dirfd(proc), e->d_name);
		}
		errno = 0;
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(proc);
	free(sc->hits);
	if (!saw_init || !initial_pid_ns()) {
		sc->complete = false;
		sc->unknown = true;
	}
	return r;
}

/* Could a process that the scan missed be using a segment owned by @uid?
 * Yes if one ran as @uid (any of its user ids) or could not be identified. */
static bool maybe_unseen(const struct scan *sc, uid_t uid)
{
	if (sc->unknown)
		return true;
	for (size_t k = 0; k < sc->n_hidden; k++)
		if (sc->hidden[k] == uid)
			return true;
	return false;
}

static int count_found(struct scan *sc, pid_t pid, int pfd)
{
	(void)pid;
	(void)pfd;
	long *counts = sc->arg;
	for (size_t i = 0; i < sc->n_hits; i++)
		counts[sc->ids[sc->hits[i]].idx]++;
	return 0;
}

int pshm_seg_scan(const struct pshm_stat *v, size_t n, long *counts, int *unseen, int *complete)
{
	if (complete)
		*complete = 0;
	if (n && (!v || !counts))
		return -EINVAL;
	struct scan sc = { .found = count_found, .arg = counts };
	sc.ids = n ? calloc(n, sizeof(*sc.ids)) : NULL;
	if (n && !sc.ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		counts[i] = S_ISREG(v[i].mode) ? 0 : -1;
		if (unseen)
			unseen[i] = 1;
		if (S_ISREG(v[i].mode))
			sc.ids[sc.n++] = (struct seg_id){ .dev = v[i].dev, .ino = v[i].ino, .idx = i };
	}
	int r = scan_proc(&sc);
	for (size_t i = 0; unseen && r == 0 && i < n; i++)
		unseen[i] = S_ISREG(v[i].mode) && maybe_unseen(&sc, v[i].uid);
	for (size_t i = 0; r < 0 && i < n; i++)
		counts[i] = -1;
	free(sc.ids);
	free(sc.hidden);
	if (complete)
		*complete = r == 0 && sc.complete;
	return r;
}

int pshm_seg_count_users(const struct pshm_stat *v, size_t n, long *counts, int *complete)
{
	return pshm_seg_scan(v, n, counts, NULL, complete);
}

static void read_comm(int pfd, char *buf, size_t len)
{
	snprintf(buf, len, "?");
	int fd = openat(pfd, "comm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

struct user_list {
	struct pshm_user *v;
	size_t n, cap;
};

static int list_found(struct scan *sc, pid_t pid, int pfd)
{
	struct user_list *l = sc->arg;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? 2 * l->cap : 8;
		struct pshm_user *nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	struct pshm_user *u = &l->v[l->n++];
	u->pid = pid;
	u->how = sc->ids[0].how;
	read_comm(pfd, u->comm, sizeof(u->comm));
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const struct pshm_user *)a)->pid, y = ((const struct pshm_user *)b)->pid;
	return (x > y) - (x < y);
}

ssize_t pshm_seg_users(const char *name, struct pshm_user **out, int *complete)
{
	struct stat st;
	if (complete)
		*complete = 0;
	if (!out)
		return null_arg(name);
	*out = NULL;
	int dfd = pshm__lookup(name, &st);
	if (dfd < 0)
		return dfd;
	close(dfd);
	struct seg_id id = { .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino };
	struct user_list l = { 0 };
	struct scan sc = { .ids = &id, .n = 1, .found = list_found, .arg = &l };
	int r = scan_proc(&sc);
	free(sc.hidden);
	if (complete)
		*complete = r == 0 && sc.complete;
	if (r < 0 || l.n == 0) {
		free(l.v);
		return r;
	}
	qsort(l.v, l.n, sizeof(*l.v), by_pid);
	*out = l.v;
	return (ssize_t)l.n;
}

int pshm_seg_kind(const pshm_seg *seg)
{
	if (!seg || seg->fd < 0)
		return -EINVAL;
	return (int)pshm__kind_of_fd(seg->fd);
}
