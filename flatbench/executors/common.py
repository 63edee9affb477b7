"""What every executor does before it runs a stage."""

from __future__ import annotations

import sys


def begin(stages, ctx, echo=print) -> dict:
    """What every executor does first: check the runs dir can be written, remove the temporary
    directories of dead processes, read the manifests of the cached stages (an unreadable one is
    reported in one line, moved aside, and its stage counted as to run), and let MLflow catch up
    on the cached stages it has no finished run for (one search). Returns {key: manifest}."""
    cache = ctx.cache
    cache.ensure_writable()
    n = cache.sweep_stale()
    if n:
        echo(f"removed {n} temporary director{'y' if n == 1 else 'ies'} left by dead processes", file=sys.stderr)
    cached = {}
    for s in stages:
        m = cache.load(s.kind, s.key, s.label())
        if m is not None:
            cached[s.key] = m
    ctx.tracker.reconcile([(s, cached[s.key], cache.dir(s.kind, s.key)) for s in stages if s.key in cached],
                          ctx.grid)
    return cached
