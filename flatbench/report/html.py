"""HTML: one self-contained page of a report (`flatbench report --format html`), from the cache only.

Nothing is fetched when the page is viewed: styles and the sorting script are inline, figures are
base64 PNGs (matplotlib), attribution heat-maps are coloured HTML spans. The page shows a
document's prose blocks (the same tables and notes as the Markdown report) and its page extras:

- every table sortable by clicking a column header (numeric sort on the value before the CI;
  missing values last); the deviations under the main table;
- per model/dataset/attack: the IG top-k intersection curve (k = 1..10) of every method, and
  example pairs as word-attribution heat-maps chosen by `EXAMPLE_RULE`;
- the correlation of FLAT's phi with word / substitution frequency (Fig. 4 / Table 9) from the
  cached correlate stages;
- every stage's cache key and MLflow run id (looked up beforehand through MLflow's client).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import tempfile
import time
from pathlib import Path

import pandas as pd

from flatbench.report.builders import fewer_attacked
from flatbench.report.builders import pretty as _p
from flatbench.report.document import Document, Extra, Items, Para, TableBlock, visible
from flatbench.report.table import Table
from flatbench.report.table import num as _f

SUFFIX = ".html"
SHOWS = ("text", "page")

EXAMPLES_PER_END = 2
EXAMPLE_RULE = (f"Example pairs: for every interpreted cell (each seed), the {EXAMPLES_PER_END} pairs with the "
                f"largest and the {EXAMPLES_PER_END} with the smallest IG Kendall's tau between the original and "
                "the adversarial text (pairs whose tau is defined; ties broken by example id), fewer when the cell "
                "has fewer such pairs. Colours: red = the word's attribution supports the gold label, blue = "
                "against it; intensity = |attribution| divided by the largest |attribution| of that text (each "
                "text normalised on its own); substituted words are bold and underlined. In brackets: the "
                "model's prediction and its probability. Hover a word for its attribution.")
SCRIPT = r"""
(function () {
  function key(s) {
    var m = s.replace(/\u2212/g, '-').match(/^\s*([+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?)/i);
    return m ? parseFloat(m[1]) : null;
  }
  function missing(s) { s = s.trim(); return s === '' || s === '\u2013' || s === '-' || s === 'not logged'; }
  function sortBy(table, col, th) {
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      var mx = missing(x), my = missing(y);
      if (mx || my) { return mx === my ? 0 : (mx ? 1 : -1); }
      var kx = key(x), ky = key(y);
      if (kx !== null && ky !== null) { return dir * (kx - ky); }
      if (kx !== null || ky !== null) { return kx !== null ? -1 : 1; }
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll('table.sortable').forEach(function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, i) {
      th.addEventListener('click', function () { sortBy(t, i, th); });
    });
  });
})();
"""
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;max-width:1800px;
 padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin-top:1.4em}
nav a{margin-right:1em}
.note,.legend{font-size:.88em;color:#444;max-width:110em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tw{overflow-x:auto;max-width:100%}
thead th{background:#f0f0f0;cursor:pointer;user-select:none}
thead th:hover{background:#e2e8f0}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
tbody tr:nth-child(even){background:#fafafa}
.cell{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}
.curve img{border:1px solid #ddd}
.pairs{flex:1;min-width:28em}
.pair{border:1px solid #ddd;border-radius:4px;padding:.35em .6em;margin:.4em 0;font-size:.92em}
.pair .meta{font-size:.85em;color:#555;margin-bottom:.2em}
.pair .line{margin:.15em 0;line-height:1.9}
.pair .tag{display:inline-block;width:1.6em;color:#777}
.w{padding:1px 2px;border-radius:2px}
.w.sub{font-weight:bold;text-decoration:underline;text-decoration-thickness:2px;outline:1px solid #333}
.pred{font-weight:bold;margin-left:.4em}
.method{font-weight:bold;margin-top:.6em}
code{background:#f4f4f4;padding:0 3px}
"""


def esc(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


_NUM = re.compile(r"^\s*[+\-\u2212]?\d+(\.\d+)?")


def table_html(df: pd.DataFrame, tid: str, empty: str = "(no results yet)") -> str:
    """A DataFrame of display strings as a sortable HTML table (id `tid`)."""
    if df is None or df.empty:
        return f"<p class='note' id='{esc(tid)}-empty'>{esc(empty)}</p>"
    head = "".join(f"<th scope='col' title='click to sort'>{esc(c)}</th>" for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        tds = []
        for v in r:
            s = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            cls = " class='num'" if _NUM.match(s) else ""
            tds.append(f"<td{cls}>{esc(s)}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (f"<div class='tw'><table class='sortable' id='{esc(tid)}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _para(text: str, cls: str = "note") -> str:
    return f"<p class='{cls}'>{esc(text)}</p>"


def _list(lines) -> str:
    return "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>"


# ----------------------------------------------------------------------------------------------
# heat-maps


def _rgb(v: float, scale: float) -> str:
    """White at 0; red for positive, blue for negative attribution, by |v| / scale."""
    a = 0.0 if scale <= 0 else min(1.0, abs(v) / scale)
    lo = round(255 * (1.0 - 0.75 * a))
    return f"rgb(255,{lo},{lo})" if v >= 0 else f"rgb({lo},{lo},255)"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def heat_spans(words: list[str], values: list | None, marked: set[int]) -> str:
    """Words as spans coloured by attribution, normalised by this text's largest |attribution|."""
    values = list(values or [])
    scale = max((abs(v) for v in values if _finite(v)), default=0.0)
    out = []
    for i, w in enumerate(words):
        v = values[i] if i < len(values) and _finite(values[i]) else None
        cls = "w sub" if i in marked else "w"
        if v is None:
            out.append(f"<span class='{cls}' title='no attribution'>{esc(w)}</span>")
        else:
            out.append(f"<span class='{cls}' style='background:{_rgb(v, scale)}' title='{v:+.4f}'>{esc(w)}</span>")
    return " ".join(out)


def select_pairs(rows: list[dict], n: int = EXAMPLES_PER_END, method: str = "ig") -> list[tuple[str, dict]]:
    """The n pairs with the largest and the n with the smallest `method` Kendall's tau (defined
    tau only; ties by example id): [("highest tau" | "lowest tau", row)], highest first."""
    ok = [r for r in rows if _finite((r.get(method) or {}).get("kendall_tau"))]
    ok.sort(key=lambda r: (-r[method]["kendall_tau"], int(r.get("idx", 0))))
    top = ok[:n]
    bottom = sorted(ok[n:], key=lambda r: (r[method]["kendall_tau"], int(r.get("idx", 0))))[:n]
    return [("highest tau", r) for r in top] + [("lowest tau", r) for r in bottom]


def pair_block(pair: dict, why: str, label_names: list[str] | None, method: str = "ig") -> str:
    att = pair.get(method) or {}
    changed = pair.get("changed") or []
    marked_x = {int(c[0]) for c in changed if c and c[0] is not None}
    marked_a = {int(c[1]) for c in changed if len(c) > 1 and c[1] is not None}
    if not changed:
        marked_x = marked_a = {int(r[0]) for r in pair.get("replaced") or [] if r}

    def name(y):
        if y is None:
            return "?"
        y = int(y)
        return label_names[y] if label_names and 0 <= y < len(label_names) else str(y)

    def pred(side):
        y = pair.get(f"pred_{side}")
        prob = pair.get(f"prob_{side}")
        p = f" {prob[int(y)]:.2f}" if y is not None and prob and int(y) < len(prob) else ""
        return f"[{name(y)}{p}]"

    topk = att.get("topk") or []
    ti = topk[4] if len(topk) > 4 and _finite(topk[4]) else None
    meta = [f"#{pair.get('idx')}", why, f"gold: {name(pair.get('label'))}", f"attack {pair.get('status', '?')}",
            f"τ = {att['kendall_tau']:.2f}" if _finite(att.get("kendall_tau")) else "τ undefined",
            f"TI@5 = {ti:.2f}" if ti is not None else "TI@5 undefined"]
    return ("<div class='pair'>"
            f"<div class='meta'>{esc(' · '.join(meta))}</div>"
            f"<div class='line'><span class='tag'>x</span>{heat_spans(pair.get('words_x') or [], att.get('x'), marked_x)}"
            f"<span class='pred'>{esc(pred('x'))}</span></div>"
            f"<div class='line'><span class='tag'>x′</span>"
            f"{heat_spans(pair.get('words_adv') or [], att.get('adv'), marked_a)}"
            f"<span class='pred'>{esc(pred('adv'))}</span></div></div>")


def read_full_pairs(interpret_dir) -> list[dict]:
    if interpret_dir is None or (isinstance(interpret_dir, float) and math.isnan(interpret_dir)) or not interpret_dir:
        return []
    p = Path(interpret_dir) / "pairs.jsonl"
    if not p.is_file():
        return []
    with open(p, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ----------------------------------------------------------------------------------------------
# figures


def png_data_uri(path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _method_label(r: dict) -> str:
    s = _p(r["method"])
    ta = r.get("train_attack") or ""
    if ta:
        s += f" ({_p(ta)})" if ta == r.get("attack") else f" (trained {_p(ta)})"
    beta, gamma = _f(r.get("beta")), _f(r.get("gamma"))
    if isinstance(r.get("variant"), str) and r["variant"] and beta is not None and gamma is not None:
        s += f" β={beta:g} γ={gamma:g}"
    n = _f(r.get("n_seeds"))
    if n is not None and n > 1:
        m = fewer_attacked(r)
        s += f" (mean of {int(n)} seeds" + (f"; attacked: {m})" if m else ")")
    return s


def topk_curve(rows: list[dict], title: str, tmp: Path, name: str) -> str | None:
    """The IG top-k curves of `rows` (one per method) as an <img> with a PNG data URI."""
    from flatbench.report.plots import plot_topk_curves

    results = {}
    for r in rows:
        m = {f"ig_topk_{k}": _f(r.get(f"ig_topk_{k}")) for k in range(1, 11)}
        if any(v is not None for v in m.values()):
            results[_method_label(r)] = m
    if not results:
        return None
    p = plot_topk_curves(results, tmp / f"{name}.png", method="ig", title=title)
    return f"<img src='{png_data_uri(p)}' alt='{esc(title)}' width='550'>"


def interpretation_section(data: dict) -> str:
    df, agg, names = data["df"], data["agg"], data.get("label_names") or {}
    if df.empty or "interpret_dir" not in df.columns or not df["interpret_dir"].notna().any():
        return ""
    out = [_para(EXAMPLE_RULE)]
    recs = df.to_dict("records")
    agg_recs = agg.to_dict("records")
    order = {"base": 0, "adv": 1, "flat": 2}
    groups: dict = {}
    for r in recs:
        if isinstance(r.get("attack"), str) and r["attack"]:
            groups.setdefault((r["model"], r["dataset"], r["attack"]), []).append(r)
    with tempfile.TemporaryDirectory(prefix="flatbench-html-") as tmp:
        for n, ((model, dataset, attack), rows) in enumerate(groups.items()):
            if not any(isinstance(r.get("interpret_dir"), str) and r["interpret_dir"] for r in rows):
                continue
            title = f"{_p(model)}, {_p(dataset)}, {_p(attack)}"
            out.append(f"<h3 id='interp-{n}'>{esc(title)}</h3><div class='cell'>")
            curve_rows = sorted((r for r in agg_recs if (r.get("model"), r.get("dataset"), r.get("attack"))
                                 == (model, dataset, attack)), key=lambda r: order.get(r["method"], 9))
            img = topk_curve(curve_rows, f"IG top-k intersection, {title}", Path(tmp), f"curve{n}")
            out.append(f"<div class='curve'>{img}</div>" if img else
                       _para("(no top-k values for this setting)"))
            blocks = []
            for r in sorted(rows, key=lambda r: (order.get(r["method"], 9), str(r.get("train_attack")),
                                                 str(r.get("variant")), _f(r.get("seed")) or 0)):
                head = _method_label(r) + (f", seed {int(r['seed'])}" if _f(r.get("seed")) is not None else "")
                blocks.append(f"<div class='method'>{esc(head)}</div>")
                idir = r.get("interpret_dir")
                if not (isinstance(idir, str) and idir):
                    blocks.append(_para("(its interpret stage is not in the cache yet)"))
                    continue
                prs = select_pairs(read_full_pairs(idir))
                if not prs:
                    blocks.append(_para("(no pairs with a defined Kendall's tau)"))
                blocks += [pair_block(p, why, names.get(dataset)) for why, p in prs]
            out.append("<div class='pairs'>" + "".join(blocks) + "</div></div>")
    return "".join(out)


# ----------------------------------------------------------------------------------------------
# the page


def table(t: Table, id: str = "", empty: str = "(no results yet)", **_) -> str:
    return table_html(t.frame(), id or t.name, empty)


def block(b) -> str:
    if isinstance(b, TableBlock):
        return table(b.table, b.id, b.empty)
    if isinstance(b, Para):
        return _para(b.text, b.style)
    if isinstance(b, Items):
        return _list(b.lines)
    if isinstance(b, Extra) and b.kind == "interpretation":
        return interpretation_section(b.data)
    if isinstance(b, Extra) and b.kind == "image":  # data: png_base64, alt, caption
        d = b.data
        cap = f"<figcaption class='note'>{esc(d['caption'])}</figcaption>" if d.get("caption") else ""
        return (f"<figure><img src='data:image/png;base64,{d['png_base64']}' alt='{esc(d.get('alt', ''))}' "
                f"style='max-width:100%'>{cap}</figure>")
    raise TypeError(f"html cannot render {type(b).__name__}")


def document(doc: Document) -> str:
    """The whole page: the title, progress, a navigation bar, one <section> per shown section
    (the deviations under the main one)."""
    secs = []
    for s in doc.sections:
        shown = visible(s.blocks, SHOWS)
        if not shown:
            continue
        body = "".join(block(b) for b in shown)
        if s.lead and doc.deviations:
            body += "<h3>Deviations from the paper</h3>" + _list(doc.deviations)
        secs.append((s.id, s.heading, body))
    nav = "".join(f"<a href='#{a}'>{esc(h.split(' (')[0])}</a>" for a, h, _ in secs)
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{esc('flatbench report: ' + doc.meta.get('name', doc.title))}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{esc(doc.title)}</h1>",
             _para(f"{doc.progress or ''} Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by flatbench report --format "
                   f"html from the stage cache {doc.meta.get('cache_root', '')}.".lstrip()),
             f"<nav>{nav}</nav>"]
    for a, h, b in secs:
        parts.append(f"<section id='{esc(a)}'><h2>{esc(h)}</h2>{b}</section>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


__all__ = ["document", "table", "select_pairs", "heat_spans", "pair_block", "table_html", "EXAMPLE_RULE",
           "EXAMPLES_PER_END"]
