# SPDX-License-Identifier: MIT
"""Boxes: one checked value in a named segment.

A box holds one value behind a header with a CRC-32C and a sequence number
(a seqlock): readers never see a torn value, and bytes changed behind
pshm's back give IntegrityError instead of a wrong value.
"""
from __future__ import annotations

import ctypes
import errno
from ctypes import byref, c_void_p
from dataclasses import dataclass
from types import TracebackType
from typing import Any, List, Optional, Type

from . import _lib
from ._errors import Exists, check, error
from ._util import Handle, Name, cname, policy, readable, show

DEFAULT_CAPACITY = 4096


@dataclass(frozen=True)
class BoxInfo:
    """What verify() and box_stat() report."""
    capacity: int
    length: int
    seq: int
    writer: int  # thread id of a writer caught mid-write, 0 if none
    writer_alive: bool


def _info(i: _lib.CBoxInfo) -> BoxInfo:
    return BoxInfo(i.capacity, i.length, i.seq, i.writer, bool(i.writer_alive))


class Box:
    """An open box (a context manager). ``Box(name)`` opens an existing box;
    ``Box.create(name, capacity)`` makes a new one.

    readonly: open for reading only. allow_foreign / allow_shared_write:
    accept a box owned by another user / writable by group or others
    (refused by default with PermissionDenied). A Box may be used by
    several threads at once.
    """

    def __init__(self, name: Name, *, readonly: bool = False, allow_foreign: bool = False,
                 allow_shared_write: bool = False, _ptr: Optional[int] = None) -> None:
        self.name = show(name)
        if _ptr is None:
            p = c_void_p()
            flags = policy(allow_foreign, allow_shared_write) | (_lib.RDONLY if readonly else 0)
            check(_lib.pshm_box_open(cname(name), flags, byref(p)), self.name)
            _ptr = p.value
        self._h: Optional[Handle] = Handle(_ptr, _lib.pshm_box_close)  # type: ignore[arg-type]
        self.capacity: int = _lib.pshm_box_capacity(_ptr)

    @classmethod
    def create(cls, name: Name, capacity: int = DEFAULT_CAPACITY, *, mode: int = 0o600,
               exist_ok: bool = False, allow_foreign: bool = False,
               allow_shared_write: bool = False) -> "Box":
        """Create the box @name for values of up to @capacity bytes, holding the
        empty value (exclusive unless @exist_ok: then an existing box is
        opened, with whatever capacity it has). mode: set exactly, 0 means 0o600."""
        p = c_void_p()
        flags = policy(allow_foreign, allow_shared_write) | (_lib.OPEN_EXISTING if exist_ok else 0)
        check(_lib.pshm_box_create(cname(name), capacity, mode, flags, byref(p)), show(name))
        return cls(name, _ptr=p.value)

    def _ptr(self) -> int:
        h = self._h
        if h is None:
            raise ValueError(f"box '{self.name}' is closed")
        return h.ptr  # type: ignore[return-value]

    def put(self, data: Any) -> None:
        """Store @data (bytes-like) as the value. MessageTooLong above capacity;
        WouldBlock if another live writer kept the box for about 2 s."""
        buf, n = readable(data)
        check(_lib.pshm_box_write(self._ptr(), buf, n), self.name)

    def get(self) -> bytes:
        """The value, checked (header, completeness, CRC-32C).

        IntegrityError if it was changed behind pshm's back; WouldBlock
        while a write is in progress or after a writer died mid-write (the
        next put() repairs the box)."""
        p = self._ptr()
        want = self.capacity
        if want > 1 << 20:
            # Read with a buffer of the current length, not the capacity
            # (up to 1 TiB); a value that grew meanwhile gets a second try.
            info = _lib.CBoxInfo()
            if _lib.pshm_box_stat(cname(self.name), byref(info)) == 0 and info.length <= want:
                want = info.length
        for cap in (want, self.capacity):
            buf = ctypes.create_string_buffer(max(cap, 1))
            r = _lib.pshm_box_read(p, buf, cap)
            if r >= 0:
                return buf.raw[:r]
            if r != -errno.EMSGSIZE:
                break
        raise error(r, self.name)

    def verify(self) -> BoxInfo:
        """Check the value as get() does without returning it; describe the box."""
        info = _lib.CBoxInfo()
        check(_lib.pshm_box_verify(self._ptr(), byref(info)), self.name)
        return _info(info)

    def close(self) -> None:
        """Close the handle (the box stays). Idempotent."""
        h, self._h = self._h, None
        if h is not None:
            h.close()

    def __enter__(self) -> "Box":
        return self

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pshm.Box '{self.name}' capacity={self.capacity}{' closed' if self._h is None else ''}>"


def box_put(name: Name, data: Any, *, capacity: Optional[int] = None, mode: int = 0o600,
            allow_foreign: bool = False, allow_shared_write: bool = False) -> None:
    """Store @data as the value of the box @name, creating the box if it does
    not exist (capacity: @capacity, else 4096 bytes or the value's size if
    larger; mode set exactly). A box this call created is removed again if
    the write fails."""
    n = memoryview(data).nbytes
    cap = capacity if capacity is not None else max(DEFAULT_CAPACITY, n)
    created = False
    try:
        box = Box.create(name, cap, mode=mode, allow_foreign=allow_foreign,
                         allow_shared_write=allow_shared_write)
        created = True
    except Exists:
        box = Box(name, allow_foreign=allow_foreign, allow_shared_write=allow_shared_write)
    with box:
        try:
            box.put(data)
        except BaseException:
            if created:
                _lib.pshm_box_unlink(cname(name))
            raise


def box_get(name: Name, *, allow_foreign: bool = False, allow_shared_write: bool = False) -> bytes:
    """The checked value of the box @name (IntegrityError if it was changed
    behind pshm's back)."""
    with Box(name, readonly=True, allow_foreign=allow_foreign,
             allow_shared_write=allow_shared_write) as box:
        return box.get()


def box_stat(name: Name) -> BoxInfo:
    """Describe the box @name from its header alone (the value is not checked)."""
    info = _lib.CBoxInfo()
    check(_lib.pshm_box_stat(cname(name), byref(info)), show(name))
    return _info(info)


def box_unlink(name: Name) -> None:
    """Remove the box @name (FormatError if it is not a box)."""
    check(_lib.pshm_box_unlink(cname(name)), show(name))


__all__: List[str] = ["Box", "BoxInfo", "box_put", "box_get", "box_stat", "box_unlink"]
