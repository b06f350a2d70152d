#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python IPC benchmark: pshm against multiprocessing.Queue, multiprocessing.Pipe
and a raw multiprocessing.shared_memory buffer.

    PYTHONPATH=python python3 python/bench.py [--rounds N] [--out bench/python.md]

Cases: 64 B and 1 MiB messages, streamed (messages/s and MB/s, timed in the
consumer from the first message to the last) and in round trips (the
median of every ping-pong's time, in µs, so a preemption now and then
does not weigh on it; streams are totals and do pay for them). Two processes, pinned to CPUs 0 and 1
(os.sched_setaffinity). A calibration run of each case first sets its
message count so that each measurement lasts about 0.2 s. Every round runs every case once, in an order
rotated by one each round, so a slow spell of the machine spreads over all
transports; the figures are medians over the rounds. Every message is
checked (length, and first and last byte), so no figure comes from lost or
unread data.

Transports:
  pshm       Producer.send(bytes) / Consumer.recv() -> bytes (one copy each side)
  pshm-zc    reserve() + one copy in / peek() read in place (zero copy out)
  pshm-poll  as pshm, both handles busy-polling (poll=True) instead of sleeping
  mp.Queue   multiprocessing.Queue put()/get() (pickle, a feeder thread, a pipe)
  mp.Pipe    multiprocessing.Pipe send_bytes()/recv_bytes()
  shm-raw    one multiprocessing.shared_memory buffer, a sequence word and an
             acknowledgement word, spun on (copy in, copy out; no queue)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from multiprocessing import shared_memory
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pshm  # noqa: E402

SMALL, BIG = 64, 1 << 20
CTX = mp.get_context("fork")
CPUS = [0, 1] if len(os.sched_getaffinity(0)) >= 2 and os.cpu_count() and os.cpu_count() >= 2 else None


def pin(i: int) -> None:
    if CPUS:
        os.sched_setaffinity(0, {CPUS[i]})


def payload(size: int, i: int) -> bytes:
    return bytes([i & 0xFF]) * size


def check(msg, size: int) -> None:
    if len(msg) != size or msg[0] != msg[-1]:
        raise RuntimeError(f"bad message: {len(msg)} bytes, expected {size}")


# ---- transports: each gives a producer-side and consumer-side for a stream,
# ---- and an echo-side and a pinger-side for round trips.

class Pshm:
    name = "pshm"
    zc = False
    poll = False

    def setup(self, size: int) -> None:
        self.ch = [f"pshm-bench-{os.getpid()}-{size}-{k}" for k in ("a", "b")]
        ring = max(1 << 20, 1 << (size * 8 - 1).bit_length())
        for n in self.ch:
            pshm.chan_create(n, size=ring, max_msg=max(size, 1024))

    def teardown(self) -> None:
        for n in self.ch:
            pshm.chan_unlink(n)

    def _send(self, p, msg: bytes) -> None:
        if self.zc:
            with p.reserve(len(msg)) as mv:
                mv[:] = msg
        else:
            p.send(msg)

    def _recv(self, c, size: int) -> None:
        if self.zc:
            with c.peek() as mv:
                check(mv, size)
        else:
            check(c.recv(), size)

    def produce(self, size: int, n: int) -> None:
        msg = payload(size, 7)
        with pshm.Producer(self.ch[0], poll=self.poll) as p:
            for _ in range(n):
                self._send(p, msg)

    def consume(self, size: int, n: int) -> float:
        with pshm.Consumer(self.ch[0], poll=self.poll) as c:
            self._recv(c, size)
            t = time.perf_counter()
            for _ in range(n - 1):
                self._recv(c, size)
            return time.perf_counter() - t

    def echo(self, size: int, n: int) -> None:
        with pshm.Consumer(self.ch[0], poll=self.poll) as c, pshm.Producer(self.ch[1], poll=self.poll) as p:
            for _ in range(n):
                if self.zc:
                    with c.peek() as mv:
                        with p.reserve(len(mv)) as out:
                            out[:] = mv
                else:
                    p.send(c.recv())

    def ping(self, size: int, n: int) -> float:
        msg = payload(size, 9)
        with pshm.Producer(self.ch[0], poll=self.poll) as p, pshm.Consumer(self.ch[1], poll=self.poll) as c:
            self._send(p, msg)
            self._recv(c, size)
            ts = []
            for _ in range(n - 1):
                t = time.perf_counter()
                self._send(p, msg)
                self._recv(c, size)
                ts.append(time.perf_counter() - t)
            return statistics.median(ts)


class PshmZc(Pshm):
    name = "pshm-zc"
    zc = True


class PshmPoll(Pshm):
    name = "pshm-poll"
    poll = True


class Queue:
    name = "mp.Queue"

    def setup(self, size: int) -> None:
        self.q = [CTX.Queue(), CTX.Queue()]

    def teardown(self) -> None:
        for q in self.q:
            q.close()
            q.join_thread()

    def produce(self, size: int, n: int) -> None:
        msg = payload(size, 7)
        for _ in range(n):
            self.q[0].put(msg)

    def consume(self, size: int, n: int) -> float:
        check(self.q[0].get(), size)
        t = time.perf_counter()
        for _ in range(n - 1):
            check(self.q[0].get(), size)
        return time.perf_counter() - t

    def echo(self, size: int, n: int) -> None:
        for _ in range(n):
            self.q[1].put(self.q[0].get())

    def ping(self, size: int, n: int) -> float:
        msg = payload(size, 9)
        self.q[0].put(msg)
        check(self.q[1].get(), size)
        ts = []
        for _ in range(n - 1):
            t = time.perf_counter()
            self.q[0].put(msg)
            check(self.q[1].get(), size)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)


class Pipe:
    name = "mp.Pipe"

    def setup(self, size: int) -> None:
        self.a, self.b = CTX.Pipe()

    def teardown(self) -> None:
        self.a.close()
        self.b.close()

    def produce(self, size: int, n: int) -> None:
        msg = payload(size, 7)
        for _ in range(n):
            self.b.send_bytes(msg)

    def consume(self, size: int, n: int) -> float:
        check(self.a.recv_bytes(), size)
        t = time.perf_counter()
        for _ in range(n - 1):
            check(self.a.recv_bytes(), size)
        return time.perf_counter() - t

    def echo(self, size: int, n: int) -> None:
        for _ in range(n):
            self.b.send_bytes(self.b.recv_bytes())

    def ping(self, size: int, n: int) -> float:
        msg = payload(size, 9)
        self.a.send_bytes(msg)
        check(self.a.recv_bytes(), size)
        ts = []
        for _ in range(n - 1):
            t = time.perf_counter()
            self.a.send_bytes(msg)
            check(self.a.recv_bytes(), size)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)


class ShmRaw:
    """One slot: [seq u64][ack u64] at 0 and 8, the length at 16, data at 64.
    The writer waits for ack == seq, copies the data in, then bumps seq; the
    reader waits for seq > ack, copies the data out, then sets ack. Two such
    slots for round trips."""
    name = "shm-raw"

    def setup(self, size: int) -> None:
        self.shm = [shared_memory.SharedMemory(create=True, size=64 + size) for _ in range(2)]

    def teardown(self) -> None:
        for s in self.shm:
            s.close()
            s.unlink()

    @staticmethod
    def _put(buf, words, msg: bytes) -> None:
        seq = words[0]
        while words[1] != seq:
            pass
        buf[64:64 + len(msg)] = msg
        words[2] = len(msg)
        words[0] = seq + 1

    @staticmethod
    def _get(buf, words) -> bytes:
        ack = words[1]
        while words[0] == ack:
            pass
        out = bytes(buf[64:64 + words[2]])
        words[1] = ack + 1
        return out

    def _slot(self, i: int):
        buf = self.shm[i].buf
        return buf, buf[:24].cast("Q")

    def produce(self, size: int, n: int) -> None:
        msg = payload(size, 7)
        buf, w = self._slot(0)
        for _ in range(n):
            self._put(buf, w, msg)
        w.release()

    def consume(self, size: int, n: int) -> float:
        buf, w = self._slot(0)
        check(self._get(buf, w), size)
        t = time.perf_counter()
        for _ in range(n - 1):
            check(self._get(buf, w), size)
        dt = time.perf_counter() - t
        w.release()
        return dt

    def echo(self, size: int, n: int) -> None:
        (ib, iw), (ob, ow) = self._slot(0), self._slot(1)
        for _ in range(n):
            self._put(ob, ow, self._get(ib, iw))
        iw.release()
        ow.release()

    def ping(self, size: int, n: int) -> float:
        msg = payload(size, 9)
        (ob, ow), (ib, iw) = self._slot(0), self._slot(1)
        self._put(ob, ow, msg)
        check(self._get(ib, iw), size)
        ts = []
        for _ in range(n - 1):
            t = time.perf_counter()
            self._put(ob, ow, msg)
            check(self._get(ib, iw), size)
            ts.append(time.perf_counter() - t)
        iw.release()
        ow.release()
        return statistics.median(ts)


TRANSPORTS = [Pshm(), PshmZc(), PshmPoll(), Queue(), Pipe(), ShmRaw()]
# (kind, size, messages of the calibration run)
KINDS = [("stream", SMALL, 2000), ("stream", BIG, 20), ("rtt", SMALL, 200), ("rtt", BIG, 10)]
TARGET_S = 0.2  # each measurement runs about this long (after calibration)


def _child(fn: Callable[[int, int], None], size: int, n: int) -> None:
    pin(1)
    fn(size, n)


def measure(t, kind: str, size: int, n: int) -> float:
    """One measurement: messages/s for a stream, the median round trip in µs."""
    t.setup(size)
    try:
        side = t.produce if kind == "stream" else t.echo
        child = CTX.Process(target=_child, args=(side, size, n))
        child.start()
        dt = (t.consume if kind == "stream" else t.ping)(size, n)
        child.join(60)
        if child.exitcode != 0:
            raise RuntimeError(f"{t.name} {kind} {size}: child exit {child.exitcode}")
    finally:
        t.teardown()
    return (n - 1) / dt if kind == "stream" else dt * 1e6


def fmt_rate(v: float, size: int) -> str:
    mb = v * size / 1e6
    unit = f"{v / 1e6:.2f} M/s" if v >= 1e6 else f"{v / 1e3:.1f} k/s" if v >= 1e3 else f"{v:.0f}/s"
    return f"{unit} ({mb:,.0f} MB/s)" if size >= 4096 else unit


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--out", help="write a Markdown report there (e.g. bench/python.md)")
    args = ap.parse_args()
    pin(0)
    load0 = open("/proc/loadavg").read().strip()
    cases = []
    t0 = time.monotonic()
    # Calibration: a short run of each case sets its message count, so that
    # every measurement lasts about TARGET_S whatever the transport's speed.
    for k, s, n0, t in [(k, s, n, t) for (k, s, n) in KINDS for t in TRANSPORTS]:
        v = measure(t, k, s, n0)
        per_s = v if k == "stream" else 1e6 / v
        cases.append((k, s, max(10, min(200000, int(per_s * TARGET_S))), t))
    print(f"calibrated ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    res: Dict[Tuple[str, int, str], List[float]] = {}
    for r in range(args.rounds):
        rot = cases[r % len(cases):] + cases[:r % len(cases)]
        for k, s, n, t in rot:
            res.setdefault((k, s, t.name), []).append(measure(t, k, s, n))
        print(f"round {r + 1}/{args.rounds} done ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    med = {key: statistics.median(v) for key, v in res.items()}
    names = [t.name for t in TRANSPORTS]

    lines = []
    head = "| | " + " | ".join(names) + " |"
    lines += [head, "|---|" + "---:|" * len(names)]
    for k, s, _ in KINDS:
        label = f"{'64 B' if s == SMALL else '1 MiB'} {'stream, messages/s' if k == 'stream' else 'round trip, µs'}"
        cells = []
        for nm in names:
            v = med[(k, s, nm)]
            cells.append(fmt_rate(v, s) if k == "stream" else f"{v:.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    spread = []
    for (k, s, nm), v in sorted(res.items()):
        lo, hi = min(v), max(v)
        spread.append(f"{k} {s} B {nm}: median {statistics.median(v):.4g}, "
                      f"min {lo:.4g}, max {hi:.4g}")
    g1 = med[("stream", BIG, "pshm")] / med[("stream", BIG, "mp.Queue")]
    g1z = med[("stream", BIG, "pshm-zc")] / med[("stream", BIG, "mp.Queue")]
    g2 = med[("stream", SMALL, "pshm")] / med[("stream", SMALL, "mp.Pipe")]
    r1 = med[("rtt", SMALL, "mp.Pipe")] / med[("rtt", SMALL, "pshm")]
    goals = [
        f"- 1 MiB frames, streamed, at >= 10x multiprocessing.Queue's rate: "
        f"pshm {g1:.1f}x, pshm-zc {g1z:.1f}x: {'met' if max(g1, g1z) >= 10 else 'NOT met'}",
        f"- 64 B messages, streamed, at >= 3x multiprocessing.Pipe's rate: pshm {g2:.1f}x: "
        f"{'met' if g2 >= 3 else 'NOT met'} (64 B round trip: {r1:.1f}x faster than mp.Pipe)",
    ]
    cmd = f"PYTHONPATH=python {sys.executable} python/bench.py " + " ".join(sys.argv[1:])
    print("\n".join(lines + [""] + goals))
    if args.out:
        with open(args.out, "w") as f:
            f.write("# pshm from Python: benchmark\n\n")
            f.write("Generated by `python/bench.py` (its docstring has the method). Rerun with:\n\n")
            f.write(f"    {cmd.strip()}\n\n")
            f.write("## Machine\n\n")
            f.write(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}\n")
            f.write(f"- cpu: {cpu_model()}, {os.cpu_count()} logical CPUs; "
                    f"{'pinned to CPUs 0 and 1' if CPUS else 'not pinned (fewer than 2 CPUs)'}\n")
            f.write(f"- kernel: {platform.release()}\n")
            f.write(f"- python: {platform.python_implementation()} {platform.python_version()} "
                    f"({sys.executable}); libpshm {pshm.lib_version}\n")
            f.write(f"- rounds: {args.rounds}, each running every case once in a rotated order; "
                    f"{time.monotonic() - t0:.0f} s in all\n")
            f.write(f"- load at start: {load0} (/proc/loadavg)\n")
            f.write(f"- load at end: {open('/proc/loadavg').read().strip()} (/proc/loadavg)\n\n")
            f.write("## Results (medians)\n\n")
            f.write("\n".join(lines) + "\n\n")
            f.write("Streams: messages per second received (and MB/s for 1 MiB). "
                    "Round trips: the median of the round trips of a run, in microseconds (one message each way), then the median over the rounds.\n\n")
            f.write("## Goals\n\n" + "\n".join(goals) + "\n\n")
            f.write("pshm and pshm-zc wait as libpshm does by default (spin about 4 µs, "
                    "then sleep on a futex); pshm-poll and shm-raw spin for ever, so their "
                    "round trips never pay for a wake-up. On a loaded machine every transport that "
                    "sleeps pays the scheduler's latency: compare the load average with "
                    "the CPU count before trusting a figure.\n\n")
            f.write("## Spread (every round)\n\n")
            f.write("\n".join(f"- {x}" for x in spread) + "\n")


if __name__ == "__main__":
    main()
