"""Ray executor: each stage is a Ray task with its CPU/GPU needs; dependencies are object refs,
so independent cells run in parallel across a cluster. Results land in the same shared cache
directory (use a shared filesystem for multi-node clusters)."""

from __future__ import annotations

import sys

from flatbench.errors import FlatbenchError


def _run_stage(stage, ctx, *_deps):
    return stage.run(ctx)


class RayExecutor:
    def __init__(self, address: str | None = None, echo=print):
        try:
            import ray
        except ImportError:
            raise FlatbenchError("the ray executor needs Ray: pip install -e '.[ray]'") from None
        self.ray, self.address, self.echo = ray, address, echo

    def run(self, stages, ctx) -> dict:
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        remote = ray.remote(_run_stage)
        refs = {}
        for s in stages:
            if ctx.cache.done(s.kind, s.key):
                refs[s.key] = ray.put(ctx.cache.manifest(s.kind, s.key))
                continue
            deps = [refs[d.key] for d in s.deps()]
            refs[s.key] = remote.options(num_cpus=s.needs.get("cpu", 1), num_gpus=s.needs.get("gpu", 0)).remote(
                s, ctx, *deps)
        self.echo(f"submitted {len(stages)} stages to Ray", file=sys.stderr)
        return dict(zip(refs, ray.get(list(refs.values()))))
