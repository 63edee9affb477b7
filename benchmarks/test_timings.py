"""Timings that used to be asserted inside tests (where a loaded machine made them fail and a fast
one made them mean nothing): measured here, with the bounds the tests held, on the quiet machine.

    pytest benchmarks/test_timings.py --benchmark-only -s
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_DIR = Path(os.environ.get("FLATBENCH_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def test_prepare_again_does_nothing_quickly(benchmark):
    """`flatbench resources prepare` on prepared resources: everything "exists" (was < 10 s in
    tests/test_attack_resources.py)."""
    from flatbench.attack_resources import catalog as R

    R.prepare(online=False)
    rep = benchmark.pedantic(lambda: R.prepare(online=False), rounds=3, iterations=1)
    assert all(a in ("exists", "tag map present") for a in rep["actions"].values())
    benchmark.extra_info["seconds_reported"] = rep["seconds"]
    assert rep["seconds"] < 10, rep["seconds"]


def test_collect_a_three_seed_cache(benchmark, tmp_path):
    """collect + aggregate_seeds over a hand-made 3-seed smoke cache of 36 stages (was < 30 s in
    tests/test_report_stats.py)."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"no data at {DATA_DIR}; set FLATBENCH_DATA_DIR")
    from test_report_stats import _fake_cache

    from flatbench.cache import Cache
    from flatbench.cells import load_grid
    from flatbench.results import aggregate_seeds, collect
    from flatbench.stages import Context
    from flatbench.tracking import Tracker

    g = load_grid("smoke", models="cnn", seeds="13,42,7")
    _fake_cache(tmp_path / "runs", g, DATA_DIR)
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(DATA_DIR), "smoke")

    def run():
        df, _, prog = collect(g, ctx)
        return prog, aggregate_seeds(df)

    prog, agg = benchmark.pedantic(run, rounds=3, iterations=1)
    assert prog["done"] == prog["total"] and len(agg) == 3
    assert benchmark.stats.stats.max < 30, benchmark.stats.stats.max


def test_pwws_wordnet_lookups_cold(benchmark):
    """PWWS's WordNet look-ups, cold: the words of 50 SST2 test sentences (what one 50-example PWWS
    run asks for) on a freshly loaded reader each round, read by attack_resources.wordnet_synonyms;
    stock WordSwapWordNet's look-up of the same words on a fresh NLTK WordNetCorpusReader goes in
    extra_info.
    Target: >= 3x stock, the same sets (4.3x on the quiet machine, 2026-12-05)."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"no data at {DATA_DIR}; set FLATBENCH_DATA_DIR")
    import json
    import time

    from flatbench.attack_resources.env import ensure_nltk_env, wordnet_loader

    ensure_nltk_env()
    from textattack.shared.utils import words_from_text
    from textattack.transformations.word_swaps import word_swap_wordnet as m

    from flatbench.attack_resources.wordnet_synonyms import WordNetSynonyms

    lines = (DATA_DIR / "sst2" / "test.jsonl").read_text().splitlines()[:50]
    words = sorted({w for x in lines for w in words_from_text(json.loads(x)["text"])})

    def fresh():
        r = wordnet_loader()
        r.ensure_loaded()
        return (r,), {}

    def ours(r):
        s = WordNetSynonyms(r)
        return {w: set(s.replacement_words(w)) for w in words}

    fast = benchmark.pedantic(ours, setup=fresh, rounds=5, iterations=1)
    t = m.WordSwapWordNet(language="eng")
    reader = wordnet_loader(skip_self_map=False)  # NLTK's own reader class, its decoding streams
    reader.ensure_loaded()
    saved, m.wordnet = m.wordnet, reader  # stock's look-up reads the module's reader
    try:
        t0 = time.perf_counter()
        stock = {w: set(t._get_replacement_words(w)) for w in words}
        stock_s = time.perf_counter() - t0
    finally:
        m.wordnet = saved
    assert fast == stock
    benchmark.extra_info.update(words=len(words), stock_seconds=stock_s,
                                speedup=stock_s / benchmark.stats.stats.median)
    assert stock_s / benchmark.stats.stats.median >= 3
