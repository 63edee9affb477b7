"""The claims ledger as a report: one format-neutral table of every claim (effect, CI, test, p,
verdict), a verdict count per source, and, on the HTML page, a forest plot of the effects.

Builders only: the claims are decided in flatbench.analysis.claims from the cached per-example
records; nothing here computes a verdict.
"""

from __future__ import annotations

import base64
import math

from flatbench.analysis.claims import CONFIRMED, REFUTED, UNDECIDED, Claim, replicated, summary
from flatbench.analysis.deviations import collapse_deviations
from flatbench.report.document import Document, Extra, Items, Para, Section, TableBlock
from flatbench.report.plots import figure_png
from flatbench.report.table import Cell, Column, Row, Table, text

VERDICT_TEXT = {CONFIRMED: "**confirmed**", REFUTED: "**refuted**", UNDECIDED: "undecided"}
SOURCES = ("Table 2", "Table 3", "Table 3 (LIME)", "Table 4", "Table 5", "Fig. 5", "Table 9")


def _digits(c: Claim) -> int:
    if c.source == "Fig. 5":  # a variance of values in [0, 1]: differences in the 4th-5th decimal
        return 5
    return 2 if "in AA" in c.text or "in SA" in c.text or c.source == "Table 2" else 3


def _state(c: Claim | None) -> str:
    """A claim's verdict as the comparison tables name it ('no data' apart from 'undecided')."""
    if c is None:
        return "absent"
    return "no data" if c.verdict == UNDECIDED and not math.isfinite(c.effect) else c.verdict


def _seed_text(c: Claim) -> str:
    """Each seed's own effect, marked † where its own test is significant: "13: +6.08†; 14: +5.90"."""
    if not c.per_seed:
        return "–"
    d = _digits(c)

    def one(s):
        if not math.isfinite(s["effect"]):
            return f"{s['seed']}: no data"
        return f"{s['seed']}: {s['effect']:+.{d}f}" + ("†" if math.isfinite(s["p"]) and s["p"] < 0.05 else "")

    return "; ".join(one(s) for s in c.per_seed)


def _held_text(c: Claim) -> str:
    r = replicated(c)
    return "–" if r is None else f"{r[0]} of {r[1]}"


def claims_table(claims: list[Claim], before: dict[str, Claim] | None = None, before_label: str = "") -> Table:
    cols = [Column("source", "Source"), Column("claim", "Claim"), Column("paper", "Paper"),
            Column("ours", "Ours"), Column("effect", "Effect [95 % CI]"), Column("test", "Test"),
            Column("p", "p"), Column("n", "n"), Column("verdict", "Verdict"),
            Column("seeds", "Per seed († p < 0.05)"), Column("held", "Verdict holds in (seeds)")]
    if before is not None:
        cols += [Column("before_effect", f"{before_label}: effect [95 % CI]"),
                 Column("before_verdict", f"{before_label}: verdict")]
    cols.append(Column("note", "Note"))
    rows = []
    for c in claims:
        eff = Cell(c.effect, lo=c.lo, hi=c.hi, digits=_digits(c), signed=True)
        p = Cell(c.p, digits=3, text=None if not math.isfinite(c.p) or c.p >= 0.001 else "<0.001")
        paper = c.paper + ("" if c.paper_agrees in (None, True) else " (the paper's table disagrees)")
        rows.append(Row({"id": c.id, "source": c.source, "verdict": c.verdict},
                        {"source": text(c.source), "claim": text(c.text), "paper": text(paper),
                         "ours": text(c.ours or "–"), "effect": eff,
                         "test": text(c.test or "–"), "p": p, "n": Cell(c.n if c.n else None, digits=0),
                         "verdict": text(VERDICT_TEXT[c.verdict]), "seeds": text(_seed_text(c)),
                         "held": text(_held_text(c)), "note": text(c.note or "")}))
        if before is not None:
            b = before.get(c.id)
            rows[-1].cells["before_effect"] = (Cell(b.effect, lo=b.lo, hi=b.hi, digits=_digits(b), signed=True)
                                               if b is not None else text("–"))
            rows[-1].cells["before_verdict"] = text(_state(b) if _state(b) in ("absent", "no data")
                                                    else VERDICT_TEXT[b.verdict])
            rows[-1].key["before_verdict"] = _state(b)
    return Table("claims", cols, rows)


def transitions_table(claims: list[Claim], before: dict[str, Claim], before_label: str, label: str) -> Table:
    """How many claims moved from each verdict of the earlier ledger to each of this one."""
    states = (CONFIRMED, REFUTED, UNDECIDED, "no data", "absent")
    counts: dict[tuple[str, str], int] = {}
    for c in claims:
        k = (_state(before.get(c.id)), _state(c))
        counts[k] = counts.get(k, 0) + 1
    cols = [Column("before", f"{before_label} (rows) → {label} (columns)")] + [Column(s, "undecided (n.s.)" if s == UNDECIDED else s) for s in states[:-1]] + \
        [Column("total", "Claims")]
    rows = []
    for b in states:  # noqa: B007 (the row label)
        n = [counts.get((b, s), 0) for s in states[:-1]]
        if sum(n):
            rows.append(Row({"before": b}, {"before": text(b), **{s: Cell(v, digits=0) for s, v in zip(states, n)},
                                            "total": Cell(sum(n), digits=0)}))
    return Table("claims_transitions", cols, rows)


def summary_table(claims: list[Claim]) -> Table:
    cols = [Column("source", "Source"), Column(CONFIRMED, "Confirmed"), Column(REFUTED, "Refuted"),
            Column(UNDECIDED, "Undecided (not significant)"), Column("no data", "Undecided (no data)"),
            Column("total", "Claims")]
    rows = []
    groups = [s for s in SOURCES if any(c.source == s for c in claims)] + ["all"]
    for s in groups:
        sel = claims if s == "all" else [c for c in claims if c.source == s]
        n = summary(sel)
        cells = {"source": text(s)}
        cells.update({k: Cell(n[k] - (n["no data"] if k == UNDECIDED else 0), digits=0)
                      for k in (CONFIRMED, REFUTED, UNDECIDED, "no data", "total")})
        rows.append(Row({"source": s}, cells))
    return Table("claims_summary", cols, rows)


def forest_png(claims: list[Claim], title: str = "") -> bytes | None:
    """Forest plot of the decided effects (one panel per metric unit), CIs as bars, coloured by
    verdict; None when no claim has a number."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[Claim]] = {}
    for c in claims:
        if not math.isfinite(c.effect) or c.source == "Table 9":
            continue
        unit = "points (AA / SA)" if _digits(c) == 2 else ("Kendall's τ / top-5 share" if "Fig. 5" not in c.source
                                                            else "variance of |φ(w) − φ(s)|")
        groups.setdefault(unit, []).append(c)
    if not groups:
        return None
    colour = {CONFIRMED: "#228833", REFUTED: "#cc3311", UNDECIDED: "#888888"}
    heights = [max(2.0, 0.22 * len(v) + 0.8) for v in groups.values()]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8.5, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (unit, cs) in zip(axes[:, 0], groups.items()):
        y = list(range(len(cs)))[::-1]
        for yi, c in zip(y, cs):
            lo = c.lo if math.isfinite(c.lo) else c.effect
            hi = c.hi if math.isfinite(c.hi) else c.effect
            ax.plot([lo, hi], [yi, yi], color=colour[c.verdict], lw=1.4)
            ax.plot([c.effect], [yi], "o", color=colour[c.verdict], ms=3.5)
            seeds = [s["effect"] for s in c.per_seed if math.isfinite(s["effect"])]
            if seeds:  # each seed's own effect: how much of the pooled one training variance moves
                ax.plot(seeds, [yi] * len(seeds), "|", color="black", ms=5, mew=0.8, alpha=0.7)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [c.text.replace(" in ", " · ", 1)[:70] for c in cs], fontsize=5.5)
        ax.set_xlabel(f"ours: a − b, {unit} (green confirmed, red refuted, grey undecided; | each seed alone)",
                      fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return figure_png(fig, dpi=130)


def claims_document(claims: list[Claim], grids: list[str], deviations: list[str],
                    title: str = "FLAT's claims, decided on our results",
                    before: list[Claim] | None = None, before_grids: list[str] | None = None) -> Document:
    """The ledger: the verdict counts, the forest plot (HTML page), and every claim."""
    intro = Para(
        "Every claim the paper makes in Tables 3-5 and its text, decided on the per-example records "
        f"of the grids {', '.join(grids)} in the stage cache (nothing is typed in). Effect = ours(a) − "
        "ours(b) on the examples both models share (several seeds pooled by (seed, idx)); 95 % CI from a "
        "seeded bootstrap; AA/SA by the exact McNemar test, IG KT/TI by a paired sign-flip permutation "
        "test, LIME KT/TI unpaired (LIME explains a different random subset per model). **confirmed**: "
        "p < 0.05 in the claimed direction; **refuted**: p < 0.05 in the other direction; undecided: "
        "not significant, or no data (said in the note). Table 9: confirmed when the CI of Pearson r lies "
        "inside (−0.3, 0.3), refuted when it lies wholly outside. 'The paper's table disagrees' marks "
        "claims of the paper's text that its own numbers for that cell do not show.")
    blocks = [intro, TableBlock(summary_table(claims), id="claims_summary")]
    n = summary(claims)
    if n["multi_seed_decided"]:
        blocks.append(Para(
            "Seeds. The pooled tests treat the trained models as fixed: they measure how sure we are about "
            "these models, not about training (seed) variance. So every claim that pools several seeds is "
            "also decided on each seed alone ('Per seed'; 'Verdict holds in': the seeds whose own test gives "
            f"the pooled verdict). Of the {n['multi_seed_decided']} confirmed or refuted claims that pool "
            f"several seeds, **{n['every_seed']}** hold in every seed on its own; the others rest on the "
            "pooled examples and are the weaker for it."))
    png = forest_png(claims)
    if png is not None:
        blocks.append(Extra("image", {"png_base64": base64.b64encode(png).decode(), "alt": "forest plot of the claims", "caption": "Effects with 95 % CIs, per claim; ticks: each seed's own effect."}))
    by_id = {c.id: c for c in before} if before is not None else None
    label = "before"
    if by_id is not None:
        # name the grids that differ (shared ones, e.g. table5_cpu in both, say nothing)
        label = ", ".join(g for g in before_grids or [] if g not in grids) or ", ".join(before_grids or []) or "before"
        blocks.append(Para(
            f"Beside each verdict: the same claim decided on {label} (an earlier, reduced procedure), so "
            "what changed with the procedure is visible. Rows: the earlier verdict; columns: this one "
            "('no data': the cell is not in the cache; 'absent': the earlier ledger has no such claim)."))
        blocks.append(TableBlock(transitions_table(claims, by_id, label, ", ".join(g for g in grids if g not in (before_grids or []))
                                                 or ", ".join(grids)), id="claims_transitions"))
    blocks.append(TableBlock(claims_table(claims, by_id, label), id="claims"))
    if deviations:
        blocks.append(Para("Deviations from the paper that apply to these results:"))
        blocks.append(Items(collapse_deviations(deviations)))
    return Document(title, [Section("claims", title, blocks, lead=True)], deviations=[],
                    meta={"grids": grids, "summary": summary(claims),
                          **({"before_grids": before_grids, "before_summary": summary(before)}
                             if before is not None else {})})


def phi_table(rows: list[dict]) -> Table:
    """What L_imp pulls down: the training pairs' |phi(w) - phi(w')| before and after each round."""
    cols = [Column("cell", "Cell"), Column("round", "Round"), Column("n", "Pairs"),
            Column("before", "Gap before"), Column("after", "Gap after"),
            Column("change", "Change [95 % CI]"), Column("closer", "Share closer"),
            Column("further", "Share further")]
    out = []
    for r in rows:
        m = r["metrics"] or {}
        name = (f"{r['model'].upper()} {r['dataset'].upper()} {r['method']}-{r['train_attack']} "
                f"s{r['seed']}" + (f" [{r['variant']}]" if r["variant"] else ""))
        defined = bool(m.get("defined"))
        out.append(Row({k: r[k] for k in ("model", "dataset", "method", "train_attack", "seed", "variant", "round")},
                       {"cell": text(name), "round": Cell(r["round"], digits=0),
                        "n": Cell(m.get("n_pairs") if m else None, digits=0),
                        "before": Cell(m.get("gap_before") if defined else None, digits=4),
                        "after": Cell(m.get("gap_after") if defined else None, digits=4),
                        "change": Cell(m.get("change") if defined else None, lo=m.get("change_lo"),
                                       hi=m.get("change_hi"), digits=4, signed=True),
                        "closer": Cell(m.get("share_closer") if defined else None, digits=3),
                        "further": Cell(m.get("share_further") if defined else None, digits=3)}))
    return Table("phi_pairs", cols, out)


def phi_section(rows: list[dict]) -> Section:
    blocks = [Para(
        "Why FLAT loses on KT where it does: the quantity γ·L_imp pulls down, the mean |φ(w) − φ(w′)| "
        "over the replaced/substitute word pairs of the round's training adversarial examples (each "
        "occurrence counted), under the model before the round (round k−1) and after it (round k); "
        "the change with a bootstrap CI, and the shares of pairs whose gap shrank or grew. adv has no "
        "masks (φ undefined); FLAT with γ = 0 (table5_cpu, table5_cpu_quick) is the comparison that isolates L_imp. If "
        "FLAT does not move the pairs closer than γ = 0 does, the implementation or the settings are "
        "suspect; if it does and KT still drops, that is a finding."),
        TableBlock(phi_table(rows), id="phi_pairs")]
    return Section("phi", "φ gap of the training pairs (L_imp's target)", blocks)
