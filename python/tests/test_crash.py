# SPDX-License-Identifier: MIT
"""A producer killed with SIGKILL: the consumer drains, then gets PeerGone."""
import signal
import subprocess
import sys

import pytest

import pshm
from conftest import child_env

CHILD = r"""
import sys, time, pshm
name, count, mid = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "mid"
p = pshm.Producer(name)
for i in range(count):
    p.send(b"msg %d" % i)
if mid:
    r = p.reserve(64)
    mv = r.__enter__()
    mv[:7] = b"partial"
print("ready", flush=True)
time.sleep(60)
"""


def run_and_kill(name, count, mid):
    child = subprocess.Popen([sys.executable, "-c", CHILD, name, str(count),
                              "mid" if mid else "end"],
                             stdout=subprocess.PIPE, env=child_env())
    try:
        assert child.stdout.readline() == b"ready\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("mid", [False, True], ids=["idle", "mid-message"])
@pytest.mark.parametrize("mpsc", [False, True], ids=["spsc", "mpsc"])
def test_killed_producer(name, mid, mpsc):
    pshm.chan_create(name, size=1 << 16, mpsc=mpsc)
    with pshm.Consumer(name) as c:
        run_and_kill(name, 20, mid)
        got = [c.recv(timeout=5) for _ in range(20)]
        assert got == [b"msg %d" % i for i in range(20)]
        with pytest.raises(pshm.PeerGone) as e:
            c.recv(timeout=5)  # gone, not a timeout; the partial message never shows
        assert isinstance(e.value, BrokenPipeError)
        assert list(c) == []
