"""pytest-benchmark entry of the honest attack-throughput benchmark (attack_throughput.py): per
process (ours with 1 worker vs stock textattack.Attacker), scaling (N workers vs 1) and whole
processes with start-up, each run a fresh process, interleaved, outcomes compared example by
example. Sizes: $FLATBENCH_BENCH_N examples (default 50), $FLATBENCH_BENCH_REPEATS repeats (3).

    pytest benchmarks/test_attack_throughput.py --benchmark-only -s
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import attack_throughput as bench

N = int(os.environ.get("FLATBENCH_BENCH_N", "50"))
REPEATS = int(os.environ.get("FLATBENCH_BENCH_REPEATS", "3"))


@pytest.mark.parametrize("model", ["cnn", "lstm"])
@pytest.mark.parametrize("recipe", ["pwws", "textfooler"])
def test_attack_throughput(benchmark, recipe, model):
    d = bench.trained_model(model, Path(bench.HERE) / ".models")
    out = {}
    benchmark.pedantic(lambda: out.update(bench.bench_cell(recipe, model, d, N, REPEATS, 2)), rounds=1, iterations=1)
    info = {k: v for k, v in out.items() if k not in ("agreement_vs_stock",)}
    benchmark.extra_info.update(info)
    print("\n" + bench.table({"cells": [out], "e2e": []}))
    # the same search on the same model reaches the same outcome on every example
    assert out["identical"], out["agreement_vs_stock"]
    # #22's start-up target, from process start to the first attacked example (met 2026-12-05 on
    # the idle 2-core machine: 1.83-1.93 s; a loaded machine takes longer)
    assert out["startup_beyond_torch_s"]["ours1"]["median"] <= 3.0, out["startup_beyond_torch_s"]


def test_attack_stages_in_one_process(benchmark):
    """(d): CNN and LSTM x PWWS and TextFooler as four stages of one process, stock vs ours."""
    dirs = ",".join(str(bench.trained_model(m, Path(bench.HERE) / ".models")) for m in ("cnn", "lstm"))
    out = {}
    benchmark.pedantic(lambda: out.update(bench.bench_stages("pwws,textfooler", dirs, 2 * N, max(2, REPEATS - 1), 2)),
                       rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in out.items() if k != "agreement_vs_stock"})
    print("\n" + bench.table({"cells": [], "e2e": [], "stages": out}))
    assert out["identical"], out["agreement_vs_stock"]
