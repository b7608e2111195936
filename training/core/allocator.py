"""How the process allocates memory for photo-sized arrays (glibc on Linux)."""

from __future__ import annotations

import ctypes
import sys

# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1


M_MMAP_THRESHOLD = -3


M_ARENA_MAX = -8


MMAP_THRESHOLD_BYTES = 64 << 20


TRIM_THRESHOLD_BYTES = 256 << 20


def reuse_freed_memory() -> bool:
    """Let the arrays a photo's steps free (36-150 MB each at 12 MP) serve the next step
    instead of going back to the system and being paged in, zeroed, afresh. By default glibc
    gives each block over 32 MB its own mapping, unmapped on free, and each thread its own
    arena; one arena, blocks up to 64 MB from it and up to 256 MB of freed memory kept cut the
    system time of a 12 MP drop in the Forgery tab from 0.5-0.7 to about 0.2 CPU-s (median
    verdict 1.0-1.4 s → 1.0-1.1 s, `bench.forgery_latency`). Call before other threads start;
    returns whether the settings took (False off glibc, where the allocator differs)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl)
        return False
    settings = (
        (M_ARENA_MAX, 1),
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
    )
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
