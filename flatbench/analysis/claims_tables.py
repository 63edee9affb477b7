"""The claims of each table (Tables 2-5, LIME, Fig. 5, Table 9) and the ledger of a set of grids,
decided with flatbench.analysis.claims' effects and verdict rule. Torch-free: reads the cache."""

from __future__ import annotations

import math

from flatbench.analysis.claims import (CONFIRMED, PRETTY, REFUTED, UNDECIDED, Claim, aa_effect, attack_rows,
                                       consistency_effect, decide, decide_pooled, lime_values, pair_rows, pooled,
                                       unpaired_effect)
from flatbench.analysis.records import _nan


# ----------------------------------------------------------------------------------------------
# the claims of each table

# Table 3 (text: FLAT outperforms adv and base in AA, KT and TI; base's AA is much lower than the
# adversarially trained models'). The LIME claims: "FLAT consistently improves model
# interpretation consistency, no matter which interpretation method (IG or LIME)".
T3 = (("flat", "adv", ("AA", "KT", "TI")), ("flat", "base", ("AA", "KT", "TI")), ("adv", "base", ("AA",)))
LIME = (("flat", "adv"), ("flat", "base"))
T4 = (("flat", "base"), ("flat", "adv"))
T5_BEST = (0.1, 0.001)


def _rows(df, **match) -> list[dict]:
    recs = df.to_dict("records") if hasattr(df, "to_dict") else list(df)
    out = []
    for r in recs:
        if all((r.get(k) or "") == v if isinstance(v, str) else r.get(k) == v for k, v in match.items()):
            out.append(r)
    return out


def _method_rows(df, model, dataset, attack, method) -> list[dict]:
    train = "" if method == "base" else attack
    return _rows(df, model=model, dataset=dataset, attack=attack, method=method, train_attack=train)


def _paper3(p3, attack, model, method, dataset, metric):
    if p3 is None:
        return None
    m = p3[(p3.attack == attack) & (p3.model == model) & (p3.method == method) & (p3.dataset == dataset)]
    return None if m.empty or m.iloc[0][metric] != m.iloc[0][metric] else float(m.iloc[0][metric])


def _cell_name(model, dataset, attack) -> str:
    return f"{PRETTY.get(model, model)}, {PRETTY.get(dataset, dataset)}, {PRETTY.get(attack, attack)}"


def _paper_text(pa, pb, metric) -> tuple[str, bool | None]:
    if pa is None or pb is None:
        return "not in the paper", None
    f = (lambda v: f"{v:.2f}")
    return f"{f(pa)} vs {f(pb)}", pa > pb


def _shared_seeds(ra: list[dict], rb: list[dict]) -> tuple[list[dict], list[dict]]:
    """The two methods' result rows restricted to the seeds both have cached records for, so a
    grid part-way through its seeds is decided on the seeds it has (n says how many examples)."""
    def seed(r):  # a row without a seed (None, or NaN from a frame whose other rows have one) is seed 0
        return 0 if _nan(r.get("seed")) else int(r["seed"])

    def have(rows):
        return {seed(r) for r in rows if attack_rows(r) is not None}

    both = have(ra) & have(rb)
    return [r for r in ra if seed(r) in both], [r for r in rb if seed(r) in both]


def table3_claims(df, paper_t3=None, deviations=(), lime: bool = True) -> list[Claim]:
    """Table 3's orderings for every (model, dataset, attack) the results hold, and LIME's."""
    cells = sorted({(r["model"], r["dataset"], r["attack"]) for r in _rows(df)
                    if isinstance(r.get("attack"), str) and r["attack"]})
    out = []
    for model, dataset, attack in cells:
        name = _cell_name(model, dataset, attack)
        for a, b, metrics in T3:
            ra, rb = _shared_seeds(*(_method_rows(df, model, dataset, attack, m) for m in (a, b)))
            for metric in metrics:
                pa, pb = (_paper3(paper_t3, attack, model, m, dataset, metric) for m in (a, b))
                ptxt, agrees = _paper_text(pa, pb, metric)
                c = Claim(f"t3/{model}/{dataset}/{attack}/{metric}/{a}>{b}", "Table 3",
                          f"{PRETTY[a]} > {PRETTY[b]} in {metric} ({name})", ptxt,
                          deviations=list(deviations), paper_agrees=agrees)
                if metric == "AA":
                    reader, effect = attack_rows, aa_effect
                else:
                    reader = pair_rows
                    effect = (lambda x, y, k=metric.lower(): consistency_effect(x, y, k))
                out.append(decide_pooled(c, pooled(ra, reader), pooled(rb, reader), effect))
        if not lime:
            continue
        for a, b in LIME:
            ra, rb = _shared_seeds(*(_method_rows(df, model, dataset, attack, m) for m in (a, b)))
            xa, xb = pooled(ra, pair_rows), pooled(rb, pair_rows)
            for metric in ("KT", "TI"):
                c = Claim(f"lime/{model}/{dataset}/{attack}/{metric}/{a}>{b}", "Table 3 (LIME)",
                          f"{PRETTY[a]} > {PRETTY[b]} in LIME {metric} ({name})",
                          "the text (Table 8, the appendix, is not available)", deviations=list(deviations))
                out.append(decide_pooled(c, xa, xb, lambda x, y, m=metric: _lime_effect(x, y, m)))
    return out


def _lime_effect(pairs_a, pairs_b, metric):
    va, vb = lime_values(pairs_a, metric), lime_values(pairs_b, metric)
    return unpaired_effect(va, vb) if va and vb else {}


def table4_claims(df, paper_t4=None, deviations=(), online_only: dict | None = None) -> list[Claim]:
    """Table 4: FLAT's AA above base's and adv's under each unforeseen attack (SST2)."""
    out = []
    models = sorted({r["model"] for r in _rows(df)})
    attacks = []
    for r in _rows(df):
        if isinstance(r.get("attack"), str) and r["attack"] and r["attack"] not in attacks:
            attacks.append(r["attack"])
    for attack in list(attacks) + [a for a in (online_only or {}) if a not in attacks]:
        for model in models:
            for a, b in T4:
                train = "textfooler"
                ra = _rows(df, model=model, attack=attack, method=a, train_attack=train if a != "base" else "")
                rb = _rows(df, model=model, attack=attack, method=b, train_attack=train if b != "base" else "")
                pa = pb = None
                if paper_t4 is not None:
                    sel = paper_t4[(paper_t4.model == model) & (paper_t4.attack == attack)]
                    vals = {m: float(v) for m, v in zip(sel.method, sel.AA) if v == v}
                    pa, pb = vals.get(a), vals.get(b)
                ptxt, agrees = _paper_text(pa, pb, "AA")
                c = Claim(f"t4/{model}/sst2/{attack}/AA/{a}>{b}", "Table 4",
                          f"{PRETTY[a]} > {PRETTY[b]} in AA under {PRETTY.get(attack, attack)} "
                          f"({PRETTY.get(model, model)}, SST2, trained with Textfooler)", ptxt,
                          deviations=list(deviations), paper_agrees=agrees)
                ra, rb = _shared_seeds(ra, rb)
                xa, xb = pooled(ra, attack_rows), pooled(rb, attack_rows)
                if not (xa and xb) and online_only and attack in online_only:
                    c.note = f"no data: online only here ({online_only[attack]})"
                out.append(decide_pooled(c, xa, xb, aa_effect))
    return out


def table5_claims(df, paper_t5=None, deviations=()) -> list[Claim]:
    """Table 5: (beta, gamma) = (0.1, 0.001) above each other variant in standard accuracy (on the
    attacked test examples: a skipped attack = misclassified) and after-attack accuracy."""
    rows = _rows(df)
    variants = sorted({(float(r.get("beta")), float(r.get("gamma"))) for r in rows
                       if r.get("beta") is not None and r.get("gamma") is not None}, reverse=True)
    best = [r for r in rows if (r.get("beta"), r.get("gamma")) == T5_BEST]
    out = []
    paper = {}
    if paper_t5 is not None:
        paper = {(float(b), float(g)): (float(sa), float(aa)) for b, g, sa, aa in
                 zip(paper_t5.beta, paper_t5.gamma, paper_t5.SA, paper_t5.AA)}
    for v in variants:
        if v == T5_BEST:
            continue
        other = [r for r in rows if (r.get("beta"), r.get("gamma")) == v]
        xa, xb = pooled(best, attack_rows), pooled(other, attack_rows)
        for metric, col in (("SA", "correct"), ("AA", "robust")):
            pa, pb = (paper.get(T5_BEST, (None, None)), paper.get(v, (None, None)))
            i = 0 if metric == "SA" else 1
            ptxt, agrees = _paper_text(pa[i], pb[i], metric)
            c = Claim(f"t5/beta={v[0]:g},gamma={v[1]:g}/{metric}", "Table 5",
                      f"(β, γ) = (0.1, 0.001) > ({v[0]:g}, {v[1]:g}) in {metric} (LSTM-FLAT, SST2, Textfooler)",
                      ptxt, deviations=list(deviations), paper_agrees=agrees)
            def effect(x, y, col=col):
                return aa_effect([{**e, "robust": e[col]} for e in x], [{**e, "robust": e[col]} for e in y])

            if metric == "SA":
                c.note = "SA on the attacked test examples (a skipped attack = misclassified)"
            out.append(decide_pooled(c, xa, xb, effect))
    return out


def variance_claim(l1_var: dict | None, deviations=()) -> Claim:
    """Fig. 5: with gamma = 0 the L1 |phi(w) - phi(synonym)| varies more than with gamma = 0.001.
    ``l1_var``: {"a": var(gamma=0), "b": var(gamma=0.001), "lo"/"hi": CI of a - b, "p": paired
    bootstrap p} from the ablation's mechanism check, or None."""
    c = Claim("fig5/l1_variance/gamma=0>gamma=0.001", "Fig. 5",
              "the synonym-L1 |φ(w) − φ(s)| varies more with γ = 0 than with γ = 0.001 (LSTM-FLAT, SST2)",
              "the text (Fig. 5 itself is in the missing appendix)", deviations=list(deviations))
    if not l1_var:
        return decide(c, {})
    c = decide(c, {"effect": l1_var["a"] - l1_var["b"], "lo": l1_var.get("lo", float("nan")),
                   "hi": l1_var.get("hi", float("nan")), "p": l1_var["p"], "a": l1_var["a"],
                   "b": l1_var["b"], "n": l1_var.get("n", 0), "test": "paired bootstrap of the variance"})
    c.ours = f"{l1_var['a']:.5f} vs {l1_var['b']:.5f}"
    if l1_var.get("grid"):
        c.note = (c.note + "; " if c.note else "") + f"from {l1_var['grid']}'s cached models"
    return c


STRONG_R = 0.3  # |r| below this is "no strong correlation" (the usual weak/moderate boundary)


def correlation_claims(corr: dict | None, deviations=()) -> list[Claim]:
    """Table 9: no strong correlation between phi, word frequency and substitution frequency.
    ``corr``: {pair name: {"r", "lo", "hi", "n"}} (Pearson r with its 95 % CI). The effect is
    STRONG_R - |r|: confirmed when the whole CI of r lies inside (-0.3, 0.3), refuted when it lies
    wholly outside, undecided otherwise."""
    names = ("phi vs word frequency", "phi vs substitution frequency",
             "word frequency vs substitution frequency")
    out = []
    for name in names:
        c = Claim(f"t9/{name.replace(' ', '_')}", "Table 9",
                  f"no strong correlation (|r| < {STRONG_R}): {name} (LSTM-FLAT, SST2, Textfooler)",
                  "the text (Table 9 is in the missing appendix)", deviations=list(deviations),
                  test=f"Pearson r, 95 % CI against |r| = {STRONG_R}")
        e = (corr or {}).get(name)
        if not e:
            out.append(decide(c, {}))
            continue
        r, lo, hi = e["r"], e["lo"], e["hi"]
        c.effect, c.n, c.ours = STRONG_R - abs(r), int(e.get("n", 0)), f"r = {r:.3f} [{lo:.3f}, {hi:.3f}]"
        c.lo, c.hi = STRONG_R - max(abs(lo), abs(hi)), STRONG_R - (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)))
        c.p = float("nan")
        c.verdict = CONFIRMED if c.lo > 0 else (REFUTED if c.hi < 0 else UNDECIDED)
        if e.get("grid"):
            c.note = f"from {e['grid']}'s cached correlate stage"
        out.append(c)
    return out


# ----------------------------------------------------------------------------------------------
# the ledger of a set of grids, from the cache

LEDGER_GRIDS = ("table3_cpu", "table4_cpu", "table5_cpu")


def gather(ctx, grids=LEDGER_GRIDS, paper_tables: dict | None = None, online_only: dict | None = None,
           l1_var: dict | None = None, corr: dict | None = None,
           selection: dict | None = None) -> tuple[list[Claim], list[str]]:
    """Every claim decidable from ``grids``' cached results (a grid's ``paper_table`` says which
    claims it carries). ``paper_tables``: {"table3": df, "table4": df, "table5": df}; ``l1_var`` /
    ``corr``: Fig. 5's variance comparison and Table 9's correlations where cached."""
    from flatbench.cells import load_grid
    from flatbench.results import collect

    paper_tables = paper_tables or {}
    out, devs = [], []
    for g in grids:
        grid = load_grid(g, **(selection or {}))
        df, d, _ = collect(grid, ctx)
        devs += d
        kind = grid.paper_table
        if kind == "table3":
            out += table2_claims(df, paper_tables.get("table2"), d)
            out += table3_claims(df, paper_tables.get("table3"), d)
        elif kind == "table4":
            out += table4_claims(df, paper_tables.get("table4"), d, online_only=online_only)
        elif kind == "table5":
            out += table5_claims(df, paper_tables.get("table5"), d)
            out.append(variance_claim(l1_var, d))
    out += correlation_claims(corr)
    return out, sorted(set(devs))


# grids whose FLAT cells carry the phi diagnostic (the full procedure and the reduced one)
PHI_GRIDS = ("table3_cpu", "table3_cpu_quick", "table5_cpu", "table5_cpu_quick")


def gather_phi(ctx, grids=PHI_GRIDS, selection: dict | None = None) -> list[dict]:
    """The cached phi_pairs results of the grids' FLAT cells: one dict per (cell, round)."""
    from flatbench.cells import load_grid
    from flatbench.stages import plan

    out, seen = [], set()
    for g in grids:
        grid = load_grid(g, **(selection or {}))
        _, targets = plan(grid, ctx.data_dir)
        for cell, t in targets.items():
            for k, st in t.items():
                if not k.startswith("phi_pairs:") or st.key in seen:
                    continue
                seen.add(st.key)
                m = ctx.cache.manifest(st.kind, st.key)["metrics"] if ctx.cache.done(st.kind, st.key) else None
                out.append({"grid": g, "model": cell.model, "dataset": cell.dataset, "method": cell.method,
                            "train_attack": cell.train_attack, "seed": cell.seed, "variant": cell.variant or "",
                            "gamma": cell.hp.get("gamma"), "round": int(k.split(":")[1]), "metrics": m})
    return out


# Table 2 (text): "adversarial training ('adv' and 'FLAT') does not cause significant model
# performance drop". Clean accuracy is stored per model as a count over the whole test split (no
# per-example predictions), so the difference is compared as two independent proportions:
# Newcombe's hybrid score interval from Wilson intervals. A non-inferiority reading with a stated
# margin: confirmed when the CI's lower end is above -NI_MARGIN points, refuted when the whole CI
# is below 0 (a significant drop), undecided otherwise.
NI_MARGIN = 2.0


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return c - h, c + h


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """(p1 - p2, lo, hi), 95 % Newcombe hybrid score interval (method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson(k1, n1)
    l2, u2 = _wilson(k2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def table2_claims(df, paper_t2=None, deviations=()) -> list[Claim]:
    """adv and FLAT (per training attack) keep base's clean accuracy, per (model, dataset)."""
    rows = _rows(df)
    out = []
    cells = sorted({(r["model"], r["dataset"], r["method"], r.get("train_attack") or "") for r in rows
                    if r["method"] in ("adv", "flat")})
    for model, dataset, method, train in cells:
        name = f"{PRETTY.get(model, model)}, {PRETTY.get(dataset, dataset)}, {PRETTY.get(train, train)}-trained"
        a = {(r["seed"]): r for r in rows if (r["model"], r["dataset"], r["method"], r.get("train_attack") or "")
             == (model, dataset, method, train)}
        b = {(r["seed"]): r for r in rows if (r["model"], r["dataset"], r["method"]) == (model, dataset, "base")}
        pa = pb = None
        if paper_t2 is not None:
            sel = paper_t2[(paper_t2.model == model) & (paper_t2.dataset == dataset)]
            va = sel[(sel.method == method) & (sel.train_attack == train)]["acc"]
            vb = sel[sel.method == "base"]["acc"]
            pa = float(va.iloc[0]) if len(va) and va.iloc[0] == va.iloc[0] else None
            pb = float(vb.iloc[0]) if len(vb) and vb.iloc[0] == vb.iloc[0] else None
        ptxt, _ = _paper_text(pa, pb, "SA")
        c = Claim(f"t2/{model}/{dataset}/{method}-{train}/clean", "Table 2",
                  f"{PRETTY[method]} keeps base's clean accuracy ({name})", ptxt,
                  test=f"Newcombe interval, independent proportions; non-inferiority margin {NI_MARGIN:g} points",
                  deviations=list(deviations), paper_agrees=None if pa is None or pb is None else pa >= pb - NI_MARGIN)
        # the seeds both have evaluated (a grid part-way through its seeds has rows without numbers)
        seeds = sorted(s for s in set(a) & set(b) if _finite(a[s].get("clean_acc")) and _finite(b[s].get("clean_acc")))

        def counts(rs):
            k = sum(round(r["clean_acc"] / 100 * r["clean_n"]) for r in rs)
            return int(k), int(sum(r["clean_n"] for r in rs))

        if not seeds:
            out.append(decide(c, {}))
            continue
        ka, na = counts([a[s] for s in seeds])
        kb, nb = counts([b[s] for s in seeds])
        d, lo, hi = newcombe(ka, na, kb, nb)
        c.effect, c.lo, c.hi, c.n = 100 * d, 100 * lo, 100 * hi, na + nb
        c.ours = f"{100 * ka / na:.2f} vs {100 * kb / nb:.2f}"
        c.verdict = REFUTED if c.hi < 0 else (CONFIRMED if c.lo > -NI_MARGIN else UNDECIDED)
        out.append(c)
    return out


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
