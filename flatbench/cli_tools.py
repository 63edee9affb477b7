"""Commands beside the tables: attack one model, the attack resources, the stage cache, the
registry, the declared hyper-parameters, the datasets' statistics (registered by flatbench.cli)."""

from __future__ import annotations

import json
import sys

import click

from flatbench.errors import FlatbenchError


@click.command()
@click.option("--model", required=True)
@click.option("--dataset", required=True)
@click.option("--method", default="base", show_default=True)
@click.option("--train-attack", default=None, help="attack the adv/FLAT model was trained with (default: --recipe)")
@click.option("--recipe", required=True, help="attack recipe, e.g. pwws, textfooler")
@click.option("--split", type=click.Choice(["test", "dev", "train"]), default="test", show_default=True)
@click.option("--n", type=int, default=None, help="attack N seeded random examples (default: all)")
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--budget", type=int, default=None, help="query budget per example (default: the recipe's)")
@click.option("--grid", default="table3", show_default=True, help="grid whose hyper-parameters the model uses")
@click.option("--data-dir", type=click.Path(), default=None)
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--no-mlflow", is_flag=True)
def attack(model, dataset, method, train_attack, recipe, split, n, seed, budget, grid, data_dir, runs_dir,
           overrides, no_mlflow):
    """Attack a trained model (training it first if it is not cached) and print the metrics."""
    from flatbench.attacks.recipes import preflight
    from flatbench.cli_common import context as _context, grid as _grid
    from flatbench.executors.local import LocalExecutor
    from flatbench.pipeline import preflight_models
    from flatbench.registry import METHODS
    from flatbench.stages import AttackStage, bind_data, final_train_stage, with_dependencies

    preflight([recipe] + ([train_attack] if train_attack else []))
    if n is not None and n <= 0:
        raise FlatbenchError(f"--n {n}: the example selection is empty")
    if budget is not None and budget <= 0:
        raise FlatbenchError(f"--budget {budget}: a query budget must be a positive integer")
    adversarial = METHODS.get(method).ADVERSARIAL
    g = _grid(grid, model, dataset, method, (train_attack or recipe) if adversarial else None, str(seed), overrides)
    ctx = _context(runs_dir, data_dir, f"attack:{g.name}", mlflow_on=not no_mlflow)
    cell = bind_data(g.cells[0], ctx.data_dir)
    preflight_models([final_train_stage(cell)])
    ctx.cache.ensure_writable()
    ctx.tracker.setup()
    final = final_train_stage(cell)
    st = AttackStage(final, split, recipe, n, seed, budget or cell.hp.get("query_budget"))
    LocalExecutor().run(with_dependencies([st]), ctx)
    m = ctx.cache.manifest(st.kind, st.key)
    mm = m["metrics"]
    click.echo(f"{st.label()}  (cache {ctx.cache.dir(st.kind, st.key)})")
    click.echo(f"examples {mm['n']}: succeeded {mm['succeeded']}, failed {mm['failed']}, skipped {mm['skipped']}")
    click.echo(f"clean accuracy        {100 * mm['clean_acc']:.2f}%")
    click.echo(f"after-attack accuracy {100 * mm['after_attack_acc']:.2f}%")
    click.echo(f"attack success rate   {100 * mm['success_rate']:.2f}%")
    click.echo(f"words perturbed       {mm['perturbed_pct']:.2f}%")
    click.echo(f"average queries       {mm['avg_queries']:.1f}")
    search = f"; search: {mm['search']}" if mm.get("search") else ""  # greedy or stock's loop
    click.echo(f"seconds per example   {mm['seconds_per_example']:.3f} (forward share {100 * mm['forward_share']:.0f}%{search})")
    for d in m["deviations"]:
        click.echo(f"deviation: {d}")


@click.group(invoke_without_command=True)
@click.pass_context
def resources(ctx):
    """Attack resources: where each would come from now (originals online, substitutes offline)."""
    if ctx.invoked_subcommand is None:
        from tabulate import tabulate

        from flatbench.attack_resources import catalog as res

        rows = [[r.name, r.status, ", ".join(r.recipes), r.path or "–", r.deviation or r.fix or ""]
                for r in res.table()]
        click.echo(f"resource directory: {res.resource_dir()}")
        click.echo(tabulate(rows, headers=["resource", "status", "recipes", "path", "deviation / how to get it"],
                            tablefmt="github"))
        for line in res.quality_lines():
            click.echo(line)


@resources.command()
@click.option("--online/--offline", default=None, help="force the online originals or the offline substitutes")
def prepare(online):
    """Assemble what can be assembled into flatbench's resource directory (idempotent)."""
    from flatbench.attack_resources import catalog as res

    rep = res.prepare(online=online)
    for name, what in rep.get("actions", {}).items():
        click.echo(f"  {name}: {what}")
    click.echo(f"resources ready in {rep['resource_dir']} ({rep['seconds']:.1f}s, "
               f"{'online' if rep['online'] else 'offline'})")
    missing = [r for r in res.table() if r.status == "missing"]
    for r in missing:
        click.echo(f"  missing: {r.name} (needed by {', '.join(r.recipes)}): {r.fix}")


@click.group("cache")
def cache_group():
    """The stage cache (runs/<kind>/<key>/): verify it against its manifests, repair it."""


@cache_group.command("verify")
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True, help="stage cache")
@click.option("--repair", is_flag=True,
              help="move bad stages aside (to runs/<kind>/.bad/) so that the next run recomputes them")
def cache_verify(runs_dir, repair):
    """Check every cached stage: its manifest reads and each output file has the size and sha256
    recorded in it. Legacy stages (manifests written before hashes were recorded) are checked for
    structure (JSON, JSON Lines and checkpoints read) and get their hashes recorded now. Exit 1
    when bad stages remain (without --repair)."""
    from collections import Counter

    from flatbench.cache import Cache
    from flatbench.cli_common import require_runs_dir as _require_runs_dir

    _require_runs_dir(runs_dir, "flatbench run --runs-dir DIR")
    cache = Cache(runs_dir)
    rows = cache.verify(repair=repair)
    for r in rows:
        if r["status"] in ("bad", "repaired"):
            moved = f"; moved to {r['moved_to']}" if r.get("moved_to") else ""
            click.echo(f"{r['status']}: {r['kind']}/{r['key']}: {r['problem']}{moved}")
    c = Counter(r["status"] for r in rows)
    line = f"{len(rows)} stages: {c['ok']} ok, {c['legacy']} legacy (hashes recorded now), {c['bad'] + c['repaired']} bad"
    if repair:
        line += f" ({c['repaired']} moved aside; the next run recomputes them)"
        stale = cache.sweep_stale()
        if stale:
            line += f"; removed {stale} temporary director{'y' if stale == 1 else 'ies'} of dead processes"
    click.echo(line)
    if c["bad"]:
        click.echo("run `flatbench cache verify --repair` to move them aside; the next run recomputes them", err=True)
        sys.exit(1)


@cache_group.command("compare")
@click.argument("other", type=click.Path())
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True, help="stage cache")
def cache_compare(other, runs_dir):
    """Compare the stages two caches share (same kind and key) file by file, by the sha256 their
    manifests record: a stage's key holds everything that decides its output, so a stage computed
    again (another machine, a fresh run, another executor) must give the same bytes. Exit 1 when a
    shared stage differs."""
    from collections import Counter

    from flatbench.cache import Cache
    from flatbench.cli_common import require_runs_dir as _require_runs_dir

    _require_runs_dir(runs_dir, "flatbench run --runs-dir DIR")
    _require_runs_dir(other, "flatbench run --runs-dir DIR")
    rows = Cache(runs_dir).compare(Cache(other))
    for r in rows:
        if r["status"] == "differs":
            click.echo(f"differs: {r['kind']}/{r['key']}: {', '.join(r['files'])}")
    c = Counter(r["status"] for r in rows)
    shared = c["identical"] + c["differs"]
    by_kind = Counter(r["kind"] for r in rows if r["status"] == "identical")
    click.echo(f"{shared} shared stages: {c['identical']} identical"
               + (f" ({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))})" if by_kind else "")
               + f", {c['differs']} differ; {c['only_here']} only in {runs_dir}, {c['only_there']} only in {other}")
    if c["differs"]:
        sys.exit(1)


@click.command("list")
def list_cmd():
    """What the registry holds: datasets, models, methods, attacks, grids."""
    from flatbench.cells import read_grid_file
    from flatbench.data.datasets import DATASETS
    from flatbench.registry import ATTACKS, METHODS, MODELS, grid_names

    click.echo("datasets: " + " ".join(DATASETS))
    click.echo("models:   " + " ".join(MODELS.names()))
    click.echo("methods:  " + " ".join(METHODS.names()))
    click.echo("attacks:  " + " ".join(ATTACKS.names()))
    click.echo("grids:")
    for g in grid_names():
        click.echo(f"  {g:8s} {read_grid_file(g).get('description', '')}")


@click.command("hp")
@click.option("--grid", default=None, help="also show this grid's resolved values, per model/dataset/method")
def hp_cmd(grid):
    """Every declared hyper-parameter: who declares it, its default, what values it takes."""
    from tabulate import tabulate

    from flatbench import hparams as H
    from flatbench.registry import METHODS, MODELS

    groups = [(f"model:{m}", H.model_hp(m)) for m in MODELS.names()] + \
        [(f"method:{m}", H.method_hp(METHODS.get(m), rounds=True)) for m in METHODS.names()] + \
        [("train", H.train_hp()), ("rounds", H.rounds_hp()), ("attack", H.attack_hp()),
         ("interpret", H.interpret_hp()), ("settings", H.SETTINGS)]
    decl: dict = {}
    defaults: dict[str, dict[str, str]] = {}  # name -> {owner: default}, in declaration order
    for owner, d in groups:
        for k, p in d.items():
            decl.setdefault(k, p)
            defaults.setdefault(k, {})[owner] = json.dumps(p.default)
    rows = [[k, ", ".join(defaults[k]), (next(iter(defaults[k].values())) if len(set(defaults[k].values())) == 1
             else ", ".join(f"{o.split(':')[-1]} {v}" for o, v in defaults[k].items())),
             decl[k]._want(), decl[k].doc] for k in sorted(decl)]
    click.echo(tabulate(rows, headers=["name", "declared by", "default", "takes", "meaning"], tablefmt="github"))
    if grid:
        from flatbench.cells import load_grid
        from flatbench.settings import cell_hp

        g = load_grid(grid)
        seen = set()
        for c in g.cells:
            sig = (c.model, c.dataset, c.method)
            if sig in seen:
                continue
            seen.add(sig)
            hp = cell_hp(c)
            set_ = {k: v for k, v in sorted(hp.items()) if k in decl and v != decl[k].default}
            click.echo(f"{c.model}/{c.dataset}/{c.method}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in set_.items()))


@click.command()
@click.option("--data-dir", type=click.Path(), default=None)
def datasets(data_dir):
    """Statistics of each dataset beside the paper's Table 1, and where it was loaded from."""
    from tabulate import tabulate

    from flatbench.data.datasets import DATASETS, load_dataset

    rows = []
    for name, info in DATASETS.items():
        ds = load_dataset(name, data_dir)
        s = ds.stats()
        rows.append([name, ds.source] + [f"{s[k]} ({info.paper[k]})" for k in ("classes", "avg_len", "train", "dev", "test")])
        for d in ds.deviations:
            click.echo(f"deviation: {d}", err=True)
    click.echo(tabulate(rows, headers=["dataset", "source", "classes", "avg len", "train", "dev", "test"],
                        tablefmt="github"))
    click.echo("(paper Table 1 in brackets)")


TOOLS = [attack, resources, cache_group, list_cmd, hp_cmd, datasets]
