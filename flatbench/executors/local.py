"""In-process executor: runs stages one after another in dependency order.

On 2 CPU cores torch already uses both for one model, so one stage at a time is fastest here;
attack stages parallelise internally (see flatbench.attacks.runner)."""

from __future__ import annotations

import sys
import time

from flatbench.executors.common import begin, finish


class LocalExecutor:
    def __init__(self, echo=print):
        self.echo = echo

    def run(self, stages, ctx) -> dict:
        results = {}
        cached = begin(stages, ctx, self.echo)
        todo = [s for s in stages if s.key not in cached]
        self.echo(f"{len(stages)} stages, {len(stages) - len(todo)} cached, {len(todo)} to run", file=sys.stderr)
        try:
            for i, s in enumerate(stages):
                t0 = time.time()
                results[s.key] = s.run(ctx)
                if s.key not in cached:
                    self.echo(f"[{i + 1}/{len(stages)}] {s.label()} done in {time.time() - t0:.1f}s",
                              file=sys.stderr)
        finally:  # predicted vs actual of what was computed, also when a stage failed or was stopped
            finish(stages, results, cached, ctx, self.echo)
        return results
