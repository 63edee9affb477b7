import pandas as pd

from flatbench.cells import load_grid
from flatbench.report import paper
from flatbench.report.builders import clean_table, robustness_table
from flatbench.report.documents import ReportInput, grid_document
from flatbench.report.formats import render, render_table


def report(grid, df, devs, progress, fmt="markdown"):
    return render(grid_document(ReportInput(grid, df, devs, progress)), fmt)


def test_paper_tables_load_with_the_numbers_of_the_pdf():
    t2 = paper.table2().set_index(["model", "method", "train_attack", "dataset"])["acc"]
    assert t2[("lstm", "base", "", "sst2")] == 84.40 and t2[("cnn", "base", "", "trec")] == 91.20
    t3 = paper.table3().set_index(["attack", "model", "method", "dataset"])
    assert t3.loc[("textfooler", "lstm", "base", "sst2"), "AA"] == 5.05
    assert len(paper.table4()) == 72 and len(paper.table5()) == 4


def test_clean_table_puts_ours_beside_the_paper():
    df = pd.DataFrame([{"model": "lstm", "dataset": "sst2", "method": "base", "train_attack": "", "clean_acc": 80.0},
                       {"model": "cnn", "dataset": "trec", "method": "flat", "train_attack": "pwws", "clean_acc": 90.2}])
    t = clean_table(df)
    assert t.frame().to_dict("records") == [
        {"Model": "LSTM", "Method": "base", "Dataset": "SST2", "Paper": "84.40", "Ours": "80.00", "Δ": "-4.40"},
        {"Model": "CNN", "Method": "FLAT (PWWS)", "Dataset": "TREC", "Paper": "89.20", "Ours": "90.20", "Δ": "+1.00"}]
    md = render_table(t, "markdown")
    assert md.splitlines()[0].startswith("| Model") and "| -4.40 |" in md
    assert "\\begin{tabular}" in render_table(t, "latex")


def test_robustness_table_matches_cells_to_paper_rows():
    df = pd.DataFrame([{"model": "lstm", "dataset": "sst2", "method": "base", "train_attack": "", "clean_acc": 80.0,
                        "attack": "textfooler", "AA": 6.05, "KT": 0.5, "TI": 0.7}])
    row = robustness_table(df).frame().iloc[0]
    assert (row["AA paper"], row["AA ours"], row["ΔAA"], row["KT paper"], row["TI ours"]) == \
        ("5.05", "6.05", "+1.00", "0.46", "0.70")


def test_minilm_rows_show_the_papers_bert_numbers_labelled():
    df = pd.DataFrame([{"model": "minilm", "dataset": "sst2", "method": "base", "train_attack": "",
                        "clean_acc": 82.76, "attack": "pwws", "AA": 5.0, "KT": 0.51, "TI": 0.67}])
    row = robustness_table(df).frame().iloc[0]
    assert (row["Model"], row["AA paper"], row["KT paper"]) == ("MiniLM", "11.70", "0.37")  # BERT-base row
    text = report(load_grid("table3_minilm"), df, [], {"done": 1, "total": 1})
    assert "MiniLM rows show the paper's BERT numbers, for orientation only" in text


def test_report_lists_deviations_and_missing_results():
    g = load_grid("smoke")
    df = pd.DataFrame([{"model": "cnn", "dataset": "trec", "method": "base", "train_attack": "", "clean_acc": None}])
    text = report(g, df, ["word vectors: GloVe"], {"done": 0, "total": 2})
    assert "| –      |" in text or "–" in text
    assert "0/2 stages complete." in text and "- word vectors: GloVe" in text
