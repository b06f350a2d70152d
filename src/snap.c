/* SPDX-License-Identifier: MIT */
/*
 * snap.c — sealed snapshots: immutable data handed over as a memfd.
 *
 * Publisher: memfd_create(MFD_ALLOW_SEALING), write, seal it against
 * write, shrink, grow and further sealing, then listen on a UNIX socket
 * and send the descriptor (SCM_RIGHTS) to whoever connects. Reader: check
 * the directory, connect, check the server's uid (SO_PEERCRED), receive
 * one descriptor, check it is a regular file of the announced size with
 * all four seals, reopen it read-only and map it.
 *
 * Paths: the directory is opened once (O_NOFOLLOW) and checked on its
 * descriptor; the socket is then named through /proc/self/fd/DIRFD/NAME,
 * so a directory swapped after the check is never used, and long
 * directory names do not count against sockaddr_un's 108 bytes.
 *
 * Wire format, one message per connection: "PSHMSNP1" (8 bytes), the size
 * (u64, host order), with the descriptor attached.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SNAP_MAGIC "PSHMSNP1"
#define SEALS_ALL (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define FETCH_WAIT_MS 5000

struct pshm_snap {
	int lfd;      /* listening socket */
	int dfd;      /* the directory, held so close() unlinks in the right place */
	int memfd;    /* the sealed data */
	uint64_t size;
	dev_t sock_dev; /* the socket file we bound, so we never remove another */
	ino_t sock_ino;
	char leaf[PSHM_NAME_MAX + 1];
	char path[PATH_MAX + PSHM_NAME_MAX + 2];
};

struct wire {
	char magic[8];
	uint64_t size;
};

int pshm_snap_dir(uid_t uid, int shared, char *buf, size_t len)
{
	bool self = uid == PSHM_SNAP_SELF || uid == geteuid();
	if (uid == PSHM_SNAP_SELF)
		uid = geteuid();
	const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
	int n;
	if (self && !shared && xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/pshm", xdg);
	else
		n = snprintf(buf, len, "/tmp/pshm-%u", (unsigned)uid);
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

/* Is the directory on @dfd safe to hold sockets of @uid? It must be a real
 * directory (not a symlink: opened O_NOFOLLOW), owned by @uid or root, and
 * writable by nobody else, so nobody else can plant or swap a socket. */
static int dir_safe(int dfd, uid_t uid)
{
	struct stat st;
	if (fstat(dfd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != uid && st.st_uid != 0)
		return -EPERM;
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return -EPERM;
	return 0;
}

/* Open the socket directory @path and check it for @uid. @how: O_RDONLY
 * for the publisher, who changes its mode (fchmod() needs a real open);
 * O_PATH for a fetcher, who only needs to traverse it: a shared
 * directory is 0711, which another user may search but not read, and
 * fstat(), *at() calls and /proc/self/fd/N/leaf all work on an O_PATH
 * descriptor. */
static int open_dir(const char *path, uid_t uid, int how)
{
	int dfd = open(path, how | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno; /* before lstat() changes it */
		struct stat st;
		/* A symlink gives ELOOP or ENOTDIR: never followed, and unsafe. */
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return -EPERM;
		return -e;
	}
	int r = dir_safe(dfd, uid);
	if (r < 0) {
		close(dfd);
		return r;
	}
	return dfd;
}

/* sockaddr_un for @leaf in the directory open on @dfd. */
static int sock_addr(int dfd, const char *leaf, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", dfd, leaf);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

/* ---- publishing ------------------------------------------------------------ */

static int make_memfd(const char *leaf, const void *data, size_t len)
{
	char label[64];
	snprintf(label, sizeof(label), "pshm-snap:%.50s", leaf);
	int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	int r = len > (size_t)INT64_MAX ? -EFBIG : pshm__err(ftruncate(fd, (off_t)len));
	if (r == 0)
		r = pshm__pwrite_all(fd, data, len, 0, NULL);
	/* After this, nobody can change the bytes, the size or the seals. */
	if (r == 0)
		r = pshm__err(fcntl(fd, F_ADD_SEALS, SEALS_ALL));
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Open (creating if needed) the publisher's directory and check it. */
static int publisher_dir(const char *dir, mode_t mode)
{
	bool shared = mode & 077;
	char def[PATH_MAX];
	if (!dir) {
		if (pshm_snap_dir(PSHM_SNAP_SELF, shared, def, sizeof(def)) < 0)
			return -ENAMETOOLONG;
		dir = def;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	int dfd = open_dir(dir, geteuid(), O_RDONLY);
	if (dfd < 0)
		return dfd;
	struct stat st;
	/* Others need to traverse the directory to reach a shared socket. */
	if (shared && fstat(dfd, &st) == 0 && (st.st_mode & 011) != 011 && st.st_uid == geteuid())
		fchmod(dfd, (st.st_mode & 07777) | 011);
	return dfd;
}

/* A UNIX stream socket whose connect() gives up after @ms (it would wait
 * for ever while the listener's backlog is full): EAGAIN then. */
static int client_socket(int ms)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Is a live server listening at @sa? */
static bool listening(const struct sockaddr_un *sa)
{
	int fd = client_socket(100);
	if (fd < 0)
		return false;
	bool live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
		    errno != ECONNREFUSED;
	close(fd);
	return live;
}

/* Bind @fd at @sa; replace a socket left by a dead publisher, never
 * anything else. */
static int bind_sock(int fd, int dfd, const char *leaf, const struct sockaddr_un *sa)
{
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	struct stat st;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSUP;
	if (listening(sa))
		return -EEXIST;
	if (unlinkat(dfd, leaf, 0) < 0 && errno != ENOENT)
		return -errno;
	return pshm__err(bind(fd, (const struct sockaddr *)sa, sizeof(*sa)));
}

static int listen_at(pshm_snap *s, mode_t mode)
{
	struct sockaddr_un sa;
	int r = sock_addr(s->dfd, s->leaf, &sa);
	if (r < 0)
		return r;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0)
		return -errno;
	/* The socket file takes the socket inode's mode (less the umask) at
	 * bind time: never wider than asked for, not even for a moment. */
	r = pshm__err(fchmod(s->lfd, mode));
	if (r == 0)
		r = bind_sock(s->lfd, s->dfd, s->leaf, &sa);
	if (r < 0)
		return r; /* nothing of ours to remove */
	struct stat st;
	r = pshm__err(fstatat(s->dfd, s->leaf, &st, AT_SYMLINK_NOFOLLOW));
	if (r == 0) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
		r = pshm__err(fchmodat(s->dfd, s->leaf, mode, 0));
	}
	if (r == 0)
		r = pshm__err(listen(s->lfd, 64));
	if (r < 0)
		unlinkat(s->dfd, s->leaf, 0);
	return r;
}

/* Display path: the directory's real path and the name. */
static void set_path(pshm_snap *s)
{
	char link[64], dir[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", s->dfd);
	ssize_t n = readlink(link, dir, sizeof(dir) - 1);
	dir[n > 0 ? n : 0] = '\0';
	snprintf(s->path, sizeof(s->path), "%s/%s", dir, s->leaf);
}

int pshm_snap_publish(const char *name, const void *data, size_t len, const char *dir,
		      mode_t mode, pshm_snap **out)
{
	if (!out || (!data && len) || (mode & ~(mode_t)0777))
		return -EINVAL;
	*out = NULL;
	int r = pshm_name_check(name);
	if (r < 0)
		return r;
	if (!mode)
		mode = 0600;
	pshm_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lfd = s->dfd = -1;
	s->size = len;
	snprintf(s->leaf, sizeof(s->leaf), "%s", pshm__leaf(name));
	s->memfd = make_memfd(s->leaf, data, len);
	r = s->memfd < 0 ? s->memfd : 0;
	if (r == 0)
		r = s->dfd = publisher_dir(dir, mode);
	if (r >= 0)
		r = listen_at(s, mode);
	if (r < 0) {
		pshm__close_keep_errno(s->lfd);
		pshm__close_keep_errno(s->dfd);
		pshm__close_keep_errno(s->memfd);
		free(s);
		return r;
	}
	set_path(s);
	*out = s;
	return 0;
}

int pshm_snap_fd(const pshm_snap *snap)
{
	return snap ? snap->lfd : -1;
}

const char *pshm_snap_path(const pshm_snap *snap)
{
	return snap ? snap->path : NULL;
}

/* Send the descriptor on the accepted connection @c; never blocks. */
static bool send_snap(const pshm_snap *s, int c)
{
	struct wire w;
	memcpy(w.magic, SNAP_MAGIC, sizeof(w.magic));
	w.size = s->size;
	struct iovec iov = { &w, sizeof(w) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &s->memfd, sizeof(int));
	ssize_t n = sendmsg(c, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n == (ssize_t)sizeof(w);
}

static int to_timeout_ms(int64_t ns)
{
	if (ns < 0)
		return -1;
	int64_t ms = (ns + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int pshm_snap_serve(pshm_snap *snap, int64_t timeout_ns)
{
	if (!snap)
		return -EINVAL;
	struct pollfd pf = { snap->lfd, POLLIN, 0 };
	int r = poll(&pf, 1, to_timeout_ms(timeout_ns));
	if (r < 0)
		return -errno;
	int served = 0;
	for (;;) {
		int c = accept4(snap->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* EAGAIN: nobody else waiting */
		}
		if (send_snap(snap, c))
			served++;
		close(c);
	}
	return served;
}

void pshm_snap_close(pshm_snap *snap)
{
	if (!snap)
		return;
	int e = errno;
	struct stat st;
	/* Remove the socket only if it is still the one we bound. */
	if (snap->dfd >= 0 && fstatat(snap->dfd, snap->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == snap->sock_dev && st.st_ino == snap->sock_ino)
		unlinkat(snap->dfd, snap->leaf, 0);
	close(snap->lfd);
	close(snap->dfd);
	close(snap->memfd);
	free(snap);
	errno = e;
}

/* ---- fetching ---------------------------------------------------------------- */

/* Connect to @leaf in @dir, a directory that must be safe for @uid. */
static int connect_in(const char *dir, const char *leaf, uid_t uid)
{
	int dfd = open_dir(dir, uid, O_PATH);
	if (dfd < 0)
		return dfd;
	struct sockaddr_un sa;
	int r = sock_addr(dfd, leaf, &sa);
	int fd = -1;
	if (r == 0)
		r = fd = pshm__err(client_socket(FETCH_WAIT_MS));
	if (r >= 0 && connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = errno == ENOTSOCK ? -ENOTSUP : errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (r < 0 && fd >= 0)
		close(fd);
	close(dfd);
	return r < 0 ? r : fd;
}

static int connect_snap(const char *name, uid_t uid, const char *dir)
{
	if (dir)
		return connect_in(dir, pshm__leaf(name), uid);
	/* Our own snapshots: the private directory first, then the shared one. */
	char d[PATH_MAX];
	int fd = -ENOENT;
	if (uid == geteuid() && pshm_snap_dir(uid, 0, d, sizeof(d)) >= 0)
		fd = connect_in(d, pshm__leaf(name), uid);
	if (fd == -ENOENT && pshm_snap_dir(uid, 1, d, sizeof(d)) >= 0)
		fd = connect_in(d, pshm__leaf(name), uid);
	return fd;
}

static int check_peer(int fd, uid_t uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	return cr.uid == uid ? 0 : -EPERM;
}

/* Receive the header and exactly one descriptor. */
static int recv_snap(int fd, struct wire *w)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	int p;
	while ((p = poll(&pf, 1, FETCH_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (p <= 0)
		return p == 0 ? -ETIMEDOUT : -errno;
	struct iovec iov = { w, sizeof(*w) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;
	while ((n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	int got = -1, count = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int x;
			memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (count++ == 0)
				got = x;
			else
				close(x);
		}
	}
	bool ok = count == 1 && !(m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) &&
		  n == (ssize_t)sizeof(*w) && !memcmp(w->magic, SNAP_MAGIC, sizeof(w->magic));
	if (!ok) {
		if (got >= 0)
			close(got);
		return -EPROTO;
	}
	return got;
}

/* Check the received descriptor; return a read-only reopening of it. */
static int check_snap_fd(int fd, uint64_t size)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return -EPROTO;
	if ((uint64_t)st.st_size > SIZE_MAX)
		return -EFBIG;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & SEALS_ALL) != SEALS_ALL)
		return -EPERM;
	/* A descriptor without write access: no writable mapping can ever be
	 * made from it, whatever the kernel's rules for sealed files. */
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	int ro = open(p, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		return -errno;
	struct stat st2;
	if (fstat(ro, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
		close(ro);
		return -EPROTO;
	}
	return ro;
}

int pshm_snap_fetch(const char *name, uid_t uid, const char *dir, pshm_seg **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	int r = pshm_name_check(name);
	if (r < 0)
		return r;
	if (uid == PSHM_SNAP_SELF)
		uid = geteuid();
	int sock = connect_snap(name, uid, dir);
	if (sock < 0)
		return sock;
	struct wire w;
	r = check_peer(sock, uid);
	int fd = r < 0 ? r : recv_snap(sock, &w);
	close(sock);
	if (fd < 0)
		return fd;
	int ro = check_snap_fd(fd, w.size);
	close(fd);
	if (ro < 0)
		return ro;
	r = pshm__seg_new(ro, NULL, (size_t)w.size, false, true, out);
	if (r < 0)
		close(ro);
	return r;
}
