"""`flatbench report --format html`: one self-contained HTML page of a grid, from the cache only.

Nothing is fetched when the page is viewed: styles and the sorting script are inline, figures are
base64 PNGs (matplotlib), attribution heat-maps are coloured HTML spans. Sections:

- the grid's table (Table 3-like AA/KT/TI with CIs and significance marks, or Table 4 / Table 5 /
  clean accuracy, as the markdown report), paper beside ours, sortable by clicking a column header
  (numeric sort on the value before the CI; missing values last), the legend and the deviations;
- the orderings (FLAT > adv > base?) and their summary, LIME consistency, clean accuracy;
- per model/dataset/attack: the IG top-k intersection curve (k = 1..10) of every method, and
  example pairs as word-attribution heat-maps chosen by `EXAMPLE_RULE`;
- the correlation of FLAT's phi with word / substitution frequency (Fig. 4 / Table 9) for FLAT
  cells whose final model is cached (needs torch; skipped with its reason otherwise);
- every stage's cache key and MLflow run id, looked up by the stage's `key` tag in the local
  sqlite store the Tracker uses ("not logged" where there is no store or no run).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd

from flatbench.report import tables as T
from flatbench.report.paper import PRETTY
from flatbench.results import aggregate_seeds, has_several_seeds, orderings, with_aggregates

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


def _p(x) -> str:
    return PRETTY.get(x, x)


def _f(v) -> float | None:
    return T._f(v)


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


def label_names(dataset: str, data_dir) -> list[str] | None:
    """The class names from the local data directory's labels.json (None: not there)."""
    if not data_dir:
        return None
    try:
        from flatbench.data.datasets import DATASETS

        folder = DATASETS[dataset].folder if dataset in DATASETS else dataset
        m = json.loads((Path(data_dir) / folder / "labels.json").read_text())
        return [m[str(i)] for i in range(len(m))]
    except Exception:  # names only label the examples
        return None


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
        s += f" (mean of {int(n)} seeds)"
    return s


def topk_curve(rows: list[dict], title: str, tmp: Path, name: str) -> str | None:
    """The IG top-k curves of `rows` (one per method) as an <img> with a PNG data URI."""
    from flatbench.interpret.plots import plot_topk_curves

    results = {}
    for r in rows:
        m = {f"ig_topk_{k}": _f(r.get(f"ig_topk_{k}")) for k in range(1, 11)}
        if any(v is not None for v in m.values()):
            results[_method_label(r)] = m
    if not results:
        return None
    p = plot_topk_curves(results, tmp / f"{name}.png", method="ig", title=title)
    return f"<img src='{png_data_uri(p)}' alt='{esc(title)}' width='550'>"


# ----------------------------------------------------------------------------------------------
# MLflow


def mlflow_runs(uri: str | None, keys) -> tuple[dict, str]:
    """({stage key: (run id, experiment id, status)}, note) for the runs tagged key=<stage key>
    in a local sqlite MLflow store (the Tracker's); a FINISHED run is preferred over others, then
    the latest. An empty dict and the reason when there is no readable local store."""
    if not uri or not uri.startswith("sqlite:///"):
        return {}, f"MLflow store {uri!r} is not a local sqlite file: runs not looked up"
    db = Path(uri[len("sqlite:///"):])
    if not db.is_file():
        return {}, f"no MLflow store at {db}"
    keys = sorted(set(keys))
    found: dict = {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = ("SELECT t.value, r.run_uuid, r.experiment_id, r.status, r.start_time FROM tags t "
                     "JOIN runs r ON r.run_uuid = t.run_uuid WHERE t.key = 'key' AND r.lifecycle_stage = 'active' "
                     f"AND t.value IN ({','.join('?' * len(chunk))})")
                for key, rid, eid, status, start in con.execute(q, chunk):
                    rank = (status == "FINISHED", start or 0)
                    if key not in found or rank > found[key][0]:
                        found[key] = (rank, (rid, str(eid), status))
        finally:
            con.close()
    except sqlite3.Error as e:
        return {}, f"MLflow store {db} could not be read ({e})"
    return {k: v[1] for k, v in found.items()}, f"MLflow store: {db} (open with: mlflow ui --backend-store-uri {uri})"


def mlflow_table(stages, cache, uri) -> tuple[pd.DataFrame, str]:
    runs, note = mlflow_runs(uri, [s.key for s in stages])
    rows = []
    for s in stages:
        run = runs.get(s.key)
        rows.append({"Cell": s.owner().id, "Stage": s.label(), "Cache key": f"{s.kind}/{s.key}",
                     "Cached": "yes" if cache.done(s.kind, s.key) else "no",
                     "MLflow run": f"{run[0]} (experiment {run[1]}, {run[2]})" if run else "not logged"})
    return pd.DataFrame(rows), note


# ----------------------------------------------------------------------------------------------
# correlation


def correlation_table(targets: dict, ctx) -> tuple[pd.DataFrame, list[str]]:
    """Fig. 4 / Table 9 for every FLAT cell whose final model and training attacks are cached:
    Pearson / Spearman of phi with log word frequency and log(1 + times substituted)."""
    from flatbench.stages import with_dependencies

    rows, notes = [], []
    for cell, t in targets.items():
        if cell.method != "flat":
            continue
        final = t["train"]
        deps = with_dependencies([final])
        if not all(ctx.cache.done(s.kind, s.key) for s in deps):
            continue
        if not (ctx.cache.dir(final.kind, final.key) / "model.pt").is_file():
            notes.append(f"{cell.id}: correlation skipped (no saved model in {ctx.cache.dir(final.kind, final.key)})")
            continue
        try:
            from flatbench.analysis.correlation import correlate
            from flatbench.data.splits import data_for

            _, train, _ = data_for(cell, ctx)
            res = correlate(ctx.cache.dir(final.kind, final.key),
                            [ctx.cache.dir(s.kind, s.key) for s in deps if s.kind == "attack"], train.texts)
        except Exception as e:  # noqa: BLE001 - a section of a report never fails the report
            notes.append(f"{cell.id}: correlation skipped ({type(e).__name__}: {e})")
            continue
        rows.append({"Cell": cell.id, "Words": res["n_words"], "Substituted": res["n_substituted"],
                     "φ~log freq Pearson": f"{res['pearson_freq']:+.3f}",
                     "φ~log freq Spearman": f"{res['spearman_freq']:+.3f}",
                     "φ~log(1+subst) Pearson": f"{res['pearson_subst']:+.3f}",
                     "φ~log(1+subst) Spearman": f"{res['spearman_subst']:+.3f}",
                     "Highest φ": ", ".join(f"{w} {p:.2f}" for w, p in res["top_words"][:5]),
                     "Lowest φ": ", ".join(f"{w} {p:.2f}" for w, p in res["bottom_words"][-5:])})
    return pd.DataFrame(rows), notes


# ----------------------------------------------------------------------------------------------
# the page


def html_report(grid, df: pd.DataFrame, deviations: list[str], progress: dict, ctx, *,
                correlation: bool = True) -> str:
    """The whole page (a str) for `collect`'s rows of `grid`; ctx: the Context the rows came from
    (its cache, data_dir and tracker URI)."""
    from flatbench.stages import plan

    stages, targets = plan(grid, ctx.data_dir)
    kind = T._kind(grid, df)
    agg = aggregate_seeds(df) if not df.empty else df
    view = with_aggregates(df, agg) if not df.empty and has_several_seeds(df) else df
    secs: list[tuple[str, str, str]] = []  # (anchor, heading, body)

    main_title = {"table3": "Robustness and interpretation consistency (Table 3)",
                  "table4": "Transfer to unforeseen attacks (Table 4)",
                  "table5": "β / γ ablation (Table 5)",
                  "table2": "Clean accuracy (Table 2)"}[kind]
    dev_html = ("<h3>Deviations from the paper</h3>" + _list(deviations)) if deviations else ""
    if kind == "table3":
        body = table_html(T.robustness_table(view), "t-main") + _para(T.LEGEND, "legend") + _para(T.RANKING_NOTE)
        stand_ins = sorted(set(df["model"]) & set(T.ORIENTATION)) if "model" in df.columns else []
        if stand_ins:
            body += _para("; ".join(f"{_p(m)} rows show the paper's {_p(T.ORIENTATION[m])} numbers, for orientation "
                                    "only" for m in stand_ins))
    elif kind == "table4":
        body = table_html(T.transfer_table(view), "t-main") + _para(T.LEGEND_SHORT, "legend")
    elif kind == "table5":
        body = table_html(T.ablation_table(view), "t-main") + _para(T.ABLATION_NOTE, "legend")
    else:
        body = table_html(T.clean_table(view), "t-main") + _para(T.CLEAN_NOTE, "legend")
    secs.append(("main", main_title, body + dev_html))

    if kind in ("table3", "table4") and not agg.empty:
        orders = orderings(agg)
        if not orders.empty:
            summary = [s[2:] if s.startswith("- ") else s for s in T.orderings_summary(orders).splitlines()]
            secs.append(("orderings", "Orderings (FLAT > adv > base?)",
                         table_html(T.orderings_table(orders), "t-orderings") + _para(T.ORDERINGS_NOTE)
                         + _list(summary)))
    if kind == "table3":
        lime = T.lime_table(view)
        if not lime.empty:
            secs.append(("lime", "LIME consistency (paper: appendix Table 8, numbers not available to us)",
                         table_html(lime, "t-lime")))
        secs.append(("clean", "Clean accuracy (Table 2 cells)",
                     table_html(T.clean_table(view), "t-clean") + _para(T.CLEAN_NOTE)))

    interp = _interpretation_section(df, agg, ctx)
    if interp:
        secs.append(("interpretation", "Interpretation consistency: top-k curves and example pairs (IG)", interp))

    if correlation:
        corr, notes = correlation_table(targets, ctx)
        if not corr.empty or notes:
            body = table_html(corr, "t-corr", "(no correlation computed)") + (_list(notes) if notes else "")
            body += _para("Pearson and Spearman correlation of FLAT's global word importance φ with the log "
                          "training-set frequency of a word and with log(1 + times the word was used as a "
                          "substitute by the successful training attacks of all rounds), as `flatbench "
                          "correlate`; the paper reports no numbers to compare with.")
            secs.append(("correlation", "Correlation of φ with frequency (Fig. 4 / Table 9)", body))

    mt, note = mlflow_table(stages, ctx.cache, getattr(ctx.tracker, "uri", None))
    secs.append(("mlflow", "Stages and MLflow runs",
                 _para(note) + table_html(mt, "t-mlflow")
                 + _para("A run is found by the stage's cache key (MLflow tag `key`); \"not logged\": no run "
                         "with that key in the store (e.g. run with --no-mlflow, or another store).")))

    title = f"{grid.name}: {grid.description}".strip()
    nav = "".join(f"<a href='#{a}'>{esc(h.split(' (')[0])}</a>" for a, h, _ in secs)
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{esc('flatbench report: ' + grid.name)}</title>", f"<style>{STYLE}</style></head><body>",
             f"<h1>{esc(title)}</h1>",
             _para(f"{progress['done']}/{progress['total']} stages complete. Generated "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S')} by flatbench report --format html from the stage cache "
                   f"{ctx.cache.root}."),
             f"<nav>{nav}</nav>"]
    for a, h, b in secs:
        parts.append(f"<section id='{esc(a)}'><h2>{esc(h)}</h2>{b}</section>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _interpretation_section(df: pd.DataFrame, agg: pd.DataFrame, ctx) -> str:
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
    names: dict = {}
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
            if dataset not in names:
                names[dataset] = label_names(dataset, ctx.data_dir)
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
                blocks += [pair_block(p, why, names[dataset]) for why, p in prs]
            out.append("<div class='pairs'>" + "".join(blocks) + "</div></div>")
    return "".join(out)


__all__ = ["html_report", "select_pairs", "heat_spans", "pair_block", "mlflow_runs", "table_html",
           "EXAMPLE_RULE", "EXAMPLES_PER_END"]
