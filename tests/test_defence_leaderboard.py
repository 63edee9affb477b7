"""The defence leaderboard (flatbench.analysis.defences, flatbench.report.defences): the rank-with-ties
rule on hand-made values, and the rows / table built from hand-made per-example records through
the same statistics `collect` uses."""

import json
import math

import pandas as pd
import pytest

from flatbench.analysis.defences import leaderboard, rank_with_ties, tied
from flatbench.analysis.records import aa_stats, add_paired_tests, consistency_stats, ensure_columns, row_data


def test_rank_with_ties_counts_only_defences_whose_ci_lies_entirely_above():
    # A [60, 70] and B [55, 65] overlap: both first; C [40, 50] lies below both: third;
    # D [49, 61] overlaps A and B (their lower bounds 60 and 55 are under its 61): first too
    values, lo, hi = [65, 60, 45, 55], [60, 55, 40, 49], [70, 65, 50, 61]
    assert rank_with_ties(values, lo, hi) == [1, 1, 3, 1]
    assert tied([1, 1, 3, 1]) == [True, True, False, True]
    # overlap is not transitive: A [0, 2] and C [3, 5] are apart, B [1, 4] touches both
    assert rank_with_ties([1, 2.5, 4], [0, 1, 3], [2, 4, 5]) == [2, 1, 1]
    # disjoint CIs: a strict order; a missing value has no rank; a value without a CI is a point
    assert rank_with_ties([10, 20, 30], [9, 19, 29], [11, 21, 31]) == [3, 2, 1]
    assert rank_with_ties([10, None, float("nan"), 12], [9, None, None, None], [11, None, None, None]) == [2, None, None, 1]
    assert rank_with_ties([1.0, 1.0]) == [1, 1] and tied([1, 1, None, None]) == [True, True, False, False]


N = 40  # hand-made test examples, labels 0/1 alternating


def _stage(tmp_path, name, robust_first: int, kt: float, kt_first: float | None = None) -> dict:
    """A fake cell's attack and interpret directories: the first `robust_first` examples resist the
    attack; every pair has KT `kt` (the first ten `kt_first`) and TI 0.6."""
    adir, idir = tmp_path / name / "attack", tmp_path / name / "interpret"
    adir.mkdir(parents=True)
    idir.mkdir(parents=True)
    recs = [{"idx": i, "label": i % 2, "status": "failed" if i < robust_first else "succeeded"} for i in range(N)]
    pairs = [{"idx": i, "label": i % 2, "status": r["status"],
              "ig": {"kendall_tau": kt_first if kt_first is not None and i < 10 else kt, "topk": [0.2, 0.3, 0.4, 0.5, 0.6]}}
             for i, r in enumerate(recs)]
    (adir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (idir / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return {"attack_dir": str(adir), "interpret_dir": str(idir), **aa_stats(recs), **consistency_stats(pairs, n_boot=200)}


@pytest.fixture()
def rows(tmp_path):
    common = {"model": "lstm", "dataset": "trec", "attack": "textfooler", "seed": 13, "variant": "", "clean_n": 500}
    spec = {  # method: (robust examples, KT, KT of the first ten, clean acc)
        "base": (10, 0.2, None, 88.0), "safer": (30, 0.2, None, 80.0), "pgd": (11, 0.2, 0.9, 89.0),
        "flat": (9, 0.2, None, 90.0)}
    out = []
    for m, (rob, kt, first, clean) in spec.items():
        r = {**common, "method": m, "train_attack": "textfooler" if m == "flat" else "", "cell": f"lstm-trec-{m}-s13",
             "clean_acc": clean, **_stage(tmp_path, m, rob, kt, first)}
        if m == "safer":
            r["certified_acc"] = 25.0
        out.append(r)
    df = ensure_columns(pd.DataFrame(out))
    return add_paired_tests(df, row_data(df), n_perm=2000)


def test_leaderboard_rows_from_hand_made_records(rows):
    lb = leaderboard(rows, n_boot=500).set_index("defence")
    assert list(lb.index) == ["base", "flat", "safer", "pgd"]  # the registry's order
    # SAFER: 30 of 40 resist vs base's 10, all 20 discordant examples its way
    s = lb.loc["safer"]
    assert s["AA"] == pytest.approx(75.0) and s["dAA"] == pytest.approx(50.0) and s["dAA_n"] == N
    assert s["dAA_lo"] > 0 and s["dAA_p"] < 1e-4 and s["dAA_sig"] == "+"
    assert s["dKT"] == pytest.approx(0.0) and s["dKT_sig"] == ""  # same KT everywhere: no effect
    assert s["certified_acc"] == pytest.approx(25.0) and s["certified_lo"] < 25 < s["certified_hi"]
    # PGD: one more robust example (not significant) but KT 0.9 on ten pairs: ΔKT = 10/40 * 0.7 per class
    p = lb.loc["pgd"]
    assert p["dAA"] == pytest.approx(2.5) and p["dAA_sig"] == "" and p["dAA_p"] > 0.05
    assert p["dKT"] == pytest.approx(0.175) and p["dKT_sig"] == "+" and p["dKT_lo"] > 0
    # FLAT one fewer robust example: a negative, non-significant Δ; base has no Δ
    assert lb.loc["flat", "dAA"] == pytest.approx(-2.5) and lb.loc["flat", "dAA_sig"] == ""
    assert math.isnan(lb.loc["base", "dAA"]) and math.isnan(lb.loc["base", "certified_acc"])
    # AA ranks: SAFER's CI [58.8, 87.3] lies above the others' (≤ 43.9): 1; the rest overlap: =2
    assert lb.loc["safer", "AA_rank"] == 1 and not lb.loc["safer", "AA_tied"]
    assert [lb.loc[m, "AA_rank"] for m in ("base", "flat", "pgd")] == [2, 2, 2]
    assert all(lb.loc[m, "AA_tied"] for m in ("base", "flat", "pgd"))


def test_defences_table_and_summary_from_the_rows(rows):
    from flatbench.report.defences import defences_section, defences_table, summary_table
    from flatbench.report.formats import render
    from flatbench.report.document import Document

    lb = leaderboard(rows, n_boot=500)
    t = defences_table(lb)
    keys = [c.key for c in t.columns]
    assert "certified_acc" in keys and keys.index("certified_acc") == keys.index("AA") + 1
    by = {r.key["defence"]: r for r in t.rows}
    assert by["safer"].get("dAA").display().startswith("+50.00*") and by["safer"].get("dAA").p["base"] < 1e-4
    assert by["safer"].get("AA_rank").display() == "1" and by["pgd"].get("AA_rank").display() == "=2"
    assert by["pgd"].get("dAA").marks == "" and by["pgd"].get("dKT").marks == "*"
    assert by["base"].get("dAA").display() == "–" and by["safer"].get("certified_acc").display().startswith("25.0 [")
    assert by["flat"].get("defence").display() == "FLAT" and by["flat"].key["train_attack"] == "textfooler"
    rec = {r["defence"]: r for r in t.records()}
    assert rec["safer"]["dAA_p_base"] < 1e-4 and rec["safer"]["AA"] == pytest.approx(75.0)
    s = {r.key["defence"]: r for r in summary_table(lb).rows}
    assert "base" not in s and s["safer"].get("AA_vs_base").display() == "1 / 0 of 1"
    assert s["pgd"].get("KT_vs_base").display() == "1 / 0 of 1" and s["pgd"].get("AA_vs_base").display() == "0 / 0 of 1"
    # through the report layer: the section renders (Markdown: tables; HTML: plus the scatter plot)
    doc = Document("t", [defences_section(lb)])
    md, page = render(doc, "markdown"), render(doc, "html")
    assert "+50.00*" in md and "=2" in md and "data:image/png;base64," in page
    assert "data:image/png" not in md
    # without a base row there is no Δ, and no plot
    no_base = leaderboard(rows[rows["method"] != "base"].reset_index(drop=True), n_boot=200)
    assert no_base["dAA"].isna().all() and defences_section(no_base).blocks[-1].__class__.__name__ == "Para"


def test_grid_report_has_the_defences_section_only_when_the_grid_asks(rows):
    from types import SimpleNamespace

    from flatbench.report.documents import ReportInput, grid_document

    for measure in ({"defences": True}, {}):
        grid = SimpleNamespace(name="g", description="d", paper_table="table3", measure=measure)
        doc = grid_document(ReportInput(grid, rows, [], {"done": 1, "total": 1}))
        ids = [s.id for s in doc.sections]
        assert ("defences" in ids) == bool(measure)
        if measure:
            assert ids.index("defences") == ids.index("main") + 1
