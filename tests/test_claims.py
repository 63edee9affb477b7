"""The claims ledger's verdict logic on hand-made per-example records (confirmed, refuted,
undecided, a missing cell), and the strength-matching protocol's choice on a small fixture."""

import json
import math

import pandas as pd
import pytest

from flatbench.analysis import claims as C
from flatbench.analysis import claims_tables as T
from flatbench.analysis import strength as S


def _attack_dir(tmp_path, name, robust, labels=None):
    d = tmp_path / name
    d.mkdir()
    with open(d / "records.jsonl", "w") as f:
        for i, r in enumerate(robust):
            status = "failed" if r == 1 else ("skipped" if r == -1 else "succeeded")
            f.write(json.dumps({"idx": i, "label": (labels or [i % 2] * len(robust))[i] if labels else i % 2,
                                "status": status}) + "\n")
    return str(d)


def _row(method, adir, train="textfooler", seed=13):
    return {"model": "lstm", "dataset": "sst2", "attack": "textfooler", "method": method,
            "train_attack": "" if method == "base" else train, "seed": seed, "attack_dir": adir,
            "interpret_dir": None}


def test_verdict_rules():
    assert C.verdict(3.0, 0.01) == "confirmed"
    assert C.verdict(-3.0, 0.01) == "refuted"
    assert C.verdict(3.0, 0.2) == "undecided"
    assert C.verdict(float("nan"), float("nan")) == "undecided"


def test_table3_aa_confirmed_refuted_undecided_and_missing(tmp_path):
    n = 200
    flat = _attack_dir(tmp_path, "flat", [1] * 120 + [0] * 80)   # AA 60 %
    adv = _attack_dir(tmp_path, "adv", [1] * 60 + [0] * 140)     # AA 30 %
    base = _attack_dir(tmp_path, "base", [1] * 118 + [0] * 82)   # AA 59 %: a tie with FLAT
    df = pd.DataFrame([_row("flat", flat), _row("adv", adv), _row("base", base)])
    got = {c.id: c for c in T.table3_claims(df, lime=False)}
    fa = got["t3/lstm/sst2/textfooler/AA/flat>adv"]
    assert fa.verdict == "confirmed" and fa.effect == pytest.approx(30.0) and fa.n == n
    assert fa.lo < 30.0 < fa.hi and fa.p < 1e-6
    ab = got["t3/lstm/sst2/textfooler/AA/adv>base"]
    assert ab.verdict == "refuted" and ab.effect == pytest.approx(-29.0) and ab.hi < 0
    fb = got["t3/lstm/sst2/textfooler/AA/flat>base"]
    assert fb.verdict == "undecided" and fb.effect == pytest.approx(1.0) and fb.p == pytest.approx(0.5, abs=0.01)
    # IG KT/TI: no interpret stage cached -> undecided, said so
    kt = got["t3/lstm/sst2/textfooler/KT/flat>adv"]
    assert kt.verdict == "undecided" and math.isnan(kt.effect) and kt.note.startswith("no data")
    # a missing cell (adv not in the cache): undecided with the reason, never a number
    df2 = pd.DataFrame([_row("flat", flat), _row("adv", None), _row("base", base)])
    miss = {c.id: c for c in T.table3_claims(df2, lime=False)}["t3/lstm/sst2/textfooler/AA/flat>adv"]
    assert miss.verdict == "undecided" and miss.note.startswith("no data") and miss.n == 0
    s = C.summary(list(got.values()))
    assert (s["confirmed"], s["refuted"], s["total"]) == (1, 1, 7) and s["no data"] == 4


def test_seeds_are_pooled_by_seed_and_idx(tmp_path):
    rows = []
    for seed in (13, 14):
        rows += [_row("flat", _attack_dir(tmp_path, f"f{seed}", [1] * 30 + [0] * 10), seed=seed),
                 _row("adv", _attack_dir(tmp_path, f"a{seed}", [1] * 10 + [0] * 30), seed=seed),
                 _row("base", _attack_dir(tmp_path, f"b{seed}", [0] * 40), seed=seed)]
    got = {c.id: c for c in T.table3_claims(pd.DataFrame(rows), lime=False)}
    c = got["t3/lstm/sst2/textfooler/AA/flat>adv"]
    assert c.n == 80 and c.effect == pytest.approx(50.0) and c.verdict == "confirmed"


def test_each_seed_is_decided_on_its_own(tmp_path):
    # seed 13: FLAT far above adv (significant); seed 14: a tie. Pooled: confirmed, but it holds in
    # 1 of 2 seeds, and the summary counts it as decided on several seeds, not in every seed.
    rows = [_row("flat", _attack_dir(tmp_path, "f13", [1] * 60 + [0] * 40), seed=13),
            _row("adv", _attack_dir(tmp_path, "a13", [1] * 20 + [0] * 80), seed=13),
            _row("flat", _attack_dir(tmp_path, "f14", [1] * 31 + [0] * 69), seed=14),
            _row("adv", _attack_dir(tmp_path, "a14", [1] * 30 + [0] * 70), seed=14),
            _row("base", _attack_dir(tmp_path, "b13", [0] * 100), seed=13)]
    got = {c.id: c for c in T.table3_claims(pd.DataFrame(rows), lime=False)}
    c = got["t3/lstm/sst2/textfooler/AA/flat>adv"]
    assert c.verdict == "confirmed" and c.effect == pytest.approx(20.5) and c.n == 200
    assert [(s["seed"], round(s["effect"], 6), s["verdict"]) for s in c.per_seed] == \
        [(13, 40.0, "confirmed"), (14, 1.0, "undecided")]
    assert C.replicated(c) == (1, 2)
    # base has seed 13 only: FLAT > base is decided on that seed alone, with no per-seed column
    fb = got["t3/lstm/sst2/textfooler/AA/flat>base"]
    assert fb.n == 100 and fb.per_seed == [] and C.replicated(fb) is None
    s = C.summary(list(got.values()))
    assert (s["multi_seed_decided"], s["every_seed"]) == (1, 0)
    from flatbench.report.claims import claims_table
    t = {r.key["id"]: r for r in claims_table(list(got.values())).rows}
    row = t["t3/lstm/sst2/textfooler/AA/flat>adv"]
    assert row.cells["seeds"].value == "13: +40.00†; 14: +1.00" and row.cells["held"].value == "1 of 2"


def test_consistency_effect_paired_and_correlation_rule():
    a = [{"idx": i, "label": i % 2, "kt": 0.6 + 0.001 * i} for i in range(60)]
    b = [{"idx": i, "label": i % 2, "kt": 0.4 + 0.001 * i} for i in range(60)]
    e = C.consistency_effect(a, b, "kt")
    assert e["effect"] == pytest.approx(0.2) and e["p"] < 0.01 and e["lo"] == pytest.approx(0.2)
    cs = {c.id: c for c in T.correlation_claims({
        "phi vs word frequency": {"r": -0.04, "lo": -0.06, "hi": -0.02, "n": 5000},
        "phi vs substitution frequency": {"r": 0.45, "lo": 0.40, "hi": 0.50, "n": 900},
        "word frequency vs substitution frequency": {"r": 0.25, "lo": 0.10, "hi": 0.38, "n": 900}})}
    assert [c.verdict for c in cs.values()] == ["confirmed", "refuted", "undecided"]


def test_strength_protocol_picks_on_a_fixture():
    # mean base dev AA per candidate cosine (rising as the bound gets stricter)
    aa = {0.50: 0.8, 0.55: 1.9, 0.60: 3.1, 0.65: 5.2, 0.70: 8.0, 0.75: 12.5, 0.80: 17.9, 0.85: 26.0,
          0.90: 38.0, 0.95: 55.0}
    assert S.choose(aa, 3.515) == 0.60
    assert S.choose(aa, 44.8) == 0.90
    assert S.choose({0.6: 2.0, 0.65: 4.0}, 3.0) == 0.65  # a tie goes to the stricter bound
    for goal, want in ((3.515, 0.60), (20.29, 0.80), (8.84, 0.70), (44.8, 0.90), (99.0, 0.95), (0.1, 0.50)):
        seen = {}
        while (c := S.next_candidate(seen, goal)) is not None:
            seen[c] = aa[c]
        assert S.choose(seen, goal) == want, goal  # bisection lands where the full scan does
        assert len(seen) <= 4
    seen = {}
    while (c := S.next_candidate(seen, 3.5, search="scan")) is not None:
        seen[c] = aa[c]
    assert len(seen) == 10
    # values that are not monotone make the bisection fall back to every candidate
    bumpy = {**aa, 0.85: 5.0}  # seen after 0.70 (8.0): 5.0 < 8.0
    seen = {}
    while (c := S.next_candidate(seen, 20.29)) is not None:
        seen[c] = bumpy[c]
    assert len(seen) == 10


def test_strength_targets_are_the_papers():
    assert S.target("sst2", "textfooler") == pytest.approx((5.05 + 1.98) / 2)
    assert S.target("trec", "textfooler") == pytest.approx((44.40 + 45.20) / 2)
    assert S.target("sst2", "gene") == pytest.approx((20.26 + 20.32) / 2)
    assert S.target("sst2", "iga") == pytest.approx((9.83 + 7.85) / 2)


def test_split_shift_sets_dev_beside_test_at_the_matched_bound():
    """Real TREC questions: the dev hold-out's are longer than the test split's, so at one bound
    the attack has fewer substitutes to try on test (queries) and fails more often (AA)."""
    from flatbench.data.datasets import load_dataset

    ds = load_dataset("trec")

    def recs(texts, statuses, queries):
        return [{"original": t, "status": st, "queries": q} for t, st, q in zip(texts, statuses, queries)]

    dev = recs(ds.dev.texts[:4], ["succeeded", "succeeded", "failed", "skipped"], [20, 30, 10, 1])
    test = recs(ds.test.texts[:4], ["succeeded", "failed", "failed", "failed"], [12, 8, 6, 4])
    table = {"bounds": {"trec/textfooler": {"cos": 0.9, "target": 44.8,
                                            "dev_aa": {"keys": {"lstm": "d1", "cnn": "d2"}}}}}
    store = {"d1": dev, "t1": test, "d2": dev}  # the CNN's test attack is not cached: no rows for it
    rows = S.split_shift(table, {("trec/textfooler", "lstm"): "t1", ("trec/textfooler", "cnn"): "t2"}, store.get)
    assert [(r["model"], r["split"]) for r in rows] == [("lstm", "dev"), ("lstm", "test")]
    d, t = rows
    assert (d["n"], d["queries"], d["success"], d["AA"]) == (4, 20.0, pytest.approx(200 / 3), 25.0)
    assert (t["n"], t["queries"], t["success"], t["AA"]) == (4, 7.5, 25.0, 75.0)
    assert d["tokens"] == sum(len(x.split()) for x in ds.dev.texts[:4]) / 4 and d["cos"] == 0.9 and t["target"] == 44.8


def test_shared_seeds_keeps_the_seeds_both_methods_have_and_reads_a_missing_seed_as_seed_0(tmp_path):
    from flatbench.analysis.claims_tables import _shared_seeds

    def row(seed, cached=True):
        d = tmp_path / f"a{len(list(tmp_path.iterdir()))}"
        d.mkdir()
        if cached:
            (d / "records.jsonl").write_text(json.dumps({"idx": 0, "label": 1, "status": "failed"}) + "\n")
        return {"seed": seed, "attack_dir": str(d)}

    ra = [row(13), row(14), row(15, cached=False), row(float("nan"))]
    rb = [row(13), row(15), row(None)]
    a, b = _shared_seeds(ra, rb)
    assert a[0]["seed"] == 13 and math.isnan(a[1]["seed"]) and len(a) == 2  # seeds 13 and 0 (no seed)
    assert [r["seed"] for r in b] == [13, None]


def test_table2_non_inferiority():
    base = {"model": "cnn", "dataset": "trec", "method": "base", "train_attack": "", "seed": 13,
            "clean_acc": 90.0, "clean_n": 500}
    rows = [base, {**base, "method": "adv", "train_attack": "pwws", "clean_acc": 90.4},   # a tie: margin holds?
            {**base, "method": "flat", "train_attack": "pwws", "clean_acc": 80.0},        # a significant drop
            {**base, "method": "flat", "train_attack": "textfooler", "clean_acc": float("nan")}]
    got = {c.id: c for c in T.table2_claims(pd.DataFrame(rows))}
    tie = got["t2/cnn/trec/adv-pwws/clean"]
    assert tie.effect == pytest.approx(0.4) and tie.lo < 0 < tie.hi
    assert tie.verdict == ("confirmed" if tie.lo > -2 else "undecided")
    assert got["t2/cnn/trec/flat-pwws/clean"].verdict == "refuted"
    assert got["t2/cnn/trec/flat-textfooler/clean"].note.startswith("no data")
    # a grid part-way through its seeds: seed 14 has rows without numbers; seed 13 still decides
    later = [{**r, "seed": 14, "clean_acc": float("nan"), "clean_n": float("nan")} for r in rows[:3]]
    part = {c.id: c for c in T.table2_claims(pd.DataFrame(rows + later))}
    assert part["t2/cnn/trec/flat-pwws/clean"].verdict == "refuted"
    assert part["t2/cnn/trec/adv-pwws/clean"].n == tie.n == 1000
    d, lo, hi = T.newcombe(56, 70, 48, 80)  # Newcombe (1998), example (a), method 10: 0.2 [0.0524, 0.3339]
    assert (d, lo, hi) == pytest.approx((0.2, 0.0524, 0.3339), abs=5e-4)


def test_ledger_shows_the_earlier_procedures_verdict_beside_each_claim():
    """--compare: each claim carries the earlier ledger's effect and verdict, and the transitions
    table counts claims per (earlier, now) verdict, 'no data' and 'absent' kept apart."""
    from flatbench.report.claims import claims_document
    from flatbench.report.formats import render

    def claim(cid, effect, p):
        c = C.Claim(cid, "Table 3", cid, "1 vs 0")
        if effect is not None:
            c.effect, c.lo, c.hi, c.p = effect, effect - 1, effect + 1, p
            c.verdict = C.verdict(effect, p)
        return c

    now = [claim("a", 3.0, 0.01), claim("b", -2.0, 0.01), claim("c", None, None), claim("d", 0.5, 0.4)]
    before = [claim("a", 1.0, 0.5), claim("b", 2.0, 0.001), claim("c", 1.0, 0.01)]  # no "d" before
    doc = claims_document(now, ["table3_cpu", "table5_cpu"], [], before=before,
                          before_grids=["table3_cpu_quick", "table5_cpu"])
    tables = {b.id: b.table for s in doc.sections for b in s.blocks if getattr(b, "id", None)}
    trans = {r.key["before"]: {k: c.value for k, c in r.cells.items() if k != "before"}
             for r in tables["claims_transitions"].rows}
    assert trans["undecided"][C.CONFIRMED] == 1  # a: n.s. before, confirmed now
    assert trans[C.CONFIRMED][C.REFUTED] == 1  # b: flipped sign
    assert trans[C.CONFIRMED]["no data"] == 1  # c: decided before, not cached now
    assert trans["absent"][C.UNDECIDED] == 1 and trans["absent"]["total"] == 1
    rows = {r.key["id"]: r for r in tables["claims"].rows}
    assert rows["b"].key["before_verdict"] == C.CONFIRMED and rows["d"].key["before_verdict"] == "absent"
    assert rows["a"].cells["before_effect"].value == 1.0
    md = render(doc, "markdown")
    assert "table3_cpu_quick: verdict" in md and "table5_cpu: verdict" not in md
    assert doc.meta["before_summary"][C.CONFIRMED] == 2


def test_fig5_variance_claim_from_paired_words():
    """Fig. 5: var(L1 | gamma = 0) - var(L1 | gamma = 0.001) over the same sampled words, paired
    bootstrap: confirmed when gamma = 0 varies more, refuted the other way, CI around the truth."""
    import numpy as np

    from flatbench.analysis.ablation import variance_diff

    rng = np.random.default_rng(1)
    base = rng.uniform(0, 0.2, size=(400, 10))
    wide = base * 2.0  # variance x4
    d = variance_diff(wide, base)
    true = wide.reshape(-1).var(ddof=1) - base.reshape(-1).var(ddof=1)
    assert d["lo"] < true < d["hi"] and d["p"] < 0.01 and d["n"] == 400
    assert T.variance_claim(d).verdict == C.CONFIRMED
    assert T.variance_claim(variance_diff(base, wide)).verdict == C.REFUTED
    same = variance_diff(base, base + rng.normal(0, 1e-4, base.shape))
    assert T.variance_claim(same).verdict == C.UNDECIDED
    assert T.variance_claim(None).note.startswith("no data")


def test_each_ledger_decides_fig5_and_table9_on_its_own_grids(monkeypatch):
    """--compare: the earlier ledger's Fig. 5 and Table 9 come from its own (earlier) models, not
    from whichever grid is cached first (its 'before' once repeated the current value)."""
    import flatbench.reporting as R

    seen = []
    monkeypatch.setattr(R, "_fig5", lambda ctx, grids, sel: {"grid": grids[-1]})
    monkeypatch.setattr(R, "_table9", lambda ctx, sel, grids=(): {"grid": grids[0]})
    monkeypatch.setattr(T, "gather", lambda ctx, grids, tables, l1_var=None, corr=None, **kw:
                        (seen.append((grids, l1_var["grid"], corr["grid"])) or [], []))
    monkeypatch.setattr(T, "gather_phi", lambda *a, **k: [])
    R.claims_report(None, ["table3_cpu", "table5_cpu"], compare=["table3_cpu_quick", "table5_cpu_quick"])
    assert seen == [(["table3_cpu", "table5_cpu"], "table5_cpu", "table3_cpu"),
                    (["table3_cpu_quick", "table5_cpu_quick"], "table5_cpu_quick", "table3_cpu_quick")]


def test_markdown_tables_escape_a_pipe_inside_a_cell():
    from flatbench.report.markdown import table
    from flatbench.report.table import Cell, Column, Row, Table

    md = table(Table("t", [Column("claim", "Claim"), Column("v", "V")],
                     [Row({"id": 1}, {"claim": Cell("|φ(w) − φ(s)| varies"), "v": Cell("x")})]))
    body = md.splitlines()[-1]
    assert body.count(" | ") == 1 and "\\|φ(w) − φ(s)\\|" in body
