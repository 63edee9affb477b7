"""Figures of the reports (PNG via matplotlib, HTML for pair visuals), all from cached results:

- `render_pair`: a Fig. 3-style visual of one (x, x') pair: each word coloured by its attribution
  toward the gold label (red = for it, blue = against it; one colour scale for both texts so
  they compare), substituted words underlined/boxed, the model's prediction in brackets.
  Written as HTML and PNG (matplotlib). The interpret stage draws a few with its outputs.
- `plot_topk_curves`: top-k intersection for k = 1..10, one curve per model/method (Appendix C).
- `write_plots`: `flatbench report --plots DIR`: the top-k curves and the stages' pair visuals.
- `plot_transfer`: Table 4 as bars with CIs and the paper's values.
- `plot_fig4`: Fig. 4's three scatter plots from a correlate stage's per-word table.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from flatbench.report.builders import pretty, rows_of
from flatbench.report.builders45 import TRANSFER_ORDER, transfer_paper_cell, unavailable
from flatbench.report.correlation import LABELS
from flatbench.report.table import num


def _colour(v: float, scale: float) -> tuple[float, float, float]:
    """White at 0, red for positive, blue for negative attribution."""
    a = 0.0 if scale <= 0 else float(np.clip(abs(v) / scale, 0, 1))
    if v >= 0:
        return (1.0, 1.0 - 0.75 * a, 1.0 - 0.75 * a)
    return (1.0 - 0.75 * a, 1.0 - 0.75 * a, 1.0)


def _hex(c) -> str:
    return "#%02x%02x%02x" % tuple(int(round(255 * x)) for x in c)


def _pair_rows(pair: dict, method: str, label_names):
    if method not in pair:
        raise KeyError(f"pair {pair.get('idx')} has no {method!r} attributions")
    att = pair[method]
    changed_x = {i for i, _ in pair.get("changed", [])}
    changed_a = {j for _, j in pair.get("changed", [])}

    def name(y):
        if y is None:
            return "?"
        return label_names[int(y)] if label_names and int(y) < len(label_names) else str(y)

    def pred(side):
        y = pair.get(f"pred_{side}")
        prob = pair.get(f"prob_{side}")
        p = f" {prob[int(y)]:.2f}" if prob is not None and y is not None else ""
        return f"[{name(y)}{p}]"

    vals = [v for v in (att["x"] or []) + (att["adv"] or []) if v is not None]
    scale = max((abs(v) for v in vals), default=0.0)
    rows = [("x", pair["words_x"], att["x"], changed_x, pred("x")),
            ("x'", pair["words_adv"], att["adv"], changed_a, pred("adv"))]
    title = (f"#{pair.get('idx')}  gold: {name(pair.get('label'))}  {method.upper()}"
             + (f"  tau={att['kendall_tau']:.2f}" if att.get("kendall_tau") is not None else "")
             + (f"  top5={att['topk'][4]:.2f}" if att.get("topk") and att["topk"][4] is not None else ""))
    return title, rows, scale


def pair_html(pair: dict, method: str = "ig", label_names: list[str] | None = None) -> str:
    title, rows, scale = _pair_rows(pair, method, label_names)
    lines = [f"<div class='pair'><div><b>{html.escape(title)}</b></div>"]
    for tag, words, vals, changed, pred in rows:
        spans = []
        for i, w in enumerate(words):
            v = vals[i] if vals[i] is not None else 0.0
            style = f"background:{_hex(_colour(v, scale))};padding:1px 2px"
            if i in changed:
                style += ";border:1px solid #333"
            spans.append(f"<span title='{v:.4f}' style='{style}'>{html.escape(w)}</span>")
        lines.append(f"<div>{html.escape(tag)}: {' '.join(spans)} <b>{html.escape(pred)}</b></div>")
    lines.append("</div>")
    return "\n".join(lines)


def render_pair(pair: dict, out_stem, method: str = "ig", label_names: list[str] | None = None,
                width: float = 9.0) -> tuple[Path, Path]:
    """Write `<out_stem>.html` and `<out_stem>.png` for one row of pairs.jsonl."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_stem = Path(out_stem)
    html_path, png_path = out_stem.with_suffix(".html"), out_stem.with_suffix(".png")
    html_path.write_text("<html><meta charset='utf-8'><body style='font-family:sans-serif'>\n"
                         + pair_html(pair, method, label_names) + "\n</body></html>\n", encoding="utf-8")

    title, rows, scale = _pair_rows(pair, method, label_names)
    fig = plt.figure(figsize=(width, 0.5 + 0.45 * (2 + sum(1 + len(r[1]) // 14 for r in rows))), dpi=120)
    renderer = fig.canvas.get_renderer()
    fig_w = fig.get_window_extent().width
    line_h = 0.3 / fig.get_figheight()
    y = 1.0 - line_h
    fig.text(0.01, y, title, fontsize=10, weight="bold", va="top")
    for tag, words, vals, changed, pred in rows:
        y -= 1.4 * line_h
        x = 0.01
        t = fig.text(x, y, f"{tag}:", fontsize=10, va="top")
        x += t.get_window_extent(renderer).width / fig_w + 0.01
        for i, w in enumerate(list(words) + [pred]):
            is_pred = i == len(words)
            v = 0.0 if is_pred or vals[i] is None else vals[i]
            box = dict(facecolor=_colour(v, scale), edgecolor="black" if i in changed else "none",
                       boxstyle="square,pad=0.15")
            t = fig.text(x, y, w, fontsize=10, va="top", bbox=None if is_pred else box,
                         weight="bold" if is_pred else "normal")
            wpx = t.get_window_extent(renderer).width / fig_w
            if x + wpx > 0.99 and x > 0.1:  # wrap
                t.remove()
                y -= 1.2 * line_h
                x = 0.05
                t = fig.text(x, y, w, fontsize=10, va="top", bbox=None if is_pred else box,
                             weight="bold" if is_pred else "normal")
                wpx = t.get_window_extent(renderer).width / fig_w
            x += wpx + 0.012
    fig.savefig(png_path, bbox_inches="tight")
    plt.close(fig)
    return html_path, png_path


def _curve_items(results) -> list[tuple[str, dict]]:
    """Accept {name: metrics}, [(name, metrics)], or stage manifests ({"metrics", "tags"|"label"})."""
    if isinstance(results, dict):
        return [(str(k), v.get("metrics", v)) for k, v in results.items()]
    items = []
    for r in results:
        if isinstance(r, (tuple, list)):
            name, m = r
            items.append((str(name), m.get("metrics", m)))
        else:
            tags = r.get("tags") or {}
            name = "-".join(x for x in (tags.get("model"), tags.get("method"), tags.get("attack") or None,
                                        tags.get("recipe"), tags.get("dataset")) if x) or r.get("label", "?")
            items.append((name, r["metrics"]))
    return items


def plot_topk_curves(results, path, method: str = "ig", ks=range(1, 11), title: str | None = None) -> Path:
    """Top-k intersection against k, one line per result (model/method); PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ks = list(ks)
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=120)
    for name, m in _curve_items(results):
        ys = [m.get(f"{method}_topk_{k}") for k in ks]
        ys = [np.nan if v is None else float(v) for v in ys]
        if all(np.isnan(ys)):
            continue
        ax.plot(ks, ys, marker="o", ms=3, label=name)
    ax.set_xlabel("k")
    ax.set_ylabel(f"top-k intersection ({method.upper()})")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    ax.set_title(title or f"{method.upper()} top-k intersection")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def figure_png(fig, dpi: int = 120) -> bytes:
    """A matplotlib figure as PNG bytes (for pages that embed it), closed afterwards."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Write a matplotlib figure as PNG (creating its folder) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_plots(df: pd.DataFrame, out_dir) -> list:
    """Top-k curves (k = 1..10) per model/method for IG and LIME, and the Fig. 3-style pair
    visuals the interpret stages drew, copied beside them."""
    import shutil
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "interpret_dir" not in df.columns:
        return written
    rows = df[df["interpret_dir"].notna()]
    for (attack, dataset), g in rows.groupby(["attack", "dataset"]):
        results = {f"{pretty(r.model)}-{pretty(r.method)}": {c: getattr(r, c) for c in df.columns if "_topk_" in c}
                   for r in g.itertuples()}
        for method in ("ig", "lime"):
            p = out / f"topk_{method}_{attack}_{dataset}.png"
            plot_topk_curves(results, p, method=method, title=f"{method.upper()} top-k, {pretty(attack)}, {pretty(dataset)}")
            written.append(p)
        for r in g.itertuples():
            for fig in sorted(Path(r.interpret_dir).glob("figures/pair_*.*"))[:2]:
                dst = out / f"{r.cell}-{attack}-{fig.name}"
                shutil.copyfile(fig, dst)
                written.append(dst)
    return written


def plot_transfer(df: pd.DataFrame, path, title: str = "") -> list:
    """Table 4 as a figure: AA (%) per attack, one bar per model/method with its 95 % CI, the
    paper's value as a marker (hollow for a reconstructed BAE tier B/C estimate); attacks not run
    here are labelled with the reason. Returns [path] (nothing without attacked rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    d = df[df["attack"].apply(lambda a: isinstance(a, str))] if "attack" in df.columns else df.iloc[0:0]
    if d.empty:
        return []
    attacks = [a for a in TRANSFER_ORDER if a in set(d["attack"])] + sorted(set(d["attack"]) - set(TRANSFER_ORDER))
    groups = list(dict.fromkeys(zip(d["model"], d["method"])))
    width = 0.8 / max(1, len(groups))
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(attacks), 3.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    recs = {(r["model"], r["method"], r["attack"]): r for r in rows_of(d)}
    for gi, (m, meth) in enumerate(groups):
        xs, ys, lo, hi, px, py, hollow = [], [], [], [], [], [], []
        for ai, a in enumerate(attacks):
            r = recs.get((m, meth, a), {})
            x = ai - 0.4 + width * (gi + 0.5)
            v = num(r.get("AA"))
            if v is not None and not unavailable(r):
                xs.append(x)
                ys.append(v)
                lo.append(v - (num(r.get("AA_lo")) if num(r.get("AA_lo")) is not None else v))
                hi.append((num(r.get("AA_hi")) if num(r.get("AA_hi")) is not None else v) - v)
            pv, _, tier = transfer_paper_cell(m, meth, a)
            if pv is not None:
                px.append(x)
                py.append(pv)
                hollow.append(tier in ("B", "C"))
        c = colours[gi % len(colours)]
        ax.bar(xs, ys, width, yerr=[lo, hi], color=c, capsize=2, label=f"{pretty(m)}-{pretty(meth)}")
        for x, y, h in zip(px, py, hollow):
            ax.plot([x], [y], marker="o", mfc="none" if h else "k", mec="k", ms=4)
    for ai, a in enumerate(attacks):
        why = next((unavailable(r) for r in rows_of(d) if r["attack"] == a and unavailable(r)), "")
        if why:
            ax.text(ai, 55, why.replace("online only: needs ", "online only,\nneeds ").replace(", ", ",\n"),
                    ha="center", va="center", fontsize=6, color="0.3")
    ax.set_xticks(np.arange(len(attacks)), [pretty(a) for a in attacks])
    ax.set_ylabel("after-attack accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title((title + "\n" if title else "") + "bars: ours, 95 % CI; dots: paper (hollow: reconstructed BAE B/C)",
                 fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return [save_figure(fig, path)]


FIG4_TITLES = {("freq", "replaced"): "(a) substitution frequency vs. word frequency",
               ("freq", "phi"): "(b) global importance vs. word frequency",
               ("replaced", "phi"): "(c) global importance vs. substitution frequency"}


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
    for ax, ((x, y), name) in zip(axes, FIG4_TITLES.items()):
        draw(ax, x, y, name)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    written.append(save_figure(fig, out_dir / f"{prefix}_fig4.png"))
    for tag, ((x, y), name) in zip("abc", FIG4_TITLES.items()):
        fig, ax = plt.subplots(figsize=(4.4, 3.6))
        draw(ax, x, y, name)
        fig.tight_layout()
        written.append(save_figure(fig, out_dir / f"{prefix}_fig4{tag}_{y}_vs_{x}.png"))
    return written
