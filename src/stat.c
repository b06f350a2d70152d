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

int pshm_seg_stat(const char *name, struct pshm_stat *st)
{
	if (!st)
		return pshm_name_check(name) < 0 ? pshm_name_check(name) : -EINVAL;
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

/* Does a line of /proc/PID/maps describe a mapping of (dev, ino)? */
static bool maps_line_is(const char *line, dev_t dev, ino_t ino)
{
	unsigned maj, min;
	unsigned long long inode;
	if (sscanf(line, "%*x-%*x %*4s %*x %x:%x %llu", &maj, &min, &inode) != 3)
		return false;
	return inode == (unsigned long long)ino && makedev(maj, min) == dev;
}

static bool maps_has(int pfd, dev_t dev, ino_t ino)
{
	int fd = openat(pfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return false;
	}
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		found = maps_line_is(line, dev, ino);
		/* Skip the rest of an over-long line. */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
	return found;
}

static bool fds_have(int pfd, dev_t dev, ino_t ino)
{
	int dfd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return false;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return false;
	}
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		/* stat() follows the magic link to the open file itself. */
		if (fstatat(dfd, e->d_name, &st, 0) == 0)
			found = st.st_ino == ino && st.st_dev == dev;
	}
	closedir(d);
	return found;
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

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const struct pshm_user *)a)->pid, y = ((const struct pshm_user *)b)->pid;
	return (x > y) - (x < y);
}

ssize_t pshm_seg_users(const char *name, struct pshm_user **out)
{
	int r = pshm_name_check(name);
	if (r < 0)
		return r;
	if (!out)
		return -EINVAL;
	*out = NULL;
	struct stat st;
	int dfd = pshm__lookup(name, &st);
	if (dfd < 0)
		return dfd;
	close(dfd);
	DIR *proc = opendir("/proc");
	if (!proc)
		return -errno;
	struct pshm_user *v = NULL;
	size_t n = 0, cap = 0;
	ssize_t ret = 0;
	struct dirent *e;
	while ((e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		int pfd = openat(dirfd(proc), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		unsigned how = (maps_has(pfd, st.st_dev, st.st_ino) ? PSHM_USE_MAP : 0) |
			       (fds_have(pfd, st.st_dev, st.st_ino) ? PSHM_USE_FD : 0);
		if (how && n == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct pshm_user *nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				close(pfd);
				ret = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (how) {
			v[n].pid = (pid_t)strtol(e->d_name, NULL, 10);
			v[n].how = how;
			read_comm(pfd, v[n].comm, sizeof(v[n].comm));
			n++;
		}
		close(pfd);
	}
	closedir(proc);
	if (ret < 0 || n == 0) {
		free(v);
		return ret;
	}
	qsort(v, n, sizeof(*v), by_pid);
	*out = v;
	return (ssize_t)n;
}
