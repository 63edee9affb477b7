"""float32 row stores for the attack resources' incremental caches (usem3_cache, tagger_cache).

Rows live in an anonymous mapping of their own, not a numpy allocation: numpy asks the kernel for
huge pages on arrays of 4 MB and more, and where memory is fragmented (this VM after hours of
grid runs) a huge-page fault can stall on compaction; a cache writes its rows a few at a time, so
it meets those stalls one by one (USE-m3's rows: 70-92 us per row against ~6 us of arithmetic).
"""

from __future__ import annotations

import mmap

import numpy as np

__all__ = ["RowStore", "anonymous_rows"]


def anonymous_rows(n, width):
    """A zero-filled float32 (n, width) array in an anonymous mapping of its own: pages are
    committed when first written, in 4 KB pages."""
    buf = mmap.mmap(-1, max(n * width * 4, 1))
    return np.frombuffer(buf, dtype=np.float32, count=n * width).reshape(n, width)


class RowStore:
    """float32 rows addressed by slot; slot 0 is a permanent zero row (the sentinel).

    Holds ``max_rows`` rows; the caller resets before exceeding that, and only a single call
    needing more than the bound grows the array (shrunk back at the next reset)."""

    def __init__(self, width, max_rows):
        self.width = width
        self.max_rows = max(int(max_rows), 1)
        # pages are only committed when first written, so the resident size follows the number
        # of rows actually cached, and growing never copies below the bound
        self.rows = anonymous_rows(1 + self.max_rows, width)
        self.rows[0] = 0.0
        self.n = 1  # next free slot

    def __len__(self):
        return self.n - 1

    def would_overflow(self, n_new):
        return self.n - 1 + n_new > self.max_rows

    def reset(self):
        self.n = 1
        if self.rows.shape[0] > self.max_rows + 1:
            self.rows = anonymous_rows(1 + self.max_rows, self.width)
            self.rows[0] = 0.0

    def reserve(self, k):
        """Slots n .. n+k-1 for k new rows (grows the array by doubling); returns n."""
        need = self.n + k
        if need > self.rows.shape[0]:
            cap = max(need, 2 * self.rows.shape[0])  # only a call larger than the bound
            grown = anonymous_rows(cap, self.width)
            grown[:self.n] = self.rows[:self.n]
            self.rows = grown
        first = self.n
        self.n = need
        return first
