/*
 * stat.c — describe, list and find the users of segments in /dev/shm.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
 * ------------------------------------------------------------------------ */

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

/* A /proc entry we could not open: fine if the process is gone, otherwise
 * the scan has a blind spot (another user's process, hidepid...). */
static void open_failed(struct scan *sc)
{
	if (errno != ENOENT && errno != ESRCH)
		sc->complete = false;
}

static void scan_maps(struct scan *sc, pid_t pid, int pfd)
{
	int fd = openat(pfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		open_failed(sc);
		return;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		sc->complete = false;
		return;
	}
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(line, "%*x-%*x %*4s %*x %x:%x %llu", &maj, &min, &ino) == 3 && ino)
			note(sc, pid, (uint64_t)makedev(maj, min), ino, PSHM_USE_MAP);
		/* Skip the rest of an over-long line. */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
}

static void scan_fds(struct scan *sc, pid_t pid, int pfd)
{
	int dfd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		open_failed(sc);
		return;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		sc->complete = false;
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		/* stat() follows the magic link to the open file itself. */
		if (e->d_name[0] != '.' && fstatat(dfd, e->d_name, &st, 0) == 0)
			note(sc, pid, (uint64_t)st.st_dev, (uint64_t)st.st_ino, PSHM_USE_FD);
	}
	closedir(d);
}

static int scan_process(struct scan *sc, int procfd, const char *leaf)
{
	int pfd = openat(procfd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		open_failed(sc);
		return 0;
	}
	pid_t pid = (pid_t)strtol(leaf, NULL, 10);
	sc->n_hits = 0;
	scan_maps(sc, pid, pfd);
	scan_fds(sc, pid, pfd);
	int r = sc->n_hits ? sc->found(sc, pid, pfd) : 0;
	close(pfd);
	return r;
}

/* Scan every process in /proc. Pid 1 is always there unless /proc hides
 * processes (hidepid=invisible): then the scan is incomplete too. */
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
	while (r == 0 && (e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		saw_init |= !strcmp(e->d_name, "1");
		r = scan_process(sc, dirfd(proc), e->d_name);
	}
	closedir(proc);
	free(sc->hits);
	if (!saw_init)
		sc->complete = false;
	return r;
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

int pshm_seg_count_users(const struct pshm_stat *v, size_t n, long *counts, int *complete)
{
	if (n && (!v || !counts))
		return -EINVAL;
	struct scan sc = { .found = count_found, .arg = counts };
	sc.ids = n ? calloc(n, sizeof(*sc.ids)) : NULL;
	if (n && !sc.ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		counts[i] = S_ISREG(v[i].mode) ? 0 : -1;
		if (S_ISREG(v[i].mode))
			sc.ids[sc.n++] = (struct seg_id){ .dev = v[i].dev, .ino = v[i].ino, .idx = i };
	}
	int r = scan_proc(&sc);
	free(sc.ids);
	if (complete)
		*complete = sc.complete;
	return r;
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
	if (complete)
		*complete = sc.complete;
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
