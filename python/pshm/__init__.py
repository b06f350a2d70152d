# SPDX-License-Identifier: MIT
"""pshm: POSIX shared memory on Linux, from Python, over libpshm.

Channels (message queues between processes, zero-copy when you want)::

    import pshm
    pshm.chan_create("frames", size=64 << 20, max_msg=8 << 20)
    with pshm.Producer("frames") as p:           # in one process
        p.send(b"hello")
        with p.reserve(1024) as mv:              # written in place, sent on exit
            mv[:5] = b"world"
    with pshm.Consumer("frames") as c:           # in another
        print(c.recv(timeout=1.0))
        with c.peek() as mv:                     # read in place, released on exit
            print(bytes(mv[:5]))
        for msg in c:                            # until every producer is gone
            ...

Boxes (one checked value: a change behind pshm's back is detected)::

    pshm.box_put("config", b"threshold=3")
    pshm.box_get("config")                       # IntegrityError if tampered with

And ls(), stat(name), unlink(name) for what is in /dev/shm.

Errors are exceptions derived from OSError (pshm.Error) with errno set and
the library's message: IntegrityError (EBADMSG), PeerGone (EPIPE, also a
BrokenPipeError), Timeout (ETIMEDOUT, also a TimeoutError), WouldBlock
(EAGAIN), NotFound, Exists, PermissionDenied, FormatError (EPROTO)...

Timeouts are in seconds: None waits for ever, 0 tries once (WouldBlock).
Every call goes through ctypes, which releases the GIL during the C call:
a thread blocked in recv() lets the others run. The package never touches
multiprocessing's resource tracker: nothing it names is deleted behind
your back when a process exits.

Topics (one publisher, every subscriber sees every message; history for
late joiners; blocking or lossy)::

    pshm.topic_create("prices", history=16, lossy=True)
    with pshm.Publisher("prices") as pub:        # in one process
        pub.publish(b"EUR 1.08")
    with pshm.Subscriber("prices", history=True) as sub:   # in any number
        print(sub.recv(timeout=1), sub.missed)   # missed: skipped (lossy)
        with sub.peek() as mv:                   # read in place
            ...
        select.select([sub], [], [])             # fileno(): an event loop waits

Services (request/response: a reply reaches only the client that asked)::

    pshm.service_create("upper")
    with pshm.Server("upper") as srv:             # in one process (or a pool)
        srv.serve(lambda req: req.upper())       # an exception fails the call
    with pshm.Client("upper") as cli:             # in others
        cli.call(b"hello", timeout=1)            # b"HELLO"
        ids = [cli.send(b"a"), cli.send(b"b")]   # many in flight
        cli.collect(ids[0], timeout=1)           # (id, reply)

libpshm is found through $PSHM_LIB, then build/lib/libpshm.so of the
source tree, then the installed libpshm.so.0.3. Topics and services are
built on the same rings as channels.
"""
from __future__ import annotations

from . import _lib
from ._box import Box, BoxInfo, box_get, box_put, box_stat, box_unlink
from ._chan import (ChanInfo, Consumer, Peek, Peer, Producer, Reservation, chan_create,
                    chan_stat, chan_unlink)
from ._errors import (Busy, Error, Exists, FormatError, IntegrityError, MessageTooLong,
                      NotFound, PeerGone, PermissionDenied, Timeout, WouldBlock, strerror)
from ._seg import Stat, ls, stat, unlink
from ._service import (Client, RemoteError, Request, Server, ServiceInfo, service_call,
                       service_create, service_stat, service_unlink)
from ._topic import (Overwritten, Publisher, Subscriber, SubscriberInfo, TopicInfo,
                     topic_create, topic_stat, topic_unlink)

__version__ = "0.3.0"
#: The version of the loaded libpshm (may differ from __version__).
lib_version: str = _lib.pshm_version().decode()
#: Where the loaded libpshm came from.
lib_path = _lib.libpath

__all__ = [
    "chan_create", "chan_unlink", "chan_stat", "ChanInfo", "Peer",
    "Producer", "Consumer", "Reservation", "Peek",
    "Box", "BoxInfo", "box_put", "box_get", "box_stat", "box_unlink",
    "Stat", "ls", "stat", "unlink",
    "topic_create", "topic_unlink", "topic_stat", "TopicInfo", "SubscriberInfo",
    "Publisher", "Subscriber", "Overwritten",
    "service_create", "service_unlink", "service_stat", "ServiceInfo",
    "Client", "Server", "Request", "RemoteError", "service_call",
    "Error", "IntegrityError", "FormatError", "PeerGone", "Timeout", "WouldBlock",
    "NotFound", "Exists", "PermissionDenied", "MessageTooLong", "Busy", "strerror",
    "lib_version", "lib_path",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = __name__
        except (AttributeError, TypeError):
            pass
del _name, _obj
