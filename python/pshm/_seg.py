# SPDX-License-Identifier: MIT
"""What is in /dev/shm: list, describe, remove."""
from __future__ import annotations

import os
from ctypes import POINTER, byref
from dataclasses import dataclass
from typing import List

from . import _lib
from ._errors import check
from ._util import Name, cname, show

_KINDS = {0: "raw", 1: "box", 2: "chan", 3: "other", 4: "topic", 5: "service"}


@dataclass(frozen=True)
class Stat:
    """One entry of /dev/shm (never followed)."""
    name: str        # canonical name, "/x"
    size: int        # bytes
    allocated: int   # memory actually in use
    uid: int
    gid: int
    mode: int        # st_mode: file type and permission bits
    mtime: float     # seconds since the epoch
    kind: str        # "raw", "box", "chan", "topic", "service" or "other" (not a regular file)
    dev: int
    ino: int


def _stat(c: _lib.CStat) -> Stat:
    return Stat(os.fsdecode(c.name), c.size, c.allocated, c.uid, c.gid, c.mode,
                c.mtime_sec + c.mtime_nsec / 1e9, _KINDS.get(c.kind, "other"), c.dev, c.ino)


def stat(name: Name) -> Stat:
    """Describe the entry @name of /dev/shm (kind recognised from its first bytes)."""
    st = _lib.CStat()
    check(_lib.pshm_seg_stat(cname(name), byref(st)), show(name))
    return _stat(st)


def ls() -> List[Stat]:
    """Every entry of /dev/shm except POSIX semaphores, sorted by name."""
    arr = POINTER(_lib.CStat)()
    n = check(_lib.pshm_seg_list(byref(arr)))
    try:
        return [_stat(arr[i]) for i in range(n)]
    finally:
        _lib.free(arr)


def unlink(name: Name) -> None:
    """Remove the segment @name, whatever it holds (never a symlink, directory
    or FIFO). Mappings already open stay valid. See also chan_unlink() and
    box_unlink(), which remove only what is of their kind."""
    check(_lib.pshm_seg_unlink(cname(name)), show(name))


__all__: List[str] = ["Stat", "stat", "ls", "unlink"]
