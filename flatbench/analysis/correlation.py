"""Fig. 4 / Table 9: how FLAT's global importance phi relates to word frequency and to how
often a word is substituted by the attack (the paper studies LSTM-FLAT, Textfooler, SST2).

Reads only cached stages: the final FLAT model and the training-set attacks of its rounds.

"Substitution frequency" (the paper's Fig. 4) is read as how often a word was *replaced* in the
successful adversarial examples of the rounds' training-set attacks ("the replaced words are not
based on their frequency"); how often a word was used *as* a substitute is the secondary reading.
Word frequency: occurrences in the training split. Correlations over the training words in the
model's vocabulary: Pearson on the raw counts (as the scatter plots show them) and on
log(count) / log(1 + count), and Spearman (rank, so the same either way), each with a 95 % CI by
Fisher's z (Spearman: the Bonett-Wright standard error sqrt((1 + r^2 / 2) / (n - 3)))."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from scipy import stats

from flatbench.data.text import tokenize
from flatbench.errors import FlatbenchError
from flatbench.interpret.plots import save_figure
from flatbench.models.bundle import ModelBundle
from flatbench.training.adversarial import read_records


def phi_table(bundle: ModelBundle, words: list[str]) -> np.ndarray:
    ids = torch.tensor([bundle.tokenizer.piece_ids(w)[0] for w in words], device=bundle.device)
    with torch.inference_mode():
        return bundle.model.word_phi(ids).float().cpu().numpy()


def correlate(model_dir, attack_dirs, train_texts, min_count: int = 1) -> dict:
    """Pearson and Spearman correlations of phi with log word frequency (train) and with
    log(1 + times substituted) over the rounds' successful attacks; the per-word table too."""
    bundle = ModelBundle.load(model_dir)
    if bundle.model.mask is None:
        raise FlatbenchError("correlate needs a FLAT model (one with word masks)")
    freq = Counter(t for text in train_texts for t in tokenize(text))
    subs, replaced = Counter(), Counter()
    n_adv = 0
    for d in attack_dirs:
        for r in read_records(d):
            if r["status"] == "succeeded":
                n_adv += 1
                for _, o, s in r["replaced"]:
                    subs[s.lower()] += 1
                    replaced[o.lower()] += 1
    words = [w for w, c in freq.items() if c >= min_count and w in bundle.tokenizer.vocab.stoi]
    phi = phi_table(bundle, words)
    f = np.log([freq[w] for w in words])
    sub = np.log1p([subs[w] for w in words])
    out = {"n_words": len(words), "n_substituted": int(sum(1 for w in words if subs[w]))}
    for name, x in (("freq", f), ("subst", sub)):
        const = len(x) < 3 or np.ptp(x) == 0 or np.ptp(phi) == 0
        out[f"pearson_{name}"] = float("nan") if const else float(stats.pearsonr(phi, x)[0])
        out[f"spearman_{name}"] = float("nan") if const else float(stats.spearmanr(phi, x)[0])
    order = np.argsort(-phi)
    out["top_words"] = [(words[i], float(phi[i])) for i in order[:15]]
    out["bottom_words"] = [(words[i], float(phi[i])) for i in order[-15:]]
    out["table"] = [{"word": w, "phi": float(p), "freq": freq[w], "substituted": subs[w], "replaced": replaced[w]}
                    for w, p in zip(words, phi)]
    out["n_replaced"] = int(sum(1 for w in words if replaced[w]))
    out["n_adversarial"] = int(n_adv)
    cols = {"phi": phi, "freq": np.array([freq[w] for w in words], float),
            "replaced": np.array([replaced[w] for w in words], float),
            "substituted": np.array([subs[w] for w in words], float)}
    out["correlations"] = [correlation_row(a, b, cols[a], cols[b]) for a, b in PAIRS]
    return out


# (x, y) of Fig. 4 (a), (b), (c), then the secondary "used as a substitute" reading
PAIRS = (("freq", "replaced"), ("freq", "phi"), ("replaced", "phi"), ("freq", "substituted"),
         ("substituted", "phi"))
FIG4 = {("freq", "replaced"): "(a) substitution frequency vs. word frequency",
        ("freq", "phi"): "(b) global importance vs. word frequency",
        ("replaced", "phi"): "(c) global importance vs. substitution frequency"}
LABELS = {"freq": "word frequency", "replaced": "substitution frequency (times replaced)",
          "substituted": "times used as a substitute", "phi": "global importance φ"}


def _log(name: str, v: np.ndarray) -> np.ndarray:
    return v if name == "phi" else (np.log(v) if name == "freq" else np.log1p(v))


def fisher_ci(r: float, n: int, se: float | None = None, level: float = 0.95) -> tuple[float, float]:
    """CI of a correlation by Fisher's z (se default 1 / sqrt(n - 3))."""
    if n <= 3 or not np.isfinite(r):
        return float("nan"), float("nan")
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    se = 1 / np.sqrt(n - 3) if se is None else se
    q = stats.norm.ppf(0.5 + level / 2)
    return float(np.tanh(z - q * se)), float(np.tanh(z + q * se))


def correlation_row(xname: str, yname: str, x: np.ndarray, y: np.ndarray) -> dict:
    """Pearson (raw and log), Spearman, each with its 95 % CI and p, for one pair of columns."""
    n = len(x)
    out = {"x": xname, "y": yname, "n": n}
    const = np.ptp(x) == 0 or np.ptp(y) == 0 if n else True
    for name, (a, b) in (("pearson", (x, y)), ("pearson_log", (_log(xname, x), _log(yname, y)))):
        r, p = (float("nan"), float("nan")) if const or n < 3 else (float(v) for v in stats.pearsonr(a, b))
        out[name], out[f"{name}_p"] = r, p
        out[f"{name}_lo"], out[f"{name}_hi"] = fisher_ci(r, n)
    r, p = (float("nan"), float("nan")) if const or n < 3 else (float(v) for v in stats.spearmanr(x, y))
    out["spearman"], out["spearman_p"] = r, p
    se = np.sqrt((1 + r * r / 2) / (n - 3)) if n > 3 and np.isfinite(r) else None
    out["spearman_lo"], out["spearman_hi"] = fisher_ci(r, n, se)
    return out


def plot_fig4(table: list[dict], out_dir, prefix: str, title: str = "") -> list:
    """Fig. 4's three scatter plots, one PNG each and the three side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cols = {k: np.array([r[k] for r in table], float) for k in ("freq", "replaced", "phi")}
    written = []

    def draw(ax, x, y, name):
        ax.scatter(cols[x], cols[y], s=3, alpha=0.4, color="#4477aa")
        if x in ("freq", "replaced"):
            ax.set_xscale("symlog", linthresh=1)
        if y == "replaced":
            ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel(LABELS[x], fontsize=8)
        ax.set_ylabel(LABELS[y], fontsize=8)
        ax.set_title(name, fontsize=9)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, ((x, y), name) in zip(axes, FIG4.items()):
        draw(ax, x, y, name)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    written.append(save_figure(fig, out_dir / f"{prefix}_fig4.png"))
    for tag, ((x, y), name) in zip("abc", FIG4.items()):
        fig, ax = plt.subplots(figsize=(4.4, 3.6))
        draw(ax, x, y, name)
        fig.tight_layout()
        written.append(save_figure(fig, out_dir / f"{prefix}_fig4{tag}_{y}_vs_{x}.png"))
    return written


def _fmt_r(row: dict, key: str) -> str:
    r, lo, hi = row.get(key), row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if r is None or not np.isfinite(r):
        return "–"
    return f"{r:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def correlation_frame(res: dict):
    import pandas as pd

    rows = []
    for c in res["correlations"]:
        fig = {("freq", "replaced"): "Fig. 4a", ("freq", "phi"): "Fig. 4b", ("replaced", "phi"): "Fig. 4c"}.get(
            (c["x"], c["y"]), "secondary")
        rows.append({"Figure": fig, "y": LABELS[c["y"]], "x": LABELS[c["x"]], "n": c["n"],
                     "Pearson [95% CI]": _fmt_r(c, "pearson"), "Pearson log [95% CI]": _fmt_r(c, "pearson_log"),
                     "Spearman [95% CI]": _fmt_r(c, "spearman"), "Paper (Table 9)": "not available"})
    return pd.DataFrame(rows)


NOTE = ("Pearson on the raw counts (as Fig. 4 plots them) and on log(count) / log(1 + count); Spearman on ranks. "
        "95 % CIs by Fisher's z (Spearman: Bonett–Wright standard error). Words: the training split's words in the "
        "model's vocabulary; word frequency = occurrences in the training split; substitution frequency = times a "
        "word was replaced in the successful adversarial examples of the model's training-set attacks (the "
        "rounds' D'); \"times used as a substitute\" is the secondary reading. Paper: Table 9 (Appendix D) is not "
        "available (shared/paper/README.md: the source has no appendix), so no paper number is shown. The paper's "
        "claim (main text): any two of the three \"do not have strong correlations\".")


def correlation_report(label: str, res: dict, deviations: list[str], grid: str) -> str:
    from tabulate import tabulate

    t = correlation_frame(res)
    lines = [f"## Fig. 4 / Table 9: correlations, {label} (grid {grid})", "",
             tabulate(t, headers="keys", tablefmt="github", showindex=False, disable_numparse=True), "", NOTE, "",
             f"{res['n_words']} words; {res['n_replaced']} of them replaced and {res['n_substituted']} used as "
             f"substitutes, over {res['n_adversarial']} successful adversarial training examples.", "",
             "Highest φ: " + ", ".join(f"{w} {p:.2f}" for w, p in res["top_words"]),
             "Lowest φ: " + ", ".join(f"{w} {p:.2f}" for w, p in res["bottom_words"])]
    if deviations:
        lines += ["", "## Deviations from the paper", ""] + [f"- {d}" for d in deviations]
    return "\n".join(lines) + "\n"


def correlation_latex(res: dict, *, caption: str, label: str, deviations: list[str] = ()) -> str:
    """A booktabs table (ASCII only) of the correlations with their CIs."""
    from flatbench.report.latex import Raw, escape

    def r(c, key):
        v = c.get(key)
        if v is None or not np.isfinite(v):
            return "--"
        return f"${v:+.3f}$ {{\\scriptsize [${c[key + '_lo']:+.3f}$, ${c[key + '_hi']:+.3f}$]}}"

    names = {"freq": "word freq.", "replaced": "subst. freq.", "substituted": "times a substitute",
             "phi": "$\\phi$"}
    body = []
    for c in res["correlations"]:
        body.append(f"{names[c['y']]} vs. {names[c['x']]} & {c['n']} & {r(c, 'pearson')} & {r(c, 'pearson_log')} & "
                    f"{r(c, 'spearman')} & n/a \\\\")
    note = ("95\\% CIs by Fisher's z. Pearson on raw counts and on logs; Spearman on ranks. Paper Table 9: not "
            "available (no appendix in the source).")
    out = ["\\begin{table}[t]", "\\centering", "\\small", "\\begin{tabular}{lrrrrr}", "\\toprule",
           "Pair & $n$ & Pearson & Pearson (log) & Spearman & Paper \\\\", "\\midrule", *body, "\\bottomrule",
           "\\end{tabular}", f"\\caption{{{escape(caption)}}}", f"\\label{{{label}}}",
           f"\\par\\smallskip\\footnotesize {note}", "\\end{table}"]
    for d in deviations:
        out.append("% deviation: " + escape(Raw(d)))
    text = "\n".join(out) + "\n"
    return text.encode("ascii", "replace").decode("ascii")
