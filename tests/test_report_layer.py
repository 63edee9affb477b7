"""The report layer: format-neutral tables, registered renderers, reports that only read."""

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from flatbench.cells import load_grid
from flatbench.report import formats
from flatbench.report.builders import lime_table, robustness_table
from flatbench.report.document import Document, Para, Section, TableBlock
from flatbench.report.documents import ReportInput, grid_document
from flatbench.report.table import Cell, Column, Row, Table

REPORT = Path(__file__).resolve().parents[1] / "flatbench" / "report"
# Known exceptions, to move out (each a lazy import inside a function, never at import time): none
# (the claims ledger is gathered in flatbench.reporting, which asks flatbench.attacks.availability).
LAZY_EXCEPTIONS: set[str] = set()


def test_cell_display_and_raw_fields():
    c = Cell(12.333, lo=8.81, hi=16.4, marks="†", p={"adv": 0.01}, digits=2, ci_digits=1)
    assert c.display() == "12.33† [8.8, 16.4]"
    assert Cell(float("nan")).display() == "–" and Cell("online only: needs X").display() == "online only: needs X"
    assert Cell(1.5, signed=True).display() == "+1.50" and Cell(3.0, sd=0.5).display() == "3.00 ± 0.50"
    assert c.raw("AA") == {"AA": 12.333, "AA_lo": 8.81, "AA_hi": 16.4, "AA_p_adv": 0.01, "AA_marks": "†"}
    assert Cell(0.1, text="0.1").display() == "0.1"


def test_table_frame_records_and_json():
    t = Table("demo", [Column("method", "Method"), Column("AA", "AA ours")],
              [Row({"method": "flat", "seed": 13}, {"method": Cell("FLAT (PWWS)"), "AA": Cell(20.0, lo=15.0, hi=25.0)})],
              notes=["a note"])
    assert t.frame().to_dict("records") == [{"Method": "FLAT (PWWS)", "AA ours": "20.00 [15.00, 25.00]"}]
    # the row key wins over a label cell of the same name: machine readers get the raw names
    assert t.records() == [{"method": "flat", "seed": 13, "AA": 20.0, "AA_lo": 15.0, "AA_hi": 25.0}]
    d = json.loads(formats.render_table(t, "json"))
    assert d["rows"][0]["cells"]["AA"] == {"text": "20.00 [15.00, 25.00]", "value": 20.0, "lo": 15.0, "hi": 25.0}
    assert formats.render_table(t, "markdown").splitlines()[0].startswith("| Method")
    assert "\\toprule" in formats.render_table(t, "latex") and "<table class='sortable'" in formats.render_table(t, "html")


def test_a_new_format_is_one_module_and_one_line(monkeypatch):
    mod = types.ModuleType("flatbench_test_tsv")
    mod.SUFFIX, mod.SHOWS = ".tsv", ("text",)
    mod.table = lambda t, **_: "\n".join("\t".join(r) for r in [t.frame().columns.tolist()] + t.frame().values.tolist())
    mod.document = lambda doc: "\n\n".join(mod.table(t) for _, t in doc.tables(mod.SHOWS)) + "\n"
    monkeypatch.setitem(sys.modules, "flatbench_test_tsv", mod)
    monkeypatch.setitem(formats.FORMATS, "tsv", "flatbench_test_tsv")  # the one line
    t = Table("x", [Column("a", "A")], [Row({}, {"a": Cell(1.0)})])
    doc = Document("title", [Section("main", "Main", [TableBlock(t), Para("prose")], lead=True)])
    assert formats.render(doc, "tsv") == "A\n1.00\n"
    with pytest.raises(Exception, match="unknown report format 'nope'"):
        formats.render(doc, "nope")


def test_report_package_imports_no_model_attack_interpret_training_stage_or_sqlite():
    for f in REPORT.glob("*.py"):
        src = f.read_text(encoding="utf-8")
        assert not re.search(r"^\s*import sqlite3|^\s*from sqlite3", src, re.M), f
        if f.name in LAZY_EXCEPTIONS:
            continue
        assert not re.search(r"^\s*(from|import) flatbench\.(models|training|interpret|attacks|stages)\b", src, re.M), f
    mods = [f"flatbench.report.{f.stem}" for f in REPORT.glob("*.py") if f.stem != "__init__"]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in mods) +
            "bad = sorted(m for m in sys.modules if m.split('.')[:2] in (['flatbench', 'models'], ['flatbench', "
            "'training'], ['flatbench', 'interpret'], ['flatbench', 'attacks'], ['flatbench', 'stages']) "
            "or m in ('torch', 'sqlite3', 'captum', 'textattack'))\n"
            # the registry's model specs hold their declared hyper-parameters, which live in the
            # torch-free flatbench.models.hp: declarations, not model code
            "print([m for m in bad if m not in ('flatbench.models', 'flatbench.models.hp')])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _rows(seeds=(13, 42)):
    out = []
    for s in seeds:
        for m in ("base", "flat"):
            out.append({"model": "cnn", "dataset": "trec", "method": m, "train_attack": "pwws" if m == "flat" else "",
                        "attack": "pwws", "seed": s, "variant": "", "clean_acc": 88.0, "AA": 40.0 + s / 10,
                        "KT": 0.5, "TI": 0.8, "LIME_KT": 0.4 + s / 1000, "LIME_TI": 0.7})
    return pd.DataFrame(out)


def test_lime_table_has_a_seed_column_when_there_are_several_seeds():
    t = lime_table(_rows()).frame()
    assert list(t.columns[:5]) == ["Attack", "Model", "Method", "Dataset", "Seed"]
    assert list(t["Seed"]) == ["13", "13", "42", "42"]
    assert "Seed" not in lime_table(_rows(seeds=(13,))).frame().columns  # one seed: as before


def test_ig_completeness_delta_shown_only_when_recorded():
    df = _rows(seeds=(13,))
    assert "IG δ med/p95/max" not in robustness_table(df).frame().columns
    df = df.assign(ig_rel_delta_median=[0.001, 0.02], ig_rel_delta_p95=[0.004, 0.03], ig_rel_delta_max=[0.01, 0.06])
    t = robustness_table(df)
    assert list(t.frame()["IG δ med/p95/max"]) == ["0.001/0.004/0.010", "0.020/0.030/0.060 ⚠"]
    text = formats.render(grid_document(ReportInput(load_grid("smoke"), df, [], {"done": 1, "total": 1})), "markdown")
    assert text.count("⚠ IG completeness") == 1 and "max ≥ 0.05 in: CNN FLAT TREC PWWS (more IG steps" in text


def test_mlflow_run_ids_through_the_client(tmp_path):
    import mlflow

    from flatbench.tracking import Tracker, run_ids

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = Tracker(uri=uri)
    tracker.setup()
    client = mlflow.MlflowClient(uri)
    run = client.create_run(tracker.experiment_id, tags={"key": "abc"})
    client.set_terminated(run.info.run_id, "FINISHED")
    runs, note = run_ids(uri, ["abc", "missing"])
    assert runs == {"abc": (run.info.run_id, str(tracker.experiment_id), "FINISHED")}
    assert note.startswith(f"MLflow store: {tmp_path}/mlflow.db")
    assert run_ids(f"sqlite:///{tmp_path}/none.db", ["abc"]) == ({}, f"no MLflow store at {tmp_path}/none.db")
    assert not (tmp_path / "none.db").exists()


def test_deviation_lines_alike_but_for_their_numbers_are_written_once_with_ranges():
    from flatbench.analysis.deviations import collapse_deviations

    per_stage = [f"interpret: {k} of {n} pairs had different model-word counts for x and x'; aligned"
                 for k, n in ((1, 1445), (2, 1390), (3, 356), (1, 360))]
    per_dataset = ["textfooler: min_cos_sim = 0.75, mean dev AA 3.67", "textfooler: min_cos_sim = 0.9, mean dev AA 37.50"]
    out = collapse_deviations(per_stage + per_dataset + ["word vectors: GloVe 6B 50-d"] + per_stage[:1])
    assert out == ["interpret: 1–3 of 356–1445 pairs had different model-word counts for x and x'; aligned "
                   "(4 stages alike)", *per_dataset, "word vectors: GloVe 6B 50-d"]
    assert collapse_deviations(per_stage[:3]) == sorted(per_stage[:3])  # three alike lines stay as they are
    # a number every line shares is written once, not as a range
    assert collapse_deviations([f"x: attacked {n} of 500" for n in (100, 200, 300, 400)]) == [
        "x: attacked 100–400 of 500 (4 stages alike)"]
