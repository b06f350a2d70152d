# SPDX-License-Identifier: MIT
"""Topics: one publisher, any number of subscribers, each seeing every message.

A topic keeps its last ``history`` messages for subscribers that join
later. Blocking topics make the publisher wait for the slowest live
subscriber (nothing is lost); lossy ones never wait, and a subscriber that
falls a whole ring behind skips ahead and counts what it missed. See
pshm(7), TOPICS, and pshm_topic_create(3).
"""
from __future__ import annotations

import errno
from ctypes import (POINTER, Structure, byref, c_char_p, c_int, c_int64, c_size_t, c_ssize_t,
                    c_uint, c_uint64, c_void_p)
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from . import _lib
from ._chan import Reservation, _Chan, _Reader, _wait
from ._errors import Error, check
from ._util import Handle, Name, cname, policy, readable, show

RING_DEFAULT = 1 << 20
MSG_DEFAULT = 1008
MAX_SUBSCRIBERS = 256
PUBLISHER = 3
SUBSCRIBER = 4
BLOCKING = 0
LOSSY = 1
HISTORY = 1 << 16  # pshm_topic_open() flag: start from the oldest kept message


class _Config(Structure):
    _fields_ = [("ring_size", c_size_t), ("max_msg", c_size_t), ("history", c_uint),
                ("max_subscribers", c_uint), ("policy", c_uint)]


class _Sub(Structure):
    _fields_ = [("pid", _lib.c_pid_t), ("alive", c_int), ("next", c_uint64),
                ("lag", c_uint64), ("missed", c_uint64)]


class _Info(Structure):
    _fields_ = [("policy", c_uint), ("ring_size", c_uint64), ("max_msg", c_uint64),
                ("slots", c_uint64), ("history", c_uint), ("max_subscribers", c_uint),
                ("published", c_uint64), ("kept", c_uint64), ("publisher", _lib.c_pid_t),
                ("publisher_alive", c_int), ("n_subs", c_uint),
                ("subs", _Sub * MAX_SUBSCRIBERS)]


_fn = _lib._fn
_create = _fn("pshm_topic_create", c_int, c_char_p, POINTER(_Config), _lib.c_mode_t, c_uint)
_unlink = _fn("pshm_topic_unlink", c_int, c_char_p)
_open = _fn("pshm_topic_open", c_int, c_char_p, c_uint, c_uint, POINTER(c_void_p))
_close = _fn("pshm_topic_close", None, c_void_p)
_set_wait = _fn("pshm_topic_set_wait", c_int, c_void_p, c_uint, c_uint64)
_max_msg = _fn("pshm_topic_max_msg", c_size_t, c_void_p)
_slots = _fn("pshm_topic_slots", c_uint64, c_void_p)
_publish = _fn("pshm_topic_publish", c_int, c_void_p, c_void_p, c_size_t, c_int64)
_reserve = _fn("pshm_topic_reserve", c_int, c_void_p, c_size_t, POINTER(c_void_p), c_int64)
_commit = _fn("pshm_topic_commit", c_int, c_void_p, c_size_t)
_recv = _fn("pshm_topic_recv", c_ssize_t, c_void_p, c_void_p, c_size_t, c_int64)
_peek = _fn("pshm_topic_peek", c_ssize_t, c_void_p, POINTER(c_void_p), c_int64)
_release = _fn("pshm_topic_release", c_int, c_void_p)
_missed = _fn("pshm_topic_missed", c_uint64, c_void_p)
_seq = _fn("pshm_topic_seq", c_uint64, c_void_p)
_fd = _fn("pshm_topic_fd", c_int, c_void_p)
_stat = _fn("pshm_topic_stat", c_int, c_char_p, POINTER(_Info))


class Overwritten(Error):
    """ESTALE: a lossy topic's publisher overwrote the message being read in
    place (Subscriber.peek()): what was read may be torn; discard it. The
    message counts as missed."""


def topic_create(name: Name, size: int = RING_DEFAULT, max_msg: int = 0, history: int = 0,
                 lossy: bool = False, mode: int = 0o600, *, max_subscribers: int = 0,
                 exist_ok: bool = False, allow_foreign: bool = False,
                 allow_shared_write: bool = False) -> None:
    """Create the topic @name (exclusive unless @exist_ok).

    size: ring bytes, a power of two from 1 KiB to 2 GiB (default 1 MiB).
    max_msg: largest message (0: 1008, or less for a small ring; at most
    size / 2 - 16). history: messages kept for late subscribers (fewer
    than the ring holds). lossy: the publisher never waits (slow
    subscribers skip ahead) instead of waiting for the slowest.
    max_subscribers: attached at once (0: 64; at most 256).
    mode: permissions, set exactly (no umask); 0 means 0o600.
    exist_ok: accept an existing topic as it is (after the owner/mode
    policy, relaxed by allow_foreign / allow_shared_write), else Exists.
    """
    cfg = _Config(size, max_msg, history, max_subscribers, LOSSY if lossy else BLOCKING)
    flags = policy(allow_foreign, allow_shared_write)
    if exist_ok:
        flags |= _lib.OPEN_EXISTING
    check(_create(cname(name), byref(cfg), mode, flags), show(name))


def topic_unlink(name: Name) -> None:
    """Remove the topic @name (FormatError if it is not a topic).

    Attached handles keep working with each other; no new peer finds it."""
    check(_unlink(cname(name)), show(name))


@dataclass(frozen=True)
class SubscriberInfo:
    """One attached subscriber, as topic_stat() reports it."""
    pid: int
    alive: bool
    next: int    # number of the next message it will read
    lag: int     # messages published that it has not read yet
    missed: int  # messages it skipped (lossy topics)


@dataclass(frozen=True)
class TopicInfo:
    """A topic's state (a snapshot: counts may be a message apart)."""
    lossy: bool
    ring_size: int
    max_msg: int
    slots: int            # messages the ring holds
    history: int          # messages kept for late subscribers
    max_subscribers: int
    published: int        # messages published (the number of the last one)
    kept: int             # history messages a subscriber joining now gets
    publisher: int        # pid of the last publisher, 0 if none came
    publisher_alive: bool
    subscribers: Tuple[SubscriberInfo, ...]


def topic_stat(name: Name) -> TopicInfo:
    """Describe the topic @name without attaching to it."""
    i = _Info()
    check(_stat(cname(name), byref(i)), show(name))
    subs = tuple(SubscriberInfo(s.pid, bool(s.alive), s.next, s.lag, s.missed)
                 for s in i.subs[:min(i.n_subs, MAX_SUBSCRIBERS)])
    return TopicInfo(i.policy == LOSSY, i.ring_size, i.max_msg, i.slots, i.history,
                     i.max_subscribers, i.published, i.kept, i.publisher,
                     bool(i.publisher_alive), subs)


class _Topic(_Chan):
    """A handle on a topic: a channel handle with the topic's calls."""

    _what = "topic"
    _open_fn = _open
    _close_fn = _close
    _max_msg_fn = _max_msg
    _set_wait_fn = _set_wait
    _reserve_fn = _reserve
    _commit_fn = _commit
    _recv_fn = _recv
    _peek_fn = _peek
    _release_fn = _release

    @property
    def slots(self) -> int:
        """The number of messages the ring holds."""
        return _slots(self._ptr())

    @property
    def seq(self) -> int:
        """The number of the last message published (publisher) or received
        (subscriber) through this handle; 0 if none yet."""
        return _seq(self._ptr())


class Publisher(_Topic):
    """The publisher of the topic @name (a context manager). One at a time:
    Busy while another live process publishes.

    allow_foreign / allow_shared_write accept a topic owned by another user
    / writable by group or others (refused by default with
    PermissionDenied). poll=True busy-polls instead of sleeping.
    """

    _role = PUBLISHER

    def publish(self, data: Any, timeout: Optional[float] = None) -> None:
        """Publish @data (bytes, bytearray, memoryview, numpy array...) as one
        message to every subscriber.

        A blocking topic waits while its slowest live subscriber is a whole
        ring behind: for ever (None), not at all (0: WouldBlock) or at most
        @timeout seconds (Timeout). A lossy topic never waits.
        MessageTooLong above max_msg.
        """
        p = self._ptr()
        buf, n = readable(data)
        r = _wait(_publish, timeout, p, buf, n)
        if r:
            check(r, self.name)

    def reserve(self, n: int, timeout: Optional[float] = None) -> Reservation:
        """Zero-copy publish: ``with pub.reserve(n) as mv:`` write the message
        into ``mv`` (a writable memoryview of @n bytes in the ring); it is
        published on a normal exit (shortened to ``reservation.length`` if
        that was lowered).

        On an exception nothing is published: libpshm drops a reservation
        only by closing the handle, so the Publisher is closed (open a new
        one to go on). A view made from ``mv`` still alive at the end of the
        block (a slice, a numpy array from numpy.frombuffer(mv)) raises
        BufferError, and nothing is published either.
        """
        return Reservation(self, n, timeout)

    def _abort(self) -> None:
        # Dropped, not closed: views still alive keep the mapping (and the
        # reservation) until they go.
        self._h = None


class Subscriber(_Reader, _Topic):
    """A subscriber of the topic @name (a context manager, an iterator).

    history=True starts from the oldest message the topic keeps, else from
    the next one published. recv(), recv_into() and peek() work as a
    channel Consumer's; ``for msg in sub:`` ends when every message is read
    and the publisher is gone. On a lossy topic, recv() skips what was
    overwritten (see missed), and a peek() whose message was overwritten
    while it was read raises Overwritten at the end of its block.
    fileno() is a descriptor to wait on with select/poll/epoll/asyncio.
    allow_foreign / allow_shared_write / poll as for Publisher.
    """

    _role = SUBSCRIBER

    def __init__(self, name: Name, *, history: bool = False, allow_foreign: bool = False,
                 allow_shared_write: bool = False, poll: bool = False) -> None:
        self._history = HISTORY if history else 0
        super().__init__(name, allow_foreign=allow_foreign,
                         allow_shared_write=allow_shared_write, poll=poll)

    def _open(self) -> Handle:
        self._flags |= self._history
        return super()._open()

    @property
    def missed(self) -> int:
        """Messages this subscriber skipped since it attached (lossy topics):
        compare before and after a receive to see a gap."""
        return _missed(self._ptr())

    def fileno(self) -> int:
        """A descriptor that polls readable when a message may be there (or
        the publisher is gone): on POLLIN, receive with timeout=0 until
        WouldBlock. Owned by the handle: do not close it."""
        return check(_fd(self._ptr()), self.name)

    def _recv_large(self, p: int) -> bytes:
        while True:  # a copy overwritten while it was made counts as missed
            try:
                return super()._recv_large(p)
            except Overwritten:
                continue

    def _release(self) -> None:
        r = _release(self._ptr())
        if r == -errno.ESTALE:
            raise Overwritten(errno.ESTALE, "the message was overwritten while it was read "
                              "(lossy topic): discard what was read", self.name)
        check(r, self.name)


__all__: List[str] = ["topic_create", "topic_unlink", "topic_stat", "TopicInfo",
                      "SubscriberInfo", "Publisher", "Subscriber", "Overwritten"]
