"""The paper's numbers (shipped CSVs, transcribed from the AAAI camera-ready; see shared/paper)."""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd

from flatbench.registry import display_names

DATASET_COLS = {"SST2": "sst2", "IMDB": "imdb", "AG": "ag", "TREC": "trec"}
PRETTY = display_names()  # the paper's spelling of every registered name (flatbench.registry)


@functools.lru_cache(maxsize=None)
def _csv(name: str) -> pd.DataFrame:
    with (resources.files("flatbench") / "paper" / name).open() as f:
        return pd.read_csv(f, dtype={"train_attack": str}, keep_default_na=False, na_values=[""])


def table2() -> pd.DataFrame:
    """Long format: model, method, train_attack ('' for base), dataset, acc."""
    df = _csv("table2_clean_accuracy.csv").copy()
    df["train_attack"] = df["train_attack"].fillna("")
    long = df.melt(id_vars=["model", "method", "train_attack"], value_vars=list(DATASET_COLS),
                   var_name="dataset", value_name="acc")
    long["dataset"] = long["dataset"].map(DATASET_COLS)
    return long


def table3() -> pd.DataFrame:
    return _csv("table3_robustness.csv").copy()


def table4() -> pd.DataFrame:
    df = _csv("table4_transfer_sst2.csv").copy()
    return df.melt(id_vars=["model", "method"], var_name="attack", value_name="AA").assign(
        attack=lambda d: d["attack"].str.lower())


def table5() -> pd.DataFrame:
    return _csv("table5_ablation.csv").copy()


def table1() -> pd.DataFrame:
    return _csv("table1_datasets.csv").copy()


def table4_bae() -> pd.DataFrame:
    """Table 4's BAE column as reconstructed from S1's broken OCR (table4_bae_reconstruction.csv):
    model, method, AA (the best estimate, a number for every row), tier (A = fragment and tail
    agree and k/1821 fits: transcribed into table4_transfer_sst2.csv; B = tens digit + tail, fits
    k/1821, unconfirmed; C = tail fails k/1821, the fragment's reading fits: least certain)."""
    df = _csv("table4_bae_reconstruction.csv")
    return pd.DataFrame({"model": df["model"], "method": df["method"], "AA": df["best_estimate"].astype(float),
                         "tier": df["confidence_tier"].astype(str)})
