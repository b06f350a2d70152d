/* SPDX-License-Identifier: MIT */
/*
 * test_chan.c — channels: the API's contract and every error code:
 * creation and attachment, sending and receiving, peers coming and going,
 * and the example programs. Hostile segments, truncation and describing
 * without a mapping are in test_chan_hostile.c; ordering and integrity
 * under load and large messages in test_chan_load.c; crashed peers in
 * test_chan_crash.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chan_helpers.h"
#include "helpers.h"
#include "pshm.h"
#include "test_chan.h"

TestSuite(chan, TH_FIXTURE, .timeout = 60);

/* ---- creation and attachment ---------------------------------------- */

Test(chan, create_defaults_then_stat)
{
	const char *n = th_name("defaults");
	cr_assert_eq(pshm_chan_create(n, NULL, 0, 0), 0);
	struct pshm_stat st;
	cr_assert_eq(pshm_seg_stat(n, &st), 0);
	cr_expect_eq(st.kind, PSHM_KIND_CHAN);
	cr_expect_eq(st.mode & 0777, 0600);
	struct pshm_chan_info in;
	cr_assert_eq(pshm_chan_stat(n, &in), 0);
	cr_expect_eq(in.mode, PSHM_CHAN_SPSC);
	cr_expect_eq(in.ring_size, 1u << 20);
	cr_expect_eq(in.max_msg, (1u << 20) / 4);
	cr_expect_eq(in.max_producers, 1);
	cr_expect_eq(in.used, 0);
	cr_expect_eq(in.pending, 0);
	cr_expect_eq(in.n_peers, 0);
	cr_expect_eq(pshm_chan_create(n, NULL, 0, 0), -EEXIST);
}

Test(chan, create_refuses_bad_configs)
{
	struct {
		size_t ring, max_msg;
		unsigned mode, prod;
		mode_t perm;
	} bad[] = {
		{ 3000, 0, 0, 0, 0 },           /* not a power of two */
		{ 512, 0, 0, 0, 0 },            /* too small */
		{ (size_t)1 << 32, 0, 0, 0, 0 }, /* too large */
		{ 4096, 4096, 0, 0, 0 },        /* message larger than the ring allows */
		{ 4096, 4096 - 8, 0, 0, 0 },
		{ 4096, 0, 2, 0, 0 },           /* no such mode */
		{ 4096, 0, PSHM_CHAN_MPSC, PSHM_CHAN_MAX_PRODUCERS + 1, 0 },
		{ 4096, 0, PSHM_CHAN_SPSC, 2, 0 },
		{ 4096, 0, 0, 0, 010000 },      /* not permission bits */
		/* 8 + max_msg rounded up to 8 wraps to 0: an alignment overflow */
		{ 4096, (size_t)18446744073709551608u, 0, 0, 0 },
		{ 4096, SIZE_MAX, 0, 0, 0 },
		{ 4096, SIZE_MAX - 8, 0, 0, 0 },
		{ (size_t)1 << 31, (size_t)1 << 32, 0, 0, 0 }, /* beyond the u32 field */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pshm_chan_config c = { bad[i].ring, bad[i].max_msg, bad[i].mode, bad[i].prod };
		cr_expect_eq(pshm_chan_create(th_name("bad"), &c, bad[i].perm, 0), -EINVAL,
			     "config %zu", i);
	}
	struct pshm_chan_config ok = { .ring_size = 4096, .max_msg = 4096 - 16 };
	cr_expect_eq(pshm_chan_create(th_name("edge"), &ok, 0, 0), 0, "the largest message allowed");
	cr_expect_eq(pshm_chan_create("a/b", NULL, 0, 0), -EINVAL);
	char longname[PSHM_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_expect_eq(pshm_chan_create(longname, NULL, 0, 0), -ENAMETOOLONG);
}

Test(chan, create_mode_is_exact_and_0600_by_default)
{
	const char *a = th_name("m0"), *b = th_name("m640");
	mode_t old = umask(077);
	cr_assert_eq(pshm_chan_create(a, NULL, 0, 0), 0);
	cr_assert_eq(pshm_chan_create(b, NULL, 0640, 0), 0);
	umask(old);
	cr_expect_eq(th_lstat(a).st_mode & 07777, 0600);
	cr_expect_eq(th_lstat(b).st_mode & 07777, 0640, "the umask does not narrow it");
}

Test(chan, create_open_existing_accepts_a_channel_as_it_is)
{
	const char *n = th_name("exist");
	struct pshm_chan_config c = { .ring_size = 4096, .mode = PSHM_CHAN_MPSC,
				      .max_producers = 3 };
	cr_expect_eq(pshm_chan_create(n, &c, 0, PSHM_OPEN_EXISTING), 0, "creates when missing");
	struct pshm_chan_config other = { .ring_size = 8192 };
	cr_expect_eq(pshm_chan_create(n, &other, 0644, 0), -EEXIST);
	cr_expect_eq(pshm_chan_create(n, &other, 0644, PSHM_OPEN_EXISTING), 0);
	struct pshm_chan_info in;
	cr_assert_eq(pshm_chan_stat(n, &in), 0);
	cr_expect_eq(in.ring_size, 4096, "left as it was");
	cr_expect_eq(in.mode, PSHM_CHAN_MPSC);
	cr_expect_eq(in.max_producers, 3);
	cr_expect_eq(th_lstat(n).st_mode & 07777, 0600, "mode untouched");
	cr_expect_eq(pshm_chan_create(n, &other, 0, PSHM_OPEN_EXISTING | PSHM_RDONLY), -EINVAL,
		     "not a flag of create");
	cr_expect_eq(pshm_chan_create(n, &other, 0, 1u << 20), -EINVAL);
	cr_expect_eq(pshm_chan_create(n, &other, 010000, PSHM_OPEN_EXISTING), -EINVAL);
	struct pshm_chan_config bad = { .ring_size = 3000 };
	cr_expect_eq(pshm_chan_create(n, &bad, 0, PSHM_OPEN_EXISTING), -EINVAL,
		     "the config is checked even when the channel exists");
}

Test(chan, create_open_existing_applies_the_policy)
{
	const char *n = th_name("shared");
	cr_assert_eq(pshm_chan_create(n, NULL, 0660, 0), 0);
	cr_expect_eq(pshm_chan_create(n, NULL, 0660, PSHM_OPEN_EXISTING), -EPERM);
	cr_expect_eq(pshm_chan_create(n, NULL, 0660,
				      PSHM_OPEN_EXISTING | PSHM_ALLOW_SHARED_WRITE), 0);
	if (th_is_root()) {
		uid_t uid;
		gid_t gid;
		th_nobody(&uid, &gid);
		char p[300];
		cr_assert_eq(chown(th_path(n, p, sizeof(p)), uid, gid), 0);
		cr_expect_eq(pshm_chan_create(n, NULL, 0, PSHM_OPEN_EXISTING |
					      PSHM_ALLOW_SHARED_WRITE), -EPERM, "foreign");
		cr_expect_eq(pshm_chan_create(n, NULL, 0, PSHM_OPEN_EXISTING |
					      PSHM_ALLOW_SHARED_WRITE | PSHM_ALLOW_FOREIGN), 0);
	}
}

Test(chan, create_open_existing_refuses_what_is_not_a_channel)
{
	const char *raw = th_name("raw"), *box = th_name("box"), *empty = th_name("empty");
	th_write_file(raw, "not a channel at all", 20, 0600);
	th_write_file(empty, "", 0, 0600);
	pshm_box *b;
	cr_assert_eq(pshm_box_create(box, 16, 0, 0, &b), 0);
	pshm_box_close(b);
	cr_expect_eq(pshm_chan_create(raw, NULL, 0, PSHM_OPEN_EXISTING), -EPROTO);
	cr_expect_eq(pshm_chan_create(box, NULL, 0, PSHM_OPEN_EXISTING), -EPROTO);
	cr_expect_eq(pshm_chan_create(empty, NULL, 0, PSHM_OPEN_EXISTING), -EPROTO);
	/* A channel header whose size disagrees with the file. */
	const char *cut = th_name("cut");
	cr_assert_eq(pshm_chan_create(cut, NULL, 0, 0), 0);
	char p[300];
	cr_assert_eq(truncate(th_path(cut, p, sizeof(p)), 8192), 0);
	cr_expect_eq(pshm_chan_create(cut, NULL, 0, PSHM_OPEN_EXISTING), -EPROTO);
}

Test(chan, create_refuses_a_planted_symlink_dir_or_fifo)
{
	const char *target = th_name("target"), *l = th_name("link"), *d = th_name("dir"),
		   *f = th_name("fifo");
	char p[300], q[300];
	th_path(target, q, sizeof(q));
	cr_assert_eq(symlink(q, th_path(l, p, sizeof(p))), 0);
	cr_assert_eq(mkdir(th_path(d, p, sizeof(p)), 0700), 0);
	cr_assert_eq(mkfifo(th_path(f, p, sizeof(p)), 0600), 0);
	const char *names[] = { l, d, f };
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(pshm_chan_create(names[i], NULL, 0, 0), -ENOTSUP, "%s", names[i]);
		cr_expect_eq(pshm_chan_create(names[i], NULL, 0, PSHM_OPEN_EXISTING), -ENOTSUP,
			     "%s, open existing", names[i]);
	}
	cr_expect_not(th_exists(target), "the symlink was not followed");
}

Test(chan, open_errors)
{
	pshm_chan *ch = (pshm_chan *)1;
	cr_expect_eq(pshm_chan_open(th_name("absent"), PSHM_CONSUMER, 0, &ch), -ENOENT);
	cr_expect_null(ch);
	const char *n = mkchan("roles", 4096, 0, PSHM_CHAN_SPSC);
	cr_expect_eq(pshm_chan_open(n, 3, 0, &ch), -EINVAL);
	cr_expect_eq(pshm_chan_open(n, PSHM_CONSUMER, PSHM_RDONLY, &ch), -EINVAL);
	cr_expect_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, NULL), -EINVAL);
	pshm_chan *c = open_as(n, PSHM_CONSUMER), *p = open_as(n, PSHM_PRODUCER);
	cr_expect_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, &ch), -EBUSY, "one consumer");
	cr_expect_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &ch), -EBUSY, "SPSC: one producer");
	pshm_chan_close(c);
	c = open_as(n, PSHM_CONSUMER); /* the slot is free again */
	pshm_chan_close(c);
	pshm_chan_close(p);
	pshm_chan_close(NULL);

	/* A segment that is not a channel. */
	const char *raw = th_name("raw");
	char junk[8192];
	memset(junk, 0x5a, sizeof(junk));
	th_write_file(raw, junk, sizeof(junk), 0600);
	cr_expect_eq(pshm_chan_open(raw, PSHM_CONSUMER, 0, &ch), -EPROTO);
	struct pshm_chan_info in;
	cr_expect_eq(pshm_chan_stat(raw, &in), -EPROTO);
	th_write_file(raw, junk, 10, 0600);
	cr_expect_eq(pshm_chan_open(raw, PSHM_CONSUMER, 0, &ch), -EPROTO, "shorter than a header");
	cr_expect_eq(pshm_chan_stat(raw, NULL), -EINVAL);
}

Test(chan, mpsc_table_full_is_eusers)
{
	const char *n = th_name("table");
	struct pshm_chan_config c = { .ring_size = 4096, .mode = PSHM_CHAN_MPSC, .max_producers = 2 };
	cr_assert_eq(pshm_chan_create(n, &c, 0, 0), 0);
	pshm_chan *a = open_as(n, PSHM_PRODUCER), *b = open_as(n, PSHM_PRODUCER), *x;
	cr_expect_eq(pshm_chan_open(n, PSHM_PRODUCER, 0, &x), -EUSERS);
	pshm_chan_close(a);
	x = open_as(n, PSHM_PRODUCER);
	pshm_chan_close(x);
	pshm_chan_close(b);
}

Test(chan, policy_refuses_group_writable_channel)
{
	const char *n = th_name("perm");
	struct pshm_chan_config c = { .ring_size = 4096 };
	cr_assert_eq(pshm_chan_create(n, &c, 0660, 0), 0);
	pshm_chan *ch;
	cr_expect_eq(pshm_chan_open(n, PSHM_CONSUMER, 0, &ch), -EPERM);
	cr_assert_eq(pshm_chan_open(n, PSHM_CONSUMER, PSHM_ALLOW_SHARED_WRITE, &ch), 0);
	pshm_chan_close(ch);
}

/* ---- sending and receiving ------------------------------------------------ */

static void fill(unsigned char *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(seed * 31 + i * 7);
}

/* Every size up to 130 bytes (the inline small copies and clears, each at
 * several positions in the ring's lines) and a few around the maximum:
 * each arrives intact, and nothing past its end is written. */
static void roundtrip_sizes(unsigned mode)
{
	const char *n = mkchan("sizes", 4096, 1024, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	cr_expect_eq(pshm_chan_max_msg(p), 1024);
	unsigned char in[1024], out[1024 + 1];
	size_t sizes[134];
	size_t nsizes = 0;
	for (size_t len = 0; len <= 130; len++)
		sizes[nsizes++] = len;
	sizes[nsizes++] = 1000;
	sizes[nsizes++] = 1023;
	sizes[nsizes++] = 1024;
	for (int lap = 0; lap < 20; lap++) {
		for (size_t i = 0; i < nsizes; i++) {
			fill(in, sizes[i], (unsigned)(lap * 1000 + i));
			cr_assert_eq(pshm_chan_send(p, in, sizes[i], 0), 0);
			memset(out, 0xa5, sizeof(out));
			cr_assert_eq(pshm_chan_recv(c, out, sizeof(out) - 1, 0), (ssize_t)sizes[i]);
			cr_assert_eq(memcmp(in, out, sizes[i]), 0, "size %zu lap %d", sizes[i], lap);
			cr_assert_eq(out[sizes[i]], 0xa5, "size %zu lap %d: written past the end",
				     sizes[i], lap);
		}
	}
	/* Queued before they are received: a wipe or copy that overran its
	 * record would damage the next one, already published. */
	for (size_t i = 0; i <= 130; i += 6) {
		size_t batch = i + 6 <= 131 ? 6 : 131 - i;
		for (size_t k = 0; k < batch; k++) {
			fill(in, i + k, (unsigned)(7000 + i + k));
			cr_assert_eq(pshm_chan_send(p, in, i + k, 0), 0);
		}
		for (size_t k = 0; k < batch; k++) {
			fill(in, i + k, (unsigned)(7000 + i + k));
			cr_assert_eq(pshm_chan_recv(c, out, sizeof(out) - 1, 0), (ssize_t)(i + k));
			cr_assert_eq(memcmp(in, out, i + k), 0, "queued size %zu", i + k);
		}
	}
	struct pshm_chan_info info;
	cr_assert_eq(pshm_chan_stat(n, &info), 0);
	cr_expect_eq(info.sent, 20 * nsizes + 131);
	cr_expect_eq(info.received, info.sent);
	cr_expect_eq(info.n_peers, 2);
	cr_expect_eq(info.peers[0].role, PSHM_CONSUMER);
	cr_expect_eq(info.peers[0].pid, getpid());
	cr_expect(info.peers[0].alive);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan, spsc_roundtrip_every_size_across_wraps) { roundtrip_sizes(PSHM_CHAN_SPSC); }
Test(chan, mpsc_roundtrip_every_size_across_wraps) { roundtrip_sizes(PSHM_CHAN_MPSC); }

static void msgsize(unsigned mode)
{
	const char *n = mkchan("msgsize", 4096, 100, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	char b[200] = "hello";
	void *ptr;
	cr_expect_eq(pshm_chan_send(p, b, 101, 0), -EMSGSIZE);
	cr_expect_eq(pshm_chan_reserve(p, 101, &ptr, 0), -EMSGSIZE);
	cr_assert_eq(pshm_chan_send(p, b, 100, 0), 0);
	cr_expect_eq(pshm_chan_recv(c, b, 99, 0), -EMSGSIZE, "buffer too small");
	cr_expect_eq(pshm_chan_recv(c, b, 100, 0), 100, "the message stayed queued");
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan, spsc_emsgsize) { msgsize(PSHM_CHAN_SPSC); }
Test(chan, mpsc_emsgsize) { msgsize(PSHM_CHAN_MPSC); }

static void full_and_empty(unsigned mode)
{
	const char *n = mkchan("full", 4096, 0, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	char b[100] = { 0 };
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EAGAIN);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 20 * MS), -ETIMEDOUT);
	const void *ptr;
	cr_expect_eq(pshm_chan_peek(c, &ptr, 0), -EAGAIN);
	int sent = 0;
	while (pshm_chan_send(p, b, sizeof(b), 0) == 0)
		sent++;
	cr_expect_geq(sent, 4096 / 112 - 2);
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 0), -EAGAIN);
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 20 * MS), -ETIMEDOUT);
	void *w;
	cr_expect_eq(pshm_chan_reserve(p, sizeof(b), &w, 0), -EAGAIN);
	struct pshm_chan_info info;
	cr_assert_eq(pshm_chan_stat(n, &info), 0);
	cr_expect_eq(info.pending, (uint64_t)sent);
	cr_expect_geq(info.used, (uint64_t)sent * 108);
	/* Two records free: one may go to padding at the end of the ring. */
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), (ssize_t)sizeof(b));
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), (ssize_t)sizeof(b));
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 0), 0, "room again");
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan, spsc_eagain_and_etimedout) { full_and_empty(PSHM_CHAN_SPSC); }
Test(chan, mpsc_eagain_and_etimedout) { full_and_empty(PSHM_CHAN_MPSC); }

Test(chan, wrong_role_and_state_is_einval_or_ebusy)
{
	const char *n = mkchan("einval", 4096, 0, PSHM_CHAN_SPSC);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	char b[8] = "x";
	void *w;
	const void *r;
	cr_expect_eq(pshm_chan_send(c, b, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_reserve(c, 1, &w, 0), -EINVAL);
	cr_expect_eq(pshm_chan_recv(p, b, sizeof(b), 0), -EINVAL);
	cr_expect_eq(pshm_chan_peek(p, &r, 0), -EINVAL);
	cr_expect_eq(pshm_chan_commit(p, 0), -EINVAL, "nothing reserved");
	cr_expect_eq(pshm_chan_release(c), -EINVAL, "nothing peeked");
	cr_expect_eq(pshm_chan_send(p, NULL, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_send(NULL, b, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_recv(NULL, b, 1, 0), -EINVAL);
	cr_expect_eq(pshm_chan_reserve(p, 1, NULL, 0), -EINVAL);
	cr_expect_eq(pshm_chan_peek(c, NULL, 0), -EINVAL);
	cr_expect_eq(pshm_chan_set_wait(p, 7, 0), -EINVAL);
	cr_expect_eq(pshm_chan_set_wait(NULL, PSHM_WAIT_POLL, 0), -EINVAL);
	cr_expect_eq(pshm_chan_set_wait(p, PSHM_WAIT_POLL, 0), 0);
	cr_assert_eq(pshm_chan_reserve(p, 4, &w, 0), 0);
	cr_expect_eq(pshm_chan_reserve(p, 4, &w, 0), -EBUSY, "one reservation at a time");
	cr_expect_eq(pshm_chan_send(p, b, 1, 0), -EBUSY);
	cr_expect_eq(pshm_chan_commit(p, 5), -EINVAL, "longer than reserved");
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EAGAIN, "not visible before commit");
	memcpy(w, "abcd", 4);
	cr_expect_eq(pshm_chan_commit(p, 4), 0);
	cr_expect_eq(pshm_chan_recv(c, NULL, 8, 0), -EINVAL);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), 4);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

static void zero_copy(unsigned mode)
{
	const char *n = mkchan("zc", 8192, 2000, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	for (unsigned i = 0; i < 500; i++) {
		size_t want = 1 + (i * 37) % 2000, len = want - (i % 3 ? 0 : want / 2);
		void *w;
		cr_assert_eq(pshm_chan_reserve(p, want, &w, 0), 0);
		fill(w, len, i);
		cr_assert_eq(pshm_chan_commit(p, len), 0, "shortened to %zu of %zu", len, want);
		const void *r1, *r2;
		cr_assert_eq(pshm_chan_peek(c, &r1, 0), (ssize_t)len);
		cr_assert_eq(pshm_chan_peek(c, &r2, 0), (ssize_t)len, "peek again: same message");
		cr_assert_eq(r1, r2);
		unsigned char expect[2000];
		fill(expect, len, i);
		cr_assert_eq(memcmp(r1, expect, len), 0);
		if (i % 2) {
			cr_assert_eq(pshm_chan_release(c), 0);
		} else {
			unsigned char got[2000];
			cr_assert_eq(pshm_chan_recv(c, got, sizeof(got), 0), (ssize_t)len,
				     "recv takes the peeked message");
		}
	}
	void *w;
	cr_assert_eq(pshm_chan_reserve(p, 10, &w, 0), 0);
	pshm_chan_close(p); /* drops the reservation */
	char b[16];
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EPIPE, "dropped, and the producer left");
	p = open_as(n, PSHM_PRODUCER);
	cr_assert_eq(pshm_chan_send(p, "after", 5, 0), 0);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), 5);
	cr_expect_eq(memcmp(b, "after", 5), 0);
	pshm_chan_close(p);
	pshm_chan_close(c);
}

Test(chan, spsc_zero_copy_reserve_commit_peek_release) { zero_copy(PSHM_CHAN_SPSC); }
Test(chan, mpsc_zero_copy_reserve_commit_peek_release) { zero_copy(PSHM_CHAN_MPSC); }

/* ---- peers coming and going -------------------------------------------- */

static void epipe_consumer(unsigned mode)
{
	const char *n = mkchan("epipe-c", 4096, 0, mode);
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	char b[16];
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 50 * MS), -ETIMEDOUT,
		     "no producer ever came: wait, do not report one gone");
	pshm_chan *p = open_as(n, PSHM_PRODUCER);
	cr_assert_eq(pshm_chan_send(p, "last", 4, 0), 0);
	pshm_chan_close(p);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), 4, "queued messages first");
	/* Bounded: -EPIPE, not -ETIMEDOUT, well before the timeout. */
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 5000 * MS), -EPIPE);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), -EPIPE, "and stays");
	pshm_chan_close(c);
}

Test(chan, spsc_consumer_gets_epipe_when_producers_left) { epipe_consumer(PSHM_CHAN_SPSC); }
Test(chan, mpsc_consumer_gets_epipe_when_producers_left) { epipe_consumer(PSHM_CHAN_MPSC); }

static void epipe_producer(unsigned mode)
{
	const char *n = mkchan("epipe-p", 4096, 0, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER);
	char b[200] = { 0 };
	while (pshm_chan_send(p, b, sizeof(b), 0) == 0)
		;
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 50 * MS), -ETIMEDOUT,
		     "no consumer ever came: wait");
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	pshm_chan_close(c);
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 5000 * MS), -EPIPE);
	c = open_as(n, PSHM_CONSUMER);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), (ssize_t)sizeof(b), "a new consumer drains");
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), (ssize_t)sizeof(b));
	cr_expect_eq(pshm_chan_send(p, b, sizeof(b), 0), 0);
	pshm_chan_close(c);
	pshm_chan_close(p);
}

Test(chan, spsc_producer_gets_epipe_when_consumer_left) { epipe_producer(PSHM_CHAN_SPSC); }
Test(chan, mpsc_producer_gets_epipe_when_consumer_left) { epipe_producer(PSHM_CHAN_MPSC); }

static void resume(unsigned mode)
{
	const char *n = mkchan("resume", 8192, 0, mode);
	pshm_chan *p = open_as(n, PSHM_PRODUCER), *c = open_as(n, PSHM_CONSUMER);
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(pshm_chan_send(p, &i, sizeof(i), 0), 0);
	unsigned v;
	const void *ptr;
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(pshm_chan_recv(c, &v, sizeof(v), 0), sizeof(v));
	cr_assert_eq(pshm_chan_peek(c, &ptr, 0), sizeof(v));
	pshm_chan_close(c); /* the peeked message (4) was not released */
	c = open_as(n, PSHM_CONSUMER);
	for (unsigned i = 4; i < 10; i++) {
		cr_assert_eq(pshm_chan_recv(c, &v, sizeof(v), 0), sizeof(v));
		cr_expect_eq(v, i, "resumes after the last released message");
	}
	pshm_chan_close(c);
	pshm_chan_close(p);
}

Test(chan, spsc_new_consumer_resumes_after_last_release) { resume(PSHM_CHAN_SPSC); }
Test(chan, mpsc_new_consumer_resumes_after_last_release) { resume(PSHM_CHAN_MPSC); }

Test(chan, spsc_new_producer_continues_the_stream)
{
	const char *n = mkchan("newprod", 4096, 0, PSHM_CHAN_SPSC);
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	for (unsigned round = 0; round < 50; round++) {
		pshm_chan *p = open_as(n, PSHM_PRODUCER);
		for (unsigned i = 0; i < 3; i++)
			cr_assert_eq(pshm_chan_send(p, &round, sizeof(round), 0), 0);
		pshm_chan_close(p);
		for (unsigned i = 0; i < 3; i++) {
			unsigned v;
			cr_assert_eq(pshm_chan_recv(c, &v, sizeof(v), 0), sizeof(v));
			cr_assert_eq(v, round);
		}
	}
	pshm_chan_close(c);
}

static void on_usr1(int sig)
{
	(void)sig;
}

Test(chan, a_signal_interrupts_a_wait_with_eintr)
{
	const char *n = mkchan("eintr", 4096, 0, PSHM_CHAN_SPSC);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		pshm_chan *c;
		if (pshm_chan_open(n, PSHM_CONSUMER, 0, &c))
			_exit(2);
		pshm_chan_set_wait(c, PSHM_WAIT_BLOCK, 0);
		char b[8];
		ssize_t r;
		/* The signal may land between two sleeps; it then interrupts the next. */
		do
			r = pshm_chan_recv(c, b, sizeof(b), 200 * MS);
		while (r == -ETIMEDOUT);
		_exit(r == -EINTR ? 0 : 1);
	}
	int st;
	for (int i = 0; i < 100; i++) {
		usleep(20000);
		kill(pid, SIGUSR1);
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
	}
	cr_assert_eq(waitpid(pid, &st, 0) == pid || errno == ECHILD, 1);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "recv returned -EINTR");
}

Test(chan, stat_reports_a_dead_peer)
{
	const char *n = mkchan("dead", 4096, 0, PSHM_CHAN_MPSC);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pshm_chan *p;
		if (pshm_chan_open(n, PSHM_PRODUCER, 0, &p) || pshm_chan_send(p, "x", 1, 0))
			_exit(1);
		_exit(0); /* without closing: the slot still names us */
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(WEXITSTATUS(st), 0);
	pshm_chan *c = open_as(n, PSHM_CONSUMER);
	struct pshm_chan_info in;
	cr_assert_eq(pshm_chan_stat(n, &in), 0);
	cr_assert_eq(in.n_peers, 2);
	cr_expect_eq(in.peers[0].role, PSHM_CONSUMER);
	cr_expect_eq(in.peers[0].alive, 1);
	cr_expect_eq(in.peers[1].role, PSHM_PRODUCER);
	cr_expect_eq(in.peers[1].pid, pid);
	cr_expect_eq(in.peers[1].alive, 0);
	cr_expect_eq(in.pending, 1);
	char b[4];
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 0), 1);
	cr_expect_eq(pshm_chan_recv(c, b, sizeof(b), 2000 * MS), -EPIPE);
	pshm_chan_close(c);
}


/* ---- the example programs ------------------------------------------------ */

Test(chan, examples_take_help_and_refuse_bad_arguments)
{
	const char *progs[] = { "chan_producer", "chan_consumer" };
	for (int i = 0; i < 2; i++) {
		const char *helps[] = { "--help", "-h" };
		for (int j = 0; j < 2; j++) {
			char cmd[512], *out = NULL, *err = NULL;
			snprintf(cmd, sizeof(cmd), "%s/%s %s", EXAMPLES_DIR, progs[i], helps[j]);
			cr_expect_eq(th_run(cmd, NULL, &out, &err), 0, "%s", cmd);
			cr_expect(strstr(out, "usage:") != NULL, "%s: %s", cmd, out);
			cr_expect_str_empty(err, "%s", cmd);
			free(out);
			free(err);
		}
		char cmd[512], *err = NULL;
		snprintf(cmd, sizeof(cmd), "%s/%s", EXAMPLES_DIR, progs[i]);
		cr_expect_eq(th_run(cmd, NULL, NULL, &err), 2, "%s without a name", progs[i]);
		cr_expect(strstr(err, "usage:") != NULL, "%s", err);
		free(err);
		snprintf(cmd, sizeof(cmd), "%s/%s --bogus", EXAMPLES_DIR, progs[i]);
		cr_expect_eq(th_run(cmd, NULL, NULL, NULL), 2, "%s --bogus", progs[i]);
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s/chan_producer %s 1x", EXAMPLES_DIR, th_name("count"));
	cr_expect_eq(th_run(cmd, NULL, NULL, NULL), 2, "a bad count");
	cr_expect_not(th_exists("--help"), "no channel named --help");
	cr_expect_not(th_exists("-h"));
	cr_expect_not(th_exists("--bogus"));
}
