# SPDX-License-Identifier: MIT
"""Channels: message queues between processes, in a named segment.

One consumer, one producer (SPSC) or up to 64 (MPSC). Messages of one
producer arrive in order, none lost, duplicated or torn; a producer killed
at any point never makes a partial message visible. See pshm(7), CHANNELS.
"""
from __future__ import annotations

import ctypes
import errno
import time
from ctypes import byref, c_void_p
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Iterator, List, Optional, Tuple, Type

from . import _lib
from ._errors import PeerGone, check, error
from ._util import (Attached, Handle, Name, cname, policy, readable, release, show,
                    timeout_ns, view, writable)

RING_DEFAULT = 1 << 20
RING_MIN = 1 << 10
RING_MAX = 1 << 31
# recv() copies through a buffer of at most this size; a larger message is
# copied straight from the ring (peek, one copy, release).
_RECV_BUF_MAX = 64 << 10


def chan_create(name: Name, size: int = RING_DEFAULT, max_msg: int = 0, mpsc: bool = False,
                mode: int = 0o600, *, max_producers: int = 0, exist_ok: bool = False,
                allow_foreign: bool = False, allow_shared_write: bool = False) -> None:
    """Create the channel @name (exclusive unless @exist_ok).

    size: ring bytes, a power of two from 1 KiB to 2 GiB (default 1 MiB).
    max_msg: largest message (0: size / 4; at most size - 16).
    mpsc: many producers (up to max_producers, default 64) instead of one.
    mode: permissions, set exactly (no umask); 0 means 0o600.
    exist_ok: accept an existing channel as it is (after the owner/mode
    policy, relaxed by allow_foreign / allow_shared_write), else Exists.

    Does not attach: open a Producer and a Consumer next. This is
    pshm_chan_create(name, cfg, mode, flags) of the C library.
    """
    cfg = _lib.CChanConfig(size, max_msg, _lib.CHAN_MPSC if mpsc else _lib.CHAN_SPSC,
                           max_producers)
    flags = policy(allow_foreign, allow_shared_write)
    if exist_ok:
        flags |= _lib.OPEN_EXISTING
    check(_lib.pshm_chan_create(cname(name), byref(cfg), mode, flags), show(name))


def chan_unlink(name: Name) -> None:
    """Remove the channel @name (FormatError if it is not a channel).

    Attached handles keep working with each other; no new peer finds it."""
    check(_lib.pshm_chan_unlink(cname(name)), show(name))


@dataclass(frozen=True)
class Peer:
    """One attached process, as chan_stat() reports it."""
    pid: int
    role: str  # "consumer" or "producer"
    alive: bool


@dataclass(frozen=True)
class ChanInfo:
    """A channel's state (a snapshot: counts may be a message apart)."""
    mpsc: bool
    ring_size: int
    max_msg: int
    used: int
    pending: int
    sent: int
    received: int
    max_producers: int
    peers: Tuple[Peer, ...]
    pending_capped: bool


def chan_stat(name: Name) -> ChanInfo:
    """Describe the channel @name without attaching to it."""
    info = _lib.CChanInfo()
    check(_lib.pshm_chan_stat(cname(name), byref(info)), show(name))
    peers = tuple(Peer(p.pid, "consumer" if p.role == _lib.CONSUMER else "producer",
                       bool(p.alive)) for p in info.peers[:info.n_peers])
    return ChanInfo(info.mode == _lib.CHAN_MPSC, info.ring_size, info.max_msg, info.used,
                    info.pending, info.sent, info.received, info.max_producers, peers,
                    bool(info.pending_capped))


# A wait longer than this is made in slices of it: see _retry().
_SLICE_NS = 100_000_000


def _retry(call: Any, timeout: Optional[float]) -> int:
    """Run call(timeout_ns) until it is done or @timeout expires, in slices
    of at most _SLICE_NS, and again after a signal interrupts it (-EINTR).

    Python runs its signal handlers between two slices, so Ctrl-C raises
    KeyboardInterrupt within a slice, even when the signal came while the
    library spun or was about to sleep, which no -EINTR reports; a handler
    that returns lets the wait go on with the time that is left."""
    ns = timeout_ns(timeout)
    deadline = None if ns < 0 else time.monotonic() + ns / 1e9
    while True:
        left = _SLICE_NS if deadline is None else int((deadline - time.monotonic()) * 1e9)
        if left <= 0:
            return -errno.ETIMEDOUT
        t = min(left, _SLICE_NS)
        r = call(t)
        if r != -errno.EINTR and (r != -errno.ETIMEDOUT or (deadline is not None and t == left)):
            return r


def _wait(fn: Any, timeout: Optional[float], *args: Any) -> int:
    """fn(*args, timeout_ns): a short wait (0 included) in one call, the
    common case, which costs no closure; a longer one, or one a signal
    interrupted, through _retry()."""
    ns = -1 if timeout is None else timeout_ns(timeout)
    if 0 <= ns <= _SLICE_NS:
        r = fn(*args, ns)
        if r != -errno.EINTR:
            return r
    return _retry(lambda t: fn(*args, t), timeout)


class _Chan(Attached):
    """A handle on a channel, or on anything else that works like one (a
    topic): the library calls it makes are class attributes, which the
    topic handles of _topic.py replace."""

    _role = 0
    _what = "channel"
    _open_fn = _lib.pshm_chan_open
    _close_fn = _lib.pshm_chan_close
    _max_msg_fn = _lib.pshm_chan_max_msg
    _set_wait_fn = _lib.pshm_chan_set_wait
    _reserve_fn = _lib.pshm_chan_reserve
    _commit_fn = _lib.pshm_chan_commit
    _recv_fn = _lib.pshm_chan_recv
    _peek_fn = _lib.pshm_chan_peek
    _release_fn = _lib.pshm_chan_release

    def __init__(self, name: Name, *, allow_foreign: bool = False,
                 allow_shared_write: bool = False, poll: bool = False) -> None:
        super().__init__(name)
        self._flags = policy(allow_foreign, allow_shared_write)
        self._h = self._open()
        self.max_msg: int = self._max_msg_fn(self._h.ptr)
        if poll:
            self.set_wait(poll=True)

    def _open(self) -> Handle:
        p = c_void_p()
        check(self._open_fn(self._cname, self._role, self._flags, byref(p)), self.name)
        return Handle(p.value, self._close_fn)

    def set_wait(self, poll: bool = False, spin_ns: int = 2**64 - 1) -> None:
        """How this handle waits: spin @spin_ns then sleep on a futex (default:
        the spin the library measured for this machine, PSHM_SPIN_AUTO), or
        busy-poll (poll=True: lowest latency, burns a core)."""
        check(self._set_wait_fn(self._ptr(), _lib.WAIT_POLL if poll else _lib.WAIT_BLOCK,
                                spin_ns))

    def _state(self) -> str:
        return f"max_msg={self.max_msg}"


class Producer(_Chan):
    """A producer attached to the channel @name (a context manager).

    allow_foreign / allow_shared_write accept a channel owned by another
    user / writable by group or others (refused by default with
    PermissionDenied). poll=True busy-polls instead of sleeping.
    """

    _role = _lib.PRODUCER

    def __init__(self, name: Name, *, allow_foreign: bool = False,
                 allow_shared_write: bool = False, poll: bool = False) -> None:
        super().__init__(name, allow_foreign=allow_foreign,
                         allow_shared_write=allow_shared_write, poll=poll)
        info = _lib.CChanInfo()
        self._mpsc = (_lib.pshm_chan_stat(self._cname, byref(info)) == 0 and
                      info.mode == _lib.CHAN_MPSC)
        self._poll = poll

    def send(self, data: Any, timeout: Optional[float] = None) -> None:
        """Send @data (bytes, bytearray, memoryview, numpy array...) as one message.

        Waits while the ring is full: for ever (None), not at all (0:
        WouldBlock) or at most @timeout seconds (Timeout). PeerGone when the
        consumer is gone and the ring is full; MessageTooLong above max_msg.
        """
        p = self._ptr()
        buf, n = readable(data)
        r = _wait(_lib.pshm_chan_send, timeout, p, buf, n)
        if r:
            check(r, self.name)

    def reserve(self, n: int, timeout: Optional[float] = None) -> "Reservation":
        """Zero-copy send: ``with p.reserve(n) as mv:`` write the message into
        ``mv`` (a writable memoryview of @n bytes in the ring).

        On a normal exit the message is published (shortened to
        ``reservation.length`` if that was lowered). On an exception
        nothing is published: libpshm drops a reservation only by closing
        the handle, so an MPSC producer attaches a fresh handle first, then
        closes the old one (the consumer skips the dropped slot), and an
        SPSC producer is closed (reattaching would leave a moment with no
        producer, which a waiting consumer takes for the end of the
        stream): open a new Producer to go on.

        ``mv`` is released on exit; if anything made from it is still alive
        (a slice, memoryview(mv), a numpy array from numpy.frombuffer(mv)),
        BufferError is raised and nothing is published: delete such views
        inside the block. (They keep the mapping alive: never a crash.)
        """
        return Reservation(self, n, timeout)

    def _abort(self) -> None:
        old = self._h
        self._h = None
        if self._mpsc:
            try:
                self._h = self._open()
                if self._poll:
                    self.set_wait(poll=True)
            except OSError:
                self._h = None
        # Dropped, not closed: if views of the reservation are still alive
        # (the BufferError case), the handle, and so the reservation, goes
        # when they do, and they never see the mapping go from under them.
        del old


class Reservation:
    """The context manager Producer.reserve() returns (see there)."""

    def __init__(self, prod: Any, n: int, timeout: Optional[float]) -> None:
        self._prod = prod
        self.length = n
        self._n = n
        self._timeout = timeout
        self._mv: Optional[memoryview] = None
        self._arr: Any = None

    def __enter__(self) -> memoryview:
        prod = self._prod
        p = prod._ptr()
        ptr = c_void_p()
        n, t = self._n, self._timeout
        r = _wait(prod._reserve_fn, t, p, n, byref(ptr))
        if r:
            check(r, prod.name)
        self._arr, self._mv = view(prod._h, ptr.value or 0, n,  # type: ignore[arg-type]
                                   readonly=False)
        return self._mv

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        mv, self._mv = self._mv, None
        arr, self._arr = self._arr, None
        if not release(arr, mv):  # type: ignore[arg-type]
            self._prod._abort()
            if et is None:
                raise BufferError("pshm: a view of the reserved message is still alive "
                                  "(a slice, a numpy array made from it): delete it before "
                                  "the with block ends; the message was not sent") from None
            return
        if et is not None:
            self._prod._abort()
            return
        if not 0 <= self.length <= self._n:
            self._prod._abort()
            raise ValueError(f"reservation length {self.length} outside 0..{self._n}")
        check(self._prod._commit_fn(self._prod._ptr(), self.length), self._prod.name)


class _Reader(_Chan):
    """What a channel's consumer and a topic's subscriber share: recv, peek."""

    def __init__(self, name: Name, *, allow_foreign: bool = False,
                 allow_shared_write: bool = False, poll: bool = False) -> None:
        super().__init__(name, allow_foreign=allow_foreign,
                         allow_shared_write=allow_shared_write, poll=poll)
        cap = min(self.max_msg, _RECV_BUF_MAX)
        self._buf = (ctypes.c_char * max(cap, 1))()
        self._cap = cap
        self._bufmv = memoryview(self._buf).cast("B")

    def recv(self, timeout: Optional[float] = None) -> bytes:
        """The next message, as bytes (one copy).

        Waits for ever (None), not at all (0: WouldBlock) or at most
        @timeout seconds (Timeout). PeerGone when the ring is empty and
        every producer is gone; IntegrityError or FormatError for a
        corrupted channel.
        """
        p = self._ptr()
        buf, cap = self._buf, self._cap
        r = _wait(self._recv_fn, timeout, p, buf, cap)
        if r >= 0:
            return self._bufmv[:r].tobytes()
        if r != -errno.EMSGSIZE:
            raise error(r, self.name)
        return self._recv_large(p)

    def _recv_large(self, p: int) -> bytes:
        """The next message, larger than our buffer: copied straight out of
        the ring."""
        ptr = c_void_p()
        n = check(self._peek_fn(p, byref(ptr), 0), self.name)
        data = ctypes.string_at(ptr.value or 0, n)
        self._release()
        return data

    def _release(self) -> None:
        """Release the message peeked (it goes back to the producers)."""
        check(self._release_fn(self._ptr()), self.name)

    def recv_into(self, buffer: Any, timeout: Optional[float] = None) -> int:
        """Receive the next message into @buffer (writable, C-contiguous) and
        return its length. MessageTooLong if it does not fit (the message
        stays queued)."""
        p = self._ptr()
        buf, n = writable(buffer)
        return check(_wait(self._recv_fn, timeout, p, buf, n), self.name)

    def peek(self, timeout: Optional[float] = None) -> "Peek":
        """Zero-copy receive: ``with c.peek() as mv:`` read the next message in
        place through ``mv`` (a read-only memoryview into the ring).

        On exit ``mv`` is released and so is the message (its space goes
        back to the producers). If anything made from ``mv`` is still alive
        (a slice, memoryview(mv), a numpy array from numpy.frombuffer(mv)),
        BufferError is raised and the message stays peeked (the next
        peek() or recv() returns it again). The bytes live in shared
        memory: a hostile producer may still change them; copy what must
        not change under you. To keep a copy, prefer recv() or
        recv_into(), which copy under the library's SIGBUS guard:
        ``bytes(mv)`` is a plain copy, and if another process truncates
        the segment meanwhile, SIGBUS ends the interpreter.
        """
        return Peek(self, timeout)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self.recv()
        except PeerGone:
            raise StopIteration from None


class Consumer(_Reader):
    """The consumer of the channel @name (a context manager, an iterator).

    ``for msg in consumer:`` yields each message as bytes and ends when the
    ring is empty and every producer is gone. allow_foreign /
    allow_shared_write as for Producer.
    """

    _role = _lib.CONSUMER


class Peek:
    """The context manager Consumer.peek() returns (see there)."""

    def __init__(self, cons: _Reader, timeout: Optional[float]) -> None:
        self._cons = cons
        self._timeout = timeout
        self._mv: Optional[memoryview] = None
        self._arr: Any = None

    def __enter__(self) -> memoryview:
        cons = self._cons
        p = cons._ptr()
        ptr = c_void_p()
        t = self._timeout
        n = _wait(cons._peek_fn, t, p, byref(ptr))
        if n < 0:
            check(n, cons.name)
        self._arr, self._mv = view(cons._h, ptr.value or 0, n,  # type: ignore[arg-type]
                                   readonly=True)
        return self._mv

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        mv, self._mv = self._mv, None
        arr, self._arr = self._arr, None
        if not release(arr, mv):  # type: ignore[arg-type]
            if et is None:
                raise BufferError("pshm: a view of the peeked message is still alive "
                                  "(a slice, a numpy array made from it): delete it before "
                                  "the with block ends; the message was not released") from None
            return
        self._cons._release()


__all__: List[str] = ["chan_create", "chan_unlink", "chan_stat", "ChanInfo", "Peer",
                      "Producer", "Consumer", "Reservation", "Peek"]
