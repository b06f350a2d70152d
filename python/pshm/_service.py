# SPDX-License-Identifier: MIT
"""Services: request/response between processes, in a named segment.

Clients send requests; a server, or a pool of servers sharing the work,
answers each one, and a reply reaches only the client that asked. A
client that dies loses only its own replies; a request taken by a server
that dies fails with PeerGone, never hangs; a reply to a request given up
(timed out, cancelled) is dropped, never delivered to a later call. See
pshm(7), SERVICES, and pshm_service_create(3).
"""
from __future__ import annotations

import ctypes
import errno
from ctypes import (POINTER, Structure, byref, c_char_p, c_int, c_int64, c_size_t, c_ssize_t,
                    c_uint, c_uint64, c_void_p)
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple

from . import _lib
from ._chan import _wait
from ._errors import Error, check, error
from ._util import Attached, Handle, Name, cname, policy, readable, show

SERVER = 5
CLIENT = 6
# The errors of a call or a collect that are a request's outcome (it is no
# longer in flight); any other leaves it in flight.
_OUTCOMES = (errno.EPIPE, errno.EREMOTEIO, errno.EMSGSIZE)


class _Config(Structure):
    _fields_ = [("max_request", c_size_t), ("max_reply", c_size_t), ("max_clients", c_uint),
                ("max_servers", c_uint), ("max_inflight", c_uint)]


class _Req(Structure):
    _fields_ = [("id", c_uint64), ("client", c_uint), ("pid", _lib.c_pid_t)]


class _Info(Structure):
    _fields_ = [("max_request", c_uint64), ("max_reply", c_uint64), ("max_clients", c_uint),
                ("max_servers", c_uint), ("max_inflight", c_uint), ("servers", c_uint),
                ("clients", c_uint), ("queued", c_uint64), ("in_progress", c_uint64),
                ("answered", c_uint64), ("requests", c_uint64), ("late_dropped", c_uint64),
                ("server_attaches", c_uint64), ("client_attaches", c_uint64)]


_fn = _lib._fn
_create = _fn("pshm_service_create", c_int, c_char_p, POINTER(_Config), _lib.c_mode_t, c_uint)
_unlink = _fn("pshm_service_unlink", c_int, c_char_p)
_open = _fn("pshm_service_open", c_int, c_char_p, c_uint, c_uint, POINTER(c_void_p))
_close = _fn("pshm_service_close", None, c_void_p)
_max_request = _fn("pshm_service_max_request", c_size_t, c_void_p)
_max_reply = _fn("pshm_service_max_reply", c_size_t, c_void_p)
_send = _fn("pshm_service_send", c_int, c_void_p, c_void_p, c_size_t, POINTER(c_uint64))
_collect = _fn("pshm_service_collect", c_ssize_t, c_void_p, POINTER(c_uint64), c_void_p,
               c_size_t, c_int64)
_cancel = _fn("pshm_service_cancel", c_int, c_void_p, c_uint64)
_recv = _fn("pshm_service_recv", c_ssize_t, c_void_p, c_void_p, c_size_t, POINTER(_Req),
            c_int64)
_reply = _fn("pshm_service_reply", c_int, c_void_p, c_uint64, c_void_p, c_size_t)
_fail = _fn("pshm_service_fail", c_int, c_void_p, c_uint64, c_char_p)
_stat = _fn("pshm_service_stat", c_int, c_char_p, POINTER(_Info))


class RemoteError(Error):
    """EREMOTEIO: the server answered the request with an error
    (Server.fail()); its message is ``strerror``."""


def service_create(name: Name, max_request: int = 0, max_reply: int = 0, mode: int = 0o600, *,
                   max_clients: int = 0, max_servers: int = 0, max_inflight: int = 0,
                   exist_ok: bool = False, allow_foreign: bool = False,
                   allow_shared_write: bool = False) -> None:
    """Create the service @name (exclusive unless @exist_ok).

    max_request, max_reply: largest request and reply (0: 4096; at most
    16 MiB). max_clients (0: 64), max_servers in the pool (0: 8) and
    max_inflight requests per client (0: 16): the segment holds
    max_clients * max_inflight cells of max_request + max_reply bytes,
    reserved at once. mode: permissions, set exactly; 0 means 0o600.
    exist_ok: accept an existing service as it is (after the owner/mode
    policy, relaxed by allow_foreign / allow_shared_write), else Exists.
    """
    cfg = _Config(max_request, max_reply, max_clients, max_servers, max_inflight)
    flags = policy(allow_foreign, allow_shared_write)
    if exist_ok:
        flags |= _lib.OPEN_EXISTING
    check(_create(cname(name), byref(cfg), mode, flags), show(name))


def service_unlink(name: Name) -> None:
    """Remove the service @name (FormatError if it is not a service).

    Attached handles keep working with each other; no new peer finds it."""
    check(_unlink(cname(name)), show(name))


@dataclass(frozen=True)
class ServiceInfo:
    """A service's state (a snapshot: counts may be a request apart)."""
    max_request: int
    max_reply: int
    max_clients: int
    max_servers: int
    max_inflight: int
    servers: int          # live servers now
    clients: int          # live clients now
    queued: int           # requests waiting for a server
    in_progress: int      # requests taken by a server, not answered yet
    answered: int         # replies waiting to be collected
    requests: int         # requests taken by servers since creation
    late_dropped: int     # replies dropped: their request was given up, or its client died
    server_attaches: int
    client_attaches: int


def service_stat(name: Name) -> ServiceInfo:
    """Describe the service @name without attaching to it."""
    i = _Info()
    check(_stat(cname(name), byref(i)), show(name))
    return ServiceInfo(*(getattr(i, f) for f, _ in _Info._fields_))


def _result(r: int, buf: Any, name: str) -> bytes:
    """A call's or a collect's result: the reply, or its error raised
    (RemoteError with the server's message for EREMOTEIO)."""
    if r >= 0:
        return ctypes.string_at(buf, r)
    if r == -errno.EREMOTEIO:
        raise RemoteError(errno.EREMOTEIO, buf.value.decode("utf-8", "replace"), name)
    raise error(r, name)


class _Service(Attached):
    _role = 0
    _what = "service"

    def __init__(self, name: Name, *, allow_foreign: bool = False,
                 allow_shared_write: bool = False) -> None:
        super().__init__(name)
        p = c_void_p()
        check(_open(self._cname, self._role, policy(allow_foreign, allow_shared_write),
                    byref(p)), self.name)
        self._h = Handle(p.value, _close)
        self.max_request: int = _max_request(self._h.ptr)
        self.max_reply: int = _max_reply(self._h.ptr)

    def _state(self) -> str:
        return f"max_request={self.max_request} max_reply={self.max_reply}"


class Client(_Service):
    """A client of the service @name (a context manager): call() for one
    request at a time, send() and collect() for many in flight.

    allow_foreign / allow_shared_write accept a service owned by another
    user / writable by group or others (refused by default).
    """

    _role = CLIENT

    def __init__(self, name: Name, *, allow_foreign: bool = False,
                 allow_shared_write: bool = False) -> None:
        super().__init__(name, allow_foreign=allow_foreign,
                         allow_shared_write=allow_shared_write)
        self._buf = ctypes.create_string_buffer(max(self.max_reply, 1))

    def call(self, request: Any, timeout: Optional[float] = None) -> bytes:
        """Send @request (bytes-like) and return the reply.

        Waits for ever (None), not at all (0: WouldBlock) or at most
        @timeout seconds (Timeout); a call that ends without its reply
        (timeout, Ctrl-C) is given up, and a late reply is dropped, never
        returned by a later call. A handled signal does not send the request
        again: the same request is waited for. PeerGone: the server that
        took it died, or no server is left. RemoteError: the server failed
        it. MessageTooLong: the request is above max_request.
        """
        rid = self.send(request)
        try:
            return self.collect(rid, timeout)[1]
        except BaseException as e:
            if not (isinstance(e, Error) and e.errno in _OUTCOMES):  # still in flight
                self._give_up(rid)
            raise

    def _give_up(self, rid: int) -> None:
        r = _cancel(self._ptr(), rid)
        if r < 0 and r != -errno.ENOMSG:  # ENOMSG: its outcome came meanwhile
            check(r, self.name)

    def send(self, request: Any) -> int:
        """Post @request without waiting; returns its id, for collect() or
        cancel(). Error ENOBUFS: max_inflight requests are in flight
        (collect first)."""
        buf, n = readable(request)
        rid = c_uint64()
        check(_send(self._ptr(), buf, n, byref(rid)), self.name)
        return rid.value

    def collect(self, rid: int = 0, timeout: Optional[float] = None) -> Tuple[int, bytes]:
        """Wait for the outcome of the request @rid (0: any in flight) and
        return (its id, its reply). The errors that are its outcome
        (PeerGone, RemoteError, MessageTooLong) end it, and carry its id as
        ``request_id`` when known (0 otherwise); any other error (Timeout,
        WouldBlock, ENOMSG: nothing in flight) leaves every request in
        flight, with ``request_id`` 0."""
        p = self._ptr()
        got = c_uint64(rid)
        r = _wait(_collect, timeout, p, byref(got), self._buf, len(self._buf))
        try:
            return got.value, _result(r, self._buf, self.name)
        except Error as e:
            e.request_id = got.value if e.errno in _OUTCOMES else 0  # type: ignore
            raise

    def cancel(self, rid: int) -> None:
        """Give up the request @rid: withdrawn if no server took it, else its
        reply is dropped when it comes."""
        check(_cancel(self._ptr(), rid), self.name)


@dataclass(frozen=True)
class Request:
    """A request a Server received: answer it with reply() or fail()."""
    id: int
    client: int  # the client's slot
    pid: int     # the client's pid, as it recorded it (display only)
    data: bytes


class Server(_Service):
    """A server of the service @name (a context manager; several form a
    pool, each request going to one). Every request received must be
    answered, with reply() or fail(); serve() does it for a function.
    allow_foreign / allow_shared_write as for Client.
    """

    _role = SERVER

    def __init__(self, name: Name, *, allow_foreign: bool = False,
                 allow_shared_write: bool = False) -> None:
        super().__init__(name, allow_foreign=allow_foreign,
                         allow_shared_write=allow_shared_write)
        self._buf = ctypes.create_string_buffer(max(self.max_request, 1))

    def recv(self, timeout: Optional[float] = None) -> Request:
        """The next request of any client. Waits for ever (None), not at all
        (0: WouldBlock) or at most @timeout seconds (Timeout)."""
        req = _Req()
        r = _wait(_recv, timeout, self._ptr(), self._buf, len(self._buf), byref(req))
        check(r, self.name)
        return Request(req.id, req.client, req.pid, ctypes.string_at(self._buf, r))

    def reply(self, request: Any, data: Any) -> bool:
        """Answer @request (a Request or its id) with @data. False if its
        client gave it up or died meanwhile (the reply is dropped and
        counted: not a failure of the server), True if delivered."""
        buf, n = readable(data)
        return self._answered(_reply(self._ptr(), _id(request), buf, n))

    def fail(self, request: Any, message: str) -> bool:
        """Answer @request with an error: the client gets RemoteError with
        @message. False if the client gave it up, as for reply()."""
        return self._answered(_fail(self._ptr(), _id(request), message.encode()))

    def _answered(self, r: int) -> bool:
        if r == -errno.ECANCELED:
            return False
        check(r, self.name)
        return True

    def serve(self, handler: Callable[[bytes], Any], count: Optional[int] = None,
              timeout: Optional[float] = None) -> int:
        """Answer requests with handler(request data) -> reply (bytes-like, or
        str: sent as UTF-8);
        an exception it raises fails the request with its text, and serving
        goes on. Stops after @count requests (None: never), or when a wait
        for the next one exceeds @timeout (Timeout is not raised then).
        Returns the number answered."""
        done = 0
        for req in self._requests(timeout):
            try:
                out = handler(req.data)
            except Exception as e:  # the client hears of it, the server goes on
                self.fail(req, f"{type(e).__name__}: {e}")
            else:
                self.reply(req, out.encode() if isinstance(out, str) else out)
            done += 1
            if count is not None and done >= count:
                break
        return done

    def _requests(self, timeout: Optional[float]) -> Iterator[Request]:
        while True:
            try:
                yield self.recv(timeout)
            except (TimeoutError, BlockingIOError):
                return


def _id(request: Any) -> int:
    return request.id if isinstance(request, Request) else int(request)


def service_call(name: Name, request: Any, timeout: Optional[float] = None, *,
         allow_foreign: bool = False, allow_shared_write: bool = False) -> bytes:
    """One call to the service @name through a client attached for it (see
    Client.call())."""
    with Client(name, allow_foreign=allow_foreign,
                allow_shared_write=allow_shared_write) as c:
        return c.call(request, timeout)


__all__: List[str] = ["service_create", "service_unlink", "service_stat", "ServiceInfo",
                      "Client", "Server", "Request", "RemoteError", "service_call"]
