"""Ray executor: each stage is a Ray task with its CPU/GPU needs; dependencies are object refs,
so independent cells run in parallel across a cluster. Results land in the same shared cache
directory (use a shared filesystem for multi-node clusters).

A stage that fails inside a worker is re-raised in the driver as the original exception (a
FlatbenchError stays one line and exit 2); its dependants are cancelled with it. Stages write their
outputs atomically, so a run stopped at any point resumes from the cache, as with `local`."""

from __future__ import annotations

import sys
import time

from flatbench.errors import FlatbenchError
from flatbench.executors.common import begin, finish


def _run_stage(stage, ctx, *_deps):
    t0 = time.time()
    return stage.run(ctx), time.time() - t0


class RayExecutor:
    def __init__(self, address: str | None = None, echo=print, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise FlatbenchError("the ray executor needs Ray: pip install -e '.[ray]'") from None
        self.ray, self.address, self.echo, self.num_cpus = ray, address, echo, num_cpus

    def _init(self):
        ray = self.ray
        if ray.is_initialized():
            return
        kw = dict(ignore_reinit_error=True, log_to_driver=False)
        if self.address:
            kw["address"] = self.address
        else:  # a local instance: no dashboard (it only costs start-up time here)
            kw.update(include_dashboard=False, num_cpus=self.num_cpus)
        ray.init(**kw)

    def run(self, stages, ctx) -> dict:
        ray = self.ray
        cached = begin(stages, ctx, self.echo)
        self._init()
        remote = ray.remote(_run_stage)
        refs, results, label = {}, {}, {}
        for s in stages:
            if s.key in cached:
                results[s.key] = cached[s.key]
                refs[s.key] = ray.put(results[s.key])
                continue
            deps = [refs[d.key] for d in s.deps()]
            ref = remote.options(num_cpus=s.needs.get("cpu", 1), num_gpus=s.needs.get("gpu", 0),
                                 max_retries=0).remote(s, ctx, *deps)
            refs[s.key], label[ref] = ref, s
        self.echo(f"{len(stages)} stages, {len(results)} cached, {len(label)} submitted to Ray", file=sys.stderr)
        pending, n = list(label), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                manifest, secs = ray.get(ready[0])
            except ray.exceptions.RayTaskError as e:
                self._drain(pending)
                cause = getattr(e, "cause", None)
                raise (cause if isinstance(cause, BaseException) else e) from None
            s = label[ready[0]]
            results[s.key] = manifest
            n += 1
            self.echo(f"[{n}/{len(label)}] {s.label()} done in {secs:.1f}s", file=sys.stderr)
        finish(stages, results, cached, ctx, self.echo)
        return results

    def _drain(self, refs) -> None:
        """Cancel the stages still pending and collect their outcomes: an errored ref that is never
        fetched is printed by Ray at exit as an "unhandled error", after our one-line message."""
        ray = self.ray
        for r in refs:
            ray.cancel(r, force=True)
        for r in refs:
            try:
                ray.get(r, timeout=60)
            except Exception:  # cancelled, or failed with the error already being raised
                pass
