"""`flatbench report --format html`: the page is rendered from a cache written in the stages' real
layout (keys from the real plan, manifests, records.jsonl, pairs.jsonl with per-word IG
attributions scored by the real consistency code) and a real MLflow store written by the Tracker,
then opened in a real headless browser (Debian's chromium driven by Playwright): no console
errors, nothing fetched from the network, every table with its rows, every image decoded,
sorting by a column header, escaped words. A screenshot is kept under the pytest tmp dir."""

import json
import math
import os
import random
import shutil
from pathlib import Path

import pytest

from flatbench.report.html import EXAMPLES_PER_END, heat_spans, select_pairs
from flatbench.tracking import run_ids as mlflow_runs

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VOCAB = ["what", "is", "the", "capital", "of", "france", "who", "wrote", "hamlet", "how", "tall", "mountain",
         "when", "did", "war", "end", "where", "river", "city", "name", "<i>x</i>", "R&D"]
SUBST = {"capital": "chief", "tall": "grandiloquent", "wrote": "penned", "city": "metropolis", "war": "warfare",
         "river": "stream", "mountain": "mount", "name": "appellation", "end": "terminate", "france": "gaul"}


# ---------------------------------------------------------------------------------------------
# without a browser


def test_pair_selection_rule_largest_and_smallest_tau():
    rows = [{"idx": i, "ig": {"kendall_tau": t}} for i, t in
            enumerate([0.5, None, 1.0, -0.2, 1.0, 0.1, float("nan"), -0.2, 0.9])]
    got = [(why, r["idx"]) for why, r in select_pairs(rows)]
    assert EXAMPLES_PER_END == 2
    assert got == [("highest tau", 2), ("highest tau", 4), ("lowest tau", 3), ("lowest tau", 7)]
    assert [r["idx"] for _, r in select_pairs(rows[:3])] == [2, 0]  # fewer pairs: each shown once
    assert select_pairs([{"idx": 0, "ig": {"kendall_tau": None}}]) == []


def test_heat_spans_escape_normalise_per_text_and_mark_substitutes():
    s = heat_spans(["<b>", "a&b", "c"], [2.0, -1.0, None], {1})
    assert "&lt;b&gt;" in s and "a&amp;b" in s and "<b>" not in s
    assert "background:rgb(255,64,64)" in s  # the text's largest |attribution|: full red
    assert "background:rgb(159,159,255)" in s  # half of it, negative: half blue
    assert "class='w sub'" in s and "no attribution" in s


def test_mlflow_lookup_without_a_store_says_so(tmp_path):
    assert mlflow_runs(f"sqlite:///{tmp_path}/none.db", ["k"]) == ({}, f"no MLflow store at {tmp_path}/none.db")
    assert not (tmp_path / "none.db").exists()  # a report only reads: no store is created
    assert mlflow_runs(None, ["k"])[0] == {}


# ---------------------------------------------------------------------------------------------
# a cache in the stages' layout


def _write(d: Path, name: str, rows) -> None:
    with open(d / name, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def _put(root: Path, stage, metrics: dict, files=(), deviations=()) -> Path:
    d = root / stage.kind / stage.key
    d.mkdir(parents=True, exist_ok=True)
    for name, rows in files:
        _write(d, name, rows)
    (d / "manifest.json").write_text(json.dumps({"kind": stage.kind, "key": stage.key, "metrics": metrics,
                                                 "seconds": 1.0, "deviations": list(deviations)}))
    return d


def _pair(rng: random.Random, idx: int, label: int, status: str, drift: float) -> dict:
    from flatbench.interpret.consistency import pair_consistency

    words = [rng.choice(VOCAB) for _ in range(rng.randint(4, 11))]
    subs = [i for i, w in enumerate(words) if w in SUBST][:2] or [0]
    adv = list(words)
    for i in subs:
        adv[i] = SUBST.get(words[i], words[i] + "s")
    x = [rng.gauss(0, 1) for _ in words]
    a = [v + rng.gauss(0, drift) for v in x]
    c = pair_consistency(x, a, None, ks=range(1, 11))
    clean = lambda v: None if v is None or not math.isfinite(v) else float(v)  # noqa: E731
    y_adv = label if status == "failed" else (label + 1) % 6
    prob = lambda y: [0.8 if k == y else 0.04 for k in range(6)]  # noqa: E731
    return {"idx": idx, "label": label, "status": status, "orig_pred": label, "adv_pred": y_adv,
            "words_x": words, "words_adv": adv, "replaced": [[i, words[i], adv[i]] for i in subs],
            "no_position_x": [], "no_position_adv": [], "aligned_by_position": True,
            "changed": [[i, i] for i in subs], "pred_x": label, "pred_adv": y_adv,
            "prob_x": prob(label), "prob_adv": prob(y_adv),
            "ig": {"x": x, "adv": a, "kendall_tau": clean(c["kendall_tau"]), "topk": [clean(v) for v in c["topk"]]}}


def write_cache(root: Path, grid, data_dir) -> None:
    """Every target stage of `grid` with plausible metrics; attacks with records.jsonl, interpret
    stages with pairs.jsonl (words, IG attributions, KT and TI@1..10 from the real scoring code)."""
    from flatbench.interpret.consistency import class_averaged
    from flatbench.stages import plan

    rng = random.Random(7)
    robust = {"base": 0.15, "adv": 0.3, "flat": 0.55}
    drift = {"base": 1.0, "adv": 0.8, "flat": 0.4}
    _, targets = plan(grid, str(data_dir))
    for cell, t in targets.items():
        _put(root, t["train"], {}, deviations=["word vectors: GloVe 6B 50-d (test cache)"])
        if "evaluate" in t:
            _put(root, t["evaluate"], {"test_acc": 0.85 + 0.05 * rng.random(), "test_n": 500})
        for k, st in t.items():
            if not k.startswith("attack:"):
                continue
            recs = []
            for i in range(60):
                u = rng.random()
                status = "skipped" if u < 0.1 else ("failed" if u < 0.1 + robust[cell.method] else "succeeded")
                recs.append({"idx": 2 * i, "label": i % 6, "status": status})
            n, fail = len(recs), sum(r["status"] == "failed" for r in recs)
            succ = sum(r["status"] == "succeeded" for r in recs)
            _put(root, st, {"n": n, "failed": fail, "succeeded": succ, "skipped": n - fail - succ,
                            "after_attack_acc": fail / n, "success_rate": succ / (succ + fail)},
                 [("records.jsonl", recs)])
            ik = k.replace("attack:", "interpret:")
            if ik not in t:
                continue
            prs = [_pair(rng, r["idx"], r["label"], r["status"], drift[cell.method]) for r in recs
                   if r["status"] != "skipped"]
            labels = [p["label"] for p in prs]
            m = {"n_pairs": len(prs), "n_removed_skipped": n - len(prs), "n_removed_unchanged": 0,
                 "ig_kendall_tau": class_averaged([p["ig"]["kendall_tau"] for p in prs], labels)}
            for kk in range(1, 11):
                m[f"ig_topk_{kk}"] = class_averaged([p["ig"]["topk"][kk - 1] for p in prs], labels)
            _put(root, t[ik], m, [("pairs.jsonl", prs)])


# ---------------------------------------------------------------------------------------------
# in a browser


def _chromium() -> str | None:
    env = os.environ.get("FLATBENCH_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in CHROMIUM_CANDIDATES:
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright's Python package is not installed (pip install playwright)")
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set FLATBENCH_CHROMIUM to a browser binary)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


def open_page(browser, path: Path):
    """The page at `path`, with the console errors and every non-local request it made."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


def _rows(page, tid: str) -> int:
    return page.evaluate(f"document.getElementById('{tid}') ? document.getElementById('{tid}').tBodies[0].rows.length"
                         " : -1")


def _column(page, tid: str, header: str) -> list[str]:
    return page.evaluate("""([tid, header]) => {
        const t = document.getElementById(tid);
        const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent === header);
        return Array.from(t.tBodies[0].rows).map(r => r.cells[i].textContent);
    }""", [tid, header])


def _lead(s: str) -> float:
    return float(s.replace("\u2212", "-").split()[0].rstrip("†‡"))


def test_html_report_in_a_browser(browser, tmp_path, data_dir):
    from click.testing import CliRunner

    from flatbench.cells import load_grid
    from flatbench.cli import cli
    from flatbench.reporting import plan_grid
    from flatbench.tracking import Tracker

    g = load_grid("smoke", models="cnn", seeds="13,42")
    runs = tmp_path / "runs"
    write_cache(runs, g, data_dir)
    stages, targets = plan_grid(g, str(data_dir))  # with the FLAT cells' correlate stages

    # a real MLflow store holding the run of one stage (the others: "not logged")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = Tracker(uri=uri)
    tracker.setup()
    flat = next(t for c, t in targets.items() if c.method == "flat" and c.seed == 13)
    logged = flat["interpret:pwws"]
    tracker.log_stage(logged, {"spec": {}, "metrics": {"ig_kendall_tau": 0.5}}, "smoke", runs / "interpret" / logged.key)
    import mlflow

    found = mlflow.MlflowClient(uri).search_runs([tracker.experiment_id], filter_string=f"tags.key = '{logged.key}'")
    assert len(found) == 1
    run_id = found[0].info.run_id

    out = tmp_path / "report.html"
    env = {"FLATBENCH_DATA_DIR": str(data_dir), "MLFLOW_TRACKING_URI": uri}
    r = CliRunner().invoke(cli, ["report", "--grid", "smoke", "--models", "cnn", "--seeds", "13,42",
                                 "--runs-dir", str(runs), "--format", "html", "-o", str(out)], env=env)
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert "<link" not in text and "src='http" not in text and 'src="http' not in text

    page, errors, requests = open_page(browser, out)
    assert errors == [] and requests == []
    # every table with its rows: 2 seeds x 3 methods + 3 "mean of 2" rows; one ordering setting
    n_rows = {"t-main": 9, "t-clean": 9, "t-orderings": 1, "t-mlflow": len(stages)}
    assert {t: _rows(page, t) for t in n_rows} == n_rows
    assert _rows(page, "t-lime") == -1  # no LIME numbers in this cache: no LIME table
    heads = page.evaluate("Array.from(document.querySelectorAll('#t-main th')).map(th => th.textContent)")
    assert {"AA paper", "AA ours", "KT paper", "KT ours", "TI paper", "TI ours"} <= set(heads)
    legend = page.inner_text("#main")
    assert "Clopper–Pearson" in legend and "Deviations from the paper" in legend
    assert "word vectors: GloVe 6B 50-d (test cache)" in legend
    assert "mean of 2" in " ".join(_column(page, "t-main", "Seed"))

    # images: the IG top-k curve of CNN/TREC/PWWS, decoded
    imgs = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight,"
                         " i.src.slice(0, 22)])")
    assert len(imgs) == 1 and all(c and w > 0 and h > 0 and s == "data:image/png;base64," for c, w, h, s in imgs)

    # heat-maps: 2 + 2 pairs per interpreted cell (6 cells), original above adversarial, substitutes marked
    pairs = page.query_selector_all(".pair")
    assert len(pairs) == 6 * 2 * EXAMPLES_PER_END
    for p in pairs:
        lines = p.query_selector_all(".line")
        assert [ln.query_selector(".tag").inner_text() for ln in lines] == ["x", "x′"]
        assert all(ln.query_selector(".w.sub") for ln in lines)
        assert "gold: " in p.inner_text() and ("highest tau" in p.inner_text() or "lowest tau" in p.inner_text())
    assert page.evaluate("document.querySelectorAll('.pair i').length") == 0  # the word "<i>x</i>" stays text
    assert page.evaluate("document.querySelectorAll('.pair .w[style*=background]').length") > 100
    style = page.evaluate("getComputedStyle(document.querySelector('.w.sub')).textDecorationLine")
    assert "underline" in style

    # MLflow: the logged stage shows its run id, every other stage "not logged"
    mlf = dict(zip(_column(page, "t-mlflow", "Cache key"), _column(page, "t-mlflow", "MLflow run")))
    assert mlf.pop(f"interpret/{logged.key}").startswith(run_id)
    assert set(mlf.values()) == {"not logged"}

    # sorting: clicking "AA ours" orders the rows by the number before the CI, again reverses it
    before = _column(page, "t-main", "AA ours")
    page.click("#t-main th:text-is('AA ours')")
    asc = [_lead(s) for s in _column(page, "t-main", "AA ours")]
    assert asc == sorted(asc) and sorted(asc) == sorted(_lead(s) for s in before)
    page.click("#t-main th:text-is('AA ours')")
    desc_rows = _column(page, "t-main", "AA ours")
    desc = [_lead(s) for s in desc_rows]
    assert desc == sorted(desc, reverse=True) and desc_rows != before
    methods = _column(page, "t-main", "Method")
    assert methods[0].startswith("FLAT")  # most robust first; the rows moved, not only the cells
    assert page.get_attribute("#t-main th:text-is('AA ours')", "aria-sort") == "descending"

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    page.close()


@pytest.mark.parametrize("grid_name,rows", [("table5", 4)])
def test_html_report_of_a_table5_grid(browser, tmp_path, data_dir, grid_name, rows):
    from flatbench.cache import Cache
    from flatbench.cells import load_grid
    from flatbench.report.documents import grid_document
    from flatbench.report.formats import render
    from flatbench.reporting import report_input
    from flatbench.stages import Context

    g = load_grid(grid_name)
    write_cache(tmp_path / "runs", g, data_dir)
    ctx = Context(Cache(tmp_path / "runs"), _tracker_off(), str(data_dir), grid_name)
    out = tmp_path / "t.html"
    out.write_text(render(grid_document(report_input(g, ctx, page=True)), "html"), encoding="utf-8")
    page, errors, requests = open_page(browser, out)
    assert errors == [] and requests == []
    assert _rows(page, "t-main") == rows
    heads = page.evaluate("Array.from(document.querySelectorAll('#t-main th')).map(th => th.textContent)")
    assert heads[:2] == ["β", "γ"] and "SA paper" in heads and "AA ours" in heads
    assert page.query_selector("#interpretation") is None  # Table 5 measures no interpretation: no section
    assert "not logged" in page.inner_text("#mlflow")
    page.click("#t-main th:text-is('AA ours')")
    aa = [_lead(s) for s in _column(page, "t-main", "AA ours")]
    assert aa == sorted(aa)
    page.close()


def _tracker_off():
    from flatbench.tracking import Tracker

    return Tracker(uri="sqlite:////nonexistent/mlflow.db", enabled=False)
