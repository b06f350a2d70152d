/* SPDX-License-Identifier: MIT */
/*
 * test_bridge_hostile.c — a raw peer (NNG's pair0 wire protocol over TCP, as
 * anyone who reaches the port could speak it) sends `pshm bridge recv` garbage, frames
 * that break the rules and frames larger than it takes: each time the
 * connection is dropped with a log line that says why, and the bridge
 * goes on. The frames are written here from the format pshm(1) documents,
 * not with the bridge's own encoder.
 */
#include <criterion/criterion.h>

#include "bridge_helpers.h"

TestSuite(bridge_hostile, TH_FIXTURE, .timeout = 120);

#ifdef PSHM_HAVE_NNG

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

static char log_path[96];
static int port;

static size_t put(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++, v >>= 8)
		p[i] = (unsigned char)v;
	return (size_t)bytes;
}

/* The 8-byte header: magic "PSB1", type, flags 0, reserved 0. */
static size_t hdr(unsigned char *p, int type)
{
	return put(p, 0x31425350u, 4) + put(p + 4, (uint64_t)type, 1) + put(p + 5, 0, 3);
}

static size_t hello_ring(unsigned char *p, uint64_t stream, uint64_t ring)
{
	size_t n = hdr(p, 1);
	n += put(p + n, stream, 8);
	n += put(p + n, 1, 8);    /* next_seq */
	n += put(p + n, ring, 8); /* ring_size */
	n += put(p + n, 1024, 8); /* max_msg */
	n += put(p + n, 0, 4);    /* mode */
	n += put(p + n, 7, 4);    /* nonce */
	return n + put(p + n, 0, 8);
}

static size_t hello(unsigned char *p, uint64_t stream)
{
	return hello_ring(p, stream, 4096);
}

/* DATA from @first with one record whose length word says @len and
 * @have bytes follow. */
static size_t data(unsigned char *p, uint64_t first, uint32_t len, size_t have)
{
	size_t n = hdr(p, 3);
	n += put(p + n, first, 8) + put(p + n + 8, 1, 4) + put(p + n + 12, 0, 4);
	n += put(p + n, len, 4);
	memset(p + n, 'x', have);
	return n + have;
}

/*
 * The attacker speaks NNG's wire protocol itself over a plain TCP socket
 * (SP header "\0SP\0" + protocol 0x10, pair v0, then each message behind
 * its 64-bit big-endian length): NNG 1.5.2's nng_close() can wait for ever
 * on a connection the peer cut mid-frame, which is what the bridge does to
 * an attacker, and NNG refuses to run in a forked child.
 */
static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const unsigned char sp[8] = { 0, 'S', 'P', 0, 0, 0x10, 0, 0 };
	unsigned char peer[8];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 2 };
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    send(fd, sp, sizeof(sp), MSG_NOSIGNAL) != (ssize_t)sizeof(sp) ||
	    recv(fd, peer, sizeof(peer), MSG_WAITALL) != (ssize_t)sizeof(peer)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One message: its length, then its bytes (errors ignored: the bridge
 * may cut the connection first). */
static void send_msg(int fd, const void *b, size_t len)
{
	unsigned char n[8];
	for (int i = 0; i < 8; i++)
		n[i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	if (send(fd, n, sizeof(n), MSG_NOSIGNAL) == (ssize_t)sizeof(n))
		(void)!send(fd, b, len, MSG_NOSIGNAL);
}

/* Connect, send the frames (each a buffer and a length; NULL ends), and
 * wait for @expect in the bridge's log. */
static bool attack(const char *expect, ...)
{
	va_list ap;
	int fd = dial();
	if (fd < 0)
		return false;
	va_start(ap, expect);
	for (const void *b; (b = va_arg(ap, const void *));) {
		size_t len = va_arg(ap, size_t);
		send_msg(fd, b, len);
	}
	va_end(ap);
	bool seen = bt_wait_log(log_path, expect);
	close(fd);
	return seen;
}

/* Host side: the bridge, and the consumer of its channel /h. */
static int pipes[2][2]; /* [0]: test -> host, go on; [1]: host -> test, the port */

static int host(void *arg)
{
	(void)arg;
	char m[16];
	pid_t br = bt_bridge(log_path, "recv", "tcp://127.0.0.1:0", "/h", "--create", NULL);
	bt_put(pipes[1][1], bt_port(log_path));
	if (bt_get(pipes[0][0]) != 1) /* the attacks are over */
		return 10;
	if (waitpid(br, NULL, WNOHANG) != 0)
		return 11; /* gone */
	pshm_chan *ch = bt_consumer("/h");
	ssize_t n = ch ? pshm_chan_recv(ch, m, sizeof(m), 20 * BT_NS_PER_S) : -1;
	pshm_chan_close(ch);
	bt_put(pipes[1][1], n == 5 && !memcmp(m, "xxxxx", 5));
	if (bt_get(pipes[0][0]) != 1) /* a frame larger than NNG takes was sent */
		return 12;
	if (waitpid(br, NULL, WNOHANG) != 0)
		return 13;
	return bt_stop(br) == 0 ? 0 : 14;
}

/* The attacks, from this process, outside the host: each must end with
 * its log line. Returns the first that did not, or NULL. */
static const char *attacks(void)
{
	static unsigned char h[64], d[8192];
	size_t hl = hello(h, 42);
	unsigned char bad[64]; /* a ring that is not a power of two, for --create */
	if (!attack("cannot open its channel or topic: disconnecting", bad, hello_ring(bad, 42, 3000),
		    NULL))
		return "HELLO with a bad geometry";
	if (!attack("(bad magic): disconnecting it", "garbage, not a frame", (size_t)20, NULL))
		return "garbage";
	if (!attack("unknown frame type", d, hdr(d, 9), NULL))
		return "unknown type";
	if (!attack("larger than the channel's largest", h, hl, d, data(d, 1, 5000, 5000), NULL))
		return "oversized message";
	if (!attack("runs past the end of the frame", h, hl, d, data(d, 1, 100, 10), NULL))
		return "truncated record";
	if (!attack("bytes after the last DATA record", h, hl, d, data(d, 1, 10, 30), NULL))
		return "trailing bytes";
	if (!attack("DATA from #9, but #1 is next", h, hl, d, data(d, 9, 10, 10), NULL))
		return "sequence gap";
	if (!attack("wrong length for its type", h, hl - 1, NULL))
		return "short HELLO";
	return NULL;
}

Test(bridge_hostile, bad_frames_are_refused_and_logged_never_a_crash)
{
	const char *why;
	unsigned char h[64], d[64];
	if (!bt_usable(&why))
		th_skip("%s", why);
	snprintf(log_path, sizeof(log_path), "/tmp/pshm-test-bridge-%d-hostile.log", (int)getpid());
	unlink(log_path);
	cr_assert(pipe(pipes[0]) == 0 && pipe(pipes[1]) == 0);
	pid_t hp = bt_host(host, NULL);
	port = bt_get(pipes[1][0]);
	const char *failed = port > 0 ? attacks() : "no port";
	int fd = failed ? -1 : dial();
	if (fd >= 0) { /* a well-behaved sender now: still a bridge? */
		send_msg(fd, h, hello(h, 43));
		send_msg(fd, d, data(d, 1, 5, 5));
	}
	bt_put(pipes[0][1], 1);
	bool went = bt_get(pipes[1][0]) == 1; /* the well-formed message came out */
	if (fd >= 0)
		close(fd);
	static unsigned char big[2 << 20];
	bool big_seen = attack("for a frame above", h, hello(h, 44), big,
			       hdr(big, 3) + sizeof(big) - 8, NULL);
	bt_put(pipes[0][1], 1);
	int r = bt_reap(hp);
	char *l = bt_slurp(log_path);
	cr_expect_null(failed, "no log line after the %s; the bridge said:\n%s", failed, l);
	cr_expect(went, "a well-formed message did not go through after the attacks:\n%s", l);
	cr_expect(big_seen, "no log line after an oversized frame:\n%s", l);
	cr_expect_eq(r, 0, "host: %d; the bridge said:\n%s", r, l);
	cr_expect_null(strstr(l, "Sanitizer"), "%s", l);
	free(l);
	unlink(log_path);
}

#else

Test(bridge_hostile, bad_frames_are_refused_and_logged_never_a_crash)
{
	th_skip("pshm was built without NNG: no bridge");
}

#endif
