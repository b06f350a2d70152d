# SPDX-License-Identifier: MIT
"""Topics from Python: fan-out, history, lossy gaps, zero copy, poll, errors."""
import errno
import os
import select
import signal
import subprocess
import sys
import threading

import pytest

import pshm
from conftest import PSHM_BIN, child_env, need


def test_every_subscriber_gets_every_message_in_order(name):
    pshm.topic_create(name, size=1 << 12, max_msg=48)  # 64 slots: the publisher waits
    n = 500
    with pshm.Subscriber(name) as a, pshm.Subscriber(name) as b, pshm.Publisher(name) as p:
        got = {a: [], b: []}

        def drain(s):
            for _ in range(n):
                got[s].append(s.recv(timeout=10))

        threads = [threading.Thread(target=drain, args=(s,)) for s in (a, b)]
        for t in threads:
            t.start()
        for i in range(n):
            p.publish(b"m%d" % i, timeout=10)
        for t in threads:
            t.join(30)
        want = [b"m%d" % i for i in range(n)]
        assert got[a] == want and got[b] == want
        assert a.seq == n and p.seq == n


def test_blocking_publisher_waits_for_the_slowest(name):
    pshm.topic_create(name, size=1 << 12, max_msg=48)
    with pshm.Publisher(name) as p, pshm.Subscriber(name) as fast, pshm.Subscriber(name):
        sent = 0
        with pytest.raises(pshm.WouldBlock):
            while True:
                p.publish(b"x", timeout=0)
                sent += 1
                assert fast.recv(0) == b"x"  # the fast one keeps up; the other does not
        assert sent == p.slots
        with pytest.raises(pshm.Timeout):
            p.publish(b"x", timeout=0.05)


def test_a_late_subscriber_gets_the_history_then_the_rest(name):
    pshm.topic_create(name, size=1 << 14, max_msg=64, history=4)
    with pshm.Publisher(name) as p:
        for i in range(10):
            p.publish(b"%d" % i)
        with pshm.Subscriber(name, history=True) as late, pshm.Subscriber(name) as now:
            p.publish(b"10")
            assert [late.recv(0) for _ in range(5)] == [b"6", b"7", b"8", b"9", b"10"]
            assert now.recv(0) == b"10"
            with pytest.raises(pshm.WouldBlock):
                late.recv(0)
    info = pshm.topic_stat(name)
    assert info.history == 4 and info.kept == 4 and info.published == 11


def test_lossy_subscriber_counts_exactly_what_it_missed(name):
    pshm.topic_create(name, size=1 << 12, max_msg=48, lossy=True)
    with pshm.Subscriber(name) as s, pshm.Publisher(name) as p:
        total = 10 * p.slots
        for i in range(total):
            p.publish(b"%d" % i, timeout=0)  # never waits
        got = []
        with pytest.raises(pshm.WouldBlock):
            while True:
                got.append(int(s.recv(0)))
        assert got == sorted(got) and got[-1] == total - 1
        assert s.missed > 0 and s.missed + len(got) == total
        info = pshm.topic_stat(name)
        assert info.lossy and info.subscribers[0].missed == s.missed


def test_peek_and_reserve_with_numpy_without_copies(name):
    np = pytest.importorskip("numpy")
    pshm.topic_create(name, size=1 << 22, max_msg=1 << 20)
    a = np.arange(10000, dtype=np.float64)
    with pshm.Subscriber(name) as s, pshm.Publisher(name) as p:
        with p.reserve(a.nbytes) as mv:
            np.copyto(np.frombuffer(mv, dtype=a.dtype), a)
        p.publish(a[::-1].copy())
        with s.peek(timeout=1) as mv:
            b = np.frombuffer(mv, dtype=np.float64)
            assert not b.flags.writeable and not b.flags.owndata
            assert np.array_equal(a, b)
            del b
        out = np.empty_like(a)
        assert s.recv_into(out, timeout=1) == a.nbytes
        assert np.array_equal(out, a[::-1])


def test_reserve_shortened_and_aborted(name):
    pshm.topic_create(name, size=1 << 14, max_msg=256)
    with pshm.Subscriber(name) as s:
        with pshm.Publisher(name) as p:
            r = p.reserve(100)
            with r as mv:
                mv[:5] = b"hello"
                r.length = 5
            assert s.recv(0) == b"hello"
            with pytest.raises(RuntimeError):
                with p.reserve(10) as mv:
                    mv[:4] = b"lost"
                    raise RuntimeError("boom")
            assert p.closed
        with pshm.Publisher(name) as p2:
            p2.publish(b"next")
        assert s.recv(timeout=1) == b"next"


def test_a_view_kept_past_the_peek_is_refused_and_the_message_stays(name):
    pshm.topic_create(name, size=1 << 14, max_msg=64)
    with pshm.Subscriber(name) as s, pshm.Publisher(name) as p:
        p.publish(b"keep")
        with pytest.raises(BufferError):
            with s.peek(0) as mv:
                head = mv[:2]
        assert head == b"ke"
        del head
        assert s.recv(0) == b"keep"


def test_lossy_peek_overwritten_while_read(name):
    pshm.topic_create(name, size=1 << 12, max_msg=48, lossy=True)
    with pshm.Subscriber(name) as s, pshm.Publisher(name) as p:
        p.publish(b"first")
        with pytest.raises(pshm.Overwritten) as e:
            with s.peek(0) as mv:
                assert bytes(mv) == b"first"
                for i in range(2 * p.slots):
                    p.publish(b"over %d" % i)
        assert e.value.errno == errno.ESTALE
        assert s.missed >= 1
        assert s.recv(0).startswith(b"over ")


def test_fileno_polls_readable_when_a_message_comes(name):
    pshm.topic_create(name, size=1 << 14, max_msg=64)
    with pshm.Subscriber(name) as s, pshm.Publisher(name) as p:
        fd = s.fileno()
        assert fd == s.fileno() and fd >= 0
        with pytest.raises(pshm.WouldBlock):
            s.recv(0)  # rearms the descriptor
        assert select.select([s], [], [], 0.05)[0] == []
        threading.Timer(0.1, lambda: p.publish(b"ring")).start()
        assert select.select([s], [], [], 5)[0] == [s]
        assert s.recv(0) == b"ring"


def test_iteration_ends_when_the_publisher_is_gone(name):
    pshm.topic_create(name, size=1 << 14, max_msg=64)
    with pshm.Subscriber(name) as s:
        with pshm.Publisher(name) as p:
            for i in range(5):
                p.publish(b"%d" % i)
        assert list(s) == [b"0", b"1", b"2", b"3", b"4"]


def test_stat_shows_the_publisher_and_each_subscriber(name):
    pshm.topic_create(name, size=1 << 14, max_msg=64, max_subscribers=3, mode=0o640)
    with pshm.Publisher(name) as p, pshm.Subscriber(name) as s:
        p.publish(b"a")
        p.publish(b"b")
        info = pshm.topic_stat(name)
        assert not info.lossy and info.max_subscribers == 3 and info.published == 2
        assert info.publisher_alive and info.publisher > 0
        assert [(x.alive, x.lag, x.missed) for x in info.subscribers] == [(True, 2, 0)]
        s.recv(0)
        assert pshm.topic_stat(name).subscribers[0].lag == 1
    st = pshm.stat(name)
    assert st.kind == "topic" and st.mode & 0o777 == 0o640


def test_errors(name, names):
    with pytest.raises(pshm.NotFound):
        pshm.Subscriber(name)
    pshm.topic_create(name)
    with pytest.raises(pshm.Exists):
        pshm.topic_create(name)
    pshm.topic_create(name, exist_ok=True)
    with pshm.Publisher(name):
        with pytest.raises(pshm.Busy):
            pshm.Publisher(name)
    pshm.topic_create(names(), max_subscribers=1)
    with pytest.raises(pshm.Error) as e:
        pshm.topic_create("a/b")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(pshm.Error):
        pshm.topic_create(names(), size=1000)
    chan = names()
    pshm.chan_create(chan)
    with pytest.raises(pshm.FormatError):
        pshm.Subscriber(chan)
    with pytest.raises(pshm.FormatError):
        pshm.topic_unlink(chan)
    with pytest.raises(pshm.FormatError):
        pshm.Consumer(name)
    pshm.topic_unlink(name)
    with pytest.raises(pshm.NotFound):
        pshm.topic_stat(name)


def test_too_many_subscribers(name):
    pshm.topic_create(name, max_subscribers=1)
    with pshm.Subscriber(name):
        with pytest.raises(pshm.Error) as e:
            pshm.Subscriber(name)
        assert e.value.errno == errno.EUSERS


def test_policy_flags(name):
    pshm.topic_create(name, mode=0o666)
    with pytest.raises(PermissionError) as e:
        pshm.Subscriber(name)
    assert e.value.errno == errno.EPERM
    with pshm.Subscriber(name, allow_shared_write=True):
        pass


CHILD = r"""
import sys, time, pshm
s = pshm.Subscriber(sys.argv[1])
print("ready", flush=True)
time.sleep(60)
"""


def test_a_killed_subscriber_never_blocks_the_publisher(name):
    pshm.topic_create(name, size=1 << 12, max_msg=48)
    child = subprocess.Popen([sys.executable, "-c", CHILD, name], stdout=subprocess.PIPE,
                             env=child_env())
    try:
        assert child.stdout.readline() == b"ready\n"
        with pshm.Publisher(name) as p:
            for i in range(p.slots):
                p.publish(b"x", timeout=0)
            with pytest.raises(pshm.WouldBlock):
                p.publish(b"x", timeout=0)  # the child is a ring behind
            child.send_signal(signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
            for i in range(3 * p.slots):
                p.publish(b"x", timeout=5)  # it is dead: no wait for it
        assert [x.alive for x in pshm.topic_stat(name).subscribers] in ([], [False])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_the_command_and_python_talk(name):
    pshm_bin = need(PSHM_BIN)
    pshm.topic_create(name, size=1 << 14, max_msg=64, history=8)
    with pshm.Publisher(name) as p:
        p.publish(b"from python")
    r = subprocess.run([pshm_bin, "sub", "--history", name], capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout == b"from python\n", r.stderr
    with pshm.Subscriber(name) as s:
        r = subprocess.run([pshm_bin, "pub", name, "from the shell"], capture_output=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        assert s.recv(timeout=5) == b"from the shell"
    assert pshm.topic_stat(name).published == 2


def test_ctrl_c_interrupts_a_polling_recv(name):
    # A polling wait never sleeps, so no -EINTR ends it: the wait is made
    # in slices, between which Python runs its signal handlers.
    pshm.topic_create(name, size=1 << 14, max_msg=64)
    with pshm.Subscriber(name, poll=True) as s:
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            s.recv()
