#!/usr/bin/env python3
"""How long a small durable write takes after a gap, with the writer sleeping or spinning
through the gap, buffered + fdatasync against O_DIRECT | O_DSYNC (docs/performance.md, "The
machine's floor at low load"). Writes a 64 MiB file in DIR (default: the current directory).
Only on a quiet machine: the spinning rows take a core, and compete with anything else running.

    scripts/fsync-gap-probe.py [DIR]
"""
import mmap, os, sys, time

path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "fsync-gap-probe.tmp")
SIZE, WRITES, RECORD = 64 << 20, 400, 200


def prepare():
    # Preallocated and durable, as Corral's log segments are: no size change to write back.
    with open(path, "wb") as f:
        f.write(b"\0" * SIZE)
        f.flush()
        os.fsync(f.fileno())


def probe(direct, gap_s, spin):
    flags = os.O_WRONLY | (os.O_DIRECT | os.O_DSYNC if direct else 0)
    fd = os.open(path, flags)
    block = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT wants
    block.write(b"x" * 4096)
    times = []
    for i in range(WRITES):
        if gap_s and spin:
            until = time.perf_counter() + gap_s
            while time.perf_counter() < until:
                pass
        elif gap_s:
            time.sleep(gap_s)
        start = time.perf_counter()
        offset = i * RECORD
        if direct:
            os.pwrite(fd, block, offset // 4096 * 4096)
        else:
            os.pwrite(fd, b"y" * RECORD, offset)
            os.fdatasync(fd)
        times.append((time.perf_counter() - start) * 1e3)
    os.close(fd)
    times.sort()
    q = lambda p: times[min(int(len(times) * p), len(times) - 1)]
    return f"p50 {q(0.5):.3f} p90 {q(0.9):.3f} p99 {q(0.99):.3f} ms"


prepare()
try:
    for gap_ms in (0, 0.2, 1, 2, 10):
        for spin in ((False, True) if gap_ms else (False,)):
            for direct in (False, True):
                how = "spinning" if spin else "sleeping"
                kind = "O_DIRECT|O_DSYNC" if direct else "buffered+fdatasync"
                print(f"gap {gap_ms:>4} ms {how:8} {kind:18} {probe(direct, gap_ms / 1e3, spin)}")
finally:
    os.remove(path)
