# SPDX-License-Identifier: MIT
"""Helpers shared by the modules of the package (names, buffers, timeouts)."""
from __future__ import annotations

import ctypes
import os
import sys
from types import TracebackType
from typing import Any, Optional, Tuple, Type, Union

from . import _lib

Name = Union[str, bytes, "os.PathLike[str]"]


def cname(name: Name) -> bytes:
    """A segment name as the C library takes it (bytes, no NUL)."""
    b = os.fsencode(name)
    if b"\0" in b:
        raise ValueError("segment name contains a NUL byte")
    return b


def show(name: Name) -> str:
    """A segment name for messages."""
    return os.fsdecode(name) if not isinstance(name, str) else name


def timeout_ns(timeout: Optional[float]) -> int:
    """Seconds (None: for ever, 0: try once) to the library's nanoseconds."""
    if timeout is None:
        return _lib.FOREVER
    if timeout < 0:
        raise ValueError("timeout must be None (wait for ever) or >= 0 seconds")
    return min(int(timeout * 1e9), 2**63 - 1)


def policy(allow_foreign: bool, allow_shared_write: bool) -> int:
    return ((_lib.ALLOW_FOREIGN if allow_foreign else 0) |
            (_lib.ALLOW_SHARED_WRITE if allow_shared_write else 0))


def readable(data: Any) -> Tuple[Any, int]:
    """(something ctypes passes as a void *, length) for a bytes-like object.

    bytes are passed as they are; a writable buffer (bytearray, numpy
    array, writable memoryview) by address, without a copy; a read-only
    buffer other than bytes is copied once.
    """
    if type(data) is bytes:
        return data, len(data)
    mv = memoryview(data)
    if not mv.c_contiguous:
        raise BufferError("pshm needs a C-contiguous buffer")
    n = mv.nbytes
    if n == 0:
        return None, 0
    if mv.readonly:
        return mv.tobytes(), n
    return (ctypes.c_char * n).from_buffer(mv.cast("B")), n


def writable(buffer: Any) -> Tuple[Any, int]:
    """(ctypes object at the start of @buffer, its length) for a writable buffer."""
    mv = memoryview(buffer)
    if mv.readonly:
        raise TypeError("recv_into() needs a writable buffer (bytearray, numpy array...)")
    if not mv.c_contiguous:
        raise BufferError("pshm needs a C-contiguous buffer")
    n = mv.nbytes
    if n == 0:
        return None, 0
    return (ctypes.c_char * n).from_buffer(mv.cast("B")), n


class Handle:
    """Owns a C handle; closes it when the last reference goes.

    Memoryviews handed out by reserve() and peek() keep a reference to the
    Handle through the ctypes array they view, so the mapping stays in
    place while any view (or slice, or numpy array made from one) exists:
    a stale view reads changed bytes, never unmapped memory.
    """

    __slots__ = ("ptr", "_close", "__weakref__")

    def __init__(self, ptr: int, close: Any) -> None:
        self.ptr = ptr
        self._close = close

    def close(self) -> None:
        p, self.ptr = self.ptr, None
        if p:
            self._close(p)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


def view(handle: Handle, addr: int, n: int, readonly: bool) -> Tuple[Any, memoryview]:
    """A memoryview of @n bytes at @addr, and the ctypes array it views.

    The array keeps @handle (the mapping) alive. Every memoryview made from
    the returned one (slices, memoryview(mv), numpy.frombuffer(mv)) holds
    the array through the same managed buffer, so after releasing ``mv``,
    views_alive(array) tells whether any of them is still around.
    """
    arr = (ctypes.c_char * n).from_address(addr)
    arr._pshm_handle = handle  # type: ignore[attr-defined]
    mv = memoryview(arr).cast("B")
    return arr, (mv.toreadonly() if readonly else mv)


def release(arr: Any, mv: memoryview) -> bool:
    """Release @mv; True if no view of @arr is left.

    Every view made from @mv shares its managed buffer, which holds one
    reference to @arr until the last of those views goes: releasing @mv
    drops that reference only if no other view is left (CPython reference
    counts, compared before and after, so whatever else refers to @arr
    does not matter)."""
    before = sys.getrefcount(arr)
    try:
        mv.release()
    except BufferError:  # an object holds a buffer export of mv itself
        return False
    del mv
    return sys.getrefcount(arr) < before


class Attached:
    """What every handle class (channel, topic, service) does with its
    Handle: closed once, checked before each use, a context manager."""

    _what = "segment"

    def __init__(self, name: Name) -> None:
        self.name = show(name)
        self._cname = cname(name)
        self._h: Optional[Handle] = None

    def _ptr(self) -> int:
        h = self._h
        if h is None or not h.ptr:
            raise ValueError(f"{self._what} '{self.name}': the handle is closed")
        return h.ptr

    def close(self) -> None:
        """Detach. Idempotent. The mapping goes when no memoryview of it is left."""
        h, self._h = self._h, None
        if h is not None:
            del h  # closed now, unless a view still holds it (then when it goes)

    @property
    def closed(self) -> bool:
        return self._h is None

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def _state(self) -> str:
        return ""

    def __repr__(self) -> str:
        state = "closed" if self.closed else self._state()
        return f"<pshm.{type(self).__name__} '{self.name}' {state}>"
