"""Running the strength-matching protocol (flatbench.analysis.strength) on the base models:
the dev attacks each candidate needs, run through the stage cache, and the choice."""

from __future__ import annotations

from flatbench.analysis.strength import (CALIBRATION_GRID, MODELS, PLAN, PROTOCOL, SEARCH, choose,
                                         next_candidate, target)


def _cells(grid, data_dir):
    from flatbench.stages import bind_data

    return {(c.model, c.dataset, c.hp["attack_bounds"]): bind_data(c, data_dir) for c in grid.cells}


def calibration_stages(cells: dict, dataset: str, recipe: str, cos: float) -> list:
    """The dev attacks of the two base models at one candidate bound."""
    from flatbench.stages import AttackStage, final_train_stage

    return [AttackStage.for_test(final_train_stage(cells[(m, dataset, f"cos{cos:.2f}")]), recipe, "dev")
            for m in MODELS]


def calibrate(ctx, run_stages, groups=None, echo=print) -> dict:
    """Run the protocol: for each (dataset, recipe) evaluate the candidates the search asks for
    (running only the stages it needs; cached ones are reused) and choose. Returns the table."""
    from flatbench.attack_resources.catalog import identity
    from flatbench.cells import load_grid
    from flatbench.registry import ATTACKS
    from flatbench.stages import STAGE_VERSION, with_dependencies

    grid = load_grid(CALIBRATION_GRID)
    cells = _cells(grid, ctx.data_dir)
    bounds = {}
    for ds, recipe in groups or PLAN:
        goal = target(ds, recipe)
        mean_aa, evaluated = {}, {}
        echo(f"strength: {ds}/{recipe}: target base AA {goal:.2f} (paper {PLAN[(ds, recipe)]}), "
             f"search {SEARCH[recipe]}")
        while (c := next_candidate(mean_aa, goal, search=SEARCH[recipe])) is not None:
            stages = calibration_stages(cells, ds, recipe, c)
            run_stages(with_dependencies(stages))
            ms = [ctx.cache.manifest(s.kind, s.key) for s in stages]
            aa = {m: 100 * man["metrics"]["after_attack_acc"] for m, man in zip(MODELS, ms)}
            mean_aa[c] = sum(aa.values()) / len(aa)
            evaluated[f"{c:.2f}"] = {**{m: round(v, 2) for m, v in aa.items()},
                                     "mean": round(mean_aa[c], 2), "n": ms[0]["metrics"]["n"],
                                     "keys": {m: s.key for m, s in zip(MODELS, stages)}}
            echo(f"  cos {c:.2f}: " + ", ".join(f"{m} {v:.2f}" for m, v in aa.items())
                 + f"; mean {mean_aa[c]:.2f}")
        chosen = choose(mean_aa, goal)
        opts = calibration_stages(cells, ds, recipe, chosen)[0].options()
        bounds[f"{ds}/{recipe}"] = {
            "cos": chosen, "mse": round(2 - 2 * chosen, 4), "target": round(goal, 3),
            "target_source": f"paper {PLAN[(ds, recipe)]}, base LSTM and CNN",
            "dev_aa": evaluated[f"{chosen:.2f}"], "search": SEARCH[recipe], "candidates": evaluated,
            "resources": {r: identity(r, opts) for r in ATTACKS.get(recipe).RESOURCES}}
        echo(f"  chosen: cos {chosen:.2f} (mean dev AA {mean_aa[chosen]:.2f}, target {goal:.2f})")
    return {"protocol": PROTOCOL, "grid": CALIBRATION_GRID, "stage_version": STAGE_VERSION,
            "models": list(MODELS), "bounds": bounds}
