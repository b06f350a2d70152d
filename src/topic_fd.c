/* SPDX-License-Identifier: MIT */
/*
 * topic_fd.c — a descriptor to poll a subscriber with. Across processes
 * there is no descriptor that a futex word can make readable, short of
 * passing one over a socket (which a publisher in another container may
 * not be able to do). So the handle makes an eventfd and one thread that
 * does what a blocked receive does: sleeps on the topic's futex, and when
 * a message is there for this subscriber (or its publisher is gone), makes
 * the eventfd readable and waits until a receive that found nothing
 * drains it (pshm__topic_fd_rearm()), then watches again.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "topic.h"

struct topic_fd {
	int efd;
	pthread_t th;
	uint32_t armed; /* futex word: 1 while the eventfd is signalled */
	int stop;
	bool mb, seen;  /* the thread's own copies of the handle's */
	uint64_t attaches0;
	int64_t next_check;
};

/* Is there something for the application to receive: a message, a lap
 * to count, or (checked every T_FD_CHECK_NS) the end of the publisher? */
static int fd_ready(pshm_topic *t, struct topic_fd *f)
{
	uint64_t next = LOAD_ACQ(&t->subs[t->slot].next);
	if (next <= UINT64_MAX / 4 && sub_ready_at(t, next))
		return 1;
	int64_t now = pshm__now_ns();
	if (now < f->next_check)
		return 0;
	f->next_check = now + T_FD_CHECK_NS;
	uint64_t mark = LOAD_ACQ(&t->h->pub_attaches);
	if (pshm__topic_pub_alive(t)) {
		f->seen = true;
		return 0;
	}
	return f->seen || mark != f->attaches0;
}

/* Sleep on the topic's futex as a receive would, at most T_FD_CHECK_NS. */
static int fd_sleep(pshm_topic *t, struct topic_fd *f)
{
	STORE(&t->h->data_wait, 1);
	pshm__topic_sleep_fence(t, &f->mb);
	uint64_t next = LOAD_ACQ(&t->subs[t->slot].next);
	if ((next <= UINT64_MAX / 4 && sub_ready_at(t, next)) || LOAD_ACQ(&f->stop))
		return 0;
	(void)pshm__futex_wait(&t->h->data_wait, 1, T_FD_CHECK_NS);
	return 0;
}

static void *fd_thread(void *arg)
{
	pshm_topic *t = arg;
	struct topic_fd *f = t->fd;
	while (!LOAD_ACQ(&f->stop)) {
		if (LOAD_ACQ(&f->armed)) {
			(void)pshm__futex_wait(&f->armed, 1, -1);
			continue;
		}
		int r;
		TOPIC_GUARDED(r, t, fd_ready(t, f));
		if (r != 0) {
			/* A truncated segment (r < 0) is news too: the next
			 * receive reports it. */
			STORE_REL(&f->armed, 1);
			uint64_t one = 1;
			ssize_t k = write(f->efd, &one, sizeof(one));
			(void)k;
			continue;
		}
		TOPIC_GUARDED(r, t, fd_sleep(t, f));
		if (r < 0)
			STORE_REL(&f->armed, 0);
	}
	return NULL;
}

int pshm_topic_fd(pshm_topic *t)
{
	if (!t || t->role != PSHM_SUBSCRIBER || t->detached)
		return -EINVAL;
	if (t->fd)
		return t->fd->efd;
	struct topic_fd *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0) {
		int e = -errno;
		free(f);
		return e;
	}
	f->mb = t->mb;
	f->seen = t->seen_peer;
	f->attaches0 = t->attaches0;
	t->fd = f;
	/* The thread takes none of the application's signals, but the
	 * faults it may cause itself stay open: a blocked SIGBUS would kill
	 * the process instead of reaching the guard. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&f->th, NULL, fd_thread, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		t->fd = NULL;
		close(f->efd);
		free(f);
		return -r;
	}
	return f->efd;
}

void pshm__topic_fd_rearm(pshm_topic *t)
{
	struct topic_fd *f = t->fd;
	if (!f)
		return;
	uint64_t v;
	ssize_t k = read(f->efd, &v, sizeof(v));
	(void)k;
	STORE_REL(&f->armed, 0);
	pshm__futex_wake(&f->armed, 1);
}

void pshm__topic_fd_stop(pshm_topic *t)
{
	struct topic_fd *f = t->fd;
	if (!f)
		return;
	STORE_REL(&f->stop, 1);
	STORE_REL(&f->armed, 0);
	pshm__futex_wake(&f->armed, 1);
	/* If it sleeps on the topic's futex, it wakes within T_FD_CHECK_NS
	 * anyway; a wake makes it sooner (and costs other sleepers a look). */
	int r;
	TOPIC_GUARDED(r, t, pshm__futex_wake(&t->h->data_wait, INT_MAX));
	(void)r;
	pthread_join(f->th, NULL);
	close(f->efd);
	free(f);
	t->fd = NULL;
}
