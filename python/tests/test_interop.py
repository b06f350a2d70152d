# SPDX-License-Identifier: MIT
"""Python and C on the same channels and boxes, both ways; and no resource tracker."""
import subprocess
import sys

import pshm
from conftest import EXAMPLES, PSHM_BIN, child_env, need


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, timeout=30, **kw)


def test_python_producer_to_c_consumer(name):
    consumer = need(EXAMPLES / "chan_consumer")
    pshm.chan_create(name, size=1 << 16)
    c = subprocess.Popen([consumer, name], stdout=subprocess.PIPE)
    try:
        with pshm.Producer(name) as p:
            for i in range(50):
                p.send(b"py %d" % i)
            with p.reserve(32) as mv:
                mv[:9] = b"zero-copy"
        # the C consumer ends when the producer is gone (-EPIPE)
        out, _ = c.communicate(timeout=10)
    finally:
        if c.poll() is None:
            c.kill()
            c.wait()
    lines = out.split(b"\n")
    assert lines[:50] == [b"py %d" % i for i in range(50)]
    assert lines[50].startswith(b"zero-copy")
    assert c.returncode == 0


def test_c_producer_to_python_consumer(name):
    producer = need(EXAMPLES / "chan_producer")
    pshm.chan_create(name, size=1 << 16)
    with pshm.Consumer(name) as c:
        r = run(producer, name, "25")
        assert r.returncode == 0, r.stderr
        got = list(c)  # ends with -EPIPE: the C producer is gone
    assert len(got) == 25
    assert len(set(got)) == 25


def test_cli_send_recv(name):
    tool = need(PSHM_BIN)
    pshm.chan_create(name, size=1 << 16)
    with pshm.Consumer(name) as c:
        r = run(tool, "send", name, "from", "the", "shell")
        assert r.returncode == 0, r.stderr
        assert [c.recv(timeout=5) for _ in range(3)] == [b"from", b"the", b"shell"]
    with pshm.Producer(name) as p:
        p.send(b"to the shell")
    r = run(tool, "recv", name, "-n", "1", "--timeout", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"to the shell\n"


def test_box_both_ways(name, names):
    tool = need(PSHM_BIN)
    pshm.box_put(name, b"from python")
    r = run(tool, "get", name)
    assert r.returncode == 0 and r.stdout == b"from python"
    other = names()
    r = run(tool, "put", other, "from C")
    assert r.returncode == 0, r.stderr
    assert pshm.box_get(other) == b"from C"
    r = run(tool, "verify", other)
    assert r.returncode == 0


CHILD = r"""
import sys, pshm
name = sys.argv[1]
pshm.chan_create(name, size=1 << 12)
with pshm.Producer(name) as p, pshm.Consumer(name) as c:
    p.send(b"x"); c.recv()
pshm.box_put(name + "-box", b"v"); pshm.box_get(name + "-box")
pshm.ls(); pshm.stat(name)
print("multiprocessing" in sys.modules, "multiprocessing.resource_tracker" in sys.modules)
"""


def test_never_touches_the_resource_tracker(name, names):
    box = name + "-box"
    try:
        r = run(sys.executable, "-c", CHILD, name, env=child_env())
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"False False\n"
        # and what it made outlives it: nothing deleted behind our back
        assert pshm.stat(name).kind == "chan"
        assert pshm.box_get(box) == b"v"
    finally:
        try:
            pshm.unlink(box)
        except FileNotFoundError:
            pass

