"""Fig. 4 / Table 9 from the cached correlate stages (flatbench.analysis.stage): the correlation of
FLAT's global word importance φ with word frequency and substitution frequency, as format-neutral
tables and a report document."""

from __future__ import annotations

from flatbench.report.document import Document, Para, PaperTable, Section, TableBlock
from flatbench.report.table import Cell, Column, Row, Table

# (x, y) of Fig. 4 (a), (b), (c)
FIG4 = {("freq", "replaced"): "Fig. 4a", ("freq", "phi"): "Fig. 4b", ("replaced", "phi"): "Fig. 4c"}
LABELS = {"freq": "word frequency", "replaced": "substitution frequency (times replaced)",
          "substituted": "times used as a substitute", "phi": "global importance φ"}
NOTE = ("Pearson on the raw counts (as Fig. 4 plots them) and on log(count) / log(1 + count); Spearman on ranks. "
        "95 % CIs by Fisher's z (Spearman: Bonett–Wright standard error). Words: the training split's words in the "
        "model's vocabulary; word frequency = occurrences in the training split; substitution frequency = times a "
        "word was replaced in the successful adversarial examples of the model's training-set attacks (the "
        "rounds' D'); \"times used as a substitute\" is the secondary reading. Paper: Table 9 (Appendix D) is not "
        "available (shared/paper/README.md: the source has no appendix), so no paper number is shown. The paper's "
        "claim (main text): any two of the three \"do not have strong correlations\".")
SUMMARY_NOTE = ("Pearson and Spearman correlation of FLAT's global word importance φ with the log training-set "
                "frequency of a word and with log(1 + times the word was used as a substitute by the successful "
                "training attacks of all rounds), as `flatbench correlate`; the paper reports no numbers to "
                "compare with.")


def _r(c: dict, key: str) -> Cell:
    """A correlation with its CI, shown "+0.123 [-0.100, +0.300]" ("–" when undefined)."""
    cell = Cell(c.get(key), lo=c.get(f"{key}_lo"), hi=c.get(f"{key}_hi"), digits=3, signed=True,
                p={"zero": c[f"{key}_p"]} if c.get(f"{key}_p") is not None else {})
    if cell.measured:
        cell.text = f"{c[key]:+.3f} [{c[key + '_lo']:+.3f}, {c[key + '_hi']:+.3f}]"
    return cell


def correlation_table(res: dict) -> Table:
    """One row per pair of quantities: Pearson (raw and log) and Spearman, each with its 95 % CI."""
    cols = [Column("figure", "Figure"), Column("y_label", "y"), Column("x_label", "x"), Column("n"),
            Column("pearson", "Pearson [95% CI]"), Column("pearson_log", "Pearson log [95% CI]"),
            Column("spearman", "Spearman [95% CI]"), Column("paper", "Paper (Table 9)")]
    rows = []
    for c in res["correlations"]:
        cells = {"figure": Cell(FIG4.get((c["x"], c["y"]), "secondary")), "y_label": Cell(LABELS[c["y"]]),
                 "x_label": Cell(LABELS[c["x"]]), "n": Cell(c["n"], text=str(c["n"])),
                 "pearson": _r(c, "pearson"), "pearson_log": _r(c, "pearson_log"), "spearman": _r(c, "spearman"),
                 "paper": Cell("not available")}
        rows.append(Row({"x": c["x"], "y": c["y"], "n": c["n"]}, cells))
    return Table("correlation", cols, rows)


def correlation_document(label: str, res: dict, deviations: list[str], grid: str, *, caption: str,
                         tex_label: str) -> Document:
    """`flatbench correlate`'s report of one FLAT cell's cached correlate stage."""
    t = correlation_table(res)
    words = ("Highest φ: " + ", ".join(f"{w} {p:.2f}" for w, p in res["top_words"]) + "\n"
             + "Lowest φ: " + ", ".join(f"{w} {p:.2f}" for w, p in res["bottom_words"]))
    main = Section("main", "Correlations", [
        TableBlock(t, "t-correlation"), Para(NOTE),
        Para(f"{res['n_words']} words; {res['n_replaced']} of them replaced and {res['n_substituted']} used as "
             f"substitutes, over {res['n_adversarial']} successful adversarial training examples."),
        Para(words),
        PaperTable(t, "correlation", {"caption": caption, "label": tex_label, "deviations": list(deviations)})],
        lead=True)
    return Document(f"Fig. 4 / Table 9: correlations, {label} (grid {grid})", [main], None, list(deviations))


def summary_table(results: list[dict]) -> Table:
    """Per FLAT cell with a cached correlate stage: φ against log frequency and log(1 + substituted)."""
    titles = ["Cell", "Words", "Substituted", "φ~log freq Pearson", "φ~log freq Spearman", "φ~log(1+subst) Pearson",
              "φ~log(1+subst) Spearman", "Highest φ", "Lowest φ"]
    rows = []
    for item in results:
        res = item["result"]
        vals = [Cell(item["cell"]), Cell(res["n_words"], text=str(res["n_words"])),
                Cell(res["n_substituted"], text=str(res["n_substituted"]))]
        vals += [Cell(res[k], text=f"{res[k]:+.3f}") for k in ("pearson_freq", "spearman_freq", "pearson_subst",
                                                               "spearman_subst")]
        vals += [Cell(", ".join(f"{w} {p:.2f}" for w, p in res["top_words"][:5])),
                 Cell(", ".join(f"{w} {p:.2f}" for w, p in res["bottom_words"][-5:]))]
        rows.append(Row({"cell": item["cell"]}, dict(zip(titles, vals))))
    return Table("correlation_summary", [Column(t) for t in titles], rows)


__all__ = ["correlation_table", "correlation_document", "summary_table", "NOTE", "SUMMARY_NOTE", "LABELS"]
