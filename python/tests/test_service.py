# SPDX-License-Identifier: MIT
"""Services from Python: calls, requests in flight, a pool, failures, errors."""
import errno
import os
import signal
import subprocess
import sys
import threading

import pytest

import pshm
from conftest import PSHM_BIN, child_env, need


def serving(name, handler=lambda b: b.upper(), count=None, timeout=5.0):
    """A server thread answering with @handler; join() it to stop waiting."""
    ready = threading.Event()
    served = []

    def run():
        with pshm.Server(name) as s:
            ready.set()
            served.append(s.serve(handler, count=count, timeout=timeout))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(5)
    t.served = served
    return t


def test_call_gets_its_reply(name):
    pshm.service_create(name, max_request=64, max_reply=64)
    t = serving(name, count=3)
    with pshm.Client(name) as c:
        assert c.call(b"hello", timeout=5) == b"HELLO"
        assert c.call(bytearray(b"ba"), timeout=5) == b"BA"
        assert c.call(b"", timeout=5) == b""
    t.join(10)
    assert t.served == [3]
    info = pshm.service_stat(name)
    assert info.requests == 3 and info.max_request == 64 and info.late_dropped == 0


def test_many_requests_in_flight_each_reply_to_its_request(name):
    pshm.service_create(name, max_inflight=8)
    t = serving(name, count=8)
    with pshm.Client(name) as c:
        ids = {c.send(b"req %d" % i): i for i in range(8)}
        with pytest.raises(pshm.Error) as e:
            c.send(b"one too many")
        assert e.value.errno == errno.ENOBUFS
        got = {}
        for _ in range(8):
            rid, reply = c.collect(timeout=5)
            got[rid] = reply
        assert got == {rid: b"REQ %d" % i for rid, i in ids.items()}
        with pytest.raises(pshm.Error) as e:
            c.collect(timeout=0)
        assert e.value.errno == errno.ENOMSG  # nothing in flight
    t.join(10)


def test_a_pool_of_servers_shares_the_work(name):
    pshm.service_create(name, max_servers=4)
    servers = [serving(name, handler=lambda b, i=i: b"%d" % i, timeout=0.5) for i in range(3)]
    with pshm.Client(name) as c:
        replies = [c.call(b"x", timeout=5) for _ in range(60)]
    for t in servers:
        t.join(10)
    assert set(replies) <= {b"0", b"1", b"2"} and len(replies) == 60
    assert sum(t.served[0] for t in servers) == 60


def test_a_handler_error_fails_the_call_and_serving_goes_on(name):
    pshm.service_create(name)

    def handler(b):
        if b == b"bad":
            raise ValueError("no thanks")
        return "ok: " + b.decode()

    t = serving(name, handler=handler, count=2)
    with pshm.Client(name) as c:
        with pytest.raises(pshm.RemoteError) as e:
            c.call(b"bad", timeout=5)
        assert e.value.errno == errno.EREMOTEIO
        assert e.value.strerror == "ValueError: no thanks"
        assert c.call(b"good", timeout=5) == b"ok: good"
    t.join(10)


def test_a_call_that_times_out_never_gets_a_late_reply(name):
    pshm.service_create(name)
    with pshm.Client(name) as c, pshm.Server(name) as s:
        with pytest.raises(pshm.Timeout):
            c.call(b"nobody", timeout=0.05)
        with pytest.raises(pshm.WouldBlock):
            s.recv(timeout=0)  # not taken in time: withdrawn
        gave_up = threading.Event()
        late = []

        def slow():
            req = s.recv(timeout=5)
            assert req.data == b"slow" and req.pid == os.getpid()
            gave_up.wait(5)
            late.append(s.reply(req, b"too late"))

        t = threading.Thread(target=slow)
        t.start()
        with pytest.raises(pshm.Timeout):
            c.call(b"slow", timeout=1)  # the server, waiting already, takes it at once
        gave_up.set()
        t.join(10)
        assert late == [False]  # taken, then given up: dropped, counted
        rid = c.send(b"next")
        r2 = s.recv(timeout=5)
        assert s.reply(r2.id, b"on time") is True
        assert c.collect(rid, timeout=5) == (rid, b"on time")
    assert pshm.service_stat(name).late_dropped == 1


def test_cancel(name):
    pshm.service_create(name)
    with pshm.Client(name) as c, pshm.Server(name) as s:
        rid = c.send(b"never mind")
        c.cancel(rid)
        with pytest.raises(pshm.WouldBlock):
            s.recv(timeout=0)  # withdrawn before a server took it
        with pytest.raises(pshm.Error) as e:
            c.cancel(rid)
        assert e.value.errno == errno.ENOMSG


def test_a_handled_signal_waits_for_the_same_request(name):
    pshm.service_create(name)
    seen = []
    old = signal.signal(signal.SIGUSR1, lambda *a: seen.append(1))
    try:
        with pshm.Client(name) as c, pshm.Server(name) as s:
            threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGUSR1)).start()

            def answer():
                req = s.recv(timeout=5)
                assert s.reply(req, b"once")

            threading.Timer(0.3, answer).start()
            assert c.call(b"q", timeout=5) == b"once"
            assert seen == [1]
            assert pshm.service_stat(name).requests == 1  # not sent again
    finally:
        signal.signal(signal.SIGUSR1, old)


CHILD = r"""
import sys, time, pshm
s = pshm.Server(sys.argv[1])
req = s.recv()
print("taken", flush=True)
time.sleep(60)
"""


def test_a_server_killed_with_the_request_fails_the_call(name):
    pshm.service_create(name)
    child = subprocess.Popen([sys.executable, "-c", CHILD, name], stdout=subprocess.PIPE,
                             env=child_env())
    try:
        with pshm.Client(name) as c:
            rid = c.send(b"doomed")
            assert child.stdout.readline() == b"taken\n"
            child.send_signal(signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
            with pytest.raises(pshm.PeerGone) as e:
                c.collect(rid, timeout=10)  # bounded: never a hang
            assert e.value.request_id == rid
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_errors(name, names):
    with pytest.raises(pshm.NotFound):
        pshm.Client(name)
    pshm.service_create(name, max_request=8, max_clients=1)
    with pytest.raises(pshm.Exists):
        pshm.service_create(name)
    pshm.service_create(name, exist_ok=True)
    with pshm.Client(name) as c:
        with pytest.raises(pshm.MessageTooLong):
            c.call(b"x" * 9, timeout=1)
        with pytest.raises(pshm.Error) as e:
            pshm.Client(name)
        assert e.value.errno == errno.EUSERS
    c.close()
    with pytest.raises(ValueError):
        c.call(b"closed")
    chan = names()
    pshm.chan_create(chan)
    with pytest.raises(pshm.FormatError):
        pshm.Server(chan)
    with pytest.raises(pshm.FormatError):
        pshm.service_unlink(chan)
    assert pshm.stat(name).kind == "service"
    pshm.service_unlink(name)
    with pytest.raises(pshm.NotFound):
        pshm.service_stat(name)


def test_policy_flags(name):
    pshm.service_create(name, mode=0o666)
    with pytest.raises(PermissionError):
        pshm.Client(name)
    with pshm.Client(name, allow_shared_write=True):
        pass


def test_python_serves_the_command(name):
    pshm_bin = need(PSHM_BIN)
    pshm.service_create(name)
    t = serving(name, count=1)
    r = subprocess.run([pshm_bin, "call", name, "from the shell"], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip(b"\n") == b"FROM THE SHELL"
    t.join(10)
    t = serving(name, count=1)
    assert pshm.service_call(name, b"one shot", timeout=5) == b"ONE SHOT"
    t.join(10)
