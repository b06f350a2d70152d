/* SPDX-License-Identifier: MIT */
/*
 * test_snap.c — sealed snapshots: round trip, immutability of the received
 * descriptor (write, ftruncate, mprotect, writable mapping, dd through
 * /proc), unsafe socket directories, a server of another uid, hostile
 * servers (unsealed, several descriptors, no descriptor), the commands.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "pshm.h"

static char dir[64];

static void setup(void)
{
	th_setup();
	snprintf(dir, sizeof(dir), "/tmp/pshm-test-snap-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	th_cleanup();
}

TestSuite(snap, .init = setup, .fini = teardown, .timeout = 60);

struct server {
	pshm_snap *snap;
	int stop;
	pthread_t th;
};

static void *serve_loop(void *p)
{
	struct server *s = p;
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		pshm_snap_serve(s->snap, 20 * 1000 * 1000);
	return NULL;
}

static void start(struct server *s, const char *name, const char *data)
{
	cr_assert_eq(pshm_snap_publish(name, data, strlen(data), dir, 0, &s->snap), 0);
	s->stop = 0;
	cr_assert_eq(pthread_create(&s->th, NULL, serve_loop, s), 0);
}

static void stop(struct server *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->th, NULL);
	pshm_snap_close(s->snap);
}

Test(snap, publish_fetch_round_trip)
{
	struct server s;
	const char *msg = "a snapshot nobody can change";
	start(&s, "snap", msg);
	pshm_seg *seg;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(pshm_snap_fetch("snap", PSHM_SNAP_SELF, dir, &seg), 0);
		cr_expect_eq(pshm_seg_size(seg), strlen(msg));
		cr_expect_arr_eq(pshm_seg_addr(seg), msg, strlen(msg));
		cr_expect_null(pshm_seg_name(seg));
		pshm_seg_close(seg);
	}
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/snap", dir);
	struct stat st;
	cr_expect_eq(lstat(sock, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600);
	stop(&s);
	cr_expect_eq(lstat(sock, &st), -1, "the socket is removed when stopped");
	cr_expect_eq(pshm_snap_fetch("snap", PSHM_SNAP_SELF, dir, &seg), -ENOENT);
}

Test(snap, empty_snapshot)
{
	struct server s;
	start(&s, "empty", "");
	pshm_seg *seg;
	cr_assert_eq(pshm_snap_fetch("empty", PSHM_SNAP_SELF, dir, &seg), 0);
	cr_expect_eq(pshm_seg_size(seg), 0);
	pshm_seg_close(seg);
	stop(&s);
}

Test(snap, received_descriptor_cannot_be_changed)
{
	struct server s;
	const char *msg = "immutable bytes";
	size_t len = strlen(msg);
	start(&s, "ro", msg);
	pshm_seg *seg;
	cr_assert_eq(pshm_snap_fetch("ro", PSHM_SNAP_SELF, dir, &seg), 0);
	int fd = pshm_seg_fd(seg);
	void *addr = pshm_seg_addr(seg);
	cr_expect_eq(write(fd, "X", 1), -1, "write()");
	cr_expect_eq(pwrite(fd, "X", 1, 0), -1, "pwrite()");
	cr_expect_eq(ftruncate(fd, 0), -1, "ftruncate() shrink");
	cr_expect_eq(ftruncate(fd, 4096), -1, "ftruncate() grow");
	cr_expect_eq(mprotect(addr, len, PROT_READ | PROT_WRITE), -1, "mprotect(PROT_WRITE)");
	cr_expect_eq(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED,
		     "a new writable shared mapping");
	/* Reopening the file for writing (as root, even) gets a descriptor
	 * that the seals still stop. */
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	int rw = open(p, O_RDWR);
	if (rw >= 0) {
		cr_expect_eq(write(rw, "X", 1), -1);
		cr_expect_eq(errno, EPERM);
		cr_expect_eq(ftruncate(rw, 1), -1);
		cr_expect_eq(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0), MAP_FAILED);
		cr_expect_eq(fcntl(rw, F_ADD_SEALS, 0), -1, "no more sealing: F_SEAL_SEAL");
		close(rw);
	}
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "echo -n HACKED | dd of=/proc/%d/fd/%d bs=1 seek=0 conv=notrunc 2>/dev/null",
		 (int)getpid(), fd);
	cr_expect_neq(th_run(cmd, NULL, NULL, NULL), 0, "dd through /proc/PID/fd/N");
	cr_expect_arr_eq(addr, msg, len, "the data reads back unchanged");
	char buf[64] = { 0 };
	cr_expect_eq(pread(fd, buf, sizeof(buf), 0), (ssize_t)len);
	cr_expect_str_eq(buf, msg);
	pshm_seg_close(seg);
	stop(&s);
}

Test(snap, unsafe_directories_are_refused)
{
	struct server s;
	start(&s, "d", "data");
	pshm_seg *seg;
	pshm_snap *other;
	cr_assert_eq(chmod(dir, 0777), 0);
	cr_expect_eq(pshm_snap_fetch("d", PSHM_SNAP_SELF, dir, &seg), -EPERM, "world-writable");
	cr_expect_eq(pshm_snap_publish("e", "x", 1, dir, 0, &other), -EPERM);
	cr_assert_eq(chmod(dir, 0770), 0);
	cr_expect_eq(pshm_snap_fetch("d", PSHM_SNAP_SELF, dir, &seg), -EPERM, "group-writable");
	cr_assert_eq(chmod(dir, 0700), 0);
	if (th_is_root()) {
		uid_t uid;
		gid_t gid;
		th_nobody(&uid, &gid);
		cr_assert_eq(chown(dir, uid, gid), 0);
		cr_expect_eq(pshm_snap_fetch("d", PSHM_SNAP_SELF, dir, &seg), -EPERM,
			     "owned by someone else");
		cr_expect_eq(pshm_snap_publish("e", "x", 1, dir, 0, &other), -EPERM);
		cr_assert_eq(chown(dir, 0, 0), 0);
	}
	char link[96];
	snprintf(link, sizeof(link), "%s-link", dir);
	cr_assert_eq(symlink(dir, link), 0);
	cr_expect_eq(pshm_snap_fetch("d", PSHM_SNAP_SELF, link, &seg), -EPERM, "a symlink");
	unlink(link);
	cr_expect_eq(pshm_snap_fetch("d", PSHM_SNAP_SELF, dir, &seg), 0, "and fine again");
	pshm_seg_close(seg);
	stop(&s);
}

/* ---- hostile or foreign servers, made by hand ---------------------------------------- */

enum srv_kind { SRV_OK, SRV_UNSEALED, SRV_PARTLY_SEALED, SRV_TWO_FDS, SRV_NO_FD, SRV_FIFO };

static int sealed_memfd(const char *data, int seals)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		_exit(3);
	if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)
		_exit(4);
	return fd;
}

/* Serve one connection at @path the way @kind says; listen() as @uid. */
static void hand_server(const char *path, enum srv_kind kind, uid_t uid, int ready)
{
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(2);
	/* SO_PEERCRED reports who called listen(). */
	if (uid != geteuid() && (setgroups(0, NULL), setresuid(uid, uid, uid)) < 0)
		_exit(5);
	if (listen(l, 4) < 0)
		_exit(2);
	(void)!write(ready, "r", 1);
	int all = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	int fds[2] = { -1, -1 }, nfd = 1;
	if (kind == SRV_FIFO) {
		int p[2];
		if (pipe(p) < 0)
			_exit(6);
		fds[0] = p[0];
	} else {
		fds[0] = sealed_memfd("hand made",
				      kind == SRV_UNSEALED ? 0 : kind == SRV_PARTLY_SEALED ? all & ~F_SEAL_SEAL
											   : all);
	}
	if (kind == SRV_TWO_FDS) {
		fds[1] = sealed_memfd("hand made", all);
		nfd = 2;
	}
	int c = accept(l, NULL, NULL);
	struct { char magic[8]; uint64_t size; } w = { { 'P', 'S', 'H', 'M', 'S', 'N', 'P', '1' }, 9 };
	struct iovec iov = { &w, sizeof(w) };
	union { struct cmsghdr h; char b[CMSG_SPACE(2 * sizeof(int))]; } ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (kind != SRV_NO_FD) {
		m.msg_control = ctl.b;
		m.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfd * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfd * sizeof(int));
	}
	(void)!sendmsg(c, &m, MSG_NOSIGNAL);
	close(c);
	_exit(0);
}

static pid_t start_hand_server(const char *name, enum srv_kind kind, uid_t uid)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		hand_server(path, kind, uid, p[1]);
	}
	close(p[1]);
	char c;
	cr_assert_eq(read(p[0], &c, 1), 1, "hand-made server ready");
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

Test(snap, hostile_servers_are_refused)
{
	struct { enum srv_kind kind; int err; const char *what; } cases[] = {
		{ SRV_OK, 0, "well-behaved" },
		{ SRV_UNSEALED, -EPERM, "unsealed memfd" },
		{ SRV_PARTLY_SEALED, -EPERM, "without F_SEAL_SEAL" },
		{ SRV_TWO_FDS, -EPROTO, "two descriptors" },
		{ SRV_NO_FD, -EPROTO, "no descriptor" },
		{ SRV_FIFO, -EPROTO, "a pipe" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "h%zu", i);
		pid_t pid = start_hand_server(name, cases[i].kind, geteuid());
		pshm_seg *seg = NULL;
		cr_expect_eq(pshm_snap_fetch(name, PSHM_SNAP_SELF, dir, &seg), cases[i].err, "%s",
			     cases[i].what);
		if (seg)
			cr_expect_arr_eq(pshm_seg_addr(seg), "hand made", 9);
		pshm_seg_close(seg);
		reap(pid);
	}
}

/* A publisher that never accepts, its backlog full: fetch gives up with
 * -ETIMEDOUT (connect() alone would wait for ever). */
Test(snap, a_publisher_that_never_answers_times_out, .timeout = 60)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/%s", dir, "stuck");
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 0), 0);
	int held[16], n = 0;
	for (; n < 16; n++) { /* fill the backlog */
		held[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(held[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			cr_assert_eq(errno, EAGAIN);
			close(held[n]);
			break;
		}
	}
	cr_assert_lt(n, 16, "the backlog filled up");
	pshm_seg *seg = NULL;
	cr_expect_eq(pshm_snap_fetch("stuck", PSHM_SNAP_SELF, dir, &seg), -ETIMEDOUT);
	cr_expect_null(seg);
	for (int i = 0; i < n; i++)
		close(held[i]);
	close(l);
	unlink(path);
}

Test(snap, server_of_another_uid_is_refused)
{
	if (!th_is_root())
		th_skip("needs root to play another user");
	uid_t nobody;
	gid_t gid;
	th_nobody(&nobody, &gid);
	pid_t pid = start_hand_server("foreign", SRV_OK, nobody);
	pshm_seg *seg = NULL;
	cr_expect_eq(pshm_snap_fetch("foreign", PSHM_SNAP_SELF, dir, &seg), -EPERM,
		     "SO_PEERCRED says nobody, we expect ourselves");
	reap(pid);
	pid = start_hand_server("foreign2", SRV_OK, nobody);
	cr_expect_eq(pshm_snap_fetch("foreign2", nobody, dir, &seg), 0,
		     "expected: nobody (in a root-owned directory)");
	pshm_seg_close(seg);
	reap(pid);
}

Test(snap, stale_socket_is_replaced_live_one_is_not)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/stale", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* a publisher that died */
	struct server s;
	start(&s, "stale", "fresh");
	pshm_snap *dup;
	cr_expect_eq(pshm_snap_publish("stale", "x", 1, dir, 0, &dup), -EEXIST);
	pshm_seg *seg;
	cr_assert_eq(pshm_snap_fetch("stale", PSHM_SNAP_SELF, dir, &seg), 0);
	cr_expect_arr_eq(pshm_seg_addr(seg), "fresh", 5);
	pshm_seg_close(seg);
	stop(&s);
	/* Something that is not a socket is never removed. */
	snprintf(path, sizeof(path), "%s/file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	cr_expect_eq(pshm_snap_publish("file", "x", 1, dir, 0, &dup), -ENOTSUP);
	struct stat st;
	cr_expect_eq(lstat(path, &st), 0);
	cr_expect(S_ISREG(st.st_mode), "the file is still there");
}

Test(snap, bad_arguments)
{
	pshm_snap *s;
	pshm_seg *seg;
	cr_expect_eq(pshm_snap_publish("a/b", "x", 1, dir, 0, &s), -EINVAL);
	cr_expect_eq(pshm_snap_publish("a", NULL, 1, dir, 0, &s), -EINVAL);
	cr_expect_eq(pshm_snap_publish("a", "x", 1, dir, 01000, &s), -EINVAL);
	cr_expect_eq(pshm_snap_fetch("", PSHM_SNAP_SELF, dir, &seg), -EINVAL);
	char longname[200];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_expect_eq(pshm_snap_publish(longname, "x", 1, dir, 0, &s), -ENAMETOOLONG);
	cr_expect_eq(pshm_snap_fetch("nobody-publishes-this", PSHM_SNAP_SELF, dir, &seg), -ENOENT);
	char d[256];
	cr_expect_gt(pshm_snap_dir(0, 1, d, sizeof(d)), 0);
	cr_expect_str_eq(d, "/tmp/pshm-0");
	cr_expect_eq(pshm_snap_dir(0, 1, d, 4), -ERANGE);
}

/* ---- the commands ---------------------------------------------------------------------- */

Test(snap, publish_and_fetch_commands, .timeout = 60)
{
	char cmd[1024], *out, *err;
	snprintf(cmd, sizeof(cmd),
		 "printf 'line one\\nline two\\n' > %1$s/in.txt; "
		 "%2$s publish --dir %1$s cmdsnap %1$s/in.txt 2>%1$s/pub.err & pid=$!; "
		 "for i in $(seq 100); do [ -S %1$s/cmdsnap ] && break; sleep 0.05; done; "
		 "%2$s fetch --dir %1$s cmdsnap; rc=$?; "
		 "kill -TERM $pid; wait $pid; prc=$?; "
		 "[ -e %1$s/cmdsnap ] && echo SOCKET-LEFT; "
		 "cat %1$s/pub.err >&2; echo \"rc=$rc prc=$prc\"",
		 dir, PSHM_BIN);
	cr_assert_eq(th_run(cmd, NULL, &out, &err), 0);
	cr_expect_str_eq(out, "line one\nline two\nrc=0 prc=0\n", "stdout: %s\nstderr: %s", out, err);
	cr_expect(strstr(err, "serving 18 sealed bytes"), "stderr: %s", err);
	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "%s fetch --dir %s nothing-here", PSHM_BIN, dir);
	cr_expect_eq(th_run(cmd, NULL, NULL, &err), 1);
	cr_expect(strstr(err, "pshm: fetch 'nothing-here': no such snapshot"), "%s", err);
	free(err);
}

Test(snap, another_user_fetches_a_shared_snapshot, .timeout = 60)
{
	/* daemon publishes for everyone (mode 666): its socket directory is
	 * then 0711, which nobody may traverse but not read. */
	if (!th_is_root())
		th_skip("needs root to play daemon and nobody");
	if (th_run("command -v setpriv >/dev/null 2>&1 && id daemon >/dev/null 2>&1", NULL, NULL,
		   NULL))
		th_skip("needs setpriv and a 'daemon' user");
	char bin[300], pub[128], cmd[2048], *out, *err;
	th_public_copy(PSHM_BIN, bin, sizeof(bin));
	snprintf(pub, sizeof(pub), "/tmp/pshm-test-xuser-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "d=%1$s; rm -rf $d; printf 'for everyone\\n' > $d.in; chmod 644 $d.in; "
		 "as() { u=$1; shift; setpriv --reuid=$u --regid=$(id -g $u) --clear-groups \"$@\"; }; "
		 "setpriv --reuid=daemon --regid=$(id -g daemon) --clear-groups "
		 "%2$s publish --dir $d --mode 666 xsnap $d.in >/dev/null 2>$d.err & pid=$!; "
		 "for i in $(seq 100); do [ -S $d/xsnap ] && break; sleep 0.05; done; "
		 "stat -c %%a $d >&2; "
		 "as nobody %2$s fetch --uid daemon --dir $d xsnap; rc=$?; "
		 "kill -TERM $pid; wait $pid; cat $d.err >&2; rm -rf $d $d.in $d.err; "
		 "echo rc=$rc",
		 pub, bin);
	int r = th_run(cmd, NULL, &out, &err);
	th_public_remove(bin);
	cr_assert_eq(r, 0, "%s", err);
	cr_expect(!strncmp(err, "711\n", 4), "the shared directory is 0711: %s", err);
	cr_expect_str_eq(out, "for everyone\nrc=0\n", "stderr: %s", err);
	free(out);
	free(err);
}
