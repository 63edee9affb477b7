"""LaTeX tables in the paper's layouts (flatbench.report.latex)."""

import re
import shutil
import subprocess

import pandas as pd
import pytest

from flatbench.report import latex, paper

NAN = float("nan")


def _row(model, dataset, method, attack, aa, kt, ti, *, train_attack=None, ci=(2.0, 0.04, 0.06), p=None,
         clean=85.0):
    """One aggregated result row; ci = CI half-widths of AA, KT, TI; p = {metric: (p_adv, p_base)}."""
    r = {"model": model, "dataset": dataset, "method": method,
         "train_attack": ("" if method == "base" else attack) if train_attack is None else train_attack,
         "attack": attack, "clean_acc": clean, "clean_lo": clean - 0.5, "clean_hi": clean + 0.5}
    for m, v, h in zip(("AA", "KT", "TI"), (aa, kt, ti), ci):
        r[m], r[f"{m}_lo"], r[f"{m}_hi"] = v, v - h, v + h
        pa, pb = (p or {}).get(m, (NAN, NAN))
        r[f"{m}_p_adv"], r[f"{m}_p_base"] = pa, pb
    return r


@pytest.fixture
def results():
    """Textfooler: LSTM and CNN x base/adv/FLAT on SST2 and TREC. PWWS: LSTM base and FLAT on SST2
    only (no CNN, no adv, no TREC). Plus rows Table 3 must leave out."""
    rows = [
        _row("lstm", "sst2", "base", "textfooler", 5.1, NAN, 0.66),
        _row("lstm", "sst2", "adv", "textfooler", 12.4, 0.49, 0.68),
        _row("lstm", "sst2", "flat", "textfooler", 17.8, 0.58, 0.75,
             p={"AA": (0.01, 0.001), "KT": (0.2, 0.03), "TI": (0.07, 0.5)}),
        _row("lstm", "trec", "base", "textfooler", 44.4, 0.62, 0.80),
        _row("lstm", "trec", "adv", "textfooler", 51.2, 0.51, 0.87),
        _row("lstm", "trec", "flat", "textfooler", 55.2, 0.68, 0.87,  # TI ties adv (0.87): both bold
             p={"AA": (0.04, 0.04), "KT": (NAN, NAN), "TI": (0.6, 0.6)}),
        _row("cnn", "sst2", "base", "textfooler", 2.0, 0.46, 0.69),
        _row("cnn", "sst2", "adv", "textfooler", 2.5, 0.52, 0.72, p={"AA": (0.001, 0.001)}),  # not FLAT: no mark
        _row("cnn", "sst2", "flat", "textfooler", 37.1, 0.70, 0.82, p={"AA": (0.5, 0.01)}),
        _row("cnn", "trec", "base", "textfooler", 45.2, 0.68, 0.91),
        _row("cnn", "trec", "adv", "textfooler", 52.6, 0.71, 0.92),
        _row("cnn", "trec", "flat", "textfooler", NAN, 0.87, 0.96),  # AA not measured
        _row("lstm", "sst2", "base", "pwws", 11.6, -0.05, 0.71, ci=(0.8, 0.004, 0.02)),
        _row("lstm", "sst2", "flat", "pwws", 19.7, 0.60, 0.75, p={"TI": (0.049, 0.051)}),
        # left out of Table 3: a PWWS-trained model attacked by Textfooler, and a clean-only row
        _row("lstm", "sst2", "adv", "textfooler", 99.0, 0.99, 0.99, train_attack="pwws"),
        {"model": "lstm", "dataset": "sst2", "method": "base", "train_attack": "", "attack": NAN,
         "clean_acc": 84.4, "clean_lo": 83.9, "clean_hi": 84.9},
    ]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# a small reader of the generated tabular, independent of the writer


def _unpad(text):
    """Drops the invisible superscripts that keep marked columns aligned."""
    return re.sub(r"\$\^\{\}\$", "", re.sub(r"\\phantom\{(?:\\dagger)+\}", "", text))


def _tabular(tex, raw=False):
    """The tabular, without the invisible alignment superscripts unless raw."""
    text = tex[tex.index("\\begin{tabular}"):tex.index("\\end{tabular}")]
    return text if raw else _unpad(text)


def _data_lines(tex, raw=False):
    """The data rows: the lines ending in \\\\ after the header's \\midrule."""
    lines = _tabular(tex, raw).splitlines()
    start = lines.index("\\midrule") + 1
    return [ln for ln in lines[start:] if ln.rstrip().endswith("\\\\")]


def _grid(tex, n_labels):
    """[(labels, cells)] for our rows (paper lines dropped); multirow labels carried down."""
    out, carry = [], [""] * n_labels
    for ln in _data_lines(tex):
        cells = [c.strip() for c in ln.rstrip()[:-2].split(" & ")]
        if "\\textit{paper}" in cells[n_labels - 1]:
            continue
        for i in range(n_labels):
            if cells[i]:
                carry[i] = re.sub(r"\\multirow\{\d+\}\{\*\}\{(.*)\}", r"\1", cells[i])
                carry[i + 1:] = [""] * (n_labels - i - 1) if i < n_labels - 1 else []
                carry = (carry + [""] * n_labels)[:n_labels]
        out.append((tuple(carry), cells[n_labels:]))
    return out


def _value(cell):
    m = re.match(r"(?:\\textbf\{)?(\$-\$)?([0-9.]+)", cell)
    return None if m is None else (-1 if m.group(1) else 1) * float(m.group(2))


def _assert_ascii(tex):
    tex.encode("ascii")
    assert not re.search(r"[^\x00-\x7f]", tex)


def _assert_booktabs(tex):
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert tex.count(rule) >= 1, rule
    assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule")


# ---------------------------------------------------------------------------------------------
# Table 3


def test_table3_structure_rows_and_headers(results):
    tex = latex.table3_latex(results, caption="Robustness: AA_x 5% & #1 $, β–γ", label="tab:t3_ours")
    _assert_ascii(tex)
    _assert_booktabs(tex)
    assert tex.startswith("\\begin{table*}") and tex.rstrip().endswith("\\end{table*}")
    assert "\\caption{Robustness: AA\\_x 5\\% \\& \\#1 \\$, $\\beta$--$\\gamma$}" in tex
    assert "\\label{tab:t3_ours}" in tex
    # the paper's layout: dataset groups of AA/KT/TI, cmidrules under each group header
    assert "\\multicolumn{3}{c}{SST2} & \\multicolumn{3}{c}{TREC}" in tex
    assert "\\cmidrule(lr){4-6} \\cmidrule(lr){7-9}" in tex
    assert tex.count("\\multicolumn{1}{c}{AA}") == 2 and "{@{}lllrrrrrr@{}}" in tex
    grid = _grid(tex, 3)
    assert [lab for lab, _ in grid] == [
        ("Textfooler", "LSTM", "base"), ("Textfooler", "LSTM", "adv"), ("Textfooler", "LSTM", "FLAT"),
        ("Textfooler", "CNN", "base"), ("Textfooler", "CNN", "adv"), ("Textfooler", "CNN", "FLAT"),
        ("PWWS", "LSTM", "base"), ("PWWS", "LSTM", "FLAT")]
    assert all(len(cells) == 6 for _, cells in grid)
    assert "99.00" not in tex  # the PWWS-trained model attacked by Textfooler is not a Table 3 cell
    assert "\\multirow{6}{*}{Textfooler}" in tex and "\\multirow{3}{*}{LSTM}" in tex
    # missing values: KT of LSTM-base, AA of CNN-FLAT on TREC, all of TREC under PWWS
    cells = dict(grid)
    assert cells[("Textfooler", "LSTM", "base")][1] == "--"
    assert cells[("Textfooler", "CNN", "FLAT")][3] == "--"
    assert cells[("PWWS", "LSTM", "base")][3:] == ["--"] * 3
    assert "--: not measured" in tex


def test_table3_values_with_ci_half_width(results):
    cells = dict(_grid(latex.table3_latex(results, caption="c", label="l"), 3))
    assert cells[("Textfooler", "LSTM", "adv")][:3] == ["12.40$\\pm$2.0", "0.49$\\pm$0.04", "0.68$\\pm$0.06"]
    # h < 1 gets two decimals; negative numbers get a math minus
    base = cells[("PWWS", "LSTM", "base")]
    assert base[0] == "11.60$\\pm$0.80" and base[1].startswith("$-$0.05$\\pm$0.00")


def test_table3_bold_exactly_on_the_best_per_model_and_column(results):
    tex = latex.table3_latex(results, caption="c", label="l")
    grid = _grid(tex, 3)
    # the expected bold cells, from the numbers as printed
    expected, groups = set(), {}
    for (attack, model, method), cells in grid:
        for j, c in enumerate(cells):
            v = _value(c)
            if v is not None:
                groups.setdefault((attack, model, j), {})[method] = v
    for (attack, model, j), vals in groups.items():
        if len(vals) >= 2:
            best = max(vals.values())
            expected |= {(attack, model, m, j) for m, v in vals.items() if v == best}
    got = {(a, m, me, j) for (a, m, me), cells in grid for j, c in enumerate(cells) if "\\textbf" in c}
    assert got == expected
    assert ("Textfooler", "LSTM", "adv", 5) in got and ("Textfooler", "LSTM", "FLAT", 5) in got  # a tie
    assert ("Textfooler", "LSTM", "base", 1) not in got  # NaN never bold
    assert _tabular(tex).count("\\textbf") == len(expected)
    assert "\\textbf{17.80}$\\pm$2.0" in tex  # only the number is bold


def test_table3_significance_marks_exactly_where_p_below_005(results):
    tex = latex.table3_latex(results, caption="c", label="l")
    cells = dict(_grid(tex, 3))
    marks = {}
    for lab, row in cells.items():
        for j, c in enumerate(row):
            m = re.search(r"\$\^\{(\\dagger)?(\\ddagger)?\}\$$", c)
            if m:
                marks[lab + (j,)] = (bool(m.group(1)), bool(m.group(2)))
    assert marks == {
        ("Textfooler", "LSTM", "FLAT", 0): (True, True),
        ("Textfooler", "LSTM", "FLAT", 1): (False, True),
        ("Textfooler", "LSTM", "FLAT", 3): (True, True),
        ("Textfooler", "CNN", "FLAT", 0): (False, True),
        ("PWWS", "LSTM", "FLAT", 2): (True, False),
        ("Textfooler", "CNN", "adv", 0): (False, True),  # adv rows are tested against base too
    }
    body = _tabular(tex)
    assert body.count("\\dagger") == 3 and body.count("\\ddagger") == 5
    assert ("$^{\\dagger}$: FLAT differs significantly from adv; $^{\\ddagger}$: FLAT, adv or another "
            "defence differs significantly from base ($p<0.05$)") in tex


def test_table3_marked_columns_stay_aligned(results):
    """Every cell of a column holding marks ends in a superscript as wide as the column's widest
    mark, so right-aligned numbers line up; columns without marks are left alone."""
    tex = latex.table3_latex(results, caption="c", label="l", paper=paper.table3())
    rows = [ln[:-3].rstrip().split(" & ") for ln in _data_lines(tex, raw=True)]
    for j in range(3, 9):
        col = [r[j] for r in rows]
        widths = set()
        for c in col:
            m = re.search(r"\$\^\{((?:\\d?dagger|\\phantom\{|\})*)\}\$$", c)
            widths.add(0 if m is None else m.group(1).count("dagger"))
        assert len(widths) == 1, (j, col)
    assert all(len(r) == 9 for r in rows)
    # SST2 AA holds a double mark: LSTM-base gets an invisible one two marks wide
    assert rows[0][3].endswith("$^{\\phantom{\\dagger\\dagger}}$")
    assert "\\textbf{17.80}$\\pm$2.0$^{\\dagger\\ddagger}$" in tex


def test_table3_paper_lines_under_our_rows(results):
    tex = latex.table3_latex(results, caption="c", label="l", paper=paper.table3())
    _assert_ascii(tex)
    lines = _data_lines(tex)
    paper_lines = [ln for ln in lines if "\\textit{paper}" in ln]
    assert len(lines) == 16 and len(paper_lines) == 8
    # the paper's LSTM-base Textfooler SST2 and TREC numbers, right under our LSTM-base row
    i = next(i for i, ln in enumerate(lines) if "{LSTM} & base" in ln)
    assert "{\\scriptsize\\textit{5.05}} & {\\scriptsize\\textit{0.46}} & {\\scriptsize\\textit{0.68}} & " \
           "{\\scriptsize\\textit{44.40}}" in lines[i + 1]
    assert "\\multirow{12}{*}{Textfooler}" in tex and "\\multirow{6}{*}{LSTM}" in tex
    assert "\\textit{Italic} lines: the paper's numbers." in tex
    assert _tabular(tex).count("\\textbf") == _tabular(latex.table3_latex(results, caption="c", label="l")).count(
        "\\textbf")  # the paper's numbers are never bold


def test_table3_attacks_as_column_groups(results):
    tex = latex.table3_latex(results, caption="c", label="l", attacks_as="columns")
    _assert_ascii(tex)
    assert "\\multicolumn{6}{c}{Textfooler} & \\multicolumn{3}{c}{PWWS}" in tex  # PWWS has no TREC
    assert "\\multicolumn{3}{c}{SST2} & \\multicolumn{3}{c}{TREC} & \\multicolumn{3}{c}{SST2}" in tex
    assert "\\cmidrule(lr){3-8} \\cmidrule(lr){9-11}" in tex
    grid = _grid(tex, 2)
    assert [lab for lab, _ in grid] == [("LSTM", "base"), ("LSTM", "adv"), ("LSTM", "FLAT"),
                                        ("CNN", "base"), ("CNN", "adv"), ("CNN", "FLAT")]
    cells = dict(grid)
    assert cells[("LSTM", "adv")][6:] == ["--"] * 3 and cells[("CNN", "base")][6:] == ["--"] * 3
    assert cells[("LSTM", "FLAT")][6] == "\\textbf{19.70}$\\pm$2.0"


def test_table3_rejects_input_without_table3_rows(results):
    with pytest.raises(ValueError):
        latex.table3_latex(results[results["attack"].isna()], caption="c", label="l")
    with pytest.raises(ValueError):
        latex.table3_latex(results, caption="c", label="l", attacks_as="diagonal")


# ---------------------------------------------------------------------------------------------
# Table 2


def test_table2_clean_accuracy_rows_and_paper_values():
    rows = []
    for model in ("lstm", "bert"):
        for method, ta in (("base", ""), ("adv", "textfooler"), ("flat", "textfooler"), ("flat", "pwws")):
            for ds, acc in (("sst2", 84.0), ("trec", 90.0)):
                if model == "bert" and method == "adv":
                    continue
                rows.append({"model": model, "dataset": ds, "method": method, "train_attack": ta,
                             "attack": NAN, "clean_acc": acc, "clean_lo": acc - 0.3, "clean_hi": acc + 0.3})
    df = pd.DataFrame(rows)
    df.loc[0, ["clean_lo", "clean_hi"]] = NAN  # no CI: value alone
    df.loc[1, "clean_acc"] = NAN
    tex = latex.table2_latex(df, caption="Clean accuracy (%)", label="tab:t2", paper=paper.table2())
    _assert_ascii(tex)
    _assert_booktabs(tex)
    assert "\\caption{Clean accuracy (\\%)}" in tex and "\\label{tab:t2}" in tex
    grid = _grid(tex, 2)
    assert [lab for lab, _ in grid] == [
        ("LSTM", "base"), ("LSTM", "adv (Textfooler)"), ("LSTM", "FLAT (Textfooler)"), ("LSTM", "FLAT (PWWS)"),
        ("BERT", "base"), ("BERT", "FLAT (Textfooler)"), ("BERT", "FLAT (PWWS)")]
    assert grid[0][1] == ["84.00", "--"] and grid[1][1] == ["84.00$\\pm$0.30", "90.00$\\pm$0.30"]
    lines = _data_lines(tex)
    assert len(lines) == 14  # every row has the paper's line
    assert "{\\scriptsize\\textit{84.40}} & {\\scriptsize\\textit{90.80}}" in lines[1]  # LSTM-base SST2, TREC
    assert "\\textbf" not in tex  # no bold by default
    # the paper's wide CSV gives the same lines
    wide = paper._csv("table2_clean_accuracy.csv")
    assert latex.table2_latex(df, caption="Clean accuracy (%)", label="tab:t2", paper=wide) == tex
    bold = latex.table2_latex(df, caption="c", label="l", bold=True)
    assert "\\textbf" in bold and "Bold:" in bold


# ---------------------------------------------------------------------------------------------
# Table 4


@pytest.fixture
def transfer():
    rows = []
    for model in ("lstm", "deberta"):
        for method in ("base", "adv", "flat"):
            for i, attack in enumerate(("pwws", "gene", "iga", "clare", "bae")):
                aa = {"base": 10.0, "adv": 15.0, "flat": 20.0}[method] + i
                r = {"model": model, "dataset": "sst2", "method": method,
                     "train_attack": "" if method == "base" else "textfooler", "attack": attack,
                     "AA": aa, "AA_lo": aa - 1.5, "AA_hi": aa + 1.5}
                if attack == "bae":
                    r.update(AA="online only: needs masked LM", AA_lo=NAN, AA_hi=NAN)
                if attack == "clare" and model == "deberta":
                    r.update(AA="budget: 5% of pairs & 1 seed", AA_lo=NAN, AA_hi=NAN)
                if method == "flat" and attack == "gene":
                    r.update(AA_p_adv=0.01, AA_p_base=0.2)
                rows.append(r)
    df = pd.DataFrame(rows)
    df.loc[(df.model == "lstm") & (df.method == "adv") & (df.attack == "iga"), "AA"] = 24.0  # adv best here
    return df


def test_table4_columns_na_reasons_bold_and_marks(transfer):
    tex = latex.table4_latex(transfer, caption="Transfer to unforeseen attacks", label="tab:t4",
                             paper=paper._csv("table4_transfer_sst2.csv"))
    _assert_ascii(tex)
    _assert_booktabs(tex)
    assert "\\label{tab:t4}" in tex and "\\caption{Transfer to unforeseen attacks}" in tex
    assert "Model & Method & \\multicolumn{1}{c}{PWWS} & \\multicolumn{1}{c}{Gene} & \\multicolumn{1}{c}{IGA}" \
           " & \\multicolumn{1}{c}{Clare} & \\multicolumn{1}{c}{BAE} \\\\" in tex
    grid = _grid(tex, 2)
    assert [lab for lab, _ in grid] == [(m, me) for m in ("LSTM", "DeBERTa") for me in ("base", "adv", "FLAT")]
    cells = dict(grid)
    assert cells[("LSTM", "base")] == ["10.00$\\pm$1.5", "11.00$\\pm$1.5", "12.00$\\pm$1.5", "13.00$\\pm$1.5",
                                       "\\emph{n/a}$^{*}$"]
    assert cells[("DeBERTa", "FLAT")][3:] == ["\\emph{n/a}$^{\\S}$", "\\emph{n/a}$^{*}$"]
    assert "$^{*}$n/a: online only: needs masked LM." in tex
    assert "$^{\\S}$n/a: budget: 5\\% of pairs \\& 1 seed." in tex
    bold = {(lab, j) for lab, row in grid for j, c in enumerate(row) if "\\textbf" in c}
    assert bold == {(("LSTM", "FLAT"), 0), (("LSTM", "FLAT"), 1), (("LSTM", "adv"), 2), (("LSTM", "FLAT"), 3),
                    (("DeBERTa", "FLAT"), 0), (("DeBERTa", "FLAT"), 1), (("DeBERTa", "FLAT"), 2)}
    assert cells[("LSTM", "FLAT")][1] == "\\textbf{21.00}$\\pm$1.5$^{\\dagger}$"
    assert _tabular(tex).count("\\dagger") == 2 and "\\ddagger" not in _tabular(tex)
    # paper lines: the BAE cells the paper leaves empty are '--'; LSTM-FLAT BAE is 39.87
    lines = _data_lines(tex)
    assert len(lines) == 12
    i = next(i for i, ln in enumerate(lines) if ln.split(" & ")[1] == "FLAT")
    assert lines[i + 1].split(" & ")[2:] == ["{\\scriptsize\\textit{20.48}}", "{\\scriptsize\\textit{33.44}}",
                                           "{\\scriptsize\\textit{24.22}}", "{\\scriptsize\\textit{5.55}}",
                                           "{\\scriptsize\\textit{39.87}} \\\\"]
    assert "{\\scriptsize --}" in tex and "-- on a paper line: no number in the paper." in tex
    # the long form of the paper's table gives the same table
    assert latex.table4_latex(transfer, caption="Transfer to unforeseen attacks", label="tab:t4",
                              paper=paper.table4()) == tex


def test_table4_paper_lines_only_for_the_papers_training_attack(transfer):
    df = transfer.copy()
    df.loc[df.method != "base", "train_attack"] = "pwws"
    tex = latex.table4_latex(df, caption="c", label="l", paper=paper.table4())
    assert len([ln for ln in _data_lines(tex) if "\\textit{paper}" in ln]) == 2  # base rows only


# ---------------------------------------------------------------------------------------------
# Table 5


def test_table5_ablation_ours_beside_paper():
    df = pd.DataFrame([
        {"beta": 0.0, "gamma": 0.0, "clean_acc": 84.1, "clean_lo": 83.6, "clean_hi": 84.6, "AA": 8.0,
         "AA_lo": 6.0, "AA_hi": 10.0},
        {"beta": 0.1, "gamma": 0.001, "clean_acc": 84.9, "clean_lo": 84.4, "clean_hi": 85.4, "AA": 17.0,
         "AA_lo": 15.0, "AA_hi": 19.0},
        {"beta": 0.1, "gamma": 0.0, "clean_acc": 84.9, "clean_lo": NAN, "clean_hi": NAN, "AA": NAN},
        {"beta": 0.0, "gamma": 0.001, "clean_acc": 84.3, "clean_lo": 84.0, "clean_hi": 84.6, "AA": 9.1,
         "AA_lo": 8.0, "AA_hi": 10.2},
    ])
    tex = latex.table5_latex(df, caption="Effects of β and γ", label="tab:t5", paper=paper.table5())
    _assert_ascii(tex)
    _assert_booktabs(tex)
    assert "\\caption{Effects of $\\beta$ and $\\gamma$}" in tex and "\\label{tab:t5}" in tex
    assert "\\multicolumn{2}{c}{SA (\\%)} & \\multicolumn{2}{c}{AA (\\%)}" in tex
    assert "$\\beta$ & $\\gamma$ &" in tex
    lines = _data_lines(tex)
    assert lines == [
        "$0.1$ & $0.001$ & \\textbf{84.90}$\\pm$0.50 & \\textit{84.79} & \\textbf{17.00}$\\pm$2.0 & \\textit{17.76} \\\\",
        "$0.1$ & $0$ & \\textbf{84.90} & \\textit{83.96} & -- & \\textit{9.99} \\\\",
        "$0$ & $0.001$ & 84.30$\\pm$0.30 & \\textit{84.34} & 9.10$\\pm$1.1 & \\textit{8.18} \\\\",
        "$0$ & $0$ & 84.10$\\pm$0.50 & \\textit{84.40} & 8.00$\\pm$2.0 & \\textit{8.35} \\\\"]
    ours_only = latex.table5_latex(df, caption="c", label="l")
    assert "Paper" not in ours_only and len(_data_lines(ours_only)) == 4


# ---------------------------------------------------------------------------------------------
# text


def test_escape_free_text_and_non_ascii():
    assert latex.escape("a_b 5% & #2 $x$ ~^\\") == \
        "a\\_b 5\\% \\& \\#2 \\$x\\$ \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
    assert latex.escape("β=0.1, γ→0, Δ±1, 1–2, naïve") == \
        "$\\beta$=0.1, $\\gamma$$\\rightarrow$0, $\\Delta$$\\pm$1, 1--2, naive"
    assert latex.escape(latex.Raw("$k=5$ β")) == "$k=5$ $\\beta$"
    # the ledger's and Table 5's symbols (φ was a '?' in table5_cpu.tex's header)
    assert latex.escape("φ(w′) · 6.08†") == "$\\phi$(w$^{\\prime}$) $\\cdot$ 6.08\\textdagger{}"
    for s in ("日本", "\u2603"):
        latex.escape(s).encode("ascii")


def test_standalone_document_wraps_tables(results):
    doc = latex.standalone_document(latex.table3_latex(results, caption="c", label="l"))
    assert doc.startswith("\\documentclass{article}\n\\usepackage{booktabs,multirow,graphicx}\n\\begin{document}\n")
    assert doc.rstrip().endswith("\\end{document}")
    _assert_ascii(doc)


# ---------------------------------------------------------------------------------------------
# compile


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex not installed (apt-get install texlive-latex-base "
                           "texlive-latex-recommended texlive-latex-extra)")
def test_all_tables_compile_with_pdflatex(results, transfer, tmp_path):
    t5 = pd.DataFrame([{"beta": 0.1, "gamma": 0.001, "clean_acc": 84.9, "clean_lo": 84.4, "clean_hi": 85.4,
                        "AA": 17.0, "AA_lo": 15.0, "AA_hi": 19.0}])
    tables = [
        latex.table3_latex(results, caption="Robustness: AA_x 5% & #1 $, β–γ", label="tab:t3_ours",
                           paper=paper.table3()),
        latex.table3_latex(results, caption="Attack groups as columns", label="tab:t3b", attacks_as="columns",
                           note="Seeds: 3 per cell; IG with 50 steps & k=5."),
        latex.table2_latex(results, caption="Clean accuracy (%)", label="tab:t2", paper=paper.table2(), bold=True),
        latex.table4_latex(transfer, caption="Transfer (SST2)", label="tab:t4", paper=paper.table4()),
        latex.table5_latex(t5, caption="Ablation of β and γ", label="tab:t5", paper=paper.table5()),
    ]
    (tmp_path / "doc.tex").write_text(latex.standalone_document(*tables), encoding="ascii")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Missing character" not in log and "Undefined control sequence" not in log


def test_labels_keep_only_safe_characters(results):
    tex = latex.table3_latex(results, caption="c", label="tab:t3_β x{1}")
    assert "\\label{tab:t3_--x-1-}" in tex
