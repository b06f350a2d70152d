/* SPDX-License-Identifier: MIT */
/*
 * chan_peer.c — channel peers: each attached process holds a slot (the
 * consumer slot 0, producers 1..max_producers). The slot's liveness lock
 * (live.c: an exclusive OFD lock on byte PSHM__LOCK_ROLE(i) of the file),
 * held while the peer lives, says whether it is still there; the slot's
 * owner word names its pid, for display only, and changes with every claim.
 */
#include "chan.h"

bool pshm__chan_owner_alive(int fd, unsigned i, uint64_t o)
{
	unsigned state = owner_state(o);
	if (state != OWN_CLAIMING && state != OWN_ACTIVE)
		return false;
	return fd >= 0 && pshm__live_byte(fd, PSHM__LOCK_ROLE(i));
}

bool pshm__chan_slot_alive(const pshm_chan *ch, unsigned i)
{
	if (ch->detached)
		return false;
	return pshm__chan_owner_alive(ch->lock_fd, i, LOAD_ACQ(&slot_at(ch, i)->owner));
}

bool pshm__chan_producers_alive(const pshm_chan *ch)
{
	for (unsigned i = 1; i <= ch->nprod; i++)
		if (pshm__chan_slot_alive(ch, i))
			return true;
	return false;
}

/* Write our pid into slot @i, whose lock we hold (see owner words in
 * shared.h). A detached handle has no lock and no rival. */
static void slot_take(pshm_chan *ch, unsigned i)
{
	struct chan_slot *s = slot_at(ch, i);
	owner_claim(&s->owner);
	STORE(&s->start, 0);
	ch->slot = i;
}

void pshm__chan_slot_free(pshm_chan *ch)
{
	owner_release(&slot_at(ch, ch->slot)->owner);
	/* The lock goes after the word: whoever takes the slot next finds
	 * the word already free. (Closing the file would drop it anyway.) */
	pshm__lock_drop(ch->lock_fd, PSHM__LOCK_ROLE(ch->slot));
}

bool pshm__chan_peer_came(const pshm_chan *ch)
{
	unsigned a, b;
	peer_range(ch, &a, &b);
	for (unsigned i = a; i <= b; i++)
		if (LOAD_ACQ(&slot_at(ch, i)->owner) != ch->owners0[i])
			return true;
	return false;
}

/* A dead producer's slot may be reused only once the consumer is past the
 * claim it may have left: its intent is what resolves that claim. */
static bool intent_settled(const pshm_chan *ch, const struct chan_slot *s)
{
	uint64_t ip = LOAD_ACQ(&s->ipos);
	return ip == IDLE || ip < LOAD_ACQ(&ch->h->head);
}

/* Try slot @i: 1 taken, 0 held by a live peer (or not reusable yet), or
 * -errno when the lock cannot be taken at all. */
static int try_slot(pshm_chan *ch, unsigned i, bool free_only)
{
	struct chan_slot *s = slot_at(ch, i);
	int r = pshm__slot_lock(ch->lock_fd, &s->owner, PSHM__LOCK_ROLE(i), free_only);
	if (r <= 0)
		return r;
	/* Ours: whoever had it is gone. A dead producer's claim must be
	 * settled first. */
	if (ch->role == PSHM_PRODUCER && ch->mode == PSHM_CHAN_MPSC &&
	    owner_state(LOAD_ACQ(&s->owner)) && !intent_settled(ch, s)) {
		pshm__lock_drop(ch->lock_fd, PSHM__LOCK_ROLE(i));
		return 0;
	}
	slot_take(ch, i);
	return 1;
}

int pshm__chan_claim_slot(pshm_chan *ch)
{
	if (ch->role == PSHM_CONSUMER || ch->mode == PSHM_CHAN_SPSC) {
		int r = try_slot(ch, ch->role == PSHM_CONSUMER ? 0 : 1, false);
		return r < 0 ? r : r ? 0 : -EBUSY;
	}
	/* MPSC producer: a free slot first, then one whose owner is dead. */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 1; i <= ch->nprod; i++) {
			int r = try_slot(ch, i, pass == 0);
			if (r != 0)
				return r < 0 ? r : 0;
		}
	return -EUSERS;
}
