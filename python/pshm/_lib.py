# SPDX-License-Identifier: MIT
"""Loading libpshm and declaring its functions for ctypes.

The library is looked for, in order:

1. the path in the environment variable ``PSHM_LIB``;
2. ``build/lib/libpshm.so`` of the source tree this package sits in
   (``python/pshm/`` next to ``build/``), so that
   ``PYTHONPATH=python python3 -c 'import pshm'`` works after ``make``;
3. the installed library: ``libpshm.so.0.3`` (the soname of the 0.3 ABI)
   through the dynamic loader
   (``LD_LIBRARY_PATH``, ``ld.so.cache``), then ``ctypes.util.find_library``.

Every function is called through :class:`ctypes.CDLL`, which releases the
GIL for the duration of each foreign call: a thread blocked in
``pshm_chan_recv()`` does not stop the other threads of the interpreter.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_char, c_char_p, c_int, c_int64, c_long,
                    c_size_t, c_ssize_t, c_uint, c_uint32, c_uint64, c_void_p)
from pathlib import Path
from typing import List, Optional

NAME_MAX = 255
FOREVER = -1

OPEN_EXISTING = 1 << 0
RDONLY = 1 << 1
ALLOW_FOREIGN = 1 << 2
ALLOW_SHARED_WRITE = 1 << 3
NOMAP = 1 << 4
BOX_UNCHECKED = 1 << 8

CHAN_SPSC = 0
CHAN_MPSC = 1
PRODUCER = 1
CONSUMER = 2
WAIT_BLOCK = 0
WAIT_POLL = 1
CHAN_MAX_PRODUCERS = 64

c_uid_t = c_uint32
c_gid_t = c_uint32
c_mode_t = c_uint32
c_pid_t = c_int


class CStat(Structure):
    _fields_ = [
        ("name", c_char * (NAME_MAX + 2)),
        ("size", c_uint64),
        ("allocated", c_uint64),
        ("uid", c_uid_t),
        ("gid", c_gid_t),
        ("mode", c_mode_t),
        ("atime_sec", c_int64), ("mtime_sec", c_int64), ("ctime_sec", c_int64),
        ("atime_nsec", c_long), ("mtime_nsec", c_long), ("ctime_nsec", c_long),
        ("kind", c_uint),
        ("dev", c_uint64),
        ("ino", c_uint64),
    ]


class CChanConfig(Structure):
    _fields_ = [
        ("ring_size", c_size_t),
        ("max_msg", c_size_t),
        ("mode", c_uint),
        ("max_producers", c_uint),
    ]


class CChanPeer(Structure):
    _fields_ = [("pid", c_pid_t), ("role", c_uint), ("alive", c_int)]


class CChanInfo(Structure):
    _fields_ = [
        ("mode", c_uint),
        ("ring_size", c_uint64),
        ("max_msg", c_uint64),
        ("used", c_uint64),
        ("pending", c_uint64),
        ("sent", c_uint64),
        ("received", c_uint64),
        ("max_producers", c_uint),
        ("n_peers", c_uint),
        ("peers", CChanPeer * (CHAN_MAX_PRODUCERS + 1)),
        ("pending_capped", c_uint),
    ]


class CBoxInfo(Structure):
    _fields_ = [
        ("capacity", c_uint64),
        ("length", c_uint64),
        ("seq", c_uint32),
        ("writer", c_pid_t),
        ("writer_alive", c_int),
    ]


# While libpshm's major version is 0 its soname follows the minor: this
# package speaks the 0.3 ABI.
SONAME = "libpshm.so.0.3"


def _candidates() -> List[str]:
    out = []
    env = os.environ.get("PSHM_LIB")
    if env:
        out.append(env)
    tree = Path(__file__).resolve().parent.parent.parent / "build" / "lib" / "libpshm.so"
    if tree.exists():
        out.append(str(tree))
    out.append(SONAME)
    found = ctypes.util.find_library("pshm")
    if found:
        out.append(found)
    return out


def _load() -> ctypes.CDLL:
    errors = []
    env = os.environ.get("PSHM_LIB")
    for cand in _candidates():
        try:
            return ctypes.CDLL(cand, use_errno=False)
        except OSError as e:
            errors.append(f"{cand}: {e}")
            if env and cand == env:
                # An explicit choice that fails is an error, not a fallback.
                break
    raise ImportError("pshm: cannot load libpshm (" + "; ".join(errors) +
                      "); build it with `make`, install it, or set PSHM_LIB")


lib = _load()
libpath: Optional[str] = getattr(lib, "_name", None)


def _fn(name: str, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


pshm_version = _fn("pshm_version", c_char_p)
pshm_strerror = _fn("pshm_strerror", c_char_p, c_int)
pshm_name_check = _fn("pshm_name_check", c_int, c_char_p)
pshm_seg_unlink = _fn("pshm_seg_unlink", c_int, c_char_p)
pshm_seg_stat = _fn("pshm_seg_stat", c_int, c_char_p, POINTER(CStat))
pshm_seg_list = _fn("pshm_seg_list", c_ssize_t, POINTER(POINTER(CStat)))

pshm_box_create = _fn("pshm_box_create", c_int, c_char_p, c_size_t, c_mode_t, c_uint,
                      POINTER(c_void_p))
pshm_box_open = _fn("pshm_box_open", c_int, c_char_p, c_uint, POINTER(c_void_p))
pshm_box_unlink = _fn("pshm_box_unlink", c_int, c_char_p)
pshm_box_close = _fn("pshm_box_close", None, c_void_p)
pshm_box_capacity = _fn("pshm_box_capacity", c_size_t, c_void_p)
pshm_box_write = _fn("pshm_box_write", c_int, c_void_p, c_void_p, c_size_t)
pshm_box_read = _fn("pshm_box_read", c_ssize_t, c_void_p, c_void_p, c_size_t)
pshm_box_verify = _fn("pshm_box_verify", c_int, c_void_p, POINTER(CBoxInfo))
pshm_box_stat = _fn("pshm_box_stat", c_int, c_char_p, POINTER(CBoxInfo))

pshm_chan_create = _fn("pshm_chan_create", c_int, c_char_p, POINTER(CChanConfig), c_mode_t,
                       c_uint)
pshm_chan_unlink = _fn("pshm_chan_unlink", c_int, c_char_p)
pshm_chan_open = _fn("pshm_chan_open", c_int, c_char_p, c_uint, c_uint, POINTER(c_void_p))
pshm_chan_close = _fn("pshm_chan_close", None, c_void_p)
pshm_chan_set_wait = _fn("pshm_chan_set_wait", c_int, c_void_p, c_uint, c_uint64)
pshm_chan_max_msg = _fn("pshm_chan_max_msg", c_size_t, c_void_p)
pshm_chan_send = _fn("pshm_chan_send", c_int, c_void_p, c_void_p, c_size_t, c_int64)
pshm_chan_recv = _fn("pshm_chan_recv", c_ssize_t, c_void_p, c_void_p, c_size_t, c_int64)
pshm_chan_reserve = _fn("pshm_chan_reserve", c_int, c_void_p, c_size_t, POINTER(c_void_p),
                        c_int64)
pshm_chan_commit = _fn("pshm_chan_commit", c_int, c_void_p, c_size_t)
pshm_chan_peek = _fn("pshm_chan_peek", c_ssize_t, c_void_p, POINTER(c_void_p), c_int64)
pshm_chan_release = _fn("pshm_chan_release", c_int, c_void_p)
pshm_chan_stat = _fn("pshm_chan_stat", c_int, c_char_p, POINTER(CChanInfo))

libc = ctypes.CDLL(None)
free = libc.free
free.restype = None
free.argtypes = [c_void_p]
