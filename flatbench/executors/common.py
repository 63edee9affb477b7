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


def finish(stages, results: dict, cached: dict, ctx, echo=print):
    """What every executor does last: for the stages it computed, print `--dry-run`'s estimate
    (made before each ran; manifest ``estimate_seconds``) against the seconds each took, per stage
    kind and per model/dataset, and write the same as JSON to <runs-dir>/estimates/
    <UTC time>_<grid>_<pid>.json. Returns that path (None when nothing was computed)."""
    import os
    import time

    from flatbench.estimate import actual_vs_predicted
    from flatbench.io import write_json

    rows = []
    for s in stages:
        m = results.get(s.key)
        if s.key in cached or not isinstance(m, dict) or "seconds" not in m:
            continue
        t = m.get("tags") or {}
        rows.append({"kind": s.kind, "label": s.label(), "key": s.key, "model": t.get("model"),
                     "dataset": t.get("dataset"), "recipe": t.get("recipe"),
                     "estimate_seconds": m.get("estimate_seconds"), "seconds": m.get("seconds"),
                     "finished": m.get("finished"), "load1": m.get("load1"),
                     **({"warm": bool((m.get("metrics") or {}).get("warm"))} if s.kind == "attack" else {})})
    if not rows:
        return None
    try:
        text, data = actual_vs_predicted(rows)
    except Exception as e:  # noqa: BLE001 - a summary never fails a run
        echo(f"predicted vs actual: not tabulated ({type(e).__name__}: {e})", file=sys.stderr)
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = ctx.cache.root / "estimates" / f"{stamp}_{ctx.grid or 'grid'}_{os.getpid()}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"grid": ctx.grid, "written": stamp, **data})
        where = f"; written to {path}"
    except OSError as e:  # the table is printed either way
        path, where = None, f"; not written ({e.strerror or e})"
    loads = [x for r in rows for x in (r.get("load1") or []) if x is not None]
    busy = (f"\n1-min load average while they ran: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores "
            "(the CPU rates were fitted at the load of the runs they came from; benchmarks/README.md, Estimates)"
            if loads else "")
    echo(f"\npredicted (dry-run estimate) vs actual seconds of the {len(rows)} stage(s) computed{where}\n{text}{busy}",
         file=sys.stderr)
    return path
