"""Running a plan's stages: check what has to be built can be built here (attack resources, model
weights), before anything runs, then hand the stages to an executor."""

from __future__ import annotations


def preflight_models(train_stages) -> None:
    """Check every model that still has to be trained can be built here, before running anything."""
    from flatbench.registry import MODELS
    from flatbench.settings import cell_hp

    seen = set()
    for s in train_stages:
        hp = cell_hp(s.cell)
        sig = (s.cell.model, hp.get("pretrained"), hp.get("tiny"), hp.get("embedding"))
        if sig not in seen:
            seen.add(sig)
            MODELS.get(s.cell.model).preflight(hp)


def run_stages(stages, ctx, executor: str = "local") -> None:
    """Preflight what is not cached (attack recipes, models to train), set tracking up, run."""
    from flatbench.attacks.recipes import preflight
    from flatbench.executors import get_executor

    ctx.cache.ensure_writable()
    preflight(s.recipe for s in stages if s.kind == "attack" and not ctx.cache.done(s.kind, s.key))
    preflight_models(s for s in stages if s.kind == "train" and not ctx.cache.done(s.kind, s.key))
    ctx.tracker.setup()
    get_executor(executor).run(stages, ctx)
