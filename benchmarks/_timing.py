"""Timing helpers: warm-up, alternating A B A B rounds, medians.

Why alternate: CPU clocks, caches and other processes drift over a run; timing tinynet
and PyTorch in interleaved rounds exposes both to the same drift, so their *ratio* is
much steadier than two back-to-back measurements. Each round times a block of calls
(enough to last ``block_s``) and divides, so a 5 µs op is not swamped by timer
resolution; the reported figure is the median of the per-round means.

GPU work is asynchronous: a ``sync`` callable (e.g. ``torch.cuda.synchronize`` or
``tn.cuda.synchronize``) is called before the clock starts and before it stops.
"""
from __future__ import annotations

import statistics
import time


def _calls_for(fn, sync, block_s, clock=time.perf_counter):
    """How many calls of ``fn`` fill about ``block_s`` seconds (at least 1)."""
    n = 1
    while True:
        sync()
        t0 = clock()
        for _ in range(n):
            fn()
        sync()
        dt = clock() - t0
        if dt >= block_s * 0.5 or n >= 1 << 20:
            return max(1, int(n * block_s / max(dt, 1e-9)))
        n *= 2 if dt > block_s * 0.05 else 10


def _noop():
    pass


def alternate(cases: dict, rounds: int = 7, block_s: float = 0.02, warmup: int = 3, syncs: dict | None = None,
              clock=time.perf_counter, settle_s: float = 0.03):
    """Time every callable in ``cases`` ({label: fn}) in interleaved rounds.

    ``clock`` is wall time by default. ``time.process_time`` (CPU time of this process)
    is steadier on a machine shared with other jobs, but only means "time per call" when
    the work is single-threaded and on the CPU (``python -m benchmarks --clock cpu``).

    Before each timed block the process sleeps ``settle_s`` (untimed): after its last
    parallel region a thread pool keeps its workers spinning for a while (OpenMP's default
    spin lasts milliseconds), and without the pause those spinning workers of the case
    just timed would run on the cores of the next one, taxing whichever framework comes
    second in the round.

    Returns {label: {"median_s", "min_s", "rounds", "calls_per_round", "samples_s"}}, each
    figure being seconds per call. A case whose callable raises during warm-up is
    reported as {"error": "..."} instead of a time.
    """
    syncs = syncs or {}
    live, out, calls = {}, {}, {}
    for label, fn in cases.items():
        sync = syncs.get(label, _noop)
        try:
            for _ in range(warmup):
                fn()
            sync()
            calls[label] = _calls_for(fn, sync, block_s, clock)
            live[label] = fn
        except Exception as exc:  # a broken case must not hide the others
            out[label] = {"error": f"{type(exc).__name__}: {exc}"}
    samples = {label: [] for label in live}
    for _ in range(rounds):
        for label, fn in live.items():
            sync = syncs.get(label, _noop)
            n = calls[label]
            sync()
            if settle_s:
                time.sleep(settle_s)
            t0 = clock()
            for _ in range(n):
                fn()
            sync()
            samples[label].append((clock() - t0) / n)
    for label, s in samples.items():
        out[label] = {"median_s": statistics.median(s), "min_s": min(s), "rounds": rounds,
                      "calls_per_round": calls[label], "samples_s": s}
    return out


def fmt_time(seconds) -> str:
    """Human units: 12.3 µs, 4.56 ms, 1.23 s."""
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
