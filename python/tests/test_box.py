# SPDX-License-Identifier: MIT
"""Boxes from Python: values, capacity, tampering, removal."""
import errno
import os

import pytest

import pshm


def test_put_get(name):
    pshm.box_put(name, b"Bonjour")
    assert pshm.box_get(name) == b"Bonjour"
    pshm.box_put(name, bytearray(b"again"))
    assert pshm.box_get(name) == b"again"
    st = pshm.stat(name)
    assert st.kind == "box" and st.mode & 0o777 == 0o600
    assert pshm.box_stat(name).capacity == 4096


def test_box_class(name):
    with pshm.Box.create(name, 16) as b:
        assert b.capacity == 16 and b.get() == b""
        b.put(b"0123456789abcdef")
        with pytest.raises(pshm.MessageTooLong):
            b.put(b"x" * 17)
        info = b.verify()
        assert info.length == 16 and info.seq > 0
    with pshm.Box(name, readonly=True) as r:
        assert r.get() == b"0123456789abcdef"
        with pytest.raises(pshm.Error) as e:
            r.put(b"no")
        assert e.value.errno == errno.EBADF
    with pytest.raises(FileExistsError):
        pshm.Box.create(name, 16)
    with pshm.Box.create(name, 99, exist_ok=True) as b:
        assert b.capacity == 16


def test_big_capacity_reads_the_value_only(name):
    with pshm.Box.create(name, 8 << 20) as b:
        b.put(b"small")
        assert b.get() == b"small"


def test_tampered_box_is_refused(name):
    pshm.box_put(name, b"the real value")
    with open(f"/dev/shm/{name}", "r+b") as f:  # the lab's dd, from Python
        f.seek(64)
        f.write(b"HACKED")
    with pytest.raises(pshm.IntegrityError) as e:
        pshm.box_get(name)
    assert e.value.errno == errno.EBADMSG
    assert e.value.strerror == pshm.strerror(errno.EBADMSG)
    with pshm.Box(name) as b:
        with pytest.raises(pshm.IntegrityError):
            b.verify()
        b.put(b"repaired")
        assert b.get() == b"repaired"


def test_not_a_box(name):
    pshm.chan_create(name)
    with pytest.raises(pshm.FormatError):
        pshm.Box(name)
    with pytest.raises(pshm.FormatError):
        pshm.box_unlink(name)
    assert pshm.stat(name).kind == "chan"


def test_box_unlink(name):
    pshm.box_put(name, b"v")
    pshm.box_unlink(name)
    assert not os.path.exists(f"/dev/shm/{name}")
