# SPDX-License-Identifier: MIT
"""Channels from Python: copy and zero-copy paths, errors, timeouts."""
import errno
import os
import signal
import struct
import threading
import time

import pytest

import pshm


def test_send_recv_in_order(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        for i in range(100):
            p.send(b"m%d" % i)
        assert [c.recv(timeout=1) for _ in range(100)] == [b"m%d" % i for i in range(100)]


def test_bytes_like_inputs_and_empty_message(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        p.send(bytearray(b"ba"))
        p.send(memoryview(b"xmvx")[1:3])
        p.send(b"")
        assert c.recv(0) == b"ba"
        assert c.recv(0) == b"mv"
        assert c.recv(0) == b""


def test_large_message_goes_through_the_ring(name):
    pshm.chan_create(name, size=1 << 22, max_msg=1 << 21)
    data = bytes(range(256)) * 8192  # 2 MiB
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        p.send(data)
        assert c.recv(0) == data


def test_recv_into(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        p.send(b"abcdef")
        small = bytearray(3)
        with pytest.raises(pshm.MessageTooLong) as e:
            c.recv_into(small, timeout=0)
        assert e.value.errno == errno.EMSGSIZE
        buf = bytearray(16)
        assert c.recv_into(buf, timeout=0) == 6  # it stayed queued
        assert buf[:6] == b"abcdef"


def test_reserve_and_peek_zero_copy(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        r = p.reserve(100)
        with r as mv:
            assert len(mv) == 100 and not mv.readonly
            mv[:5] = b"hello"
            r.length = 5
        with c.peek(timeout=1) as mv:
            assert mv.readonly
            assert bytes(mv) == b"hello"
        with pytest.raises(ValueError):
            mv[0]  # released on exit
        with pytest.raises(pshm.WouldBlock):
            c.recv(0)  # and so is the message


def test_reserve_aborts_on_exception_mpsc(name):
    pshm.chan_create(name, size=1 << 16, mpsc=True)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        with pytest.raises(RuntimeError):
            with p.reserve(10) as mv:
                mv[:4] = b"lost"
                raise RuntimeError("boom")
        p.send(b"after")  # an MPSC producer goes on
        assert c.recv(timeout=1) == b"after"
        with pytest.raises(pshm.WouldBlock):
            c.recv(0)


def test_reserve_aborts_on_exception_spsc_closes(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Consumer(name) as c:
        with pshm.Producer(name) as p:
            with pytest.raises(RuntimeError):
                with p.reserve(10) as mv:
                    mv[:4] = b"lost"
                    raise RuntimeError("boom")
            assert p.closed
            with pytest.raises(ValueError):
                p.send(b"x")
        with pshm.Producer(name) as p2:
            p2.send(b"next")
        assert c.recv(timeout=1) == b"next"
        with pytest.raises(pshm.PeerGone):
            c.recv(timeout=1)


def test_views_that_outlive_the_block_are_refused(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        p.send(b"keep")
        with pytest.raises(BufferError):
            with c.peek(0) as mv:
                held = struct.iter_unpack("B", mv)  # holds a buffer export of mv
        del held
        with pytest.raises(BufferError):
            with c.peek(0) as mv:
                head = mv[:2]  # a slice is a view too
        assert head == b"ke"
        del head
        assert c.recv(0) == b"keep"  # not released: delivered again


def test_a_view_kept_after_an_abort_stays_mapped(name):
    pshm.chan_create(name, size=1 << 16, mpsc=True)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        with pytest.raises(BufferError):
            with p.reserve(16) as mv:
                kept = mv[:4]
        kept[:] = b"safe"  # still mapped: no crash
        assert bytes(kept) == b"safe"
        p.send(b"after")
        del kept  # the dropped reservation goes with the last view
        assert c.recv(timeout=5) == b"after"


def test_iteration_ends_when_producers_are_gone(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Consumer(name) as c:
        with pshm.Producer(name) as p:
            for i in range(5):
                p.send(b"%d" % i)
        assert list(c) == [b"0", b"1", b"2", b"3", b"4"]


def test_timeouts(name):
    pshm.chan_create(name, size=1 << 10, max_msg=256)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        t = time.monotonic()
        with pytest.raises(TimeoutError) as e:
            c.recv(timeout=0.1)
        assert isinstance(e.value, pshm.Timeout) and e.value.errno == errno.ETIMEDOUT
        assert time.monotonic() - t >= 0.09
        with pytest.raises(BlockingIOError):
            c.recv(timeout=0)
        with pytest.raises(pshm.WouldBlock):
            with c.peek(timeout=0):
                pass
        while True:  # fill the ring
            try:
                p.send(b"x" * 200, timeout=0)
            except pshm.WouldBlock:
                break
        with pytest.raises(pshm.Timeout):
            p.send(b"x" * 200, timeout=0.05)
        with pytest.raises(ValueError):
            c.recv(timeout=-1)


def test_blocking_recv_releases_the_gil(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        got = []
        t = threading.Thread(target=lambda: got.append(c.recv(timeout=5)))
        t.start()
        time.sleep(0.1)  # the other thread is blocked in C; we still run
        p.send(b"wake")
        t.join(5)
        assert got == [b"wake"]


def test_errors(name):
    with pytest.raises(FileNotFoundError) as e:
        pshm.Consumer(name)
    assert isinstance(e.value, pshm.NotFound)
    assert e.value.errno == errno.ENOENT and e.value.filename == name
    assert e.value.strerror == pshm.strerror(errno.ENOENT)
    pshm.chan_create(name)
    with pytest.raises(FileExistsError):
        pshm.chan_create(name)
    pshm.chan_create(name, exist_ok=True)
    with pshm.Consumer(name):
        with pytest.raises(pshm.Busy):
            pshm.Consumer(name)
    with pytest.raises(pshm.Error) as e:
        pshm.chan_create("a/b")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(pshm.FormatError):
        pshm.box_get(name)


def test_policy_flags(name):
    pshm.chan_create(name, mode=0o666)
    with pytest.raises(PermissionError) as e:
        pshm.Consumer(name)
    assert e.value.errno == errno.EPERM
    with pshm.Consumer(name, allow_shared_write=True):
        pass


def test_stat_ls_unlink(name):
    pshm.chan_create(name, size=1 << 12, mpsc=True)
    st = pshm.stat(name)
    assert st.name == "/" + name and st.kind == "chan" and st.mode & 0o777 == 0o600
    assert any(s.name == "/" + name for s in pshm.ls())
    info = pshm.chan_stat(name)
    assert info.mpsc and info.ring_size == 1 << 12 and info.pending == 0
    pshm.unlink(name)
    with pytest.raises(pshm.NotFound):
        pshm.stat(name)


def test_ctrl_c_interrupts_a_blocking_recv(name):
    pshm.chan_create(name, size=1 << 16)
    with pshm.Producer(name), pshm.Consumer(name) as c:
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        t = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            c.recv()
        assert time.monotonic() - t < 3


def test_a_handled_signal_does_not_end_the_wait(name):
    pshm.chan_create(name, size=1 << 16)
    seen = []
    old = signal.signal(signal.SIGUSR1, lambda *a: seen.append(1))
    try:
        with pshm.Producer(name) as p, pshm.Consumer(name) as c:
            threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGUSR1)).start()
            threading.Timer(0.3, lambda: p.send(b"late")).start()
            assert c.recv(timeout=5) == b"late"
            assert seen == [1]
            with pytest.raises(pshm.Timeout):
                threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGUSR1)).start()
                c.recv(timeout=0.3)  # the deadline holds across the retry
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_library_search_honours_pshm_lib():
    import subprocess
    import sys
    from conftest import child_env
    env = child_env()
    env["PSHM_LIB"] = "/nonexistent/libpshm.so"
    r = subprocess.run([sys.executable, "-c", "import pshm"], env=env, capture_output=True)
    assert r.returncode != 0 and b"/nonexistent/libpshm.so" in r.stderr
    assert "ctypes" in (pshm.__doc__ or "") and "Topics and services" in pshm.__doc__
