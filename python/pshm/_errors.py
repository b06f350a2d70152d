# SPDX-License-Identifier: MIT
"""Exceptions: every libpshm error code becomes an :class:`Error`.

Each class derives from :class:`Error` (itself an :class:`OSError`) and,
where Python has one, from the builtin exception for the same errno, so
``except FileNotFoundError`` and ``except pshm.NotFound`` both work.
``errno`` is set, ``strerror`` is the library's message (pshm_strerror()),
``filename`` the segment name when there is one.
"""
from __future__ import annotations

import errno as _errno
from typing import Dict, Optional, Type

from . import _lib


class Error(OSError):
    """Any error reported by libpshm (``errno`` holds the code)."""


class IntegrityError(Error):
    """EBADMSG: a checksum did not match; the data was changed behind pshm's back."""


class FormatError(Error):
    """EPROTO: the segment is not of the expected pshm format (or is corrupted)."""


class PeerGone(Error, BrokenPipeError):
    """EPIPE: the peer is gone (every producer, or the consumer)."""


class Timeout(Error, TimeoutError):
    """ETIMEDOUT: a bounded wait expired (catch it as ``TimeoutError``)."""


class WouldBlock(Error, BlockingIOError):
    """EAGAIN: nothing to do now (timeout=0), or a box writer is mid-update."""


class NotFound(Error, FileNotFoundError):
    """ENOENT: no such segment."""


class Exists(Error, FileExistsError):
    """EEXIST: the name exists (creation is exclusive)."""


class PermissionDenied(Error, PermissionError):
    """EACCES (file mode) or EPERM (pshm's owner/mode policy: see allow_foreign)."""


class MessageTooLong(Error):
    """EMSGSIZE: larger than the channel or box can carry."""


class Busy(Error):
    """EBUSY: the role or the reservation is already taken."""


_TABLE: Dict[int, Type[Error]] = {
    _errno.EBADMSG: IntegrityError,
    _errno.EPROTO: FormatError,
    _errno.EPIPE: PeerGone,
    _errno.ETIMEDOUT: Timeout,
    _errno.EAGAIN: WouldBlock,
    _errno.ENOENT: NotFound,
    _errno.EEXIST: Exists,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: PermissionDenied,
    _errno.EMSGSIZE: MessageTooLong,
    _errno.EBUSY: Busy,
}


def strerror(code: int) -> str:
    """The library's message for an error code (negative or positive errno)."""
    return _lib.pshm_strerror(int(code)).decode("utf-8", "replace")


def error(code: int, name: Optional[str] = None) -> Error:
    """The exception for a negative (or positive) libpshm return code."""
    code = abs(int(code))
    cls = _TABLE.get(code, Error)
    if name is None:
        return cls(code, strerror(code))
    return cls(code, strerror(code), name)


def check(r: int, name: Optional[str] = None) -> int:
    """Return @r if it is not negative, raise the matching error otherwise."""
    if r < 0:
        raise error(r, name)
    return r
