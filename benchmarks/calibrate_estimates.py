"""Fit `--dry-run`'s CPU rates on a runs dir's cached stages, and say how far the estimates are off.

    python benchmarks/calibrate_estimates.py runs                 # every cached stage
    python benchmarks/calibrate_estimates.py runs --since 2026-12-04T16:19:29 --json out.json

Every cached manifest is reduced to the features `--dry-run` priced it by
(`flatbench.estimate.manifest_features`); each stage gets three predictions: the estimate before the
2026-12-04 recalibration (`legacy`, the old formula and constants, copied below), the estimate of
the code as it is (`current`, flatbench.estimate) and the fit this script makes (`refit`). Printed:
the fitted rates (per model x dataset x stage kind; per recipe x dataset for attacks, with the
bound's slope, the split and the model factors; LIME and IG from the interpret stages' own timing
metrics), then per stage kind (and model/dataset) the stages, actual seconds and actual/predicted of
each prediction, in aggregate (sums) and as the median stage's ratio. Copy the refitted numbers
into flatbench/estimate.py (CPU_RATES, ATTACK_RATES, ...) with the date and the data.

The fit: ratio estimators (sum of seconds over sum of units), so a group's aggregate is matched
exactly on the data it is fitted on; the median stage's ratio says how much single stages scatter
(the machine's load varies: 1-4 grid processes share 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flatbench import estimate as E  # noqa: E402
from flatbench.data.datasets import dataset_info  # noqa: E402

KINDS = ("train", "evaluate", "attack", "interpret", "phi_pairs", "correlate")
CPU_MODELS = ("lstm", "cnn")
BATCHED_LIME = "2026-12-04T16:19:29"  # commit 74081f2: LIME batched across texts (1.3-2.4x faster)


# ------------------------------------------------------------------ the estimate before 2026-12-04
LEGACY_MODEL = {"lstm": dict(train=1e-3, ig=0.1, lime=0.8, attack=1.0),
                "cnn": dict(train=1e-3, ig=0.05, lime=0.8, attack=1.0)}
LEGACY_RECIPE = {"textfooler": (0.03, 1.3), "pwws": (0.02, 2.5), "gene": (1.0, 1.3), "iga": (0.7, 1.3)}
LEGACY_FACTOR = {"freelb": 4.0, "ascc": 15.0, "pgd": 5.5}


def legacy_estimate(f: dict) -> float:
    kind, m = f["kind"], LEGACY_MODEL[f["model"]]
    info = dataset_info(f["dataset"])
    if kind == "train":
        return f["examples"] * f["epochs"] * m["train"] * LEGACY_FACTOR.get(f["method"], 1.0)
    if kind == "attack":
        rate, exp = LEGACY_RECIPE[f["recipe"]]
        r = info.paper["avg_len"] / 19
        return f["n"] * rate * (r ** exp if r < 1 else r) * m["attack"]
    if kind == "interpret":
        pairs = f["n"] * 0.75
        return pairs * m["ig"] + min(pairs, f["lime_pairs"]) * f["lime_samples"] / 1000 * m["lime"]
    if kind == "evaluate":
        return (info.paper["test"] + info.paper["dev"]) * m["train"] / 3 + 5.0
    return 10.0


# ---------------------------------------------------------------------------------- reading
def full_size(f: dict) -> bool:
    """Whether a stage ran at the paper's procedure's sizes: the whole training set trained on and
    attacked, the whole test set attacked and explained (what `table3_cpu` runs)."""
    p = dataset_info(f["dataset"]).paper
    full_train = p["train"] - (p.get("dev", 0) if f["dataset"] == "trec" else 0)  # TREC's dev comes out of train
    if f["kind"] == "train":
        return f["examples"] >= full_train
    if f["kind"] in ("attack", "interpret"):
        return f["n"] >= min(full_train, p["test"]) and f.get("split", "test") != "dev"
    return True


def read_manifests(runs: Path) -> dict[str, dict]:
    """Every cached stage's manifest under ``runs``, by key."""
    manifests: dict[str, dict] = {}
    for p in sorted(runs.glob("*/*/manifest.json")):
        try:
            manifests[p.parent.name] = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return manifests


def read_rows(runs: Path, since: str = "", until: str = "", methods=("base", "adv", "flat"),
              paper_procedure: bool = False, manifests: dict[str, dict] | None = None) -> list[dict]:
    manifests = read_manifests(runs) if manifests is None else manifests
    rows = []
    for key, m in manifests.items():
        fin = m.get("finished", "")
        if (since and fin < since) or (until and fin >= until) or m.get("kind") not in KINDS:
            continue
        f = E.manifest_features(m, manifests.get)
        if f is None or f["model"] not in CPU_MODELS or f["dataset"] not in ("sst2", "trec"):
            continue
        if methods and (m.get("tags") or {}).get("method") not in methods:
            continue  # the defences' own costs (SAFER's votes in every forward pass) are not fitted here
        if paper_procedure and not full_size(f):
            continue
        if f["kind"] == "attack" and f["recipe"] not in ("textfooler", "pwws"):
            f["other_recipe"] = True  # Table 4's recipes: reported, not in the table3 fit
        rows.append({"key": key, "f": f, "seconds": float(m["seconds"]), "finished": fin,
                     "metrics": m.get("metrics", {}), "recorded_estimate": m.get("estimate_seconds"),
                     "seed": (m.get("spec") or {}).get("seed")})
    return rows


# ---------------------------------------------------------------------------------- fitting
def _ratio(num, den) -> float:
    return num / den if den else float("nan")


def _gmean(xs) -> float:
    xs = [x for x in xs if x and x > 0 and not math.isnan(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


MIN_STAGES = 3  # a (recipe, dataset) with fewer fitted attack stages takes the cross-dataset ratio


def dataset_ratio(aux: list[dict], recipe: str, dataset: str, other: str) -> tuple[float, int]:
    """Per-example attack cost of ``dataset`` against ``other`` for ``recipe``: the geometric mean,
    over groups that ran both (same split, model, method, round and bound), of their rates' ratio.
    Read on ``aux`` (every stage, any size: the strength grids attack both datasets' dev splits at
    the same ten bounds in one sitting), so it carries the shape, not the absolute level."""
    grp = defaultdict(lambda: defaultdict(lambda: [0.0, 0]))
    for r in aux:
        f = r["f"]
        if f["kind"] == "attack" and f["recipe"] == recipe and f["dataset"] in (dataset, other):
            g = grp[(f["split"], f["model"], f["method"], f["round"], f["cos"])][f["dataset"]]
            g[0] += r["seconds"]
            g[1] += f["n"]
    ratios = [v[dataset][0] / v[dataset][1] / (v[other][0] / v[other][1])
              for v in grp.values() if dataset in v and other in v and v[other][0] > 0]
    return _gmean(ratios), len(ratios)


def fit(rows: list[dict], baseline: Path | None = None, interpret_from: str = "current",
        aux: list[dict] | None = None) -> dict:
    """Rates from the rows (see the module's docstring). ``aux`` (default: the rows) gives the
    shape parameters that need stages of several sizes or bounds: TextFooler's bound slope, and
    the cross-dataset ratio of a (recipe, dataset) with fewer than MIN_STAGES fitted stages."""
    aux = rows if aux is None else aux
    out: dict = {"cpu": defaultdict(dict), "attack": {}, "pair_share": {}, "overhead": {}}
    by = defaultdict(list)
    for r in rows:
        by[r["f"]["kind"]].append(r)

    # train: base rate per model x dataset from base-objective stages (base, adv's round 0), method
    # factors as the geometric mean over model x dataset of (rate of the method) / (base rate)
    unit = lambda r: r["f"]["examples"] * r["f"]["epochs"]  # noqa: E731
    sec = lambda r: max(r["seconds"] - E.OVERHEAD.get(r["f"]["kind"], 0.0), 0.0)  # noqa: E731 - fixed cost off
    base_rate, method_rates = {}, defaultdict(dict)
    for md in {(r["f"]["model"], r["f"]["dataset"]) for r in by["train"]}:
        rs = [r for r in by["train"] if (r["f"]["model"], r["f"]["dataset"]) == md]
        for meth in {(r["f"]["method"], r["f"]["round"] > 0) for r in rs}:
            g = [r for r in rs if (r["f"]["method"], r["f"]["round"] > 0) == meth]
            method_rates[meth][md] = _ratio(sum(sec(r) for r in g), sum(unit(r) for r in g))
        base_rate[md] = method_rates[("base", False)].get(md)
    factors = {}
    for meth, per in method_rates.items():
        factors[meth] = _gmean(per[md] / base_rate[md] for md in per if base_rate.get(md))
    out["train_factors"] = factors
    # one factor per method (its round 0 and its rounds pooled, weighted by their units)
    meth_factor = {}
    for meth in {m for m, _ in factors}:
        rs = [r for r in by["train"] if r["f"]["method"] == meth and base_rate.get((r["f"]["model"], r["f"]["dataset"]))]
        meth_factor[meth] = _ratio(sum(sec(r) for r in rs),
                                   sum(unit(r) * base_rate[(r["f"]["model"], r["f"]["dataset"])] for r in rs))
    meth_factor["base"] = 1.0
    out["method_factor"] = meth_factor
    for md in base_rate:  # the base rate refitted with every stage, each scaled by its method's factor
        rs = [r for r in by["train"] if (r["f"]["model"], r["f"]["dataset"]) == md]
        out["cpu"][md]["train"] = _ratio(sum(sec(r) for r in rs),
                                         sum(unit(r) * meth_factor[r["f"]["method"]] for r in rs))

    for md in {(r["f"]["model"], r["f"]["dataset"]) for r in by["evaluate"]}:
        rs = [r for r in by["evaluate"] if (r["f"]["model"], r["f"]["dataset"]) == md]
        out["cpu"][md]["evaluate"] = _ratio(sum(sec(r) for r in rs), sum(r["f"]["n"] for r in rs))

    # interpret: the stages' own IG and LIME seconds (their timing metrics). interpret_from
    # "current" (default): the stages that ran the code as it is (LIME batched across texts since
    # commit 74081f2, identical numbers); a model x dataset without one takes the interpret
    # benchmark's batched reading with LIME on every pair (benchmarks/baselines/
    # interpret_2026-12-04.json, load ~7). "all": every stage at the load it ran at, as train and
    # attack are fitted, a reference-LIME stage's LIME seconds divided by the speed-up the benchmark
    # measured for its model and dataset (batched against reference, 50 LIME pairs).
    ints = by["interpret"]
    for d in {r["f"]["dataset"] for r in ints}:
        rs = [r for r in ints if r["f"]["dataset"] == d]
        out["pair_share"][d] = _ratio(sum(r["metrics"]["n_pairs"] for r in rs), sum(r["f"]["n"] for r in rs))
    speedup = {}
    if baseline and baseline.is_file():
        for c in json.loads(baseline.read_text())["summary"]:
            if c["lime_pairs"] == 50:
                speedup[tuple(c["cell"].split("-"))] = c["speedup_lime"]["median"]
    out["lime_speedup"] = {f"{m}/{d}": round(v, 2) for (m, d), v in speedup.items()}
    bench = {}
    if baseline and baseline.is_file():
        for c in json.loads(baseline.read_text())["summary"]:
            if c["n_lime"] == c["n_pairs"]:  # LIME on every pair, as the full procedure
                bench[tuple(c["cell"].split("-"))] = (c["ig_s"]["batched"]["median"] / c["n_pairs"],
                                                      c["lime_s"]["batched"]["median"] / c["n_lime"])
    for md in {(r["f"]["model"], r["f"]["dataset"]) for r in ints} | set(bench):
        rs = [r for r in ints if (r["f"]["model"], r["f"]["dataset"]) == md]
        if interpret_from == "current":  # the stages that ran the code as it is; else the benchmark's reading
            rs = [r for r in rs if r["finished"] >= BATCHED_LIME]
            if not rs:
                if md in bench:
                    out["cpu"][md].update(ig=bench[md][0], lime=bench[md][1], lime_from="interpret benchmark")
                continue
        elif not rs:
            continue
        ig = sum(r["metrics"]["ig_seconds_per_pair"] * r["metrics"]["n_pairs"] for r in rs)
        lime = sum(r["metrics"]["lime_seconds_per_pair"] * r["metrics"]["lime_pairs_explained"]
                   / (1.0 if r["finished"] >= BATCHED_LIME else speedup.get(md, 1.0)) for r in rs)
        new = sum(r["finished"] >= BATCHED_LIME for r in rs)
        out["cpu"][md].update(ig=_ratio(ig, sum(r["metrics"]["n_pairs"] for r in rs)),
                              lime=_ratio(lime, sum(r["metrics"]["lime_pairs_explained"] * r["f"]["lime_samples"] / 1000
                                                    for r in rs)),
                              lime_from=f"{len(rs) - new} reference / {speedup.get(md, 1.0):.2f} + {new} batched")
    # the stage's own IG/LIME timers leave out per-pair work around them (tokenising, the rank
    # statistics, records): scale both rates so the fitted stages' seconds are matched in aggregate
    out["interpret_scale"] = {}
    for md in {(r["f"]["model"], r["f"]["dataset"]) for r in ints}:
        c = out["cpu"][md]
        if "ig" not in c:
            continue
        rs = [r for r in ints if (r["f"]["model"], r["f"]["dataset"]) == md
              and (interpret_from != "current" or r["finished"] >= BATCHED_LIME)]
        timed = sum(r["metrics"]["n_pairs"] * c["ig"] + r["metrics"]["lime_pairs_explained"]
                    * r["f"]["lime_samples"] / 1000 * c["lime"] for r in rs)
        k = _ratio(sum(r["seconds"] - E.OVERHEAD["interpret"] for r in rs), timed)
        if rs and k > 0 and not math.isnan(k):
            c["ig"], c["lime"] = c["ig"] * k, c["lime"] * k
            out["interpret_scale"][md] = round(k, 2)
    rest = [r["seconds"] - r["metrics"]["ig_seconds_per_pair"] * r["metrics"]["n_pairs"]
            - r["metrics"]["lime_seconds_per_pair"] * r["metrics"]["lime_pairs_explained"] for r in ints]
    out["overhead"]["interpret"] = statistics.median(rest) if rest else 0.0

    # attack: per-example seconds ~ rate(recipe, dataset) * (1 + slope (0.95 - cos)) * split * model
    # warm stages (examples this process had attacked before) are priced by estimate.WARM_FACTOR,
    # not fitted: one rate per example is the cold rate
    atk = [r for r in by["attack"] if not r["f"].get("other_recipe") and not r["f"].get("warm")]
    tf = [r for r in aux if r["f"]["kind"] == "attack" and r["f"]["recipe"] == "textfooler"
          and r["f"]["cos"] is not None]
    slopes = []
    for d in {r["f"]["dataset"] for r in tf}:  # per dataset x split x model: rate at each bound, a line
        for grp in {(r["f"]["split"], r["f"]["model"]) for r in tf if r["f"]["dataset"] == d}:
            pts = defaultdict(lambda: [0.0, 0.0])
            for r in tf:
                if r["f"]["dataset"] == d and (r["f"]["split"], r["f"]["model"]) == grp:
                    pts[r["f"]["cos"]][0] += sec(r)
                    pts[r["f"]["cos"]][1] += r["f"]["n"]
            if len(pts) < 3:
                continue
            xs = [E.BOUND_REF - c for c in pts]
            ys = [s / n for s, n in pts.values()]
            mx, my = statistics.fmean(xs), statistics.fmean(ys)
            b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            a = my - b * mx
            if a > 0:
                slopes.append((d, grp, round(b / a, 2), len(pts)))
    out["bound_slopes"] = slopes
    slope = statistics.median([s for *_, s, _ in slopes]) if slopes else 0.0
    out["bound_slope"] = {"textfooler": slope}

    # an adversarially trained model (round >= 1) takes more queries to attack: the ratio of its
    # average queries to round 0's on the same examples (same model, dataset, recipe, split, bound,
    # subset and seed) -- queries, not seconds, so the machine's load stays out of it
    same = lambda r: (r["f"]["model"], r["f"]["dataset"], r["f"]["recipe"], r["f"]["split"], r["f"]["cos"],  # noqa: E731
                      r["f"]["n"], r["seed"])
    r0 = defaultdict(list)
    for r in atk:
        if r["f"]["round"] == 0 and r["metrics"].get("avg_queries"):
            r0[same(r)].append(r["metrics"]["avg_queries"])
    q = [r["metrics"]["avg_queries"] / statistics.fmean(r0[same(r)]) for r in atk
         if r["f"]["round"] >= 1 and r["metrics"].get("avg_queries") and same(r) in r0]
    out["round_factor"] = round(_gmean(q), 2) if q else 1.0
    out["round_factor_n"] = len(q)

    def bound(r):
        c = r["f"]["cos"]
        b = 1 + out["bound_slope"].get(r["f"]["recipe"], 0.0) * (E.BOUND_REF - c) if c is not None else 1.0
        return b * (out["round_factor"] if r["f"]["round"] >= 1 else 1.0)

    # split and model factors: geometric means of (rate) / (rate of test, resp. of lstm) per group
    def rate(rs):
        return _ratio(sum(sec(r) for r in rs), sum(r["f"]["n"] * bound(r) for r in rs))

    split_f = []
    for rd in {(r["f"]["recipe"], r["f"]["dataset"], r["f"]["model"]) for r in atk}:
        rs = [r for r in atk if (r["f"]["recipe"], r["f"]["dataset"], r["f"]["model"]) == rd]
        tr, te = [r for r in rs if r["f"]["split"] == "train"], [r for r in rs if r["f"]["split"] != "train"]
        if tr and te:
            split_f.append(rate(tr) / rate(te))
    out["split_factor"] = {"train": round(_gmean(split_f), 2) if split_f else 1.0}
    for rd in {(r["f"]["recipe"], r["f"]["dataset"]) for r in atk}:
        rs = [r for r in atk if (r["f"]["recipe"], r["f"]["dataset"]) == rd]
        out["attack"][rd] = _ratio(sum(sec(r) for r in rs),
                                   sum(r["f"]["n"] * bound(r) * out["split_factor"].get(r["f"]["split"], 1.0)
                                       for r in rs))
    # a (recipe, dataset) with too few stages of its own: another dataset's rate times their ratio
    out["attack_from"] = {}
    for rd in sorted({(r["f"]["recipe"], r["f"]["dataset"]) for r in aux if r["f"]["kind"] == "attack"
                      and r["f"]["recipe"] in ("textfooler", "pwws") and r["f"]["dataset"] in ("sst2", "trec")}):
        have = sum(1 for r in atk if (r["f"]["recipe"], r["f"]["dataset"]) == rd)
        others = [d for (rc, d) in out["attack"] if rc == rd[0] and d != rd[1]
                  and sum(1 for r in atk if (r["f"]["recipe"], r["f"]["dataset"]) == (rc, d)) >= MIN_STAGES]
        if have >= MIN_STAGES or not others:
            out["attack_from"][rd] = f"{have} stages"
            continue
        ratio, n = dataset_ratio(aux, rd[0], rd[1], others[0])
        if n and not math.isnan(ratio):
            out["attack"][rd] = out["attack"][(rd[0], others[0])] * ratio
            out["attack_from"][rd] = f"{others[0]} x {ratio:.2f} ({n} paired groups; {have} own stages)"
    per_model = defaultdict(list)
    for r in atk:
        per_model[r["f"]["model"]].append(sec(r) / (r["f"]["n"] * bound(r) * out["attack"][(r["f"]["recipe"],
                                                                                                   r["f"]["dataset"])]
                                                          * out["split_factor"].get(r["f"]["split"], 1.0)))
    out["model_attack_ratio"] = {m: round(_gmean(v), 2) for m, v in per_model.items()}
    per_method = defaultdict(list)
    for r in atk:
        per_method[(r["f"]["method"], r["f"]["round"])].append(
            sec(r) / (r["f"]["n"] * bound(r) * out["attack"][(r["f"]["recipe"], r["f"]["dataset"])]
                            * out["split_factor"].get(r["f"]["split"], 1.0)))
    out["method_round_attack_ratio"] = {f"{m} r{k}": round(_gmean(v), 2) for (m, k), v in sorted(per_method.items())}
    for kind in ("phi_pairs", "correlate"):
        if by[kind]:
            out["overhead"][kind] = statistics.median(r["seconds"] for r in by[kind])
    return out


def refit_estimate(f: dict, fitted: dict) -> float:
    kind = f["kind"]
    md = (f["model"], f["dataset"])
    c = fitted["cpu"].get(md, {})
    if kind == "train":
        return E.OVERHEAD["train"] + f["examples"] * f["epochs"] * c["train"] * fitted["method_factor"].get(f["method"], 1.0)
    if kind == "evaluate":
        return E.OVERHEAD["evaluate"] + f["n"] * c["evaluate"]
    if kind == "attack":
        rate = fitted["attack"].get((f["recipe"], f["dataset"]))
        if rate is None:
            return E.estimate_from(f)
        cos = f["cos"]
        b = 1 + fitted["bound_slope"].get(f["recipe"], 0.0) * (E.BOUND_REF - cos) if cos is not None else 1.0
        b *= fitted["round_factor"] if f.get("round", 0) >= 1 else 1.0
        if f.get("warm"):  # the code's own warm/cold ratio (the memo shortens what is not the forward)
            b *= (E.attack_rate(f["recipe"], f["dataset"], f["model"], warm=True)
                  / E.attack_rate(f["recipe"], f["dataset"], f["model"]))
        return E.OVERHEAD["attack"] + f["n"] * rate * b * fitted["split_factor"].get(f["split"], 1.0)
    if kind == "interpret":
        pairs = f["n"] * fitted["pair_share"].get(f["dataset"], 0.75)
        return (fitted["overhead"]["interpret"] + pairs * c["ig"]
                + min(pairs, f["lime_pairs"]) * f["lime_samples"] / 1000 * c["lime"])
    return fitted["overhead"].get(kind, 1.0)


# ---------------------------------------------------------------------------------- reporting
def error_table(rows: list[dict], preds: dict) -> list[list]:
    table = []
    groups = defaultdict(list)
    for r in rows:
        f = r["f"]
        groups[(f["kind"], "all", "")].append(r)
        groups[(f["kind"], f["model"], f["dataset"])].append(r)
        if f["kind"] == "attack":
            groups[(f["kind"], f"{f['recipe']} {f['split']}", f["dataset"])].append(r)
    for (kind, m, d), rs in sorted(groups.items(), key=lambda kv: (KINDS.index(kv[0][0]), kv[0][1] != "all", kv[0])):
        actual = sum(r["seconds"] for r in rs)
        row = [kind, m, d, len(rs), round(actual)]
        for name in preds:
            p = sum(preds[name][r["key"]] for r in rs)
            med = statistics.median(r["seconds"] / preds[name][r["key"]] for r in rs if preds[name][r["key"]] > 0)
            row += [round(p), f"{actual / p:.2f}" if p else "–", f"{med:.2f}"]
        table.append(row)
    return table


def emit(fitted: dict) -> str:
    """The fitted constants as flatbench/estimate.py spells them (three significant digits)."""
    g = lambda v: float(f"{v:.3g}")  # noqa: E731
    lines = ["CPU_RATES = {  # (model, dataset): seconds per unit"]
    for (m, d), v in sorted(fitted["cpu"].items()):
        if all(k in v for k in ("train", "evaluate", "ig", "lime")):
            lines.append(f'    ("{m}", "{d}"): dict(train={g(v["train"])}, evaluate={g(v["evaluate"])}, '
                         f'ig={g(v["ig"])}, lime={g(v["lime"])}),')
    lines += ["}", "ATTACK_RATES = {  # (recipe, dataset): seconds per attacked example against an LSTM/CNN at cos 0.95"]
    lines += [f'    ("{r}", "{d}"): {g(v)},' for (r, d), v in sorted(fitted["attack"].items())
              if r in ("textfooler", "pwws")]
    lines += ["}", f'PAIR_SHARE = {{{", ".join(f"{chr(34)}{d}{chr(34)}: {g(v)}" for d, v in sorted(fitted["pair_share"].items()))}}}',
              f'SPLIT_FACTOR = {{"train": {fitted["split_factor"]["train"]}}}',
              f'ROUND_FACTOR = {fitted["round_factor"]}',
              f'textfooler bound_slope={g(fitted["bound_slope"]["textfooler"])}; method train_factor: '
              + ", ".join(f"{k}={g(v)}" for k, v in sorted(fitted["method_factor"].items()) if k != "base"),
              f'OVERHEAD interpret={g(fitted["overhead"]["interpret"])}, phi_pairs={g(fitted["overhead"].get("phi_pairs", 0))}, '
              f'correlate={g(fitted["overhead"].get("correlate", 0))}']
    return "\n".join(lines)


def process_table(runs: Path, since: str = "") -> list[list]:
    """One row per recorded run (``<runs>/estimates/*.json``, one per `flatbench run` process) that
    finished at or after ``since``: its stages priced by the code as it is (`estimate.estimate_from`
    on each stage's manifest), the estimate the run itself recorded, the stages' seconds, and the
    run's wall time (its first stage's start to its last stage's end)."""
    from datetime import datetime

    manifests = read_manifests(runs)
    out = []
    for path in sorted((runs / "estimates").glob("*.json")):
        rec = json.loads(path.read_text())
        st = rec.get("stages") or []
        if not st or max(r["finished"] for r in st) < since:
            continue
        now, priced = 0.0, 0
        for r in st:
            m = manifests.get(r["key"])
            f = E.manifest_features(m, manifests.get) if m else None
            if f is not None:
                now, priced = now + E.estimate_from(f), priced + 1
        t = lambda x: datetime.fromisoformat(x).timestamp()  # noqa: E731
        start = min(t(r["finished"]) - float(r["seconds"]) for r in st)
        wall = max(t(r["finished"]) for r in st) - start
        actual = sum(float(r["seconds"]) for r in st)
        out.append([path.name, len(st), priced, round(sum(float(r.get("estimate_seconds") or 0) for r in st)),
                    round(now), round(actual), round(wall), f"{actual / now:.2f}" if now else "–",
                    f"{wall / now:.2f}" if now else "–"])
    return out


PROCESS_HEADERS = ["run (estimates file)", "stages", "priced now", "recorded estimate s", "estimate now s",
                   "stage seconds", "wall s", "stages / now", "wall / now"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path, nargs="?", default=ROOT / "runs")
    ap.add_argument("--since", default="", help="only stages finished at or after this ISO time")
    ap.add_argument("--until", default="", help="only stages finished before this ISO time")
    ap.add_argument("--check", default="", help="held out: fit on the stages finished before this ISO time, "
                                                 "score those finished at or after it")
    ap.add_argument("--interpret-baseline", type=Path,
                    default=ROOT / "benchmarks" / "baselines" / "interpret_2026-12-04.json",
                    help="interpret benchmark JSON: IG/LIME rates of a model x dataset without a batched-LIME stage")
    ap.add_argument("--interpret-from", choices=["current", "all"], default="current",
                    help="IG/LIME rates from the stages that ran today's code (batched LIME), or from every "
                         "stage (reference LIME divided by its measured speed-up)")
    ap.add_argument("--methods", default="base,adv,flat",
                    help="cells of these methods only (comma-separated; empty: all)")
    ap.add_argument("--paper-procedure", action="store_true",
                    help="only stages at the paper's sizes (whole training and test sets), as table3_cpu runs them")
    ap.add_argument("--json", type=Path, default=None, help="write the fitted rates and the error table here")
    ap.add_argument("--processes", action="store_true",
                    help="per recorded run (<runs>/estimates/*.json, finished from --since): its stages priced by "
                         "the code as it is against their seconds and the run's wall time, then exit")
    a = ap.parse_args(argv)
    if a.processes:
        print(tabulate(process_table(a.runs, a.since), headers=PROCESS_HEADERS, tablefmt="github"))
        return 0
    manifests = read_manifests(a.runs)  # read once: the fitted rows and the shape rows (aux) both come from it
    rows = read_rows(a.runs, a.since, a.until, tuple(m for m in a.methods.split(",") if m), a.paper_procedure,
                     manifests)
    if not rows:
        print(f"no cached LSTM/CNN SST2/TREC stages under {a.runs}", file=sys.stderr)
        return 1
    aux = read_rows(a.runs, "", a.check or a.until, tuple(m for m in a.methods.split(",") if m), manifests=manifests)
    fitted = fit([r for r in rows if not a.check or r["finished"] < a.check], a.interpret_baseline, a.interpret_from,
                 aux=aux)
    print(f"{len(rows)} cached stages under {a.runs} (finished {min(r['finished'] for r in rows)} .. "
          f"{max(r['finished'] for r in rows)})\n")
    cpu = [[m, d, *(f"{v[k]:.3g}" if isinstance(v.get(k), float) else v.get(k, "–")
                     for k in ("train", "evaluate", "ig", "lime", "lime_from"))]
           for (m, d), v in sorted(fitted["cpu"].items())]
    print(tabulate(cpu, headers=["model", "dataset", "train s/row-epoch", "evaluate s/row", "IG s/pair",
                                 "LIME s/pair@1000", "LIME timed on"], tablefmt="github"))
    print("\nattack s/example at cos 0.95 (LSTM/CNN pooled):",
          {f"{k[0]}/{k[1]}": round(v, 4) for k, v in sorted(fitted["attack"].items())})
    print("attack rates from:", {f"{k[0]}/{k[1]}": v for k, v in sorted(fitted["attack_from"].items())})
    print("interpret: IG/LIME rates scaled to the stages' seconds by", {f"{m}/{d}": v for (m, d), v in
                                                                     sorted(fitted["interpret_scale"].items())})
    print("bound slope (relative cost per unit of 0.95 - cos), per dataset/split/model:", fitted["bound_slopes"],
          "-> used:", fitted["bound_slope"])
    print("round >= 1 (adversarially trained) models: queries x", fitted["round_factor"],
          f"({fitted['round_factor_n']} stages against their round-0 counterpart)")
    print("split factor:", fitted["split_factor"], " model ratio (not used):", fitted["model_attack_ratio"])
    print("method x round ratio on attack cost (not used):", fitted["method_round_attack_ratio"])
    print("train: method factors (method, rounds>0):", {f"{k[0]}{' r>0' if k[1] else ' r0'}": round(v, 2)
                                                          for k, v in fitted["train_factors"].items()},
          "-> pooled:", {k: round(v, 2) for k, v in fitted["method_factor"].items()})
    print("interpret: pair share", {k: round(v, 3) for k, v in fitted["pair_share"].items()},
          " overheads", {k: round(v, 2) for k, v in fitted["overhead"].items()})

    print("\nfor flatbench/estimate.py:\n" + emit(fitted))
    scored = [r for r in rows if r["finished"] >= a.check] if a.check else rows
    preds = {"legacy": {r["key"]: legacy_estimate(r["f"]) for r in scored},
             "current": {r["key"]: E.estimate_from(r["f"]) for r in scored},
             "refit": {r["key"]: refit_estimate(r["f"], fitted) for r in scored}}
    heads = ["kind", "model / recipe", "dataset", "stages", "actual s"]
    for n in preds:
        heads += [f"{n} s", f"{n} act/pred", f"{n} median stage"]
    print(f"\n{len(scored)} stages scored" + (f" (finished from {a.check})" if a.check else "") + ":\n")
    table = error_table(scored, preds)
    print(tabulate(table, headers=heads, tablefmt="github"))
    if a.json:
        a.json.write_text(json.dumps({"runs": str(a.runs), "stages": len(rows), "since": a.since, "until": a.until,
                                      "fitted": json.loads(json.dumps(fitted, default=str, indent=None).replace("NaN", "null"))
                                      if False else {k: (v if not isinstance(v, dict) else {str(kk): vv for kk, vv in v.items()})
                                                     for k, v in fitted.items()},
                                      "table": {"headers": heads, "rows": table}}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
