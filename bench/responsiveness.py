"""How late the Tk event loop runs: a 10 ms `after` heartbeat records each beat's delay."""

from __future__ import annotations

import statistics
import time

BEAT_MS = 10


class EventLoopDelays:
    def __init__(self, root):
        self.root = root
        self.delays: list[float] = []
        self._expected = time.perf_counter() + BEAT_MS / 1000
        root.after(BEAT_MS, self._beat)

    def _beat(self) -> None:
        now = time.perf_counter()
        self.delays.append(now - self._expected)
        self._expected = now + BEAT_MS / 1000
        self.root.after(BEAT_MS, self._beat)

    def summary(self) -> str:
        return delay_summary(self.delays)


def delay_summary(delays: list[float]) -> str:
    """Median, 99th percentile and largest of event-loop delays (seconds), in milliseconds."""
    delays = sorted(delays)
    return (
        f"median {statistics.median(delays) * 1000:.1f} ms, p99 "
        f"{delays[int(0.99 * (len(delays) - 1))] * 1000:.1f} ms, max {delays[-1] * 1000:.0f} ms"
    )
