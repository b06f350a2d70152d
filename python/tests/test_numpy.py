# SPDX-License-Identifier: MIT
"""numpy without copies: an array written into a reservation, read in a peek."""
import subprocess
import sys

import pytest

import pshm
from conftest import HERE, child_env

np = pytest.importorskip("numpy", reason="numpy is not installed (Debian: python3-numpy); "
                         "the zero-copy numpy tests are skipped")


def test_array_round_trip_in_place(name):
    pshm.chan_create(name, size=1 << 22, max_msg=1 << 20)
    a = np.arange(1000 * 100, dtype=np.float64).reshape(1000, 100)
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        with p.reserve(a.nbytes) as mv:
            np.copyto(np.frombuffer(mv, dtype=a.dtype).reshape(a.shape), a)
        with c.peek(timeout=1) as mv:
            b = np.frombuffer(mv, dtype=np.float64).reshape(1000, 100)
            assert not b.flags.writeable  # a read-only view of the ring
            assert not b.flags.owndata
            assert np.array_equal(a, b)
            assert b.__array_interface__["data"][0] != a.__array_interface__["data"][0]
            del b
        # send() takes an array too, without a copy of its own
        p.send(a)
        out = np.empty_like(a)
        assert c.recv_into(out, timeout=1) == a.nbytes
        assert np.array_equal(a, out)


def test_array_kept_past_the_block_is_refused(name):
    pshm.chan_create(name, size=1 << 16, mpsc=True)  # MPSC: the producer survives an abort
    with pshm.Producer(name) as p, pshm.Consumer(name) as c:
        with pytest.raises(BufferError):
            with p.reserve(64) as mv:
                kept = np.frombuffer(mv, dtype=np.uint8)
                kept[:] = 1
        with pytest.raises(pshm.WouldBlock):
            c.recv(0)  # nothing was published
        del kept
        p.send(np.ones(8, dtype=np.uint8))
        with pytest.raises(BufferError):
            with c.peek(0) as mv:
                view = np.frombuffer(mv, dtype=np.uint8)
        assert view.sum() == 8  # still valid: the message was not released
        del view
        assert c.recv(0) == b"\x01" * 8


def test_example_runs():
    r = subprocess.run([sys.executable, str(HERE.parent / "examples" / "numpy_frames.py"), "20"],
                       capture_output=True, timeout=60, env=child_env())
    assert r.returncode == 0, r.stderr
    assert b"20 frames" in r.stdout and b"checksum %d" % sum(range(20)) in r.stdout
