"""Figures for interpretation consistency.

- `render_pair`: a Fig. 3-style visual of one (x, x') pair: each word coloured by its attribution
  toward the gold label (red = for it, blue = against it; one colour scale for both texts so
  they compare), substituted words underlined/boxed, the model's prediction in brackets.
  Written as HTML and PNG (matplotlib).
- `plot_topk_curves`: top-k intersection for k = 1..10, one curve per model/method (Appendix C).
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np


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


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Write a matplotlib figure as PNG (creating its folder) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
