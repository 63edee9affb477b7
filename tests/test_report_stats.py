"""Uncertainty in the report (flatbench.results + flatbench.report.tables) on hand-made per-example
records and pairs with known answers, and end to end on a hand-written cache."""

import json
import math
import random

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from flatbench.analysis.stats import binomial_ci, bootstrap_ci, macro_mean, mcnemar_exact, paired_permutation_test
from flatbench.results import (
    IDX_STRIDE,
    aa_stats,
    add_paired_tests,
    aggregate_seeds,
    clean_stats,
    consistency_stats,
    ordering_counts,
    orderings,
    paired_p,
)
from flatbench.report.builders import marks, orderings_table, robustness_table, stat
from flatbench.report.documents import ReportInput, grid_document
from flatbench.report.formats import render


def report(grid, df, devs, progress, fmt="markdown"):
    return render(grid_document(ReportInput(grid, df, devs, progress)), fmt)


def cell(r, col, digits=2, ci_digits=None, mark=""):
    return stat(r, col, digits, ci_digits, tested=bool(mark)).display()

NAN = float("nan")


def records(robust, labels=None, start=0):
    """Attack records: robust[i] True = attack failed; False = succeeded (every 7th: skipped)."""
    out = []
    for i, r in enumerate(robust):
        status = "failed" if r else ("skipped" if i % 7 == 3 else "succeeded")
        out.append({"idx": start + i, "label": (i % 2) if labels is None else labels[i], "status": status,
                    "original": f"text {i}", "adversarial": f"text {i}!"})
    return out


def pairs(kts, tis=None, labels=None, statuses=None):
    out = []
    for i, kt in enumerate(kts):
        ti = None if tis is None else tis[i]
        topk = [None] * 10 if ti is None else [0.0, 0.0, 0.0, 0.0, ti, 0.0, 0.0, 0.0, 0.0, 0.0]
        out.append({"idx": i, "label": (i % 2) if labels is None else labels[i],
                    "status": "succeeded" if statuses is None else statuses[i],
                    "ig": {"kendall_tau": kt, "topk": topk}})
    return out


# ---------------------------------------------------------------------------------------------
# CIs


def test_aa_ci_is_clopper_pearson_over_the_attacked_examples():
    recs = records([True] * 13 + [False] * 287)
    s = aa_stats(recs)
    assert (s["AA_robust"], s["attacked_n"]) == (13, 300) and s["AA"] == pytest.approx(100 * 13 / 300)
    assert s["AA_lo"] == pytest.approx(100 * st.beta.ppf(0.025, 13, 288), rel=1e-6)
    assert s["AA_hi"] == pytest.approx(100 * st.beta.ppf(0.975, 14, 287), rel=1e-6)
    assert (round(s["AA_lo"], 2), round(s["AA_hi"], 2)) == (2.33, 7.30)
    # skipped examples (misclassified before the attack) count as not robust
    assert aa_stats([{"idx": 0, "label": 0, "status": "skipped"}, {"idx": 1, "label": 0, "status": "failed"}])["AA"] == 50


def test_clean_ci_uses_the_test_count():
    s = clean_stats(0.9, 500)
    lo, hi = binomial_ci(450, 500)
    assert (s["clean_lo"], s["clean_hi"]) == pytest.approx((100 * lo, 100 * hi))
    assert all(math.isnan(v) for v in clean_stats(None, 500).values())
    assert all(math.isnan(v) for v in clean_stats(0.9, None).values())


def test_consistency_stats_macro_mean_bootstrap_and_degenerate_counts():
    # class 0: 0.2, 0.4 (+ one degenerate); class 1: 0.9 -> macro mean (0.3 + 0.9) / 2 = 0.6
    kts = [0.2, 0.9, 0.4, None, None]
    labels = [0, 1, 0, 1, 0]
    statuses = ["succeeded", "failed", "failed", "failed", "succeeded"]
    tis = [0.4, 0.6, None, 0.8, 1.0]
    s = consistency_stats(pairs(kts, tis, labels, statuses))
    assert s["KT"] == pytest.approx(0.6) and s["KT_degenerate"] == 2 and s["n_pairs"] == 5
    assert s["TI"] == pytest.approx(((0.4 + 1.0) / 2 + (0.6 + 0.8) / 2) / 2) and s["TI_degenerate"] == 1
    # succeeded only: idx 0 (KT 0.2, TI 0.4) and idx 4 (KT degenerate, TI 1.0), both class 0
    assert s["n_pairs_succ"] == 2 and s["KT_succ"] == pytest.approx(0.2) and s["KT_succ_degenerate"] == 1
    assert s["TI_succ"] == pytest.approx(0.7)
    lo, hi = bootstrap_ci([0.2, 0.9, 0.4, NAN, NAN], labels, n_boot=2000, seed=0)
    assert (s["KT_lo"], s["KT_hi"]) == (lo, hi) and lo <= s["KT"] <= hi
    assert consistency_stats(pairs(kts, tis, labels, statuses)) == s  # seeded: the same every time
    empty = consistency_stats([])
    assert empty["n_pairs"] == 0 and math.isnan(empty["KT"]) and math.isnan(empty["KT_lo"])


def test_bootstrap_ci_covers_and_narrows_with_more_pairs():
    rng = np.random.default_rng(1)
    small = consistency_stats(pairs(list(rng.normal(0.5, 0.2, 50)), labels=[i % 3 for i in range(50)]))
    big = consistency_stats(pairs(list(rng.normal(0.5, 0.2, 800)), labels=[i % 3 for i in range(800)]))
    assert small["KT_lo"] < small["KT"] < small["KT_hi"] and big["KT_lo"] < big["KT"] < big["KT_hi"]
    assert abs(big["KT"] - 0.5) < 0.05
    assert big["KT_hi"] - big["KT_lo"] < (small["KT_hi"] - small["KT_lo"]) / 2


# ---------------------------------------------------------------------------------------------
# paired tests and marks


def test_identical_records_and_pairs_give_p_1_and_no_mark():
    recs = records([i % 3 == 0 for i in range(200)])
    prs = pairs([0.1 * (i % 10) for i in range(200)], [0.2 * (i % 5) for i in range(200)])
    assert paired_p("AA", recs, recs) == 1.0
    assert paired_p("KT", prs, prs) == 1.0 and paired_p("TI", prs, prs) == 1.0
    row = {"method": "flat", "AA": 33.5, "AA_p_adv": 1.0, "AA_p_base": 1.0}
    assert marks(row, "AA") == "" and cell(row, "AA") == "33.50"


def test_a_clear_difference_is_significant_and_marked():
    flat = records([i < 120 for i in range(200)])  # 60 % robust
    adv = records([i < 40 for i in range(200)])  # 20 % robust, nested: 80 discordant pairs, all one way
    p = paired_p("AA", flat, adv)
    assert p == pytest.approx(mcnemar_exact([i < 120 for i in range(200)], [i < 40 for i in range(200)]))
    assert p == pytest.approx(2 * 0.5 ** 80) and p < 1e-20
    rng = np.random.default_rng(0)
    base_kt = rng.uniform(0.0, 0.6, 150)
    p_kt = paired_p("KT", pairs(list(base_kt + 0.2)), pairs(list(base_kt)))
    assert p_kt == pytest.approx(1 / 2001)  # no sign flip reaches the observed difference
    row = {"method": "flat", "AA": 60.0, "AA_lo": 52.9, "AA_hi": 66.8, "AA_p_adv": p, "AA_p_base": 0.2,
           "KT": 0.5, "KT_p_adv": 0.01, "KT_p_base": 0.001}
    assert marks(row, "AA") == "†" and marks(row, "KT") == "†‡"
    assert cell(row, "AA", 2, 1, marks(row, "AA")) == "60.00† [52.9, 66.8]"
    # an adv row is only marked against base; a base row never
    assert marks({"method": "adv", "AA_p_adv": 0.001, "AA_p_base": 0.001}, "AA") == "‡"
    assert marks({"method": "base", "AA_p_base": 0.001}, "AA") == ""


def test_paired_tests_use_only_the_shared_examples():
    a = records([True] * 10 + [False] * 10)
    b = records([True] * 10 + [False] * 10, start=10)  # idx 10..29: shares idx 10..19 with a
    shared_a, shared_b = [False] * 10, [True] * 10
    assert paired_p("AA", a, b) == pytest.approx(mcnemar_exact(shared_a, shared_b))
    assert math.isnan(paired_p("AA", a, records([True], start=500)))  # nothing shared
    assert math.isnan(paired_p("KT", None, pairs([0.1])))
    # KT: degenerate pairs on either side are dropped; per-class macro difference
    pa = pairs([0.9, 0.8, None, 0.7], labels=[0, 1, 0, 1])
    pb = pairs([0.1, 0.2, 0.3, None], labels=[0, 1, 0, 1])
    assert paired_p("KT", pa, pb) == pytest.approx(paired_permutation_test([0.9, 0.8], [0.1, 0.2], [0, 1]))


def test_add_paired_tests_matches_flat_to_adv_and_base_of_the_same_setting():
    base, adv, flat = records([i < 20 for i in range(100)]), records([i < 25 for i in range(100)]), \
        records([i < 60 for i in range(100)])
    kt = {"base": pairs([0.3] * 60), "adv": pairs([0.3] * 60), "flat": pairs([0.3 + 0.01 * (i % 5) for i in range(60)])}
    df = pd.DataFrame([
        {"model": "lstm", "dataset": "sst2", "method": m, "train_attack": "" if m == "base" else "pwws",
         "attack": "pwws", "seed": 13} for m in ("base", "adv", "flat")]
        + [{"model": "lstm", "dataset": "sst2", "method": "flat", "train_attack": "pwws", "attack": "pwws", "seed": 42}])
    data = {0: (base, kt["base"]), 1: (adv, kt["adv"]), 2: (flat, kt["flat"]), 3: (flat, kt["flat"])}
    out = add_paired_tests(df, lambda i: data[i])
    b, a, f, other = (out.iloc[i] for i in range(4))
    assert f["AA_p_adv"] == pytest.approx(2 * 0.5 ** 35) and f["AA_p_base"] == pytest.approx(2 * 0.5 ** 40)
    assert f["KT_p_adv"] < 0.05 and f["TI_p_adv"] != f["TI_p_adv"]  # TI all degenerate: NaN
    assert a["AA_p_base"] == pytest.approx(mcnemar_exact([True] * 5, [False] * 5)) and a["KT_p_base"] == 1.0
    assert math.isnan(a["AA_p_adv"]) and math.isnan(b["AA_p_base"]) and math.isnan(b["AA_p_adv"])
    assert all(math.isnan(other[c]) for c in ("AA_p_adv", "AA_p_base"))  # seed 42 has no adv/base


# ---------------------------------------------------------------------------------------------
# seeds


def _seed_rows():
    rows = []
    for seed, aa, kt, robust, n in ((13, 10.0, 0.40, 30, 300), (42, 14.0, 0.46, 42, 300), (7, 12.0, 0.49, 36, 300)):
        rows.append({"model": "cnn", "dataset": "trec", "method": "flat", "train_attack": "pwws", "attack": "pwws",
                     "seed": seed, "cell": f"cnn-trec-flat-pwws-s{seed}", "clean_acc": 90.0 + seed / 100,
                     "clean_n": 500, "AA": aa, "AA_robust": robust, "attacked_n": n, "AA_lo": 0.0, "AA_hi": 99.0,
                     "KT": kt, "TI": 0.7, "n_pairs": 250, "KT_degenerate": 2, "TI_degenerate": 5})
    return pd.DataFrame(rows)


def test_aggregate_seeds_mean_sd_counts_and_pooled_ci():
    agg = aggregate_seeds(_seed_rows())
    assert len(agg) == 1
    r = agg.iloc[0]
    assert r["AA"] == pytest.approx(12.0) and r["AA_sd"] == pytest.approx(np.std([10, 14, 12], ddof=1)) == 2.0
    assert r["KT"] == pytest.approx(np.mean([0.40, 0.46, 0.49]))
    assert r["KT_sd"] == pytest.approx(np.std([0.40, 0.46, 0.49], ddof=1))
    assert math.isnan(r["TI_sd"]) is False and r["TI_sd"] == pytest.approx(0.0)
    assert (r["attacked_n"], r["AA_robust"], r["n_pairs"], r["KT_degenerate"]) == (900, 108, 750, 6)
    lo, hi = binomial_ci(108, 900)
    assert (r["AA_lo"], r["AA_hi"]) == pytest.approx((100 * lo, 100 * hi))  # pooled, not seed 13's
    k = sum(round((90.0 + s / 100) / 100 * 500) for s in (13, 42, 7))
    assert (r["clean_lo"], r["clean_hi"]) == pytest.approx(tuple(100 * x for x in binomial_ci(k, 1500)))
    assert (r["seeds"], r["n_seeds"], r["cell"]) == ("13,42,7", 3, "cnn-trec-flat-pwws") and math.isnan(r["seed"])
    assert math.isnan(r["KT_lo"])  # no pairs.jsonl to pool


def test_a_seed_not_run_yet_is_not_counted_in_the_mean_of_n():
    rows = _seed_rows()
    blank = rows.iloc[-1:].copy()  # seed 7's row of a grid part-way through its seeds: no numbers yet
    for c in blank.columns:
        if c not in ("model", "dataset", "method", "train_attack", "attack", "seed", "cell", "variant"):
            blank[c] = np.nan
    r = aggregate_seeds(pd.concat([rows.iloc[:-1], blank], ignore_index=True)).iloc[0]
    assert (r["seeds"], r["n_seeds"]) == ("13,42", 2)
    assert r["AA"] == pytest.approx(12.0)  # mean of 10 and 14


def test_a_mean_row_says_how_many_of_its_seeds_were_attacked():
    """A base model trained for three seeds but attacked with this recipe for one: clean is a
    mean of 3, AA of 1, and the label says so instead of "mean of 3" for both."""
    from flatbench.report.builders import seed_label

    rows = _seed_rows()
    rows.loc[rows.index[1:], ["AA", "AA_robust", "attacked_n", "KT", "TI"]] = np.nan
    r = aggregate_seeds(rows).iloc[0]
    assert (r["n_seeds"], r["n_seeds_attacked"]) == (3, 1)
    assert r["AA"] == pytest.approx(rows.iloc[0]["AA"]) and r["clean_acc"] == pytest.approx(rows["clean_acc"].mean())
    assert seed_label(r.to_dict()) == "mean of 3 (attacked: 1)"
    assert seed_label(aggregate_seeds(_seed_rows()).iloc[0].to_dict()) == "mean of 3"


def test_aggregate_seeds_single_seed_is_the_row_itself():
    one = _seed_rows().iloc[:1]
    agg = aggregate_seeds(one)
    assert agg.iloc[0]["AA_lo"] == 0.0 and agg.iloc[0]["seed"] == 13 and agg.iloc[0]["n_seeds"] == 1
    assert math.isnan(agg.iloc[0]["AA_sd"])


def _write(d, name, rows):
    d.mkdir(parents=True, exist_ok=True)
    with open(d / name, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return str(d)


def test_aggregate_seeds_pools_pairs_by_seed_and_idx(tmp_path):
    rng = np.random.default_rng(3)
    rows, pooled = [], {"flat": ([], []), "adv": ([], [])}
    for seed in (13, 42):
        for method, shift, rob in (("adv", 0.0, 0.2), ("flat", 0.05, 0.3)):
            rec = records(list(rng.random(80) < rob))
            prs = pairs(list(rng.uniform(0, 0.8, 80) + shift), list(rng.choice([0.2, 0.4, 0.6], 80)))
            d = tmp_path / f"{method}{seed}"
            rows.append({"model": "lstm", "dataset": "sst2", "method": method, "train_attack": "pwws",
                         "attack": "pwws", "seed": seed, **aa_stats(rec), **consistency_stats(prs),
                         "attack_dir": _write(d, "records.jsonl", rec), "interpret_dir": _write(d, "pairs.jsonl", prs)})
            pooled[method][0].extend({**r, "idx": seed * IDX_STRIDE + r["idx"]} for r in rec)
            pooled[method][1].extend({**r, "idx": seed * IDX_STRIDE + r["idx"]} for r in prs)
    agg = aggregate_seeds(pd.DataFrame(rows)).set_index("method")
    f = agg.loc["flat"]
    assert f["n_pairs"] == 160
    cs = consistency_stats(pooled["flat"][1])
    assert (f["KT_lo"], f["KT_hi"], f["TI_lo"], f["TI_hi"]) == (cs["KT_lo"], cs["KT_hi"], cs["TI_lo"], cs["TI_hi"])
    # the same idx in two seeds are two examples: 160 matched pairs, not 80
    assert f["AA_p_adv"] == pytest.approx(paired_p("AA", pooled["flat"][0], pooled["adv"][0]))
    assert f["KT_p_adv"] == pytest.approx(paired_p("KT", pooled["flat"][1], pooled["adv"][1]))
    assert f["attacked_n"] == 160 and f["AA_robust"] == aa_stats(pooled["flat"][0])["AA_robust"]
    assert macro_mean([r["ig"]["kendall_tau"] for r in pooled["flat"][1]],
                      [r["label"] for r in pooled["flat"][1]]) == pytest.approx(cs["KT"])


# ---------------------------------------------------------------------------------------------
# rendering and orderings


def _table3_rows():
    def row(method, aa, kt, ti, p=None, ta="textfooler"):
        r = {"model": "lstm", "dataset": "sst2", "method": method, "train_attack": "" if method == "base" else ta,
             "attack": "textfooler", "seed": 13, "clean_acc": 80.0, "clean_lo": 77.2, "clean_hi": 82.6,
             "AA": aa, "AA_lo": aa - 3.5, "AA_hi": aa + 4.1, "KT": kt, "KT_lo": kt - 0.03, "KT_hi": kt + 0.03,
             "TI": ti, "TI_lo": ti - 0.02, "TI_hi": ti + 0.02, "KT_succ": kt - 0.1, "KT_succ_lo": kt - 0.15,
             "KT_succ_hi": kt - 0.05, "TI_succ": NAN, "n_pairs": 287, "KT_degenerate": 3, "TI_degenerate": 12}
        for m in ("AA", "KT", "TI"):
            for ref in ("adv", "base"):
                r[f"{m}_p_{ref}"] = (p or {}).get(f"{m}_{ref}", NAN)
        return r

    return pd.DataFrame([row("base", 5.0, 0.40, 0.60),
                         row("adv", 12.33, 0.42, 0.62, {"AA_base": 0.001, "KT_base": 0.5, "TI_base": 0.3}),
                         row("flat", 17.76, 0.41, 0.66, {"AA_adv": 0.02, "AA_base": 1e-6, "KT_adv": 0.7,
                                                          "KT_base": 0.6, "TI_adv": 0.2, "TI_base": 0.01})])


def test_markdown_table3_shows_ci_marks_both_pair_rules_and_degenerate_counts():
    t = robustness_table(_table3_rows()).frame().set_index("Method")
    assert t.loc["adv", "AA ours"] == "12.33‡ [8.8, 16.4]"
    assert t.loc["FLAT", "AA ours"] == "17.76†‡ [14.3, 21.9]"
    assert t.loc["FLAT", "KT ours"] == "0.41 [0.38, 0.44]" and t.loc["FLAT", "TI ours"] == "0.66‡ [0.64, 0.68]"
    assert t.loc["base", "AA ours"] == "5.00 [1.5, 9.1]"
    assert t.loc["FLAT", "KT succ"] == "0.31 [0.26, 0.36]" and t.loc["FLAT", "TI succ"] == "–"
    assert (t.loc["FLAT", "Pairs"], t.loc["FLAT", "Deg. KT/TI"]) == ("287", "3/12")
    assert (t.loc["FLAT", "AA paper"], t.loc["FLAT", "ΔAA"]) == ("17.76", "+0.00")


def test_markdown_report_has_legend_orderings_and_clean_ci():
    from flatbench.cells import load_grid

    text = report(load_grid("table3"), _table3_rows(), [], {"done": 12, "total": 12})
    assert "| 17.76†‡ [14.3, 21.9] |" in text
    assert "Clopper–Pearson" in text and "stratified bootstrap" in text and "† FLAT differs from adv" in text
    assert "Degenerate pairs" in text and "skipped examples" in text
    assert "## Orderings (FLAT > adv > base?)" in text
    assert "- FLAT>adv, significant (p < 0.05) of comparable: AA 1/1, KT 0/1, TI 0/1" in text
    assert "- adv>base, significant (p < 0.05) of comparable: AA 1/1, KT 0/1, TI 0/1" in text
    assert "| 80.00 [77.2, 82.6] |" in text  # Table 2 cell with its CI


def test_orderings_dataframe_and_counts():
    o = orderings(_table3_rows())
    got = {(r.comparison, r.metric): (r.holds, r.significant, r.reversed) for r in o.itertuples()}
    assert got[("FLAT>adv", "AA")] == (True, True, False)
    assert got[("FLAT>adv", "KT")] == (False, False, False)  # 0.41 < 0.42, p = 0.7
    assert got[("FLAT>base", "TI")] == (True, True, False)
    assert got[("adv>base", "AA")] == (True, True, False)
    c = ordering_counts(o).set_index(["comparison", "metric"])
    assert c.loc[("FLAT>base", "AA"), "significant"] == 1 and c.loc[("FLAT>adv", "KT"), "holds"] == 0
    wide = orderings_table(o).frame().iloc[0]
    assert (wide["FLAT>adv AA"], wide["FLAT>adv KT"], wide["FLAT>base TI"]) == ("yes*", "no", "yes*")
    # a significant reversal
    df = _table3_rows()
    df.loc[df["method"] == "flat", "AA"] = 1.0
    o2 = orderings(df)
    assert o2[(o2["comparison"] == "FLAT>adv") & (o2["metric"] == "AA")]["reversed"].item()
    assert orderings_table(o2).frame().iloc[0]["FLAT>adv AA"] == "no*"


def test_aggregated_rows_render_mean_sd_and_pooled_ci():
    df = _seed_rows()
    agg = aggregate_seeds(df)
    from flatbench.results import with_aggregates

    view = with_aggregates(df, agg)
    assert list(view["seed"].fillna(-1)) == [13, 42, 7, -1]
    t = robustness_table(view).frame()
    assert list(t["Seed"]) == ["13", "42", "7", "mean of 3"]
    lo, hi = binomial_ci(108, 900)
    assert t.iloc[3]["AA ours"] == f"12.00 ± 2.00 [{100 * lo:.1f}, {100 * hi:.1f}]"


def test_latex_report_is_ascii_with_cis_and_caption_from_the_grid():
    from flatbench.cells import load_grid

    text = report(load_grid("table3"), _table3_rows(), ["word vectors: GloVe 50-d β"], {"done": 1, "total": 2}, "latex")
    text.encode("ascii")
    assert "\\toprule" in text and "\\label{tab:table3}" in text and "\\label{tab:table3-clean}" in text
    assert "17.76" in text and "$\\pm$" in text and "\\dagger" in text and "84.40" in text  # paper's Table 2 line
    assert "\\caption{Table 3: after-attack accuracy" in text
    assert "% - word vectors: GloVe 50-d $\\beta$" in text and "% 1/2 stages complete." in text
    assert "Clopper-Pearson" in text


# ---------------------------------------------------------------------------------------------
# end to end: collect from a hand-written cache with three seeds


def _fake_cache(root, grid, data_dir):
    from flatbench.interpret.consistency import class_averaged
    from flatbench.stages import plan

    rng = random.Random(0)
    _, targets = plan(grid, str(data_dir))
    robust_p = {"base": 0.2, "adv": 0.3, "flat": 0.6}
    kt_mu = {"base": 0.3, "adv": 0.35, "flat": 0.6}
    for cell, t in targets.items():
        def put(stage, metrics, files=()):
            d = root / stage.kind / stage.key
            d.mkdir(parents=True, exist_ok=True)
            for name, rows in files:
                _write(d, name, rows)
            (d / "manifest.json").write_text(json.dumps({"kind": stage.kind, "key": stage.key, "metrics": metrics,
                                                         "seconds": 1.0, "deviations": []}))
        put(t["train"], {})
        put(t["evaluate"], {"test_acc": 0.88 + 0.01 * rng.random(), "test_n": 500})
        for k, st_ in t.items():
            if not k.startswith("attack:"):
                continue
            recs = []
            for i in range(100):
                u = rng.random()
                status = "skipped" if u < 0.1 else ("failed" if u < 0.1 + robust_p[cell.method] else "succeeded")
                recs.append({"idx": 3 * i, "label": i % 3, "status": status, "original": f"w{i} a b c d e",
                             "adversarial": f"v{i} a b c d e"})
            n, fail = len(recs), sum(r["status"] == "failed" for r in recs)
            succ = sum(r["status"] == "succeeded" for r in recs)
            put(st_, {"n": n, "failed": fail, "succeeded": succ, "skipped": n - fail - succ,
                      "after_attack_acc": fail / n, "success_rate": succ / (succ + fail)},
                [("records.jsonl", recs)])
            prs = []
            for r in recs:
                if r["status"] == "skipped":
                    continue
                kt = None if rng.random() < 0.05 else min(1.0, max(-1.0, rng.gauss(kt_mu[cell.method], 0.2)))
                x = [rng.random() for _ in range(6)]
                prs.append({"idx": r["idx"], "label": r["label"], "status": r["status"],
                            "words_x": ["w"] * 6, "words_adv": ["w"] * 6, "aligned_by_position": True,
                            "ig": {"x": x, "adv": [v + rng.gauss(0, 0.1) for v in x], "kendall_tau": kt,
                                   "topk": [rng.choice([0.2, 0.4, 0.6, 0.8]) for _ in range(10)]}})
            labels = [p["label"] for p in prs]
            taus = [p["ig"]["kendall_tau"] for p in prs]
            ti5 = [p["ig"]["topk"][4] for p in prs]
            succ_ix = [i for i, p in enumerate(prs) if p["status"] == "succeeded"]
            put(t[k.replace("attack:", "interpret:")],
                {"n_pairs": len(prs), "n_removed_skipped": n - len(prs), "n_removed_unchanged": 0,
                 "n_pairs_succeeded": len(succ_ix),
                 "ig_kendall_tau": class_averaged(taus, labels), "ig_topk_5": class_averaged(ti5, labels),
                 "ig_kendall_tau_succeeded": class_averaged([taus[i] for i in succ_ix], [labels[i] for i in succ_ix]),
                 "ig_topk_5_succeeded": class_averaged([ti5[i] for i in succ_ix], [labels[i] for i in succ_ix]),
                 "ig_degenerate_kt": sum(v is None for v in taus), "ig_degenerate_ti": 0},
                [("pairs.jsonl", prs)])


def test_collect_report_and_csv_from_a_cache_with_three_seeds(tmp_path, data_dir):
    # its time is measured in benchmarks/test_timings.py, not asserted here
    from click.testing import CliRunner

    from flatbench.cache import Cache
    from flatbench.cells import load_grid
    from flatbench.cli import cli
    from flatbench.results import collect
    from flatbench.stages import Context
    from flatbench.tracking import Tracker

    g = load_grid("smoke", models="cnn", seeds="13,42,7")
    _fake_cache(tmp_path / "runs", g, data_dir)
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "smoke")
    df, devs, prog = collect(g, ctx)
    agg = aggregate_seeds(df)
    assert prog["done"] == prog["total"] == 36 and len(df) == 9 and len(agg) == 3
    for r in df.to_dict("records"):
        recs = [json.loads(x) for x in open(f"{r['attack_dir']}/records.jsonl")]
        assert (r["AA_lo"], r["AA_hi"]) == pytest.approx(tuple(100 * x for x in binomial_ci(
            sum(x["status"] == "failed" for x in recs), 100)))
        assert r["KT_lo"] <= r["KT"] <= r["KT_hi"] and r["n_pairs"] == sum(x["status"] != "skipped" for x in recs)
        assert r["clean_lo"] < r["clean_acc"] < r["clean_hi"]
        if r["method"] == "flat":  # robust 60 % vs 20-30 %, KT 0.6 vs 0.3: clearly different
            assert r["AA_p_base"] < 0.05 and r["KT_p_adv"] < 0.05 and r["KT_p_base"] < 0.05
        if r["method"] == "base":
            assert math.isnan(r["AA_p_base"]) and math.isnan(r["KT_p_adv"])
    f = agg.set_index("method").loc["flat"]
    assert f["n_seeds"] == 3 and f["attacked_n"] == 300 and f["AA_p_adv"] < 1e-3 and f["KT_p_base"] < 1e-3
    assert f["AA"] == pytest.approx(df[df["method"] == "flat"]["AA"].mean())
    assert f["AA_sd"] == pytest.approx(df[df["method"] == "flat"]["AA"].std(ddof=1))

    env = {"FLATBENCH_DATA_DIR": str(data_dir)}
    sel = ["--grid", "smoke", "--models", "cnn", "--seeds", "13,42,7", "--runs-dir", str(tmp_path / "runs")]
    md = CliRunner().invoke(cli, ["report", *sel, "--csv", str(tmp_path / "out.csv")], env=env)
    assert md.exit_code == 0, md.output
    assert "mean of 3" in md.output and "†‡" in md.output and "## Orderings" in md.output
    assert "FLAT>base, significant (p < 0.05) of comparable: AA 1/1, KT 1/1" in md.output
    csv = pd.read_csv(tmp_path / "out.csv")
    assert len(csv) == 12 and csv["n_seeds"].notna().sum() == 3
    for c in ("AA_lo", "AA_hi", "clean_lo", "clean_hi", "KT_lo", "KT_hi", "TI_lo", "TI_hi", "KT_succ", "TI_succ",
              "KT_succ_lo", "KT_degenerate", "TI_degenerate", "n_pairs", "n_removed_skipped", "n_removed_unchanged",
              "AA_p_adv", "AA_p_base", "KT_p_adv", "KT_p_base", "TI_p_adv", "TI_p_base", "AA_sd", "KT_sd", "KT_abs"):
        assert c in csv.columns, c
    assert "interpret_dir" not in csv.columns and "attack_dir" not in csv.columns
    tex = CliRunner().invoke(cli, ["report", *sel, "--format", "latex"], env=env)
    assert tex.exit_code == 0, tex.output
    body = tex.output[tex.output.index("%"):]
    body.encode("ascii")
    assert "\\label{tab:smoke}" in body and "\\dagger" in body and "$\\pm$" in body


def test_table4_and_table5_cells_carry_the_aa_ci():
    from flatbench.report.builders45 import ablation_table, transfer_table

    t4 = transfer_table(pd.DataFrame([{"model": "lstm", "dataset": "sst2", "method": "flat", "train_attack": "textfooler",
                                       "attack": "pwws", "seed": 13, "AA": 20.0, "AA_lo": 15.6, "AA_hi": 25.0,
                                       "AA_p_adv": 0.01, "AA_p_base": 0.3}])).frame().iloc[0]
    assert (t4["AA paper"], t4["AA ours"], t4["Δ"]) == ("20.48", "20.00† [15.6, 25.0]", "-0.48")
    t5 = ablation_table(pd.DataFrame([{"model": "lstm", "dataset": "sst2", "method": "flat", "beta": 0.1, "gamma": 0.0,
                                       "seed": 13, "clean_acc": 84.0, "clean_lo": 82.3, "clean_hi": 85.6,
                                       "attack": "textfooler", "AA": 9.0, "AA_lo": 6.2, "AA_hi": 12.4}])).frame().iloc[0]
    assert (t5["SA ours"], t5["AA ours"], t5["AA paper"]) == ("84.00 [82.3, 85.6]", "9.00 [6.2, 12.4]", "9.99")
