#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Camera-like frames through a pshm channel, without a copy on either side.

    PYTHONPATH=python python3 python/examples/numpy_frames.py [COUNT]

A child process writes each frame straight into the ring (reserve); the
parent reads it in place (peek) with numpy.frombuffer. The only copies
are the ones the frame's computation makes.
"""
import os
import sys

import numpy as np

import pshm

SHAPE, DTYPE = (480, 640, 3), np.uint8
NBYTES = int(np.prod(SHAPE)) * np.dtype(DTYPE).itemsize


def produce(name: str, count: int) -> None:
    with pshm.Producer(name) as p:
        for i in range(count):
            with p.reserve(NBYTES) as mv:
                # A view of the ring as an array; filled in place, then
                # dropped before the block ends (the block checks).
                frame = np.frombuffer(mv, dtype=DTYPE).reshape(SHAPE)
                frame[...] = i % 256
                del frame


def consume(name: str) -> int:
    total = 0
    with pshm.Consumer(name) as c:
        while True:
            try:
                with c.peek() as mv:
                    frame = np.frombuffer(mv, dtype=DTYPE).reshape(SHAPE)
                    total += int(frame[0, 0, 0])
                    del frame  # before the message is released
            except pshm.PeerGone:  # the producer is done
                return total


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    name = f"numpy-frames-{os.getpid()}"
    pshm.chan_create(name, size=16 << 20, max_msg=NBYTES)
    try:
        pid = os.fork()
        if pid == 0:
            produce(name, count)
            os._exit(0)
        total = consume(name)
        os.waitpid(pid, 0)
        print(f"{count} frames of {SHAPE} {np.dtype(DTYPE).name}: checksum {total}")
    finally:
        pshm.chan_unlink(name)


if __name__ == "__main__":
    main()
