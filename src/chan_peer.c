/* SPDX-License-Identifier: MIT */
/*
 * chan_peer.c — channel peers: each attached process holds a slot (the
 * consumer slot 0, producers 1..max_producers) naming its pid and start
 * time, which tells the other side whether it is still there (live.c).
 */
#include "chan.h"

bool pshm__chan_owner_alive(uint64_t o, uint64_t start)
{
	unsigned state = owner_state(o);
	if (state != OWN_CLAIMING && state != OWN_ACTIVE)
		return false;
	/* CLAIMING: the start time is not written yet; a start of 0 means
	 * the owner could not read its own, so the pid is all there is. */
	return pshm__live_proc((pid_t)(uint32_t)o, state == OWN_CLAIMING ? 0 : start);
}

bool pshm__chan_slot_alive(const pshm_chan *ch, unsigned i)
{
	if (ch->detached)
		return false;
	const struct chan_slot *s = slot_at(ch, i);
	uint64_t o = LOAD_ACQ(&s->owner);
	return owner_state(o) && pshm__chan_owner_alive(o, LOAD(&s->start));
}

bool pshm__chan_producers_alive(const pshm_chan *ch)
{
	for (unsigned i = 1; i <= ch->nprod; i++)
		if (pshm__chan_slot_alive(ch, i))
			return true;
	return false;
}

/*
 * Take slot @i if it still holds @seen: CLAIMING first, then the start
 * time, then ACTIVE, so a checker never pairs our pid with a stale time.
 * The generation grows with every claim, so the other side can tell that
 * a peer came (even one that died at once) by the owner word changing.
 */
static bool slot_take(pshm_chan *ch, unsigned i, uint64_t seen, uint64_t start)
{
	struct chan_slot *s = slot_at(ch, i);
	uint64_t gen = ((seen >> 40) + 1) << 40;
	uint64_t pid = (uint32_t)getpid();
	if (!__atomic_compare_exchange_n(&s->owner, &seen, gen | pid | (uint64_t)OWN_CLAIMING << 32,
					 false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;
	STORE(&s->start, start);
	STORE_REL(&s->owner, gen | pid | (uint64_t)OWN_ACTIVE << 32);
	ch->slot = i;
	return true;
}

void pshm__chan_slot_free(pshm_chan *ch)
{
	struct chan_slot *s = slot_at(ch, ch->slot);
	STORE_REL(&s->owner, LOAD(&s->owner) & ~(((uint64_t)1 << 40) - 1));
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

int pshm__chan_claim_slot(pshm_chan *ch, uint64_t start)
{
	if (ch->role == PSHM_CONSUMER || ch->mode == PSHM_CHAN_SPSC) {
		unsigned i = ch->role == PSHM_CONSUMER ? 0 : 1;
		struct chan_slot *s = slot_at(ch, i);
		uint64_t o = LOAD_ACQ(&s->owner);
		if (owner_state(o) && pshm__chan_owner_alive(o, LOAD(&s->start)))
			return -EBUSY;
		return slot_take(ch, i, o, start) ? 0 : -EBUSY;
	}
	/* MPSC producer: a free slot first, then one whose owner is dead. */
	for (unsigned i = 1; i <= ch->nprod; i++) {
		uint64_t o = LOAD(&slot_at(ch, i)->owner);
		if (owner_state(o) == 0 && slot_take(ch, i, o, start))
			return 0;
	}
	for (unsigned i = 1; i <= ch->nprod; i++) {
		struct chan_slot *s = slot_at(ch, i);
		uint64_t o = LOAD_ACQ(&s->owner);
		if (owner_state(o) && !pshm__chan_owner_alive(o, LOAD(&s->start)) && intent_settled(ch, s) &&
		    slot_take(ch, i, o, start))
			return 0;
	}
	return -EUSERS;
}
